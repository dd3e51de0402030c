/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Processes killed or stopped, held by pidfd until the signal took effect.
 * A write in flight when the signal comes still lands, so whoever restores
 * what they wrote (their watched trees) waits for them first.
 */
#ifndef RW_SIGNALLED_H
#define RW_SIGNALLED_H

#include <stddef.h>

struct rw_signalled {
	struct rw_signalled_one {
		int pidfd;
		int sig;	/* SIGKILL or SIGSTOP */
	} *p;
	size_t n, cap;
};

/* Send sig (SIGKILL or SIGSTOP) through pidfd and hold the process. 0 or -errno (not sent). */
int signalled_send(struct rw_signalled *h, int pidfd, int sig);

/*
 * Wait at most ms in all for every held process to have exited (SIGKILL),
 * or stopped or exited (SIGSTOP); let go of them. A kill is waited for on
 * the pidfd; a stop has no event a process that is not the parent can
 * wait on, so its state is looked at every millisecond. Returns how many
 * had not.
 */
size_t signalled_wait(struct rw_signalled *h, unsigned ms);

#endif /* RW_SIGNALLED_H */
