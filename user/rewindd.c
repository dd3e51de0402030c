// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewindd: the daemon. Loads the BPF tracker, serves the control socket.
 */
#define LOG_PREFIX ""
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inject.h"
#include "log.h"
#include "recovery.h"
#include "server.h"
#include "session.h"

static const char usage[] =
"Usage: rewindd [OPTIONS]\n"
"\n"
"Track serverless function processes with eBPF and report, per invocation,\n"
"the pages, mappings, files and tasks each invocation touched.\n"
"\n"
"Options:\n"
"  -f, --foreground        stay in the foreground, log to stderr\n"
"  -s, --socket PATH       control socket (default " RW_DEFAULT_SOCKET ")\n"
"  -g, --group NAME        let members of group NAME use the socket (mode 0660);\n"
"                          default: root only (0600)\n"
"  -r, --ringbuf-size N    ring buffer bytes, power of two (default 16777216)\n"
"  -p, --pidfile PATH      write the daemon's pid to PATH (service mode)\n"
"  -l, --log-file PATH     messages, and whatever else reaches stderr, appended\n"
"                          to PATH (service mode: instead of syslog)\n"
"  -d, --state-dir DIR     content stores of watched trees (default " RW_DEFAULT_STATE_DIR ");\n"
"                          must not be inside a watched tree\n"
"  -m, --max-image-memory SIZE\n"
"                          refuse a checkpoint that would take the page store of\n"
"                          all checkpoint images over SIZE bytes (suffix K, M, G;\n"
"                          default: no limit)\n"
"      --image-sharing     store once a page that images of several sessions of\n"
"                          the same owner hold (off by default: a function can\n"
"                          tell which of its pages another session holds; see\n"
"                          docs/DEPLOYING.md, \"Image memory\")\n"
"      --image-packing     after each checkpoint, in the background, hold the pages\n"
"                          new to the store LZ4-compressed until a rewind first\n"
"                          needs them (a third of the memory for the pages no\n"
"                          rewind touches)\n"
"  -v, --verbose           debug messages (twice: libbpf's too)\n"
"  -h, --help              this text\n"
"\n"
"Examples:\n"
"  rewindd --foreground &                      # run in a terminal\n"
"  rewindd                                     # service: returns once the socket is ready\n"
"  rewindd -f --socket /tmp/rw.sock -g faas    # a group may drive it\n"
"  rewindctl attach --pid 4242 --report        # then drive it with rewindctl(8)\n";

/* Bytes, with an optional K, M or G (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (*end && !end[1])
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : -1;
	else if (*end)
		shift = -1;
	if (shift < 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/*
 * Service mode: the parent returns only when the child serves the socket
 * (or failed), so `rewindd && rewindctl ...` never races the bind.
 */
static int daemonize(int *ready_fd, int log_fd)
{
	int pipefd[2];
	pid_t pid;
	char c;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pipefd[1]);
		exit(read(pipefd[0], &c, 1) == 1 && c == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
	}
	close(pipefd[0]);
	if (setsid() < 0)
		return -errno;
	if (chdir("/"))
		return -errno;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	if (log_fd >= 0) {
		dup2(log_fd, 1);
		dup2(log_fd, 2);
		close(log_fd);
	} else {
		rw_log_use_syslog("rewindd");
	}
	*ready_fd = pipefd[1];
	return 0;
}

/*
 * Every checkpoint holds a reference to each fd of its processes: a node's
 * sessions need far more than the usual soft limit of 1,024 (an fd short
 * fails a checkpoint). The hard limit, which only root raises, stays.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		pr_warn("rewindd: cannot raise its fd limit to %llu: %s\n",
			(unsigned long long)rl.rlim_max, strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ "ringbuf-size", required_argument, NULL, 'r' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log-file", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "max-image-memory", required_argument, NULL, 'm' },
		{ "image-sharing", no_argument, NULL, 'S' },
		{ "image-packing", no_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rw_server_opts sopts = { .socket_path = RW_DEFAULT_SOCKET, .socket_gid = (gid_t)-1 };
	struct rw_tracker_opts topts = { 0 };
	struct rw_image_opts iopts = { 0 };
	const char *pidfile = NULL, *log_file = NULL, *state_dir = RW_DEFAULT_STATE_DIR;
	struct rw_server *srv = NULL;
	struct rw_sessions S;
	bool foreground = false;
	int ready_fd = -1, log_fd = -1, verbose = 0, opt, err;
	char *end;

	while ((opt = getopt_long(argc, argv, "fs:g:r:p:l:d:m:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			foreground = true;
			break;
		case 's':
			sopts.socket_path = optarg;
			break;
		case 'g': {
			struct group *g = getgrnam(optarg);

			if (!g) {
				fprintf(stderr, "rewindd: no such group: %s\n", optarg);
				return 2;
			}
			sopts.socket_gid = g->gr_gid;
			break;
		}
		case 'r':
			errno = 0;
			topts.ringbuf_bytes = strtoull(optarg, &end, 0);
			if (errno || *end || topts.ringbuf_bytes < 4096 ||
			    (topts.ringbuf_bytes & (topts.ringbuf_bytes - 1))) {
				fprintf(stderr, "rewindd: --ringbuf-size must be a power of two >= 4096\n");
				return 2;
			}
			break;
		case 'd':
			if (optarg[0] != '/' || strlen(optarg) >= sizeof(S.state_dir)) {
				fprintf(stderr, "rewindd: --state-dir must be an absolute path: %s\n",
					optarg);
				return 2;
			}
			state_dir = optarg;
			break;
		case 'm':
			if (parse_size(optarg, &iopts.max_bytes) || !iopts.max_bytes) {
				fprintf(stderr, "rewindd: --max-image-memory needs a size in bytes "
					"(suffix K, M or G), more than 0: %s\n", optarg);
				return 2;
			}
			break;
		case 'S':
			iopts.sharing = true;
			break;
		case 'P':
			iopts.packing = true;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'l':
			log_file = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rewindd: unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "rewindd: must run as root (BPF and ptrace)\n");
		return 1;
	}
	rw_log_level = verbose ? RW_LOG_DEBUG : RW_LOG_INFO;
	raise_fd_limit();
	topts.verbose = verbose > 1;

	/* Opened before daemonizing: a bad path is said on the terminal, not lost. */
	if (log_file) {
		log_fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
		if (log_fd < 0) {
			fprintf(stderr, "rewindd: cannot open --log-file %s: %s\n", log_file,
				strerror(errno));
			return 1;
		}
		if (foreground) {
			dup2(log_fd, STDERR_FILENO);
			close(log_fd);
			log_fd = -1;
		}
	}
	if (!foreground) {
		err = daemonize(&ready_fd, log_fd);
		if (err) {
			fprintf(stderr, "rewindd: cannot daemonize: %s\n", strerror(-err));
			return 1;
		}
	}
	{
		char why[256];

		/* rewindd still serves: targets without a filter need no suspension. */
		if (inject_seccomp_suspendable(why, sizeof(why)))
			pr_debug("rewindd: targets' seccomp filters are suspended while they are "
				"seized (PTRACE_O_SUSPEND_SECCOMP)\n");
		else
			pr_warn("rewindd: cannot suspend targets' seccomp filters: %s; processes "
				"under a seccomp filter (every container runtime's default) will be "
				"refused\n", why);
	}
	err = sessions_init(&S, &topts, &iopts);
	snprintf(S.state_dir, sizeof(S.state_dir), "%s", state_dir);
	if (!err)
		recovery_start(&S);
	if (!err)
		err = server_open(&srv, &sopts, &S);
	if (err) {
		pr_err("rewindd: cannot start: %s\n", strerror(-err));
		sessions_fini(&S);
		return 1;
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "we");

		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f)) {
			pr_perror("cannot write %s", pidfile);
			server_close(srv);
			sessions_fini(&S);
			return 1;
		}
	}
	pr_info("rewindd: serving %s\n", sopts.socket_path);
	if (ready_fd >= 0) {
		char ok = 0;

		if (write(ready_fd, &ok, 1) != 1)
			pr_warn("the parent went away before the daemon was ready\n");
		close(ready_fd);
	}
	err = server_run(srv);
	server_close(srv);
	sessions_fini(&S);
	if (pidfile)
		unlink(pidfile);
	return err ? 1 : 0;
}
