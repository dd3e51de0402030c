// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "pageset: "
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pageset.h"

/*
 * Linear probing over a power-of-two table. Slot value 0 means empty, so the
 * key 0 lives in a flag of its own. No deletions, hence no tombstones.
 */
#define PAGESET_MIN_CAP	1024

struct rw_pageset {
	uint64_t *slot;
	size_t cap;		/* power of two */
	size_t used;		/* nonzero keys in slot[] */
	bool has_zero;
};

/* murmur3's finaliser: page addresses have 12 constant low bits and runs of neighbours. */
static inline uint64_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

struct rw_pageset *pageset_new(void)
{
	struct rw_pageset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->slot = calloc(PAGESET_MIN_CAP, sizeof(*s->slot));
	if (!s->slot) {
		free(s);
		return NULL;
	}
	s->cap = PAGESET_MIN_CAP;
	return s;
}

void pageset_free(struct rw_pageset *s)
{
	if (!s)
		return;
	free(s->slot);
	free(s);
}

/* Insert a nonzero key known to be absent; the table has room. */
static void insert_new(uint64_t *slot, size_t mask, uint64_t page)
{
	size_t i = hash64(page) & mask;

	while (slot[i])
		i = (i + 1) & mask;
	slot[i] = page;
}

static int grow(struct rw_pageset *s)
{
	size_t ncap = s->cap * 2;
	uint64_t *nslot;

	if (ncap > SIZE_MAX / sizeof(*nslot))
		return -ENOMEM;
	nslot = calloc(ncap, sizeof(*nslot));
	if (!nslot) {
		pr_err("cannot grow to %zu entries\n", ncap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i])
			insert_new(nslot, ncap - 1, s->slot[i]);
	free(s->slot);
	s->slot = nslot;
	s->cap = ncap;
	return 0;
}

int pageset_add(struct rw_pageset *s, uint64_t page)
{
	size_t mask, i;

	if (!page) {
		if (s->has_zero)
			return 0;
		s->has_zero = true;
		return 1;
	}
	mask = s->cap - 1;
	for (i = hash64(page) & mask; s->slot[i]; i = (i + 1) & mask)
		if (s->slot[i] == page)
			return 0;
	/* Keep the load at most 3/4: probe runs stay short. */
	if ((s->used + 1) * 4 > s->cap * 3) {
		int err = grow(s);

		if (err)
			return err;
		insert_new(s->slot, s->cap - 1, page);
	} else {
		s->slot[i] = page;
	}
	s->used++;
	return 1;
}

bool pageset_has(const struct rw_pageset *s, uint64_t page)
{
	size_t mask = s->cap - 1;

	if (!page)
		return s->has_zero;
	for (size_t i = hash64(page) & mask; s->slot[i]; i = (i + 1) & mask)
		if (s->slot[i] == page)
			return true;
	return false;
}

size_t pageset_count(const struct rw_pageset *s)
{
	return s->used + s->has_zero;
}

void pageset_clear(struct rw_pageset *s)
{
	memset(s->slot, 0, s->cap * sizeof(*s->slot));
	s->used = 0;
	s->has_zero = false;
}

/* *it walks the slots; index cap stands for the zero key. */
bool pageset_next(const struct rw_pageset *s, size_t *it, uint64_t *page)
{
	size_t i = *it;

	for (; i < s->cap; i++) {
		if (s->slot[i]) {
			*page = s->slot[i];
			*it = i + 1;
			return true;
		}
	}
	if (i == s->cap && s->has_zero) {
		*page = 0;
		*it = i + 1;
		return true;
	}
	*it = s->cap + 1;
	return false;
}

/*
 * LSD radix sort, one byte per pass; a pass where every key has the same
 * byte (the page offset bits, the high bits of user addresses) is skipped.
 */
static int radix_sort(uint64_t *a, size_t n)
{
	static const size_t R = 256;
	size_t (*hist)[256];
	uint64_t *tmp, *src = a, *dst;

	if (n < 2)
		return 0;
	hist = calloc(8, sizeof(*hist));
	tmp = malloc(n * sizeof(*tmp));
	if (!hist || !tmp) {
		free(hist);
		free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 8; b++)
			hist[b][(a[i] >> (8 * b)) & 0xff]++;
	dst = tmp;
	for (int b = 0; b < 8; b++) {
		size_t sum = 0, *h = hist[b];
		uint64_t *t;

		if (h[(src[0] >> (8 * b)) & 0xff] == n)
			continue;
		for (size_t d = 0; d < R; d++) {
			size_t c = h[d];

			h[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[h[(src[i] >> (8 * b)) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	free(hist);
	free(tmp);
	return 0;
}

int pageset_sorted(const struct rw_pageset *s, uint64_t **out, size_t *n)
{
	size_t count = pageset_count(s), k = 0, it = 0;
	uint64_t *a, page;
	int err;

	/* At least one element: callers may take NULL for failure. */
	a = malloc((count ? count : 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	while (pageset_next(s, &it, &page))
		a[k++] = page;
	err = radix_sort(a, k);
	if (err) {
		free(a);
		return err;
	}
	*out = a;
	*n = k;
	return 0;
}
