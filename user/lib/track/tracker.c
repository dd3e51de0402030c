// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "tracker: "
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "rewind/events.h"
#include "tracker.h"
#include "tracker.skel.h"

/* A per-session counter array of the programs (BPF_F_MMAPABLE), mapped read-only. */
struct counters {
	const volatile __u64 *v;
	size_t bytes;
	__u32 n;
};

struct rw_tracker {
	struct tracker_bpf *skel;
	bool attached;
	struct ring_buffer *rb;
	rw_event_fn fn;
	void *ctx;
	struct counters dropped, unvouched, requeues;
};

static int counters_map(struct counters *c, const struct bpf_map *map)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	c->n = bpf_map__max_entries(map);
	c->bytes = ((size_t)c->n * sizeof(__u64) + page - 1) / page * page;
	p = mmap(NULL, c->bytes, PROT_READ, MAP_SHARED, bpf_map__fd(map), 0);
	if (p == MAP_FAILED) {
		c->v = NULL;
		return -errno;
	}
	c->v = p;
	return 0;
}

static void counters_unmap(struct counters *c)
{
	if (c->v)
		munmap((void *)c->v, c->bytes);
	c->v = NULL;
}

/* The programs add with atomic instructions: a plain load of the word is one value. */
static __u64 counter(const struct counters *c, __u32 i)
{
	return i < c->n ? __atomic_load_n(&c->v[i], __ATOMIC_RELAXED) : 0;
}

static int libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (level == LIBBPF_DEBUG && !libbpf_verbose)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	rw_log(level == LIBBPF_WARN ? RW_LOG_WARN : RW_LOG_DEBUG, "libbpf: %s", buf);
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct rw_tracker *t = ctx;

	return t->fn(t->ctx, data, size);
}

static size_t round_pow2(size_t v)
{
	size_t p = 4096;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * Records wake the daemon once this many bytes wait (a wake per record cost
 * a fault 3.4x). Small enough that what a fault-heavy invocation logs is
 * mostly drained while it runs, on another CPU, rather than on its rewind's
 * path (~3,000 faults a request: 85-90 µs of drain at the rewind with a
 * quarter of the ring as the mark, ~40 µs less with this); large enough
 * (~1,600 fault records) that most invocations wake nobody before their
 * rewind. Never above a quarter of the ring, which keeps room for the
 * records that arrive while the daemon is busy.
 */
#define RINGBUF_WAKEUP_BYTES	(64u << 10)

static uint64_t ringbuf_wakeup_bytes(size_t ring_bytes)
{
	return ring_bytes / 4 < RINGBUF_WAKEUP_BYTES ? ring_bytes / 4 : RINGBUF_WAKEUP_BYTES;
}

int tracker_open(struct rw_tracker **out, const struct rw_tracker_opts *opts,
		 rw_event_fn fn, void *ctx)
{
	struct rw_tracker *t;
	int err;

	libbpf_verbose = opts && opts->verbose;
	libbpf_set_print(libbpf_print);

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->ctx = ctx;

	t->skel = tracker_bpf__open();
	if (!t->skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	err = bpf_map__set_max_entries(t->skel->maps.events,
				       round_pow2(opts && opts->ringbuf_bytes ? opts->ringbuf_bytes
									      : 16u << 20));
	if (!err && opts && opts->max_tgids)
		err = bpf_map__set_max_entries(t->skel->maps.tracked_tgids, opts->max_tgids);
	if (err) {
		pr_err("cannot size maps: %s\n", strerror(-err));
		goto cleanup;
	}
	/* Iterators run on demand, filtered to one process (iterobs.c): never by attach. */
	bpf_program__set_autoattach(t->skel->progs.rw_iter_fds, false);
	bpf_program__set_autoattach(t->skel->progs.rw_iter_tasks, false);
	bpf_program__set_autoattach(t->skel->progs.rw_iter_sleep, false);
	err = tracker_bpf__load(t->skel);
	if (err) {
		pr_err("cannot load the BPF programs (root and a BTF kernel are needed): %s\n",
		       strerror(-err));
		goto cleanup;
	}
	err = counters_map(&t->dropped, t->skel->maps.dropped);
	if (!err)
		err = counters_map(&t->unvouched, t->skel->maps.unvouched);
	if (!err)
		err = counters_map(&t->requeues, t->skel->maps.futex_requeues);
	if (err) {
		pr_err("cannot map the programs' counters: %s\n", strerror(-err));
		goto cleanup;
	}
	t->skel->data->wakeup_bytes = ringbuf_wakeup_bytes(bpf_map__max_entries(t->skel->maps.events));
	t->skel->bss->rw_self_tgid = getpid();
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->rb) {
		err = -errno;
		pr_err("cannot map the ring buffer: %s\n", strerror(-err));
		goto cleanup;
	}
	*out = t;
	return 0;
cleanup:
	tracker_close(t);
	return err;
}

void tracker_close(struct rw_tracker *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	counters_unmap(&t->dropped);
	counters_unmap(&t->unvouched);
	counters_unmap(&t->requeues);
	tracker_bpf__destroy(t->skel);
	free(t);
}

/*
 * The programs are attached only while something is tracked: enabling any
 * syscall tracepoint sends every syscall of every task through the kernel's
 * slow path, so an idle rewindd must cost the machine nothing.
 */
static int attach_if_needed(struct rw_tracker *t)
{
	int err;

	if (t->attached)
		return 0;
	err = tracker_bpf__attach(t->skel);
	if (err) {
		pr_err("cannot attach the BPF programs: %s\n", strerror(-err));
		tracker_bpf__detach(t->skel);
		return err;
	}
	t->attached = true;
	pr_debug("programs attached\n");
	return 0;
}

static bool map_empty(struct bpf_map *map)
{
	__u64 key = 0;

	return bpf_map_get_next_key(bpf_map__fd(map), NULL, &key) != 0;
}

static void detach_if_idle(struct rw_tracker *t)
{
	if (!t->attached || !map_empty(t->skel->maps.tracked_tgids) ||
	    !map_empty(t->skel->maps.tracked_cgroups))
		return;
	tracker_bpf__detach(t->skel);
	t->attached = false;
	pr_debug("nothing tracked: programs detached\n");
}

int tracker_epoll_fd(const struct rw_tracker *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int tracker_drain(struct rw_tracker *t)
{
	int n = ring_buffer__consume(t->rb);

	return n == -EINTR ? 0 : n;
}

int tracker_track_tgid(struct rw_tracker *t, pid_t tgid, uint32_t session)
{
	struct rw_tracked v = { .session = session };
	__u32 key = tgid;
	int err = attach_if_needed(t);

	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.tracked_tgids), &key, &v, BPF_ANY)) {
		err = -errno;
		detach_if_idle(t);
		return err;
	}
	return 0;
}

int tracker_untrack_tgid(struct rw_tracker *t, pid_t tgid)
{
	__u32 key = tgid;

	if (bpf_map_delete_elem(bpf_map__fd(t->skel->maps.tracked_tgids), &key) && errno != ENOENT)
		return -errno;
	detach_if_idle(t);
	return 0;
}

static int count_cgroups(struct rw_tracker *t)
{
	int fd = bpf_map__fd(t->skel->maps.tracked_cgroups);
	__u64 key, next;
	__u32 n = 0;
	int err;

	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		n++;
	}
	t->skel->bss->nr_tracked_cgroups = n;
	return 0;
}

int tracker_track_cgroup(struct rw_tracker *t, uint64_t cgid, uint32_t session)
{
	__u64 key = cgid;
	__u32 v = session;
	int err = attach_if_needed(t);

	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.tracked_cgroups), &key, &v, BPF_ANY)) {
		err = -errno;
		detach_if_idle(t);
		return err;
	}
	return count_cgroups(t);
}

/*
 * Delete every entry whose value starts with this session id (both filter
 * maps' values do). Deleting during a walk restarts it, so find, delete, repeat.
 */
static void delete_session_entries(int fd, uint32_t session)
{
	__u64 key = 0, next = 0, value;	/* keys are u32 or u64: zero the high half */

	for (;;) {
		void *prev = NULL;
		bool found = false;

		while (!bpf_map_get_next_key(fd, prev, &next)) {
			key = next;
			prev = &key;
			value = 0;
			if (!bpf_map_lookup_elem(fd, &key, &value) && (__u32)value == session) {
				found = true;
				break;
			}
		}
		if (!found)
			return;
		bpf_map_delete_elem(fd, &key);
	}
}

int tracker_untrack_session(struct rw_tracker *t, uint32_t session)
{
	delete_session_entries(bpf_map__fd(t->skel->maps.tracked_tgids), session);
	delete_session_entries(bpf_map__fd(t->skel->maps.tracked_cgroups), session);
	count_cgroups(t);
	detach_if_idle(t);
	return 0;
}

uint64_t tracker_dropped(const struct rw_tracker *t, uint32_t session)
{
	return counter(&t->dropped, session);
}

void tracker_reset_dropped(struct rw_tracker *t, uint32_t session)
{
	__u32 key = session;
	__u64 v = 0;

	bpf_map_update_elem(bpf_map__fd(t->skel->maps.dropped), &key, &v, BPF_ANY);
	key = RW_MAX_SESSIONS + session;
	bpf_map_update_elem(bpf_map__fd(t->skel->maps.unvouched), &key, &v, BPF_ANY);
}

uint64_t tracker_unvouched(const struct rw_tracker *t, uint32_t session)
{
	return tracker_dropped(t, session) + counter(&t->unvouched, 0) +
	       counter(&t->unvouched, session);
}

uint64_t tracker_unvouched_async(const struct rw_tracker *t, uint32_t session)
{
	return counter(&t->unvouched, RW_MAX_SESSIONS + session);
}

uint64_t tracker_futex_requeues(const struct rw_tracker *t, uint32_t session)
{
	return counter(&t->requeues, session);
}

int tracker_iter_prog_fd(const struct rw_tracker *t, enum rw_iter_kind kind)
{
	switch (kind) {
	case RW_ITER_FDS:
		return bpf_program__fd(t->skel->progs.rw_iter_fds);
	case RW_ITER_TASKS:
		return bpf_program__fd(t->skel->progs.rw_iter_tasks);
	case RW_ITER_SLEEP:
		return bpf_program__fd(t->skel->progs.rw_iter_sleep);
	case RW_ITER_KINDS:
		break;
	}
	return -EINVAL;
}
