/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * observe_state's reads of /proc, kcmp and ptrace, made by the observe
 * iterators (iterobs.h) when the session has a tracker: the fd table, the
 * status fields the plan compares, cwd, each thread's queued signals and
 * rseq registration, pgid and sid, in two read()s. verify.c still reads
 * /proc and kcmp: an independent check of what the iterators said.
 */
#ifndef RW_OBSERVE_ITER_H
#define RW_OBSERVE_ITER_H

#include <stdbool.h>
#include <sys/stat.h>

#include "freeze.h"
#include "image.h"
#include "iterobs.h"
#include "observe.h"
#include "proc.h"

/* Unless REWINDD_ITER_OBSERVE=0 (the /proc path, for comparisons). */
bool observe_iter_enabled(void);

/*
 * At the checkpoint, img's threads still stopped after its capture: the
 * struct file of every held fd (rw_fd_image.file), confirmed by kcmp
 * against the held copy, and whether any thread has an io_uring context
 * (rw_proc_image.no_io_uring). 0 or -errno (then rewinds compare with
 * kcmp and check for io_uring workers at every stop).
 */
int observe_iter_checkpoint(struct rw_iterobs *it, struct rw_proc_image *img);

/*
 * With the threads tids (ascending) stopped, or asleep as sleepers.h proves:
 * o->fds and o->obs.nfds, o->pending (per tids[i]), o->rseq when the log
 * says rseq was called or is incomplete,
 * o->obs.pgid and sid, and of *status and *cwd what observe_state uses.
 * 0, or -errno with nothing of o allocated: the caller reads /proc.
 */
int observe_iter_state(struct rw_iterobs *it, const struct rw_proc_image *img,
		       const pid_t *tids, size_t ntids, const struct rw_log_facts *facts,
		       struct rw_observation *o, struct rw_proc_status *status, struct stat *cwd);

#endif /* RW_OBSERVE_ITER_H */
