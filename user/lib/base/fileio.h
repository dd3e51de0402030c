/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reading whole files whose size is not known in advance (/proc, cgroupfs,
 * BPF iterators), writing one atomically, and removing a tree of our own.
 */
#ifndef RW_FILEIO_H
#define RW_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * openat(dirfd, path) and read it all into a NUL-terminated buffer the
 * caller frees; at most max bytes (-EFBIG past that). dirfd may be
 * AT_FDCWD. Returns 0 or -errno exactly as the kernel said (ENOENT, ESRCH).
 */
int read_whole_file(int dirfd, const char *path, size_t max, char **out, size_t *outlen);

/*
 * Read fd to its end into *buf, grown as needed (never past max bytes:
 * -EFBIG) and always one byte larger than *len, what was read. *buf and
 * *cap carry over from call to call, so a buffer can be reused; the caller
 * frees it. Returns 0 or -errno.
 */
int read_fd_all(int fd, char **buf, size_t *cap, size_t *len, size_t max);

/*
 * Write len bytes of buf to path (mode, O_NOFOLLOW) through "path.new"
 * renamed into place: a crash leaves the old file or the new one, never
 * half of one. 0 or -errno; "path.new" does not survive a failure.
 */
int write_file_atomically(const char *path, const void *buf, size_t len, mode_t mode);

/*
 * Make dir (mode 0700) if it is missing; then it must be a directory (not
 * a symlink), and is made root's and 0700 if it was not. 0 or -errno
 * (-ENOTDIR for anything else at that path).
 */
int make_private_dir(const char *dir);

/*
 * rm -rf that never follows a symlink nor crosses into another mount;
 * below_only keeps path itself (emptied). 0 (also when path is absent), or
 * -EIO after a removal that failed (logged).
 */
int remove_tree(const char *path, bool below_only);

#endif /* RW_FILEIO_H */
