// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>

#include "jsonin.h"

json_object *jsonin_request_body(const char *buf, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	enum json_tokener_error jerr;
	json_object *o = NULL;
	size_t end;

	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o = len ? json_tokener_parse_ex(tok, buf, len) : NULL;
	jerr = json_tokener_get_error(tok);
	if (!len || jerr == json_tokener_continue) {
		snprintf(err, errlen, "unexpected end of JSON input");
	} else if (jerr != json_tokener_success) {
		snprintf(err, errlen, "%s at offset %zu", json_tokener_error_desc(jerr),
			 json_tokener_get_parse_end(tok));
	} else {
		for (end = json_tokener_get_parse_end(tok); end < len && buf[end] && strchr(" \t\r\n", buf[end]);
		     end++)
			;
		if (end < len)
			snprintf(err, errlen, "invalid character after top-level value at offset %zu", end);
		else if (!json_object_is_type(o, json_type_object))
			snprintf(err, errlen, "the request is a JSON %s, not an object",
				 json_type_to_name(json_object_get_type(o)));
		else
			goto out;
	}
	json_object_put(o);
	o = NULL;
out:
	json_tokener_free(tok);
	return o;
}

bool jsonin_is_result(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	json_object *o;
	bool ok = false;

	if (!tok)
		return false;
	o = json_tokener_parse_ex(tok, line, len);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok);

		while (end < len && line[end] && strchr(" \t\r", line[end]))
			end++;
		ok = end == len && (json_object_is_type(o, json_type_object) ||
				    json_object_is_type(o, json_type_array));
	}
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}
