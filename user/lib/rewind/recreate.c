// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "recreate: "
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

#include "log.h"
#include "recreate.h"
#include "remote.h"
#include "rewind.h"

/* Why the kernel refused the clone, for people. */
static const char *refusal(int err)
{
	switch (err) {
	case -EPERM:
		return "clone3 set_tid needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) in the user "
		       "namespace owning the target's pid namespace, and the target lacks it";
	case -EEXIST:
		return "its tid is taken by another task";
	case -EINVAL:
		return "the kernel refused the clone3 arguments (set_tid deeper than the pid "
		       "namespace?)";
	default:
		return "clone3 failed";
	}
}

static int recreate_one(const struct rw_plan *p, const struct rw_thread_state *ts, pid_t parent,
			struct rw_frozen *f, uint64_t hole, char *why, size_t whylen)
{
	struct rw_seized *ij = freeze_thread(f, parent), child = { 0 };
	struct rw_remote r;
	int err, cerr;

	if (!ij || !ij->seized)
		return rw_why(why, whylen, -ESRCH, "thread %d of pid %d exited and cannot be "
			      "recreated: thread %d to clone it in is gone", ts->tid, p->tgid, parent);
	remote_init(&r, ij, p->tgid);
	remote_set_hole(&r, hole);
	err = remote_clone_thread(&r, ts->regs.fs_base, ts->exit.clear_tid, ts->exit.nstid,
				  ts->exit.nstid_n, &child);
	cerr = remote_close(&r);
	if (err && !child.seized)
		return rw_why(why, whylen, err, "thread %d (%s) of pid %d exited and cannot be "
			      "recreated: %s", ts->tid, ts->comm, p->tgid,
			      r.broken ? "injecting clone3 failed" : refusal(err));
	if (!err && child.tid != ts->tid)
		err = rw_why(why, whylen, -EIO, "thread %d of pid %d: recreated as tid %d", ts->tid,
			     p->tgid, child.tid);
	else if (!err && cerr)
		err = rw_why(why, whylen, cerr, "pid %d: unmapping our scratch page", p->tgid);
	else if (err)
		err = rw_why(why, whylen, err, "thread %d of pid %d: taking hold of it recreated",
			     ts->tid, p->tgid);
	if (!err && ts->exit.robust_head) {
		remote_init(&r, &child, p->tgid);
		err = remote_sys(&r, "set_robust_list", SYS_set_robust_list,
				 (long)ts->exit.robust_head, (long)ts->exit.robust_len, 0, 0, NULL);
		if (err)
			err = rw_why(why, whylen, err, "thread %d of pid %d: recreated, but its robust "
				     "list cannot be set", ts->tid, p->tgid);
	}
	if (!err)
		err = freeze_adopt(f, &child);
	if (err && child.seized) {
		/* Never let it run as it is: it goes again (the process fails closed anyway). */
		inject_exit_thread(&child);
		inject_release(&child);
	}
	return err;
}

int recreate_threads(const struct rw_plan *p, const struct rw_proc_image *img,
		     struct rw_frozen *f, uint64_t hole, char *why, size_t whylen)
{
	for (size_t i = 0; i < p->nrecreate; i++) {
		const struct rw_thread_state *ts = image_thread(img, p->recreate[i].tid);
		int err;

		if (!ts)
			return rw_why(why, whylen, -EINVAL, "pid %d: thread %d to recreate is not in "
				      "its checkpoint", p->tgid, p->recreate[i].tid);
		err = recreate_one(p, ts, p->recreate[i].parent, f, hole, why, whylen);
		if (err)
			return err;
		pr_debug("pid %d: thread %d (%s) recreated\n", p->tgid, ts->tid, ts->comm);
	}
	return 0;
}
