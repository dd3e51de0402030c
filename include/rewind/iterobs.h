/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Records of the observe iterators (bpf/observe_iter.bpf.c), written with
 * bpf_seq_write and read back by user/lib/track/iterobs.c: one
 * struct rw_iter_fd per fd of the target's fd table, one struct
 * rw_iter_task (and, from the small one, struct rw_iter_sleep) per thread. Shared by BPF (after vmlinux.h) and user space
 * (after <linux/types.h>): fixed-size types only, no include of its own.
 */
#ifndef RW_ITEROBS_H
#define RW_ITEROBS_H

#define RW_ITER_SOCKFS_MAGIC	0x534F434B
#define RW_ITER_PIPEFS_MAGIC	0x50495045

struct rw_iter_fd {
	__s32 fd;
	__u32 f_flags;		/* struct file's: what F_GETFL returns */
	__u64 file;		/* the struct file's address: what KCMP_FILE compares */
	__s64 pos;		/* f_pos */
	__u64 dev;		/* the inode's s_dev, kernel encoding (major << 20 | minor) */
	__u64 ino;
	__u32 mode;		/* i_mode */
	__u32 magic;		/* the file system's s_magic */
	__u32 cloexec;		/* the fd's bit in the table's close_on_exec bitmap */
	__u32 pad;
};

/* struct pt_regs of x86_64: r15 ... ss, 21 words. */
#define RW_ITER_UREGS		21

/* Signals queued on a thread walked at most this far; beyond, pending_overflow. */
#define RW_ITER_PENDING_MAX	64

struct rw_iter_task {
	__s32 tid;		/* in the initial pid namespace */
	__s32 tgid;
	char comm[16];
	__u16 count[64];	/* the thread's queue (task->pending.list) by signal - 1 */
	__u64 rseq;		/* task->rseq; 0: none registered */
	__u32 rseq_len, rseq_sig;
	__u32 pending_overflow;	/* the queue is longer than RW_ITER_PENDING_MAX */
	/* Process-wide, as /proc/PID/status shows them (meaningful in every record). */
	__s32 umask;		/* -1: no fs_struct */
	__u64 sig_pending_shared;	/* ShdPnd */
	__u64 sig_ignored, sig_caught;	/* SigIgn, SigCgt */
	__s32 seccomp, seccomp_filters;
	__u32 no_new_privs;
	__s32 pgid, sid;	/* in the initial pid namespace */
	__u32 cwd_magic;
	__u64 cwd_dev, cwd_ino;	/* the cwd's inode: s_dev (kernel encoding), i_ino */
	__u32 io_uring;		/* the thread has an io_uring context (it used a ring) */
	__u32 pad;
	__u64 robust_list;	/* what get_robust_list returns as its head */
	__u64 blocked;		/* its signal mask: what PTRACE_GETSIGMASK returns */
};

/*
 * One per thread, from the small task iterator the rewind runs before its
 * stop and after its restore (user/lib/rewind/sleepers.c): whether the
 * thread ran since a moment, read without stopping it.
 */
struct rw_iter_sleep {
	__s32 tid;
	/* Whether it can be running now: task->__state, on_cpu, on_rq. */
	__u32 state, on_cpu, on_rq;
	__u32 has_exits;	/* exits below are known (thread_exits has its storage) */
	__u32 pad;
	__u64 exit_last_ns, exit_prev_ns;	/* struct rw_thread_exits */
	/*
	 * Its user registers as the kernel saved them at its last entry (struct
	 * pt_regs, which is also how struct user_regs_struct begins): for a
	 * thread asleep in a syscall, the call it sleeps in.
	 */
	__u64 uregs[RW_ITER_UREGS];
};

#endif /* RW_ITEROBS_H */
