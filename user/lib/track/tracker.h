/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The BPF tracker: loads and attaches the programs, keeps the filter maps,
 * and hands every ring-buffer record to one callback.
 */
#ifndef RW_TRACKER_H
#define RW_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rw_tracker;

/* Called for each record; return 0 to continue, negative to stop consuming. */
typedef int (*rw_event_fn)(void *ctx, const void *data, size_t size);

struct rw_tracker_opts {
	size_t ringbuf_bytes;	/* 0: 16 MiB. Rounded up to a power of two. */
	size_t max_tgids;	/* 0: 8192 tracked processes */
	int verbose;		/* show libbpf's debug messages */
};

int tracker_open(struct rw_tracker **out, const struct rw_tracker_opts *opts,
		 rw_event_fn fn, void *ctx);
void tracker_close(struct rw_tracker *t);

/* An fd for epoll: readable when records wait. */
int tracker_epoll_fd(const struct rw_tracker *t);
/* Consume every waiting record. Returns records consumed or -errno. */
int tracker_drain(struct rw_tracker *t);

int tracker_track_tgid(struct rw_tracker *t, pid_t tgid, uint32_t session);
int tracker_untrack_tgid(struct rw_tracker *t, pid_t tgid);
int tracker_track_cgroup(struct rw_tracker *t, uint64_t cgid, uint32_t session);
/* Remove every tgid and cgroup entry of a session (including inherited children). */
int tracker_untrack_session(struct rw_tracker *t, uint32_t session);

/* Events lost because the ring buffer was full, since the counter was last reset. */
uint64_t tracker_dropped(const struct rw_tracker *t, uint32_t session);
void tracker_reset_dropped(struct rw_tracker *t, uint32_t session);
/*
 * A counter that moves whenever the session's write faults may miss a
 * written page: a GUP write by one of its processes (O_DIRECT, io_uring,
 * AIO, vmsplice, AF_XDP), a write into one of its processes by another
 * (process_vm_writev, ptrace pokes, /proc/PID/mem; slot 0, for every
 * session, when the written process could not be resolved), a CLONE_VM
 * child, a drop.
 */
uint64_t tracker_unvouched(const struct rw_tracker *t, uint32_t session);
/* io_uring, AIO, AF_XDP calls of the session since it began (reset with the drops): sticky. */
uint64_t tracker_unvouched_async(const struct rw_tracker *t, uint32_t session);

/* FUTEX_REQUEUE and FUTEX_CMP_REQUEUE calls of the session's processes: a growing count. */
uint64_t tracker_futex_requeues(const struct rw_tracker *t, uint32_t session);

/* The observe iterators' programs (bpf/observe_iter.bpf.c), to attach per process: iterobs.h. */
enum rw_iter_kind { RW_ITER_FDS, RW_ITER_TASKS, RW_ITER_SLEEP, RW_ITER_KINDS };
int tracker_iter_prog_fd(const struct rw_tracker *t, enum rw_iter_kind kind);

#endif /* RW_TRACKER_H */
