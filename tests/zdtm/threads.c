// SPDX-License-Identifier: GPL-2.0-only
/* thread_running, thread_blocked: threads left behind by the invocation. */
#include <pthread.h>
#include <sched.h>
#include <linux/futex.h>

#include "zdtm.h"

static volatile long spin_count;
static volatile pid_t new_tid;
static volatile uint32_t block_word;

static void *spinner(void *arg)
{
	new_tid = gettid_();
	for (;;)
		spin_count++;
	return arg;
}

static void *blocker(void *arg)
{
	new_tid = gettid_();
	for (;;)
		futex(&block_word, FUTEX_WAIT_PRIVATE, 0);
	return arg;
}

static void start_thread(void *(*fn)(void *))
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, NULL))
		die("pthread_create");
	pthread_detach(t);
	while (!new_tid)	/* it publishes its tid first */
		sched_yield();
}

static void thread_running_go(void)
{
	start_thread(spinner);
	while (!spin_count)
		sched_yield();
	done("%d", new_tid);
}

static void thread_blocked_go(void)
{
	start_thread(blocker);
	if (wait_blocked(new_tid, nr_futex, 1))
		die("thread never blocked");
	done("%d", new_tid);
}

static void new_thread_check(void)
{
	if (new_tid)
		differ("the invocation's thread %d is remembered", new_tid);
}

ZDTM_SCENARIO(thread_running, NULL, thread_running_go, new_thread_check);
ZDTM_SCENARIO(thread_blocked, NULL, thread_blocked_go, new_thread_check);
