// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "restore: "
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "pagemap.h"
#include "proc.h"
#include "restore.h"
#include "sysnames.h"
#include "rewind/syscalls.h"

#define IOV_BATCH	1024
/*
 * From this many pages on, the target may copy them itself (copy_in_target,
 * use_restorer): below, one process_vm_writev costs less than its stop
 * (measured in docs/BENCHMARKS.md, "Copying pages back").
 */
#define RESTORER_MIN_PAGES	64
#define RESTORER_PROBE		16

/* An fd number free in the target now and in the checkpoint, to stage a file on. */
static int spare_fd(const struct rw_proc_image *img, pid_t pid)
{
	int *fds, best = 0;
	size_t n;

	if (!proc_list_fds(pid, &fds, &n)) {
		for (size_t i = 0; i < n; i++)
			if (fds[i] >= best)
				best = fds[i] + 1;
		free(fds);
	}
	for (size_t i = 0; i < img->nfds; i++)
		if (img->fds[i].fd >= best)
			best = img->fds[i].fd + 1;
	return best;
}

static int map_file(const struct rw_layout_op *op, const struct rw_proc_image *img,
		    struct rw_remote *r, char *why, size_t whylen)
{
	const struct rw_map_file *mf = image_map_file(img, op->dev, op->ino);
	uint64_t got;
	long ignored;
	int tfd, err;

	if (!mf || mf->fd < 0)
		return rw_why(why, whylen, -ENOENT, "pid %d: mapping %#llx-%#llx: its file was not "
			      "held at the checkpoint", img->tgid, (unsigned long long)op->start,
			      (unsigned long long)op->end);
	tfd = spare_fd(img, img->tgid);
	err = remote_install_fd(r, mf->fd, tfd, true);
	if (err)
		return rw_why(why, whylen, err, "pid %d: passing the file of %#llx-%#llx", img->tgid,
			      (unsigned long long)op->start, (unsigned long long)op->end);
	err = remote_mmap(r, op->start, op->end - op->start, op->prot,
			  (op->shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, tfd, op->offset, &got);
	remote_call(r, 3 /* close */, tfd, 0, 0, 0, 0, 0, &ignored);
	if (!err && got != op->start)
		err = (int64_t)got < 0 ? (int)(int64_t)got : -EFAULT;
	if (err)
		return rw_why(why, whylen, err, "pid %d: mapping its file back at %#llx-%#llx",
			      img->tgid, (unsigned long long)op->start, (unsigned long long)op->end);
	return 0;
}

/* The batch call of a layout op that needs no fd: 0, or -EINVAL for a file mapping. */
static int layout_call(const struct rw_layout_op *op, struct rw_batch_call *c)
{
	uint64_t len = op->end - op->start;

	memset(c, 0, sizeof(*c));
	c->args[0] = op->start;
	c->args[1] = len;
	switch (op->kind) {
	case RW_LAYOUT_MUNMAP:
		c->nr = RW_NR_munmap;
		return 0;
	case RW_LAYOUT_MPROTECT:
		c->nr = RW_NR_mprotect;
		c->args[2] = op->prot;
		return 0;
	case RW_LAYOUT_MADVISE:
		c->nr = RW_NR_madvise;
		c->args[2] = op->advice;
		return 0;
	case RW_LAYOUT_MAP_ANON:
		c->nr = RW_NR_mmap;
		c->args[2] = op->prot;
		c->args[3] = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			     (op->growsdown ? MAP_GROWSDOWN : 0) | (op->noreserve ? MAP_NORESERVE : 0);
		c->args[4] = -1;
		c->expect = op->start;
		return 0;
	default:
		return -EINVAL;
	}
}

/* brk(to) as a batch call: brk returns the break, which must land exactly there. */
static void brk_call(uint64_t to, struct rw_batch_call *c)
{
	memset(c, 0, sizeof(*c));
	c->nr = RW_NR_brk;
	c->args[0] = to;
	c->expect = to;
}

/*
 * Run the batchable calls [from, to) in one go: the nbrk break moves first,
 * then the layout's ops; on a refusal, the error of the call that failed.
 */
static int layout_batch(const struct rw_plan *p, size_t nbrk, size_t from, size_t to,
			struct rw_remote *r, struct rw_batch_call *calls, char *why, size_t whylen)
{
	const struct rw_layout_op *op;
	size_t failed, at;
	long ret;
	int err;

	err = remote_batch(r, calls + from, to - from, &failed, &ret);
	if (err)
		return rw_why(why, whylen, err, "pid %d: restoring the layout", p->tgid);
	if (failed == to - from)
		return 0;
	at = from + failed;
	if (at < nbrk)	/* brk never fails: it stayed where it could not move from */
		return rw_why(why, whylen, -ENOMEM, "pid %d: %s %#llx", p->tgid,
			      at == 0 && p->brk_first ? "cutting the program break back to" :
			      "resetting the program break to", (unsigned long long)calls[at].args[0]);
	op = &p->layout[at - nbrk];
	err = ret < 0 && ret >= -4095 ? (int)ret : -EFAULT;	/* mapped, but elsewhere */
	return rw_why(why, whylen, err, "pid %d: restoring the layout at %#llx-%#llx", p->tgid,
		      (unsigned long long)op->start, (unsigned long long)op->end);
}

/*
 * The break, then the layout's ops in order, batched up to each file
 * mapping (which needs its fd passed first): one stop of the target for
 * all of them in most rewinds.
 */
static int apply_layout(const struct rw_plan *p, const struct rw_proc_image *img,
			struct rw_remote *r, struct rw_restore_stats *st, char *why, size_t whylen)
{
	struct rw_batch_call *calls;
	size_t from = 0, nbrk = 0, n;
	int err = 0;

	if (!p->set_brk && !p->nlayout)
		return 0;
	calls = calloc(2 + p->nlayout, sizeof(*calls));
	if (!calls)
		return rw_why(why, whylen, -ENOMEM, "pid %d: restoring the layout", p->tgid);
	if (p->set_brk && p->brk_first)
		brk_call(p->brk_first, &calls[nbrk++]);
	if (p->set_brk)
		brk_call(p->brk, &calls[nbrk++]);
	n = nbrk + p->nlayout;
	for (size_t i = 0; i <= n && !err; i++) {
		const struct rw_layout_op *op = i >= nbrk && i < n ? &p->layout[i - nbrk] : NULL;

		if (i < n && (!op || !layout_call(op, &calls[i])))
			continue;
		if (i > from)
			err = layout_batch(p, nbrk, from, i, r, calls, why, whylen);
		st->injected += i - from;
		from = i + 1;
		if (!err && op) {
			if (op->kind == RW_LAYOUT_MAP_FILE)
				err = map_file(op, img, r, why, whylen);
			else
				err = rw_why(why, whylen, -EINVAL, "pid %d: unknown layout step %d",
					     p->tgid, op->kind);
			st->injected++;
		}
	}
	free(calls);
	return err;
}

/*
 * Through /proc/PID/mem, which writes past a mapping's protection as ptrace
 * does: process_vm_writev stops at a read-only mapping (restored whole after
 * a forced write or lost records). From byte done of the batch on; *at is
 * where a write failed.
 */
static int writev_forced(pid_t pid, const struct iovec *local, const struct iovec *remote,
			 size_t n, size_t done, uint64_t *at)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < n && !err; i++) {
		size_t len = local[i].iov_len, skip = done < len ? done : len;

		done -= skip;
		while (skip < len && !err) {
			ssize_t w = pwrite(fd, (const char *)local[i].iov_base + skip, len - skip,
					   (off_t)((uintptr_t)remote[i].iov_base + skip));

			if (w <= 0) {
				err = w < 0 ? -errno : -EIO;
				*at = (uintptr_t)remote[i].iov_base + skip;
			} else {
				skip += w;
			}
		}
	}
	close(fd);
	return err;
}

/* Ranges written with process_vm_writev, IOV_BATCH to a call: batch_put each, then batch_flush. */
struct writev_batch {
	pid_t pid;
	size_t k, bytes;
	uint64_t at;		/* after a failure: where */
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
};

static int batch_flush(struct writev_batch *b)
{
	ssize_t got;
	int err = 0;

	if (!b->k)
		return 0;
	got = process_vm_writev(b->pid, b->local, b->k, b->remote, b->k, 0);
	b->at = (uintptr_t)b->remote[0].iov_base;
	if (got < 0 && errno != EFAULT)
		return -errno;
	if (got < 0 || (size_t)got != b->bytes)
		err = writev_forced(b->pid, b->local, b->remote, b->k, got < 0 ? 0 : got, &b->at);
	if (err)
		return err;
	fault_point("rewind-copying");	/* some pages back, not all */
	b->k = b->bytes = 0;
	return 0;
}

static int batch_put(struct writev_batch *b, const void *src, uint64_t dst, size_t len)
{
	b->local[b->k] = (struct iovec){ (void *)src, len };
	b->remote[b->k] = (struct iovec){ (void *)(uintptr_t)dst, len };
	b->bytes += len;
	return ++b->k == IOV_BATCH ? batch_flush(b) : 0;
}

/* What the target has at addr now, for an error: "[a-b rw-p name]", or "nothing mapped". */
static void mapped_at(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	struct rw_maps m = { 0 };
	ssize_t i = proc_read_maps(pid, &m) ? -1 : proc_maps_find(&m, addr);

	if (i < 0) {
		snprintf(buf, len, "nothing mapped");
	} else {
		const struct rw_vma *v = &m.v[i];
		char prot[5];

		prot_string(v->prot, v->shared, prot);
		snprintf(buf, len, "%#llx-%#llx %s %s", (unsigned long long)v->start,
			 (unsigned long long)v->end, prot, v->name[0] ? v->name : "anonymous");
	}
	proc_maps_free(&m);
}

/*
 * Write copy ranges back from the image, IOV_BATCH ranges per call: every
 * one, or those done[] leaves false.
 */
static int copy_pages_writev(const struct rw_plan *p, const struct rw_proc_image *img,
			     const bool *done, char *why, size_t whylen)
{
	struct writev_batch b = { .pid = p->tgid };
	char there[384];
	int err = 0;

	for (size_t i = 0; i < p->ncopy && !err; i++) {
		const struct rw_range *c = &p->copy[i];
		const uint8_t *src;

		if (done && done[i])
			continue;
		src = image_page(img, c->start);
		if (!src)
			return rw_why(why, whylen, -EINVAL, "pid %d: page %#llx is not in the image",
				      p->tgid, (unsigned long long)c->start);
		err = batch_put(&b, src, c->start, c->end - c->start);
	}
	if (!err)
		err = batch_flush(&b);
	if (!err)
		return 0;
	mapped_at(p->tgid, b.at, there, sizeof(there));
	return rw_why(why, whylen, err, "pid %d: writing %zu bytes of pages back: at %#llx (%s)",
		      p->tgid, b.bytes, (unsigned long long)b.at, there);
}

static int zero_fill(pid_t pid, uint64_t start, uint64_t end)
{
	struct iovec local[IOV_BATCH], remote;
	size_t pages = (end - start) / RW_PAGE_SIZE;

	while (pages) {
		size_t k = pages < IOV_BATCH ? pages : IOV_BATCH;
		int err;

		for (size_t i = 0; i < k; i++)
			local[i] = (struct iovec){ (void *)rw_zero_page, RW_PAGE_SIZE };
		remote = (struct iovec){ (void *)(uintptr_t)start, k * RW_PAGE_SIZE };
		if (process_vm_writev(pid, local, k, &remote, 1, 0) != (ssize_t)(k * RW_PAGE_SIZE)) {
			err = errno ? -errno : -EIO;
			return err;
		}
		start += k * RW_PAGE_SIZE;
		pages -= k;
	}
	return 0;
}

/*
 * The plan's fill (plan.h), written with zeros from here once: beside the
 * restorer while it copies on another CPU when it does (the two overlap),
 * else with the drop.
 */
struct fill_job {
	bool done;
	int err;
	const struct rw_range *bad;	/* the range that failed */
};

static void fill_pages(const struct rw_plan *p, struct rw_restore_stats *st, struct fill_job *f)
{
	f->done = true;
	for (size_t i = 0; i < p->nfill && !f->err; i++) {
		f->err = zero_fill(p->tgid, p->fill[i].start, p->fill[i].end);
		if (f->err)
			f->bad = &p->fill[i];
		else
			st->zero_filled_pages += (p->fill[i].end - p->fill[i].start) / RW_PAGE_SIZE;
	}
}

/*
 * REWINDD_RESTORER=always|never (tests, measurements: always is the
 * restorer alone, nothing copied beside it); otherwise copy_beside from
 * BESIDE_MIN_PAGES on, and the way measured faster below.
 */
static int restorer_forced(void)
{
	static int mode = -2;
	const char *env;

	if (mode == -2) {
		env = getenv("REWINDD_RESTORER");
		mode = !env ? 0 : !strcmp(env, "always") ? 1 : !strcmp(env, "never") ? -1 : 0;
	}
	return mode;
}

/*
 * Runs [from, to) of the restorer's table written from here, by
 * process_vm_writev out of our mapping of the store (into writable
 * mappings: the table holds no other).
 */
static int writev_runs(const struct rw_plan *p, const struct rw_proc_image *img,
		       const struct rw_copy_run *runs, size_t from, size_t to)
{
	struct writev_batch b = { .pid = p->tgid };
	int err = 0;

	for (size_t i = from; i < to && !err; i++)
		err = batch_put(&b, img->store + (runs[i].src - p->tmap), runs[i].dst, runs[i].len);
	return err ? err : batch_flush(&b);
}

/*
 * The restorer's table copied from both ends at once: the target from the
 * first run on, on another CPU, and we from the last one down, a slice of
 * about BESIDE_SLICE_PAGES at a time taken back from it, until it stops
 * (it has reached what we took). Whoever is faster does more. A table
 * longer than one of the target's (RW_REMOTE_COPY_MAX runs) is done one
 * such table at a time. done[] gets which runs are copied. -EAGAIN when
 * the target could not start (no other CPU for it): nothing is copied.
 */
#define BESIDE_MIN_PAGES	512
#define BESIDE_SLICE_PAGES	128
/* Runs no longer than this: else a long one taken back late is copied twice whole. */
#define RUN_MAX_PAGES		64

static int copy_beside_table(const struct rw_plan *p, const struct rw_proc_image *img,
			     struct rw_remote *r, const struct rw_copy_run *runs, size_t n,
			     bool *done, struct rw_restore_stats *st, struct fill_job *fill)
{
	size_t low = n;
	int err = remote_copy_begin(r, runs, n);

	if (err)
		return err == -ESRCH ? err : -EAGAIN;
	if (!fill->done)
		fill_pages(p, st, fill);
	while (low > 0) {
		size_t from = low, pages = 0;
		bool wrote;

		while (from > 0 && pages < BESIDE_SLICE_PAGES)
			pages += runs[--from].len / RW_PAGE_SIZE;
		if (!remote_copy_take(r, from, low))
			break;
		/* Taken, so not the target's: if we cannot write them, the caller's pass does. */
		err = writev_runs(p, img, runs, from, low);
		wrote = !err;
		if (err)
			pr_warn("pid %d: writing runs %zu-%zu beside the restorer: %s\n", p->tgid,
				from, low, strerror(-err));
		for (size_t i = from; i < low && wrote; i++)
			done[i] = true;
		if (wrote)
			st->beside_pages += pages;
		low = from;
		if (!wrote)
			break;
	}
	err = remote_copy_end(r);
	if (err)
		pr_warn("pid %d: the restorer beside us stopped: %s\n", p->tgid, strerror(-err));
	if (!err)
		for (size_t i = 0; i < low; i++)
			done[i] = true;
	return err;
}

static int copy_beside(const struct rw_plan *p, const struct rw_proc_image *img,
		       struct rw_remote *r, const struct rw_copy_run *runs, size_t n, bool *done,
		       struct rw_restore_stats *st, struct fill_job *fill)
{
	int err = 0;

	for (size_t at = 0; at < n && !err; at += RW_REMOTE_COPY_MAX) {
		size_t k = n - at < RW_REMOTE_COPY_MAX ? n - at : RW_REMOTE_COPY_MAX;

		err = copy_beside_table(p, img, r, runs + at, k, done + at, st, fill);
		/* A later table that cannot start: the caller's pass copies it. */
		if (err == -EAGAIN && at)
			err = 0;
	}
	return err;
}

/*
 * The in-target restorer: the target copies the ranges itself from its
 * read-only mapping of the store (image.h), in one stop (at memcpy speed
 * where no hypervisor shadows its page tables: docs/BENCHMARKS.md), with us
 * copying beside it from BESIDE_MIN_PAGES on. Only into mappings the
 * checkpoint has writable (the layout is the checkpoint's by now): a write
 * into a read-only one is process_vm_writev's forced path. A range that
 * spans adjacent writable mappings (one image run across a vma boundary) is
 * copied in one run per mapping. *copied says which ranges were done whole;
 * any failure leaves the rest to process_vm_writev, which copies them again
 * from here. With beside, -EAGAIN when the target could not start on another
 * CPU: nothing copied.
 */
static int copy_in_target(const struct rw_plan *p, const struct rw_proc_image *img,
			  struct rw_remote *r, bool *copied, struct rw_restore_stats *st, bool beside,
			  struct fill_job *fill)
{
	size_t cap = p->ncopy + img->maps.n + p->copy_pages / RUN_MAX_PAGES, n = 0, done = 0, v = 0;
	struct rw_copy_run *runs = malloc(cap * sizeof(*runs));
	size_t *which = malloc(cap * sizeof(*which));
	bool *run_done = calloc(cap, sizeof(*run_done));
	uint64_t t0 = rw_now_ns(), t1;
	int err = -ENOMEM;

	if (!runs || !which || !run_done)
		goto out;
	for (size_t i = 0; i < p->ncopy; i++) {
		const struct rw_range *c = &p->copy[i];
		const uint8_t *src = image_page(img, c->start);
		size_t first = n, w;
		uint64_t at = c->start;

		/* Only from its own store: the target maps no other. */
		if (!src || src < img->store || src + (c->end - c->start) > img->store + img->store_len)
			continue;
		/* The vmas of the checkpoint holding it (both sorted: one walk). */
		while (v < img->maps.n && img->maps.v[v].end <= c->start)
			v++;
		for (w = v; at < c->end && w < img->maps.n && n < cap;) {
			const struct rw_vma *m = &img->maps.v[w];
			uint64_t end = m->end < c->end ? m->end : c->end;

			if (m->start > at || !(m->prot & PROT_WRITE))
				break;
			if (end - at > RUN_MAX_PAGES * RW_PAGE_SIZE)
				end = at + RUN_MAX_PAGES * RW_PAGE_SIZE;
			runs[n] = (struct rw_copy_run){ at, p->tmap + (src - img->store) +
							    (at - c->start), end - at };
			which[n++] = i;
			at = end;
			w += at == m->end;
		}
		if (at < c->end)
			n = first;	/* a hole or a read-only piece: all of it from here */
	}
	t1 = rw_now_ns();
	if (beside) {
		err = copy_beside(p, img, r, runs, n, run_done, st, fill);
		if (err == -EAGAIN)
			goto out;
	} else {
		err = remote_copy(r, runs, n, &done);
		for (size_t k = 0; k < done; k++)
			run_done[k] = true;
	}
	pr_debug("pid %d: restorer: %zu runs%s, table %llu us, copy %llu us\n", p->tgid, n,
		 beside ? " and ours beside" : "", (unsigned long long)(t1 - t0) / 1000,
		 (unsigned long long)(rw_now_ns() - t1) / 1000);
	if (err)
		pr_debug("pid %d: the in-target copy stopped (%s): what it left from here\n",
			 p->tgid, strerror(-err));
	/* A range is copied when each of its runs is (a range's runs are adjacent). */
	for (size_t k = 0, all = true; k < n; k++) {
		const struct rw_range *c = &p->copy[which[k]];

		all = all && run_done[k];
		if (k + 1 < n && which[k + 1] == which[k])
			continue;
		if (all) {
			copied[which[k]] = true;
			st->restorer_pages += (c->end - c->start) / RW_PAGE_SIZE;
		}
		all = true;
	}
	err = 0;
out:
	free(runs);
	free(which);
	free(run_done);
	return err;
}

static void cost_update(uint64_t *ps, uint64_t ns, uint64_t pages)
{
	uint64_t now = pages ? ns * 1000 / pages : 0;

	if (now)
		*ps = *ps ? (3 * *ps + now) / 4 : now;
}

/* The size class of a copy of that many pages (at least RESTORER_MIN_PAGES). */
static unsigned int cost_class(uint64_t pages)
{
	return pages < 256 ? 0 : pages < 1024 ? 1 : pages < 4096 ? 2 : 3;
}

/*
 * Which way to copy: the restorer from RESTORER_MIN_PAGES on, unless the
 * copies of this process of about that size measured it slower per page
 * than process_vm_writev (under a shadow-paging hypervisor the target's first
 * touch of a page after a TLB flush costs microseconds: docs/BENCHMARKS.md).
 * Every RESTORER_PROBE-th choice tries the other way, so the estimates follow.
 */
static bool use_restorer(const struct rw_plan *p)
{
	struct rw_copy_costs *c = p->costs;
	unsigned int k = cost_class(p->copy_pages);
	bool faster;

	if (!p->tmap || restorer_forced() < 0)
		return false;
	if (restorer_forced() > 0)
		return true;
	if (p->copy_pages < RESTORER_MIN_PAGES)
		return false;
	if (!c)
		return true;
	if (!c->restorer_ps[k] || !c->writev_ps[k])
		return !c->restorer_ps[k];
	faster = c->restorer_ps[k] <= c->writev_ps[k];
	return ++c->rewinds[k] % RESTORER_PROBE ? faster : !faster;
}

/*
 * From BESIDE_MIN_PAGES on (the zero fill counted: we do it first, beside
 * the restorer), the restorer with us copying beside it, when it can start
 * on another CPU: whichever way is faster does more of the copy, so no
 * measured choice is needed. A thread left asleep that wakes meanwhile and
 * makes the copy fail is the caller's to find (rewind.c).
 */
static bool restore_copies_beside(const struct rw_plan *p)
{
	return p->tmap && p->copy_pages >= RESTORER_MIN_PAGES &&
	       p->copy_pages + p->fill_pages >= BESIDE_MIN_PAGES && !restorer_forced();
}

static int copy_pages(const struct rw_plan *p, const struct rw_proc_image *img,
		      struct rw_remote *r, struct rw_restore_stats *st, struct fill_job *fill,
		      char *why, size_t whylen)
{
	uint64_t t0 = rw_now_ns();
	bool *copied, beside;
	int err;

	err = image_need_pages(img, p->copy, p->ncopy);
	if (err)
		return rw_why(why, whylen, err, "pid %d: unpacking the checkpoint's pages to copy back",
			      p->tgid);
	copied = calloc(p->ncopy, sizeof(*copied));
	if (!copied)
		return rw_why(why, whylen, -ENOMEM, "pid %d: writing pages back", p->tgid);
	beside = restore_copies_beside(p) &&
		 copy_in_target(p, img, r, copied, st, true, fill) != -EAGAIN;
	if (!beside && !use_restorer(p)) {
		free(copied);
		err = copy_pages_writev(p, img, NULL, why, whylen);
		if (!err && p->costs && p->copy_pages >= RESTORER_MIN_PAGES)
			cost_update(&p->costs->writev_ps[cost_class(p->copy_pages)],
				    rw_now_ns() - t0, p->copy_pages);
		return err;
	}
	if (!beside)
		copy_in_target(p, img, r, copied, st, false, fill);
	err = r->broken ? rw_why(why, whylen, -ESRCH, "pid %d: lost while copying pages back",
				 p->tgid) :
			  copy_pages_writev(p, img, copied, why, whylen);
	/*
	 * The restorer's way is what it copied and the rest it left to
	 * process_vm_writev (runs in memory read-only at the checkpoint), timed
	 * whole: else a process whose copies it never covers entirely is never
	 * measured, and keeps the restorer however slow it is.
	 */
	if (!err && p->costs && !beside)
		cost_update(&p->costs->restorer_ps[cost_class(p->copy_pages)], rw_now_ns() - t0,
			    p->copy_pages);
	free(copied);
	return err;
}

/* The plan's fill written with zeros (unless done beside the copy), its drop dropped (plan.h). */
static int drop_pages(const struct rw_plan *p, struct rw_remote *r, struct rw_restore_stats *st,
		      struct fill_job *fill, char *why, size_t whylen)
{
	struct rw_batch_call *calls;
	size_t failed;
	long ret;
	int err;

	if (!fill->done)
		fill_pages(p, st, fill);
	if (fill->err)
		return rw_why(why, whylen, fill->err, "pid %d: zero-filling pages %#llx-%#llx", p->tgid,
			      (unsigned long long)fill->bad->start, (unsigned long long)fill->bad->end);
	if (!p->ndrop)
		return 0;
	calls = calloc(p->ndrop, sizeof(*calls));
	if (!calls)
		return rw_why(why, whylen, -ENOMEM, "pid %d: dropping pages", p->tgid);
	for (size_t i = 0; i < p->ndrop; i++)
		calls[i] = (struct rw_batch_call){
			.nr = RW_NR_madvise,
			.args = { p->drop[i].start, p->drop[i].end - p->drop[i].start, MADV_DONTNEED },
		};
	st->injected += p->ndrop;
	err = remote_batch(r, calls, p->ndrop, &failed, &ret);
	if (err) {
		err = rw_why(why, whylen, err, "pid %d: dropping pages", p->tgid);
	} else if (failed < p->ndrop) {
		const struct rw_range *d = &p->drop[failed];

		err = rw_why(why, whylen, ret < 0 && ret >= -4095 ? (int)ret : -EIO,
			     "pid %d: dropping pages %#llx-%#llx", p->tgid,
			     (unsigned long long)d->start, (unsigned long long)d->end);
	}
	free(calls);
	return err;
}

static int apply_fds(const struct rw_plan *p, struct rw_remote *r, struct rw_restore_stats *st,
		     char *why, size_t whylen)
{
	for (size_t i = 0; i < p->nfdops; i++) {
		const struct rw_fd_op *op = &p->fdops[i];
		int err = 0;

		switch (op->kind) {
		case RW_FD_CLOSE:
			err = remote_close_fd(r, op->fd);
			st->injected++;
			break;
		case RW_FD_INSTALL:
			err = remote_install_fd(r, op->want->held, op->fd, op->want->cloexec);
			st->injected += 6;
			/* The held description keeps its own offset: nothing else to do. */
			break;
		case RW_FD_SEEK:
			/* Same description as ours: seeking ours moves theirs. */
			if (lseek(op->want->held, op->want->pos, SEEK_SET) < 0)
				err = -errno;
			break;
		case RW_FD_SETFL:
			/* Ours when held (same description), else from inside the target. */
			if (op->want->held < 0) {
				err = remote_set_status_flags(r, op->fd, op->want->status_flags);
				st->injected++;
			} else if (fcntl(op->want->held, F_SETFL, op->want->status_flags) < 0) {
				err = -errno;
			}
			break;
		case RW_FD_CLOEXEC:
			err = remote_set_fd_flags(r, op->fd, op->want->cloexec ? FD_CLOEXEC : 0);
			st->injected++;
			break;
		}
		if (err)
			return rw_why(why, whylen, err, "pid %d: restoring fd %d (%s)", p->tgid, op->fd,
				      op->want ? op->want->path : "opened since the checkpoint");
	}
	return 0;
}

static int apply_process_state(const struct rw_plan *p, const struct rw_proc_image *img,
			       struct rw_remote *r, struct rw_restore_stats *st, char *why,
			       size_t whylen)
{
	int err;

	if (p->chdir) {
		err = remote_chdir(r, img->cwd);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: chdir back to %s", p->tgid, img->cwd);
	}
	if (p->umask) {
		mode_t old;

		err = remote_umask(r, img->umask, &old);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: umask", p->tgid);
	}
	for (int sig = 1; sig <= RW_NSIG; sig++) {
		if (!(p->sigactions & (1ULL << (sig - 1))))
			continue;
		err = remote_sigaction_set(r, sig, &img->sigactions[sig]);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: restoring the disposition of signal %d",
				      p->tgid, sig);
	}
	if (p->drain_signals) {
		err = remote_drain_signals(r, p->drain_signals);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: dequeuing signals raised since the "
				      "checkpoint", p->tgid);
	}
	for (size_t i = 0; i < p->ndelete_timers; i++) {
		err = remote_timer_delete(r, p->delete_timers[i]);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: deleting POSIX timer %d", p->tgid,
				      p->delete_timers[i]);
	}
	if (!p->timers)
		return 0;
	for (int which = 0; which < 3; which++) {
		err = remote_itimer_set(r, which, &img->itimers[which]);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: setitimer(%d)", p->tgid, which);
	}
	for (size_t i = 0; i < img->ntimers; i++) {
		err = remote_timer_settime(r, img->timers[i].id, &img->timers[i].spec);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: timer_settime(%d)", p->tgid,
				      img->timers[i].id);
	}
	return 0;
}

/*
 * rlimits and thread attributes, set from here on the target tasks. First:
 * a lowered RLIMIT_NOFILE or RLIMIT_AS would refuse the fds and mappings
 * the rest of the rewind brings back. A refusal (EPERM, a limit above what
 * the kernel allows, a CPU no longer allowed) fails the rewind, named.
 */
static int apply_attrs(const struct rw_plan *p, const struct rw_proc_image *img, char *why,
		       size_t whylen)
{
	for (size_t i = 0; i < p->nattrops; i++) {
		const struct rw_attr_op *a = &p->attrops[i];
		const struct rw_thread_attrs *want = a->kind == RW_ATTR_RLIMIT ? NULL :
						     attrs_thread(&img->attrs, a->tid);
		int err = a->kind != RW_ATTR_RLIMIT && !want ? -ESRCH :
			  attrs_set(a->kind, a->resource, p->tgid, &img->attrs, want);

		if (err && a->kind == RW_ATTR_RLIMIT)
			return rw_why(why, whylen, err, "pid %d: setting %s back", p->tgid,
				      attrs_rlimit_name(a->resource));
		if (err)
			return rw_why(why, whylen, err, "pid %d: setting the %s of thread %d back",
				      p->tgid, attrs_kind_name(a->kind), a->tid);
	}
	return 0;
}

/*
 * Each thread back into its checkpoint namespace: our held fd installed in
 * the target, setns injected into that thread (it acts on its caller only),
 * the fd closed again. Before anything that resolves a path or a socket.
 */
static int apply_setns(const struct rw_plan *p, const struct rw_proc_image *img,
		       struct rw_frozen *f, struct rw_restore_stats *st, char *why, size_t whylen)
{
	for (size_t i = 0; i < p->nsetns; i++) {
		const struct rw_setns_op *op = &p->setns[i];
		struct rw_seized *ij = freeze_thread(f, op->tid);
		int num = spare_fd(img, p->tgid), err, cerr;
		struct rw_remote tr;

		if (!ij)
			return rw_why(why, whylen, -ESRCH, "pid %d: thread %d is gone", p->tgid, op->tid);
		remote_init(&tr, ij, p->tgid);
		err = remote_install_fd(&tr, op->fd, num, true);
		if (!err) {
			err = remote_sys(&tr, "setns", RW_NR_setns, num, ident_ns_setns_type(op->kind),
					 0, 0, NULL);
			cerr = remote_close_fd(&tr, num);
			err = err ? err : cerr;
		}
		cerr = remote_close(&tr);
		err = err ? err : cerr;
		st->injected += 9;
		if (err)
			return rw_why(why, whylen, err, "pid %d: thread %d: putting it back into its %s "
				      "namespace of the checkpoint", p->tgid, op->tid,
				      rw_ns_names[op->kind]);
	}
	return 0;
}

/*
 * A page of a private file mapping that a rewind drops, or maps back, reads
 * its file again: the checkpoint's bytes only while the file is as it was.
 * Checked before the target is changed at all.
 */
static int files_unchanged(const struct rw_plan *p, const struct rw_proc_image *img, char *why,
			   size_t whylen)
{
	int err = 0;

	for (size_t i = 0; i < p->ndrop && !err; i++)
		err = image_map_files_unchanged(img, p->drop[i].start, p->drop[i].end, why, whylen);
	for (size_t i = 0; i < p->nlayout && !err; i++)
		if (p->layout[i].kind == RW_LAYOUT_MAP_FILE && !p->layout[i].shared)
			err = image_map_files_unchanged(img, p->layout[i].start, p->layout[i].end, why,
							whylen);
	return err;
}

int restore_apply_layout(const struct rw_plan *p, const struct rw_proc_image *img,
			 struct rw_frozen *f, struct rw_remote *r, struct rw_restore_stats *st,
			 char *why, size_t whylen)
{
	uint64_t t0 = rw_now_ns();
	pid_t rtid = r->ij ? r->ij->tid : 0;
	int err = files_unchanged(p, img, why, whylen);

	if (err)
		return err;

	for (size_t i = 0; i < p->nexit; i++) {
		struct rw_seized *ij = freeze_thread(f, p->exit_threads[i]);

		if (!ij)
			continue;
		err = inject_exit_thread(ij);
		if (err && err != -ESRCH)
			return rw_why(why, whylen, err, "pid %d: making thread %d (created since the "
				      "checkpoint) exit", p->tgid, p->exit_threads[i]);
		freeze_forget(f, p->exit_threads[i]);
		/* The array moved (a tid below the injector's, after pid wrap): r follows its thread. */
		if (rtid)
			r->ij = freeze_thread(f, rtid);
	}
	err = apply_setns(p, img, f, st, why, whylen);
	if (!err)
		err = apply_attrs(p, img, why, whylen);
	if (!err)
		err = apply_layout(p, img, r, st, why, whylen);
	st->layout_ns += rw_now_ns() - t0;
	return err;
}

/* Zeros over [start, end) of fd: where a hole cannot be punched (not tmpfs). */
static int write_zeros(int fd, uint64_t start, uint64_t end)
{
	for (uint64_t off = start; off < end; off += RW_PAGE_SIZE)
		if (pwrite(fd, rw_zero_page, RW_PAGE_SIZE, off) != RW_PAGE_SIZE)
			return errno ? -errno : -EIO;
	return 0;
}

/* Shared memory objects, through our own reference: no injection. */
static int apply_shm(const struct rw_plan *p, const struct rw_proc_image *img, char *why,
		     size_t whylen)
{
	for (size_t i = 0; i < p->nshmops; i++) {
		const struct rw_shm_op *op = &p->shmops[i];
		const struct rw_shm_image *s = &img->shms[op->obj];
		int err = 0;

		switch (op->kind) {
		case RW_SHM_WRITE:
			for (uint64_t off = op->start; off < op->end && !err; off += RW_PAGE_SIZE) {
				/* Not past the checkpoint's size: a write would extend the object. */
				size_t len = s->size - off < RW_PAGE_SIZE ? s->size - off : RW_PAGE_SIZE;

				errno = 0;
				if (pwrite(s->fd, shm_page(s, off), len, off) != (ssize_t)len)
					err = errno ? -errno : -EIO;
			}
			break;
		case RW_SHM_PUNCH:
			if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op->start,
				      op->end - op->start))
				err = errno == EOPNOTSUPP ? write_zeros(s->fd, op->start, op->end) : -errno;
			break;
		case RW_SHM_TRUNCATE:
			if (ftruncate(s->fd, op->end))
				err = -errno;
			break;
		}
		if (err)
			return rw_why(why, whylen, err, "%s: writing back its shared memory at %#llx",
				      s->what, (unsigned long long)op->start);
	}
	return 0;
}

#define RSEQ_FLAG_UNREGISTER	1

/*
 * rseq registrations, in the thread each belongs to. Before the pages:
 * unregistering writes the thread's rseq area, which the copy then puts back.
 */
static int apply_rseq(const struct rw_plan *p, struct rw_frozen *f, struct rw_restore_stats *st,
		      char *why, size_t whylen)
{
	for (size_t i = 0; i < p->nrseq_ops; i++) {
		const struct rw_rseq_op *op = &p->rseq_ops[i];
		struct rw_seized *ij = freeze_thread(f, op->tid);
		struct rw_remote tr;
		int err = 0, cerr;

		if (!ij)
			return rw_why(why, whylen, -ESRCH, "pid %d: thread %d is gone", p->tgid,
				      op->tid);
		remote_init(&tr, ij, p->tgid);
		if (op->now.ptr)
			err = remote_sys(&tr, "rseq(RSEQ_FLAG_UNREGISTER)", RW_NR_rseq, op->now.ptr,
					 op->now.len, RSEQ_FLAG_UNREGISTER, op->now.sig, NULL);
		if (!err && op->want.ptr)
			err = remote_sys(&tr, "rseq", RW_NR_rseq, op->want.ptr, op->want.len, 0,
					 op->want.sig, NULL);
		cerr = remote_close(&tr);
		st->injected += 2;
		if (err || cerr)
			return rw_why(why, whylen, err ? err : cerr, "pid %d: putting back the rseq "
				      "registration of thread %d", p->tgid, op->tid);
	}
	return 0;
}

/* Robust lists, registered again in the thread each belongs to (no memory written). */
static int apply_robust(const struct rw_plan *p, struct rw_frozen *f, struct rw_restore_stats *st,
			char *why, size_t whylen)
{
	for (size_t i = 0; i < p->nrobust_ops; i++) {
		const struct rw_robust_op *op = &p->robust_ops[i];
		struct rw_seized *ij = freeze_thread(f, op->tid);
		struct rw_remote tr;
		int err;

		if (!ij)
			return rw_why(why, whylen, -ESRCH, "pid %d: thread %d is gone", p->tgid,
				      op->tid);
		remote_init(&tr, ij, p->tgid);
		err = remote_sys(&tr, "set_robust_list", SYS_set_robust_list, (long)op->want.head,
				 (long)op->want.len, 0, 0, NULL);
		st->injected++;
		if (err)
			return rw_why(why, whylen, err, "pid %d: putting back the robust list of "
				      "thread %d", p->tgid, op->tid);
	}
	return 0;
}

int restore_apply_contents(const struct rw_plan *p, const struct rw_proc_image *img,
			   struct rw_frozen *f, struct rw_remote *r, struct rw_restore_stats *st,
			   char *why, size_t whylen)
{
	uint64_t t0 = rw_now_ns(), t1;
	struct fill_job fill = { 0 };
	int err;

	err = apply_shm(p, img, why, whylen);
	if (!err)
		err = apply_rseq(p, f, st, why, whylen);
	if (!err)
		err = apply_robust(p, f, st, why, whylen);
	if (!err)
		err = copy_pages(p, img, r, st, &fill, why, whylen);
	if (err)
		return err;
	t1 = rw_now_ns();
	st->copy_ns += t1 - t0;
	err = drop_pages(p, r, st, &fill, why, whylen);
	if (!err)
		err = apply_fds(p, r, st, why, whylen);
	if (!err)
		err = apply_process_state(p, img, r, st, why, whylen);
	if (!err) {
		err = remote_close(r);
		if (err)
			rw_why(why, whylen, err, "pid %d: unmapping our scratch page", p->tgid);
	}
	if (err)
		return err;
	/* Signals queued on one thread: dequeued in that thread. */
	for (size_t i = 0; i < p->ndrain_threads && !err; i++) {
		struct rw_seized *ij = freeze_thread(f, p->drain_threads[i].tid);
		struct rw_remote tr;

		if (!ij)
			return rw_why(why, whylen, -ESRCH, "pid %d: thread %d is gone", p->tgid,
				      p->drain_threads[i].tid);
		remote_init(&tr, ij, p->tgid);
		err = remote_drain_signals(&tr, p->drain_threads[i].set);
		if (!err)
			err = remote_close(&tr);
		st->injected += 3;
		if (err)
			return rw_why(why, whylen, err, "pid %d: dequeuing the signals of thread %d "
				      "raised since the checkpoint", p->tgid, p->drain_threads[i].tid);
	}
	/* Thread names (prctl PR_SET_NAME in the thread): a name can carry a secret too. */
	for (size_t i = 0; i < p->nrenames && !err; i++) {
		const struct rw_thread_state *ts = image_thread(img, p->renames[i]);
		struct rw_seized *ij = ts ? freeze_thread(f, ts->tid) : NULL;
		struct rw_remote tr;

		if (!ij)
			return rw_why(why, whylen, -ESRCH, "pid %d: thread %d to rename is gone",
				      p->tgid, p->renames[i]);
		remote_init(&tr, ij, p->tgid);
		err = remote_set_comm(&tr, ts->comm);
		if (!err)
			err = remote_close(&tr);
		st->injected += 3;
		if (err)
			return rw_why(why, whylen, err, "pid %d: restoring the name of thread %d",
				      p->tgid, ts->tid);
	}
	/* Personality, prctl state, sigaltstack, keys: each in the thread it belongs to. */
	for (size_t i = 0; i < p->npsops && !err; i++) {
		err = pstate_apply(p->tgid, f, &img->pstate, &p->psops[i], why, whylen);
		st->injected += 3;
	}
	if (err)
		return err;
	t0 = rw_now_ns();
	st->inject_ns += t0 - t1;
	for (size_t i = 0; i < img->nthreads; i++) {
		struct rw_seized *ij = freeze_thread(f, img->threads[i].tid);

		/* Left asleep: it holds them (sleepers.h). */
		if (!ij && freeze_is_asleep(f, img->threads[i].tid))
			continue;
		err = ij ? thread_state_set(ij, &img->threads[i],
					    !plan_mask_held(p, img->threads[i].tid)) : -ESRCH;
		if (err)
			return rw_why(why, whylen, err, "pid %d: restoring the registers of thread %d",
				      p->tgid, img->threads[i].tid);
	}
	st->regs_ns += rw_now_ns() - t0;
	return 0;
}
