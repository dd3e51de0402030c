// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "attrs: "
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attrs.h"
#include "log.h"

#define IOPRIO_WHO_PROCESS	1
#define SCHED_FLAGS_KEPT	0x07	/* RESET_ON_FORK, RECLAIM, DL_OVERRUN */

/* The kernel's struct sched_attr up to its first version (48 bytes: no util clamps). */
struct kernel_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

static const char *const rlimit_names[RW_NRLIMITS] = {
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
	"RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
	"RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

const char *attrs_rlimit_name(int resource)
{
	return resource >= 0 && resource < RW_NRLIMITS ? rlimit_names[resource] : "RLIMIT_?";
}

const char *attrs_kind_name(enum rw_attr_kind kind)
{
	switch (kind) {
	case RW_ATTR_RLIMIT:	return "rlimit";
	case RW_ATTR_SCHED:	return "sched";
	case RW_ATTR_NICE:	return "nice";
	case RW_ATTR_AFFINITY:	return "affinity";
	case RW_ATTR_IOPRIO:	return "ioprio";
	}
	return "?";
}

static int read_thread(struct rw_thread_attrs *t, char *why, size_t whylen)
{
	struct kernel_sched_attr sa = { 0 };
	long v;

	errno = 0;
	v = getpriority(PRIO_PROCESS, t->tid);
	if (v == -1 && errno)
		return rw_why(why, whylen, -errno, "thread %d: getpriority", t->tid);
	t->nice = v;
	if (syscall(SYS_sched_getattr, t->tid, &sa, sizeof(sa), 0))
		return rw_why(why, whylen, -errno, "thread %d: sched_getattr", t->tid);
	t->sched.policy = sa.sched_policy;
	t->sched.flags = sa.sched_flags & SCHED_FLAGS_KEPT;
	t->sched.priority = sa.sched_priority;
	t->sched.runtime = sa.sched_runtime;
	t->sched.deadline = sa.sched_deadline;
	t->sched.period = sa.sched_period;
	if (sched_getaffinity(t->tid, sizeof(t->affinity), &t->affinity))
		return rw_why(why, whylen, -errno, "thread %d: sched_getaffinity", t->tid);
	v = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, t->tid);
	if (v < 0)
		return rw_why(why, whylen, -errno, "thread %d: ioprio_get", t->tid);
	t->ioprio = v;
	return 0;
}

static int limit_parse(const char *s, rlim_t *v)
{
	char *end;

	if (!strncmp(s, "unlimited", 9)) {
		*v = RLIM_INFINITY;
		return 0;
	}
	errno = 0;
	*v = strtoull(s, &end, 10);
	return end == s || errno ? -EINVAL : 0;
}

/*
 * prlimit() on a process of another uid needs CAP_SYS_RESOURCE, which a
 * rewindd with only CAP_SYS_PTRACE lacks; /proc/PID/limits needs ptrace
 * access only. One line per resource, in RLIMIT_* order, soft and hard at
 * fixed columns (fs/proc/base.c).
 */
static int read_limits_file(pid_t tgid, struct rlimit *rlim)
{
	char path[64], line[256];
	int res = -1, err = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", tgid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && res < RW_NRLIMITS && !err) {
		if (res >= 0 && (strlen(line) < 48 || limit_parse(line + 26, &rlim[res].rlim_cur) ||
				 limit_parse(line + 47, &rlim[res].rlim_max)))
			err = -EINVAL;
		res++;
	}
	fclose(f);
	return err ? err : res == RW_NRLIMITS ? 0 : -EINVAL;
}

int attrs_read(pid_t tgid, const pid_t *tids, size_t n, struct rw_attrs *out, char *why,
	       size_t whylen)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (int res = 0; res < RW_NRLIMITS && !err; res++) {
		if (!prlimit(tgid, res, NULL, &out->rlim[res]))
			continue;
		err = errno != EPERM ? -errno : read_limits_file(tgid, out->rlim);
		if (err)
			return rw_why(why, whylen, err, "pid %d: reading %s", tgid,
				      rlimit_names[res]);
		break;
	}
	out->threads = calloc(n ? n : 1, sizeof(*out->threads));
	if (!out->threads)
		return rw_why(why, whylen, -ENOMEM, "pid %d: attributes", tgid);
	for (size_t i = 0; i < n && !err; i++) {
		out->threads[i].tid = tids[i];
		err = read_thread(&out->threads[i], why, whylen);
		out->nthreads++;
	}
	if (err)
		attrs_free(out);
	return err;
}

void attrs_free(struct rw_attrs *a)
{
	free(a->threads);
	memset(a, 0, sizeof(*a));
}

const struct rw_thread_attrs *attrs_thread(const struct rw_attrs *a, pid_t tid)
{
	size_t lo = 0, hi = a->nthreads;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a->threads[mid].tid == tid)
			return &a->threads[mid];
		if (a->threads[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool attrs_differ(enum rw_attr_kind kind, int resource, const struct rw_attrs *want,
		  const struct rw_thread_attrs *want_t, const struct rw_attrs *now,
		  const struct rw_thread_attrs *now_t)
{
	switch (kind) {
	case RW_ATTR_RLIMIT:
		return want->rlim[resource].rlim_cur != now->rlim[resource].rlim_cur ||
		       want->rlim[resource].rlim_max != now->rlim[resource].rlim_max;
	case RW_ATTR_SCHED:
		return want_t->sched.policy != now_t->sched.policy ||
		       want_t->sched.flags != now_t->sched.flags ||
		       want_t->sched.priority != now_t->sched.priority ||
		       want_t->sched.runtime != now_t->sched.runtime ||
		       want_t->sched.deadline != now_t->sched.deadline ||
		       want_t->sched.period != now_t->sched.period;
	case RW_ATTR_NICE:
		return want_t->nice != now_t->nice;
	case RW_ATTR_AFFINITY:
		return !CPU_EQUAL(&want_t->affinity, &now_t->affinity);
	case RW_ATTR_IOPRIO:
		return want_t->ioprio != now_t->ioprio;
	}
	return true;
}

static void limit_str(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* The first 64 CPUs of a set, as a mask (enough to tell two sets apart in a message). */
static unsigned long long cpus64(const cpu_set_t *s)
{
	unsigned long long m = 0;

	for (int c = 0; c < 64; c++)
		if (CPU_ISSET(c, s))
			m |= 1ULL << c;
	return m;
}

void attrs_describe(enum rw_attr_kind kind, int resource, const struct rw_attrs *want,
		    const struct rw_thread_attrs *want_t, const struct rw_attrs *now,
		    const struct rw_thread_attrs *now_t, char *buf, size_t len)
{
	char a[24], b[24], c[24], d[24];

	switch (kind) {
	case RW_ATTR_RLIMIT:
		limit_str(now->rlim[resource].rlim_cur, a, sizeof(a));
		limit_str(now->rlim[resource].rlim_max, b, sizeof(b));
		limit_str(want->rlim[resource].rlim_cur, c, sizeof(c));
		limit_str(want->rlim[resource].rlim_max, d, sizeof(d));
		snprintf(buf, len, "%s %s/%s, want %s/%s", attrs_rlimit_name(resource), a, b, c, d);
		return;
	case RW_ATTR_SCHED:
		snprintf(buf, len, "thread %d scheduling policy %u priority %u flags %#llx, want "
			 "policy %u priority %u flags %#llx", want_t->tid, now_t->sched.policy,
			 now_t->sched.priority, (unsigned long long)now_t->sched.flags,
			 want_t->sched.policy, want_t->sched.priority,
			 (unsigned long long)want_t->sched.flags);
		return;
	case RW_ATTR_NICE:
		snprintf(buf, len, "thread %d nice %d, want %d", want_t->tid, now_t->nice,
			 want_t->nice);
		return;
	case RW_ATTR_AFFINITY:
		snprintf(buf, len, "thread %d CPU affinity %#llx, want %#llx", want_t->tid,
			 cpus64(&now_t->affinity), cpus64(&want_t->affinity));
		return;
	case RW_ATTR_IOPRIO:
		snprintf(buf, len, "thread %d ioprio class %d data %d, want class %d data %d",
			 want_t->tid, now_t->ioprio >> 13, now_t->ioprio & 0x1fff,
			 want_t->ioprio >> 13, want_t->ioprio & 0x1fff);
		return;
	}
	snprintf(buf, len, "?");
}

int attrs_set(enum rw_attr_kind kind, int resource, pid_t tgid, const struct rw_attrs *want,
	      const struct rw_thread_attrs *want_t)
{
	struct kernel_sched_attr sa = { .size = sizeof(sa) };

	switch (kind) {
	case RW_ATTR_RLIMIT:
		return prlimit(tgid, resource, &want->rlim[resource], NULL) ? -errno : 0;
	case RW_ATTR_SCHED:
		sa.sched_policy = want_t->sched.policy;
		sa.sched_flags = want_t->sched.flags;
		sa.sched_nice = want_t->nice;
		sa.sched_priority = want_t->sched.priority;
		sa.sched_runtime = want_t->sched.runtime;
		sa.sched_deadline = want_t->sched.deadline;
		sa.sched_period = want_t->sched.period;
		return syscall(SYS_sched_setattr, want_t->tid, &sa, 0) ? -errno : 0;
	case RW_ATTR_NICE:
		return setpriority(PRIO_PROCESS, want_t->tid, want_t->nice) ? -errno : 0;
	case RW_ATTR_AFFINITY:
		return sched_setaffinity(want_t->tid, sizeof(want_t->affinity), &want_t->affinity) ?
		       -errno : 0;
	case RW_ATTR_IOPRIO:
		return syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, want_t->tid, want_t->ioprio) ?
		       -errno : 0;
	}
	return -EINVAL;
}
