// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process killed while rewindd holds its threads (needs root): every wait
 * must end and every thread must be reaped, so that its parent can reap it.
 * The trap: the leader's exit is reported only once its other threads are
 * released, and traced threads are released only when their tracer reaps
 * them. A wait for the leader first would block for ever (the test's alarm
 * then kills it: a hang fails the test).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "freeze.h"
#include "inject.h"
#include "proc.h"
#include "remote.h"
#include "rewind/image.h"
#include "rewind/plan.h"
#include "rewind/restore.h"

#define THREADS 3

static void *blocked(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void child_start(void)
{
	pthread_t t;

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t, NULL, blocked, NULL))
			_exit(2);
	if (write(child_reply, "r", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

/*
 * Every thread was reaped: we are its tracer and here also its parent, so
 * reaping the leader took its exit status too (rewindd is not the parent:
 * there the status goes on to the real parent). Not even a zombie is left.
 */
static void assert_process_gone(pid_t pid)
{
	char path[32];
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);

	if (r == pid)
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	else
		assert_true(r == -1 && errno == ECHILD);
	snprintf(path, sizeof(path), "/proc/%d", pid);
	assert_int_equal(access(path, F_OK), -1);
}

/* Killed while frozen, then an injection through the leader: an error, not a hang. */
static void killed_while_frozen(void **state)
{
	struct rw_frozen f = { 0 };
	struct rw_seized *leader;
	long args[6] = { 0 }, res = 0;
	int cmd, reply;
	pid_t pid;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), 0);
	assert_int_equal(f.n, THREADS + 1);
	leader = freeze_thread(&f, pid);
	assert_non_null(leader);

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_not_equal(inject_syscall(leader, SYS_getpid, args, &res), 0);
	freeze_release(&f);

	assert_process_gone(pid);
	close(cmd);
	close(reply);
}

static void child_end(pid_t pid, int cmd, int reply)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cmd);
	close(reply);
}

/* How many of the child's threads are in a tracing stop (State "t"). */
static int threads_traced(pid_t pid)
{
	pid_t *tids;
	size_t n;
	int traced = 0;

	assert_int_equal(proc_list_threads(pid, &tids, &n), 0);
	for (size_t i = 0; i < n; i++) {
		char path[64], buf[512], *p;
		int fd;
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tids[i]);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		assert_true(len > 0);
		buf[len] = 0;
		p = strrchr(buf, ')');
		assert_non_null(p);
		traced += p[2] == 't';
	}
	free(tids);
	return traced;
}

static void pin_to(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		_exit(2);
}

static int pinned_pipe[2];

static void *pinned_blocked(void *arg)
{
	pin_to(1);
	if (write(pinned_pipe[1], "p", 1) != 1)
		_exit(2);
	return blocked(arg);
}

/* Every thread pinned to CPU 1, then blocked. */
static void child_pinned(void)
{
	pthread_t t;
	char c;

	pin_to(1);
	if (pipe(pinned_pipe))
		_exit(2);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t, NULL, pinned_blocked, NULL))
			_exit(2);
	/* Answered once every thread says it is pinned. */
	for (int i = 0; i < THREADS; i++)
		if (read(pinned_pipe[0], &c, 1) != 1)
			_exit(2);
	if (write(child_reply, "r", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

/*
 * Threads are moved to the tracer's CPU to stop (seize_new) and put back
 * once stopped: each keeps the affinity it had, held and after the release.
 */
static void stopped_threads_keep_their_affinity(void **state)
{
	struct rw_frozen f = { 0 };
	cpu_set_t ours, got;
	int cmd, reply;
	pid_t pid;

	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	assert_int_equal(sched_getaffinity(0, sizeof(ours), &ours), 0);
	pid = child_spawn(child_pinned, &cmd, &reply);
	pin_to(0);
	assert_int_equal(freeze_process(&f, pid), 0);
	assert_int_equal(f.n, THREADS + 1);
	for (size_t i = 0; i < f.n; i++) {
		assert_int_equal(sched_getaffinity(f.threads[i].tid, sizeof(got), &got), 0);
		assert_int_equal(CPU_COUNT(&got), 1);
		assert_true(CPU_ISSET(1, &got));
	}
	assert_int_equal(freeze_release(&f), 0);
	assert_int_equal(threads_traced(pid), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(ours), &ours), 0);
	child_end(pid, cmd, reply);
}

/*
 * The rewind's stop when the log vouches for the thread set: exactly the
 * threads named are held (no listing), and freeze_more() then stops the
 * rest, as the rewind does when the log shows a thread made meanwhile.
 */
static void named_threads_then_the_rest(void **state)
{
	struct rw_frozen f = { 0 };
	int cmd, reply;
	pid_t pid;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_threads(&f, pid, &pid, 1), 0);
	assert_int_equal(f.n, 1);
	assert_non_null(freeze_thread(&f, pid));
	assert_int_equal(threads_traced(pid), 1);

	assert_int_equal(freeze_more(&f), THREADS);
	assert_int_equal(f.n, THREADS + 1);
	assert_int_equal(threads_traced(pid), THREADS + 1);
	assert_int_equal(freeze_more(&f), 0);	/* nothing new: nothing added */
	assert_int_equal(freeze_release(&f), 0);
	assert_int_equal(threads_traced(pid), 0);
	child_end(pid, cmd, reply);
}

/* A named thread that is gone: 1, the others held, and the caller lists. */
static void named_thread_gone(void **state)
{
	struct rw_frozen f = { 0 };
	int cmd, reply;
	pid_t pid, gone = fork(), tids[2];

	(void)state;
	if (!gone)
		_exit(0);
	assert_true(gone > 0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	pid = child_spawn(child_start, &cmd, &reply);
	tids[0] = pid < gone ? pid : gone;
	tids[1] = pid < gone ? gone : pid;
	assert_int_equal(freeze_threads(&f, pid, tids, 2), 1);
	assert_int_equal(f.n, 1);
	assert_int_equal(freeze_more(&f), THREADS);
	assert_int_equal(threads_traced(pid), THREADS + 1);
	assert_int_equal(freeze_release(&f), 0);
	child_end(pid, cmd, reply);
}

/*
 * Every named thread gone and the process with them (it exited between two
 * rewinds): the listing finds none, and nothing stays allocated, for the
 * rewind then has nothing to release (found leaking under ASan in CI).
 */
static void named_process_gone(void **state)
{
	struct rw_frozen f = { 0 };
	pid_t gone = fork();

	(void)state;
	if (!gone)
		_exit(0);
	assert_true(gone > 0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	assert_int_equal(freeze_threads(&f, gone, &gone, 1), 1);
	assert_int_equal(f.n, 0);
	assert_int_equal(freeze_more(&f), -ESRCH);
	assert_int_equal(f.n, 0);
	assert_null(f.threads);
}

/* Killed while frozen, nothing injected: releasing reaps, leader last. */
static void killed_then_released(void **state)
{
	struct rw_frozen f = { 0 };
	int cmd, reply;
	pid_t pid;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	freeze_release(&f);
	assert_process_gone(pid);
	close(cmd);
	close(reply);
}

/*
 * Killed while a thread traced by us is not held: what an injected clone3
 * leaves when the kill pre-empts its clone event (the new thread is traced
 * from birth, its tid never reported). Held threads are not strays; the one
 * left out is, and once reaped, the process is gone; left, its traced zombie
 * keeps the leader from ever being reaped.
 */
static void killed_with_a_stray(void **state)
{
	struct rw_frozen f = { 0 };
	int cmd, reply;
	pid_t pid;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(freeze_reap_strays(&f), 0);
	/* The last thread (not the leader) drops out of the set, still traced. */
	assert_int_not_equal(f.threads[f.n - 1].tid, pid);
	f.n--;
	assert_int_equal(freeze_reap_strays(&f), 1);
	freeze_release(&f);
	assert_process_gone(pid);
	close(cmd);
	close(reply);
}

/*
 * Killed while a thread created since the checkpoint is being made to exit
 * (the rewind's first layout step): the exit fails, the thread is forgotten
 * as the rewind does, and it must still be reaped, else its traced zombie
 * keeps the leader, and the process, from ever being reaped.
 */
static void killed_during_thread_exit(void **state)
{
	struct rw_frozen f = { 0 };
	struct rw_seized *other = NULL;
	int cmd, reply;
	pid_t pid, tid;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), 0);
	for (size_t i = 0; i < f.n && !other; i++)
		if (f.threads[i].tid != pid)
			other = &f.threads[i];
	assert_non_null(other);
	tid = other->tid;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(inject_exit_thread(other), -ESRCH);
	freeze_forget(&f, tid);
	assert_int_equal(f.n, THREADS);
	freeze_release(&f);

	assert_process_gone(pid);
	close(cmd);
	close(reply);
}

/*
 * The rewind's injector sorts after a thread the layout step makes exit (a
 * tid below it, as after pid wrap): the frozen array moves under it, and
 * the remote must still inject through the injector, not the thread that
 * slid into its slot (which then kept the colocation's one-CPU affinity).
 */
static void injector_follows_exit(void **state)
{
	struct rw_frozen f = { 0 };
	struct rw_proc_image img = { 0 };
	struct rw_plan plan = { 0 };
	struct rw_restore_stats st = { 0 };
	struct rw_remote r;
	pid_t pid, gone, injector;
	char why[256] = "";
	int cmd, reply, status;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), 0);
	assert_int_equal(f.n, THREADS + 1);
	/* Sorted by tid: [leader, t1, t2, t3]; t1 exits, t2 injects. */
	gone = f.threads[1].tid;
	injector = f.threads[2].tid;
	img.tgid = plan.tgid = pid;
	plan.exit_threads = &gone;
	plan.nexit = 1;
	remote_init(&r, &f.threads[2], pid);

	assert_int_equal(restore_apply_layout(&plan, &img, &f, &r, &st, why, sizeof(why)), 0);
	assert_int_equal(f.n, THREADS);
	assert_non_null(r.ij);
	assert_int_equal(r.ij->tid, injector);

	freeze_release(&f);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(cmd);
	close(reply);
}

/* Whether /proc/PID/status names a tracer: raw syscalls, as it runs in a vfork child. */
static __attribute__((noinline)) int is_traced(const char *path)
{
	char buf[2048];
	long fd = syscall(SYS_open, path, O_RDONLY | O_CLOEXEC), n;
	char *p;

	if (fd < 0)
		return -1;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "TracerPid:\t");
	return p && p[11] != '0';
}

/*
 * The leader waits in vfork(), which only a fatal signal interrupts: it
 * cannot take the seize's interrupt stop. Its vfork child kills the whole
 * process as soon as the leader is traced, so the leader dies seized and
 * not stopped, before its other threads are reaped.
 */
static void child_vfork(void)
{
	char path[64];
	pid_t me = getpid();
	pthread_t t;

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t, NULL, blocked, NULL))
			_exit(2);
	snprintf(path, sizeof(path), "/proc/%d/status", me);
	if (vfork() == 0) {
		int traced;

		/* Ready once the leader is held here: a seize cannot stop it any more. */
		if (syscall(SYS_write, child_reply, "r", 1) != 1)
			syscall(SYS_exit, 2);
		/* Bounded by the test's alarm. */
		while ((traced = is_traced(path)) == 0)
			;
		syscall(SYS_kill, me, SIGKILL);
		syscall(SYS_exit, traced < 0 ? 3 : 0);
	}
	_exit(2);
}

/*
 * Killed while being frozen, the leader not stopped yet: the freeze fails
 * and leaves nothing traced; the dead leader is reaped by us, its tracer
 * (here also its parent): not a zombie anyone else would wait for.
 */
static void killed_while_being_frozen(void **state)
{
	struct rw_frozen f = { 0 };
	char path[32];
	int cmd, reply;
	pid_t pid;

	(void)state;
	pid = child_spawn(child_vfork, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), -ESRCH);
	assert_int_equal(f.n, 0);
	snprintf(path, sizeof(path), "/proc/%d", pid);
	assert_int_equal(access(path, F_OK), -1);
	assert_process_gone(pid);
	close(cmd);
	close(reply);
}

/*
 * freeze_process refuses an io_uring worker before stopping anything; the
 * unchecked freeze (for a log that shows no io_uring call) stops it like any
 * thread on this kernel, and freeze_io_worker names it afterwards.
 */
static void io_worker_found_after_unchecked_freeze(void **state)
{
	struct rw_frozen f = { 0 };
	int cmd, reply;
	pid_t pid, worker;

	(void)state;
	pid = child_spawn(uring_child, &cmd, &reply);
	worker = uring_worker_of(pid);
	assert_int_equal(freeze_process(&f, pid), -EDEADLK);
	assert_int_equal(freeze_process_unchecked(&f, pid), 0);
	assert_int_equal(freeze_io_worker(&f), worker);
	assert_int_equal(freeze_release(&f), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cmd);
	close(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(named_threads_then_the_rest),
		cmocka_unit_test(stopped_threads_keep_their_affinity),
		cmocka_unit_test(named_thread_gone),
		cmocka_unit_test(named_process_gone),
		cmocka_unit_test(killed_while_frozen),
		cmocka_unit_test(killed_then_released),
		cmocka_unit_test(killed_during_thread_exit),
		cmocka_unit_test(killed_with_a_stray),
		cmocka_unit_test(injector_follows_exit),
		cmocka_unit_test(killed_while_being_frozen),
		cmocka_unit_test(io_worker_found_after_unchecked_freeze),
	};

	if (geteuid() != 0) {
		printf("1..1\nok 1 # SKIP test_freeze: needs root (ptrace)\n");
		return 0;
	}
	alarm(120);	/* a hang is the failure this file looks for */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
