// SPDX-License-Identifier: GPL-2.0-only
/*
 * A restore's plan (see tree_internal.h): the entries to remove, recreate,
 * refill and re-stamp, marked on the manifest in O(depth) per touched path
 * (fsimage_restore_paths) or found by walking the whole tree
 * (fsimage_restore_all). Planning only reads the live tree; tree_apply.c
 * changes it.
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
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "tree_internal.h"

/*
 * Start a restore of img (op's messages go to why): its root must still be
 * the captured directory. A new pass number makes earlier marks stale.
 */
int tree_op_begin(struct op *op, struct rw_fsimage *img, struct rw_fs_stats *st, char *why,
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
	op->rootfd = tree_open_root(img);
	if (op->rootfd < 0)
		return FAIL(op, op->rootfd, "opening %s", img->root);
	err = tree_root_stat(img, op->rootfd, &lv);
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

/* Free the plan; the stats get the bytes moved and the time taken. */
void tree_op_end(struct op *op)
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

/* Mark e for act in this pass and list it for its phase, once. */
int tree_plan_add(struct op *op, struct fs_entry *e, uint32_t act)
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
	if (tree_read_target(dfd, name, lv->size, &target))
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
		err = tree_plan_add(op, e, ACT_RECREATE);
	else if (replace)
		err = tree_plan_add(op, e, ACT_REMOVE) ?: tree_plan_add(op, e, ACT_RECREATE);
	else
		err = (S_ISREG(e->mode) ? tree_plan_add(op, e, ACT_CONTENT) : 0) ?:
		      tree_plan_add(op, e, ACT_META);
	/* Creating or removing a name changes the directory's mtime. */
	if (!err && e->parent)
		err = tree_plan_add(op, e->parent, ACT_META);
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
	return tree_plan_add(op, dir, ACT_META);
}

/*
 * One touched path: walk down from the root while the live ancestors are
 * the captured directories; the first one that is not (or the path itself)
 * decides the action. O(depth).
 */
int tree_plan_path(struct op *op, const char *rel)
{
	struct rw_fsimage *img = op->img;
	struct fs_entry *dir = img->entries[0], *e;
	char pbuf[PATH_MAX], name[NAME_MAX + 1];
	const char *p = rel;
	struct live lv;
	int fd, err = 0;

	if (!*rel) {
		examined(op, dir);
		return tree_plan_add(op, dir, ACT_META);
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
		e = tree_lookup(img, rel, plen);
		if (!e) {
			err = plan_removal(op, rel, plen, dir);
			break;
		}
		err = tree_live_stat(img, fd, name, &lv);
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
			err = FAIL(op, -errno, "opening %s",
				   tree_abs_of(img, e->rel, pbuf, sizeof(pbuf)));
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
int tree_plan_all(struct op *op)
{
	struct rw_fsimage *img = op->img;
	struct fs_entry **queue = NULL, *top = img->entries[0];
	size_t nq = 0, qcap = 0;
	char rel[PATH_MAX], pbuf[PATH_MAX];
	struct live lv, none = { 0 };
	unsigned mask;
	int err;

	err = tree_root_stat(img, op->rootfd, &lv);
	if (!err)
		err = tree_compare_entry(top, op->rootfd, ".", &lv, false, op->buf, NULL, 0, &mask);
	if (err)
		return FAIL(op, err, "examining %s", img->root);
	examined(op, top);
	if (mask && (err = tree_plan_add(op, top, ACT_META)))
		return err;
	if (PUSH(queue, nq, qcap, top))
		return FAIL(op, -ENOMEM, "examining %s", img->root);

	for (size_t qi = 0; qi < nq && !err; qi++) {
		struct fs_entry *dir = queue[qi];
		struct dirent *de;
		int dfd;
		DIR *d;

		dfd = tree_open_beneath(op->rootfd, dir->rel, O_RDONLY | O_DIRECTORY);
		d = dfd < 0 ? NULL : fdopendir(dfd);
		if (!d) {
			err = FAIL(op, dfd < 0 ? dfd : -errno, "opening %s",
				   tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
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
						   tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)));
				break;
			}
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			len = snprintf(rel, sizeof(rel), "%s%s%s", dir->rel, dir->rlen ? "/" : "",
				       de->d_name);
			if (len >= sizeof(rel)) {
				err = FAIL(op, -ENAMETOOLONG, "examining %s/%s",
					   tree_abs_of(img, dir->rel, pbuf, sizeof(pbuf)), de->d_name);
				break;
			}
			e = tree_lookup(img, rel, len);
			if (!e) {
				err = plan_removal(op, rel, len, dir);
				continue;
			}
			err = tree_live_stat(img, dirfd(d), de->d_name, &lv);
			if (err || !lv.exists) {
				if (err)
					err = FAIL(op, err, "examining %s",
						   tree_abs_of(img, rel, pbuf, sizeof(pbuf)));
				continue;	/* gone meanwhile: "missing" below */
			}
			touch(op, e);
			e->acts |= ACT_SEEN;
			if (e->mountpoint)
				continue;
			examined(op, e);
			err = tree_compare_entry(e, dirfd(d), de->d_name, &lv, false, op->buf, NULL, 0,
						 &mask);
			if (err) {
				err = FAIL(op, err, "examining %s",
					   tree_abs_of(img, rel, pbuf, sizeof(pbuf)));
				break;
			}
			if (mask & (D_TYPE | D_IDENT | D_TARGET | D_RDEV))
				err = classify(op, e, &lv, true);
			else if (S_ISREG(e->mode) && (mask & (D_SIZE | D_MTIME | D_CONTENT)))
				err = tree_plan_add(op, e, ACT_CONTENT) ?: tree_plan_add(op, e, ACT_META);
			else if (mask)
				err = tree_plan_add(op, e, ACT_META);
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
