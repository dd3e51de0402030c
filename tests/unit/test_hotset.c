// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hot set's decisions, rewind by rewind: hot after two copies in a row,
 * one slice probed each time, a probed page left alone drops out, a stale
 * set (a one-off burst) is given up at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hotset.h"

#define P 4096ULL
#define R(a, b) { (a) * P, (b) * P }

struct step {
	struct rw_ranges hot, cold, probe;
};

/* One rewind that copied copy[0..n): split, then commit as a rewind that kept the hot set. */
static void rewind_copying(struct rw_hotset *h, const struct rw_range *copy, size_t n, struct step *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(hotset_split(h, copy, n, &s->hot, &s->cold, &s->probe), 0);
	/* hot and cold partition the copy; the probe is cold. */
	{
		struct rw_ranges both = { 0 };
		uint64_t total = 0;

		for (size_t i = 0; i < n; i++)
			total += (copy[i].end - copy[i].start) / P;
		assert_int_equal(ranges_pages(&s->hot) + ranges_pages(&s->cold), total);
		assert_int_equal(ranges_split(s->hot.r, s->hot.n, s->cold.r, s->cold.n, &both, NULL), 0);
		assert_int_equal(both.n, 0);
		assert_int_equal(ranges_split(s->probe.r, s->probe.n, s->cold.r, s->cold.n, &both, NULL), 0);
		assert_int_equal(ranges_pages(&both), ranges_pages(&s->probe));
		ranges_free(&both);
	}
}

static void step_done(struct rw_hotset *h, const struct rw_range *copy, size_t n, struct step *s)
{
	assert_int_equal(hotset_commit(h, copy, n, &s->hot, &s->probe), 0);
	ranges_free(&s->hot);
	ranges_free(&s->cold);
	ranges_free(&s->probe);
}

static void hot_after_two_copies(void **state)
{
	/* 2 * HOTSET_SLICES pages: a slice is 2 pages. */
	const struct rw_range copy[] = { R(0, HOTSET_SLICES), R(100, 100 + HOTSET_SLICES) };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, copy, 2, &s);
	assert_int_equal(ranges_pages(&s.hot), 0);	/* first time: nothing is hot */
	step_done(&h, copy, 2, &s);
	rewind_copying(&h, copy, 2, &s);
	/* 2 * HOTSET_SLICES candidates, slice 1 probed: 2 pages protected, the rest left hot. */
	assert_int_equal(ranges_pages(&s.probe), 2);
	assert_int_equal(ranges_pages(&s.hot), 2 * HOTSET_SLICES - 2);
	assert_true(s.probe.r[0].start == 2 * P && s.probe.r[0].end == 4 * P);
	step_done(&h, copy, 2, &s);
	assert_int_equal(h.pages, 2 * HOTSET_SLICES - 2);
	hotset_free(&h);
}

/* A probed page the invocation did not write is not copied again: it leaves the hot set. */
static void probe_left_alone_drops_out(void **state)
{
	const struct rw_range copy[] = { R(0, 2 * HOTSET_SLICES) };
	const struct rw_range without[] = { R(0, 2), R(4, 2 * HOTSET_SLICES) };	/* 2-3 not written */
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, copy, 1, &s);
	step_done(&h, copy, 1, &s);
	rewind_copying(&h, copy, 1, &s);	/* probes pages 2-3 */
	step_done(&h, copy, 1, &s);
	rewind_copying(&h, without, 2, &s);
	/* Of the 2 probed pages none was written again: the set is stale, given up. */
	assert_int_equal(ranges_pages(&s.hot), 0);
	step_done(&h, without, 2, &s);
	hotset_free(&h);
}

/* Probed pages written again keep the set: only pages really written stay hot. */
static void probe_written_again_keeps(void **state)
{
	const struct rw_range copy[] = { R(0, 2 * HOTSET_SLICES) };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	for (int i = 0; i < 2 * HOTSET_SLICES; i++) {
		rewind_copying(&h, copy, 1, &s);
		if (i >= 1)
			assert_int_equal(ranges_pages(&s.hot), 2 * HOTSET_SLICES - 2);
		step_done(&h, copy, 1, &s);
	}
	hotset_free(&h);
}

/* A one-off burst: 1000 pages twice, then the invocations write 10. */
static void burst_given_up(void **state)
{
	const uint64_t b = 1000, slice = b / HOTSET_SLICES;	/* slice 1: [slice, 2 * slice) */
	const struct rw_range burst[] = { R(0, b) }, small[] = { R(0, 10) };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, burst, 1, &s);
	step_done(&h, burst, 1, &s);
	rewind_copying(&h, burst, 1, &s);
	assert_int_equal(ranges_pages(&s.hot), b - slice);
	step_done(&h, burst, 1, &s);
	/* Unprotected, the hot pages come back in the copy whether written or not; the probe was not written. */
	{
		struct rw_range seen[] = { R(0, slice), R(2 * slice, b) };

		rewind_copying(&h, seen, 2, &s);
		assert_int_equal(ranges_pages(&s.hot), 0);
		step_done(&h, seen, 2, &s);
	}
	/* The stale rewind saw nothing written (all it copied was unprotected): start over. */
	rewind_copying(&h, small, 1, &s);
	assert_int_equal(ranges_pages(&s.hot), 0);
	assert_int_equal(ranges_pages(&s.cold), 10);
	step_done(&h, small, 1, &s);
	rewind_copying(&h, small, 1, &s);
	assert_int_equal(ranges_pages(&s.hot) + ranges_pages(&s.probe), 10);
	step_done(&h, small, 1, &s);
	hotset_free(&h);
}

/*
 * A steady hot set the size of Node graph's (~2000 pages written by every
 * request): each rewind protects only a small probe, so the function takes
 * few write-protect faults a request (1/8 of it was 250, +5 ms on 5 ms).
 */
static void steady_probe_small(void **state)
{
	const struct rw_range copy[] = { R(0, 2000) };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	for (int i = 0; i < 100; i++) {
		rewind_copying(&h, copy, 1, &s);
		if (i >= 1) {
			assert_true(ranges_pages(&s.probe) <= 2000 / 32 + 1);
			assert_int_equal(ranges_pages(&s.hot) + ranges_pages(&s.probe), 2000);
		}
		step_done(&h, copy, 1, &s);
	}
	hotset_free(&h);
}

/* A rewind that could not keep a hot set (NULL) leaves everything tracked. */
static void commit_without_hot(void **state)
{
	const struct rw_range copy[] = { R(0, 16) };
	struct rw_hotset h = { 0 };
	struct rw_ranges probe = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, copy, 1, &s);
	step_done(&h, copy, 1, &s);
	assert_int_equal(hotset_commit(&h, copy, 1, NULL, &probe), 0);
	assert_int_equal(h.pages, 0);
	assert_int_equal(h.probe.n, 0);
	hotset_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hot_after_two_copies),
		cmocka_unit_test(probe_left_alone_drops_out),
		cmocka_unit_test(probe_written_again_keeps),
		cmocka_unit_test(steady_probe_small),
		cmocka_unit_test(burst_given_up),
		cmocka_unit_test(commit_without_hot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
