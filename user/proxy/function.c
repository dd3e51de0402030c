// SPDX-License-Identifier: GPL-2.0-only
/*
 * Starting the function from scratch and stopping it. Every start is the
 * same whatever came before (init, a crash, a failed rewind, restart mode):
 * the dir is made anew from the kept code, so nothing an earlier process
 * left there survives, and in rewind mode the new process is checkpointed
 * before it serves anything.
 */
#define LOG_PREFIX "rewind-proxy: "

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <xxhash.h>

#include "clock.h"
#include "function.h"
#include "log.h"
#include "runtime.h"

extern char **environ;

#define ACK_MAX 65536

uint64_t deadline_in(unsigned ms)
{
	return rw_now_ns() + (uint64_t)ms * 1000000;
}

/* ---- the environment ------------------------------------------------------ */

static int env_set(struct env *e, const char *name, const char *value)
{
	size_t nlen = strlen(name);
	char *kv;

	if (asprintf(&kv, "%s=%s", name, value) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < e->n; i++) {
		if (!strncmp(e->v[i], name, nlen) && e->v[i][nlen] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return 0;
		}
	}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		char **nv = realloc(e->v, cap * sizeof(*nv));

		if (!nv) {
			free(kv);
			return -ENOMEM;
		}
		e->v = nv;
		e->cap = cap;
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
	return 0;
}

static void env_drop_prefix(struct env *e, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++) {
		if (!strncmp(e->v[i], prefix, strlen(prefix)))
			free(e->v[i]);
		else
			e->v[n++] = e->v[i];
	}
	e->n = n;
	if (e->v)
		e->v[n] = NULL;
}

static int env_add_all(struct env *dst, const struct env *src)
{
	for (size_t i = 0; i < src->n; i++) {
		char *eq = strchr(src->v[i], '='), name[256];

		if (!eq || (size_t)(eq - src->v[i]) >= sizeof(name))
			continue;
		memcpy(name, src->v[i], eq - src->v[i]);
		name[eq - src->v[i]] = '\0';
		if (env_set(dst, name, eq + 1))
			return -ENOMEM;
	}
	return 0;
}

static void env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/*
 * A minimal environment, not the proxy's: PATH, HOME the function's dir and
 * TMPDIR its private /tmp (both watched), our __OW_* variables (as
 * OpenWhisk's proxies propagate them), /init's env, and last what the
 * protocol needs (the ack) and the isolation relies on (TMPDIR).
 */
static int build_env(const struct function *f, struct env *e)
{
	int r = 0;

	r |= env_set(e, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	r |= env_set(e, "HOME", f->act.dir);
	r |= env_set(e, "LANG", "C.UTF-8");
	r |= env_add_all(e, &f->proxy_env);
	r |= env_add_all(e, &f->init_env);
	r |= env_set(e, "TMPDIR", "/tmp");
	r |= env_set(e, "__OW_WAIT_FOR_ACK", "1");
	if (f->cfg->node_addon[0])	/* launcher.js takes it out of the action's env */
		r |= env_set(e, "REWIND_PROXY_NODE_ADDON", f->cfg->node_addon);
	return r ? -ENOMEM : 0;
}

/* Non-string values as their JSON text. */
static const char *as_string(json_object *v)
{
	if (!v || json_object_is_type(v, json_type_null))
		return "";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

int function_set_env(struct function *f, json_object *env)
{
	if (!env || !json_object_is_type(env, json_type_object))
		return 0;
	json_object_object_foreach(env, k, v) {
		if (!*k || strchr(k, '=') || strlen(k) >= 256) {
			pr_warn("init: env name '%s' cannot be exported; left out\n", k);
			continue;
		}
		if (env_set(&f->init_env, k, as_string(v)))
			return -ENOMEM;
	}
	return 0;
}

void function_clear_code(struct function *f)
{
	free(f->code.data);
	free(f->code.main_name);
	memset(&f->code, 0, sizeof(f->code));
	env_free(&f->init_env);
}

/* ---- start and stop --------------------------------------------------------- */

/* The launcher's {"ok":true} once the code is loaded (OW_WAIT_FOR_ACK). */
static int await_ack(struct function *f, char *err, size_t errlen)
{
	json_object *ack, *v;
	char *line = NULL, st[96];
	size_t len;
	int ret = -EPROTO;

	switch (action_exchange(&f->act, NULL, 0, deadline_in(f->cfg->timeout_ms), ACK_MAX, &line, &len)) {
	case ACTION_LINE:
		ack = json_tokener_parse(line);
		if (ack && json_object_object_get_ex(ack, "ok", &v) && json_object_get_boolean(v))
			ret = 0;
		else if (ack && json_object_object_get_ex(ack, "error", &v))
			snprintf(err, errlen, "%s", json_object_get_string(v));
		else
			/* openwhisk-runtime-go executor.go: an ack that is not ok. */
			snprintf(err, errlen, "The action did not initialize properly.");
		json_object_put(ack);
		free(line);
		return ret;
	case ACTION_TIMEOUT:
		/* OpenWhisk Messages.timedoutActivation(timeout, init = true). */
		snprintf(err, errlen, "The action exceeded its time limits of %u milliseconds during initialization.",
			 f->cfg->timeout_ms);
		return -ETIMEDOUT;
	case ACTION_EXITED:
		action_kill(&f->act);
		action_describe_status(&f->act, st, sizeof(st));
		pr_err("the function exited before it was ready (%s)\n", st);
		if (f->cfg->runtime == RUNTIME_PYTHON)
			/* openwhisk-runtime-go executor.go */
			snprintf(err, errlen, "Command exited abruptly during initialization.");
		else
			/* OpenWhisk Messages.abnormalInitialization: node's server is gone with it. */
			snprintf(err, errlen, "The action did not initialize and exited unexpectedly.");
		return -ECHILD;
	default:
		snprintf(err, errlen, "The action did not initialize properly.");
		return -EPROTO;
	}
}

/*
 * One line to the launcher and its answer, during initialisation: a hang or
 * an exit gets OpenWhisk's init error. The caller frees *line.
 */
static int init_exchange(struct function *f, const char *req, size_t max, char **line,
			 char *err, size_t errlen)
{
	size_t len;

	switch (action_exchange(&f->act, req, strlen(req), deadline_in(f->cfg->timeout_ms), max, line,
				&len)) {
	case ACTION_LINE:
		return 0;
	case ACTION_TIMEOUT:
		snprintf(err, errlen, "The action exceeded its time limits of %u milliseconds during initialization.",
			 f->cfg->timeout_ms);
		return -ETIMEDOUT;
	default:
		snprintf(err, errlen, "The action did not initialize and exited unexpectedly.");
		return -ECHILD;
	}
}

/* Runtimes that create threads and caches lazily do it before the checkpoint. */
static int warm_up(struct function *f, unsigned n, char *err, size_t errlen)
{
	static const char empty[] = "{\"value\":{}}\n";
	const char *req = f->cfg->warmup_line ? f->cfg->warmup_line : empty;

	for (unsigned i = 0; i < n; i++) {
		char *line = NULL;
		int ret = init_exchange(f, req, f->cfg->max_body, &line, err, errlen);

		free(line);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Before the process is kept (checkpointed, or reused as is): the launcher
 * settles its runtime (Python: a full collection). No /run can produce the
 * line: context field names are [A-Za-z0-9_]. With keep_heap it also turns
 * malloc's trim off ("keep-heap"): a heap trimmed during an activation is
 * grown back by the rewind and restored whole, a cost and nothing gained.
 * With RELEASE bytes, the free top of that heap goes back to the kernel, the
 * break kept ("release-free"): the image stores none of that garbage.
 */
static int settle(struct function *f, bool keep_heap, size_t release, char *err, size_t errlen)
{
	json_object *ans, *v, *why;
	char *line = NULL, req[128];
	bool ok;
	int ret;

	snprintf(req, sizeof(req), "{\"rewind-proxy\":\"settle\"%s", keep_heap ? ",\"keep-heap\":true" : "");
	if (release)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), ",\"release-free\":%zu", release);
	strcat(req, "}\n");
	ret = init_exchange(f, req, 65536, &line, err, errlen);
	if (ret)
		return ret;
	ans = json_tokener_parse(line);
	ok = ans && json_object_object_get_ex(ans, "settled", &v) && json_object_get_boolean(v);
	if (!ok)
		snprintf(err, errlen, "cannot start action: the launcher answered %.200s to settle", line);
	else if (keep_heap && json_object_object_get_ex(ans, "heap", &v) &&
		 !strcmp(json_object_get_string(v), "kept"))
		pr_debug("settled: the function's malloc keeps its heap (trim off)\n");
	else if (keep_heap)
		pr_info("settled: the function's malloc may trim its heap%s: %s\n",
			f->cfg->mode == MODE_REWIND ? ", which a rewind then restores whole" : "",
			json_object_object_get_ex(ans, "why", &why) ?
			json_object_get_string(why) : "the launcher did not say");
	if (ok && release && json_object_object_get_ex(ans, "released", &v) && json_object_get_int64(v) > 0)
		pr_debug("settled: %lld KiB of malloc's free heap given back to the kernel\n",
			 (long long)json_object_get_int64(v) >> 10);
	else if (ok && release)
		pr_debug("settled: none of malloc's free heap given back: %s\n",
			 json_object_object_get_ex(ans, "release", &why) ?
			 json_object_get_string(why) : "the launcher did not say");
	json_object_put(ans);
	free(line);
	return ok ? 0 : -EPROTO;
}

/*
 * The modes that serve every request from one process keep malloc's heap
 * (settle's "keep-heap"): rewind mode because a trimmed heap is restored
 * whole by the rewind; insecure mode so that the two differ by the rewind
 * alone, not by malloc's policy (the baseline of the benchmarks).
 */
static bool keeps_heap(const struct proxy_config *cfg)
{
	return cfg->mode == MODE_REWIND || cfg->mode == MODE_INSECURE;
}

/*
 * The heap is kept from before the last warm-up request on, so the process
 * kept holds the heap a request grows to: requests like it then move no
 * break, which a rewind would move back, and fault in no fresh heap page
 * (several microseconds each here). Not before the first: the mallopt also
 * freezes malloc's mmap threshold, which a request raises to what it frees.
 */
static int warm_up_and_settle(struct function *f, char *err, size_t errlen)
{
	bool early = keeps_heap(f->cfg) && f->cfg->warmup >= 2;
	int ret = warm_up(f, f->cfg->warmup - early, err, errlen);

	if (!ret && early) {
		ret = settle(f, true, 0, err, errlen);
		if (!ret)
			ret = warm_up(f, 1, err, errlen);
	}
	if (!ret && f->cfg->mode != MODE_RESTART)
		ret = settle(f, keeps_heap(f->cfg) && !early, keeps_heap(f->cfg) ? f->cfg->heap_release : 0,
			     err, errlen);
	return ret;
}

void function_log(const struct function *f, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(f->cfg->err_fd, line, n) < 0)
		pr_debug("cannot write to the function's log: %s\n", strerror(errno));
}

void function_init_failed(struct function *f, int ret, char *err, size_t errlen)
{
	char detail[2048];

	snprintf(detail, sizeof(detail), "%s", err);
	/* Node's service.js logs it so; actionloop logs the error as it is. */
	function_log(f, "%s%s", f->cfg->runtime == RUNTIME_NODE ? "Error during initialization: " : "",
		     detail);
	if (!(ret == -ECHILD && f->cfg->runtime == RUNTIME_NODE))
		runtime_init_error(f->cfg->runtime, detail, err, errlen);
}

/*
 * --shared-images: the seeds every instance of the same code gets, from
 * the code (a hash seed no caller can guess without it): Python's hash
 * seed, V8's PRNG and hash seeds, and V8 without background threads (its
 * concurrent GC and compilers would lay the heap out differently each run).
 * Math.random and node:crypto draw from the kernel anyway (launcher.js).
 */
struct shared_seeds {
	char python_hash_seed[16];
	char random[32], hash[32];
	const char *node_args[RUNTIME_EXTRA_MAX + 1];
};

static void shared_seeds(const struct function *f, struct shared_seeds *s)
{
	uint64_t h = XXH3_64bits_withSeed(f->code.data, f->code.len,
					  XXH3_64bits(f->code.main_name ? f->code.main_name : "",
						      f->code.main_name ? strlen(f->code.main_name) : 0));
	uint32_t seed = (uint32_t)(h >> 32) ^ (uint32_t)h;

	snprintf(s->python_hash_seed, sizeof(s->python_hash_seed), "%u", seed);
	/* V8's --random-seed 0 means "random": never 0. */
	snprintf(s->random, sizeof(s->random), "--random-seed=%d", (int)((seed & 0x7fffffff) | 1));
	snprintf(s->hash, sizeof(s->hash), "--hash-seed=%u", seed);
	s->node_args[0] = s->random;
	s->node_args[1] = s->hash;
	s->node_args[2] = "--single-threaded";
	s->node_args[3] = NULL;
}

/* Fresh dir with the code, new process, ack, warm-up, settle, checkpoint. */
int function_start(struct function *f, char *err, size_t errlen)
{
	char entry[PATH_MAX], launcher[PATH_MAX], why[1024];
	const char *argv[RUNTIME_ARGV_MAX];
	struct env env = { 0 };
	struct shared_seeds seeds;
	uint64_t t0 = rw_now_ns();
	int ret;

	f->running = false;
	f->code_failed = false;
	ret = action_materialize(&f->act, f->cfg->runtime, &f->code, entry, sizeof(entry), err, errlen);
	f->code_failed = ret != 0;
	if (ret)
		return ret;
	shared_seeds(f, &seeds);
	runtime_argv(f->cfg->runtime, f->cfg->launcher_dir, launcher, sizeof(launcher),
		     f->cfg->shared_images,
		     f->cfg->shared_images && f->cfg->runtime == RUNTIME_NODE ? seeds.node_args : NULL,
		     entry, f->code.binary ? runtime_main_path(f->cfg->runtime, f->code.main_name) :
		     f->code.main_name, argv);
	ret = build_env(f, &env);
	/* Python runs without -E then: no PYTHON* variable but the seed reaches it. */
	if (!ret && f->cfg->shared_images && f->cfg->runtime == RUNTIME_PYTHON) {
		env_drop_prefix(&env, "PYTHON");
		ret = env_set(&env, "PYTHONHASHSEED", seeds.python_hash_seed);
	}
	if (!ret)
		ret = action_spawn(&f->act, argv, env.v, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "out of memory");
	env_free(&env);
	if (ret) {
		/* openwhisk-runtime-go initHandler.go */
		snprintf(err, errlen, "cannot start action: %s", why);
		return ret;
	}
	ret = await_ack(f, err, errlen);
	/* Its own messages first: the launcher printed why (a traceback) before it ended. */
	if (ret)
		action_forward_log(&f->act);
	f->code_failed = ret && ret != -ETIMEDOUT;
	if (!ret)
		ret = warm_up_and_settle(f, err, errlen);
	if (!ret) {
		ret = iso_arm(&f->iso, &f->act, why, sizeof(why));
		if (ret)
			snprintf(err, errlen, "cannot start action: %s", why);
	}
	if (ret) {
		iso_release(&f->iso);
		action_kill(&f->act);
		return ret;
	}
	f->running = true;
	pr_info("function started: pid %d, %s mode, %.1f ms\n", f->act.pid, proxy_mode_name(f->cfg->mode),
		(rw_now_ns() - t0) / 1e6);
	return 0;
}

void function_stop(struct function *f)
{
	iso_release(&f->iso);
	action_kill(&f->act);
	f->running = false;
}

void function_interrupt(const struct function *f)
{
	action_interrupt(&f->act);
}

int function_setup(struct function *f, const struct proxy_config *cfg, char *err, size_t errlen)
{
	int ret;

	f->cfg = cfg;
	iso_init(&f->iso, cfg);
	ret = action_setup(&f->act, cfg, err, errlen);
	if (ret)
		return ret;
	/*
	 * The platform's __OW_* variables, and NODE_PATH: the packages a runtime
	 * image ships for every action (Node's ships openwhisk) are the
	 * operator's to point at. Python runs isolated (-I): no PYTHONPATH.
	 */
	for (char **e = environ; *e; e++) {
		char *eq = strchr(*e, '='), name[256];

		if ((strncmp(*e, "__OW_", 5) && strncmp(*e, "NODE_PATH=", 10)) || !eq ||
		    (size_t)(eq - *e) >= sizeof(name))
			continue;
		memcpy(name, *e, eq - *e);
		name[eq - *e] = '\0';
		if (env_set(&f->proxy_env, name, eq + 1)) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

int function_teardown(struct function *f)
{
	int ret = 0;

	/* Detached first: rewindd lets go of the processes, then they can be reaped. */
	iso_fini(&f->iso);
	if (f->act.procs_ready)
		ret = action_teardown(&f->act);
	f->running = false;
	function_clear_code(f);
	env_free(&f->proxy_env);
	return ret;
}
