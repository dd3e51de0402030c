// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "rewind: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "fileio.h"
#include "log.h"
#include "pagemap.h"
#include "pageset.h"
#include "pidfd.h"
#include "rewind.h"
#include <linux/types.h>
#include "rewind/events.h"
#include "rewind/syscalls.h"

/* Re-protecting restored ranges one ioctl each up to this many, else one page-table walk. */
#define PROTECT_EACH_MAX	128
/* How long a SIGKILLed process may take to go (a D-state sleeper, a core dump). */
#define KILL_DEADLINE_MS	5000
#define KILL_ROUNDS		16

/* ---- checkpoint --------------------------------------------------------------- */

int rewind_checkpoint_process(pid_t tgid, struct rw_wp **wp, struct rw_proc_image *img,
			      void (*quiesce)(void *ctx), void *ctx, struct rw_ckpt_stats *st,
			      char *why, size_t whylen)
{
	struct rw_maps maps = { 0 };
	struct rw_frozen f;
	struct rw_remote r;
	uint64_t t = rw_now_ns(), t1;
	int err, arm;

	err = freeze_process(&f, tgid);
	if (err)
		return rw_why(why, whylen, err, "pid %d: stopping its threads", tgid);
	t1 = rw_now_ns();
	st->stop_ns += t1 - t;
	t = t1;

	/*
	 * Capture first, arm after, both while it is stopped (no write can fall
	 * between). Arming with WP_UNPOPULATED leaves a marker in every empty
	 * pte, which PAGEMAP_SCAN reports as swapped: captured after arming,
	 * every untouched page would be read in and stored as zeros.
	 */
	wp_close(*wp);
	*wp = NULL;
	remote_init(&r, freeze_any(&f), tgid);
	err = image_capture(img, &f, &r);
	remote_close(&r);
	t1 = rw_now_ns();
	st->capture_ns += t1 - t;
	t = t1;

	if (!err) {
		arm = wp_open_seized(wp, tgid, freeze_any(&f));
		if (!arm)
			arm = proc_read_maps(freeze_any(&f)->tid, &maps);
		if (!arm) {
			arm = wp_sync(*wp, &maps);
			arm = arm < 0 ? arm : 0;
		}
		proc_maps_free(&maps);
		if (arm) {
			/* Without write protection every rewind restores all private memory. */
			pr_warn("pid %d: write protection unavailable (%s): rewinds will restore all "
				"of its private memory\n", tgid, strerror(-arm));
			wp_close(*wp);
			*wp = NULL;
		}
	}
	/* Our injections' records go while it is still stopped. */
	if (quiesce)
		quiesce(ctx);
	t1 = rw_now_ns();
	st->arm_ns += t1 - t;
	t = t1;
	if (freeze_release(&f) && !err)
		err = -ESRCH;
	st->resume_ns += rw_now_ns() - t;
	if (err) {
		image_free(img);
		return rw_why(why, whylen, err, "pid %d: taking its checkpoint image", tgid);
	}
	return 0;
}

/* ---- what the log says ---------------------------------------------------------- */

static int add_len(struct rw_ranges *l, uint64_t addr, uint64_t len)
{
	uint64_t start = addr & ~(RW_PAGE_SIZE - 1);
	uint64_t end = (addr + len + RW_PAGE_SIZE - 1) & ~(RW_PAGE_SIZE - 1);

	return end > start ? ranges_add(l, start, end) : 0;
}

int rewind_log_facts(const struct rw_invocation *inv, pid_t tgid, bool incomplete,
		     struct rw_log_facts *out)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->incomplete = incomplete;
	for (size_t i = 0; i < inv->nlayout && !err; i++) {
		const struct rw_sys_record *r = &inv->layout[i];

		if (r->tgid != tgid)
			continue;
		out->layout_changed = true;
		switch (r->nr) {
		case RW_NR_brk:
			out->brk_called = true;
			break;
		case RW_NR_shmat:
		case RW_NR_shmdt:
		case RW_NR_remap_file_pages:
			break;	/* no length to name: the maps tell */
		case RW_NR_mmap:
			if (r->ret >= 0)
				err = add_len(&out->layout_touched, r->ret, r->args[1]);
			break;
		case RW_NR_mremap:
			err = add_len(&out->layout_touched, r->args[0], r->args[1]);
			if (!err && r->ret >= 0)
				err = add_len(&out->layout_touched, r->ret, r->args[2]);
			break;
		default:	/* munmap, mprotect, pkey_mprotect, madvise */
			err = add_len(&out->layout_touched, r->args[0], r->args[1]);
			break;
		}
	}
	for (size_t i = 0; i < inv->nstate; i++) {
		const struct rw_sys_record *r = &inv->state[i];

		if (r->tgid != tgid)
			continue;
		switch (rw_syscall_class(r->nr)) {
		case RW_SC_SIGNAL:
			if (r->nr == RW_NR_rt_sigaction && r->args[0] >= 1 && r->args[0] <= 64)
				out->sigactions_called |= 1ULL << (r->args[0] - 1);
			break;
		case RW_SC_TIMER:
			out->timers_called = true;
			break;
		case RW_SC_FD:
			/* close and dup only drop or add an fd; the others may change one's flags */
			if (r->nr != RW_NR_close && r->nr != RW_NR_dup)
				out->fd_flags_changed = true;
			break;
		}
	}
	for (size_t i = 0; i < inv->ntasks; i++)
		if (inv->tasks[i].tgid == tgid && inv->tasks[i].op == RW_TASK_EXEC)
			out->layout_changed = true;
	for (size_t i = 0; i < inv->nprocs && !err; i++) {
		uint64_t *pages;
		size_t n;

		if (inv->procs[i].tgid != tgid || !inv->procs[i].faulted)
			continue;
		err = pageset_sorted(inv->procs[i].faulted, &pages, &n);
		for (size_t k = 0; k < n && !err; k++)
			err = ranges_add(&out->faulted, pages[k], pages[k] + RW_PAGE_SIZE);
		if (!err)
			free(pages);
	}
	if (err)
		rewind_log_facts_free(out);
	return err;
}

void rewind_log_facts_free(struct rw_log_facts *f)
{
	ranges_free(&f->layout_touched);
	ranges_free(&f->faulted);
}

/* ---- stop, plan, apply, verify, resume --------------------------------------------- */

int rewind_stop(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen)
{
	uint64_t t = rw_now_ns();
	int err = freeze_process(&rw->f, rw->img->tgid);

	st->stop_ns += rw_now_ns() - t;
	if (err == -ESRCH)
		return rw_why(why, whylen, 0, "process %d of the checkpoint has exited", rw->img->tgid);
	if (err)
		return rw_why(why, whylen, err, "pid %d: stopping its threads", rw->img->tgid);
	rw->frozen = true;
	return 0;
}

/* Where the image's checkpoint threads can be injected through: one the plan keeps. */
static struct rw_inject *injector(struct rw_rewinding *rw)
{
	struct rw_inject *ij = freeze_thread(&rw->f, rw->img->tgid);

	if (ij && ij->seized && image_thread(rw->img, ij->tid))
		return ij;
	for (size_t i = 0; i < rw->img->nthreads; i++) {
		ij = freeze_thread(&rw->f, rw->img->threads[i].tid);
		if (ij && ij->seized)
			return ij;
	}
	return NULL;
}

static int observe_fds(struct rw_rewinding *rw, const struct rw_log_facts *facts,
		       struct rw_fd_now **out, size_t *nout)
{
	const struct rw_proc_image *img = rw->img;
	int *fds, err;
	size_t n;

	err = proc_list_fds(img->tgid, &fds, &n);
	if (err)
		return err;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out) {
		free(fds);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rw_fd_image *fi = image_fd(img, fds[i]);
		struct rw_fd_now *now = &(*out)[i];

		now->fd = fds[i];
		if (!fi)
			continue;
		if (fi->held >= 0) {
			now->same = syscall(SYS_kcmp, img->tgid, getpid(), KCMP_FILE, fds[i],
					    fi->held) == 0;
		} else {
			char link[32];
			struct stat st;

			snprintf(link, sizeof(link), "fd/%d", fds[i]);
			now->same = !proc_stat_link(img->tgid, link, &st) &&
				    st.st_dev == fi->dev && st.st_ino == fi->ino;
		}
		if (!now->same)
			continue;
		now->pos = fi->pos >= 0 && fi->held >= 0 ? lseek(fi->held, 0, SEEK_CUR) : fi->pos;
		now->status_flags = fi->held >= 0 ? fcntl(fi->held, F_GETFL) : fi->status_flags;
		now->cloexec = fi->cloexec;
		if (facts->fd_flags_changed || facts->incomplete) {
			int64_t pos;
			int flags;

			/* Unheld (pipe write end, socket): the target's fdinfo is the only view. */
			if (!proc_read_fdinfo(img->tgid, fds[i], &now->cloexec, &pos, &flags) &&
			    fi->held < 0)
				now->status_flags = flags;
		}
	}
	*nout = n;
	free(fds);
	return 0;
}

/*
 * The layout cannot have changed: write protection is armed, no event was
 * lost, the log has no layout call nor exec, and every write fault fell in
 * checkpoint memory (a stack that grows faults below its vma).
 */
static bool layout_as_checkpoint(const struct rw_rewinding *rw, const struct rw_log_facts *facts)
{
	if (!rw->wp || facts->incomplete || facts->layout_changed || rw->f.n != rw->img->nthreads)
		return false;
	for (size_t i = 0; i < facts->faulted.n; i++) {
		ssize_t k = proc_maps_find(&rw->img->maps, facts->faulted.r[i].start);

		if (k < 0 || rw->img->maps.v[k].end < facts->faulted.r[i].end)
			return false;
	}
	return true;
}

/*
 * Finding a syscall instruction reads the maps and the vDSO (~50-150 us):
 * reuse the checkpoint's while no layout call of the invocation touched it.
 */
static uint64_t known_syscall_ip(const struct rw_proc_image *img, const struct rw_log_facts *facts)
{
	uint64_t ip = img->syscall_ip;

	if (!ip || facts->incomplete)
		return 0;
	for (size_t i = 0; i < facts->layout_touched.n; i++)
		if (facts->layout_touched.r[i].start < ip + 2 && ip < facts->layout_touched.r[i].end)
			return 0;
	return ip;
}

int rewind_plan(struct rw_rewinding *rw, const struct rw_log_facts *facts,
		struct rw_rewind_stats *st, char *why, size_t whylen)
{
	const struct rw_proc_image *img = rw->img;
	struct rw_ranges covered = { 0 };
	struct rw_observed obs = { 0 };
	struct rw_maps maps = { 0 };
	struct rw_fd_now *fds = NULL;
	struct rw_proc_status status;
	struct stat cwd;
	pid_t *tids = NULL;
	int *timers = NULL, err = 0;
	size_t ntimers = 0;
	uint64_t t = rw_now_ns(), t1;

	if (rw->wp) {
		struct rw_ranges_collect c = { .ranges = &rw->written };
		long n = wp_scan(rw->wp, false, ranges_collect, &c);

		if (n < 0) {
			pr_warn("pid %d: write-protection scan failed (%s): restoring all of its "
				"private memory\n", img->tgid, strerror(-n));
			rw->wp = NULL;	/* the caller closes it: coverage unknown */
		} else {
			err = c.err;	/* a written page missing from the list would not be copied */
		}
	}
	if (rw->wp && !err) {
		const struct rw_ranges *reg = wp_registered(rw->wp);

		for (size_t i = 0; i < reg->n && !err; i++)
			err = ranges_add(&covered, reg->r[i].start, reg->r[i].end);
	}
	for (size_t i = 0; i < facts->faulted.n && !err; i++)
		err = ranges_add(&rw->written, facts->faulted.r[i].start, facts->faulted.r[i].end);
	ranges_normalize(&rw->written);
	t1 = rw_now_ns();
	st->scan_ns += t1 - t;
	t = t1;
	if (err) {
		err = rw_why(why, whylen, err, "pid %d: listing the pages written since the checkpoint",
			     img->tgid);
		goto out;
	}

	/*
	 * Reading /proc costs more than the rest of a small rewind: skip what
	 * the log proves unchanged (verify still reads it all).
	 */
	if (layout_as_checkpoint(rw, facts))
		obs.maps = &img->maps;
	else
		err = proc_read_maps(freeze_any(&rw->f)->tid, &maps);
	/* Always: a signal pending now, from anyone, must not be delivered after the rewind. */
	if (!err)
		err = proc_read_status(img->tgid, &status);
	if (!err)
		err = proc_stat_link(img->tgid, "cwd", &cwd);
	if (!err)
		err = observe_fds(rw, facts, &fds, &obs.nfds);
	if (!err && (facts->timers_called || facts->incomplete))
		err = proc_list_posix_timers(img->tgid, &timers, &ntimers);
	tids = calloc(rw->f.n ? rw->f.n : 1, sizeof(*tids));
	if (!err && !tids)
		err = -ENOMEM;
	if (err) {
		err = rw_why(why, whylen, err, "pid %d: observing its state", img->tgid);
		goto out;
	}
	for (size_t i = 0; i < rw->f.n; i++)
		tids[i] = rw->f.threads[i].tid;
	if (!obs.maps)
		obs.maps = &maps;
	obs.tids = tids;
	obs.ntids = rw->f.n;
	obs.written = rw->written.r;
	obs.nwritten = rw->written.n;
	obs.covered = covered.r;
	obs.ncovered = covered.n;
	obs.layout_touched = facts->layout_touched.r;
	obs.nlayout_touched = facts->layout_touched.n;
	obs.log_incomplete = facts->incomplete;
	obs.brk_called = facts->brk_called;
	obs.sigactions_called = facts->sigactions_called;
	obs.timers_called = facts->timers_called;
	obs.fds = fds;
	obs.cwd_dev = cwd.st_dev;
	obs.cwd_ino = cwd.st_ino;
	obs.umask = status.umask;
	obs.sig_ignored = status.sig_ignored;
	obs.sig_caught = status.sig_caught;
	obs.sig_pending_shared = status.sig_pending_shared;
	obs.timer_ids = timers;
	obs.ntimers = ntimers;
	rw->syscall_ip = known_syscall_ip(img, facts);
	rw->untracked = rw->hot ? rw->hot->pages : 0;
	rw->sig_ignored = status.sig_ignored;
	err = plan_build(img, &obs, &rw->plan);
	if (err) {
		err = rw_why(why, whylen, err, "pid %d: planning the restore", img->tgid);
		goto out;
	}
	if (rw->plan.nfailures) {
		if (rw->plan.nfailures > 1)
			snprintf(why, whylen, "%s (and %zu more)", rw->plan.failures[0],
				 rw->plan.nfailures - 1);
		else
			snprintf(why, whylen, "%s", rw->plan.failures[0]);
		err = -ENOTRECOVERABLE;
	}
out:
	st->plan_ns += rw_now_ns() - t;
	proc_maps_free(&maps);
	ranges_free(&covered);
	free(fds);
	free(tids);
	free(timers);
	return err;
}

/* Register what was mapped anew (before it gets content: it can still merge). */
static int register_new(struct rw_rewinding *rw)
{
	struct rw_maps maps = { 0 };
	int err;

	err = proc_read_maps(freeze_any(&rw->f)->tid, &maps);
	if (!err) {
		err = wp_sync(rw->wp, &maps);
		err = err < 0 ? err : 0;
	}
	proc_maps_free(&maps);
	return err;
}

/*
 * Whether the layout step can have left private writable memory that is not
 * registered: a mapping made, the break moved, armed memory unmapped (its
 * registration gone with it), or memory whose registration the invocation
 * dropped (mmap MAP_FIXED over it: the scan or a re-arm found it). Unmapping what the invocation mapped and
 * mprotect (registration survives a split) change nothing: no need to read
 * the maps again.
 */
static bool made_armable(const struct rw_plan *p, const struct rw_wp *wp)
{
	const struct rw_ranges *reg = wp_registered(wp);

	if (p->set_brk || wp_unsynced(wp))
		return true;	/* the break moved, or the scan found coverage lost */
	for (size_t i = 0; i < p->nlayout; i++) {
		const struct rw_layout_op *op = &p->layout[i];

		if (op->kind == RW_LAYOUT_MPROTECT)
			continue;
		if (op->kind != RW_LAYOUT_MUNMAP)
			return true;
		for (size_t k = 0; k < reg->n; k++)
			if (reg->r[k].start < op->end && op->start < reg->r[k].end)
				return true;
	}
	return false;
}

/*
 * Protect the registered parts of a list, one ioctl each: a range may run
 * over memory that is not registered (a PROT_NONE reservation next to a
 * malloc arena, a part whose registration was lost), wp_protect skips it.
 */
static int protect_each(struct rw_wp *wp, const struct rw_range *r, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = wp_protect(wp, r[i].start, r[i].end);
	return err;
}

/*
 * Write-protect again every page we wrote or dropped, but the hot ones
 * (hotset.h): those stay unprotected and are copied at the next rewind.
 */
static int rearm(struct rw_rewinding *rw, struct rw_rewind_stats *st)
{
	const struct rw_plan *p = &rw->plan;
	struct rw_hotset none = { 0 }, *h = rw->hot ? rw->hot : &none;
	struct rw_ranges hot = { 0 }, cold = { 0 }, probe = { 0 };
	uint64_t lo = UINT64_MAX, hi = 0;
	bool kept = false;
	int err;

	err = hotset_split(h, p->copy, p->ncopy, &hot, &cold, &probe);
	if (!err && cold.n + p->ndrop <= PROTECT_EACH_MAX) {
		err = protect_each(rw->wp, cold.r, cold.n);
		if (!err)
			err = protect_each(rw->wp, p->drop, p->ndrop);
		kept = !err;
	} else if (!err) {
		/* Many ranges: one walk protects every written page of the span, hot ones too. */
		for (size_t i = 0; i < p->ncopy + p->ndrop; i++) {
			const struct rw_range *r = i < p->ncopy ? &p->copy[i] : &p->drop[i - p->ncopy];

			lo = r->start < lo ? r->start : lo;
			hi = r->end > hi ? r->end : hi;
		}
		err = wp_rearm(rw->wp, lo, hi);
	}
	if (rw->hot && hotset_commit(rw->hot, p->copy, p->ncopy, kept ? &hot : NULL,
				     kept ? &probe : NULL))
		pr_warn("pid %d: out of memory for the hot set: every page tracked\n", rw->img->tgid);
	st->pages_hot += rw->hot ? rw->hot->pages : 0;
	ranges_free(&hot);
	ranges_free(&cold);
	ranges_free(&probe);
	return err;
}

int rewind_apply(struct rw_rewinding *rw, struct rw_rewind_stats *st, char *why, size_t whylen)
{
	struct rw_restore_stats rs = { 0 };
	struct rw_inject *ij = injector(rw);
	struct rw_colocation near;
	uint64_t t;
	int err;

	if (!ij)
		return rw_why(why, whylen, -ESRCH, "pid %d: no thread of the checkpoint is left",
			      rw->img->tgid);
	if (!ij->syscall_ip)
		ij->syscall_ip = rw->syscall_ip;
	if (!ij->ignored_known)
		inject_know_ignored(ij, rw->sig_ignored);
	remote_init(&rw->r, ij, rw->img->tgid);
	remote_set_hole(&rw->r, rw->plan.hole);
	inject_colocate(&near, ij);	/* only faster: failure is fine */
	err = restore_apply_layout(&rw->plan, rw->img, &rw->f, &rw->r, &rs, why, whylen);
	t = rw_now_ns();
	if (!err && rw->wp && made_armable(&rw->plan, rw->wp)) {
		err = register_new(rw);
		if (err)
			err = rw_why(why, whylen, err, "pid %d: write-protecting re-created mappings",
				     rw->img->tgid);
	}
	st->rearm_ns += rw_now_ns() - t;
	if (!err)
		err = restore_apply_contents(&rw->plan, rw->img, &rw->f, &rw->r, &rs, why, whylen);
	remote_close(&rw->r);
	inject_colocate_end(&near);
	st->layout_ns += rs.layout_ns;
	st->copy_ns += rs.copy_ns;
	st->inject_ns += rs.inject_ns;
	st->regs_ns += rs.regs_ns;
	st->injected += rs.injected;
	st->pages_zero_filled += rs.zero_filled_pages;
	st->pages_copied += rw->plan.copy_pages;
	st->pages_dropped += rw->plan.drop_pages;
	st->pages_wholesale += rw->plan.wholesale_pages;
	st->threads_exited += rw->plan.nexit;
	if (err)
		return err;
	t = rw_now_ns();
	if (rw->wp) {
		err = rearm(rw, st);
		if (err)
			err = rw_why(why, whylen, err, "pid %d: write-protecting the restored pages",
				     rw->img->tgid);
	}
	st->rearm_ns += rw_now_ns() - t;
	return err;
}

int rewind_verify(struct rw_rewinding *rw, struct rw_verify_result *res, struct rw_rewind_stats *st)
{
	uint64_t t = rw_now_ns();
	struct rw_inject *ij = injector(rw);
	int err;

	if (!ij)
		return -ESRCH;
	remote_init(&rw->r, ij, rw->img->tgid);
	err = verify_process(rw->img, &rw->f, &rw->r, res);
	remote_close(&rw->r);
	st->verify_ns += rw_now_ns() - t;
	return err;
}

static void rewinding_free(struct rw_rewinding *rw)
{
	plan_free(&rw->plan);
	ranges_free(&rw->written);
}

int rewind_resume(struct rw_rewinding *rw, struct rw_rewind_stats *st)
{
	uint64_t t = rw_now_ns();
	int err = 0;

	if (rw->frozen)
		err = freeze_release(&rw->f);
	rw->frozen = false;
	rewinding_free(rw);
	st->resume_ns += rw_now_ns() - t;
	return err;
}

void rewind_abandon(struct rw_rewinding *rw)
{
	remote_close(&rw->r);
	if (rw->frozen)
		freeze_release(&rw->f);
	rw->frozen = false;
	rewinding_free(rw);
}

/* ---- processes created since the checkpoint ---------------------------------------- */

static struct rw_rewinding *frozen_process(struct rw_rewinding *procs, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (procs[i].frozen && procs[i].img->tgid == pid)
			return &procs[i];
	return NULL;
}

int rewind_kill(const pid_t *pids, size_t n, struct rw_rewinding *procs, size_t nprocs,
		char *why, size_t whylen)
{
	int *pidfds = calloc(n ? n : 1, sizeof(int));
	pid_t *parents = calloc(n ? n : 1, sizeof(pid_t));
	int err = 0;

	if (!pidfds || !parents) {
		free(pidfds);
		free(parents);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct rw_proc_status st;

		parents[i] = proc_read_status(pids[i], &st) ? 0 : st.ppid;
		/* A pidfd pins the process: the pid cannot be reused under us. */
		pidfds[i] = sys_pidfd_open(pids[i], 0);
		if (pidfds[i] < 0)
			continue;	/* already gone */
		if (sys_pidfd_send_signal(pidfds[i], SIGKILL, NULL, 0) && errno != ESRCH)
			err = rw_why(why, whylen, -errno, "killing pid %d (created since the "
				     "checkpoint)", pids[i]);
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct pollfd pfd = { .fd = pidfds[i], .events = POLLIN };
		struct rw_rewinding *parent;

		if (pidfds[i] < 0)
			continue;
		/* Readable once the process has exited (a zombie at least). */
		if (poll(&pfd, 1, KILL_DEADLINE_MS) != 1) {
			err = rw_why(why, whylen, -ETIMEDOUT, "pid %d (created since the checkpoint) "
				     "did not die within %d ms of SIGKILL", pids[i], KILL_DEADLINE_MS);
			break;
		}
		parent = frozen_process(procs, nprocs, parents[i]);
		if (parent) {
			struct rw_inject *ij = injector(parent);
			pid_t reaped;

			if (!ij)
				continue;
			remote_init(&parent->r, ij, parent->img->tgid);
			err = remote_wait4(&parent->r, pids[i], 0, &reaped);
			if (!err)
				err = remote_drain_signals(&parent->r, 1ULL << (SIGCHLD - 1));
			remote_close(&parent->r);
			if (err == -ECHILD)
				err = 0;	/* reaped by someone else meanwhile */
			if (err)
				err = rw_why(why, whylen, err, "pid %d: reaping its child %d",
					     parents[i], pids[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	free(pidfds);
	free(parents);
	return err;
}
