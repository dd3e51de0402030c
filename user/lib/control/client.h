/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rewindd's client, for rewindctl and rewind-proxy: connect to the control
 * socket, send one request line, read one answer line (protocol.h).
 */
#ifndef RW_CLIENT_H
#define RW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "fastpath.h"

/* A longer answer is an error: the connection's framing is lost then. */
#define RW_ANSWER_MAX (16 << 20)

/*
 * Connect to the socket at path; sends and receives time out after
 * timeout_s seconds (0: never). The fd, or -errno with err set
 * ("cannot connect to rewindd at PATH: ...").
 */
int client_connect(const char *path, unsigned timeout_s, char *err, size_t errlen);

/* All of line (one request ending in a newline); no SIGPIPE. 0 or -errno with err. */
int client_send(int fd, const char *line, size_t len, char *err, size_t errlen);

/*
 * As client_send, with passfd attached (SCM_RIGHTS) to the sendmsg that
 * carries the line's first byte: rewindd takes an fd to belong to the request
 * line where the read that delivered it ends, so send one line per call.
 * sock is the connected socket, passfd the fd to pass (a pidfd for
 * {"cmd":"attach","pidfd":true}). 0 or -errno with err.
 */
int client_send_fd(int sock, const char *line, size_t len, int passfd, char *err, size_t errlen);

/*
 * Read one answer line of at most max bytes and parse it. NULL with err set
 * when the peer closes first, the line is longer, it is not JSON, or a
 * receive fails (a timeout: EAGAIN). A signal (EINTR) is waited through
 * unless give_up (may be NULL) says otherwise.
 */
json_object *client_recv(int fd, size_t max, bool (*give_up)(void), char *err, size_t errlen);

/*
 * The answer to a fast-path rewind (fastpath.h; the request goes with
 * client_send). 0 with *sum filled; -EPROTO refused, with rewindd's error
 * text in err; another -errno (err set) when the answer did not come whole:
 * the connection's framing is lost then, close it. give_up as for
 * client_recv.
 */
int client_fast_recv(int fd, struct rw_rewind_summary *sum, bool (*give_up)(void), char *err,
		     size_t errlen);

#endif /* RW_CLIENT_H */
