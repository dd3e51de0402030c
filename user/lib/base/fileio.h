/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading whole files whose size is not known in advance (/proc, cgroupfs). */
#ifndef RW_FILEIO_H
#define RW_FILEIO_H

#include <stddef.h>

/*
 * openat(dirfd, path) and read it all into a NUL-terminated buffer the
 * caller frees; at most max bytes (-EFBIG past that). dirfd may be
 * AT_FDCWD. Returns 0 or -errno exactly as the kernel said (ENOENT, ESRCH).
 */
int read_whole_file(int dirfd, const char *path, size_t max, char **out, size_t *outlen);

#endif /* RW_FILEIO_H */
