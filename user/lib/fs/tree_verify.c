// SPDX-License-Identifier: GPL-2.0-only
/*
 * A live entry compared with the manifest: for fsimage_restore_all's plan
 * (tree_plan.c), and for fsimage_verify, which only reports.
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
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"
#include "tree_internal.h"

/* ---- comparison (verify, restore_all) ------------------------------------ */

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

	err = tree_list_xattrs(path, &list, &len);
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

		err = tree_get_xattr(path, x->name, &val, &vlen);
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
	int fd = tree_open_for_reading(dfd, name), err;

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
int tree_compare_entry(const struct fs_entry *e, int dfd, const char *name,
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

		err = tree_read_target(dfd, name, lv->size, &target);
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
	owner = tree_idmap_get(&v->owners, lv->dev, lv->ino);
	if (!owner)
		return tree_idmap_put(&v->owners, lv->dev, lv->ino, (void *)e);
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

	d = tree_opendir_beneath(rootfd, dir->rel, &err);
	if (!d)
		return rw_why(why, whylen, err, "opening %s",
			      tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
	while (!err) {
		const struct fs_entry *e;
		struct live lv;
		size_t len;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				err = rw_why(why, whylen, -errno, "listing %s",
					     tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		len = snprintf(rel, sizeof(rel), "%s%s%s", dir->rel, dir->rlen ? "/" : "", de->d_name);
		if (len >= sizeof(rel)) {
			err = rw_why(why, whylen, -ENAMETOOLONG, "verifying %s/%s",
				     tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)), de->d_name);
			break;
		}
		err = tree_live_stat(img, dirfd(d), de->d_name, &lv);
		if (err) {
			err = rw_why(why, whylen, err, "verifying %s",
				     tree_abs_of(img, rel, pbuf, sizeof(pbuf)));
			break;
		}
		if (!lv.exists)
			continue;
		e = tree_lookup(img, rel, len);
		what[0] = '\0';
		if (!e) {
			snprintf(what, sizeof(what), "unexpected %s", type_name(lv.mode));
		} else {
			v->seen[e->index] = 1;
			err = tree_compare_entry(e, dirfd(d), de->d_name, &lv, true, v->buf, what,
						 sizeof(what), &mask);
			if (!err && !S_ISDIR(e->mode) && !(mask & D_TYPE) && !e->mountpoint &&
			    !lv.mount)
				err = check_link_group(v, e, &lv, what, sizeof(what));
			if (err) {
				err = rw_why(why, whylen, err, "verifying %s",
					     tree_abs_of(img, rel, pbuf, sizeof(pbuf)));
				break;
			}
			if (S_ISDIR(e->mode) && !(mask & D_TYPE) && !e->mountpoint && !lv.mount &&
			    PUSH(*queue, *nq, *qcap, e)) {
				err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
				break;
			}
		}
		if (what[0] && add_diff(v->d, tree_abs_of(img, rel, pbuf, sizeof(pbuf)), what))
			err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
	}
	closedir(d);
	for (uint32_t i = 0; i < dir->nchildren && !err; i++) {
		const struct fs_entry *c = dir->children[i];

		if (!v->seen[c->index] &&
		    add_diff(v->d, tree_abs_of(img, c->rel, pbuf, sizeof(pbuf)), "missing"))
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
	rootfd = tree_open_root(img);
	if (rootfd < 0)
		return rw_why(why, whylen, rootfd, "opening %s", img->root);
	v.seen = calloc(img->nentries, 1);
	v.groups = calloc(img->ninodes, sizeof(*v.groups));
	v.buf = malloc(FSSTORE_BUF);
	if (!v.seen || !v.groups || !v.buf || PUSH(queue, nq, qcap, top)) {
		err = rw_why(why, whylen, -ENOMEM, "verifying %s", img->root);
		goto out;
	}
	what[0] = '\0';
	err = tree_root_stat(img, rootfd, &lv);
	if (!err)
		err = tree_compare_entry(top, rootfd, ".", &lv, true, v.buf, what, sizeof(what), &mask);
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
	tree_idmap_free(&v.owners);
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
