// SPDX-License-Identifier: GPL-2.0-only
/*
 * Out of memory in the rewind (needs root): the library's malloc, calloc
 * and realloc are linked through the wrappers below (-Wl,--wrap, see the
 * Makefile), which make one chosen allocation fail. A failure must fail
 * the rewind closed: a written page never silently drops out of the plan,
 * and a session is never left half inside a rewind.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "log.h"
#include "rewind.h"
#include "session.h"

#define PAGE		4096UL
#define PAGES		16
#define WRITTEN		3	/* the page the invocation writes */
/*
 * Below the program, its heap and libraries: the lowest region the scan
 * reports, so the first allocation of the written list is the one for it.
 */
#define REGION_ADDR	0x10000000UL

/* ---- failing allocations ------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);

static long fail_nth;		/* > 0: the fail_nth-th allocation from now fails */
static size_t fail_calloc_elem;	/* > 0: the next calloc of elements this size fails */
static bool failed;		/* the chosen allocation was reached (and failed) */

static bool fail_now(void)
{
	if (fail_nth > 0 && --fail_nth == 0) {
		failed = true;
		return true;
	}
	return false;
}

void *__wrap_malloc(size_t size)
{
	return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fail_calloc_elem && size == fail_calloc_elem) {
		fail_calloc_elem = 0;
		failed = true;
		return NULL;
	}
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return fail_now() ? NULL : __real_realloc(p, size);
}

/* ---- the child ---------------------------------------------------------------- */

static volatile char *region;	/* mapped before the fork: the same address in the child */

/* Each command byte: write the WRITTEN page, answer 'd'. */
static void child_main(void)
{
	char c;

	if (write(child_reply, "r", 1) != 1)
		_exit(2);
	while (io_full(child_cmd, &c, 1, false) == 0) {
		region[WRITTEN * PAGE + 7] = c;
		if (write(child_reply, "d", 1) != 1)
			_exit(2);
	}
	_exit(0);
}

static pid_t spawn(int *cmd, int *reply)
{
	if (!region) {
		region = mmap((void *)REGION_ADDR, PAGES * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		assert_true(region != MAP_FAILED);
		madvise((void *)region, PAGES * PAGE, MADV_NOHUGEPAGE);
		for (size_t i = 0; i < PAGES; i++)
			region[i * PAGE] = 1;	/* stored at the checkpoint: copied back */
	}
	return child_spawn(child_main, cmd, reply);
}

static void invoke(int cmd, int reply, char value)
{
	char d;

	assert_int_equal(io_full(cmd, &value, 1, true), 0);
	assert_int_equal(io_full(reply, &d, 1, false), 0);
	assert_int_equal(d, 'd');
}

static void reap_killed(pid_t pid, int cmd, int reply)
{
	int status;

	close(cmd);
	close(reply);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static bool in_ranges(const struct rw_range *r, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].start <= addr && addr < r[i].end)
			return true;
	return false;
}

/*
 * rewind_plan with each of its allocations failing in turn: it fails, or its
 * plan writes the page back. The scan does not re-arm: every round sees the write.
 */
static void plan_never_drops_a_written_page(void **state)
{
	struct rw_proc_image img = { 0 };
	struct rw_ckpt_stats cst = { 0 };
	struct rw_rewind_stats st = { 0 };
	struct rw_rewinding rw = { 0 };
	struct rw_log_facts facts = { 0 };
	struct rw_wp *wp = NULL;
	int cmd, reply, failures = 0;
	char why[512];
	uint64_t page;
	pid_t pid;
	long n;

	(void)state;
	pid = spawn(&cmd, &reply);
	page = (uint64_t)(uintptr_t)region + WRITTEN * PAGE;
	assert_int_equal(rewind_checkpoint_process(pid, &wp, &img, NULL, NULL, &cst, why,
						   sizeof(why)), 0);
	if (!wp) {
		image_free(&img);
		reap_killed(pid, cmd, reply);
		skip();
	}
	invoke(cmd, reply, 'x');
	rw.img = &img;
	assert_int_equal(rewind_stop(&rw, &st, why, sizeof(why)), 0);
	rw_log_level = -1;	/* every round logs its expected failure */
	for (n = 1;; n++) {
		int err;

		rw.wp = wp;
		failed = false;
		fail_nth = n;
		err = rewind_plan(&rw, &facts, &st, why, sizeof(why));
		fail_nth = 0;
		if (err)
			failures++;
		else if (!in_ranges(rw.plan.copy, rw.plan.ncopy, page))
			fail_msg("allocation %ld failed: rewind_plan succeeded without copying the "
				 "written page %#llx back", n, (unsigned long long)page);
		plan_free(&rw.plan);
		memset(&rw.plan, 0, sizeof(rw.plan));
		ranges_free(&rw.written);
		if (!failed) {
			assert_int_equal(err, 0);	/* every allocation went through */
			break;
		}
	}
	rw_log_level = RW_LOG_INFO;
	assert_true(failures > 0);
	rw.wp = wp;
	rewind_abandon(&rw);
	wp_close(wp);
	image_free(&img);
	reap_killed(pid, cmd, reply);
}

/* Whether PID is traced by anyone (its TracerPid). */
static bool traced(pid_t pid)
{
	char path[64], line[256];
	bool yes = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "TracerPid:", 10))
			yes = atoi(line + 10) != 0;
	fclose(f);
	return yes;
}

/*
 * rewind_stop with each of its allocations failing in turn, the image
 * vouching for a thread that is gone (so the stop holds the live one, then
 * lists): whatever a failed stop holds, rewind_abandon lets go. A thread
 * left seized would keep the process, once killed, a zombie its parent
 * cannot reap (a proxy stopping during a rewind waited for it in vain).
 */
static void failed_stop_holds_nothing(void **state)
{
	struct rw_proc_image img = { 0 };
	struct rw_ckpt_stats cst = { 0 };
	struct rw_thread_state *one, two[2];
	struct rw_wp *wp = NULL;
	int cmd, reply, failures = 0;
	char why[512];
	pid_t pid, gone;
	long n;

	(void)state;
	gone = fork();
	if (!gone)
		_exit(0);
	assert_true(gone > 0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	pid = spawn(&cmd, &reply);
	assert_int_equal(rewind_checkpoint_process(pid, &wp, &img, NULL, NULL, &cst, why,
						   sizeof(why)), 0);
	assert_int_equal(img.nthreads, 1);
	one = img.threads;
	two[0] = two[1] = one[0];
	two[pid < gone].tid = gone;	/* ascending tids */
	img.threads = two;
	img.nthreads = 2;
	rw_log_level = -1;	/* every round logs its expected failure */
	for (n = 1;; n++) {
		struct rw_rewinding rw = { .img = &img, .threads_vouched = true, .no_io_uring = true };
		struct rw_rewind_stats st = { 0 };
		int err;

		failed = false;
		fail_nth = n;
		err = rewind_stop(&rw, &st, why, sizeof(why));
		fail_nth = 0;
		if (err)
			failures++;
		else
			assert_true(traced(pid));	/* the twin: a stop holds it */
		rewind_abandon(&rw);
		if (traced(pid))
			fail_msg("allocation %ld failed (stop: %d): the process is still traced "
				 "after rewind_abandon", n, err);
		if (!failed) {
			assert_int_equal(err, 0);
			break;
		}
	}
	rw_log_level = RW_LOG_INFO;
	assert_true(failures > 1);	/* one in the vouched stop, more in the listing */
	img.threads = one;
	img.nthreads = 1;
	wp_close(wp);
	image_free(&img);
	reap_killed(pid, cmd, reply);
}

/* ---- a whole session ---------------------------------------------------------- */

/*
 * The session's target is cat(1), not a fork of this program: a sanitizer
 * build maps terabytes of shadow that a rewind would have to zero-fill.
 * Each byte echoed is an invocation (cat's buffer is written).
 */
static pid_t spawn_cat(int *cmd, int *reply)
{
	return exec_piped((char *[]){ "cat", NULL }, cmd, reply);
}

static void echo(int cmd, int reply, char value)
{
	char got;

	assert_int_equal(io_full(cmd, &value, 1, true), 0);
	assert_int_equal(io_full(reply, &got, 1, false), 0);
	assert_int_equal(got, value);
}

static struct rw_request req;	/* large (watch paths): not on the stack */

static json_object *request(struct rw_sessions *S, enum rw_cmd c, uint32_t session, pid_t pid)
{
	const struct rw_peer root = { .cred = { .pid = getpid(), .uid = 0, .gid = 0 },
				      .pidfd = -1, .passed_fd = -1 };

	memset(&req, 0, sizeof(req));
	req.cmd = c;
	req.session = session;
	req.pid = pid;
	req.verify = true;
	return sessions_handle(S, &req, &root, NULL);
}

static bool ok(json_object *resp)
{
	json_object *v;

	return json_object_object_get_ex(resp, "ok", &v) && json_object_get_boolean(v);
}

static const char *session_state(struct rw_sessions *S, uint32_t id)
{
	static char state[32];
	json_object *resp = request(S, RW_CMD_STATUS, id, 0), *arr, *v;

	state[0] = '\0';
	if (json_object_object_get_ex(resp, "sessions", &arr) &&
	    json_object_array_length(arr) == 1 &&
	    json_object_object_get_ex(json_object_array_get_idx(arr, 0), "state", &v))
		snprintf(state, sizeof(state), "%s", json_object_get_string(v));
	json_object_put(resp);
	return state;
}

/*
 * The rewind runs out of memory before it stopped anything: the process ran
 * an invocation that cannot be undone, so the session fails closed (killed,
 * failed), not left active and marked busy for ever.
 */
static void rewind_out_of_memory_fails_closed(void **state)
{
	struct rw_sessions S;
	json_object *resp, *v;
	int cmd, reply, status;
	uint32_t id;
	pid_t pid;

	(void)state;
	if (sessions_init(&S, NULL, NULL)) {
		skip();
		return;
	}
	pid = spawn_cat(&cmd, &reply);
	echo(cmd, reply, 'r');	/* cat runs (exec'd) */
	resp = request(&S, RW_CMD_ATTACH, 0, pid);
	assert_true(ok(resp));
	assert_true(json_object_object_get_ex(resp, "session", &v));
	id = json_object_get_int(v);
	json_object_put(resp);
	resp = request(&S, RW_CMD_CHECKPOINT, id, 0);
	assert_true(ok(resp));
	json_object_put(resp);

	/* The twin: a rewind that can allocate is verified and keeps the session. */
	echo(cmd, reply, 'a');
	resp = request(&S, RW_CMD_REWIND, id, 0);
	assert_true(ok(resp));
	json_object_put(resp);
	assert_string_equal(session_state(&S, id), "active");

	echo(cmd, reply, 'b');
	failed = false;
	fail_calloc_elem = sizeof(struct rw_rewinding);	/* the rewind's per-process array */
	resp = request(&S, RW_CMD_REWIND, id, 0);
	fail_calloc_elem = 0;
	assert_true(failed);
	assert_false(ok(resp));
	json_object_put(resp);
	assert_string_equal(session_state(&S, id), "failed");
	/* Killed by the rewind, not by us: reaped without a signal of ours. */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(cmd);
	close(reply);
	resp = request(&S, RW_CMD_DETACH, id, 0);
	json_object_put(resp);
	sessions_fini(&S);
}

/*
 * The checkpoint with each of its allocations failing in turn: it fails
 * cleanly (the session holds no checkpoint, the process runs on, not
 * traced), until one succeeds; that checkpoint is whole: a rewind to it
 * verifies. No partial image is ever used.
 */
static void checkpoint_out_of_memory_holds_nothing(void **state)
{
	struct rw_sessions S;
	json_object *resp, *v;
	int cmd, reply, refused = 0;
	uint32_t id;
	pid_t pid;
	long n;

	(void)state;
	if (sessions_init(&S, NULL, NULL)) {
		skip();
		return;
	}
	pid = spawn_cat(&cmd, &reply);
	echo(cmd, reply, 'r');
	resp = request(&S, RW_CMD_ATTACH, 0, pid);
	assert_true(ok(resp));
	assert_true(json_object_object_get_ex(resp, "session", &v));
	id = json_object_get_int(v);
	json_object_put(resp);
	rw_log_level = -1;	/* every round logs its expected failure */
	for (n = 1;; n++) {
		bool stood;

		failed = false;
		fail_nth = n;
		resp = request(&S, RW_CMD_CHECKPOINT, id, 0);
		fail_nth = 0;
		stood = ok(resp);
		json_object_put(resp);
		if (!stood) {
			assert_true(failed);
			refused++;
			if (traced(pid))
				fail_msg("allocation %ld failed: the process is still traced", n);
			assert_string_equal(session_state(&S, id), "active");
			echo(cmd, reply, 'x');	/* it runs on */
			continue;
		}
		/*
		 * It stood (every allocation, or one it could do without): it is
		 * whole. Written after it, rewound to it, verified.
		 */
		echo(cmd, reply, 'a');
		resp = request(&S, RW_CMD_REWIND, id, 0);
		if (!ok(resp))
			fail_msg("allocation %ld failed and the checkpoint stood: its rewind failed: %s",
				 n, json_object_to_json_string(resp));
		json_object_put(resp);
		if (!failed)
			break;
	}
	rw_log_level = RW_LOG_INFO;
	assert_true(refused > 0);	/* the twin: most allocations are needed */
	resp = request(&S, RW_CMD_DETACH, id, 0);
	json_object_put(resp);
	sessions_fini(&S);
	reap_killed(pid, cmd, reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plan_never_drops_a_written_page),
		cmocka_unit_test(rewind_out_of_memory_fails_closed),
		cmocka_unit_test(failed_stop_holds_nothing),
		cmocka_unit_test(checkpoint_out_of_memory_holds_nothing),
	};

	alarm(120);	/* a hang fails the test */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
