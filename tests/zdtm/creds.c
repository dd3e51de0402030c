// SPDX-License-Identifier: GPL-2.0-only
/*
 * Targets of the fail-closed credential and namespace tests (helpers; run as
 * root): the invocation changes what no rewind can put back from outside.
 *   creds_euid        drops its euid with setresuid
 *   creds_capdrop     drops CAP_NET_RAW from its effective set with capset
 *   creds_thread_uid  one thread (not the main one) changes its euid with the
 *                     raw syscall: glibc's setresuid would change every thread
 *   seccomp_thread    one thread (not the main one) installs a seccomp filter
 *                     without TSYNC: only that thread's status shows it
 *   ns_uts, ns_net    unshare(CLONE_NEWUTS), unshare(CLONE_NEWNET): put back
 *                     (setns into the namespace held since the checkpoint)
 *   ns_user           unshare(CLONE_NEWUSER): no way back to an ancestor
 *   pgrp_new          setpgid(0, 0): a process group of its own
 *   mount_tmpfs       mounts a tmpfs (in a mount namespace of its own, made
 *                     private at setup: the host's table is not touched)
 * With ZDTM_CREDS_SAME set, the invocation makes the same calls with the
 * values it already has: logged, re-read, nothing changed (rewind --verify passes).
 * check compares the changed attribute with its value at setup.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "zdtm.h"

static int cr_same;

static void cr_setup_common(void)
{
	cr_same = getenv("ZDTM_CREDS_SAME") != NULL;
	if (geteuid() != 0)
		die("creds scenarios run as root");
}

/* A field of /proc/self/task/TID/status as a string (up to the newline). */
static void cr_status_field(pid_t tid, const char *key, char *out, size_t len)
{
	char path[64], buf[4096];
	const char *p;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	out[0] = '\0';
	if (read_file(path, buf, sizeof(buf)) < 0)
		return;
	p = strstr(buf, key);
	if (!p)
		return;
	p += strlen(key);
	n = strcspn(p, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* ---- creds_euid ------------------------------------------------------------------ */

static void euid_go(void)
{
	if (syscall(SYS_setresuid, -1, cr_same ? 0 : 65534, -1))
		die("setresuid");
	done("%d", (int)geteuid());
}

static void euid_check(void)
{
	if (geteuid() != 0)
		differ("euid is %d, want 0", (int)geteuid());
}

/* ---- creds_capdrop --------------------------------------------------------------- */

static struct __user_cap_data_struct cap_was[2];

static void capdrop_setup(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	cr_setup_common();
	if (syscall(SYS_capget, &h, cap_was))
		die("capget");
	if (!(cap_was[0].effective & (1U << CAP_NET_RAW)))
		die("CAP_NET_RAW not effective at setup");
}

static void capdrop_go(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memcpy(d, cap_was, sizeof(d));
	if (!cr_same)
		d[0].effective &= ~(1U << CAP_NET_RAW);
	if (syscall(SYS_capset, &h, d))
		die("capset");
	done("%s", cr_same ? "kept" : "dropped");
}

static void capdrop_check(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d)) {
		differ("capget failed");
		return;
	}
	if (memcmp(d, cap_was, sizeof(d)))
		differ("capabilities differ (effective %#x, want %#x)", d[0].effective,
		       cap_was[0].effective);
}

/* ---- creds_thread_uid ------------------------------------------------------------- */

static volatile uint32_t tu_word;	/* 0 wait, 1 change, 2 changed */
static pthread_t tu_thread;
static volatile pid_t tu_tid;
static char tu_uid_was[64];
static const char *tu_field = "\nUid:";	/* the status line the change shows in */
static void (*tu_change)(void);

static void tu_setresuid(void)
{
	/* The raw syscall: only this thread's credentials change. */
	syscall(SYS_setresuid, -1, cr_same ? 0 : 65534, -1);
}

static void *tu_main(void *arg)
{
	tu_tid = gettid_();
	for (;;) {
		while (tu_word != 1)
			futex(&tu_word, FUTEX_WAIT_PRIVATE, tu_word);
		tu_change();
		tu_word = 2;
		futex(&tu_word, FUTEX_WAKE_PRIVATE, 1);
	}
	return arg;
}

static void tu_setup(void)
{
	cr_setup_common();
	if (!tu_change)
		tu_change = tu_setresuid;
	if (pthread_create(&tu_thread, NULL, tu_main, NULL))
		die("pthread_create");
	while (!tu_tid)
		sched_yield();
	if (wait_blocked(tu_tid, nr_futex, 1))
		die("thread never blocked");
	cr_status_field(tu_tid, tu_field, tu_uid_was, sizeof(tu_uid_was));
}

static void tu_go(void)
{
	char uid[64];

	tu_word = 1;
	futex(&tu_word, FUTEX_WAKE_PRIVATE, 1);
	while (tu_word != 2)
		futex(&tu_word, FUTEX_WAIT_PRIVATE, 1);
	tu_word = 0;
	if (wait_blocked(tu_tid, nr_futex, 1))
		die("thread never blocked again");
	cr_status_field(tu_tid, tu_field, uid, sizeof(uid));
	done("main euid %d, thread%s%s", (int)geteuid(), tu_field + 1, uid);
}

static void tu_check(void)
{
	char uid[64];

	cr_status_field(tu_tid, tu_field, uid, sizeof(uid));
	if (strcmp(uid, tu_uid_was))
		differ("thread %d: %s%s, want%s", tu_tid, tu_field + 1, uid, tu_uid_was);
}

/* ---- seccomp_thread -------------------------------------------------------------- */

/*
 * An allow-everything filter: it changes nothing the thread can do, but it can
 * never be removed. The same-values run asks which actions the kernel has
 * instead (a logged seccomp call that changes nothing).
 */
static void sct_change(void)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };
	uint32_t action = SECCOMP_RET_ALLOW;

	if (cr_same)
		syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
	else
		syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void sct_setup(void)
{
	tu_field = "\nSeccomp_filters:";
	tu_change = sct_change;
	tu_setup();
}

/* ---- ns_uts, ns_net --------------------------------------------------------------- */

static ino_t ns_was;
static const char *ns_path;
static int ns_flag;

static void ns_setup(const char *path, int flag)
{
	struct stat st;

	cr_setup_common();
	ns_path = path;
	ns_flag = flag;
	if (stat(path, &st))
		die("stat ns");
	ns_was = st.st_ino;
}

static void ns_uts_setup(void) { ns_setup("/proc/thread-self/ns/uts", CLONE_NEWUTS); }
static void ns_user_setup(void) { ns_setup("/proc/thread-self/ns/user", CLONE_NEWUSER); }
static void ns_net_setup(void) { ns_setup("/proc/thread-self/ns/net", CLONE_NEWNET); }

static void ns_go(void)
{
	if (unshare(cr_same ? 0 : ns_flag))
		die("unshare");
	done("unshared");
}

static void ns_check(void)
{
	struct stat st;

	if (stat(ns_path, &st) || st.st_ino != ns_was)
		differ("%s is not the setup's namespace", ns_path);
}

/* ---- pgrp_new ---------------------------------------------------------------------- */

static pid_t pg_was;

static void pg_setup(void)
{
	cr_setup_common();
	pg_was = getpgid(0);
	if (pg_was == getpid())
		die("already a process group leader: setpgid(0, 0) would change nothing");
}

static void pg_go(void)
{
	if (setpgid(0, cr_same ? pg_was : 0))
		die("setpgid");
	done("%d", (int)getpgid(0));
}

static void pg_check(void)
{
	if (getpgid(0) != pg_was)
		differ("process group %d, want %d", (int)getpgid(0), (int)pg_was);
}

/* ---- mount_tmpfs -------------------------------------------------------------------- */

static char mt_dir[] = "/tmp/zdtm-mount-XXXXXX";
static long mt_was;

static long mt_mounts(void)
{
	static char buf[1 << 18];
	ssize_t n = read_file("/proc/self/mountinfo", buf, sizeof(buf));
	long lines = 0;

	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

static void mt_setup(void)
{
	cr_setup_common();
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("a private mount namespace");
	if (!mkdtemp(mt_dir))
		die("mkdtemp");
	mt_was = mt_mounts();
}

static void mt_go(void)
{
	if (mount("zdtm", mt_dir, "tmpfs", 0, NULL))
		die("mount");
	done("%ld mounts", mt_mounts());
}

static void mt_check(void)
{
	if (mt_mounts() != mt_was)
		differ("%ld mounts, want %ld", mt_mounts(), mt_was);
}

ZDTM_HELPER(creds_euid, cr_setup_common, euid_go, euid_check);
ZDTM_HELPER(creds_capdrop, capdrop_setup, capdrop_go, capdrop_check);
ZDTM_HELPER(creds_thread_uid, tu_setup, tu_go, tu_check);
ZDTM_HELPER(seccomp_thread, sct_setup, tu_go, tu_check);
ZDTM_HELPER(pgrp_new, pg_setup, pg_go, pg_check);
ZDTM_HELPER(mount_tmpfs, mt_setup, mt_go, mt_check);
ZDTM_HELPER(ns_uts, ns_uts_setup, ns_go, ns_check);
ZDTM_HELPER(ns_user, ns_user_setup, ns_go, ns_check);
ZDTM_HELPER(ns_net, ns_net_setup, ns_go, ns_check);
