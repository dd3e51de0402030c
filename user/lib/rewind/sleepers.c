// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "sleepers: "
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include "clock.h"
#include "log.h"
#include "sleepers.h"
#include "threadstate.h"

#define TASK_SLEEPING	0x0003	/* TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE */

bool sleepers_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *env = getenv("REWINDD_SLEEPERS");

		enabled = !env || strcmp(env, "0");
	}
	return enabled;
}

static const struct rw_iter_sleep *task_of(const struct rw_iter_sleep *t, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].tid == tid)
			return &t[i];
	return NULL;
}

/*
 * Calls that write the caller's memory only as they return, never while
 * they sleep, and that only a wake or a signal ends. Not a read or recv:
 * one with MSG_WAITALL (or a socket's SO_RCVLOWAT) copies what arrives and
 * sleeps on for the rest, progress a thread left asleep would carry across
 * the rewind; nor wait4 or waitid, which can reap a child (one the rewind
 * kills) and then sleep writing its status. A private futex only: only the
 * process's own threads can requeue its waiters (which moves one to
 * another word without waking it), and the tracker counts that (after
 * one the rewind stops every thread left asleep). poll and
 * nanosleep restart through the restart block, which
 * thread_state_restarts turns down anyway.
 */
static bool quiet_sleep(const struct user_regs_struct *r)
{
	if (r->orig_rax == SYS_pause)
		return true;
	if (r->orig_rax != SYS_futex || !(r->rsi & FUTEX_PRIVATE_FLAG))
		return false;
	switch (r->rsi & ~(uint64_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		return true;
	}
	return false;
}

/* Asleep now in ts's call, with no syscall exit since its release. */
static bool slept_through(const struct rw_iter_sleep *r, const struct rw_thread_state *ts)
{
	return r && ts->released_ns && r->has_exits && r->exit_last_ns < ts->released_ns &&
	       (r->state & TASK_SLEEPING) &&
	       !r->on_cpu && !r->on_rq && thread_state_reentered(ts, r->uregs, RW_ITER_UREGS);
}

size_t sleepers_find(const struct rw_proc_image *img, struct rw_iterobs *it, pid_t **out)
{
	const struct rw_iter_sleep *t;
	size_t n, found = 0;
	pid_t *tids;

	*out = NULL;
	if (!it || img->nthreads < 2)
		return 0;
	tids = malloc(img->nthreads * sizeof(*tids));
	if (!tids || iterobs_read_sleep(it, &t, &n)) {
		free(tids);
		return 0;
	}
	for (size_t i = 0; i < img->nthreads; i++) {
		const struct rw_thread_state *ts = &img->threads[i];

		if (ts->tid != img->tgid && thread_state_restarts(ts) && quiet_sleep(&ts->regs) &&
		    slept_through(task_of(t, n, ts->tid), ts))
			tids[found++] = ts->tid;
	}
	if (!found) {
		free(tids);
		return 0;
	}
	*out = tids;
	return found;
}

int sleepers_check(const struct rw_frozen *f, const struct rw_proc_image *img,
		   struct rw_iterobs *it)
{
	const struct rw_iter_sleep *t;
	size_t n;
	int err;

	if (!f->nasleep)
		return 0;
	/* Unread, unproven: restored again like a thread that woke. */
	err = iterobs_read_sleep(it, &t, &n);
	if (err)
		return RW_SLEEPER_WOKE;
	for (size_t i = 0; i < f->nasleep; i++) {
		const struct rw_thread_state *ts = image_thread(img, f->asleep[i]);

		if (!ts || !slept_through(task_of(t, n, f->asleep[i]), ts)) {
			pr_debug("pid %d: thread %d woke during the rewind\n", img->tgid,
				 f->asleep[i]);
			return RW_SLEEPER_WOKE;
		}
	}
	return 0;
}

int sleepers_hold(struct rw_frozen *f, const struct rw_proc_image *img, struct rw_iterobs *it)
{
	size_t n = f->nasleep, nt;
	pid_t *tids = n ? malloc(n * sizeof(*tids)) : NULL;
	const struct rw_iter_sleep *t;
	uint64_t t0 = rw_now_ns();
	int err, gone;

	if (!n)
		return 0;
	if (!tids)
		return -ENOMEM;
	memcpy(tids, f->asleep, n * sizeof(*tids));
	gone = freeze_hold(f);
	err = gone < 0 ? gone : iterobs_read_sleep(it, &t, &nt) ? RW_SLEEPER_WOKE : 0;
	for (size_t i = 0; i < n && !err; i++) {
		const struct rw_thread_state *ts = image_thread(img, tids[i]);
		const struct rw_iter_sleep *r = task_of(t, nt, tids[i]);
		struct rw_seized *ij = freeze_thread(f, tids[i]);

		/*
		 * Since the release: no exit at all (it never got to its call), or
		 * only the one our interrupt caused; stopped in the very call.
		 */
		if (!ts || !r || !ij || !r->has_exits || !ts->released_ns ||
		    !(r->exit_last_ns < ts->released_ns ||
		      (r->exit_prev_ns < ts->released_ns && r->exit_last_ns >= t0)) ||
		    memcmp(&ij->saved, &ts->regs, sizeof(ts->regs))) {
			pr_debug("pid %d: thread %d ran since its release\n", img->tgid, tids[i]);
			err = RW_SLEEPER_WOKE;
		}
	}
	free(tids);
	return err;
}

void sleepers_note_release(struct rw_proc_image *img, struct rw_frozen *f, uint64_t t_ns)
{
	for (size_t i = 0; i < img->nthreads; i++) {
		const struct rw_seized *ij = freeze_thread(f, img->threads[i].tid);

		if (ij && ij->seized)
			img->threads[i].released_ns = t_ns;
	}
}
