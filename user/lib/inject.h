/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Run a syscall inside a stopped thread of another process (a tiny compel):
 * the thread is pointed at a `syscall` instruction that already exists in its
 * vDSO, so nothing is ever written into its memory.
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
	struct user_regs_struct saved;	/* restored by inject_release() */
	uint64_t syscall_ip;		/* address of a 0f 05 in the vDSO */
	int pending_sig;		/* a signal that arrived while we held the thread */
};

/* PTRACE_SEIZE + PTRACE_INTERRUPT; -ESRCH if gone, -EPERM/-EBUSY if not ours to trace. */
int inject_seize(struct rw_inject *ij, pid_t tid);
/* 0, or -errno when ptrace itself failed; *result is the syscall's raw return. */
int inject_syscall(struct rw_inject *ij, long nr, const long args[6], long *result);
/* Restore the registers and detach (re-delivering any signal held back). */
int inject_release(struct rw_inject *ij);

#endif /* RW_INJECT_H */
