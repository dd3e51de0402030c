// SPDX-License-Identifier: GPL-2.0-only
/*
 * The function process. It runs in a cgroup of its own so that rewindd can
 * track it with everything it forks, and so that one write to cgroup.kill
 * ends all of it (a hung function's children too). It talks to us only
 * through its fd 0 and fd 3. Its stdout and stderr are two pipes we copy to
 * the function's streams of our config (an invoker reads them apart), not
 * ours themselves: a rewind puts the offsets of the function's files back,
 * and a shared log file would be overwritten from there on.
 * Inside a container (--in-container) no cgroup is ours: the proxy is the
 * subreaper of the function's tree and walks it through /proc instead.
 */
#define LOG_PREFIX "rewind-proxy: "

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action.h"
#include "cgroup.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "pidfd.h"
#include "runtime.h"
#include "zipcode.h"

/* How long killing may take before we give up waiting (a D-state process). */
#define KILL_WAIT_MS 10000
/* Steps of the wait for a dead function a tracer still holds: nothing wakes us when it lets go. */
#define REAP_STEP_MS 10
/* --in-container: the most processes the function may have at once for us to find them all. */
#define TREE_MAX 4096

/* Set from a signal handler: a stop was asked for again, waits give up. */
static atomic_bool hurry;

void action_hurry(void)
{
	atomic_store(&hurry, true);
}

bool action_hurried(void)
{
	return atomic_load(&hurry);
}

/* The parents 0755 (a function's user passes through them), the last one mode. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The function's /tmp emptied: its private dir removed on a host (made
 * again by action_materialize), the container's own /tmp only emptied.
 */
static int remove_tmp(const struct action *a)
{
	return remove_tree(a->tmpdir, a->cfg && a->cfg->in_container);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

static bool path_under(const char *root, const char *path)
{
	size_t n = strlen(root);

	return !strncmp(root, path, n) && (path[n] == '/' || path[n] == '\0' || n == 1);
}

/* Whether the function's user may pass through every dir above the work area. */
static int reachable(const struct proxy_config *cfg, const char *work, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(buf, sizeof(buf), "%s", work);
	while ((slash = strrchr(buf, '/'))) {
		bool in_group;

		slash[slash == buf] = '\0';
		if (stat(buf, &st))
			return -errno;
		in_group = st.st_gid == cfg->gid;
		for (int i = 0; i < cfg->ngroups; i++)
			in_group |= st.st_gid == cfg->groups[i];
		if (!(st.st_mode & S_IXOTH) && !(st.st_uid == cfg->uid && (st.st_mode & S_IXUSR)) &&
		    !(in_group && (st.st_mode & S_IXGRP))) {
			snprintf(err, errlen, "--user %s cannot reach the function's dir: %s is mode %o, owner %u:%u",
				 cfg->user, buf, st.st_mode & 07777, st.st_uid, st.st_gid);
			return -EACCES;
		}
		if (slash == buf)
			break;
	}
	return 0;
}

int action_setup(struct action *a, const struct proxy_config *cfg, char *err, size_t errlen)
{
	char root[PATH_MAX];
	int ret;

	char *base;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->pidfd = a->in_fd = a->out_fd = a->log_fd[0] = a->log_fd[1] = -1;
	ret = mkdir_p(cfg->work_dir, 0700);
	if (ret) {
		snprintf(err, errlen, "cannot create the work dir %s: %s", cfg->work_dir, strerror(-ret));
		return ret;
	}
	/* rewindd takes absolute, resolved paths to watch. */
	base = realpath(cfg->work_dir, NULL);
	if (!base) {
		ret = -errno;
		snprintf(err, errlen, "work dir %s: %s", cfg->work_dir, strerror(errno));
		return ret;
	}
	/* The function's /tmp covers the host's: its dir would vanish under it. */
	if (path_under("/tmp", base)) {
		snprintf(err, errlen, "work dir %s: must not be under /tmp (the function's /tmp is private)", base);
		free(base);
		return -EINVAL;
	}
	if (path_under("/tmp", cfg->launcher_dir) || path_under(base, cfg->launcher_dir)) {
		snprintf(err, errlen, "launchers in %s: the function cannot see them (/tmp is private, "
			 "the work dir %s hidden)", cfg->launcher_dir, base);
		free(base);
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->nwatch; i++) {
		if (path_under("/tmp", cfg->watch[i]) || path_under(base, cfg->watch[i])) {
			snprintf(err, errlen, "--watch %s: the function cannot see it (/tmp is private, "
				 "the work dir %s hidden)", cfg->watch[i], base);
			free(base);
			return -EINVAL;
		}
	}
	ret = (size_t)snprintf(a->work, sizeof(a->work), "%s", base) >= sizeof(a->work) ||
	      (size_t)snprintf(a->dir, sizeof(a->dir), "%s/action", base) >= sizeof(a->dir) ||
	      (size_t)snprintf(a->tmpdir, sizeof(a->tmpdir), "%s/tmp", cfg->in_container ? "" : base) >=
		      sizeof(a->tmpdir);
	free(base);
	if (ret) {
		snprintf(err, errlen, "work dir path too long: %s", cfg->work_dir);
		return -ENAMETOOLONG;
	}
	/*
	 * Ours, not anybody's: a function's user must not reach the zip, stores
	 * or state. In a container its user passes through to its dir (no
	 * sandbox hides the rest): it may not list the work dir, and what else
	 * is there (fork mode's stores) is 0700.
	 */
	if (chmod(a->work, cfg->in_container && cfg->user ? 0711 : 0700)) {
		ret = -errno;
		snprintf(err, errlen, "cannot chmod the work dir %s: %s", a->work, strerror(errno));
		return ret;
	}
	if (cfg->user) {
		ret = reachable(cfg, a->work, err, errlen);
		if (ret)
			return ret;
	}
	/* Everything the function forks stays below us, for action_procs() to find. */
	if (cfg->in_container) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
			ret = -errno;
			snprintf(err, errlen, "cannot become the function's subreaper: %s", strerror(errno));
			return ret;
		}
		a->procs_ready = true;
		return 0;
	}
	ret = cgroup2_mount_point(root, sizeof(root));
	if (ret) {
		snprintf(err, errlen, "no cgroup2 mount in /proc/mounts: %s", strerror(-ret));
		return ret;
	}
	if ((size_t)snprintf(a->cgroup_parent, sizeof(a->cgroup_parent), "%s/rewind-proxy-%d", root,
			     cfg->port) >= sizeof(a->cgroup_parent) - 4) {
		snprintf(err, errlen, "cgroup path too long under %s", root);
		return -ENAMETOOLONG;
	}
	snprintf(a->cgroup, sizeof(a->cgroup), "%.4000s/fn", a->cgroup_parent);
	ret = mkdir_p(a->cgroup, 0755);
	if (ret) {
		snprintf(err, errlen, "cannot create the cgroup %s: %s", a->cgroup, strerror(-ret));
		return ret;
	}
	a->procs_ready = true;
	/* Left over by a proxy on this port that died: nothing of it may run on. */
	action_kill(a);
	return 0;
}

int action_remove(const struct action *a)
{
	int ret = 0;

	if (a->cgroup[0] && rmdir(a->cgroup) && errno != ENOENT) {
		ret = -errno;
		pr_perror("cannot remove the cgroup %s", a->cgroup);
	}
	if (a->cgroup_parent[0] && rmdir(a->cgroup_parent) && errno != ENOENT) {
		ret = -errno;
		pr_perror("cannot remove the cgroup %s", a->cgroup_parent);
	}
	if (remove_tree(a->dir, false)) {
		ret = -EIO;
		pr_err("cannot remove the function's dir %s\n", a->dir);
	}
	if (remove_tmp(a)) {
		ret = -EIO;
		pr_err("cannot remove the function's /tmp %s\n", a->tmpdir);
	}
	return ret;
}

int action_teardown(struct action *a)
{
	int ret = action_kill(a);
	int r = action_remove(a);

	free(a->buf);
	a->buf = NULL;
	return ret ? ret : r;
}

/* nftw has no argument for its callback: set right before, on the proxy's one worker. */
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return lchown(path, chown_uid, chown_gid) ? -1 : 0;
}

int action_materialize(struct action *a, enum proxy_runtime rt, const struct action_code *code,
		       char *entry, size_t len, char *err, size_t errlen)
{
	int ret, fd;

	/* From scratch: what an earlier process left in its dir or /tmp must not survive. */
	if (remove_tree(a->dir, false) || remove_tmp(a)) {
		snprintf(err, errlen, "cannot clear the function's dir %s or /tmp %s", a->dir, a->tmpdir);
		return -EIO;
	}
	if (mkdir(a->dir, 0755)) {
		ret = -errno;
		snprintf(err, errlen, "cannot create the function's dir %s: %s", a->dir, strerror(errno));
		return ret;
	}
	if (code->binary) {
		ret = zip_extract(code->data, code->len, a->dir, err, errlen);
		/* Node's runtime words it so (it also takes tar.gz, which we do not). */
		if (ret && rt == RUNTIME_NODE) {
			char why[1024];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "There was an error uncompressing the action archive: %s", why);
		}
		if (!ret)
			ret = runtime_zip_entry(rt, a->dir, code->main_name, entry, len, err, errlen);
	} else {
		ret = 0;
		if ((size_t)snprintf(entry, len, "%s/%s", a->dir, runtime_source_file(rt)) >= len)
			ret = -ENAMETOOLONG;
		fd = ret ? -1 : open(entry, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && !ret)
			ret = -errno;
		for (size_t off = 0; !ret && off < code->len;) {
			ssize_t w = write(fd, code->data + off, code->len - off);

			if (w < 0)
				ret = -errno;
			else
				off += w;
		}
		if (fd >= 0)
			close(fd);
		if (ret)
			snprintf(err, errlen, "cannot write %s: %s", entry, strerror(-ret));
	}
	/* 1777 as a /tmp is (mkdir applies the umask); the user's, who is the only one in it. */
	if (!ret && !a->cfg->in_container && (mkdir(a->tmpdir, 0700) || chmod(a->tmpdir, 01777))) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", a->tmpdir, strerror(errno));
	}
	if (!ret && a->cfg->user) {
		chown_uid = a->cfg->uid;
		chown_gid = a->cfg->gid;
		if ((!a->cfg->in_container && lchown(a->tmpdir, chown_uid, chown_gid)) ||
		    nftw(a->dir, chown_entry, 32, FTW_PHYS | FTW_MOUNT)) {
			ret = -errno;
			snprintf(err, errlen, "cannot give %s and %s to %s: %s", a->dir, a->tmpdir,
				 a->cfg->user, strerror(errno));
		}
	}
	return ret;
}

/*
 * The function's sandbox, in the child (raw syscalls only). Its mounts are
 * a slave copy of ours: nothing it mounts propagates back, and its /tmp is
 * its own dir. The work area becomes an empty read-only tmpfs with the
 * function's dir (cloned before it is covered) put back at its own path,
 * so that the function sees its dir where rewindd and we see it, and no
 * other file of ours. Then its credentials, checked. In a container, which
 * is the sandbox (and where mounting takes a capability it lacks), only
 * no_new_privs and the credentials.
 */
static int sandbox(const struct action *a)
{
	const struct proxy_config *cfg = a->cfg;
	uid_t r, e, sv;
	gid_t gr, ge, gs;
	int fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	if (cfg->in_container)
		goto creds;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
		return -1;
	fd = open_tree(AT_FDCWD, a->dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return -1;
	if (mount(a->tmpdir, "/tmp", NULL, MS_BIND, NULL) ||
	    mount("tmpfs", a->work, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") ||
	    mkdir(a->dir, 0755) ||
	    move_mount(fd, "", AT_FDCWD, a->dir, MOVE_MOUNT_F_EMPTY_PATH) ||
	    mount(NULL, a->work, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL))
		return -1;
	close(fd);
creds:
	if (!cfg->user)
		return 0;
	if (setgroups(cfg->ngroups, cfg->groups) || setgid(cfg->gid) || setuid(cfg->uid))
		return -1;
	if (getresuid(&r, &e, &sv) || getresgid(&gr, &ge, &gs) || r != cfg->uid || e != cfg->uid ||
	    sv != cfg->uid || gr != cfg->gid || ge != cfg->gid || gs != cfg->gid ||
	    (cfg->uid && !setuid(0))) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* Only async-signal-safe calls between fork and exec: other threads may hold locks. */
static void __attribute__((noreturn)) child(struct action *a, int cg_fd, int in_r, int out_w,
					    int log_out, int log_err, int err_w, pid_t parent,
					    const char *const argv[], char *const envp[])
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e, fd;

	/* Out of the way of 0..3 first, so that no dup2() below replaces it. */
	fd = fcntl(err_w, F_DUPFD_CLOEXEC, 10);
	if (fd < 0)
		goto fail;
	err_w = fd;
	/* Into the cgroup next (if any): whatever follows is tracked and killable. */
	if (cg_fd >= 0 && write(cg_fd, "0", 1) != 1)
		goto fail;
	/* Before the death signal: a change of credentials clears it. */
	if (sandbox(a))
		goto fail;
	/* The proxy blocks SIGTERM and ignores SIGPIPE; both survive exec. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	setsid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		goto fail;
	in_r = fcntl(in_r, F_DUPFD_CLOEXEC, 10);
	out_w = fcntl(out_w, F_DUPFD_CLOEXEC, 10);
	log_out = fcntl(log_out, F_DUPFD_CLOEXEC, 10);
	log_err = fcntl(log_err, F_DUPFD_CLOEXEC, 10);
	if (in_r < 0 || out_w < 0 || log_out < 0 || log_err < 0)
		goto fail;
	if (dup2(in_r, 0) < 0 || dup2(log_out, 1) < 0 || dup2(log_err, 2) < 0 || dup2(out_w, 3) < 0)
		goto fail;
	if (chdir(a->dir))
		goto fail;
	/*
	 * The layout every instance of the same code gets (--shared-images).
	 * Under a seccomp filter that refuses it the layout stays random: the
	 * proxy warned at start.
	 */
	if (a->cfg->shared_images)
		personality(ADDR_NO_RANDOMIZE);
	/* The error pipe must stay open until exec: CLOEXEC, not closed. */
	if (close_range(4, ~0U, CLOSE_RANGE_CLOEXEC))
		goto fail;
	execve(argv[0], (char *const *)argv, envp);
fail:
	e = errno;
	if (write(err_w, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

int action_spawn(struct action *a, const char *const argv[], char *const envp[], char *err,
		 size_t errlen)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, lo[2] = { -1, -1 }, le[2] = { -1, -1 };
	int ep[2] = { -1, -1 };
	int cg_fd = -1, e = 0;
	char procs[PATH_MAX + 16];
	pid_t parent = getpid(), pid;
	ssize_t n;
	int ret = 0;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", a->cgroup);
	if (!a->cfg->in_container)
		cg_fd = open(procs, O_WRONLY | O_CLOEXEC);
	if ((cg_fd < 0 && !a->cfg->in_container) || pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(lo, O_CLOEXEC) ||
	    pipe2(le, O_CLOEXEC) ||
	    pipe2(ep, O_CLOEXEC)) {
		ret = -errno;
		snprintf(err, errlen, "cannot prepare the function's process: %s%s%s", strerror(errno),
			 a->cfg->in_container || cg_fd >= 0 ? "" : ": ",
			 a->cfg->in_container || cg_fd >= 0 ? "" : procs);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(a, cg_fd, in[0], out[1], lo[1], le[1], ep[1], parent, argv, envp);
	close(ep[1]);
	ep[1] = -1;
	/* EOF: exec happened (the pipe was close-on-exec); data: errno of the failure. */
	do {
		n = read(ep[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	a->pid = pid;
	a->exited = false;
	a->status = 0;
	a->blen = 0;
	a->pidfd = sys_pidfd_open(pid, 0);
	if (n > 0 || a->pidfd < 0) {
		ret = n > 0 ? -e : -errno;
		snprintf(err, errlen, "cannot start %s%s%s: %s", argv[0], a->cgroup[0] ? " in " : "", a->cgroup,
			 strerror(-ret));
		action_kill(a);
		goto out;
	}
	a->in_fd = in[1];
	a->out_fd = out[0];
	a->log_fd[0] = lo[0];
	a->log_fd[1] = le[0];
	in[1] = out[0] = lo[0] = le[0] = -1;
	/* Ours only: the function's ends stay blocking (another description). */
	fcntl(a->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(a->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(a->log_fd[0], F_SETFL, O_NONBLOCK);
	fcntl(a->log_fd[1], F_SETFL, O_NONBLOCK);
out:
	for (int *fd = (int[]){ in[0], in[1], out[0], out[1], lo[0], lo[1], le[0], le[1], ep[0], ep[1],
				cg_fd, -2 };
	     *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
	return ret;
}

/* Read what fd 3 has now. 0: more may come; 1: EOF; <0: -errno. */
static int fill(struct action *a, size_t max_line)
{
	for (;;) {
		ssize_t r;

		if (a->bcap - a->blen < 4096) {
			size_t cap = a->bcap ? a->bcap * 2 : 65536;
			char *nb;

			/* Never hold much more than one allowed line. */
			if (a->blen > max_line)
				return 0;
			nb = realloc(a->buf, cap);
			if (!nb)
				return -ENOMEM;
			a->buf = nb;
			a->bcap = cap;
		}
		r = read(a->out_fd, a->buf + a->blen, a->bcap - a->blen);
		if (r > 0) {
			a->blen += r;
			continue;
		}
		if (r == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}

static void forward(int from, int to)
{
	char buf[65536];
	ssize_t r;

	while (from >= 0 && ((r = read(from, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))) {
		for (ssize_t off = 0; r > 0 && off < r;) {
			ssize_t w = write(to, buf + off, r - off);

			if (w < 0 && errno != EINTR)
				break;	/* our log is gone: drop it, keep serving */
			off += w > 0 ? w : 0;
		}
	}
}

void action_forward_log(struct action *a)
{
	forward(a->log_fd[0], a->cfg->out_fd);
	forward(a->log_fd[1], a->cfg->err_fd);
}

static bool take_line(struct action *a, char **line, size_t *linelen)
{
	char *nl = memchr(a->buf, '\n', a->blen);
	size_t n;

	if (!nl)
		return false;
	n = nl - a->buf;
	*line = malloc(n + 1);
	if (!*line)
		return false;
	memcpy(*line, a->buf, n);
	(*line)[n] = '\0';
	*linelen = n;
	a->blen -= n + 1;
	memmove(a->buf, nl + 1, a->blen);
	return true;
}

enum action_outcome action_exchange(struct action *a, const char *in, size_t inlen,
				    uint64_t deadline_ns, size_t max_line, char **line,
				    size_t *linelen)
{
	size_t off = 0;
	bool eof = false;

	if (a->pid <= 0 || a->out_fd < 0)
		return ACTION_EXITED;
	for (;;) {
		struct pollfd pfd[5] = {
			{ .fd = a->out_fd, .events = POLLIN },
			{ .fd = a->pidfd, .events = POLLIN },
			{ .fd = off < inlen ? a->in_fd : -1, .events = POLLOUT },
			{ .fd = a->log_fd[0], .events = POLLIN },
			{ .fd = a->log_fd[1], .events = POLLIN },
		};
		uint64_t now = rw_now_ns();
		int r;

		if (a->blen && memchr(a->buf, '\n', a->blen)) {
			/* It flushed its output before it answered: log first. */
			action_forward_log(a);
			return take_line(a, line, linelen) ? ACTION_LINE : ACTION_ERROR;
		}
		if (a->blen > max_line)
			return ACTION_TOO_LONG;
		if (eof || a->exited)
			return ACTION_EXITED;
		if (now >= deadline_ns)
			return ACTION_TIMEOUT;
		r = poll(pfd, 5, (deadline_ns - now + 999999) / 1000000);
		if (r < 0 && errno != EINTR) {
			pr_perror("poll on the function's pipes");
			return ACTION_ERROR;
		}
		if (r <= 0)
			continue;
		/* A closed log pipe (POLLHUP) stays so: stop polling it. */
		if ((pfd[3].revents | pfd[4].revents) & (POLLIN | POLLHUP))
			action_forward_log(a);
		for (int k = 0; k < 2; k++)
			if ((pfd[3 + k].revents & POLLHUP) && !(pfd[3 + k].revents & POLLIN)) {
				close(a->log_fd[k]);
				a->log_fd[k] = -1;
			}
		if (pfd[2].revents & (POLLOUT | POLLERR)) {
			ssize_t w = write(a->in_fd, in + off, inlen - off);

			if (w > 0)
				off += w;
			else if (w < 0 && errno == EPIPE)
				off = inlen;	/* it closed its stdin: its exit tells the rest */
			else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				pr_perror("write to the function's stdin");
				return ACTION_ERROR;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			int f = fill(a, max_line);

			if (f < 0) {
				errno = -f;
				pr_perror("read from the function's fd 3");
				return ACTION_ERROR;
			}
			eof = f == 1;
		}
		if (pfd[1].revents & POLLIN) {
			/* Gone: whatever it wrote before is still in the pipe. */
			if (fill(a, max_line) < 0)
				return ACTION_ERROR;
			a->exited = true;
		}
	}
}

size_t action_drain(struct action *a)
{
	size_t n;

	action_forward_log(a);
	if (a->out_fd >= 0)
		fill(a, SIZE_MAX / 4);
	n = a->blen;
	a->blen = 0;
	return n;
}

/* Until cgroup.events says "populated 0", or the bound passes. */
/* hurried: give up when the proxy is told to stop at once. */
static bool wait_cgroup_empty(const char *cgroup, uint64_t deadline_ns, bool hurried)
{
	char path[PATH_MAX + 16], text[256];
	bool empty = false;
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.events", cgroup);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };
		ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
		uint64_t now = rw_now_ns();

		if (n < 0)
			break;
		text[n] = '\0';
		if (strstr(text, "populated 0")) {
			empty = true;
			break;
		}
		if (now >= deadline_ns || (hurried && atomic_load(&hurry)))
			break;
		/* kernfs notifies a change of cgroup.events with POLLPRI. */
		poll(&pfd, 1, (deadline_ns - now) / 1000000 + 1);
	}
	close(fd);
	return empty;
}

/*
 * Reap the killed function, within the bound (a process stuck in D state
 * must not hang the proxy). A dead process stays unreapable while a tracer
 * holds it (rewindd in the middle of a rewind) and the pidfd says nothing
 * when the tracer lets go: from its exit on, in short steps.
 */
static bool reap(struct action *a, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd pfd = { .fd = a->pidfd, .events = POLLIN };
		uint64_t now;
		int st, ms;
		pid_t r = waitpid(a->pid, &st, WNOHANG);

		if (r == a->pid) {
			a->status = st;
			return true;
		}
		if (r < 0 && errno != EINTR)
			return errno == ECHILD;
		now = rw_now_ns();
		if (now >= deadline_ns || atomic_load(&hurry))
			return false;
		ms = (deadline_ns - now) / 1000000 + 1;
		if (a->pidfd >= 0 && poll(&pfd, 1, 0) == 0)
			poll(&pfd, 1, ms);	/* alive: its exit wakes us */
		else
			poll(NULL, 0, ms < REAP_STEP_MS ? ms : REAP_STEP_MS);
	}
}

/*
 * ---- the function's processes -------------------------------------------------
 * On a host they are its cgroup's: cgroup.procs lists them, one write to
 * cgroup.kill ends them all. --in-container they are the proxy's
 * descendants (the proxy is their subreaper), found through
 * /proc/PID/task/TID/children, parents before their children.
 */

struct tree_proc {
	pid_t pid, ppid;
};

/* /proc/PID/stat's state and parent; false if it is gone. */
static bool proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* The command name may hold anything, ')' too: the state follows the last one. */
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %c %d", state, ppid) == 2;
}

/* Append the children of pid (those of each of its threads) to v. 0, or -E2BIG. */
static int tree_children(pid_t pid, struct tree_proc *v, size_t max, size_t *n)
{
	char path[96];
	struct dirent *e;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;	/* gone: its children are someone else's now, found under them */
	while (!ret && (e = readdir(d))) {
		FILE *f;
		int c;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/children", pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;	/* the thread exited */
		while (fscanf(f, "%d", &c) == 1) {
			if (*n == max) {
				ret = -E2BIG;
				break;
			}
			v[(*n)++] = (struct tree_proc){ .pid = c, .ppid = pid };
		}
		fclose(f);
	}
	closedir(d);
	return ret;
}

/* Every process below the proxy, breadth first. */
static int tree_list(struct tree_proc *v, size_t max, size_t *n)
{
	int ret;

	*n = 0;
	ret = tree_children(getpid(), v, max, n);
	for (size_t i = 0; !ret && i < *n; i++)
		ret = tree_children(v[i].pid, v, max, n);
	return ret;
}

/*
 * SIGKILL p if it still is what the walk found: pinned by a pidfd first, then
 * its parent checked (a number read a moment ago may name a new process by
 * now, which the function's does not have as its parent). Whether it was.
 */
static bool tree_kill_one(const struct tree_proc *p)
{
	pid_t ppid;
	char st;
	bool ok;
	int fd = sys_pidfd_open(p->pid, 0);

	if (fd < 0)
		return false;
	ok = proc_stat(p->pid, &st, &ppid) && ppid == p->ppid &&
	     !sys_pidfd_send_signal(fd, SIGKILL, NULL, 0);
	close(fd);
	return ok;
}

/* SIGKILL every process below the proxy (those forked meanwhile: the next call). */
static void tree_kill(void)
{
	struct tree_proc *v = malloc(TREE_MAX * sizeof(*v));
	size_t n;

	if (!v) {
		pr_err("out of memory: cannot walk the function's processes to kill them\n");
		return;
	}
	if (tree_list(v, TREE_MAX, &n) == -E2BIG)
		pr_err("more than %d processes below the proxy: killing those found first\n", TREE_MAX);
	for (size_t i = 0; i < n; i++)
		tree_kill_one(&v[i]);
	free(v);
}

/* Reap whatever of ours is dead; the function's status kept. */
static void tree_reap(struct action *a)
{
	pid_t r;
	int st;

	while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
		if (r == a->pid) {
			a->status = st;
			a->pid = 0;
		}
	}
}

int action_procs(struct action *a, pid_t *pids, size_t max)
{
	char path[PATH_MAX + 16];
	size_t n = 0, live = 0;
	struct tree_proc *v;
	int ret = 0, pid;
	FILE *f;

	if (!a->cfg->in_container) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", a->cgroup);
		f = fopen(path, "re");
		if (!f)
			return -errno;
		while (fscanf(f, "%d", &pid) == 1) {
			if (n == max) {
				ret = -E2BIG;
				break;
			}
			pids[n++] = pid;
		}
		fclose(f);
		return ret ? ret : (int)n;
	}
	v = malloc(max * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = tree_list(v, max, &n);
	for (size_t i = 0; !ret && i < n; i++) {
		pid_t ppid;
		char st;

		/* An exited process has closed its files: as one gone from cgroup.procs. */
		if (!proc_stat(v[i].pid, &st, &ppid) || st == 'Z' || st == 'X') {
			if (v[i].ppid == getpid() && v[i].pid != a->pid)
				waitpid(v[i].pid, NULL, WNOHANG);
			continue;
		}
		pids[live++] = v[i].pid;
	}
	free(v);
	return ret ? ret : (int)live;
}

void action_interrupt(const struct action *a)
{
	char path[PATH_MAX + 16];
	int ret;

	if (!a->procs_ready)
		return;
	if (a->cfg->in_container) {
		tree_kill();
		return;
	}
	snprintf(path, sizeof(path), "%s/cgroup.kill", a->cgroup);
	ret = write_file(path, "1");
	if (ret && ret != -ENOENT)
		pr_err("cannot write %s: %s\n", path, strerror(-ret));
}

/*
 * Until no process of the function is left: kill what a walk finds, reap
 * what is ours, wait for one of them. Or the bound passes.
 */
static bool wait_tree_empty(struct action *a, uint64_t deadline_ns)
{
	struct tree_proc *v = malloc(TREE_MAX * sizeof(*v));
	bool empty = false;

	while (v) {
		struct pollfd pfd = { .events = POLLIN };
		uint64_t now;
		size_t n;
		int ms;

		tree_reap(a);
		tree_list(v, TREE_MAX, &n);
		if (!n) {
			empty = true;
			break;
		}
		for (size_t i = 0; i < n; i++)
			tree_kill_one(&v[i]);
		now = rw_now_ns();
		if (now >= deadline_ns || atomic_load(&hurry))
			break;
		ms = (deadline_ns - now) / 1000000 + 1;
		/* The first one's exit wakes us; a dead one a tracer holds: in short steps. */
		pfd.fd = sys_pidfd_open(v[0].pid, 0);
		if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 0)
			poll(&pfd, 1, ms);
		else
			poll(NULL, 0, ms < REAP_STEP_MS ? ms : REAP_STEP_MS);
		if (pfd.fd >= 0)
			close(pfd.fd);
	}
	if (!v)
		pr_err("out of memory: cannot walk the function's processes\n");
	free(v);
	return empty;
}

bool action_wait_interrupted(const struct action *a)
{
	if (!a->procs_ready || a->cfg->in_container)
		return true;	/* a container's processes go with it */
	return wait_cgroup_empty(a->cgroup, rw_now_ns() + KILL_WAIT_MS * 1000000ull, false);
}

int action_kill(struct action *a)
{
	uint64_t deadline = rw_now_ns() + KILL_WAIT_MS * 1000000ull;
	int left = 0;

	action_interrupt(a);
	if (a->pidfd >= 0)
		sys_pidfd_send_signal(a->pidfd, SIGKILL, NULL, 0);
	if (a->pid > 0 && !reap(a, deadline)) {
		pr_err("function pid %d was not reaped within %d ms of SIGKILL%s\n", a->pid, KILL_WAIT_MS,
		       atomic_load(&hurry) ? " (stopping at once)" : " (held by a tracer?)");
		left = -EBUSY;
	}
	if (a->procs_ready && a->cfg->in_container && !wait_tree_empty(a, deadline)) {
		pr_err("processes are left below the proxy after SIGKILL\n");
		left = -EBUSY;
	} else if (a->procs_ready && !a->cfg->in_container &&
		   !wait_cgroup_empty(a->cgroup, deadline, true)) {
		pr_err("processes are left in %s after cgroup.kill\n", a->cgroup);
		left = -EBUSY;
	}
	action_forward_log(a);
	for (int *fd = (int[]){ a->pidfd, a->in_fd, a->out_fd, a->log_fd[0], a->log_fd[1], -2 };
	     *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
	a->pidfd = a->in_fd = a->out_fd = a->log_fd[0] = a->log_fd[1] = -1;
	a->pid = 0;
	a->blen = 0;
	return left;
}

void action_describe_status(const struct action *a, char *buf, size_t len)
{
	if (WIFEXITED(a->status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(a->status));
	else if (WIFSIGNALED(a->status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(a->status),
			 strsignal(WTERMSIG(a->status)));
	else
		snprintf(buf, len, "status 0x%x", a->status);
}
