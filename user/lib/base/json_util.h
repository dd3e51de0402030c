/* SPDX-License-Identifier: GPL-2.0-only */
/* json-c with out-of-memory checked: one helper the protocol and the reports share. */
#ifndef RW_JSON_UTIL_H
#define RW_JSON_UTIL_H

#include <errno.h>
#include <json-c/json.h>

/* Add v (may be NULL: a failed allocation) under key; -ENOMEM, v released, on failure. */
static inline int rw_json_add(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

#endif /* RW_JSON_UTIL_H */
