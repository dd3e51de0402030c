/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * PAGEMAP_SCAN (Linux 6.7): which pages of another process are present,
 * written since write-protected, zero, file-backed... in one walk of its
 * page tables. The UAPI is newer than Debian 12's headers: defined here.
 */
#ifndef RW_PAGEMAP_H
#define RW_PAGEMAP_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <linux/fs.h>
#include <linux/types.h>

#ifndef PAGEMAP_SCAN
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PAGE_IS_WPALLOWED
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#endif
#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
#endif

#define RW_PAGE_SIZE		4096ULL
/* What a page absent or zero at a checkpoint reads: writes and compares take it from here. */
extern const uint8_t rw_zero_page[RW_PAGE_SIZE];
/* User addresses end below 2^56 even with 5-level paging; [vsyscall] is above. */
#define RW_USER_ADDR_END	(1ULL << 56)

struct pagemap_query {
	uint64_t flags;		/* PM_SCAN_WP_MATCHING, ... */
	uint64_t inverted;	/* categories tested inverted */
	uint64_t mask;		/* all of these (after inversion) */
	uint64_t anyof;		/* and, if non-zero, one of these */
	uint64_t ret;		/* categories reported to the callback */
};

/* Return non-zero to stop the walk with that value. */
typedef int (*pagemap_region_fn)(void *arg, uint64_t start, uint64_t end, uint64_t categories);

/* /proc/PID/task/TID/pagemap (TID: any live thread; a zombie leader has none). -ESRCH if gone. */
int pagemap_open(pid_t pid, pid_t tid);
/*
 * Walk [start, end) of the process behind fd and hand every matching region
 * to fn in ascending order (one ioctl returns at most 512 regions: goes on
 * from walk_end until end). 0, fn's value, or -errno.
 */
int pagemap_scan(int fd, uint64_t start, uint64_t end, const struct pagemap_query *q,
		 pagemap_region_fn fn, void *arg);

#endif /* RW_PAGEMAP_H */
