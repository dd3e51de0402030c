// SPDX-License-Identifier: GPL-2.0-only
/*
 * sleepers: idle worker threads, which a rewind leaves running when they
 * slept through the invocation (user/lib/rewind/sleepers.h), and which it
 * stops and restores when they did not.
 *
 * Three workers wait: two in futex on words of their own, one in pause
 * (woken by SIGUSR1, which the other threads block). Woken, a worker does a job: counts it, writes a secret of its own
 * into memory and into its vector registers, answers on a pipe, and waits
 * again in the same call.
 *   sleepers         the invocation writes a region; the workers sleep through
 *   sleeper_woken    the invocation also wakes the first worker
 *   sleepers_big     sleepers, with 1024 pages more written: a copy that
 *                    rewindd makes beside the restorer (restore.c,
 *                    copy_beside), the workers left asleep meanwhile
 *   sleeper_requeued the invocation moves the second worker's wait to
 *                    another word (FUTEX_CMP_REQUEUE), which wakes nothing;
 *                    the check then wakes it on its own word: rewound, it
 *                    waits there again and answers
 *   sleeper_late     (a helper) the invocation writes the region; the test
 *                    wakes the third worker during the rewind (SIGUSR1 to
 *                    the process) and reads its answer (ack=FD of "ready",
 *                    opened from /proc)
 *   sleeper_unmaps   (a helper) sleepers_big, and the third worker's job
 *                    also unmaps the big region (big=ADDR in "ready"): woken
 *                    during the rewind, before its copy, it makes the copy
 *                    fail
 * The check: the region, every worker's count and secret are the
 * checkpoint's, and every worker waits in its call again. It wakes none.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtm.h"

#define SL_N		3	/* workers: futex, futex, pause */
#define SL_PAUSER	2
#define SL_SECRET	4096

static volatile pid_t sl_tid[SL_N];
static volatile uint32_t sl_word[SL_N], sl_spare;
static long sl_jobs[SL_N];
static char sl_secret[SL_N][SL_SECRET];
static int sl_ack[2];
static char *sl_region;
static const long sl_nr[SL_N][1] = { { SYS_futex }, { SYS_futex }, { SYS_pause } };
#define SL_BIG_PAGES	1024
static char *sl_big;
static int sl_unmaps;	/* the third worker's job unmaps sl_big */

/* A job: the worker's secret in memory and in xmm registers (what it leaves behind). */
static void sl_job(int i)
{
	volatile double x = (double)(i + 1) * 1.6180339887;
	char c = (char)i;

	sl_jobs[i]++;
	fill(sl_secret[i], SL_SECRET, 100 + i);
	x = x * x + (double)sl_jobs[i];
	(void)x;
	if (i == SL_PAUSER && sl_unmaps && munmap(sl_big, SL_BIG_PAGES * PAGE))
		die("munmap");
	if (write(sl_ack[1], &c, 1) != 1)
		die("ack");
}

static void *sl_worker(void *arg)
{
	int i = (int)(long)arg;
	uint32_t seen = sl_word[i];
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (i == SL_PAUSER)
		pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);

	sl_tid[i] = gettid_();
	for (;;) {
		if (i == SL_PAUSER) {
			pause();	/* returns once SIGUSR1's handler ran */
		} else {
			while (sl_word[i] == seen)
				futex(&sl_word[i], FUTEX_WAIT_PRIVATE, seen);
			seen = sl_word[i];
		}
		sl_job(i);
	}
	return NULL;
}

static int sl_all_waiting(void)
{
	for (int i = 0; i < SL_N; i++)
		if (wait_blocked(sl_tid[i], sl_nr[i], 1)) {
			differ("worker %d (tid %d) does not wait in syscall %ld: /proc says %ld", i,
			       sl_tid[i], sl_nr[i][0], blocked_in(sl_tid[i]));
			return -1;
		}
	return 0;
}

static void sl_setup(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t usr1;
	pthread_t t;

	/* Only the third worker takes SIGUSR1: the threads inherit the mask. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigaction(SIGUSR1, &sa, NULL) || pthread_sigmask(SIG_BLOCK, &usr1, NULL))
		die("SIGUSR1");
	if (pipe(sl_ack))
		die("pipe");
	sl_region = map_anon(16 * PAGE);
	fill(sl_region, 16 * PAGE, 1);
	for (int i = 0; i < SL_N; i++)
		fill(sl_secret[i], SL_SECRET, 1);
	for (long i = 0; i < SL_N; i++) {
		if (pthread_create(&t, NULL, sl_worker, (void *)i))
			die("pthread_create");
		while (!sl_tid[i])
			sched_yield();
	}
	if (sl_all_waiting())
		die(why);
	snprintf(ready_info, sizeof(ready_info), "ack=%d", sl_ack[0]);
}

static void sl_write_region(void)
{
	fill(sl_region, 16 * PAGE, 2);
}

static void sleepers_go(void)
{
	sl_write_region();
	done("%d %d %d", sl_tid[0], sl_tid[1], sl_tid[2]);
}

static void sleeper_woken_go(void)
{
	struct pollfd pfd = { .fd = sl_ack[0], .events = POLLIN };
	char c;

	sl_write_region();
	sl_word[0]++;
	futex(&sl_word[0], FUTEX_WAKE_PRIVATE, 1);
	if (poll(&pfd, 1, ANSWER_TIMEOUT_MS) != 1 || read(sl_ack[0], &c, 1) != 1 || c != 0)
		die("worker 0 did not answer");
	if (sl_all_waiting())
		die(why);
	done("%d", sl_tid[0]);
}

static void sleeper_requeued_go(void)
{
	sl_write_region();
	if (syscall(SYS_futex, &sl_word[1], FUTEX_CMP_REQUEUE_PRIVATE, 0, 1, &sl_spare,
		    sl_word[1]) != 1)
		die("FUTEX_CMP_REQUEUE moved no waiter");
	done("%d", sl_tid[1]);
}

/* Wakes worker i on its own word; whether it answered. */
static int sl_probe(int i)
{
	struct pollfd pfd = { .fd = sl_ack[0], .events = POLLIN };
	char c;

	sl_word[i]++;
	futex(&sl_word[i], FUTEX_WAKE_PRIVATE, 1);
	return poll(&pfd, 1, ANSWER_TIMEOUT_MS) == 1 && read(sl_ack[0], &c, 1) == 1 && c == i;
}

static void sl_check(void)
{
	if (sl_all_waiting())
		return;
	check_fill("region", sl_region, 16 * PAGE, 1);
	for (int i = 0; i < SL_N && !failed; i++) {
		char what[32];

		if (sl_jobs[i])
			differ("worker %d did %ld job(s) since the checkpoint", i, sl_jobs[i]);
		snprintf(what, sizeof(what), "worker %d's secret", i);
		check_fill(what, sl_secret[i], SL_SECRET, 1);
	}
}

/* The common check, then worker 1 woken on its word (it does a job: the next rewind undoes it). */
static void sl_requeued_check(void)
{
	sl_check();
	if (failed)
		return;
	if (!sl_probe(1))
		differ("worker 1 did not answer a wake on its own word (still queued on another?)");
	else
		sl_all_waiting();
}

static void sl_big_setup(void)
{
	sl_setup();
	sl_big = map_anon(SL_BIG_PAGES * PAGE);
	fill(sl_big, SL_BIG_PAGES * PAGE, 1);
}

static void sleepers_big_go(void)
{
	fill(sl_big, SL_BIG_PAGES * PAGE, 3);
	sleepers_go();
}

static void sl_big_check(void)
{
	sl_check();
	/* msync fails with ENOMEM on an unmapped range: read it only if mapped. */
	if (!failed && msync(sl_big, SL_BIG_PAGES * PAGE, MS_ASYNC))
		differ("the big region at %p is not mapped (%s)", (void *)sl_big, strerror(errno));
	if (!failed)
		check_fill("big region", sl_big, SL_BIG_PAGES * PAGE, 1);
}

static void sl_unmaps_setup(void)
{
	sl_big_setup();
	sl_unmaps = 1;
	snprintf(ready_info, sizeof(ready_info), "ack=%d big=%p", sl_ack[0], (void *)sl_big);
}

ZDTM_SCENARIO(sleepers, sl_setup, sleepers_go, sl_check);
ZDTM_SCENARIO(sleeper_requeued, sl_setup, sleeper_requeued_go, sl_requeued_check);
ZDTM_SCENARIO(sleeper_woken, sl_setup, sleeper_woken_go, sl_check);
ZDTM_SCENARIO(sleepers_big, sl_big_setup, sleepers_big_go, sl_big_check);
ZDTM_HELPER(sleeper_late, sl_setup, sleepers_go, sl_check);
ZDTM_HELPER(sleeper_unmaps, sl_unmaps_setup, sleepers_big_go, sl_big_check);
