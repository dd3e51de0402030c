// SPDX-License-Identifier: GPL-2.0-only
/*
 * A restore's plan carried out (tree_plan.c makes it), in phases:
 * removals deepest first, recreations shallowest first, content, then
 * metadata deepest first. fsimage_restore_paths and fsimage_restore_all
 * plan, then apply.
 */
#define LOG_PREFIX "fsimage: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "tree_internal.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2		452	/* Linux 6.6: the only chmod that will not follow */
#endif

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
	return tree_open_beneath(op->rootfd, e->parent->rel, O_PATH | O_DIRECTORY);
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
	err = tree_live_stat(op->img, dfd, name, &lv);
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
	pfd = tree_open_beneath(op->rootfd, prel, O_PATH | O_DIRECTORY);
	if (pfd == -ENOENT)
		return 0;	/* went with an ancestor */
	if (pfd < 0)
		return FAIL(op, pfd, "removing %s", tree_abs_of(op->img, rel, pbuf, sizeof(pbuf)));
	err = remove_at(op, pfd, name, tree_abs_of(op->img, prel, pbuf, sizeof(pbuf)));
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
		if (!tree_live_stat(op->img, fd, name, &lv) && live_is(m, &lv)) {
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
		err = tree_live_stat(op->img, pfd, e->name, &lv);
		if (err || !lv.exists) {
			err = FAIL(op, err ?: -ENOENT, "restoring %s", abs);
			goto out;
		}
		e->inode->dev = lv.dev;
		e->inode->ino = lv.ino;
	}
	e->acts |= ACT_RECREATED;
	err = tree_plan_add(op, e, ACT_META);
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
	const char *abs = tree_abs_of(op->img, e->rel, pbuf, sizeof(pbuf)), *name;
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
		if (!err && ++op->st->files_restored == 1)
			fault_point("rewind-file-restored");	/* the tree is half restored */
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
	err = tree_list_xattrs(path, &list, &len);
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
		err = tree_get_xattr(path, x->name, &val, &vlen);
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
	const char *abs = tree_abs_of(op->img, e->rel, pbuf, sizeof(pbuf)), *name;
	struct timespec times[2] = { e->atime, e->mtime };
	bool chowned = false, changed = false;
	struct live lv;
	int pfd, err = 0;

	if (e->mountpoint)
		return 0;
	pfd = parent_fd(op, e, &name);
	if (pfd < 0)
		return FAIL(op, pfd, "restoring %s", abs);
	err = tree_live_stat(op->img, pfd, name, &lv);
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
				    tree_abs_of(op->img, e->rel, pbuf, sizeof(pbuf)));
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

int fsimage_restore_paths(struct rw_fsimage *img, const char *const *abs_paths, size_t n,
			  struct rw_fs_stats *st, char *why, size_t whylen)
{
	char rel[PATH_MAX];
	struct op op;
	int err;

	err = tree_op_begin(&op, img, st, why, whylen);
	if (!err && n && !abs_paths)
		err = FAIL(&op, -EINVAL, "restoring %s: no paths", img->root);
	for (size_t i = 0; i < n && !err; i++) {
		int in = tree_rel_path(img, abs_paths[i], rel, sizeof(rel));

		if (in < 0)
			err = FAIL(&op, in, "restoring %s: not a canonical absolute path",
				   abs_paths[i] ? abs_paths[i] : "(null)");
		else if (in)
			err = tree_plan_path(&op, rel);
	}
	if (!err)
		err = execute(&op);
	tree_op_end(&op);
	return err;
}

int fsimage_restore_all(struct rw_fsimage *img, struct rw_fs_stats *st, char *why, size_t whylen)
{
	struct op op;
	int err;

	err = tree_op_begin(&op, img, st, why, whylen);
	if (!err) {
		op.buf = malloc(FSSTORE_BUF);
		if (!op.buf)
			err = FAIL(&op, -ENOMEM, "restoring %s", img->root);
	}
	if (!err)
		err = tree_plan_all(&op);
	if (!err)
		err = execute(&op);
	tree_op_end(&op);
	return err;
}
