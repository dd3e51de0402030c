/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * /proc parsing. The parse_* functions take text so they are unit-testable;
 * the read_* wrappers read the live files.
 */
#ifndef RW_PROC_H
#define RW_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rw_vma {
	uint64_t start, end;	/* [start, end) */
	uint32_t prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;		/* 's' rather than 'p' */
	uint64_t offset;
	uint32_t dev_major, dev_minor;
	uint64_t inode;
	char name[256];		/* path, "[heap]", "[stack]", ... or "" (anonymous); truncated */
};

struct rw_maps {
	struct rw_vma *v;
	size_t n, cap;
};

/* -EINVAL on a malformed line; out is emptied first. */
int proc_parse_maps(const char *text, struct rw_maps *out);
/* -ESRCH when the process is gone. */
int proc_read_maps(pid_t pid, struct rw_maps *out);
void proc_maps_free(struct rw_maps *m);
/* Index of the vma holding addr, or -1 (binary search: maps are sorted). */
ssize_t proc_maps_find(const struct rw_maps *m, uint64_t addr);
bool rw_vma_private_writable(const struct rw_vma *v);

struct rw_proc_status {
	pid_t tgid, ppid;
	uid_t uid[4];		/* real, effective, saved, fs */
	gid_t gid[4];
	char name[16];
	char state;		/* 'R', 'S', 'Z', ... */
	int threads;
};

int proc_parse_status(const char *text, struct rw_proc_status *out);
int proc_read_status(pid_t pid, struct rw_proc_status *out);
int proc_read_comm(pid_t pid, pid_t tid, char comm[16]);
/* Thread ids from /proc/PID/task; the caller frees *tids. */
int proc_list_threads(pid_t pid, pid_t **tids, size_t *n);

#endif /* RW_PROC_H */
