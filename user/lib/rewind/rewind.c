// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "rewind: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "fileio.h"
#include "log.h"
#include "pagemap.h"
#include "pidfd.h"
#include "recreate.h"
#include "sleepers.h"
#include "rewind.h"

/* Both numbers of a process, for messages; the buffer lives to the end of the enclosing block. */
#define PID_LABEL(pid)	proc_pid_label((pid), (char[RW_PID_LABEL_MAX]){ 0 }, RW_PID_LABEL_MAX)

/* Re-protecting restored ranges one ioctl each up to this many, else one page-table walk. */
#define PROTECT_EACH_MAX	128
/* Hot pages read back per process_vm_readv to compare them with the image. */
#define COMPARE_BATCH		16
/* How long a SIGKILLed process may take to go (a D-state sleeper, a core dump). */
#define KILL_DEADLINE_MS	5000

/* ---- checkpoint --------------------------------------------------------------- */

/* The previous checkpoint's mappings of ours, those still there untouched: they go. */
static int unmap_stale(const struct rw_tmaps *t, struct rw_frozen *f, struct rw_remote *r)
{
	const struct rw_tmap *each[] = { &t->store, &t->area };
	struct rw_maps maps = { 0 };
	int err;

	if (!t->store.addr && !t->area.addr)
		return 0;
	err = proc_read_maps(freeze_any(f)->tid, &maps);
	for (size_t k = 0; !err && k < 2; k++) {
		ssize_t i = each[k]->addr ? proc_maps_find(&maps, each[k]->addr) : -1;

		if (i >= 0 && image_is_tmap(each[k], &maps.v[i]))
			err = remote_munmap(r, each[k]->addr, each[k]->len);
	}
	proc_maps_free(&maps);
	return err;
}

/* Why a freeze failed; -ESRCH (gone) is the caller's to say. */
static int stop_failed(pid_t tgid, int err, char *why, size_t whylen)
{
	if (err == -EDEADLK)
		return rw_why(why, whylen, err, "pid %s: an io_uring worker thread (iou-wrk) is "
			      "running: it runs only in the kernel, the process cannot be rewound",
			      PID_LABEL(tgid));
	return rw_why(why, whylen, err, "pid %s: stopping its threads", PID_LABEL(tgid));
}

int rewind_checkpoint_process(pid_t tgid, struct rw_wp **wp, struct rw_proc_image *img,
			      void (*quiesce)(void *ctx), void *ctx, struct rw_ckpt_stats *st,
			      char *why, size_t whylen)
{
	struct rw_maps maps = { 0 };
	struct rw_frozen f;
	struct rw_remote r;
	uint64_t t = rw_now_ns(), t1;
	int err, arm;

	err = freeze_process(&f, tgid);
	if (err)
		return stop_failed(tgid, err, why, whylen);
	fault_point("checkpoint-stopped");
	t1 = rw_now_ns();
	st->stop_ns += t1 - t;
	t = t1;

	/*
	 * Capture first, arm after, both while it is stopped (no write can fall
	 * between). Arming with WP_UNPOPULATED leaves a marker in every empty
	 * pte, which PAGEMAP_SCAN reports as swapped: captured after arming,
	 * every untouched page would be read in and stored as zeros.
	 */
	wp_close(*wp);
	*wp = NULL;
	remote_init(&r, freeze_any(&f), tgid);
	err = unmap_stale(&img->stale, &f, &r);
	if (!err)
		err = image_capture(img, &f, &r);
	remote_close(&r);
	fault_point("checkpoint-captured");
	t1 = rw_now_ns();
	st->capture_ns += t1 - t;
	t = t1;

	if (!err) {
		arm = wp_open_seized(wp, tgid, freeze_any(&f));
		if (!arm)
			arm = proc_read_maps(freeze_any(&f)->tid, &maps);
		if (!arm) {
			arm = wp_sync(*wp, &maps);
			arm = arm < 0 ? arm : 0;
		}
		proc_maps_free(&maps);
		if (arm) {
			/* Without write protection every rewind restores all private memory. */
			pr_warn("pid %d: write protection unavailable (%s): rewinds will restore all "
				"of its private memory\n", tgid, strerror(-arm));
			wp_close(*wp);
			*wp = NULL;
		}
	}
	/*
	 * The store, read-only in the target, for the in-target restorer
	 * (restore.c); without it rewinds copy with process_vm_writev. The
	 * restorer's area too, for it and the layout step's batches; without
	 * it each rewind maps one of its own.
	 */
	if (!err) {
		remote_init(&r, freeze_any(&f), tgid);
		if (image_map_into(img, &r, 0))
			pr_debug("pid %d: no in-target restorer: pages are copied from here\n", tgid);
		if (!r.broken && image_map_area(img, &r, 0))
			pr_debug("pid %d: no resident restorer area\n", tgid);
		if (remote_close(&r))
			err = -ESRCH;
	}
	/* Our injections' records go while it is still stopped. */
	if (quiesce)
		quiesce(ctx);
	t1 = rw_now_ns();
	st->arm_ns += t1 - t;
	t = t1;
	if (!err)
		sleepers_note_release(img, &f, t);
	if (freeze_release(&f) && !err)
		err = -ESRCH;
	st->resume_ns += rw_now_ns() - t;
	if (err) {
		image_free(img);
		return rw_why(why, whylen, err, "pid %s: taking its checkpoint image", PID_LABEL(tgid));
	}
	return 0;
}

/* ---- stop, observe and plan, apply, verify, resume ------------------------------------ */

/*
 * The image's threads, which the last rewind (or the checkpoint) left,
 * without listing them; but those that slept through (sleepers.h).
 */
static int freeze_image_threads(struct rw_rewinding *rw)
{
	const struct rw_proc_image *img = rw->img;
	pid_t *tids = malloc((img->nthreads ? img->nthreads : 1) * sizeof(*tids));
	pid_t *asleep = NULL;
	size_t nasleep = 0, n = 0;
	int err;

	if (!tids)
		return -ENOMEM;
	if (rw->sleepers)
		nasleep = sleepers_find(img, rw->iter, &asleep);
	for (size_t i = 0, k = 0; i < img->nthreads; i++) {
		if (k < nasleep && asleep[k] == img->threads[i].tid) {
			k++;
			continue;
		}
		tids[n++] = img->threads[i].tid;
	}
	err = freeze_threads(&rw->f, img->tgid, tids, n);
	free(tids);
	if (err < 0) {
		free(asleep);
		return err;
	}
	rw->f.asleep = asleep;
	rw->f.nasleep = nasleep;
	if (err == 1) {	/* one was gone after all: list them */
		rw->threads_vouched = false;
		rw->threads_missed = true;
		err = freeze_more(&rw->f);
		err = err < 0 ? err : 0;
	}
	return err;
}

static int stopped_or_why(struct rw_rewinding *rw, int err, char *why, size_t whylen)
{
	if (err == -ESRCH)
		return rw_why(why, whylen, 0, "process %d of the checkpoint has exited", rw->img->tgid);
	return stop_failed(rw->img->tgid, err, why, whylen);
}

int rewind_stop(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen)
{
	uint64_t t = rw_now_ns();
	int err;

	rw->threads_vouched = rw->threads_vouched && rw->no_io_uring;
	rw->sleepers = rw->sleepers && rw->threads_vouched && rw->iter && sleepers_enabled();
	if (rw->threads_vouched)
		err = freeze_image_threads(rw);
	else if (rw->no_io_uring)
		err = freeze_process_unchecked(&rw->f, rw->img->tgid);
	else
		err = freeze_process(&rw->f, rw->img->tgid);
	st->stop_ns += rw_now_ns() - t;
	/*
	 * A stop that failed half way (freeze_more) still holds threads: they
	 * are let go by rewind_abandon, after fail_closed's signal, or their
	 * process, killed, stays a traced zombie its parent can never reap.
	 */
	rw->frozen = rw->f.n > 0;
	if (err)
		return stopped_or_why(rw, err, why, whylen);
	return 0;
}

int rewind_stop_rest(struct rw_rewinding *rw, bool log_says_none, struct rw_rewind_stats *st,
		     char *why, size_t whylen)
{
	uint64_t t = rw_now_ns();
	int added;

	if (rw->frozen && rw->threads_missed && log_says_none)
		return rw_why(why, whylen, -EIO, "verification: the log showed no thread of pid %s "
			      "gone since the last rewind, one of the checkpoint's was",
			      PID_LABEL(rw->img->tgid));
	if (!rw->frozen || !rw->threads_vouched)
		return 0;
	rw->threads_vouched = false;
	added = freeze_more(&rw->f);
	st->stop_ns += rw_now_ns() - t;
	if (added < 0)
		return stopped_or_why(rw, added, why, whylen);
	if (added && log_says_none)
		return rw_why(why, whylen, -EIO, "verification: the log showed no thread of pid %s "
			      "created since the last rewind, /proc lists %d more",
			      PID_LABEL(rw->img->tgid), added);
	return 0;
}

int rewind_no_io_worker(struct rw_rewinding *rw, char *why, size_t whylen)
{
	pid_t tid = rw->frozen ? freeze_io_worker(&rw->f) : 0;

	if (!tid)
		return 0;
	return rw_why(why, whylen, -EDEADLK, "pid %s: thread %d is an io_uring worker (iou-wrk), "
		      "which cannot be rewound", PID_LABEL(rw->img->tgid), tid);
}

/* Where the image's checkpoint threads can be injected through: one the plan keeps. */
static struct rw_seized *injector(struct rw_rewinding *rw)
{
	struct rw_seized *ij = freeze_thread(&rw->f, rw->img->tgid);

	if (ij && ij->seized && image_thread(rw->img, ij->tid))
		return ij;
	for (size_t i = 0; i < rw->img->nthreads; i++) {
		ij = freeze_thread(&rw->f, rw->img->threads[i].tid);
		if (ij && ij->seized)
			return ij;
	}
	return NULL;
}

/*
 * Whether observe_state can read what it needs of the threads left asleep
 * without stopping them: the task iterator reads their queues, names,
 * masks and lists; credentials, attributes and process state are read
 * (or injected) thread by thread.
 */
static bool asleep_observable(const struct rw_rewinding *rw, const struct rw_log_facts *facts)
{
	return rw->iter && !facts->incomplete && !facts->creds_called && !facts->attrs_called &&
	       !facts->pstate_called && !facts->keys_called;
}

/* Whether the plan has a step in a thread, or a mask to put, that a thread left asleep may need. */
static bool plan_reaches_asleep(const struct rw_plan *p, const struct rw_frozen *f)
{
	if (p->nrecreate || p->nrenames || p->ndrain_threads || p->nrseq_ops ||
	    p->nrobust_ops || p->nattrops || p->nsetns || p->npsops)
		return true;
	for (size_t i = 0; i < f->nasleep; i++)
		if (!plan_mask_held(p, f->asleep[i]))
			return true;
	return false;
}

int rewind_sleepers_recheck(struct rw_rewinding *rw, bool hold, char *why, size_t whylen)
{
	int err;

	if (!rw->f.nasleep)
		return 0;
	err = hold ? sleepers_hold(&rw->f, rw->img, rw->iter) :
		     sleepers_check(&rw->f, rw->img, rw->iter);
	if (err == RW_SLEEPER_WOKE) {
		rw->sleeper_woke = true;
		snprintf(why, whylen, "pid %s: a thread that slept through the invocation woke "
			 "during its rewind (or could not be looked at)", PID_LABEL(rw->img->tgid));
		pr_info("%s\n", why);
		return err;
	}
	/* Only a hold fails otherwise: a thread that cannot be seized. */
	if (err)
		return rw_why(why, whylen, err, "pid %s: stopping the threads that slept through the "
			      "invocation", PID_LABEL(rw->img->tgid));
	return 0;
}

/* The plan's copy, fill and drop (each sorted, disjoint from the others) in one list. */
static int restored_pages(const struct rw_plan *p, bool with_drop, struct rw_ranges *out)
{
	int err = 0;

	for (size_t i = 0; i < p->ncopy && !err; i++)
		err = ranges_add(out, p->copy[i].start, p->copy[i].end);
	for (size_t i = 0; i < p->nfill && !err; i++)
		err = ranges_add(out, p->fill[i].start, p->fill[i].end);
	for (size_t i = 0; with_drop && i < p->ndrop && !err; i++)
		err = ranges_add(out, p->drop[i].start, p->drop[i].end);
	if (!err)
		ranges_normalize(out);
	return err;
}

int rewind_hold_all(struct rw_rewinding *rw, struct rw_ranges *restored, char *why,
		    size_t whylen)
{
	int err = restored_pages(&rw->plan, true, restored);

	if (err)
		return rw_why(why, whylen, err, "pid %d: listing the pages restored", rw->img->tgid);
	/* One gone (it exited when it woke) is recreated by the next plan, like any. */
	err = freeze_hold(&rw->f);
	if (err < 0)
		return rw_why(why, whylen, err, "pid %s: stopping the threads that slept through the "
			      "invocation", PID_LABEL(rw->img->tgid));
	rw->sleepers = false;
	/* A thread it created, its record taken for ours: listed and stopped now. */
	rw->threads_vouched = false;
	err = freeze_more(&rw->f);
	if (err < 0)
		return stopped_or_why(rw, err, why, whylen);
	rw->no_io_uring = false;
	return rewind_no_io_worker(rw, why, whylen);
}

int rewind_plan(struct rw_rewinding *rw, const struct rw_log_facts *facts,
		struct rw_rewind_stats *st, char *why, size_t whylen)
{
	const struct rw_proc_image *img = rw->img;
	struct rw_observation o = { 0 };
	uint64_t t = rw_now_ns(), t1;
	int err;

	/* Planned before (rewind_hold_all): planned again. */
	plan_free(&rw->plan);
	ranges_free(&rw->written);

	err = observe_written(&rw->wp, img->tgid, img->brk, facts, rw->hot ? &rw->hot->hot : NULL, &o);
	st->scans += o.scanned;
	t1 = rw_now_ns();
	st->scan_ns += t1 - t;
	t = t1;
	if (err) {
		err = rw_why(why, whylen, err, "pid %d: listing the pages written since the checkpoint",
			     img->tgid);
		goto out;
	}
	o.iter = rw->iter;
	if (rw->f.nasleep && !asleep_observable(rw, facts)) {
		err = rewind_sleepers_recheck(rw, true, why, whylen);
		if (err)
			goto out;
	}
	err = observe_state(img, &rw->f, rw->wp != NULL, facts, &o);
	/*
	 * The iterator could not be read, and /proc's way needs every thread
	 * stopped: they are, and the caller observes again (rare: no memory).
	 */
	if (err == RW_OBSERVE_ASLEEP) {
		err = rewind_sleepers_recheck(rw, true, why, whylen);
		if (!err) {
			snprintf(why, whylen, "pid %s: the task iterator could not be read for the "
				 "threads that slept through", PID_LABEL(img->tgid));
			rw->sleeper_woke = true;
			err = RW_SLEEPER_WOKE;
		}
		goto out;
	}
	if (err) {
		err = rw_why(why, whylen, err, "pid %s: observing its state", PID_LABEL(img->tgid));
		goto out;
	}
	rw->syscall_ip = observe_syscall_ip(img, facts);
	rw->untracked = rw->hot ? rw->hot->pages : 0;
	rw->sig_ignored = o.obs.sig_ignored;
	err = plan_build(img, &o.obs, &rw->plan);
	if (err) {
		err = rw_why(why, whylen, err, "pid %s: planning the restore", PID_LABEL(img->tgid));
		goto out;
	}
	/* Observed as they sleep, which the plan stays right for once they are proven still. */
	if (rw->f.nasleep && plan_reaches_asleep(&rw->plan, &rw->f)) {
		err = rewind_sleepers_recheck(rw, true, why, whylen);
		if (err)
			goto out;
	}
	if (rw->plan.nfailures) {
		if (rw->plan.nfailures > 1)
			snprintf(why, whylen, "%s (and %zu more)", rw->plan.failures[0],
				 rw->plan.nfailures - 1);
		else
			snprintf(why, whylen, "%s", rw->plan.failures[0]);
		err = -ENOTRECOVERABLE;
	}
out:
	st->plan_ns += rw_now_ns() - t;
	/* What was written goes to the report, whatever happened. */
	rw->written = o.written;
	o.written = (struct rw_ranges){ 0 };
	observe_free(&o);
	return err;
}

/*
 * Where the layout step replaced memory: the ranges it unmapped or mapped
 * and the span the break moved over. mprotect and madvise keep a
 * registration; everywhere else it is as it was.
 */
static int relaid_spans(const struct rw_plan *p, struct rw_ranges *out)
{
	int err = 0;

	if (p->set_brk && p->brk_lo < p->brk_hi)
		err = ranges_insert(out, p->brk_lo, p->brk_hi);
	for (size_t i = 0; i < p->nlayout && !err; i++) {
		const struct rw_layout_op *op = &p->layout[i];

		if (op->kind != RW_LAYOUT_MPROTECT && op->kind != RW_LAYOUT_MADVISE)
			err = ranges_insert(out, op->start, op->end);
	}
	return err;
}

/*
 * Register what the layout step mapped (before it gets content: it can
 * still merge). The layout is the checkpoint's again, so its maps say
 * what is there: only the spans the step changed are learnt and armed,
 * without reading /proc/PID/maps or walking the whole address space.
 * Coverage lost where the plan does not know (the scan or a re-arm found
 * it): learnt all again from the kernel.
 */
static int register_new(struct rw_rewinding *rw)
{
	struct rw_maps maps = { 0 };
	struct rw_ranges spans = { 0 };
	int err;

	if (!wp_unsynced(rw->wp)) {
		err = relaid_spans(&rw->plan, &spans);
		if (!err)
			err = wp_sync_within(rw->wp, &rw->img->maps, &spans);
		ranges_free(&spans);
		if (err >= 0)
			return 0;
		if (err == -ESRCH)
			return err;
	}
	err = proc_read_maps(freeze_any(&rw->f)->tid, &maps);
	if (!err) {
		err = wp_sync(rw->wp, &maps);
		err = err < 0 ? err : 0;
	}
	proc_maps_free(&maps);
	return err;
}

/*
 * Whether the layout step can have left private writable memory that is not
 * registered: a mapping made, the break moved, armed memory unmapped (its
 * registration gone with it), or memory whose registration the invocation
 * dropped (mmap MAP_FIXED over it: the scan or a re-arm found it). Unmapping what the invocation mapped,
 * mprotect and madvise (registration survives a split) change nothing: no need to read
 * the maps again.
 */
static bool made_armable(const struct rw_plan *p, const struct rw_wp *wp)
{
	const struct rw_ranges *reg = wp_registered(wp);

	if (p->set_brk || wp_unsynced(wp))
		return true;	/* the break moved, or the scan found coverage lost */
	for (size_t i = 0; i < p->nlayout; i++) {
		const struct rw_layout_op *op = &p->layout[i];

		if (op->kind == RW_LAYOUT_MPROTECT || op->kind == RW_LAYOUT_MADVISE)
			continue;
		if (op->kind != RW_LAYOUT_MUNMAP)
			return true;
		for (size_t k = 0; k < reg->n; k++)
			if (reg->r[k].start < op->end && op->start < reg->r[k].end)
				return true;
	}
	return false;
}

/*
 * Protect the registered parts of a list, one ioctl each: a range may run
 * over memory that is not registered (a PROT_NONE reservation next to a
 * malloc arena, a part whose registration was lost), wp_protect skips it.
 */
static int protect_each(struct rw_wp *wp, const struct rw_range *r, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = wp_protect(wp, r[i].start, r[i].end);
	return err;
}

/*
 * The hot pages the invocation changed (hotset.h), of slice: read back
 * before the copy puts the image's bytes there (zeros where the image
 * stores none: a zero-filled page). A page that cannot be read counts as
 * changed: it stays hot, which only costs a copy.
 */
static int compare_hot(const struct rw_rewinding *rw, const struct rw_ranges *slice,
		       struct rw_ranges *changed)
{
	/* 64 KiB on the stack: no allocation per rewind. */
	uint8_t buf[COMPARE_BATCH * RW_PAGE_SIZE];
	struct iovec remote[COMPARE_BATCH];
	size_t i = 0;
	uint64_t a = slice->n ? slice->r[0].start : 0;
	/* Compared here, and copied back from the store if changed: unpacked for good. */
	int err = image_need_pages(rw->img, slice->r, slice->n);

	while (i < slice->n && !err) {
		struct iovec local = { buf, 0 };
		uint64_t k = 0, read;
		ssize_t got;

		/* The next COMPARE_BATCH pages of the slice, one iovec each. */
		for (size_t j = i; j < slice->n && k < COMPARE_BATCH; j++)
			for (uint64_t p = j == i ? a : slice->r[j].start;
			     p < slice->r[j].end && k < COMPARE_BATCH; p += RW_PAGE_SIZE)
				remote[k++] = (struct iovec){ (void *)(uintptr_t)p, RW_PAGE_SIZE };
		local.iov_len = k * RW_PAGE_SIZE;
		got = process_vm_readv(rw->img->tgid, &local, 1, remote, k, 0);
		read = got > 0 ? (uint64_t)got / RW_PAGE_SIZE : 0;
		/* Compared pages, and the one a short read stopped at (counted changed). */
		for (uint64_t j = 0; j < k && j <= read && !err; j++) {
			uint64_t p = (uintptr_t)remote[j].iov_base;
			const uint8_t *want = image_page(rw->img, p);

			if (j == read || memcmp(want ? want : rw_zero_page, buf + j * RW_PAGE_SIZE, RW_PAGE_SIZE))
				err = ranges_add(changed, p, p + RW_PAGE_SIZE);
			a = p + RW_PAGE_SIZE;
		}
		/* On from the page after the last one looked at. */
		while (i < slice->n && slice->r[i].end <= a)
			i++;
		if (i < slice->n && a < slice->r[i].start)
			a = slice->r[i].start;
	}
	return err;
}

/*
 * Write-protect again every page we wrote or dropped, but the hot ones
 * (hotset.h): those stay unprotected and are restored at the next rewind.
 * Pages copied or zero-filled may be hot (both stay allocated); dropped
 * ones are protected. slice, changed: the hot pages compared before the
 * copy, and of them the ones found changed.
 */
static int rearm(struct rw_rewinding *rw, const struct rw_ranges *slice,
		 const struct rw_ranges *changed, struct rw_rewind_stats *st)
{
	const struct rw_plan *p = &rw->plan;
	struct rw_hotset none = { 0 }, *h = rw->hot ? rw->hot : &none;
	struct rw_ranges written = { 0 }, hot = { 0 }, cold = { 0 }, probe = { 0 };
	/* Copied and zero-filled pages in one list; without a fill, the copy list as it is. */
	const struct rw_range *w = p->copy;
	size_t nw = p->ncopy;
	bool kept = false;
	int err = 0;

	if (p->nfill) {
		err = restored_pages(p, false, &written);
		w = written.r;
		nw = written.n;
	}
	if (!err)
		err = hotset_split(h, w, nw, slice, changed, &hot, &cold, &probe);
	if (!err && cold.n + p->ndrop <= PROTECT_EACH_MAX) {
		err = protect_each(rw->wp, cold.r, cold.n);
		if (!err)
			err = protect_each(rw->wp, p->drop, p->ndrop);
		kept = !err;
	} else if (!err) {
		/* Many ranges: one walk protects every written page of the span, hot ones too. */
		uint64_t lo = nw ? w[0].start : UINT64_MAX, hi = nw ? w[nw - 1].end : 0;

		if (p->ndrop) {
			lo = p->drop[0].start < lo ? p->drop[0].start : lo;
			hi = p->drop[p->ndrop - 1].end > hi ? p->drop[p->ndrop - 1].end : hi;
		}
		err = wp_rearm(rw->wp, lo, hi);
		if (!err)
			err = hotset_all_protected(&hot, &probe);
		kept = !err;
	}
	if (rw->hot && hotset_commit(rw->hot, w, nw, kept ? &hot : NULL,
				     kept ? &probe : NULL, changed))
		pr_warn("pid %d: out of memory for the hot set: every page tracked\n", rw->img->tgid);
	st->pages_hot += rw->hot ? rw->hot->pages : 0;
	ranges_free(&written);
	ranges_free(&hot);
	ranges_free(&cold);
	ranges_free(&probe);
	return err;
}

/* rw->r injecting through ij: its hole, and the restorer's area if it is there intact. */
static void remote_for(struct rw_rewinding *rw, struct rw_seized *ij)
{
	remote_init(&rw->r, ij, rw->img->tgid);
	remote_set_hole(&rw->r, rw->plan.hole);
	if (rw->plan.area)
		remote_use_area(&rw->r, rw->plan.area, rw->img->area.local);
}

/*
 * The target's mapping of a superseded store (image.h) swapped for the
 * store, at the same address: 0, or -errno when the old one cannot be
 * unmapped (an injection that failed leaves the target unknown: the rewind
 * fails closed). Not mapped again: a warning, and copies from here from
 * now on.
 */
static int map_replaced_store(struct rw_rewinding *rw, char *why, size_t whylen)
{
	uint64_t at = rw->img->tmap;
	int err = 0;

	/* Intact (else the layout step removed it, and tmap_remap mapped the store instead). */
	if (rw->plan.tmap)
		err = remote_munmap(&rw->r, at, rw->img->store_len);
	if (err)
		return rw_why(why, whylen, err, "pid %d: unmapping its replaced image store",
			      rw->img->tgid);
	if (image_map_into(rw->img, &rw->r, at))
		pr_warn("pid %d: its packed image store cannot be mapped into it: pages are "
			"copied from here from now on\n", rw->img->tgid);
	return 0;
}

/*
 * The restore failed with threads left asleep. One that woke meanwhile (V8's
 * workers do, on timers; a copy beside the restorer leaves it a CPU) can
 * have unmapped what was being copied into: if one ran, the failure is its
 * doing, and RW_SLEEPER_WOKE sends the rewind to the restore with every
 * thread held, as a wake found after the restore does. Else (they are held
 * now, proven still) the failure stands.
 */
static int failed_with_sleeper_awake(struct rw_rewinding *rw, int err, char *why, size_t whylen)
{
	char woke[256];

	if (err == RW_SLEEPER_WOKE || !rw->f.nasleep ||
	    rewind_sleepers_recheck(rw, true, woke, sizeof(woke)) != RW_SLEEPER_WOKE)
		return err;
	pr_info("pid %s: the restore failed (%s) with a thread that slept through the "
		"invocation awake\n", PID_LABEL(rw->img->tgid), why);
	snprintf(why, whylen, "%s", woke);
	return RW_SLEEPER_WOKE;
}

int rewind_apply(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen)
{
	struct rw_restore_stats rs = { 0 };
	struct rw_ranges slice = { 0 }, changed = { 0 };
	struct rw_seized *ij;
	struct rw_colocation near;
	uint64_t t;
	int err;

	ij = injector(rw);
	if (!ij)
		return rw_why(why, whylen, -ESRCH, "pid %d: no thread of the checkpoint is left",
			      rw->img->tgid);
	if (!ij->syscall_ip)
		ij->syscall_ip = rw->syscall_ip;
	if (!ij->ignored_known)
		inject_know_ignored(ij, rw->sig_ignored);
	remote_for(rw, ij);
	/* First: the threads it adds to rw->f move the array ij points into (rw->r follows). */
	if (rw->plan.nrecreate) {
		t = rw_now_ns();
		err = recreate_threads(&rw->plan, rw->img, &rw->f, &rw->r, why, whylen);
		/* Injected syscalls (clone3, set_robust_list): the inject stage. */
		st->inject_ns += rw_now_ns() - t;
		if (err) {
			remote_close(&rw->r);
			return err;
		}
		st->threads_recreated += rw->plan.nrecreate;
		ij = rw->r.ij;
	}
	remote_colocate_lazily(&rw->r, &near);
	err = restore_apply_layout(&rw->plan, rw->img, &rw->f, &rw->r, &rs, why, whylen);
	/* Threads that exited left the array: the injector (the colocated one) moved with it. */
	if (near.ij)
		near.ij = rw->r.ij;
	/* The affinity restored for the injecting thread is the one colocate_end puts back. */
	for (size_t i = 0; near.ij && i < rw->plan.nattrops; i++) {
		const struct rw_attr_op *a = &rw->plan.attrops[i];
		const struct rw_thread_attrs *want = attrs_thread(&rw->img->attrs, a->tid);

		if (a->kind == RW_ATTR_AFFINITY && a->tid == near.ij->tid && want)
			near.tracee = want->affinity;
	}
	t = rw_now_ns();
	if (!err && rw->wp && made_armable(&rw->plan, rw->wp)) {
		err = register_new(rw);
		if (err)
			err = rw_why(why, whylen, err, "pid %d: write-protecting re-created mappings",
				     rw->img->tgid);
	}
	st->rearm_ns += rw_now_ns() - t;
	/*
	 * The function changed the store's mapping (the layout step removed
	 * what was left of it): mapped again where it was, else no restorer.
	 */
	if (!err && rw->plan.tmap_remap) {
		uint64_t at = rw->img->tmap;

		if (!image_map_into(rw->img, &rw->r, at))
			rw->plan.tmap = at;
		else
			pr_warn("pid %d: its image's mapping was changed and cannot be mapped "
				"again: pages are copied from here from now on\n", rw->img->tgid);
	}
	/* The restorer's area likewise: this rewind keeps the batch area it mapped, if any. */
	if (!err && rw->plan.area_remap) {
		uint64_t at = rw->img->area.at.addr;

		if (!image_map_area(rw->img, &rw->r, at))
			rw->plan.area = at;
		else
			pr_warn("pid %d: the restorer's area was changed and cannot be mapped again: "
				"each rewind maps one of its own from now on\n", rw->img->tgid);
	}
	t = rw_now_ns();
	/* Out of memory for the compare: none this time. */
	if (!err && rw->wp && rw->hot &&
	    (hotset_compare_slice(rw->hot, &slice) || compare_hot(rw, &slice, &changed))) {
		ranges_free(&slice);
		ranges_free(&changed);
	}
	st->scan_ns += rw_now_ns() - t;
	rw->plan.costs = &rw->img->copy_costs;
	fault_point("rewind-copy");
	if (!err)
		err = restore_apply_contents(&rw->plan, rw->img, &rw->f, &rw->r, &rs, why, whylen);
	/*
	 * Its store replaced since (packed in the background, pagestore.h):
	 * this rewind's restorer read the old one, which only the target's
	 * mapping keeps; the new one takes its place. Not before the contents
	 * step: the mapping is made under the checkpoint's personality
	 * (READ_IMPLIES_EXEC would add PROT_EXEC), which that step restores.
	 */
	if (!err && rw->img->tmap_superseded)
		err = map_replaced_store(rw, why, whylen);
	st->batch_areas_mapped += rw->r.batch_maps;
	remote_close(&rw->r);
	inject_colocate_end(&near);
	rw->r.near = NULL;	/* near dies with this frame */
	if (err)
		err = failed_with_sleeper_awake(rw, err, why, whylen);
	st->layout_ns += rs.layout_ns;
	st->copy_ns += rs.copy_ns;
	st->inject_ns += rs.inject_ns;
	st->regs_ns += rs.regs_ns;
	st->injected += rs.injected;
	st->pages_zero_filled += rs.zero_filled_pages;
	st->pages_restorer += rs.restorer_pages;
	st->pages_beside += rs.beside_pages;
	st->pages_copied += rw->plan.copy_pages;
	st->pages_dropped += rw->plan.drop_pages;
	st->pages_wholesale += rw->plan.wholesale_pages;
	st->threads_exited += rw->plan.nexit;
	st->threads_asleep += rw->f.nasleep;
	t = rw_now_ns();
	if (!err && rw->wp) {
		err = rearm(rw, &slice, &changed, st);
		if (err)
			err = rw_why(why, whylen, err, "pid %d: write-protecting the restored pages",
				     rw->img->tgid);
	}
	st->rearm_ns += rw_now_ns() - t;
	ranges_free(&slice);
	ranges_free(&changed);
	return err;
}

int rewind_fdobjs(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen)
{
	struct rw_seized *ij;
	uint64_t t, steps = 0;
	int err, cerr;

	if (!fdobj_any(&rw->img->fdobjs))
		return 0;
	t = rw_now_ns();
	ij = injector(rw);
	if (!ij)
		return rw_why(why, whylen, -ESRCH, "pid %d: no thread of the checkpoint is left",
			      rw->img->tgid);
	remote_for(rw, ij);
	err = fdobj_rewind(rw->img->tgid, &rw->img->fdobjs, rw->fdobj_locks, &rw->r, &steps, why,
			   whylen);
	st->batch_areas_mapped += rw->r.batch_maps;
	/* Our scratch page goes; the injector's registers are put back when it is released. */
	cerr = remote_close(&rw->r);
	if (!err && cerr)
		err = rw_why(why, whylen, cerr, "pid %d: unmapping our scratch page", rw->img->tgid);
	pr_debug("pid %d: %llu fd object step(s) in %llu us\n", rw->img->tgid,
		 (unsigned long long)steps, (unsigned long long)(rw_now_ns() - t) / 1000);
	st->inject_ns += rw_now_ns() - t;
	return err;
}

int rewind_verify(struct rw_rewinding *rw, struct rw_verify_result *res, struct rw_rewind_stats *st)
{
	uint64_t t = rw_now_ns();
	struct rw_seized *ij = injector(rw);
	int err;

	if (!ij)
		return -ESRCH;
	remote_init(&rw->r, ij, rw->img->tgid);
	err = verify_process(rw->img, &rw->f, &rw->r, res);
	remote_close(&rw->r);
	if (!err)
		err = fdobj_verify(rw->img->tgid, &rw->img->fdobjs, res->listed,
				   RW_VERIFY_MAX_LISTED, &res->nlisted, &res->differences);
	st->verify_ns += rw_now_ns() - t;
	return err;
}

static void rewinding_free(struct rw_rewinding *rw)
{
	plan_free(&rw->plan);
	ranges_free(&rw->written);
}

int rewind_resume(struct rw_rewinding *rw, struct rw_rewind_stats *st)
{
	uint64_t t = rw_now_ns();
	int err = 0;

	if (rw->frozen) {
		sleepers_note_release(rw->img, &rw->f, t);
		err = freeze_release(&rw->f);
	}
	rw->frozen = false;
	st->resume_ns += rw_now_ns() - t;
	return err;
}

void rewind_done(struct rw_rewinding *rw)
{
	rewinding_free(rw);
}

void rewind_abandon(struct rw_rewinding *rw)
{
	remote_close(&rw->r);
	if (rw->frozen)
		freeze_release(&rw->f);
	rw->frozen = false;
	rewinding_free(rw);
}

/* ---- processes created since the checkpoint ---------------------------------------- */

static struct rw_rewinding *frozen_process(struct rw_rewinding *procs, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (procs[i].frozen && procs[i].img->tgid == pid)
			return &procs[i];
	return NULL;
}

/*
 * The NSpid line of pid: its number in each pid namespace, outermost first.
 * Returns how many (0 if unreadable).
 */
static int read_nspids(pid_t pid, pid_t *out, int max)
{
	char path[32], *text = NULL, *p;
	size_t len;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_whole_file(AT_FDCWD, path, 1 << 16, &text, &len))
		return 0;
	p = strstr(text, "\nNSpid:");
	if (p) {
		p += strlen("\nNSpid:");
		while (n < max && *p && *p != '\n') {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			out[n++] = (pid_t)v;
			p = end;
		}
	}
	free(text);
	return n;
}

/*
 * pid as viewer's pid namespace numbers it: a function that is a
 * container's process waits for its child by the container's number, not
 * by the host's (wait4 of the host's number says ECHILD there). 0 if unknown.
 */
static pid_t pid_seen_by(pid_t pid, pid_t viewer)
{
	pid_t mine[32], theirs[32];
	int depth = read_nspids(viewer, theirs, 32), n = read_nspids(pid, mine, 32);

	return depth > 0 && n >= depth ? mine[depth - 1] : 0;
}

int rewind_kill(const pid_t *pids, size_t n, struct rw_rewinding *procs, size_t nprocs,
		char *why, size_t whylen)
{
	int *pidfds = calloc(n ? n : 1, sizeof(int));
	pid_t *parents = calloc(n ? n : 1, sizeof(pid_t));
	pid_t *seen = calloc(n ? n : 1, sizeof(pid_t));
	int err = 0;

	if (!pidfds || !parents || !seen) {
		free(pidfds);
		free(parents);
		free(seen);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct rw_proc_status st;

		parents[i] = proc_read_status(pids[i], &st) ? 0 : st.ppid;
		seen[i] = parents[i] ? pid_seen_by(pids[i], parents[i]) : 0;
		/* A pidfd pins the process: the pid cannot be reused under us. */
		pidfds[i] = sys_pidfd_open(pids[i], 0);
		if (pidfds[i] < 0)
			continue;	/* already gone */
		if (sys_pidfd_send_signal(pidfds[i], SIGKILL, NULL, 0) && errno != ESRCH)
			err = rw_why(why, whylen, -errno, "killing pid %d (created since the "
				     "checkpoint)", pids[i]);
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct pollfd pfd = { .fd = pidfds[i], .events = POLLIN };
		struct rw_rewinding *parent;

		if (pidfds[i] < 0)
			continue;
		/* Readable once the process has exited (a zombie at least). */
		if (poll(&pfd, 1, KILL_DEADLINE_MS) != 1) {
			err = rw_why(why, whylen, -ETIMEDOUT, "pid %s (created since the checkpoint) "
				     "did not die within %d ms of SIGKILL", PID_LABEL(pids[i]),
				     KILL_DEADLINE_MS);
			break;
		}
		parent = frozen_process(procs, nprocs, parents[i]);
		if (parent) {
			struct rw_seized *ij = injector(parent);
			pid_t reaped;

			if (!ij)
				continue;
			if (!seen[i]) {
				err = rw_why(why, whylen, -ESRCH, "pid %s: cannot tell its child %d's "
					     "number in its pid namespace, to reap it",
					     PID_LABEL(parents[i]), pids[i]);
				break;
			}
			remote_init(&parent->r, ij, parent->img->tgid);
			err = remote_wait4(&parent->r, seen[i], 0, &reaped);
			if (!err)
				err = remote_drain_signals(&parent->r, 1ULL << (SIGCHLD - 1));
			remote_close(&parent->r);
			if (err == -ECHILD)
				err = 0;	/* reaped by someone else meanwhile */
			if (err)
				err = rw_why(why, whylen, err, "pid %d: reaping its child %d",
					     parents[i], pids[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	free(pidfds);
	free(parents);
	free(seen);
	return err;
}
