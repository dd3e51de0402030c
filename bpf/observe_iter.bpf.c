// SPDX-License-Identifier: GPL-2.0-only
/*
 * Iterators that read a stopped target's fd table and threads in one
 * read() each (user/lib/track/iterobs.c), instead of /proc, kcmp and a
 * ptrace call per thread; and a small one that tells, without stopping
 * them, whether its threads ran. User space attaches them with the target's tgid
 * (bpf_iter_link_info.task.pid) and never auto-attaches them: without the
 * filter they would walk every task of the machine.
 */
#include "common.bpf.h"
#include "rewind/iterobs.h"

#define SIG_IGN_VALUE	1

/*
 * Every open fd of the process's table: the kernel skips threads sharing
 * the leader's table, and a thread that unshared its own is not the
 * table /proc/PID/fd shows: the leader's only.
 */
SEC("iter/task_file")
int rw_iter_fds(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct rw_iter_fd r = {};
	unsigned long word = 0;
	unsigned long *coe;
	struct inode *inode;
	__u32 fd = ctx->fd;

	if (!task || !file || task->pid != task->tgid)
		return 0;
	r.fd = fd;
	r.file = (__u64)(unsigned long)file;
	r.f_flags = BPF_CORE_READ(file, f_flags);
	r.pos = BPF_CORE_READ(file, f_pos);
	inode = BPF_CORE_READ(file, f_inode);
	r.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	r.ino = BPF_CORE_READ(inode, i_ino);
	r.mode = BPF_CORE_READ(inode, i_mode);
	r.magic = BPF_CORE_READ(inode, i_sb, s_magic);
	coe = BPF_CORE_READ(task, files, fdt, close_on_exec);
	if (coe && !bpf_probe_read_kernel(&word, sizeof(word), coe + fd / 64))
		r.cloexec = (word >> (fd % 64)) & 1;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

static __always_inline __s32 pid_nr_init(struct pid *pid)
{
	return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

SEC("iter/task")
int rw_iter_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct list_head *head, *pos;
	struct sighand_struct *sh;
	struct signal_struct *sig;
	struct fs_struct *fs;
	struct rw_iter_task r = {};
	int i;

	if (!task)
		return 0;
	r.tid = task->pid;
	r.tgid = task->tgid;
	bpf_probe_read_kernel(r.comm, sizeof(r.comm), task->comm);

	/* The thread's own queue, entry by entry: what PTRACE_PEEKSIGINFO lists. */
	head = &task->pending.list;
	pos = BPF_CORE_READ(task, pending.list.next);
	for (i = 0; i < RW_ITER_PENDING_MAX && pos && pos != head; i++) {
		struct sigqueue *q = (void *)pos - bpf_core_field_offset(struct sigqueue, list);
		int signo = BPF_CORE_READ(q, info.si_signo);

		if (signo >= 1 && signo <= 64)
			r.count[(signo - 1) & 63]++;
		pos = BPF_CORE_READ(pos, next);
	}
	if (pos != head)
		r.pending_overflow = 1;

	r.rseq = (__u64)(unsigned long)BPF_CORE_READ(task, rseq);
	r.rseq_len = BPF_CORE_READ(task, rseq_len);
	r.rseq_sig = BPF_CORE_READ(task, rseq_sig);

	/* As /proc/PID/status computes them. */
	sig = BPF_CORE_READ(task, signal);
	if (sig) {
		r.sig_pending_shared = BPF_CORE_READ(sig, shared_pending.signal.sig[0]);
		r.pgid = pid_nr_init(BPF_CORE_READ(sig, pids[PIDTYPE_PGID]));
		r.sid = pid_nr_init(BPF_CORE_READ(sig, pids[PIDTYPE_SID]));
	}
	sh = BPF_CORE_READ(task, sighand);
	for (i = 0; sh && i < 64; i++) {
		unsigned long h = 0;

		bpf_probe_read_kernel(&h, sizeof(h), &sh->action[i].sa.sa_handler);
		if (h == SIG_IGN_VALUE)
			r.sig_ignored |= 1ULL << i;
		else if (h)
			r.sig_caught |= 1ULL << i;
	}
	r.seccomp = BPF_CORE_READ(task, seccomp.mode);
	r.seccomp_filters = BPF_CORE_READ(task, seccomp.filter_count.counter);
	r.no_new_privs = BPF_CORE_READ(task, atomic_flags) & 1;	/* PFA_NO_NEW_PRIVS */
	r.umask = -1;
	fs = BPF_CORE_READ(task, fs);
	if (fs) {
		struct inode *cwd = BPF_CORE_READ(fs, pwd.dentry, d_inode);

		r.umask = BPF_CORE_READ(fs, umask);
		r.cwd_dev = BPF_CORE_READ(cwd, i_sb, s_dev);
		r.cwd_ino = BPF_CORE_READ(cwd, i_ino);
		r.cwd_magic = BPF_CORE_READ(cwd, i_sb, s_magic);
	}
	if (bpf_core_field_exists(task->io_uring))
		r.io_uring = BPF_CORE_READ(task, io_uring) != NULL;
	r.robust_list = (__u64)(unsigned long)BPF_CORE_READ(task, robust_list);
	r.blocked = BPF_CORE_READ(task, blocked.sig[0]);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/* Whether each thread can have run since a moment, without stopping it (sleepers.c). */
SEC("iter/task")
int rw_iter_sleep(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct rw_iter_sleep r = {};
	struct rw_thread_exits *exits;
	struct pt_regs *regs;

	if (!task)
		return 0;
	r.tid = task->pid;
	r.state = BPF_CORE_READ(task, __state);
	r.on_cpu = BPF_CORE_READ(task, on_cpu);
	r.on_rq = BPF_CORE_READ(task, on_rq);
	exits = bpf_task_storage_get(&thread_exits, task, 0, 0);
	if (exits) {
		r.has_exits = 1;
		r.exit_last_ns = exits->last_ns;
		r.exit_prev_ns = exits->prev_ns;
	}
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (regs)
		bpf_probe_read_kernel(r.uregs, sizeof(r.uregs), regs);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
