/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * userfaultfd write protection of another process, in asynchronous mode:
 * the kernel resolves write faults itself and PAGEMAP_SCAN tells which pages
 * were written since they were last protected (DESIGN §3's recipe).
 */
#ifndef RW_WP_H
#define RW_WP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"

struct rw_wp;

/*
 * Create a userfaultfd inside pid (injected through ptrace), take it over
 * with pidfd_getfd and enable async write protection. Errors name the step.
 */
int wp_open(struct rw_wp **out, pid_t pid);
void wp_close(struct rw_wp *wp);	/* NULL-safe */

/*
 * Re-learn which private writable mappings of `maps` are armed now, from
 * the kernel (munmap, mremap and re-mmap drop the registration).
 */
int wp_refresh(struct rw_wp *wp, const struct rw_maps *maps);
/* wp_refresh, then arm every private writable mapping that is not. Returns how many were armed. */
int wp_sync(struct rw_wp *wp, const struct rw_maps *maps);
/* addr lies in a mapping that was armed at the last refresh/sync. */
bool wp_covers(const struct rw_wp *wp, uint64_t addr);

/*
 * Every page written since it was last protected, as [start, end) regions,
 * over the whole address space; rearm protects them again atomically.
 * Returns the number of pages or -errno.
 */
typedef void (*wp_region_cb)(void *ctx, uint64_t start, uint64_t end);
long wp_scan(struct rw_wp *wp, bool rearm, wp_region_cb cb, void *ctx);

#endif /* RW_WP_H */
