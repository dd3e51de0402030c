// SPDX-License-Identifier: GPL-2.0-only
/*
 * munmap, mremap_grow, mremap_move, mprotect, madv_dontneed, kernel_write,
 * mmap_over and the hot_pages and mseal helpers: one checkpointed region the
 * invocation changes. mmap_over maps fresh memory in its place, alike in
 * the maps, and writes none of it: the region reads zeros, and only its lost
 * write-protection registration tells the rewind (wp_lost).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtm.h"

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
 * half, 'd' drops it (MADV_DONTNEED), 's' the whole region and every other
 * page of a second one (more separate ranges than the re-arm protects one
 * by one: it walks their span), anything else nothing. Pages written by
 * consecutive invocations are left unprotected by rewindd: they must come
 * back all the same, written again, untouched, or dropped.
 */
#define SCATTER_PAGES 600
static char *scatter;

static void hot_setup(void)
{
	region_setup();
	scatter = map_anon(SCATTER_PAGES * PAGE);
	fill(scatter, SCATTER_PAGES * PAGE, 6);
}

static void hot_check(void)
{
	region_check();
	check_fill("scattered region", scatter, SCATTER_PAGES * PAGE, 6);
}

static void hot_go(void)
{
	const char *ctl = getenv("ZDTM_CTL");
	char c = 'n';
	int fd = ctl ? open(ctl, O_RDONLY) : -1;

	if (fd < 0 || read(fd, &c, 1) != 1)
		die("reading $ZDTM_CTL");
	close(fd);
	if (c == 'w' || c == 'h' || c == 's')
		fill(reg, (c == 'h' ? REG_PAGES / 2 : REG_PAGES) * PAGE, 9);
	else if (c == 'd' && madvise(reg, REG_PAGES * PAGE, MADV_DONTNEED))
		die("madvise");
	for (size_t p = 0; c == 's' && p < SCATTER_PAGES; p += 2)
		scatter[p * PAGE + 7] ^= 0x5a;
	done("%c", c);
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

static void mmap_over_go(void)
{
	if (mmap(reg, REG_PAGES * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != reg)
		die("mmap over the region");
	done("%lx", (unsigned long)reg);
}

ZDTM_SCENARIO(munmap, region_setup, munmap_go, region_check);
ZDTM_SCENARIO(mmap_over, region_setup, mmap_over_go, region_check);
ZDTM_SCENARIO(mremap_grow, mremap_grow_setup, mremap_grow_go, region_check);
/*
 * mseal: a page mapped and sealed (Linux 6.10); nothing can unseal or
 * unmap it, so a rewind must fail closed. The check: no sealed vma
 * (VmFlags "sl") in the process.
 */
static void mseal_go(void)
{
	char *p = map_anon(PAGE);

	if (syscall(462 /* mseal */, p, PAGE, 0))
		die("mseal");
	done("");
}

static void mseal_check(void)
{
	static char smaps[1 << 20];
	ssize_t n = read_file("/proc/self/smaps", smaps, sizeof(smaps) - 1);
	const char *l;

	if (n < 0)
		die("reading /proc/self/smaps");
	smaps[n] = '\0';
	for (l = strstr(smaps, "VmFlags:"); l; l = strstr(l + 1, "VmFlags:")) {
		const char *e = strchrnul(l, '\n'), *sl = strstr(l, " sl");

		if (sl && sl < e) {
			differ("a sealed mapping: %.*s", (int)(e - l), l);
			return;
		}
	}
}

ZDTM_SCENARIO(mremap_move, region_setup, mremap_move_go, region_check);
ZDTM_SCENARIO(mprotect, region_setup, mprotect_go, mprotect_check);
ZDTM_SCENARIO(madv_dontneed, region_setup, dontneed_go, region_check);
ZDTM_SCENARIO(kernel_write, region_setup, kernel_write_go, region_check);
ZDTM_HELPER(hot_pages, hot_setup, hot_go, hot_check);
ZDTM_HELPER(mseal, NULL, mseal_go, mseal_check);
