// SPDX-License-Identifier: GPL-2.0-only
/*
 * The observe iterators (observe_iter.h) against the /proc, kcmp and
 * ptrace reads they replace: a child with many kinds of fds and threads is
 * checkpointed, changes its fds (seek, fcntl, dup2 of another description
 * of the same inode, close, new ones, FD_CLOEXEC), its signals (queued on
 * threads, shared, dispositions), umask, cwd, pgid and thread names; with
 * it stopped, observe_state runs once with the iterators and once on
 * /proc, and every field the plan reads must be equal. Needs root (BPF).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>
#include <cmocka.h>

#include "child.h"
#include "observe.h"
#include "observe_iter.h"
#include "proc.h"
#include "rewind.h"
#include "threadstate.h"
#include "tracker.h"

static char tmpdir[] = "/tmp/rw-test-observe-iter.XXXXXX";
static char path[128];
static int blk[2], tidp[2];

/* The fds the child makes before the checkpoint: numbers fixed by its order. */
enum { FD_A, FD_B, FD_PR, FD_PW, FD_S0, FD_S1, FD_M, FD_C, FD_D, FD_E, NFD };
static int fdv[NFD];

static void *thread_main(void *arg)
{
	pid_t tid = syscall(SYS_gettid);
	char c;

	if (write(tidp[1], &tid, sizeof(tid)) != sizeof(tid))
		_exit(3);
	while (read(blk[0], &c, 1) < 0)
		;
	return arg;
}

static void on_hup(int sig)
{
}

static void child_main(void)
{
	pthread_t th[2];
	pid_t tids[2];
	sigset_t set;
	int sv[2], p[2], n;
	char go;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGRTMIN + 1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) || pipe(blk) || pipe(tidp) || pipe(p) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		_exit(2);
	fdv[FD_A] = open(path, O_RDWR | O_CREAT, 0600);
	if (fdv[FD_A] < 0 || write(fdv[FD_A], path, 100) != 100 || lseek(fdv[FD_A], 10, SEEK_SET) != 10)
		_exit(2);
	fdv[FD_B] = dup(fdv[FD_A]);
	fdv[FD_PR] = p[0];
	fdv[FD_PW] = p[1];
	fdv[FD_S0] = sv[0];
	fdv[FD_S1] = sv[1];
	fdv[FD_M] = memfd_create("rw-observe-iter", 0);
	if (fdv[FD_M] < 0 || ftruncate(fdv[FD_M], 4096) || lseek(fdv[FD_M], 5, SEEK_SET) != 5)
		_exit(2);
	fdv[FD_C] = open(path, O_RDONLY | O_CLOEXEC);
	fdv[FD_D] = open(path, O_RDONLY);
	fdv[FD_E] = open(path, O_WRONLY);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, thread_main, NULL) ||
		    read(tidp[0], &tids[i], sizeof(tids[i])) != sizeof(tids[i]))
			_exit(2);
	pthread_setname_np(th[0], "rw-first");
	if (io_full(child_reply, fdv, sizeof(fdv), true) ||
	    io_full(child_reply, tids, sizeof(tids), true) || io_full(child_cmd, &go, 1, false))
		_exit(2);

	/* The invocation. */
	lseek(fdv[FD_A], 50, SEEK_SET);
	fcntl(fdv[FD_E], F_SETFL, O_APPEND | O_NONBLOCK);
	n = open(path, O_RDONLY);
	if (n < 0 || dup2(n, fdv[FD_D]) < 0)
		_exit(2);
	close(n);
	close(fdv[FD_C]);
	if (pipe2(p, O_CLOEXEC) || socket(AF_INET, SOCK_DGRAM, 0) < 0)
		_exit(2);
	fcntl(fdv[FD_B], F_SETFD, FD_CLOEXEC);
	if (write(fdv[FD_PW], "abc", 3) != 3)
		_exit(2);
	syscall(SYS_tgkill, getpid(), tids[0], SIGUSR1);
	syscall(SYS_tgkill, getpid(), tids[0], SIGRTMIN);
	syscall(SYS_tgkill, getpid(), tids[0], SIGRTMIN);
	syscall(SYS_tgkill, getpid(), getpid(), SIGRTMIN + 1);
	kill(getpid(), SIGUSR2);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, on_hup);
	umask(027);
	if (chdir(tmpdir) || setpgid(0, 0))
		_exit(2);
	pthread_setname_np(th[1], "rw-renamed");
	if (io_full(child_reply, &go, 1, true))
		_exit(2);
	while (read(child_cmd, &go, 1) < 0)
		;
	_exit(0);
}

static int on_record(void *ctx, const void *data, size_t size)
{
	return 0;
}

static struct rw_iterobs *ckpt_it;

static void capture(void *ctx)
{
	struct rw_proc_image *img = ctx;

	assert_int_equal(observe_iter_checkpoint(ckpt_it, img), 0);
	/* It never used io_uring: its rewinds may skip looking for io_uring workers. */
	assert_true(img->no_io_uring);
}

static void open_tracker(struct rw_tracker **t)
{
	if (tracker_open(t, NULL, on_record, NULL)) {
		printf("SKIP observe_iter: the BPF tracker does not load\n");
		skip();
	}
}

/* The iterators of pid, or SKIP (pid killed, t closed) on a kernel without the pid filter. */
static void open_iterators(struct rw_tracker *t, pid_t pid, struct rw_iterobs **it)
{
	if (iterobs_open(t, pid, it)) {
		printf("SKIP observe_iter: no task iterator with a pid filter (Linux 6.1)\n");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		tracker_close(t);
		skip();
	}
}

/*
 * A process that submitted to a ring before the checkpoint may get a worker
 * thread with no io_uring call after it: the checkpoint's iterator sees its
 * io_uring context, and its rewinds keep looking for workers.
 */
static void io_uring_context_seen(void **state)
{
	struct rw_proc_image img = { 0 };
	struct rw_iterobs *it;
	struct rw_tracker *t;
	int cmd, reply;
	pid_t pid;

	(void)state;
	open_tracker(&t);
	pid = child_spawn(uring_child, &cmd, &reply);
	open_iterators(t, pid, &it);
	img.tgid = pid;
	img.no_io_uring = true;
	assert_int_equal(observe_iter_checkpoint(it, &img), 0);
	assert_false(img.no_io_uring);
	iterobs_close(it);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cmd);
	close(reply);
	tracker_close(t);
}

static void compare(void **state)
{
	struct rw_tracker *t;
	struct rw_proc_image img = { 0 };
	struct rw_observation po = { 0 }, io = { 0 }, direct = { 0 };
	struct rw_log_facts facts = { .fd_flags_changed = true, .rseq_called = true };
	struct rw_ckpt_stats cst = { 0 };
	struct rw_frozen f = { 0 };
	struct rw_proc_status st;
	struct rw_wp *wp = NULL;
	int cmd, reply, fds[NFD], status;
	pid_t pid, tids[2];
	struct stat cwd;
	char why[512], go = 'g';

	open_tracker(&t);
	/* No ready byte: the child answers with its fds. */
	pid = child_fork(child_main, &cmd, &reply);
	assert_int_equal(io_full(reply, fds, sizeof(fds), false), 0);
	assert_int_equal(io_full(reply, tids, sizeof(tids), false), 0);
	open_iterators(t, pid, &ckpt_it);
	assert_int_equal(rewind_checkpoint_process(pid, &wp, &img, capture, &img, &cst, why,
						   sizeof(why)), 0);
	for (int i = 0; i < NFD; i++) {
		const struct rw_fd_image *fi = image_fd(&img, fds[i]);

		assert_non_null(fi);
		assert_true(fi->held < 0 || fi->file);	/* every held fd's address captured */
	}
	assert_int_equal(io_full(cmd, &go, 1, true), 0);
	assert_int_equal(io_full(reply, &go, 1, false), 0);
	assert_int_equal(freeze_process(&f, pid), 0);

	/* The iterators answer (no fallback to /proc), then both paths through observe_state. */
	{
		pid_t held[8];

		assert_true(f.n <= 8);
		for (size_t i = 0; i < f.n; i++)
			held[i] = f.threads[i].tid;
		assert_int_equal(observe_iter_state(ckpt_it, &img, held, f.n, &facts, &direct, &st,
						    &cwd), 0);
	}
	assert_int_equal(observe_state(&img, &f, false, &facts, &po), 0);
	io.iter = ckpt_it;
	assert_int_equal(observe_state(&img, &f, false, &facts, &io), 0);

	assert_int_equal(io.obs.nfds, po.obs.nfds);
	for (size_t i = 0; i < po.obs.nfds; i++) {
		const struct rw_fd_now *a = &po.fds[i], *b = &io.fds[i];

		assert_int_equal(b->fd, a->fd);
		assert_int_equal(b->same, a->same);
		assert_int_equal(b->cloexec, a->cloexec);
		if (a->same) {
			assert_int_equal(b->pos, a->pos);
			assert_int_equal(b->status_flags, a->status_flags);
		}
	}
	for (size_t i = 0; i < f.n; i++) {
		assert_memory_equal(&io.pending[i], &po.pending[i], sizeof(po.pending[i]));
		assert_true(thread_rseq_eq(&io.rseq[i], &po.rseq[i]));
		assert_string_equal(io.obs.comms[i], po.obs.comms[i]);
		/* Robust lists as get_robust_list gives them; masks as PTRACE_GETSIGMASK does. */
		assert_int_equal(io.robust[i].head, po.robust[i].head);
		assert_int_equal(io.robust[i].len, po.robust[i].len);
		assert_true(po.robust[i].head != 0);
		{
			uint64_t mask;

			assert_int_equal(ptrace(PTRACE_GETSIGMASK, f.threads[i].tid,
						(void *)sizeof(mask), &mask), 0);
			assert_non_null(io.blocked);
			assert_int_equal(io.blocked[i], mask);
		}
	}
	assert_int_equal(io.obs.umask, po.obs.umask);
	assert_int_equal(io.obs.cwd_dev, po.obs.cwd_dev);
	assert_int_equal(io.obs.cwd_ino, po.obs.cwd_ino);
	assert_int_equal(io.obs.pgid, po.obs.pgid);
	assert_int_equal(io.obs.sid, po.obs.sid);
	assert_int_equal(io.obs.sig_ignored, po.obs.sig_ignored);
	assert_int_equal(io.obs.sig_caught, po.obs.sig_caught);
	assert_int_equal(io.obs.sig_pending_shared, po.obs.sig_pending_shared);
	assert_int_equal(io.obs.seccomp, po.obs.seccomp);
	assert_int_equal(io.obs.seccomp_filters, po.obs.seccomp_filters);
	assert_int_equal(io.obs.no_new_privs, po.obs.no_new_privs);

	/* The changes are there to compare: the /proc view saw each of them. */
	for (size_t i = 0; i < po.obs.nfds; i++) {
		const struct rw_fd_now *a = &po.fds[i];

		if (a->fd == fds[FD_A])
			assert_true(a->same && a->pos == 50);
		if (a->fd == fds[FD_B])
			assert_true(a->same && a->cloexec);
		if (a->fd == fds[FD_D])
			assert_false(a->same);
		if (a->fd == fds[FD_E])
			assert_true(a->same && (a->status_flags & (O_APPEND | O_NONBLOCK)) ==
						       (O_APPEND | O_NONBLOCK));
		if (a->fd == fds[FD_M])
			assert_true(a->same && a->pos == 5);
		if (a->fd == fds[FD_S0] || a->fd == fds[FD_PW])
			assert_true(a->same);
		if (a->fd == fds[FD_C])	/* closed; its number reused by the new pipe */
			assert_false(a->same);
	}
	for (size_t i = 0; i < f.n; i++) {
		if (f.threads[i].tid == tids[0]) {
			assert_int_equal(po.pending[i].count[SIGRTMIN - 1], 2);
			assert_int_equal(po.pending[i].count[SIGUSR1 - 1], 1);
		}
		if (f.threads[i].tid == pid)
			assert_int_equal(po.pending[i].count[SIGRTMIN], 1);
		assert_true(po.rseq[i].ptr != 0);
	}
	assert_true(po.obs.sig_pending_shared & (1ULL << (SIGUSR2 - 1)));
	assert_true(po.obs.sig_ignored & (1ULL << (SIGPIPE - 1)));
	assert_true(po.obs.sig_caught & (1ULL << (SIGHUP - 1)));
	assert_int_equal(po.obs.umask, 027);
	assert_int_equal(po.obs.pgid, pid);

	/* Names: what the iterator read is what /proc shows. */
	{
		const struct rw_iter_task *r;
		size_t n;

		assert_int_equal(iterobs_read_tasks(ckpt_it, &r, &n), 0);
		assert_int_equal(n, f.n);
		for (size_t i = 0; i < n; i++) {
			char comm[16];

			assert_int_equal(proc_read_comm(pid, r[i].tid, comm), 0);
			assert_string_equal(r[i].comm, comm);
			if (r[i].tid == tids[1])
				assert_string_equal(r[i].comm, "rw-renamed");
		}
	}

	observe_free(&po);
	observe_free(&io);
	observe_free(&direct);
	freeze_release(&f);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	image_free(&img);
	wp_close(wp);
	iterobs_close(ckpt_it);
	tracker_close(t);
	close(cmd);
	close(reply);
}

static int setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compare),
		cmocka_unit_test(io_uring_context_seen),
	};

	if (geteuid() != 0) {
		printf("1..1\nok 1 # SKIP test_observe_iter: needs root (BPF)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
