/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The JSON the proxy takes in from outside: a request's body (from the
 * invoker) and the function's answer line. Bounded in depth, whole input
 * only (nothing after the value but whitespace). Fuzzed: tests/fuzz.
 */
#ifndef RP_JSONIN_H
#define RP_JSONIN_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* Deep enough for any real request or result; json-c's default (32) is not. */
#define JSON_DEPTH 1000

/* The whole body as one JSON object; NULL with the reason in err. */
json_object *jsonin_request_body(const char *buf, size_t len, char *err, size_t errlen);

/* Whether the function's answer line is a result: a dictionary or (as OpenWhisk now allows) an array. */
bool jsonin_is_result(const char *line, size_t len);

#endif /* RP_JSONIN_H */
