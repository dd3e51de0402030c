// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "observe: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "log.h"
#include "observe.h"
#include "observe_iter.h"
#include "observe_layout.h"
#include "pagemap.h"
#include "pageset.h"
#include <linux/types.h>
#include "rewind/events.h"
#include "rewind/syscalls.h"

/* ---- what the log says ---------------------------------------------------------- */

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE	0x08	/* Linux 6.11: private, wipe-on-fork, freed under pressure */
#endif

/*
 * /proc/N/mem or /proc/N/task/T/mem as the writer's file record names it (its
 * procfs is mounted at /proc: in a container, the container's): a write there
 * goes past every protection, as a ptrace poke does.
 */
static bool proc_mem_path(const char *path)
{
	const char *p = path;

	if (strncmp(p, "/proc/", 6))
		return false;
	p += 6;
	for (int part = 0; part < 2; part++) {
		if (!strncmp(p, "self/", 5) || !strncmp(p, "thread-self/", 12)) {
			p = strchr(p, '/') + 1;
		} else {
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p++ != '/')
				return false;
		}
		if (part == 0 && !strncmp(p, "task/", 5))
			p += 5;
		else
			break;
	}
	return !strcmp(p, "mem");
}

static int add_len(struct rw_ranges *l, uint64_t addr, uint64_t len)
{
	uint64_t start = addr & ~(RW_PAGE_SIZE - 1);
	uint64_t end = (addr + len + RW_PAGE_SIZE - 1) & ~(RW_PAGE_SIZE - 1);

	return end > start ? ranges_add(l, start, end) : 0;
}

/*
 * madvise advice that changes what armed pages hold (they read zero after)
 * or drops their write protection (populating for write): no write fault
 * tells, so the range counts as written.
 */
static bool madvise_unfaulted(uint64_t advice)
{
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_REMOVE:
	case 23:	/* MADV_POPULATE_WRITE */
	case 24:	/* MADV_DONTNEED_LOCKED */
	case 102:	/* MADV_GUARD_INSTALL */
		return true;
	}
	return false;
}

/*
 * A prctl record: the credential options are CRED's, the seccomp ones show
 * in /proc/PID/status (always compared), PR_SET_VMA renames mappings (the
 * layout tells), pstate.h restores five; any other is logged as unhandled.
 */
static int prctl_fact(const struct rw_sys_record *r, struct rw_log_facts *out)
{
	switch (r->args[0]) {
	case PR_SET_KEEPCAPS:
	case PR_SET_SECUREBITS:
		out->securebits_set = true;
		/* fall through */
	case PR_CAPBSET_DROP:
	case PR_CAP_AMBIENT:
		out->creds_called = true;
		return 0;
	case PR_SET_SECCOMP:
	case PR_SET_NO_NEW_PRIVS:
		/* The first thread's are read at every rewind; every thread's with its credentials. */
		out->creds_called = true;
		return 0;
	case PR_SET_VMA:
		return add_len(&out->layout_touched, r->args[2], r->args[3]);
	case PR_SET_PDEATHSIG:
	case PR_SET_DUMPABLE:
	case PR_SET_TIMERSLACK:
	case PR_SET_CHILD_SUBREAPER:
	case PR_SET_THP_DISABLE:
		out->pstate_called = true;
		return 0;
	}
	if (!out->prctl_unhandled)
		out->prctl_unhandled = r->args[0] + 1;
	return 0;
}

/* keyctl operations whose effect the keyring comparison sees; any other is unhandled. */
static void keyctl_fact(const struct rw_sys_record *r, struct rw_log_facts *out)
{
	switch (r->args[0]) {
	case 0:		/* KEYCTL_GET_KEYRING_ID, creating */
	case 1:		/* KEYCTL_JOIN_SESSION_KEYRING: the session keyring's id */
	case 7:		/* KEYCTL_CLEAR */
	case 8:		/* KEYCTL_LINK */
	case 9:		/* KEYCTL_UNLINK */
	case 10:	/* KEYCTL_SEARCH, linking */
	case 30:	/* KEYCTL_MOVE */
		return;
	}
	if (!out->keyctl_unhandled)
		out->keyctl_unhandled = r->args[0] + 1;
}

int observe_log_facts(const struct rw_invocation *inv, pid_t tgid, bool incomplete,
		      struct rw_log_facts *out)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->incomplete = incomplete;
	out->unvouched = inv->unvouched;
	out->pinned = inv->pinned;
	for (size_t i = 0; i < inv->nlayout && !err; i++) {
		const struct rw_sys_record *r = &inv->layout[i];

		if (r->tgid != tgid)
			continue;
		switch (r->nr) {
		case RW_NR_brk:
			/* The break moved between the checkpoint's and these (observe_layout.h). */
			out->brk_lo = !out->brk_called || (uint64_t)r->ret < out->brk_lo ?
				      (uint64_t)r->ret : out->brk_lo;
			out->brk_hi = !out->brk_called || (uint64_t)r->ret > out->brk_hi ?
				      (uint64_t)r->ret : out->brk_hi;
			out->brk_called = true;
			break;
		case RW_NR_shmat:
		case RW_NR_shmdt:
		case RW_NR_remap_file_pages:
			out->layout_unbounded = true;
			break;	/* no length to name: the maps tell */
		case RW_NR_mmap:
			if (r->ret >= 0)
				err = add_len(&out->layout_touched, r->ret, r->args[1]);
			if (!err && r->ret >= 0 && (r->args[3] & MAP_TYPE) == MAP_DROPPABLE)
				err = add_len(&out->wipe_maybe_set, r->ret, r->args[1]);
			break;
		case RW_NR_map_shadow_stack:	/* only successes are logged: ret is the address */
			err = add_len(&out->layout_touched, r->ret, r->args[1]);
			break;
		case RW_NR_mseal:
			if (!out->sealed)
				out->sealed = r->args[0] + 1;
			err = add_len(&out->layout_touched, r->args[0], r->args[1]);
			break;
		case RW_NR_mremap:
			err = add_len(&out->layout_touched, r->args[0], r->args[1]);
			if (!err && r->ret >= 0)
				err = add_len(&out->layout_touched, r->ret, r->args[2]);
			/* A wipe-on-fork vma moved keeps its flag where it lands. */
			if (!err && r->ret >= 0)
				err = add_len(&out->wipe_maybe_set, r->ret, r->args[2]);
			break;
		default:	/* munmap, mprotect, pkey_mprotect, madvise */
			err = add_len(&out->layout_touched, r->args[0], r->args[1]);
			if (!err && r->nr == RW_NR_madvise && r->args[2] == MADV_WIPEONFORK)
				err = add_len(&out->wipe_maybe_set, r->args[0], r->args[1]);
			/* Content changed or protection dropped without a write fault. */
			if (!err && r->nr == RW_NR_madvise && madvise_unfaulted(r->args[2]))
				err = add_len(&out->faulted, r->args[0], r->args[1]);
			break;
		}
	}
	for (size_t i = 0; i < inv->nstate; i++) {
		const struct rw_sys_record *r = &inv->state[i];

		/* setpriority, prlimit, sched_set*, ioprio_set may name another process. */
		if (rw_syscall_class(r->nr) == RW_SC_ATTR)
			out->attrs_called = true;
		/* A poke names a pid in the poker's namespace: every process counts as written. */
		if (rw_syscall_class(r->nr) == RW_SC_POKE)
			out->memory_forced = true;
		/* Keys: another process of the same uid may link into our keyrings by serial. */
		if (rw_syscall_class(r->nr) == RW_SC_KEY) {
			out->keys_called = true;
			if (r->nr == RW_NR_keyctl)
				keyctl_fact(r, out);
			if (r->nr == RW_NR_add_key && !err) {
				int32_t *more = realloc(out->keys_added,
							(out->nkeys_added + 1) * sizeof(*more));

				if (!more)
					err = -ENOMEM;
				else
					(out->keys_added = more)[out->nkeys_added++] = r->ret;
			}
		}
		if (r->tgid != tgid)
			continue;
		switch (rw_syscall_class(r->nr)) {
		case RW_SC_PROC:
			if (r->nr == RW_NR_prctl && !err)
				err = prctl_fact(r, out);
			else if (r->nr == RW_NR_rseq)
				out->rseq_called = true;
			else if (r->nr != RW_NR_prctl)
				out->pstate_called = true;
			break;
		case RW_SC_SIGNAL:
			if (r->nr == RW_NR_rt_sigaction && r->args[0] >= 1 && r->args[0] <= 64)
				out->sigactions_called |= 1ULL << (r->args[0] - 1);
			break;
		case RW_SC_TIMER:
			out->timers_called = true;
			break;
		case RW_SC_CRED:
			out->creds_called = true;
			if (r->nr == RW_NR_mount || r->nr == RW_NR_umount2 || r->nr == RW_NR_move_mount ||
			    r->nr == RW_NR_mount_setattr || r->nr == RW_NR_pivot_root ||
			    r->nr == RW_NR_chroot)
				out->mounts_changed = r->nr;
			break;
		case RW_SC_FD:
			/* Lock calls change the locks, the fd objects' calls the objects (fdobj.c). */
			if (r->nr == RW_NR_flock ||
			    (r->nr == RW_NR_fcntl && (r->args[1] == F_SETLK || r->args[1] == F_SETLKW ||
						     r->args[1] == F_OFD_SETLK ||
						     r->args[1] == F_OFD_SETLKW))) {
				out->locks_called = true;
				break;
			}
			if (r->nr == RW_NR_epoll_ctl || r->nr == RW_NR_inotify_add_watch ||
			    r->nr == RW_NR_inotify_rm_watch || r->nr == RW_NR_timerfd_settime)
				break;
			/* close and dup only drop or add an fd; the others may change one's flags */
			if (r->nr != RW_NR_close && r->nr != RW_NR_dup)
				out->fd_flags_changed = true;
			break;
		}
	}
	for (size_t i = 0; i < inv->nfiles; i++)
		if (proc_mem_path(inv->files[i].path) &&
		    (inv->files[i].ops & ((1u << RW_FOP_WRITE) | (1u << RW_FOP_COPY))))
			out->memory_forced = true;
	for (size_t i = 0; i < inv->ntasks; i++) {
		/* A new address space: no range names what changed. */
		if (inv->tasks[i].tgid == tgid && inv->tasks[i].op == RW_TASK_EXEC)
			out->layout_unbounded = out->pstate_called = true;
		if (inv->tasks[i].tgid == tgid && inv->tasks[i].op == RW_TASK_CGROUP)
			out->cgroup_moved = true;
	}
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
	ranges_normalize(&out->layout_touched);
	if (err)
		observe_log_facts_free(out);
	return err;
}

void observe_log_facts_free(struct rw_log_facts *f)
{
	ranges_free(&f->layout_touched);
	ranges_free(&f->faulted);
	ranges_free(&f->wipe_maybe_set);
	free(f->keys_added);
	f->keys_added = NULL;
	f->nkeys_added = 0;
}

/* ---- the process now ------------------------------------------------------------ */

static int observe_fds(const struct rw_proc_image *img, const struct rw_log_facts *facts,
		       struct rw_fd_now **out, size_t *nout)
{
	pid_t self = getpid();	/* a syscall each time: once, not once an fd */
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
			now->same = syscall(SYS_kcmp, img->tgid, self, KCMP_FILE, fds[i],
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

/* The log names every layout change: write protection armed, no event lost, the same threads. */
static bool layout_logged(const struct rw_proc_image *img, const struct rw_frozen *f, bool armed,
			  const struct rw_log_facts *facts)
{
	return armed && !facts->incomplete && f->n + f->nasleep == img->nthreads;
}

/*
 * Finding a syscall instruction reads the maps and the vDSO (~50-150 us):
 * reuse the checkpoint's while no layout call of the invocation touched it.
 */
uint64_t observe_syscall_ip(const struct rw_proc_image *img, const struct rw_log_facts *facts)
{
	uint64_t ip = img->syscall_ip;

	if (!ip || facts->incomplete)
		return 0;
	for (size_t i = 0; i < facts->layout_touched.n; i++)
		if (facts->layout_touched.r[i].start < ip + 2 && ip < facts->layout_touched.r[i].end)
			return 0;
	return ip;
}

/*
 * REWINDD_SCAN=always: scan at every rewind even where the fault log vouches
 * (A/B measurements, and to rule the log out while debugging a miss).
 */
static bool scan_forced(void)
{
	static int forced = -1;

	if (forced < 0) {
		const char *env = getenv("REWINDD_SCAN");

		forced = env && !strcmp(env, "always");
	}
	return forced;
}

void observe_brk_span(const struct rw_log_facts *facts, uint64_t brk0, uint64_t *lo, uint64_t *hi)
{
	uint64_t a = facts->brk_lo < brk0 ? facts->brk_lo : brk0;
	uint64_t b = facts->brk_hi > brk0 ? facts->brk_hi : brk0;

	*lo = a & ~(RW_PAGE_SIZE - 1);
	*hi = (b + RW_PAGE_SIZE - 1) & ~(RW_PAGE_SIZE - 1);
}

/*
 * Where a registration can have been lost: the ranges the log's layout
 * calls name, and brk's span (observe_brk_span). NULL in *out: a call that
 * nothing bounds, ask everywhere. Asking every registration costs Node's
 * ~200 vmas ~260 us a rewind.
 */
static int lost_where(const struct rw_log_facts *facts, uint64_t brk0, struct rw_ranges *own,
		      const struct rw_ranges **out)
{
	uint64_t lo, hi;
	int err = 0;

	*out = facts->layout_unbounded ? NULL : &facts->layout_touched;
	if (facts->layout_unbounded || !facts->brk_called)
		return 0;
	for (size_t i = 0; i < facts->layout_touched.n && !err; i++)
		err = ranges_add(own, facts->layout_touched.r[i].start,
				 facts->layout_touched.r[i].end);
	observe_brk_span(facts, brk0, &lo, &hi);
	if (!err)
		err = ranges_add(own, lo, hi);
	ranges_normalize(own);
	*out = own;
	return err;
}

int observe_written(struct rw_wp **wp, pid_t tgid, uint64_t brk0, const struct rw_log_facts *facts,
		    const struct rw_ranges *hot, struct rw_observation *o)
{
	struct rw_ranges where_brk = { 0 };
	int err = 0;

	/*
	 * Every write to an armed page faults once (the fault log has it) but
	 * for the ones facts->unvouched counts, the pages left unprotected (hot)
	 * and a lost registration (wp_lost). Otherwise the scan is the
	 * authority, as it is for the report.
	 */
	bool scan = scan_forced() || !facts->logged || facts->incomplete || facts->unvouched ||
		    facts->memory_forced;

	if (*wp) {
		struct rw_ranges_collect c = { .ranges = &o->written };
		/* Only a layout call replaces a vma and its registration. */
		const struct rw_ranges *where;
		long n = scan ? 0 : lost_where(facts, brk0, &where_brk, &where);

		if (!n)
			n = scan ? wp_scan(*wp, false, ranges_collect, &c) :
				   wp_lost(*wp, where, ranges_collect, &c);
		ranges_free(&where_brk);

		o->scanned = scan;

		if (n < 0) {
			pr_warn("pid %d: write-protection scan failed (%s): restoring all of its "
				"private memory\n", tgid, strerror(-n));
			*wp = NULL;	/* the caller closes it: coverage unknown */
		} else {
			err = c.err;	/* a written page missing from the list would not be copied */
		}
	}
	o->covered = *wp ? wp_registered(*wp) : NULL;	/* sorted, disjoint */
	/* Nothing counts as covered: the plan restores all private writable memory whole. */
	if (facts->pinned) {
		pr_debug("pid %d: io_uring, AIO or AF_XDP used: restoring all of its private "
			 "memory\n", tgid);
		o->covered = NULL;
	}
	for (size_t i = 0; i < facts->faulted.n && !err; i++)
		err = ranges_add(&o->written, facts->faulted.r[i].start, facts->faulted.r[i].end);
	for (size_t i = 0; *wp && !scan && hot && i < hot->n && !err; i++)
		err = ranges_add(&o->written, hot->r[i].start, hot->r[i].end);
	ranges_normalize(&o->written);
	return err;
}

int observe_state(const struct rw_proc_image *img, struct rw_frozen *f, bool armed,
		  const struct rw_log_facts *facts, struct rw_observation *o)
{
	struct rw_observed *obs = &o->obs;
	struct rw_layout_now now;
	struct rw_proc_status status;
	struct stat cwd;
	size_t ntimers = 0, ntids;
	bool it = false;	/* the iterators read status, cwd, fds, signals, rseq, pgid */
	int err = 0;

	/*
	 * Reading /proc costs more than the rest of a small rewind: the layout
	 * can differ only where the log's layout calls name (none: nowhere),
	 * and is asked there (observe_layout.h). verify still reads it all.
	 */
	if (layout_logged(img, f, armed, facts) && !facts->layout_unbounded &&
	    !observe_layout(img, img->maps_fd, facts, &now)) {
		obs->maps = now.same ? &img->maps : &o->maps;
		o->maps = now.maps;
		obs->tmap_intact = now.tmap_intact;
		obs->area_intact = now.area_intact;
	} else {
		err = proc_read_maps(freeze_any(f)->tid, &o->maps);
		/* The store's mapping is ours; changed or moved, it is the function's to lose. */
		obs->tmap_intact = !err && image_hide_tmap(img, &o->maps);
		obs->area_intact = !err && image_hide_area(img, &o->maps);
	}
	/* Every thread, those left asleep too (sleepers.h), in ascending order. */
	ntids = f->n + f->nasleep;
	o->tids = calloc(ntids ? ntids : 1, sizeof(*o->tids));
	if (!err && !o->tids)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < ntids; i++)
		o->tids[i] = i < f->n ? f->threads[i].tid : f->asleep[i - f->n];
	if (!err && f->nasleep)
		qsort(o->tids, ntids, sizeof(*o->tids), proc_pid_cmp);
	if (!err && o->iter)
		it = !observe_iter_state(o->iter, img, o->tids, ntids, facts, o, &status, &cwd);
	/* Threads left asleep are read by the iterator only: the caller stops them first. */
	if (!err && !it && f->nasleep)
		err = RW_OBSERVE_ASLEEP;
	/* Always: a signal pending now, from anyone, must not be delivered after the rewind. */
	if (!err && !it)
		err = proc_read_status(img->tgid, &status);
	if (!err && !it)
		err = proc_stat_link(img->tgid, "cwd", &cwd);
	if (!err && !it)
		err = observe_fds(img, facts, &o->fds, &obs->nfds);
	if (!err && (facts->timers_called || facts->incomplete))
		err = proc_list_posix_timers(img->tgid, &o->timers, &ntimers);
	/* Credentials and namespaces change only by a CRED call: read when one is logged. */
	if (!err && (facts->creds_called || facts->incomplete)) {
		o->idents = calloc(f->n ? f->n : 1, sizeof(*o->idents));
		if (!o->idents)
			err = -ENOMEM;
		for (size_t i = 0; i < f->n && !err; i++)
			err = ident_read(img->tgid, f->threads[i].tid, &o->idents[i]);
		obs->idents = o->idents;
		obs->nidents = f->n;
	}
	if (err)
		return err;
	/* Always: a signal sent to one thread, from anyone, is not logged. One ptrace call a thread. */
	if (!it)
		o->pending = calloc(f->n ? f->n : 1, sizeof(*o->pending));
	if (!o->pending)
		return -ENOMEM;
	for (size_t i = 0; i < f->n && !err && !it; i++)
		err = thread_pending_read(o->tids[i], &o->pending[i]);
	if (err)
		return err;
	obs->pending = o->pending;
	/* Names: anyone may write /proc/PID/task/TID/comm; no log vouches for them. */
	if (!it)
		o->comms = calloc(f->n ? f->n : 1, sizeof(*o->comms));
	if (!o->comms)
		return -ENOMEM;
	for (size_t i = 0; i < f->n && !err && !it; i++)
		err = proc_read_comm(img->tgid, o->tids[i], o->comms[i]);
	if (err)
		return err;
	obs->comms = (const char (*)[16])o->comms;
	/*
	 * Robust lists: set_robust_list is not logged; one syscall a thread,
	 * not stopped, unless the task iterator read them.
	 */
	if (!it)
		o->robust = calloc(f->n ? f->n : 1, sizeof(*o->robust));
	if (!o->robust)
		return -ENOMEM;
	for (size_t i = 0; i < f->n && !err && !it; i++)
		err = thread_robust_read(o->tids[i], &o->robust[i]);
	if (err)
		return err;
	obs->robust = o->robust;
	obs->blocked = o->blocked;
	/* rseq registrations: every thread glibc starts registers one, so that is logged apart. */
	if (facts->rseq_called || facts->incomplete) {
		if (!it)
			o->rseq = calloc(f->n ? f->n : 1, sizeof(*o->rseq));
		if (!o->rseq)
			return -ENOMEM;
		for (size_t i = 0; i < f->n && !err && !it; i++)
			err = thread_rseq_read(o->tids[i], &o->rseq[i]);
		if (err)
			return err;
		obs->rseq = o->rseq;
	}
	/* Membership changes only by a move, and every move of a tracked process is logged. */
	if (facts->cgroup_moved || facts->incomplete) {
		err = proc_read_cgroups(img->tgid, &o->cgroups);
		if (err)
			return err;
		obs->cgroups = o->cgroups;
	}
	/* rlimits and thread attributes: only when a call could have changed them. */
	if (facts->attrs_called || facts->incomplete) {
		char why[256];

		err = attrs_read(img->tgid, o->tids, ntids, &o->attrs, why, sizeof(why));
		if (err)
			return err;
		obs->attrs = &o->attrs;
	}
	/* Personality, prctl state, sigaltstack, keyrings: injected, so only when logged. */
	if (facts->pstate_called || facts->keys_called || facts->incomplete) {
		char why[256];

		err = pstate_read(img->tgid, f, o->tids, ntids, &o->pstate, why, sizeof(why));
		if (err) {
			pr_err("%s\n", why);
			return err;
		}
		obs->pstate = &o->pstate;
	}
	obs->prctl_unhandled = facts->prctl_unhandled;
	obs->sealed = facts->sealed;
	obs->keyctl_unhandled = facts->keyctl_unhandled;
	obs->keys_added = facts->keys_added;
	obs->nkeys_added = facts->nkeys_added;
	/*
	 * Shared memory: a store into it is no syscall and no fault we see, so
	 * it is read at every rewind, but only by a process that has some.
	 */
	if (img->nshms) {
		o->shm = calloc(img->nshms, sizeof(*o->shm));
		if (!o->shm)
			return -ENOMEM;
		for (; o->nshm < img->nshms; o->nshm++) {
			err = shm_diff(&img->shms[o->nshm], &o->shm[o->nshm]);
			if (err) {
				pr_err("%s: reading its shared memory: %s\n", img->shms[o->nshm].what,
				       strerror(-err));
				return err;
			}
		}
		obs->shm = o->shm;
	}
	if (!obs->maps)
		obs->maps = &o->maps;
	obs->tids = o->tids;
	obs->ntids = ntids;
	obs->written = o->written.r;
	obs->nwritten = o->written.n;
	obs->covered = o->covered ? o->covered->r : NULL;
	obs->ncovered = o->covered ? o->covered->n : 0;
	obs->layout_touched = facts->layout_touched.r;
	obs->nlayout_touched = facts->layout_touched.n;
	obs->wipe_maybe_set = facts->wipe_maybe_set.r;
	obs->nwipe_maybe_set = facts->wipe_maybe_set.n;
	obs->log_incomplete = facts->incomplete;
	obs->memory_forced = facts->memory_forced;
	obs->brk_called = facts->brk_called;
	obs->sigactions_called = facts->sigactions_called;
	obs->timers_called = facts->timers_called;
	obs->fds = o->fds;
	obs->cwd_dev = cwd.st_dev;
	obs->cwd_ino = cwd.st_ino;
	obs->umask = status.umask;
	/* Two syscalls, no log needed: setpgid may be called by a parent on its child. */
	if (!it) {
		obs->pgid = getpgid(img->tgid);
		obs->sid = getsid(img->tgid);
	}
	if (obs->pgid < 0 || obs->sid < 0)
		return -errno;
	obs->sig_ignored = status.sig_ignored;
	obs->sig_caught = status.sig_caught;
	obs->sig_pending_shared = status.sig_pending_shared;
	obs->seccomp = status.seccomp;
	obs->seccomp_filters = status.seccomp_filters;
	obs->no_new_privs = status.no_new_privs;
	obs->securebits_set = facts->securebits_set;
	obs->mounts_changed = facts->mounts_changed;
	obs->timer_ids = o->timers;
	obs->ntimers = ntimers;
	return 0;
}

void observe_free(struct rw_observation *o)
{
	ranges_free(&o->written);
	proc_maps_free(&o->maps);
	free(o->fds);
	free(o->tids);
	free(o->pending);
	free(o->rseq);
	free(o->robust);
	free(o->blocked);
	free(o->comms);
	free(o->cgroups);
	free(o->timers);
	free(o->idents);
	attrs_free(&o->attrs);
	pstate_free(&o->pstate);
	for (size_t i = 0; i < o->nshm; i++)
		shm_now_free(&o->shm[i]);
	free(o->shm);
	memset(o, 0, sizeof(*o));
}
