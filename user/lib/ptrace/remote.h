/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Syscalls run inside a stopped target that need memory there (structs,
 * paths, fd passing): a scratch page is mapped in the target on first use
 * and unmapped by remote_close(), so the target's layout is what it was.
 * Built on inject.h; every function needs a thread seized with
 * inject_seize() by the calling thread.
 *
 * Return convention everywhere: 0 on success; the syscall's -errno when the
 * target's kernel refused; a ptrace failure (the thread died: -ESRCH) is
 * logged and returned as -errno too, and sets r->broken so the caller can
 * tell "the target said no" from "we lost the target" (once set, every call
 * fails with -ESRCH). Refusals are logged at debug level only: whether one
 * is an error is the caller's call.
 */
#ifndef RW_REMOTE_H
#define RW_REMOTE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>

#include "inject.h"

/* The kernel's struct sigaction (rt_sigaction(2) ABI, x86_64), not glibc's. */
struct rw_ksigaction {
	uint64_t handler;	/* SIG_DFL 0, SIG_IGN 1, or an address */
	uint64_t flags;		/* SA_* incl. SA_RESTORER */
	uint64_t restorer;
	uint64_t mask;		/* sigsetsize 8 */
};

#define RW_NSIG 64		/* signals 1..64 */

struct rw_remote {
	struct rw_seized *ij;	/* a seized thread of the target */
	pid_t pid;		/* its tgid, for process_vm_readv/writev */
	uint64_t hole;		/* free now and in the layout being restored; 0: unknown */
	uint64_t scratch;	/* scratch mapping in the target, 0 until needed */
	size_t scratch_len;
	uint64_t batch;		/* the batch code and table (read-only, exec), 0 until needed */
	/*
	 * A resident batch area (remote_use_area): our writable mapping of its
	 * pages, and how many table bytes this remote wrote there (zeroed at close).
	 */
	uint8_t *batch_local;
	size_t batch_used;
	unsigned int batch_maps;	/* batch areas this remote mapped in the target */
	bool broken;		/* ptrace failed: the target is lost */
	/* Moved onto our CPU at the first injection (remote_colocate_lazily), not before. */
	struct rw_colocation *near;
	bool near_tried;
	/* A copy between remote_copy_begin and _end, and the thread's affinity before it. */
	struct rw_inject_run copy_run;
	size_t copy_runs;
	cpu_set_t copy_home;
};

/*
 * Bytes from rw_remote.hole on that the scratch page and the batch area use
 * (the area holds a restorer table of ~10,900 runs: one stop for 10k pages).
 */
#define RW_REMOTE_AREA	(260UL << 10)

void remote_init(struct rw_remote *r, struct rw_seized *ij, pid_t pid);

/* The batch area alone (code, then tables): what a resident one must hold. */
#define RW_REMOTE_BATCH_AREA	(RW_REMOTE_AREA - 4096)
/* The code block a batch area starts with: RW_REMOTE_CODE_LEN bytes into out. */
#define RW_REMOTE_CODE_LEN	128
void remote_area_code(uint8_t out[RW_REMOTE_CODE_LEN]);
/*
 * Run batches and copies from a batch area that stays mapped in the target
 * (rewind/restorer_area.h): at addr there, read-only and executable to it, and
 * writable to us at local (the same pages, the code block in place). Tables
 * are written through local, not injected; remote_close zeroes what was
 * written and leaves the area mapped. No hole is needed for it.
 */
void remote_use_area(struct rw_remote *r, uint64_t addr, uint8_t *local);
/*
 * Where our mappings go (MAP_FIXED_NOREPLACE): a hole in both the current
 * layout and the one a rewind restores, so no layout step can land on
 * them. Without one, batches run call by call.
 */
void remote_set_hole(struct rw_remote *r, uint64_t hole);
/*
 * Share our CPU with r->ij (inject_colocate into *near) before the first
 * thing injected through r: a rewind that injects nothing (registers set
 * with ptrace, pages copied with process_vm_writev) pays no affinity
 * calls. The caller ends it with inject_colocate_end(near) as before; near
 * must outlive r's use.
 */
void remote_colocate_lazily(struct rw_remote *r, struct rw_colocation *near);
/*
 * Unmap the scratch page and batch area if mapped (a resident area: its
 * tables zeroed instead). NULL-safe on r->ij.
 */
int remote_close(struct rw_remote *r);

/*
 * A syscall without memory arguments and the return it must give. Laid out
 * as the batch code in the target reads it: 64 bytes.
 */
struct rw_batch_call {
	long nr;
	long args[6];
	long expect;
};

/*
 * Run calls in order inside the target, stopping at the first whose return
 * is not its expect: with one stop for the lot (code of ours in the batch
 * area), or one injected syscall each when there is no hole or SIGTRAP must
 * not be used (inject_can_trap). 0 with *failed = n when all gave what they
 * should; 0 with *failed the index and *res its raw return otherwise; -errno
 * when the target was lost or our code could not run.
 */
int remote_batch(struct rw_remote *r, const struct rw_batch_call *calls, size_t n,
		 size_t *failed, long *res);

/* One run for remote_copy(): len bytes from src to dst, both in the target. */
struct rw_copy_run {
	uint64_t dst, src, len;
};

/*
 * Copy runs inside the target (rep movsb in code of ours in the batch
 * area), one stop per table of up to ~10,900 runs. 0 with *done = n, or
 * -errno with runs [0, *done) copied: -EIO when a run faulted (the signal
 * is never delivered to the thread), -EOPNOTSUPP when there is no hole or
 * SIGTRAP must not be used; the caller copies the rest some other way.
 */
int remote_copy(struct rw_remote *r, const struct rw_copy_run *runs, size_t n, size_t *done);
/*
 * One table of remote_copy (n runs, up to RW_REMOTE_COPY_MAX) beside a copy
 * of ours: begin starts the thread on a CPU other than ours (-EAGAIN when it
 * may run on no other, -EOPNOTSUPP without a resident area: nothing
 * started). remote_copy_take(from, to) takes runs back while it runs: true,
 * and the thread skips those it has not reached yet (the caller copies
 * them all: one copied twice is the same bytes); false once it stopped.
 * end puts its affinity back (failing that, the remote is broken) and waits
 * for it; its result is remote_copy's for the table (0: every run not taken
 * was copied). Nothing else may be done with the remote in between.
 */
#define RW_REMOTE_COPY_MAX	((RW_REMOTE_BATCH_AREA - RW_REMOTE_CODE_LEN) / sizeof(struct rw_copy_run))
int remote_copy_begin(struct rw_remote *r, const struct rw_copy_run *runs, size_t n);
bool remote_copy_take(struct rw_remote *r, size_t from, size_t to);
int remote_copy_end(struct rw_remote *r);

/* A syscall without memory arguments; *res is its raw return. */
int remote_call(struct rw_remote *r, long nr, long a0, long a1, long a2, long a3, long a4,
		long a5, long *res);

/* Layout (results as the syscall returns them). */
int remote_mmap(struct rw_remote *r, uint64_t addr, uint64_t len, int prot, int flags, int fd,
		uint64_t off, uint64_t *mapped);
/* munmap, mprotect, madvise: used by the tests only (restore.c batches its calls). */
int remote_munmap(struct rw_remote *r, uint64_t addr, uint64_t len);
int remote_mprotect(struct rw_remote *r, uint64_t addr, uint64_t len, int prot);
int remote_madvise(struct rw_remote *r, uint64_t addr, uint64_t len, int advice);
/* brk(addr); *now is the break afterwards (brk(0) reads it). */
int remote_brk(struct rw_remote *r, uint64_t addr, uint64_t *now);

/* Process state. */
int remote_sigaction_get(struct rw_remote *r, int sig, struct rw_ksigaction *out);
int remote_sigaction_set(struct rw_remote *r, int sig, const struct rw_ksigaction *act);
/* which: ITIMER_REAL (alarm shares it), ITIMER_VIRTUAL, ITIMER_PROF. */
int remote_itimer_get(struct rw_remote *r, int which, struct itimerval *out);
int remote_itimer_set(struct rw_remote *r, int which, const struct itimerval *val);
int remote_timer_gettime(struct rw_remote *r, int id, struct itimerspec *out);
/* Absolute flag off: value is relative, as timer_gettime returned it. */
int remote_timer_settime(struct rw_remote *r, int id, const struct itimerspec *val);
int remote_timer_delete(struct rw_remote *r, int id);
int remote_umask(struct rw_remote *r, mode_t mask, mode_t *old);
/* chdir(path) as the target sees paths (its mount namespace). */
int remote_chdir(struct rw_remote *r, const char *path);
int remote_close_fd(struct rw_remote *r, int fd);
/* fcntl(fd, F_SETFD, flags) in the target: FD_CLOEXEC is per fd-table entry. */
int remote_set_fd_flags(struct rw_remote *r, int fd, int fd_flags);
/* fcntl(fd, F_SETFL, flags) in the target: for descriptions rewindd does not hold. */
int remote_set_status_flags(struct rw_remote *r, int fd, int flags);
/* prctl(PR_SET_NAME) of the seized thread. */
int remote_set_comm(struct rw_remote *r, const char *comm);
/* A syscall without memory arguments; *res its return (if res). A refusal is its -errno. */
int remote_sys(struct rw_remote *r, const char *name, long nr, long a0, long a1, long a2,
	       long a3, long *res);
/* prctl(option, &int) of the seized thread: PR_GET_PDEATHSIG, PR_GET_CHILD_SUBREAPER. */
int remote_prctl_get_int(struct rw_remote *r, int option, int *out);
/*
 * prctl(PR_GET_TID_ADDRESS) in thread ij (of r's process; only a thread
 * can read its own clear_child_tid), through r's scratch page.
 */
int remote_get_tid_address(struct rw_remote *r, struct rw_seized *ij, uint64_t *out);
/*
 * A thread of the target back with its tid: clone3 in r's thread with
 * CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
 * CLONE_SYSVSEM | CLONE_SETTLS (tls) | CLONE_CHILD_CLEARTID (clear_tid, if
 * not 0), set_tid[0..nset) (innermost pid namespace first). child is seized
 * and has run nothing (inject_clone). The kernel's refusal is returned as
 * its -errno (EPERM: the target may not choose tids; EEXIST: taken).
 */
int remote_clone_thread(struct rw_remote *r, uint64_t tls, uint64_t clear_tid,
			const pid_t *set_tid, size_t nset, struct rw_seized *child);
/* sigaltstack(NULL, ss) / sigaltstack(ss, NULL) of the seized thread; ss: a kernel stack_t. */
int remote_sigaltstack_get(struct rw_remote *r, void *ss, size_t len);
int remote_sigaltstack_set(struct rw_remote *r, const void *ss, size_t len);
/* The serials linked into keyring, as the target (their possessor) reads them. -E2BIG past max. */
int remote_keyctl_read(struct rw_remote *r, int32_t keyring, int32_t *keys, size_t max,
		       size_t *n);
/*
 * wait4(pid, NULL, options | __WALL, NULL) in the target: reap a child it
 * owns. Without WNOHANG a child that is not a zombie yet blocks us too.
 */
int remote_wait4(struct rw_remote *r, pid_t pid, int options, pid_t *reaped);
/*
 * Dequeue pending signals in set (sigtimedwait with a zero timeout) until
 * none is left: the process's shared queue and the seized thread's own, not
 * other threads' private queues. An unblocked pending signal is delivered by
 * the injection itself before it could be dequeued (see inject_syscall()).
 */
int remote_drain_signals(struct rw_remote *r, uint64_t set);

/*
 * Make the open file description of local_fd (ours) the target's fd
 * target_fd (replacing what is there), with FD_CLOEXEC if cloexec. Works
 * across pid, mount and network namespaces: a socketpair is created inside
 * the target, one end taken with pidfd_getfd, the fd passed with
 * SCM_RIGHTS, received, dup3'd into place, and everything temporary closed.
 */
int remote_install_fd(struct rw_remote *r, int local_fd, int target_fd, bool cloexec);

/* epoll_ctl(epfd, op, fd, {events, data}) in the target: items are keyed by its fd numbers. */
int remote_epoll_ctl(struct rw_remote *r, int epfd, int op, int fd, uint32_t events, uint64_t data);
/* fcntl(fd, F_SETLK, fl) in the target: POSIX locks belong to the process. */
struct flock;
int remote_fcntl_lock(struct rw_remote *r, int fd, const struct flock *fl);

#endif /* RW_REMOTE_H */
