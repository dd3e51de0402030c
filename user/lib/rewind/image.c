// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "image: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "image.h"
#include "log.h"
#include "pagemap.h"
#include "pagestore.h"
#include "pidfd.h"
#include "procmap.h"

/* Both numbers of a process, for messages; the buffer lives to the end of the enclosing block. */
#define PID_LABEL(pid)	proc_pid_label((pid), (char[RW_PID_LABEL_MAX]){ 0 }, RW_PID_LABEL_MAX)

#define IOV_BATCH	1024

/* ---- lookups ---------------------------------------------------------------- */

/* Index of the first run ending after addr (nruns if none). */
static size_t run_search(const struct rw_proc_image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->nruns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rw_page_run *r = &img->runs[mid];

		if (r->start + r->npages * RW_PAGE_SIZE <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const uint8_t *run_data(const struct rw_proc_image *img, const struct rw_page_run *r)
{
	return (r->seg ? pageseg_base(r->seg) : img->store) + r->off;
}

/* The segment a run's pages are in: NULL for an image no page store adopted. */
static struct rw_pageseg *run_seg(const struct rw_proc_image *img, const struct rw_page_run *r)
{
	return r->seg ? r->seg : img->own;
}

const uint8_t *image_run_bytes(const struct rw_proc_image *img, const struct rw_page_run *r,
			       uint64_t off, size_t n, uint8_t *scratch)
{
	const struct rw_pageseg *seg = run_seg(img, r);
	size_t first = (r->off + off) / RW_PAGE_SIZE;

	if (!seg || !pageseg_packed_any(seg, first, n / RW_PAGE_SIZE))
		return run_data(img, r) + off;
	return pageseg_read(seg, first, n / RW_PAGE_SIZE, scratch) ? NULL : scratch;
}

int image_need_pages(const struct rw_proc_image *img, const struct rw_range *rg, size_t n)
{
	size_t i = 0;

	/* Nothing packed or being packed anywhere: the rewind's usual case costs one test. */
	if (!img->pagestore || !pagestore_marks_use(img->pagestore))
		return 0;
	for (size_t k = 0; k < n; k++) {
		uint64_t start = rg[k].start, end = rg[k].end;

		if (i && start < img->runs[i - 1].start + img->runs[i - 1].npages * RW_PAGE_SIZE)
			i = run_search(img, start);	/* not sorted */
		for (; i < img->nruns; i++) {
			const struct rw_page_run *r = &img->runs[i];
			struct rw_pageseg *seg = run_seg(img, r);
			uint64_t from = start > r->start ? start : r->start;
			uint64_t to = r->start + r->npages * RW_PAGE_SIZE;
			int err;

			if (to <= start)
				continue;
			if (r->start >= end)
				break;
			to = to < end ? to : end;
			err = seg ? pageseg_need(seg, (r->off + from - r->start) / RW_PAGE_SIZE,
						 (to - from) / RW_PAGE_SIZE, image_run_own(r)) : 0;
			if (err)
				return err;
			if (to == end)
				break;	/* the next range may start in this run */
		}
	}
	return 0;
}

uint64_t image_heap_base(const struct rw_proc_image *img)
{
	for (size_t i = 0; i < img->maps.n; i++)
		if (!strcmp(img->maps.v[i].name, "[heap]"))
			return img->maps.v[i].start;
	return (img->brk + RW_PAGE_SIZE - 1) & ~(RW_PAGE_SIZE - 1);
}

const uint8_t *image_page(const struct rw_proc_image *img, uint64_t addr)
{
	size_t i = run_search(img, addr);
	const struct rw_page_run *r;

	if (i == img->nruns)
		return NULL;
	r = &img->runs[i];
	if (addr < r->start)
		return NULL;
	return run_data(img, r) + (addr - r->start);
}

size_t image_runs_in(const struct rw_proc_image *img, uint64_t start, uint64_t end, size_t *n)
{
	size_t first = run_search(img, start), i = first;

	while (i < img->nruns && img->runs[i].start < end)
		i++;
	*n = i - first;
	return first;
}

int image_ns_fd(const struct rw_proc_image *img, int kind, uint64_t ino)
{
	for (size_t i = 0; i < img->nnsrefs; i++)
		if (img->nsrefs[i].kind == kind && img->nsrefs[i].ino == ino)
			return img->nsrefs[i].fd;
	return -1;
}

/*
 * Held so that a thread that unshared or setns'd one of them can be put back
 * (the namespace may have no other member by then). One per kind and inode.
 */
static int capture_ns_refs(struct rw_proc_image *img)
{
	for (size_t t = 0; t < img->nidents; t++) {
		const struct rw_ident *id = &img->idents[t];

		for (int k = 0; k < RW_NS__COUNT; k++) {
			struct rw_ns_ref *more;
			char path[96];
			struct stat st;
			int fd;

			if (!id->ns[k] || !ident_ns_setns_type(k) || image_ns_fd(img, k, id->ns[k]) >= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/%s", img->tgid, id->tid,
				 rw_ns_names[k]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return errno == ENOENT ? -ESRCH : -errno;
			/* The thread may have moved between the read and the open: then it is a race lost. */
			if (fstat(fd, &st) || st.st_ino != id->ns[k]) {
				close(fd);
				return -EAGAIN;
			}
			more = realloc(img->nsrefs, (img->nnsrefs + 1) * sizeof(*more));
			if (!more) {
				close(fd);
				return -ENOMEM;
			}
			img->nsrefs = more;
			img->nsrefs[img->nnsrefs++] = (struct rw_ns_ref){ k, id->ns[k], fd };
		}
	}
	return 0;
}

pid_t *image_tids(const struct rw_proc_image *img)
{
	pid_t *tids = calloc(img->nthreads ? img->nthreads : 1, sizeof(*tids));

	for (size_t i = 0; tids && i < img->nthreads; i++)
		tids[i] = img->threads[i].tid;
	return tids;
}

const struct rw_thread_state *image_thread(const struct rw_proc_image *img, pid_t tid)
{
	for (size_t i = 0; i < img->nthreads; i++)
		if (img->threads[i].tid == tid)
			return &img->threads[i];
	return NULL;
}

const struct rw_map_file *image_map_file(const struct rw_proc_image *img, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < img->nmapfiles; i++)
		if (img->mapfiles[i].dev == dev && img->mapfiles[i].ino == ino)
			return &img->mapfiles[i];
	return NULL;
}

const struct rw_fd_image *image_fd(const struct rw_proc_image *img, int fd)
{
	size_t lo = 0, hi = img->nfds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->fds[mid].fd == fd)
			return &img->fds[mid];
		if (img->fds[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool image_sig_settable(int sig)
{
	return sig >= 1 && sig <= RW_NSIG && sig != SIGKILL && sig != SIGSTOP;
}

/* ---- capture ---------------------------------------------------------------- */

struct page_collect {
	struct rw_proc_image *img;
	size_t cap;
	uint64_t pages;
};

static int collect_page(void *arg, uint64_t start, uint64_t end, uint64_t cats)
{
	struct page_collect *c = arg;
	struct rw_proc_image *img = c->img;
	uint64_t n = (end - start) / RW_PAGE_SIZE;
	struct rw_page_run *last;

	img->private_writable_present += end - start;
	if (cats & PAGE_IS_FILE)
		return 0;	/* not copied on write yet: the file has the content */
	if (cats & PAGE_IS_PFNZERO) {
		img->pages_zero += n;
		return 0;
	}
	last = img->nruns ? &img->runs[img->nruns - 1] : NULL;
	if (last && last->start + last->npages * RW_PAGE_SIZE == start) {
		last->npages += n;
	} else {
		if (img->nruns == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 256;
			struct rw_page_run *more = realloc(img->runs, cap * sizeof(*more));

			if (!more)
				return -ENOMEM;
			img->runs = more;
			c->cap = cap;
		}
		img->runs[img->nruns++] = (struct rw_page_run){ start, n, c->pages * RW_PAGE_SIZE, NULL };
	}
	c->pages += n;
	return 0;
}

/*
 * Private mappings but the kernel's special ones. Read-only ones too:
 * relocated (RELRO) pages are anonymous copies, and an invocation can make a
 * read-only mapping writable, write, and make it read-only again.
 */
static bool vma_in_image(const struct rw_vma *v)
{
	return !v->shared && v->start < RW_USER_ADDR_END && strcmp(v->name, "[vsyscall]") &&
	       strcmp(v->name, "[vdso]") && strncmp(v->name, "[vvar", 5) &&
	       strcmp(v->name, "[uprobes]");
}

/*
 * The store: a memfd, so that the target can map it too (image_map_into).
 * Faulting it in 4 KiB at a time costs more than copying into it
 * (measured: ~10 us a page): populated in one call, unless it is to keep
 * holes (a sharing or packing store: pagestore_adopt writes only new
 * pages, with pwrite, which faults nothing in).
 */
static int store_create(struct rw_proc_image *img, bool populate)
{
	void *m;
	int err;

	img->store_fd = memfd_create("rewindd-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (img->store_fd < 0 || ftruncate(img->store_fd, img->store_len)) {
		err = -errno;
		pr_perror("pid %d: a memfd of %zu bytes for its pages", img->tgid, img->store_len);
		return err;
	}
	m = mmap(NULL, img->store_len, PROT_READ | PROT_WRITE, MAP_SHARED, img->store_fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		pr_perror("pid %d: mapping %zu bytes for its pages", img->tgid, img->store_len);
		return err;
	}
	img->store = m;
	if (!populate)
		return 0;
	/*
	 * Huge pages where shmem allows them (shmem_enabled "advise" or more):
	 * the restorer's reads of 4 KiB pages scattered over a large image
	 * otherwise miss the TLB on both sides (docs/BENCHMARKS.md).
	 */
	madvise(m, img->store_len, MADV_HUGEPAGE);
	if (madvise(m, img->store_len, MADV_POPULATE_WRITE))
		pr_debug("pid %d: MADV_POPULATE_WRITE: %s\n", img->tgid, strerror(errno));
	return 0;
}

/*
 * Filled: no one but us writes it again. F_SEAL_FUTURE_WRITE keeps our
 * writable mapping (remapping 1 GiB read-only would cost its page tables
 * again) and refuses everything after it: a writable shared mapping, an
 * mprotect(PROT_WRITE) of a read-only one, write(), fallocate and, with
 * the other seals, any change of size. Not F_SEAL_WRITE: it needs no
 * writable mapping to exist.
 */
static int seal_memfd(int fd, struct stat *st)
{
	const int seals = F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

	return fcntl(fd, F_ADD_SEALS, seals) || fstat(fd, st) ? -errno : 0;
}

int image_seal_store(struct rw_proc_image *img)
{
	struct stat st;
	int err = seal_memfd(img->store_fd, &st);

	if (err) {
		pr_err("pid %d: sealing its page store: %s\n", img->tgid, strerror(-err));
		return err;
	}
	img->store_dev = st.st_dev;
	img->store_ino = st.st_ino;
	img->store_sealed = true;
	return 0;
}

int image_replace_store(struct rw_proc_image *img, int fd, const uint8_t *map)
{
	struct stat st;
	int err = seal_memfd(fd, &st);

	if (err)
		return err;
	munmap((void *)img->store, img->store_len);
	close(img->store_fd);
	img->store = map;
	img->store_fd = fd;
	img->store_dev = st.st_dev;
	img->store_ino = st.st_ino;
	img->store_sealed = true;
	/* The target's mapping keeps the old one alive until it goes (image_map_into). */
	img->tmap_superseded = img->tmap != 0;
	return 0;
}

/* Copy every run from the target into the store, IOV_BATCH runs per call. */
static int read_runs(struct rw_proc_image *img)
{
	struct iovec remote[IOV_BATCH];

	for (size_t i = 0; i < img->nruns;) {
		size_t k = 0, bytes = 0;
		struct iovec local;
		ssize_t got;

		for (; i < img->nruns && k < IOV_BATCH; i++, k++) {
			remote[k].iov_base = (void *)(uintptr_t)img->runs[i].start;
			remote[k].iov_len = img->runs[i].npages * RW_PAGE_SIZE;
			bytes += remote[k].iov_len;
		}
		local.iov_base = (uint8_t *)img->store + img->runs[i - k].off;
		local.iov_len = bytes;
		got = process_vm_readv(img->tgid, &local, 1, remote, k, 0);
		if (got < 0) {
			int err = -errno;

			if (err != -ESRCH)
				pr_perror("pid %d: process_vm_readv of %zu bytes", img->tgid, bytes);
			return err;
		}
		if ((size_t)got != bytes) {
			pr_err("pid %s: read %zd of %zu bytes of its memory\n", PID_LABEL(img->tgid),
			       got, bytes);
			return -EIO;
		}
	}
	return 0;
}

/*
 * The sharing store's reader (pagestore_adopt): n pages of the store from
 * page first, read from the target through the runs (still in store
 * order) into buf.
 */
static int read_store_pages(void *ctx, size_t first, size_t n, uint8_t *buf)
{
	struct rw_proc_image *img = ctx;
	struct iovec remote[IOV_BATCH], local = { buf, n * RW_PAGE_SIZE };
	size_t lo = 0, hi = img->nruns, k = 0, want = n;
	uint64_t page = first;
	ssize_t got;

	/* The run holding store page first: runs are in store order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->runs[mid].off / RW_PAGE_SIZE + img->runs[mid].npages <= first)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t r = lo; r < img->nruns && want && k < IOV_BATCH; r++, k++) {
		uint64_t in = page - img->runs[r].off / RW_PAGE_SIZE;
		uint64_t take = img->runs[r].npages - in < want ? img->runs[r].npages - in : want;

		remote[k].iov_base = (void *)(uintptr_t)(img->runs[r].start + in * RW_PAGE_SIZE);
		remote[k].iov_len = take * RW_PAGE_SIZE;
		page += take;
		want -= take;
	}
	if (want)
		return -EINVAL;	/* a batch spans more runs than one call takes: never, at 128 pages */
	got = process_vm_readv(img->tgid, &local, 1, remote, k, 0);
	if (got < 0)
		return -errno;
	return (size_t)got == n * RW_PAGE_SIZE ? 0 : -EIO;
}

static int capture_pages(struct rw_proc_image *img, pid_t tid)
{
	struct pagemap_query q = {
		.anyof = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.ret = PAGE_IS_FILE | PAGE_IS_PFNZERO,
	};
	struct page_collect c = { .img = img };
	uint64_t t0 = rw_now_ns(), t1, t2, t3;
	bool staged;
	int fd, err = 0;

	fd = pagemap_open(img->tgid, tid);
	if (fd < 0)
		return fd;
	for (size_t i = 0; i < img->maps.n && !err; i++) {
		const struct rw_vma *v = &img->maps.v[i];

		/* Wipe-on-fork memory reads zero after every rewind: nothing to keep. */
		if (vma_in_image(v) && !v->wipeonfork)
			err = pagemap_scan(fd, v->start, v->end, &q, collect_page, &c);
	}
	close(fd);
	if (err)
		return err;
	img->pages_stored = c.pages;
	t1 = rw_now_ns();
	if (!c.pages)
		return 0;
	img->store_len = c.pages * RW_PAGE_SIZE;
	staged = img->pagestore && pagestore_stages(img->pagestore);
	err = store_create(img, !staged);
	if (err)
		return err;
	t2 = rw_now_ns();
	/*
	 * Sharing or packing: each page is read, looked up, and written into
	 * the store only if no image holds it yet. Else straight into the
	 * store, which the page store then only accounts.
	 */
	if (staged)
		err = pagestore_adopt(img->pagestore, img, img->share_domain, read_store_pages, img);
	else
		err = read_runs(img);
	if (!err && img->pagestore && !staged)
		err = pagestore_adopt(img->pagestore, img, img->share_domain, NULL, NULL);
	t3 = rw_now_ns();
	if (!err)
		err = image_seal_store(img);
	pr_debug("pid %d: %llu pages in %zu runs: scan %llu us, allocate %llu us, read and "
		 "share %llu us, seal %llu us\n", img->tgid, (unsigned long long)c.pages, img->nruns,
		 (unsigned long long)(t1 - t0) / 1000, (unsigned long long)(t2 - t1) / 1000,
		 (unsigned long long)(t3 - t2) / 1000, (unsigned long long)(rw_now_ns() - t3) / 1000);
	return err;
}

static int capture_fds(struct rw_proc_image *img)
{
	int *fds = NULL, pidfd, err;
	size_t n;

	err = proc_list_fds(img->tgid, &fds, &n);
	if (err)
		return err;
	img->fds = calloc(n ? n : 1, sizeof(*img->fds));
	pidfd = sys_pidfd_open(img->tgid, 0);
	if (!img->fds || pidfd < 0) {
		err = img->fds ? -errno : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct rw_fd_image *fi = &img->fds[img->nfds];
		char link[64];
		struct stat st;
		ssize_t len;

		fi->fd = fds[i];
		snprintf(link, sizeof(link), "fd/%d", fds[i]);
		err = proc_stat_link(img->tgid, link, &st);
		if (!err)
			err = proc_read_fdinfo(img->tgid, fds[i], &fi->cloexec, &fi->pos,
					       &fi->status_flags);
		/* Closed meanwhile (by a process sharing the table): not there. */
		if (err == -ENOENT || err == -ESRCH) {
			err = 0;
			continue;
		}
		/* Any other failure (no memory): an image without this fd would close it. */
		if (err)
			goto out;
		fi->dev = st.st_dev;
		fi->ino = st.st_ino;
		fi->mode = st.st_mode;
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode))
			fi->pos = -1;
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", img->tgid, fds[i]);
		len = readlink(link, fi->path, sizeof(fi->path) - 1);
		if (len < 0 && (errno == ENOENT || errno == ESRCH))
			continue;	/* closed meanwhile */
		/* Unnamed, its object (a pipe's queue, a timer) would not be told apart: fail. */
		if (len < 0) {
			err = -errno;
			goto out;
		}
		fi->path[len] = '\0';
		/*
		 * Our own reference: the description survives a close in the
		 * target. Not for sockets and pipe write ends: holding those would
		 * keep their peers from ever seeing the function close them (EOF).
		 */
		fi->held = -1;
		if (!S_ISSOCK(st.st_mode) &&
		    !(S_ISFIFO(st.st_mode) && (fi->status_flags & O_ACCMODE) != O_RDONLY)) {
			fi->held = sys_pidfd_getfd(pidfd, fds[i], 0);
			if (fi->held < 0 && errno == EBADF)
				continue;	/* closed meanwhile */
			/* Unheld, its offset and flags could not be compared at a rewind: fail. */
			if (fi->held < 0) {
				err = -errno;
				pr_err("pid %d: cannot hold fd %d (%s): %s\n", img->tgid, fds[i],
				       fi->path, strerror(errno));
				goto out;
			}
		}
		img->nfds++;
	}
	err = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	free(fds);
	return err;
}

/* The objects behind its fds; pipe and socket queues wait for fdobj_classify(). */
static int capture_fdobjs(struct rw_proc_image *img)
{
	int *fds = malloc((img->nfds ? img->nfds : 1) * sizeof(*fds));
	char (*links)[256] = malloc((img->nfds ? img->nfds : 1) * sizeof(*links));
	bool *regular = malloc((img->nfds ? img->nfds : 1) * sizeof(*regular));
	int err = -ENOMEM;

	if (fds && links && regular) {
		for (size_t i = 0; i < img->nfds; i++) {
			fds[i] = img->fds[i].fd;
			snprintf(links[i], sizeof(links[i]), "%s", img->fds[i].path);
			regular[i] = S_ISREG(img->fds[i].mode);
		}
		err = fdobj_capture(img->tgid, fds, (const char (*)[256])links, regular, img->nfds,
				    &img->fdobjs);
	}
	/* A rewind reads the objects through the descriptions the image holds anyway. */
	for (size_t i = 0; !err && i < img->fdobjs.n; i++) {
		struct rw_fdobj *o = &img->fdobjs.v[i];
		const struct rw_fd_image *fi = image_fd(img, o->fd);

		if (fi && fi->held >= 0 && (uint64_t)fi->ino == o->ino)
			o->held = fi->held;
	}
	free(fds);
	free(links);
	free(regular);
	return err;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int image_map_files_unchanged(const struct rw_proc_image *img, uint64_t start, uint64_t end,
			      char *why, size_t whylen)
{
	ssize_t i = proc_maps_find(&img->maps, start);

	for (; i >= 0 && (size_t)i < img->maps.n && img->maps.v[i].start < end; i++) {
		const struct rw_vma *v = &img->maps.v[i];
		const struct rw_map_file *mf;
		struct stat st;

		if (!v->inode || v->shared)
			continue;
		mf = image_map_file(img, makedev(v->dev_major, v->dev_minor), v->inode);
		if (!mf || mf->fd < 0)
			return rw_why(why, whylen, -ENOENT, "pid %d: %s, mapped privately at %#llx: "
				      "its file was not held at the checkpoint, its pages cannot be "
				      "read back", img->tgid, v->name, (unsigned long long)v->start);
		if (fstat(mf->fd, &st))
			return rw_why(why, whylen, -errno, "pid %d: %s, mapped privately", img->tgid,
				      v->name);
		if (st.st_size != mf->size || !same_time(&st.st_mtim, &mf->mtime) ||
		    !same_time(&st.st_ctim, &mf->ctime))
			return rw_why(why, whylen, -ESTALE, "pid %d: %s, mapped privately at %#llx, "
				      "changed since the checkpoint (size %lld -> %lld, or its times): "
				      "its unwritten pages would read the new content", img->tgid,
				      v->name, (unsigned long long)v->start, (long long)mf->size,
				      (long long)st.st_size);
	}
	return 0;
}

/* Hold every mapped file: a mapping the invocation removes can then be mapped again. */
static int capture_map_files(struct rw_proc_image *img)
{
	img->mapfiles = calloc(img->maps.n ? img->maps.n : 1, sizeof(*img->mapfiles));
	if (!img->mapfiles)
		return -ENOMEM;
	for (size_t i = 0; i < img->maps.n; i++) {
		const struct rw_vma *v = &img->maps.v[i];
		dev_t dev = makedev(v->dev_major, v->dev_minor);
		bool rw = v->shared && (v->prot & PROT_WRITE);
		struct rw_map_file *mf;
		struct stat st;
		char path[96];

		if (!v->inode || v->start >= RW_USER_ADDR_END)
			continue;
		mf = (struct rw_map_file *)image_map_file(img, dev, v->inode);
		if (mf && (mf->rw || !rw))
			continue;
		if (!mf) {
			mf = &img->mapfiles[img->nmapfiles++];
			mf->dev = dev;
			mf->ino = v->inode;
		} else if (mf->fd >= 0) {
			close(mf->fd);
		}
		mf->rw = rw;
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", img->tgid,
			 (unsigned long long)v->start, (unsigned long long)v->end);
		mf->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (mf->fd < 0)
			pr_debug("pid %d: cannot hold %s (%s): %s\n", img->tgid, v->name, path,
				 strerror(errno));
		else if (!fstat(mf->fd, &st)) {
			mf->size = st.st_size;
			mf->mtime = st.st_mtim;
			mf->ctime = st.st_ctim;
		} else {
			/* What it was is unknown: not held, so no page of it is read back. */
			close(mf->fd);
			mf->fd = -1;
		}
	}
	return 0;
}

/* Shared memory objects: shmem.h. */
static int capture_shm(struct rw_proc_image *img)
{
	struct rw_shm_fd *fds = calloc(img->nfds ? img->nfds : 1, sizeof(*fds));
	char why[512];
	int err;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < img->nfds; i++)
		fds[i] = (struct rw_shm_fd){ img->fds[i].fd, img->fds[i].path };
	err = shm_capture(img->tgid, &img->maps, fds, img->nfds, &img->shms, &img->nshms, why,
			  sizeof(why));
	free(fds);
	if (err && err != -ESRCH)
		pr_err("%s\n", why);
	return err;
}

static int capture_cwd(struct rw_proc_image *img)
{
	char link[64];
	struct stat st;
	ssize_t len;
	int err;

	snprintf(link, sizeof(link), "/proc/%d/cwd", img->tgid);
	len = readlink(link, img->cwd, sizeof(img->cwd) - 1);
	if (len < 0)
		return -errno;
	img->cwd[len] = '\0';
	err = proc_stat_link(img->tgid, "cwd", &st);
	if (err)
		return err;
	img->cwd_dev = st.st_dev;
	img->cwd_ino = st.st_ino;
	return 0;
}

/* State only the process itself can tell: asked through injected syscalls. */
static int capture_injected(struct rw_proc_image *img, struct rw_remote *r)
{
	int *ids = NULL, err;
	size_t n = 0;

	for (int sig = 1; sig <= RW_NSIG; sig++) {
		if (!image_sig_settable(sig))
			continue;
		err = remote_sigaction_get(r, sig, &img->sigactions[sig]);
		if (err) {
			pr_err("pid %s: reading the disposition of signal %d: %s\n",
			       PID_LABEL(img->tgid), sig, strerror(-err));
			return err;
		}
	}
	for (int which = 0; which < 3; which++) {
		err = remote_itimer_get(r, which, &img->itimers[which]);
		if (err) {
			pr_err("pid %s: getitimer(%d): %s\n", PID_LABEL(img->tgid), which, strerror(-err));
			return err;
		}
	}
	err = proc_list_posix_timers(img->tgid, &ids, &n);
	if (err)
		return err;
	img->timers = calloc(n ? n : 1, sizeof(*img->timers));
	if (!img->timers) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		img->timers[i].id = ids[i];
		err = remote_timer_gettime(r, ids[i], &img->timers[i].spec);
		if (err) {
			pr_err("pid %s: timer_gettime(%d): %s\n", PID_LABEL(img->tgid), ids[i],
			       strerror(-err));
			free(ids);
			return err;
		}
		img->ntimers++;
	}
	free(ids);
	err = remote_brk(r, 0, &img->brk);
	if (err)
		pr_err("pid %s: reading its program break: %s\n", PID_LABEL(img->tgid), strerror(-err));
	return err;
}

static int capture_attrs(struct rw_proc_image *img)
{
	pid_t *tids = image_tids(img);
	char why[256];
	int err;

	if (!tids)
		return -ENOMEM;
	err = attrs_read(img->tgid, tids, img->nthreads, &img->attrs, why, sizeof(why));
	free(tids);
	return err;
}

/* Injected into every thread, each with its own scratch page (gone before the layout is read). */
static int capture_pstate(struct rw_proc_image *img, struct rw_frozen *f)
{
	pid_t *tids = image_tids(img);
	char why[256];
	int err;

	if (!tids)
		return -ENOMEM;
	err = pstate_read(img->tgid, f, tids, img->nthreads, &img->pstate, why, sizeof(why));
	free(tids);
	if (err && err != -ESRCH)
		pr_err("%s\n", why);
	return err;
}

/*
 * What recreating a thread that exits later needs and only the checkpoint
 * can read: its clear_child_tid (prctl injected into it, through r's
 * scratch page), robust list and tids. A thread where this fails is only
 * not recreatable: the plan says so if it exits.
 */
static int capture_thread_exits(struct rw_proc_image *img, struct rw_frozen *f,
				struct rw_remote *r)
{
	for (size_t i = 0; i < img->nthreads; i++) {
		struct rw_thread_state *ts = &img->threads[i];
		struct rw_seized *ij = freeze_thread(f, ts->tid);
		int err;

		if (!ij || thread_exit_state_read(img->tgid, ts->tid, &ts->exit))
			continue;
		err = remote_get_tid_address(r, ij, &ts->exit.clear_tid);
		if (err == -ESRCH || r->broken)
			return -ESRCH;
		ts->exit.known = !err;
	}
	return 0;
}

int image_capture(struct rw_proc_image *img, struct rw_frozen *f, struct rw_remote *r)
{
	struct rw_pagestore *ps = img->pagestore;
	uint32_t domain = img->share_domain;
	struct rw_proc_status st;
	int err;

	memset(img, 0, sizeof(*img));
	img->pagestore = ps;
	img->share_domain = domain;
	img->store_fd = -1;
	img->maps_fd = -1;
	img->tgid = f->tgid;
	img->threads = calloc(f->n ? f->n : 1, sizeof(*img->threads));
	if (!img->threads)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		err = thread_state_get(f->tgid, &f->threads[i], &img->threads[img->nthreads]);
		if (err)
			goto fail;
		img->nthreads++;
	}
	err = proc_read_status(f->tgid, &st);
	if (err)
		goto fail;
	img->umask = st.umask;
	img->pgid = getpgid(img->tgid);
	img->sid = getsid(img->tgid);
	if (img->pgid < 0 || img->sid < 0) {
		err = -errno;
		goto fail;
	}
	img->sig_ignored = st.sig_ignored;
	img->sig_caught = st.sig_caught;
	img->sig_pending_shared = st.sig_pending_shared;
	img->seccomp = st.seccomp;
	img->seccomp_filters = st.seccomp_filters;
	img->no_new_privs = st.no_new_privs;
	img->idents = calloc(f->n ? f->n : 1, sizeof(*img->idents));
	if (!img->idents) {
		err = -ENOMEM;
		goto fail;
	}
	for (; img->nidents < f->n; img->nidents++) {
		err = ident_read(f->tgid, f->threads[img->nidents].tid, &img->idents[img->nidents]);
		if (err)
			goto fail;
	}
	err = capture_ns_refs(img);
	if (err)
		goto fail;
	err = capture_injected(img, r);
	if (!err)
		err = capture_thread_exits(img, f, r);
	img->syscall_ip = r->ij->syscall_ip;
	/* The scratch page goes before the layout is taken. */
	if (remote_close(r) && !err)
		err = -EIO;
	if (!err)
		err = capture_pstate(img, f);
	if (err)
		goto fail;
	/* smaps, not maps: the wipe-on-fork flags come with the layout. */
	err = proc_read_smaps(r->ij->tid, &img->maps);
	if (err)
		goto fail;
	/* Without it (an older kernel) a rewind after a layout call reads the maps whole. */
	err = procmap_open(r->ij->tid);
	if (err < 0)
		pr_debug("pid %d: no layout queries (%s)\n", img->tgid, strerror(-err));
	img->maps_fd = err < 0 ? -1 : err;
	err = capture_pages(img, r->ij->tid);
	if (err)
		goto fail;
	err = capture_fds(img);
	if (!err)
		err = capture_fdobjs(img);
	if (!err)
		err = capture_map_files(img);
	if (!err)
		err = capture_shm(img);
	if (err)
		goto fail;
	err = capture_cwd(img);
	if (err)
		goto fail;
	err = capture_attrs(img);
	if (!err)
		err = proc_read_cgroups(img->tgid, &img->cgroups);
	if (err)
		goto fail;
	/* A child the rewind leaves behind shows against these in --verify. */
	err = proc_children_of(f->tgid, &img->children, &img->nchildren);
	if (err)
		goto fail;
	return 0;
fail:
	if (err != -ESRCH)
		pr_err("pid %s: checkpoint image: %s\n", PID_LABEL(f->tgid), strerror(-err));
	image_free(img);
	return err;
}

void image_free(struct rw_proc_image *img)
{
	for (size_t i = 0; i < img->nthreads; i++)
		thread_state_free(&img->threads[i]);
	free(img->threads);
	/* First: pages other images share move out of the store before it goes. */
	if (img->own)
		pagestore_release(img->pagestore, img);
	if (img->store)
		munmap((void *)img->store, img->store_len);
	if (img->store_fd >= 0)
		close(img->store_fd);
	if (img->maps_fd >= 0)
		close(img->maps_fd);
	free(img->runs);
	for (size_t i = 0; i < img->nfds; i++)
		if (img->fds[i].held >= 0)
			close(img->fds[i].held);
	free(img->fds);
	for (size_t i = 0; i < img->nmapfiles; i++)
		if (img->mapfiles[i].fd >= 0)
			close(img->mapfiles[i].fd);
	free(img->mapfiles);
	shm_free(img->shms, img->nshms);
	free(img->timers);
	free(img->children);
	free(img->cgroups);
	free(img->idents);
	for (size_t i = 0; i < img->nnsrefs; i++)
		close(img->nsrefs[i].fd);
	free(img->nsrefs);
	attrs_free(&img->attrs);
	fdobjs_free(&img->fdobjs);
	pstate_free(&img->pstate);
	proc_maps_free(&img->maps);
	restorer_area_free(&img->area);
	memset(img, 0, sizeof(*img));
	img->store_fd = -1;
	img->maps_fd = -1;
}

/* ---- the target's mapping of the store ------------------------------------------- */

/*
 * A read-only shared mapping of memfd (len bytes, prot) in the stopped
 * target at addr, or anywhere if 0: an O_RDONLY reopen, so the mapping can
 * never gain PROT_WRITE, passed in under an fd number free now and in the
 * checkpoint (nothing of its is replaced), closed again after.
 */
static int map_memfd_into(const struct rw_proc_image *img, struct rw_remote *r, int memfd,
			  size_t len, int prot, uint64_t addr, uint64_t *got)
{
	char path[64];
	int *fds = NULL, ro, tfd = 0, err;
	long ignored;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		return -errno;
	err = proc_list_fds(img->tgid, &fds, &n);
	for (size_t i = 0; !err && i < n; i++)
		tfd = fds[i] >= tfd ? fds[i] + 1 : tfd;
	free(fds);
	for (size_t i = 0; i < img->nfds; i++)
		tfd = img->fds[i].fd >= tfd ? img->fds[i].fd + 1 : tfd;
	if (!err)
		err = remote_install_fd(r, ro, tfd, true);
	close(ro);
	if (err)
		return err;
	err = remote_mmap(r, addr, len, prot, MAP_SHARED | (addr ? MAP_FIXED_NOREPLACE : 0), tfd,
			  0, got);
	remote_call(r, 3 /* close */, tfd, 0, 0, 0, 0, 0, &ignored);
	if (!err && addr && *got != addr) {
		remote_munmap(r, *got, len);	/* a kernel without MAP_FIXED_NOREPLACE */
		err = -EEXIST;
	}
	return err;
}

int image_map_into(struct rw_proc_image *img, struct rw_remote *r, uint64_t addr)
{
	uint64_t got = 0, t0;
	int err;

	img->tmap = 0;
	/* Whatever the target mapped before is gone: the caller unmapped it, or the function did. */
	if (img->tmap_superseded)
		pagestore_superseded_gone(img);
	img->tmap_superseded = false;
	if (img->store_fd < 0 || !img->store_len || !img->store_sealed)
		return -ENOENT;
	err = map_memfd_into(img, r, img->store_fd, img->store_len, PROT_READ, addr, &got);
	if (err)
		goto out;
	/*
	 * Its page tables, once: the restorer's reads then never fault. Not
	 * over a store with holes (pages shared with another image, or
	 * packed): reading a hole of a memfd allocates it.
	 */
	t0 = rw_now_ns();
	if (!img->store_holes)
		err = remote_madvise(r, got, img->store_len, MADV_POPULATE_READ);
	pr_debug("pid %d: store mapped at %#llx, populated in %llu us\n", img->tgid,
		 (unsigned long long)got, (unsigned long long)(rw_now_ns() - t0) / 1000);
	if (err) {
		remote_munmap(r, got, img->store_len);
		goto out;
	}
	img->tmap = got;
	img->tmap_dev = img->store_dev;
	img->tmap_ino = img->store_ino;
out:
	if (err)
		pr_debug("pid %d: mapping its page store into it: %s\n", img->tgid, strerror(-err));
	return err;
}

int image_map_area(struct rw_proc_image *img, struct rw_remote *r, uint64_t addr)
{
	struct rw_restorer_area *a = &img->area;
	uint64_t got = 0;
	int err = a->local ? 0 : restorer_area_create(a);

	a->at.addr = 0;
	if (!err)
		err = map_memfd_into(img, r, a->fd, a->at.len, a->at.prot, addr, &got);
	if (err)
		pr_debug("pid %d: mapping the restorer's area into it: %s\n", img->tgid,
			 strerror(-err));
	else
		a->at.addr = got;
	return err;
}

struct rw_tmaps image_tmaps(const struct rw_proc_image *img)
{
	return (struct rw_tmaps){
		.store = { img->tmap, img->store_len, img->tmap_dev, img->tmap_ino, PROT_READ },
		.area = img->area.at,
	};
}

bool image_is_tmap(const struct rw_tmap *t, const struct rw_vma *v)
{
	return t->addr && v->start == t->addr && v->end == t->addr + t->len && v->shared &&
	       v->prot == (uint32_t)t->prot && !v->offset && v->inode == t->ino &&
	       makedev(v->dev_major, v->dev_minor) == t->dev;
}

static bool hide(const struct rw_tmap *t, struct rw_maps *maps)
{
	ssize_t i = t->addr ? proc_maps_find(maps, t->addr) : -1;

	if (i < 0 || !image_is_tmap(t, &maps->v[i]))
		return false;
	memmove(&maps->v[i], &maps->v[i + 1], (maps->n - i - 1) * sizeof(maps->v[0]));
	maps->n--;
	return true;
}

bool image_hide_tmap(const struct rw_proc_image *img, struct rw_maps *maps)
{
	struct rw_tmaps t = image_tmaps(img);

	return hide(&t.store, maps);
}

bool image_hide_area(const struct rw_proc_image *img, struct rw_maps *maps)
{
	return hide(&img->area.at, maps);
}
