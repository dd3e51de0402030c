// SPDX-License-Identifier: GPL-2.0-only
/*
 * A checkpoint thread that exits during the invocation (an idle pool worker
 * timing out) is recreated by the rewind with its tid, TLS, stack and
 * kernel-side registrations:
 *   thread_exit_back    a joinable worker told to pthread_exit and joined;
 *                       after the rewind it is alive for pthread (not
 *                       joinable yet), answers work through a futex with its
 *                       own TLS and tid, and its clear_child_tid is set
 *   thread_exit_robust  the worker exits holding a robust mutex (the kernel
 *                       marks it owner-dead); after the rewind it holds it
 *                       again and its robust list is registered
 *   robust_moved        the main thread registers another robust list (as
 *                       a thread caught inside pthread_create registers its
 *                       first); after the rewind its own is registered again
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "zdtm.h"

#define JOB_EXIT	1u
#define JOB_WORK	2u
#define TLS_MAGIC	0x7e57000000L

static volatile uint32_t job_seq, job_kind, ans_seq;
static volatile long job_val, ans;
static pthread_t worker;
static volatile pid_t worker_tid;
static uint64_t worker_ctid, worker_robust;	/* its own, read by itself at start */
static __thread long tls_secret;
static pthread_mutex_t robust_mu;
static int hold_robust;

static uint64_t own_tid_address(void)
{
	uint64_t a = 0;

	if (prctl(PR_GET_TID_ADDRESS, &a))
		die("prctl(PR_GET_TID_ADDRESS)");
	return a;
}

static uint64_t robust_of(pid_t tid)
{
	uint64_t head = 0;
	size_t len;

	if (syscall(SYS_get_robust_list, tid, &head, &len))
		return 0;
	return head;
}

/* The answer proves the thread's TLS (fs base), tid and registrations are its own. */
static long answer(long val)
{
	char stack_buf[256];
	long bad = 0;

	for (size_t i = 0; i < sizeof(stack_buf); i++)
		stack_buf[i] = (char)(val + i);
	if (tls_secret != TLS_MAGIC + worker_tid)
		bad |= 1L << 40;
	if (gettid_() != worker_tid)
		bad |= 1L << 41;
	if (!pthread_equal(pthread_self(), worker))
		bad |= 1L << 42;
	if (own_tid_address() != worker_ctid)
		bad |= 1L << 43;
	return val * 7 + stack_buf[255] + bad;
}

static void *work_loop(void *arg)
{
	uint32_t seen = job_seq;

	tls_secret = TLS_MAGIC + gettid_();
	worker_ctid = own_tid_address();
	worker_robust = robust_of(0);
	if (hold_robust && pthread_mutex_lock(&robust_mu))
		die("pthread_mutex_lock (robust)");
	worker_tid = gettid_();
	for (;;) {
		while (job_seq == seen)
			futex((uint32_t *)&job_seq, FUTEX_WAIT_PRIVATE, seen);
		seen = job_seq;
		if (job_kind == JOB_EXIT)
			pthread_exit(arg);	/* a robust mutex it holds stays locked: owner dead */
		ans = answer(job_val);
		ans_seq = seen;
		futex((uint32_t *)&ans_seq, FUTEX_WAKE_PRIVATE, 1);
	}
	return arg;
}

static void post(uint32_t kind, long val)
{
	job_kind = kind;
	job_val = val;
	__atomic_add_fetch(&job_seq, 1, __ATOMIC_SEQ_CST);
	futex((uint32_t *)&job_seq, FUTEX_WAKE_PRIVATE, 1);
}

static void start_worker(int robust)
{
	hold_robust = robust;
	if (robust) {
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
		if (pthread_mutex_init(&robust_mu, &a))
			die("pthread_mutex_init");
	}
	if (pthread_create(&worker, NULL, work_loop, NULL))
		die("pthread_create");
	while (!worker_tid)
		sched_yield();
	if (wait_blocked(worker_tid, nr_futex, 1))
		die("worker never blocked");
	snprintf(ready_info, sizeof(ready_info), "worker=%d", worker_tid);
}

static void back_setup(void)
{
	start_worker(0);
}

static void robust_setup(void)
{
	start_worker(1);
}

static void exit_go(void)
{
	pid_t tid = worker_tid;

	post(JOB_EXIT, 0);
	if (pthread_join(worker, NULL))
		die("pthread_join");
	if (hold_robust) {
		/* The kernel walked its robust list at exit: the next owner is told. */
		if (pthread_mutex_lock(&robust_mu) != EOWNERDEAD)
			die("robust mutex of the exited thread not marked owner-dead");
		pthread_mutex_consistent(&robust_mu);
		pthread_mutex_unlock(&robust_mu);
	}
	done("%d", tid);
}

/* Hands the worker one job and waits (bounded) for its answer: 0, or -1 if it never came. */
static int ask_worker(long val, long *out)
{
	long t0 = now_ms();
	uint32_t want, cur;

	post(JOB_WORK, val);
	want = job_seq;
	while ((cur = ans_seq) != want && now_ms() - t0 < ANSWER_TIMEOUT_MS) {
		struct timespec ts = { 0, 100 * 1000000L };

		syscall(SYS_futex, &ans_seq, FUTEX_WAIT_PRIVATE, cur, &ts, NULL, 0);
	}
	if (ans_seq != want)
		return -1;
	*out = ans;
	return 0;
}

static void back_check(void)
{
	long got, want = 1234 * 7 + (char)(1234 + 255);
	int e = pthread_tryjoin_np(worker, NULL);

	if (e != EBUSY) {
		differ("pthread_tryjoin_np of the worker: %d, want EBUSY (running)", e);
		return;
	}
	if (ask_worker(1234, &got))
		differ("the worker %d did not answer", worker_tid);
	else if (got != want)
		differ("the worker answered %#lx, want %#lx (bits 40-43: TLS, tid, pthread_self, "
		       "clear_child_tid wrong)", got, want);
}

static void robust_check(void)
{
	int e = pthread_mutex_trylock(&robust_mu);

	if (e != EBUSY) {
		differ("robust mutex: trylock gave %d, want EBUSY (held by the worker)", e);
		if (!e || e == EOWNERDEAD)
			pthread_mutex_unlock(&robust_mu);
		return;
	}
	if (robust_of(worker_tid) != worker_robust)
		differ("the worker's robust list is %#llx, want %#llx",
		       (unsigned long long)robust_of(worker_tid), (unsigned long long)worker_robust);
	back_check();
}

static uint64_t main_robust;
static struct robust_list_head other_robust = { .list = { &other_robust.list } };

static void moved_setup(void)
{
	main_robust = robust_of(0);
	if (!main_robust)
		die("no robust list registered by the C library");
}

static void moved_go(void)
{
	if (syscall(SYS_set_robust_list, &other_robust, sizeof(other_robust)))
		die("set_robust_list");
	done("");
}

static void moved_check(void)
{
	if (robust_of(0) != main_robust)
		differ("the main thread's robust list is %#llx, want %#llx",
		       (unsigned long long)robust_of(0), (unsigned long long)main_robust);
}

ZDTM_SCENARIO(thread_exit_back, back_setup, exit_go, back_check);
ZDTM_SCENARIO(thread_exit_robust, robust_setup, exit_go, robust_check);
ZDTM_SCENARIO(robust_moved, moved_setup, moved_go, moved_check);
