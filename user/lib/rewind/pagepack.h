/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packing pages (pagestore.h, rewindd --image-packing): one page at a time,
 * LZ4 high-compression, and a worker thread that packs runs of a store's
 * pages in the background, at SCHED_IDLE (never the CPU a function wants)
 * and only while its caller is not busy serving (packer_hold). The worker
 * touches no memory it did not fault in at its start (no malloc, no page
 * fault) and shares no lock with its caller (atomics and futexes only): a
 * SCHED_IDLE thread preempted while it holds the process's mmap_lock, or a
 * mutex, stalls the caller until a CPU is idle. It reads (its own
 * duplicate of the store's fd) and compresses, or copies pages from one
 * store into another (packer_post_copy); what becomes of the pages is
 * decided by its caller, on its own thread, when it takes the result.
 */
#ifndef RW_PAGEPACK_H
#define RW_PAGEPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pages a worker's job packs at most. */
#define RW_PACK_JOB	64
/* A packed page is at most this long: a page that does not shrink by a quarter is kept as it is. */
#define RW_PACK_MAX	(4096 * 3 / 4)

struct rw_pack_ctx;

/* A compression context (NULL: out of memory). */
struct rw_pack_ctx *pagepack_ctx(void);
void pagepack_ctx_free(struct rw_pack_ctx *c);
/* The page packed into out (RW_PACK_MAX bytes): its length, or 0: keep it as it is. */
size_t pagepack_into(struct rw_pack_ctx *c, const uint8_t *page, uint8_t *out);
/* A packed page held on its own: a malloc'd block, its length in its first two bytes. */
uint8_t *pagepack_block(const uint8_t *packed, size_t len);
/* Unpack a block into to (a page): 0, or -EIO for a block that is not a packed page. */
int pagepack_unpack(const uint8_t *block, uint8_t *to);
/* What a block costs in memory, as malloc holds it. */
uint64_t pagepack_cost(const uint8_t *block);

/* The result of a job: the pages of the store from first on, packed (len > 0) or not. */
struct rw_pack_result {
	uint64_t tag;
	size_t first, n;
	uint16_t len[RW_PACK_JOB];
	const uint8_t *data[RW_PACK_JOB];	/* the packer's: valid until the next post */
	int err;		/* reading the store: no page was packed */
};

struct rw_packer;

/* The worker, started; NULL: errno says why. */
struct rw_packer *packer_start(void);
/* Stop it (a job it is on is dropped) and free what it holds. */
void packer_stop(struct rw_packer *pk);
/* Readable when a result waits. */
int packer_fd(const struct rw_packer *pk);
/* Whether a job is posted and its result not taken yet (one at a time). */
bool packer_busy(const struct rw_packer *pk);
/*
 * Post a job: pack the n (<= RW_PACK_JOB) pages of store_fd from page
 * first on (the worker reads a duplicate of the fd). 0, -EBUSY, -errno.
 */
int packer_post(struct rw_packer *pk, int store_fd, size_t first, size_t n, uint64_t tag);
/* Post a copy: the n pages from page first on of from_fd written at the same place of to_fd (err only). */
int packer_post_copy(struct rw_packer *pk, int from_fd, int to_fd, size_t first, size_t n,
		     uint64_t tag);
/* The result, if it is there: true; else false. */
bool packer_take(struct rw_packer *pk, struct rw_pack_result *res);
/* Busy (a request is served): the worker waits, between two pages, until it is not. */
void packer_hold(struct rw_packer *pk, bool busy);

#endif /* RW_PAGEPACK_H */
