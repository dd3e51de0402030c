// SPDX-License-Identifier: GPL-2.0-only
/*
 * --verify's comparison of a process's children with its checkpoint's: a
 * child (live or zombie) that is not one of the checkpoint's is a difference
 * naming it; the checkpoint's children, and fewer of them, are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "verify.h"

static pid_t ckpt_children[] = { 120, 135 };

static struct rw_proc_image image(void)
{
	struct rw_proc_image img;

	memset(&img, 0, sizeof(img));
	img.tgid = 100;
	img.children = ckpt_children;
	img.nchildren = 2;
	return img;
}

static void same_children_no_difference(void **state)
{
	struct rw_proc_image img = image();
	struct rw_verify_result res = { 0 };
	const pid_t now[] = { 135, 120 };
	const char comm[][16] = { "worker", "helper" };

	(void)state;
	verify_children(&img, now, comm, 2, &res);
	assert_int_equal(res.differences, 0);
	/* One of the checkpoint's gone is not this check's business (the session's). */
	verify_children(&img, now, comm, 1, &res);
	assert_int_equal(res.differences, 0);
	verify_result_free(&res);
}

static void extra_child_is_a_difference(void **state)
{
	struct rw_proc_image img = image();
	struct rw_verify_result res = { 0 };
	const pid_t now[] = { 120, 4242, 135, 4243 };
	const char comm[][16] = { "helper", "python3", "worker", "sh" };

	(void)state;
	verify_children(&img, now, comm, 4, &res);
	assert_int_equal(res.differences, 2);
	assert_int_equal(res.nlisted, 2);
	assert_string_equal(res.listed[0], "pid 100: child 4242 (python3) is not in the checkpoint");
	assert_string_equal(res.listed[1], "pid 100: child 4243 (sh) is not in the checkpoint");
	verify_result_free(&res);
}

static void no_children_at_checkpoint(void **state)
{
	struct rw_proc_image img = image();
	struct rw_verify_result res = { 0 };
	const pid_t now[] = { 7 };
	const char comm[][16] = { "zdtm" };

	(void)state;
	img.children = NULL;
	img.nchildren = 0;
	verify_children(&img, now, comm, 0, &res);
	assert_int_equal(res.differences, 0);
	verify_children(&img, now, comm, 1, &res);
	assert_int_equal(res.differences, 1);
	assert_string_equal(res.listed[0], "pid 100: child 7 (zdtm) is not in the checkpoint");
	verify_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_children_no_difference),
		cmocka_unit_test(extra_child_is_a_difference),
		cmocka_unit_test(no_children_at_checkpoint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
