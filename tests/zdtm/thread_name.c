// SPDX-License-Identifier: GPL-2.0-only
/* thread_name: prctl(PR_SET_NAME) can carry a secret. */
#include <string.h>
#include <sys/prctl.h>

#include "zdtm.h"

static char name_want[16];

static void thread_name_setup(void)
{
	if (prctl(PR_GET_NAME, name_want))
		die("PR_GET_NAME");
}

static void thread_name_go(void)
{
	if (prctl(PR_SET_NAME, "tok_5f2a9c"))
		die("PR_SET_NAME");
	done("");
}

static void thread_name_check(void)
{
	char now[16] = { 0 };

	if (prctl(PR_GET_NAME, now))
		die("PR_GET_NAME");
	if (strcmp(now, name_want))
		differ("thread name '%s', want '%s'", now, name_want);
}

ZDTM_SCENARIO(thread_name, thread_name_setup, thread_name_go, thread_name_check);
