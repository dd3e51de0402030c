/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * x86_64 numbers of the syscalls the tracker records (the `nr` of
 * rw_syscall_event and rw_file_event) and of those rewindd injects into
 * targets (remote.c, inject.c). Spelled out here because BPF code
 * cannot include the host's <asm/unistd_64.h> and Debian 12's copy predates
 * openat2's neighbours such as fchmodat2. tests/unit/test_syscalls.c checks
 * them against the host header.
 *
 * Below them, the one list of which syscalls the tracker records and as
 * what: the BPF dispatcher and user space both read it, so they cannot
 * disagree. Usable from BPF C and user C alike (no includes, no types).
 */
#ifndef REWIND_SYSCALLS_H
#define REWIND_SYSCALLS_H

enum rw_syscall_nr {
	RW_NR_read = 0,
	RW_NR_write = 1,
	RW_NR_open = 2,
	RW_NR_close = 3,
	RW_NR_mmap = 9,
	RW_NR_mprotect = 10,
	RW_NR_munmap = 11,
	RW_NR_brk = 12,
	RW_NR_ioctl = 16,
	RW_NR_rt_sigaction = 13,
	RW_NR_pread64 = 17,
	RW_NR_pwrite64 = 18,
	RW_NR_readv = 19,
	RW_NR_writev = 20,
	RW_NR_mremap = 25,
	RW_NR_madvise = 28,
	RW_NR_shmget = 29,
	RW_NR_shmat = 30,
	RW_NR_shmctl = 31,
	RW_NR_dup = 32,
	RW_NR_dup2 = 33,
	RW_NR_getitimer = 36,
	RW_NR_alarm = 37,
	RW_NR_setitimer = 38,
	RW_NR_sendfile = 40,
	RW_NR_recvmsg = 47,
	RW_NR_socketpair = 53,
	RW_NR_setsockopt = 54,
	RW_NR_exit = 60,
	RW_NR_wait4 = 61,
	RW_NR_semget = 64,
	RW_NR_semop = 65,
	RW_NR_semctl = 66,
	RW_NR_shmdt = 67,
	RW_NR_msgget = 68,
	RW_NR_msgsnd = 69,
	RW_NR_msgrcv = 70,
	RW_NR_msgctl = 71,
	RW_NR_fcntl = 72,
	RW_NR_flock = 73,
	RW_NR_truncate = 76,
	RW_NR_ftruncate = 77,
	RW_NR_chdir = 80,
	RW_NR_fchdir = 81,
	RW_NR_rename = 82,
	RW_NR_mkdir = 83,
	RW_NR_rmdir = 84,
	RW_NR_creat = 85,
	RW_NR_link = 86,
	RW_NR_unlink = 87,
	RW_NR_symlink = 88,
	RW_NR_chmod = 90,
	RW_NR_fchmod = 91,
	RW_NR_chown = 92,
	RW_NR_fchown = 93,
	RW_NR_lchown = 94,
	RW_NR_umask = 95,
	RW_NR_rt_sigtimedwait = 128,
	RW_NR_ptrace = 101,
	RW_NR_setuid = 105,
	RW_NR_pivot_root = 155,
	RW_NR_chroot = 161,
	RW_NR_mount = 165,
	RW_NR_umount2 = 166,
	RW_NR_move_mount = 429,
	RW_NR_mount_setattr = 442,
	RW_NR_setgid = 106,
	RW_NR_setreuid = 113,
	RW_NR_setregid = 114,
	RW_NR_setgroups = 116,
	RW_NR_setresuid = 117,
	RW_NR_setresgid = 119,
	RW_NR_setfsuid = 122,
	RW_NR_setfsgid = 123,
	RW_NR_capset = 126,
	RW_NR_utime = 132,
	RW_NR_mknod = 133,
	RW_NR_setpriority = 141,
	RW_NR_mlock = 149,
	RW_NR_mlockall = 151,
	RW_NR_sched_setparam = 142,
	RW_NR_sched_setscheduler = 144,
	RW_NR_sigaltstack = 131,
	RW_NR_personality = 135,
	RW_NR_prctl = 157,
	RW_NR_setrlimit = 160,
	RW_NR_setxattr = 188,
	RW_NR_lsetxattr = 189,
	RW_NR_fsetxattr = 190,
	RW_NR_removexattr = 197,
	RW_NR_lremovexattr = 198,
	RW_NR_fremovexattr = 199,
	RW_NR_futex = 202,
	RW_NR_sched_setaffinity = 203,
	RW_NR_remap_file_pages = 216,
	RW_NR_semtimedop = 220,
	RW_NR_timer_create = 222,
	RW_NR_timer_settime = 223,
	RW_NR_timer_gettime = 224,
	RW_NR_timer_delete = 226,
	RW_NR_epoll_ctl = 233,
	RW_NR_utimes = 235,
	RW_NR_mq_open = 240,
	RW_NR_mq_unlink = 241,
	RW_NR_mq_timedsend = 242,
	RW_NR_mq_timedreceive = 243,
	RW_NR_mq_notify = 244,
	RW_NR_mq_getsetattr = 245,
	RW_NR_add_key = 248,
	RW_NR_request_key = 249,
	RW_NR_keyctl = 250,
	RW_NR_io_submit = 209,
	RW_NR_ioprio_set = 251,
	RW_NR_inotify_add_watch = 254,
	RW_NR_inotify_rm_watch = 255,
	RW_NR_openat = 257,
	RW_NR_mkdirat = 258,
	RW_NR_mknodat = 259,
	RW_NR_fchownat = 260,
	RW_NR_futimesat = 261,
	RW_NR_unlinkat = 263,
	RW_NR_renameat = 264,
	RW_NR_linkat = 265,
	RW_NR_symlinkat = 266,
	RW_NR_fchmodat = 268,
	RW_NR_unshare = 272,
	RW_NR_splice = 275,
	RW_NR_vmsplice = 278,
	RW_NR_utimensat = 280,
	RW_NR_fallocate = 285,
	RW_NR_timerfd_settime = 286,
	RW_NR_dup3 = 292,
	RW_NR_preadv = 295,
	RW_NR_pwritev = 296,
	RW_NR_prlimit64 = 302,
	RW_NR_sched_setattr = 314,
	RW_NR_renameat2 = 316,
	RW_NR_seccomp = 317,
	RW_NR_mlock2 = 325,
	RW_NR_copy_file_range = 326,
	RW_NR_setns = 308,
	RW_NR_process_vm_writev = 311,
	RW_NR_preadv2 = 327,
	RW_NR_pwritev2 = 328,
	RW_NR_pkey_mprotect = 329,
	RW_NR_rseq = 334,
	RW_NR_pidfd_send_signal = 424,
	RW_NR_io_uring_setup = 425,
	RW_NR_io_uring_enter = 426,
	RW_NR_io_uring_register = 427,
	RW_NR_pidfd_open = 434,
	RW_NR_openat2 = 437,
	RW_NR_pidfd_getfd = 438,
	RW_NR_fchmodat2 = 452,
	RW_NR_map_shadow_stack = 453,
	RW_NR_mseal = 462,
};

/*
 * What a recorded syscall is about. LAYOUT and the state classes (FD,
 * SIGNAL, TIMER, CWD, CRED, ATTR, POKE, IPC, PROC, KEY) arrive as rw_syscall_event, FILE as rw_file_event.
 */
enum rw_syscall_class {
	RW_SC_NONE = 0,	/* not recorded */
	RW_SC_LAYOUT,	/* the memory layout (memory.bpf.c); an mmap may add a FILE record */
	RW_SC_FD,	/* the fd table and fd flags, locks, fd objects (proc_state.bpf.c) */
	RW_SC_SIGNAL,	/* signal dispositions (proc_state.bpf.c) */
	RW_SC_TIMER,	/* alarm, itimers, POSIX timers (proc_state.bpf.c) */
	RW_SC_CWD,	/* cwd and umask (proc_state.bpf.c) */
	RW_SC_CRED,	/* credentials and namespaces: a change fails closed (proc_state.bpf.c) */
	RW_SC_ATTR,	/* rlimits, nice, scheduling, affinity, ioprio of any task (proc_state.bpf.c) */
	RW_SC_POKE,	/* ptrace writes into a process's memory, read-only mappings too (proc_state.bpf.c) */
	RW_SC_IPC,	/* SysV IPC and POSIX message queues: the IPC namespace (proc_state.bpf.c) */
	RW_SC_PROC,	/* personality, prctl state, sigaltstack, rseq of the caller (proc_state.bpf.c) */
	RW_SC_KEY,	/* keys and keyrings (proc_state.bpf.c) */
	RW_SC_FILE,	/* file-system mutations (files.bpf.c) */
};

/* Every recorded syscall and its class: X(name, class) with RW_NR_<name>, RW_SC_<class>. */
#define RW_TRACKED_SYSCALLS(X)							\
	X(mmap, LAYOUT) X(munmap, LAYOUT) X(mremap, LAYOUT) X(mprotect, LAYOUT)	\
	X(pkey_mprotect, LAYOUT) X(brk, LAYOUT) X(madvise, LAYOUT)		\
	X(shmat, LAYOUT) X(shmdt, LAYOUT) X(remap_file_pages, LAYOUT)		\
	X(map_shadow_stack, LAYOUT) X(mseal, LAYOUT)				\
	X(close, FD) X(dup, FD) X(dup2, FD) X(dup3, FD) X(fcntl, FD) X(ioctl, FD) \
	X(flock, FD) X(epoll_ctl, FD) X(inotify_add_watch, FD)			\
	X(inotify_rm_watch, FD) X(timerfd_settime, FD)				\
	X(rt_sigaction, SIGNAL)							\
	X(alarm, TIMER) X(setitimer, TIMER) X(timer_create, TIMER)		\
	X(timer_settime, TIMER) X(timer_delete, TIMER)				\
	X(chdir, CWD) X(fchdir, CWD) X(umask, CWD)				\
	X(setuid, CRED) X(setgid, CRED) X(setreuid, CRED) X(setregid, CRED)	\
	X(setresuid, CRED) X(setresgid, CRED) X(setfsuid, CRED)		\
	X(setfsgid, CRED) X(setgroups, CRED) X(capset, CRED)			\
	X(unshare, CRED) X(setns, CRED) X(seccomp, CRED) X(ptrace, POKE)	\
	X(mount, CRED) X(umount2, CRED) X(move_mount, CRED) X(mount_setattr, CRED) \
	X(pivot_root, CRED) X(chroot, CRED)					\
	X(setrlimit, ATTR) X(prlimit64, ATTR) X(setpriority, ATTR)		\
	X(sched_setparam, ATTR) X(sched_setscheduler, ATTR)			\
	X(sched_setattr, ATTR) X(sched_setaffinity, ATTR) X(ioprio_set, ATTR)	\
	X(shmget, IPC) X(shmctl, IPC) X(semget, IPC) X(semop, IPC)		\
	X(semtimedop, IPC) X(semctl, IPC) X(msgget, IPC) X(msgsnd, IPC)	\
	X(msgrcv, IPC) X(msgctl, IPC) X(mq_open, IPC) X(mq_unlink, IPC)		\
	X(mq_timedsend, IPC) X(mq_timedreceive, IPC) X(mq_notify, IPC)		\
	X(mq_getsetattr, IPC)							\
	X(prctl, PROC) X(personality, PROC) X(sigaltstack, PROC) X(rseq, PROC)		\
	X(add_key, KEY) X(request_key, KEY) X(keyctl, KEY)			\
	X(write, FILE) X(pwrite64, FILE) X(writev, FILE) X(pwritev, FILE)	\
	X(pwritev2, FILE) X(open, FILE) X(openat, FILE) X(openat2, FILE)	\
	X(creat, FILE) X(truncate, FILE) X(ftruncate, FILE) X(fallocate, FILE)	\
	X(unlink, FILE) X(unlinkat, FILE) X(rename, FILE) X(renameat, FILE)	\
	X(renameat2, FILE) X(mkdir, FILE) X(mkdirat, FILE) X(rmdir, FILE)	\
	X(link, FILE) X(linkat, FILE) X(symlink, FILE) X(symlinkat, FILE)	\
	X(chmod, FILE) X(fchmod, FILE) X(fchmodat, FILE) X(fchmodat2, FILE)	\
	X(chown, FILE) X(fchown, FILE) X(lchown, FILE) X(fchownat, FILE)	\
	X(utime, FILE) X(utimes, FILE) X(futimesat, FILE) X(utimensat, FILE)	\
	X(setxattr, FILE) X(lsetxattr, FILE) X(fsetxattr, FILE)		\
	X(removexattr, FILE) X(lremovexattr, FILE) X(fremovexattr, FILE)	\
	X(copy_file_range, FILE) X(sendfile, FILE) X(splice, FILE)		\
	X(mknod, FILE) X(mknodat, FILE)

/* enum rw_syscall_class of an x86_64 syscall number. */
static inline int rw_syscall_class(unsigned int nr)
{
	switch (nr) {
#define RW_SC_CASE(name, class) case RW_NR_##name: return RW_SC_##class;
	RW_TRACKED_SYSCALLS(RW_SC_CASE)
#undef RW_SC_CASE
	}
	return RW_SC_NONE;
}

/*
 * Syscalls that can write user memory without a fault the log sees (GUP,
 * kernel mappings of pinned pages), or write another process's memory:
 * rw_gup_syscall() (memory.bpf.c) counts them in the unvouched map, and a
 * rewind then scans for written pages instead of trusting the faults. The
 * write family is here for writes to /proc/PID/mem, read family for O_DIRECT;
 * the mlock family populates private writable memory for write, which drops
 * the write protection of the pages it touches without a write.
 */
static inline int rw_syscall_may_gup_write(unsigned int nr)
{
	switch (nr) {
	case RW_NR_read: case RW_NR_pread64: case RW_NR_readv: case RW_NR_preadv:
	case RW_NR_preadv2:
	case RW_NR_write: case RW_NR_pwrite64: case RW_NR_writev: case RW_NR_pwritev:
	case RW_NR_pwritev2:
	case RW_NR_process_vm_writev: case RW_NR_ptrace: case RW_NR_vmsplice:
	case RW_NR_io_submit: case RW_NR_io_uring_setup: case RW_NR_io_uring_enter:
	case RW_NR_io_uring_register: case RW_NR_setsockopt:
	case RW_NR_mlock: case RW_NR_mlock2: case RW_NR_mlockall:
		return 1;
	}
	return 0;
}

/*
 * i386 numbers (int 0x80 from any task) of the calls that may write another
 * process's memory: write/pwrite64/writev/pwritev/pwritev2 (to /proc/PID/mem),
 * ptrace, process_vm_writev. Compat calls are not decoded, so these count
 * for every session.
 */
static inline int rw_compat_syscall_may_write_other(unsigned int nr)
{
	switch (nr) {
	case 4: case 181: case 146: case 334: case 379:
	case 26: case 348:
		return 1;
	}
	return 0;
}

/* The per-process state classes, recorded raw by proc_state.bpf.c. */
static inline int rw_syscall_class_is_state(int class)
{
	return class >= RW_SC_FD && class <= RW_SC_KEY;
}

#endif /* REWIND_SYSCALLS_H */
