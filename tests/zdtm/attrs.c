// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process attributes rewindd sets from outside: rlimits, nice, scheduling
 * policy, CPU affinity and I/O priority, of the main thread and of a second
 * thread (the kernel keeps all but rlimits per thread).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/futex.h>

#include "zdtm.h"

#define IOPRIO_WHO_PROCESS	1
#define IOPRIO_CLASS_IDLE	3

static volatile uint32_t second_started;
static pid_t second_tid;

/* A second thread that only waits: the invocation changes its attributes by tid. */
static void *second(void *arg)
{
	static volatile uint32_t never;

	(void)arg;
	second_tid = gettid_();
	__atomic_store_n(&second_started, 1, __ATOMIC_RELEASE);
	futex(&second_started, FUTEX_WAKE_PRIVATE, 1);
	for (;;)
		futex(&never, FUTEX_WAIT_PRIVATE, 0);
	return NULL;
}

static void start_second(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, second, NULL))
		die("pthread_create");
	while (!__atomic_load_n(&second_started, __ATOMIC_ACQUIRE))
		futex(&second_started, FUTEX_WAIT_PRIVATE, 0);
	if (wait_blocked(second_tid, nr_futex, 1))
		die("second thread never blocked");
}

/*
 * ---- rlimits ----
 * Soft limits only: raising a hard limit back takes CAP_SYS_RESOURCE, which
 * a rewindd may lack (the rewind then fails closed naming the limit).
 */

static struct rlimit nofile_want, core_want;

static void rlimits_setup(void)
{
	if (getrlimit(RLIMIT_NOFILE, &nofile_want) || getrlimit(RLIMIT_CORE, &core_want))
		die("getrlimit");
	core_want.rlim_cur = core_want.rlim_max < MIB ? core_want.rlim_max : MIB;
	if (!core_want.rlim_cur || nofile_want.rlim_cur <= 64)
		die("rlimits: RLIMIT_CORE hard limit 0 or RLIMIT_NOFILE already at most 64");
	if (setrlimit(RLIMIT_CORE, &core_want))
		die("setrlimit");
}

static void rlimits_go(void)
{
	struct rlimit nofile = { 64, nofile_want.rlim_max }, core = { 0, core_want.rlim_max };

	if (setrlimit(RLIMIT_NOFILE, &nofile) || setrlimit(RLIMIT_CORE, &core))
		die("setrlimit");
	done("");
}

static void rlimit_check(const char *name, int res, const struct rlimit *want)
{
	struct rlimit now;

	if (getrlimit(res, &now))
		die("getrlimit");
	if (now.rlim_cur != want->rlim_cur || now.rlim_max != want->rlim_max)
		differ("%s %llu/%llu, want %llu/%llu", name, (unsigned long long)now.rlim_cur,
		       (unsigned long long)now.rlim_max, (unsigned long long)want->rlim_cur,
		       (unsigned long long)want->rlim_max);
}

static void rlimits_check(void)
{
	rlimit_check("RLIMIT_NOFILE", RLIMIT_NOFILE, &nofile_want);
	rlimit_check("RLIMIT_CORE", RLIMIT_CORE, &core_want);
}

/* ---- nice, per thread ---- */

static int nice_main_want, nice_second_want;

static int nice_of(pid_t tid)
{
	int v;

	errno = 0;
	v = getpriority(PRIO_PROCESS, tid);
	if (v == -1 && errno)
		die("getpriority");
	return v;
}

static void nice_setup(void)
{
	start_second();
	nice_main_want = nice_of(0);
	nice_second_want = nice_of(second_tid);
}

static void nice_go(void)
{
	if (setpriority(PRIO_PROCESS, 0, 10) || setpriority(PRIO_PROCESS, second_tid, 15))
		die("setpriority");
	done("");
}

static void nice_check(void)
{
	if (nice_of(0) != nice_main_want)
		differ("main thread nice %d, want %d", nice_of(0), nice_main_want);
	if (nice_of(second_tid) != nice_second_want)
		differ("thread %d nice %d, want %d", second_tid, nice_of(second_tid),
		       nice_second_want);
}

/* ---- CPU affinity of a thread ---- */

static cpu_set_t affinity_want;

static void affinity_setup(void)
{
	start_second();
	if (sched_getaffinity(second_tid, sizeof(affinity_want), &affinity_want))
		die("sched_getaffinity");
	if (CPU_COUNT(&affinity_want) < 2)
		die("affinity: needs 2 CPUs to narrow the set");
}

static void affinity_go(void)
{
	cpu_set_t one;
	int cpu = 0;

	while (!CPU_ISSET(cpu, &affinity_want))
		cpu++;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(second_tid, sizeof(one), &one))
		die("sched_setaffinity");
	done("");
}

static void affinity_check(void)
{
	cpu_set_t now;

	if (sched_getaffinity(second_tid, sizeof(now), &now))
		die("sched_getaffinity");
	if (!CPU_EQUAL(&now, &affinity_want))
		differ("thread %d allowed on %d CPU(s), want %d", second_tid, CPU_COUNT(&now),
		       CPU_COUNT(&affinity_want));
}

/* ---- scheduling policy (SCHED_BATCH, SCHED_IDLE: allowed unprivileged) ---- */

static int policy_main_want, policy_second_want;

static void sched_policy_setup(void)
{
	start_second();
	policy_main_want = sched_getscheduler(0);
	policy_second_want = sched_getscheduler(second_tid);
	if (policy_main_want < 0 || policy_second_want < 0)
		die("sched_getscheduler");
}

static void sched_policy_go(void)
{
	struct sched_param p = { 0 };

	if (sched_setscheduler(0, SCHED_BATCH, &p) ||
	    sched_setscheduler(second_tid, SCHED_IDLE, &p))
		die("sched_setscheduler");
	done("");
}

static void sched_policy_check(void)
{
	if (sched_getscheduler(0) != policy_main_want)
		differ("main thread policy %d, want %d", sched_getscheduler(0), policy_main_want);
	if (sched_getscheduler(second_tid) != policy_second_want)
		differ("thread %d policy %d, want %d", second_tid, sched_getscheduler(second_tid),
		       policy_second_want);
}

/* ---- I/O priority ---- */

static long ioprio_want;

static void ioprio_setup(void)
{
	ioprio_want = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	if (ioprio_want < 0)
		die("ioprio_get");
}

static void ioprio_go(void)
{
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << 13))
		die("ioprio_set");
	done("");
}

static void ioprio_check(void)
{
	long now = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);

	if (now != ioprio_want)
		differ("ioprio %#lx, want %#lx", now, ioprio_want);
}

ZDTM_SCENARIO(rlimits, rlimits_setup, rlimits_go, rlimits_check);
ZDTM_SCENARIO(nice, nice_setup, nice_go, nice_check);
ZDTM_SCENARIO(affinity, affinity_setup, affinity_go, affinity_check);
ZDTM_SCENARIO(sched_policy, sched_policy_setup, sched_policy_go, sched_policy_check);
ZDTM_SCENARIO(ioprio, ioprio_setup, ioprio_go, ioprio_check);
