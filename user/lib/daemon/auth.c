// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "auth: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

int auth_may_attach_pid(uid_t uid, pid_t pid, char *err, size_t errlen)
{
	char path[32], *text = NULL;
	struct rw_proc_status ids;
	struct stat st;
	int dfd, r;

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
	if (uid == 0)
		goto out;
	r = proc_parse_status(text, &ids) ? -EIO : 0;
	if (r) {
		pr_err("cannot parse /proc/%d/status\n", pid);
		say(err, errlen, r, "cannot parse /proc/%d/status", pid);
		goto out;
	}
	if (ids.uid[0] != uid || ids.uid[1] != uid || ids.uid[2] != uid) {
		if (ids.uid[0] == ids.uid[1] && ids.uid[1] == ids.uid[2])
			r = say(err, errlen, -EPERM, "uid %u may not attach to pid %d (owned by uid %u)",
				uid, pid, ids.uid[1]);
		else
			r = say(err, errlen, -EPERM, "uid %u may not attach to pid %d "
				"(real/effective/saved uids %u/%u/%u)",
				uid, pid, ids.uid[0], ids.uid[1], ids.uid[2]);
		goto out;
	}
	/* ptrace would also compare gids with the client's; we only know its uid. */
	if (ids.gid[0] != ids.gid[1] || ids.gid[1] != ids.gid[2]) {
		r = say(err, errlen, -EPERM, "uid %u may not attach to pid %d "
			"(set-group-id: real/effective/saved gids %u/%u/%u)",
			uid, pid, ids.gid[0], ids.gid[1], ids.gid[2]);
		goto out;
	}
	/* ptrace wants the target's capabilities to be a subset of the tracer's. */
	if (ids.cap_prm) {
		r = say(err, errlen, -EPERM, "uid %u may not attach to pid %d "
			"(it holds capabilities %#llx)", uid, pid,
			(unsigned long long)ids.cap_prm);
		goto out;
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
	if (st.st_uid != uid)
		r = say(err, errlen, -EPERM, "uid %u may not attach to pid %d (not dumpable)",
			uid, pid);
out:
	free(text);
	close(dfd);
	return r;
}

int auth_may_attach_cgroup(uid_t uid, const char *cgroup_path, char *err, size_t errlen)
{
	char why[256];
	pid_t *pids = NULL;
	struct stat st;
	size_t n = 0;
	int dfd, r;

	if (uid == 0)
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
		r = auth_may_attach_pid(uid, pids[i], why, sizeof(why));
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
