// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pagemap.h"
#include "ranges.h"

static int reserve(struct rw_ranges *l, size_t more)
{
	struct rw_range *nr;
	size_t cap;

	if (l->n + more <= l->cap)
		return 0;
	cap = l->cap ? l->cap * 2 : 16;
	while (cap < l->n + more)
		cap *= 2;
	nr = realloc(l->r, cap * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	l->r = nr;
	l->cap = cap;
	return 0;
}

int ranges_add(struct rw_ranges *l, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	if (l->n && l->r[l->n - 1].end == start) {
		l->r[l->n - 1].end = end;	/* the common case: ascending and adjacent */
		return 0;
	}
	if (reserve(l, 1))
		return -ENOMEM;
	l->r[l->n++] = (struct rw_range){ start, end };
	return 0;
}

int ranges_add_apart(struct rw_ranges *l, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	if (reserve(l, 1))
		return -ENOMEM;
	l->r[l->n++] = (struct rw_range){ start, end };
	return 0;
}

void ranges_collect(void *c, uint64_t start, uint64_t end)
{
	struct rw_ranges_collect *rc = c;

	if (!rc->err)
		rc->err = ranges_add(rc->ranges, start, end);
}

static int cmp_range(const void *a, const void *b)
{
	const struct rw_range *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

void ranges_normalize(struct rw_ranges *l)
{
	size_t out = 0;

	size_t sorted = 1;

	if (!l->n)
		return;
	/* Lists are mostly built in order (a scan, a plan): then no sort at all. */
	while (sorted < l->n && cmp_range(&l->r[sorted - 1], &l->r[sorted]) <= 0)
		sorted++;
	if (sorted < l->n)
		qsort(l->r, l->n, sizeof(*l->r), cmp_range);
	for (size_t i = 1; i < l->n; i++) {
		if (l->r[i].start <= l->r[out].end) {
			if (l->r[i].end > l->r[out].end)
				l->r[out].end = l->r[i].end;
		} else {
			l->r[++out] = l->r[i];
		}
	}
	l->n = out + 1;
}

void ranges_free(struct rw_ranges *l)
{
	free(l->r);
	memset(l, 0, sizeof(*l));
}

int ranges_split(const struct rw_range *a, size_t na, const struct rw_range *b, size_t nb,
		 struct rw_ranges *inside, struct rw_ranges *outside)
{
	size_t j = 0;
	int err = 0;

	for (size_t i = 0; i < na && !err; i++) {
		uint64_t cur = a[i].start;

		while (j < nb && b[j].end <= cur)
			j++;
		for (size_t k = j; k < nb && b[k].start < a[i].end && !err; k++) {
			uint64_t s = b[k].start > cur ? b[k].start : cur;
			uint64_t e = b[k].end < a[i].end ? b[k].end : a[i].end;

			if (outside)
				err = ranges_add(outside, cur, s);
			if (!err && inside)
				err = ranges_add(inside, s, e);
			cur = e;
		}
		if (!err && outside)
			err = ranges_add(outside, cur, a[i].end);
	}
	return err;
}

uint64_t ranges_pages(const struct rw_ranges *l)
{
	uint64_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += (l->r[i].end - l->r[i].start) / RW_PAGE_SIZE;
	return n;
}

/* ---- sorted, disjoint lists ---------------------------------------------- */

size_t ranges_search(const struct rw_ranges *l, uint64_t addr)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool ranges_covers(const struct rw_ranges *l, uint64_t addr)
{
	size_t i = ranges_search(l, addr);

	return i < l->n && l->r[i].start <= addr;
}

bool ranges_overlap(const struct rw_ranges *l, uint64_t start, uint64_t end)
{
	size_t i = ranges_search(l, start);

	return i < l->n && l->r[i].start < end && start < end;
}

bool ranges_contains(const struct rw_ranges *l, uint64_t start, uint64_t end)
{
	size_t i = ranges_search(l, start);

	return i < l->n && l->r[i].start <= start && end <= l->r[i].end;
}

int ranges_insert(struct rw_ranges *l, uint64_t start, uint64_t end)
{
	size_t i, j;

	if (start >= end)
		return 0;
	/* first range with end >= start: it may touch us */
	i = start ? ranges_search(l, start - 1) : 0;
	for (j = i; j < l->n && l->r[j].start <= end; j++) {
		if (l->r[j].start < start)
			start = l->r[j].start;
		if (l->r[j].end > end)
			end = l->r[j].end;
	}
	if (j == i) {
		if (reserve(l, 1))
			return -ENOMEM;
		memmove(&l->r[i + 1], &l->r[i], (l->n - i) * sizeof(*l->r));
		l->n++;
	} else if (j > i + 1) {
		memmove(&l->r[i + 1], &l->r[j], (l->n - j) * sizeof(*l->r));
		l->n -= j - i - 1;
	}
	l->r[i] = (struct rw_range){ start, end };
	return 0;
}

int ranges_remove(struct rw_ranges *l, uint64_t start, uint64_t end)
{
	size_t i, j;

	if (start >= end)
		return 0;
	i = ranges_search(l, start);
	if (i < l->n && l->r[i].start < start && l->r[i].end > end) {
		if (reserve(l, 1))
			return -ENOMEM;
		memmove(&l->r[i + 2], &l->r[i + 1], (l->n - i - 1) * sizeof(*l->r));
		l->r[i + 1] = (struct rw_range){ end, l->r[i].end };
		l->r[i].end = start;
		l->n++;
		return 0;
	}
	if (i < l->n && l->r[i].start < start) {
		l->r[i].end = start;
		i++;
	}
	for (j = i; j < l->n && l->r[j].end <= end; j++)
		;
	if (j < l->n && l->r[j].start < end)
		l->r[j].start = end;
	if (j > i)	/* an empty list has no array to move within */
		memmove(&l->r[i], &l->r[j], (l->n - j) * sizeof(*l->r));
	l->n -= j - i;
	return 0;
}
