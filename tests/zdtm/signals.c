// SPDX-License-Identifier: GPL-2.0-only
/*
 * sigaction, sigprocmask, pending_signal, thread_signal: dispositions, the
 * blocked mask, a signal left pending on the process and on one thread.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "zdtm.h"

struct ksigaction {
	unsigned long handler, flags, restorer;
	uint64_t mask;
};
#define NSIG_ 64
static struct ksigaction sa_want[NSIG_ + 1];

static void get_dispositions(struct ksigaction *sa)
{
	for (int s = 1; s <= NSIG_; s++) {
		memset(&sa[s], 0, sizeof(sa[s]));
		if (s != SIGKILL && s != SIGSTOP &&
		    syscall(SYS_rt_sigaction, s, NULL, &sa[s], sizeof(uint64_t)))
			die("rt_sigaction");
	}
}

static void sigaction_setup(void)
{
	get_dispositions(sa_want);
}

static void sigaction_go(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGRTMIN + 3, &sa, NULL);
	signal(SIGTERM, SIG_IGN);
	done("");
}

static void sigaction_check(void)
{
	struct ksigaction sa[NSIG_ + 1];

	get_dispositions(sa);
	for (int s = 1; s <= NSIG_; s++)
		if (sa[s].handler != sa_want[s].handler || sa[s].flags != sa_want[s].flags ||
		    sa[s].mask != sa_want[s].mask)
			differ("signal %d: handler %#lx flags %#lx mask %#lx, want %#lx %#lx %#lx", s,
			       sa[s].handler, sa[s].flags, (unsigned long)sa[s].mask,
			       sa_want[s].handler, sa_want[s].flags, (unsigned long)sa_want[s].mask);
}

static uint64_t sigmask_want;

static uint64_t sigmask_now(void)
{
	uint64_t m = 0;

	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, sizeof(m)))
		die("rt_sigprocmask");
	return m;
}

static void sigprocmask_setup(void)
{
	sigmask_want = sigmask_now();
}

static void sigprocmask_go(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGCHLD);
	sigaddset(&s, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	done("");
}

/*
 * sigprocmask_trap: SIGTRAP blocked at the checkpoint, unblocked by the
 * invocation. Once the rewind blocks it again, a syscall injected by
 * single-stepping (its SIGTRAP forced) would unblock it.
 */
static void trap_blocked_setup(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGTRAP);
	sigprocmask(SIG_BLOCK, &s, NULL);
	sigmask_want = sigmask_now();
}

static void trap_unblock_go(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGTRAP);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	done("");
}

static void sigprocmask_check(void)
{
	if (sigmask_now() != sigmask_want)
		differ("blocked signals %#llx, want %#llx", (unsigned long long)sigmask_now(),
		       (unsigned long long)sigmask_want);
}

/*
 * ---- pending_signal: a blocked signal raised and left pending ------------------------
 * After the rewind SIGUSR1 is unblocked again: delivered, its default action
 * would kill the process. The rewind must dequeue it.
 */
static uint64_t pending_now(void)
{
	sigset_t s;
	uint64_t m = 0;

	if (sigpending(&s))
		die("sigpending");
	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(&s, sig) == 1)
			m |= 1ULL << (sig - 1);
	return m;
}

static void pending_signal_go(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	kill(getpid(), SIGUSR1);	/* shared pending, as a timer's or another process's would be */
	done("");
}

static void pending_signal_check(void)
{
	sigprocmask_check();
	if (pending_now())
		differ("signals pending: %#llx", (unsigned long long)pending_now());
}

/*
 * ---- thread_signal: a signal queued on one thread (tgkill) that blocks it ---------------
 * Not the process's: rt_sigtimedwait in the main thread would not see it,
 * and a thread that unblocks SIGUSR2 later would run into it.
 */
static volatile uint32_t ts_word;
static volatile pid_t ts_tid;

static void *ts_main(void *arg)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	ts_tid = gettid_();
	for (;;)
		futex(&ts_word, FUTEX_WAIT_PRIVATE, 0);
	return arg;
}

static void thread_signal_setup(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, ts_main, NULL))
		die("pthread_create");
	while (!ts_tid)
		sched_yield();
	if (wait_blocked(ts_tid, nr_futex, 1))
		die("thread never blocked");
}

/* SigPnd of the thread: its own queue only. */
static uint64_t ts_pending(void)
{
	char path[64], buf[4096];
	const char *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", ts_tid);
	if (read_file(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nSigPnd:")))
		die("reading the thread's status");
	return strtoull(p + 8, NULL, 16);
}

static void thread_signal_go(void)
{
	if (syscall(SYS_tgkill, getpid(), ts_tid, SIGUSR2))
		die("tgkill");
	done("%#llx", (unsigned long long)ts_pending());
}

static void thread_signal_check(void)
{
	if (ts_pending())
		differ("thread %d: signals pending %#llx", ts_tid, (unsigned long long)ts_pending());
}

ZDTM_SCENARIO(sigaction, sigaction_setup, sigaction_go, sigaction_check);
ZDTM_SCENARIO(sigprocmask, sigprocmask_setup, sigprocmask_go, sigprocmask_check);
ZDTM_SCENARIO(sigprocmask_trap, trap_blocked_setup, trap_unblock_go, sigprocmask_check);
ZDTM_SCENARIO(pending_signal, sigprocmask_setup, pending_signal_go, pending_signal_check);
ZDTM_SCENARIO(thread_signal, thread_signal_setup, thread_signal_go, thread_signal_check);
