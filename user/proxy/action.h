/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The function process: its work dir, its cgroup, the launcher started in
 * both, the two pipes of the actionloop protocol (a request line on its fd 0,
 * a result line from its fd 3), deadlines, and killing it.
 */
#ifndef RP_ACTION_H
#define RP_ACTION_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proxy.h"

/* What /init gave: kept so that a restart starts the same function. */
struct action_code {
	bool binary;
	unsigned char *data;	/* source text, or the decoded zip */
	size_t len;
	char *main_name;
};

/*
 * The function's sandbox: its own mount namespace, where /tmp is tmpdir
 * (made afresh for every process), the work area is an empty read-only
 * tmpfs but for the function's dir (at its own path), and it runs as
 * cfg->uid with no_new_privs. Paths below are the proxy's (the host's) view.
 * --in-container: no mount namespace (the container is the sandbox), tmpdir
 * is the container's /tmp (emptied for every process), no cgroup.
 */
struct action {
	char work[PATH_MAX];		/* the proxy's work area (resolved): 0700, root's */
	char dir[PATH_MAX];		/* the function's dir: cwd, code; the same path inside */
	char tmpdir[PATH_MAX];		/* what the function sees as /tmp */
	const struct proxy_config *cfg;
	char cgroup[PATH_MAX];		/* <cgroup2>/rewind-proxy-<port>/fn */
	char cgroup_parent[PATH_MAX];
	bool procs_ready;		/* the cgroup made, or the proxy a subreaper */
	pid_t pid;			/* 0: no process */
	int pidfd, in_fd, out_fd;
	int log_fd[2];			/* its stdout and stderr, forwarded to ours */
	int status;			/* wait status once reaped */
	bool exited;			/* the process was seen gone */
	char *buf;			/* bytes read from fd 3, not yet a line */
	size_t blen, bcap;
};

enum action_outcome {
	ACTION_LINE,		/* one line read (the process may have exited right after) */
	ACTION_EXITED,		/* gone, or fd 3 closed, before a whole line */
	ACTION_TIMEOUT,		/* the deadline passed first */
	ACTION_TOO_LONG,	/* the line is longer than allowed */
	ACTION_ERROR,		/* our side failed (errno logged) */
};

/* Paths, work dir and cgroup for the proxy on cfg->port. 0 or -errno with err. */
int action_setup(struct action *a, const struct proxy_config *cfg, char *err, size_t errlen);

/* Kill whatever runs, remove the cgroups and the function's dir. 0, or -errno if any is left. */
int action_teardown(struct action *a);
/* Only remove the cgroups and the function's dir (the processes are killed). */
int action_remove(const struct action *a);
/*
 * After action_interrupt, from a thread that does not own the action
 * (stopping at once while the worker waits on rewindd): wait until the
 * function's cgroup is empty, KILL_WAIT_MS at most, reading files only, so
 * that action_remove can remove it. False if it was not.
 */
bool action_wait_interrupted(const struct action *a);

/*
 * A fresh function dir holding the code (plain source written to the
 * runtime's source file, or the zip unpacked) and an empty private /tmp,
 * both the function's user's; *entry is the file the launcher loads. 0, or
 * -errno with OpenWhisk-style text in err.
 */
int action_materialize(struct action *a, enum proxy_runtime rt, const struct action_code *code,
		       char *entry, size_t len, char *err, size_t errlen);

/*
 * Start argv with envp in the function's cgroup (moved in before exec) and
 * its sandbox, cwd the function's dir, fd 0 our request pipe, fd 1 and 2 a
 * pipe we forward to our stderr (the proxy's log), fd 3 the result pipe,
 * nothing else open.
 */
int action_spawn(struct action *a, const char *const argv[], char *const envp[], char *err,
		 size_t errlen);

/*
 * Write in (inlen bytes, newline included; may be 0 to only read) to its fd
 * 0 and read one line from its fd 3 before deadline_ns (CLOCK_MONOTONIC).
 * On ACTION_LINE *line (malloc'd, NUL-terminated, without the newline) and
 * *linelen are set.
 */
enum action_outcome action_exchange(struct action *a, const char *in, size_t inlen,
				    uint64_t deadline_ns, size_t max_line, char **line,
				    size_t *linelen);

/* Throw away bytes the function wrote to fd 3 beyond its answer; how many. */
size_t action_drain(struct action *a);

/* Copy what the function wrote to its stdout and stderr so far to our stderr. */
void action_forward_log(struct action *a);

/*
 * The function's processes: its cgroup's on a host; --in-container, every
 * process below the proxy, which is their subreaper (nothing the function
 * forks gets away from it). The live ones (zombies left out; the proxy's
 * own, but for the function's pid, reaped), at most max: their number, or
 * -errno (-E2BIG: more).
 */
int action_procs(struct action *a, pid_t *pids, size_t max);

/* From any thread: SIGKILL every process of the function (the owner reaps). */
void action_interrupt(const struct action *a);

/*
 * Kill every process of the function, reap ours, wait until none is left
 * (bounded), close the pipes. Safe to call without a process. 0, or
 * -EBUSY if ours was not reaped or the others not gone within the bound.
 */
int action_kill(struct action *a);

/*
 * A stop was asked for again (async-signal-safe): the waits of action_kill
 * give up at once, and so do the proxy's other waits that ask.
 */
void action_hurry(void);
bool action_hurried(void);

/* "exit status N" / "killed by signal N" of the reaped process. */
void action_describe_status(const struct action *a, char *buf, size_t len);

#endif /* RP_ACTION_H */
