// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "hotset.h"
#include "pagemap.h"

/* Pages [from, to) of l, counted in order across its ranges, added to out. */
static int pages_between(const struct rw_ranges *l, uint64_t from, uint64_t to,
			 struct rw_ranges *out)
{
	uint64_t seen = 0;
	int err = 0;

	for (size_t i = 0; i < l->n && seen < to && !err; i++) {
		uint64_t n = (l->r[i].end - l->r[i].start) / RW_PAGE_SIZE;
		uint64_t a = from > seen ? from - seen : 0, e = to - seen < n ? to - seen : n;

		if (a < e)
			err = ranges_add(out, l->r[i].start + a * RW_PAGE_SIZE,
					 l->r[i].start + e * RW_PAGE_SIZE);
		seen += n;
	}
	return err;
}

/* Add all of src to dst (then sorted and merged). */
static int add_all(struct rw_ranges *dst, const struct rw_ranges *src)
{
	int err = 0;

	for (size_t i = 0; i < src->n && !err; i++)
		err = ranges_add(dst, src->r[i].start, src->r[i].end);
	ranges_normalize(dst);
	return err;
}

int hotset_split(const struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		 struct rw_ranges *hot, struct rw_ranges *cold, struct rw_ranges *probe)
{
	struct rw_ranges known = { 0 }, cand = { 0 }, again = { 0 };
	uint64_t n, k;
	int err;

	/* Seen written now: copied, and protected during the invocation. */
	err = ranges_split(copy, ncopy, h->hot.r, h->hot.n, NULL, &known);
	/* Seen written twice in a row. */
	if (!err)
		err = ranges_split(known.r, known.n, h->known.r, h->known.n, &cand, NULL);
	/* The probed pages written again stay; the rest of the hot set stays unless stale. */
	if (!err)
		err = ranges_split(known.r, known.n, h->probe.r, h->probe.n, &again, NULL);
	if (!err)
		err = add_all(&cand, &again);
	if (!err && 2 * ranges_pages(&again) >= ranges_pages(&h->probe))
		err = add_all(&cand, &h->hot);
	n = ranges_pages(&cand);
	k = h->rewinds % HOTSET_SLICES;
	if (!err)
		err = pages_between(&cand, n * k / HOTSET_SLICES, n * (k + 1) / HOTSET_SLICES, probe);
	if (!err)
		err = ranges_split(cand.r, cand.n, probe->r, probe->n, NULL, hot);
	if (!err)
		err = ranges_split(copy, ncopy, hot->r, hot->n, NULL, cold);
	ranges_free(&known);
	ranges_free(&cand);
	ranges_free(&again);
	return err;
}

int hotset_commit(struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		  struct rw_ranges *hot, struct rw_ranges *probe)
{
	struct rw_ranges known = { 0 };
	unsigned rewinds = h->rewinds + 1;
	/* Seen written by this invocation: copied, and protected while it ran. */
	int err = ranges_split(copy, ncopy, h->hot.r, h->hot.n, NULL, &known);

	hotset_free(h);
	h->rewinds = rewinds;
	h->known = known;
	if (hot && probe) {
		h->hot = *hot;
		h->probe = *probe;
		memset(hot, 0, sizeof(*hot));
		memset(probe, 0, sizeof(*probe));
	}
	h->pages = ranges_pages(&h->hot);
	if (err) {
		hotset_free(h);
		h->rewinds = rewinds;
	}
	return err;
}

void hotset_free(struct rw_hotset *h)
{
	ranges_free(&h->known);
	ranges_free(&h->hot);
	ranges_free(&h->probe);
	h->pages = 0;
	h->rewinds = 0;
}
