// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process whose thread pools were just joined when it is checkpointed or
 * rewound: pthread_join returns once the kernel clears the thread's tid, a
 * moment before the thread is gone from /proc/PID/task. Usage: pooljoin
 * [THREADS]. Before "ready" and in every invocation it starts THREADS
 * threads and joins them; an invocation also bumps a counter and answers
 * "done N" (N = 1 after every rewind). "check" answers "pass" while the
 * counter is 0 (see handshake.h).
 */
#include <pthread.h>

#include "handshake.h"

#define DEFAULT_THREADS	8
#define MAX_THREADS	64

static volatile long counter;
static volatile long work[MAX_THREADS];

static void *worker(void *arg)
{
	long i = (long)arg;

	work[i]++;
	return NULL;
}

static void pool(int n)
{
	pthread_t t[MAX_THREADS];

	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i)) {
			say("error pthread_create");
			exit(2);
		}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : DEFAULT_THREADS;
	char line[16];

	if (n < 1 || n > MAX_THREADS) {
		say("error threads 1..%d", MAX_THREADS);
		return 2;
	}
	pool(n);
	say("ready");
	for (;;) {
		switch (next_cmd(0, line, sizeof(line))) {
		case HS_GO:
			pool(n);
			counter++;
			say("done %ld", counter);
			break;
		case HS_CHECK:
			if (counter)
				say("fail counter %ld", counter);
			else
				say("pass");
			break;
		case HS_EXIT:
		case HS_EOF:
			return 0;
		default:
			say("error unknown command '%s'", line);
			return 2;
		}
	}
}
