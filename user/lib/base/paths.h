/* SPDX-License-Identifier: GPL-2.0-only */
/* Turning the tracker's path records into absolute paths, lexically. */
#ifndef RW_PATHS_H
#define RW_PATHS_H

#include <stddef.h>

/*
 * Build "/a/b/c" from the BPF walk's leaf-first, NUL-separated components
 * ("c\0b\0a\0", len bytes). Returns the length, or -ENAMETOOLONG.
 */
int path_from_components(const char *comp, size_t len, char *out, size_t outlen);

/*
 * Resolve name against dir (absolute), folding ".", ".." and repeated '/'.
 * An absolute name ignores dir. Returns the length, or -ENAMETOOLONG.
 */
int path_join(const char *dir, const char *name, char *out, size_t outlen);

#endif /* RW_PATHS_H */
