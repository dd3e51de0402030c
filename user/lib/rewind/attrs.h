/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Process attributes the kernel keeps per process (rlimits) and per thread
 * (nice, scheduling policy and priority, CPU affinity, I/O priority). All
 * are read and set by rewindd directly on the target task (prlimit,
 * getpriority / setpriority, sched_getattr / sched_setattr,
 * sched_getaffinity / sched_setaffinity, ioprio_get / ioprio_set): no
 * injection. The comparison and its wording are pure (plan.c, verify.c).
 */
#ifndef RW_ATTRS_H
#define RW_ATTRS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define RW_NRLIMITS	16	/* RLIMIT_CPU .. RLIMIT_RTTIME */

/* What sched_getattr says, less the fields a rewind does not set (util clamps). */
struct rw_sched {
	uint32_t policy;
	uint64_t flags;		/* SCHED_FLAG_RESET_ON_FORK and the deadline flags */
	uint32_t priority;	/* real-time policies */
	uint64_t runtime, deadline, period;	/* SCHED_DEADLINE */
};

struct rw_thread_attrs {
	pid_t tid;
	int nice;
	struct rw_sched sched;
	cpu_set_t affinity;
	int ioprio;
};

struct rw_attrs {
	struct rlimit rlim[RW_NRLIMITS];
	struct rw_thread_attrs *threads;	/* ascending tid */
	size_t nthreads;
};

enum rw_attr_kind {
	RW_ATTR_RLIMIT,
	RW_ATTR_SCHED,		/* before NICE: sched_setattr sets the nice value too */
	RW_ATTR_NICE,
	RW_ATTR_AFFINITY,
	RW_ATTR_IOPRIO,
};

/* Every rlimit of tgid and the attributes of each of tids[0..n) (ascending). 0 or -errno, why set. */
int attrs_read(pid_t tgid, const pid_t *tids, size_t n, struct rw_attrs *out, char *why,
	       size_t whylen);
void attrs_free(struct rw_attrs *a);
const struct rw_thread_attrs *attrs_thread(const struct rw_attrs *a, pid_t tid);

/* Whether one attribute differs; resource for RW_ATTR_RLIMIT, else the thread's. */
bool attrs_differ(enum rw_attr_kind kind, int resource, const struct rw_attrs *want,
		  const struct rw_thread_attrs *want_t, const struct rw_attrs *now,
		  const struct rw_thread_attrs *now_t);
/* "RLIMIT_NOFILE 64/64, want 1024/524288", "thread 12 nice 10, want 0", ... */
void attrs_describe(enum rw_attr_kind kind, int resource, const struct rw_attrs *want,
		    const struct rw_thread_attrs *want_t, const struct rw_attrs *now,
		    const struct rw_thread_attrs *now_t, char *buf, size_t len);
const char *attrs_rlimit_name(int resource);
const char *attrs_kind_name(enum rw_attr_kind kind);

/* Set one attribute of the target back to want (tid: the thread's; tgid for rlimits). 0 or -errno. */
int attrs_set(enum rw_attr_kind kind, int resource, pid_t tgid, const struct rw_attrs *want,
	      const struct rw_thread_attrs *want_t);

#endif /* RW_ATTRS_H */
