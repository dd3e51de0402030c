// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "session: "
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#include "auth.h"
#include "canary.h"
#include "cgroup.h"
#include "clock.h"
#include "fswatch.h"
#include "invocation.h"
#include "log.h"
#include "proc.h"
#include "rewind.h"
#include "rewind/events.h"
#include "session.h"
#include "watch.h"
#include "wp.h"

enum rw_session_state {
	RW_SESSION_ACTIVE,
	RW_SESSION_EXITED,	/* every target process is gone */
	RW_SESSION_FAILED,	/* a rewind could not restore it: nothing more is done */
};

static const char *const state_names[] = {
	[RW_SESSION_ACTIVE] = "active",
	[RW_SESSION_EXITED] = "exited",
	[RW_SESSION_FAILED] = "failed",
};

/* Rewind sessions keep the reports of this many last invocations (no drift over millions). */
#define REWIND_KEEP_INVOCATIONS	16

/* One tracked process. */
struct rw_target {
	pid_t tgid;
	bool alive;
	struct rw_wp *wp;	/* NULL: not armed, its pages come from fault records only */
	bool exec_seen;		/* exec replaced the mm: wp is stale, authority must be re-checked */
	bool excluded;		/* the owner may no longer ptrace it: untracked, never touched again */
	struct rw_maps maps;	/* layout when the current invocation was closed */
	struct rw_proc_image *img;	/* rewind mode: its checkpoint, NULL if it is not in one */
	struct rw_hotset hot;		/* rewind mode: pages left unprotected between rewinds */
};

struct rw_session {
	uint32_t id;
	uid_t owner;
	pid_t pid;			/* pid mode: the process attached to */
	char cgroup[PATH_MAX];		/* cgroup mode: its directory */
	uint64_t cgid;
	enum rw_session_state state;
	char why[512];			/* why the state is not ACTIVE */
	bool rewind_mode;		/* attached without --report */
	enum rw_on_failure on_failure;
	bool checkpointed;
	bool busy;			/* inside checkpoint or rewind: images are in use */
	bool discard;			/* records now come from our own injected syscalls */
	pid_t lost;			/* a checkpointed process that exited between rewinds */
	pid_t *bystanders;		/* pid mode: children that predate the checkpoint, left alone */
	size_t nbystanders;
	struct rw_target *targets;
	size_t ntargets;
	struct rw_invocation *cur;
	struct rw_invocation **done;
	size_t ndone;
	uint64_t dropped_seen;		/* BPF drop counter at the last mark */
	uint64_t dropped_total;
	struct rw_watches watches;	/* --watch trees: rolled back at rewind, scanned for canaries */
};

/* fanotify tags: which session's which tree. */
#define WATCH_TAG(id, tree)	((int)((id) * RW_MAX_WATCH + (tree)))

static json_object *error_response(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_object *error_response(const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

/* ---- targets ------------------------------------------------------------ */

static struct rw_target *find_target(struct rw_session *s, pid_t tgid)
{
	for (size_t i = 0; i < s->ntargets; i++)
		if (s->targets[i].tgid == tgid)
			return &s->targets[i];
	return NULL;
}

static struct rw_target *add_target(struct rw_session *s, pid_t tgid)
{
	struct rw_target *t = find_target(s, tgid), *arr;

	if (t)
		return t;
	arr = realloc(s->targets, (s->ntargets + 1) * sizeof(*arr));
	if (!arr)
		return NULL;
	s->targets = arr;
	t = &arr[s->ntargets++];
	memset(t, 0, sizeof(*t));
	t->tgid = tgid;
	t->alive = true;
	return t;
}

static void target_disarm(struct rw_target *t)
{
	wp_close(t->wp);
	t->wp = NULL;
	hotset_free(&t->hot);
}

static void target_drop_image(struct rw_target *t)
{
	hotset_free(&t->hot);
	if (t->img) {
		image_free(t->img);
		free(t->img);
		t->img = NULL;
	}
}

/*
 * Arm write protection on every private writable mapping of a target. When
 * that is impossible (seccomp forbids userfaultfd, another tracer holds the
 * process), the target stays tracked by faults only and the caller says so.
 */
static int target_arm(struct rw_sessions *S, struct rw_session *s, struct rw_target *t,
		      char *why, size_t whylen)
{
	struct rw_maps maps = { 0 };
	char denied[256];
	int err;

	if (t->exec_seen)
		target_disarm(t);	/* bound to the mm that exec replaced */
	if (!t->wp) {
		/*
		 * Every process is checked before rewindd touches it, not only the
		 * one attached to: a child may have exec'd a setuid program.
		 */
		err = auth_may_attach_pid(s->owner, t->tgid, denied, sizeof(denied));
		if (err == -EPERM) {
			t->excluded = true;
			t->alive = false;
			tracker_untrack_tgid(S->tracker, t->tgid);
			snprintf(why, whylen, "pid %d is no longer reachable by uid %u (%.120s): "
				 "not tracked any more", t->tgid, s->owner, denied);
			return err;
		}
		t->exec_seen = false;
		/*
		 * Arming injects userfaultfd(): under a seccomp filter that could be
		 * answered with SIGSYS or a kill. Never risk the target: count its
		 * pages from faults instead.
		 */
		struct rw_proc_status st;

		if (proc_read_status(t->tgid, &st) || st.seccomp != 0) {
			snprintf(why, whylen, "pid %d runs under seccomp: write protection not armed "
				 "(injecting userfaultfd could kill it); pages are counted from "
				 "first-write faults only", t->tgid);
			return -EPERM;
		}
		err = wp_open(&t->wp, t->tgid);
		if (err) {
			snprintf(why, whylen, "write protection unavailable for pid %d (%s): "
				 "pages are counted from first-write faults only", t->tgid,
				 strerror(-err));
			t->wp = NULL;
			return err;
		}
	}
	err = proc_read_maps(t->tgid, &maps);
	if (!err) {
		err = wp_sync(t->wp, &maps);
		err = err < 0 ? err : 0;
	}
	proc_maps_free(&maps);
	if (err)
		snprintf(why, whylen, "cannot arm write protection for pid %d: %s", t->tgid,
			 strerror(-err));
	return err;
}

static bool target_covers(void *ctx, pid_t tgid, uint64_t page)
{
	struct rw_target *t = find_target(ctx, tgid);

	return t && t->alive && t->wp && wp_covers(t->wp, page);
}

static const struct rw_maps *target_maps(void *ctx, pid_t tgid)
{
	struct rw_target *t = find_target(ctx, tgid);

	return t && t->alive ? &t->maps : NULL;
}

/* ---- session lifecycle -------------------------------------------------- */

static struct rw_session *find_session_target(struct rw_sessions *S, pid_t pid, uint64_t cgid)
{
	for (size_t i = 0; i < RW_MAX_SESSIONS; i++) {
		struct rw_session *s = S->slot[i];

		if (!s)
			continue;
		if (cgid && s->cgid == cgid)
			return s;
		if (pid && find_target(s, pid) && find_target(s, pid)->alive)
			return s;
	}
	return NULL;
}

static int alloc_id(struct rw_sessions *S)
{
	for (int tries = 0; tries < RW_MAX_SESSIONS; tries++) {
		uint32_t id = S->next_id;

		S->next_id = S->next_id + 1 >= RW_MAX_SESSIONS ? 1 : S->next_id + 1;
		if (!S->slot[id])
			return id;
	}
	return -ENOSPC;
}

static void session_free(struct rw_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ntargets; i++) {
		target_disarm(&s->targets[i]);
		target_drop_image(&s->targets[i]);
		proc_maps_free(&s->targets[i].maps);
	}
	free(s->targets);
	free(s->bystanders);
	watches_fini(&s->watches);
	invocation_free(s->cur);
	for (size_t i = 0; i < s->ndone; i++)
		invocation_free(s->done[i]);
	free(s->done);
	free(s);
}

/* Check the target exists, is a user process, and the peer may reach it. */
static json_object *check_pid(pid_t pid, uid_t uid)
{
	struct rw_proc_status st;
	struct rw_maps maps = { 0 };
	char err[256];
	int r;

	r = proc_read_status(pid, &st);
	if (r == -ESRCH || r == -ENOENT)
		return error_response("no such process: %d", pid);
	if (r)
		return error_response("cannot read /proc/%d/status: %s", pid, strerror(-r));
	if (st.tgid != pid)
		return error_response("%d is a thread of process %d: attach to the process", pid,
				      st.tgid);
	if (st.state == 'Z' || st.state == 'X')
		return error_response("process %d has exited (zombie)", pid);
	if (pid == getpid())
		return error_response("refusing to attach rewindd to itself");
	r = auth_may_attach_pid(uid, pid, err, sizeof(err));
	if (r == -ESRCH)
		return error_response("no such process: %d", pid);
	if (r)
		return error_response("permission denied: %s", err);
	r = proc_read_maps(pid, &maps);
	if (!r && maps.n == 0)
		r = -EINVAL;
	proc_maps_free(&maps);
	if (r == -EINVAL)
		return error_response("process %d has no user memory (a kernel thread?)", pid);
	if (r)
		return error_response("cannot read /proc/%d/maps: %s", pid, strerror(-r));
	return NULL;
}

static json_object *do_attach(struct rw_sessions *S, const struct rw_request *req, uid_t uid)
{
	struct rw_session *s = NULL, *other;
	json_object *resp = NULL, *warnings, *targets;
	char path[PATH_MAX];
	pid_t *pids = NULL;
	size_t npids = 0;
	uint64_t cgid = 0;
	int id, err;

	if (req->pid) {
		resp = check_pid(req->pid, uid);
		if (resp)
			return resp;
		other = find_session_target(S, req->pid, 0);
		if (other)
			return error_response("process %d is already attached (session %u)",
					      req->pid, other->id);
		pids = malloc(sizeof(*pids));
		if (!pids)
			return error_response("out of memory");
		pids[0] = req->pid;
		npids = 1;
	} else {
		char why[512];

		if (req->cgroup_id) {
			err = cgroup_path_of_id(req->cgroup_id, path, sizeof(path));
			if (err)
				return error_response("no cgroup with id %llu",
						      (unsigned long long)req->cgroup_id);
		} else {
			/* Resolve symlinks once: what is stored must name a cgroup, not a link. */
			if (!realpath(req->cgroup, path))
				return error_response("no such cgroup: %s", req->cgroup);
		}
		err = cgroup_id_of_path(path, &cgid);
		if (err == -ENOENT)
			return error_response("no such cgroup: %s", path);
		if (err)
			return error_response("%s is not a cgroup v2 directory: %s", path,
					      strerror(-err));
		other = find_session_target(S, 0, cgid);
		if (other)
			return error_response("cgroup %s is already attached (session %u)", path,
					      other->id);
		err = auth_may_attach_cgroup(uid, path, why, sizeof(why));
		if (err)
			return error_response("permission denied: %s", why);
		err = cgroup_list_procs(path, &pids, &npids);
		if (err)
			return error_response("cannot list the processes of %s: %s", path,
					      strerror(-err));
		for (size_t i = 0; i < npids; i++) {
			other = find_session_target(S, pids[i], 0);
			if (other) {
				resp = error_response("process %d of %s is already attached "
						      "(session %u)", pids[i], path, other->id);
				free(pids);
				return resp;
			}
		}
	}

	id = alloc_id(S);
	s = calloc(1, sizeof(*s));
	if (id < 0 || !s) {
		free(pids);
		free(s);
		if (id < 0)
			return error_response("too many sessions (%d)", RW_MAX_SESSIONS - 1);
		return error_response("out of memory");
	}
	s->id = id;
	s->owner = uid;
	s->pid = req->pid;
	s->rewind_mode = !req->report;
	s->on_failure = req->on_failure;
	s->cgid = cgid;
	if (cgid)
		snprintf(s->cgroup, sizeof(s->cgroup), "%s", path);
	if (req->nwatch) {
		char why[512];

		err = watches_init(&s->watches, req->watch, req->nwatch, uid, S->state_dir, id, why,
				   sizeof(why));
		if (err) {
			resp = error_response("%s", why);
			goto fail;
		}
	}

	/* Records may arrive as soon as the slot is published: the invocation must exist. */
	s->cur = invocation_new(1, rw_now_ns());
	if (!s->cur) {
		resp = error_response("out of memory");
		goto fail;
	}

	/* Track in BPF first, so no write between arming and tracking goes unseen. */
	err = cgid ? tracker_track_cgroup(S->tracker, cgid, id) : tracker_track_tgid(S->tracker, req->pid, id);
	if (err) {
		resp = error_response("cannot add the target to the BPF filter: %s", strerror(-err));
		goto fail;
	}
	S->slot[id] = s;
	tracker_reset_dropped(S->tracker, id);

	warnings = json_object_new_array();
	targets = json_object_new_array();
	for (size_t i = 0; i < npids; i++) {
		struct rw_target *t = add_target(s, pids[i]);
		char why[256];

		if (!t) {
			json_object_put(warnings);
			json_object_put(targets);
			resp = error_response("out of memory");
			goto fail_tracked;
		}
		/* Rewind sessions arm at the checkpoint, where it counts. */
		if (!s->rewind_mode && target_arm(S, s, t, why, sizeof(why))) {
			pr_warn("session %u: %s\n", id, why);
			json_object_array_add(warnings, json_object_new_string(why));
		}
		json_object_array_add(targets, json_object_new_int(pids[i]));
	}
	/* Rewind sessions learn of writers the log cannot see; report sessions only scan. */
	for (size_t i = 0; s->rewind_mode && i < s->watches.n; i++) {
		struct rw_watch_tree *t = &s->watches.t[i];
		char why[256];

		err = S->fswatch ? fswatch_add_tree(S->fswatch, t->root, WATCH_TAG(id, i), why,
						    sizeof(why)) : -ENOTSUP;
		if (err) {
			t->blind = true;
			snprintf(t->blind_why, sizeof(t->blind_why), "writers rewindd does not track "
				 "cannot be seen there (%s)", S->fswatch ? why : "no fanotify");
			json_object_array_add(warnings, json_object_new_string(t->blind_why));
		}
	}
	s->cur->start_ns = rw_now_ns();
	for (size_t i = 0; i < json_object_array_length(warnings); i++)
		invocation_note(s->cur, "%s",
				json_object_get_string(json_object_array_get_idx(warnings, i)));
	free(pids);
	if (cgid)
		pr_info("session %d: attached to cgroup %s (uid %u)\n", id, path, uid);
	else
		pr_info("session %d: attached to pid %d (uid %u)\n", id, req->pid, uid);

	resp = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(id));
	json_object_object_add(resp, "targets", targets);
	json_object_object_add(resp, "warnings", warnings);
	return resp;

fail_tracked:
	for (size_t i = 0; S->fswatch && i < s->watches.n; i++)
		fswatch_remove_tree(S->fswatch, WATCH_TAG(id, i));
	tracker_untrack_session(S->tracker, id);
	tracker_drain(S->tracker);
	S->slot[id] = NULL;
fail:
	free(pids);
	session_free(s);
	return resp;
}

/* cgroup mode: processes that joined the cgroup without a fork we saw. */
static void sync_cgroup_targets(struct rw_session *s)
{
	pid_t *pids = NULL;
	size_t n = 0;

	uint64_t id = 0;

	if (!s->cgid)
		return;
	/* The path is only a name: make sure it still names the attached cgroup. */
	if (cgroup_id_of_path(s->cgroup, &id) || id != s->cgid) {
		invocation_note(s->cur, "%s no longer names the attached cgroup: its members are "
				"followed by cgroup id only", s->cgroup);
		return;
	}
	if (cgroup_list_procs(s->cgroup, &pids, &n))
		return;
	for (size_t i = 0; i < n; i++)
		if (!find_target(s, pids[i]) && add_target(s, pids[i]))
			invocation_note(s->cur, "pid %d joined the cgroup", pids[i]);
	free(pids);
}

/* What a scan found, into the invocation's written pages of tgid. */
static int add_written(struct rw_invocation *inv, pid_t tgid, const struct rw_ranges *w)
{
	int err = 0;

	for (size_t i = 0; i < w->n && !err; i++)
		err = invocation_add_written(inv, tgid, w->r[i].start, w->r[i].end);
	return err;
}

/*
 * End the current invocation: drain the log, scan and re-arm every target,
 * fold the scans into the records, attribute pages, start the next one.
 */
static json_object *do_mark(struct rw_sessions *S, struct rw_session *s)
{
	struct rw_invocation *inv = s->cur, *next, **done;
	json_object *resp, *obj;
	uint64_t dropped;
	bool root_gone = false;
	int err;

	if (s->state != RW_SESSION_ACTIVE)
		return error_response("session %u: %s; its report is still available", s->id, s->why);
	if (s->rewind_mode)
		return error_response("session %u is a rewind session: each rewind ends an "
				      "invocation (mark is for --report sessions)", s->id);

	tracker_drain(S->tracker);
	dropped = tracker_dropped(S->tracker, s->id);
	inv->dropped = dropped - s->dropped_seen;
	s->dropped_seen = dropped;
	s->dropped_total = dropped;
	if (inv->dropped) {
		pr_warn("session %u: %llu events dropped in invocation %u (ring buffer full)\n",
			s->id, (unsigned long long)inv->dropped, inv->number);
		invocation_note(inv, "%llu events were dropped (ring buffer full): files, layout and "
				"tasks may be incomplete; pages in armed memory come from the scan",
				(unsigned long long)inv->dropped);
	}
	sync_cgroup_targets(s);

	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];
		struct rw_ranges written = { 0 };
		struct rw_ranges_collect c = { .ranges = &written };

		proc_maps_free(&t->maps);
		if (!t->alive)
			continue;
		err = proc_read_maps(t->tgid, &t->maps);
		if (err) {
			t->alive = false;
			invocation_note(inv, "pid %d exited during the invocation", t->tgid);
			continue;
		}
		if (!t->wp)
			continue;
		if (t->exec_seen) {
			invocation_note(inv, "pid %d exec'd: pages of its new image come from faults",
					t->tgid);
			target_disarm(t);
			continue;
		}
		/* Coverage as the kernel has it now: layout changes drop registrations. */
		if (wp_scan(t->wp, true, ranges_collect, &c) < 0 || c.err ||
		    add_written(inv, t->tgid, &written) || wp_refresh(t->wp, &t->maps)) {
			invocation_note(inv, "pid %d: write-protection scan failed; pages from faults "
					"only", t->tgid);
			target_disarm(t);
		}
		ranges_free(&written);
	}
	err = invocation_close(inv, rw_now_ns(), target_covers, target_maps, s);
	if (err)
		invocation_note(inv, "aggregation incomplete: %s", strerror(-err));
	if (invocation_find_persisting(inv, NULL, NULL))
		invocation_note(inv, "out of memory listing the files that persist");

	/* Arm what is new (mappings, children) for the next invocation. */
	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];
		char why[256];

		if (!t->alive) {
			target_disarm(t);
			if (t->tgid == s->pid)
				root_gone = true;
			continue;
		}
		if (target_arm(S, s, t, why, sizeof(why))) {
			pr_warn("session %u: %s\n", s->id, why);
			invocation_note(inv, "%s", why);
		}
	}

	done = realloc(s->done, (s->ndone + 1) * sizeof(*done));
	next = invocation_new(inv->number + 1, inv->end_ns);
	if (!done || !next) {
		free(next);
		if (done)
			s->done = done;
		return error_response("out of memory");
	}
	s->done = done;
	s->done[s->ndone++] = inv;
	s->cur = next;

	if (root_gone || (s->pid && !find_target(s, s->pid)->alive)) {
		s->state = RW_SESSION_EXITED;
		if (find_target(s, s->pid)->excluded)
			snprintf(s->why, sizeof(s->why), "target process %d can no longer be traced "
				 "by uid %u (exec of a privileged program?)", s->pid, s->owner);
		else
			snprintf(s->why, sizeof(s->why), "target process %d exited during "
				 "invocation %u", s->pid, inv->number);
	}
	obj = invocation_to_json(inv);
	if (s->state == RW_SESSION_EXITED) {
		json_object_put(obj);
		return error_response("session %u: %s; its report is kept", s->id, s->why);
	}
	resp = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(s->id));
	json_object_object_add(resp, "report", obj);
	return resp;
}

static bool seen_path(char **v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], path))
			return true;
	return false;
}

/*
 * Every place the canary persists now: the memory of every live process of
 * the session, the files its invocations created or wrote, the watched
 * trees. A client that is not root only gets files it owns searched: the
 * answer must not tell it what is in files it cannot read.
 */
static json_object *canary_report(struct rw_session *s, const char *canary)
{
	struct rw_canary_hits mem = { 0 }, files = { 0 };
	json_object *o = json_object_new_object(), *notes = json_object_new_array();
	size_t len = strlen(canary), npaths = 0, skipped = 0;
	char **paths = NULL, why[512];

	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];

		if (!t->alive || t->excluded || auth_may_attach_pid(s->owner, t->tgid, why, sizeof(why)))
			continue;
		if (canary_scan_process(t->tgid, canary, len, &mem, why, sizeof(why)))
			json_object_array_add(notes, json_object_new_string(why));
	}
	for (size_t k = 0; k <= s->ndone; k++) {
		const struct rw_invocation *inv = k < s->ndone ? s->done[k] : s->cur;

		for (size_t i = 0; i < inv->nfiles; i++) {
			const char *p[] = { inv->files[i].path, inv->files[i].renamed_to };

			for (size_t j = 0; j < 2; j++) {
				struct stat st;
				char **more;

				if (!p[j] || watches_cover(&s->watches, p[j]) ||
				    seen_path(paths, npaths, p[j]))
					continue;
				if (lstat(p[j], &st) || !S_ISREG(st.st_mode))
					continue;
				if (s->owner != 0 && st.st_uid != s->owner) {
					skipped++;
					continue;
				}
				more = realloc(paths, (npaths + 1) * sizeof(*more));
				if (!more || !(more[npaths] = strdup(p[j]))) {
					if (more)
						paths = more;
					break;
				}
				paths = more;
				if (canary_scan_file(paths[npaths++], canary, len, &files, why, sizeof(why)))
					json_object_array_add(notes, json_object_new_string(why));
			}
		}
	}
	for (size_t i = 0; i < s->watches.n; i++)
		if (canary_scan_tree(s->watches.t[i].root, canary, len, &files, why, sizeof(why)))
			json_object_array_add(notes, json_object_new_string(why));
	if (skipped) {
		snprintf(why, sizeof(why), "%zu file(s) not searched: not owned by uid %u", skipped,
			 s->owner);
		json_object_array_add(notes, json_object_new_string(why));
	}
	json_object_object_add(o, "canary", json_object_new_string(canary));
	json_object_object_add(o, "after_invocation",
			       json_object_new_int64(s->ndone ? s->done[s->ndone - 1]->number : 0));
	json_object_object_add(o, "memory", canary_hits_to_json(&mem));
	json_object_object_add(o, "memory_total", json_object_new_int64(mem.total));
	json_object_object_add(o, "memory_bytes_scanned", json_object_new_int64(mem.bytes_scanned));
	json_object_object_add(o, "files", canary_hits_to_json(&files));
	json_object_object_add(o, "files_total", json_object_new_int64(files.total));
	json_object_object_add(o, "files_scanned", json_object_new_int64(files.files_scanned));
	json_object_object_add(o, "notes", notes);
	canary_hits_free(&mem);
	canary_hits_free(&files);
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	return o;
}

static json_object *do_report(struct rw_sessions *S, struct rw_session *s, const char *canary)
{
	json_object *resp = json_object_new_object(), *arr = json_object_new_array();

	tracker_drain(S->tracker);
	for (size_t i = 0; i < s->ndone; i++)
		json_object_array_add(arr, invocation_to_json(s->done[i]));
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(s->id));
	json_object_object_add(resp, "invocations", arr);
	if (canary && canary[0])
		json_object_object_add(resp, "canary", canary_report(s, canary));
	return resp;
}

static json_object *session_json(struct rw_session *s)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "session", json_object_new_int(s->id));
	json_object_object_add(o, "mode", json_object_new_string(s->rewind_mode ? "rewind" :
								 "report"));
	json_object_object_add(o, "state", json_object_new_string(state_names[s->state]));
	if (s->rewind_mode) {
		uint64_t bytes = 0;

		for (size_t i = 0; i < s->ntargets; i++)
			if (s->targets[i].img)
				bytes += s->targets[i].img->store_len;
		json_object_object_add(o, "checkpointed", json_object_new_boolean(s->checkpointed));
		json_object_object_add(o, "image_bytes", json_object_new_int64(bytes));
		json_object_object_add(o, "on_failure",
				       json_object_new_string(protocol_on_failure_name(s->on_failure)));
	}
	if (s->state != RW_SESSION_ACTIVE)
		json_object_object_add(o, "reason", json_object_new_string(s->why));
	if (s->watches.n) {
		json_object *w = json_object_new_array();

		for (size_t i = 0; i < s->watches.n; i++)
			json_object_array_add(w, json_object_new_string(s->watches.t[i].root));
		json_object_object_add(o, "watch", w);
		json_object_object_add(o, "store_bytes",
				       json_object_new_int64(watches_store_bytes(&s->watches)));
	}
	json_object_object_add(o, "owner_uid", json_object_new_int(s->owner));
	if (s->cgid) {
		json_object_object_add(o, "cgroup", json_object_new_string(s->cgroup));
		json_object_object_add(o, "cgroup_id", json_object_new_int64(s->cgid));
	} else {
		json_object_object_add(o, "pid", json_object_new_int(s->pid));
	}
	for (size_t i = 0; i < s->ntargets; i++) {
		json_object *t = json_object_new_object();

		json_object_object_add(t, "pid", json_object_new_int(s->targets[i].tgid));
		json_object_object_add(t, "alive", json_object_new_boolean(s->targets[i].alive));
		json_object_object_add(t, "armed", json_object_new_boolean(s->targets[i].wp != NULL));
		if (s->rewind_mode)
			json_object_object_add(t, "in_checkpoint",
					       json_object_new_boolean(s->targets[i].img != NULL));
		json_object_array_add(arr, t);
	}
	json_object_object_add(o, "targets", arr);
	json_object_object_add(o, "invocation", json_object_new_int64(s->cur->number));
	json_object_object_add(o, "invocations_recorded", json_object_new_int64(s->ndone));
	json_object_object_add(o, "dropped", json_object_new_int64(s->dropped_total));
	return o;
}

static json_object *do_status(struct rw_sessions *S, struct rw_session *only, uid_t uid)
{
	json_object *resp = json_object_new_object(), *arr = json_object_new_array();

	tracker_drain(S->tracker);
	for (size_t i = 0; i < RW_MAX_SESSIONS; i++) {
		struct rw_session *s = S->slot[i];

		if (!s || (only && s != only) || (uid != 0 && s->owner != uid))
			continue;
		s->dropped_total = tracker_dropped(S->tracker, s->id);
		json_object_array_add(arr, session_json(s));
	}
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "sessions", arr);
	json_object_object_add(resp, "ringbuf_bytes", json_object_new_int64(S->ringbuf_bytes));
	json_object_object_add(resp, "bad_records", json_object_new_int64(S->bad_records));
	return resp;
}

static json_object *do_detach(struct rw_sessions *S, struct rw_session *s)
{
	json_object *resp;
	uint32_t id = s->id;

	for (size_t i = 0; S->fswatch && i < s->watches.n; i++)
		fswatch_remove_tree(S->fswatch, WATCH_TAG(id, i));
	tracker_untrack_session(S->tracker, id);
	/* Records already in the ring still name this id: consume them before it is reused. */
	tracker_drain(S->tracker);
	S->slot[id] = NULL;
	session_free(s);
	pr_info("session %u: detached\n", id);
	resp = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(id));
	return resp;
}

/* ---- checkpoint and rewind ------------------------------------------------ */

static const struct rw_maps *image_maps(void *ctx, pid_t tgid)
{
	struct rw_target *t = find_target(ctx, tgid);

	return t && t->img ? &t->img->maps : NULL;
}

static json_object *json_ns(const char *const *names, const uint64_t *vals, size_t n)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, names[i], json_object_new_int64(vals[i]));
	return o;
}

/* Start the next invocation; rewind sessions keep only the last reports. */
static int next_invocation(struct rw_session *s)
{
	struct rw_invocation **done, *next;

	done = realloc(s->done, (s->ndone + 1) * sizeof(*done));
	next = invocation_new(s->cur->number + 1, s->cur->end_ns);
	if (!done || !next) {
		free(next);
		if (done)
			s->done = done;
		return -ENOMEM;
	}
	s->done = done;
	s->done[s->ndone++] = s->cur;
	s->cur = next;
	if (s->rewind_mode && s->ndone > REWIND_KEEP_INVOCATIONS) {
		invocation_free(s->done[0]);
		memmove(s->done, s->done + 1, (s->ndone - 1) * sizeof(*s->done));
		s->ndone--;
	}
	return 0;
}

/* Forget processes that are gone and were not in the checkpoint (killed new ones). */
static void compact_targets(struct rw_session *s)
{
	size_t out = 0;

	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];

		if (!t->alive && !t->img && t->tgid != s->pid) {
			target_disarm(t);
			proc_maps_free(&t->maps);
			continue;
		}
		s->targets[out++] = *t;
	}
	s->ntargets = out;
}

static bool is_bystander(const struct rw_session *s, pid_t pid)
{
	for (size_t i = 0; i < s->nbystanders; i++)
		if (s->bystanders[i] == pid)
			return true;
	return false;
}

static int add_pid(pid_t **arr, size_t *n, pid_t pid)
{
	pid_t *more;

	for (size_t i = 0; i < *n; i++)
		if ((*arr)[i] == pid)
			return 0;
	more = realloc(*arr, (*n + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	*arr = more;
	(*arr)[(*n)++] = pid;
	return 1;
}

struct quiesce_ctx {
	struct rw_sessions *S;
	struct rw_session *s;
};

/* What the target did up to its stop is the log's; what our injections did is not. */
static void drop_own_records(void *arg)
{
	struct quiesce_ctx *q = arg;

	q->s->discard = true;
	tracker_drain(q->S->tracker);
	q->s->discard = false;
}

/*
 * Files the checkpointed processes map shared and writable: their stores
 * reach the file without a syscall, so every invocation may have touched them.
 */
static int shared_writable_files(struct rw_session *s, char ***out, size_t *n)
{
	static const char deleted[] = " (deleted)";

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct rw_proc_image *img = s->targets[i].img;

		for (size_t k = 0; img && k < img->maps.n; k++) {
			const struct rw_vma *v = &img->maps.v[k];
			size_t len = strlen(v->name);
			char **more;

			if (!v->shared || !(v->prot & PROT_WRITE) || v->name[0] != '/')
				continue;
			if (len > sizeof(deleted) - 1 &&
			    !strcmp(v->name + len - (sizeof(deleted) - 1), deleted))
				continue;	/* unlinked: no longer an entry of any tree */
			more = realloc(*out, (*n + 1) * sizeof(*more));
			if (!more)
				return -ENOMEM;
			*out = more;
			if (!(more[*n] = strdup(v->name)))
				return -ENOMEM;
			(*n)++;
		}
	}
	return 0;
}

static json_object *do_checkpoint(struct rw_sessions *S, struct rw_session *s)
{
	static const char *const names[] = { "stop", "arm", "capture", "resume", "total" };
	uint64_t t0 = rw_now_ns(), stored = 0, zero = 0, bytes = 0, present = 0;
	struct rw_ckpt_stats st = { 0 };
	struct rw_fs_stats fst = { 0 };
	size_t nprocs = 0, nthreads = 0;
	json_object *resp, *o, *warnings;
	const char *what = "checkpoint";
	char why[512];
	int err;

	if (!s->rewind_mode)
		return error_response("session %u is a report session (--report): attach without "
				      "--report to checkpoint and rewind", s->id);
	if (s->state != RW_SESSION_ACTIVE)
		return error_response("session %u: %s", s->id, s->why);
	tracker_drain(S->tracker);
	sync_cgroup_targets(s);

	/* Refuse up front what could not be rewound safely. */
	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];
		struct rw_proc_status ps;

		if (!t->alive)
			continue;
		err = auth_may_attach_pid(s->owner, t->tgid, why, sizeof(why));
		if (err == -ESRCH) {
			t->alive = false;
			continue;
		}
		if (err)
			return error_response("session %u: pid %d can no longer be traced by uid %u: %s",
					      s->id, t->tgid, s->owner, why);
		if (!proc_read_status(t->tgid, &ps) && ps.seccomp != 0)
			return error_response("session %u: pid %d runs under seccomp: rewindd injects "
					      "syscalls into the processes it rewinds and a filter "
					      "could kill it; not supported", s->id, t->tgid);
	}
	if (s->pid && !find_target(s, s->pid)->alive)
		return error_response("session %u: process %d has exited", s->id, s->pid);

	/* Nothing before the checkpoint belongs to the first invocation. */
	tracker_drain(S->tracker);
	{
		struct rw_invocation *fresh = invocation_new(s->cur->number, rw_now_ns());

		if (!fresh)
			return error_response("out of memory");
		invocation_free(s->cur);
		s->cur = fresh;
	}
	warnings = json_object_new_array();
	/* From here on the old checkpoint is dropped: every failure goes to fail. */
	s->lost = 0;	/* a new checkpoint forgets the old one's losses */
	s->busy = true;
	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];

		target_drop_image(t);
		if (!t->alive)
			continue;
		t->img = calloc(1, sizeof(*t->img));
		struct quiesce_ctx q = { S, s };

		err = t->img ? rewind_checkpoint_process(t->tgid, &t->wp, t->img, drop_own_records,
							 &q, &st, why, sizeof(why)) : -ENOMEM;
		if (err) {
			free(t->img);
			t->img = NULL;
			if (err == -ENOMEM)
				snprintf(why, sizeof(why), "out of memory");
			goto fail;
		}
		if (!t->wp) {
			snprintf(why, sizeof(why), "pid %d: write protection unavailable: every rewind "
				 "restores all of its private memory", t->tgid);
			json_object_array_add(warnings, json_object_new_string(why));
		}
		nprocs++;
		nthreads += t->img->nthreads;
		stored += t->img->pages_stored;
		zero += t->img->pages_zero;
		bytes += t->img->store_len;
		present += t->img->private_writable_present;
	}
	/* pid mode: children that predate the checkpoint are not the session's to kill. */
	free(s->bystanders);
	s->bystanders = NULL;
	s->nbystanders = 0;
	for (size_t i = 0; s->pid && i < s->ntargets; i++) {
		pid_t *kids = NULL;
		size_t n = 0;

		if (!s->targets[i].img || rewind_children_of(s->targets[i].tgid, &kids, &n))
			continue;
		for (size_t k = 0; k < n; k++) {
			struct rw_target *c = find_target(s, kids[k]);

			if (c && c->img)
				continue;
			if (add_pid(&s->bystanders, &s->nbystanders, kids[k]) > 0) {
				snprintf(why, sizeof(why), "pid %d, a child of %d, predates the "
					 "checkpoint and is not part of the session: it is neither "
					 "rewound nor killed", kids[k], s->targets[i].tgid);
				json_object_array_add(warnings, json_object_new_string(why));
			}
		}
		free(kids);
	}
	if (s->watches.n) {
		char **mapped = NULL;
		size_t nmapped = 0;

		err = shared_writable_files(s, &mapped, &nmapped);
		if (err)
			snprintf(why, sizeof(why), "out of memory");
		else
			err = watches_checkpoint(&s->watches, mapped, nmapped, &fst, why, sizeof(why));
		for (size_t i = 0; i < nmapped; i++)
			free(mapped[i]);
		free(mapped);
		if (err) {
			what = "checkpoint of the watched trees";
			goto fail;
		}
	}
	s->busy = false;
	s->dropped_seen = tracker_dropped(S->tracker, s->id);
	s->checkpointed = true;
	pr_info("session %u: checkpoint of %zu process(es), %zu thread(s), %llu pages stored\n",
		s->id, nprocs, nthreads, (unsigned long long)stored);

	resp = json_object_new_object();
	o = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(s->id));
	json_object_object_add(o, "processes", json_object_new_int64(nprocs));
	json_object_object_add(o, "threads", json_object_new_int64(nthreads));
	json_object_object_add(o, "pages_stored", json_object_new_int64(stored));
	json_object_object_add(o, "pages_zero", json_object_new_int64(zero));
	json_object_object_add(o, "image_bytes", json_object_new_int64(bytes));
	json_object_object_add(o, "private_writable_bytes", json_object_new_int64(present));
	{
		uint64_t v[] = { st.stop_ns, st.arm_ns, st.capture_ns, st.resume_ns,
				 rw_now_ns() - t0 };

		json_object_object_add(o, "timing_ns", json_ns(names, v, 5));
	}
	if (s->watches.n) {
		json_object *f = json_object_new_object();

		json_object_object_add(f, "trees", json_object_new_int64(s->watches.n));
		json_object_object_add(f, "entries", json_object_new_int64(fst.entries));
		json_object_object_add(f, "store_bytes",
				       json_object_new_int64(watches_store_bytes(&s->watches)));
		json_object_object_add(f, "bytes_cloned", json_object_new_int64(fst.bytes_cloned));
		json_object_object_add(f, "bytes_copied", json_object_new_int64(fst.bytes_copied));
		json_object_object_add(f, "ns", json_object_new_int64(fst.ns));
		json_object_object_add(o, "files", f);
	}
	json_object_object_add(resp, "checkpoint", o);
	json_object_object_add(resp, "warnings", warnings);
	return resp;

fail:
	for (size_t k = 0; k < s->ntargets; k++)
		target_drop_image(&s->targets[k]);
	s->checkpointed = false;
	s->busy = false;
	json_object_put(warnings);
	return error_response("session %u: %s failed: %s (the processes run on as they were; no "
			      "checkpoint is held)", s->id, what, why);
}

/*
 * Fail closed: nothing of the session may run un-rewound. Kill or stop
 * every process, let go of them, mark the session failed.
 */
static json_object *fail_closed(struct rw_sessions *S, struct rw_session *s,
				struct rw_rewinding *procs, size_t nprocs, const char *why)
{
	int sig = s->on_failure == RW_ON_FAILURE_STOP ? SIGSTOP : SIGKILL;

	for (size_t i = 0; i < s->ntargets; i++)
		if (s->targets[i].alive)
			kill(s->targets[i].tgid, sig);
	/* Released after the signal is queued: a stopped process stays stopped. */
	for (size_t i = 0; i < nprocs; i++)
		rewind_abandon(&procs[i]);
	for (size_t i = 0; i < s->ntargets; i++) {
		target_disarm(&s->targets[i]);
		target_drop_image(&s->targets[i]);
	}
	s->state = RW_SESSION_FAILED;
	snprintf(s->why, sizeof(s->why), "rewind of invocation %u failed: %s", s->cur->number, why);
	invocation_note(s->cur, "%s", s->why);
	s->cur->end_ns = rw_now_ns();
	next_invocation(s);
	tracker_untrack_session(S->tracker, s->id);
	pr_err("session %u: %s; target %s\n", s->id, s->why,
	       sig == SIGKILL ? "killed" : "left stopped");
	return error_response("session %u: %s; the target was %s and the session is failed", s->id,
			      s->why, sig == SIGKILL ? "killed" : "left stopped");
}

/* Processes to kill: tracked or in the cgroup without being in the checkpoint, and their descendants. */
static int new_processes(struct rw_session *s, pid_t **out, size_t *n)
{
	pid_t *pids = NULL, *kids;
	size_t nk;
	int err = 0;

	*n = 0;
	for (size_t i = 0; i < s->ntargets && err >= 0; i++) {
		struct rw_target *t = &s->targets[i];

		if (t->alive && !t->img && !t->excluded)
			err = add_pid(&pids, n, t->tgid);
		if (!t->img || err < 0)
			continue;
		if (rewind_children_of(t->tgid, &kids, &nk))
			continue;
		for (size_t k = 0; k < nk && err >= 0; k++) {
			struct rw_target *c = find_target(s, kids[k]);

			if (!(c && c->img) && !is_bystander(s, kids[k]))
				err = add_pid(&pids, n, kids[k]);
		}
		free(kids);
	}
	if (s->cgid && err >= 0) {
		pid_t *members = NULL;
		size_t nm = 0;

		if (!cgroup_list_procs(s->cgroup, &members, &nm)) {
			for (size_t k = 0; k < nm && err >= 0; k++) {
				struct rw_target *c = find_target(s, members[k]);

				if (!(c && c->img))
					err = add_pid(&pids, n, members[k]);
			}
			free(members);
		}
	}
	/* Their descendants too: killing a parent would let its children escape to init. */
	for (size_t i = 0; i < *n && err >= 0; i++) {
		if (rewind_children_of(pids[i], &kids, &nk))
			continue;
		for (size_t k = 0; k < nk && err >= 0; k++)
			err = add_pid(&pids, n, kids[k]);
		free(kids);
	}
	if (err < 0) {
		free(pids);
		*n = 0;
		return err;
	}
	*out = pids;
	return 0;
}

/* Rolled back by the rewind: such a file does not persist. */
static bool watched(void *ctx, const char *path)
{
	return watches_cover(ctx, path);
}

static json_object *do_rewind(struct rw_sessions *S, struct rw_session *s, bool verify)
{
	static const char *const names[] = { "stop", "kill", "scan", "plan", "layout", "copy",
					     "inject", "regs", "rearm", "files", "verify", "resume",
					     "total" };
	struct rw_invocation *inv = s->cur;
	struct rw_rewind_stats st = { 0 };
	struct rw_watch_result wres = { 0 };
	struct rw_rewinding *procs;
	json_object *resp, *o, *plans, *report;
	uint64_t t0 = rw_now_ns(), dropped, files_ns = 0;
	size_t nprocs = 0, nkilled = 0;
	pid_t *killed = NULL;
	char why[1024];
	int err = 0;

	if (!s->rewind_mode)
		return error_response("session %u is a report session (--report): it has no "
				      "checkpoint to rewind to", s->id);
	if (s->state == RW_SESSION_FAILED)
		return error_response("session %u: %s; it cannot be rewound any more (detach it)",
				      s->id, s->why);
	if (s->state != RW_SESSION_ACTIVE)
		return error_response("session %u: %s", s->id, s->why);
	if (!s->checkpointed)
		return error_response("session %u has no checkpoint: run `rewindctl checkpoint %u` "
				      "first", s->id, s->id);

	tracker_drain(S->tracker);
	if (s->lost) {
		snprintf(why, sizeof(why), "process %d of the checkpoint has exited", s->lost);
		return fail_closed(S, s, NULL, 0, why);
	}
	s->busy = true;
	dropped = tracker_dropped(S->tracker, s->id);
	inv->dropped = dropped - s->dropped_seen;
	s->dropped_seen = dropped;
	s->dropped_total = dropped;
	if (inv->dropped)
		invocation_note(inv, "%llu events were dropped (ring buffer full): layout, "
				"signals and timers were restored without trusting the log",
				(unsigned long long)inv->dropped);
	sync_cgroup_targets(s);

	/* Out of memory: nothing is stopped yet, but the invocation cannot be undone. */
	procs = calloc(s->ntargets ? s->ntargets : 1, sizeof(*procs));
	if (!procs) {
		err = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
	}
	for (size_t i = 0; i < s->ntargets && !err; i++) {
		if (!s->targets[i].img)
			continue;
		procs[nprocs].img = s->targets[i].img;
		procs[nprocs].wp = s->targets[i].wp;
		procs[nprocs].hot = &s->targets[i].hot;
		nprocs++;
	}
	for (size_t i = 0; i < nprocs && !err; i++)
		err = rewind_stop(&procs[i], &st, why, sizeof(why));
	/* All stopped: the log up to here is the invocation's; from here on records are ours. */
	tracker_drain(S->tracker);
	s->discard = true;
	if (!err) {
		uint64_t t = rw_now_ns();

		err = new_processes(s, &killed, &nkilled);
		if (err)
			snprintf(why, sizeof(why), "listing processes created since the checkpoint: %s",
				 strerror(-err));
		if (!err && nkilled)
			err = rewind_kill(killed, nkilled, procs, nprocs, why, sizeof(why));
		for (size_t i = 0; i < nkilled; i++) {
			struct rw_target *t2 = find_target(s, killed[i]);

			if (t2)
				t2->alive = false;
		}
		st.kill_ns += rw_now_ns() - t;
	}
	for (size_t i = 0; i < nprocs && !err; i++) {
		struct rw_log_facts facts;
		struct rw_target *t = find_target(s, procs[i].img->tgid);

		err = rewind_log_facts(inv, procs[i].img->tgid, inv->dropped > 0, &facts);
		if (err) {
			snprintf(why, sizeof(why), "reading the invocation's log: %s", strerror(-err));
			break;
		}
		err = rewind_plan(&procs[i], &facts, &st, why, sizeof(why));
		rewind_log_facts_free(&facts);
		if (!procs[i].wp && t->wp) {
			invocation_note(inv, "pid %d: write-protection scan failed: its private memory "
					"was restored whole", t->tgid);
			target_disarm(t);
		}
	}
	for (size_t i = 0; i < nprocs && !err; i++)
		err = rewind_apply(&procs[i], &st, why, sizeof(why));
	/* Files while everything is stopped: no process sees half of them restored. */
	if (!err && s->watches.n) {
		uint64_t t = rw_now_ns();

		sessions_on_fswatch(S);
		err = watches_rewind(&s->watches, inv, inv->dropped > 0, &wres, why, sizeof(why));
		files_ns = rw_now_ns() - t;
		for (size_t i = 0; i < wres.nnotes; i++)
			invocation_note(inv, "%s", wres.notes[i]);
	}
	for (size_t i = 0; i < nprocs && !err && verify; i++) {
		struct rw_verify_result vr = { 0 };

		err = rewind_verify(&procs[i], &vr, &st);
		if (err) {
			snprintf(why, sizeof(why), "pid %d: verification could not be made: %s",
				 procs[i].img->tgid, strerror(-err));
		} else if (vr.differences) {
			size_t len = snprintf(why, sizeof(why), "verification found %llu difference(s)",
					      (unsigned long long)vr.differences);

			for (size_t k = 0; k < vr.nlisted && len < sizeof(why); k++)
				len += snprintf(why + len, sizeof(why) - len, "%s %s", k ? ";" : ":",
						vr.listed[k]);
			err = -EIO;
		}
		verify_result_free(&vr);
	}
	if (!err && verify && s->watches.n) {
		struct rw_fs_diffs d = { 0 };
		uint64_t t = rw_now_ns();

		err = watches_verify(&s->watches, &d, why, sizeof(why));
		if (!err && d.count) {
			size_t len = snprintf(why, sizeof(why), "verification found %llu difference(s) "
					      "in watched trees", (unsigned long long)d.count);

			for (size_t k = 0; k < d.nlisted && len < sizeof(why); k++)
				len += snprintf(why + len, sizeof(why) - len, "%s %s", k ? ";" : ":",
						d.listed[k]);
			err = -EIO;
		}
		fsimage_diffs_free(&d);
		st.verify_ns += rw_now_ns() - t;
	}
	if (err) {
		watch_result_free(&wres);
		free(killed);
		s->busy = false;
		tracker_drain(S->tracker);
		s->discard = false;
		resp = fail_closed(S, s, procs, nprocs, why);
		free(procs);
		return resp;
	}

	/* The invocation's report: what the scan found, per process. */
	for (size_t i = 0; i < nprocs; i++) {
		for (size_t k = 0; k < procs[i].written.n; k++)
			invocation_add_written(inv, procs[i].img->tgid, procs[i].written.r[k].start,
					       procs[i].written.r[k].end);
		if (procs[i].untracked)
			invocation_note(inv, "pid %d: %llu pages written by the invocations before were "
					"not write-protected (restored at every rewind); they count as "
					"written", procs[i].img->tgid,
					(unsigned long long)procs[i].untracked);
	}
	plans = json_object_new_array();
	for (size_t i = 0; i < nprocs; i++) {
		json_object *pj = plan_to_json(&procs[i].plan);

		pr_debug("session %u: plan %s\n", s->id,
			 json_object_to_json_string_ext(pj, JSON_C_TO_STRING_PLAIN));
		json_object_array_add(plans, pj);
	}
	/* Our injections' records go; the next invocation starts before anything runs. */
	tracker_drain(S->tracker);
	s->discard = false;
	for (size_t i = 0; i < nkilled; i++)
		invocation_note(inv, "pid %d was created since the checkpoint: killed", killed[i]);
	free(killed);
	invocation_close(inv, rw_now_ns(), target_covers, image_maps, s);
	if (invocation_find_persisting(inv, watched, &s->watches))
		invocation_note(inv, "out of memory listing the files that persist");
	report = invocation_summary_json(inv);
	next_invocation(s);
	compact_targets(s);
	for (size_t i = 0; i < nprocs; i++)
		if (rewind_resume(&procs[i], &st) && !err) {
			err = -ESRCH;
			snprintf(why, sizeof(why), "pid %d: a thread died while being released",
				 procs[i].img->tgid);
		}
	s->busy = false;
	free(procs);
	if (err) {
		watch_result_free(&wres);
		json_object_put(plans);
		json_object_put(report);
		return fail_closed(S, s, NULL, 0, why);
	}

	resp = json_object_new_object();
	o = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(s->id));
	json_object_object_add(o, "pages_restored",
			       json_object_new_int64(st.pages_copied + st.pages_dropped));
	json_object_object_add(o, "pages_copied", json_object_new_int64(st.pages_copied));
	json_object_object_add(o, "pages_dropped", json_object_new_int64(st.pages_dropped));
	json_object_object_add(o, "pages_wholesale", json_object_new_int64(st.pages_wholesale));
	json_object_object_add(o, "pages_zero_filled", json_object_new_int64(st.pages_zero_filled));
	json_object_object_add(o, "pages_hot", json_object_new_int64(st.pages_hot));
	json_object_object_add(o, "threads_exited", json_object_new_int64(st.threads_exited));
	json_object_object_add(o, "processes_killed", json_object_new_int64(nkilled));
	json_object_object_add(o, "syscalls_injected", json_object_new_int64(st.injected));
	json_object_object_add(o, "verified", json_object_new_boolean(verify));
	{
		uint64_t v[] = { st.stop_ns, st.kill_ns, st.scan_ns, st.plan_ns, st.layout_ns,
				 st.copy_ns, st.inject_ns, st.regs_ns, st.rearm_ns, files_ns,
				 st.verify_ns, st.resume_ns, rw_now_ns() - t0 };

		json_object_object_add(o, "timing_ns", json_ns(names, v, 13));
	}
	if (s->watches.n)
		json_object_object_add(o, "files", watch_result_json(&wres));
	watch_result_free(&wres);
	json_object_object_add(o, "plan", plans);
	json_object_object_add(resp, "rewind", o);
	json_object_object_add(resp, "report", report);
	return resp;
}

json_object *sessions_handle(struct rw_sessions *S, const struct rw_request *req,
			     const struct ucred *peer)
{
	struct rw_session *s = NULL;

	if (req->cmd == RW_CMD_ATTACH)
		return do_attach(S, req, peer->uid);
	if (req->session) {
		s = req->session < RW_MAX_SESSIONS ? S->slot[req->session] : NULL;
		if (!s)
			return error_response("no session %u", req->session);
		/* Only root and the uid that attached may see or steer a session. */
		if (peer->uid != 0 && peer->uid != s->owner)
			return error_response("permission denied: session %u belongs to uid %u",
					      s->id, s->owner);
	}
	switch (req->cmd) {
	case RW_CMD_STATUS:
		return do_status(S, s, peer->uid);
	case RW_CMD_MARK:
		return s ? do_mark(S, s) : error_response("mark needs a session id");
	case RW_CMD_REPORT:
		return s ? do_report(S, s, req->canary) : error_response("report needs a session id");
	case RW_CMD_DETACH:
		return s ? do_detach(S, s) : error_response("detach needs a session id");
	case RW_CMD_CHECKPOINT:
		return s ? do_checkpoint(S, s) : error_response("checkpoint needs a session id");
	case RW_CMD_REWIND:
		return s ? do_rewind(S, s, req->verify) : error_response("rewind needs a session id");
	default:
		return error_response("unknown command");
	}
}

/* ---- writers of watched trees that the log does not see -------------------- */

static void on_fswatch(void *ctx, int tag, pid_t pid)
{
	struct rw_sessions *S = ctx;
	struct rw_proc_status ps;
	struct rw_session *s;
	uint32_t id;
	size_t tree;

	if (tag == FSWATCH_ALL_TREES) {
		for (size_t i = 0; i < RW_MAX_SESSIONS; i++)
			for (size_t k = 0; S->slot[i] && k < S->slot[i]->watches.n; k++)
				watches_distrust(&S->slot[i]->watches, k, "fanotify's queue overflowed: "
						 "changes by anyone may have been missed");
		return;
	}
	id = tag / RW_MAX_WATCH;
	tree = tag % RW_MAX_WATCH;
	s = id < RW_MAX_SESSIONS ? S->slot[id] : NULL;
	if (!s || pid == getpid())
		return;		/* our own restores */
	if (pid > 0 && find_target(s, pid))
		return;		/* the log has it */
	if (pid > 0 && s->cgid) {
		sync_cgroup_targets(s);	/* joined the cgroup since we last looked */
		if (find_target(s, pid))
			return;
	}
	if (pid <= 0)
		watches_distrust(&s->watches, tree, "a writer rewindd cannot name (outside its pid "
				 "namespace), or a directory it could not watch, changed it");
	else
		watches_distrust(&s->watches, tree, "pid %d (%s), which the session does not track, "
				 "changed it", pid, proc_read_status(pid, &ps) ? "exited" : ps.name);
}

void sessions_on_fswatch(struct rw_sessions *S)
{
	if (!S->fswatch)
		return;
	/* Fork records first: a new child of a target is tracked, not a stranger. */
	tracker_drain(S->tracker);
	fswatch_drain(S->fswatch, on_fswatch, S);
}

int sessions_fswatch_fd(const struct rw_sessions *S)
{
	return S->fswatch ? fswatch_fd(S->fswatch) : -1;
}

/* ---- records ------------------------------------------------------------ */

static void on_task_record(struct rw_session *s, const struct rw_task_event *e)
{
	struct rw_target *t;

	switch (e->op) {
	case RW_TASK_NEW_PROCESS:
		/* Armed at the next mark; until then its pages come from its faults. */
		add_target(s, e->pid_tgid);
		break;
	case RW_TASK_EXIT_PROCESS:
		t = find_target(s, e->pid_tgid);
		if (!t)
			break;
		t->alive = false;
		/*
		 * A checkpointed process is gone: the next rewind must fail. Let go
		 * of its image now, fds included: holding a dead process's pipes
		 * would keep its peers from ever seeing EOF.
		 */
		if (t->img && !s->busy) {
			if (!s->lost)
				s->lost = t->tgid;
			target_drop_image(t);
			target_disarm(t);
		}
		break;
	case RW_TASK_EXEC:
		t = find_target(s, e->pid_tgid);
		if (t)
			t->exec_seen = true;
		break;
	}
}

int sessions_on_record(void *ctx, const void *data, size_t size)
{
	const struct rw_event_hdr *h = data;
	struct rw_sessions *S = ctx;
	struct rw_session *s;

	if (size < sizeof(*h) || h->session == 0 || h->session >= RW_MAX_SESSIONS ||
	    !(s = S->slot[h->session])) {
		S->bad_records++;
		return 0;
	}
	if (s->discard)
		return 0;
	if (h->kind == RW_EV_TASK && size >= sizeof(struct rw_task_event))
		on_task_record(s, data);
	if (invocation_add_record(s->cur, data, size))
		S->bad_records++;
	return 0;
}

int sessions_init(struct rw_sessions *S, const struct rw_tracker_opts *opts)
{
	char why[256];

	memset(S, 0, sizeof(*S));
	S->next_id = 1;
	S->ringbuf_bytes = opts && opts->ringbuf_bytes ? opts->ringbuf_bytes : 16u << 20;
	snprintf(S->state_dir, sizeof(S->state_dir), "%s", RW_DEFAULT_STATE_DIR);
	if (fswatch_open(&S->fswatch, why, sizeof(why)))
		pr_warn("%s: watched trees will be compared whole at every rewind\n", why);
	return tracker_open(&S->tracker, opts, sessions_on_record, S);
}

void sessions_fini(struct rw_sessions *S)
{
	for (size_t i = 0; i < RW_MAX_SESSIONS; i++) {
		if (S->slot[i])
			tracker_untrack_session(S->tracker, i);
		session_free(S->slot[i]);
		S->slot[i] = NULL;
	}
	tracker_close(S->tracker);
	S->tracker = NULL;
	fswatch_close(S->fswatch);
	S->fswatch = NULL;
}
