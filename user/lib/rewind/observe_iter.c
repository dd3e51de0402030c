// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "observe: "
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "log.h"
#include "observe_iter.h"
#include "threadstate.h"

bool observe_iter_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *env = getenv("REWINDD_ITER_OBSERVE");

		enabled = !env || strcmp(env, "0");
	}
	return enabled;
}

/* The kernel's dev_t (major << 20 | minor) as stat reports it. */
static dev_t user_dev(uint64_t kdev)
{
	return makedev(kdev >> 20, kdev & 0xfffff);
}

/*
 * File systems whose stat reports the inode's s_dev and i_ino unchanged
 * (generic_fillattr): elsewhere (overlayfs, btrfs, FUSE, NFS) stat may
 * report other numbers, and /proc's answer is taken.
 */
static bool stat_is_inode(uint32_t magic)
{
	switch (magic) {
	case RW_ITER_SOCKFS_MAGIC:
	case RW_ITER_PIPEFS_MAGIC:
	case 0xEF53:		/* ext2/3/4 */
	case 0x01021994:	/* tmpfs */
	case 0x58465342:	/* xfs */
		return true;
	}
	return false;
}

int observe_iter_checkpoint(struct rw_iterobs *it, struct rw_proc_image *img)
{
	const struct rw_iter_task *t;
	const struct rw_iter_fd *r;
	pid_t self = getpid();
	size_t n;
	int err;

	if (iterobs_tgid(it) != img->tgid)
		return -EINVAL;
	err = iterobs_read_tasks(it, &t, &n);
	if (err)
		return err;
	img->no_io_uring = n > 0;
	for (size_t i = 0; i < n; i++)
		if (t[i].io_uring)
			img->no_io_uring = false;
	err = iterobs_read_fds(it, &r, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct rw_fd_image *fi = (struct rw_fd_image *)image_fd(img, r[i].fd);

		/* Confirmed once: a rewind's equal address then means kcmp's "same". */
		if (fi && fi->held >= 0 &&
		    syscall(SYS_kcmp, img->tgid, self, KCMP_FILE, r[i].fd, fi->held) == 0)
			fi->file = r[i].file;
	}
	return 0;
}

static int iter_fds(struct rw_iterobs *it, const struct rw_proc_image *img,
		    struct rw_fd_now **out, size_t *nout)
{
	const struct rw_iter_fd *r;
	pid_t self = 0;
	size_t n;
	int err;

	err = iterobs_read_fds(it, &r, &n);
	if (err)
		return err;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct rw_fd_image *fi = image_fd(img, r[i].fd);
		struct rw_fd_now *now = &(*out)[i];

		/* The kernel walks the table upwards: the plan needs ascending fds. */
		if (i && r[i].fd <= r[i - 1].fd) {
			free(*out);
			*out = NULL;
			return -EPROTO;
		}
		now->fd = r[i].fd;
		if (!fi)
			continue;	/* new since the checkpoint: closed, nothing else read */
		if (fi->held >= 0 && fi->file) {
			now->same = r[i].file == fi->file;
		} else if (fi->held >= 0) {
			if (!self)
				self = getpid();
			now->same = syscall(SYS_kcmp, img->tgid, self, KCMP_FILE, r[i].fd,
					    fi->held) == 0;
		} else if (stat_is_inode(r[i].magic)) {
			now->same = user_dev(r[i].dev) == fi->dev && r[i].ino == fi->ino;
		} else {
			char link[32];
			struct stat st;

			snprintf(link, sizeof(link), "fd/%d", r[i].fd);
			now->same = !proc_stat_link(img->tgid, link, &st) &&
				    st.st_dev == fi->dev && st.st_ino == fi->ino;
		}
		if (!now->same)
			continue;	/* replaced: likewise */
		now->cloexec = r[i].cloexec;
		now->pos = fi->pos >= 0 && fi->held >= 0 ? r[i].pos : fi->pos;
		now->status_flags = r[i].f_flags;
	}
	*nout = n;
	return 0;
}

static const struct rw_iter_task *find_task(const struct rw_iter_task *t, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].tid == tid)
			return &t[i];
	return NULL;
}

static int iter_threads(const struct rw_iter_task *t, size_t n, const pid_t *tids,
			size_t ntids, bool rseq, struct rw_observation *o)
{
	size_t k = ntids ? ntids : 1;
	int err = 0;

	o->pending = calloc(k, sizeof(*o->pending));
	o->comms = calloc(k, sizeof(*o->comms));
	o->robust = calloc(k, sizeof(*o->robust));
	o->blocked = calloc(k, sizeof(*o->blocked));
	if (rseq)
		o->rseq = calloc(k, sizeof(*o->rseq));
	if (!o->pending || !o->comms || !o->robust || !o->blocked || (rseq && !o->rseq))
		return -ENOMEM;
	for (size_t i = 0; i < ntids && !err; i++) {
		const struct rw_iter_task *r = find_task(t, n, tids[i]);

		/* Another pid namespace than the kernel's numbers, or not iterated. */
		if (!r)
			return -ESRCH;
		if (r->pending_overflow)
			err = thread_pending_read(r->tid, &o->pending[i]);
		else
			memcpy(o->pending[i].count, r->count, sizeof(r->count));
		memcpy(o->comms[i], r->comm, sizeof(o->comms[i]));
		o->comms[i][sizeof(o->comms[i]) - 1] = '\0';
		if (rseq && r->rseq)
			o->rseq[i] = (struct rw_rseq){ r->rseq, r->rseq_len, r->rseq_sig };
		/* get_robust_list's length is always that of the 64-bit head. */
		o->robust[i] = (struct rw_robust){ r->robust_list, 3 * sizeof(uint64_t) };
		o->blocked[i] = r->blocked;
	}
	return err;
}

int observe_iter_state(struct rw_iterobs *it, const struct rw_proc_image *img,
		       const pid_t *tids, size_t ntids, const struct rw_log_facts *facts,
		       struct rw_observation *o, struct rw_proc_status *status, struct stat *cwd)
{
	const struct rw_iter_task *t, *lead;
	size_t n;
	int err;

	if (iterobs_tgid(it) != img->tgid)
		return -EINVAL;
	err = iterobs_read_tasks(it, &t, &n);
	if (err)
		goto fail;
	lead = find_task(t, n, img->tgid);
	if (!lead) {
		err = -ESRCH;
		goto fail;
	}
	err = iter_threads(t, n, tids, ntids, facts->rseq_called || facts->incomplete, o);
	if (!err)
		err = iter_fds(it, img, &o->fds, &o->obs.nfds);
	if (err)
		goto fail;
	memset(status, 0, sizeof(*status));
	status->umask = lead->umask;
	status->sig_ignored = lead->sig_ignored;
	status->sig_caught = lead->sig_caught;
	status->sig_pending_shared = lead->sig_pending_shared;
	status->seccomp = lead->seccomp;
	status->seccomp_filters = lead->seccomp_filters;
	status->no_new_privs = lead->no_new_privs;
	o->obs.pgid = lead->pgid;
	o->obs.sid = lead->sid;
	if (stat_is_inode(lead->cwd_magic)) {
		memset(cwd, 0, sizeof(*cwd));
		cwd->st_dev = user_dev(lead->cwd_dev);
		cwd->st_ino = lead->cwd_ino;
	} else {
		err = proc_stat_link(img->tgid, "cwd", cwd);
		if (err)
			goto fail;
	}
	return 0;
fail:
	if (err != -ENOMEM)
		pr_debug("pid %d: iterators: %s: reading /proc\n", img->tgid, strerror(-err));
	free(o->fds);
	free(o->pending);
	free(o->rseq);
	free(o->comms);
	free(o->robust);
	free(o->blocked);
	o->fds = NULL;
	o->pending = NULL;
	o->rseq = NULL;
	o->comms = NULL;
	o->robust = NULL;
	o->blocked = NULL;
	o->obs.nfds = 0;
	return err;
}
