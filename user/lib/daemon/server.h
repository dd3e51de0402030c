/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rewindd's event loop: the control socket, its clients, the tracker's ring
 * buffer and termination signals, on one epoll instance, one thread.
 */
#ifndef RW_SERVER_H
#define RW_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "protocol.h"
#include "session.h"

struct rw_server_opts {
	const char *socket_path;	/* default RW_DEFAULT_SOCKET */
	gid_t socket_gid;		/* (gid_t)-1: socket mode 0600 root-only; else 0660 with this group */
};

/*
 * Connections at once. A full table closes the connection idle the longest
 * (its client reconnects when it next asks); a client that leaves a request
 * half sent, or an answer unread, for RW_CLIENT_DEADLINE_S is closed.
 */
#define RW_MAX_CLIENTS 256
#define RW_CLIENT_DEADLINE_S 10

struct rw_server;

/* Create and bind the socket. Fails if another rewindd answers on it. */
int server_open(struct rw_server **out, const struct rw_server_opts *opts, struct rw_sessions *S);
/* Serve until SIGINT/SIGTERM. Returns 0 on a clean stop. */
int server_run(struct rw_server *srv);
void server_close(struct rw_server *srv);	/* removes the socket */

#endif /* RW_SERVER_H */
