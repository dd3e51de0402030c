// SPDX-License-Identifier: GPL-2.0-only
/* /proc parsing on fixture text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc.h"

static const char maps_text[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 fe:00 332835                     /usr/bin/prog\n"
	"55d0c0a01000-55d0c0a02000 rw-p 00001000 fe:00 332835                     /usr/bin/prog\n"
	"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n"
	"7f0000004000-7f0000005000 rw-s 00000000 00:05 12                         /dev/shm/my file (deleted)\n"
	"7f0000005000-7f0000006000 ---p 00000000 00:00 0\n"
	"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void parse_maps(void **state)
{
	struct rw_maps m = { 0 };

	assert_int_equal(proc_parse_maps(maps_text, &m), 0);
	assert_int_equal(m.n, 8);
	assert_int_equal(m.v[0].start, 0x55d0c0a00000);
	assert_int_equal(m.v[0].end, 0x55d0c0a01000);
	assert_int_equal(m.v[0].prot, PROT_READ);
	assert_string_equal(m.v[0].name, "/usr/bin/prog");
	assert_int_equal(m.v[1].offset, 0x1000);
	assert_int_equal(m.v[1].inode, 332835);
	assert_int_equal(m.v[1].dev_major, 0xfe);
	assert_true(rw_vma_private_writable(&m.v[1]));
	assert_string_equal(m.v[2].name, "[heap]");
	/* Anonymous: no name, with or without the trailing blank. */
	assert_string_equal(m.v[3].name, "");
	assert_string_equal(m.v[5].name, "");
	assert_int_equal(m.v[5].prot, 0);
	/* Spaces and "(deleted)" stay part of the name; shared is not private writable. */
	assert_string_equal(m.v[4].name, "/dev/shm/my file (deleted)");
	assert_true(m.v[4].shared);
	assert_false(rw_vma_private_writable(&m.v[4]));
	assert_string_equal(m.v[7].name, "[vsyscall]");
	proc_maps_free(&m);
}

static void find(void **state)
{
	struct rw_maps m = { 0 };

	assert_int_equal(proc_parse_maps(maps_text, &m), 0);
	assert_int_equal(proc_maps_find(&m, 0x55d0c1000000), 2);
	assert_int_equal(proc_maps_find(&m, 0x55d0c1020fff), 2);
	assert_int_equal(proc_maps_find(&m, 0x55d0c1021000), -1);
	assert_int_equal(proc_maps_find(&m, 0x7ffc00000010), 6);
	assert_int_equal(proc_maps_find(&m, 0x1000), -1);
	assert_int_equal(proc_maps_find(&m, 0xffffffffff600000), 7);
	proc_maps_free(&m);
}

static void malformed_maps(void **state)
{
	struct rw_maps m = { 0 };

	assert_int_equal(proc_parse_maps("not a maps line\n", &m), -EINVAL);
	assert_int_equal(proc_parse_maps("7f00-7e00 rw-p 0 00:00 0\n", &m), -EINVAL);
	assert_int_equal(proc_parse_maps("7f00-7f01 rw 0 00:00 0\n", &m), -EINVAL);
	assert_int_equal(proc_parse_maps("", &m), 0);
	assert_int_equal(m.n, 0);
	proc_maps_free(&m);
}

static void long_name_truncated(void **state)
{
	char text[1024];
	struct rw_maps m = { 0 };
	int n = snprintf(text, sizeof(text), "1000-2000 rw-p 0 00:00 7 /");

	for (int i = 0; i < 400; i++)
		text[n++] = 'a';
	text[n] = '\0';
	assert_int_equal(proc_parse_maps(text, &m), 0);
	assert_int_equal(strlen(m.v[0].name), sizeof(m.v[0].name) - 1);
	proc_maps_free(&m);
}

static void parse_status(void **state)
{
	static const char text[] =
		"Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\n"
		"Pid:\t4242\nPPid:\t1\nTracerPid:\t0\nUid:\t1000\t1000\t1001\t1000\n"
		"Gid:\t100\t100\t100\t100\nThreads:\t7\n";
	struct rw_proc_status st;

	assert_int_equal(proc_parse_status(text, &st), 0);
	assert_string_equal(st.name, "python3");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.tgid, 4242);
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.uid[2], 1001);
	assert_int_equal(st.gid[0], 100);
	assert_int_equal(st.threads, 7);
	assert_int_equal(proc_parse_status("Name:\tx\n", &st), -EINVAL);
}

static void live_self(void **state)
{
	struct rw_proc_status st;
	struct rw_maps m = { 0 };
	pid_t *tids = NULL;
	size_t n = 0;
	char comm[16];
	int on_stack = 0;

	assert_int_equal(proc_read_status(getpid(), &st), 0);
	assert_int_equal(st.tgid, getpid());
	assert_int_equal(proc_read_maps(getpid(), &m), 0);
	assert_true(proc_maps_find(&m, (uintptr_t)&on_stack) >= 0);
	proc_maps_free(&m);
	assert_int_equal(proc_list_threads(getpid(), &tids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tids[0], getpid());
	free(tids);
	assert_int_equal(proc_read_comm(getpid(), getpid(), comm), 0);
	assert_string_equal(comm, "test_proc");
	assert_int_equal(proc_read_maps(0x3fffffff, &m), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_maps),
		cmocka_unit_test(find),
		cmocka_unit_test(malformed_maps),
		cmocka_unit_test(long_name_truncated),
		cmocka_unit_test(parse_status),
		cmocka_unit_test(live_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
