// SPDX-License-Identifier: GPL-2.0-only
/*
 * Canary scanner: see canary.h. One search engine (a window of the previous
 * chunk's last len - 1 bytes plus the new chunk, searched with memmem) fed
 * by process_vm_readv for memory and pread for files.
 */
#define LOG_PREFIX "canary: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "canary.h"
#include "json_util.h"
#include "log.h"
#include "pagemap.h"
#include "proc.h"

#define CANARY_PAGE_MASK	(~(RW_PAGE_SIZE - 1))
#define CHUNK_MASK	(~((uint64_t)RW_CANARY_CHUNK - 1))
/* Directories below a tree's root deeper than this are skipped (each level holds an fd). */
#define TREE_MAX_DEPTH	512

/* ---- search engine ---------------------------------------------------------- */

struct scan {
	const unsigned char *needle;
	size_t len;
	/* RW_CANARY_MAX_NEEDLE bytes of carry room, then a chunk */
	unsigned char *buf;
	size_t carry;		/* bytes right before slot(): [next - carry, next) */
	uint64_t next;		/* position that continues the carry */

	struct rw_canary_hits *out;
	int err;		/* -ENOMEM while recording a hit */
	/* what a hit is in */
	enum rw_canary_where where;
	pid_t pid;
	const struct rw_maps *maps;
	const char *path;
};

static unsigned char *slot(struct scan *s)
{
	return s->buf + RW_CANARY_MAX_NEEDLE;
}

static struct rw_canary_hit *new_hit(struct scan *s)
{
	struct rw_canary_hits *h = s->out;

	h->total++;
	if (h->n >= RW_CANARY_MAX_HITS)
		return NULL;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct rw_canary_hit *v;

		if (cap > RW_CANARY_MAX_HITS)
			cap = RW_CANARY_MAX_HITS;
		v = realloc(h->v, cap * sizeof(*v));
		if (!v) {
			s->err = -ENOMEM;
			return NULL;
		}
		h->v = v;
		h->cap = cap;
	}
	memset(&h->v[h->n], 0, sizeof(h->v[0]));
	return &h->v[h->n];
}

static void record(struct scan *s, uint64_t pos)
{
	struct rw_canary_hit *hit = new_hit(s);
	const struct rw_vma *vma;
	ssize_t i;

	if (!hit)
		return;
	hit->where = s->where;
	if (s->where == RW_CANARY_FILE) {
		hit->path = strdup(s->path);
		if (!hit->path) {
			s->err = -ENOMEM;
			return;
		}
		hit->offset = pos;
		s->out->n++;
		return;
	}
	hit->pid = s->pid;
	hit->addr = pos;
	/* We only read inside mappings: always found. */
	i = proc_maps_find(s->maps, pos);
	if (i >= 0) {
		vma = &s->maps->v[i];
		hit->map_start = vma->start;
		hit->map_end = vma->end;
		hit->offset = pos - vma->start;
		snprintf(hit->perms, sizeof(hit->perms), "%c%c%c%c",
			 vma->prot & PROT_READ ? 'r' : '-', vma->prot & PROT_WRITE ? 'w' : '-',
			 vma->prot & PROT_EXEC ? 'x' : '-', vma->shared ? 's' : 'p');
		snprintf(hit->mapping, sizeof(hit->mapping), "%s", vma->name[0] ? vma->name : "[anon]");
		hit->file_backed = vma->inode != 0;
		if (hit->file_backed)
			hit->file_offset = vma->offset + hit->offset;
	}
	s->out->n++;
}

/* n bytes read at pos into slot(s): search them with the carry if it continues. */
static void feed(struct scan *s, uint64_t pos, size_t n)
{
	size_t carry = pos == s->next ? s->carry : 0;
	unsigned char *w = slot(s) - carry;
	size_t wn = carry + n, i = 0, keep;
	uint64_t wpos = pos - carry;

	/* An occurrence starting in the carry was not whole in the last window. */
	while (wn - i >= s->len && !s->err) {
		unsigned char *p = memmem(w + i, wn - i, s->needle, s->len);

		if (!p)
			break;
		record(s, wpos + (p - w));
		i = p - w + 1;
	}
	keep = wn < s->len - 1 ? wn : s->len - 1;
	memmove(slot(s) - keep, w + wn - keep, keep);
	s->carry = keep;
	s->next = pos + n;
}

static int scan_init(struct scan *s, const void *needle, size_t len, struct rw_canary_hits *out,
		     char *why, size_t whylen)
{
	memset(s, 0, sizeof(*s));
	if (!out)
		return rw_why(why, whylen, -EINVAL, "no result to fill");
	if (!needle)
		return rw_why(why, whylen, -EINVAL, "no needle");
	if (len < 1 || len > RW_CANARY_MAX_NEEDLE)
		return rw_why(why, whylen, -EINVAL, "needle of %zu bytes: must be 1..%d", len,
			      RW_CANARY_MAX_NEEDLE);
	s->needle = needle;
	s->len = len;
	s->out = out;
	s->buf = malloc(RW_CANARY_MAX_NEEDLE + RW_CANARY_CHUNK);
	if (!s->buf)
		return rw_why(why, whylen, -ENOMEM, "scan buffer");
	return 0;
}

/* ---- memory ------------------------------------------------------------------ */

struct mem {
	struct scan *s;
	pid_t target;		/* a live thread of the process: pid, unless its leader exited */
	char *why;
	size_t whylen;
	uint64_t cursor;	/* private anonymous: end of the last populated region */
	int err;		/* read_range's, from inside a PAGEMAP_SCAN walk */
};

/* Read [start, end) in chunks; unreadable pages are skipped one by one. */
static int read_range(struct mem *m, uint64_t start, uint64_t end)
{
	struct scan *s = m->s;
	uint64_t pos = start;

	while (pos < end) {
		uint64_t stop = (pos & CHUNK_MASK) + RW_CANARY_CHUNK;
		struct iovec local = { .iov_base = slot(s) }, remote = { .iov_base = (void *)pos };
		ssize_t got;

		if (stop > end)
			stop = end;
		local.iov_len = remote.iov_len = stop - pos;
		got = process_vm_readv(m->target, &local, 1, &remote, 1, 0);
		if (got > 0) {
			feed(s, pos, got);
			if (s->err)
				return rw_why(m->why, m->whylen, s->err, "recording a hit");
			s->out->bytes_scanned += got;
			pos += got;
			continue;
		}
		if (got < 0 && errno == ESRCH)
			return rw_why(m->why, m->whylen, -ESRCH, "process %d exited during the scan",
				      s->pid);
		if (got < 0 && errno == EPERM)
			return rw_why(m->why, m->whylen, -EPERM, "reading the memory of process %d",
				      s->pid);
		if (got == 0 || errno == EFAULT || errno == EIO) {
			/* The first byte failed: skip its page; the carry breaks off. */
			uint64_t pg = (pos & CANARY_PAGE_MASK) + RW_PAGE_SIZE;

			if (pg > end)
				pg = end;
			s->out->unreadable_bytes += pg - pos;
			pos = pg;
			continue;
		}
		return rw_why(m->why, m->whylen, -errno, "process_vm_readv of process %d at %#" PRIx64,
			      s->pid, pos);
	}
	return 0;
}

static int populated_region(void *arg, uint64_t start, uint64_t end, uint64_t categories)
{
	struct mem *m = arg;
	int err;

	m->s->out->skipped_bytes += start - m->cursor;
	m->cursor = end;
	err = read_range(m, start, end);
	m->err = err;
	return err;
}

static uint64_t page_down(uint64_t x)
{
	return x & CANARY_PAGE_MASK;
}

static uint64_t page_up(uint64_t x)
{
	return (x + RW_PAGE_SIZE - 1) & CANARY_PAGE_MASK;
}

/*
 * A shared file mapping (memfd, shm, /dev/zero shared, a file): read only
 * the file's data (SEEK_DATA). Reading a hole of a shmem file through the
 * mapping would allocate it, charged to the process: a sparse 1 GiB memfd
 * would become 1 GiB. Pages past the file's end are unreadable (SIGBUS).
 * Without /proc/PID/map_files (not root, main thread exited): everything.
 */
static int read_shared(struct mem *m, const struct rw_vma *v)
{
	struct rw_canary_hits *out = m->s->out;
	uint64_t fstart = v->offset, fend = v->offset + (v->end - v->start), pos, eof;
	char path[96];
	struct stat st;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, m->s->pid,
		 v->start, v->end);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		pr_debug("%s: %s, reading it all\n", path, fd < 0 ? strerror(errno) : "not a file");
		if (fd >= 0)
			close(fd);
		return read_range(m, v->start, v->end);
	}
	eof = page_up(st.st_size);
	if (eof < fend) {
		out->unreadable_bytes += fend - (eof > fstart ? eof : fstart);
		fend = eof > fstart ? eof : fstart;
	}
	for (pos = fstart; pos < fend && !err;) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;		/* holes up to the end */
		if (data < 0) {
			data = pos;	/* cannot tell: read the rest */
			hole = fend;
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0)
				hole = fend;
		}
		/* Whole pages: blocks may be smaller. */
		data = page_down(data) > pos ? page_down(data) : pos;
		hole = page_up(hole) < fend ? page_up(hole) : fend;
		if ((uint64_t)data >= fend)
			break;
		out->skipped_bytes += data - pos;
		err = read_range(m, v->start + (data - fstart), v->start + (hole - fstart));
		pos = hole;
	}
	if (!err && pos < fend)
		out->skipped_bytes += fend - pos;
	close(fd);
	return err;
}

static bool special_skipped(const char *name)
{
	return !strcmp(name, "[vvar]") || !strcmp(name, "[vvar_vclock]") ||
	       !strcmp(name, "[vsyscall]");
}

static bool is_dev_zero(const char *name)
{
	return !strncmp(name, "/dev/zero", 9) && (name[9] == '\0' || name[9] == ' ');
}

/* A device file's mapping: reading it could touch hardware, or just fail. */
static bool device_mapping(const char *name)
{
	return !strncmp(name, "/dev/", 5) && strncmp(name, "/dev/shm/", 9) && !is_dev_zero(name);
}

/* Private anonymous memory: a page never populated reads as zeros. */
static bool private_anon(const struct rw_vma *v)
{
	if (v->shared)
		return false;
	/* A private /dev/zero or MAP_HUGETLB mapping is anonymous memory. */
	if (is_dev_zero(v->name) || !strncmp(v->name, "/anon_hugepage", 14))
		return true;
	if (v->inode)
		return false;
	return !v->name[0] || !strcmp(v->name, "[heap]") || !strncmp(v->name, "[stack", 6) ||
	       !strncmp(v->name, "[anon:", 6);
}

/*
 * The maps of pid, and the thread to read them through: pid itself, or a
 * live thread when the leader exited before the others (its maps are empty).
 */
static int find_target(pid_t pid, struct rw_maps *maps, pid_t *target, char *why, size_t whylen)
{
	struct rw_proc_status st;
	pid_t *tids = NULL;
	size_t n = 0;
	int err;

	*target = pid;
	if (pid <= 0)
		return rw_why(why, whylen, -ESRCH, "process %d does not exist", pid);
	err = proc_read_maps(pid, maps);
	if (err == -ESRCH)
		return rw_why(why, whylen, -ESRCH, "process %d does not exist", pid);
	if (err)
		return rw_why(why, whylen, err, "reading the maps of process %d", pid);
	if (maps->n)
		return 0;
	if (!proc_list_threads(pid, &tids, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (tids[i] == pid || proc_read_maps(tids[i], maps) || !maps->n)
				continue;
			*target = tids[i];
			break;
		}
		free(tids);
	}
	if (maps->n)
		return 0;
	err = proc_read_status(pid, &st);
	if (err == -ESRCH || (!err && (st.state == 'Z' || st.state == 'X')))
		return rw_why(why, whylen, -ESRCH, "process %d has exited (a zombie)", pid);
	pr_debug("process %d has no memory (a kernel thread?)\n", pid);
	return 0;
}

int canary_scan_process(pid_t pid, const void *needle, size_t len, struct rw_canary_hits *out,
			char *why, size_t whylen)
{
	struct rw_maps maps = { 0 };
	struct pagemap_query q = { .anyof = PAGE_IS_PRESENT | PAGE_IS_SWAPPED };
	struct scan s;
	struct mem m = { .s = &s, .why = why, .whylen = whylen };
	int err, pm = -1;

	err = scan_init(&s, needle, len, out, why, whylen);
	if (err)
		return err;
	s.where = RW_CANARY_MEMORY;
	s.pid = pid;
	s.maps = &maps;
	err = find_target(pid, &maps, &m.target, why, whylen);
	for (size_t i = 0; !err && i < maps.n; i++) {
		const struct rw_vma *v = &maps.v[i];
		uint64_t size = v->end - v->start;

		if (special_skipped(v->name) || device_mapping(v->name)) {
			out->skipped_bytes += size;
			continue;
		}
		if (!(v->prot & PROT_READ)) {
			out->unreadable_bytes += size;
			continue;
		}
		if (v->shared && v->inode && v->name[0] == '/') {
			err = read_shared(&m, v);
			continue;
		}
		if (!private_anon(v)) {
			err = read_range(&m, v->start, v->end);
			continue;
		}
		/* Only the pages present or swapped out: the rest is zeros. */
		if (pm < 0) {
			pm = pagemap_open(pid, m.target);
			if (pm < 0) {
				err = rw_why(why, whylen, pm, "opening the pagemap of process %d", pid);
				break;
			}
		}
		m.cursor = v->start;
		m.err = 0;
		err = pagemap_scan(pm, v->start, v->end, &q, populated_region, &m);
		if (err && !m.err)
			err = err == -ESRCH ?
			      rw_why(why, whylen, err, "process %d exited during the scan", pid) :
			      rw_why(why, whylen, err, "PAGEMAP_SCAN of process %d", pid);
		if (err)
			break;
		out->skipped_bytes += v->end - m.cursor;
	}
	/* Whether it died meanwhile: a dead mm has no pages for PAGEMAP_SCAN either. */
	if (!err && maps.n) {
		char c;
		struct iovec local = { &c, 1 }, remote = { (void *)maps.v[0].start, 1 };

		if (process_vm_readv(m.target, &local, 1, &remote, 1, 0) < 0 && errno == ESRCH)
			err = rw_why(why, whylen, -ESRCH, "process %d exited during the scan", pid);
	}
	if (pm >= 0)
		close(pm);
	proc_maps_free(&maps);
	free(s.buf);
	return err;
}

/* ---- files ------------------------------------------------------------------- */

/*
 * Search the open regular file fd (s->path names it in hits). 0, or -errno
 * of a failed read with *done the bytes read before it.
 */
static int scan_fd(struct scan *s, int fd, uint64_t *done)
{
	uint64_t pos = 0;

	s->carry = 0;
	for (;;) {
		uint64_t stop = (pos & CHUNK_MASK) + RW_CANARY_CHUNK;
		ssize_t got = pread(fd, slot(s), stop - pos, pos);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*done = pos;
			return -errno;
		}
		if (got == 0)
			break;
		feed(s, pos, got);
		if (s->err)
			break;
		s->out->bytes_scanned += got;
		pos += got;
	}
	*done = pos;
	return s->err;
}

/*
 * Open for reading without following a last symlink when nofollow, without
 * blocking (a fifo swapped in), and without touching atime where allowed.
 */
static int open_file(int dirfd, const char *name, bool nofollow)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
	int fd = openat(dirfd, name, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, flags);
	return fd;
}

/* The file at at (how rewindd reaches it), reported as path. */
static int scan_file(const char *at, const char *path, const void *needle, size_t len,
		     struct rw_canary_hits *out, char *why, size_t whylen)
{
	struct stat st;
	struct scan s;
	uint64_t done;
	int err, fd;

	err = scan_init(&s, needle, len, out, why, whylen);
	if (err)
		return err;
	s.where = RW_CANARY_FILE;
	s.path = path;
	/* Look before opening: opening a device can have effects of its own. */
	if (stat(at, &st)) {
		err = rw_why(why, whylen, -errno, "%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		out->files_skipped++;
		goto out;
	}
	fd = open_file(AT_FDCWD, at, false);
	if (fd < 0) {
		err = rw_why(why, whylen, -errno, "opening %s", path);
		goto out;
	}
	if (fstat(fd, &st)) {
		err = rw_why(why, whylen, -errno, "%s", path);
	} else if (!S_ISREG(st.st_mode)) {
		out->files_skipped++;
	} else {
		err = scan_fd(&s, fd, &done);
		if (err == -ENOMEM) {
			err = rw_why(why, whylen, err, "recording a hit");
		} else if (err) {
			if ((uint64_t)st.st_size > done)
				out->unreadable_bytes += st.st_size - done;
			err = rw_why(why, whylen, err, "reading %s at %" PRIu64, path, done);
		} else {
			out->files_scanned++;
		}
	}
	close(fd);
out:
	free(s.buf);
	return err;
}

int canary_scan_file(const char *path, const void *needle, size_t len, struct rw_canary_hits *out,
		     char *why, size_t whylen)
{
	return scan_file(path, path, needle, len, out, why, whylen);
}

int canary_scan_file_at(int pathfd, const char *name, const void *needle, size_t len,
			struct rw_canary_hits *out, char *why, size_t whylen)
{
	char at[64];

	/* Reopening through the fd's link reaches that file, whatever view named it. */
	snprintf(at, sizeof(at), "/proc/self/fd/%d", pathfd);
	return scan_file(at, name, needle, len, out, why, whylen);
}

struct tree {
	struct scan *s;
	char *path;		/* root "/" the entry being looked at */
	size_t plen, pcap;
	uint64_t dev_major, dev_minor, mnt_id;
	bool have_mnt_id;
};

static bool same_mount(const struct tree *t, const struct statx *stx)
{
	if (stx->stx_dev_major != t->dev_major || stx->stx_dev_minor != t->dev_minor)
		return false;
	return !t->have_mnt_id || !(stx->stx_mask & STATX_MNT_ID) || stx->stx_mnt_id == t->mnt_id;
}

/* path = path[0, at) "/" name; -ENOMEM. */
static int path_set(struct tree *t, size_t at, const char *name)
{
	size_t nlen = strlen(name), need = at + 1 + nlen + 1;

	if (need > t->pcap) {
		size_t cap = need * 2;
		char *p = realloc(t->path, cap);

		if (!p)
			return -ENOMEM;
		t->path = p;
		t->pcap = cap;
	}
	t->path[at] = '/';
	memcpy(t->path + at + 1, name, nlen + 1);
	t->plen = at + 1 + nlen;
	return 0;
}

#define STATX_WANT	(STATX_TYPE | STATX_INO | STATX_SIZE | STATX_MNT_ID)

/* The regular file name in dirfd, seen as *stx. 0, or -ENOMEM. */
static int tree_file(struct tree *t, int dirfd, const char *name, const struct statx *stx)
{
	struct scan *s = t->s;
	struct statx now;
	uint64_t done;
	int fd, err;

	fd = open_file(dirfd, name, true);
	if (fd < 0) {
		pr_debug("opening %s: %s\n", t->path, strerror(errno));
		s->out->files_unreadable++;
		s->out->unreadable_bytes += stx->stx_size;
		return 0;
	}
	/* Still the file we looked at (not swapped for a fifo or a mount)? */
	if (statx(fd, "", AT_EMPTY_PATH, STATX_WANT, &now) || !S_ISREG(now.stx_mode) ||
	    now.stx_ino != stx->stx_ino || !same_mount(t, &now)) {
		s->out->files_skipped++;
		close(fd);
		return 0;
	}
	s->path = t->path;
	err = scan_fd(s, fd, &done);
	close(fd);
	if (err == -ENOMEM)
		return err;
	if (err) {
		pr_debug("reading %s at %" PRIu64 ": %s\n", t->path, done, strerror(-err));
		s->out->files_unreadable++;
		if (now.stx_size > done)
			s->out->unreadable_bytes += now.stx_size - done;
		return 0;
	}
	s->out->files_scanned++;
	return 0;
}

/* Every entry of the directory fd (closed here), whose path is t->path. 0, or -ENOMEM. */
static int tree_dir(struct tree *t, int fd, unsigned int depth)
{
	struct rw_canary_hits *out = t->s->out;
	size_t at = t->plen;
	struct dirent *de;
	int err = 0;
	DIR *d;

	d = fdopendir(fd);
	if (!d) {
		pr_debug("opening %s: %s\n", t->path, strerror(errno));
		out->files_unreadable++;
		close(fd);
		return 0;
	}
	for (;;) {
		struct statx stx;
		int sub;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				pr_debug("reading %s: %s\n", t->path, strerror(errno));
				out->files_unreadable++;
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = path_set(t, at, de->d_name);
		if (err)
			break;
		if (statx(dirfd(d), de->d_name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_WANT,
			  &stx)) {
			if (errno != ENOENT) {	/* ENOENT: deleted meanwhile */
				pr_debug("statx %s: %s\n", t->path, strerror(errno));
				out->files_unreadable++;
			}
			continue;
		}
		if (!S_ISREG(stx.stx_mode) && !S_ISDIR(stx.stx_mode)) {
			out->files_skipped++;	/* symlinks, fifos, sockets, devices */
			continue;
		}
		if (!same_mount(t, &stx)) {
			pr_debug("not crossing into the mount at %s\n", t->path);
			out->files_skipped++;
			continue;
		}
		if (S_ISREG(stx.stx_mode)) {
			err = tree_file(t, dirfd(d), de->d_name, &stx);
			if (err)
				break;
			continue;
		}
		if (depth >= TREE_MAX_DEPTH) {
			pr_warn("%s: deeper than %d levels, skipped\n", t->path, TREE_MAX_DEPTH);
			out->files_skipped++;
			continue;
		}
		sub = openat(dirfd(d), de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (sub < 0) {
			pr_debug("opening %s: %s\n", t->path, strerror(errno));
			out->files_unreadable++;
			continue;
		}
		/* A mount may have appeared there since the statx. */
		if (statx(sub, "", AT_EMPTY_PATH, STATX_WANT, &stx) || !same_mount(t, &stx)) {
			out->files_skipped++;
			close(sub);
			continue;
		}
		err = tree_dir(t, sub, depth + 1);
		if (err)
			break;
	}
	t->plen = at;
	t->path[at] = '\0';
	closedir(d);
	return err;
}

static int scan_tree(int dirfd, const char *root, const void *needle, size_t len,
		     struct rw_canary_hits *out, char *why, size_t whylen)
{
	struct tree t = { 0 };
	struct statx stx;
	struct scan s;
	size_t rlen;
	int err, fd;

	err = scan_init(&s, needle, len, out, why, whylen);
	if (err)
		return err;
	s.where = RW_CANARY_FILE;
	t.s = &s;
	if (dirfd >= 0)
		fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	else
		fd = open(root, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = rw_why(why, whylen, -errno, "opening %s", root);
		goto out;
	}
	if (statx(fd, "", AT_EMPTY_PATH, STATX_WANT, &stx)) {
		err = rw_why(why, whylen, -errno, "%s", root);
		close(fd);
		goto out;
	}
	t.dev_major = stx.stx_dev_major;
	t.dev_minor = stx.stx_dev_minor;
	t.have_mnt_id = stx.stx_mask & STATX_MNT_ID;
	t.mnt_id = stx.stx_mnt_id;
	/* Hits name root "/" relative path: no doubled slash after "dir/" or "/". */
	rlen = strlen(root);
	while (rlen > 1 && root[rlen - 1] == '/')
		rlen--;
	t.pcap = rlen + 256;
	t.path = malloc(t.pcap);
	if (!t.path) {
		err = rw_why(why, whylen, -ENOMEM, "scanning %s", root);
		close(fd);
		goto out;
	}
	memcpy(t.path, root, rlen);
	t.plen = rlen == 1 && root[0] == '/' ? 0 : rlen;
	t.path[t.plen] = '\0';
	err = tree_dir(&t, fd, 0);
	if (err)
		err = rw_why(why, whylen, err, "scanning %s", root);
	free(t.path);
out:
	free(s.buf);
	return err;
}

int canary_scan_tree(const char *root, const void *needle, size_t len, struct rw_canary_hits *out,
		     char *why, size_t whylen)
{
	return scan_tree(-1, root, needle, len, out, why, whylen);
}

int canary_scan_tree_at(int dirfd, const char *name, const void *needle, size_t len,
			struct rw_canary_hits *out, char *why, size_t whylen)
{
	if (dirfd < 0)
		return rw_why(why, whylen, -EBADF, "%s: no directory fd", name);
	return scan_tree(dirfd, name, needle, len, out, why, whylen);
}

/* ---- results ------------------------------------------------------------------ */

void canary_hits_free(struct rw_canary_hits *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].path);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

json_object *canary_hits_to_json(const struct rw_canary_hits *h)
{
	json_object *a = json_object_new_array();

	if (!a)
		return NULL;
	for (size_t i = 0; h && i < h->n; i++) {
		const struct rw_canary_hit *hit = &h->v[i];
		json_object *o = json_object_new_object();
		char addr[24];
		int err;

		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			goto fail;
		}
		if (hit->where == RW_CANARY_FILE) {
			err = rw_json_add(o, "where", json_object_new_string("file")) ||
			      rw_json_add(o, "path", json_object_new_string(hit->path ? hit->path : "")) ||
			      rw_json_add(o, "offset", json_object_new_uint64(hit->offset));
		} else {
			snprintf(addr, sizeof(addr), "0x%" PRIx64, hit->addr);
			err = rw_json_add(o, "where", json_object_new_string("memory")) ||
			      rw_json_add(o, "pid", json_object_new_int64(hit->pid)) ||
			      rw_json_add(o, "mapping", json_object_new_string(hit->mapping)) ||
			      rw_json_add(o, "perms", json_object_new_string(hit->perms)) ||
			      rw_json_add(o, "address", json_object_new_string(addr)) ||
			      rw_json_add(o, "offset", json_object_new_uint64(hit->offset)) ||
			      (hit->file_backed &&
			       rw_json_add(o, "file_offset", json_object_new_uint64(hit->file_offset)));
		}
		if (err)
			goto fail;
	}
	return a;
fail:
	json_object_put(a);
	return NULL;
}
