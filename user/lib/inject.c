// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "inject: "
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "inject.h"
#include "log.h"
#include "proc.h"

/* Kernel-internal restart codes a blocked syscall leaves in rax when interrupted. */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

/* Wait for the next stop of ij->tid; a signal-delivery stop is held back for later. */
static int wait_stop(struct rw_inject *ij, int *status)
{
	for (;;) {
		if (waitpid(ij->tid, status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
			ij->seized = false;
			return -ESRCH;
		}
		return 0;
	}
}

/* The thread stops with a syscall stop (SIGTRAP|0x80) or a ptrace event stop. */
static bool is_syscall_stop(int status)
{
	return WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80);
}

static bool is_event_stop(int status)
{
	return WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP;
}

static int find_syscall_insn(struct rw_inject *ij)
{
	struct rw_maps maps = { 0 };
	int err = proc_read_maps(ij->tid, &maps);

	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < maps.n && err; i++) {
		struct rw_vma *v = &maps.v[i];
		size_t len = v->end - v->start;
		struct iovec local, remote;
		unsigned char *buf;

		if (strcmp(v->name, "[vdso]") || len > (1 << 20))
			continue;
		buf = malloc(len);
		if (!buf) {
			err = -ENOMEM;
			break;
		}
		local = (struct iovec){ buf, len };
		remote = (struct iovec){ (void *)(uintptr_t)v->start, len };
		if (process_vm_readv(ij->tid, &local, 1, &remote, 1, 0) == (ssize_t)len) {
			unsigned char *p = memmem(buf, len, "\x0f\x05", 2);

			if (p) {
				ij->syscall_ip = v->start + (p - buf);
				err = 0;
			}
		} else {
			err = -errno;
		}
		free(buf);
	}
	proc_maps_free(&maps);
	if (err)
		pr_err("no syscall instruction in the vDSO of %d: %s\n", ij->tid, strerror(-err));
	return err;
}

/*
 * A thread stopped inside a blocking syscall holds a restart code in rax.
 * Turn it into "execute the syscall again" now, as the kernel would on a
 * return without a handler, so restoring these registers later resumes it.
 */
static void prepare_restart(struct user_regs_struct *r)
{
	if ((long)r->orig_rax < 0)
		return;
	switch (-(long)r->rax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	case ERESTART_RESTARTBLOCK:
		r->rax = SYS_restart_syscall;
		r->rip -= 2;
		break;
	}
	r->orig_rax = -1;
}

int inject_seize(struct rw_inject *ij, pid_t tid)
{
	int status, err;

	memset(ij, 0, sizeof(*ij));
	ij->tid = tid;
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)PTRACE_O_TRACESYSGOOD))
		return errno == ESRCH ? -ESRCH : -errno;
	ij->seized = true;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		err = -errno;
		goto fail;
	}
	for (;;) {
		err = wait_stop(ij, &status);
		if (err)
			goto fail;
		if (is_event_stop(status))
			break;
		/* A signal-delivery stop came first: hold the signal, go on to our stop. */
		ij->pending_sig = WSTOPSIG(status);
		if (ptrace(PTRACE_CONT, tid, NULL, NULL)) {
			err = -errno;
			goto fail;
		}
	}
	if (ptrace(PTRACE_GETREGS, tid, NULL, &ij->saved)) {
		err = -errno;
		goto fail;
	}
	prepare_restart(&ij->saved);
	err = find_syscall_insn(ij);
	if (err)
		goto fail;
	return 0;
fail:
	if (ij->seized)
		ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)ij->pending_sig);
	ij->seized = false;
	return err;
}

/* Resume to the next syscall stop, holding back any signal that gets in the way. */
static int to_syscall_stop(struct rw_inject *ij)
{
	int status, err;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, ij->tid, NULL, NULL))
			return -errno;
		err = wait_stop(ij, &status);
		if (err)
			return err;
		if (is_syscall_stop(status))
			return 0;
		if (!is_event_stop(status))
			ij->pending_sig = WSTOPSIG(status);
	}
}

int inject_syscall(struct rw_inject *ij, long nr, const long args[6], long *result)
{
	struct user_regs_struct r = ij->saved;
	int err;

	if (!ij->seized)
		return -ESRCH;
	r.rax = nr;
	r.orig_rax = -1;	/* keep the kernel's restart logic away from these registers */
	r.rdi = args[0];
	r.rsi = args[1];
	r.rdx = args[2];
	r.r10 = args[3];
	r.r8 = args[4];
	r.r9 = args[5];
	r.rip = ij->syscall_ip;
	if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &r))
		return -errno;
	err = to_syscall_stop(ij);	/* entry */
	if (!err)
		err = to_syscall_stop(ij);	/* exit */
	if (!err && ptrace(PTRACE_GETREGS, ij->tid, NULL, &r))
		err = -errno;
	if (err) {
		pr_err("injecting syscall %ld into %d: %s\n", nr, ij->tid, strerror(-err));
		return err;
	}
	*result = r.rax;
	return 0;
}

int inject_release(struct rw_inject *ij)
{
	int err = 0;

	if (!ij->seized)
		return -ESRCH;
	if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &ij->saved))
		err = -errno;
	if (ptrace(PTRACE_DETACH, ij->tid, NULL, (void *)(long)ij->pending_sig) && !err)
		err = -errno;
	ij->seized = false;
	if (err)
		pr_err("releasing %d: %s\n", ij->tid, strerror(-err));
	return err;
}
