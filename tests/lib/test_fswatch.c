// SPDX-License-Identifier: GPL-2.0-only
/*
 * fswatch against real trees on ext4 (/tmp) and tmpfs (/dev/shm), changed
 * by forked children (other tgids) and by the test itself (needs root).
 * fanotify queues an event within the syscall that causes it, so once a
 * child has been reaped its events are readable: no sleeps anywhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "child.h"
#include "fanotify_watch.h"
#include "fileio.h"
#include "log.h"

#define TAG_TMP		1
#define TAG_SHM		2
#define MAX_SEEN	64

static bool have_mount_ns;	/* mounts made here stay in our own namespace */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- fixture: a tree and an outside dir on each filesystem, both watched ---- */

struct fix {
	struct rw_fswatch *w;
	char tmp_box[PATH_MAX], shm_box[PATH_MAX];	/* removed at teardown */
	char tmp[PATH_MAX], shm[PATH_MAX];		/* the trees */
	char tmp_out[PATH_MAX], shm_out[PATH_MAX];	/* siblings, not watched */
	char mnt[2][PATH_MAX];				/* mounts to undo, if any */
	int fds;					/* open before setup */
};

/* dir/rel in one of a ring of buffers: enough for one statement's worth. */
static const char *pth(const char *dir, const char *rel)
{
	static char ring[16][PATH_MAX];
	static unsigned int i;
	char *p = ring[i++ % 16];

	if (snprintf(p, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
		fail_msg("path too long: %s/%s", dir, rel);
	return p;
}

static void put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* box/tree/{a/b/file,f} and box/out/o, box made fresh under base. */
static void make_box(const char *base, char *box, char *tree, char *out)
{
	snprintf(box, PATH_MAX, "%s/fswatch-test-XXXXXX", base);
	assert_non_null(mkdtemp(box));
	snprintf(tree, PATH_MAX, "%s/tree", box);
	snprintf(out, PATH_MAX, "%s/out", box);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(mkdir(out, 0755), 0);
	assert_int_equal(mkdir(pth(tree, "a"), 0755), 0);
	assert_int_equal(mkdir(pth(tree, "a/b"), 0755), 0);
	put_file(pth(tree, "a/b/file"), "nested\n");
	put_file(pth(tree, "f"), "top\n");
	put_file(pth(out, "o"), "outside\n");
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *path)
{
	if (*path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char why[256];

	assert_non_null(f);
	f->fds = count_fds();
	make_box("/tmp", f->tmp_box, f->tmp, f->tmp_out);
	make_box("/dev/shm", f->shm_box, f->shm, f->shm_out);
	assert_int_equal(fswatch_open(&f->w, why, sizeof(why)), 0);
	assert_int_equal(fswatch_add_tree(f->w, f->tmp, TAG_TMP, why, sizeof(why)), 0);
	assert_int_equal(fswatch_add_tree(f->w, f->shm, TAG_SHM, why, sizeof(why)), 0);
	assert_int_equal(fswatch_count(f->w), 6);	/* tree, a, a/b on each */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	fswatch_close(f->w);
	fswatch_close(NULL);
	assert_int_equal(count_fds(), f->fds);	/* every fd we opened is closed */
	for (int i = 0; i < 2; i++)
		if (*f->mnt[i])
			umount2(f->mnt[i], MNT_DETACH);
	rm_rf(f->tmp_box);
	rm_rf(f->shm_box);
	free(f);
	return 0;
}

/* ---- what the watcher says ------------------------------------------------ */

struct seen {
	size_t n, total;	/* distinct (tag, pid) pairs, calls */
	struct {
		int tag;
		pid_t pid;
	} ev[MAX_SEEN];
};

static void collect(void *ctx, int tag, pid_t pid)
{
	struct seen *s = ctx;

	s->total++;
	/* Distinct pairs: how often one repeats is not the point. */
	for (size_t i = 0; i < s->n; i++)
		if (s->ev[i].tag == tag && s->ev[i].pid == pid)
			return;
	if (s->n < MAX_SEEN) {
		s->ev[s->n].tag = tag;
		s->ev[s->n].pid = pid;
		s->n++;
	} else {
		fail_msg("more than %d distinct callbacks", MAX_SEEN);
	}
}

static bool readable(struct fix *f)
{
	struct pollfd p = { .fd = fswatch_fd(f->w), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Everything queued now; a drain is bounded, so go on while the fd is readable. */
static struct seen drain(struct fix *f)
{
	struct seen s = { 0 };

	do
		assert_int_equal(fswatch_drain(f->w, collect, &s), 0);
	while (readable(f));
	return s;
}

static bool has(const struct seen *s, int tag, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ev[i].tag == tag && s->ev[i].pid == pid)
			return true;
	return false;
}

static void dump(const char *what, const struct seen *s)
{
	fprintf(stderr, "%s: %zu callbacks:", what, s->total);
	for (size_t i = 0; i < s->n; i++)
		fprintf(stderr, " (%d, %d)", s->ev[i].tag, s->ev[i].pid);
	fprintf(stderr, "\n");
}

/* At least one callback, and all of them (tag, pid). */
static void expect_only(const char *what, struct fix *f, int tag, pid_t pid)
{
	struct seen s = drain(f);

	for (size_t i = 0; i < s.n; i++)
		if (s.ev[i].tag != tag || s.ev[i].pid != pid)
			break;
		else if (i + 1 == s.n)
			return;
	dump(what, &s);
	fail_msg("%s: expected only (%d, %d)", what, tag, pid);
}

static void expect_none(const char *what, struct fix *f)
{
	struct seen s = drain(f);

	if (s.total) {
		dump(what, &s);
		fail_msg("%s: expected no callback", what);
	}
}

/* ---- the writers -------------------------------------------------------------- */

enum kind {
	K_END,
	K_CREATE,	/* a: new empty file */
	K_WRITE,	/* a: append to a file */
	K_CHMOD,	/* a: file or directory */
	K_TRUNC,	/* a */
	K_UTIMES,	/* a */
	K_SYMLINK,	/* a: new link to b */
	K_LINK,		/* a: new hard link to b */
	K_UNLINK,	/* a */
	K_RENAME,	/* a to b */
	K_MKDIR,	/* a */
	K_RMDIR,	/* a */
};

struct op {
	enum kind k;
	const char *a, *b;
};

static int do_op(const struct op *op)
{
	struct timeval tv[2] = { { 1, 0 }, { 2, 0 } };
	int fd;

	switch (op->k) {
	case K_CREATE:
		fd = open(op->a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		return fd < 0 ? -1 : close(fd);
	case K_WRITE:
		fd = open(op->a, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0 || write(fd, "more\n", 5) != 5)
			return -1;
		return close(fd);
	case K_CHMOD:
		return chmod(op->a, 0700);
	case K_TRUNC:
		return truncate(op->a, 1);
	case K_UTIMES:
		return utimes(op->a, tv);
	case K_SYMLINK:
		return symlink(op->b, op->a);
	case K_LINK:
		return link(op->b, op->a);
	case K_UNLINK:
		return unlink(op->a);
	case K_RENAME:
		return rename(op->a, op->b);
	case K_MKDIR:
		return mkdir(op->a, 0755);
	case K_RMDIR:
		return rmdir(op->a);
	case K_END:
		break;
	}
	return -1;
}

/* Run ops in a forked child (another tgid), reap it, return its pid. */
static pid_t in_child(const struct op *ops)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		for (; ops->k != K_END; ops++) {
			if (do_op(ops)) {
				fprintf(stderr, "child: op %d on %s: %s\n", ops->k, ops->a,
					strerror(errno));
				_exit(1);
			}
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return pid;
}

#define CHILD(...)	in_child((const struct op[]){ __VA_ARGS__, { .k = K_END, NULL, NULL } })

/* ---- tests -------------------------------------------------------------------- */

/* Each kind of change by another process, one child each: (tag, child) only. */
static void child_changes(struct fix *f, const char *t, const char *out, int tag)
{
	size_t count = fswatch_count(f->w);
	pid_t pid;

	expect_none("nothing yet", f);
	pid = CHILD({ .k = K_CREATE, pth(t, "new") });
	expect_only("create", f, tag, pid);
	pid = CHILD({ .k = K_WRITE, pth(t, "f") });
	expect_only("write", f, tag, pid);
	pid = CHILD({ .k = K_WRITE, pth(t, "a/b/file") });
	expect_only("write nested", f, tag, pid);
	pid = CHILD({ .k = K_CHMOD, pth(t, "f") });
	expect_only("chmod file", f, tag, pid);
	pid = CHILD({ .k = K_CHMOD, pth(t, "a") });
	expect_only("chmod dir", f, tag, pid);
	pid = CHILD({ .k = K_CHMOD, t });
	expect_only("chmod root", f, tag, pid);
	pid = CHILD({ .k = K_TRUNC, pth(t, "a/b/file") });
	expect_only("truncate", f, tag, pid);
	pid = CHILD({ .k = K_UTIMES, pth(t, "f") });
	expect_only("utimes", f, tag, pid);
	pid = CHILD({ .k = K_SYMLINK, pth(t, "ln"), "/etc" });
	expect_only("symlink", f, tag, pid);
	pid = CHILD({ .k = K_LINK, pth(t, "a/hard"), pth(t, "f") });
	expect_only("hard link", f, tag, pid);
	pid = CHILD({ .k = K_UNLINK, pth(t, "new") });
	expect_only("unlink", f, tag, pid);
	pid = CHILD({ .k = K_RENAME, pth(t, "f"), pth(out, "f") });
	expect_only("rename out", f, tag, pid);
	pid = CHILD({ .k = K_RENAME, pth(out, "o"), pth(t, "o") });
	expect_only("rename in", f, tag, pid);
	pid = CHILD({ .k = K_RENAME, pth(t, "o"), pth(t, "a/b/o") });
	expect_only("rename within", f, tag, pid);
	assert_int_equal(fswatch_count(f->w), count);

	/* n2 and x are made before n1 is watched: the walk of n1 finds n2. */
	pid = CHILD({ .k = K_MKDIR, pth(t, "n1") }, { .k = K_MKDIR, pth(t, "n1/n2") },
		    { .k = K_CREATE, pth(t, "n1/n2/x") });
	expect_only("mkdir nested", f, tag, pid);
	assert_int_equal(fswatch_count(f->w), count + 2);
	pid = CHILD({ .k = K_WRITE, pth(t, "n1/n2/x") });
	expect_only("write in a new nested dir", f, tag, pid);
	pid = CHILD({ .k = K_MKDIR, pth(t, "n1/n2/n3") });
	expect_only("mkdir in a new dir", f, tag, pid);
	pid = CHILD({ .k = K_CREATE, pth(t, "n1/n2/n3/y") });
	expect_only("create in a newer dir", f, tag, pid);
	pid = CHILD({ .k = K_UNLINK, pth(t, "n1/n2/n3/y") }, { .k = K_RMDIR, pth(t, "n1/n2/n3") });
	expect_only("rmdir", f, tag, pid);
	assert_int_equal(fswatch_count(f->w), count + 2);

	/* A directory moved in is watched, with what it holds. */
	assert_int_equal(mkdir(pth(out, "d1"), 0755), 0);
	assert_int_equal(mkdir(pth(out, "d1/d2"), 0755), 0);
	expect_none("mkdir outside", f);
	pid = CHILD({ .k = K_RENAME, pth(out, "d1"), pth(t, "d1") });
	expect_only("dir moved in", f, tag, pid);
	assert_int_equal(fswatch_count(f->w), count + 4);
	pid = CHILD({ .k = K_CREATE, pth(t, "d1/d2/z") });
	expect_only("create in a dir moved in", f, tag, pid);

	/* A directory moved out is not watched any more, nor what it holds. */
	pid = CHILD({ .k = K_RENAME, pth(t, "a"), pth(out, "a") });
	expect_only("dir moved out", f, tag, pid);
	assert_int_equal(fswatch_count(f->w), count + 2);
	CHILD({ .k = K_WRITE, pth(out, "a/b/file") }, { .k = K_CREATE, pth(out, "a/new") },
	      { .k = K_MKDIR, pth(out, "a/b/c") });
	expect_none("changes in a dir moved out", f);
	CHILD({ .k = K_CREATE, pth(out, "zz") }, { .k = K_WRITE, pth(out, "zz") }, { .k = K_CHMOD, out });
	expect_none("changes outside", f);
}

static void child_changes_tmp(void **state)
{
	struct fix *f = *state;

	child_changes(f, f->tmp, f->tmp_out, TAG_TMP);
}

static void child_changes_shm(void **state)
{
	struct fix *f = *state;

	child_changes(f, f->shm, f->shm_out, TAG_SHM);
}

/* The test's own changes come with its own pid: the daemon's restores are told apart. */
static void own_pid(void **state)
{
	struct fix *f = *state;

	put_file(pth(f->tmp, "mine"), "x");
	expect_only("own create on ext4", f, TAG_TMP, getpid());
	assert_int_equal(mkdir(pth(f->shm, "a/b/mine"), 0700), 0);
	expect_only("own mkdir on tmpfs", f, TAG_SHM, getpid());
	put_file(pth(f->shm, "a/b/mine/x"), "x");
	expect_only("own create in own new dir", f, TAG_SHM, getpid());
}

static void two_trees(void **state)
{
	struct fix *f = *state;
	struct seen s;
	pid_t pid;

	pid = CHILD({ .k = K_WRITE, pth(f->tmp, "f") }, { .k = K_WRITE, pth(f->shm, "a/b/file") });
	s = drain(f);
	assert_true(has(&s, TAG_TMP, pid));
	assert_true(has(&s, TAG_SHM, pid));
	assert_int_equal(s.n, 2);
	pid = CHILD({ .k = K_CREATE, pth(f->shm, "only") });
	expect_only("one tree of two", f, TAG_SHM, pid);
}

/* A directory moved from one tree to another (same fs) changes tags. */
static void move_between_trees(void **state)
{
	struct fix *f = *state;
	char other[PATH_MAX], why[256];
	struct seen s;
	pid_t pid;

	strcpy(other, pth(f->tmp_box, "other"));
	assert_int_equal(mkdir(other, 0755), 0);
	assert_int_equal(fswatch_add_tree(f->w, other, 3, why, sizeof(why)), 0);
	assert_int_equal(fswatch_count(f->w), 7);
	pid = CHILD({ .k = K_RENAME, pth(f->tmp, "a"), pth(other, "a") });
	s = drain(f);
	assert_true(has(&s, TAG_TMP, pid));
	assert_true(has(&s, 3, pid));
	assert_int_equal(s.n, 2);
	assert_int_equal(fswatch_count(f->w), 7);
	pid = CHILD({ .k = K_WRITE, pth(other, "a/b/file") });
	expect_only("nested dir moved to another tree", f, 3, pid);
}

static void remove_tree_stops(void **state)
{
	struct fix *f = *state;
	char why[256];
	pid_t pid;

	fswatch_remove_tree(f->w, TAG_TMP);
	assert_int_equal(fswatch_count(f->w), 3);
	CHILD({ .k = K_WRITE, pth(f->tmp, "f") }, { .k = K_WRITE, pth(f->tmp, "a/b/file") },
	      { .k = K_MKDIR, pth(f->tmp, "a/new") }, { .k = K_CHMOD, f->tmp });
	expect_none("removed tree", f);
	pid = CHILD({ .k = K_WRITE, pth(f->shm, "f") });
	expect_only("the other tree still", f, TAG_SHM, pid);

	/* Events already queued for a removed tree are dropped. */
	CHILD({ .k = K_WRITE, pth(f->shm, "f") });
	assert_true(readable(f));
	fswatch_remove_tree(f->w, TAG_SHM);
	assert_int_equal(fswatch_count(f->w), 0);
	expect_none("queued before removal", f);
	fswatch_remove_tree(f->w, TAG_SHM);	/* unknown now: no-op */

	/* The tag can be used again. */
	assert_int_equal(fswatch_add_tree(f->w, f->tmp, TAG_TMP, why, sizeof(why)), 0);
	assert_int_equal(fswatch_count(f->w), 4);	/* tree, a, a/b, a/new */
	pid = CHILD({ .k = K_CREATE, pth(f->tmp, "a/new/x") });
	expect_only("tree added again", f, TAG_TMP, pid);
}

static void fd_readable(void **state)
{
	struct fix *f = *state;

	assert_false(readable(f));
	CHILD({ .k = K_WRITE, pth(f->tmp, "f") });
	assert_true(readable(f));
	drain(f);
	assert_false(readable(f));
}

/* Not following symlinks, not entering other mounts. */
static void symlinks_and_mounts(void **state)
{
	struct fix *f = *state;
	char tree[PATH_MAX], why[256];
	pid_t pid;

	strcpy(tree, pth(f->tmp_box, "t3"));
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(symlink(f->tmp_out, pth(tree, "ln")), 0);
	assert_int_equal(fswatch_add_tree(f->w, tree, 3, why, sizeof(why)), 0);
	assert_int_equal(fswatch_count(f->w), 7);	/* not out through ln */
	CHILD({ .k = K_CREATE, pth(f->tmp_out, "via") }, { .k = K_WRITE, pth(tree, "ln/o") });
	expect_none("beyond a symlink", f);
	pid = CHILD({ .k = K_UNLINK, pth(tree, "ln") });
	expect_only("the symlink itself", f, 3, pid);

	if (!have_mount_ns) {
		fprintf(stderr, "no private mount namespace: mount case skipped\n");
		return;
	}
	strcpy(tree, pth(f->tmp_box, "t4"));
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(mkdir(pth(tree, "mnt"), 0755), 0);
	assert_int_equal(mount("fswatch-test", pth(tree, "mnt"), "tmpfs", 0, "size=1m"), 0);
	strcpy(f->mnt[0], pth(tree, "mnt"));
	assert_int_equal(mkdir(pth(tree, "mnt/sub"), 0755), 0);
	/* The same filesystem, another mount: handles would decode, must not be walked. */
	assert_int_equal(mkdir(pth(tree, "bind"), 0755), 0);
	assert_int_equal(mount(f->tmp_box, pth(tree, "bind"), NULL, MS_BIND, NULL), 0);
	strcpy(f->mnt[1], pth(tree, "bind"));
	assert_int_equal(fswatch_add_tree(f->w, tree, 4, why, sizeof(why)), 0);
	assert_int_equal(fswatch_count(f->w), 8);	/* t4 only: not mnt, mnt/sub, bind/... */
	CHILD({ .k = K_CREATE, pth(tree, "mnt/x") }, { .k = K_CREATE, pth(tree, "mnt/sub/y") },
	      { .k = K_CREATE, pth(tree, "bind/out/b") }, { .k = K_CREATE, pth(f->tmp_out, "c") });
	expect_none("inside other mounts", f);
	pid = CHILD({ .k = K_CREATE, pth(tree, "y") });
	expect_only("beside the mount", f, 4, pid);
}

static long sysctl_long(const char *path)
{
	char *text;
	size_t len;
	long n;

	assert_int_equal(read_whole_file(AT_FDCWD, path, 64, &text, &len), 0);
	n = strtol(text, NULL, 10);
	free(text);
	return n;
}

/* Lost events: tag -1, and every tree walked again (a dir made meanwhile is watched). */
static void overflow(void **state)
{
	struct fix *f = *state;
	long max = sysctl_long("/proc/sys/fs/fanotify/max_queued_events");
	char name[32];
	struct seen s;
	pid_t pid;
	int dfd;

	if (max > 200000)
		skip();	/* too slow to fill cheaply */
	dfd = open(f->shm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	/* Distinct names: fanotify does not merge them. */
	for (long i = 0; i < max + 16; i++) {
		snprintf(name, sizeof(name), "n%ld", i);
		assert_int_equal(mknodat(dfd, name, S_IFREG | 0600, 0), 0);
	}
	close(dfd);
	assert_int_equal(mkdir(pth(f->shm, "lost"), 0755), 0);	/* its event is lost */
	assert_int_equal(mkdir(pth(f->tmp, "lost"), 0755), 0);
	s = drain(f);
	assert_true(has(&s, FSWATCH_ALL_TREES, 0));
	assert_int_equal(fswatch_count(f->w), 8);
	pid = CHILD({ .k = K_CREATE, pth(f->shm, "lost/x") });
	expect_only("in a dir made while events were lost", f, TAG_SHM, pid);
	pid = CHILD({ .k = K_CREATE, pth(f->tmp, "lost/x") });
	expect_only("in the other tree", f, TAG_TMP, pid);
}

/* Past the limit, add_tree fails and leaves nothing; a later dir reports (tag, 0). */
static void limit(void **state)
{
	struct fix *f = *state;
	char tree[PATH_MAX], why[256];
	struct seen s;
	pid_t pid;

	strcpy(tree, pth(f->tmp_box, "t3"));
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(mkdir(pth(tree, "s1"), 0755), 0);
	assert_int_equal(mkdir(pth(tree, "s2"), 0755), 0);
	fswatch_set_limit(f->w, 7);
	assert_int_equal(fswatch_add_tree(f->w, tree, 3, why, sizeof(why)), -ENOSPC);
	assert_non_null(strstr(why, "limit"));
	assert_int_equal(fswatch_count(f->w), 6);
	CHILD({ .k = K_CREATE, pth(tree, "x") }, { .k = K_CREATE, pth(tree, "s1/x") });
	expect_none("a tree that could not be added", f);

	pid = CHILD({ .k = K_MKDIR, pth(f->tmp, "d7") }, { .k = K_MKDIR, pth(f->tmp, "d8") });
	s = drain(f);
	assert_true(has(&s, TAG_TMP, pid));
	assert_true(has(&s, TAG_TMP, 0));
	assert_int_equal(fswatch_count(f->w), 7);
	/* Until a walk succeeds, every drain says so. */
	expect_only("still incomplete", f, TAG_TMP, 0);
	fswatch_set_limit(f->w, 0);
	expect_only("complete again (the gap is reported)", f, TAG_TMP, 0);
	assert_int_equal(fswatch_count(f->w), 8);
	expect_none("complete", f);
	pid = CHILD({ .k = K_CREATE, pth(f->tmp, "d8/x") });
	expect_only("in the dir that was over the limit", f, TAG_TMP, pid);
}

static void bad_roots(void **state)
{
	struct fix *f = *state;
	char box[PATH_MAX], file[PATH_MAX], why[256];

	assert_int_equal(fswatch_add_tree(f->w, f->shm_out, -1, why, sizeof(why)), -EINVAL);
	assert_int_equal(fswatch_add_tree(f->w, f->shm_out, TAG_TMP, why, sizeof(why)), -EEXIST);
	assert_int_equal(fswatch_add_tree(f->w, pth(f->tmp, "a"), 5, why, sizeof(why)), -EBUSY);
	/* A tree inside the new one: refused, and what was marked is undone. */
	assert_int_equal(fswatch_add_tree(f->w, f->tmp_box, 5, why, sizeof(why)), -EBUSY);
	assert_non_null(strstr(why, "overlaps"));
	assert_int_equal(fswatch_count(f->w), 6);
	assert_int_equal(fswatch_add_tree(f->w, pth(f->tmp, "nope"), 5, why, sizeof(why)), -ENOENT);
	assert_int_equal(fswatch_add_tree(f->w, pth(f->tmp, "f"), 5, why, sizeof(why)), -ENOTDIR);
	strcpy(box, pth(f->tmp_box, "lnk"));
	assert_int_equal(symlink(f->tmp_out, box), 0);
	assert_int_equal(fswatch_add_tree(f->w, box, 5, why, sizeof(why)), -ELOOP);
	assert_non_null(strstr(why, "symlink"));
	/* proc: marks work, reopening by handle does not. Named in the message. */
	assert_int_equal(fswatch_add_tree(f->w, "/proc/sys/fs/fanotify", 5, why, sizeof(why)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why, "proc"));
	assert_int_equal(fswatch_add_tree(f->w, "/sys/kernel/mm", 5, why, sizeof(why)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why, "sysfs"));
	assert_int_equal(fswatch_count(f->w), 6);
	strcpy(file, pth(f->tmp, "f"));
	CHILD({ .k = K_WRITE, file });
	assert_true(drain(f).total > 0);	/* the trees still work */
}

/* A deleted root is reported (its DELETE_SELF is not held back by our fds). */
static void root_deleted(void **state)
{
	struct fix *f = *state;
	char tree[PATH_MAX], why[256];
	pid_t pid;

	strcpy(tree, pth(f->shm_box, "gone"));
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(fswatch_add_tree(f->w, tree, 3, why, sizeof(why)), 0);
	pid = CHILD({ .k = K_RMDIR, tree });
	expect_only("root removed", f, 3, pid);
	assert_int_equal(fswatch_count(f->w), 6);
	fswatch_remove_tree(f->w, 3);
	expect_none("after removal", f);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(child_changes_tmp),
		T(child_changes_shm),
		T(own_pid),
		T(two_trees),
		T(move_between_trees),
		T(remove_tree_stops),
		T(fd_readable),
		T(symlinks_and_mounts),
		T(overflow),
		T(limit),
		T(bad_roots),
		T(root_deleted),
	};
#undef T

	if (getenv("RW_DEBUG"))
		rw_log_level = RW_LOG_DEBUG;
	if (geteuid())
		fprintf(stderr, "test_fswatch needs root (fanotify, open_by_handle_at)\n");
	/* The mount test's tmpfs must not show up (or linger) outside. */
	have_mount_ns = !unshare(CLONE_NEWNS) && !mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
