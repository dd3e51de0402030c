/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One vma of a process at a time, in binary: the PROCMAP_QUERY ioctl on an
 * open /proc/PID/maps (Linux 6.11). About 1 us a vma, against formatting and
 * parsing the whole of maps (~0.6 us a vma, every vma): for reading the few
 * vmas of a large layout that can have changed.
 */
#ifndef RW_PROCMAP_H
#define RW_PROCMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"

/*
 * /proc/PID/maps opened for queries: an fd, or -EOPNOTSUPP (a kernel
 * without PROCMAP_QUERY), -ESRCH (gone), -errno. The fd answers for the
 * address space pid had when it was opened: an exec makes it stale.
 */
int procmap_open(pid_t pid);
/*
 * The vma holding addr, or with next the first one above it, into out as
 * /proc/PID/maps shows it (proc.h's fields, the name truncated to fit).
 * 0, -ENOENT (none), -ESRCH (the address space is gone), -errno.
 */
int procmap_query(int fd, uint64_t addr, bool next, struct rw_vma *out);

#endif /* RW_PROCMAP_H */
