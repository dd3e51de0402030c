/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A target's file-system view: its root directory and mount namespace.
 *
 * realpath() of /proc/PID/root/tmp resolves in rewindd's own namespace (to
 * the host's /tmp): a target's path must be resolved from an fd of its root
 * with openat2(RESOLVE_IN_ROOT), and the fds kept. Paths here are named the
 * way the BPF log and /proc/self/fd links name them: from the top of the
 * target's mount namespace (its root's path there is the prefix; "" when
 * the root is that top, i.e. not chrooted).
 */
#ifndef RW_NSROOT_H
#define RW_NSROOT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rw_nsroot {
	int fd;			/* the process's root directory (O_PATH); -1 when closed */
	pid_t pid;		/* whose it was */
	uint32_t mnt_ns;	/* inode number of its mount namespace (reused once it is gone) */
	uint64_t mnt_ns_id;	/* its never-reused id (NS_GET_MNTNS_ID, Linux 6.8); 0: unknown */
	uint64_t dev, ino;	/* of the root directory */
	char prefix[PATH_MAX];	/* the root's path in its namespace; "" for the top */
};

/* Open pid's root and read its mount namespace. */
int nsroot_of_pid(pid_t pid, struct rw_nsroot *r, char *why, size_t whylen);
void nsroot_close(struct rw_nsroot *r);

/*
 * Find a process that still has the view (mount namespace mnt_ns, and
 * mnt_ns_id unless 0; root directory dev/ino) and open it into *r, for a
 * tree recorded by a rewindd that is gone. -ESRCH: no process has it any
 * more. Without mnt_ns_id the namespace found may be a later one that was
 * given the same inode number.
 */
int nsroot_find(uint32_t mnt_ns, uint64_t mnt_ns_id, uint64_t dev, uint64_t ino,
		struct rw_nsroot *r);

struct file_handle;
/*
 * The directory (dev, ino) whose handle (name_to_handle_at) is h, opened
 * through any mount of its filesystem that a live process's namespace
 * shows: for a tree whose view is gone while its filesystem is not (a
 * host directory bind-mounted into a container). An fd, or -ENOENT.
 */
int nsroot_find_by_handle(uint64_t dev, uint64_t ino, struct file_handle *h);

/* Two processes see one file system: same mount namespace and same root. */
bool nsroot_same(const struct rw_nsroot *a, const struct rw_nsroot *b);

/*
 * Open path (absolute, named from the namespace's top as above) as the
 * root's process would: resolved beneath its root, symlinks scoped to it.
 * resolve: extra RESOLVE_* flags. An fd, or -errno (-EXDEV: the path lies
 * outside a chrooted process's root).
 */
int nsroot_open(const struct rw_nsroot *r, const char *path, int flags, uint64_t resolve);

/* The mount namespace inode of pid; 0 when it cannot be read (gone). */
uint32_t nsroot_mnt_ns_of(pid_t pid);

/*
 * The path of an open directory or file in its own mount namespace (what
 * the kernel's d_path gives /proc/self/fd links), in buf. -ENOENT when it
 * was removed.
 */
int nsroot_fd_path(int fd, char *buf, size_t len);

/* dir, or one of its ancestors up to its namespace's top, is (dev, ino): 1, 0 or -errno. */
int nsroot_fd_within(int fd, uint64_t dev, uint64_t ino);

#endif /* RW_NSROOT_H */
