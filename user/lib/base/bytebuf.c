// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"

int bytebuf_append(struct bytebuf *b, const void *data, size_t n, size_t first_cap)
{
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : first_cap ? first_cap : 64;
		char *p;

		while (cap - b->len < n) {
			if (cap > (size_t)-1 / 2)
				return -ENOMEM;
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}
