// SPDX-License-Identifier: GPL-2.0-only
/*
 * launcher_native.node: what node's launcher needs from C.
 *
 * add(buffer) is RAND_add(buf, len, len): the launcher feeds OpenSSL fresh
 * kernel bytes before each activation, so what OpenSSL draws for itself (key
 * generation, TLS randoms) does not replay after a rewind. RAND_add is
 * resolved from the node binary at load (node exports its OpenSSL's symbols
 * to addons); no libcrypto is linked in.
 *
 * keepHeap() turns glibc malloc's trim off (M_TRIM_THRESHOLD), for the
 * settle's "keep-heap": a heap trimmed during an activation is grown back by
 * the rewind and its pages copied back whole. True if malloc took it.
 *
 * releaseFree(limit) gives the kernel back up to LIMIT bytes of the free top
 * of malloc's main heap, the break kept, for the settle's "release-free"
 * (launcher.py's release_free says how and why): the bytes released, or a
 * string saying why none were.
 */
#include <limits.h>
#include <malloc.h>
#include <node_api.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define DEFAULT_MMAP_MAX 65536	/* glibc's; a function that set its own loses it here */

static napi_value add(napi_env env, napi_callback_info info)
{
	size_t argc = 1, len = 0;
	napi_value arg;
	void *data = NULL;
	bool is_buf = false;

	if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok)
		return NULL;
	if (argc < 1 || napi_is_buffer(env, arg, &is_buf) != napi_ok || !is_buf) {
		napi_throw_type_error(env, NULL, "add: expects a Buffer");
		return NULL;
	}
	if (napi_get_buffer_info(env, arg, &data, &len) != napi_ok)
		return NULL;
	if (len > 0x7fffffff) {
		napi_throw_range_error(env, NULL, "add: buffer too large");
		return NULL;
	}
	/* Counted as full entropy: the bytes are the kernel's. */
	RAND_add(data, (int)len, (double)len);
	return NULL;
}

static napi_value keep_heap(napi_env env, napi_callback_info info)
{
	napi_value kept;

	(void)info;
	if (napi_get_boolean(env, mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1, &kept) != napi_ok)
		return NULL;
	return kept;
}

/* The break moves only through malloc's calls, each under its arena's lock. */
static const char *release_free(size_t limit, size_t *released, char *why, size_t whylen)
{
	struct mallinfo2 info = mallinfo2();
	size_t scattered = info.fordblks - info.keepcost, top = info.keepcost;
	uintptr_t raised, lowered;

	*released = 0;
	if (scattered >= limit || top < (size_t)sysconf(_SC_PAGESIZE)) {
		snprintf(why, whylen, "%zu free bytes outside the top, %zu in it", scattered, top);
		return why;
	}
	raised = (uintptr_t)sbrk(0);
	malloc_trim(top - (top < limit - scattered ? top : limit - scattered));
	lowered = (uintptr_t)sbrk(0);
	if (lowered >= raised)
		return "malloc_trim left the break";
	if (mallopt(M_MMAP_MAX, 0) == 1) {
		free(malloc(raised - lowered + mallinfo2().keepcost));
		mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX);
	}
	*released = raised - lowered;
	return NULL;
}

static napi_value release_free_js(napi_env env, napi_callback_info info)
{
	size_t argc = 1, released;
	napi_value arg, ret;
	int64_t limit = 0;
	const char *whynot;
	char why[128];

	if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok)
		return NULL;
	if (argc < 1 || napi_get_value_int64(env, arg, &limit) != napi_ok || limit <= 0) {
		napi_throw_type_error(env, NULL, "releaseFree: expects a positive number of bytes");
		return NULL;
	}
	whynot = release_free((size_t)limit, &released, why, sizeof(why));
	if (whynot ? napi_create_string_utf8(env, whynot, NAPI_AUTO_LENGTH, &ret) != napi_ok :
		  napi_create_double(env, (double)released, &ret) != napi_ok)
		return NULL;
	return ret;
}

static bool export_function(napi_env env, napi_value exports, const char *name, napi_callback cb)
{
	napi_value fn;

	return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
	       napi_set_named_property(env, exports, name, fn) == napi_ok;
}

static napi_value init(napi_env env, napi_value exports)
{
	if (!export_function(env, exports, "add", add) || !export_function(env, exports, "keepHeap", keep_heap) ||
	    !export_function(env, exports, "releaseFree", release_free_js))
		return NULL;
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
