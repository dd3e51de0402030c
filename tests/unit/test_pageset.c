// SPDX-License-Identifier: GPL-2.0-only
/* The page-address hash set: dedup, the 0 key, growth, clear, order, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pageset.h"

#define PAGE 4096ULL

static int setup(void **state)
{
	*state = pageset_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	pageset_free(*state);
	return 0;
}

static void dedup(void **state)
{
	struct rw_pageset *s = *state;

	assert_int_equal(pageset_count(s), 0);
	assert_false(pageset_has(s, 0x7f0000001000));
	assert_int_equal(pageset_add(s, 0x7f0000001000), 1);
	assert_int_equal(pageset_add(s, 0x7f0000001000), 0);
	assert_int_equal(pageset_add(s, 0x7f0000002000), 1);
	assert_int_equal(pageset_add(s, UINT64_MAX & ~(PAGE - 1)), 1);
	assert_int_equal(pageset_add(s, 0x7f0000002000), 0);
	assert_int_equal(pageset_count(s), 3);
	assert_true(pageset_has(s, 0x7f0000001000));
	assert_true(pageset_has(s, UINT64_MAX & ~(PAGE - 1)));
	assert_false(pageset_has(s, 0x7f0000003000));
}

static void zero_key(void **state)
{
	struct rw_pageset *s = *state;
	uint64_t *a;
	size_t n;

	assert_false(pageset_has(s, 0));
	assert_int_equal(pageset_add(s, 0), 1);
	assert_int_equal(pageset_add(s, 0), 0);
	assert_true(pageset_has(s, 0));
	assert_int_equal(pageset_count(s), 1);
	assert_int_equal(pageset_add(s, PAGE), 1);
	assert_int_equal(pageset_count(s), 2);
	assert_int_equal(pageset_sorted(s, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_true(a[0] == 0 && a[1] == PAGE);
	free(a);
}

/*
 * Distinct page addresses scattered below 1 << 46: multiplying by an odd
 * constant permutes the integers modulo 1 << 34.
 */
static uint64_t scatter(uint64_t i)
{
	return ((i * 0x9e3779b97f4a7c15ULL) & ((1ULL << 34) - 1)) * PAGE;
}

static void growth(void **state)
{
	struct rw_pageset *s = *state;
	const uint64_t N = 1000000;

	/* A contiguous run (a heap, above 1 << 46) and scattered pages (mmaps), with repeats. */
	for (uint64_t i = 0; i < N / 2; i++)
		assert_int_equal(pageset_add(s, 0x555500000000ULL + i * PAGE), 1);
	for (uint64_t i = 0; i < N / 2; i++)
		assert_int_equal(pageset_add(s, scatter(i)), 1);
	for (uint64_t i = 0; i < N / 2; i += 7) {
		assert_int_equal(pageset_add(s, 0x555500000000ULL + i * PAGE), 0);
		assert_int_equal(pageset_add(s, scatter(i)), 0);
	}
	assert_int_equal(pageset_count(s), N);
	for (uint64_t i = 0; i < N / 2; i++) {
		assert_true(pageset_has(s, 0x555500000000ULL + i * PAGE));
		assert_true(pageset_has(s, scatter(i)));
	}
	assert_false(pageset_has(s, 0x555500000000ULL + N / 2 * PAGE));
}

static void clear(void **state)
{
	struct rw_pageset *s = *state;
	size_t it = 0;
	uint64_t p;

	for (uint64_t i = 0; i < 5000; i++)
		pageset_add(s, i * PAGE);
	assert_int_equal(pageset_count(s), 5000);
	pageset_clear(s);
	assert_int_equal(pageset_count(s), 0);
	assert_false(pageset_has(s, 0));
	assert_false(pageset_has(s, 10 * PAGE));
	assert_false(pageset_next(s, &it, &p));
	/* Usable again after a clear. */
	assert_int_equal(pageset_add(s, 10 * PAGE), 1);
	assert_int_equal(pageset_add(s, 0), 1);
	assert_int_equal(pageset_count(s), 2);
}

static void sorted(void **state)
{
	struct rw_pageset *s = *state;
	const size_t N = 100000;
	uint64_t *a;
	size_t n;

	assert_int_equal(pageset_sorted(s, &a, &n), 0);
	assert_non_null(a);
	assert_int_equal(n, 0);
	free(a);

	for (uint64_t i = 0; i < N; i++)
		pageset_add(s, scatter(i) | ((i & 1) ? 0xffff800000000000ULL : 0));
	pageset_add(s, 0);
	pageset_add(s, UINT64_MAX & ~(PAGE - 1));
	assert_int_equal(pageset_sorted(s, &a, &n), 0);
	assert_int_equal(n, pageset_count(s));
	assert_true(a[0] == 0);
	assert_true(a[n - 1] == (UINT64_MAX & ~(PAGE - 1)));
	for (size_t i = 1; i < n; i++)
		assert_true(a[i - 1] < a[i]);
	for (size_t i = 0; i < n; i++)
		assert_true(pageset_has(s, a[i]));
	free(a);

	/* One element: nothing to sort, still a copy. */
	pageset_clear(s);
	pageset_add(s, 42 * PAGE);
	assert_int_equal(pageset_sorted(s, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_true(a[0] == 42 * PAGE);
	free(a);
}

static void iterate(void **state)
{
	struct rw_pageset *s = *state;
	const size_t N = 20000;
	struct rw_pageset *seen = pageset_new();
	size_t it = 0, k = 0;
	uint64_t p;

	assert_non_null(seen);
	for (uint64_t i = 0; i < N; i++)
		pageset_add(s, i * PAGE);	/* includes 0 */
	while (pageset_next(s, &it, &p)) {
		assert_true(p % PAGE == 0 && p < N * PAGE);
		assert_int_equal(pageset_add(seen, p), 1);	/* never twice */
		k++;
	}
	assert_int_equal(k, N);
	assert_int_equal(pageset_count(seen), N);
	/* The end is sticky. */
	assert_false(pageset_next(s, &it, &p));
	pageset_free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(zero_key, setup, teardown),
		cmocka_unit_test_setup_teardown(growth, setup, teardown),
		cmocka_unit_test_setup_teardown(clear, setup, teardown),
		cmocka_unit_test_setup_teardown(sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(iterate, setup, teardown),
	};

	pageset_free(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
