/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lists of address ranges [start, end). Two ways to fill one: append with
 * ranges_add() (regions found in ascending order, or any order followed by
 * ranges_normalize()), or keep it sorted and disjoint on every change with
 * ranges_insert() / ranges_remove() (wp.c's registrations). The lookups
 * need a sorted, disjoint list.
 */
#ifndef RW_RANGES_H
#define RW_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_range {
	uint64_t start, end;
};

struct rw_ranges {
	struct rw_range *r;
	size_t n, cap;
};

/*
 * Append [start, end) (empty: nothing), extending the last range when it
 * ends at start. No sorting nor merging beyond that: ranges_normalize().
 * 0 or -ENOMEM.
 */
int ranges_add(struct rw_ranges *l, uint64_t start, uint64_t end);
/* Append without merging into the last one (ranges whose sources differ). */
int ranges_add_apart(struct rw_ranges *l, uint64_t start, uint64_t end);
void ranges_normalize(struct rw_ranges *l);	/* sort by start, merge overlapping or adjacent */
void ranges_free(struct rw_ranges *l);
uint64_t ranges_pages(const struct rw_ranges *l);	/* 4 KiB pages, ranges page aligned */
/*
 * A wp_scan() callback (wp_region_cb) adding each region to c->ranges. A
 * scan cannot be stopped: the first error is kept in c->err, and a list
 * with a region missing must fail its caller (a written page not copied).
 */
struct rw_ranges_collect {
	struct rw_ranges *ranges;
	int err;
};
void ranges_collect(void *c, uint64_t start, uint64_t end);
/* The parts of sorted, disjoint a inside and outside sorted, disjoint b (either may be NULL). */
int ranges_split(const struct rw_range *a, size_t na, const struct rw_range *b, size_t nb,
		 struct rw_ranges *inside, struct rw_ranges *outside);

/* Sorted, disjoint lists. Index of the first range ending after addr (n if none). */
size_t ranges_search(const struct rw_ranges *l, uint64_t addr);
bool ranges_covers(const struct rw_ranges *l, uint64_t addr);
/* Some of [start, end) lies in a range. */
bool ranges_overlap(const struct rw_ranges *l, uint64_t start, uint64_t end);
/* [start, end) lies within one range. */
bool ranges_contains(const struct rw_ranges *l, uint64_t start, uint64_t end);
/* Add [start, end) in place, merging what it overlaps or touches. 0 or -ENOMEM. */
int ranges_insert(struct rw_ranges *l, uint64_t start, uint64_t end);
/* Take [start, end) out; only splitting a range can fail (-ENOMEM). */
int ranges_remove(struct rw_ranges *l, uint64_t start, uint64_t end);

#endif /* RW_RANGES_H */
