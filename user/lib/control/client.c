// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"

int client_connect(const char *path, unsigned timeout_s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "rewindd socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		snprintf(err, errlen, "cannot connect to rewindd at %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (timeout_s && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
			  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))) {
		e = errno;
		snprintf(err, errlen, "rewindd socket %s: cannot set its timeouts: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int client_send(int fd, const char *line, size_t len, char *err, size_t errlen)
{
	while (len) {
		/* A rewindd that went away is an error here, not our death by SIGPIPE. */
		ssize_t w = send(fd, line, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;

			snprintf(err, errlen, "cannot send to rewindd: %s", strerror(e));
			return -e;
		}
		line += w;
		len -= w;
	}
	return 0;
}

int client_send_fd(int sock, const char *line, size_t len, int passfd, char *err, size_t errlen)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)line, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t w;

	if (!len) {
		snprintf(err, errlen, "cannot send an fd without a request");
		return -EINVAL;
	}
	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	do
		w = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot send to rewindd: %s", strerror(e));
		return -e;
	}
	/* The fd went with the first byte; the rest of the line follows plainly. */
	return client_send(sock, line + w, len - w, err, errlen);
}

json_object *client_recv(int fd, size_t max, bool (*give_up)(void), char *err, size_t errlen)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap), *nl;
	json_object *resp = NULL;

	while (buf) {
		ssize_t r;

		if (used + 1 >= cap) {
			char *nb = cap > max ? NULL : realloc(buf, cap * 2);

			if (!nb && cap > max)
				snprintf(err, errlen, "rewindd's answer is larger than %zu bytes", max);
			else if (!nb)
				snprintf(err, errlen, "out of memory");
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + used, cap - used - 1, 0);
		if (r < 0 && errno == EINTR && !(give_up && give_up()))
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "rewindd closed the connection without an answer%s%s",
				 r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
			break;
		}
		nl = memchr(buf + used, '\n', r);
		used += r;
		if (nl) {
			if ((size_t)(nl - buf) > max) {
				snprintf(err, errlen, "rewindd's answer is larger than %zu bytes", max);
				break;
			}
			*nl = '\0';
			resp = json_tokener_parse(buf);
			if (!resp)
				snprintf(err, errlen, "malformed answer from rewindd");
			break;
		}
	}
	if (!buf)
		snprintf(err, errlen, "out of memory");
	free(buf);
	return resp;
}

/* Exactly len bytes, or -errno (-EPIPE: the peer closed first) with err set. */
static int recv_exact(int fd, void *buf, size_t len, bool (*give_up)(void), char *err,
		      size_t errlen)
{
	char *p = buf;

	while (len) {
		ssize_t r = recv(fd, p, len, 0);

		if (r < 0 && errno == EINTR && !(give_up && give_up()))
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EPIPE;

			snprintf(err, errlen, "rewindd closed the connection without an answer%s%s",
				 r < 0 ? ": " : "", r < 0 ? strerror(e) : "");
			return -e;
		}
		p += r;
		len -= r;
	}
	return 0;
}

int client_fast_recv(int fd, struct rw_rewind_summary *sum, bool (*give_up)(void), char *err,
		     size_t errlen)
{
	struct rw_fast_answer a;
	char text[RW_FAST_ERROR_MAX + 1];
	int ret;

	ret = recv_exact(fd, &a, sizeof(a.h), give_up, err, errlen);
	if (ret)
		return ret;
	/* A JSON line instead: this rewindd does not know the fast path, or refused the frame. */
	if (a.h.magic != RW_FAST_MAGIC || a.h.version != RW_FAST_VERSION || a.h.size != sizeof(a)) {
		snprintf(err, errlen, "rewindd answered the fast-path rewind with something else "
			 "(%s)", a.h.magic == '{' ? "a JSON line: too old a rewindd, or a malformed "
			 "frame" : "not an answer frame");
		return -EIO;
	}
	ret = recv_exact(fd, (char *)&a + sizeof(a.h), sizeof(a) - sizeof(a.h), give_up, err,
			 errlen);
	if (!ret && a.error_len > RW_FAST_ERROR_MAX) {
		snprintf(err, errlen, "rewindd's fast-path answer says %u bytes of error text follow",
			 a.error_len);
		ret = -EIO;
	}
	if (!ret)
		ret = recv_exact(fd, text, a.error_len, give_up, err, errlen);
	if (ret)
		return ret;
	if (!a.ok) {
		text[a.error_len] = '\0';
		snprintf(err, errlen, "%s", a.error_len ? text : "rewindd refused without a reason");
		return -EPROTO;
	}
	*sum = a.summary;
	return 0;
}
