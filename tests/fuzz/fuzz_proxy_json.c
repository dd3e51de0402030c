// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewind-proxy's JSON input: a request body from the invoker and an answer
 * line from the function, any bytes. A body accepted is an object; an
 * answer accepted as a result parses as one (an object or an array).
 */
#include <stdint.h>
#include <stdlib.h>

#include "jsonin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_object *o = jsonin_request_body((const char *)data, size, err, sizeof(err));

	if (o && !json_object_is_type(o, json_type_object))
		abort();
	json_object_put(o);
	jsonin_is_result((const char *)data, size);
	return 0;
}
