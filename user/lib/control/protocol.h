/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control protocol: one JSON object per line over the unix socket; every
 * request gets exactly one response, {"ok":true,...} or
 * {"ok":false,"error":"..."}.
 */
#ifndef RW_PROTOCOL_H
#define RW_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Where rewindd listens unless told otherwise. */
#define RW_DEFAULT_SOCKET "/run/rewindd/rewindd.sock"

/* A longer request line is rejected ("request too large") and the connection closed. */
#define RW_REQ_MAX 65536

enum rw_cmd {
	RW_CMD_ATTACH = 1,
	RW_CMD_CHECKPOINT,
	RW_CMD_REWIND,
	RW_CMD_MARK,
	RW_CMD_REPORT,
	RW_CMD_STATUS,
	RW_CMD_DETACH,
};

#define RW_MAX_WATCH 16

/* What happens to the target when a rewind cannot restore it (fail closed). */
enum rw_on_failure {
	RW_ON_FAILURE_KILL = 0,
	RW_ON_FAILURE_STOP,
};

struct rw_request {
	enum rw_cmd cmd;
	uint32_t session;		/* 0 = not given */
	/* attach */
	int32_t pid;			/* 0 = not given; in rewindd's pid namespace */
	bool pidfd;			/* the process is the pidfd sent with the request (SCM_RIGHTS) */
	char cgroup[4096];		/* "" = not given; absolute */
	uint64_t cgroup_id;		/* 0 = not given */
	bool report;			/* attach --report */
	bool verify;			/* rewind --verify */
	bool brief;			/* rewind: answer without the report and the plans */
	bool settle;			/* status: pack what waits to be packed first */
	char watch[RW_MAX_WATCH][4096];	/* absolute directories */
	size_t nwatch;
	char canary[256];		/* report --canary */
	enum rw_on_failure on_failure;	/* attach --on-failure */
	/*
	 * The rewindd the session was made by (attach's answer): another one,
	 * restarted since, refuses the request instead of meeting a session
	 * that took the same number. "" = not given.
	 */
	char instance[96];
	/*
	 * The session's key (attach's answer): a session that took the same
	 * number since (the one asked for was detached, or taken back when the
	 * table was full) refuses the request. 0 = not given.
	 */
	uint64_t key;
};

/*
 * Parse one request line (len bytes, without its newline). Types, ranges and
 * which keys each command takes are checked strictly. On error returns
 * -EINVAL and writes a message for the client into err.
 */
int protocol_parse_request(const char *line, size_t len, struct rw_request *req,
			   char *err, size_t errlen);

/* The request as one line of JSON without the newline (malloc'd), or NULL. */
char *protocol_format_request(const struct rw_request *req);

/* A new {"ok":true} for the caller to add fields to; NULL on ENOMEM. */
json_object *protocol_ok(void);

/* {"ok":false,"error":msg} as a malloc'd string without newline, or NULL. */
char *protocol_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "kill" / "stop" and back; -EINVAL for another name. */
int protocol_on_failure_parse(const char *name);
const char *protocol_on_failure_name(enum rw_on_failure f);

/* "attach", ...; "unknown" for anything else. */
const char *protocol_cmd_name(enum rw_cmd cmd);

#endif /* RW_PROTOCOL_H */
