// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel objects behind fds held at the checkpoint: a pipe and unix
 * sockets whose every end the process holds (their queues), an eventfd
 * counter, timerfd settings, an inotify watch set and its queue, an epoll
 * interest list, and flock, POSIX and OFD locks. Each check reads the
 * object without changing it (tee, MSG_PEEK, fdinfo, F_GETLK, a child
 * trying the lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtm.h"

static const char secret[] = "SECRET";

/* The lines of our fdinfo for fd that start with prefix, concatenated. */
static void fdinfo_lines(int fd, const char *prefix, char *out, size_t size)
{
	char path[64], buf[8192], *line, *save;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (read_file(path, buf, sizeof(buf)) < 0)
		die("read fdinfo");
	out[0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, prefix, strlen(prefix)) && len < size)
			len += snprintf(out + len, size - len, "%s\n", line);
}

/* ---- a pipe whose both ends we hold: 3 bytes queued at the checkpoint ---- */

static int pp[2];
#define PIPE_SIZE_WANT	8192

static void pipe_setup(void)
{
	if (pipe(pp) || fcntl(pp[1], F_SETPIPE_SZ, PIPE_SIZE_WANT) < 0 || write(pp[1], "abc", 3) != 3)
		die("pipe");
}

static void pipe_go(void)
{
	if (write(pp[1], secret, sizeof(secret)) != sizeof(secret) ||
	    fcntl(pp[1], F_SETPIPE_SZ, 65536) < 0)
		die("write pipe");
	done("");
}

static void pipe_check(void)
{
	char buf[256] = { 0 };
	int t[2], queued = 0, size = fcntl(pp[0], F_GETPIPE_SZ);
	ssize_t got = 0;

	if (ioctl(pp[0], FIONREAD, &queued))
		die("FIONREAD");
	if (queued) {
		/* tee: a copy of what is queued, leaving it queued. */
		if (pipe(t))
			die("pipe");
		got = tee(pp[0], t[1], sizeof(buf), SPLICE_F_NONBLOCK);
		if (got > 0)
			got = read(t[0], buf, got);
		close(t[0]);
		close(t[1]);
	}
	if (queued != 3 || got != 3 || memcmp(buf, "abc", 3))
		differ("pipe: %d bytes queued ('%.*s'), want 3 ('abc')", queued, (int)(got > 0 ? got : 0),
		       buf);
	else if (size != PIPE_SIZE_WANT)
		differ("pipe: size %d, want %d", size, PIPE_SIZE_WANT);
}

ZDTM_SCENARIO(fdobj_pipe, pipe_setup, pipe_go, pipe_check);

/* ---- unix socket pairs: a stream with 3 bytes queued, a seqpacket with two messages ---- */

static int ss[2], sq[2];

static void socketpair_setup(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ss) || send(ss[1], "abc", 3, 0) != 3)
		die("socketpair stream");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) || send(sq[1], "ab", 2, 0) != 2 ||
	    send(sq[1], "c", 1, 0) != 1)
		die("socketpair seqpacket");
}

static void socketpair_go(void)
{
	char b[2];

	if (send(ss[1], secret, sizeof(secret), 0) != sizeof(secret) ||
	    send(ss[0], secret, sizeof(secret), 0) != sizeof(secret) ||
	    recv(sq[0], b, sizeof(b), 0) != 2 || send(sq[1], secret, sizeof(secret), 0) != sizeof(secret))
		die("send");
	done("");
}

/* Every message queued on fd, as "len:bytes|" (peeked: SO_PEEK_OFF from 0, put back). */
static void peek_all(int fd, char *out, size_t size)
{
	int zero = 0, off = -1;
	size_t len = 0;

	out[0] = '\0';
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		die("SO_PEEK_OFF");
	for (;;) {
		char buf[256];
		ssize_t got = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);

		if (got <= 0 || len >= size)
			break;
		len += snprintf(out + len, size - len, "%zd:%.*s|", got, (int)got, buf);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
		die("SO_PEEK_OFF");
}

static void socketpair_check(void)
{
	char q[512];

	peek_all(ss[0], q, sizeof(q));
	if (strcmp(q, "3:abc|"))
		differ("stream socket: queued '%s', want '3:abc|'", q);
	peek_all(ss[1], q, sizeof(q));
	if (strcmp(q, ""))
		differ("stream socket peer: queued '%s', want nothing", q);
	peek_all(sq[0], q, sizeof(q));
	if (strcmp(q, "2:ab|1:c|"))
		differ("seqpacket socket: queued '%s', want '2:ab|1:c|'", q);
}

ZDTM_SCENARIO(fdobj_socketpair, socketpair_setup, socketpair_go, socketpair_check);

/* ---- an eventfd counter, and a semaphore one ---- */

static int efd, esem;

static void eventfd_setup(void)
{
	efd = eventfd(7, EFD_CLOEXEC);
	esem = eventfd(3, EFD_SEMAPHORE);
	if (efd < 0 || esem < 0)
		die("eventfd");
}

static void eventfd_go(void)
{
	uint64_t v = 0x5ec, one;

	if (write(efd, &v, 8) != 8 || read(esem, &one, 8) != 8 || write(esem, &v, 8) != 8)
		die("eventfd write");
	done("");
}

static void eventfd_check(void)
{
	char a[128], b[128];

	fdinfo_lines(efd, "eventfd-count:", a, sizeof(a));
	fdinfo_lines(esem, "eventfd-count:", b, sizeof(b));
	if (strtoull(a + strlen("eventfd-count:"), NULL, 16) != 7)
		differ("eventfd: %s want 7", a);
	if (strtoull(b + strlen("eventfd-count:"), NULL, 16) != 3)
		differ("semaphore eventfd: %s want 3", b);
}

ZDTM_SCENARIO(fdobj_eventfd, eventfd_setup, eventfd_go, eventfd_check);

/* ---- timerfds: one disarmed at the checkpoint, one armed (an hour) ---- */

static int tfd_off, tfd_on;

static void timerfd_setup(void)
{
	struct itimerspec hour = { .it_interval = { 60, 0 }, .it_value = { 3600, 0 } };

	tfd_off = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	tfd_on = timerfd_create(CLOCK_BOOTTIME, 0);
	if (tfd_off < 0 || tfd_on < 0 || timerfd_settime(tfd_on, 0, &hour, NULL))
		die("timerfd");
}

static void timerfd_go(void)
{
	struct itimerspec arm = { .it_interval = { 7, 0 }, .it_value = { 1000, 0 } }, off = { 0 };

	if (timerfd_settime(tfd_off, 0, &arm, NULL) || timerfd_settime(tfd_on, 0, &off, NULL))
		die("timerfd_settime");
	done("");
}

static void timerfd_check(void)
{
	struct itimerspec a, b;

	if (timerfd_gettime(tfd_off, &a) || timerfd_gettime(tfd_on, &b))
		die("timerfd_gettime");
	if (a.it_value.tv_sec || a.it_value.tv_nsec || a.it_interval.tv_sec)
		differ("timerfd armed (%lld s, interval %lld s), want disarmed",
		       (long long)a.it_value.tv_sec, (long long)a.it_interval.tv_sec);
	if ((!b.it_value.tv_sec && !b.it_value.tv_nsec) || b.it_value.tv_sec > 3600 ||
	    b.it_interval.tv_sec != 60)
		differ("timerfd: %lld s left, interval %lld s, want armed, at most 3600 s, interval 60 s",
		       (long long)b.it_value.tv_sec, (long long)b.it_interval.tv_sec);
}

ZDTM_SCENARIO(fdobj_timerfd, timerfd_setup, timerfd_go, timerfd_check);

/* ---- an inotify watch on a directory of ours; no events queued at the checkpoint ---- */

static int ifd;
static char idir[64], iwatches[512];

static void inotify_setup(void)
{
	snprintf(idir, sizeof(idir), "/tmp/zdtm-inotify-XXXXXX");
	ifd = inotify_init1(IN_NONBLOCK);
	if (!mkdtemp(idir) || ifd < 0 || inotify_add_watch(ifd, idir, IN_CREATE | IN_DELETE) < 0)
		die("inotify");
	fdinfo_lines(ifd, "inotify wd:", iwatches, sizeof(iwatches));
}

static void inotify_go(void)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/f", idir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || close(fd) || unlink(path) || inotify_add_watch(ifd, "/", IN_ACCESS) < 0)
		die("inotify go");
	done("");
}

static void inotify_check(void)
{
	char now[512];
	int queued = -1;

	fdinfo_lines(ifd, "inotify wd:", now, sizeof(now));
	compare_lines("inotify watches", iwatches, now);
	if (ioctl(ifd, FIONREAD, &queued) || queued)
		differ("inotify: %d bytes of events queued, want none", queued);
}

ZDTM_SCENARIO(fdobj_inotify, inotify_setup, inotify_go, inotify_check);

/* ---- an epoll interest list: one eventfd at the checkpoint ---- */

static int epfd, ep_a, ep_b;
static char eplist[512];

static void epoll_setup(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1111 };

	epfd = epoll_create1(EPOLL_CLOEXEC);
	ep_a = eventfd(0, 0);
	ep_b = eventfd(0, 0);
	if (epfd < 0 || ep_a < 0 || ep_b < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, ep_a, &ev))
		die("epoll");
	ev.data.u64 = 0x2222;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, ep_b, &ev))
		die("epoll");
	fdinfo_lines(epfd, "tfd:", eplist, sizeof(eplist));
}

static void epoll_go(void)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = 0x5ec };
	int fresh = eventfd(0, 0);

	/* ep_a changed, ep_b removed, a new fd added (and left open: the rewind closes it). */
	if (fresh < 0 || epoll_ctl(epfd, EPOLL_CTL_MOD, ep_a, &ev) ||
	    epoll_ctl(epfd, EPOLL_CTL_DEL, ep_b, NULL) || epoll_ctl(epfd, EPOLL_CTL_ADD, fresh, &ev))
		die("epoll_ctl");
	done("");
}

static void epoll_check(void)
{
	char now[512];

	fdinfo_lines(epfd, "tfd:", now, sizeof(now));
	compare_lines("epoll interest list", eplist, now);
}

ZDTM_SCENARIO(fdobj_epoll, epoll_setup, epoll_go, epoll_check);

/* ---- locks: flock, POSIX, OFD taken by the invocation; a flock it released ---- */

static int lk_flock, lk_posix, lk_ofd, lk_held;
static char lk_path[4][64];

/* An unlinked file; a child opens it anew through /proc/PID/fd (a description of its own). */
static int lock_file(int i)
{
	char tmp[] = "/tmp/zdtm-lock-XXXXXX";
	int fd = mkstemp(tmp);

	if (fd < 0 || unlink(tmp))
		die("mkstemp");
	snprintf(lk_path[i], sizeof(lk_path[i]), "/proc/%d/fd/%d", getpid(), fd);
	return fd;
}

static void locks_setup(void)
{
	lk_flock = lock_file(0);
	lk_posix = lock_file(1);
	lk_ofd = lock_file(2);
	lk_held = lock_file(3);
	if (flock(lk_held, LOCK_SH))
		die("flock");
}

static void locks_go(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5 };
	struct flock ofd = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (flock(lk_flock, LOCK_EX) || fcntl(lk_posix, F_SETLK, &fl) ||
	    fcntl(lk_ofd, F_OFD_SETLK, &ofd) || flock(lk_held, LOCK_UN))
		die("lock");
	done("");
}

/* Whether another process can take an exclusive lock of kind k on file i now. */
static int other_can_lock(int i, int k)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		die("fork");
	if (!pid) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(lk_path[i], O_RDWR);

		if (fd < 0)
			_exit(2);
		_exit(k == 0 ? flock(fd, LOCK_EX | LOCK_NB) != 0 :
		      k == 1 ? fcntl(fd, F_SETLK, &fl) != 0 : fcntl(fd, F_OFD_SETLK, &fl) != 0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 2)
		die("lock child");
	return WEXITSTATUS(st) == 0;
}

static void locks_check(void)
{
	char l[256];

	if (!other_can_lock(0, 0))
		differ("flock taken by the invocation is still held");
	if (!other_can_lock(1, 1))
		differ("POSIX lock taken by the invocation is still held");
	if (!other_can_lock(2, 2))
		differ("OFD lock taken by the invocation is still held");
	fdinfo_lines(lk_held, "lock:", l, sizeof(l));
	if (!strstr(l, "FLOCK") || !strstr(l, "READ"))
		differ("the checkpoint's shared flock is not held ('%s')", l);
}

ZDTM_SCENARIO(fdobj_locks, locks_setup, locks_go, locks_check);
