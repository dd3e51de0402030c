// SPDX-License-Identifier: GPL-2.0-only
/*
 * The page store all images share, on synthetic images (a memfd store and
 * one run each, as a capture leaves them before the seal): what is shared,
 * what is not, what a release frees and moves, the limit, and pages held
 * packed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "image.h"
#include "pagemap.h"
#include "pagestore.h"

#define PG RW_PAGE_SIZE

static void fill(uint8_t *p, int tag)
{
	for (size_t i = 0; i < PG; i++)
		p[i] = (uint8_t)(tag * 31 + i * 7);
}

/* A synthetic image and the pages its capture would read from its process. */
struct test_image {
	struct rw_proc_image img;
	uint8_t *src;
};

/* An image of pages tagged tags[] at start, its store empty; -1 for a page one byte off tag 1. */
static struct rw_proc_image *image_of(const int *tags, size_t n, uint64_t start)
{
	struct test_image *t = calloc(1, sizeof(*t));
	struct rw_proc_image *img = &t->img;
	uint8_t *m;

	assert_non_null(t);
	t->src = malloc(n * PG);
	assert_non_null(t->src);
	for (size_t i = 0; i < n; i++) {
		fill(t->src + i * PG, tags[i] < 0 ? 1 : tags[i]);
		if (tags[i] < 0)
			t->src[i * PG + 100] ^= 1;
	}
	img->tgid = 1;
	img->store_len = n * PG;
	img->store_fd = memfd_create("test-store", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(img->store_fd >= 0);
	assert_int_equal(ftruncate(img->store_fd, img->store_len), 0);
	m = mmap(NULL, img->store_len, PROT_READ | PROT_WRITE, MAP_SHARED, img->store_fd, 0);
	assert_true(m != MAP_FAILED);
	img->store = m;
	img->runs = calloc(1, sizeof(*img->runs));
	assert_non_null(img->runs);
	img->runs[0] = (struct rw_page_run){ start, n, 0, NULL };
	img->nruns = 1;
	img->pages_stored = n;
	return img;
}

static int read_src(void *ctx, size_t first, size_t n, uint8_t *buf)
{
	memcpy(buf, ((struct test_image *)ctx)->src + first * PG, n * PG);
	return 0;
}

/* As a capture adopts: through the reader when the store shares, else from a filled store. */
static int adopt(struct rw_pagestore *ps, struct rw_proc_image *img, uint32_t domain)
{
	struct test_image *t = (struct test_image *)img;

	if (pagestore_stages(ps))
		return pagestore_adopt(ps, img, domain, read_src, t);
	memcpy((void *)img->store, t->src, img->store_len);
	return pagestore_adopt(ps, img, domain, NULL, NULL);
}

/* Pages of the store never written: holes (the shared ones were never copied in). */
static size_t store_resident_pages(const struct rw_proc_image *img)
{
	size_t n = 0;

	for (off_t off = 0; off < (off_t)img->store_len; off += PG) {
		off_t d = lseek(img->store_fd, off, SEEK_DATA);

		n += d == off;
	}
	return n;
}

static void drop(struct rw_proc_image *img)
{
	struct test_image *t = (struct test_image *)img;

	image_free(img);
	free(t->src);
	free(t);
}

/* The page at addr holds the content of tag. */
static void assert_page(const struct rw_proc_image *img, uint64_t addr, int tag)
{
	uint8_t want[PG];
	const uint8_t *got = image_page(img, addr);

	assert_non_null(got);
	fill(want, tag < 0 ? 1 : tag);
	if (tag < 0)
		want[100] ^= 1;
	assert_memory_equal(got, want, PG);
}

static struct rw_pagestore_stats stats(const struct rw_pagestore *ps)
{
	struct rw_pagestore_stats st;

	pagestore_stats(ps, &st);
	return st;
}

static void shares_identical_pages(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, true, false);
	struct rw_proc_image *a = image_of((int[]){ 1, 2, 3, 4 }, 4, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ 2, 3, 9 }, 3, 0x50000);

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(adopt(ps, b, 0), 0);
	assert_int_equal(stats(ps).bytes, 5 * PG);
	assert_int_equal(stats(ps).shared_bytes, 2 * PG);
	assert_int_equal(stats(ps).logical_bytes, 7 * PG);
	assert_int_equal(pagestore_unique_bytes(a), 2 * PG);
	assert_int_equal(pagestore_unique_bytes(b), 1 * PG);
	/* Only B's page of its own went into its store. */
	assert_int_equal(store_resident_pages(a), 4);
	assert_int_equal(store_resident_pages(b), 1);
	/* B's first two pages are A's, its third its own: two runs. */
	assert_int_equal(b->nruns, 2);
	assert_false(image_run_own(&b->runs[0]));
	assert_true(image_run_own(&b->runs[1]));
	assert_true(image_page(b, 0x50000) >= a->store && image_page(b, 0x50000) < a->store + a->store_len);
	for (int i = 0; i < 3; i++)
		assert_page(b, 0x50000 + i * PG, (int[]){ 2, 3, 9 }[i]);
	for (int i = 0; i < 4; i++)
		assert_page(a, 0x10000 + i * PG, i + 1);
	drop(b);
	assert_int_equal(stats(ps).bytes, 4 * PG);
	assert_int_equal(stats(ps).shared_bytes, 0);
	drop(a);
	assert_int_equal(stats(ps).bytes, 0);
	assert_int_equal(stats(ps).segments, 0);
	pagestore_free(ps);
}

static void one_byte_apart_not_shared(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, true, false);
	struct rw_proc_image *a = image_of((int[]){ 1 }, 1, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ -1 }, 1, 0x10000);

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(adopt(ps, b, 0), 0);
	assert_int_equal(stats(ps).bytes, 2 * PG);
	assert_int_equal(stats(ps).shared_bytes, 0);
	assert_page(a, 0x10000, 1);
	assert_page(b, 0x10000, -1);
	drop(a);
	drop(b);
	pagestore_free(ps);
}

/* The image holding the shared pages goes first: they move, the other keeps its content. */
static void release_moves_what_others_use(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, true, false);
	struct rw_proc_image *a = image_of((int[]){ 1, 2, 3, 4 }, 4, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ 2, 3, 9 }, 3, 0x50000);
	struct rw_proc_image *c = image_of((int[]){ 3 }, 1, 0x90000);

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(adopt(ps, b, 0), 0);
	assert_int_equal(adopt(ps, c, 0), 0);
	assert_int_equal(stats(ps).bytes, 5 * PG);
	drop(a);
	/* A's pages 1 and 4 are gone; 2 and 3 live on for B and C, with B's own 9. */
	assert_int_equal(stats(ps).bytes, 3 * PG);
	assert_int_equal(stats(ps).shared_bytes, 1 * PG);
	for (int i = 0; i < 3; i++)
		assert_page(b, 0x50000 + i * PG, (int[]){ 2, 3, 9 }[i]);
	assert_page(c, 0x90000, 3);
	drop(b);
	/* Page 2 went with B: the segment of ours is compacted to page 3 alone. */
	assert_int_equal(stats(ps).bytes, 1 * PG);
	assert_page(c, 0x90000, 3);
	drop(c);
	assert_int_equal(stats(ps).bytes, 0);
	assert_int_equal(stats(ps).segments, 0);
	pagestore_free(ps);
}

static void same_page_twice_in_one_image(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, true, false);
	struct rw_proc_image *a = image_of((int[]){ 5, 5, 6 }, 3, 0x10000);

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(stats(ps).bytes, 2 * PG);
	assert_int_equal(stats(ps).shared_bytes, 1 * PG);
	for (int i = 0; i < 3; i++)
		assert_page(a, 0x10000 + i * PG, (int[]){ 5, 5, 6 }[i]);
	drop(a);
	assert_int_equal(stats(ps).bytes, 0);
	pagestore_free(ps);
}

static void other_domain_not_shared(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, true, false);
	struct rw_proc_image *a = image_of((int[]){ 1, 2 }, 2, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ 1, 2 }, 2, 0x10000);

	(void)state;
	assert_int_equal(adopt(ps, a, 1000), 0);
	assert_int_equal(adopt(ps, b, 1001), 0);
	assert_int_equal(stats(ps).bytes, 4 * PG);
	assert_int_equal(stats(ps).shared_bytes, 0);
	drop(a);
	drop(b);
	pagestore_free(ps);
}

static void limit_refuses_and_takes_nothing(void **state)
{
	struct rw_pagestore *ps = pagestore_new(4 * PG, true, false);
	struct rw_proc_image *a = image_of((int[]){ 1, 2, 3 }, 3, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ 1, 4, 5 }, 3, 0x10000);
	struct rw_proc_image *c = image_of((int[]){ 1, 2 }, 2, 0x10000);
	uint64_t in_use, needed;

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(adopt(ps, b, 0), -EDQUOT);
	pagestore_refusal(ps, &in_use, &needed);
	assert_int_equal(in_use, 3 * PG);
	assert_int_equal(needed, 2 * PG);
	assert_int_equal(stats(ps).bytes, 3 * PG);
	assert_int_equal(stats(ps).shared_bytes, 0);
	/* Nothing of B's stayed: its page 1 reference was given back. */
	assert_int_equal(pagestore_unique_bytes(a), 3 * PG);
	/* What needs no new page fits. */
	assert_int_equal(adopt(ps, c, 0), 0);
	assert_int_equal(stats(ps).bytes, 3 * PG);
	drop(b);
	drop(c);
	drop(a);
	assert_int_equal(stats(ps).bytes, 0);
	pagestore_free(ps);
}

/* What rewindd does in its idle time after the checkpoint: packed aside, then swapped in, sealed. */
static void pack(struct rw_pagestore *ps, struct rw_proc_image *img)
{
	assert_true(pagestore_packing(img));
	pagestore_pack_all(ps);
	assert_false(pagestore_packing(img));
	assert_true(img->store_sealed);
}

/* The image's pages read through image_run_bytes hold tags[], run by run. */
static void assert_run_bytes(const struct rw_proc_image *img, const int *tags, size_t n)
{
	uint8_t *scratch = malloc(n * PG), want[PG];
	size_t i = 0;

	assert_non_null(scratch);
	for (size_t r = 0; r < img->nruns; r++) {
		const struct rw_page_run *run = &img->runs[r];
		const uint8_t *got = image_run_bytes(img, run, 0, run->npages * PG, scratch);

		assert_non_null(got);
		for (size_t k = 0; k < run->npages; k++, i++) {
			assert_true(i < n);
			fill(want, tags[i] < 0 ? 1 : tags[i]);
			if (tags[i] < 0)
				want[100] ^= 1;
			assert_memory_equal(got + k * PG, want, PG);
		}
	}
	assert_int_equal(i, n);
	free(scratch);
}

/*
 * Packed after the adoption, then swapped in; packed pages are holes until
 * unpacked; reading them unpacks nothing; unpacking is for good, through
 * the seal.
 */
static void packed_pages_unpack_into_the_sealed_store(void **state)
{
	const int tags[] = { 1, 2, 3, 4 };
	struct rw_pagestore *ps = pagestore_new(0, false, true);
	struct rw_proc_image *a = image_of(tags, 4, 0x10000);
	struct rw_range middle = { 0x11000, 0x13000 };

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(stats(ps).packed_pages, 0);
	assert_int_equal(store_resident_pages(a), 4);
	pack(ps, a);
	assert_int_equal(stats(ps).packed_pages, 4);
	assert_int_equal(stats(ps).content_bytes, 4 * PG);
	assert_true(stats(ps).bytes < 4 * PG / 2);
	assert_int_equal(stats(ps).bytes, stats(ps).packed_bytes);
	assert_int_equal(store_resident_pages(a), 0);
	assert_run_bytes(a, tags, 4);
	assert_int_equal(store_resident_pages(a), 0);
	assert_int_equal(stats(ps).packed_pages, 4);
	/* What a rewind copies back is unpacked in its place, through the seal. */
	assert_int_equal(image_need_pages(a, &middle, 1), 0);
	assert_int_equal(store_resident_pages(a), 2);
	assert_int_equal(stats(ps).packed_pages, 2);
	assert_page(a, 0x11000, 2);
	assert_page(a, 0x12000, 3);
	assert_true(stats(ps).bytes > 2 * PG);
	assert_run_bytes(a, tags, 4);
	drop(a);
	assert_int_equal(stats(ps).bytes, 0);
	assert_int_equal(stats(ps).packed_bytes, 0);
	pagestore_free(ps);
}

/* A page that does not pack is stored as it is. */
static void incompressible_page_stored_whole(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, false, true);
	struct rw_proc_image *a = image_of((int[]){ 1, 2 }, 2, 0x10000);
	struct test_image *t = (struct test_image *)a;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (size_t i = 0; i < PG; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		t->src[PG + i] = (uint8_t)x;
	}
	assert_int_equal(adopt(ps, a, 0), 0);
	pack(ps, a);
	assert_int_equal(stats(ps).packed_pages, 1);
	assert_int_equal(store_resident_pages(a), 1);
	assert_memory_equal(image_page(a, 0x11000), t->src + PG, PG);
	drop(a);
	pagestore_free(ps);
}

/*
 * Shared with a packed page after a byte compare of its unpacked bytes;
 * one byte apart is not; the holder goes first and the packed pages move.
 */
static void packed_pages_shared_and_moved(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, true, true);
	struct rw_proc_image *a = image_of((int[]){ 1, 2, 3 }, 3, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ 1, -1, 3 }, 3, 0x50000);
	struct rw_range first = { 0x50000, 0x51000 };

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	pack(ps, a);
	/* B's pages are compared with A's packed ones, unpacked aside. */
	assert_int_equal(adopt(ps, b, 0), 0);
	assert_int_equal(store_resident_pages(a), 0);
	pack(ps, b);
	assert_int_equal(stats(ps).content_bytes, 4 * PG);
	assert_int_equal(stats(ps).shared_bytes, 2 * PG);
	assert_int_equal(stats(ps).packed_pages, 4);
	assert_run_bytes(b, (int[]){ 1, -1, 3 }, 3);
	/* B's first page is A's: unpacked where A holds it. */
	assert_int_equal(image_need_pages(b, &first, 1), 0);
	assert_int_equal(store_resident_pages(a), 1);
	assert_page(b, 0x50000, 1);
	drop(a);
	/* A's page 2 is gone; 1 (unpacked) and 3 (packed) moved for B. */
	assert_int_equal(stats(ps).content_bytes, 3 * PG);
	assert_int_equal(stats(ps).packed_pages, 2);
	assert_page(b, 0x50000, 1);
	assert_run_bytes(b, (int[]){ 1, -1, 3 }, 3);
	drop(b);
	assert_int_equal(stats(ps).bytes, 0);
	assert_int_equal(stats(ps).packed_pages, 0);
	assert_int_equal(stats(ps).packed_bytes, 0);
	pagestore_free(ps);
}

/* An image released before its pages were packed: what it shared moves unpacked, the rest packs on. */
static void released_before_packed(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, true, true);
	struct rw_proc_image *a = image_of((int[]){ 1, 2, 3 }, 3, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ 1, 2, 9 }, 3, 0x50000);

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(adopt(ps, b, 0), 0);
	drop(a);
	assert_true(pagestore_pack_pending(ps));
	pack(ps, b);
	assert_false(pagestore_pack_pending(ps));
	assert_int_equal(stats(ps).content_bytes, 3 * PG);
	assert_int_equal(stats(ps).packed_pages, 1);
	assert_run_bytes(b, (int[]){ 1, 2, 9 }, 3);
	drop(b);
	assert_int_equal(stats(ps).bytes, 0);
	assert_int_equal(stats(ps).packed_bytes, 0);
	pagestore_free(ps);
}

/*
 * While packing, the store stays whole and sealed (the target maps it);
 * the pages a rewind uses meanwhile stay whole in the store swapped in;
 * the old store, mapped in the target, counts until its next rewind.
 */
static void pages_used_while_packing_stay_whole(void **state)
{
	const int tags[] = { 1, 2, 3, 4 };
	struct rw_pagestore *ps = pagestore_new(0, false, true);
	struct rw_proc_image *a = image_of(tags, 4, 0x10000);
	struct rw_range used = { 0x11000, 0x13000 };
	ino_t old_ino;

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	/* As the capture does, and then maps it in the target (not here: any address will do). */
	assert_int_equal(image_seal_store(a), 0);
	a->tmap = 0x7f0000000000;
	a->tmap_dev = a->store_dev;
	a->tmap_ino = old_ino = a->store_ino;
	assert_int_equal(image_need_pages(a, &used, 1), 0);
	assert_int_equal(store_resident_pages(a), 4);
	assert_int_equal(stats(ps).packed_pages, 0);
	pack(ps, a);
	assert_int_equal(stats(ps).packed_pages, 2);
	assert_int_equal(store_resident_pages(a), 2);
	assert_page(a, 0x11000, 2);
	assert_page(a, 0x12000, 3);
	assert_run_bytes(a, tags, 4);
	assert_true(a->store_ino != old_ino);
	/* The target still maps the old store, by its identity; counted until it goes. */
	assert_true(a->tmap_superseded);
	assert_true(image_tmaps(a).store.ino == old_ino);
	assert_int_equal(stats(ps).superseded_bytes, 4 * PG);
	assert_int_equal(stats(ps).bytes, 6 * PG + stats(ps).packed_bytes);
	pagestore_superseded_gone(a);
	assert_int_equal(stats(ps).superseded_bytes, 0);
	assert_int_equal(stats(ps).bytes, 2 * PG + stats(ps).packed_bytes);
	drop(a);
	assert_int_equal(stats(ps).bytes, 0);
	pagestore_free(ps);
}

/* Every page used before the packing ends: nothing to gain, the store stays as it is. */
static void all_used_store_kept(void **state)
{
	const int tags[] = { 1, 2 };
	struct rw_pagestore *ps = pagestore_new(0, false, true);
	struct rw_proc_image *a = image_of(tags, 2, 0x10000);
	struct rw_range all = { 0x10000, 0x12000 };
	ino_t ino;

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(image_seal_store(a), 0);
	ino = a->store_ino;
	assert_int_equal(image_need_pages(a, &all, 1), 0);
	pack(ps, a);
	assert_int_equal(a->store_ino, ino);
	assert_int_equal(stats(ps).packed_pages, 0);
	assert_int_equal(stats(ps).bytes, 2 * PG);
	assert_run_bytes(a, tags, 2);
	drop(a);
	pagestore_free(ps);
}

/* An image of n distinct pages (tags 1 to n, into tags) at 0x100000. */
static struct rw_proc_image *numbered_image(int *tags, int n)
{
	for (int i = 0; i < n; i++)
		tags[i] = i + 1;
	return image_of(tags, n, 0x100000);
}

/* Take the packer's results as its fd says they wait (a deadline as a failure guard only). */
static void collect_until_packed(struct rw_pagestore *ps, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (pagestore_pack_pending(ps)) {
		assert_int_equal(poll(&p, 1, 10000), 1);
		pagestore_packer_collect(ps);
	}
}

/*
 * The background packer packs the image aside; the packed store is
 * swapped in once a rewind used the image, the page it used whole.
 */
static void packer_packs_in_the_background(void **state)
{
	int tags[200], fd;
	struct rw_pagestore *ps = pagestore_new(0, true, true);
	struct rw_proc_image *a = numbered_image(tags, 200);
	struct rw_range first = { 0x100000, 0x101000 };

	(void)state;
	fd = pagestore_packer_start(ps);
	assert_true(fd >= 0);
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_true(pagestore_packing(a));
	collect_until_packed(ps, fd);
	/* No rewind yet: packed aside, the store whole; both counted. */
	pagestore_swap_ready(ps);
	assert_int_equal(stats(ps).packed_pages, 0);
	assert_int_equal(store_resident_pages(a), 200);
	assert_true(stats(ps).bytes > 200 * PG);
	assert_int_equal(image_need_pages(a, &first, 1), 0);
	pagestore_swap_ready(ps);
	/* The swap's copy is the worker's too; another round of requests meanwhile does not restart it. */
	assert_true(pagestore_pack_pending(ps));
	pagestore_swap_ready(ps);
	collect_until_packed(ps, fd);
	assert_true(a->store_sealed);
	assert_int_equal(stats(ps).packed_pages, 199);
	assert_int_equal(store_resident_pages(a), 1);
	assert_true(stats(ps).bytes < 200 * PG / 2);
	assert_run_bytes(a, tags, 200);
	drop(a);
	assert_int_equal(stats(ps).packed_bytes, 0);
	pagestore_free(ps);
}

/*
 * Another image's rewind that uses a page of A's (shared) keeps that page
 * whole but does not swap A's store in: only A's own rewind replaces
 * its target's mapping.
 */
static void other_images_rewind_does_not_swap(void **state)
{
	int tags[100], fd;
	struct rw_pagestore *ps = pagestore_new(0, true, true);
	struct rw_proc_image *a = numbered_image(tags, 100);
	struct rw_proc_image *b = image_of((int[]){ 1, 2 }, 2, 0x500000);
	struct rw_range b_first = { 0x500000, 0x501000 };
	struct rw_range a_page = { 0x100000 + 50 * PG, 0x100000 + 51 * PG };

	(void)state;
	fd = pagestore_packer_start(ps);
	assert_true(fd >= 0);
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(adopt(ps, b, 0), 0);
	assert_int_equal(stats(ps).shared_bytes, 2 * PG);
	assert_int_equal(image_need_pages(b, &b_first, 1), 0);
	collect_until_packed(ps, fd);
	pagestore_swap_ready(ps);
	assert_int_equal(stats(ps).packed_pages, 0);
	assert_int_equal(store_resident_pages(a), 100);
	assert_int_equal(image_need_pages(a, &a_page, 1), 0);
	pagestore_swap_ready(ps);
	collect_until_packed(ps, fd);
	/* B's page and A's own stay whole. */
	assert_int_equal(stats(ps).packed_pages, 98);
	assert_int_equal(store_resident_pages(a), 2);
	assert_run_bytes(a, tags, 100);
	assert_run_bytes(b, (int[]){ 1, 2 }, 2);
	drop(b);
	drop(a);
	assert_int_equal(stats(ps).bytes, 0);
	pagestore_free(ps);
}

/* Released while the worker copies its swap: the new store goes, the copy's result is stale. */
static void released_during_the_swap(void **state)
{
	int tags[100], fd;
	struct rw_pagestore *ps = pagestore_new(0, false, true);
	struct rw_proc_image *a = numbered_image(tags, 100);
	struct rw_range first = { 0x100000, 0x101000 };
	struct pollfd p = { .events = POLLIN };

	(void)state;
	fd = pagestore_packer_start(ps);
	assert_true(fd >= 0);
	p.fd = fd;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(image_need_pages(a, &first, 1), 0);
	while (pagestore_packing(a)) {
		assert_int_equal(poll(&p, 1, 10000), 1);
		pagestore_packer_collect(ps);
	}
	/* Packed: the swap's copy is posted, not done (its result is not taken yet). */
	assert_true(pagestore_pack_pending(ps));
	assert_int_equal(stats(ps).packed_pages, 0);
	drop(a);
	assert_false(pagestore_pack_pending(ps));
	assert_int_equal(stats(ps).bytes, 0);
	assert_int_equal(poll(&p, 1, 10000), 1);
	pagestore_packer_collect(ps);
	assert_int_equal(stats(ps).bytes, 0);
	pagestore_free(ps);
}

/* Held while the adoption posts its job (rewindd serving a request), let go: the packing completes. */
static void packer_resumes_after_hold(void **state)
{
	int tags[100], fd;
	struct rw_pagestore *ps = pagestore_new(0, false, true);
	struct rw_proc_image *a = numbered_image(tags, 100);
	struct rw_range used = { 0x100000, 0x101000 };

	(void)state;
	fd = pagestore_packer_start(ps);
	assert_true(fd >= 0);
	pagestore_packer_hold(ps, true);
	assert_int_equal(adopt(ps, a, 0), 0);
	/* A rewind used a page meanwhile: swapped in as soon as packed. */
	assert_int_equal(image_need_pages(a, &used, 1), 0);
	pagestore_packer_hold(ps, false);
	collect_until_packed(ps, fd);
	assert_int_equal(stats(ps).packed_pages, 99);
	assert_run_bytes(a, tags, 100);
	drop(a);
	pagestore_free(ps);
}

/* Packed here while a job was under way: its result is stale and dropped, nothing twice. */
static void packer_result_stale_after_pack_all(void **state)
{
	int tags[100], fd;
	struct rw_pagestore *ps = pagestore_new(0, false, true);
	struct rw_proc_image *a = numbered_image(tags, 100);
	struct pollfd p = { .events = POLLIN };

	(void)state;
	fd = pagestore_packer_start(ps);
	assert_true(fd >= 0);
	assert_int_equal(adopt(ps, a, 0), 0);
	pagestore_pack_all(ps);
	assert_int_equal(stats(ps).packed_pages, 100);
	p.fd = fd;
	assert_int_equal(poll(&p, 1, 10000), 1);
	pagestore_packer_collect(ps);
	assert_int_equal(stats(ps).packed_pages, 100);
	assert_run_bytes(a, tags, 100);
	drop(a);
	assert_int_equal(stats(ps).packed_bytes, 0);
	pagestore_free(ps);
}

static void sharing_off_keeps_pages_apart(void **state)
{
	struct rw_pagestore *ps = pagestore_new(0, false, false);
	struct rw_proc_image *a = image_of((int[]){ 1, 2 }, 2, 0x10000);
	struct rw_proc_image *b = image_of((int[]){ 1, 2 }, 2, 0x10000);

	(void)state;
	assert_int_equal(adopt(ps, a, 0), 0);
	assert_int_equal(adopt(ps, b, 0), 0);
	assert_int_equal(stats(ps).bytes, 4 * PG);
	assert_int_equal(stats(ps).shared_bytes, 0);
	assert_false(stats(ps).sharing);
	assert_page(b, 0x11000, 2);
	drop(a);
	drop(b);
	pagestore_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shares_identical_pages),
		cmocka_unit_test(one_byte_apart_not_shared),
		cmocka_unit_test(release_moves_what_others_use),
		cmocka_unit_test(same_page_twice_in_one_image),
		cmocka_unit_test(other_domain_not_shared),
		cmocka_unit_test(limit_refuses_and_takes_nothing),
		cmocka_unit_test(sharing_off_keeps_pages_apart),
		cmocka_unit_test(packed_pages_unpack_into_the_sealed_store),
		cmocka_unit_test(incompressible_page_stored_whole),
		cmocka_unit_test(packed_pages_shared_and_moved),
		cmocka_unit_test(released_before_packed),
		cmocka_unit_test(pages_used_while_packing_stay_whole),
		cmocka_unit_test(all_used_store_kept),
		cmocka_unit_test(packer_packs_in_the_background),
		cmocka_unit_test(packer_resumes_after_hold),
		cmocka_unit_test(other_images_rewind_does_not_swap),
		cmocka_unit_test(released_during_the_swap),
		cmocka_unit_test(packer_result_stale_after_pack_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
