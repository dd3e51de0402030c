/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which restored pages a rewind leaves without write protection.
 *
 * Pages an invocation writes every time (an interpreter's heap, a JIT's
 * young generation) cost a write-protect fault in the function *and* a copy
 * in the rewind, every time. Pages seen written (protected, then copied) by
 * two invocations in a row are "hot" and left unprotected instead: every
 * rewind copies them back (correctness does not depend on the guess), and
 * the function writes them without a fault.
 *
 * An unprotected page cannot say whether it is still written. Each rewind
 * reads one slice (1/HOTSET_SLICES) of the hot set back before it copies it
 * and compares it with the image (those pages held the image's bytes when
 * the last rewind let the function go): a page that differs was written and
 * stays hot. A page that holds the image's bytes may still have been written
 * (a reference count taken and dropped), so it is protected as a probe: if
 * the next invocation writes it, it stays hot, else it drops out. When fewer
 * than half of the pages compared and probed were found written, the hot set
 * is stale (a one-off burst) and is given up whole, its pages protected as
 * probes: those written again are hot at once.
 *
 * A probe costs the function a fault at the next request (20-30 us each on
 * this paravirtualised guest, with the tracker's fault program: five of
 * them doubled a Python echo's time), so while every probe comes back
 * written the probes back off: one cycle through the hot set in 2, 4, ...
 * up to 2^HOTSET_BACKOFF_MAX cycles protects its unchanged pages, and the
 * cycles between compare only HOTSET_SAMPLE pages of their slice. A slice of
 * which fewer than a quarter changed looks like a burst ending, and is
 * probed at once.
 *
 * Pure data: no process, no ptrace (unit-tested).
 */
#ifndef RW_HOTSET_H
#define RW_HOTSET_H

#include <stdint.h>

#include "ranges.h"

/*
 * A compared page costs the rewind a read and a memcmp (~1 us here); a page
 * no longer written and not caught by a compare leaves the set within
 * HOTSET_SLICES << HOTSET_BACKOFF_MAX rewinds, copied until then.
 */
#define HOTSET_SLICES		32
#define HOTSET_BACKOFF_MAX	6
#define HOTSET_SAMPLE		8

struct rw_hotset {
	struct rw_ranges known;		/* seen written (protected) by the last invocation */
	struct rw_ranges hot;		/* left unprotected by the last rewind */
	struct rw_ranges probe;		/* hot pages the last rewind protected to see */
	uint64_t changed;		/* pages the last rewind's compare found changed */
	unsigned rewinds;
	unsigned backoff;		/* probe one cycle in 2^backoff */
	uint64_t pages;			/* of hot */
};

/* The hot pages this rewind compares with the image before it copies them back. */
int hotset_compare_slice(const struct rw_hotset *h, struct rw_ranges *slice);
/*
 * Split this rewind's copy list (sorted, disjoint) into hot (left
 * unprotected) and cold (to protect again); changed: the pages of slice
 * found different from the image. *probe gets the pages protected to see
 * whether they are still written (they are in cold too).
 */
int hotset_split(const struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		 const struct rw_ranges *slice, const struct rw_ranges *changed,
		 struct rw_ranges *hot, struct rw_ranges *cold, struct rw_ranges *probe);
/*
 * The re-arm protected the hot pages with the rest (one walk over a span):
 * they join probe, watched rather than forgotten, and hot is left empty.
 */
int hotset_all_protected(struct rw_ranges *hot, struct rw_ranges *probe);
/*
 * What the rewind did: copy, and of it hot and probe (both NULL: nothing
 * left unprotected); changed as given to hotset_split. Takes over their
 * memory. -ENOMEM leaves h empty (all tracked from now on).
 */
int hotset_commit(struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		  struct rw_ranges *hot, struct rw_ranges *probe, const struct rw_ranges *changed);
void hotset_free(struct rw_hotset *h);

#endif /* RW_HOTSET_H */
