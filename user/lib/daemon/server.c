// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "server: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "fastpath.h"
#include "log.h"
#include "pidfd.h"
#include "proc.h"
#include "protocol.h"
#include "server.h"

struct client {
	int fd;
	struct ucred peer;
	int peer_pidfd;		/* pins the peer's process; -1 if the kernel gave none */
	/*
	 * An fd that came with the request line holding byte pass_at of `in`
	 * (where the read that delivered it ended), or the reason the fds that
	 * came cannot be taken (pass_err, fds already closed).
	 */
	bool pass_pending;
	int pass_fd;
	size_t pass_at;
	const char *pass_err;
	char in[RW_REQ_MAX + 1];
	size_t in_len;
	char *out;		/* pending response bytes */
	size_t out_len, out_off;
	bool closing;		/* close once `out` is flushed */
	bool polling_out;	/* waiting for EPOLLOUT, not for requests */
	/* Since when it owes us the rest of a request or the reading of an answer (0: nothing). */
	uint64_t owing_since_ns;
	uint64_t last_ns;	/* its last request or answer: who is idle the longest */
};

struct rw_server {
	struct rw_sessions *S;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, epoll_fd, signal_fd;
	struct client *clients[RW_MAX_CLIENTS];
	/*
	 * The request of every fast-path rewind: fast_request_parse sets its
	 * rewind fields and nothing else, so it is zeroed once (~70 KB, the
	 * watch paths) instead of per request.
	 */
	struct rw_request *fast_req;
};

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD	77	/* Linux 6.5 */
#endif
/* A request carries at most one fd; room for a few more to see and close them. */
#define PASS_FDS_MAX	8

/* epoll data: small integers for the fixed fds, client pointers otherwise. */
enum { EV_LISTEN = 1, EV_TRACKER, EV_SIGNAL, EV_FSWATCH, EV_PACKER };

static int make_dirs(const char *path)
{
	char tmp[PATH_MAX], *dir;

	snprintf(tmp, sizeof(tmp), "%s", path);
	dir = dirname(tmp);
	if (!strcmp(dir, "/") || !strcmp(dir, "."))
		return 0;
	if (mkdir(dir, 0755) && errno == ENOENT) {
		if (make_dirs(dir))
			return -errno;
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* A stale socket from a crashed daemon may be replaced; a live one may not. */
static int claim_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, live;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	live = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (live)
		return -EADDRINUSE;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int server_open(struct rw_server **out, const struct rw_server_opts *opts, struct rw_sessions *S)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = opts->socket_path ? opts->socket_path : RW_DEFAULT_SOCKET;
	struct rw_server *srv;
	mode_t old_umask;
	sigset_t mask;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv)
		srv->fast_req = calloc(1, sizeof(*srv->fast_req));
	if (!srv || !srv->fast_req) {
		free(srv);
		return -ENOMEM;
	}
	srv->S = S;
	srv->listen_fd = srv->epoll_fd = srv->signal_fd = -1;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);

	err = make_dirs(path);
	if (err) {
		pr_err("cannot create the directory of %s: %s\n", path, strerror(-err));
		goto fail;
	}
	err = claim_path(path);
	if (err == -EADDRINUSE) {
		pr_err("another rewindd is serving %s\n", path);
		goto fail;
	}
	if (err) {
		pr_err("cannot remove the stale socket %s: %s\n", path, strerror(-err));
		goto fail;
	}
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0) {
		err = -errno;
		pr_perror("socket");
		goto fail;
	}
	/*
	 * Never world-accessible, not even for a moment: bind creates the socket
	 * with its final mode; the group is set without following a symlink
	 * someone may have swapped in.
	 */
	old_umask = umask(opts->socket_gid != (gid_t)-1 ? 0117 : 0177);
	err = bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old_umask);
	if (err) {
		pr_err("cannot bind %s: %s\n", path, strerror(-err));
		goto fail;
	}
	if (opts->socket_gid != (gid_t)-1 && lchown(path, 0, opts->socket_gid)) {
		err = -errno;
		pr_perror("cannot give group %u access to %s", opts->socket_gid, path);
		goto fail;
	}
	/* Room for bursts: a non-blocking connect to a full backlog fails (EAGAIN) instead of waiting. */
	if (listen(srv->listen_fd, SOMAXCONN)) {
		err = -errno;
		pr_perror("listen");
		goto fail;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* A client that hangs up before reading its answer must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	srv->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->signal_fd < 0 || srv->epoll_fd < 0) {
		err = -errno;
		pr_perror("signalfd/epoll");
		goto fail;
	}
	err = epoll_add(srv->epoll_fd, srv->listen_fd, EPOLLIN, EV_LISTEN);
	if (!err)
		err = epoll_add(srv->epoll_fd, tracker_epoll_fd(S->tracker), EPOLLIN, EV_TRACKER);
	if (!err)
		err = epoll_add(srv->epoll_fd, srv->signal_fd, EPOLLIN, EV_SIGNAL);
	if (!err && sessions_fswatch_fd(S) >= 0)
		err = epoll_add(srv->epoll_fd, sessions_fswatch_fd(S), EPOLLIN, EV_FSWATCH);
	if (!err && sessions_packer_fd(S) >= 0)
		err = epoll_add(srv->epoll_fd, sessions_packer_fd(S), EPOLLIN, EV_PACKER);
	if (err) {
		pr_err("epoll_ctl: %s\n", strerror(-err));
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	server_close(srv);
	return err;
}

static void client_free(struct rw_server *srv, struct client *c)
{
	for (int i = 0; i < RW_MAX_CLIENTS; i++)
		if (srv->clients[i] == c)
			srv->clients[i] = NULL;
	epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->pass_fd >= 0)
		close(c->pass_fd);
	if (c->peer_pidfd >= 0)
		close(c->peer_pidfd);
	free(c->out);
	free(c);
}

/*
 * The client's process, pinned: the kernel's pidfd of the peer taken at
 * connect(), or (before Linux 6.5) one opened now, which a pid recycled
 * since could fool; -1 if neither.
 */
static int peer_pidfd(int sock, pid_t pid)
{
	socklen_t len = sizeof(int);
	int fd = -1;

	if (!getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) && fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	return pid > 0 ? sys_pidfd_open(pid, 0) : -1;
}

/*
 * A free slot, or one made free by closing the connection idle the longest
 * (nothing half sent, no answer pending: a persistent client, which
 * reconnects when it next asks); -1 if every client is in the middle of
 * something.
 */
static int free_slot(struct rw_server *srv)
{
	int oldest = -1;

	for (int i = 0; i < RW_MAX_CLIENTS; i++) {
		struct client *c = srv->clients[i];

		if (!c)
			return i;
		if (!c->owing_since_ns && !c->in_len && !c->out_len &&
		    (oldest < 0 || c->last_ns < srv->clients[oldest]->last_ns))
			oldest = i;
	}
	if (oldest >= 0) {
		pr_info("%d connections: closing the one idle the longest (pid %d) for a new one\n",
			RW_MAX_CLIENTS, srv->clients[oldest]->peer.pid);
		client_free(srv, srv->clients[oldest]);
	}
	return oldest;
}

static void accept_clients(struct rw_server *srv)
{
	for (;;) {
		struct client *c;
		int fd, slot;

		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				pr_perror("accept");
			return;
		}
		slot = free_slot(srv);
		c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";

			if (write(fd, busy, sizeof(busy) - 1) < 0)
				pr_debug("client gone before the busy answer\n");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->pass_fd = -1;
		c->last_ns = rw_now_ns();
		if (auth_peer_cred(fd, &c->peer) ||
		    epoll_add(srv->epoll_fd, fd, EPOLLIN, (uintptr_t)c)) {
			pr_perror("cannot set up a client");
			close(fd);
			free(c);
			continue;
		}
		c->peer_pidfd = peer_pidfd(fd, c->peer.pid);
		srv->clients[slot] = c;
	}
}

/*
 * Queue an answer's bytes; server_run flushes them before it waits again
 * (flush_client polls for EPOLLOUT only when the socket is full).
 */
static int queue_bytes(struct client *c, const void *bytes, size_t n, bool newline)
{
	char *buf = realloc(c->out, c->out_len + n + newline);

	if (!buf)
		return -ENOMEM;
	memcpy(buf + c->out_len, bytes, n);
	if (newline)
		buf[c->out_len + n] = '\n';
	c->out = buf;
	c->out_len += n + newline;
	return 0;
}

/* One response line. */
static int queue_response(struct client *c, const char *json)
{
	return queue_bytes(c, json, strlen(json), true);
}

/* Why fd, sent with req, cannot be taken; NULL if it can. */
static const char *passed_fd_problem(const struct rw_request *req, int fd)
{
	pid_t pid;

	if (fd < 0)
		return req->pidfd ? "\"pidfd\": true needs the pidfd sent with the request line "
				    "(SCM_RIGHTS on the same sendmsg)" : NULL;
	if (!req->pidfd)
		return "an fd came with a request that takes none (only attach with "
		       "\"pidfd\": true does)";
	if (proc_pidfd_pid(fd, &pid) == -EBADF)
		return "the fd sent with the request is not a pidfd";
	return NULL;
}

static void handle_line(struct rw_server *srv, struct client *c, const char *line, size_t len,
			int fd, const char *fd_err)
{
	struct rw_request *req = calloc(1, sizeof(*req));
	struct rw_peer peer = { .cred = c->peer, .pidfd = c->peer_pidfd, .passed_fd = fd };
	json_object *resp = NULL;
	const char *why;
	char err[256];
	char *msg = NULL;

	if (!req) {
		msg = protocol_error("out of memory");
	} else if (protocol_parse_request(line, len, req, err, sizeof(err))) {
		msg = protocol_error("%s", err);
	} else if (fd_err || (why = passed_fd_problem(req, fd))) {
		msg = protocol_error("%s", fd_err ? fd_err : why);
	} else {
		pr_debug("uid %u: %s\n", c->peer.uid, protocol_cmd_name(req->cmd));
		resp = sessions_handle(srv->S, req, &peer, NULL);
		if (!resp)	/* every request gets an answer, even without memory for one */
			msg = protocol_error("out of memory");
	}
	if (fd >= 0)
		close(fd);
	if (resp)
		queue_response(c, json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
	else if (msg)
		queue_response(c, msg);
	json_object_put(resp);
	free(msg);
	free(req);
}

/*
 * A fast-path rewind (fastpath.h), len bytes at the start of c->in: checked
 * and executed as a JSON rewind is, answered with a frame.
 */
static void handle_fast(struct rw_server *srv, struct client *c, size_t len, int fd,
			const char *fd_err)
{
	struct rw_peer peer = { .cred = c->peer, .pidfd = c->peer_pidfd, .passed_fd = fd };
	struct rw_rewind_summary sum = { 0 };
	json_object *resp = NULL, *v;
	const char *error = NULL;
	char err[256];
	void *frame;
	size_t n;

	if (fd_err || fd >= 0)
		error = fd_err ? fd_err : "an fd came with a fast-path rewind, which takes none";
	else if (fast_request_parse(c->in, len, srv->fast_req, err, sizeof(err)))
		error = err;
	else if (!(resp = sessions_handle(srv->S, srv->fast_req, &peer, &sum)))
		error = "out of memory";
	else if (!json_object_object_get_ex(resp, "ok", &v) || !json_object_get_boolean(v))
		error = json_object_object_get_ex(resp, "error", &v) ? json_object_get_string(v) :
								       "refused without a reason";
	if (fd >= 0)
		close(fd);
	frame = fast_answer_make(!error, &sum, error, &n);
	/* Without memory for the answer the client would wait for ever: it sees the end instead. */
	if (!frame || queue_bytes(c, frame, n, false))
		c->closing = true;
	free(frame);
	json_object_put(resp);
}

/*
 * The length of the request at the start of c->in, newline included: 0
 * while it is incomplete, -1 if its first bytes are a fast-path frame
 * header out of range (nothing after it can be told apart any more).
 */
static ssize_t request_len(const struct client *c)
{
	const char *nl;
	ssize_t n;

	if (c->in_len && (uint8_t)c->in[0] == RW_FAST_MAGIC) {
		n = fast_frame_size(c->in, c->in_len);
		return n < 0 ? -1 : (size_t)n <= c->in_len ? n : 0;
	}
	nl = memchr(c->in, '\n', c->in_len);
	return nl ? nl - c->in + 1 : 0;
}

/*
 * Answer the next complete request (a line, or a fast-path frame), if no
 * answer is still unread: one request at a time, so a client that
 * pipelines and never reads cannot make the daemon hold its answers.
 */
static void serve_next_request(struct rw_server *srv, struct client *c)
{
	const char *fd_err = NULL;
	int fd = -1;
	ssize_t n;

	if (c->out_len || !(n = request_len(c)))
		return;
	if (n < 0) {
		size_t len;
		void *frame = fast_answer_make(false, NULL, "malformed fast-path frame header: "
					       "the connection is closed", &len);

		if (frame)
			queue_bytes(c, frame, len, false);
		free(frame);
		c->in_len = 0;
		c->closing = true;
		return;
	}
	if (c->pass_pending && c->pass_at < (size_t)n) {
		fd = c->pass_fd;
		fd_err = c->pass_err;
		c->pass_pending = false;
		c->pass_fd = -1;
		c->pass_err = NULL;
	} else if (c->pass_pending) {
		c->pass_at -= n;
	}
	if ((uint8_t)c->in[0] == RW_FAST_MAGIC)
		handle_fast(srv, c, n, fd, fd_err);
	else
		handle_line(srv, c, c->in, n - 1, fd, fd_err);
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/*
 * Take the fds that came with a read (ending at byte `at` of `in`): one
 * at a time, for the line they arrived with; anything else is closed and
 * that line refused.
 */
static void take_fds(struct client *c, struct msghdr *msg, size_t at)
{
	int fds[PASS_FDS_MAX], nfds = 0;
	const char *err = NULL;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n && nfds < PASS_FDS_MAX; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	if (msg->msg_flags & MSG_CTRUNC)
		err = "too many fds came with a request: send one pidfd";
	if (!nfds && !err)
		return;
	if (nfds > 1)
		err = "more than one fd came with a request: send one pidfd";
	if (c->pass_pending) {
		err = "more than one fd came with a request: send one pidfd";
		if (c->pass_fd >= 0)
			close(c->pass_fd);
	}
	if (err) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		c->pass_fd = -1;
	} else {
		c->pass_fd = fds[0];
	}
	c->pass_err = err;
	c->pass_at = at;
	c->pass_pending = true;
}

static ssize_t recv_some(struct client *c)
{
	union {
		char buf[CMSG_SPACE(PASS_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = c->in + c->in_len, .iov_len = sizeof(c->in) - c->in_len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	ssize_t n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);

	/* fds come with at least one byte: an fd and n == 0 cannot be. */
	if (n > 0)
		take_fds(c, &msg, c->in_len + n - 1);
	return n;
}

static void read_client(struct rw_server *srv, struct client *c)
{
	while (!request_len(c)) {
		ssize_t n;

		if (c->in_len == sizeof(c->in)) {
			char *msg = protocol_error("request too large (limit %d bytes)", RW_REQ_MAX);

			if (msg)
				queue_response(c, msg);
			free(msg);
			c->in_len = 0;
			c->closing = true;
			return;
		}
		n = recv_some(c);
		if (n == 0) {	/* the client is done sending; answer what it asked, then close */
			c->closing = true;
			break;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			c->closing = true;
			c->out_len = c->out_off;	/* nobody to answer */
			return;
		}
		if (n < 0)
			break;
		c->in_len += n;
	}
	serve_next_request(srv, c);
}

static void flush_client(struct rw_server *srv, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uintptr_t)c };

	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0) {
			if (errno == EAGAIN) {
				/* Stop listening to the client until it has read this answer. */
				ev.events = EPOLLOUT;
				if (!c->polling_out && epoll_ctl(srv->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev)) {
					c->closing = true;	/* it would never be flushed */
					c->out_off = c->out_len;
					break;
				}
				c->polling_out = true;
				return;
			}
			c->closing = true;
			c->out_off = c->out_len;
			break;
		}
		c->out_off += n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->polling_out)
		epoll_ctl(srv->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
	c->polling_out = false;
}

/* Whether c owes us something (a partial request, an unread answer): its deadline runs. */
static void note_owing(struct client *c, uint64_t now)
{
	if (!c->in_len && !c->out_len)
		c->owing_since_ns = 0;
	else if (!c->owing_since_ns)
		c->owing_since_ns = now;
}

/*
 * Close the clients past their deadline; the milliseconds until the next
 * one runs out, or -1 (none running): epoll_wait's timeout.
 */
static int expire_clients(struct rw_server *srv)
{
	const uint64_t limit = RW_CLIENT_DEADLINE_S * 1000000000ull;
	uint64_t now = rw_now_ns(), next = UINT64_MAX;

	for (int i = 0; i < RW_MAX_CLIENTS; i++) {
		struct client *c = srv->clients[i];

		if (!c || !c->owing_since_ns)
			continue;
		if (now - c->owing_since_ns >= limit) {
			pr_warn("client pid %d: %s for %d s: connection closed\n", c->peer.pid,
				c->out_len ? "did not read its answer" :
					     "left a request unfinished", RW_CLIENT_DEADLINE_S);
			client_free(srv, c);
			continue;
		}
		if (c->owing_since_ns + limit - now < next)
			next = c->owing_since_ns + limit - now;
	}
	return next == UINT64_MAX ? -1 : (int)(next / 1000000) + 1;
}

int server_run(struct rw_server *srv)
{
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(srv->epoll_fd, evs, 16, expire_clients(srv));
		bool accepting = false;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("epoll_wait");
			return -errno;
		}
		sessions_busy(srv->S, true);
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			struct client *c;

			if (d == EV_SIGNAL) {
				pr_info("signal received, stopping\n");
				return 0;
			}
			if (d == EV_LISTEN) {
				/* After this batch: accepting may close a client an event below names. */
				accepting = true;
				continue;
			}
			if (d == EV_TRACKER) {
				tracker_drain(srv->S->tracker);
				continue;
			}
			if (d == EV_FSWATCH) {
				sessions_on_fswatch(srv->S);
				continue;
			}
			if (d == EV_PACKER) {
				sessions_on_packed(srv->S);
				continue;
			}
			c = (struct client *)(uintptr_t)d;
			/* One answer at a time: a client that never reads cannot grow our memory. */
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->out_len)
				read_client(srv, c);
			/* Lines that arrived together wait in our buffer: answer them in turn. */
			while (c->out_len) {
				flush_client(srv, c);
				if (c->out_len)
					break;	/* the client is not reading: wait for EPOLLOUT */
				serve_next_request(srv, c);
			}
			/* Answered: the processes a rewind restored run again. */
			sessions_release(srv->S);
			if (c->closing && !c->out_len) {
				client_free(srv, c);
				continue;
			}
			c->last_ns = rw_now_ns();
			note_owing(c, c->last_ns);
		}
		if (accepting)
			accept_clients(srv);
		sessions_busy(srv->S, false);
	}
}

void server_close(struct rw_server *srv)
{
	if (!srv)
		return;
	for (int i = 0; i < RW_MAX_CLIENTS; i++)
		if (srv->clients[i])
			client_free(srv, srv->clients[i]);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		unlink(srv->path);
	}
	if (srv->epoll_fd >= 0)
		close(srv->epoll_fd);
	if (srv->signal_fd >= 0)
		close(srv->signal_fd);
	free(srv->fast_req);
	free(srv);
}
