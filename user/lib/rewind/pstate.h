/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-process state that only the process itself can read or set, asked
 * and put back through syscalls injected into each of its threads:
 * personality, parent-death signal, timer slack and alternate signal stack
 * per thread; dumpable, child subreaper and THP disable per process; and
 * the keyrings (thread, process, session, user) with the keys linked into
 * them. Keys follow possessor semantics, which is why they are read from
 * inside: rewindd, even as root, may not view a target's keyring.
 *
 * A key linked since the checkpoint into the thread or process keyring is
 * unlinked; one linked into the session or user keyring (shared with other
 * processes) fails the rewind closed, as does a key unlinked since (it
 * cannot be linked back with its possessor's rights from here) or updated.
 * Comparison, planning and wording are pure (unit-tested).
 */
#ifndef RW_PSTATE_H
#define RW_PSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rw_frozen;

/* The kernel's stack_t (x86_64). */
struct rw_altstack {
	uint64_t sp;
	int32_t flags;		/* SS_DISABLE, SS_AUTODISARM (SS_ONSTACK is masked off) */
	uint64_t size;
};

/* A keyring (serial, 0: none) and the serials linked into it, ascending. */
struct rw_keyring {
	int32_t id;
	int32_t *keys;
	size_t n;
};

struct rw_thread_pstate {
	pid_t tid;
	uint32_t personality;
	int pdeathsig;
	uint64_t timerslack;
	struct rw_altstack altstack;
	struct rw_keyring thread_kr;
	int32_t session_id;	/* the session keyring it is joined to */
};

struct rw_pstate {
	int dumpable, subreaper, thp_disable;
	struct rw_keyring process_kr, session_kr, user_kr;
	struct rw_thread_pstate *threads;	/* ascending tid */
	size_t nthreads;
};

enum rw_pstate_kind {
	RW_PS_PERSONALITY,	/* per thread */
	RW_PS_PDEATHSIG,
	RW_PS_TIMERSLACK,
	RW_PS_ALTSTACK,
	RW_PS_UNLINK_THREAD_KEY,	/* key from the thread's keyring */
	RW_PS_DUMPABLE,		/* per process, through any thread */
	RW_PS_SUBREAPER,
	RW_PS_THP_DISABLE,
	RW_PS_UNLINK_PROCESS_KEY,
};

/* One step: kind, the thread it runs in (0: any), the key to unlink. */
struct rw_pstate_op {
	enum rw_pstate_kind kind;
	pid_t tid;
	int32_t key;
};

/*
 * Read the state of tgid's threads tids[0..n) (ascending, all seized in f)
 * by injection. 0 or -errno, why set. The threads' registers are left as
 * the injections leave them (ij->saved is untouched).
 */
int pstate_read(pid_t tgid, struct rw_frozen *f, const pid_t *tids, size_t n,
		struct rw_pstate *out, char *why, size_t whylen);
void pstate_free(struct rw_pstate *s);
const struct rw_thread_pstate *pstate_thread(const struct rw_pstate *s, pid_t tid);

/*
 * The steps that bring now back to want, appended to *ops; what no step
 * can undo is reported through fail(ctx, message) (one call each). 0 or
 * -ENOMEM. Threads of want missing from now are skipped (planned elsewhere).
 */
int pstate_plan(const struct rw_pstate *want, const struct rw_pstate *now,
		struct rw_pstate_op **ops, size_t *nops,
		int (*fail)(void *ctx, const char *msg), void *ctx);
/* "personality thread 12", "unlink key 1234 from the process keyring", ... */
void pstate_op_describe(const struct rw_pstate_op *op, char *buf, size_t len);
/* Every difference between want and now, one fail() call each ("thread 12 personality 0x400000, want 0"). */
int pstate_compare(const struct rw_pstate *want, const struct rw_pstate *now,
		   int (*fail)(void *ctx, const char *msg), void *ctx);
/* Whether key was linked into any keyring of s (an add_key returning it updated it). */
bool pstate_key_known(const struct rw_pstate *s, int32_t key);

/* Run op in the target (f's threads seized). 0 or -errno (why set). */
int pstate_apply(pid_t tgid, struct rw_frozen *f, const struct rw_pstate *want,
		 const struct rw_pstate_op *op, char *why, size_t whylen);

#endif /* RW_PSTATE_H */
