/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The page store every checkpoint image of a rewindd shares: when it
 * shares (rewindd --image-sharing), a page whose content another image (of
 * a session of the same owner) already holds is stored once, found by its XXH3-128 hash and shared only after a byte
 * compare, reference-counted, freed when the last image using it goes.
 *
 * Each image keeps a segment of its own: the sealed memfd its capture read
 * its pages into (image.c), with the pages found elsewhere punched out
 * before sealing. Its runs either point into that segment (seg NULL: the
 * image's own store, which the in-target restorer maps into the target) or
 * into another image's segment (seg set: copied back from here only, since
 * mapping another image's segment into a target would show it pages that
 * are not its own). A segment outlives the image that made it while others
 * use its pages; it is then compacted: what is still used moves to a new
 * sealed memfd, every image's runs follow, the rest is freed.
 */
#ifndef RW_PAGESTORE_H
#define RW_PAGESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_pagestore;
struct rw_pageseg;
struct rw_proc_image;

/*
 * A store of at most max_bytes of pages (0: no limit); share false keeps
 * every image's pages its own (accounted and limited all the same). NULL:
 * out of memory.
 */
struct rw_pagestore *pagestore_new(uint64_t max_bytes, bool share);
void pagestore_free(struct rw_pagestore *ps);

/* Fill buf with the n pages of the image's store from page first on: 0 or -errno. */
typedef int (*rw_page_reader)(void *ctx, size_t first, size_t n, uint8_t *buf);

/*
 * Take in a captured image whose unsealed store (store_fd, mapped at
 * store) holds, or will hold, its runs one after the other (seg NULL).
 * With read, each page is read through it, and only those that no image
 * of domain holds yet (nor this one, earlier) are written into the store
 * (the rest stay holes, never touched); without, the pages are in the
 * store already (a store without sharing). The image's runs are rewritten.
 * -EDQUOT if the store would then exceed its limit (nothing taken;
 * pagestore_refusal() says by how much); -ENOMEM, -errno.
 */
int pagestore_adopt(struct rw_pagestore *ps, struct rw_proc_image *img, uint32_t domain,
		    rw_page_reader read, void *ctx);
/* Whether the store shares pages (else an image's pages are read straight into its store). */
bool pagestore_sharing(const struct rw_pagestore *ps);
/* Give back an adopted image's pages (image_free does). */
void pagestore_release(struct rw_pagestore *ps, struct rw_proc_image *img);

/* The base of a segment's read-only mapping here. */
const uint8_t *pageseg_base(const struct rw_pageseg *seg);

struct rw_pagestore_stats {
	uint64_t bytes;			/* pages held, unique content (each once) */
	uint64_t shared_bytes;		/* of those, pages used more than once */
	uint64_t logical_bytes;		/* what the images would hold each on its own */
	uint64_t limit_bytes;		/* 0: none */
	uint64_t segments;
	bool sharing;
};
void pagestore_stats(const struct rw_pagestore *ps, struct rw_pagestore_stats *st);
/* Bytes of an adopted image's pages that no other use shares. */
uint64_t pagestore_unique_bytes(const struct rw_proc_image *img);
/* The last refusal: bytes in use then and bytes the image needed. */
void pagestore_refusal(const struct rw_pagestore *ps, uint64_t *in_use, uint64_t *needed);

#endif /* RW_PAGESTORE_H */
