/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Plumbing for library tests that drive a real child process over pipes:
 * whole-buffer pipe I/O and "is that thread blocked in syscall nr yet",
 * read from /proc/PID/task/TID/syscall instead of sleeping. Include after
 * <cmocka.h>.
 */
#ifndef RW_TEST_CHILD_H
#define RW_TEST_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include "fileio.h"
#include "proc.h"

/* All of len bytes through fd (write if wr, else read); -1 on EOF or error. */
static inline int io_full(int fd, void *buf, size_t len, bool wr)
{
	char *p = buf;

	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* A command pipe c and a reply pipe r (close-on-exec), then fork. */
static inline pid_t fork_piped(int c[2], int r[2])
{
	pid_t pid;

	assert_int_equal(pipe2(c, O_CLOEXEC), 0);
	assert_int_equal(pipe2(r, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	return pid;
}

/*
 * Run argv (looked up in PATH) with its stdin fed from *cmd and its stdout
 * read from *reply, our ends. Its pid.
 */
static inline pid_t exec_piped(char *const argv[], int *cmd, int *reply)
{
	int c[2], r[2];
	pid_t pid = fork_piped(c, r);

	if (pid == 0) {
		if (dup2(c[0], 0) < 0 || dup2(r[1], 1) < 0)
			_exit(2);
		execvp(argv[0], argv);
		_exit(2);
	}
	close(c[0]);
	close(r[1]);
	*cmd = c[1];
	*reply = r[0];
	return pid;
}

/* In the child: its ends of the command and reply pipes. */
static int child_cmd __attribute__((unused)), child_reply __attribute__((unused));

/*
 * Fork a child that runs child_main() (never returns) with a command pipe
 * (child_cmd) and a reply pipe (child_reply). Our ends in *cmd and *reply;
 * the child's pid is returned.
 */
static inline pid_t child_fork(void (*child_main)(void), int *cmd, int *reply)
{
	int c[2], r[2];
	pid_t pid = fork_piped(c, r);

	if (pid == 0) {
		close(c[1]);
		close(r[0]);
		child_cmd = c[0];
		child_reply = r[1];
		child_main();
		_exit(1);
	}
	close(c[0]);
	close(r[1]);
	*cmd = c[1];
	*reply = r[0];
	return pid;
}

/* child_fork, then wait for the child's one "ready" byte. */
static inline pid_t child_spawn(void (*child_main)(void), int *cmd, int *reply)
{
	pid_t pid = child_fork(child_main, cmd, reply);
	char ready;

	assert_int_equal(io_full(*reply, &ready, 1, false), 0);
	return pid;
}

/* Yield until thread tid of pid sits in syscall nr; fail the test after 10 s. */
static inline void wait_in_syscall(pid_t pid, pid_t tid, long nr)
{
	struct timespec t0, t;
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *text;
		size_t len;
		bool in;

		assert_int_equal(read_whole_file(AT_FDCWD, path, 4096, &text, &len), 0);
		/* "running" while it runs, else the syscall number first */
		in = text[0] >= '0' && text[0] <= '9' && strtol(text, NULL, 10) == nr;
		free(text);
		if (in)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			fail_msg("thread %d of %d never blocked in syscall %ld", tid, pid, nr);
		sched_yield();
	}
}

/*
 * A child with an io_uring worker (iou-wrk): a read of an empty pipe
 * submitted with IOSQE_ASYNC goes to a worker thread and blocks there.
 */
static inline void uring_child(void)
{
	struct io_uring_params p = { 0 };
	struct io_uring_sqe *sqe;
	unsigned *tail, *array;
	static char buf[8];
	int ring, fds[2];
	char *sq;

	ring = syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0 || pipe(fds))
		_exit(2);
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	sqe = mmap(NULL, sizeof(*sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		   IORING_OFF_SQES);
	if (sq == MAP_FAILED || sqe == MAP_FAILED)
		_exit(2);
	tail = (unsigned *)(sq + p.sq_off.tail);
	array = (unsigned *)(sq + p.sq_off.array);
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->flags = IOSQE_ASYNC;
	sqe->fd = fds[0];
	sqe->addr = (unsigned long)buf;
	sqe->len = sizeof(buf);
	array[0] = 0;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 0, 0, NULL, 0) != 1)
		_exit(2);
	if (write(child_reply, "r", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

/* The worker's tid, once it exists: the thread named iou-wrk-*. */
static inline pid_t uring_worker_of(pid_t pid)
{
	for (int tries = 0; tries < 100000; tries++) {
		pid_t *tids;
		size_t n;

		assert_int_equal(proc_list_threads(pid, &tids, &n), 0);
		for (size_t i = 0; i < n; i++) {
			char path[64], *comm;
			size_t len;

			snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tids[i]);
			if (read_whole_file(AT_FDCWD, path, 64, &comm, &len))
				continue;
			if (!strncmp(comm, "iou-wrk", 7)) {
				pid_t w = tids[i];

				free(comm);
				free(tids);
				return w;
			}
			free(comm);
		}
		free(tids);
		sched_yield();
	}
	fail_msg("pid %d: no io_uring worker thread appeared", pid);
	return 0;
}

#endif /* RW_TEST_CHILD_H */
