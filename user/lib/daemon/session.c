// SPDX-License-Identifier: GPL-2.0-only
/* Sessions: slots, attach, status, detach, and the dispatch of every request. */
#define LOG_PREFIX "session: "
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#include "auth.h"
#include "canary.h"
#include "cgroup.h"
#include "clock.h"
#include "fanotify_watch.h"
#include "invocation.h"
#include "pagemap.h"
#include "pagestore.h"
#include "log.h"
#include "pidfd.h"
#include "proc.h"
#include "recovery.h"
#include "rewind.h"
#include "rewind/events.h"
#include "session_state.h"
#include "watched_trees.h"
#include "wp.h"

/* Rewind sessions keep the reports of this many last invocations (no drift over millions). */
#define REWIND_KEEP_INVOCATIONS	16

static const char *const state_names[] = {
	[RW_SESSION_ACTIVE] = "active",
	[RW_SESSION_EXITED] = "exited",
	[RW_SESSION_FAILED] = "failed",
};

json_object *session_error(const char *fmt, ...)
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

json_object *session_ok(uint32_t id)
{
	json_object *o = protocol_ok();

	if (!o)
		return session_error("out of memory");
	json_object_object_add(o, "session", json_object_new_int(id));
	return o;
}

uint64_t session_take_dropped(struct rw_sessions *S, struct rw_session *s)
{
	uint64_t dropped = tracker_dropped(S->tracker, s->id), delta = dropped - s->dropped_seen;

	s->dropped_seen = dropped;
	s->dropped_total = dropped;
	return delta;
}

bool session_take_unvouched(struct rw_sessions *S, struct rw_session *s)
{
	uint64_t now = tracker_unvouched(S->tracker, s->id);
	bool moved = now != s->unvouched_seen;

	s->unvouched_seen = now;
	return moved || tracker_unvouched_async(S->tracker, s->id);
}

static struct rw_session *find_session_target(struct rw_sessions *S, pid_t pid, uint64_t cgid)
{
	for (size_t i = 0; i < RW_MAX_SESSIONS; i++) {
		struct rw_session *s = S->slot[i];

		if (!s)
			continue;
		if (cgid && s->cgid == cgid)
			return s;
		if (pid && target_find(s, pid) && target_find(s, pid)->alive)
			return s;
	}
	return NULL;
}

/*
 * A rewind session nothing is left of: checkpointed, and not one of its
 * processes runs (its client died with them, as rewind-proxy does when its
 * container is killed, and never detaches). A pid that exists counts as
 * running: a reused pid keeps the session, never the other way round.
 */
static bool abandoned(const struct rw_session *s)
{
	if (!s->rewind_mode || !s->checkpointed || s->busy)
		return false;
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct rw_target *t = &s->targets[i];

		if (!t->excluded && (!kill(t->tgid, 0) || errno != ESRCH))
			return false;
	}
	return true;
}

static json_object *do_detach(struct rw_sessions *S, struct rw_session *s);

/* The table is full: take back the slots of abandoned sessions. How many. */
static size_t reclaim_abandoned(struct rw_sessions *S)
{
	size_t n = 0;

	for (size_t i = 1; i < RW_MAX_SESSIONS; i++) {
		struct rw_session *s = S->slot[i];

		if (!s || !abandoned(s))
			continue;
		pr_warn("session %u: no process of it is left and the session table is full: "
			"detached\n", s->id);
		json_object_put(do_detach(S, s));
		n++;
	}
	return n;
}

/* 63 random bits, never 0 (JSON integers are read as signed 64-bit ones). */
static uint64_t new_key(void)
{
	uint64_t k = 0;

	while (!k) {
		if (getrandom(&k, sizeof(k), 0) != sizeof(k))
			k = rw_now_ns() ^ ((uint64_t)getpid() << 32);
		k &= INT64_MAX;
	}
	return k;
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
	if (s->procs_fd >= 0)
		close(s->procs_fd);
	watches_fini(&s->watches);
	ipcs_free(&s->ipcs);
	invocation_free(s->cur);
	for (size_t i = 0; i < s->ndone; i++)
		invocation_free(s->done[i]);
	free(s->done);
	free(s);
}

/* Check the target exists, is a user process, and the peer may reach it. */
static json_object *check_pid(pid_t pid, const struct rw_auth_client *who)
{
	struct rw_proc_status st;
	struct rw_maps maps = { 0 };
	char err[256];
	int r;

	r = proc_read_status(pid, &st);
	if (r == -ESRCH || r == -ENOENT)
		return session_error("no such process: %d", pid);
	if (r)
		return session_error("cannot read /proc/%d/status: %s", pid, strerror(-r));
	if (st.tgid != pid)
		return session_error("%d is a thread of process %d: attach to the process", pid,
				      st.tgid);
	if (st.state == 'Z' || st.state == 'X')
		return session_error("process %d has exited (zombie)", pid);
	if (pid == getpid())
		return session_error("refusing to attach rewindd to itself");
	r = auth_may_attach_pid_as(who, pid, err, sizeof(err));
	if (r == -ESRCH)
		return session_error("no such process: %d", pid);
	if (r)
		return session_error("permission denied: %s", err);
	r = proc_read_maps(pid, &maps);
	if (!r && maps.n == 0)
		r = -EINVAL;
	proc_maps_free(&maps);
	if (r == -EINVAL)
		return session_error("process %d has no user memory (a kernel thread?)", pid);
	if (r)
		return session_error("cannot read /proc/%d/maps: %s", pid, strerror(-r));
	return NULL;
}

static uint64_t ns_inode(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, 0) ? 0 : st.st_ino;
}

/*
 * The client's /proc directory, pinned by its pidfd (a pid recycled since it
 * connected is refused), and what authorisation needs of it. NULL, or the
 * error to answer.
 */
static json_object *open_client(const struct rw_peer *peer, int *procdir,
				struct rw_auth_client *who)
{
	char path[32];
	int err;

	*procdir = -1;
	if (peer->cred.pid <= 0)
		return session_error("rewindd cannot see the client's process (a pid namespace "
				      "outside rewindd's)");
	snprintf(path, sizeof(path), "/proc/%d", peer->cred.pid);
	*procdir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Alive after the open: the directory is the client's, not a successor's. */
	if (*procdir < 0 || (peer->pidfd >= 0 && sys_pidfd_send_signal(peer->pidfd, 0, NULL, 0))) {
		if (*procdir >= 0)
			close(*procdir);
		*procdir = -1;
		return session_error("the client (pid %d) has exited", peer->cred.pid);
	}
	err = auth_client_of_proc(*procdir, peer->cred.uid, who);
	if (err) {
		close(*procdir);
		*procdir = -1;
		return session_error("cannot read the client's /proc/%d: %s", peer->cred.pid,
				      strerror(-err));
	}
	return NULL;
}

/* The host pid of the process the pidfd fd stands for; 0 with *resp set if none. */
static pid_t pid_of_pidfd(int fd, json_object **resp)
{
	pid_t pid = 0;
	int err = proc_pidfd_pid(fd, &pid);

	if (err)
		*resp = session_error("cannot read the pidfd sent: %s", strerror(-err));
	else if (pid < 0)
		*resp = session_error("the process of the pidfd sent has exited");
	else if (pid == 0)
		*resp = session_error("the process of the pidfd sent is outside rewindd's pid "
				      "namespace");
	return pid > 0 ? pid : 0;
}

/*
 * The cgroup at path as the client sees it (in its mount namespace, through
 * its root), as the host path under rewindd's cgroup2 mount. NULL or the error.
 */
static json_object *client_cgroup(int procdir, const char *cgroup, char *path, size_t len)
{
	struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	struct statfs sfs;
	struct stat st;
	int root, fd, err;

	root = openat(procdir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return session_error("cannot open the client's root: %s", strerror(errno));
	fd = syscall(SYS_openat2, root, cgroup, &how, sizeof(how));
	err = fd < 0 ? errno : 0;
	close(root);
	if (err == ENOENT)
		return session_error("no such cgroup: %s", cgroup);
	if (err)
		return session_error("cannot open cgroup %s: %s", cgroup, strerror(err));
	if (fstatfs(fd, &sfs) || fstat(fd, &st)) {
		err = errno;
		close(fd);
		return session_error("cannot stat cgroup %s: %s", cgroup, strerror(err));
	}
	close(fd);
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return session_error("%s is not a cgroup v2 directory", cgroup);
	err = cgroup_path_of_id(st.st_ino, path, len);
	if (err)
		return session_error("cgroup %s (id %llu) is not under rewindd's cgroup2 mount: %s",
				      cgroup, (unsigned long long)st.st_ino, strerror(-err));
	return NULL;
}

static json_object *do_attach(struct rw_sessions *S, const struct rw_request *req,
			      const struct rw_peer *peer)
{
	struct rw_session *s = NULL, *other;
	json_object *resp = NULL, *warnings, *targets;
	char path[PATH_MAX], label[RW_PID_LABEL_MAX];
	struct rw_auth_client who;
	uid_t uid = peer->cred.uid;
	pid_t *pids = NULL, pid = req->pid;
	size_t npids = 0;
	uint64_t cgid = 0;
	int id, err, procdir;

	resp = open_client(peer, &procdir, &who);
	if (resp)
		return resp;
	/* A number names a process only in the namespace it was taken in. */
	if (pid && ns_inode(procdir, "ns/pid") != ns_inode(AT_FDCWD, "/proc/self/ns/pid"))
		resp = session_error("you are in another pid namespace: pass a pidfd (rewindctl "
				      "does)");
	if (!resp && req->pidfd)
		pid = pid_of_pidfd(peer->passed_fd, &resp);
	if (!resp && req->cgroup[0])
		resp = client_cgroup(procdir, req->cgroup, path, sizeof(path));
	close(procdir);
	if (resp)
		return resp;

	if (pid) {
		resp = check_pid(pid, &who);
		if (resp)
			return resp;
		/* Still alive after the checks: the pid is still the pidfd's process. */
		if (req->pidfd && sys_pidfd_send_signal(peer->passed_fd, 0, NULL, 0))
			return session_error("the process of the pidfd sent has exited");
		other = find_session_target(S, pid, 0);
		if (other)
			return session_error("process %s is already attached (session %u)",
					      proc_pid_label(pid, label, sizeof(label)), other->id);
		pids = malloc(sizeof(*pids));
		if (!pids)
			return session_error("out of memory");
		pids[0] = pid;
		npids = 1;
	} else {
		char why[512];

		if (req->cgroup_id) {
			err = cgroup_path_of_id(req->cgroup_id, path, sizeof(path));
			if (err)
				return session_error("no cgroup with id %llu",
						      (unsigned long long)req->cgroup_id);
		}
		err = cgroup_id_of_path(path, &cgid);
		if (err == -ENOENT)
			return session_error("no such cgroup: %s", path);
		if (err)
			return session_error("%s is not a cgroup v2 directory: %s", path,
					      strerror(-err));
		other = find_session_target(S, 0, cgid);
		if (other)
			return session_error("cgroup %s is already attached (session %u)", path,
					      other->id);
		err = auth_may_attach_cgroup_as(&who, path, why, sizeof(why));
		if (err)
			return session_error("permission denied: %s", why);
		err = cgroup_list_procs(path, &pids, &npids);
		if (err)
			return session_error("cannot list the processes of %s: %s", path,
					      strerror(-err));
		for (size_t i = 0; i < npids; i++) {
			other = find_session_target(S, pids[i], 0);
			if (other) {
				resp = session_error("process %d of %s is already attached "
						      "(session %u)", pids[i], path, other->id);
				free(pids);
				return resp;
			}
		}
	}

	id = alloc_id(S);
	if (id < 0 && reclaim_abandoned(S))
		id = alloc_id(S);
	s = calloc(1, sizeof(*s));
	if (id < 0 || !s) {
		free(pids);
		free(s);
		if (id < 0)
			return session_error("too many sessions (%d)", RW_MAX_SESSIONS - 1);
		return session_error("out of memory");
	}
	s->id = id;
	s->key = new_key();
	s->procs_fd = -1;
	s->owner = uid;
	s->owner_auth = who;
	s->pid = pid;
	s->rewind_mode = !req->report;
	s->on_failure = req->on_failure;
	s->cgid = cgid;
	if (cgid) {
		snprintf(s->cgroup, sizeof(s->cgroup), "%s", path);
		s->procs_fd = cgroup_open_procs(path, cgid);
		if (s->procs_fd < 0) {
			resp = session_error("cannot open the cgroup.procs of %s: %s", path,
					     strerror(-s->procs_fd));
			s->procs_fd = -1;
			goto fail;
		}
	}
	if (req->nwatch) {
		char why[512];

		err = watches_init(&s->watches, req->watch, req->nwatch, uid, pids, npids,
				   S->instance[0] ? S->instance_dir : S->state_dir, id, why,
				   sizeof(why));
		if (err) {
			resp = session_error("%s", why);
			goto fail;
		}
	}

	/* Records may arrive as soon as the slot is published: the invocation must exist. */
	s->cur = invocation_new(1, rw_now_ns());
	if (!s->cur) {
		resp = session_error("out of memory");
		goto fail;
	}

	/* Track in BPF first, so no write between arming and tracking goes unseen. */
	err = cgid ? tracker_track_cgroup(S->tracker, cgid, id) : tracker_track_tgid(S->tracker, pid, id);
	if (err) {
		resp = session_error("cannot add the target to the BPF filter: %s", strerror(-err));
		goto fail;
	}
	S->slot[id] = s;
	tracker_reset_dropped(S->tracker, id);

	warnings = json_object_new_array();
	targets = json_object_new_array();
	for (size_t i = 0; i < npids; i++) {
		if (!target_add(s, pids[i])) {
			json_object_put(warnings);
			json_object_put(targets);
			resp = session_error("out of memory");
			goto fail_tracked;
		}
	}
	/* pid mode: the children it has already are the session's as much as those it forks. */
	if (pid) {
		char why[512];

		err = targets_sync_tree(S, s, why, sizeof(why));
		if (err) {
			json_object_put(warnings);
			json_object_put(targets);
			resp = session_error("%s%s", err == -EPERM || err == -EACCES ?
					     "permission denied: " : "", why);
			goto fail_tracked;
		}
	}
	for (size_t i = 0; i < s->ntargets; i++) {
		struct rw_target *t = &s->targets[i];
		char why[256];

		if (!t->alive)
			continue;
		/* Rewind sessions arm at the checkpoint, where it counts. */
		if (!s->rewind_mode && target_arm(S, s, t, why, sizeof(why))) {
			pr_warn("session %u: %s\n", id, why);
			json_object_array_add(warnings, json_object_new_string(why));
		}
		if (!s->rewind_mode && !t->excluded)
			target_state_baseline(t);
		json_object_array_add(targets, json_object_new_int(t->tgid));
	}
	/* Rewind sessions learn of writers the log cannot see; report sessions only scan. */
	for (size_t i = 0; s->rewind_mode && i < s->watches.n; i++) {
		struct rw_watch_tree *t = &s->watches.t[i];
		char why[256];

		err = S->fswatch ? fswatch_add_tree_at(S->fswatch, t->fd, t->root, WATCH_TAG(id, i),
						       why, sizeof(why)) : -ENOTSUP;
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
		pr_info("session %d: attached to pid %s (uid %u)\n", id,
			proc_pid_label(pid, label, sizeof(label)), uid);

	recovery_record(S, s, RW_RECORD_ATTACHED);
	resp = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(id));
	json_object_object_add(resp, "instance", json_object_new_string(S->instance));
	json_object_object_add(resp, "key", json_object_new_int64(s->key));
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

static json_object *session_json(struct rw_session *s)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "session", json_object_new_int(s->id));
	json_object_object_add(o, "mode", json_object_new_string(s->rewind_mode ? "rewind" :
								 "report"));
	json_object_object_add(o, "state", json_object_new_string(state_names[s->state]));
	if (s->rewind_mode) {
		uint64_t bytes = 0, unique = 0;

		for (size_t i = 0; i < s->ntargets; i++)
			if (s->targets[i].img) {
				bytes += s->targets[i].img->pages_stored * RW_PAGE_SIZE;
				unique += pagestore_unique_bytes(s->targets[i].img);
			}
		json_object_object_add(o, "checkpointed", json_object_new_boolean(s->checkpointed));
		/* What its images hold, and of that what no other image shares. */
		json_object_object_add(o, "image_bytes", json_object_new_int64(bytes));
		json_object_object_add(o, "image_unique_bytes", json_object_new_int64(unique));
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
		struct rw_target *t = target_find(s, s->pid);

		json_object_object_add(o, "pid", json_object_new_int(s->pid));
		json_object_object_add(o, "ns_pid", json_object_new_int(t && t->ns_pid ? t->ns_pid :
									  s->pid));
	}
	for (size_t i = 0; i < s->ntargets; i++) {
		json_object *t = json_object_new_object();

		json_object_object_add(t, "pid", json_object_new_int(s->targets[i].tgid));
		/* Its own namespace's number for it: what a client in a container knows. */
		json_object_object_add(t, "ns_pid", json_object_new_int(s->targets[i].ns_pid ?
									 s->targets[i].ns_pid :
									 s->targets[i].tgid));
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

json_object *image_store_json(const struct rw_pagestore *ps)
{
	json_object *o = json_object_new_object();
	struct rw_pagestore_stats st;

	pagestore_stats(ps, &st);
	json_object_object_add(o, "bytes", json_object_new_int64(st.bytes));
	json_object_object_add(o, "content_bytes", json_object_new_int64(st.content_bytes));
	json_object_object_add(o, "packed_pages", json_object_new_int64(st.packed_pages));
	json_object_object_add(o, "packed_bytes", json_object_new_int64(st.packed_bytes));
	json_object_object_add(o, "pages_to_pack", json_object_new_int64(st.pages_to_pack));
	json_object_object_add(o, "superseded_bytes", json_object_new_int64(st.superseded_bytes));
	json_object_object_add(o, "shared_bytes", json_object_new_int64(st.shared_bytes));
	json_object_object_add(o, "logical_bytes", json_object_new_int64(st.logical_bytes));
	json_object_object_add(o, "limit_bytes", json_object_new_int64(st.limit_bytes));
	json_object_object_add(o, "sharing", json_object_new_boolean(st.sharing));
	json_object_object_add(o, "packing", json_object_new_boolean(st.packing));
	return o;
}

void sessions_on_packed(struct rw_sessions *S)
{
	pagestore_packer_collect(S->pages);
}

void sessions_busy(struct rw_sessions *S, bool busy)
{
	/* Served: the stores packed since a rewind used them are swapped in before the packer resumes. */
	if (!busy)
		pagestore_swap_ready(S->pages);
	pagestore_packer_hold(S->pages, busy);
}

int sessions_packer_fd(const struct rw_sessions *S)
{
	return S->packer_fd;
}

static json_object *do_status(struct rw_sessions *S, struct rw_session *only, uid_t uid,
			      bool settle)
{
	json_object *resp = protocol_ok(), *arr = json_object_new_array();

	tracker_drain(S->tracker);
	/*
	 * Asked to settle: the store's figures then do not depend on how idle
	 * we were. Here, on our thread (every request waits meanwhile): only
	 * when asked.
	 */
	if (settle)
		pagestore_pack_all(S->pages);
	for (size_t i = 0; i < RW_MAX_SESSIONS; i++) {
		struct rw_session *s = S->slot[i];

		if (!s || (only && s != only) || (uid != 0 && s->owner != uid))
			continue;
		s->dropped_total = tracker_dropped(S->tracker, s->id);
		json_object_array_add(arr, session_json(s));
	}
	json_object_object_add(resp, "sessions", arr);
	/* The store's totals tell of every user's sessions: root's to see. */
	if (uid == 0)
		json_object_object_add(resp, "image_store", image_store_json(S->pages));
	json_object_object_add(resp, "instance", json_object_new_string(S->instance));
	/* rewindd's own heap: what malloc holds for it, against the RSS an operator watches. */
	if (uid == 0) {
		struct mallinfo2 mi = mallinfo2();
		json_object *m = json_object_new_object();

		json_object_object_add(m, "heap_in_use", json_object_new_int64(mi.uordblks + mi.hblkhd));
		json_object_object_add(m, "heap_free", json_object_new_int64(mi.fordblks));
		json_object_object_add(resp, "memory", m);
	}
	/* What this rewindd found of dead ones: their sessions were anyone's. */
	if (uid == 0 && S->recovered)
		json_object_object_add(resp, "recovered", json_object_get(S->recovered));
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
	recovery_forget(S, id);
	pr_info("session %u: detached\n", id);
	resp = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	json_object_object_add(resp, "session", json_object_new_int(id));
	return resp;
}

/* Start the next invocation; rewind sessions keep only the last reports. */
int session_next_invocation(struct rw_session *s)
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

json_object *sessions_handle(struct rw_sessions *S, const struct rw_request *req,
			     const struct rw_peer *peer, struct rw_rewind_summary *fast)
{
	struct rw_session *s = NULL;

	sessions_release(S);
	if (req->cmd == RW_CMD_ATTACH)
		return do_attach(S, req, peer);
	if (req->instance[0] && strcmp(req->instance, S->instance))
		return session_error("rewindd was restarted: the request is for %s, this is %s (the "
				     "sessions of that one, and their checkpoints, are gone)",
				     req->instance, S->instance);
	if (req->session) {
		s = req->session < RW_MAX_SESSIONS ? S->slot[req->session] : NULL;
		if (!s)
			return session_error("no session %u", req->session);
		/* Only root and the uid that attached may see or steer a session. */
		if (peer->cred.uid != 0 && peer->cred.uid != s->owner)
			return session_error("permission denied: session %u belongs to uid %u",
					      s->id, s->owner);
		if (req->key && req->key != s->key)
			return session_error("session %u is another session now: the one this request "
					     "was for is gone (detached, or taken back when the "
					     "session table was full)", req->session);
	}
	switch (req->cmd) {
	case RW_CMD_STATUS:
		return do_status(S, s, peer->cred.uid, req->settle);
	case RW_CMD_MARK:
		return s ? session_mark(S, s) : session_error("mark needs a session id");
	case RW_CMD_REPORT:
		return s ? session_report(S, s, req->canary) : session_error("report needs a session id");
	case RW_CMD_DETACH:
		return s ? do_detach(S, s) : session_error("detach needs a session id");
	case RW_CMD_CHECKPOINT:
		return s ? session_checkpoint(S, s) : session_error("checkpoint needs a session id");
	case RW_CMD_REWIND:
		return s ? session_rewind(S, s, req->verify, req->brief, fast) : session_error("rewind needs a session id");
	default:
		return session_error("unknown command");
	}
}

/*
 * A write fault while the records are ours still unprotected its page: from
 * now on the function writes it without a fault, so the next rewind must
 * copy it (a page our restore rewrote and re-protected is copied once more).
 */
static void keep_own_fault(struct rw_session *s, const void *data, size_t size)
{
	const struct rw_fault_event *e = data;
	struct rw_target *t;
	uint64_t page;

	if (e->hdr.kind != RW_EV_FAULT || size < sizeof(*e) || !(t = target_find(s, e->hdr.tgid)) ||
	    !t->wp)
		return;
	page = e->addr & ~4095ULL;
	if (!wp_covers(t->wp, page))
		return;
	pr_debug("session %u: pid %d tid %d: %s write fault at %#llx while the records were ours\n",
		 s->id, e->hdr.tgid, e->hdr.tid, e->flags & RW_FAULT_KERNEL ? "kernel" : "user",
		 (unsigned long long)e->addr);
	if (ranges_insert(&t->faulted_while_ours, page, page + 4096))
		t->lost_while_ours = true;
}

/* The tracker's record callback: routes a record to its session. */
static int sessions_on_record(void *ctx, const void *data, size_t size)
{
	const struct rw_event_hdr *h = data;
	struct rw_sessions *S = ctx;
	struct rw_session *s;

	if (size < sizeof(*h) || h->session == 0 || h->session >= RW_MAX_SESSIONS ||
	    !(s = S->slot[h->session])) {
		S->bad_records++;
		return 0;
	}
	/*
	 * Counted before anything can fail, and during a rewind too (we inject
	 * no fork; a process created since the checkpoint still runs then): the
	 * rewind trusts this count.
	 */
	if (h->kind == RW_EV_TASK && size >= sizeof(struct rw_task_event) &&
	    ((const struct rw_task_event *)data)->op == RW_TASK_NEW_PROCESS)
		s->forks++;
	if (s->discard) {
		keep_own_fault(s, data, size);
		return 0;
	}
	if (h->kind == RW_EV_TASK && size >= sizeof(struct rw_task_event))
		targets_on_task_record(s, data);
	/* A record not kept is a record lost: the rewind trusts this log no more than a dropped one. */
	if (invocation_add_record(s->cur, data, size)) {
		S->bad_records++;
		s->cur->dropped++;
	}
	return 0;
}

int sessions_init(struct rw_sessions *S, const struct rw_tracker_opts *opts,
		  const struct rw_image_opts *iopts)
{
	char why[256];

	memset(S, 0, sizeof(*S));
	S->pages = pagestore_new(iopts ? iopts->max_bytes : 0, iopts && iopts->sharing,
				 iopts && iopts->packing);
	if (!S->pages)
		return -ENOMEM;
	S->packer_fd = -1;
	if (iopts && iopts->packing) {
		S->packer_fd = pagestore_packer_start(S->pages);
		if (S->packer_fd < 0) {
			pr_err("starting the image packer: %s\n", strerror(-S->packer_fd));
			return S->packer_fd;
		}
	}
	S->next_id = 1;
	S->ringbuf_bytes = opts && opts->ringbuf_bytes ? opts->ringbuf_bytes : 16u << 20;
	snprintf(S->state_dir, sizeof(S->state_dir), "%s", RW_DEFAULT_STATE_DIR);
	if (fswatch_open(&S->fswatch, why, sizeof(why)))
		pr_warn("%s: watched trees will be compared whole at every rewind\n", why);
	return tracker_open(&S->tracker, opts, sessions_on_record, S);
}

void sessions_fini(struct rw_sessions *S)
{
	sessions_release(S);
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
	/* After every session: their images gave their pages back. */
	pagestore_free(S->pages);
	S->pages = NULL;
	recovery_stop(S);
}
