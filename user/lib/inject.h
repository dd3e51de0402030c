/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Run a syscall inside a stopped thread of another process (a tiny compel).
 * The thread is pointed at a `syscall` instruction that already exists in
 * its vDSO, so nothing is ever written into its memory. x86_64 targets only.
 *
 * ptrace ties the tracee to the tracing thread: call all three from the same
 * thread. Other threads of the target keep running.
 */
#ifndef RW_INJECT_H
#define RW_INJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct rw_inject {
	pid_t tid;
	bool seized;
	/* The thread's registers at the stop, untouched (an interrupted blocking
	 * syscall still shows its -ERESTART* code); restored by inject_release(). */
	struct user_regs_struct saved;
	uint64_t syscall_ip;		/* a 0f 05 in the vDSO, found on first use */
};

/*
 * PTRACE_SEIZE (with PTRACE_O_TRACESYSGOOD) + PTRACE_INTERRUPT, wait for the
 * interrupt stop and save the registers. A signal that reaches the thread
 * first is delivered right there, exactly as without us (CRIU's way: nothing
 * is held back or re-sent). -ESRCH if the thread is gone or a zombie,
 * -EPERM/-EBUSY if it cannot be traced (another tracer, ...).
 */
int inject_seize(struct rw_inject *ij, pid_t tid);
/*
 * Run syscall nr with args in the thread. 0, or -errno when ptrace failed
 * (-ESRCH: the thread died); *result is the syscall's raw return (-errno on
 * failure). A signal arriving meanwhile is delivered with the thread's own
 * registers and the syscall re-issued. -EOPNOTSUPP for a non-64-bit thread.
 */
int inject_syscall(struct rw_inject *ij, long nr, const long args[6], long *result);
/*
 * Restore the saved registers and detach; the kernel then restarts the
 * syscall the seize interrupted, or delivers what is pending. 0 if not
 * seized; -ESRCH if the thread died meanwhile.
 */
int inject_release(struct rw_inject *ij);
/*
 * Make the seized thread exit (exit(2), not exit_group): RIP at the syscall
 * instruction, RAX = 60, orig_rax = -1, continue, and wait until it is gone.
 * The process's other threads are untouched. The kernel writes the thread's
 * clear_child_tid and robust-futex memory on the way out: do this before a
 * memory rollback. 0 once the thread is gone (reaped by us, its tracer), and
 * ij->seized is then false.
 * The caller's duty: the thread must not be the process's last one (that
 * would end the process). The main thread is refused (-EINVAL): its exit
 * would wait as a zombie for all the others. A signal stop on the way out
 * is continued without the signal.
 */
int inject_exit_thread(struct rw_inject *ij);

#endif /* RW_INJECT_H */
