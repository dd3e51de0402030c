// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "shmem: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "log.h"
#include "pagemap.h"
#include "shmem.h"

#define CHUNK		(1ULL << 20)
#define PAGE_UP(x)	(((x) + RW_PAGE_SIZE - 1) & ~(RW_PAGE_SIZE - 1))

/*
 * One buffer for every read (rewindd is one thread): allocated per call it
 * would be a fresh mapping that faults in at every rewind (measured: half
 * the cost of comparing 1 MiB).
 */
static uint8_t chunk_buf[CHUNK] __attribute__((aligned(4096)));

/* ---- lookups ---------------------------------------------------------------- */

/* Index of the first run ending after off (nruns if none). */
static size_t run_search(const struct rw_shm_image *s, uint64_t off)
{
	size_t lo = 0, hi = s->nruns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->runs[mid].start + s->runs[mid].npages * RW_PAGE_SIZE <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const uint8_t *shm_page(const struct rw_shm_image *s, uint64_t off)
{
	size_t i = run_search(s, off);

	if (i == s->nruns || off < s->runs[i].start)
		return NULL;
	return s->store + s->runs[i].off + (off - s->runs[i].start);
}

size_t shm_runs_in(const struct rw_shm_image *s, uint64_t start, uint64_t end, size_t *n)
{
	size_t first = run_search(s, start), i = first;

	while (i < s->nruns && s->runs[i].start < end)
		i++;
	*n = i - first;
	return first;
}

/* ---- reading an object ---------------------------------------------------------- */

/*
 * The page-aligned ranges of [0, limit) that hold data (allocated or
 * swapped: SEEK_DATA), added to out: holes read zero without being read.
 */
static int data_ranges(int fd, uint64_t limit, struct rw_ranges *out)
{
	uint64_t pos = 0;

	while (pos < limit) {
		off_t d = lseek(fd, pos, SEEK_DATA), h;
		int err;

		if (d < 0)
			return errno == ENXIO ? 0 : -errno;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0 || (uint64_t)h > limit)
			h = limit;
		d &= ~(off_t)(RW_PAGE_SIZE - 1);
		h = PAGE_UP((uint64_t)h);
		if ((uint64_t)d >= limit)
			break;
		err = ranges_add(out, d, (uint64_t)h < limit ? (uint64_t)h : limit);
		if (err)
			return err;
		pos = h;
	}
	return 0;
}

/* n bytes at off, what lies past the end of the file (or past keep) read as zero. */
static int read_zero_filled(int fd, uint8_t *buf, uint64_t n, uint64_t off, uint64_t keep)
{
	ssize_t got = pread(fd, buf, n, off);

	if (got < 0)
		return -errno;
	memset(buf + got, 0, n - got);
	if (off + n > keep)
		memset(buf + (keep > off ? keep - off : 0), 0, off + n - (keep > off ? keep : off));
	return 0;
}

static int store_page(struct rw_shm_image *s, size_t *cap, uint64_t off, const uint8_t *page)
{
	struct rw_shm_run *last = s->nruns ? &s->runs[s->nruns - 1] : NULL;

	if (s->pages_stored == *cap) {
		size_t more = *cap ? 2 * *cap : 16;
		uint8_t *st = realloc(s->store, more * RW_PAGE_SIZE);

		if (!st)
			return -ENOMEM;
		s->store = st;
		*cap = more;
	}
	if (last && last->start + last->npages * RW_PAGE_SIZE == off) {
		last->npages++;
	} else {
		struct rw_shm_run *runs = realloc(s->runs, (s->nruns + 1) * sizeof(*runs));

		if (!runs)
			return -ENOMEM;
		s->runs = runs;
		s->runs[s->nruns++] = (struct rw_shm_run){ off, 1, s->pages_stored * RW_PAGE_SIZE };
	}
	memcpy(s->store + s->pages_stored * RW_PAGE_SIZE, page, RW_PAGE_SIZE);
	s->pages_stored++;
	return 0;
}

/* Keep every page of the object that reads non-zero: the image stays sparse. */
static int read_object(struct rw_shm_image *s)
{
	struct rw_ranges data = { 0 };
	uint8_t *buf = chunk_buf;
	size_t cap = 0;
	int err;

	err = data_ranges(s->fd, PAGE_UP(s->size), &data);
	for (size_t i = 0; i < data.n && !err; i++) {
		for (uint64_t off = data.r[i].start; off < data.r[i].end && !err; off += CHUNK) {
			uint64_t n = data.r[i].end - off < CHUNK ? data.r[i].end - off : CHUNK;

			err = read_zero_filled(s->fd, buf, n, off, s->size);
			for (uint64_t p = 0; p < n && !err; p += RW_PAGE_SIZE)
				if (memcmp(buf + p, rw_zero_page, RW_PAGE_SIZE))
					err = store_page(s, &cap, off + p, buf + p);
		}
	}
	ranges_free(&data);
	return err;
}

/* ---- capture ---------------------------------------------------------------- */

static struct rw_shm_image *find(struct rw_shm_image *v, size_t n, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].dev == dev && v[i].ino == ino)
			return &v[i];
	return NULL;
}

/*
 * Take the object path (a /proc magic link) names when it is one of ours:
 * a regular file on tmpfs (mapping only) or unlinked. 1 taken, 0 not one,
 * -errno with why set.
 */
static int take(const char *path, bool mapping, const char *what, struct rw_shm_image **v,
		size_t *n, uint64_t *total, char *why, size_t whylen)
{
	struct rw_shm_image *s, *more;
	struct statfs sf;
	struct stat st;
	int err;

	if (stat(path, &st) || statfs(path, &sf))
		return rw_why(why, whylen, -errno, "%s: cannot tell whether it is shared memory",
			      what);
	if (!S_ISREG(st.st_mode) || (st.st_nlink && !(mapping && sf.f_type == TMPFS_MAGIC)))
		return 0;
	if (find(*v, *n, st.st_dev, st.st_ino))
		return 1;
	if (sf.f_type == HUGETLBFS_MAGIC)
		return rw_why(why, whylen, -EOPNOTSUPP, "%s: shared memory on hugetlbfs cannot "
			      "be written back (no write(2) there)", what);
	*total += st.st_size;
	if (*total > RW_SHM_MAX_BYTES)
		return rw_why(why, whylen, -EFBIG, "%s: shared memory of %llu bytes takes the "
			      "process's shared objects past %llu MiB, more than a rewind compares",
			      what, (unsigned long long)st.st_size,
			      (unsigned long long)(RW_SHM_MAX_BYTES >> 20));
	more = realloc(*v, (*n + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	*v = more;
	s = &more[*n];
	memset(s, 0, sizeof(*s));
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	snprintf(s->what, sizeof(s->what), "%s", what);
	s->writable = true;
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0) {
		s->writable = false;
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (s->fd < 0)
		return rw_why(why, whylen, -errno, "%s: cannot hold its shared memory", what);
	(*n)++;
	err = read_object(s);
	if (err)
		return rw_why(why, whylen, err, "%s: reading its shared memory", what);
	if (!s->writable)
		pr_debug("%s: held read-only: a change will fail the rewind\n", what);
	return 1;
}

int shm_capture(pid_t tgid, const struct rw_maps *maps, const struct rw_shm_fd *fds, size_t nfds,
		struct rw_shm_image **out, size_t *n, char *why, size_t whylen)
{
	struct rw_shm_image *v = NULL;
	uint64_t total = 0;
	size_t k = 0;
	int err = 0;

	for (size_t i = 0; i < maps->n && err >= 0; i++) {
		const struct rw_vma *m = &maps->v[i];
		char path[96], what[200];

		if (!m->shared || m->start >= RW_USER_ADDR_END)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", tgid,
			 (unsigned long long)m->start, (unsigned long long)m->end);
		snprintf(what, sizeof(what), "pid %d: mapping %#llx-%#llx %.120s", tgid,
			 (unsigned long long)m->start, (unsigned long long)m->end,
			 m->name[0] ? m->name : "(shared anonymous)");
		err = take(path, true, what, &v, &k, &total, why, whylen);
	}
	for (size_t i = 0; i < nfds && err >= 0; i++) {
		char path[64], what[200];

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", tgid, fds[i].fd);
		snprintf(what, sizeof(what), "pid %d: fd %d (%.120s)", tgid, fds[i].fd, fds[i].path);
		err = take(path, false, what, &v, &k, &total, why, whylen);
		/* An fd closed meanwhile is not there (the process is frozen: it was closing). */
		if (err == -ENOENT)
			err = 0;
	}
	if (err < 0) {
		shm_free(v, k);
		return err;
	}
	*out = v;
	*n = k;
	return 0;
}

void shm_free(struct rw_shm_image *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i].fd >= 0)
			close(s[i].fd);
		free(s[i].runs);
		free(s[i].store);
	}
	free(s);
}

/* ---- compare ---------------------------------------------------------------- */

int shm_diff(const struct rw_shm_image *s, struct rw_shm_now *now)
{
	uint64_t limit = PAGE_UP(s->size);
	struct rw_ranges look = { 0 }, diff = { 0 };
	uint8_t *buf = chunk_buf;
	struct stat st;
	int err;

	memset(now, 0, sizeof(*now));
	if (fstat(s->fd, &st))
		return -errno;
	now->size = st.st_size;
	/* What holds data now and what held data then: the rest reads zero in both. */
	err = data_ranges(s->fd, limit, &look);
	for (size_t i = 0; i < s->nruns && !err; i++)
		err = ranges_add(&look, s->runs[i].start,
				 s->runs[i].start + s->runs[i].npages * RW_PAGE_SIZE);
	if (!err)
		ranges_normalize(&look);
	for (size_t i = 0; i < look.n && !err; i++) {
		for (uint64_t off = look.r[i].start; off < look.r[i].end && !err; off += CHUNK) {
			uint64_t len = look.r[i].end - off < CHUNK ? look.r[i].end - off : CHUNK;

			/* Past the checkpoint's size is the truncation's: compared as zero. */
			err = read_zero_filled(s->fd, buf, len, off, s->size);
			for (uint64_t p = 0; p < len && !err; p += RW_PAGE_SIZE) {
				const uint8_t *want = shm_page(s, off + p);

				if (!want)
					want = rw_zero_page;
				if (!memcmp(buf + p, want, RW_PAGE_SIZE))
					continue;
				if (!diff.n) {
					uint64_t b = 0;

					while (buf[p + b] == want[b])
						b++;
					now->first_byte = off + p + b;
				}
				err = ranges_add(&diff, off + p, off + p + RW_PAGE_SIZE);
			}
		}
	}
	ranges_free(&look);
	if (err) {
		ranges_free(&diff);
		return err;
	}
	now->diff = diff.r;
	now->ndiff = diff.n;
	return 0;
}

void shm_now_free(struct rw_shm_now *now)
{
	free(now->diff);
	memset(now, 0, sizeof(*now));
}
