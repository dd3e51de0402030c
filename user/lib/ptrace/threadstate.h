/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a stopped thread carries besides memory: general registers (incl.
 * fs/gs base), the extended FPU/vector state, the signal mask and its name.
 */
#ifndef RW_THREADSTATE_H
#define RW_THREADSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "inject.h"

/* Kernel-internal codes an interrupted syscall leaves in rax (never seen by user space). */
#define RW_ERESTARTSYS			512
#define RW_ERESTARTNOINTR		513
#define RW_ERESTARTNOHAND		514
#define RW_ERESTART_RESTARTBLOCK	516

/*
 * Signals queued on one thread (tgkill, a fault): not the process-wide set.
 * A count per signal: standard ones coalesce (0 or 1), real-time ones queue.
 */
struct rw_thread_pending {
	uint16_t count[64];	/* index sig - 1 */
};

/* A thread's rseq registration (PTRACE_GET_RSEQ_CONFIGURATION); ptr 0: none. */
struct rw_rseq {
	uint64_t ptr;
	uint32_t len, sig;
};

/* A thread's robust futex list registration (set_robust_list). */
struct rw_robust {
	uint64_t head, len;
};

/* A pid namespace nesting deeper than this is not recreated (the kernel allows 32). */
#define RW_NSTID_MAX	8

/*
 * What the kernel forgets when a thread exits and recreating it needs
 * (restore.c): read at the checkpoint only.
 */
struct rw_thread_exit_state {
	bool known;			/* read; else the thread cannot be recreated */
	bool robust_known;		/* robust_head and robust_len were read */
	uint64_t clear_tid;		/* set_tid_address / CLONE_CHILD_CLEARTID; 0: none */
	uint64_t robust_head, robust_len;	/* set_robust_list; head 0: none */
	pid_t nstid[RW_NSTID_MAX];	/* NSpid, innermost first (clone3's set_tid order) */
	int nstid_n;
};

struct rw_thread_state {
	pid_t tid;
	struct user_regs_struct regs;	/* as seized, or as to be restored */
	uint8_t *xstate;		/* NT_X86_XSTATE, the size the kernel gave */
	size_t xstate_len;
	uint64_t sigmask;
	struct rw_thread_pending pending;
	char comm[16];
	struct rw_rseq rseq;
	struct rw_thread_exit_state exit;
	/*
	 * Not of the checkpoint: when the checkpoint or a rewind last let the
	 * thread go holding these registers (CLOCK_MONOTONIC; sleepers.h). 0:
	 * never.
	 */
	uint64_t released_ns;
};

/* The thread-private signal queue of a stopped tracee (PTRACE_PEEKSIGINFO). 0 or -errno. */
int thread_pending_read(pid_t tid, struct rw_thread_pending *out);
/* The signals with a count in p, as a mask (bit sig - 1). */
uint64_t thread_pending_set(const struct rw_thread_pending *p);

/* Read the state of a seized thread (registers from ij->saved). 0 or -errno. */
int thread_rseq_read(pid_t tid, struct rw_rseq *out);
bool thread_rseq_eq(const struct rw_rseq *a, const struct rw_rseq *b);

/*
 * The robust list (get_robust_list, from outside) and the tid in every pid
 * namespace (NSpid) of a thread into ts->exit; clear_tid is the caller's
 * (only the thread can read it: remote_get_tid_address). 0 or -errno.
 */
int thread_exit_state_read(pid_t tgid, pid_t tid, struct rw_thread_exit_state *out);
/* Its robust list now: get_robust_list works on another process's thread. 0 or -errno. */
int thread_robust_read(pid_t tid, struct rw_robust *out);

int thread_state_get(pid_t tgid, const struct rw_seized *ij, struct rw_thread_state *ts);
/*
 * Put xstate and sigmask back now and the registers into ij->saved (applied
 * when the thread is released). The mask only if set_mask, or if a signal
 * was delivered to the thread since it was seized (its handler's mask).
 * 0 or -errno.
 */
int thread_state_set(struct rw_seized *ij, const struct rw_thread_state *ts, bool set_mask);
/*
 * Whether ts was stopped asleep in a syscall the kernel restarts, as it
 * was, when the thread is let go with ts's registers (-ERESTARTSYS,
 * -ERESTARTNOINTR, -ERESTARTNOHAND): released so, it runs no user code
 * before it sleeps in that call again. Not a timed sleep
 * (-ERESTART_RESTARTBLOCK), which may be released as -EINTR instead.
 */
bool thread_state_restarts(const struct rw_thread_state *ts);
/*
 * Whether uregs, a thread's user registers as saved at its last kernel
 * entry (struct pt_regs: how struct user_regs_struct begins, nregs words),
 * are ts's syscall entered again: every register but rax, which entry
 * sets to -ENOSYS.
 */
bool thread_state_reentered(const struct rw_thread_state *ts, const void *uregs,
			    size_t nregs);
/*
 * Whether two XSAVE areas as PTRACE_GETREGSET NT_X86_XSTATE gives them (the
 * standard format) hold the same registers. XSTATE_BV is not compared: for
 * a component whose bit is clear (in its initial state) the kernel writes
 * the initial values, so the rest of the area says it all; and whether the
 * processor counts a component as in use changes under a stopped thread
 * (seen: the x87 bit set after a rewind's injected syscalls, on AVX-512
 * Xeons) without any register changing.
 */
bool thread_xstate_same(const uint8_t *a, const uint8_t *b, size_t len);
void thread_state_free(struct rw_thread_state *ts);

#endif /* RW_THREADSTATE_H */
