// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP with libmicrohttpd, one thread per connection: a /run may block its
 * connection for as long as the function runs (and the requests queued
 * behind it), while others still get their 404 or 413 at once.
 *
 * Statuses for requests that never reach the function:
 *   404 {"error":"The requested resource does not exist."}  any other path
 *       (OpenWhisk Messages.resourceDoesNotExist)
 *   405 {"error":"HTTP method not allowed, supported methods: POST"} + Allow
 *       (the text of OpenWhisk's HTTP layer, Pekko's MethodRejection)
 *   413 {"error":"Request larger than allowed: N > M bytes."}
 *       (OpenWhisk Messages.entityTooBig; 48 MiB like exec-size-limit)
 *   400 {"error":"Error unmarshaling request: ..."} malformed JSON
 *       (openwhisk-runtime-go initHandler.go / runHandler.go)
 */
#define LOG_PREFIX "rewind-proxy: "

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "activation.h"
#include "bytebuf.h"
#include "http.h"
#include "jsonin.h"
#include "log.h"

#define MAX_CONNECTIONS 256
/* Idle keep-alive connections hold a thread each: not for ever. */
#define IDLE_TIMEOUT_S 300

enum route { ROUTE_INIT, ROUTE_RUN };

struct request {
	enum route route;
	struct bytebuf body;
	size_t seen;		/* bytes received, kept or not */
	bool too_big;
};

static struct {
	const struct proxy_config *cfg;
	int listen_fd;
	struct MHD_Daemon *mhd;
} H = { .listen_fd = -1 };

static enum MHD_Result queue(struct MHD_Connection *c, struct reply *r, const char *allow)
{
	static char oom[] = "{\"error\":\"out of memory\"}\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->body)
		resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, oom, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, r->body ? r->status : 500, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result queue_error(struct MHD_Connection *c, unsigned status, const char *allow,
				   const char *fmt, ...)
{
	struct reply r;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_error(&r, status, "%s", msg);
	return queue(c, &r, allow);
}

static enum MHD_Result first_call(struct MHD_Connection *c, const char *url, const char *method,
				  void **con_cls)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct request *rq;
	enum route route;

	if (!strcmp(url, "/init"))
		route = ROUTE_INIT;
	else if (!strcmp(url, "/run"))
		route = ROUTE_RUN;
	else
		return queue_error(c, MHD_HTTP_NOT_FOUND, NULL, "The requested resource does not exist.");
	if (strcmp(method, MHD_HTTP_METHOD_POST))
		return queue_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
				   "HTTP method not allowed, supported methods: POST");
	/* Refused before a byte of the body is read (curl waits on 100-continue). */
	if (cl) {
		unsigned long long n = strtoull(cl, NULL, 10);

		if (n > H.cfg->max_body)
			return queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
					   "Request larger than allowed: %llu > %zu bytes.", n, H.cfg->max_body);
	}
	/* The reference runtimes refuse a second /init before reading it. */
	if (route == ROUTE_INIT && activation_initialized()) {
		activation_log("Cannot initialize the action more than once.");
		return queue_error(c, MHD_HTTP_FORBIDDEN, NULL, "Cannot initialize the action more than once.");
	}
	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return MHD_NO;
	rq->route = route;
	*con_cls = rq;
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct request *rq = *con_cls;
	struct reply r = { 0 };
	json_object *body;
	char err[512];

	if (!rq)
		return first_call(c, url, method, con_cls);
	if (*upload_data_size) {
		/* Past the limit the rest is read and dropped: the answer comes at the end. */
		rq->seen += *upload_data_size;
		if (!rq->too_big && rq->body.len + *upload_data_size > H.cfg->max_body) {
			rq->too_big = true;
			free(rq->body.p);
			rq->body = (struct bytebuf){ 0 };
		}
		if (!rq->too_big &&
		    bytebuf_append(&rq->body, upload_data, *upload_data_size, 16384))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return queue_error(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
				   "Request larger than allowed: %zu > %zu bytes.", rq->seen, H.cfg->max_body);
	body = jsonin_request_body(rq->body.p, rq->body.len, err, sizeof(err));
	free(rq->body.p);
	rq->body = (struct bytebuf){ 0 };
	if (!body)
		return queue_error(c, MHD_HTTP_BAD_REQUEST, NULL, "Error unmarshaling request: %s", err);
	if (rq->route == ROUTE_INIT)
		activation_init(body, &r);
	else
		activation_run(body, &r);
	json_object_put(body);
	return queue(c, &r, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	if (rq) {
		free(rq->body.p);
		free(rq);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* libmicrohttpd's messages end in a newline already. */
	pr_warn("http: %s%s", msg, msg[0] && msg[strlen(msg) - 1] == '\n' ? "" : "\n");
}

int http_bind(const struct proxy_config *cfg, int *port, char *err, size_t errlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cfg->port) };
	socklen_t salen = sizeof(sa);
	int fd, one = 1;

	H.cfg = cfg;
	if (inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "--bind %s: not an IPv4 address", cfg->bind);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen)) {
		int e = errno;

		snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->bind, cfg->port, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	H.listen_fd = fd;
	*port = ntohs(sa.sin_port);
	return 0;
}

int http_serve(const struct proxy_config *cfg, char *err, size_t errlen)
{
	H.cfg = cfg;
	H.mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				 MHD_USE_POLL | MHD_USE_ERROR_LOG,
				 0, NULL, NULL, handle, NULL,
				 /* First, or MHD logs the others' errors its own way. */
				 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				 MHD_OPTION_LISTEN_SOCKET, H.listen_fd,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
				 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				 MHD_OPTION_END);
	if (!H.mhd) {
		snprintf(err, errlen, "cannot start the HTTP server (libmicrohttpd)");
		return -EIO;
	}
	return 0;
}

void http_stop(void)
{
	if (H.mhd)
		MHD_stop_daemon(H.mhd);	/* closes the listening socket too */
	else if (H.listen_fd >= 0)
		close(H.listen_fd);
	H.mhd = NULL;
	H.listen_fd = -1;
}
