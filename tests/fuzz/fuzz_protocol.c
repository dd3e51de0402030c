// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control protocol's parsers, fed any bytes a client may send: a JSON
 * line, or a fast-path frame (fastpath.h) when the first byte says so. A
 * request either accepts must make a request it accepts again, unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath.h"
#include "protocol.h"

static struct rw_request a, b;

static void fast_frame(const uint8_t *data, size_t size)
{
	struct rw_fast_request f;
	char err[256];
	ssize_t n = fast_frame_size(data, size);

	if (n <= 0 || (size_t)n > size)
		return;
	memset(&a, 0, sizeof(a));
	if (fast_request_parse(data, n, &a, err, sizeof(err)))
		return;
	if (fast_request_make(&f, a.session, a.key, a.instance, a.verify))
		abort();	/* an accepted frame must make again */
	memset(&b, 0, sizeof(b));
	if (fast_request_parse(&f, sizeof(f), &b, err, sizeof(err)) || memcmp(&a, &b, sizeof(a)))
		abort();	/* and parse back to itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *line;

	if (size && data[0] == RW_FAST_MAGIC) {
		fast_frame(data, size);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	if (protocol_parse_request((const char *)data, size, &a, err, sizeof(err)))
		return 0;
	line = protocol_format_request(&a);
	if (!line)
		abort();	/* an accepted request must format */
	memset(&b, 0, sizeof(b));
	if (protocol_parse_request(line, strlen(line), &b, err, sizeof(err)) ||
	    memcmp(&a, &b, sizeof(a)))
		abort();	/* and parse back to itself */
	free(line);
	return 0;
}
