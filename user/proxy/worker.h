/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One thread serves the requests, one at a time, in arrival order: the
 * function handles one activation at a time and requests that arrive
 * meanwhile wait. After each answer a hook runs (the rewind) before the
 * next request is taken.
 */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "reply.h"

enum job_kind {
	JOB_INIT,
	JOB_RUN,
};

/* Answers one request (on the worker thread). */
typedef void (*worker_serve_fn)(enum job_kind kind, json_object *body, struct reply *r);
/* Runs after the answer was handed back, before the next request. */
typedef void (*worker_after_fn)(void);

int worker_start(worker_serve_fn serve, worker_after_fn after, char *err, size_t errlen);

/* Queue a request and wait for its answer (503 once stopping). */
void worker_submit(enum job_kind kind, json_object *body, struct reply *r);

/* Whether worker_stop() was called (the after hook skips its work then). */
bool worker_stopping(void);

/* Take no more requests: those queued get 503. Then worker_join(). */
void worker_stop(void);
/*
 * Wait for the worker to end (after worker_stop). false if a signal
 * interrupted the wait and give_up() said so: the worker still runs.
 */
bool worker_join(bool (*give_up)(void));

#endif /* RP_WORKER_H */
