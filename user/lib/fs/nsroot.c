// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "nsroot: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "fileio.h"
#include "log.h"
#include "nsroot.h"
#include "proc.h"

#ifndef SYS_openat2
#define SYS_openat2		437
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID		0x00001000U
#endif

uint32_t nsroot_mnt_ns_of(pid_t pid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", pid);
	return stat(p, &st) ? 0 : (uint32_t)st.st_ino;
}

#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID		_IOR(0xb7, 0x5, uint64_t)	/* linux/nsfs.h, Linux 6.8 */
#endif

/* The mount namespace's id, which no later namespace gets; 0 when the kernel has none. */
static uint64_t mnt_ns_id_of(pid_t pid)
{
	uint64_t id = 0;
	char p[64];
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && ioctl(fd, NS_GET_MNTNS_ID, &id))
		id = 0;
	if (fd >= 0)
		close(fd);
	return id;
}

int nsroot_of_pid(pid_t pid, struct rw_nsroot *r, char *why, size_t whylen)
{
	char p[64], link[PATH_MAX];
	struct stat st;
	ssize_t n;
	int err;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->pid = pid;
	snprintf(p, sizeof(p), "/proc/%d/root", pid);
	/* Opening the magic link follows it: the fd is the process's root, in its namespace. */
	r->fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st)) {
		/* -ESRCH: the process is gone, which callers say themselves. */
		err = rw_why(why, whylen, errno == ENOENT ? -ESRCH : -errno, "the root of pid %d", pid);
		goto fail;
	}
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	n = readlink(p, link, sizeof(link) - 1);
	if (n <= 0 || link[0] != '/') {
		err = rw_why(why, whylen, n < 0 ? -errno : -EXDEV, "the root of pid %d", pid);
		goto fail;
	}
	link[n] = '\0';
	if (strcmp(link, "/"))
		snprintf(r->prefix, sizeof(r->prefix), "%s", link);
	r->mnt_ns = nsroot_mnt_ns_of(pid);
	if (!r->mnt_ns) {
		err = rw_why(why, whylen, -errno ?: -ESRCH, "the mount namespace of pid %d", pid);
		goto fail;
	}
	r->mnt_ns_id = mnt_ns_id_of(pid);
	return 0;
fail:
	nsroot_close(r);
	return err;
}

int nsroot_find(uint32_t mnt_ns, uint64_t mnt_ns_id, uint64_t dev, uint64_t ino,
		struct rw_nsroot *r)
{
	const struct rw_nsroot want = { .mnt_ns = mnt_ns, .dev = dev, .ino = ino };
	pid_t *pids;
	size_t n;
	int err = proc_list_pids(&pids, &n);

	r->fd = -1;
	if (err)
		return err;
	err = -ESRCH;
	for (size_t i = 0; i < n && err; i++) {
		if (nsroot_mnt_ns_of(pids[i]) != mnt_ns || nsroot_of_pid(pids[i], r, NULL, 0))
			continue;	/* another namespace, gone meanwhile, or chrooted out of reach */
		if (nsroot_same(r, &want) && (!mnt_ns_id || r->mnt_ns_id == mnt_ns_id))
			err = 0;
		else
			nsroot_close(r);
	}
	free(pids);
	return err;
}

void nsroot_close(struct rw_nsroot *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

bool nsroot_same(const struct rw_nsroot *a, const struct rw_nsroot *b)
{
	return a->mnt_ns == b->mnt_ns && a->dev == b->dev && a->ino == b->ino;
}

int nsroot_open(const struct rw_nsroot *r, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
	};
	size_t n = strlen(r->prefix);
	const char *rel = path;
	long fd;

	if (r->fd < 0)
		return -EBADF;
	if (path[0] != '/')
		return -EINVAL;
	if (n) {
		if (strncmp(path, r->prefix, n) || (path[n] && path[n] != '/'))
			return -EXDEV;
		rel = path + n;
	}
	while (*rel == '/')
		rel++;
	fd = syscall(SYS_openat2, r->fd, *rel ? rel : ".", &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

int nsroot_fd_path(int fd, char *buf, size_t len)
{
	static const char deleted[] = " (deleted)";
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n == len - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	if (buf[0] != '/')
		return -EXDEV;
	if ((size_t)n >= sizeof(deleted) - 1 && !strcmp(buf + n - (sizeof(deleted) - 1), deleted))
		return -ENOENT;
	return 0;
}

static int id_of(int fd, struct statx *sx)
{
	return statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, sx) ? -errno : 0;
}

int nsroot_fd_within(int fd, uint64_t dev, uint64_t ino)
{
	struct statx cur, up;
	int d, err;

	d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		return -errno;
	err = id_of(d, &cur);
	/* ".." stops at the namespace's top (or rewindd's root): there it is the same. */
	for (int depth = 0; !err && depth < 4096; depth++) {
		int up_fd;

		if (makedev(cur.stx_dev_major, cur.stx_dev_minor) == dev && cur.stx_ino == ino) {
			close(d);
			return 1;
		}
		up_fd = openat(d, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up_fd < 0) {
			err = -errno;
			break;
		}
		close(d);
		d = up_fd;
		err = id_of(d, &up);
		if (!err && up.stx_dev_major == cur.stx_dev_major &&
		    up.stx_dev_minor == cur.stx_dev_minor && up.stx_ino == cur.stx_ino &&
		    up.stx_mnt_id == cur.stx_mnt_id)
			break;
		cur = up;
	}
	close(d);
	return err ?: 0;
}

/*
 * Through the mounts that pid's namespace shows: the directory (dev, ino)
 * whose handle is h, -ENOENT, or -EACCES when pid's mounts cannot be read
 * (pid 1 may deny it even to root): another process of its namespace may
 * do. Every mount is tried: a file's device need not be its mount's
 * (btrfs subvolumes); what opens is checked.
 */
static int by_handle_in(pid_t pid, uint64_t dev, uint64_t ino, struct file_handle *h)
{
	char path[64], *text = NULL, *line, *save = NULL;
	struct rw_nsroot root;
	int found = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	if (read_whole_file(AT_FDCWD, path, 1 << 24, &text, NULL) ||
	    nsroot_of_pid(pid, &root, NULL, 0)) {
		free(text);
		return -EACCES;
	}
	for (line = strtok_r(text, "\n", &save); line && found == -ENOENT;
	     line = strtok_r(NULL, "\n", &save)) {
		char mnt[PATH_MAX];
		uint64_t mdev;
		struct stat st;
		int mfd, fd;

		if (proc_parse_mountinfo_line(line, &mdev, mnt, sizeof(mnt)))
			continue;
		/* Named in that process's view, resolved beneath its root (its symlinks stay in it). */
		root.prefix[0] = '\0';
		mfd = nsroot_open(&root, mnt, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
		if (mfd < 0)
			continue;
		/* Not O_PATH: open_by_handle_at takes a real fd of the filesystem. */
		fd = open_by_handle_at(mfd, h, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(mfd);
		if (fd < 0)
			continue;
		if (!fstat(fd, &st) && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino)
			found = fd;
		else
			close(fd);
	}
	nsroot_close(&root);
	free(text);
	return found;
}

int nsroot_find_by_handle(uint64_t dev, uint64_t ino, struct file_handle *h)
{
	uint32_t seen[256];
	size_t nseen = 0, n;
	pid_t *pids;
	int fd = proc_list_pids(&pids, &n);

	if (fd)
		return fd;
	fd = -ENOENT;
	for (size_t i = 0; i < n && fd < 0; i++) {
		uint32_t ns = nsroot_mnt_ns_of(pids[i]);
		bool dup = false;
		int got;

		/* One look per mount namespace (the first few hundred remembered). */
		for (size_t k = 0; k < nseen && !dup; k++)
			dup = seen[k] == ns;
		if (!ns || dup)
			continue;
		got = by_handle_in(pids[i], dev, ino, h);
		if (got >= 0)
			fd = got;
		else if (got == -ENOENT && nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = ns;
	}
	free(pids);
	return fd;
}
