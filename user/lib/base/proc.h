/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /proc parsing. The parse_* functions take text so they are unit-testable;
 * the read_* wrappers read the live files and map "no such process" to -ESRCH.
 */
#ifndef RW_PROC_H
#define RW_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stat;

struct rw_vma {
	uint64_t start, end;	/* [start, end) */
	uint32_t prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;		/* 's' rather than 'p' */
	uint64_t offset;
	uint32_t dev_major, dev_minor;
	uint64_t inode;
	/* As maps shows it: a path (maybe with spaces or " (deleted)"), "[heap]",
	 * "[stack]", "[vdso]", ... or "" when anonymous; truncated to fit. */
	char name[256];
	/* VmFlags "wf" (MADV_WIPEONFORK): set only by proc_parse_smaps(), false from maps. */
	bool wipeonfork;
	/* VmFlags "ac" (VM_ACCOUNT), "nr" (VM_NORESERVE), "dc" (MADV_DONTFORK): likewise. */
	bool accounted, noreserve, dontfork;
};

struct rw_maps {
	struct rw_vma *v;	/* sorted by start, non-overlapping */
	size_t n, cap;
};

/*
 * Parse maps text into out. out must be zeroed or hold an earlier result:
 * it is emptied first and its buffer reused. Blank lines are skipped.
 * -EINVAL on a malformed line or vmas out of order (out is left empty),
 * -ENOMEM. proc_read_maps' parser, exported for the unit tests.
 */
int proc_parse_maps(const char *text, struct rw_maps *out);
/*
 * Read /proc/PID/maps (any size) and parse it; -ESRCH when the process is
 * gone. pid may be any thread id: a process whose main thread has exited
 * shows empty maps under its pid, its live threads show them all.
 */
int proc_read_maps(pid_t pid, struct rw_maps *out);
void proc_maps_free(struct rw_maps *m);
/* Append v: -EINVAL when out of order (sorted and disjoint, or proc_maps_find() would lie), -ENOMEM. */
int proc_maps_append(struct rw_maps *out, const struct rw_vma *v);
/*
 * The maps as /proc/PID/smaps shows them, with wipeonfork set on the vmas
 * whose VmFlags hold "wf" (the memory a fork hands the child zeroed); one
 * read, so flags and layout agree. Same contract as proc_parse_maps /
 * proc_read_maps; VmFlags before any vma is -EINVAL.
 */
int proc_parse_smaps(const char *text, struct rw_maps *out);
/*
 * smaps walks every page table to count it (~0.7 ms for an 80 MiB Python,
 * ~0.9 ms for a 120 MiB Node, against 0.04-0.2 ms for maps): read it only
 * where the flag must be known (checkpoint, --verify), never on a plain
 * rewind.
 */
int proc_read_smaps(pid_t pid, struct rw_maps *out);
/* Index of the vma holding addr, or -1 (binary search: maps are sorted). */
ssize_t proc_maps_find(const struct rw_maps *m, uint64_t addr);
/* Index of the first vma that ends above addr (holding it, or the next one), or m->n. */
size_t proc_maps_from(const struct rw_maps *m, uint64_t addr);
/*
 * The heap merged with the anonymous vma right below it (a binary's bss:
 * without address randomisation the break starts right after it, and the
 * kernel may grow that vma instead of making a [heap] one; /proc then names
 * the whole of it [heap]). When want (the checkpoint's layout) has an
 * unnamed private anonymous vma ending at base (its heap's start, or its
 * break without a heap) and now has one [heap] vma across base from no
 * lower than that vma, out is now with it split at base, as want sees it:
 * 1. 0: nothing to split (out untouched); -ENOMEM.
 */
int proc_maps_unmerge_heap(const struct rw_maps *want, const struct rw_maps *now, uint64_t base,
			   struct rw_maps *out);
/* Writable and not shared: the memory a rollback has to restore. */
bool rw_vma_private_writable(const struct rw_vma *v);

struct rw_proc_status {
	pid_t tgid, ppid;
	uid_t uid[4];		/* real, effective, saved, fs */
	gid_t gid[4];
	char name[16];		/* as status shows it (escaped), truncated */
	char state;		/* 'R', 'S', 'D', 'T', 't', 'Z', 'X', ... */
	int threads;
	uint64_t cap_prm;	/* CapPrm: permitted capabilities (0 if absent) */
	uint64_t cap_eff;	/* CapEff: effective capabilities (0 if absent) */
	int seccomp;		/* Seccomp: 0 none, 1 strict, 2 filter; -1 if absent */
	int seccomp_filters;	/* Seccomp_filters (Linux 5.9): filters installed; 0 if absent */
	bool no_new_privs;	/* NoNewPrivs */
	int umask;		/* Umask (Linux 4.7); -1 if absent */
	uint64_t sig_ignored;	/* SigIgn, SigCgt: dispositions, one bit per signal - 1 */
	uint64_t sig_caught;
	uint64_t sig_pending_shared;	/* ShdPnd: pending for the whole process */
	pid_t ns_pid;		/* NSpid's last field: its pid in its own pid namespace; 0 if absent */
};

/* -EINVAL if Name, State, Tgid, PPid, Uid, Gid or Threads is missing or malformed. */
int proc_parse_status(const char *text, struct rw_proc_status *out);
/* -ESRCH if gone. */
int proc_read_status(pid_t pid, struct rw_proc_status *out);
/*
 * A process named for people: "1234", or "1234 (pid 7 in its namespace)"
 * when its own pid namespace numbers it differently (NSpid). buf, returned;
 * a process that is gone reads as its host pid alone.
 */
const char *proc_pid_label(pid_t pid, char *buf, size_t len);
#define RW_PID_LABEL_MAX	64
/*
 * Field 22 of /proc/PID/stat: when the process started, in clock ticks since
 * boot. With the pid (and the boot), it names one process for ever.
 * -EINVAL if the text is malformed.
 */
int proc_parse_stat_start(const char *text, uint64_t *ticks);
/* The same for pid; -ESRCH if gone. */
int proc_start_time(pid_t pid, uint64_t *ticks);
/* Now, in the same unit and clock: a process started later has a start time above it. */
uint64_t proc_boot_ticks(void);
/* Its pid in its own pid namespace (NSpid's last field); -ESRCH if gone. */
pid_t proc_ns_pid(pid_t pid);
/*
 * The process a pidfd stands for, from the "Pid:" line of fdinfo text: its pid
 * in our pid namespace, -1 if it has exited, 0 if our namespace cannot name
 * it. -EBADF if the text has no Pid: line (the fd is not a pidfd).
 */
int proc_parse_pidfd_fdinfo(const char *text, pid_t *pid);
/* The same for our fd; -EBADF also for an fd that is not open. */
int proc_pidfd_pid(int pidfd, pid_t *pid);

/* comm of thread tid of pid (tid <= 0: of pid itself), newline stripped; -ESRCH if gone. */
int proc_read_comm(pid_t pid, pid_t tid, char comm[16]);
/* /proc/PID/cgroup as text (malloc'd): its cgroup in every hierarchy. -ESRCH if gone. */
int proc_read_cgroups(pid_t pid, char **out);
/* "" when a and b (proc_read_cgroups texts) agree; else the first line of b that differs, in buf. */
const char *proc_cgroups_differ(const char *a, const char *b, char *buf, size_t len);
/* Thread ids from /proc/PID/task in ascending order; the caller frees *tids. -ESRCH if gone. */
int proc_list_threads(pid_t pid, pid_t **tids, size_t *n);
/* qsort/bsearch order of pid_t values: ascending. */
int proc_pid_cmp(const void *a, const void *b);

/* Every process in our pid namespace now (/proc), ascending; the caller frees *pids. */
int proc_list_pids(pid_t **pids, size_t *n);

/* fds open in pid now, ascending. -ESRCH if gone. */
int proc_list_fds(pid_t pid, int **fds, size_t *n);
/* (dev, ino, mode) behind /proc/PID/<name>: "fd/N", "cwd". */
int proc_stat_link(pid_t pid, const char *name, struct stat *st);
/* FD_CLOEXEC, position (-1 if absent) and status flags from /proc/PID/fdinfo/FD. */
int proc_read_fdinfo(pid_t pid, int fd, bool *cloexec, int64_t *pos, int *flags);
/* /proc/PID/timers: the POSIX timer ids of a process, ascending. -ESRCH if gone. */
int proc_list_posix_timers(pid_t pid, int **ids, size_t *n);
/* The same from the file's text; -EINVAL for an ID line without an id. */
int proc_parse_posix_timers(const char *text, int **ids, size_t *n);

/*
 * One line of /proc/PID/mountinfo: the mount's device and its mount point
 * (relative to the process's root, unescaped: "\040" is a space) into mnt
 * (len bytes). -EINVAL when malformed or too long.
 */
int proc_parse_mountinfo_line(const char *line, uint64_t *dev, char *mnt, size_t len);
/*
 * Every live descendant of pid (zombies left out), parents before their
 * children, pid itself not among them; one gone meanwhile is not listed.
 * The caller frees *out. -errno for any other failure: a list that could
 * miss a process is never returned.
 */
int proc_list_descendants(pid_t pid, pid_t **out, size_t *n);
/* Children of pid (every thread's), not recursive. */
int proc_children_of(pid_t pid, pid_t **out, size_t *n);
/* The thread ids of pid, ascending. -ESRCH if it is gone. */
int proc_list_tids(pid_t pid, pid_t **tids, size_t *n);
/* Append pid to the list unless it is there: 1 added, 0 already there, -ENOMEM. */
int pid_list_add(pid_t **arr, size_t *n, pid_t pid);

#endif /* RW_PROC_H */
