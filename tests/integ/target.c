// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tracked process that performs known work per invocation, so tests can
 * check the report exactly. Usage: target SCENARIO [ARG]; see handshake.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "handshake.h"

#define PAGE 4096UL

static char *region_new(size_t pages, int prefault)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		say("error mmap %d", errno);
		exit(2);
	}
	/* No THP: the tests count 4 KiB pages. */
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	if (prefault)
		for (size_t i = 0; i < pages; i++)
			p[i * PAGE] = 1;
	return p;
}

/* 37 distinct pages of a 64-page pre-faulted region; some written twice, one 1000 times. */
static void pages37(void)
{
	volatile char *r = region_new(64, 1);

	say("ready %lx 64", (unsigned long)r);
	while (next_command()) {
		for (int i = 0; i < 37; i++)
			r[((i * 7) % 64) * PAGE + 10] = (char)i;
		for (int i = 0; i < 10; i++)
			r[((i * 7) % 64) * PAGE + 20] = (char)i;
		for (int i = 0; i < 1000; i++)
			r[i % 64];	/* reads are not writes */
		for (int i = 0; i < 1000; i++)
			r[100 + i] = (char)i;	/* page 0 again and again */
		say("done");
	}
}

static void mmap5(void)
{
	say("ready");
	while (next_command()) {
		char *p = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		madvise(p, 5 * PAGE, MADV_NOHUGEPAGE);
		for (int i = 0; i < 5; i++)
			p[i * PAGE + 1] = 1;
		say("done %lx", (unsigned long)p);
	}
}

/*
 * Pages of bss beyond the data's last page: an anonymous vma right below
 * the break, which, without address randomisation, the heap grows into.
 */
static volatile char bss_pages[8 * PAGE];

static void brk_grow(int pages)
{
	bss_pages[0] = 1;
	say("ready");
	while (next_command()) {
		char *old = sbrk(0);

		if (sbrk(pages * PAGE) == (void *)-1) {
			say("error sbrk %d", errno);
			exit(2);
		}
		for (int i = 0; i < pages; i++)
			old[i * PAGE] = 1;
		say("done %lx %d", (unsigned long)old, pages);
	}
}

/*
 * A heap at the checkpoint, grown by each invocation. Without address
 * randomisation it lies right after bss_pages, and registering both for
 * write protection (the checkpoint's arming) merges them into one vma.
 */
static void heap_grow(int pages)
{
	char *start = sbrk(0);

	bss_pages[0] = 1;
	if (sbrk(pages * PAGE) == (void *)-1) {
		say("error sbrk %d", errno);
		exit(2);
	}
	start[0] = 1;
	say("ready %lx", (unsigned long)start);
	while (next_command()) {
		char *old = sbrk(pages * PAGE);

		if (old == (void *)-1) {
			say("error sbrk %d", errno);
			exit(2);
		}
		for (int i = 0; i < pages; i++)
			old[i * PAGE] = 1;
		say("done %lx %d", (unsigned long)old, pages);
	}
}

/* The kernel writes into a page the program never touched. */
static void readbuf(void)
{
	char *r = region_new(4, 0);

	say("ready %lx 4", (unsigned long)r);
	while (next_command()) {
		char src[100] = "kernel-mode write";
		int p[2];

		if (pipe(p) || write(p[1], src, sizeof(src)) != sizeof(src) ||
		    read(p[0], r + 2 * PAGE, sizeof(src)) != sizeof(src)) {
			say("error pipe %d", errno);
			exit(2);
		}
		close(p[0]);
		close(p[1]);
		say("done %lx", (unsigned long)(r + 2 * PAGE));
	}
}

static void write_file(const char *dir, const char *name, size_t n)
{
	char path[512], buf[256] = { 0 };
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_APPEND, 0600);
	if (fd < 0 || write(fd, buf, n) != (ssize_t)n) {
		say("error %s %d", path, errno);
		exit(2);
	}
	close(fd);
}

/* Writes to two files and an unlink; relative names exercise cwd resolution. */
static void files(const char *dir)
{
	if (chdir(dir)) {
		say("error chdir %d", errno);
		exit(2);
	}
	say("ready");
	while (next_command()) {
		write_file(dir, "a", 100);
		write_file(".", "b", 50);
		if (unlink("c") && errno != ENOENT) {
			say("error unlink %d", errno);
			exit(2);
		}
		say("done");
	}
}

static volatile int thread_word;
static pid_t thread_tid;

static void *thread_main(void *arg)
{
	thread_tid = syscall(SYS_gettid);
	thread_word = 42;
	return arg;
}

static void thread(void)
{
	say("ready");
	while (next_command()) {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_main, NULL) || pthread_join(t, NULL)) {
			say("error pthread");
			exit(2);
		}
		say("done %d", thread_tid);
	}
}

/* A child that writes 3 pages of its own and exits. */
static void forker(void)
{
	char *r = region_new(8, 1);

	say("ready %lx 8", (unsigned long)r);
	while (next_command()) {
		pid_t pid = fork();

		if (pid == 0) {
			for (int i = 0; i < 3; i++)
				r[i * PAGE] = 2;
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		say("done %d", pid);
	}
}

/* Writes every page of a large pre-faulted region: floods the ring buffer. */
static void many(long pages)
{
	volatile char *r = region_new(pages, 1);

	say("ready %lx %ld", (unsigned long)r, pages);
	while (next_command()) {
		for (long i = 0; i < pages; i++)
			r[i * PAGE + 1] = 3;
		say("done");
	}
}

/* Like "pages37", under a seccomp filter that kills the process on userfaultfd(). */
static void seccomp_guarded(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		say("error seccomp %d", errno);
		exit(2);
	}
	pages37();
}

/* Exits in the middle of its first invocation. */
static void quitter(void)
{
	say("ready");
	if (next_command())
		_exit(0);
}

/* FNV-1a of a region: the target's own account of its memory, not rewindd's. */
static unsigned long long region_sum(const volatile unsigned char *r, size_t pages)
{
	unsigned long long h = 1469598103934665603ULL;

	for (size_t i = 0; i < pages * PAGE; i++)
		h = (h ^ r[i]) * 1099511628211ULL;
	return h;
}

/*
 * Pages other processes of this scenario hold too (the image store shares
 * them): 48 whose content depends on the page number only, one that
 * differs from the first of those in one byte, one the same as the second
 * (shared within the image), 14 of the seed's own. Each
 * invocation writes into shared and own pages; "check" answers the
 * region's sum.
 */
static void sharepages(unsigned int seed)
{
	volatile unsigned char *r = (volatile unsigned char *)region_new(64, 1);
	char line[16];

	for (size_t i = 0; i < 64; i++)
		for (size_t j = 0; j < PAGE; j++)
			r[i * PAGE + j] = i < 48 ? (unsigned char)(i * 131 + j * 7) :
					  i == 48 ? (unsigned char)(j * 7) ^ (j == 100) :
					  i == 49 ? (unsigned char)(131 + j * 7) :
					  (unsigned char)(seed * 977 + i * 13 + j);
	say("ready %lx 64 %016llx", (unsigned long)r, region_sum(r, 64));
	for (;;) {
		switch (next_cmd(0, line, sizeof(line))) {
		case HS_GO:
			for (size_t i = 0; i < 64; i += 6)
				r[i * PAGE + 200] = (unsigned char)(seed + 1);
			say("done %016llx", region_sum(r, 64));
			break;
		case HS_CHECK:
			say("sum %016llx", region_sum(r, 64));
			break;
		case HS_UNKNOWN:
			say("error unknown command '%s'", line);
			exit(2);
		default:
			return;
		}
	}
}

/*
 * 2N pages of known content; each invocation writes every other one (N
 * ranges apart, so a rewind copies them back in several batches). "check"
 * answers the region's sum, which the ready line gives at the start.
 */
static void stripes(long n)
{
	volatile unsigned char *r = (volatile unsigned char *)region_new(2 * n, 1);
	unsigned int gen = 0;
	char line[16];

	for (long i = 0; i < 2 * n; i++)
		r[i * PAGE + 7] = (unsigned char)(i * 31);
	say("ready %lx %ld %016llx", (unsigned long)r, 2 * n, region_sum(r, 2 * n));
	for (;;) {
		switch (next_cmd(0, line, sizeof(line))) {
		case HS_GO:
			gen++;
			for (long i = 0; i < 2 * n; i += 2)
				r[i * PAGE + 7] = (unsigned char)(i * 31 + gen);
			say("done");
			break;
		case HS_CHECK:
			say("sum %016llx", region_sum(r, 2 * n));
			break;
		case HS_UNKNOWN:
			say("error unknown command '%s'", line);
			exit(2);
		default:
			return;
		}
	}
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";

	if (!strcmp(s, "pages37"))
		pages37();
	else if (!strcmp(s, "mmap5"))
		mmap5();
	else if (!strcmp(s, "brk"))
		brk_grow(argc > 2 ? atoi(argv[2]) : 6);
	else if (!strcmp(s, "heap"))
		heap_grow(argc > 2 ? atoi(argv[2]) : 6);
	else if (!strcmp(s, "readbuf"))
		readbuf();
	else if (!strcmp(s, "files") && argc > 2)
		files(argv[2]);
	else if (!strcmp(s, "thread"))
		thread();
	else if (!strcmp(s, "fork"))
		forker();
	else if (!strcmp(s, "many") && argc > 2)
		many(atol(argv[2]));
	else if (!strcmp(s, "seccomp"))
		seccomp_guarded();
	else if (!strcmp(s, "quit"))
		quitter();
	else if (!strcmp(s, "sharepages") && argc > 2)
		sharepages(atoi(argv[2]));
	else if (!strcmp(s, "stripes") && argc > 2)
		stripes(atol(argv[2]));
	else {
		say("error usage: target pages37|mmap5|brk [N]|heap [N]|readbuf|files DIR|thread|fork|many N|quit|sharepages SEED|stripes N");
		return 2;
	}
	return 0;
}
