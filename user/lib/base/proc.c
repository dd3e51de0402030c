// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "proc: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "proc.h"

/* maps of a huge process can be tens of MiB; anything past this is runaway. */
#define PROC_READ_MAX	(512UL << 20)
/* A running process can change its layout between read() calls: retry then. */
#define MAPS_TRIES	4

/* A /proc file of a process: a missing file means the process is gone. */
static int read_file(const char *path, char **out, size_t *outlen)
{
	int err = read_whole_file(AT_FDCWD, path, PROC_READ_MAX, out, outlen);

	return err == -ENOENT ? -ESRCH : err;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * An unsigned number at *p (no sign, no leading blanks: strtoull would skip
 * a newline and read the next line). At least one digit; overflow fails.
 */
static int parse_u64(const char **p, const char *end, unsigned int base, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int d;

	if (s == end)
		return -EINVAL;
	while (s < end && (d = hexval(*s)) >= 0 && (unsigned int)d < base) {
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
		s++;
	}
	if (s == *p)
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p == end || **p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

/* One or more blanks between fields. */
static int skip_blanks(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == *p)
		return -EINVAL;
	*p = s;
	return 0;
}

/* "start-end perms offset major:minor inode [name]" for [line, end). */
static int parse_maps_line(const char *line, const char *end, struct rw_vma *v)
{
	const char *p = line;
	uint64_t maj, min;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (parse_u64(&p, end, 16, &v->start) || expect(&p, end, '-') ||
	    parse_u64(&p, end, 16, &v->end) || skip_blanks(&p, end))
		return -EINVAL;
	if (end - p < 4)
		return -EINVAL;
	if ((p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
	    (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's'))
		return -EINVAL;
	v->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
		  (p[2] == 'x' ? PROT_EXEC : 0);
	v->shared = p[3] == 's';
	p += 4;
	if (skip_blanks(&p, end) || parse_u64(&p, end, 16, &v->offset) || skip_blanks(&p, end) ||
	    parse_u64(&p, end, 16, &maj) || expect(&p, end, ':') ||
	    parse_u64(&p, end, 16, &min) || skip_blanks(&p, end) ||
	    parse_u64(&p, end, 10, &v->inode))
		return -EINVAL;
	if (v->start >= v->end || maj > UINT32_MAX || min > UINT32_MAX)
		return -EINVAL;
	v->dev_major = maj;
	v->dev_minor = min;
	if (p == end)
		return 0;		/* anonymous, no trailing blank */
	if (skip_blanks(&p, end))
		return -EINVAL;		/* junk glued to the inode */
	/* The rest is the name, spaces and " (deleted)" included. */
	n = end - p;
	if (n >= sizeof(v->name))
		n = sizeof(v->name) - 1;
	memcpy(v->name, p, n);
	v->name[n] = '\0';
	return 0;
}

int proc_maps_append(struct rw_maps *out, const struct rw_vma *v)
{
	if (out->n && v->start < out->v[out->n - 1].end)
		return -EINVAL;
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 64;
		struct rw_vma *nv = realloc(out->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		out->v = nv;
		out->cap = cap;
	}
	out->v[out->n++] = *v;
	return 0;
}

int proc_parse_maps(const char *text, struct rw_maps *out)
{
	const char *line = text;
	size_t lineno = 0;
	int err;

	out->n = 0;
	while (*line) {
		const char *end = strchrnul(line, '\n');
		struct rw_vma v;

		lineno++;
		if (end == line) {
			line++;
			continue;
		}
		if (parse_maps_line(line, end, &v)) {
			pr_debug("malformed maps line %zu: %.*s\n", lineno, (int)(end - line), line);
			out->n = 0;
			return -EINVAL;
		}
		err = proc_maps_append(out, &v);
		if (err) {
			pr_debug("maps line %zu: %s\n", lineno, strerror(-err));
			out->n = 0;
			return err;
		}
		line = *end ? end + 1 : end;
	}
	return 0;
}

/*
 * /proc/PID/<file> read and parsed; a process that runs can change its
 * layout between the reads that make up one file, which shows as lines out
 * of order: read it again.
 */
static int read_layout(pid_t pid, const char *file, int (*parse)(const char *, struct rw_maps *),
		       struct rw_maps *out)
{
	char path[64], *text;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	for (int i = 0; i < MAPS_TRIES; i++) {
		err = read_file(path, &text, NULL);
		if (err) {
			out->n = 0;
			if (err != -ESRCH)
				pr_err("reading %s: %s\n", path, strerror(-err));
			return err;
		}
		err = parse(text, out);
		free(text);
		if (err != -EINVAL)
			break;
	}
	if (err)
		pr_err("parsing %s: %s\n", path, strerror(-err));
	return err;
}

int proc_read_maps(pid_t pid, struct rw_maps *out)
{
	return read_layout(pid, "maps", proc_parse_maps, out);
}

/* Whether the VmFlags line [p, end) holds the two-letter flag. */
static bool vmflags_has(const char *p, const char *end, const char flag[2])
{
	for (p += strlen("VmFlags:"); p + 2 <= end; p++)
		if (p[-1] == ' ' && p[0] == flag[0] && p[1] == flag[1] &&
		    (p + 2 == end || p[2] == ' '))
			return true;
	return false;
}

int proc_parse_smaps(const char *text, struct rw_maps *out)
{
	const char *line = text;
	int err = 0;

	out->n = 0;
	while (*line && !err) {
		const char *end = strchrnul(line, '\n');
		struct rw_vma v;

		/* A header is a maps line; the fields are "Name: value" (never hex then '-'). */
		if (end > line && !parse_maps_line(line, end, &v)) {
			err = proc_maps_append(out, &v);
		} else if (!strncmp(line, "VmFlags:", 8)) {
			if (!out->n) {
				err = -EINVAL;
			} else {
				struct rw_vma *last = &out->v[out->n - 1];

				last->wipeonfork = vmflags_has(line, end, "wf");
				last->accounted = vmflags_has(line, end, "ac");
				last->noreserve = vmflags_has(line, end, "nr");
				last->dontfork = vmflags_has(line, end, "dc");
			}
		}
		line = *end ? end + 1 : end;
	}
	if (err)
		out->n = 0;
	return err;
}

int proc_read_smaps(pid_t pid, struct rw_maps *out)
{
	return read_layout(pid, "smaps", proc_parse_smaps, out);
}

void proc_maps_free(struct rw_maps *m)
{
	if (!m)
		return;
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

size_t proc_maps_from(const struct rw_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

ssize_t proc_maps_find(const struct rw_maps *m, uint64_t addr)
{
	size_t i = proc_maps_from(m, addr);

	return i < m->n && m->v[i].start <= addr ? (ssize_t)i : -1;
}

int proc_maps_unmerge_heap(const struct rw_maps *want, const struct rw_maps *now, uint64_t base,
			   struct rw_maps *out)
{
	ssize_t b = base ? proc_maps_find(want, base - 1) : -1;
	const struct rw_vma *below = b >= 0 ? &want->v[b] : NULL;
	ssize_t i;
	size_t n = 0;

	if (!below || below->end != base || below->shared || below->inode || below->name[0])
		return 0;
	i = proc_maps_find(now, base);
	if (i < 0 || strcmp(now->v[i].name, "[heap]") || now->v[i].start >= base ||
	    now->v[i].start < below->start || now->v[i].prot != below->prot)
		return 0;
	out->v = calloc(now->n + 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t k = 0; k < now->n; k++) {
		out->v[n] = now->v[k];
		if ((ssize_t)k == i) {
			out->v[n].end = base;
			out->v[n].name[0] = '\0';
			out->v[++n] = now->v[k];
			out->v[n].start = base;
		}
		n++;
	}
	out->n = out->cap = n;
	return 1;
}

bool rw_vma_private_writable(const struct rw_vma *v)
{
	return (v->prot & PROT_WRITE) && !v->shared;
}

enum {
	ST_NAME = 1 << 0,
	ST_STATE = 1 << 1,
	ST_TGID = 1 << 2,
	ST_PPID = 1 << 3,
	ST_UID = 1 << 4,
	ST_GID = 1 << 5,
	ST_THREADS = 1 << 6,
	ST_ALL = (1 << 7) - 1,
};

/* n blank-separated decimal numbers that each fit in 32 bits, then the end of the line. */
static int parse_u32s(const char *p, const char *end, uint32_t *out, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t v;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (parse_u64(&p, end, 10, &v) || v > UINT32_MAX)
			return -EINVAL;
		out[i] = v;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p == end ? 0 : -EINVAL;
}

/* A whole field of base digits up to the end of the line (trailing blanks allowed). */
static int parse_u64_base(const char *val, const char *end, int base, uint64_t *out)
{
	char *stop;

	errno = 0;
	*out = strtoull(val, &stop, base);
	if (errno || stop == val || stop > end || *val == '-')
		return -EINVAL;
	while (stop < end && (*stop == ' ' || *stop == '\t'))
		stop++;
	return stop == end ? 0 : -EINVAL;
}

static int parse_hex64(const char *val, const char *end, uint64_t *out)
{
	return parse_u64_base(val, end, 16, out);
}

int proc_parse_status(const char *text, struct rw_proc_status *out)
{
	const char *line = text;
	int seen = 0;

	memset(out, 0, sizeof(*out));
	out->seccomp = -1;
	out->umask = -1;
	while (*line) {
		const char *end = strchrnul(line, '\n');
		const char *colon = memchr(line, ':', end - line);
		const char *val;
		size_t klen;
		uint32_t u[4];
		int err = 0;

		if (!colon)
			goto next;
		klen = colon - line;
		val = colon + 1;
		while (val < end && (*val == ' ' || *val == '\t'))
			val++;
#define KEY(k) (klen == sizeof(k) - 1 && !memcmp(line, k, klen))
		if (KEY("Name")) {
			/* Names may hold spaces: take the rest of the line. */
			size_t n = end - (colon + 1);

			val = colon + 1;
			if (n && *val == '\t') {
				val++;
				n--;
			}
			if (n >= sizeof(out->name))
				n = sizeof(out->name) - 1;
			memcpy(out->name, val, n);
			out->name[n] = '\0';
			seen |= ST_NAME;
		} else if (KEY("State")) {
			if (val == end)
				err = -EINVAL;
			out->state = *val;
			seen |= ST_STATE;
		} else if (KEY("Tgid")) {
			err = parse_u32s(val, end, u, 1);
			out->tgid = u[0];
			seen |= ST_TGID;
		} else if (KEY("PPid")) {
			err = parse_u32s(val, end, u, 1);
			out->ppid = u[0];
			seen |= ST_PPID;
		} else if (KEY("Uid")) {
			err = parse_u32s(val, end, u, 4);
			for (int i = 0; i < 4; i++)
				out->uid[i] = u[i];
			seen |= ST_UID;
		} else if (KEY("Gid")) {
			err = parse_u32s(val, end, u, 4);
			for (int i = 0; i < 4; i++)
				out->gid[i] = u[i];
			seen |= ST_GID;
		} else if (KEY("CapPrm")) {
			err = parse_hex64(val, end, &out->cap_prm);
		} else if (KEY("CapEff")) {
			err = parse_hex64(val, end, &out->cap_eff);
		} else if (KEY("SigIgn")) {
			err = parse_hex64(val, end, &out->sig_ignored);
		} else if (KEY("ShdPnd")) {
			err = parse_hex64(val, end, &out->sig_pending_shared);
		} else if (KEY("SigCgt")) {
			err = parse_hex64(val, end, &out->sig_caught);
		} else if (KEY("Umask")) {
			uint64_t m;

			err = parse_u64_base(val, end, 8, &m);
			if (!err && m > 0777)
				err = -EINVAL;
			out->umask = m;
		} else if (KEY("Seccomp")) {
			err = parse_u32s(val, end, u, 1);
			out->seccomp = u[0];
		} else if (KEY("Seccomp_filters")) {
			err = parse_u32s(val, end, u, 1);
			out->seccomp_filters = u[0];
		} else if (KEY("NoNewPrivs")) {
			err = parse_u32s(val, end, u, 1);
			out->no_new_privs = u[0] != 0;
		} else if (KEY("Threads")) {
			err = parse_u32s(val, end, u, 1);
			out->threads = u[0];
			seen |= ST_THREADS;
		} else if (KEY("NSpid")) {
			/* One pid per nesting level, outermost first: the last is its own. */
			const char *last = end;

			while (last > val && (last[-1] == ' ' || last[-1] == '\t'))
				last--;
			while (last > val && last[-1] != ' ' && last[-1] != '\t')
				last--;
			err = parse_u32s(last, end, u, 1);
			out->ns_pid = u[0];
		}
#undef KEY
		if (err) {
			pr_debug("malformed status line: %.*s\n", (int)(end - line), line);
			return -EINVAL;
		}
next:
		line = *end ? end + 1 : end;
	}
	return seen == ST_ALL ? 0 : -EINVAL;
}

int proc_read_status(pid_t pid, struct rw_proc_status *out)
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	err = read_file(path, &text, NULL);
	if (err) {
		if (err != -ESRCH)
			pr_err("reading %s: %s\n", path, strerror(-err));
		return err;
	}
	err = proc_parse_status(text, out);
	if (err)
		pr_err("parsing %s: %s\n", path, strerror(-err));
	free(text);
	return err;
}

pid_t proc_ns_pid(pid_t pid)
{
	struct rw_proc_status st;
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	err = read_file(path, &text, NULL);
	if (err)
		return err;
	err = proc_parse_status(text, &st);
	free(text);
	if (err)
		return err;
	return st.ns_pid ? st.ns_pid : pid;
}

int proc_parse_stat_start(const char *text, uint64_t *ticks)
{
	/* The name, field 2, may hold spaces and parentheses: count from its last ')'. */
	const char *p = strrchr(text, ')');
	char *end;

	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3;; field++) {	/* p: just past field field - 1 */
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		if (field == 22)
			break;
		p += strcspn(p, " ");
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*ticks = strtoull(p, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end))
		return -EINVAL;
	return 0;
}

int proc_start_time(pid_t pid, uint64_t *ticks)
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	err = read_file(path, &text, NULL);
	if (err)
		return err;
	err = proc_parse_stat_start(text, ticks);
	free(text);
	return err;
}

uint64_t proc_boot_ticks(void)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * hz + (uint64_t)ts.tv_nsec / (1000000000 / hz);
}

const char *proc_pid_label(pid_t pid, char *buf, size_t len)
{
	pid_t ns = pid > 0 ? proc_ns_pid(pid) : pid;

	if (ns > 0 && ns != pid)
		snprintf(buf, len, "%d (pid %d in its namespace)", pid, ns);
	else
		snprintf(buf, len, "%d", pid);
	return buf;
}

int proc_parse_pidfd_fdinfo(const char *text, pid_t *pid)
{
	const char *line = text;

	while (*line) {
		const char *end = strchrnul(line, '\n');

		if (end - line > 4 && !memcmp(line, "Pid:", 4)) {
			const char *v = line + 4;
			char *stop;
			long n;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			errno = 0;
			n = strtol(v, &stop, 10);
			if (errno || stop == v || stop > end || n < -1 || n > INT32_MAX)
				return -EINVAL;
			*pid = n;
			return 0;
		}
		line = *end ? end + 1 : end;
	}
	return -EBADF;
}

int proc_pidfd_pid(int pidfd, pid_t *pid)
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	err = read_whole_file(AT_FDCWD, path, PROC_READ_MAX, &text, NULL);
	if (err)
		return err == -ENOENT ? -EBADF : err;
	err = proc_parse_pidfd_fdinfo(text, pid);
	free(text);
	return err;
}

int proc_read_cgroups(pid_t pid, char **out)
{
	char path[64];
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	err = read_file(path, out, &len);
	if (err && err != -ESRCH)
		pr_err("reading %s: %s\n", path, strerror(-err));
	return err;
}

const char *proc_cgroups_differ(const char *a, const char *b, char *buf, size_t len)
{
	const char *pa = a, *pb = b;

	buf[0] = '\0';
	while (*pa || *pb) {
		size_t la = strcspn(pa, "\n"), lb = strcspn(pb, "\n");

		if (la != lb || memcmp(pa, pb, la)) {
			snprintf(buf, len, "%.*s, was %.*s", (int)lb, pb, (int)la, pa);
			if (!lb)
				snprintf(buf, len, "%.*s gone", (int)la, pa);
			return buf;
		}
		pa += la + (pa[la] == '\n');
		pb += lb + (pb[lb] == '\n');
	}
	return buf;
}

int proc_read_comm(pid_t pid, pid_t tid, char comm[16])
{
	char path[64], text[64];
	ssize_t len;
	int fd, err;

	if (tid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	/* One read: the kernel hands the whole name (16 bytes at most with its newline) at once. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, text, sizeof(text));
	err = len < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (err == -ENOENT)
		err = -ESRCH;
	if (err) {
		if (err != -ESRCH)
			pr_err("reading %s: %s\n", path, strerror(-err));
		return err;
	}
	if (len && text[len - 1] == '\n')
		len--;
	if (len > 15)
		len = 15;
	memcpy(comm, text, len);
	comm[len] = '\0';
	return 0;
}

/* For qsort of ints: fds, timer ids, thread ids (pid_t is an int). */
static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int proc_pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int proc_list_threads(pid_t pid, pid_t **tids, size_t *n)
{
	pid_t *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	char path[64];
	int err = 0;
	DIR *d;

	*tids = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d) {
		err = errno == ENOENT ? -ESRCH : -errno;
		if (err != -ESRCH)
			pr_perror("opendir %s", path);
		return err;
	}
	for (;;) {
		const char *s;
		uint64_t tid;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				err = errno == ENOENT ? -ESRCH : -errno;
				pr_perror("readdir %s", path);
			}
			break;
		}
		s = de->d_name;
		if (parse_u64(&s, s + strlen(s), 10, &tid) || *s || !tid || tid > INT32_MAX)
			continue;	/* "." and ".." */
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[cnt++] = tid;
	}
	closedir(d);
	if (err) {
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_int);
	*tids = v;
	*n = cnt;
	return 0;
}

/* The numeric entries of a /proc directory (fds, tasks), ascending. */
static int list_numeric_dir(const char *path, int **out, size_t *n)
{
	struct dirent *de;
	size_t cap = 0;
	int *arr = NULL;
	DIR *d;

	*out = NULL;
	*n = 0;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	/* A readdir error is not the end of the list: a truncated fd list would drop fds. */
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (*n == cap) {
			int *more = realloc(arr, (cap = cap ? 2 * cap : 64) * sizeof(*arr));

			if (!more) {
				free(arr);
				closedir(d);
				return -ENOMEM;
			}
			arr = more;
		}
		arr[(*n)++] = atoi(de->d_name);
	}
	if (errno) {
		int err = errno == ENOENT ? -ESRCH : -errno;

		free(arr);
		closedir(d);
		*n = 0;
		return err;
	}
	closedir(d);
	/* Empty for a process that is exiting: qsort must not get arr == NULL. */
	if (*n > 1)
		qsort(arr, *n, sizeof(*arr), cmp_int);
	*out = arr;
	return 0;
}

int proc_list_fds(pid_t pid, int **fds, size_t *n)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	return list_numeric_dir(path, fds, n);
}

int proc_list_pids(pid_t **pids, size_t *n)
{
	return list_numeric_dir("/proc", pids, n);
}

int proc_list_tids(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	return list_numeric_dir(path, tids, n);
}

int pid_list_add(pid_t **arr, size_t *n, pid_t pid)
{
	pid_t *more;

	for (size_t i = 0; i < *n; i++)
		if ((*arr)[i] == pid)
			return 0;
	more = realloc(*arr, (*n + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	*arr = more;
	(*arr)[(*n)++] = pid;
	return 1;
}

int proc_stat_link(pid_t pid, const char *name, struct stat *st)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return stat(path, st) ? -errno : 0;
}

int proc_read_fdinfo(pid_t pid, int fd, bool *cloexec, int64_t *pos, int *flags)
{
	char path[64], *text, *p;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	err = read_whole_file(AT_FDCWD, path, 1 << 20, &text, &len);
	if (err)
		return err;
	p = strstr(text, "pos:");
	*pos = p ? strtoll(p + 4, NULL, 10) : -1;
	p = strstr(text, "flags:");
	if (!p) {
		free(text);
		return -EINVAL;
	}
	*flags = strtol(p + 6, NULL, 8);
	*cloexec = *flags & O_CLOEXEC;
	*flags &= ~O_CLOEXEC;
	free(text);
	return 0;
}

int proc_parse_posix_timers(const char *text, int **ids, size_t *n)
{
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	/* One "ID: <id>" line per timer, at the start of its block. */
	for (const char *p = text; (p = strstr(p, "ID: ")); p += 4) {
		long id;
		char *end;

		if (p != text && p[-1] != '\n')
			continue;
		id = strtol(p + 4, &end, 10);
		if (end == p + 4 || id < 0 || id > INT_MAX) {
			free(*ids);
			*ids = NULL;
			*n = 0;
			return -EINVAL;
		}
		if (*n == cap) {
			int *more = realloc(*ids, (cap = cap ? 2 * cap : 8) * sizeof(int));

			if (!more) {
				free(*ids);
				*ids = NULL;
				*n = 0;
				return -ENOMEM;
			}
			*ids = more;
		}
		(*ids)[(*n)++] = (int)id;
	}
	if (*n > 1)
		qsort(*ids, *n, sizeof(int), cmp_int);
	return 0;
}

int proc_list_posix_timers(pid_t pid, int **ids, size_t *n)
{
	char path[64], *text;
	size_t len;
	int err;

	*ids = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	err = read_whole_file(AT_FDCWD, path, 16 << 20, &text, &len);
	if (err == -ENOENT) {
		/* No such process, or a kernel without CONFIG_CHECKPOINT_RESTORE. */
		snprintf(path, sizeof(path), "/proc/%d", pid);
		err = access(path, F_OK) ? -ESRCH : -EOPNOTSUPP;
	}
	if (err) {
		if (err != -ESRCH)
			pr_err("pid %d: reading /proc/%d/timers: %s\n", pid, pid, strerror(-err));
		return err;
	}
	err = proc_parse_posix_timers(text, ids, n);
	free(text);
	if (err)
		pr_err("pid %d: /proc/%d/timers: %s\n", pid, pid, err == -EINVAL ?
		       "an ID line without a timer id" : strerror(-err));
	return err;
}

int proc_parse_mountinfo_line(const char *line, uint64_t *dev, char *mnt, size_t len)
{
	unsigned maj, min;
	int at = 0, end = 0;
	char *o;

	/* id parent maj:min root mountpoint ...: the fifth field, escaped as the kernel does. */
	if (sscanf(line, "%*u %*u %u:%u %*s %n%*s%n", &maj, &min, &at, &end) != 2 || !end ||
	    (size_t)(end - at) >= len)
		return -EINVAL;
	o = mnt;
	for (const char *p = line + at; p < line + end; p++, o++) {
		if (p[0] == '\\' && end - (p - line) >= 4 && p[1] >= '0' && p[1] <= '3' &&
		    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			*o = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o = *p;
		}
	}
	*o = '\0';
	*dev = makedev(maj, min);
	return mnt[0] == '/' ? 0 : -EINVAL;
}

int proc_children_of(pid_t pid, pid_t **out, size_t *n)
{
	pid_t *tids = NULL, *all = NULL;
	size_t ntids = 0, cap = 0;
	int err;

	*out = NULL;
	*n = 0;
	err = proc_list_threads(pid, &tids, &ntids);
	if (err)
		return err;
	for (size_t i = 0; i < ntids; i++) {
		char path[96], *text, *p, *end;
		size_t len;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tids[i]);
		err = read_whole_file(AT_FDCWD, path, 1 << 20, &text, &len);
		if (err == -ENOENT || err == -ESRCH)
			continue;	/* the thread exited meanwhile */
		if (err) {
			/* Any other failure: a list without this thread's children would hide them. */
			free(all);
			free(tids);
			*n = 0;
			return err;
		}
		for (p = text;; p = end) {
			long c = strtol(p, &end, 10);

			if (end == p)
				break;
			if (*n == cap) {
				pid_t *more = realloc(all, (cap = cap ? 2 * cap : 16) * sizeof(*all));

				if (!more) {
					free(text);
					free(all);
					free(tids);
					return -ENOMEM;
				}
				all = more;
			}
			all[(*n)++] = c;
		}
		free(text);
	}
	free(tids);
	*out = all;
	return 0;
}

int proc_list_descendants(pid_t pid, pid_t **out, size_t *n)
{
	pid_t *all = NULL, *kids;
	size_t nk;
	int err;

	*n = 0;
	err = pid_list_add(&all, n, pid);

	for (size_t i = 0; i < *n && err >= 0; i++) {
		int e = proc_children_of(all[i], &kids, &nk);

		if (e == -ESRCH)
			continue;	/* gone meanwhile: so are its children, or they were reparented */
		if (e) {
			err = e;	/* a child not listed would be left out of the checkpoint */
			break;
		}
		for (size_t k = 0; k < nk && err >= 0; k++) {
			struct rw_proc_status st;
			int se = proc_read_status(kids[k], &st);

			/* A zombie is its parent's state (verify compares children), not a process to stop. */
			if (se == -ESRCH || (!se && (st.state == 'Z' || st.state == 'X')))
				continue;
			err = se ? se : pid_list_add(&all, n, kids[k]);
		}
		free(kids);
	}
	if (err < 0) {
		free(all);
		*n = 0;
		return err;
	}
	memmove(all, all + 1, --*n * sizeof(*all));	/* not pid itself */
	*out = all;
	return 0;
}
