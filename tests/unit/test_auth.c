// SPDX-License-Identifier: GPL-2.0-only
/*
 * Who may attach to what, against real processes: children that drop to
 * uid 65534 and report each step over a pipe (no sleeps). Needs root;
 * without it the process tests SKIP.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth.h"
#include "cgroup.h"

#define NOBODY 65534

/* What a child becomes before it says "ready". */
struct child_spec {
	uid_t uid;
	gid_t rgid, egid, sgid;
	bool keep_caps;		/* keep permitted capabilities across the uid change */
	bool dumpable;		/* set PR_SET_DUMPABLE again after the uid change */
};

struct child {
	pid_t pid;
	int go;			/* write end: a byte is "next step", EOF is "exit" */
	int ready;		/* read end: the child writes one byte per step done */
};

#define MAX_CHILDREN 4

struct fixture {
	struct child c[MAX_CHILDREN];
	int n;
	char cg[2][PATH_MAX];	/* scratch cgroups */
	char home[PATH_MAX];	/* where the children came from */
};

static void child_main(const struct child_spec *sp, int go, int ready)
{
	char c;

	if (setgroups(0, NULL) || setresgid(sp->rgid, sp->egid, sp->sgid))
		_exit(10);
	if (sp->keep_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		_exit(11);
	if (setresuid(sp->uid, sp->uid, sp->uid))
		_exit(12);
	/* Step 1 done: credentials changed (which also cleared "dumpable"). */
	if (write(ready, "1", 1) != 1 || read(go, &c, 1) != 1)
		_exit(13);
	if (sp->dumpable && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		_exit(14);
	if (write(ready, "2", 1) != 1)
		_exit(15);
	while (read(go, &c, 1) > 0)
		;
	_exit(0);
}

static struct child *spawn(struct fixture *f, const struct child_spec *sp)
{
	struct child *ch = &f->c[f->n];
	int go[2], ready[2];
	char c;

	assert_true(f->n < MAX_CHILDREN);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		close(go[1]);
		close(ready[0]);
		child_main(sp, go[0], ready[1]);
	}
	f->n++;
	close(go[0]);
	close(ready[1]);
	ch->go = go[1];
	ch->ready = ready[0];
	assert_int_equal(read(ch->ready, &c, 1), 1);
	assert_int_equal(c, '1');
	return ch;
}

/* Let the child take its second step and wait until it has. */
static void step(struct child *ch)
{
	char c;

	assert_int_equal(write(ch->go, "g", 1), 1);
	assert_int_equal(read(ch->ready, &c, 1), 1);
	assert_int_equal(c, '2');
}

static int move_to(const char *cgroup, pid_t pid)
{
	char file[PATH_MAX + 16], num[16];
	int fd, n, ok;

	snprintf(file, sizeof(file), "%s/cgroup.procs", cgroup);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(num, sizeof(num), "%d", pid);
	ok = write(fd, num, n) == n;
	close(fd);
	return ok ? 0 : -errno;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	*state = f;
	return f ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < f->n; i++) {
		if (f->home[0])
			move_to(f->home, f->c[i].pid);
		close(f->c[i].go);
		close(f->c[i].ready);
		kill(f->c[i].pid, SIGKILL);
		waitpid(f->c[i].pid, NULL, 0);
	}
	for (int i = 0; i < 2; i++)
		if (f->cg[i][0] && rmdir(f->cg[i]))
			fprintf(stderr, "cannot remove %s: %s\n", f->cg[i], strerror(errno));
	free(f);
	return 0;
}

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	print_message("SKIP: needs root (to create processes of another uid)\n");
	return false;
}

static void peer_cred(void **state)
{
	struct ucred cr;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(auth_peer_cred(sv[0], &cr), 0);
	assert_int_equal(cr.pid, getpid());
	assert_int_equal(cr.uid, geteuid());
	assert_int_equal(cr.gid, getegid());
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(auth_peer_cred(-1, &cr), -EBADF);
}

static void no_such_process(void **state)
{
	char err[256];
	FILE *fp = fopen("/proc/sys/kernel/pid_max", "r");
	int pid_max = 0;

	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%d", &pid_max), 1);
	fclose(fp);
	/* No process ever has pid_max as its pid. */
	assert_int_equal(auth_may_attach_pid(0, pid_max, err, sizeof(err)), -ESRCH);
	assert_int_equal(auth_may_attach_pid(1000, pid_max, err, sizeof(err)), -ESRCH);
	assert_non_null(strstr(err, "no such process"));
	assert_int_equal(auth_may_attach_pid(1000, 0, err, sizeof(err)), -ESRCH);
	assert_int_equal(auth_may_attach_pid(1000, -1, err, sizeof(err)), -ESRCH);
}

static void own_process(void **state)
{
	char err[256];

	/* A process may always be attached by its own uid, if dumpable (we are). */
	assert_int_equal(auth_may_attach_pid(getuid(), getpid(), err, sizeof(err)), 0);
	if (getuid() == 0) {
		assert_int_equal(auth_may_attach_pid(1000, getpid(), err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "owned by uid 0"));
		/* pid 1 too. */
		assert_int_equal(auth_may_attach_pid(1000, 1, err, sizeof(err)), -EPERM);
	}
}

static void other_uid(void **state)
{
	struct child_spec sp = { .uid = NOBODY, .rgid = NOBODY, .egid = NOBODY, .sgid = NOBODY,
				 .dumpable = true };
	struct fixture *f = *state;
	struct child *ch;
	char err[256], want[128];

	if (!need_root()) {
		skip();
		return;
	}
	ch = spawn(f, &sp);
	/* Changing uid made it non-dumpable, as exec of a set-uid program would. */
	assert_int_equal(auth_may_attach_pid(NOBODY, ch->pid, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not dumpable"));
	assert_int_equal(auth_may_attach_pid(0, ch->pid, err, sizeof(err)), 0);

	step(ch);
	assert_int_equal(auth_may_attach_pid(NOBODY, ch->pid, err, sizeof(err)), 0);
	assert_int_equal(auth_may_attach_pid(0, ch->pid, err, sizeof(err)), 0);
	assert_int_equal(auth_may_attach_pid(1000, ch->pid, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "uid 1000 may not attach to pid %d (owned by uid %d)",
		 ch->pid, NOBODY);
	assert_string_equal(err, want);
}

static void setgid_and_caps(void **state)
{
	struct child_spec sgid = { .uid = NOBODY, .rgid = NOBODY, .egid = 0, .sgid = NOBODY,
				   .dumpable = true };
	struct child_spec caps = { .uid = NOBODY, .rgid = NOBODY, .egid = NOBODY, .sgid = NOBODY,
				   .keep_caps = true, .dumpable = true };
	struct fixture *f = *state;
	struct child *ch;
	char err[256];

	if (!need_root()) {
		skip();
		return;
	}
	/* Both are processes uid 65534 could not ptrace (other gid, more capabilities). */
	ch = spawn(f, &sgid);
	step(ch);
	assert_int_equal(auth_may_attach_pid(NOBODY, ch->pid, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "set-group-id"));
	assert_int_equal(auth_may_attach_pid(0, ch->pid, err, sizeof(err)), 0);

	ch = spawn(f, &caps);
	step(ch);
	assert_int_equal(auth_may_attach_pid(NOBODY, ch->pid, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "capabilities"));
}

static int chown_cgroup(const char *dir, uid_t uid)
{
	static const char *const files[] = { "", "/cgroup.procs", "/cgroup.threads",
					     "/cgroup.subtree_control" };
	char path[PATH_MAX + 32];

	/* Delegation, as systemd does it: the directory and the files that move processes. */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		if (chown(path, uid, -1))
			return -errno;
	}
	return 0;
}

static void cgroup_mode(void **state)
{
	struct child_spec sp = { .uid = NOBODY, .rgid = NOBODY, .egid = NOBODY, .sgid = NOBODY,
				 .dumpable = true };
	struct child_spec rootish = { .uid = 0, .rgid = 0, .egid = 0, .sgid = 0, .dumpable = true };
	struct fixture *f = *state;
	char mnt[PATH_MAX - 64], err[512], procs[PATH_MAX + 16];
	struct child *ch, *rch;

	if (!need_root()) {
		skip();
		return;
	}
	if (cgroup2_mount_point(mnt, sizeof(mnt))) {
		print_message("SKIP: cgroup2 is not mounted\n");
		skip();
		return;
	}
	ch = spawn(f, &sp);
	step(ch);
	assert_int_equal(cgroup_of_pid(ch->pid, f->home, sizeof(f->home)), 0);

	/* A cgroup delegated to 65534 holding a process of 65534. */
	snprintf(f->cg[0], sizeof(f->cg[0]), "%s/rewindd-test-auth-%d", mnt, getpid());
	assert_int_equal(mkdir(f->cg[0], 0755), 0);
	assert_int_equal(move_to(f->cg[0], ch->pid), 0);
	/* Not delegated yet: owned by root. */
	assert_int_equal(auth_may_attach_cgroup(NOBODY, f->cg[0], err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "owned by uid 0"));
	assert_int_equal(chown_cgroup(f->cg[0], NOBODY), 0);
	assert_int_equal(auth_may_attach_cgroup(NOBODY, f->cg[0], err, sizeof(err)), 0);
	assert_int_equal(auth_may_attach_cgroup(0, f->cg[0], err, sizeof(err)), 0);
	assert_int_equal(auth_may_attach_cgroup(1000, f->cg[0], err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "owned by uid 65534"));

	/* Anyone could move processes in. */
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", f->cg[0]);
	assert_int_equal(chmod(procs, 0666), 0);
	assert_int_equal(auth_may_attach_cgroup(NOBODY, f->cg[0], err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "others may move processes into it"));
	assert_int_equal(chmod(procs, 0644), 0);

	/* A foreign process inside spoils it. */
	rch = spawn(f, &rootish);
	step(rch);
	assert_int_equal(move_to(f->cg[0], rch->pid), 0);
	assert_int_equal(auth_may_attach_cgroup(NOBODY, f->cg[0], err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "owned by uid 0"));
	assert_non_null(strstr(err, f->cg[0]));
	assert_int_equal(auth_may_attach_cgroup(0, f->cg[0], err, sizeof(err)), 0);
	assert_int_equal(move_to(f->home, rch->pid), 0);
	assert_int_equal(auth_may_attach_cgroup(NOBODY, f->cg[0], err, sizeof(err)), 0);

	/* An empty cgroup owned by root: not for 65534 even though no process objects. */
	snprintf(f->cg[1], sizeof(f->cg[1]), "%s/rewindd-test-auth-%d-b", mnt, getpid());
	assert_int_equal(mkdir(f->cg[1], 0755), 0);
	assert_int_equal(auth_may_attach_cgroup(NOBODY, f->cg[1], err, sizeof(err)), -EPERM);

	assert_int_equal(auth_may_attach_cgroup(NOBODY, "/nonexistent/cg", err, sizeof(err)),
			 -ENOENT);
}

/* The decision alone: ptrace's rule with user namespaces, no processes involved. */
static void decide_userns(void **state)
{
	enum { HOST = 100, CT = 200, CT_CHILD = 300 };	/* user namespace inodes */
	const uint64_t all = 0x1ffffffffffULL, ptrace = 1ULL << 19;
	const struct rw_auth_target plain = {
		.uid = { 1000, 1000, 1000 }, .gid = { 1000, 1000, 1000 }, .userns = CT,
		.mem_uid = 1000,
	};
	struct rw_auth_client host_root = { .uid = 0, .cap_eff = all, .userns = HOST };
	struct rw_auth_client ct_root = { .uid = 1000, .cap_eff = all, .userns = CT };
	struct rw_auth_client user = { .uid = 1000, .cap_eff = 0, .userns = HOST };
	struct rw_auth_target t;
	char err[256] = "";

	/* Root of the host (CAP_SYS_PTRACE in rewindd's namespace): anything. */
	t = plain;
	t.uid[0] = t.uid[1] = t.uid[2] = 0;
	t.cap_prm = all;
	t.mem_uid = 0;
	t.userns = HOST;
	assert_int_equal(auth_decide(&host_root, HOST, "1", &t, err, sizeof(err)), 0);
	/* Root without CAP_SYS_PTRACE is only a uid. */
	host_root.cap_eff = all & ~ptrace;
	assert_int_equal(auth_decide(&host_root, HOST, "1", &t, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "the client lacks"));
	host_root.cap_eff = all;

	/* A container's root mapped to host uid 1000 is uid 1000 ... */
	assert_int_equal(auth_decide(&ct_root, HOST, "42 (pid 7 in its namespace)", &plain, err,
				     sizeof(err)), 0);
	/* ... with its capabilities over its own namespace's processes ... */
	t = plain;
	t.cap_prm = all;
	assert_int_equal(auth_decide(&ct_root, HOST, "42", &t, err, sizeof(err)), 0);
	/* ... and over a namespace it owns below its own ... */
	t.userns = CT_CHILD;
	t.userns_owned = true;
	assert_int_equal(auth_decide(&ct_root, HOST, "42", &t, err, sizeof(err)), 0);
	/* ... but not over capabilities held in the host's namespace. */
	t.userns = HOST;
	t.userns_owned = false;
	assert_int_equal(auth_decide(&ct_root, HOST, "42", &t, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "uid 1000 may not attach to pid 42 (it holds capabilities "
			    "0x1ffffffffff in a user namespace the client neither shares nor owns)");
	/* Nor over root's processes: uid 0 of the host is not uid 1000. */
	t = plain;
	t.uid[0] = t.uid[1] = t.uid[2] = 0;
	t.mem_uid = 0;
	assert_int_equal(auth_decide(&ct_root, HOST, "1", &t, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "uid 1000 may not attach to pid 1 (owned by uid 0)");

	/* Same namespace: the target's permitted set must be within the client's effective. */
	t = plain;
	t.userns = HOST;
	t.cap_prm = 0x3;
	user.cap_eff = 0x1;
	assert_int_equal(auth_decide(&user, HOST, "42", &t, err, sizeof(err)), -EPERM);
	assert_string_equal(err, "uid 1000 may not attach to pid 42 (it holds capabilities 0x2 "
			    "the client lacks)");
	user.cap_eff = 0x7;
	assert_int_equal(auth_decide(&user, HOST, "42", &t, err, sizeof(err)), 0);
	/* An unknown client namespace never matches. */
	user.userns = 0;
	assert_int_equal(auth_decide(&user, HOST, "42", &t, err, sizeof(err)), -EPERM);
	user.userns = HOST;

	/* Not dumpable; set-group-id; mixed uids. */
	t = plain;
	t.userns = HOST;
	t.mem_uid = 0;
	assert_int_equal(auth_decide(&user, HOST, "42", &t, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "(not dumpable)"));
	t = plain;
	t.gid[1] = 0;
	assert_int_equal(auth_decide(&user, HOST, "42", &t, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "set-group-id"));
	t = plain;
	t.uid[2] = 0;
	assert_int_equal(auth_decide(&user, HOST, "42", &t, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "real/effective/saved uids 1000/1000/0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(peer_cred),
		cmocka_unit_test(decide_userns),
		cmocka_unit_test(no_such_process),
		cmocka_unit_test(own_process),
		cmocka_unit_test_setup_teardown(other_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(setgid_and_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(cgroup_mode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
