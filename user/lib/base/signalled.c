// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "pidfd.h"
#include "proc.h"
#include "signalled.h"

int signalled_send(struct rw_signalled *h, int pidfd, int sig)
{
	int fd;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct rw_signalled_one *p = realloc(h->p, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		h->p = p;
		h->cap = cap;
	}
	fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sys_pidfd_send_signal(fd, sig, NULL, 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	h->p[h->n++] = (struct rw_signalled_one){ .pidfd = fd, .sig = sig };
	return 0;
}

/* A thread stopped (T or t), or gone (a zombie too: it runs no more). */
static bool thread_still(pid_t tid)
{
	struct rw_proc_status ps;

	return proc_read_status(tid, &ps) || (ps.state && strchr("TtZX", ps.state));
}

/* Every thread of the process: a stop reaches them one by one. */
static bool stopped_or_gone(int pidfd)
{
	pid_t pid, *tids = NULL;
	bool all = true;
	size_t n = 0;
	int err;

	if (proc_pidfd_pid(pidfd, &pid) || pid <= 0)
		return true;
	/* Unknown is not stopped: only a process gone meanwhile counts. */
	err = proc_list_threads(pid, &tids, &n);
	if (err)
		return err == -ESRCH;
	for (size_t i = 0; i < n && all; i++)
		all = thread_still(tids[i]);
	free(tids);
	return all;
}

size_t signalled_wait(struct rw_signalled *h, unsigned ms)
{
	uint64_t deadline = rw_now_ns() + ms * 1000000ull;
	size_t late = 0;

	for (size_t i = 0; i < h->n; i++) {
		for (;;) {
			int64_t left = (int64_t)(deadline - rw_now_ns()) / 1000000;
			struct pollfd p = { .fd = h->p[i].pidfd, .events = POLLIN };
			bool done;

			if (h->p[i].sig == SIGKILL) {
				done = poll(&p, 1, left > 0 ? left : 0) > 0;
			} else {
				done = stopped_or_gone(h->p[i].pidfd);
				if (!done && left > 0)
					poll(NULL, 0, 1);
			}
			if (done || left <= 0) {
				late += !done;
				break;
			}
		}
		close(h->p[i].pidfd);
	}
	free(h->p);
	memset(h, 0, sizeof(*h));
	return late;
}
