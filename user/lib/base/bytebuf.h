/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A growable byte buffer: appended to, doubled as needed. Zero-initialised
 * it is empty; free(b->p) ends it.
 */
#ifndef RW_BYTEBUF_H
#define RW_BYTEBUF_H

#include <stddef.h>

struct bytebuf {
	char *p;
	size_t len, cap;
};

/* Append n bytes of data (room for at least first_cap at the first growth). 0 or -ENOMEM. */
int bytebuf_append(struct bytebuf *b, const void *data, size_t n, size_t first_cap);

#endif /* RW_BYTEBUF_H */
