// SPDX-License-Identifier: GPL-2.0-only
/* Rewind mode: checkpoint every process of a session, rewind it, fail closed. */
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
#include "fastpath.h"
#include "fault.h"
#include "log.h"
#include "recovery.h"
#include "observe_iter.h"
#include "pagemap.h"
#include "pagestore.h"
#include "pidfd.h"
#include "proc.h"
#include "rewind.h"
#include "rewind/events.h"
#include "session_state.h"
#include "signalled.h"
#include "watched_trees.h"
#include "wp.h"

static const struct rw_maps *image_maps(void *ctx, pid_t tgid)
{
	struct rw_target *t = target_find(ctx, tgid);

	return t && t->img ? &t->img->maps : NULL;
}

static json_object *json_ns(const char *const *names, const uint64_t *vals, size_t n)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, names[i], json_object_new_int64(vals[i]));
	return o;
}

struct quiesce_ctx {
	struct rw_sessions *S;
	struct rw_session *s;
	struct rw_target *t;
};

/* What the target did up to its stop is the log's; what our injections did is not. */
static void drop_own_records(void *arg)
{
	struct quiesce_ctx *q = arg;

	/* Still stopped: the held fds' struct files, for the rewinds' iterators. */
	if (q->t && observe_iter_enabled() && !iterobs_open(q->S->tracker, q->t->tgid, &q->t->iter) &&
	    observe_iter_checkpoint(q->t->iter, q->t->img)) {
		iterobs_close(q->t->iter);
		q->t->iter = NULL;
	}
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

/* SysV IPC and POSIX queues of the checkpointed processes' IPC namespaces (ipc.h). */
static int checkpoint_ipc(struct rw_session *s, char *why, size_t whylen)
{
	const struct rw_maps **maps = calloc(s->ntargets + 1, sizeof(*maps));
	pid_t *pids = calloc(s->ntargets + 1, sizeof(*pids));
	size_t n = 0;
	int err;

	for (size_t i = 0; pids && maps && i < s->ntargets; i++) {
		if (!s->targets[i].img)
			continue;
		pids[n] = s->targets[i].tgid;
		maps[n++] = &s->targets[i].img->maps;
	}
	err = pids && maps ? ipcs_checkpoint(&s->ipcs, pids, maps, n, why, whylen) :
			     rw_why(why, whylen, -ENOMEM, "out of memory");
	free(pids);
	free(maps);
	return err;
}

static void note_ipc(void *ctx, const char *line)
{
	invocation_note(ctx, "IPC: %s", line);
}

json_object *session_checkpoint(struct rw_sessions *S, struct rw_session *s)
{
	static const char *const names[] = { "stop", "arm", "capture", "resume", "total" };
	uint64_t t0 = rw_now_ns(), stored = 0, zero = 0, bytes = 0, present = 0, unique = 0;
	struct rw_ckpt_stats st = { 0 };
	struct rw_fs_stats fst = { 0 };
	size_t nprocs = 0, nthreads = 0;
	json_object *resp, *o, *warnings;
	const char *what = "checkpoint";
	/* Before anything is armed: a GUP write meanwhile makes the first rewind scan. */
	uint64_t unvouched_at_start = tracker_unvouched(S->tracker, s->id);
	char why[512];
	int err;

	if (!s->rewind_mode)
		return session_error("session %u is a report session (--report): attach without "
				      "--report to checkpoint and rewind", s->id);
	if (s->state != RW_SESSION_ACTIVE)
		return session_error("session %u: %s", s->id, s->why);
	tracker_drain(S->tracker);
	err = targets_sync_cgroup(s);
	if (err)
		return session_error("session %u: reading the members of cgroup %s: %s (no "
				      "checkpoint is held)", s->id, s->cgroup, strerror(-err));
	/* pid mode: the whole tree as it stands now is checkpointed, each like the root. */
	err = targets_sync_tree(S, s, why, sizeof(why));
	if (err)
		return session_error("session %u: %s", s->id, why);

	/* Refuse up front what could not be rewound safely. */
	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];
		char label[RW_PID_LABEL_MAX];
		struct rw_proc_status ps;

		if (!t->alive)
			continue;
		target_label(t, label, sizeof(label));
		err = auth_may_attach_pid_as(&s->owner_auth, t->tgid, why, sizeof(why));
		if (err == -ESRCH) {
			t->alive = false;
			continue;
		}
		if (err)
			return session_error("session %u: pid %s can no longer be traced by uid %u: %s",
					      s->id, label, s->owner, why);
		if (!proc_read_status(t->tgid, &ps) && ps.seccomp != 0 &&
		    !inject_seccomp_suspendable(why, sizeof(why)))
			return session_error("session %u: pid %s runs under seccomp and rewindd "
					      "cannot suspend its filter for the syscalls it injects "
					      "(%s)", s->id, label, why);
	}
	if (s->pid && !target_find(s, s->pid)->alive) {
		char label[RW_PID_LABEL_MAX];

		return session_error("session %u: process %s has exited", s->id,
				      target_label(target_find(s, s->pid), label, sizeof(label)));
	}

	/* Nothing before the checkpoint belongs to the first invocation. */
	tracker_drain(S->tracker);
	{
		struct rw_invocation *fresh = invocation_new(s->cur->number, rw_now_ns());

		if (!fresh)
			return session_error("out of memory");
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
		struct quiesce_ctx q = { S, s, t };

		if (t->img) {
			t->img->stale = t->stale;
			t->img->pagestore = S->pages;
			t->img->share_domain = s->owner;
		}
		t->stale = (struct rw_tmaps){ 0 };

		err = t->img ? rewind_checkpoint_process(t->tgid, &t->wp, t->img, drop_own_records,
							 &q, &st, why, sizeof(why)) : -ENOMEM;
		if (err) {
			free(t->img);
			t->img = NULL;
			if (err == -ENOMEM)
				snprintf(why, sizeof(why), "out of memory");
			if (err == -EDQUOT) {
				struct rw_pagestore_stats ps;
				uint64_t in_use, needed;
				int n;

				pagestore_stats(S->pages, &ps);
				pagestore_refusal(S->pages, &in_use, &needed);
				n = snprintf(why, sizeof(why), "its pages would take the image store over "
					     "--max-image-memory: %.1f MiB more needed, %.1f MiB allowed",
					     needed / 1048576.0, ps.limit_bytes / 1048576.0);
				/* What every user's images hold: root's to know. */
				if (s->owner == 0 && n > 0 && (size_t)n < sizeof(why))
					snprintf(why + n, sizeof(why) - n, ", %.1f MiB in use",
						 in_use / 1048576.0);
			}
			goto fail;
		}
		if (!t->wp) {
			char label[RW_PID_LABEL_MAX];

			snprintf(why, sizeof(why), "pid %s: write protection unavailable: every rewind "
				 "restores all of its private memory",
				 target_label(t, label, sizeof(label)));
			json_object_array_add(warnings, json_object_new_string(why));
		}
		nprocs++;
		nthreads += t->img->nthreads;
		stored += t->img->pages_stored;
		zero += t->img->pages_zero;
		bytes += t->img->pages_stored * RW_PAGE_SIZE;
		unique += pagestore_unique_bytes(t->img);
		present += t->img->private_writable_present;
	}
	/* Pipes and sockets every end of which the session holds: theirs to rewind. */
	{
		pid_t *pids = calloc(s->ntargets ? s->ntargets : 1, sizeof(*pids));
		struct rw_fdobjs **objs = calloc(s->ntargets ? s->ntargets : 1, sizeof(*objs));
		size_t n = 0;

		for (size_t i = 0; pids && objs && i < s->ntargets; i++) {
			if (!s->targets[i].img)
				continue;
			pids[n] = s->targets[i].tgid;
			objs[n++] = &s->targets[i].img->fdobjs;
		}
		err = pids && objs ? fdobj_classify(pids, objs, n) : -ENOMEM;
		free(pids);
		free(objs);
		if (err) {
			snprintf(why, sizeof(why), "reading the pipes and sockets of the session: %s",
				 strerror(-err));
			goto fail;
		}
	}
	err = checkpoint_ipc(s, why, sizeof(why));
	if (err) {
		what = "checkpoint of the IPC namespace";
		goto fail;
	}
	if (s->watches.n) {
		char **mapped = NULL;
		size_t nmapped = 0;
		pid_t *pids = malloc((s->ntargets + 1) * sizeof(*pids));
		size_t npids = 0;

		/* A process that sees other files than the trees' names: its writes cannot be matched. */
		for (size_t i = 0; pids && i < s->ntargets; i++)
			if (s->targets[i].alive && !s->targets[i].excluded)
				pids[npids++] = s->targets[i].tgid;
		err = pids ? watches_check_view(&s->watches, pids, npids, why, sizeof(why)) : -ENOMEM;
		if (!pids)
			snprintf(why, sizeof(why), "out of memory");
		free(pids);
		if (err) {
			what = "checkpoint of the watched trees";
			goto fail;
		}
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
	s->forks_before = s->forks;
	s->children_read = false;
	s->unvouched_seen = unvouched_at_start;
	s->checkpointed = true;
	recovery_record(S, s, RW_RECORD_CHECKPOINTED);
	pr_info("session %u: checkpoint of %zu process(es), %zu thread(s), %llu pages stored\n",
		s->id, nprocs, nthreads, (unsigned long long)stored);

	resp = session_ok(s->id);
	o = json_object_new_object();
	json_object_object_add(o, "processes", json_object_new_int64(nprocs));
	json_object_object_add(o, "threads", json_object_new_int64(nthreads));
	json_object_object_add(o, "pages_stored", json_object_new_int64(stored));
	json_object_object_add(o, "pages_zero", json_object_new_int64(zero));
	json_object_object_add(o, "image_bytes", json_object_new_int64(bytes));
	json_object_object_add(o, "image_unique_bytes", json_object_new_int64(unique));
	json_object_object_add(o, "private_writable_bytes", json_object_new_int64(present));
	/* The store's totals tell of every user's sessions: root's to see. */
	if (s->owner == 0)
		json_object_object_add(o, "image_store", image_store_json(S->pages));
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
	ipcs_free(&s->ipcs);
	/* Nor of the trees: a recovery must not roll them back to a checkpoint that failed. */
	watches_drop_checkpoint(&s->watches);
	s->checkpointed = false;
	s->busy = false;
	recovery_record(S, s, RW_RECORD_ATTACHED);
	json_object_put(warnings);
	return session_error("session %u: %s failed: %s (the processes run on as they were; no "
			      "checkpoint is held)", s->id, what, why);
}

/* How long a failed rewind waits for its processes to die or stop before it restores their trees. */
#define FAIL_CLOSED_WAIT_MS	5000

/*
 * Fail closed: nothing of the session may run un-rewound. Kill or stop
 * every process, let go of them, roll the watched trees back whole once
 * none runs, mark the session failed.
 */
static json_object *fail_closed(struct rw_sessions *S, struct rw_session *s,
				struct rw_rewinding *procs, size_t nprocs, const char *why)
{
	int sig = s->on_failure == RW_ON_FAILURE_STOP ? SIGSTOP : SIGKILL;
	bool trees = watches_checkpointed(&s->watches);
	struct rw_signalled held = { 0 };
	char trees_why[512] = "", trees_said[640] = "";
	size_t unheld = 0;

	for (size_t i = 0; i < s->ntargets; i++) {
		int pidfd;

		if (!s->targets[i].alive)
			continue;
		/* Held when trees are to be restored: they are, once the signal took effect. */
		pidfd = trees ? sys_pidfd_open(s->targets[i].tgid, 0) : -1;
		if (trees && pidfd < 0 && errno == ESRCH)
			continue;	/* gone already (its exit not yet read) */
		if (pidfd < 0 || signalled_send(&held, pidfd, sig)) {
			kill(s->targets[i].tgid, sig);
			unheld += trees;
		}
		if (pidfd >= 0)
			close(pidfd);
	}
	/* Released after the signal is queued: a stopped process stays stopped. */
	for (size_t i = 0; i < nprocs; i++)
		rewind_abandon(&procs[i]);
	if (trees) {
		size_t late = signalled_wait(&held, FAIL_CLOSED_WAIT_MS) + unheld;

		/* One may still write: a rollback now could be undone behind it. */
		if (late)
			snprintf(trees_why, sizeof(trees_why), "%zu process(es) had not %s after %d ms, "
				 "or could not be waited for", late,
				 sig == SIGKILL ? "exited" : "stopped", FAIL_CLOSED_WAIT_MS);
		else if (watches_restore_whole(&s->watches, trees_why, sizeof(trees_why)) &&
			 !trees_why[0])
			snprintf(trees_why, sizeof(trees_why), "unknown error");
		snprintf(trees_said, sizeof(trees_said), trees_why[0] ?
			 "; its watched trees could not be rolled back: %s" :
			 "; its watched trees were rolled back to the checkpoint and verified%s",
			 trees_why);
	}
	for (size_t i = 0; i < s->ntargets; i++) {
		target_disarm(&s->targets[i]);
		target_drop_image(&s->targets[i]);
	}
	ipcs_free(&s->ipcs);
	s->state = RW_SESSION_FAILED;
	recovery_record(S, s, RW_RECORD_FAILED);
	snprintf(s->why, sizeof(s->why), "rewind of invocation %u failed: %s", s->cur->number, why);
	invocation_note(s->cur, "%s", s->why);
	s->cur->end_ns = rw_now_ns();
	session_next_invocation(s);
	tracker_untrack_session(S->tracker, s->id);
	for (size_t i = 0; i < s->ntargets; i++) {
		char label[RW_PID_LABEL_MAX];

		pr_err("session %u: pid %s %s\n", s->id,
		       target_label(&s->targets[i], label, sizeof(label)),
		       sig == SIGKILL ? "killed" : "left stopped");
	}
	pr_err("session %u: %s; target %s%s\n", s->id, s->why,
	       sig == SIGKILL ? "killed" : "left stopped", trees_said);
	return session_error("session %u: %s; the target was %s%s and the session is failed",
			      s->id, s->why, sig == SIGKILL ? "killed" : "left stopped", trees_said);
}

/*
 * Whether the log vouches that no process of the checkpoint has a child it
 * did not have then. In a pid session every descendant is tracked from the
 * checkpoint on; a cgroup session's processes may have had children outside
 * the cgroup, untracked, whose clone(CLONE_PARENT) nobody logs: there the
 * first rewind reads them (and kills them with what they made), later ones
 * may trust the log. Then: no record was dropped since the last rewind nor
 * up to the stop, no process of the session created one (every fork of a
 * tracked process is logged, CLONE_PARENT's too: the caller is the one
 * logged), and no untracked (excluded) process lives that could
 * clone(CLONE_PARENT) one. An orphan is re-parented only to an ancestor,
 * and its own creation was logged.
 */
static bool children_as_checkpoint(struct rw_sessions *S, struct rw_session *s, bool dropped)
{
	if ((s->cgid && !s->children_read) || dropped ||
	    tracker_dropped(S->tracker, s->id) != s->dropped_seen || s->forks != s->forks_before)
		return false;
	for (size_t i = 0; i < s->ntargets; i++)
		if (s->targets[i].alive && s->targets[i].excluded)
			return false;
	return true;
}

/*
 * Processes to kill: tracked or in the cgroup without being in the
 * checkpoint, and their descendants. vouched: /proc's lists of children
 * need not be read (children_as_checkpoint).
 */
static int new_processes(struct rw_session *s, bool vouched, pid_t **out, size_t *n)
{
	pid_t *pids = NULL, *kids;
	size_t nk;
	int err = 0;

	*n = 0;
	for (size_t i = 0; i < s->ntargets && err >= 0; i++) {
		struct rw_target *t = &s->targets[i];

		if (t->alive && !t->img && !t->excluded)
			err = pid_list_add(&pids, n, t->tgid);
		if (!t->img || err < 0 || vouched)
			continue;
		/* Only a process gone has no children to list; any other failure could hide one. */
		err = proc_children_of(t->tgid, &kids, &nk);
		if (err == -ESRCH) {
			err = 0;
			continue;
		}
		for (size_t k = 0; k < nk && err >= 0; k++) {
			struct rw_target *c = target_find(s, kids[k]);

			if (!(c && c->img))
				err = pid_list_add(&pids, n, kids[k]);
		}
		free(kids);
	}
	if (s->cgid && err >= 0) {
		pid_t *members = NULL;
		size_t nm = 0;

		err = cgroup_read_procs(s->procs_fd, &members, &nm);
		for (size_t k = 0; k < nm && err >= 0; k++) {
			struct rw_target *c = target_find(s, members[k]);

			if (!(c && c->img))
				err = pid_list_add(&pids, n, members[k]);
		}
		free(members);
	}
	/* Their descendants too: killing a parent would let its children escape to init. */
	for (size_t i = 0; i < *n && err >= 0; i++) {
		err = proc_children_of(pids[i], &kids, &nk);
		if (err == -ESRCH) {
			err = 0;
			continue;
		}
		for (size_t k = 0; k < nk && err >= 0; k++)
			err = pid_list_add(&pids, n, kids[k]);
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

/*
 * The invocation's report: what the scan found, per process (procs: the
 * rewind's, their written pages), then closed at end_ns. Only the report:
 * what was restored does not depend on it.
 */
static void close_report(struct rw_session *s, struct rw_invocation *inv,
			 const struct rw_rewinding *procs, size_t nprocs, uint64_t end_ns)
{
	for (size_t i = 0; i < nprocs; i++) {
		char label[RW_PID_LABEL_MAX];

		target_label(target_find(s, procs[i].img->tgid), label, sizeof(label));
		if (invocation_add_written_ranges(inv, procs[i].img->tgid, &procs[i].written))
			invocation_note(inv, "pid %s: out of memory recording its written pages: "
					"this report undercounts them", label);
		if (procs[i].untracked)
			invocation_note(inv, "pid %s: %llu pages written by the invocations before were "
					"not write-protected (restored at every rewind); they count as "
					"written", label, (unsigned long long)procs[i].untracked);
	}
	invocation_close(inv, end_ns, target_covers, image_maps, s);
	if (invocation_find_persisting(inv, watched, &s->watches))
		invocation_note(inv, "out of memory listing the files that persist");
}

void session_release(struct rw_sessions *S, struct rw_session *s)
{
	struct rw_rewind_stats st = { 0 };
	char why[256] = "";

	if (!s->releasing)
		return;
	fault_point("rewind-answered");	/* the client has its answer, the threads are held */
	for (size_t i = 0; i < s->nreleasing; i++)
		if (rewind_resume(&s->releasing[i], &st) && !why[0]) {
			char label[RW_PID_LABEL_MAX];

			snprintf(why, sizeof(why), "pid %s: a thread died while being released after "
				 "the rewind", proc_pid_label(s->releasing[i].img->tgid, label,
							      sizeof(label)));
		}
	/* Running again: the last rewind's report is closed while the function works. */
	if (s->closing)
		close_report(s, s->closing, s->releasing, s->nreleasing, s->closing_end_ns);
	s->closing = NULL;
	for (size_t i = 0; i < s->nreleasing; i++)
		rewind_done(&s->releasing[i]);
	free(s->releasing);
	s->releasing = NULL;
	s->nreleasing = 0;
	s->release_ns = st.resume_ns;
	s->busy = false;
	/* Only a dying process loses a thread here: the session ends with it. */
	if (why[0])
		json_object_put(fail_closed(S, s, NULL, 0, why));
}

void sessions_release(struct rw_sessions *S)
{
	for (size_t i = 0; i < RW_MAX_SESSIONS; i++)
		if (S->slot[i])
			session_release(S, S->slot[i]);
}

/*
 * Kill the processes created since the checkpoint (new_processes) and reap
 * those whose parent is held; appended to *killed. --verify reads the
 * children even when the log vouches: what it vouched for must be all.
 */
static int kill_new(struct rw_session *s, bool vouched, bool verify, struct rw_rewinding *procs,
		    size_t nprocs, pid_t **killed, size_t *nkilled, char *why, size_t whylen)
{
	pid_t *found = NULL, *all;
	size_t nfound = 0;
	int err = new_processes(s, vouched, &found, &nfound);

	if (err) {
		snprintf(why, whylen, "listing processes created since the checkpoint: %s",
			 strerror(-err));
		return err;
	}
	if (vouched && verify) {
		pid_t *listed = NULL;
		size_t nlisted = 0;

		err = new_processes(s, false, &listed, &nlisted);
		free(listed);
		if (err) {
			snprintf(why, whylen, "listing processes created since the checkpoint: %s",
				 strerror(-err));
		} else if (nlisted != nfound) {
			err = -EIO;
			snprintf(why, whylen, "verification: the log showed no child created since "
				 "the checkpoint, /proc lists %zu process(es) more to kill",
				 nlisted - nfound);
		}
	}
	if (!err && nfound)
		err = rewind_kill(found, nfound, procs, nprocs, why, whylen);
	for (size_t i = 0; i < nfound; i++) {
		struct rw_target *t = target_find(s, found[i]);

		if (t)
			t->alive = false;
	}
	if (!nfound)
		return err;
	all = realloc(*killed, (*nkilled + nfound) * sizeof(*all));
	if (!all) {
		free(found);
		if (!err)
			snprintf(why, whylen, "out of memory");
		return err ? err : -ENOMEM;
	}
	memcpy(all + *nkilled, found, nfound * sizeof(*all));
	*killed = all;
	*nkilled += nfound;
	free(found);
	return err;
}

/*
 * Observe and plan one process from the invocation's log; restored: pages
 * to count as written besides the log's (NULL: none).
 */
static int plan_one(struct rw_session *s, struct rw_invocation *inv, struct rw_rewinding *rw,
		    const struct rw_ranges *restored, struct rw_rewind_stats *st, char *why,
		    size_t whylen)
{
	struct rw_target *t = target_find(s, rw->img->tgid);
	struct rw_log_facts facts;
	int err;

	err = observe_log_facts(inv, rw->img->tgid, inv->dropped > 0, &facts);
	if (err)
		return rw_why(why, whylen, err, "reading the invocation's log");
	/* Its tracker logged every write fault since the re-arm, unless it lost track. */
	facts.logged = !t->exec_seen && !t->excluded;
	/* What faulted while the records were ours: unprotected, written without a fault since. */
	facts.unvouched |= t->lost_while_ours;
	for (size_t k = 0; k < t->faulted_while_ours.n && !err; k++)
		err = ranges_add(&facts.faulted, t->faulted_while_ours.r[k].start,
				 t->faulted_while_ours.r[k].end);
	for (size_t k = 0; restored && k < restored->n && !err; k++)
		err = ranges_add(&facts.faulted, restored->r[k].start, restored->r[k].end);
	if (!err)
		ranges_normalize(&facts.faulted);
	ranges_free(&t->faulted_while_ours);
	t->lost_while_ours = false;
	if (!err)
		err = rewind_plan(rw, &facts, st, why, whylen);
	else
		err = rw_why(why, whylen, err, "reading the invocation's log");
	rw->fdobj_locks = facts.locks_called || facts.incomplete;
	observe_log_facts_free(&facts);
	if (!rw->wp && t->wp) {
		char label[RW_PID_LABEL_MAX];

		invocation_note(inv, "pid %s: write-protection scan failed: its private memory "
				"was restored whole", target_label(t, label, sizeof(label)));
		target_disarm(t);
	}
	return err;
}

/*
 * After a wake, every thread of the process is stopped for the next 16
 * rewinds, twice as many after each wake since, up to 1,024: a process whose
 * idle workers wake on a timer would pay for a second restore often, and one
 * that woke by chance gets the shortcut back. Each wake costs one restore
 * again, never a rewind wrong (restore_all_held).
 */
#define SLEEPERS_HELD_FIRST	16u
#define SLEEPERS_HELD_DOUBLINGS	6u

static void sleepers_woke(struct rw_target *t)
{
	unsigned int d = t->sleepers_wakes < SLEEPERS_HELD_DOUBLINGS ? t->sleepers_wakes :
					    SLEEPERS_HELD_DOUBLINGS;

	t->sleepers_wakes++;
	t->sleepers_held = SLEEPERS_HELD_FIRST << d;
}

/*
 * A thread left asleep woke during the rewind (sleepers.h): what it did
 * since the stop, the log cannot tell (its records counted as ours). So
 * every thread is held, and everything is observed and restored again as
 * when records were lost, the pages the first pass restored included:
 * written again before their protection was put back, they raised no
 * fault. That process's threads are all stopped for a while after
 * (sleepers_woke).
 */
static int restore_all_held(struct rw_sessions *S, struct rw_session *s,
			    struct rw_invocation *inv, struct rw_rewinding *procs, size_t nprocs,
			    pid_t **killed, size_t *nkilled, struct rw_rewind_stats *st, char *why,
			    size_t whylen)
{
	struct rw_ranges *restored = calloc(nprocs ? nprocs : 1, sizeof(*restored));
	char *woke = strdup(why);
	int err = 0;

	if (!restored || !woke) {
		free(restored);
		free(woke);
		return rw_why(why, whylen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nprocs && !err; i++) {
		if (procs[i].sleeper_woke)
			sleepers_woke(target_find(s, procs[i].img->tgid));
		err = rewind_hold_all(&procs[i], &restored[i], why, whylen);
	}
	/* Its write faults since the stop: into faulted_while_ours, which plan_one takes. */
	tracker_drain(S->tracker);
	inv->dropped++;
	inv->unvouched |= session_take_unvouched(S, s);
	inv->pinned |= tracker_unvouched_async(S->tracker, s->id) != 0;
	invocation_note(inv, "%s: everything was observed and restored again, every thread "
			"stopped, without trusting the log", woke);
	if (!err)
		err = kill_new(s, false, false, procs, nprocs, killed, nkilled, why, whylen);
	for (size_t i = 0; i < nprocs && !err; i++)
		err = plan_one(s, inv, &procs[i], &restored[i], st, why, whylen);
	for (size_t i = 0; i < nprocs && !err; i++)
		err = rewind_apply(&procs[i], st, why, whylen);
	for (size_t i = 0; i < nprocs; i++)
		ranges_free(&restored[i]);
	free(restored);
	free(woke);
	return err;
}

/*
 * After the processes' own state: the objects behind their fds, IPC
 * objects and watched trees, then with verify every comparison.
 * RW_SLEEPER_WOKE: a thread left asleep ran (restore_all_held).
 */
static int restore_shared(struct rw_sessions *S, struct rw_session *s, struct rw_invocation *inv,
			  struct rw_rewinding *procs, size_t nprocs, bool verify,
			  struct rw_watch_result *wres, struct rw_ipc_stats *ist, uint64_t *ipc_ns,
			  uint64_t *files_ns, struct rw_rewind_stats *st, char *why, size_t whylen)
{
	int err = 0;

	/* Every fd table is the checkpoint's again: the objects behind them next. */
	for (size_t i = 0; i < nprocs && !err; i++)
		err = rewind_fdobjs(&procs[i], st, why, whylen);
	/* IPC objects while every process is stopped; nothing is read when the log vouches. */
	if (!err) {
		uint64_t t = rw_now_ns();

		err = ipcs_rewind(&s->ipcs, inv, inv->dropped > 0, note_ipc, inv, ist, why,
				  whylen);
		*ipc_ns = rw_now_ns() - t;
	}
	/* Files while everything is stopped: no process sees half of them restored. */
	if (!err && s->watches.n) {
		uint64_t t = rw_now_ns();

		sessions_on_fswatch(S);
		fault_point("rewind-files");
		err = watches_rewind(&s->watches, inv, inv->dropped > 0, wres, why, whylen);
		*files_ns = rw_now_ns() - t;
		for (size_t i = 0; i < wres->nnotes; i++)
			invocation_note(inv, "%s", wres->notes[i]);
	}
	/*
	 * Stopped for the comparison, and proven not to have run (sleepers.h);
	 * first looked at as without --verify, so that a test's rewinds take
	 * that way too.
	 */
	for (size_t i = 0; i < nprocs && !err && verify; i++)
		err = rewind_sleepers_recheck(&procs[i], false, why, whylen);
	for (size_t i = 0; i < nprocs && !err && verify; i++)
		err = rewind_sleepers_recheck(&procs[i], true, why, whylen);
	for (size_t i = 0; i < nprocs && !err && verify; i++) {
		struct rw_verify_result vr = { 0 };
		char label[RW_PID_LABEL_MAX];

		target_label(target_find(s, procs[i].img->tgid), label, sizeof(label));
		err = rewind_verify(&procs[i], &vr, st);
		if (err) {
			snprintf(why, whylen, "pid %s: verification could not be made: %s",
				 label, strerror(-err));
		} else if (vr.differences) {
			size_t len = snprintf(why, whylen, "verification found %llu difference(s) "
					      "in pid %s", (unsigned long long)vr.differences, label);

			for (size_t k = 0; k < vr.nlisted && len < whylen; k++)
				len += snprintf(why + len, whylen - len, "%s %s", k ? ";" : ":",
						vr.listed[k]);
			err = -EIO;
		}
		verify_result_free(&vr);
	}
	if (!err && verify) {
		uint64_t t = rw_now_ns();
		char d[768];
		int nd = ipcs_verify(&s->ipcs, inv, d, sizeof(d));

		if (nd < 0) {
			err = nd;
			snprintf(why, whylen, "IPC: verification could not be made: %s", d);
		} else if (nd) {
			err = -EIO;
			snprintf(why, whylen, "verification found %d difference(s) in IPC "
				 "objects: %s", nd, d);
		}
		st->verify_ns += rw_now_ns() - t;
	}
	if (!err && verify && s->watches.n) {
		struct rw_fs_diffs d = { 0 };
		uint64_t t = rw_now_ns();

		err = watches_verify(&s->watches, &d, why, whylen);
		if (!err && d.count) {
			size_t len = snprintf(why, whylen, "verification found %llu difference(s) "
					      "in watched trees", (unsigned long long)d.count);

			for (size_t k = 0; k < d.nlisted && len < whylen; k++)
				len += snprintf(why + len, whylen - len, "%s %s", k ? ";" : ":",
						d.listed[k]);
			err = -EIO;
		}
		fsimage_diffs_free(&d);
		st->verify_ns += rw_now_ns() - t;
	}
	return err;
}

/* What a rewind did, for its answer (either protocol). */
static void summarise(const struct rw_rewind_stats *st, uint64_t files_ns, size_t nkilled,
		      bool again, bool verify, uint64_t release_ns, uint64_t total_ns,
		      struct rw_rewind_summary *sum)
{
	uint64_t *c = sum->count, *t = sum->timing_ns;

	memset(sum, 0, sizeof(*sum));
	c[RW_COUNT_PAGES_RESTORED] = st->pages_copied + st->pages_dropped;
	c[RW_COUNT_PAGES_COPIED] = st->pages_copied;
	c[RW_COUNT_PAGES_DROPPED] = st->pages_dropped;
	c[RW_COUNT_PAGES_WHOLESALE] = st->pages_wholesale;
	c[RW_COUNT_PAGES_ZERO_FILLED] = st->pages_zero_filled;
	c[RW_COUNT_PAGES_RESTORER] = st->pages_restorer;
	c[RW_COUNT_PAGES_BESIDE] = st->pages_beside;
	c[RW_COUNT_BATCH_AREAS_MAPPED] = st->batch_areas_mapped;
	c[RW_COUNT_PAGES_HOT] = st->pages_hot;
	c[RW_COUNT_SCANS] = st->scans;
	c[RW_COUNT_THREADS_EXITED] = st->threads_exited;
	c[RW_COUNT_THREADS_RECREATED] = st->threads_recreated;
	c[RW_COUNT_THREADS_ASLEEP] = st->threads_asleep;
	c[RW_COUNT_PROCESSES_KILLED] = nkilled;
	c[RW_COUNT_SYSCALLS_INJECTED] = st->injected;
	t[RW_STAGE_STOP] = st->stop_ns;
	t[RW_STAGE_KILL] = st->kill_ns;
	t[RW_STAGE_SCAN] = st->scan_ns;
	t[RW_STAGE_PLAN] = st->plan_ns;
	t[RW_STAGE_LAYOUT] = st->layout_ns;
	t[RW_STAGE_COPY] = st->copy_ns;
	t[RW_STAGE_INJECT] = st->inject_ns;
	t[RW_STAGE_REGS] = st->regs_ns;
	t[RW_STAGE_REARM] = st->rearm_ns;
	t[RW_STAGE_FILES] = files_ns;
	t[RW_STAGE_VERIFY] = st->verify_ns;
	t[RW_STAGE_RESUME] = release_ns;
	t[RW_STAGE_TOTAL] = total_ns;
	sum->flags = (again ? RW_SUMMARY_AGAIN : 0) | (verify ? RW_SUMMARY_VERIFIED : 0);
}

/*
 * brief: the answer carries the counters and timings but neither the report
 * (kept: `report` asks for it) nor the plans, which a client on the request
 * path has no use for. fast (not NULL): the counters and timings go there and
 * the answer is {"ok":true,"session":N} alone (the fast path, fastpath.h).
 */
json_object *session_rewind(struct rw_sessions *S, struct rw_session *s, bool verify, bool brief,
			    struct rw_rewind_summary *fast)
{
	struct rw_invocation *inv = s->cur;
	struct rw_rewind_stats st = { 0 };
	struct rw_rewind_summary sum;
	struct rw_watch_result wres = { 0 };
	struct rw_ipc_stats ist = { 0 };
	struct rw_rewinding *procs;
	json_object *resp, *o, *plans = NULL, *report = NULL;
	uint64_t t0 = rw_now_ns(), files_ns = 0, ipc_ns = 0;
	size_t nprocs = 0, nkilled = 0;
	uint64_t forks_read = 0, requeues;
	bool no_io_uring, listed_late = false, again = false;
	pid_t *killed = NULL;
	char why[1024];
	int err = 0;

	if (!s->rewind_mode)
		return session_error("session %u is a report session (--report): it has no "
				      "checkpoint to rewind to", s->id);
	if (s->state == RW_SESSION_FAILED)
		return session_error("session %u: %s; it cannot be rewound any more (detach it)",
				      s->id, s->why);
	if (s->state != RW_SESSION_ACTIVE)
		return session_error("session %u: %s", s->id, s->why);
	if (!s->checkpointed)
		return session_error("session %u has no checkpoint: run `rewindctl checkpoint %u` "
				      "first", s->id, s->id);

	tracker_drain(S->tracker);
	if (s->lost) {
		struct rw_target *gone = target_find(s, s->lost);
		char label[RW_PID_LABEL_MAX];

		if (gone)
			target_label(gone, label, sizeof(label));
		else
			snprintf(label, sizeof(label), "%d", s->lost);
		snprintf(why, sizeof(why), "process %s of the checkpoint has exited", label);
		return fail_closed(S, s, NULL, 0, why);
	}
	s->busy = true;
	inv->dropped += session_take_dropped(S, s);
	/* A member that left is no longer logged (the log follows the cgroup): fail closed. */
	err = targets_sync_cgroup(s);
	if (err) {
		snprintf(why, sizeof(why), "the members of cgroup %.512s cannot be listed (%s): who "
			 "belongs to the session is unknown", s->cgroup, strerror(-err));
		s->busy = false;
		return fail_closed(S, s, NULL, 0, why);
	}
	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];
		char label[RW_PID_LABEL_MAX];

		if (!t->img || !t->alive || !t->left_cgroup)
			continue;
		snprintf(why, sizeof(why), "process %s of the checkpoint left cgroup %.512s since the "
			 "checkpoint: its calls were not logged since, and rewindd moves no process "
			 "between cgroups", target_label(t, label, sizeof(label)), s->cgroup);
		s->busy = false;
		return fail_closed(S, s, NULL, 0, why);
	}

	/* Out of memory: nothing is stopped yet, but the invocation cannot be undone. */
	procs = calloc(s->ntargets ? s->ntargets : 1, sizeof(*procs));
	if (!procs) {
		err = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
	}
	/*
	 * io_uring calls are counted for the session since it was attached
	 * (sticky); a ring used before, the checkpoint's iterator saw.
	 */
	no_io_uring = !tracker_unvouched_async(S->tracker, s->id);
	for (size_t i = 0; i < s->ntargets && !err; i++) {
		if (!s->targets[i].img)
			continue;
		procs[nprocs].no_io_uring = no_io_uring && s->targets[i].img->no_io_uring;
		procs[nprocs].threads_vouched =
			!inv->dropped && !invocation_threads_changed(inv, s->targets[i].img->tgid);
		procs[nprocs].img = s->targets[i].img;
		procs[nprocs].wp = s->targets[i].wp;
		procs[nprocs].hot = &s->targets[i].hot;
		procs[nprocs].iter = s->targets[i].iter;
		procs[nprocs].sleepers = !s->targets[i].sleepers_held;
		if (s->targets[i].sleepers_held)
			s->targets[i].sleepers_held--;
		nprocs++;
	}
	for (size_t i = 0; i < nprocs && !err; i++)
		err = rewind_stop(&procs[i], &st, why, sizeof(why));
	fault_point("rewind-stopped");
	/* All stopped: the log up to here is the invocation's. */
	tracker_drain(S->tracker);
	inv->dropped += session_take_dropped(S, s);
	/*
	 * A thread created between the log's look and the stop is still running:
	 * list and stop the rest, its records still the invocation's (seizing
	 * injects nothing), then read the log again. --verify lists anyway: the
	 * log must have said.
	 */
	for (size_t i = 0; i < nprocs && !err; i++) {
		bool changed = inv->dropped || invocation_threads_changed(inv, procs[i].img->tgid);

		if (procs[i].threads_vouched && (changed || verify)) {
			err = rewind_stop_rest(&procs[i], !changed, &st, why, sizeof(why));
			listed_late = true;
		} else if (procs[i].threads_missed && verify) {
			err = rewind_stop_rest(&procs[i], !changed, &st, why, sizeof(why));
		}
	}
	if (listed_late) {
		tracker_drain(S->tracker);
		inv->dropped += session_take_dropped(S, s);
	}
	/*
	 * A requeue moves a futex waiter to another word without waking it:
	 * after one, the threads left asleep are stopped (and proven still).
	 */
	requeues = tracker_futex_requeues(S->tracker, s->id);
	if (!err && requeues != s->requeues_seen) {
		s->requeues_seen = requeues;
		for (size_t i = 0; i < nprocs && !err; i++)
			err = rewind_sleepers_recheck(&procs[i], true, why, sizeof(why));
	}
	/* From here on records are ours. */
	s->discard = true;
	if (inv->dropped)
		invocation_note(inv, "%llu events were dropped or not kept (ring buffer full, no "
				"memory, malformed): layout, signals and timers were restored "
				"without trusting the log", (unsigned long long)inv->dropped);
	inv->unvouched = session_take_unvouched(S, s);
	inv->pinned = tracker_unvouched_async(S->tracker, s->id) != 0;
	/* An io_uring call since the count read above: its workers are looked for now. */
	for (size_t i = 0; i < nprocs && !err && inv->pinned; i++)
		if (procs[i].no_io_uring)
			err = rewind_no_io_worker(&procs[i], why, sizeof(why));
	if (!err) {
		uint64_t t = rw_now_ns();
		bool vouched = children_as_checkpoint(S, s, inv->dropped > 0);

		/* What a process not stopped (made since the checkpoint) creates from here on: next time. */
		forks_read = s->forks;
		err = kill_new(s, vouched, verify, procs, nprocs, &killed, &nkilled, why,
			       sizeof(why));
		st.kill_ns += rw_now_ns() - t;
	}
	for (size_t i = 0; i < nprocs && !err; i++)
		err = plan_one(s, inv, &procs[i], NULL, &st, why, sizeof(why));
	for (size_t i = 0; i < nprocs && !err; i++)
		err = rewind_apply(&procs[i], &st, why, sizeof(why));
	fault_point("rewind-applied");
	/*
	 * Then the objects the processes share, and our injections' records go:
	 * the next invocation starts before anything runs. A thread left asleep
	 * that has made no syscall exit by now had no record among ours; if
	 * one did (or woke earlier), everything is restored again, all held.
	 */
	for (int pass = 0;; pass++) {
		if (pass) {
			again = true;
			forks_read = s->forks;
			s->discard = true;
			watch_result_free(&wres);
			memset(&wres, 0, sizeof(wres));
			err = restore_all_held(S, s, inv, procs, nprocs, &killed, &nkilled, &st,
					       why, sizeof(why));
		}
		if (!err)
			err = restore_shared(S, s, inv, procs, nprocs, verify, &wres, &ist, &ipc_ns,
					     &files_ns, &st, why, sizeof(why));
		if (!err) {
			tracker_drain(S->tracker);
			s->discard = false;
		}
		for (size_t i = 0; i < nprocs && !err; i++)
			err = rewind_sleepers_recheck(&procs[i], false, why, sizeof(why));
		if (err != RW_SLEEPER_WOKE || pass)
			break;
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

	for (size_t i = 0; i < nprocs && !(brief && rw_log_level < RW_LOG_DEBUG); i++) {
		json_object *pj = plan_to_json(&procs[i].plan);
		struct rw_target *t = target_find(s, procs[i].img->tgid);

		/* The number the function knows itself by, in its own pid namespace. */
		if (t && t->ns_pid)
			json_object_object_add(pj, "ns_pid", json_object_new_int(t->ns_pid));

		pr_debug("session %u: plan %s\n", s->id,
			 json_object_to_json_string_ext(pj, JSON_C_TO_STRING_PLAIN));
		if (brief) {
			json_object_put(pj);
			continue;
		}
		if (!plans)
			plans = json_object_new_array();
		json_object_array_add(plans, pj);
	}
	s->forks_before = forks_read;
	s->children_read = true;
	for (size_t i = 0; i < nkilled; i++) {
		struct rw_target *t = target_find(s, killed[i]);
		char label[RW_PID_LABEL_MAX];

		if (t)
			target_label(t, label, sizeof(label));
		else
			snprintf(label, sizeof(label), "%d", killed[i]);
		invocation_note(inv, "pid %s was created since the checkpoint: killed", label);
	}
	free(killed);
	/* A brief answer does not carry the report: it is closed after the answer (session_release). */
	if (!brief) {
		close_report(s, inv, procs, nprocs, rw_now_ns());
		report = invocation_summary_json(inv);
	} else {
		s->closing = inv;
		s->closing_end_ns = rw_now_ns();
	}
	session_next_invocation(s);
	targets_compact(s);
	/*
	 * Restored: answered now, let go after (session_release), so the
	 * threads' wake-ups overlap the answer's trip to the client instead of
	 * delaying it. The next request waits in their input meanwhile.
	 */
	s->releasing = procs;
	s->nreleasing = nprocs;

	summarise(&st, files_ns, nkilled, again, verify, s->release_ns, rw_now_ns() - t0, &sum);
	resp = session_ok(s->id);
	/* The fast path's answer is the summary alone (fastpath.h); it is brief. */
	if (fast) {
		*fast = sum;
		watch_result_free(&wres);
		json_object_put(plans);
		json_object_put(report);
		return resp;
	}
	o = rewind_summary_json(&sum);
	if (!o) {
		watch_result_free(&wres);
		json_object_put(plans);
		json_object_put(report);
		json_object_put(resp);
		return NULL;
	}
	if (ist.namespaces_read) {
		json_object *io = json_object_new_object();

		json_object_object_add(io, "namespaces_read",
				       json_object_new_int64(ist.namespaces_read));
		json_object_object_add(io, "ops", json_object_new_int64(ist.ops));
		json_object_object_add(io, "ns", json_object_new_int64(ipc_ns));
		json_object_object_add(o, "ipc", io);
	}
	if (s->watches.n)
		json_object_object_add(o, "files", watch_result_json(&wres));
	watch_result_free(&wres);
	if (!brief)
		json_object_object_add(o, "plan", plans ? plans : json_object_new_array());
	json_object_object_add(resp, "rewind", o);
	if (!brief)
		json_object_object_add(resp, "report", report);
	return resp;
}
