/* SPDX-License-Identifier: GPL-2.0-only */
/* The answers of the action interface: a status and a JSON body. */
#ifndef RP_REPLY_H
#define RP_REPLY_H

#include <stddef.h>

/* An HTTP answer: status and a JSON body ending in a newline (malloc'd; NULL: out of memory). */
struct reply {
	unsigned status;
	char *body;
	size_t len;
};

/* The JSON text json (len bytes) plus a newline. */
void reply_text(struct reply *r, unsigned status, const char *json, size_t len);

/* {"error": message} plus a newline: the action interface's error body. */
void reply_error(struct reply *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* RP_REPLY_H */
