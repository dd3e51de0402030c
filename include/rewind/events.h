/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ABI shared by the BPF tracker and the rewindd daemon: the records the
 * BPF programs push into the ring buffer and the values of the filter maps.
 *
 * Rules: fixed-width types only, no pointers, every size a named limit. This
 * header is included from BPF code (after vmlinux.h) and from user code
 * (after <linux/types.h>); it must not include anything itself.
 */
#ifndef REWIND_EVENTS_H
#define REWIND_EVENTS_H

/* Sessions are small integers so BPF can index per-session arrays. Id 0 is "none". */
#define RW_MAX_SESSIONS		256
/* Path buffers. A path longer than this is truncated and flagged RW_F_TRUNCATED. */
#define RW_PATH_MAX		256
#define RW_NAME_MAX		256
/* Longest single path component the BPF dentry walk copies: NAME_MAX and its NUL. */
#define RW_COMPONENT_MAX	256
/* Deepest directory nesting the BPF dentry walk follows before giving up. */
#define RW_PATH_DEPTH		24
#define RW_COMM_LEN		16
/* A resolved path buffer: the walk stops adding components past RW_PATH_MAX. */
#define RW_DIR_BUF		(RW_PATH_MAX + RW_COMPONENT_MAX)

enum rw_event_kind {
	RW_EV_FAULT = 1,	/* a write fault on a user page */
	RW_EV_SYSCALL = 2,	/* layout, fd, signal, timer, cwd/umask syscalls: raw args + result */
	RW_EV_FILE = 3,		/* a file-system mutation, with the paths involved */
	RW_EV_TASK = 4,		/* thread/process creation, exit, exec */
};

struct rw_event_hdr {
	__u32 kind;		/* enum rw_event_kind */
	__u32 session;		/* session id owning the task, 1..RW_MAX_SESSIONS-1 */
	__u32 tgid;
	__u32 tid;
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/* RW_EV_FAULT: exceptions:page_fault_user / page_fault_kernel with the write bit set. */
#define RW_FAULT_KERNEL		(1u << 0)	/* the kernel wrote on the task's behalf (copy_to_user) */

struct rw_fault_event {
	struct rw_event_hdr hdr;
	__u64 addr;		/* faulting address (not page aligned) */
	__u32 flags;		/* RW_FAULT_* */
	__u32 __pad;
};

/*
 * RW_EV_SYSCALL: x86_64 syscall number, its six raw arguments and its result,
 * taken at syscall exit. Used for the LAYOUT, FD, SIGNAL, TIMER and CWD
 * classes of rewind/syscalls.h: mmap/munmap/mremap/mprotect/pkey_mprotect/
 * brk/madvise/shmat/shmdt/remap_file_pages, close/dup/dup2/dup3,
 * fcntl(F_DUPFD, F_DUPFD_CLOEXEC, F_SETFD, F_SETFL), ioctl(FIONBIO, FIOASYNC),
 * rt_sigaction, alarm/setitimer/timer_create/timer_settime/timer_delete,
 * chdir/fchdir, umask. Failed calls are not recorded (brk, alarm and umask
 * never return an error code: always recorded).
 */
struct rw_syscall_event {
	struct rw_event_hdr hdr;
	__u32 nr;
	__u32 __pad;
	__u64 args[6];
	__s64 ret;
};

/*
 * RW_EV_FILE. Paths come in two shapes:
 *  - `dir`, `dir2`: paths the kernel resolved at syscall exit (an fd's file,
 *    a dirfd, or the cwd), stored as NUL-terminated components *leaf first*:
 *    "c\0b\0a\0" for /a/b/c, `dir_len` bytes in all (0 for "/").
 *  - `name`, `name2`: the strings exactly as the task passed them; relative
 *    ones are relative to `dir` / `dir2`.
 * For fd-based calls (write, ftruncate, ...) `dir` is the file itself
 * (RW_F_DIR_IS_FILE) and `name` is empty. For a successful open, `dir` is
 * the opened file.
 */
enum rw_file_op {
	RW_FOP_WRITE = 1,	/* write pwrite64 writev pwritev pwritev2 */
	RW_FOP_OPEN,		/* open openat openat2 creat with write intent, O_CREAT or O_TRUNC */
	RW_FOP_TRUNCATE,	/* truncate ftruncate */
	RW_FOP_FALLOCATE,
	RW_FOP_UNLINK,		/* unlink unlinkat (without AT_REMOVEDIR) */
	RW_FOP_RENAME,		/* rename renameat renameat2: name -> name2 */
	RW_FOP_MKDIR,		/* mkdir mkdirat */
	RW_FOP_RMDIR,		/* rmdir unlinkat(AT_REMOVEDIR) */
	RW_FOP_LINK,		/* link linkat: name -> name2 */
	RW_FOP_SYMLINK,		/* symlink symlinkat: name2 -> target name */
	RW_FOP_CHMOD,		/* chmod fchmod fchmodat fchmodat2 */
	RW_FOP_CHOWN,		/* chown fchown lchown fchownat */
	RW_FOP_UTIMES,		/* utimensat utimes utime futimesat */
	RW_FOP_XATTR,		/* setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr */
	RW_FOP_COPY,		/* copy_file_range sendfile splice into a regular file */
	RW_FOP_MKNOD,		/* mknod mknodat */
	RW_FOP_MMAP_WRITE,	/* mmap MAP_SHARED with PROT_WRITE of a regular file */
	RW_FOP__COUNT,
};

#define RW_F_TRUNCATED		(1u << 0)	/* a path did not fit */
#define RW_F_CREATED		(1u << 1)	/* RW_FOP_OPEN created the file (O_CREAT, inode new) */
#define RW_F_TRUNC		(1u << 2)	/* RW_FOP_OPEN had O_TRUNC */
#define RW_F_DIR_IS_FILE	(1u << 3)	/* `dir` names the file itself, not a directory */

struct rw_file_event {
	struct rw_event_hdr hdr;
	__u32 op;		/* enum rw_file_op */
	__u32 nr;		/* syscall number */
	__s64 ret;
	__u64 bytes;		/* bytes written for RW_FOP_WRITE / RW_FOP_COPY */
	__u64 dev;		/* (dev, ino) of the file when known, else 0 */
	__u64 ino;
	__u32 flags;		/* RW_F_* */
	__u16 dir_len;
	__u16 dir2_len;
	/*
	 * The writer's mount namespace (its inode number, as stat() of
	 * /proc/PID/ns/mnt gives it; 0 if unread). The paths above are that
	 * namespace's: the walk stops at its top mount.
	 */
	__u32 mnt_ns;
	__u32 __pad;
	char dir[RW_DIR_BUF];
	char dir2[RW_DIR_BUF];
	char name[RW_NAME_MAX];
	char name2[RW_NAME_MAX];
};

enum rw_task_op {
	RW_TASK_NEW_THREAD = 1,
	RW_TASK_NEW_PROCESS,
	RW_TASK_EXIT_THREAD,
	RW_TASK_EXIT_PROCESS,	/* the last thread of the group exited */
	RW_TASK_EXEC,
	RW_TASK_CGROUP,		/* moved to another cgroup (by anyone): pid is the task moved */
};

struct rw_task_event {
	struct rw_event_hdr hdr;
	__u32 op;		/* enum rw_task_op */
	__u32 pid;		/* the new/exiting/exec'ing task (tid) */
	__u32 tgid;		/* its tgid */
	__u32 parent;		/* for NEW_*: the creating task's tid */
	char comm[RW_COMM_LEN];
};

/* Value of the tracked_tgids map (key: __u32 tgid). */
struct rw_tracked {
	__u32 session;
	__u32 flags;		/* RW_TRACK_* */
};

/* The process was added by the fork handler (pid mode follows children). */
#define RW_TRACK_INHERITED	(1u << 0)

/* Value of the thread_exits task storage: a tracked thread's last two syscall exits. */
struct rw_thread_exits {
	__u64 last_ns;		/* bpf_ktime_get_ns at its last syscall exit */
	__u64 prev_ns;		/* at the one before */
};

/* Value of the tracked_cgroups map (key: __u64 cgroup id) is a __u32 session id. */

/* The layout both sides compile must be the same: no padding, no width drift. */
_Static_assert(sizeof(struct rw_event_hdr) == 24, "rw_event_hdr layout");
_Static_assert(sizeof(struct rw_fault_event) == 40, "rw_fault_event layout");
_Static_assert(sizeof(struct rw_syscall_event) == 88, "rw_syscall_event layout");
_Static_assert(sizeof(struct rw_file_event) == 80 + 2 * RW_DIR_BUF + 2 * RW_NAME_MAX,
	       "rw_file_event layout");
_Static_assert(sizeof(struct rw_task_event) == 40 + RW_COMM_LEN, "rw_task_event layout");
_Static_assert(sizeof(struct rw_tracked) == 8, "rw_tracked layout");

#endif /* REWIND_EVENTS_H */
