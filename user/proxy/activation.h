/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /init and /run behind the HTTP layer: one worker thread owns the function
 * and serves one request at a time; requests that arrive meanwhile wait.
 * After answering a /run it makes the function fit for the next one (rewind,
 * restart) before it takes the next request.
 */
#ifndef RP_ACTIVATION_H
#define RP_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "proxy.h"
#include "reply.h"

/* The function's work dir and cgroup, and the worker thread. 0 or -errno with err. */
int activation_start(const struct proxy_config *cfg, char *err, size_t errlen);

/*
 * Stop: kill the function (a running activation ends with an error), answer
 * waiting requests 503, join the worker, detach from rewindd, remove the
 * cgroup and the function's dir. 0; -errno if something is left; -EINTR if
 * a second stop (action_hurry) came while the worker was still busy: the
 * function is killed and its cgroup and dir removed, but the worker runs
 * on, so the caller must _exit() without stopping the HTTP server.
 */
int activation_stop(void);

/* Whether /init succeeded. */
bool activation_initialized(void);
/* One line to the function's log (its stderr), from any thread: what the action's owner sees. */
void activation_log(const char *line);

/* Serve one request (body already parsed, a JSON object); blocks until answered. */
void activation_init(json_object *body, struct reply *r);
void activation_run(json_object *body, struct reply *r);

#endif /* RP_ACTIVATION_H */
