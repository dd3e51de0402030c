/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What one invocation touched, aggregated from tracker records and, when it
 * ends, from the write-protection scan. Pure data: no BPF, no ptrace, so it
 * is unit-testable with synthetic records.
 */
#ifndef RW_INVOCATION_H
#define RW_INVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "proc.h"
#include "ranges.h"

struct rw_pageset;

/* Pages one process wrote. */
struct rw_proc_pages {
	pid_t tgid;
	struct rw_pageset *faulted;	/* pages named by write-fault records */
	struct rw_ranges written;	/* the final set, built at close (ranges: the scan's are) */
};

struct rw_file_touch {
	char *path;
	uint32_t ops;		/* bit (1 << enum rw_file_op) */
	uint64_t bytes;		/* written */
	bool created, deleted;
	char *renamed_to, *renamed_from, *link_target;
	/*
	 * The writers' mount namespace, whose view the path is in; 0 when
	 * unknown or when writers in two namespaces touched this path.
	 */
	uint32_t mnt_ns;
};

/* A regular file the invocation created or changed that is still there after it. */
struct rw_file_persist {
	char *path;
	uint64_t size;
	bool created;
};

/* A layout or process-state syscall as recorded. */
struct rw_sys_record {
	pid_t tgid, tid;
	uint32_t nr;
	uint64_t args[6];
	int64_t ret;
};

struct rw_task_record {
	uint32_t op;
	pid_t pid, tgid, parent;
	char comm[16];
};

struct rw_writer {
	pid_t tid;
	uint64_t faults;
};

/* Pages written in one mapping, computed at close. */
struct rw_mapping_pages {
	pid_t tgid;
	uint64_t start, end;	/* 0, 0 for pages no longer mapped */
	char perms[5];
	char name[256];
	uint64_t pages;
};

struct rw_invocation {
	uint32_t number;	/* 1-based */
	uint64_t start_ns, end_ns;
	bool closed;
	/* Counted by the caller from the BPF drop counter; non-zero makes the report incomplete. */
	uint64_t dropped;
	/* Set by the caller: the write faults may miss written pages (tracker_unvouched). */
	bool unvouched;
	/*
	 * Set by the caller: io_uring, AIO or AF_XDP since the checkpoint. Their
	 * pinned buffers are written through the kernel's own mapping, which
	 * no page-table entry shows: not even the scan sees those writes.
	 */
	bool pinned;
	/* Free-form notes about accuracy (e.g. "pid 7: exited, pages from faults only"). */
	char **notes;
	size_t nnotes;

	struct rw_proc_pages *procs;
	size_t nprocs;
	struct rw_writer *writers;
	size_t nwriters;
	uint64_t fault_records, kernel_fault_records;

	struct rw_sys_record *layout, *state;
	size_t nlayout, nstate;
	/* Report mode: what differs between the process's state at the start and the end. */
	struct rw_state_change {
		pid_t tgid;
		char class[24];		/* an id of `rewindctl classes` */
		char *what;
	} *changes;
	size_t nchanges;
	struct rw_task_record *tasks;
	size_t ntasks;
	struct rw_file_touch *files;
	size_t nfiles;
	uint64_t file_paths_truncated;	/* records whose path did not fit: the log is vague there */
	/* Filled by invocation_find_persisting() when the invocation ends. */
	struct rw_file_persist *persist;
	size_t npersist;
	bool persist_known;

	/* Filled by invocation_close(). */
	uint64_t pages_written;
	struct rw_mapping_pages *mappings;
	size_t nmappings;
};

struct rw_invocation *invocation_new(uint32_t number, uint64_t start_ns);
void invocation_free(struct rw_invocation *inv);

/* Fold one tracker record in. -EINVAL for a malformed record, -ENOMEM. */
int invocation_add_record(struct rw_invocation *inv, const void *data, size_t size);

/* A thread of tgid was logged created, exiting or exec'ing in this invocation. */
bool invocation_threads_changed(const struct rw_invocation *inv, pid_t tgid);

/* Pages the write-protection scan reports written for tgid: [start, end). */
int invocation_add_written(struct rw_invocation *inv, pid_t tgid, uint64_t start, uint64_t end);
/* The same for every range of w; 0 or the first -errno. */
int invocation_add_written_ranges(struct rw_invocation *inv, pid_t tgid, const struct rw_ranges *w);

/*
 * Decides whether a faulted page of tgid is already covered by the scan
 * (true: the scan is the authority there, the fault record is ignored).
 */
typedef bool (*rw_covered_fn)(void *ctx, pid_t tgid, uint64_t page);

/*
 * Finish the invocation: per process, written = scanned pages + faulted
 * pages outside scanned coverage; attribute every page to a mapping of
 * `maps_of(tgid)` (NULL when the process is gone).
 */
typedef const struct rw_maps *(*rw_maps_fn)(void *ctx, pid_t tgid);
int invocation_close(struct rw_invocation *inv, uint64_t end_ns, rw_covered_fn covered,
		     rw_maps_fn maps_of, void *ctx);

/*
 * Which files the invocation created or modified are still there (lstat
 * now), skipping those skip(ctx, path) says were rolled back. -ENOMEM.
 */
int invocation_find_persisting(struct rw_invocation *inv, bool (*skip)(void *ctx, const char *path),
			       void *ctx);

/* One difference of a process's state over the invocation (class: a `rewindctl classes` id). */
int invocation_add_state_change(struct rw_invocation *inv, pid_t tgid, const char *class,
				const char *what);
int invocation_note(struct rw_invocation *inv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The report object for one invocation (see README for the keys). */
json_object *invocation_to_json(const struct rw_invocation *inv);
/*
 * Its counts only (invocation, duration_ns, pages_written, layout, files,
 * tasks, dropped, complete): what a rewind answers, on the hot path; the
 * whole report stays available through `report`.
 */
json_object *invocation_summary_json(const struct rw_invocation *inv);

#endif /* RW_INVOCATION_H */
