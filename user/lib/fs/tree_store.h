/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The content store of a tree image (tree_image.h): a directory outside
 * the watched tree holding one object per captured regular-file inode,
 * named by its number. Objects are reflinked (FICLONE) when the tree and
 * the store share a filesystem that can, else copied; the first "cannot"
 * is remembered so the store stops trying. Not thread-safe.
 */
#ifndef RW_TREE_STORE_H
#define RW_TREE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#define FSSTORE_BUF	(1u << 20)	/* read/write chunk, and hashing's */

struct fsstore {
	char *path;		/* canonical, for messages */
	int dirfd;
	bool created;		/* we made the directory: remove it at close */
	bool borrowed;		/* fsstore_adopt: the objects are left at close */
	int can_clone;		/* -1 not tried yet, 0 no, 1 yes */
	int can_copy_range;	/* the same for copy_file_range */
	uint64_t nobjects;	/* objects are "0" .. nobjects-1 */
	uint64_t bytes;		/* st_blocks * 512 of all objects */
	void *buf;		/* FSSTORE_BUF bytes, allocated on first use */
};

struct fsstore_io {
	uint64_t cloned, copied;
};

/* Create path (0700) if missing; it must be empty. */
int fsstore_open(struct fsstore *s, const char *path, char *why, size_t whylen);
/*
 * Take over the store path a dead rewindd filled with nobjects objects
 * (recovery, tree_persist.c): nothing is checked here, fsstore_fill checks
 * each object's size before using it. Borrowed: closing it leaves the
 * objects and the directory (a restore that failed can be tried again).
 */
int fsstore_adopt(struct fsstore *s, const char *path, uint64_t nobjects, char *why, size_t whylen);
/* Remove the objects, and the directory if we created it. Safe on a zeroed or closed store. */
void fsstore_close(struct fsstore *s);

/*
 * Make a new object of the regular file open for reading as src (what: its
 * path, for messages) and hash it. *id, *size and *hash describe the
 * object as stored.
 */
int fsstore_put(struct fsstore *s, int src, const char *what, uint64_t *id, uint64_t *size,
		XXH128_hash_t *hash, struct fsstore_io *io, char *why, size_t whylen);

/*
 * Make the regular file open for writing as dst (what: its path) a copy of
 * object id, which must hold size bytes: checked before dst is written,
 * "store corrupted: <object path> for <what>" otherwise. A clone empties
 * dst first; a copy overwrites it in place and then cuts it to size.
 */
int fsstore_fill(struct fsstore *s, uint64_t id, uint64_t size, int dst, const char *what,
		 struct fsstore_io *io, char *why, size_t whylen);

/* XXH3-128 of fd's content from offset 0, using buf (FSSTORE_BUF bytes). 0 or -errno. */
int fsstore_hash_fd(int fd, void *buf, XXH128_hash_t *hash, uint64_t *len);

#endif /* RW_TREE_STORE_H */
