// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-process state the rewind engine must undo beyond memory: fds (close,
 * dup family, fcntl F_DUPFD*), signal dispositions, timers, cwd and umask.
 * Recorded raw (number, arguments, result); user space interprets them.
 */
#include "common.bpf.h"

#define F_DUPFD			0
#define F_DUPFD_CLOEXEC		1030

__noinline int rw_task_syscall(struct rw_sys_args *a)
{
	if (!a)
		return 0;
	if (a->nr == RW_NR_fcntl && a->args[1] != F_DUPFD && a->args[1] != F_DUPFD_CLOEXEC)
		return 0;
	/* alarm returns the seconds left, umask the old mask: never errors. */
	if (a->nr != RW_NR_alarm && a->nr != RW_NR_umask && RW_IS_ERR(a->ret))
		return 0;
	return emit_syscall(a);
}
