/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * File rollback of a watched directory tree (/tmp, /dev/shm, /srv/fn).
 *
 * At checkpoint, fsimage_capture records a manifest of every entry under
 * the root and keeps the content of each regular-file inode in a content
 * store, a directory outside the tree (reflinked with FICLONE where the
 * filesystem can, else copied). At rewind, fsimage_restore_paths puts back
 * exactly the paths an invocation touched (from the BPF log), in O(depth)
 * per path: nothing else in the tree is read or written. When the log
 * cannot be trusted, fsimage_restore_all compares the whole tree with the
 * manifest and restores every difference. fsimage_verify only compares.
 *
 * Per entry the manifest holds: type (regular, directory, symlink, fifo,
 * char/block device, socket), mode, uid, gid, size, atime and mtime (ns),
 * rdev, xattrs of every namespace (names and values), symlink target,
 * hard-link identity (names sharing an inode share one store object and
 * are restored as one inode), and the XXH3-128 hash of regular files.
 *
 * Restoring an entry whose live inode is still the captured one works in
 * place (a regular file is rewritten from the store and cut to size), so the
 * inode, its other names and open fds keep their identity. An entry that
 * is missing, of another type or another inode is removed (recursively)
 * and recreated (a directory with its whole captured subtree; a hard-linked
 * file as a link to a live member of its group when there is one).
 * Metadata is applied in the order lchown, chmod, xattrs, utimensat, each
 * only where the live value differs (an entry already right is not
 * written, so its ctime does not move).
 *
 * Limits, by design:
 * - Symlinks are never followed, during capture or restore (paths are
 *   resolved beneath the root with openat2 RESOLVE_NO_SYMLINKS).
 * - Mounts below the root are not descended into: a mount point is
 *   recorded as an entry (its type), never restored, removed or compared
 *   beyond its type; touched paths under it are ignored.
 * - ctime cannot be set, so it is neither restored nor compared; nor are
 *   directory sizes (ext4 never shrinks a directory) and nlink.
 * - atime is restored on every entry restore writes, but not compared by
 *   verify or restore_all: reads (and directory listings) change it.
 * - A recreated file is a new inode: hard links to it from outside the
 *   tree, and fds open on the old one, are not carried over. Sockets are
 *   recreated as socket inodes with nothing bound to them.
 * - Nothing is fsync'ed: the tree is rolled back, not made durable.
 * - If the root directory itself was replaced (another inode), restores
 *   fail with -ESTALE: the root is not recreated.
 * - An image is not thread-safe; distinct images are independent.
 *
 * Errors: every function returning int returns 0 or -errno and writes a
 * message naming the path and errno's text into why ("restoring /tmp/a/b:
 * No space left on device"); why may be NULL. A restore stops at the
 * first entry it cannot restore and fails; a regular file it was creating
 * is removed rather than left half-written.
 */
#ifndef RW_TREE_IMAGE_H
#define RW_TREE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_fsimage;

/* Filled (zeroed first) by capture and restores; may be NULL. All counters. */
struct rw_fs_stats {
	uint64_t entries;		/* capture: manifest entries; restore: entries examined */
	uint64_t files_restored;	/* regular files refilled from the store */
	uint64_t entries_removed;	/* live entries unlinked or rmdir'ed */
	uint64_t entries_recreated;	/* entries created (mkdir, link, create, symlink, mknod) */
	uint64_t metadata_restored;	/* entries whose owner, mode, xattrs or times differed and were set */
	uint64_t bytes_cloned;		/* FICLONE (into the store at capture, out of it at restore) */
	uint64_t bytes_copied;		/* copy_file_range or read/write */
	uint64_t ns;			/* wall time of the call */
};

/*
 * Record root (an existing directory; made canonical with realpath, so
 * fsimage_root may differ from it) and store its regular files' content in
 * store_dir, which is created 0700 if missing, must be empty (objects are
 * named by number) and must not be inside root. The store is this image's
 * alone until fsimage_free. The caller keeps the tree still meanwhile
 * (the function is frozen).
 */
int fsimage_capture(const char *root, const char *store_dir, struct rw_fsimage **out,
		    struct rw_fs_stats *st, char *why, size_t whylen);

/*
 * The same for a root reached through rootfd (a directory fd, duplicated
 * and held until fsimage_free) and named name: an absolute path as the log
 * names its entries, taken as canonical, which rewindd's own view need not
 * have (a target's /tmp in its mount namespace). Every later restore and
 * verify reaches the tree through the held fd, never by name. The store
 * must not lie within the tree (compared by identity).
 */
int fsimage_capture_at(int rootfd, const char *name, const char *store_dir,
		       struct rw_fsimage **out, struct rw_fs_stats *st, char *why, size_t whylen);

/*
 * Write the manifest to path (atomically), so that fsimage_load can
 * rebuild the image after the process that captured it is gone. The store
 * is not touched: its objects are complete when capture returns.
 */
int fsimage_save(const struct rw_fsimage *img, const char *path, char *why, size_t whylen);

/*
 * Rebuild an image saved at path, reaching its tree through rootfd (held;
 * it must be the captured root directory: same device and inode, -ESTALE
 * otherwise; the mount may be another one of the same directory) and its content in store_dir, the store it was
 * captured with. A manifest that is truncated or damaged fails with
 * -EBADMSG. Inode identities are the capture's: a restore_all recreates
 * what a later rewind recreated. The store is borrowed: fsimage_free leaves
 * its objects, for the caller to remove once the restore succeeded.
 */
int fsimage_load(const char *path, int rootfd, const char *store_dir, struct rw_fsimage **out,
		 char *why, size_t whylen);

/* NULL-safe. Removes the store's objects, and the store directory if capture created it. */
void fsimage_free(struct rw_fsimage *img);

const char *fsimage_root(const struct rw_fsimage *img);
/* Disk space the store's objects use (st_blocks * 512; reflinked extents count in full). */
uint64_t fsimage_store_bytes(const struct rw_fsimage *img);
uint64_t fsimage_nentries(const struct rw_fsimage *img);
/* abs_path, taken lexically, is the root or under it (for tests). */
bool fsimage_contains(const struct rw_fsimage *img, const char *abs_path);

/*
 * Restore exactly the entries at abs_paths (absolute, as the kernel names
 * them: no "..", which fails with -EINVAL), synchronously. Paths outside
 * the root or under a mount point are ignored; duplicates are fine. Also
 * restored: every ancestor up to the root that is no longer the captured
 * directory (recreated whole), and the metadata (mtime) of the parent
 * directory of each path, after its children. A path the manifest lacks is
 * removed, recursively if a directory. Order: removals deepest first,
 * recreations shallowest first, content, then metadata deepest first.
 * A store object that is missing or not of its captured size fails with
 * "store corrupted: <store path> for <path>", before the live file is
 * touched.
 */
int fsimage_restore_paths(struct rw_fsimage *img, const char *const *abs_paths, size_t n,
			  struct rw_fs_stats *st, char *why, size_t whylen);

/*
 * Walk the live tree and the manifest together and restore, with the same
 * machinery, every entry that differs in presence, type, inode, mode,
 * owner, xattrs, symlink target, rdev, size or mtime, or whose content hash
 * differs although size and mtime match (a write through a shared mapping
 * followed by utimensat). Reads every regular file whose size and mtime
 * match: O(tree data).
 */
int fsimage_restore_all(struct rw_fsimage *img, struct rw_fs_stats *st, char *why, size_t whylen);

#define RW_FS_DIFFS_LISTED	16

/*
 * count: live or manifest entries that differ. listed: the first
 * RW_FS_DIFFS_LISTED of them as "<absolute path>: <what>", each naming
 * every aspect that differs on that entry; a whole missing or unexpected
 * directory is one difference.
 */
struct rw_fs_diffs {
	uint64_t count;
	char *listed[RW_FS_DIFFS_LISTED];
	size_t nlisted;
};

/*
 * Rescan the live tree and compare it with the manifest: entry set, type,
 * mode, uid, gid, size (not of directories), mtime, xattrs, symlink target,
 * rdev, hard-link grouping (names sharing an inode in the manifest share
 * one live inode, and names that did not, do not) and content hash (reads
 * every regular file). Inode numbers themselves are not compared.
 * Fills *d (fsimage_diffs_free it, also after an error); returns 0 when the
 * comparison ran, whatever it found.
 */
int fsimage_verify(const struct rw_fsimage *img, struct rw_fs_diffs *d, char *why, size_t whylen);
void fsimage_diffs_free(struct rw_fs_diffs *d);

#endif /* RW_TREE_IMAGE_H */
