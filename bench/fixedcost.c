// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fixed cost of a rewind: what the proxy waits for between sending an
 * answer and the function being ready again, per stage.
 *
 * A target is forked from this program: M MiB of private anonymous memory
 * (pre-faulted, 4 KiB pages), THREADS threads (the extra ones blocked in
 * read(2) on a pipe nobody writes, as a runtime's idle workers), the main
 * one blocked in read(2) on its command pipe. Each round it dirties D pages
 * of a fixed set, then the bench asks rewindd to rewind it over the same
 * socket requests rewind-proxy makes (one connection kept, one JSON line
 * each way) and measures the round trip from the client; the daemon's
 * timing_ns gives the stages. Several daemons can be compared in one run:
 * each gets its own target and session, rounds alternate between them.
 *
 * Before timing, each session is rewound once with "verify":true and the
 * target checks its own memory; every timed rewind is verified too when
 * VERIFY=1. Nothing asserts on a time.
 *
 * Usage: fixedcost NAME=SOCKET[,brief|,fast] ...
 *        (",brief": the rewind request says "brief":true: no report, no plans;
 *        ",fast": rewinds over the fast path, binary frames both ways, as
 *        rewind-proxy asks for them; the same socket may be named twice)
 * Environment: REPS (rounds, default 41), D (pages, default 100), MIB (default
 *              64), THREADS (default 4), VERIFY (default 0).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bench_util.h"
#include "client.h"

#define PAGE		4096UL
#define MIB		(1UL << 20)
#define MAX_REPS	401
#define MAX_KEYS	24
#define MAX_CONF	4

static void cleanup(void);

#define die(fmt, ...) do { \
	fprintf(stderr, "fixedcost bench: " fmt "\n", ##__VA_ARGS__); \
	cleanup(); \
	exit(1); \
} while (0)
#define die_errno(fmt, ...) die(fmt ": %s", ##__VA_ARGS__, strerror(errno))

/* --- the target -------------------------------------------------------------- */

struct target {
	pid_t pid;
	int cmd_w, rsp_r;
};

static struct target targets[MAX_CONF];
static int ntargets;
static size_t npages;
static int nthreads;

static int started[2];	/* each idle thread says it runs: the checkpoint must not catch one starting */

static void *idle_thread(void *arg)
{
	char c = 1;

	if (write(started[1], &c, 1) != 1)
		_exit(1);
	/* Nobody writes: blocked in the kernel like an idle worker. */
	while (read((int)(intptr_t)arg, &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* Page i holds a nonzero word at offset 0; a dirty writes the word at offset 8. */
static void __attribute__((noreturn)) target_main(int cmd_r, int rsp_w)
{
	char *region = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int idle[2];
	long r = 0;

	if (region == MAP_FAILED || pipe(idle) || pipe(started))
		_exit(1);
	madvise(region, npages * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < npages; i++)
		*(uint64_t *)(region + i * PAGE) = (i + 1) * 0x9e3779b97f4a7c15ull;
	for (int i = 1; i < nthreads; i++) {
		pthread_t th;

		if (pthread_create(&th, NULL, idle_thread, (void *)(intptr_t)idle[0]))
			_exit(1);
	}
	/* Not before every thread is past its start: one caught starting would redo it each round. */
	for (int i = 1; i < nthreads; i++) {
		char c;

		if (read(started[0], &c, 1) != 1)
			_exit(1);
	}
	if (write(rsp_w, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	for (;;) {
		long d;

		if (read(cmd_r, &d, sizeof(d)) != sizeof(d))
			_exit(0);
		r = 0;
		if (d >= 0) {
			/* Spread over the region: one page every npages / d. */
			for (long i = 0; i < d; i++)
				((uint64_t *)(region + (size_t)i * (npages / d) * PAGE))[1] = i + 1;
		} else {
			for (size_t i = 0; i < npages; i++) {
				const uint64_t *w = (const uint64_t *)(region + i * PAGE);

				r += w[0] != (i + 1) * 0x9e3779b97f4a7c15ull || w[1] != 0;
			}
		}
		if (write(rsp_w, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
}

static void spawn(struct target *t)
{
	int cp[2], rp[2];
	long r;

	if (pipe(cp) || pipe(rp))
		die_errno("pipe");
	t->pid = fork();
	if (t->pid < 0)
		die_errno("fork");
	if (!t->pid) {
		close(cp[1]);
		close(rp[0]);
		target_main(cp[0], rp[1]);
	}
	close(cp[0]);
	close(rp[1]);
	t->cmd_w = cp[1];
	t->rsp_r = rp[0];
	if (read(t->rsp_r, &r, sizeof(r)) != sizeof(r))
		die("target did not start");
	ntargets++;
}

/* d >= 0: dirty d pages; d < 0: count the pages that differ from the start. */
static long command(struct target *t, long d)
{
	long r;

	if (write(t->cmd_w, &d, sizeof(d)) != sizeof(d) || read(t->rsp_r, &r, sizeof(r)) != sizeof(r))
		die("target pid %d gone", t->pid);
	return r;
}

static void cleanup(void)
{
	for (int i = 0; i < ntargets; i++) {
		kill(targets[i].pid, SIGKILL);
		waitpid(targets[i].pid, NULL, 0);
	}
	ntargets = 0;
}

/* --- a daemon ------------------------------------------------------------------ */

struct conf {
	const char *name, *path;
	bool brief, fast;
	int sock;
	FILE *in;
	uint32_t session;
	struct target *t;
	/* per round */
	uint64_t client[MAX_REPS], parse[MAX_REPS], bytes[MAX_REPS];
	uint64_t stage[MAX_KEYS][MAX_REPS];
	const char *key[MAX_KEYS];
	int nkeys;
};

static void connect_daemon(struct conf *c)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(c->path) >= sizeof(a.sun_path))
		die("socket path too long: %s", c->path);
	strcpy(a.sun_path, c->path);
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->sock < 0 || connect(c->sock, (struct sockaddr *)&a, sizeof(a)))
		die_errno("connect to rewindd at %s", c->path);
	c->in = fdopen(dup(c->sock), "r");
	if (!c->in)
		die_errno("fdopen");
}

/* One request line, one answer; *parse_ns: the client's JSON parse of it. */
static json_object *request(struct conf *c, uint64_t *parse_ns, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static json_object *request(struct conf *c, uint64_t *parse_ns, size_t *len, const char *fmt, ...)
{
	static char *line;
	static size_t cap;
	char req[512];
	json_object *o, *v;
	va_list ap;
	uint64_t t;
	ssize_t got;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(req, sizeof(req) - 1, fmt, ap);
	va_end(ap);
	req[n++] = '\n';
	if (write(c->sock, req, n) != n)
		die_errno("write to rewindd %s", c->name);
	got = getline(&line, &cap, c->in);
	if (got < 0)
		die("rewindd %s closed the connection", c->name);
	t = rw_now_ns();
	o = json_tokener_parse(line);
	if (parse_ns)
		*parse_ns = rw_now_ns() - t;
	if (len)
		*len = got;
	if (!o)
		die("rewindd %s sent something that is not JSON: %.200s", c->name, line);
	if (!json_object_object_get_ex(o, "ok", &v) || !json_object_get_boolean(v))
		die("rewindd %s: %s: %s", c->name, req,
		    json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : "?");
	return o;
}

/* A rewind over the fast path (fastpath.h): no JSON either way. */
static void fast_round(struct conf *c, int r, bool verify)
{
	struct rw_rewind_summary sum;
	struct rw_fast_request f;
	char err[512];
	uint64_t t0;

	if (fast_request_make(&f, c->session, 0, NULL, verify))
		die("rewindd %s: cannot make a fast-path frame", c->name);
	t0 = rw_now_ns();
	if (client_send(c->sock, (const char *)&f, sizeof(f), err, sizeof(err)) ||
	    client_fast_recv(c->sock, &sum, NULL, err, sizeof(err)))
		die("rewindd %s: fast-path rewind: %s", c->name, err);
	if (r < 0)
		return;
	c->client[r] = rw_now_ns() - t0;
	c->parse[r] = 0;
	c->bytes[r] = sizeof(struct rw_fast_answer);
	for (c->nkeys = 0; c->nkeys < RW_STAGES && c->nkeys < MAX_KEYS; c->nkeys++) {
		c->key[c->nkeys] = rw_stage_names[c->nkeys];
		c->stage[c->nkeys][r] = sum.timing_ns[c->nkeys];
	}
}

static void rewind_round(struct conf *c, int r, bool verify)
{
	uint64_t t0, parse = 0;
	json_object *o, *rw, *tm, *v;
	size_t len = 0;

	if (c->fast) {
		fast_round(c, r, verify);
		return;
	}
	t0 = rw_now_ns();
	o = request(c, &parse, &len, "{\"cmd\":\"rewind\",\"session\":%u%s%s}", c->session,
		    verify ? ",\"verify\":true" : "", c->brief ? ",\"brief\":true" : "");
	if (r < 0) {
		json_object_put(o);
		return;
	}
	c->client[r] = rw_now_ns() - t0;
	c->parse[r] = parse;
	c->bytes[r] = len;
	if (!json_object_object_get_ex(o, "rewind", &rw) ||
	    !json_object_object_get_ex(rw, "timing_ns", &tm))
		die("rewindd %s: an answer without rewind.timing_ns", c->name);
	if (!c->nkeys) {
		json_object_object_foreach(tm, k, vv) {
			(void)vv;
			if (c->nkeys < MAX_KEYS)
				c->key[c->nkeys++] = strdup(k);
		}
	}
	for (int i = 0; i < c->nkeys; i++)
		c->stage[i][r] = json_object_object_get_ex(tm, c->key[i], &v) ?
				 (uint64_t)json_object_get_int64(v) : 0;
	json_object_put(o);
}

int main(int argc, char **argv)
{
	struct conf confs[MAX_CONF] = { 0 };
	int nconf = argc - 1, reps = bench_envint("REPS", 41, 1, MAX_REPS);
	long d = bench_envint("D", 100, 0, 1 << 20);
	bool verify = bench_envint("VERIFY", 0, 0, 1);

	npages = (size_t)bench_envint("MIB", 64, 1, 4096) * MIB / PAGE;
	nthreads = bench_envint("THREADS", 4, 1, 64);
	if (nconf < 1 || nconf > MAX_CONF) {
		fprintf(stderr, "usage: fixedcost NAME=SOCKET[,brief|,fast] ... (up to %d)\n", MAX_CONF);
		return 2;
	}
	if ((size_t)d > npages)
		die("D larger than the region");
	for (int i = 0; i < nconf; i++) {
		struct conf *c = &confs[i];
		char *eq = strchr(argv[i + 1], '='), *comma;
		json_object *o, *v;

		if (!eq)
			die("%s: NAME=SOCKET expected", argv[i + 1]);
		*eq = 0;
		c->name = argv[i + 1];
		c->path = eq + 1;
		comma = strchr(eq + 1, ',');
		if (comma) {
			*comma = 0;
			c->brief = !strcmp(comma + 1, "brief");
			c->fast = !strcmp(comma + 1, "fast");
			if (!c->brief && !c->fast)
				die("unknown option %s", comma + 1);
		}
		connect_daemon(c);
		c->t = &targets[i];
		spawn(c->t);
		o = request(c, NULL, NULL, "{\"cmd\":\"attach\",\"pid\":%d}", c->t->pid);
		c->session = json_object_object_get_ex(o, "session", &v) ? json_object_get_int(v) : 0;
		json_object_put(o);
		json_object_put(request(c, NULL, NULL, "{\"cmd\":\"checkpoint\",\"session\":%u}",
					c->session));
		/* Warm, and proved: verified, and the target finds its memory as it was. */
		for (int k = 0; k < 3; k++) {
			command(c->t, d);
			rewind_round(c, -1, true);
		}
		if (command(c->t, -1))
			die("rewindd %s: the target's memory differs after a verified rewind", c->name);
	}
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < nconf; k++) {
			struct conf *c = &confs[r & 1 ? nconf - 1 - k : k];

			command(c->t, d);
			rewind_round(c, r, verify);
		}
	for (int i = 0; i < nconf; i++) {
		struct conf *c = &confs[i];

		if (command(c->t, -1))
			die("rewindd %s: the target's memory differs after the rounds", c->name);
		json_object_put(request(c, NULL, NULL, "{\"cmd\":\"detach\",\"session\":%u}",
					c->session));
	}
	cleanup();

	printf("\nfixed cost of a rewind: D=%ld pages of %zu MiB, %d thread(s), median of %d "
	       "alternating rounds, us%s\n", d, npages * PAGE / MIB, nthreads, reps,
	       verify ? " (verified)" : "");
	printf("%-22s", "stage");
	for (int i = 0; i < nconf; i++)
		printf(" %12s", confs[i].name);
	printf("\n%-22s", "client round trip");
	for (int i = 0; i < nconf; i++)
		printf(" %12.1f", bench_median(confs[i].client, reps) / 1e3);
	printf("\n%-22s", "client - daemon total");
	for (int i = 0; i < nconf; i++) {
		struct conf *c = &confs[i];
		uint64_t diff[MAX_REPS];
		int tot = -1;

		for (int k = 0; k < c->nkeys; k++)
			if (!strcmp(c->key[k], "total"))
				tot = k;
		for (int r = 0; r < reps; r++)
			diff[r] = tot < 0 ? 0 : c->client[r] - c->stage[tot][r];
		printf(" %12.1f", bench_median(diff, reps) / 1e3);
	}
	printf("\n%-22s", "client JSON parse");
	for (int i = 0; i < nconf; i++)
		printf(" %12.1f", bench_median(confs[i].parse, reps) / 1e3);
	printf("\n%-22s", "answer bytes");
	for (int i = 0; i < nconf; i++)
		printf(" %12llu", (unsigned long long)bench_median(confs[i].bytes, reps));
	printf("\n");
	/* Every daemon's stages, in the order they name them (a key another lacks prints -). */
	for (int n = 0; n < nconf * MAX_KEYS; n++) {
		const char *key = n % MAX_KEYS < confs[n / MAX_KEYS].nkeys ?
				  confs[n / MAX_KEYS].key[n % MAX_KEYS] : NULL;
		bool seen = false;

		for (int i = 0; key && i < n / MAX_KEYS; i++)
			for (int j = 0; j < confs[i].nkeys; j++)
				seen |= !strcmp(confs[i].key[j], key);
		if (!key || seen)
			continue;
		printf("%-22s", key);
		for (int i = 0; i < nconf; i++) {
			struct conf *c = &confs[i];
			int at = -1;

			for (int j = 0; j < c->nkeys; j++)
				if (!strcmp(c->key[j], key))
					at = j;
			if (at < 0)
				printf(" %12s", "-");
			else
				printf(" %12.1f", bench_median(c->stage[at], reps) / 1e3);
		}
		printf("\n");
	}
	return 0;
}
