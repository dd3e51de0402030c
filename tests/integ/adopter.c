// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process that gets a child without forking: at start it forks a helper;
 * at each invocation the helper makes a process with clone(CLONE_PARENT),
 * whose parent is then this process. Only the helper's fork is logged if
 * the helper is tracked. Says "ready HELPER", then "done NEW" per invocation.
 */
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>

#include "handshake.h"

int main(void)
{
	int cmd[2], ans[2];
	pid_t helper;

	if (pipe(cmd) || pipe(ans))
		return 2;
	helper = fork();
	if (helper < 0)
		return 2;
	if (!helper) {
		char c;

		while (read(cmd[0], &c, 1) == 1) {
			/* Raw clone: no fork handlers, the child shares nothing but our parent. */
			pid_t p = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);

			if (p == 0) {
				for (;;)
					pause();
			}
			if (write(ans[1], &p, sizeof(p)) != sizeof(p))
				_exit(2);
		}
		_exit(0);
	}
	say("ready %d", helper);
	while (next_command()) {
		char c = 1;
		pid_t p = -1;

		if (write(cmd[1], &c, 1) != 1 || read(ans[0], &p, sizeof(p)) != sizeof(p))
			return 2;
		say("done %d", p);
	}
	kill(helper, SIGKILL);
	return 0;
}
