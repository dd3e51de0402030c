/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a process is, beyond its memory and files, read from outside
 * without stopping it (/proc and the get-side syscalls): the fd table, cwd
 * and umask, signal dispositions and pending signals, POSIX timers, seccomp,
 * rlimits, cgroup membership, process group, personality, timer slack, and per thread its credentials, namespaces, scheduling
 * attributes, pending signals, blocked mask and name. Report mode takes one
 * at the start of each invocation and names, class by class, what differs
 * at its end: what a rewind would have put back or refused.
 */
#ifndef RW_FINGERPRINT_H
#define RW_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attrs.h"
#include "ident.h"
#include "proc.h"

struct rw_fp_fd {
	int fd;
	char target[96];	/* readlink of /proc/PID/fd/N, truncated */
	int64_t pos;		/* -1: not seekable */
	int flags;
	bool cloexec;
};

struct rw_fp_thread {
	pid_t tid;
	char comm[16];
	uint64_t sig_pending, sig_blocked;	/* SigPnd, SigBlk of the thread */
	struct rw_ident ident;
};

struct rw_fingerprint {
	pid_t tgid;
	struct rw_proc_status status;
	dev_t cwd_dev;
	ino_t cwd_ino;
	struct rw_fp_fd *fds;		/* ascending fd */
	size_t nfds;
	int *timers;			/* ascending POSIX timer ids */
	size_t ntimers;
	struct rw_fp_thread *threads;	/* ascending tid */
	size_t nthreads;
	struct rw_attrs attrs;
	char *cgroups;			/* /proc/PID/cgroup */
	pid_t pgid, sid;
	uint64_t personality;		/* /proc/PID/personality */
	uint64_t timerslack_ns;		/* /proc/PID/timerslack_ns (the first thread's) */
};

/* tgid as it is now. -ESRCH if it is gone; 0 or -errno (logged). */
int fingerprint_read(pid_t tgid, struct rw_fingerprint *out);
void fingerprint_free(struct rw_fingerprint *fp);

/*
 * Every difference between was and now, one call of emit each: the class
 * (as `rewindctl classes` names it) and what changed, for people. Threads
 * and fds that came or went are differences too. Pure.
 */
void fingerprint_diff(const struct rw_fingerprint *was, const struct rw_fingerprint *now,
		      void (*emit)(void *ctx, const char *class, const char *what), void *ctx);

#endif /* RW_FINGERPRINT_H */
