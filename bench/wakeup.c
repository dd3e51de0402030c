// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a hand-off between two processes costs when the one that waits went
 * idle: the floor under rewind-proxy's round trip to rewindd (and under
 * every hand-off of a request), measured apart from both.
 *
 *     build/bench/wakeup            (ROUNDS=5000 WORK_US="0 100 200")
 *
 * A parent sends 8 bytes over a unix socketpair; the child works WORK_US
 * microseconds (a clock-checking loop, as rewindd is busy while it
 * rewinds) and answers. The parent waits for the answer blocked in read(),
 * then spinning on recv(MSG_DONTWAIT). Prints the median and p90 round trip
 * of each; blocked minus spinning is what waking an idle CPU costs here
 * (docs/BENCHMARKS.md, "seventh stop"; on a guest, see
 * /sys/module/haltpoll/parameters/guest_halt_poll_ns). Not a test.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

static void child_loop(int fd)
{
	uint64_t work_ns;

	/* Each request says how long to work, then gets its answer back. */
	while (read(fd, &work_ns, sizeof(work_ns)) == sizeof(work_ns)) {
		uint64_t t = rw_now_ns();

		while (rw_now_ns() - t < work_ns)
			;
		if (write(fd, &work_ns, sizeof(work_ns)) != sizeof(work_ns))
			break;
	}
	_exit(0);
}

static int round_trips(int fd, uint64_t work_ns, bool spin, int rounds, uint64_t *rt)
{
	for (int i = 0; i < rounds; i++) {
		uint64_t t = rw_now_ns(), got;
		ssize_t r;

		if (write(fd, &work_ns, sizeof(work_ns)) != sizeof(work_ns))
			return -errno;
		do
			r = spin ? recv(fd, &got, sizeof(got), MSG_DONTWAIT) : read(fd, &got, sizeof(got));
		while (r < 0 && (errno == EAGAIN || errno == EINTR));
		if (r != sizeof(got))
			return r < 0 ? -errno : -EPIPE;
		rt[i] = rw_now_ns() - t;
	}
	return 0;
}

int main(void)
{
	int rounds = bench_envint("ROUNDS", 5000, 10, 1000000);
	const char *works = getenv("WORK_US") ? getenv("WORK_US") : "0 100 200";
	uint64_t *rt = calloc(rounds, sizeof(*rt));
	char *list = strdup(works), *save = NULL;
	int sv[2], status;
	pid_t child;

	if (!rt || !list || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("wakeup: setting up");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("wakeup: fork");
		return 1;
	}
	if (!child) {
		close(sv[0]);
		child_loop(sv[1]);
	}
	close(sv[1]);
	printf("%-8s %-9s %10s %10s\n", "work_us", "wait", "p50_us", "p90_us");
	for (char *w = strtok_r(list, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
		char *end;
		long us = strtol(w, &end, 10);

		if (*end || us < 0 || us > 1000000) {
			fprintf(stderr, "wakeup: WORK_US takes microseconds 0..1000000, not '%s'\n", w);
			kill(child, SIGKILL);
			return 2;
		}
		for (int spin = 0; spin < 2; spin++) {
			uint64_t p90;
			int err = round_trips(sv[0], us * 1000ull, spin, rounds, rt);

			if (err) {
				fprintf(stderr, "wakeup: round trip: %s\n", strerror(-err));
				kill(child, SIGKILL);
				return 1;
			}
			qsort(rt, rounds, sizeof(*rt), bench_cmp_u64);
			p90 = rt[rounds * 9 / 10];
			printf("%-8ld %-9s %10.1f %10.1f\n", us, spin ? "spinning" : "blocked",
			       bench_median(rt, rounds) / 1e3, p90 / 1e3);
		}
	}
	close(sv[0]);
	waitpid(child, &status, 0);
	free(rt);
	free(list);
	return 0;
}
