// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "pagepack: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "pagemap.h"
#include "pagepack.h"

#include <lz4.h>
#include <lz4hc.h>

#define PAGE		RW_PAGE_SIZE
/*
 * LZ4's high-compression level: on a warm function's pages (measured: Python
 * html, jsontx, graph, Node html) 3.0-3.7x at 40-110 us a page packed, and
 * 1.3-1.6 us unpacked. zstd level 1 packs 20 % smaller but unpacks at ~7 us,
 * and a checkpoint that shares pages compares them with packed ones.
 */
#define PACK_LEVEL	9

struct rw_pack_ctx {
	void *state;		/* LZ4_sizeofStateHC() bytes */
};

struct rw_pack_ctx *pagepack_ctx(void)
{
	struct rw_pack_ctx *c = calloc(1, sizeof(*c));
	uint8_t page[PAGE] = { 0 }, out[RW_PACK_MAX];

	if (!c || !(c->state = malloc(LZ4_sizeofStateHC()))) {
		free(c);
		return NULL;
	}
	/* Its memory faulted in here, once. */
	pagepack_into(c, page, out);
	return c;
}

void pagepack_ctx_free(struct rw_pack_ctx *c)
{
	if (c)
		free(c->state);
	free(c);
}

size_t pagepack_into(struct rw_pack_ctx *c, const uint8_t *page, uint8_t *out)
{
	int n = LZ4_compress_HC_extStateHC(c->state, (const char *)page, (char *)out, PAGE,
					   RW_PACK_MAX - 2, PACK_LEVEL);

	return n > 0 ? (size_t)n : 0;
}

uint8_t *pagepack_block(const uint8_t *packed, size_t len)
{
	uint8_t *p = malloc(len + 2);

	if (!p)
		return NULL;
	p[0] = len & 0xff;
	p[1] = len >> 8;
	memcpy(p + 2, packed, len);
	return p;
}

int pagepack_unpack(const uint8_t *block, uint8_t *to)
{
	int n = block[0] | block[1] << 8;

	return LZ4_decompress_safe((const char *)block + 2, (char *)to, n, PAGE) == PAGE ? 0 :
	       -EIO;
}

uint64_t pagepack_cost(const uint8_t *block)
{
	return malloc_usable_size((void *)block) + sizeof(size_t);	/* and malloc's own word */
}

/* The job's state, in a futex word: only its owner of the moment writes the job's fields. */
enum { JOB_NONE, JOB_POSTED, JOB_DONE, JOB_QUIT };

/*
 * No mutex between the two threads: a SCHED_IDLE worker preempted while it
 * holds one would stall the caller until the CPU is idle. Atomics and
 * futexes only.
 */
struct rw_packer {
	pthread_t thread;
	int efd;
	atomic_int job;		/* JOB_*: POSTED hands the fields to the worker, DONE back */
	atomic_int held;	/* the caller is busy: the worker waits between pages */
	atomic_int quit;
	int fd;			/* the job's: our duplicate */
	int dst;		/* a copy job's destination (our duplicate); -1: a packing job */
	struct rw_pack_result res;
	/* The worker's, faulted in at the start: RW_PACK_JOB pages read, and as packed. */
	uint8_t *buf, *out;
	struct rw_pack_ctx *ctx;
};

static void futex_wait(atomic_int *word, int val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* While the caller is busy: wait (false: quit instead). */
static bool wait_unheld(struct rw_packer *pk)
{
	while (atomic_load(&pk->held) && !atomic_load(&pk->quit))
		futex_wait(&pk->held, 1);
	return !atomic_load(&pk->quit);
}

static void job_run(struct rw_packer *pk)
{
	struct rw_pack_result *r = &pk->res;
	size_t n = r->n;
	ssize_t got;

	if (!wait_unheld(pk)) {
		r->err = -ECANCELED;
		return;
	}
	got = pread(pk->fd, pk->buf, n * PAGE, r->first * PAGE);
	r->err = got == (ssize_t)(n * PAGE) ? 0 : got < 0 ? -errno : -EIO;
	/* A copy: written where they were read from (the kernel allocates the pages, we fault none). */
	if (pk->dst >= 0) {
		got = r->err ? 0 : pwrite(pk->dst, pk->buf, n * PAGE, r->first * PAGE);
		if (!r->err && got != (ssize_t)(n * PAGE))
			r->err = got < 0 ? -errno : -EIO;
		return;
	}
	for (size_t k = 0; k < n && !r->err; k++) {
		if (!wait_unheld(pk)) {
			r->err = -ECANCELED;
			break;
		}
		r->data[k] = pk->out + k * RW_PACK_MAX;
		r->len[k] = pagepack_into(pk->ctx, pk->buf + k * PAGE, pk->out + k * RW_PACK_MAX);
	}
}

static void *worker(void *arg)
{
	struct rw_packer *pk = arg;
	struct sched_param none = { 0 };
	const uint64_t one = 1;

	/* Only what no one else wants of the CPU. */
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
	for (;;) {
		int job = atomic_load(&pk->job);

		if (atomic_load(&pk->quit))
			break;
		if (job != JOB_POSTED) {
			futex_wait(&pk->job, job);
			continue;
		}
		job_run(pk);
		atomic_store(&pk->job, JOB_DONE);
		if (write(pk->efd, &one, sizeof(one)) != sizeof(one))
			pr_warn("telling that packed pages are ready: %s\n", strerror(errno));
	}
	return NULL;
}

/* Entries of the fd table made while we are one thread (see fdtable_grow). */
#define FDTABLE_AHEAD	16384

/*
 * Grow our fd table now, while we are one thread: growing it once a second
 * thread shares it waits for an RCU grace period (measured here: 7-20 ms,
 * in the middle of the checkpoint that opened the 64th fd). Beyond this
 * size it doubles, as it would, rarely.
 */
static void fdtable_grow(int fd)
{
	struct rlimit rl;
	int top = FDTABLE_AHEAD, at;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)top)
		top = (int)rl.rlim_cur;
	/* The lowest free fd from there on: the table grows to hold it. */
	at = fcntl(fd, F_DUPFD_CLOEXEC, top - 1);
	if (at >= 0)
		close(at);
}

struct rw_packer *packer_start(void)
{
	struct rw_packer *pk = calloc(1, sizeof(*pk));
	int err;

	if (!pk)
		return NULL;
	pk->fd = pk->dst = -1;
	pk->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pk->buf = malloc(RW_PACK_JOB * PAGE);
	pk->out = malloc(RW_PACK_JOB * RW_PACK_MAX);
	pk->ctx = pagepack_ctx();
	if (pk->efd < 0 || !pk->buf || !pk->out || !pk->ctx)
		goto fail;
	memset(pk->buf, 0, RW_PACK_JOB * PAGE);
	memset(pk->out, 0, RW_PACK_JOB * RW_PACK_MAX);
	fdtable_grow(pk->efd);
	err = pthread_create(&pk->thread, NULL, worker, pk);
	if (!err)
		return pk;
	errno = err;
fail:
	err = errno ? errno : ENOMEM;
	if (pk->efd >= 0)
		close(pk->efd);
	free(pk->buf);
	free(pk->out);
	pagepack_ctx_free(pk->ctx);
	free(pk);
	errno = err;
	return NULL;
}

void packer_stop(struct rw_packer *pk)
{
	if (!pk)
		return;
	/*
	 * Both words change before the wake: a worker between its test and its
	 * futex_wait then does not sleep (futex_wait checks the word).
	 */
	atomic_store(&pk->quit, 1);
	atomic_store(&pk->held, 0);
	atomic_store(&pk->job, JOB_QUIT);
	futex_wake(&pk->held);
	futex_wake(&pk->job);
	pthread_join(pk->thread, NULL);
	if (pk->fd >= 0)
		close(pk->fd);
	if (pk->dst >= 0)
		close(pk->dst);
	close(pk->efd);
	free(pk->buf);
	free(pk->out);
	pagepack_ctx_free(pk->ctx);
	free(pk);
}

int packer_fd(const struct rw_packer *pk)
{
	return pk->efd;
}

bool packer_busy(const struct rw_packer *pk)
{
	return atomic_load(&pk->job) != JOB_NONE;
}

/* Hand the worker a job on store_fd (and, for a copy, dst_fd; -1: packing). */
static int post(struct rw_packer *pk, int store_fd, int dst_fd, size_t first, size_t n,
		uint64_t tag)
{
	int fd, dst = -1;

	if (atomic_load(&pk->job) != JOB_NONE)
		return -EBUSY;
	if (n > RW_PACK_JOB)
		return -EINVAL;
	fd = fcntl(store_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (dst_fd >= 0 && (dst = fcntl(dst_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	pk->fd = fd;
	pk->dst = dst;
	memset(&pk->res, 0, sizeof(pk->res));
	pk->res.tag = tag;
	pk->res.first = first;
	pk->res.n = n;
	atomic_store(&pk->job, JOB_POSTED);
	futex_wake(&pk->job);
	return 0;
}

int packer_post(struct rw_packer *pk, int store_fd, size_t first, size_t n, uint64_t tag)
{
	return post(pk, store_fd, -1, first, n, tag);
}

int packer_post_copy(struct rw_packer *pk, int from_fd, int to_fd, size_t first, size_t n,
		     uint64_t tag)
{
	return post(pk, from_fd, to_fd, first, n, tag);
}

bool packer_take(struct rw_packer *pk, struct rw_pack_result *res)
{
	uint64_t count;

	if (read(pk->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_warn("reading the packer's eventfd: %s\n", strerror(errno));
	if (atomic_load(&pk->job) != JOB_DONE)
		return false;
	*res = pk->res;
	close(pk->fd);
	pk->fd = -1;
	if (pk->dst >= 0)
		close(pk->dst);
	pk->dst = -1;
	atomic_store(&pk->job, JOB_NONE);
	return true;
}

void packer_hold(struct rw_packer *pk, bool busy)
{
	if (busy)
		atomic_store(&pk->held, 1);
	else if (atomic_exchange(&pk->held, 0))
		futex_wake(&pk->held);
}
