// SPDX-License-Identifier: GPL-2.0-only
/*
 * Isolation between activations, and rewindd's client. The protocol is
 * rewindd's own (protocol.h): one JSON request line, one JSON answer line
 * with "ok" and, when false, "error". A rewind that fails leaves a failed
 * session whose processes rewindd killed: we detach it and the caller starts
 * the function from scratch, so nothing un-rewound ever runs an activation.
 */
#define LOG_PREFIX "rewind-proxy: "

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "client.h"
#include "clock.h"
#include "isolation.h"
#include "log.h"
#include "pidfd.h"
#include "protocol.h"
#include "tree_image.h"

/* A rewindd that does not answer within this is treated as failed. */
#define REWINDD_TIMEOUT_S 120

static const char *const mode_names[] = {
	[MODE_REWIND] = "rewind",
	[MODE_INSECURE] = "insecure",
	[MODE_RESTART] = "restart",
	[MODE_FORK] = "fork",
};

int iso_parse_mode(const char *name, enum proxy_mode *mode)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(name, mode_names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *proxy_mode_name(enum proxy_mode m)
{
	return mode_names[m];
}

void iso_init(struct isolation *iso, const struct proxy_config *cfg)
{
	iso->cfg = cfg;
	iso->fd = -1;
	iso->session = 0;
	iso->act = NULL;
	iso->nimg = 0;
	iso->nrewinds = 0;
	iso->rewind_ns = 0;
}

static int rwd_connect(struct isolation *iso, char *err, size_t errlen)
{
	int fd = client_connect(iso->cfg->rewindd_socket, REWINDD_TIMEOUT_S, err, errlen);

	if (fd < 0)
		return fd;
	iso->fd = fd;
	return 0;
}

static void rwd_disconnect(struct isolation *iso)
{
	if (iso->fd >= 0)
		close(iso->fd);
	iso->fd = -1;
}

/*
 * A request's bytes, passfd (if >= 0) with them (SCM_RIGHTS). A connection
 * that broke since the last request is re-established once, before
 * anything was sent.
 */
static int rwd_send(struct isolation *iso, const char *msg, size_t len, int passfd, char *err,
		    size_t errlen)
{
	int ret = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (iso->fd < 0) {
			ret = rwd_connect(iso, err, errlen);
			if (ret)
				return ret;
		}
		ret = passfd >= 0 ? client_send_fd(iso->fd, msg, len, passfd, err, errlen) :
				    client_send(iso->fd, msg, len, err, errlen);
		if (!ret)
			break;
		rwd_disconnect(iso);
	}
	return ret;
}

/*
 * One request, one answer; passfd (if >= 0) goes with it (SCM_RIGHTS). An
 * answer with "ok": false is returned as an error with its "error" text in
 * err.
 */
static int rwd_call_fd(struct isolation *iso, const struct rw_request *req, int passfd,
		       json_object **out, char *err, size_t errlen)
{
	char *line = protocol_format_request(req), *msg = NULL;
	json_object *resp = NULL, *ok, *e;
	int ret;

	if (!line || asprintf(&msg, "%s\n", line) < 0) {
		snprintf(err, errlen, "cannot format the %s request", protocol_cmd_name(req->cmd));
		free(line);
		return -ENOMEM;
	}
	free(line);
	ret = rwd_send(iso, msg, strlen(msg), passfd, err, errlen);
	if (ret)
		goto out;
	/* A second stop signal (on the main thread) gives up the wait. */
	resp = client_recv(iso->fd, RW_ANSWER_MAX, action_hurried, err, errlen);
	if (!resp) {
		rwd_disconnect(iso);	/* the stream's framing is lost */
		ret = -EIO;
		goto out;
	}
	if (!json_object_object_get_ex(resp, "ok", &ok) || !json_object_get_boolean(ok)) {
		snprintf(err, errlen, "%s", json_object_object_get_ex(resp, "error", &e) ?
			 json_object_get_string(e) : "rewindd refused without a reason");
		json_object_put(resp);
		resp = NULL;
		ret = -EPROTO;
		goto out;
	}
	ret = 0;
out:
	free(msg);
	if (out)
		*out = resp;
	else
		json_object_put(resp);
	return ret;
}

static int rwd_call(struct isolation *iso, const struct rw_request *req, json_object **out,
		    char *err, size_t errlen)
{
	return rwd_call_fd(iso, req, -1, out, err, errlen);
}

static struct rw_request *new_request(const struct isolation *iso, enum rw_cmd cmd)
{
	/* Large (a path per watch): never on the stack. */
	struct rw_request *req = calloc(1, sizeof(*req));

	if (req && cmd != RW_CMD_ATTACH) {
		req->session = iso->session;
		req->key = iso->key;
		snprintf(req->instance, sizeof(req->instance), "%s", iso->instance);
	}
	if (req)
		req->cmd = cmd;
	return req;
}

static int rwd_simple(struct isolation *iso, enum rw_cmd cmd, bool verify, json_object **out,
		      char *err, size_t errlen)
{
	struct rw_request *req = new_request(iso, cmd);
	int ret;

	if (!req) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	req->verify = verify;
	ret = rwd_call(iso, req, out, err, errlen);
	free(req);
	return ret;
}

/* ---- fork mode ------------------------------------------------------------------ */

/*
 * The switch: a line no /run can produce (context field names are
 * [A-Za-z0-9_]), sent after the warm-up. Only the Python launcher knows it.
 */
static const char fork_switch[] = "{\"rewind-proxy\":\"fork-per-request\"}\n";
/* Killing the children of one activation: bounded passes and time. */
#define FORK_REAP_PASSES 64
#define FORK_REAP_MS 10000
#define FORK_REAP_MAX 1024

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* A store left by a proxy on this port that died. */
static int clear_dir(const char *path)
{
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ? -EIO : 0;
}

static void fork_release(struct isolation *iso)
{
	for (size_t i = 0; i < iso->nimg; i++)
		fsimage_free(iso->img[i]);
	iso->nimg = 0;
	iso->act = NULL;
}

static int fork_arm(struct isolation *iso, struct action *a, char *err, size_t errlen)
{
	const char *roots[1 + PROXY_MAX_WATCH];
	size_t nroots = 0, len = 0;
	struct rw_fs_stats st;
	json_object *ans, *v;
	char *line = NULL, why[1024];
	uint64_t t0 = rw_now_ns();
	bool ok;
	int ret;

	switch (action_exchange(a, fork_switch, sizeof(fork_switch) - 1,
				rw_now_ns() + (uint64_t)iso->cfg->timeout_ms * 1000000, 65536, &line, &len)) {
	case ACTION_LINE:
		break;
	case ACTION_TIMEOUT:
		snprintf(err, errlen, "fork mode: the launcher did not confirm fork-per-request within %u ms",
			 iso->cfg->timeout_ms);
		return -ETIMEDOUT;
	default:
		snprintf(err, errlen, "fork mode: the launcher exited instead of confirming fork-per-request");
		return -ECHILD;
	}
	ans = json_tokener_parse(line);
	ok = ans && json_object_object_get_ex(ans, "fork", &v) && json_object_get_boolean(v);
	if (!ok)
		snprintf(err, errlen, "fork mode: the launcher refused fork-per-request: %.300s", line);
	json_object_put(ans);
	free(line);
	if (!ok)
		return -EPROTO;

	roots[nroots++] = a->dir;
	roots[nroots++] = a->tmpdir;
	for (size_t i = 0; i < iso->cfg->nwatch; i++)
		roots[nroots++] = iso->cfg->watch[i];
	for (size_t i = 0; i < nroots; i++) {
		char store[PATH_MAX + 32];

		snprintf(store, sizeof(store), "%s/fork-store.%zu", iso->cfg->work_dir, i);
		if (clear_dir(store)) {
			snprintf(err, errlen, "fork mode: cannot clear %s", store);
			fork_release(iso);
			return -EIO;
		}
		ret = fsimage_capture(roots[i], store, &iso->img[iso->nimg], &st, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "fork mode: capture of %s: %s", roots[i], why);
			fork_release(iso);
			return ret;
		}
		iso->nimg++;
	}
	iso->act = a;
	pr_info("fork mode: function pid %d is the template; %zu tree(s) captured in %.1f ms, watching %s\n",
		a->pid, iso->nimg, (rw_now_ns() - t0) / 1e6, a->dir);
	return 0;
}

static bool template_alive(const struct action *a)
{
	struct pollfd pfd = { .fd = a->pidfd, .events = POLLIN };

	return a->pid > 0 && a->pidfd >= 0 && poll(&pfd, 1, 0) == 0;
}

/*
 * Kill every process of the function but the template and wait for each to
 * be gone (an exited process is left out by action_procs, its files
 * closed). Processes may fork meanwhile: pass again until none is left.
 */
static int fork_reap(struct isolation *iso, char *err, size_t errlen)
{
	struct action *a = iso->act;
	uint64_t deadline = rw_now_ns() + FORK_REAP_MS * 1000000ull;
	pid_t pids[FORK_REAP_MAX];

	for (int pass = 0; pass < FORK_REAP_PASSES; pass++) {
		int others = 0, n;

		if (!template_alive(a)) {
			snprintf(err, errlen, "fork mode: the template pid %d is gone", a->pid);
			return -ESRCH;
		}
		/* Too many at once: those listed are killed, the rest in the next pass. */
		n = action_procs(a, pids, FORK_REAP_MAX);
		if (n == -E2BIG)
			n = FORK_REAP_MAX;
		if (n < 0) {
			snprintf(err, errlen, "fork mode: cannot list the function's processes: %s", strerror(-n));
			return n;
		}
		for (int i = 0; i < n; i++) {
			struct pollfd pfd = { .events = POLLIN };
			uint64_t now = rw_now_ns();

			if (pids[i] == a->pid)
				continue;
			others++;
			pfd.fd = sys_pidfd_open(pids[i], 0);
			if (pfd.fd < 0)
				continue;	/* reaped meanwhile */
			sys_pidfd_send_signal(pfd.fd, SIGKILL, NULL, 0);
			if (now < deadline)
				poll(&pfd, 1, (deadline - now) / 1000000 + 1);
			close(pfd.fd);
		}
		if (!others)
			return 0;
		if (rw_now_ns() >= deadline)
			break;
	}
	snprintf(err, errlen, "fork mode: processes of the function are left after %d passes of SIGKILL",
		 FORK_REAP_PASSES);
	return -EBUSY;
}

static enum iso_next fork_after_run(struct isolation *iso, char *err, size_t errlen)
{
	struct rw_fs_stats st;
	char why[1024];

	if (!iso->act) {
		snprintf(err, errlen, "fork mode: no template");
		return ISO_RESTART;
	}
	if (fork_reap(iso, err, errlen))
		return ISO_RESTART;
	for (size_t i = 0; i < iso->nimg; i++) {
		if (fsimage_restore_all(iso->img[i], &st, why, sizeof(why))) {
			snprintf(err, errlen, "fork mode: restore of %s failed: %s", fsimage_root(iso->img[i]), why);
			return ISO_RESTART;
		}
		pr_debug("fork mode: %s: %llu restored, %llu removed, %llu recreated in %.3f ms\n",
			 fsimage_root(iso->img[i]), (unsigned long long)st.files_restored,
			 (unsigned long long)st.entries_removed, (unsigned long long)st.entries_recreated,
			 st.ns / 1e6);
	}
	return ISO_READY;
}

/* ---- rewind mode ------------------------------------------------------------------ */

/* "image 12.3 MiB (4.5 MiB its own); store 20.1 MiB for 40.2 MiB of images", from a checkpoint answer. */
static void image_text(json_object *ckpt, char *buf, size_t len)
{
	json_object *st = NULL, *v;

#define MIB(o, key) (json_object_object_get_ex((o), (key), &v) ? json_object_get_int64(v) / 1048576.0 : 0.0)
	snprintf(buf, len, "image %.1f MiB (%.1f MiB its own)", MIB(ckpt, "image_bytes"),
		 MIB(ckpt, "image_unique_bytes"));
	if (json_object_object_get_ex(ckpt, "image_store", &st))
		snprintf(buf + strlen(buf), len - strlen(buf), "; image store %.1f MiB for %.1f MiB "
			 "of images, %.1f MiB shared", MIB(st, "bytes"), MIB(st, "logical_bytes"),
			 MIB(st, "shared_bytes"));
	/* Packed after the checkpoint: so far, what earlier checkpoints' pages became. */
	if (st && json_object_object_get_ex(st, "packing", &v) && json_object_get_boolean(v))
		snprintf(buf + strlen(buf), len - strlen(buf), ", %.1f MiB of it packed in %.1f MiB "
			 "(this checkpoint's pages are packed after it)",
			 MIB(st, "packed_pages") * 4096, MIB(st, "packed_bytes"));
#undef MIB
}

int iso_arm(struct isolation *iso, struct action *a, char *err, size_t errlen)
{
	char why[1024], what[PATH_MAX + 32];
	struct rw_request *req;
	json_object *resp = NULL, *v = NULL, *n = NULL;
	uint64_t t0 = rw_now_ns(), t_ckpt;
	int64_t procs, threads;
	char image[320];
	int ret = 0;

	if (iso->cfg->mode == MODE_FORK)
		return fork_arm(iso, a, err, errlen);
	if (iso->cfg->mode != MODE_REWIND)
		return 0;
	/*
	 * In a container: by pidfd (its pid is our namespace's), a pid session
	 * covering the function's tree. Every --watch, "/tmp" too, is named as
	 * the function sees it, which is how rewindd resolves them.
	 */
	req = new_request(iso, RW_CMD_ATTACH);
	if (!req) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (iso->cfg->in_container) {
		req->pidfd = true;
		snprintf(what, sizeof(what), "--pidfd of pid %d", a->pid);
	} else {
		snprintf(req->cgroup, sizeof(req->cgroup), "%s", a->cgroup);
		snprintf(what, sizeof(what), "--cgroup %s", a->cgroup);
	}
	/* As the function sees them: its dir is at the same path there. */
	snprintf(req->watch[req->nwatch++], sizeof(req->watch[0]), "%s", a->dir);
	snprintf(req->watch[req->nwatch++], sizeof(req->watch[0]), "/tmp");
	for (size_t i = 0; i < iso->cfg->nwatch && req->nwatch < RW_MAX_WATCH; i++)
		snprintf(req->watch[req->nwatch++], sizeof(req->watch[0]), "%s", iso->cfg->watch[i]);
	req->on_failure = RW_ON_FAILURE_KILL;
	ret = rwd_call_fd(iso, req, req->pidfd ? a->pidfd : -1, &resp, why, sizeof(why));
	free(req);
	if (ret) {
		snprintf(err, errlen, "rewindd attach %s: %s", what, why);
		return ret;
	}
	if (json_object_object_get_ex(resp, "session", &v))
		iso->session = json_object_get_int(v);
	if (json_object_object_get_ex(resp, "instance", &v))
		snprintf(iso->instance, sizeof(iso->instance), "%s", json_object_get_string(v));
	iso->key = json_object_object_get_ex(resp, "key", &v) ? json_object_get_uint64(v) : 0;
	if (json_object_object_get_ex(resp, "warnings", &v))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			pr_warn("rewindd: %s\n", json_object_get_string(json_object_array_get_idx(v, i)));
	json_object_put(resp);
	if (!iso->session) {
		snprintf(err, errlen, "rewindd attach: no session in the answer");
		return -EPROTO;
	}
	t_ckpt = rw_now_ns();
	ret = rwd_simple(iso, RW_CMD_CHECKPOINT, false, &resp, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "rewindd checkpoint of session %u: %s", iso->session, why);
		iso_release(iso);
		return ret;
	}
	/* A checkpoint of an empty cgroup would "rewind" nothing, silently. */
	json_object_object_get_ex(resp, "checkpoint", &v);
	pr_debug("session %u: attached in %.1f ms; checkpoint stages (ns): %s\n", iso->session,
		 (t_ckpt - t0) / 1e6, json_object_object_get_ex(v, "timing_ns", &n) ?
		 json_object_to_json_string_ext(n, JSON_C_TO_STRING_PLAIN) : "{}");
	procs = json_object_get_int64(json_object_object_get_ex(v, "processes", &n) ? n : NULL);
	threads = json_object_get_int64(json_object_object_get_ex(v, "threads", &n) ? n : NULL);
	image_text(v, image, sizeof(image));
	json_object_put(resp);
	if (procs < 1) {
		snprintf(err, errlen, "rewindd checkpoint of session %u holds no process (attach %s)",
			 iso->session, what);
		iso_release(iso);
		return -ESRCH;
	}
	pr_info("session %u: function pid %d checkpointed (%lld process(es), %lld thread(s)) in %.1f ms, watching %s and /tmp; %s\n",
		iso->session, a->pid, (long long)procs, (long long)threads, (rw_now_ns() - t0) / 1e6,
		a->dir, image);
	return 0;
}

/* "stop=12.3 kill=4.5 ..." in microseconds: the stages that took time. */
static void stages_text(const struct rw_rewind_summary *sum, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int i = 0; i < RW_STAGES; i++)
		if (sum->timing_ns[i] && n < len)
			n += snprintf(buf + n, len - n, "%s%s=%.1f", n ? " " : "", rw_stage_names[i],
				      sum->timing_ns[i] / 1e3);
}

/*
 * A rewind over the fast path (fastpath.h): on the request path, JSON costs
 * more than some of the restore's stages. Its answer is brief: rewindd
 * keeps the report, and rewindd -v logs the plans.
 */
static int rwd_fast_rewind(struct isolation *iso, struct rw_rewind_summary *sum, char *err,
			   size_t errlen)
{
	struct rw_fast_request f;
	int ret;

	if (fast_request_make(&f, iso->session, iso->key, iso->instance, iso->cfg->verify)) {
		snprintf(err, errlen, "the rewindd instance name is too long");
		return -EINVAL;
	}
	ret = rwd_send(iso, (const char *)&f, sizeof(f), -1, err, errlen);
	if (!ret)
		ret = client_fast_recv(iso->fd, sum, action_hurried, err, errlen);
	if (ret && ret != -EPROTO)
		rwd_disconnect(iso);	/* the stream's framing is lost */
	return ret;
}

enum iso_next iso_after_run(struct isolation *iso, char *err, size_t errlen)
{
	struct rw_rewind_summary sum;
	char why[1024];
	uint64_t t0;
	int ret;

	switch (iso->cfg->mode) {
	case MODE_INSECURE:
		return ISO_READY;
	case MODE_RESTART:
		snprintf(err, errlen, "restart mode");
		return ISO_RESTART;
	case MODE_FORK:
		return fork_after_run(iso, err, errlen);
	case MODE_REWIND:
		break;
	}
	if (!iso->session) {
		snprintf(err, errlen, "no rewindd session");
		return ISO_RESTART;
	}
	t0 = rw_now_ns();
	ret = rwd_fast_rewind(iso, &sum, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "rewind of session %u failed: %s", iso->session, why);
		return ISO_RESTART;
	}
	t0 = rw_now_ns() - t0;
	iso->nrewinds++;
	iso->rewind_ns += t0;
	/* Logged after the measurement: the timings are the ones served. */
	if (rw_log_level >= RW_LOG_DEBUG) {
		json_object *r = rewind_summary_json(&sum);
		char stages[512];

		stages_text(&sum, stages, sizeof(stages));
		pr_debug("session %u rewound in %.1f us (rewindd, us: %s)\n", iso->session, t0 / 1e3,
			 stages);
		pr_debug("session %u rewound: %s\n", iso->session,
			 r ? json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN) : "{}");
		json_object_put(r);
	}
	return ISO_READY;
}

bool iso_lost(struct isolation *iso, char *why, size_t whylen)
{
	struct pollfd p = { .fd = iso->fd, .events = POLLIN | POLLRDHUP };

	if (iso->cfg->mode != MODE_REWIND || !iso->session)
		return false;
	char err[512];

	/* Between requests rewindd says nothing: anything to read is its end of the stream. */
	if (iso->fd >= 0 && poll(&p, 1, 0) == 0)
		return false;
	/* Closed: rewindd restarted, or closed an idle connection to make room. Ask again. */
	rwd_disconnect(iso);
	if (!rwd_simple(iso, RW_CMD_STATUS, false, NULL, err, sizeof(err)))
		return false;	/* the same rewindd, which still holds our session */
	snprintf(why, whylen, "rewindd closed its connection since the last rewind, and session %u "
		 "is gone with its checkpoint (%s)", iso->session, err);
	rwd_disconnect(iso);
	iso->session = 0;
	iso->instance[0] = '\0';
	iso->key = 0;
	return true;
}

void iso_release(struct isolation *iso)
{
	char why[1024];

	fork_release(iso);
	if (!iso->session)
		return;
	if (rwd_simple(iso, RW_CMD_DETACH, false, NULL, why, sizeof(why)))
		pr_err("rewindd detach of session %u: %s\n", iso->session, why);
	iso->session = 0;
	iso->instance[0] = '\0';
	iso->key = 0;
}

void iso_fini(struct isolation *iso)
{
	if (iso->nrewinds)
		pr_info("%llu rewind(s), %.1f us each on average from the request to rewindd to "
			"its answer\n", (unsigned long long)iso->nrewinds,
			iso->rewind_ns / 1e3 / iso->nrewinds);
	iso_release(iso);
	rwd_disconnect(iso);
}
