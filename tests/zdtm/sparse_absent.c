// SPDX-License-Identifier: GPL-2.0-only
/*
 * sparse_absent: writes into many separate pages that were never touched.
 * Each must read zero again; so many separate ranges take the rewind's
 * zero-fill path rather than one injected madvise each.
 *
 * few_absent: three such pages (a heap that grew a little), zero-filled
 * too, and one in memory that is read-only at the checkpoint and again at
 * the rewind (made writable for the write), which only a madvise can drop:
 * process_vm_writev cannot write there.
 *
 * run_absent: one run of 512 such pages, as a heap's free top or a stack's
 * depth that every request writes: zero-filled too (the next request takes
 * no fault there), not dropped.
 *
 * huge_absent: three runs of 2,000 such pages, more than a rewind
 * zero-fills (4,096 pages): the third is dropped by an injected madvise.
 */
#include <string.h>
#include <sys/mman.h>

#include "zdtm.h"

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

ZDTM_SCENARIO(sparse_absent, sparse_setup, sparse_go, sparse_check);

static char *few, *few_ro;

static void few_setup(void)
{
	few = map_anon(16 * PAGE);	/* never touched: absent at the checkpoint */
	few_ro = map_anon(PAGE);
	if (mprotect(few_ro, PAGE, PROT_READ))
		die("mprotect");
}

static void few_go(void)
{
	for (int i = 0; i < 3; i++)
		memset(few + i * 5 * PAGE, 0x5a, PAGE);
	if (mprotect(few_ro, PAGE, PROT_READ | PROT_WRITE))
		die("mprotect");
	memset(few_ro, 0x5a, PAGE);
	if (mprotect(few_ro, PAGE, PROT_READ))
		die("mprotect");
	done("");
}

static void few_check(void)
{
	for (size_t i = 0; i < 16 * PAGE; i++)
		if (few[i]) {
			differ("byte %zu of the untouched region is %#x", i, few[i] & 0xff);
			return;
		}
	for (size_t i = 0; i < PAGE; i++)
		if (few_ro[i]) {
			differ("byte %zu of the untouched read-only page is %#x", i, few_ro[i] & 0xff);
			return;
		}
}

ZDTM_SCENARIO(few_absent, few_setup, few_go, few_check);

#define RUN_PAGES	512
#define HUGE_RUN	2000
#define HUGE_PAGES	(3 * (HUGE_RUN + 1))
static char *run_region, *huge_region;

static void run_setup(void)
{
	run_region = map_anon(RUN_PAGES * PAGE);	/* never touched */
}

static void run_go(void)
{
	memset(run_region, 0x5a, RUN_PAGES * PAGE);
	done("");
}

static void zero_check(const char *what, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i]) {
			differ("byte %zu of the untouched %s is %#x", i, what, p[i] & 0xff);
			return;
		}
}

static void run_check(void)
{
	zero_check("run", run_region, RUN_PAGES * PAGE);
}

ZDTM_SCENARIO(run_absent, run_setup, run_go, run_check);

static void huge_setup(void)
{
	huge_region = map_anon(HUGE_PAGES * PAGE);	/* never touched */
}

static void huge_go(void)
{
	for (int i = 0; i < 3; i++)	/* a page apart: three ranges */
		memset(huge_region + i * (HUGE_RUN + 1) * PAGE, 0x5a, HUGE_RUN * PAGE);
	done("");
}

static void huge_check(void)
{
	zero_check("region", huge_region, HUGE_PAGES * PAGE);
}

ZDTM_SCENARIO(huge_absent, huge_setup, huge_go, huge_check);
