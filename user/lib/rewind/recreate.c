// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "recreate: "
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "clock.h"
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

/*
 * clone3's EEXIST for the exited thread's own tid, still being released:
 * it is visible as a dying thread of its process, or, gone from /proc, its
 * number is not freed yet (release_task frees pid numbers after dropping
 * tasklist_lock, where a loaded machine preempts it for milliseconds).
 * Nothing wakes a waiter at that release (a pidfd is woken at the exit,
 * before it): the clone is tried again, bounded. A tid held by another
 * task is not this.
 */
#define TID_FREE_WAIT_NS	(1000ULL * 1000 * 1000)
#define TID_FREE_NAP_NS		20000L
#define TID_FREE_NAP_MAX_NS	1000000L

static bool tid_releasing(pid_t tgid, pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", tgid, tid);
	if (!stat(path, &st))
		return true;
	snprintf(path, sizeof(path), "/proc/%d", tid);
	return stat(path, &st) && errno == ENOENT;
}

static int clone_back(struct rw_remote *r, pid_t tgid, const struct rw_thread_state *ts,
		      struct rw_seized *child)
{
	uint64_t t0 = rw_now_ns();
	int err, tries = 0;

	for (;;) {
		/* Doubling: the exiting thread needs the CPU more than our clones do. */
		struct timespec nap = { 0, tries < 6 ? TID_FREE_NAP_NS << tries : TID_FREE_NAP_MAX_NS };

		err = remote_clone_thread(r, ts->regs.fs_base, ts->exit.clear_tid, ts->exit.nstid,
					  ts->exit.nstid_n, child);
		if (err != -EEXIST || child->seized || r->broken || !tid_releasing(tgid, ts->tid) ||
		    rw_now_ns() - t0 > TID_FREE_WAIT_NS)
			break;
		nanosleep(&nap, NULL);
		tries++;
	}
	if (tries)
		pr_debug("pid %d: thread %d's tid was still being released: %d more clone(s), "
			 "%llu us\n", tgid, ts->tid, tries, (unsigned long long)(rw_now_ns() - t0) / 1000);
	return err;
}

static int recreate_one(const struct rw_plan *p, const struct rw_thread_state *ts, pid_t parent,
			struct rw_frozen *f, struct rw_remote *rr, char *why, size_t whylen)
{
	struct rw_seized *ij = freeze_thread(f, parent), child = { 0 };
	pid_t rtid = rr->ij ? rr->ij->tid : 0;
	struct rw_remote own, *r = rr;
	int err, cerr = 0;

	if (!ij || !ij->seized)
		return rw_why(why, whylen, -ESRCH, "thread %d of pid %d exited and cannot be "
			      "recreated: thread %d to clone it in is gone", ts->tid, p->tgid, parent);
	if (ij != rr->ij) {
		remote_init(&own, ij, p->tgid);
		remote_set_hole(&own, rr->hole);
		r = &own;
	}
	err = clone_back(r, p->tgid, ts, &child);
	if (r == &own)
		cerr = remote_close(r);
	/*
	 * Killed meanwhile (-ESRCH): a child whose birth was reported but that
	 * died before its first stop is reaped by its release (child.reap); one
	 * the clone made unreported is found among the process's threads.
	 */
	if (err && !child.seized)
		inject_release(&child);
	if (err == -ESRCH && !child.seized)
		freeze_reap_strays(f);
	if (err && !child.seized)
		return rw_why(why, whylen, err, "thread %d (%s) of pid %d exited and cannot be "
			      "recreated: %s", ts->tid, ts->comm, p->tgid,
			      r->broken ? "injecting clone3 failed" : refusal(err));
	if (!err && child.tid != ts->tid)
		err = rw_why(why, whylen, -EIO, "thread %d of pid %d: recreated as tid %d", ts->tid,
			     p->tgid, child.tid);
	else if (!err && cerr)
		err = rw_why(why, whylen, cerr, "pid %d: unmapping our scratch page", p->tgid);
	else if (err)
		err = rw_why(why, whylen, err, "thread %d of pid %d: taking hold of it recreated",
			     ts->tid, p->tgid);
	if (!err && ts->exit.robust_head) {
		remote_init(&own, &child, p->tgid);
		err = remote_sys(&own, "set_robust_list", SYS_set_robust_list,
				 (long)ts->exit.robust_head, (long)ts->exit.robust_len, 0, 0, NULL);
		if (err)
			err = rw_why(why, whylen, err, "thread %d of pid %d: recreated, but its robust "
				     "list cannot be set", ts->tid, p->tgid);
	}
	if (!err)
		err = freeze_adopt(f, &child);
	/* The array moved: the rewind's remote follows its thread. */
	if (rtid)
		rr->ij = freeze_thread(f, rtid);
	if (err && child.seized) {
		/* Never let it run as it is: it goes again (the process fails closed anyway). */
		inject_exit_thread(&child);
		inject_release(&child);
	}
	return err;
}

int recreate_threads(const struct rw_plan *p, const struct rw_proc_image *img,
		     struct rw_frozen *f, struct rw_remote *r, char *why, size_t whylen)
{
	for (size_t i = 0; i < p->nrecreate; i++) {
		const struct rw_thread_state *ts = image_thread(img, p->recreate[i].tid);
		uint64_t t = rw_now_ns();
		int err;

		if (!ts)
			return rw_why(why, whylen, -EINVAL, "pid %d: thread %d to recreate is not in "
				      "its checkpoint", p->tgid, p->recreate[i].tid);
		err = recreate_one(p, ts, p->recreate[i].parent, f, r, why, whylen);
		if (err)
			return err;
		pr_debug("pid %d: thread %d (%s) recreated in %llu us\n", p->tgid, ts->tid, ts->comm,
			 (unsigned long long)(rw_now_ns() - t) / 1000);
	}
	return 0;
}
