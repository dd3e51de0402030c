// SPDX-License-Identifier: GPL-2.0-only
/*
 * Targets of the fail-closed tests (helpers, not in --list): no rewind can
 * undo what their invocation does.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <linux/futex.h>

#include "zdtm.h"

/*
 * ---- thread_exit_nocap: a checkpoint thread exits during the invocation of a
 * target without CAP_CHECKPOINT_RESTORE: the rewind cannot recreate it with its
 * tid (clone3 set_tid) and fails closed.
 */

static volatile uint32_t exit_word;
static pthread_t exit_thread;
static volatile pid_t exit_tid;

static void *exiter(void *arg)
{
	exit_tid = gettid_();
	while (!exit_word)
		futex(&exit_word, FUTEX_WAIT_PRIVATE, 0);
	return arg;
}

static void thread_exit_setup(void)
{
	if (pthread_create(&exit_thread, NULL, exiter, NULL))
		die("pthread_create");
	while (!exit_tid)
		sched_yield();
	if (wait_blocked(exit_tid, nr_futex, 1))
		die("thread never blocked");
	/* glibc's setresuid changes every thread; from uid 0 to none, all capabilities go. */
	if (setresuid(65534, 65534, 65534))
		die("setresuid");
	/* Its /proc files stay its own (the common check reads them). */
	if (prctl(PR_SET_DUMPABLE, 1))
		die("prctl(PR_SET_DUMPABLE)");
}

static void thread_exit_go(void)
{
	pid_t tid = exit_tid;

	exit_word = 1;
	futex(&exit_word, FUTEX_WAKE_PRIVATE, 1);
	pthread_join(exit_thread, NULL);
	done("%d", tid);
}

/* ---- die: the process exits during the invocation --------------------------------- */

static void die_go(void)
{
	_exit(7);
}

ZDTM_HELPER(thread_exit_nocap, thread_exit_setup, thread_exit_go, NULL);
ZDTM_HELPER(die, NULL, die_go, NULL);
