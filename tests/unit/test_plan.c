// SPDX-License-Identifier: GPL-2.0-only
/*
 * Restore planning from a synthetic checkpoint image and synthetic
 * observations: which steps a rewind takes, and which state it refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "plan.h"
#include "remote.h"

#define PG 4096ULL
#define TGID 100

/*
 * The checkpoint: a binary's .data (file-backed, 2 pages), the heap
 * (16 pages), an anonymous region (64 pages), a read-only anonymous region
 * (4 pages), the stack (8 pages), the vdso.
 */
static const char ckpt_maps[] =
	"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
	"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n"
	"7f0000000000-7f0000040000 rw-p 00000000 00:00 0 \n"
	"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
	"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
	"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n";

#define REGION 0x7f0000000000ULL

struct fixture {
	struct rw_proc_image img;
	struct rw_maps now;
	pid_t tids[4];
	struct rw_fd_now fds[4];
	struct rw_observed obs;
	struct rw_plan plan;
	struct rw_range written[8];
	struct rw_range covered[8];
	struct rw_range touched[4];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rw_proc_image *img = &f->img;

	assert_non_null(f);
	img->tgid = TGID;
	assert_int_equal(proc_parse_maps(ckpt_maps, &img->maps), 0);
	/* Stored: region pages 0-9 and 20-29; heap pages 0-3. */
	img->runs = calloc(3, sizeof(*img->runs));
	img->runs[0] = (struct rw_page_run){ 0x01000000, 4, 0, NULL };
	img->runs[1] = (struct rw_page_run){ REGION, 10, 4 * PG, NULL };
	img->runs[2] = (struct rw_page_run){ REGION + 20 * PG, 10, 14 * PG, NULL };
	img->nruns = 3;
	img->threads = calloc(2, sizeof(*img->threads));
	img->threads[0].tid = TGID;
	img->threads[1].tid = TGID + 1;
	img->nthreads = 2;
	img->fds = calloc(3, sizeof(*img->fds));
	img->fds[0] = (struct rw_fd_image){ .fd = 0, .held = 10, .pos = -1 };
	img->fds[1] = (struct rw_fd_image){ .fd = 3, .held = 11, .pos = 100, .status_flags = 02 };
	img->fds[2] = (struct rw_fd_image){ .fd = 5, .held = -1, .pos = -1 };
	img->nfds = 3;
	img->cwd_dev = 8;
	img->cwd_ino = 2;
	img->umask = 022;
	img->brk = 0x01010000;

	/* Now: the same, nothing written, everything writable covered. */
	assert_int_equal(proc_parse_maps(ckpt_maps, &f->now), 0);
	f->tids[0] = TGID;
	f->tids[1] = TGID + 1;
	f->fds[0] = (struct rw_fd_now){ .fd = 0, .same = true, .pos = -1 };
	f->fds[1] = (struct rw_fd_now){ .fd = 3, .same = true, .pos = 100, .status_flags = 02 };
	f->fds[2] = (struct rw_fd_now){ .fd = 5, .same = true, .pos = -1 };
	f->covered[0] = (struct rw_range){ 0x00400000, 0x00402000 };
	f->covered[1] = (struct rw_range){ 0x01000000, 0x01010000 };
	f->covered[2] = (struct rw_range){ REGION, REGION + 64 * PG };
	f->covered[3] = (struct rw_range){ 0x7ffc00000000, 0x7ffc00008000 };
	f->obs = (struct rw_observed){
		.maps = &f->now, .tids = f->tids, .ntids = 2, .written = f->written,
		.covered = f->covered, .ncovered = 4, .layout_touched = f->touched,
		.fds = f->fds, .nfds = 3, .cwd_dev = 8, .cwd_ino = 2, .umask = 022,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	plan_free(&f->plan);
	proc_maps_free(&f->img.maps);
	proc_maps_free(&f->now);
	free(f->img.runs);
	free(f->img.threads);
	free(f->img.fds);
	free(f);
	return 0;
}

static void build(struct fixture *f)
{
	plan_free(&f->plan);
	assert_int_equal(plan_build(&f->img, &f->obs, &f->plan), 0);
}

static void nothing_changed(void **state)
{
	struct fixture *f = *state;

	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nexit, 0);
	assert_false(f->plan.set_brk);
	assert_int_equal(f->plan.nlayout, 0);
	assert_int_equal(f->plan.ncopy + f->plan.ndrop, 0);
	assert_int_equal(f->plan.nfdops, 0);
	assert_false(f->plan.chdir);
	assert_false(f->plan.umask);
	assert_int_equal(f->plan.sigactions, 0);
	assert_false(f->plan.timers);
}

/*
 * Written pages split into stored ones (copied back) and the rest, which in
 * anonymous writable memory are zero-filled; the binary's .data (a file's
 * private mapping) is dropped, back to the file's bytes.
 */
static void written_pages_split(void **state)
{
	struct fixture *f = *state;

	f->written[0] = (struct rw_range){ 0x00401000, 0x00402000 };
	f->written[1] = (struct rw_range){ REGION + 8 * PG, REGION + 22 * PG };
	f->written[2] = (struct rw_range){ 0x7ffc00007000, 0x7ffc00008000 };
	f->obs.nwritten = 3;
	build(f);
	assert_int_equal(f->plan.ncopy, 2);
	assert_int_equal(f->plan.copy[0].start, REGION + 8 * PG);
	assert_int_equal(f->plan.copy[0].end, REGION + 10 * PG);
	assert_int_equal(f->plan.copy[1].start, REGION + 20 * PG);
	assert_int_equal(f->plan.copy[1].end, REGION + 22 * PG);
	assert_int_equal(f->plan.copy_pages, 4);
	assert_int_equal(f->plan.nfill, 2);
	assert_int_equal(f->plan.fill[0].start, REGION + 10 * PG);
	assert_int_equal(f->plan.fill[0].end, REGION + 20 * PG);
	assert_int_equal(f->plan.fill[1].start, 0x7ffc00007000);
	assert_int_equal(f->plan.fill_pages, 11);
	assert_int_equal(f->plan.ndrop, 1);
	assert_int_equal(f->plan.drop[0].start, 0x00401000);
	assert_int_equal(f->plan.drop[0].end, 0x00402000);
	assert_int_equal(f->plan.drop_pages, 12);
	assert_int_equal(f->plan.wholesale_pages, 0);
}

/*
 * The zero fill's budget: 4,096 pages a rewind; past it a range is
 * dropped, but for one of up to 16 pages, always filled (it takes its
 * share of what is left).
 */
static void zero_fill_budget(void **state)
{
	struct fixture *f = *state;
	static const char big[] =
		"7e0000000000-7e0001400000 rw-p 00000000 00:00 0 \n";	/* 5,120 pages */
	const uint64_t at = 0x7e0000000000;

	proc_maps_free(&f->img.maps);
	proc_maps_free(&f->now);
	assert_int_equal(proc_parse_maps(big, &f->img.maps), 0);
	assert_int_equal(proc_parse_maps(big, &f->now), 0);
	f->img.nruns = 0;
	f->img.brk = 0;
	f->covered[0] = (struct rw_range){ at, at + 5120 * PG };
	f->obs.ncovered = 1;
	f->written[0] = (struct rw_range){ at, at + 4000 * PG };
	f->written[1] = (struct rw_range){ at + 4001 * PG, at + 4201 * PG };
	f->written[2] = (struct rw_range){ at + 4300 * PG, at + 4316 * PG };
	f->written[3] = (struct rw_range){ at + 4400 * PG, at + 4500 * PG };
	f->obs.nwritten = 4;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.ncopy, 0);
	assert_int_equal(f->plan.nfill, 2);
	assert_int_equal(f->plan.fill[0].end, at + 4000 * PG);
	assert_int_equal(f->plan.fill[1].start, at + 4300 * PG);
	assert_int_equal(f->plan.fill_pages, 4016);
	assert_int_equal(f->plan.ndrop, 2);
	assert_int_equal(f->plan.drop[0].start, at + 4001 * PG);
	assert_int_equal(f->plan.drop[1].start, at + 4400 * PG);
	assert_int_equal(f->plan.drop_pages, 4316);
}

/* A new mapping goes; an unmapped one comes back whole with its stored pages. */
static void layout_new_and_removed(void **state)
{
	struct fixture *f = *state;
	static const char now[] =
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000020000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7f0000200000-7f0000205000 rw-p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n";

	assert_int_equal(proc_parse_maps(now, &f->now), 0);
	f->covered[2].end = REGION + 32 * PG;	/* the unmapped half lost its registration */
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nlayout, 2);
	/* Unmapping first. */
	assert_int_equal(f->plan.layout[0].kind, RW_LAYOUT_MUNMAP);
	assert_int_equal(f->plan.layout[0].start, 0x7f0000200000);
	assert_int_equal(f->plan.layout[0].end, 0x7f0000205000);
	assert_int_equal(f->plan.layout[1].kind, RW_LAYOUT_MAP_ANON);
	assert_int_equal(f->plan.layout[1].start, REGION + 32 * PG);
	assert_int_equal(f->plan.layout[1].end, REGION + 64 * PG);
	assert_int_equal(f->plan.layout[1].prot, PROT_READ | PROT_WRITE);
	/* Its range restored whole: nothing was stored there, so all dropped, none copied. */
	assert_int_equal(f->plan.copy_pages, 0);
	assert_int_equal(f->plan.drop_pages, 32);
	assert_true(f->plan.wholesale_pages >= 32);
}

static void layout_mprotect(void **state)
{
	struct fixture *f = *state;

	/* Region pages 4-7 made read-only. */
	static const char now[] =
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n"
		"7f0000004000-7f0000008000 r--p 00000000 00:00 0 \n"
		"7f0000008000-7f0000040000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n";

	assert_int_equal(proc_parse_maps(now, &f->now), 0);
	build(f);
	assert_int_equal(f->plan.nlayout, 1);
	assert_int_equal(f->plan.layout[0].kind, RW_LAYOUT_MPROTECT);
	assert_int_equal(f->plan.layout[0].start, REGION + 4 * PG);
	assert_int_equal(f->plan.layout[0].end, REGION + 8 * PG);
	assert_int_equal(f->plan.layout[0].prot, PROT_READ | PROT_WRITE);
	assert_int_equal(f->plan.ncopy + f->plan.ndrop, 0);
}

/*
 * The same vmas one for one (count and bounds) but one of them changed:
 * its protection, its file offset, its name. Each still needs its step (the
 * plan skips the walk only for a layout that is the same in every respect).
 */
static void layout_same_bounds_changed(void **state)
{
	struct fixture *f = *state;
	static const char *const now[] = {
		/* the binary's .data made read-only */
		"00400000-00402000 r--p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000040000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n",
		/* the binary's .data mapped from another offset of the file */
		"00400000-00402000 rw-p 00004000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000040000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n",
		/* the read-only region replaced by a named anonymous mapping */
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000040000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 [anon:x]\n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n",
	};
	const enum rw_layout_kind want[] = { RW_LAYOUT_MPROTECT, RW_LAYOUT_MAP_FILE,
					     RW_LAYOUT_MAP_ANON };
	const uint64_t at[] = { 0x00400000, 0x00400000, 0x7f0000100000 };

	for (size_t i = 0; i < 3; i++) {
		proc_maps_free(&f->now);
		assert_int_equal(proc_parse_maps(now[i], &f->now), 0);
		build(f);
		assert_int_equal(f->plan.nlayout, 1);
		assert_int_equal(f->plan.layout[0].kind, want[i]);
		assert_int_equal(f->plan.layout[0].start, at[i]);
	}
}

/*
 * A read-only vma is not write-protected, so it is never covered: what
 * comes back of it is its written pages (written before it was made
 * read-only) and, past a layout call over it, the whole part touched.
 */
static void read_only_vma_pages(void **state)
{
	struct fixture *f = *state;
	const uint64_t ro = 0x7f0000100000;

	f->written[0] = (struct rw_range){ ro + PG, ro + 2 * PG };
	f->obs.nwritten = 1;
	build(f);
	assert_int_equal(f->plan.ncopy + f->plan.ndrop, 1);
	assert_int_equal(f->plan.wholesale_pages, 0);

	f->obs.nwritten = 0;
	f->touched[0] = (struct rw_range){ ro + 2 * PG, ro + 4 * PG };
	f->obs.nlayout_touched = 1;
	build(f);
	assert_int_equal(f->plan.wholesale_pages, 2);
	assert_int_equal(f->plan.ndrop, 1);
	assert_int_equal(f->plan.drop[0].start, ro + 2 * PG);
	assert_int_equal(f->plan.drop[0].end, ro + 4 * PG);
}

/* brk grown: reset through brk, never by unmapping part of the heap. */
static void brk_grown(void **state)
{
	struct fixture *f = *state;
	static const char now[] =
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01030000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000040000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n";

	assert_int_equal(proc_parse_maps(now, &f->now), 0);
	f->obs.brk_called = true;
	build(f);
	assert_true(f->plan.set_brk);
	assert_int_equal(f->plan.brk, 0x01010000);
	assert_int_equal(f->plan.nlayout, 0);
	/* The break unmaps what it grew over; the checkpoint's heap stays in place. */
	assert_int_equal(f->plan.brk_lo, 0x01010000);
	assert_int_equal(f->plan.brk_hi, 0x01030000);
}

/* brk shrunk below its checkpoint value: grows back, the regrown part restored whole. */
static void brk_shrunk(void **state)
{
	struct fixture *f = *state;
	static const char now[] =
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01002000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000040000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n";

	assert_int_equal(proc_parse_maps(now, &f->now), 0);
	f->covered[1].end = 0x01002000;
	build(f);
	assert_true(f->plan.set_brk);
	assert_int_equal(f->plan.nlayout, 0);
	/* Heap pages 2-3 were stored: copied back; 4-15 dropped. */
	assert_int_equal(f->plan.copy_pages, 2);
	assert_int_equal(f->plan.copy[0].start, 0x01002000);
	assert_int_equal(f->plan.drop_pages, 12);
	/* It maps what it grows back over: that span is registered again. */
	assert_int_equal(f->plan.brk_lo, 0x01002000);
	assert_int_equal(f->plan.brk_hi, 0x01010000);
}

/*
 * The heap shrank below its checkpoint end and grew again: two vmas (the
 * regrown one never registered, with its own anon_vma: they do not merge).
 * The break is cut back to the first vma's end, then reset: the regrown
 * part comes back as a fresh vma, restored whole.
 */
static void brk_split(void **state)
{
	struct fixture *f = *state;
	static const char now[] =
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01002000 rw-p 00000000 00:00 0 [heap]\n"
		"01002000-01030000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000040000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n";

	assert_int_equal(proc_parse_maps(now, &f->now), 0);
	f->covered[1].end = 0x01002000;
	f->obs.brk_called = true;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_true(f->plan.set_brk);
	assert_int_equal(f->plan.brk_first, 0x01002000);
	assert_int_equal(f->plan.brk, 0x01010000);
	assert_int_equal(f->plan.nlayout, 0);
	/* Heap pages 2-3 were stored: copied back; 4-15 dropped. */
	assert_int_equal(f->plan.copy_pages, 2);
	assert_int_equal(f->plan.copy[0].start, 0x01002000);
	assert_int_equal(f->plan.drop_pages, 12);
	/* Cut back to the first vma's end, then grown: all of the rest is new. */
	assert_int_equal(f->plan.brk_lo, 0x01002000);
	assert_int_equal(f->plan.brk_hi, 0x01030000);

	/* One vma, grown or shrunk: the break is reset in one step. */
	f->obs.brk_called = false;
	assert_int_equal(proc_parse_maps(ckpt_maps, &f->now), 0);
	f->covered[1].end = 0x01010000;
	build(f);
	assert_false(f->plan.set_brk);
	assert_int_equal(f->plan.brk_first, 0);
}

static void threads(void **state)
{
	struct fixture *f = *state;

	f->tids[1] = TGID + 7;	/* TGID + 1 exited, TGID + 7 is new */
	build(f);
	assert_int_equal(f->plan.nexit, 1);
	assert_int_equal(f->plan.exit_threads[0], TGID + 7);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 101"));
	assert_non_null(strstr(f->plan.failures[0], "exited"));
}

/*
 * Names: a thread whose name differs from the checkpoint's is renamed, one
 * with the same name is not; not read (NULL) renames every named thread; a
 * recreated thread starts with its parent's name.
 */
static void thread_names(void **state)
{
	struct fixture *f = *state;
	char now[2][16] = { "main", "worker" };

	strcpy(f->img.threads[0].comm, "main");
	strcpy(f->img.threads[1].comm, "worker");
	f->obs.comms = (const char (*)[16])now;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nrenames, 0);
	strcpy(now[1], "secret-1234");
	build(f);
	assert_int_equal(f->plan.nrenames, 1);
	assert_int_equal(f->plan.renames[0], TGID + 1);
	f->obs.comms = NULL;
	build(f);
	assert_int_equal(f->plan.nrenames, 2);

	/* Thread 101 exited and is recreated as a clone of 100: named after it, renamed. */
	f->img.threads[1].exit = (struct rw_thread_exit_state){ .known = true,
								.nstid = { TGID + 1 }, .nstid_n = 1 };
	f->tids[1] = 0;
	f->obs.ntids = 1;
	f->obs.comms = (const char (*)[16])now;
	build(f);
	assert_int_equal(f->plan.nrecreate, 1);
	assert_int_equal(f->plan.nrenames, 1);
	assert_int_equal(f->plan.renames[0], TGID + 1);
	/* Its parent's name is its own: nothing to do. */
	strcpy(f->img.threads[1].comm, "main");
	build(f);
	assert_int_equal(f->plan.nrecreate, 1);
	assert_int_equal(f->plan.nrenames, 0);
}

/* The failure of f's plan that names text, or NULL. */
static const char *failure_with(const struct fixture *f, const char *text)
{
	for (size_t i = 0; i < f->plan.nfailures; i++)
		if (strstr(f->plan.failures[i], text))
			return f->plan.failures[i];
	return NULL;
}

/*
 * A checkpoint thread that exited comes back as a clone of the main thread,
 * or of the first checkpoint thread left; a named failure when that cannot
 * give it back as it was: the main thread, no thread left to clone it in,
 * its clear_child_tid/robust list/tids not read, a clone of its parent
 * with other credentials, namespaces or seccomp filters, signals queued on it.
 */
static void thread_recreated(void **state)
{
	struct fixture *f = *state;
	struct rw_thread_state *ts = calloc(3, sizeof(*ts));	/* teardown frees it */
	struct rw_ident was[3] = { { .tid = TGID }, { .tid = TGID + 1 }, { .tid = TGID + 2 } };

	assert_non_null(ts);
	for (int i = 0; i < 3; i++) {
		ts[i].tid = TGID + i;
		ts[i].exit = (struct rw_thread_exit_state){ .known = true, .nstid = { TGID + i },
							     .nstid_n = 1 };
	}
	free(f->img.threads);
	f->img.threads = ts;
	f->img.nthreads = 3;
	f->img.idents = was;
	f->img.nidents = 3;
	/* Thread 101 exited; 102 lives. */
	f->tids[1] = TGID + 2;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nexit, 0);
	assert_int_equal(f->plan.nrecreate, 1);
	assert_int_equal(f->plan.recreate[0].tid, TGID + 1);
	assert_int_equal(f->plan.recreate[0].parent, TGID);
	/*
	 * Its pstate set back but for what a clone starts with: no parent-death
	 * signal, no sigaltstack, its parent's personality and timer slack.
	 */
	struct rw_thread_pstate ps[3] = { { .tid = TGID }, { .tid = TGID + 1 }, { .tid = TGID + 2 } };
	struct rw_thread_pstate ps_now[3];
	struct rw_pstate read = { .threads = ps_now, .nthreads = 3 };

	for (int i = 0; i < 3; i++) {
		ps[i].altstack.flags = SS_DISABLE;
		ps[i].timerslack = 50000;
	}
	f->img.pstate.threads = ps;
	f->img.pstate.nthreads = 3;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.npsops, 0);
	ps[1].pdeathsig = SIGTERM;
	ps[1].altstack = (struct rw_altstack){ .sp = 0x7000, .size = 8192 };
	ps[1].personality = 0x0040000;	/* ADDR_NO_RANDOMIZE */
	ps[1].timerslack = 1;
	build(f);
	assert_int_equal(f->plan.npsops, 4);
	assert_int_equal(f->plan.psops[0].kind, RW_PS_PERSONALITY);
	assert_int_equal(f->plan.psops[1].kind, RW_PS_PDEATHSIG);
	assert_int_equal(f->plan.psops[2].kind, RW_PS_TIMERSLACK);
	assert_int_equal(f->plan.psops[3].kind, RW_PS_ALTSTACK);
	for (size_t i = 0; i < f->plan.npsops; i++)
		assert_int_equal(f->plan.psops[i].tid, TGID + 1);
	/* The same as its parent's at the checkpoint, but the parent's changed since: set. */
	ps[1] = ps[0];
	ps[1].tid = TGID + 1;
	memcpy(ps_now, ps, sizeof(ps));
	ps_now[0].timerslack = 7;
	f->obs.pstate = &read;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.npsops, 2);
	assert_int_equal(f->plan.psops[0].tid, TGID);
	assert_int_equal(f->plan.psops[1].kind, RW_PS_TIMERSLACK);
	assert_int_equal(f->plan.psops[1].tid, TGID + 1);
	f->obs.pstate = NULL;
	f->img.pstate.threads = NULL;
	f->img.pstate.nthreads = 0;

	/* The main thread exited too: named; 101 is cloned in 102. */
	f->tids[0] = TGID + 2;
	f->obs.ntids = 1;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 100 "));
	assert_non_null(strstr(f->plan.failures[0], "it is the main thread"));
	assert_int_equal(f->plan.nrecreate, 1);
	assert_int_equal(f->plan.recreate[0].tid, TGID + 1);
	assert_int_equal(f->plan.recreate[0].parent, TGID + 2);

	/* No checkpoint thread left (only a new one): 101 and 102 cannot be cloned. */
	f->tids[0] = TGID + 7;
	build(f);
	assert_int_equal(f->plan.nexit, 1);
	assert_int_equal(f->plan.nfailures, 3);
	assert_non_null(strstr(failure_with(f, "thread 101 "), "no thread of the checkpoint is left"));
	assert_non_null(strstr(failure_with(f, "thread 102 "), "no thread of the checkpoint is left"));
	f->tids[0] = TGID;
	f->tids[1] = TGID + 2;
	f->obs.ntids = 2;

	/* Its exit state was not read at the checkpoint. */
	ts[1].exit.known = false;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_int_equal(f->plan.nrecreate, 0);
	assert_non_null(strstr(f->plan.failures[0], "thread 101 "));
	assert_non_null(strstr(f->plan.failures[0], "clear_child_tid, robust list or tids were "
					   "not read"));
	ts[1].exit.known = true;

	/* A clone of 100 would have 100's credentials, namespaces, seccomp filters. */
	was[1].creds.uid[1] = 65534;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_int_equal(f->plan.nrecreate, 0);
	assert_non_null(strstr(f->plan.failures[0], "thread 101 "));
	assert_non_null(strstr(f->plan.failures[0], "a clone of thread 100 would not have its "
					   "identity (credentials changed"));
	was[1].creds.uid[1] = 0;
	was[1].ns[RW_NS_NET] = 7;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 101 "));
	assert_non_null(strstr(f->plan.failures[0], "net namespace"));
	was[1].ns[RW_NS_NET] = 0;
	was[1].creds.seccomp_mode = 2;
	was[1].creds.seccomp_filters = 1;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 101 "));
	assert_non_null(strstr(f->plan.failures[0], "seccomp"));
	was[1].creds.seccomp_mode = 0;
	was[1].creds.seccomp_filters = 0;

	/* A signal queued on it at the checkpoint cannot be queued again. */
	ts[1].pending.count[SIGUSR1 - 1] = 1;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 101 "));
	assert_non_null(strstr(f->plan.failures[0], "queued on it at the checkpoint"));
	ts[1].pending.count[SIGUSR1 - 1] = 0;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nrecreate, 1);

	f->img.idents = NULL;
	f->img.nidents = 0;
}

/*
 * A surviving thread's robust list changed (registered by a thread the
 * checkpoint caught inside pthread_create, or by the function): registered
 * again; unchanged, or not read at the checkpoint: nothing.
 */
static void thread_robust(void **state)
{
	struct fixture *f = *state;
	struct rw_robust now[2] = { { 0x5000, 24 }, { 0x6000, 24 } };

	f->img.threads[0].exit = (struct rw_thread_exit_state){ .known = true, .robust_known = true,
								.robust_head = 0x5000,
								.robust_len = 24 };
	f->img.threads[1].exit = (struct rw_thread_exit_state){ .known = true, .robust_known = true,
								.robust_len = 24 };
	f->obs.robust = now;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nrobust_ops, 1);
	assert_int_equal(f->plan.robust_ops[0].tid, TGID + 1);
	assert_true(f->plan.robust_ops[0].want.head == 0);
	assert_true(f->plan.robust_ops[0].want.len == 24);
	now[1].head = 0;
	build(f);
	assert_int_equal(f->plan.nrobust_ops, 0);
	/* The rest of the exit state unread (clear_child_tid): the list is restored all the same. */
	now[0].head = 0x7000;
	f->img.threads[0].exit.known = false;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nrobust_ops, 1);
	assert_int_equal(f->plan.robust_ops[0].tid, TGID);
	assert_true(f->plan.robust_ops[0].want.head == 0x5000);
	/* The list itself unread at the checkpoint: whether it changed is unknown, fail closed. */
	f->img.threads[0].exit.robust_known = false;
	build(f);
	assert_int_equal(f->plan.nrobust_ops, 0);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "robust futex list was not read"));
}

/*
 * Signals queued on one thread: new ones are dequeued in that thread; one
 * pending at the checkpoint and delivered since, or queued again behind it,
 * fails closed. SIGKILL and SIGSTOP are the kernel's business.
 */
static void thread_signals(void **state)
{
	struct fixture *f = *state;
	struct rw_thread_pending now[2] = { 0 };

	f->obs.pending = now;
	build(f);
	assert_int_equal(f->plan.ndrain_threads, 0);
	now[1].count[SIGUSR2 - 1] = 1;
	now[1].count[SIGRTMIN + 1 - 1] = 3;
	now[1].count[SIGSTOP - 1] = 1;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.ndrain_threads, 1);
	assert_int_equal(f->plan.drain_threads[0].tid, TGID + 1);
	assert_true(f->plan.drain_threads[0].set ==
		    ((1ULL << (SIGUSR2 - 1)) | (1ULL << (SIGRTMIN + 1 - 1))));
	f->img.threads[1].pending.count[SIGUSR2 - 1] = 1;
	now[1].count[SIGUSR2 - 1] = 0;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 101: signal 12 pending at the checkpoint"));
	now[1].count[SIGUSR2 - 1] = 1;
	f->img.threads[1].pending.count[SIGRTMIN + 1 - 1] = 1;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "behind one pending then"));
}

/* A seccomp filter or no_new_privs gained since the checkpoint cannot be undone: named failures. */
static void irreversible(void **state)
{
	struct fixture *f = *state;

	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	f->obs.seccomp = 2;
	f->obs.seccomp_filters = 1;
	f->obs.no_new_privs = true;
	build(f);
	assert_int_equal(f->plan.nfailures, 2);
	assert_non_null(strstr(f->plan.failures[0], "seccomp"));
	assert_non_null(strstr(f->plan.failures[1], "no_new_privs"));
}

/*
 * A checkpoint thread's credentials or namespace changed: a named failure,
 * whichever thread; not read (NULL) when the log shows no CRED call.
 */
static void identity(void **state)
{
	struct fixture *f = *state;
	struct rw_ident was[2] = { { .tid = TGID }, { .tid = TGID + 1 } };
	struct rw_ident now[3] = { { .tid = TGID }, { .tid = TGID + 1 }, { .tid = TGID + 9 } };

	f->img.idents = was;
	f->img.nidents = 2;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	f->obs.idents = now;
	f->obs.nidents = 3;
	now[2].creds.uid[1] = 65534;	/* a new thread: it exits anyway */
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	now[1].creds.uid[1] = 65534;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 101: credentials changed since the "
					   "checkpoint (euid 0 → 65534): cannot be restored from outside"));
	now[1].creds.uid[1] = 0;
	/* No fd held to the checkpoint's net namespace: nothing to go back into. */
	now[0].ns[RW_NS_NET] = 7;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "unshared or setns'd its net namespace"));
	/* Held: the thread goes back with setns; a mount namespace also brings cwd back. */
	struct rw_ns_ref refs[2] = { { RW_NS_NET, 0, 40 }, { RW_NS_MNT, 0, 41 } };

	f->img.nsrefs = refs;
	f->img.nnsrefs = 2;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nsetns, 1);
	assert_int_equal(f->plan.setns[0].tid, TGID);
	assert_int_equal(f->plan.setns[0].kind, RW_NS_NET);
	assert_int_equal(f->plan.setns[0].fd, 40);
	assert_false(f->plan.chdir);
	now[1].ns[RW_NS_MNT] = 9;
	build(f);
	assert_int_equal(f->plan.nsetns, 2);
	assert_int_equal(f->plan.setns[1].fd, 41);
	assert_true(f->plan.chdir);
	/* A user namespace is never held (no way back to an ancestor): it fails closed. */
	now[1].ns[RW_NS_MNT] = 0;
	now[1].ns[RW_NS_USER] = 5;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "thread 101: unshared or setns'd its user namespace"));
	now[1].ns[RW_NS_USER] = 0;
	f->img.nsrefs = NULL;
	f->img.nnsrefs = 0;
	now[0].ns[RW_NS_NET] = 0;
	f->obs.securebits_set = true;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "securebits"));
	f->img.idents = NULL;
	f->img.nidents = 0;
}

static void fds(void **state)
{
	struct fixture *f = *state;

	f->fds[0].same = false;			/* dup2 over stdin: put the held one back */
	f->fds[1].pos = 4096;			/* moved */
	f->fds[1].cloexec = true;		/* flag changed */
	f->fds[2] = (struct rw_fd_now){ .fd = 9, .same = false, .pos = -1 };	/* 5 closed, 9 new */
	build(f);
	assert_int_equal(f->plan.nfdops, 4);
	assert_int_equal(f->plan.fdops[0].kind, RW_FD_CLOSE);
	assert_int_equal(f->plan.fdops[0].fd, 9);
	assert_int_equal(f->plan.fdops[1].kind, RW_FD_INSTALL);
	assert_int_equal(f->plan.fdops[1].fd, 0);
	assert_int_equal(f->plan.fdops[2].kind, RW_FD_SEEK);
	assert_int_equal(f->plan.fdops[3].kind, RW_FD_CLOEXEC);
	/* fd 5 was not held: it cannot come back. */
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "fd 5"));
}

/* Coverage lost on writable memory: restored whole. Read-only memory only when a layout call touched it. */
static void coverage(void **state)
{
	struct fixture *f = *state;

	f->obs.ncovered = 2;		/* region and stack not write-protected */
	f->touched[0] = (struct rw_range){ 0x7f0000101000, 0x7f0000102000 };
	f->obs.nlayout_touched = 1;
	build(f);
	assert_int_equal(f->plan.wholesale_pages, 64 + 8 + 1);
	assert_int_equal(f->plan.copy_pages, 20);
	assert_int_equal(f->plan.drop_pages, 44 + 8 + 1);

	f->obs.nlayout_touched = 0;
	build(f);
	assert_int_equal(f->plan.wholesale_pages, 64 + 8);
}

/* A vma covered in parts: only the holes between its registrations are restored whole. */
static void coverage_holes(void **state)
{
	struct fixture *f = *state;

	f->covered[2] = (struct rw_range){ REGION, REGION + 8 * PG };
	f->covered[3] = (struct rw_range){ REGION + 12 * PG, REGION + 20 * PG };
	f->covered[4] = (struct rw_range){ REGION + 30 * PG, REGION + 64 * PG };
	f->covered[5] = (struct rw_range){ 0x7ffc00000000, 0x7ffc00008000 };
	f->obs.ncovered = 6;
	build(f);
	/* Holes 8-11 and 20-29; stored are 0-9 and 20-29. */
	assert_int_equal(f->plan.wholesale_pages, 4 + 10);
	assert_int_equal(f->plan.copy_pages, 2 + 10);
	assert_int_equal(f->plan.drop_pages, 2);
}

static void process_state(void **state)
{
	struct fixture *f = *state;
	int ids[] = { 1, 2 };

	f->obs.cwd_ino = 3;
	f->obs.umask = 077;
	f->obs.sigactions_called = 1ULL << (SIGUSR1 - 1);
	f->obs.timers_called = true;
	f->obs.timer_ids = ids;
	f->obs.ntimers = 2;
	build(f);
	assert_true(f->plan.chdir);
	assert_true(f->plan.umask);
	assert_int_equal(f->plan.sigactions, 1ULL << (SIGUSR1 - 1));
	assert_true(f->plan.timers);
	assert_int_equal(f->plan.ndelete_timers, 2);

	/* An alarm that fired during the invocation: its signal must not be delivered after it. */
	f->img.sig_pending_shared = 1ULL << (SIGUSR2 - 1);	/* pending at the checkpoint: kept */
	f->obs.sig_pending_shared = (1ULL << (SIGALRM - 1)) | (1ULL << (SIGUSR2 - 1));
	build(f);
	assert_int_equal(f->plan.drain_signals, 1ULL << (SIGALRM - 1));

	/* A disposition changed without a call the log saw (SA_RESETHAND): all of them. */
	f->obs.sig_caught = 1;
	build(f);
	assert_int_equal(f->plan.sigactions,
			 ~0ULL & ~(1ULL << (SIGKILL - 1)) & ~(1ULL << (SIGSTOP - 1)));
}

/* Attributes: not looked at unless read; then one step per rlimit and per thread attribute that differs. */
static void attrs(void **state)
{
	struct fixture *f = *state;
	struct rw_thread_attrs want[2] = { { .tid = TGID }, { .tid = TGID + 1 } }, now[2];
	struct rw_attrs read = { .threads = now, .nthreads = 2 };

	f->img.attrs.threads = want;
	f->img.attrs.nthreads = 2;
	for (int i = 0; i < 2; i++) {
		CPU_ZERO(&want[i].affinity);
		CPU_SET(0, &want[i].affinity);
		CPU_SET(1, &want[i].affinity);
	}
	f->img.attrs.rlim[RLIMIT_NOFILE] = (struct rlimit){ 1024, 4096 };
	memcpy(now, want, sizeof(now));
	read.rlim[RLIMIT_NOFILE] = f->img.attrs.rlim[RLIMIT_NOFILE];

	/* The log proves them unchanged: nothing read, nothing planned. */
	f->img.attrs.rlim[RLIMIT_CORE].rlim_cur = 1;
	build(f);
	assert_int_equal(f->plan.nattrops, 0);

	/* Read and equal but RLIMIT_CORE: that one step. */
	f->obs.attrs = &read;
	build(f);
	assert_int_equal(f->plan.nattrops, 1);
	assert_int_equal(f->plan.attrops[0].kind, RW_ATTR_RLIMIT);
	assert_int_equal(f->plan.attrops[0].resource, RLIMIT_CORE);

	/* A second thread's nice, policy, affinity, ioprio; the main thread's nice; NOFILE lowered. */
	f->img.attrs.rlim[RLIMIT_CORE].rlim_cur = 0;
	read.rlim[RLIMIT_NOFILE].rlim_cur = 64;
	now[0].nice = 10;
	now[1].nice = 15;
	now[1].sched.policy = SCHED_IDLE;
	CPU_CLR(1, &now[1].affinity);
	now[1].ioprio = 3 << 13;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nattrops, 6);
	assert_int_equal(f->plan.attrops[0].kind, RW_ATTR_RLIMIT);
	assert_int_equal(f->plan.attrops[0].resource, RLIMIT_NOFILE);
	assert_int_equal(f->plan.attrops[1].kind, RW_ATTR_NICE);
	assert_int_equal(f->plan.attrops[1].tid, TGID);
	assert_int_equal(f->plan.attrops[2].kind, RW_ATTR_SCHED);
	assert_int_equal(f->plan.attrops[2].tid, TGID + 1);
	assert_int_equal(f->plan.attrops[3].kind, RW_ATTR_NICE);
	assert_int_equal(f->plan.attrops[4].kind, RW_ATTR_AFFINITY);
	assert_int_equal(f->plan.attrops[5].kind, RW_ATTR_IOPRIO);
	assert_int_equal(f->plan.attrops[5].tid, TGID + 1);
	f->img.attrs.threads = NULL;
	f->img.attrs.nthreads = 0;
}

/*
 * Personality, prctl state, sigaltstack, keys: nothing unless read; one
 * step per difference that can be undone; the rest, and logged calls no
 * step undoes, fail the plan naming them.
 */
static void pstate(void **state)
{
	struct fixture *f = *state;
	int32_t want_keys[] = { 7 }, now_keys[] = { 7, 9 }, session_now[] = { 11 };
	int32_t added[] = { 7 };
	struct rw_thread_pstate want[1] = { { .tid = TGID, .personality = 0, .timerslack = 50000 } };
	struct rw_thread_pstate now[1];
	struct rw_pstate read = { .threads = now, .nthreads = 1 };

	f->img.pstate.threads = want;
	f->img.pstate.nthreads = 1;
	f->img.pstate.process_kr = (struct rw_keyring){ .id = 5, .keys = want_keys, .n = 1 };
	f->img.pstate.session_kr = (struct rw_keyring){ .id = 6 };
	f->img.pstate.dumpable = 1;
	memcpy(now, want, sizeof(now));
	read.dumpable = 1;
	read.process_kr = f->img.pstate.process_kr;
	read.session_kr = f->img.pstate.session_kr;

	/* The log proves it unchanged: nothing read, nothing planned. */
	now[0].personality = 0x400000;
	build(f);
	assert_int_equal(f->plan.npsops, 0);
	assert_int_equal(f->plan.nfailures, 0);

	/* Read: personality, timer slack, altstack of the thread; subreaper; a process key. */
	f->obs.pstate = &read;
	now[0].timerslack = 1;
	now[0].altstack.flags = 0;
	now[0].altstack.sp = 0x1000;
	read.subreaper = 1;
	read.process_kr.keys = now_keys;
	read.process_kr.n = 2;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.npsops, 5);
	assert_int_equal(f->plan.psops[0].kind, RW_PS_PERSONALITY);
	assert_int_equal(f->plan.psops[0].tid, TGID);
	assert_int_equal(f->plan.psops[1].kind, RW_PS_TIMERSLACK);
	assert_int_equal(f->plan.psops[2].kind, RW_PS_ALTSTACK);
	assert_int_equal(f->plan.psops[3].kind, RW_PS_SUBREAPER);
	assert_int_equal(f->plan.psops[4].kind, RW_PS_UNLINK_PROCESS_KEY);
	assert_int_equal(f->plan.psops[4].key, 9);

	/* A key in the session keyring (shared): fails closed, naming it. */
	memcpy(now, want, sizeof(now));
	read.subreaper = 0;
	read.process_kr = f->img.pstate.process_kr;
	read.session_kr.keys = session_now;
	read.session_kr.n = 1;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "key 11 linked into the session keyring"));
	read.session_kr = f->img.pstate.session_kr;

	/* A logged prctl no step undoes, and an add_key that updated key 7. */
	f->obs.prctl_unhandled = 26 + 1;
	f->obs.keys_added = added;
	f->obs.nkeys_added = 1;
	build(f);
	assert_int_equal(f->plan.nfailures, 2);
	assert_non_null(strstr(f->plan.failures[0], "prctl option 26"));
	assert_non_null(strstr(f->plan.failures[1], "key 7 updated by add_key"));
	f->obs.prctl_unhandled = 0;
	f->obs.nkeys_added = 0;
	f->img.pstate = (struct rw_pstate){ 0 };
}

static void timer_deleted(void **state)
{
	struct fixture *f = *state;
	struct rw_posix_timer t = { .id = 4 };

	f->img.timers = &t;
	f->img.ntimers = 1;
	f->obs.timers_called = true;
	build(f);
	f->img.timers = NULL;
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "timer 4"));
}

/* Where rewindd maps its own pages: free in both layouts, so no layout step can hit them. */
static void hole_free_in_both(void **state)
{
	struct fixture *f = *state;
	/* Gaps: 0x380000-0x390000 is 64 KiB, too small; 0x3a0000-0x400000 fits. */
	static const char ckpt[] =
		"00390000-003a0000 rw-p 00000000 00:00 0 \n"
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n";
	static const char now[] =
		"00100000-00380000 rw-p 00000000 00:00 0 \n"
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n";
	const struct rw_maps *layouts[2] = { &f->img.maps, &f->now };

	assert_int_equal(proc_parse_maps(ckpt, &f->img.maps), 0);
	assert_int_equal(proc_parse_maps(now, &f->now), 0);
	build(f);
	assert_int_equal(f->plan.hole, 0x3a0000);
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < layouts[l]->n; i++)
			assert_false(layouts[l]->v[i].start < f->plan.hole + RW_REMOTE_AREA &&
				     f->plan.hole < layouts[l]->v[i].end);
}

/* The anonymous region as wipe-on-fork memory: marked, and (as the checkpoint does) not stored. */
static void region_wipeonfork(struct fixture *f)
{
	ssize_t i = proc_maps_find(&f->img.maps, REGION);

	assert_true(i >= 0);
	f->img.maps.v[i].wipeonfork = true;
	f->img.nruns = 1;	/* the heap's run only */
}

/* Dropped whole at every rewind, written or not, and nothing else happens to it. */
static void wipeonfork_dropped(void **state)
{
	struct fixture *f = *state;

	region_wipeonfork(f);
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nlayout, 0);
	assert_int_equal(f->plan.ncopy, 0);
	assert_int_equal(f->plan.ndrop, 1);
	assert_int_equal(f->plan.drop[0].start, REGION);
	assert_int_equal(f->plan.drop[0].end, REGION + 64 * PG);
	assert_int_equal(f->plan.wipe_pages, 64);
	assert_int_equal(f->plan.wholesale_pages, 0);

	/* Written pages in it change nothing; written ones elsewhere are restored as ever. */
	f->written[0] = (struct rw_range){ 0x01000000, 0x01001000 };
	f->written[1] = (struct rw_range){ REGION + 3 * PG, REGION + 5 * PG };
	f->obs.nwritten = 2;
	build(f);
	assert_int_equal(f->plan.ncopy, 1);
	assert_int_equal(f->plan.copy[0].start, 0x01000000);
	assert_int_equal(f->plan.ndrop, 1);
	assert_int_equal(f->plan.drop_pages, 64);
}

/*
 * MADV_KEEPONFORK (any layout call) over wf memory, or the mapping made
 * again: the flag goes back on after the layout steps, over the whole vma.
 */
static void wipeonfork_flag_restored(void **state)
{
	struct fixture *f = *state;
	static const char now[] =
		"00400000-00402000 rw-p 00002000 08:01 77 /usr/bin/fn\n"
		"01000000-01010000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000020000 rw-p 00000000 00:00 0 \n"
		"7f0000100000-7f0000104000 r--p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n"
		"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n";

	region_wipeonfork(f);
	f->touched[0] = (struct rw_range){ REGION + PG, REGION + 2 * PG };
	f->obs.nlayout_touched = 1;
	build(f);
	assert_int_equal(f->plan.nlayout, 1);
	assert_int_equal(f->plan.layout[0].kind, RW_LAYOUT_MADVISE);
	assert_int_equal(f->plan.layout[0].advice, MADV_WIPEONFORK);
	assert_int_equal(f->plan.layout[0].start, REGION);
	assert_int_equal(f->plan.layout[0].end, REGION + 64 * PG);

	/* Its upper half unmapped (no record names it: the maps tell): mapped, then marked. */
	f->obs.nlayout_touched = 0;
	assert_int_equal(proc_parse_maps(now, &f->now), 0);
	build(f);
	assert_int_equal(f->plan.nlayout, 2);
	assert_int_equal(f->plan.layout[0].kind, RW_LAYOUT_MAP_ANON);
	assert_int_equal(f->plan.layout[0].start, REGION + 32 * PG);
	assert_int_equal(f->plan.layout[1].kind, RW_LAYOUT_MADVISE);
	assert_int_equal(f->plan.layout[1].advice, MADV_WIPEONFORK);
	assert_int_equal(f->plan.layout[1].start, REGION);
	assert_int_equal(f->plan.layout[1].end, REGION + 64 * PG);
	assert_int_equal(f->plan.drop_pages, 64);
}

/* MADV_WIPEONFORK on ordinary memory: cleared again there, and only there. */
static void wipeonfork_flag_cleared(void **state)
{
	struct fixture *f = *state;
	struct rw_range set[2] = {
		{ REGION + 4 * PG, REGION + 8 * PG },
		{ 0x00400000, 0x00401000 },	/* a file mapping cannot be wf: nothing to do */
	};

	f->touched[0] = set[0];
	f->touched[1] = set[1];
	f->obs.nlayout_touched = 2;
	f->obs.wipe_maybe_set = set;
	f->obs.nwipe_maybe_set = 2;
	build(f);
	assert_int_equal(f->plan.nlayout, 1);
	assert_int_equal(f->plan.layout[0].kind, RW_LAYOUT_MADVISE);
	assert_int_equal(f->plan.layout[0].advice, MADV_KEEPONFORK);
	assert_int_equal(f->plan.layout[0].start, REGION + 4 * PG);
	assert_int_equal(f->plan.layout[0].end, REGION + 8 * PG);
	assert_int_equal(f->plan.wipe_pages, 0);
}

/* Events lost: every anonymous private mapping gets the checkpoint's flag back. */
static void wipeonfork_log_incomplete(void **state)
{
	struct fixture *f = *state;
	size_t wipe = 0, keep = 0;

	region_wipeonfork(f);
	f->obs.log_incomplete = true;
	build(f);
	for (size_t i = 0; i < f->plan.nlayout; i++) {
		const struct rw_layout_op *op = &f->plan.layout[i];

		assert_int_equal(op->kind, RW_LAYOUT_MADVISE);
		if (op->advice == MADV_WIPEONFORK) {
			assert_int_equal(op->start, REGION);
			wipe++;
		} else {
			assert_int_equal(op->advice, MADV_KEEPONFORK);
			assert_true(op->start != 0x00400000 && op->start != 0x7ffc00100000);
			keep++;
		}
	}
	assert_int_equal(wipe, 1);
	assert_int_equal(keep, 3);	/* heap, the read-only region, stack */
}

static void ranges(void **state)
{
	struct rw_ranges l = { 0 };

	assert_int_equal(ranges_add(&l, 30, 40), 0);
	assert_int_equal(ranges_add(&l, 10, 20), 0);
	assert_int_equal(ranges_add(&l, 20, 25), 0);
	assert_int_equal(ranges_add(&l, 35, 50), 0);
	assert_int_equal(ranges_add(&l, 60, 60), 0);	/* empty: ignored */
	ranges_normalize(&l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.r[0].start, 10);
	assert_int_equal(l.r[0].end, 25);
	assert_int_equal(l.r[1].start, 30);
	assert_int_equal(l.r[1].end, 50);
	ranges_free(&l);
}

/* Removing from a sorted list: splits, trims, drops; an empty list stays empty. */
static void ranges_remove_parts(void **state)
{
	struct rw_ranges l = { 0 };

	(void)state;
	assert_int_equal(ranges_remove(&l, 10, 20), 0);	/* no array at all */
	assert_int_equal(l.n, 0);
	assert_int_equal(ranges_insert(&l, 10, 50), 0);
	assert_int_equal(ranges_insert(&l, 60, 70), 0);
	assert_int_equal(ranges_remove(&l, 20, 30), 0);	/* a hole: split */
	assert_int_equal(l.n, 3);
	assert_true(l.r[0].start == 10 && l.r[0].end == 20);
	assert_true(l.r[1].start == 30 && l.r[1].end == 50);
	assert_int_equal(ranges_remove(&l, 40, 65), 0);	/* one trimmed at each end */
	assert_int_equal(l.n, 3);
	assert_true(l.r[1].start == 30 && l.r[1].end == 40);
	assert_true(l.r[2].start == 65 && l.r[2].end == 70);
	assert_int_equal(ranges_remove(&l, 0, 100), 0);	/* all of it */
	assert_int_equal(l.n, 0);
	assert_int_equal(ranges_remove(&l, 0, 100), 0);
	assert_int_equal(l.n, 0);
	ranges_free(&l);
}

/* a's parts inside and outside b: the rewind's hot pages and the rest. */
static void ranges_split_parts(void **state)
{
	const struct rw_range a[] = { { 10, 20 }, { 30, 50 }, { 60, 70 } };
	const struct rw_range b[] = { { 0, 12 }, { 15, 35 }, { 40, 45 }, { 70, 80 } };
	struct rw_ranges in = { 0 }, out = { 0 };

	(void)state;
	assert_int_equal(ranges_split(a, 3, b, 4, &in, &out), 0);
	assert_int_equal(in.n, 4);
	assert_true(in.r[0].start == 10 && in.r[0].end == 12);
	assert_true(in.r[1].start == 15 && in.r[1].end == 20);
	assert_true(in.r[2].start == 30 && in.r[2].end == 35);
	assert_true(in.r[3].start == 40 && in.r[3].end == 45);
	assert_int_equal(out.n, 4);
	assert_true(out.r[0].start == 12 && out.r[0].end == 15);
	assert_true(out.r[1].start == 35 && out.r[1].end == 40);
	assert_true(out.r[2].start == 45 && out.r[2].end == 50);
	assert_true(out.r[3].start == 60 && out.r[3].end == 70);
	ranges_free(&in);
	ranges_free(&out);
	/* Nothing to split against: all outside. */
	assert_int_equal(ranges_split(a, 3, NULL, 0, &in, &out), 0);
	assert_int_equal(in.n, 0);
	assert_int_equal(out.n, 3);
	ranges_free(&out);
}

/*
 * Shared memory objects: the pages that differ go back, stored ones written,
 * the others punched out, then the size; nothing when they are the
 * checkpoint's; a change to one held read-only fails the plan, naming it.
 */
static void shared_memory(void **state)
{
	struct fixture *f = *state;
	struct rw_shm_run runs[2] = { { 0, 4, 0 }, { 10 * PG, 2, 4 * PG } };
	struct rw_shm_image shm[2] = {
		{ .fd = -1, .writable = true, .size = 16 * PG, .runs = runs, .nruns = 2,
		  .what = "pid 100: mapping 0x7e0000000000-0x7e0000010000 /memfd:x (deleted)" },
		{ .fd = -1, .writable = false, .size = 100, .what = "pid 100: fd 7 (/memfd:ro (deleted))" },
	};
	struct rw_range diff[2] = { { 2 * PG, 6 * PG }, { 9 * PG, 11 * PG } };
	struct rw_shm_now now[2] = { { .size = 16 * PG }, { .size = 100 } };

	f->img.shms = shm;
	f->img.nshms = 2;

	/* Not read: the plan cannot tell what changed. */
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "shared memory was not read"));

	/* Read and unchanged: no step. */
	f->obs.shm = now;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.nshmops, 0);

	/* Pages 2-5 and 9-10 differ, and it grew: write 2-3, punch 4-5, punch 9, write 10, truncate. */
	now[0].diff = diff;
	now[0].ndiff = 2;
	now[0].size = 64 * PG;
	build(f);
	assert_int_equal(f->plan.nfailures, 0);
	assert_int_equal(f->plan.shm_pages, 6);
	assert_int_equal(f->plan.nshmops, 5);
	assert_int_equal(f->plan.shmops[0].kind, RW_SHM_WRITE);
	assert_int_equal(f->plan.shmops[0].start, 2 * PG);
	assert_int_equal(f->plan.shmops[0].end, 4 * PG);
	assert_int_equal(f->plan.shmops[1].kind, RW_SHM_PUNCH);
	assert_int_equal(f->plan.shmops[1].start, 4 * PG);
	assert_int_equal(f->plan.shmops[1].end, 6 * PG);
	assert_int_equal(f->plan.shmops[2].kind, RW_SHM_PUNCH);
	assert_int_equal(f->plan.shmops[2].start, 9 * PG);
	assert_int_equal(f->plan.shmops[2].end, 10 * PG);
	assert_int_equal(f->plan.shmops[3].kind, RW_SHM_WRITE);
	assert_int_equal(f->plan.shmops[3].start, 10 * PG);
	assert_int_equal(f->plan.shmops[3].end, 11 * PG);
	assert_int_equal(f->plan.shmops[4].kind, RW_SHM_TRUNCATE);
	assert_int_equal(f->plan.shmops[4].end, 16 * PG);
	for (size_t i = 0; i < f->plan.nshmops; i++)
		assert_int_equal(f->plan.shmops[i].obj, 0);

	/* Only the size of the read-only one changed: refused, naming it. */
	now[0] = (struct rw_shm_now){ .size = 16 * PG };
	now[1].size = 4096;
	build(f);
	assert_int_equal(f->plan.nfailures, 1);
	assert_non_null(strstr(f->plan.failures[0], "fd 7 (/memfd:ro (deleted))"));
	assert_non_null(strstr(f->plan.failures[0], "read-only"));
	f->img.shms = NULL;
	f->img.nshms = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(nothing_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(written_pages_split, setup, teardown),
		cmocka_unit_test_setup_teardown(zero_fill_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(layout_new_and_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(layout_mprotect, setup, teardown),
		cmocka_unit_test_setup_teardown(layout_same_bounds_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(read_only_vma_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(brk_grown, setup, teardown),
		cmocka_unit_test_setup_teardown(brk_shrunk, setup, teardown),
		cmocka_unit_test_setup_teardown(brk_split, setup, teardown),
		cmocka_unit_test_setup_teardown(threads, setup, teardown),
		cmocka_unit_test_setup_teardown(thread_recreated, setup, teardown),
		cmocka_unit_test_setup_teardown(thread_names, setup, teardown),
		cmocka_unit_test_setup_teardown(thread_robust, setup, teardown),
		cmocka_unit_test_setup_teardown(thread_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(irreversible, setup, teardown),
		cmocka_unit_test_setup_teardown(identity, setup, teardown),
		cmocka_unit_test_setup_teardown(fds, setup, teardown),
		cmocka_unit_test_setup_teardown(coverage, setup, teardown),
		cmocka_unit_test_setup_teardown(coverage_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(process_state, setup, teardown),
		cmocka_unit_test_setup_teardown(attrs, setup, teardown),
		cmocka_unit_test_setup_teardown(pstate, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(hole_free_in_both, setup, teardown),
		cmocka_unit_test_setup_teardown(wipeonfork_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(wipeonfork_flag_restored, setup, teardown),
		cmocka_unit_test_setup_teardown(wipeonfork_flag_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(wipeonfork_log_incomplete, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_memory, setup, teardown),
		cmocka_unit_test(ranges),
		cmocka_unit_test(ranges_remove_parts),
		cmocka_unit_test(ranges_split_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
