// SPDX-License-Identifier: GPL-2.0-only
/* rewindd's client against a socketpair and a tiny listening socket: answers, refusals, no SIGPIPE. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "client.h"

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void good_answer_parsed(void **state)
{
	json_object *resp, *v;
	char err[256] = "";
	int sv[2];

	(void)state;
	pair(sv);
	/* In two pieces, the second one with what follows the line. */
	put(sv[1], "{\"ok\":true,");
	put(sv[1], "\"session\":7}\n{\"next\":1}\n");
	resp = client_recv(sv[0], RW_ANSWER_MAX, NULL, err, sizeof(err));
	assert_non_null(resp);
	assert_true(json_object_object_get_ex(resp, "session", &v));
	assert_int_equal(json_object_get_int(v), 7);
	json_object_put(resp);
	close(sv[0]);
	close(sv[1]);
}

static void answer_too_long(void **state)
{
	char err[256] = "", big[10000];
	int sv[2];

	(void)state;
	/* A whole line longer than the cap. */
	pair(sv);
	put(sv[1], "{\"ok\":true,\"pad\":\"0123456789012345678901234567890123456789\"}\n");
	assert_null(client_recv(sv[0], 32, NULL, err, sizeof(err)));
	assert_string_equal(err, "rewindd's answer is larger than 32 bytes");
	close(sv[0]);
	close(sv[1]);
	/* No newline at all: the read stops, it does not grow for ever. */
	pair(sv);
	memset(big, 'a', sizeof(big));
	assert_int_equal(write(sv[1], big, sizeof(big)), (ssize_t)sizeof(big));
	err[0] = '\0';
	assert_null(client_recv(sv[0], 64, NULL, err, sizeof(err)));
	assert_string_equal(err, "rewindd's answer is larger than 64 bytes");
	close(sv[0]);
	close(sv[1]);
}

static void peer_closes(void **state)
{
	char err[256] = "";
	int sv[2];

	(void)state;
	pair(sv);
	put(sv[1], "{\"ok\":tr");
	close(sv[1]);
	assert_null(client_recv(sv[0], RW_ANSWER_MAX, NULL, err, sizeof(err)));
	assert_string_equal(err, "rewindd closed the connection without an answer");
	close(sv[0]);
}

static void malformed(void **state)
{
	char err[256] = "";
	int sv[2];

	(void)state;
	pair(sv);
	put(sv[1], "not json\n");
	assert_null(client_recv(sv[0], RW_ANSWER_MAX, NULL, err, sizeof(err)));
	assert_string_equal(err, "malformed answer from rewindd");
	close(sv[0]);
	close(sv[1]);
}

/* A peer gone: an error, not SIGPIPE (which would end this test program). */
static void send_to_closed_peer(void **state)
{
	char err[256] = "";
	int sv[2];

	(void)state;
	pair(sv);
	close(sv[1]);
	assert_int_equal(client_send(sv[0], "{}\n", 3, err, sizeof(err)), -EPIPE);
	assert_string_equal(err, "cannot send to rewindd: Broken pipe");
	close(sv[0]);
}

/* A listening socket: connect, the timeouts are set, one exchange; then the refusals. */
static void connect_and_exchange(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/test_client.XXXXXX", err[512] = "", line[64], longpath[200];
	struct timeval tv = { 0 };
	socklen_t len = sizeof(tv);
	json_object *resp;
	int lfd, fd, peer;
	ssize_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);

	fd = client_connect(sa.sun_path, 120, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
	assert_int_equal(tv.tv_sec, 120);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	assert_int_equal(client_send(fd, "{\"cmd\":\"status\"}\n", 17, err, sizeof(err)), 0);
	n = read(peer, line, sizeof(line) - 1);
	assert_int_equal(n, 17);
	line[n] = '\0';
	assert_string_equal(line, "{\"cmd\":\"status\"}\n");
	put(peer, "{\"ok\":false,\"error\":\"no\"}\n");
	resp = client_recv(fd, RW_ANSWER_MAX, NULL, err, sizeof(err));
	assert_non_null(resp);
	json_object_put(resp);
	close(peer);
	close(fd);

	/* 0: no timeout. */
	fd = client_connect(sa.sun_path, 0, err, sizeof(err));
	assert_true(fd >= 0);
	len = sizeof(tv);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
	assert_int_equal(tv.tv_sec, 0);
	close(fd);

	close(lfd);
	unlink(sa.sun_path);
	assert_int_equal(client_connect(sa.sun_path, 0, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot connect to rewindd at "));
	assert_non_null(strstr(err, sa.sun_path));
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(client_connect(longpath, 0, err, sizeof(err)), -ENAMETOOLONG);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_answer_parsed),
		cmocka_unit_test(answer_too_long),
		cmocka_unit_test(peer_closes),
		cmocka_unit_test(malformed),
		cmocka_unit_test(send_to_closed_peer),
		cmocka_unit_test(connect_and_exchange),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
