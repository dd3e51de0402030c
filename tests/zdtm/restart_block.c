// SPDX-License-Identifier: GPL-2.0-only
/*
 * restart_moved: a thread asleep at the checkpoint in a futex wait with a
 * timeout (restarted, after a stop, through the kernel's per-thread restart
 * block) on word A, asleep at the rewind in a timed wait on word B through
 * the same syscall instruction (libc's syscall(), as GLib waits). The
 * restart block then describes the wait on B; restarting through it would
 * leave the thread asleep on B, deaf to the wake of A that its restored
 * memory waits for. After the rewind, a wake of A must get its answer (a
 * probe: the thread answers it and sleeps on A again).
 *
 * restart_idle: a thread that sleeps through every invocation in one long
 * nanosleep must sleep on after each rewind. Its sleep was restarted after
 * the checkpoint's stop, so at the rewind it shows restart_syscall where the
 * checkpoint saw nanosleep: still its own call, not one to end with -EINTR
 * (a sleep cut short by every rewind).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "zdtm.h"

static volatile uint32_t rm_word_a, rm_word_b;
static volatile pid_t rm_tid;
static volatile long rm_answers;
static volatile int rm_probe;
static int rm_answer[2];

/* Every wait of the thread goes through this one syscall instruction. */
static long timed_wait(volatile uint32_t *word, uint32_t val)
{
	struct timespec ts = { 100000, 0 };

	return syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void *rm_thread(void *arg)
{
	char c = 'a';

	(void)arg;
	rm_tid = gettid_();
	for (;;) {
		uint32_t seen = rm_word_a;

		while (rm_word_a == seen)
			timed_wait(&rm_word_a, seen);
		if (rm_probe) {
			/* A check's probe: answered, back to the wait on A. */
			if (write(rm_answer[1], &c, 1) != 1)
				die("answer");
			continue;
		}
		rm_answers++;
		if (write(rm_answer[1], &c, 1) != 1)
			die("answer");
		/* The invocation's wake: asleep on B (which never changes) for good. */
		for (;;)
			timed_wait(&rm_word_b, 0);
	}
	return NULL;
}

/*
 * The word the thread's futex wait sleeps on (/proc's first argument), 0 if
 * none. A wait restarted through the restart block after a stop shows
 * restart_syscall, with the futex call's registers still in place.
 */
static uint64_t waits_on(void)
{
	char path[64], buf[256];
	unsigned long long nr, a0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", rm_tid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%llu %llx", &nr, &a0) != 2 ||
	    (nr != SYS_futex && nr != SYS_restart_syscall))
		return 0;
	return a0;
}

static int wait_asleep_on(volatile uint32_t *word)
{
	long deadline = now_ms() + ANSWER_TIMEOUT_MS;

	while (now_ms() < deadline) {
		if (waits_on() == (uint64_t)(uintptr_t)word)
			return 0;
		sched_yield();
	}
	differ("thread %d is not asleep on %s", rm_tid, word == &rm_word_a ? "word A" : "word B");
	return -1;
}

/* Wakes A: 0 when the thread answered within the timeout. */
static int wake_a(void)
{
	struct pollfd pfd = { .fd = rm_answer[0], .events = POLLIN };
	char c;

	rm_word_a++;
	futex(&rm_word_a, FUTEX_WAKE_PRIVATE, 1);
	if (poll(&pfd, 1, ANSWER_TIMEOUT_MS) != 1 || read(rm_answer[0], &c, 1) != 1) {
		differ("thread %d did not answer the wake of word A (asleep on %#llx; A %p, B %p)",
		       rm_tid, (unsigned long long)waits_on(), (void *)&rm_word_a,
		       (void *)&rm_word_b);
		return -1;
	}
	return 0;
}

static void restart_moved_setup(void)
{
	pthread_t t;

	if (pipe(rm_answer))
		die("pipe");
	if (pthread_create(&t, NULL, rm_thread, NULL))
		die("pthread_create");
	while (!rm_tid)
		sched_yield();
	if (wait_asleep_on(&rm_word_a))
		die(why);
}

static void restart_moved_go(void)
{
	/*
	 * Asleep on A first: after a check's probe the thread may not have read
	 * A again yet, and would then sleep on the incremented value, deaf to
	 * this wake (seen under load, with no rewind involved).
	 */
	if (wait_asleep_on(&rm_word_a) || wake_a() || wait_asleep_on(&rm_word_b))
		die(why);
	done("%d", rm_tid);
}

static void restart_moved_check(void)
{
	if (rm_answers) {
		differ("thread %d answered %ld wake(s) since the checkpoint", rm_tid, rm_answers);
		return;
	}
	rm_probe = 1;
	wake_a();
	rm_probe = 0;
}

ZDTM_SCENARIO(restart_moved, restart_moved_setup, restart_moved_go, restart_moved_check);

static volatile pid_t ri_tid;
static volatile long ri_returns, ri_invocations;
static const long ri_asleep[] = { SYS_nanosleep, SYS_restart_syscall };

static void *ri_thread(void *arg)
{
	struct timespec ts = { 100000, 0 };

	(void)arg;
	ri_tid = gettid_();
	for (;;) {
		syscall(SYS_nanosleep, &ts, NULL);
		ri_returns++;
	}
	return NULL;
}

static void restart_idle_setup(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, ri_thread, NULL))
		die("pthread_create");
	while (!ri_tid)
		sched_yield();
	if (wait_blocked(ri_tid, ri_asleep, 2))
		die("the sleeper never slept");
}

static void restart_idle_go(void)
{
	ri_invocations++;
	done("%d", ri_tid);
}

/*
 * Asleep again (a thread released by a rewind shows "running" until it
 * sleeps: a return from its sleep has counted by then), and never woke.
 */
static void restart_idle_check(void)
{
	if (ri_invocations) {
		differ("%ld invocation(s) since the checkpoint", ri_invocations);
		return;
	}
	if (wait_blocked(ri_tid, ri_asleep, 2)) {
		differ("thread %d is not asleep (in %ld)", ri_tid, blocked_in(ri_tid));
		return;
	}
	if (ri_returns)
		differ("thread %d woke %ld time(s) from a sleep nothing ended", ri_tid, ri_returns);
}

ZDTM_SCENARIO(restart_idle, restart_idle_setup, restart_idle_go, restart_idle_check);
