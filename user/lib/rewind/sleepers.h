/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Threads that slept through an invocation are left running by the rewind:
 * stopping and letting go of an idle worker costs two trips through the
 * scheduler each (Node keeps five), and it holds its checkpoint state
 * already.
 *
 * The proof, per thread. Its checkpoint registers are a sleep the kernel
 * restarts as it was (thread_state_restarts), so every release since let
 * it go straight back into that call, running no user code; and that call
 * writes no memory while it sleeps and is left only by a wake or a signal
 * (a private futex wait, pause; not a read, which can copy part and sleep
 * on, nor wait4, which can reap and then sleep on writing the status). The tracker
 * stamps every syscall exit of a tracked thread (struct rw_thread_exits);
 * a thread returns to user space only through one. So a thread whose last
 * exit is older than its last release, which sleeps now (not running, not
 * on a CPU, not queued to run) in the very call of its checkpoint (its
 * entry registers, read by the task iterator), has not run user code since
 * that release: its registers, FPU state and signal mask are the
 * checkpoint's, and it wrote nothing a sleeping call does not write.
 *
 * A thread can wake at any time: after the restore the proof is made again
 * (sleepers_check), or the threads are seized and it is made from the exit
 * stamps (sleepers_hold: the interrupt's own exit is the only one allowed
 * since the release). Either way RW_SLEEPER_WOKE says one woke: the caller
 * restores again with everything stopped and without trusting the log.
 */
#ifndef RW_SLEEPERS_H
#define RW_SLEEPERS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "freeze.h"
#include "image.h"
#include "iterobs.h"

/* A thread left asleep ran: not an errno any step returns otherwise. */
#define RW_SLEEPER_WOKE	(-ERESTART)

/* Unless REWINDD_SLEEPERS=0 (every thread stopped, for comparisons). */
bool sleepers_enabled(void);

/*
 * img's threads (never its leader) that slept since their last release
 * (rw_thread_state.released_ns), in img's order: into *out (malloc'd),
 * their count returned; 0 when none (or on any error: then all are
 * stopped).
 */
size_t sleepers_find(const struct rw_proc_image *img, struct rw_iterobs *it, pid_t **out);
/*
 * Without stopping them: whether every thread of f->asleep still sleeps as
 * sleepers_find found it. 0, or RW_SLEEPER_WOKE if one woke, is gone, or
 * the iterator cannot be read (unproven).
 */
int sleepers_check(const struct rw_frozen *f, const struct rw_proc_image *img,
		   struct rw_iterobs *it);
/*
 * Seize f->asleep (freeze_hold) and prove from their exit stamps and
 * registers that none ran since its release. 0; RW_SLEEPER_WOKE if one did
 * or the iterator cannot be read (all of them are held anyway); -errno if
 * they cannot be seized.
 */
int sleepers_hold(struct rw_frozen *f, const struct rw_proc_image *img, struct rw_iterobs *it);
/* The threads of f held now are let go from t_ns on, with their image's registers. */
void sleepers_note_release(struct rw_proc_image *img, struct rw_frozen *f, uint64_t t_ns);

#endif /* RW_SLEEPERS_H */
