// SPDX-License-Identifier: GPL-2.0-only
/* fd objects: fdinfo parsing and the restore steps a comparison gives (fdobj.c, pure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fdobj.h"

static void parse(enum rw_fdobj_kind kind, const char *text, struct rw_fdobj *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->fd = 5;
	assert_int_equal(fdobj_parse_fdinfo(text, o), 0);
}

static void kinds(void **state)
{
	(void)state;
	assert_int_equal(fdobj_kind_of("pipe:[123]", false), RW_FDOBJ_PIPE);
	assert_int_equal(fdobj_kind_of("socket:[9]", false), RW_FDOBJ_SOCKET);
	assert_int_equal(fdobj_kind_of("anon_inode:[eventfd]", false), RW_FDOBJ_EVENTFD);
	assert_int_equal(fdobj_kind_of("anon_inode:[timerfd]", false), RW_FDOBJ_TIMERFD);
	assert_int_equal(fdobj_kind_of("anon_inode:inotify", false), RW_FDOBJ_INOTIFY);
	assert_int_equal(fdobj_kind_of("anon_inode:[eventpoll]", false), RW_FDOBJ_EPOLL);
	assert_int_equal(fdobj_kind_of("/tmp/x", true), RW_FDOBJ_LOCKS);
	assert_int_equal(fdobj_kind_of("/dev/null", false), 0);
}

static void eventfd_set(void **state)
{
	struct rw_fdobj want, now;
	struct rw_fdobj_plan p = { 0 };

	(void)state;
	parse(RW_FDOBJ_EVENTFD, "pos:\t0\neventfd-count:                7\neventfd-semaphore: 1\n",
	      &want);
	assert_true(want.count == 7 && want.semaphore);
	parse(RW_FDOBJ_EVENTFD, "eventfd-count:              5ec\neventfd-semaphore: 1\n", &now);
	assert_true(now.count == 0x5ec);
	assert_int_equal(fdobj_plan(&want, &want, &p), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(fdobj_plan(&want, &now, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.steps[0].kind, RW_FDSTEP_EVENTFD);
	fdobj_plan_free(&p);
}

static void timerfd_rearm(void **state)
{
	struct rw_fdobj off, on, other;
	struct rw_fdobj_plan p = { 0 };

	(void)state;
	parse(RW_FDOBJ_TIMERFD, "clockid: 1\nticks: 0\nsettime flags: 00\nit_value: (0, 0)\n"
	      "it_interval: (0, 0)\n", &off);
	parse(RW_FDOBJ_TIMERFD, "clockid: 1\nticks: 2\nsettime flags: 01\nit_value: (99, 999368841)\n"
	      "it_interval: (2, 0)\n", &on);
	assert_true(on.timer.ticks == 2 && on.timer.flags == 1 && on.timer.value.tv_sec == 99 &&
		    on.timer.value.tv_nsec == 999368841 && on.timer.interval.tv_sec == 2);
	/* Disarmed and still so: nothing. Armed: re-armed at every rewind. */
	assert_int_equal(fdobj_plan(&off, &off, &p), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(fdobj_plan(&on, &on, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.steps[0].kind, RW_FDSTEP_TIMERFD);
	fdobj_plan_free(&p);
	/* Another clock cannot be set back: a failure naming the fd. */
	parse(RW_FDOBJ_TIMERFD, "clockid: 0\n", &other);
	assert_int_equal(fdobj_plan(&off, &other, &p), 0);
	assert_int_equal(p.nfailures, 1);
	assert_non_null(strstr(p.failures[0], "fd 5: timerfd"));
	fdobj_plan_free(&p);
}

static void inotify_watches(void **state)
{
	struct rw_fdobj want, added, removed;
	struct rw_fdobj_plan p = { 0 };
	const char *w1 = "inotify wd:1 ino:3c51a sdev:fe00000 mask:300 ignored_mask:0 "
			 "fhandle-bytes:8 fhandle-type:1 f_handle:1ac5030000000000\n";
	char both[512];

	(void)state;
	snprintf(both, sizeof(both), "%sinotify wd:2 ino:2 sdev:fe00000 mask:1 ignored_mask:0 "
		 "fhandle-bytes:8 fhandle-type:1 f_handle:0200000000000000\n", w1);
	parse(RW_FDOBJ_INOTIFY, w1, &want);
	assert_int_equal(want.nwatches, 1);
	assert_int_equal(want.watches[0].mask, 0x300);
	parse(RW_FDOBJ_INOTIFY, both, &added);
	added.queued = 32;
	assert_int_equal(fdobj_plan(&want, &added, &p), 0);
	assert_int_equal(p.nfailures, 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.steps[0].kind, RW_FDSTEP_INOTIFY_RM);
	assert_int_equal(p.steps[0].wd, 2);
	assert_int_equal(p.steps[1].kind, RW_FDSTEP_INOTIFY_DRAIN);
	fdobj_plan_free(&p);
	/* Removed: it would come back with another number. */
	parse(RW_FDOBJ_INOTIFY, "", &removed);
	assert_int_equal(fdobj_plan(&want, &removed, &p), 0);
	assert_int_equal(p.nfailures, 1);
	assert_non_null(strstr(p.failures[0], "inotify watch 1"));
	fdobj_plan_free(&p);
	/* Events queued at the checkpoint cannot be put back. */
	want.queued = 16;
	assert_int_equal(fdobj_plan(&want, &added, &p), 0);
	assert_int_equal(p.nfailures, 1);
	fdobj_plan_free(&p);
	fdobj_free(&want);
	fdobj_free(&added);
	fdobj_free(&removed);
}

static void epoll_items(void **state)
{
	struct rw_fdobj want, now;
	struct rw_fdobj_plan p = { 0 };

	(void)state;
	parse(RW_FDOBJ_EPOLL, "tfd:        3 events:       19 data:     1111  pos:0 ino:40e sdev:10\n"
	      "tfd:        4 events:       19 data:     2222  pos:0 ino:40e sdev:10\n", &want);
	assert_int_equal(want.nitems, 2);
	assert_true(want.items[0].data == 0x1111 && want.items[0].events == 0x19);
	parse(RW_FDOBJ_EPOLL, "tfd:        3 events:        4 data:      5ec  pos:0 ino:40e sdev:10\n"
	      "tfd:        9 events:        4 data:      5ec  pos:0 ino:40e sdev:10\n", &now);
	assert_int_equal(fdobj_plan(&want, &now, &p), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.steps[0].kind, RW_FDSTEP_EPOLL_MOD);
	assert_int_equal(p.steps[0].item.tfd, 3);
	assert_true(p.steps[0].item.data == 0x1111);
	assert_int_equal(p.steps[1].kind, RW_FDSTEP_EPOLL_DEL);
	assert_int_equal(p.steps[1].item.tfd, 9);
	assert_int_equal(p.steps[2].kind, RW_FDSTEP_EPOLL_ADD);
	assert_int_equal(p.steps[2].item.tfd, 4);
	fdobj_plan_free(&p);
	fdobj_free(&want);
	fdobj_free(&now);
}

static void locks(void **state)
{
	struct rw_fdobj want, now;
	struct rw_fdobj_plan p = { 0 };

	(void)state;
	parse(RW_FDOBJ_LOCKS, "lock:\t1: FLOCK  ADVISORY  READ 536 fe:00:10953477 0 EOF\n", &want);
	assert_int_equal(want.nlocks, 1);
	assert_true(want.locks[0].type == RW_LOCK_FLOCK && !want.locks[0].write &&
		    want.locks[0].end == UINT64_MAX);
	parse(RW_FDOBJ_LOCKS, "lock:\t1: POSIX  ADVISORY  WRITE 536 fe:00:10953492 5 14\n"
	      "lock:\t2: OFDLCK ADVISORY  WRITE -1 fe:00:10953538 0 EOF\n", &now);
	assert_int_equal(now.nlocks, 2);
	assert_true(now.locks[0].type == RW_LOCK_POSIX && now.locks[0].start == 5 &&
		    now.locks[0].end == 14);
	assert_int_equal(fdobj_plan(&want, &now, &p), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.steps[0].kind, RW_FDSTEP_UNLOCK);
	assert_int_equal(p.steps[1].kind, RW_FDSTEP_UNLOCK);
	assert_int_equal(p.steps[1].lock.type, RW_LOCK_OFD);
	assert_int_equal(p.steps[2].kind, RW_FDSTEP_LOCK);
	assert_int_equal(p.steps[2].lock.type, RW_LOCK_FLOCK);
	fdobj_plan_free(&p);
	fdobj_free(&want);
	fdobj_free(&now);
}

static void queues(void **state)
{
	struct rw_fdobj want = { .fd = 3, .kind = RW_FDOBJ_PIPE, .internal = true, .pipe_size = 8192 };
	struct rw_fdobj now = want, outside = want;
	struct rw_fdobj_plan p = { 0 };
	uint8_t abc[] = "abc", more[] = "abcSECRET";
	char *lines[4];

	(void)state;
	want.data = abc;
	want.len = 3;
	now.data = more;
	now.len = 9;
	assert_int_equal(fdobj_plan(&want, &want, &p), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(fdobj_plan(&want, &now, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.steps[0].kind, RW_FDSTEP_REFILL);
	fdobj_plan_free(&p);
	assert_int_equal(fdobj_compare(&want, &now, lines, 4), 1);
	assert_non_null(strstr(lines[0], "fd 3: pipe: 9 bytes queued"));
	free(lines[0]);
	/* A pipe with an end outside the session is left alone. */
	outside.internal = false;
	assert_int_equal(fdobj_plan(&outside, &now, &p), 0);
	assert_int_equal(p.n + p.nfailures, 0);
	/* File descriptors in flight: a changed queue fails. */
	want.kind = now.kind = RW_FDOBJ_SOCKET;
	want.rights = true;
	assert_int_equal(fdobj_plan(&want, &now, &p), 0);
	assert_int_equal(p.nfailures, 1);
	assert_non_null(strstr(p.failures[0], "SCM_RIGHTS"));
	fdobj_plan_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kinds), cmocka_unit_test(eventfd_set),
		cmocka_unit_test(timerfd_rearm), cmocka_unit_test(inotify_watches),
		cmocka_unit_test(epoll_items), cmocka_unit_test(locks), cmocka_unit_test(queues),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
