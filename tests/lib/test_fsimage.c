// SPDX-License-Identifier: GPL-2.0-only
/*
 * fsimage against real trees (needs root: chown, mknod, trusted.* xattrs,
 * mounts). Each test builds a tree in a fresh temp dir, captures it with
 * the store outside the tree, changes it the way a function would, then
 * restores exactly the paths a BPF log would name (both sides of a rename,
 * the link name, the new directory...). It then checks that fsimage_verify
 * finds nothing, and reads back what the test itself set before capture:
 * content, mode, owner, times it chose, never values from the library.
 * No sleeps anywhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>
#include <cmocka.h>

#include "fileio.h"
#include "log.h"
#include "tree_image.h"

#define UID		1234
#define GID		5678
#define MiB		(1024 * 1024)

/* Times the tests choose, so a restore is checked against the test's own values. */
static const struct timespec T_ROOT = { 1500000000, 100000001 };
static const struct timespec T_A = { 1500000001, 200000002 };
static const struct timespec T_B = { 1500000002, 300000003 };
static const struct timespec T_D = { 1500000003, 400000004 };
static const struct timespec T_E = { 1500000004, 500000005 };
static const struct timespec T_X = { 1500000005, 600000006 };
static const struct timespec T_Y = { 1500000006, 700000007 };
static const struct timespec T_L = { 1500000007, 800000008 };

struct fx {
	char base[256];		/* mkdtemp under /tmp: holds tree and store */
	char tree[400];
	char store[400];
	char shm[256];		/* a second base under /dev/shm, when used */
	char mnt[384];		/* something we mounted, unmounted at teardown */
	struct rw_fsimage *img;
	struct rw_fs_stats st;
	char why[512];
};

/* ---- helpers ------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	if (remove(path))
		fprintf(stderr, "removing %s: %s\n", path, strerror(errno));
	return 0;
}

static void rm_tree(const char *path)
{
	if (path[0])
		nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* f->tree "/" rel, in one of 16 rotating buffers. */
static const char *P(const struct fx *f, const char *rel)
{
	static char bufs[16][1024];
	static unsigned next;
	char *b = bufs[next++ % 16];

	snprintf(b, sizeof(bufs[0]), "%s/%s", f->tree, rel);
	return b;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void write_str(const char *path, const char *s, mode_t mode)
{
	write_file(path, s, strlen(s), mode);
}

static void make_dir(const char *path, mode_t mode)
{
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void set_time(const char *path, struct timespec t)
{
	struct timespec ts[2] = { t, t };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void assert_content(const char *path, const char *want)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void assert_meta(const char *path, mode_t mode, uid_t uid, gid_t gid, struct timespec mtime)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_mtim.tv_sec, mtime.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, mtime.tv_nsec);
}

static void assert_missing(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

/*
 * a.txt "alpha" 0640 UID:GID, b.txt "bravo" 0600, d/ 0750 with x "x-ray"
 * and e/ 0755 holding y "yankee"; every time set, deepest first.
 */
static void make_basic(struct fx *f)
{
	write_str(P(f, "a.txt"), "alpha", 0640);
	assert_int_equal(lchown(P(f, "a.txt"), UID, GID), 0);
	write_str(P(f, "b.txt"), "bravo", 0600);
	make_dir(P(f, "d"), 0750);
	write_str(P(f, "d/x"), "x-ray", 0644);
	make_dir(P(f, "d/e"), 0755);
	write_str(P(f, "d/e/y"), "yankee", 0644);
	set_time(P(f, "d/e/y"), T_Y);
	set_time(P(f, "d/x"), T_X);
	set_time(P(f, "d/e"), T_E);
	set_time(P(f, "d"), T_D);
	set_time(P(f, "a.txt"), T_A);
	set_time(P(f, "b.txt"), T_B);
	set_time(f->tree, T_ROOT);
}

static void assert_basic(struct fx *f)
{
	assert_content(P(f, "a.txt"), "alpha");
	assert_meta(P(f, "a.txt"), 0640, UID, GID, T_A);
	assert_content(P(f, "b.txt"), "bravo");
	assert_meta(P(f, "b.txt"), 0600, 0, 0, T_B);
	assert_content(P(f, "d/x"), "x-ray");
	assert_meta(P(f, "d/x"), 0644, 0, 0, T_X);
	assert_content(P(f, "d/e/y"), "yankee");
	assert_meta(P(f, "d/e/y"), 0644, 0, 0, T_Y);
	assert_meta(P(f, "d/e"), 0755, 0, 0, T_E);
	assert_meta(P(f, "d"), 0750, 0, 0, T_D);
	assert_meta(f->tree, 0755, 0, 0, T_ROOT);
}

static void capture(struct fx *f)
{
	int rc = fsimage_capture(f->tree, f->store, &f->img, &f->st, f->why, sizeof(f->why));

	if (rc)
		print_message("capture: %s\n", f->why);
	assert_int_equal(rc, 0);
}

/* Restore the NULL-terminated relative paths, as absolute ones. */
static int restore_rels(struct fx *f, const char *const *rels)
{
	const char *abs[64] = { 0 };
	size_t n = 0;
	int rc;

	for (; rels[n]; n++) {
		assert_true(n < 64);
		abs[n] = strdup(P(f, rels[n]));
	}
	rc = fsimage_restore_paths(f->img, abs, n, &f->st, f->why, sizeof(f->why));
	for (size_t i = 0; i < n; i++)
		free((char *)abs[i]);
	return rc;
}

#define RESTORE(f, ...)	restore_rels(f, (const char *const[]){ __VA_ARGS__, NULL })
#define RESTORED(f, ...)						\
	do {								\
		int __rc = RESTORE(f, __VA_ARGS__);			\
		if (__rc)						\
			print_message("restore: %s\n", (f)->why);	\
		assert_int_equal(__rc, 0);				\
	} while (0)

/* The number of differences fsimage_verify finds; the first in *first (if given). */
static uint64_t differences(struct fx *f, char *first, size_t len)
{
	struct rw_fs_diffs d;
	uint64_t count;
	int rc = fsimage_verify(f->img, &d, f->why, sizeof(f->why));

	if (rc)
		print_message("verify: %s\n", f->why);
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < d.nlisted; i++)
		print_message("  differs: %s\n", d.listed[i]);
	if (first)
		snprintf(first, len, "%s", d.nlisted ? d.listed[0] : "");
	count = d.count;
	fsimage_diffs_free(&d);
	return count;
}

#define assert_verified(f)	assert_int_equal(differences(f, NULL, 0), 0)

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->base, "/tmp/fsimage-test.XXXXXX");
	if (!mkdtemp(f->base)) {
		free(f);
		return -1;
	}
	snprintf(f->tree, sizeof(f->tree), "%s/tree", f->base);
	snprintf(f->store, sizeof(f->store), "%s/store", f->base);
	if (mkdir(f->tree, 0755) || chmod(f->tree, 0755))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fsimage_free(f->img);
	if (f->mnt[0] && umount2(f->mnt, MNT_DETACH))
		fprintf(stderr, "unmounting %s: %s\n", f->mnt, strerror(errno));
	rm_tree(f->shm);
	rm_tree(f->base);
	free(f);
	return 0;
}

/* ---- scenarios ----------------------------------------------------------- */

static void create_file(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	capture(f);
	assert_int_equal(fsimage_nentries(f->img), 7);
	write_str(P(f, "new.txt"), "fresh", 0644);
	RESTORED(f, "new.txt");
	assert_int_equal(f->st.entries_removed, 1);
	assert_verified(f);
	assert_missing(P(f, "new.txt"));
	assert_basic(f);	/* root mtime included: the create changed it */
}

static void modify_same_size_and_mtime(void **state)
{
	struct fx *f = *state;
	ino_t ino;
	char buf[8] = { 0 };
	int held, fd;

	make_basic(f);
	ino = ino_of(P(f, "b.txt"));
	held = open(P(f, "b.txt"), O_RDONLY | O_CLOEXEC);
	assert_true(held >= 0);
	capture(f);
	fd = open(P(f, "b.txt"), O_WRONLY | O_CLOEXEC);
	assert_int_equal(pwrite(fd, "BRAVO", 5, 0), 5);
	close(fd);
	set_time(P(f, "b.txt"), T_B);	/* size and mtime as captured: only content tells */
	RESTORED(f, "b.txt");
	assert_int_equal(f->st.files_restored, 1);
	assert_verified(f);
	assert_basic(f);
	/* In place: same inode, and an fd opened before sees the old content. */
	assert_int_equal(ino_of(P(f, "b.txt")), ino);
	assert_int_equal(pread(held, buf, sizeof(buf) - 1, 0), 5);
	assert_string_equal(buf, "bravo");
	close(held);
}

static void append(void **state)
{
	struct fx *f = *state;
	ino_t ino;
	int fd;

	make_basic(f);
	ino = ino_of(P(f, "a.txt"));
	capture(f);
	fd = open(P(f, "a.txt"), O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_int_equal(write(fd, " and beta", 9), 9);
	close(fd);
	RESTORED(f, "a.txt");
	assert_verified(f);
	assert_basic(f);
	assert_int_equal(ino_of(P(f, "a.txt")), ino);
}

static void truncate_file(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	capture(f);
	assert_int_equal(truncate(P(f, "d/e/y"), 2), 0);
	RESTORED(f, "d/e/y");
	assert_verified(f);
	assert_basic(f);
}

static void delete_file_fifo_and_device(void **state)
{
	struct fx *f = *state;
	struct stat st;

	make_basic(f);
	assert_int_equal(mkfifo(P(f, "d/pipe"), 0620), 0);
	assert_int_equal(chmod(P(f, "d/pipe"), 0620), 0);
	assert_int_equal(mknod(P(f, "d/null"), S_IFCHR | 0666, makedev(1, 3)), 0);
	set_time(P(f, "d"), T_D);
	capture(f);
	assert_int_equal(unlink(P(f, "a.txt")), 0);
	assert_int_equal(unlink(P(f, "d/pipe")), 0);
	assert_int_equal(unlink(P(f, "d/null")), 0);
	RESTORED(f, "a.txt", "d/pipe", "d/null");
	assert_int_equal(f->st.entries_recreated, 3);
	assert_verified(f);
	assert_basic(f);
	assert_int_equal(lstat(P(f, "d/pipe"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	assert_int_equal(lstat(P(f, "d/null"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
}

static void rename_over(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	capture(f);
	assert_int_equal(rename(P(f, "a.txt"), P(f, "b.txt")), 0);
	RESTORED(f, "a.txt", "b.txt");
	assert_verified(f);
	assert_basic(f);
}

static void mkdir_tree(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	capture(f);
	make_dir(P(f, "new"), 0755);
	make_dir(P(f, "new/sub"), 0755);
	write_str(P(f, "new/f1"), "one", 0644);
	write_str(P(f, "new/sub/f2"), "two", 0644);
	make_dir(P(f, "d/e/deeper"), 0755);
	RESTORED(f, "new", "new/sub", "new/f1", "new/sub/f2", "d/e/deeper");
	assert_int_equal(f->st.entries_removed, 5);
	assert_verified(f);
	assert_missing(P(f, "new"));
	assert_missing(P(f, "d/e/deeper"));
	assert_basic(f);

	/* Naming only the directory removes all of it. */
	make_dir(P(f, "new"), 0755);
	write_str(P(f, "new/f1"), "one", 0644);
	RESTORED(f, "new");
	assert_verified(f);
	assert_missing(P(f, "new"));
	assert_basic(f);
}

static void remove_captured_subtree(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	capture(f);
	/* Renamed away: the log names both sides. */
	assert_int_equal(rename(P(f, "d"), P(f, "d2")), 0);
	RESTORED(f, "d", "d2");
	assert_int_equal(f->st.entries_recreated, 4);	/* d, d/x, d/e, d/e/y */
	assert_verified(f);
	assert_missing(P(f, "d2"));
	assert_basic(f);

	/* rm -rf: every name, deepest first, as unlink/rmdir would log them. */
	rm_tree(P(f, "d"));
	assert_missing(P(f, "d"));
	RESTORED(f, "d/e/y", "d/e", "d/x", "d");
	assert_verified(f);
	assert_basic(f);
}

static void symlinks_never_followed(void **state)
{
	struct fx *f = *state;
	char outside[1024], target[64] = { 0 };
	DIR *dir;
	int n = 0;

	make_basic(f);
	assert_int_equal(symlink("target-one", P(f, "l")), 0);
	set_time(P(f, "l"), T_L);
	set_time(f->tree, T_ROOT);
	snprintf(outside, sizeof(outside), "%s/outside", f->base);
	make_dir(outside, 0755);
	capture(f);

	assert_int_equal(unlink(P(f, "l")), 0);
	assert_int_equal(symlink("/etc/passwd", P(f, "l")), 0);
	assert_int_equal(symlink("/etc", P(f, "n")), 0);
	/* A captured directory swapped for a symlink out of the tree. */
	assert_int_equal(rename(P(f, "d"), P(f, "d.old")), 0);
	assert_int_equal(symlink(outside, P(f, "d")), 0);
	RESTORED(f, "l", "n", "d", "d.old", "d/x", "d/e/y");
	assert_verified(f);
	assert_basic(f);
	assert_int_equal(readlink(P(f, "l"), target, sizeof(target) - 1), 10);
	assert_string_equal(target, "target-one");
	assert_meta(P(f, "l"), 0777, 0, 0, T_L);
	assert_missing(P(f, "n"));
	assert_missing(P(f, "d.old"));
	/* Nothing was written through the symlink. */
	dir = opendir(outside);
	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	assert_int_equal(n, 2);
}

static void hard_links(void **state)
{
	struct fx *f = *state;
	struct stat sf, sg;
	ino_t ino;

	make_basic(f);
	write_str(P(f, "f"), "shared", 0644);
	assert_int_equal(link(P(f, "f"), P(f, "g")), 0);
	set_time(P(f, "f"), T_X);
	set_time(f->tree, T_ROOT);
	ino = ino_of(P(f, "f"));
	capture(f);

	/* One name deleted, the inode written through the other. */
	assert_int_equal(unlink(P(f, "g")), 0);
	write_str(P(f, "f"), "changed!", 0644);
	RESTORED(f, "f", "g");
	assert_verified(f);
	assert_basic(f);
	assert_content(P(f, "g"), "shared");
	assert_int_equal(ino_of(P(f, "f")), ino);	/* f in place, g linked to it */
	assert_int_equal(ino_of(P(f, "g")), ino);

	/* Both names gone: one inode again, not two copies. */
	assert_int_equal(unlink(P(f, "f")), 0);
	assert_int_equal(unlink(P(f, "g")), 0);
	RESTORED(f, "g", "f");
	assert_verified(f);
	assert_int_equal(lstat(P(f, "f"), &sf), 0);
	assert_int_equal(lstat(P(f, "g"), &sg), 0);
	assert_int_equal(sf.st_ino, sg.st_ino);
	assert_int_equal(sf.st_nlink, 2);
	assert_content(P(f, "f"), "shared");
	assert_meta(P(f, "g"), 0644, 0, 0, T_X);

	/* g made a separate copy, alike in content, mode and mtime: only grouping tells. */
	assert_int_equal(unlink(P(f, "g")), 0);
	write_str(P(f, "g"), "shared", 0644);
	set_time(P(f, "g"), T_X);
	set_time(f->tree, T_ROOT);
	{
		char first[1024];

		assert_int_equal(differences(f, first, sizeof(first)), 1);
		assert_non_null(strstr(first, "hard link"));
	}
	assert_int_equal(fsimage_restore_all(f->img, &f->st, f->why, sizeof(f->why)), 0);
	assert_verified(f);
	assert_int_equal(ino_of(P(f, "g")), ino_of(P(f, "f")));

	/* A new file renamed over one name: linked back to the other. */
	ino = ino_of(P(f, "g"));
	write_str(P(f, "tmp"), "other", 0644);
	assert_int_equal(rename(P(f, "tmp"), P(f, "f")), 0);
	RESTORED(f, "tmp", "f");
	assert_verified(f);
	assert_int_equal(ino_of(P(f, "f")), ino);
	assert_content(P(f, "f"), "shared");
	assert_basic(f);
}

static void chmod_chown(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	capture(f);
	assert_int_equal(chmod(P(f, "a.txt"), 04777), 0);
	assert_int_equal(lchown(P(f, "a.txt"), 1, 1), 0);
	assert_int_equal(chmod(P(f, "d"), 0700), 0);
	RESTORED(f, "a.txt", "d");
	assert_verified(f);
	assert_basic(f);
}

static void assert_xattr(const char *path, const char *name, const char *want)
{
	char buf[64];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf) - 1);

	if (!want) {
		assert_int_equal(n, -1);
		assert_int_equal(errno, ENODATA);
		return;
	}
	assert_int_equal(n, (ssize_t)strlen(want));
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void xattrs(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	assert_int_equal(lsetxattr(P(f, "a.txt"), "user.keep", "v1", 2, 0), 0);
	assert_int_equal(lsetxattr(P(f, "a.txt"), "user.gone", "bye", 3, 0), 0);
	assert_int_equal(lsetxattr(P(f, "a.txt"), "trusted.t", "tv", 2, 0), 0);
	assert_int_equal(lsetxattr(P(f, "d"), "user.dir", "dv", 2, 0), 0);
	capture(f);
	assert_int_equal(lsetxattr(P(f, "a.txt"), "user.keep", "changed", 7, 0), 0);
	assert_int_equal(lremovexattr(P(f, "a.txt"), "user.gone"), 0);
	assert_int_equal(lsetxattr(P(f, "a.txt"), "user.new", "x", 1, 0), 0);
	assert_int_equal(lremovexattr(P(f, "d"), "user.dir"), 0);
	assert_int_equal(lsetxattr(P(f, "b.txt"), "trusted.added", "y", 1, 0), 0);
	assert_int_equal(differences(f, NULL, 0), 3);
	RESTORED(f, "a.txt", "d", "b.txt");
	assert_verified(f);
	assert_basic(f);
	assert_xattr(P(f, "a.txt"), "user.keep", "v1");
	assert_xattr(P(f, "a.txt"), "user.gone", "bye");
	assert_xattr(P(f, "a.txt"), "trusted.t", "tv");
	assert_xattr(P(f, "a.txt"), "user.new", NULL);
	assert_xattr(P(f, "d"), "user.dir", "dv");
	assert_xattr(P(f, "b.txt"), "trusted.added", NULL);
}

/* Deterministic bytes the test can regenerate: xorshift64. */
static void fill_random(uint64_t *seed, void *buf, size_t len)
{
	uint64_t *w = buf, x = *seed;

	for (size_t i = 0; i < len / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
	*seed = x;
}

static uint64_t hash_file(const char *path, size_t *len)
{
	XXH3_state_t *h = XXH3_createState();
	char *buf = malloc(MiB);
	uint64_t digest;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0 && h && buf);
	XXH3_64bits_reset(h);
	*len = 0;
	while ((n = read(fd, buf, MiB)) > 0) {
		XXH3_64bits_update(h, buf, n);
		*len += n;
	}
	assert_int_equal(n, 0);
	close(fd);
	digest = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	free(buf);
	return digest;
}

static void big_file_one_byte(void **state)
{
	struct fx *f = *state;
	XXH3_state_t *h = XXH3_createState();
	char *buf = malloc(MiB);
	uint64_t seed = 42, want;
	size_t len;
	ino_t ino;
	int fd;

	assert_non_null(h);
	assert_non_null(buf);
	XXH3_64bits_reset(h);
	fd = open(P(f, "big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	for (int i = 0; i < 100; i++) {
		fill_random(&seed, buf, MiB);
		XXH3_64bits_update(h, buf, MiB);
		assert_int_equal(write(fd, buf, MiB), MiB);
	}
	close(fd);
	want = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	free(buf);
	ino = ino_of(P(f, "big"));
	capture(f);
	fd = open(P(f, "big"), O_WRONLY | O_CLOEXEC);
	assert_int_equal(pwrite(fd, "!", 1, 50 * MiB + 7), 1);
	close(fd);
	assert_true(hash_file(P(f, "big"), &len) != want);
	RESTORED(f, "big");
	assert_int_equal(f->st.bytes_cloned + f->st.bytes_copied, 100 * MiB);
	assert_verified(f);
	assert_true(hash_file(P(f, "big"), &len) == want);
	assert_int_equal(len, 100 * MiB);
	assert_int_equal(ino_of(P(f, "big")), ino);
}

static void dev_shm(void **state)
{
	struct fx *f = *state;

	strcpy(f->shm, "/dev/shm/fsimage-test.XXXXXX");
	assert_non_null(mkdtemp(f->shm));
	snprintf(f->tree, sizeof(f->tree), "%s", f->shm);
	assert_int_equal(chmod(f->tree, 0755), 0);
	make_basic(f);
	capture(f);	/* store under /tmp: another filesystem, so copied */
	assert_int_equal(f->st.bytes_cloned, 0);
	assert_true(f->st.bytes_copied > 0);
	write_str(P(f, "d/x"), "X-RAY!", 0644);
	write_str(P(f, "sem.new"), "lock", 0600);
	assert_int_equal(unlink(P(f, "b.txt")), 0);
	RESTORED(f, "d/x", "sem.new", "b.txt");
	assert_int_equal(f->st.bytes_cloned, 0);
	assert_int_equal(f->st.bytes_copied, 5 + 5);
	assert_verified(f);
	assert_missing(P(f, "sem.new"));
	assert_basic(f);
}

static void mmap_write_restored_by_restore_all(void **state)
{
	struct fx *f = *state;
	char first[1024], *p;
	int fd;

	make_basic(f);
	write_str(P(f, "mapped"), "0123456789abcdef", 0644);
	set_time(P(f, "mapped"), T_X);
	set_time(f->tree, T_ROOT);
	capture(f);
	fd = open(P(f, "mapped"), O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	p = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	memcpy(p + 4, "XYZ", 3);
	assert_int_equal(msync(p, 16, MS_SYNC), 0);
	munmap(p, 16);
	close(fd);
	set_time(P(f, "mapped"), T_X);	/* size and mtime as captured */

	assert_int_equal(differences(f, first, sizeof(first)), 1);
	assert_non_null(strstr(first, "content differs"));
	/* No log entry for it: restore_paths has nothing to go on. */
	RESTORED(f, "a.txt");
	assert_int_equal(differences(f, NULL, 0), 1);
	assert_int_equal(fsimage_restore_all(f->img, &f->st, f->why, sizeof(f->why)), 0);
	assert_int_equal(f->st.files_restored, 1);
	assert_verified(f);
	assert_content(P(f, "mapped"), "0123456789abcdef");
	assert_meta(P(f, "mapped"), 0644, 0, 0, T_X);
	assert_basic(f);
}

static void restore_all_structural(void **state)
{
	struct fx *f = *state;

	make_basic(f);
	assert_int_equal(symlink("target-one", P(f, "l")), 0);
	set_time(P(f, "l"), T_L);
	set_time(f->tree, T_ROOT);
	capture(f);
	assert_int_equal(rename(P(f, "d"), P(f, "moved")), 0);
	assert_int_equal(unlink(P(f, "a.txt")), 0);
	make_dir(P(f, "a.txt"), 0755);		/* same name, another type */
	write_str(P(f, "a.txt/inside"), "nested", 0644);
	assert_int_equal(chmod(P(f, "b.txt"), 0666), 0);
	assert_int_equal(unlink(P(f, "l")), 0);
	assert_int_equal(symlink("target-two", P(f, "l")), 0);
	write_str(P(f, "extra"), "extra", 0644);
	assert_true(differences(f, NULL, 0) >= 5);
	assert_int_equal(fsimage_restore_all(f->img, &f->st, f->why, sizeof(f->why)), 0);
	assert_verified(f);
	assert_basic(f);
	assert_missing(P(f, "moved"));
	assert_missing(P(f, "extra"));
	{
		char target[64] = { 0 };

		assert_int_equal(readlink(P(f, "l"), target, sizeof(target) - 1), 10);
		assert_string_equal(target, "target-one");
	}
	/* Nothing left to do: a second pass changes nothing. */
	assert_int_equal(fsimage_restore_all(f->img, &f->st, f->why, sizeof(f->why)), 0);
	assert_int_equal(f->st.files_restored + f->st.entries_removed + f->st.entries_recreated +
			 f->st.metadata_restored, 0);
}

static void one_touched_in_10k(void **state)
{
	struct fx *f = *state;
	char rel[32], content[32], first[1024];
	int fd;

	for (int d = 0; d < 100; d++) {
		snprintf(rel, sizeof(rel), "d%02d", d);
		make_dir(P(f, rel), 0755);
		for (int i = 0; i < 100; i++) {
			snprintf(rel, sizeof(rel), "d%02d/f%02d", d, i);
			snprintf(content, sizeof(content), "file %d/%d", d, i);
			write_str(P(f, rel), content, 0644);
		}
	}
	capture(f);
	assert_int_equal(fsimage_nentries(f->img), 1 + 100 + 10000);
	write_str(P(f, "d00/f00"), "touched", 0644);
	/* Changed behind the log's back, same size. */
	fd = open(P(f, "d99/f99"), O_WRONLY | O_CLOEXEC);
	assert_int_equal(pwrite(fd, "FILE", 4, 0), 4);
	close(fd);

	RESTORED(f, "d00/f00");
	assert_content(P(f, "d00/f00"), "file 0/0");
	assert_int_equal(f->st.files_restored, 1);
	assert_int_equal(f->st.entries, 1);
	/* It did not look at d99/f99: still as changed. */
	assert_content(P(f, "d99/f99"), "FILE 99/99");
	assert_int_equal(differences(f, first, sizeof(first)), 1);
	assert_true(!strncmp(first, P(f, "d99/f99: "), strlen(P(f, "d99/f99: "))));

	assert_int_equal(fsimage_restore_all(f->img, &f->st, f->why, sizeof(f->why)), 0);
	assert_int_equal(f->st.files_restored, 1);
	assert_verified(f);
	assert_content(P(f, "d99/f99"), "file 99/99");
}

/* The only object in the store directory. */
static void only_object(struct fx *f, char *path, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(f->store);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, len, "%s/%s", f->store, de->d_name);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void corrupted_store(void **state)
{
	struct fx *f = *state;
	char object[1024];

	write_str(P(f, "only"), "0123456789", 0644);
	capture(f);
	only_object(f, object, sizeof(object));
	assert_int_equal(truncate(object, 3), 0);
	write_str(P(f, "only"), "changed!!", 0644);
	assert_true(RESTORE(f, "only") < 0);
	assert_non_null(strstr(f->why, "store corrupted"));
	assert_non_null(strstr(f->why, object));
	assert_non_null(strstr(f->why, P(f, "only")));
	assert_content(P(f, "only"), "changed!!");	/* checked before touching the file */

	assert_int_equal(unlink(object), 0);
	assert_int_equal(unlink(P(f, "only")), 0);
	assert_true(RESTORE(f, "only") < 0);
	assert_non_null(strstr(f->why, "store corrupted"));
	assert_non_null(strstr(f->why, object));
	assert_missing(P(f, "only"));	/* no empty stand-in left behind */
}

static void disk_full(void **state)
{
	struct fx *f = *state;
	char *buf = malloc(MiB + MiB / 2);
	int held;

	assert_non_null(buf);
	assert_int_equal(mount("tmpfs", f->tree, "tmpfs", 0, "size=2M,mode=0755"), 0);
	memcpy(f->mnt, f->tree, sizeof(f->mnt) - 1);
	memset(buf, 'a', MiB + MiB / 2);
	write_file(P(f, "big"), buf, MiB + MiB / 2, 0644);
	capture(f);
	/* Replaced, while the function keeps the old one open: 1.5 MiB of 2 stay taken. */
	held = open(P(f, "big"), O_RDONLY | O_CLOEXEC);
	assert_true(held >= 0);
	assert_int_equal(unlink(P(f, "big")), 0);
	memset(buf, 'b', 400 * 1024);
	write_file(P(f, "big"), buf, 400 * 1024, 0644);

	assert_true(RESTORE(f, "big") < 0);
	print_message("expected failure: %s\n", f->why);
	assert_non_null(strstr(f->why, "No space left"));
	assert_non_null(strstr(f->why, P(f, "big")));
	assert_missing(P(f, "big"));	/* the half-written copy was removed */

	close(held);	/* space back: the same restore now works */
	RESTORED(f, "big");
	assert_verified(f);
	free(buf);
}

static bool have_mkfs_xfs(void)
{
	return !system("command -v mkfs.xfs >/dev/null 2>&1");
}

static void ficlone_on_xfs(void **state)
{
	struct fx *f = *state;
	char img[1024], cmd[4096];
	char *buf = malloc(MiB);
	uint64_t seed = 7;
	int fd;

	if (!have_mkfs_xfs()) {
		print_message("mkfs.xfs not found (xfsprogs): FICLONE path not tested\n");
		skip();
	}
	assert_non_null(buf);
	snprintf(img, sizeof(img), "%s/xfs.img", f->base);
	snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->base);
	fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 300 * MiB), 0);	/* sparse: XFS's minimum size */
	close(fd);
	assert_int_equal(mkdir(f->mnt, 0755), 0);
	snprintf(cmd, sizeof(cmd), "mkfs.xfs -q -f -m reflink=1 %s && mount -o loop %s %s", img,
		 img, f->mnt);
	if (system(cmd)) {
		f->mnt[0] = '\0';
		fail_msg("%s failed", cmd);
	}
	snprintf(f->tree, sizeof(f->tree), "%s/tree", f->mnt);
	snprintf(f->store, sizeof(f->store), "%s/store", f->mnt);
	make_dir(f->tree, 0755);
	make_basic(f);
	fill_random(&seed, buf, MiB);
	write_file(P(f, "d/big"), buf, MiB, 0644);
	assert_int_equal(link(P(f, "d/big"), P(f, "big-link")), 0);
	set_time(P(f, "d"), T_D);
	set_time(f->tree, T_ROOT);
	capture(f);
	assert_true(f->st.bytes_cloned >= MiB);
	assert_int_equal(f->st.bytes_copied, 0);

	fd = open(P(f, "d/big"), O_WRONLY | O_CLOEXEC);
	assert_int_equal(pwrite(fd, "zap", 3, 4096), 3);
	close(fd);
	write_str(P(f, "a.txt"), "changed", 0644);
	assert_int_equal(unlink(P(f, "b.txt")), 0);
	RESTORED(f, "d/big", "a.txt", "b.txt");
	assert_int_equal(f->st.bytes_cloned, MiB + 5 + 5);
	assert_int_equal(f->st.bytes_copied, 0);
	assert_verified(f);
	assert_basic(f);
	assert_int_equal(ino_of(P(f, "d/big")), ino_of(P(f, "big-link")));
	fd = open(P(f, "big-link"), O_RDONLY | O_CLOEXEC);
	{
		char *back = malloc(MiB);

		assert_non_null(back);
		assert_int_equal(read(fd, back, MiB), MiB);
		assert_memory_equal(back, buf, MiB);
		free(back);
	}
	close(fd);
	fsimage_free(f->img);	/* before the unmount in teardown */
	f->img = NULL;
	free(buf);
}

/*
 * A rewindd started after a crash rebuilds the image from the saved
 * manifest and the dead one's store, and rolls the tree back with it.
 */
static void saved_manifest_restores_the_tree(void **state)
{
	struct fx *f = *state;
	struct rw_fsimage *loaded = NULL;
	char manifest[512], other[512], *bytes;
	size_t len;
	int rootfd, fd;

	make_basic(f);
	write_str(P(f, "f"), "shared", 0644);
	assert_int_equal(link(P(f, "f"), P(f, "g")), 0);
	assert_int_equal(symlink("target-one", P(f, "l")), 0);
	assert_int_equal(mkfifo(P(f, "p"), 0620), 0);
	assert_int_equal(lsetxattr(P(f, "a.txt"), "user.k", "v1", 2, 0), 0);
	set_time(P(f, "a.txt"), T_A);
	set_time(f->tree, T_ROOT);
	capture(f);
	snprintf(manifest, sizeof(manifest), "%s/manifest", f->base);
	assert_int_equal(fsimage_save(f->img, manifest, f->why, sizeof(f->why)), 0);

	/* What an invocation leaves, and a rollback cut short. */
	write_str(P(f, "a.txt"), "changed", 0600);
	assert_int_equal(lremovexattr(P(f, "a.txt"), "user.k"), 0);
	assert_int_equal(unlink(P(f, "g")), 0);
	write_str(P(f, "f"), "rewritten", 0644);
	assert_int_equal(unlink(P(f, "l")), 0);
	rm_tree(P(f, "d"));
	write_str(P(f, "extra"), "extra", 0644);
	assert_true(differences(f, NULL, 0) >= 5);

	rootfd = open(f->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	if (fsimage_load(manifest, rootfd, f->store, &loaded, f->why, sizeof(f->why)))
		print_message("load: %s\n", f->why);
	assert_non_null(loaded);
	assert_int_equal(fsimage_restore_all(loaded, &f->st, f->why, sizeof(f->why)), 0);
	assert_basic(f);
	assert_content(P(f, "f"), "shared");
	assert_int_equal(ino_of(P(f, "f")), ino_of(P(f, "g")));
	assert_missing(P(f, "extra"));
	assert_xattr(P(f, "a.txt"), "user.k", "v1");
	{
		char target[64] = { 0 };

		assert_int_equal(readlink(P(f, "l"), target, sizeof(target) - 1), 10);
		assert_string_equal(target, "target-one");
	}
	assert_verified(f);	/* the original image agrees */
	fsimage_free(loaded);
	/* Borrowed: the objects stay, for a restore to be tried again. */
	{
		char obj[512];
		struct stat st;

		snprintf(obj, sizeof(obj), "%s/0", f->store);
		assert_int_equal(stat(obj, &st), 0);
	}

	/* Another directory than the captured one. */
	snprintf(other, sizeof(other), "%s/other", f->base);
	make_dir(other, 0755);
	fd = open(other, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(fsimage_load(manifest, fd, f->store, &loaded, f->why, sizeof(f->why)),
			 -ESTALE);
	assert_null(loaded);
	close(fd);

	/* One byte flipped, or the end cut off: refused whole. */
	assert_int_equal(read_whole_file(AT_FDCWD, manifest, 1 << 20, &bytes, &len), 0);
	bytes[len / 2] ^= 1;
	write_file(manifest, bytes, len, 0600);
	assert_int_equal(fsimage_load(manifest, rootfd, f->store, &loaded, f->why, sizeof(f->why)),
			 -EBADMSG);
	assert_non_null(strstr(f->why, "damaged"));
	bytes[len / 2] ^= 1;
	write_file(manifest, bytes, len - 9, 0600);
	assert_int_equal(fsimage_load(manifest, rootfd, f->store, &loaded, f->why, sizeof(f->why)),
			 -EBADMSG);
	assert_null(loaded);
	write_file(manifest, bytes, len, 0600);	/* whole again: loads */
	assert_int_equal(fsimage_load(manifest, rootfd, f->store, &loaded, f->why, sizeof(f->why)), 0);
	fsimage_free(loaded);
	free(bytes);
	close(rootfd);
}

static void api_edges(void **state)
{
	struct fx *f = *state;
	struct rw_fsimage *img = NULL;
	char sibling[1024], dotdot[1024], inside[1024];
	const char *paths[4];

	make_basic(f);
	/* A store inside the tree would capture itself. */
	snprintf(inside, sizeof(inside), "%s/store", f->tree);
	assert_int_equal(fsimage_capture(f->tree, inside, &img, NULL, f->why, sizeof(f->why)),
			 -EINVAL);
	assert_non_null(strstr(f->why, "inside"));
	assert_null(img);
	assert_missing(inside);
	capture(f);
	/* A store already in use is refused. */
	assert_int_equal(fsimage_capture(f->tree, f->store, &img, NULL, f->why, sizeof(f->why)),
			 -ENOTEMPTY);
	assert_null(img);

	snprintf(sibling, sizeof(sibling), "%sx/a.txt", f->tree);
	snprintf(dotdot, sizeof(dotdot), "%s/d/../a.txt", f->tree);
	assert_true(fsimage_contains(f->img, f->tree));
	assert_true(fsimage_contains(f->img, P(f, "d/x")));
	assert_false(fsimage_contains(f->img, sibling));
	assert_false(fsimage_contains(f->img, "/etc/passwd"));
	assert_false(fsimage_contains(f->img, dotdot));
	assert_string_equal(fsimage_root(f->img), f->tree);
	assert_true(fsimage_store_bytes(f->img) > 0);

	/* Outside paths are ignored, duplicates are fine, the root itself is a directory. */
	write_str(P(f, "a.txt"), "ALPHA", 0644);
	paths[0] = "/etc/passwd";
	paths[1] = sibling;
	paths[2] = P(f, "a.txt");
	paths[3] = P(f, "a.txt");
	assert_int_equal(fsimage_restore_paths(f->img, paths, 4, &f->st, f->why, sizeof(f->why)), 0);
	paths[0] = f->tree;
	assert_int_equal(fsimage_restore_paths(f->img, paths, 1, &f->st, f->why, sizeof(f->why)), 0);
	assert_verified(f);
	assert_basic(f);
	paths[0] = dotdot;
	assert_int_equal(fsimage_restore_paths(f->img, paths, 1, NULL, f->why, sizeof(f->why)),
			 -EINVAL);
	assert_int_equal(fsimage_restore_paths(f->img, NULL, 0, NULL, NULL, 0), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(create_file),
		T(modify_same_size_and_mtime),
		T(append),
		T(truncate_file),
		T(delete_file_fifo_and_device),
		T(rename_over),
		T(mkdir_tree),
		T(remove_captured_subtree),
		T(symlinks_never_followed),
		T(hard_links),
		T(chmod_chown),
		T(xattrs),
		T(big_file_one_byte),
		T(dev_shm),
		T(mmap_write_restored_by_restore_all),
		T(restore_all_structural),
		T(one_touched_in_10k),
		T(corrupted_store),
		T(disk_full),
		T(ficlone_on_xfs),
		T(saved_manifest_restores_the_tree),
		T(api_edges),
	};
#undef T

	if (getenv("RW_DEBUG"))
		rw_log_level = RW_LOG_DEBUG;
	if (geteuid())
		fprintf(stderr, "test_fsimage needs root (chown, mknod, mount)\n");
	umask(022);
	/* A watchdog, not synchronisation. */
	alarm(600);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
