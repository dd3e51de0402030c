// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "protocol.h"

#define CMD_BIT(c)	(1u << (c))
#define ALL_CMDS	(CMD_BIT(RW_CMD_ATTACH) | CMD_BIT(RW_CMD_CHECKPOINT) | \
			 CMD_BIT(RW_CMD_REWIND) | CMD_BIT(RW_CMD_MARK) | CMD_BIT(RW_CMD_REPORT) | \
			 CMD_BIT(RW_CMD_STATUS) | CMD_BIT(RW_CMD_DETACH))
/* Commands that act on an existing session and cannot do without its id. */
#define NEED_SESSION	(CMD_BIT(RW_CMD_CHECKPOINT) | CMD_BIT(RW_CMD_REWIND) | \
			 CMD_BIT(RW_CMD_MARK) | CMD_BIT(RW_CMD_REPORT) | CMD_BIT(RW_CMD_DETACH))
/* A request nests at most {"watch":[...]}: refuse deeper input early. */
#define MAX_DEPTH	4

static const char *const cmd_names[] = {
	[RW_CMD_ATTACH] = "attach",
	[RW_CMD_CHECKPOINT] = "checkpoint",
	[RW_CMD_REWIND] = "rewind",
	[RW_CMD_MARK] = "mark",
	[RW_CMD_REPORT] = "report",
	[RW_CMD_STATUS] = "status",
	[RW_CMD_DETACH] = "detach",
};

static const char *const on_failure_names[] = {
	[RW_ON_FAILURE_KILL] = "kill",
	[RW_ON_FAILURE_STOP] = "stop",
};

int protocol_on_failure_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(on_failure_names) / sizeof(on_failure_names[0]); i++)
		if (!strcmp(name, on_failure_names[i]))
			return i;
	return -EINVAL;
}

const char *protocol_on_failure_name(enum rw_on_failure f)
{
	return f <= RW_ON_FAILURE_STOP ? on_failure_names[f] : "unknown";
}

const char *protocol_cmd_name(enum rw_cmd cmd)
{
	if ((unsigned int)cmd < sizeof(cmd_names) / sizeof(cmd_names[0]) && cmd_names[cmd])
		return cmd_names[cmd];
	return "unknown";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* An integer in [min, max]; json-c clamps overflowing literals, so max stays below its clamp. */
static int get_uint(json_object *v, const char *key, uint64_t min, uint64_t max, uint64_t *out,
		    char *err, size_t errlen)
{
	uint64_t u;

	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return fail(err, errlen, "\"%s\" must be a positive integer", key);
	u = json_object_get_uint64(v);
	if (u < min)
		return fail(err, errlen, "\"%s\" must be a positive integer", key);
	if (u > max)
		return fail(err, errlen, "\"%s\" is out of range (max %llu)", key,
			    (unsigned long long)max);
	*out = u;
	return 0;
}

static int get_bool(json_object *v, const char *key, bool *out, char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(err, errlen, "\"%s\" must be true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* A non-empty string without NUL that fits dst (size bytes with its NUL). */
static int get_string(json_object *v, const char *what, bool path, char *dst, size_t size,
		      char *err, size_t errlen)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "%s must be a string", what);
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (n == 0)
		return fail(err, errlen, "%s must not be empty", what);
	if (memchr(s, '\0', n))
		return fail(err, errlen, "%s must not contain NUL bytes", what);
	if (n >= size)
		return fail(err, errlen, "%s is too long (max %zu bytes)", what, size - 1);
	/* The daemon's working directory means nothing to the client. */
	if (path && s[0] != '/')
		return fail(err, errlen, "%s must be an absolute path", what);
	memcpy(dst, s, n + 1);
	return 0;
}

static int get_watch(json_object *v, struct rw_request *req, char *err, size_t errlen)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "\"watch\" must be an array of paths");
	n = json_object_array_length(v);
	if (n > RW_MAX_WATCH)
		return fail(err, errlen, "too many \"watch\" directories (%zu, max %d)", n,
			    RW_MAX_WATCH);
	for (size_t i = 0; i < n; i++) {
		char what[32];
		int r;

		snprintf(what, sizeof(what), "\"watch\"[%zu]", i);
		r = get_string(json_object_array_get_idx(v, i), what, true, req->watch[i],
			       sizeof(req->watch[i]), err, errlen);
		if (r)
			return r;
	}
	req->nwatch = n;
	return 0;
}

enum key_id { K_CMD, K_SESSION, K_PID, K_PIDFD, K_CGROUP, K_CGROUP_ID, K_REPORT, K_VERIFY, K_WATCH,
	      K_CANARY, K_ON_FAILURE, K_BRIEF, K_INSTANCE, K_KEY, K_SETTLE };

static const struct {
	const char *name;
	unsigned int cmds;	/* CMD_BIT()s of the commands that take it */
} keys[] = {
	[K_CMD] = { "cmd", ALL_CMDS },
	[K_SESSION] = { "session", ALL_CMDS & ~CMD_BIT(RW_CMD_ATTACH) },
	[K_PID] = { "pid", CMD_BIT(RW_CMD_ATTACH) },
	[K_PIDFD] = { "pidfd", CMD_BIT(RW_CMD_ATTACH) },
	[K_CGROUP] = { "cgroup", CMD_BIT(RW_CMD_ATTACH) },
	[K_CGROUP_ID] = { "cgroup_id", CMD_BIT(RW_CMD_ATTACH) },
	[K_REPORT] = { "report", CMD_BIT(RW_CMD_ATTACH) },
	[K_VERIFY] = { "verify", CMD_BIT(RW_CMD_REWIND) },
	[K_WATCH] = { "watch", CMD_BIT(RW_CMD_ATTACH) },
	[K_CANARY] = { "canary", CMD_BIT(RW_CMD_REPORT) },
	[K_ON_FAILURE] = { "on_failure", CMD_BIT(RW_CMD_ATTACH) },
	[K_BRIEF] = { "brief", CMD_BIT(RW_CMD_REWIND) },
	[K_INSTANCE] = { "instance", ALL_CMDS & ~CMD_BIT(RW_CMD_ATTACH) },
	[K_KEY] = { "key", ALL_CMDS & ~CMD_BIT(RW_CMD_ATTACH) },
	[K_SETTLE] = { "settle", CMD_BIT(RW_CMD_STATUS) },
};


static int parse_key(enum key_id k, json_object *v, struct rw_request *req, char *err,
		     size_t errlen)
{
	uint64_t u;
	int r;

	switch (k) {
	case K_CMD:
		return 0;	/* done first, by the caller */
	case K_SESSION:
		r = get_uint(v, "session", 1, UINT32_MAX, &u, err, errlen);
		req->session = u;
		return r;
	case K_PID:
		r = get_uint(v, "pid", 1, INT32_MAX, &u, err, errlen);
		req->pid = u;
		return r;
	case K_PIDFD:
		r = get_bool(v, "pidfd", &req->pidfd, err, errlen);
		if (!r && !req->pidfd)
			return fail(err, errlen, "\"pidfd\" is true or absent");
		return r;
	case K_CGROUP:
		return get_string(v, "\"cgroup\"", true, req->cgroup, sizeof(req->cgroup), err,
				  errlen);
	case K_CGROUP_ID:
		r = get_uint(v, "cgroup_id", 1, UINT64_MAX - 1, &u, err, errlen);
		req->cgroup_id = u;
		return r;
	case K_REPORT:
		return get_bool(v, "report", &req->report, err, errlen);
	case K_VERIFY:
		return get_bool(v, "verify", &req->verify, err, errlen);
	case K_BRIEF:
		return get_bool(v, "brief", &req->brief, err, errlen);
	case K_SETTLE:
		return get_bool(v, "settle", &req->settle, err, errlen);
	case K_WATCH:
		return get_watch(v, req, err, errlen);
	case K_CANARY:
		return get_string(v, "\"canary\"", false, req->canary, sizeof(req->canary), err,
				  errlen);
	case K_INSTANCE:
		return get_string(v, "\"instance\"", false, req->instance, sizeof(req->instance),
				  err, errlen);
	case K_KEY:
		return get_uint(v, "key", 1, INT64_MAX, &req->key, err, errlen);
	case K_ON_FAILURE: {
		char name[8];

		r = get_string(v, "\"on_failure\"", false, name, sizeof(name), err, errlen);
		if (r)
			return r;
		r = protocol_on_failure_parse(name);
		if (r < 0)
			return fail(err, errlen, "\"on_failure\" must be \"kill\" or \"stop\"");
		req->on_failure = r;
		return 0;
	}
	}
	return -EINVAL;
}

static int parse_object(json_object *obj, struct rw_request *req, char *err, size_t errlen)
{
	json_object *v;
	const char *name;

	if (!json_object_object_get_ex(obj, "cmd", &v))
		return fail(err, errlen, "\"cmd\" missing");
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "\"cmd\" must be a string");
	name = json_object_get_string(v);
	for (int c = RW_CMD_ATTACH; c <= RW_CMD_DETACH; c++)
		if (strlen(cmd_names[c]) == (size_t)json_object_get_string_len(v) &&
		    !strcmp(name, cmd_names[c]))
			req->cmd = c;
	if (!req->cmd)
		return fail(err, errlen, "unknown command \"%.64s\"", name);

	json_object_object_foreach(obj, key, val) {
		size_t k;
		int r;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (!strcmp(key, keys[k].name))
				break;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return fail(err, errlen, "unknown key \"%.64s\"", key);
		if (!(keys[k].cmds & CMD_BIT(req->cmd)))
			return fail(err, errlen, "\"%s\" does not apply to %s", keys[k].name,
				    cmd_names[req->cmd]);
		r = parse_key(k, val, req, err, errlen);
		if (r)
			return r;
	}

	if (req->cmd == RW_CMD_ATTACH &&
	    !!req->pid + req->pidfd + !!req->cgroup[0] + !!req->cgroup_id != 1)
		return fail(err, errlen, "attach needs exactly one of pid, pidfd, cgroup, cgroup_id");
	if ((NEED_SESSION & CMD_BIT(req->cmd)) && !req->session)
		return fail(err, errlen, "session required");
	return 0;
}

int protocol_parse_request(const char *line, size_t len, struct rw_request *req,
			   char *err, size_t errlen)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *obj;
	size_t i;
	int r;

	memset(req, 0, sizeof(*req));
	if (len > RW_REQ_MAX)
		return fail(err, errlen, "request too large (limit %d bytes)", RW_REQ_MAX);
	/* json-c would stop at a NUL and call the rest trailing garbage: say what it is. */
	if (memchr(line, '\0', len))
		return fail(err, errlen, "request contains a NUL byte");
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
		;
	if (i == len)
		return fail(err, errlen, "empty request");

	tok = json_tokener_new_ex(MAX_DEPTH);
	if (!tok)
		return fail(err, errlen, "out of memory");
	/* Strict: no trailing garbage, commas or NaN; UTF-8 only. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, len);
	jerr = json_tokener_get_error(tok);
	if (!obj) {
		if (jerr == json_tokener_continue)
			r = fail(err, errlen, "malformed JSON: incomplete");
		else
			r = fail(err, errlen, "malformed JSON: %s at byte %zu",
				 json_tokener_error_desc(jerr), json_tokener_get_parse_end(tok));
		json_tokener_free(tok);
		return r;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object))
		r = fail(err, errlen, "request must be a JSON object");
	else
		r = parse_object(obj, req, err, errlen);
	json_object_put(obj);
	if (r) {
		enum rw_cmd cmd = req->cmd;

		/* No half-parsed request; keep the command for the caller's log. */
		memset(req, 0, sizeof(*req));
		req->cmd = cmd;
	}
	return r;
}

char *protocol_format_request(const struct rw_request *req)
{
	json_object *o, *a;
	char *line = NULL;
	int r = 0;

	if (req->cmd < RW_CMD_ATTACH || req->cmd > RW_CMD_DETACH || req->nwatch > RW_MAX_WATCH)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	r |= rw_json_add(o, "cmd", json_object_new_string(cmd_names[req->cmd]));
	if (req->session)
		r |= rw_json_add(o, "session", json_object_new_uint64(req->session));
	if (req->pid)
		r |= rw_json_add(o, "pid", json_object_new_int(req->pid));
	if (req->pidfd)
		r |= rw_json_add(o, "pidfd", json_object_new_boolean(true));
	if (req->cgroup[0])
		r |= rw_json_add(o, "cgroup", json_object_new_string(req->cgroup));
	if (req->cgroup_id)
		r |= rw_json_add(o, "cgroup_id", json_object_new_uint64(req->cgroup_id));
	if (req->report)
		r |= rw_json_add(o, "report", json_object_new_boolean(true));
	if (req->verify)
		r |= rw_json_add(o, "verify", json_object_new_boolean(true));
	if (req->brief)
		r |= rw_json_add(o, "brief", json_object_new_boolean(true));
	if (req->settle)
		r |= rw_json_add(o, "settle", json_object_new_boolean(true));
	if (req->on_failure)
		r |= rw_json_add(o, "on_failure", json_object_new_string(on_failure_names[req->on_failure]));
	if (req->nwatch) {
		a = json_object_new_array_ext(req->nwatch);
		r |= rw_json_add(o, "watch", a);
		for (size_t i = 0; !r && i < req->nwatch; i++) {
			json_object *s = json_object_new_string(req->watch[i]);

			if (!s || json_object_array_add(a, s)) {
				json_object_put(s);
				r = -ENOMEM;
			}
		}
	}
	if (req->canary[0])
		r |= rw_json_add(o, "canary", json_object_new_string(req->canary));
	if (req->instance[0])
		r |= rw_json_add(o, "instance", json_object_new_string(req->instance));
	if (req->key)
		r |= rw_json_add(o, "key", json_object_new_uint64(req->key));
	if (!r)
		line = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return line;
}

json_object *protocol_ok(void)
{
	json_object *o = json_object_new_object();

	if (o && rw_json_add(o, "ok", json_object_new_boolean(true))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *protocol_error(const char *fmt, ...)
{
	json_object *o;
	char *msg, *out = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	o = json_object_new_object();
	if (o && !rw_json_add(o, "ok", json_object_new_boolean(false)) &&
	    !rw_json_add(o, "error", json_object_new_string_len(msg, n)))
		out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	free(msg);
	return out;
}
