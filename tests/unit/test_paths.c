// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "paths.h"

static void components_to_path(void **state)
{
	char out[64];

	assert_int_equal(path_from_components("c\0b\0a\0", 6, out, sizeof(out)), 6);
	assert_string_equal(out, "/a/b/c");
	assert_int_equal(path_from_components("tmp\0", 4, out, sizeof(out)), 4);
	assert_string_equal(out, "/tmp");
	/* The root: no components. */
	assert_int_equal(path_from_components("", 0, out, sizeof(out)), 1);
	assert_string_equal(out, "/");
}

static void components_too_long(void **state)
{
	char out[6];

	assert_int_equal(path_from_components("c\0b\0a\0", 6, out, sizeof(out)), -ENAMETOOLONG);
}

static void join(void **state)
{
	char out[64];

	assert_true(path_join("/tmp/x", "a", out, sizeof(out)) > 0);
	assert_string_equal(out, "/tmp/x/a");
	path_join("/tmp/x", "/etc/passwd", out, sizeof(out));
	assert_string_equal(out, "/etc/passwd");
	path_join("/tmp/x", "./b//c/", out, sizeof(out));
	assert_string_equal(out, "/tmp/x/b/c");
	path_join("/tmp/x", "../y", out, sizeof(out));
	assert_string_equal(out, "/tmp/y");
	path_join("/", "../../..", out, sizeof(out));
	assert_string_equal(out, "/");
	path_join("/a", ".", out, sizeof(out));
	assert_string_equal(out, "/a");
}

static void join_too_long(void **state)
{
	char out[8];

	assert_int_equal(path_join("/abcdef", "ghijk", out, sizeof(out)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(components_to_path),
		cmocka_unit_test(components_too_long),
		cmocka_unit_test(join),
		cmocka_unit_test(join_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
