// SPDX-License-Identifier: GPL-2.0-only
/* setenv: the environment. */
#include <stdlib.h>
#include <string.h>

#include "zdtm.h"

static int env_count_want;

static int env_count(void)
{
	extern char **environ;
	int n = 0;

	while (environ[n])
		n++;
	return n;
}

static void setenv_setup(void)
{
	if (setenv("ZDTM_BASE", "before", 1))
		die("setenv");
	env_count_want = env_count();
}

static void setenv_go(void)
{
	setenv("ZDTM_SECRET", "tok_zdtm_secret_771d", 1);
	setenv("ZDTM_BASE", "changed-by-the-invocation-to-a-longer-value", 1);
	done("");
}

static void setenv_check(void)
{
	const char *s = getenv("ZDTM_SECRET"), *b = getenv("ZDTM_BASE");

	if (s)
		differ("ZDTM_SECRET=%s", s);
	else if (!b || strcmp(b, "before"))
		differ("ZDTM_BASE=%s, want before", b ? b : "(unset)");
	else if (env_count() != env_count_want)
		differ("%d environment variables, want %d", env_count(), env_count_want);
}

ZDTM_SCENARIO(setenv, setenv_setup, setenv_go, setenv_check);
