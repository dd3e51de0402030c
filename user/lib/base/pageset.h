/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A set of page addresses: an open-addressing hash set of uint64_t keys,
 * sized for the ring-buffer consumer's hot path (one insert per write
 * fault, up to millions of entries). Not thread-safe.
 */
#ifndef RW_PAGESET_H
#define RW_PAGESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_pageset;

/* NULL on allocation failure. */
struct rw_pageset *pageset_new(void);
/* NULL-safe. */
void pageset_free(struct rw_pageset *s);

/* 1 if page was added, 0 if it was already present, -ENOMEM. */
int pageset_add(struct rw_pageset *s, uint64_t page);
/* pageset_has, _count and _clear are for tests. */
bool pageset_has(const struct rw_pageset *s, uint64_t page);
size_t pageset_count(const struct rw_pageset *s);
/* Empty the set, keeping its capacity. */
void pageset_clear(struct rw_pageset *s);

/*
 * Iterate in no particular order: set *it = 0, then call until it returns
 * false. Adding to the set during an iteration invalidates it.
 */
bool pageset_next(const struct rw_pageset *s, size_t *it, uint64_t *page);

/*
 * A sorted (ascending) copy of the set in *out (count entries in *n); the
 * caller frees *out, which is non-NULL on success even for an empty set.
 * 0 or -ENOMEM.
 */
int pageset_sorted(const struct rw_pageset *s, uint64_t **out, size_t *n);

#endif /* RW_PAGESET_H */
