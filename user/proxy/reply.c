// SPDX-License-Identifier: GPL-2.0-only
/* Answers as the action interface has them: any JSON, or {"error": ...}. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "reply.h"

void reply_text(struct reply *r, unsigned status, const char *json, size_t len)
{
	r->status = status;
	r->body = malloc(len + 2);
	r->len = 0;
	if (!r->body)
		return;		/* http.c answers 500 for a missing body */
	memcpy(r->body, json, len);
	r->body[len] = '\n';
	r->body[len + 1] = '\0';
	r->len = len + 1;
}

void reply_error(struct reply *r, unsigned status, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	r->status = status;
	r->body = NULL;
	if (o && n >= 0 &&
	    !json_object_object_add(o, "error", json_object_new_string_len(msg, n))) {
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE);

		reply_text(r, status, s, strlen(s));
	}
	json_object_put(o);
	if (n >= 0)
		free(msg);
}
