// SPDX-License-Identifier: GPL-2.0-only
/*
 * A watched tree's saved manifest, as a restarted rewindd reads it from
 * the state directory of one that crashed. The harness appends the
 * checksum itself (else almost every input would stop there), so the
 * parser sees any bytes. A manifest it accepts must format back into
 * exactly the same bytes: nothing read is dropped or reinterpreted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tree_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_fsimage *img;
	uint64_t nobjects, sum;
	char *text = malloc(size + sizeof(sum)), *again;
	size_t len;

	if (!text)
		return 0;
	memcpy(text, data, size);
	sum = XXH3_64bits(text, size);
	memcpy(text + size, &sum, sizeof(sum));
	if (!tree_manifest_parse(text, size + sizeof(sum), &img, &nobjects)) {
		if (tree_manifest_format(img, nobjects, &again, &len))
			abort();
		if (len != size + sizeof(sum) || memcmp(again, text, len))
			abort();
		free(again);
		fsimage_free(img);
	}
	free(text);
	return 0;
}
