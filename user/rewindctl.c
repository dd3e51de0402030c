// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewindctl: the command-line client of rewindd. One request, one answer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "classes.h"
#include "client.h"
#include "pidfd.h"
#include "protocol.h"
#include "report.h"

enum { EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

static const char usage[] =
"Usage: rewindctl [--socket PATH] [--json] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  attach (--pid PID | --cgroup PATH | --cgroup-id ID) [--watch DIR]...\n"
"         [--report | --on-failure kill|stop]\n"
"                      track a process (and the children it spawns) or every\n"
"                      process of a cgroup v2; prints the session id. PID and\n"
"                      PATH are as rewindctl sees them (in a container: the\n"
"                      container's; the process goes as a pidfd). Without\n"
"                      --report the session checkpoints and rewinds;\n"
"                      --on-failure says what a failed rewind does to the\n"
"                      target (default kill): it never runs un-rewound;\n"
"                      --watch DIR: a tree whose files a rewind rolls back,\n"
"                      named as the target sees it (resolved in its mount\n"
"                      namespace; a relative DIR is made absolute here)\n"
"  checkpoint ID       stop the target, record its state, arm tracking, resume\n"
"  rewind ID [--verify]\n"
"                      put the target back to its checkpoint (exit 0 only if\n"
"                      fully restored); --verify then proves it byte for byte\n"
"  mark ID             end the current invocation (--report sessions)\n"
"  report ID [--canary STRING]\n"
"                      what each finished invocation touched (--json: one\n"
"                      JSON object per invocation and line); --canary: every\n"
"                      place STRING persists now, in memory and files\n"
"  status [ID] [--settle]\n"
"                      sessions, their state and dropped events; --settle:\n"
"                      first pack the images that wait to be packed\n"
"                      (rewindd --image-packing), for the store's settled size\n"
"  detach ID           stop tracking, forget the session\n"
"  classes [--markdown | --markdown-brief]\n"
"                      the isolation contract: every class of state, how it\n"
"                      is read and what a rewind does about it (no daemon)\n"
"\n"
"Options:\n"
"  -s, --socket PATH   rewindd's socket (default $REWINDD_SOCKET or " RW_DEFAULT_SOCKET ")\n"
"  -j, --json          print the daemon's JSON answer\n"
"  -h, --help          this text\n"
"\n"
"Exit status: 0 success, 1 the daemon refused or failed, 2 usage, 3 no daemon.\n"
"\n"
"Examples:\n"
"  ID=$(rewindctl attach --pid 4242)\n"
"  rewindctl checkpoint $ID      # once, when the function is initialised and idle\n"
"  rewindctl rewind $ID --verify # after each invocation\n"
"  ID=$(rewindctl attach --pid 4242 --report)\n"
"  rewindctl mark $ID            # after each invocation\n"
"  rewindctl report $ID\n"
"  rewindctl report $ID --json | jq .pages_written\n"
"  rewindctl attach --cgroup /sys/fs/cgroup/unified/fn --report\n"
"  ID=$(rewindctl attach --pid 4242 --watch /tmp --watch /dev/shm)\n"
"  rewindctl report $ID --canary tok_5f2a9c\n"
"  rewindctl status; rewindctl detach $ID\n"
"  rewindctl classes\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "rewindctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'rewindctl --help'.\n");
	return EXIT_USAGE;
}

/* The daemon resolves nothing against its own cwd: send absolute paths. */
static int absolute(const char *opt, const char *path, char *out, size_t outlen)
{
	char *abs = realpath(path, NULL);

	if (!abs) {
		fprintf(stderr, "rewindctl: %s %s: %s\n", opt, path, strerror(errno));
		return -1;
	}
	if (strlen(abs) >= outlen) {
		fprintf(stderr, "rewindctl: %s path too long: %s\n", opt, abs);
		free(abs);
		return -1;
	}
	strcpy(out, abs);
	free(abs);
	return 0;
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	*out = strtoull(s, &end, 10);
	if (errno || *end || *out == 0 || *out > max)
		return -EINVAL;
	return 0;
}

/* Send one request line; read one response line. */
static json_object *transact(const char *path, const char *line, int passfd, int *status)
{
	json_object *resp = NULL;
	char err[512];
	int fd;

	fd = client_connect(path, 0, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "rewindctl: %s%s\n", err, fd == -ENOENT ? " (is rewindd running?)" :
			fd == -EACCES ? " (root only: try sudo)" : "");
		*status = EXIT_CONNECT;
		return NULL;
	}
	if (!(passfd >= 0 ? client_send_fd(fd, line, strlen(line), passfd, err, sizeof(err)) :
	      client_send(fd, line, strlen(line), err, sizeof(err))))
		resp = client_recv(fd, RW_ANSWER_MAX, NULL, err, sizeof(err));
	if (!resp)
		fprintf(stderr, "rewindctl: %s\n", err);
	*status = EXIT_ERROR;
	close(fd);
	return resp;
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static void print_warnings(json_object *resp)
{
	json_object *w = field(resp, "warnings");

	for (size_t i = 0; w && i < json_object_array_length(w); i++)
		fprintf(stderr, "rewindctl: warning: %s\n",
			json_object_get_string(json_object_array_get_idx(w, i)));
}

static void print_result(const struct rw_request *req, json_object *resp, bool json)
{
	json_object *a;

	if (json && req->cmd != RW_CMD_REPORT) {
		printf("%s\n", json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
		return;
	}
	switch (req->cmd) {
	case RW_CMD_ATTACH:
		print_warnings(resp);
		printf("%d\n", json_object_get_int(field(resp, "session")));
		break;
	case RW_CMD_MARK:
		report_print_summary(stdout, field(resp, "report"));
		break;
	case RW_CMD_CHECKPOINT:
		print_warnings(resp);
		report_print_checkpoint(stdout, req->session, field(resp, "checkpoint"));
		break;
	case RW_CMD_REWIND:
		report_print_rewind(stdout, req->session, field(resp, "rewind"));
		break;
	case RW_CMD_REPORT:
		a = field(resp, "invocations");
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			json_object *inv = json_object_array_get_idx(a, i);

			if (json)
				printf("%s\n", json_object_to_json_string_ext(inv, JSON_C_TO_STRING_PLAIN));
			else
				report_print_invocation(stdout, inv);
		}
		if (!json && (!a || !json_object_array_length(a)))
			printf("no finished invocation yet (rewindctl mark %u ends one)\n", req->session);
		if (field(resp, "canary") && json)
			printf("{\"canary\":%s}\n", json_object_to_json_string_ext(
				       field(resp, "canary"), JSON_C_TO_STRING_PLAIN));
		else if (field(resp, "canary"))
			report_print_canary(stdout, field(resp, "canary"));
		break;
	case RW_CMD_STATUS:
		report_print_status(stdout, resp);
		break;
	case RW_CMD_DETACH:
		printf("detached session %u\n", req->session);
		break;
	default:
		break;
	}
}

enum classes_format { CLASSES_TEXT, CLASSES_JSON, CLASSES_MARKDOWN, CLASSES_MARKDOWN_BRIEF };

static const char *logged_or_always(const struct rw_state_class *c)
{
	return c->logged ? c->logged : "(read at every rewind)";
}

/* Plain text for a terminal: the table's markdown code spans without their backquotes. */
static void put_plain(const char *s)
{
	for (; *s; s++)
		if (*s != '`')
			putchar(*s);
}

static void print_plain(const char *label, const char *s)
{
	printf("  %-8s", label);
	put_plain(s);
	putchar('\n');
}

/* The isolation contract, from the table the daemon was built with: no daemon needed. */
static void print_classes(enum classes_format f)
{
	json_object *arr = NULL;

	if (f == CLASSES_JSON)
		arr = json_object_new_array();
	else if (f == CLASSES_MARKDOWN)
		printf("| Class (id) | Scope | How it is read | Logged calls that make a rewind read it | Rewind |\n"
		       "|---|---|---|---|---|\n");
	else if (f == CLASSES_MARKDOWN_BRIEF)
		printf("| Class | Scope | After a rewind |\n|---|---|---|\n");
	for (size_t i = 0; i < rw_nstate_classes; i++) {
		const struct rw_state_class *c = &rw_state_classes[i];
		const char *outcome = rw_class_outcome_name(c->outcome);
		json_object *o;

		switch (f) {
		case CLASSES_TEXT:
			if (i)
				putchar('\n');
			put_plain(c->name);
			printf(" (per %s): %s\n", c->scope, outcome);
			print_plain("id:", c->id);
			print_plain("read:", c->read);
			print_plain("logged:", logged_or_always(c));
			print_plain("rewind:", c->rewind);
			break;
		case CLASSES_MARKDOWN:
			printf("| %s (`%s`) | %s | %s | %s | **%s**: %s |\n", c->name, c->id, c->scope, c->read,
			       logged_or_always(c), outcome, c->rewind);
			break;
		case CLASSES_MARKDOWN_BRIEF:
			printf("| %s | %s | **%s**: %s |\n", c->name, c->scope, outcome, c->rewind);
			break;
		case CLASSES_JSON:
			o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(c->id));
			json_object_object_add(o, "class", json_object_new_string(c->name));
			json_object_object_add(o, "scope", json_object_new_string(c->scope));
			json_object_object_add(o, "outcome", json_object_new_string(outcome));
			json_object_object_add(o, "read", json_object_new_string(c->read));
			json_object_object_add(o, "logged", c->logged ?
					       json_object_new_string(c->logged) : NULL);
			json_object_object_add(o, "rewind", json_object_new_string(c->rewind));
			json_object_array_add(arr, o);
			break;
		}
	}
	if (arr) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'P' },
		{ "cgroup", required_argument, NULL, 'C' },
		{ "cgroup-id", required_argument, NULL, 'I' },
		{ "watch", required_argument, NULL, 'W' },
		{ "report", no_argument, NULL, 'R' },
		{ "verify", no_argument, NULL, 'V' },
		{ "settle", no_argument, NULL, 'T' },
		{ "canary", required_argument, NULL, 'K' },
		{ "on-failure", required_argument, NULL, 'F' },
		{ "markdown", no_argument, NULL, 'M' },
		{ "markdown-brief", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct { const char *name; enum rw_cmd cmd; } cmds[] = {
		{ "attach", RW_CMD_ATTACH }, { "checkpoint", RW_CMD_CHECKPOINT },
		{ "rewind", RW_CMD_REWIND }, { "mark", RW_CMD_MARK }, { "report", RW_CMD_REPORT },
		{ "status", RW_CMD_STATUS }, { "detach", RW_CMD_DETACH },
	};
	const char *sock = getenv("REWINDD_SOCKET");
	struct rw_request req = { 0 };
	unsigned long long v;
	json_object *resp;
	enum classes_format classes_format = CLASSES_TEXT;
	bool json = false;
	char *line;
	int opt, status, pidfd = -1;

	if (!sock || !*sock)
		sock = RW_DEFAULT_SOCKET;
	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			if (parse_u64(optarg, 0x7fffffff, &v))
				return usage_error("--pid needs a positive process id, not '%s'", optarg);
			req.pid = v;
			break;
		case 'C':
			/* A missing cgroup is the daemon's error to report, with its words. */
			if (access(optarg, F_OK) == 0) {
				if (absolute("--cgroup", optarg, req.cgroup, sizeof(req.cgroup)))
					return EXIT_USAGE;
			} else if (optarg[0] != '/' || strlen(optarg) >= sizeof(req.cgroup)) {
				return usage_error("--cgroup needs an existing or absolute path: %s", optarg);
			} else {
				strcpy(req.cgroup, optarg);
			}
			break;
		case 'I':
			if (parse_u64(optarg, ~0ULL, &v))
				return usage_error("--cgroup-id needs a positive number, not '%s'", optarg);
			req.cgroup_id = v;
			break;
		case 'W':
			if (req.nwatch == RW_MAX_WATCH)
				return usage_error("too many --watch (at most 16): %s", optarg);
			/* As the target sees it: rewindd resolves it in the target's mount namespace. */
			if (optarg[0] == '/' && strlen(optarg) < sizeof(req.watch[0]))
				snprintf(req.watch[req.nwatch], sizeof(req.watch[0]), "%s", optarg);
			else if (absolute("--watch", optarg, req.watch[req.nwatch], sizeof(req.watch[0])))
				return EXIT_USAGE;
			req.nwatch++;
			break;
		case 'R':
			req.report = true;
			break;
		case 'V':
			req.verify = true;
			break;
		case 'T':
			req.settle = true;
			break;
		case 'F': {
			int f = protocol_on_failure_parse(optarg);

			if (f < 0)
				return usage_error("--on-failure is kill or stop, not '%s'", optarg);
			req.on_failure = f;
			break;
		}
		case 'K':
			if (strlen(optarg) >= sizeof(req.canary))
				return usage_error("--canary too long: %s", optarg);
			strcpy(req.canary, optarg);
			break;
		case 'M':
			classes_format = CLASSES_MARKDOWN;
			break;
		case 'B':
			classes_format = CLASSES_MARKDOWN_BRIEF;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return usage_error("%s", "a command is needed");
	if (!strcmp(argv[optind], "classes")) {
		if (optind + 1 < argc)
			return usage_error("unexpected argument '%s'", argv[optind + 1]);
		print_classes(json ? CLASSES_JSON : classes_format);
		return 0;
	}
	if (classes_format != CLASSES_TEXT)
		return usage_error("%s", "--markdown and --markdown-brief go with classes");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[optind], cmds[i].name))
			req.cmd = cmds[i].cmd;
	if (!req.cmd)
		return usage_error("unknown command '%s'", argv[optind]);
	optind++;
	if (req.cmd != RW_CMD_ATTACH && optind < argc) {
		if (parse_u64(argv[optind], 0xffffffffULL, &v))
			return usage_error("a session id is a positive number, not '%s'", argv[optind]);
		req.session = v;
		optind++;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (req.cmd == RW_CMD_ATTACH && !!req.pid + !!req.cgroup[0] + !!req.cgroup_id != 1)
		return usage_error("%s", "attach needs exactly one of --pid, --cgroup, --cgroup-id");
	if (req.cmd != RW_CMD_ATTACH && req.cmd != RW_CMD_STATUS && !req.session)
		return usage_error("%s needs a session id", argv[optind - 1]);

	/*
	 * A pid means something only in the namespace it was taken in: the
	 * daemon gets the process itself, as a pidfd (our own pid namespace's
	 * number for it is all the user knows).
	 */
	if (req.pid) {
		pidfd = sys_pidfd_open(req.pid, 0);
		if (pidfd < 0) {
			fprintf(stderr, "rewindctl: error: %s: %d\n", errno == ESRCH ?
				"no such process" : strerror(errno), req.pid);
			return EXIT_ERROR;
		}
		req.pid = 0;
		req.pidfd = true;
	}
	line = protocol_format_request(&req);
	if (!line) {
		fprintf(stderr, "rewindctl: out of memory\n");
		return EXIT_ERROR;
	}
	{
		size_t n = strlen(line);
		char *l2 = realloc(line, n + 2);

		if (!l2) {
			free(line);
			return EXIT_ERROR;
		}
		line = l2;
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	resp = transact(sock, line, pidfd, &status);
	free(line);
	if (pidfd >= 0)
		close(pidfd);
	if (!resp)
		return status;
	if (!json_object_get_boolean(field(resp, "ok"))) {
		if (json)
			printf("%s\n", json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
		fprintf(stderr, "rewindctl: error: %s\n", json_object_get_string(field(resp, "error")));
		json_object_put(resp);
		return EXIT_ERROR;
	}
	print_result(&req, resp, json);
	json_object_put(resp);
	return 0;
}
