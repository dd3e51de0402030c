// SPDX-License-Identifier: GPL-2.0-only
/* thp: a region backed by transparent huge pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtm.h"

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

ZDTM_SCENARIO(thp, thp_setup, thp_go, thp_check);
