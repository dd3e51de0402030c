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

struct rw_thread_state {
	pid_t tid;
	struct user_regs_struct regs;	/* as seized, or as to be restored */
	uint8_t *xstate;		/* NT_X86_XSTATE, the size the kernel gave */
	size_t xstate_len;
	uint64_t sigmask;
	char comm[16];
};

/* Read the state of a seized thread (registers from ij->saved). 0 or -errno. */
int thread_state_get(pid_t tgid, const struct rw_seized *ij, struct rw_thread_state *ts);
/*
 * Put xstate and sigmask back now and the registers into ij->saved (applied
 * when the thread is released). 0 or -errno.
 */
int thread_state_set(struct rw_seized *ij, const struct rw_thread_state *ts);
void thread_state_free(struct rw_thread_state *ts);

#endif /* RW_THREADSTATE_H */
