// SPDX-License-Identifier: GPL-2.0-only
/*
 * End-to-end rewind through a running rewindd, measured from its client.
 *
 * Targets are forked from this program: M MiB of private anonymous memory,
 * pre-faulted (4 KiB pages, THP off), then blocked in read(2) on a pipe. On a
 * command a target dirties D pages of a fixed pseudo-random set and blocks
 * again; the bench then asks rewindd to rewind it, over the daemon's unix
 * socket (one JSON object per line, see user/lib/control/protocol.c).
 *
 * Printed, all side by side in one run (medians, alternating orders):
 *   - checkpoint latency against RSS (64 MiB, 256 MiB, 1 GiB) and memcpy of
 *     the RSS; image bytes against present private writable memory;
 *   - rewind latency for D in {0, 1, 10, 100, 1k, 10k, 100k} on a 1 GiB and
 *     a 64 MiB target, with the daemon's own breakdown; memcpy of D scattered
 *     pages; a whole-memory restore (process_vm_writev of every page of the
 *     M MiB region from a local copy, Groundhog-like) into an untracked
 *     process; rewind / (100 us + 2 x memcpy(D)) and 1 GiB / 64 MiB.
 *
 * Before timing, each session is rewound once with "verify":true and the
 * target checks its own memory. Nothing asserts on a time.
 *
 * Usage: rewind [SOCKET]      (default $REWINDD_SOCKET or /run/rewindd/rewindd.sock)
 * Environment: REPS (rewind rounds, default 15), CKPT_REPS (default 5),
 *              MAX_D (largest D, default 100000).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bench_util.h"

#define PAGE		4096UL
#define MIB		(1UL << 20)
#define MAX_REPS	64
#define MAX_KEYS	16

#define die(fmt, ...) do { \
	fprintf(stderr, "rewind bench: " fmt "\n", ##__VA_ARGS__); \
	cleanup(); \
	exit(1); \
} while (0)
#define die_errno(fmt, ...) die(fmt ": %s", ##__VA_ARGS__, strerror(errno))

static void cleanup(void);

static char *map_anon(size_t len, bool dontfork)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die_errno("mmap %zu", len);
	madvise(p, len, MADV_NOHUGEPAGE);
	/* The bench's own buffers stay out of the targets. */
	if (dontfork)
		madvise(p, len, MADV_DONTFORK);
	for (size_t i = 0; i < len; i += PAGE)
		*(uint64_t *)(p + i) = (i / PAGE + 1) * 0x9e3779b97f4a7c15ull;
	return p;
}

/* --- the page sets ------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t *permutation(size_t n)
{
	uint32_t *p = malloc(n * sizeof(*p));

	if (!p)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		p[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j;
		uint32_t t;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		j = rng % (i + 1);
		t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
	return p;
}

/* --- targets --------------------------------------------------------------- */

enum op { OP_DIRTY = 1, OP_CHECK, OP_EXIT };

struct cmd {
	int op;
	long d;
	uint64_t val;
};

struct target {
	pid_t pid;
	int cmd_w, rsp_r;
	size_t pages;
	const uint32_t *perm;	/* dirty set: perm[0..d) */
	uint32_t session;
};

#define MAX_TARGETS 8
static struct target *live[MAX_TARGETS];

static void xwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die_errno("write to pipe");
}

static void xread(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n != (ssize_t)len)
		die("target gone (read %zd)", n);
}

/*
 * The target: page i of its region holds a nonzero word at offset 0 and
 * zeros elsewhere; a dirty writes the word at offset 8. Everything it needs
 * (the permutation) is in its memory before the checkpoint, and it keeps no
 * state of its own across commands: a rewind puts it back in read(2).
 */
static void __attribute__((noreturn)) target_main(struct target *t, int cmd_r, int rsp_w)
{
	char *region = mmap(NULL, t->pages * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long r = 0;

	if (region == MAP_FAILED)
		_exit(1);
	madvise(region, t->pages * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < t->pages; i++)
		*(uint64_t *)(region + i * PAGE) = (i + 1) * 0x9e3779b97f4a7c15ull;
	if (write(rsp_w, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	for (;;) {
		struct cmd c;

		if (read(cmd_r, &c, sizeof(c)) != sizeof(c))
			_exit(0);
		r = 0;
		switch (c.op) {
		case OP_DIRTY:
			for (long i = 0; i < c.d; i++)
				((uint64_t *)(region + (size_t)t->perm[i] * PAGE))[1] = c.val + i;
			break;
		case OP_CHECK:
			for (size_t i = 0; i < t->pages; i++) {
				const uint64_t *w = (const uint64_t *)(region + i * PAGE);

				r += w[0] != (i + 1) * 0x9e3779b97f4a7c15ull || w[1] != 0;
			}
			break;
		case OP_EXIT:
			_exit(0);
		}
		if (write(rsp_w, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
}

static struct target *spawn(size_t mib, const uint32_t *perm)
{
	struct target *t = calloc(1, sizeof(*t));
	int cp[2], rp[2];
	long r;

	if (!t || pipe(cp) || pipe(rp))
		die_errno("pipe");
	t->pages = mib * MIB / PAGE;
	t->perm = perm;
	t->pid = fork();
	if (t->pid < 0)
		die_errno("fork");
	if (!t->pid) {
		close(cp[1]);
		close(rp[0]);
		target_main(t, cp[0], rp[1]);
	}
	close(cp[0]);
	close(rp[1]);
	t->cmd_w = cp[1];
	t->rsp_r = rp[0];
	xread(t->rsp_r, &r, sizeof(r));
	for (int i = 0; i < MAX_TARGETS; i++)
		if (!live[i]) {
			live[i] = t;
			break;
		}
	return t;
}

static long command(struct target *t, int op, long d, uint64_t val)
{
	struct cmd c = { op, d, val };
	long r;

	xwrite(t->cmd_w, &c, sizeof(c));
	xread(t->rsp_r, &r, sizeof(r));
	return r;
}

static void reap(struct target *t)
{
	for (int i = 0; i < MAX_TARGETS; i++)
		if (live[i] == t)
			live[i] = NULL;
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	close(t->cmd_w);
	close(t->rsp_r);
	free(t);
}

static void cleanup(void)
{
	for (int i = 0; i < MAX_TARGETS; i++)
		if (live[i]) {
			kill(live[i]->pid, SIGKILL);
			waitpid(live[i]->pid, NULL, 0);
			live[i] = NULL;
		}
}

/* --- the daemon -------------------------------------------------------------- */

static FILE *sock_in;
static int sock;

static void connect_daemon(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(a.sun_path))
		die("socket path too long: %s", path);
	strcpy(a.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&a, sizeof(a)))
		die_errno("connect to rewindd at %s (is it running?)", path);
	sock_in = fdopen(dup(sock), "r");
	if (!sock_in)
		die_errno("fdopen");
}

/* One request line, one response object (the caller puts it). */
static json_object *request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_object *request(const char *fmt, ...)
{
	static char *line;
	static size_t cap;
	char req[512];
	json_object *o;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(req, sizeof(req) - 1, fmt, ap);
	va_end(ap);
	req[n++] = '\n';
	if (write(sock, req, n) != n)
		die_errno("write to rewindd");
	if (getline(&line, &cap, sock_in) < 0)
		die("rewindd closed the connection");
	o = json_tokener_parse(line);
	if (!o)
		die("rewindd sent something that is not JSON: %.200s", line);
	return o;
}

static bool ok(json_object *o, const char **err)
{
	json_object *v;

	*err = json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : "?";
	return json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
}

static int64_t num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static void attach(struct target *t)
{
	json_object *o = request("{\"cmd\":\"attach\",\"pid\":%d}", t->pid);
	const char *err;

	if (!ok(o, &err))
		die("attach pid %d: %s", t->pid, err);
	t->session = num(o, "session");
	json_object_put(o);
}

static void detach(struct target *t)
{
	json_object_put(request("{\"cmd\":\"detach\",\"session\":%u}", t->session));
	t->session = 0;
}

/* Timing breakdowns: the keys of the first answer, in the daemon's order. */
struct breakdown {
	const char *key[MAX_KEYS];
	int nkeys;
};

static void keys_of(struct breakdown *b, json_object *timing)
{
	if (b->nkeys || !timing)
		return;
	json_object_object_foreach(timing, k, v) {
		(void)v;
		if (b->nkeys < MAX_KEYS)
			b->key[b->nkeys++] = strdup(k);
	}
}

static json_object *checkpoint(struct target *t, uint64_t *client_ns)
{
	uint64_t t0 = rw_now_ns();
	json_object *o = request("{\"cmd\":\"checkpoint\",\"session\":%u}", t->session), *c;
	const char *err;

	*client_ns = rw_now_ns() - t0;
	if (!ok(o, &err)) {
		if (strstr(err, "unknown") || strstr(err, "not supported") ||
		    strstr(err, "report mode"))
			die("rewindd does not support checkpoint yet (it answered: %s)", err);
		die("checkpoint of pid %d failed: %s", t->pid, err);
	}
	if (!json_object_object_get_ex(o, "checkpoint", &c))
		die("checkpoint answer without \"checkpoint\": %s", json_object_to_json_string(o));
	json_object_get(c);
	json_object_put(o);
	return c;
}

static json_object *rewind_once(struct target *t, bool verify, uint64_t *client_ns)
{
	uint64_t t0 = rw_now_ns();
	json_object *o = request("{\"cmd\":\"rewind\",\"session\":%u%s}", t->session,
				 verify ? ",\"verify\":true" : ""), *r;
	const char *err;

	*client_ns = rw_now_ns() - t0;
	if (!ok(o, &err)) {
		if (strstr(err, "unknown"))
			die("rewindd does not support rewind yet (it answered: %s)", err);
		die("rewind of pid %d failed: %s", t->pid, err);
	}
	if (!json_object_object_get_ex(o, "rewind", &r))
		die("rewind answer without \"rewind\": %s", json_object_to_json_string(o));
	json_object_get(r);
	json_object_put(o);
	return r;
}

/* The cost of asking rewindd anything: one status request, no session. */
static uint64_t request_floor(int n)
{
	uint64_t lat[MAX_REPS * 20];

	if (n > MAX_REPS * 20)
		n = MAX_REPS * 20;
	for (int i = 0; i < n; i++) {
		uint64_t t0 = rw_now_ns();

		json_object_put(request("{\"cmd\":\"status\"}"));
		lat[i] = rw_now_ns() - t0;
	}
	qsort(lat, n, sizeof(*lat), bench_cmp_u64);
	return lat[(n - 1) / 2];
}

static json_object *timing_of(json_object *o)
{
	json_object *t;

	return json_object_object_get_ex(o, "timing_ns", &t) ? t : NULL;
}

/* --- references -------------------------------------------------------------- */

static char *evict_buf;
#define EVICT_BYTES	(64UL << 20)

/* Caches and TLB cold before a memcpy reference, as after an invocation. */
static void evict(void)
{
	memset(evict_buf, (int)(rw_now_ns() & 0xff), EVICT_BYTES);
}

static uint64_t memcpy_scattered(char *dst, const char *src, const uint32_t *perm, long d)
{
	uint64_t t0;

	evict();
	t0 = rw_now_ns();
	for (long i = 0; i < d; i++)
		memcpy(dst + (size_t)perm[i] * PAGE, src + (size_t)i * PAGE, PAGE);
	return rw_now_ns() - t0;
}

/* memcpy into memory never touched before (huge pages allowed), as a new image is. */
static uint64_t memcpy_fresh(const char *src, size_t len)
{
	char *dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t t0;

	if (dst == MAP_FAILED)
		die_errno("mmap %zu", len);
	madvise(dst, len, MADV_HUGEPAGE);
	evict();
	t0 = rw_now_ns();
	memcpy(dst, src, len);
	t0 = rw_now_ns() - t0;
	munmap(dst, len);
	return t0;
}

/* Groundhog-like: every page of the region, from a local copy (1024 pages an iovec). */
static uint64_t whole_restore(pid_t pid, uint64_t remote, const char *src, size_t len)
{
	struct iovec l[1024], r[1024];
	uint64_t t0 = rw_now_ns();
	size_t off = 0;

	while (off < len) {
		int n = 0;
		size_t want = 0;
		ssize_t got;

		for (; n < 1024 && off < len; n++) {
			size_t k = len - off < 1024 * PAGE ? len - off : 1024 * PAGE;

			l[n].iov_base = (void *)(src + off);
			r[n].iov_base = (void *)(uintptr_t)(remote + off);
			l[n].iov_len = r[n].iov_len = k;
			want += k;
			off += k;
		}
		got = process_vm_writev(pid, l, n, r, n, 0);
		if (got != (ssize_t)want)
			die_errno("process_vm_writev into pid %d", pid);
	}
	return rw_now_ns() - t0;
}

/* The region of a target, from /proc/PID/maps: the mapping of exactly its size. */
static uint64_t region_of(struct target *t)
{
	char path[64], line[512];
	uint64_t s, e, found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
	f = fopen(path, "r");
	if (!f)
		die_errno("open %s", path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && e - s == t->pages * PAGE)
			found = s;
	fclose(f);
	if (!found)
		die("pid %d: region not found in its maps", t->pid);
	return found;
}

/* --- main -------------------------------------------------------------------- */

static const long Ds[] = { 0, 1, 10, 100, 1000, 10000, 100000 };
#define NDS (sizeof(Ds) / sizeof(Ds[0]))

static double us(uint64_t ns)
{
	return ns / 1e3;
}

static void checkpoint_study(int reps, const uint32_t *perm1g, char *src, char *dst)
{
	static const size_t sizes[] = { 64, 256, 1024 };
	enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
	uint64_t lat[NS][MAX_REPS], mc[NS][MAX_REPS], fresh[NS][MAX_REPS], tim[NS][MAX_KEYS][MAX_REPS];
	int64_t img[NS] = { 0 }, priv[NS] = { 0 }, stored[NS] = { 0 };
	struct breakdown b = { .nkeys = 0 };

	for (int r = 0; r < reps; r++)
		for (int k = 0; k < NS; k++) {
			int s = r & 1 ? NS - 1 - k : k;
			struct target *t = spawn(sizes[s], perm1g);
			json_object *c, *tm;
			uint64_t t0;

			attach(t);
			c = checkpoint(t, &lat[s][r]);
			tm = timing_of(c);
			keys_of(&b, tm);
			for (int i = 0; i < b.nkeys; i++) {
				json_object *v;

				tim[s][i][r] = tm && json_object_object_get_ex(tm, b.key[i], &v) ?
					       (uint64_t)json_object_get_int64(v) : 0;
			}
			img[s] = num(c, "image_bytes");
			priv[s] = num(c, "private_writable_bytes");
			stored[s] = num(c, "pages_stored");
			json_object_put(c);
			detach(t);
			reap(t);
			evict();
			t0 = rw_now_ns();
			memcpy(dst, src, sizes[s] * MIB);
			mc[s][r] = rw_now_ns() - t0;
			fresh[s][r] = memcpy_fresh(src, sizes[s] * MIB);
		}

	printf("\ncheckpoint against RSS: median of %d alternating rounds, a fresh target each "
	       "(attach, then checkpoint; client latency)\n", reps);
	printf("%-8s %12s", "RSS", "checkpoint");
	for (int i = 0; i < b.nkeys; i++)
		printf(" %10s", b.key[i]);
	printf(" %12s %9s %9s %12s %9s %13s %14s %9s\n", "memcpy(RSS)", "ckpt/mc", "(goal<=2)",
	       "fresh-mc", "ckpt/fmc", "image MiB", "priv.wr. MiB", "img/priv");
	for (int s = 0; s < NS; s++) {
		uint64_t l = bench_median(lat[s], reps), m = bench_median(mc[s], reps);
		uint64_t f = bench_median(fresh[s], reps);

		printf("%-8s %10.2fms", sizes[s] == 1024 ? "1 GiB" : sizes[s] == 256 ? "256 MiB" :
		       "64 MiB", l / 1e6);
		for (int i = 0; i < b.nkeys; i++)
			printf(" %8.2fms", bench_median(tim[s][i], reps) / 1e6);
		printf(" %10.2fms %9.2f %9s %10.2fms %9.2f %13.1f %14.1f %9.3f\n", m / 1e6,
		       (double)l / m, "", f / 1e6, (double)l / f, img[s] / (double)MIB, priv[s] / (double)MIB,
		       priv[s] > 0 ? (double)img[s] / priv[s] : 0);
	}
	printf("(pages stored at 1 GiB: %lld; image/priv goal <= 1; priv.wr. is all present "
	       "private writable memory of the target, its region and the rest)\n",
	       (long long)stored[NS - 1]);
	printf("(fresh-mc: memcpy of RSS into memory never touched before, huge pages allowed, as "
	       "an image must be: on this VM first touch costs several times the copy)\n");
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("REWINDD_SOCKET") ?
			   getenv("REWINDD_SOCKET") : "/run/rewindd/rewindd.sock";
	int reps = bench_envint("REPS", 15, 1, MAX_REPS);
	int ckpt_reps = bench_envint("CKPT_REPS", 5, 1, MAX_REPS);
	long max_d = bench_envint("MAX_D", 100000, 0, 100000);
	static uint64_t lat[2][NDS][MAX_REPS], tim[2][NDS][MAX_KEYS][MAX_REPS];
	static uint64_t mc[NDS][MAX_REPS], whole[2][MAX_REPS];
	static int64_t restored[2][NDS][MAX_REPS];
	static const size_t mib[2] = { 1024, 64 };
	struct breakdown b = { .nkeys = 0 };
	struct target *t[2], *plain;
	uint32_t *perm[2];
	uint64_t plain_region;
	char *src, *dst;
	size_t nd = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [SOCKET]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	while (nd < NDS && Ds[nd] <= max_d)
		nd++;
	perm[0] = permutation(mib[0] * MIB / PAGE);
	perm[1] = permutation(mib[1] * MIB / PAGE);
	src = map_anon(1024 * MIB, true);
	dst = map_anon(1024 * MIB, true);
	evict_buf = map_anon(EVICT_BYTES, true);
	connect_daemon(path);

	checkpoint_study(ckpt_reps, perm[0], src, dst);

	/* Two tracked targets, one untracked for the whole-memory baseline. */
	for (int m = 0; m < 2; m++) {
		uint64_t ns;

		t[m] = spawn(mib[m], perm[m]);
		attach(t[m]);
		json_object_put(checkpoint(t[m], &ns));
	}
	plain = spawn(1024, perm[0]);
	plain_region = region_of(plain);

	/* Correctness first: a verified rewind, then the target checks itself. */
	for (int m = 0; m < 2; m++) {
		long d = mib[m] == 64 ? 1000 : 10000, bad;
		uint64_t ns;

		command(t[m], OP_DIRTY, d, 0x5eed);
		json_object_put(rewind_once(t[m], true, &ns));
		bad = command(t[m], OP_CHECK, 0, 0);
		if (bad)
			die("%zu MiB target: %ld page(s) differ from the checkpoint after a verified "
			    "rewind", mib[m], bad);
		printf("%s target: verified rewind of %ld dirty pages, target self-check: "
		       "all %zu pages as checkpointed\n", mib[m] == 64 ? "64 MiB" : "1 GiB", d,
		       t[m]->pages);
	}

	for (int r = 0; r < reps; r++) {
		for (size_t k = 0; k < nd; k++) {
			size_t di = r & 1 ? nd - 1 - k : k;
			long d = Ds[di];

			for (int j = 0; j < 2; j++) {
				int m = (r + di) & 1 ? 1 - j : j;
				json_object *rw, *tm;

				if ((size_t)d > t[m]->pages)
					continue;
				command(t[m], OP_DIRTY, d, ((uint64_t)r << 32) | (di + 1));
				rw = rewind_once(t[m], false, &lat[m][di][r]);
				tm = timing_of(rw);
				keys_of(&b, tm);
				for (int i = 0; i < b.nkeys; i++) {
					json_object *v;

					tim[m][di][i][r] = tm && json_object_object_get_ex(tm, b.key[i],
											   &v) ?
							   (uint64_t)json_object_get_int64(v) : 0;
				}
				restored[m][di][r] = num(rw, "pages_restored");
				json_object_put(rw);
			}
			mc[di][r] = memcpy_scattered(dst, src, perm[0], d);
		}
		for (int j = 0; j < 2; j++) {
			int m = r & 1 ? 1 - j : j;

			whole[m][r] = whole_restore(plain->pid, plain_region, src, mib[m] * MIB);
		}
	}

	printf("\nrewind through rewindd: median of %d rounds (D order and target order "
	       "alternate), client-measured latency\n", reps);
	printf("%-7s %7s %9s %12s %12s %12s %14s %10s %14s %10s\n", "target", "D", "restored",
	       "rewind", "daemon total", "memcpy(D)", "100us+2*mc", "rw/budget", "whole-memory",
	       "rw/whole");
	for (int m = 0; m < 2; m++)
		for (size_t di = 0; di < nd; di++) {
			uint64_t l, tot = 0, c, w;
			int64_t rs[MAX_REPS];

			if ((size_t)Ds[di] > t[m]->pages)
				continue;
			l = bench_median(lat[m][di], reps);
			for (int i = 0; i < b.nkeys; i++)
				if (!strcmp(b.key[i], "total"))
					tot = bench_median(tim[m][di][i], reps);
			c = bench_median(mc[di], reps);
			w = bench_median(whole[m], reps);
			for (int r = 0; r < reps; r++)
				rs[r] = restored[m][di][r];
			printf("%-7s %7ld %9lld %10.1fus %10.1fus %10.1fus %12.1fus %10.3f %12.1fus "
			       "%10.4f\n", m ? "64 MiB" : "1 GiB", Ds[di],
			       (long long)bench_median((uint64_t *)rs, reps), us(l), us(tot), us(c),
			       us(100000 + 2 * c), l / (100000.0 + 2 * c), us(w), (double)l / w);
		}
	printf("goal: rw/budget <= 1 (budget = 100 us + 2 x memcpy of D pages, measured in this "
	       "run); whole-memory = process_vm_writev of every page of the region, untracked\n");
	printf("floor: a status request's round trip to rewindd (no work) is %.1f us median here: "
	       "the client-measured latency includes it\n", us(request_floor(reps * 20)));

	printf("\ndaemon breakdown (timing_ns of the rewind answer, medians, us)\n");
	printf("%-7s %7s", "target", "D");
	for (int i = 0; i < b.nkeys; i++)
		printf(" %9s", b.key[i]);
	printf("\n");
	for (int m = 0; m < 2; m++)
		for (size_t di = 0; di < nd; di++) {
			if ((size_t)Ds[di] > t[m]->pages)
				continue;
			printf("%-7s %7ld", m ? "64 MiB" : "1 GiB", Ds[di]);
			for (int i = 0; i < b.nkeys; i++)
				printf(" %9.1f", us(bench_median(tim[m][di][i], reps)));
			printf("\n");
		}

	printf("\nrewind latency, 1 GiB against 64 MiB target, same D (goal: within 10%%)\n");
	printf("%7s %12s %12s %9s\n", "D", "1 GiB", "64 MiB", "1G/64M");
	for (size_t di = 0; di < nd; di++) {
		uint64_t a, c;

		if ((size_t)Ds[di] > t[1]->pages)
			continue;
		a = bench_median(lat[0][di], reps);
		c = bench_median(lat[1][di], reps);
		printf("%7ld %10.1fus %10.1fus %9.3f\n", Ds[di], us(a), us(c), (double)a / c);
	}

	for (int m = 0; m < 2; m++) {
		detach(t[m]);
		reap(t[m]);
	}
	reap(plain);
	return 0;
}
