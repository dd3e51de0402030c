/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What stands between two activations, per --mode: nothing (insecure), a
 * rewind by rewindd to the checkpoint taken once the function was ready
 * (rewind), a fresh process (restart), or a child forked from the ready
 * process for each activation, with the function's dir (and every --watch)
 * compared whole and restored after it (fork). Holds the rewindd session,
 * or the fork mode's file images.
 */
#ifndef RP_ISOLATION_H
#define RP_ISOLATION_H

#include <stddef.h>
#include <stdint.h>

#include "action.h"
#include "proxy.h"

struct rw_fsimage;

struct isolation {
	const struct proxy_config *cfg;
	int fd;			/* our connection to rewindd, -1 when none */
	uint32_t session;	/* 0: no session */
	char instance[96];	/* the rewindd that made it: a restarted one refuses it */
	uint64_t key;		/* the session's own: a session that took its number refuses it */
	/* fork mode */
	struct action *act;	/* the template process, once armed */
	struct rw_fsimage *img[1 + PROXY_MAX_WATCH];	/* its dir, then each --watch */
	size_t nimg;
	/* rewind mode: rewinds asked for, and their round trips summed (logged at the end) */
	uint64_t nrewinds, rewind_ns;
};

enum iso_next {
	ISO_READY,		/* the function may take the next activation */
	ISO_RESTART,		/* it must be started afresh first (why in err) */
};

/* --mode NAME; -EINVAL for an unknown one. */
int iso_parse_mode(const char *name, enum proxy_mode *mode);

void iso_init(struct isolation *iso, const struct proxy_config *cfg);

/*
 * The function is started, acked and warmed up. In rewind mode: attach its
 * cgroup through rewindd, watching its dir (and every --watch), and
 * checkpoint. In fork mode: tell the launcher to fork a child for every
 * request from now on (it must confirm), and capture its dir and every
 * --watch. 0, or -errno with rewindd's answer (or the launcher's) in err.
 */
int iso_arm(struct isolation *iso, struct action *a, char *err, size_t errlen);

/*
 * An activation was answered: make the function fit for the next one. In
 * fork mode: kill every process of the cgroup but the template (the child
 * that answered and whatever it started) and wait until they are gone, then
 * restore every captured tree where it differs.
 */
enum iso_next iso_after_run(struct isolation *iso, char *err, size_t errlen);

/*
 * Before an activation, in rewind mode: true when our session is gone with
 * the rewindd that held it (it exited, crashed, or was restarted): nothing
 * can rewind the function after this activation, so the caller restarts it
 * first. The session is forgotten (no other rewindd knows it). One poll()
 * while the connection is open; a closed one (rewindd also closes the
 * connection idle the longest when it has too many) is re-opened and asked
 * for the session, under the instance that made it.
 */
bool iso_lost(struct isolation *iso, char *why, size_t whylen);

/* Detach the session, if any (before the function is killed or replaced). */
void iso_release(struct isolation *iso);

/* iso_release, and close the connection to rewindd. */
void iso_fini(struct isolation *iso);

#endif /* RP_ISOLATION_H */
