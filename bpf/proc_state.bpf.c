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
 * calls that change an object, the caller's personality, prctl state and
 * sigaltstack, keys, and ptrace pokes: the FD, SIGNAL, TIMER, CWD, CRED,
 * ATTR, POKE, IPC, PROC and KEY classes of rewind/syscalls.h. Recorded raw (number, arguments, result); user space
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
#define PR_SET_NAME		15
#define KEYCTL_GET_KEYRING_ID	0
#define KEYCTL_DESCRIBE		6
#define KEYCTL_SEARCH		10
#define KEYCTL_READ		11
#define KEYCTL_GET_SECURITY	17

/*
 * prctl options that only read (or, PR_SET_NAME, set what every rewind
 * compares anyway): not recorded. Every other option is, so that one a
 * rewind does not restore fails it closed (default deny).
 */
static __always_inline bool prctl_quiet(__u64 option)
{
	switch (option) {
	case 2: case 3: case 5: case 7: case 9: case 11: case 13:	/* PR_GET_PDEATHSIG .. TIMING */
	case PR_SET_NAME: case 16: case 19: case 21: case 23: case 25: case 27: case 30:
	case 34: case 37: case 39: case 40: case 42: case 46: case 51: case 52: case 56:
	case 58: case 66: case 68:					/* .. PR_GET_MEMORY_MERGE */
	case 0x41555856:						/* PR_GET_AUXV */
		return true;
	}
	return false;
}

/* keyctl operations that change no keyring: describing, reading, looking up. */
static __always_inline bool keyctl_quiet(const struct rw_sys_args *a)
{
	switch (a->args[0]) {
	case KEYCTL_GET_KEYRING_ID:
		return !a->args[2];	/* with create set it makes the keyring */
	case KEYCTL_SEARCH:
		return !a->args[4];	/* with a destination it links what it finds */
	case KEYCTL_DESCRIBE: case KEYCTL_READ: case KEYCTL_GET_SECURITY:
	case 23: case 24: case 25: case 26: case 27: case 28: case 31:	/* DH, PKEY_*, CAPABILITIES */
		return true;
	}
	return false;
}

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
	if (a->nr == RW_NR_prctl && prctl_quiet(a->args[0]))
		return 0;
	/* personality(0xffffffff) reads; sigaltstack(NULL, &old) too. */
	if (a->nr == RW_NR_personality && (__u32)a->args[0] == 0xffffffff)
		return 0;
	if (a->nr == RW_NR_sigaltstack && !a->args[0])
		return 0;
	if (a->nr == RW_NR_keyctl && keyctl_quiet(a))
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
