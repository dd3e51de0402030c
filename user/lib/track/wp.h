/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * userfaultfd write protection of another process, in asynchronous mode: the
 * kernel resolves write faults itself and PAGEMAP_SCAN tells which pages
 * were written since they were last protected.
 *
 * Coverage is taken from the kernel (PAGEMAP_SCAN's PAGE_IS_WPALLOWED), not
 * inferred from maps: munmap, mremap and mmap(MAP_FIXED) drop a registration
 * without a trace in /proc/PID/maps. Scans and syncs are exact when the
 * target does not change its layout meanwhile (stopped or frozen).
 */
#ifndef RW_WP_H
#define RW_WP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "ranges.h"

/*
 * wp_sync() does not arm a single vma larger than this: write-protecting
 * unpopulated memory builds its page tables (2 MiB per GiB), which would
 * be ruinous for huge MAP_NORESERVE reservations such as ASan's shadow.
 */
#define WP_SYNC_MAX_VMA		(64ULL << 30)

struct rw_wp;	/* one per target process (mm) */

/*
 * Inject userfaultfd(O_CLOEXEC | O_NONBLOCK) into pid (again with
 * UFFD_USER_MODE_ONLY on EPERM), take the fd with pidfd_getfd, close the
 * target's copy, enable UFFD_FEATURE_WP_ASYNC | WP_UNPOPULATED and open
 * /proc/PID/pagemap. Nothing is registered yet. -ESRCH if pid is gone or a
 * zombie; other errors are logged naming the step. *out is NULL on failure.
 */
int wp_open(struct rw_wp **out, pid_t pid);
/* The same, injecting through ij, a thread of pid the caller has seized already. */
struct rw_seized;
int wp_open_seized(struct rw_wp **out, pid_t pid, struct rw_seized *ij);
/* NULL-safe. Unregisters every range (if the target still lives), closes the fds. */
void wp_close(struct rw_wp *wp);

/*
 * Register [start, end) (page aligned) for write protection and protect it
 * all (what was written there before is forgotten). The range must be
 * mapped. Returns 0 or the kernel's -errno (e.g. -EINVAL, -EBUSY for a
 * mapping another userfaultfd holds), logged at debug level only: the
 * caller decides. Used by the tests only (the rewind goes through wp_sync()).
 */
int wp_register(struct rw_wp *wp, uint64_t start, uint64_t end);
int wp_unregister(struct rw_wp *wp, uint64_t start, uint64_t end);
/*
 * Write-protect [start, end) again where it is registered: after our own
 * process_vm_writev() or MADV_DONTNEED there. Parts not registered are left
 * alone; parts found to have lost their registration since it was learnt
 * (UFFDIO_WRITEPROTECT's ENOENT: unmapped, replaced, moved) are forgotten
 * as by wp_scan() and wp_unsynced() turns true. 0 or -errno.
 */
int wp_protect(struct rw_wp *wp, uint64_t start, uint64_t end);
/* Coverage was found lost (by wp_scan() or wp_protect()) since the last wp_sync(). */
bool wp_unsynced(const struct rw_wp *wp);
/* Write-protect again every written page of registered memory in [start, end) (one walk). */
int wp_rearm(struct rw_wp *wp, uint64_t start, uint64_t end);
/* The registered ranges (sorted, disjoint), valid until wp next changes. */
const struct rw_ranges *wp_registered(const struct rw_wp *wp);
/* addr lies in a range registered as of the last register/sync/refresh/scan. */
bool wp_covers(const struct rw_wp *wp, uint64_t addr);

/*
 * Re-learn from the kernel which ranges are registered now, over the span
 * of maps. Ranges no longer mapped, or replaced, are forgotten. 0 or -errno.
 */
int wp_refresh(struct rw_wp *wp, const struct rw_maps *maps);
/*
 * wp_refresh(), then register and protect every private writable vma (but
 * [vsyscall]) or part of one that is not covered. Returns how many ranges
 * were newly registered, or -errno. Ranges that cannot be registered are
 * logged (pr_warn, once) and left uncovered (wp_covers() is false there).
 * Once the main thread has exited, /proc/PID/maps is empty: read the maps
 * through a live thread (/proc/TID/maps) or everything is forgotten.
 */
int wp_sync(struct rw_wp *wp, const struct rw_maps *maps);

/*
 * wp_sync() within spans only (sorted, disjoint, page aligned): the
 * kernel's registration is learnt there, the parts of maps' private
 * writable vmas there that are not covered are armed, and what is known of
 * the rest of the address space is kept. For a caller that knows where the
 * layout changed since the last sync (the rewind's layout step) and that
 * wp_unsynced() is false. Returns how many ranges were newly registered, or
 * -errno (then what is known of the spans may be stale: sync it all).
 */
int wp_sync_within(struct rw_wp *wp, const struct rw_maps *maps, const struct rw_ranges *spans);
/*
 * Report every page written since it was last protected, over every
 * registered range: cb(ctx, start, end) per page-aligned region, in
 * ascending order, adjacent regions merged (cb may be NULL). With rearm the
 * reported pages are write-protected again in the same walk (atomically).
 * A registered range found to have lost its registration (its mapping was
 * replaced) is reported whole, as written, and forgotten: its content can
 * no longer be vouched for. Returns the number of pages reported or -errno
 * (then regions already handed to cb may have been re-armed: treat the
 * whole scan as failed).
 * Note that our own process_vm_writev() into covered memory counts as a
 * write: scan with rearm after restoring.
 */
typedef void (*wp_region_cb)(void *ctx, uint64_t start, uint64_t end);
long wp_scan(struct rw_wp *wp, bool rearm, wp_region_cb cb, void *ctx);
/*
 * Only the lost part of wp_scan(): registered ranges that lost their
 * registration, reported whole and forgotten. One cheap query per range
 * (the kernel answers per vma): no page-table walk for written pages.
 * With where, only the registered ranges that overlap it are asked.
 */
long wp_lost(struct rw_wp *wp, const struct rw_ranges *where, wp_region_cb cb, void *ctx);

#endif /* RW_WP_H */
