/* SPDX-License-Identifier: GPL-2.0-only */
/* pidfd syscalls (glibc 2.36 of Debian 12 wraps none of them). */
#ifndef RW_PIDFD_H
#define RW_PIDFD_H

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "rewind/syscalls.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL	/* Linux 6.9: a pidfd for one thread */
#endif

/* -1 with errno, as the syscalls. */
static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(RW_NR_pidfd_open, pid, flags);
}

/* A duplicate of the target's fd in our table (O_CLOEXEC). */
static inline int sys_pidfd_getfd(int pidfd, int targetfd, unsigned int flags)
{
	return syscall(RW_NR_pidfd_getfd, pidfd, targetfd, flags);
}

static inline int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
	return syscall(RW_NR_pidfd_send_signal, pidfd, sig, info, flags);
}

#endif /* RW_PIDFD_H */
