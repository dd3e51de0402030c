// SPDX-License-Identifier: GPL-2.0-only
/*
 * arena_carve: a PROT_NONE reservation that the invocation carves a heap
 * out of, as glibc does for a thread's first malloc arena (found with Node's
 * zlib streams: a libuv pool thread first used after the checkpoint made its
 * arena in a reservation of the checkpoint). The carved part is made
 * readable and writable and written, so it gets pages of its own; the
 * rewind must give back one PROT_NONE mapping, as the checkpoint had it.
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
