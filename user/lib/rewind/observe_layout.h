/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The layout now, read only where it can differ from the checkpoint's.
 *
 * A layout call (mmap, munmap, mprotect, mremap, madvise, PR_SET_VMA) names
 * the range it changes, brk the break it moved to from the checkpoint's,
 * and the log holds every one of the invocation's.
 * Many functions map and unmap a buffer each request and end with the
 * checkpoint's layout; reading /proc/PID/maps whole for that was the
 * largest cost of their rewind's observation. Instead: a window around
 * each named range, widened until no vma of either layout crosses its
 * ends (the kernel merges a new vma into a neighbour, a call splits one),
 * read vma by vma with procmap_query; the checkpoint's vmas elsewhere.
 */
#ifndef RW_OBSERVE_LAYOUT_H
#define RW_OBSERVE_LAYOUT_H

#include <stdbool.h>

#include "image.h"
#include "observe.h"
#include "proc.h"

/* More named ranges than this: one read of the maps is cheaper than the queries. */
#define LAYOUT_WINDOWS_MAX	64

struct rw_layout_now {
	bool same;		/* the windows hold the checkpoint's vmas: img->maps is the layout */
	struct rw_maps maps;	/* otherwise the layout, our mappings left out */
	bool tmap_intact;	/* the store's mapping is where and as it was mapped */
	bool area_intact;	/* the restorer's area likewise */
};

/*
 * The layout of img's process (stopped) through maps_fd (procmap.h), given
 * what its log says (layout_touched, brk_lo and brk_hi, faulted; the caller
 * checks that no call left it unbounded). 0 and *out; -EAGAIN when the log
 * does not bound the change: a write fault outside the checkpoint's vmas
 * and the windows (a stack that grew has no layout call), more than
 * LAYOUT_WINDOWS_MAX ranges; -errno (-EBADF: maps_fd is -1 and a window
 * must be read). On an error the caller reads the maps whole. Without a
 * layout call there is no window: the checkpoint's layout (same), unless a
 * write fault fell outside it.
 */
int observe_layout(const struct rw_proc_image *img, int maps_fd,
		   const struct rw_log_facts *facts, struct rw_layout_now *out);

#endif /* RW_OBSERVE_LAYOUT_H */
