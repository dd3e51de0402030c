// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "remote: "
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "pidfd.h"
#include "remote.h"
#include "rewind/syscalls.h"

/* One page holds every argument block below and a PATH_MAX path. */
#define SCRATCH_LEN	4096
/* After it: the batch code, then its table (up to BATCH_MAX calls a stop). */
#define BATCH_AREA_LEN	RW_REMOTE_BATCH_AREA
#define BATCH_CODE_LEN	RW_REMOTE_CODE_LEN
_Static_assert(RW_REMOTE_BATCH_AREA == RW_REMOTE_AREA - SCRATCH_LEN, "scratch page, then batch area");
#define BATCH_MAX	((BATCH_AREA_LEN - BATCH_CODE_LEN) / sizeof(struct rw_batch_call))
/*
 * rt_sigtimedwait calls one drain may make: queued real-time signals come
 * one per call, up to RLIMIT_SIGPENDING; past this something keeps sending.
 */
#define DRAIN_MAX	(1 << 16)
/* The kernel's sigset_t for rt_sig*: 64 signals. */
#define KSIGSET_SIZE	8

/* A mmap-style return that is an error: the last page of the address space. */
static bool is_err(long res)
{
	return (unsigned long)res >= -4095UL;
}

void remote_init(struct rw_remote *r, struct rw_seized *ij, pid_t pid)
{
	memset(r, 0, sizeof(*r));
	r->ij = ij;
	r->pid = pid;
}

void remote_colocate_lazily(struct rw_remote *r, struct rw_colocation *near)
{
	memset(near, 0, sizeof(*near));
	r->near = near;
	r->near_tried = false;
}

/* Before running the tracee: colocate once, if asked (a failure only costs speed). */
static void near_first(struct rw_remote *r)
{
	if (!r->near || r->near_tried || !r->ij)
		return;
	r->near_tried = true;
	inject_colocate(r->near, r->ij);
}

void remote_set_hole(struct rw_remote *r, uint64_t hole)
{
	r->hole = hole;
}

int remote_call(struct rw_remote *r, long nr, long a0, long a1, long a2, long a3, long a4,
		long a5, long *res)
{
	long args[6] = { a0, a1, a2, a3, a4, a5 };
	int err;

	if (!r->ij || r->broken)
		return -ESRCH;
	near_first(r);
	err = inject_syscall(r->ij, nr, args, res);
	if (!err)
		return 0;
	/* Whatever went wrong, the thread's state is no longer one we can inject into. */
	r->broken = true;
	if (err == -ESRCH)
		pr_warn("pid %d: thread %d gone while injecting syscall %ld\n", r->pid,
			r->ij->tid, nr);
	else
		pr_err("pid %d: thread %d: injecting syscall %ld: %s\n", r->pid, r->ij->tid, nr,
		       strerror(-err));
	return err;
}

/*
 * name(...) in the target: 0 and *res its raw return, or -errno. A refusal
 * is logged at debug level only: whether it is an error is the caller's call
 * (close of a free fd, wait4 with nothing to reap).
 */
static int sys(struct rw_remote *r, const char *name, long nr, long a0, long a1, long a2,
	       long a3, long *res)
{
	long ret;
	int err = remote_call(r, nr, a0, a1, a2, a3, 0, 0, &ret);

	if (err)
		return err;
	if (is_err(ret)) {
		pr_debug("pid %d: %s in the target: %s\n", r->pid, name, strerror((int)-ret));
		return (int)ret;
	}
	if (res)
		*res = ret;
	return 0;
}

/* Map len bytes for us in the target: at addr (must be free) or, if 0, anywhere. */
static int map_ours(struct rw_remote *r, uint64_t addr, size_t len, int prot, uint64_t *out)
{
	long res;
	int err;

	err = remote_call(r, RW_NR_mmap, addr, len, prot,
			  MAP_PRIVATE | MAP_ANONYMOUS | (addr ? MAP_FIXED_NOREPLACE : 0), -1, 0, &res);
	if (err)
		return err;
	if (is_err(res) || (addr && (uint64_t)res != addr)) {
		err = is_err(res) ? (int)res : -EEXIST;
		pr_err("pid %d: mmap of %zu bytes of ours in the target%s: %s\n", r->pid, len,
		       addr ? " in the planned hole" : "", strerror(-err));
		return err;
	}
	*out = res;
	return 0;
}

/* Map the scratch page on first need. */
static int scratch(struct rw_remote *r)
{
	int err;

	if (r->scratch)
		return 0;
	err = map_ours(r, r->hole, SCRATCH_LEN, PROT_READ | PROT_WRITE, &r->scratch);
	if (!err)
		r->scratch_len = SCRATCH_LEN;
	return err;
}

static int unmap_ours(struct rw_remote *r, uint64_t addr, size_t len, const char *what)
{
	int err = sys(r, "munmap", RW_NR_munmap, addr, len, 0, 0, NULL);

	if (err && err != -ESRCH)
		pr_err("pid %d: unmapping our %s at %#llx: %s\n", r->pid, what,
		       (unsigned long long)addr, strerror(-err));
	return err;
}

void remote_use_area(struct rw_remote *r, uint64_t addr, uint8_t *local)
{
	r->batch = addr;
	r->batch_local = local;
	r->batch_used = 0;
}

int remote_close(struct rw_remote *r)
{
	int err = 0;

	/* What the last tables said (addresses the rewind wrote) is not the next invocation's to read. */
	if (r->batch_local) {
		memset(r->batch_local + BATCH_CODE_LEN, 0, r->batch_used);
		r->batch = 0;
		r->batch_local = NULL;
		r->batch_used = 0;
	}
	if (!r->ij)
		return 0;
	if (r->scratch && r->batch && r->batch == r->scratch + SCRATCH_LEN) {
		err = unmap_ours(r, r->scratch, SCRATCH_LEN + BATCH_AREA_LEN, "scratch and batch area");
	} else {
		if (r->scratch)
			err = unmap_ours(r, r->scratch, r->scratch_len, "scratch page");
		if (r->batch) {
			int e = unmap_ours(r, r->batch, BATCH_AREA_LEN, "batch area");

			err = err ? err : e;
		}
	}
	r->scratch = r->batch = 0;
	r->scratch_len = 0;
	return err;
}

/* ---- batches ---------------------------------------------------------------------- */

/*
 * The batch code, x86_64, position independent. rbx walks the table up to
 * r12; each entry's syscall runs and its return is compared with expect. The
 * first mismatch, or the end, executes the int3: rbx then tells which.
 */
__asm__("	.pushsection .rodata\n"
	"	.globl rw_batch_code, rw_batch_code_end\n"
	"	.hidden rw_batch_code, rw_batch_code_end\n"
	"rw_batch_code:\n"
	"1:	cmp %r12, %rbx\n"
	"	jae 2f\n"
	"	mov 0(%rbx), %rax\n"
	"	mov 8(%rbx), %rdi\n"
	"	mov 16(%rbx), %rsi\n"
	"	mov 24(%rbx), %rdx\n"
	"	mov 32(%rbx), %r10\n"
	"	mov 40(%rbx), %r8\n"
	"	mov 48(%rbx), %r9\n"
	"	syscall\n"
	"	cmp 56(%rbx), %rax\n"
	"	jne 2f\n"
	"	add $64, %rbx\n"
	"	jmp 1b\n"
	"2:	int3\n"
	"rw_batch_code_end:\n"
	"	.popsection\n");
extern const unsigned char rw_batch_code[], rw_batch_code_end[];

/*
 * The restorer, at COPY_CODE_OFF of the same code block: rbx walks a table
 * of (dst, src, len) up to r12, each copied with rep movsb; then the int3.
 */
__asm__("	.pushsection .rodata\n"
	"	.globl rw_copy_code, rw_copy_code_end\n"
	"	.hidden rw_copy_code, rw_copy_code_end\n"
	"rw_copy_code:\n"
	"	cld\n"
	"1:	cmp %r12, %rbx\n"
	"	jae 2f\n"
	"	mov 0(%rbx), %rdi\n"
	"	mov 8(%rbx), %rsi\n"
	"	mov 16(%rbx), %rcx\n"
	"	rep movsb\n"
	"	add $24, %rbx\n"
	"	jmp 1b\n"
	"2:	int3\n"
	"rw_copy_code_end:\n"
	"	.popsection\n");
extern const unsigned char rw_copy_code[], rw_copy_code_end[];

#define COPY_CODE_OFF	64
#define COPY_MAX	RW_REMOTE_COPY_MAX
_Static_assert(sizeof(struct rw_copy_run) == 24, "the restorer reads 24-byte entries");

_Static_assert(sizeof(struct rw_batch_call) == 64, "the batch code reads 64-byte entries");

void remote_area_code(uint8_t out[RW_REMOTE_CODE_LEN])
{
	memset(out, 0xcc, BATCH_CODE_LEN);
	memcpy(out, rw_batch_code, rw_batch_code_end - rw_batch_code);
	memcpy(out + COPY_CODE_OFF, rw_copy_code, rw_copy_code_end - rw_copy_code);
}

/*
 * The code (padded with int3) and a table after it, into our read-only
 * area: /proc/PID/mem writes with FOLL_FORCE (process_vm_writev would need
 * PROT_WRITE, and a writable and executable mapping is what W^X refuses).
 * A resident area has the code already: the table goes through our mapping.
 */
static int batch_write(struct rw_remote *r, const void *table, size_t len)
{
	static uint8_t code[BATCH_CODE_LEN];
	struct iovec iov[2] = {
		{ code, sizeof(code) },
		{ (void *)table, len },
	};
	char path[64];
	ssize_t w;
	int fd, err;

	if (r->batch_local) {
		memcpy(r->batch_local + BATCH_CODE_LEN, table, len);
		r->batch_used = len > r->batch_used ? len : r->batch_used;
		return 0;
	}
	if (!code[0])
		remote_area_code(code);
	snprintf(path, sizeof(path), "/proc/%d/mem", r->pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("pid %d: opening %s: %s\n", r->pid, path, strerror(-err));
		return err;
	}
	w = pwritev(fd, iov, 2, (off_t)r->batch);
	err = w < 0 ? -errno : -EIO;
	close(fd);
	if (w == (ssize_t)(iov[0].iov_len + iov[1].iov_len))
		return 0;
	pr_err("pid %d: writing our code and a table of %zu bytes at %#llx: %s\n", r->pid, len,
	       (unsigned long long)r->batch, strerror(-err));
	return err;
}

/* Map the batch area after the scratch page's place in the hole, unless there is one. */
static int batch_area(struct rw_remote *r)
{
	int err;

	if (r->batch)
		return 0;
	err = map_ours(r, r->hole + SCRATCH_LEN, BATCH_AREA_LEN, PROT_READ | PROT_EXEC, &r->batch);
	r->batch_maps += !err;
	return err;
}

static int batch_one_by_one(struct rw_remote *r, const struct rw_batch_call *c, size_t n,
			    size_t *failed, long *res)
{
	for (size_t i = 0; i < n; i++) {
		long ret;
		int err = remote_call(r, c[i].nr, c[i].args[0], c[i].args[1], c[i].args[2],
				      c[i].args[3], c[i].args[4], c[i].args[5], &ret);

		if (err)
			return err;
		if (ret != c[i].expect) {
			*failed = i;
			*res = ret;
			return 0;
		}
	}
	return 0;
}

int remote_batch(struct rw_remote *r, const struct rw_batch_call *calls, size_t n,
		 size_t *failed, long *res)
{
	const size_t code_len = rw_batch_code_end - rw_batch_code;
	int err;

	*failed = n;
	if (!n)
		return 0;
	if (!r->ij || r->broken)
		return -ESRCH;
	if ((!r->hole && !r->batch_local) || n == 1 || !inject_can_trap(r->ij))
		return batch_one_by_one(r, calls, n, failed, res);
	err = code_len <= COPY_CODE_OFF ? batch_area(r) : -E2BIG;
	for (size_t done = 0; done < n && !err;) {
		size_t k = n - done < BATCH_MAX ? n - done : BATCH_MAX;
		uint64_t table = r->batch + BATCH_CODE_LEN, idx;
		struct user_regs_struct regs = r->ij->saved;

		err = batch_write(r, calls + done, k * sizeof(*calls));
		if (err)
			break;
		regs.rip = r->batch;
		regs.rbx = table;
		regs.r12 = table + k * sizeof(*calls);
		near_first(r);
		err = inject_run(r->ij, &regs, r->batch + code_len);
		if (err) {
			r->broken = true;
			break;
		}
		idx = (regs.rbx - table) / sizeof(*calls);
		if (idx < k) {
			*failed = done + idx;
			*res = regs.rax;
			return 0;
		}
		done += k;
	}
	return err;
}

/* Whether the restorer can run here; then its table of k runs written and regs set to run it. */
static int copy_table(struct rw_remote *r, const struct rw_copy_run *runs, size_t k,
		      struct user_regs_struct *regs)
{
	const size_t code_len = rw_copy_code_end - rw_copy_code;
	uint64_t table;
	int err;

	if (!r->ij || r->broken)
		return -ESRCH;
	if ((!r->hole && !r->batch_local) || !inject_can_trap(r->ij) ||
	    COPY_CODE_OFF + code_len > BATCH_CODE_LEN)
		return -EOPNOTSUPP;
	err = batch_area(r);
	if (!err)
		err = batch_write(r, runs, k * sizeof(*runs));
	if (err)
		return err;
	table = r->batch + BATCH_CODE_LEN;
	*regs = r->ij->saved;
	regs->rip = r->batch + COPY_CODE_OFF;
	regs->eflags &= ~0x400ULL;	/* DF: rep movsb forwards */
	regs->rbx = table;
	regs->r12 = table + k * sizeof(*runs);
	return 0;
}

static uint64_t copy_trap(struct rw_remote *r)
{
	return r->batch + COPY_CODE_OFF + (rw_copy_code_end - rw_copy_code);
}

int remote_copy(struct rw_remote *r, const struct rw_copy_run *runs, size_t n, size_t *done)
{
	int err = 0;

	*done = 0;
	while (*done < n && !err) {
		size_t k = n - *done < COPY_MAX ? n - *done : COPY_MAX;
		struct user_regs_struct regs;

		err = copy_table(r, runs + *done, k, &regs);
		if (err)
			break;
		near_first(r);
		err = inject_run(r->ij, &regs, copy_trap(r));
		/* -EIO, a run faulted: which one is not known, the whole table counts as not done. */
		if (err && err != -EIO)
			r->broken = true;
		if (err)
			break;
		*done += k;
	}
	return err;
}

/*
 * The thread's affinity as before remote_copy_begin. One left changed is
 * state the rewind does not restore: the remote is broken then (fail closed).
 */
static void copy_home_back(struct rw_remote *r)
{
	if (!sched_setaffinity(r->ij->tid, sizeof(r->copy_home), &r->copy_home) || errno == ESRCH)
		return;
	pr_err("thread %d: putting its CPU affinity back after a copy: %s\n", r->ij->tid,
	       strerror(errno));
	r->broken = true;
}

int remote_copy_begin(struct rw_remote *r, const struct rw_copy_run *runs, size_t n)
{
	struct user_regs_struct regs;
	cpu_set_t away;
	int err, cpu;

	if (!n || n > COPY_MAX)
		return -EINVAL;
	/* remote_copy_take writes the table the thread reads: only a shared one. */
	if (!r->batch_local)
		return -EOPNOTSUPP;
	err = copy_table(r, runs, n, &regs);
	if (err)
		return err;
	near_first(r);
	/* Off our CPU, where it may run: else the two copies take turns. */
	cpu = sched_getcpu();
	if (cpu < 0 || sched_getaffinity(r->ij->tid, sizeof(r->copy_home), &r->copy_home))
		return -EAGAIN;
	away = r->copy_home;
	if (r->ij->colocated && r->near && r->near->ij == r->ij)
		away = r->near->tracee;
	CPU_CLR(cpu, &away);
	if (!CPU_COUNT(&away))
		return -EAGAIN;
	if (sched_setaffinity(r->ij->tid, sizeof(away), &away))
		return errno == ESRCH ? -ESRCH : -EAGAIN;
	err = inject_run_begin(r->ij, &r->copy_run, &regs, copy_trap(r));
	if (err) {
		copy_home_back(r);
		if (err != -EOPNOTSUPP && err != -EPERM)
			r->broken = true;
		return err;
	}
	r->copy_runs = n;
	return 0;
}

bool remote_copy_take(struct rw_remote *r, size_t from, size_t to)
{
	struct rw_copy_run *table = (struct rw_copy_run *)(r->batch_local + BATCH_CODE_LEN);
	siginfo_t info = { 0 };

	if (!r->copy_run.started || to > r->copy_runs || from >= to)
		return false;
	/* Stopped (our trap, or anything else): what it has not done is end's to judge. */
	if (waitid(P_PID, r->ij->tid, &info, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) ||
	    info.si_pid)
		return false;
	for (size_t i = from; i < to; i++)
		__atomic_store_n(&table[i].len, 0, __ATOMIC_RELAXED);
	return true;
}

int remote_copy_end(struct rw_remote *r)
{
	struct user_regs_struct regs;
	int err;

	/* Back where it was (our CPU, colocated), so that it finishes while we wait. */
	copy_home_back(r);
	err = inject_run_end(r->ij, &r->copy_run, &regs);
	r->copy_runs = 0;
	if (err && err != -EIO)
		r->broken = true;
	return err;
}

/* Copy to (write) or from the scratch page at off. */
static int xfer(struct rw_remote *r, size_t off, void *buf, size_t len, bool write)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)(r->scratch + off), len };
	ssize_t n;
	int err;

	if (r->broken)
		return -ESRCH;
	if (off + len > r->scratch_len)
		return -E2BIG;
	if (write)
		n = process_vm_writev(r->pid, &local, 1, &remote, 1, 0);
	else
		n = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	err = n < 0 ? -errno : -EIO;
	if (err == -ESRCH) {
		r->broken = true;
		pr_warn("pid %d: gone while using its scratch page\n", r->pid);
	} else {
		pr_err("pid %d: %s %zu bytes at %#llx in its scratch page: %s\n", r->pid,
		       write ? "writing" : "reading", len, (unsigned long long)remote.iov_base,
		       strerror(-err));
	}
	return err;
}

static int poke(struct rw_remote *r, size_t off, const void *buf, size_t len)
{
	return xfer(r, off, (void *)buf, len, true);
}

static int peek(struct rw_remote *r, size_t off, void *buf, size_t len)
{
	return xfer(r, off, buf, len, false);
}

/* The target's address of offset off in the scratch page. */
#define ADDR(off)	((long)(r->scratch + (off)))

/* Stands for the scratch page's address among the arguments of sys_scratch(). */
#define SCRATCH		LONG_MIN

/*
 * A syscall taking one struct or string in the scratch page: in (len bytes)
 * is written there first, out read back after.
 */
static int sys_scratch(struct rw_remote *r, const char *name, long nr, long a0, long a1,
		       long a2, long a3, const void *in, void *out, size_t len)
{
	long a[4] = { a0, a1, a2, a3 };
	int err = scratch(r);

	for (int i = 0; i < 4; i++)
		if (a[i] == SCRATCH)
			a[i] = ADDR(0);
	if (!err && in)
		err = poke(r, 0, in, len);
	if (!err)
		err = sys(r, name, nr, a[0], a[1], a[2], a[3], NULL);
	if (!err && out)
		err = peek(r, 0, out, len);
	return err;
}

int remote_mmap(struct rw_remote *r, uint64_t addr, uint64_t len, int prot, int flags, int fd,
		uint64_t off, uint64_t *mapped)
{
	long res;
	int err = remote_call(r, RW_NR_mmap, addr, len, prot, flags, fd, off, &res);

	if (err)
		return err;
	if (is_err(res)) {
		pr_debug("pid %d: mmap(%#llx, %#llx) in the target: %s\n", r->pid,
			 (unsigned long long)addr, (unsigned long long)len, strerror((int)-res));
		return (int)res;
	}
	*mapped = res;
	return 0;
}

int remote_munmap(struct rw_remote *r, uint64_t addr, uint64_t len)
{
	return sys(r, "munmap", RW_NR_munmap, addr, len, 0, 0, NULL);
}

int remote_mprotect(struct rw_remote *r, uint64_t addr, uint64_t len, int prot)
{
	return sys(r, "mprotect", RW_NR_mprotect, addr, len, prot, 0, NULL);
}

int remote_madvise(struct rw_remote *r, uint64_t addr, uint64_t len, int advice)
{
	return sys(r, "madvise", RW_NR_madvise, addr, len, advice, 0, NULL);
}

int remote_brk(struct rw_remote *r, uint64_t addr, uint64_t *now)
{
	long res;
	/* brk never fails: it returns the old break when it cannot move it. */
	int err = remote_call(r, RW_NR_brk, addr, 0, 0, 0, 0, 0, &res);

	if (!err)
		*now = res;
	return err;
}

int remote_sigaction_get(struct rw_remote *r, int sig, struct rw_ksigaction *out)
{
	return sys_scratch(r, "rt_sigaction", RW_NR_rt_sigaction, sig, 0, SCRATCH, KSIGSET_SIZE,
			   NULL, out, sizeof(*out));
}

int remote_sigaction_set(struct rw_remote *r, int sig, const struct rw_ksigaction *act)
{
	return sys_scratch(r, "rt_sigaction", RW_NR_rt_sigaction, sig, SCRATCH, 0, KSIGSET_SIZE,
			   act, NULL, sizeof(*act));
}

int remote_itimer_get(struct rw_remote *r, int which, struct itimerval *out)
{
	return sys_scratch(r, "getitimer", RW_NR_getitimer, which, SCRATCH, 0, 0, NULL, out,
			   sizeof(*out));
}

int remote_itimer_set(struct rw_remote *r, int which, const struct itimerval *val)
{
	return sys_scratch(r, "setitimer", RW_NR_setitimer, which, SCRATCH, 0, 0, val, NULL,
			   sizeof(*val));
}

int remote_timer_gettime(struct rw_remote *r, int id, struct itimerspec *out)
{
	return sys_scratch(r, "timer_gettime", RW_NR_timer_gettime, id, SCRATCH, 0, 0, NULL, out,
			   sizeof(*out));
}

int remote_timer_settime(struct rw_remote *r, int id, const struct itimerspec *val)
{
	return sys_scratch(r, "timer_settime", RW_NR_timer_settime, id, 0, SCRATCH, 0, val, NULL,
			   sizeof(*val));
}

int remote_timer_delete(struct rw_remote *r, int id)
{
	return sys(r, "timer_delete", RW_NR_timer_delete, id, 0, 0, 0, NULL);
}

int remote_umask(struct rw_remote *r, mode_t mask, mode_t *old)
{
	long res = 0;
	int err = sys(r, "umask", RW_NR_umask, mask, 0, 0, 0, &res);

	if (!err)
		*old = res;
	return err;
}

int remote_chdir(struct rw_remote *r, const char *path)
{
	size_t len = strlen(path) + 1;

	if (len > SCRATCH_LEN) {
		pr_err("pid %d: chdir path of %zu bytes does not fit our scratch page\n", r->pid,
		       len);
		return -ENAMETOOLONG;
	}
	return sys_scratch(r, "chdir", RW_NR_chdir, SCRATCH, 0, 0, 0, path, NULL, len);
}

int remote_close_fd(struct rw_remote *r, int fd)
{
	return sys(r, "close", RW_NR_close, fd, 0, 0, 0, NULL);
}

int remote_set_fd_flags(struct rw_remote *r, int fd, int fd_flags)
{
	return sys(r, "fcntl(F_SETFD)", RW_NR_fcntl, fd, F_SETFD, fd_flags, 0, NULL);
}

int remote_set_status_flags(struct rw_remote *r, int fd, int flags)
{
	return sys(r, "fcntl(F_SETFL)", RW_NR_fcntl, fd, F_SETFL, flags, 0, NULL);
}

int remote_set_comm(struct rw_remote *r, const char *comm)
{
	char buf[16] = { 0 };	/* TASK_COMM_LEN: the kernel reads 16 bytes, truncates to 15 */

	strncpy(buf, comm, sizeof(buf) - 1);
	return sys_scratch(r, "prctl(PR_SET_NAME)", RW_NR_prctl, PR_SET_NAME, SCRATCH, 0, 0, buf,
			   NULL, sizeof(buf));
}

int remote_sys(struct rw_remote *r, const char *name, long nr, long a0, long a1, long a2,
	       long a3, long *res)
{
	return sys(r, name, nr, a0, a1, a2, a3, res);
}

int remote_prctl_get_int(struct rw_remote *r, int option, int *out)
{
	return sys_scratch(r, "prctl", RW_NR_prctl, option, SCRATCH, 0, 0, NULL, out,
			   sizeof(*out));
}

int remote_get_tid_address(struct rw_remote *r, struct rw_seized *ij, uint64_t *out)
{
	struct rw_seized *own = r->ij;
	int err = scratch(r);

	if (err)
		return err;
	if (!ij->syscall_ip)
		ij->syscall_ip = own->syscall_ip;
	r->ij = ij;
	err = sys(r, "prctl(PR_GET_TID_ADDRESS)", RW_NR_prctl, PR_GET_TID_ADDRESS, ADDR(0), 0, 0,
		  NULL);
	r->ij = own;
	return err ? err : peek(r, 0, out, sizeof(*out));
}

/* struct clone_args up to set_tid_size (CLONE_ARGS_SIZE_VER1), as clone3 reads it. */
struct rw_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size;
};

int remote_clone_thread(struct rw_remote *r, uint64_t tls, uint64_t clear_tid,
			const pid_t *set_tid, size_t nset, struct rw_seized *child)
{
	struct rw_clone_args a = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			 CLONE_SYSVSEM | CLONE_SETTLS | (clear_tid ? CLONE_CHILD_CLEARTID : 0),
		.child_tid = clear_tid,
		.tls = tls,
		.set_tid_size = nset,
	};
	long res = 0;
	int err;

	if (nset * sizeof(*set_tid) > SCRATCH_LEN - sizeof(a))
		return -E2BIG;
	err = scratch(r);
	if (err)
		return err;
	a.set_tid = ADDR(sizeof(a));
	err = poke(r, 0, &a, sizeof(a));
	if (!err)
		err = poke(r, sizeof(a), set_tid, nset * sizeof(*set_tid));
	if (err)
		return err;
	if (!r->ij || r->broken)
		return -ESRCH;
	near_first(r);
	err = inject_clone(r->ij, ADDR(0), sizeof(a), child, &res);
	if (err) {
		r->broken = true;
		return err;
	}
	if (is_err(res)) {
		pr_debug("pid %d: clone3 in the target: %s\n", r->pid, strerror((int)-res));
		return (int)res;
	}
	return 0;
}

int remote_sigaltstack_get(struct rw_remote *r, void *ss, size_t len)
{
	return sys_scratch(r, "sigaltstack", RW_NR_sigaltstack, 0, SCRATCH, 0, 0, NULL, ss, len);
}

int remote_sigaltstack_set(struct rw_remote *r, const void *ss, size_t len)
{
	return sys_scratch(r, "sigaltstack", RW_NR_sigaltstack, SCRATCH, 0, 0, 0, ss, NULL, len);
}

int remote_keyctl_read(struct rw_remote *r, int32_t keyring, int32_t *keys, size_t max,
		       size_t *n)
{
	long len = 0;
	int err = scratch(r);

	if (!err)
		err = sys(r, "keyctl(KEYCTL_READ)", RW_NR_keyctl, 11 /* KEYCTL_READ */, keyring,
			  ADDR(0), SCRATCH_LEN, &len);
	if (!err && (len < 0 || (size_t)len > SCRATCH_LEN || (size_t)len > max * sizeof(*keys) ||
		     len % sizeof(*keys)))
		err = -E2BIG;
	if (!err && len)
		err = peek(r, 0, keys, len);
	if (!err)
		*n = len / sizeof(*keys);
	return err;
}

int remote_wait4(struct rw_remote *r, pid_t pid, int options, pid_t *reaped)
{
	long res = 0;
	int err = sys(r, "wait4", RW_NR_wait4, pid, 0, options | __WALL, 0, &res);

	if (!err)
		*reaped = res;
	return err;
}

int remote_drain_signals(struct rw_remote *r, uint64_t set)
{
	struct timespec zero = { 0, 0 };
	int err = scratch(r);

	if (!err)
		err = poke(r, 0, &set, sizeof(set));
	if (!err)
		err = poke(r, 16, &zero, sizeof(zero));
	for (int i = 0; !err && i < DRAIN_MAX; i++) {
		long res;

		/* NULL siginfo, zero timeout: dequeue one signal or fail with EAGAIN at once. */
		err = remote_call(r, RW_NR_rt_sigtimedwait, ADDR(0), 0, ADDR(16), KSIGSET_SIZE, 0,
				  0, &res);
		if (err)
			return err;
		if (res == -EAGAIN)
			return 0;
		if (res < 0) {
			pr_err("pid %d: rt_sigtimedwait(%#llx) in the target: %s\n", r->pid,
			       (unsigned long long)set, strerror((int)-res));
			return (int)res;
		}
		pr_debug("pid %d: dropped pending signal %ld\n", r->pid, res);
	}
	if (!err) {
		pr_err("pid %d: signals %#llx still pending after %d dequeues\n", r->pid,
		       (unsigned long long)set, DRAIN_MAX);
		err = -EBUSY;
	}
	return err;
}

/* fd tfd of pid, duplicated into our table. */
static int take_fd(pid_t pid, int tfd)
{
	int pidfd = sys_pidfd_open(pid, 0), fd;

	if (pidfd < 0) {
		pr_perror("pidfd_open(%d)", pid);
		return -errno;
	}
	fd = sys_pidfd_getfd(pidfd, tfd, 0);
	if (fd < 0) {
		fd = -errno;
		pr_err("pid %d: pidfd_getfd of its fd %d: %s\n", pid, tfd, strerror(-fd));
	}
	close(pidfd);
	return fd;
}

/* SCM_RIGHTS of one fd over our end of the target's socketpair. */
static int send_fd(struct rw_remote *r, int sock, int fd)
{
	char byte = 'f';
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			      .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *cm;

	memset(&c, 0, sizeof(c));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
		int err = -errno;

		pr_err("pid %d: sending our fd %d to it: %s\n", r->pid, fd, strerror(-err));
		return err;
	}
	return 0;
}

/* What recvmsg needs, laid out in the scratch page with target addresses. */
struct fd_pass {
	int sv[2];
	struct msghdr msg;
	struct iovec iov;
	/* Not a union with struct cmsghdr (a flexible array member: not inside a struct). */
	_Alignas(struct cmsghdr) char cmsg[CMSG_SPACE(sizeof(int))];
	char data[8];
};

#define PASS(field)	ADDR(offsetof(struct fd_pass, field))

/* recvmsg on sock in the target: the fd number it got, or -errno. */
static int recv_fd(struct rw_remote *r, struct fd_pass *t, int sock)
{
	struct msghdr view;
	struct cmsghdr *cm;
	int err, fd;

	memset(&t->msg, 0, sizeof(t->msg));
	memset(&t->cmsg, 0, sizeof(t->cmsg));
	t->iov.iov_base = (void *)PASS(data);
	t->iov.iov_len = sizeof(t->data);
	t->msg.msg_iov = (void *)PASS(iov);
	t->msg.msg_iovlen = 1;
	t->msg.msg_control = (void *)PASS(cmsg);
	t->msg.msg_controllen = sizeof(t->cmsg);
	err = poke(r, 0, t, sizeof(*t));
	/* The datagram is already queued: MSG_DONTWAIT so a surprise cannot hang the target. */
	if (!err)
		err = sys(r, "recvmsg", RW_NR_recvmsg, sock, PASS(msg),
			  MSG_CMSG_CLOEXEC | MSG_DONTWAIT, 0, NULL);
	if (!err)
		err = peek(r, 0, t, sizeof(*t));
	if (err) {
		pr_err("pid %d: recvmsg of the passed fd in the target: %s\n", r->pid,
		       strerror(-err));
		return err;
	}
	/* Walk the control data in our copy: only the lengths matter, not the addresses. */
	view = (struct msghdr){ .msg_control = t->cmsg,
				.msg_controllen = t->msg.msg_controllen };
	if (view.msg_controllen > sizeof(t->cmsg))
		view.msg_controllen = sizeof(t->cmsg);
	cm = CMSG_FIRSTHDR(&view);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len < CMSG_LEN(sizeof(int))) {
		/* CTRUNC: the kernel could not install the fd (RLIMIT_NOFILE, ...). */
		err = t->msg.msg_flags & MSG_CTRUNC ? -EMFILE : -EIO;
		pr_err("pid %d: no fd arrived in the target (msg_flags %#x)\n", r->pid,
		       t->msg.msg_flags);
		return err;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Put fd got (FD_CLOEXEC set by MSG_CMSG_CLOEXEC) at target_fd with the wanted flag. */
static int place_fd(struct rw_remote *r, int got, int target_fd, bool cloexec)
{
	int err;

	/* dup3 refuses oldfd == newfd: only the flag needs fixing then. */
	if (got == target_fd)
		err = sys(r, "fcntl(F_SETFD)", RW_NR_fcntl, got, F_SETFD, cloexec ? FD_CLOEXEC : 0,
			  0, NULL);
	else
		err = sys(r, "dup3", RW_NR_dup3, got, target_fd, cloexec ? O_CLOEXEC : 0, 0, NULL);
	if (err)
		pr_err("pid %d: placing the passed fd (%d) at %d: %s\n", r->pid, got, target_fd,
		       strerror(-err));
	return err;
}

/* Close a temporary fd in the target; a leak there is worth a warning. */
static void close_temp(struct rw_remote *r, int fd)
{
	int err = sys(r, "close", RW_NR_close, fd, 0, 0, 0, NULL);

	if (err && err != -ESRCH)
		pr_warn("pid %d: closing our temporary fd %d in it: %s\n", r->pid, fd,
			strerror(-err));
}

/*
 * The temporaries are all fresh fd numbers, so one of them can be target_fd
 * itself when that was free: sv[0] is closed before the recvmsg (the fd
 * then lands there), sv[1] is replaced by dup3 and so not closed after.
 */
int remote_install_fd(struct rw_remote *r, int local_fd, int target_fd, bool cloexec)
{
	struct fd_pass t;
	int ours, got = -1, err;

	if (target_fd < 0 || local_fd < 0) {
		pr_err("pid %d: installing our fd %d as its fd %d: bad fd\n", r->pid, local_fd,
		       target_fd);
		return -EBADF;
	}
	err = scratch(r);
	if (!err)
		err = sys(r, "socketpair", RW_NR_socketpair, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
			  PASS(sv), NULL);
	if (!err)
		err = peek(r, offsetof(struct fd_pass, sv), t.sv, sizeof(t.sv));
	if (err) {
		pr_err("pid %d: socketpair in the target: %s\n", r->pid, strerror(-err));
		return err;
	}
	ours = take_fd(r->pid, t.sv[0]);
	close_temp(r, t.sv[0]);
	if (ours < 0) {
		err = ours;
		goto out;
	}
	err = send_fd(r, ours, local_fd);
	close(ours);
	if (err)
		goto out;
	got = recv_fd(r, &t, t.sv[1]);
	if (got < 0) {
		err = got;
		goto out;
	}
	err = place_fd(r, got, target_fd, cloexec);
	if (!err) {
		pr_debug("pid %d: our fd %d is its fd %d now\n", r->pid, local_fd, target_fd);
		if (got != target_fd)
			close_temp(r, got);
		if (t.sv[1] != target_fd)
			close_temp(r, t.sv[1]);
		return 0;
	}
out:
	/* Nothing here is target_fd as it was before: close it all. */
	if (got >= 0)
		close_temp(r, got);
	close_temp(r, t.sv[1]);
	return err;
}

int remote_epoll_ctl(struct rw_remote *r, int epfd, int op, int fd, uint32_t events, uint64_t data)
{
	/* struct epoll_event is packed on x86_64: 12 bytes. */
	uint8_t ev[12];

	memcpy(ev, &events, 4);
	memcpy(ev + 4, &data, 8);
	return sys_scratch(r, "epoll_ctl", RW_NR_epoll_ctl, epfd, op, fd, SCRATCH, ev, NULL,
			   sizeof(ev));
}

int remote_fcntl_lock(struct rw_remote *r, int fd, const struct flock *fl)
{
	return sys_scratch(r, "fcntl(F_SETLK)", RW_NR_fcntl, fd, F_SETLK, SCRATCH, 0, fl, NULL,
			   sizeof(*fl));
}
