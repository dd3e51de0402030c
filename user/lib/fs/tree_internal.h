/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the parts of a tree image share; what the session uses is
 * tree_image.h. The parts:
 *   tree_live.c    the live tree: paths beneath the root, statx, xattrs,
 *                  symlink targets, a (dev, ino) map
 *   tree_image.c   the manifest and its capture
 *   tree_verify.c  a live entry compared with the manifest; fsimage_verify
 *   tree_plan.c    a restore's plan
 *   tree_apply.c   its execution; fsimage_restore_paths, fsimage_restore_all
 *   tree_persist.c the manifest on disk, for recovery after a crash
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
#ifndef RW_TREE_INTERNAL_H
#define RW_TREE_INTERNAL_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <xxhash.h>

#include "tree_image.h"
#include "tree_store.h"

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

/* ---- manifest (tree_image.c) --------------------------------------------- */

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
	char *root;			/* canonical; its name in the target's view with fsimage_capture_at */
	int heldfd;			/* fsimage_capture_at: how the root is reached; -1: by its path */
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

struct fs_entry *tree_lookup(const struct rw_fsimage *img, const char *rel, size_t len);
/* Appended to entries[] (breadth-first: after its parent), indexed, listed in parent's children. */
struct fs_entry *tree_new_entry(struct rw_fsimage *img, struct fs_entry *parent, const char *name);
/* Appended to inodes[]; no names yet. */
struct fs_inode *tree_new_inode(struct rw_fsimage *img, uint64_t dev, uint64_t ino);

/* ---- the manifest on disk (tree_persist.c) -------------------------------- */

/* The manifest's bytes (malloc'd), its store holding nobjects. 0 or -ENOMEM. */
int tree_manifest_format(const struct rw_fsimage *img, uint64_t nobjects, char **buf, size_t *len);
/*
 * An image of those bytes, with neither tree nor store (fsimage_load gives
 * it both). -EBADMSG: not a whole, consistent manifest; -ENOMEM.
 */
int tree_manifest_parse(const char *text, size_t len, struct rw_fsimage **out, uint64_t *nobjects);

/* ---- live tree (tree_live.c) --------------------------------------------- */

int tree_open_root(const struct rw_fsimage *img);
const char *tree_abs_of(const struct rw_fsimage *img, const char *rel, char *buf, size_t len);
int tree_rel_path(const struct rw_fsimage *img, const char *abs, char *buf, size_t len);
int tree_open_beneath(int rootfd, const char *rel, int flags);
DIR *tree_opendir_beneath(int rootfd, const char *rel, int *err);
int tree_open_for_reading(int dfd, const char *name);
int tree_read_target(int dfd, const char *name, uint64_t hint, char **out);

/* l*xattr on this path reach name in dfd without following it. */
static inline void xattr_path(char *buf, size_t len, int dfd, const char *name)
{
	snprintf(buf, len, "/proc/self/fd/%d/%s", dfd, name);
}

struct idmap {
	struct idslot {
		uint64_t dev, ino;
		void *val;
	} *slots;
	size_t mask, n;
};

void *tree_idmap_get(const struct idmap *m, uint64_t dev, uint64_t ino);
int tree_idmap_put(struct idmap *m, uint64_t dev, uint64_t ino, void *val);
void tree_idmap_free(struct idmap *m);

struct live {
	bool exists;
	bool mount;		/* on another mount than the root */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t dev, ino, size, rdev, nlink;
	struct timespec atime, mtime;
};

int tree_live_stat(const struct rw_fsimage *img, int dfd, const char *name, struct live *lv);
int tree_root_stat(const struct rw_fsimage *img, int rootfd, struct live *lv);

static inline bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* The live entry is e's inode, as the manifest (or the last restore) left it. */
static inline bool live_is(const struct fs_entry *e, const struct live *lv)
{
	return lv->exists && !lv->mount && TYPE(lv->mode) == TYPE(e->mode) &&
	       lv->dev == e->inode->dev && lv->ino == e->inode->ino;
}

int tree_list_xattrs(const char *path, char **list, size_t *len);
int tree_get_xattr(const char *path, const char *name, char **val, size_t *len);

static inline const struct fs_xattr *find_xattr(const struct fs_entry *e, const char *name)
{
	for (uint32_t i = 0; i < e->nxattrs; i++)
		if (!strcmp(e->xattrs[i].name, name))
			return &e->xattrs[i];
	return NULL;
}

/* ---- comparison (tree_verify.c) ------------------------------------------ */

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

int tree_compare_entry(const struct fs_entry *e, int dfd, const char *name,
		       const struct live *lv, bool verify, void *buf, char *what, size_t wlen,
		       unsigned *mask);

/* ---- restore plan (tree_plan.c) ------------------------------------------ */

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

static inline bool has(const struct op *op, const struct fs_entry *e, uint32_t act)
{
	return e->gen == op->gen && (e->acts & act);
}

static inline void touch(const struct op *op, struct fs_entry *e)
{
	if (e->gen != op->gen) {
		e->gen = op->gen;
		e->acts = 0;
	}
}

int tree_op_begin(struct op *op, struct rw_fsimage *img, struct rw_fs_stats *st, char *why,
		  size_t whylen);
void tree_op_end(struct op *op);
int tree_plan_add(struct op *op, struct fs_entry *e, uint32_t act);
int tree_plan_path(struct op *op, const char *rel);
int tree_plan_all(struct op *op);

#endif /* RW_TREE_INTERNAL_H */
