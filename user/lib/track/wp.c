// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "wp: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#include "inject.h"
#include "log.h"
#include "pagemap.h"
#include "pidfd.h"
#include "wp.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

#define WP_FEATURES	(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#define USER_ADDR_END	RW_USER_ADDR_END
#define PAGE_SZ		RW_PAGE_SIZE

struct rw_wp {
	pid_t pid;
	int uffd;
	int pagemap;
	/* Both sorted, disjoint, non-adjacent: changed with ranges_insert/remove only. */
	struct rw_ranges regs;		/* registered, as last learnt or done */
	struct rw_ranges failed;	/* private writable, could not be registered */
	bool unsynced;		/* registration found lost since the last wp_sync() */
};

/* ---- PAGEMAP_SCAN --------------------------------------------------------- */

typedef int (*region_fn)(void *arg, uint64_t start, uint64_t end);

struct region_adapter {
	region_fn fn;
	void *arg;
};

static int adapt_region(void *arg, uint64_t start, uint64_t end, uint64_t categories)
{
	struct region_adapter *ra = arg;

	return ra->fn(ra->arg, start, end);
}

/* Pages of [start, end) whose categories, xor inverted, have all of mask. */
static int pm_scan(struct rw_wp *wp, uint64_t start, uint64_t end, uint64_t flags,
		   uint64_t inverted, uint64_t mask, region_fn fn, void *arg)
{
	struct pagemap_query q = { .flags = flags, .inverted = inverted, .mask = mask };
	struct region_adapter ra = { fn, arg };
	int err = pagemap_scan(wp->pagemap, start, end, &q, adapt_region, &ra);

	if (err && err != -ESRCH)
		pr_err("pid %d: scanning its page tables: %s\n", wp->pid, strerror(-err));
	return err;
}

static int add_region(void *arg, uint64_t start, uint64_t end)
{
	return ranges_insert(arg, start, end);
}

static bool skip_vma(const struct rw_vma *v)
{
	return v->start >= USER_ADDR_END || !strcmp(v->name, "[vsyscall]");
}

/* What the kernel has registered with async write protection over the span of maps. */
static int learn(struct rw_wp *wp, const struct rw_maps *maps, struct rw_ranges *out)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (size_t i = 0; i < maps->n; i++) {
		const struct rw_vma *v = &maps->v[i];

		if (skip_vma(v))
			continue;
		if (v->start < lo)
			lo = v->start;
		if (v->end > hi)
			hi = v->end;
	}
	if (lo >= hi)
		return 0;
	return pm_scan(wp, lo, hi, 0, 0, PAGE_IS_WPALLOWED, add_region, out);
}

/* ---- registration ---------------------------------------------------------- */

static int uffd_unregister(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	struct uffdio_range r = { .start = start, .len = end - start };

	return ioctl(wp->uffd, UFFDIO_UNREGISTER, &r) ? -errno : 0;
}

static int arm(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect prot = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	int err;

	if (ioctl(wp->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	for (int tries = 0;; tries++) {
		if (!ioctl(wp->uffd, UFFDIO_WRITEPROTECT, &prot))
			return 0;
		/* EAGAIN: the target's layout is changing right now. */
		if (errno != EAGAIN || tries == 16)
			break;
	}
	err = -errno;
	uffd_unregister(wp, start, end);
	return err;
}

static int check_range(uint64_t start, uint64_t end)
{
	return start < end && !(start % PAGE_SZ) && !(end % PAGE_SZ) && end <= USER_ADDR_END ?
		       0 : -EINVAL;
}

int wp_register(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	int err = check_range(start, end);

	if (!err)
		err = arm(wp, start, end);
	if (err) {
		pr_debug("pid %d: registering %#llx-%#llx: %s\n", wp->pid,
			 (unsigned long long)start, (unsigned long long)end, strerror(-err));
		return err;
	}
	ranges_remove(&wp->failed, start, end);
	return ranges_insert(&wp->regs, start, end);
}

int wp_unregister(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	int err = check_range(start, end);

	if (!err)
		err = uffd_unregister(wp, start, end);
	if (err) {
		pr_debug("pid %d: unregistering %#llx-%#llx: %s\n", wp->pid,
			 (unsigned long long)start, (unsigned long long)end, strerror(-err));
		return err;
	}
	return ranges_remove(&wp->regs, start, end);
}

bool wp_covers(const struct rw_wp *wp, uint64_t addr)
{
	return ranges_covers(&wp->regs, addr);
}

int wp_refresh(struct rw_wp *wp, const struct rw_maps *maps)
{
	struct rw_ranges truth = { 0 };
	int err = learn(wp, maps, &truth);

	if (err) {
		ranges_free(&truth);
		return err;
	}
	ranges_free(&wp->regs);
	wp->regs = truth;
	return 0;
}

/*
 * Arm each part of maps' private writable vmas within [lo, hi) that truth
 * does not cover: what is armed joins truth, what cannot be joins failed.
 * Returns how many ranges were armed, or -errno.
 */
static int arm_uncovered(struct rw_wp *wp, const struct rw_maps *maps, uint64_t lo, uint64_t hi,
			 struct rw_ranges *truth, struct rw_ranges *failed)
{
	int added = 0, err = 0;

	/* maps is sorted: from the first vma ending above lo to the last starting below hi. */
	for (size_t i = proc_maps_from(maps, lo); i < maps->n && maps->v[i].start < hi; i++) {
		const struct rw_vma *v = &maps->v[i];
		uint64_t cur = v->start > lo ? v->start : lo, end = v->end < hi ? v->end : hi;

		if (skip_vma(v) || !rw_vma_private_writable(v))
			continue;
		while (cur < end) {
			size_t k = ranges_search(truth, cur);
			uint64_t next = end;

			if (k < truth->n && truth->r[k].start <= cur) {
				cur = truth->r[k].end;
				continue;
			}
			if (k < truth->n && truth->r[k].start < next)
				next = truth->r[k].start;
			err = v->end - v->start > WP_SYNC_MAX_VMA ? -E2BIG : arm(wp, cur, next);
			if (!err) {
				err = ranges_insert(truth, cur, next);
				if (err)
					return err;
				added++;
			} else if (err == -ESRCH) {
				return err;
			} else {
				if (!ranges_contains(&wp->failed, cur, next))
					pr_warn("pid %d: not write-protecting %#llx-%#llx%s%s: %s; "
						"scans will not see its writes\n", wp->pid,
						(unsigned long long)cur, (unsigned long long)next,
						*v->name ? " " : "", v->name,
						err == -E2BIG ? "vma larger than WP_SYNC_MAX_VMA" :
						strerror(-err));
				err = ranges_insert(failed, cur, next);
				if (err)
					return err;
			}
			cur = next;
		}
	}
	return added;
}

int wp_sync(struct rw_wp *wp, const struct rw_maps *maps)
{
	struct rw_ranges truth = { 0 }, failed = { 0 };
	int added;

	added = learn(wp, maps, &truth);
	if (!added)
		added = arm_uncovered(wp, maps, 0, UINT64_MAX, &truth, &failed);
	if (added >= 0) {
		ranges_free(&wp->regs);
		wp->regs = truth;
		truth = (struct rw_ranges){ 0 };
		ranges_free(&wp->failed);
		wp->failed = failed;
		failed = (struct rw_ranges){ 0 };
		wp->unsynced = false;
	}
	ranges_free(&truth);
	ranges_free(&failed);
	if (added < 0 && added != -ESRCH)
		pr_err("pid %d: syncing write protection: %s\n", wp->pid, strerror(-added));
	return added;
}

int wp_sync_within(struct rw_wp *wp, const struct rw_maps *maps, const struct rw_ranges *spans)
{
	struct rw_ranges truth = { 0 }, failed = { 0 };
	int added = 0, err = 0;

	for (size_t i = 0; i < spans->n && !err; i++)
		err = pm_scan(wp, spans->r[i].start, spans->r[i].end, 0, 0, PAGE_IS_WPALLOWED,
			      add_region, &truth);
	for (size_t i = 0; i < spans->n && !err; i++) {
		int n = arm_uncovered(wp, maps, spans->r[i].start, spans->r[i].end, &truth, &failed);

		err = n < 0 ? n : 0;
		added += n > 0 ? n : 0;
	}
	/* Outside the spans nothing changed: only their part of what is known is replaced. */
	for (size_t i = 0; i < spans->n && !err; i++) {
		err = ranges_remove(&wp->regs, spans->r[i].start, spans->r[i].end);
		if (!err)
			err = ranges_remove(&wp->failed, spans->r[i].start, spans->r[i].end);
	}
	for (size_t i = 0; i < truth.n && !err; i++)
		err = ranges_insert(&wp->regs, truth.r[i].start, truth.r[i].end);
	for (size_t i = 0; i < failed.n && !err; i++)
		err = ranges_insert(&wp->failed, failed.r[i].start, failed.r[i].end);
	ranges_free(&truth);
	ranges_free(&failed);
	if (err && err != -ESRCH)
		pr_err("pid %d: syncing write protection: %s\n", wp->pid, strerror(-err));
	return err ? err : added;
}

/* ---- scanning ---------------------------------------------------------- */

/* Hands regions to the caller in order, merging adjacent ones. */
struct emitter {
	wp_region_cb cb;
	void *ctx;
	uint64_t start, end;	/* pending region */
	long pages;
};

static void emit_flush(struct emitter *em)
{
	if (em->end > em->start) {
		em->pages += (em->end - em->start) / PAGE_SZ;
		if (em->cb)
			em->cb(em->ctx, em->start, em->end);
	}
	em->start = em->end = 0;
}

static int emit(void *arg, uint64_t start, uint64_t end)
{
	struct emitter *em = arg;

	if (em->end > em->start && em->end == start) {
		em->end = end;
		return 0;
	}
	emit_flush(em);
	em->start = start;
	em->end = end;
	return 0;
}

/* Whether [start, end) overlaps a range of where (NULL: everything does). */
static bool overlaps_any(const struct rw_ranges *where, uint64_t start, uint64_t end)
{
	if (!where)
		return true;
	for (size_t i = 0; i < where->n; i++)
		if (where->r[i].start < end && start < where->r[i].end)
			return true;
	return false;
}

/*
 * wp_scan(), or with written false only the lost ranges (wp_lost) of the
 * registered ranges overlapping where.
 */
static long scan_regs(struct rw_wp *wp, bool written, bool rearm, const struct rw_ranges *where,
		      wp_region_cb cb, void *ctx)
{
	struct emitter em = { .cb = cb, .ctx = ctx };
	struct rw_ranges lost = { 0 };
	struct rw_range *snap = NULL;
	size_t nsnap = wp->regs.n;
	uint64_t flags = rearm ? PM_SCAN_WP_MATCHING : 0;
	int err = 0;

	/* wp->regs shrinks below when coverage turns out lost: walk a copy. */
	if (nsnap) {
		snap = malloc(nsnap * sizeof(*snap));
		if (!snap)
			return -ENOMEM;
		memcpy(snap, wp->regs.r, nsnap * sizeof(*snap));
	}
	for (size_t i = 0; i < nsnap && !err; i++) {
		uint64_t cur = snap[i].start, end = snap[i].end;
		size_t first = lost.n;

		if (!overlaps_any(where, cur, end))
			continue;

		/*
		 * Mapped parts that are not registered any more (mmap MAP_FIXED
		 * over them, ...): a WP_MATCHING scan would skip them silently.
		 * Cheap: the kernel decides this per vma, without walking page
		 * tables. Two walks are faster than one that asks for "written or
		 * not registered" (measured on 1 GiB: ~1 us + 0.2-0.35 ms against
		 * 0.6-0.78 ms): that one must categorise every entry.
		 */
		err = pm_scan(wp, cur, end, 0, PAGE_IS_WPALLOWED, PAGE_IS_WPALLOWED, add_region,
			      &lost);
		for (size_t k = first; k <= lost.n && !err; k++) {
			uint64_t stop = k < lost.n ? lost.r[k].start : end;

			if (cur < stop && written)
				err = pm_scan(wp, cur, stop, flags, 0, PAGE_IS_WRITTEN, emit, &em);
			if (k < lost.n && !err) {
				emit(&em, lost.r[k].start, lost.r[k].end);
				cur = lost.r[k].end;
			}
		}
	}
	emit_flush(&em);
	for (size_t k = 0; k < lost.n && !err; k++) {
		pr_warn("pid %d: %#llx-%#llx lost its write protection (mapping replaced); "
			"reported as written\n", wp->pid, (unsigned long long)lost.r[k].start,
			(unsigned long long)lost.r[k].end);
		err = ranges_remove(&wp->regs, lost.r[k].start, lost.r[k].end);
		wp->unsynced = true;
	}
	free(snap);
	ranges_free(&lost);
	if (err) {
		if (err != -ESRCH)
			pr_err("pid %d: scanning for written pages: %s\n", wp->pid, strerror(-err));
		return err;
	}
	return em.pages;
}

long wp_scan(struct rw_wp *wp, bool rearm, wp_region_cb cb, void *ctx)
{
	return scan_regs(wp, true, rearm, NULL, cb, ctx);
}

long wp_lost(struct rw_wp *wp, const struct rw_ranges *where, wp_region_cb cb, void *ctx)
{
	return scan_regs(wp, false, false, where, cb, ctx);
}

/* ---- open / close -------------------------------------------------------- */

/* The main thread, or any other if it has exited (a zombie leader). */
static int seize_some_thread(struct rw_seized *ij, pid_t pid)
{
	pid_t *tids;
	size_t n;
	int err;

	err = inject_seize(ij, pid);
	if (err != -ESRCH)
		return err;
	if (proc_list_threads(pid, &tids, &n))
		return -ESRCH;
	for (size_t i = 0; i < n && err; i++)
		if (tids[i] != pid)
			err = inject_seize(ij, tids[i]);
	free(tids);
	return err;
}

/*
 * Through the thread we hold: /proc/PID/pagemap of a process whose main
 * thread exited fails (ESRCH), any live thread's reaches the same mm.
 */
static int open_pagemap(struct rw_wp *wp, pid_t tid)
{
	int fd = pagemap_open(wp->pid, tid);

	if (fd < 0)
		return fd;
	wp->pagemap = fd;
	return 0;
}

/*
 * Create a userfaultfd in the target, bring it here, close the target's
 * copy; open pagemap meanwhile.
 */
static int take_uffd(struct rw_wp *wp, int pidfd, struct rw_seized *held)
{
	long args[6] = { O_CLOEXEC | O_NONBLOCK }, tfd = -1, ret;
	struct rw_seized own, *ijp = held ? held : &own;
	int err, err2 = 0;

	if (!held) {
		err = seize_some_thread(&own, wp->pid);
		if (err) {
			if (err != -ESRCH)
				pr_err("pid %d: stopping a thread to inject userfaultfd(): %s\n",
				       wp->pid, strerror(-err));
			return err;
		}
	}
	err = inject_syscall(ijp, SYS_userfaultfd, args, &tfd);
	if (!err && tfd == -EPERM) {
		/* vm.unprivileged_userfaultfd=0: user-mode-only is enough, async WP never faults to us. */
		args[0] |= UFFD_USER_MODE_ONLY;
		err = inject_syscall(ijp, SYS_userfaultfd, args, &tfd);
	}
	if (err) {
		if (err != -ESRCH)
			pr_err("pid %d: injecting userfaultfd(): %s\n", wp->pid, strerror(-err));
		goto release;
	}
	if (tfd < 0) {
		err = tfd;
		pr_err("pid %d: userfaultfd() in the target: %s\n", wp->pid, strerror(-err));
		goto release;
	}
	wp->uffd = sys_pidfd_getfd(pidfd, tfd, 0);
	if (wp->uffd < 0 && errno == ESRCH && ijp->tid != wp->pid) {
		/* The main thread has exited (no files any more): go through ours. */
		int tpidfd = sys_pidfd_open(ijp->tid, PIDFD_THREAD);

		if (tpidfd >= 0) {
			wp->uffd = sys_pidfd_getfd(tpidfd, tfd, 0);
			close(tpidfd);
		}
	}
	if (wp->uffd < 0) {
		err = -errno;
		pr_perror("pid %d: pidfd_getfd of its userfaultfd %ld", wp->pid, tfd);
	}
	if (!err)
		err = open_pagemap(wp, ijp->tid);
	/* Whatever happened: the target must not keep an fd it never opened. */
	args[0] = tfd;
	err2 = inject_syscall(ijp, SYS_close, args, &ret);
	if (!err2 && ret)
		err2 = ret;
	if (err2) {
		pr_err("pid %d: close(%ld) in the target: %s\n", wp->pid, tfd, strerror(-err2));
		if (!err)
			err = err2;
	}
release:
	if (!held)
		err2 = inject_release(ijp);
	if (err2) {
		if (err2 != -ESRCH)
			pr_err("pid %d: releasing thread %d: %s\n", wp->pid, ijp->tid, strerror(-err2));
		if (!err)
			err = err2;
	}
	return err;
}

static int open_with(struct rw_wp **out, pid_t pid, struct rw_seized *held)
{
	struct uffdio_api api = { .api = UFFD_API, .features = WP_FEATURES };
	struct rw_wp *wp;
	int pidfd = -1, err;

	*out = NULL;
	wp = calloc(1, sizeof(*wp));
	if (!wp)
		return -ENOMEM;
	wp->pid = pid;
	wp->uffd = wp->pagemap = -1;
	pidfd = sys_pidfd_open(pid, 0);
	if (pidfd < 0) {
		err = -errno;
		if (err != -ESRCH)
			pr_perror("pid %d: pidfd_open", pid);
		goto fail;
	}
	err = take_uffd(wp, pidfd, held);
	if (err)
		goto fail;
	if (ioctl(wp->uffd, UFFDIO_API, &api)) {
		err = -errno;
		pr_perror("pid %d: UFFDIO_API with WP_ASYNC | WP_UNPOPULATED", pid);
		goto fail;
	}
	if ((api.features & WP_FEATURES) != WP_FEATURES) {
		err = -EOPNOTSUPP;
		pr_err("pid %d: UFFDIO_API: kernel lacks async write protection\n", pid);
		goto fail;
	}
	close(pidfd);
	*out = wp;
	return 0;
fail:
	if (pidfd >= 0)
		close(pidfd);
	wp_close(wp);
	return err;
}

int wp_open(struct rw_wp **out, pid_t pid)
{
	return open_with(out, pid, NULL);
}

int wp_open_seized(struct rw_wp **out, pid_t pid, struct rw_seized *ij)
{
	return open_with(out, pid, ij);
}

static int protect(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	struct uffdio_writeprotect prot = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	return ioctl(wp->uffd, UFFDIO_WRITEPROTECT, &prot) ? -errno : 0;
}

/*
 * [start, end) was registered when we last looked, and the kernel says a
 * part of it is not any more (unmapped, replaced, moved since): learn what
 * is, forget the rest and protect what is left.
 */
static int protect_relearnt(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	struct rw_ranges truth = { 0 };
	int err;

	err = pm_scan(wp, start, end, 0, 0, PAGE_IS_WPALLOWED, add_region, &truth);
	if (!err)
		err = ranges_remove(&wp->regs, start, end);
	for (size_t i = 0; i < truth.n && !err; i++) {
		err = ranges_insert(&wp->regs, truth.r[i].start, truth.r[i].end);
		if (!err)
			err = protect(wp, truth.r[i].start, truth.r[i].end);
	}
	if (!err) {
		pr_debug("pid %d: %#llx-%#llx lost its registration since it was learnt: "
			 "protected %zu registered part(s)\n", wp->pid, (unsigned long long)start,
			 (unsigned long long)end, truth.n);
		wp->unsynced = true;
	}
	ranges_free(&truth);
	return err;
}

int wp_protect(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	uint64_t cur = start;
	int err = check_range(start, end);

	/* Only what is registered can be protected: the rest is not covered, and stays so. */
	while (!err && cur < end) {
		size_t i = ranges_search(&wp->regs, cur);
		uint64_t a, e;

		if (i == wp->regs.n || wp->regs.r[i].start >= end)
			break;
		a = wp->regs.r[i].start > cur ? wp->regs.r[i].start : cur;
		e = wp->regs.r[i].end < end ? wp->regs.r[i].end : end;
		err = protect(wp, a, e);
		if (err == -ENOENT)
			err = protect_relearnt(wp, a, e);
		cur = e;
	}
	return err;
}

bool wp_unsynced(const struct rw_wp *wp)
{
	return wp->unsynced;
}

static int noop_region(void *arg, uint64_t start, uint64_t end)
{
	return 0;
}

int wp_rearm(struct rw_wp *wp, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < wp->regs.n; i++) {
		uint64_t a = wp->regs.r[i].start > start ? wp->regs.r[i].start : start;
		uint64_t e = wp->regs.r[i].end < end ? wp->regs.r[i].end : end;
		int err;

		if (a >= e)
			continue;
		err = pm_scan(wp, a, e, PM_SCAN_WP_MATCHING, 0, PAGE_IS_WRITTEN, noop_region, NULL);
		if (err)
			return err;
	}
	return 0;
}

const struct rw_ranges *wp_registered(const struct rw_wp *wp)
{
	return &wp->regs;
}

void wp_close(struct rw_wp *wp)
{
	if (!wp)
		return;
	/* Leave the target unprotected; fails harmlessly once its mm is gone. */
	for (size_t i = 0; wp->uffd >= 0 && i < wp->regs.n; i++) {
		int err = uffd_unregister(wp, wp->regs.r[i].start, wp->regs.r[i].end);

		if (err)
			pr_debug("pid %d: unregistering %#llx-%#llx: %s\n", wp->pid,
				 (unsigned long long)wp->regs.r[i].start,
				 (unsigned long long)wp->regs.r[i].end, strerror(-err));
	}
	if (wp->uffd >= 0)
		close(wp->uffd);
	if (wp->pagemap >= 0)
		close(wp->pagemap);
	ranges_free(&wp->regs);
	ranges_free(&wp->failed);
	free(wp);
}
