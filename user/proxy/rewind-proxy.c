// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewind-proxy: an OpenWhisk-compatible action container whose function
 * runs under rewindd. Options, start-up, the "ready" line, and a clean stop
 * on SIGINT/SIGTERM (function killed, session detached, cgroup removed).
 */
#define LOG_PREFIX "rewind-proxy: "

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

#include <json-c/json.h>

#include "action.h"
#include "activation.h"
#include "http.h"
#include "isolation.h"
#include "log.h"
#include "protocol.h"
#include "proxy.h"
#include "runtime.h"

#define DEFAULT_MAX_BODY (48ULL << 20)	/* OpenWhisk's exec-size-limit */
#define DEFAULT_HEAP_RELEASE (8ULL << 20)	/* proxy.h, heap_release */
#define DEFAULT_TIMEOUT_S 60		/* OpenWhisk's default action time limit */

static const char usage[] =
"Usage: rewind-proxy [OPTIONS]\n"
"\n"
"An OpenWhisk action container: POST /init loads a function, POST /run runs it.\n"
"The function runs as an actionloop process in its own cgroup; in rewind mode\n"
"rewindd checkpoints it once and rewinds it after every /run.\n"
"\n"
"Options:\n"
"  -p, --port N             port to serve (default 8080; 0: any free port)\n"
"  -b, --bind ADDR          IPv4 address to listen on (default 127.0.0.1: /init runs\n"
"                           any code; 0.0.0.0 in a container an invoker calls)\n"
"  -r, --runtime NAME       python (/usr/bin/python3) or node (/usr/bin/node);\n"
"                           default python\n"
"  -m, --mode MODE          rewind (default): checkpoint once, rewind after every\n"
"                           /run; insecure: reuse the process as is; restart: a\n"
"                           fresh process for every /run; fork (python only): the\n"
"                           initialised process forks a child for every /run and\n"
"                           runs no code of the function itself, its dir (and\n"
"                           every --watch) is compared whole and restored after it\n"
"  -w, --work-dir DIR       the function's files live in DIR/action (cwd, code),\n"
"                           its /tmp in DIR/tmp; not under /tmp; default\n"
"                           /var/lib/rewind-proxy/PORT\n"
"  -s, --rewindd-socket P   rewindd's socket (default $REWINDD_SOCKET or\n"
"                           " RW_DEFAULT_SOCKET ")\n"
"  -t, --timeout SEC        time limit of an activation and of init (default 60);\n"
"                           a safety net: the invoker enforces an activation's\n"
"                           \"deadline\", which the function sees as __OW_DEADLINE\n"
"      --max-body BYTES     largest request body and result (default 48 MiB)\n"
"      --warmup N           N invocations before the checkpoint, for runtimes that\n"
"                           compile (V8's JIT), start threads or fill caches lazily\n"
"      --warmup-input JSON  their \"value\" (an object; default {}): representative\n"
"                           input, so that what gets compiled is what requests run\n"
"      --verify             rewind --verify after every /run (slower)\n"
"      --shared-images      start the function so that instances of the same code\n"
"                           have identical checkpoints (no address randomisation;\n"
"                           Python's hash seed and V8's seeds from the code; V8\n"
"                           without background threads): rewindd stores their\n"
"                           common pages once (docs/DEPLOYING.md, \"Image memory\")\n"
"      --heap-release MIB   before the checkpoint (and in insecure mode), up to MIB\n"
"                           MiB of the free top of the function's malloc heap\n"
"                           go back to the kernel, the break kept: the image\n"
"                           does not store that garbage (default 8; 0: none)\n"
"      --watch DIR          another tree rewound with the function (repeatable;\n"
"                           not under /tmp nor the work dir: the function does\n"
"                           not see those)\n"
"  -u, --user USER          run the function as USER (a name, or UID[:GID]):\n"
"                           what a deployment should do; default: as the proxy\n"
"      --in-container       the proxy is a container's command and needs only\n"
"                           rewindd's socket (bind-mounted; see below)\n"
"      --launchers DIR      where launcher.py and launcher.js are\n"
"      --print-launcher-dir print the launcher directory found and exit\n"
"      --log-file PATH      the proxy's own messages, its ready line included,\n"
"                           appended to PATH: stdout and stderr then carry only\n"
"                           the function's output, as an invoker reads them\n"
"  -v, --verbose            log more\n"
"  -h, --help               this text\n"
"\n"
"The function's environment: PATH, LANG, HOME (its dir), TMPDIR, /init's \"env\",\n"
"the activation's __OW_* variables, and the proxy's own __OW_* variables and\n"
"NODE_PATH (packages every action may require, as a runtime image ships them).\n"
"\n"
"The function runs in a sandbox: its own mount namespace, where /tmp (and\n"
"TMPDIR) is a private dir rewound with it and the work dir shows only its own\n"
"dir; no_new_privs; with --user, that user's credentials only.\n"
"\n"
"With --in-container the container is the sandbox: no mount namespace, the\n"
"function's /tmp is the container's (emptied for each new process, rewound\n"
"with it); no_new_privs and --user still apply. No cgroup is used: the proxy\n"
"is the subreaper of the function's processes and kills their whole tree; it\n"
"attaches the function to rewindd by pidfd, watching its dir and /tmp as it\n"
"sees them. See docs/DEPLOYING.md, \"rewind-proxy inside a container\".\n"
"\n"
"Once it serves it prints \"rewind-proxy: ready on port N (mode M, runtime R)\"\n"
"to stdout (to --log-file if given); it logs to stderr (or --log-file). The function's stdout goes to stdout, its stderr\n"
"to stderr, each activation's ended on both by the line\n"
"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX, as OpenWhisk's invoker expects.\n"
"Launchers are looked up in --launchers, EXE_DIR/../user/proxy/launchers,\n"
"EXE_DIR/../lib/rewindd/launchers, then the directory `make install` used.\n";

enum { OPT_MAX_BODY = 256, OPT_WARMUP, OPT_WARMUP_INPUT, OPT_VERIFY, OPT_WATCH, OPT_LAUNCHERS, OPT_PRINT_LAUNCHERS,
       OPT_IN_CONTAINER, OPT_LOG_FILE, OPT_SHARED_IMAGES, OPT_HEAP_RELEASE };

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "rewind-proxy: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'rewind-proxy --help'.\n");
	return 2;
}

static int parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > max ? -EINVAL : 0;
}

/* The launchers' children must never see a closed 0-2 reused by a pipe. */
static void open_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR);

			if (n >= 0 && n != fd)
				close(n);
		}
	}
}

/* The warm-up request for value (a JSON object), on one line; NULL if it is not one. */
static char *warmup_line(const char *value)
{
	json_object *v = json_tokener_parse(value);
	char *line = NULL;

	if (v && json_object_is_type(v, json_type_object) &&
	    asprintf(&line, "{\"value\":%s}\n",
		     json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) < 0)
		line = NULL;
	json_object_put(v);
	return line;
}

/*
 * --user NAME or UID[:GID]: its uid, primary gid and groups, resolved now
 * (the child that takes them may only make system calls). A UID without a
 * GID must have a passwd entry; UID:GID gets no supplementary group.
 */
static int parse_user(const char *arg, struct proxy_config *cfg)
{
	const char *colon = strchr(arg, ':');
	struct passwd *pw = NULL;
	unsigned long long v;
	char num[32];

	if (isdigit((unsigned char)arg[0])) {
		size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

		if (n >= sizeof(num))
			return -EINVAL;
		memcpy(num, arg, n);
		num[n] = '\0';
		if (parse_ull(num, 0xfffffffeULL, &v))
			return -EINVAL;
		cfg->uid = v;
		if (colon) {
			if (parse_ull(colon + 1, 0xfffffffeULL, &v))
				return -EINVAL;
			cfg->gid = v;
			cfg->groups[0] = cfg->gid;
			cfg->ngroups = 1;
			cfg->user = arg;
			return 0;
		}
		pw = getpwuid(cfg->uid);
	} else if (!colon) {
		pw = getpwnam(arg);
	}
	if (!pw)
		return -ENOENT;
	cfg->uid = pw->pw_uid;
	cfg->gid = pw->pw_gid;
	cfg->ngroups = PROXY_MAX_GROUPS;
	if (getgrouplist(pw->pw_name, pw->pw_gid, cfg->groups, &cfg->ngroups) < 0)
		return -E2BIG;
	cfg->user = arg;
	return 0;
}

static void on_stop_again(int sig)
{
	(void)sig;
	action_hurry();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'm' },
		{ "work-dir", required_argument, NULL, 'w' },
		{ "rewindd-socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-body", required_argument, NULL, OPT_MAX_BODY },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "warmup-input", required_argument, NULL, OPT_WARMUP_INPUT },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "shared-images", no_argument, NULL, OPT_SHARED_IMAGES },
		{ "heap-release", required_argument, NULL, OPT_HEAP_RELEASE },
		{ "watch", required_argument, NULL, OPT_WATCH },
		{ "user", required_argument, NULL, 'u' },
		{ "launchers", required_argument, NULL, OPT_LAUNCHERS },
		{ "print-launcher-dir", no_argument, NULL, OPT_PRINT_LAUNCHERS },
		{ "in-container", no_argument, NULL, OPT_IN_CONTAINER },
		{ "log-file", required_argument, NULL, OPT_LOG_FILE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct proxy_config cfg = {
		.port = 8080,
		.bind = "127.0.0.1",
		.mode = MODE_REWIND,
		.runtime = RUNTIME_PYTHON,
		.timeout_ms = DEFAULT_TIMEOUT_S * 1000,
		.max_body = DEFAULT_MAX_BODY,
		.heap_release = DEFAULT_HEAP_RELEASE,
		.out_fd = STDOUT_FILENO,
		.err_fd = STDERR_FILENO,
	};
	const char *work_dir = NULL, *launchers = NULL, *log_file = NULL;
	FILE *ready_to = stdout;
	bool print_launchers = false;
	char err[4096], exe[PATH_MAX];
	unsigned long long v;
	/* No SA_RESTART: the wait it lands in returns EINTR. */
	struct sigaction again = { .sa_handler = on_stop_again };
	sigset_t stop;
	ssize_t n;
	int c, sig, port, ret = 1;
	char *endp;
	double secs;

	cfg.rewindd_socket = getenv("REWINDD_SOCKET");
	if (!cfg.rewindd_socket || !*cfg.rewindd_socket)
		cfg.rewindd_socket = RW_DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "p:b:r:m:w:s:t:u:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_ull(optarg, 65535, &v))
				return usage_error("--port: not a port: %s", optarg);
			cfg.port = v;
			break;
		case 'b':
			cfg.bind = optarg;
			break;
		case 'r':
			if (runtime_parse(optarg, &cfg.runtime))
				return usage_error("--runtime: python or node, not %s", optarg);
			break;
		case 'm':
			if (iso_parse_mode(optarg, &cfg.mode))
				return usage_error("--mode: rewind, insecure, restart or fork, not %s", optarg);
			break;
		case 'w':
			work_dir = optarg;
			break;
		case 's':
			cfg.rewindd_socket = optarg;
			break;
		case 't':
			errno = 0;
			secs = strtod(optarg, &endp);
			if (errno || *endp || endp == optarg || !(secs > 0) || secs > 86400)
				return usage_error("--timeout: seconds (0 < SEC <= 86400), not %s", optarg);
			cfg.timeout_ms = secs * 1000 < 1 ? 1 : (unsigned)(secs * 1000);
			break;
		case OPT_MAX_BODY:
			if (parse_ull(optarg, 1ULL << 32, &v) || !v)
				return usage_error("--max-body: bytes (1 to 4 GiB), not %s", optarg);
			cfg.max_body = v;
			break;
		case OPT_WARMUP:
			if (parse_ull(optarg, 1000, &v))
				return usage_error("--warmup: a count up to 1000, not %s", optarg);
			cfg.warmup = v;
			break;
		case OPT_WARMUP_INPUT:
			free(cfg.warmup_line);
			cfg.warmup_line = warmup_line(optarg);
			if (!cfg.warmup_line)
				return usage_error("--warmup-input: a JSON object, not %s", optarg);
			break;
		case OPT_VERIFY:
			cfg.verify = true;
			break;
		case OPT_SHARED_IMAGES:
			cfg.shared_images = true;
			break;
		case OPT_HEAP_RELEASE:
			if (parse_ull(optarg, 1024, &v))
				return usage_error("--heap-release: MiB (0 to 1024), not %s", optarg);
			cfg.heap_release = v << 20;
			break;
		case OPT_WATCH:
			if (optarg[0] != '/')
				return usage_error("--watch: an absolute directory, not %s", optarg);
			if (cfg.nwatch == PROXY_MAX_WATCH)
				return usage_error("--watch: at most 8 (%s)", optarg);
			cfg.watch[cfg.nwatch++] = optarg;
			break;
		case 'u':
			if (parse_user(optarg, &cfg))
				return usage_error("--user: a user name or UID[:GID] known to this system, not %s",
						   optarg);
			break;
		case OPT_LAUNCHERS:
			launchers = optarg;
			break;
		case OPT_PRINT_LAUNCHERS:
			print_launchers = true;
			break;
		case OPT_IN_CONTAINER:
			cfg.in_container = true;
			break;
		case OPT_LOG_FILE:
			log_file = optarg;
			break;
		case 'v':
			rw_log_level = RW_LOG_DEBUG;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'rewind-proxy --help'.\n");
			return 2;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument: %s", argv[optind]);
	/* Not faked with a fresh process: node cannot fork() a running isolate. */
	if (cfg.mode == MODE_FORK && cfg.runtime != RUNTIME_PYTHON)
		return usage_error("--mode fork is not available for %s: it has no fork() of an initialised process",
				   proxy_runtime_name(cfg.runtime));

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		pr_perror("cannot read /proc/self/exe");
		return 1;
	}
	exe[n] = '\0';
	if (runtime_find_launchers(cfg.runtime, launchers, exe, cfg.launcher_dir,
				   sizeof(cfg.launcher_dir), err, sizeof(err))) {
		pr_err("no launcher for %s found; tried %s\n", proxy_runtime_name(cfg.runtime), err);
		return 1;
	}
	/*
	 * In the tree node's addon is built next to this binary (OUTPUT/proxy);
	 * installed, it is in the launcher dir, where launcher.js looks itself.
	 */
	if (cfg.runtime == RUNTIME_NODE) {
		const char *slash = strrchr(exe, '/');
		int len = slash ? snprintf(cfg.node_addon, sizeof(cfg.node_addon), "%.*s/proxy/launcher_native.node",
					   (int)(slash - exe), exe) : -1;

		if (len < 0 || (size_t)len >= sizeof(cfg.node_addon) || access(cfg.node_addon, R_OK))
			cfg.node_addon[0] = '\0';
	}
	if (print_launchers) {
		printf("%s\n", cfg.launcher_dir);
		return 0;
	}

	open_std_fds();
	if (log_file) {
		int fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

		if (fd < 0) {
			pr_err("cannot open --log-file %s: %s\n", log_file, strerror(errno));
			return 1;
		}
		/* Our stderr stays the function's; fd 2 (our messages) goes to the file. */
		cfg.err_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (cfg.err_fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
			pr_err("cannot redirect the log to %s: %s\n", log_file, strerror(errno));
			return 1;
		}
		close(fd);
		ready_to = stderr;
	}
	/* The function sets it before exec; here only whether it can (a seccomp filter may refuse). */
	if (cfg.shared_images) {
		int was = personality(0xffffffff);

		if (was < 0 || personality(was | ADDR_NO_RANDOMIZE) < 0)
			pr_warn("--shared-images: address randomisation cannot be turned off here (%s): "
				"instances of the same code will share few pages\n", strerror(errno));
		else
			personality(was);
	}
	/* Writes to a function that died must fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* Before any thread exists, so that only sigwait() below sees them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	if (http_bind(&cfg, &port, err, sizeof(err))) {
		pr_err("%s\n", err);
		return 1;
	}
	cfg.port = port;
	if (work_dir)
		snprintf(cfg.work_dir, sizeof(cfg.work_dir), "%s", work_dir);
	else
		snprintf(cfg.work_dir, sizeof(cfg.work_dir), "/var/lib/rewind-proxy/%d", port);
	if (activation_start(&cfg, err, sizeof(err))) {
		pr_err("%s\n", err);
		goto out;
	}
	if (http_serve(&cfg, err, sizeof(err))) {
		pr_err("%s\n", err);
		goto out;
	}
	pr_info("launchers in %s, work dir %s, %s\n", cfg.launcher_dir, cfg.work_dir,
		cfg.mode == MODE_REWIND ? cfg.rewindd_socket : "no rewindd");
	fprintf(ready_to, "rewind-proxy: ready on port %d (mode %s, runtime %s)\n", port,
		proxy_mode_name(cfg.mode), proxy_runtime_name(cfg.runtime));
	fflush(ready_to);

	do {
		ret = sigwait(&stop, &sig);
	} while (ret == EINTR);
	ret = 0;
	/* Another one cuts the waits of the stop short (here: the others keep them blocked). */
	sigaction(SIGINT, &again, NULL);
	sigaction(SIGTERM, &again, NULL);
	sigaction(SIGHUP, &again, NULL);
	pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
	pr_info("%s: stopping\n", strsignal(sig));
out:
	/* Queued requests get 503 and the function dies before the sockets close. */
	c = activation_stop();
	if (c == -EINTR) {
		pr_err("stopped at once: the rewindd session may be left\n");
		_exit(1);
	}
	if (c)
		ret = 1;
	http_stop();
	free(cfg.warmup_line);
	return ret;
}
