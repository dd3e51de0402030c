// SPDX-License-Identifier: GPL-2.0-only
/* A target's view: paths named from its namespace's top, resolved beneath its root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "nsroot.h"

struct fx {
	char dir[64];
	struct rw_nsroot r;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_nsroot.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(p, sizeof(p), "%s/a", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/a/b", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	/* Absolute and escaping links: scoped to the root, as the target would follow them. */
	snprintf(p, sizeof(p), "%s/abs", f->dir);
	assert_int_equal(symlink("/a", p), 0);
	snprintf(p, sizeof(p), "%s/up", f->dir);
	assert_int_equal(symlink("../../../a", p), 0);
	/* A root that is a chroot at /jail of its namespace. */
	f->r.fd = open(f->dir, O_PATH | O_DIRECTORY);
	assert_true(f->r.fd >= 0);
	snprintf(f->r.prefix, sizeof(f->r.prefix), "/jail");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	nsroot_close(&f->r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void same_dir(int fd, const char *dir, const char *rel)
{
	struct stat a, b;
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(p, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	close(fd);
}

static void open_in_root(void **state)
{
	struct fx *f = *state;

	same_dir(nsroot_open(&f->r, "/jail/a/b", O_PATH | O_DIRECTORY, 0), f->dir, "a/b");
	same_dir(nsroot_open(&f->r, "/jail", O_PATH | O_DIRECTORY, 0), f->dir, ".");
	same_dir(nsroot_open(&f->r, "/jail/abs", O_PATH | O_DIRECTORY, 0), f->dir, "a");
	same_dir(nsroot_open(&f->r, "/jail/up", O_PATH | O_DIRECTORY, 0), f->dir, "a");
	same_dir(nsroot_open(&f->r, "/jail/../../a", O_PATH | O_DIRECTORY, 0), f->dir, "a");
}

static void outside_the_root(void **state)
{
	struct fx *f = *state;

	assert_int_equal(nsroot_open(&f->r, "/other/a", O_PATH, 0), -EXDEV);
	assert_int_equal(nsroot_open(&f->r, "/jailbreak", O_PATH, 0), -EXDEV);
	assert_int_equal(nsroot_open(&f->r, "jail/a", O_PATH, 0), -EINVAL);
}

static void within(void **state)
{
	struct fx *f = *state;
	int a = nsroot_open(&f->r, "/jail/a", O_PATH | O_DIRECTORY, 0);
	int b = nsroot_open(&f->r, "/jail/a/b", O_PATH | O_DIRECTORY, 0);
	struct stat sa, sb;

	assert_true(a >= 0 && b >= 0);
	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_int_equal(nsroot_fd_within(b, sa.st_dev, sa.st_ino), 1);
	assert_int_equal(nsroot_fd_within(a, sa.st_dev, sa.st_ino), 1);
	assert_int_equal(nsroot_fd_within(a, sb.st_dev, sb.st_ino), 0);
	close(a);
	close(b);
}

static void own_view(void **state)
{
	struct rw_nsroot r;
	char name[4096];
	int fd;

	(void)state;
	assert_int_equal(nsroot_of_pid(getpid(), &r, NULL, 0), 0);
	assert_string_equal(r.prefix, "");
	assert_true(r.mnt_ns == nsroot_mnt_ns_of(getpid()) && r.mnt_ns);
	fd = nsroot_open(&r, "/proc/self/..", O_PATH | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	assert_int_equal(nsroot_fd_path(fd, name, sizeof(name)), 0);
	assert_string_equal(name, "/proc");
	close(fd);
	nsroot_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(open_in_root, setup, teardown),
		cmocka_unit_test_setup_teardown(outside_the_root, setup, teardown),
		cmocka_unit_test_setup_teardown(within, setup, teardown),
		cmocka_unit_test(own_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
