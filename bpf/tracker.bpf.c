// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tracker's spine: the maps, the one sys_exit program that dispatches
 * every tracked syscall to its concern, and the task lifecycle (fork, exit,
 * exec) that keeps the set of tracked processes current.
 *
 * Only sys_exit is hooked: on x86_64 the syscall arguments are still in
 * pt_regs at exit, so one program sees arguments and result together, and an
 * untracked task pays one program run and one map lookup per syscall.
 */
#define RW_DEFINE_MAPS
#include "common.bpf.h"

#define TS_COMPAT	0x0002	/* arch/x86/include/asm/thread_info.h */

__u32 nr_tracked_cgroups = 0;
__u64 wakeup_bytes = 1;

SEC("tp_btf/sys_exit")
int BPF_PROG(rw_sys_exit, struct pt_regs *regs, long ret)
{
	struct rw_sys_args a;
	__u32 session;
	__u32 nr;

	session = current_session(bpf_get_current_pid_tgid() >> 32);
	nr = regs->orig_ax;
	if (session) {
		struct rw_thread_exits *x;

		x = bpf_task_storage_get(&thread_exits, bpf_get_current_task_btf(), 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (x) {
			x->prev_ns = x->last_ns;
			x->last_ns = bpf_ktime_get_ns();
		}
		/* FUTEX_REQUEUE, FUTEX_CMP_REQUEUE (the command, without PRIVATE and CLOCK_REALTIME). */
		if (nr == RW_NR_futex && ((regs->si & 0x7f) == 3 || (regs->si & 0x7f) == 4)) {
			__u64 *n = bpf_map_lookup_elem(&futex_requeues, &session);

			if (n)
				__sync_fetch_and_add(n, 1);
		}
	}
	if (!session && !rw_syscall_may_gup_write(nr) && !rw_compat_syscall_may_write_other(nr))
		return 0;

	/*
	 * An int 0x80 syscall of a compat task uses i386 numbers: reading them as
	 * x86_64 would garble (or let the task forge) its report. Not decoded,
	 * so not vouched for: a tracked task's log counts as incomplete (the
	 * rewind reads and scans everything), and a call that may write another
	 * process's memory counts for every session.
	 */
	if (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT) {
		if (session)
			count_drop(session);
		else if (rw_compat_syscall_may_write_other(nr))
			count_unvouched(0);
		return 0;
	}
	if (!session && !rw_syscall_may_gup_write(nr))
		return 0;
	a.nr = nr;
	a.ret = ret;
	a.session = session;
	a.args[0] = regs->di;
	a.args[1] = regs->si;
	a.args[2] = regs->dx;
	a.args[3] = regs->r10;
	a.args[4] = regs->r8;
	a.args[5] = regs->r9;

	/* Writes no fault shows (GUP), by anyone: before the filter below. */
	if (rw_syscall_may_gup_write(nr))
		rw_gup_syscall(&a);
	if (!session)
		return 0;

	switch (rw_syscall_class(nr)) {
	case RW_SC_LAYOUT:
		rw_memory_syscall(&a);
		/* A shared writable file mapping also changes the file. */
		return nr == RW_NR_mmap ? rw_file_syscall(&a) : 0;
	case RW_SC_FD:
	case RW_SC_SIGNAL:
	case RW_SC_TIMER:
	case RW_SC_CWD:
	case RW_SC_CRED:
	case RW_SC_ATTR:
	case RW_SC_POKE:
	case RW_SC_IPC:
	case RW_SC_PROC:
	case RW_SC_KEY:
		return rw_state_syscall(&a);
	case RW_SC_FILE:
		return rw_file_syscall(&a);
	}
	return 0;
}

static __always_inline void emit_task(__u32 session, __u32 op, struct task_struct *t,
				      __u32 parent)
{
	struct rw_task_event *e;

	e = reserve_event(sizeof(*e), RW_EV_TASK, session);
	if (!e)
		return;
	e->op = op;
	e->pid = BPF_CORE_READ(t, pid);
	e->tgid = BPF_CORE_READ(t, tgid);
	e->parent = parent;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	submit_event(e);
}

/* Runs in the parent; the child is not yet running. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(rw_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct rw_tracked *pt, ct;
	__u32 session;

	session = current_session(ptgid);
	if (!session)
		return 0;

	/* CLONE_VM without CLONE_THREAD (vfork): its faults are logged under its own tgid. */
	if (ctgid != ptgid && BPF_CORE_READ(child, mm) == BPF_CORE_READ(parent, mm))
		count_unvouched(session);
	if (ctgid == ptgid) {
		emit_task(session, RW_TASK_NEW_THREAD, child, parent->pid);
		return 0;
	}
	/* pid mode follows children: track the new process from its first instruction. */
	pt = bpf_map_lookup_elem(&tracked_tgids, &ptgid);
	if (pt) {
		ct.session = session;
		ct.flags = RW_TRACK_INHERITED;
		if (bpf_map_update_elem(&tracked_tgids, &ctgid, &ct, BPF_NOEXIST))
			count_drop(session);	/* map full: the child escapes tracking; say so */
	}
	emit_task(session, RW_TASK_NEW_PROCESS, child, parent->pid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(rw_exit, struct task_struct *task, bool group_dead)
{
	__u32 tgid = task->tgid;
	__u32 session;

	session = current_session(tgid);
	if (!session)
		return 0;
	emit_task(session, group_dead ? RW_TASK_EXIT_PROCESS : RW_TASK_EXIT_THREAD, task, 0);
	/* A dead tgid may be reused by an unrelated process: stop tracking it now. */
	if (group_dead)
		bpf_map_delete_elem(&tracked_tgids, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(rw_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	__u32 session = current_session(tgid);

	if (!session)
		return 0;
	emit_task(session, RW_TASK_EXEC, task, old_pid);
	/*
	 * A set-uid/-gid or capability-gaining exec: its owner could not ptrace
	 * it, so neither may the session. pid mode stops following it here;
	 * rewindd re-checks every process before touching it (cgroup mode too).
	 */
	if (bprm->secureexec)
		bpf_map_delete_elem(&tracked_tgids, &tgid);
	return 0;
}

/*
 * A tracked process moved to another cgroup, by itself or anyone else. Only
 * tgids tracked by pid: a cgroup session's member that leaves its cgroup is
 * found missing from cgroup.procs instead (this runs in the writer's
 * context, after the move).
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(rw_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	__u32 tgid = task->tgid;
	struct rw_tracked *t = bpf_map_lookup_elem(&tracked_tgids, &tgid);

	if (t)
		emit_task(t->session, RW_TASK_CGROUP, task, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
