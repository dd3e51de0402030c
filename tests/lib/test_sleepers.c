// SPDX-License-Identifier: GPL-2.0-only
/*
 * The proof that a thread slept through (sleepers.h), against a real child:
 * a worker asleep in pause since the checkpoint's release is found,
 * the leader never is; still asleep, the check and the hold prove it; woken
 * for a job (it runs and waits again in the very same call, with the same
 * registers), the check and the hold say it ran, and it is found no more.
 * Needs root (BPF, ptrace).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "child.h"
#include "freeze.h"
#include "rewind.h"
#include "sleepers.h"
#include "tracker.h"

#define SESSION 7

static void *worker(void *arg)
{
	pid_t tid = syscall(SYS_gettid);

	if (write(child_reply, &tid, sizeof(tid)) != sizeof(tid))
		_exit(3);
	for (;;) {
		pause();	/* until SIGUSR1's handler ran */
		if (write(child_reply, "j", 1) != 1)
			_exit(3);
	}
	return arg;
}

static void on_usr1(int sig)
{
}

static void child_main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t th;
	char c;

	if (sigaction(SIGUSR1, &sa, NULL))
		_exit(2);
	if (pthread_create(&th, NULL, worker, NULL))
		_exit(2);
	while (read(child_cmd, &c, 1) == 1)
		;
	_exit(0);
}

static int on_record(void *ctx, const void *data, size_t size)
{
	return 0;
}

/*
 * Until tid sleeps in pause: /proc's syscall line alone shows a thread
 * let go but not yet run back into its call; its state says 'S' once it is.
 */
static void wait_asleep(pid_t pid, pid_t tid)
{
	char path[64], *text = NULL, *p;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	for (int i = 0; i < 1000000; i++) {
		wait_in_syscall(pid, tid, SYS_pause);
		assert_int_equal(read_whole_file(AT_FDCWD, path, 4096, &text, &len), 0);
		p = strrchr(text, ')');
		if (p && p[1] == ' ' && p[2] == 'S') {
			free(text);
			return;
		}
		free(text);
		sched_yield();
	}
	fail_msg("thread %d never went to sleep", tid);
}

struct child {
	struct rw_tracker *t;
	struct rw_iterobs *it;
	struct rw_proc_image img;
	struct rw_wp *wp;
	pid_t pid, worker;
	int cmd, reply;
};

static void start(struct child *c)
{
	struct rw_ckpt_stats cst = { 0 };
	char why[512];

	memset(c, 0, sizeof(*c));
	if (tracker_open(&c->t, NULL, on_record, NULL)) {
		printf("SKIP sleepers: the BPF tracker does not load\n");
		skip();
	}
	c->pid = child_fork(child_main, &c->cmd, &c->reply);
	assert_int_equal(io_full(c->reply, &c->worker, sizeof(c->worker), false), 0);
	/* Tracked before the checkpoint: its interrupt's syscall exit is stamped. */
	assert_int_equal(tracker_track_tgid(c->t, c->pid, SESSION), 0);
	if (iterobs_open(c->t, c->pid, &c->it)) {
		printf("SKIP sleepers: no task iterator with a pid filter (Linux 6.1)\n");
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		tracker_close(c->t);
		skip();
	}
	wait_asleep(c->pid, c->worker);
	wait_in_syscall(c->pid, c->pid, SYS_read);
	assert_int_equal(rewind_checkpoint_process(c->pid, &c->wp, &c->img, NULL, NULL, &cst, why,
						   sizeof(why)), 0);
	/* Released by the checkpoint: asleep in its call again. */
	wait_asleep(c->pid, c->worker);
}

/* One job of the worker: it runs and pauses again, in the very same call. */
static void job(struct child *c)
{
	char j;

	assert_int_equal(syscall(SYS_tgkill, c->pid, c->worker, SIGUSR1), 0);
	assert_int_equal(io_full(c->reply, &j, 1, false), 0);
	assert_int_equal(j, 'j');
	wait_asleep(c->pid, c->worker);
}

static void finish(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	image_free(&c->img);
	wp_close(c->wp);
	iterobs_close(c->it);
	tracker_close(c->t);
	close(c->cmd);
	close(c->reply);
}

/* The leader held, the worker left asleep, as rewind_stop leaves them. */
static void hold_leader(struct child *c, struct rw_frozen *f)
{
	pid_t *asleep = malloc(sizeof(*asleep));

	assert_non_null(asleep);
	assert_int_equal(freeze_threads(f, c->pid, &c->pid, 1), 0);
	asleep[0] = c->worker;
	f->asleep = asleep;
	f->nasleep = 1;
}

static void asleep_found_checked_held(void **state)
{
	struct rw_frozen f;
	struct child c;
	pid_t *found;

	(void)state;
	start(&c);
	assert_int_equal(sleepers_find(&c.img, c.it, &found), 1);
	assert_int_equal(found[0], c.worker);
	free(found);
	hold_leader(&c, &f);
	assert_int_equal(sleepers_check(&f, &c.img, c.it), 0);
	/* Held: only our interrupt's exit since its release, stopped in its call. */
	assert_int_equal(sleepers_hold(&f, &c.img, c.it), 0);
	assert_int_equal(f.nasleep, 0);
	assert_non_null(freeze_thread(&f, c.worker));
	sleepers_note_release(&c.img, &f, rw_now_ns());
	assert_int_equal(freeze_release(&f), 0);
	/* Released with its checkpoint registers: asleep again in its call, found again. */
	wait_asleep(c.pid, c.worker);
	assert_int_equal(sleepers_find(&c.img, c.it, &found), 1);
	free(found);
	finish(&c);
}

static void woken_found_out(void **state)
{
	struct rw_frozen f;
	struct child c;
	pid_t *found;

	(void)state;
	start(&c);
	/* Woken while the rewind would run: the check, then the hold, say it ran. */
	hold_leader(&c, &f);
	job(&c);
	assert_int_equal(sleepers_check(&f, &c.img, c.it), RW_SLEEPER_WOKE);
	assert_int_equal(sleepers_hold(&f, &c.img, c.it), RW_SLEEPER_WOKE);
	assert_non_null(freeze_thread(&f, c.worker));	/* held anyway */
	assert_int_equal(freeze_release(&f), 0);
	/* Not released by a rewind since it ran: not asleep since, whatever it does now. */
	wait_asleep(c.pid, c.worker);
	assert_int_equal(sleepers_find(&c.img, c.it, &found), 0);
	finish(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(asleep_found_checked_held),
		cmocka_unit_test(woken_found_out),
	};

	if (geteuid() != 0) {
		printf("1..1\nok 1 # SKIP test_sleepers: needs root (BPF, ptrace)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
