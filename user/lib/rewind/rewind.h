/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checkpoint and rewind of one process, in steps the session sequences
 * over all of its processes: stop, (kill what is new), observe (observe.h:
 * what the log and /proc say), plan (plan.h), apply and re-arm (restore.h,
 * wp.h), verify, resume. Timings are kept per step for the breakdown
 * `rewind --json` reports.
 */
#ifndef RW_REWIND_H
#define RW_REWIND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "freeze.h"
#include "image.h"
#include "invocation.h"
#include "hotset.h"
#include "observe.h"
#include "plan.h"
#include "remote.h"
#include "restore.h"
#include "sleepers.h"
#include "verify.h"
#include "wp.h"

struct rw_ckpt_stats {
	uint64_t stop_ns, arm_ns, capture_ns, resume_ns;
};

/*
 * Freeze tgid, capture its image, arm write protection afresh on all its
 * private writable memory (*wp is replaced), let it go. Both happen while it
 * is stopped: no write can fall between. quiesce(ctx) runs while it is still
 * stopped, after the capture: the caller consumes the records our own
 * injected syscalls produced. 0 or -errno with the cause in why.
 */
int rewind_checkpoint_process(pid_t tgid, struct rw_wp **wp, struct rw_proc_image *img,
			      void (*quiesce)(void *ctx), void *ctx, struct rw_ckpt_stats *st,
			      char *why, size_t whylen);

struct rw_rewind_stats {
	uint64_t stop_ns, kill_ns, scan_ns, plan_ns, layout_ns, copy_ns, inject_ns, regs_ns,
		rearm_ns, verify_ns, resume_ns;
	uint64_t pages_copied, pages_dropped, pages_wholesale, pages_zero_filled;
	uint64_t pages_restorer;	/* of pages_copied: by the restorer's way (the target itself) */
	uint64_t pages_beside;		/* copied by us beside the restorer (copy_beside) */
	uint64_t batch_areas_mapped;	/* mapped in the target for the batches and copies (restorer_area.h) */
	uint64_t pages_hot;		/* left unprotected (hotset.h): copied at every rewind */
	uint64_t threads_exited, injected;
	uint64_t threads_asleep;	/* left running through the restore: they slept (sleepers.h) */
	uint64_t threads_recreated;	/* checkpoint threads that had exited, cloned back */
	uint64_t scans;			/* processes whose written pages PAGEMAP_SCAN listed */
};


/* One process while it is being rewound. */
struct rw_rewinding {
	struct rw_proc_image *img;
	struct rw_wp *wp;		/* borrowed; NULL if it was not armed */
	struct rw_hotset *hot;		/* borrowed, with wp (hotset.h); NULL: protect everything */
	struct rw_iterobs *iter;	/* borrowed (observe_iter.h); NULL: observe reads /proc */
	struct rw_frozen f;
	struct rw_remote r;
	struct rw_plan plan;
	struct rw_ranges written;	/* what the scan found, for the report */
	uint64_t untracked;		/* pages of it that were hot (unprotected): written or not */
	uint64_t syscall_ip;		/* img's, when the log proves it unchanged; else 0 */
	uint64_t sig_ignored;		/* SigIgn as the plan read it (all threads stopped) */
	bool fdobj_locks;		/* the log saw a lock call or lost records: locks re-read */
	/*
	 * The log shows no io_uring call of the session since the checkpoint's
	 * freeze refused workers: this stop does not look for one, the caller
	 * calls rewind_no_io_worker() once the log is read up to the stop.
	 */
	bool no_io_uring;
	/*
	 * The log shows no thread of it created, gone or exec'd since the last
	 * rewind (or the checkpoint), which left the image's threads: with
	 * no_io_uring, the stop seizes those without listing /proc/PID/task;
	 * the caller calls rewind_stop_rest() if the log read up to the stop
	 * shows one created meanwhile.
	 */
	bool threads_vouched;
	/* A thread the log vouched for was gone at the stop: the threads were listed instead. */
	bool threads_missed;
	/*
	 * Set by the caller: the threads that slept through since their last
	 * release may be left running (sleepers.h); rewind_stop clears it when
	 * it cannot.
	 */
	bool sleepers;
	bool sleeper_woke;		/* one of them ran (RW_SLEEPER_WOKE) */
	bool frozen;
};

/*
 * Stop every thread. -ESRCH: the process is gone. A failure may leave
 * threads held (frozen set): rewind_abandon lets them go.
 */
int rewind_stop(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen);
/*
 * After a stop with threads_vouched: list its threads and stop those not
 * held (created between the log's last look and the stop). With
 * log_says_none (--verify, the log read up to the stop shows none), a
 * thread found, or one the stop found gone, is a verification failure,
 * -EIO with why.
 */
int rewind_stop_rest(struct rw_rewinding *rw, bool log_says_none, struct rw_rewind_stats *st,
		     char *why, size_t whylen);
/* After a stop with no_io_uring that the log no longer vouches for: 0, or -EDEADLK with why. */
int rewind_no_io_worker(struct rw_rewinding *rw, char *why, size_t whylen);
/* Observe (observe.h), build the plan; its failures: -ENOTRECOVERABLE with why set. */
int rewind_plan(struct rw_rewinding *rw, const struct rw_log_facts *facts,
		struct rw_rewind_stats *st, char *why, size_t whylen);
/*
 * The threads the stop left asleep (sleepers.h), once restored: still
 * asleep as they were, or, with hold, seized (for --verify, or a plan
 * step in them) and proven not to have run. RW_SLEEPER_WOKE with why if one woke:
 * the caller restores again with every thread held and the log not
 * trusted.
 */
int rewind_sleepers_recheck(struct rw_rewinding *rw, bool hold, char *why, size_t whylen);
/*
 * After RW_SLEEPER_WOKE: add the pages the plan restored (copied or dropped)
 * to *restored, seize every thread left asleep, unproven, and any thread
 * created meanwhile (listed), io_uring workers refused: the caller
 * observes and plans again (rewind_plan) with the log counted incomplete
 * and *restored among the written pages. 0 or -errno with why.
 */
int rewind_hold_all(struct rw_rewinding *rw, struct rw_ranges *restored, char *why,
		    size_t whylen);
/*
 * Execute the plan and write-protect again what was restored or remapped.
 * RW_SLEEPER_WOKE, as rewind_sleepers_recheck, when the restore failed and
 * a thread left asleep is found to have run (it may have caused the
 * failure): the caller restores again with every thread held.
 */
int rewind_apply(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen);
/*
 * The objects behind its fds (fdobj.h), once every process of the session
 * is rewound (a pipe's other end may be another's): nothing is read when it
 * had none at the checkpoint.
 */
int rewind_fdobjs(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen);
int rewind_verify(struct rw_rewinding *rw, struct rw_verify_result *res, struct rw_rewind_stats *st);
/*
 * Let it run (with its restored registers). What the rewind found (its
 * written pages) stays readable until rewind_done.
 */
int rewind_resume(struct rw_rewinding *rw, struct rw_rewind_stats *st);
/* Free the per-rewind state of a resumed rewind. */
void rewind_done(struct rw_rewinding *rw);
/* Abandon: release without restoring anything more; frees the per-rewind state. */
void rewind_abandon(struct rw_rewinding *rw);

/*
 * SIGKILL every process of pids and wait until each is gone (a deadline
 * bounds the wait); a zombie whose parent is one of the frozen processes
 * is reaped there and the SIGCHLD it raised dequeued. 0, or -ETIMEDOUT /
 * -errno with why set.
 */
int rewind_kill(const pid_t *pids, size_t n, struct rw_rewinding *procs, size_t nprocs,
		char *why, size_t whylen);

#endif /* RW_REWIND_H */
