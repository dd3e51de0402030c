// SPDX-License-Identifier: GPL-2.0-only
/* Report mode: mark ends an invocation; report lists them and finds canaries. */
#define LOG_PREFIX "session: "
#include <errno.h>
#include <fcntl.h>
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
#include "fanotify_watch.h"
#include "invocation.h"
#include "log.h"
#include "proc.h"
#include "rewind.h"
#include "rewind/events.h"
#include "session_state.h"
#include "watched_trees.h"
#include "wp.h"

/* A report's processes named in their own pid namespaces too: ns_pid next to each pid. */
static json_object *with_ns_pids(struct rw_session *s, json_object *inv)
{
	json_object *a;

	if (json_object_object_get_ex(inv, "mappings", &a))
		targets_add_ns_pids(s, a, "pid", "ns_pid");
	if (json_object_object_get_ex(inv, "tasks", &a)) {
		targets_add_ns_pids(s, a, "pid", "ns_pid");
		targets_add_ns_pids(s, a, "tgid", "ns_tgid");
	}
	return inv;
}

void target_state_baseline(struct rw_target *t)
{
	struct rw_fingerprint *fp = calloc(1, sizeof(*fp));

	if (t->fp) {
		fingerprint_free(t->fp);
		free(t->fp);
	}
	t->fp = NULL;
	if (fp && fingerprint_read(t->tgid, fp) == 0)
		t->fp = fp;
	else
		free(fp);
}

struct change_sink {
	struct rw_invocation *inv;
	pid_t tgid;
	int err;
};

static void add_change(void *ctx, const char *class, const char *what)
{
	struct change_sink *c = ctx;

	if (!c->err)
		c->err = invocation_add_state_change(c->inv, c->tgid, class, what);
}

/*
 * What a rewind would have put back or refused: the target's state now
 * against the start of the invocation, class by class; now becomes the next
 * invocation's start. Unreadable (it exited, or a /proc entry is refused):
 * said in a note, never taken for "unchanged".
 */
static void target_state_changes(struct rw_invocation *inv, struct rw_target *t, const char *label)
{
	struct change_sink sink = { inv, t->tgid, 0 };
	struct rw_fingerprint *was = t->fp;

	t->fp = NULL;
	target_state_baseline(t);
	if (!was)
		return;
	if (!t->fp)
		invocation_note(inv, "pid %s: its process state could not be read at the end of the "
				"invocation: state changes unknown", label);
	else
		fingerprint_diff(was, t->fp, add_change, &sink);
	if (sink.err)
		invocation_note(inv, "pid %s: state changes incomplete: %s", label,
				strerror(-sink.err));
	fingerprint_free(was);
	free(was);
}

/*
 * End the current invocation: drain the log, scan and re-arm every target,
 * fold the scans into the records, attribute pages, start the next one.
 */
json_object *session_mark(struct rw_sessions *S, struct rw_session *s)
{
	struct rw_invocation *inv = s->cur;
	json_object *resp, *obj;
	bool root_gone = false;
	int err;

	if (s->state != RW_SESSION_ACTIVE)
		return session_error("session %u: %s; its report is still available", s->id, s->why);
	if (s->rewind_mode)
		return session_error("session %u is a rewind session: each rewind ends an "
				      "invocation (mark is for --report sessions)", s->id);

	tracker_drain(S->tracker);
	inv->dropped += session_take_dropped(S, s);
	if (inv->dropped) {
		pr_warn("session %u: %llu events dropped in invocation %u (ring buffer full)\n",
			s->id, (unsigned long long)inv->dropped, inv->number);
		invocation_note(inv, "%llu events were dropped (ring buffer full): files, layout and "
				"tasks may be incomplete; pages in armed memory come from the scan",
				(unsigned long long)inv->dropped);
	}
	targets_sync_cgroup(s);

	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];
		struct rw_ranges written = { 0 };
		struct rw_ranges_collect c = { .ranges = &written };
		char label[RW_PID_LABEL_MAX];

		target_label(t, label, sizeof(label));
		proc_maps_free(&t->maps);
		if (!t->alive)
			continue;
		err = proc_read_maps(t->tgid, &t->maps);
		if (err) {
			t->alive = false;
			invocation_note(inv, "pid %s exited during the invocation", label);
			continue;
		}
		target_state_changes(inv, t, label);
		if (!t->wp)
			continue;
		if (t->exec_seen) {
			invocation_note(inv, "pid %s exec'd: pages of its new image come from faults",
					label);
			target_disarm(t);
			continue;
		}
		/* Coverage as the kernel has it now: layout changes drop registrations. */
		if (wp_scan(t->wp, true, ranges_collect, &c) < 0 || c.err ||
		    invocation_add_written_ranges(inv, t->tgid, &written) || wp_refresh(t->wp, &t->maps)) {
			invocation_note(inv, "pid %s: write-protection scan failed; pages from faults "
					"only", label);
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

	if (session_next_invocation(s))
		return session_error("out of memory");

	if (root_gone || (s->pid && !target_find(s, s->pid)->alive)) {
		struct rw_target *root = target_find(s, s->pid);
		char label[RW_PID_LABEL_MAX];

		target_label(root, label, sizeof(label));
		s->state = RW_SESSION_EXITED;
		if (root->excluded)
			snprintf(s->why, sizeof(s->why), "target process %s can no longer be traced "
				 "by uid %u (exec of a privileged program?)", label, s->owner);
		else
			snprintf(s->why, sizeof(s->why), "target process %s exited during "
				 "invocation %u", label, inv->number);
	}
	obj = with_ns_pids(s, invocation_to_json(inv));
	if (s->state == RW_SESSION_EXITED) {
		json_object_put(obj);
		return session_error("session %u: %s; its report is kept", s->id, s->why);
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
 * A live process of the session in mount namespace mnt_ns, its root in
 * *view (kept open across calls for the same namespace). False if none.
 */
static bool view_of(const struct rw_session *s, uint32_t mnt_ns, struct rw_nsroot *view)
{
	if (!mnt_ns)
		return false;
	if (view->fd >= 0 && view->mnt_ns == mnt_ns)
		return true;
	nsroot_close(view);
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct rw_target *t = &s->targets[i];

		if (!t->alive || t->excluded || nsroot_mnt_ns_of(t->tgid) != mnt_ns)
			continue;
		char why[256];

		if (!nsroot_of_pid(t->tgid, view, why, sizeof(why)) && view->mnt_ns == mnt_ns)
			return true;
		nsroot_close(view);
	}
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
	size_t len = strlen(canary), npaths = 0, skipped = 0, unviewed = 0;
	struct rw_nsroot view = { .fd = -1 };
	char **paths = NULL, why[512];

	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];

		if (!t->alive || t->excluded || auth_may_attach_pid_as(&s->owner_auth, t->tgid, why, sizeof(why)))
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

				int fd;

				if (!p[j] || watches_cover(&s->watches, p[j]) ||
				    seen_path(paths, npaths, p[j]))
					continue;
				/* The path is in its writer's view: read it there, not rewindd's file of that name. */
				if (!view_of(s, inv->files[i].mnt_ns, &view)) {
					unviewed++;
					continue;
				}
				fd = nsroot_open(&view, p[j], O_PATH | O_NOFOLLOW, 0);
				if (fd < 0)
					continue;
				if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
					close(fd);
					continue;
				}
				if (s->owner != 0 && st.st_uid != s->owner) {
					close(fd);
					skipped++;
					continue;
				}
				more = realloc(paths, (npaths + 1) * sizeof(*more));
				if (!more || !(more[npaths] = strdup(p[j]))) {
					if (more)
						paths = more;
					close(fd);
					break;
				}
				paths = more;
				if (canary_scan_file_at(fd, paths[npaths++], canary, len, &files, why,
							sizeof(why)))
					json_object_array_add(notes, json_object_new_string(why));
				close(fd);
			}
		}
	}
	nsroot_close(&view);
	for (size_t i = 0; i < s->watches.n; i++)
		if (canary_scan_tree_at(s->watches.t[i].fd, s->watches.t[i].root, canary, len, &files,
					why, sizeof(why)))
			json_object_array_add(notes, json_object_new_string(why));
	if (unviewed) {
		snprintf(why, sizeof(why), "%zu file record(s) not searched: no live process of the "
			 "session sees the mount namespace that wrote them", unviewed);
		json_object_array_add(notes, json_object_new_string(why));
	}
	if (skipped) {
		snprintf(why, sizeof(why), "%zu file(s) not searched: not owned by uid %u", skipped,
			 s->owner);
		json_object_array_add(notes, json_object_new_string(why));
	}
	json_object_object_add(o, "canary", json_object_new_string(canary));
	json_object_object_add(o, "after_invocation",
			       json_object_new_int64(s->ndone ? s->done[s->ndone - 1]->number : 0));
	json_object_object_add(o, "memory", canary_hits_to_json(&mem));
	targets_add_ns_pids(s, json_object_object_get(o, "memory"), "pid", "ns_pid");
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

json_object *session_report(struct rw_sessions *S, struct rw_session *s, const char *canary)
{
	json_object *resp = session_ok(s->id), *arr = json_object_new_array();

	tracker_drain(S->tracker);
	for (size_t i = 0; i < s->ndone; i++)
		json_object_array_add(arr, with_ns_pids(s, invocation_to_json(s->done[i])));
	json_object_object_add(resp, "invocations", arr);
	if (canary && canary[0])
		json_object_object_add(resp, "canary", canary_report(s, canary));
	return resp;
}
