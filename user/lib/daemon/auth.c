// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "auth: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/nsfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "fileio.h"
#include "cgroup.h"
#include "log.h"
#include "proc.h"

/* /proc/PID/status grows with the Groups: line; bound it anyway. */
#define STATUS_MAX	(1 << 20)

static int say(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int auth_peer_cred(int sockfd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	if (getsockopt(sockfd, SOL_SOCKET, SO_PEERCRED, cred, &len))
		return -errno;
	if (len != sizeof(*cred))
		return -EINVAL;
	return 0;
}

/* Read dirfd/name whole, NUL-terminated. A vanished process reads as -ESRCH. */
static int read_at(int dirfd, const char *name, char **out)
{
	int err = read_whole_file(dirfd, name, STATUS_MAX, out, NULL);

	return err == -ENOENT ? -ESRCH : err;
}

/* CAP_SYS_PTRACE, as <linux/capability.h> numbers it. */
#define RW_CAP_SYS_PTRACE	19
/* User namespaces nest at most 32 deep. */
#define USERNS_MAX_DEPTH	33

static bool privileged(const struct rw_auth_client *c, uint64_t self_userns)
{
	return c->userns && c->userns == self_userns && (c->cap_eff & (1ULL << RW_CAP_SYS_PTRACE));
}

int auth_decide(const struct rw_auth_client *c, uint64_t self_userns, const char *pid,
		const struct rw_auth_target *t, char *err, size_t errlen)
{
	uid_t uid = c->uid;

	if (privileged(c, self_userns))
		return 0;
	if (t->uid[0] != uid || t->uid[1] != uid || t->uid[2] != uid) {
		if (t->uid[0] == t->uid[1] && t->uid[1] == t->uid[2])
			return say(err, errlen, -EPERM, "uid %u may not attach to pid %s (owned by uid %u)",
				   uid, pid, t->uid[1]);
		return say(err, errlen, -EPERM, "uid %u may not attach to pid %s "
			   "(real/effective/saved uids %u/%u/%u)",
			   uid, pid, t->uid[0], t->uid[1], t->uid[2]);
	}
	/* ptrace would also compare gids with the client's; we only know its uid. */
	if (t->gid[0] != t->gid[1] || t->gid[1] != t->gid[2])
		return say(err, errlen, -EPERM, "uid %u may not attach to pid %s "
			   "(set-group-id: real/effective/saved gids %u/%u/%u)",
			   uid, pid, t->gid[0], t->gid[1], t->gid[2]);
	/*
	 * ptrace wants the target's capabilities to be a subset of the tracer's
	 * in the same user namespace, or the tracer capable in the target's.
	 */
	if (t->cap_prm && !t->userns_owned) {
		if (!c->userns || c->userns != t->userns)
			return say(err, errlen, -EPERM, "uid %u may not attach to pid %s (it holds "
				   "capabilities %#llx in a user namespace the client neither "
				   "shares nor owns)", uid, pid, (unsigned long long)t->cap_prm);
		if (t->cap_prm & ~c->cap_eff)
			return say(err, errlen, -EPERM, "uid %u may not attach to pid %s (it holds "
				   "capabilities %#llx the client lacks)", uid, pid,
				   (unsigned long long)(t->cap_prm & ~c->cap_eff));
	}
	if (t->mem_uid != uid)
		return say(err, errlen, -EPERM, "uid %u may not attach to pid %s (not dumpable)",
			   uid, pid);
	return 0;
}

static uint64_t ns_inode(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, 0) ? 0 : st.st_ino;
}

static uint64_t self_userns(void)
{
	static uint64_t ino;

	if (!ino)
		ino = ns_inode(AT_FDCWD, "/proc/self/ns/user");
	return ino;
}

int auth_client_of_proc(int procdir, uid_t uid, struct rw_auth_client *c)
{
	struct rw_proc_status st;
	char *text = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	c->uid = uid;
	r = read_at(procdir, "status", &text);
	if (!r)
		r = proc_parse_status(text, &st) ? -EIO : 0;
	free(text);
	if (r)
		return r;
	c->cap_eff = st.cap_eff;
	c->userns = ns_inode(procdir, "ns/user");
	return c->userns ? 0 : -ESRCH;
}

/*
 * Is the user namespace at nsfd below the client's, and the namespace
 * just below the client's on the way owned by the client's uid? The kernel
 * gives the owner of such a namespace every capability in it and below.
 */
static bool userns_owned_by(int nsfd, const struct rw_auth_client *c)
{
	int fd = dup(nsfd);

	for (int depth = 0; fd >= 0 && depth < USERNS_MAX_DEPTH; depth++) {
		int parent = ioctl(fd, NS_GET_PARENT);
		uid_t owner;
		struct stat st;
		bool below;

		if (parent < 0)
			break;	/* the initial namespace, or one outside ours */
		below = !fstat(parent, &st) && st.st_ino == c->userns;
		if (below) {
			bool owned = !ioctl(fd, NS_GET_OWNER_UID, &owner) && owner == c->uid;

			close(parent);
			close(fd);
			return owned;
		}
		close(fd);
		fd = parent;
	}
	if (fd >= 0)
		close(fd);
	return false;
}

int auth_may_attach_pid_as(const struct rw_auth_client *c, pid_t pid, char *err, size_t errlen)
{
	char path[32], label[RW_PID_LABEL_MAX], *text = NULL;
	struct rw_auth_target t = { 0 };
	struct rw_proc_status ids;
	struct stat st;
	int dfd, nsfd, r;

	if (pid <= 0)
		return say(err, errlen, -ESRCH, "no such process: %d", pid);
	snprintf(path, sizeof(path), "/proc/%d", pid);
	/* One directory fd pins the process: a recycled pid cannot slip in between reads. */
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = errno == ENOENT ? -ESRCH : -errno;
		return say(err, errlen, r, r == -ESRCH ? "no such process: %d" :
			   "cannot open /proc/%d", pid);
	}
	r = read_at(dfd, "status", &text);
	if (r) {
		say(err, errlen, r, r == -ESRCH ? "no such process: %d" :
		    "cannot read /proc/%d/status", pid);
		goto out;
	}
	r = proc_parse_status(text, &ids) ? -EIO : 0;
	if (r) {
		pr_err("cannot parse /proc/%d/status\n", pid);
		say(err, errlen, r, "cannot parse /proc/%d/status", pid);
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		t.uid[i] = ids.uid[i];
		t.gid[i] = ids.gid[i];
	}
	t.cap_prm = ids.cap_prm;
	if (ids.ns_pid && ids.ns_pid != pid)
		snprintf(label, sizeof(label), "%d (pid %d in its namespace)", pid, ids.ns_pid);
	else
		snprintf(label, sizeof(label), "%d", pid);
	nsfd = openat(dfd, "ns/user", O_RDONLY | O_CLOEXEC);
	if (nsfd >= 0) {
		if (!fstat(nsfd, &st))
			t.userns = st.st_ino;
		if (t.cap_prm && c->userns && t.userns != c->userns)
			t.userns_owned = userns_owned_by(nsfd, c);
		close(nsfd);
	}
	/*
	 * status does not say whether the process is dumpable, but the files
	 * under /proc/PID of a non-dumpable process belong to root rather than
	 * to its euid (recomputed on every stat). Not /proc/PID itself: the
	 * kernel leaves that directory to the euid regardless.
	 */
	if (fstatat(dfd, "mem", &st, AT_SYMLINK_NOFOLLOW)) {
		r = errno == ENOENT ? -ESRCH : -errno;
		say(err, errlen, r, "cannot stat /proc/%d/mem", pid);
		goto out;
	}
	t.mem_uid = st.st_uid;
	r = auth_decide(c, self_userns(), label, &t, err, errlen);
out:
	free(text);
	close(dfd);
	return r;
}

/* A client known by uid alone: in our user namespace, root with every capability. */
static struct rw_auth_client uid_client(uid_t uid)
{
	return (struct rw_auth_client){ .uid = uid, .cap_eff = uid == 0 ? ~0ULL : 0,
					.userns = self_userns() };
}

int auth_may_attach_pid(uid_t uid, pid_t pid, char *err, size_t errlen)
{
	struct rw_auth_client c = uid_client(uid);

	return auth_may_attach_pid_as(&c, pid, err, errlen);
}

int auth_may_attach_cgroup(uid_t uid, const char *cgroup_path, char *err, size_t errlen)
{
	struct rw_auth_client c = uid_client(uid);

	return auth_may_attach_cgroup_as(&c, cgroup_path, err, errlen);
}

int auth_may_attach_cgroup_as(const struct rw_auth_client *c, const char *cgroup_path, char *err,
			      size_t errlen)
{
	uid_t uid = c->uid;
	char why[256];
	pid_t *pids = NULL;
	struct stat st;
	size_t n = 0;
	int dfd, r;

	if (privileged(c, self_userns()))
		return 0;
	dfd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		return say(err, errlen, r, "cannot open cgroup %s: %s", cgroup_path, strerror(-r));
	}
	if (fstat(dfd, &st)) {
		r = -errno;
		say(err, errlen, r, "cannot stat cgroup %s: %s", cgroup_path, strerror(-r));
		goto out;
	}
	if (st.st_uid != uid) {
		r = say(err, errlen, -EPERM, "uid %u may not attach to cgroup %s (owned by uid %u)",
			uid, cgroup_path, st.st_uid);
		goto out;
	}
	/* Whoever can write cgroup.procs can move processes in after us. */
	if (fstatat(dfd, "cgroup.procs", &st, AT_SYMLINK_NOFOLLOW)) {
		r = -errno;
		say(err, errlen, r, "cannot stat %s/cgroup.procs: %s", cgroup_path, strerror(-r));
		goto out;
	}
	if ((st.st_uid != uid && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		r = say(err, errlen, -EPERM, "uid %u may not attach to cgroup %s "
			"(others may move processes into it: cgroup.procs uid %u mode %03o)",
			uid, cgroup_path, st.st_uid, st.st_mode & 0777);
		goto out;
	}
	r = cgroup_list_procs(cgroup_path, &pids, &n);
	if (r) {
		say(err, errlen, r, "cannot list the processes of %s: %s", cgroup_path,
		    strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = auth_may_attach_pid_as(c, pids[i], why, sizeof(why));
		if (r == -ESRCH) {	/* exited since the listing */
			r = 0;
			continue;
		}
		if (r) {
			say(err, errlen, r, "%s, in cgroup %s", why, cgroup_path);
			break;
		}
	}
out:
	free(pids);
	close(dfd);
	return r;
}
