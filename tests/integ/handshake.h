/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The line protocol between a test script and a target program: the target
 * writes "ready ..." then, for each line "go" it reads, performs one
 * invocation and writes "done ..."; "exit" ends it. The zdtm program also
 * answer "check" with "pass" or "fail WHY" (next_cmd()). Only raw read(2) and
 * write(2): stdio would write its own buffers and blur exact page counts.
 */
#ifndef RW_HANDSHAKE_H
#define RW_HANDSHAKE_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(buf) - 2)	/* truncated: vsnprintf returns the full length */
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) != n)
		exit(3);
}

enum hs_cmd {
	HS_EOF,		/* end of input or a read error */
	HS_GO,		/* perform one invocation */
	HS_CHECK,	/* compare the state with what was recorded */
	HS_EXIT,
	HS_UNKNOWN,
};

/*
 * Reads one line from fd into line (NUL-terminated, without the newline).
 * One byte per read(2): nothing beyond the line is consumed, and a process
 * checkpointed while it waits here sits in a read(2) of a fresh line.
 */
static inline int hs_read_line(int fd, char *line, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n < size - 1) {
		r = read(fd, &line[n], 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1)
			return -1;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return 0;
}

/* The next command on fd: "go", "check" or "exit"; HS_UNKNOWN for anything else. */
static inline enum hs_cmd next_cmd(int fd, char *line, size_t size)
{
	if (hs_read_line(fd, line, size))
		return HS_EOF;
	if (!strcmp(line, "go"))
		return HS_GO;
	if (!strcmp(line, "check"))
		return HS_CHECK;
	if (!strcmp(line, "exit"))
		return HS_EXIT;
	return HS_UNKNOWN;
}

/* Returns 1 for "go", 0 for "exit" or end of input. */
static inline int next_command(void)
{
	char line[16];

	switch (next_cmd(0, line, sizeof(line))) {
	case HS_GO:
		return 1;
	case HS_EXIT:
	case HS_EOF:
		return 0;
	default:
		say("error unknown command '%s'", line);
		exit(2);
	}
}

#endif /* RW_HANDSHAKE_H */
