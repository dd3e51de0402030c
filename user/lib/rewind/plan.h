/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The restore plan of one process: pure data computed from its checkpoint
 * image and what is observed now (layout, threads, written pages, fds,
 * what the BPF log saw). No syscalls here: unit-testable, loggable, and
 * what `rewind` reports. restore.c executes it in the order of the fields.
 */
#ifndef RW_PLAN_H
#define RW_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"
#include "ranges.h"

/* What is true of the process now, as the rewind found it (frozen). */
struct rw_fd_now {
	int fd;
	bool same;		/* the checkpoint's open file description (kcmp) */
	int64_t pos;		/* of that description; -1 if not seekable */
	int status_flags;
	bool cloexec;
};

struct rw_observed {
	const struct rw_maps *maps;		/* without the store's mapping when intact */
	bool tmap_intact;			/* the image's store mapping is there, untouched */
	bool area_intact;			/* and the restorer's area (restorer_area.h) */
	const pid_t *tids;			/* ascending */
	size_t ntids;
	const struct rw_thread_pending *pending;	/* per tid: its own signal queue */
	const struct rw_rseq *rseq;		/* per tid: rseq registration; NULL: the log vouches */
	const struct rw_robust *robust;		/* per tid: robust list; NULL: not read */
	const uint64_t *blocked;		/* per tid: signal mask; NULL: not read */
	const char (*comms)[16];		/* per tid: its name; NULL: not read (all put back) */
	const char *cgroups;			/* /proc/PID/cgroup; NULL: the log proves it unchanged */
	const struct rw_range *written;		/* sorted, merged: scan ∪ write faults */
	size_t nwritten;
	const struct rw_range *covered;		/* write-protected until now, sorted */
	size_t ncovered;
	const struct rw_range *layout_touched;	/* ranges layout syscalls named (any order) */
	size_t nlayout_touched;
	/* Where a layout call may have set wipe-on-fork: madvise(MADV_WIPEONFORK),
	 * mmap(MAP_DROPPABLE), mremap's new range (any order). */
	const struct rw_range *wipe_maybe_set;
	size_t nwipe_maybe_set;
	bool log_incomplete;			/* records were dropped: trust no log-only fact */
	bool memory_forced;			/* forced writes (ptrace, /proc/PID/mem): read-only memory too */
	bool brk_called;
	uint64_t sigactions_called;		/* bit sig - 1 */
	bool timers_called;
	const struct rw_fd_now *fds;		/* ascending fd */
	size_t nfds;
	dev_t cwd_dev;
	ino_t cwd_ino;
	int umask;
	pid_t pgid, sid;			/* process group and session, read at every rewind */
	uint64_t sig_ignored, sig_caught;
	uint64_t sig_pending_shared;
	int seccomp, seccomp_filters;		/* as /proc/PID/status says now */
	bool no_new_privs;
	const struct rw_ident *idents;		/* per thread now; NULL: the log proves them unchanged */
	size_t nidents;
	bool securebits_set;			/* PR_SET_SECUREBITS / PR_SET_KEEPCAPS logged */
	uint32_t mounts_changed;		/* a logged mount-table or root call: its nr */
	const int *timer_ids;			/* ascending; read only when timers matter */
	size_t ntimers;
	const struct rw_attrs *attrs;		/* NULL: the log proves them unchanged */
	const struct rw_pstate *pstate;		/* NULL: the log proves it unchanged */
	uint64_t prctl_unhandled;		/* option + 1 of a logged prctl no step undoes */
	uint64_t sealed;			/* address + 1 of a logged mseal */
	uint64_t keyctl_unhandled;		/* operation + 1 of such a keyctl */
	const int32_t *keys_added;		/* add_key results: an update if known at checkpoint */
	size_t nkeys_added;
	const struct rw_shm_now *shm;		/* one per image shms[i] (read at every rewind) */
};

enum rw_layout_kind {
	RW_LAYOUT_MUNMAP,
	RW_LAYOUT_MAP_ANON,
	RW_LAYOUT_MAP_FILE,
	RW_LAYOUT_MPROTECT,
	RW_LAYOUT_MADVISE,	/* the checkpoint's MADV_WIPEONFORK / MADV_KEEPONFORK back */
};

struct rw_layout_op {
	enum rw_layout_kind kind;
	uint64_t start, end;
	int prot;
	bool shared;			/* MAP_SHARED (file only: shared anonymous memory cannot come back) */
	bool growsdown;			/* MAP_ANON of a [stack] part */
	bool noreserve;			/* MAP_ANON with MAP_NORESERVE */
	uint64_t offset;		/* MAP_FILE */
	int advice;			/* MADVISE */
	dev_t dev;
	ino_t ino;
};

enum rw_fd_kind {
	RW_FD_CLOSE,		/* opened since the checkpoint */
	RW_FD_INSTALL,		/* closed or replaced: put the held description back */
	RW_FD_SEEK,		/* same description, moved */
	RW_FD_SETFL,		/* same description, status flags changed */
	RW_FD_CLOEXEC,		/* FD_CLOEXEC of the entry changed */
};

struct rw_fd_op {
	enum rw_fd_kind kind;
	int fd;
	const struct rw_fd_image *want;	/* NULL for RW_FD_CLOSE */
};

/* An rlimit (resource) or an attribute of thread tid to set back: attrs.h. */
struct rw_attr_op {
	enum rw_attr_kind kind;
	pid_t tid;
	int resource;
};

/* Shared memory object obj of the image (shmem.h), written back through our reference. */
enum rw_shm_kind {
	RW_SHM_WRITE,		/* [start, end): stored checkpoint pages */
	RW_SHM_PUNCH,		/* [start, end): zero at the checkpoint: a hole again */
	RW_SHM_TRUNCATE,	/* the checkpoint's size, end (after the writes: they may extend it) */
};

struct rw_shm_op {
	enum rw_shm_kind kind;
	size_t obj;
	uint64_t start, end;
};

struct rw_plan {
	pid_t tgid;
	char **failures;		/* non-empty: cannot be restored, apply nothing */
	size_t nfailures;
	pid_t *exit_threads;		/* created since the checkpoint */
	size_t nexit;
	/*
	 * Checkpoint threads that exited since, cloned back with their tid in
	 * thread parent (one the plan keeps), first of all (restore.c). Their
	 * other per-thread steps (rseq, attributes, pstate, namespaces, name,
	 * registers) are among the plan's steps below like any thread's.
	 */
	struct rw_recreate_op {
		pid_t tid, parent;
	} *recreate;
	size_t nrecreate;
	pid_t *renames;			/* threads whose checkpoint name is put back */
	size_t nrenames;
	pid_t *masks_held;		/* threads that hold their checkpoint's signal mask: not put */
	size_t nmasks_held;
	bool set_brk;
	uint64_t brk;
	uint64_t brk_first;		/* non-zero: brk(brk_first) before brk(brk), see plan.c */
	uint64_t brk_lo, brk_hi;	/* set_brk: the span the break's moves map or unmap */
	uint64_t hole;			/* free in both layouts: where remote.h's mappings go */
	uint64_t tmap;			/* the target's mapping of the store, to copy from; 0: none */
	bool tmap_remap;		/* it was changed: map it again after the layout step */
	uint64_t area;			/* the restorer's area there, to run batches from; 0: none */
	bool area_remap;		/* it was changed: map it again after the layout step */
	struct rw_copy_costs *costs;	/* the image's, set by the caller: which copy is faster */
	struct rw_layout_op *layout;	/* munmaps first, then maps and mprotects, then madvises */
	size_t nlayout;
	struct rw_range *copy;		/* stored checkpoint pages to write back */
	size_t ncopy;
	uint64_t copy_pages;
	/*
	 * Pages not stored at checkpoint (absent or zero then): in anonymous
	 * writable memory written with zeros (fill, within plan.c's budget:
	 * the page stays allocated), the rest dropped (MADV_DONTNEED).
	 */
	struct rw_range *fill;
	size_t nfill;
	uint64_t fill_pages;
	struct rw_range *drop;
	size_t ndrop;
	uint64_t drop_pages;		/* fill's and drop's */
	uint64_t wholesale_pages;	/* restored whole (coverage lost or remapped) */
	uint64_t wipe_pages;		/* wipe-on-fork memory: dropped at every rewind */
	struct rw_fd_op *fdops;
	size_t nfdops;
	bool chdir, umask;
	uint64_t sigactions;		/* bit sig - 1: dispositions to put back */
	uint64_t drain_signals;		/* pending now, not at the checkpoint: dequeued */
	struct rw_thread_drain {	/* the same, queued on one thread */
		pid_t tid;
		uint64_t set;
	} *drain_threads;
	size_t ndrain_threads;
	struct rw_rseq_op {		/* a thread's rseq registration put back (before the pages) */
		pid_t tid;
		struct rw_rseq now, want;
	} *rseq_ops;
	size_t nrseq_ops;
	struct rw_robust_op {		/* a surviving thread's robust list registered again */
		pid_t tid;
		struct rw_robust want;
	} *robust_ops;
	size_t nrobust_ops;
	bool timers;			/* itimers and POSIX timers to put back */
	int *delete_timers;		/* created since the checkpoint */
	size_t ndelete_timers;
	struct rw_attr_op *attrops;	/* rlimits first: the layout and fds must fit them */
	size_t nattrops;
	struct rw_setns_op {		/* a thread back into its checkpoint namespace */
		pid_t tid;
		int kind;		/* RW_NS_* */
		int fd;			/* the image's held fd to it */
	} *setns;
	size_t nsetns;
	struct rw_pstate_op *psops;	/* personality, prctl state, sigaltstack, keys: pstate.h */
	size_t npsops;
	struct rw_shm_op *shmops;	/* per object: writes and punches, then its size */
	size_t nshmops;
	uint64_t shm_pages;		/* pages of shared memory written back or punched */
};

/* 0 or -ENOMEM. A plan with failures is still returned (0): check nfailures. */
int plan_build(const struct rw_proc_image *img, const struct rw_observed *obs,
	       struct rw_plan *plan);
void plan_free(struct rw_plan *plan);
/* Whether thread tid holds its checkpoint's signal mask (masks_held). */
bool plan_mask_held(const struct rw_plan *p, pid_t tid);
/* One line per step, for logs and `rewind --json` ("munmap 0x...-0x...", ...). */
struct json_object;
struct json_object *plan_to_json(const struct rw_plan *plan);

#endif /* RW_PLAN_H */
