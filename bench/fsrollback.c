// SPDX-License-Identifier: GPL-2.0-only
/*
 * File rollback: what fsimage_restore_paths costs against the naive
 * rollback, a whole-tree restore (rm -rf the tree, copy every file back
 * from a pristine copy), measured in the same run on the same trees.
 *
 * Three series, each 4 KiB files in directories of 100 under /tmp:
 *   touched files   1000-file tree, 1 / 10 / 100 / 1000 files modified
 *   touched size    a single file of 4 KiB / 1 MiB / 100 MiB, one byte modified
 *   untouched tree  10 / 1k / 10k files, one modified
 * A round builds a fresh tree and a pristine copy, captures, syncs (else
 * the writeback of what it just wrote, 120 MB for the 10k tree, competes
 * with whatever is timed next), then modifies and restores: the first
 * restore is timed on its own ("first": cold caches after building the
 * tree, up to 1.7 ms after an idle second on this VM whatever the tree
 * size), the median of WARM more cycles is the round's "restore_paths"
 * (later invocations). Last, it modifies again and times the whole-tree
 * restore. Medians over the rounds; the page cache is warm for both
 * sides. The ratio is restore_paths / whole tree.
 * Also: capture time and store size for the 10k tree. Nothing asserts on
 * a time: it prints, and says when a restore failed.
 *
 * Usage: fsrollback [--quick]     (--quick: 5 rounds instead of 9)
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "log.h"
#include "tree_image.h"

#define KiB		1024ULL
#define MiB		(1024 * KiB)
#define PER_DIR		100
#define WARM		5

struct row {
	const char *series;
	unsigned nfiles;	/* in the tree */
	uint64_t size;		/* of each file */
	unsigned touched;	/* modified, then named to restore_paths */
};

static const struct row rows[] = {
	{ "touched files", 1000, 4 * KiB, 1 },
	{ "touched files", 1000, 4 * KiB, 10 },
	{ "touched files", 1000, 4 * KiB, 100 },
	{ "touched files", 1000, 4 * KiB, 1000 },
	{ "touched size", 1, 4 * KiB, 1 },
	{ "touched size", 1, 1 * MiB, 1 },
	{ "touched size", 1, 100 * MiB, 1 },
	{ "untouched tree", 10, 4 * KiB, 1 },
	{ "untouched tree", 1000, 4 * KiB, 1 },
	{ "untouched tree", 10000, 4 * KiB, 1 },
};
#define NROWS	(sizeof(rows) / sizeof(rows[0]))

static void die(const char *what)
{
	fprintf(stderr, "fsrollback: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void file_rel(unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "d%03u/f%03u", i / PER_DIR, i % PER_DIR);
}

static void build_tree(const char *dir, const struct row *r, char *buf)
{
	char path[PATH_MAX], rel[32];

	if (mkdir(dir, 0755))
		die(dir);
	for (unsigned i = 0; i < r->nfiles; i++) {
		uint64_t left = r->size;
		int fd;

		if (i % PER_DIR == 0) {
			snprintf(path, sizeof(path), "%s/d%03u", dir, i / PER_DIR);
			if (mkdir(path, 0755))
				die(path);
		}
		file_rel(i, rel, sizeof(rel));
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			die(path);
		memset(buf, 'a' + i % 26, left < MiB ? left : MiB);
		while (left) {
			size_t n = left < MiB ? left : MiB;

			if (write(fd, buf, n) != (ssize_t)n)
				die(path);
			left -= n;
		}
		close(fd);
	}
}

/* What a function does: one byte of each touched file changes. */
static void modify(const char *tree, const struct row *r)
{
	char path[PATH_MAX], rel[32];

	for (unsigned i = 0; i < r->touched; i++) {
		int fd;

		file_rel(i, rel, sizeof(rel));
		snprintf(path, sizeof(path), "%s/%s", tree, rel);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || pwrite(fd, "X", 1, 0) != 1)
			die(path);
		close(fd);
	}
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path) ? -1 : 0;
}

static void rm_tree(const char *dir)
{
	if (nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) && errno != ENOENT)
		die(dir);
}

static const char *copy_from, *copy_to;

static int copy_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	char dst[PATH_MAX];
	loff_t in = 0;
	int src, out;

	(void)ftw;
	snprintf(dst, sizeof(dst), "%s%s", copy_to, path + strlen(copy_from));
	if (type == FTW_D)
		return mkdir(dst, sb->st_mode & 07777) ? -1 : 0;
	src = open(path, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, sb->st_mode & 07777);
	if (src < 0 || out < 0)
		return -1;
	while (in < sb->st_size)
		if (copy_file_range(src, &in, out, NULL, sb->st_size - in, 0) <= 0)
			return -1;
	close(src);
	close(out);
	return 0;
}

/* The naive rollback: the tree goes, a pristine copy comes back whole. */
static void whole_tree_restore(const char *tree, const char *pristine)
{
	rm_tree(tree);
	copy_from = pristine;
	copy_to = tree;
	if (nftw(pristine, copy_one, 64, FTW_PHYS))
		die("copying the pristine tree back");
}

struct result {
	uint64_t first, restore, baseline, capture, store_bytes;
	bool failed;
};

static void run_row(const struct row *r, int rounds, char *buf, struct result *res)
{
	uint64_t t_first[16], t_restore[16], t_base[16], t_capture[16], t_warm[WARM];
	const char **paths = calloc(r->touched, sizeof(*paths));
	char base[64], tree[128], store[128], pristine[128], why[512], rel[32];

	if (!paths)
		die("calloc");
	memset(res, 0, sizeof(*res));
	for (int round = 0; round < rounds; round++) {
		struct rw_fsimage *img;
		struct rw_fs_stats st;
		uint64_t t0;

		strcpy(base, "/tmp/fsrollback.XXXXXX");
		if (!mkdtemp(base))
			die("mkdtemp");
		snprintf(tree, sizeof(tree), "%s/tree", base);
		snprintf(store, sizeof(store), "%s/store", base);
		snprintf(pristine, sizeof(pristine), "%s/pristine", base);
		build_tree(tree, r, buf);
		build_tree(pristine, r, buf);
		if (fsimage_capture(tree, store, &img, &st, why, sizeof(why))) {
			fprintf(stderr, "fsrollback: capture: %s\n", why);
			exit(1);
		}
		t_capture[round] = st.ns;
		res->store_bytes = fsimage_store_bytes(img);
		sync();
		for (unsigned i = 0; i < r->touched; i++) {
			char *p;

			file_rel(i, rel, sizeof(rel));
			if (asprintf(&p, "%s/%s", tree, rel) < 0)
				die("asprintf");
			paths[i] = p;
		}

		for (int k = 0; k <= WARM; k++) {
			uint64_t ns;

			modify(tree, r);
			t0 = rw_now_ns();
			if (fsimage_restore_paths(img, paths, r->touched, &st, why, sizeof(why))) {
				fprintf(stderr, "fsrollback: restore_paths: %s\n", why);
				res->failed = true;
			}
			ns = rw_now_ns() - t0;
			if (k)
				t_warm[k - 1] = ns;
			else
				t_first[round] = ns;
		}
		t_restore[round] = bench_median(t_warm, WARM);

		modify(tree, r);
		t0 = rw_now_ns();
		whole_tree_restore(tree, pristine);
		t_base[round] = rw_now_ns() - t0;

		for (unsigned i = 0; i < r->touched; i++)
			free((char *)paths[i]);
		fsimage_free(img);
		rm_tree(base);
	}
	res->first = bench_median(t_first, rounds);
	res->restore = bench_median(t_restore, rounds);
	res->baseline = bench_median(t_base, rounds);
	res->capture = bench_median(t_capture, rounds);
	free(paths);
}

static const char *human_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns < 10000)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else if (ns < 10000000)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	return buf;
}

static const char *human_size(uint64_t b, char *buf, size_t len)
{
	if (b >= MiB)
		snprintf(buf, len, "%llu MiB", (unsigned long long)(b / MiB));
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)(b / KiB));
	return buf;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 && !strcmp(argv[1], "--quick") ? 5 : 9;
	struct result res[NROWS];
	char a[32], b[32], c[32], d[32];
	char *buf = malloc(MiB);

	if (argc > 1 && strcmp(argv[1], "--quick")) {
		fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
		return 2;
	}
	if (!buf)
		die("malloc");
	rw_log_level = RW_LOG_WARN;
	printf("fsrollback: restore_paths against a whole-tree restore (rm -rf, copy back from a\n"
	       "pristine copy), medians of %d rounds, fresh trees in /tmp, warm page cache;\n"
	       "first: the first restore after capture; restore_paths: median of the %d after it\n\n",
	       rounds, WARM);
	printf("%-15s %-14s %7s %11s %13s %12s %10s\n", "series", "tree", "touched", "first",
	       "restore_paths", "whole tree", "ratio");
	for (size_t i = 0; i < NROWS; i++) {
		const struct row *r = &rows[i];
		char tree[64];

		run_row(r, rounds, buf, &res[i]);
		snprintf(tree, sizeof(tree), "%u x %s", r->nfiles, human_size(r->size, a, sizeof(a)));
		printf("%-15s %-14s %7u %11s %13s %12s %10.6f%s\n", r->series, tree, r->touched,
		       human_ns(res[i].first, d, sizeof(d)), human_ns(res[i].restore, b, sizeof(b)),
		       human_ns(res[i].baseline, c, sizeof(c)),
		       (double)res[i].restore / res[i].baseline,
		       res[i].failed ? "  (a restore FAILED)" : "");
		fflush(stdout);
	}
	printf("\n1 touched in 10k tree / 1 touched in 10-file tree = %.2f (goal <= 2)\n",
	       (double)res[NROWS - 1].restore / res[NROWS - 3].restore);
	printf("the same for the first restore after capture (cold) = %.2f\n",
	       (double)res[NROWS - 1].first / res[NROWS - 3].first);
	printf("capture of the 10k tree: %s, store %.1f MiB\n",
	       human_ns(res[NROWS - 1].capture, a, sizeof(a)),
	       res[NROWS - 1].store_bytes / (double)MiB);
	free(buf);
	return 0;
}
