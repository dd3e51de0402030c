// SPDX-License-Identifier: GPL-2.0-only
/*
 * A session's targets: the processes it tracks, their write protection and
 * checkpoint images, cgroup membership, task records, and the writers of
 * watched trees that fanotify reports.
 */
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
#include "fanotify_watch.h"
#include "inject.h"
#include "invocation.h"
#include "log.h"
#include "proc.h"
#include "rewind.h"
#include "rewind/events.h"
#include "session_state.h"
#include "watched_trees.h"
#include "wp.h"

struct rw_target *target_find(struct rw_session *s, pid_t tgid)
{
	for (size_t i = 0; i < s->ntargets; i++)
		if (s->targets[i].tgid == tgid)
			return &s->targets[i];
	return NULL;
}

struct rw_target *target_add(struct rw_session *s, pid_t tgid)
{
	struct rw_target *t = target_find(s, tgid), *arr;

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
	/* Kept for what rewindd says of it after it is gone. */
	t->ns_pid = proc_ns_pid(tgid);
	if (t->ns_pid < 0)
		t->ns_pid = 0;
	return t;
}

const char *target_label(const struct rw_target *t, char *buf, size_t len)
{
	if (t->ns_pid && t->ns_pid != t->tgid)
		snprintf(buf, len, "%d (pid %d in its namespace)", t->tgid, t->ns_pid);
	else
		snprintf(buf, len, "%d", t->tgid);
	return buf;
}

void targets_add_ns_pids(struct rw_session *s, json_object *arr, const char *key,
			 const char *ns_key)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *v;
		struct rw_proc_status st;
		struct rw_target *t;
		pid_t pid, ns = 0;

		if (!json_object_object_get_ex(o, key, &v))
			continue;
		pid = json_object_get_int(v);
		t = target_find(s, pid);
		if (t)
			ns = t->ns_pid;
		/* A thread: read now, and only while it is one of a target's (not a reused id). */
		else if (pid > 0 && !proc_read_status(pid, &st) && target_find(s, st.tgid))
			ns = st.ns_pid;
		/* Gone before rewindd looked: unknown, so not said. */
		if (ns > 0)
			json_object_object_add(o, ns_key, json_object_new_int(ns));
	}
}

void target_disarm(struct rw_target *t)
{
	if (t->fp) {
		fingerprint_free(t->fp);
		free(t->fp);
		t->fp = NULL;
	}
	wp_close(t->wp);
	t->wp = NULL;
	hotset_free(&t->hot);
	ranges_free(&t->faulted_while_ours);
}

void target_drop_image(struct rw_target *t)
{
	hotset_free(&t->hot);
	iterobs_close(t->iter);
	t->iter = NULL;
	ranges_free(&t->faulted_while_ours);
	if (t->img) {
		t->stale = image_tmaps(t->img);
		image_free(t->img);
		free(t->img);
		t->img = NULL;
	}
}

/*
 * Arm write protection on every private writable mapping of a target. When
 * that is impossible (a seccomp filter rewindd cannot suspend, another tracer holds the
 * process), the target stays tracked by faults only and the caller says so.
 */
int target_arm(struct rw_sessions *S, struct rw_session *s, struct rw_target *t,
		      char *why, size_t whylen)
{
	struct rw_maps maps = { 0 };
	char denied[256], label[RW_PID_LABEL_MAX];
	int err;

	target_label(t, label, sizeof(label));
	if (t->exec_seen)
		target_disarm(t);	/* bound to the mm that exec replaced */
	if (!t->wp) {
		/*
		 * Every process is checked before rewindd touches it, not only the
		 * one attached to: a child may have exec'd a setuid program.
		 */
		err = auth_may_attach_pid_as(&s->owner_auth, t->tgid, denied, sizeof(denied));
		if (err == -EPERM) {
			t->excluded = true;
			t->alive = false;
			tracker_untrack_tgid(S->tracker, t->tgid);
			snprintf(why, whylen, "pid %s is no longer reachable by uid %u (%.120s): "
				 "not tracked any more", label, s->owner, denied);
			return err;
		}
		t->exec_seen = false;
		/*
		 * Arming injects userfaultfd(), which a filter could answer with
		 * SIGSYS or a kill: only with the filter suspended while seized.
		 */
		struct rw_proc_status st;

		if (!proc_read_status(t->tgid, &st) && st.seccomp != 0 &&
		    !inject_seccomp_suspendable(denied, sizeof(denied))) {
			snprintf(why, whylen, "pid %s runs under seccomp and rewindd cannot suspend "
				 "its filter (%.160s): write protection not armed; pages are "
				 "counted from first-write faults only", label, denied);
			return -EPERM;
		}
		err = wp_open(&t->wp, t->tgid);
		if (err) {
			snprintf(why, whylen, "write protection unavailable for pid %s (%s): "
				 "pages are counted from first-write faults only", label,
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
		snprintf(why, whylen, "cannot arm write protection for pid %s: %s", label,
			 strerror(-err));
	return err;
}

bool target_covers(void *ctx, pid_t tgid, uint64_t page)
{
	struct rw_target *t = target_find(ctx, tgid);

	return t && t->alive && t->wp && wp_covers(t->wp, page);
}

const struct rw_maps *target_maps(void *ctx, pid_t tgid)
{
	struct rw_target *t = target_find(ctx, tgid);

	return t && t->alive ? &t->maps : NULL;
}

/* cgroup mode: processes that joined the cgroup without a fork we saw. */
int targets_sync_cgroup(struct rw_session *s)
{
	pid_t *pids = NULL;
	size_t n = 0;
	int err;

	if (!s->cgid)
		return 0;
	/* Through the fd opened at attach: the attached cgroup, not one made later under its name. */
	err = cgroup_read_procs(s->procs_fd, &pids, &n);
	if (err)
		return err;
	for (size_t i = 0; i < s->ntargets; i++)
		s->targets[i].left_cgroup = true;
	for (size_t i = 0; i < n; i++) {
		struct rw_target *t = target_find(s, pids[i]);
		char label[RW_PID_LABEL_MAX];

		if (t) {
			t->left_cgroup = false;
		} else if ((t = target_add(s, pids[i]))) {
			invocation_note(s->cur, "pid %s joined the cgroup",
					target_label(t, label, sizeof(label)));
		} else {
			free(pids);
			return -ENOMEM;	/* a member not known is a member not checkpointed */
		}
	}
	free(pids);
	return 0;
}

/* A tree cannot be still forking after this many listings while we add it. */
#define TREE_ROUNDS	64

int targets_sync_tree(struct rw_sessions *S, struct rw_session *s, char *why, size_t whylen)
{
	pid_t *added = NULL, *list = NULL;
	size_t nadded = 0, n = 0;
	char label[RW_PID_LABEL_MAX], root[RW_PID_LABEL_MAX], denied[256];
	int err = 0, round;

	if (!s->pid)
		return 0;
	proc_pid_label(s->pid, root, sizeof(root));
	/*
	 * Each one is in the BPF filter before the next listing: a child it forks
	 * after that is recorded, one it forked before is listed. A listing that
	 * finds nothing new is the whole tree.
	 */
	for (round = 0; round < TREE_ROUNDS; round++) {
		size_t fresh = 0;

		free(list);
		list = NULL;
		err = proc_list_descendants(s->pid, &list, &n);
		if (err) {
			snprintf(why, whylen, "listing the descendants of pid %s: %s", root,
				 strerror(-err));
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			/* Known already: tracked, excluded, or a checkpointed one that exited. */
			if (target_find(s, list[i]))
				continue;
			proc_pid_label(list[i], label, sizeof(label));
			for (size_t k = 0; k < RW_MAX_SESSIONS; k++) {
				struct rw_target *o = S->slot[k] && S->slot[k] != s ?
						      target_find(S->slot[k], list[i]) : NULL;

				if (o && o->alive) {
					snprintf(why, whylen, "pid %s, a descendant of %s, is already "
						 "attached (session %u)", label, root, S->slot[k]->id);
					err = -EBUSY;
					goto out;
				}
			}
			err = auth_may_attach_pid_as(&s->owner_auth, list[i], denied, sizeof(denied));
			if (err == -ESRCH)
				continue;	/* exited: the next listing agrees */
			if (err) {
				snprintf(why, whylen, "pid %s, a descendant of %s, cannot be traced by "
					 "uid %u: %s", label, root, s->owner, denied);
				goto out;
			}
			err = tracker_track_tgid(S->tracker, list[i], s->id);
			if (!err && !target_add(s, list[i]))
				err = -ENOMEM;
			if (!err && pid_list_add(&added, &nadded, list[i]) < 0)
				err = -ENOMEM;
			if (err) {
				snprintf(why, whylen, "tracking pid %s, a descendant of %s: %s", label,
					 root, strerror(-err));
				goto out;
			}
			fresh++;
		}
		if (!fresh)
			break;
	}
	if (round == TREE_ROUNDS) {
		err = -EAGAIN;
		snprintf(why, whylen, "the descendants of pid %s kept changing while rewindd listed "
			 "them", root);
		goto out;
	}
	/* Added, but not in the tree that stood still: it exited, its pid may be a stranger's now. */
	for (size_t i = 0; i < nadded; i++) {
		bool in = false;

		for (size_t k = 0; k < n && !in; k++)
			in = list[k] == added[i];
		if (!in) {
			tracker_untrack_tgid(S->tracker, added[i]);
			target_find(s, added[i])->alive = false;
		}
	}
out:
	free(list);
	free(added);
	return err;
}

/* Forget processes that are gone and were not in the checkpoint (killed new ones). */
void targets_compact(struct rw_session *s)
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

void targets_on_task_record(struct rw_session *s, const struct rw_task_event *e)
{
	struct rw_target *t;

	switch (e->op) {
	case RW_TASK_NEW_PROCESS:
		/* Armed at the next mark; until then its pages come from its faults. */
		target_add(s, e->tgid);
		break;
	case RW_TASK_EXIT_PROCESS:
		t = target_find(s, e->tgid);
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
		t = target_find(s, e->tgid);
		if (t)
			t->exec_seen = true;
		break;
	}
}

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
	if (pid > 0 && !target_find(s, pid) && s->cgid)
		targets_sync_cgroup(s);	/* joined the cgroup since we last looked */
	if (pid > 0 && target_find(s, pid)) {
		uint32_t ns = nsroot_mnt_ns_of(pid);

		/*
		 * The log has it, named in the writer's view: one of another mount
		 * namespace cannot be matched by path. (An exited writer's records
		 * carry its namespace: the rewind compares whole on a foreign one.)
		 */
		if (!ns || ns == s->watches.ns.mnt_ns)
			return;
		watches_distrust(&s->watches, tree, "pid %d, which the session tracks, changed it "
				 "from another mount namespace (mnt:[%u]) than the tree's (mnt:[%u]): "
				 "the log names its view", pid, ns, s->watches.ns.mnt_ns);
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
