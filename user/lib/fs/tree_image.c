// SPDX-License-Identifier: GPL-2.0-only
/*
 * File rollback of watched trees (see tree_image.h).
 *
 * The manifest is an array of entries in breadth-first order (0 is the
 * root), indexed by relative path in a chained hash table; each directory
 * lists its children. Every entry points to an fs_inode, shared by the
 * names of one hard-link group, which holds the identity its names should
 * have live (updated when a restore recreates it) and, for a regular
 * file, its store object and hash.
 *
 * A restore plans first, marking entries with actions (in O(depth) per
 * touched path, or by walking everything for restore_all), then executes
 * the plan in phases: removals, recreations, content, metadata.
 */
#define LOG_PREFIX "fsimage: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
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

#include "clock.h"
#include "log.h"
#include "tree_image.h"
#include "tree_store.h"

#ifndef SYS_openat2
#define SYS_openat2		437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2		452	/* Linux 6.6: the only chmod that will not follow */
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID		0x00001000U
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT	0x00002000
#endif

#define TYPE(m)		((m) & S_IFMT)
#define PERM(m)		((m) & 07777)

/* Append val to the vector arr[n] of capacity cap; 0 or -ENOMEM. */
#define PUSH(arr, n, cap, val)							\
	({									\
		int __err = 0;							\
		if ((n) == (cap)) {						\
			size_t __cap = (cap) ? (cap) * 2 : 16;			\
			typeof(arr) __p = realloc((arr), __cap * sizeof(*(arr)));	\
			if (__p) {						\
				(arr) = __p;					\
				(cap) = __cap;					\
			} else {						\
				__err = -ENOMEM;				\
			}							\
		}								\
		if (!__err)							\
			(arr)[(n)++] = (val);					\
		__err;								\
	})

struct fs_xattr {
	char *name;
	char *value;
	size_t len;
};

struct fs_inode {
	uint64_t dev, ino;		/* what its live names should be */
	uint64_t object;		/* regular files: the store object */
	uint64_t size;			/* regular files: as stored */
	XXH128_hash_t hash;
	struct fs_entry **names;	/* its names in the manifest */
	uint32_t nnames, cap;
	uint32_t index;
	uint32_t gen;			/* content restored in restore pass gen */
};

struct fs_entry {
	char *rel;			/* "" for the root, "a/b" under it */
	const char *name;		/* last component of rel, "." for the root */
	uint32_t rlen, depth, index;
	struct fs_entry *parent, *hnext;
	struct fs_entry **children;
	uint32_t nchildren, cap;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t size, rdev;
	struct timespec atime, mtime;
	struct fs_xattr *xattrs;
	uint32_t nxattrs;
	bool mountpoint;		/* recorded, never restored */
	char *target;			/* symlinks */
	struct fs_inode *inode;
	uint32_t gen;			/* acts belong to restore pass gen */
	uint32_t acts;
};

struct rw_fsimage {
	char *root;			/* canonical */
	size_t rootlen;
	struct fsstore store;
	struct fs_entry **entries;	/* breadth-first: parents before children */
	size_t nentries, ecap;
	struct fs_inode **inodes;
	size_t ninodes, icap;
	struct fs_entry **table;	/* by rel, chained through hnext */
	size_t tmask;
	uint64_t root_dev, root_mnt_id;
	bool have_mnt_id;
	uint32_t gen;
};

/* ---- small helpers ------------------------------------------------------- */

static const char *type_name(mode_t mode)
{
	switch (TYPE(mode)) {
	case S_IFREG:	return "file";
	case S_IFDIR:	return "directory";
	case S_IFLNK:	return "symlink";
	case S_IFIFO:	return "fifo";
	case S_IFCHR:	return "char device";
	case S_IFBLK:	return "block device";
	case S_IFSOCK:	return "socket";
	}
	return "unknown";
}

/* root "/" rel, malloc'd (messages). NULL on allocation failure. */
static char *abs_dup(const struct rw_fsimage *img, const char *rel)
{
	char *s;

	if (!*rel)
		return strdup(img->root);
	if (asprintf(&s, "%s/%s", img->rootlen == 1 ? "" : img->root, rel) < 0)
		return NULL;
	return s;
}

static const char *abs_of(const struct rw_fsimage *img, const char *rel, char *buf, size_t len)
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
static int rel_path(const struct rw_fsimage *img, const char *abs, char *buf, size_t len)
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
static int open_beneath(int rootfd, const char *rel, int flags)
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
static DIR *opendir_beneath(int rootfd, const char *rel, int *err)
{
	int dfd = open_beneath(rootfd, rel, O_RDONLY | O_DIRECTORY);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);

	if (!d) {
		*err = dfd < 0 ? dfd : -errno;
		if (dfd >= 0)
			close(dfd);
	}
	return d;
}

/* l*xattr on this path reach name in dfd without following it. */
static void xattr_path(char *buf, size_t len, int dfd, const char *name)
{
	snprintf(buf, len, "/proc/self/fd/%d/%s", dfd, name);
}

static int chmod_nofollow(int dfd, const char *name, mode_t mode)
{
	static bool no_fchmodat2;

	if (!no_fchmodat2) {
		if (!syscall(SYS_fchmodat2, dfd, name, mode, AT_SYMLINK_NOFOLLOW))
			return 0;
		if (errno != ENOSYS)
			return -errno;
		no_fchmodat2 = true;
	}
	/* Older kernels: the caller saw a non-symlink there, and the tree is frozen. */
	return fchmodat(dfd, name, mode, 0) ? -errno : 0;
}

/* Open a regular file in dfd for reading without touching its atime. */
static int open_for_reading(int dfd, const char *name)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(dfd, name, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM)	/* O_NOATIME needs ownership or CAP_FOWNER */
		fd = openat(dfd, name, flags);
	return fd;
}

/* ---- (dev, ino) map ------------------------------------------------------ */

struct idmap {
	struct idslot {
		uint64_t dev, ino;
		void *val;
	} *slots;
	size_t mask, n;
};

static size_t id_hash(uint64_t dev, uint64_t ino)
{
	uint64_t k[2] = { dev, ino };

	return XXH3_64bits(k, sizeof(k));
}

static void *idmap_get(const struct idmap *m, uint64_t dev, uint64_t ino)
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

static int idmap_put(struct idmap *m, uint64_t dev, uint64_t ino, void *val)
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

static void idmap_free(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* ---- live state ---------------------------------------------------------- */

struct live {
	bool exists;
	bool mount;		/* on another mount than the root */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t dev, ino, size, rdev, nlink;
	struct timespec atime, mtime;
};

/* name in dfd, not followed; a missing one is !exists, not an error. */
static int live_stat(const struct rw_fsimage *img, int dfd, const char *name, struct live *lv)
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
static int root_stat(const struct rw_fsimage *img, int rootfd, struct live *lv)
{
	int err = live_stat(img, rootfd, ".", lv);

	lv->mount = false;
	return err ?: lv->exists ? 0 : -ENOENT;
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* The live entry is e's inode, as the manifest (or the last restore) left it. */
static bool live_is(const struct fs_entry *e, const struct live *lv)
{
	return lv->exists && !lv->mount && TYPE(lv->mode) == TYPE(e->mode) &&
	       lv->dev == e->inode->dev && lv->ino == e->inode->ino;
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
static int list_xattrs(const char *path, char **list, size_t *len)
{
	return read_xattr_blob(path, NULL, list, len);
}

/* Value of name in *val (malloc'd, maybe NULL for an empty one); -ENODATA when absent. */
static int get_xattr(const char *path, const char *name, char **val, size_t *len)
{
	return read_xattr_blob(path, name, val, len);
}

static const struct fs_xattr *find_xattr(const struct fs_entry *e, const char *name)
{
	for (uint32_t i = 0; i < e->nxattrs; i++)
		if (!strcmp(e->xattrs[i].name, name))
			return &e->xattrs[i];
	return NULL;
}

static int capture_xattrs(struct fs_entry *e, int dfd, const char *name)
{
	char path[PATH_MAX], *list, *val;
	size_t len, vlen;
	uint32_t cap = 0;
	int err;

	xattr_path(path, sizeof(path), dfd, name);
	err = list_xattrs(path, &list, &len);
	if (err)
		return err;
	for (size_t off = 0; off < len; off += strlen(list + off) + 1) {
		struct fs_xattr x;

		err = get_xattr(path, list + off, &val, &vlen);
		if (err == -ENODATA)
			continue;
		if (err)
			break;
		x = (struct fs_xattr){ .name = strdup(list + off), .value = val, .len = vlen };
		if (!x.name || PUSH(e->xattrs, e->nxattrs, cap, x)) {
			free(x.name);
			free(val);
			err = -ENOMEM;
			break;
		}
	}
	free(list);
	return err;
}

/* ---- manifest ------------------------------------------------------------ */

static size_t bucket(const struct rw_fsimage *img, const char *rel, size_t len)
{
	return XXH3_64bits(rel, len) & img->tmask;
}

static struct fs_entry *lookup(const struct rw_fsimage *img, const char *rel, size_t len)
{
	for (struct fs_entry *e = img->table[bucket(img, rel, len)]; e; e = e->hnext)
		if (e->rlen == len && !memcmp(e->rel, rel, len))
			return e;
	return NULL;
}

/* e, already the last of entries[], into the table; grows it to keep chains short. */
static int index_entry(struct rw_fsimage *img, struct fs_entry *e)
{
	size_t b;

	if (img->nentries > img->tmask + 1) {
		size_t nmask = img->tmask * 2 + 1;
		struct fs_entry **nt = calloc(nmask + 1, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		free(img->table);
		img->table = nt;
		img->tmask = nmask;
		for (size_t i = 0; i < img->nentries; i++) {
			struct fs_entry *x = img->entries[i];

			b = bucket(img, x->rel, x->rlen);
			x->hnext = nt[b];
			nt[b] = x;
		}
		return 0;
	}
	b = bucket(img, e->rel, e->rlen);
	e->hnext = img->table[b];
	img->table[b] = e;
	return 0;
}

static struct fs_entry *new_entry(struct rw_fsimage *img, struct fs_entry *parent, const char *name)
{
	struct fs_entry *e = calloc(1, sizeof(*e));
	size_t nlen = strlen(name);

	if (!e)
		return NULL;
	if (!parent) {
		e->rel = strdup("");
		e->name = ".";
	} else {
		size_t at = parent->rlen ? parent->rlen + 1 : 0;

		e->rel = malloc(at + nlen + 1);
		if (e->rel) {
			if (at) {
				memcpy(e->rel, parent->rel, parent->rlen);
				e->rel[parent->rlen] = '/';
			}
			memcpy(e->rel + at, name, nlen + 1);
			e->name = e->rel + at;
			e->rlen = at + nlen;
			e->depth = parent->depth + 1;
		}
	}
	e->parent = parent;
	e->index = img->nentries;
	if (!e->rel || PUSH(img->entries, img->nentries, img->ecap, e)) {
		free(e->rel);
		free(e);
		return NULL;
	}
	if (index_entry(img, e) || (parent && PUSH(parent->children, parent->nchildren,
						      parent->cap, e)))
		return NULL;	/* in entries[]: fsimage_free frees it */
	return e;
}

static struct fs_inode *new_inode(struct rw_fsimage *img, const struct live *lv)
{
	struct fs_inode *ino = calloc(1, sizeof(*ino));

	if (!ino)
		return NULL;
	ino->dev = lv->dev;
	ino->ino = lv->ino;
	ino->index = img->ninodes;
	if (PUSH(img->inodes, img->ninodes, img->icap, ino)) {
		free(ino);
		return NULL;
	}
	return ino;
}

static int add_name(struct fs_inode *ino, struct fs_entry *e)
{
	e->inode = ino;
	return PUSH(ino->names, ino->nnames, ino->cap, e);
}

static void set_from_live(struct fs_entry *e, const struct live *lv)
{
	e->mode = lv->mode;
	e->uid = lv->uid;
	e->gid = lv->gid;
	e->size = lv->size;
	e->rdev = lv->rdev;
	e->atime = lv->atime;
	e->mtime = lv->mtime;
}

static int read_target(int dfd, const char *name, uint64_t hint, char **out)
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

struct capture {
	struct rw_fsimage *img;
	struct idmap links;	/* (dev, ino) of multiply-linked inodes -> fs_inode */
	struct fsstore_io io;
	char *why;
	size_t whylen;
};

static int capture_entry(struct capture *c, struct fs_entry *dir, int dfd, const char *name)
{
	struct rw_fsimage *img = c->img;
	char pbuf[PATH_MAX];
	const char *abs;
	struct fs_inode *ino = NULL;
	struct fs_entry *e;
	struct live lv;
	int err, fd;

	err = live_stat(img, dfd, name, &lv);
	e = new_entry(img, dir, name);
	if (!e)
		return rw_why(c->why, c->whylen, -ENOMEM, "capturing %s", img->root);
	abs = abs_of(img, e->rel, pbuf, sizeof(pbuf));
	if (err)
		return rw_why(c->why, c->whylen, err, "capturing %s", abs);
	if (!lv.exists)
		return rw_why(c->why, c->whylen, -ENOENT, "capturing %s (removed meanwhile)", abs);
	set_from_live(e, &lv);
	e->mountpoint = lv.mount;

	if (!S_ISDIR(lv.mode) && !lv.mount && lv.nlink > 1)
		ino = idmap_get(&c->links, lv.dev, lv.ino);
	if (ino) {
		if (add_name(ino, e))
			return rw_why(c->why, c->whylen, -ENOMEM, "capturing %s", abs);
		e->size = ino->size;	/* what the store holds for the group */
	} else {
		ino = new_inode(img, &lv);
		if (!ino || add_name(ino, e) ||
		    (!S_ISDIR(lv.mode) && !lv.mount && lv.nlink > 1 &&
		     idmap_put(&c->links, lv.dev, lv.ino, ino)))
			return rw_why(c->why, c->whylen, -ENOMEM, "capturing %s", abs);
		ino = NULL;	/* new: its content is still to be stored */
	}
	if (lv.mount)
		return 0;

	err = capture_xattrs(e, dfd, name);
	if (err)
		return rw_why(c->why, c->whylen, err, "reading the xattrs of %s", abs);
	if (S_ISLNK(lv.mode)) {
		err = read_target(dfd, name, lv.size, &e->target);
		if (err)
			return rw_why(c->why, c->whylen, err, "reading symlink %s", abs);
	}
	if (!S_ISREG(lv.mode) || ino)
		return 0;

	fd = open_for_reading(dfd, name);
	if (fd < 0)
		return rw_why(c->why, c->whylen, -errno, "opening %s", abs);
	ino = e->inode;
	err = fsstore_put(&img->store, fd, abs, &ino->object, &ino->size, &ino->hash, &c->io,
			  c->why, c->whylen);
	close(fd);
	if (err)
		return err;
	if (ino->size != e->size) {
		pr_warn("%s changed during capture (%" PRIu64 " bytes, stored %" PRIu64 ")\n",
			abs, e->size, ino->size);
		e->size = ino->size;
	}
	return 0;
}

/* Breadth-first: entries[] is the queue, each directory opened anew beneath the root. */
static int capture_tree(struct capture *c, int rootfd)
{
	struct rw_fsimage *img = c->img;
	char pbuf[PATH_MAX];

	for (size_t i = 0; i < img->nentries; i++) {
		struct fs_entry *dir = img->entries[i];
		struct dirent *de;
		int err = 0;
		DIR *d;

		if (!S_ISDIR(dir->mode) || dir->mountpoint)
			continue;
		d = opendir_beneath(rootfd, dir->rel, &err);
		if (!d)
			return rw_why(c->why, c->whylen, err, "opening %s",
				      abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
		while (!err) {
			errno = 0;
			de = readdir(d);
			if (!de) {
				if (errno)
					err = rw_why(c->why, c->whylen, -errno, "listing %s",
						     abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
				break;
			}
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			err = capture_entry(c, dir, dirfd(d), de->d_name);
		}
		closedir(d);
		if (err)
			return err;
	}
	return 0;
}

/* Absolute, canonical store path even when store_dir does not exist yet. */
static int canonical_store(const char *store_dir, char **out)
{
	char *dup, *slash, *parent;

	*out = realpath(store_dir, NULL);
	if (*out)
		return 0;
	if (errno != ENOENT)
		return -errno;
	dup = strdup(store_dir);
	if (!dup)
		return -ENOMEM;
	while (strlen(dup) > 1 && dup[strlen(dup) - 1] == '/')
		dup[strlen(dup) - 1] = '\0';
	slash = strrchr(dup, '/');
	parent = realpath(!slash ? "." : slash == dup ? "/" : (*slash = '\0', dup), NULL);
	if (!parent) {
		free(dup);
		return -errno;
	}
	if (asprintf(out, "%s/%s", strcmp(parent, "/") ? parent : "",
		     slash ? slash + 1 : dup) < 0)
		*out = NULL;
	free(parent);
	free(dup);
	return *out ? 0 : -ENOMEM;
}

int fsimage_capture(const char *root, const char *store_dir, struct rw_fsimage **out,
		    struct rw_fs_stats *st, char *why, size_t whylen)
{
	struct rw_fs_stats local;
	struct capture c = { .why = why, .whylen = whylen };
	struct rw_fsimage *img;
	uint64_t t0 = rw_now_ns();
	char whybuf[256], *store = NULL;
	struct statx sx;
	struct fs_entry *top;
	struct live lv;
	int rootfd = -1, err;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (!why) {
		c.why = whybuf;
		c.whylen = sizeof(whybuf);
	}
	*out = NULL;
	if (!root || root[0] != '/')
		return rw_why(c.why, c.whylen, -EINVAL, "root %s: not an absolute path",
			      root ? root : "(null)");
	if (!store_dir || !*store_dir)
		return rw_why(c.why, c.whylen, -EINVAL, "capturing %s: no store directory", root);
	img = calloc(1, sizeof(*img));
	if (!img)
		return rw_why(c.why, c.whylen, -ENOMEM, "capturing %s", root);
	c.img = img;
	img->store.dirfd = -1;
	img->root = realpath(root, NULL);
	if (!img->root) {
		err = rw_why(c.why, c.whylen, -errno, "root %s", root);
		goto fail;
	}
	img->rootlen = strlen(img->root);
	err = canonical_store(store_dir, &store);
	if (err) {
		err = rw_why(c.why, c.whylen, err, "store %s", store_dir);
		goto fail;
	}
	if (!strcmp(img->root, "/") ||
	    (!strncmp(store, img->root, img->rootlen) &&
	     (store[img->rootlen] == '/' || !store[img->rootlen]))) {
		err = rw_why(c.why, c.whylen, -EINVAL, "store %s is inside the tree %s", store,
			     img->root);
		goto fail;
	}
	img->tmask = 1023;
	img->table = calloc(img->tmask + 1, sizeof(*img->table));
	if (!img->table) {
		err = rw_why(c.why, c.whylen, -ENOMEM, "capturing %s", img->root);
		goto fail;
	}

	rootfd = open(img->root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0 || statx(rootfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &sx)) {
		err = rw_why(c.why, c.whylen, -errno, "opening %s", img->root);
		goto fail;
	}
	img->root_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	img->have_mnt_id = sx.stx_mask & STATX_MNT_ID;
	img->root_mnt_id = sx.stx_mnt_id;
	err = fsstore_open(&img->store, store, c.why, c.whylen);
	if (err)
		goto fail;

	err = live_stat(img, rootfd, ".", &lv);
	top = new_entry(img, NULL, "");
	if (err || !top || !(top->inode = new_inode(img, &lv)) || add_name(top->inode, top)) {
		err = rw_why(c.why, c.whylen, err ?: -ENOMEM, "capturing %s", img->root);
		goto fail;
	}
	set_from_live(top, &lv);
	err = capture_xattrs(top, rootfd, ".");
	if (err) {
		err = rw_why(c.why, c.whylen, err, "reading the xattrs of %s", img->root);
		goto fail;
	}
	err = capture_tree(&c, rootfd);
	if (err)
		goto fail;

	st->entries = img->nentries;
	st->bytes_cloned = c.io.cloned;
	st->bytes_copied = c.io.copied;
	st->ns = rw_now_ns() - t0;
	pr_debug("captured %s: %zu entries, %zu inodes, store %s %" PRIu64 " bytes\n", img->root,
		 img->nentries, img->ninodes, store, img->store.bytes);
	idmap_free(&c.links);
	close(rootfd);
	free(store);
	*out = img;
	return 0;
fail:
	idmap_free(&c.links);
	if (rootfd >= 0)
		close(rootfd);
	free(store);
	fsimage_free(img);
	return err;
}

void fsimage_free(struct rw_fsimage *img)
{
	if (!img)
		return;
	fsstore_close(&img->store);
	for (size_t i = 0; i < img->nentries; i++) {
		struct fs_entry *e = img->entries[i];

		for (uint32_t j = 0; j < e->nxattrs; j++) {
			free(e->xattrs[j].name);
			free(e->xattrs[j].value);
		}
		free(e->xattrs);
		free(e->children);
		free(e->target);
		free(e->rel);
		free(e);
	}
	for (size_t i = 0; i < img->ninodes; i++) {
		free(img->inodes[i]->names);
		free(img->inodes[i]);
	}
	free(img->entries);
	free(img->inodes);
	free(img->table);
	free(img->root);
	free(img);
}

const char *fsimage_root(const struct rw_fsimage *img)
{
	return img->root;
}

uint64_t fsimage_store_bytes(const struct rw_fsimage *img)
{
	return img->store.bytes;
}

uint64_t fsimage_nentries(const struct rw_fsimage *img)
{
	return img->nentries;
}

bool fsimage_contains(const struct rw_fsimage *img, const char *abs_path)
{
	char rel[PATH_MAX];

	return rel_path(img, abs_path, rel, sizeof(rel)) > 0;
}

/* ---- comparison (verify, restore_all) ------------------------------------ */

enum {
	D_TYPE = 1 << 0,
	D_IDENT = 1 << 1,	/* another inode */
	D_MODE = 1 << 2,
	D_OWNER = 1 << 3,
	D_SIZE = 1 << 4,
	D_MTIME = 1 << 5,
	D_RDEV = 1 << 6,
	D_TARGET = 1 << 7,
	D_XATTR = 1 << 8,
	D_CONTENT = 1 << 9,
};

static void note(char *what, size_t wlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *what, size_t wlen, const char *fmt, ...)
{
	size_t at;
	va_list ap;

	if (!what || !wlen)
		return;
	at = strlen(what);
	if (at && at + 2 < wlen) {
		memcpy(what + at, ", ", 3);
		at += 2;
	}
	va_start(ap, fmt);
	vsnprintf(what + at, wlen - at, fmt, ap);
	va_end(ap);
}

/* What differs between path's xattrs and e's, noted in what: 1, 0 when equal, -errno. */
static int diff_xattrs(const struct fs_entry *e, const char *path, char *what, size_t wlen)
{
	char *list, *val;
	size_t len, vlen, nlive = 0;
	int err, differ = 0;

	err = list_xattrs(path, &list, &len);
	if (err)
		return err;
	for (size_t off = 0; off < len; off += strlen(list + off) + 1) {
		nlive++;
		if (!find_xattr(e, list + off)) {
			note(what, wlen, "unexpected xattr %s", list + off);
			differ = 1;
		}
	}
	free(list);
	for (uint32_t i = 0; i < e->nxattrs; i++) {
		const struct fs_xattr *x = &e->xattrs[i];

		err = get_xattr(path, x->name, &val, &vlen);
		if (err == -ENODATA) {
			note(what, wlen, "xattr %s missing", x->name);
			differ = 1;
			continue;
		}
		if (err)
			return err;
		if (vlen != x->len || (vlen && memcmp(val, x->value, vlen))) {
			note(what, wlen, "xattr %s differs", x->name);
			differ = 1;
		}
		free(val);
	}
	return differ;
}

static int hash_live(int dfd, const char *name, void *buf, XXH128_hash_t *h, uint64_t *len)
{
	int fd = open_for_reading(dfd, name), err;

	if (fd < 0)
		return -errno;
	err = fsstore_hash_fd(fd, buf, h, len);
	close(fd);
	return err;
}

/*
 * What differs between e and the live entry lv at name in dfd: *mask of
 * D_*, described in what (when given). For verify, the inode number is
 * not compared and every regular file of the right size is hashed; for
 * restore_all, another inode ends the comparison (it will be replaced),
 * and only files whose size and mtime match are hashed.
 */
static int compare_entry(const struct fs_entry *e, int dfd, const char *name,
			 const struct live *lv, bool verify, void *buf, char *what, size_t wlen,
			 unsigned *mask)
{
	char xpath[PATH_MAX];
	XXH128_hash_t h;
	uint64_t len;
	int err;

	*mask = 0;
	if (TYPE(lv->mode) != TYPE(e->mode)) {
		*mask |= D_TYPE;
		note(what, wlen, "is a %s, captured a %s", type_name(lv->mode), type_name(e->mode));
		return 0;
	}
	if (e->mountpoint)
		return 0;
	if (lv->mount) {
		*mask |= D_IDENT;
		note(what, wlen, "is a mount point");
		return 0;
	}
	if (lv->dev != e->inode->dev || lv->ino != e->inode->ino) {
		*mask |= D_IDENT;
		if (!verify)
			return 0;
	}
	if (PERM(lv->mode) != PERM(e->mode)) {
		*mask |= D_MODE;
		note(what, wlen, "mode %04o, captured %04o", PERM(lv->mode), PERM(e->mode));
	}
	if (lv->uid != e->uid || lv->gid != e->gid) {
		*mask |= D_OWNER;
		note(what, wlen, "owner %u:%u, captured %u:%u", lv->uid, lv->gid, e->uid, e->gid);
	}
	if (S_ISREG(e->mode) && lv->size != e->size) {
		*mask |= D_SIZE;
		note(what, wlen, "size %" PRIu64 ", captured %" PRIu64, lv->size, e->size);
	}
	if (!same_time(lv->mtime, e->mtime)) {
		*mask |= D_MTIME;
		note(what, wlen, "mtime %lld.%09ld, captured %lld.%09ld", (long long)lv->mtime.tv_sec,
		     lv->mtime.tv_nsec, (long long)e->mtime.tv_sec, e->mtime.tv_nsec);
	}
	if ((S_ISCHR(e->mode) || S_ISBLK(e->mode)) && lv->rdev != e->rdev) {
		*mask |= D_RDEV;
		note(what, wlen, "device %u:%u, captured %u:%u", major(lv->rdev), minor(lv->rdev),
		     major(e->rdev), minor(e->rdev));
	}
	if (S_ISLNK(e->mode)) {
		char *target;

		err = read_target(dfd, name, lv->size, &target);
		if (err)
			return err;
		if (strcmp(target, e->target)) {
			*mask |= D_TARGET;
			note(what, wlen, "symlink to %s, captured %s", target, e->target);
		}
		free(target);
	}
	xattr_path(xpath, sizeof(xpath), dfd, name);
	err = diff_xattrs(e, xpath, what, wlen);
	if (err < 0)
		return err;
	if (err)
		*mask |= D_XATTR;
	if (S_ISREG(e->mode) && !(*mask & D_SIZE) && (verify || !(*mask & D_MTIME))) {
		err = hash_live(dfd, name, buf, &h, &len);
		if (err)
			return err;
		if (len != e->inode->size || !XXH128_isEqual(h, e->inode->hash)) {
			*mask |= D_CONTENT;
			note(what, wlen, "content differs");
		}
	}
	return 0;
}

/* ---- restore: planning --------------------------------------------------- */

enum {
	ACT_REMOVE = 1 << 0,	/* the live thing at its path is not it: remove it first */
	ACT_RECREATE = 1 << 1,
	ACT_CONTENT = 1 << 2,
	ACT_META = 1 << 3,
	ACT_RECREATED = 1 << 4,	/* done: live again, as a new inode or a link */
	ACT_SEEN = 1 << 5,	/* restore_all: found live */
	ACT_EXAMINED = 1 << 6,
};

struct removal {
	char *rel;
	bool owned;
	uint32_t depth;
};

struct op {
	struct rw_fsimage *img;
	struct rw_fs_stats *st, local;
	struct fsstore_io io;
	char *why, whybuf[256];
	size_t whylen;
	uint64_t t0;
	int rootfd;
	uint32_t gen;
	struct removal *rms;
	size_t nrms, rmcap;
	struct fs_entry **recreate, **content, **meta;
	size_t nrecreate, reccap, ncontent, concap, nmeta, metacap;
	void *buf;		/* restore_all: hashing */
};

#define FAIL(op, err, fmt, ...) rw_why((op)->why, (op)->whylen, err, fmt, ##__VA_ARGS__)

static bool has(const struct op *op, const struct fs_entry *e, uint32_t act)
{
	return e->gen == op->gen && (e->acts & act);
}

static void touch(const struct op *op, struct fs_entry *e)
{
	if (e->gen != op->gen) {
		e->gen = op->gen;
		e->acts = 0;
	}
}

static int add(struct op *op, struct fs_entry *e, uint32_t act)
{
	int err = 0;

	touch(op, e);
	if (e->acts & act)
		return 0;
	e->acts |= act;
	switch (act) {
	case ACT_REMOVE:
		err = PUSH(op->rms, op->nrms, op->rmcap,
			   ((struct removal){ .rel = e->rel, .depth = e->depth }));
		break;
	case ACT_RECREATE:
		err = PUSH(op->recreate, op->nrecreate, op->reccap, e);
		break;
	case ACT_CONTENT:
		err = PUSH(op->content, op->ncontent, op->concap, e);
		break;
	case ACT_META:
		err = PUSH(op->meta, op->nmeta, op->metacap, e);
		break;
	}
	return err ? FAIL(op, err, "planning the restore of %s", op->img->root) : 0;
}

static void examined(struct op *op, struct fs_entry *e)
{
	touch(op, e);
	if (!(e->acts & ACT_EXAMINED)) {
		e->acts |= ACT_EXAMINED;
		op->st->entries++;
	}
}

/*
 * The live entry lv at name in dfd cannot be made e in place: another
 * inode, or one whose inode number was reused (ext4 does at once) for a
 * symlink or device node of another target, which only recreation sets.
 */
static bool needs_replacing(const struct fs_entry *e, int dfd, const char *name,
			    const struct live *lv)
{
	char *target;
	bool differs;

	if (!live_is(e, lv))
		return true;
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		return lv->rdev != e->rdev;
	if (!S_ISLNK(e->mode))
		return false;
	if (read_target(dfd, name, lv->size, &target))
		return true;
	differs = strcmp(target, e->target);
	free(target);
	return differs;
}

/*
 * e, seen live as lv (maybe missing), must become the manifest's again;
 * replace: what is there cannot be made e in place.
 */
static int classify(struct op *op, struct fs_entry *e, const struct live *lv, bool replace)
{
	int err;

	if (e->mountpoint)
		return 0;
	examined(op, e);
	if (!lv->exists)
		err = add(op, e, ACT_RECREATE);
	else if (replace)
		err = add(op, e, ACT_REMOVE) ?: add(op, e, ACT_RECREATE);
	else
		err = (S_ISREG(e->mode) ? add(op, e, ACT_CONTENT) : 0) ?: add(op, e, ACT_META);
	/* Creating or removing a name changes the directory's mtime. */
	if (!err && e->parent)
		err = add(op, e->parent, ACT_META);
	return err;
}

/* rel (len bytes) is live in dir but not in the manifest. */
static int plan_removal(struct op *op, const char *rel, size_t len, struct fs_entry *dir)
{
	struct removal r = { .rel = strndup(rel, len), .owned = true, .depth = 1 };

	if (!r.rel || PUSH(op->rms, op->nrms, op->rmcap, r)) {
		free(r.rel);
		return FAIL(op, -ENOMEM, "planning the restore of %s", op->img->root);
	}
	for (size_t i = 0; i < len; i++)
		r.depth += rel[i] == '/';
	op->st->entries++;
	return add(op, dir, ACT_META);
}

/*
 * One touched path: walk down from the root while the live ancestors are
 * the captured directories; the first one that is not (or the path itself)
 * decides the action. O(depth).
 */
static int plan_path(struct op *op, const char *rel)
{
	struct rw_fsimage *img = op->img;
	struct fs_entry *dir = img->entries[0], *e;
	char pbuf[PATH_MAX], name[NAME_MAX + 1];
	const char *p = rel;
	struct live lv;
	int fd, err = 0;

	if (!*rel) {
		examined(op, dir);
		return add(op, dir, ACT_META);
	}
	fd = fcntl(op->rootfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return FAIL(op, -errno, "restoring %s", img->root);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t plen = slash ? (size_t)(slash - rel) : strlen(rel);
		size_t clen = (rel + plen) - p;
		int nfd;

		if (dir->mountpoint || clen > NAME_MAX)
			break;	/* under a mount, or a name no filesystem takes: nothing of ours */
		memcpy(name, p, clen);
		name[clen] = '\0';
		e = lookup(img, rel, plen);
		if (!e) {
			err = plan_removal(op, rel, plen, dir);
			break;
		}
		err = live_stat(img, fd, name, &lv);
		if (err) {
			memcpy(pbuf, rel, plen);
			pbuf[plen] = '\0';
			err = FAIL(op, err, "examining %s/%s", img->rootlen == 1 ? "" : img->root, pbuf);
			break;
		}
		if (!slash || !S_ISDIR(e->mode) || e->mountpoint || !live_is(e, &lv)) {
			err = classify(op, e, &lv, lv.exists && needs_replacing(e, fd, name, &lv));
			break;
		}
		nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			err = FAIL(op, -errno, "opening %s", abs_of(img, e->rel, pbuf, sizeof(pbuf)));
			break;
		}
		close(fd);
		fd = nfd;
		dir = e;
		p = slash + 1;
	}
	close(fd);
	return err;
}

/* Breadth-first over the directories that are still the captured ones. */
static int plan_all(struct op *op)
{
	struct rw_fsimage *img = op->img;
	struct fs_entry **queue = NULL, *top = img->entries[0];
	size_t nq = 0, qcap = 0;
	char rel[PATH_MAX], pbuf[PATH_MAX];
	struct live lv, none = { 0 };
	unsigned mask;
	int err;

	err = root_stat(img, op->rootfd, &lv);
	if (!err)
		err = compare_entry(top, op->rootfd, ".", &lv, false, op->buf, NULL, 0, &mask);
	if (err)
		return FAIL(op, err, "examining %s", img->root);
	examined(op, top);
	if (mask && (err = add(op, top, ACT_META)))
		return err;
	if (PUSH(queue, nq, qcap, top))
		return FAIL(op, -ENOMEM, "examining %s", img->root);

	for (size_t qi = 0; qi < nq && !err; qi++) {
		struct fs_entry *dir = queue[qi];
		struct dirent *de;
		int dfd;
		DIR *d;

		dfd = open_beneath(op->rootfd, dir->rel, O_RDONLY | O_DIRECTORY);
		d = dfd < 0 ? NULL : fdopendir(dfd);
		if (!d) {
			err = FAIL(op, dfd < 0 ? dfd : -errno, "opening %s",
				   abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
			if (dfd >= 0)
				close(dfd);
			break;
		}
		while (!err) {
			struct fs_entry *e;
			size_t len;

			errno = 0;
			de = readdir(d);
			if (!de) {
				if (errno)
					err = FAIL(op, -errno, "listing %s",
						   abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
				break;
			}
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			len = snprintf(rel, sizeof(rel), "%s%s%s", dir->rel, dir->rlen ? "/" : "",
				       de->d_name);
			if (len >= sizeof(rel)) {
				err = FAIL(op, -ENAMETOOLONG, "examining %s/%s",
					   abs_of(img, dir->rel, pbuf, sizeof(pbuf)), de->d_name);
				break;
			}
			e = lookup(img, rel, len);
			if (!e) {
				err = plan_removal(op, rel, len, dir);
				continue;
			}
			err = live_stat(img, dirfd(d), de->d_name, &lv);
			if (err || !lv.exists) {
				if (err)
					err = FAIL(op, err, "examining %s",
						   abs_of(img, rel, pbuf, sizeof(pbuf)));
				continue;	/* gone meanwhile: "missing" below */
			}
			touch(op, e);
			e->acts |= ACT_SEEN;
			if (e->mountpoint)
				continue;
			examined(op, e);
			err = compare_entry(e, dirfd(d), de->d_name, &lv, false, op->buf, NULL, 0,
					    &mask);
			if (err) {
				err = FAIL(op, err, "examining %s", abs_of(img, rel, pbuf, sizeof(pbuf)));
				break;
			}
			if (mask & (D_TYPE | D_IDENT | D_TARGET | D_RDEV))
				err = classify(op, e, &lv, true);
			else if (S_ISREG(e->mode) && (mask & (D_SIZE | D_MTIME | D_CONTENT)))
				err = add(op, e, ACT_CONTENT) ?: add(op, e, ACT_META);
			else if (mask)
				err = add(op, e, ACT_META);
			if (!err && S_ISDIR(e->mode) && !(mask & (D_TYPE | D_IDENT)) &&
			    PUSH(queue, nq, qcap, e))
				err = FAIL(op, -ENOMEM, "examining %s", img->root);
		}
		closedir(d);
		for (uint32_t i = 0; i < dir->nchildren && !err; i++)
			if (!has(op, dir->children[i], ACT_SEEN))
				err = classify(op, dir->children[i], &none, false);
	}
	free(queue);
	return err;
}

/* ---- restore: execution -------------------------------------------------- */

static int removal_deeper_first(const void *a, const void *b)
{
	const struct removal *x = a, *y = b;

	return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

static int entry_shallower_first(const void *a, const void *b)
{
	const struct fs_entry *x = *(struct fs_entry *const *)a, *y = *(struct fs_entry *const *)b;

	return x->depth < y->depth ? -1 : x->depth > y->depth ? 1 : 0;
}

static int entry_deeper_first(const void *a, const void *b)
{
	return entry_shallower_first(b, a);
}

/* An fd for e's directory, and the name of e in it ("." for the root). */
static int parent_fd(const struct op *op, const struct fs_entry *e, const char **name)
{
	int fd;

	if (!e->parent) {
		*name = ".";
		fd = fcntl(op->rootfd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	*name = e->name;
	return open_beneath(op->rootfd, e->parent->rel, O_PATH | O_DIRECTORY);
}

/* Remove name in dfd, recursively if a directory; never into another mount. */
static int remove_at(struct op *op, int dfd, const char *name, const char *dir_abs)
{
	struct dirent *de;
	struct live lv;
	char *abs;
	int fd, err = 0;
	DIR *d;

	if (!unlinkat(dfd, name, 0)) {
		op->st->entries_removed++;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return FAIL(op, -errno, "removing %s/%s", dir_abs, name);
	if (asprintf(&abs, "%s/%s", dir_abs, name) < 0)
		return FAIL(op, -ENOMEM, "removing %s/%s", dir_abs, name);
	err = live_stat(op->img, dfd, name, &lv);
	if (!err && lv.mount)
		err = -EBUSY;
	if (err) {
		err = FAIL(op, err, "removing %s%s", abs, err == -EBUSY ? " (a mount point)" : "");
		goto out;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		err = FAIL(op, -errno, "removing %s", abs);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while (!err) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				err = FAIL(op, -errno, "listing %s", abs);
			break;
		}
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			err = remove_at(op, dirfd(d), de->d_name, abs);
	}
	closedir(d);
	if (!err) {
		if (unlinkat(dfd, name, AT_REMOVEDIR))
			err = FAIL(op, -errno, "removing %s", abs);
		else
			op->st->entries_removed++;
	}
out:
	free(abs);
	return err;
}

static int remove_rel(struct op *op, const char *rel)
{
	const char *slash = strrchr(rel, '/'), *name = slash ? slash + 1 : rel;
	char prel[PATH_MAX], pbuf[PATH_MAX];
	size_t plen = slash ? (size_t)(slash - rel) : 0;
	int pfd, err;

	memcpy(prel, rel, plen);
	prel[plen] = '\0';
	pfd = open_beneath(op->rootfd, prel, O_PATH | O_DIRECTORY);
	if (pfd == -ENOENT)
		return 0;	/* went with an ancestor */
	if (pfd < 0)
		return FAIL(op, pfd, "removing %s", abs_of(op->img, rel, pbuf, sizeof(pbuf)));
	err = remove_at(op, pfd, name, abs_of(op->img, prel, pbuf, sizeof(pbuf)));
	close(pfd);
	return err;
}

/* A name of e's inode that is live as that inode; its directory fd in *mfd. */
static struct fs_entry *live_member(struct op *op, const struct fs_entry *e, int *mfd)
{
	for (uint32_t i = 0; i < e->inode->nnames; i++) {
		struct fs_entry *m = e->inode->names[i];
		const char *name;
		struct live lv;
		int fd;

		if (m == e)
			continue;
		fd = parent_fd(op, m, &name);
		if (fd < 0)
			continue;
		if (!live_stat(op->img, fd, name, &lv) && live_is(m, &lv)) {
			*mfd = fd;
			return m;
		}
		close(fd);
	}
	return NULL;
}

static int recreate_file(struct op *op, struct fs_entry *e, int pfd, const char *abs)
{
	int fd, err;

	fd = openat(pfd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return FAIL(op, -errno, "restoring %s (create)", abs);
	err = fsstore_fill(&op->img->store, e->inode->object, e->inode->size, fd, abs, &op->io,
			   op->why, op->whylen);
	close(fd);
	if (err) {
		/* A half-written file would pass for the real one. */
		if (unlinkat(pfd, e->name, 0))
			pr_warn("removing the partial %s: %s\n", abs, strerror(errno));
		return err;
	}
	op->st->files_restored++;
	return 0;
}

/* Create e (a directory with its whole subtree) in pfd, where nothing is. */
static int recreate_in(struct op *op, struct fs_entry *e, int pfd)
{
	char *abs = abs_dup(op->img, e->rel);
	struct fs_entry *m;
	bool linked = false;
	struct live lv;
	int err = 0, mfd, dfd;

	if (!abs)
		return FAIL(op, -ENOMEM, "restoring %s", op->img->root);
	touch(op, e);
	if (e->mountpoint) {
		/* A mount cannot be brought back: leave a directory for it. */
		pr_warn("%s was a mount point: recreated as an empty directory\n", abs);
		if (mkdirat(pfd, e->name, 0755))
			err = FAIL(op, -errno, "restoring %s (mkdir)", abs);
		e->acts |= ACT_RECREATED;
		goto out;
	}
	if (!S_ISDIR(e->mode) && e->inode->nnames > 1 && (m = live_member(op, e, &mfd))) {
		if (linkat(mfd, m->name, pfd, e->name, 0))
			err = FAIL(op, -errno, "restoring %s (link to %s)", abs, m->rel);
		close(mfd);
		linked = true;
	} else {
		switch (TYPE(e->mode)) {
		case S_IFDIR:
			if (mkdirat(pfd, e->name, 0700))
				err = FAIL(op, -errno, "restoring %s (mkdir)", abs);
			break;
		case S_IFREG:
			err = recreate_file(op, e, pfd, abs);
			break;
		case S_IFLNK:
			if (symlinkat(e->target, pfd, e->name))
				err = FAIL(op, -errno, "restoring %s (symlink)", abs);
			break;
		default:
			if (mknodat(pfd, e->name, TYPE(e->mode) | 0600, e->rdev))
				err = FAIL(op, -errno, "restoring %s (mknod)", abs);
			break;
		}
	}
	if (err)
		goto out;
	op->st->entries_recreated++;
	if (!linked) {
		/* A new inode: what its names (and later restores) must find live. */
		err = live_stat(op->img, pfd, e->name, &lv);
		if (err || !lv.exists) {
			err = FAIL(op, err ?: -ENOENT, "restoring %s", abs);
			goto out;
		}
		e->inode->dev = lv.dev;
		e->inode->ino = lv.ino;
	}
	e->acts |= ACT_RECREATED;
	err = add(op, e, ACT_META);
	if (err || !S_ISDIR(e->mode))
		goto out;
	dfd = openat(pfd, e->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		err = FAIL(op, -errno, "opening %s", abs);
		goto out;
	}
	for (uint32_t i = 0; i < e->nchildren && !err; i++)
		err = recreate_in(op, e->children[i], dfd);
	close(dfd);
out:
	free(abs);
	return err;
}

static bool covered(const struct op *op, const struct fs_entry *e)
{
	for (const struct fs_entry *p = e->parent; p; p = p->parent)
		if (has(op, p, ACT_RECREATE))
			return true;
	return false;
}

static int restore_content(struct op *op, struct fs_entry *e)
{
	char pbuf[PATH_MAX];
	const char *abs = abs_of(op->img, e->rel, pbuf, sizeof(pbuf)), *name;
	struct stat st;
	int pfd, fd, err;

	pfd = parent_fd(op, e, &name);
	if (pfd < 0)
		return FAIL(op, pfd, "restoring %s", abs);
	/* O_NONBLOCK: a lease held by the frozen function must not block us. */
	fd = openat(pfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(pfd);
	if (fd < 0)
		return FAIL(op, -errno, "restoring %s", abs);
	if (fstat(fd, &st)) {
		err = FAIL(op, -errno, "restoring %s", abs);
	} else if (makedev(major(st.st_dev), minor(st.st_dev)) != e->inode->dev ||
		   st.st_ino != e->inode->ino) {
		err = FAIL(op, -ESTALE, "restoring %s (replaced during the restore)", abs);
	} else {
		err = fsstore_fill(&op->img->store, e->inode->object, e->inode->size, fd, abs,
				   &op->io, op->why, op->whylen);
		if (!err)
			op->st->files_restored++;
	}
	close(fd);
	return err;
}

/* Make path's xattrs e's; which: the name that failed. *changed: something was. */
static int restore_xattrs(const struct fs_entry *e, const char *path, char *which, size_t wlen,
			  bool *changed)
{
	char *list, *val;
	size_t len, vlen;
	int err;

	snprintf(which, wlen, "list");
	err = list_xattrs(path, &list, &len);
	if (err)
		return err;
	for (size_t off = 0; off < len && !err; off += strlen(list + off) + 1) {
		if (find_xattr(e, list + off))
			continue;
		if (lremovexattr(path, list + off) && errno != ENODATA) {
			err = -errno;
			snprintf(which, wlen, "%s", list + off);
		}
		*changed = true;
	}
	free(list);
	for (uint32_t i = 0; i < e->nxattrs && !err; i++) {
		const struct fs_xattr *x = &e->xattrs[i];

		snprintf(which, wlen, "%s", x->name);
		err = get_xattr(path, x->name, &val, &vlen);
		if (!err && vlen == x->len && (!vlen || !memcmp(val, x->value, vlen))) {
			free(val);
			continue;	/* unchanged: do not risk a refusal */
		}
		free(val);
		err = lsetxattr(path, x->name, x->value, x->len, 0) ? -errno : 0;
		*changed = true;
	}
	return err;
}

/*
 * Owner, mode, xattrs, then times (the others change ctime, not mtime).
 * Only what differs is set: an entry that is already right (a parent
 * whose children were only rewritten) is not written at all.
 */
static int restore_meta(struct op *op, const struct fs_entry *e)
{
	char pbuf[PATH_MAX], xpath[PATH_MAX], which[XATTR_NAME_MAX + 1];
	const char *abs = abs_of(op->img, e->rel, pbuf, sizeof(pbuf)), *name;
	struct timespec times[2] = { e->atime, e->mtime };
	bool chowned = false, changed = false;
	struct live lv;
	int pfd, err = 0;

	if (e->mountpoint)
		return 0;
	pfd = parent_fd(op, e, &name);
	if (pfd < 0)
		return FAIL(op, pfd, "restoring %s", abs);
	err = live_stat(op->img, pfd, name, &lv);
	if (err || !lv.exists || TYPE(lv.mode) != TYPE(e->mode)) {
		err = FAIL(op, err ?: -ESTALE, "restoring %s (replaced during the restore)", abs);
		goto out;
	}
	if (lv.uid != e->uid || lv.gid != e->gid) {
		if (fchownat(pfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW)) {
			err = FAIL(op, -errno, "restoring %s (owner)", abs);
			goto out;
		}
		chowned = changed = true;	/* and maybe cleared set-id bits */
	}
	if (!S_ISLNK(e->mode) && (chowned || PERM(lv.mode) != PERM(e->mode))) {
		err = chmod_nofollow(pfd, name, PERM(e->mode));
		if (err) {
			err = FAIL(op, err, "restoring %s (mode)", abs);
			goto out;
		}
		changed = true;
	}
	xattr_path(xpath, sizeof(xpath), pfd, name);
	err = restore_xattrs(e, xpath, which, sizeof(which), &changed);
	if (err) {
		err = FAIL(op, err, "restoring %s (xattr %s)", abs, which);
		goto out;
	}
	if (!same_time(lv.atime, e->atime) || !same_time(lv.mtime, e->mtime)) {
		if (utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW)) {
			err = FAIL(op, -errno, "restoring %s (times)", abs);
			goto out;
		}
		changed = true;
	}
	if (changed)
		op->st->metadata_restored++;
out:
	close(pfd);
	return err;
}

/* qsort's pointer must not be NULL, even for nothing to sort. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static int execute(struct op *op)
{
	const char *name;
	int err, pfd;

	sort(op->rms, op->nrms, sizeof(*op->rms), removal_deeper_first);
	for (size_t i = 0; i < op->nrms; i++)
		if ((err = remove_rel(op, op->rms[i].rel)))
			return err;

	sort(op->recreate, op->nrecreate, sizeof(*op->recreate), entry_shallower_first);
	for (size_t i = 0; i < op->nrecreate; i++) {
		struct fs_entry *e = op->recreate[i];
		char pbuf[PATH_MAX];

		if (covered(op, e))
			continue;	/* an ancestor's recreation brought it back */
		pfd = parent_fd(op, e, &name);
		if (pfd < 0)
			return FAIL(op, pfd, "restoring %s",
				    abs_of(op->img, e->rel, pbuf, sizeof(pbuf)));
		err = recreate_in(op, e, pfd);
		close(pfd);
		if (err)
			return err;
	}

	for (size_t i = 0; i < op->ncontent; i++) {
		struct fs_entry *e = op->content[i];

		/* Recreated ones are fresh; hard links share one inode: once each. */
		if (has(op, e, ACT_RECREATED) || e->inode->gen == op->gen)
			continue;
		e->inode->gen = op->gen;
		if ((err = restore_content(op, e)))
			return err;
	}

	/* Children first: restoring them must not leave a parent's mtime stale. */
	sort(op->meta, op->nmeta, sizeof(*op->meta), entry_deeper_first);
	for (size_t i = 0; i < op->nmeta; i++)
		if ((err = restore_meta(op, op->meta[i])))
			return err;
	return 0;
}

static int op_begin(struct op *op, struct rw_fsimage *img, struct rw_fs_stats *st, char *why,
		    size_t whylen)
{
	const struct fs_entry *top = img->entries[0];
	struct live lv;
	int err;

	memset(op, 0, sizeof(*op));
	op->rootfd = -1;
	op->t0 = rw_now_ns();
	op->img = img;
	op->st = st ? st : &op->local;
	memset(op->st, 0, sizeof(*op->st));
	op->why = why ? why : op->whybuf;
	op->whylen = why ? whylen : sizeof(op->whybuf);
	op->rootfd = open(img->root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (op->rootfd < 0)
		return FAIL(op, -errno, "opening %s", img->root);
	err = root_stat(img, op->rootfd, &lv);
	if (err)
		return FAIL(op, err, "examining %s", img->root);
	if (lv.dev != top->inode->dev || lv.ino != top->inode->ino)
		return FAIL(op, -ESTALE, "%s is not the captured directory", img->root);
	if (++img->gen == 0) {	/* wrapped: stale marks could pass for current */
		for (size_t i = 0; i < img->nentries; i++)
			img->entries[i]->gen = 0;
		for (size_t i = 0; i < img->ninodes; i++)
			img->inodes[i]->gen = 0;
		img->gen = 1;
	}
	op->gen = img->gen;
	return 0;
}

static void op_end(struct op *op)
{
	if (op->rootfd >= 0)
		close(op->rootfd);
	for (size_t i = 0; i < op->nrms; i++)
		if (op->rms[i].owned)
			free(op->rms[i].rel);
	free(op->rms);
	free(op->recreate);
	free(op->content);
	free(op->meta);
	free(op->buf);
	op->st->bytes_cloned = op->io.cloned;
	op->st->bytes_copied = op->io.copied;
	op->st->ns = rw_now_ns() - op->t0;
}

int fsimage_restore_paths(struct rw_fsimage *img, const char *const *abs_paths, size_t n,
			  struct rw_fs_stats *st, char *why, size_t whylen)
{
	char rel[PATH_MAX];
	struct op op;
	int err;

	err = op_begin(&op, img, st, why, whylen);
	if (!err && n && !abs_paths)
		err = FAIL(&op, -EINVAL, "restoring %s: no paths", img->root);
	for (size_t i = 0; i < n && !err; i++) {
		int in = rel_path(img, abs_paths[i], rel, sizeof(rel));

		if (in < 0)
			err = FAIL(&op, in, "restoring %s: not a canonical absolute path",
				   abs_paths[i] ? abs_paths[i] : "(null)");
		else if (in)
			err = plan_path(&op, rel);
	}
	if (!err)
		err = execute(&op);
	op_end(&op);
	return err;
}

int fsimage_restore_all(struct rw_fsimage *img, struct rw_fs_stats *st, char *why, size_t whylen)
{
	struct op op;
	int err;

	err = op_begin(&op, img, st, why, whylen);
	if (!err) {
		op.buf = malloc(FSSTORE_BUF);
		if (!op.buf)
			err = FAIL(&op, -ENOMEM, "restoring %s", img->root);
	}
	if (!err)
		err = plan_all(&op);
	if (!err)
		err = execute(&op);
	op_end(&op);
	return err;
}

/* ---- verify -------------------------------------------------------------- */

struct verify {
	const struct rw_fsimage *img;
	struct rw_fs_diffs *d;
	uint8_t *seen;			/* by entry index */
	struct group {			/* by inode index: the live inode of its first name */
		const struct fs_entry *first;
		uint64_t dev, ino;
	} *groups;
	struct idmap owners;		/* live (dev, ino) -> first entry found on it */
	void *buf;
};

static int add_diff(struct rw_fs_diffs *d, const char *abs, const char *what)
{
	d->count++;
	if (d->nlisted < RW_FS_DIFFS_LISTED) {
		if (asprintf(&d->listed[d->nlisted], "%s: %s", abs, what) < 0)
			return -ENOMEM;
		d->nlisted++;
	}
	return 0;
}

/* Names sharing an inode in the manifest share one live, and no other does. */
static int check_link_group(struct verify *v, const struct fs_entry *e, const struct live *lv,
			    char *what, size_t wlen)
{
	struct group *g = &v->groups[e->inode->index];
	const struct fs_entry *owner;

	if (!g->first) {
		*g = (struct group){ .first = e, .dev = lv->dev, .ino = lv->ino };
	} else if (g->dev != lv->dev || g->ino != lv->ino) {
		note(what, wlen, "not a hard link of %s any more", g->first->rel);
	}
	owner = idmap_get(&v->owners, lv->dev, lv->ino);
	if (!owner)
		return idmap_put(&v->owners, lv->dev, lv->ino, (void *)e);
	if (owner->inode != e->inode)
		note(what, wlen, "a hard link of %s, captured as another file", owner->rel);
	return 0;
}

static int verify_dir(struct verify *v, const struct fs_entry *dir, int rootfd,
		      const struct fs_entry ***queue, size_t *nq, size_t *qcap, char *why,
		      size_t whylen)
{
	const struct rw_fsimage *img = v->img;
	char rel[PATH_MAX], pbuf[PATH_MAX], what[512];
	struct dirent *de;
	int err = 0;
	unsigned mask;
	DIR *d;

	d = opendir_beneath(rootfd, dir->rel, &err);
	if (!d)
		return rw_why(why, whylen, err, "opening %s", abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
	while (!err) {
		const struct fs_entry *e;
		struct live lv;
		size_t len;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				err = rw_why(why, whylen, -errno, "listing %s",
					     abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		len = snprintf(rel, sizeof(rel), "%s%s%s", dir->rel, dir->rlen ? "/" : "", de->d_name);
		if (len >= sizeof(rel)) {
			err = rw_why(why, whylen, -ENAMETOOLONG, "verifying %s/%s",
				     abs_of(img, dir->rel, pbuf, sizeof(pbuf)), de->d_name);
			break;
		}
		err = live_stat(img, dirfd(d), de->d_name, &lv);
		if (err) {
			err = rw_why(why, whylen, err, "verifying %s", abs_of(img, rel, pbuf, sizeof(pbuf)));
			break;
		}
		if (!lv.exists)
			continue;
		e = lookup(img, rel, len);
		what[0] = '\0';
		if (!e) {
			snprintf(what, sizeof(what), "unexpected %s", type_name(lv.mode));
		} else {
			v->seen[e->index] = 1;
			err = compare_entry(e, dirfd(d), de->d_name, &lv, true, v->buf, what,
					    sizeof(what), &mask);
			if (!err && !S_ISDIR(e->mode) && !(mask & D_TYPE) && !e->mountpoint &&
			    !lv.mount)
				err = check_link_group(v, e, &lv, what, sizeof(what));
			if (err) {
				err = rw_why(why, whylen, err, "verifying %s",
					     abs_of(img, rel, pbuf, sizeof(pbuf)));
				break;
			}
			if (S_ISDIR(e->mode) && !(mask & D_TYPE) && !e->mountpoint && !lv.mount &&
			    PUSH(*queue, *nq, *qcap, e)) {
				err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
				break;
			}
		}
		if (what[0] && add_diff(v->d, abs_of(img, rel, pbuf, sizeof(pbuf)), what))
			err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
	}
	closedir(d);
	for (uint32_t i = 0; i < dir->nchildren && !err; i++) {
		const struct fs_entry *c = dir->children[i];

		if (!v->seen[c->index] &&
		    add_diff(v->d, abs_of(img, c->rel, pbuf, sizeof(pbuf)), "missing"))
			err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
	}
	return err;
}

int fsimage_verify(const struct rw_fsimage *img, struct rw_fs_diffs *d, char *why, size_t whylen)
{
	struct verify v = { .img = img, .d = d };
	const struct fs_entry **queue = NULL, *top = img->entries[0];
	size_t nq = 0, qcap = 0;
	char whybuf[256], what[512];
	struct live lv;
	unsigned mask;
	int rootfd, err;

	memset(d, 0, sizeof(*d));
	if (!why) {
		why = whybuf;
		whylen = sizeof(whybuf);
	}
	rootfd = open(img->root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0)
		return rw_why(why, whylen, -errno, "opening %s", img->root);
	v.seen = calloc(img->nentries, 1);
	v.groups = calloc(img->ninodes, sizeof(*v.groups));
	v.buf = malloc(FSSTORE_BUF);
	if (!v.seen || !v.groups || !v.buf || PUSH(queue, nq, qcap, top)) {
		err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
		goto out;
	}
	what[0] = '\0';
	err = root_stat(img, rootfd, &lv);
	if (!err)
		err = compare_entry(top, rootfd, ".", &lv, true, v.buf, what, sizeof(what), &mask);
	if (err) {
		err = rw_why(why, whylen, err, "verifying %s", img->root);
		goto out;
	}
	if (what[0] && add_diff(d, img->root, what)) {
		err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
		goto out;
	}
	for (size_t qi = 0; qi < nq && !err; qi++)
		err = verify_dir(&v, queue[qi], rootfd, &queue, &nq, &qcap, why, whylen);
out:
	close(rootfd);
	free(queue);
	free(v.seen);
	free(v.groups);
	free(v.buf);
	idmap_free(&v.owners);
	return err;
}

void fsimage_diffs_free(struct rw_fs_diffs *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nlisted; i++)
		free(d->listed[i]);
	memset(d, 0, sizeof(*d));
}
