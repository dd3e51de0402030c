// SPDX-License-Identifier: GPL-2.0-only
/*
 * rand_add.node: node's launcher feeds OpenSSL fresh kernel bytes before each
 * activation, so what OpenSSL draws for itself (key generation, TLS randoms)
 * does not replay after a rewind. add(buffer) is RAND_add(buf, len, len).
 * RAND_add is resolved from the node binary at load (node exports its
 * OpenSSL's symbols to addons); no libcrypto is linked in.
 */
#include <node_api.h>
#include <openssl/rand.h>

static napi_value add(napi_env env, napi_callback_info info)
{
	size_t argc = 1, len = 0;
	napi_value arg;
	void *data = NULL;
	bool is_buf = false;

	if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok)
		return NULL;
	if (argc < 1 || napi_is_buffer(env, arg, &is_buf) != napi_ok || !is_buf) {
		napi_throw_type_error(env, NULL, "rand_add.add: expects a Buffer");
		return NULL;
	}
	if (napi_get_buffer_info(env, arg, &data, &len) != napi_ok)
		return NULL;
	if (len > 0x7fffffff) {
		napi_throw_range_error(env, NULL, "rand_add.add: buffer too large");
		return NULL;
	}
	/* Counted as full entropy: the bytes are the kernel's. */
	RAND_add(data, (int)len, (double)len);
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_value fn;

	if (napi_create_function(env, "add", NAPI_AUTO_LENGTH, add, NULL, &fn) != napi_ok ||
	    napi_set_named_property(env, exports, "add", fn) != napi_ok)
		return NULL;
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
