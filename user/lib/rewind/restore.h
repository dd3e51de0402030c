/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Execute a restore plan on a frozen process, in the plan's order: threads
 * created since the checkpoint exit first (their exit writes memory), then
 * brk and the layout, then page contents, then fds, cwd, umask, signal
 * dispositions, timers, and last every thread's registers, FPU state and
 * signal mask. Re-arming write protection is the caller's (it owns wp).
 */
#ifndef RW_RESTORE_H
#define RW_RESTORE_H

#include <stdint.h>

#include "clock.h"
#include "freeze.h"
#include "image.h"
#include "plan.h"
#include "remote.h"

struct rw_restore_stats {
	uint64_t layout_ns, copy_ns, inject_ns, regs_ns;
	uint64_t injected;		/* syscalls run in the target */
	uint64_t zero_filled_pages;	/* dropped by writing zeros rather than madvise */
	uint64_t restorer_pages;	/* copied the restorer's way (the in-target restorer) */
	uint64_t beside_pages;		/* of those, copied by us beside it (copy_beside) */
};

/*
 * In two halves: threads and layout, then contents and state. In between
 * the caller registers re-created mappings for write protection: that is
 * when the kernel can still merge them with their neighbours (an anonymous
 * mapping that got pages has its own anon_vma and never merges again).
 * 0, or -errno with the cause logged and in why (the first step that
 * failed). r must inject through a thread of f that the plan keeps.
 */
int restore_apply_layout(const struct rw_plan *p, const struct rw_proc_image *img,
			 struct rw_frozen *f, struct rw_remote *r, struct rw_restore_stats *st,
			 char *why, size_t whylen);
int restore_apply_contents(const struct rw_plan *p, const struct rw_proc_image *img,
			   struct rw_frozen *f, struct rw_remote *r, struct rw_restore_stats *st,
			   char *why, size_t whylen);


#endif /* RW_RESTORE_H */
