// SPDX-License-Identifier: GPL-2.0-only
/*
 * The zdtm program's shared part: main (the command loop of handshake.h),
 * what every check compares, and the helpers of zdtm.h. The scenarios are
 * in the other files of this directory and register themselves.
 */
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "../integ/handshake.h"
#include "zdtm.h"

int cmd_fd;
char ready_info[128];
static char done_msg[128];	/* what "done" says after the invocation */
char why[512];
int failed;

void die(const char *what)
{
	say("error %s: %s", what, strerror(errno));
	exit(2);
}

void differ(const char *fmt, ...)
{
	va_list ap;

	if (failed)
		return;
	failed = 1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	for (char *p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

void done(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(done_msg, sizeof(done_msg), fmt, ap);
	va_end(ap);
}

pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n < size - 1) {
		r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static unsigned char pat(size_t i, unsigned int seed)
{
	return (unsigned char)(i * 31 + seed * 7 + (i >> 12));
}

void fill(char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(i, seed);
}

void check_fill(const char *what, const char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] != pat(i, seed)) {
			differ("%s: byte %#zx (page %zu) is %#x, want %#x", what, i, i / PAGE,
			       (unsigned char)p[i], pat(i, seed));
			return;
		}
}

/* ---- what every check compares ------------------------------------------------- */

#define MAPS_MAX (256 * 1024)
static char maps_want[MAPS_MAX];
char maps_now[MAPS_MAX];
#define LIST_MAX (16 * 1024)
static char fds_want[LIST_MAX], fds_now[LIST_MAX];
static char tids_want[LIST_MAX], tids_now[LIST_MAX];

/* Whether the line [line, nl) names what. */
static int line_names(const char *line, const char *nl, const char *what)
{
	const char *at = strstr(line, what);

	return at && at < nl;
}

/*
 * Without rewindd's mappings of its own, mapped at the checkpoint, after
 * "ready": the read-only checkpoint image (the in-target restorer's source)
 * and the restorer's code and tables.
 */
static void snap_maps(char *buf)
{
	char *line, *nl;

	if (read_file("/proc/self/maps", buf, MAPS_MAX) < 0)
		die("/proc/self/maps");
	for (line = buf; *line; line = nl) {
		nl = strchr(line, '\n');
		nl = nl ? nl + 1 : line + strlen(line);
		if (line_names(line, nl, "/memfd:rewindd-image") ||
		    line_names(line, nl, "/memfd:rewindd-restorer")) {
			memmove(line, nl, strlen(nl) + 1);
			nl = line;
		}
	}
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * "N:target\n" per fd (fds) or "N\n" per thread (tids), in directory order,
 * which for /proc is numeric. The directory's own fd is left out.
 */
static void snap_dir(const char *dir, char *buf, int links)
{
	char ents[4096], path[64], target[256];
	size_t n = 0;
	long r;
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (d < 0)
		die(dir);
	buf[0] = '\0';
	while ((r = syscall(SYS_getdents64, d, ents, sizeof(ents))) > 0) {
		for (long off = 0; off < r;) {
			struct linux_dirent64 *e = (void *)(ents + off);
			ssize_t t = 0;

			off += e->d_reclen;
			if (e->d_name[0] == '.' || (links && atoi(e->d_name) == d))
				continue;
			if (links) {
				snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
				t = readlink(path, target, sizeof(target) - 1);
				if (t < 0)
					t = 0;
			}
			target[t] = '\0';
			n += snprintf(buf + n, LIST_MAX - n, "%s%s%s\n", e->d_name, links ? ":" : "",
				      target);
			if (n >= LIST_MAX)
				die("snapshot too long");
		}
	}
	close(d);
}

static void snap_all(char *maps, char *fds, char *tids)
{
	snap_maps(maps);
	snap_dir("/proc/self/fd", fds, 1);
	snap_dir("/proc/self/task", tids, 0);
}

/* Whether text holds a line equal to line[0..len). */
static int has_line(const char *text, const char *line, int len)
{
	for (const char *l = text; *l;) {
		const char *eol = strchrnul(l, '\n');

		if (eol - l == len && !memcmp(l, line, len))
			return 1;
		l = *eol ? eol + 1 : eol;
	}
	return 0;
}

/* The first line of a that b lacks: its length, or -1 (*at set to it). */
static int first_missing(const char *a, const char *b, const char **at)
{
	for (const char *l = a; *l;) {
		const char *eol = strchrnul(l, '\n');

		if (!has_line(b, l, eol - l)) {
			*at = l;
			return eol - l > 150 ? 150 : eol - l;
		}
		l = *eol ? eol + 1 : eol;
	}
	*at = "";
	return -1;
}

void compare_lines(const char *what, const char *want, const char *now)
{
	const char *gone, *added;
	int gl, al;

	if (!strcmp(want, now))
		return;
	gl = first_missing(want, now, &gone);
	al = first_missing(now, want, &added);
	if (gl < 0 && al < 0)
		differ("%s: the same lines, reordered or repeated", what);
	else if (al < 0)
		differ("%s: gone '%.*s'", what, gl, gone);
	else if (gl < 0)
		differ("%s: new '%.*s'", what, al, added);
	else
		differ("%s: gone '%.*s', new '%.*s'", what, gl, gone, al, added);
}

static void check_common(void)
{
	snap_all(maps_now, fds_now, tids_now);
	compare_lines("threads (/proc/self/task)", tids_want, tids_now);
	compare_lines("fds (/proc/self/fd)", fds_want, fds_now);
	compare_lines("layout (/proc/self/maps)", maps_want, maps_now);
}

long blocked_in(pid_t tid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	return atol(buf);
}

int wait_blocked(pid_t tid, const long *nr, int n)
{
	long deadline = now_ms() + ANSWER_TIMEOUT_MS;

	while (now_ms() < deadline) {
		long s = blocked_in(tid);

		for (int i = 0; i < n; i++)
			if (s == nr[i])
				return 0;
		sched_yield();
	}
	return -1;
}

long futex(volatile uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

const long nr_futex[1] = { SYS_futex };

void on_signal(int sig)
{
	(void)sig;
}

/* ---- the scenarios' table (ZDTM_REGISTER) and the command loop ---------------------- */

extern const struct zdtm_scenario *const __start_zdtm_scenarios[];
extern const struct zdtm_scenario *const __stop_zdtm_scenarios[];

#define for_each_scenario(p) \
	for (const struct zdtm_scenario *const *p = __start_zdtm_scenarios; p < __stop_zdtm_scenarios; p++)

static const struct zdtm_scenario *find_scenario(const char *name)
{
	for_each_scenario(p)
		if (!strcmp((*p)->name, name))
			return *p;
	return NULL;
}

/* The scenarios test_rewind.sh runs with and without a rewind, one a line. */
static int list_scenarios(void)
{
	for_each_scenario(p) {
		/* Two files registering one name: only the first could ever run. */
		if (find_scenario((*p)->name) != *p) {
			say("error scenario '%s' registered twice", (*p)->name);
			return 2;
		}
		if (!(*p)->helper)
			say("%s", (*p)->name);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct zdtm_scenario *s;
	char line[32];

	if (argc == 2 && !strcmp(argv[1], "--list"))
		return list_scenarios();
	s = argc == 2 ? find_scenario(argv[1]) : NULL;
	if (!s) {
		say("error usage: zdtm --list | zdtm SCENARIO (unknown '%s')", argc > 1 ? argv[1] : "");
		return 2;
	}
	if (s->setup)
		s->setup();
	snap_all(maps_want, fds_want, tids_want);
	say("ready %s %d%s%s", s->name, getpid(), ready_info[0] ? " " : "", ready_info);
	for (;;) {
		switch (next_cmd(cmd_fd, line, sizeof(line))) {
		case HS_GO:
			done_msg[0] = '\0';
			s->go();
			if (done_msg[0])
				say("done %s", done_msg);
			else
				say("done");
			break;
		case HS_CHECK:
			failed = 0;
			why[0] = '\0';
			check_common();
			if (!failed && s->check)
				s->check();
			if (failed)
				say("fail %s", why);
			else
				say("pass");
			break;
		case HS_EXIT:
		case HS_EOF:
			return 0;
		default:
			say("error unknown command '%s'", line);
			return 2;
		}
	}
}

pid_t fork_bound(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		close(0);
		close(1);
		close(cmd_fd);
	}
	return pid;
}
