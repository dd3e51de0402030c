// SPDX-License-Identifier: GPL-2.0-only
/* counter: a global. */
#include "zdtm.h"

static volatile long counter;
static long counter_want;

static void counter_setup(void)
{
	counter = 1000;
	counter_want = counter;
}

static void counter_go(void)
{
	counter++;
	done("%ld", counter);
}

static void counter_check(void)
{
	if (counter != counter_want)
		differ("counter is %ld, want %ld", counter, counter_want);
}

ZDTM_SCENARIO(counter, counter_setup, counter_go, counter_check);
