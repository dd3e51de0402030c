/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The HTTP side of the action interface (libmicrohttpd): POST /init and
 * POST /run, request bodies up to --max-body, JSON parsing, and the
 * statuses of everything that is not a valid request.
 */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <stddef.h>

#include "proxy.h"

/*
 * Bind and listen on cfg->bind:cfg->port (port 0: the kernel picks one);
 * *port is the port bound. Nothing is served before http_serve().
 */
int http_bind(const struct proxy_config *cfg, int *port, char *err, size_t errlen);

/* Serve on the bound socket (threads of libmicrohttpd). */
int http_serve(const struct proxy_config *cfg, char *err, size_t errlen);

/* Close every connection and stop. */
void http_stop(void);

#endif /* RP_HTTP_H */
