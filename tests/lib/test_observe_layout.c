// SPDX-License-Identifier: GPL-2.0-only
/*
 * observe_layout (the layout read only where the log's layout calls say it
 * can differ) against /proc/PID/maps read whole: a child lays out a fixed
 * set of mappings, its maps are taken as the checkpoint's, then it makes
 * one kind of layout change (a buffer mapped and unmapped, a mapping the
 * kernel merges into its neighbour, a split, a move, a shortened vma, a
 * name, the break grown, the store's mapping unmapped or left alone) and
 * reports the ranges its calls named, as the log would. The result must be
 * the maps read whole, vma for vma. The twin: a change whose range is
 * not reported is not seen, so it is the log that makes the result right.
 * And what observe_log_facts makes of brk and exec records.
 */
#include <linux/types.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "image.h"
#include "invocation.h"
#include "observe.h"
#include "observe_layout.h"
#include "pagemap.h"
#include "proc.h"
#include "procmap.h"
#include "rewind/events.h"
#include "rewind/syscalls.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif

#define PG	RW_PAGE_SIZE

enum change {
	CHURN,		/* a buffer mapped and unmapped: the layout is the checkpoint's */
	MERGE,		/* mapped right after A with A's protection: one vma with it */
	SPLIT,		/* mprotect inside A */
	MOVE,		/* mremap of D elsewhere */
	SHORTEN,	/* munmap of B's tail */
	NAME,		/* part of D named */
	BRK,		/* the break grown */
	STORE_GONE,	/* our mapping unmapped */
	STORE_KEPT,	/* a call over our mapping that leaves it as it was */
	UNLOGGED,	/* SPLIT, its range not reported */
};

/* What the child reports: the base, the break, our memfd's identity, then the ranges. */
struct layout_base {
	uint64_t base, brk;
	dev_t store_dev;
	ino_t store_ino;
};

#define NRANGES_MAX	4
struct layout_change {
	uint64_t n, brk;	/* brk: what brk returned, 0 if not called */
	struct rw_range r[NRANGES_MAX];
	int named;		/* PR_SET_VMA worked */
};

/*
 * Base + pages: A [0, 8) rw, B [16, 24) r, the store's stand-in [32, 36)
 * (a read-only shared memfd, as image.c maps it), D [40, 48) rw.
 */
static uint64_t lay_out(int *memfd)
{
	char *r = mmap(NULL, 64 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t b = (uintptr_t)r;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

	if (r == MAP_FAILED || munmap(r, 64 * PG))
		_exit(2);
	*memfd = memfd_create("rw-test-store", MFD_CLOEXEC);
	if (*memfd < 0 || ftruncate(*memfd, 4 * PG) ||
	    mmap(r, 8 * PG, PROT_READ | PROT_WRITE, flags, -1, 0) == MAP_FAILED ||
	    mmap(r + 16 * PG, 8 * PG, PROT_READ, flags, -1, 0) == MAP_FAILED ||
	    mmap(r + 32 * PG, 4 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, *memfd, 0) == MAP_FAILED ||
	    mmap(r + 40 * PG, 8 * PG, PROT_READ | PROT_WRITE, flags, -1, 0) == MAP_FAILED)
		_exit(2);
	/* Written, so the anonymous vmas hold pages (and an anon_vma) as a function's do. */
	r[0] = r[40 * PG] = 1;
	return b;
}

static void add(struct layout_change *c, uint64_t addr, uint64_t len)
{
	c->r[c->n++] = (struct rw_range){ addr, addr + len };
}

static void child_main(void)
{
	struct layout_base lb;
	struct layout_change c = { 0 };
	struct stat st;
	int memfd, what;
	char *b, *p;

	lb.base = lay_out(&memfd);
	b = (char *)(uintptr_t)lb.base;
	lb.brk = (uintptr_t)sbrk(0);
	if (fstat(memfd, &st))
		_exit(2);
	lb.store_dev = st.st_dev;
	lb.store_ino = st.st_ino;
	if (io_full(child_reply, &lb, sizeof(lb), true) ||
	    io_full(child_cmd, &what, sizeof(what), false))
		_exit(2);
	switch (what) {
	case CHURN:
		p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(2);
		p[0] = 1;
		add(&c, (uintptr_t)p, 16 * PG);
		if (munmap(p, 16 * PG))
			_exit(2);
		add(&c, (uintptr_t)p, 16 * PG);
		break;
	case MERGE:
		p = mmap(b + 8 * PG, 2 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != b + 8 * PG)
			_exit(2);
		p[0] = 1;	/* faulted: the window holds it */
		add(&c, (uintptr_t)p, 2 * PG);
		break;
	case SPLIT:
	case UNLOGGED:
		if (mprotect(b + 2 * PG, 2 * PG, PROT_READ))
			_exit(2);
		if (what == SPLIT)
			add(&c, (uintptr_t)b + 2 * PG, 2 * PG);
		break;
	case MOVE:
		p = mremap(b + 40 * PG, 8 * PG, 8 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, b + 52 * PG);
		if (p != b + 52 * PG)
			_exit(2);
		add(&c, (uintptr_t)b + 40 * PG, 8 * PG);
		add(&c, (uintptr_t)p, 8 * PG);
		break;
	case SHORTEN:
		if (munmap(b + 22 * PG, 2 * PG))
			_exit(2);
		add(&c, (uintptr_t)b + 22 * PG, 2 * PG);
		break;
	case NAME:
		c.named = !prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, b + 42 * PG, 2 * PG, "rw-test");
		add(&c, (uintptr_t)b + 42 * PG, 2 * PG);
		break;
	case BRK:
		p = sbrk(64 * 1024);
		if (p == (void *)-1)
			_exit(2);
		c.brk = (uintptr_t)sbrk(0);
		break;
	case STORE_GONE:
		if (munmap(b + 32 * PG, 4 * PG))
			_exit(2);
		add(&c, (uintptr_t)b + 32 * PG, 4 * PG);
		break;
	case STORE_KEPT:
		if (mprotect(b + 32 * PG, 4 * PG, PROT_READ))
			_exit(2);
		add(&c, (uintptr_t)b + 32 * PG, 4 * PG);
		break;
	}
	if (io_full(child_reply, &c, sizeof(c), true))
		_exit(2);
	/* Until the test has looked: EOF on the command pipe. */
	while (read(child_cmd, &what, 1) > 0)
		;
	_exit(0);
}

static bool same_maps(const struct rw_maps *a, const struct rw_maps *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct rw_vma *x = &a->v[i], *y = &b->v[i];

		if (x->start != y->start || x->end != y->end || x->prot != y->prot ||
		    x->shared != y->shared || x->offset != y->offset || x->inode != y->inode ||
		    x->dev_major != y->dev_major || x->dev_minor != y->dev_minor ||
		    strcmp(x->name, y->name))
			return false;
	}
	return true;
}

/* A checkpoint of the child as observe_layout reads one: its maps, break, our mapping. */
struct fixture {
	pid_t pid;
	int cmd, reply;
	struct layout_base lb;
	struct rw_proc_image img;
};

static void start(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->pid = child_fork(child_main, &fx->cmd, &fx->reply);
	assert_int_equal(io_full(fx->reply, &fx->lb, sizeof(fx->lb), false), 0);
	fx->img.tgid = fx->pid;
	fx->img.store_fd = -1;
	fx->img.brk = fx->lb.brk;
	fx->img.tmap = fx->lb.base + 32 * PG;
	fx->img.store_len = 4 * PG;
	fx->img.tmap_dev = fx->lb.store_dev;
	fx->img.tmap_ino = fx->lb.store_ino;
	assert_int_equal(proc_read_maps(fx->pid, &fx->img.maps), 0);
	/* Ours is never in the checkpoint's layout. */
	assert_true(image_hide_tmap(&fx->img, &fx->img.maps));
	fx->img.maps_fd = procmap_open(fx->pid);
	assert_true(fx->img.maps_fd >= 0);
}

static void stop(struct fixture *fx)
{
	int status;

	close(fx->cmd);
	close(fx->reply);
	assert_int_equal(waitpid(fx->pid, &status, 0), fx->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	proc_maps_free(&fx->img.maps);
	close(fx->img.maps_fd);
}

/* Make the change; facts as the log would hold them. */
static void change(struct fixture *fx, enum change what, struct rw_log_facts *facts,
		   struct layout_change *c)
{
	int w = what;

	assert_int_equal(io_full(fx->cmd, &w, sizeof(w), true), 0);
	assert_int_equal(io_full(fx->reply, c, sizeof(*c), false), 0);
	memset(facts, 0, sizeof(*facts));
	for (uint64_t i = 0; i < c->n; i++)
		assert_int_equal(ranges_add(&facts->layout_touched, c->r[i].start, c->r[i].end), 0);
	ranges_normalize(&facts->layout_touched);
	if (c->brk) {
		facts->brk_called = true;
		facts->brk_lo = facts->brk_hi = c->brk;
	}
	if (what == MERGE)
		assert_int_equal(ranges_add(&facts->faulted, fx->lb.base + 8 * PG,
					    fx->lb.base + 9 * PG), 0);
}

/* What observe_layout said, and whether the child's change took. */
struct verdict {
	bool same, tmap_intact, named;
	uint64_t a_len;		/* the length of the vma at A's start, read whole */
};

/* observe_layout after the change against the maps read whole. */
static bool observed_as_read(enum change what, struct verdict *v)
{
	struct fixture fx;
	struct rw_log_facts facts;
	struct layout_change c;
	struct rw_layout_now now;
	struct rw_maps whole = { 0 };
	bool equal;

	start(&fx);
	change(&fx, what, &facts, &c);
	assert_int_equal(observe_layout(&fx.img, fx.img.maps_fd, &facts, &now), 0);
	assert_int_equal(proc_read_maps(fx.pid, &whole), 0);
	image_hide_tmap(&fx.img, &whole);
	equal = same_maps(now.same ? &fx.img.maps : &now.maps, &whole);
	v->same = now.same;
	v->tmap_intact = now.tmap_intact;
	v->named = c.named;
	v->a_len = proc_maps_find(&whole, fx.lb.base) >= 0 ?
		   whole.v[proc_maps_find(&whole, fx.lb.base)].end - fx.lb.base : 0;
	proc_maps_free(&whole);
	proc_maps_free(&now.maps);
	observe_log_facts_free(&facts);
	stop(&fx);
	return equal;
}

/* A kernel before 6.11 has no PROCMAP_QUERY: rewinds read the maps whole there. */
static void need_query(void)
{
	int fd = procmap_open(getpid());

	if (fd == -EOPNOTSUPP) {
		print_message("no PROCMAP_QUERY in this kernel (Linux 6.11)\n");
		skip();
	}
	assert_true(fd >= 0);
	close(fd);
}

static void test_churn_is_the_checkpoint(void **state)
{
	struct verdict v;

	(void)state;
	need_query();
	assert_true(observed_as_read(CHURN, &v));
	assert_true(v.same);
	assert_true(v.tmap_intact);
}

static void test_changes_read_where_named(void **state)
{
	static const enum change changes[] = { MERGE, SPLIT, MOVE, SHORTEN, BRK };
	struct verdict v;

	(void)state;
	need_query();
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		if (!observed_as_read(changes[i], &v))
			fail_msg("change %d: the layout observed is not the one read whole",
				 changes[i]);
		assert_false(v.same);
		assert_true(v.tmap_intact);
		/* The kernel did merge: the window had to widen past the range named. */
		if (changes[i] == MERGE)
			assert_int_equal(v.a_len, 10 * PG);
	}
}

static void test_name_read(void **state)
{
	struct verdict v;
	bool equal;

	(void)state;
	need_query();
	equal = observed_as_read(NAME, &v);
	if (!v.named) {
		print_message("PR_SET_VMA_ANON_NAME refused: a kernel without CONFIG_ANON_VMA_NAME\n");
		skip();
	}
	assert_true(equal);
	assert_false(v.same);
}

static void test_store_mapping(void **state)
{
	struct verdict v;

	(void)state;
	need_query();
	assert_true(observed_as_read(STORE_GONE, &v));
	assert_false(v.tmap_intact);
	assert_true(v.same);	/* without ours, the layout is the checkpoint's */
	assert_true(observed_as_read(STORE_KEPT, &v));
	assert_true(v.tmap_intact);
	assert_true(v.same);
}

/* The twin: a change the log does not name is not seen. */
static void test_unlogged_change_unseen(void **state)
{
	struct verdict v;

	(void)state;
	need_query();
	assert_false(observed_as_read(UNLOGGED, &v));
	assert_true(v.same);
}

/* What the log cannot bound is refused: the caller reads the maps whole. */
static void test_unbounded_refused(void **state)
{
	struct fixture fx;
	struct rw_log_facts facts;
	struct layout_change c;
	struct rw_layout_now now;

	(void)state;
	need_query();
	start(&fx);
	change(&fx, CHURN, &facts, &c);
	/* A write fault in no vma of the checkpoint nor a window (a stack grew; never mapped). */
	assert_int_equal(ranges_add(&facts.faulted, 0x10000, 0x11000), 0);
	assert_int_equal(observe_layout(&fx.img, fx.img.maps_fd, &facts, &now), -EAGAIN);
	observe_log_facts_free(&facts);
	memset(&facts, 0, sizeof(facts));
	for (uint64_t i = 0; i <= LAYOUT_WINDOWS_MAX; i++)
		assert_int_equal(ranges_add_apart(&facts.layout_touched,
						  fx.lb.base + (2 * i) * PG,
						  fx.lb.base + (2 * i + 1) * PG), 0);
	assert_int_equal(observe_layout(&fx.img, fx.img.maps_fd, &facts, &now), -EAGAIN);
	observe_log_facts_free(&facts);
	/* Without queries (a kernel before 6.11): a window cannot be read... */
	memset(&facts, 0, sizeof(facts));
	assert_int_equal(ranges_add(&facts.layout_touched, fx.lb.base, fx.lb.base + PG), 0);
	assert_int_equal(observe_layout(&fx.img, -1, &facts, &now), -EBADF);
	observe_log_facts_free(&facts);
	/* ...but no layout call needs none, and a fault outside the checkpoint is still refused. */
	memset(&facts, 0, sizeof(facts));
	assert_int_equal(observe_layout(&fx.img, -1, &facts, &now), 0);
	assert_true(now.same && now.tmap_intact);
	assert_int_equal(ranges_add(&facts.faulted, 0x10000, 0x11000), 0);
	assert_int_equal(observe_layout(&fx.img, -1, &facts, &now), -EAGAIN);
	observe_log_facts_free(&facts);
	stop(&fx);
}

/* What the log says of the break and of calls nothing bounds. */
static void test_log_facts_bound_the_break(void **state)
{
	static const uint64_t breaks[] = { 0x5000000, 0x4ff0000, 0x5010000 };
	struct rw_invocation *inv = invocation_new(1, 0);
	struct rw_syscall_event s = {
		.hdr = { .kind = RW_EV_SYSCALL, .session = 1, .tgid = 7, .tid = 7 },
		.nr = RW_NR_brk,
	};
	struct rw_task_event t = {
		.hdr = { .kind = RW_EV_TASK, .session = 1, .tgid = 7, .tid = 7 },
		.op = RW_TASK_EXEC, .pid = 7, .tgid = 7,
	};
	struct rw_log_facts facts;

	(void)state;
	assert_non_null(inv);
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		s.args[0] = s.ret = breaks[i];
		assert_int_equal(invocation_add_record(inv, &s, sizeof(s)), 0);
	}
	assert_int_equal(observe_log_facts(inv, 7, false, &facts), 0);
	assert_true(facts.brk_called);
	assert_false(facts.layout_unbounded);
	assert_int_equal(facts.brk_lo, 0x4ff0000);
	assert_int_equal(facts.brk_hi, 0x5010000);
	observe_log_facts_free(&facts);
	/* An exec: a new address space, which no range bounds. */
	assert_int_equal(invocation_add_record(inv, &t, sizeof(t)), 0);
	assert_int_equal(observe_log_facts(inv, 7, false, &facts), 0);
	assert_true(facts.layout_unbounded);
	observe_log_facts_free(&facts);
	invocation_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_churn_is_the_checkpoint),
		cmocka_unit_test(test_changes_read_where_named),
		cmocka_unit_test(test_name_read),
		cmocka_unit_test(test_store_mapping),
		cmocka_unit_test(test_unlogged_change_unseen),
		cmocka_unit_test(test_unbounded_refused),
		cmocka_unit_test(test_log_facts_bound_the_break),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
