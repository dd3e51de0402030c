// SPDX-License-Identifier: GPL-2.0-only
#define LOG_PREFIX "pstate: "
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freeze.h"
#include "log.h"
#include "pstate.h"
#include "remote.h"
#include "rewind/syscalls.h"

#define PR_SET_PDEATHSIG	1
#define PR_GET_PDEATHSIG	2
#define PR_GET_DUMPABLE		3
#define PR_SET_DUMPABLE		4
#define PR_SET_TIMERSLACK	29
#define PR_GET_TIMERSLACK	30
#define PR_SET_CHILD_SUBREAPER	36
#define PR_GET_CHILD_SUBREAPER	37
#define PR_SET_THP_DISABLE	41
#define PR_GET_THP_DISABLE	42
#define KEYCTL_GET_KEYRING_ID	0
#define KEYCTL_UNLINK		9
#define KEY_SPEC_THREAD_KEYRING		-1
#define KEY_SPEC_PROCESS_KEYRING	-2
#define KEY_SPEC_SESSION_KEYRING	-3
#define KEY_SPEC_USER_KEYRING		-4
#define SS_ONSTACK		1
#define SS_DISABLE		2
#define KEYS_MAX		1024	/* a scratch page of serials */

/* The kernel's stack_t on x86_64. */
struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

/* keyctl(KEYCTL_GET_KEYRING_ID, spec, 0): its serial, or 0 when it does not exist. */
static int keyring_id(struct rw_remote *r, int spec, int32_t *id)
{
	long res = 0;
	int err = remote_sys(r, "keyctl(KEYCTL_GET_KEYRING_ID)", RW_NR_keyctl,
			     KEYCTL_GET_KEYRING_ID, spec, 0, 0, &res);

	if (err == -ENOKEY || err == -ENOENT) {
		*id = 0;
		return 0;
	}
	if (!err)
		*id = res;
	return err;
}

/* The keyring spec names and what it holds now. */
static int keyring_read(struct rw_remote *r, int spec, struct rw_keyring *kr)
{
	int32_t *keys;
	int err;

	memset(kr, 0, sizeof(*kr));
	err = keyring_id(r, spec, &kr->id);
	if (err || !kr->id)
		return err;
	keys = calloc(KEYS_MAX, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	err = remote_keyctl_read(r, kr->id, keys, KEYS_MAX, &kr->n);
	if (err) {
		free(keys);
		return err;
	}
	qsort(keys, kr->n, sizeof(*keys), cmp_i32);
	kr->keys = keys;
	return 0;
}

static int read_thread(struct rw_remote *r, struct rw_thread_pstate *t, const char **what)
{
	struct kstack ss = { 0 };
	long v = 0;
	int err;

	*what = "personality";
	err = remote_sys(r, "personality", RW_NR_personality, 0xffffffff, 0, 0, 0, &v);
	t->personality = v;
	if (!err) {
		*what = "PR_GET_PDEATHSIG";
		err = remote_prctl_get_int(r, PR_GET_PDEATHSIG, &t->pdeathsig);
	}
	if (!err) {
		*what = "PR_GET_TIMERSLACK";
		err = remote_sys(r, "prctl", RW_NR_prctl, PR_GET_TIMERSLACK, 0, 0, 0, &v);
		t->timerslack = v;
	}
	if (!err) {
		*what = "sigaltstack";
		err = remote_sigaltstack_get(r, &ss, sizeof(ss));
		t->altstack = (struct rw_altstack){ ss.sp, ss.flags & ~SS_ONSTACK, ss.size };
	}
	if (!err) {
		*what = "its thread keyring";
		err = keyring_read(r, KEY_SPEC_THREAD_KEYRING, &t->thread_kr);
	}
	if (!err) {
		*what = "its session keyring";
		err = keyring_id(r, KEY_SPEC_SESSION_KEYRING, &t->session_id);
	}
	return err;
}

static int read_process(struct rw_remote *r, struct rw_pstate *s, const char **what)
{
	long v = 0;
	int err;

	*what = "PR_GET_DUMPABLE";
	err = remote_sys(r, "prctl", RW_NR_prctl, PR_GET_DUMPABLE, 0, 0, 0, &v);
	s->dumpable = v;
	if (!err) {
		*what = "PR_GET_CHILD_SUBREAPER";
		err = remote_prctl_get_int(r, PR_GET_CHILD_SUBREAPER, &s->subreaper);
	}
	if (!err) {
		*what = "PR_GET_THP_DISABLE";
		err = remote_sys(r, "prctl", RW_NR_prctl, PR_GET_THP_DISABLE, 0, 0, 0, &v);
		s->thp_disable = v;
	}
	if (!err) {
		*what = "its process keyring";
		err = keyring_read(r, KEY_SPEC_PROCESS_KEYRING, &s->process_kr);
	}
	if (!err) {
		*what = "its session keyring";
		err = keyring_read(r, KEY_SPEC_SESSION_KEYRING, &s->session_kr);
	}
	if (!err) {
		*what = "its user keyring";
		err = keyring_read(r, KEY_SPEC_USER_KEYRING, &s->user_kr);
	}
	return err;
}

int pstate_read(pid_t tgid, struct rw_frozen *f, const pid_t *tids, size_t n,
		struct rw_pstate *out, char *why, size_t whylen)
{
	const char *what = "?";
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->threads = calloc(n ? n : 1, sizeof(*out->threads));
	if (!out->threads)
		return rw_why(why, whylen, -ENOMEM, "pid %d: process state", tgid);
	for (size_t i = 0; i < n && !err; i++) {
		struct rw_seized *ij = freeze_thread(f, tids[i]);
		struct rw_remote r;
		int cerr;

		out->threads[i].tid = tids[i];
		out->nthreads++;
		if (!ij || !ij->seized) {
			err = rw_why(why, whylen, -ESRCH, "pid %d: thread %d: not stopped", tgid,
				     tids[i]);
			break;
		}
		remote_init(&r, ij, tgid);
		err = read_thread(&r, &out->threads[i], &what);
		if (!err && i == 0)
			err = read_process(&r, out, &what);
		cerr = remote_close(&r);
		if (err)
			err = rw_why(why, whylen, err, "pid %d: thread %d: reading %s", tgid, tids[i],
				     what);
		else if (cerr)
			err = rw_why(why, whylen, cerr, "pid %d: thread %d: unmapping our scratch page",
				     tgid, tids[i]);
	}
	if (err)
		pstate_free(out);
	return err;
}

static void keyring_free(struct rw_keyring *kr)
{
	free(kr->keys);
	memset(kr, 0, sizeof(*kr));
}

void pstate_free(struct rw_pstate *s)
{
	for (size_t i = 0; i < s->nthreads; i++)
		keyring_free(&s->threads[i].thread_kr);
	free(s->threads);
	keyring_free(&s->process_kr);
	keyring_free(&s->session_kr);
	keyring_free(&s->user_kr);
	memset(s, 0, sizeof(*s));
}

const struct rw_thread_pstate *pstate_thread(const struct rw_pstate *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	return NULL;
}

static bool has_key(const struct rw_keyring *kr, int32_t key)
{
	return kr->n && bsearch(&key, kr->keys, kr->n, sizeof(key), cmp_i32);
}

bool pstate_key_known(const struct rw_pstate *s, int32_t key)
{
	if (has_key(&s->process_kr, key) || has_key(&s->session_kr, key) ||
	    has_key(&s->user_kr, key))
		return true;
	for (size_t i = 0; i < s->nthreads; i++)
		if (has_key(&s->threads[i].thread_kr, key))
			return true;
	return false;
}

static int add_op(struct rw_pstate_op **ops, size_t *n, enum rw_pstate_kind kind, pid_t tid,
		  int32_t key)
{
	struct rw_pstate_op *more = realloc(*ops, (*n + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	*ops = more;
	more[(*n)++] = (struct rw_pstate_op){ .kind = kind, .tid = tid, .key = key };
	return 0;
}

static int failf(int (*fail)(void *, const char *), void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int failf(int (*fail)(void *, const char *), void *ctx, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return fail(ctx, buf);
}

/*
 * A restorable keyring (thread, process): keys linked since are unlinked
 * (ops when non-NULL); one unlinked since fails. A keyring created since
 * (want->id 0) only gets its keys unlinked: an empty keyring holds nothing.
 */
static int keyring_diff(const char *name, pid_t tid, const struct rw_keyring *want,
			const struct rw_keyring *now, enum rw_pstate_kind unlink,
			struct rw_pstate_op **ops, size_t *nops,
			int (*fail)(void *, const char *), void *ctx)
{
	int err = 0;

	if (want->id && now->id != want->id)
		return failf(fail, ctx, "%s keyring %d replaced by %d since the checkpoint: "
			     "cannot be restored", name, want->id, now->id);
	for (size_t i = 0; i < want->n && !err; i++)
		if (!has_key(now, want->keys[i]))
			err = failf(fail, ctx, "key %d unlinked from the %s keyring since the "
				    "checkpoint: cannot be linked back", want->keys[i], name);
	for (size_t i = 0; i < now->n && !err; i++) {
		if (has_key(want, now->keys[i]))
			continue;
		err = ops ? add_op(ops, nops, unlink, tid, now->keys[i]) :
			    failf(fail, ctx, "key %d linked into the %s keyring", now->keys[i], name);
	}
	return err;
}

/* A keyring shared with other processes: any change fails closed. */
static int shared_diff(const char *name, const struct rw_keyring *want,
		       const struct rw_keyring *now, int (*fail)(void *, const char *), void *ctx)
{
	int err = 0;

	if (now->id != want->id)
		return failf(fail, ctx, "%s keyring %d replaced by %d since the checkpoint: it is "
			     "shared with other processes", name, want->id, now->id);
	for (size_t i = 0; i < now->n && !err; i++)
		if (!has_key(want, now->keys[i]))
			err = failf(fail, ctx, "key %d linked into the %s keyring since the "
				    "checkpoint: that keyring is shared with other processes, "
				    "cannot be restored", now->keys[i], name);
	for (size_t i = 0; i < want->n && !err; i++)
		if (!has_key(now, want->keys[i]))
			err = failf(fail, ctx, "key %d unlinked from the %s keyring since the "
				    "checkpoint: cannot be linked back", want->keys[i], name);
	return err;
}

static bool altstack_eq(const struct rw_altstack *a, const struct rw_altstack *b)
{
	if ((a->flags & SS_DISABLE) && (b->flags & SS_DISABLE))
		return true;
	return a->sp == b->sp && a->flags == b->flags && a->size == b->size;
}

/* ops NULL: every difference is a failure (verify); else what can be undone becomes a step. */
static int diff(const struct rw_pstate *want, const struct rw_pstate *now,
		struct rw_pstate_op **ops, size_t *nops, int (*fail)(void *, const char *),
		void *ctx)
{
	int err = 0;

	for (size_t i = 0; i < want->nthreads && !err; i++) {
		const struct rw_thread_pstate *w = &want->threads[i];
		const struct rw_thread_pstate *t = pstate_thread(now, w->tid);
		char name[32];

		if (!t)
			continue;	/* a checkpoint thread gone: planned (failed) elsewhere */
		if (t->personality != w->personality)
			err = ops ? add_op(ops, nops, RW_PS_PERSONALITY, w->tid, 0) :
			      failf(fail, ctx, "thread %d personality %#x, want %#x", w->tid,
				    t->personality, w->personality);
		if (!err && t->pdeathsig != w->pdeathsig)
			err = ops ? add_op(ops, nops, RW_PS_PDEATHSIG, w->tid, 0) :
			      failf(fail, ctx, "thread %d parent-death signal %d, want %d", w->tid,
				    t->pdeathsig, w->pdeathsig);
		if (!err && t->timerslack != w->timerslack)
			err = ops ? add_op(ops, nops, RW_PS_TIMERSLACK, w->tid, 0) :
			      failf(fail, ctx, "thread %d timer slack %llu ns, want %llu", w->tid,
				    (unsigned long long)t->timerslack,
				    (unsigned long long)w->timerslack);
		if (!err && !altstack_eq(&t->altstack, &w->altstack))
			err = ops ? add_op(ops, nops, RW_PS_ALTSTACK, w->tid, 0) :
			      failf(fail, ctx, "thread %d sigaltstack %#llx+%llu flags %#x, want "
				    "%#llx+%llu flags %#x", w->tid, (unsigned long long)t->altstack.sp,
				    (unsigned long long)t->altstack.size, t->altstack.flags,
				    (unsigned long long)w->altstack.sp,
				    (unsigned long long)w->altstack.size, w->altstack.flags);
		if (!err && t->session_id != w->session_id)
			err = failf(fail, ctx, "thread %d joined session keyring %d since the "
				    "checkpoint (was %d): cannot be restored from outside", w->tid,
				    t->session_id, w->session_id);
		snprintf(name, sizeof(name), "thread %d", w->tid);
		if (!err)
			err = keyring_diff(name, w->tid, &w->thread_kr, &t->thread_kr,
					   RW_PS_UNLINK_THREAD_KEY, ops, nops, fail, ctx);
	}
	if (!err && now->dumpable != want->dumpable)
		/* 2 (suid_dumpable) is the kernel's to set: prctl takes 0 or 1. */
		err = ops && want->dumpable <= 1 ? add_op(ops, nops, RW_PS_DUMPABLE, 0, 0) :
		      failf(fail, ctx, "dumpable %d, want %d%s", now->dumpable, want->dumpable,
			    ops ? ": only the kernel sets 2, cannot be restored" : "");
	if (!err && now->subreaper != want->subreaper)
		err = ops ? add_op(ops, nops, RW_PS_SUBREAPER, 0, 0) :
		      failf(fail, ctx, "child subreaper %d, want %d", now->subreaper, want->subreaper);
	if (!err && now->thp_disable != want->thp_disable)
		err = ops ? add_op(ops, nops, RW_PS_THP_DISABLE, 0, 0) :
		      failf(fail, ctx, "THP disable %#x, want %#x", now->thp_disable,
			    want->thp_disable);
	if (!err)
		err = keyring_diff("process", 0, &want->process_kr, &now->process_kr,
				   RW_PS_UNLINK_PROCESS_KEY, ops, nops, fail, ctx);
	if (!err)
		err = shared_diff("session", &want->session_kr, &now->session_kr, fail, ctx);
	if (!err)
		err = shared_diff("user", &want->user_kr, &now->user_kr, fail, ctx);
	return err;
}

int pstate_plan(const struct rw_pstate *want, const struct rw_pstate *now,
		struct rw_pstate_op **ops, size_t *nops,
		int (*fail)(void *ctx, const char *msg), void *ctx)
{
	return diff(want, now, ops, nops, fail, ctx);
}

int pstate_compare(const struct rw_pstate *want, const struct rw_pstate *now,
		   int (*fail)(void *ctx, const char *msg), void *ctx)
{
	return diff(want, now, NULL, NULL, fail, ctx);
}

void pstate_op_describe(const struct rw_pstate_op *op, char *buf, size_t len)
{
	switch (op->kind) {
	case RW_PS_PERSONALITY:
		snprintf(buf, len, "personality thread %d", op->tid);
		return;
	case RW_PS_PDEATHSIG:
		snprintf(buf, len, "pdeathsig thread %d", op->tid);
		return;
	case RW_PS_TIMERSLACK:
		snprintf(buf, len, "timerslack thread %d", op->tid);
		return;
	case RW_PS_ALTSTACK:
		snprintf(buf, len, "sigaltstack thread %d", op->tid);
		return;
	case RW_PS_UNLINK_THREAD_KEY:
		snprintf(buf, len, "unlink key %d from the keyring of thread %d", op->key, op->tid);
		return;
	case RW_PS_DUMPABLE:
		snprintf(buf, len, "dumpable");
		return;
	case RW_PS_SUBREAPER:
		snprintf(buf, len, "child subreaper");
		return;
	case RW_PS_THP_DISABLE:
		snprintf(buf, len, "THP disable");
		return;
	case RW_PS_UNLINK_PROCESS_KEY:
		snprintf(buf, len, "unlink key %d from the process keyring", op->key);
		return;
	}
	snprintf(buf, len, "?");
}

static int run(struct rw_remote *r, const struct rw_pstate *want, const struct rw_pstate_op *op)
{
	const struct rw_thread_pstate *w = op->tid ? pstate_thread(want, op->tid) : NULL;
	struct kstack ss = { 0 };

	if (op->tid && !w && op->kind != RW_PS_UNLINK_THREAD_KEY)
		return -ESRCH;
	switch (op->kind) {
	case RW_PS_PERSONALITY:
		return remote_sys(r, "personality", RW_NR_personality, w->personality, 0, 0, 0,
				  NULL);
	case RW_PS_PDEATHSIG:
		return remote_sys(r, "prctl", RW_NR_prctl, PR_SET_PDEATHSIG, w->pdeathsig, 0, 0,
				  NULL);
	case RW_PS_TIMERSLACK:
		return remote_sys(r, "prctl", RW_NR_prctl, PR_SET_TIMERSLACK, w->timerslack, 0, 0,
				  NULL);
	case RW_PS_ALTSTACK:
		ss.flags = w->altstack.flags;
		if (!(ss.flags & SS_DISABLE)) {
			ss.sp = w->altstack.sp;
			ss.size = w->altstack.size;
		}
		return remote_sigaltstack_set(r, &ss, sizeof(ss));
	case RW_PS_UNLINK_THREAD_KEY:
		return remote_sys(r, "keyctl(KEYCTL_UNLINK)", RW_NR_keyctl, KEYCTL_UNLINK, op->key,
				  KEY_SPEC_THREAD_KEYRING, 0, NULL);
	case RW_PS_DUMPABLE:
		return remote_sys(r, "prctl", RW_NR_prctl, PR_SET_DUMPABLE, want->dumpable, 0, 0,
				  NULL);
	case RW_PS_SUBREAPER:
		return remote_sys(r, "prctl", RW_NR_prctl, PR_SET_CHILD_SUBREAPER, want->subreaper,
				  0, 0, NULL);
	case RW_PS_THP_DISABLE:
		/* Bit 0: disabled; the others are the flags PR_SET_THP_DISABLE took with it. */
		return remote_sys(r, "prctl", RW_NR_prctl, PR_SET_THP_DISABLE,
				  want->thp_disable & 1, want->thp_disable & 1 ?
				  want->thp_disable & ~1 : 0, 0, NULL);
	case RW_PS_UNLINK_PROCESS_KEY:
		return remote_sys(r, "keyctl(KEYCTL_UNLINK)", RW_NR_keyctl, KEYCTL_UNLINK, op->key,
				  KEY_SPEC_PROCESS_KEYRING, 0, NULL);
	}
	return -EINVAL;
}

int pstate_apply(pid_t tgid, struct rw_frozen *f, const struct rw_pstate *want,
		 const struct rw_pstate_op *op, char *why, size_t whylen)
{
	struct rw_seized *ij = op->tid ? freeze_thread(f, op->tid) : freeze_any(f);
	char what[96];
	struct rw_remote r;
	int err, cerr;

	pstate_op_describe(op, what, sizeof(what));
	if (!ij || !ij->seized)
		return rw_why(why, whylen, -ESRCH, "pid %d: %s: thread not stopped", tgid, what);
	remote_init(&r, ij, tgid);
	err = run(&r, want, op);
	cerr = remote_close(&r);
	if (err || cerr)
		return rw_why(why, whylen, err ? err : cerr, "pid %d: %s: cannot be restored", tgid,
			      what);
	return 0;
}
