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
	if (!session)
		return 0;

	/*
	 * An int 0x80 syscall of a compat task uses i386 numbers: reading them as
	 * x86_64 would garble (or let the task forge) its report. Not recorded.
	 */
	if (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT)
		return 0;
	nr = regs->orig_ax;
	a.nr = nr;
	a.ret = ret;
	a.session = session;
	a.args[0] = regs->di;
	a.args[1] = regs->si;
	a.args[2] = regs->dx;
	a.args[3] = regs->r10;
	a.args[4] = regs->r8;
	a.args[5] = regs->r9;

	if (nr == RW_NR_mmap) {
		rw_memory_syscall(&a);
		return rw_file_syscall(&a);
	}
	switch (nr) {
	case RW_NR_munmap:
	case RW_NR_mremap:
	case RW_NR_mprotect:
	case RW_NR_pkey_mprotect:
	case RW_NR_brk:
	case RW_NR_madvise:
	case RW_NR_shmat:
	case RW_NR_shmdt:
	case RW_NR_remap_file_pages:
		return rw_memory_syscall(&a);
	case RW_NR_close:
	case RW_NR_dup:
	case RW_NR_dup2:
	case RW_NR_dup3:
	case RW_NR_fcntl:
	case RW_NR_ioctl:
	case RW_NR_rt_sigaction:
	case RW_NR_alarm:
	case RW_NR_setitimer:
	case RW_NR_timer_create:
	case RW_NR_timer_settime:
	case RW_NR_timer_delete:
	case RW_NR_chdir:
	case RW_NR_fchdir:
	case RW_NR_umask:
		return rw_task_syscall(&a);
	case RW_NR_write:
	case RW_NR_pwrite64:
	case RW_NR_writev:
	case RW_NR_pwritev:
	case RW_NR_pwritev2:
	case RW_NR_open:
	case RW_NR_openat:
	case RW_NR_openat2:
	case RW_NR_creat:
	case RW_NR_truncate:
	case RW_NR_ftruncate:
	case RW_NR_fallocate:
	case RW_NR_unlink:
	case RW_NR_unlinkat:
	case RW_NR_rename:
	case RW_NR_renameat:
	case RW_NR_renameat2:
	case RW_NR_mkdir:
	case RW_NR_mkdirat:
	case RW_NR_rmdir:
	case RW_NR_link:
	case RW_NR_linkat:
	case RW_NR_symlink:
	case RW_NR_symlinkat:
	case RW_NR_chmod:
	case RW_NR_fchmod:
	case RW_NR_fchmodat:
	case RW_NR_fchmodat2:
	case RW_NR_chown:
	case RW_NR_fchown:
	case RW_NR_lchown:
	case RW_NR_fchownat:
	case RW_NR_utime:
	case RW_NR_utimes:
	case RW_NR_futimesat:
	case RW_NR_utimensat:
	case RW_NR_setxattr:
	case RW_NR_lsetxattr:
	case RW_NR_fsetxattr:
	case RW_NR_removexattr:
	case RW_NR_lremovexattr:
	case RW_NR_fremovexattr:
	case RW_NR_copy_file_range:
	case RW_NR_sendfile:
	case RW_NR_splice:
	case RW_NR_mknod:
	case RW_NR_mknodat:
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
	e->pid_tgid = BPF_CORE_READ(t, tgid);
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

char LICENSE[] SEC("license") = "GPL";
