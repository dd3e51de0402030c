// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath.h"
#include "json_util.h"

const char *const rw_stage_names[RW_STAGES] = {
	[RW_STAGE_STOP] = "stop", [RW_STAGE_KILL] = "kill", [RW_STAGE_SCAN] = "scan",
	[RW_STAGE_PLAN] = "plan", [RW_STAGE_LAYOUT] = "layout", [RW_STAGE_COPY] = "copy",
	[RW_STAGE_INJECT] = "inject", [RW_STAGE_REGS] = "regs", [RW_STAGE_REARM] = "rearm",
	[RW_STAGE_FILES] = "files", [RW_STAGE_VERIFY] = "verify", [RW_STAGE_RESUME] = "resume",
	[RW_STAGE_TOTAL] = "total",
};

const char *const rw_count_names[RW_COUNTS] = {
	[RW_COUNT_PAGES_RESTORED] = "pages_restored",
	[RW_COUNT_PAGES_COPIED] = "pages_copied",
	[RW_COUNT_PAGES_DROPPED] = "pages_dropped",
	[RW_COUNT_PAGES_WHOLESALE] = "pages_wholesale",
	[RW_COUNT_PAGES_ZERO_FILLED] = "pages_zero_filled",
	[RW_COUNT_PAGES_RESTORER] = "pages_restorer",
	[RW_COUNT_PAGES_HOT] = "pages_hot",
	[RW_COUNT_SCANS] = "scans",
	[RW_COUNT_THREADS_EXITED] = "threads_exited",
	[RW_COUNT_THREADS_RECREATED] = "threads_recreated",
	[RW_COUNT_THREADS_ASLEEP] = "threads_asleep",
	[RW_COUNT_PROCESSES_KILLED] = "processes_killed",
	[RW_COUNT_SYSCALLS_INJECTED] = "syscalls_injected",
	[RW_COUNT_BATCH_AREAS_MAPPED] = "batch_areas_mapped",
	[RW_COUNT_PAGES_BESIDE] = "pages_beside",
};

json_object *rewind_summary_json(const struct rw_rewind_summary *s)
{
	json_object *o = json_object_new_object(), *t = json_object_new_object();
	int r = o && t ? 0 : -ENOMEM;

	for (int i = 0; i < RW_COUNTS && !r; i++)
		r = rw_json_add(o, rw_count_names[i], json_object_new_int64(s->count[i]));
	if (!r)
		r = rw_json_add(o, "restored_again",
				json_object_new_boolean(s->flags & RW_SUMMARY_AGAIN));
	if (!r)
		r = rw_json_add(o, "verified", json_object_new_boolean(s->flags & RW_SUMMARY_VERIFIED));
	for (int i = 0; i < RW_STAGES && !r; i++)
		r = rw_json_add(t, rw_stage_names[i], json_object_new_int64(s->timing_ns[i]));
	if (!r) {
		r = rw_json_add(o, "timing_ns", t);
		t = NULL;
	}
	json_object_put(t);
	if (r) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

ssize_t fast_frame_size(const void *buf, size_t len)
{
	struct rw_fast_header h;

	if (len && *(const uint8_t *)buf != RW_FAST_MAGIC)
		return -EPROTO;
	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.size < sizeof(h) || h.size > RW_FAST_FRAME_MAX)
		return -EPROTO;
	return h.size;
}

int fast_request_make(struct rw_fast_request *f, uint32_t session, uint64_t key,
		      const char *instance, bool verify)
{
	memset(f, 0, sizeof(*f));
	if (instance && strlen(instance) >= sizeof(f->instance))
		return -EINVAL;
	f->h = (struct rw_fast_header){ RW_FAST_MAGIC, RW_FAST_VERSION, sizeof(*f) };
	f->flags = verify ? RW_FAST_VERIFY : 0;
	f->session = session;
	f->key = key;
	if (instance)
		strcpy(f->instance, instance);
	return 0;
}

_Static_assert(sizeof(((struct rw_request *)0)->instance) ==
	       sizeof(((struct rw_fast_request *)0)->instance), "instance: one size both ways");

int fast_request_parse(const void *frame, size_t len, struct rw_request *req, char *err,
		       size_t errlen)
{
	struct rw_fast_request f;

	if (len < sizeof(f.h) || fast_frame_size(frame, len) != (ssize_t)len) {
		snprintf(err, errlen, "not a fast-path frame");
		return -EINVAL;
	}
	memcpy(&f.h, frame, sizeof(f.h));
	if (f.h.version != RW_FAST_VERSION) {
		snprintf(err, errlen, "fast-path version %u: this rewindd speaks %u", f.h.version,
			 RW_FAST_VERSION);
		return -EINVAL;
	}
	if (len != sizeof(f)) {
		snprintf(err, errlen, "a fast-path rewind request is %zu bytes, not %zu", sizeof(f),
			 len);
		return -EINVAL;
	}
	memcpy(&f, frame, sizeof(f));
	if (f.flags & ~RW_FAST_VERIFY || f.reserved) {
		snprintf(err, errlen, "fast-path rewind: unknown flags %#x or reserved field set",
			 f.flags & ~RW_FAST_VERIFY);
		return -EINVAL;
	}
	if (!f.session) {
		snprintf(err, errlen, "session required");
		return -EINVAL;
	}
	if (!memchr(f.instance, '\0', sizeof(f.instance))) {
		snprintf(err, errlen, "fast-path rewind: the instance is not NUL-terminated");
		return -EINVAL;
	}
	req->cmd = RW_CMD_REWIND;
	req->session = f.session;
	req->key = f.key;
	/* The string only: what follows its NUL in the frame is not the request's. */
	memset(req->instance, 0, sizeof(req->instance));
	strcpy(req->instance, f.instance);
	req->verify = f.flags & RW_FAST_VERIFY;
	req->brief = true;
	return 0;
}

void *fast_answer_make(bool ok, const struct rw_rewind_summary *s, const char *error,
		       size_t *len)
{
	size_t elen = ok || !error ? 0 : strnlen(error, RW_FAST_ERROR_MAX);
	struct rw_fast_answer a = {
		.h = { RW_FAST_MAGIC, RW_FAST_VERSION, sizeof(a) },
		.ok = ok,
		.error_len = elen,
	};
	char *buf = malloc(sizeof(a) + elen);

	if (!buf)
		return NULL;
	if (s)
		a.summary = *s;
	memcpy(buf, &a, sizeof(a));
	memcpy(buf + sizeof(a), error ? error : "", elen);
	*len = sizeof(a) + elen;
	return buf;
}
