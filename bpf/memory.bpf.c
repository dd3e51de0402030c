// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory: write faults on user pages and the layout syscalls.
 *
 * A write fault is the first write to a page that was absent or
 * write-protected (rewindd arms userfaultfd write-protection to make every
 * first write fault). Kernel-mode writes into user memory (copy_to_user from
 * read(2)) arrive as page_fault_kernel with a user address.
 */
#include "common.bpf.h"

#define X86_PF_WRITE	(1UL << 1)
/* Highest user address on x86_64 with 4-level paging (5-level: the check just loosens). */
#define USER_ADDR_END	0x00007ffffffff000ULL

static __always_inline int emit_fault(unsigned long address, __u32 flags)
{
	struct rw_fault_event *e;
	__u32 session;

	session = current_session(bpf_get_current_pid_tgid() >> 32);
	if (!session)
		return 0;
	e = reserve_event(sizeof(*e), RW_EV_FAULT, session);
	if (!e)
		return 0;
	e->addr = address;
	e->flags = flags;
	e->__pad = 0;
	submit_event(e);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(rw_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	/* Read faults are most faults: reject them before the map lookup. */
	if (!(error_code & X86_PF_WRITE))
		return 0;
	return emit_fault(address, 0);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(rw_fault_kernel, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	if (!(error_code & X86_PF_WRITE) || address >= USER_ADDR_END)
		return 0;
	return emit_fault(address, RW_FAULT_KERNEL);
}

__noinline int rw_memory_syscall(struct rw_sys_args *a)
{
	if (!a)
		return 0;
	/* brk "fails" by returning the old break: always interesting. */
	if (a->nr != RW_NR_brk && RW_IS_ERR(a->ret))
		return 0;
	return emit_syscall(a);
}

#define RW_O_DIRECT		040000
#define RW_PROC_SUPER_MAGIC	0x9fa0
#define RW_SOL_XDP		283
#define RW_PTRACE_POKETEXT	4
#define RW_PTRACE_POKEDATA	5

/* The loader's own tgid (rewindd's restore writes): not counted. Set before load. */
__u32 rw_self_tgid = 0;

extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

#define RW_ESRCH	3

/* The file behind fd if it is a /proc/.../mem: procfs, and the leaf is "mem". */
static __always_inline struct file *fd_proc_mem(struct task_struct *task, __u64 fd)
{
	struct file *f = fd_file(task, fd);
	const unsigned char *name;
	char buf[4] = {};

	if (!f || BPF_CORE_READ(f, f_inode, i_sb, s_magic) != RW_PROC_SUPER_MAGIC)
		return NULL;
	name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	bpf_probe_read_kernel(buf, sizeof(buf), name);
	return buf[0] == 'm' && buf[1] == 'e' && buf[2] == 'm' && !buf[3] ? f : NULL;
}

/* The session tracking task t (not the current task), or 0: as current_session(). */
static __always_inline __u32 task_session(struct task_struct *t)
{
	__u32 tgid = BPF_CORE_READ(t, tgid);
	struct rw_tracked *tr = bpf_map_lookup_elem(&tracked_tgids, &tgid);
	__u64 cgid;
	__u32 *s;

	if (tr)
		return tr->session;
	if (!nr_tracked_cgroups)
		return 0;
	cgid = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	s = bpf_map_lookup_elem(&tracked_cgroups, &cgid);
	return s ? *s : 0;
}

/*
 * The unvouched slot of the target of a write into another process's
 * memory: its session's, none (-1) when no session tracks it, slot 0 (every
 * session) when the target cannot be resolved. pid is the writer's
 * namespace's, as bpf_task_from_vpid reads it.
 */
static __always_inline __s64 remote_pid_slot(__u64 pid, __s64 ret)
{
	struct task_struct *t;
	__u32 session;

	/* The target did not exist (or was not ours to poke): nothing was written. */
	if (ret == -RW_ESRCH)
		return -1;
	t = bpf_task_from_vpid((s32)pid);
	if (!t)
		return 0;	/* gone since: a write may have landed; conservative */
	session = task_session(t);
	bpf_task_release(t);
	return session ? session : -1;
}

/* As remote_pid_slot for a write to /proc/PID/mem: its private_data is the mm it writes. */
static __always_inline __s64 remote_mm_slot(struct file *f)
{
	struct mm_struct *mm = BPF_CORE_READ(f, private_data);
	struct task_struct *owner;
	__u32 session;

	if (!mm || !bpf_core_field_exists(mm->owner))
		return 0;
	owner = BPF_CORE_READ(mm, owner);
	if (!owner)
		return 0;
	session = task_session(owner);
	return session ? session : -1;
}

/*
 * Writes the fault log cannot vouch for: the pages they write raise no fault
 * (GUP with FOLL_WRITE, pinned buffers written through kernel mappings, at
 * any later time for io_uring and AIO). Runs for every task, tracked or not
 * (a->session 0): a write into another process (process_vm_writev, a ptrace
 * poke, a write to /proc/PID/mem) is counted for the session tracking its
 * target, in slot 0 (every session) when the target cannot be resolved.
 * Failed calls count too: a partial one may have written.
 */
__noinline int rw_gup_syscall(struct rw_sys_args *a)
{
	struct task_struct *task;
	struct file *f;
	__s64 remote;
	__u32 slot;

	if (!a)
		return 0;
	task = bpf_get_current_task_btf();
	switch (a->nr) {
	case RW_NR_process_vm_writev:
	case RW_NR_ptrace:
	case RW_NR_write: case RW_NR_pwrite64: case RW_NR_writev: case RW_NR_pwritev:
	case RW_NR_pwritev2:
		if (a->nr == RW_NR_ptrace && a->args[0] != RW_PTRACE_POKETEXT &&
		    a->args[0] != RW_PTRACE_POKEDATA)
			return 0;
		if (a->nr == RW_NR_process_vm_writev || a->nr == RW_NR_ptrace) {
			f = NULL;
		} else {
			f = fd_proc_mem(task, a->args[0]);
			if (!f)
				return 0;
		}
		/* Ours: the restore of a stopped target, not a write of an invocation. */
		if (task->tgid == rw_self_tgid)
			return 0;
		if (f)
			remote = remote_mm_slot(f);
		else
			remote = remote_pid_slot(a->nr == RW_NR_ptrace ? a->args[1] : a->args[0],
						 a->ret);
		if (remote < 0)
			return 0;
		slot = remote;
		break;
	case RW_NR_read: case RW_NR_pread64: case RW_NR_readv: case RW_NR_preadv:
	case RW_NR_preadv2:
		if (!a->session)
			return 0;
		f = fd_file(task, a->args[0]);
		if (!f || !(BPF_CORE_READ(f, f_flags) & RW_O_DIRECT))
			return 0;
		slot = a->session;
		break;
	case RW_NR_setsockopt:
		if (!a->session || a->args[1] != RW_SOL_XDP)
			return 0;
		slot = RW_MAX_SESSIONS + a->session;
		break;
	case RW_NR_vmsplice: case RW_NR_mlock: case RW_NR_mlock2: case RW_NR_mlockall:
		if (!a->session)
			return 0;
		slot = a->session;
		break;
	default:	/* io_submit, io_uring_setup/enter/register */
		if (!a->session)
			return 0;
		slot = RW_MAX_SESSIONS + a->session;
		break;
	}
	count_unvouched(slot);
	return 0;
}
