// SPDX-License-Identifier: GPL-2.0-only
/* thread_pool: workers created before the checkpoint, waiting on a condvar. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "zdtm.h"

#define POOL_N 4
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done_cv = PTHREAD_COND_INITIALIZER;
static unsigned int pool_gen;
static int pool_probe_mode, pool_waiting, pool_finished;
static long pool_work[POOL_N], pool_probes[POOL_N];
static pid_t pool_tid[POOL_N];

static void *pool_worker(void *arg)
{
	int i = (int)(long)arg;
	unsigned int seen;

	pthread_mutex_lock(&pool_mu);
	pool_tid[i] = gettid_();
	seen = pool_gen;
	for (;;) {
		pool_waiting++;
		pthread_cond_broadcast(&pool_done_cv);
		while (pool_gen == seen)
			pthread_cond_wait(&pool_cv, &pool_mu);
		pool_waiting--;
		seen = pool_gen;
		if (pool_probe_mode)
			pool_probes[i]++;
		else
			pool_work[i] = 0x5ec7e7000L + seen;
		pool_finished++;
		pthread_cond_broadcast(&pool_done_cv);
	}
	return NULL;
}

/* Waits under pool_mu until cond holds; 0, or -1 after the timeout. */
static int pool_wait(int (*cond)(void))
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ANSWER_TIMEOUT_MS / 1000;
	while (!cond())
		if (pthread_cond_timedwait(&pool_done_cv, &pool_mu, &ts))
			return cond() ? 0 : -1;
	return 0;
}

static int pool_all_waiting(void)
{
	return pool_waiting == POOL_N;
}

static int pool_all_finished(void)
{
	return pool_finished == POOL_N;
}

/* Hands one job to every worker; returns once all did it and wait again. */
static int pool_dispatch(int probe)
{
	int err;

	pthread_mutex_lock(&pool_mu);
	err = pool_wait(pool_all_waiting);
	if (!err) {
		pool_probe_mode = probe;
		pool_finished = 0;
		pool_gen++;
		pthread_cond_broadcast(&pool_cv);
		err = pool_wait(pool_all_finished) || pool_wait(pool_all_waiting);
	}
	pthread_mutex_unlock(&pool_mu);
	return err ? -1 : 0;
}

static void thread_pool_setup(void)
{
	pthread_t t;

	for (long i = 0; i < POOL_N; i++)
		if (pthread_create(&t, NULL, pool_worker, (void *)i))
			die("pthread_create");
	pthread_mutex_lock(&pool_mu);
	if (pool_wait(pool_all_waiting))
		die("workers never waited");
	pthread_mutex_unlock(&pool_mu);
	/* Waiting counted means inside pthread_cond_wait: now in the futex. */
	for (int i = 0; i < POOL_N; i++)
		if (wait_blocked(pool_tid[i], nr_futex, 1))
			die("worker never blocked");
}

static void thread_pool_go(void)
{
	if (pool_dispatch(0))
		die("workers did not answer");
	done("%lx", pool_work[0]);
}

static void thread_pool_check(void)
{
	long before[POOL_N];

	for (int i = 0; i < POOL_N; i++)
		if (pool_work[i]) {
			differ("worker %d holds the invocation's result %#lx", i, pool_work[i]);
			return;
		}
	memcpy(before, pool_probes, sizeof(before));
	if (pool_dispatch(1)) {
		differ("the pool does not answer after the rewind (%d of %d waiting, %d finished)",
		       pool_waiting, POOL_N, pool_finished);
		return;
	}
	for (int i = 0; i < POOL_N; i++)
		if (pool_probes[i] != before[i] + 1)
			differ("worker %d answered %ld probes, want 1", i, pool_probes[i] - before[i]);
}

ZDTM_SCENARIO(thread_pool, thread_pool_setup, thread_pool_go, thread_pool_check);
