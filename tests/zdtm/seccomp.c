// SPDX-License-Identifier: GPL-2.0-only
/*
 * seccomp_kill, seccomp_errno: a process under a seccomp filter, as every
 * container runtime installs one. rewindd injects userfaultfd() and the
 * rewind's own syscalls with the filter suspended while it holds the process
 * (PTRACE_O_SUSPEND_SECCOMP); the filter must apply again once it lets go.
 *   seccomp_kill   kills the process on userfaultfd() (SECCOMP_RET_KILL_PROCESS)
 *   seccomp_errno  like podman's default profile: EPERM for userfaultfd and
 *                  other syscalls containers are denied
 * The invocation writes a region, bumps a counter and maps a new region. The
 * check also asks: is the filter still installed, and (errno variant) does
 * this thread's own userfaultfd() still get EPERM? With ZDTM_SECCOMP_TRIGGER
 * set to a path, an invocation that finds that file calls userfaultfd() itself
 * (test_rewind.sh: the kill variant must die of it after a release).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "zdtm.h"

#define SC_REGION_PAGES 8
#define SC_NEW_PAGES 3

static char *sc_region;
static char *sc_new;
static volatile long sc_counter;
static const char *sc_trigger;

/* Denied with EPERM here, as podman's default profile denies them (not all of its list). */
static const int sc_denied[] = {
	SYS_userfaultfd, SYS_ptrace, SYS_bpf, SYS_perf_event_open, SYS_kexec_load,
	SYS_add_key, SYS_keyctl, SYS_mount, SYS_umount2, SYS_unshare, SYS_setns,
	SYS_process_vm_writev, SYS_open_by_handle_at, SYS_init_module,
};
#define SC_NDENIED (sizeof(sc_denied) / sizeof(sc_denied[0]))

static void sc_install(int kill)
{
	/* arch: load, jump, kill; load nr; one jump per denied syscall; allow; deny */
	struct sock_filter code[4 + SC_NDENIED + 2];
	struct sock_fprog prog = { .filter = code };
	unsigned int n = 0;

	code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						 offsetof(struct seccomp_data, arch));
	code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						 offsetof(struct seccomp_data, nr));
	if (kill) {
		code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 1, 0);
	} else {
		/* Each match jumps to the deny at the end. */
		for (unsigned int i = 0; i < SC_NDENIED; i++)
			code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sc_denied[i],
								 SC_NDENIED - i, 0);
	}
	code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						 kill ? SECCOMP_RET_KILL_PROCESS :
							SECCOMP_RET_ERRNO | EPERM);
	prog.len = n;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		die("seccomp");
}

static void sc_setup(int kill)
{
	sc_trigger = getenv("ZDTM_SECCOMP_TRIGGER");
	sc_region = map_anon(SC_REGION_PAGES * PAGE);
	fill(sc_region, SC_REGION_PAGES * PAGE, 1);
	sc_counter = 1000;
	sc_new = NULL;
	sc_install(kill);
}

static void sc_setup_kill(void) { sc_setup(1); }
static void sc_setup_errno(void) { sc_setup(0); }

static void sc_go(void)
{
	if (sc_trigger && !access(sc_trigger, F_OK))
		syscall(SYS_userfaultfd, O_CLOEXEC);	/* the kill variant dies here */
	fill(sc_region, SC_REGION_PAGES * PAGE, 2);
	sc_counter++;
	sc_new = map_anon(SC_NEW_PAGES * PAGE);
	memset(sc_new, 0x5a, SC_NEW_PAGES * PAGE);
	done("%ld", sc_counter);
}

/* Seccomp: 2 in our own status: the filter is still there. */
static void sc_check_filter(void)
{
	char buf[4096];
	const char *p;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0) {
		differ("cannot read /proc/self/status");
		return;
	}
	p = strstr(buf, "\nSeccomp:");
	if (!p || atoi(p + strlen("\nSeccomp:")) != 2)
		differ("Seccomp in status is not 2: the filter is gone");
}

static void sc_check(void)
{
	check_fill("region", sc_region, SC_REGION_PAGES * PAGE, 1);
	if (sc_counter != 1000)
		differ("counter is %ld, want 1000", sc_counter);
	if (sc_new)
		differ("the invocation's mapping pointer %p is still set", (void *)sc_new);
	sc_check_filter();
}

static void sc_check_errno(void)
{
	long fd;

	sc_check();
	/* Suspension ends with the release: our own call meets the filter again. */
	fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		differ("userfaultfd() returned an fd: the filter does not apply");
	} else if (errno != EPERM) {
		differ("userfaultfd() failed with errno %d, want EPERM from the filter", errno);
	}
}

/* seccomp_late: no filter at the checkpoint; the invocation installs one (fail closed). */
static void sc_late_go(void)
{
	sc_install(0);
	done("filtered");
}

ZDTM_HELPER(seccomp_late, NULL, sc_late_go, NULL);
ZDTM_SCENARIO(seccomp_kill, sc_setup_kill, sc_go, sc_check);
ZDTM_SCENARIO(seccomp_errno, sc_setup_errno, sc_go, sc_check_errno);
