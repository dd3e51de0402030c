// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "pagepack: "
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
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

struct rw_packer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int efd;
	atomic_bool held;	/* read between pages: a lock there would cost the caller */
	bool quit;
	bool posted;		/* a job waits for the worker, or is under way */
	bool done;		/* its result waits for the caller */
	int fd;			/* the job's: our duplicate */
	struct rw_pack_result res;
	/* The worker's, faulted in at the start: RW_PACK_JOB pages read, and as packed. */
	uint8_t *buf, *out;
	struct rw_pack_ctx *ctx;
};

/* While the caller is busy: wait (false: quit instead). */
static bool wait_unheld(struct rw_packer *pk)
{
	bool go;

	if (!atomic_load(&pk->held))
		return true;
	pthread_mutex_lock(&pk->lock);
	while (atomic_load(&pk->held) && !pk->quit)
		pthread_cond_wait(&pk->wake, &pk->lock);
	go = !pk->quit;
	pthread_mutex_unlock(&pk->lock);
	return go;
}

static void job_run(struct rw_packer *pk, int fd, size_t first, size_t n)
{
	struct rw_pack_result *r = &pk->res;
	ssize_t got;

	if (!wait_unheld(pk)) {
		r->err = -ECANCELED;
		return;
	}
	got = pread(fd, pk->buf, n * PAGE, first * PAGE);
	r->err = got == (ssize_t)(n * PAGE) ? 0 : got < 0 ? -errno : -EIO;
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
	pthread_mutex_lock(&pk->lock);
	for (;;) {
		while (!pk->quit && (!pk->posted || pk->done))
			pthread_cond_wait(&pk->wake, &pk->lock);
		if (pk->quit)
			break;
		/* The job's fields are ours until done is set: the caller waits for it. */
		pthread_mutex_unlock(&pk->lock);
		job_run(pk, pk->fd, pk->res.first, pk->res.n);
		pthread_mutex_lock(&pk->lock);
		pk->done = true;
		if (write(pk->efd, &one, sizeof(one)) != sizeof(one))
			pr_warn("telling that packed pages are ready: %s\n", strerror(errno));
	}
	pthread_mutex_unlock(&pk->lock);
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
	pk->fd = -1;
	pk->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pk->buf = malloc(RW_PACK_JOB * PAGE);
	pk->out = malloc(RW_PACK_JOB * RW_PACK_MAX);
	pk->ctx = pagepack_ctx();
	if (pk->efd < 0 || !pk->buf || !pk->out || !pk->ctx)
		goto fail;
	memset(pk->buf, 0, RW_PACK_JOB * PAGE);
	memset(pk->out, 0, RW_PACK_JOB * RW_PACK_MAX);
	pthread_mutex_init(&pk->lock, NULL);
	pthread_cond_init(&pk->wake, NULL);
	fdtable_grow(pk->efd);
	err = pthread_create(&pk->thread, NULL, worker, pk);
	if (!err)
		return pk;
	pthread_cond_destroy(&pk->wake);
	pthread_mutex_destroy(&pk->lock);
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
	pthread_mutex_lock(&pk->lock);
	pk->quit = true;
	pthread_cond_broadcast(&pk->wake);
	pthread_mutex_unlock(&pk->lock);
	pthread_join(pk->thread, NULL);
	if (pk->fd >= 0)
		close(pk->fd);
	pthread_cond_destroy(&pk->wake);
	pthread_mutex_destroy(&pk->lock);
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
	return pk->posted;	/* only the caller's thread changes it */
}

int packer_post(struct rw_packer *pk, int store_fd, size_t first, size_t n, uint64_t tag)
{
	int fd;

	if (pk->posted)
		return -EBUSY;
	if (n > RW_PACK_JOB)
		return -EINVAL;
	fd = fcntl(store_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&pk->lock);
	pk->fd = fd;
	memset(&pk->res, 0, sizeof(pk->res));
	pk->res.tag = tag;
	pk->res.first = first;
	pk->res.n = n;
	pk->done = false;
	pk->posted = true;
	pthread_cond_signal(&pk->wake);
	pthread_mutex_unlock(&pk->lock);
	return 0;
}

void packer_hold(struct rw_packer *pk, bool busy)
{
	if (busy) {
		atomic_store(&pk->held, true);
		return;
	}
	if (!atomic_load(&pk->held))
		return;
	pthread_mutex_lock(&pk->lock);
	atomic_store(&pk->held, false);
	pthread_cond_broadcast(&pk->wake);
	pthread_mutex_unlock(&pk->lock);
}

bool packer_take(struct rw_packer *pk, struct rw_pack_result *res)
{
	uint64_t count;
	bool done;

	if (read(pk->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_warn("reading the packer's eventfd: %s\n", strerror(errno));
	pthread_mutex_lock(&pk->lock);
	done = pk->posted && pk->done;
	if (done) {
		*res = pk->res;
		memset(&pk->res, 0, sizeof(pk->res));
		close(pk->fd);
		pk->fd = -1;
		pk->posted = pk->done = false;
	}
	pthread_mutex_unlock(&pk->lock);
	return done;
}
