// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "verify: "
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "log.h"
#include "pagemap.h"
#include "pagestore.h"
#include "verify.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE	0x202
#endif
#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK	0x420a
#endif
#define CHUNK		(1UL << 20)
#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION	0x420f
#endif
/* struct rseq: the kernel rewrites cpu_id_start, cpu_id, node_id, mm_cid whenever the thread runs. */
#define RSEQ_AREA	32

struct ptrace_rseq_conf {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* Memory the kernel owns and rewrites on its own: not the image's to compare. */
struct kernel_owned {
	uint64_t *addr;
	size_t n;
};

static void kernel_owned_collect(struct rw_frozen *f, struct kernel_owned *ko)
{
	ko->addr = calloc(f->n ? f->n : 1, sizeof(*ko->addr));
	ko->n = 0;
	for (size_t i = 0; ko->addr && i < f->n; i++) {
		struct ptrace_rseq_conf c = { 0 };

		if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, f->threads[i].tid, sizeof(c), &c) > 0 &&
		    c.rseq_abi_pointer)
			ko->addr[ko->n++] = c.rseq_abi_pointer;
	}
}

/* Overwrite kernel-owned bytes of buf (target memory at addr) with the image's. */
static void kernel_owned_mask(const struct kernel_owned *ko, uint64_t addr, uint8_t *buf,
			      const uint8_t *want, size_t len)
{
	for (size_t i = 0; i < ko->n; i++) {
		uint64_t a = ko->addr[i], e = a + RSEQ_AREA;

		if (e <= addr || a >= addr + len)
			continue;
		if (a < addr)
			a = addr;
		if (e > addr + len)
			e = addr + len;
		memcpy(buf + (a - addr), want + (a - addr), e - a);
	}
}

static void differ(struct rw_verify_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void differ(struct rw_verify_result *res, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (res->nlisted < RW_VERIFY_MAX_LISTED) {
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) >= 0)
			res->listed[res->nlisted++] = msg;
		va_end(ap);
	}
	res->differences++;
}

static bool vma_equal(const struct rw_vma *a, const struct rw_vma *b)
{
	return a->start == b->start && a->end == b->end && a->prot == b->prot &&
	       a->shared == b->shared && a->offset == b->offset && a->inode == b->inode &&
	       a->dev_major == b->dev_major && a->dev_minor == b->dev_minor &&
	       a->wipeonfork == b->wipeonfork && !strcmp(a->name, b->name);
}

static void verify_layout(const struct rw_proc_image *img, const struct rw_maps *now,
			  struct rw_verify_result *res)
{
	size_t i = 0, k = 0;

	while (i < img->maps.n || k < now->n) {
		const struct rw_vma *a = i < img->maps.n ? &img->maps.v[i] : NULL;
		const struct rw_vma *b = k < now->n ? &now->v[k] : NULL;

		if (a && b && vma_equal(a, b)) {
			i++;
			k++;
		} else if (a && (!b || a->start <= b->start)) {
			differ(res, "pid %d: mapping %llx-%llx %s%s of the checkpoint differs or is "
			       "gone", img->tgid, (unsigned long long)a->start, (unsigned long long)a->end,
			       a->name, a->wipeonfork ? " (wipe-on-fork)" : "");
			i++;
			if (b && b->start == a->start)
				k++;
		} else {
			differ(res, "pid %d: mapping %llx-%llx %s%s is not in the checkpoint",
			       img->tgid, (unsigned long long)b->start, (unsigned long long)b->end,
			       b->name, b->wipeonfork ? " (wipe-on-fork)" : "");
			k++;
		}
	}
}

static bool is_private_image_vma(const struct rw_vma *v)
{
	return !v->shared && v->start < RW_USER_ADDR_END && strcmp(v->name, "[vsyscall]") &&
	       strcmp(v->name, "[vdso]") && strncmp(v->name, "[vvar", 5) &&
	       strcmp(v->name, "[uprobes]");
}

/*
 * Stored pages: read them back and compare (packed ones unpacked into
 * scratch: a verified rewind leaves the store as packed as it was).
 */
static int verify_stored(const struct rw_proc_image *img, const struct kernel_owned *ko,
			 uint8_t *buf, uint8_t *scratch, struct rw_verify_result *res)
{
	for (size_t i = 0; i < img->nruns; i++) {
		const struct rw_page_run *run = &img->runs[i];
		uint64_t len = run->npages * RW_PAGE_SIZE;

		for (uint64_t off = 0; off < len; off += CHUNK) {
			uint64_t n = len - off < CHUNK ? len - off : CHUNK;
			struct iovec local = { buf, n };
			struct iovec remote = { (void *)(uintptr_t)(run->start + off), n };
			const uint8_t *want = image_run_bytes(img, run, off, n, scratch);

			if (!want) {
				differ(res, "pid %d: page %#llx of the checkpoint is packed and does not "
				       "unpack", img->tgid, (unsigned long long)(run->start + off));
				continue;
			}
			if (process_vm_readv(img->tgid, &local, 1, &remote, 1, 0) != (ssize_t)n) {
				differ(res, "pid %d: page %#llx of the checkpoint cannot be read: %s",
				       img->tgid, (unsigned long long)(run->start + off),
				       strerror(errno));
				continue;
			}
			res->pages_compared += n / RW_PAGE_SIZE;
			kernel_owned_mask(ko, run->start + off, buf, want, n);
			if (!memcmp(buf, want, n))
				continue;
			for (uint64_t p = 0; p < n; p += RW_PAGE_SIZE)
				if (memcmp(buf + p, want + p, RW_PAGE_SIZE))
					differ(res, "pid %d: page %#llx differs from the checkpoint",
					       img->tgid, (unsigned long long)(run->start + off + p));
		}
	}
	return 0;
}

struct unstored_ctx {
	const struct rw_proc_image *img;
	struct rw_verify_result *res;
	uint8_t *buf;
	const struct rw_vma *vma;
};

/*
 * An unstored page of a private file mapping that is not present: the
 * write-protect marker arming leaves in every empty entry of a file mapping
 * (and over the pages a rewind dropped), which reads as the file, or a
 * private copy swapped out. Its bytes tell them apart: they must be the
 * file's. A page that cannot be read lies past the end of the file, where no
 * copy can be made.
 */
static void check_unstored_file(struct unstored_ctx *c, uint64_t a)
{
	const struct rw_vma *v = c->vma;
	const struct rw_map_file *mf = image_map_file(c->img, makedev(v->dev_major, v->dev_minor),
						       v->inode);
	struct iovec local = { c->buf, RW_PAGE_SIZE };
	struct iovec remote = { (void *)(uintptr_t)a, RW_PAGE_SIZE };
	uint8_t *file = c->buf + RW_PAGE_SIZE;	/* buf holds CHUNK bytes */
	ssize_t got;

	if (!mf || mf->fd < 0) {
		differ(c->res, "pid %d: page %#llx of %s cannot be compared with its file (not "
		       "held)", c->img->tgid, (unsigned long long)a, v->name);
		return;
	}
	if (process_vm_readv(c->img->tgid, &local, 1, &remote, 1, 0) != RW_PAGE_SIZE)
		return;
	got = pread(mf->fd, file, RW_PAGE_SIZE, v->offset + (a - v->start));
	if (got < 0) {
		differ(c->res, "pid %d: page %#llx of %s: reading its file: %s", c->img->tgid,
		       (unsigned long long)a, v->name, strerror(errno));
		return;
	}
	memset(file + got, 0, RW_PAGE_SIZE - got);
	if (memcmp(c->buf, file, RW_PAGE_SIZE))
		differ(c->res, "pid %d: page %#llx of %s was copied on write since the checkpoint "
		       "(swapped out)", c->img->tgid, (unsigned long long)a, v->name);
}

/*
 * A present anonymous page the image does not store must read as zero (it
 * was absent or zero, or is wipe-on-fork memory: never stored); one in a
 * file mapping must not be present (it was the file's).
 */
static int check_unstored(void *arg, uint64_t start, uint64_t end, uint64_t cats)
{
	struct unstored_ctx *c = arg;

	for (uint64_t a = start; a < end; a += RW_PAGE_SIZE) {
		struct iovec local = { c->buf, RW_PAGE_SIZE };
		struct iovec remote = { (void *)(uintptr_t)a, RW_PAGE_SIZE };

		if (image_page(c->img, a))
			continue;
		c->res->pages_compared++;
		if (c->vma->inode && !(cats & PAGE_IS_PRESENT)) {
			check_unstored_file(c, a);
			continue;
		}
		if (c->vma->inode) {
			differ(c->res, "pid %d: page %#llx of %s was copied on write since the "
			       "checkpoint", c->img->tgid, (unsigned long long)a, c->vma->name);
			continue;
		}
		if (process_vm_readv(c->img->tgid, &local, 1, &remote, 1, 0) != RW_PAGE_SIZE)
			continue;
		for (size_t k = 0; k < RW_PAGE_SIZE; k++) {
			if (!c->buf[k])
				continue;
			if (c->vma->wipeonfork)
				differ(c->res, "pid %d: page %#llx is wipe-on-fork memory and holds "
				       "data after the rewind", c->img->tgid, (unsigned long long)a);
			else
				differ(c->res, "pid %d: page %#llx was empty at the checkpoint and "
				       "holds data", c->img->tgid, (unsigned long long)a);
			break;
		}
	}
	return 0;
}

static int verify_memory(const struct rw_proc_image *img, struct rw_frozen *f, pid_t tid,
			 struct rw_verify_result *res)
{
	struct kernel_owned ko;
	struct pagemap_query q = {
		.inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		.mask = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		.anyof = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	struct unstored_ctx c = { .img = img, .res = res };
	uint8_t *scratch;
	bool packed;
	int fd, err = 0;

	c.buf = malloc(CHUNK);
	/* Only image_run_bytes of a packed page writes there. */
	packed = img->pagestore && pagestore_packed(img->pagestore);
	scratch = packed ? malloc(CHUNK) : NULL;
	if (!c.buf || (packed && !scratch)) {
		free(c.buf);
		return -ENOMEM;
	}
	kernel_owned_collect(f, &ko);
	verify_stored(img, &ko, c.buf, scratch, res);
	free(scratch);
	free(ko.addr);
	fd = pagemap_open(img->tgid, tid);
	if (fd < 0) {
		free(c.buf);
		return fd;
	}
	for (size_t i = 0; i < img->maps.n && !err; i++) {
		c.vma = &img->maps.v[i];
		if (is_private_image_vma(c.vma))
			err = pagemap_scan(fd, c.vma->start, c.vma->end, &q, check_unstored, &c);
	}
	close(fd);
	free(c.buf);
	return err;
}

static void verify_threads(const struct rw_proc_image *img, struct rw_frozen *f,
			   struct rw_verify_result *res)
{
	uint8_t *xs = malloc(64 << 10);

	for (size_t i = 0; i < f->n; i++)
		if (!image_thread(img, f->threads[i].tid))
			differ(res, "pid %d: thread %d is not in the checkpoint", img->tgid,
			       f->threads[i].tid);
	for (size_t i = 0; i < img->nthreads; i++) {
		const struct rw_thread_state *ts = &img->threads[i];
		struct rw_seized *ij = freeze_thread(f, ts->tid);
		struct user_regs_struct regs, want;
		struct iovec iov = { xs, 64 << 10 };
		uint64_t mask;

		if (!ij) {
			differ(res, "pid %d: thread %d of the checkpoint is missing", img->tgid, ts->tid);
			continue;
		}
		/* What restore decided (a sleep resumed or turned into EINTR) must be the checkpoint's. */
		want = ij->saved;
		if (memcmp(&want, &ts->regs, sizeof(want))) {
			struct user_regs_struct alt = ts->regs;

			alt.rax = -EINTR;
			if (memcmp(&want, &alt, sizeof(want)))
				differ(res, "pid %d: thread %d is set to registers that are not the "
				       "checkpoint's", img->tgid, ts->tid);
		}
		if (ptrace(PTRACE_GETREGS, ts->tid, NULL, &regs) || memcmp(&regs, &want, sizeof(regs)))
			differ(res, "pid %d: registers of thread %d differ (rip %#llx, want %#llx)",
			       img->tgid, ts->tid, (unsigned long long)regs.rip,
			       (unsigned long long)want.rip);
		if (xs && (ptrace(PTRACE_GETREGSET, ts->tid, (void *)NT_X86_XSTATE, &iov) ||
			   iov.iov_len != ts->xstate_len ||
			   !thread_xstate_same(xs, ts->xstate, ts->xstate_len)))
			differ(res, "pid %d: FPU/vector state of thread %d differs", img->tgid, ts->tid);
		{
			char comm[16];

			if (ts->comm[0] && (proc_read_comm(img->tgid, ts->tid, comm) ||
					    strcmp(comm, ts->comm)))
				differ(res, "pid %d: thread %d is named '%s', want '%s'", img->tgid,
				       ts->tid, comm, ts->comm);
		}
		if (ptrace(PTRACE_GETSIGMASK, ts->tid, (void *)sizeof(mask), &mask) ||
		    mask != ts->sigmask)
			differ(res, "pid %d: signal mask of thread %d is %#llx, want %#llx", img->tgid,
			       ts->tid, (unsigned long long)mask, (unsigned long long)ts->sigmask);
		{
			struct rw_thread_pending now;

			if (thread_pending_read(ts->tid, &now) ||
			    memcmp(&now, &ts->pending, sizeof(now)))
				differ(res, "pid %d: signals queued on thread %d are %#llx, want %#llx",
				       img->tgid, ts->tid,
				       (unsigned long long)thread_pending_set(&now),
				       (unsigned long long)thread_pending_set(&ts->pending));
		}
		{
			struct rw_rseq now;

			if (thread_rseq_read(ts->tid, &now) || !thread_rseq_eq(&now, &ts->rseq))
				differ(res, "pid %d: rseq of thread %d is %#llx+%u, want %#llx+%u",
				       img->tgid, ts->tid, (unsigned long long)now.ptr, now.len,
				       (unsigned long long)ts->rseq.ptr, ts->rseq.len);
		}
		/* Read remotely; its clear_child_tid is not (only an injection could tell). */
		if (ts->exit.known) {
			struct rw_robust now = { 0 };

			if (thread_robust_read(ts->tid, &now) || now.head != ts->exit.robust_head ||
			    now.len != ts->exit.robust_len)
				differ(res, "pid %d: robust list of thread %d is %#llx+%llu, want "
				       "%#llx+%llu", img->tgid, ts->tid, (unsigned long long)now.head,
				       (unsigned long long)now.len,
				       (unsigned long long)ts->exit.robust_head,
				       (unsigned long long)ts->exit.robust_len);
		}
	}
	free(xs);
}

static void verify_fds(const struct rw_proc_image *img, struct rw_verify_result *res)
{
	int *fds = NULL;
	size_t n = 0;

	if (proc_list_fds(img->tgid, &fds, &n)) {
		differ(res, "pid %d: cannot list its fds", img->tgid);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!image_fd(img, fds[i]))
			differ(res, "pid %d: fd %d was not open at the checkpoint", img->tgid, fds[i]);
	for (size_t i = 0; i < img->nfds; i++) {
		const struct rw_fd_image *fi = &img->fds[i];
		bool open = false, cloexec;
		int64_t pos;
		int flags;

		for (size_t k = 0; k < n; k++)
			open |= fds[k] == fi->fd;
		if (!open) {
			differ(res, "pid %d: fd %d (%s) is closed", img->tgid, fi->fd, fi->path);
			continue;
		}
		if (fi->held >= 0 &&
		    syscall(SYS_kcmp, img->tgid, getpid(), KCMP_FILE, fi->fd, fi->held) != 0)
			differ(res, "pid %d: fd %d is not the file it was (%s)", img->tgid, fi->fd,
			       fi->path);
		if (proc_read_fdinfo(img->tgid, fi->fd, &cloexec, &pos, &flags)) {
			differ(res, "pid %d: cannot read fdinfo of fd %d", img->tgid, fi->fd);
			continue;
		}
		if (fi->pos >= 0 && pos != fi->pos)
			differ(res, "pid %d: fd %d is at offset %lld, want %lld", img->tgid, fi->fd,
			       (long long)pos, (long long)fi->pos);
		if (flags != fi->status_flags || cloexec != fi->cloexec)
			differ(res, "pid %d: flags of fd %d differ", img->tgid, fi->fd);
	}
	free(fds);
}

void verify_children(const struct rw_proc_image *img, const pid_t *now,
		     const char (*comm)[16], size_t n, struct rw_verify_result *res)
{
	for (size_t i = 0; i < n; i++) {
		bool known = false;

		for (size_t k = 0; k < img->nchildren && !known; k++)
			known = img->children[k] == now[i];
		if (!known)
			differ(res, "pid %d: child %d (%.16s) is not in the checkpoint", img->tgid,
			       now[i], comm[i]);
	}
}

/* The children listing includes zombies: one left unreaped is a difference too. */
static void verify_children_now(const struct rw_proc_image *img, struct rw_verify_result *res)
{
	char (*comm)[16];
	pid_t *now = NULL;
	size_t n = 0;

	if (proc_children_of(img->tgid, &now, &n)) {
		differ(res, "pid %d: cannot list its children", img->tgid);
		return;
	}
	comm = calloc(n ? n : 1, sizeof(*comm));
	if (!comm) {
		differ(res, "pid %d: out of memory comparing its children", img->tgid);
		free(now);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (proc_read_comm(now[i], 0, comm[i]))
			snprintf(comm[i], sizeof(comm[i]), "gone");
	verify_children(img, now, (const char (*)[16])comm, n, res);
	free(comm);
	free(now);
}

static void verify_process_state(const struct rw_proc_image *img, struct rw_remote *r,
				 struct rw_verify_result *res)
{
	struct rw_proc_status st;
	struct stat cwd;
	int *ids = NULL;
	size_t n = 0;

	if (proc_stat_link(img->tgid, "cwd", &cwd) || cwd.st_dev != img->cwd_dev ||
	    cwd.st_ino != img->cwd_ino)
		differ(res, "pid %d: working directory differs from %s", img->tgid, img->cwd);
	if (getpgid(img->tgid) != img->pgid || getsid(img->tgid) != img->sid)
		differ(res, "pid %d: process group %d, session %d, want %d, %d", img->tgid,
		       getpgid(img->tgid), getsid(img->tgid), img->pgid, img->sid);
	if (img->cgroups) {
		char *now = NULL, what[512];

		if (proc_read_cgroups(img->tgid, &now))
			differ(res, "pid %d: its cgroups cannot be read", img->tgid);
		else if (*proc_cgroups_differ(img->cgroups, now, what, sizeof(what)))
			differ(res, "pid %d: in another cgroup (%s)", img->tgid, what);
		free(now);
	}
	if (proc_read_status(img->tgid, &st) == 0) {
		if (st.umask != img->umask)
			differ(res, "pid %d: umask %03o, want %03o", img->tgid, st.umask, img->umask);
		if (st.sig_ignored != img->sig_ignored || st.sig_caught != img->sig_caught)
			differ(res, "pid %d: ignored/caught signal sets differ", img->tgid);
	}
	for (size_t i = 0; i < img->nidents; i++) {
		struct rw_ident now;
		char what[160];

		if (ident_read(img->tgid, img->idents[i].tid, &now))
			differ(res, "pid %d: thread %d: credentials and namespaces cannot be read",
			       img->tgid, img->idents[i].tid);
		else if (ident_compare(&img->idents[i], &now, what, sizeof(what)))
			differ(res, "pid %d: thread %d: %s", img->tgid, img->idents[i].tid, what);
	}
	for (int sig = 1; sig <= RW_NSIG; sig++) {
		struct rw_ksigaction now;

		if (!image_sig_settable(sig))
			continue;
		if (remote_sigaction_get(r, sig, &now) ||
		    memcmp(&now, &img->sigactions[sig], sizeof(now)))
			differ(res, "pid %d: disposition of signal %d differs", img->tgid, sig);
	}
	for (int which = 0; which < 3; which++) {
		struct itimerval now;
		const struct itimerval *want = &img->itimers[which];
		bool want_off = !want->it_value.tv_sec && !want->it_value.tv_usec;

		if (remote_itimer_get(r, which, &now) ||
		    (want_off && (now.it_value.tv_sec || now.it_value.tv_usec)) ||
		    now.it_interval.tv_sec != want->it_interval.tv_sec ||
		    now.it_interval.tv_usec != want->it_interval.tv_usec)
			differ(res, "pid %d: interval timer %d differs", img->tgid, which);
	}
	if (proc_list_posix_timers(img->tgid, &ids, &n) == 0) {
		bool same = n == img->ntimers;

		for (size_t i = 0; same && i < n; i++)
			same = ids[i] == img->timers[i].id;
		if (!same)
			differ(res, "pid %d: POSIX timers differ (%zu now, %zu at the checkpoint)",
			       img->tgid, n, img->ntimers);
		free(ids);
	}
}

/* Every rlimit and every attribute of every checkpoint thread, read afresh. */
static void verify_attrs(const struct rw_proc_image *img, struct rw_verify_result *res)
{
	static const enum rw_attr_kind per_thread[] = {
		RW_ATTR_SCHED, RW_ATTR_NICE, RW_ATTR_AFFINITY, RW_ATTR_IOPRIO,
	};
	struct rw_attrs now;
	pid_t *tids = image_tids(img);
	char buf[256];

	if (!tids || attrs_read(img->tgid, tids, img->nthreads, &now, buf, sizeof(buf))) {
		differ(res, "pid %d: cannot read its rlimits and thread attributes%s%s", img->tgid,
		       tids ? ": " : "", tids ? buf : "");
		free(tids);
		return;
	}
	free(tids);
	for (int r = 0; r < RW_NRLIMITS; r++) {
		if (!attrs_differ(RW_ATTR_RLIMIT, r, &img->attrs, NULL, &now, NULL))
			continue;
		attrs_describe(RW_ATTR_RLIMIT, r, &img->attrs, NULL, &now, NULL, buf, sizeof(buf));
		differ(res, "pid %d: %s", img->tgid, buf);
	}
	for (size_t i = 0; i < img->attrs.nthreads; i++) {
		const struct rw_thread_attrs *want = &img->attrs.threads[i];
		const struct rw_thread_attrs *t = attrs_thread(&now, want->tid);

		for (size_t k = 0; t && k < sizeof(per_thread) / sizeof(per_thread[0]); k++) {
			if (!attrs_differ(per_thread[k], 0, &img->attrs, want, &now, t))
				continue;
			attrs_describe(per_thread[k], 0, &img->attrs, want, &now, t, buf, sizeof(buf));
			differ(res, "pid %d: %s", img->tgid, buf);
		}
	}
	attrs_free(&now);
}

struct differ_ctx {
	struct rw_verify_result *res;
	pid_t tgid;
};

static int differ_msg(void *ctx, const char *msg)
{
	struct differ_ctx *c = ctx;

	differ(c->res, "pid %d: %s", c->tgid, msg);
	return 0;
}

/*
 * Personality, prctl state, sigaltstack and keyrings of every checkpoint
 * thread, injected into each; their registers go back to ij->saved after.
 */
static int verify_pstate(const struct rw_proc_image *img, struct rw_frozen *f,
			 struct rw_verify_result *res)
{
	pid_t *tids = image_tids(img);
	struct differ_ctx ctx = { res, img->tgid };
	struct rw_pstate now;
	char why[256];
	int err;

	if (!tids)
		return -ENOMEM;
	err = pstate_read(img->tgid, f, tids, img->nthreads, &now, why, sizeof(why));
	for (size_t i = 0; i < img->nthreads; i++) {
		struct rw_seized *ij = freeze_thread(f, tids[i]);

		if (ij && ij->seized && ptrace(PTRACE_SETREGS, ij->tid, NULL, &ij->saved) && !err)
			err = -errno;
	}
	free(tids);
	if (err) {
		differ(res, "pid %d: personality, prctl state, sigaltstack and keyrings cannot be "
		       "read: %s", img->tgid, why);
		return err == -ESRCH ? err : 0;
	}
	pstate_compare(&img->pstate, &now, differ_msg, &ctx);
	pstate_free(&now);
	return 0;
}

/* Size and every byte of each shared memory object, read afresh. */
static void verify_shm(const struct rw_proc_image *img, struct rw_verify_result *res)
{
	for (size_t i = 0; i < img->nshms; i++) {
		const struct rw_shm_image *s = &img->shms[i];
		struct rw_shm_now now;
		int err = shm_diff(s, &now);

		if (err) {
			differ(res, "%s: its shared memory cannot be read: %s", s->what, strerror(-err));
			continue;
		}
		res->pages_compared += (s->size + RW_PAGE_SIZE - 1) / RW_PAGE_SIZE;
		if (now.size != s->size)
			differ(res, "%s: shared memory of size %llu, want %llu", s->what,
			       (unsigned long long)now.size, (unsigned long long)s->size);
		if (now.ndiff)
			differ(res, "%s: shared memory differs from the checkpoint at offset %#llx "
			       "(%zu range(s) of pages)", s->what, (unsigned long long)now.first_byte,
			       now.ndiff);
		shm_now_free(&now);
	}
}

int verify_process(const struct rw_proc_image *img, struct rw_frozen *f, struct rw_remote *r,
		   struct rw_verify_result *res)
{
	struct rw_maps now = { 0 };
	int err;

	/* Injected queries first: their scratch page must be gone when the layout is read. */
	verify_process_state(img, r, res);
	err = remote_close(r);
	if (!err)
		err = verify_pstate(img, f, res);
	if (err)
		return err;
	/* The queries ran through r->ij: put its (restored) registers back before comparing. */
	if (ptrace(PTRACE_SETREGS, r->ij->tid, NULL, &r->ij->saved))
		return -errno;
	err = proc_read_smaps(r->ij->tid, &now);	/* the wipe-on-fork flags too */
	if (err)
		return err;
	/* The store's mapping is ours, not the checkpoint's: it must be there, unchanged. */
	if (img->tmap && !image_hide_tmap(img, &now))
		differ(res, "pid %d: the read-only mapping of its image at %#llx is gone or changed",
		       img->tgid, (unsigned long long)img->tmap);
	if (img->area.at.addr && !image_hide_area(img, &now))
		differ(res, "pid %d: the restorer's area at %#llx is gone or changed", img->tgid,
		       (unsigned long long)img->area.at.addr);
	{
		/* The kernel may have grown the bss for the heap: the same memory. */
		struct rw_maps unmerged = { 0 };

		err = proc_maps_unmerge_heap(&img->maps, &now, image_heap_base(img), &unmerged);
		if (err < 0) {
			proc_maps_free(&now);
			return err;
		}
		verify_layout(img, err ? &unmerged : &now, res);
		free(unmerged.v);
	}
	proc_maps_free(&now);
	verify_threads(img, f, res);
	verify_fds(img, res);
	verify_attrs(img, res);
	verify_children_now(img, res);
	verify_shm(img, res);
	return verify_memory(img, f, r->ij->tid, res);
}

void verify_result_free(struct rw_verify_result *res)
{
	for (size_t i = 0; i < res->nlisted; i++)
		free(res->listed[i]);
	memset(res, 0, sizeof(*res));
}
