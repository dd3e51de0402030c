/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Run a syscall inside a stopped thread of another process (a tiny compel).
 * The thread is pointed at a `syscall` instruction that already exists in
 * its vDSO and single-stepped over it: one stop per syscall, and nothing is
 * written into its memory. Longer code (remote.h's batches) runs from a
 * mapping of ours through inject_run(). x86_64 targets only.
 *
 * ptrace ties the tracee to the tracing thread: call all three from the same
 * thread. Other threads of the target keep running.
 */
#ifndef RW_INJECT_H
#define RW_INJECT_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* A thread of another process stopped under ptrace (seized), ours until released. */
struct rw_seized {
	pid_t tid;
	bool seized;
	bool reap;			/* not seized any more but died traced: ours to reap (inject_release) */
	/* The thread's registers at the stop, untouched (an interrupted blocking
	 * syscall still shows its -ERESTART* code); restored by inject_release(). */
	struct user_regs_struct saved;
	/* The thread holds .saved (read at the stop, or put since, nothing run): release skips SETREGS. */
	bool regs_put;
	uint64_t syscall_ip;		/* a 0f 05 in the vDSO, found on first use */
	int step;			/* stepping over it is safe: 0 unknown, 1 yes, -1 no */
	bool colocated;			/* on our CPU (inject_colocate): waits sleep at once */
	bool ignored_known;		/* sig_ignored is the process's SigIgn now */
	uint64_t sig_ignored;
	bool suspended;			/* its seccomp filter is suspended (at our stops only) */
	bool signalled;			/* a signal was delivered to it since it was seized */
	bool moved;			/* inject_seize_start_near moved it: .home to put back */
	cpu_set_t home;			/* its affinity before */
};

/*
 * Whether seized threads get PTRACE_O_SUSPEND_SECCOMP, so that syscalls we
 * inject bypass their seccomp filters (CRIU's way). The kernel allows it only
 * to a tracer with CAP_SYS_ADMIN in the initial user namespace that is not
 * itself under seccomp, and only with CONFIG_CHECKPOINT_RESTORE: checked once
 * (then cached) from /proc/self and by seizing a child of ours. When false,
 * why says what is missing, and nothing is ever injected into a thread under
 * a filter (inject_syscall and inject_run refuse with -EPERM).
 */
bool inject_seccomp_suspendable(char *why, size_t whylen);

/*
 * PTRACE_SEIZE (with PTRACE_O_TRACESYSGOOD) + PTRACE_INTERRUPT, wait for the
 * interrupt stop and save the registers; then, when allowed, suspend the
 * thread's seccomp filter until it is released (detach ends it). A signal that reaches the thread
 * first is delivered right there, exactly as without us (CRIU's way: nothing
 * is held back or re-sent). -ESRCH if the thread is gone or a zombie,
 * -EPERM/-EBUSY if it cannot be traced (another tracer, ...).
 */
int inject_seize(struct rw_seized *ij, pid_t tid);
/*
 * inject_seize in two halves, so that many threads are interrupted at once
 * and their stops overlap: _start seizes and interrupts, _finish waits for
 * the stop; on failure each detaches, except from a thread that died (or
 * runs) traced: that one stays ours (ij->reap) until inject_release() reaps
 * it, and only then may its parent reap it. inject_seize does that itself.
 */
int inject_seize_start(struct rw_seized *ij, pid_t tid);
/*
 * inject_seize_start with the thread first moved to CPU cpu (the caller's;
 * -1: not moved): woken there by the interrupt, it runs to
 * its stop as soon as we wait, not behind what runs on its own CPU.
 * _finish puts its affinity back once it is stopped, before it runs again.
 * A thread whose cpuset excludes cpu stays where it is.
 */
int inject_seize_start_near(struct rw_seized *ij, pid_t tid, int cpu);
int inject_seize_finish(struct rw_seized *ij);
/*
 * Run syscall nr with args in the thread. 0, or -errno when ptrace failed
 * (-ESRCH: the thread died); *result is the syscall's raw return (-errno on
 * failure). A signal arriving meanwhile is delivered with the thread's own
 * registers and the syscall re-issued. -EOPNOTSUPP for a non-64-bit thread.
 */
int inject_syscall(struct rw_seized *ij, long nr, const long args[6], long *result);
/*
 * Whether the thread may be stopped by a SIGTRAP of ours (single-step, int3):
 * not when it blocks SIGTRAP or its process ignores it, since the kernel
 * would reset that to SIG_DFL. Cached; reset after an injected rt_sigaction
 * or rt_sigprocmask. inject_syscall falls back to PTRACE_SYSCALL's two stops.
 */
bool inject_can_trap(struct rw_seized *ij);
/* The process's ignored signals, read by the caller while it is stopped: saves a /proc read. */
void inject_know_ignored(struct rw_seized *ij, uint64_t sig_ignored);
/*
 * Run code already in the target: regs (rip at its entry; orig_rax is set to
 * -1) until it executes an int3 at trap_ip - 1, with one stop. regs gets the
 * registers there. A signal on the way is delivered with the thread's own
 * registers, then the code goes on. -EOPNOTSUPP when !inject_can_trap();
 * -EIO for a fault outside [entry, trap_ip).
 */
int inject_run(struct rw_seized *ij, struct user_regs_struct *regs, uint64_t trap_ip);
/*
 * inject_run in two halves, for work of ours while the code runs: begin
 * starts it, end waits for the trap (the same outcomes as inject_run).
 * Nothing else may be done with the thread in between.
 */
struct rw_inject_run {
	struct user_regs_struct r;
	uint64_t entry, trap_ip;
	bool started;
};

int inject_run_begin(struct rw_seized *ij, struct rw_inject_run *run,
		     const struct user_regs_struct *regs, uint64_t trap_ip);
int inject_run_end(struct rw_seized *ij, struct rw_inject_run *run, struct user_regs_struct *regs);
/*
 * Each injected syscall is a round trip between us and the tracee. On two
 * CPUs, each half may wake a CPU from idle (20-50 us on a VM); on one, it
 * is two context switches. inject_colocate pins us and the thread to the
 * CPU we run on (saving both affinities), inject_colocate_end puts both
 * back. -errno, and nothing changed, if the thread may not run there (its
 * cpuset): the injections then work as before, only slower.
 */
struct rw_colocation {
	struct rw_seized *ij;
	cpu_set_t tracer, tracee;
};

int inject_colocate(struct rw_colocation *c, struct rw_seized *ij);
void inject_colocate_end(struct rw_colocation *c);
/*
 * clone3(args, size) in the thread, with PTRACE_O_TRACECLONE on for the
 * call: a thread it creates is ours from birth and stops before running
 * any code of its own (the kernel stops a child auto-attached to a seizing
 * tracer at once). child is then seized like inject_seize() leaves a
 * thread, its registers in child->saved. 0 and *result the clone's raw
 * return (the child's tid as the target sees it, or -errno: then child is
 * untouched and not seized); -errno when ptrace failed.
 */
int inject_clone(struct rw_seized *ij, uint64_t args, size_t size, struct rw_seized *child,
		 long *result);
/*
 * Restore the saved registers and detach; the kernel then restarts the
 * syscall the seize interrupted, or delivers what is pending. 0 if not
 * seized; -ESRCH if the thread died meanwhile. A dead thread (ij->reap
 * included) is reaped, within a bound: a leader only once its other threads
 * are, so release those first.
 */
int inject_release(struct rw_seized *ij);
/*
 * Wait for a thread we trace that is dying, within a bound: true once
 * reaped (its parent may then reap it); false if it is not ours (at once)
 * or did not die in time. Never call it for a live thread of ours.
 */
bool inject_reap_dead(pid_t tid);
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
int inject_exit_thread(struct rw_seized *ij);

#endif /* RW_INJECT_H */
