// SPDX-License-Identifier: GPL-2.0-only
/*
 * The live side of a tree image (see tree_internal.h): paths resolved
 * beneath its root without following a symlink or crossing a mount, an
 * entry's statx, xattrs, symlink targets, and a (dev, ino) map.
 */
#define LOG_PREFIX "fsimage: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <xxhash.h>

#include "tree_internal.h"

#ifndef SYS_openat2
#define SYS_openat2		437
#endif

/* ---- paths --------------------------------------------------------------- */

/* An fd of the root: the held one's duplicate, or opened by path. -errno. */
int tree_open_root(const struct rw_fsimage *img)
{
	int fd = img->heldfd >= 0 ? fcntl(img->heldfd, F_DUPFD_CLOEXEC, 0) :
		 open(img->root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

const char *tree_abs_of(const struct rw_fsimage *img, const char *rel, char *buf, size_t len)
{
	if (!*rel)
		return img->root;
	/* A name too long to print is cut: this is for messages. */
	if (snprintf(buf, len, "%s/%s", img->rootlen == 1 ? "" : img->root, rel) >= (int)len)
		buf[len - 1] = '\0';
	return buf;
}

/*
 * abs relative to the root, normalised ("//" and "." dropped), in buf:
 * 1, or 0 when abs is outside the root, -EINVAL when not absolute or with
 * "..", -ENAMETOOLONG.
 */
int tree_rel_path(const struct rw_fsimage *img, const char *abs, char *buf, size_t len)
{
	const char *p = abs;
	size_t n = 0;

	if (!abs || abs[0] != '/')
		return -EINVAL;
	if (img->rootlen > 1) {
		if (strncmp(abs, img->root, img->rootlen) ||
		    (abs[img->rootlen] && abs[img->rootlen] != '/'))
			return 0;
		p = abs + img->rootlen;
	}
	while (*p) {
		const char *end;
		size_t clen;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		clen = end - p;
		if (clen == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (!(clen == 1 && p[0] == '.')) {
			if (n + clen + 2 > len)
				return -ENAMETOOLONG;
			if (n)
				buf[n++] = '/';
			memcpy(buf + n, p, clen);
			n += clen;
		}
		p = end;
	}
	buf[n] = '\0';
	return 1;
}

/* Resolve rel beneath rootfd without following a symlink or crossing a mount. */
int tree_open_beneath(int rootfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = flags | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* A directory beneath rootfd to list; NULL with -errno in *err. */
DIR *tree_opendir_beneath(int rootfd, const char *rel, int *err)
{
	int dfd = tree_open_beneath(rootfd, rel, O_RDONLY | O_DIRECTORY);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);

	if (!d) {
		*err = dfd < 0 ? dfd : -errno;
		if (dfd >= 0)
			close(dfd);
	}
	return d;
}

/* Open a regular file in dfd for reading without touching its atime. */
int tree_open_for_reading(int dfd, const char *name)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(dfd, name, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM)	/* O_NOATIME needs ownership or CAP_FOWNER */
		fd = openat(dfd, name, flags);
	return fd;
}

int tree_read_target(int dfd, const char *name, uint64_t hint, char **out)
{
	for (size_t cap = hint + 2;; cap *= 2) {
		char *buf = malloc(cap);
		ssize_t n;

		if (!buf)
			return -ENOMEM;
		n = readlinkat(dfd, name, buf, cap);
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			*out = buf;
			return 0;
		}
		free(buf);
	}
}

/* ---- (dev, ino) map ------------------------------------------------------ */

static size_t id_hash(uint64_t dev, uint64_t ino)
{
	uint64_t k[2] = { dev, ino };

	return XXH3_64bits(k, sizeof(k));
}

void *tree_idmap_get(const struct idmap *m, uint64_t dev, uint64_t ino)
{
	if (!m->slots)
		return NULL;
	for (size_t i = id_hash(dev, ino) & m->mask;; i = (i + 1) & m->mask) {
		const struct idslot *s = &m->slots[i];

		if (!s->val)
			return NULL;
		if (s->dev == dev && s->ino == ino)
			return s->val;
	}
}

int tree_idmap_put(struct idmap *m, uint64_t dev, uint64_t ino, void *val)
{
	size_t i;

	if (!m->slots || (m->n + 1) * 2 > m->mask + 1) {
		size_t nmask = m->slots ? m->mask * 2 + 1 : 255;
		struct idslot *ns = calloc(nmask + 1, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t j = 0; m->slots && j <= m->mask; j++) {
			if (!m->slots[j].val)
				continue;
			for (i = id_hash(m->slots[j].dev, m->slots[j].ino) & nmask; ns[i].val;
			     i = (i + 1) & nmask)
				;
			ns[i] = m->slots[j];
		}
		free(m->slots);
		m->slots = ns;
		m->mask = nmask;
	}
	for (i = id_hash(dev, ino) & m->mask; m->slots[i].val; i = (i + 1) & m->mask)
		;
	m->slots[i] = (struct idslot){ .dev = dev, .ino = ino, .val = val };
	m->n++;
	return 0;
}

void tree_idmap_free(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* ---- live state ---------------------------------------------------------- */

/* name in dfd, not followed; a missing one is !exists, not an error. */
int tree_live_stat(const struct rw_fsimage *img, int dfd, const char *name, struct live *lv)
{
	struct statx sx;

	memset(lv, 0, sizeof(*lv));
	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
		  STATX_BASIC_STATS | STATX_MNT_ID, &sx))
		return errno == ENOENT ? 0 : -errno;
	lv->exists = true;
	lv->mode = sx.stx_mode;
	lv->uid = sx.stx_uid;
	lv->gid = sx.stx_gid;
	lv->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	lv->ino = sx.stx_ino;
	lv->size = sx.stx_size;
	lv->rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
	lv->nlink = sx.stx_nlink;
	lv->atime = (struct timespec){ sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec };
	lv->mtime = (struct timespec){ sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec };
	/* A bind mount of the same filesystem keeps st_dev: the mount id tells. */
	lv->mount = lv->dev != img->root_dev ||
		    (img->have_mnt_id && (sx.stx_mask & STATX_MNT_ID) &&
		     sx.stx_mnt_id != img->root_mnt_id) ||
		    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT &&
		     sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	return 0;
}

/* The root itself may well be a mount point (/dev/shm): that is not a difference. */
int tree_root_stat(const struct rw_fsimage *img, int rootfd, struct live *lv)
{
	int err = tree_live_stat(img, rootfd, ".", lv);

	lv->mount = false;
	if (!err && lv->exists && !lv->nlink)	/* a held root that was removed */
		return -ESTALE;
	return err ?: lv->exists ? 0 : -ENOENT;
}

/* ---- xattrs -------------------------------------------------------------- */

/* The list of names (name NULL) or one value, as the kernel sizes it. */
static ssize_t xattr_io(const char *path, const char *name, char *buf, size_t n)
{
	return name ? lgetxattr(path, name, buf, n) : llistxattr(path, buf, n);
}

/*
 * Read a blob whose size is asked first; retried when it grew in between.
 * *out is malloc'd, NULL when empty. A filesystem without xattrs lists none.
 */
static int read_xattr_blob(const char *path, const char *name, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	for (;;) {
		ssize_t n = xattr_io(path, name, NULL, 0), got;
		char *buf;

		if (n < 0 && !name && (errno == ENOTSUP || errno == EOPNOTSUPP))
			return 0;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		buf = malloc(n);
		if (!buf)
			return -ENOMEM;
		got = xattr_io(path, name, buf, n);
		if (got < 0 && errno == ERANGE) {	/* grew meanwhile */
			free(buf);
			continue;
		}
		if (got < 0) {
			free(buf);
			return -errno;
		}
		*out = buf;
		*len = got;
		return 0;
	}
}

/* NUL-separated names in *list (malloc'd, NULL when none); -errno. */
int tree_list_xattrs(const char *path, char **list, size_t *len)
{
	return read_xattr_blob(path, NULL, list, len);
}

/* Value of name in *val (malloc'd, maybe NULL for an empty one); -ENODATA when absent. */
int tree_get_xattr(const char *path, const char *name, char **val, size_t *len)
{
	return read_xattr_blob(path, name, val, len);
}
