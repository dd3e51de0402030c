// SPDX-License-Identifier: GPL-2.0-only
/*
 * fanotify watcher of directory trees: see fanotify_watch.h.
 *
 * Every watched directory has an inode mark and an entry in a hash table
 * keyed by its file handle (fsid, type, bytes) as fanotify reports it:
 * name_to_handle_at(AT_HANDLE_FID) encodes handles the same way. Trees are
 * walked by handle (open_by_handle_at on a directory fd of the tree's
 * mount), not by path, so no fd is held per pending directory and renames
 * during a walk cannot lead it astray. Each directory is marked before it
 * is read: an entry made after the mark has its own event, one made before
 * is found by the read.
 */
#define LOG_PREFIX "fswatch: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <xxhash.h>

#include "bytebuf.h"
#include "fanotify_watch.h"
#include "fileio.h"
#include "log.h"

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID		0x200	/* 6.5: a handle to compare, as fanotify's */
#endif
#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID	0x00001000
#endif
#ifndef FAN_REPORT_DFID_NAME_TARGET
#define FAN_REPORT_DFID_NAME_TARGET \
	(FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID)
#endif

/* DFID_NAME names the parent and entry; FID (TARGET_FID for dirent events) the object. */
#define FSW_INIT_FLAGS	(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | \
			 FAN_REPORT_DFID_NAME_TARGET)
#define FSW_MASK	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | \
			 FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_DELETE_SELF | \
			 FAN_MOVE_SELF | FAN_ONDIR | FAN_EVENT_ON_CHILD)
#define FSW_DIRENT	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)
#define FSW_BUF		(64 * 1024)
/* Reads per fswatch_drain(): a busy writer must not keep the caller forever. */
#define FSW_READS	64
#define FSW_MIN_BUCKETS	256
#define MARKS_SYSCTL	"/proc/sys/fs/fanotify/max_user_marks"

/* A directory's identity. fsid, then the kernel's struct file_handle layout. */
struct fsw_key {
	int32_t fsid[2];
	uint32_t bytes;
	int32_t type;
};

struct fsw_fh {
	struct fsw_key k;
	unsigned char h[MAX_HANDLE_SZ];
};

/* A buffer the kernel fills or reads as a struct file_handle. */
union kfh {
	struct file_handle f;
	unsigned char raw[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

struct fsw_dir {
	struct fsw_dir *next;
	uint64_t hash;
	int tag;
	unsigned int gen;	/* the tree's gen when last walked */
	bool root;
	struct fsw_key k;
	unsigned char h[];
};

struct fsw_tree {
	int tag;
	char *root;		/* as given, for messages */
	char fsname[24];
	int mount_fd;		/* a directory of the tree's mount, not the root: see add_tree */
	int mnt_id;
	int32_t fsid[2];
	struct fsw_fh root_fh;
	unsigned int gen;
	bool incomplete;	/* a directory could not be watched */
	bool gone;		/* the root was deleted */
};

struct rw_fswatch {
	int fd;
	struct fsw_dir **bucket;
	size_t nbuckets;	/* power of two */
	size_t ndirs;
	size_t limit;		/* 0: the kernel's only */
	struct fsw_tree **trees;
	size_t ntrees;
	void *buf;
};

enum walk_mode {
	WALK_ADD,	/* a new tree: a directory of another tree is an error */
	WALK_ADOPT,	/* a directory arrived: take it over from any other tree */
};

/* Packed stack of handles: h[bytes] then its key, popped from the end. */
struct fsw_stack {
	struct bytebuf b;
};

/* ---- handles and the table --------------------------------------------- */

static uint64_t key_hash(const struct fsw_key *k, const unsigned char *h)
{
	return XXH3_64bits_withSeed(h, k->bytes, XXH3_64bits(k, sizeof(*k)));
}

static struct fsw_dir **slot_of(struct rw_fswatch *w, const struct fsw_fh *fh, uint64_t hash)
{
	struct fsw_dir **pp = &w->bucket[hash & (w->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		struct fsw_dir *d = *pp;

		if (d->hash == hash && !memcmp(&d->k, &fh->k, sizeof(d->k)) &&
		    !memcmp(d->h, fh->h, fh->k.bytes))
			break;
	}
	return pp;
}

static struct fsw_dir *lookup(struct rw_fswatch *w, const struct fsw_fh *fh)
{
	return *slot_of(w, fh, key_hash(&fh->k, fh->h));
}

static int grow(struct rw_fswatch *w)
{
	size_t n = w->nbuckets * 2;
	struct fsw_dir **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < w->nbuckets; i++) {
		struct fsw_dir *d = w->bucket[i], *next;

		for (; d; d = next) {
			next = d->next;
			d->next = b[d->hash & (n - 1)];
			b[d->hash & (n - 1)] = d;
		}
	}
	free(w->bucket);
	w->bucket = b;
	w->nbuckets = n;
	return 0;
}

static struct fsw_dir *insert(struct rw_fswatch *w, const struct fsw_fh *fh, int tag,
			      unsigned int gen)
{
	uint64_t hash = key_hash(&fh->k, fh->h);
	struct fsw_dir *d;

	if (w->ndirs >= w->nbuckets && grow(w))
		return NULL;
	d = malloc(sizeof(*d) + fh->k.bytes);
	if (!d)
		return NULL;
	d->hash = hash;
	d->tag = tag;
	d->gen = gen;
	d->root = false;
	d->k = fh->k;
	memcpy(d->h, fh->h, fh->k.bytes);
	d->next = w->bucket[hash & (w->nbuckets - 1)];
	w->bucket[hash & (w->nbuckets - 1)] = d;
	w->ndirs++;
	return d;
}

static void forget(struct rw_fswatch *w, const struct fsw_fh *fh)
{
	struct fsw_dir **pp = slot_of(w, fh, key_hash(&fh->k, fh->h)), *d = *pp;

	if (!d)
		return;
	*pp = d->next;
	free(d);
	w->ndirs--;
}

static void dir_fh(const struct fsw_dir *d, struct fsw_fh *fh)
{
	fh->k = d->k;
	memcpy(fh->h, d->h, d->k.bytes);
}

/* name under dirfd (AT_EMPTY_PATH for dirfd itself), not following symlinks. */
static int get_fh(int dirfd, const char *name, const int32_t fsid[2], struct fsw_fh *fh,
		  int *mnt_id)
{
	union kfh kh;

	kh.f.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, name, &kh.f, mnt_id, AT_HANDLE_FID | (*name ? 0 : AT_EMPTY_PATH)))
		return -errno;
	fh->k.fsid[0] = fsid[0];
	fh->k.fsid[1] = fsid[1];
	fh->k.bytes = kh.f.handle_bytes;
	fh->k.type = kh.f.handle_type;
	memcpy(fh->h, kh.f.f_handle, kh.f.handle_bytes);
	return 0;
}

/* The directory fh on t's mount, opened for reading and marking; -errno. */
static int open_fh(const struct fsw_tree *t, const struct fsw_fh *fh)
{
	union kfh kh;
	int fd;

	kh.f.handle_bytes = fh->k.bytes;
	kh.f.handle_type = fh->k.type;
	memcpy(kh.f.f_handle, fh->h, fh->k.bytes);
	fd = open_by_handle_at(t->mount_fd, &kh.f, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The directory is no more (or no longer a directory): not an error for a walk. */
static bool vanished(int err)
{
	return err == -ESTALE || err == -ENOENT || err == -ENOTDIR || err == -ELOOP;
}

static int push(struct fsw_stack *s, const struct fsw_fh *fh)
{
	int err = bytebuf_append(&s->b, fh->h, fh->k.bytes, 4096);

	if (!err && (err = bytebuf_append(&s->b, &fh->k, sizeof(fh->k), 4096)))
		s->b.len -= fh->k.bytes;	/* whole entries only */
	return err;
}

static bool pop(struct fsw_stack *s, struct fsw_fh *fh)
{
	if (!s->b.len)
		return false;
	memcpy(&fh->k, s->b.p + s->b.len - sizeof(fh->k), sizeof(fh->k));
	s->b.len -= sizeof(fh->k) + fh->k.bytes;
	memcpy(fh->h, s->b.p + s->b.len, fh->k.bytes);
	return true;
}

/* ---- trees ---------------------------------------------------------------- */

static struct fsw_tree *tree_of(struct rw_fswatch *w, int tag)
{
	for (size_t i = 0; i < w->ntrees; i++)
		if (w->trees[i]->tag == tag)
			return w->trees[i];
	return NULL;
}

static void fs_name(long type, char *buf, size_t len)
{
	static const struct {
		long magic;
		const char *name;
	} names[] = {
		{ EXT4_SUPER_MAGIC, "ext4" },	/* ext2 and ext3 too */
		{ TMPFS_MAGIC, "tmpfs" },
		{ BTRFS_SUPER_MAGIC, "btrfs" },
		{ XFS_SUPER_MAGIC, "xfs" },
		{ OVERLAYFS_SUPER_MAGIC, "overlayfs" },
		{ PROC_SUPER_MAGIC, "proc" },
		{ SYSFS_MAGIC, "sysfs" },
		{ DEVPTS_SUPER_MAGIC, "devpts" },
		{ CGROUP2_SUPER_MAGIC, "cgroup2" },
		{ 0x6969, "nfs" },
		{ 0x65735546, "fuse" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].magic == type) {
			snprintf(buf, len, "%s", names[i].name);
			return;
		}
	}
	snprintf(buf, len, "fs type %#lx", type);
}

static long kernel_mark_limit(void)
{
	char *text;
	size_t len;
	long n = -1;

	if (!read_whole_file(AT_FDCWD, MARKS_SYSCTL, 64, &text, &len)) {
		n = strtol(text, NULL, 10);
		free(text);
	}
	return n;
}

/* Why marking a directory of t failed, as add_tree's error. */
static int mark_error(struct rw_fswatch *w, const struct fsw_tree *t, int err, char *why,
		      size_t whylen)
{
	if (err == -ENOSPC)
		return rw_why(why, whylen, -ENOSPC,
			      "%s: watching %zu directories, no more: fanotify's mark limit (%s = %ld, "
			      "shared by all fanotify groups of the user)", t->root, w->ndirs,
			      MARKS_SYSCTL, kernel_mark_limit());
	if (err == -EOPNOTSUPP || err == -ENODEV || err == -EXDEV)
		return rw_why(why, whylen, -EOPNOTSUPP,
			      "%s is on %s, where fanotify cannot mark directories with file id "
			      "reporting (fanotify_mark: %s)", t->root, t->fsname, strerror(-err));
	return rw_why(why, whylen, err, "%s: marking a directory", t->root);
}

/*
 * Mark start and every directory under it on t's mount that is not
 * marked for t already in this generation, as t's. WALK_ADD fails on a
 * directory of another tree, WALK_ADOPT takes it over. 0 or -errno (why
 * filled in); what was marked before a failure stays marked and entered.
 */
static int walk_add(struct rw_fswatch *w, struct fsw_tree *t, const struct fsw_fh *start,
		    enum walk_mode mode, char *why, size_t whylen)
{
	struct fsw_stack s = { 0 };
	struct fsw_fh fh, child;
	int err;

	err = push(&s, start);
	while (!err && pop(&s, &fh)) {
		struct fsw_dir *d = lookup(w, &fh);
		struct dirent *de;
		DIR *dir;
		int fd;

		if (d && d->tag == t->tag && d->gen == t->gen)
			continue;	/* walked already */
		if (d && d->root && d->tag != t->tag && mode == WALK_ADOPT)
			continue;	/* another tree's root, moved in here: still its own */
		if (d && d->tag != t->tag && mode == WALK_ADD) {
			err = rw_why(why, whylen, -EBUSY, "%s overlaps the tree with tag %d",
				     t->root, d->tag);
			break;
		}
		if (!d && w->limit && w->ndirs >= w->limit) {
			err = rw_why(why, whylen, -ENOSPC,
				     "%s: watching %zu directories, the most allowed (fswatch limit)",
				     t->root, w->ndirs);
			break;
		}
		fd = open_fh(t, &fh);
		if (fd < 0) {
			if (vanished(fd)) {
				if (d)
					forget(w, &fh);
				continue;
			}
			err = rw_why(why, whylen, fd, "%s: opening a directory by handle", t->root);
			break;
		}
		if (fanotify_mark(w->fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FSW_MASK, fd, NULL)) {
			err = mark_error(w, t, -errno, why, whylen);
			close(fd);
			break;
		}
		if (!d) {
			d = insert(w, &fh, t->tag, t->gen);
			if (!d) {
				/* Marked but not entered: its events are dropped, say so. */
				err = rw_why(why, whylen, -ENOMEM, "%s: entering a directory", t->root);
				fanotify_mark(w->fd, FAN_MARK_REMOVE, FSW_MASK, fd, NULL);
				close(fd);
				break;
			}
		}
		d->tag = t->tag;
		d->gen = t->gen;

		dir = fdopendir(fd);
		if (!dir) {
			err = rw_why(why, whylen, -errno, "%s: reading a directory", t->root);
			close(fd);
			break;
		}
		while (!err && (errno = 0, de = readdir(dir))) {
			struct fsw_dir *c;
			struct stat st;
			int mnt_id;

			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (de->d_type == DT_UNKNOWN &&
			    (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode)))
				continue;
			err = get_fh(fd, de->d_name, t->fsid, &child, &mnt_id);
			if (err) {
				if (vanished(err)) {
					err = 0;
					continue;
				}
				err = rw_why(why, whylen, err, "%s: file handle of %s", t->root,
					     de->d_name);
				break;
			}
			if (mnt_id != t->mnt_id)
				continue;	/* a mount point: not ours */
			c = lookup(w, &child);
			if (c && c->tag == t->tag && c->gen == t->gen)
				continue;
			err = push(&s, &child);
			if (err)
				rw_why(why, whylen, err, "%s: walking", t->root);
		}
		if (!err && errno)
			err = rw_why(why, whylen, -errno, "%s: reading a directory", t->root);
		closedir(dir);
	}
	free(s.b.p);
	return err;
}

/* Remove the mark of a directory and its entry. */
static void unmark(struct rw_fswatch *w, const struct fsw_tree *t, const struct fsw_fh *fh)
{
	int fd = open_fh(t, fh);

	if (fd >= 0) {
		/* ENOENT: the kernel dropped it already (the inode was deleted). */
		fanotify_mark(w->fd, FAN_MARK_REMOVE, FSW_MASK, fd, NULL);
		close(fd);
	}
	forget(w, fh);
}

/* Unwatch start and the directories under it that are watched as tag. */
static void walk_remove(struct rw_fswatch *w, const struct fsw_tree *t, const struct fsw_fh *start,
			int tag)
{
	struct fsw_stack s = { 0 };
	struct fsw_fh fh, child;

	if (push(&s, start)) {
		pr_err("%s: out of memory unwatching a directory\n", t->root);
		return;
	}
	while (pop(&s, &fh)) {
		struct fsw_dir *d = lookup(w, &fh);
		struct dirent *de;
		DIR *dir;
		int fd;

		if (!d || d->tag != tag || d->root)
			continue;
		fd = open_fh(t, &fh);
		forget(w, &fh);
		if (fd < 0)
			continue;
		fanotify_mark(w->fd, FAN_MARK_REMOVE, FSW_MASK, fd, NULL);
		dir = fdopendir(fd);
		if (!dir) {
			close(fd);
			continue;
		}
		while ((de = readdir(dir))) {
			struct fsw_dir *c;
			int mnt_id;

			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			    get_fh(fd, de->d_name, t->fsid, &child, &mnt_id))
				continue;
			c = lookup(w, &child);
			if (c && c->tag == tag && push(&s, &child))
				pr_err("%s: out of memory unwatching a directory\n", t->root);
		}
		closedir(dir);
	}
	free(s.b.p);
}

/* Unwatch every directory of tag. */
static void remove_all(struct rw_fswatch *w, struct fsw_tree *t)
{
	for (size_t i = 0; i < w->nbuckets; i++) {
		struct fsw_dir *d = w->bucket[i], *next;

		for (; d; d = next) {
			struct fsw_fh fh;

			next = d->next;
			if (d->tag != t->tag)
				continue;
			dir_fh(d, &fh);
			unmark(w, t, &fh);
		}
	}
}

/*
 * Walk t again from its root (after lost events or a failed walk), then
 * unwatch its directories that were not found. 0 or -errno.
 */
static int resync(struct rw_fswatch *w, struct fsw_tree *t)
{
	char why[256];
	int err;

	if (t->gone) {
		t->incomplete = false;
		return 0;
	}
	t->gen++;
	err = walk_add(w, t, &t->root_fh, WALK_ADOPT, why, sizeof(why));
	t->incomplete = err != 0;
	if (err)
		return err;
	for (size_t i = 0; i < w->nbuckets; i++) {
		struct fsw_dir *d = w->bucket[i], *next;

		for (; d; d = next) {
			struct fsw_fh fh;

			next = d->next;
			if (d->tag != t->tag || d->gen == t->gen)
				continue;
			dir_fh(d, &fh);
			unmark(w, t, &fh);
		}
	}
	return 0;
}

/* ---- the API ---------------------------------------------------------------- */

int fswatch_open(struct rw_fswatch **out, char *why, size_t whylen)
{
	struct rw_fswatch *w;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return rw_why(why, whylen, -ENOMEM, "fanotify watcher");
	w->fd = -1;
	w->nbuckets = FSW_MIN_BUCKETS;
	w->bucket = calloc(w->nbuckets, sizeof(*w->bucket));
	w->buf = aligned_alloc(sizeof(uint64_t), FSW_BUF);
	if (!w->bucket || !w->buf) {
		fswatch_close(w);
		return rw_why(why, whylen, -ENOMEM, "fanotify watcher");
	}
	w->fd = fanotify_init(FSW_INIT_FLAGS, O_RDONLY | O_LARGEFILE);
	if (w->fd < 0) {
		err = -errno;
		fswatch_close(w);
		if (err == -EINVAL)
			return rw_why(why, whylen, err, "fanotify_init: this kernel lacks "
				      "FAN_REPORT_TARGET_FID (5.17+)");
		if (err == -EMFILE)
			return rw_why(why, whylen, err, "fanotify_init: too many fanotify groups "
				      "(fs.fanotify.max_user_groups)");
		return rw_why(why, whylen, err, "fanotify_init");
	}
	*out = w;
	return 0;
}

void fswatch_close(struct rw_fswatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);	/* drops every mark */
	for (size_t i = 0; w->bucket && i < w->nbuckets; i++) {
		struct fsw_dir *d = w->bucket[i], *next;

		for (; d; d = next) {
			next = d->next;
			free(d);
		}
	}
	for (size_t i = 0; i < w->ntrees; i++) {
		close(w->trees[i]->mount_fd);
		free(w->trees[i]->root);
		free(w->trees[i]);
	}
	free(w->trees);
	free(w->bucket);
	free(w->buf);
	free(w);
}

int fswatch_fd(const struct rw_fswatch *w)
{
	return w->fd;
}

void fswatch_set_limit(struct rw_fswatch *w, size_t max_dirs)
{
	w->limit = max_dirs;
}

size_t fswatch_count(const struct rw_fswatch *w)
{
	return w->ndirs;
}

/*
 * The fd open_by_handle_at() decodes handles against: root's parent when
 * that is on the same mount, so that we do not pin the root (its
 * DELETE_SELF comes only once nobody holds it), else root, which is then
 * the root of its mount and cannot be removed.
 */
static int mount_dir(int rootfd, const struct fsw_tree *t)
{
	struct fsw_fh parent;
	int fd, mnt_id;

	fd = openat(rootfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rootfd;
	if (get_fh(fd, "", t->fsid, &parent, &mnt_id) || mnt_id != t->mnt_id ||
	    (parent.k.bytes == t->root_fh.k.bytes && parent.k.type == t->root_fh.k.type &&
	     !memcmp(parent.h, t->root_fh.h, parent.k.bytes))) {
		close(fd);
		return rootfd;
	}
	close(rootfd);
	return fd;
}

/* dirfd >= 0: the root, reached through it (duplicated); root is then only its name. */
static int add_tree(struct rw_fswatch *w, int dirfd, const char *root, int tag, char *why,
		    size_t whylen)
{
	struct fsw_tree *t, **trees;
	struct statfs sfs;
	struct fsw_dir *d;
	int rootfd, fd, err;

	if (tag < 0)
		return rw_why(why, whylen, -EINVAL, "%s: tag %d: must be >= 0", root, tag);
	if (tree_of(w, tag))
		return rw_why(why, whylen, -EEXIST, "%s: tag %d is in use by %s", root, tag,
			      tree_of(w, tag)->root);
	if (dirfd >= 0)
		rootfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else
		rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0 && dirfd >= 0)
		return rw_why(why, whylen, -errno, "opening %s", root);
	if (rootfd < 0) {
		struct stat st;

		err = -errno;
		/* O_NOFOLLOW | O_DIRECTORY on a symlink says ENOTDIR */
		if (err == -ELOOP || (err == -ENOTDIR && !lstat(root, &st) && S_ISLNK(st.st_mode)))
			return rw_why(why, whylen, -ELOOP, "%s is a symlink, not followed", root);
		return rw_why(why, whylen, err, "opening %s", root);
	}
	t = calloc(1, sizeof(*t));
	trees = realloc(w->trees, (w->ntrees + 1) * sizeof(*trees));
	if (trees)
		w->trees = trees;
	if (!t || !trees || !(t->root = strdup(root))) {
		free(t);
		close(rootfd);
		return rw_why(why, whylen, -ENOMEM, "watching %s", root);
	}
	t->tag = tag;
	t->mount_fd = -1;
	if (fstatfs(rootfd, &sfs)) {
		err = rw_why(why, whylen, -errno, "statfs %s", root);
		goto fail;
	}
	fs_name(sfs.f_type, t->fsname, sizeof(t->fsname));
	memcpy(t->fsid, &sfs.f_fsid, sizeof(t->fsid));
	err = get_fh(rootfd, "", t->fsid, &t->root_fh, &t->mnt_id);
	if (err) {
		if (err == -EOPNOTSUPP)
			err = rw_why(why, whylen, err, "%s is on %s, which has no file handles",
				     root, t->fsname);
		else
			err = rw_why(why, whylen, err, "file handle of %s", root);
		goto fail;
	}
	t->mount_fd = mount_dir(rootfd, t);
	rootfd = -1;
	/* New directories are walked by handle: the filesystem must reopen them. */
	fd = open_fh(t, &t->root_fh);
	if (fd < 0) {
		err = rw_why(why, whylen, fd == -ESTALE ? -EOPNOTSUPP : fd,
			     "%s is on %s, where directories cannot be reopened by file handle "
			     "(open_by_handle_at: %s)", root, t->fsname, strerror(-fd));
		goto fail;
	}
	close(fd);
	d = lookup(w, &t->root_fh);
	if (d) {
		err = rw_why(why, whylen, -EBUSY, "%s is a directory of the tree with tag %d",
			     root, d->tag);
		goto fail;
	}
	err = walk_add(w, t, &t->root_fh, WALK_ADD, why, whylen);
	if (err) {
		remove_all(w, t);
		goto fail;
	}
	d = lookup(w, &t->root_fh);
	if (d)
		d->root = true;
	w->trees[w->ntrees++] = t;
	pr_debug("%s (%s): watching %zu directories as tag %d\n", root, t->fsname, w->ndirs, tag);
	return 0;
fail:
	if (rootfd >= 0)
		close(rootfd);
	if (t->mount_fd >= 0)
		close(t->mount_fd);
	free(t->root);
	free(t);
	return err;
}

int fswatch_add_tree(struct rw_fswatch *w, const char *root, int tag, char *why, size_t whylen)
{
	return add_tree(w, -1, root, tag, why, whylen);
}

int fswatch_add_tree_at(struct rw_fswatch *w, int dirfd, const char *name, int tag, char *why,
			size_t whylen)
{
	if (dirfd < 0)
		return rw_why(why, whylen, -EBADF, "%s: no directory fd", name);
	return add_tree(w, dirfd, name, tag, why, whylen);
}

void fswatch_remove_tree(struct rw_fswatch *w, int tag)
{
	struct fsw_tree *t = tree_of(w, tag);
	size_t i;

	if (!t)
		return;
	remove_all(w, t);
	for (i = 0; w->trees[i] != t; i++)
		;
	w->trees[i] = w->trees[--w->ntrees];
	close(t->mount_fd);
	free(t->root);
	free(t);
}

/* ---- events --------------------------------------------------------------- */

struct drain {
	struct rw_fswatch *w;
	void (*cb)(void *ctx, int tag, pid_t pid);
	void *ctx;
	bool any;
	int last_tag;
	pid_t last_pid;
};

static void report(struct drain *dr, int tag, pid_t pid)
{
	if (dr->any && dr->last_tag == tag && dr->last_pid == pid)
		return;
	dr->any = true;
	dr->last_tag = tag;
	dr->last_pid = pid;
	dr->cb(dr->ctx, tag, pid);
}

/* A directory of t could not be watched: nothing in t can be trusted until a walk succeeds. */
static void incomplete(struct drain *dr, struct fsw_tree *t)
{
	t->incomplete = true;
	report(dr, t->tag, 0);
}

/*
 * A directory was made, removed or moved under a directory of hint: watch
 * it (and what it holds) as the tree its parent belongs to now, or unwatch
 * it if that is none. Its state now is what counts, whatever the order
 * of the (merged) events that led there.
 */
static void reconcile(struct drain *dr, struct fsw_tree *hint, const struct fsw_fh *fh)
{
	struct rw_fswatch *w = dr->w;
	struct fsw_dir *d = lookup(w, fh), *pd = NULL;
	struct fsw_tree *t;
	struct fsw_fh parent;
	char why[256];
	int fd, mnt_id;

	if (d && d->root)
		return;		/* a root belongs to its tree wherever it goes */
	fd = open_fh(hint, fh);
	if (fd < 0) {
		if (vanished(fd)) {
			if (d)
				forget(w, fh);	/* deleted: the kernel drops the mark */
			return;
		}
		pr_err("%s: opening a new directory by handle: %s\n", hint->root, strerror(-fd));
		incomplete(dr, hint);
		return;
	}
	/* ENOENT: removed while someone holds it. */
	if (!get_fh(fd, "..", hint->fsid, &parent, &mnt_id) && mnt_id == hint->mnt_id)
		pd = lookup(w, &parent);
	close(fd);
	if (pd && (!d || d->tag != pd->tag)) {
		t = tree_of(w, pd->tag);
		if (walk_add(w, t, fh, WALK_ADOPT, why, sizeof(why)))
			incomplete(dr, t);
	} else if (!pd && d) {
		walk_remove(w, hint, fh, d->tag);
	}
}

/*
 * A FID record (len bytes at p) into fh, and its name if asked; false if
 * malformed. Records are 4-byte aligned only, events not even 8: copy out.
 */
static bool rec_fh(const char *p, size_t len, struct fsw_fh *fh, const char **name)
{
	struct fanotify_event_info_fid rec;
	struct file_handle h;
	size_t fixed = sizeof(rec) + sizeof(h);

	if (len < fixed)
		return false;
	memcpy(&rec, p, sizeof(rec));
	memcpy(&h, p + sizeof(rec), sizeof(h));
	if (h.handle_bytes > MAX_HANDLE_SZ || fixed + h.handle_bytes > len)
		return false;
	memcpy(fh->k.fsid, &rec.fsid, sizeof(fh->k.fsid));
	fh->k.bytes = h.handle_bytes;
	fh->k.type = h.handle_type;
	memcpy(fh->h, p + fixed, h.handle_bytes);
	if (name) {
		const char *s = p + fixed + h.handle_bytes;

		*name = memchr(s, 0, len - fixed - h.handle_bytes) ? s : NULL;
	}
	return true;
}

/* One event: m, copied out of ev, whose records follow at ev + metadata_len. */
static void handle_event(struct drain *dr, const struct fanotify_event_metadata *m, const char *ev)
{
	struct rw_fswatch *w = dr->w;
	const char *p = ev + m->metadata_len, *end = ev + m->event_len;
	const char *name = NULL;
	struct fsw_fh dfid, fid;
	bool has_dfid = false, has_fid = false;
	struct fsw_dir *d = NULL;
	struct fsw_tree *t;

	while ((size_t)(end - p) >= sizeof(struct fanotify_event_info_header)) {
		struct fanotify_event_info_header hdr;

		memcpy(&hdr, p, sizeof(hdr));
		if (hdr.len < sizeof(hdr) || hdr.len > end - p)
			break;
		if (hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
		    hdr.info_type == FAN_EVENT_INFO_TYPE_DFID)
			has_dfid = rec_fh(p, hdr.len, &dfid,
					  hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ? &name : NULL);
		else if (hdr.info_type == FAN_EVENT_INFO_TYPE_FID)
			has_fid = rec_fh(p, hdr.len, &fid, NULL);
		p += hdr.len;
	}
	if (has_dfid)
		d = lookup(w, &dfid);
	if (!d && has_fid)
		d = lookup(w, &fid);
	if (!d)
		return;		/* not (or no longer) ours */
	t = tree_of(w, d->tag);
	if (!t)
		return;
	report(dr, t->tag, m->pid);

	/* Self events name the directory itself: "." under its own handle. */
	if (m->mask & (FAN_DELETE_SELF | FAN_MOVE_SELF) && name && !strcmp(name, ".")) {
		if (d->root && m->mask & FAN_DELETE_SELF) {
			pr_warn("%s: the tree's root was deleted (by pid %d): tag %d sees nothing more\n",
				t->root, m->pid, t->tag);
			t->gone = true;
		} else if (d->root) {
			pr_warn("%s: the tree's root was moved (by pid %d): still watching it\n",
				t->root, m->pid);
		}
		if (m->mask & FAN_DELETE_SELF)
			forget(w, &dfid);
		return;
	}
	if (m->mask & FAN_ONDIR && m->mask & FSW_DIRENT && has_fid && name && strcmp(name, "."))
		reconcile(dr, t, &fid);
}

int fswatch_drain(struct rw_fswatch *w, void (*cb)(void *ctx, int tag, pid_t pid), void *ctx)
{
	struct drain dr = { .w = w, .cb = cb, .ctx = ctx };
	bool overflow = false;
	int err = 0;

	for (size_t i = 0; i < w->ntrees; i++) {
		struct fsw_tree *t = w->trees[i];

		if (!t->incomplete)
			continue;
		if (resync(w, t))
			pr_err("%s: still not watching every directory\n", t->root);
		report(&dr, t->tag, 0);
	}
	for (int i = 0; i < FSW_READS; i++) {
		ssize_t n = read(w->fd, w->buf, FSW_BUF);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			err = -errno;
			pr_perror("reading fanotify events");
			break;
		}
		while ((size_t)n - off >= FAN_EVENT_METADATA_LEN) {
			const char *ev = (const char *)w->buf + off;
			struct fanotify_event_metadata m;

			memcpy(&m, ev, sizeof(m));
			if (m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > (size_t)n - off ||
			    m.metadata_len < FAN_EVENT_METADATA_LEN || m.metadata_len > m.event_len)
				break;
			off += m.event_len;
			if (m.vers != FANOTIFY_METADATA_VERSION) {
				pr_err("fanotify metadata version %u, want %u\n", m.vers,
				       FANOTIFY_METADATA_VERSION);
				return -EPROTO;
			}
			if (m.fd >= 0)
				close(m.fd);
			if (m.mask & FAN_Q_OVERFLOW)
				overflow = true;
			else
				handle_event(&dr, &m, ev);
		}
	}
	if (overflow) {
		pr_warn("fanotify queue overflowed: events lost, walking every tree again\n");
		for (size_t i = 0; i < w->ntrees; i++)
			if (resync(w, w->trees[i]))
				pr_err("%s: not watching every directory\n", w->trees[i]->root);
		report(&dr, FSWATCH_ALL_TREES, 0);
	}
	return err;
}
