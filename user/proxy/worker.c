// SPDX-License-Identifier: GPL-2.0-only
/*
 * The request queue. HTTP threads (one per connection) block in
 * worker_submit() until the worker has answered their request; the job
 * lives on the submitter's stack, so nothing is allocated per request.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

struct job {
	enum job_kind kind;
	json_object *body;
	struct reply *reply;
	bool done;
	struct job *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a job queued, a job done, stopping */
	struct job *head, *tail;
	bool started, stopping;
	pthread_t thread;
	int done[2];			/* the worker closes done[1] as it ends */
	worker_serve_fn serve;
	worker_after_fn after;
} Q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .done = { -1, -1 } };

static void *worker(void *arg)
{
	for (;;) {
		struct job *job;
		bool stopping;

		pthread_mutex_lock(&Q.lock);
		while (!Q.head && !Q.stopping)
			pthread_cond_wait(&Q.cond, &Q.lock);
		job = Q.head;
		if (job) {
			Q.head = job->next;
			if (!Q.head)
				Q.tail = NULL;
		}
		stopping = Q.stopping;
		pthread_mutex_unlock(&Q.lock);
		if (!job)
			break;
		if (stopping)
			reply_error(job->reply, 503, "The proxy is shutting down.");
		else
			Q.serve(job->kind, job->body, job->reply);
		pthread_mutex_lock(&Q.lock);
		job->done = true;
		pthread_cond_broadcast(&Q.cond);
		pthread_mutex_unlock(&Q.lock);
		/* The submitter sends the answer while this runs. */
		Q.after();
	}
	close(Q.done[1]);
	return NULL;
}

int worker_start(worker_serve_fn serve, worker_after_fn after, char *err, size_t errlen)
{
	int ret;

	Q.serve = serve;
	Q.after = after;
	if (pipe2(Q.done, O_CLOEXEC)) {
		ret = errno;
		snprintf(err, errlen, "cannot start the worker thread: pipe: %s", strerror(ret));
		return -ret;
	}
	ret = pthread_create(&Q.thread, NULL, worker, NULL);
	if (ret) {
		snprintf(err, errlen, "cannot start the worker thread: %s", strerror(ret));
		close(Q.done[0]);
		close(Q.done[1]);
		return -ret;
	}
	pthread_mutex_lock(&Q.lock);
	Q.started = true;
	pthread_mutex_unlock(&Q.lock);
	return 0;
}

void worker_submit(enum job_kind kind, json_object *body, struct reply *r)
{
	struct job job = { .kind = kind, .body = body, .reply = r };

	pthread_mutex_lock(&Q.lock);
	if (Q.stopping || !Q.started) {
		pthread_mutex_unlock(&Q.lock);
		reply_error(r, 503, "The proxy is shutting down.");
		return;
	}
	if (Q.tail)
		Q.tail->next = &job;
	else
		Q.head = &job;
	Q.tail = &job;
	pthread_cond_broadcast(&Q.cond);
	while (!job.done)
		pthread_cond_wait(&Q.cond, &Q.lock);
	pthread_mutex_unlock(&Q.lock);
}

bool worker_stopping(void)
{
	bool s;

	pthread_mutex_lock(&Q.lock);
	s = Q.stopping;
	pthread_mutex_unlock(&Q.lock);
	return s;
}

void worker_stop(void)
{
	pthread_mutex_lock(&Q.lock);
	Q.stopping = true;
	pthread_cond_broadcast(&Q.cond);
	pthread_mutex_unlock(&Q.lock);
}

bool worker_join(bool (*give_up)(void))
{
	struct pollfd pfd = { .fd = Q.done[0], .events = POLLIN };
	bool started;

	pthread_mutex_lock(&Q.lock);
	started = Q.started;
	pthread_mutex_unlock(&Q.lock);
	if (!started)
		return true;
	/* Not pthread_join: a signal does not interrupt it. */
	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		if (give_up())
			return false;
	pthread_join(Q.thread, NULL);
	close(Q.done[0]);
	pthread_mutex_lock(&Q.lock);
	Q.started = false;
	pthread_mutex_unlock(&Q.lock);
	return true;
}
