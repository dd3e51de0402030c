/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every bench needs and would otherwise write again: the median of a
 * sample (of a copy: callers keep their order) and an integer knob from the
 * environment; the clock is the engine's (rw_now_ns). Header-only: each
 * bench is one program built from one file.
 */
#ifndef REWINDD_BENCH_UTIL_H
#define REWINDD_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The lower median of v[0..n); 0 for an empty sample. */
static inline uint64_t bench_median(const uint64_t *v, int n)
{
	uint64_t *s, m;

	if (n <= 0)
		return 0;
	s = malloc(n * sizeof(*s));
	if (!s) {
		fprintf(stderr, "bench: out of memory for a median of %d\n", n);
		exit(1);
	}
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), bench_cmp_u64);
	m = s[(n - 1) / 2];
	free(s);
	return m;
}

/* Integer NAME from the environment, DEF when unset; outside lo..hi: exits 2 (read knobs first). */
static inline int bench_envint(const char *name, int def, int lo, int hi)
{
	const char *s = getenv(name);
	char *end;
	long v = def;

	if (s) {
		v = strtol(s, &end, 0);
		if (!*s || *end)
			v = (long)lo - 1;
	}
	if (v < lo || v > hi) {
		fprintf(stderr, "bench: %s must be an integer in %d..%d (got '%s')\n", name, lo, hi, s);
		exit(2);
	}
	return (int)v;
}

#endif
