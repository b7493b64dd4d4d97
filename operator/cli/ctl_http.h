/* ctl_http.h: gatewatchctl's HTTP/1.1 client (plain TCP, chunked or sized bodies, deadlines). */
#ifndef GW_CTL_HTTP_H
#define GW_CTL_HTTP_H

#include <stddef.h>

#define CTL_RESPONSE_MAX  (64u * 1024 * 1024)  /* larger responses are refused */
#define CTL_HEADERS_MAX   (64u * 1024)

struct ctl_url {
	char host[256];   /* without brackets for IPv6 literals */
	char port[8];
	char prefix[256]; /* path prefix, no trailing '/' */
};

struct ctl_response {
	int    status;
	char  *body;      /* NUL-terminated, owned */
	size_t body_len;
};

/*
 * Parses "http://HOST[:PORT][/PREFIX]" (HOST may be "[v6]") into u.
 * Returns 0, or -1 (nothing printed).
 */
int ctl_url_parse(const char *url, struct ctl_url *u);

/*
 * One request to u's server (body may be NULL), bounded by timeout_s in
 * total. Returns 0 with resp filled (resp->body owned by the caller), or -1
 * after printing the transport error to stderr.
 */
int ctl_http(const struct ctl_url *u, const char *method, const char *path,
    const char *body, int timeout_s, struct ctl_response *resp);

#endif
