// SPDX-License-Identifier: GPL-2.0-only
/* cgroup v2 helpers: the mount point from mounts text, then ids, paths and members on the live tree. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup.h"

static const char hybrid[] =
	"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
	"tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
	"cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
	"cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
	"cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n"
	"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";

static const char unified[] =
	"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
	"cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0\n"
	"cgroup2 /run/other cgroup2 rw 0 0";	/* a second mount: the first wins; no final newline */

static const char v1_only[] =
	"tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
	"cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
	/* the name says cgroup2, the type does not */
	"cgroup2 /sys/fs/cgroup/cgroup2 cgroup rw,relatime,name=cgroup2 0 0\n";

static void parse_mount_point(void **state)
{
	char buf[PATH_MAX];

	assert_int_equal(cgroup2_parse_mount_point(hybrid, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
	assert_int_equal(cgroup2_parse_mount_point(unified, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup");
	assert_int_equal(cgroup2_parse_mount_point(v1_only, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(cgroup2_parse_mount_point("", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(cgroup2_parse_mount_point("\n\n  \nnone\n", buf, sizeof(buf)), -ENOENT);
	/* The kernel escapes spaces, tabs, newlines and backslashes in octal. */
	assert_int_equal(cgroup2_parse_mount_point("none /mnt/my\\040cg\\134x cgroup2 rw 0 0\n",
						   buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/mnt/my cg\\x");
	assert_int_equal(cgroup2_parse_mount_point(hybrid, buf, 22), -ENAMETOOLONG);
	assert_int_equal(cgroup2_parse_mount_point(hybrid, buf, 23), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
}

/* Skip (with the reason) unless cgroup2 is mounted; *mnt gets the mount point. */
static bool have_cgroup2(char *mnt, size_t len)
{
	if (cgroup2_mount_point(mnt, len)) {
		print_message("SKIP: cgroup2 is not mounted\n");
		return false;
	}
	return true;
}

static void live_tree(void **state)
{
	char mnt[PATH_MAX], buf[PATH_MAX], file[PATH_MAX + 16];
	struct stat st;
	uint64_t id;

	if (!have_cgroup2(mnt, sizeof(mnt))) {
		skip();
		return;
	}
	assert_int_equal(stat(mnt, &st), 0);
	assert_int_equal(cgroup_id_of_path(mnt, &id), 0);
	assert_true(id == st.st_ino);
	assert_int_equal(cgroup_path_of_id(id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, mnt);

	assert_int_equal(cgroup_id_of_path("/proc", &id), -EINVAL);
	assert_int_equal(cgroup_id_of_path("/nonexistent/rewindd", &id), -ENOENT);
	snprintf(file, sizeof(file), "%s/cgroup.procs", mnt);
	assert_int_equal(cgroup_id_of_path(file, &id), -ENOTDIR);
	assert_int_equal(cgroup_path_of_id(UINT64_MAX - 7, buf, sizeof(buf)), -ENOENT);

	/* Our own cgroup: under the mount, and its id maps back to it. */
	assert_int_equal(cgroup_of_pid(getpid(), buf, sizeof(buf)), 0);
	assert_true(!strncmp(buf, mnt, strlen(mnt)));
	assert_int_equal(cgroup_id_of_path(buf, &id), 0);
	assert_int_equal(cgroup_path_of_id(id, file, sizeof(file)), 0);
	assert_string_equal(file, buf);
	assert_int_equal(cgroup_of_pid(INT_MAX, buf, sizeof(buf)), -ESRCH);
	assert_int_equal(cgroup_of_pid(getpid(), buf, 4), -ENAMETOOLONG);
}

struct scratch {
	char dir[PATH_MAX];		/* the cgroup made for the test */
	char home[PATH_MAX];		/* where the child came from */
	pid_t child;
	int go;				/* the child exits when this closes */
	int procs;			/* its cgroup.procs, kept open */
};

static int move_to(const char *cgroup, pid_t pid)
{
	char file[PATH_MAX + 16], num[16];
	int fd, n, ok;

	snprintf(file, sizeof(file), "%s/cgroup.procs", cgroup);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(num, sizeof(num), "%d", pid);
	ok = write(fd, num, n) == n;
	close(fd);
	return ok ? 0 : -errno;
}

static int scratch_teardown(void **state)
{
	struct scratch *s = *state;

	if (!s)
		return 0;
	if (s->child > 0) {
		if (s->home[0])
			move_to(s->home, s->child);
		kill(s->child, SIGKILL);
		waitpid(s->child, NULL, 0);
	}
	if (s->go >= 0)
		close(s->go);
	if (s->procs >= 0)
		close(s->procs);
	if (s->dir[0] && rmdir(s->dir))
		fprintf(stderr, "cannot remove %s: %s\n", s->dir, strerror(errno));
	free(s);
	return 0;
}

static void own_cgroup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));
	char mnt[PATH_MAX], buf[PATH_MAX];
	int p[2], ready[2];
	uint64_t id, id2;
	pid_t *pids;
	size_t n;
	int procs;
	char c;

	assert_non_null(s);
	s->go = -1;
	s->procs = -1;
	*state = s;
	if (geteuid() != 0) {
		print_message("SKIP: creating a cgroup needs root\n");
		skip();
		return;
	}
	if (!have_cgroup2(mnt, sizeof(mnt))) {
		skip();
		return;
	}
	assert_true(snprintf(buf, sizeof(buf), "%s/rewindd-test-cgroup-%d", mnt, getpid()) <
		    (int)sizeof(buf));
	assert_int_equal(mkdir(buf, 0755), 0);
	strcpy(s->dir, buf);

	assert_int_equal(cgroup_id_of_path(s->dir, &id), 0);
	assert_true(id > 1);
	assert_int_equal(cgroup_path_of_id(id, buf, sizeof(buf)), 0);
	assert_string_equal(buf, s->dir);
	assert_int_equal(cgroup_list_procs(s->dir, &pids, &n), 0);
	assert_non_null(pids);
	assert_int_equal(n, 0);
	free(pids);
	/* Opened for re-reading: only as the cgroup whose id it is. */
	assert_int_equal(cgroup_open_procs(s->dir, id + 1), -ESTALE);
	procs = cgroup_open_procs(s->dir, id);
	assert_true(procs >= 0);
	s->procs = procs;
	assert_int_equal(cgroup_read_procs(procs, &pids, &n), 0);
	assert_int_equal(n, 0);
	free(pids);

	/* A child that waits for the pipe to close, moved into the cgroup. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	s->child = fork();
	assert_true(s->child >= 0);
	if (s->child == 0) {
		close(p[1]);
		close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(p[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	close(ready[1]);
	s->go = p[1];
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);

	assert_int_equal(cgroup_of_pid(s->child, s->home, sizeof(s->home)), 0);
	assert_int_equal(move_to(s->dir, s->child), 0);
	assert_int_equal(cgroup_of_pid(s->child, buf, sizeof(buf)), 0);
	assert_string_equal(buf, s->dir);
	assert_int_equal(cgroup_list_procs(s->dir, &pids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], s->child);
	free(pids);
	/* The fd read again lists the member that joined since its last read. */
	assert_int_equal(cgroup_read_procs(procs, &pids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], s->child);
	free(pids);

	/* A nested cgroup is found by id too. */
	assert_true(snprintf(buf, sizeof(buf), "%s/inner", s->dir) < (int)sizeof(buf));
	assert_int_equal(mkdir(buf, 0755), 0);
	assert_int_equal(cgroup_id_of_path(buf, &id2), 0);
	assert_true(id2 != id);
	assert_int_equal(cgroup_path_of_id(id2, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, buf);
	assert_int_equal(rmdir(buf), 0);
	assert_int_equal(cgroup_path_of_id(id2, mnt, sizeof(mnt)), -ENOENT);

	assert_int_equal(cgroup_list_procs("/nonexistent", &pids, &n), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_mount_point),
		cmocka_unit_test(live_tree),
		cmocka_unit_test_teardown(own_cgroup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
