// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process killed while rewindd holds its threads (needs root): every wait
 * must end and every thread must be reaped, so that its parent can reap it.
 * The trap: the leader's exit is reported only once its other threads are
 * released, and traced threads are released only when their tracer reaps
 * them. A wait for the leader first would block for ever (the test's alarm
 * then kills it: a hang fails the test).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "freeze.h"
#include "inject.h"

#define THREADS 3

static void *blocked(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void child_start(void)
{
	pthread_t t;

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t, NULL, blocked, NULL))
			_exit(2);
	if (write(child_reply, "r", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

/*
 * Every thread was reaped: we are its tracer and here also its parent, so
 * reaping the leader took its exit status too (rewindd is not the parent:
 * there the status goes on to the real parent). Not even a zombie is left.
 */
static void assert_process_gone(pid_t pid)
{
	char path[32];
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);

	if (r == pid)
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	else
		assert_true(r == -1 && errno == ECHILD);
	snprintf(path, sizeof(path), "/proc/%d", pid);
	assert_int_equal(access(path, F_OK), -1);
}

/* Killed while frozen, then an injection through the leader: an error, not a hang. */
static void killed_while_frozen(void **state)
{
	struct rw_frozen f = { 0 };
	struct rw_inject *leader;
	long args[6] = { 0 }, res = 0;
	int cmd, reply;
	pid_t pid;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), 0);
	assert_int_equal(f.n, THREADS + 1);
	leader = freeze_thread(&f, pid);
	assert_non_null(leader);

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_not_equal(inject_syscall(leader, SYS_getpid, args, &res), 0);
	freeze_release(&f);

	assert_process_gone(pid);
	close(cmd);
	close(reply);
}

/* Killed while frozen, nothing injected: releasing reaps, leader last. */
static void killed_then_released(void **state)
{
	struct rw_frozen f = { 0 };
	int cmd, reply;
	pid_t pid;

	(void)state;
	pid = child_spawn(child_start, &cmd, &reply);
	assert_int_equal(freeze_process(&f, pid), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	freeze_release(&f);
	assert_process_gone(pid);
	close(cmd);
	close(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(killed_while_frozen),
		cmocka_unit_test(killed_then_released),
	};

	if (geteuid() != 0) {
		printf("1..1\nok 1 # SKIP test_freeze: needs root (ptrace)\n");
		return 0;
	}
	alarm(120);	/* a hang is the failure this file looks for */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
