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
