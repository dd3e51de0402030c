// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "plan: "
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <json-c/json.h>

#include "log.h"
#include "pagemap.h"
#include "plan.h"
#include "remote.h"
#include "sysnames.h"

/* ---- plan building blocks ---------------------------------------------------- */

static int fail(struct rw_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct rw_plan *p, const char *fmt, ...)
{
	char **more = realloc(p->failures, (p->nfailures + 1) * sizeof(*more));
	va_list ap;
	char *msg;
	int n;

	if (!more)
		return -ENOMEM;
	p->failures = more;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	p->failures[p->nfailures++] = msg;
	return 0;
}

/* Room for one more element in a malloc'd array: 0 or -ENOMEM. */
#define GROW(arr, n)                                                               \
	({                                                                         \
		void *__m = realloc((arr), ((n) + 1) * sizeof(*(arr)));            \
		if (__m)                                                           \
			(arr) = __m;                                               \
		__m ? 0 : -ENOMEM;                                                 \
	})

static bool vma_special(const struct rw_vma *v)
{
	return !strcmp(v->name, "[vdso]") || !strncmp(v->name, "[vvar", 5) ||
	       !strcmp(v->name, "[vsyscall]") || !strcmp(v->name, "[uprobes]") ||
	       v->start >= RW_USER_ADDR_END;
}

/* Private memory whose pages the image speaks for. */
static bool vma_private(const struct rw_vma *v)
{
	return !v->shared && !vma_special(v);
}

static const struct rw_vma *vma_at(const struct rw_maps *m, uint64_t addr)
{
	ssize_t i = proc_maps_find(m, addr);

	return i < 0 ? NULL : &m->v[i];
}

static const struct rw_vma *find_named(const struct rw_maps *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].name, name))
			return &m->v[i];
	return NULL;
}

/* Same object behind addr in both: then only the protection may differ. */
static bool same_backing(const struct rw_vma *a, const struct rw_vma *b, uint64_t addr)
{
	if (a->shared != b->shared || a->inode != b->inode || a->dev_major != b->dev_major ||
	    a->dev_minor != b->dev_minor)
		return false;
	if (!a->inode)
		return !strcmp(a->name, b->name);
	return a->offset + (addr - a->start) == b->offset + (addr - b->start);
}

static int add_layout(struct rw_plan *p, const struct rw_layout_op *op)
{
	struct rw_layout_op *last = p->nlayout ? &p->layout[p->nlayout - 1] : NULL;

	/* Merge with the previous step when it continues it exactly. */
	if (last && last->kind == op->kind && last->end == op->start && last->prot == op->prot &&
	    last->shared == op->shared && last->growsdown == op->growsdown &&
	    last->noreserve == op->noreserve &&
	    last->advice == op->advice &&
	    (op->kind != RW_LAYOUT_MAP_FILE ||
	     (last->dev == op->dev && last->ino == op->ino &&
	      last->offset + (last->end - last->start) == op->offset))) {
		last->end = op->end;
		return 0;
	}
	if (GROW(p->layout, p->nlayout))
		return -ENOMEM;
	p->layout[p->nlayout++] = *op;
	return 0;
}

/* The heap is more than the one vma heap1 (the first [heap] vma) now. */
static bool heap_split(const struct rw_maps *m, const struct rw_vma *heap1)
{
	for (size_t i = 0; heap1 && i < m->n; i++)
		if (&m->v[i] != heap1 && !strcmp(m->v[i].name, "[heap]"))
			return true;
	return false;
}

/*
 * The span the break's moves map or unmap: every [heap] vma now and the
 * checkpoint's, but the part of the checkpoint's vma below keep, which
 * stays in place (plan_build).
 */
static void brk_span(struct rw_plan *p, const struct rw_maps *now, const struct rw_vma *heap0,
		     uint64_t keep)
{
	uint64_t lo = heap0 ? heap0->start : UINT64_MAX, hi = heap0 ? heap0->end : 0;

	for (size_t i = 0; i < now->n; i++) {
		if (strcmp(now->v[i].name, "[heap]"))
			continue;
		lo = now->v[i].start < lo ? now->v[i].start : lo;
		hi = now->v[i].end > hi ? now->v[i].end : hi;
	}
	/* keep above the checkpoint's start: the first [heap] vma now starts there too. */
	if (heap0 && keep > lo)
		lo = keep;
	p->brk_lo = lo < hi ? lo : 0;
	p->brk_hi = lo < hi ? hi : 0;
}

/*
 * The layout as it will be once brk is reset: the current maps with the
 * [heap] vma replaced by the checkpoint's.
 */
static int layout_after_brk(const struct rw_maps *now, const struct rw_vma *heap0,
			    struct rw_maps *out)
{
	size_t n = 0;

	out->v = calloc(now->n + 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < now->n; i++) {
		if (!strcmp(now->v[i].name, "[heap]"))
			continue;
		if (heap0 && heap0->start < now->v[i].start && (!n || out->v[n - 1].start < heap0->start))
			out->v[n++] = *heap0;
		out->v[n++] = now->v[i];
	}
	if (heap0 && (!n || out->v[n - 1].start < heap0->start))
		out->v[n++] = *heap0;
	out->n = out->cap = n;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int add_madvise(struct rw_plan *p, uint64_t start, uint64_t end, int advice);

/* m's starts and ends in order into b (2 * m->n entries); false if they do not ascend. */
static bool bounds_of(const struct rw_maps *m, uint64_t *b)
{
	bool ascending = true;

	for (size_t i = 0; i < m->n; i++) {
		b[2 * i] = m->v[i].start;
		b[2 * i + 1] = m->v[i].end;
		ascending &= (!i || b[2 * i - 1] <= b[2 * i]) && b[2 * i] <= b[2 * i + 1];
	}
	return ascending;
}

/*
 * Every vma boundary of want and now, ascending: a malloc'd array of
 * 2 * (want->n + now->n) entries. Both lists are sorted and disjoint as
 * observed, so they are merged (every rewind's plan runs this); anything
 * else is sorted.
 */
static uint64_t *layout_bounds(const struct rw_maps *want, const struct rw_maps *now)
{
	size_t nw = 2 * want->n, nn = 2 * now->n, i = 0, j = 0, k = 0;
	uint64_t *b = malloc(2 * (nw + nn ? nw + nn : 1) * sizeof(*b)), *w, *n;
	bool ascending;

	if (!b)
		return NULL;
	w = b + nw + nn;	/* the second half: each list's own, then merged into the first */
	n = w + nw;
	ascending = bounds_of(want, w);
	ascending &= bounds_of(now, n);
	if (!ascending) {
		memcpy(b, w, (nw + nn) * sizeof(*b));
		qsort(b, nw + nn, sizeof(*b), cmp_u64);
		return b;
	}
	while (i < nw || j < nn)
		b[k++] = j == nn || (i < nw && w[i] <= n[j]) ? w[i++] : n[j++];
	return b;
}

/* The same vmas, one for one: then no step turns one into the other. */
static bool same_layout(const struct rw_maps *want, const struct rw_maps *now)
{
	if (want == now)
		return true;
	if (want->n != now->n)
		return false;
	for (size_t i = 0; i < want->n; i++) {
		const struct rw_vma *v0 = &want->v[i], *v1 = &now->v[i];

		if (v0->start != v1->start || v0->end != v1->end || v0->prot != v1->prot ||
		    !same_backing(v0, v1, v0->start))
			return false;
	}
	return true;
}

/*
 * Walk both layouts over every elementary interval and emit the steps that
 * turn `now` into `want`; remapped private ranges go to wholesale. The
 * walk's cost (a lookup in each per boundary) is skipped where the layouts
 * are the same, as after most invocations.
 */
static int diff_layout(struct rw_plan *p, const struct rw_maps *want, const struct rw_maps *now,
		       struct rw_ranges *wholesale)
{
	size_t k = 2 * (want->n + now->n);
	struct rw_layout_op *unmaps = NULL;
	struct rw_ranges dontfork = { 0 };
	size_t nunmaps = 0;
	uint64_t *b;
	int err = 0;

	if (same_layout(want, now))
		return 0;
	b = layout_bounds(want, now);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < k && !err; i++) {
		uint64_t a = b[i], e = b[i + 1];
		const struct rw_vma *v0, *v1;
		struct rw_layout_op op = { .start = a, .end = e };

		if (a == e)
			continue;
		v0 = vma_at(want, a);
		v1 = vma_at(now, a);
		if (!v0 && !v1)
			continue;
		if (!v0) {
			if (vma_special(v1)) {
				err = fail(p, "special mapping %s appeared at %#llx", v1->name,
					   (unsigned long long)a);
				continue;
			}
			op.kind = RW_LAYOUT_MUNMAP;
			if (GROW(unmaps, nunmaps)) {
				err = -ENOMEM;
				break;
			}
			if (nunmaps && unmaps[nunmaps - 1].end == a)
				unmaps[nunmaps - 1].end = e;
			else
				unmaps[nunmaps++] = op;
			continue;
		}
		/*
		 * Private anonymous memory the invocation made writable and wrote
		 * (a heap carved out of a PROT_NONE reservation, glibc's arenas,
		 * V8's cages) cannot be made one mapping with the rest again by
		 * mprotect: it has an anon_vma (two parts around a guard page have
		 * two, and vmas with different ones never merge), and it stays
		 * charged (VM_ACCOUNT) when it was not MAP_NORESERVE. Mapped afresh,
		 * with the checkpoint's MAP_NORESERVE and MADV_DONTFORK, it has
		 * neither and merges. Its pages come from the image, as for any
		 * range mapped again.
		 */
		if (v1 && same_backing(v0, v1, a) && !v0->shared && !v0->inode && !v0->name[0] &&
		    !(v0->prot & PROT_WRITE) && (v1->prot & PROT_WRITE) && !v0->accounted) {
			op.kind = RW_LAYOUT_MAP_ANON;
			op.prot = v0->prot;
			op.noreserve = v0->noreserve;
			err = add_layout(p, &op);
			if (!err)
				err = ranges_add(wholesale, a, e);
			if (!err && v0->dontfork)
				err = ranges_add(&dontfork, a, e);
			continue;
		}
		if (v1 && same_backing(v0, v1, a)) {
			if (v0->prot != v1->prot) {
				op.kind = RW_LAYOUT_MPROTECT;
				op.prot = v0->prot;
				err = add_layout(p, &op);
			}
			continue;
		}
		if (vma_special(v0)) {
			err = fail(p, "special mapping %s at %#llx was changed", v0->name,
				   (unsigned long long)a);
			continue;
		}
		if (v0->shared && !v0->inode) {
			err = fail(p, "shared anonymous mapping %#llx-%#llx was unmapped or replaced: "
				   "its memory cannot be brought back", (unsigned long long)v0->start,
				   (unsigned long long)v0->end);
			continue;
		}
		op.prot = v0->prot;
		op.shared = v0->shared;
		if (v0->inode) {
			op.kind = RW_LAYOUT_MAP_FILE;
			op.offset = v0->offset + (a - v0->start);
			op.dev = makedev(v0->dev_major, v0->dev_minor);
			op.ino = v0->inode;
		} else {
			op.kind = RW_LAYOUT_MAP_ANON;
			op.growsdown = !strcmp(v0->name, "[stack]");
		}
		err = add_layout(p, &op);
		if (!err && !v0->shared)
			err = ranges_add(wholesale, a, e);
	}
	/* After the maps: a fresh mapping has no MADV_DONTFORK of its own. */
	for (size_t i = 0; i < dontfork.n && !err; i++)
		err = add_madvise(p, dontfork.r[i].start, dontfork.r[i].end, MADV_DONTFORK);
	ranges_free(&dontfork);
	/* Unmapping first frees the room mappings and brk may need. */
	if (!err && nunmaps) {
		struct rw_layout_op *all = malloc((nunmaps + p->nlayout) * sizeof(*all));

		if (!all) {
			err = -ENOMEM;
		} else {
			memcpy(all, unmaps, nunmaps * sizeof(*all));
			if (p->nlayout)
				memcpy(all + nunmaps, p->layout, p->nlayout * sizeof(*all));
			free(p->layout);
			p->layout = all;
			p->nlayout += nunmaps;
		}
	}
	free(unmaps);
	free(b);
	return err;
}

/* Index of the first range of a sorted, disjoint list that ends after addr (n if none). */
static size_t first_after(const struct rw_range *r, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * ranges ∩ [start, end) of a sorted list, added to out. From a binary
 * search: called once per vma, a walk from the first range would make the
 * plan cost vmas x written ranges.
 */
static int intersect_into(struct rw_ranges *out, const struct rw_range *r, size_t n, uint64_t start,
			  uint64_t end)
{
	for (size_t i = first_after(r, n, start); i < n; i++) {
		uint64_t a = r[i].start > start ? r[i].start : start;
		uint64_t e = r[i].end < end ? r[i].end : end;
		int err;

		if (r[i].start >= end)
			break;
		err = ranges_add(out, a, e);
		if (err)
			return err;
	}
	return 0;
}

/* [start, end) minus a sorted, disjoint list, added to out; from a binary search, as above. */
static int subtract_into(struct rw_ranges *out, uint64_t start, uint64_t end, const struct rw_range *r,
			 size_t n)
{
	uint64_t cur = start;
	int err;

	for (size_t i = first_after(r, n, start); i < n && cur < end; i++) {
		if (r[i].end <= cur)
			continue;
		if (r[i].start >= end)
			break;
		if (r[i].start > cur) {
			err = ranges_add(out, cur, r[i].start);
			if (err)
				return err;
		}
		cur = r[i].end;
	}
	return cur < end ? ranges_add(out, cur, end) : 0;
}

static bool overlaps(const struct rw_range *r, size_t n, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].start < end && start < r[i].end)
			return true;
	return false;
}

/*
 * Pages to restore that the checkpoint did not store, in anonymous writable
 * memory, are zero-filled through process_vm_writev rather than dropped, up
 * to ZERO_FILL_MAX a process and rewind, and ranges up to SMALL_FILL_MAX
 * always: the page stays allocated, so the next request that writes it (a
 * heap's free top, a stack's depth) takes no fault, which costs several
 * times the fill in this guest, and no injected madvise() sends a TLB
 * shootdown to an idle vCPU (docs/BENCHMARKS.md, issue 15's seventeenth
 * stop). The page's residency is thus not restored (the class table says
 * so); past the budget the rest is dropped. Wipe-on-fork memory, dropped
 * whole whether written or not, gets the small fill only.
 */
#define ZERO_FILL_MAX	(4096ull * RW_PAGE_SIZE)
#define SMALL_FILL_MAX	(16ull * RW_PAGE_SIZE)

/*
 * Whether [start, end) can be zero-filled: it lies in one anonymous vma of
 * the image that is writable (process_vm_writev writes only there) and is
 * small or fits what is left of the budget. Reading a dropped page gives
 * zeros: the content is the same.
 */
static bool zero_fillable(const struct rw_proc_image *img, uint64_t start, uint64_t end,
			  uint64_t budget)
{
	ssize_t i = proc_maps_find(&img->maps, start);
	const struct rw_vma *v = i >= 0 ? &img->maps.v[i] : NULL;

	if (!v || v->inode || !(v->prot & PROT_WRITE) || end > v->end)
		return false;
	return end - start <= SMALL_FILL_MAX || (!v->wipeonfork && end - start <= budget);
}

/* The pages not stored (unstored), as fill and drop. */
static int split_unstored(struct rw_plan *p, const struct rw_proc_image *img,
			  const struct rw_ranges *unstored)
{
	struct rw_ranges fill = { 0 }, drop = { 0 };
	uint64_t budget = ZERO_FILL_MAX;
	int err = 0;

	for (size_t i = 0; i < unstored->n && !err; i++) {
		const struct rw_range *d = &unstored->r[i];
		uint64_t len = d->end - d->start;

		p->drop_pages += len / RW_PAGE_SIZE;
		if (zero_fillable(img, d->start, d->end, budget)) {
			budget = len < budget ? budget - len : 0;
			p->fill_pages += len / RW_PAGE_SIZE;
			err = ranges_add(&fill, d->start, d->end);
		} else {
			err = ranges_add(&drop, d->start, d->end);
		}
	}
	if (err) {
		ranges_free(&fill);
		ranges_free(&drop);
		return err;
	}
	p->fill = fill.r;
	p->nfill = fill.n;
	p->drop = drop.r;
	p->ndrop = drop.n;
	return 0;
}

/* Split the pages to restore into stored ones (copy) and the rest (fill, drop). */
static int split_pages(struct rw_plan *p, const struct rw_proc_image *img, const struct rw_ranges *pages)
{
	struct rw_ranges copy = { 0 }, drop = { 0 };
	size_t last_run = SIZE_MAX;
	int err = 0;

	for (size_t i = 0; i < pages->n && !err; i++) {
		uint64_t cur = pages->r[i].start, end = pages->r[i].end;
		size_t n, first = image_runs_in(img, cur, end, &n);

		for (size_t k = first; k < first + n && !err; k++) {
			const struct rw_page_run *run = &img->runs[k];
			uint64_t rs = run->start, re = run->start + run->npages * RW_PAGE_SIZE;

			if (rs > cur)
				err = ranges_add(&drop, cur, rs < end ? rs : end);
			/* A copy range is one run's: the next run may be stored elsewhere. */
			if (!err && k == last_run)
				err = ranges_add(&copy, rs > cur ? rs : cur, re < end ? re : end);
			else if (!err)
				err = ranges_add_apart(&copy, rs > cur ? rs : cur, re < end ? re : end);
			last_run = k;
			cur = re;
		}
		if (!err && cur < end)
			err = ranges_add(&drop, cur, end);
	}
	if (!err)
		err = split_unstored(p, img, &drop);
	ranges_free(&drop);
	if (err) {
		ranges_free(&copy);
		return err;
	}
	p->copy = copy.r;
	p->ncopy = copy.n;
	for (size_t i = 0; i < copy.n; i++)
		p->copy_pages += (copy.r[i].end - copy.r[i].start) / RW_PAGE_SIZE;
	return 0;
}

/* The thread a recreated one is cloned in: the main thread if it lives, else the first that does. */
static pid_t recreate_parent(const struct rw_proc_image *img, const struct rw_observed *obs)
{
	for (size_t i = 0; i < img->nthreads; i++) {
		pid_t tid = img->threads[i].tid;

		if (bsearch(&tid, obs->tids, obs->ntids, sizeof(pid_t), proc_pid_cmp) &&
		    (tid == img->tgid || !bsearch(&img->tgid, obs->tids, obs->ntids, sizeof(pid_t),
						  proc_pid_cmp)))
			return tid;
	}
	return 0;
}

static const struct rw_ident *image_ident(const struct rw_proc_image *img, pid_t tid)
{
	for (size_t i = 0; i < img->nidents; i++)
		if (img->idents[i].tid == tid)
			return &img->idents[i];
	return NULL;
}

/*
 * A checkpoint thread that exited comes back as a clone of parent: what a
 * clone inherits from its parent and no step sets (credentials, namespaces,
 * seccomp, a thread keyring) must be what it had; signals queued on it
 * then cannot be queued again.
 */
static int plan_recreate(struct rw_plan *p, const struct rw_proc_image *img,
			 const struct rw_thread_state *ts, pid_t parent)
{
	const struct rw_ident *was = image_ident(img, ts->tid), *par = image_ident(img, parent);
	const struct rw_thread_pstate *ps = pstate_thread(&img->pstate, ts->tid);
	char what[160];

	if (ts->tid == img->tgid)
		return fail(p, "thread %d (%s) of pid %d exited and cannot be recreated: it is the "
			    "main thread", ts->tid, ts->comm, img->tgid);
	if (!parent)
		return fail(p, "thread %d (%s) of pid %d exited and cannot be recreated: no thread "
			    "of the checkpoint is left to clone it", ts->tid, ts->comm, img->tgid);
	if (!ts->exit.known)
		return fail(p, "thread %d (%s) of pid %d exited and cannot be recreated: its "
			    "clear_child_tid, robust list or tids were not read at the checkpoint",
			    ts->tid, ts->comm, img->tgid);
	if (thread_pending_set(&ts->pending))
		return fail(p, "thread %d (%s) of pid %d exited and cannot be recreated: signals "
			    "%#llx queued on it at the checkpoint cannot be queued again", ts->tid,
			    ts->comm, img->tgid, (unsigned long long)thread_pending_set(&ts->pending));
	if (was && par && ident_compare(par, was, what, sizeof(what)))
		return fail(p, "thread %d (%s) of pid %d exited and cannot be recreated: a clone "
			    "of thread %d would not have its identity (%s)", ts->tid, ts->comm,
			    img->tgid, parent, what);
	if (ps && ps->thread_kr.id)
		return fail(p, "thread %d (%s) of pid %d exited and cannot be recreated: its thread "
			    "keyring %d cannot come back", ts->tid, ts->comm, img->tgid,
			    ps->thread_kr.id);
	if (GROW(p->recreate, p->nrecreate))
		return -ENOMEM;
	p->recreate[p->nrecreate++] = (struct rw_recreate_op){ ts->tid, parent };
	return 0;
}

static int plan_threads(struct rw_plan *p, const struct rw_proc_image *img,
			const struct rw_observed *obs)
{
	pid_t parent = recreate_parent(img, obs);
	int err = 0;

	for (size_t i = 0; i < img->nthreads && !err; i++) {
		bool alive = bsearch(&img->threads[i].tid, obs->tids, obs->ntids, sizeof(pid_t),
				     proc_pid_cmp) != NULL;

		if (!alive)
			err = plan_recreate(p, img, &img->threads[i], parent);
	}
	for (size_t i = 0; i < obs->ntids && !err; i++) {
		if (image_thread(img, obs->tids[i]))
			continue;
		if (GROW(p->exit_threads, p->nexit))
			return -ENOMEM;
		p->exit_threads[p->nexit++] = obs->tids[i];
	}
	return err;
}

static int add_attrop(struct rw_plan *p, enum rw_attr_kind kind, pid_t tid, int resource);

static bool has_psop(const struct rw_plan *p, enum rw_pstate_kind kind, pid_t tid)
{
	for (size_t i = 0; i < p->npsops; i++)
		if (p->psops[i].kind == kind && p->psops[i].tid == tid)
			return true;
	return false;
}

/*
 * What a CLONE_VM thread starts with (copy_process): no parent-death signal,
 * no sigaltstack; its parent's personality and timer slack as they are at
 * the clone, the checkpoint's unless a step sets the parent's back (par: the
 * parent's at the checkpoint). A step to set that is a round trip into the
 * new thread for nothing.
 */
static bool clone_starts_so(const struct rw_plan *p, const struct rw_thread_pstate *w,
			    const struct rw_thread_pstate *par, pid_t parent,
			    enum rw_pstate_kind kind)
{
	switch (kind) {
	case RW_PS_PDEATHSIG:
		return !w->pdeathsig;
	case RW_PS_ALTSTACK:
		return w->altstack.flags & SS_DISABLE;
	case RW_PS_PERSONALITY:
		return par && w->personality == par->personality && !has_psop(p, kind, parent);
	case RW_PS_TIMERSLACK:
		return par && w->timerslack == par->timerslack && !has_psop(p, kind, parent);
	default:
		return false;
	}
}

/*
 * The per-thread steps of a recreated thread, all of them but those a clone
 * starts with: it starts as a clone of its parent (no rseq, no robust list,
 * no sigaltstack, no parent-death signal; the parent's scheduling,
 * affinity, personality, timer slack and namespaces as they are before the
 * steps).
 */
static int plan_recreated_steps(struct rw_plan *p, const struct rw_proc_image *img)
{
	static const enum rw_attr_kind per_thread[] = {
		RW_ATTR_SCHED, RW_ATTR_NICE, RW_ATTR_AFFINITY, RW_ATTR_IOPRIO,
	};
	static const enum rw_pstate_kind ps_kinds[] = {
		RW_PS_PERSONALITY, RW_PS_PDEATHSIG, RW_PS_TIMERSLACK, RW_PS_ALTSTACK,
	};
	size_t nsetns = p->nsetns;
	int err = 0;

	for (size_t i = 0; i < p->nrecreate && !err; i++) {
		const struct rw_recreate_op *op = &p->recreate[i];
		const struct rw_thread_state *ts = image_thread(img, op->tid);

		if (ts->rseq.ptr) {
			if (GROW(p->rseq_ops, p->nrseq_ops))
				return -ENOMEM;
			p->rseq_ops[p->nrseq_ops++] = (struct rw_rseq_op){ op->tid, { 0 }, ts->rseq };
		}
		for (size_t k = 0; attrs_thread(&img->attrs, op->tid) &&
				   k < sizeof(per_thread) / sizeof(per_thread[0]) && !err; k++)
			err = add_attrop(p, per_thread[k], op->tid, 0);
		for (size_t k = 0; pstate_thread(&img->pstate, op->tid) &&
				   k < sizeof(ps_kinds) / sizeof(ps_kinds[0]) && !err; k++) {
			if (clone_starts_so(p, pstate_thread(&img->pstate, op->tid),
					    pstate_thread(&img->pstate, op->parent), op->parent,
					    ps_kinds[k]))
				continue;
			if (GROW(p->psops, p->npsops))
				return -ENOMEM;
			p->psops[p->npsops++] = (struct rw_pstate_op){ .kind = ps_kinds[k],
								       .tid = op->tid };
		}
		/* Its parent's namespaces are put back after the clone: so are its own. */
		for (size_t k = 0; k < nsetns && !err; k++) {
			if (p->setns[k].tid != op->parent)
				continue;
			if (GROW(p->setns, p->nsetns))
				return -ENOMEM;
			p->setns[p->nsetns] = p->setns[k];
			p->setns[p->nsetns++].tid = op->tid;
		}
	}
	return err;
}

/*
 * Signals queued on one thread since the checkpoint are dequeued in that
 * thread. One queued then and gone now, or a real-time signal queued again
 * behind one that was, cannot be told apart or put back: fail closed.
 */
static int plan_thread_signals(struct rw_plan *p, const struct rw_proc_image *img,
			       const struct rw_observed *obs)
{
	const uint64_t unblockable = (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1));

	for (size_t i = 0; i < obs->ntids && obs->pending; i++) {
		const struct rw_thread_state *ts = image_thread(img, obs->tids[i]);
		const struct rw_thread_pending *now = &obs->pending[i];
		uint64_t drain = 0;

		if (!ts)
			continue;	/* it exits */
		for (int s = 0; s < 64; s++) {
			unsigned int was = ts->pending.count[s], is = now->count[s];

			if (was == is || (unblockable & (1ULL << s)))
				continue;
			if (was && is < was)
				return fail(p, "pid %d: thread %d: signal %d pending at the checkpoint "
					    "was delivered since: it cannot be queued again", p->tgid,
					    ts->tid, s + 1);
			/* Dequeuing would take the one queued then, or the process-wide one, first. */
			if (was || (img->sig_pending_shared & (1ULL << s)))
				return fail(p, "pid %d: thread %d: signal %d queued since the checkpoint "
					    "behind one pending then: they cannot be told apart", p->tgid,
					    ts->tid, s + 1);
			drain |= 1ULL << s;
		}
		if (!drain)
			continue;
		if (GROW(p->drain_threads, p->ndrain_threads))
			return -ENOMEM;
		p->drain_threads[p->ndrain_threads++] = (struct rw_thread_drain){ ts->tid, drain };
	}
	return 0;
}

/*
 * rseq: a thread the checkpoint caught before its C library registered one
 * registers during the invocation; put back as it was, it registers again
 * after the rewind and the kernel refuses (glibc aborts). Unregistered (or
 * registered again) from inside the thread.
 */
static int plan_thread_rseq(struct rw_plan *p, const struct rw_proc_image *img,
			    const struct rw_observed *obs)
{
	for (size_t i = 0; i < obs->ntids && obs->rseq; i++) {
		const struct rw_thread_state *ts = image_thread(img, obs->tids[i]);

		if (!ts || thread_rseq_eq(&ts->rseq, &obs->rseq[i]))
			continue;	/* a thread that exits, or unchanged */
		if (GROW(p->rseq_ops, p->nrseq_ops))
			return -ENOMEM;
		p->rseq_ops[p->nrseq_ops++] = (struct rw_rseq_op){ ts->tid, obs->rseq[i], ts->rseq };
	}
	return 0;
}

/*
 * Robust lists: a thread the checkpoint caught before its C library
 * registered one (in pthread_create) registers during the invocation; a
 * function may register another. Registered again from inside the thread.
 */
static int plan_thread_robust(struct rw_plan *p, const struct rw_proc_image *img,
			      const struct rw_observed *obs)
{
	for (size_t i = 0; i < obs->ntids && obs->robust; i++) {
		const struct rw_thread_state *ts = image_thread(img, obs->tids[i]);

		if (!ts)
			continue;	/* not the checkpoint's: it exits */
		/* Unknown is not unchanged: a registration that cannot be compared is not kept. */
		if (!ts->exit.robust_known)
			return fail(p, "thread %d (%s) of pid %d: its robust futex list was not read "
				    "at the checkpoint, so whether the invocation changed it is "
				    "unknown", ts->tid, ts->comm, img->tgid);
		if (obs->robust[i].head == ts->exit.robust_head &&
		    obs->robust[i].len == ts->exit.robust_len)
			continue;
		if (GROW(p->robust_ops, p->nrobust_ops))
			return -ENOMEM;
		p->robust_ops[p->nrobust_ops++] = (struct rw_robust_op){
			ts->tid, { ts->exit.robust_head, ts->exit.robust_len } };
	}
	return 0;
}

/* A thread's name now: NULL when not read. */
static const char *comm_now(const struct rw_observed *obs, pid_t tid)
{
	for (size_t i = 0; i < obs->ntids && obs->comms; i++)
		if (obs->tids[i] == tid)
			return obs->comms[i];
	return NULL;
}

/*
 * Thread names: any process may write /proc/PID/task/TID/comm, so no log
 * vouches for them; a name can carry a secret. A recreated thread starts
 * with its parent's name (after recreate, before the renames).
 */
static int plan_thread_names(struct rw_plan *p, const struct rw_proc_image *img,
			     const struct rw_observed *obs)
{
	for (size_t i = 0; i < img->nthreads; i++) {
		const struct rw_thread_state *ts = &img->threads[i];
		pid_t from = ts->tid;
		const char *now;

		if (!ts->comm[0])
			continue;
		for (size_t k = 0; k < p->nrecreate; k++)
			if (p->recreate[k].tid == ts->tid)
				from = p->recreate[k].parent;
		now = comm_now(obs, from);
		if (now && !strcmp(now, ts->comm))
			continue;
		if (GROW(p->renames, p->nrenames))
			return -ENOMEM;
		p->renames[p->nrenames++] = ts->tid;
	}
	return 0;
}

/*
 * Signal masks: put back with the registers, but not on a thread that holds
 * its checkpoint's already (PTRACE_SETSIGMASK costs a syscall a thread).
 * Known only when the task iterator read them; a recreated thread starts
 * with its creator's.
 */
static int plan_thread_masks(struct rw_plan *p, const struct rw_proc_image *img,
			     const struct rw_observed *obs)
{
	for (size_t i = 0; i < obs->ntids && obs->blocked; i++) {
		const struct rw_thread_state *ts = image_thread(img, obs->tids[i]);

		if (!ts || obs->blocked[i] != ts->sigmask)
			continue;
		if (GROW(p->masks_held, p->nmasks_held))
			return -ENOMEM;
		p->masks_held[p->nmasks_held++] = ts->tid;
	}
	return 0;
}

bool plan_mask_held(const struct rw_plan *p, pid_t tid)
{
	for (size_t i = 0; i < p->nmasks_held; i++)
		if (p->masks_held[i] == tid)
			return true;
	return false;
}

static int add_fdop(struct rw_plan *p, enum rw_fd_kind kind, int fd, const struct rw_fd_image *want)
{
	if (GROW(p->fdops, p->nfdops))
		return -ENOMEM;
	p->fdops[p->nfdops++] = (struct rw_fd_op){ kind, fd, want };
	return 0;
}

static int plan_fds(struct rw_plan *p, const struct rw_proc_image *img, const struct rw_observed *obs)
{
	int err = 0;

	/* Closing first: an install may reuse a number a new file holds. */
	for (size_t i = 0; i < obs->nfds && !err; i++)
		if (!image_fd(img, obs->fds[i].fd))
			err = add_fdop(p, RW_FD_CLOSE, obs->fds[i].fd, NULL);
	for (size_t i = 0; i < img->nfds && !err; i++) {
		const struct rw_fd_image *want = &img->fds[i];
		const struct rw_fd_now *now = NULL;

		for (size_t k = 0; k < obs->nfds; k++)
			if (obs->fds[k].fd == want->fd)
				now = &obs->fds[k];
		if (!now || !now->same) {
			if (want->held < 0)
				err = fail(p, "fd %d (%s) of pid %d was %s and cannot be re-installed "
					   "(rewindd holds no sockets nor pipe write ends: their peers "
					   "would never see them closed)", want->fd, want->path, img->tgid,
					   now ? "replaced" : "closed");
			else
				err = add_fdop(p, RW_FD_INSTALL, want->fd, want);
			continue;
		}
		if (want->pos >= 0 && now->pos != want->pos)
			err = add_fdop(p, RW_FD_SEEK, want->fd, want);
		if (!err && now->status_flags != want->status_flags)
			err = add_fdop(p, RW_FD_SETFL, want->fd, want);
		if (!err && now->cloexec != want->cloexec)
			err = add_fdop(p, RW_FD_CLOEXEC, want->fd, want);
	}
	return err;
}

/*
 * A checkpoint thread in another namespace than then: put back with setns
 * into the held namespace where the kind allows it (the setns may still be
 * refused: the apply fails closed then); a user or time namespace fails
 * closed here. Re-entering a mount namespace resets cwd: it is set again.
 */
static int plan_namespaces(struct rw_plan *p, const struct rw_proc_image *img,
			   const struct rw_ident *was, const struct rw_ident *now)
{
	for (int k = 0; k < RW_NS__COUNT; k++) {
		int fd = image_ns_fd(img, k, was->ns[k]);

		if (was->ns[k] == now->ns[k])
			continue;
		if (fd < 0)
			return fail(p, "pid %d: thread %d: unshared or setns'd its %s namespace since "
				    "the checkpoint (inode %llu → %llu): cannot be restored from outside",
				    p->tgid, now->tid, rw_ns_names[k], (unsigned long long)was->ns[k],
				    (unsigned long long)now->ns[k]);
		if (GROW(p->setns, p->nsetns))
			return -ENOMEM;
		p->setns[p->nsetns++] = (struct rw_setns_op){ now->tid, k, fd };
		if (k == RW_NS_MNT)
			p->chdir = true;
	}
	return 0;
}

/*
 * Credentials and namespaces of every checkpoint thread still there (a new
 * thread exits anyway). Restoring credentials would take injected setres*id /
 * capset calls a dropped thread may no longer be allowed: a change fails
 * closed, naming it. Namespaces: see plan_namespaces().
 */
static int plan_idents(struct rw_plan *p, const struct rw_proc_image *img,
		       const struct rw_observed *obs)
{
	char what[160];
	int err = 0;

	if (obs->securebits_set)
		err = fail(p, "pid %d: securebits set since the checkpoint (PR_SET_SECUREBITS or "
			   "PR_SET_KEEPCAPS): cannot be restored from outside", p->tgid);
	/* The mount table is the namespace's, the root directory the process's: neither is modelled. */
	if (!err && obs->mounts_changed)
		err = fail(p, "pid %d: %s since the checkpoint changed its mount table or root "
			   "directory: cannot be restored from outside", p->tgid,
			   syscall_name(obs->mounts_changed));
	for (size_t i = 0; i < obs->nidents && !err; i++) {
		for (size_t k = 0; k < img->nidents; k++) {
			if (img->idents[k].tid != obs->idents[i].tid)
				continue;
			/* A new user namespace changes the capabilities too: name the cause. */
			if (img->idents[k].ns[RW_NS_USER] != obs->idents[i].ns[RW_NS_USER])
				err = plan_namespaces(p, img, &img->idents[k], &obs->idents[i]);
			else if (ident_compare_creds(&img->idents[k], &obs->idents[i], what,
						     sizeof(what)))
				err = fail(p, "pid %d: thread %d: %s: cannot be restored from outside",
					   p->tgid, obs->idents[i].tid, what);
			else
				err = plan_namespaces(p, img, &img->idents[k], &obs->idents[i]);
			break;
		}
	}
	return err;
}

static int plan_timers(struct rw_plan *p, const struct rw_proc_image *img,
		       const struct rw_observed *obs)
{
	if (!obs->timers_called && !obs->log_incomplete)
		return 0;
	p->timers = true;
	for (size_t i = 0; i < obs->ntimers; i++) {
		bool old = false;

		for (size_t k = 0; k < img->ntimers; k++)
			old |= img->timers[k].id == obs->timer_ids[i];
		if (old)
			continue;
		if (GROW(p->delete_timers, p->ndelete_timers))
			return -ENOMEM;
		p->delete_timers[p->ndelete_timers++] = obs->timer_ids[i];
	}
	for (size_t k = 0; k < img->ntimers; k++) {
		bool alive = false;

		for (size_t i = 0; i < obs->ntimers; i++)
			alive |= img->timers[k].id == obs->timer_ids[i];
		if (!alive)
			return fail(p, "POSIX timer %d of pid %d was deleted: it cannot be re-created "
				    "with its id", img->timers[k].id, img->tgid);
	}
	return 0;
}

/* Which private pages to restore: written ones, and whole ranges the tracking cannot vouch for. */
static int add_attrop(struct rw_plan *p, enum rw_attr_kind kind, pid_t tid, int resource)
{
	struct rw_attr_op *more = realloc(p->attrops, (p->nattrops + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	p->attrops = more;
	p->attrops[p->nattrops++] = (struct rw_attr_op){ .kind = kind, .tid = tid, .resource = resource };
	return 0;
}

/* Each rlimit and each attribute of a checkpoint thread that differs now (read only when logged). */
static int plan_attrs(struct rw_plan *p, const struct rw_proc_image *img,
		      const struct rw_observed *obs)
{
	static const enum rw_attr_kind per_thread[] = {
		RW_ATTR_SCHED, RW_ATTR_NICE, RW_ATTR_AFFINITY, RW_ATTR_IOPRIO,
	};
	int err = 0;

	if (!obs->attrs)
		return 0;
	for (int res = 0; res < RW_NRLIMITS && !err; res++)
		if (attrs_differ(RW_ATTR_RLIMIT, res, &img->attrs, NULL, obs->attrs, NULL))
			err = add_attrop(p, RW_ATTR_RLIMIT, img->tgid, res);
	for (size_t i = 0; i < img->attrs.nthreads && !err; i++) {
		const struct rw_thread_attrs *want = &img->attrs.threads[i];
		const struct rw_thread_attrs *now = attrs_thread(obs->attrs, want->tid);

		if (!now)
			continue;	/* a checkpoint thread gone: plan_threads failed the plan */
		for (size_t k = 0; k < sizeof(per_thread) / sizeof(per_thread[0]) && !err; k++)
			if (attrs_differ(per_thread[k], 0, &img->attrs, want, obs->attrs, now))
				err = add_attrop(p, per_thread[k], want->tid, 0);
	}
	return err;
}

static int plan_fail_msg(void *ctx, const char *msg)
{
	struct rw_plan *p = ctx;

	return fail(p, "pid %d: %s", p->tgid, msg);
}

/*
 * Personality, prctl state, sigaltstack and keyrings (read only when
 * logged); a logged prctl or keyctl no step undoes, or an add_key that
 * updated a key the checkpoint had, fails closed whatever the reads say.
 */
static int plan_pstate(struct rw_plan *p, const struct rw_proc_image *img,
		       const struct rw_observed *obs)
{
	int err = 0;

	if (obs->prctl_unhandled)
		err = fail(p, "pid %d: prctl option %llu used since the checkpoint: no rewind step "
			   "undoes it", p->tgid, (unsigned long long)obs->prctl_unhandled - 1);
	if (!err && obs->keyctl_unhandled)
		err = fail(p, "pid %d: keyctl operation %llu used since the checkpoint: keys "
			   "cannot be restored", p->tgid,
			   (unsigned long long)obs->keyctl_unhandled - 1);
	for (size_t i = 0; i < obs->nkeys_added && !err; i++)
		if (pstate_key_known(&img->pstate, obs->keys_added[i]))
			err = fail(p, "pid %d: key %d updated by add_key since the checkpoint: its "
				   "payload cannot be restored", p->tgid, obs->keys_added[i]);
	if (!err && obs->pstate)
		err = pstate_plan(&img->pstate, obs->pstate, &p->psops, &p->npsops, plan_fail_msg, p);
	return err;
}

static int plan_pages(struct rw_plan *p, const struct rw_proc_image *img,
		      const struct rw_observed *obs, struct rw_ranges *pages)
{
	struct rw_ranges touched = { 0 };
	int err = 0;

	for (size_t i = 0; i < obs->nlayout_touched && !err; i++)
		err = ranges_add(&touched, obs->layout_touched[i].start, obs->layout_touched[i].end);
	ranges_normalize(&touched);
	for (size_t i = 0; i < img->maps.n && !err; i++) {
		const struct rw_vma *v = &img->maps.v[i];
		struct rw_ranges unc = { 0 };
		bool writable = v->prot & PROT_WRITE;

		if (!vma_private(v))
			continue;
		/*
		 * Wipe-on-fork memory is dropped whole at every rewind, written
		 * or not: it reads zero after it, as in a forked child.
		 */
		if (v->wipeonfork) {
			p->wipe_pages += (v->end - v->start) / RW_PAGE_SIZE;
			err = ranges_add(pages, v->start, v->end);
			continue;
		}
		err = intersect_into(pages, obs->written, obs->nwritten, v->start, v->end);
		/* Read-only, and nothing below can add any of it (most of a library's vmas). */
		if (!writable && !obs->log_incomplete && !obs->memory_forced &&
		    !overlaps(touched.r, touched.n, v->start, v->end))
			continue;
		if (!err)
			err = subtract_into(&unc, v->start, v->end, obs->covered, obs->ncovered);
		for (size_t k = 0; k < unc.n && !err; k++) {
			uint64_t a = unc.r[k].start, e = unc.r[k].end;

			/*
			 * Writable and not write-protected: anything may have changed.
			 * Read-only: only if a layout call made it writable meanwhile,
			 * or a forced write (ptrace, /proc/PID/mem) went past its protection.
			 */
			if (writable || obs->log_incomplete || obs->memory_forced) {
				p->wholesale_pages += (e - a) / RW_PAGE_SIZE;
				err = ranges_add(pages, a, e);
			} else if (overlaps(touched.r, touched.n, a, e)) {
				struct rw_ranges part = { 0 };

				err = intersect_into(&part, touched.r, touched.n, a, e);
				for (size_t j = 0; j < part.n && !err; j++) {
					p->wholesale_pages += (part.r[j].end - part.r[j].start) /
							      RW_PAGE_SIZE;
					err = ranges_add(pages, part.r[j].start, part.r[j].end);
				}
				ranges_free(&part);
			}
		}
		ranges_free(&unc);
	}
	ranges_free(&touched);
	return err;
}

static int add_madvise(struct rw_plan *p, uint64_t start, uint64_t end, int advice)
{
	struct rw_layout_op op = { .kind = RW_LAYOUT_MADVISE, .start = start, .end = end,
				   .advice = advice };

	return add_layout(p, &op);
}

/*
 * The checkpoint's wipe-on-fork flags back, after the layout steps: a
 * wf mapping that a layout call touched or the plan maps again gets
 * MADV_WIPEONFORK (MADV_KEEPONFORK or a mapping over it clears the flag);
 * anonymous memory that was not wf gets MADV_KEEPONFORK where the log saw
 * something that can set it. Both are no-ops where the flag is already
 * right. A lost log redoes them all.
 */
static int plan_fork_flags(struct rw_plan *p, const struct rw_proc_image *img,
			   const struct rw_observed *obs, const struct rw_ranges *wholesale)
{
	struct rw_ranges set = { 0 };
	int err = 0;

	for (size_t i = 0; i < obs->nwipe_maybe_set && !err; i++)
		err = ranges_add(&set, obs->wipe_maybe_set[i].start, obs->wipe_maybe_set[i].end);
	ranges_normalize(&set);
	for (size_t i = 0; i < img->maps.n && !err; i++) {
		const struct rw_vma *v = &img->maps.v[i];

		if (!vma_private(v) || v->inode)
			continue;
		if (v->wipeonfork) {
			if (obs->log_incomplete ||
			    overlaps(obs->layout_touched, obs->nlayout_touched, v->start, v->end) ||
			    overlaps(wholesale->r, wholesale->n, v->start, v->end))
				err = add_madvise(p, v->start, v->end, MADV_WIPEONFORK);
		} else if (obs->log_incomplete) {
			err = add_madvise(p, v->start, v->end, MADV_KEEPONFORK);
		} else if (overlaps(set.r, set.n, v->start, v->end)) {
			struct rw_ranges part = { 0 };

			err = intersect_into(&part, set.r, set.n, v->start, v->end);
			for (size_t k = 0; k < part.n && !err; k++)
				err = add_madvise(p, part.r[k].start, part.r[k].end,
						  MADV_KEEPONFORK);
			ranges_free(&part);
		}
	}
	ranges_free(&set);
	return err;
}

static int add_shmop(struct rw_plan *p, enum rw_shm_kind kind, size_t obj, uint64_t start,
		     uint64_t end)
{
	if (GROW(p->shmops, p->nshmops))
		return -ENOMEM;
	p->shmops[p->nshmops++] = (struct rw_shm_op){ kind, obj, start, end };
	return 0;
}

/*
 * Shared memory objects (shmem.h): the pages that differ from the
 * checkpoint go back (stored ones written, the others punched out), then
 * the size. An object rewindd holds read-only cannot be written: a change
 * fails the plan.
 */
static int plan_shm(struct rw_plan *p, const struct rw_proc_image *img,
		    const struct rw_observed *obs)
{
	int err = 0;

	if (img->nshms && !obs->shm)
		return fail(p, "pid %d: its shared memory was not read: cannot tell what changed",
			    p->tgid);
	for (size_t i = 0; i < img->nshms && !err; i++) {
		const struct rw_shm_image *s = &img->shms[i];
		const struct rw_shm_now *now = &obs->shm[i];

		if (!now->ndiff && now->size == s->size)
			continue;
		if (!s->writable) {
			err = fail(p, "%s: shared memory changed since the checkpoint (size %llu, "
				   "was %llu; first difference at offset %#llx) and rewindd holds it "
				   "read-only: cannot be restored", s->what,
				   (unsigned long long)now->size, (unsigned long long)s->size,
				   (unsigned long long)now->first_byte);
			continue;
		}
		for (size_t k = 0; k < now->ndiff && !err; k++) {
			uint64_t cur = now->diff[k].start, end = now->diff[k].end;
			size_t n, first = shm_runs_in(s, cur, end, &n);

			p->shm_pages += (end - cur) / RW_PAGE_SIZE;
			for (size_t j = first; j < first + n && !err; j++) {
				uint64_t rs = s->runs[j].start;
				uint64_t re = rs + s->runs[j].npages * RW_PAGE_SIZE;

				if (rs > cur)
					err = add_shmop(p, RW_SHM_PUNCH, i, cur, rs);
				if (!err)
					err = add_shmop(p, RW_SHM_WRITE, i, rs > cur ? rs : cur,
							re < end ? re : end);
				cur = re;
			}
			if (!err && cur < end)
				err = add_shmop(p, RW_SHM_PUNCH, i, cur, end);
		}
		if (!err && now->size != s->size)
			err = add_shmop(p, RW_SHM_TRUNCATE, i, 0, s->size);
	}
	return err;
}

/* Lowest address from at on where both layouts leave len bytes free; 0 if none. */
static uint64_t find_hole(const struct rw_maps *a, const struct rw_maps *b, uint64_t len,
			  uint64_t at)
{
	const uint64_t top = 0x7ffffffff000ULL;	/* 47-bit user space */
	size_t i = 0, j = 0;

	/* Walk both (sorted) by start: the first vma starting past at + len leaves the hole. */
	while (i < a->n || j < b->n) {
		const struct rw_vma *v = j >= b->n || (i < a->n && a->v[i].start < b->v[j].start) ?
					 &a->v[i++] : &b->v[j++];

		if (v->start >= at + len)
			break;
		if (v->end > at)
			at = v->end;
	}
	return at + len <= top ? at : 0;
}

/*
 * Where remote.h's mappings go: past the first MiB, free in both layouts
 * and clear of our own mappings there (in neither layout list, and mapped
 * again where they were when changed). 0: none.
 */
static uint64_t hole_clear_of_ours(const struct rw_proc_image *img, const struct rw_maps *now)
{
	struct rw_tmaps t = image_tmaps(img);
	const struct rw_tmap *ours[] = { &t.store, &t.area };
	uint64_t at = 1ULL << 20, hole = 0;
	bool moved = true;

	/* Each pass that lands on one of ours moves past it: three passes are enough. */
	for (size_t pass = 0; moved && pass < 3; pass++) {
		hole = find_hole(&img->maps, now, RW_REMOTE_AREA, at);
		moved = false;
		for (size_t k = 0; hole && k < 2; k++) {
			uint64_t end = ours[k]->addr + ours[k]->len;

			if (ours[k]->addr && hole < end && ours[k]->addr < hole + RW_REMOTE_AREA) {
				at = end > at ? end : at;
				moved = true;
			}
		}
	}
	return moved ? 0 : hole;
}

int plan_build(const struct rw_proc_image *img, const struct rw_observed *obs,
	       struct rw_plan *plan)
{
	const struct rw_vma *heap0 = find_named(&img->maps, "[heap]"), *heap1;
	struct rw_ranges pages = { 0 }, wholesale = { 0 };
	struct rw_maps after = { 0 }, unmerged = { 0 };
	const struct rw_maps *now = obs->maps;
	uint64_t changed;
	bool split;
	int err;

	memset(plan, 0, sizeof(*plan));
	plan->tgid = img->tgid;
	err = plan_threads(plan, img, obs);
	/* A seal is for the life of the mapping: nothing unmaps or unseals it. */
	if (!err && obs->sealed)
		err = fail(plan, "pid %d: mseal at %#llx since the checkpoint: a sealed mapping can "
			   "be neither unsealed nor unmapped", plan->tgid,
			   (unsigned long long)obs->sealed - 1);
	if (err)
		goto out;
	err = proc_maps_unmerge_heap(&img->maps, obs->maps,
				     heap0 ? heap0->start : image_heap_base(img), &unmerged);
	if (err < 0)
		goto out;
	if (err)
		now = &unmerged;
	err = 0;
	heap1 = find_named(now, "[heap]");

	/* brk first: the kernel keeps the break, a mapping over the heap would not move it. */
	split = heap_split(now, heap1);
	if (obs->brk_called || obs->log_incomplete || !heap0 != !heap1 || split ||
	    (heap0 && (heap0->start != heap1->start || heap0->end != heap1->end))) {
		uint64_t keep = 0;

		plan->set_brk = true;
		plan->brk = img->brk;
		err = layout_after_brk(now, heap0, &after);
		if (err)
			goto out;
		/* What is still the checkpoint's heap vma: its start, up to the first vma's end. */
		if (heap0)
			keep = heap1 && heap1->start == heap0->start ?
			       (heap1->end < heap0->end ? heap1->end : heap0->end) : heap0->start;
		/*
		 * A heap that shrank below its checkpoint end and grew again
		 * during the invocation is two vmas: the regrown one was never
		 * registered for write protection and has its own anon_vma, so
		 * the kernel will not merge it back into the first, and
		 * growing the break over it would leave the layout split.
		 * Cutting the break back to the first vma's end drops it; the
		 * break then grows a fresh vma that merges once registered.
		 */
		if (heap0 && split)
			plan->brk_first = keep;
		brk_span(plan, now, heap0, keep);
		/* Memory the break grows back into is fresh: restore it whole. */
		if (heap0 && keep < heap0->end)
			err = ranges_add(&wholesale, keep, heap0->end);
	}
	if (!err)
		err = diff_layout(plan, &img->maps, plan->set_brk ? &after : now, &wholesale);
	if (!err)
		err = plan_fork_flags(plan, img, obs, &wholesale);
	if (!err)
		err = plan_pages(plan, img, obs, &pages);
	/*
	 * A recreated thread's rseq area: the kernel writes it after the
	 * registration, at that thread's next injection, possibly after the
	 * copy. Restored and write-protected again with the written pages, so
	 * that it does not stay writable with no write logged.
	 */
	for (size_t i = 0; i < plan->nrecreate && !err; i++) {
		const struct rw_thread_state *ts = image_thread(img, plan->recreate[i].tid);

		if (ts->rseq.ptr)
			err = ranges_add(&pages, ts->rseq.ptr & ~(RW_PAGE_SIZE - 1),
					 (ts->rseq.ptr + ts->rseq.len + RW_PAGE_SIZE - 1) &
					 ~(RW_PAGE_SIZE - 1));
	}
	for (size_t i = 0; i < wholesale.n && !err; i++) {
		plan->wholesale_pages += (wholesale.r[i].end - wholesale.r[i].start) / RW_PAGE_SIZE;
		err = ranges_add(&pages, wholesale.r[i].start, wholesale.r[i].end);
	}
	if (err)
		goto out;
	ranges_normalize(&pages);
	err = split_pages(plan, img, &pages);
	if (!err)
		err = plan_fds(plan, img, obs);
	if (err)
		goto out;
	plan->chdir = obs->cwd_dev != img->cwd_dev || obs->cwd_ino != img->cwd_ino;
	plan->umask = obs->umask != img->umask;
	/* Nothing takes a seccomp filter or no_new_privs away: fail closed, naming it. */
	if (!err && (obs->seccomp != img->seccomp || obs->seccomp_filters != img->seccomp_filters))
		err = fail(plan, "pid %d: seccomp changed since the checkpoint (mode %d, %d filter(s); "
			   "was mode %d, %d): a filter cannot be removed", plan->tgid, obs->seccomp,
			   obs->seccomp_filters, img->seccomp, img->seccomp_filters);
	if (!err && obs->no_new_privs != img->no_new_privs)
		err = fail(plan, "pid %d: no_new_privs set since the checkpoint: it cannot be cleared",
			   plan->tgid);
	if (!err)
		err = plan_idents(plan, img, obs);
	changed = (obs->sig_ignored ^ img->sig_ignored) | (obs->sig_caught ^ img->sig_caught);
	plan->sigactions = obs->sigactions_called | changed;
	if (changed || obs->log_incomplete)
		plan->sigactions = ~0ULL;
	for (int sig = 1; sig <= RW_NSIG; sig++)
		if (!image_sig_settable(sig))
			plan->sigactions &= ~(1ULL << (sig - 1));
	/* A signal raised during the invocation (an alarm that fired) must not be delivered after it. */
	plan->drain_signals = obs->sig_pending_shared & ~img->sig_pending_shared &
			      ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
	/*
	 * A new process group or session (setpgid, setsid) changes who a kill(-pgrp)
	 * or the terminal reaches; only the process (or its parent) may set it.
	 */
	if (!err && obs->pgid && (obs->pgid != img->pgid || obs->sid != img->sid))
		err = fail(plan, "pid %d: process group or session changed since the checkpoint "
			   "(pgid %d → %d, sid %d → %d): cannot be restored from outside", plan->tgid,
			   img->pgid, obs->pgid, img->sid, obs->sid);
	/* Membership sets the next invocation's limits; rewindd moves no process between cgroups. */
	if (!err && obs->cgroups && img->cgroups) {
		char what[512];

		if (*proc_cgroups_differ(img->cgroups, obs->cgroups, what, sizeof(what)))
			err = fail(plan, "pid %d: moved to another cgroup since the checkpoint (%s): "
				   "rewindd does not move it back", plan->tgid, what);
	}
	if (!err)
		err = plan_thread_signals(plan, img, obs);
	if (!err)
		err = plan_thread_rseq(plan, img, obs);
	if (!err)
		err = plan_thread_robust(plan, img, obs);
	if (!err)
		err = plan_timers(plan, img, obs);
	if (!err)
		err = plan_attrs(plan, img, obs);
	if (!err)
		err = plan_pstate(plan, img, obs);
	if (!err)
		err = plan_shm(plan, img, obs);
	if (!err)
		err = plan_recreated_steps(plan, img);
	if (!err)
		err = plan_thread_names(plan, img, obs);
	if (!err)
		err = plan_thread_masks(plan, img, obs);
	plan->hole = hole_clear_of_ours(img, obs->maps);
	plan->tmap = obs->tmap_intact ? img->tmap : 0;
	plan->tmap_remap = img->tmap && !obs->tmap_intact;
	plan->area = obs->area_intact ? img->area.at.addr : 0;
	plan->area_remap = img->area.at.addr && !obs->area_intact;
out:
	free(after.v);
	free(unmerged.v);
	ranges_free(&pages);
	ranges_free(&wholesale);
	if (err)
		plan_free(plan);
	return err;
}

void plan_free(struct rw_plan *p)
{
	for (size_t i = 0; i < p->nfailures; i++)
		free(p->failures[i]);
	free(p->failures);
	free(p->exit_threads);
	free(p->recreate);
	free(p->drain_threads);
	free(p->renames);
	free(p->masks_held);
	free(p->rseq_ops);
	free(p->robust_ops);
	free(p->layout);
	free(p->copy);
	free(p->fill);
	free(p->drop);
	free(p->fdops);
	free(p->delete_timers);
	free(p->attrops);
	free(p->psops);
	free(p->setns);
	free(p->shmops);
	memset(p, 0, sizeof(*p));
}

static const char *const layout_names[] = {
	[RW_LAYOUT_MUNMAP] = "munmap",
	[RW_LAYOUT_MAP_ANON] = "mmap-anon",
	[RW_LAYOUT_MAP_FILE] = "mmap-file",
	[RW_LAYOUT_MPROTECT] = "mprotect",
	[RW_LAYOUT_MADVISE] = "madvise",
};

static const char *const fd_names[] = {
	[RW_FD_CLOSE] = "close",
	[RW_FD_INSTALL] = "reinstall",
	[RW_FD_SEEK] = "seek",
	[RW_FD_SETFL] = "setfl",
	[RW_FD_CLOEXEC] = "cloexec",
};

static void add_step(json_object *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_step(json_object *arr, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_array_add(arr, json_object_new_string(buf));
}

json_object *plan_to_json(const struct rw_plan *p)
{
	json_object *o = json_object_new_object(), *steps = json_object_new_array();

	json_object_object_add(o, "pid", json_object_new_int(p->tgid));
	for (size_t i = 0; i < p->nexit; i++)
		add_step(steps, "exit thread %d", p->exit_threads[i]);
	for (size_t i = 0; i < p->nrecreate; i++)
		add_step(steps, "recreate thread %d (cloned in thread %d)", p->recreate[i].tid,
			 p->recreate[i].parent);
	if (p->set_brk && p->brk_first)
		add_step(steps, "brk %#llx", (unsigned long long)p->brk_first);
	if (p->set_brk)
		add_step(steps, "brk %#llx", (unsigned long long)p->brk);
	for (size_t i = 0; i < p->nlayout; i++)
		add_step(steps, "%s %#llx-%#llx%s", layout_names[p->layout[i].kind],
			 (unsigned long long)p->layout[i].start, (unsigned long long)p->layout[i].end,
			 p->layout[i].kind != RW_LAYOUT_MADVISE ? "" :
			 p->layout[i].advice == MADV_WIPEONFORK ? " wipeonfork" : " keeponfork");
	if (p->ncopy)
		add_step(steps, "copy %llu pages in %zu ranges", (unsigned long long)p->copy_pages,
			 p->ncopy);
	if (p->nfill)
		add_step(steps, "zero-fill %llu pages in %zu ranges", (unsigned long long)p->fill_pages,
			 p->nfill);
	if (p->ndrop)
		add_step(steps, "drop %llu pages in %zu ranges",
			 (unsigned long long)(p->drop_pages - p->fill_pages), p->ndrop);
	for (size_t i = 0; i < p->nfdops; i++)
		add_step(steps, "%s fd %d", fd_names[p->fdops[i].kind], p->fdops[i].fd);
	if (p->chdir)
		add_step(steps, "chdir");
	if (p->umask)
		add_step(steps, "umask");
	if (p->sigactions)
		add_step(steps, "sigactions %#llx", (unsigned long long)p->sigactions);
	for (size_t i = 0; i < p->ndelete_timers; i++)
		add_step(steps, "timer_delete %d", p->delete_timers[i]);
	if (p->timers)
		add_step(steps, "timers");
	for (size_t i = 0; i < p->nattrops; i++) {
		const struct rw_attr_op *a = &p->attrops[i];

		if (a->kind == RW_ATTR_RLIMIT)
			add_step(steps, "rlimit %s", attrs_rlimit_name(a->resource));
		else
			add_step(steps, "%s thread %d", attrs_kind_name(a->kind), a->tid);
	}
	for (size_t i = 0; i < p->nsetns; i++)
		add_step(steps, "thread %d back into its %s namespace", p->setns[i].tid,
			 rw_ns_names[p->setns[i].kind]);
	for (size_t i = 0; i < p->npsops; i++) {
		char what[96];

		pstate_op_describe(&p->psops[i], what, sizeof(what));
		add_step(steps, "%s", what);
	}
	for (size_t i = 0; i < p->nshmops; i++) {
		const struct rw_shm_op *o = &p->shmops[i];

		if (o->kind == RW_SHM_TRUNCATE)
			add_step(steps, "shm %zu truncate %llu", o->obj, (unsigned long long)o->end);
		else
			add_step(steps, "shm %zu %s %#llx-%#llx", o->obj,
				 o->kind == RW_SHM_WRITE ? "write" : "punch",
				 (unsigned long long)o->start, (unsigned long long)o->end);
	}
	if (p->drain_signals)
		add_step(steps, "dequeue pending signals %#llx", (unsigned long long)p->drain_signals);
	for (size_t i = 0; i < p->ndrain_threads; i++)
		add_step(steps, "dequeue signals %#llx of thread %d",
			 (unsigned long long)p->drain_threads[i].set, p->drain_threads[i].tid);
	for (size_t i = 0; i < p->nrenames; i++)
		add_step(steps, "name of thread %d", p->renames[i]);
	for (size_t i = 0; i < p->nrseq_ops; i++)
		add_step(steps, "rseq of thread %d: %#llx+%u, was %#llx+%u", p->rseq_ops[i].tid,
			 (unsigned long long)p->rseq_ops[i].want.ptr, p->rseq_ops[i].want.len,
			 (unsigned long long)p->rseq_ops[i].now.ptr, p->rseq_ops[i].now.len);
	for (size_t i = 0; i < p->nrobust_ops; i++)
		add_step(steps, "robust list of thread %d: %#llx+%llu", p->robust_ops[i].tid,
			 (unsigned long long)p->robust_ops[i].want.head,
			 (unsigned long long)p->robust_ops[i].want.len);
	json_object_object_add(o, "steps", steps);
	json_object_object_add(o, "pages_copied", json_object_new_int64(p->copy_pages));
	json_object_object_add(o, "pages_dropped", json_object_new_int64(p->drop_pages));
	json_object_object_add(o, "pages_zero_filled", json_object_new_int64(p->fill_pages));
	json_object_object_add(o, "pages_wholesale", json_object_new_int64(p->wholesale_pages));
	json_object_object_add(o, "pages_wiped", json_object_new_int64(p->wipe_pages));
	json_object_object_add(o, "shm_pages", json_object_new_int64(p->shm_pages));
	return o;
}
