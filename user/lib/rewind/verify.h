/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `rewind --verify`: compare a frozen, restored process with its
 * checkpoint image, byte for byte and field by field, before it runs again.
 */
#ifndef RW_VERIFY_H
#define RW_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "freeze.h"
#include "image.h"
#include "remote.h"

/* At most this many differences are listed; the count goes on. */
#define RW_VERIFY_MAX_LISTED	32

struct rw_verify_result {
	uint64_t differences;
	char *listed[RW_VERIFY_MAX_LISTED];
	size_t nlisted;
	uint64_t pages_compared;
};

/*
 * Compare memory (every page of every private mapping the image speaks
 * for), layout, thread set, registers, FPU state, signal masks, fds, cwd,
 * umask, signal dispositions, timers, rlimits and thread attributes
 * (nice, scheduling, affinity, ioprio), and the size and contents of every
 * shared memory object of the image (shmem.h). Returns 0 when the comparison
 * could be made (check res->differences) or -errno.
 */
int verify_process(const struct rw_proc_image *img, struct rw_frozen *f, struct rw_remote *r,
		   struct rw_verify_result *res);
void verify_result_free(struct rw_verify_result *res);

/*
 * Part of verify_process, pure: each of the n children the process has now
 * (live or zombie; comm[i] names now[i]) that is not one of the image's
 * children at the checkpoint is a difference: the rewind left it behind.
 */
void verify_children(const struct rw_proc_image *img, const pid_t *now,
		     const char (*comm)[16], size_t n, struct rw_verify_result *res);

#endif /* RW_VERIFY_H */
