/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by every tracker BPF object: the maps (defined once, in
 * tracker.bpf.c, which sets RW_DEFINE_MAPS; extern everywhere else), the
 * tracking filter and the ring-buffer helpers. The objects are linked into
 * one skeleton by `bpftool gen object`.
 */
#ifndef RW_COMMON_BPF_H
#define RW_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "rewind/events.h"
#include "rewind/syscalls.h"

#ifdef RW_DEFINE_MAPS
#define RW_MAP
#else
#define RW_MAP extern
#endif

/* tgid -> struct rw_tracked. Sized by user space before load. */
RW_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct rw_tracked);
} tracked_tgids SEC(".maps");

/* cgroup id (inode of the cgroup v2 directory) -> session id. */
RW_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RW_MAX_SESSIONS);
	__type(key, __u64);
	__type(value, __u32);
} tracked_cgroups SEC(".maps");

/*
 * Events that did not fit in the ring buffer, per session. Never silent.
 * This and the other per-session counters below are mmapable: user space
 * reads them as memory, with no syscall, at every rewind.
 */
RW_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, RW_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

/* Size set by user space before load (a power of two pages). */
RW_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/*
 * Writes into tracked memory that raise no fault (GUP: O_DIRECT, io_uring,
 * AIO, another process's process_vm_writev...), per session (the written
 * process's); slot 0 counts the writes into another process whose target
 * could not be resolved. The rewind scans for written pages when its
 * session's or slot 0 moved (user space keeps the last value).
 * Slot RW_MAX_SESSIONS + session counts the asynchronous kinds (io_uring,
 * AIO, AF_XDP): their writes land at any later time, so once it moved every
 * rewind of the session scans.
 */
RW_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2 * RW_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, __u64);
} unvouched SEC(".maps");

/*
 * When each thread of a tracked process last returned from a syscall, and
 * the time before that (bpf_ktime_get_ns, CLOCK_MONOTONIC): a thread asleep
 * in a syscall returns to user space only through a syscall exit, so one
 * whose last exit is older than its release by the rewind has not run user
 * code since (rewind.c, threads that slept through the invocation).
 */
RW_MAP struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rw_thread_exits);
} thread_exits SEC(".maps");

/*
 * FUTEX_REQUEUE and FUTEX_CMP_REQUEUE calls per session: they move a
 * waiter to another word without waking it, which a thread left asleep by
 * a rewind (sleepers.c) could not show.
 */
RW_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, RW_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, __u64);
} futex_requeues SEC(".maps");

/*
 * Number of entries in tracked_cgroups, kept by user space: while it is 0 an
 * untracked task pays exactly one hash lookup per event.
 */
extern __u32 nr_tracked_cgroups;

/*
 * Wake the daemon only once this many bytes wait (user space sets it to a
 * quarter of the ring): a wakeup per record would cost a context switch per
 * write fault. The daemon drains the rest before answering any request.
 */
extern __u64 wakeup_bytes;

/* The session tracking the current task, or 0. The hot path for everyone. */
static __always_inline __u32 current_session(__u32 tgid)
{
	struct rw_tracked *t;
	__u64 cgid;
	__u32 *s;

	t = bpf_map_lookup_elem(&tracked_tgids, &tgid);
	if (t)
		return t->session;
	if (!nr_tracked_cgroups)
		return 0;
	cgid = bpf_get_current_cgroup_id();
	s = bpf_map_lookup_elem(&tracked_cgroups, &cgid);
	return s ? *s : 0;
}

static __always_inline void count_unvouched(__u32 session)
{
	__u64 *n = bpf_map_lookup_elem(&unvouched, &session);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The file behind a task's fd, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void count_drop(__u32 session)
{
	__u64 *n = bpf_map_lookup_elem(&dropped, &session);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Reserve a record and fill its header; counts a drop when the buffer is full. */
static __always_inline void *reserve_event(__u64 size, __u32 kind, __u32 session)
{
	struct rw_event_hdr *h;
	__u64 id;

	h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		count_drop(session);
		return NULL;
	}
	id = bpf_get_current_pid_tgid();
	h->kind = kind;
	h->session = session;
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->ts_ns = bpf_ktime_get_ns();
	return h;
}

static __always_inline void submit_event(void *e)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
		      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

/*
 * What the sys_exit dispatcher hands to the per-concern handlers: the raw
 * x86_64 arguments (still in pt_regs at exit) and the result.
 */
struct rw_sys_args {
	__u64 args[6];
	__s64 ret;
	__u32 nr;
	__u32 session;
};

/* The generic record: syscall number, raw arguments, result. */
static __always_inline int emit_syscall(const struct rw_sys_args *a)
{
	struct rw_syscall_event *e;

	e = reserve_event(sizeof(*e), RW_EV_SYSCALL, a->session);
	if (!e)
		return 0;
	e->nr = a->nr;
	e->__pad = 0;
	__builtin_memcpy(e->args, a->args, sizeof(e->args));
	e->ret = a->ret;
	submit_event(e);
	return 0;
}

/* Handlers, one per concern, in memory.bpf.c, proc_state.bpf.c, files.bpf.c; each returns 0. */
int rw_memory_syscall(struct rw_sys_args *a);
int rw_file_syscall(struct rw_sys_args *a);
int rw_state_syscall(struct rw_sys_args *a);
int rw_gup_syscall(struct rw_sys_args *a);

#define RW_IS_ERR(ret) ((__u64)(ret) >= (__u64)-4095)

#endif /* RW_COMMON_BPF_H */
