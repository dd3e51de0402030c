/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Stop every thread of a process with ptrace and hold them, so that its
 * memory, layout and thread set stay still while we read or rewrite them.
 * Threads created while we seize are found by listing again until the set
 * no longer grows (a stopped thread cannot clone).
 */
#ifndef RW_FREEZE_H
#define RW_FREEZE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "inject.h"

struct rw_frozen {
	pid_t tgid;
	struct rw_seized *threads;	/* seized (or a leader to reap), ascending tid */
	size_t n;
	/*
	 * Threads of tgid deliberately left running: the caller proved that
	 * they slept through since their last release (rewind.c). Not in
	 * threads; freeze_hold() seizes them after all.
	 */
	pid_t *asleep;
	size_t nasleep;
};

/*
 * Seize and interrupt every thread of tgid. 0; -ESRCH if the process is
 * gone (or only a zombie leader is left); other -errno if a thread cannot be
 * seized (another tracer...), -EDEADLK if one is an io_uring worker (it would
 * never stop). On failure nothing stays seized, and a
 * thread that died traced meanwhile is reaped (so that its parent can).
 */
int freeze_process(struct rw_frozen *f, pid_t tgid);
/*
 * freeze_process without reading every thread's flags first (a /proc read
 * a thread, ~7 us) to refuse an io_uring worker: for a caller whose log
 * shows the process made no io_uring call since it was frozen with the
 * check, and that calls freeze_io_worker() once the log is read up to the
 * freeze. A worker that takes no stop (older kernels) fails the wait after
 * its timeout, with -EDEADLK.
 */
int freeze_process_unchecked(struct rw_frozen *f, pid_t tgid);
/*
 * Seize exactly the threads tids of tgid, unchecked (as
 * freeze_process_unchecked), without listing them: for a caller whose log
 * shows no thread created or gone since the set was known, and that calls
 * freeze_more() when the log, read up to the freeze, says otherwise.
 * 0: all held; 1: some were gone (the caller must call freeze_more());
 * -errno as freeze_process (then nothing is held).
 */
int freeze_threads(struct rw_frozen *f, pid_t tgid, const pid_t *tids, size_t n);
/*
 * After freeze_threads(): list the threads and seize those not held, until
 * none is new. How many were added, or -errno: what was held stays held,
 * for the caller to release once it has failed closed.
 */
int freeze_more(struct rw_frozen *f);
/*
 * Seize the threads left asleep (f->asleep), which then join f->threads:
 * 0, 1 if some were gone (exited meanwhile; the caller decides), or -errno
 * (what was seized stays held).
 */
int freeze_hold(struct rw_frozen *f);
/* Whether tid is one of f's threads left asleep. */
bool freeze_is_asleep(const struct rw_frozen *f, pid_t tid);
/* A frozen thread that is an io_uring worker: its tid, or 0. */
pid_t freeze_io_worker(const struct rw_frozen *f);
/* The seized thread tid, or NULL. */
struct rw_seized *freeze_thread(struct rw_frozen *f, pid_t tid);
/* A live seized thread to inject through: the leader if it lives. NULL if none. */
struct rw_seized *freeze_any(struct rw_frozen *f);
/*
 * Hold a thread seized elsewhere (inject_clone()'s child) with the others.
 * The array may move: pointers from freeze_thread() taken before are stale.
 * 0 or -ENOMEM (then the caller still holds it).
 */
int freeze_adopt(struct rw_frozen *f, const struct rw_seized *ij);
/*
 * Forget a thread that exited (inject_exit_thread()) or failed to: one that
 * died traced is reaped first, else its zombie, ours alone to reap, keeps
 * the whole process from ever being reaped by its parent.
 */
void freeze_forget(struct rw_frozen *f, pid_t tid);
/*
 * The process is dying (killed while we injected into it): reap the threads
 * of it that we trace but f does not hold, e.g. one an injected clone3 made
 * whose clone event the kill pre-empted (PTRACE_O_TRACECLONE traced it from
 * birth). Else its zombie, ours to reap, keeps the leader and the process
 * from ever being reaped by its parent. How many it reaped.
 */
int freeze_reap_strays(struct rw_frozen *f);
/*
 * Let every thread go with the registers its rw_seized holds in .saved.
 * Returns the first error (-ESRCH: a thread died); frees the arrays.
 */
int freeze_release(struct rw_frozen *f);

#endif /* RW_FREEZE_H */
