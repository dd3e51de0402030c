// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "freeze: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "freeze.h"
#include "log.h"
#include "proc.h"

/* A process cannot have more threads than this many rounds of cloning while we seize. */
#define MAX_ROUNDS	64

#define RW_PF_IO_WORKER	0x10	/* include/linux/sched.h */

/*
 * An io_uring worker (iou-wrk-*) is a thread of the process that runs only
 * in the kernel: it has no user state to rewind, and on older kernels it
 * never takes a ptrace stop (Linux 6.18 stops it). Its flags are field 9 of
 * /proc/TGID/task/TID/stat.
 */
static bool is_io_worker(pid_t tgid, pid_t tid)
{
	char path[64], buf[512], *p;
	unsigned long flags;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tgid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;	/* gone: seizing it says so */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* After the name: state ppid pgrp session tty_nr tpgid, then flags. */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & RW_PF_IO_WORKER;
}

static int cmp_tid(const void *a, const void *b)
{
	pid_t x = ((const struct rw_seized *)a)->tid, y = ((const struct rw_seized *)b)->tid;

	return (x > y) - (x < y);
}

struct rw_seized *freeze_thread(struct rw_frozen *f, pid_t tid)
{
	struct rw_seized key = { .tid = tid };

	if (!f->n)
		return NULL;
	return bsearch(&key, f->threads, f->n, sizeof(key), cmp_tid);
}

struct rw_seized *freeze_any(struct rw_frozen *f)
{
	struct rw_seized *ij = freeze_thread(f, f->tgid);

	if (ij && ij->seized)
		return ij;
	for (size_t i = 0; i < f->n; i++)
		if (f->threads[i].seized)
			return &f->threads[i];
	return NULL;
}

int freeze_adopt(struct rw_frozen *f, const struct rw_seized *ij)
{
	struct rw_seized *more = realloc(f->threads, (f->n + 1) * sizeof(*more));
	size_t i = 0;

	if (!more)
		return -ENOMEM;
	f->threads = more;
	while (i < f->n && f->threads[i].tid < ij->tid)
		i++;
	memmove(&f->threads[i + 1], &f->threads[i], (f->n - i) * sizeof(*more));
	f->threads[i] = *ij;
	f->n++;
	return 0;
}

void freeze_forget(struct rw_frozen *f, pid_t tid)
{
	struct rw_seized *ij = freeze_thread(f, tid);
	size_t i;

	if (!ij)
		return;
	inject_release(ij);
	i = ij - f->threads;
	memmove(ij, ij + 1, (f->n - i - 1) * sizeof(*ij));
	f->n--;
}

int freeze_reap_strays(struct rw_frozen *f)
{
	pid_t *tids;
	size_t n;
	int reaped = 0;

	if (proc_list_tids(f->tgid, &tids, &n))
		return 0;
	/* Not the leader: its zombie waits for these (freeze_release reaps it last). */
	for (size_t i = 0; i < n; i++)
		if (tids[i] != f->tgid && !freeze_thread(f, tids[i]) && inject_reap_dead(tids[i])) {
			pr_debug("pid %d: reaped thread %d, traced by us but not held\n", f->tgid,
				 tids[i]);
			reaped++;
		}
	free(tids);
	return reaped;
}

/* Threads seized at once up to which each is moved to our CPU to stop (seize_new). */
#define NEAR_MAX_THREADS	16

/*
 * Seize the threads of tids not held yet: interrupt them all, then wait for
 * each, so their stops overlap (a thread busy in the kernel, say unmapping
 * a heap, stops only when it returns). Returns how many were new, or -errno.
 */
static int seize_new(struct rw_frozen *f, const pid_t *tids, size_t n, bool check_io, int cpu)
{
	struct rw_seized *arr;
	size_t first = f->n, started;
	int added = 0, err = 0;

	arr = realloc(f->threads, (f->n + n) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	f->threads = arr;
	for (size_t i = 0; i < n; i++) {
		struct rw_seized key = { .tid = tids[i] };
		int e;

		/* Held from an earlier round: those are the sorted first ones. */
		if (bsearch(&key, f->threads, first, sizeof(key), cmp_tid))
			continue;
		/* Left asleep on purpose: freeze_hold() is the way to seize those. */
		if (freeze_is_asleep(f, tids[i]))
			continue;
		if (check_io && is_io_worker(f->tgid, tids[i])) {
			pr_err("pid %d: thread %d is an io_uring worker (iou-wrk), which cannot be "
			       "rewound\n", f->tgid, tids[i]);
			err = -EDEADLK;
			break;
		}
		/*
		 * A thread woken by the interrupt may queue behind whatever runs
		 * on its CPU (measured: ~0.3 ms behind a busy client on 2 vCPUs);
		 * on ours it runs as soon as we wait. Moving one costs three
		 * syscalls (~4 us): every thread of a short list (a rewind seizes
		 * only those that ran: Node's stop 130-410 -> 70-140 us), the
		 * leader only of a long one (a checkpoint of a process of many).
		 */
		e = inject_seize_start_near(&f->threads[f->n], tids[i],
					    tids[i] == f->tgid || n <= NEAR_MAX_THREADS ? cpu : -1);
		if (e == -ESRCH)
			continue;	/* exited meanwhile: not a thread any more */
		if (e) {
			pr_err("pid %d: cannot stop thread %d: %s\n", f->tgid, tids[i], strerror(-e));
			err = e;
			break;
		}
		f->n++;
	}
	started = f->n;
	/* Wait for every one started, even after an error: only a stopped tracee can be let go. */
	f->n = first;
	for (size_t i = first; i < started; i++) {
		struct rw_seized ij = f->threads[i];
		int e = inject_seize_finish(&ij);

		if (!e) {
			f->threads[f->n++] = ij;	/* f->n <= i: compaction in place */
			added++;
			continue;
		}
		/*
		 * Died traced: reaped here, but a leader only by freeze_release,
		 * after the other threads (it is reported once they are gone).
		 */
		if (ij.reap && ij.tid == f->tgid)
			f->threads[f->n++] = ij;
		else
			inject_release(&ij);
		/* Unchecked, a worker that takes no stop (older kernels) times out: say what it is. */
		if (e == -ETIMEDOUT && is_io_worker(f->tgid, ij.tid))
			e = -EDEADLK;
		if (e != -ESRCH) {
			pr_err("pid %d: cannot stop thread %d: %s\n", f->tgid, ij.tid, strerror(-e));
			if (!err)
				err = e;
		}
	}
	if (f->n > 1)
		qsort(f->threads, f->n, sizeof(*arr), cmp_tid);
	return err ? err : added;
}

/*
 * List the threads and seize those not held yet, until a listing finds none
 * new (a stopped thread cannot clone). Returns how many were added, or
 * -errno; -EAGAIN if the process still grew after MAX_ROUNDS.
 */
static int seize_listed(struct rw_frozen *f, bool check_io, int cpu)
{
	int added = 0;

	for (int round = 0; round < MAX_ROUNDS; round++) {
		pid_t *tids;
		size_t n;
		int err = proc_list_threads(f->tgid, &tids, &n);

		if (err)
			return err;
		err = seize_new(f, tids, n, check_io, cpu);
		free(tids);
		if (err <= 0)
			return err ? err : added;
		added += err;
	}
	return -EAGAIN;
}

/* After seizing: on failure (or with no live thread) nothing stays held. */
static int frozen_or_released(struct rw_frozen *f, int err)
{
	if (!err && !freeze_any(f))
		err = -ESRCH;
	if (err)
		freeze_release(f);
	return err;
}

static int freeze(struct rw_frozen *f, pid_t tgid, bool check_io)
{
	/* Where threads are moved to stop (not pinned: we block on this CPU at once). */
	int err;

	memset(f, 0, sizeof(*f));
	f->tgid = tgid;
	err = seize_listed(f, check_io, sched_getcpu());
	return frozen_or_released(f, err < 0 ? err : 0);
}

int freeze_process(struct rw_frozen *f, pid_t tgid)
{
	return freeze(f, tgid, true);
}

int freeze_process_unchecked(struct rw_frozen *f, pid_t tgid)
{
	return freeze(f, tgid, false);
}

int freeze_threads(struct rw_frozen *f, pid_t tgid, const pid_t *tids, size_t n)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->tgid = tgid;
	err = seize_new(f, tids, n, false, sched_getcpu());
	if (err < 0)
		return frozen_or_released(f, err);
	return (size_t)err == n ? 0 : 1;	/* 1: one was gone, the caller lists */
}

int freeze_more(struct rw_frozen *f)
{
	int added = seize_listed(f, false, sched_getcpu());

	/* Nothing held (the process is gone): nothing for the caller to release, so no memory either. */
	if (!f->n)
		freeze_release(f);
	/* What is held stays held: the caller kills, then releases (fail closed). */
	if (added < 0)
		return added;
	return freeze_any(f) ? added : -ESRCH;
}

int freeze_hold(struct rw_frozen *f)
{
	pid_t *tids = f->asleep;
	size_t want = f->nasleep;
	int added;

	if (!want)
		return 0;
	f->asleep = NULL;
	f->nasleep = 0;
	added = seize_new(f, tids, want, false, -1);
	free(tids);
	if (added < 0)
		return added;
	return (size_t)added == want ? 0 : 1;
}

bool freeze_is_asleep(const struct rw_frozen *f, pid_t tid)
{
	for (size_t i = 0; i < f->nasleep; i++)
		if (f->asleep[i] == tid)
			return true;
	return false;
}

pid_t freeze_io_worker(const struct rw_frozen *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->threads[i].seized && is_io_worker(f->tgid, f->threads[i].tid))
			return f->threads[i].tid;
	return 0;
}

int freeze_release(struct rw_frozen *f)
{
	int first = 0;

	/*
	 * The leader last: if the process died, its exit is reported only once
	 * the other threads are reaped, and we, their tracer, reap them here.
	 */
	for (int leader = 0; leader < 2; leader++)
		for (size_t i = 0; i < f->n; i++) {
			int err;

			if ((f->threads[i].tid == f->tgid) != leader)
				continue;
			err = inject_release(&f->threads[i]);
			if (err && !first)
				first = err;
		}
	free(f->threads);
	f->threads = NULL;
	f->n = 0;
	free(f->asleep);
	f->asleep = NULL;
	f->nasleep = 0;
	return first;
}
