// SPDX-License-Identifier: GPL-2.0-only
/*
 * Micro-workloads for the tracker's overhead: a page-fault loop, a
 * write(2)-to-/dev/null loop, and memcpy of 4 KiB pages (the physical
 * reference). Prints "ready" and waits for a line on stdin before each
 * measurement so a script can attach rewindd first, then one line of
 * nanoseconds per operation.
 *
 * Usage: overhead faults|writes|memcpy ITERATIONS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define CHUNK_PAGES 256UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Every write to a fresh anonymous page takes a fault (no THP). */
static double faults(long n)
{
	double t0 = now();

	for (long done = 0; done < n; done += CHUNK_PAGES) {
		char *p = mmap(NULL, CHUNK_PAGES * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			exit(1);
		madvise(p, CHUNK_PAGES * PAGE, MADV_NOHUGEPAGE);
		for (unsigned long i = 0; i < CHUNK_PAGES; i++)
			p[i * PAGE] = 1;
		munmap(p, CHUNK_PAGES * PAGE);
	}
	return (now() - t0) / n;
}

static double writes(long n)
{
	int fd = open("/dev/null", O_WRONLY);
	char c = 0;
	double t0;

	if (fd < 0)
		exit(1);
	t0 = now();
	for (long i = 0; i < n; i++)
		if (write(fd, &c, 1) != 1)
			exit(1);
	t0 = (now() - t0) / n;
	close(fd);
	return t0;
}

/* memcpy of scattered 4 KiB pages of a 256 MiB buffer: the cost of copying a dirty page. */
static double copies(long n)
{
	size_t pages = 65536;
	char *src = malloc(pages * PAGE), *dst = malloc(pages * PAGE);
	double t0;

	if (!src || !dst)
		exit(1);
	memset(src, 1, pages * PAGE);
	memset(dst, 2, pages * PAGE);
	t0 = now();
	for (long i = 0; i < n; i++) {
		size_t pg = (i * 7919) % pages;

		memcpy(dst + pg * PAGE, src + pg * PAGE, PAGE);
	}
	t0 = (now() - t0) / n;
	if (dst[PAGE] != 1)
		exit(1);
	free(src);
	free(dst);
	return t0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	char line[16];

	if (argc < 3 || n <= 0) {
		fprintf(stderr, "usage: overhead faults|writes|memcpy ITERATIONS\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) && !strncmp(line, "go", 2)) {
		double ns;

		if (!strcmp(argv[1], "faults"))
			ns = faults(n);
		else if (!strcmp(argv[1], "writes"))
			ns = writes(n);
		else if (!strcmp(argv[1], "memcpy"))
			ns = copies(n);
		else
			return 2;
		printf("%.2f\n", ns);
		fflush(stdout);
	}
	return 0;
}
