// SPDX-License-Identifier: GPL-2.0-only
/*
 * sparse_absent: writes into many separate pages that were never touched.
 * Each must read zero again; so many separate ranges take the rewind's
 * zero-fill path rather than one injected madvise each.
 */
#include <string.h>

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
