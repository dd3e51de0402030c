// SPDX-License-Identifier: GPL-2.0-only
/*
 * Syscall injection and async write protection against real child
 * processes (needs root). Children take commands on a pipe and answer on
 * another; readiness of a blocked thread is read from /proc/PID/syscall.
 * No sleeps anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "inject.h"
#include "log.h"
#include "proc.h"
#include "wp.h"

#define PAGE		4096UL
#define REGION_PAGES	64
#define MAX_IDX		64
/* Kernel-internal codes an interrupted syscall leaves in rax. */
#define ERESTARTSYS		512
#define ERESTART_RESTARTBLOCK	516

/* ---- plumbing -------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
	return io_full(fd, buf, len, false);
}

static int write_full(int fd, const void *buf, size_t len)
{
	return io_full(fd, (void *)buf, len, true);
}

static pid_t tracer_of(pid_t pid, pid_t tid)
{
	char path[96], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	p = strstr(buf, "TracerPid:");
	assert_non_null(p);
	return atoi(p + strlen("TracerPid:"));
}

/* ---- the write-protection child ---------------------------------------------- */

enum op {
	OP_WRITE = 1,		/* write pages addr + idx[i] * PAGE, reply their addresses */
	OP_WRITE_STRIDE,	/* write n pages, every stride-th from addr */
	OP_READ_INTO,		/* read(2) len bytes from the data pipe to addr */
	OP_MMAP,		/* new private anonymous mapping of len, filled */
	OP_MREMAP,		/* move [addr, addr + len) onto the reservation */
	OP_MAP_FIXED,		/* new mapping over [addr, addr + len), untouched */
	OP_MUNMAP,
};

struct cmd {
	uint32_t op, n, stride;
	uint64_t addr, len;
	uint32_t idx[MAX_IDX];
};

struct reply {
	int64_t ret;
	uint32_t n;
	uint64_t addr[MAX_IDX];
};

struct ready {
	uint64_t region, heap, reserve;
};

static void *map_anon(void *addr, size_t len, int prot, int flags)
{
	return mmap(addr, len, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Runs in the child: never returns, never uses cmocka. */
static void __attribute__((noreturn)) wp_child(int cmd_fd, int reply_fd, int data_fd)
{
	volatile char *region;
	struct ready rd;
	struct cmd c;
	char *heap;

	region = map_anon(NULL, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE, 0);
	if (region == MAP_FAILED)
		_exit(10);
	/* page-sized folios: one written byte is one page */
	madvise((void *)region, REGION_PAGES * PAGE, MADV_NOHUGEPAGE);
	memset((void *)region, 0, REGION_PAGES * PAGE);	/* pre-faulted */
	/* where mremap moves the region to */
	rd.reserve = (uintptr_t)map_anon(NULL, REGION_PAGES * PAGE, PROT_NONE, MAP_NORESERVE);
	heap = sbrk(4 * PAGE);	/* a real [heap] */
	if (heap == (void *)-1 || rd.reserve == (uintptr_t)MAP_FAILED)
		_exit(11);
	memset(heap, 1, 4 * PAGE);
	rd.region = (uintptr_t)region;
	rd.heap = (uintptr_t)heap;
	if (write_full(reply_fd, &rd, sizeof(rd)))
		_exit(12);

	while (!read_full(cmd_fd, &c, sizeof(c))) {
		struct reply r = { 0 };
		volatile char *p;
		void *m;

		switch (c.op) {
		case OP_WRITE:
			for (uint32_t i = 0; i < c.n && i < MAX_IDX; i++) {
				p = (volatile char *)(uintptr_t)(c.addr + c.idx[i] * PAGE);
				p[(i * 64) % PAGE] = i + 1;
				r.addr[r.n++] = (uintptr_t)p;
			}
			break;
		case OP_WRITE_STRIDE:
			for (uint32_t i = 0; i < c.n; i++) {
				p = (volatile char *)(uintptr_t)(c.addr + (uint64_t)i * c.stride * PAGE);
				*p = 7;
			}
			r.ret = c.n;
			break;
		case OP_READ_INTO:
			r.ret = read(data_fd, (void *)(uintptr_t)c.addr, c.len);
			if (r.ret < 0)
				r.ret = -errno;
			break;
		case OP_MMAP:
			m = map_anon(NULL, c.len, PROT_READ | PROT_WRITE, 0);
			if (m != MAP_FAILED) {
				madvise(m, c.len, MADV_NOHUGEPAGE);
				memset(m, 1, c.len);
			}
			r.addr[0] = (uintptr_t)m;
			break;
		case OP_MREMAP:
			m = mremap((void *)(uintptr_t)c.addr, c.len, c.len,
				   MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)rd.reserve);
			r.addr[0] = (uintptr_t)m;
			break;
		case OP_MAP_FIXED:
			m = map_anon((void *)(uintptr_t)c.addr, c.len, PROT_READ | PROT_WRITE,
				     MAP_FIXED);
			r.addr[0] = (uintptr_t)m;
			break;
		case OP_MUNMAP:
			r.ret = munmap((void *)(uintptr_t)c.addr, c.len) ? -errno : 0;
			break;
		default:
			_exit(13);
		}
		if (write_full(reply_fd, &r, sizeof(r)))
			_exit(14);
	}
	_exit(0);	/* our end of the command pipe closed */
}

struct fx {
	pid_t pid;
	int cmd, reply, data;	/* parent's ends */
	struct ready rd;
	struct rw_wp *wp;
};

struct regions {
	struct {
		uint64_t start, end;
	} *r;
	size_t n, cap;
};

static void collect(void *ctx, uint64_t start, uint64_t end)
{
	struct regions *rg = ctx;

	if (rg->n == rg->cap) {
		rg->cap = rg->cap ? rg->cap * 2 : 256;
		rg->r = realloc(rg->r, rg->cap * sizeof(*rg->r));
		assert_non_null(rg->r);
	}
	rg->r[rg->n].start = start;
	rg->r[rg->n].end = end;
	rg->n++;
}

/* wp_scan, checking what any scan must satisfy. */
static long scan(struct fx *f, bool rearm, struct regions *rg)
{
	uint64_t pages = 0;
	long n;

	rg->n = 0;
	n = wp_scan(f->wp, rearm, collect, rg);
	assert_true(n >= 0);
	for (size_t i = 0; i < rg->n; i++) {
		assert_true(rg->r[i].start < rg->r[i].end);
		assert_int_equal(rg->r[i].start % PAGE, 0);
		assert_int_equal(rg->r[i].end % PAGE, 0);
		/* ascending, and adjacent regions merged */
		if (i)
			assert_true(rg->r[i - 1].end < rg->r[i].start);
		pages += (rg->r[i].end - rg->r[i].start) / PAGE;
	}
	assert_int_equal(pages, n);
	return n;
}

/* The reported pages inside [lo, hi), ascending. */
static size_t pages_in(const struct regions *rg, uint64_t lo, uint64_t hi, uint64_t *out,
		       size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < rg->n; i++)
		for (uint64_t a = rg->r[i].start; a < rg->r[i].end; a += PAGE)
			if (a >= lo && a < hi) {
				assert_true(n < max);
				out[n++] = a;
			}
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sort and deduplicate; returns the new count. */
static size_t uniq(uint64_t *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

static struct reply command(struct fx *f, const struct cmd *c)
{
	struct reply r;

	assert_int_equal(write_full(f->cmd, c, sizeof(*c)), 0);
	assert_int_equal(read_full(f->reply, &r, sizeof(r)), 0);
	return r;
}

static struct reply write_pages(struct fx *f, uint64_t base, const uint32_t *idx, uint32_t n)
{
	struct cmd c = { .op = OP_WRITE, .n = n, .addr = base };

	assert_true(n <= MAX_IDX);
	memcpy(c.idx, idx, n * sizeof(*idx));
	return command(f, &c);
}

/* Exactly the pages base + idx[] * PAGE were reported in [base, base + npages * PAGE). */
static void expect_pages(const struct regions *rg, uint64_t base, size_t npages,
			 const uint32_t *idx, size_t n)
{
	uint64_t want[MAX_IDX], got[4 * REGION_PAGES];
	size_t nw, ng;

	assert_true(n <= MAX_IDX);
	for (size_t i = 0; i < n; i++)
		want[i] = base + idx[i] * PAGE;
	nw = uniq(want, n);
	ng = pages_in(rg, base, base + npages * PAGE, got, sizeof(got) / sizeof(got[0]));
	assert_int_equal(ng, nw);
	for (size_t i = 0; i < nw; i++)
		assert_int_equal(got[i], want[i]);
}

static void sync_maps(struct fx *f, int *added)
{
	struct rw_maps maps = { 0 };
	int n;

	assert_int_equal(proc_read_maps(f->pid, &maps), 0);
	n = wp_sync(f->wp, &maps);
	proc_maps_free(&maps);
	assert_true(n >= 0);
	if (added)
		*added = n;
}

static int setup_child(void **state)
{
	int cmd[2], reply[2], data[2], added;
	struct regions rg = { 0 };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pipe2(cmd, O_CLOEXEC), 0);
	assert_int_equal(pipe2(reply, O_CLOEXEC), 0);
	assert_int_equal(pipe2(data, O_CLOEXEC), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(cmd[1]);
		close(reply[0]);
		close(data[1]);
		wp_child(cmd[0], reply[1], data[0]);
	}
	close(cmd[0]);
	close(reply[1]);
	close(data[0]);
	f->cmd = cmd[1];
	f->reply = reply[0];
	f->data = data[1];
	*state = f;
	assert_int_equal(read_full(f->reply, &f->rd, sizeof(f->rd)), 0);

	/* The child is blocked reading its next command when we take it over. */
	assert_int_equal(wp_open(&f->wp, f->pid), 0);
	assert_non_null(f->wp);
	assert_false(wp_covers(f->wp, f->rd.region));	/* nothing registered yet */
	sync_maps(f, &added);
	assert_true(added >= 3);	/* region, heap, stack at least */
	for (int i = 0; i < REGION_PAGES; i++)
		assert_true(wp_covers(f->wp, f->rd.region + i * PAGE));
	assert_true(wp_covers(f->wp, f->rd.heap));
	assert_false(wp_covers(f->wp, f->rd.reserve));	/* PROT_NONE */
	/* A second sync finds nothing new. */
	sync_maps(f, &added);
	assert_int_equal(added, 0);
	/* Freshly protected: the region is clean. */
	scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, NULL, 0);
	free(rg.r);
	return 0;
}

static int teardown_child(void **state)
{
	struct fx *f = *state;
	int status;

	if (!f)
		return 0;
	wp_close(f->wp);
	/* EOF on its command pipe ends the child, wherever it is waiting. */
	close(f->cmd);
	close(f->reply);
	close(f->data);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	free(f);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return 0;
}

/* ---- write-protection tests --------------------------------------------- */

static void exact_pages(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	uint32_t idx[MAX_IDX], idx2[5], n = 0, k = 0;
	uint64_t addrs[MAX_IDX];
	bool in1[REGION_PAGES] = { false };
	struct reply r;
	long total;

	/* 37 distinct pages, 8 of them written twice. */
	for (uint32_t i = 0; i < 37; i++) {
		idx[n] = (i * 7 + 3) % REGION_PAGES;
		in1[idx[n++]] = true;
	}
	for (uint32_t i = 0; i < 8; i++)
		idx[n++] = idx[i * 4];
	r = write_pages(f, f->rd.region, idx, n);
	assert_int_equal(r.n, 45);
	memcpy(addrs, r.addr, sizeof(addrs));
	assert_int_equal(uniq(addrs, r.n), 37);
	total = scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, idx, n);
	/* ...and they are the very addresses the child wrote */
	{
		uint64_t got[REGION_PAGES];

		assert_int_equal(pages_in(&rg, f->rd.region, f->rd.region + REGION_PAGES * PAGE,
					  got, REGION_PAGES), 37);
		assert_memory_equal(got, addrs, 37 * sizeof(uint64_t));
	}
	/* the child's stack and others were written too */
	assert_true(total > 37);

	/* Re-armed by that scan: 3 pages written again plus 2 new ones give 5. */
	idx2[k++] = idx[0];
	idx2[k++] = idx[1];
	idx2[k++] = idx[2];
	for (uint32_t p = 0; p < REGION_PAGES && k < 5; p++)
		if (!in1[p])
			idx2[k++] = p;
	write_pages(f, f->rd.region, idx2, 5);
	scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, idx2, 5);

	/* Nothing written since: nothing in the region. */
	scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, NULL, 0);

	/* Without rearm the written page stays written. */
	write_pages(f, f->rd.region, (uint32_t[]){ 33 }, 1);
	scan(f, false, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, (uint32_t[]){ 33 }, 1);
	scan(f, false, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, (uint32_t[]){ 33 }, 1);
	scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, (uint32_t[]){ 33 }, 1);
	scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, NULL, 0);
	free(rg.r);
}

/* read(2) into the region: the kernel's copy_to_user is a write too. */
static void kernel_write(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	const char msg[16] = "kernel-was-here";
	uint64_t dst = f->rd.region + 50 * PAGE + 100;
	struct cmd c = { .op = OP_READ_INTO, .addr = dst, .len = sizeof(msg) };
	char back[sizeof(msg)];
	struct iovec local = { back, sizeof(back) }, remote = { (void *)(uintptr_t)dst, sizeof(back) };
	struct reply r;

	assert_int_equal(write_full(f->data, msg, sizeof(msg)), 0);
	r = command(f, &c);
	assert_int_equal(r.ret, sizeof(msg));
	scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, (uint32_t[]){ 50 }, 1);
	/* Reading it back does not count as a write. */
	assert_int_equal(process_vm_readv(f->pid, &local, 1, &remote, 1, 0), sizeof(back));
	assert_memory_equal(back, msg, sizeof(msg));
	scan(f, true, &rg);
	expect_pages(&rg, f->rd.region, REGION_PAGES, NULL, 0);
	free(rg.r);
}

static void new_mapping_needs_sync(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	struct cmd c = { .op = OP_MMAP, .len = 8 * PAGE };
	uint64_t m;
	int added;

	m = command(f, &c).addr[0];
	assert_true(m != (uint64_t)(uintptr_t)MAP_FAILED);
	assert_false(wp_covers(f->wp, m));
	assert_false(wp_covers(f->wp, m + 7 * PAGE));
	/* Written (filled) but not covered: not reported. */
	scan(f, true, &rg);
	expect_pages(&rg, m, 8, NULL, 0);

	sync_maps(f, &added);
	assert_true(added >= 1);
	assert_true(wp_covers(f->wp, m));
	assert_true(wp_covers(f->wp, m + 7 * PAGE));
	scan(f, true, &rg);
	expect_pages(&rg, m, 8, NULL, 0);	/* filled before it was armed */
	write_pages(f, m, (uint32_t[]){ 2, 5 }, 2);
	scan(f, true, &rg);
	expect_pages(&rg, m, 8, (uint32_t[]){ 2, 5 }, 2);
	free(rg.r);
}

/*
 * wp_sync_within learns and arms only within its spans: a mapping outside
 * them stays unknown, an unmapped part inside them is forgotten, and what
 * was registered elsewhere is kept.
 */
static void sync_within_spans(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	struct rw_ranges spans = { 0 };
	struct rw_maps maps = { 0 };
	struct cmd c = { .op = OP_MMAP, .len = 8 * PAGE };
	uint64_t inside, outside, cut = f->rd.region + 8 * PAGE;

	inside = command(f, &c).addr[0];
	outside = command(f, &c).addr[0];
	assert_true(inside != (uint64_t)(uintptr_t)MAP_FAILED);
	assert_true(outside != (uint64_t)(uintptr_t)MAP_FAILED);
	c = (struct cmd){ .op = OP_MUNMAP, .addr = cut, .len = 2 * PAGE };
	assert_int_equal(command(f, &c).ret, 0);

	assert_int_equal(ranges_insert(&spans, inside, inside + 8 * PAGE), 0);
	assert_int_equal(ranges_insert(&spans, cut, cut + 2 * PAGE), 0);
	assert_int_equal(proc_read_maps(f->pid, &maps), 0);
	assert_int_equal(wp_sync_within(f->wp, &maps, &spans), 1);	/* inside only */
	proc_maps_free(&maps);
	ranges_free(&spans);

	assert_true(wp_covers(f->wp, inside));
	assert_true(wp_covers(f->wp, inside + 7 * PAGE));
	assert_false(wp_covers(f->wp, outside));
	assert_false(wp_covers(f->wp, cut));
	assert_false(wp_covers(f->wp, cut + PAGE));
	assert_true(wp_covers(f->wp, f->rd.region));
	assert_true(wp_covers(f->wp, cut + 2 * PAGE));
	assert_true(wp_covers(f->wp, f->rd.heap));
	assert_false(wp_unsynced(f->wp));

	/* What it armed reports its writes; what it left alone does not. */
	scan(f, true, &rg);
	expect_pages(&rg, inside, 8, NULL, 0);
	write_pages(f, inside, (uint32_t[]){ 3 }, 1);
	write_pages(f, outside, (uint32_t[]){ 4 }, 1);
	write_pages(f, f->rd.region, (uint32_t[]){ 12 }, 1);
	scan(f, true, &rg);
	expect_pages(&rg, inside, 8, (uint32_t[]){ 3 }, 1);
	expect_pages(&rg, outside, 8, NULL, 0);
	expect_pages(&rg, f->rd.region, 8, NULL, 0);
	expect_pages(&rg, cut + 2 * PAGE, REGION_PAGES - 10, (uint32_t[]){ 2 }, 1);
	free(rg.r);
}

/* mremap drops the registration of the moved range; wp_sync arms it again. */
static void mremap_resync(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	struct cmd c = { .op = OP_MREMAP, .addr = f->rd.region, .len = REGION_PAGES * PAGE };
	uint64_t moved;
	int added;

	moved = command(f, &c).addr[0];
	assert_int_equal(moved, f->rd.reserve);
	assert_false(wp_covers(f->wp, moved));
	write_pages(f, moved, (uint32_t[]){ 1 }, 1);
	scan(f, true, &rg);
	expect_pages(&rg, moved, REGION_PAGES, NULL, 0);	/* not covered */

	sync_maps(f, &added);
	assert_true(added >= 1);
	assert_true(wp_covers(f->wp, moved));
	assert_true(wp_covers(f->wp, moved + (REGION_PAGES - 1) * PAGE));
	assert_false(wp_covers(f->wp, f->rd.region));	/* gone from there */
	scan(f, true, &rg);
	expect_pages(&rg, moved, REGION_PAGES, NULL, 0);
	write_pages(f, moved, (uint32_t[]){ 4, 40 }, 2);
	scan(f, true, &rg);
	expect_pages(&rg, moved, REGION_PAGES, (uint32_t[]){ 4, 40 }, 2);
	free(rg.r);
}

/*
 * A mapping replaced in the middle of a registered range splits it; the
 * scan notices the lost part, reports it whole and forgets it; a sync arms
 * it again (the vmas may merge back). munmap of one page splits it too.
 */
static void replaced_and_split(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	uint64_t base = f->rd.region;
	struct cmd c = { .op = OP_MAP_FIXED, .addr = base + 8 * PAGE, .len = 8 * PAGE };
	uint32_t lost[8];
	int added;

	assert_int_equal(command(f, &c).addr[0], base + 8 * PAGE);
	assert_true(wp_covers(f->wp, base + 8 * PAGE));	/* not known yet */
	write_pages(f, base, (uint32_t[]){ 3 }, 1);
	scan(f, true, &rg);
	for (int i = 0; i < 8; i++)
		lost[i] = 8 + i;
	{
		uint32_t want[9] = { 3 };

		memcpy(&want[1], lost, sizeof(lost));
		expect_pages(&rg, base, REGION_PAGES, want, 9);
	}
	assert_false(wp_covers(f->wp, base + 8 * PAGE));
	assert_false(wp_covers(f->wp, base + 15 * PAGE));
	assert_true(wp_covers(f->wp, base + 7 * PAGE));
	assert_true(wp_covers(f->wp, base + 16 * PAGE));
	/* Forgotten: not reported again. */
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, NULL, 0);

	sync_maps(f, &added);
	assert_true(added >= 1);
	for (int i = 0; i < REGION_PAGES; i++)
		assert_true(wp_covers(f->wp, base + i * PAGE));
	write_pages(f, base, (uint32_t[]){ 9, 20 }, 2);
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, (uint32_t[]){ 9, 20 }, 2);

	c = (struct cmd){ .op = OP_MUNMAP, .addr = base + 30 * PAGE, .len = PAGE };
	assert_int_equal(command(f, &c).ret, 0);
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, NULL, 0);
	sync_maps(f, &added);
	assert_int_equal(added, 0);
	assert_false(wp_covers(f->wp, base + 30 * PAGE));
	assert_true(wp_covers(f->wp, base + 29 * PAGE));
	assert_true(wp_covers(f->wp, base + 31 * PAGE));
	write_pages(f, base, (uint32_t[]){ 29, 31 }, 2);
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, (uint32_t[]){ 29, 31 }, 2);
	free(rg.r);
}

/*
 * Re-protecting after a restore, over a range part of which lost its
 * registration since it was learnt (mmap MAP_FIXED over it): the registered
 * parts are protected, the rest is forgotten until the next sync (the
 * kernel answers ENOENT for the whole range: a rewind used to fail on it).
 */
static void protect_lost_part(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	uint64_t base = f->rd.region;
	struct cmd c = { .op = OP_MAP_FIXED, .addr = base + 8 * PAGE, .len = 8 * PAGE };

	write_pages(f, base, (uint32_t[]){ 3, 20 }, 2);
	assert_int_equal(command(f, &c).addr[0], base + 8 * PAGE);
	assert_true(wp_covers(f->wp, base + 8 * PAGE));	/* not known yet */
	assert_false(wp_unsynced(f->wp));
	assert_int_equal(wp_protect(f->wp, base, base + REGION_PAGES * PAGE), 0);
	assert_false(wp_covers(f->wp, base + 8 * PAGE));
	assert_false(wp_covers(f->wp, base + 15 * PAGE));
	assert_true(wp_covers(f->wp, base + 7 * PAGE));
	assert_true(wp_covers(f->wp, base + 16 * PAGE));
	assert_true(wp_unsynced(f->wp));
	/* 3 and 20 protected again, on both sides of the lost part; 9 is not covered. */
	write_pages(f, base, (uint32_t[]){ 9, 40 }, 2);
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, (uint32_t[]){ 40 }, 1);

	sync_maps(f, NULL);
	assert_false(wp_unsynced(f->wp));
	for (int i = 0; i < REGION_PAGES; i++)
		assert_true(wp_covers(f->wp, base + i * PAGE));
	write_pages(f, base, (uint32_t[]){ 10 }, 1);
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, (uint32_t[]){ 10 }, 1);
	free(rg.r);
}

static void register_unregister(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	uint64_t base = f->rd.region;

	assert_int_equal(wp_unregister(f->wp, base + 4 * PAGE, base + 8 * PAGE), 0);
	assert_false(wp_covers(f->wp, base + 4 * PAGE));
	assert_false(wp_covers(f->wp, base + 7 * PAGE));
	assert_true(wp_covers(f->wp, base + 3 * PAGE));
	assert_true(wp_covers(f->wp, base + 8 * PAGE));
	write_pages(f, base, (uint32_t[]){ 2, 5 }, 2);
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, (uint32_t[]){ 2 }, 1);

	assert_int_equal(wp_register(f->wp, base + 4 * PAGE, base + 8 * PAGE), 0);
	for (int i = 0; i < REGION_PAGES; i++)
		assert_true(wp_covers(f->wp, base + i * PAGE));
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, NULL, 0);
	write_pages(f, base, (uint32_t[]){ 5 }, 1);
	scan(f, true, &rg);
	expect_pages(&rg, base, REGION_PAGES, (uint32_t[]){ 5 }, 1);

	/* Unmapped (the PROT_NONE reservation is mapped, past it is not ours), misaligned. */
	assert_int_equal(wp_register(f->wp, base + 1, base + PAGE), -EINVAL);
	assert_int_equal(wp_register(f->wp, base + PAGE, base + PAGE), -EINVAL);
	assert_true(wp_register(f->wp, 0x1000, 0x2000) < 0);
	assert_false(wp_covers(f->wp, 0x1000));
	free(rg.r);
}

/* More written regions than one PAGEMAP_SCAN call returns (512). */
static void many_regions(void **state)
{
	struct fx *f = *state;
	struct regions rg = { 0 };
	const uint32_t npages = 2048;
	struct cmd c = { .op = OP_MMAP, .len = npages * PAGE };
	uint64_t m;
	size_t in = 0;

	m = command(f, &c).addr[0];
	sync_maps(f, NULL);
	scan(f, true, &rg);
	c = (struct cmd){ .op = OP_WRITE_STRIDE, .addr = m, .n = npages / 2, .stride = 2 };
	assert_int_equal(command(f, &c).ret, npages / 2);
	scan(f, true, &rg);
	for (size_t i = 0; i < rg.n; i++) {
		if (rg.r[i].start < m || rg.r[i].start >= m + npages * PAGE)
			continue;
		/* every other page: 1024 one-page regions, none merged */
		assert_int_equal(rg.r[i].start, m + in * 2 * PAGE);
		assert_int_equal(rg.r[i].end, rg.r[i].start + PAGE);
		in++;
	}
	assert_int_equal(in, npages / 2);
	scan(f, true, &rg);
	expect_pages(&rg, m, npages, NULL, 0);
	free(rg.r);
}

/* wp_close() leaves the target unregistered. */
static void close_unregisters(void **state)
{
	struct fx *f = *state;
	struct rw_maps maps = { 0 };

	wp_close(f->wp);
	f->wp = NULL;
	assert_int_equal(wp_open(&f->wp, f->pid), 0);
	assert_int_equal(proc_read_maps(f->pid, &maps), 0);
	assert_int_equal(wp_refresh(f->wp, &maps), 0);
	proc_maps_free(&maps);
	assert_false(wp_covers(f->wp, f->rd.region));
	assert_false(wp_covers(f->wp, f->rd.heap));
}

static void dead_target(void **state)
{
	struct rw_wp *wp = (struct rw_wp *)&wp;	/* must come back NULL */
	struct rw_seized ij;
	siginfo_t si;
	pid_t pid;

	/* reaped */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(wp_open(&wp, pid), -ESRCH);
	assert_null(wp);
	assert_int_equal(inject_seize(&ij, pid), -ESRCH);
	assert_false(ij.seized);
	assert_int_equal(inject_release(&ij), 0);

	/* a zombie */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
	wp = (struct rw_wp *)&wp;
	assert_int_equal(wp_open(&wp, pid), -ESRCH);
	assert_null(wp);
	assert_int_equal(inject_seize(&ij, pid), -ESRCH);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	wp_close(NULL);
}

/* ---- injection tests ---------------------------------------------------- */

static int inj_cmd, inj_reply;

struct read_result {
	int64_t ret;
	int32_t err;
	char buf[8];
};

static void *reader_thread(void *arg)
{
	struct read_result res = { 0 };
	pid_t tid = gettid();

	if (write_full(inj_reply, &tid, sizeof(tid)))
		_exit(20);
	res.ret = read(inj_cmd, res.buf, 5);
	res.err = res.ret < 0 ? errno : 0;
	if (write_full(inj_reply, &res, sizeof(res)))
		_exit(21);
	/* Right away: with the main thread gone, a normal exit trips LSan on its leftovers. */
	_exit(0);
}

static pid_t spawn(void (*fn)(void), int *cmd_end, int *reply_end)
{
	int cmd[2], reply[2];
	pid_t pid = fork_piped(cmd, reply);

	if (pid == 0) {
		close(cmd[1]);
		close(reply[0]);
		inj_cmd = cmd[0];
		inj_reply = reply[1];
		fn();
		_exit(0);
	}
	close(cmd[0]);
	close(reply[1]);
	*cmd_end = cmd[1];
	*reply_end = reply[0];
	return pid;
}

static void reap(pid_t pid, int cmd, int reply)
{
	int status;

	close(cmd);
	close(reply);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void threaded_reader(void)
{
	pthread_t th;

	if (pthread_create(&th, NULL, reader_thread, NULL))
		_exit(22);
	pthread_join(th, NULL);	/* the reader ends the process */
	_exit(29);
}

/* A (non-main) thread blocked in read(2) when seized still gets its data after. */
static void inject_blocked_read(void **state)
{
	struct rw_seized ij;
	struct read_result res;
	long args[6] = { 0 }, ret;
	int cmd, reply;
	pid_t pid, tid;

	pid = spawn(threaded_reader, &cmd, &reply);
	assert_int_equal(read_full(reply, &tid, sizeof(tid)), 0);
	assert_true(tid != pid);
	wait_in_syscall(pid, tid, SYS_read);

	assert_int_equal(inject_seize(&ij, tid), 0);
	assert_true(ij.seized);
	assert_int_equal(tracer_of(pid, tid), getpid());
	/* interrupted inside read(2), to be restarted */
	assert_int_equal(ij.saved.orig_rax, SYS_read);
	assert_int_equal((long)ij.saved.rax, -ERESTARTSYS);
	assert_int_equal(inject_syscall(&ij, SYS_getpid, args, &ret), 0);
	assert_int_equal(ret, pid);
	assert_true(ij.syscall_ip != 0);
	assert_int_equal(inject_syscall(&ij, SYS_gettid, args, &ret), 0);
	assert_int_equal(ret, tid);
	args[0] = -1;
	assert_int_equal(inject_syscall(&ij, SYS_close, args, &ret), 0);
	assert_int_equal(ret, -EBADF);
	assert_int_equal(inject_release(&ij), 0);
	assert_false(ij.seized);
	assert_int_equal(tracer_of(pid, tid), 0);

	/* back in read(2), not returned with -ERESTARTSYS */
	wait_in_syscall(pid, tid, SYS_read);
	assert_int_equal(write_full(cmd, "hello", 5), 0);
	assert_int_equal(read_full(reply, &res, sizeof(res)), 0);
	assert_int_equal(res.ret, 5);
	assert_memory_equal(res.buf, "hello", 5);
	reap(pid, cmd, reply);
}

static void poller(void)
{
	struct pollfd p = { .fd = inj_cmd, .events = POLLIN };
	struct read_result res = { 0 };

	/* poll with a timeout restarts through restart_syscall(2) */
	res.ret = poll(&p, 1, 3600 * 1000);
	res.err = res.ret < 0 ? errno : p.revents;
	if (write_full(inj_reply, &res, sizeof(res)))
		_exit(23);
}

static void inject_blocked_poll(void **state)
{
	struct rw_seized ij;
	struct read_result res;
	long args[6] = { 0 }, ret;
	int cmd, reply;
	pid_t pid;

	pid = spawn(poller, &cmd, &reply);
	wait_in_syscall(pid, pid, SYS_poll);
	assert_int_equal(inject_seize(&ij, pid), 0);
	assert_int_equal(ij.saved.orig_rax, SYS_poll);
	assert_int_equal((long)ij.saved.rax, -ERESTART_RESTARTBLOCK);
	assert_int_equal(inject_syscall(&ij, SYS_getppid, args, &ret), 0);
	assert_int_equal(ret, getpid());
	assert_int_equal(inject_release(&ij), 0);
	wait_in_syscall(pid, pid, SYS_restart_syscall);
	assert_int_equal(write_full(cmd, "x", 1), 0);
	assert_int_equal(read_full(reply, &res, sizeof(res)), 0);
	assert_int_equal(res.ret, 1);
	assert_int_equal(res.err, POLLIN);
	reap(pid, cmd, reply);
}

static void on_usr1(int sig)
{
	char c = 'S';

	if (write(inj_reply, &c, 1) != 1)
		_exit(24);
}

static void signalled_reader(bool restart)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };
	struct read_result res = { 0 };

	if (sigaction(SIGUSR1, &sa, NULL))
		_exit(25);
	res.ret = read(inj_cmd, res.buf, 5);
	res.err = res.ret < 0 ? errno : 0;
	if (write_full(inj_reply, &res, sizeof(res)))
		_exit(26);
}

static void restarting_reader(void)
{
	signalled_reader(true);
}

static void interrupted_reader(void)
{
	signalled_reader(false);
}

/*
 * A signal sent while we hold the thread is delivered, not lost, with the
 * thread's own registers: the handler runs, and read(2) restarts or fails
 * with EINTR as SA_RESTART says.
 */
static void signal_during_injection(bool restart)
{
	struct rw_seized ij;
	struct read_result res;
	long args[6] = { 0 }, ret;
	int cmd, reply;
	pid_t pid;
	char c;

	pid = spawn(restart ? restarting_reader : interrupted_reader, &cmd, &reply);
	wait_in_syscall(pid, pid, SYS_read);
	assert_int_equal(inject_seize(&ij, pid), 0);
	assert_int_equal(syscall(SYS_tgkill, pid, pid, SIGUSR1), 0);
	assert_int_equal(inject_syscall(&ij, SYS_getpid, args, &ret), 0);
	assert_int_equal(ret, pid);
	/* Delivered on the way: the thread now stands at its handler's entry. */
	assert_int_equal(ij.saved.rip, (uintptr_t)on_usr1);
	assert_int_equal(ij.saved.rdi, SIGUSR1);
	assert_int_equal(inject_syscall(&ij, SYS_getppid, args, &ret), 0);
	assert_int_equal(ret, getpid());
	assert_int_equal(inject_release(&ij), 0);

	assert_int_equal(read_full(reply, &c, 1), 0);
	assert_int_equal(c, 'S');
	if (restart) {
		wait_in_syscall(pid, pid, SYS_read);
		assert_int_equal(write_full(cmd, "world", 5), 0);
		assert_int_equal(read_full(reply, &res, sizeof(res)), 0);
		assert_int_equal(res.ret, 5);
		assert_memory_equal(res.buf, "world", 5);
	} else {
		assert_int_equal(read_full(reply, &res, sizeof(res)), 0);
		assert_int_equal(res.ret, -1);
		assert_int_equal(res.err, EINTR);
	}
	reap(pid, cmd, reply);
}

static void inject_signal_restart(void **state)
{
	signal_during_injection(true);
}

static void inject_signal_eintr(void **state)
{
	signal_during_injection(false);
}

/* Spin (yielding) until pid's main thread is in state; fail after 10 s. */
static void wait_state(pid_t pid, char state)
{
	struct rw_proc_status st;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		assert_int_equal(proc_read_status(pid, &st), 0);
		if (st.state == state)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			fail_msg("pid %d never reached state %c (is %c)", pid, state, st.state);
		sched_yield();
	}
}

static void plain_reader(void)
{
	struct read_result res = { 0 };

	res.ret = read(inj_cmd, res.buf, 5);
	res.err = res.ret < 0 ? errno : 0;
	if (write_full(inj_reply, &res, sizeof(res)))
		_exit(27);
}

/* A job-control-stopped process can be injected into and stays stopped after. */
static void inject_stopped_process(void **state)
{
	struct pollfd pfd;
	struct rw_seized ij;
	struct read_result res;
	long args[6] = { 0 }, ret;
	int cmd, reply, status;
	pid_t pid;

	pid = spawn(plain_reader, &cmd, &reply);
	wait_in_syscall(pid, pid, SYS_read);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));

	assert_int_equal(inject_seize(&ij, pid), 0);
	assert_int_equal(inject_syscall(&ij, SYS_getpid, args, &ret), 0);
	assert_int_equal(ret, pid);
	assert_int_equal(inject_release(&ij), 0);
	wait_state(pid, 'T');
	/* still stopped: data written now is not read yet */
	assert_int_equal(write_full(cmd, "later", 5), 0);
	pfd = (struct pollfd){ .fd = reply, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(read_full(reply, &res, sizeof(res)), 0);
	assert_int_equal(res.ret, 5);
	assert_memory_equal(res.buf, "later", 5);
	reap(pid, cmd, reply);
}

static void leader_exits(void)
{
	pthread_t th;

	if (pthread_create(&th, NULL, reader_thread, NULL))
		_exit(28);
	pthread_exit(NULL);	/* the process lives on in the reader */
}

/* wp_open works through another thread when the main one is a zombie. */
static void wp_open_zombie_leader(void **state)
{
	struct rw_maps maps = { 0 };
	struct read_result res;
	struct rw_wp *wp;
	int cmd, reply, added;
	pid_t pid, tid;
	ssize_t i;

	pid = spawn(leader_exits, &cmd, &reply);
	assert_int_equal(read_full(reply, &tid, sizeof(tid)), 0);
	wait_state(pid, 'Z');
	wait_in_syscall(pid, tid, SYS_read);
	assert_int_equal(wp_open(&wp, pid), 0);
	/* The zombie's own maps are empty: read them through the live thread. */
	assert_int_equal(proc_read_maps(pid, &maps), 0);
	assert_int_equal(maps.n, 0);
	assert_int_equal(proc_read_maps(tid, &maps), 0);
	assert_true(maps.n > 0);
	added = wp_sync(wp, &maps);
	assert_true(added >= 1);
	/* every private writable vma (but ASan's huge shadow) is covered */
	for (i = 0; i < (ssize_t)maps.n; i++)
		if (rw_vma_private_writable(&maps.v[i]) &&
		    maps.v[i].end - maps.v[i].start <= WP_SYNC_MAX_VMA)
			assert_true(wp_covers(wp, maps.v[i].start));
	proc_maps_free(&maps);
	wp_close(wp);
	wait_in_syscall(pid, tid, SYS_read);
	assert_int_equal(write_full(cmd, "alive", 5), 0);
	assert_int_equal(read_full(reply, &res, sizeof(res)), 0);
	assert_int_equal(res.ret, 5);
	assert_memory_equal(res.buf, "alive", 5);
	reap(pid, cmd, reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(exact_pages, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(kernel_write, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(new_mapping_needs_sync, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(sync_within_spans, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(mremap_resync, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(replaced_and_split, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(protect_lost_part, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(register_unregister, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(many_regions, setup_child, teardown_child),
		cmocka_unit_test_setup_teardown(close_unregisters, setup_child, teardown_child),
		cmocka_unit_test(dead_target),
		cmocka_unit_test(inject_blocked_read),
		cmocka_unit_test(inject_blocked_poll),
		cmocka_unit_test(inject_signal_restart),
		cmocka_unit_test(inject_signal_eintr),
		cmocka_unit_test(inject_stopped_process),
		cmocka_unit_test(wp_open_zombie_leader),
	};

	if (getenv("RW_DEBUG"))
		rw_log_level = RW_LOG_DEBUG;
	if (geteuid())
		fprintf(stderr, "test_wp needs root (ptrace, pidfd_getfd, pagemap)\n");
	/* A watchdog, not synchronisation: a hung ptrace dance fails the run. */
	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
