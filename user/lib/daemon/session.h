/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sessions: a tracked target (a process and the children it spawns, or every
 * process of a cgroup), its write-protection state and its invocations.
 * Every control request ends up here; this is what the daemon *does*.
 */
#ifndef RW_SESSION_H
#define RW_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <linux/types.h>

#include "rewind/events.h"

#include "fastpath.h"
#include "protocol.h"
#include "tracker.h"

struct rw_session;

struct rw_sessions {
	struct rw_tracker *tracker;
	struct rw_session *slot[RW_MAX_SESSIONS];	/* index = session id */
	uint32_t next_id;		/* ids rotate so a stale record never meets a new session */
	size_t ringbuf_bytes;
	uint64_t bad_records;		/* malformed or for no live session */
	char state_dir[256];		/* content stores of watched trees live below */
	/* This rewindd below state_dir, and what it found of dead ones (recovery.h). */
	char instance[96];		/* "": recovery_start() was not called */
	char instance_dir[384];
	json_object *recovered;		/* strings; NULL: nothing */
	struct rw_fswatch *fswatch;	/* writers of watched trees we do not track; NULL: none */
	struct rw_pagestore *pages;	/* every checkpoint image's pages (pagestore.h) */
	int packer_fd;			/* its packer's, or -1 */
};

/* The image page store: a limit in bytes (0: none), and whether images share pages (off by default). */
struct rw_image_opts {
	uint64_t max_bytes;
	bool sharing;
	bool packing;
};

#define RW_DEFAULT_STATE_DIR	"/var/lib/rewindd"

/* Who sent a request, as the server knows it. */
struct rw_peer {
	struct ucred cred;	/* SO_PEERCRED, in rewindd's namespaces */
	int pidfd;		/* SO_PEERPIDFD: pins the client's process; -1 if unavailable */
	int passed_fd;		/* the pidfd sent with this request (SCM_RIGHTS); -1: none */
};

/* The image page store's figures, for status and checkpoint answers. */
json_object *image_store_json(const struct rw_pagestore *ps);

int sessions_init(struct rw_sessions *S, const struct rw_tracker_opts *opts,
		  const struct rw_image_opts *iopts);
void sessions_fini(struct rw_sessions *S);

/*
 * Let go of the processes every session's last rewind still holds (its
 * answer is queued): before anything else touches a session, and right
 * after the answer is written.
 */
void sessions_release(struct rw_sessions *S);
/*
 * The image packer's result is ready (rewindd --image-packing): call when
 * sessions_packer_fd() is readable.
 */
void sessions_on_packed(struct rw_sessions *S);
/*
 * Serving (true) or about to wait for events (false): background work
 * waits while we serve; what waits for a round of requests to end (a
 * packed store's swap) is done then.
 */
void sessions_busy(struct rw_sessions *S, bool busy);
int sessions_packer_fd(const struct rw_sessions *S);	/* -1: no packing */
/*
 * Execute one request on behalf of a peer. Returns the response object
 * ({"ok":true,...} or {"ok":false,"error":...}); NULL when out of memory.
 * fast (not NULL): a fast-path rewind (fastpath.h): what it did goes there,
 * not into the response.
 */
json_object *sessions_handle(struct rw_sessions *S, const struct rw_request *req,
			     const struct rw_peer *peer, struct rw_rewind_summary *fast);

/*
 * fanotify saw a watched tree change: a writer the session does not track
 * makes the log untrustworthy for that tree. Call when sessions_fswatch_fd()
 * is readable (and before any rewind uses the log).
 */
void sessions_on_fswatch(struct rw_sessions *S);
int sessions_fswatch_fd(const struct rw_sessions *S);	/* -1: no fanotify */

#endif /* RW_SESSION_H */
