// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "proc: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

/* Read a whole /proc file (their sizes are not known in advance). */
static int read_file(const char *path, char **out)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return errno == ENOENT ? -ESRCH : -errno;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno == ESRCH ? -ESRCH : -errno;
			break;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* line is one NUL-terminated line: sscanf's " " would otherwise run into the next. */
static int parse_maps_line(const char *line, struct rw_vma *v)
{
	char perms[5];
	int name_at = 0;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n", &v->start,
		   &v->end, perms, &v->offset, &v->dev_major, &v->dev_minor, &v->inode,
		   &name_at) < 7 || v->end <= v->start || strlen(perms) != 4)
		return -EINVAL;
	/* %n is not set when the line ends right after the inode (anonymous mapping). */
	if (name_at > 0) {
		const char *name = line + name_at;
		size_t n = strcspn(name, "\n");

		if (n >= sizeof(v->name))
			n = sizeof(v->name) - 1;
		memcpy(v->name, name, n);
		v->name[n] = '\0';
	}
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = perms[3] == 's';
	return 0;
}

int proc_parse_maps(const char *text, struct rw_maps *out)
{
	const char *line = text;

	out->n = 0;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char one[PATH_MAX + 128];
		struct rw_vma v;

		if (len >= sizeof(one))
			return -EINVAL;
		memcpy(one, line, len);
		one[len] = '\0';
		if (parse_maps_line(one, &v))
			return -EINVAL;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 64;
			struct rw_vma *nv = realloc(out->v, cap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			out->v = nv;
			out->cap = cap;
		}
		out->v[out->n++] = v;
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

int proc_read_maps(pid_t pid, struct rw_maps *out)
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	err = read_file(path, &text);
	if (err)
		return err;
	err = proc_parse_maps(text, out);
	free(text);
	return err;
}

void proc_maps_free(struct rw_maps *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

ssize_t proc_maps_find(const struct rw_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < m->v[mid].start)
			hi = mid;
		else if (addr >= m->v[mid].end)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

bool rw_vma_private_writable(const struct rw_vma *v)
{
	return (v->prot & PROT_WRITE) && !v->shared;
}

int proc_parse_status(const char *text, struct rw_proc_status *out)
{
	const char *line = text;
	int seen = 0;

	memset(out, 0, sizeof(*out));
	while (line && *line) {
		if (!strncmp(line, "Name:\t", 6)) {
			size_t n = strcspn(line + 6, "\n");

			if (n >= sizeof(out->name))
				n = sizeof(out->name) - 1;
			memcpy(out->name, line + 6, n);
			seen |= 1;
		} else if (sscanf(line, "State: %c", &out->state) == 1) {
			seen |= 2;
		} else if (sscanf(line, "Tgid: %d", &out->tgid) == 1) {
			seen |= 4;
		} else if (sscanf(line, "PPid: %d", &out->ppid) == 1) {
			seen |= 8;
		} else if (sscanf(line, "Uid: %u %u %u %u", &out->uid[0], &out->uid[1], &out->uid[2],
				  &out->uid[3]) == 4) {
			seen |= 16;
		} else if (sscanf(line, "Gid: %u %u %u %u", &out->gid[0], &out->gid[1], &out->gid[2],
				  &out->gid[3]) == 4) {
			seen |= 32;
		} else if (sscanf(line, "Threads: %d", &out->threads) == 1) {
			seen |= 64;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	/* Threads is absent for zombies; everything else must be there. */
	return (seen & 63) == 63 ? 0 : -EINVAL;
}

int proc_read_status(pid_t pid, struct rw_proc_status *out)
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	err = read_file(path, &text);
	if (err)
		return err;
	err = proc_parse_status(text, out);
	free(text);
	return err;
}

int proc_read_comm(pid_t pid, pid_t tid, char comm[16])
{
	char path[64], *text;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	err = read_file(path, &text);
	if (err)
		return err;
	text[strcspn(text, "\n")] = '\0';
	snprintf(comm, 16, "%s", text);
	free(text);
	return 0;
}

int proc_list_threads(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	*tids = NULL;
	*n = 0;
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		if (*n == cap) {
			pid_t *nt = realloc(*tids, (cap = cap ? cap * 2 : 16) * sizeof(*nt));

			if (!nt) {
				closedir(d);
				free(*tids);
				*tids = NULL;
				return -ENOMEM;
			}
			*tids = nt;
		}
		(*tids)[(*n)++] = tid;
	}
	closedir(d);
	return 0;
}
