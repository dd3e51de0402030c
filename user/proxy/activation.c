// SPDX-License-Identifier: GPL-2.0-only
/*
 * The action interface's semantics (OpenWhisk docs/actions-new.md, "Action
 * interface"), on top of an actionloop process: /init keeps the code and
 * starts the function; /run sends {"value":..., context fields as strings}
 * as one line and answers with the line the function returns. Status codes
 * and messages are the reference runtimes' (see the comment at each).
 *
 * Requests are served one at a time on the worker thread. A /run is
 * answered as soon as the function answered; then, before the next request,
 * the function is made fit for it: rewound, or restarted from scratch when
 * it cannot be (a failed rewind, a crash, a timeout, restart mode).
 */
#define LOG_PREFIX "rewind-proxy: "

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "activation.h"
#include "clock.h"
#include "function.h"
#include "jsonin.h"
#include "log.h"
#include "runtime.h"
#include "worker.h"
#include "zipcode.h"

/* OpenWhisk's end-of-activation marker in the logs (docs/actions-new.md "Logging"). */
#define SENTINEL "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
#define LAUNCHER_FAILURE '!'	/* starts a launcher's failure line (launcher_failure) */

enum post {
	POST_NONE,
	POST_AFTER_RUN,		/* the isolation decides: ready, or restart */
	POST_RESTART,		/* the process is gone or unusable */
};

/* The worker thread owns all of it but initialized (read by HTTP threads). */
static struct {
	const struct proxy_config *cfg;
	struct function fn;
	atomic_bool initialized;
	enum post post;
	char why[2048];			/* why a restart is needed */
} A;

/* ---- /init -------------------------------------------------------------- */

void activation_log(const char *line)
{
	function_log(&A.fn, "%s", line);
}

/* The function's output and ours are framed per activation, on each stream. */
static void end_of_activation_logs(void)
{
	if (write(A.cfg->out_fd, SENTINEL, sizeof(SENTINEL) - 1) < 0 ||
	    write(A.cfg->err_fd, SENTINEL, sizeof(SENTINEL) - 1) < 0)
		pr_debug("cannot write the log sentinel\n");
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o && json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, key, &v);
	return v;
}

/* A context field's value as the launcher gets it: a string. */
static const char *as_string(json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void handle_init(json_object *body, struct reply *r)
{
	json_object *value = field(body, "value"), *code = field(value, "code");
	json_object *main_o = field(value, "main"), *name = field(value, "name");
	json_object *env = field(value, "env");
	const char *main_name = "main";
	bool binary = json_object_get_boolean(field(value, "binary"));
	char err[2048];
	int ret;

	if (atomic_load(&A.initialized)) {
		/* openwhisk-runtime-go initHandler.go, Node's service.js: 403, in the action's log. */
		activation_log("Cannot initialize the action more than once.");
		reply_error(r, 403, "Cannot initialize the action more than once.");
		return;
	}
	if (main_o && json_object_is_type(main_o, json_type_string) && json_object_get_string_len(main_o))
		main_name = json_object_get_string(main_o);
	if (!code || !json_object_is_type(code, json_type_string) || !json_object_get_string_len(code) ||
	    (main_o && !json_object_is_type(main_o, json_type_string))) {
		/* Both reference runtimes: 403 when there is nothing to run. */
		reply_error(r, 403, "Missing main/no code to execute.");
		return;
	}
	if (!runtime_valid_main(A.cfg->runtime, main_name, binary)) {
		snprintf(err, sizeof(err), "main must name a function, got '%s'.", main_name);
		function_init_failed(&A.fn, -EINVAL, err, sizeof(err));
		reply_error(r, 502, "%s", err);
		end_of_activation_logs();
		return;
	}
	function_clear_code(&A.fn);
	if (function_set_env(&A.fn, env)) {
		reply_error(r, 500, "out of memory");
		function_clear_code(&A.fn);
		return;
	}
	A.fn.code.binary = binary;
	A.fn.code.main_name = strdup(main_name);
	if (binary) {
		ret = base64_decode(json_object_get_string(code), json_object_get_string_len(code),
				    &A.fn.code.data, &A.fn.code.len, err, sizeof(err));
		if (ret) {
			/* openwhisk-runtime-go initHandler.go */
			reply_error(r, 400, "cannot decode the request: %s", err);
			function_clear_code(&A.fn);
			return;
		}
	} else {
		A.fn.code.len = json_object_get_string_len(code);
		A.fn.code.data = malloc(A.fn.code.len + 1);
		if (A.fn.code.data)
			memcpy(A.fn.code.data, json_object_get_string(code), A.fn.code.len);
	}
	if (!A.fn.code.data || !A.fn.code.main_name) {
		reply_error(r, 500, "out of memory");
		function_clear_code(&A.fn);
		return;
	}
	pr_info("init: action %s, main %s, %s code of %zu bytes\n",
		json_object_is_type(name, json_type_string) ? json_object_get_string(name) : "(unnamed)",
		main_name, binary ? "zip" : "source", A.fn.code.len);
	ret = function_start(&A.fn, err, sizeof(err));
	if (ret) {
		pr_err("init failed: %s\n", err);
		if (A.fn.code_failed)
			function_init_failed(&A.fn, ret, err, sizeof(err));
		/* openwhisk-runtime-go: 502 for a code that cannot be started, its log ended. */
		reply_error(r, 502, "%s", err);
		function_clear_code(&A.fn);
		end_of_activation_logs();
		return;
	}
	atomic_store(&A.initialized, true);
	/* openwhisk-runtime-go sendOK */
	reply_text(r, 200, "{\"ok\":true}", 11);
}

/* ---- /run --------------------------------------------------------------- */

static bool key_ok(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_'))
			return false;
	return true;
}

/*
 * {"value": ..., every other field as a string}: the launcher exports those
 * as __OW_<FIELD> for this activation only. One line: json-c escapes
 * newlines inside strings.
 */
static char *request_line(json_object *body, json_object *value, size_t *len)
{
	json_object *o = json_object_new_object();
	char *line = NULL;
	int r = 0;

	if (!o)
		return NULL;
	r |= json_object_object_add(o, "value", json_object_get(value));
	json_object_object_foreach(body, k, v) {
		if (!strcmp(k, "value") || !v || json_object_is_type(v, json_type_null))
			continue;
		if (!key_ok(k)) {
			pr_warn("run: context field '%s' is not a valid variable name; left out\n", k);
			continue;
		}
		r |= json_object_object_add(o, k, json_object_new_string(as_string(v)));
	}
	if (!r) {
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE);

		*len = strlen(s) + 1;
		line = malloc(*len + 1);
		if (line) {
			memcpy(line, s, *len - 1);
			line[*len - 1] = '\n';
			line[*len] = '\0';
		}
	}
	json_object_put(o);
	return line;
}

/* JavaScript's typeof, as Node's runtime names the wrong argument. */
static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		return "number";
	case json_type_array:
		return "array";
	default:
		return json_type_to_name(json_object_get_type(v));
	}
}

/*
 * A launcher's answer that is no result: '!' and {"status": N, "error": ...}
 * (no JSON text starts with '!'). Node's runtime answers an exception thrown
 * by main 502 "An error has occurred: ...".
 */
static void launcher_failure(const char *text, struct reply *r)
{
	json_object *o = json_tokener_parse(text), *st = field(o, "status"), *e = field(o, "error");
	int status = st ? json_object_get_int(st) : 0;

	if (status < 400 || status > 599)
		status = 502;
	reply_error(r, status, "%s", e && json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "The action failed.");
	json_object_put(o);
}

static void handle_run(json_object *body, struct reply *r)
{
	json_object *value = field(body, "value"), *empty = NULL;
	enum action_outcome out;
	char err[2048], *req, *line = NULL;
	uint64_t t0 = rw_now_ns();
	unsigned limit;
	size_t reqlen, linelen;

	A.post = POST_NONE;
	if (!atomic_load(&A.initialized)) {
		/* Node's service.js; openwhisk-runtime-go says 500 "no action defined yet". */
		pr_err("Internal system error: System not initialized.\n");
		reply_error(r, 403, "System not initialized.");
		return;
	}
	if (!value || json_object_is_type(value, json_type_null)) {
		value = empty = json_object_new_object();
	} else if (A.cfg->runtime == RUNTIME_NODE && !json_object_is_type(value, json_type_object) &&
		   !json_object_is_type(value, json_type_array)) {
		/* Node's service.js (typeof 'object': arrays pass); actionloop takes any value */
		reply_error(r, 403, "Internal system error: the argument must be a dictionary but has type '%s'.",
			    type_name(value));
		return;
	}
	if (A.fn.running && iso_lost(&A.fn.iso, err, sizeof(err))) {
		pr_warn("%s; restarting the function\n", err);
		function_stop(&A.fn);
	}
	if (!A.fn.running) {
		if (function_start(&A.fn, err, sizeof(err))) {
			pr_err("cannot restart the function: %s\n", err);
			reply_error(r, 502, "%s", err);
			json_object_put(empty);
			return;
		}
	}
	req = request_line(body, value, &reqlen);
	json_object_put(empty);
	if (!req) {
		reply_error(r, 500, "out of memory");
		return;
	}
	/*
	 * The invoker owns the activation's time limit: it passes "deadline"
	 * on (as __OW_DEADLINE, which the function may read) and ends an
	 * activation that outlives it itself, as the actionloop proxy leaves
	 * it to. --timeout is only our own safety net.
	 */
	limit = A.cfg->timeout_ms;
	out = action_exchange(&A.fn.act, req, reqlen, deadline_in(limit), A.cfg->max_body, &line, &linelen);
	free(req);
	switch (out) {
	case ACTION_LINE:
		if (linelen && line[0] == LAUNCHER_FAILURE) {
			launcher_failure(line + 1, r);
		} else if (jsonin_is_result(line, linelen)) {
			reply_text(r, 200, line, linelen);
		} else {
			pr_warn("the action returned %.*s%s, not a dictionary\n", (int)(linelen > 200 ? 200 : linelen),
				line, linelen > 200 ? "..." : "");
			/* openwhisk-runtime-go runHandler.go; Node's service.js */
			reply_error(r, 502, A.cfg->runtime == RUNTIME_PYTHON ?
				    "The action did not return a dictionary or array." :
				    "The action did not return a dictionary.");
		}
		free(line);
		if (A.fn.act.exited) {
			A.post = POST_RESTART;
			snprintf(A.why, sizeof(A.why), "function pid %d exited after it answered", A.fn.act.pid);
		} else {
			A.post = POST_AFTER_RUN;
		}
		break;
	case ACTION_EXITED: {
		char st[96];
		pid_t pid = A.fn.act.pid;

		function_stop(&A.fn);
		action_describe_status(&A.fn.act, st, sizeof(st));
		snprintf(A.why, sizeof(A.why), "function pid %d ended during an activation (%s)", pid, st);
		/* Killed by our stop, the action is not to blame: OpenWhisk's words below. */
		if (A.cfg->runtime == RUNTIME_PYTHON && !worker_stopping())
			/* openwhisk-runtime-go runHandler.go */
			reply_error(r, 400, "command exited");
		else
			/* OpenWhisk Messages.abnormalRun: node's server is gone with it */
			reply_error(r, 502, "The action did not produce a valid response and exited unexpectedly.");
		A.post = POST_RESTART;
		break;
	}
	case ACTION_TIMEOUT:
		snprintf(A.why, sizeof(A.why), "function pid %d exceeded its time limit of %u ms; killed",
			 A.fn.act.pid, limit);
		function_stop(&A.fn);
		/* OpenWhisk Messages.timedoutActivation(timeout, init = false) */
		reply_error(r, 502, "The action exceeded its time limits of %u milliseconds.", limit);
		A.post = POST_RESTART;
		break;
	case ACTION_TOO_LONG:
		snprintf(A.why, sizeof(A.why), "function pid %d answered more than %zu bytes; killed",
			 A.fn.act.pid, A.cfg->max_body);
		/* OpenWhisk Messages.truncatedResponse */
		reply_error(r, 502, "The action produced a response that exceeded the allowed length: %zu > %zu bytes.",
			    A.fn.act.blen, A.cfg->max_body);
		function_stop(&A.fn);
		A.post = POST_RESTART;
		break;
	case ACTION_ERROR:
		snprintf(A.why, sizeof(A.why), "lost the pipes of function pid %d", A.fn.act.pid);
		function_stop(&A.fn);
		/* actionproxy.py (openwhisk-runtime-docker) */
		reply_error(r, 500, "Internal error. The proxy lost the action's pipes.");
		A.post = POST_RESTART;
		break;
	}
	pr_debug("run: %u in %.3f ms\n", r->status, (rw_now_ns() - t0) / 1e6);
	end_of_activation_logs();
}

/* After the answer left: make the function fit for the next request. */
static void after_reply(void)
{
	char err[2048];
	enum post post = A.post;

	A.post = POST_NONE;
	if (post == POST_NONE)
		return;
	if (worker_stopping())
		return;
	if (post == POST_AFTER_RUN) {
		uint64_t t0 = rw_now_ns();

		if (iso_after_run(&A.fn.iso, A.why, sizeof(A.why)) == ISO_READY) {
			size_t extra = action_drain(&A.fn.act);

			pr_debug("ready for the next request in %.3f ms\n", (rw_now_ns() - t0) / 1e6);

			if (extra)
				pr_warn("dropped %zu bytes the function wrote after its answer\n", extra);
			return;
		}
		post = POST_RESTART;
		/* A stop that interrupted the rewind: the function goes anyway. */
		if (worker_stopping())
			return;
	}
	/* Restart mode restarts every time: not worth a warning. */
	if (A.cfg->mode == MODE_RESTART && A.fn.running)
		pr_debug("%s; restarting the function\n", A.why);
	else
		pr_warn("%s; restarting the function\n", A.why);
	function_stop(&A.fn);
	if (function_start(&A.fn, err, sizeof(err)))
		pr_err("cannot restart the function: %s (the next request tries again)\n", err);
	else if (A.cfg->mode != MODE_RESTART)
		pr_info("function restarted from scratch: pid %d\n", A.fn.act.pid);
}

/* ---- the worker's two hooks, and the API ------------------------------------- */

static void serve(enum job_kind kind, json_object *body, struct reply *r)
{
	if (kind == JOB_INIT)
		handle_init(body, r);
	else
		handle_run(body, r);
}

void activation_init(json_object *body, struct reply *r)
{
	worker_submit(JOB_INIT, body, r);
}

void activation_run(json_object *body, struct reply *r)
{
	worker_submit(JOB_RUN, body, r);
}

bool activation_initialized(void)
{
	return atomic_load(&A.initialized);
}

int activation_start(const struct proxy_config *cfg, char *err, size_t errlen)
{
	int ret;

	A.cfg = cfg;
	ret = function_setup(&A.fn, cfg, err, errlen);
	if (ret)
		return ret;
	return worker_start(serve, after_reply, err, errlen);
}

int activation_stop(void)
{
	worker_stop();
	/* A function in the middle of an activation (or a start) ends it now. */
	function_interrupt(&A.fn);
	if (worker_join(action_hurried))
		return function_teardown(&A.fn);
	/* The worker may wait on rewindd for long: only what cannot outlive us. */
	pr_warn("stopping at once: the worker is still busy\n");
	function_interrupt(&A.fn);
	action_hurry();
	/* cgroup.kill is asynchronous: a cgroup removed too soon is still busy. */
	if (!action_wait_interrupted(&A.fn.act))
		pr_err("processes are left in the function's cgroup after cgroup.kill\n");
	action_remove(&A.fn.act);
	return -EINTR;
}
