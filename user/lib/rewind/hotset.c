// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
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

/* Whether this rewind's cycle through the hot set protects the unchanged pages it compares. */
static bool cycle_probes(const struct rw_hotset *h)
{
	return (h->rewinds / HOTSET_SLICES) % (1U << h->backoff) == 0;
}

int hotset_compare_slice(const struct rw_hotset *h, struct rw_ranges *slice)
{
	uint64_t n = h->pages, k = h->rewinds % HOTSET_SLICES;
	uint64_t from = n * k / HOTSET_SLICES, to = n * (k + 1) / HOTSET_SLICES;

	/* Between probing cycles, a sample is enough to see a burst end. */
	if (!cycle_probes(h) && to - from > HOTSET_SAMPLE)
		to = from + HOTSET_SAMPLE;
	return pages_between(&h->hot, from, to, slice);
}

int hotset_split(const struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		 const struct rw_ranges *slice, const struct rw_ranges *changed,
		 struct rw_ranges *hot, struct rw_ranges *cold, struct rw_ranges *probe)
{
	struct rw_ranges known = { 0 }, cand = { 0 }, again = { 0 }, unchanged = { 0 }, given = { 0 };
	bool stale, due;
	int err;

	/* Seen written now: copied, and protected during the invocation. */
	err = ranges_split(copy, ncopy, h->hot.r, h->hot.n, NULL, &known);
	/* Seen written twice in a row. */
	if (!err)
		err = ranges_split(known.r, known.n, h->known.r, h->known.n, &cand, NULL);
	/* The probed pages written again, and the compared ones found changed, stay. */
	if (!err)
		err = ranges_split(known.r, known.n, h->probe.r, h->probe.n, &again, NULL);
	if (!err)
		err = add_all(&cand, &again);
	if (!err)
		err = add_all(&cand, changed);
	/* The rest of the hot set stays unless stale (what the last rewind compared counts too). */
	stale = 2 * (ranges_pages(&again) + h->changed) < ranges_pages(&h->probe) + h->changed;
	if (!err && !stale)
		err = add_all(&cand, &h->hot);
	due = !stale && (cycle_probes(h) || 4 * ranges_pages(changed) < ranges_pages(slice));
	if (!err && due)
		err = ranges_split(slice->r, slice->n, changed->r, changed->n, NULL, &unchanged);
	if (!err)
		err = ranges_split(unchanged.r, unchanged.n, cand.r, cand.n, probe, NULL);
	/*
	 * Given up, but watched: the pages of a stale set are protected as
	 * probes, so those the next invocation writes come straight back
	 * (one fault each, not the two of a page learnt anew).
	 */
	if (!err && stale)
		err = ranges_split(h->hot.r, h->hot.n, cand.r, cand.n, NULL, &given);
	if (!err && stale)
		err = ranges_split(given.r, given.n, copy, ncopy, probe, NULL);
	if (!err)
		err = ranges_split(cand.r, cand.n, probe->r, probe->n, NULL, hot);
	if (!err)
		err = ranges_split(copy, ncopy, hot->r, hot->n, NULL, cold);
	ranges_free(&known);
	ranges_free(&cand);
	ranges_free(&again);
	ranges_free(&unchanged);
	ranges_free(&given);
	return err;
}

int hotset_all_protected(struct rw_ranges *hot, struct rw_ranges *probe)
{
	int err = add_all(probe, hot);

	ranges_free(hot);
	return err;
}

int hotset_commit(struct rw_hotset *h, const struct rw_range *copy, size_t ncopy,
		  struct rw_ranges *hot, struct rw_ranges *probe, const struct rw_ranges *changed)
{
	struct rw_ranges known = { 0 }, again = { 0 };
	unsigned rewinds = h->rewinds + 1, backoff = h->backoff;
	/* Seen written by this invocation: copied, and protected while it ran. */
	int err = ranges_split(copy, ncopy, h->hot.r, h->hot.n, NULL, &known);

	/* Every probe written again: probe less often; one left alone: every cycle. */
	if (!err && h->probe.n)
		err = ranges_split(known.r, known.n, h->probe.r, h->probe.n, &again, NULL);
	if (!err && h->probe.n)
		backoff = ranges_pages(&again) < ranges_pages(&h->probe) ? 0 :
			  backoff < HOTSET_BACKOFF_MAX ? backoff + 1 : backoff;
	ranges_free(&again);
	hotset_free(h);
	h->rewinds = rewinds;
	h->backoff = backoff;
	h->known = known;
	if (hot && probe) {
		h->hot = *hot;
		h->probe = *probe;
		memset(hot, 0, sizeof(*hot));
		memset(probe, 0, sizeof(*probe));
	}
	h->pages = ranges_pages(&h->hot);
	h->changed = hot && probe ? ranges_pages(changed) : 0;
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
	h->changed = 0;
	h->rewinds = 0;
	h->backoff = 0;
}
