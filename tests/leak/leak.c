// SPDX-License-Identifier: GPL-2.0-only
/*
 * A "serverless function" in C with one careless persistence point per
 * scenario. Protocol on stdin/stdout, one line each way:
 *
 *   -> ready                       after initialisation and a warm-up
 *   <- plant SCENARIO HEX          invocation 1: keep the secret in SCENARIO
 *   -> done
 *   <- search SCENARIO HEX         invocation 2: look for the secret
 *   -> found WHERE[,WHERE...] | clean
 *   <- exit
 *
 * Scenarios: global heap env thread child fd (see plant()). Whatever the
 * scenario, search looks everywhere: the global, the environment, new
 * threads, children (their cmdline and memory), regular files behind every
 * fd and every private writable mapping of the process (/proc/self/mem).
 *
 * The secret is 32 bytes sent as 64 hex digits, so its raw bytes never sit in
 * a pipe or stdin buffer. It is decoded straight into "key", a page of its
 * own, which is the only plain copy the search itself holds: the memory scan
 * leaves that page out by address (anonymous mappings merge, so the page is
 * cut out of whatever region contains it), and so it leaves out "scratch",
 * the buffer it reads memory into. Everything else runs on raw syscalls and
 * static buffers: no malloc in search, so the heap residue of "plant heap"
 * is not recycled before it is looked for. A secret for "env" must not
 * contain a NUL byte (setenv takes a C string).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET_LEN 32
#define SCRATCH_LEN (4UL << 20)
#define MAX_HITS 8

extern char **environ;

static unsigned char *key;	/* page: the secret being planted or looked for */
static unsigned char *scratch;	/* memory and file contents are read into it */
static unsigned char cache[64];	/* "global": a warm cache */

static int hold_pipe[2] = { -1, -1 };	/* holder -> function: "I hold it" */
static int thread_release[2] = { -1, -1 };
static pthread_t holder;
static int holder_running;
static pid_t child;
static int child_release[2] = { -1, -1 };
static int leak_fd = -1;

static char found[4096];	/* comma-separated places; never the secret */
static size_t found_len;
static int mem_hits;
static char maps[1 << 18];
static char line[256];

static void say(const char *fmt, ...)
{
	char buf[4200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) != n)
		_exit(3);
}

static void die(const char *what)
{
	say("error %s: %s", what, strerror(errno));
	exit(2);
}

static void hit(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (int i = 0; i < n && i < (int)sizeof(buf); i++)	/* one word per place */
		if (buf[i] == ' ' || buf[i] == ',')
			buf[i] = '_';
	if (found_len + n + 2 >= sizeof(found))
		return;
	if (found_len)
		found[found_len++] = ',';
	memcpy(found + found_len, buf, n);
	found_len += n;
	found[found_len] = '\0';
}

static int has_secret(const void *buf, size_t len)
{
	return memmem(buf, len, key, SECRET_LEN) != NULL;
}

/* Reads a whole (small) file into buf; returns its length or -1. */
static ssize_t slurp(const char *path, void *buf, size_t cap)
{
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)len < cap && (n = read(fd, (char *)buf + len, cap - len)) > 0)
		len += n;
	close(fd);
	return len;
}

/* Calls fn(name) for each entry of a directory; no opendir (it mallocs). */
static void each_entry(const char *dir, void (*fn)(const char *name, void *arg), void *arg)
{
	static char ents[8][16384];	/* one per nesting level would do; 8 is plenty */
	static int depth;
	char *buf = ents[depth++ & 7];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (fd < 0) {
		depth--;
		return;
	}
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(ents[0]))) > 0) {
		for (long off = 0; off < n;) {
			struct { unsigned long ino; long off; unsigned short reclen; unsigned char type; char name[]; }
				*d = (void *)(buf + off);
			if (d->name[0] != '.')
				fn(d->name, arg);
			off += d->reclen;
		}
	}
	close(fd);
	depth--;
}

/* ---- memory scan ---------------------------------------------------------- */

static void scan_range(int memfd, pid_t pid, unsigned long start, unsigned long end, const char *name)
{
	unsigned long pos = start;

	while (pos < end) {
		size_t want = end - pos < SCRATCH_LEN ? end - pos : SCRATCH_LEN;
		ssize_t n = pread(memfd, scratch, want, (off_t)pos);
		unsigned char *p;

		if (n <= 0) {	/* unreadable page (e.g. an I/O mapping): skip it */
			pos = (pos & ~4095UL) + 4096;
			continue;
		}
		for (p = scratch; (p = memmem(p, scratch + n - p, key, SECRET_LEN)); p++) {
			if (mem_hits++ < MAX_HITS) {
				if (pid)
					hit("child:%d:mem:%lx:%s", pid, pos + (p - scratch), name);
				else
					hit("mem:%lx:%s", pos + (p - scratch), name);
			}
		}
		if ((size_t)n < SECRET_LEN || pos + n >= end)
			break;
		pos += n - (SECRET_LEN - 1);	/* overlap: a copy across two reads */
	}
}

/*
 * Every private writable mapping of pid (0: this process), minus the key page
 * and the scratch buffer of this process.
 */
static void scan_memory(pid_t pid)
{
	char path[64];
	ssize_t len;
	int memfd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid ? pid : getpid());
	len = slurp(path, maps, sizeof(maps) - 1);
	if (len < 0)
		return;
	maps[len] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/mem", pid ? pid : getpid());
	memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (memfd < 0) {
		hit("%s:unreadable", path);
		return;
	}
	for (char *l = maps, *nl; *l; l = nl + 1) {
		unsigned long s, e;
		char perms[8] = "";
		int name_at = 0;

		nl = strchr(l, '\n');
		if (!nl)
			break;
		*nl = '\0';
		if (sscanf(l, "%lx-%lx %7s %*s %*s %*s %n", &s, &e, perms, &name_at) < 3)
			continue;
		if (perms[1] != 'w' || perms[3] != 'p')
			continue;
		const char *name = name_at ? l + name_at : "";
		if (!*name)
			name = "anon";
		if (pid) {
			scan_range(memfd, pid, s, e, name);
			continue;
		}
		/* Cut out the excluded ranges (sorted: two of them). */
		unsigned long ex[2][2] = {
			{ (unsigned long)key, (unsigned long)key + 4096 },
			{ (unsigned long)scratch, (unsigned long)scratch + SCRATCH_LEN },
		};
		if (ex[0][0] > ex[1][0]) {
			unsigned long t0 = ex[0][0], t1 = ex[0][1];
			ex[0][0] = ex[1][0], ex[0][1] = ex[1][1], ex[1][0] = t0, ex[1][1] = t1;
		}
		unsigned long cur = s;
		for (int i = 0; i < 2 && cur < e; i++) {
			if (ex[i][1] <= cur || ex[i][0] >= e)
				continue;
			if (ex[i][0] > cur)
				scan_range(memfd, 0, cur, ex[i][0], name);
			cur = ex[i][1];
		}
		if (cur < e)
			scan_range(memfd, 0, cur, e, name);
	}
	close(memfd);
}

/* ---- search ------------------------------------------------------------- */

static void check_task(const char *name, void *arg __attribute__((unused)))
{
	if (atoi(name) != getpid())
		hit("thread:%s", name);
}

static void check_child(pid_t pid)
{
	char path[64];
	ssize_t n;

	hit("child:%d", pid);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	n = slurp(path, scratch, SCRATCH_LEN);
	if (n > 0 && has_secret(scratch, n))
		hit("child:%d:cmdline", pid);
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	n = slurp(path, scratch, SCRATCH_LEN);
	if (n > 0 && has_secret(scratch, n))
		hit("child:%d:environ", pid);
	scan_memory(pid);
}

static void check_children_of(const char *tid, void *arg __attribute__((unused)))
{
	char path[64], list[4096], *p, *end;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%s/children", tid);
	n = slurp(path, list, sizeof(list) - 1);
	if (n <= 0)
		return;
	list[n] = '\0';
	for (p = list;; p = end) {
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		check_child(pid);
	}
}

static void check_fd(const char *name, void *arg __attribute__((unused)))
{
	char path[64], target[256] = "";
	struct stat st;
	int fd = atoi(name);
	ssize_t n;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return;
	n = pread(fd, scratch, st.st_size < (off_t)SCRATCH_LEN ? st.st_size : (off_t)SCRATCH_LEN, 0);
	if (n > 0 && has_secret(scratch, n)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (readlink(path, target, sizeof(target) - 1) < 0)
			strcpy(target, "?");
		hit("fd:%d:%s", fd, target);
	}
}

static void search(void)
{
	const char *v;
	ssize_t n;

	found_len = 0;
	found[0] = '\0';
	mem_hits = 0;
	if (has_secret(cache, sizeof(cache)))
		hit("global");
	v = getenv("LEAK_SECRET");
	if (v && has_secret(v, strlen(v)))
		hit("getenv");
	for (char **e = environ; *e; e++)
		if (has_secret(*e, strlen(*e)))
			hit("environ");
	n = slurp("/proc/self/environ", scratch, SCRATCH_LEN);
	if (n > 0 && has_secret(scratch, n))
		hit("proc-environ");
	each_entry("/proc/self/task", check_task, NULL);
	each_entry("/proc/self/task", check_children_of, NULL);
	each_entry("/proc/self/fd", check_fd, NULL);
	scan_memory(0);
	if (mem_hits > MAX_HITS)
		hit("mem:%d-more", mem_hits - MAX_HITS);
}

/* ---- plant -------------------------------------------------------------- */

static void *hold(void *arg __attribute__((unused)))
{
	unsigned char secret[64];	/* on this thread's stack */
	char c;

	memcpy(secret + 8, key, SECRET_LEN);
	__asm__ volatile("" : : "r"(secret) : "memory");
	if (write(hold_pipe[1], "h", 1) != 1)
		return NULL;
	while (read(thread_release[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static void wait_holder(void)
{
	char c;

	while (read(hold_pipe[0], &c, 1) < 0)
		if (errno != EINTR)
			die("holder");
}

static int plant(const char *scenario)
{
	if (!strcmp(scenario, "global")) {
		memcpy(cache + 16, key, SECRET_LEN);
	} else if (!strcmp(scenario, "heap")) {
		/* Past the chunk's first bytes, which free() reuses for its lists. */
		unsigned char *p = malloc(4096);

		if (!p)
			die("malloc");
		memset(p, 'x', 4096);
		memcpy(p + 256, key, SECRET_LEN);
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	} else if (!strcmp(scenario, "env")) {
		if (memchr(key, 0, SECRET_LEN)) {
			say("error a secret for env must not contain NUL");
			return -1;
		}
		if (setenv("LEAK_SECRET", (char *)key, 1))	/* key[32] is 0 */
			die("setenv");
	} else if (!strcmp(scenario, "thread")) {
		if (pipe2(hold_pipe, O_CLOEXEC) || pipe2(thread_release, O_CLOEXEC))
			die("pipe");
		errno = pthread_create(&holder, NULL, hold, NULL);
		if (errno)
			die("pthread_create");
		holder_running = 1;
		wait_holder();
	} else if (!strcmp(scenario, "child")) {
		if (pipe2(hold_pipe, O_CLOEXEC) || pipe2(child_release, O_CLOEXEC))
			die("pipe");
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			/* Only syscalls here; it keeps the secret on its stack. */
			unsigned char secret[64];
			int null = open("/dev/null", O_RDWR);
			char c;

			dup2(null, 0), dup2(null, 1), dup2(null, 2);
			close(child_release[1]);
			memcpy(secret + 8, key, SECRET_LEN);
			__asm__ volatile("" : : "r"(secret) : "memory");
			if (write(hold_pipe[1], "h", 1) != 1)
				_exit(1);
			while (read(child_release[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		close(child_release[0]);
		wait_holder();
	} else if (!strcmp(scenario, "fd")) {
		char path[] = "/tmp/rewindd-leak-XXXXXX";

		leak_fd = mkstemp(path);
		if (leak_fd < 0)
			die("mkstemp");
		if (write(leak_fd, key, SECRET_LEN) != SECRET_LEN)
			die("write");
		unlink(path);
	} else {
		say("error unknown scenario '%s'", scenario);
		return -1;
	}
	return 0;
}

/* Undoes a plant: only for the warm-up before "ready". */
static void unplant(const char *scenario)
{
	if (!strcmp(scenario, "global")) {
		memset(cache, 0, sizeof(cache));
	} else if (!strcmp(scenario, "env")) {
		unsetenv("LEAK_SECRET");
	} else if (!strcmp(scenario, "thread") && holder_running) {
		close(thread_release[1]);
		pthread_join(holder, NULL);
		close(thread_release[0]);
		close(hold_pipe[0]), close(hold_pipe[1]);
		holder_running = 0;
	} else if (!strcmp(scenario, "child") && child > 0) {
		close(child_release[1]);
		waitpid(child, NULL, 0);
		close(hold_pipe[0]), close(hold_pipe[1]);
		child = 0;
	} else if (!strcmp(scenario, "fd") && leak_fd >= 0) {
		close(leak_fd);
		leak_fd = -1;
	}
}

/* ---- protocol ----------------------------------------------------------- */

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes straight into the key page: no other copy of the raw bytes. */
static int set_key(const char *hex)
{
	if (!hex || strlen(hex) != 2 * SECRET_LEN)
		return -1;
	for (int i = 0; i < SECRET_LEN; i++) {
		int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key[i] = hi << 4 | lo;
	}
	key[SECRET_LEN] = 0;
	return 0;
}

static int read_line(void)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(0, &line[n], 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1)
			return -1;
		if (line[n] == '\n' || n == sizeof(line) - 2)
			break;
		n++;
	}
	line[n] = '\0';
	return 0;
}

static const char *const scenarios[] = { "global", "heap", "env", "thread", "child", "fd" };

int main(void)
{
	char *cmd, *scenario, *hex, *save;

	key = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	scratch = mmap(NULL, SCRATCH_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (key == MAP_FAILED || scratch == MAP_FAILED)
		die("mmap");

	/* Warm-up: every code path once, with a throwaway key, then undone. */
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(*scenarios); i++) {
		memset(key, 'W', SECRET_LEN);
		if (plant(scenarios[i]))
			return 2;
		search();
		unplant(scenarios[i]);
	}
	memset(key, 0, 4096);
	memset(scratch, 0, SCRATCH_LEN);
	say("ready");

	while (read_line() == 0) {
		cmd = strtok_r(line, " ", &save);
		if (!cmd)
			continue;
		if (!strcmp(cmd, "exit"))
			break;
		scenario = strtok_r(NULL, " ", &save);
		hex = strtok_r(NULL, " ", &save);
		if (!scenario || set_key(hex)) {
			say("error usage: plant|search SCENARIO HEX64");
			continue;
		}
		if (!strcmp(cmd, "plant")) {
			if (plant(scenario) == 0)
				say("done");
		} else if (!strcmp(cmd, "search")) {
			search();
			if (found_len)
				say("found %s", found);
			else
				say("clean");
		} else {
			say("error unknown command '%s'", cmd);
		}
	}
	return 0;
}
