/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rewind fast path: a rewind request and its answer as fixed binary
 * frames, on the same connection as protocol.h's JSON lines.
 *
 * A warm function's rewind sits on its request path, and there JSON cost
 * more than some restore stages: ~15 us to parse the request and ~10 to
 * build the answer in rewindd, ~20 to parse the answer in rewind-proxy
 * (docs/BENCHMARKS.md, "seventh stop"). A frame starts with RW_FAST_MAGIC, a
 * byte that starts no JSON text (nor any UTF-8 character), so rewindd tells
 * the two apart by a request's first byte. Both ends run on one machine:
 * frames are in the host's byte order.
 *
 * The request says what {"cmd":"rewind","brief":true} with a session, its
 * key and the rewindd instance says, and whether to verify. The answer: ok,
 * or refused with the error text that follows the frame; and what the
 * rewind did (struct rw_rewind_summary), which the JSON answer carries too.
 */
#ifndef RW_FASTPATH_H
#define RW_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "protocol.h"

#define RW_FAST_MAGIC		0xfa
#define RW_FAST_VERSION		3
/* A frame that says it is longer is not one: the connection's framing is lost. */
#define RW_FAST_FRAME_MAX	1024
/* An answer's error text is cut at this. */
#define RW_FAST_ERROR_MAX	4096

/* The stages a rewind is timed by, in its answer's order. */
enum rw_rewind_stage {
	RW_STAGE_STOP, RW_STAGE_KILL, RW_STAGE_SCAN, RW_STAGE_PLAN, RW_STAGE_LAYOUT,
	RW_STAGE_COPY, RW_STAGE_INJECT, RW_STAGE_REGS, RW_STAGE_REARM, RW_STAGE_FILES,
	RW_STAGE_VERIFY, RW_STAGE_RESUME, RW_STAGE_TOTAL,
	RW_STAGES
};

/* What a rewind counted, by the answer's names (fastpath.c). */
enum rw_rewind_count {
	RW_COUNT_PAGES_RESTORED, RW_COUNT_PAGES_COPIED, RW_COUNT_PAGES_DROPPED,
	RW_COUNT_PAGES_WHOLESALE, RW_COUNT_PAGES_ZERO_FILLED, RW_COUNT_PAGES_RESTORER,
	RW_COUNT_PAGES_HOT, RW_COUNT_SCANS, RW_COUNT_THREADS_EXITED,
	RW_COUNT_THREADS_RECREATED, RW_COUNT_THREADS_ASLEEP, RW_COUNT_PROCESSES_KILLED,
	RW_COUNT_SYSCALLS_INJECTED, RW_COUNT_BATCH_AREAS_MAPPED, RW_COUNT_PAGES_BESIDE,
	RW_COUNTS
};

#define RW_SUMMARY_AGAIN	(1u << 0)	/* restored a second time, every thread held */
#define RW_SUMMARY_VERIFIED	(1u << 1)	/* --verify found no difference */

struct rw_rewind_summary {
	uint64_t count[RW_COUNTS];
	uint64_t timing_ns[RW_STAGES];	/* resume: the previous rewind's (after its answer) */
	uint32_t flags;
	uint32_t reserved;
};

#define RW_FAST_VERIFY		(1u << 0)

struct rw_fast_header {
	uint8_t magic;		/* RW_FAST_MAGIC */
	uint8_t version;	/* RW_FAST_VERSION */
	uint16_t size;		/* the whole frame's bytes (an answer's: without its text) */
};

struct rw_fast_request {
	struct rw_fast_header h;
	uint32_t flags;		/* RW_FAST_VERIFY */
	uint32_t session;
	uint32_t reserved;	/* 0 */
	uint64_t key;		/* attach's "key" */
	char instance[96];	/* attach's "instance", NUL-terminated */
};

struct rw_fast_answer {
	struct rw_fast_header h;
	uint32_t ok;		/* 1: rewound; 0: refused, error_len bytes of text follow */
	uint32_t error_len;
	uint32_t reserved;
	struct rw_rewind_summary summary;
};

/* The names of the stages and counts in JSON answers: "stop", "pages_copied", ... */
extern const char *const rw_stage_names[RW_STAGES];
extern const char *const rw_count_names[RW_COUNTS];

/* The summary as a JSON answer's "rewind" object holds it; NULL on ENOMEM. */
json_object *rewind_summary_json(const struct rw_rewind_summary *s);

/*
 * How many bytes the frame starting at buf (len of them so far) takes: 0 if
 * its header is not all there yet, -EPROTO if that header is not one of a
 * frame (no magic, a size out of range).
 */
ssize_t fast_frame_size(const void *buf, size_t len);
/* A rewind request. instance may be NULL or "" (not checked then). -EINVAL if too long. */
int fast_request_make(struct rw_fast_request *f, uint32_t session, uint64_t key,
		      const char *instance, bool verify);
/*
 * Frame (len bytes, all of it) to request: sets cmd, session, key, instance,
 * verify and brief, and nothing else, so a request zeroed once can be
 * reused. -EINVAL with err for a version, size or field it cannot take.
 */
int fast_request_parse(const void *frame, size_t len, struct rw_request *req, char *err,
		       size_t errlen);
/*
 * An answer: a malloc'd frame, the error text (refused: ok false) after
 * it; its length in *len. NULL on ENOMEM.
 */
void *fast_answer_make(bool ok, const struct rw_rewind_summary *s, const char *error,
		       size_t *len);

#endif /* RW_FASTPATH_H */
