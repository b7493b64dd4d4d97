/* ctl_http.c: gatewatchctl's HTTP/1.1 client (plain TCP, chunked or sized bodies, deadlines). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl_http.h"

struct ctl_buf {
	char  *data;
	size_t len, cap;
};

static int
ctl_buf_add(struct ctl_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((d = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Parses http://host[:port][/prefix]; -1 with a message for anything else. */
int
ctl_url_parse(const char *url, struct ctl_url *u)
{
	const char *p, *host_end, *path;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "http://", 7) != 0) {
		fprintf(stderr, "gatewatchctl: URL must start with http:// (got \"%s\")\n", url);
		return -1;
	}
	p = url + 7;
	path = p + strcspn(p, "/");
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(path - p));
		if (host_end == NULL)
			goto bad;
		hl = (size_t)(host_end - p - 1);
		p++;
		host_end++;
	} else {
		host_end = p + strcspn(p, ":/");
		hl = (size_t)(host_end - p);
	}
	if (hl == 0 || hl >= sizeof(u->host))
		goto bad;
	memcpy(u->host, p, hl);
	if (*host_end == ':') {
		size_t pl = (size_t)(path - host_end - 1);

		if (pl == 0 || pl >= sizeof(u->port) ||
		    strspn(host_end + 1, "0123456789") < pl)
			goto bad;
		memcpy(u->port, host_end + 1, pl);
	} else if (host_end != path)
		goto bad;
	else
		strcpy(u->port, "80");
	if (strlen(path) >= sizeof(u->prefix))
		goto bad;
	strcpy(u->prefix, path);
	while ((hl = strlen(u->prefix)) > 0 && u->prefix[hl - 1] == '/')
		u->prefix[hl - 1] = '\0';
	return 0;
bad:
	fprintf(stderr, "gatewatchctl: malformed URL \"%s\" (expected "
	    "http://HOST[:PORT][/PREFIX])\n", url);
	return -1;
}

static long long
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; 1 ready, 0 timeout, -1 error. */
static int
ctl_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd pfd = { fd, events, 0 };
	long long left;
	int rc;

	for (;;) {
		left = deadline_ms - ctl_now_ms();
		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

/* Connects to one address with a deadline; returns the fd or -1 (errno set). */
static int
ctl_connect_one(const struct addrinfo *ai, long long deadline_ms)
{
	int fd, err = 0;
	socklen_t el = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	switch (ctl_wait(fd, POLLOUT, deadline_ms)) {
	case 0:
		errno = ETIMEDOUT;
		goto fail;
	case -1:
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1)
		goto fail;
	if (err == 0)
		return fd;
	errno = err;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int
ctl_connect(const struct ctl_url *u, long long deadline_ms)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		fprintf(stderr, "gatewatchctl: cannot resolve %s: %s\n", u->host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = ctl_connect_one(ai, deadline_ms)) == -1)
			err = errno;
	}
	freeaddrinfo(res);
	if (fd == -1)
		fprintf(stderr, "gatewatchctl: cannot connect to %s port %s: %s "
		    "(is gatewatch-operator running? set -u or GATEWATCH_URL)\n",
		    u->host, u->port, strerror(err));
	return fd;
}

static int
ctl_send_all(int fd, const char *p, size_t n, long long deadline_ms)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (ctl_wait(fd, POLLOUT, deadline_ms) != 1) {
				errno = ETIMEDOUT;
				return -1;
			}
		} else
			return -1;
	}
	return 0;
}

/* Case-insensitive search for a header line "name:" in [h, end); value or NULL. */
static const char *
ctl_header(const char *h, const char *end, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *line = h, *eol;

	while (line < end) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			const char *ve = eol;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		line = eol + 1;
	}
	return NULL;
}

/* After the last chunk: 1 once the (ignored) trailers end with an empty line. */
static int
ctl_trailers_done(const char *p, size_t n)
{
	const char *eol;

	while (n > 0) {
		if ((eol = memchr(p, '\n', n)) == NULL)
			return 0;
		if (eol == p || (eol == p + 1 && p[0] == '\r'))
			return 1;
		n -= (size_t)(eol - p) + 1;
		p = eol + 1;
	}
	return 0;
}

/*
 * Decodes a chunked body at p (n bytes) into out. Returns 1 when the final
 * chunk was seen, 0 when more bytes are needed, -1 when malformed.
 */
static int
ctl_dechunk(const char *p, size_t n, struct ctl_buf *out)
{
	size_t off = 0, size, i;
	const char *eol;

	out->len = 0;
	for (;;) {
		eol = memchr(p + off, '\n', n - off);
		if (eol == NULL)
			return n - off > 1024 ? -1 : 0;
		size = 0;
		for (i = off; i < (size_t)(eol - p) && isxdigit((unsigned char)p[i]); i++) {
			if (size > (CTL_RESPONSE_MAX >> 4))
				return -1;
			size = size * 16 + (size_t)(p[i] <= '9' ? p[i] - '0' :
			    (p[i] | 0x20) - 'a' + 10);
		}
		if (i == off || (p[i] != ';' && p[i] != '\r' && p[i] != '\n'))
			return -1;
		off = (size_t)(eol - p) + 1;
		if (size == 0)
			return ctl_trailers_done(p + off, n - off);
		if (n - off < size + 2)
			return 0;
		if (ctl_buf_add(out, p + off, size) == -1)
			return -1;
		off += size;
		if (p[off] == '\r')
			off++;
		if (off >= n || p[off] != '\n')
			return -1;
		off++;
	}
}

/* Framing state of a response read so far. */
struct ctl_frame {
	size_t hdr_len;     /* bytes up to and including the blank line */
	int    status;
	bool   chunked;
	bool   has_length;
	size_t length;
};

/* Parses the status line and headers; 1 done, 0 need more, -1 malformed. */
static int
ctl_parse_head(const struct ctl_buf *b, struct ctl_frame *f)
{
	const char *end, *v;
	size_t vl;
	char num[24];
	int major, minor;

	end = memmem(b->data, b->len, "\r\n\r\n", 4);
	if (end == NULL)
		return b->len > CTL_HEADERS_MAX ? -1 : 0;
	f->hdr_len = (size_t)(end - b->data) + 4;
	if (sscanf(b->data, "HTTP/%d.%d %3d", &major, &minor, &f->status) != 3 ||
	    major != 1 || f->status < 100 || f->status > 599)
		return -1;
	f->chunked = false;
	f->has_length = false;
	v = ctl_header(b->data, end, "Transfer-Encoding", &vl);
	if (v != NULL && vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0)
		f->chunked = true;
	v = ctl_header(b->data, end, "Content-Length", &vl);
	if (v != NULL && !f->chunked) {
		char *e;
		unsigned long long cl;

		if (vl == 0 || vl >= sizeof(num) || strspn(v, "0123456789") < vl)
			return -1;
		memcpy(num, v, vl);
		num[vl] = '\0';
		cl = strtoull(num, &e, 10);
		if (cl > CTL_RESPONSE_MAX)
			return -1;
		f->has_length = true;
		f->length = (size_t)cl;
	}
	if (f->status == 204 || f->status == 304) {
		f->has_length = true;
		f->length = 0;
	}
	return 1;
}

/*
 * Checks whether the whole response is in b; 1 complete (body in out),
 * 0 need more, -1 malformed. eof: the server closed the connection.
 */
static int
ctl_frame_body(const struct ctl_buf *b, struct ctl_frame *f, bool eof,
    struct ctl_buf *out)
{
	const char *body = b->data + f->hdr_len;
	size_t have = b->len - f->hdr_len;
	int rc;

	out->len = 0;
	if (f->chunked) {
		rc = ctl_dechunk(body, have, out);
		return rc == 0 && eof ? -1 : rc;
	}
	if (f->has_length) {
		if (have < f->length)
			return eof ? -1 : 0;
		return ctl_buf_add(out, body, f->length) == -1 ? -1 : 1;
	}
	if (!eof)
		return 0;
	return ctl_buf_add(out, body, have) == -1 ? -1 : 1;
}

/* Reads until the response is complete; fills resp. */
static int
ctl_read_response(int fd, long long deadline_ms, struct ctl_response *resp)
{
	struct ctl_buf in = { 0 }, body = { 0 };
	struct ctl_frame f;
	char chunk[16384];
	int head = 0, rc = 0;
	bool eof = false;
	ssize_t n;

	while (rc == 0) {
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (ctl_wait(fd, POLLIN, deadline_ms) != 1) {
				fprintf(stderr, "gatewatchctl: timed out waiting for the response\n");
				goto fail;
			}
			continue;
		}
		if (n == -1) {
			fprintf(stderr, "gatewatchctl: receive error: %s\n", strerror(errno));
			goto fail;
		}
		eof = n == 0;
		if (in.len + (size_t)n > CTL_RESPONSE_MAX || ctl_buf_add(&in, chunk, (size_t)n) == -1) {
			fprintf(stderr, "gatewatchctl: response too large\n");
			goto fail;
		}
		if (head == 0 && (head = ctl_parse_head(&in, &f)) == 0 && eof)
			head = -1;
		if (head == 1 && f.status < 200) {	/* 1xx: drop and read on */
			memmove(in.data, in.data + f.hdr_len, in.len - f.hdr_len);
			in.len -= f.hdr_len;
			head = ctl_parse_head(&in, &f);
		}
		rc = head == 1 ? ctl_frame_body(&in, &f, eof, &body) : head;
		if (rc == 0 && eof)
			rc = -1;
	}
	if (rc == -1) {
		fprintf(stderr, "gatewatchctl: malformed or truncated HTTP response\n");
		goto fail;
	}
	free(in.data);
	if (body.data == NULL && ctl_buf_add(&body, "", 0) == -1)
		return -1;
	resp->status = f.status;
	resp->body = body.data;
	resp->body_len = body.len;
	return 0;
fail:
	free(in.data);
	free(body.data);
	return -1;
}

/* One request; body may be NULL. Returns 0 with resp filled, -1 after an error message. */
int
ctl_http(const struct ctl_url *u, const char *method, const char *path,
    const char *body, int timeout_s, struct ctl_response *resp)
{
	long long deadline = ctl_now_ms() + (long long)timeout_s * 1000;
	struct ctl_buf req = { 0 };
	char head[1024];
	bool v6 = strchr(u->host, ':') != NULL;
	int fd, rc;

	snprintf(head, sizeof(head), "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
	    "User-Agent: gatewatchctl/0.1\r\nAccept: application/json\r\n"
	    "Connection: close\r\n", method, u->prefix, path, v6 ? "[" : "",
	    u->host, v6 ? "]" : "", u->port);
	if (ctl_buf_add(&req, head, strlen(head)) == -1)
		return -1;
	if (body != NULL) {
		snprintf(head, sizeof(head), "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n", strlen(body));
		ctl_buf_add(&req, head, strlen(head));
	}
	if (ctl_buf_add(&req, "\r\n", 2) == -1 ||
	    (body != NULL && ctl_buf_add(&req, body, strlen(body)) == -1)) {
		free(req.data);
		return -1;
	}
	if ((fd = ctl_connect(u, deadline)) == -1) {
		free(req.data);
		return -1;
	}
	rc = ctl_send_all(fd, req.data, req.len, deadline);
	free(req.data);
	if (rc == -1)
		fprintf(stderr, "gatewatchctl: send error: %s\n", strerror(errno));
	else
		rc = ctl_read_response(fd, deadline, resp);
	close(fd);
	return rc;
}
