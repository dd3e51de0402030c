// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tree image's manifest and its capture (see tree_image.h; the layout
 * is described in tree_internal.h).
 */
#define LOG_PREFIX "fsimage: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>

#include "clock.h"
#include "log.h"
#include "nsroot.h"
#include "tree_internal.h"

/* ---- manifest ------------------------------------------------------------ */

static size_t bucket(const struct rw_fsimage *img, const char *rel, size_t len)
{
	return XXH3_64bits(rel, len) & img->tmask;
}

struct fs_entry *tree_lookup(const struct rw_fsimage *img, const char *rel, size_t len)
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

struct fs_entry *tree_new_entry(struct rw_fsimage *img, struct fs_entry *parent, const char *name)
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

struct fs_inode *tree_new_inode(struct rw_fsimage *img, uint64_t dev, uint64_t ino_nr)
{
	struct fs_inode *ino = calloc(1, sizeof(*ino));

	if (!ino)
		return NULL;
	ino->dev = dev;
	ino->ino = ino_nr;
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

/* ---- capture ------------------------------------------------------------- */

static int capture_xattrs(struct fs_entry *e, int dfd, const char *name)
{
	char path[PATH_MAX], *list, *val;
	size_t len, vlen;
	uint32_t cap = 0;
	int err;

	xattr_path(path, sizeof(path), dfd, name);
	err = tree_list_xattrs(path, &list, &len);
	if (err)
		return err;
	for (size_t off = 0; off < len; off += strlen(list + off) + 1) {
		struct fs_xattr x;

		err = tree_get_xattr(path, list + off, &val, &vlen);
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

	err = tree_live_stat(img, dfd, name, &lv);
	e = tree_new_entry(img, dir, name);
	if (!e)
		return rw_why(c->why, c->whylen, -ENOMEM, "capturing %s", img->root);
	abs = tree_abs_of(img, e->rel, pbuf, sizeof(pbuf));
	if (err)
		return rw_why(c->why, c->whylen, err, "capturing %s", abs);
	if (!lv.exists)
		return rw_why(c->why, c->whylen, -ENOENT, "capturing %s (removed meanwhile)", abs);
	set_from_live(e, &lv);
	e->mountpoint = lv.mount;

	if (!S_ISDIR(lv.mode) && !lv.mount && lv.nlink > 1)
		ino = tree_idmap_get(&c->links, lv.dev, lv.ino);
	if (ino) {
		if (add_name(ino, e))
			return rw_why(c->why, c->whylen, -ENOMEM, "capturing %s", abs);
		e->size = ino->size;	/* what the store holds for the group */
	} else {
		ino = tree_new_inode(img, lv.dev, lv.ino);
		if (!ino || add_name(ino, e) ||
		    (!S_ISDIR(lv.mode) && !lv.mount && lv.nlink > 1 &&
		     tree_idmap_put(&c->links, lv.dev, lv.ino, ino)))
			return rw_why(c->why, c->whylen, -ENOMEM, "capturing %s", abs);
		ino = NULL;	/* new: its content is still to be stored */
	}
	if (lv.mount)
		return 0;

	err = capture_xattrs(e, dfd, name);
	if (err)
		return rw_why(c->why, c->whylen, err, "reading the xattrs of %s", abs);
	if (S_ISLNK(lv.mode)) {
		err = tree_read_target(dfd, name, lv.size, &e->target);
		if (err)
			return rw_why(c->why, c->whylen, err, "reading symlink %s", abs);
	}
	if (!S_ISREG(lv.mode) || ino)
		return 0;

	fd = tree_open_for_reading(dfd, name);
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
		d = tree_opendir_beneath(rootfd, dir->rel, &err);
		if (!d)
			return rw_why(c->why, c->whylen, err, "opening %s",
				      tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
		while (!err) {
			errno = 0;
			de = readdir(d);
			if (!de) {
				if (errno)
					err = rw_why(c->why, c->whylen, -errno, "listing %s",
						     tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
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

/* heldfd < 0: root is a path of ours, made canonical; else its name, reached through heldfd. */
static int capture(const char *root, int heldfd, const char *store_dir, struct rw_fsimage **out,
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
	img->heldfd = -1;
	img->root = heldfd >= 0 ? strdup(root) : realpath(root, NULL);
	if (!img->root) {
		err = rw_why(c.why, c.whylen, -errno, "root %s", root);
		goto fail;
	}
	img->rootlen = strlen(img->root);
	if (heldfd >= 0 && (img->heldfd = fcntl(heldfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		err = rw_why(c.why, c.whylen, -errno, "root %s", root);
		goto fail;
	}
	err = canonical_store(store_dir, &store);
	if (err) {
		err = rw_why(c.why, c.whylen, err, "store %s", store_dir);
		goto fail;
	}
	/* A held root's name is in another view: the store is checked by identity below. */
	if (heldfd < 0 && (!strcmp(img->root, "/") ||
	    (!strncmp(store, img->root, img->rootlen) &&
	     (store[img->rootlen] == '/' || !store[img->rootlen])))) {
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

	rootfd = tree_open_root(img);
	if (rootfd < 0) {
		err = rw_why(c.why, c.whylen, rootfd, "opening %s", img->root);
		goto fail;
	}
	if (statx(rootfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &sx)) {
		err = rw_why(c.why, c.whylen, -errno, "opening %s", img->root);
		goto fail;
	}
	img->root_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	img->have_mnt_id = sx.stx_mask & STATX_MNT_ID;
	img->root_mnt_id = sx.stx_mnt_id;
	err = fsstore_open(&img->store, store, c.why, c.whylen);
	if (err)
		goto fail;
	if (heldfd >= 0 && (err = nsroot_fd_within(img->store.dirfd, img->root_dev, sx.stx_ino))) {
		err = rw_why(c.why, c.whylen, err < 0 ? err : -EINVAL, "store %s is inside the "
			     "tree %s", store, img->root);
		goto fail;
	}

	err = tree_live_stat(img, rootfd, ".", &lv);
	top = tree_new_entry(img, NULL, "");
	if (err || !top || !(top->inode = tree_new_inode(img, lv.dev, lv.ino)) ||
	    add_name(top->inode, top)) {
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
	tree_idmap_free(&c.links);
	close(rootfd);
	free(store);
	*out = img;
	return 0;
fail:
	tree_idmap_free(&c.links);
	if (rootfd >= 0)
		close(rootfd);
	free(store);
	fsimage_free(img);
	return err;
}

int fsimage_capture(const char *root, const char *store_dir, struct rw_fsimage **out,
		    struct rw_fs_stats *st, char *why, size_t whylen)
{
	return capture(root, -1, store_dir, out, st, why, whylen);
}

int fsimage_capture_at(int rootfd, const char *name, const char *store_dir,
		       struct rw_fsimage **out, struct rw_fs_stats *st, char *why, size_t whylen)
{
	if (rootfd < 0) {
		*out = NULL;
		return rw_why(why, whylen, -EBADF, "capturing %s: no directory fd", name);
	}
	return capture(name, rootfd, store_dir, out, st, why, whylen);
}

void fsimage_free(struct rw_fsimage *img)
{
	if (!img)
		return;
	if (img->heldfd >= 0)
		close(img->heldfd);
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

	return tree_rel_path(img, abs_path, rel, sizeof(rel)) > 0;
}
