/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The watched trees of a session (attach --watch DIR): their checkpoint
 * manifests, which of their entries an invocation touched according to the
 * log, their rollback at rewind and their verification. The manifest and
 * content store of one tree are its tree image's (tree_image.h); this file
 * decides what to hand it: the touched paths, or the whole tree when the
 * log cannot be trusted.
 */
#ifndef RW_WATCHED_TREES_H
#define RW_WATCHED_TREES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "nsroot.h"
#include "tree_image.h"

struct rw_invocation;

#define RW_MAX_WATCH_NOTES	16

struct rw_watch_tree {
	/*
	 * Its name as the target sees it, symlinks resolved, from the top of
	 * the target's mount namespace: the log's paths are named so.
	 */
	char root[PATH_MAX];
	int fd;				/* how rewindd reaches it: the directory, held */
	uint64_t dev, ino;		/* of fd */
	struct rw_fsimage *img;		/* its checkpoint; NULL before one */
	/* A change the log did not see (a writer we do not track): compare it all. */
	bool untrusted;
	char untrusted_why[256];
	/* No fanotify watch on it: writers we do not track cannot be seen, every rewind compares it whole. */
	bool blind;
	char blind_why[512];
};

struct rw_watches {
	struct rw_watch_tree *t;
	size_t n;
	char store[PATH_MAX];		/* this session's content stores, under the state dir */
	/* Files mapped shared and writable at the checkpoint: stores reach them without a syscall. */
	char **mapped;
	size_t nmapped;
	/* The view the trees were resolved in: the target's root, held, and its mount namespace. */
	struct rw_nsroot ns;
	/* No process to look at (an empty cgroup): rewindd's own view, until a checkpoint checks it. */
	bool ns_assumed;
};

/* What a rewind did to the watched trees. */
struct rw_watch_result {
	struct rw_fs_stats fs;
	size_t touched;			/* touched paths inside watched trees */
	size_t full;			/* trees compared whole instead of trusting the log */
	char *notes[RW_MAX_WATCH_NOTES];
	size_t nnotes;
};

/*
 * Resolve and record the trees. Each dir is an absolute path as the target
 * sees it: resolved beneath the root of pids[0] (openat2 RESOLVE_IN_ROOT),
 * in its mount namespace; every pid must share that namespace and root, or
 * the watch is ambiguous and refused. No pids (an empty cgroup): rewindd's
 * own view is assumed, and watches_check_view refuses a checkpoint of
 * processes that see another. Each tree must be an existing directory,
 * and neither contain nor lie inside the state directory or another tree
 * (compared by directory identity: the names are in different views). A
 * client that is not root may only watch directories it owns (rewindd
 * restores them as root). The state dir is created 0700 if missing.
 */
int watches_init(struct rw_watches *w, const char (*dirs)[4096], size_t n, uid_t uid,
		 const pid_t *pids, size_t npids, const char *state_dir, uint32_t session,
		 char *why, size_t whylen);
/* Every pid sees the trees as they were resolved (same mount namespace and root). */
int watches_check_view(const struct rw_watches *w, const pid_t *pids, size_t npids, char *why,
		       size_t whylen);
void watches_fini(struct rw_watches *w);

/* True when path is one of the trees or lies below one. */
bool watches_cover(const struct rw_watches *w, const char *path);

/*
 * Checkpoint every tree (replacing an earlier checkpoint). mapped: files
 * the processes map shared and writable now, treated as touched by every
 * invocation. Clears the untrusted flags.
 */
int watches_checkpoint(struct rw_watches *w, char *const *mapped, size_t nmapped,
		       struct rw_fs_stats *st, char *why, size_t whylen);

/* Where tree's content store and its saved manifest (fsimage_save) are; manifest may be NULL. */
void watches_tree_store(const struct rw_watches *w, size_t tree, char *store, size_t slen,
			char *manifest, size_t mlen);

/*
 * After a crash (daemon/recovery.c). watches_open_saved opens the tree
 * named root in view, to be held while its processes are killed: a tree on
 * a mount of their own namespace stays reachable through the fd when the
 * namespace goes. watches_restore_saved rolls it back to the checkpoint a
 * dead rewindd saved (manifest, store), comparing every entry, and
 * verifies the result. -ESTALE: treefd is no longer the captured directory.
 * -EIO: differences remain (why names the first).
 */
int watches_open_saved(const struct rw_nsroot *view, const char *root);
int watches_restore_saved(int treefd, const char *manifest, const char *store,
			  struct rw_fs_stats *st, char *why, size_t whylen);

/* Forget every tree's checkpoint: images, stores and saved manifests (a checkpoint that failed). */
void watches_drop_checkpoint(struct rw_watches *w);

/* A tree was changed by a process the log does not see (or events were lost). */
void watches_distrust(struct rw_watches *w, size_t tree, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Roll every tree back to its checkpoint: exactly the entries the
 * invocation's log names, or the whole tree (full comparison) when the log
 * is incomplete or the tree untrusted. Synchronous. Returns 0 or -errno
 * with why naming the path that could not be restored.
 */
int watches_rewind(struct rw_watches *w, const struct rw_invocation *inv, bool log_incomplete,
		   struct rw_watch_result *res, char *why, size_t whylen);
void watch_result_free(struct rw_watch_result *res);

/* Some tree has a checkpoint. */
bool watches_checkpointed(const struct rw_watches *w);

/*
 * After a failed rewind, once no process of the session runs: roll every
 * checkpointed tree back whole (through the held directory) and verify it,
 * so that what the invocation wrote there stays with nobody.
 */
int watches_restore_whole(struct rw_watches *w, char *why, size_t whylen);

/* Rescan every tree against its manifest; differences are appended to diffs. */
int watches_verify(const struct rw_watches *w, struct rw_fs_diffs *diffs, char *why,
		   size_t whylen);

/* Disk space of the content stores. */
uint64_t watches_store_bytes(const struct rw_watches *w);

json_object *watch_result_json(const struct rw_watch_result *res);

#endif /* RW_WATCHED_TREES_H */
