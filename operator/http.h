/* http.h: the HTTP server (libmicrohttpd); the only libmicrohttpd user. Routes live in api.c. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include "api.h"

#define HTTP_DEFAULT_ADDR   "127.0.0.1:8080"
#define HTTP_BODY_MAX       (64 * 1024)  /* request bodies larger get 413 */
#define HTTP_CONN_LIMIT     128
#define HTTP_TIMEOUT_S      10
#define HTTP_THREADS        2

struct http;
struct static_site;

/*
 * Starts serving on addr ("IPv4:PORT" or "[IPv6]:PORT"; port 0 picks a free
 * one) with a pool of HTTP_THREADS threads (sharded, i.e. api->forward or
 * api->fanout set: a thread per connection instead), at most HTTP_CONN_LIMIT
 * connections, HTTP_TIMEOUT_S idle timeout, header memory capped by MHD
 * and bodies capped at HTTP_BODY_MAX. api is copied. Returns NULL on error
 * (logged). site (borrowed, may be NULL) serves the dashboard files of
 * static.h for GET/HEAD of static_route() paths.
 */
struct http *http_start(const char *addr, const struct api_ctx *api,
    const struct static_site *site);

/* The bound TCP port (useful with port 0). */
unsigned http_port(const struct http *h);

/* Stops the threads and frees. NULL is a no-op. */
void http_stop(struct http *h);

#endif
