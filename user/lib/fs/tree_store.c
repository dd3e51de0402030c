// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "fsstore: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tree_store.h"

#ifndef FICLONE
#define FICLONE		_IOW(0x94, 9, int)	/* linux/fs.h, which clashes with sys/mount.h */
#endif

/* The filesystem (pair) cannot do it at all, as opposed to "not this file". */
static bool unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOTTY || err == EXDEV || err == ENOSYS;
}

static void fsstore_object_path(const struct fsstore *s, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%" PRIu64, s->path, id);
}

static void object_name(uint64_t id, char name[24])
{
	snprintf(name, 24, "%" PRIu64, id);
}

static void *store_buf(struct fsstore *s)
{
	if (!s->buf)
		s->buf = malloc(FSSTORE_BUF);
	return s->buf;
}

int fsstore_open(struct fsstore *s, const char *path, char *why, size_t whylen)
{
	struct dirent *de;
	int fd, err;
	DIR *d;

	memset(s, 0, sizeof(*s));
	s->dirfd = -1;
	s->can_clone = -1;
	s->can_copy_range = -1;
	if (mkdir(path, 0700) == 0)
		s->created = true;
	else if (errno != EEXIST)
		return rw_why(why, whylen, -errno, "creating store %s", path);
	s->path = strdup(path);
	if (!s->path) {
		err = rw_why(why, whylen, -ENOMEM, "store %s", path);
		goto fail;
	}
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0) {
		err = rw_why(why, whylen, -errno, "opening store %s", path);
		goto fail;
	}
	/* Objects are named by number and removed by name: a used store would collide. */
	fd = dup(s->dirfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		err = rw_why(why, whylen, -errno, "listing store %s", path);
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	err = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			err = rw_why(why, whylen, -ENOTEMPTY,
				     "store %s holds %s (another image's, or left by a crash)", path,
				     de->d_name);
			break;
		}
	}
	closedir(d);
	if (err)
		goto fail;
	return 0;
fail:
	fsstore_close(s);
	return err;
}

int fsstore_adopt(struct fsstore *s, const char *path, uint64_t nobjects, char *why, size_t whylen)
{
	int err = 0;

	memset(s, 0, sizeof(*s));
	s->can_clone = -1;
	s->can_copy_range = -1;
	s->path = strdup(path);
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (!s->path)
		err = -ENOMEM;
	else if (s->dirfd < 0)
		err = -errno;
	if (err) {
		fsstore_close(s);
		return rw_why(why, whylen, err, "opening store %s", path);
	}
	s->nobjects = nobjects;
	s->borrowed = true;
	return 0;
}

void fsstore_close(struct fsstore *s)
{
	char name[24];

	if (s->dirfd >= 0) {
		for (uint64_t id = 0; id < s->nobjects && !s->borrowed; id++) {
			object_name(id, name);
			if (unlinkat(s->dirfd, name, 0) && errno != ENOENT)
				pr_warn("removing %s/%s: %s\n", s->path, name, strerror(errno));
		}
		close(s->dirfd);
	}
	if (s->created && s->path && rmdir(s->path) && errno != ENOENT)
		pr_warn("removing store %s: %s\n", s->path, strerror(errno));
	free(s->path);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->dirfd = -1;
}

static int write_full(int fd, const char *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Copy src from offset off to its end into dst at the same offsets; hash
 * what is read when h is set. *end: where the copy stopped. 0, or -errno
 * with *failed_write telling which side failed.
 */
static int copy_rw(int src, int dst, off_t off, void *buf, XXH3_state_t *h, uint64_t *end,
		   bool *failed_write)
{
	int err;

	*failed_write = false;
	for (;;) {
		ssize_t n = pread(src, buf, FSSTORE_BUF, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		if (h)
			XXH3_128bits_update(h, buf, n);
		err = write_full(dst, buf, n, off);
		if (err) {
			*failed_write = true;
			return err;
		}
		off += n;
	}
	*end = off;
	return 0;
}

int fsstore_hash_fd(int fd, void *buf, XXH128_hash_t *hash, uint64_t *len)
{
	XXH3_state_t *h = XXH3_createState();
	off_t off = 0;
	int err = 0;

	if (!h)
		return -ENOMEM;
	XXH3_128bits_reset(h);
	for (;;) {
		ssize_t n = pread(fd, buf, FSSTORE_BUF, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(h, buf, n);
		off += n;
	}
	if (!err) {
		*hash = XXH3_128bits_digest(h);
		if (len)
			*len = off;
	}
	XXH3_freeState(h);
	return err;
}

int fsstore_put(struct fsstore *s, int src, const char *what, uint64_t *id, uint64_t *size,
		XXH128_hash_t *hash, struct fsstore_io *io, char *why, size_t whylen)
{
	char name[24], opath[PATH_MAX];
	XXH3_state_t *h = NULL;
	bool cloned = false, wfail;
	void *buf = store_buf(s);
	uint64_t len = 0;
	struct stat st;
	int dst, err;

	object_name(s->nobjects, name);
	fsstore_object_path(s, s->nobjects, opath, sizeof(opath));
	if (!buf)
		return rw_why(why, whylen, -ENOMEM, "storing %s", what);
	dst = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (dst < 0)
		return rw_why(why, whylen, -errno, "creating %s for %s", opath, what);
	*id = s->nobjects++;	/* from now on fsstore_close removes it */

	if (s->can_clone) {
		if (ioctl(dst, FICLONE, src) == 0) {
			s->can_clone = 1;
			cloned = true;
		} else if (unsupported(errno)) {
			s->can_clone = 0;
		} else if (errno != EINVAL) {	/* EINVAL: not this file, copy it */
			err = rw_why(why, whylen, -errno, "cloning %s into %s", what, opath);
			goto out;
		}
	}
	if (cloned) {
		/* The hash must describe what we can restore: read it back from the store. */
		err = fsstore_hash_fd(dst, buf, hash, &len);
		if (err) {
			err = rw_why(why, whylen, err, "hashing %s", opath);
			goto out;
		}
		io->cloned += len;
	} else {
		/* Capture reads every byte for the hash anyway: copy in the same pass. */
		h = XXH3_createState();
		if (!h) {
			err = rw_why(why, whylen, -ENOMEM, "storing %s", what);
			goto out;
		}
		XXH3_128bits_reset(h);
		err = copy_rw(src, dst, 0, buf, h, &len, &wfail);
		if (err) {
			err = wfail ? rw_why(why, whylen, err, "writing %s for %s", opath, what) :
				      rw_why(why, whylen, err, "reading %s", what);
			goto out;
		}
		*hash = XXH3_128bits_digest(h);
		io->copied += len;
	}
	if (fstat(dst, &st)) {
		err = rw_why(why, whylen, -errno, "stat %s", opath);
		goto out;
	}
	s->bytes += (uint64_t)st.st_blocks * 512;
	*size = len;
	err = 0;
out:
	if (h)
		XXH3_freeState(h);
	close(dst);
	return err;
}

int fsstore_fill(struct fsstore *s, uint64_t id, uint64_t size, int dst, const char *what,
		 struct fsstore_io *io, char *why, size_t whylen)
{
	char name[24], opath[PATH_MAX];
	loff_t in = 0, out = 0;
	uint64_t end;
	struct stat st;
	bool wfail;
	int obj, err = 0;
	void *buf;

	object_name(id, name);
	fsstore_object_path(s, id, opath, sizeof(opath));
	obj = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (obj < 0) {
		if (errno == ENOENT)
			return rw_why(why, whylen, -EIO, "store corrupted: %s for %s (missing)", opath,
				      what);
		return rw_why(why, whylen, -errno, "opening %s for %s", opath, what);
	}
	if (fstat(obj, &st)) {
		err = rw_why(why, whylen, -errno, "stat %s for %s", opath, what);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		err = rw_why(why, whylen, -EIO, "store corrupted: %s for %s (%lld bytes, captured %" PRIu64 ")",
			     opath, what, (long long)st.st_size, size);
		goto out;
	}
	if (s->can_clone) {
		/* A clone may only end at the destination's EOF: empty it first. */
		if (ftruncate(dst, 0)) {
			err = rw_why(why, whylen, -errno, "restoring %s (truncate)", what);
			goto out;
		}
		if (ioctl(dst, FICLONE, obj) == 0) {
			s->can_clone = 1;
			io->cloned += size;
			goto out;
		}
		if (unsupported(errno)) {
			s->can_clone = 0;
		} else if (errno != EINVAL) {
			err = rw_why(why, whylen, -errno, "restoring %s (clone from %s)", what, opath);
			goto out;
		}
	}
	/*
	 * Copies overwrite in place and cut the tail after: truncating to 0
	 * first makes ext4 (data=ordered) write the file's pending data out
	 * synchronously, 0.5 ms a file.
	 */
	while (s->can_copy_range && (uint64_t)out < size) {
		ssize_t n = copy_file_range(obj, &in, dst, &out, size - out, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && out == 0 && (unsupported(errno) || errno == EINVAL)) {
			if (errno != EINVAL)
				s->can_copy_range = 0;
			break;
		}
		if (n < 0) {
			err = rw_why(why, whylen, -errno, "restoring %s (copy from %s)", what, opath);
			goto out;
		}
		if (n == 0) {
			err = rw_why(why, whylen, -EIO, "store corrupted: %s for %s (ends at %lld)",
				     opath, what, (long long)in);
			goto out;
		}
		s->can_copy_range = 1;
	}
	if ((uint64_t)out < size) {
		buf = store_buf(s);
		if (!buf) {
			err = rw_why(why, whylen, -ENOMEM, "restoring %s", what);
			goto out;
		}
		err = copy_rw(obj, dst, out, buf, NULL, &end, &wfail);
		if (err) {
			err = wfail ? rw_why(why, whylen, err, "restoring %s", what) :
				      rw_why(why, whylen, err, "reading %s for %s", opath, what);
			goto out;
		}
		if (end != size) {
			err = rw_why(why, whylen, -EIO, "store corrupted: %s for %s (ends at %" PRIu64 ")",
				     opath, what, end);
			goto out;
		}
	}
	if (fstat(dst, &st)) {
		err = rw_why(why, whylen, -errno, "restoring %s", what);
		goto out;
	}
	if ((uint64_t)st.st_size != size && ftruncate(dst, size)) {
		err = rw_why(why, whylen, -errno, "restoring %s (truncate)", what);
		goto out;
	}
	io->copied += size;
out:
	close(obj);
	return err;
}
