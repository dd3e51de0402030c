// SPDX-License-Identifier: GPL-2.0-only
/* heap, malloc_mmap: the malloc arena and malloc's own mmaps. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtm.h"

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

ZDTM_SCENARIO(heap, heap_setup, heap_go, heap_check);
ZDTM_SCENARIO(malloc_mmap, malloc_mmap_setup, malloc_mmap_go, malloc_mmap_check);
