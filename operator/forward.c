/* forward.c: the any-shard API's HTTP client: proxies customer routes to the owner shard, fans list routes out to every shard (plain sockets, HTTP/1.0). */
#include <errno.h>
#include <fcntl.h>
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

/* Query arguments of the list routes a fanned-out request carries. */
static const char *const fw_list_args[] = {
	"recent", "since", "until", "customer", "kind", "action", "state",
	"limit", "by", "order", "from", "to",
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

/*
 * The request line and headers: method, req's path, "?" marker, then those
 * of args (nargs) that req carries; false when it does not fit.
 */
static bool
fw_build_req(const char *method, const char *marker, const char *const *args,
    size_t nargs, const struct api_request *req, const char *addr, char *buf,
    size_t len)
{
	size_t o;
	int n = snprintf(buf, len, "%s ", method);

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
	n = snprintf(buf + o, len - o, "?%s", marker);
	if (n < 0 || (size_t)n >= len - o)
		return false;
	o += (size_t)n;
	for (size_t i = 0; i < nargs; i++) {
		const char *v = req->query != NULL ? req->query(req->qctx, args[i]) : NULL;

		if (v == NULL)
			continue;
		n = snprintf(buf + o, len - o, "&%s=", args[i]);
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

static bool
fw_build(const struct api_request *req, const char *addr, char *buf, size_t len)
{
	return fw_build_req(req->method, "gw_forwarded=1", fw_args,
	    sizeof(fw_args) / sizeof(fw_args[0]), req, addr, buf, len);
}

/* Resolves "host:port" ("[v6]:port" too); the caller frees *ai. 0 or -1. */
static int
fw_resolve(const char *addr, struct addrinfo **ai)
{
	char host[128];
	const char *colon = strrchr(addr, ':'), *h = addr;
	struct addrinfo hints;
	size_t hl;

	*ai = NULL;
	if (colon == NULL || (hl = (size_t)(colon - addr)) == 0)
		return -1;
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		h = addr + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, ai) != 0 || *ai == NULL) {
		*ai = NULL;
		return -1;
	}
	return 0;
}

static int
fw_connect(const char *addr, int timeout_ms)
{
	struct addrinfo *ai = NULL;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd = -1;

	if (fw_resolve(addr, &ai) == -1)
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

/* forward_parse with the body limit max. */
static int
fw_parse(char *resp, size_t len, struct api_response *r, size_t max)
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
	if (r->body_len > max || (r->body = malloc(r->body_len + 1)) == NULL)
		return -1;
	memcpy(r->body, hdr_end, r->body_len);
	r->body[r->body_len] = '\0';
	return 0;
}

int
forward_parse(char *resp, size_t len, struct api_response *r)
{
	return fw_parse(resp, len, r, FORWARD_BODY_MAX);
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

/* ---- fan-out of the list routes ---- */

/* One peer's exchange: connect, send rq, read until the peer closes. */
struct fw_conn {
	int    fd;           /* -1: finished (done or failed) */
	bool   connected;
	size_t sent, rqlen;
	char   rq[FW_REQ_MAX];
	char  *buf;          /* the answer so far (malloc'd) */
	size_t len, cap;
	bool   ok;           /* complete answer read */
};

static double
fw_mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static void
fw_conn_end(struct fw_conn *k, bool ok)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->ok = ok;
}

/* A non-blocking connect to addr; the fd or -1. */
static int
fw_connect_nb(const char *addr)
{
	struct addrinfo *ai = NULL;
	int fd;

	if (fw_resolve(addr, &ai) == -1)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Progress on one connection after poll said revents. */
static void
fw_conn_step(struct fw_conn *k, short revents)
{
	ssize_t n;

	if (!k->connected) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
			fw_conn_end(k, false);
			return;
		}
		k->connected = true;
	}
	if (k->sent < k->rqlen) {
		n = send(k->fd, k->rq + k->sent, k->rqlen - k->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fw_conn_end(k, false);
		else if (n > 0)
			k->sent += (size_t)n;
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if (k->len == k->cap) {
		size_t nc = k->cap == 0 ? 65536 : k->cap * 2;
		char *nb;

		if (k->cap >= FORWARD_LIST_MAX + 65536 ||
		    (nb = realloc(k->buf, nc + 1)) == NULL) {
			fw_conn_end(k, false);
			return;
		}
		k->buf = nb;
		k->cap = nc;
	}
	n = read(k->fd, k->buf + k->len, k->cap - k->len);
	if (n == 0)
		fw_conn_end(k, true);
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		fw_conn_end(k, false);
	else if (n > 0)
		k->len += (size_t)n;
}

/* Runs every exchange in parallel until all finished or deadline_ms passed. */
static void
fw_run(struct fw_conn *k, size_t n, int deadline_ms)
{
	struct pollfd pf[CLUSTER_PEERS_MAX];
	size_t map[CLUSTER_PEERS_MAX];
	double end = fw_mono_ms() + deadline_ms;

	for (;;) {
		nfds_t m = 0;
		double left = end - fw_mono_ms();
		int rc;

		for (size_t i = 0; i < n; i++) {
			if (k[i].fd < 0)
				continue;
			pf[m].fd = k[i].fd;
			pf[m].events = !k[i].connected || k[i].sent < k[i].rqlen ?
			    POLLOUT : POLLIN;
			pf[m].revents = 0;
			map[m++] = i;
		}
		if (m == 0 || left <= 0)
			break;
		rc = poll(pf, m, (int)left + 1);
		if (rc < 0 && errno != EINTR)
			break;
		for (nfds_t j = 0; rc > 0 && j < m; j++)
			if (pf[j].revents != 0)
				fw_conn_step(&k[map[j]], pf[j].revents);
	}
	for (size_t i = 0; i < n; i++)
		if (k[i].fd >= 0)
			fw_conn_end(&k[i], false);   /* too slow: missing */
}

int
forward_fanout(void *fctx, const struct api_request *req,
    struct api_peer_answer **out, size_t *nout)
{
	struct cluster *c = fctx;
	struct cluster_peer peers[CLUSTER_PEERS_MAX];
	struct api_peer_answer *a;
	struct fw_conn *k;
	int np;

	*out = NULL;
	*nout = 0;
	if (c == NULL || req == NULL || req->path == NULL ||
	    (np = cluster_peers(c, peers, CLUSTER_PEERS_MAX)) < 0)
		return -1;
	if (np == 0)
		return 0;
	a = calloc((size_t)np, sizeof(*a));
	k = calloc((size_t)np, sizeof(*k));
	if (a == NULL || k == NULL) {
		free(a);
		free(k);
		return -1;
	}
	for (int i = 0; i < np; i++) {
		_Static_assert(sizeof(a[i].shard) == sizeof(peers[i].shard) &&
		    sizeof(a[i].addr) == sizeof(peers[i].addr), "peer sizes");
		memcpy(a[i].shard, peers[i].shard, sizeof(a[i].shard));
		memcpy(a[i].addr, peers[i].addr, sizeof(a[i].addr));
		k[i].fd = -1;
		if (!fw_build_req("GET", "scope=local", fw_list_args,
		    sizeof(fw_list_args) / sizeof(fw_list_args[0]), req,
		    peers[i].addr, k[i].rq, sizeof(k[i].rq)))
			continue;
		k[i].rqlen = strlen(k[i].rq);
		k[i].fd = fw_connect_nb(peers[i].addr);
	}
	fw_run(k, (size_t)np, FORWARD_FANOUT_MS);
	for (int i = 0; i < np; i++) {
		if (k[i].ok && fw_parse(k[i].buf, k[i].len, &a[i].r,
		    FORWARD_LIST_MAX) == 0)
			a[i].answered = true;
		else
			log_debug("forward: %s: shard %s (%s) did not answer in "
			    "%d ms", req->path, a[i].shard, a[i].addr,
			    FORWARD_FANOUT_MS);
		free(k[i].buf);
	}
	free(k);
	*out = a;
	*nout = (size_t)np;
	return 0;
}
