// SPDX-License-Identifier: GPL-2.0-only
/*
 * Syscall injection and async write protection against real child
 * processes. The child obeys one-byte commands on a pipe and answers on
 * another: no sleeps anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "inject.h"
#include "proc.h"
#include "wp.h"

#define PAGE 4096UL
#define REGION_PAGES 64

struct child {
	pid_t pid;
	int cmd, reply;		/* our ends */
	char *region;		/* same address in the child (mapped before fork) */
};

static void child_loop(int cmd, int reply, char *region)
{
	char c;

	while (read(cmd, &c, 1) == 1) {
		uint64_t answer = 0;

		switch (c) {
		case 'a':	/* 37 distinct pages, some twice */
			for (int i = 0; i < 37; i++)
				region[((i * 7) % REGION_PAGES) * PAGE] = 1;
			for (int i = 0; i < 10; i++)
				region[((i * 7) % REGION_PAGES) * PAGE + 1] = 2;
			break;
		case 'b':	/* 5 pages */
			for (int i = 0; i < 5; i++)
				region[(60 + i % 4) * PAGE + i] = 3;
			break;
		case 'k': {	/* the kernel writes page 50 through read(2) */
			int p[2];

			if (pipe(p) || write(p[1], "abc", 3) != 3 || read(p[0], region + 50 * PAGE, 3) != 3)
				_exit(3);
			close(p[0]);
			close(p[1]);
			break;
		}
		case 'm': {	/* a new mapping, written */
			char *n = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			n[0] = 1;
			answer = (uintptr_t)n;
			break;
		}
		case 'r': {	/* read a line from the cmd pipe while blocked, echo it */
			char buf[8] = { 0 };

			if (write(reply, &answer, sizeof(answer)) != sizeof(answer))
				_exit(3);
			if (read(cmd, buf, 5) != 5)
				_exit(4);
			memcpy(&answer, buf, 5);
			break;
		}
		}
		if (write(reply, &answer, sizeof(answer)) != sizeof(answer))
			_exit(3);
	}
	_exit(0);
}

static void start_child(struct child *c)
{
	int to[2], from[2];

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	c->region = mmap(NULL, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(c->region, MAP_FAILED);
	madvise(c->region, REGION_PAGES * PAGE, MADV_NOHUGEPAGE);
	memset(c->region, 0, REGION_PAGES * PAGE);	/* pre-faulted */
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(to[1]);
		close(from[0]);
		child_loop(to[0], from[1], c->region);
	}
	close(to[0]);
	close(from[1]);
	c->cmd = to[1];
	c->reply = from[0];
}

static uint64_t command(struct child *c, char cmd)
{
	uint64_t answer;

	assert_int_equal(write(c->cmd, &cmd, 1), 1);
	assert_int_equal(read(c->reply, &answer, sizeof(answer)), sizeof(answer));
	return answer;
}

static void stop_child(struct child *c)
{
	int status;

	close(c->cmd);
	close(c->reply);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	munmap(c->region, REGION_PAGES * PAGE);
}

struct pages {
	uint64_t p[REGION_PAGES * 4];
	size_t n;
};

/* Collect written pages inside the test region only. */
static char *g_region;
static void collect(void *ctx, uint64_t start, uint64_t end)
{
	struct pages *ps = ctx;

	for (uint64_t a = start; a < end; a += PAGE)
		if (a >= (uintptr_t)g_region && a < (uintptr_t)g_region + REGION_PAGES * PAGE &&
		    ps->n < REGION_PAGES * 4)
			ps->p[ps->n++] = a;
}

static size_t scan_region(struct rw_wp *wp, struct pages *ps)
{
	ps->n = 0;
	assert_true(wp_scan(wp, true, collect, ps) >= 0);
	return ps->n;
}

static struct rw_wp *arm_child(struct child *c)
{
	struct rw_maps maps = { 0 };
	struct rw_wp *wp = NULL;

	assert_int_equal(wp_open(&wp, c->pid), 0);
	assert_int_equal(proc_read_maps(c->pid, &maps), 0);
	assert_true(wp_sync(wp, &maps) > 0);
	proc_maps_free(&maps);
	return wp;
}

static void exact_pages(void **state)
{
	struct child c;
	struct pages ps;
	struct rw_wp *wp;

	start_child(&c);
	g_region = c.region;
	wp = arm_child(&c);
	assert_true(wp_covers(wp, (uintptr_t)c.region));
	scan_region(wp, &ps);	/* whatever happened before arming */
	command(&c, 'a');
	assert_int_equal(scan_region(wp, &ps), 37);
	for (size_t i = 0; i < ps.n; i++) {
		size_t page = (ps.p[i] - (uintptr_t)c.region) / PAGE;
		bool expected = false;

		for (int j = 0; j < 37; j++)
			expected |= (size_t)((j * 7) % REGION_PAGES) == page;
		assert_true(expected);
	}
	/* Re-armed by the scan: a second round sees only its own pages. */
	command(&c, 'b');
	assert_int_equal(scan_region(wp, &ps), 4);
	/* Nothing written: nothing reported. */
	assert_int_equal(scan_region(wp, &ps), 0);
	/* A kernel-mode write counts. */
	command(&c, 'k');
	assert_int_equal(scan_region(wp, &ps), 1);
	assert_int_equal(ps.p[0], (uintptr_t)c.region + 50 * PAGE);
	wp_close(wp);
	stop_child(&c);
}

static void new_mapping_armed_at_next_sync(void **state)
{
	struct rw_maps maps = { 0 };
	struct child c;
	struct rw_wp *wp;
	uint64_t n;

	start_child(&c);
	g_region = c.region;
	wp = arm_child(&c);
	n = command(&c, 'm');
	assert_false(wp_covers(wp, n));
	assert_int_equal(proc_read_maps(c.pid, &maps), 0);
	assert_true(wp_sync(wp, &maps) >= 1);
	assert_true(wp_covers(wp, n));
	proc_maps_free(&maps);
	wp_close(wp);
	stop_child(&c);
}

/* Coverage follows the kernel: a region replaced by a fresh mapping is no longer armed. */
static void refresh_sees_lost_registration(void **state)
{
	struct rw_maps maps = { 0 };
	struct child c;
	struct rw_wp *wp;
	struct rw_inject ij;
	long args[6] = { 0 }, ret;

	start_child(&c);
	g_region = c.region;
	wp = arm_child(&c);
	/* mmap(MAP_FIXED) over the region, injected: a new, unregistered vma. */
	assert_int_equal(inject_seize(&ij, c.pid), 0);
	args[0] = (long)c.region;
	args[1] = REGION_PAGES * PAGE;
	args[2] = PROT_READ | PROT_WRITE;
	args[3] = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	args[4] = -1;
	assert_int_equal(inject_syscall(&ij, SYS_mmap, args, &ret), 0);
	assert_int_equal(ret, (long)c.region);
	assert_int_equal(inject_release(&ij), 0);
	assert_true(wp_covers(wp, (uintptr_t)c.region));	/* stale until refreshed */
	assert_int_equal(proc_read_maps(c.pid, &maps), 0);
	assert_int_equal(wp_refresh(wp, &maps), 0);
	assert_false(wp_covers(wp, (uintptr_t)c.region));
	assert_true(wp_sync(wp, &maps) >= 1);
	assert_true(wp_covers(wp, (uintptr_t)c.region));
	proc_maps_free(&maps);
	wp_close(wp);
	stop_child(&c);
}

/* Wait until the child sits in read(2): /proc/PID/syscall starts with "0 ". */
static void wait_in_read(pid_t pid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	for (;;) {
		FILE *f = fopen(path, "r");

		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		if (!strncmp(buf, "0 ", 2))
			return;
		sched_yield();
	}
}

/* A thread blocked in read(2) when seized resumes its read untouched. */
static void inject_into_blocked_read(void **state)
{
	struct rw_inject ij;
	long args[6] = { 0 }, ret;
	struct child c;
	uint64_t first, answer = 0;
	char cmd = 'r';

	start_child(&c);
	assert_int_equal(write(c.cmd, &cmd, 1), 1);
	assert_int_equal(read(c.reply, &first, sizeof(first)), sizeof(first));
	wait_in_read(c.pid);
	assert_int_equal(inject_seize(&ij, c.pid), 0);
	assert_int_equal(inject_syscall(&ij, SYS_getpid, args, &ret), 0);
	assert_int_equal(ret, c.pid);
	assert_int_equal(inject_syscall(&ij, SYS_getppid, args, &ret), 0);
	assert_int_equal(ret, getpid());
	assert_int_equal(inject_release(&ij), 0);
	assert_int_equal(write(c.cmd, "hello", 5), 5);
	assert_int_equal(read(c.reply, &answer, sizeof(answer)), sizeof(answer));
	assert_memory_equal(&answer, "hello", 5);
	stop_child(&c);
}

static void dead_target(void **state)
{
	struct rw_wp *wp = NULL;
	struct rw_inject ij;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(wp_open(&wp, pid), -ESRCH);
	assert_null(wp);
	assert_int_equal(inject_seize(&ij, pid), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_pages),
		cmocka_unit_test(new_mapping_armed_at_next_sync),
		cmocka_unit_test(refresh_sees_lost_registration),
		cmocka_unit_test(inject_into_blocked_read),
		cmocka_unit_test(dead_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
