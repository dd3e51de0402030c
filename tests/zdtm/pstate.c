// SPDX-License-Identifier: GPL-2.0-only
/*
 * State only the process itself can read or set (rewind/pstate.h):
 * personality, parent-death signal, timer slack, sigaltstack (per thread),
 * dumpable, child subreaper, THP disable (per process), and keys linked
 * into the process and thread keyrings. Helpers for the fail-closed tests:
 *   keys_session  links a key into its session keyring (its own, joined at
 *                 setup so no other process's keyring is touched)
 *   prctl_tsc     prctl(PR_SET_TSC, PR_TSC_SIGSEGV): no rewind step undoes it
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtm.h"

#define KEY_SPEC_THREAD_KEYRING		-1
#define KEY_SPEC_PROCESS_KEYRING	-2
#define KEY_SPEC_SESSION_KEYRING	-3
#define KEYCTL_JOIN_SESSION_KEYRING	1
#define KEYCTL_SEARCH			10
#ifndef SS_AUTODISARM
#define SS_AUTODISARM			(1U << 31)
#endif

static long want;

/* ---- personality ---- */

static void personality_setup(void)
{
	want = personality(0xffffffff);
}

static void personality_go(void)
{
	if (personality(want | ADDR_NO_RANDOMIZE | READ_IMPLIES_EXEC) < 0)
		die("personality");
	done("");
}

static void personality_check(void)
{
	long now = personality(0xffffffff);

	if (now != want)
		differ("personality %#lx, want %#lx", now, want);
}

/* ---- prctl state: one int each, read back with its PR_GET ---- */

static int prctl_int(int option)
{
	int v = 0;

	if (prctl(option, &v, 0, 0, 0))
		die("prctl get");
	return v;
}

static void pdeathsig_setup(void) { want = prctl_int(PR_GET_PDEATHSIG); }
static void pdeathsig_go(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0))
		die("PR_SET_PDEATHSIG");
	done("");
}
static void pdeathsig_check(void)
{
	if (prctl_int(PR_GET_PDEATHSIG) != want)
		differ("pdeathsig %d, want %ld", prctl_int(PR_GET_PDEATHSIG), want);
}

static void subreaper_setup(void) { want = prctl_int(PR_GET_CHILD_SUBREAPER); }
static void subreaper_go(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, !want, 0, 0, 0))
		die("PR_SET_CHILD_SUBREAPER");
	done("");
}
static void subreaper_check(void)
{
	if (prctl_int(PR_GET_CHILD_SUBREAPER) != want)
		differ("child subreaper %d, want %ld", prctl_int(PR_GET_CHILD_SUBREAPER), want);
}

static void timerslack_setup(void) { want = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0); }
static void timerslack_go(void)
{
	if (prctl(PR_SET_TIMERSLACK, want + 123457, 0, 0, 0))
		die("PR_SET_TIMERSLACK");
	done("");
}
static void timerslack_check(void)
{
	long now = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (now != want)
		differ("timer slack %ld ns, want %ld", now, want);
}

static void thp_disable_setup(void) { want = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0); }
static void thp_disable_go(void)
{
	if (prctl(PR_SET_THP_DISABLE, !want, 0, 0, 0))
		die("PR_SET_THP_DISABLE");
	done("");
}
static void thp_disable_check(void)
{
	long now = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);

	if (now != want)
		differ("THP disable %ld, want %ld", now, want);
}

static void dumpable_setup(void) { want = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
static void dumpable_go(void)
{
	if (prctl(PR_SET_DUMPABLE, !want, 0, 0, 0))
		die("PR_SET_DUMPABLE");
	done("");
}
static void dumpable_check(void)
{
	long now = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

	if (now != want)
		differ("dumpable %ld, want %ld", now, want);
}

/* ---- sigaltstack: one at setup, another one installed by the invocation ---- */

static char *alt;

static void sigaltstack_setup(void)
{
	stack_t ss = { .ss_size = 4 * PAGE };

	alt = map_anon(8 * PAGE);
	ss.ss_sp = alt;
	if (sigaltstack(&ss, NULL))
		die("sigaltstack");
}

static void sigaltstack_go(void)
{
	stack_t ss = { .ss_sp = alt + 4 * PAGE, .ss_size = 4 * PAGE, .ss_flags = SS_AUTODISARM };

	if (sigaltstack(&ss, NULL))
		die("sigaltstack");
	done("");
}

static void sigaltstack_check(void)
{
	stack_t now;

	if (sigaltstack(NULL, &now))
		die("sigaltstack");
	if (now.ss_sp != alt || now.ss_size != 4 * PAGE || now.ss_flags)
		differ("sigaltstack %p+%zu flags %#x, want %p+%lu flags 0", now.ss_sp, now.ss_size,
		       now.ss_flags, (void *)alt, 4 * PAGE);
}

/* ---- keys: one in the process keyring at setup; the invocation adds two secrets ---- */

static long add_key(const char *desc, int keyring)
{
	return syscall(SYS_add_key, "user", desc, "secret", 6, keyring);
}

/* Whether desc is found searching keyring (and what it links). */
static int key_found(int keyring, const char *desc)
{
	long k = syscall(SYS_keyctl, KEYCTL_SEARCH, keyring, "user", desc, 0);

	if (k < 0 && errno != ENOKEY && errno != ENOENT && errno != EKEYREVOKED)
		die("keyctl search");
	return k >= 0;
}

static void keys_setup(void)
{
	if (add_key("keep", KEY_SPEC_PROCESS_KEYRING) < 0) {
		if (errno == ENOSYS)
			die("keys: CONFIG_KEYS off");
		die("add_key");
	}
}

static void keys_go(void)
{
	if (add_key("secret-process", KEY_SPEC_PROCESS_KEYRING) < 0 ||
	    add_key("secret-thread", KEY_SPEC_THREAD_KEYRING) < 0)
		die("add_key");
	done("");
}

static void keys_check(void)
{
	if (!key_found(KEY_SPEC_PROCESS_KEYRING, "keep"))
		differ("key 'keep' gone from the process keyring");
	else if (key_found(KEY_SPEC_PROCESS_KEYRING, "secret-process"))
		differ("key 'secret-process' still in the process keyring");
	else if (key_found(KEY_SPEC_THREAD_KEYRING, "secret-thread"))
		differ("key 'secret-thread' still in the thread keyring");
}

static void keys_session_setup(void)
{
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
		die("joining a session keyring of its own");
}

static void keys_session_go(void)
{
	if (add_key("secret-session", KEY_SPEC_SESSION_KEYRING) < 0)
		die("add_key");
	done("");
}

static void keys_session_check(void)
{
	if (key_found(KEY_SPEC_SESSION_KEYRING, "secret-session"))
		differ("key 'secret-session' in the session keyring");
}

/* ---- a prctl no step undoes ---- */

static void tsc_go(void)
{
	if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0))
		die("PR_SET_TSC");
	done("");
}

static void tsc_check(void)
{
	int v = prctl_int(PR_GET_TSC);

	if (v != PR_TSC_ENABLE)
		differ("TSC mode %d, want PR_TSC_ENABLE", v);
}

ZDTM_SCENARIO(personality, personality_setup, personality_go, personality_check);
ZDTM_SCENARIO(pdeathsig, pdeathsig_setup, pdeathsig_go, pdeathsig_check);
ZDTM_SCENARIO(subreaper, subreaper_setup, subreaper_go, subreaper_check);
ZDTM_SCENARIO(timerslack, timerslack_setup, timerslack_go, timerslack_check);
ZDTM_SCENARIO(thp_disable, thp_disable_setup, thp_disable_go, thp_disable_check);
ZDTM_SCENARIO(dumpable, dumpable_setup, dumpable_go, dumpable_check);
ZDTM_SCENARIO(sigaltstack, sigaltstack_setup, sigaltstack_go, sigaltstack_check);
ZDTM_SCENARIO(keys, keys_setup, keys_go, keys_check);
ZDTM_HELPER(keys_session, keys_session_setup, keys_session_go, keys_session_check);
ZDTM_HELPER(prctl_tsc, NULL, tsc_go, tsc_check);
