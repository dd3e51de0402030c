// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "inject: "
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "inject.h"
#include "log.h"
#include "proc.h"
#include "rewind/syscalls.h"

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK	0x420a
#endif
#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP	(1 << 21)
#endif
#define CAP_SYS_ADMIN_BIT	21
/*
 * Every tracee's options. EXITKILL: if rewindd dies while it holds a thread
 * (half way through a restore, or with a syscall's registers injected), the
 * kernel kills the process instead of letting it run on half-restored.
 */
#define TRACEE_OPTS	(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)
/* -ERESTARTNOINTR: a clone interrupted by a signal, restarted after it. */
#define RW_ERESTARTNOINTR_CODE	513L

#define USER64_CS	0x33		/* __USER_CS: the thread runs 64-bit code */
/* Signals we deliver while waiting for one of our stops before giving up. */
#define STOP_LOOPS	1000
/* Reading code to find a syscall instruction: chunk size, and a bound for
 * the fallback over all executable mappings when there is no vDSO. */
#define SCAN_CHUNK	(64UL << 10)
#define SCAN_BUDGET	(64UL << 20)

enum stop_kind {
	STOP_EVENT,	/* PTRACE_EVENT_STOP: our interrupt, or a group-stop */
	STOP_SYSCALL,	/* syscall entry or exit (SIGTRAP | 0x80) */
	STOP_SIGNAL,	/* signal-delivery stop */
	STOP_OTHER,	/* another ptrace event */
};

static enum stop_kind stop_kind(int status)
{
	int event = (unsigned int)status >> 16;

	if (event == PTRACE_EVENT_STOP)
		return STOP_EVENT;
	if (event)
		return STOP_OTHER;
	if (WSTOPSIG(status) == (SIGTRAP | 0x80))
		return STOP_SYSCALL;
	return STOP_SIGNAL;
}

/* A failed ptrace request: log it with context, return -errno. */
static int ptrace_failed(struct rw_seized *ij, const char *what)
{
	int err = -errno;

	if (err != -ESRCH)
		pr_err("thread %d: %s: %s\n", ij->tid, what, strerror(-err));
	return err;
}

/*
 * A blocking waitpid can wait for ever: when the process is killed, its
 * leader's exit is reported only once its other threads are released, and
 * traced ones are released only when their tracer (we) reaps them. So each
 * wait is cut every WAIT_TICK_MS by a private timer signal (no SA_RESTART),
 * and between ticks we look whether the thread is dying or gone.
 */
#define WAIT_TICK_MS	100
#define WAIT_TICKS	100		/* 10 s: a thread stuck in D state fails the wait */
#define WAIT_SIGNAL	(SIGRTMIN + 7)
#define WAIT_POLL_NS	200000

static timer_t wait_timer;
static int wait_timer_ready;	/* 0 not yet, 1 armed, -1 unavailable: block plainly */

static void on_wait_tick(int sig)
{
	(void)sig;
}

static void wait_timer_arm(long ms)
{
	struct itimerspec it = { .it_value = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 } };

	if (!wait_timer_ready) {
		struct sigaction sa = { .sa_handler = on_wait_tick };	/* no SA_RESTART */
		struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = WAIT_SIGNAL };

		sigemptyset(&sa.sa_mask);
		wait_timer_ready = !sigaction(WAIT_SIGNAL, &sa, NULL) &&
				   !timer_create(CLOCK_MONOTONIC, &sev, &wait_timer) ? 1 : -1;
	}
	if (wait_timer_ready > 0)
		timer_settime(wait_timer, 0, &it, NULL);
}

/* The thread exited, or its process is going (a zombie leader waits for its threads). */
static bool thread_dying(pid_t tid)
{
	struct rw_proc_status st;
	int err = proc_read_status(tid, &st);

	return err == -ESRCH || err == -ENOENT ||
	       (!err && (st.state == 'Z' || st.state == 'X'));
}

/*
 * A stop follows our request within microseconds, but a tracer asleep in
 * waitpid is woken through an idle CPU: 20-65 us a round trip on this VM's
 * haltpoll idle against 8-10 us polling, and a rewind makes a dozen. Poll
 * briefly, then sleep. Not when co-located (inject_colocate).
 */
static pid_t poll_stop(const struct rw_seized *ij, int *status)
{
	uint64_t t0 = rw_now_ns();
	pid_t r;

	/* On our CPU, the tracee runs only once we sleep. */
	if (ij->colocated)
		return 0;
	for (;;) {
		r = waitpid(ij->tid, status, __WALL | WNOHANG);
		if (r || rw_now_ns() - t0 >= WAIT_POLL_NS)
			return r;
		/* The tracee may have been woken on our CPU: let it run. */
		sched_yield();
	}
}

/* The next stop of the tracee; -ESRCH if it exited or is dying (then we let go of it). */
static int wait_stop(struct rw_seized *ij, int *status)
{
	for (int ticks = 0;; ticks++) {
		pid_t r;
		int err;

		if (!ticks && poll_stop(ij, status) == ij->tid)
			break;
		wait_timer_arm(WAIT_TICK_MS);
		r = waitpid(ij->tid, status, __WALL);
		err = r < 0 ? errno : 0;
		wait_timer_arm(0);
		if (r == ij->tid)
			break;
		if (err == EINTR) {
			if (thread_dying(ij->tid)) {
				/*
				 * Exited between the tick and our look: its exit event is
				 * ours, else the traced zombie stays in /proc/PID/task.
				 */
				if (waitpid(ij->tid, status, __WALL | WNOHANG) == ij->tid)
					break;
				/* A zombie leader waits for its threads: inject_release reaps it last. */
				pr_debug("thread %d: dying while traced\n", ij->tid);
				return -ESRCH;
			}
			if (ticks < WAIT_TICKS)
				continue;
			pr_err("thread %d: no stop in %d ms (uninterruptible sleep?)\n", ij->tid,
			       WAIT_TICK_MS * WAIT_TICKS);
			return -ETIMEDOUT;
		}
		if (err != ECHILD)
			pr_err("thread %d: waitpid: %s\n", ij->tid, strerror(err));
		ij->seized = false;
		return err == ECHILD ? -ESRCH : -err;
	}
	if (WIFSTOPPED(*status))
		return 0;
	pr_debug("thread %d exited while traced\n", ij->tid);
	ij->seized = false;
	return -ESRCH;
}

static struct {
	pthread_once_t once;
	bool ok;
	char why[256];
} suspend = { .once = PTHREAD_ONCE_INIT };

/* The initial user namespace maps every uid to itself; a nested one cannot. */
static bool in_initial_userns(void)
{
	char buf[128];
	unsigned long inside, outside, count;
	FILE *f = fopen("/proc/self/uid_map", "re");
	int n = 0;

	if (!f)
		return false;
	while (fgets(buf, sizeof(buf), f)) {
		if (sscanf(buf, "%lu %lu %lu", &inside, &outside, &count) != 3 ||
		    inside || outside || count != 4294967295UL)
			n = -1;
		else if (n >= 0)
			n++;
	}
	fclose(f);
	return n == 1;
}

/* What the kernel says: seize a child of ours with the option. */
static int probe_suspend(void)
{
	int p[2], err = 0;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[1]);
		/* Until the parent closes its end (or dies). */
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	if (ptrace(PTRACE_SEIZE, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP)))
		err = -errno;
	close(p[1]);	/* the child exits, traced or not */
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	return err;
}

static void check_suspend(void)
{
	struct rw_proc_status st;
	size_t n = 0;
	int err;

	err = proc_read_status(getpid(), &st);
	if (err) {
		snprintf(suspend.why, sizeof(suspend.why), "cannot read /proc/self/status: %s",
			 strerror(-err));
		return;
	}
	if (st.seccomp != 0)
		n += snprintf(suspend.why + n, sizeof(suspend.why) - n,
			      "rewindd itself runs under seccomp (Seccomp: %d); ", st.seccomp);
	if (!(st.cap_eff & (1ULL << CAP_SYS_ADMIN_BIT)))
		n += snprintf(suspend.why + n, sizeof(suspend.why) - n,
			      "rewindd lacks CAP_SYS_ADMIN; ");
	if (n < sizeof(suspend.why) && !in_initial_userns())
		n += snprintf(suspend.why + n, sizeof(suspend.why) - n,
			      "rewindd is not in the initial user namespace; ");
	if (n) {
		if (n < sizeof(suspend.why) && n >= 2)
			suspend.why[n - 2] = '\0';
		return;
	}
	err = probe_suspend();
	if (err) {
		snprintf(suspend.why, sizeof(suspend.why),
			 "the kernel refuses PTRACE_O_SUSPEND_SECCOMP: %s%s", strerror(-err),
			 err == -EINVAL ? " (built without CONFIG_CHECKPOINT_RESTORE?)" : "");
		return;
	}
	suspend.ok = true;
}

bool inject_seccomp_suspendable(char *why, size_t whylen)
{
	pthread_once(&suspend.once, check_suspend);
	if (!suspend.ok && why && whylen)
		snprintf(why, whylen, "%s", suspend.why);
	return suspend.ok;
}

/*
 * Without suspension, a syscall of ours under the thread's filter could be
 * answered with a kill or SIGSYS: never run one there.
 */
static int refuse_filtered(struct rw_seized *ij)
{
	struct rw_proc_status st;
	char why[256];
	int err;

	if (ij->suspended)
		return 0;
	err = proc_read_status(ij->tid, &st);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	if (st.seccomp == 0)
		return 0;
	inject_seccomp_suspendable(why, sizeof(why));
	pr_err("thread %d runs under seccomp and its filter cannot be suspended (%s): "
	       "nothing injected\n", ij->tid, why);
	return -EPERM;
}

/* Turn the thread's filter suspension on or off (it runs its own code only with it off). */
static int set_suspended(struct rw_seized *ij, bool on)
{
	long opts = TRACEE_OPTS | (on ? PTRACE_O_SUSPEND_SECCOMP : 0);

	if (ptrace(PTRACE_SETOPTIONS, ij->tid, NULL, (void *)opts))
		return ptrace_failed(ij, on ? "PTRACE_SETOPTIONS (suspend seccomp)" :
					      "PTRACE_SETOPTIONS (resume seccomp)");
	ij->suspended = on;
	return 0;
}

/*
 * Resume the stopped tracee with sig and wait for the stop a pending
 * PTRACE_INTERRUPT brings. Signals met on the way are delivered, just as
 * they would have been without us.
 */
static int restop(struct rw_seized *ij, int sig)
{
	int status, err;

	for (int i = 0; i < STOP_LOOPS; i++) {
		/* A handler now runs with its mask: thread_state_set puts the mask back. */
		if (sig)
			ij->signalled = true;
		if (ptrace(PTRACE_CONT, ij->tid, NULL, (void *)(long)sig))
			return ptrace_failed(ij, "PTRACE_CONT");
		err = wait_stop(ij, &status);
		if (err)
			return err;
		switch (stop_kind(status)) {
		case STOP_EVENT:
			return 0;
		case STOP_SIGNAL:
			sig = WSTOPSIG(status);
			pr_debug("thread %d: delivering signal %d\n", ij->tid, sig);
			break;
		default:
			sig = 0;
			break;
		}
	}
	pr_err("thread %d: no interrupt stop after %d signals\n", ij->tid, STOP_LOOPS);
	return -EBUSY;
}

/*
 * Detach after a failed seize. A thread that died traced cannot be detached
 * (ESRCH, as one that is not stopped): it stays a zombie traced by us, which
 * its parent cannot reap, until we reap it. Say so instead of forgetting it.
 */
static void let_go(struct rw_seized *ij)
{
	if (ij->seized && ptrace(PTRACE_DETACH, ij->tid, NULL, NULL) && errno == ESRCH)
		ij->reap = true;
	ij->seized = false;
}

/* Undo inject_seize_start_near's move (a thread gone has nothing to restore). */
static void go_home(struct rw_seized *ij)
{
	if (!ij->moved)
		return;
	if (sched_setaffinity(ij->tid, sizeof(ij->home), &ij->home) && errno != ESRCH)
		pr_warn("thread %d: restoring its CPU affinity: %s\n", ij->tid, strerror(errno));
	ij->moved = false;
	ij->colocated = false;
}

static int seize_and_interrupt(struct rw_seized *ij, pid_t tid, int cpu)
{
	int err;

	memset(ij, 0, sizeof(*ij));
	ij->tid = tid;
	if (cpu >= 0 && !sched_getaffinity(tid, sizeof(ij->home), &ij->home)) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		ij->moved = !sched_setaffinity(tid, sizeof(one), &one);
		ij->colocated = ij->moved;
	}
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)TRACEE_OPTS)) {
		err = -errno;
		if (err == -EPERM && thread_dying(tid))	/* seizing a zombie */
			err = -ESRCH;
		if (err != -ESRCH)
			pr_err("thread %d: PTRACE_SEIZE: %s\n", tid, strerror(-err));
		go_home(ij);
		return err;
	}
	ij->seized = true;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		err = ptrace_failed(ij, "PTRACE_INTERRUPT");
		go_home(ij);
		let_go(ij);
		return err;
	}
	return 0;
}

int inject_seize_start(struct rw_seized *ij, pid_t tid)
{
	return seize_and_interrupt(ij, tid, -1);
}

int inject_seize_start_near(struct rw_seized *ij, pid_t tid, int cpu)
{
	return seize_and_interrupt(ij, tid, cpu);
}

/* After the first stop (status) of a thread with an interrupt pending, if that was not its stop. */
static int seize_stopped(struct rw_seized *ij, int status)
{
	int err = 0;

	switch (stop_kind(status)) {
	case STOP_EVENT:
		break;
	case STOP_SIGNAL:
		/*
		 * The thread was already on its way to deliver a signal: let it,
		 * then take the interrupt stop that follows. Holding the signal
		 * back and re-sending it later would lose its siginfo.
		 */
		err = restop(ij, WSTOPSIG(status));
		break;
	default:
		err = restop(ij, 0);
		break;
	}
	if (err)
		goto fail;
	if (ptrace(PTRACE_GETREGS, ij->tid, NULL, &ij->saved)) {
		err = ptrace_failed(ij, "PTRACE_GETREGS");
		goto fail;
	}
	ij->regs_put = true;
	/*
	 * Only now, stopped: the signals delivered on the way ran the thread's
	 * own code, which its filter must still see.
	 */
	if (inject_seccomp_suspendable(NULL, 0)) {
		err = set_suspended(ij, true);
		if (err)
			goto fail;
	}
	return 0;
fail:
	let_go(ij);
	return err;
}

int inject_seize_finish(struct rw_seized *ij)
{
	int status, err = wait_stop(ij, &status);

	go_home(ij);

	if (err) {
		let_go(ij);
		return err;
	}
	return seize_stopped(ij, status);
}

int inject_seize(struct rw_seized *ij, pid_t tid)
{
	int err = inject_seize_start(ij, tid);

	if (!err)
		err = inject_seize_finish(ij);
	if (err)
		inject_release(ij);	/* reaps a thread that died traced */
	return err;
}

/* A 0f 05 in the target's [start, end): 0 and ij->syscall_ip set, or -ENOENT. */
static int scan_code(struct rw_seized *ij, uint64_t start, uint64_t end, unsigned char *buf,
		     uint64_t *budget)
{
	uint64_t addr = start;
	size_t carry = 0;	/* buf[0] holds the previous chunk's last byte */

	while (addr < end && *budget) {
		size_t want = SCAN_CHUNK;
		struct iovec local, remote;
		unsigned char *p;
		ssize_t n;

		if (want > end - addr)
			want = end - addr;
		if (want > *budget)
			want = *budget;
		local = (struct iovec){ buf + carry, want };
		remote = (struct iovec){ (void *)(uintptr_t)addr, want };
		n = process_vm_readv(ij->tid, &local, 1, &remote, 1, 0);
		if (n < 0 && errno == ESRCH)
			return -ESRCH;
		if (n <= 0)
			return -ENOENT;	/* unreadable: try another mapping */
		p = memmem(buf, carry + n, "\x0f\x05", 2);
		if (p) {
			/* Any 0f 05 will do: executing from its first byte decodes as syscall. */
			ij->syscall_ip = addr - carry + (p - buf);
			return 0;
		}
		buf[0] = buf[carry + n - 1];
		carry = 1;
		addr += n;
		*budget -= n;
	}
	return -ENOENT;
}

/* Whether the thread is still in its ptrace stop (a SIGKILL ends it: ESRCH). */
static bool still_stopped(const struct rw_seized *ij)
{
	errno = 0;
	ptrace(PTRACE_PEEKUSER, ij->tid, NULL, NULL);
	return errno != ESRCH;
}

static int find_syscall_ip(struct rw_seized *ij)
{
	struct rw_maps maps = { 0 };
	uint64_t budget = SCAN_BUDGET;
	unsigned char *buf;
	int err;

	err = proc_read_maps(ij->tid, &maps);
	if (err)
		return err;
	buf = malloc(SCAN_CHUNK + 1);
	if (!buf) {
		proc_maps_free(&maps);
		return -ENOMEM;
	}
	err = -ENOENT;
	/* x86_64's vDSO has one (clock_gettime's fallback); without a vDSO, any code. */
	for (int pass = 0; pass < 2 && err == -ENOENT; pass++) {
		for (size_t i = 0; i < maps.n && err == -ENOENT; i++) {
			const struct rw_vma *v = &maps.v[i];
			bool vdso = !strcmp(v->name, "[vdso]");

			if (!(v->prot & PROT_EXEC) || vdso != (pass == 0) ||
			    !strcmp(v->name, "[vsyscall]"))
				continue;
			err = scan_code(ij, v->start, v->end, buf, &budget);
		}
	}
	free(buf);
	proc_maps_free(&maps);
	/* A killed thread's maps read empty as its mm goes: that is no missing code. */
	if (err == -ENOENT && !still_stopped(ij))
		err = -ESRCH;
	if (err && err != -ESRCH)
		pr_err("thread %d: no syscall instruction in its code: %s\n", ij->tid,
		       strerror(-err));
	else if (!err)
		pr_debug("thread %d: syscall instruction at %#llx\n", ij->tid,
			 (unsigned long long)ij->syscall_ip);
	return err;
}

/*
 * A signal stopped the thread before our syscall ran: put its own registers
 * back so the kernel delivers the signal (and handles syscall restart) as it
 * would have, then take a new interrupt stop and save the registers again.
 */
static int deliver_and_restop(struct rw_seized *ij, int sig)
{
	bool suspended = ij->suspended;
	int err;

	ij->regs_put = false;
	if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &ij->saved))
		return ptrace_failed(ij, "PTRACE_SETREGS");
	/* Its signal handler is its own code: under its own filter. */
	if (suspended) {
		err = set_suspended(ij, false);
		if (err)
			return err;
	}
	if (ptrace(PTRACE_INTERRUPT, ij->tid, NULL, NULL))
		return ptrace_failed(ij, "PTRACE_INTERRUPT");
	err = restop(ij, sig);
	if (err)
		return err;
	if (ptrace(PTRACE_GETREGS, ij->tid, NULL, &ij->saved))
		return ptrace_failed(ij, "PTRACE_GETREGS");
	return suspended ? set_suspended(ij, true) : 0;
}

/*
 * Single-stepping and int3 report through a forced SIGTRAP, and forcing a
 * signal the thread blocks or ignores resets its disposition to SIG_DFL (and
 * unblocks it): a state change of the target. Trap only when SIGTRAP is neither.
 */
bool inject_can_trap(struct rw_seized *ij)
{
	const uint64_t trap = 1ULL << (SIGTRAP - 1);
	struct rw_proc_status st;
	uint64_t mask;

	if (!ij->step) {
		if (!ij->ignored_known && !proc_read_status(ij->tid, &st))
			inject_know_ignored(ij, st.sig_ignored);
		ij->step = ij->ignored_known && !(ij->sig_ignored & trap) &&
			   !ptrace(PTRACE_GETSIGMASK, ij->tid, (void *)sizeof(mask), &mask) &&
			   !(mask & trap) ? 1 : -1;
	}
	return ij->step > 0;
}

void inject_know_ignored(struct rw_seized *ij, uint64_t sig_ignored)
{
	ij->sig_ignored = sig_ignored;
	ij->ignored_known = true;
}

/*
 * One stop: PTRACE_SINGLESTEP over the syscall instruction. The kernel
 * reports the step at syscall exit as a SIGTRAP (dequeued ahead of any other
 * signal: it is synchronous) with RIP just past the instruction, and we
 * resume later without it. A signal stop with RIP still on the instruction:
 * a signal came first and our syscall has not run (*ran stays false).
 */
static int run_stepped(struct rw_seized *ij, long nr, int *status, long *result, bool *ran)
{
	struct user_regs_struct r;
	enum stop_kind kind;
	int err;

	do {
		if (ptrace(PTRACE_SINGLESTEP, ij->tid, NULL, NULL))
			return ptrace_failed(ij, "PTRACE_SINGLESTEP");
		err = wait_stop(ij, status);
		if (err)
			return err;
		if (ptrace(PTRACE_GETREGS, ij->tid, NULL, &r))
			return ptrace_failed(ij, "PTRACE_GETREGS");
		kind = stop_kind(*status);
		/* A group-stop before the step: step again. */
	} while (kind != STOP_SIGNAL && r.rip == ij->syscall_ip);
	if (kind == STOP_SIGNAL && WSTOPSIG(*status) == SIGTRAP && r.rip == ij->syscall_ip + 2) {
		*result = r.rax;
		*ran = true;
		return 0;
	}
	if (kind == STOP_SIGNAL && r.rip == ij->syscall_ip)
		return 0;
	pr_err("thread %d: unexpected stop %#x at %#llx stepping over syscall %ld\n", ij->tid,
	       *status, (unsigned long long)r.rip, nr);
	return -EIO;
}

/*
 * Two stops: PTRACE_SYSCALL to the entry stop, then to the exit stop. *ran
 * false: a signal came first. A clone3's PTRACE_EVENT_CLONE stop on the way
 * names the new thread in *born (which only inject_clone passes).
 */
static int run_traced(struct rw_seized *ij, long nr, int *status, long *result, bool *ran,
		      pid_t *born)
{
	struct user_regs_struct r;
	bool entered = false;
	unsigned long msg;
	int err;

	if (ptrace(PTRACE_SYSCALL, ij->tid, NULL, NULL))
		return ptrace_failed(ij, "PTRACE_SYSCALL");
	for (;;) {
		err = wait_stop(ij, status);
		if (err)
			return err;
		if (stop_kind(*status) == STOP_SIGNAL)
			break;
		if (born && ((unsigned int)*status >> 16) == PTRACE_EVENT_CLONE) {
			if (ptrace(PTRACE_GETEVENTMSG, ij->tid, NULL, &msg))
				return ptrace_failed(ij, "PTRACE_GETEVENTMSG");
			*born = (pid_t)msg;
		} else if (stop_kind(*status) == STOP_SYSCALL) {
			if (ptrace(PTRACE_GETREGS, ij->tid, NULL, &r))
				return ptrace_failed(ij, "PTRACE_GETREGS");
			if (entered) {
				*result = r.rax;
				*ran = true;
				return 0;
			}
			if ((long)r.orig_rax != nr || r.rip != ij->syscall_ip + 2) {
				pr_err("thread %d: entered syscall %lld at %#llx, not ours\n", ij->tid,
				       (long long)r.orig_rax, (unsigned long long)r.rip);
				return -EIO;
			}
			entered = true;
		}
		/* Past the entry stop, or a group-stop on the way: go on. */
		if (ptrace(PTRACE_SYSCALL, ij->tid, NULL, NULL))
			return ptrace_failed(ij, "PTRACE_SYSCALL");
	}
	if (entered) {
		/* The exit stop always comes first: this cannot happen. */
		pr_err("thread %d: signal %d inside injected syscall %ld\n", ij->tid,
		       WSTOPSIG(*status), nr);
		return -EIO;
	}
	return 0;
}

int inject_syscall(struct rw_seized *ij, long nr, const long args[6], long *result)
{
	struct user_regs_struct r;
	int status, err;

	if (!ij->seized)
		return -ESRCH;
	if (ij->saved.cs != USER64_CS) {
		pr_err("thread %d: not running 64-bit code (cs %#llx)\n", ij->tid,
		       (unsigned long long)ij->saved.cs);
		return -EOPNOTSUPP;
	}
	err = refuse_filtered(ij);
	if (err)
		return err;
	if (!ij->syscall_ip) {
		err = find_syscall_ip(ij);
		if (err)
			return err;
	}
	for (int tries = 0; tries < STOP_LOOPS; tries++) {
		bool ran = false;

		r = ij->saved;
		r.rip = ij->syscall_ip;
		r.rax = nr;
		/* Not "in a syscall": keeps the kernel's restart logic off these registers. */
		r.orig_rax = -1;
		r.rdi = args[0];
		r.rsi = args[1];
		r.rdx = args[2];
		r.r10 = args[3];
		r.r8 = args[4];
		r.r9 = args[5];
		ij->regs_put = false;
		if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &r))
			return ptrace_failed(ij, "PTRACE_SETREGS");
		err = inject_can_trap(ij) ? run_stepped(ij, nr, &status, result, &ran) :
				     run_traced(ij, nr, &status, result, &ran, NULL);
		if (err)
			return err;
		if (ran) {
			/* What decides whether stepping is safe may just have changed. */
			if (nr == SYS_rt_sigaction || nr == SYS_rt_sigprocmask) {
				ij->step = 0;
				ij->ignored_known = false;
			}
			return 0;
		}
		err = deliver_and_restop(ij, WSTOPSIG(status));
		if (err)
			return err;
	}
	pr_err("thread %d: syscall %ld kept being interrupted by signals\n", ij->tid, nr);
	return -EBUSY;
}

/*
 * The child of an injected clone: stopped in the trap the kernel queues for
 * a thread auto-attached to a seizing tracer, which comes before any code
 * of its own (get_signal takes job control traps before signals). Waiting
 * is enough; an interrupt on top would only add a second stop. Should a
 * stop of another kind come first, an interrupt makes sure one follows
 * (seize_stopped resumes it up to that).
 */
static int adopt_child(struct rw_seized *ij, pid_t tid, struct rw_seized *child)
{
	int status, err;

	memset(child, 0, sizeof(*child));
	child->tid = tid;
	child->seized = true;
	child->syscall_ip = ij->syscall_ip;
	/* Its signal dispositions are its parent's (CLONE_SIGHAND). */
	if (ij->ignored_known)
		inject_know_ignored(child, ij->sig_ignored);
	err = wait_stop(child, &status);
	if (!err && stop_kind(status) != STOP_EVENT && ptrace(PTRACE_INTERRUPT, tid, NULL, NULL))
		err = ptrace_failed(child, "PTRACE_INTERRUPT (new thread)");
	if (err) {
		let_go(child);
		return err;
	}
	err = seize_stopped(child, status);
	if (err)
		return err;
	/* It inherited our TRACECLONE: only the options a seize sets. */
	if (!child->suspended &&
	    ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)(long)TRACEE_OPTS))
		return ptrace_failed(child, "PTRACE_SETOPTIONS (new thread)");
	/* Still where the clone left it (rax 0 just past the syscall): it ran nothing. */
	if (child->saved.rip != ij->syscall_ip + 2 || child->saved.rax != 0) {
		pr_err("thread %d (cloned): stopped at %#llx with rax %#llx, not at its birth\n",
		       tid, (unsigned long long)child->saved.rip,
		       (unsigned long long)child->saved.rax);
		return -EIO;
	}
	return 0;
}

int inject_clone(struct rw_seized *ij, uint64_t args, size_t size, struct rw_seized *child,
		 long *result)
{
	long opts = TRACEE_OPTS | (ij->suspended ? PTRACE_O_SUSPEND_SECCOMP : 0);
	struct user_regs_struct r;
	pid_t born = 0;
	int status, err = 0, oerr;

	if (!ij->seized)
		return -ESRCH;
	if (ij->saved.cs != USER64_CS)
		return -EOPNOTSUPP;
	err = refuse_filtered(ij);
	if (!err && !ij->syscall_ip)
		err = find_syscall_ip(ij);
	if (err)
		return err;
	if (ptrace(PTRACE_SETOPTIONS, ij->tid, NULL, (void *)(opts | PTRACE_O_TRACECLONE)))
		return ptrace_failed(ij, "PTRACE_SETOPTIONS (trace clone)");
	for (int tries = 0; tries < STOP_LOOPS; tries++) {
		bool ran = false;

		r = ij->saved;
		r.rip = ij->syscall_ip;
		r.rax = SYS_clone3;
		r.orig_rax = -1;
		r.rdi = args;
		r.rsi = size;
		ij->regs_put = false;
		if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &r)) {
			err = ptrace_failed(ij, "PTRACE_SETREGS");
			break;
		}
		err = run_traced(ij, SYS_clone3, &status, result, &ran, &born);
		/* -ERESTARTNOINTR: a signal pending for us; delivered, then again. */
		if (err || (ran && *result != -RW_ERESTARTNOINTR_CODE))
			break;
		err = deliver_and_restop(ij, ran ? 0 : WSTOPSIG(status));
		if (err)
			break;
		err = -EBUSY;
	}
	oerr = ij->seized && ptrace(PTRACE_SETOPTIONS, ij->tid, NULL, (void *)opts) ?
	       ptrace_failed(ij, "PTRACE_SETOPTIONS") : 0;
	/* Born, whatever happened since: it is ours and must not run as it is. */
	if (born) {
		int cerr = adopt_child(ij, born, child);

		err = err ? err : cerr;
	}
	if (!err && !born && *result >= 0) {
		pr_err("thread %d: clone3 gave %ld without a clone event\n", ij->tid, *result);
		err = -EIO;
	}
	return err ? err : oerr;
}

static bool synchronous(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
}

int inject_run_begin(struct rw_seized *ij, struct rw_inject_run *run,
		     const struct user_regs_struct *regs, uint64_t trap_ip)
{
	int err;

	run->started = false;
	if (!ij->seized)
		return -ESRCH;
	if (!inject_can_trap(ij))
		return -EOPNOTSUPP;
	err = refuse_filtered(ij);
	if (err)
		return err;
	run->r = *regs;
	run->r.orig_rax = -1;
	run->entry = regs->rip;
	run->trap_ip = trap_ip;
	ij->regs_put = false;
	if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &run->r))
		return ptrace_failed(ij, "PTRACE_SETREGS");
	if (ptrace(PTRACE_CONT, ij->tid, NULL, NULL))
		return ptrace_failed(ij, "PTRACE_CONT");
	run->started = true;
	return 0;
}

int inject_run_end(struct rw_seized *ij, struct rw_inject_run *run, struct user_regs_struct *regs)
{
	struct user_regs_struct r;
	int status, err;

	if (!run->started)
		return -EINVAL;
	run->started = false;
	for (int tries = 0; tries < STOP_LOOPS; tries++) {
		err = wait_stop(ij, &status);
		if (err)
			return err;
		if (ptrace(PTRACE_GETREGS, ij->tid, NULL, &r))
			return ptrace_failed(ij, "PTRACE_GETREGS");
		if (stop_kind(status) == STOP_SIGNAL && WSTOPSIG(status) == SIGTRAP &&
		    r.rip == run->trap_ip) {
			*regs = r;
			return 0;	/* the SIGTRAP is never delivered: we resume with 0 */
		}
		if (stop_kind(status) == STOP_SIGNAL &&
		    (r.rip < run->entry || r.rip >= run->trap_ip || synchronous(WSTOPSIG(status)))) {
			/* Our code faulted: that is ours to report, never the thread's to handle. */
			pr_err("thread %d: signal %d at %#llx running our code at %#llx-%#llx\n",
			       ij->tid, WSTOPSIG(status), (unsigned long long)r.rip,
			       (unsigned long long)run->entry, (unsigned long long)run->trap_ip);
			return -EIO;
		}
		/*
		 * A signal for the thread: delivered with its own registers, as
		 * between two single injected syscalls; then on from here. A
		 * group-stop: on from where it stopped.
		 */
		if (stop_kind(status) == STOP_SIGNAL) {
			err = deliver_and_restop(ij, WSTOPSIG(status));
			if (err)
				return err;
		}
		if (tries + 1 == STOP_LOOPS)
			break;	/* given up with the thread stopped, never running our code */
		r.orig_rax = -1;
		if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &r))
			return ptrace_failed(ij, "PTRACE_SETREGS");
		if (ptrace(PTRACE_CONT, ij->tid, NULL, NULL))
			return ptrace_failed(ij, "PTRACE_CONT");
	}
	pr_err("thread %d: our code kept being interrupted by signals\n", ij->tid);
	return -EBUSY;
}

int inject_run(struct rw_seized *ij, struct user_regs_struct *regs, uint64_t trap_ip)
{
	struct rw_inject_run run;
	int err = inject_run_begin(ij, &run, regs, trap_ip);

	return err ? err : inject_run_end(ij, &run, regs);
}

int inject_colocate(struct rw_colocation *c, struct rw_seized *ij)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	memset(c, 0, sizeof(*c));
	if (cpu < 0 || !ij->seized)
		return -EINVAL;
	if (sched_getaffinity(0, sizeof(c->tracer), &c->tracer) ||
	    sched_getaffinity(ij->tid, sizeof(c->tracee), &c->tracee))
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -errno;
	/* A cpuset without our CPU refuses: then we stay apart. */
	if (sched_setaffinity(ij->tid, sizeof(one), &one)) {
		int err = -errno;

		sched_setaffinity(0, sizeof(c->tracer), &c->tracer);
		pr_debug("thread %d: cannot share CPU %d with it: %s\n", ij->tid, cpu, strerror(-err));
		return err;
	}
	c->ij = ij;
	ij->colocated = true;
	return 0;
}

void inject_colocate_end(struct rw_colocation *c)
{
	if (!c->ij)
		return;
	/* The thread may be gone (ESRCH): nothing left to restore then. */
	if (sched_setaffinity(c->ij->tid, sizeof(c->tracee), &c->tracee) && errno != ESRCH)
		pr_warn("thread %d: restoring its CPU affinity: %s\n", c->ij->tid, strerror(errno));
	if (sched_setaffinity(0, sizeof(c->tracer), &c->tracer))
		pr_warn("restoring our CPU affinity: %s\n", strerror(errno));
	c->ij->colocated = false;
	c->ij = NULL;
}

/*
 * A tracee that died (SIGKILL) stays a zombie traced by us until we wait
 * for it; only then does its parent get to reap it. It is exiting: this
 * wait ends. True if we reaped it (false: not ours, or left).
 */
bool inject_reap_dead(pid_t tid)
{
	int status;

	for (int ticks = 0;; ticks++) {
		pid_t r;

		/* Bounded: a leader waits for threads someone else must reap first. */
		wait_timer_arm(WAIT_TICK_MS);
		r = waitpid(tid, &status, __WALL);
		wait_timer_arm(0);
		if (r < 0) {
			if (errno == EINTR && ticks < WAIT_TICKS)
				continue;
			if (errno == EINTR)
				pr_warn("thread %d: dead but not reapable yet; left\n", tid);
			return false;	/* ECHILD: not ours any more */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return true;
		/* Stopped after all (not dead): let it go for real. */
		if (!ptrace(PTRACE_DETACH, tid, NULL, NULL))
			return false;
	}
}

int inject_release(struct rw_seized *ij)
{
	int err = 0;

	if (!ij->seized) {
		if (ij->reap)
			inject_reap_dead(ij->tid);
		ij->reap = false;
		return 0;
	}
	if (!ij->regs_put && ptrace(PTRACE_SETREGS, ij->tid, NULL, &ij->saved))
		err = ptrace_failed(ij, "PTRACE_SETREGS");
	/*
	 * Also right from a syscall-exit stop: detaching wakes the thread with
	 * TIF_SIGPENDING set (__ptrace_unlink), so it passes get_signal() on
	 * its way out, and the kernel restarts the syscall our seize
	 * interrupted (or delivers a pending signal with the right restart
	 * semantics) from these registers.
	 */
	if (ij->seized && ptrace(PTRACE_DETACH, ij->tid, NULL, NULL)) {
		if (errno == ESRCH)
			inject_reap_dead(ij->tid);
		else if (!err)
			err = ptrace_failed(ij, "PTRACE_DETACH");
	}
	ij->seized = false;
	return err;
}

/* The main thread cannot go alone: its exit waits, as a zombie, for all the others. */
static int check_not_leader(struct rw_seized *ij)
{
	struct rw_proc_status st;
	int err = proc_read_status(ij->tid, &st);

	if (err) {
		if (err != -ESRCH)
			pr_err("thread %d: reading its status: %s\n", ij->tid, strerror(-err));
		return err;
	}
	if (st.tgid == ij->tid) {
		pr_err("thread %d: is its process's main thread, it cannot exit alone\n", ij->tid);
		return -EINVAL;
	}
	return 0;
}

int inject_exit_thread(struct rw_seized *ij)
{
	struct user_regs_struct r;
	int status, err;

	if (!ij->seized)
		return -ESRCH;
	err = check_not_leader(ij);
	if (!err && !ij->syscall_ip)
		err = find_syscall_ip(ij);
	if (err)
		return err;
	r = ij->saved;
	r.rip = ij->syscall_ip;
	r.rax = RW_NR_exit;
	/* Not "in a syscall": no restart of what the seize interrupted. */
	r.orig_rax = -1;
	r.rdi = 0;
	ij->regs_put = false;
	if (ptrace(PTRACE_SETREGS, ij->tid, NULL, &r))
		return ptrace_failed(ij, "PTRACE_SETREGS");
	/* PTRACE_CONT, not PTRACE_SYSCALL: no stop at the entry of a syscall that never returns. */
	if (ptrace(PTRACE_CONT, ij->tid, NULL, NULL))
		return ptrace_failed(ij, "PTRACE_CONT");
	for (int i = 0; i < STOP_LOOPS; i++) {
		if (waitpid(ij->tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			ij->seized = false;
			/* ECHILD: already reaped for us (our SIGCHLD is ignored). */
			if (errno == ECHILD)
				return 0;
			err = -errno;
			pr_err("thread %d: waitpid for its exit: %s\n", ij->tid, strerror(-err));
			return err;
		}
		/* A traced thread reports its exit to its tracer, us: this reaps it. */
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			ij->seized = false;
			pr_debug("thread %d exited\n", ij->tid);
			return 0;
		}
		/*
		 * A signal stop on the way out (or a group-stop): go on without the
		 * signal. The thread is as good as gone, but a process-wide signal it
		 * dequeued here is lost to the other threads. ESRCH: killed
		 * meanwhile, its exit is the next thing waitpid reports.
		 */
		pr_debug("thread %d: stop %#x on its way out, discarded\n", ij->tid, status);
		if (ptrace(PTRACE_CONT, ij->tid, NULL, NULL) && errno != ESRCH)
			return ptrace_failed(ij, "PTRACE_CONT");
	}
	pr_err("thread %d: did not exit after %d stops\n", ij->tid, STOP_LOOPS);
	return -EBUSY;
}
