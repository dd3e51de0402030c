/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the rooms of a session share (session.c: slots, attach, status,
 * detach, dispatch; targets.c: the tracked processes; report_mode.c;
 * rewind_mode.c). Not for the daemon's other parts: they use session.h.
 */
#ifndef RW_SESSION_STATE_H
#define RW_SESSION_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "auth.h"
#include "fingerprint.h"
#include "hotset.h"
#include "image.h"
#include "invocation.h"
#include "ipc.h"
#include "proc.h"
#include "session.h"
#include "watched_trees.h"

enum rw_session_state {
	RW_SESSION_ACTIVE,
	RW_SESSION_EXITED,	/* every target process is gone */
	RW_SESSION_FAILED,	/* a rewind could not restore it: nothing more is done */
};

/* One tracked process. */
struct rw_target {
	pid_t tgid;
	pid_t ns_pid;		/* its pid in its own pid namespace when first seen; 0: unknown */
	bool alive;
	struct rw_wp *wp;	/* NULL: not armed, its pages come from fault records only */
	bool exec_seen;		/* exec replaced the mm: wp is stale, authority must be re-checked */
	bool excluded;		/* the owner may no longer ptrace it: untracked, never touched again */
	struct rw_maps maps;	/* layout when the current invocation was closed */
	struct rw_proc_image *img;	/* rewind mode: its checkpoint, NULL if it is not in one */
	struct rw_tmaps stale;	/* a dropped checkpoint's mappings of ours, for the next one to remove */
	struct rw_hotset hot;		/* rewind mode: pages left unprotected between rewinds */
	/*
	 * Write faults in its registered memory while the records were ours
	 * (our injections, the kernel updating rseq's cpu_id on their return):
	 * unprotected since, later writes there raise none. The next rewind
	 * copies them; lost_while_ours (out of memory) makes it scan instead.
	 */
	struct rw_ranges faulted_while_ours;
	bool lost_while_ours;
	struct rw_fingerprint *fp;	/* report mode: its state when the invocation began */
	bool left_cgroup;		/* cgroup mode: not among its members at the last look */
	struct rw_iterobs *iter;	/* rewind mode: observe iterators, with img (observe_iter.h) */
	/*
	 * Threads left asleep woke during a rewind sleepers_wakes times: the
	 * next sleepers_held rewinds stop every thread (sleepers_woke()).
	 */
	unsigned int sleepers_wakes, sleepers_held;
};

struct rw_rewinding;

struct rw_session {
	uint32_t id;
	/* Random, in attach's answer: a request with another key was for an earlier holder of id. */
	uint64_t key;
	uid_t owner;
	struct rw_auth_client owner_auth;	/* the client that attached, for ptrace's rule */
	pid_t pid;			/* pid mode: the process attached to */
	char cgroup[PATH_MAX];		/* cgroup mode: its directory */
	uint64_t cgid;
	int procs_fd;			/* cgroup mode: its cgroup.procs (cgroup_open_procs); else -1 */
	enum rw_session_state state;
	char why[512];			/* why the state is not ACTIVE */
	bool rewind_mode;		/* attached without --report */
	enum rw_on_failure on_failure;
	bool checkpointed;
	bool busy;			/* inside checkpoint or rewind: images are in use */
	/*
	 * The last rewind's processes, restored and answered for but still
	 * stopped: let go once the answer is on its way (session_release).
	 */
	struct rw_rewinding *releasing;
	size_t nreleasing;
	uint64_t release_ns;		/* what the last release took: the next answer's "resume" */
	/*
	 * The invocation that rewind ended, its report still to be closed (at
	 * closing_end_ns) once the answer is out and the threads released: a
	 * brief answer does not carry it, and no request is read before.
	 */
	struct rw_invocation *closing;
	uint64_t closing_end_ns;
	bool discard;			/* records now come from our own injected syscalls */
	pid_t lost;			/* a checkpointed process that exited between rewinds */
	/* Process creations by the session's processes logged, and that count when this invocation began. */
	uint64_t forks, forks_before;
	/* Since the checkpoint a rewind read (or was vouched for) every process's children, killing the new. */
	bool children_read;
	struct rw_target *targets;
	size_t ntargets;
	struct rw_invocation *cur;
	struct rw_invocation **done;
	size_t ndone;
	uint64_t dropped_seen;		/* BPF drop counter at the last mark */
	uint64_t dropped_total;
	uint64_t unvouched_seen;	/* tracker_unvouched() at the last checkpoint or rewind */
	uint64_t requeues_seen;		/* tracker_futex_requeues() at the last rewind's stop */
	struct rw_watches watches;	/* --watch trees: rolled back at rewind, scanned for canaries */
	struct rw_ipcs ipcs;		/* rewind mode: the checkpoint's IPC namespaces (ipc.h) */
};

/* fanotify tags: which session's which tree. */
#define WATCH_TAG(id, tree)	((int)((id) * RW_MAX_WATCH + (tree)))

/* {"ok":false,"error":...} */
json_object *session_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* {"ok":true,"session":id}, for the caller to add fields to. */
json_object *session_ok(uint32_t id);
/* Events the BPF side dropped for s since this was last asked. */
uint64_t session_take_dropped(struct rw_sessions *S, struct rw_session *s);
/*
 * Whether the write faults of s may miss written pages since this was last
 * asked (or the checkpoint): a GUP write, a drop, io_uring/AIO ever (sticky).
 */
bool session_take_unvouched(struct rw_sessions *S, struct rw_session *s);
/* Close the current invocation's slot and start the next one: 0 or -ENOMEM. */
int session_next_invocation(struct rw_session *s);

/* targets.c */
/* Report mode: the target's state now, as the start of the invocation (a failure: none). */
void target_state_baseline(struct rw_target *t);
struct rw_target *target_find(struct rw_session *s, pid_t tgid);
struct rw_target *target_add(struct rw_session *s, pid_t tgid);	/* NULL: ENOMEM */
/* "1234", or "1234 (pid 7 in its namespace)": proc_pid_label's, as first seen. */
const char *target_label(const struct rw_target *t, char *buf, size_t len);
/*
 * For each object of arr with a pid under key: ns_key, its number in its
 * own pid namespace (a target's as first seen; a target's thread's read
 * now; left out when it is unknown).
 */
void targets_add_ns_pids(struct rw_session *s, json_object *arr, const char *key,
			 const char *ns_key);
void target_disarm(struct rw_target *t);
void target_drop_image(struct rw_target *t);
int target_arm(struct rw_sessions *S, struct rw_session *s, struct rw_target *t,
	       char *why, size_t whylen);
/* invocation_close() callbacks; ctx is the session. */
bool target_covers(void *ctx, pid_t tgid, uint64_t page);
const struct rw_maps *target_maps(void *ctx, pid_t tgid);
/*
 * cgroup mode: add the processes that joined the cgroup, and mark those no
 * longer in it (left_cgroup). 0, or -errno when the members are unknown
 * (cgroup.procs cannot be read).
 */
int targets_sync_cgroup(struct rw_session *s);
/*
 * pid mode: every descendant of the attached process becomes a target, in the
 * BPF filter, each checked against the owner's ptrace rule. 0, or -errno with
 * why naming the process that could not be added.
 */
int targets_sync_tree(struct rw_sessions *S, struct rw_session *s, char *why, size_t whylen);
void targets_compact(struct rw_session *s);
void targets_on_task_record(struct rw_session *s, const struct rw_task_event *e);

/* report_mode.c */
json_object *session_mark(struct rw_sessions *S, struct rw_session *s);
json_object *session_report(struct rw_sessions *S, struct rw_session *s, const char *canary);

/* rewind_mode.c */
json_object *session_checkpoint(struct rw_sessions *S, struct rw_session *s);
json_object *session_rewind(struct rw_sessions *S, struct rw_session *s, bool verify, bool brief,
			    struct rw_rewind_summary *fast);
/* Let go of what the last rewind of s holds (sessions_release, session.h). */
void session_release(struct rw_sessions *S, struct rw_session *s);

#endif /* RW_SESSION_STATE_H */
