// SPDX-License-Identifier: GPL-2.0-only
/* threads_blocked: threads in futex, read, epoll_wait, nanosleep. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "zdtm.h"

enum { TB_FUTEX, TB_READ, TB_EPOLL, TB_SLEEP, TB_N };
static const char *const tb_names[TB_N] = { "futex", "read", "epoll_wait", "nanosleep" };
static const long tb_nr[TB_N][3] = {
	[TB_FUTEX] = { SYS_futex, SYS_futex, SYS_futex },
	[TB_READ] = { SYS_read, SYS_read, SYS_read },
	[TB_EPOLL] = { SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_pwait2 },
	/* A sleep interrupted by a stop (ptrace, SIGSTOP) goes on in restart_syscall. */
	[TB_SLEEP] = { SYS_nanosleep, SYS_clock_nanosleep, SYS_restart_syscall },
};
static volatile pid_t tb_tid[TB_N];
static volatile uint32_t tb_word;
static int tb_read_pipe[2], tb_epoll_pipe[2], tb_answer[2], tb_epfd;
static volatile int tb_probe_mode;
static long tb_work[TB_N], tb_probes[TB_N];
static int tb_errno[TB_N];	/* how the last wait ended: 0 or its errno */

static void tb_answer_one(int i, int err)
{
	char c = i;

	tb_errno[i] = err;
	if (tb_probe_mode)
		tb_probes[i]++;
	else
		tb_work[i]++;
	if (write(tb_answer[1], &c, 1) != 1)
		die("answer");
}

static void *tb_thread(void *arg)
{
	int i = (int)(long)arg;
	uint32_t seen = tb_word;
	struct epoll_event ev;
	char c;
	int err;

	tb_tid[i] = gettid_();
	for (;;) {
		errno = 0;
		switch (i) {
		case TB_FUTEX:
			while (tb_word == seen)
				futex(&tb_word, FUTEX_WAIT_PRIVATE, seen);
			seen = tb_word;
			break;
		case TB_READ:
			if (read(tb_read_pipe[0], &c, 1) != 1)
				continue;
			break;
		case TB_EPOLL:
			if (epoll_wait(tb_epfd, &ev, 1, -1) != 1 || read(tb_epoll_pipe[0], &c, 1) != 1)
				continue;
			break;
		case TB_SLEEP: {
			struct timespec ts = { 100000, 0 };

			if (nanosleep(&ts, NULL) == 0)
				continue;
			break;
		}
		}
		err = errno;
		tb_answer_one(i, err);
	}
	return NULL;
}

/* Every thread blocked in its own syscall; names the first that is not. */
static int tb_wait_all_blocked(void)
{
	for (int i = 0; i < TB_N; i++)
		if (wait_blocked(tb_tid[i], tb_nr[i], 3)) {
			differ("thread %d (%s) is not blocked in %s: /proc syscall %ld", tb_tid[i],
			       tb_names[i], tb_names[i], blocked_in(tb_tid[i]));
			return -1;
		}
	return 0;
}

/* Wakes every thread once; 0 when each answered within the timeout. */
static int tb_wake_all(void)
{
	int answered[TB_N] = { 0 }, n = 0;
	long deadline;
	char c = 'x';

	if (tb_wait_all_blocked())
		return -1;
	tb_word++;
	futex(&tb_word, FUTEX_WAKE_PRIVATE, 1);
	if (write(tb_read_pipe[1], &c, 1) != 1 || write(tb_epoll_pipe[1], &c, 1) != 1)
		die("wake");
	syscall(SYS_tgkill, getpid(), tb_tid[TB_SLEEP], SIGUSR1);
	deadline = now_ms() + ANSWER_TIMEOUT_MS;
	while (n < TB_N) {
		struct pollfd pfd = { .fd = tb_answer[0], .events = POLLIN };
		long left = deadline - now_ms();

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		if (read(tb_answer[0], &c, 1) == 1 && c >= 0 && c < TB_N && !answered[(int)c]++)
			n++;
	}
	for (int i = 0; i < TB_N; i++)
		if (!answered[i]) {
			differ("thread %d (%s) did not answer", tb_tid[i], tb_names[i]);
			return -1;
		}
	return tb_wait_all_blocked();
}

static void threads_blocked_setup(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: EINTR wakes */
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t t;

	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(tb_read_pipe) || pipe(tb_epoll_pipe) || pipe(tb_answer))
		die("pipe");
	tb_epfd = epoll_create1(0);
	if (tb_epfd < 0 || epoll_ctl(tb_epfd, EPOLL_CTL_ADD, tb_epoll_pipe[0], &ev))
		die("epoll");
	for (long i = 0; i < TB_N; i++) {
		if (pthread_create(&t, NULL, tb_thread, (void *)i))
			die("pthread_create");
		while (!tb_tid[i])
			sched_yield();
	}
	if (tb_wait_all_blocked())
		die(why);
}

static void threads_blocked_go(void)
{
	tb_probe_mode = 0;
	if (tb_wake_all())
		die(why);
	done("%d %d %d %d", tb_tid[0], tb_tid[1], tb_tid[2], tb_tid[3]);
}

static void threads_blocked_check(void)
{
	long before[TB_N];

	for (int i = 0; i < TB_N; i++)
		if (tb_work[i]) {
			differ("thread %d (%s) did %ld jobs since the checkpoint (its wait last ended "
			       "with errno %d)", tb_tid[i], tb_names[i], tb_work[i], tb_errno[i]);
			return;
		}
	memcpy(before, tb_probes, sizeof(before));
	tb_probe_mode = 1;
	if (tb_wake_all() == 0)
		for (int i = 0; i < TB_N; i++)
			if (tb_probes[i] != before[i] + 1)
				differ("thread %d (%s) answered %ld probes, want 1", tb_tid[i],
				       tb_names[i], tb_probes[i] - before[i]);
	tb_probe_mode = 0;
}

ZDTM_SCENARIO(threads_blocked, threads_blocked_setup, threads_blocked_go, threads_blocked_check);
