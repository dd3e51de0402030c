/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checkpoint threads that exited since (an idle pool worker that timed
 * out), brought back: clone3 injected into a thread the plan keeps, with
 * the checkpoint's tid (set_tid), TLS and clear_child_tid, stopped before
 * it runs anything; its robust list set from inside it. The rest of its
 * state (registers, FPU, signal mask, rseq, attributes, pstate, name) is
 * set by the plan's ordinary per-thread steps once it is among f's threads.
 */
#ifndef RW_RECREATE_H
#define RW_RECREATE_H

#include <stddef.h>

#include "freeze.h"
#include "image.h"
#include "plan.h"
#include "remote.h"

/*
 * Run p's recreate steps; each new thread is added to f (pointers into f
 * taken before are stale after: r->ij is pointed at its thread again). r:
 * the rewind's remote, its scratch page used for a clone in its thread
 * (the plan's parent is that thread but for an injector gone meanwhile).
 * 0, or -errno with why naming the thread and the cause; a thread cloned
 * before a failure is made to exit again.
 */
int recreate_threads(const struct rw_plan *p, const struct rw_proc_image *img,
		     struct rw_frozen *f, struct rw_remote *r, char *why, size_t whylen);

#endif /* RW_RECREATE_H */
