// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "pagestore: "
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include "clock.h"
#include "image.h"
#include "log.h"
#include "pagemap.h"
#include "pagepack.h"
#include "pagestore.h"

/* One stored page: its content's hash, who uses it, and its bucket chain. */
struct rw_pageent {
	XXH128_hash_t h;
	struct rw_pageent *next;
	struct rw_pageseg *seg;
	/* Held packed (pagepack.h): a hole in the segment's memfd. */
	uint8_t *packed;
	uint32_t refs;			/* 0: a hole (never held, or freed) */
	uint32_t domain;		/* pages are shared within a domain only */
};

struct rw_pageseg {
	const uint8_t *base;
	/*
	 * Ours, writable: packed pages are unpacked into it (the memfd's seal
	 * refuses new writable mappings, not this one).
	 */
	uint8_t *wbase;
	size_t npages;
	uint64_t resident;		/* pages that hold content */
	uint64_t live;			/* of those, pages still used */
	uint64_t packed;		/* of those, pages held packed */
	/* Pages wait to be packed from page pack_next on (an image's own segment). */
	bool packing;
	size_t pack_next;
	/*
	 * While packing: each page's packed form, made aside (the store stays
	 * whole, sealed and mapped in the target until the swap), and whether
	 * a rewind used the page since the checkpoint (kept whole then).
	 */
	struct rw_pageaside {
		uint8_t *packed;
		bool used;
		bool copied;		/* written whole into the store being swapped in */
	} *aside;
	/*
	 * The swap under way: the new store (fd, our writable mapping), its
	 * whole pages copied into it from copy_next on, by the worker.
	 */
	bool copying;
	size_t copy_next;
	int swap_fd;
	uint8_t *swap_map;
	uint64_t swap_pages;		/* pages copied so far */
	bool used;			/* a rewind of its image used some of its pages since the checkpoint */
	/* Packed, swapped in once a rewind used it (the pages it used then stay whole). */
	bool swap_due;
	/* Pages of the store the swap replaced that the target still maps (until its next rewind). */
	uint64_t superseded;
	uint64_t id;			/* names it to the packer's results */
	struct rw_pageent *ents;	/* [npages]: the page at base + i pages */
	struct rw_pagestore *ps;
	/*
	 * The image whose store it is (the image maps, unmaps and closes it);
	 * NULL for a segment of ours, made by compaction.
	 */
	struct rw_proc_image *owner;
	int fd;				/* ours only */
	bool touched;
	struct rw_pageseg *next;
};

struct rw_pagestore {
	uint64_t limit;
	bool share, pack;
	/* Secret: no one can make pages that all land in one bucket (every user's lookups slow). */
	uint64_t seed;
	struct rw_pageent **buckets;
	size_t nbuckets, nents;
	struct rw_pageseg *segs;
	struct rw_proc_image **imgs;	/* adopted, for compaction to move their runs */
	size_t nimgs, capimgs;
	uint64_t resident;		/* pages, over every segment */
	uint64_t packed, packed_bytes;	/* of those, held packed, and the memory that takes */
	uint64_t aside_bytes;		/* packed forms made aside, not swapped in yet */
	uint64_t superseded;		/* pages of replaced stores their targets still map */
	uint64_t swap_pages;		/* pages copied into stores being swapped in */
	size_t nmarking;		/* segments with an aside (image_need_pages marks use) */
	size_t nswap_due;
	uint64_t refused_in_use, refused_needed;
	uint8_t scratch[RW_PAGE_SIZE];	/* a packed page unpacked to be compared */
	struct rw_packer *packer;	/* the background worker (NULL: packed only when asked) */
	uint64_t next_seg_id;
	uint8_t *packbuf;		/* RW_PACK_JOB pages read to be packed here */
	struct rw_pack_ctx *pack_ctx;	/* for packing here */
};

#define PAGE		RW_PAGE_SIZE
#define FIRST_BUCKETS	4096
/* Pages staged at once while adopting (read from the target, hashed, written if new). */
#define ADOPT_BATCH	128

struct rw_pagestore *pagestore_new(uint64_t max_bytes, bool share, bool pack)
{
	struct rw_pagestore *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->buckets = calloc(FIRST_BUCKETS, sizeof(*ps->buckets));
	if (!ps->buckets) {
		free(ps);
		return NULL;
	}
	ps->nbuckets = FIRST_BUCKETS;
	if (getrandom(&ps->seed, sizeof(ps->seed), 0) != sizeof(ps->seed))
		ps->seed = rw_now_ns();	/* no entropy yet: a seed no client sees, if a guessable one */
	ps->limit = max_bytes;
	ps->share = share;
	ps->pack = pack;
	if (pack && !(ps->pack_ctx = pagepack_ctx())) {
		pagestore_free(ps);
		return NULL;
	}
	return ps;
}

static void unpacked(struct rw_pageent *e)
{
	struct rw_pagestore *ps = e->seg->ps;

	ps->packed--;
	ps->packed_bytes -= pagepack_cost(e->packed);
	e->seg->packed--;
	free(e->packed);
	e->packed = NULL;
}

/* A swap under way ends: its new store goes (it was not made the image's). */
static void swap_drop(struct rw_pageseg *seg)
{
	if (!seg->copying)
		return;
	munmap(seg->swap_map, seg->npages * PAGE);
	close(seg->swap_fd);
	seg->ps->swap_pages -= seg->swap_pages;
	seg->swap_pages = 0;
	seg->copying = false;
}

/* The packed forms made aside go (packing stopped, or swapped in), and a swap under way. */
static void aside_free(struct rw_pageseg *seg)
{
	struct rw_pagestore *ps = seg->ps;

	swap_drop(seg);
	if (!seg->aside)
		return;
	for (size_t i = 0; i < seg->npages; i++)
		if (seg->aside[i].packed) {
			ps->aside_bytes -= pagepack_cost(seg->aside[i].packed);
			free(seg->aside[i].packed);
		}
	free(seg->aside);
	seg->aside = NULL;
	ps->nmarking--;
	ps->nswap_due -= seg->swap_due;
	seg->swap_due = false;
}

static void seg_destroy(struct rw_pagestore *ps, struct rw_pageseg *seg)
{
	for (struct rw_pageseg **p = &ps->segs; *p; p = &(*p)->next)
		if (*p == seg) {
			*p = seg->next;
			break;
		}
	ps->resident -= seg->resident;
	for (size_t i = 0; seg->packed && i < seg->npages; i++)
		if (seg->ents[i].packed)
			unpacked(&seg->ents[i]);
	aside_free(seg);
	ps->superseded -= seg->superseded;
	if (seg->fd >= 0) {
		munmap((void *)seg->base, seg->npages * PAGE);
		if (seg->wbase && seg->wbase != seg->base)
			munmap(seg->wbase, seg->npages * PAGE);
		close(seg->fd);
	}
	free(seg->ents);
	free(seg);
}

void pagestore_free(struct rw_pagestore *ps)
{
	if (!ps)
		return;
	while (ps->segs)
		seg_destroy(ps, ps->segs);
	packer_stop(ps->packer);
	free(ps->buckets);
	free(ps->imgs);
	free(ps->packbuf);
	pagepack_ctx_free(ps->pack_ctx);
	free(ps);
}

bool pagestore_sharing(const struct rw_pagestore *ps)
{
	return ps->share;
}

uint64_t pagestore_packed(const struct rw_pagestore *ps)
{
	return ps->packed;
}

bool pagestore_stages(const struct rw_pagestore *ps)
{
	return ps->share || ps->pack;
}

bool pageseg_packed_any(const struct rw_pageseg *seg, size_t first, size_t n)
{
	if (!seg->packed)
		return false;
	for (size_t i = first; i < first + n && i < seg->npages; i++)
		if (seg->ents[i].packed)
			return true;
	return false;
}

int pageseg_need(struct rw_pageseg *seg, size_t first, size_t n, bool owner)
{
	for (size_t i = first; seg->aside && i < first + n && i < seg->npages; i++)
		seg->aside[i].used = true;
	/* Another image's rewind does not make the swap due: it would not replace this target's mapping. */
	seg->used |= owner && seg->aside;
	for (size_t i = first; seg->packed && i < first + n && i < seg->npages; i++) {
		struct rw_pageent *e = &seg->ents[i];
		int err;

		if (!e->packed)
			continue;
		err = pagepack_unpack(e->packed, seg->wbase + i * PAGE);
		if (err) {
			pr_err("page %zu of a store segment: packed, and does not unpack to a page\n",
			       i);
			return err;
		}
		unpacked(e);
	}
	return 0;
}

/* A page of the segment packing can take: held here, as it is, not packed aside yet nor used. */
static bool pack_candidate(const struct rw_pageseg *seg, size_t i)
{
	const struct rw_pageaside *a = &seg->aside[i];

	return seg->ents[i].refs && !seg->ents[i].packed && !a->packed && !a->used;
}

/* Whether the swap copies page i of seg into the new store: held here, and packed only aside if used. */
static bool copy_whole(const struct rw_pageseg *seg, size_t i)
{
	const struct rw_pageaside *a = &seg->aside[i];

	return seg->ents[i].refs && !a->copied && (!a->packed || a->used);
}

/*
 * The next run of seg's pages that take (at most RW_PACK_JOB, from *next
 * on, which moves past those that do not): its length, 0 at the end.
 */
static size_t next_span(const struct rw_pageseg *seg, size_t *next,
			bool (*take)(const struct rw_pageseg *seg, size_t i))
{
	size_t n = 0;

	while (*next < seg->npages && !take(seg, *next))
		(*next)++;
	while (n < RW_PACK_JOB && *next + n < seg->npages && take(seg, *next + n))
		n++;
	return n;
}

/* The swap's next run to copy: a page a rewind uses once its place is passed stays packed. */
static size_t copy_span(struct rw_pageseg *seg)
{
	return next_span(seg, &seg->copy_next, copy_whole);
}

static void swap_copied(struct rw_pageseg *seg, size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++)
		seg->aside[i].copied = true;
	seg->swap_pages += n;
	seg->ps->swap_pages += n;
	seg->copy_next = first + n;
}

/*
 * The swap's end: the new store, whole where copied and a hole where held
 * packed, becomes the image's. The old store goes with our mapping of it,
 * or, mapped in the target, at its next rewind (image.h). -errno: not.
 */
static int swap_finish(struct rw_pagestore *ps, struct rw_pageseg *seg)
{
	struct rw_proc_image *img = seg->owner;
	uint64_t packed = 0;
	int err;

	/* Every page held is now copied whole or packed aside. */
	for (size_t i = 0; i < seg->npages; i++)
		if (seg->ents[i].refs && !seg->aside[i].copied && !seg->aside[i].packed)
			return -EIO;
	err = image_replace_store(img, seg->swap_fd, seg->swap_map);
	if (err)
		return err;
	/* Nothing can fail from here: the image's store now, its pages ours to count. */
	seg->copying = false;
	ps->swap_pages -= seg->swap_pages;
	seg->swap_pages = 0;
	if (img->tmap_superseded) {
		seg->superseded = seg->resident - seg->packed;
		ps->superseded += seg->superseded;
	}
	seg->base = seg->wbase = seg->swap_map;
	for (size_t i = 0; i < seg->npages; i++) {
		struct rw_pageaside *a = &seg->aside[i];

		if (!a->packed || a->copied || !seg->ents[i].refs)
			continue;
		ps->aside_bytes -= pagepack_cost(a->packed);
		ps->packed_bytes += pagepack_cost(a->packed);
		seg->ents[i].packed = a->packed;
		a->packed = NULL;
		packed++;
	}
	seg->packed += packed;
	ps->packed += packed;
	img->store_holes = seg->npages - (seg->resident - seg->packed);
	pr_debug("pid %d: store packed: %llu of its %llu pages, swapped in\n", img->tgid,
		 (unsigned long long)packed, (unsigned long long)seg->resident);
	aside_free(seg);
	return 0;
}

/* The swap failed: the store stays whole, the packed forms go. */
static void swap_failed(struct rw_pageseg *seg, int err)
{
	pr_warn("pid %d: swapping in its packed store: %s: it stays whole\n", seg->owner->tgid,
		strerror(-err));
	aside_free(seg);
}

/* The swap's next run copied here, on our thread (or finished). */
static void copy_here(struct rw_pagestore *ps, struct rw_pageseg *seg)
{
	size_t n = copy_span(seg), first = seg->copy_next, done = 0;
	int err = 0;

	if (!n) {
		err = swap_finish(ps, seg);
		if (err)
			swap_failed(seg, err);
		return;
	}
	while (!err && done < n * PAGE) {
		ssize_t w = pwrite(seg->swap_fd, seg->base + first * PAGE + done, n * PAGE - done,
				   first * PAGE + done);

		err = w > 0 ? 0 : w < 0 ? -errno : -EIO;
		done += w > 0 ? (size_t)w : 0;
	}
	if (err)
		swap_failed(seg, err);
	else
		swap_copied(seg, first, n);
}

/*
 * The swap begins: a new store for seg's image, to hold whole the pages
 * that did not pack and those rewinds used since the checkpoint (its
 * working set); the rest will be holes, held packed. The worker copies
 * the whole ones (the caller posts: pack_post): the daemon's thread only
 * makes the store and ends the swap (measured on the daemon's thread: 3.7-
 * 5.8 ms for a Node function's ~2,500 whole pages). Nothing to gain (the
 * pages did not pack, or rewinds use them all): the store stays.
 */
static void swap_now(struct rw_pageseg *seg)
{
	size_t bytes = seg->npages * PAGE, gain = 0;
	int fd;

	/* Begun once: a second start would leave what the first copied out of the new store. */
	if (seg->copying)
		return;
	if (seg->swap_due) {
		seg->swap_due = false;
		seg->ps->nswap_due--;
	}
	for (size_t i = 0; seg->aside && i < seg->npages; i++)
		gain += seg->aside[i].packed && !seg->aside[i].used;
	if (!gain) {
		aside_free(seg);
		return;
	}
	fd = memfd_create("rewindd-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, bytes) ||
	    (seg->swap_map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
		    MAP_FAILED) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		swap_failed(seg, err);
		return;
	}
	seg->swap_fd = fd;
	seg->copying = true;
	seg->copy_next = 0;
}

/*
 * Every page of seg looked at. Swapped in now if a rewind used it since
 * the checkpoint, else after the first one does (pagestore_swap_ready):
 * the pages that rewind uses stay whole, where swapping before it would
 * have it unpack them (the working set: ~10 ms for a Node function).
 */
static void pack_done(struct rw_pageseg *seg)
{
	seg->packing = false;
	if (seg->used || !seg->aside) {
		swap_now(seg);
		return;
	}
	seg->swap_due = true;
	seg->ps->nswap_due++;
}

/*
 * The n pages of seg from page first on, as packed (len[k] bytes at
 * data[k]; 0: it did not pack): those that packed and are still to be
 * packed are held aside until the swap. -ENOMEM: some are not.
 */
static int pack_commit(struct rw_pagestore *ps, struct rw_pageseg *seg, size_t first, size_t n,
		       const uint16_t *len, const uint8_t *const *data)
{
	int err = 0;

	for (size_t k = 0; k < n; k++) {
		uint8_t *p;

		if (!len[k] || !pack_candidate(seg, first + k))
			continue;
		p = pagepack_block(data[k], len[k]);
		if (!p) {
			err = -ENOMEM;
			continue;
		}
		seg->aside[first + k].packed = p;
		ps->aside_bytes += pagepack_cost(p);
	}
	return err;
}

/* The next run of seg's pages to pack. */
static size_t pack_span(struct rw_pageseg *seg)
{
	return next_span(seg, &seg->pack_next, pack_candidate);
}

/* The pages of seg from pack_next on packed here, or their packed[] committed: on, or done. */
static void pack_advance(struct rw_pageseg *seg, size_t n, int err)
{
	seg->pack_next += n;
	if (err)
		pr_warn("pid %d: packing its store: %s: the rest stays unpacked\n",
			seg->owner->tgid, strerror(-err));
	if (err || seg->pack_next >= seg->npages)
		pack_done(seg);
}

/* Pack the next span of seg here, on our thread. */
static void pack_here(struct rw_pagestore *ps, struct rw_pageseg *seg)
{
	size_t n = pack_span(seg), first = seg->pack_next;
	const uint8_t *data[RW_PACK_JOB];
	uint16_t len[RW_PACK_JOB];
	ssize_t got;
	int err;

	if (!n) {
		pack_done(seg);
		return;
	}
	if (!ps->packbuf && !(ps->packbuf = malloc(RW_PACK_JOB * (PAGE + RW_PACK_MAX)))) {
		pack_advance(seg, 0, -ENOMEM);
		return;
	}
	got = pread(seg->owner->store_fd, ps->packbuf, n * PAGE, first * PAGE);
	err = got == (ssize_t)(n * PAGE) ? 0 : got < 0 ? -errno : -EIO;
	for (size_t k = 0; k < n && !err; k++) {
		uint8_t *out = ps->packbuf + RW_PACK_JOB * PAGE + k * RW_PACK_MAX;

		data[k] = out;
		len[k] = pagepack_into(ps->pack_ctx, ps->packbuf + k * PAGE, out);
	}
	if (!err)
		err = pack_commit(ps, seg, first, n, len, data);
	pack_advance(seg, n, err);
}

/* The first segment with work for the worker: pages to pack, or a swap's to copy. */
static struct rw_pageseg *first_busy(const struct rw_pagestore *ps)
{
	for (struct rw_pageseg *seg = ps->segs; seg; seg = seg->next)
		if (seg->packing || seg->copying)
			return seg;
	return NULL;
}

/* The next step of seg's work, here, on our thread. */
static void work_here(struct rw_pagestore *ps, struct rw_pageseg *seg)
{
	if (seg->packing)
		pack_here(ps, seg);
	else
		copy_here(ps, seg);
}

/* Give the worker its next job, if it is free and there is one. */
static void pack_post(struct rw_pagestore *ps)
{
	struct rw_pageseg *seg;

	while (ps->packer && !packer_busy(ps->packer) && (seg = first_busy(ps))) {
		size_t n = seg->packing ? pack_span(seg) : copy_span(seg);
		int err;

		if (!n) {
			work_here(ps, seg);	/* done: packing ends, or the swap */
			continue;
		}
		err = seg->packing ?
			      packer_post(ps->packer, seg->owner->store_fd, seg->pack_next, n,
					  seg->id) :
			      packer_post_copy(ps->packer, seg->owner->store_fd, seg->swap_fd,
					       seg->copy_next, n, seg->id);
		if (!err)
			return;
		pr_debug("posting a job to the packer: %s: done here\n", strerror(-err));
		work_here(ps, seg);
	}
}

int pagestore_packer_start(struct rw_pagestore *ps)
{
	if (!ps->pack)
		return -ENOENT;
	if (!ps->packer && !(ps->packer = packer_start()))
		return -errno;
	return packer_fd(ps->packer);
}

void pagestore_packer_collect(struct rw_pagestore *ps)
{
	struct rw_pack_result res;
	struct rw_pageseg *seg;

	if (!ps->packer || !packer_take(ps->packer, &res))
		return;
	for (seg = ps->segs; seg && seg->id != res.tag; seg = seg->next)
		;
	/* Its image gone, or packed or copied here meanwhile (status): the result is stale. */
	if (seg && seg->packing && seg->pack_next == res.first) {
		if (!res.err)
			res.err = pack_commit(ps, seg, res.first, res.n, res.len, res.data);
		pack_advance(seg, res.n, res.err);
	} else if (seg && seg->copying && seg->copy_next == res.first) {
		if (res.err)
			swap_failed(seg, res.err);
		else
			swap_copied(seg, res.first, res.n);
	}
	pack_post(ps);
}

void pagestore_packer_hold(struct rw_pagestore *ps, bool busy)
{
	if (ps->packer)
		packer_hold(ps->packer, busy);
}

bool pagestore_pack_pending(const struct rw_pagestore *ps)
{
	return first_busy(ps) != NULL;
}

/* Swap in the packed stores waiting for a rewind, those a rewind used since, or all. */
static void swap_due(struct rw_pagestore *ps, bool all)
{
	for (struct rw_pageseg *seg = ps->segs; seg && ps->nswap_due; seg = seg->next)
		if (seg->swap_due && (seg->used || all))
			swap_now(seg);
}

void pagestore_swap_ready(struct rw_pagestore *ps)
{
	if (!ps->nswap_due)
		return;
	swap_due(ps, false);
	pack_post(ps);
}

void pagestore_pack_all(struct rw_pagestore *ps)
{
	struct rw_pageseg *seg;

	/* A job under way is stale once its pages are packed or copied here. */
	do {
		while ((seg = first_busy(ps)))
			work_here(ps, seg);
		swap_due(ps, true);
	} while (first_busy(ps));
}

bool pagestore_packing(const struct rw_proc_image *img)
{
	return img->own && img->own->packing;
}

bool pagestore_marks_use(const struct rw_pagestore *ps)
{
	return ps->packed || ps->nmarking;
}

void pagestore_superseded_gone(struct rw_proc_image *img)
{
	struct rw_pageseg *own = img->own;

	if (own) {
		own->ps->superseded -= own->superseded;
		own->superseded = 0;
	}
}

int pageseg_read(const struct rw_pageseg *seg, size_t first, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct rw_pageent *e = &seg->ents[first + i];

		if (!e->packed)
			memcpy(out + i * PAGE, seg->base + (first + i) * PAGE, PAGE);
		else if (pagepack_unpack(e->packed, out + i * PAGE))
			return -EIO;
	}
	return 0;
}

const uint8_t *pageseg_base(const struct rw_pageseg *seg)
{
	return seg->base;
}

static const uint8_t *ent_data(const struct rw_pageent *e)
{
	return e->seg->base + (size_t)(e - e->seg->ents) * PAGE;
}

static struct rw_pageent **bucket(struct rw_pagestore *ps, XXH128_hash_t h)
{
	return &ps->buckets[h.low64 & (ps->nbuckets - 1)];
}

/* More buckets as entries come (one a page on average); without memory, longer chains. */
static void grow_buckets(struct rw_pagestore *ps)
{
	size_t n = ps->nbuckets * 2;
	struct rw_pageent **b;

	if (ps->nents < ps->nbuckets)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < ps->nbuckets; i++)
		for (struct rw_pageent *e = ps->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->h.low64 & (n - 1)];
			b[e->h.low64 & (n - 1)] = e;
		}
	free(ps->buckets);
	ps->buckets = b;
	ps->nbuckets = n;
}

static void insert(struct rw_pagestore *ps, struct rw_pageent *e)
{
	struct rw_pageent **b = bucket(ps, e->h);

	e->next = *b;
	*b = e;
	ps->nents++;
}

static void unlink_ent(struct rw_pagestore *ps, struct rw_pageent *e)
{
	for (struct rw_pageent **p = bucket(ps, e->h); *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			ps->nents--;
			return;
		}
}

/*
 * Pages of the image being adopted that are still in the staging buffer
 * (not written to its store yet): [lo, hi) of its own segment, at buf.
 */
struct pending {
	const struct rw_pageseg *own;
	size_t lo, hi;
	const uint8_t *buf;
};

/* The page's bytes; NULL: a packed page that does not unpack (shared with nothing). */
static const uint8_t *ent_bytes(struct rw_pagestore *ps, const struct rw_pageent *e,
				const struct pending *pend)
{
	size_t i = (size_t)(e - e->seg->ents);

	if (e->packed)
		return pagepack_unpack(e->packed, ps->scratch) ? NULL : ps->scratch;
	if (pend && e->seg == pend->own && i >= pend->lo && i < pend->hi)
		return pend->buf + (i - pend->lo) * PAGE;
	return ent_data(e);
}

/* The stored page of that content in the domain: the hash finds it, the bytes decide. */
static struct rw_pageent *find(struct rw_pagestore *ps, XXH128_hash_t h, uint32_t domain,
			       const uint8_t *page, const struct pending *pend)
{
	for (struct rw_pageent *e = *bucket(ps, h); e; e = e->next) {
		const uint8_t *bytes;

		if (XXH128_isEqual(e->h, h) && e->domain == domain &&
		    (bytes = ent_bytes(ps, e, pend)) && !memcmp(bytes, page, PAGE))
			return e;
	}
	return NULL;
}

static int add_image(struct rw_pagestore *ps, struct rw_proc_image *img)
{
	if (ps->nimgs == ps->capimgs) {
		size_t cap = ps->capimgs ? 2 * ps->capimgs : 16;
		struct rw_proc_image **more = realloc(ps->imgs, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		ps->imgs = more;
		ps->capimgs = cap;
	}
	ps->imgs[ps->nimgs++] = img;
	return 0;
}

static void remove_image(struct rw_pagestore *ps, const struct rw_proc_image *img)
{
	for (size_t i = 0; i < ps->nimgs; i++)
		if (ps->imgs[i] == img) {
			ps->imgs[i] = ps->imgs[--ps->nimgs];
			return;
		}
}

/* The runs of pages that use[] says, merged where store and addresses both follow on. */
static int rewrite_runs(struct rw_proc_image *img, struct rw_pageseg *own,
			struct rw_pageent *const *use)
{
	struct rw_page_run *out = malloc((img->pages_stored ? img->pages_stored : 1) * sizeof(*out));
	size_t n = 0, i = 0;

	if (!out)
		return -ENOMEM;
	for (size_t r = 0; r < img->nruns; r++)
		for (uint64_t k = 0; k < img->runs[r].npages; k++, i++) {
			const struct rw_pageent *e = use[i];
			struct rw_pageseg *seg = e == &own->ents[i] ? NULL : e->seg;
			uint64_t start = img->runs[r].start + k * PAGE;
			uint64_t off = (uint64_t)(e - e->seg->ents) * PAGE;
			struct rw_page_run *last = n ? &out[n - 1] : NULL;

			if (last && last->seg == seg && last->start + last->npages * PAGE == start &&
			    last->off + last->npages * PAGE == off) {
				last->npages++;
				continue;
			}
			out[n++] = (struct rw_page_run){ .start = start, .npages = 1, .off = off,
							  .seg = seg };
		}
	free(img->runs);
	img->runs = out;
	img->nruns = n;
	return 0;
}

/* Write the staged pages [from, to) of the store (staged from first) into it. */
static int write_staged(const struct rw_proc_image *img, const uint8_t *buf, size_t first,
			size_t from, size_t to)
{
	size_t done = 0, len = (to - from) * PAGE;

	while (done < len) {
		ssize_t n = pwrite(img->store_fd, buf + (from - first) * PAGE + done, len - done,
				   from * PAGE + done);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

int pagestore_adopt(struct rw_pagestore *ps, struct rw_proc_image *img, uint32_t domain,
		    rw_page_reader read, void *ctx)
{
	size_t npages = img->store_len / PAGE;
	struct rw_pageent **use = NULL;
	uint8_t *buf = NULL;
	struct rw_pageseg *own;
	int err = -ENOMEM;
	size_t i = 0;

	own = calloc(1, sizeof(*own));
	if (!own)
		return -ENOMEM;
	own->ents = calloc(npages ? npages : 1, sizeof(*own->ents));
	use = calloc(npages ? npages : 1, sizeof(*use));
	if (read)
		buf = malloc(ADOPT_BATCH * PAGE);
	if (!own->ents || !use || (read && !buf) || add_image(ps, img))
		goto fail;
	own->base = img->store;
	own->wbase = (uint8_t *)img->store;	/* store_create maps it writable */
	own->ps = ps;
	own->npages = npages;
	own->owner = img;
	own->fd = -1;
	/*
	 * The store holds the runs one after the other: page i of the store
	 * is the i-th stored. With a reader, pages come through a small
	 * staging buffer and only those no one holds are written to the store
	 * (the rest stay holes); without, they are in the store already.
	 */
	while (i < npages) {
		size_t n = npages - i < ADOPT_BATCH ? npages - i : ADOPT_BATCH, wfrom = i;
		struct pending pend = { own, i, i, buf };

		if (read) {
			err = read(ctx, i, n, buf);
			if (err)
				goto undo;
		}
		for (size_t k = 0; k < n; k++, i++) {
			const uint8_t *page = read ? buf + k * PAGE : img->store + i * PAGE;
			/* Without sharing no one looks a page up: not hashed (a checkpoint as before). */
			XXH128_hash_t h = ps->share ? XXH3_128bits_withSeed(page, PAGE, ps->seed) :
						      (XXH128_hash_t){ i, 0 };
			struct rw_pageent *e;

			pend.hi = i;	/* the batch's pages before this one: compared in buf */
			e = ps->share ? find(ps, h, domain, page, read ? &pend : NULL) : NULL;
			if (e) {
				/* The staged run before it goes to the store now (before a reference is taken). */
				if (read && wfrom < i) {
					err = write_staged(img, buf, pend.lo, wfrom, i);
					if (err)
						goto undo;
				}
				e->refs++;
				use[i] = e;
				wfrom = i + 1;
				continue;
			}
			e = &own->ents[i];
			*e = (struct rw_pageent){ .h = h, .seg = own, .refs = 1, .domain = domain };
			if (ps->share)
				insert(ps, e);
			use[i] = e;
			own->resident++;
		}
		if (read && wfrom < i) {
			err = write_staged(img, buf, pend.lo, wfrom, i);
			if (err)
				goto undo;
		}
		/* Chains stay short while a large image comes in. */
		grow_buckets(ps);
	}
	if (ps->limit && (ps->resident + own->resident) * PAGE > ps->limit) {
		ps->refused_in_use = ps->resident * PAGE;
		ps->refused_needed = own->resident * PAGE;
		err = -EDQUOT;
		goto undo;
	}
	err = rewrite_runs(img, own, use);
	if (err)
		goto undo;
	own->live = own->resident;
	own->next = ps->segs;
	ps->segs = own;
	ps->resident += own->resident;
	/* Packed later, aside, by the worker (pagestore_packer_start); swapped in then. */
	own->packing = ps->pack && own->resident &&
		       (own->aside = calloc(npages, sizeof(*own->aside)));
	ps->nmarking += own->aside != NULL;
	own->id = ++ps->next_seg_id;
	img->own = own;
	img->pagestore = ps;
	img->store_holes = npages - own->resident;
	free(buf);
	free(use);
	pack_post(ps);
	return 0;
undo:
	for (size_t k = 0; k < i; k++) {
		if (use[k]->seg == own) {
			if (use[k] == &own->ents[k] && ps->share)
				unlink_ent(ps, use[k]);
		} else {
			use[k]->refs--;
		}
	}
fail:
	remove_image(ps, img);
	free(buf);
	free(use);
	if (own)
		free(own->ents);
	free(own);
	return err;
}

/*
 * Move the pages still used to a new sealed memfd of ours and every run
 * that points at them along; the old segment goes. -errno: it stays as it
 * is (the memory is freed later, by the next compaction or the last use).
 */
static int compact(struct rw_pagestore *ps, struct rw_pageseg *old)
{
	const int seals = F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct rw_pageseg *seg = calloc(1, sizeof(*seg));
	uint64_t *remap = malloc(old->npages * sizeof(*remap));
	uint8_t *w = MAP_FAILED;
	const void *ro = MAP_FAILED;
	size_t bytes = old->live * PAGE, j = 0;
	int fd = -1, err = -ENOMEM;

	if (!seg || !remap)
		goto fail;
	seg->ents = calloc(old->live, sizeof(*seg->ents));
	fd = memfd_create("rewindd-shared-pages", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (!seg->ents || fd < 0 || ftruncate(fd, bytes))
		goto fail_errno;
	w = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED)
		goto fail_errno;
	for (size_t i = 0; i < old->npages; i++) {
		if (!old->ents[i].refs)
			continue;
		/* A packed page moves packed: a hole here too. */
		if (!old->ents[i].packed)
			memcpy(w + j * PAGE, old->base + i * PAGE, PAGE);
		remap[i] = j++;
	}
	if (fcntl(fd, F_ADD_SEALS, seals))
		goto fail_errno;
	ro = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED)
		goto fail_errno;
	seg->base = ro;
	seg->wbase = w;
	seg->ps = ps;
	seg->npages = seg->resident = seg->live = old->live;
	seg->fd = fd;
	/* Nothing can fail from here: the entries and the runs move. */
	for (size_t i = 0; i < old->npages; i++) {
		struct rw_pageent *from = &old->ents[i], *to;

		if (!from->refs)
			continue;
		to = &seg->ents[remap[i]];
		*to = *from;
		to->seg = seg;
		if (from->packed) {
			from->packed = NULL;
			old->packed--;
			seg->packed++;
		}
		for (struct rw_pageent **p = bucket(ps, from->h); *p; p = &(*p)->next)
			if (*p == from) {
				*p = to;
				break;
			}
	}
	for (size_t k = 0; k < ps->nimgs; k++)
		for (size_t r = 0; r < ps->imgs[k]->nruns; r++) {
			struct rw_page_run *run = &ps->imgs[k]->runs[r];

			if (run->seg == old) {
				run->seg = seg;
				run->off = remap[run->off / PAGE] * PAGE;
			}
		}
	seg->next = ps->segs;
	ps->segs = seg;
	ps->resident += seg->resident;
	free(remap);
	seg_destroy(ps, old);
	return 0;
fail_errno:
	err = -errno;
fail:
	pr_warn("compacting %llu shared pages: %s: the segment stays whole\n",
		(unsigned long long)old->live, strerror(-err));
	if (w != MAP_FAILED)
		munmap(w, bytes);
	if (fd >= 0)
		close(fd);
	free(remap);
	if (seg)
		free(seg->ents);
	free(seg);
	return err;
}

/* The next segment a release touched, its mark cleared; NULL when none is left. */
static struct rw_pageseg *next_touched(struct rw_pagestore *ps)
{
	for (struct rw_pageseg *seg = ps->segs; seg; seg = seg->next)
		if (seg->touched) {
			seg->touched = false;
			return seg;
		}
	return NULL;
}

void pagestore_release(struct rw_pagestore *ps, struct rw_proc_image *img)
{
	struct rw_pageseg *own = img->own, *seg;

	if (!own)
		return;
	for (size_t r = 0; r < img->nruns; r++) {
		seg = img->runs[r].seg ? img->runs[r].seg : own;
		for (uint64_t k = 0; k < img->runs[r].npages; k++) {
			struct rw_pageent *e = &seg->ents[img->runs[r].off / PAGE + k];

			if (--e->refs)
				continue;
			unlink_ent(ps, e);
			seg->live--;
			/* A packed page goes now; a page of a memfd with its segment, or by compaction. */
			if (e->packed) {
				unpacked(e);
				seg->resident--;
				ps->resident--;
			}
		}
		seg->touched = true;
	}
	remove_image(ps, img);
	own->owner = NULL;
	own->packing = false;
	aside_free(own);
	/* Not counted once the image goes: an old store the target still maps is the target's. */
	ps->superseded -= own->superseded;
	own->superseded = 0;
	own->touched = true;
	/*
	 * What no one uses goes: a segment wholly, or by compaction (the own
	 * segment is the image's memfd, unmapped by image_free after this).
	 * A few segments: the list is walked again for each one touched.
	 */
	while ((seg = next_touched(ps))) {
		if (!seg->live)
			seg_destroy(ps, seg);
		else if (!seg->owner && (seg->live < seg->resident || seg == own) &&
			 compact(ps, seg) && seg == own) {
			/* Not compacted: the image's memfd stays, ours now, whole. */
			own->fd = img->store_fd;
			img->store = NULL;
			img->store_fd = -1;
		}
	}
	img->own = NULL;
	img->pagestore = NULL;
}

void pagestore_stats(const struct rw_pagestore *ps, struct rw_pagestore_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->limit_bytes = ps->limit;
	st->sharing = ps->share;
	st->content_bytes = ps->resident * PAGE;
	st->bytes = (ps->resident - ps->packed + ps->superseded + ps->swap_pages) * PAGE +
		    ps->packed_bytes + ps->aside_bytes;
	st->superseded_bytes = ps->superseded * PAGE;
	st->packed_pages = ps->packed;
	st->packed_bytes = ps->packed_bytes;
	st->packing = ps->pack;
	for (const struct rw_pageseg *seg = ps->segs; seg; seg = seg->next) {
		st->segments++;
		st->pages_to_pack += seg->packing ? seg->npages - seg->pack_next : 0;
		for (size_t i = 0; i < seg->npages; i++)
			st->shared_bytes += seg->ents[i].refs > 1 ? PAGE : 0;
	}
	for (size_t i = 0; i < ps->nimgs; i++)
		st->logical_bytes += ps->imgs[i]->pages_stored * PAGE;
}

uint64_t pagestore_unique_bytes(const struct rw_proc_image *img)
{
	uint64_t n = 0;

	if (!img->own)
		return img->pages_stored * PAGE;
	for (size_t r = 0; r < img->nruns; r++) {
		const struct rw_pageseg *seg = img->runs[r].seg ? img->runs[r].seg : img->own;

		for (uint64_t k = 0; k < img->runs[r].npages; k++)
			n += seg->ents[img->runs[r].off / PAGE + k].refs == 1;
	}
	return n * PAGE;
}

void pagestore_refusal(const struct rw_pagestore *ps, uint64_t *in_use, uint64_t *needed)
{
	*in_use = ps->refused_in_use;
	*needed = ps->refused_needed;
}
