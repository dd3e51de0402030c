// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rewind tests in the shape of CRIU's zdtm: one program, one scenario per
 * run (zdtm SCENARIO). A scenario sets up its state, records what it must
 * find after a rewind and writes "ready ...". Then, per line on the command
 * channel:
 *   go     performs the invocation's mutations, writes "done ..."
 *   check  compares the state with the record: "pass" or "fail WHY"
 *   exit   ends
 * After go + rewind, check must pass; after go alone it must fail.
 *
 * Every check first compares what every scenario shares (the layout in
 * /proc/self/maps, the open fds and the thread ids), then the scenario's own
 * state, so a check never reads memory that is no longer mapped.
 */
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "handshake.h"

#define PAGE 4096UL
#define MIB (1024UL * 1024UL)
/* How long a check waits for a thread before it calls it dead. */
#define ANSWER_TIMEOUT_MS 10000

static int cmd_fd;		/* where commands come from (dup2_stdin moves it) */
static char ready_info[128];	/* what "ready" says besides the name and pid */
static char done_msg[128];	/* what "done" says after the invocation */
static char why[512];		/* the first difference a check found */
static int failed;

static void die(const char *what)
{
	say("error %s: %s", what, strerror(errno));
	exit(2);
}

/* Records the first difference only: that is the one worth reading. */
static void differ(const char *fmt, ...)
{
	va_list ap;

	if (failed)
		return;
	failed = 1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	for (char *p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

static void done(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(done_msg, sizeof(done_msg), fmt, ap);
	va_end(ap);
}

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A whole (small) file into buf, NUL-terminated; its length or -1. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n < size - 1) {
		r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static unsigned char pat(size_t i, unsigned int seed)
{
	return (unsigned char)(i * 31 + seed * 7 + (i >> 12));
}

static void fill(char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(i, seed);
}

/* Checks what fill() wrote; names the first differing byte. */
static void check_fill(const char *what, const char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] != pat(i, seed)) {
			differ("%s: byte %#zx (page %zu) is %#x, want %#x", what, i, i / PAGE,
			       (unsigned char)p[i], pat(i, seed));
			return;
		}
}

/* ---- what every check compares ------------------------------------------------- */

#define MAPS_MAX (256 * 1024)
static char maps_want[MAPS_MAX], maps_now[MAPS_MAX];
#define LIST_MAX (16 * 1024)
static char fds_want[LIST_MAX], fds_now[LIST_MAX];
static char tids_want[LIST_MAX], tids_now[LIST_MAX];

static void snap_maps(char *buf)
{
	if (read_file("/proc/self/maps", buf, MAPS_MAX) < 0)
		die("/proc/self/maps");
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * "N:target\n" per fd (fds) or "N\n" per thread (tids), in directory order,
 * which for /proc is numeric. The directory's own fd is left out.
 */
static void snap_dir(const char *dir, char *buf, int links)
{
	char ents[4096], path[64], target[256];
	size_t n = 0;
	long r;
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (d < 0)
		die(dir);
	buf[0] = '\0';
	while ((r = syscall(SYS_getdents64, d, ents, sizeof(ents))) > 0) {
		for (long off = 0; off < r;) {
			struct linux_dirent64 *e = (void *)(ents + off);
			ssize_t t = 0;

			off += e->d_reclen;
			if (e->d_name[0] == '.' || (links && atoi(e->d_name) == d))
				continue;
			if (links) {
				snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
				t = readlink(path, target, sizeof(target) - 1);
				if (t < 0)
					t = 0;
			}
			target[t] = '\0';
			n += snprintf(buf + n, LIST_MAX - n, "%s%s%s\n", e->d_name, links ? ":" : "",
				      target);
			if (n >= LIST_MAX)
				die("snapshot too long");
		}
	}
	close(d);
}

static void snap_all(char *maps, char *fds, char *tids)
{
	snap_maps(maps);
	snap_dir("/proc/self/fd", fds, 1);
	snap_dir("/proc/self/task", tids, 0);
}

/* Whether text holds a line equal to line[0..len). */
static int has_line(const char *text, const char *line, int len)
{
	for (const char *l = text; *l;) {
		const char *eol = strchrnul(l, '\n');

		if (eol - l == len && !memcmp(l, line, len))
			return 1;
		l = *eol ? eol + 1 : eol;
	}
	return 0;
}

/* The first line of a that b lacks: its length, or -1 (*at set to it). */
static int first_missing(const char *a, const char *b, const char **at)
{
	for (const char *l = a; *l;) {
		const char *eol = strchrnul(l, '\n');

		if (!has_line(b, l, eol - l)) {
			*at = l;
			return eol - l > 150 ? 150 : eol - l;
		}
		l = *eol ? eol + 1 : eol;
	}
	*at = "";
	return -1;
}

/* Two line-oriented snapshots: names a line that is gone and one that is new. */
static void compare_lines(const char *what, const char *want, const char *now)
{
	const char *gone, *added;
	int gl, al;

	if (!strcmp(want, now))
		return;
	gl = first_missing(want, now, &gone);
	al = first_missing(now, want, &added);
	if (gl < 0 && al < 0)
		differ("%s: the same lines, reordered or repeated", what);
	else if (al < 0)
		differ("%s: gone '%.*s'", what, gl, gone);
	else if (gl < 0)
		differ("%s: new '%.*s'", what, al, added);
	else
		differ("%s: gone '%.*s', new '%.*s'", what, gl, gone, al, added);
}

static void check_common(void)
{
	snap_all(maps_now, fds_now, tids_now);
	compare_lines("threads (/proc/self/task)", tids_want, tids_now);
	compare_lines("fds (/proc/self/fd)", fds_want, fds_now);
	compare_lines("layout (/proc/self/maps)", maps_want, maps_now);
}

/* The syscall a thread is blocked in (/proc/self/task/TID/syscall), -1 if running. */
static long blocked_in(pid_t tid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	return atol(buf);
}

/* Waits (yielding, bounded) until tid blocks in one of the syscalls nr[0..n). */
static int wait_blocked(pid_t tid, const long *nr, int n)
{
	long deadline = now_ms() + ANSWER_TIMEOUT_MS;

	while (now_ms() < deadline) {
		long s = blocked_in(tid);

		for (int i = 0; i < n; i++)
			if (s == nr[i])
				return 0;
		sched_yield();
	}
	return -1;
}

static long futex(volatile uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static const long nr_futex[] = { SYS_futex };

/* ---- counter: a global ------------------------------------------------------- */

static volatile long counter;
static long counter_want;

static void counter_setup(void)
{
	counter = 1000;
	counter_want = counter;
}

static void counter_go(void)
{
	counter++;
	done("%ld", counter);
}

static void counter_check(void)
{
	if (counter != counter_want)
		differ("counter is %ld, want %ld", counter, counter_want);
}

/* ---- heap: malloc/free churn of many sizes ------------------------------------- */

#define HEAP_N 256
#define CHURN_N 600
static char *heap_blk[HEAP_N];
static size_t heap_len[HEAP_N];
static char *churn[CHURN_N];
static int churn_n;
static struct mallinfo2 heap_mi_want;
static void *heap_brk_want;

static void heap_setup(void)
{
	for (int i = 0; i < HEAP_N; i++) {
		heap_len[i] = 16 + (size_t)(i * 97 % 4000) * (i % 7 + 1);
		heap_blk[i] = malloc(heap_len[i]);
		if (!heap_blk[i])
			die("malloc");
		fill(heap_blk[i], heap_len[i], i);
	}
	for (int i = 0; i < HEAP_N; i += 4) {	/* holes in the heap */
		free(heap_blk[i]);
		heap_blk[i] = NULL;
	}
	free(malloc(1000));	/* the check's own malloc finds its chunk cached */
	heap_mi_want = mallinfo2();
	heap_brk_want = sbrk(0);
}

static void heap_go(void)
{
	for (int i = 1; i < HEAP_N; i += 3) {
		if (i % 4 == 0)
			continue;
		free(heap_blk[i]);
		heap_blk[i] = NULL;
	}
	for (int i = 2; i < HEAP_N; i += 8) {
		if (i % 4 == 0 || !heap_blk[i])
			continue;
		heap_blk[i] = realloc(heap_blk[i], heap_len[i] * 3);
		memset(heap_blk[i], 'S', heap_len[i] * 3);
	}
	for (int i = 0; i < CHURN_N; i++) {
		size_t len = 8 + (size_t)i * 163 % (100 * 1024);

		churn[churn_n] = malloc(len);
		memset(churn[churn_n], 'S', len);
		if (i % 2)
			free(churn[churn_n]);
		else
			churn_n++;
	}
	done("%d", churn_n);
}

static void heap_check(void)
{
	struct mallinfo2 mi = mallinfo2();
	char *p;

	if (churn_n)
		differ("heap: %d blocks of the invocation are still allocated", churn_n);
	for (int i = 0; i < HEAP_N && !failed; i++) {
		if (i % 4 == 0) {
			if (heap_blk[i])
				differ("heap: block %d should be free", i);
		} else if (!heap_blk[i]) {
			differ("heap: block %d was freed", i);
		} else {
			check_fill("heap block", heap_blk[i], heap_len[i], i);
		}
	}
	if (mi.arena != heap_mi_want.arena || mi.uordblks != heap_mi_want.uordblks ||
	    mi.ordblks != heap_mi_want.ordblks || mi.hblks != heap_mi_want.hblks)
		differ("mallinfo2: arena %zu in use %zu free chunks %zu mmapped %zu, want %zu %zu %zu %zu",
		       mi.arena, mi.uordblks, mi.ordblks, mi.hblks, heap_mi_want.arena,
		       heap_mi_want.uordblks, heap_mi_want.ordblks, heap_mi_want.hblks);
	if (sbrk(0) != heap_brk_want)
		differ("heap: sbrk(0) %p, want %p", sbrk(0), heap_brk_want);
	if (failed)
		return;
	/* malloc still works (same size every time: the check is repeatable). */
	p = malloc(1000);
	if (!p)
		differ("malloc after the rewind failed");
	else
		memset(p, 1, 1000);
	free(p);
}

/* ---- stack_secret: a secret in a deep stack frame ------------------------------- */

static const char stack_secret[] = "zdtm-stack-secret-4f1c9a";

static void __attribute__((noinline)) stack_deep(void)
{
	char buf[16384];

	for (size_t off = 0; off + sizeof(stack_secret) <= sizeof(buf); off += sizeof(stack_secret))
		memcpy(buf + off, stack_secret, sizeof(stack_secret));
	__asm__ volatile("" : : "r"(buf) : "memory");
}

static void stack_setup(void)
{
}

static void stack_go(void)
{
	stack_deep();
	done("");
}

/* Finds the secret anywhere in [stack] (the needle itself lives in .rodata). */
static void stack_check(void)
{
	unsigned long lo = 0, hi = 0;
	const char *line = maps_now, *p;
	size_t len = sizeof(stack_secret) - 1;

	for (; *line; line = strchrnul(line, '\n') + 1) {
		const char *eol = strchrnul(line, '\n');

		if (eol - line > 7 && !memcmp(eol - 7, "[stack]", 7)) {
			lo = strtoul(line, NULL, 16);
			hi = strtoul(strchr(line, '-') + 1, NULL, 16);
			break;
		}
		if (!*eol)
			break;
	}
	if (!lo) {
		differ("no [stack] in /proc/self/maps");
		return;
	}
	for (p = (const char *)lo; p + len <= (const char *)hi; p++) {
		size_t i = 0;

		while (i < len && p[i] == stack_secret[i])
			i++;
		if (i == len) {
			differ("stack secret found at %p", (void *)p);
			return;
		}
	}
}

/* ---- setenv --------------------------------------------------------------------- */

static int env_count_want;

static int env_count(void)
{
	extern char **environ;
	int n = 0;

	while (environ[n])
		n++;
	return n;
}

static void setenv_setup(void)
{
	if (setenv("ZDTM_BASE", "before", 1))
		die("setenv");
	env_count_want = env_count();
}

static void setenv_go(void)
{
	setenv("ZDTM_SECRET", "tok_zdtm_secret_771d", 1);
	setenv("ZDTM_BASE", "changed-by-the-invocation-to-a-longer-value", 1);
	done("");
}

static void setenv_check(void)
{
	const char *s = getenv("ZDTM_SECRET"), *b = getenv("ZDTM_BASE");

	if (s)
		differ("ZDTM_SECRET=%s", s);
	else if (!b || strcmp(b, "before"))
		differ("ZDTM_BASE=%s, want before", b ? b : "(unset)");
	else if (env_count() != env_count_want)
		differ("%d environment variables, want %d", env_count(), env_count_want);
}

/* ---- malloc_mmap: a malloc large enough to be its own mmap ---------------------- */

static char *big;

static void malloc_mmap_setup(void)
{
	free(malloc(100));	/* the arena exists before the checkpoint */
}

static void malloc_mmap_go(void)
{
	big = malloc(8 * MIB);
	if (!big)
		die("malloc");
	memset(big, 'B', 8 * MIB);
	done("%lx", (unsigned long)big);
}

static void malloc_mmap_check(void)
{
	if (big)
		differ("the invocation's malloc is still there: %p", big);
}

/* ---- munmap / mremap / mprotect / madvise of a checkpointed region -------------- */

#define REG_PAGES 16
static char *reg;
static char *reg_now;		/* where the invocation left the region */

static void region_setup(void)
{
	reg = map_anon(REG_PAGES * PAGE);
	reg_now = reg;
	fill(reg, REG_PAGES * PAGE, 5);
}

static void region_check(void)
{
	if (reg_now != reg)
		differ("region moved from %p to %p", reg, reg_now);
	else
		check_fill("region", reg, REG_PAGES * PAGE, 5);
}

static void munmap_go(void)
{
	if (munmap(reg + 4 * PAGE, 8 * PAGE))
		die("munmap");
	done("%lx", (unsigned long)(reg + 4 * PAGE));
}

/* Room behind the region, so the invocation grows it in place. */
static void mremap_grow_setup(void)
{
	reg = map_anon(64 * REG_PAGES * PAGE);
	if (munmap(reg + REG_PAGES * PAGE, 63 * REG_PAGES * PAGE))
		die("munmap");
	reg_now = reg;
	fill(reg, REG_PAGES * PAGE, 5);
}

static void mremap_grow_go(void)
{
	char *p = mremap(reg, REG_PAGES * PAGE, 64 * REG_PAGES * PAGE, 0);

	if (p == MAP_FAILED)	/* no room in place */
		p = mremap(reg, REG_PAGES * PAGE, 64 * REG_PAGES * PAGE, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		die("mremap");
	for (size_t i = REG_PAGES; i < 64 * REG_PAGES; i++)
		p[i * PAGE] = 'G';
	p[0] = 'G';
	reg_now = p;
	done("%lx", (unsigned long)p);
}

static void mremap_move_go(void)
{
	char *dst = map_anon(REG_PAGES * PAGE);
	char *p = mremap(reg, REG_PAGES * PAGE, REG_PAGES * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);

	if (p == MAP_FAILED)
		die("mremap");
	p[0] = 'M';
	reg_now = p;
	done("%lx", (unsigned long)p);
}

static void mprotect_go(void)
{
	if (mprotect(reg + PAGE, 2 * PAGE, PROT_READ))
		die("mprotect");
	done("");
}

static void mprotect_check(void)
{
	volatile char *p = reg + PAGE;

	region_check();
	if (failed)
		return;
	/* Writable again (the layout check already compared the permissions). */
	*p ^= 0x5a;
	*p ^= 0x5a;
}

static void dontneed_go(void)
{
	if (madvise(reg, REG_PAGES * PAGE, MADV_DONTNEED))
		die("madvise");
	done("");
}

/*
 * hot_pages: what each invocation does comes from the file $ZDTM_CTL (outside
 * the memory a rewind restores): 'w' writes the whole region, 'h' its first
 * half, 'd' drops it (MADV_DONTNEED), anything else nothing. Pages written
 * by consecutive invocations are left unprotected by rewindd: they must come
 * back all the same, written again, untouched, or dropped.
 */
static void hot_go(void)
{
	const char *ctl = getenv("ZDTM_CTL");
	char c = 'n';
	int fd = ctl ? open(ctl, O_RDONLY) : -1;

	if (fd < 0 || read(fd, &c, 1) != 1)
		die("reading $ZDTM_CTL");
	close(fd);
	if (c == 'w' || c == 'h')
		fill(reg, (c == 'w' ? REG_PAGES : REG_PAGES / 2) * PAGE, 9);
	else if (c == 'd' && madvise(reg, REG_PAGES * PAGE, MADV_DONTNEED))
		die("madvise");
	done("%c", c);
}

/* ---- brk ------------------------------------------------------------------------ */

#define BRK_PAGES 64
static void *brk_want, *sbrk_want;
static char *brk_base;

static void *kernel_brk(void)
{
	return (void *)syscall(SYS_brk, 0);
}

static void brk_grow_setup(void)
{
	free(malloc(100));
	brk_want = kernel_brk();
	sbrk_want = sbrk(0);
}

static void brk_grow_go(void)
{
	char *old = sbrk(BRK_PAGES * PAGE);

	if (old == (void *)-1)
		die("sbrk");
	for (size_t i = 0; i < BRK_PAGES; i++)
		old[i * PAGE] = 'b';
	done("%lx", (unsigned long)old);
}

static void brk_check(void)
{
	if (kernel_brk() != brk_want)
		differ("brk is %p, want %p", kernel_brk(), brk_want);
	else if (sbrk(0) != sbrk_want)
		differ("sbrk(0) is %p, want %p", sbrk(0), sbrk_want);
	else if (brk_base)
		check_fill("brk area", brk_base, BRK_PAGES * PAGE, 9);
}

static void brk_shrink_setup(void)
{
	free(malloc(100));
	brk_base = sbrk(BRK_PAGES * PAGE);
	if (brk_base == (void *)-1)
		die("sbrk");
	fill(brk_base, BRK_PAGES * PAGE, 9);
	brk_want = kernel_brk();
	sbrk_want = sbrk(0);
}

static void brk_shrink_go(void)
{
	if (sbrk(-(intptr_t)(BRK_PAGES / 2 * PAGE)) == (void *)-1)
		die("sbrk");
	done("%lx", (unsigned long)sbrk(0));
}

/* ---- thp: a region backed by transparent huge pages ------------------------------ */

#define HUGE (2 * MIB)
static char *thp;

/* AnonHugePages (kB) of the vma at addr, from /proc/self/smaps. */
static long anon_huge_kb(void *addr)
{
	static char smaps[1024 * 1024];
	char key[32];
	const char *l;

	if (read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		return -1;
	snprintf(key, sizeof(key), "%lx-", (unsigned long)addr);
	for (l = smaps; *l; l = strchrnul(l, '\n') + 1) {
		if (!strncmp(l, key, strlen(key)))
			break;
		if (!*strchrnul(l, '\n'))
			return -1;
	}
	l = strstr(l, "AnonHugePages:");
	return l ? atol(l + 14) : -1;
}

static void thp_setup(void)
{
	char *raw = map_anon(3 * HUGE);

	thp = (char *)(((unsigned long)raw + HUGE - 1) & ~(HUGE - 1));
	if (madvise(thp, HUGE, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	fill(thp, HUGE, 11);
	snprintf(ready_info, sizeof(ready_info), "AnonHugePages=%ldkB", anon_huge_kb(thp));
}

static void thp_go(void)
{
	for (size_t i = 0; i < HUGE; i += PAGE)
		thp[i + 7] = 'H';
	memset(thp + 64 * 1024, 'H', 64 * 1024);
	done("%lx", (unsigned long)thp);
}

static void thp_check(void)
{
	check_fill("THP region", thp, HUGE, 11);
}

/* ---- kernel_write: read(2) into checkpointed memory ------------------------------ */

static void kernel_write_go(void)
{
	char src[3000];
	int p[2], z;

	memset(src, 'K', sizeof(src));
	if (pipe(p) || write(p[1], src, sizeof(src)) != sizeof(src) ||
	    read(p[0], reg + PAGE + 100, sizeof(src)) != sizeof(src))
		die("pipe");
	close(p[0]);
	close(p[1]);
	z = open("/dev/zero", O_RDONLY);
	if (z < 0 || read(z, reg + 3 * PAGE, 2 * PAGE) != 2 * PAGE)
		die("/dev/zero");
	close(z);
	done("");
}

/* ---- threads left behind by the invocation --------------------------------------- */

static volatile long spin_count;
static volatile pid_t new_tid;
static volatile uint32_t block_word;

static void *spinner(void *arg)
{
	new_tid = gettid_();
	for (;;)
		spin_count++;
	return arg;
}

static void *blocker(void *arg)
{
	new_tid = gettid_();
	for (;;)
		futex(&block_word, FUTEX_WAIT_PRIVATE, 0);
	return arg;
}

static void start_thread(void *(*fn)(void *))
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, NULL))
		die("pthread_create");
	pthread_detach(t);
	while (!new_tid)	/* it publishes its tid first */
		sched_yield();
}

static void nothing(void)
{
}

static void thread_running_go(void)
{
	start_thread(spinner);
	while (!spin_count)
		sched_yield();
	done("%d", new_tid);
}

static void thread_blocked_go(void)
{
	start_thread(blocker);
	if (wait_blocked(new_tid, nr_futex, 1))
		die("thread never blocked");
	done("%d", new_tid);
}

static void new_thread_check(void)
{
	if (new_tid)
		differ("the invocation's thread %d is remembered", new_tid);
}

/* ---- thread_exit: a checkpoint thread exits during the invocation (fail closed) --- */

static volatile uint32_t exit_word;
static pthread_t exit_thread;
static volatile pid_t exit_tid;

static void *exiter(void *arg)
{
	exit_tid = gettid_();
	while (!exit_word)
		futex(&exit_word, FUTEX_WAIT_PRIVATE, 0);
	return arg;
}

static void thread_exit_setup(void)
{
	if (pthread_create(&exit_thread, NULL, exiter, NULL))
		die("pthread_create");
	while (!exit_tid)
		sched_yield();
	if (wait_blocked(exit_tid, nr_futex, 1))
		die("thread never blocked");
}

static void thread_exit_go(void)
{
	pid_t tid = exit_tid;

	exit_word = 1;
	futex(&exit_word, FUTEX_WAKE_PRIVATE, 1);
	pthread_join(exit_thread, NULL);
	done("%d", tid);
}

/* ---- thread_pool: workers created before the checkpoint, waiting on a condvar ---- */

#define POOL_N 4
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done_cv = PTHREAD_COND_INITIALIZER;
static unsigned int pool_gen;
static int pool_probe_mode, pool_waiting, pool_finished;
static long pool_work[POOL_N], pool_probes[POOL_N];
static pid_t pool_tid[POOL_N];

static void *pool_worker(void *arg)
{
	int i = (int)(long)arg;
	unsigned int seen;

	pthread_mutex_lock(&pool_mu);
	pool_tid[i] = gettid_();
	seen = pool_gen;
	for (;;) {
		pool_waiting++;
		pthread_cond_broadcast(&pool_done_cv);
		while (pool_gen == seen)
			pthread_cond_wait(&pool_cv, &pool_mu);
		pool_waiting--;
		seen = pool_gen;
		if (pool_probe_mode)
			pool_probes[i]++;
		else
			pool_work[i] = 0x5ec7e7000L + seen;
		pool_finished++;
		pthread_cond_broadcast(&pool_done_cv);
	}
	return NULL;
}

/* Waits under pool_mu until cond holds; 0, or -1 after the timeout. */
static int pool_wait(int (*cond)(void))
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ANSWER_TIMEOUT_MS / 1000;
	while (!cond())
		if (pthread_cond_timedwait(&pool_done_cv, &pool_mu, &ts))
			return cond() ? 0 : -1;
	return 0;
}

static int pool_all_waiting(void)
{
	return pool_waiting == POOL_N;
}

static int pool_all_finished(void)
{
	return pool_finished == POOL_N;
}

/* Hands one job to every worker; returns once all did it and wait again. */
static int pool_dispatch(int probe)
{
	int err;

	pthread_mutex_lock(&pool_mu);
	err = pool_wait(pool_all_waiting);
	if (!err) {
		pool_probe_mode = probe;
		pool_finished = 0;
		pool_gen++;
		pthread_cond_broadcast(&pool_cv);
		err = pool_wait(pool_all_finished) || pool_wait(pool_all_waiting);
	}
	pthread_mutex_unlock(&pool_mu);
	return err ? -1 : 0;
}

static void thread_pool_setup(void)
{
	pthread_t t;

	for (long i = 0; i < POOL_N; i++)
		if (pthread_create(&t, NULL, pool_worker, (void *)i))
			die("pthread_create");
	pthread_mutex_lock(&pool_mu);
	if (pool_wait(pool_all_waiting))
		die("workers never waited");
	pthread_mutex_unlock(&pool_mu);
	/* Waiting counted means inside pthread_cond_wait: now in the futex. */
	for (int i = 0; i < POOL_N; i++)
		if (wait_blocked(pool_tid[i], nr_futex, 1))
			die("worker never blocked");
}

static void thread_pool_go(void)
{
	if (pool_dispatch(0))
		die("workers did not answer");
	done("%lx", pool_work[0]);
}

static void thread_pool_check(void)
{
	long before[POOL_N];

	for (int i = 0; i < POOL_N; i++)
		if (pool_work[i]) {
			differ("worker %d holds the invocation's result %#lx", i, pool_work[i]);
			return;
		}
	memcpy(before, pool_probes, sizeof(before));
	if (pool_dispatch(1)) {
		differ("the pool does not answer after the rewind (%d of %d waiting, %d finished)",
		       pool_waiting, POOL_N, pool_finished);
		return;
	}
	for (int i = 0; i < POOL_N; i++)
		if (pool_probes[i] != before[i] + 1)
			differ("worker %d answered %ld probes, want 1", i, pool_probes[i] - before[i]);
}

/* ---- fork_child: a child left running ------------------------------------------- */

static void fork_child_go(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* Never outlive the test; hold none of its pipes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		close(0);
		close(1);
		close(cmd_fd);
		for (;;)
			pause();
	}
	done("%d", pid);
}

/* No child at all: neither a live one nor a zombie. WNOWAIT: nothing reaped. */
static void fork_child_check(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
		if (si.si_pid)
			differ("a zombie child %d (exited with %d) waits to be reaped", si.si_pid,
			       si.si_status);
		else
			differ("a child is still running");
	} else if (errno != ECHILD) {
		differ("waitid: %s", strerror(errno));
	}
}

/* ---- fds -------------------------------------------------------------------------- */

static int off_fd = -1;

static void fd_new_go(void)
{
	int a = open("/dev/null", O_RDONLY), b = eventfd(0, 0), s[2];

	if (a < 0 || b < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s))
		die("open");
	done("%d %d %d %d", a, b, s[0], s[1]);
}

static void fd_offset_setup(void)
{
	char buf[8192];

	off_fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	if (off_fd < 0) {
		char name[] = "/tmp/zdtm-offset.XXXXXX";

		off_fd = mkstemp(name);
		if (off_fd < 0)
			die("mkstemp");
		unlink(name);
	}
	fill(buf, sizeof(buf), 3);
	if (write(off_fd, buf, sizeof(buf)) != sizeof(buf) || lseek(off_fd, 100, SEEK_SET) != 100)
		die("offset file");
}

static void fd_offset_go(void)
{
	char buf[10];

	if (lseek(off_fd, 5000, SEEK_SET) != 5000 || read(off_fd, buf, sizeof(buf)) != sizeof(buf))
		die("lseek");
	done("%ld", (long)lseek(off_fd, 0, SEEK_CUR));
}

static void fd_offset_check(void)
{
	off_t off = lseek(off_fd, 0, SEEK_CUR);

	if (off != 100)
		differ("fd %d offset is %ld, want 100", off_fd, (long)off);
}

/*
 * A pipe write end (rewindd does not hold those) made non-blocking with
 * ioctl(FIONBIO), as libuv does to stdout: the flag must come back off.
 */
static int nb_pipe[2];

static void pipe_nonblock_setup(void)
{
	if (pipe(nb_pipe))
		die("pipe");
}

static void pipe_nonblock_go(void)
{
	int one = 1;

	if (ioctl(nb_pipe[1], FIONBIO, &one))
		die("ioctl FIONBIO");
	done("%d", nb_pipe[1]);
}

static void pipe_nonblock_check(void)
{
	int flags = fcntl(nb_pipe[1], F_GETFL);

	if (flags < 0 || (flags & O_NONBLOCK))
		differ("fd %d: O_NONBLOCK is %s", nb_pipe[1], flags < 0 ? "unknown" : "set");
}

/* Commands come from fd 10 (a dup of the original stdin); the invocation replaces fd 0. */
static struct stat stdin_want;

static void dup2_stdin_setup(void)
{
	if (dup2(0, 10) != 10)
		die("dup2");
	cmd_fd = 10;
	if (fstat(0, &stdin_want))
		die("fstat");
}

static void dup2_stdin_go(void)
{
	int n = open("/dev/null", O_RDONLY);

	if (n < 0 || dup2(n, 0) != 0)
		die("dup2");
	close(n);
	done("");
}

static void dup2_stdin_check(void)
{
	struct stat st;

	if (fstat(0, &st))
		differ("fd 0: %s", strerror(errno));
	else if (st.st_ino != stdin_want.st_ino || st.st_dev != stdin_want.st_dev)
		differ("fd 0 is inode %lu, want the original stdin %lu", (unsigned long)st.st_ino,
		       (unsigned long)stdin_want.st_ino);
}

/* ---- cwd and umask --------------------------------------------------------------- */

static char cwd_want[256];

static void chdir_setup(void)
{
	if (chdir("/tmp") || !getcwd(cwd_want, sizeof(cwd_want)))
		die("chdir");
}

static void chdir_go(void)
{
	if (chdir("/"))
		die("chdir");
	done("");
}

static void chdir_check(void)
{
	char cwd[256];

	if (!getcwd(cwd, sizeof(cwd)))
		differ("getcwd: %s", strerror(errno));
	else if (strcmp(cwd, cwd_want))
		differ("cwd is %s, want %s", cwd, cwd_want);
}

/* The umask from /proc (reading it with umask(2) would change it). */
static long umask_now(void)
{
	char buf[2048];
	const char *u;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0 || !(u = strstr(buf, "Umask:")))
		return -1;
	return strtol(u + 6, NULL, 8);
}

static void umask_setup(void)
{
	umask(022);
}

static void umask_go(void)
{
	umask(077);
	done("");
}

static void umask_check(void)
{
	if (umask_now() != 022)
		differ("umask is %03lo, want 022", umask_now());
}

/* ---- signals and timers ------------------------------------------------------------ */

struct ksigaction {
	unsigned long handler, flags, restorer;
	uint64_t mask;
};
#define NSIG_ 64
static struct ksigaction sa_want[NSIG_ + 1];

static void on_signal(int sig)
{
	(void)sig;
}

static void get_dispositions(struct ksigaction *sa)
{
	for (int s = 1; s <= NSIG_; s++) {
		memset(&sa[s], 0, sizeof(sa[s]));
		if (s != SIGKILL && s != SIGSTOP &&
		    syscall(SYS_rt_sigaction, s, NULL, &sa[s], sizeof(uint64_t)))
			die("rt_sigaction");
	}
}

static void sigaction_setup(void)
{
	get_dispositions(sa_want);
}

static void sigaction_go(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGRTMIN + 3, &sa, NULL);
	signal(SIGTERM, SIG_IGN);
	done("");
}

static void sigaction_check(void)
{
	struct ksigaction sa[NSIG_ + 1];

	get_dispositions(sa);
	for (int s = 1; s <= NSIG_; s++)
		if (sa[s].handler != sa_want[s].handler || sa[s].flags != sa_want[s].flags ||
		    sa[s].mask != sa_want[s].mask)
			differ("signal %d: handler %#lx flags %#lx mask %#lx, want %#lx %#lx %#lx", s,
			       sa[s].handler, sa[s].flags, (unsigned long)sa[s].mask,
			       sa_want[s].handler, sa_want[s].flags, (unsigned long)sa_want[s].mask);
}

static void alarm_go(void)
{
	alarm(1000);
	done("");
}

static const int itimers[] = { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF };
static const char *const itimer_names[] = { "ITIMER_REAL (alarm)", "ITIMER_VIRTUAL", "ITIMER_PROF" };

static void itimers_check(void)
{
	struct itimerval it;

	for (int i = 0; i < 3; i++) {
		if (getitimer(itimers[i], &it))
			die("getitimer");
		if (it.it_value.tv_sec || it.it_value.tv_usec || it.it_interval.tv_sec ||
		    it.it_interval.tv_usec)
			differ("%s armed: %lds left, interval %lds", itimer_names[i],
			       (long)it.it_value.tv_sec, (long)it.it_interval.tv_sec);
	}
}

static void setitimer_go(void)
{
	struct itimerval it = { .it_value = { 1000, 0 }, .it_interval = { 1000, 0 } };

	for (int i = 0; i < 3; i++)
		if (setitimer(itimers[i], &it, NULL))
			die("setitimer");
	done("");
}

static char timers_want[4096];

static void timer_create_setup(void)
{
	if (read_file("/proc/self/timers", timers_want, sizeof(timers_want)) < 0)
		die("/proc/self/timers");
}

static void timer_create_go(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
	struct itimerspec its = { .it_value = { 1000, 0 }, .it_interval = { 1000, 0 } };
	timer_t a, b;

	if (timer_create(CLOCK_MONOTONIC, &sev, &a) || timer_settime(a, 0, &its, NULL))
		die("timer_create");
	sev.sigev_notify = SIGEV_NONE;
	if (timer_create(CLOCK_REALTIME, &sev, &b) || timer_settime(b, 0, &its, NULL))
		die("timer_create");
	done("%ld %ld", (long)(intptr_t)a, (long)(intptr_t)b);
}

static void timer_create_check(void)
{
	char now[4096];

	if (read_file("/proc/self/timers", now, sizeof(now)) < 0)
		differ("/proc/self/timers: %s", strerror(errno));
	else
		compare_lines("POSIX timers (/proc/self/timers)", timers_want, now);
}

static uint64_t sigmask_want;

static uint64_t sigmask_now(void)
{
	uint64_t m = 0;

	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, sizeof(m)))
		die("rt_sigprocmask");
	return m;
}

static void sigprocmask_setup(void)
{
	sigmask_want = sigmask_now();
}

static void sigprocmask_go(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGCHLD);
	sigaddset(&s, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	done("");
}

static void sigprocmask_check(void)
{
	if (sigmask_now() != sigmask_want)
		differ("blocked signals %#llx, want %#llx", (unsigned long long)sigmask_now(),
		       (unsigned long long)sigmask_want);
}

/*
 * ---- pending_signal: a blocked signal raised and left pending ------------------------
 * After the rewind SIGUSR1 is unblocked again: delivered, its default action
 * would kill the process. The rewind must dequeue it.
 */
static uint64_t pending_now(void)
{
	sigset_t s;
	uint64_t m = 0;

	if (sigpending(&s))
		die("sigpending");
	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(&s, sig) == 1)
			m |= 1ULL << (sig - 1);
	return m;
}

static void pending_signal_go(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	kill(getpid(), SIGUSR1);	/* shared pending, as a timer's or another process's would be */
	done("");
}

static void pending_signal_check(void)
{
	sigprocmask_check();
	if (pending_now())
		differ("signals pending: %#llx", (unsigned long long)pending_now());
}

/*
 * ---- sparse_absent: writes into many separate pages that were never touched -----------
 * Each must read zero again; so many separate ranges take the rewind's
 * zero-fill path rather than one injected madvise each.
 */
#define SPARSE_PAGES	400
static char *sparse;

static void sparse_setup(void)
{
	sparse = map_anon(SPARSE_PAGES * PAGE);	/* never touched: absent at the checkpoint */
}

static void sparse_go(void)
{
	for (int i = 0; i < SPARSE_PAGES; i += 2)
		memset(sparse + i * PAGE, 0x5a, PAGE);
	done("");
}

static void sparse_check(void)
{
	for (size_t i = 0; i < SPARSE_PAGES * PAGE; i++) {
		if (sparse[i]) {
			differ("byte %zu of the untouched region is %#x", i, sparse[i] & 0xff);
			return;
		}
	}
}

/* ---- thread_name: prctl(PR_SET_NAME) can carry a secret ------------------------------ */
static char name_want[16];

static void thread_name_setup(void)
{
	if (prctl(PR_GET_NAME, name_want))
		die("PR_GET_NAME");
}

static void thread_name_go(void)
{
	if (prctl(PR_SET_NAME, "tok_5f2a9c"))
		die("PR_SET_NAME");
	done("");
}

static void thread_name_check(void)
{
	char now[16] = { 0 };

	if (prctl(PR_GET_NAME, now))
		die("PR_GET_NAME");
	if (strcmp(now, name_want))
		differ("thread name '%s', want '%s'", now, name_want);
}

/* ---- threads_blocked: threads in futex, read, epoll_wait, nanosleep ------------------ */

enum { TB_FUTEX, TB_READ, TB_EPOLL, TB_SLEEP, TB_N };
static const char *const tb_names[TB_N] = { "futex", "read", "epoll_wait", "nanosleep" };
static const long tb_nr[TB_N][3] = {
	[TB_FUTEX] = { SYS_futex, SYS_futex, SYS_futex },
	[TB_READ] = { SYS_read, SYS_read, SYS_read },
	[TB_EPOLL] = { SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_pwait2 },
	/* A sleep interrupted by a stop (ptrace, SIGSTOP) goes on in restart_syscall. */
	[TB_SLEEP] = { SYS_nanosleep, SYS_clock_nanosleep, SYS_restart_syscall },
};
static volatile pid_t tb_tid[TB_N];
static volatile uint32_t tb_word;
static int tb_read_pipe[2], tb_epoll_pipe[2], tb_answer[2], tb_epfd;
static volatile int tb_probe_mode;
static long tb_work[TB_N], tb_probes[TB_N];
static int tb_errno[TB_N];	/* how the last wait ended: 0 or its errno */

static void tb_answer_one(int i, int err)
{
	char c = i;

	tb_errno[i] = err;
	if (tb_probe_mode)
		tb_probes[i]++;
	else
		tb_work[i]++;
	if (write(tb_answer[1], &c, 1) != 1)
		die("answer");
}

static void *tb_thread(void *arg)
{
	int i = (int)(long)arg;
	uint32_t seen = tb_word;
	struct epoll_event ev;
	char c;
	int err;

	tb_tid[i] = gettid_();
	for (;;) {
		errno = 0;
		switch (i) {
		case TB_FUTEX:
			while (tb_word == seen)
				futex(&tb_word, FUTEX_WAIT_PRIVATE, seen);
			seen = tb_word;
			break;
		case TB_READ:
			if (read(tb_read_pipe[0], &c, 1) != 1)
				continue;
			break;
		case TB_EPOLL:
			if (epoll_wait(tb_epfd, &ev, 1, -1) != 1 || read(tb_epoll_pipe[0], &c, 1) != 1)
				continue;
			break;
		case TB_SLEEP: {
			struct timespec ts = { 100000, 0 };

			if (nanosleep(&ts, NULL) == 0)
				continue;
			break;
		}
		}
		err = errno;
		tb_answer_one(i, err);
	}
	return NULL;
}

/* Every thread blocked in its own syscall; names the first that is not. */
static int tb_wait_all_blocked(void)
{
	for (int i = 0; i < TB_N; i++)
		if (wait_blocked(tb_tid[i], tb_nr[i], 3)) {
			differ("thread %d (%s) is not blocked in %s: /proc syscall %ld", tb_tid[i],
			       tb_names[i], tb_names[i], blocked_in(tb_tid[i]));
			return -1;
		}
	return 0;
}

/* Wakes every thread once; 0 when each answered within the timeout. */
static int tb_wake_all(void)
{
	int answered[TB_N] = { 0 }, n = 0;
	long deadline;
	char c = 'x';

	if (tb_wait_all_blocked())
		return -1;
	tb_word++;
	futex(&tb_word, FUTEX_WAKE_PRIVATE, 1);
	if (write(tb_read_pipe[1], &c, 1) != 1 || write(tb_epoll_pipe[1], &c, 1) != 1)
		die("wake");
	syscall(SYS_tgkill, getpid(), tb_tid[TB_SLEEP], SIGUSR1);
	deadline = now_ms() + ANSWER_TIMEOUT_MS;
	while (n < TB_N) {
		struct pollfd pfd = { .fd = tb_answer[0], .events = POLLIN };
		long left = deadline - now_ms();

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		if (read(tb_answer[0], &c, 1) == 1 && c >= 0 && c < TB_N && !answered[(int)c]++)
			n++;
	}
	for (int i = 0; i < TB_N; i++)
		if (!answered[i]) {
			differ("thread %d (%s) did not answer", tb_tid[i], tb_names[i]);
			return -1;
		}
	return tb_wait_all_blocked();
}

static void threads_blocked_setup(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: EINTR wakes */
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t t;

	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(tb_read_pipe) || pipe(tb_epoll_pipe) || pipe(tb_answer))
		die("pipe");
	tb_epfd = epoll_create1(0);
	if (tb_epfd < 0 || epoll_ctl(tb_epfd, EPOLL_CTL_ADD, tb_epoll_pipe[0], &ev))
		die("epoll");
	for (long i = 0; i < TB_N; i++) {
		if (pthread_create(&t, NULL, tb_thread, (void *)i))
			die("pthread_create");
		while (!tb_tid[i])
			sched_yield();
	}
	if (tb_wait_all_blocked())
		die(why);
}

static void threads_blocked_go(void)
{
	tb_probe_mode = 0;
	if (tb_wake_all())
		die(why);
	done("%d %d %d %d", tb_tid[0], tb_tid[1], tb_tid[2], tb_tid[3]);
}

static void threads_blocked_check(void)
{
	long before[TB_N];

	for (int i = 0; i < TB_N; i++)
		if (tb_work[i]) {
			differ("thread %d (%s) did %ld jobs since the checkpoint (its wait last ended "
			       "with errno %d)", tb_tid[i], tb_names[i], tb_work[i], tb_errno[i]);
			return;
		}
	memcpy(before, tb_probes, sizeof(before));
	tb_probe_mode = 1;
	if (tb_wake_all() == 0)
		for (int i = 0; i < TB_N; i++)
			if (tb_probes[i] != before[i] + 1)
				differ("thread %d (%s) answered %ld probes, want 1", tb_tid[i],
				       tb_names[i], tb_probes[i] - before[i]);
	tb_probe_mode = 0;
}

/* ---- pages100k: an invocation that writes 100k pages of a 400 MiB region ------------- */

#define BIG_PAGES 102400UL
static uint64_t *bigr;
static uint64_t big_sum_want;

static uint64_t big_sum(void)
{
	uint64_t s = 0;
	size_t words = BIG_PAGES * PAGE / sizeof(uint64_t);

	for (size_t i = 0; i < words; i++)
		s = (s << 1 | s >> 63) ^ bigr[i];
	return s;
}

static void pages100k_setup(void)
{
	bigr = (uint64_t *)map_anon(BIG_PAGES * PAGE);
	madvise(bigr, BIG_PAGES * PAGE, MADV_NOHUGEPAGE);
	for (size_t p = 0; p < BIG_PAGES; p++)
		bigr[p * (PAGE / 8) + p % 512] = p * 2654435761UL + 1;
	big_sum_want = big_sum();
}

static void pages100k_go(void)
{
	for (size_t p = 0; p < BIG_PAGES; p++)
		bigr[p * (PAGE / 8) + (p + 7) % 512] ^= 0xdeadbeefUL + p;
	done("%lu", BIG_PAGES);
}

static void pages100k_check(void)
{
	uint64_t s = big_sum();

	if (s != big_sum_want)
		differ("checksum of the 400 MiB region is %#llx, want %#llx", (unsigned long long)s,
		       (unsigned long long)big_sum_want);
}

/* ---- die: the process exits during the invocation --------------------------------- */

static void die_go(void)
{
	_exit(7);
}

/* ---- the table -------------------------------------------------------------------- */

struct scenario {
	const char *name;
	void (*setup)(void);
	void (*go)(void);
	void (*check)(void);
};

static const struct scenario scenarios[] = {
	{ "counter", counter_setup, counter_go, counter_check },
	{ "heap", heap_setup, heap_go, heap_check },
	{ "stack_secret", stack_setup, stack_go, stack_check },
	{ "setenv", setenv_setup, setenv_go, setenv_check },
	{ "malloc_mmap", malloc_mmap_setup, malloc_mmap_go, malloc_mmap_check },
	{ "munmap", region_setup, munmap_go, region_check },
	{ "mremap_grow", mremap_grow_setup, mremap_grow_go, region_check },
	{ "mremap_move", region_setup, mremap_move_go, region_check },
	{ "mprotect", region_setup, mprotect_go, mprotect_check },
	{ "brk_grow", brk_grow_setup, brk_grow_go, brk_check },
	{ "brk_shrink", brk_shrink_setup, brk_shrink_go, brk_check },
	{ "madv_dontneed", region_setup, dontneed_go, region_check },
	{ "hot_pages", region_setup, hot_go, region_check },
	{ "thp", thp_setup, thp_go, thp_check },
	{ "kernel_write", region_setup, kernel_write_go, region_check },
	{ "thread_running", nothing, thread_running_go, new_thread_check },
	{ "thread_blocked", nothing, thread_blocked_go, new_thread_check },
	{ "thread_pool", thread_pool_setup, thread_pool_go, thread_pool_check },
	{ "fork_child", nothing, fork_child_go, fork_child_check },
	{ "fd_new", nothing, fd_new_go, nothing },
	{ "fd_offset", fd_offset_setup, fd_offset_go, fd_offset_check },
	{ "pipe_nonblock", pipe_nonblock_setup, pipe_nonblock_go, pipe_nonblock_check },
	{ "dup2_stdin", dup2_stdin_setup, dup2_stdin_go, dup2_stdin_check },
	{ "chdir", chdir_setup, chdir_go, chdir_check },
	{ "umask", umask_setup, umask_go, umask_check },
	{ "sigaction", sigaction_setup, sigaction_go, sigaction_check },
	{ "alarm", nothing, alarm_go, itimers_check },
	{ "setitimer", nothing, setitimer_go, itimers_check },
	{ "timer_create", timer_create_setup, timer_create_go, timer_create_check },
	{ "threads_blocked", threads_blocked_setup, threads_blocked_go, threads_blocked_check },
	{ "pages100k", pages100k_setup, pages100k_go, pages100k_check },
	{ "sigprocmask", sigprocmask_setup, sigprocmask_go, sigprocmask_check },
	{ "pending_signal", sigprocmask_setup, pending_signal_go, pending_signal_check },
	{ "thread_name", thread_name_setup, thread_name_go, thread_name_check },
	{ "sparse_absent", sparse_setup, sparse_go, sparse_check },
	/* Helpers of the fail-closed tests: no rewind can undo these. */
	{ "thread_exit", thread_exit_setup, thread_exit_go, nothing },
	{ "die", nothing, die_go, nothing },
};

static void usage(void)
{
	char list[1024];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		n += snprintf(list + n, sizeof(list) - n, "%s%s", i ? "|" : "", scenarios[i].name);
	say("error usage: zdtm %s", list);
}

int main(int argc, char **argv)
{
	const struct scenario *s = NULL;
	char line[32];

	for (size_t i = 0; argc > 1 && i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(argv[1], scenarios[i].name))
			s = &scenarios[i];
	if (!s) {
		usage();
		return 2;
	}
	s->setup();
	snap_all(maps_want, fds_want, tids_want);
	say("ready %s %d%s%s", s->name, getpid(), ready_info[0] ? " " : "", ready_info);
	for (;;) {
		switch (next_cmd(cmd_fd, line, sizeof(line))) {
		case HS_GO:
			done_msg[0] = '\0';
			s->go();
			if (done_msg[0])
				say("done %s", done_msg);
			else
				say("done");
			break;
		case HS_CHECK:
			failed = 0;
			why[0] = '\0';
			check_common();
			if (!failed)
				s->check();
			if (failed)
				say("fail %s", why);
			else
				say("pass");
			break;
		case HS_EXIT:
		case HS_EOF:
			return 0;
		default:
			say("error unknown command '%s'", line);
			return 2;
		}
	}
}
