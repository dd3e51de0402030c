// SPDX-License-Identifier: GPL-2.0-only
/*
 * arena_carve: a PROT_NONE reservation (mapped without MAP_NORESERVE, so
 * uncharged only while it is unwritable) that the invocation carves a heap
 * out of, as glibc's new_heap() does for a thread's malloc arena: made
 * readable and writable, charged (VM_ACCOUNT) and written. The rewind must
 * give back one PROT_NONE mapping, as the checkpoint had it: mprotect alone
 * leaves the written part charged, a vma of its own.
 */
#include <sys/mman.h>

#include "zdtm.h"

#define RES_LEN (64 * MIB)
static char *res;

static void arena_carve_setup(void)
{
	res = mmap(NULL, RES_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		die("mmap reservation");
}

static void arena_carve_go(void)
{
	/* A heap_info page and the arena's first pages, a page in. */
	char *heap = res + 16 * PAGE;

	if (mprotect(heap, 3 * PAGE, PROT_READ | PROT_WRITE))
		die("mprotect");
	fill(heap, 3 * PAGE, 9);
	/* The heap grows: more of it made writable, part of it written. */
	if (mprotect(heap + 3 * PAGE, 60 * PAGE, PROT_READ | PROT_WRITE))
		die("mprotect grow");
	fill(heap + 3 * PAGE, 4 * PAGE, 10);
	done("%lx", (unsigned long)heap);
}

ZDTM_SCENARIO(arena_carve, arena_carve_setup, arena_carve_go, NULL);

/*
 * arena_carve_nr: the same in a MAP_NORESERVE reservation that is
 * MADV_DONTFORK too (as V8 reserves its cages: found with Node's zlib
 * streams), carved as two writable parts around a guard page. Each part,
 * once written, has an anon_vma of its own, and vmas with different
 * anon_vmas never merge: mprotect cannot make them one mapping again.
 */
static void arena_carve_nr_setup(void)
{
	res = mmap(NULL, RES_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		die("mmap reservation");
	if (madvise(res, RES_LEN, MADV_DONTFORK))
		die("madvise");
}

static void arena_carve_nr_go(void)
{
	char *heap = res + 16 * PAGE;

	if (mprotect(heap, 2 * PAGE, PROT_READ | PROT_WRITE) ||
	    mprotect(heap + 3 * PAGE, 60 * PAGE, PROT_READ | PROT_WRITE))
		die("mprotect");
	fill(heap, 2 * PAGE, 11);
	fill(heap + 3 * PAGE, 60 * PAGE, 12);
	done("%lx", (unsigned long)heap);
}

ZDTM_SCENARIO(arena_carve_nr, arena_carve_nr_setup, arena_carve_nr_go, NULL);
