// SPDX-License-Identifier: GPL-2.0-only
/*
 * Copying pages back: which path. A standalone study of how to copy D
 * scattered 4 KiB pages from an image held in this process (the daemon's
 * side) into a 1 GiB pre-faulted private anonymous region of another process
 * (a forked child blocked in read(2) on a pipe), side by side in one run:
 *
 *   memcpy         the same D pages copied locally into a 1 GiB region of
 *                  this process (the physical reference)
 *   pvw/page       process_vm_writev, IOV_MAX iovecs a call, one local and
 *                  one remote iovec per page
 *   pvw/merged     process_vm_writev, adjacent pages merged into one iovec
 *   /proc/pid/mem  one pwrite(2) per run of adjacent pages
 *   tgt/premapped  in-target restorer: the image lives in a memfd the target
 *                  has mapped read-only (MAP_SHARED, populated) once; on a
 *                  command the target copies the pages itself (the time is
 *                  the whole round trip: command, copy, answer)
 *   tgt/map+unmap  the same, mapping (MAP_POPULATE) and unmapping the image
 *                  around each copy
 *   dontneed+uffd  the target drops the pages (process_madvise on itself,
 *                  IOV_MAX runs a call), then UFFDIO_COPY from here, one call
 *                  a run, into the holes (the region is registered WP only)
 *
 * Then: the cost of the same scattered writes when the destination pages are
 * write-protected by userfaultfd async WP (each first write takes a wp fault)
 * against pages already written, and the cost of PAGEMAP_SCAN over 64 MiB and
 * 1 GiB with D written pages, without and with PM_SCAN_WP_MATCHING (re-arm).
 *
 * Every method is checked once per D (the destination is read back and
 * compared) before it is timed. Nothing asserts on a time: it prints medians
 * of rounds whose method order alternates.
 *
 * Usage: copypath [MAX_D]        (REPS=N in the environment: rounds, default 9)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "bench_util.h"

#define PAGE		4096UL
#define BIG_PAGES	(1UL << 18)	/* 1 GiB */
#define SMALL_PAGES	(1UL << 14)	/* 64 MiB */
#define MAX_D		100000UL
#define IOV_BATCH	1024
#define TABLE_BYTES	((MAX_D * sizeof(uint32_t) + PAGE - 1) & ~(PAGE - 1))
#define EVICT_BYTES	(64UL << 20)

/* PAGEMAP_SCAN UAPI (Linux 6.7; not in Debian 12's headers). */
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

struct page_region {
	uint64_t start, end, categories;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN		(1ULL << 1)
#define PM_SCAN_WP_MATCHING	(1ULL << 0)
#define PM_SCAN_CHECK_WPASYNC	(1ULL << 1)
#define FEAT_WP_UNPOPULATED	(1ULL << 13)
#define FEAT_WP_ASYNC		(1ULL << 15)

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise	440
#endif

#define die(fmt, ...) do { \
	fprintf(stderr, "copypath: " fmt "\n", ##__VA_ARGS__); \
	exit(1); \
} while (0)
#define die_errno(fmt, ...) die(fmt ": %s", ##__VA_ARGS__, strerror(errno))

enum op { OP_NOP = 1, OP_COPY, OP_MAP_COPY, OP_DROP, OP_EVICT, OP_EXIT };

struct cmd {
	int op;
	long d;
};

struct hello {
	uint64_t big, small;
	int uffd;
};

/* The image memfd: a table of D page indices, then the D pages. */
static int memfd;
static uint32_t *table;		/* this process's shared mapping of it */
static char *image;
static int cmd_w, rsp_r;
static pid_t child;

static void xread(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n != (ssize_t)len)
		die("short read from pipe (%zd): %s", n, n < 0 ? strerror(errno) : "peer gone");
}

static void xwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die_errno("write to pipe");
}

static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die_errno("mmap %zu", len);
	/* 4 KiB pages: what a warm function's heap is made of without THP. */
	madvise(p, len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < len; i += PAGE)
		p[i] = 1;
	return p;
}

/* --- the target ---------------------------------------------------------- */

static void child_copy(char *region, const uint32_t *idx, const char *img, long d)
{
	for (long i = 0; i < d; i++)
		memcpy(region + (size_t)idx[i] * PAGE, img + (size_t)i * PAGE, PAGE);
}

static long child_drop(char *region, const uint32_t *idx, long d)
{
	struct iovec iov[IOV_BATCH];
	int pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	long calls = 0, i = 0;

	if (pidfd < 0)
		return -errno;
	while (i < d) {
		int n = 0;
		size_t want = 0;

		for (; i < d && n < IOV_BATCH; n++) {
			long j = i + 1;

			while (j < d && idx[j] == idx[j - 1] + 1)
				j++;
			iov[n].iov_base = region + (size_t)idx[i] * PAGE;
			iov[n].iov_len = (j - i) * PAGE;
			want += iov[n].iov_len;
			i = j;
		}
		if (syscall(SYS_process_madvise, pidfd, iov, n, MADV_DONTNEED, 0) != (long)want) {
			close(pidfd);
			return -errno;
		}
		calls++;
	}
	close(pidfd);
	return calls;
}

static void __attribute__((noreturn)) target(int cmd_r, int rsp_w)
{
	char *big = map_anon(BIG_PAGES * PAGE), *small = map_anon(SMALL_PAGES * PAGE);
	char *cold = map_anon(EVICT_BYTES);
	size_t img_len = TABLE_BYTES + MAX_D * PAGE;
	char *pre = mmap(NULL, img_len, PROT_READ, MAP_SHARED | MAP_POPULATE, memfd, 0);
	struct uffdio_api api = { .api = UFFD_API, .features = FEAT_WP_ASYNC | FEAT_WP_UNPOPULATED };
	struct hello h = { (uintptr_t)big, (uintptr_t)small, -1 };
	int uffd;

	if (pre == MAP_FAILED)
		die_errno("target: mmap image");
	/* Register and arm both regions, as rewindd does at checkpoint. */
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		die_errno("target: userfaultfd with WP_ASYNC");
	for (int k = 0; k < 2; k++) {
		struct uffdio_register r = {
			.range = { k ? (uintptr_t)small : (uintptr_t)big,
				   (k ? SMALL_PAGES : BIG_PAGES) * PAGE },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		struct uffdio_writeprotect wp = { .range = r.range,
						  .mode = UFFDIO_WRITEPROTECT_MODE_WP };

		if (ioctl(uffd, UFFDIO_REGISTER, &r) || ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
			die_errno("target: register/arm");
	}
	h.uffd = uffd;
	xwrite(rsp_w, &h, sizeof(h));
	for (;;) {
		struct cmd c;
		long r = 0;

		xread(cmd_r, &c, sizeof(c));
		switch (c.op) {
		case OP_NOP:
			break;
		case OP_COPY: {
			uint64_t t0 = rw_now_ns();

			child_copy(big, (const uint32_t *)pre, pre + TABLE_BYTES, c.d);
			r = rw_now_ns() - t0;
			break;
		}
		case OP_MAP_COPY: {
			size_t len = TABLE_BYTES + c.d * PAGE;
			char *m = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, memfd, 0);

			if (m == MAP_FAILED) {
				r = -errno;
				break;
			}
			child_copy(big, (const uint32_t *)m, m + TABLE_BYTES, c.d);
			munmap(m, len);
			break;
		}
		case OP_DROP:
			r = child_drop(big, (const uint32_t *)pre, c.d);
			break;
		case OP_EVICT:
			memset(cold, (int)(rw_now_ns() & 0xff), EVICT_BYTES);
			break;
		case OP_EXIT:
			_exit(0);
		}
		xwrite(rsp_w, &r, sizeof(r));
	}
}

static long command(int op, long d)
{
	struct cmd c = { op, d };
	long r;

	xwrite(cmd_w, &c, sizeof(c));
	xread(rsp_r, &r, sizeof(r));
	return r;
}

/* --- the methods ----------------------------------------------------------- */

static uint64_t big_remote, small_remote;
static char *local_dst;		/* this process's 1 GiB region, for memcpy */
static int memfd_mem, uffd;
static uint32_t *idx;		/* the D-set, sorted page indices */
static struct iovec *liov, *riov;

static uint64_t m_memcpy(long d)
{
	uint64_t t0 = rw_now_ns();

	child_copy(local_dst, idx, image, d);
	return rw_now_ns() - t0;
}

/* Build the iovecs (merged or not) for pages [0, d) into remote region base. */
static size_t build_iov(uint64_t base, long d, int merge)
{
	size_t n = 0;

	for (long i = 0; i < d; n++) {
		long j = i + 1;

		while (merge && j < d && idx[j] == idx[j - 1] + 1)
			j++;
		liov[n].iov_base = image + (size_t)i * PAGE;
		liov[n].iov_len = (j - i) * PAGE;
		riov[n].iov_base = (void *)(uintptr_t)(base + (uint64_t)idx[i] * PAGE);
		riov[n].iov_len = (j - i) * PAGE;
		i = j;
	}
	return n;
}

static void pvw(size_t n)
{
	for (size_t i = 0; i < n; i += IOV_BATCH) {
		size_t k = n - i < IOV_BATCH ? n - i : IOV_BATCH, want = 0;
		ssize_t got;

		for (size_t j = 0; j < k; j++)
			want += liov[i + j].iov_len;
		got = process_vm_writev(child, liov + i, k, riov + i, k, 0);
		if (got != (ssize_t)want)
			die("process_vm_writev wrote %zd of %zu: %s", got, want,
			    got < 0 ? strerror(errno) : "partial");
	}
}

/* The iovecs are built inside the timing: the daemon builds them too. */
static uint64_t m_pvw_page(long d)
{
	uint64_t t0 = rw_now_ns();

	pvw(build_iov(big_remote, d, 0));
	return rw_now_ns() - t0;
}

static uint64_t m_pvw_merged(long d)
{
	uint64_t t0 = rw_now_ns();

	pvw(build_iov(big_remote, d, 1));
	return rw_now_ns() - t0;
}

static uint64_t m_procmem(long d)
{
	uint64_t t0 = rw_now_ns();
	size_t n = build_iov(big_remote, d, 1);

	for (size_t i = 0; i < n; i++)
		if (pwrite(memfd_mem, liov[i].iov_base, liov[i].iov_len,
			   (off_t)(uintptr_t)riov[i].iov_base) != (ssize_t)liov[i].iov_len)
			die_errno("pwrite /proc/%d/mem", child);
	return rw_now_ns() - t0;
}

/* The target's own time for its copy loop, without the round trip. */
static uint64_t tgt_inner;

static uint64_t m_tgt_premapped(long d)
{
	uint64_t t0 = rw_now_ns();
	long r = command(OP_COPY, d);

	if (r < 0)
		die("target copy failed");
	tgt_inner = r;
	return rw_now_ns() - t0;
}

static uint64_t m_tgt_map(long d)
{
	uint64_t t0 = rw_now_ns();
	long r = command(OP_MAP_COPY, d);

	if (r)
		die("target map+copy failed: %s", strerror(-r));
	return rw_now_ns() - t0;
}

static uint64_t m_uffd_copy(long d)
{
	uint64_t t0 = rw_now_ns();
	long r = command(OP_DROP, d);
	size_t n;

	if (r < 0)
		die("target process_madvise(MADV_DONTNEED) failed: %s", strerror(-r));
	n = build_iov(big_remote, d, 1);
	for (size_t i = 0; i < n; i++) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)riov[i].iov_base,
			.src = (uintptr_t)liov[i].iov_base,
			.len = liov[i].iov_len,
		};

		if (ioctl(uffd, UFFDIO_COPY, &c) || c.copy != (int64_t)c.len)
			die("UFFDIO_COPY %#llx+%llu: %s (copied %lld)", (unsigned long long)c.dst,
			    (unsigned long long)c.len, strerror(errno), (long long)c.copy);
	}
	return rw_now_ns() - t0;
}

struct method {
	const char *name;
	uint64_t (*fn)(long d);
};

static const struct method methods[] = {
	{ "memcpy", m_memcpy },
	{ "pvw/page", m_pvw_page },
	{ "pvw/merged", m_pvw_merged },
	{ "/proc/pid/mem", m_procmem },
	{ "tgt/premapped", m_tgt_premapped },
	{ "tgt/map+unmap", m_tgt_map },
	{ "dontneed+uffd", m_uffd_copy },
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* --- the page sets ------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void shuffle(uint32_t *perm, size_t n)
{
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = xorshift() % (i + 1);
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The D-set: the first d pages of a fixed permutation (sets nest), sorted. */
static void choose(const uint32_t *perm, long d)
{
	memcpy(idx, perm, d * sizeof(*idx));
	qsort(idx, d, sizeof(*idx), cmp_u32);
	memcpy(table, idx, d * sizeof(*idx));
}

static long runs(long d)
{
	long n = d > 0;

	for (long i = 1; i < d; i++)
		n += idx[i] != idx[i - 1] + 1;
	return n;
}

/* --- checks ---------------------------------------------------------------- */

static void stamp(long d, uint64_t tag)
{
	for (long i = 0; i < d; i++) {
		uint64_t *p = (uint64_t *)(image + (size_t)i * PAGE);

		p[0] = tag ^ i;
		p[PAGE / 8 - 1] = ~tag ^ i;
		p[i % (PAGE / 8)] = tag + i;
	}
}

static void check(const struct method *m, long d, char *buf)
{
	for (long i = 0; i < d; i += IOV_BATCH) {
		long k = d - i < IOV_BATCH ? d - i : IOV_BATCH;
		struct iovec l = { buf, k * PAGE }, r[IOV_BATCH];

		if (m->fn == m_memcpy) {
			for (long j = 0; j < k; j++)
				memcpy(buf + j * PAGE, local_dst + (size_t)idx[i + j] * PAGE, PAGE);
		} else {
			for (long j = 0; j < k; j++) {
				r[j].iov_base = (void *)(uintptr_t)(big_remote +
								     (uint64_t)idx[i + j] * PAGE);
				r[j].iov_len = PAGE;
			}
			if (process_vm_readv(child, &l, 1, r, k, 0) != (ssize_t)(k * PAGE))
				die_errno("process_vm_readv");
		}
		if (memcmp(buf, image + (size_t)i * PAGE, k * PAGE))
			die("%s: D=%ld: the target's pages differ from the image after the copy",
			    m->name, d);
	}
}

/* --- PAGEMAP_SCAN -------------------------------------------------------- */

static int pagemap;

/* One scan of [start, end) for written pages; returns the pages found. */
static long scan(uint64_t start, uint64_t end, int rearm, uint64_t *ns)
{
	static struct page_region vec[512];
	uint64_t t0 = rw_now_ns();
	long pages = 0;

	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = rearm ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : 0,
			.start = start,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = 512,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		int n = ioctl(pagemap, PAGEMAP_SCAN, &a);

		if (n < 0)
			die_errno("PAGEMAP_SCAN");
		for (int i = 0; i < n; i++)
			pages += (vec[i].end - vec[i].start) / PAGE;
		if (a.walk_end <= start)
			die("PAGEMAP_SCAN made no progress");
		start = a.walk_end;
	}
	*ns = rw_now_ns() - t0;
	return pages;
}

/* --- driver -------------------------------------------------------------- */

/*
 * Before each timed copy: write 64 MiB elsewhere, here and in the target (the
 * two may run on CPUs that do not share a cache), so every method starts with
 * the image and the destination out of the caches and the TLB, as a rewind
 * after an invocation does, and none inherits a warm image from the method
 * before it.
 */
static char *evict_buf;

static void evict(void)
{
	command(OP_EVICT, 0);
	memset(evict_buf, (int)(rw_now_ns() & 0xff), EVICT_BYTES);
}

static const long Ds[] = { 1, 10, 100, 1000, 10000, 100000 };
#define NDS (sizeof(Ds) / sizeof(Ds[0]))

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 100000)
		snprintf(buf, len, "%.2fus", ns / 1e3);
	else
		snprintf(buf, len, "%.2fms", ns / 1e6);
}

int main(int argc, char **argv)
{
	long max_d = argc > 1 ? atol(argv[1]) : (long)MAX_D;
	int reps = getenv("REPS") ? atoi(getenv("REPS")) : 9;
	static uint64_t med[NDS][NMETHODS], t[64][NMETHODS], inner[NDS], in[64];
	uint32_t *perm = malloc(BIG_PAGES * sizeof(*perm));
	uint32_t *sperm = malloc(SMALL_PAGES * sizeof(*sperm));
	long nruns[NDS];
	int cp[2], rp[2], pidfd;
	struct hello h;
	uint64_t nop[64];
	char path[64], *buf;

	if (reps < 1 || reps > 64 || max_d < 1 || max_d > (long)MAX_D)
		die("REPS must be 1..64 and MAX_D 1..%lu", MAX_D);
	if (geteuid())
		die("needs root (pidfd_getfd, /proc/PID/mem)");
	setvbuf(stdout, NULL, _IOLBF, 0);
	idx = malloc(MAX_D * sizeof(*idx));
	liov = malloc(MAX_D * sizeof(*liov));
	riov = malloc(MAX_D * sizeof(*riov));
	buf = malloc(IOV_BATCH * PAGE);
	if (!perm || !sperm || !idx || !liov || !riov || !buf)
		die("out of memory");

	memfd = memfd_create("copypath-image", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, TABLE_BYTES + MAX_D * PAGE))
		die_errno("memfd");
	table = mmap(NULL, TABLE_BYTES + MAX_D * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     memfd, 0);
	if (table == MAP_FAILED)
		die_errno("mmap memfd");
	image = (char *)table + TABLE_BYTES;
	for (size_t i = 0; i < MAX_D * PAGE; i += 8)
		*(uint64_t *)(image + i) = i * 0x9e3779b97f4a7c15ull;

	if (pipe(cp) || pipe(rp))
		die_errno("pipe");
	child = fork();
	if (child < 0)
		die_errno("fork");
	if (!child) {
		close(cp[1]);
		close(rp[0]);
		target(cp[0], rp[1]);
	}
	close(cp[0]);
	close(rp[1]);
	cmd_w = cp[1];
	rsp_r = rp[0];
	xread(rsp_r, &h, sizeof(h));
	big_remote = h.big;
	small_remote = h.small;
	pidfd = syscall(SYS_pidfd_open, child, 0);
	uffd = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, h.uffd, 0);
	if (uffd < 0)
		die_errno("pidfd_getfd of the target's userfaultfd");
	snprintf(path, sizeof(path), "/proc/%d/mem", child);
	memfd_mem = open(path, O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", child);
	pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (memfd_mem < 0 || pagemap < 0)
		die_errno("open /proc/%d/{mem,pagemap}", child);
	local_dst = map_anon(BIG_PAGES * PAGE);
	evict_buf = map_anon(EVICT_BYTES);
	shuffle(perm, BIG_PAGES);
	shuffle(sperm, SMALL_PAGES);

	printf("\ncopy path study: D scattered 4 KiB pages into a 1 GiB pre-faulted private region "
	       "of a process blocked in read(2)\n");
	printf("median of %d rounds (method order alternates), client-side wall time per copy, "
	       "caches and TLB cold (64 MiB written elsewhere, here and in the target, before each copy)\n", reps);

	/* Remote MADV_DONTNEED is not allowed: only the target itself can drop pages. */
	{
		struct iovec iov = { (void *)(uintptr_t)big_remote, PAGE };
		long r = syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_DONTNEED, 0);

		printf("probe: process_madvise(target, MADV_DONTNEED) from outside: %s\n",
		       r < 0 ? strerror(errno) : "allowed");
	}

	for (size_t di = 0; di < NDS && Ds[di] <= max_d; di++) {
		long d = Ds[di];

		choose(perm, d);
		nruns[di] = runs(d);
		/* Check every method once: stamp, copy, read back, compare. */
		for (size_t m = 0; m < NMETHODS; m++) {
			stamp(d, (uint64_t)(di * NMETHODS + m + 1) << 40);
			methods[m].fn(d);
			check(&methods[m], d, buf);
		}
		for (int r = 0; r < reps; r++)
			for (size_t k = 0; k < NMETHODS; k++) {
				size_t m = r & 1 ? NMETHODS - 1 - k : k;

				evict();
				t[r][m] = methods[m].fn(d);
				if (methods[m].fn == m_tgt_premapped)
					in[r] = tgt_inner;
			}
		inner[di] = bench_median(in, reps);
		for (size_t m = 0; m < NMETHODS; m++) {
			uint64_t v[64];

			for (int r = 0; r < reps; r++)
				v[r] = t[r][m];
			med[di][m] = bench_median(v, reps);
		}
	}
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = rw_now_ns();

		command(OP_NOP, 0);
		nop[r] = rw_now_ns() - t0;
	}

	printf("\n%-8s %8s", "D", "runs");
	for (size_t m = 0; m < NMETHODS; m++)
		printf(" %14s", methods[m].name);
	printf(" %14s\n", "(tgt loop)");
	for (size_t di = 0; di < NDS && Ds[di] <= max_d; di++) {
		char s[32];

		printf("%-8ld %8ld", Ds[di], nruns[di]);
		for (size_t m = 0; m < NMETHODS; m++) {
			fmt_ns(s, sizeof(s), med[di][m]);
			printf(" %14s", s);
		}
		fmt_ns(s, sizeof(s), inner[di]);
		printf(" %14s\n%-8s %8s", s, "", "/memcpy");
		for (size_t m = 0; m < NMETHODS; m++)
			printf(" %14.2f", (double)med[di][m] / med[di][0]);
		printf(" %14.2f\n", (double)inner[di] / med[di][0]);
	}
	printf("tgt/* include one command round trip over pipes: %.1f us median (a real "
	       "in-target restorer is reached by ptrace injection instead);\n(tgt loop) is the "
	       "target's own time for its copy loop, without the round trip\n",
	       bench_median(nop, reps) / 1e3);

	/*
	 * Write-protected destination: re-arm the written pages (PAGEMAP_SCAN
	 * with WP_MATCHING), copy (each first write takes a wp fault), copy the
	 * same pages again (no fault).
	 */
	printf("\nwrites into write-protected pages (uffd async WP armed) vs pages already "
	       "written, median of %d\n", reps);
	printf("%-8s %12s %12s %8s %10s   %12s %12s %8s %10s\n", "D", "pvw armed", "pvw plain",
	       "ratio", "ns/fault", "tgt armed", "tgt plain", "ratio", "ns/fault");
	{
		uint64_t ns;

		scan(big_remote, big_remote + BIG_PAGES * PAGE, 1, &ns);
	}
	for (size_t di = 0; di < NDS && Ds[di] <= max_d; di++) {
		static const int wm[2] = { 2, 4 };	/* pvw/merged, tgt/premapped */
		uint64_t a[2][64], p[2][64], ma[2], mp[2], ns;
		long d = Ds[di];

		choose(perm, d);
		for (int r = 0; r < reps; r++)
			for (int k = 0; k < 2; k++) {
				int w = r & 1 ? 1 - k : k;

				scan(big_remote, big_remote + BIG_PAGES * PAGE, 1, &ns);
				evict();
				a[w][r] = methods[wm[w]].fn(d);
				evict();
				p[w][r] = methods[wm[w]].fn(d);
			}
		for (int w = 0; w < 2; w++) {
			ma[w] = bench_median(a[w], reps);
			mp[w] = bench_median(p[w], reps);
		}
		printf("%-8ld", d);
		for (int w = 0; w < 2; w++) {
			char s1[32], s2[32];

			fmt_ns(s1, sizeof(s1), ma[w]);
			fmt_ns(s2, sizeof(s2), mp[w]);
			printf(" %12s %12s %8.2f %10.0f  ", s1, s2, (double)ma[w] / mp[w],
			       ((double)ma[w] - mp[w]) / d);
		}
		printf("\n");
	}

	/* PAGEMAP_SCAN cost: D written pages, scan without, then with re-arm. */
	printf("\nPAGEMAP_SCAN of a registered region with D written pages, median of %d\n", reps);
	printf("%-8s %-8s %14s %16s %10s\n", "region", "D", "scan", "scan+re-arm", "found");
	for (int big = 0; big < 2; big++) {
		uint64_t base = big ? big_remote : small_remote;
		uint64_t len = (big ? BIG_PAGES : SMALL_PAGES) * PAGE, ns;
		long dlist[NDS + 1] = { 0 };
		size_t nd = 1;

		for (size_t di = 0; di < NDS; di++)
			if (Ds[di] <= max_d && (unsigned long)Ds[di] <= (big ? BIG_PAGES : SMALL_PAGES))
				dlist[nd++] = Ds[di];
		scan(base, base + len, 1, &ns);
		for (size_t di = 0; di < nd; di++) {
			uint64_t s[64], w[64];
			long d = dlist[di], found = 0, f;
			char s1[32], s2[32];

			choose(big ? perm : sperm, d);
			for (int r = 0; r < reps; r++) {
				if (d)
					pvw(build_iov(base, d, 1));
				found = scan(base, base + len, 0, &s[r]);
				f = scan(base, base + len, 1, &w[r]);
				if (f != found)
					die("scan found %ld written pages, scan+re-arm %ld", found, f);
			}
			fmt_ns(s1, sizeof(s1), bench_median(s, reps));
			fmt_ns(s2, sizeof(s2), bench_median(w, reps));
			printf("%-8s %-8ld %14s %16s %10ld%s\n", big ? "1 GiB" : "64 MiB", d, s1, s2,
			       found, found == d ? "" : "  (!= D)");
		}
	}

	{
		struct cmd c = { OP_EXIT, 0 };

		xwrite(cmd_w, &c, sizeof(c));
	}
	waitpid(child, NULL, 0);
	return 0;
}
