// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "fdobj: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/unix_diag.h>

#include "fdobj.h"
#include "fileio.h"
#include "log.h"
#include "pidfd.h"
#include "proc.h"
#include "remote.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#endif
/* Largest socket message or queue we capture: beyond, the object is not restorable. */
#define QUEUE_MAX	(4u << 20)

/*
 * One buffer for every socket queue read, kept: a fresh 4 MiB one would be a
 * new mapping faulted in at every rewind (rewindd is single-threaded).
 */
static uint8_t *queue_buffer(void)
{
	static uint8_t *buf;

	if (!buf)
		buf = malloc(QUEUE_MAX);
	return buf;
}
/* Semaphore eventfds are lowered one read at a time: this many at most. */
#define SEM_READS_MAX	65536

/* ---- pure: parse, plan, compare ---------------------------------------------------- */

enum rw_fdobj_kind fdobj_kind_of(const char *link, bool regular)
{
	if (regular)
		return RW_FDOBJ_LOCKS;
	if (!strncmp(link, "pipe:[", 6))
		return RW_FDOBJ_PIPE;
	if (!strncmp(link, "socket:[", 8))
		return RW_FDOBJ_SOCKET;
	if (!strcmp(link, "anon_inode:[eventfd]"))
		return RW_FDOBJ_EVENTFD;
	if (!strcmp(link, "anon_inode:[timerfd]"))
		return RW_FDOBJ_TIMERFD;
	if (!strcmp(link, "anon_inode:inotify"))
		return RW_FDOBJ_INOTIFY;
	if (!strcmp(link, "anon_inode:[eventpoll]"))
		return RW_FDOBJ_EPOLL;
	return 0;
}

const char *fdobj_kind_name(enum rw_fdobj_kind kind)
{
	switch (kind) {
	case RW_FDOBJ_PIPE:	return "pipe";
	case RW_FDOBJ_SOCKET:	return "unix socket";
	case RW_FDOBJ_EVENTFD:	return "eventfd";
	case RW_FDOBJ_TIMERFD:	return "timerfd";
	case RW_FDOBJ_INOTIFY:	return "inotify";
	case RW_FDOBJ_EPOLL:	return "epoll";
	case RW_FDOBJ_LOCKS:	return "file lock";
	}
	return "?";
}

static void *grow(void *arr, size_t n, size_t size)
{
	return realloc(arr, (n + 1) * size);
}

/* "lock:\t1: FLOCK  ADVISORY  WRITE 536 fe:00:10953477 0 EOF" */
static int parse_lock(const char *line, struct rw_file_lock *l)
{
	char type[16], mode[16], rw[16], end[32];
	unsigned long long start;
	int id;

	if (sscanf(line, "lock: %d: %15s %15s %15s %*d %*s %llu %31s", &id, type, mode, rw, &start,
		   end) != 6)
		return -EINVAL;
	if (!strcmp(type, "FLOCK"))
		l->type = RW_LOCK_FLOCK;
	else if (!strcmp(type, "POSIX"))
		l->type = RW_LOCK_POSIX;
	else if (!strcmp(type, "OFDLCK"))
		l->type = RW_LOCK_OFD;
	else
		return -EINVAL;	/* leases, "->" waiters: not ours to restore */
	l->write = !strcmp(rw, "WRITE");
	l->start = start;
	l->end = !strcmp(end, "EOF") ? UINT64_MAX : strtoull(end, NULL, 10);
	return 0;
}

int fdobj_parse_fdinfo(const char *text, struct rw_fdobj *o)
{
	const char *line = text;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		unsigned long long a, b, c, d;

		switch (o->kind) {
		case RW_FDOBJ_EVENTFD:
			if (sscanf(line, "eventfd-count: %llx", &a) == 1)
				o->count = a;
			else if (sscanf(line, "eventfd-semaphore: %llu", &a) == 1)
				o->semaphore = a;
			break;
		case RW_FDOBJ_TIMERFD:
			if (sscanf(line, "clockid: %llu", &a) == 1)
				o->timer.clockid = (int)a;
			else if (sscanf(line, "ticks: %llu", &a) == 1)
				o->timer.ticks = a;
			else if (sscanf(line, "settime flags: %llo", &a) == 1)
				o->timer.flags = (int)a;
			else if (sscanf(line, "it_value: (%llu, %llu)", &a, &b) == 2)
				o->timer.value = (struct timespec){ (time_t)a, (long)b };
			else if (sscanf(line, "it_interval: (%llu, %llu)", &a, &b) == 2)
				o->timer.interval = (struct timespec){ (time_t)a, (long)b };
			break;
		case RW_FDOBJ_INOTIFY:
			if (!strncmp(line, "inotify wd:", 11)) {
				struct rw_inotify_watch *w = grow(o->watches, o->nwatches, sizeof(*w));

				if (!w)
					return -ENOMEM;
				o->watches = w;
				w += o->nwatches;
				if (sscanf(line, "inotify wd:%llx ino:%llx sdev:%llx mask:%llx "
					   "ignored_mask:%x", &a, &b, &c, &d, &w->ignored_mask) != 5)
					return -EINVAL;
				w->wd = (int)a;
				w->ino = b;
				w->sdev = (uint32_t)c;
				w->mask = (uint32_t)d;
				o->nwatches++;
			}
			break;
		case RW_FDOBJ_EPOLL:
			if (!strncmp(line, "tfd:", 4)) {
				struct rw_epoll_item *it = grow(o->items, o->nitems, sizeof(*it));

				if (!it)
					return -ENOMEM;
				o->items = it;
				it += o->nitems;
				if (sscanf(line, "tfd: %llu events: %llx data: %llx pos:%*d ino:%llx",
					   &a, &b, &c, &d) != 4)
					return -EINVAL;
				it->tfd = (int)a;
				it->events = (uint32_t)b;
				it->data = c;
				it->ino = d;
				o->nitems++;
			}
			break;
		default:
			break;
		}
		/* Locks show in any fdinfo. */
		if (o->kind == RW_FDOBJ_LOCKS && !strncmp(line, "lock:", 5)) {
			struct rw_file_lock l;

			if (!parse_lock(line, &l)) {
				struct rw_file_lock *ls = grow(o->locks, o->nlocks, sizeof(*ls));

				if (!ls)
					return -ENOMEM;
				o->locks = ls;
				ls[o->nlocks++] = l;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

static int add_failure(struct rw_fdobj_plan *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int add_failure(struct rw_fdobj_plan *p, const char *fmt, ...)
{
	char **more = grow(p->failures, p->nfailures, sizeof(*more));
	va_list ap;
	int n;

	if (!more)
		return -ENOMEM;
	p->failures = more;
	va_start(ap, fmt);
	n = vasprintf(&more[p->nfailures], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	p->nfailures++;
	return 0;
}

static int add_step(struct rw_fdobj_plan *p, struct rw_fdobj_step st)
{
	struct rw_fdobj_step *more = grow(p->steps, p->n, sizeof(*more));

	if (!more)
		return -ENOMEM;
	p->steps = more;
	p->steps[p->n++] = st;
	return 0;
}

static bool queue_equal(const struct rw_fdobj *a, const struct rw_fdobj *b)
{
	if (a->len != b->len || a->nmsgs != b->nmsgs || (a->len && memcmp(a->data, b->data, a->len)))
		return false;
	return !a->nmsgs || !memcmp(a->msgs, b->msgs, a->nmsgs * sizeof(*a->msgs));
}

static bool ts_zero(struct timespec t)
{
	return !t.tv_sec && !t.tv_nsec;
}

static bool timer_settings_equal(const struct rw_timerfd *a, const struct rw_timerfd *b)
{
	return a->clockid == b->clockid && a->ticks == b->ticks && a->flags == b->flags &&
	       a->interval.tv_sec == b->interval.tv_sec &&
	       a->interval.tv_nsec == b->interval.tv_nsec &&
	       ts_zero(a->value) == ts_zero(b->value);
}

static const struct rw_inotify_watch *find_watch(const struct rw_fdobj *o, int wd)
{
	for (size_t i = 0; i < o->nwatches; i++)
		if (o->watches[i].wd == wd)
			return &o->watches[i];
	return NULL;
}

static const struct rw_epoll_item *find_item(const struct rw_fdobj *o, int tfd, uint64_t ino)
{
	for (size_t i = 0; i < o->nitems; i++)
		if (o->items[i].tfd == tfd && o->items[i].ino == ino)
			return &o->items[i];
	return NULL;
}

static bool has_lock(const struct rw_fdobj *o, const struct rw_file_lock *l)
{
	for (size_t i = 0; i < o->nlocks; i++)
		if (o->locks[i].type == l->type && o->locks[i].write == l->write &&
		    o->locks[i].start == l->start && o->locks[i].end == l->end)
			return true;
	return false;
}

int fdobj_plan(const struct rw_fdobj *want, const struct rw_fdobj *now, struct rw_fdobj_plan *p)
{
	struct rw_fdobj_step st = { .fd = want->fd };
	const char *kind = fdobj_kind_name(want->kind);
	int fd = want->fd, err = 0;

	switch (want->kind) {
	case RW_FDOBJ_PIPE:
	case RW_FDOBJ_SOCKET:
		if (!want->internal)
			break;
		if ((want->rights || now->rights) && !(queue_equal(want, now) && !now->rights))
			return add_failure(p, "fd %d: %s: file descriptors in flight (SCM_RIGHTS) and "
					   "its queue changed since the checkpoint: cannot be restored",
					   fd, kind);
		if (!queue_equal(want, now) || want->pipe_size != now->pipe_size) {
			st.kind = RW_FDSTEP_REFILL;
			err = add_step(p, st);
		}
		break;
	case RW_FDOBJ_EVENTFD:
		if (want->count != now->count) {
			st.kind = RW_FDSTEP_EVENTFD;
			err = add_step(p, st);
		}
		break;
	case RW_FDOBJ_TIMERFD:
		if (want->timer.clockid != now->timer.clockid)
			return add_failure(p, "fd %d: timerfd: clock %d, want %d: cannot be restored",
					   fd, now->timer.clockid, want->timer.clockid);
		/* An armed timer's remaining time moves on: it is re-armed at every rewind. */
		if (!timer_settings_equal(&want->timer, &now->timer) || !ts_zero(want->timer.value)) {
			st.kind = RW_FDSTEP_TIMERFD;
			err = add_step(p, st);
		}
		break;
	case RW_FDOBJ_INOTIFY:
		for (size_t i = 0; i < want->nwatches && !err; i++) {
			const struct rw_inotify_watch *w = &want->watches[i];
			const struct rw_inotify_watch *n = find_watch(now, w->wd);

			if (!n)
				err = add_failure(p, "fd %d: inotify watch %d (inode %" PRIx64 ") removed "
						  "since the checkpoint: cannot be re-added with its "
						  "number", fd, w->wd, w->ino);
			else if (n->ino != w->ino || n->sdev != w->sdev || n->mask != w->mask ||
				 n->ignored_mask != w->ignored_mask)
				err = add_failure(p, "fd %d: inotify watch %d changed since the "
						  "checkpoint (mask %x, want %x): cannot be restored",
						  fd, w->wd, n->mask, w->mask);
		}
		for (size_t i = 0; i < now->nwatches && !err; i++) {
			if (find_watch(want, now->watches[i].wd))
				continue;
			st.kind = RW_FDSTEP_INOTIFY_RM;
			st.wd = now->watches[i].wd;
			err = add_step(p, st);
		}
		if (err)
			return err;
		if (!want->queued && now->queued) {
			st.kind = RW_FDSTEP_INOTIFY_DRAIN;
			err = add_step(p, st);
		} else if (want->queued != now->queued) {
			err = add_failure(p, "fd %d: inotify: %d bytes of events queued, %d at the "
					  "checkpoint: events cannot be queued back", fd, now->queued,
					  want->queued);
		}
		break;
	case RW_FDOBJ_EPOLL:
		for (size_t i = 0; i < now->nitems && !err; i++) {
			const struct rw_epoll_item *it = &now->items[i];
			const struct rw_epoll_item *w = find_item(want, it->tfd, it->ino);

			if (w && w->events == it->events && w->data == it->data)
				continue;
			st.kind = w ? RW_FDSTEP_EPOLL_MOD : RW_FDSTEP_EPOLL_DEL;
			st.item = w ? *w : *it;
			err = add_step(p, st);
		}
		for (size_t i = 0; i < want->nitems && !err; i++) {
			if (find_item(now, want->items[i].tfd, want->items[i].ino))
				continue;
			st.kind = RW_FDSTEP_EPOLL_ADD;
			st.item = want->items[i];
			err = add_step(p, st);
		}
		break;
	case RW_FDOBJ_LOCKS:
		for (size_t i = 0; i < now->nlocks && !err; i++) {
			if (has_lock(want, &now->locks[i]))
				continue;
			st.kind = RW_FDSTEP_UNLOCK;
			st.lock = now->locks[i];
			err = add_step(p, st);
		}
		for (size_t i = 0; i < want->nlocks && !err; i++) {
			if (has_lock(now, &want->locks[i]))
				continue;
			st.kind = RW_FDSTEP_LOCK;
			st.lock = want->locks[i];
			err = add_step(p, st);
		}
		break;
	}
	return err;
}

void fdobj_plan_free(struct rw_fdobj_plan *p)
{
	for (size_t i = 0; i < p->nfailures; i++)
		free(p->failures[i]);
	free(p->failures);
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

static const char *lock_name(enum rw_lock_type t)
{
	return t == RW_LOCK_FLOCK ? "flock" : t == RW_LOCK_POSIX ? "POSIX lock" : "OFD lock";
}

size_t fdobj_compare(const struct rw_fdobj *want, const struct rw_fdobj *now, char **lines,
		     size_t max)
{
	struct rw_fdobj_plan p = { 0 };
	size_t n = 0;
	char *s;

#define LINE(...) do { if (n < max && asprintf(&s, __VA_ARGS__) >= 0) lines[n++] = s; } while (0)
	if (fdobj_plan(want, now, &p)) {
		LINE("fd %d: %s: out of memory comparing it", want->fd, fdobj_kind_name(want->kind));
		return n;
	}
	for (size_t i = 0; i < p.nfailures; i++)
		LINE("%s", p.failures[i]);
	for (size_t i = 0; i < p.n; i++) {
		const struct rw_fdobj_step *st = &p.steps[i];
		int fd = want->fd;

		switch (st->kind) {
		case RW_FDSTEP_REFILL:
			LINE("fd %d: %s: %zu bytes queued (pipe size %d), want %zu (pipe size %d)", fd,
			     fdobj_kind_name(want->kind), now->len, now->pipe_size, want->len,
			     want->pipe_size);
			break;
		case RW_FDSTEP_EVENTFD:
			LINE("fd %d: eventfd count %" PRIu64 ", want %" PRIu64, fd, now->count,
			     want->count);
			break;
		case RW_FDSTEP_TIMERFD:
			/* The remaining time of an armed timer is not compared: it runs on. */
			if (!timer_settings_equal(&want->timer, &now->timer))
				LINE("fd %d: timerfd: ticks %" PRIu64 " flags %o interval %lld.%09ld %s, "
				     "want ticks %" PRIu64 " flags %o interval %lld.%09ld %s", fd,
				     now->timer.ticks, now->timer.flags,
				     (long long)now->timer.interval.tv_sec, now->timer.interval.tv_nsec,
				     ts_zero(now->timer.value) ? "disarmed" : "armed", want->timer.ticks,
				     want->timer.flags, (long long)want->timer.interval.tv_sec,
				     want->timer.interval.tv_nsec,
				     ts_zero(want->timer.value) ? "disarmed" : "armed");
			break;
		case RW_FDSTEP_INOTIFY_RM:
			LINE("fd %d: inotify watch %d added since the checkpoint", fd, st->wd);
			break;
		case RW_FDSTEP_INOTIFY_DRAIN:
			LINE("fd %d: inotify: %d bytes of events queued, want none", fd, now->queued);
			break;
		case RW_FDSTEP_EPOLL_DEL:
			LINE("fd %d: epoll: fd %d added since the checkpoint", fd, st->item.tfd);
			break;
		case RW_FDSTEP_EPOLL_ADD:
			LINE("fd %d: epoll: fd %d removed since the checkpoint", fd, st->item.tfd);
			break;
		case RW_FDSTEP_EPOLL_MOD:
			LINE("fd %d: epoll: fd %d events or data changed (want events %x)", fd,
			     st->item.tfd, st->item.events);
			break;
		case RW_FDSTEP_UNLOCK:
		case RW_FDSTEP_LOCK:
			LINE("fd %d: %s %s %s [%" PRIu64 ", %s] %s since the checkpoint", fd,
			     st->lock.write ? "write" : "read", lock_name(st->lock.type),
			     st->kind == RW_FDSTEP_UNLOCK ? "held" : "not held", st->lock.start,
			     st->lock.end == UINT64_MAX ? "EOF" : "end",
			     st->kind == RW_FDSTEP_UNLOCK ? "taken" : "released");
			break;
		}
	}
#undef LINE
	fdobj_plan_free(&p);
	return n;
}

/* ---- reading an object ------------------------------------------------------------- */

void fdobj_free(struct rw_fdobj *o)
{
	free(o->data);
	free(o->msgs);
	free(o->watches);
	free(o->items);
	free(o->locks);
	o->data = NULL;
	o->msgs = NULL;
	o->watches = NULL;
	o->items = NULL;
	o->locks = NULL;
	o->len = o->nmsgs = o->nwatches = o->nitems = o->nlocks = 0;
}

void fdobjs_free(struct rw_fdobjs *objs)
{
	for (size_t i = 0; i < objs->n; i++) {
		fdobj_free(&objs->v[i]);
		if (objs->fdinfo && objs->fdinfo[i] >= 0)
			close(objs->fdinfo[i]);
	}
	if (objs->fdinfo && objs->scratch.rd >= 0) {
		close(objs->scratch.rd);
		close(objs->scratch.wr);
	}
	free(objs->fdinfo);
	free(objs->v);
	objs->v = NULL;
	objs->fdinfo = NULL;
	objs->n = 0;
}

bool fdobj_any(const struct rw_fdobjs *objs)
{
	return objs && objs->n;
}

static void scratch_close(struct rw_scratch_pipe *s)
{
	if (s->rd >= 0) {
		close(s->rd);
		close(s->wr);
	}
	*s = (struct rw_scratch_pipe){ .rd = -1, .wr = -1 };
}

/* s made (if none yet) and grown to hold at least size bytes; empty when the caller keeps it so. */
static int scratch_ready(struct rw_scratch_pipe *s, int size)
{
	int p[2];

	if (s->rd < 0) {
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
			return -errno;
		*s = (struct rw_scratch_pipe){ .rd = p[0], .wr = p[1] };
	}
	if (s->size < size) {
		s->size = fcntl(s->wr, F_SETPIPE_SZ, size);
		if (s->size < 0) {
			int err = -errno;

			scratch_close(s);
			return err;
		}
	}
	return 0;
}

/*
 * The bytes queued in the pipe whose read end is ref, without consuming
 * them: tee into a pipe of ours (scratch: kept between calls, may be NULL),
 * read back from it.
 */
static int read_pipe(int ref, struct rw_scratch_pipe *scratch, struct rw_fdobj *o)
{
	struct rw_scratch_pipe local = { .rd = -1, .wr = -1 }, *s = scratch ? scratch : &local;
	int queued = 0, err;
	ssize_t got;

	o->pipe_size = fcntl(ref, F_GETPIPE_SZ);
	if (o->pipe_size < 0 || ioctl(ref, FIONREAD, &queued))
		return -errno;
	if (!queued)
		return 0;
	o->data = malloc(queued);
	if (!o->data)
		return -ENOMEM;
	err = scratch_ready(s, o->pipe_size);
	if (err)
		return err;
	got = tee(ref, s->wr, queued, SPLICE_F_NONBLOCK);
	if (got == queued)
		got = read(s->rd, o->data, queued);
	err = got < 0 ? -errno : got != queued ? -EIO : 0;
	/* Not known to be empty again, or not ours to keep: closed. */
	if (err || !scratch)
		scratch_close(s);
	if (!err)
		o->len = queued;
	return err;
}

/* recvmsg(MSG_PEEK) from the current peek offset; closes any fds it was handed. */
static ssize_t peek_one(int ref, uint8_t *buf, size_t len, bool *rights)
{
	char cbuf[CMSG_SPACE(64 * sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t got = recvmsg(ref, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);

	if (got < 0)
		return -errno;
	if (m.msg_flags & MSG_CTRUNC)
		*rights = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		*rights = true;
		for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++)
			close(((int *)CMSG_DATA(c))[k]);
	}
	return got;
}

/*
 * The receive queue of a unix socket, peeked message by message from a
 * peek offset (SO_PEEK_OFF moves on by what each peek returned); the
 * socket's own offset is put back.
 */
static int read_socket(int ref, struct rw_fdobj *o)
{
	socklen_t sl = sizeof(int);
	int old = -1, zero = 0, err = 0;
	uint8_t *buf = queue_buffer();

	if (!buf)
		return -ENOMEM;
	if (getsockopt(ref, SOL_SOCKET, SO_TYPE, &o->sotype, &sl) ||
	    getsockopt(ref, SOL_SOCKET, SO_PEEK_OFF, &old, &sl) ||
	    setsockopt(ref, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		return -errno;
	for (;;) {
		ssize_t got = peek_one(ref, buf, QUEUE_MAX - o->len, &o->rights);
		uint8_t *d;

		if (got == -EAGAIN)
			break;
		if (got < 0 || (size_t)got > QUEUE_MAX - o->len) {
			err = got < 0 ? (int)got : -EMSGSIZE;
			break;
		}
		if (o->sotype == SOCK_STREAM && !got)
			break;	/* the peer shut down its side: nothing more */
		d = realloc(o->data, o->len + got + 1);
		if (!d) {
			err = -ENOMEM;
			break;
		}
		o->data = d;
		memcpy(o->data + o->len, buf, got);
		o->len += got;
		if (o->sotype != SOCK_STREAM) {
			size_t *m = grow(o->msgs, o->nmsgs, sizeof(*m));

			if (!m) {
				err = -ENOMEM;
				break;
			}
			o->msgs = m;
			o->msgs[o->nmsgs++] = got;
			/* A zero-length datagram does not move the offset on. */
			if (!got) {
				err = -ENOTSUP;
				break;
			}
		}
	}
	if (setsockopt(ref, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old)) && !err)
		err = -errno;
	return err;
}

/*
 * fd's fdinfo in process tgid, parsed into o. cache (may be NULL): the
 * file kept open between calls (-1: open it now); an fdinfo that does not
 * fit a page or two (an epoll set of hundreds) is read whole instead.
 */
static int read_fdinfo(pid_t tgid, int fd, int *cache, struct rw_fdobj *o)
{
	char path[64], *text = NULL, small[8192];
	ssize_t got;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", tgid, fd);
	if (cache && *cache < 0 && (*cache = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (cache) {
		got = pread(*cache, small, sizeof(small) - 1, 0);
		if (got < 0)
			return -errno;
		if ((size_t)got < sizeof(small) - 1) {
			small[got] = '\0';
			return fdobj_parse_fdinfo(small, o);
		}
	}
	err = read_whole_file(AT_FDCWD, path, 1 << 20, &text, &len);
	if (err)
		return err;
	err = fdobj_parse_fdinfo(text, o);
	free(text);
	return err;
}

/*
 * The state of one object through our reference ref to it; fdinfo:
 * read_fdinfo's cache, scratch: read_pipe's (both may be NULL).
 */
static int read_object(pid_t tgid, int ref, int *fdinfo, struct rw_scratch_pipe *scratch,
		       struct rw_fdobj *o)
{
	int err = 0;

	switch (o->kind) {
	case RW_FDOBJ_PIPE:
		return read_pipe(ref, scratch, o);
	case RW_FDOBJ_SOCKET:
		return read_socket(ref, o);
	case RW_FDOBJ_INOTIFY:
		if (ioctl(ref, FIONREAD, &o->queued))
			return -errno;
		break;
	default:
		break;
	}
	err = read_fdinfo(tgid, o->fd, fdinfo, o);
	if (!err && o->kind == RW_FDOBJ_TIMERFD && (o->timer.flags & TFD_TIMER_ABSTIME)) {
		struct timespec now;

		if (clock_gettime(o->timer.clockid, &now))
			return -errno;
		o->abs_deadline.tv_sec = now.tv_sec + o->timer.value.tv_sec;
		o->abs_deadline.tv_nsec = now.tv_nsec + o->timer.value.tv_nsec;
		if (o->abs_deadline.tv_nsec >= 1000000000L) {
			o->abs_deadline.tv_sec++;
			o->abs_deadline.tv_nsec -= 1000000000L;
		}
	}
	return err;
}

/*
 * A sock_diag socket in network namespace nsfd: made there (a socket stays
 * in the namespace it was made in), by this thread entering it and coming
 * back. -errno.
 */
static int diag_socket_in(int nsfd)
{
	int self, s = -1, err = 0;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(nsfd, CLONE_NEWNET)) {
		err = -errno;
		goto out;
	}
	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0)
		err = -errno;
	/* Back home, or everything this thread opened from now on would be in the other one. */
	if (setns(self, CLONE_NEWNET)) {
		pr_err("cannot return to rewindd's network namespace: %s\n", strerror(errno));
		abort();
	}
out:
	if (self >= 0)
		close(self);
	return err ? err : s;
}

/*
 * A sock_diag socket where unix socket sock is listed: its own network
 * namespace (SIOCGSKNS), which may not be its holder's (a socket passed over
 * SCM_RIGHTS, or made before an unshare). *diag is kept from one socket to
 * the next while the namespace (*ns, its inode) stays the same. 0 or -errno.
 */
static int diag_socket_for(int sock, int *diag, uint64_t *ns)
{
	int nsfd = ioctl(sock, SIOCGSKNS), err = 0;
	struct stat st;

	if (nsfd < 0 || fstat(nsfd, &st))
		err = -errno;
	else if (*diag < 0 || (uint64_t)st.st_ino != *ns) {
		if (*diag >= 0)
			close(*diag);
		*diag = diag_socket_in(nsfd);
		*ns = st.st_ino;
		if (*diag < 0)
			err = *diag;
	}
	if (nsfd >= 0)
		close(nsfd);
	return err;
}

/*
 * The peer inode of unix socket ino by sock_diag on diag (in the socket's
 * network namespace): *peer 0 when it has none (listening, unconnected).
 * 0 or -errno: a peer that could not be looked up is not "none" (the queue
 * of a socketpair between two processes of the session would go
 * uncaptured).
 */
static int unix_peer(int diag, uint64_t ino, uint64_t *peer)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)ino,
			 .udiag_show = UDIAG_SHOW_PEER, .udiag_cookie = { ~0u, ~0u } },
	};
	char buf[1024] __attribute__((aligned(4)));
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t got;

	*peer = 0;
	if (send(diag, &msg, sizeof(msg), 0) != sizeof(msg) ||
	    (got = recv(diag, buf, sizeof(buf), 0)) < 0)
		return -errno;
	if (!NLMSG_OK(h, (size_t)got))
		return -EPROTO;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		return e->error < 0 ? e->error : -EPROTO;
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return -EPROTO;
	{
		struct unix_diag_msg *m = NLMSG_DATA(h);
		struct rtattr *a = (struct rtattr *)(m + 1);
		int alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

		for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
			if (a->rta_type == UNIX_DIAG_PEER)
				*peer = *(uint32_t *)RTA_DATA(a);
	}
	return 0;
}

int fdobj_capture(pid_t tgid, const int *fds, const char (*links)[256], const bool *regular,
		  size_t n, struct rw_fdobjs *out)
{
	int pidfd = -1, diag = -1, err = 0;
	uint64_t diag_ns = 0;

	out->v = NULL;
	out->n = 0;
	for (size_t i = 0; i < n && !err; i++) {
		enum rw_fdobj_kind kind = fdobj_kind_of(links[i], regular[i]);
		struct rw_fdobj o = { .fd = fds[i], .kind = kind, .held = -1 };
		struct rw_fdobj *more;
		struct stat st;
		int ref, fl;

		if (!kind)
			continue;
		if (pidfd < 0 && (pidfd = sys_pidfd_open(tgid, 0)) < 0)
			return -errno;
		ref = sys_pidfd_getfd(pidfd, fds[i], 0);
		if (ref < 0) {
			err = -errno;
			pr_err("pid %d: fd %d (%s): taking a reference: %s\n", tgid, fds[i], links[i],
			       strerror(errno));
			break;
		}
		if (fstat(ref, &st) || (fl = fcntl(ref, F_GETFL)) < 0) {
			err = -errno;
			close(ref);
			break;
		}
		o.ino = st.st_ino;
		if (kind == RW_FDOBJ_PIPE && (fl & O_ACCMODE) == O_WRONLY) {
			o.peer_fd = -1;	/* a write end: only for classify() */
			o.sotype = -1;
		} else if (kind == RW_FDOBJ_SOCKET) {
			int dom = 0;
			socklen_t sl = sizeof(dom);

			if (getsockopt(ref, SOL_SOCKET, SO_DOMAIN, &dom, &sl)) {
				err = -errno;
				close(ref);
				break;
			}
			if (dom != AF_UNIX) {
				close(ref);
				continue;	/* TCP and the rest: a peer outside, left alone */
			}
			err = diag_socket_for(ref, &diag, &diag_ns);
			if (err) {
				pr_err("pid %d: fd %d (%s): a sock_diag socket in its network "
				       "namespace: %s\n", tgid, fds[i], links[i], strerror(-err));
				close(ref);
				break;
			}
			err = unix_peer(diag, o.ino, &o.peer_ino);
			if (err) {
				pr_err("pid %d: fd %d (%s): looking up its peer: %s\n", tgid,
				       fds[i], links[i], strerror(-err));
				close(ref);
				break;
			}
			if (!o.peer_ino) {
				close(ref);
				continue;
			}
		}
		/* Queues are read when the object turns out internal (classify). */
		if (kind != RW_FDOBJ_PIPE && kind != RW_FDOBJ_SOCKET)
			err = read_object(tgid, ref, NULL, NULL, &o);
		close(ref);
		if (err) {
			pr_err("pid %d: fd %d (%s): reading its %s: %s\n", tgid, fds[i], links[i],
			       fdobj_kind_name(kind), strerror(-err));
			fdobj_free(&o);
			break;
		}
		more = grow(out->v, out->n, sizeof(*more));
		if (!more) {
			fdobj_free(&o);
			err = -ENOMEM;
			break;
		}
		out->v = more;
		out->v[out->n++] = o;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (diag >= 0)
		close(diag);
	if (err)
		fdobjs_free(out);
	return err;
}

/* ---- across the session ------------------------------------------------------------ */

static bool is_write_end(const struct rw_fdobj *o)
{
	return o->kind == RW_FDOBJ_PIPE && o->sotype == -1;
}

/* Whether a process other than pids[] (and us) has an fd on one of inos. */
static int held_outside(const pid_t *pids, size_t npids, const uint64_t *inos,
			const enum rw_fdobj_kind *kinds, size_t nino, bool *outside)
{
	pid_t self = getpid(), *all;
	size_t nall;
	int err = proc_list_pids(&all, &nall);

	for (size_t p = 0; p < nall && !err; p++) {
		pid_t pid = all[p];
		int *fds = NULL;
		size_t nfds = 0;
		bool ours = pid == self;

		for (size_t i = 0; i < npids; i++)
			ours |= pids[i] == pid;
		if (ours)
			continue;
		/* Unknown holders: the object cannot be called the session's. */
		err = proc_list_fds(pid, &fds, &nfds);
		if (err == -ESRCH) {
			err = 0;	/* gone */
			continue;
		}
		for (size_t f = 0; f < nfds && !err; f++) {
			char path[64], link[64];
			ssize_t len;

			snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fds[f]);
			len = readlink(path, link, sizeof(link) - 1);
			/*
			 * Unknown holder, as above; but a process whose fds even root may
			 * not read (EACCES: this machine kind's pid 1, a sandbox's init in
			 * another user namespace) is passed, as it always was: failing
			 * would refuse every checkpoint with a pipe or a socket there.
			 */
			if (len < 0 && errno != ENOENT && errno != ESRCH && errno != EACCES)
				err = -errno;
			if (len <= 0)
				continue;	/* closed meanwhile */
			link[len] = '\0';
			for (size_t k = 0; k < nino; k++) {
				char want[48];

				snprintf(want, sizeof(want), "%s:[%" PRIu64 "]",
					 kinds[k] == RW_FDOBJ_PIPE ? "pipe" : "socket", inos[k]);
				if (!strcmp(link, want))
					outside[k] = true;
			}
		}
		free(fds);
	}
	free(all);
	return err;
}

int fdobj_classify(const pid_t *pids, struct rw_fdobjs *const *objs, size_t n)
{
	uint64_t *inos = NULL;
	enum rw_fdobj_kind *kinds = NULL;
	bool *outside = NULL;
	size_t ncand = 0;
	int err = 0;

	/* Candidates: a pipe read end with a write end in the session, a socket whose peer is. */
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < objs[i]->n; k++) {
			struct rw_fdobj *o = &objs[i]->v[k];
			bool dup = false;

			o->internal = false;
			if ((o->kind != RW_FDOBJ_PIPE && o->kind != RW_FDOBJ_SOCKET) || is_write_end(o))
				continue;
			for (size_t j = 0; j <= i && !dup; j++)
				for (size_t m = 0; m < objs[j]->n && &objs[j]->v[m] != o; m++)
					dup |= objs[j]->v[m].internal && objs[j]->v[m].ino == o->ino &&
						objs[j]->v[m].kind == o->kind;
			if (dup)
				continue;	/* one fd per object restores it */
			for (size_t j = 0; j < n && !o->internal; j++) {
				for (size_t m = 0; m < objs[j]->n && !o->internal; m++) {
					const struct rw_fdobj *q = &objs[j]->v[m];
					bool peer = o->kind == RW_FDOBJ_PIPE ?
						(is_write_end(q) && q->ino == o->ino) :
						(q->kind == RW_FDOBJ_SOCKET && q->ino == o->peer_ino);

					if (peer) {
						o->internal = true;
						o->peer_pid = pids[j];
						o->peer_fd = q->fd;
					}
				}
			}
			if (!o->internal)
				continue;
			inos = grow(inos, ncand, sizeof(*inos));
			kinds = grow(kinds, ncand, sizeof(*kinds));
			if (!inos || !kinds) {
				err = -ENOMEM;
				goto out;
			}
			inos[ncand] = o->ino;
			kinds[ncand++] = o->kind;
			if (o->kind == RW_FDOBJ_SOCKET) {
				inos = grow(inos, ncand, sizeof(*inos));
				kinds = grow(kinds, ncand, sizeof(*kinds));
				if (!inos || !kinds) {
					err = -ENOMEM;
					goto out;
				}
				inos[ncand] = o->peer_ino;
				kinds[ncand++] = o->kind;
			}
		}
	}
	if (!ncand)
		goto out;
	outside = calloc(ncand, sizeof(*outside));
	err = outside ? held_outside(pids, n, inos, kinds, ncand, outside) : -ENOMEM;
	/* An end held outside: the object is not the session's to rewind. Else read its queue. */
	for (size_t i = 0; i < n && !err; i++) {
		int pidfd = -1;

		for (size_t k = 0; k < objs[i]->n && !err; k++) {
			struct rw_fdobj *o = &objs[i]->v[k];
			int ref;

			if (!o->internal)
				continue;
			for (size_t c = 0; c < ncand; c++)
				if (kinds[c] == o->kind && outside[c] &&
				    (inos[c] == o->ino ||
				     (o->kind == RW_FDOBJ_SOCKET && inos[c] == o->peer_ino)))
					o->internal = false;
			if (!o->internal)
				continue;
			if (pidfd < 0 && (pidfd = sys_pidfd_open(pids[i], 0)) < 0) {
				err = -errno;
				break;
			}
			ref = sys_pidfd_getfd(pidfd, o->fd, 0);
			if (ref < 0) {
				err = -errno;
				break;
			}
			err = read_object(pids[i], ref, NULL, NULL, o);
			close(ref);
			if (err)
				pr_err("pid %d: fd %d: reading the %s queue: %s\n", pids[i], o->fd,
				       fdobj_kind_name(o->kind), strerror(-err));
		}
		if (pidfd >= 0)
			close(pidfd);
	}
out:
	free(inos);
	free(kinds);
	free(outside);
	return err;
}

/* ---- rewind and verify ------------------------------------------------------------- */

/*
 * Our reference to fd of pid. Its inode must be ino: that tells a pipe or a
 * socket apart; eventfd, timerfd, inotify and epoll share one anonymous
 * inode, and are the checkpoint's because the fd table was restored first
 * (every entry kcmp'd against the held description).
 */
static int take_ref(pid_t pid, int fd, uint64_t ino)
{
	int pidfd = sys_pidfd_open(pid, 0), ref;
	struct stat st;

	if (pidfd < 0)
		return -errno;
	ref = sys_pidfd_getfd(pidfd, fd, 0);
	ref = ref < 0 ? -errno : ref;
	close(pidfd);
	if (ref >= 0 && (fstat(ref, &st) || st.st_ino != ino)) {
		close(ref);
		ref = -ESTALE;
	}
	return ref;
}

static bool want_now(const struct rw_fdobj *o, bool locks)
{
	if (o->kind == RW_FDOBJ_PIPE || o->kind == RW_FDOBJ_SOCKET)
		return o->internal;
	return o->kind != RW_FDOBJ_LOCKS || locks;
}

/*
 * What the object is now: through held, the image's reference, when it is
 * not -1 (the fd table is the checkpoint's again when objects are rewound,
 * every entry restored or vouched for, so fd N is that very description,
 * and taking it anew, pidfd_open, pidfd_getfd, fstat, close, is a third of a
 * pipe's cost), else through one taken now. fdinfo: read_fdinfo's cache
 * (may be NULL). *ref is ours to close only when it differs from held.
 */
static int observe(pid_t tgid, const struct rw_fdobj *want, int held, int *fdinfo,
		   struct rw_scratch_pipe *scratch, int *ref, struct rw_fdobj *now)
{
	*now = (struct rw_fdobj){ .fd = want->fd, .kind = want->kind, .ino = want->ino,
				  .internal = want->internal, .sotype = want->sotype, .held = -1 };
	*ref = held >= 0 ? held : take_ref(tgid, want->fd, want->ino);
	if (*ref < 0)
		return *ref;
	return read_object(tgid, *ref, fdinfo, scratch, now);
}

static int drain_socket(int ref, int sotype)
{
	char cbuf[CMSG_SPACE(64 * sizeof(int))];
	uint8_t *buf = queue_buffer();
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct iovec iov = { buf, QUEUE_MAX };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		ssize_t got = recvmsg(ref, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (got < 0) {
			err = errno == EAGAIN ? 0 : -errno;
			break;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++)
					close(((int *)CMSG_DATA(c))[k]);
		if (!got && sotype == SOCK_STREAM)
			break;	/* the peer shut down: a stream at EOF reads 0 for ever */
	}
	return err;
}

static int refill(const struct rw_fdobj *want, int ref)
{
	int peer = take_ref(want->peer_pid, want->peer_fd, want->kind == RW_FDOBJ_PIPE ? want->ino :
			    want->peer_ino);
	int err = 0;

	if (peer < 0)
		return peer;
	if (want->kind == RW_FDOBJ_PIPE) {
		uint8_t buf[4096];
		int avail;

		/* Exactly what is there: a read of no more than what is queued never blocks. */
		while (!err) {
			if (ioctl(ref, FIONREAD, &avail)) {
				err = -errno;
				break;
			}
			if (avail <= 0)
				break;
			if (read(ref, buf, avail < (int)sizeof(buf) ? avail : (int)sizeof(buf)) <= 0)
				err = -errno;
		}
		if (!err && fcntl(ref, F_GETPIPE_SZ) != want->pipe_size &&
		    fcntl(ref, F_SETPIPE_SZ, want->pipe_size) < 0)
			err = -errno;
		/* An empty pipe of the checkpoint's size takes the checkpoint's bytes at once. */
		for (size_t off = 0; !err && off < want->len;) {
			ssize_t put = write(peer, want->data + off, want->len - off);

			if (put <= 0)
				err = put < 0 ? -errno : -EIO;
			else
				off += put;
		}
	} else {
		err = drain_socket(ref, want->sotype);
		if (want->sotype == SOCK_STREAM) {
			for (size_t off = 0; !err && off < want->len;) {
				ssize_t put = send(peer, want->data + off, want->len - off,
						   MSG_DONTWAIT | MSG_NOSIGNAL);

				if (put <= 0)
					err = put < 0 ? -errno : -EIO;
				else
					off += put;
			}
		} else {
			for (size_t m = 0, off = 0; !err && m < want->nmsgs; off += want->msgs[m++])
				if (send(peer, want->data + off, want->msgs[m],
					 MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)want->msgs[m])
					err = errno ? -errno : -EIO;
		}
	}
	close(peer);
	return err;
}

static int set_eventfd(const struct rw_fdobj *want, const struct rw_fdobj *now, int ref)
{
	uint64_t v, cur = now->count;

	/* Only read what is there (a read of zero blocks): all of it, or one at a time. */
	if (!now->semaphore && cur) {
		if (read(ref, &v, 8) != 8)
			return -errno;
		cur = 0;
	}
	if (now->semaphore && cur > want->count && cur - want->count > SEM_READS_MAX)
		return -E2BIG;
	while (now->semaphore && cur > want->count) {
		if (read(ref, &v, 8) != 8)
			return -errno;
		cur--;
	}
	v = want->count - cur;
	if (v && write(ref, &v, 8) != 8)
		return -errno;
	return 0;
}

static int set_timerfd(const struct rw_fdobj *want, const struct rw_fdobj *now, int ref)
{
	struct itimerspec its = { .it_interval = want->timer.interval, .it_value = want->timer.value };
	uint64_t ticks;

	/* Disarming first drops the ticks that expired (TFD_IOC_SET_TICKS puts the checkpoint's). */
	if (now->timer.ticks && read(ref, &ticks, 8) != 8)
		return -errno;
	if (want->timer.flags & TFD_TIMER_ABSTIME)
		its.it_value = want->abs_deadline;
	if (timerfd_settime(ref, want->timer.flags, &its, NULL))
		return -errno;
	ticks = want->timer.ticks;
	if (ticks && ioctl(ref, TFD_IOC_SET_TICKS, &ticks))
		return -errno;
	return 0;
}

static int drain_inotify(int ref)
{
	uint8_t buf[4096];
	int avail;

	for (;;) {
		if (ioctl(ref, FIONREAD, &avail))
			return -errno;
		if (avail <= 0)
			return 0;
		if (read(ref, buf, sizeof(buf)) <= 0)
			return -errno;
	}
}

static int set_lock(const struct rw_fdobj_step *st, int ref, struct rw_remote *r)
{
	struct flock fl = {
		.l_type = st->kind == RW_FDSTEP_UNLOCK ? F_UNLCK : st->lock.write ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)st->lock.start,
		.l_len = st->lock.end == UINT64_MAX ? 0 : (off_t)(st->lock.end - st->lock.start + 1),
	};

	switch (st->lock.type) {
	case RW_LOCK_FLOCK:
		/* Owned by the open file description: ours is the same one. */
		if (flock(ref, st->kind == RW_FDSTEP_UNLOCK ? LOCK_UN :
			  (st->lock.write ? LOCK_EX : LOCK_SH) | LOCK_NB))
			return -errno;
		return 0;
	case RW_LOCK_OFD:
		return fcntl(ref, F_OFD_SETLK, &fl) ? -errno : 0;
	case RW_LOCK_POSIX:
		/* Owned by the process: only it can take or release them. */
		return r ? remote_fcntl_lock(r, st->fd, &fl) : -ENOSYS;
	}
	return -EINVAL;
}

static int apply_step(const struct rw_fdobj *want, const struct rw_fdobj *now,
		      const struct rw_fdobj_step *st, int ref, struct rw_remote *r)
{
	switch (st->kind) {
	case RW_FDSTEP_REFILL:
		return refill(want, ref);
	case RW_FDSTEP_EVENTFD:
		return set_eventfd(want, now, ref);
	case RW_FDSTEP_TIMERFD:
		return set_timerfd(want, now, ref);
	case RW_FDSTEP_INOTIFY_RM:
		/* Watch numbers belong to the inotify instance: ours is the same one. */
		return inotify_rm_watch(ref, st->wd) ? -errno : 0;
	case RW_FDSTEP_INOTIFY_DRAIN:
		return drain_inotify(ref);
	case RW_FDSTEP_EPOLL_DEL:
	case RW_FDSTEP_EPOLL_ADD:
	case RW_FDSTEP_EPOLL_MOD:
		/* Items are keyed by the target's fd numbers: the call runs inside it. */
		if (!r)
			return -ENOSYS;
		return remote_epoll_ctl(r, st->fd, st->kind == RW_FDSTEP_EPOLL_DEL ? EPOLL_CTL_DEL :
					st->kind == RW_FDSTEP_EPOLL_ADD ? EPOLL_CTL_ADD :
					EPOLL_CTL_MOD, st->item.tfd, st->item.events,
					st->item.data);
	case RW_FDSTEP_UNLOCK:
	case RW_FDSTEP_LOCK:
		return set_lock(st, ref, r);
	}
	return -EINVAL;
}

int fdobj_rewind(pid_t tgid, struct rw_fdobjs *objs, bool locks, struct rw_remote *r,
		 uint64_t *nsteps, char *why, size_t whylen)
{
	int err = 0;

	/* Without memory for it: each object's fdinfo opened anew, as before the first rewind. */
	if (objs && objs->n && !objs->fdinfo && (objs->fdinfo = malloc(objs->n * sizeof(int)))) {
		for (size_t i = 0; i < objs->n; i++)
			objs->fdinfo[i] = -1;
		objs->scratch = (struct rw_scratch_pipe){ .rd = -1, .wr = -1 };
	}

	for (size_t i = 0; objs && i < objs->n && !err; i++) {
		const struct rw_fdobj *want = &objs->v[i];
		struct rw_fdobj now;
		struct rw_fdobj_plan p = { 0 };
		const char *kind = fdobj_kind_name(want->kind);
		int ref = -1;

		if (!want_now(want, locks))
			continue;
		err = observe(tgid, want, want->held, objs->fdinfo ? &objs->fdinfo[i] : NULL,
			      objs->fdinfo ? &objs->scratch : NULL, &ref, &now);
		if (err) {
			err = rw_why(why, whylen, err, "pid %d: fd %d: %s: reading it", tgid, want->fd,
				     kind);
			goto next;
		}
		err = fdobj_plan(want, &now, &p);
		if (!err && p.nfailures) {
			snprintf(why, whylen, "pid %d: %s", tgid, p.failures[0]);
			err = -ENOTRECOVERABLE;
		}
		for (size_t k = 0; k < p.n && !err; k++) {
			err = apply_step(want, &now, &p.steps[k], ref, r);
			if (err)
				err = rw_why(why, whylen, err, "pid %d: fd %d: %s: cannot be restored",
					     tgid, want->fd, kind);
		}
		*nsteps += p.n;
next:
		fdobj_plan_free(&p);
		fdobj_free(&now);
		if (ref >= 0 && ref != want->held)
			close(ref);
	}
	return err;
}

int fdobj_verify(pid_t tgid, const struct rw_fdobjs *objs, char **lines, size_t max,
		 size_t *nlines, uint64_t *differences)
{
	for (size_t i = 0; objs && i < objs->n; i++) {
		const struct rw_fdobj *want = &objs->v[i];
		struct rw_fdobj now;
		char *tmp[8];
		size_t k, m;
		int ref = -1, err;

		if (!want_now(want, true))
			continue;
		err = observe(tgid, want, -1, NULL, NULL, &ref, &now);
		if (ref >= 0)
			close(ref);
		if (err) {
			fdobj_free(&now);
			if (*nlines < max && asprintf(&lines[*nlines], "fd %d: %s: cannot be read: %s",
						      want->fd, fdobj_kind_name(want->kind),
						      strerror(-err)) >= 0)
				(*nlines)++;
			(*differences)++;
			continue;
		}
		m = fdobj_compare(want, &now, tmp, 8);
		fdobj_free(&now);
		for (k = 0; k < m; k++) {
			if (*nlines < max)
				lines[(*nlines)++] = tmp[k];
			else
				free(tmp[k]);
		}
		*differences += m;
	}
	return 0;
}
