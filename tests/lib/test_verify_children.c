// SPDX-License-Identifier: GPL-2.0-only
/*
 * --verify and the children an invocation forked (needs root): the zdtm
 * fork_child scenario forks one in its invocation. The test rewinds it
 * without killing that child first (what a rewind that missed it would
 * leave): verification names the child, live and then as a zombie. Once
 * rewind_kill has killed and reaped it, the same process verifies clean and
 * its own check passes.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "clock.h"
#include "invocation.h"
#include "log.h"
#include "pidfd.h"
#include "rewind.h"

static char zdtm[PATH_MAX + 16];	/* $(OUTPUT)/tests/zdtm/zdtm, next to our directory */

/* One line from the target (its replies are short); NUL-terminated, newline stripped. */
static void read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		assert_true(n + 1 < size);
		assert_int_equal(io_full(fd, &buf[n], 1, false), 0);
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
}

static pid_t spawn_zdtm(const char *scenario, int *cmd, int *reply)
{
	char line[256];
	pid_t pid = exec_piped((char *[]){ (char *)zdtm, (char *)scenario, NULL }, cmd, reply);

	read_line(*reply, line, sizeof(line));
	assert_true(!strncmp(line, "ready ", 6));
	return pid;
}

static void say_to(int cmd, const char *what)
{
	assert_int_equal(io_full(cmd, (void *)what, strlen(what), true), 0);
}

/* Rewind the stopped process as a log without records has it: fork_child maps nothing. */
static void restore(struct rw_rewinding *rw, struct rw_rewind_stats *st)
{
	struct rw_invocation *inv = invocation_new(1, rw_now_ns());
	struct rw_log_facts facts = { 0 };
	char why[512];

	assert_non_null(inv);
	assert_int_equal(observe_log_facts(inv, rw->img->tgid, false, &facts), 0);
	if (rewind_plan(rw, &facts, st, why, sizeof(why)))
		fail_msg("plan: %s", why);
	observe_log_facts_free(&facts);
	invocation_free(inv);
	if (rewind_apply(rw, st, why, sizeof(why)))
		fail_msg("apply: %s", why);
}

/* Verify; the number of differences, every one of them about child `child`. */
static uint64_t verify_naming(struct rw_rewinding *rw, struct rw_rewind_stats *st, pid_t child)
{
	struct rw_verify_result vr = { 0 };
	char want[96];
	uint64_t n;

	assert_int_equal(rewind_verify(rw, &vr, st), 0);
	snprintf(want, sizeof(want), "pid %d: child %d (zdtm) is not in the checkpoint",
		 rw->img->tgid, child);
	for (size_t i = 0; i < vr.nlisted; i++)
		if (strcmp(vr.listed[i], want))
			fail_msg("verification found '%s' (want only '%s')", vr.listed[i], want);
	n = vr.differences;
	verify_result_free(&vr);
	return n;
}

static void leftover_child_fails_verification(void **state)
{
	struct rw_proc_image img = { 0 };
	struct rw_ckpt_stats cst = { 0 };
	struct rw_rewind_stats st = { 0 };
	struct rw_rewinding rw = { 0 };
	struct rw_wp *wp = NULL;
	int cmd, reply, status, pidfd;
	struct pollfd pfd;
	char line[256], why[512];
	pid_t pid, child;

	(void)state;
	pid = spawn_zdtm("fork_child", &cmd, &reply);
	if (rewind_checkpoint_process(pid, &wp, &img, NULL, NULL, &cst, why, sizeof(why)))
		fail_msg("checkpoint: %s", why);
	assert_int_equal(img.nchildren, 0);
	say_to(cmd, "go\n");
	read_line(reply, line, sizeof(line));
	assert_int_equal(sscanf(line, "done %d", &child), 1);
	pidfd = sys_pidfd_open(child, 0);
	assert_true(pidfd >= 0);

	rw.img = &img;
	rw.wp = wp;
	rw.hot = NULL;
	assert_int_equal(rewind_stop(&rw, &st, why, sizeof(why)), 0);
	restore(&rw, &st);
	/* Left running: the one difference is the child. */
	assert_int_equal(verify_naming(&rw, &st, child), 1);
	/* Left a zombie (its parent is stopped: nobody reaps it): still there. */
	assert_int_equal(kill(child, SIGKILL), 0);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(verify_naming(&rw, &st, child), 1);
	/* What the session does: kill and reap it in its parent. Then nothing differs. */
	if (rewind_kill(&child, 1, &rw, 1, why, sizeof(why)))
		fail_msg("rewind_kill: %s", why);
	assert_int_equal(verify_naming(&rw, &st, child), 0);
	assert_int_equal(rewind_resume(&rw, &st), 0);
	rewind_done(&rw);

	say_to(cmd, "check\n");
	read_line(reply, line, sizeof(line));
	assert_string_equal(line, "pass");
	say_to(cmd, "exit\n");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(pidfd);
	close(cmd);
	close(reply);
	wp_close(wp);
	image_free(&img);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leftover_child_fails_verification),
	};
	char self[PATH_MAX];
	ssize_t n;

	(void)argc;
	(void)argv;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(zdtm, sizeof(zdtm), "%s/../zdtm/zdtm", self);
	if (access(zdtm, X_OK)) {
		printf("SKIP test_verify_children: %s is not built (make %s)\n", zdtm, zdtm);
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
