// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rewind fast path's frames: a request survives make→parse into the
 * fields a JSON rewind sets; bad frames are refused with a reason; an
 * answer carries its summary and error text; the summary's JSON has the
 * JSON answer's names. Wire sizes and offsets are spelled out here, not
 * taken from the code under test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fastpath.h"

static struct rw_request *parsed(const void *frame, size_t len, int want, const char *why)
{
	struct rw_request *r = calloc(1, sizeof(*r));
	char err[256] = "";

	assert_non_null(r);
	assert_int_equal(fast_request_parse(frame, len, r, err, sizeof(err)), want);
	if (why)
		assert_non_null(strstr(err, why));
	return r;
}

static void request_round_trip(void **state)
{
	struct rw_fast_request f;
	struct rw_request *r;

	(void)state;
	assert_int_equal(fast_request_make(&f, 7, 0x1122334455667788ull, "rwd-1234-abc", true), 0);
	r = parsed(&f, sizeof(f), 0, NULL);
	assert_int_equal(r->cmd, RW_CMD_REWIND);
	assert_int_equal(r->session, 7);
	assert_true(r->key == 0x1122334455667788ull);
	assert_string_equal(r->instance, "rwd-1234-abc");
	assert_true(r->verify);
	assert_true(r->brief);
	/* Nothing else of the request is touched: a zeroed one stays reusable. */
	assert_int_equal(r->pid, 0);
	assert_int_equal(r->nwatch, 0);
	assert_string_equal(r->cgroup, "");
	free(r);

	assert_int_equal(fast_request_make(&f, 3, 0, NULL, false), 0);
	r = parsed(&f, sizeof(f), 0, NULL);
	assert_false(r->verify);
	assert_string_equal(r->instance, "");
	free(r);

	/* Bytes after the instance's NUL are not taken: the request is the same as made anew. */
	assert_int_equal(fast_request_make(&f, 3, 0, "ab", false), 0);
	memset(f.instance + 3, 'z', sizeof(f.instance) - 3);
	r = parsed(&f, sizeof(f), 0, NULL);
	assert_string_equal(r->instance, "ab");
	for (size_t i = 2; i < sizeof(r->instance); i++)
		assert_int_equal(r->instance[i], 0);
	free(r);
}

/* The layout a client in another language builds (tests/integ/test_fastpath.sh does). */
static void wire_layout(void **state)
{
	uint8_t raw[120] = { 0xfa, 3, 120, 0, /* flags */ 1, 0, 0, 0, /* session */ 9, 0, 0, 0 };
	struct rw_request *r;

	(void)state;
	assert_int_equal(sizeof(struct rw_fast_request), 120);
	raw[16] = 0x2a;				/* key, little-endian */
	memcpy(raw + 24, "inst", 5);		/* instance */
	r = parsed(raw, sizeof(raw), 0, NULL);
	assert_int_equal(r->session, 9);
	assert_true(r->key == 0x2a);
	assert_true(r->verify);
	assert_string_equal(r->instance, "inst");
	free(r);
	/* The answer: 16 bytes of header, then 15 counts, 13 timings, flags. */
	assert_int_equal(offsetof(struct rw_fast_answer, summary), 16);
	assert_int_equal(sizeof(struct rw_fast_answer), 16 + 15 * 8 + 13 * 8 + 8);
}

static void request_refused(void **state)
{
	struct rw_fast_request f, g;
	uint8_t big[200];

	(void)state;
	assert_int_equal(fast_request_make(&f, 5, 1, "x", false), 0);

	g = f;
	g.h.version = 1;
	free(parsed(&g, sizeof(g), -EINVAL, "fast-path version 1: this rewindd speaks 3"));
	g = f;
	g.flags = 0x10;
	free(parsed(&g, sizeof(g), -EINVAL, "unknown flags 0x10"));
	g = f;
	g.reserved = 1;
	free(parsed(&g, sizeof(g), -EINVAL, "reserved"));
	g = f;
	g.session = 0;
	free(parsed(&g, sizeof(g), -EINVAL, "session required"));
	g = f;
	memset(g.instance, 'a', sizeof(g.instance));
	free(parsed(&g, sizeof(g), -EINVAL, "not NUL-terminated"));
	/* A frame whose size is not a rewind request's, and bytes that are no frame. */
	memset(big, 0, sizeof(big));
	memcpy(big, &f, sizeof(f));
	((struct rw_fast_header *)big)->size = sizeof(big);
	free(parsed(big, sizeof(big), -EINVAL, "is 120 bytes, not 200"));
	free(parsed(&f, sizeof(f) - 1, -EINVAL, "not a fast-path frame"));
	free(parsed("{\"cmd\":\"rewind\"}", 16, -EINVAL, "not a fast-path frame"));
	/* Too long an instance cannot be made. */
	memset(big, 'b', sizeof(big));
	big[sizeof(big) - 1] = 0;
	assert_int_equal(fast_request_make(&f, 1, 1, (char *)big, false), -EINVAL);
}

static void frame_sizes(void **state)
{
	uint8_t h[4] = { 0xfa, 2, 120, 0 };

	(void)state;
	assert_int_equal(fast_frame_size(h, 0), 0);
	assert_int_equal(fast_frame_size(h, 3), 0);	/* the header is not all there */
	assert_int_equal(fast_frame_size(h, 4), 120);
	h[2] = 3;					/* shorter than its own header */
	assert_int_equal(fast_frame_size(h, 4), -EPROTO);
	h[2] = 0x01;
	h[3] = 0x04;					/* 1025 bytes: more than a frame may be */
	assert_int_equal(fast_frame_size(h, 4), -EPROTO);
	assert_int_equal(fast_frame_size("{", 1), -EPROTO);
}

static void answers(void **state)
{
	struct rw_rewind_summary s = { 0 };
	struct rw_fast_answer a;
	size_t len;
	char *f;

	(void)state;
	s.count[RW_COUNT_PAGES_COPIED] = 159;
	s.timing_ns[RW_STAGE_TOTAL] = 250000;
	s.flags = RW_SUMMARY_VERIFIED;
	f = fast_answer_make(true, &s, "ignored when ok", &len);
	assert_non_null(f);
	assert_int_equal(len, sizeof(a));
	memcpy(&a, f, sizeof(a));
	assert_int_equal(a.h.magic, 0xfa);
	assert_int_equal(a.h.size, sizeof(a));
	assert_int_equal(a.ok, 1);
	assert_int_equal(a.error_len, 0);
	assert_true(a.summary.count[RW_COUNT_PAGES_COPIED] == 159);
	assert_true(a.summary.timing_ns[RW_STAGE_TOTAL] == 250000);
	free(f);

	f = fast_answer_make(false, NULL, "no session 77", &len);
	assert_non_null(f);
	assert_int_equal(len, sizeof(a) + 13);
	memcpy(&a, f, sizeof(a));
	assert_int_equal(a.ok, 0);
	assert_int_equal(a.error_len, 13);
	assert_memory_equal(f + sizeof(a), "no session 77", 13);
	free(f);
}

static void summary_json(void **state)
{
	struct rw_rewind_summary s = { 0 };
	json_object *o, *v, *t;

	(void)state;
	s.count[RW_COUNT_PAGES_RESTORED] = 3;
	s.count[RW_COUNT_THREADS_ASLEEP] = 5;
	s.timing_ns[RW_STAGE_STOP] = 21000;
	s.timing_ns[RW_STAGE_RESUME] = 9000;
	s.flags = RW_SUMMARY_AGAIN;
	o = rewind_summary_json(&s);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "pages_restored", &v));
	assert_int_equal(json_object_get_int64(v), 3);
	assert_true(json_object_object_get_ex(o, "threads_asleep", &v));
	assert_int_equal(json_object_get_int64(v), 5);
	assert_true(json_object_object_get_ex(o, "syscalls_injected", &v));
	assert_true(json_object_object_get_ex(o, "restored_again", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "verified", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "timing_ns", &t));
	assert_int_equal(json_object_object_length(t), 13);
	assert_true(json_object_object_get_ex(t, "stop", &v));
	assert_int_equal(json_object_get_int64(v), 21000);
	assert_true(json_object_object_get_ex(t, "resume", &v));
	assert_int_equal(json_object_get_int64(v), 9000);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_round_trip),
		cmocka_unit_test(wire_layout),
		cmocka_unit_test(request_refused),
		cmocka_unit_test(frame_sizes),
		cmocka_unit_test(answers),
		cmocka_unit_test(summary_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
