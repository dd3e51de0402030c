// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"

int read_fd_all(int fd, char **buf, size_t *cap, size_t *len, size_t max)
{
	*len = 0;
	for (;;) {
		ssize_t n;

		if (!*buf || *cap - *len < 2) {
			size_t ncap = *buf ? *cap * 2 : *cap ? *cap : 4096;
			char *nb;

			if (*buf && *cap >= max)
				return -EFBIG;
			nb = realloc(*buf, ncap);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap = ncap;
		}
		n = read(fd, *buf + *len, *cap - *len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*len += n;
	}
}

int read_whole_file(int dirfd, const char *path, size_t max, char **out, size_t *outlen)
{
	size_t cap = 0, len;
	char *buf = NULL;
	int fd, err;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_fd_all(fd, &buf, &cap, &len, max);
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*out = buf;
	if (outlen)
		*outlen = len;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) && errno != ENOENT) {
		pr_perror("cannot remove %s", path);
		return -1;
	}
	return 0;
}

static int rm_below(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return ftw->level ? rm_entry(path, st, flag, ftw) : 0;
}

int remove_tree(const char *path, bool below_only)
{
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	return nftw(path, below_only ? rm_below : rm_entry, 32,
		    FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ? -EIO : 0;
}

int write_file_atomically(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *p = buf;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len && !err) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0) {
			p += n;
			len -= n;
		}
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int make_private_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_uid != 0 || (st.st_mode & 077)) && (chown(dir, 0, 0) || chmod(dir, 0700)))
		return -errno;
	return 0;
}
