// SPDX-License-Identifier: GPL-2.0-only
/*
 * helper_child: a child forked before the checkpoint, a helper the parent
 * talks to over two pipes. The invocation sends it a secret, which it keeps;
 * check asks it what it holds. pid mode must rewind it like its parent.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zdtm.h"

#define MSG 64

static const char clean[] = "clean";
static int to_child = -1, from_child = -1;
static pid_t child;
static unsigned int sent;

static int xfer(int fd, char *buf, int out)
{
	size_t done_ = 0;

	while (done_ < MSG) {
		ssize_t n = out ? write(fd, buf + done_, MSG - done_) : read(fd, buf + done_, MSG - done_);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done_ += n;
	}
	return 0;
}

/* The helper: "S<secret>" stores it and answers "ok", "Q" answers what it holds. */
static __attribute__((noreturn)) void helper(int in, int out)
{
	static char held[MSG] = "clean";
	char msg[MSG];

	for (;;) {
		if (xfer(in, msg, 0))
			_exit(0);
		if (msg[0] == 'S') {
			memcpy(held, msg + 1, MSG - 1);
			held[MSG - 1] = '\0';
			memset(msg, 0, sizeof(msg));
			strcpy(msg, "ok");
		} else {
			memcpy(msg, held, MSG);
		}
		if (xfer(out, msg, 1))
			_exit(0);
	}
}

static void helper_child_setup(void)
{
	int req[2], resp[2];

	if (pipe(req) || pipe(resp))
		die("pipe");
	child = fork_bound();
	if (child == 0) {
		close(req[1]);
		close(resp[0]);
		helper(req[0], resp[1]);
	}
	close(req[0]);
	close(resp[1]);
	to_child = req[1];
	from_child = resp[0];
	snprintf(ready_info, sizeof(ready_info), "child=%d", child);
}

/* The helper has stored the secret before the invocation says done. */
static void helper_child_go(void)
{
	char msg[MSG] = { 0 };

	snprintf(msg, sizeof(msg), "Ssecret-%u", ++sent);
	if (xfer(to_child, msg, 1) || xfer(from_child, msg, 0) || strcmp(msg, "ok"))
		die("helper child did not store the secret");
	done("%d", child);
}

static void helper_child_check(void)
{
	char msg[MSG] = "Q";

	if (xfer(to_child, msg, 1) || xfer(from_child, msg, 0)) {
		differ("the helper child %d does not answer (it is gone)", child);
		return;
	}
	msg[MSG - 1] = '\0';
	if (strcmp(msg, clean))
		differ("the helper child %d holds '%s', want '%s'", child, msg, clean);
}

ZDTM_SCENARIO(helper_child, helper_child_setup, helper_child_go, helper_child_check);
