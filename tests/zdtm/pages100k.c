// SPDX-License-Identifier: GPL-2.0-only
/* pages100k: an invocation that writes 100k pages of a 400 MiB region. */
#include <sys/mman.h>

#include "zdtm.h"

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

ZDTM_SCENARIO(pages100k, pages100k_setup, pages100k_go, pages100k_check);
