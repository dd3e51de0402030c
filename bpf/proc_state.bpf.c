// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-process state the rewind engine must undo beyond memory: fds (close,
 * dup family, fcntl F_DUPFD / F_SETFD / F_SETFL, ioctl FIONBIO / FIOASYNC; file
 * locks: flock, fcntl F_SETLK* / F_OFD_SETLK*; epoll_ctl, inotify watches,
 * timerfd_settime),
 * signal dispositions, timers (alarm, setitimer, timer_create / settime /
 * delete), cwd and umask, credentials and namespaces (the setuid family,
 * setgroups, capset, the capability prctls, unshare, setns), and the
 * attributes rewindd sets from outside (rlimits, nice, scheduling, affinity,
 * ioprio, of whichever task a call names), SysV IPC and POSIX message queue
 * calls that change an object: the FD, SIGNAL, TIMER, CWD, CRED, ATTR and
 * IPC classes of rewind/syscalls.h. Recorded raw (number, arguments, result); user space
 * interprets them. Task records (fork, exit, exec) come from tracker.bpf.c.
 */
#include "common.bpf.h"

#define F_DUPFD			0
#define F_SETFD			2
#define F_SETFL			4
#define F_DUPFD_CLOEXEC		1030
#define F_SETLK			6
#define F_SETLKW		7
#define RW_F_OFD_SETLK		37
#define RW_F_OFD_SETLKW		38
#define FIONBIO			0x5421
#define FIOASYNC		0x5452
#define PR_SET_KEEPCAPS		8
#define PR_SET_SECCOMP		22
#define PTRACE_POKETEXT		4
#define PTRACE_POKEDATA		5
#define PR_SET_NO_NEW_PRIVS	38
#define PR_CAPBSET_DROP		24
#define PR_SET_SECUREBITS	28
#define PR_CAP_AMBIENT		47
#define IPC_RMID		0
#define IPC_SET			1
#define SETVAL			16
#define SETALL			17
#define SHM_LOCK		11
#define SHM_UNLOCK		12
#define MSG_COPY		040000
#define IPC_64			0x100

__noinline int rw_state_syscall(struct rw_sys_args *a)
{
	if (!a)
		return 0;
	/* fcntl: new fds, the flags a rewind must put back, and file locks. */
	if (a->nr == RW_NR_fcntl && a->args[1] != F_DUPFD && a->args[1] != F_DUPFD_CLOEXEC &&
	    a->args[1] != F_SETFD && a->args[1] != F_SETFL && a->args[1] != F_SETLK &&
	    a->args[1] != F_SETLKW && a->args[1] != RW_F_OFD_SETLK && a->args[1] != RW_F_OFD_SETLKW)
		return 0;
	/* ioctl: only the two that set status flags (O_NONBLOCK, O_ASYNC), as libuv does. */
	if (a->nr == RW_NR_ioctl && a->args[1] != FIONBIO && a->args[1] != FIOASYNC)
		return 0;
	/* prctl: only the options that change credentials, seccomp or no_new_privs. */
	if (a->nr == RW_NR_prctl && a->args[0] != PR_SET_KEEPCAPS && a->args[0] != PR_CAPBSET_DROP &&
	    a->args[0] != PR_SET_SECUREBITS && a->args[0] != PR_CAP_AMBIENT &&
	    a->args[0] != PR_SET_SECCOMP && a->args[0] != PR_SET_NO_NEW_PRIVS)
		return 0;
	/* ptrace: only the requests that write another process's memory (FOLL_FORCE). */
	if (a->nr == RW_NR_ptrace && a->args[0] != PTRACE_POKETEXT && a->args[0] != PTRACE_POKEDATA)
		return 0;
	/* prlimit64 only reads when its new limit is NULL. */
	if (a->nr == RW_NR_prlimit64 && !a->args[2])
		return 0;
	/* IPC: the *ctl commands that change an object; MSG_COPY only reads; getattr only. */
	if ((a->nr == RW_NR_shmctl || a->nr == RW_NR_msgctl) &&
	    (a->args[1] & ~IPC_64) != IPC_RMID && (a->args[1] & ~IPC_64) != IPC_SET &&
	    (a->args[1] & ~IPC_64) != SHM_LOCK && (a->args[1] & ~IPC_64) != SHM_UNLOCK)
		return 0;
	if (a->nr == RW_NR_semctl && (a->args[2] & ~IPC_64) != IPC_RMID &&
	    (a->args[2] & ~IPC_64) != IPC_SET && (a->args[2] & ~IPC_64) != SETVAL &&
	    (a->args[2] & ~IPC_64) != SETALL)
		return 0;
	if (a->nr == RW_NR_msgrcv && (a->args[4] & MSG_COPY))
		return 0;
	if (a->nr == RW_NR_mq_getsetattr && !a->args[1])
		return 0;
	/* alarm returns the seconds left, umask the old mask, setfs[ug]id the old id: never errors. */
	if (a->nr != RW_NR_alarm && a->nr != RW_NR_umask && a->nr != RW_NR_setfsuid &&
	    a->nr != RW_NR_setfsgid && RW_IS_ERR(a->ret))
		return 0;
	return emit_syscall(a);
}
