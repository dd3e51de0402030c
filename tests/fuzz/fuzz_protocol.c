// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control protocol's parser, fed any bytes a client may send. A request
 * it accepts must format back into a line it accepts again, unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

static struct rw_request a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *line;

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
