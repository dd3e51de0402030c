// SPDX-License-Identifier: GPL-2.0-only
/* Aggregation of tracker records into one invocation's report, from synthetic records. */
#include <linux/types.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "invocation.h"
#include "rewind/events.h"
#include "rewind/syscalls.h"

#define TGID 100

static struct rw_fault_event fault(uint32_t tid, uint64_t addr, uint32_t flags)
{
	struct rw_fault_event e = { .hdr = { .kind = RW_EV_FAULT, .session = 1, .tgid = TGID,
					     .tid = tid }, .addr = addr, .flags = flags };
	return e;
}

/* Leaf-first components, as the BPF walk writes them. */
static void set_dir(char *dst, uint16_t *len, const char *const *leaf_first, int n)
{
	uint16_t off = 0;

	for (int i = 0; i < n; i++) {
		strcpy(dst + off, leaf_first[i]);
		off += strlen(leaf_first[i]) + 1;
	}
	*len = off;
}

static struct rw_file_event *file_event(uint32_t op, uint32_t flags)
{
	struct rw_file_event *e = calloc(1, sizeof(*e));

	e->hdr.kind = RW_EV_FILE;
	e->hdr.session = 1;
	e->hdr.tgid = TGID;
	e->op = op;
	e->flags = flags;
	return e;
}

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

/* Two VMAs: [0x10000, 0x20000) rw-p "" and [0x30000, 0x31000) rw-p [heap]. */
static struct rw_vma vmas[2];
static struct rw_maps maps = { .v = vmas, .n = 2, .cap = 2 };

static const struct rw_maps *maps_of(void *ctx, pid_t tgid)
{
	return tgid == TGID ? &maps : NULL;
}

/* The scan covers [0x10000, 0x20000). */
static bool covered(void *ctx, pid_t tgid, uint64_t page)
{
	return page >= 0x10000 && page < 0x20000;
}

static int setup(void **state)
{
	memset(vmas, 0, sizeof(vmas));
	vmas[0].start = 0x10000;
	vmas[0].end = 0x20000;
	vmas[0].prot = 3;
	vmas[1].start = 0x30000;
	vmas[1].end = 0x31000;
	vmas[1].prot = 3;
	strcpy(vmas[1].name, "[heap]");
	return 0;
}

static void repeated_faults_are_one_page(void **state)
{
	struct rw_invocation *inv = invocation_new(1, 0);
	struct rw_fault_event e;
	json_object *j;

	for (int i = 0; i < 1000; i++) {
		e = fault(i % 2 ? 101 : 102, 0x30000 + (i % 4096), 0);
		assert_int_equal(invocation_add_record(inv, &e, sizeof(e)), 0);
	}
	assert_int_equal(invocation_close(inv, 10, NULL, maps_of, NULL), 0);
	assert_int_equal(inv->pages_written, 1);
	assert_int_equal(inv->nwriters, 2);
	j = invocation_to_json(inv);
	assert_int_equal(json_object_get_int64(get(j, "pages_written")), 1);
	assert_int_equal(json_object_get_int64(get(j, "fault_records")), 1000);
	json_object_put(j);
	invocation_free(inv);
}

/* Three rows: 2 pages of the first vma, 1 of [heap], then `unmapped` pages outside both. */
static void expect_rows(json_object *rows, int64_t unmapped)
{
	assert_int_equal(json_object_array_length(rows), 3);
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(rows, 0), "start")), 0x10000);
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(rows, 0), "pages_written")), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(rows, 1), "name")), "[heap]");
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(rows, 1), "pages_written")), 1);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(rows, 2), "name")), "(unmapped)");
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(rows, 2), "pages_written")), unmapped);
}

/* The scan is the authority where it covers; faults elsewhere; no double count. */
static void scan_and_faults_union(void **state)
{
	struct rw_invocation *inv = invocation_new(1, 0);
	struct rw_fault_event e;
	json_object *j;

	assert_int_equal(invocation_add_written(inv, TGID, 0x10000, 0x12000), 0);	/* 2 pages */
	e = fault(101, 0x11008, 0);	/* covered and also scanned: no double count */
	invocation_add_record(inv, &e, sizeof(e));
	e = fault(101, 0x15000, 0);	/* covered but not scanned: a failed write, ignored */
	invocation_add_record(inv, &e, sizeof(e));
	e = fault(101, 0x30010, RW_FAULT_KERNEL);	/* heap, not covered: counts */
	invocation_add_record(inv, &e, sizeof(e));
	e = fault(101, 0x50000, 0);	/* no longer mapped: counts as (unmapped) */
	invocation_add_record(inv, &e, sizeof(e));

	assert_int_equal(invocation_close(inv, 10, covered, maps_of, NULL), 0);
	assert_int_equal(inv->pages_written, 4);
	j = invocation_to_json(inv);
	expect_rows(get(j, "mappings"), 1);
	assert_int_equal(json_object_get_int64(get(j, "kernel_write_faults")), 1);
	json_object_put(j);
	invocation_free(inv);
}

/* One scanned range across a vma's end, a gap and the next vma: split per vma, the gap unmapped. */
static void range_across_vmas(void **state)
{
	struct rw_invocation *inv = invocation_new(1, 0);
	json_object *j;

	/* 2 pages of the first vma, 16 of the gap, the heap's 1, 1 past it. */
	assert_int_equal(invocation_add_written(inv, TGID, 0x1e000, 0x32000), 0);
	assert_int_equal(invocation_close(inv, 10, NULL, maps_of, NULL), 0);
	assert_int_equal(inv->pages_written, 20);
	j = invocation_to_json(inv);
	expect_rows(get(j, "mappings"), 17);
	json_object_put(j);
	invocation_free(inv);
}

static void files_resolved_and_merged(void **state)
{
	static const char *const tmp_x[] = { "x", "tmp" };
	static const char *const file_a[] = { "a", "x", "tmp" };
	struct rw_invocation *inv = invocation_new(1, 0);
	struct rw_file_event *e;
	json_object *j, *files, *f;

	/* open(O_CREAT) of /tmp/x/a, then two writes to it through its fd. */
	e = file_event(RW_FOP_OPEN, RW_F_DIR_IS_FILE | RW_F_CREATED);
	set_dir(e->dir, &e->dir_len, file_a, 3);
	strcpy(e->name, "a");
	assert_int_equal(invocation_add_record(inv, e, sizeof(*e)), 0);
	e->op = RW_FOP_WRITE;
	e->flags = RW_F_DIR_IS_FILE;
	e->bytes = 10;
	invocation_add_record(inv, e, sizeof(*e));
	e->bytes = 5;
	invocation_add_record(inv, e, sizeof(*e));
	free(e);

	/* unlink("../y/old") relative to cwd /tmp/x */
	e = file_event(RW_FOP_UNLINK, 0);
	set_dir(e->dir, &e->dir_len, tmp_x, 2);
	strcpy(e->name, "../y/old");
	invocation_add_record(inv, e, sizeof(*e));
	free(e);

	/* rename("a", "/tmp/b") in cwd /tmp/x */
	e = file_event(RW_FOP_RENAME, 0);
	set_dir(e->dir, &e->dir_len, tmp_x, 2);
	set_dir(e->dir2, &e->dir2_len, tmp_x, 2);
	strcpy(e->name, "a");
	strcpy(e->name2, "/tmp/b");
	invocation_add_record(inv, e, sizeof(*e));
	free(e);

	invocation_close(inv, 1, NULL, maps_of, NULL);
	j = invocation_to_json(inv);
	files = get(j, "files");
	assert_int_equal(json_object_array_length(files), 3);
	f = json_object_array_get_idx(files, 0);
	assert_string_equal(json_object_get_string(get(f, "path")), "/tmp/x/a");
	assert_int_equal(json_object_get_int64(get(f, "bytes_written")), 15);
	assert_true(json_object_get_boolean(get(f, "created")));
	assert_true(json_object_get_boolean(get(f, "deleted")));	/* renamed away */
	assert_string_equal(json_object_get_string(get(f, "renamed_to")), "/tmp/b");
	assert_string_equal(json_object_to_json_string(get(f, "ops")), "[ \"write\", \"open\", \"rename\" ]");
	f = json_object_array_get_idx(files, 1);
	assert_string_equal(json_object_get_string(get(f, "path")), "/tmp/y/old");
	assert_true(json_object_get_boolean(get(f, "deleted")));
	f = json_object_array_get_idx(files, 2);
	assert_string_equal(json_object_get_string(get(f, "path")), "/tmp/b");
	assert_string_equal(json_object_get_string(get(f, "renamed_from")), "/tmp/x/a");
	assert_true(json_object_get_boolean(get(f, "created")));
	json_object_put(j);
	invocation_free(inv);
}

/* A file record naming /tmp/DIR/NAME itself (fd-based). */
static void add_file_record(struct rw_invocation *inv, uint32_t op, uint32_t flags,
			    const char *dir, const char *name)
{
	const char *const comps[] = { name, dir, "tmp" };
	struct rw_file_event *e = file_event(op, flags | RW_F_DIR_IS_FILE);

	set_dir(e->dir, &e->dir_len, comps, 3);
	assert_int_equal(invocation_add_record(inv, e, sizeof(*e)), 0);
	free(e);
}

static bool skip_named_skipped(void *ctx, const char *path)
{
	(void)ctx;
	return strstr(path, "/skipped") != NULL;
}

/* What persists: created or written regular files still there, nothing else. */
static void files_persisting(void **state)
{
	struct rw_invocation *inv = invocation_new(1, 0);
	char dir[] = "/tmp/rw-unit.XXXXXX", path[64];
	const char *base;
	json_object *j, *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	base = dir + 5;
	snprintf(path, sizeof(path), "%s/made", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("12345", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/written", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("abc", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/chmodded", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/skipped", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);

	add_file_record(inv, RW_FOP_OPEN, RW_F_CREATED, base, "made");
	add_file_record(inv, RW_FOP_WRITE, 0, base, "written");
	add_file_record(inv, RW_FOP_CHMOD, 0, base, "chmodded");
	add_file_record(inv, RW_FOP_OPEN, RW_F_CREATED, base, "gone");
	add_file_record(inv, RW_FOP_WRITE, 0, base, "skipped");
	add_file_record(inv, RW_FOP_WRITE, RW_F_TRUNCATED, base, "long");
	assert_int_equal(inv->file_paths_truncated, 1);
	assert_int_equal(invocation_find_persisting(inv, skip_named_skipped, NULL), 0);

	j = invocation_to_json(inv);
	p = get(j, "files_persisting");
	assert_int_equal(json_object_array_length(p), 2);
	snprintf(path, sizeof(path), "%s/made", dir);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(p, 0), "path")), path);
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(p, 0), "size")), 5);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(p, 0), "change")),
			    "created");
	snprintf(path, sizeof(path), "%s/written", dir);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(p, 1), "path")), path);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(p, 1), "change")),
			    "modified");
	json_object_put(j);
	invocation_free(inv);
	for (const char *n = "made\0written\0chmodded\0skipped\0"; *n; n += strlen(n) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		unlink(path);
	}
	rmdir(dir);
}

static void layout_and_tasks(void **state)
{
	struct rw_invocation *inv = invocation_new(3, 1000);
	struct rw_syscall_event s = { .hdr = { .kind = RW_EV_SYSCALL, .session = 1, .tgid = TGID, .tid = TGID },
				      .nr = RW_NR_mmap, .args = { 0, 20480, 3, 0x22, (uint64_t)-1, 0 },
				      .ret = 0x7f0000000000 };
	struct rw_task_event t = { .hdr = { .kind = RW_EV_TASK, .session = 1, .tgid = TGID, .tid = TGID },
				   .op = RW_TASK_NEW_THREAD, .pid = 101, .tgid = TGID, .comm = "worker" };
	json_object *j, *l;

	invocation_add_record(inv, &s, sizeof(s));
	s.nr = RW_NR_close;
	s.args[0] = 7;
	s.ret = 0;
	invocation_add_record(inv, &s, sizeof(s));
	invocation_add_record(inv, &t, sizeof(t));
	invocation_close(inv, 3000, NULL, maps_of, NULL);
	j = invocation_to_json(inv);
	assert_int_equal(json_object_get_int64(get(j, "invocation")), 3);
	assert_int_equal(json_object_get_int64(get(j, "duration_ns")), 2000);
	l = json_object_array_get_idx(get(j, "layout"), 0);
	assert_string_equal(json_object_get_string(get(l, "op")), "mmap");
	assert_int_equal(json_object_get_int64(get(l, "len")), 20480);
	assert_int_equal(json_object_get_int64(get(l, "result")), 0x7f0000000000);
	assert_int_equal(json_object_array_length(get(j, "layout")), 1);
	l = json_object_array_get_idx(get(j, "process_state"), 0);
	assert_string_equal(json_object_get_string(get(l, "op")), "close");
	l = json_object_array_get_idx(get(j, "tasks"), 0);
	assert_string_equal(json_object_get_string(get(l, "op")), "new_thread");
	assert_string_equal(json_object_get_string(get(l, "comm")), "worker");
	json_object_put(j);
	invocation_free(inv);
}

/*
 * Whether a rewind may stop the threads it left without listing them: a
 * thread created, exiting or exec'ing in this process says no; another
 * process's events, a child process made or a cgroup move do not.
 */
static void threads_changed(void **state)
{
	static const struct {
		uint32_t op;
		pid_t tgid;
		bool changed;
	} cases[] = {
		{ RW_TASK_NEW_THREAD, TGID, true },
		{ RW_TASK_EXIT_THREAD, TGID, true },
		{ RW_TASK_EXEC, TGID, true },
		{ RW_TASK_EXIT_PROCESS, TGID, true },
		{ RW_TASK_NEW_THREAD, TGID + 1, false },
		{ RW_TASK_NEW_PROCESS, TGID, false },
		{ RW_TASK_CGROUP, TGID, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rw_invocation *inv = invocation_new(1, 0);
		struct rw_task_event t = { .hdr = { .kind = RW_EV_TASK, .session = 1,
						    .tgid = cases[i].tgid, .tid = cases[i].tgid },
					   .op = cases[i].op, .pid = 101, .tgid = cases[i].tgid };

		assert_false(invocation_threads_changed(inv, TGID));
		assert_int_equal(invocation_add_record(inv, &t, sizeof(t)), 0);
		assert_int_equal(invocation_threads_changed(inv, TGID), cases[i].changed);
		invocation_free(inv);
	}
}

/* A page written and then discarded leaves no written bit: its fault is the witness. */
static void discarded_pages_count(void **state)
{
	struct rw_invocation *inv = invocation_new(1, 0);
	struct rw_syscall_event s = { .hdr = { .kind = RW_EV_SYSCALL, .session = 1, .tgid = TGID, .tid = TGID } };
	struct rw_fault_event e;

	for (uint64_t a = 0x10000; a < 0x14000; a += 0x1000) {
		e = fault(101, a, 0);
		invocation_add_record(inv, &e, sizeof(e));
	}
	s.nr = RW_NR_madvise;	/* pages 0x10000, 0x11000 zapped */
	s.args[0] = 0x10000;
	s.args[1] = 0x2000;
	s.args[2] = 4;		/* MADV_DONTNEED */
	invocation_add_record(inv, &s, sizeof(s));
	s.args[0] = 0x12000;	/* MADV_WILLNEED discards nothing */
	s.args[1] = 0x1000;
	s.args[2] = 3;
	invocation_add_record(inv, &s, sizeof(s));
	s.nr = RW_NR_munmap;	/* page 0x13000 unmapped */
	s.args[0] = 0x13000;
	s.args[1] = 0x1000;
	invocation_add_record(inv, &s, sizeof(s));
	s.hdr.tgid = TGID + 1;	/* another process's munmap does not matter */
	s.args[0] = 0x12000;
	invocation_add_record(inv, &s, sizeof(s));

	assert_int_equal(invocation_close(inv, 10, covered, maps_of, NULL), 0);
	assert_int_equal(inv->pages_written, 3);
	invocation_free(inv);
}

static void malformed_records(void **state)
{
	struct rw_invocation *inv = invocation_new(1, 0);
	struct rw_fault_event e = fault(1, 0x1000, 0);
	struct rw_file_event *f = file_event(99, 0);

	assert_int_equal(invocation_add_record(inv, &e, 8), -EINVAL);
	assert_int_equal(invocation_add_record(inv, &e, sizeof(e) - 1), -EINVAL);
	e.hdr.kind = 42;
	assert_int_equal(invocation_add_record(inv, &e, sizeof(e)), -EINVAL);
	assert_int_equal(invocation_add_record(inv, f, sizeof(*f)), -EINVAL);
	/* A dir_len past the buffer is clamped, not trusted. */
	f->op = RW_FOP_WRITE;
	f->flags = RW_F_DIR_IS_FILE;
	f->dir_len = 65535;
	memset(f->dir, 'x', sizeof(f->dir));
	assert_int_equal(invocation_add_record(inv, f, sizeof(*f)), 0);
	free(f);
	invocation_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(repeated_faults_are_one_page, setup),
		cmocka_unit_test_setup(scan_and_faults_union, setup),
		cmocka_unit_test_setup(range_across_vmas, setup),
		cmocka_unit_test_setup(files_resolved_and_merged, setup),
		cmocka_unit_test_setup(layout_and_tasks, setup),
		cmocka_unit_test(files_persisting),
		cmocka_unit_test(threads_changed),
		cmocka_unit_test_setup(discarded_pages_count, setup),
		cmocka_unit_test_setup(malformed_records, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
