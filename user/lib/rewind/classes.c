// SPDX-License-Identifier: GPL-2.0-only
/*
 * The isolation contract, one row per class of state (see classes.h). A
 * row changes with the code that reads or restores its class; `make docs`
 * then regenerates the tables of README.md and docs/ARCHITECTURE.md.
 */
#include <string.h>

#include "classes.h"

const struct rw_state_class rw_state_classes[] = {
	{
		"memory", "private memory", "process", RW_RESTORED,
		"userfaultfd write protection (async) on every private writable mapping; "
		"`PAGEMAP_SCAN` written pages, with the write-fault records",
		NULL,
		"pages written since the checkpoint are copied back from the image, pages that "
		"were empty read zero again: zero-filled (up to 4,096 a rewind) or dropped "
		"(`MADV_DONTNEED`). Residency is not restored: a zero-filled page stays resident, "
		"so `mincore`, pagemap's present bit or RSS can tell which empty pages an earlier "
		"invocation wrote (how far its heap or stack reached); after a forced write by the session "
		"(ptrace `PTRACE_POKETEXT`/`PTRACE_POKEDATA`, a write to `/proc/N/mem`, both "
		"logged) read-only private mappings are restored whole too",
	},
	{
		"shared_memory", "shared memory: shared anonymous, memfd, `/dev/shm`, attached SysV "
		"mappings, and unlinked files held as fds (memfd, `O_TMPFILE`): contents and size",
		"object", RW_RESTORED_OR_FAILS,
		"a held `O_RDWR` reference through `/proc/PID/map_files` or `/proc/PID/fd`; the "
		"pages with data (`SEEK_DATA`) read at every rewind: a store is no syscall",
		NULL,
		"differing pages written back or punched, then the size set back; fails closed at "
		"the checkpoint above 256 MiB a process or on hugetlbfs",
	},
	{
		"shared_files", "shared mappings of files on disk", "file", RW_LEFT_ALONE,
		"not read",
		"mmap `MAP_SHARED` with `PROT_WRITE` (file records)",
		"left to the watched trees: a file outside every `--watch` tree keeps what was "
		"written through the mapping",
	},
	{
		"layout", "memory layout: mappings, protections, brk, wipe-on-fork flags", "process",
		RW_RESTORED_OR_FAILS,
		"`/proc/PID/smaps`",
		"mmap, munmap, mremap, mprotect, pkey_mprotect, madvise, brk, shmat, shmdt, "
		"remap_file_pages, map_shadow_stack, mseal, exec, a write fault outside checkpoint "
		"memory",
		"new mappings unmapped; removed or replaced ones mapped again (anonymous, or the "
		"held file at its offset) and restored whole; protections, flags and the break put "
		"back. A special mapping or shared anonymous memory that vanished fails closed; so "
		"does an `mseal` (a seal cannot be undone)",
	},
	{
		"wipeonfork", "wipe-on-fork memory (`MADV_WIPEONFORK`)", "process", RW_RESTORED,
		"VmFlags `wf` in `/proc/PID/smaps`; never stored",
		NULL,
		"dropped whole at every rewind: it reads zero, as in a forked child",
	},
	{
		"threads", "threads", "process", RW_RESTORED_OR_FAILS,
		"`/proc/PID/task`, each thread stopped with ptrace",
		"thread creation, exit and exec records: listed only when the log shows one for the "
		"process or lost records (`--verify` always lists)",
		"threads created since the checkpoint exit first; a checkpoint thread that exited "
		"(an idle pool worker) is recreated with its tid: clone3 injected into a surviving "
		"thread with set_tid, its TLS and clear_child_tid, stopped before it runs, then its "
		"robust list, rseq, attributes, name and registers set back; fails closed, naming "
		"the thread, when the target may not choose tids (no CAP_CHECKPOINT_RESTORE in the "
		"user namespace owning its pid namespace), for the main thread, or when a clone "
		"would not carry its credentials, namespaces or thread keyring; a surviving "
		"thread's robust list (read at every rewind) is registered again if it changed",
	},
	{
		"registers", "registers, extended (FPU/vector) state, signal mask", "thread", RW_RESTORED,
		"`PTRACE_GETREGSET` (`NT_PRSTATUS`, `NT_X86_XSTATE`), `PTRACE_GETSIGMASK`",
		NULL,
		"set back on every thread, last (the extended state where its registers read "
		"back differently); a thread proven to have run no user code since the last "
		"rewind let it go (asleep in its checkpoint's restartable call, no syscall exit "
		"since) is left running and holds them; a syscall interrupted with "
		"`-ERESTART_RESTARTBLOCK` returns `-EINTR` unless the thread sleeps in that same "
		"call (instruction, number, arguments) now",
	},
	{
		"thread_name", "thread name (comm)", "thread", RW_RESTORED,
		"`/proc/PID/task/TID/comm`",
		NULL,
		"injected `prctl(PR_SET_NAME)` when it differs",
	},
	{
		"children", "child processes", "process tree", RW_RESTORED,
		"fork and exit records; `/proc/PID/task/TID/children`, `cgroup.procs` in cgroup mode",
		NULL,
		"processes created since the checkpoint and their descendants are killed "
		"(`SIGKILL` through a pidfd), reaped in their frozen parent, their `SIGCHLD` dequeued",
	},
	{
		"process_tree", "processes present at the checkpoint (pid mode: the attached process's "
		"descendants; cgroup mode: the members)", "session", RW_RESTORED_OR_FAILS,
		"`/proc/PID/task/*/children` recursively at attach and at every checkpoint, until "
		"the BPF filter holds them all; `cgroup.procs`",
		"fork and exit records",
		"each is checkpointed and rewound like the attached process; one that exited fails "
		"closed",
	},
	{
		"fds", "fd table: numbers, open file descriptions, offsets, status and close-on-exec flags",
		"process", RW_RESTORED_OR_FAILS,
		"`/proc/PID/fd`, `kcmp` against a `pidfd_getfd` reference to each description; "
		"`/proc/PID/fdinfo` when flags may have changed",
		"fdinfo: close, the dup family, fcntl `F_DUPFD`/`F_SETFD`/`F_SETFL`, ioctl "
		"`FIONBIO`/`FIOASYNC`",
		"new fds closed; closed or replaced ones installed again from the reference; offsets "
		"and flags set back. A socket or pipe write end closed or replaced fails closed "
		"(rewindd holds no reference: it would keep a peer from seeing EOF)",
	},
	{
		"pipes", "pipe queues and capacity, every end held by the session", "session",
		RW_RESTORED,
		"`FIONREAD`, `F_GETPIPE_SZ`, `tee(2)` of the queue (nothing consumed)",
		NULL,
		"drained, capacity set back, the checkpoint's bytes written again",
	},
	{
		"unix_sockets", "unix socket receive queues, both ends held by the session", "session",
		RW_RESTORED_OR_FAILS,
		"`recvmsg(MSG_PEEK)` message by message from peek offset 0",
		NULL,
		"drained, the checkpoint's messages sent again from the peer; fails closed when "
		"fds were in flight (`SCM_RIGHTS`) and the queue changed",
	},
	{
		"outside_pipes", "pipes and sockets with an end outside the session (the proxy's "
		"request pipes, TCP)", "peer", RW_LEFT_ALONE,
		"not read",
		NULL,
		"left alone: the queued data is the peer's",
	},
	{
		"eventfd", "eventfd counters", "fd", RW_RESTORED,
		"fdinfo `eventfd-count`",
		NULL,
		"read to zero, the checkpoint's count written",
	},
	{
		"timerfd", "timerfd settings and ticks", "fd", RW_RESTORED_OR_FAILS,
		"fdinfo `clockid`, `ticks`, `it_value`, `it_interval`",
		NULL,
		"`timerfd_settime` with the checkpoint's remaining time and interval, "
		"`TFD_IOC_SET_TICKS`; another clock fails closed",
	},
	{
		"inotify", "inotify watch sets and queues", "fd", RW_RESTORED_OR_FAILS,
		"fdinfo `inotify wd:`, `FIONREAD`",
		NULL,
		"watches added since removed, events queued since read away; a removed or "
		"changed watch fails closed (its number cannot be chosen again)",
	},
	{
		"epoll", "epoll interest lists", "fd", RW_RESTORED,
		"fdinfo `tfd:` lines",
		NULL,
		"injected `epoll_ctl` `DEL`/`ADD`/`MOD` in the target",
	},
	{
		"file_locks", "file locks: flock, POSIX, OFD", "fd, process", RW_RESTORED_OR_FAILS,
		"fdinfo `lock:` lines",
		"flock, fcntl `F_SETLK`/`F_SETLKW`/`F_OFD_SETLK`/`F_OFD_SETLKW`",
		"taken since released, released since taken again (refused: fails closed)",
	},
	{
		"sysv_shm", "SysV shared memory segments", "IPC namespace", RW_RESTORED_OR_FAILS,
		"a helper in the IPC namespace: `/proc/sysvipc/shm`, `IPC_STAT`, bytes by "
		"`shmat(SHM_RDONLY)`; attached segments at every rewind",
		"shmget, shmctl, shmat, shmdt",
		"created since removed; bytes, owner and mode put back; one removed since fails "
		"closed",
	},
	{
		"sysv_sem", "SysV semaphore sets", "IPC namespace", RW_RESTORED_OR_FAILS,
		"the helper: `/proc/sysvipc/sem`, `IPC_STAT`, `GETALL`",
		"semget, semop, semtimedop, semctl",
		"created since removed; values (`SETALL`, clears semadj), owner and mode put back; "
		"one removed since fails closed",
	},
	{
		"sysv_msg", "SysV message queues", "IPC namespace", RW_RESTORED_OR_FAILS,
		"the helper: `/proc/sysvipc/msg`, `IPC_STAT`, `msgrcv(MSG_COPY)`",
		"msgget, msgsnd, msgrcv, msgctl",
		"created since removed; messages drained and sent again in order; owner, mode, "
		"qbytes put back; one removed since fails closed",
	},
	{
		"posix_mq", "POSIX message queues", "IPC namespace", RW_RESTORED_OR_FAILS,
		"the helper mounts the namespace's mqueue fs; every message received and sent back",
		"mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify, mq_getsetattr",
		"created since unlinked; messages drained and sent again with their priorities; "
		"one removed since, or a changed `mq_notify`, fails closed",
	},
	{
		"cwd_umask", "cwd, umask", "process", RW_RESTORED,
		"`/proc/PID/cwd`, `/proc/PID/status`",
		NULL,
		"injected `chdir` to the checkpoint's path, `umask`",
	},
	{
		"sigactions", "signal dispositions", "process", RW_RESTORED,
		"injected `rt_sigaction` queries; `SigIgn`/`SigCgt` in `/proc/PID/status`",
		"rt_sigaction (all 62 when the ignored or caught sets differ)",
		"injected `rt_sigaction` with the checkpoint's action",
	},
	{
		"pending_signals", "pending signals: the process's and each thread's own queue", "process, thread",
		RW_RESTORED_OR_FAILS,
		"`ShdPnd` in `/proc/PID/status`; `PTRACE_PEEKSIGINFO` on each thread",
		NULL,
		"signals raised since the checkpoint are dequeued (injected `rt_sigtimedwait`, in "
		"the thread they were queued on); one pending at the checkpoint and delivered "
		"since, or queued again behind one pending then, fails closed",
	},
	{
		"timers", "timers: alarm, itimers, POSIX timers", "process", RW_RESTORED_OR_FAILS,
		"injected `getitimer`, `timer_gettime`; `/proc/PID/timers`",
		"alarm, setitimer, timer_create, timer_settime, timer_delete",
		"itimers set back, timers created since deleted, checkpoint timers re-armed; a "
		"deleted checkpoint timer fails closed (its id cannot be chosen again)",
	},
	{
		"rlimits", "rlimits (all 16)", "process", RW_RESTORED_OR_FAILS,
		"`prlimit`; `/proc/PID/limits` when `prlimit` is refused",
		"setrlimit, prlimit64 with a new limit",
		"`prlimit` from rewindd; a hard limit that cannot be raised again fails closed",
	},
	{
		"thread_attrs", "nice, scheduling policy and priority, CPU affinity, I/O priority", "thread",
		RW_RESTORED_OR_FAILS,
		"`getpriority`, `sched_getattr`, `sched_getaffinity`, `ioprio_get` on the thread",
		"setpriority, sched_setattr, sched_setscheduler, sched_setparam, sched_setaffinity, "
		"ioprio_set",
		"set from rewindd on the thread; a value the kernel refuses fails closed",
	},
	{
		"personality", "personality", "thread", RW_RESTORED,
		"injected `personality(0xffffffff)`",
		"personality (not the query)",
		"injected `personality` in the thread",
	},
	{
		"prctl_state", "parent-death signal, timer slack (per thread); dumpable, child "
		"subreaper, THP disable (per process)", "thread, process", RW_RESTORED_OR_FAILS,
		"injected `prctl` `PR_GET_*` queries",
		"prctl `PR_SET_PDEATHSIG`/`PR_SET_TIMERSLACK`/`PR_SET_DUMPABLE`/"
		"`PR_SET_CHILD_SUBREAPER`/`PR_SET_THP_DISABLE`",
		"injected `prctl` `PR_SET_*` in the thread they belong to; a checkpoint dumpable "
		"value of 2 fails closed",
	},
	{
		"other_prctl", "any other prctl state (speculation control, TSC, MCE kill, I/O "
		"flusher, memory merge, MDWE, syscall user dispatch, ...)", "thread, process",
		RW_FAILS_CLOSED,
		"not read",
		"every prctl but the read-only options and `PR_SET_NAME` (compared at every rewind)",
		"the rewind names the option: no step undoes it",
	},
	{
		"sigaltstack", "alternate signal stack", "thread", RW_RESTORED_OR_FAILS,
		"injected `sigaltstack(NULL, &old)` in each thread",
		"sigaltstack with a new stack",
		"injected `sigaltstack` in the thread; refused while the thread runs on that stack: "
		"fails closed",
	},
	{
		"rseq", "restartable-sequences registration", "thread", RW_RESTORED,
		"`PTRACE_GET_RSEQ_CONFIGURATION` of each thread",
		"rseq (register or unregister)",
		"injected `rseq` unregister and/or register in the thread, before the pages are "
		"copied (unregistering writes the area)",
	},
	{
		"keyrings", "keys in the thread and process keyrings", "thread, process",
		RW_RESTORED_OR_FAILS,
		"injected `keyctl(KEYCTL_GET_KEYRING_ID)` and `keyctl(KEYCTL_READ)`",
		"add_key, request_key, keyctl (by any process of the session)",
		"keys linked since unlinked (injected `KEYCTL_UNLINK`); a keyring created since is "
		"left empty; a key unlinked since, an updated key or another keyctl operation fails "
		"closed",
	},
	{
		"shared_keyrings", "the session and user keyrings", "session, user",
		RW_FAILS_CLOSED,
		"as the keyrings above",
		"add_key, request_key, keyctl",
		"on any link, unlink or session change: other processes share them",
	},
	{
		"mounts", "the mount table and the root directory", "mount namespace, process",
		RW_FAILS_CLOSED,
		"not read",
		"mount, umount2, move_mount, mount_setattr, pivot_root, chroot",
		"when the log holds such a call; records lost: not covered",
	},
	{
		"cgroup", "cgroup membership, every hierarchy", "process", RW_FAILS_CLOSED,
		"`/proc/PID/cgroup`; in cgroup mode `cgroup.procs` of the session's cgroup at every "
		"rewind",
		"a move of the process (tracepoint `cgroup_attach_task`, whoever moved it)",
		"rewindd moves no process between cgroups. In cgroup mode a member "
		"that left the cgroup fails closed too (the log follows the cgroup: its calls went "
		"unlogged)",
	},
	{
		"process_group", "process group and session", "process", RW_FAILS_CLOSED,
		"`getpgid`, `getsid` on the process, at every rewind (two syscalls)",
		NULL,
		"only the process or its parent may set them (`setpgid`, `setsid`)",
	},
	{
		"credentials", "credentials: uids, gids, supplementary groups, capability sets", "thread",
		RW_FAILS_CLOSED,
		"`/proc/PID/task/TID/status`",
		"the setuid family, setgroups, capset, prctl `PR_CAPBSET_DROP`/`PR_CAP_AMBIENT`",
		"putting them back would take calls a thread that dropped its "
		"privileges may no longer make",
	},
	{
		"securebits", "securebits, keep-capabilities", "thread", RW_FAILS_CLOSED,
		"not readable from outside",
		"prctl `PR_SET_SECUREBITS`/`PR_SET_KEEPCAPS`",
		"when the log holds such a call; records lost: not covered",
	},
	{
		"namespaces", "namespaces: mnt, pid for children, net, uts, ipc, user, cgroup, time, time for "
		"children", "thread", RW_RESTORED_OR_FAILS,
		"inodes of `/proc/PID/task/TID/ns/*`; an fd to each re-enterable one held since the "
		"checkpoint",
		"unshare, setns",
		"injected `setns` in the thread, into the namespace held since the checkpoint (mnt, "
		"pid for children, net, uts, ipc, cgroup; cwd set again after mnt); a user or time "
		"namespace, or a `setns` the thread may no longer make, fails closed",
	},
	{
		"seccomp", "seccomp mode and filters, no_new_privs", "thread", RW_FAILS_CLOSED,
		"`Seccomp`, `Seccomp_filters`, `NoNewPrivs` of `/proc/PID/status` (the first "
		"thread) at every rewind; of every thread's `/proc/PID/task/TID/status` with its "
		"credentials",
		"every thread's: seccomp, prctl `PR_SET_SECCOMP`/`PR_SET_NO_NEW_PRIVS`",
		"nothing takes a filter or no_new_privs away",
	},
	{
		"watched_files", "files in watched trees (`--watch`)", "tree", RW_RESTORED_OR_FAILS,
		"a manifest and a content store taken at the checkpoint; file records of the BPF "
		"log; fanotify for writers outside the session",
		"file-system mutations (write family, open with creation or truncation, rename, "
		"unlink, link, mkdir, chmod, chown, utimes, xattrs, ...)",
		"entries the log names restored (content, metadata, removal of new ones, "
		"recreation of removed ones); a tree the log cannot vouch for is compared whole; an "
		"entry that cannot be restored fails closed",
	},
	{
		"other_files", "files outside watched trees", "host", RW_LEFT_ALONE,
		"the BPF log (report mode lists them)",
		"the write family",
		"not restored: a file outside every `--watch` tree keeps what the invocation wrote",
	},
};

const size_t rw_nstate_classes = sizeof(rw_state_classes) / sizeof(rw_state_classes[0]);

const char *rw_class_outcome_name(enum rw_class_outcome o)
{
	switch (o) {
	case RW_RESTORED:
		return "restored";
	case RW_FAILS_CLOSED:
		return "fails closed";
	case RW_RESTORED_OR_FAILS:
		return "restored, or fails closed";
	case RW_LEFT_ALONE:
		return "left alone";
	}
	return "?";
}

const struct rw_state_class *rw_state_class_find(const char *id)
{
	for (size_t i = 0; i < rw_nstate_classes; i++)
		if (!strcmp(rw_state_classes[i].id, id))
			return &rw_state_classes[i];
	return NULL;
}
