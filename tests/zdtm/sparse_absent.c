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
