// SPDX-License-Identifier: GPL-2.0-only
/*
 * remote_* and inject_exit_thread against real child processes (needs
 * root). The child takes commands on a pipe and answers on another, so what
 * we changed from outside is checked from inside it as well as in /proc.
 * We take it over while it is blocked reading its next command (seen in
 * /proc/PID/syscall). No sleeps anywhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "fileio.h"
#include "image.h"
#include "inject.h"
#include "log.h"
#include "proc.h"
#include "remote.h"

#define PAGE		4096UL
#define NULL_FD		40	/* the child's /dev/null, for close and flag tests */
/* Far from anything the child (or ASan's shadow) maps: nothing to merge with. */
#define FAR_ADDR	0x3f0000000000UL
#define SIGBIT(s)	(1ULL << ((s) - 1))
/* Free in the child: where remote_batch may map its area. */
#define HOLE		(FAR_ADDR + 0x10000000UL)
#ifndef SA_RESTORER
#define SA_RESTORER	0x04000000	/* the kernel's, x86_64: glibc keeps it private */
#endif

/* ---- the child ----------------------------------------------------------- */

enum op {
	OP_PING = 1,
	OP_SIGACTION,		/* a: signal; its action as the child sees it */
	OP_RAISE,		/* a: signal; raise it, reply how often the handler ran */
	OP_GETITIMER,		/* a: which */
	OP_TIMER_CREATE,	/* a POSIX timer (SIGEV_NONE); reply its kernel id */
	OP_TIMER_GETTIME,	/* a: id */
	OP_READ_FD,		/* a: fd, b: length */
	OP_FD_FLAGS,		/* a: fd; fcntl(F_GETFD) */
	OP_BRK,			/* brk(0), raw: glibc's sbrk(0) answers from its cache */
	OP_ZOMBIE,		/* fork a child that exits at once, reply its pid once a zombie */
	OP_PEND_SIGNALS,	/* make blocked signals pending, see pend_signals() */
	OP_SIGPENDING,
	OP_THREAD,		/* a thread blocked in read(2) answers with its tid */
	OP_TID_WORD,		/* that thread's clear_child_tid word */
	OP_TRAP,		/* SIGTRAP: a 0 handled, 1 ignored, 2 handled and blocked */
};

struct cmd {
	uint32_t op;
	int32_t a;
	int64_t b;
};

struct reply {
	int64_t ret;
	uint64_t v[8];
	char buf[64];
};

static volatile sig_atomic_t handled;
/* The extra thread's clear_child_tid: the kernel zeroes it when the thread exits. */
static volatile int tid_word = 1;
static int thread_pipe[2];	/* never written: the thread blocks reading it */

static void on_signal(int sig)
{
	handled++;
}

static void *blocked_thread(void *arg)
{
	struct reply rp = { 0 };
	char c;

	syscall(SYS_set_tid_address, &tid_word);
	rp.ret = gettid();
	if (io_full(child_reply, &rp, sizeof(rp), true))
		_exit(30);
	read(thread_pipe[0], &c, 1);
	_exit(31);	/* only if its read came back: it should have been made to exit */
}

static void pend_signals(void)
{
	union sigval v = { 0 };

	raise(SIGUSR1);			/* thread-directed: SigPnd */
	kill(getpid(), SIGUSR1);	/* process-directed: ShdPnd */
	for (int i = 0; i < 3; i++)
		sigqueue(getpid(), SIGRTMIN, v);	/* queued three times */
	raise(SIGWINCH);		/* not in the drained set: must stay */
}

static int64_t zombie(void)
{
	siginfo_t si;
	pid_t pid = fork();

	if (pid == 0)
		_exit(7);
	if (pid < 0 || waitid(P_PID, pid, &si, WEXITED | WNOWAIT))
		return -errno;
	return pid;
}

static void child_op(const struct cmd *c, struct reply *rp)
{
	struct sigaction sa;
	struct itimerval it;
	sigset_t set;
	pthread_t th;
	int kid;
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };

	switch (c->op) {
	case OP_PING:
		rp->ret = getpid();
		break;
	case OP_SIGACTION:
		rp->ret = sigaction(c->a, NULL, &sa) ? -errno : 0;
		rp->v[0] = (uintptr_t)sa.sa_handler;
		rp->v[1] = sa.sa_flags;
		rp->v[2] = sigismember(&sa.sa_mask, SIGINT);
		break;
	case OP_RAISE:
		raise(c->a);
		rp->ret = handled;
		break;
	case OP_GETITIMER:
		rp->ret = getitimer(c->a, &it) ? -errno : 0;
		memcpy(rp->buf, &it, sizeof(it));
		break;
	case OP_TIMER_CREATE:
		/* Raw: glibc's timer_t is not the kernel's id. */
		rp->ret = syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &kid) ? -errno : kid;
		break;
	case OP_TIMER_GETTIME:
		rp->ret = syscall(SYS_timer_gettime, c->a, rp->buf) ? -errno : 0;
		break;
	case OP_READ_FD:
		rp->ret = read(c->a, rp->buf, c->b < 64 ? c->b : 64);
		break;
	case OP_FD_FLAGS:
		rp->ret = fcntl(c->a, F_GETFD);
		break;
	case OP_BRK:
		rp->ret = syscall(SYS_brk, 0);
		break;
	case OP_ZOMBIE:
		rp->ret = zombie();
		break;
	case OP_PEND_SIGNALS:
		pend_signals();
		break;
	case OP_SIGPENDING:
		sigemptyset(&set);
		sigpending(&set);
		for (int s = 1; s <= 64; s++)
			if (sigismember(&set, s) == 1)
				rp->v[0] |= SIGBIT(s);
		break;
	case OP_THREAD:
		if (pipe(thread_pipe) || pthread_create(&th, NULL, blocked_thread, NULL))
			_exit(32);
		rp->ret = INT64_MIN;	/* the thread answers */
		break;
	case OP_TID_WORD:
		rp->ret = tid_word;
		break;
	case OP_TRAP:
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = c->a == 1 ? SIG_IGN : on_signal;
		sigemptyset(&set);
		sigaddset(&set, SIGTRAP);
		rp->ret = sigaction(SIGTRAP, &sa, NULL) ||
			  (c->a == 2 && sigprocmask(SIG_BLOCK, &set, NULL)) ? -errno : 0;
		break;
	default:
		_exit(33);
	}
}

/* Runs in the child: never returns, never uses cmocka. */
static void __attribute__((noreturn)) child_main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;
	struct cmd c;
	int null = open("/dev/null", O_RDWR);

	/* Known starting state: fd 0 and NULL_FD are /dev/null, umask 022. */
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, NULL_FD) < 0)
		_exit(20);
	if (null != 0 && null != NULL_FD)
		close(null);
	umask(022);
	/* glibc's sigaction: gives us a real SA_RESTORER to copy. */
	if (sigaction(SIGHUP, &sa, NULL))
		_exit(21);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGRTMIN);
	sigaddset(&block, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &block, NULL))
		_exit(22);
	if (io_full(child_reply, &c, 1, true))
		_exit(23);
	while (!io_full(child_cmd, &c, sizeof(c), false)) {
		struct reply rp = { 0 };

		child_op(&c, &rp);
		if (rp.ret != INT64_MIN && io_full(child_reply, &rp, sizeof(rp), true))
			_exit(24);
	}
	_exit(0);	/* our end of the command pipe closed */
}

/* ---- fixture --------------------------------------------------------------- */

struct fx {
	pid_t pid;
	int cmd, reply;		/* our ends */
	bool killed;
	struct rw_seized ij;
	struct rw_remote r;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->pid = child_spawn(child_main, &f->cmd, &f->reply);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int status;

	if (f->ij.seized)
		inject_release(&f->ij);
	/* EOF on its command pipe ends the child. */
	close(f->cmd);
	close(f->reply);
	if (f->killed) {
		/* Our inject_release may have reaped it already: we are its tracer and parent. */
		waitpid(f->pid, &status, 0);
	} else {
		assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	free(f);
	return 0;
}

static struct reply ask(struct fx *f, uint32_t op, int32_t a, int64_t b)
{
	struct cmd c = { .op = op, .a = a, .b = b };
	struct reply rp;

	assert_int_equal(io_full(f->cmd, &c, sizeof(c), true), 0);
	assert_int_equal(io_full(f->reply, &rp, sizeof(rp), false), 0);
	return rp;
}

/* Seize the child's main thread, idle in read(2), and start a remote on it. */
static void take(struct fx *f)
{
	wait_in_syscall(f->pid, f->pid, SYS_read);
	assert_int_equal(inject_seize(&f->ij, f->pid), 0);
	remote_init(&f->r, &f->ij, f->pid);
}

static void give(struct fx *f)
{
	assert_false(f->r.broken);
	assert_int_equal(remote_close(&f->r), 0);
	assert_int_equal(f->r.scratch, 0);
	assert_int_equal(inject_release(&f->ij), 0);
}

/* ---- /proc readers ------------------------------------------------------- */

static char *proc_text(pid_t pid, const char *what)
{
	char path[128], *text;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	assert_int_equal(read_whole_file(AT_FDCWD, path, 16 << 20, &text, &len), 0);
	return text;
}

/* The number after "key" in /proc/PID/<what>, in base. */
static unsigned long long proc_field(pid_t pid, const char *what, const char *key, int base)
{
	char *text = proc_text(pid, what), *p = strstr(text, key);
	unsigned long long v;

	assert_non_null(p);
	v = strtoull(p + strlen(key), NULL, base);
	free(text);
	return v;
}

static unsigned long long fd_open_flags(pid_t pid, int fd)
{
	char what[32];

	snprintf(what, sizeof(what), "fdinfo/%d", fd);
	return proc_field(pid, what, "flags:", 8);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The open fd numbers of pid, ascending. */
static size_t fd_list(pid_t pid, int *fds, size_t max)
{
	char path[64];
	struct dirent *d;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.') {
			assert_true(n < max);
			fds[n++] = atoi(d->d_name);
		}
	closedir(dir);
	qsort(fds, n, sizeof(int), cmp_int);
	return n;
}

static void fd_link(pid_t pid, int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, buf, size - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

/* What a target looks like from outside: its maps, each fd's file and flags. */
static char *snapshot(pid_t pid)
{
	char *maps = proc_text(pid, "maps"), *out, link[PATH_MAX];
	int fds[256];
	size_t n = fd_list(pid, fds, 256), len;
	FILE *m = open_memstream(&out, &len);

	assert_non_null(m);
	fputs(maps, m);
	for (size_t i = 0; i < n; i++) {
		fd_link(pid, fds[i], link, sizeof(link));
		fprintf(m, "fd %d %s %llo\n", fds[i], link, fd_open_flags(pid, fds[i]));
	}
	fclose(m);
	free(maps);
	return out;
}

static bool has_fd(pid_t pid, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return access(path, F_OK) == 0;
}

/* "pipe:[ino]" of our fd. */
static void our_link(int fd, char *buf, size_t size)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	snprintf(buf, size, "pipe:[%lu]", (unsigned long)st.st_ino);
}

/* ---- process state ------------------------------------------------------- */

static void sigaction_roundtrip(void **state)
{
	struct fx *f = *state;
	struct rw_ksigaction hup, act, got;
	struct rw_proc_status st;
	struct reply rp;

	take(f);
	/* What glibc installed, with its restorer. */
	assert_int_equal(remote_sigaction_get(&f->r, SIGHUP, &hup), 0);
	assert_int_equal(hup.handler, (uintptr_t)on_signal);
	assert_true(hup.flags & SA_RESTORER);
	assert_true(hup.restorer != 0);
	assert_int_equal(remote_sigaction_get(&f->r, SIGUSR2, &got), 0);
	assert_int_equal(got.handler, (uintptr_t)SIG_DFL);

	act = (struct rw_ksigaction){
		.handler = (uintptr_t)on_signal,
		.flags = SA_RESTORER | SA_RESTART,
		.restorer = hup.restorer,
		.mask = SIGBIT(SIGINT),
	};
	assert_int_equal(remote_sigaction_set(&f->r, SIGUSR2, &act), 0);
	assert_int_equal(remote_sigaction_get(&f->r, SIGUSR2, &got), 0);
	assert_memory_equal(&got, &act, sizeof(act));
	/* Refused by the kernel: not a lost target. */
	assert_int_equal(remote_sigaction_set(&f->r, SIGKILL, &act), -EINVAL);
	assert_false(f->r.broken);
	give(f);

	/* The child sees it, and the handler runs (our restorer copy works). */
	rp = ask(f, OP_SIGACTION, SIGUSR2, 0);
	assert_int_equal(rp.ret, 0);
	assert_int_equal(rp.v[0], (uintptr_t)on_signal);
	assert_true(rp.v[1] & SA_RESTART);
	assert_int_equal(rp.v[2], 1);
	assert_int_equal(ask(f, OP_RAISE, SIGUSR2, 0).ret, 1);
	assert_int_equal(proc_read_status(f->pid, &st), 0);
	assert_true(st.sig_caught & SIGBIT(SIGUSR2));

	take(f);
	act = (struct rw_ksigaction){ .handler = (uintptr_t)SIG_IGN };
	assert_int_equal(remote_sigaction_set(&f->r, SIGUSR2, &act), 0);
	give(f);
	assert_int_equal(proc_read_status(f->pid, &st), 0);
	assert_true(st.sig_ignored & SIGBIT(SIGUSR2));
	assert_false(st.sig_caught & SIGBIT(SIGUSR2));
	assert_int_equal(ask(f, OP_RAISE, SIGUSR2, 0).ret, 1);	/* ignored: no second run */
}

/* The child's own view of one of its timers (OP_GETITIMER, OP_TIMER_GETTIME). */
static void child_timer(struct fx *f, uint32_t op, int32_t a, void *out, size_t size)
{
	struct reply rp = ask(f, op, a, 0);

	assert_int_equal(rp.ret, 0);
	memcpy(out, rp.buf, size);
}

static void itimer_roundtrip(void **state)
{
	struct fx *f = *state;
	struct itimerval set = { .it_interval = { 7, 0 }, .it_value = { 1000, 0 } };
	struct itimerval virt = { .it_value = { 50, 0 } };
	struct itimerval zero = { 0 }, got;

	take(f);
	assert_int_equal(remote_itimer_get(&f->r, ITIMER_REAL, &got), 0);
	assert_memory_equal(&got, &zero, sizeof(zero));
	assert_int_equal(remote_itimer_set(&f->r, ITIMER_REAL, &set), 0);
	assert_int_equal(remote_itimer_set(&f->r, ITIMER_VIRTUAL, &virt), 0);
	assert_int_equal(remote_itimer_get(&f->r, ITIMER_REAL, &got), 0);
	assert_int_equal(got.it_interval.tv_sec, 7);
	assert_int_equal(got.it_interval.tv_usec, 0);
	assert_in_range(got.it_value.tv_sec, 990, 999);
	assert_int_equal(remote_itimer_set(&f->r, 5, &set), -EINVAL);
	give(f);

	child_timer(f, OP_GETITIMER, ITIMER_REAL, &got, sizeof(got));
	assert_int_equal(got.it_interval.tv_sec, 7);
	assert_in_range(got.it_value.tv_sec, 990, 999);
	child_timer(f, OP_GETITIMER, ITIMER_VIRTUAL, &got, sizeof(got));
	assert_in_range(got.it_value.tv_sec, 49, 50);
	assert_true(got.it_value.tv_sec || got.it_value.tv_usec);

	take(f);
	assert_int_equal(remote_itimer_set(&f->r, ITIMER_REAL, &zero), 0);
	give(f);
	child_timer(f, OP_GETITIMER, ITIMER_REAL, &got, sizeof(got));
	assert_memory_equal(&got, &zero, sizeof(zero));
}

static void posix_timers(void **state)
{
	struct fx *f = *state;
	struct itimerspec set = { .it_interval = { 3, 0 }, .it_value = { 100, 0 } };
	struct itimerspec got, zero = { 0 };
	int id1, id2, *ids;
	size_t n;
	pid_t gone;

	assert_int_equal(proc_list_posix_timers(f->pid, &ids, &n), 0);
	assert_int_equal(n, 0);
	free(ids);
	id1 = ask(f, OP_TIMER_CREATE, 0, 0).ret;
	id2 = ask(f, OP_TIMER_CREATE, 0, 0).ret;
	assert_true(id1 >= 0 && id2 >= 0 && id1 != id2);
	assert_int_equal(proc_list_posix_timers(f->pid, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], id1 < id2 ? id1 : id2);
	assert_int_equal(ids[1], id1 < id2 ? id2 : id1);
	free(ids);

	take(f);
	assert_int_equal(remote_timer_gettime(&f->r, id1, &got), 0);
	assert_memory_equal(&got, &zero, sizeof(zero));
	assert_int_equal(remote_timer_settime(&f->r, id1, &set), 0);
	assert_int_equal(remote_timer_gettime(&f->r, id1, &got), 0);
	assert_int_equal(got.it_interval.tv_sec, 3);
	assert_int_equal(got.it_interval.tv_nsec, 0);
	assert_in_range(got.it_value.tv_sec, 90, 99);
	assert_int_equal(remote_timer_delete(&f->r, id2), 0);
	assert_int_equal(remote_timer_gettime(&f->r, id2, &got), -EINVAL);
	assert_int_equal(remote_timer_delete(&f->r, id2), -EINVAL);
	give(f);

	assert_int_equal(proc_list_posix_timers(f->pid, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id1);
	free(ids);
	child_timer(f, OP_TIMER_GETTIME, id1, &got, sizeof(got));
	assert_int_equal(got.it_interval.tv_sec, 3);
	assert_in_range(got.it_value.tv_sec, 90, 99);
	assert_int_equal(ask(f, OP_TIMER_GETTIME, id2, 0).ret, -EINVAL);

	gone = fork();
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	assert_int_equal(proc_list_posix_timers(gone, &ids, &n), -ESRCH);
	assert_null(ids);
}

static void umask_and_chdir(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/rw-remote-XXXXXX", path[64], cwd[PATH_MAX];
	struct rw_proc_status st;
	mode_t old = 0;
	ssize_t n;

	assert_non_null(mkdtemp(dir));
	take(f);
	assert_int_equal(remote_umask(&f->r, 077, &old), 0);
	assert_int_equal(old, 022);
	assert_int_equal(remote_chdir(&f->r, dir), 0);
	assert_int_equal(remote_chdir(&f->r, "/nonexistent/rw-remote"), -ENOENT);
	assert_false(f->r.broken);
	give(f);

	assert_int_equal(proc_read_status(f->pid, &st), 0);
	assert_int_equal(st.umask, 077);
	snprintf(path, sizeof(path), "/proc/%d/cwd", f->pid);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	assert_true(n > 0);
	cwd[n] = '\0';
	assert_string_equal(cwd, dir);

	take(f);
	assert_int_equal(remote_umask(&f->r, 022, &old), 0);
	assert_int_equal(old, 077);
	assert_int_equal(remote_chdir(&f->r, "/"), 0);
	give(f);
	assert_int_equal(proc_read_status(f->pid, &st), 0);
	assert_int_equal(st.umask, 022);
	assert_int_equal(rmdir(dir), 0);
}

static void set_comm(void **state)
{
	struct fx *f = *state;
	char comm[16];
	long res = 0;

	take(f);
	assert_int_equal(remote_set_comm(&f->r, "a-much-longer-name"), 0);
	/* remote_call: a syscall without memory, raw result */
	assert_int_equal(remote_call(&f->r, SYS_getpid, 0, 0, 0, 0, 0, 0, &res), 0);
	assert_int_equal(res, f->pid);
	give(f);
	assert_int_equal(proc_read_comm(f->pid, 0, comm), 0);
	assert_string_equal(comm, "a-much-longer-n");	/* TASK_COMM_LEN - 1 */

	take(f);
	assert_int_equal(remote_set_comm(&f->r, "fn-42"), 0);
	give(f);
	assert_int_equal(proc_read_comm(f->pid, 0, comm), 0);
	assert_string_equal(comm, "fn-42");
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
}

/* ---- fds ------------------------------------------------------------------- */

/* Our bytes through the pipe arrive at the child's fd. */
static void reads_through(struct fx *f, int wr, int fd)
{
	struct reply rp;

	assert_int_equal(write(wr, "hello", 5), 5);
	rp = ask(f, OP_READ_FD, fd, 5);
	assert_int_equal(rp.ret, 5);
	assert_memory_equal(rp.buf, "hello", 5);
}

static void install_fd_replaces(void **state)
{
	struct fx *f = *state;
	int p[2], before[256], after[256], ours[256];
	char link[64], want[64];
	size_t nb, na, nours = fd_list(getpid(), ours, 256);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	our_link(p[0], want, sizeof(want));
	fd_link(f->pid, 0, link, sizeof(link));
	assert_string_equal(link, "/dev/null");
	nb = fd_list(f->pid, before, 256);

	take(f);
	/* fd 0 open: replaced; fd 50 closed: created, with FD_CLOEXEC */
	assert_int_equal(remote_install_fd(&f->r, p[0], 0, false), 0);
	assert_int_equal(remote_install_fd(&f->r, p[0], 50, true), 0);
	assert_int_equal(remote_install_fd(&f->r, 9999, 51, false), -EBADF);
	assert_false(f->r.broken);
	give(f);
	close(p[0]);

	fd_link(f->pid, 0, link, sizeof(link));
	assert_string_equal(link, want);
	fd_link(f->pid, 50, link, sizeof(link));
	assert_string_equal(link, want);
	assert_false(fd_open_flags(f->pid, 0) & O_CLOEXEC);
	assert_true(fd_open_flags(f->pid, 50) & O_CLOEXEC);
	assert_int_equal(ask(f, OP_FD_FLAGS, 0, 0).ret, 0);
	assert_int_equal(ask(f, OP_FD_FLAGS, 50, 0).ret, FD_CLOEXEC);
	reads_through(f, p[1], 0);
	reads_through(f, p[1], 50);
	/* No temporary left: the same fds plus 50, in the child and here. */
	na = fd_list(f->pid, after, 256);
	assert_int_equal(na, nb + 1);
	for (size_t i = 0, j = 0; i < na; i++) {
		if (after[i] == 50)
			continue;
		assert_int_equal(after[i], before[j++]);
	}
	assert_int_equal(fd_list(getpid(), after, 256), nours + 1);	/* + p[1] */
	close(p[1]);
}

/* The two lowest free fd numbers of pid. */
static void lowest_free(pid_t pid, int out[2])
{
	int fds[256];
	size_t n = fd_list(pid, fds, 256), i = 0;
	int k = 0;

	for (int fd = 0; k < 2; fd++) {
		while (i < n && fds[i] < fd)
			i++;
		if (i == n || fds[i] != fd)
			out[k++] = fd;
	}
}

/*
 * target_fd free and the lowest free number: the temporary socketpair lands
 * on it (sv[0]); the second lowest: sv[1] does.
 */
static void install_fd_lowest_free(void **state)
{
	struct fx *f = *state;
	int p[2], before[256], after[256], lo[2], nb, na;
	char link[64], want[64];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	our_link(p[0], want, sizeof(want));

	take(f);
	assert_int_equal(remote_close_fd(&f->r, 0), 0);
	nb = fd_list(f->pid, before, 256);
	lowest_free(f->pid, lo);
	assert_int_equal(lo[0], 0);
	assert_int_equal(remote_install_fd(&f->r, p[0], lo[0], true), 0);
	na = fd_list(f->pid, after, 256);
	assert_int_equal(na, nb + 1);
	fd_link(f->pid, lo[0], link, sizeof(link));
	assert_string_equal(link, want);
	assert_true(fd_open_flags(f->pid, lo[0]) & O_CLOEXEC);

	lowest_free(f->pid, lo);
	assert_int_equal(remote_install_fd(&f->r, p[0], lo[1], false), 0);
	assert_int_equal(fd_list(f->pid, after, 256), na + 1);
	assert_false(has_fd(f->pid, lo[0]));
	fd_link(f->pid, lo[1], link, sizeof(link));
	assert_string_equal(link, want);
	assert_false(fd_open_flags(f->pid, lo[1]) & O_CLOEXEC);
	give(f);
	close(p[0]);

	reads_through(f, p[1], 0);
	reads_through(f, p[1], lo[1]);
	close(p[1]);
}

static void close_fd_and_flags(void **state)
{
	struct fx *f = *state;

	assert_true(has_fd(f->pid, NULL_FD));
	assert_false(fd_open_flags(f->pid, NULL_FD) & O_CLOEXEC);
	take(f);
	assert_int_equal(remote_set_fd_flags(&f->r, NULL_FD, FD_CLOEXEC), 0);
	give(f);
	assert_true(fd_open_flags(f->pid, NULL_FD) & O_CLOEXEC);
	assert_int_equal(ask(f, OP_FD_FLAGS, NULL_FD, 0).ret, FD_CLOEXEC);

	take(f);
	assert_int_equal(remote_set_fd_flags(&f->r, NULL_FD, 0), 0);
	give(f);
	assert_false(fd_open_flags(f->pid, NULL_FD) & O_CLOEXEC);
	assert_int_equal(ask(f, OP_FD_FLAGS, NULL_FD, 0).ret, 0);

	take(f);
	assert_int_equal(remote_close_fd(&f->r, NULL_FD), 0);
	assert_int_equal(remote_close_fd(&f->r, NULL_FD), -EBADF);
	assert_int_equal(remote_set_fd_flags(&f->r, NULL_FD, FD_CLOEXEC), -EBADF);
	assert_false(f->r.broken);
	give(f);
	assert_false(has_fd(f->pid, NULL_FD));
	assert_int_equal(ask(f, OP_FD_FLAGS, NULL_FD, 0).ret, -1);
}

/* ---- layout ---------------------------------------------------------------- */

static const struct rw_vma *vma_at(const struct rw_maps *m, uint64_t addr)
{
	ssize_t i = proc_maps_find(m, addr);

	return i < 0 ? NULL : &m->v[i];
}

static void layout(void **state)
{
	struct fx *f = *state;
	char pattern[3 * PAGE], back[PAGE], zeros[PAGE] = { 0 };
	struct iovec local, remote;
	struct rw_maps m = { 0 };
	const struct rw_vma *v;
	uint64_t a;

	memset(pattern, 0x5a, sizeof(pattern));
	take(f);
	assert_int_equal(remote_mmap(&f->r, FAR_ADDR, 3 * PAGE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0, &a),
			 0);
	assert_int_equal(a, FAR_ADDR);
	/* Already mapped: refused, not lost. */
	assert_int_equal(remote_mmap(&f->r, FAR_ADDR, PAGE, PROT_READ,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0, &a),
			 -EEXIST);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	v = vma_at(&m, FAR_ADDR);
	assert_non_null(v);
	assert_int_equal(v->start, FAR_ADDR);
	assert_int_equal(v->end, FAR_ADDR + 3 * PAGE);
	assert_int_equal(v->prot, PROT_READ | PROT_WRITE);
	proc_maps_free(&m);

	local = (struct iovec){ pattern, sizeof(pattern) };
	remote = (struct iovec){ (void *)FAR_ADDR, sizeof(pattern) };
	assert_int_equal(process_vm_writev(f->pid, &local, 1, &remote, 1, 0), sizeof(pattern));

	assert_int_equal(remote_mprotect(&f->r, FAR_ADDR + PAGE, PAGE, PROT_READ), 0);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	assert_int_equal(vma_at(&m, FAR_ADDR)->end, FAR_ADDR + PAGE);
	v = vma_at(&m, FAR_ADDR + PAGE);
	assert_int_equal(v->end, FAR_ADDR + 2 * PAGE);
	assert_int_equal(v->prot, PROT_READ);
	assert_int_equal(vma_at(&m, FAR_ADDR + 2 * PAGE)->prot, PROT_READ | PROT_WRITE);
	proc_maps_free(&m);

	/* MADV_DONTNEED drops the first page's contents only. */
	assert_int_equal(remote_madvise(&f->r, FAR_ADDR, PAGE, MADV_DONTNEED), 0);
	local = (struct iovec){ back, PAGE };
	remote = (struct iovec){ (void *)FAR_ADDR, PAGE };
	assert_int_equal(process_vm_readv(f->pid, &local, 1, &remote, 1, 0), PAGE);
	assert_memory_equal(back, zeros, PAGE);
	remote.iov_base = (void *)(FAR_ADDR + 2 * PAGE);
	assert_int_equal(process_vm_readv(f->pid, &local, 1, &remote, 1, 0), PAGE);
	assert_memory_equal(back, pattern, PAGE);
	assert_int_equal(remote_madvise(&f->r, FAR_ADDR, PAGE, 12345), -EINVAL);

	assert_int_equal(remote_munmap(&f->r, FAR_ADDR, 3 * PAGE), 0);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	assert_null(vma_at(&m, FAR_ADDR));
	assert_null(vma_at(&m, FAR_ADDR + 2 * PAGE));
	proc_maps_free(&m);
	assert_int_equal(remote_mprotect(&f->r, FAR_ADDR, PAGE, PROT_READ), -ENOMEM);
	assert_false(f->r.broken);
	give(f);
}

static void brk_moves(void **state)
{
	struct fx *f = *state;
	uint64_t b0 = ask(f, OP_BRK, 0, 0).ret, now = 0, top = b0 + 8 * PAGE;
	struct rw_maps m = { 0 };
	const struct rw_vma *v;

	take(f);
	assert_int_equal(remote_brk(&f->r, 0, &now), 0);
	assert_int_equal(now, b0);
	assert_int_equal(remote_brk(&f->r, top, &now), 0);
	assert_int_equal(now, top);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	v = vma_at(&m, top - 1);
	assert_non_null(v);
	assert_int_equal(v->end, (top + PAGE - 1) & ~(PAGE - 1));
	assert_string_equal(v->name, "[heap]");
	proc_maps_free(&m);
	give(f);
	assert_int_equal(ask(f, OP_BRK, 0, 0).ret, top);

	take(f);
	assert_int_equal(remote_brk(&f->r, b0, &now), 0);
	assert_int_equal(now, b0);
	give(f);
	assert_int_equal(ask(f, OP_BRK, 0, 0).ret, b0);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	assert_null(vma_at(&m, top - 1));
	proc_maps_free(&m);
}

/* ---- children and signals -------------------------------------------------- */

static void wait4_reaps_grandchild(void **state)
{
	struct fx *f = *state;
	struct rw_proc_status st;
	pid_t g, reaped = 0;

	g = ask(f, OP_ZOMBIE, 0, 0).ret;
	assert_true(g > 0);
	assert_int_equal(proc_read_status(g, &st), 0);
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.ppid, f->pid);

	take(f);
	assert_int_equal(remote_wait4(&f->r, g, 0, &reaped), 0);
	assert_int_equal(reaped, g);
	assert_int_equal(proc_read_status(g, &st), -ESRCH);
	assert_int_equal(remote_wait4(&f->r, g, WNOHANG, &reaped), -ECHILD);
	assert_false(f->r.broken);
	give(f);
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
}

static void drain_signals(void **state)
{
	struct fx *f = *state;
	uint64_t set = SIGBIT(SIGUSR1) | SIGBIT(SIGRTMIN);
	char task[64];

	snprintf(task, sizeof(task), "task/%d/status", f->pid);
	ask(f, OP_PEND_SIGNALS, 0, 0);
	assert_int_equal(proc_field(f->pid, task, "SigPnd:", 16),
			 SIGBIT(SIGUSR1) | SIGBIT(SIGWINCH));
	assert_int_equal(proc_field(f->pid, "status", "ShdPnd:", 16), set);

	take(f);
	assert_int_equal(remote_drain_signals(&f->r, set), 0);
	/* All three queued SIGRTMIN are gone, and SIGWINCH, not in set, stays. */
	assert_int_equal(proc_field(f->pid, task, "SigPnd:", 16), SIGBIT(SIGWINCH));
	assert_int_equal(proc_field(f->pid, "status", "ShdPnd:", 16), 0);
	assert_int_equal(remote_drain_signals(&f->r, set), 0);	/* nothing left: fine */
	give(f);
	assert_int_equal(ask(f, OP_SIGPENDING, 0, 0).v[0], SIGBIT(SIGWINCH));
}

/* ---- leaving no trace, and losing the target ------------------------------- */

static void close_leaves_no_trace(void **state)
{
	struct fx *f = *state;
	char *before = snapshot(f->pid), *during, *after;
	struct rw_ksigaction act;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	take(f);
	assert_int_equal(remote_close(&f->r), 0);	/* nothing mapped yet */
	assert_int_equal(remote_sigaction_get(&f->r, SIGHUP, &act), 0);
	assert_true(f->r.scratch != 0);
	assert_int_equal(remote_install_fd(&f->r, p[0], 60, true), 0);
	assert_int_equal(remote_close_fd(&f->r, 60), 0);
	assert_int_equal(remote_drain_signals(&f->r, SIGBIT(SIGUSR1)), 0);
	during = snapshot(f->pid);
	assert_string_not_equal(during, before);	/* the scratch page is there */
	assert_int_equal(remote_close(&f->r), 0);
	assert_int_equal(f->r.scratch, 0);
	assert_int_equal(remote_close(&f->r), 0);
	assert_int_equal(inject_release(&f->ij), 0);
	after = snapshot(f->pid);
	assert_string_equal(after, before);
	free(before);
	free(during);
	free(after);
	close(p[0]);
	close(p[1]);
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
}

/* ---- batches ----------------------------------------------------------------- */

static struct rw_batch_call bcall(long nr, long a0, long a1, long a2, long a3, long expect)
{
	return (struct rw_batch_call){ .nr = nr, .args = { a0, a1, a2, a3, -1, 0 }, .expect = expect };
}

/* take(), with HOLE as where remote_batch maps its area. */
static void take_with_hole(struct fx *f)
{
	take(f);
	remote_set_hole(&f->r, HOLE);
}

/* Layout calls run in order from our area in the hole, with effect, and leave no trace. */
static void batch_layout(void **state)
{
	struct fx *f = *state;
	const struct rw_batch_call calls[] = {
		bcall(SYS_mmap, FAR_ADDR, 4 * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, FAR_ADDR),
		bcall(SYS_mprotect, FAR_ADDR + PAGE, PAGE, PROT_READ, 0, 0),
		bcall(SYS_madvise, FAR_ADDR, PAGE, MADV_DONTNEED, 0, 0),
		bcall(SYS_munmap, FAR_ADDR + 3 * PAGE, PAGE, 0, 0, 0),
	};
	char *before = snapshot(f->pid), *after;
	struct rw_maps m = { 0 };
	size_t failed;
	long res;

	take_with_hole(f);
	assert_int_equal(remote_batch(&f->r, calls, 4, &failed, &res), 0);
	assert_int_equal(failed, 4);
	/* It ran from our area, placed in the hole. */
	assert_int_equal(f->r.batch, HOLE + PAGE);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	assert_non_null(vma_at(&m, HOLE + PAGE));
	assert_int_equal(vma_at(&m, HOLE + PAGE)->prot, PROT_READ | PROT_EXEC);
	assert_int_equal(vma_at(&m, FAR_ADDR)->end, FAR_ADDR + PAGE);
	assert_int_equal(vma_at(&m, FAR_ADDR + PAGE)->prot, PROT_READ);
	assert_int_equal(vma_at(&m, FAR_ADDR + 2 * PAGE)->prot, PROT_READ | PROT_WRITE);
	assert_int_equal(vma_at(&m, FAR_ADDR + 2 * PAGE)->end, FAR_ADDR + 3 * PAGE);
	assert_null(vma_at(&m, FAR_ADDR + 3 * PAGE));
	proc_maps_free(&m);
	/* A second batch reuses the area. */
	assert_int_equal(remote_batch(&f->r, calls + 3, 1, &failed, &res), 0);
	assert_int_equal(failed, 1);
	assert_int_equal(remote_munmap(&f->r, FAR_ADDR, 3 * PAGE), 0);
	give(f);
	assert_int_equal(f->r.batch, 0);
	after = snapshot(f->pid);
	assert_string_equal(after, before);
	free(before);
	free(after);
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
}

/*
 * The restorer: runs copied inside the child, from a read-only mapping into
 * a writable one; a run that faults ends it with -EIO, the child never sees
 * the SIGSEGV and the thread can still be injected into.
 */
static void copy_runs(void **state)
{
	struct fx *f = *state;
	const uint64_t src = FAR_ADDR, dst = FAR_ADDR + 8 * PAGE;
	char pat[4 * PAGE], got[4 * PAGE];
	struct iovec l = { pat, sizeof(pat) }, r = { (void *)src, sizeof(pat) };
	struct rw_copy_run runs[] = {
		{ dst, src + 2 * PAGE, 2 * PAGE },
		{ dst + 3 * PAGE, src, PAGE },
		{ dst + 2 * PAGE, src + PAGE, 100 },
	};
	struct rw_copy_run bad[] = {
		{ dst, src, PAGE },
		{ src, dst, PAGE },	/* into the read-only mapping */
	};
	uint64_t m;
	size_t done;

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (char)(i * 7 + i / PAGE);
	take_with_hole(f);
	assert_int_equal(remote_mmap(&f->r, src, 4 * PAGE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, &m), 0);
	assert_int_equal(remote_mmap(&f->r, dst, 4 * PAGE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, &m), 0);
	assert_int_equal(process_vm_writev(f->pid, &l, 1, &r, 1, 0), sizeof(pat));
	assert_int_equal(remote_mprotect(&f->r, src, 4 * PAGE, PROT_READ), 0);
	assert_int_equal(remote_copy(&f->r, runs, 3, &done), 0);
	assert_int_equal(done, 3);
	l = (struct iovec){ got, sizeof(got) };
	r = (struct iovec){ (void *)dst, sizeof(got) };
	assert_int_equal(process_vm_readv(f->pid, &l, 1, &r, 1, 0), sizeof(got));
	assert_memory_equal(got, pat + 2 * PAGE, 2 * PAGE);
	assert_memory_equal(got + 2 * PAGE, pat + PAGE, 100);
	assert_int_equal(got[2 * PAGE + 100], 0);
	assert_memory_equal(got + 3 * PAGE, pat, PAGE);
	/* A fault: reported, not delivered; the thread stays ours. */
	assert_int_equal(remote_copy(&f->r, bad, 2, &done), -EIO);
	assert_int_equal(done, 0);
	assert_false(f->r.broken);
	assert_int_equal(remote_munmap(&f->r, src, 16 * PAGE), 0);
	give(f);
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
}

/*
 * A resident area (rewind/restorer_area.h): mapped once, read-only and
 * executable to the child; batches and copies run from it with no hole and
 * no mapping of ours made; closing zeroes the tables and leaves it mapped,
 * and the child cannot make it writable.
 */
static void resident_area(void **state)
{
	struct fx *f = *state;
	const uint64_t src = FAR_ADDR, dst = FAR_ADDR + 8 * PAGE;
	const struct rw_batch_call calls[] = {
		bcall(SYS_mmap, src, 4 * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, src),
		bcall(SYS_mmap, dst, 4 * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, dst),
	};
	const struct rw_copy_run runs[] = {
		{ dst + 2 * PAGE, src + 3 * PAGE, PAGE },
		{ dst, src, PAGE },
	};
	static const uint8_t zeros[4096];
	struct rw_proc_image img = { .tgid = f->pid, .store_fd = -1 };
	char pat[4 * PAGE], got[3 * PAGE], *before, *after;
	struct iovec l = { pat, sizeof(pat) }, r = { (void *)src, sizeof(pat) };
	struct rw_maps m = { 0 };
	uint64_t at;
	size_t failed, done;
	long res;

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (char)(i * 13 + i / PAGE);
	take(f);
	assert_int_equal(image_map_area(&img, &f->r, 0), 0);
	at = img.area.at.addr;
	assert_int_not_equal(at, 0);
	give(f);
	before = snapshot(f->pid);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	assert_non_null(vma_at(&m, at));
	assert_true(image_is_tmap(&img.area.at, vma_at(&m, at)));
	proc_maps_free(&m);

	take(f);	/* no hole: the area needs none */
	remote_use_area(&f->r, at, img.area.local);
	assert_int_equal(remote_batch(&f->r, calls, 2, &failed, &res), 0);
	assert_int_equal(failed, 2);
	assert_int_equal(process_vm_writev(f->pid, &l, 1, &r, 1, 0), sizeof(pat));
	assert_int_equal(remote_copy(&f->r, runs, 2, &done), 0);
	assert_int_equal(done, 2);
	l = (struct iovec){ got, sizeof(got) };
	r = (struct iovec){ (void *)dst, sizeof(got) };
	assert_int_equal(process_vm_readv(f->pid, &l, 1, &r, 1, 0), sizeof(got));
	assert_memory_equal(got, pat, PAGE);
	assert_memory_equal(got + PAGE, zeros, PAGE);
	assert_memory_equal(got + 2 * PAGE, pat + 3 * PAGE, PAGE);
	/* The last table is there until the close, which wipes it. */
	assert_memory_not_equal(img.area.local + RW_REMOTE_CODE_LEN, zeros, sizeof(runs));
	/* The child cannot make it writable (sealed, and mapped from a read-only open). */
	assert_int_equal(remote_mprotect(&f->r, at, img.area.at.len, PROT_READ | PROT_WRITE),
			 -EACCES);
	assert_int_equal(remote_munmap(&f->r, FAR_ADDR, 16 * PAGE), 0);
	give(f);
	assert_memory_equal(img.area.local + RW_REMOTE_CODE_LEN, zeros, sizeof(zeros));
	/* Nothing of ours came or went: the area is where it was. */
	after = snapshot(f->pid);
	assert_string_equal(after, before);
	free(before);
	free(after);

	take(f);
	assert_int_equal(remote_munmap(&f->r, at, img.area.at.len), 0);
	give(f);
	restorer_area_free(&img.area);
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
}

/*
 * A copy beside ours (remote_copy_begin/take/end): the child copies every
 * run not taken back and skips those taken before it reached them; after
 * the end nothing more can be taken and the child's affinity is what it
 * was. Its first run is long (BIG pages, faulted in as it goes), so the
 * runs after it are taken while it is still in it. A child that may run on
 * our CPU only is not started (-EAGAIN) and stays ours.
 */
static void copy_beside(void **state)
{
	enum { BIG = 2048, N = 64, TAKEN = 16, S = BIG + N };
	struct fx *f = *state;
	const uint64_t src = FAR_ADDR, dst = FAR_ADDR + 2 * S * PAGE;
	const struct rw_batch_call calls[] = {
		bcall(SYS_mmap, src, S * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, src),
		bcall(SYS_mmap, dst, S * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, dst),
	};
	struct rw_proc_image img = { .tgid = f->pid, .store_fd = -1 };
	uint8_t *pat = malloc(S * PAGE), *got = malloc(S * PAGE), *marker = malloc(N * PAGE);
	struct iovec l = { pat, S * PAGE }, r = { (void *)src, S * PAGE };
	struct rw_copy_run runs[1 + N];
	cpu_set_t home, after, one;
	size_t failed;
	long res;
	int cpu;

	assert_non_null(pat);
	assert_non_null(got);
	assert_non_null(marker);
	for (size_t i = 0; i < S * PAGE; i++)
		pat[i] = (uint8_t)(i * 29 + i / PAGE + 1);
	memset(marker, 0xa5, N * PAGE);
	runs[0] = (struct rw_copy_run){ dst, src, BIG * PAGE };
	for (size_t i = 0; i < N; i++)
		runs[1 + i] = (struct rw_copy_run){ dst + (BIG + i) * PAGE, src + (BIG + i) * PAGE, PAGE };
	take(f);
	assert_int_equal(image_map_area(&img, &f->r, 0), 0);
	/* Without a resident area there is no table to take runs back from. */
	assert_int_equal(remote_copy_begin(&f->r, runs, 1 + N), -EOPNOTSUPP);
	remote_use_area(&f->r, img.area.at.addr, img.area.local);
	assert_int_equal(remote_batch(&f->r, calls, 2, &failed, &res), 0);
	assert_int_equal(failed, 2);
	assert_int_equal(process_vm_writev(f->pid, &l, 1, &r, 1, 0), S * PAGE);
	l = (struct iovec){ marker, N * PAGE };
	r = (struct iovec){ (void *)(dst + BIG * PAGE), N * PAGE };
	assert_int_equal(process_vm_writev(f->pid, &l, 1, &r, 1, 0), N * PAGE);
	assert_int_equal(sched_getaffinity(f->pid, sizeof(home), &home), 0);

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || CPU_COUNT(&home) < 2) {
		fprintf(stderr, "SKIP copy_beside's copy: one CPU here\n");
	} else {
		assert_int_equal(remote_copy_begin(&f->r, runs, 1 + N), 0);
		assert_true(remote_copy_take(&f->r, 1 + N - TAKEN, 1 + N));
		assert_int_equal(remote_copy_end(&f->r), 0);
		assert_false(remote_copy_take(&f->r, 0, 1));
		assert_int_equal(sched_getaffinity(f->pid, sizeof(after), &after), 0);
		assert_true(CPU_EQUAL(&home, &after));
		l = (struct iovec){ got, S * PAGE };
		r = (struct iovec){ (void *)dst, S * PAGE };
		assert_int_equal(process_vm_readv(f->pid, &l, 1, &r, 1, 0), S * PAGE);
		/* Copied: the long run and the short ones not taken; skipped: the taken ones. */
		assert_memory_equal(got, pat, (S - TAKEN) * PAGE);
		assert_memory_equal(got + (S - TAKEN) * PAGE, marker, TAKEN * PAGE);
	}

	/* Only our CPU for it: nothing starts, and it is still ours to inject into. */
	cpu = sched_getcpu();
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(sched_setaffinity(f->pid, sizeof(one), &one), 0);
	assert_int_equal(remote_copy_begin(&f->r, runs, 1 + N), -EAGAIN);
	assert_false(remote_copy_take(&f->r, 0, 1));
	assert_int_equal(sched_setaffinity(f->pid, sizeof(home), &home), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(after), &after), 0);
	assert_int_equal(remote_munmap(&f->r, FAR_ADDR, 3 * S * PAGE), 0);
	assert_int_equal(remote_munmap(&f->r, img.area.at.addr, img.area.at.len), 0);
	give(f);
	restorer_area_free(&img.area);
	free(pat);
	free(got);
	free(marker);
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
}

/* The first call that does not return what it should ends the batch: the rest never run. */
static void batch_stops_at_refusal(void **state)
{
	struct fx *f = *state;
	const struct rw_batch_call calls[] = {
		bcall(SYS_mmap, FAR_ADDR, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		      FAR_ADDR),
		bcall(SYS_munmap, FAR_ADDR + 1, PAGE, 0, 0, 0),		/* unaligned: EINVAL */
		bcall(SYS_mmap, FAR_ADDR + 2 * PAGE, PAGE, PROT_READ,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, FAR_ADDR + 2 * PAGE),
	};
	struct rw_maps m = { 0 };
	size_t failed;
	long res;

	take_with_hole(f);
	assert_int_equal(remote_batch(&f->r, calls, 3, &failed, &res), 0);
	assert_int_equal(failed, 1);
	assert_int_equal(res, -EINVAL);
	assert_int_equal(proc_read_maps(f->pid, &m), 0);
	assert_non_null(vma_at(&m, FAR_ADDR));
	assert_null(vma_at(&m, FAR_ADDR + 2 * PAGE));
	proc_maps_free(&m);
	assert_int_equal(remote_munmap(&f->r, FAR_ADDR, PAGE), 0);
	give(f);
}

/*
 * Single-steps and the batch's int3 stop the thread with a SIGTRAP the
 * kernel forces, and forcing a blocked or ignored signal resets it to
 * SIG_DFL. Whatever the thread does with SIGTRAP, it must do it still, and
 * its handler must never run for one of ours.
 */
static void trap_case(struct fx *f, int mode)
{
	const struct rw_batch_call calls[] = {
		bcall(SYS_mmap, FAR_ADDR, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		      FAR_ADDR),
		bcall(SYS_munmap, FAR_ADDR, PAGE, 0, 0, 0),
	};
	bool may_trap = mode == 0;
	struct reply rp;
	size_t failed;
	int64_t ran;
	long res;

	assert_int_equal(ask(f, OP_TRAP, mode, 0).ret, 0);
	ran = ask(f, OP_RAISE, SIGHUP, 0).ret;
	take_with_hole(f);
	assert_int_equal(inject_can_trap(&f->ij), may_trap);
	assert_int_equal(remote_call(&f->r, SYS_getpid, 0, 0, 0, 0, 0, 0, &res), 0);
	assert_int_equal(res, f->pid);
	assert_int_equal(remote_batch(&f->r, calls, 2, &failed, &res), 0);
	assert_int_equal(failed, 2);
	/* One by one (PTRACE_SYSCALL) when trapping is not safe: no area mapped. */
	assert_int_equal(f->r.batch != 0, may_trap);
	give(f);
	rp = ask(f, OP_SIGACTION, SIGTRAP, 0);
	assert_int_equal(rp.v[0], mode == 1 ? (uintptr_t)SIG_IGN : (uintptr_t)on_signal);
	assert_int_equal(!!(proc_field(f->pid, "status", "SigBlk:", 16) & SIGBIT(SIGTRAP)), mode == 2);
	assert_int_equal(ask(f, OP_SIGPENDING, 0, 0).v[0] & SIGBIT(SIGTRAP), 0);
	/* Only SIGHUP's run of the shared handler since: none for a SIGTRAP. */
	assert_int_equal(ask(f, OP_RAISE, SIGHUP, 0).ret, ran + 1);
}

static void trap_handled(void **state)
{
	trap_case(*state, 0);
}

static void trap_ignored(void **state)
{
	trap_case(*state, 1);
}

static void trap_blocked(void **state)
{
	trap_case(*state, 2);
}

static void lost_target(void **state)
{
	struct fx *f = *state;
	struct rw_ksigaction act;
	mode_t old;

	take(f);
	assert_int_equal(remote_sigaction_get(&f->r, SIGHUP, &act), 0);
	f->killed = true;
	assert_int_equal(kill(f->pid, SIGKILL), 0);
	assert_int_equal(remote_umask(&f->r, 0, &old), -ESRCH);
	assert_true(f->r.broken);
	/* Sticky: no more attempts. */
	assert_int_equal(remote_set_comm(&f->r, "x"), -ESRCH);
	assert_int_equal(remote_close(&f->r), -ESRCH);
	assert_int_equal(f->r.scratch, 0);
	inject_release(&f->ij);
	assert_false(f->ij.seized);

	/* No thread at all: NULL-safe. */
	remote_init(&f->r, NULL, f->pid);
	assert_int_equal(remote_close(&f->r), 0);
	assert_int_equal(remote_umask(&f->r, 0, &old), -ESRCH);
}

/* ---- thread exit ------------------------------------------------------------ */

static void exit_thread(void **state)
{
	struct fx *f = *state;
	struct rw_proc_status st;
	struct rw_seized ij;
	char path[64];
	pid_t tid;

	tid = ask(f, OP_THREAD, 0, 0).ret;
	assert_true(tid > 0 && tid != f->pid);
	wait_in_syscall(f->pid, tid, SYS_read);
	assert_int_equal(proc_read_status(f->pid, &st), 0);
	assert_int_equal(st.threads, 2);
	assert_int_equal(ask(f, OP_TID_WORD, 0, 0).ret, 1);

	/* The main thread is refused, and stays seized and usable. */
	take(f);
	assert_int_equal(inject_exit_thread(&f->ij), -EINVAL);
	assert_true(f->ij.seized);
	give(f);

	assert_int_equal(inject_seize(&ij, tid), 0);
	assert_int_equal(inject_exit_thread(&ij), 0);
	assert_false(ij.seized);
	snprintf(path, sizeof(path), "/proc/%d/task/%d", f->pid, tid);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(proc_read_status(f->pid, &st), 0);
	assert_int_equal(st.threads, 1);
	/* The kernel ran its exit path: clear_child_tid zeroed (what pthread_join waits for). */
	assert_int_equal(ask(f, OP_TID_WORD, 0, 0).ret, 0);
	assert_int_equal(ask(f, OP_PING, 0, 0).ret, f->pid);
	assert_int_equal(inject_exit_thread(&ij), -ESRCH);
	assert_int_equal(inject_release(&ij), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(sigaction_roundtrip),
		T(itimer_roundtrip),
		T(posix_timers),
		T(umask_and_chdir),
		T(set_comm),
		T(install_fd_replaces),
		T(install_fd_lowest_free),
		T(close_fd_and_flags),
		T(layout),
		T(brk_moves),
		T(wait4_reaps_grandchild),
		T(drain_signals),
		T(close_leaves_no_trace),
		T(batch_layout),
		T(batch_stops_at_refusal),
		T(copy_runs),
		T(resident_area),
		T(copy_beside),
		T(trap_handled),
		T(trap_ignored),
		T(trap_blocked),
		T(lost_target),
		T(exit_thread),
	};
#undef T

	if (getenv("RW_DEBUG"))
		rw_log_level = RW_LOG_DEBUG;
	if (geteuid())
		fprintf(stderr, "test_remote needs root (ptrace, pidfd_getfd)\n");
	/* A watchdog, not synchronisation: a hung ptrace dance fails the run. */
	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
