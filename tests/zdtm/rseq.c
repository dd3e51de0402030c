// SPDX-License-Identifier: GPL-2.0-only
/*
 * rseq registration, which the kernel keeps per thread. A thread that a
 * checkpoint catches before its C library registered one (a pool thread
 * just started) registers during the invocation; put back as it was, it
 * would register again after the rewind and the kernel would refuse (glibc
 * aborts). Both directions, on the main thread, with glibc's own area:
 *   rseq_register    unregistered at the checkpoint, registered by the invocation
 *   rseq_unregister  registered at the checkpoint, unregistered by the invocation
 */
#include <errno.h>
#include <signal.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtm.h"

#define RSEQ_FLAG_UNREGISTER	1

static struct rseq *area(void)
{
	if (!__rseq_size)
		die("glibc did not register rseq (glibc.pthread.rseq=0?)");
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/* glibc 2.35+ registers its area with the length of struct rseq's storage, 32. */
static long rseq_call(int flags)
{
	return syscall(SYS_rseq, area(), 32, flags, RSEQ_SIG);
}

static void on_probe(int sig)
{
	(void)sig;
}

static void probe_setup(void)
{
	struct sigaction sa = { .sa_handler = on_probe };

	if (sigaction(SIGRTMIN + 7, &sa, NULL))
		die("sigaction");
}

/*
 * Whether the thread is registered, without changing anything: the kernel
 * writes a registered area's cpu_id when it delivers a signal, so a value no
 * CPU has is overwritten only then, and put back after.
 */
static int registered(void)
{
	volatile struct rseq *r = area();
	uint32_t was = r->cpu_id;
	int yes;

	r->cpu_id = RSEQ_CPU_ID_REGISTRATION_FAILED;
	if (raise(SIGRTMIN + 7))
		die("raise");
	yes = r->cpu_id != (uint32_t)RSEQ_CPU_ID_REGISTRATION_FAILED;
	if (!yes)
		r->cpu_id = was;
	return yes;
}

static void unregister_setup(void)
{
	probe_setup();
	if (rseq_call(RSEQ_FLAG_UNREGISTER))
		die("rseq unregister");
	if (registered())
		die("the probe sees an unregistered rseq as registered");
}

static void register_go(void)
{
	if (rseq_call(0))
		die("rseq register");
	done("");
}

static void register_check(void)
{
	if (registered())
		differ("rseq registered since the checkpoint is still registered");
}

static void unregister_go(void)
{
	if (rseq_call(RSEQ_FLAG_UNREGISTER))
		die("rseq unregister");
	done("");
}

static void registered_setup(void)
{
	probe_setup();
	if (!registered())
		die("the probe does not see glibc's rseq registration");
}

static void unregister_check(void)
{
	if (!registered())
		differ("rseq unregistered since the checkpoint was not registered again");
}

ZDTM_SCENARIO(rseq_register, unregister_setup, register_go, register_check);
ZDTM_SCENARIO(rseq_unregister, registered_setup, unregister_go, unregister_check);
