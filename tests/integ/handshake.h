/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The line protocol between a test script and a target program: the target
 * writes "ready ..." then, for each line "go" it reads, performs one
 * invocation and writes "done ..."; "exit" ends it. Only raw read(2) and
 * write(2): stdio would write its own buffers and blur exact page counts.
 */
#ifndef RW_HANDSHAKE_H
#define RW_HANDSHAKE_H

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
	buf[n++] = '\n';
	if (write(1, buf, n) != n)
		exit(3);
}

/* Returns 1 for "go", 0 for "exit" or end of input. */
static int next_command(void)
{
	char line[16];
	size_t n = 0;

	while (n < sizeof(line) - 1) {
		if (read(0, &line[n], 1) != 1)
			return 0;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	if (!strcmp(line, "go"))
		return 1;
	if (!strcmp(line, "exit"))
		return 0;
	say("error unknown command '%s'", line);
	exit(2);
}

#endif /* RW_HANDSHAKE_H */
