// SPDX-License-Identifier: GPL-2.0-only
/* chdir, umask: the working directory and the file mode mask. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "zdtm.h"

static char cwd_want[256];

static void chdir_setup(void)
{
	if (chdir("/tmp") || !getcwd(cwd_want, sizeof(cwd_want)))
		die("chdir");
}

static void chdir_go(void)
{
	if (chdir("/"))
		die("chdir");
	done("");
}

static void chdir_check(void)
{
	char cwd[256];

	if (!getcwd(cwd, sizeof(cwd)))
		differ("getcwd: %s", strerror(errno));
	else if (strcmp(cwd, cwd_want))
		differ("cwd is %s, want %s", cwd, cwd_want);
}

/* The umask from /proc (reading it with umask(2) would change it). */
static long umask_now(void)
{
	char buf[2048];
	const char *u;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0 || !(u = strstr(buf, "Umask:")))
		return -1;
	return strtol(u + 6, NULL, 8);
}

static void umask_setup(void)
{
	umask(022);
}

static void umask_go(void)
{
	umask(077);
	done("");
}

static void umask_check(void)
{
	if (umask_now() != 022)
		differ("umask is %03lo, want 022", umask_now());
}

ZDTM_SCENARIO(chdir, chdir_setup, chdir_go, chdir_check);
ZDTM_SCENARIO(umask, umask_setup, umask_go, umask_check);
