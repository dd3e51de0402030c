// SPDX-License-Identifier: GPL-2.0-only
/* fork_child: a child left running. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "zdtm.h"

static void fork_child_go(void)
{
	pid_t pid = fork_bound();

	if (pid == 0) {
		for (;;)
			pause();
	}
	done("%d", pid);
}

/* No child at all: neither a live one nor a zombie. WNOWAIT: nothing reaped. */
static void fork_child_check(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
		if (si.si_pid)
			differ("a zombie child %d (exited with %d) waits to be reaped", si.si_pid,
			       si.si_status);
		else
			differ("a child is still running");
	} else if (errno != ECHILD) {
		differ("waitid: %s", strerror(errno));
	}
}

ZDTM_SCENARIO(fork_child, NULL, fork_child_go, fork_child_check);
