/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a rewind learns about one stopped process before it plans: what the
 * BPF log of the invocation says about it, the pages written since the
 * checkpoint, and its state now (layout, threads, status, cwd, fds,
 * timers). /proc is read only where the log leaves the answer in doubt.
 */
#ifndef RW_OBSERVE_H
#define RW_OBSERVE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "freeze.h"
#include "image.h"
#include "invocation.h"
#include "iterobs.h"
#include "plan.h"
#include "ranges.h"
#include "wp.h"

/* What the BPF log of the invocation says about one process. */
struct rw_log_facts {
	struct rw_ranges layout_touched;
	struct rw_ranges faulted;	/* pages named by write-fault records, and madvise_unfaulted ranges */
	struct rw_ranges wipe_maybe_set;	/* see rw_observed */
	bool incomplete;		/* records were dropped */
	bool unvouched;			/* a write may have raised no fault: scan (tracker_unvouched) */
	/*
	 * Set by a caller whose tracker logged every write fault of the process
	 * since its pages were protected: only then can the log replace the
	 * scan (a rewind without a tracker, e.g. the library tests', scans).
	 */
	bool logged;
	bool pinned;			/* io_uring/AIO/AF_XDP used: all private memory is restored */
	bool brk_called, timers_called, fd_flags_changed;
	bool cgroup_moved;		/* a move to another cgroup: membership is read */
	bool memory_forced;		/* a ptrace poke or a write to /proc/PID/mem, by anyone of the session */
	bool creds_called;		/* a CRED call: credentials and namespaces are read */
	bool securebits_set;
	uint32_t mounts_changed;	/* nr of a mount-table or root call (mount, chroot, ...); 0 none */
	bool locks_called;		/* flock or an fcntl lock: fdobj.c re-reads the locks */
	bool attrs_called;		/* an ATTR call by any process of the session, on any target */
	bool pstate_called;		/* a PROC call (or exec): pstate.h's state is read */
	bool rseq_called;		/* an rseq (un)registration: every thread's is read */
	bool keys_called;		/* a KEY call by any process of the session */
	uint64_t prctl_unhandled;	/* option + 1 of a logged prctl no rewind step undoes */
	uint64_t keyctl_unhandled;	/* operation + 1 of such a keyctl */
	int32_t *keys_added;		/* what add_key returned: an update if the key existed */
	size_t nkeys_added;
	bool layout_unbounded;		/* a layout call nothing in the log bounds (shmat, shmdt, exec, ...) */
	uint64_t brk_lo, brk_hi;	/* the lowest and highest break brk returned (brk_called) */
	uint64_t sealed;		/* address + 1 of a logged mseal: no step unseals */
	uint64_t sigactions_called;
};

int observe_log_facts(const struct rw_invocation *inv, pid_t tgid, bool incomplete,
		      struct rw_log_facts *out);
void observe_log_facts_free(struct rw_log_facts *f);
/*
 * After brk (facts->brk_called): the pages the break moved over from brk0,
 * the checkpoint's (every rewind puts it back), [*lo, *hi). brk maps or
 * unmaps nothing outside them.
 */
void observe_brk_span(const struct rw_log_facts *facts, uint64_t brk0, uint64_t *lo, uint64_t *hi);

/* One process as observed; obs (what plan_build takes) points into the buffers here. */
struct rw_observation {
	struct rw_observed obs;
	struct rw_ranges written;	/* scan ∪ write faults, sorted, merged */
	bool scanned;			/* PAGEMAP_SCAN looked for written pages */
	const struct rw_ranges *covered;	/* wp's registrations, borrowed: valid until wp changes */
	struct rw_maps maps;		/* read now (unless obs.maps is the image's) */
	struct rw_fd_now *fds;
	pid_t *tids;
	struct rw_thread_pending *pending;	/* per tid */
	struct rw_rseq *rseq;			/* per tid, when read */
	struct rw_robust *robust;		/* per tid */
	uint64_t *blocked;			/* per tid, from the task iterator; NULL: not read */
	char (*comms)[16];			/* per tid: its name */
	char *cgroups;				/* /proc/PID/cgroup, when read */
	int *timers;
	struct rw_ident *idents;
	struct rw_attrs attrs;		/* read only when the log cannot vouch for them */
	struct rw_pstate pstate;	/* likewise */
	struct rw_shm_now *shm;		/* one per image object: no log can vouch for them */
	size_t nshm;
	struct rw_iterobs *iter;	/* borrowed, set by the caller: observe_iter.h; NULL: /proc */
};

/*
 * The pages written since the checkpoint, into o->written: the log's write
 * faults, the pages left unprotected (hot, may be NULL) and the ranges whose
 * registration was lost (looked for where the log's layout calls, and brk
 * from the checkpoint's break brk0, reach); and, only when the log cannot vouch for them
 * (incomplete, unvouched, memory_forced), wp's scan (without re-arming);
 * o->scanned says which; o->covered points at wp's
 * registrations (plan before anything re-arms). A failed scan is logged and sets *wp NULL (the caller still
 * owns it): coverage is unknown, all private memory gets restored.
 * 0 or -errno (a written page missing from the list would not be copied).
 */
int observe_written(struct rw_wp **wp, pid_t tgid, uint64_t brk0, const struct rw_log_facts *facts,
		    const struct rw_ranges *hot, struct rw_observation *o);
/*
 * Returned by observe_state when f has threads left asleep (sleepers.h)
 * and the task iterator could not be read: /proc's reads need them stopped.
 */
#define RW_OBSERVE_ASLEEP	(-ENOSTR)

/*
 * The rest of o->obs, with every thread of f stopped (or left asleep,
 * f->asleep); armed: wp survived observe_written(). 0, RW_OBSERVE_ASLEEP or
 * -errno.
 */
int observe_state(const struct rw_proc_image *img, struct rw_frozen *f, bool armed,
		  const struct rw_log_facts *facts, struct rw_observation *o);
void observe_free(struct rw_observation *o);

/* img's syscall instruction address when the log proves it still there, else 0. */
uint64_t observe_syscall_ip(const struct rw_proc_image *img, const struct rw_log_facts *facts);

#endif /* RW_OBSERVE_H */
