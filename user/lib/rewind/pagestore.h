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
 *
 * When it packs (rewindd --image-packing), the pages new to the store
 * are packed after the checkpoint, in the background (pagepack.h: a worker
 * thread at SCHED_IDLE reads and compresses a run of them; this thread
 * keeps the result aside): a page is held LZ4-compressed if that saves a
 * quarter of it. Meanwhile the image's store stays as the checkpoint made
 * it, sealed, whole and mapped in the target, and rewinds mark the pages
 * they use. Once every page is looked at and a rewind used the image, the
 * packed forms are swapped in: a new sealed store holds whole what did
 * not pack and what rewinds used (a sealed memfd can be filled, not
 * punched), the rest is held packed, and the old store goes (the target's
 * mapping of it at its next rewind).
 * The first time a rewind needs a packed page (to copy it back, or to
 * compare it), it is unpacked into its hole for good. The pages rewinds
 * restore are then where they were, and the rest, most of a warm
 * function's image, take a third of their size.
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
 * A store of at most max_bytes of pages, counted unpacked (0: no limit;
 * unpacking never takes it over); share false keeps every image's pages
 * its own (accounted and limited all the same); pack holds new pages
 * packed. NULL: out of memory.
 */
struct rw_pagestore *pagestore_new(uint64_t max_bytes, bool share, bool pack);
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
/* Whether the store shares pages. */
bool pagestore_sharing(const struct rw_pagestore *ps);
/*
 * Start the background packer: the fd to watch (readable: call
 * pagestore_packer_collect), or -errno (-ENOENT: the store does not pack).
 * Without it, pages are packed only by pagestore_pack_all.
 */
int pagestore_packer_start(struct rw_pagestore *ps);
/* Take the packer's result (its pages packed aside, swapped in when done); post the next job. */
void pagestore_packer_collect(struct rw_pagestore *ps);
/* Busy serving: the packer waits until we are not (pagepack.h). */
void pagestore_packer_hold(struct rw_pagestore *ps, bool busy);
/* Whether the worker has work: pages to pack, or a swap's to copy. */
bool pagestore_pack_pending(const struct rw_pagestore *ps);
/*
 * Swap in the stores packed since a rewind used them (the daemon's idle
 * point: between two rounds of requests).
 */
void pagestore_swap_ready(struct rw_pagestore *ps);
/* Pack everything that waits, here and now, and swap every packed store in. */
void pagestore_pack_all(struct rw_pagestore *ps);
/* Whether the image's pages wait to be packed. */
bool pagestore_packing(const struct rw_proc_image *img);
/* Whether pages a rewind uses are to be told (pageseg_need): some packed, or being packed. */
bool pagestore_marks_use(const struct rw_pagestore *ps);
/* The target no longer maps the store the image's swap replaced (image.h): not counted now. */
void pagestore_superseded_gone(struct rw_proc_image *img);
/* Pages held packed now, over every segment. */
uint64_t pagestore_packed(const struct rw_pagestore *ps);
/* Whether pages come in through pagestore_adopt's reader (else straight into the image's store). */
bool pagestore_stages(const struct rw_pagestore *ps);
/* Give back an adopted image's pages (image_free does). */
void pagestore_release(struct rw_pagestore *ps, struct rw_proc_image *img);

/* The base of a segment's read-only mapping here (a packed page is a hole in it). */
const uint8_t *pageseg_base(const struct rw_pageseg *seg);
/* Whether any of the n pages of seg from page first on is packed. */
bool pageseg_packed_any(const struct rw_pageseg *seg, size_t first, size_t n);
/*
 * A rewind (of the segment's own image: owner) uses the n pages from page
 * first on: those packed are unpacked for good, those being packed are
 * kept whole by the swap. 0, -EIO.
 */
int pageseg_need(struct rw_pageseg *seg, size_t first, size_t n, bool owner);
/* Copy the n pages from page first on into out, packed ones unpacked there only: 0, -EIO. */
int pageseg_read(const struct rw_pageseg *seg, size_t first, size_t n, uint8_t *out);

struct rw_pagestore_stats {
	/*
	 * Memory the pages take: unpacked ones, packed ones as packed, packed
	 * forms made aside and not swapped in yet, the pages copied into a
	 * store being swapped in, and superseded_bytes.
	 */
	uint64_t bytes;
	uint64_t superseded_bytes;	/* stores swapped out that their targets map until their next rewind */
	uint64_t content_bytes;		/* unique content (each page once), unpacked */
	uint64_t packed_pages;		/* of those, pages held packed */
	uint64_t packed_bytes;		/* and what they take */
	uint64_t pages_to_pack;		/* of the images still being packed, pages not looked at yet */
	uint64_t shared_bytes;		/* of those, pages used more than once */
	uint64_t logical_bytes;		/* what the images would hold each on its own */
	uint64_t limit_bytes;		/* 0: none */
	uint64_t segments;
	bool sharing, packing;
};
void pagestore_stats(const struct rw_pagestore *ps, struct rw_pagestore_stats *st);
/* Bytes of an adopted image's pages that no other use shares. */
uint64_t pagestore_unique_bytes(const struct rw_proc_image *img);
/* The last refusal: bytes in use then and bytes the image needed. */
void pagestore_refusal(const struct rw_pagestore *ps, uint64_t *in_use, uint64_t *needed);

#endif /* RW_PAGESTORE_H */
