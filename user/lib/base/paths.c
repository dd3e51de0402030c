// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "paths.h"

int path_from_components(const char *comp, size_t len, char *out, size_t outlen)
{
	size_t end = len, pos = 0;

	if (outlen < 2)
		return -ENAMETOOLONG;
	/* Walk the components from the last (the root side) to the first (the leaf). */
	while (end > 0) {
		size_t start = end - 1;	/* comp[end - 1] is a component's NUL */
		size_t n;

		while (start > 0 && comp[start - 1] != '\0')
			start--;
		n = strnlen(comp + start, end - start);
		if (pos + 1 + n + 1 > outlen)
			return -ENAMETOOLONG;
		out[pos++] = '/';
		memcpy(out + pos, comp + start, n);
		pos += n;
		end = start;
	}
	if (pos == 0)
		out[pos++] = '/';
	out[pos] = '\0';
	return pos;
}

int path_join(const char *dir, const char *name, char *out, size_t outlen)
{
	const char *parts[2] = { name[0] == '/' ? "" : dir, name };
	size_t pos = 0;

	if (outlen < 2)
		return -ENAMETOOLONG;
	out[0] = '\0';
	for (int i = 0; i < 2; i++) {
		const char *p = parts[i];

		while (*p) {
			const char *seg;
			size_t n;

			while (*p == '/')
				p++;
			seg = p;
			while (*p && *p != '/')
				p++;
			n = p - seg;
			if (n == 0 || (n == 1 && seg[0] == '.'))
				continue;
			if (n == 2 && seg[0] == '.' && seg[1] == '.') {
				while (pos > 0 && out[pos - 1] != '/')
					pos--;
				if (pos > 0)
					pos--;	/* drop the '/' too */
				continue;
			}
			if (pos + 1 + n + 1 > outlen)
				return -ENAMETOOLONG;
			out[pos++] = '/';
			memcpy(out + pos, seg, n);
			pos += n;
		}
	}
	if (pos == 0)
		out[pos++] = '/';
	out[pos] = '\0';
	return pos;
}
