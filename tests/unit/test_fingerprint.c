// SPDX-License-Identifier: GPL-2.0-only
/* What report mode says changed in a process's state: one named difference per change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "classes.h"
#include "fingerprint.h"

struct said {
	char lines[16][300];
	int n;
};

static void collect(void *ctx, const char *class, const char *what)
{
	struct said *s = ctx;

	assert_true(s->n < 16);
	/* A report names classes as the contract does. */
	assert_non_null(rw_state_class_find(class));
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s: %s", class, what);
}

static void base(struct rw_fingerprint *fp, struct rw_fp_fd *fds, struct rw_fp_thread *th,
		 struct rw_thread_attrs *ta)
{
	memset(fp, 0, sizeof(*fp));
	fp->tgid = 100;
	fp->status.umask = 022;
	fp->cwd_dev = 8;
	fp->cwd_ino = 2;
	fds[0] = (struct rw_fp_fd){ .fd = 0, .target = "/dev/null", .pos = 0 };
	fds[1] = (struct rw_fp_fd){ .fd = 3, .target = "/tmp/x", .pos = 10, .flags = 02 };
	fp->fds = fds;
	fp->nfds = 2;
	th[0] = (struct rw_fp_thread){ .tid = 100, .comm = "fn" };
	fp->threads = th;
	fp->nthreads = 1;
	ta[0] = (struct rw_thread_attrs){ .tid = 100, .nice = 0 };
	fp->attrs.threads = ta;
	fp->attrs.nthreads = 1;
	for (int r = 0; r < RW_NRLIMITS; r++)
		fp->attrs.rlim[r] = (struct rlimit){ 1024, 4096 };
}

static void unchanged(void **state)
{
	struct rw_fingerprint a, b;
	struct rw_fp_fd fa[2], fb[2];
	struct rw_fp_thread ta[1], tb[1];
	struct rw_thread_attrs aa[1], ab[1];
	struct said s = { 0 };

	(void)state;
	base(&a, fa, ta, aa);
	base(&b, fb, tb, ab);
	fingerprint_diff(&a, &b, collect, &s);
	assert_int_equal(s.n, 0);
}

static void each_class_named(void **state)
{
	struct rw_fingerprint a, b;
	struct rw_fp_fd fa[2], fb[2];
	struct rw_fp_thread ta[1], tb[2];
	struct rw_thread_attrs aa[1], ab[2];
	struct said s = { 0 };

	(void)state;
	base(&a, fa, ta, aa);
	base(&b, fb, tb, ab);
	b.status.umask = 077;
	b.fds[1].fd = 4;			/* 3 closed, 4 opened */
	b.attrs.rlim[RLIMIT_NOFILE].rlim_cur = 64;
	tb[0].sig_pending = 1ULL << (12 - 1);
	tb[1] = (struct rw_fp_thread){ .tid = 101, .comm = "worker" };
	ab[0].nice = 10;
	ab[1] = (struct rw_thread_attrs){ .tid = 101 };
	b.nthreads = b.attrs.nthreads = 2;
	b.personality = 0x0400000;
	a.cgroups = "1:cpu:/\n0::/fn\n";
	b.cgroups = "1:cpu:/\n0::/elsewhere\n";
	fingerprint_diff(&a, &b, collect, &s);
	assert_int_equal(s.n, 9);
	assert_string_equal(s.lines[1], "personality: 0x400000, was 0");
	assert_string_equal(s.lines[2], "cgroup: moved (0::/elsewhere, was 0::/fn)");
	memmove(s.lines[1], s.lines[3], sizeof(s.lines[0]) * 6);
	assert_string_equal(s.lines[0], "cwd_umask: umask 0077, was 0022");
	assert_non_null(strstr(s.lines[1], "rlimits: RLIMIT_NOFILE 64/4096"));
	assert_string_equal(s.lines[2], "fds: fd 4 opened (/tmp/x)");
	assert_string_equal(s.lines[3], "fds: fd 3 closed (was /tmp/x)");
	assert_string_equal(s.lines[4], "pending_signals: thread 100: pending 0x800, was 0");
	assert_non_null(strstr(s.lines[5], "thread_attrs: "));
	assert_non_null(strstr(s.lines[5], "nice 10"));
	assert_string_equal(s.lines[6], "threads: thread 101 (worker) created");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unchanged),
		cmocka_unit_test(each_class_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
