// SPDX-License-Identifier: GPL-2.0-only
/* The control protocol: every request survives format→parse; bad lines are refused with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "protocol.h"

static struct rw_request *new_req(enum rw_cmd cmd)
{
	struct rw_request *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->cmd = cmd;
	return r;
}

/* Format, parse back, and compare field by field. */
static void round_trip(const struct rw_request *in)
{
	struct rw_request *out = calloc(1, sizeof(*out));
	char err[256] = "";
	char *line;

	assert_non_null(out);
	line = protocol_format_request(in);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	if (protocol_parse_request(line, strlen(line), out, err, sizeof(err)))
		fail_msg("%s: %s", line, err);
	assert_int_equal(out->cmd, in->cmd);
	assert_int_equal(out->session, in->session);
	assert_int_equal(out->pid, in->pid);
	assert_int_equal(out->pidfd, in->pidfd);
	assert_string_equal(out->cgroup, in->cgroup);
	assert_true(out->cgroup_id == in->cgroup_id);
	assert_int_equal(out->report, in->report);
	assert_int_equal(out->verify, in->verify);
	assert_int_equal(out->brief, in->brief);
	assert_int_equal(out->nwatch, in->nwatch);
	for (size_t i = 0; i < in->nwatch; i++)
		assert_string_equal(out->watch[i], in->watch[i]);
	assert_string_equal(out->canary, in->canary);
	assert_string_equal(out->instance, in->instance);
	assert_true(out->key == in->key);
	free(line);
	free(out);
}

static void round_trip_all(void **state)
{
	struct rw_request *r;

	r = new_req(RW_CMD_ATTACH);
	r->pid = 4242;
	r->report = true;
	strcpy(r->watch[0], "/tmp");
	strcpy(r->watch[1], "/dev/shm/a \"quoted\" \\ dir \xc3\xa9");
	r->nwatch = 2;
	round_trip(r);
	r->pid = INT32_MAX;
	r->nwatch = RW_MAX_WATCH;
	for (int i = 0; i < RW_MAX_WATCH; i++)
		snprintf(r->watch[i], sizeof(r->watch[i]), "/w/%d", i);
	round_trip(r);
	free(r);

	r = new_req(RW_CMD_ATTACH);
	r->pid = 7;
	r->on_failure = RW_ON_FAILURE_STOP;
	round_trip(r);
	free(r);

	r = new_req(RW_CMD_ATTACH);
	strcpy(r->cgroup, "/sys/fs/cgroup/unified/fn");
	round_trip(r);
	memset(r->cgroup, 'c', sizeof(r->cgroup) - 1);	/* the longest that fits */
	r->cgroup[0] = '/';
	r->cgroup[sizeof(r->cgroup) - 1] = '\0';
	round_trip(r);
	free(r);

	r = new_req(RW_CMD_ATTACH);
	r->pidfd = true;
	r->report = true;
	round_trip(r);
	free(r);

	r = new_req(RW_CMD_ATTACH);
	r->cgroup_id = 1234;
	round_trip(r);
	r->cgroup_id = UINT64_MAX - 1;
	round_trip(r);
	free(r);

	for (enum rw_cmd c = RW_CMD_CHECKPOINT; c <= RW_CMD_DETACH; c++) {
		r = new_req(c);
		r->session = 3;
		round_trip(r);
		r->session = UINT32_MAX;
		round_trip(r);
		if (c == RW_CMD_REWIND) {
			r->verify = true;
			round_trip(r);
			r->brief = true;
			round_trip(r);
		}
		if (c == RW_CMD_REPORT) {
			strcpy(r->canary, "tok");
			round_trip(r);
		}
		strcpy(r->instance, "rewindd-0123abcd-42-99");
		round_trip(r);
		r->key = INT64_MAX;	/* the largest a key can be */
		round_trip(r);
		free(r);
	}
	r = new_req(RW_CMD_STATUS);	/* status: the session is optional */
	round_trip(r);
	r->settle = true;
	round_trip(r);
	free(r);
}

static void wire_format(void **state)
{
	struct rw_request *r = new_req(RW_CMD_ATTACH);
	char *line;

	r->pid = 4242;
	r->report = true;
	strcpy(r->watch[0], "/tmp");
	r->nwatch = 1;
	line = protocol_format_request(r);
	assert_string_equal(line, "{\"cmd\":\"attach\",\"pid\":4242,\"report\":true,\"watch\":[\"/tmp\"]}");
	free(line);
	memset(r, 0, sizeof(*r));
	r->cmd = RW_CMD_REWIND;
	r->session = 3;
	r->verify = true;
	line = protocol_format_request(r);
	assert_string_equal(line, "{\"cmd\":\"rewind\",\"session\":3,\"verify\":true}");
	free(line);
	r->brief = true;
	line = protocol_format_request(r);
	assert_string_equal(line, "{\"cmd\":\"rewind\",\"session\":3,\"verify\":true,\"brief\":true}");
	free(line);
	memset(r, 0, sizeof(*r));
	r->cmd = RW_CMD_ATTACH;
	r->pidfd = true;
	line = protocol_format_request(r);
	assert_string_equal(line, "{\"cmd\":\"attach\",\"pidfd\":true}");
	free(line);
	r->cmd = 0;
	assert_null(protocol_format_request(r));
	free(r);
}

static void accepts(void **state)
{
	static const char *const ok[] = {
		"{\"cmd\":\"status\"}",
		"  {\"cmd\":\"status\"}  \r",
		"{ \"session\" : 3 , \"cmd\" : \"mark\" }",
		"{\"cmd\":\"attach\",\"cgroup_id\":1234}",
		"{\"cmd\":\"attach\",\"pid\":1,\"report\":false,\"watch\":[]}",
		"{\"cmd\":\"rewind\",\"session\":3,\"verify\":false}",
		"{\"cmd\":\"rewind\",\"session\":3,\"brief\":true}",
		"{\"cmd\":\"attach\",\"pid\":1,\"on_failure\":\"kill\"}",
		"{\"cmd\":\"attach\",\"pidfd\":true,\"watch\":[\"/tmp\"]}",
	};
	struct rw_request *r = calloc(1, sizeof(*r));
	char err[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (protocol_parse_request(ok[i], strlen(ok[i]), r, err, sizeof(err)))
			fail_msg("%s: %s", ok[i], err);
	free(r);
}

static void rejects_one(const char *line, size_t len, const char *want)
{
	struct rw_request *r = calloc(1, sizeof(*r));
	char err[256] = "";
	int ret;

	assert_non_null(r);
	ret = protocol_parse_request(line, len, r, err, sizeof(err));
	if (ret != -EINVAL || !strstr(err, want))
		fail_msg("%.200s: got %d \"%s\", want -EINVAL \"%s\"", line, ret, err, want);
	free(r);
}

static void rejects(void **state)
{
	static const struct { const char *line, *want; } bad[] = {
		{ "", "empty request" },
		{ "  ", "empty request" },
		{ "status", "malformed JSON" },
		{ "{\"cmd\":\"status\"", "malformed JSON: incomplete" },
		{ "{\"cmd\":\"status\",}", "malformed JSON" },
		{ "{\"cmd\":\"status\"} x", "malformed JSON" },
		{ "{\"cmd\":\"status\"}{}", "malformed JSON" },
		{ "{\"cmd\":\"status\",\"session\":NaN}", "\"session\" must be a positive integer" },
		{ "[\"status\"]", "must be a JSON object" },
		{ "\"status\"", "must be a JSON object" },
		{ "{\"cmd\":\"status\",\"session\":[[[[[[1]]]]]]}", "malformed JSON" },
		{ "{\"cmd\":\"status\",\"x\":\"\xff\"}", "malformed JSON" },
		{ "{}", "\"cmd\" missing" },
		{ "{\"cmd\":7}", "\"cmd\" must be a string" },
		{ "{\"cmd\":\"foo\"}", "unknown command \"foo\"" },
		{ "{\"cmd\":\"STATUS\"}", "unknown command" },
		{ "{\"cmd\":\"attach\",\"pid\":\"42\"}", "\"pid\" must be a positive integer" },
		{ "{\"cmd\":\"attach\",\"pid\":-42}", "\"pid\" must be a positive integer" },
		{ "{\"cmd\":\"attach\",\"pid\":0}", "\"pid\" must be a positive integer" },
		{ "{\"cmd\":\"attach\",\"pid\":4.0}", "\"pid\" must be a positive integer" },
		{ "{\"cmd\":\"attach\",\"pid\":true}", "\"pid\" must be a positive integer" },
		{ "{\"cmd\":\"attach\",\"pid\":2147483648}", "\"pid\" is out of range" },
		{ "{\"cmd\":\"attach\",\"pid\":99999999999999999999999}", "\"pid\" is out of range" },
		{ "{\"cmd\":\"attach\",\"cgroup_id\":18446744073709551616}", "\"cgroup_id\" is out of range" },
		{ "{\"cmd\":\"attach\",\"cgroup_id\":-1}", "\"cgroup_id\" must be a positive integer" },
		{ "{\"cmd\":\"attach\",\"cgroup\":7}", "\"cgroup\" must be a string" },
		{ "{\"cmd\":\"attach\",\"cgroup\":\"\"}", "\"cgroup\" must not be empty" },
		{ "{\"cmd\":\"attach\",\"cgroup\":\"fn\"}", "\"cgroup\" must be an absolute path" },
		{ "{\"cmd\":\"attach\",\"cgroup\":\"/a\\u0000b\"}", "\"cgroup\" must not contain NUL" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"report\":1}", "\"report\" must be true or false" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"on_failure\":\"ignore\"}", "\"on_failure\" must be \"kill\" or \"stop\"" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"on_failure\":1}", "\"on_failure\" must be a string" },
		{ "{\"cmd\":\"rewind\",\"session\":1,\"on_failure\":\"kill\"}", "\"on_failure\" does not apply to rewind" },
		{ "{\"cmd\":\"rewind\",\"session\":1,\"settle\":true}", "\"settle\" does not apply to rewind" },
		{ "{\"cmd\":\"status\",\"settle\":1}", "\"settle\" must be true or false" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"report\":\"true\"}", "\"report\" must be true or false" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"cgroup\":\"/x\"}", "attach needs exactly one of pid, pidfd, cgroup, cgroup_id" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"pidfd\":true}", "attach needs exactly one of" },
		{ "{\"cmd\":\"attach\",\"pidfd\":true,\"cgroup\":\"/x\"}", "attach needs exactly one of" },
		{ "{\"cmd\":\"attach\",\"pidfd\":true,\"cgroup_id\":5}", "attach needs exactly one of" },
		{ "{\"cmd\":\"attach\",\"pidfd\":false}", "\"pidfd\" is true or absent" },
		{ "{\"cmd\":\"attach\",\"pidfd\":1}", "\"pidfd\" must be true or false" },
		{ "{\"cmd\":\"attach\",\"pidfd\":\"3\"}", "\"pidfd\" must be true or false" },
		{ "{\"cmd\":\"status\",\"pidfd\":true}", "\"pidfd\" does not apply to status" },
		{ "{\"cmd\":\"rewind\",\"session\":1,\"pidfd\":true}", "\"pidfd\" does not apply to rewind" },
		{ "{\"cmd\":\"attach\",\"cgroup_id\":5,\"cgroup\":\"/x\"}", "attach needs exactly one of" },
		{ "{\"cmd\":\"attach\"}", "attach needs exactly one of" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"session\":3}", "\"session\" does not apply to attach" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"verify\":true}", "\"verify\" does not apply to attach" },
		{ "{\"cmd\":\"report\",\"session\":3,\"brief\":true}", "\"brief\" does not apply to report" },
		{ "{\"cmd\":\"rewind\",\"session\":3,\"brief\":1}", "\"brief\" must be true or false" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"watch\":\"/tmp\"}", "\"watch\" must be an array" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"watch\":[\"/tmp\",3]}", "\"watch\"[1] must be a string" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"watch\":[\"tmp\"]}", "\"watch\"[0] must be an absolute path" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"watch\":[\"/1\",\"/2\",\"/3\",\"/4\",\"/5\",\"/6\",\"/7\","
		  "\"/8\",\"/9\",\"/10\",\"/11\",\"/12\",\"/13\",\"/14\",\"/15\",\"/16\",\"/17\"]}",
		  "too many \"watch\" directories" },
		{ "{\"cmd\":\"mark\"}", "session required" },
		{ "{\"cmd\":\"checkpoint\"}", "session required" },
		{ "{\"cmd\":\"rewind\",\"verify\":true}", "session required" },
		{ "{\"cmd\":\"detach\",\"session\":0}", "\"session\" must be a positive integer" },
		{ "{\"cmd\":\"detach\",\"session\":\"3\"}", "\"session\" must be a positive integer" },
		{ "{\"cmd\":\"detach\",\"session\":4294967296}", "\"session\" is out of range" },
		{ "{\"cmd\":\"detach\",\"session\":null}", "\"session\" must be a positive integer" },
		{ "{\"cmd\":\"mark\",\"session\":3,\"canary\":\"tok\"}", "\"canary\" does not apply to mark" },
		{ "{\"cmd\":\"report\",\"session\":3,\"canary\":\"\"}", "\"canary\" must not be empty" },
		{ "{\"cmd\":\"status\",\"sesion\":3}", "unknown key \"sesion\"" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"instance\":\"x\"}", "\"instance\" does not apply to attach" },
		{ "{\"cmd\":\"rewind\",\"session\":3,\"instance\":\"\"}", "\"instance\" must not be empty" },
		{ "{\"cmd\":\"rewind\",\"session\":3,\"instance\":7}", "\"instance\" must be a string" },
		{ "{\"cmd\":\"attach\",\"pid\":1,\"key\":5}", "\"key\" does not apply to attach" },
		{ "{\"cmd\":\"rewind\",\"session\":3,\"key\":0}", "\"key\" must be a positive integer" },
		{ "{\"cmd\":\"rewind\",\"session\":3,\"key\":\"5\"}", "\"key\" must be a positive integer" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rejects_one(bad[i].line, strlen(bad[i].line), bad[i].want);
}

static void rejects_nul_and_size(void **state)
{
	static const char nul[] = "{\"cmd\":\"status\"}\0{\"cmd\":\"detach\"}";
	static const char nul2[] = "{\"cmd\":\"sta\0tus\"}";
	size_t big = RW_REQ_MAX + 1;
	char *line, *p;
	int n;

	rejects_one(nul, sizeof(nul) - 1, "NUL byte");
	rejects_one(nul2, sizeof(nul2) - 1, "NUL byte");

	/* Too-long strings: one byte over each field's size. */
	line = malloc(big + 64);
	assert_non_null(line);
	n = sprintf(line, "{\"cmd\":\"attach\",\"cgroup\":\"/");
	memset(line + n, 'c', 4095);
	strcpy(line + n + 4095, "\"}");
	rejects_one(line, strlen(line), "\"cgroup\" is too long (max 4095 bytes)");
	n = sprintf(line, "{\"cmd\":\"attach\",\"pid\":1,\"watch\":[\"/");
	memset(line + n, 'w', 4095);
	strcpy(line + n + 4095, "\"]}");
	rejects_one(line, strlen(line), "\"watch\"[0] is too long");
	n = sprintf(line, "{\"cmd\":\"report\",\"session\":1,\"canary\":\"");
	memset(line + n, 'k', 256);
	strcpy(line + n + 256, "\"}");
	rejects_one(line, strlen(line), "\"canary\" is too long (max 255 bytes)");

	/* A line over the limit, however well formed. */
	p = line + sprintf(line, "{\"cmd\":\"status\"");
	memset(p, ' ', big - (p - line) - 1);
	line[big - 1] = '}';
	line[big] = '\0';
	rejects_one(line, big, "request too large");
	/* At the limit it parses. */
	{
		struct rw_request *r = calloc(1, sizeof(*r));
		char err[256];

		line[big - 2] = '}';
		assert_int_equal(protocol_parse_request(line, big - 1, r, err, sizeof(err)), 0);
		free(r);
	}
	free(line);
}

static void responses(void **state)
{
	json_object *o = protocol_ok(), *v;
	char *s;

	assert_non_null(o);
	json_object_object_add(o, "session", json_object_new_int(3));
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"ok\":true,\"session\":3}");
	json_object_put(o);

	s = protocol_error("no such session: %u", 7);
	assert_string_equal(s, "{\"ok\":false,\"error\":\"no such session: 7\"}");
	free(s);
	/* Client-supplied text in a message stays one valid JSON line. */
	s = protocol_error("no such cgroup: %s", "/a\"b\nc");
	assert_null(strchr(s, '\n'));
	o = json_tokener_parse(s);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "error", &v));
	assert_string_equal(json_object_get_string(v), "no such cgroup: /a\"b\nc");
	json_object_put(o);
	free(s);

	assert_string_equal(protocol_cmd_name(RW_CMD_ATTACH), "attach");
	assert_string_equal(protocol_cmd_name(RW_CMD_DETACH), "detach");
	assert_string_equal(protocol_cmd_name(0), "unknown");
	assert_string_equal(protocol_cmd_name(99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_all),
		cmocka_unit_test(wire_format),
		cmocka_unit_test(accepts),
		cmocka_unit_test(rejects),
		cmocka_unit_test(rejects_nul_and_size),
		cmocka_unit_test(responses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
