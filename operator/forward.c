/* forward.c: proxies API requests for customers owned by another shard (plain sockets, HTTP/1.0). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "forward.h"
#include "log.h"

#define FW_PREFIX      "/api/v1/customers/"
#define FW_REQ_MAX     2048

static const char *const fw_args[] = {
	"cf", "from", "to", "metric", "resolution", "since", "until",
};

const char *
forward_content_type(const char *v)
{
	static const char *const known[] = {
		"application/json", "image/png", "text/csv",
		"text/plain; charset=utf-8",
	};

	for (size_t i = 0; v != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strncasecmp(v, known[i], strcspn(known[i], ";")) == 0)
			return known[i];
	return "application/octet-stream";
}

/* Appends s percent-encoded (unreserved characters as they are); false when full. */
static bool
fw_urlenc(char *buf, size_t len, size_t *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.' || *p == '~';

		if (*o + 4 >= len)
			return false;
		if (plain) {
			buf[(*o)++] = (char)*p;
		} else {
			buf[(*o)++] = '%';
			buf[(*o)++] = hex[*p >> 4];
			buf[(*o)++] = hex[*p & 15];
		}
	}
	buf[*o] = '\0';
	return true;
}

/* The request line and headers; false when it does not fit. */
static bool
fw_build(const struct api_request *req, const char *addr, char *buf, size_t len)
{
	size_t o;
	int n = snprintf(buf, len, "%s ", req->method);

	if (n < 0 || (size_t)n >= len)
		return false;
	o = (size_t)n;
	/* The path is ours to check: only the customer routes, ids are [A-Za-z0-9_.:-]. */
	if (!fw_urlenc(buf, len, &o, req->path))
		return false;
	/* fw_urlenc turned '/' into %2F: restore the separators. */
	for (char *p = strstr(buf, "%2F"); p != NULL; p = strstr(p, "%2F")) {
		*p = '/';
		memmove(p + 1, p + 3, strlen(p + 3) + 1);
		o -= 2;
	}
	n = snprintf(buf + o, len - o, "?gw_forwarded=1");
	if (n < 0 || (size_t)n >= len - o)
		return false;
	o += (size_t)n;
	for (size_t i = 0; i < sizeof(fw_args) / sizeof(fw_args[0]); i++) {
		const char *v = req->query != NULL ? req->query(req->qctx, fw_args[i]) : NULL;

		if (v == NULL)
			continue;
		n = snprintf(buf + o, len - o, "&%s=", fw_args[i]);
		if (n < 0 || (size_t)n >= len - o)
			return false;
		o += (size_t)n;
		if (!fw_urlenc(buf, len, &o, v))
			return false;
	}
	n = snprintf(buf + o, len - o, " HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n"
	    "User-Agent: gatewatch-operator-forward\r\n\r\n", addr);
	return n >= 0 && (size_t)n < len - o;
}

static int
fw_connect(const char *addr, int timeout_ms)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints, *ai = NULL;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	size_t hl;
	int fd = -1;

	if (colon == NULL || (hl = (size_t)(colon - addr)) == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Reads the whole answer (until close) into a malloc'd buffer; its length or -1. */
static long
fw_read_all(int fd, char **out)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	if (buf == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			char *nb;

			if (cap >= FORWARD_BODY_MAX + 65536 ||
			    (nb = realloc(buf, cap * 2 + 1)) == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -1;	/* includes the receive timeout */
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return (long)len;
}

int
forward_parse(char *resp, size_t len, struct api_response *r)
{
	char *hdr_end, *ct = NULL, *line;
	int status;

	if (resp == NULL || len < 16 ||
	    (hdr_end = memmem(resp, len, "\r\n\r\n", 4)) == NULL ||
	    memchr(resp, '\0', (size_t)(hdr_end - resp)) != NULL)
		return -1;	/* headers are text; a NUL there means a broken peer */
	*hdr_end = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || strlen(resp) < 12 ||
	    sscanf(resp + 9, "%3d", &status) != 1 || status < 100 || status > 599)
		return -1;
	for (line = strstr(resp, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n"))
		if (strncasecmp(line + 2, "Content-Type:", 13) == 0) {
			ct = line + 15;
			while (*ct == ' ')
				ct++;
		}
	hdr_end += 4;
	r->status = status;
	r->content_type = forward_content_type(ct);
	r->body_len = len - (size_t)(hdr_end - resp);
	if (r->body_len > FORWARD_BODY_MAX || (r->body = malloc(r->body_len + 1)) == NULL)
		return -1;
	memcpy(r->body, hdr_end, r->body_len);
	r->body[r->body_len] = '\0';
	return 0;
}

bool
forward_request(void *fctx, const struct api_request *req,
    struct api_response *r)
{
	struct cluster *c = fctx;
	char id[GW_ID_MAX], shard[GW_ID_MAX], addr[128], rq[FW_REQ_MAX], *resp = NULL;
	struct api_response fr;
	size_t idlen;
	long n;
	int fd;

	if (c == NULL || req == NULL || req->path == NULL ||
	    (req->query != NULL && req->query(req->qctx, "gw_forwarded") != NULL) ||
	    (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) ||
	    strncmp(req->path, FW_PREFIX, strlen(FW_PREFIX)) != 0)
		return false;
	idlen = strcspn(req->path + strlen(FW_PREFIX), "/");
	if (idlen == 0 || idlen >= sizeof(id))
		return false;
	memcpy(id, req->path + strlen(FW_PREFIX), idlen);
	id[idlen] = '\0';
	if (!gw_id_valid(id) ||
	    cluster_owner(c, id, shard, sizeof(shard), addr, sizeof(addr)) == -1 ||
	    strcmp(shard, cluster_shard_id(c)) == 0 ||
	    !fw_build(req, addr, rq, sizeof(rq)) ||
	    (fd = fw_connect(addr, FORWARD_TIMEOUT_MS)) == -1)
		return false;
	memset(&fr, 0, sizeof(fr));
	n = write(fd, rq, strlen(rq)) == (ssize_t)strlen(rq) ? fw_read_all(fd, &resp) : -1;
	close(fd);
	if (n < 0 || forward_parse(resp, (size_t)n, &fr) == -1) {
		free(resp);
		api_response_clear(&fr);
		log_warn("forward: customer %s: shard %s (%s) did not answer", id,
		    shard, addr);
		return false;
	}
	free(resp);
	*r = fr;
	return true;
}
