/* gatewatchctl.c: command-line client for the operator's HTTP API (tables or raw JSON). */
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

#include <jansson.h>

#include "ctl_fmt.h"
#include "ctl_report.h"

#define CTL_DEFAULT_URL   "http://127.0.0.1:8080"
#define CTL_RESPONSE_MAX  (64u * 1024 * 1024)  /* larger responses are refused */
#define CTL_HEADERS_MAX   (64u * 1024)
#define CTL_TABLE_COLS    16
#define CTL_CELL_MAX      64                   /* wider cells are cut with "..." */

/* Exit codes. */
enum { CTL_OK = 0, CTL_ERR_API = 1, CTL_ERR_USAGE = 2 };

/* ======================= HTTP/1.1 client ======================= */

struct ctl_url {
	char host[256];   /* without brackets for IPv6 literals */
	char port[8];
	char prefix[256]; /* path prefix, no trailing '/' */
};

struct ctl_buf {
	char  *data;
	size_t len, cap;
};

struct ctl_response {
	int    status;
	char  *body;      /* NUL-terminated, owned */
	size_t body_len;
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
static int
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
static int
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

/* ======================= formatting ======================= */

struct ctl_table {
	int         ncols;
	const char *hdr[CTL_TABLE_COLS];
	bool        right[CTL_TABLE_COLS];
	char     ***rows;
	size_t      nrows, cap;
};

static void
ctl_table_cols(struct ctl_table *t, const char *spec)
{
	/* spec: "NAME,>NUM,..." ('>' right-aligns); static strings only. */
	static char store[8][512];
	static int used;
	char *s, *tok, *save = NULL;

	memset(t, 0, sizeof(*t));
	s = store[used++ % 8];
	snprintf(s, sizeof(store[0]), "%s", spec);
	for (tok = strtok_r(s, ",", &save); tok && t->ncols < CTL_TABLE_COLS;
	    tok = strtok_r(NULL, ",", &save)) {
		t->right[t->ncols] = tok[0] == '>';
		t->hdr[t->ncols++] = tok[0] == '>' ? tok + 1 : tok;
	}
}

/* Appends a row; cells are copied (cut at CTL_CELL_MAX). NULL cells print "-". */
static void
ctl_table_row(struct ctl_table *t, const char *const *cells)
{
	char **row;
	int i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->rows = realloc(t->rows, t->cap * sizeof(*t->rows));
		if (t->rows == NULL)
			abort();
	}
	row = calloc((size_t)t->ncols, sizeof(*row));
	if (row == NULL)
		abort();
	for (i = 0; i < t->ncols; i++) {
		const char *c = cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-";
		size_t n = strcspn(c, "\n\t");

		if (n > CTL_CELL_MAX)
			n = CTL_CELL_MAX;
		row[i] = malloc(n + 4);
		if (row[i] == NULL)
			abort();
		memcpy(row[i], c, n);
		strcpy(row[i] + n, c[n] != '\0' ? "..." : "");
	}
	t->rows[t->nrows++] = row;
}

static void
ctl_table_print(struct ctl_table *t)
{
	size_t w[CTL_TABLE_COLS], r;
	int i;

	for (i = 0; i < t->ncols; i++)
		w[i] = strlen(t->hdr[i]);
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++)
			if (strlen(t->rows[r][i]) > w[i])
				w[i] = strlen(t->rows[r][i]);
	for (r = 0; r <= t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			const char *c = r == 0 ? t->hdr[i] : t->rows[r - 1][i];
			bool last = i == t->ncols - 1;

			if (t->right[i])
				printf("%*s%s", (int)w[i], c, last ? "" : "  ");
			else
				printf("%-*s%s", last ? 0 : (int)w[i], c, last ? "" : "  ");
		}
		putchar('\n');
	}
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++)
			free(t->rows[r][i]);
		free(t->rows[r]);
	}
	free(t->rows);
	t->rows = NULL;
	t->nrows = t->cap = 0;
}

/* "12.3 Mbit/s"; whole numbers below 1000 without decimals ("5 B"); "-" for NAN. */
static const char *
ctl_si(char *buf, size_t len, double v, const char *unit)
{
	return ctl_fmt_si(buf, len, v, unit, 1, true);
}

static const char *
ctl_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		return "-";
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.2f", v);
	return buf;
}

/* Local time with seconds; "-" for NAN and ts <= 0. */
static const char *
ctl_time(char *buf, size_t len, double ts)
{
	return ctl_fmt_time(buf, len, ts, "%Y-%m-%d %H:%M:%S");
}

static const char *
ctl_jstr(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Renders any JSON scalar as text into buf (objects/arrays as compact JSON). */
static const char *
ctl_jtext(char *buf, size_t len, const json_t *v)
{
	char *s;

	if (v == NULL || json_is_null(v))
		return "-";
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_true(v) || json_is_false(v))
		return json_is_true(v) ? "yes" : "no";
	if (json_is_number(v))
		return ctl_num(buf, len, json_number_value(v));
	s = json_dumps(v, JSON_COMPACT);
	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
	return buf;
}

/* ======================= commands ======================= */

/* Option bits, to check which options a command accepts. */
enum {
	OPT_FROM = 1 << 0, OPT_TO = 1 << 1, OPT_CF = 1 << 2, OPT_SINCE = 1 << 3,
	OPT_LIMIT = 1 << 4, OPT_TIMEOUT = 1 << 5, OPT_PROBE = 1 << 6,
	OPT_REASON = 1 << 7, OPT_MONTH = 1 << 8, OPT_BY = 1 << 9,
	OPT_ORDER = 1 << 10, OPT_OFFSET = 1 << 11,
};

struct ctl {
	struct ctl_url url;
	bool        raw_json;
	int         http_timeout_s;
	unsigned    opts_seen;
	const char *from, *to, *cf, *since, *limit, *timeout, *probe, *reason;
	const char *month, *by, *order, *offset;
	int         nargs;
	char      **args;     /* borrowed from argv: command and its operands */
};

static int
ctl_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gatewatchctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'gatewatchctl --help'.\n", stderr);
	return CTL_ERR_USAGE;
}

/* Percent-encodes s for a path segment or query value. */
static void
ctl_urlenc(char *dst, size_t len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
		    c == ':') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

/*
 * Performs a request and parses the JSON reply into *out. With --json the
 * body is printed as is and *out stays NULL. Returns CTL_OK or CTL_ERR_API
 * (after printing the API's {"error"} text or the transport error).
 */
static int
ctl_call(const struct ctl *c, const char *method, const char *path,
    const char *body, json_t **out)
{
	struct ctl_response r = { 0, NULL, 0 };
	json_error_t jerr;
	json_t *j;
	const char *msg;

	*out = NULL;
	if (ctl_http(&c->url, method, path, body, c->http_timeout_s, &r) == -1)
		return CTL_ERR_API;
	j = json_loadb(r.body, r.body_len, 0, &jerr);
	if (r.status < 200 || r.status > 299) {
		msg = j != NULL ? ctl_jstr(j, "error") : NULL;
		fprintf(stderr, "gatewatchctl: %s %s: HTTP %d: %s\n", method, path,
		    r.status, msg != NULL ? msg : (r.body_len > 0 && r.body_len < 200 ?
		    r.body : "(no error text)"));
		json_decref(j);
		free(r.body);
		return CTL_ERR_API;
	}
	if (c->raw_json) {
		fwrite(r.body, 1, r.body_len, stdout);
		if (r.body_len == 0 || r.body[r.body_len - 1] != '\n')
			putchar('\n');
		json_decref(j);
		free(r.body);
		return CTL_OK;
	}
	if (j == NULL && r.body_len > 0) {
		fprintf(stderr, "gatewatchctl: %s %s: invalid JSON in reply: %s\n",
		    method, path, jerr.text);
		free(r.body);
		return CTL_ERR_API;
	}
	free(r.body);
	*out = j != NULL ? j : json_object();
	return CTL_OK;
}

/* The application with the most bytes in a customer's "apps" object. */
static const char *
ctl_top_app(const json_t *cust)
{
	const json_t *apps = json_object_get(cust, "apps"), *v;
	const char *key, *best = NULL;
	double best_b = -1, b;

	json_object_foreach((json_t *)apps, key, v) {
		b = ctl_fmt_jnum(v, "rx_bytes") + ctl_fmt_jnum(v, "tx_bytes");
		if (!isnan(b) && b > best_b) {
			best_b = b;
			best = key;
		}
	}
	return best;
}

/* bits/s of a direction: the API's *_bps, else bytes * 8 / interval. */
static double
ctl_bps(const json_t *o, const char *dir)
{
	char k1[16], k2[16];
	double v, iv = ctl_fmt_jnum(o, "interval");

	snprintf(k1, sizeof(k1), "%s_bps", dir);
	snprintf(k2, sizeof(k2), "%s_bytes", dir);
	v = ctl_fmt_jnum(o, k1);
	if (isnan(v) && iv > 0)
		v = ctl_fmt_jnum(o, k2) * 8 / iv;
	return v;
}

static double
ctl_pps(const json_t *o, const char *dir)
{
	char k[16];
	double iv = ctl_fmt_jnum(o, "interval");

	snprintf(k, sizeof(k), "%s_packets", dir);
	return iv > 0 ? ctl_fmt_jnum(o, k) / iv : NAN;
}

/* How long a customer's last measured RTT/jitter/loss/DNS is shown when the latest interval
 * had no such traffic (the dashboard holds them as long). */
#define CTL_QOS_HOLD_S 300

/*
 * A quality summary ("tcp", "rtp", "dns") of customer o that has measurements (COUNT > 0):
 * the latest interval's, else the last measured one of the past CTL_QOS_HOLD_S (*held set).
 * NULL when there is none. Borrowed from o.
 */
static const json_t *
ctl_measured(const json_t *o, const char *kind, const char *count, bool *held)
{
	const json_t *cur = json_object_get(o, kind);
	const json_t *last = json_object_get(json_object_get(o, "last_measured"), kind);

	*held = false;
	if (ctl_fmt_jnum(cur, count) > 0)
		return cur;
	if (ctl_fmt_jnum(last, count) > 0 &&
	    ctl_fmt_jnum(o, "ts") - ctl_fmt_jnum(last, "ts") <= CTL_QOS_HOLD_S) {
		*held = true;
		return last;
	}
	return NULL;
}

/* "12.3" of a millisecond or percent figure, "12.3*" when held; "-" for NAN. */
static const char *
ctl_qos(char *buf, size_t len, double v, bool held)
{
	if (isnan(v))
		return "-";
	snprintf(buf, len, "%.1f%s", v, held ? "*" : "");
	return buf;
}

/* The RTT WAN, jitter, RTP loss % and DNS cells of customer o (4 of cells, 4 buffers of b); true if one is held. */
static bool
ctl_qos_cells(const json_t *o, char (*b)[64], const char **cells)
{
	const json_t *tcp, *rtp, *dns;
	bool ht, hr, hd;
	double exp, loss = NAN;

	tcp = ctl_measured(o, "tcp", "handshakes", &ht);
	rtp = ctl_measured(o, "rtp", "streams", &hr);
	dns = ctl_measured(o, "dns", "responses", &hd);
	exp = ctl_fmt_jnum(rtp, "packets_expected");
	if (exp > 0)
		loss = 100 * ctl_fmt_jnum(rtp, "packets_lost") / exp;
	cells[0] = ctl_qos(b[0], 64, tcp ? ctl_fmt_jnum(tcp, "rtt_wan_ms_avg") : NAN, ht);
	cells[1] = ctl_qos(b[1], 64, rtp ? ctl_fmt_jnum(rtp, "jitter_ms_avg") : NAN, hr);
	cells[2] = ctl_qos(b[2], 64, loss, hr);
	cells[3] = ctl_qos(b[3], 64, dns ? ctl_fmt_jnum(dns, "latency_ms_avg") : NAN, hd);
	return (tcp && ht) || (rtp && hr) || (dns && hd);
}

static int
cmd_customers(const struct ctl *c)
{
	struct ctl_table t;
	json_t *j, *arr, *o;
	size_t i;
	bool any_held = false;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/customers", NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	arr = json_object_get(j, "customers");
	ctl_table_cols(&t, "CUSTOMER,PROBE,>RX,>TX,>RX_PPS,>TX_PPS,>FLOWS,>NEW,TOP_APP,"
	    ">RTT_WAN_MS,>JITTER_MS,>RTP_LOSS%,>DNS_MS,UPDATED");
	json_array_foreach(arr, i, o) {
		char b[14][64];
		const char *cells[14] = {
			ctl_jstr(o, "id"), ctl_jstr(o, "probe"),
			ctl_si(b[2], 64, ctl_bps(o, "rx"), "bit/s"),
			ctl_si(b[3], 64, ctl_bps(o, "tx"), "bit/s"),
			ctl_num(b[4], 64, round(ctl_pps(o, "rx"))),
			ctl_num(b[5], 64, round(ctl_pps(o, "tx"))),
			ctl_num(b[6], 64, ctl_fmt_jnum(o, "flows_active")),
			ctl_num(b[7], 64, ctl_fmt_jnum(o, "flows_new")),
			ctl_top_app(o), NULL, NULL, NULL, NULL,
			ctl_time(b[13], 64, ctl_fmt_jnum(o, "ts")),
		};
		if (ctl_qos_cells(o, b + 9, cells + 9))
			any_held = true;
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	if (any_held)
		printf("* last measured value of the past %d s (no such traffic in the latest interval)\n",
		    CTL_QOS_HOLD_S);
	json_decref(j);
	return CTL_OK;
}

/* Prints "  name: k=v k=v" for a summary object such as "rtp". */
static void
ctl_print_summary(const json_t *o, const char *name)
{
	const json_t *s = json_object_get(o, name), *v;
	const char *key;
	char buf[128];

	if (!json_is_object(s) || json_object_size(s) == 0)
		return;
	printf("%-9s", name);
	json_object_foreach((json_t *)s, key, v)
		printf(" %s=%s", key, ctl_jtext(buf, sizeof(buf), v));
	putchar('\n');
}

static void
ctl_print_customer(const json_t *o)
{
	struct ctl_table t;
	const json_t *v;
	const char *key;
	char b[6][64];
	size_t i;

	printf("customer %s  probe %s  interval %s s ending %s\n",
	    ctl_jstr(o, "id") ? ctl_jstr(o, "id") : "-",
	    ctl_jstr(o, "probe") ? ctl_jstr(o, "probe") : "-",
	    ctl_num(b[0], 64, ctl_fmt_jnum(o, "interval")),
	    ctl_time(b[1], 64, ctl_fmt_jnum(o, "ts")));
	printf("rx        %s  %s bytes  %s packets\n",
	    ctl_si(b[0], 64, ctl_bps(o, "rx"), "bit/s"),
	    ctl_num(b[1], 64, ctl_fmt_jnum(o, "rx_bytes")),
	    ctl_num(b[2], 64, ctl_fmt_jnum(o, "rx_packets")));
	printf("tx        %s  %s bytes  %s packets\n",
	    ctl_si(b[0], 64, ctl_bps(o, "tx"), "bit/s"),
	    ctl_num(b[1], 64, ctl_fmt_jnum(o, "tx_bytes")),
	    ctl_num(b[2], 64, ctl_fmt_jnum(o, "tx_packets")));
	printf("flows     %s active, %s new\n",
	    ctl_num(b[0], 64, ctl_fmt_jnum(o, "flows_active")),
	    ctl_num(b[1], 64, ctl_fmt_jnum(o, "flows_new")));
	ctl_print_summary(o, "rtp");
	ctl_print_summary(o, "tcp");
	ctl_print_summary(o, "dns");
	ctl_print_summary(o, "udp");
	if (json_object_size(json_object_get(o, "apps")) > 0) {
		putchar('\n');
		ctl_table_cols(&t, "APP,>RX_BYTES,>TX_BYTES");
		json_object_foreach(json_object_get(o, "apps"), key, v) {
			const char *cells[3] = { key,
			    ctl_si(b[0], 64, ctl_fmt_jnum(v, "rx_bytes"), "B"),
			    ctl_si(b[1], 64, ctl_fmt_jnum(v, "tx_bytes"), "B") };
			ctl_table_row(&t, cells);
		}
		ctl_table_print(&t);
	}
	if (json_array_size(json_object_get(o, "history")) > 0) {
		putchar('\n');
		ctl_table_cols(&t, "TIME,>RX_BYTES,>TX_BYTES,>RX_PACKETS,>TX_PACKETS");
		json_array_foreach(json_object_get(o, "history"), i, v) {
			const char *cells[5] = {
			    ctl_time(b[0], 64, ctl_fmt_jnum(v, "ts")),
			    ctl_num(b[1], 64, ctl_fmt_jnum(v, "rx_bytes")),
			    ctl_num(b[2], 64, ctl_fmt_jnum(v, "tx_bytes")),
			    ctl_num(b[3], 64, ctl_fmt_jnum(v, "rx_packets")),
			    ctl_num(b[4], 64, ctl_fmt_jnum(v, "tx_packets")) };
			ctl_table_row(&t, cells);
		}
		ctl_table_print(&t);
	}
}

static int
cmd_customer(const struct ctl *c)
{
	char path[512], id[256];
	json_t *j;
	int rc;

	ctl_urlenc(id, sizeof(id), c->args[1]);
	snprintf(path, sizeof(path), "/api/v1/customers/%s", id);
	if ((rc = ctl_call(c, "GET", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_print_customer(j);
	json_decref(j);
	return CTL_OK;
}

static int
cmd_probes(const struct ctl *c)
{
	struct ctl_table t;
	json_t *j, *o, *h;
	size_t i;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/probes", NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_table_cols(&t, "PROBE,ADDRESS,LAST_SEEN,>MESSAGES,>LOST,>DUPS,"
	    ">AWAY,>REJECTED,>CUSTOMERS,>CPU%,>PCAP_DROP,>QUEUE_DROP");
	json_array_foreach(json_object_get(j, "probes"), i, o) {
		char b[12][64];
		const char *cells[12];

		h = json_object_get(o, "health");
		cells[0] = ctl_jstr(o, "id");
		cells[1] = ctl_jstr(o, "address");
		cells[2] = ctl_time(b[2], 64, ctl_fmt_jnum(o, "last_seen"));
		cells[3] = ctl_num(b[3], 64, ctl_fmt_jnum(o, "messages"));
		cells[4] = ctl_num(b[4], 64, ctl_fmt_jnum(o, "lost"));
		cells[5] = ctl_num(b[5], 64, ctl_fmt_jnum(o, "duplicates"));
		/* Envelopes the probe sent to other shards (failover), not lost. */
		cells[6] = ctl_num(b[6], 64, ctl_fmt_jnum(o, "forwarded_elsewhere"));
		cells[7] = ctl_num(b[7], 64, ctl_fmt_jnum(o, "rejected"));
		cells[8] = ctl_num(b[8], 64, ctl_fmt_jnum(o, "customers"));
		snprintf(b[9], 64, "%.1f", ctl_fmt_jnum(h, "cpu_pct"));
		cells[9] = isnan(ctl_fmt_jnum(h, "cpu_pct")) ? "-" : b[9];
		cells[10] = ctl_num(b[10], 64, ctl_fmt_jnum(h, "pcap_dropped"));
		cells[11] = ctl_num(b[11], 64, ctl_fmt_jnum(h, "queue_dropped"));
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	json_decref(j);
	return CTL_OK;
}

/* Formats one series value by the metric's unit. */
static const char *
ctl_series_value(char *buf, size_t len, const char *metric, const json_t *v)
{
	size_t ml = strlen(metric);

	if (!json_is_number(v))
		return "-";
	if (ml > 6 && strcmp(metric + ml - 6, "_bytes") == 0)
		return ctl_si(buf, len, json_number_value(v) * 8, "bit/s");
	if (ml > 8 && strcmp(metric + ml - 8, "_packets") == 0)
		return ctl_si(buf, len, json_number_value(v), "pkt/s");
	snprintf(buf, len, "%.3f", json_number_value(v));
	return buf;
}

static int
cmd_series(const struct ctl *c)
{
	char path[1024], id[256], metric[256], q[256];
	struct ctl_table t;
	json_t *j, *pt;
	size_t i;
	int rc, n;

	ctl_urlenc(id, sizeof(id), c->args[1]);
	ctl_urlenc(metric, sizeof(metric), c->args[2]);
	n = snprintf(path, sizeof(path), "/api/v1/customers/%s/series?metric=%s",
	    id, metric);
	if (c->from != NULL && (ctl_urlenc(q, sizeof(q), c->from), 1))
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&from=%s", q);
	if (c->to != NULL && (ctl_urlenc(q, sizeof(q), c->to), 1))
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&to=%s", q);
	if (c->cf != NULL && (ctl_urlenc(q, sizeof(q), c->cf), 1))
		snprintf(path + n, sizeof(path) - (size_t)n, "&cf=%s", q);
	if ((rc = ctl_call(c, "GET", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	printf("%s %s %s, step %s s\n", c->args[1], c->args[2],
	    ctl_jstr(j, "cf") ? ctl_jstr(j, "cf") : "",
	    ctl_num(q, sizeof(q), ctl_fmt_jnum(j, "step")));
	ctl_table_cols(&t, "TIME,>VALUE");
	json_array_foreach(json_object_get(j, "points"), i, pt) {
		char b[2][64];
		const char *cells[2] = {
		    ctl_time(b[0], 64, json_number_value(json_array_get(pt, 0))),
		    ctl_series_value(b[1], 64, c->args[2], json_array_get(pt, 1)) };
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	json_decref(j);
	return CTL_OK;
}

static int
cmd_events(const struct ctl *c)
{
	char path[512], q[128];
	struct ctl_table t;
	json_t *j, *e;
	double since = NAN;
	size_t i;
	int rc, n;

	n = snprintf(path, sizeof(path), "/api/v1/events?limit=%s",
	    c->limit != NULL ? c->limit : "100");
	if (c->since != NULL) {
		char *end;

		ctl_urlenc(q, sizeof(q), c->since);
		snprintf(path + n, sizeof(path) - (size_t)n, "&since=%s", q);
		since = strtod(c->since, &end);
		if (*end != '\0')
			since = NAN;	/* relative times are the server's business */
	}
	if ((rc = ctl_call(c, "GET", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_table_cols(&t, "TIME,KIND,SEVERITY,CUSTOMER,PROBE,SRC,DST,>RATE,DETAIL");
	json_array_foreach(json_object_get(j, "events"), i, e) {
		char b[4][64], kind[96];
		const char *cells[9];

		if (!isnan(since) && ctl_fmt_jnum(e, "ts") < since)
			continue;
		snprintf(kind, sizeof(kind), "%s%s", ctl_jstr(e, "kind") ?
		    ctl_jstr(e, "kind") : "-", json_is_true(json_object_get(e,
		    "cleared")) ? " (cleared)" : "");
		cells[0] = ctl_time(b[0], 64, ctl_fmt_jnum(e, "ts"));
		cells[1] = kind;
		cells[2] = ctl_jstr(e, "severity");
		cells[3] = ctl_jstr(e, "customer");
		cells[4] = ctl_jstr(e, "probe");
		cells[5] = ctl_jstr(e, "src");
		cells[6] = ctl_jstr(e, "dst");
		cells[7] = ctl_fmt_jnum(e, "rate_pps") > 0 ?
		    ctl_si(b[1], 64, ctl_fmt_jnum(e, "rate_pps"), "pps") :
		    ctl_si(b[1], 64, ctl_fmt_jnum(e, "rate_bps"), "bit/s");
		cells[8] = ctl_jstr(e, "detail");
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	json_decref(j);
	return CTL_OK;
}

/* The first array in o (o itself if it is one): for replies of unknown shape. */
static json_t *
ctl_first_array(json_t *o)
{
	const char *key;
	json_t *v;

	if (json_is_array(o))
		return o;
	json_object_foreach(o, key, v) {
		if (json_is_array(v))
			return v;
	}
	return NULL;
}

/* Prints an array of flat objects as a table, columns in the first object's order. */
static void
ctl_print_generic(json_t *arr)
{
	struct ctl_table t;
	char spec[512] = "", b[CTL_TABLE_COLS][128];
	const char *key, *cells[CTL_TABLE_COLS];
	json_t *first = json_array_get(arr, 0), *o, *v;
	size_t i;
	int k;

	if (first == NULL) {
		printf("(none)\n");
		return;
	}
	json_object_foreach(first, key, v) {
		if (strlen(spec) + strlen(key) + 3 < sizeof(spec))
			snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec),
			    "%s%s", spec[0] ? "," : "", key);
	}
	ctl_table_cols(&t, spec);
	json_array_foreach(arr, i, o) {
		for (k = 0; k < t.ncols; k++) {
			v = json_object_get(o, t.hdr[k]);
			if (json_is_number(v) && json_number_value(v) > 1e9 &&
			    json_number_value(v) < 1e10 && (strstr(t.hdr[k], "ts") ||
			    strstr(t.hdr[k], "_at") || strstr(t.hdr[k], "expires") ||
			    strstr(t.hdr[k], "seen") || strstr(t.hdr[k], "time")))
				cells[k] = ctl_time(b[k], 128, json_number_value(v));
			else
				cells[k] = ctl_jtext(b[k], 128, v);
		}
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
}

static int
cmd_bans(const struct ctl *c)
{
	json_t *j, *arr;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/bans", NULL, &j)) != CTL_OK ||
	    j == NULL)
		return rc;
	arr = ctl_first_array(j);
	if (arr == NULL)
		printf("(no bans in force)\n");
	else
		ctl_print_generic(arr);
	json_decref(j);
	return CTL_OK;
}

/* Prints the scalar members of a reply object as "key: value" lines. */
static void
ctl_print_object(json_t *o, const char *prefix)
{
	const char *key;
	char name[256], buf[128];
	json_t *v;

	json_object_foreach(o, key, v) {
		snprintf(name, sizeof(name), "%s%s", prefix, key);
		if (json_is_object(v)) {
			char sub[sizeof(name) + 2];

			snprintf(sub, sizeof(sub), "%s.", name);
			ctl_print_object(v, sub);
		} else
			printf("%-32s %s\n", name, ctl_jtext(buf, sizeof(buf), v));
	}
}

/* Splits "ADDR[/LEN]" into addr and prefix length (-1 when absent). */
static int
ctl_split_prefix(const char *arg, char *addr, size_t len, long *plen)
{
	const char *slash = strchr(arg, '/');
	char *end;

	*plen = -1;
	if (slash == NULL) {
		snprintf(addr, len, "%s", arg);
		return arg[0] != '\0' ? 0 : -1;
	}
	if ((size_t)(slash - arg) >= len || slash == arg)
		return -1;
	memcpy(addr, arg, (size_t)(slash - arg));
	addr[slash - arg] = '\0';
	*plen = strtol(slash + 1, &end, 10);
	return slash[1] != '\0' && *end == '\0' && *plen >= 0 && *plen <= 128 ? 0 : -1;
}

static int
cmd_ban(const struct ctl *c)
{
	char addr[128], *body;
	unsigned char bin[16];
	long plen, timeout = 600;
	bool is_v6;
	json_t *req, *j;
	char *end;
	int rc;

	if (ctl_split_prefix(c->args[1], addr, sizeof(addr), &plen) == -1)
		return ctl_usage_error("bad address \"%s\" (expected ADDR or "
		    "ADDR/PREFIXLEN)", c->args[1]);
	is_v6 = strchr(addr, ':') != NULL;
	if (inet_pton(is_v6 ? AF_INET6 : AF_INET, addr, bin) != 1 ||
	    plen > (is_v6 ? 128 : 32))
		return ctl_usage_error("bad address \"%s\" (expected an IPv4 or "
		    "IPv6 address, optionally /PREFIXLEN)", c->args[1]);
	if (plen < 0)
		plen = is_v6 ? 128 : 32;
	if (c->timeout != NULL) {
		timeout = strtol(c->timeout, &end, 10);
		if (c->timeout[0] == '\0' || *end != '\0' || timeout < 1 ||
		    timeout > 365L * 86400)
			return ctl_usage_error("bad --timeout \"%s\" (expected "
			    "seconds, 1..31536000)", c->timeout);
	}
	req = json_pack("{s:s,s:i,s:i}", "address", addr, "prefix_len", (int)plen,
	    "timeout_s", (int)timeout);
	json_object_set_new(req, "probe", c->probe ? json_string(c->probe) : json_null());
	if (c->reason != NULL)
		json_object_set_new(req, "reason", json_string(c->reason));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL)
		return ctl_usage_error("reason or probe is not valid UTF-8");
	rc = ctl_call(c, "POST", "/api/v1/bans", body, &j);
	free(body);
	if (rc != CTL_OK || j == NULL)
		return rc;
	printf("ban requested: %s/%ld for %ld s%s%s\n", addr, plen, timeout,
	    c->probe ? " on probe " : " on all probes", c->probe ? c->probe : "");
	ctl_print_object(j, "");
	json_decref(j);
	return CTL_OK;
}

static int
cmd_unban(const struct ctl *c)
{
	char path[512], addr[384];
	json_t *j;
	int rc;

	ctl_urlenc(addr, sizeof(addr), c->args[1]);
	snprintf(path, sizeof(path), "/api/v1/bans/%s", addr);
	if ((rc = ctl_call(c, "DELETE", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	printf("unban requested: %s\n", c->args[1]);
	ctl_print_object(j, "");
	json_decref(j);
	return CTL_OK;
}

static int
cmd_stats(const struct ctl *c)
{
	json_t *j;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/stats", NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_print_object(j, "");
	json_decref(j);
	return CTL_OK;
}

/* report ID / top: capacity reports (output in ctl_report.c). */
static int
cmd_capacity(const struct ctl *c, bool top)
{
	struct ctl_report_args a = { .month = c->month, .from = c->from,
	    .to = c->to, .by = c->by, .order = c->order, .offset = c->offset,
	    .limit = c->limit };
	char path[1024];
	json_t *j;
	int rc;

	if (ctl_report_path(path, sizeof(path), top ? NULL : c->args[1], top,
	    &a) == -1)
		return ctl_usage_error("bad customer id or arguments too long");
	if ((rc = ctl_call(c, "GET", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	if (top)
		ctl_report_top_print(j);
	else
		ctl_report_print(j);
	json_decref(j);
	return CTL_OK;
}

static int
cmd_report(const struct ctl *c)
{
	return cmd_capacity(c, false);
}

static int
cmd_top(const struct ctl *c)
{
	return cmd_capacity(c, true);
}

static void
ctl_help(void)
{
	printf(
"usage: gatewatchctl [-u URL] [--json] [--http-timeout S] COMMAND [ARGS] [OPTIONS]\n"
"\n"
"Queries and controls a gatewatch operator through its HTTP API.\n"
"\n"
"Commands:\n"
"  customers                 latest interval of every customer: rates, packets/s,\n"
"                            flows, top application\n"
"  customer ID               one customer: counters, quality summaries (rtp, tcp,\n"
"                            dns, udp), applications and recent intervals\n"
"  probes                    probes: last seen, messages, lost, duplicates,\n"
"                            rejected, customers, CPU, drops\n"
"  series ID METRIC          a stored time series (RRD data source, e.g. rx_bytes,\n"
"                            tx_packets, flows_active); byte metrics in bit/s\n"
"      --from T              start: epoch seconds or relative (-1h, -30m, -7d);\n"
"                            default -1h\n"
"      --to T                end: epoch seconds, relative or \"now\" (default)\n"
"      --cf AVERAGE|MAX      consolidation function (default AVERAGE)\n"
"  events                    recent events (floods, scans, SLA violations, ...)\n"
"      --since T             only events at or after T (epoch seconds)\n"
"      --limit N             at most N events (default 100)\n"
"  bans                      active countermeasures\n"
"  ban ADDR[/LEN]            ban a source address or prefix\n"
"      --timeout S           ban duration in seconds (default 600)\n"
"      --probe P             only on probe P (default: every probe)\n"
"      --reason TEXT         reason recorded in the audit log\n"
"  unban ADDR[/LEN]          lift a ban\n"
"  stats                     operator counters\n"
"  report ID                 capacity report of one customer: totals, 95th\n"
"                            percentiles (nearest rank, 300 s rows), peaks, busy\n"
"                            hour, unknown share, QoS, SLA minutes, trend\n"
"      --month YYYY-MM       that month (operator's time zone); default: last\n"
"                            calendar month\n"
"      --from T, --to T      period: YYYY-MM[-DD], epoch seconds or -7d style\n"
"  top                       customers ranked (same period options)\n"
"      --by KEY              p95 (default), total, growth, saturation, sla\n"
"      --order asc|desc      default desc (saturation: soonest first)\n"
"      --offset N, --limit N page (default 0, 50; limit at most 1000)\n"
"\n"
"Options:\n"
"  -u, --url URL             operator API base URL (default $GATEWATCH_URL, else\n"
"                            " CTL_DEFAULT_URL ")\n"
"      --json                print the API's JSON reply instead of a table\n"
"      --http-timeout S      give up on a request after S seconds (default 10)\n"
"  -h, --help                show this help\n"
"\n"
"Exit status: 0 success, 1 API or HTTP error (including connection refused),\n"
"2 usage error.\n");
}

/* A command: name, operand count, accepted options, handler. */
struct ctl_cmd {
	const char *name;
	int         nargs;
	unsigned    opts;
	int       (*run)(const struct ctl *c);
	const char *synopsis;
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "customers", 0, 0, cmd_customers, "customers" },
	{ "customer", 1, 0, cmd_customer, "customer ID" },
	{ "probes", 0, 0, cmd_probes, "probes" },
	{ "series", 2, OPT_FROM | OPT_TO | OPT_CF, cmd_series,
	  "series ID METRIC [--from T] [--to T] [--cf AVERAGE|MAX]" },
	{ "events", 0, OPT_SINCE | OPT_LIMIT, cmd_events,
	  "events [--since T] [--limit N]" },
	{ "bans", 0, 0, cmd_bans, "bans" },
	{ "ban", 1, OPT_TIMEOUT | OPT_PROBE | OPT_REASON, cmd_ban,
	  "ban ADDR [--timeout S] [--probe P] [--reason TEXT]" },
	{ "unban", 1, 0, cmd_unban, "unban ADDR" },
	{ "stats", 0, 0, cmd_stats, "stats" },
	{ "report", 1, OPT_MONTH | OPT_FROM | OPT_TO, cmd_report,
	  "report ID [--month YYYY-MM] [--from T] [--to T]" },
	{ "top", 0, OPT_MONTH | OPT_FROM | OPT_TO | OPT_BY | OPT_ORDER |
	  OPT_OFFSET | OPT_LIMIT, cmd_top, "top [--by p95|total|growth|saturation|"
	  "sla] [--order asc|desc] [--offset N] [--limit N] [--month YYYY-MM] "
	  "[--from T] [--to T]" },
};

/* Options that take a value: name, bit (0 = global), where the value goes. */
struct ctl_opt {
	const char  *name;
	unsigned     bit;
	size_t       off;
};

static const struct ctl_opt ctl_opts[] = {
	{ "--from", OPT_FROM, offsetof(struct ctl, from) },
	{ "--to", OPT_TO, offsetof(struct ctl, to) },
	{ "--cf", OPT_CF, offsetof(struct ctl, cf) },
	{ "--since", OPT_SINCE, offsetof(struct ctl, since) },
	{ "--limit", OPT_LIMIT, offsetof(struct ctl, limit) },
	{ "--timeout", OPT_TIMEOUT, offsetof(struct ctl, timeout) },
	{ "--probe", OPT_PROBE, offsetof(struct ctl, probe) },
	{ "--reason", OPT_REASON, offsetof(struct ctl, reason) },
	{ "--month", OPT_MONTH, offsetof(struct ctl, month) },
	{ "--by", OPT_BY, offsetof(struct ctl, by) },
	{ "--order", OPT_ORDER, offsetof(struct ctl, order) },
	{ "--offset", OPT_OFFSET, offsetof(struct ctl, offset) },
};

/* Handles one option at argv[*i]; returns 0, 1 for --help, or CTL_ERR_USAGE. */
static int
ctl_parse_opt(struct ctl *c, int argc, char **argv, int *i, const char **url)
{
	char *arg = argv[*i], *eq = strchr(arg, '='), name[32];
	const char *val = NULL;
	size_t k, nl = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		return 1;
	if (strcmp(arg, "--json") == 0) {
		c->raw_json = true;
		return 0;
	}
	if (nl >= sizeof(name))
		return ctl_usage_error("unknown option \"%s\"", arg);
	memcpy(name, arg, nl);
	name[nl] = '\0';
	if (eq != NULL)
		val = eq + 1;
	else if (*i + 1 < argc)
		val = argv[++*i];
	if (strcmp(name, "-u") == 0 || strcmp(name, "--url") == 0 ||
	    strcmp(name, "--http-timeout") == 0) {
		if (val == NULL)
			return ctl_usage_error("option %s needs a value", name);
		if (name[2] != 'h') {
			*url = val;
			return 0;
		}
		c->http_timeout_s = atoi(val);
		if (c->http_timeout_s < 1 || c->http_timeout_s > 3600 ||
		    strspn(val, "0123456789") != strlen(val))
			return ctl_usage_error("bad --http-timeout \"%s\" "
			    "(expected seconds, 1..3600)", val);
		return 0;
	}
	for (k = 0; k < sizeof(ctl_opts) / sizeof(ctl_opts[0]); k++) {
		if (strcmp(name, ctl_opts[k].name) != 0)
			continue;
		if (val == NULL)
			return ctl_usage_error("option %s needs a value", name);
		*(const char **)(void *)((char *)c + ctl_opts[k].off) = val;
		c->opts_seen |= ctl_opts[k].bit;
		return 0;
	}
	return ctl_usage_error("unknown option \"%s\"", arg);
}

/* Parses the whole command line into c; returns -1 to go on, else an exit code. */
static int
ctl_parse_args(struct ctl *c, int argc, char **argv, const struct ctl_cmd **cmd)
{
	const char *url = getenv("GATEWATCH_URL");
	bool only_args = false;
	size_t k;
	int i, rc;

	c->args = calloc((size_t)argc + 1, sizeof(*c->args));
	if (c->args == NULL)
		return CTL_ERR_API;
	for (i = 1; i < argc; i++) {
		if (!only_args && strcmp(argv[i], "--") == 0)
			only_args = true;
		else if (!only_args && argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((rc = ctl_parse_opt(c, argc, argv, &i, &url)) == 1) {
				ctl_help();
				return CTL_OK;
			} else if (rc != 0)
				return rc;
		} else
			c->args[c->nargs++] = argv[i];
	}
	if (c->nargs == 0)
		return ctl_usage_error("no command given");
	for (k = 0; k < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); k++)
		if (strcmp(c->args[0], ctl_cmds[k].name) == 0)
			*cmd = &ctl_cmds[k];
	if (*cmd == NULL)
		return ctl_usage_error("unknown command \"%s\"", c->args[0]);
	if (c->nargs - 1 != (*cmd)->nargs)
		return ctl_usage_error("usage: gatewatchctl %s", (*cmd)->synopsis);
	if ((c->opts_seen & ~(*cmd)->opts) != 0)
		return ctl_usage_error("option not accepted here; usage: "
		    "gatewatchctl %s", (*cmd)->synopsis);
	if (c->cf != NULL && strcmp(c->cf, "AVERAGE") != 0 && strcmp(c->cf, "MAX") != 0)
		return ctl_usage_error("bad --cf \"%s\" (expected AVERAGE or MAX)", c->cf);
	if (c->limit != NULL && (c->limit[0] == '\0' ||
	    strspn(c->limit, "0123456789") != strlen(c->limit) || atoi(c->limit) < 1))
		return ctl_usage_error("bad --limit \"%s\" (expected a positive "
		    "number)", c->limit);
	if (ctl_url_parse(url != NULL && url[0] != '\0' ? url : CTL_DEFAULT_URL,
	    &c->url) == -1)
		return CTL_ERR_USAGE;
	return -1;
}

int
main(int argc, char **argv)
{
	struct ctl c;
	const struct ctl_cmd *cmd = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	c.http_timeout_s = 10;
	rc = ctl_parse_args(&c, argc, argv, &cmd);
	if (rc == -1)
		rc = cmd->run(&c);
	free(c.args);
	return rc;
}
