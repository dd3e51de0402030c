// SPDX-License-Identifier: GPL-2.0-only
/* /proc parsing on fixture text, plus the read wrappers on this very process. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "proc.h"

static const char maps_text[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 fe:00 332835                     /usr/bin/prog\n"
	"55d0c0a01000-55d0c0a02000 rw-p 00001000 fe:00 332835                     /usr/bin/prog\n"
	"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n"
	"7f0000004000-7f0000005000 rw-s 00000000 00:05 12                         /dev/shm/my  file (deleted)\n"
	"7f0000005000-7f0000006000 ---p 00000000 00:00 0\n"
	"7f0000006000-7f0000008000 r-xp 0001a000 103:02 4294967296               /lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"7ffc000fe000-7ffc00100000 r-xp 00000000 00:00 0                          [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";	/* no final newline */

static void parse_maps_fields(void **state)
{
	struct rw_maps m = { 0 };

	assert_int_equal(proc_parse_maps(maps_text, &m), 0);
	assert_int_equal(m.n, 10);

	assert_int_equal(m.v[0].start, 0x55d0c0a00000);
	assert_int_equal(m.v[0].end, 0x55d0c0a01000);
	assert_int_equal(m.v[0].prot, PROT_READ);
	assert_false(m.v[0].shared);
	assert_string_equal(m.v[0].name, "/usr/bin/prog");
	assert_false(rw_vma_private_writable(&m.v[0]));

	assert_int_equal(m.v[1].prot, PROT_READ | PROT_WRITE);
	assert_int_equal(m.v[1].offset, 0x1000);
	assert_int_equal(m.v[1].dev_major, 0xfe);
	assert_int_equal(m.v[1].dev_minor, 0);
	assert_int_equal(m.v[1].inode, 332835);
	assert_true(rw_vma_private_writable(&m.v[1]));

	assert_string_equal(m.v[2].name, "[heap]");
	assert_true(rw_vma_private_writable(&m.v[2]));

	/* Anonymous: no name, with or without the kernel's trailing blank. */
	assert_string_equal(m.v[3].name, "");
	assert_true(rw_vma_private_writable(&m.v[3]));
	assert_string_equal(m.v[5].name, "");
	assert_int_equal(m.v[5].prot, 0);

	/* Inner spaces (even two) and "(deleted)" stay part of the name. */
	assert_string_equal(m.v[4].name, "/dev/shm/my  file (deleted)");
	assert_true(m.v[4].shared);
	assert_false(rw_vma_private_writable(&m.v[4]));

	/* Three-digit major, inode past 32 bits. */
	assert_int_equal(m.v[6].prot, PROT_READ | PROT_EXEC);
	assert_int_equal(m.v[6].offset, 0x1a000);
	assert_int_equal(m.v[6].dev_major, 0x103);
	assert_int_equal(m.v[6].dev_minor, 2);
	assert_int_equal(m.v[6].inode, 4294967296ULL);

	assert_string_equal(m.v[7].name, "[stack]");
	assert_string_equal(m.v[8].name, "[vdso]");
	assert_string_equal(m.v[9].name, "[vsyscall]");
	assert_int_equal(m.v[9].start, 0xffffffffff600000ULL);
	assert_int_equal(m.v[9].prot, PROT_EXEC);
	proc_maps_free(&m);
	assert_null(m.v);
	assert_int_equal(m.n, 0);
}

static void parse_maps_long_name_and_blank_lines(void **state)
{
	struct rw_maps m = { 0 };
	char name[400], text[600];

	memset(name, 'a', sizeof(name) - 1);
	name[0] = '/';
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "\n1000-2000 rw-p 00000000 08:01 7 %s\n\n3000-4000 r--p 0 0:0 0\n",
		 name);
	assert_int_equal(proc_parse_maps(text, &m), 0);
	assert_int_equal(m.n, 2);
	/* Truncated to the buffer, NUL-terminated. */
	assert_int_equal(strlen(m.v[0].name), sizeof(m.v[0].name) - 1);
	assert_memory_equal(m.v[0].name, name, sizeof(m.v[0].name) - 1);
	assert_int_equal(m.v[1].start, 0x3000);

	/* out is reused: emptied first. */
	assert_int_equal(proc_parse_maps("5000-6000 rw-p 00000000 00:00 0\n", &m), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.v[0].start, 0x5000);
	assert_int_equal(proc_parse_maps("", &m), 0);
	assert_int_equal(m.n, 0);
	proc_maps_free(&m);
}

static void parse_maps_malformed(void **state)
{
	static const char *const bad[] = {
		"zz00-2000 rw-p 00000000 00:00 0\n",		/* not hex */
		"1000 2000 rw-p 00000000 00:00 0\n",		/* no dash */
		"1000-2000 rw-p 00000000 00:00\n",		/* no inode */
		"1000-2000 rw-p 00000000 00:00 ",		/* no inode, blank */
		"1000-2000 rwzp 00000000 00:00 0\n",		/* bad perms */
		"1000-2000 rw-q 00000000 00:00 0\n",		/* neither p nor s */
		"1000-2000 rw- 00000000 00:00 0\n",		/* short perms */
		"1000-2000 rw-p 00000000 0000 0\n",		/* no major:minor */
		"1000-2000 rw-p 00000000 00:00 12x /foo\n",	/* junk on the inode */
		"1000-2000 rw-p 00000000 00:00 -1\n",		/* signed inode */
		"2000-1000 rw-p 00000000 00:00 0\n",		/* end before start */
		"1000-1000 rw-p 00000000 00:00 0\n",		/* empty */
		"10000000000000000-10000000000000001 rw-p 0 00:00 0\n",	/* 65 bits */
		"1000-2000 rw-p 00000000 100000000:00 0\n",	/* major over 32 bits */
		"3000-4000 rw-p 0 00:00 0\n1000-2000 rw-p 0 00:00 0\n",	/* out of order */
		"1000-3000 rw-p 0 00:00 0\n2000-4000 rw-p 0 00:00 0\n",	/* overlapping */
		"1000-2000 rw-p 0 00:00 0\ngarbage\n",		/* a good line, then junk */
		" 1000-2000 rw-p 0 00:00 0\n",			/* leading blank */
	};
	struct rw_maps m = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = proc_parse_maps(bad[i], &m);

		if (err != -EINVAL)
			fail_msg("accepted (%d): %s", err, bad[i]);
		assert_int_equal(m.n, 0);
	}
	proc_maps_free(&m);
}

static void find(void **state)
{
	struct rw_maps m = { 0 };

	assert_int_equal(proc_maps_find(&m, 0x1000), -1);	/* empty */
	assert_int_equal(proc_parse_maps(maps_text, &m), 0);
	assert_int_equal(proc_maps_find(&m, 0), -1);
	assert_int_equal(proc_maps_find(&m, 0x55d0c09fffff), -1);
	assert_int_equal(proc_maps_find(&m, 0x55d0c0a00000), 0);
	assert_int_equal(proc_maps_find(&m, 0x55d0c0a00fff), 0);
	assert_int_equal(proc_maps_find(&m, 0x55d0c0a01000), 1);	/* adjacent */
	assert_int_equal(proc_maps_find(&m, 0x55d0c0a02000), -1);	/* gap */
	assert_int_equal(proc_maps_find(&m, 0x55d0c1000000), 2);
	assert_int_equal(proc_maps_find(&m, 0x55d0c1020fff), 2);
	assert_int_equal(proc_maps_find(&m, 0x55d0c1021000), -1);
	assert_int_equal(proc_maps_find(&m, 0x7f0000004800), 4);
	assert_int_equal(proc_maps_find(&m, 0x7ffc00010000), 7);
	assert_int_equal(proc_maps_find(&m, 0xffffffffff600000ULL), 9);
	assert_int_equal(proc_maps_find(&m, 0xffffffffff601000ULL), -1);
	assert_int_equal(proc_maps_find(&m, UINT64_MAX), -1);
	proc_maps_free(&m);
}

static const char status_text[] =
	"Name:\tmy prog x\n"
	"Umask:\t0022\n"
	"State:\tS (sleeping)\n"
	"Tgid:\t4242\n"
	"Ngid:\t0\n"
	"Pid:\t4243\n"
	"PPid:\t1\n"
	"TracerPid:\t0\n"
	"Uid:\t1000\t1001\t1002\t1003\n"
	"Gid:\t2000\t2001\t2002\t4294967294\n"
	"FDSize:\t64\n"
	"Groups:\t27 100 \n"
	"NStgid:\t4242\n"
	"NSpid:\t4243\t12\t7 \n"
	"VmRSS:\t    1234 kB\n"
	"Threads:\t7\n"
	"SigQ:\t0/63397\n"
	"ShdPnd:\t0000000000002000\n"
	"SigIgn:\t0000000000001000\n"
	"SigCgt:\t0000000180004002\n"
	"CapPrm:\t00000000a80425fb\n"
	"Seccomp:\t2\n";

static void parse_status(void **state)
{
	struct rw_proc_status st;

	assert_int_equal(proc_parse_status(status_text, &st), 0);
	assert_string_equal(st.name, "my prog x");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.tgid, 4242);
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.uid[0], 1000);
	assert_int_equal(st.uid[1], 1001);
	assert_int_equal(st.uid[2], 1002);
	assert_int_equal(st.uid[3], 1003);
	assert_int_equal(st.gid[0], 2000);
	assert_int_equal(st.gid[3], 4294967294U);
	assert_int_equal(st.threads, 7);
	assert_int_equal(st.ns_pid, 7);	/* the innermost namespace's */
	assert_int_equal(st.cap_prm, 0xa80425fbULL);
	assert_int_equal(st.seccomp, 2);
	assert_int_equal(st.umask, 022);
	assert_int_equal(st.sig_ignored, 1ULL << (SIGPIPE - 1));
	assert_int_equal(st.sig_caught, 0x180004002ULL);
	assert_int_equal(st.sig_pending_shared, 1ULL << (SIGALRM - 1));

	/* A zombie's status, a long name truncated to comm's 15 characters. */
	assert_int_equal(proc_parse_status("Name:\tabcdefghijklmnopq\nState:\tZ (zombie)\n"
					   "Tgid:\t9\nPPid:\t8\nUid:\t0\t0\t0\t0\n"
					   "Gid:\t0\t0\t0\t0\nThreads:\t1\n", &st), 0);
	assert_string_equal(st.name, "abcdefghijklmno");
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.uid[0], 0);
	assert_int_equal(st.seccomp, -1);	/* absent */
	assert_int_equal(st.cap_prm, 0);
	assert_int_equal(st.umask, -1);
	assert_int_equal(st.ns_pid, 0);
}

static void pidfd_fdinfo(void **state)
{
	pid_t pid = 0;
	char label[RW_PID_LABEL_MAX], want[32];
	int fd;

	assert_int_equal(proc_parse_pidfd_fdinfo("pos:\t0\nflags:\t02000002\nmnt_id:\t15\n"
						 "ino:\t2052\nPid:\t4242\nNSpid:\t4242\t7\n", &pid), 0);
	assert_int_equal(pid, 4242);
	assert_int_equal(proc_parse_pidfd_fdinfo("pos:\t0\nPid:\t-1\nNSpid:\t-1\n", &pid), 0);
	assert_int_equal(pid, -1);	/* exited */
	assert_int_equal(proc_parse_pidfd_fdinfo("pos:\t0\nPid:\t0\n", &pid), 0);
	assert_int_equal(pid, 0);	/* not in our namespace */
	/* A regular file's fdinfo has no Pid: line. */
	assert_int_equal(proc_parse_pidfd_fdinfo("pos:\t0\nflags:\t0100000\nmnt_id:\t29\n", &pid),
			 -EBADF);
	assert_int_equal(proc_parse_pidfd_fdinfo("Pid:\tx\n", &pid), -EINVAL);
	assert_int_equal(proc_parse_pidfd_fdinfo("Pid:\t-5\n", &pid), -EINVAL);

	fd = syscall(SYS_pidfd_open, getpid(), 0);
	assert_true(fd >= 0);
	assert_int_equal(proc_pidfd_pid(fd, &pid), 0);
	assert_int_equal(pid, getpid());
	close(fd);
	assert_int_equal(proc_pidfd_pid(0, &pid) == 0, 0);	/* stdin is no pidfd */
	/* In our own namespace the label is the pid alone. */
	snprintf(want, sizeof(want), "%d", getpid());
	assert_string_equal(proc_pid_label(getpid(), label, sizeof(label)), want);
}

static void parse_status_malformed(void **state)
{
	struct rw_proc_status st;
	char text[sizeof(status_text) + 64];
	static const char *const edits[][2] = {
		{ "Threads:\t7\n", "" },			/* missing field */
		{ "Name:\tmy prog x\n", "" },
		{ "Uid:\t1000\t1001\t1002\t1003\n", "Uid:\t1000\t1001\t1002\n" },	/* 3 ids */
		{ "Uid:\t1000\t1001\t1002\t1003\n", "Uid:\t1000\t1001\t1002\t1003\t5\n" },
		{ "Tgid:\t4242\n", "Tgid:\tx\n" },
		{ "PPid:\t1\n", "PPid:\t-1\n" },
		{ "Gid:\t2000\t2001\t2002\t4294967294\n", "Gid:\t2000\t2001\t2002\t4294967296\n" },
		{ "State:\tS (sleeping)\n", "State:\n" },
		{ "Umask:\t0022\n", "Umask:\t0999\n" },
		{ "SigIgn:\t0000000000001000\n", "SigIgn:\tzz\n" },
		{ "NSpid:\t4243\t12\t7 \n", "NSpid:\t4243\t12\tx\n" },
	};

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(status_text, edits[i][0]);

		assert_non_null(at);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - status_text), status_text,
			 edits[i][1], at + strlen(edits[i][0]));
		if (proc_parse_status(text, &st) != -EINVAL)
			fail_msg("accepted edit %zu: %s", i, text);
	}
	assert_int_equal(proc_parse_status("", &st), -EINVAL);
}

/* ready: thread -> main; go: main -> thread. */
static int ready_fds[2], go_fds[2];

static void *blocked_thread(void *arg)
{
	char c;

	prctl(PR_SET_NAME, "worker two", 0, 0, 0);
	*(pid_t *)arg = gettid();
	if (write(ready_fds[1], "r", 1) != 1 || read(go_fds[0], &c, 1) != 1)
		return (void *)1;
	return NULL;
}

/* The wrappers, on this process. */
static void read_self(void **state)
{
	struct rw_maps m = { 0 };
	struct rw_proc_status st;
	int on_stack = 1;
	pid_t tid = 0, *tids;
	pthread_t th;
	char comm[16], c;
	void *heap = malloc(64), *ret;
	ssize_t i;
	size_t n;

	assert_int_equal(proc_read_maps(getpid(), &m), 0);
	i = proc_maps_find(&m, (uintptr_t)&on_stack);
	assert_true(i >= 0);
	assert_true(rw_vma_private_writable(&m.v[i]));
	assert_true(proc_maps_find(&m, (uintptr_t)heap) >= 0);
	i = proc_maps_find(&m, (uintptr_t)&read_self);
	assert_true(i >= 0);
	assert_true(m.v[i].prot & PROT_EXEC);
	proc_maps_free(&m);
	free(heap);

	assert_int_equal(proc_read_status(getpid(), &st), 0);
	assert_int_equal(st.tgid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.uid[0], getuid());
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.threads, 1);

	/* A second thread: listed in order, with its own comm. */
	assert_int_equal(pipe(ready_fds), 0);
	assert_int_equal(pipe(go_fds), 0);
	assert_int_equal(pthread_create(&th, NULL, blocked_thread, &tid), 0);
	assert_int_equal(read(ready_fds[0], &c, 1), 1);
	assert_int_equal(proc_list_threads(getpid(), &tids, &n), 0);
	assert_int_equal(n, 2);
	assert_true(tids[0] < tids[1]);
	assert_true((tids[0] == getpid() && tids[1] == tid) || (tids[1] == getpid() && tids[0] == tid));
	free(tids);
	assert_int_equal(proc_read_comm(getpid(), tid, comm), 0);
	assert_string_equal(comm, "worker two");
	assert_int_equal(proc_read_status(getpid(), &st), 0);
	assert_int_equal(st.threads, 2);
	assert_int_equal(write(go_fds[1], "x", 1), 1);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	for (int k = 0; k < 2; k++) {
		close(ready_fds[k]);
		close(go_fds[k]);
	}

	assert_int_equal(prctl(PR_SET_NAME, "test-proc-self", 0, 0, 0), 0);
	assert_int_equal(proc_read_comm(getpid(), 0, comm), 0);
	assert_string_equal(comm, "test-proc-self");
	assert_int_equal(proc_read_comm(getpid(), getpid(), comm), 0);
	assert_string_equal(comm, "test-proc-self");
}

/* smaps as the kernel writes it, trimmed: a header per vma, then its fields. */
static const char smaps_text[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 fe:00 332835                     /usr/bin/prog\n"
	"Size:                  4 kB\n"
	"FilePmdMapped:         0 kB\n"
	"VmFlags: rd mr mw me sd \n"
	"7f0000000000-7f0000004000 rw-p 00000000 00:00 0 \n"
	"Size:                 16 kB\n"
	"Rss:                   4 kB\n"
	"VmFlags: rd wr mr mw me ac wf sd\n"
	"7f0000004000-7f0000005000 rw-p 00000000 00:00 0 \n"
	"Size:                  4 kB\n"
	"VmFlags: rd wr mr mw me ac sd wfx \n"
	"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"AnonHugePages:         0 kB\n"
	"VmFlags: rd wr mr mw me gd ac wf\n";

/* "wf" as a whole flag only, at the end of the line too; the layout as maps would give it. */
static void parse_smaps(void **state)
{
	struct rw_maps m = { 0 }, plain = { 0 };
	char *bad;

	assert_int_equal(proc_parse_smaps(smaps_text, &m), 0);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.v[0].start, 0x55d0c0a00000);
	assert_string_equal(m.v[0].name, "/usr/bin/prog");
	assert_int_equal(m.v[3].end, 0x7ffc00021000);
	assert_string_equal(m.v[3].name, "[stack]");
	assert_false(m.v[0].wipeonfork);
	assert_true(m.v[1].wipeonfork);
	assert_false(m.v[2].wipeonfork);	/* "wfx" is not "wf" */
	assert_true(m.v[3].wipeonfork);		/* last on its line, no blank after it */
	/* maps text never marks a vma, and a reused buffer forgets old marks. */
	assert_int_equal(proc_parse_maps(maps_text, &plain), 0);
	for (size_t i = 0; i < plain.n; i++)
		assert_false(plain.v[i].wipeonfork);
	assert_int_equal(proc_parse_maps(maps_text, &m), 0);
	for (size_t i = 0; i < m.n; i++)
		assert_false(m.v[i].wipeonfork);

	/* Flags before any vma; vmas out of order. */
	assert_int_equal(proc_parse_smaps("VmFlags: rd wr wf\n", &m), -EINVAL);
	assert_int_equal(m.n, 0);
	bad = strdup(smaps_text);
	memcpy(strstr(bad, "7f0000004000-7f0000005000"), "7f0000002000-7f0000005000", 25);
	assert_int_equal(proc_parse_smaps(bad, &m), -EINVAL);
	free(bad);
	proc_maps_free(&m);
	proc_maps_free(&plain);
}

/* This process's smaps: a page marked MADV_WIPEONFORK is wf, its neighbour is not. */
static void read_smaps_self(void **state)
{
	struct rw_maps m = { 0 };
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ssize_t i;

	assert_true(p != MAP_FAILED);
	assert_int_equal(madvise(p + 4096, 4096, MADV_WIPEONFORK), 0);
	assert_int_equal(proc_read_smaps(getpid(), &m), 0);
	i = proc_maps_find(&m, (uintptr_t)p + 4096);
	assert_true(i >= 0);
	assert_true(m.v[i].wipeonfork);
	assert_int_equal(m.v[i].start, (uintptr_t)p + 4096);
	assert_int_equal(m.v[i].end, (uintptr_t)p + 2 * 4096);
	i = proc_maps_find(&m, (uintptr_t)p);
	assert_true(i >= 0);
	assert_false(m.v[i].wipeonfork);
	assert_int_equal(proc_read_smaps(0x7ffffff0, &m), -ESRCH);
	proc_maps_free(&m);
	munmap(p, 3 * 4096);
}

static void read_gone(void **state)
{
	/* Above any pid_max: never exists. */
	const pid_t none = 0x7ffffff0;
	struct rw_maps m = { 0 };
	struct rw_proc_status st;
	char comm[16];
	pid_t *tids;
	size_t n;

	assert_int_equal(proc_read_maps(none, &m), -ESRCH);
	assert_int_equal(m.n, 0);
	assert_int_equal(proc_read_status(none, &st), -ESRCH);
	assert_int_equal(proc_read_comm(none, none, comm), -ESRCH);
	assert_int_equal(proc_list_threads(none, &tids, &n), -ESRCH);
	assert_null(tids);
	assert_int_equal(n, 0);
	proc_maps_free(&m);
}

/*
 * A zombie's fd table is gone but its /proc entry is not: the listing is
 * empty, not an error (a target killed while rewindd verifies it). Under
 * UBSan this once ended rewindd: qsort was handed the list's NULL.
 */
static void list_fds_of_zombie(void **state)
{
	int fds_pipe[2];
	int *fds = (int *)1;
	size_t n = 99;
	pid_t child;
	char c;

	assert_int_equal(pipe(fds_pipe), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	close(fds_pipe[1]);
	/* The child's end closed when it exited: EOF says it is a zombie now. */
	assert_int_equal(read(fds_pipe[0], &c, 1), 0);
	close(fds_pipe[0]);
	assert_int_equal(proc_list_fds(child, &fds, &n), 0);
	assert_int_equal(n, 0);
	free(fds);
	assert_int_equal(waitpid(child, NULL, 0), child);
}

/* The heap grown into the bss vma (no address randomisation): split back where the checkpoint saw it. */
static void unmerge_heap(void **state)
{
	static const char ckpt[] =
		"00400000-00401000 r-xp 00000000 08:01 9 /usr/bin/fn\n"
		"00401000-00402000 rw-p 00001000 08:01 9 /usr/bin/fn\n"
		"00402000-00410000 rw-p 00000000 00:00 0 \n"
		"00410000-00420000 rw-p 00000000 00:00 0 [heap]\n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n";
	static const char merged[] =
		"00400000-00401000 r-xp 00000000 08:01 9 /usr/bin/fn\n"
		"00401000-00402000 rw-p 00001000 08:01 9 /usr/bin/fn\n"
		"00402000-00430000 rw-p 00000000 00:00 0 [heap]\n"
		"7ffc00000000-7ffc00008000 rw-p 00000000 00:00 0 [stack]\n";
	struct rw_maps want = { 0 }, now = { 0 }, out = { 0 };

	(void)state;
	assert_int_equal(proc_parse_maps(ckpt, &want), 0);
	assert_int_equal(proc_parse_maps(merged, &now), 0);
	assert_int_equal(proc_maps_unmerge_heap(&want, &now, 0x410000, &out), 1);
	assert_int_equal(out.n, 5);
	assert_int_equal(out.v[2].start, 0x402000);
	assert_int_equal(out.v[2].end, 0x410000);
	assert_string_equal(out.v[2].name, "");
	assert_int_equal(out.v[3].start, 0x410000);
	assert_int_equal(out.v[3].end, 0x430000);
	assert_string_equal(out.v[3].name, "[heap]");
	free(out.v);
	/* Already apart, or a heap that does not reach below base: nothing to split. */
	assert_int_equal(proc_maps_unmerge_heap(&want, &want, 0x410000, &out), 0);
	/* Below base, a file mapping: not the bss, nothing to split. */
	assert_int_equal(proc_maps_unmerge_heap(&want, &now, 0x402000, &out), 0);
	/* A protection that differs from the checkpoint's bss: not the same memory. */
	now.v[2].prot = PROT_READ;
	assert_int_equal(proc_maps_unmerge_heap(&want, &now, 0x410000, &out), 0);
	proc_maps_free(&want);
	proc_maps_free(&now);
}

/* Field 22 of stat, past a name with spaces and parentheses; malformed texts refused. */
static void parse_stat_start(void **state)
{
	uint64_t t = 0;

	(void)state;
	assert_int_equal(proc_parse_stat_start("42 (a) b) c) S 1 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 "
					       "20 0 1 0 987654 100 200\n", &t), 0);
	assert_int_equal(t, 987654);
	assert_int_equal(proc_parse_stat_start("42 (x) S 1 42", &t), -EINVAL);
	assert_int_equal(proc_parse_stat_start("42 x S 1", &t), -EINVAL);
	assert_int_equal(proc_parse_stat_start("42 (x) S 1 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 "
					       "0 -5 1", &t), -EINVAL);
	assert_int_equal(proc_parse_stat_start("", &t), -EINVAL);
}

/* Our own start time: the same twice, and after boot (not 0). */
static void start_time_self(void **state)
{
	uint64_t a = 0, b = 0;

	(void)state;
	assert_int_equal(proc_start_time(getpid(), &a), 0);
	assert_int_equal(proc_start_time(getpid(), &b), 0);
	assert_true(a > 0);
	assert_int_equal(a, b);
	assert_int_equal(proc_start_time(0x3fffffff, &a), -ESRCH);
}

/* A mount point as the kernel escapes it: "\040" is a space; the device from maj:min. */
static void parse_mountinfo_line(void **state)
{
	char mnt[64];
	uint64_t dev;

	(void)state;
	assert_int_equal(proc_parse_mountinfo_line("36 27 0:33 / /tmp/a\\040b rw - tmpfs t rw",
						   &dev, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/tmp/a b");
	assert_true(dev == makedev(0, 33));
	assert_int_equal(proc_parse_mountinfo_line("27 1 254:0 / / rw - ext4 /dev/vda rw", &dev, mnt,
						   sizeof(mnt)), 0);
	assert_string_equal(mnt, "/");
	assert_true(dev == makedev(254, 0));
	assert_int_equal(proc_parse_mountinfo_line("27 1 254:0 /", &dev, mnt, sizeof(mnt)), -EINVAL);
	assert_int_equal(proc_parse_mountinfo_line("27 1 x:0 / / rw", &dev, mnt, sizeof(mnt)),
			 -EINVAL);
	assert_int_equal(proc_parse_mountinfo_line("27 1 254:0 / /a/long/mount/point rw", &dev, mnt,
						   8), -EINVAL);
}

/* Timer ids, ascending whatever the file's order; an ID line without an id is malformed. */
static void parse_posix_timers(void **state)
{
	int *ids;
	size_t n;

	(void)state;
	assert_int_equal(proc_parse_posix_timers("ID: 3\nsignal: 14/0\nID: 1\nClockID: 0\n", &ids,
						 &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 3);
	free(ids);
	assert_int_equal(proc_parse_posix_timers("", &ids, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(proc_parse_posix_timers("ID: x\n", &ids, &n), -EINVAL);
	assert_null(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_maps_fields),
		cmocka_unit_test(parse_maps_long_name_and_blank_lines),
		cmocka_unit_test(parse_maps_malformed),
		cmocka_unit_test(find),
		cmocka_unit_test(parse_status),
		cmocka_unit_test(parse_status_malformed),
		cmocka_unit_test(pidfd_fdinfo),
		cmocka_unit_test(read_self),
		cmocka_unit_test(read_gone),
		cmocka_unit_test(list_fds_of_zombie),
		cmocka_unit_test(parse_smaps),
		cmocka_unit_test(read_smaps_self),
		cmocka_unit_test(unmerge_heap),
		cmocka_unit_test(parse_stat_start),
		cmocka_unit_test(start_time_self),
		cmocka_unit_test(parse_mountinfo_line),
		cmocka_unit_test(parse_posix_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
