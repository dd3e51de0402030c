// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "cgroup: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "fileio.h"
#include "log.h"

/* /proc/mounts can be big in containers, but not this big. */
#define READ_MAX	(64 << 20)
/* Each level of the tree walk holds a directory fd. */
#define WALK_DEPTH_MAX	128

/* The whole of a (proc or kernfs) file, NUL-terminated; sizes are not known up front. */
static int read_all(const char *path, char **out, size_t *outlen)
{
	return read_whole_file(AT_FDCWD, path, READ_MAX, out, outlen);
}

/* Copy one mounts-file field up to the next space, decoding \ooo escapes. */
static int copy_field(const char *s, const char *end, char *buf, size_t len)
{
	size_t n = 0;

	while (s < end && *s != ' ' && *s != '\t') {
		char c = *s++;

		if (c == '\\' && end - s >= 3 && s[0] >= '0' && s[0] <= '3' &&
		    s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
			c = (s[0] - '0') << 6 | (s[1] - '0') << 3 | (s[2] - '0');
			s += 3;
		}
		if (n + 1 >= len)
			return -ENAMETOOLONG;
		buf[n++] = c;
	}
	if (len)
		buf[n] = '\0';
	return 0;
}

int cgroup2_parse_mount_point(const char *text, char *buf, size_t len)
{
	const char *line = text;

	while (*line) {
		const char *end = strchrnul(line, '\n');
		const char *f[3];
		const char *p = line;
		int i;

		/* device, mount point, fs type */
		for (i = 0; i < 3; i++) {
			while (p < end && *p == ' ')
				p++;
			if (p == end)
				break;
			f[i] = p;
			while (p < end && *p != ' ')
				p++;
		}
		if (i == 3 && p - f[2] == 7 && !memcmp(f[2], "cgroup2", 7))
			return copy_field(f[1], end, buf, len);
		line = *end ? end + 1 : end;
	}
	return -ENOENT;
}

int cgroup2_mount_point(char *buf, size_t len)
{
	char *text;
	int err;

	err = read_all("/proc/mounts", &text, NULL);
	if (err) {
		pr_err("cannot read /proc/mounts: %s\n", strerror(-err));
		return err;
	}
	err = cgroup2_parse_mount_point(text, buf, len);
	free(text);
	return err;
}

/* The id of the cgroup2 directory open at fd (cgroup_id_of_path's errors). */
static int cgroup_id_of_fd(int fd, uint64_t *id)
{
	struct statfs sfs;
	struct stat st;

	if (fstat(fd, &st) || fstatfs(fd, &sfs))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -EINVAL;
	*id = st.st_ino;
	return 0;
}

int cgroup_id_of_path(const char *path, uint64_t *id)
{
	/* One fd for both questions, so they are about the same directory. */
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = cgroup_id_of_fd(fd, id);
	close(fd);
	return err;
}

int cgroup_open_procs(const char *path, uint64_t id)
{
	int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, err;
	uint64_t found = 0;

	if (dir < 0)
		return -errno;
	err = cgroup_id_of_fd(dir, &found);
	if (!err && found != id)
		err = -ESTALE;
	fd = err ? -1 : openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (!err && fd < 0)
		err = -errno;
	close(dir);
	return err ? err : fd;
}

/*
 * Depth-first search below the directory open at fd (which this consumes),
 * whose path is buf[0..pos). kernfs reports the inode number in d_ino, so
 * only a match costs a stat.
 */
static int find_id(int fd, uint64_t id, char *buf, size_t len, size_t pos, int depth)
{
	struct dirent *de;
	bool too_long = false;
	DIR *d;
	int err = -ENOENT;

	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOENT;
	}
	while (err == -ENOENT && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;
		int sub;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* Keep looking elsewhere, but say why if it is not found. */
		if (pos + 1 + n + 1 > len) {
			too_long = true;
			continue;
		}
		buf[pos] = '/';
		memcpy(buf + pos + 1, de->d_name, n + 1);
		if (de->d_ino == id) {
			if (!fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
			    S_ISDIR(st.st_mode) && st.st_ino == id) {
				err = 0;
				break;
			}
		}
		if (depth >= WALK_DEPTH_MAX)
			continue;
		/* A cgroup removed under us is simply not the one. */
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			err = find_id(sub, id, buf, len, pos + 1 + n, depth + 1);
	}
	closedir(d);
	return err == -ENOENT && too_long ? -ENAMETOOLONG : err;
}

int cgroup_path_of_id(uint64_t id, char *buf, size_t len)
{
	struct stat st;
	size_t pos;
	int fd, err;

	err = cgroup2_mount_point(buf, len);
	if (err)
		return err;
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_perror("cannot open %s", buf);
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (st.st_ino == id) {
		close(fd);
		return 0;
	}
	pos = strlen(buf);
	/* "/" as the mount point: children are "/x", not "//x". */
	if (pos == 1)
		pos = 0;
	err = find_id(fd, id, buf, len, pos, 0);
	if (err)
		buf[0] = '\0';
	return err;
}

/* cgroup.procs' text (file: its name for messages) as pids; *pids malloc'd. */
static int parse_procs(const char *text, const char *file, pid_t **pids, size_t *n)
{
	const char *p;
	char *end;
	size_t count = 0, cap = 1;
	pid_t *v;

	for (p = text; *p; p++)
		cap += *p == '\n';
	v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (p = text; *p; p = end) {
		long pid;

		errno = 0;
		pid = strtol(p, &end, 10);
		if (end == p || errno || pid <= 0 || pid > INT_MAX || (*end && *end != '\n') ||
		    count == cap) {
			pr_err("%s: unexpected content\n", file);
			free(v);
			return -EIO;
		}
		v[count++] = pid;
		if (*end)
			end++;
	}
	*pids = v;
	*n = count;
	return 0;
}

int cgroup_list_procs(const char *path, pid_t **pids, size_t *n)
{
	char file[PATH_MAX], *text;
	int err;

	if (snprintf(file, sizeof(file), "%s/cgroup.procs", path) >= (int)sizeof(file))
		return -ENAMETOOLONG;
	err = read_all(file, &text, NULL);
	if (err)
		return err;
	err = parse_procs(text, file, pids, n);
	free(text);
	return err;
}

int cgroup_read_procs(int fd, pid_t **pids, size_t *n)
{
	char *text = NULL;
	size_t cap = 0, len;
	int err;

	/* cgroupfs lists the members anew when read from offset 0. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	err = read_fd_all(fd, &text, &cap, &len, READ_MAX);
	if (!err) {
		text[len] = '\0';
		err = parse_procs(text, "cgroup.procs", pids, n);
	}
	free(text);
	return err;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = strstr(path, "/.."); p; p = strstr(p + 1, "/.."))
		if (p[3] == '/' || p[3] == '\0')
			return true;
	return false;
}

int cgroup_of_pid(pid_t pid, char *buf, size_t len)
{
	char file[64], *text, *line, *end;
	const char *rel = NULL;
	int err, n;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	err = read_all(file, &text, NULL);
	if (err == -ENOENT)
		return -ESRCH;
	if (err)
		return err;
	for (line = text; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (!strncmp(line, "0::", 3)) {
			*end = '\0';
			rel = line + 3;
			break;
		}
	}
	/* A cgroup outside our cgroup namespace shows as "/../x": not reachable from our mount. */
	if (!rel || rel[0] != '/' || has_dotdot(rel)) {
		free(text);
		return -ENOENT;
	}
	err = cgroup2_mount_point(buf, len);
	if (!err) {
		size_t pos = strlen(buf);

		/* The root cgroup is the mount point itself. */
		if (!strcmp(rel, "/"))
			rel = "";
		else if (pos == 1)	/* mounted at "/" */
			pos = 0;
		n = snprintf(buf + pos, len - pos, "%s", rel);
		if (n < 0 || (size_t)n >= len - pos)
			err = -ENAMETOOLONG;
	}
	free(text);
	return err;
}
