/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who changed a watched tree: fanotify (FAN_CLASS_NOTIF, FAN_REPORT_DFID_NAME
 * | FAN_REPORT_FID | FAN_REPORT_TARGET_FID) with an inode mark on every
 * directory of each tree. The BPF log sees tracked processes only; a change
 * reported here with a pid the daemon does not track (or with pid 0) means
 * the log cannot be trusted for that tree: compare all of it instead.
 *
 * Events are queued synchronously by the syscall that makes the change, so
 * once a writer has returned (exited, answered on a pipe) its events are
 * readable here. Each event's directory file handle (fsid + handle) is
 * mapped back to a tree by a hash table filled when directories are
 * marked. Directories that appear later (mkdir, rename into a tree) are
 * marked when their event is drained, then walked (mark first, read next),
 * so nothing they hold by then goes unwatched; changes made inside such a
 * directory before that are not reported one by one: they are part of its
 * creation (or move) by the pid reported for it, and undoing that undoes
 * them. A directory renamed out of its tree is unwatched likewise.
 *
 * Works on ext4 and tmpfs (checked on 6.18). Needs root: fanotify FID
 * reporting (5.17+ for FAN_REPORT_TARGET_FID), open_by_handle_at
 * (CAP_DAC_READ_SEARCH) and name_to_handle_at(AT_HANDLE_FID) (6.5+).
 *
 * Not seen, by design of fanotify: writes through a shared writable mmap
 * (only the open's CLOSE_WRITE is), and changes to a file of the tree made
 * through a hard link outside it. Symlinks are not followed and other
 * mounts inside a tree are not entered (changes there are not reported).
 * Not thread-safe: one thread owns a watcher.
 */
#ifndef RW_FANOTIFY_WATCH_H
#define RW_FANOTIFY_WATCH_H

#include <stddef.h>
#include <sys/types.h>

/* The tag of cb() for a lost event queue: every tree, writer unknown. */
#define FSWATCH_ALL_TREES	(-1)

struct rw_fswatch;

/*
 * A new watcher (fanotify_init, O_CLOEXEC | O_NONBLOCK, default queue of
 * fs.fanotify.max_queued_events). 0 or -errno with why filled in (e.g.
 * -EPERM without root, -EMFILE past fs.fanotify.max_user_groups); *out is
 * NULL on failure.
 */
int fswatch_open(struct rw_fswatch **out, char *why, size_t whylen);
/* NULL-safe. Closing the group drops all its marks. */
void fswatch_close(struct rw_fswatch *w);
/* For the daemon's epoll (level-triggered): readable while events wait. */
int fswatch_fd(const struct rw_fswatch *w);

/*
 * At most max_dirs directories watched over all trees (0, the default: no
 * limit but the kernel's fs.fanotify.max_user_marks, which all of root's
 * fanotify groups share). Past either, add_tree fails with -ENOSPC, and a
 * directory made later that cannot be watched is reported as cb(tag, 0).
 */
void fswatch_set_limit(struct rw_fswatch *w, size_t max_dirs);
/* Directories watched now, over all trees (for tests, as is fswatch_set_limit). */
size_t fswatch_count(const struct rw_fswatch *w);

/*
 * Watch root and every directory under it on the same mount, without
 * following symlinks (root itself must not be one). tag (>= 0, unused)
 * comes back with the tree's events. The root directory is watched as an
 * inode: if it is renamed, the renamed directory stays watched.
 * Returns 0 or -errno with why filled in and nothing left marked:
 *   -EINVAL   tag < 0
 *   -EEXIST   tag already in use
 *   -EBUSY    root is inside, or contains, a directory of another tree
 *   -ELOOP, -ENOTDIR, -ENOENT, -EACCES   opening root
 *   -EOPNOTSUPP  the filesystem (named in why) cannot report file ids to
 *             fanotify or reopen directories by file handle (proc, sysfs)
 *   -ENOSPC   more directories than fswatch_set_limit() or
 *             fs.fanotify.max_user_marks allows (why says which)
 */
int fswatch_add_tree(struct rw_fswatch *w, const char *root, int tag, char *why, size_t whylen);
/*
 * The same for a directory rewindd reaches through dirfd (a target's, in
 * its mount namespace), named name in messages; marks go on the inodes,
 * whichever mount namespace names them.
 */
int fswatch_add_tree_at(struct rw_fswatch *w, int dirfd, const char *name, int tag, char *why,
			size_t whylen);
/* Unwatch the tree; its events still queued are dropped too. Unknown tag: no-op. */
void fswatch_remove_tree(struct rw_fswatch *w, int tag);

/*
 * Read the events waiting (at most a bounded batch per call: the fd stays
 * readable if more remain) and call cb(ctx, tag, pid) for each change in a
 * watched tree, pid being the tgid that made it, as fanotify saw it (0 if
 * not visible in our pid namespace). Consecutive repeats of one (tag, pid)
 * within a call are reported once. Special calls:
 *   cb(ctx, FSWATCH_ALL_TREES, 0)  the queue overflowed: events were lost,
 *       any tree may have changed by anyone. Every tree has been walked
 *       again before this call, so later changes are seen again.
 *   cb(ctx, tag, 0)  a directory made in the tree could not be watched
 *       (limits, errors: logged); reported again on every later drain
 *       until a new walk of the tree succeeds.
 * A watched root that is deleted is reported (with the deleter's pid) and
 * logged; the tree then sees nothing more: remove it (and add it again).
 * cb must not call into w. Returns 0 or -errno of a failed read.
 */
int fswatch_drain(struct rw_fswatch *w, void (*cb)(void *ctx, int tag, pid_t pid), void *ctx);

#endif /* RW_FANOTIFY_WATCH_H */
