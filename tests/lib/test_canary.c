// SPDX-License-Identifier: GPL-2.0-only
/*
 * The canary scanner against a real child process and real files (needs
 * root: process_vm_readv, PAGEMAP_SCAN, mounts). The child takes commands on
 * a pipe, plants a token where told and answers with the addresses; no
 * sleeps. The token is derived from the child's pid and a salt and written
 * byte by byte where it is planted, so the child holds no other copy of it:
 * a scan must report exactly the planted addresses.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "canary.h"
#include "child.h"
#include "fileio.h"
#include "log.h"
#include "proc.h"

#define PAGE		4096UL
#define MIB		(1UL << 20)
#define TOK_LEN		20	/* "tok_" and 16 hex digits */
/* Fixed places far from anything the child (or ASan's shadow) maps: nothing merges with them. */
#define ANON_ADDR	0x3f0000000000UL	/* 16 pages, private anonymous */
#define MEMFD_ADDR	0x3f0100000000UL	/* 4 pages of a memfd, shared */
#define BIG_ADDR	0x3f0200000000UL	/* 4 MiB, private anonymous */
#define REGION_ADDR	0x3f0300000000UL	/* 3 pages, the middle one made PROT_NONE */
#define GUARD_ADDR	0x3f0400000000UL	/* 3 pages of a memfd, a guard page in the middle */
#define TRUNC_ADDR	0x3f0500000000UL	/* 4 pages of a file, then truncated to 1 */
#define LEADER_ADDR	0x3f0600000000UL	/* planted before the main thread exits */
#define ZERO_ADDR	0x3f0700000000UL	/* 2 pages of /dev/zero, private */
#define SHANON_ADDR	0x3f0800000000UL	/* 2 pages, shared anonymous: "/dev/zero (deleted)" */
#define HUGE_ADDR	0x3f1000000000UL	/* HUGE_LEN reserved, one page touched */
#define HUGE_LEN	(256UL << 30)
#define SPARSE_ADDR	0x3f0900000000UL	/* SPARSE_LEN of a memfd, shared, one page written */
#define SPARSE_LEN	(256UL << 20)
#define ANON_OFF	0x1234UL
#define MEMFD_OFF	(PAGE + 77)
#define SIDE_OFF	100UL	/* tokens in the first and last page of 3-page regions */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102	/* Linux 6.13 */
#endif

/* Salts: one token per use, so a test never finds another's. */
enum { SALT_PLANT = 1, SALT_ABSENT, SALT_BIG, SALT_REGION, SALT_GUARD, SALT_TRUNC, SALT_LEADER,
       SALT_FILE, SALT_TREE };

/* glibc's allocator even under ASan (whose malloc would not give "[heap]"). */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Byte i of the token of (pid, salt). */
static char tok_byte(pid_t pid, uint32_t salt, size_t i)
{
	uint64_t v;

	if (i < 4)
		return "tok_"[i];
	v = mix(((uint64_t)(uint32_t)pid << 32) | salt);
	return "0123456789abcdef"[(v >> (4 * (15 - (i - 4)))) & 15];
}

static void __attribute__((noinline)) plant(void *dst, pid_t pid, uint32_t salt)
{
	volatile char *p = dst;

	for (size_t i = 0; i < TOK_LEN; i++)
		p[i] = tok_byte(pid, salt, i);
}

static bool planted_at(const void *at, pid_t pid, uint32_t salt)
{
	const volatile char *p = at;

	for (size_t i = 0; i < TOK_LEN; i++)
		if (p[i] != tok_byte(pid, salt, i))
			return false;
	return true;
}

static void make_tok(char *buf, pid_t pid, uint32_t salt)
{
	for (size_t i = 0; i < TOK_LEN; i++)
		buf[i] = tok_byte(pid, salt, i);
}

/* ---- the child ----------------------------------------------------------- */

enum op {
	OP_PLANT = 1,		/* .data, freed heap block, stack, anonymous, memfd */
	OP_BIG,			/* tokens around 1 MiB boundaries of BIG_ADDR */
	OP_REGION,
	OP_PROT_NONE,		/* the middle page of REGION_ADDR */
	OP_GUARD,
	OP_GUARD_INSTALL,	/* on the middle page of GUARD_ADDR */
	OP_TRUNC,		/* path: a file mapped at TRUNC_ADDR */
	OP_TRUNC_CUT,		/* truncate it to one page */
	OP_LEADER_EXIT,		/* plant, start a thread that serves EOF, end the main thread */
	OP_HUGE,		/* reserve HUGE_LEN (MAP_NORESERVE), a sparse memfd: plant in one page of each */
};

struct cmd {
	uint32_t op;
	char path[256];
};

struct reply {
	int64_t ret;
	uint64_t v[8];
};

/* In .data (initialised): a private copy of the executable's page once written. */
static char data_tok[64] = "data";
static int trunc_fd = -1;

static int64_t map_fixed(uint64_t addr, size_t len, int prot, int flags, int fd)
{
	void *p = mmap((void *)addr, len, prot, flags | MAP_FIXED_NOREPLACE, fd, 0);

	return p == (void *)addr ? 0 : -(p == MAP_FAILED ? errno : EEXIST);
}

static int64_t plant_memfd(const char *name, uint64_t addr, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	int64_t err;

	if (fd < 0 || ftruncate(fd, len))
		return -errno;
	err = map_fixed(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	close(fd);
	return err;
}

static void *serve_eof(void *arg)
{
	char c;

	/* The parent closes the command pipe to end the test. */
	while (read(child_cmd, &c, 1) > 0)
		;
	_exit(0);
}

static void child_op(const struct cmd *c, struct reply *rp, char *stack_tok)
{
	pid_t me = getpid();
	char *heap;
	pthread_t th;
	int fd;

	switch (c->op) {
	case OP_PLANT:
		plant(data_tok, me, SALT_PLANT);
		plant(stack_tok, me, SALT_PLANT);
		if ((rp->ret = map_fixed(ANON_ADDR, 16 * PAGE, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1)))
			break;
		plant((char *)ANON_ADDR + ANON_OFF, me, SALT_PLANT);
		if ((rp->ret = plant_memfd("canary", MEMFD_ADDR, 4 * PAGE)))
			break;
		plant((char *)MEMFD_ADDR + MEMFD_OFF, me, SALT_PLANT);
		/* /dev/zero is a device mapping that is read (private: anonymous memory) */
		fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(44);
		rp->ret = map_fixed(ZERO_ADDR, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
		close(fd);
		if (rp->ret || (rp->ret = map_fixed(SHANON_ADDR, 2 * PAGE, PROT_READ | PROT_WRITE,
						      MAP_SHARED | MAP_ANONYMOUS, -1)))
			break;
		plant((char *)ZERO_ADDR + PAGE + SIDE_OFF, me, SALT_PLANT);
		plant((char *)SHANON_ADDR + SIDE_OFF, me, SALT_PLANT);
		/* Last: nothing may reuse the freed block. tcache keeps bytes 16 on. */
		heap = __libc_malloc(256);
		if (!heap)
			_exit(40);
		plant(heap + 32, me, SALT_PLANT);
		__libc_free(heap);
		rp->v[0] = (uintptr_t)data_tok;
		rp->v[1] = (uintptr_t)(heap + 32);
		rp->v[2] = (uintptr_t)stack_tok;
		rp->v[3] = ANON_ADDR + ANON_OFF;
		rp->v[4] = MEMFD_ADDR + MEMFD_OFF;
		rp->v[5] = planted_at(heap + 32, me, SALT_PLANT);
		break;
	case OP_BIG:
		if ((rp->ret = map_fixed(BIG_ADDR, 4 * MIB, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1)))
			break;
		memset((void *)BIG_ADDR, 'a', 4 * MIB);
		/* Straddling by 1 byte and by len - 1, then ending at and starting at one. */
		plant((char *)BIG_ADDR + 1 * MIB - 1, me, SALT_BIG);
		plant((char *)BIG_ADDR + 2 * MIB - (TOK_LEN - 1), me, SALT_BIG);
		plant((char *)BIG_ADDR + 3 * MIB - TOK_LEN, me, SALT_BIG);
		plant((char *)BIG_ADDR + 3 * MIB, me, SALT_BIG);
		break;
	case OP_REGION:
		if ((rp->ret = map_fixed(REGION_ADDR, 3 * PAGE, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1)))
			break;
		memset((void *)REGION_ADDR, 'b', 3 * PAGE);
		plant((char *)REGION_ADDR + SIDE_OFF, me, SALT_REGION);
		plant((char *)REGION_ADDR + 2 * PAGE + SIDE_OFF, me, SALT_REGION);
		break;
	case OP_PROT_NONE:
		rp->ret = mprotect((void *)(REGION_ADDR + PAGE), PAGE, PROT_NONE) ? -errno : 0;
		break;
	case OP_GUARD:
		if ((rp->ret = plant_memfd("guard", GUARD_ADDR, 3 * PAGE)))
			break;
		memset((void *)GUARD_ADDR, 'g', 3 * PAGE);	/* no holes: all three are read */
		plant((char *)GUARD_ADDR + SIDE_OFF, me, SALT_GUARD);
		plant((char *)GUARD_ADDR + 2 * PAGE + SIDE_OFF, me, SALT_GUARD);
		break;
	case OP_GUARD_INSTALL:
		rp->ret = madvise((void *)(GUARD_ADDR + PAGE), PAGE, MADV_GUARD_INSTALL) ? -errno : 0;
		break;
	case OP_TRUNC:
		trunc_fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (trunc_fd < 0 || ftruncate(trunc_fd, 4 * PAGE)) {
			rp->ret = -errno;
			break;
		}
		if ((rp->ret = map_fixed(TRUNC_ADDR, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
					 trunc_fd)))
			break;
		plant((char *)TRUNC_ADDR + SIDE_OFF, me, SALT_TRUNC);
		plant((char *)TRUNC_ADDR + 3 * PAGE + SIDE_OFF, me, SALT_TRUNC);
		break;
	case OP_TRUNC_CUT:
		rp->ret = ftruncate(trunc_fd, PAGE) ? -errno : 0;
		break;
	case OP_LEADER_EXIT:
		if ((rp->ret = map_fixed(LEADER_ADDR, PAGE, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1)))
			break;
		plant((char *)LEADER_ADDR + SIDE_OFF, me, SALT_LEADER);
		if (pthread_create(&th, NULL, serve_eof, NULL))
			_exit(41);
		if (io_full(child_reply, rp, sizeof(*rp), true))
			_exit(42);
		pthread_exit(NULL);
	case OP_HUGE:
		rp->ret = map_fixed(HUGE_ADDR, HUGE_LEN, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
		if (rp->ret)
			break;
		plant((char *)HUGE_ADDR + HUGE_LEN / 2 + SIDE_OFF, me, SALT_ABSENT);
		if ((rp->ret = plant_memfd("sparse", SPARSE_ADDR, SPARSE_LEN)))
			break;
		plant((char *)SPARSE_ADDR + SPARSE_LEN / 2 + SIDE_OFF, me, SALT_ABSENT);
		break;
	default:
		_exit(43);
	}
}

/*
 * Runs in the child: never returns, never uses cmocka. Not instrumented, so
 * stack_tok is on the real stack (not an ASan fake frame): "[stack]".
 */
static void __attribute__((noreturn, no_sanitize_address)) child_main(void)
{
	char stack_tok[64] = "";
	struct cmd c;

	if (io_full(child_reply, &c, 1, true))
		_exit(20);
	while (!io_full(child_cmd, &c, sizeof(c), false)) {
		struct reply rp = { 0 };

		child_op(&c, &rp, stack_tok);
		/* stack_tok's frame stays live and its stores stay in memory. */
		__asm__ volatile("" : : "r"(stack_tok) : "memory");
		if (io_full(child_reply, &rp, sizeof(rp), true))
			_exit(21);
	}
	_exit(0);	/* our end of the command pipe closed */
}

/* ---- fixture --------------------------------------------------------------- */

static char tmpdir[] = "/tmp/test_canary.XXXXXX";

struct fx {
	pid_t pid;
	int cmd, reply;
	char tok[TOK_LEN];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->pid = child_spawn(child_main, &f->cmd, &f->reply);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int status;

	close(f->cmd);		/* EOF ends the child */
	close(f->reply);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(f);
	return 0;
}

static struct reply ask_path(struct fx *f, uint32_t op, const char *path)
{
	struct cmd c = { .op = op };
	struct reply rp;

	if (path)
		snprintf(c.path, sizeof(c.path), "%s", path);
	assert_int_equal(io_full(f->cmd, &c, sizeof(c), true), 0);
	assert_int_equal(io_full(f->reply, &rp, sizeof(rp), false), 0);
	return rp;
}

static struct reply ask(struct fx *f, uint32_t op)
{
	return ask_path(f, op, NULL);
}

/* Scan the child for its token of salt: must succeed. */
static void scan(struct fx *f, uint32_t salt, struct rw_canary_hits *h)
{
	char why[256] = "";

	make_tok(f->tok, f->pid, salt);
	memset(h, 0, sizeof(*h));
	if (canary_scan_process(f->pid, f->tok, TOK_LEN, h, why, sizeof(why)))
		fail_msg("scan of %d: %s", f->pid, why);
	assert_true(h->bytes_scanned > 0);
	assert_int_equal(h->total, h->n);
}

static const struct rw_canary_hit *hit_at(const struct rw_canary_hits *h, uint64_t addr)
{
	const struct rw_canary_hit *found = NULL;

	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].addr != addr)
			continue;
		if (found)
			fail_msg("%#lx reported twice", (unsigned long)addr);
		found = &h->v[i];
	}
	if (!found)
		fail_msg("no hit at %#lx (%zu hits)", (unsigned long)addr, h->n);
	assert_int_equal(found->where, RW_CANARY_MEMORY);
	return found;
}

/* The hit at addr is in the mapping maps shows there, with its name and offsets. */
static void check_against_maps(pid_t pid, const struct rw_canary_hits *h, uint64_t addr,
			       const char *name)
{
	const struct rw_canary_hit *hit = hit_at(h, addr);
	struct rw_maps maps = { 0 };
	const struct rw_vma *v;
	ssize_t i;

	assert_int_equal(proc_read_maps(pid, &maps), 0);
	i = proc_maps_find(&maps, addr);
	assert_true(i >= 0);
	v = &maps.v[i];
	assert_string_equal(hit->mapping, name);
	assert_int_equal(hit->pid, pid);
	assert_int_equal(hit->map_start, v->start);
	assert_int_equal(hit->map_end, v->end);
	assert_int_equal(hit->offset, addr - v->start);
	assert_string_equal(hit->perms, "rw-p");
	assert_int_equal(hit->file_backed, v->inode != 0);
	assert_int_equal(hit->file_offset, v->inode ? v->offset + addr - v->start : 0);
	proc_maps_free(&maps);
}

/* ---- memory ---------------------------------------------------------------- */

/* Every planted copy, and nothing else, with its mapping's name and offset. */
static void test_plants_found(void **state)
{
	struct fx *f = *state;
	struct reply rp = ask(f, OP_PLANT);
	struct rw_canary_hits h;
	const struct rw_canary_hit *hit;
	char exe[PATH_MAX];
	ssize_t n;

	assert_int_equal(rp.ret, 0);
	if (!rp.v[5])
		fail_msg("the freed heap block lost its token: nothing to find there");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	scan(f, SALT_PLANT, &h);
	assert_int_equal(h.total, 7);
	check_against_maps(f->pid, &h, rp.v[0], exe);		/* .data */
	check_against_maps(f->pid, &h, rp.v[1], "[heap]");	/* freed block */
	check_against_maps(f->pid, &h, rp.v[2], "[stack]");
	check_against_maps(f->pid, &h, rp.v[3], "[anon]");
	hit = hit_at(&h, rp.v[3]);
	assert_int_equal(hit->map_start, ANON_ADDR);
	assert_int_equal(hit->offset, ANON_OFF);
	hit = hit_at(&h, rp.v[4]);
	assert_string_equal(hit->mapping, "/memfd:canary (deleted)");
	assert_string_equal(hit->perms, "rw-s");
	assert_int_equal(hit->map_start, MEMFD_ADDR);
	assert_int_equal(hit->map_end, MEMFD_ADDR + 4 * PAGE);
	assert_int_equal(hit->offset, MEMFD_OFF);
	assert_true(hit->file_backed);
	assert_int_equal(hit->file_offset, MEMFD_OFF);
	hit = hit_at(&h, ZERO_ADDR + PAGE + SIDE_OFF);
	assert_string_equal(hit->mapping, "/dev/zero");
	assert_string_equal(hit->perms, "rw-p");
	assert_int_equal(hit->offset, PAGE + SIDE_OFF);
	hit = hit_at(&h, SHANON_ADDR + SIDE_OFF);
	assert_string_equal(hit->mapping, "/dev/zero (deleted)");
	assert_string_equal(hit->perms, "rw-s");
	assert_int_equal(hit->offset, SIDE_OFF);
	canary_hits_free(&h);
	assert_null(h.v);
	assert_int_equal(h.n, 0);
}

/* A token never planted: nothing, though everything readable was read. */
static void test_absent(void **state)
{
	struct fx *f = *state;
	struct rw_canary_hits h;

	assert_int_equal(ask(f, OP_PLANT).ret, 0);
	scan(f, SALT_ABSENT, &h);
	assert_int_equal(h.total, 0);
	assert_int_equal(h.n, 0);
	assert_null(h.v);
	/* At least the 16 anonymous pages (one touched) and the 4 of the memfd. */
	assert_true(h.bytes_scanned >= 5 * PAGE);
	canary_hits_free(&h);
}

/*
 * A huge reservation with one page touched (ASan's shadow, a JIT's heap) is
 * not read page by page: found in the one page, the rest counted as skipped.
 * Reading it all would take minutes and fill gigabytes of page tables. Nor
 * are the holes of a sparse shared memfd read: that would allocate them.
 */
static void test_sparse_reservation(void **state)
{
	struct fx *f = *state;
	struct rw_canary_hits h;
	const struct rw_canary_hit *hit;
	int64_t ret = ask(f, OP_HUGE).ret;
	char path[96];
	struct stat st;

	if (ret == -ENOMEM)
		skip();		/* vm.overcommit_memory=2 accounts MAP_NORESERVE too */
	assert_int_equal(ret, 0);
	scan(f, SALT_ABSENT, &h);
	assert_int_equal(h.total, 2);
	hit = hit_at(&h, HUGE_ADDR + HUGE_LEN / 2 + SIDE_OFF);
	assert_int_equal(hit->map_start, HUGE_ADDR);
	assert_int_equal(hit->offset, HUGE_LEN / 2 + SIDE_OFF);
	hit = hit_at(&h, SPARSE_ADDR + SPARSE_LEN / 2 + SIDE_OFF);
	assert_string_equal(hit->mapping, "/memfd:sparse (deleted)");
	assert_int_equal(hit->file_offset, SPARSE_LEN / 2 + SIDE_OFF);
	assert_true(h.skipped_bytes >= HUGE_LEN - PAGE + SPARSE_LEN - PAGE);
	assert_true(h.bytes_scanned < (64UL << 20));
	/* The memfd still has its one page, not SPARSE_LEN. */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", f->pid, SPARSE_ADDR,
		 SPARSE_ADDR + SPARSE_LEN);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 <= 16 * PAGE);
	canary_hits_free(&h);
}

/* Tokens across and right at 1 MiB chunk boundaries: each found once. */
static void test_chunk_boundaries(void **state)
{
	struct fx *f = *state;
	const uint64_t at[] = { BIG_ADDR + 1 * MIB - 1, BIG_ADDR + 2 * MIB - (TOK_LEN - 1),
				BIG_ADDR + 3 * MIB - TOK_LEN, BIG_ADDR + 3 * MIB };
	struct rw_canary_hits h;

	assert_int_equal(RW_CANARY_CHUNK, MIB);
	assert_int_equal(ask(f, OP_BIG).ret, 0);
	scan(f, SALT_BIG, &h);
	assert_int_equal(h.total, 4);
	for (size_t i = 0; i < 4; i++) {
		const struct rw_canary_hit *hit = hit_at(&h, at[i]);

		assert_string_equal(hit->mapping, "[anon]");
		assert_int_equal(hit->map_start, BIG_ADDR);
		assert_int_equal(hit->map_end, BIG_ADDR + 4 * MIB);
		assert_int_equal(hit->offset, at[i] - BIG_ADDR);
	}
	canary_hits_free(&h);
}

/* A PROT_NONE page in the middle: the page after it is still read; the page is unreadable. */
static void test_prot_none_page(void **state)
{
	struct fx *f = *state;
	struct rw_canary_hits before, after;
	const struct rw_canary_hit *hit;

	assert_int_equal(ask(f, OP_REGION).ret, 0);
	scan(f, SALT_REGION, &before);
	assert_int_equal(before.total, 2);
	hit_at(&before, REGION_ADDR + SIDE_OFF);
	hit_at(&before, REGION_ADDR + 2 * PAGE + SIDE_OFF);
	assert_int_equal(ask(f, OP_PROT_NONE).ret, 0);
	scan(f, SALT_REGION, &after);
	assert_int_equal(after.total, 2);
	assert_int_equal(after.unreadable_bytes, before.unreadable_bytes + PAGE);
	hit_at(&after, REGION_ADDR + SIDE_OFF);
	hit = hit_at(&after, REGION_ADDR + 2 * PAGE + SIDE_OFF);
	/* Its own mapping now: the split one after the PROT_NONE page. */
	assert_int_equal(hit->map_start, REGION_ADDR + 2 * PAGE);
	assert_int_equal(hit->offset, SIDE_OFF);
	canary_hits_free(&before);
	canary_hits_free(&after);
}

/*
 * A guard page (MADV_GUARD_INSTALL) in the middle of one readable mapping:
 * reading it fails with EFAULT, the scan goes on past it within the mapping.
 */
static void test_guard_page(void **state)
{
	struct fx *f = *state;
	struct rw_canary_hits before, after;
	const struct rw_canary_hit *hit;
	int64_t ret;

	assert_int_equal(ask(f, OP_GUARD).ret, 0);
	scan(f, SALT_GUARD, &before);
	assert_int_equal(before.total, 2);
	ret = ask(f, OP_GUARD_INSTALL).ret;
	if (ret == -EINVAL) {
		canary_hits_free(&before);
		skip();		/* a kernel without guard pages in shmem (before 6.15) */
	}
	assert_int_equal(ret, 0);
	scan(f, SALT_GUARD, &after);
	assert_int_equal(after.total, 2);
	assert_int_equal(after.unreadable_bytes, before.unreadable_bytes + PAGE);
	hit_at(&after, GUARD_ADDR + SIDE_OFF);
	hit = hit_at(&after, GUARD_ADDR + 2 * PAGE + SIDE_OFF);
	assert_int_equal(hit->map_start, GUARD_ADDR);	/* still one mapping */
	assert_int_equal(hit->map_end, GUARD_ADDR + 3 * PAGE);
	assert_int_equal(hit->offset, 2 * PAGE + SIDE_OFF);
	assert_string_equal(hit->mapping, "/memfd:guard (deleted)");
	canary_hits_free(&before);
	canary_hits_free(&after);
}

/* A mapped file truncated under the mapping: the pages past EOF are unreadable. */
static void test_truncated_mapping(void **state)
{
	struct fx *f = *state;
	struct rw_canary_hits before, after;
	const struct rw_canary_hit *hit;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/mapped", tmpdir);
	assert_int_equal(ask_path(f, OP_TRUNC, path).ret, 0);
	scan(f, SALT_TRUNC, &before);
	assert_int_equal(before.total, 2);
	hit = hit_at(&before, TRUNC_ADDR + 3 * PAGE + SIDE_OFF);
	assert_string_equal(hit->mapping, path);
	assert_string_equal(hit->perms, "rw-s");
	assert_int_equal(hit->file_offset, 3 * PAGE + SIDE_OFF);
	assert_int_equal(ask(f, OP_TRUNC_CUT).ret, 0);
	scan(f, SALT_TRUNC, &after);
	assert_int_equal(after.total, 1);
	assert_int_equal(after.unreadable_bytes, before.unreadable_bytes + 3 * PAGE);
	hit = hit_at(&after, TRUNC_ADDR + SIDE_OFF);
	assert_int_equal(hit->offset, SIDE_OFF);
	assert_int_equal(hit->file_offset, SIDE_OFF);
	canary_hits_free(&before);
	canary_hits_free(&after);
}

/* Yield until pid's main thread is a zombie (its maps empty); fail after 10 s. */
static void wait_leader_zombie(pid_t pid)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct rw_proc_status st;

		assert_int_equal(proc_read_status(pid, &st), 0);
		if (st.state == 'Z')
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			fail_msg("the main thread of %d never exited", pid);
		sched_yield();
	}
}

/* The main thread exited, another lives: its memory is read through that thread. */
static void test_leader_exited(void **state)
{
	struct fx *f = *state;
	struct rw_maps maps = { 0 };
	struct rw_canary_hits h;
	const struct rw_canary_hit *hit;

	assert_int_equal(ask(f, OP_LEADER_EXIT).ret, 0);
	wait_leader_zombie(f->pid);
	assert_int_equal(proc_read_maps(f->pid, &maps), 0);
	assert_int_equal(maps.n, 0);	/* what the scanner has to get around */
	proc_maps_free(&maps);
	scan(f, SALT_LEADER, &h);
	assert_int_equal(h.total, 1);
	hit = hit_at(&h, LEADER_ADDR + SIDE_OFF);
	assert_int_equal(hit->pid, f->pid);
	assert_string_equal(hit->mapping, "[anon]");
	canary_hits_free(&h);
}

/* A zombie and a reaped pid: -ESRCH with a message naming the pid. */
static void test_dead_pid(void **state)
{
	struct rw_canary_hits h = { 0 };
	char why[256] = "", pidstr[16];
	siginfo_t si;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	assert_true(pid > 0);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	assert_int_equal(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(canary_scan_process(pid, "tok", 3, &h, why, sizeof(why)), -ESRCH);
	assert_non_null(strstr(why, pidstr));
	assert_int_equal(h.n, 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	why[0] = '\0';
	assert_int_equal(canary_scan_process(pid, "tok", 3, &h, why, sizeof(why)), -ESRCH);
	assert_non_null(strstr(why, pidstr));
	assert_non_null(strstr(why, "does not exist"));
	assert_int_equal(h.total, 0);
	canary_hits_free(&h);
}

/* ---- files ------------------------------------------------------------------ */

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(io_full(fd, (void *)data, len, true), 0);
	assert_int_equal(close(fd), 0);
}

/* A file of size bytes of fill with needle at each of at[]. */
static void make_file(const char *path, size_t size, char fill, const void *needle, size_t len,
		      const uint64_t *at, size_t nat)
{
	char *buf = malloc(size);

	assert_non_null(buf);
	memset(buf, fill, size);
	for (size_t i = 0; i < nat; i++)
		memcpy(buf + at[i], needle, len);
	write_file(path, buf, size);
	free(buf);
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
	assert_true((size_t)snprintf(out, size, "%s/%s", dir, name) < size);
}

/* File hit i: path and offset. */
static void check_file_hit(const struct rw_canary_hits *h, size_t i, const char *path, uint64_t off)
{
	assert_true(i < h->n);
	assert_int_equal(h->v[i].where, RW_CANARY_FILE);
	assert_string_equal(h->v[i].path, path);
	assert_int_equal(h->v[i].offset, off);
}

/* At 0, across a page, across a chunk, ending at EOF of a 3 MiB file: exact offsets. */
static void test_file_offsets(void **state)
{
	const uint64_t size = 3 * MIB;
	const uint64_t at[] = { 0, 4095, MIB - 7, size - TOK_LEN - 100, size - TOK_LEN };
	struct rw_canary_hits h = { 0 };
	char path[PATH_MAX], tok[TOK_LEN], why[256];

	make_tok(tok, getpid(), SALT_FILE);
	join(path, sizeof(path), tmpdir, "three_mib");
	make_file(path, size, 'c', tok, TOK_LEN, at, 5);
	assert_int_equal(canary_scan_file(path, tok, TOK_LEN, &h, why, sizeof(why)), 0);
	assert_int_equal(h.total, 5);
	assert_int_equal(h.n, 5);
	for (size_t i = 0; i < 5; i++)
		check_file_hit(&h, i, path, at[i]);
	assert_int_equal(h.bytes_scanned, size);
	assert_int_equal(h.files_scanned, 1);
	assert_int_equal(h.unreadable_bytes, 0);
	canary_hits_free(&h);
}

/* Overlapping occurrences each count; past RW_CANARY_MAX_HITS only total grows. */
static void test_file_overlap_and_cap(void **state)
{
	struct rw_canary_hits h = { 0 };
	char path[PATH_MAX], why[256];
	unsigned char big[RW_CANARY_MAX_NEEDLE];
	const uint64_t at[] = { 2 * MIB - 100 };

	join(path, sizeof(path), tmpdir, "aaa");
	make_file(path, 2000, 'a', NULL, 0, NULL, 0);
	assert_int_equal(canary_scan_file(path, "aa", 2, &h, why, sizeof(why)), 0);
	assert_int_equal(h.total, 1999);
	assert_int_equal(h.n, RW_CANARY_MAX_HITS);
	for (size_t i = 0; i < h.n; i++)
		assert_int_equal(h.v[i].offset, i);
	canary_hits_free(&h);

	/* The longest needle, across a chunk boundary, among near-copies of itself. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 26;
	make_file(path, 3 * MIB, 'x', big, sizeof(big), at, 1);
	assert_int_equal(canary_scan_file(path, big, sizeof(big), &h, why, sizeof(why)), 0);
	assert_int_equal(h.total, 1);
	check_file_hit(&h, 0, path, at[0]);
	canary_hits_free(&h);
}

/* Missing file: -ENOENT and its name; a directory or fifo: skipped, not read. */
static void test_file_errors(void **state)
{
	struct rw_canary_hits h = { 0 };
	char path[PATH_MAX], why[256] = "";

	join(path, sizeof(path), tmpdir, "missing");
	assert_int_equal(canary_scan_file(path, "tok", 3, &h, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, path));
	assert_int_equal(canary_scan_file(tmpdir, "tok", 3, &h, why, sizeof(why)), 0);
	join(path, sizeof(path), tmpdir, "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	/* Opening it for reading would block: it must not even be opened. */
	assert_int_equal(canary_scan_file(path, "tok", 3, &h, why, sizeof(why)), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(h.files_skipped, 2);
	assert_int_equal(h.files_scanned, 0);
	assert_int_equal(h.total, 0);
	canary_hits_free(&h);
}

/* Lengths 0 and 257 and a NULL needle are refused by all three scans; 256 is fine. */
static void test_needle_length(void **state)
{
	struct rw_canary_hits h = { 0 };
	char needle[RW_CANARY_MAX_NEEDLE + 1] = "", why[256];

	for (size_t len = 0; len <= RW_CANARY_MAX_NEEDLE + 1; len += RW_CANARY_MAX_NEEDLE + 1) {
		why[0] = '\0';
		assert_int_equal(canary_scan_process(getpid(), needle, len, &h, why, sizeof(why)),
				 -EINVAL);
		assert_true(why[0] != '\0');
		assert_int_equal(canary_scan_file("/dev/null", needle, len, &h, why, sizeof(why)),
				 -EINVAL);
		assert_int_equal(canary_scan_tree(tmpdir, needle, len, &h, why, sizeof(why)),
				 -EINVAL);
	}
	assert_int_equal(canary_scan_file("/dev/null", NULL, 3, &h, why, sizeof(why)), -EINVAL);
	assert_int_equal(h.files_skipped, 0);
	assert_int_equal(canary_scan_file("/dev/null", needle, RW_CANARY_MAX_NEEDLE, &h, why,
					  sizeof(why)), 0);
	assert_int_equal(h.files_skipped, 1);	/* a device: looked at, not opened */
	canary_hits_free(&h);
}

static int cmp_hit_path(const void *a, const void *b)
{
	return strcmp(((const struct rw_canary_hit *)a)->path, ((const struct rw_canary_hit *)b)->path);
}

/*
 * Nested files are found; symlinks to a file and a directory outside the
 * tree (both holding the token) are not followed; a fifo is skipped.
 */
static void test_tree(void **state)
{
	struct rw_canary_hits h = { 0 };
	char root[PATH_MAX], outside[PATH_MAX], p[PATH_MAX], q[PATH_MAX], tok[TOK_LEN], why[256];
	const uint64_t top_at[] = { 10 }, deep_at[] = { 5000 };

	make_tok(tok, getpid(), SALT_TREE);
	join(root, sizeof(root), tmpdir, "tree");
	join(outside, sizeof(outside), tmpdir, "outside");
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(mkdir(outside, 0700), 0);
	join(p, sizeof(p), outside, "secret");
	make_file(p, 100, 's', tok, TOK_LEN, top_at, 1);
	join(q, sizeof(q), root, "link_file");
	assert_int_equal(symlink(p, q), 0);
	join(q, sizeof(q), root, "link_dir");
	assert_int_equal(symlink(outside, q), 0);
	join(p, sizeof(p), root, "top");
	make_file(p, 100, 't', tok, TOK_LEN, top_at, 1);
	join(p, sizeof(p), root, "a");
	assert_int_equal(mkdir(p, 0700), 0);
	join(p, sizeof(p), root, "a/b");
	assert_int_equal(mkdir(p, 0700), 0);
	join(p, sizeof(p), root, "a/b/c");
	assert_int_equal(mkdir(p, 0700), 0);
	join(p, sizeof(p), root, "a/b/c/deep");
	make_file(p, 8000, 'd', tok, TOK_LEN, deep_at, 1);
	join(p, sizeof(p), root, "a/b/none");
	make_file(p, 8000, 'n', NULL, 0, NULL, 0);
	join(p, sizeof(p), root, "a/fifo");
	assert_int_equal(mkfifo(p, 0600), 0);

	assert_int_equal(canary_scan_tree(root, tok, TOK_LEN, &h, why, sizeof(why)), 0);
	assert_int_equal(h.total, 2);
	qsort(h.v, h.n, sizeof(h.v[0]), cmp_hit_path);
	join(p, sizeof(p), root, "a/b/c/deep");
	check_file_hit(&h, 0, p, deep_at[0]);
	join(p, sizeof(p), root, "top");
	check_file_hit(&h, 1, p, top_at[0]);
	assert_int_equal(h.files_scanned, 3);
	assert_int_equal(h.files_skipped, 3);	/* two symlinks, a fifo */
	assert_int_equal(h.files_unreadable, 0);
	assert_int_equal(h.bytes_scanned, 100 + 8000 + 8000);

	/* Appended to: a trailing slash on root names the same paths. */
	join(p, sizeof(p), root, "");
	assert_int_equal(canary_scan_tree(p, tok, TOK_LEN, &h, why, sizeof(why)), 0);
	assert_int_equal(h.total, 4);
	assert_int_equal(h.n, 4);
	qsort(h.v + 2, 2, sizeof(h.v[0]), cmp_hit_path);
	join(p, sizeof(p), root, "top");
	check_file_hit(&h, 3, p, top_at[0]);
	canary_hits_free(&h);

	/* Not a directory, missing: errors. */
	assert_int_equal(canary_scan_tree(p, tok, TOK_LEN, &h, why, sizeof(why)), -ENOTDIR);
	join(p, sizeof(p), tmpdir, "no_such_dir");
	assert_int_equal(canary_scan_tree(p, tok, TOK_LEN, &h, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "no_such_dir"));
	canary_hits_free(&h);
}

/* A tmpfs mounted inside the tree is not entered (in a mount namespace of our own). */
static void test_tree_mount(void **state)
{
	struct rw_canary_hits h = { 0 };
	char root[PATH_MAX], mnt[PATH_MAX], p[PATH_MAX], tok[TOK_LEN], why[256];
	const uint64_t at[] = { 0 };

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		skip();	/* no CAP_SYS_ADMIN here */
	make_tok(tok, getpid(), SALT_TREE + 100);
	join(root, sizeof(root), tmpdir, "mtree");
	join(mnt, sizeof(mnt), root, "mnt");
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(mkdir(mnt, 0700), 0);
	join(p, sizeof(p), root, "here");
	make_file(p, 64, 'h', tok, TOK_LEN, at, 1);
	assert_int_equal(mount("canary", mnt, "tmpfs", 0, "size=1m"), 0);
	join(p, sizeof(p), mnt, "there");
	make_file(p, 64, 'h', tok, TOK_LEN, at, 1);

	assert_int_equal(canary_scan_tree(root, tok, TOK_LEN, &h, why, sizeof(why)), 0);
	assert_int_equal(h.total, 1);
	join(p, sizeof(p), root, "here");
	check_file_hit(&h, 0, p, 0);
	assert_int_equal(h.files_skipped, 1);	/* the mount point */
	canary_hits_free(&h);
	/* Rooted at the mount itself, it is scanned. */
	assert_int_equal(canary_scan_tree(mnt, tok, TOK_LEN, &h, why, sizeof(why)), 0);
	assert_int_equal(h.total, 1);
	join(p, sizeof(p), mnt, "there");
	check_file_hit(&h, 0, p, 0);
	canary_hits_free(&h);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

/* JSON: the keys of a memory and a file hit, the address as a hex string. */
static void test_json(void **state)
{
	struct fx *f = *state;
	struct rw_canary_hits h;
	json_object *a, *o, *v;
	char path[PATH_MAX], why[256], want[32];
	const uint64_t at[] = { 7 };

	assert_int_equal(ask(f, OP_REGION).ret, 0);
	scan(f, SALT_REGION, &h);
	assert_int_equal(h.n, 2);
	join(path, sizeof(path), tmpdir, "json");
	make_file(path, 64, 'j', f->tok, TOK_LEN, at, 1);
	assert_int_equal(canary_scan_file(path, f->tok, TOK_LEN, &h, why, sizeof(why)), 0);
	assert_int_equal(h.n, 3);
	a = canary_hits_to_json(&h);
	assert_non_null(a);
	assert_int_equal(json_object_array_length(a), 3);
	for (size_t i = 0; i < 2; i++) {
		o = json_object_array_get_idx(a, i);
		assert_true(json_object_object_get_ex(o, "where", &v));
		assert_string_equal(json_object_get_string(v), "memory");
		assert_true(json_object_object_get_ex(o, "pid", &v));
		assert_int_equal(json_object_get_int64(v), f->pid);
		assert_true(json_object_object_get_ex(o, "mapping", &v));
		assert_string_equal(json_object_get_string(v), "[anon]");
		assert_true(json_object_object_get_ex(o, "perms", &v));
		assert_string_equal(json_object_get_string(v), "rw-p");
		assert_true(json_object_object_get_ex(o, "address", &v));
		snprintf(want, sizeof(want), "0x%lx", (unsigned long)h.v[i].addr);
		assert_string_equal(json_object_get_string(v), want);
		assert_true(json_object_object_get_ex(o, "offset", &v));
		assert_int_equal(json_object_get_uint64(v), h.v[i].offset);
		assert_false(json_object_object_get_ex(o, "file_offset", NULL));
		assert_false(json_object_object_get_ex(o, "path", NULL));
	}
	o = json_object_array_get_idx(a, 2);
	assert_true(json_object_object_get_ex(o, "where", &v));
	assert_string_equal(json_object_get_string(v), "file");
	assert_true(json_object_object_get_ex(o, "path", &v));
	assert_string_equal(json_object_get_string(v), path);
	assert_true(json_object_object_get_ex(o, "offset", &v));
	assert_int_equal(json_object_get_uint64(v), 7);
	assert_false(json_object_object_get_ex(o, "pid", NULL));
	json_object_put(a);
	canary_hits_free(&h);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int main(void)
{
	if (getenv("RW_DEBUG"))
		rw_log_level = RW_LOG_DEBUG;
	if (geteuid())
		fprintf(stderr, "test_canary needs root (process_vm_readv, PAGEMAP_SCAN, mount)\n");
	/* A watchdog, not synchronisation: a scan that reads reservations page by page fails. */
	alarm(120);

	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plants_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_reservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunk_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prot_none_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_exited, setup, teardown),
		cmocka_unit_test(test_dead_pid),
		cmocka_unit_test(test_file_offsets),
		cmocka_unit_test(test_file_overlap_and_cap),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_needle_length),
		cmocka_unit_test(test_tree),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		/* Last: it moves this process into a mount namespace of its own. */
		cmocka_unit_test(test_tree_mount),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
