// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hot set's decisions, rewind by rewind: hot after two copies in a row;
 * one slice compared each time, its changed pages never protected; its
 * unchanged ones protected as a probe, less often while probes come back
 * written; a probe left alone drops out; a stale set (a one-off burst) is
 * caught by the compare and given up, and what it held that is written
 * again is hot at once.
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

enum compared { ALL_CHANGED, NONE_CHANGED, FIRST_UNCHANGED };

struct step {
	struct rw_ranges slice, changed, hot, cold, probe;
};

/*
 * One rewind that copied copy[0..n) (the hot set, and what the invocation
 * wrote under protection): the compare, the split (checked: hot and cold
 * partition the copy, the probe is cold and holds no changed page).
 */
static void rewind_copying(struct rw_hotset *h, const struct rw_range *copy, size_t n,
			   enum compared compared, struct step *s)
{
	struct rw_ranges both = { 0 };
	uint64_t total = 0;

	memset(s, 0, sizeof(*s));
	assert_int_equal(hotset_compare_slice(h, &s->slice), 0);
	for (size_t i = 0; i < s->slice.n && compared != NONE_CHANGED; i++) {
		uint64_t a = s->slice.r[i].start + (i == 0 && compared == FIRST_UNCHANGED ? P : 0);

		if (a < s->slice.r[i].end)
			assert_int_equal(ranges_add(&s->changed, a, s->slice.r[i].end), 0);
	}
	assert_int_equal(hotset_split(h, copy, n, &s->slice, &s->changed, &s->hot, &s->cold,
				      &s->probe), 0);
	for (size_t i = 0; i < n; i++)
		total += (copy[i].end - copy[i].start) / P;
	assert_int_equal(ranges_pages(&s->hot) + ranges_pages(&s->cold), total);
	assert_int_equal(ranges_split(s->hot.r, s->hot.n, s->cold.r, s->cold.n, &both, NULL), 0);
	assert_int_equal(both.n, 0);
	assert_int_equal(ranges_split(s->probe.r, s->probe.n, s->cold.r, s->cold.n, &both, NULL), 0);
	assert_int_equal(ranges_pages(&both), ranges_pages(&s->probe));
	ranges_free(&both);
	assert_int_equal(ranges_split(s->probe.r, s->probe.n, s->changed.r, s->changed.n, &both, NULL), 0);
	assert_int_equal(both.n, 0);
	ranges_free(&both);
}

static void step_done(struct rw_hotset *h, const struct rw_range *copy, size_t n, struct step *s)
{
	assert_int_equal(hotset_commit(h, copy, n, &s->hot, &s->probe, &s->changed), 0);
	ranges_free(&s->slice);
	ranges_free(&s->changed);
	ranges_free(&s->hot);
	ranges_free(&s->cold);
	ranges_free(&s->probe);
}

static void hot_after_two_copies(void **state)
{
	const struct rw_range copy[] = { R(0, HOTSET_SLICES), R(100, 100 + HOTSET_SLICES) };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, copy, 2, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.slice), 0);	/* nothing hot to compare yet */
	assert_int_equal(ranges_pages(&s.hot), 0);	/* first time: nothing is hot */
	step_done(&h, copy, 2, &s);
	rewind_copying(&h, copy, 2, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), 2 * HOTSET_SLICES);
	assert_int_equal(ranges_pages(&s.cold), 0);
	step_done(&h, copy, 2, &s);
	assert_int_equal(h.pages, 2 * HOTSET_SLICES);
	/* The third rewind compares slice 2 of the 2 * HOTSET_SLICES pages: 4-5; changed, not protected. */
	rewind_copying(&h, copy, 2, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.slice), 2);
	assert_true(s.slice.r[0].start == 4 * P && s.slice.r[0].end == 6 * P);
	assert_int_equal(ranges_pages(&s.probe), 0);
	assert_int_equal(ranges_pages(&s.hot), 2 * HOTSET_SLICES);
	step_done(&h, copy, 2, &s);
	hotset_free(&h);
}

/* An unchanged page is probed; written again it stays hot, left alone it drops out. */
static void unchanged_page_probed(void **state)
{
	const struct rw_range copy[] = { R(0, 4 * HOTSET_SLICES) };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, copy, 1, ALL_CHANGED, &s);
	step_done(&h, copy, 1, &s);
	rewind_copying(&h, copy, 1, ALL_CHANGED, &s);
	step_done(&h, copy, 1, &s);
	/* Slice 2: pages 8-11; 8 holds the image's bytes: protected, 9-11 stay hot. */
	rewind_copying(&h, copy, 1, FIRST_UNCHANGED, &s);
	assert_true(s.slice.r[0].start == 8 * P && ranges_pages(&s.slice) == 4);
	assert_int_equal(ranges_pages(&s.probe), 1);
	assert_true(s.probe.r[0].start == 8 * P && s.probe.r[0].end == 9 * P);
	assert_int_equal(ranges_pages(&s.hot), 4 * HOTSET_SLICES - 1);
	step_done(&h, copy, 1, &s);
	/* Page 8 written again (it faulted: in the copy): hot again. */
	rewind_copying(&h, copy, 1, FIRST_UNCHANGED, &s);
	assert_true(ranges_covers(&s.hot, 8 * P));
	step_done(&h, copy, 1, &s);
	/* Slice 4 (16-19): 16 probed; the invocation leaves it alone: it drops out, the set stays. */
	rewind_copying(&h, copy, 1, FIRST_UNCHANGED, &s);
	assert_true(s.probe.r[0].start == 16 * P);
	step_done(&h, copy, 1, &s);
	{
		const struct rw_range without16[] = { R(0, 16), R(17, 4 * HOTSET_SLICES) };

		rewind_copying(&h, without16, 2, ALL_CHANGED, &s);
		assert_false(ranges_covers(&s.hot, 16 * P));
		assert_int_equal(ranges_pages(&s.hot), 4 * HOTSET_SLICES - 1);
		step_done(&h, without16, 2, &s);
	}
	hotset_free(&h);
}

/*
 * A steady set the size of Node graph's whose compares find some pages
 * unchanged but whose probes always come back written (a Python heap:
 * reference counts taken and dropped): probes back off, to one cycle in
 * 2^HOTSET_BACKOFF_MAX.
 */
static void probes_back_off(void **state)
{
	const struct rw_range copy[] = { R(0, 2000) };
	const unsigned cycle = HOTSET_SLICES, n = cycle << (HOTSET_BACKOFF_MAX + 1);
	uint64_t probed_late = 0, compared_whole = 0;
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		rewind_copying(&h, copy, 1, FIRST_UNCHANGED, &s);
		if (i >= 2)
			assert_int_equal(ranges_pages(&s.hot) + ranges_pages(&s.probe), 2000);
		if (i >= cycle) {
			probed_late += ranges_pages(&s.probe);
			compared_whole += ranges_pages(&s.slice) > HOTSET_SAMPLE;
		}
		step_done(&h, copy, 1, &s);
	}
	assert_int_equal(h.backoff, HOTSET_BACKOFF_MAX);
	/* After the first cycle, one cycle in 2^HOTSET_BACKOFF_MAX probes one page a slice... */
	assert_int_equal(probed_late, cycle);
	/* ...and compares whole slices; the others compare a sample. */
	assert_int_equal(compared_whole, cycle);
	hotset_free(&h);
}

#define BURST_PAGES	1000

/*
 * A one-off burst: 1000 pages copied twice (hot), then left alone: the
 * compared slice holds the image's bytes and is probed, the probe is not
 * written, and the set is stale at the rewind after. *given: the pages it
 * gave up (all but the probed slice), which that rewind protects as probes.
 */
static void burst_until_stale(struct rw_hotset *h, struct rw_ranges *given)
{
	const struct rw_range burst[] = { R(0, BURST_PAGES) };
	struct step s;

	rewind_copying(h, burst, 1, ALL_CHANGED, &s);
	step_done(h, burst, 1, &s);
	rewind_copying(h, burst, 1, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), BURST_PAGES);
	step_done(h, burst, 1, &s);
	/* Let the probes back off fully (compares all changed: no probe). */
	h->backoff = HOTSET_BACKOFF_MAX;
	h->rewinds = HOTSET_SLICES + 2;
	/* The burst is over: the compared slice holds the image's bytes: probed at once. */
	rewind_copying(h, burst, 1, NONE_CHANGED, &s);
	assert_true(ranges_pages(&s.probe) > 0);
	assert_int_equal(ranges_pages(&s.probe), ranges_pages(&s.slice));
	step_done(h, burst, 1, &s);
	/* The probe is not written: the set is stale, given up; what it held is watched. */
	assert_int_equal(ranges_split(burst, 1, h->probe.r, h->probe.n, NULL, given), 0);
	rewind_copying(h, given->r, given->n, NONE_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), 0);
	assert_int_equal(ranges_pages(&s.probe), ranges_pages(given));
	step_done(h, given->r, given->n, &s);
}

/* After the burst the invocations write 10 pages it never held: learnt anew, two copies. */
static void burst_given_up(void **state)
{
	const struct rw_range small[] = { R(BURST_PAGES + 100, BURST_PAGES + 110) };
	struct rw_ranges given = { 0 };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	burst_until_stale(&h, &given);
	/* The stale rewind saw nothing written by a fault (all it copied was unprotected): start over. */
	rewind_copying(&h, small, 1, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), 0);
	assert_int_equal(ranges_pages(&s.cold), 10);
	step_done(&h, small, 1, &s);
	rewind_copying(&h, small, 1, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), 10);
	step_done(&h, small, 1, &s);
	ranges_free(&given);
	hotset_free(&h);
}

/*
 * A stale set whose pages are partly written again (buffers that move
 * between requests): those are hot at the first rewind that sees them
 * written, not the second; the rest stay out.
 */
static void stale_set_watched(void **state)
{
	const struct rw_range again[] = { R(100, 200) };
	struct rw_ranges given = { 0 };
	struct rw_ranges in = { 0 };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	burst_until_stale(&h, &given);
	assert_int_equal(ranges_split(again, 1, given.r, given.n, &in, NULL), 0);
	assert_int_equal(ranges_pages(&in), 100);	/* all of it was given up */
	ranges_free(&in);
	rewind_copying(&h, again, 1, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), 100);
	assert_int_equal(ranges_pages(&s.cold), 0);
	step_done(&h, again, 1, &s);
	assert_int_equal(h.pages, 100);
	ranges_free(&given);
	hotset_free(&h);
}

/*
 * The re-arm walked a span and protected the hot pages with the rest: they
 * become probes, and those written again are hot at the next rewind.
 */
static void walk_protected_hot_watched(void **state)
{
	const struct rw_range copy[] = { R(0, 16) }, half[] = { R(0, 8) };
	struct rw_hotset h = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, copy, 1, ALL_CHANGED, &s);
	step_done(&h, copy, 1, &s);
	rewind_copying(&h, copy, 1, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), 16);
	assert_int_equal(hotset_all_protected(&s.hot, &s.probe), 0);
	assert_int_equal(s.hot.n, 0);
	assert_int_equal(ranges_pages(&s.probe), 16);
	step_done(&h, copy, 1, &s);
	assert_int_equal(h.pages, 0);
	/* Half of it written again (under protection): hot at once, the rest tracked. */
	rewind_copying(&h, half, 1, ALL_CHANGED, &s);
	assert_int_equal(ranges_pages(&s.hot), 8);
	assert_int_equal(ranges_pages(&s.cold), 0);
	step_done(&h, half, 1, &s);
	assert_int_equal(h.pages, 8);
	hotset_free(&h);
}

/* A rewind that could not keep a hot set (NULL) leaves everything tracked. */
static void commit_without_hot(void **state)
{
	const struct rw_range copy[] = { R(0, 16) };
	struct rw_hotset h = { 0 };
	struct rw_ranges slice = { 0 };
	struct step s;

	(void)state;
	rewind_copying(&h, copy, 1, ALL_CHANGED, &s);
	step_done(&h, copy, 1, &s);
	assert_int_equal(hotset_commit(&h, copy, 1, NULL, NULL, NULL), 0);
	assert_int_equal(h.pages, 0);
	assert_int_equal(h.probe.n, 0);
	assert_int_equal(hotset_compare_slice(&h, &slice), 0);
	assert_int_equal(slice.n, 0);
	hotset_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hot_after_two_copies),
		cmocka_unit_test(unchanged_page_probed),
		cmocka_unit_test(probes_back_off),
		cmocka_unit_test(burst_given_up),
		cmocka_unit_test(stale_set_watched),
		cmocka_unit_test(walk_protected_hot_watched),
		cmocka_unit_test(commit_without_hot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
