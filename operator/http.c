/* http.c: libmicrohttpd glue: address parsing, limits, request bodies, response headers. */
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http.h"
#include "log.h"
#include "static.h"

struct http {
	struct MHD_Daemon *d;
	struct api_ctx api;
	const struct static_site *site;   /* borrowed, may be NULL */
	unsigned port;
};

/* Per-request state: the body received so far. */
struct http_req {
	char  *body;
	size_t len;
	bool   too_large;
};

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("http: %s", line);
}

static const char *
http_query(void *qctx, const char *key)
{
	return MHD_lookup_connection_value(qctx, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result
http_send(struct MHD_Connection *conn, struct api_response *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->body == NULL) {
		static char oom[] = "{\"error\":\"out of memory\"}";
		resp = MHD_create_response_from_buffer(strlen(oom), oom,
		    MHD_RESPMEM_PERSISTENT);
		r->status = 500;
	} else {
		resp = MHD_create_response_from_buffer(r->body_len, r->body,
		    MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			r->body = NULL;   /* MHD frees it now */
	}
	if (resp == NULL) {
		api_response_clear(r);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
	    r->content_type ? r->content_type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->allow != NULL)
		MHD_add_response_header(resp, "Allow", r->allow);
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Sends a fixed JSON error (413 etc.). */
static enum MHD_Result
http_error(struct MHD_Connection *conn, int status, const char *msg)
{
	struct api_response r = { .status = status,
	    .content_type = "application/json" };
	size_t n = strlen(msg) + 16;

	if ((r.body = malloc(n)) != NULL)
		r.body_len = (size_t)snprintf(r.body, n, "{\"error\":\"%s\"}", msg);
	return http_send(conn, &r);
}

/* Serves one dashboard file from memory (GET/HEAD only). */
static enum MHD_Result
http_static(struct MHD_Connection *conn, const struct static_site *site,
    const char *url, const char *method)
{
	struct static_file f;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return http_error(conn, 405, "only GET and HEAD here");
	if (static_lookup(site, url, &f) == -1)
		return http_error(conn, 404, "no such file");
	resp = MHD_create_response_from_buffer(f.len, (void *)f.data,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", f.mime);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy", STATIC_CSP);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct http_req *rq = *con_cls;
	struct api_request req;
	struct api_response resp;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		if (!rq->too_large && rq->len + n <= HTTP_BODY_MAX) {
			char *nb = realloc(rq->body, rq->len + n + 1);
			if (nb == NULL)
				return MHD_NO;
			rq->body = nb;
			memcpy(rq->body + rq->len, upload_data, n);
			rq->len += n;
			rq->body[rq->len] = '\0';
		} else {
			rq->too_large = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->too_large)
		return http_error(conn, 413, "request body too large");
	if (h->site != NULL && static_route(url))
		return http_static(conn, h->site, url, method);
	req = (struct api_request){ .method = method, .path = url,
	    .query = http_query, .qctx = conn, .body = rq->body,
	    .body_len = rq->len };
	api_handle(&h->api, &req, &resp);
	return http_send(conn, &resp);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* Parses "host:port" / "[v6]:port" into ss. 0 or -1. */
static int
http_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[128];
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t hl;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	    .ai_socktype = SOCK_STREAM }, *res = NULL;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		h = addr + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

struct http *
http_start(const char *addr, const struct api_ctx *api,
    const struct static_site *site)
{
	struct http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *info;
	/* AUTO: epoll on Linux. select() refused every connection once the
	 * process had 1,024 descriptors (1,000 probes: bench_soak, issue 11). */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;

	if (h == NULL)
		return NULL;
	h->api = *api;
	h->site = site;
	if (http_parse_addr(addr, &ss, &sslen) == -1) {
		log_err("http: bad address \"%s\" (expected IPv4:PORT or [IPv6]:PORT)",
		    addr);
		free(h);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/*
	 * Sharded: a list route waits for the other shards (up to
	 * FORWARD_FANOUT_MS) and they for us; with a thread per connection
	 * that wait never holds up other requests (a fixed pool would queue
	 * them, and shards asking each other could exhaust both pools).
	 */
	if (api->fanout != NULL || api->forward != NULL)
		flags |= MHD_USE_THREAD_PER_CONNECTION;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, http_handler, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (flags & MHD_USE_THREAD_PER_CONNECTION) ?
	    0U : (unsigned)HTTP_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		log_err("http: cannot listen on %s", addr);
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	log_info("http: listening on %s (port %u)", addr, h->port);
	return h;
}

unsigned
http_port(const struct http *h)
{
	return h->port;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
