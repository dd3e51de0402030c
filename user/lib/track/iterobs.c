// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "iterobs: "
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "fileio.h"
#include "iterobs.h"
#include "log.h"

/* A process with 1M fds reads 64 MiB of records: more is no process of ours. */
#define ITER_MAX_BYTES	(256u << 20)

struct iter_buf {
	char *p;
	size_t cap;
};

struct rw_iterobs {
	pid_t tgid;
	int link[RW_ITER_KINDS];	/* by enum rw_iter_kind */
	struct iter_buf buf[RW_ITER_KINDS];
};

static int attach(const struct rw_tracker *t, enum rw_iter_kind kind, pid_t tgid)
{
	union bpf_iter_link_info info;
	LIBBPF_OPTS(bpf_link_create_opts, o, .iter_info = &info, .iter_info_len = sizeof(info));
	int prog = tracker_iter_prog_fd(t, kind), fd;

	if (prog < 0)
		return -ENOENT;
	memset(&info, 0, sizeof(info));
	info.task.pid = tgid;
	fd = bpf_link_create(prog, 0, BPF_TRACE_ITER, &o);
	return fd < 0 ? -errno : fd;
}

int iterobs_open(const struct rw_tracker *t, pid_t tgid, struct rw_iterobs **out)
{
	struct rw_iterobs *it = calloc(1, sizeof(*it));
	int err;

	*out = NULL;
	if (!it)
		return -ENOMEM;
	it->tgid = tgid;
	for (int k = 0; k < RW_ITER_KINDS; k++)
		it->link[k] = -1;
	for (int k = 0; k < RW_ITER_KINDS; k++) {
		static const char *const names[] = { "fd", "task", "sleep" };

		it->link[k] = attach(t, k, tgid);
		if (it->link[k] < 0) {
			err = it->link[k];
			pr_debug("pid %d: cannot attach the %s iterator: %s\n", tgid, names[k],
				 strerror(-err));
			iterobs_close(it);
			return err;
		}
	}
	*out = it;
	return 0;
}

void iterobs_close(struct rw_iterobs *it)
{
	if (!it)
		return;
	for (int k = 0; k < RW_ITER_KINDS; k++) {
		if (it->link[k] >= 0)
			close(it->link[k]);
		free(it->buf[k].p);
	}
	free(it);
}

pid_t iterobs_tgid(const struct rw_iterobs *it)
{
	return it->tgid;
}

/* Every record of one pass, into it->buf[k]; *len bytes. */
static int read_pass(struct rw_iterobs *it, int k, size_t rec, size_t *len)
{
	struct iter_buf *b = &it->buf[k];
	int fd = bpf_iter_create(it->link[k]);
	int err;

	if (fd < 0)
		return -errno;
	err = read_fd_all(fd, &b->p, &b->cap, len, ITER_MAX_BYTES);
	close(fd);
	if (!err && *len % rec) {
		pr_err("pid %d: %zu bytes of iterator records of %zu bytes each\n", it->tgid, *len,
		       rec);
		err = -EPROTO;
	}
	return err;
}

int iterobs_read_fds(struct rw_iterobs *it, const struct rw_iter_fd **out, size_t *n)
{
	size_t len;
	int err = read_pass(it, RW_ITER_FDS, sizeof(**out), &len);

	*out = (const struct rw_iter_fd *)it->buf[RW_ITER_FDS].p;
	*n = err ? 0 : len / sizeof(**out);
	return err;
}

int iterobs_read_tasks(struct rw_iterobs *it, const struct rw_iter_task **out, size_t *n)
{
	size_t len;
	int err = read_pass(it, RW_ITER_TASKS, sizeof(**out), &len);

	*out = (const struct rw_iter_task *)it->buf[RW_ITER_TASKS].p;
	*n = err ? 0 : len / sizeof(**out);
	return err;
}

int iterobs_read_sleep(struct rw_iterobs *it, const struct rw_iter_sleep **out, size_t *n)
{
	size_t len;
	int err = read_pass(it, RW_ITER_SLEEP, sizeof(**out), &len);

	*out = (const struct rw_iter_sleep *)it->buf[RW_ITER_SLEEP].p;
	*n = err ? 0 : len / sizeof(**out);
	return err;
}
