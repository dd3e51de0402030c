// SPDX-License-Identifier: GPL-2.0-only
#include <stddef.h>
#include <sys/mman.h>
#include <linux/types.h>

#include "rewind/events.h"
#include "rewind/syscalls.h"
#include "sysnames.h"

#define NR(name, class) [RW_NR_##name] = #name,
static const char *const syscall_names[] = {
	RW_TRACKED_SYSCALLS(NR)
};
#undef NR

const char *syscall_name(uint32_t nr)
{
	return nr < sizeof(syscall_names) / sizeof(syscall_names[0]) ? syscall_names[nr] : NULL;
}

const char *file_op_name(uint32_t op)
{
	static const char *const names[RW_FOP__COUNT] = {
		[RW_FOP_WRITE] = "write",	[RW_FOP_OPEN] = "open",
		[RW_FOP_TRUNCATE] = "truncate",	[RW_FOP_FALLOCATE] = "fallocate",
		[RW_FOP_UNLINK] = "unlink",	[RW_FOP_RENAME] = "rename",
		[RW_FOP_MKDIR] = "mkdir",	[RW_FOP_RMDIR] = "rmdir",
		[RW_FOP_LINK] = "link",		[RW_FOP_SYMLINK] = "symlink",
		[RW_FOP_CHMOD] = "chmod",	[RW_FOP_CHOWN] = "chown",
		[RW_FOP_UTIMES] = "utimes",	[RW_FOP_XATTR] = "xattr",
		[RW_FOP_COPY] = "copy",		[RW_FOP_MKNOD] = "mknod",
		[RW_FOP_MMAP_WRITE] = "mmap_shared_write",
	};

	return op < RW_FOP__COUNT && names[op] ? names[op] : "?";
}

const char *task_op_name(uint32_t op)
{
	switch (op) {
	case RW_TASK_NEW_THREAD:	return "new_thread";
	case RW_TASK_NEW_PROCESS:	return "new_process";
	case RW_TASK_EXIT_THREAD:	return "exit_thread";
	case RW_TASK_EXIT_PROCESS:	return "exit_process";
	case RW_TASK_EXEC:		return "exec";
	case RW_TASK_CGROUP:		return "cgroup";
	}
	return "?";
}

int syscall_is_layout(uint32_t nr)
{
	return rw_syscall_class(nr) == RW_SC_LAYOUT;
}

int syscall_report_args(uint32_t nr)
{
	switch (nr) {
	case RW_NR_dup3: case RW_NR_setresuid: case RW_NR_setresgid:
	case RW_NR_setpriority: case RW_NR_ioprio_set: case RW_NR_epoll_ctl:
	case RW_NR_inotify_add_watch:
	case RW_NR_shmget: case RW_NR_semget: case RW_NR_semctl:
		return 3;
	case RW_NR_dup2: case RW_NR_fcntl: case RW_NR_ioctl: case RW_NR_setreuid:
	case RW_NR_setregid: case RW_NR_prctl: case RW_NR_setns: case RW_NR_prlimit64:
	case RW_NR_seccomp: case RW_NR_ptrace:
	case RW_NR_sched_setscheduler: case RW_NR_flock: case RW_NR_inotify_rm_watch:
	case RW_NR_timerfd_settime:
	case RW_NR_msgget: case RW_NR_shmctl: case RW_NR_msgctl:
		return 2;
	case RW_NR_setuid: case RW_NR_setgid: case RW_NR_setfsuid: case RW_NR_setfsgid:
	case RW_NR_setgroups: case RW_NR_unshare:
		return 1;
	case RW_NR_close: case RW_NR_dup: case RW_NR_rt_sigaction: case RW_NR_alarm:
	case RW_NR_setitimer: case RW_NR_timer_create:
	case RW_NR_timer_settime: case RW_NR_timer_delete: case RW_NR_fchdir: case RW_NR_umask:
	case RW_NR_setrlimit: case RW_NR_sched_setparam: case RW_NR_sched_setattr:
	case RW_NR_sched_setaffinity:
	case RW_NR_semop: case RW_NR_semtimedop: case RW_NR_msgsnd: case RW_NR_msgrcv:
	case RW_NR_mq_timedsend: case RW_NR_mq_timedreceive: case RW_NR_mq_notify:
	case RW_NR_mq_getsetattr:
		return 1;
	}
	return 0;	/* chdir: a path pointer; capset: two */
}

void prot_string(uint32_t prot, int shared, char buf[5])
{
	buf[0] = prot & PROT_READ ? 'r' : '-';
	buf[1] = prot & PROT_WRITE ? 'w' : '-';
	buf[2] = prot & PROT_EXEC ? 'x' : '-';
	buf[3] = shared ? 's' : 'p';
	buf[4] = '\0';
}
