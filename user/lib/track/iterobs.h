/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The observe iterators of one process (bpf/observe_iter.bpf.c): attached
 * once with its tgid as filter, each read is bpf_iter_create + read() +
 * close, one record (include/rewind/iterobs.h) per fd or per thread.
 */
#ifndef RW_ITEROBS_H_USER
#define RW_ITEROBS_H_USER

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "rewind/iterobs.h"
#include "tracker.h"

struct rw_iterobs;

/* Attach the iterators to tgid (Linux 6.1: the pid filter). 0 or -errno. */
int iterobs_open(const struct rw_tracker *t, pid_t tgid, struct rw_iterobs **out);
void iterobs_close(struct rw_iterobs *it);
pid_t iterobs_tgid(const struct rw_iterobs *it);

/*
 * One pass of an iterator: *out points into it's buffer, valid until the
 * next read of the same kind. 0 or -errno.
 */
int iterobs_read_fds(struct rw_iterobs *it, const struct rw_iter_fd **out, size_t *n);
int iterobs_read_tasks(struct rw_iterobs *it, const struct rw_iter_task **out, size_t *n);
int iterobs_read_sleep(struct rw_iterobs *it, const struct rw_iter_sleep **out, size_t *n);

#endif /* RW_ITEROBS_H_USER */
