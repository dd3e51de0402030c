// SPDX-License-Identifier: GPL-2.0-only
/* SysV IPC and POSIX message queues of an IPC namespace: snapshot, plan, apply (ipc.h). */
#define LOG_PREFIX "ipc: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "ipc.h"
#include "proc.h"
#include "log.h"
#include "rewind/syscalls.h"

#ifndef MSG_COPY
#define MSG_COPY	040000
#endif
#define MQUEUE_MAGIC	0x19800202
#define TRAILER_MAGIC	0x49504321u	/* "IPC!" */

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

const char *ipc_kind_name(int kind)
{
	switch (kind) {
	case RW_IPC_SHM:	return "SysV shared memory segment";
	case RW_IPC_SEM:	return "SysV semaphore set";
	case RW_IPC_MSG:	return "SysV message queue";
	case RW_IPC_MQ:		return "POSIX message queue";
	}
	return "IPC object";
}

int64_t ipc_ns_of(pid_t pid)
{
	struct stat st;
	int err = proc_stat_link(pid, "ns/ipc", &st);

	return err ? err : (int64_t)st.st_ino;
}

/* --- the helper process --- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		len -= w;
	}
	return 0;
}

struct helper_out {
	int err;
	char why[256];
};

/*
 * Run fn in a child forked from here that has entered nsfd's IPC namespace
 * (unless it is already ours); what fn writes to its fd lands in *buf. The
 * child ends its output with a trailer: its why, the why's length, its
 * error and a magic; no trailer means it died.
 */
static int run_helper(int nsfd, bool own, int (*fn)(void *arg, int wfd, char *why, size_t whylen),
		      void *arg, unsigned char **buf, size_t *len, char *why, size_t whylen)
{
	unsigned char *b = NULL;
	size_t n = 0, cap = 0;
	int p[2], status, err = 0, herr;
	uint32_t wlen, magic;
	pid_t pid;

	*buf = NULL;
	*len = 0;
	if (pipe2(p, O_CLOEXEC))
		return rw_why(why, whylen, -errno, "ipc helper: pipe");
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return rw_why(why, whylen, err, "ipc helper: fork");
	}
	if (pid == 0) {
		char cwhy[256] = "";
		int e = 0;

		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		if (!own && setns(nsfd, CLONE_NEWIPC)) {
			e = -errno;
			snprintf(cwhy, sizeof(cwhy), "entering the IPC namespace: %s", strerror(errno));
		}
		if (!e)
			e = fn(arg, p[1], cwhy, sizeof(cwhy));
		wlen = strlen(cwhy);
		magic = TRAILER_MAGIC;
		if (write_all(p[1], cwhy, wlen) || write_all(p[1], &wlen, sizeof(wlen)) ||
		    write_all(p[1], &e, sizeof(e)) || write_all(p[1], &magic, sizeof(magic)))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			unsigned char *more = realloc(b, cap ? cap * 2 : 65536);

			if (!more) {
				err = -ENOMEM;
				break;
			}
			b = more;
			cap = cap ? cap * 2 : 65536;
		}
		r = read(p[0], b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (!r)
			break;
		n += r;
	}
	close(p[0]);
	if (err)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (err) {
		free(b);
		return rw_why(why, whylen, err, "ipc helper: reading its output");
	}
	if (n < 12) {
		free(b);
		return rw_why(why, whylen, -EIO, "ipc helper died (status %#x)", status);
	}
	memcpy(&magic, b + n - 4, 4);
	memcpy(&herr, b + n - 8, 4);
	memcpy(&wlen, b + n - 12, 4);
	if (magic != TRAILER_MAGIC || wlen > n - 12 || wlen >= 256) {
		free(b);
		return rw_why(why, whylen, -EIO, "ipc helper: garbled output");
	}
	n -= 12 + wlen;
	if (herr) {
		snprintf(why, whylen, "%.*s", (int)wlen, (char *)b + n);
		free(b);
		return herr;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* --- snapshot (in the helper) --- */

static int emit(int wfd, const struct rw_ipc_obj *o, const void *data)
{
	struct rw_ipc_obj h = *o;
	int err;

	h.data = NULL;
	err = write_all(wfd, &h, sizeof(h));
	if (!err && o->len)
		err = write_all(wfd, data, o->len);
	return err;
}

static int append_msg(struct rw_ipc_obj *o, int64_t type, const void *text, uint64_t len)
{
	unsigned char *more = realloc(o->data, o->len + 16 + len);

	if (!more)
		return -ENOMEM;
	o->data = more;
	memcpy(more + o->len, &type, 8);
	memcpy(more + o->len + 8, &len, 8);
	memcpy(more + o->len + 16, text, len);
	o->len += 16 + len;
	o->nmsgs++;
	return 0;
}

/*
 * A failed IPC_STAT/GETALL: -ENOENT when the object went away while being
 * listed (EINVAL, EIDRM); any other error is the snapshot's, with why.
 */
static int gone_or_fail(int kind, int id, const char *what, char *why, size_t whylen)
{
	int err = errno;

	if (err == EINVAL || err == EIDRM)
		return -ENOENT;
	snprintf(why, whylen, "%s id %d: %s: %s", ipc_kind_name(kind), id, what, strerror(err));
	return -err;
}

/* One SysV object; -ENOENT: it went away while being listed. */
static int snap_sysv_one(int kind, int id, int wfd, char *why, size_t whylen)
{
	struct rw_ipc_obj o = { .kind = kind, .id = id };
	int err = 0;

	if (kind == RW_IPC_SHM) {
		struct shmid_ds ds;
		void *p;

		if (shmctl(id, IPC_STAT, &ds))
			return gone_or_fail(kind, id, "IPC_STAT", why, whylen);
		o.key = ds.shm_perm.__key;
		o.uid = ds.shm_perm.uid;
		o.gid = ds.shm_perm.gid;
		o.mode = ds.shm_perm.mode & (0777 | SHM_DEST);
		o.size = o.len = ds.shm_segsz;
		o.nattch = ds.shm_nattch;
		p = shmat(id, NULL, SHM_RDONLY);
		if (p == (void *)-1) {
			snprintf(why, whylen, "%s id %d: shmat: %s", ipc_kind_name(kind), id,
				 strerror(errno));
			return -errno;
		}
		err = emit(wfd, &o, p);
		shmdt(p);
		return err;
	}
	if (kind == RW_IPC_SEM) {
		struct semid_ds ds;
		union semun a = { .buf = &ds };

		if (semctl(id, 0, IPC_STAT, a))
			return gone_or_fail(kind, id, "IPC_STAT", why, whylen);
		o.key = ds.sem_perm.__key;
		o.uid = ds.sem_perm.uid;
		o.gid = ds.sem_perm.gid;
		o.mode = ds.sem_perm.mode & 0777;
		o.size = ds.sem_nsems;
		o.len = ds.sem_nsems * sizeof(unsigned short);
		o.data = calloc(1, o.len ? o.len : 1);
		if (!o.data)
			return -ENOMEM;
		a.array = (unsigned short *)o.data;
		if (semctl(id, 0, GETALL, a))
			err = gone_or_fail(kind, id, "GETALL", why, whylen);
		if (!err)
			err = emit(wfd, &o, o.data);
		free(o.data);
		return err;
	}
	{
		struct msqid_ds ds;
		struct { long type; char text[]; } *m;
		size_t cap;

		if (msgctl(id, IPC_STAT, &ds))
			return gone_or_fail(kind, id, "IPC_STAT", why, whylen);
		o.key = ds.msg_perm.__key;
		o.uid = ds.msg_perm.uid;
		o.gid = ds.msg_perm.gid;
		o.mode = ds.msg_perm.mode & 0777;
		o.size = ds.msg_qbytes;
		/* No message is longer than all of them together. */
		cap = ds.__msg_cbytes + 1;
		m = malloc(sizeof(*m) + cap);
		if (!m)
			return -ENOMEM;
		for (msgqnum_t i = 0; i < ds.msg_qnum && !err; i++) {
			ssize_t r = msgrcv(id, m, cap, i, IPC_NOWAIT | MSG_COPY | MSG_NOERROR);

			/* Fewer than msg_qnum said: it changed under us, the copy is not whole. */
			if (r < 0 && errno == ENOMSG)
				errno = EAGAIN;
			if (r < 0) {
				err = -errno;
				snprintf(why, whylen, "%s id %d: msgrcv(MSG_COPY): %s",
					 ipc_kind_name(kind), id, strerror(errno));
				break;
			}
			err = append_msg(&o, m->type, m->text, r);
		}
		free(m);
		if (!err)
			err = emit(wfd, &o, o.data);
		free(o.data);
		return err;
	}
}

static int snap_sysv(int wfd, char *why, size_t whylen)
{
	static const char *const files[] = { "/proc/sysvipc/shm", "/proc/sysvipc/sem",
					     "/proc/sysvipc/msg" };

	for (int kind = RW_IPC_SHM; kind <= RW_IPC_MSG; kind++) {
		FILE *f = fopen(files[kind], "re");
		char line[512];
		int err = 0;

		if (!f) {
			snprintf(why, whylen, "%s: %s", files[kind], strerror(errno));
			return -errno;
		}
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;	/* the header */
		while (!err && fgets(line, sizeof(line), f)) {
			int key, id;

			if (sscanf(line, "%d %d", &key, &id) != 2) {
				snprintf(why, whylen, "%s: cannot parse '%.80s'", files[kind], line);
				err = -EINVAL;
				break;
			}
			err = snap_sysv_one(kind, id, wfd, why, whylen);
			if (err == -ENOENT)
				err = 0;
		}
		if (!err && ferror(f)) {
			snprintf(why, whylen, "%s: read error", files[kind]);
			err = -EIO;
		}
		fclose(f);
		if (err) {
			if (!why[0])
				snprintf(why, whylen, "%s: %s", files[kind], strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * Where this helper sees the namespace's mqueue fs: a mount of its own in
 * a private mount namespace, or (the namespace being rewindd's own and no
 * mount allowed) /dev/mqueue if that is one.
 */
static int mqueue_dir(bool own, const char **dir, char *why, size_t whylen)
{
	struct statfs sf;

	if (!unshare(CLONE_NEWNS) && !mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) &&
	    !mount("mqueue", "/tmp", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		*dir = "/tmp";
		return 0;
	}
	if (own && !statfs("/dev/mqueue", &sf) && sf.f_type == MQUEUE_MAGIC) {
		*dir = "/dev/mqueue";
		return 0;
	}
	snprintf(why, whylen, "mounting the namespace's mqueue fs: %s", strerror(errno));
	return -errno;
}

/* Every message, received, then sent back in the order received with its priority. */
static int snap_mq_one(const char *dir, const char *name, int wfd, char *why, size_t whylen)
{
	struct rw_ipc_obj o = { .kind = RW_IPC_MQ, .id = -1 };
	char path[PATH_MAX], qname[NAME_MAX + 2], *text = NULL;
	struct mq_attr at;
	struct stat st;
	char *msg = NULL;
	int err = 0;
	mqd_t q;

	snprintf(o.name, sizeof(o.name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(qname, sizeof(qname), "/%s", name);
	/* Gone since the listing: -ENOENT; any other failure is the snapshot's. */
	if (stat(path, &st))
		err = -errno;
	if (!err)
		err = read_whole_file(AT_FDCWD, path, 4096, &text, NULL);
	if (!err && sscanf(text, "QSIZE:%*u NOTIFY:%*d SIGNO:%*d NOTIFY_PID:%d",
			   &o.notify_pid) != 1)
		err = -EINVAL;
	free(text);
	if (err) {
		if (err != -ENOENT)
			snprintf(why, whylen, "%s /%s: reading its status: %s",
				 ipc_kind_name(RW_IPC_MQ), name, strerror(-err));
		return err;
	}
	o.ino = st.st_ino;
	o.uid = st.st_uid;
	o.gid = st.st_gid;
	o.mode = st.st_mode & 0777;
	q = mq_open(qname, O_RDWR | O_NONBLOCK);
	if (q == (mqd_t)-1) {
		if (errno == ENOENT)
			return -ENOENT;
		snprintf(why, whylen, "%s /%s: mq_open: %s", ipc_kind_name(RW_IPC_MQ), name,
			 strerror(errno));
		return -errno;
	}
	if (mq_getattr(q, &at)) {
		err = -errno;
		goto out;
	}
	o.size = at.mq_msgsize;
	o.maxmsg = at.mq_maxmsg;
	if (at.mq_curmsgs && o.notify_pid) {
		err = -EBUSY;
		snprintf(why, whylen, "%s /%s: has an mq_notify registration and %ld queued "
			 "message(s): reading them would fire it", ipc_kind_name(RW_IPC_MQ), name,
			 at.mq_curmsgs);
		goto out;
	}
	msg = malloc(at.mq_msgsize ? at.mq_msgsize : 1);
	if (!msg) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		unsigned int prio;
		ssize_t r = mq_receive(q, msg, at.mq_msgsize, &prio);

		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0) {
			err = -errno;
			break;
		}
		err = append_msg(&o, prio, msg, r);
		if (err) {
			/* This one is in no list: back it goes first. */
			if (mq_send(q, msg, r, prio))
				snprintf(why, whylen, "%s /%s: out of memory, a received message "
					 "lost", ipc_kind_name(RW_IPC_MQ), name);
			break;
		}
	}
	/* Back they go whatever happened: what was received must not be lost. */
	for (size_t off = 0; off < o.len;) {
		int64_t prio;
		uint64_t len;

		memcpy(&prio, o.data + off, 8);
		memcpy(&len, o.data + off + 8, 8);
		if (mq_send(q, (char *)o.data + off + 16, len, prio) && !err) {
			err = -errno;
			snprintf(why, whylen, "%s /%s: sending a received message back: %s "
				 "(messages are lost)", ipc_kind_name(RW_IPC_MQ), name,
				 strerror(errno));
		}
		off += 16 + len;
	}
	if (!err)
		err = emit(wfd, &o, o.data);
out:
	if (err && !why[0])
		snprintf(why, whylen, "%s /%s: %s", ipc_kind_name(RW_IPC_MQ), name, strerror(-err));
	free(msg);
	free(o.data);
	mq_close(q);
	return err;
}

struct snap_arg {
	bool own;
};

static int snap_fn(void *arg, int wfd, char *why, size_t whylen)
{
	struct snap_arg *a = arg;
	const char *dir = NULL;
	struct dirent *de;
	DIR *d;
	int err = snap_sysv(wfd, why, whylen);

	if (err)
		return err;
	err = mqueue_dir(a->own, &dir, why, whylen);
	if (err)
		return err;
	d = opendir(dir);
	if (!d) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		err = snap_mq_one(dir, de->d_name, wfd, why, whylen);
		if (err == -ENOENT)
			err = 0;
	}
	closedir(d);
	return err;
}

void ipc_snap_free(struct rw_ipc_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].data);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Whether nsfd is rewindd's own IPC namespace: 1, 0, or -errno (unknown). */
static int ns_same_as_ours(int nsfd)
{
	struct stat a, b;

	if (fstat(nsfd, &a) || stat("/proc/self/ns/ipc", &b))
		return -errno;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* Where to read and write it: unknown is "not ours", reached through a helper that joins it. */
static bool ns_is_own(int nsfd)
{
	return ns_same_as_ours(nsfd) == 1;
}

int ipc_snapshot(int nsfd, struct rw_ipc_snap *out, char *why, size_t whylen)
{
	struct snap_arg a = { .own = ns_is_own(nsfd) };
	unsigned char *buf;
	size_t len, off = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = run_helper(nsfd, a.own, snap_fn, &a, &buf, &len, why, whylen);
	if (err)
		return err;
	while (off + sizeof(struct rw_ipc_obj) <= len) {
		struct rw_ipc_obj *more = realloc(out->v, (out->n + 1) * sizeof(*more)), *o;

		if (!more) {
			err = -ENOMEM;
			break;
		}
		out->v = more;
		o = &more[out->n];
		memcpy(o, buf + off, sizeof(*o));
		off += sizeof(*o);
		o->data = NULL;
		if (o->len > len - off) {
			err = -EIO;
			break;
		}
		out->n++;
		if (o->len && !(o->data = malloc(o->len))) {
			err = -ENOMEM;
			break;
		}
		if (o->len)
			memcpy(o->data, buf + off, o->len);
		off += o->len;
	}
	free(buf);
	if (!err && off != len)
		err = -EIO;
	if (err) {
		ipc_snap_free(out);
		return rw_why(why, whylen, err, "ipc helper: its snapshot");
	}
	return 0;
}

/* --- plan (pure) --- */

static const struct rw_ipc_obj *find_obj(const struct rw_ipc_snap *s, const struct rw_ipc_obj *o,
					 size_t *idx)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct rw_ipc_obj *c = &s->v[i];

		if (c->kind != o->kind)
			continue;
		if (o->kind == RW_IPC_MQ ? strcmp(c->name, o->name) : c->id != o->id)
			continue;
		if (idx)
			*idx = i;
		return c;
	}
	return NULL;
}

static bool in_scope(const struct rw_ipc_scope *sc, const struct rw_ipc_obj *o)
{
	if (sc->all)
		return true;
	if (o->kind == RW_IPC_MQ)
		return false;
	for (size_t i = 0; i < sc->nids; i++)
		if (sc->ids[i] == o->id)
			return true;
	return false;
}

static void obj_label(int kind, int id, int key, const char *name, char *buf, size_t len)
{
	if (kind == RW_IPC_MQ)
		snprintf(buf, len, "%s /%s", ipc_kind_name(kind), name);
	else
		snprintf(buf, len, "%s id %d (key %#x)", ipc_kind_name(kind), id, (unsigned int)key);
}

static int add_failure(struct rw_ipc_plan *p, const struct rw_ipc_obj *o, const char *what)
{
	char label[NAME_MAX + 64], **more = realloc(p->failures, (p->nfailures + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	p->failures = more;
	obj_label(o->kind, o->id, o->key, o->name, label, sizeof(label));
	if (asprintf(&more[p->nfailures], "%s: %s: cannot be restored", label, what) < 0)
		return -ENOMEM;
	p->nfailures++;
	return 0;
}

static int add_op(struct rw_ipc_plan *p, int op, const struct rw_ipc_obj *o, size_t ckpt)
{
	struct rw_ipc_op *more = realloc(p->ops, (p->nops + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	p->ops = more;
	more[p->nops] = (struct rw_ipc_op){ .op = op, .kind = o->kind, .id = o->id, .key = o->key,
					    .ckpt = ckpt };
	memcpy(more[p->nops].name, o->name, sizeof(o->name));
	p->nops++;
	return 0;
}

/* The same object, not a new one under its id or name. */
static bool same_identity(const struct rw_ipc_obj *a, const struct rw_ipc_obj *b)
{
	if (a->kind == RW_IPC_MQ)
		return a->ino == b->ino && a->size == b->size && a->maxmsg == b->maxmsg;
	if (a->key != b->key || (a->kind != RW_IPC_MSG && a->size != b->size))
		return false;
	/* IPC_RMID of an attached segment only marks it: it is gone for the next shmget. */
	return a->kind != RW_IPC_SHM || (a->mode & SHM_DEST) == (b->mode & SHM_DEST);
}

static bool perms_differ(const struct rw_ipc_obj *a, const struct rw_ipc_obj *b)
{
	return a->uid != b->uid || a->gid != b->gid || (a->mode & 0777) != (b->mode & 0777) ||
	       (a->kind == RW_IPC_MSG && a->size != b->size);
}

static bool contents_differ(const struct rw_ipc_obj *a, const struct rw_ipc_obj *b)
{
	return a->len != b->len || a->nmsgs != b->nmsgs ||
	       (a->len && memcmp(a->data, b->data, a->len));
}

/* The plan for the objects of ckpt and now that pass keep(). */
static int plan_some(const struct rw_ipc_snap *ckpt, const struct rw_ipc_snap *now,
		     const struct rw_ipc_scope *sc, bool mq, struct rw_ipc_plan *p)
{
	int err = 0;

	for (size_t i = 0; i < now->n && !err; i++) {
		const struct rw_ipc_obj *o = &now->v[i];

		if ((o->kind == RW_IPC_MQ) != mq || (!mq && !in_scope(sc, o)))
			continue;
		if (!find_obj(ckpt, o, NULL))
			err = add_op(p, RW_IPC_REMOVE, o, 0);
	}
	for (size_t i = 0; i < ckpt->n && !err; i++) {
		const struct rw_ipc_obj *c = &ckpt->v[i], *o;

		if ((c->kind == RW_IPC_MQ) != mq || (!mq && !in_scope(sc, c)))
			continue;
		o = find_obj(now, c, NULL);
		if (!o || !same_identity(c, o)) {
			err = add_failure(p, c, c->kind == RW_IPC_MQ ?
					  "removed since the checkpoint (holders of the queue would "
					  "not see a new one)" :
					  "removed since the checkpoint (a new object cannot take "
					  "its id)");
			continue;
		}
		if (c->kind == RW_IPC_MQ && c->notify_pid != o->notify_pid) {
			err = add_failure(p, c, "its mq_notify registration changed since the "
					  "checkpoint");
			continue;
		}
		if (contents_differ(c, o))
			err = add_op(p, RW_IPC_CONTENTS, c, i);
		if (!err && perms_differ(c, o))
			err = add_op(p, RW_IPC_PERMS, c, i);
	}
	return err;
}

int ipc_plan(const struct rw_ipc_snap *ckpt, const struct rw_ipc_snap *now,
	     const struct rw_ipc_scope *scope, struct rw_ipc_plan *p)
{
	struct rw_ipc_plan mq = { 0 };
	int err;

	memset(p, 0, sizeof(*p));
	err = plan_some(ckpt, now, scope, false, p);
	if (err || scope->all)
		return err ? err : plan_some(ckpt, now, scope, true, p);
	/* rewindd's own namespace: whose queue a change is cannot be told. */
	err = plan_some(ckpt, now, scope, true, &mq);
	if (!err && scope->mq_called && (mq.nops || mq.nfailures)) {
		struct rw_ipc_obj o = { .kind = RW_IPC_MQ };

		snprintf(o.name, sizeof(o.name), "%s", mq.nops ? mq.ops[0].name :
			 mq.failures[0] + strlen(ipc_kind_name(RW_IPC_MQ)) + 2);
		err = add_failure(p, &o, "changed in rewindd's own IPC namespace, which processes "
				  "outside the session share, after the session called mq_*: "
				  "whose change it was cannot be told");
	}
	ipc_plan_free(&mq);
	return err;
}

void ipc_plan_free(struct rw_ipc_plan *p)
{
	for (size_t i = 0; i < p->nfailures; i++)
		free(p->failures[i]);
	free(p->failures);
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

void ipc_op_describe(const struct rw_ipc_op *op, char *buf, size_t len)
{
	char label[NAME_MAX + 64];

	obj_label(op->kind, op->id, op->key, op->name, label, sizeof(label));
	switch (op->op) {
	case RW_IPC_REMOVE:
		snprintf(buf, len, "remove %s, created since the checkpoint", label);
		break;
	case RW_IPC_CONTENTS:
		snprintf(buf, len, "restore the %s of %s", op->kind == RW_IPC_SHM ? "contents" :
			 op->kind == RW_IPC_SEM ? "values" : "messages", label);
		break;
	default:
		snprintf(buf, len, "restore the owner and mode of %s", label);
	}
}

/* --- apply (in the helper) --- */

struct apply_arg {
	const struct rw_ipc_snap *ckpt;
	const struct rw_ipc_plan *p;
	bool own;
};

static int drain_msg(int id)
{
	struct { long type; char text[64]; } m;

	while (msgrcv(id, &m, sizeof(m.text), 0, IPC_NOWAIT | MSG_NOERROR) >= 0)
		;
	return errno == ENOMSG ? 0 : -errno;
}

static int refill_msg(int id, const struct rw_ipc_obj *c)
{
	for (size_t off = 0; off < c->len;) {
		int64_t type;
		uint64_t len;
		struct { long type; char text[]; } *m;
		int err = 0;

		memcpy(&type, c->data + off, 8);
		memcpy(&len, c->data + off + 8, 8);
		m = malloc(sizeof(*m) + len);
		if (!m)
			return -ENOMEM;
		m->type = type;
		memcpy(m->text, c->data + off + 16, len);
		if (msgsnd(id, m, len, IPC_NOWAIT))
			err = -errno;
		free(m);
		if (err)
			return err;
		off += 16 + len;
	}
	return 0;
}

static int mq_contents(const struct rw_ipc_obj *c)
{
	char qname[NAME_MAX + 2], *buf;
	struct mq_attr at;
	int err = 0;
	mqd_t q;

	snprintf(qname, sizeof(qname), "/%s", c->name);
	q = mq_open(qname, O_RDWR | O_NONBLOCK);
	if (q == (mqd_t)-1)
		return -errno;
	if (mq_getattr(q, &at) || !(buf = malloc(at.mq_msgsize ? at.mq_msgsize : 1))) {
		err = -errno;
		mq_close(q);
		return err ? err : -ENOMEM;
	}
	while (mq_receive(q, buf, at.mq_msgsize, NULL) >= 0)
		;
	if (errno != EAGAIN)
		err = -errno;
	free(buf);
	for (size_t off = 0; off < c->len && !err;) {
		int64_t prio;
		uint64_t len;

		memcpy(&prio, c->data + off, 8);
		memcpy(&len, c->data + off + 8, 8);
		if (mq_send(q, (char *)c->data + off + 16, len, prio))
			err = -errno;
		off += 16 + len;
	}
	mq_close(q);
	return err;
}

static int set_perms(const struct rw_ipc_obj *c)
{
	if (c->kind == RW_IPC_SHM) {
		struct shmid_ds ds;

		if (shmctl(c->id, IPC_STAT, &ds))
			return -errno;
		ds.shm_perm.uid = c->uid;
		ds.shm_perm.gid = c->gid;
		ds.shm_perm.mode = c->mode & 0777;
		return shmctl(c->id, IPC_SET, &ds) ? -errno : 0;
	}
	if (c->kind == RW_IPC_SEM) {
		struct semid_ds ds;
		union semun a = { .buf = &ds };

		if (semctl(c->id, 0, IPC_STAT, a))
			return -errno;
		ds.sem_perm.uid = c->uid;
		ds.sem_perm.gid = c->gid;
		ds.sem_perm.mode = c->mode & 0777;
		return semctl(c->id, 0, IPC_SET, a) ? -errno : 0;
	}
	if (c->kind == RW_IPC_MSG) {
		struct msqid_ds ds;

		if (msgctl(c->id, IPC_STAT, &ds))
			return -errno;
		ds.msg_perm.uid = c->uid;
		ds.msg_perm.gid = c->gid;
		ds.msg_perm.mode = c->mode & 0777;
		ds.msg_qbytes = c->size;
		return msgctl(c->id, IPC_SET, &ds) ? -errno : 0;
	}
	{
		char qname[NAME_MAX + 2];
		int err = 0;
		mqd_t q;

		snprintf(qname, sizeof(qname), "/%s", c->name);
		q = mq_open(qname, O_RDONLY | O_NONBLOCK);
		if (q == (mqd_t)-1)
			return -errno;
		if (fchown(q, c->uid, c->gid) || fchmod(q, c->mode & 0777))
			err = -errno;
		mq_close(q);
		return err;
	}
}

static int apply_one(const struct rw_ipc_op *op, const struct rw_ipc_snap *ckpt)
{
	const struct rw_ipc_obj *c = op->op == RW_IPC_REMOVE ? NULL : &ckpt->v[op->ckpt];
	int r = 0;

	if (op->op == RW_IPC_REMOVE) {
		char qname[NAME_MAX + 2];

		switch (op->kind) {
		case RW_IPC_SHM: r = shmctl(op->id, IPC_RMID, NULL); break;
		case RW_IPC_SEM: r = semctl(op->id, 0, IPC_RMID); break;
		case RW_IPC_MSG: r = msgctl(op->id, IPC_RMID, NULL); break;
		default:
			snprintf(qname, sizeof(qname), "/%s", op->name);
			r = mq_unlink(qname);
		}
		/* Gone already: what the plan wanted. */
		return r && errno != EINVAL && errno != EIDRM && errno != ENOENT ? -errno : 0;
	}
	if (op->op == RW_IPC_PERMS)
		return set_perms(c);
	switch (op->kind) {
	case RW_IPC_SHM: {
		void *p = shmat(c->id, NULL, 0);

		if (p == (void *)-1)
			return -errno;
		memcpy(p, c->data, c->len);
		shmdt(p);
		return 0;
	}
	case RW_IPC_SEM: {
		union semun a = { .array = (unsigned short *)c->data };

		return semctl(c->id, 0, SETALL, a) ? -errno : 0;
	}
	case RW_IPC_MSG:
		r = drain_msg(c->id);
		return r ? r : refill_msg(c->id, c);
	}
	return mq_contents(c);
}

static int apply_fn(void *arg, int wfd, char *why, size_t whylen)
{
	struct apply_arg *a = arg;

	for (size_t i = 0; i < a->p->nops; i++) {
		int err = apply_one(&a->p->ops[i], a->ckpt);

		if (err) {
			char step[NAME_MAX + 128];

			ipc_op_describe(&a->p->ops[i], step, sizeof(step));
			snprintf(why, whylen, "%s: %s", step, strerror(-err));
			return err;
		}
	}
	return 0;
}

int ipc_apply(int nsfd, const struct rw_ipc_snap *ckpt, const struct rw_ipc_plan *p, char *why,
	      size_t whylen)
{
	struct apply_arg a = { .ckpt = ckpt, .p = p, .own = ns_is_own(nsfd) };
	unsigned char *buf;
	size_t len;
	int err;

	if (!p->nops)
		return 0;
	err = run_helper(nsfd, a.own, apply_fn, &a, &buf, &len, why, whylen);
	free(buf);
	return err;
}

/* --- a session's namespaces --- */

static int add_id(int **ids, size_t *n, int id)
{
	int *more;

	for (size_t i = 0; i < *n; i++)
		if ((*ids)[i] == id)
			return 0;
	more = realloc(*ids, (*n + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	*ids = more;
	more[(*n)++] = id;
	return 0;
}

int ipcs_checkpoint(struct rw_ipcs *I, const pid_t *pids, const struct rw_maps *const *maps,
		    size_t n, char *why, size_t whylen)
{
	int err = 0;

	ipcs_free(I);
	for (size_t i = 0; i < n && !err; i++) {
		int64_t ino = ipc_ns_of(pids[i]);
		struct rw_ipc_ns *ns = NULL;

		if (ino < 0) {
			err = rw_why(why, whylen, ino, "pid %d: its IPC namespace", pids[i]);
			break;
		}
		for (size_t k = 0; k < I->n; k++)
			if (I->v[k].ino == (uint64_t)ino)
				ns = &I->v[k];
		if (!ns) {
			struct rw_ipc_ns *more = realloc(I->v, (I->n + 1) * sizeof(*more));
			char path[64], swhy[384] = "";

			if (!more) {
				err = rw_why(why, whylen, -ENOMEM, "out of memory");
				break;
			}
			I->v = more;
			ns = &more[I->n];
			memset(ns, 0, sizeof(*ns));
			ns->ino = ino;
			snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pids[i]);
			ns->nsfd = open(path, O_RDONLY | O_CLOEXEC);
			if (ns->nsfd < 0) {
				err = rw_why(why, whylen, -errno, "pid %d: opening %s", pids[i], path);
				break;
			}
			I->n++;
			/* Unknown is not "private": that would put every object in the rewind's scope. */
			err = ns_same_as_ours(ns->nsfd);
			if (err < 0) {
				rw_why(why, whylen, err, "IPC namespace %llu: is it rewindd's own?",
				       (unsigned long long)ns->ino);
				break;
			}
			ns->shared = err;
			err = ipc_snapshot(ns->nsfd, &ns->ckpt, swhy, sizeof(swhy));
			if (err) {
				rw_why(why, whylen, err, "IPC namespace %llu: %s",
				       (unsigned long long)ns->ino, swhy);
				break;
			}
		}
		for (size_t k = 0; maps[i] && k < maps[i]->n && !err; k++)
			if (!strncmp(maps[i]->v[k].name, "/SYSV", 5))
				err = add_id(&ns->mapped, &ns->nmapped, (int)maps[i]->v[k].inode);
		if (err)
			rw_why(why, whylen, err, "out of memory");
	}
	for (size_t k = 0; k < I->n && !err; k++) {
		struct rw_ipc_ns *ns = &I->v[k];

		ns->attached = !ns->shared ? false : ns->nmapped > 0;
		for (size_t j = 0; !ns->shared && j < ns->ckpt.n; j++)
			if (ns->ckpt.v[j].kind == RW_IPC_SHM && ns->ckpt.v[j].nattch)
				ns->attached = true;
	}
	if (err)
		ipcs_free(I);
	return err;
}

/* What the log says: an IPC call at all, the SysV ids it named, a POSIX queue call. */
static int log_ipc(const struct rw_invocation *inv, int **ids, size_t *nids, bool *any, bool *mq)
{
	int err = 0;

	*any = *mq = false;
	for (size_t i = 0; i < inv->nlayout && !err; i++) {
		const struct rw_sys_record *r = &inv->layout[i];

		if (r->nr != RW_NR_shmat && r->nr != RW_NR_shmdt)
			continue;
		*any = true;
		if (r->nr == RW_NR_shmat)
			err = add_id(ids, nids, (int)r->args[0]);
	}
	for (size_t i = 0; i < inv->nstate && !err; i++) {
		const struct rw_sys_record *r = &inv->state[i];

		if (rw_syscall_class(r->nr) != RW_SC_IPC)
			continue;
		*any = true;
		switch (r->nr) {
		case RW_NR_shmget: case RW_NR_semget: case RW_NR_msgget:
			err = add_id(ids, nids, (int)r->ret);
			break;
		case RW_NR_shmctl: case RW_NR_semctl: case RW_NR_msgctl: case RW_NR_semop:
		case RW_NR_semtimedop: case RW_NR_msgsnd: case RW_NR_msgrcv:
			err = add_id(ids, nids, (int)r->args[0]);
			break;
		default:
			*mq = true;
		}
	}
	return err;
}

/* The scope of ns for this invocation; ids is the caller's to free. */
static int scope_of(const struct rw_ipc_ns *ns, const struct rw_invocation *inv, bool incomplete,
		    struct rw_ipc_scope *sc, int **ids, bool *any)
{
	size_t nids = 0;
	bool mq;
	int err;

	*ids = NULL;
	err = log_ipc(inv, ids, &nids, any, &mq);
	for (size_t i = 0; i < ns->nmapped && !err; i++)
		err = add_id(ids, &nids, ns->mapped[i]);
	*sc = (struct rw_ipc_scope){ .all = !ns->shared || incomplete, .ids = *ids, .nids = nids,
				     .mq_called = mq };
	return err;
}

static int plan_ns(const struct rw_ipc_ns *ns, const struct rw_invocation *inv, bool incomplete,
		   bool force, struct rw_ipc_plan *p, char *why, size_t whylen)
{
	struct rw_ipc_snap now;
	struct rw_ipc_scope sc;
	char swhy[384] = "";
	int *ids, err;
	bool any;

	memset(p, 0, sizeof(*p));
	err = scope_of(ns, inv, incomplete, &sc, &ids, &any);
	if (err) {
		free(ids);
		return rw_why(why, whylen, err, "out of memory");
	}
	if (!force && !any && !incomplete && !ns->attached) {
		free(ids);
		return 1;	/* the log vouches: nothing read */
	}
	err = ipc_snapshot(ns->nsfd, &now, swhy, sizeof(swhy));
	if (err) {
		free(ids);
		return rw_why(why, whylen, err, "IPC namespace %llu: %s",
			      (unsigned long long)ns->ino, swhy);
	}
	err = ipc_plan(&ns->ckpt, &now, &sc, p);
	ipc_snap_free(&now);
	free(ids);
	if (err)
		return rw_why(why, whylen, err, "out of memory");
	/* Records were dropped in rewindd's own namespace: any change may be an outsider's. */
	if (ns->shared && incomplete && (p->nops || p->nfailures)) {
		char step[NAME_MAX + 128];

		snprintf(step, sizeof(step), "%s", p->nfailures ? p->failures[0] : "");
		if (p->nops)
			ipc_op_describe(&p->ops[0], step, sizeof(step));
		ipc_plan_free(p);
		snprintf(why, whylen, "IPC namespace %llu: %s: records were dropped and rewindd's "
			 "own IPC namespace, shared with processes outside the session, changed: "
			 "which change is the session's cannot be told: cannot be restored",
			 (unsigned long long)ns->ino, step);
		return -ENOTRECOVERABLE;
	}
	return 0;
}

int ipcs_rewind(struct rw_ipcs *I, const struct rw_invocation *inv, bool incomplete,
		void (*note)(void *ctx, const char *line), void *ctx, struct rw_ipc_stats *st,
		char *why, size_t whylen)
{
	for (size_t k = 0; k < I->n; k++) {
		struct rw_ipc_ns *ns = &I->v[k];
		struct rw_ipc_plan p;
		char awhy[512] = "";
		int err = plan_ns(ns, inv, incomplete, false, &p, why, whylen);

		if (err == 1)
			continue;
		if (err < 0)
			return err;
		st->namespaces_read++;
		if (p.nfailures) {
			snprintf(why, whylen, "IPC namespace %llu: %s%s", (unsigned long long)ns->ino,
				 p.failures[0], p.nfailures > 1 ? " (and more)" : "");
			ipc_plan_free(&p);
			return -ENOTRECOVERABLE;
		}
		for (size_t i = 0; i < p.nops && note; i++) {
			char step[NAME_MAX + 128];

			ipc_op_describe(&p.ops[i], step, sizeof(step));
			note(ctx, step);
		}
		err = ipc_apply(ns->nsfd, &ns->ckpt, &p, awhy, sizeof(awhy));
		st->ops += p.nops;
		ipc_plan_free(&p);
		if (err)
			return rw_why(why, whylen, err, "IPC namespace %llu: %s",
				      (unsigned long long)ns->ino, awhy);
	}
	return 0;
}

int ipcs_verify(struct rw_ipcs *I, const struct rw_invocation *inv, char *why, size_t whylen)
{
	size_t len = 0;
	int diffs = 0;

	if (whylen)
		why[0] = 0;
	for (size_t k = 0; k < I->n; k++) {
		struct rw_ipc_ns *ns = &I->v[k];
		struct rw_ipc_plan p;
		int err = plan_ns(ns, inv, false, true, &p, why, whylen);

		if (err < 0)
			return err;
		for (size_t i = 0; i < p.nfailures + p.nops && len < whylen; i++) {
			char step[NAME_MAX + 128];

			if (i < p.nfailures)
				snprintf(step, sizeof(step), "%s", p.failures[i]);
			else
				ipc_op_describe(&p.ops[i - p.nfailures], step, sizeof(step));
			len += snprintf(why + len, whylen - len, "%sIPC namespace %llu: %s",
					len ? "; " : "", (unsigned long long)ns->ino, step);
		}
		diffs += p.nfailures + p.nops;
		ipc_plan_free(&p);
	}
	return diffs;
}

void ipcs_free(struct rw_ipcs *I)
{
	for (size_t k = 0; k < I->n; k++) {
		if (I->v[k].nsfd >= 0)
			close(I->v[k].nsfd);
		free(I->v[k].mapped);
		ipc_snap_free(&I->v[k].ckpt);
	}
	free(I->v);
	memset(I, 0, sizeof(*I));
}
