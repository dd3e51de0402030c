// SPDX-License-Identifier: GPL-2.0-only
/*
 * fd_new, fd_offset, pipe_nonblock, dup2_stdin: the fd table and what an
 * open file description carries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "zdtm.h"

static int off_fd = -1;

static void fd_new_go(void)
{
	int a = open("/dev/null", O_RDONLY), b = eventfd(0, 0), s[2];

	if (a < 0 || b < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s))
		die("open");
	done("%d %d %d %d", a, b, s[0], s[1]);
}

static void fd_offset_setup(void)
{
	char buf[8192];

	off_fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	if (off_fd < 0) {
		char name[] = "/tmp/zdtm-offset.XXXXXX";

		off_fd = mkstemp(name);
		if (off_fd < 0)
			die("mkstemp");
		unlink(name);
	}
	fill(buf, sizeof(buf), 3);
	if (write(off_fd, buf, sizeof(buf)) != sizeof(buf) || lseek(off_fd, 100, SEEK_SET) != 100)
		die("offset file");
}

static void fd_offset_go(void)
{
	char buf[10];

	if (lseek(off_fd, 5000, SEEK_SET) != 5000 || read(off_fd, buf, sizeof(buf)) != sizeof(buf))
		die("lseek");
	done("%ld", (long)lseek(off_fd, 0, SEEK_CUR));
}

static void fd_offset_check(void)
{
	off_t off = lseek(off_fd, 0, SEEK_CUR);

	if (off != 100)
		differ("fd %d offset is %ld, want 100", off_fd, (long)off);
}

/*
 * A pipe write end (rewindd does not hold those) made non-blocking with
 * ioctl(FIONBIO), as libuv does to stdout: the flag must come back off.
 */
static int nb_pipe[2];

static void pipe_nonblock_setup(void)
{
	if (pipe(nb_pipe))
		die("pipe");
}

static void pipe_nonblock_go(void)
{
	int one = 1;

	if (ioctl(nb_pipe[1], FIONBIO, &one))
		die("ioctl FIONBIO");
	done("%d", nb_pipe[1]);
}

static void pipe_nonblock_check(void)
{
	int flags = fcntl(nb_pipe[1], F_GETFL);

	if (flags < 0 || (flags & O_NONBLOCK))
		differ("fd %d: O_NONBLOCK is %s", nb_pipe[1], flags < 0 ? "unknown" : "set");
}

/* Commands come from fd 10 (a dup of the original stdin); the invocation replaces fd 0. */
static struct stat stdin_want;

static void dup2_stdin_setup(void)
{
	if (dup2(0, 10) != 10)
		die("dup2");
	cmd_fd = 10;
	if (fstat(0, &stdin_want))
		die("fstat");
}

static void dup2_stdin_go(void)
{
	int n = open("/dev/null", O_RDONLY);

	if (n < 0 || dup2(n, 0) != 0)
		die("dup2");
	close(n);
	done("");
}

static void dup2_stdin_check(void)
{
	struct stat st;

	if (fstat(0, &st))
		differ("fd 0: %s", strerror(errno));
	else if (st.st_ino != stdin_want.st_ino || st.st_dev != stdin_want.st_dev)
		differ("fd 0 is inode %lu, want the original stdin %lu", (unsigned long)st.st_ino,
		       (unsigned long)stdin_want.st_ino);
}

ZDTM_SCENARIO(fd_new, NULL, fd_new_go, NULL);
ZDTM_SCENARIO(fd_offset, fd_offset_setup, fd_offset_go, fd_offset_check);
ZDTM_SCENARIO(pipe_nonblock, pipe_nonblock_setup, pipe_nonblock_go, pipe_nonblock_check);
ZDTM_SCENARIO(dup2_stdin, dup2_stdin_setup, dup2_stdin_go, dup2_stdin_check);
