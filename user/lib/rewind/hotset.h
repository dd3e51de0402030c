/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which restored pages a rewind leaves without write protection.
 *
 * Pages an invocation writes every time (an interpreter's heap, a JIT's
 * young generation) cost a write-protect fault in the function *and* a copy
 * in the rewind, every time. Pages seen written (protected, then copied) by
 * two invocations in a row are "hot" and left unprotected instead: the scan
 * reports an unprotected page as written, so every rewind copies them back
 * (correctness does not depend on the guess), and the function writes them
 * without a fault.
 *
 * An unprotected page cannot say whether it is still written, so each
 * rewind protects one slice (1/HOTSET_SLICES) of the hot set as a probe: a
 * probed page written again stays hot, one left alone drops out. When fewer
 * than half of the probed pages were written again, the hot set is stale (a
 * one-off burst) and is given up whole.
 *
 * Pure data: no process, no ptrace (unit-tested).
 */
#ifndef RW_HOTSET_H
#define RW_HOTSET_H

#include <stdint.h>

#include "ranges.h"

/*
 * Each probed page costs a write-protect fault in the function at every
 * rewind (~9 us a fault on a paravirtualised guest here): 1/8 of Node's
 * ~2000 hot pages was 250 faults and +5 ms on a 5 ms request. A slice of
 * 1/32 keeps that to ~60; a page no longer written leaves the set within
 * 32 rewinds (copied until then), a stale set still at the next one.
 */
#define HOTSET_SLICES	32

struct rw_hotset {
	struct rw_ranges known;		/* seen written by the last invocation */
	struct rw_ranges hot;		/* left unprotected by the last rewind */
	struct rw_ranges probe;		/* hot pages the last rewind protected to see */
	unsigned rewinds;
	uint64_t pages;			/* of hot */
};

/*
 * Split this rewind's copy list (sorted, disjoint) into hot (left
 * unprotected) and cold (to protect again); *probe gets the hot set's slice
 * that is protected this time (it is in cold too).
 */
int hotset_split(const struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		 struct rw_ranges *hot, struct rw_ranges *cold, struct rw_ranges *probe);
/*
 * What the rewind did: copy, and of it hot and probe (both NULL: nothing
 * left unprotected). Takes over their memory. -ENOMEM leaves h empty (all
 * tracked from now on).
 */
int hotset_commit(struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		  struct rw_ranges *hot, struct rw_ranges *probe);
void hotset_free(struct rw_hotset *h);

#endif /* RW_HOTSET_H */
