// SPDX-License-Identifier: GPL-2.0-only
/*
 * cgroup_move (a helper of test_rewind.sh; run as root): the invocation
 * moves the process into the cgroup v2 directory $ZDTM_CGROUP_DEST, as a
 * function with write access to cgroup.procs could. check compares
 * /proc/self/cgroup with its text at setup.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtm.h"

static char cg_was[4096];
static const char *cg_dest;

static void cg_setup(void)
{
	cg_dest = getenv("ZDTM_CGROUP_DEST");
	if (!cg_dest)
		die("ZDTM_CGROUP_DEST is not set");
	if (read_file("/proc/self/cgroup", cg_was, sizeof(cg_was)) < 0)
		die("reading /proc/self/cgroup");
}

static void cg_go(void)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dest);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die("moving into ZDTM_CGROUP_DEST");
	close(fd);
	done("moved");
}

static void cg_check(void)
{
	char now[4096];

	if (read_file("/proc/self/cgroup", now, sizeof(now)) < 0 || strcmp(now, cg_was))
		differ("in another cgroup than at setup");
}

ZDTM_HELPER(cgroup_move, cg_setup, cg_go, cg_check);
