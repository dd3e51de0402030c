// SPDX-License-Identifier: GPL-2.0-only
/*
 * What stopping and releasing one idle thread costs, the way a rewind does
 * it and the way it would if threads stayed seized between invocations
 * (issue 15's avenue "keep threads seized"), measured apart from rewindd.
 *
 *     sudo build/bench/seizecost            (ROUNDS=3000)
 *
 * A child sleeps in read(2). Each round stops it and lets it go again:
 *   seize each time   PTRACE_SEIZE (with PTRACE_O_SUSPEND_SECCOMP, as
 *                     rewindd seizes), PTRACE_INTERRUPT, waitpid, PTRACE_DETACH;
 *   stay seized       PTRACE_INTERRUPT, waitpid, PTRACE_SETOPTIONS to
 *                     suspend seccomp and again to stop suspending it (a
 *                     function must never run with its filter suspended),
 *                     PTRACE_CONT;
 *   stay, unsafe      the same without the two PTRACE_SETOPTIONS: the
 *                     bound on what staying seized could save.
 * Both processes run on one CPU (rewindd moves the thread it stops first
 * onto its own): the figures hold no wake-up of an idle CPU, which either
 * way pays alike. Prints the median and p90 of each. Staying seized also turns every signal
 * the function receives into a stop that waits for rewindd; not measured
 * here. Not a test.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP	(1 << 21)
#endif

enum way { SEIZE_EACH_TIME, STAY_SEIZED, STAY_UNSAFE, WAYS };

static const char *const way_names[WAYS] = { "seize each time", "stay seized", "stay, unsafe" };

/* One stop and release of pid the given way; it is seized already unless SEIZE_EACH_TIME. */
static int stop_and_release(pid_t pid, enum way w)
{
	const long opts = PTRACE_O_EXITKILL;
	int status;

	if (w == SEIZE_EACH_TIME && ptrace(PTRACE_SEIZE, pid, 0, opts | PTRACE_O_SUSPEND_SECCOMP))
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) || waitpid(pid, &status, __WALL) != pid)
		return -errno;
	if (w == STAY_SEIZED && (ptrace(PTRACE_SETOPTIONS, pid, 0, opts | PTRACE_O_SUSPEND_SECCOMP) ||
				 ptrace(PTRACE_SETOPTIONS, pid, 0, opts)))
		return -errno;
	if (ptrace(w == SEIZE_EACH_TIME ? PTRACE_DETACH : PTRACE_CONT, pid, 0, 0))
		return -errno;
	return 0;
}

int main(void)
{
	int rounds = bench_envint("ROUNDS", 3000, 10, 1000000);
	uint64_t *ns = calloc(rounds, sizeof(*ns));
	int p[2], status;
	pid_t child;
	char c;

	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() > 0 ? sched_getcpu() : 0, &one);
	if (!ns || pipe(p) || sched_setaffinity(0, sizeof(one), &one)) {
		perror("seizecost: setting up");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("seizecost: fork");
		return 1;
	}
	if (!child) {
		close(p[1]);
		while (read(p[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	printf("%-16s %10s %10s\n", "way", "p50_us", "p90_us");
	for (enum way w = 0; w < WAYS; w++) {
		/* Seized once, here, for the ways that stay seized (the first left it detached). */
		if (w == STAY_SEIZED && ptrace(PTRACE_SEIZE, child, 0, PTRACE_O_EXITKILL)) {
			perror("seizecost: PTRACE_SEIZE");
			kill(child, SIGKILL);
			return 1;
		}
		for (int i = 0; i < rounds; i++) {
			uint64_t t = rw_now_ns();
			int err = stop_and_release(child, w);

			if (err) {
				fprintf(stderr, "seizecost: %s: %s%s\n", way_names[w], strerror(-err),
					err == -EPERM ? " (run as root)" : "");
				kill(child, SIGKILL);
				return 1;
			}
			ns[i] = rw_now_ns() - t;
		}
		qsort(ns, rounds, sizeof(*ns), bench_cmp_u64);
		printf("%-16s %10.1f %10.1f\n", way_names[w], bench_median(ns, rounds) / 1e3,
		       ns[rounds * 9 / 10] / 1e3);
	}
	close(p[1]);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	free(ns);
	return 0;
}
