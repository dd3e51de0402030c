// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "threadstate: "
#include <elf.h>
#include <fcntl.h>
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/uio.h>

#include "fileio.h"
#include "log.h"
#include "proc.h"
#include "threadstate.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE	0x202
#endif
#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK	0x420a
#define PTRACE_SETSIGMASK	0x420b
#endif
/* Far more than any x86 CPU's XSAVE area today (AMX: ~11 KiB). */
#define XSTATE_MAX	(64 << 10)

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION	0x420f
#endif

/* More queued on one thread than RLIMIT_SIGPENDING allows anyone by default. */
#define PENDING_MAX	(1 << 16)

int thread_pending_read(pid_t tid, struct rw_thread_pending *out)
{
	siginfo_t buf[32];
	struct __ptrace_peeksiginfo_args a = { .off = 0, .flags = 0, .nr = 32 };

	memset(out, 0, sizeof(*out));
	while (a.off < PENDING_MAX) {
		long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, buf);

		if (n < 0) {
			int err = -errno;

			pr_perror("thread %d: PTRACE_PEEKSIGINFO", tid);
			return err;
		}
		for (long i = 0; i < n; i++)
			if (buf[i].si_signo >= 1 && buf[i].si_signo <= 64 &&
			    out->count[buf[i].si_signo - 1] < UINT16_MAX)
				out->count[buf[i].si_signo - 1]++;
		if (n < a.nr)
			return 0;
		a.off += n;
	}
	pr_err("thread %d: more than %d signals queued\n", tid, PENDING_MAX);
	return -E2BIG;
}

uint64_t thread_pending_set(const struct rw_thread_pending *p)
{
	uint64_t set = 0;

	for (int i = 0; i < 64; i++)
		if (p->count[i])
			set |= 1ULL << i;
	return set;
}

int thread_rseq_read(pid_t tid, struct rw_rseq *out)
{
	struct {
		uint64_t ptr;
		uint32_t len, sig, flags, pad;
	} c = { 0 };

	memset(out, 0, sizeof(*out));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, (void *)sizeof(c), &c) < 0) {
		int err = -errno;

		pr_perror("thread %d: PTRACE_GET_RSEQ_CONFIGURATION", tid);
		return err;
	}
	if (c.ptr)
		*out = (struct rw_rseq){ c.ptr, c.len, c.sig };
	return 0;
}

bool thread_rseq_eq(const struct rw_rseq *a, const struct rw_rseq *b)
{
	return a->ptr == b->ptr && a->len == b->len && a->sig == b->sig;
}

int thread_robust_read(pid_t tid, struct rw_robust *out)
{
	size_t len;
	uint64_t head;

	if (syscall(SYS_get_robust_list, tid, &head, &len))
		return -errno;
	out->head = head;
	out->len = len;
	return 0;
}

int thread_exit_state_read(pid_t tgid, pid_t tid, struct rw_thread_exit_state *out)
{
	char path[64], *text = NULL, *p;
	pid_t outer[RW_NSTID_MAX];
	size_t len, hlen;
	uint64_t head;
	int n = 0;

	out->known = false;
	out->robust_known = false;
	if (syscall(SYS_get_robust_list, tid, &head, &hlen)) {
		int err = -errno;

		pr_perror("thread %d: get_robust_list", tid);
		return err;
	}
	out->robust_head = head;
	out->robust_len = hlen;
	out->robust_known = true;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", tgid, tid);
	if (read_whole_file(AT_FDCWD, path, 1 << 16, &text, &len))
		return -ESRCH;
	p = strstr(text, "\nNSpid:");
	if (p) {
		p += strlen("\nNSpid:");
		while (*p && *p != '\n') {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (n == RW_NSTID_MAX) {
				n = 0;	/* too deep: it stays unknown */
				break;
			}
			outer[n++] = (pid_t)v;
			p = end;
		}
	}
	free(text);
	if (!n)
		return -EOPNOTSUPP;
	/* NSpid lists the host's number first; clone3 wants the innermost first. */
	for (int i = 0; i < n; i++)
		out->nstid[i] = outer[n - 1 - i];
	out->nstid_n = n;
	return 0;
}

int thread_state_get(pid_t tgid, const struct rw_seized *ij, struct rw_thread_state *ts)
{
	uint8_t *buf;
	int err;
	struct iovec iov;

	memset(ts, 0, sizeof(*ts));
	ts->tid = ij->tid;
	ts->regs = ij->saved;
	buf = malloc(XSTATE_MAX);
	if (!buf)
		return -ENOMEM;
	iov = (struct iovec){ buf, XSTATE_MAX };
	if (ptrace(PTRACE_GETREGSET, ij->tid, (void *)NT_X86_XSTATE, &iov)) {
		err = -errno;
		free(buf);
		pr_perror("thread %d: PTRACE_GETREGSET NT_X86_XSTATE", ij->tid);
		return err;
	}
	ts->xstate = realloc(buf, iov.iov_len) ?: buf;
	ts->xstate_len = iov.iov_len;
	if (ptrace(PTRACE_GETSIGMASK, ij->tid, (void *)sizeof(ts->sigmask), &ts->sigmask)) {
		err = -errno;
		pr_perror("thread %d: PTRACE_GETSIGMASK", ij->tid);
		thread_state_free(ts);
		return err;
	}
	if (thread_pending_read(ij->tid, &ts->pending) || thread_rseq_read(ij->tid, &ts->rseq)) {
		thread_state_free(ts);
		return -EIO;
	}
	/* Unread, the name would be "" and neither restored nor compared: fail instead. */
	err = proc_read_comm(tgid, ij->tid, ts->comm);
	if (err) {
		thread_state_free(ts);
		return err;
	}
	return 0;
}

/*
 * Whether a thread is asleep now in the very call it slept in at the
 * checkpoint: the same syscall instruction, number and arguments. The
 * instruction alone says little: a libc's syscall() wrapper is one
 * instruction for every futex wait a library makes through it (GLib's).
 * A call restarted after a stop runs as restart_syscall with its own
 * argument registers: an idle sleeper, stopped at every checkpoint and
 * rewind, shows either number.
 */
static bool same_call(const struct user_regs_struct *a, const struct user_regs_struct *b)
{
	bool same_nr = a->orig_rax == b->orig_rax || a->orig_rax == SYS_restart_syscall ||
		       b->orig_rax == SYS_restart_syscall;

	return same_nr && a->rip == b->rip && a->rdi == b->rdi && a->rsi == b->rsi &&
	       a->rdx == b->rdx && a->r10 == b->r10 && a->r8 == b->r8 && a->r9 == b->r9;
}

/*
 * The registers to put back into a thread stopped at checkpoint, given the
 * ones it has now. The kernel restarts an interrupted syscall from them on
 * resume (orig_rax, rax = -ERESTART*). -ERESTART_RESTARTBLOCK (nanosleep,
 * clock_nanosleep, poll or a futex wait with a timeout...) restarts through
 * the thread's *current* restart block, which holds the call it sleeps in
 * now: right when that is the checkpoint's call (an idle worker: it sleeps
 * on), wrong otherwise (a futex wait restarted on another word misses the
 * wake of its own), and then, like CRIU, the syscall returns -EINTR.
 */
static struct user_regs_struct thread_state_restore_regs(const struct rw_thread_state *ts,
							 const struct user_regs_struct *now)
{
	struct user_regs_struct r = ts->regs;
	bool same_sleep = now && (long long)now->rax == -RW_ERESTART_RESTARTBLOCK &&
			  same_call(now, &r);

	if ((long long)r.orig_rax >= 0 && (long long)r.rax == -RW_ERESTART_RESTARTBLOCK &&
	    !same_sleep)
		r.rax = -EINTR;
	return r;
}

/* Offset of XSTATE_BV in an XSAVE area: the 64-byte header follows the 512-byte legacy area. */
#define XSTATE_BV_OFFSET	512

bool thread_xstate_same(const uint8_t *a, const uint8_t *b, size_t len)
{
	if (len < XSTATE_BV_OFFSET + sizeof(uint64_t))
		return !memcmp(a, b, len);
	return !memcmp(a, b, XSTATE_BV_OFFSET) &&
	       !memcmp(a + XSTATE_BV_OFFSET + sizeof(uint64_t), b + XSTATE_BV_OFFSET + sizeof(uint64_t),
		       len - XSTATE_BV_OFFSET - sizeof(uint64_t));
}

/*
 * Whether the thread's XSAVE area reads back as ts's (thread_xstate_same). Reading costs
 * ~1.7 us here, putting ~7.5 us (the kernel vmallocs a buffer for every
 * PTRACE_SETREGSET of it), and a thread that slept through the invocation
 * holds the checkpoint's: it is put only when it differs, or cannot be read.
 */
static bool xstate_holds(pid_t tid, const struct rw_thread_state *ts)
{
	static _Thread_local uint8_t *now;
	static _Thread_local size_t cap;
	struct iovec iov;

	if (cap < ts->xstate_len) {
		uint8_t *p = realloc(now, ts->xstate_len);

		if (!p)
			return false;
		now = p;
		cap = ts->xstate_len;
	}
	iov = (struct iovec){ now, ts->xstate_len };
	return !ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) &&
	       iov.iov_len == ts->xstate_len && thread_xstate_same(now, ts->xstate, ts->xstate_len);
}

int thread_state_set(struct rw_seized *ij, const struct rw_thread_state *ts, bool set_mask)
{
	struct iovec iov = { ts->xstate, ts->xstate_len };
	struct user_regs_struct want;
	uint64_t mask = ts->sigmask;

	if (ts->xstate_len && !xstate_holds(ij->tid, ts) &&
	    ptrace(PTRACE_SETREGSET, ij->tid, (void *)NT_X86_XSTATE, &iov)) {
		int err = -errno;

		pr_perror("thread %d: PTRACE_SETREGSET NT_X86_XSTATE", ij->tid);
		return err;
	}
	if ((set_mask || ij->signalled) &&
	    ptrace(PTRACE_SETSIGMASK, ij->tid, (void *)sizeof(mask), &mask)) {
		int err = -errno;

		pr_perror("thread %d: PTRACE_SETSIGMASK", ij->tid);
		return err;
	}
	/* Whether SIGTRAP is blocked may have changed: stepping is safe is asked again. */
	ij->step = 0;
	/* Now, so they can be read back (verify); release need not put them again. */
	want = thread_state_restore_regs(ts, &ij->saved);
	/* An idle thread that did not run holds them already. */
	if (ij->regs_put && !memcmp(&want, &ij->saved, sizeof(want)))
		return 0;
	ij->saved = want;
	ij->regs_put = false;
	if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &ij->saved)) {
		int err = -errno;

		pr_perror("thread %d: PTRACE_SETREGS", ij->tid);
		return err;
	}
	ij->regs_put = true;
	return 0;
}

bool thread_state_restarts(const struct rw_thread_state *ts)
{
	long long rax = (long long)ts->regs.rax;

	return (long long)ts->regs.orig_rax >= 0 &&
	       (rax == -RW_ERESTARTSYS || rax == -RW_ERESTARTNOINTR || rax == -RW_ERESTARTNOHAND);
}

bool thread_state_reentered(const struct rw_thread_state *ts, const void *uregs,
			    size_t nregs)
{
	const size_t rax = offsetof(struct user_regs_struct, rax) / sizeof(uint64_t);
	uint64_t want[sizeof(ts->regs) / sizeof(uint64_t)], now[sizeof(want) / sizeof(want[0])];

	if (nregs > sizeof(want) / sizeof(want[0]) ||
	    nregs <= offsetof(struct user_regs_struct, ss) / sizeof(uint64_t))
		return false;
	memcpy(want, &ts->regs, sizeof(want));
	memcpy(now, uregs, nregs * sizeof(now[0]));
	for (size_t i = 0; i < nregs; i++)
		if (i != rax && now[i] != want[i])
			return false;
	return true;
}

void thread_state_free(struct rw_thread_state *ts)
{
	free(ts->xstate);
	ts->xstate = NULL;
	ts->xstate_len = 0;
}
