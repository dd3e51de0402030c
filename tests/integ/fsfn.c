// SPDX-License-Identifier: GPL-2.0-only
/*
 * A function that changes files, for the file-rollback tests: one command
 * per line on stdin, one answer line on stdout.
 *   go SCENARIO DIR   performs one invocation's file changes under DIR,
 *                     answers "done" (or "error WHAT: ERRNO")
 *   plant TOKEN DIR   leaves TOKEN in a global, in a freed heap block and
 *                     at offset 10 of DIR/cache.txt; answers
 *                     "planted GLOBAL_ADDR HEAP_ADDR"
 *   exit
 * The test script checks the trees from outside with its own tools; this
 * program only makes the changes a real function would make.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "handshake.h"

/* Initialised: in .data, a mapping of this program's file, as a module cache would be. */
static char global_token[64] = "no token yet";

static void fail(const char *what)
{
	say("error %s: %s", what, strerror(errno));
}

static int write_file(const char *path, int flags, const char *data)
{
	int fd = open(path, flags | O_WRONLY | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

/* Run a program as a child and wait for it: files written by a child count too. */
static int run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);	/* our stdout is the test's answer channel */
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	errno = EIO;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int scenario(const char *name, const char *dir)
{
	char a[4096], b[4096], c[4096];

	snprintf(a, sizeof(a), "%s/a.txt", dir);
	if (!strcmp(name, "create")) {
		snprintf(b, sizeof(b), "%s/new.txt", dir);
		return write_file(b, O_CREAT | O_EXCL, "created by the invocation\n");
	}
	if (!strcmp(name, "long_names")) {
		/* Hashed names (64 hex digits, a SHA-256) and longer, in a long-named dir. */
		char x[101];

		memset(x, 'h', sizeof(x) - 1);
		x[sizeof(x) - 1] = '\0';
		snprintf(b, sizeof(b), "%s/%.64s", dir, x);
		snprintf(c, sizeof(c), "%s/%s", dir, x);
		if (write_file(b, O_CREAT | O_EXCL, "a hashed name\n") || mkdir(c, 0755))
			return -1;
		snprintf(c, sizeof(c), "%s/%s/%.64s", dir, x, x);
		return write_file(c, O_CREAT | O_EXCL, "a hashed name in a long-named dir\n");
	}
	if (!strcmp(name, "modify_keep_mtime")) {
		/* Same size, same mtime: only the content says it changed. */
		struct stat st;
		struct timespec ts[2];
		int fd;

		if (stat(a, &st))
			return -1;
		fd = open(a, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || pwrite(fd, "XXXXX", 5, 0) != 5)
			return -1;
		close(fd);
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
		return utimensat(AT_FDCWD, a, ts, 0);
	}
	if (!strcmp(name, "append"))
		return write_file(a, O_APPEND, "appended\n");
	if (!strcmp(name, "truncate"))
		return truncate(a, 3);
	if (!strcmp(name, "delete"))
		return unlink(a);
	if (!strcmp(name, "rename_over")) {
		snprintf(b, sizeof(b), "%s/b.txt", dir);
		return rename(b, a);
	}
	if (!strcmp(name, "mkdir_tree")) {
		snprintf(b, sizeof(b), "%s/t", dir);
		snprintf(c, sizeof(c), "%s/t/u", dir);
		if (mkdir(b, 0755) || mkdir(c, 0700))
			return -1;
		snprintf(c, sizeof(c), "%s/t/u/f", dir);
		return write_file(c, O_CREAT, "deep\n");
	}
	if (!strcmp(name, "rmdir_tree")) {
		snprintf(b, sizeof(b), "%s/sub/inner.txt", dir);
		snprintf(c, sizeof(c), "%s/sub", dir);
		return unlink(b) || rmdir(c) ? -1 : 0;
	}
	if (!strcmp(name, "symlink")) {
		snprintf(b, sizeof(b), "%s/ln", dir);
		return symlink("a.txt", b);
	}
	if (!strcmp(name, "hardlink")) {
		snprintf(b, sizeof(b), "%s/hl", dir);
		return link(a, b);
	}
	if (!strcmp(name, "unlink_hardlinked")) {
		/* a.txt and pair.txt are one inode at the checkpoint. */
		return unlink(a);
	}
	if (!strcmp(name, "chmod"))
		return chmod(a, 0600);
	if (!strcmp(name, "xattr"))
		return setxattr(a, "user.rewindd", "set", 3, 0);
	if (!strcmp(name, "big")) {
		/* One byte in the middle of a 100 MB file. */
		snprintf(b, sizeof(b), "%s/big", dir);
		int fd = open(b, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || pwrite(fd, "!", 1, 50 << 20) != 1)
			return -1;
		return close(fd);
	}
	if (!strcmp(name, "mmap")) {
		int fd = open(a, O_RDWR | O_CLOEXEC);
		char *p;

		if (fd < 0)
			return -1;
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return -1;
		memcpy(p, "MMAP", 4);
		msync(p, 4096, MS_SYNC);
		return munmap(p, 4096);
	}
	if (!strcmp(name, "child_write")) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			return -1;
		if (pid == 0)
			_exit(write_file(a, O_APPEND, "from the child\n") ? 1 : 0);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			return -1;
		return 0;
	}
	if (!strcmp(name, "other_ns_write")) {
		/*
		 * A child in a mount namespace of its own sees DIR/sub at
		 * DIR/../outside and writes x there: the log names outside/x,
		 * the file is DIR/sub/x.
		 */
		pid_t pid = fork();
		int status;

		if (pid < 0)
			return -1;
		if (pid == 0) {
			snprintf(b, sizeof(b), "%s/sub", dir);
			snprintf(c, sizeof(c), "%s/../outside", dir);
			if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
			    mount(b, c, NULL, MS_BIND, NULL))
				_exit(1);
			snprintf(b, sizeof(b), "%s/../outside/x", dir);
			_exit(write_file(b, O_CREAT | O_EXCL, "written from another view\n") ? 1 : 0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			return -1;
		return 0;
	}
	if (!strcmp(name, "sqlite")) {
		char *argv[] = { "sqlite3", b, "INSERT INTO t VALUES (2, 'secret of the invocation');",
				 NULL };

		snprintf(b, sizeof(b), "%s/db.sqlite", dir);
		return run(argv);
	}
	if (!strcmp(name, "touch_one")) {
		snprintf(b, sizeof(b), "%s/d5/f55.txt", dir);
		return write_file(b, O_TRUNC, "changed\n");
	}
	if (!strcmp(name, "rename_out")) {
		/* Out of the watched tree: DIR's sibling "outside" is not watched. */
		const char *slash = strrchr(dir, '/');

		snprintf(c, sizeof(c), "%s/b.txt", dir);
		snprintf(b, sizeof(b), "%.*s/outside/b.txt", (int)(slash - dir), dir);
		return rename(c, b);
	}
	errno = EINVAL;
	return -1;
}

static void plant(const char *token, const char *dir)
{
	char path[4096], buf[128];
	char *heap = malloc(256);
	uintptr_t residue = (uintptr_t)heap + 32;	/* where the token stays after free */

	snprintf(global_token, sizeof(global_token), "%s", token);
	if (!heap) {
		fail("malloc");
		return;
	}
	memset(heap, 0, 256);
	memcpy(heap + 32, token, strlen(token));
	free(heap);	/* residue: the bytes stay in the freed chunk */
	snprintf(path, sizeof(path), "%s/cache.txt", dir);
	snprintf(buf, sizeof(buf), "user=bob;%s;\n", token);
	if (write_file(path, O_CREAT | O_TRUNC, buf)) {
		fail(path);
		return;
	}
	say("planted %p %#lx", (void *)global_token, (unsigned long)residue);
}

int main(void)
{
	char line[8192], *save, *cmd, *arg1, *arg2;

	say("ready %d", getpid());
	while (hs_read_line(0, line, sizeof(line)) == 0) {
		cmd = strtok_r(line, " ", &save);
		arg1 = strtok_r(NULL, " ", &save);
		arg2 = strtok_r(NULL, " ", &save);
		if (!cmd || !strcmp(cmd, "exit"))
			break;
		if (!strcmp(cmd, "go") && arg1 && arg2) {
			if (scenario(arg1, arg2))
				fail(arg1);
			else
				say("done");
		} else if (!strcmp(cmd, "plant") && arg1 && arg2) {
			plant(arg1, arg2);
		} else {
			say("error unknown command");
		}
	}
	return 0;
}
