// SPDX-License-Identifier: GPL-2.0-only
/*
 * brk_grow, brk_shrink: the program break moved by the invocation.
 * brk_regrow: it shrinks the heap by half and grows it back to the
 * checkpoint's break, then writes the pages it got back (fresh, unarmed
 * ones where armed ones were): the break ends where it began, the pages not.
 */
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "zdtm.h"

#define BRK_PAGES 64
static void *brk_want, *sbrk_want;
static char *brk_base;

static void *kernel_brk(void)
{
	return (void *)syscall(SYS_brk, 0);
}

static void brk_grow_setup(void)
{
	free(malloc(100));
	brk_want = kernel_brk();
	sbrk_want = sbrk(0);
}

static void brk_grow_go(void)
{
	char *old = sbrk(BRK_PAGES * PAGE);

	if (old == (void *)-1)
		die("sbrk");
	for (size_t i = 0; i < BRK_PAGES; i++)
		old[i * PAGE] = 'b';
	done("%lx", (unsigned long)old);
}

static void brk_check(void)
{
	if (kernel_brk() != brk_want)
		differ("brk is %p, want %p", kernel_brk(), brk_want);
	else if (sbrk(0) != sbrk_want)
		differ("sbrk(0) is %p, want %p", sbrk(0), sbrk_want);
	else if (brk_base)
		check_fill("brk area", brk_base, BRK_PAGES * PAGE, 9);
}

static void brk_shrink_setup(void)
{
	free(malloc(100));
	brk_base = sbrk(BRK_PAGES * PAGE);
	if (brk_base == (void *)-1)
		die("sbrk");
	fill(brk_base, BRK_PAGES * PAGE, 9);
	brk_want = kernel_brk();
	sbrk_want = sbrk(0);
}

static void brk_shrink_go(void)
{
	if (sbrk(-(intptr_t)(BRK_PAGES / 2 * PAGE)) == (void *)-1)
		die("sbrk");
	done("%lx", (unsigned long)sbrk(0));
}

static void brk_regrow_go(void)
{
	char *half;

	if (sbrk(-(intptr_t)(BRK_PAGES / 2 * PAGE)) == (void *)-1)
		die("sbrk");
	half = sbrk(BRK_PAGES / 2 * PAGE);
	if (half == (void *)-1)
		die("sbrk");
	for (size_t i = 0; i < BRK_PAGES / 2; i++)
		half[i * PAGE] = 'r';
	done("%lx", (unsigned long)sbrk(0));
}

ZDTM_SCENARIO(brk_grow, brk_grow_setup, brk_grow_go, brk_check);
ZDTM_SCENARIO(brk_regrow, brk_shrink_setup, brk_regrow_go, brk_check);
ZDTM_SCENARIO(brk_shrink, brk_shrink_setup, brk_shrink_go, brk_check);
