// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "fingerprint: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "fingerprint.h"
#include "log.h"

/* The value of "Key:" in status text, as hex; 0 if absent. */
static uint64_t status_hex(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoull(p + strlen(key), NULL, 16) : 0;
}

/* A number a /proc file holds, in base (0: as C reads it). */
static int read_number(pid_t tgid, const char *name, int base, uint64_t *out)
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/%s", tgid, name);
	err = read_whole_file(AT_FDCWD, path, 4096, &text, NULL);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	*out = strtoull(text, NULL, base);
	free(text);
	return 0;
}

static int read_thread(pid_t tgid, pid_t tid, struct rw_fp_thread *t)
{
	char path[64], *text;
	int err;

	t->tid = tid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", tgid, tid);
	err = read_whole_file(AT_FDCWD, path, 1 << 20, &text, NULL);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	t->sig_pending = status_hex(text, "\nSigPnd:");
	t->sig_blocked = status_hex(text, "\nSigBlk:");
	free(text);
	err = ident_read(tgid, tid, &t->ident);
	if (!err && proc_read_comm(tgid, tid, t->comm))
		t->comm[0] = '\0';
	return err;
}

static int read_fds(pid_t tgid, struct rw_fingerprint *fp)
{
	int *fds, err;
	size_t n;

	err = proc_list_fds(tgid, &fds, &n);
	if (err)
		return err;
	fp->fds = calloc(n ? n : 1, sizeof(*fp->fds));
	if (!fp->fds) {
		free(fds);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct rw_fp_fd *f = &fp->fds[fp->nfds];
		char link[64];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", tgid, fds[i]);
		len = readlink(link, f->target, sizeof(f->target) - 1);
		/* Closed between the listing and now: not there. */
		if (len < 0 || proc_read_fdinfo(tgid, fds[i], &f->cloexec, &f->pos, &f->flags))
			continue;
		f->target[len] = '\0';
		f->fd = fds[i];
		fp->nfds++;
	}
	free(fds);
	return 0;
}

int fingerprint_read(pid_t tgid, struct rw_fingerprint *out)
{
	pid_t *tids = NULL;
	struct stat cwd;
	char why[256];
	size_t n = 0;
	int err;

	memset(out, 0, sizeof(*out));
	out->tgid = tgid;
	err = proc_read_status(tgid, &out->status);
	if (!err)
		err = proc_stat_link(tgid, "cwd", &cwd);
	if (!err) {
		out->cwd_dev = cwd.st_dev;
		out->cwd_ino = cwd.st_ino;
		err = read_fds(tgid, out);
	}
	if (!err)
		err = proc_list_posix_timers(tgid, &out->timers, &out->ntimers);
	if (!err)
		err = proc_list_tids(tgid, &tids, &n);
	if (!err) {
		out->threads = calloc(n ? n : 1, sizeof(*out->threads));
		if (!out->threads)
			err = -ENOMEM;
	}
	for (size_t i = 0; i < n && !err; i++) {
		err = read_thread(tgid, tids[i], &out->threads[out->nthreads]);
		if (err == -ESRCH && i) {
			err = 0;	/* a thread that exited meanwhile */
			continue;
		}
		out->nthreads++;
	}
	if (!err)
		err = attrs_read(tgid, tids, n, &out->attrs, why, sizeof(why));
	if (!err)
		err = proc_read_cgroups(tgid, &out->cgroups);
	if (!err)
		err = read_number(tgid, "personality", 16, &out->personality);
	if (!err)
		err = read_number(tgid, "timerslack_ns", 10, &out->timerslack_ns);
	if (!err) {
		out->pgid = getpgid(tgid);
		out->sid = getsid(tgid);
		if (out->pgid < 0 || out->sid < 0)
			err = errno == ESRCH ? -ESRCH : -errno;
	}
	free(tids);
	if (err) {
		if (err != -ESRCH)
			pr_err("pid %d: %s\n", tgid, strerror(-err));
		fingerprint_free(out);
	}
	return err;
}

void fingerprint_free(struct rw_fingerprint *fp)
{
	free(fp->fds);
	free(fp->timers);
	free(fp->threads);
	free(fp->cgroups);
	attrs_free(&fp->attrs);
	memset(fp, 0, sizeof(*fp));
}

struct emitter {
	void (*emit)(void *ctx, const char *class, const char *what);
	void *ctx;
};

static __attribute__((format(printf, 3, 4))) void say(const struct emitter *e, const char *class,
						     const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	e->emit(e->ctx, class, buf);
}

static const struct rw_fp_fd *find_fd(const struct rw_fingerprint *fp, int fd)
{
	for (size_t i = 0; i < fp->nfds; i++)
		if (fp->fds[i].fd == fd)
			return &fp->fds[i];
	return NULL;
}

static const struct rw_fp_thread *find_thread(const struct rw_fingerprint *fp, pid_t tid)
{
	for (size_t i = 0; i < fp->nthreads; i++)
		if (fp->threads[i].tid == tid)
			return &fp->threads[i];
	return NULL;
}

static void diff_fds(const struct rw_fingerprint *a, const struct rw_fingerprint *b,
		     const struct emitter *e)
{
	for (size_t i = 0; i < b->nfds; i++) {
		const struct rw_fp_fd *now = &b->fds[i], *was = find_fd(a, now->fd);

		if (!was)
			say(e, "fds", "fd %d opened (%s)", now->fd, now->target);
		else if (strcmp(was->target, now->target))
			say(e, "fds", "fd %d replaced (%s, was %s)", now->fd, now->target, was->target);
		else if (was->pos != now->pos)
			say(e, "fds", "fd %d moved (offset %" PRId64 ", was %" PRId64 ")", now->fd,
			    now->pos, was->pos);
		else if (was->flags != now->flags || was->cloexec != now->cloexec)
			say(e, "fds", "fd %d flags changed (%#o%s, was %#o%s)", now->fd, now->flags,
			    now->cloexec ? " cloexec" : "", was->flags, was->cloexec ? " cloexec" : "");
	}
	for (size_t i = 0; i < a->nfds; i++)
		if (!find_fd(b, a->fds[i].fd))
			say(e, "fds", "fd %d closed (was %s)", a->fds[i].fd, a->fds[i].target);
}

static void diff_process(const struct rw_fingerprint *a, const struct rw_fingerprint *b,
			 const struct emitter *e)
{
	const struct rw_proc_status *x = &a->status, *y = &b->status;

	if (a->cwd_dev != b->cwd_dev || a->cwd_ino != b->cwd_ino)
		say(e, "cwd_umask", "cwd changed");
	if (x->umask != y->umask)
		say(e, "cwd_umask", "umask %04o, was %04o", y->umask, x->umask);
	if (x->sig_ignored != y->sig_ignored || x->sig_caught != y->sig_caught)
		say(e, "sigactions", "ignored %#" PRIx64 ", caught %#" PRIx64 " (were %#" PRIx64
		    ", %#" PRIx64 ")", y->sig_ignored, y->sig_caught, x->sig_ignored, x->sig_caught);
	if (x->sig_pending_shared != y->sig_pending_shared)
		say(e, "pending_signals", "pending on the process %#" PRIx64 ", was %#" PRIx64,
		    y->sig_pending_shared, x->sig_pending_shared);
	if (x->seccomp != y->seccomp || x->seccomp_filters != y->seccomp_filters)
		say(e, "seccomp", "mode %d, %d filter(s) (was mode %d, %d)", y->seccomp,
		    y->seccomp_filters, x->seccomp, x->seccomp_filters);
	if (x->no_new_privs != y->no_new_privs)
		say(e, "seccomp", "no_new_privs %d, was %d", y->no_new_privs, x->no_new_privs);
	if (a->ntimers != b->ntimers ||
	    (a->ntimers && memcmp(a->timers, b->timers, a->ntimers * sizeof(*a->timers))))
		say(e, "timers", "POSIX timers: %zu, were %zu (or other ids)", b->ntimers, a->ntimers);
	if (a->personality != b->personality)
		say(e, "personality", "%#" PRIx64 ", was %#" PRIx64, b->personality, a->personality);
	if (a->timerslack_ns != b->timerslack_ns)
		say(e, "prctl_state", "timer slack %" PRIu64 " ns, was %" PRIu64 " ns",
		    b->timerslack_ns, a->timerslack_ns);
	if (a->pgid != b->pgid || a->sid != b->sid)
		say(e, "process_group", "pgid %d, sid %d (were %d, %d)", b->pgid, b->sid, a->pgid,
		    a->sid);
	if (a->cgroups && b->cgroups) {
		char what[512];

		if (*proc_cgroups_differ(a->cgroups, b->cgroups, what, sizeof(what)))
			say(e, "cgroup", "moved (%s)", what);
	}
	for (int r = 0; r < RW_NRLIMITS; r++) {
		char what[160];

		if (!attrs_differ(RW_ATTR_RLIMIT, r, &a->attrs, NULL, &b->attrs, NULL))
			continue;
		attrs_describe(RW_ATTR_RLIMIT, r, &a->attrs, NULL, &b->attrs, NULL, what, sizeof(what));
		say(e, "rlimits", "%s", what);
	}
}

/* Which class an ident_compare() sentence is about. */
static const char *ident_class(const char *what)
{
	if (strstr(what, "namespace"))
		return "namespaces";
	if (strstr(what, "seccomp") || strstr(what, "no_new_privs"))
		return "seccomp";
	return "credentials";
}

static void diff_threads(const struct rw_fingerprint *a, const struct rw_fingerprint *b,
			 const struct emitter *e)
{
	static const enum rw_attr_kind kinds[] = { RW_ATTR_SCHED, RW_ATTR_NICE, RW_ATTR_AFFINITY,
						   RW_ATTR_IOPRIO };

	for (size_t i = 0; i < b->nthreads; i++) {
		const struct rw_fp_thread *now = &b->threads[i], *was = find_thread(a, now->tid);
		const struct rw_thread_attrs *wt, *nt;
		char what[256];

		if (!was) {
			say(e, "threads", "thread %d (%s) created", now->tid, now->comm);
			continue;
		}
		if (strcmp(was->comm, now->comm))
			say(e, "thread_name", "thread %d named '%s', was '%s'", now->tid, now->comm,
			    was->comm);
		if (was->sig_pending != now->sig_pending)
			say(e, "pending_signals", "thread %d: pending %#" PRIx64 ", was %#" PRIx64,
			    now->tid, now->sig_pending, was->sig_pending);
		if (was->sig_blocked != now->sig_blocked)
			say(e, "registers", "thread %d: signal mask %#" PRIx64 ", was %#" PRIx64,
			    now->tid, now->sig_blocked, was->sig_blocked);
		if (ident_compare(&was->ident, &now->ident, what, sizeof(what))) {
			/* The comparison speaks of a checkpoint; here the invocation is the span. */
			char *since = strstr(what, " since the checkpoint");

			if (since)
				memmove(since, since + 21, strlen(since + 21) + 1);
			say(e, ident_class(what), "thread %d: %s", now->tid, what);
		}
		wt = attrs_thread(&a->attrs, now->tid);
		nt = attrs_thread(&b->attrs, now->tid);
		for (size_t k = 0; wt && nt && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			if (!attrs_differ(kinds[k], 0, &a->attrs, wt, &b->attrs, nt))
				continue;
			attrs_describe(kinds[k], 0, &a->attrs, wt, &b->attrs, nt, what, sizeof(what));
			say(e, "thread_attrs", "%s", what);
		}
	}
	for (size_t i = 0; i < a->nthreads; i++)
		if (!find_thread(b, a->threads[i].tid))
			say(e, "threads", "thread %d (%s) exited", a->threads[i].tid,
			    a->threads[i].comm);
}

void fingerprint_diff(const struct rw_fingerprint *was, const struct rw_fingerprint *now,
		      void (*emit)(void *ctx, const char *class, const char *what), void *ctx)
{
	const struct emitter e = { emit, ctx };

	diff_process(was, now, &e);
	diff_fds(was, now, &e);
	diff_threads(was, now, &e);
}
