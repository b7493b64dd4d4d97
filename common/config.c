/* config.c: line-oriented config files ("word word ..." per line, '#' comments). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define CONFIG_FILE_MAX (16u * 1024 * 1024)  /* larger config files are refused */
#define CONFIG_QUOTE_MAX 48                  /* bytes of a bad value quoted in errors */

/* State of one parse: where we are, for messages. */
struct config_parser {
	const char     *name;
	int             lineno;
	config_line_cb  cb;
	void           *ctx;
};

/*
 * Renders len bytes of src into dst as a double-quoted, printable string:
 * control and non-ASCII bytes become \xNN, long values end in "...".
 */
static void
config_quote(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t o = 0, i;
	const unsigned char *s = (const unsigned char *)src;

	if (dstlen < 8) {
		if (dstlen > 0)
			dst[0] = '\0';
		return;
	}
	dst[o++] = '"';
	for (i = 0; i < len && i < CONFIG_QUOTE_MAX && o + 6 < dstlen; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			dst[o++] = (char)s[i];
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", s[i]);
	}
	if (i < len && o + 5 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

/* Checks bytes of one line (without its newline) for NUL and control characters. */
static int
config_check_chars(const char *s, size_t len, char *err, size_t errlen)
{
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	size_t i;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\t' || (c >= 0x20 && c != 0x7f))
			continue;
		config_quote(q, sizeof(q), s, len);
		snprintf(err, errlen, "%s byte 0x%02x at column %zu in %s "
		    "(expected printable text)", c == 0 ? "NUL" : "control",
		    c, i + 1, q);
		return -1;
	}
	return 0;
}

/* Reads one double-quoted word at *pp (just past the quote), unescaping in place. */
static int
config_quoted_word(char **pp, char *err, size_t errlen)
{
	char *r = *pp, *w = *pp;

	for (;;) {
		if (*r == '\0') {
			snprintf(err, errlen, "unterminated quoted string "
			    "(expected a closing '\"')");
			return -1;
		}
		if (*r == '"')
			break;
		if (*r == '\\') {
			if (r[1] != '"' && r[1] != '\\') {
				snprintf(err, errlen, "unknown escape \"\\%c\" in "
				    "quoted string (expected \\\" or \\\\)",
				    r[1] != '\0' ? r[1] : ' ');
				return -1;
			}
			r++;
		}
		*w++ = *r++;
	}
	*w = '\0';
	r++;
	if (*r != '\0' && *r != ' ' && *r != '\t') {
		snprintf(err, errlen, "unexpected '%c' after quoted string "
		    "(expected a space or the end of the line)", *r);
		return -1;
	}
	*pp = r;
	return 0;
}

/* Splits buf (NUL-terminated, modified in place) into words. */
static int
config_split(char *buf, struct config_line *line, char *err, size_t errlen)
{
	char *p = buf, q[CONFIG_QUOTE_MAX * 4 + 16];

	line->nwords = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			return 0;
		if (line->nwords == CONFIG_MAX_WORDS) {
			config_quote(q, sizeof(q), p, strlen(p));
			snprintf(err, errlen, "too many words (at most %d "
			    "expected), extra from %s", CONFIG_MAX_WORDS, q);
			return -1;
		}
		if (*p == '"') {
			line->words[line->nwords++] = ++p;
			if (config_quoted_word(&p, err, errlen) == -1)
				return -1;
		} else {
			line->words[line->nwords++] = p;
			while (*p != '\0' && *p != ' ' && *p != '\t')
				p++;
		}
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* Handles one line of len bytes (no newline); 0 to go on, -1 after logging. */
static int
config_line(struct config_parser *cp, const char *text, size_t len)
{
	char buf[CONFIG_MAX_LINE], err[512], q[CONFIG_QUOTE_MAX * 4 + 16];
	struct config_line line;

	if (len > 0 && text[len - 1] == '\r')
		len--;	/* tolerate CRLF files */
	err[0] = '\0';
	if (len >= sizeof(buf)) {
		config_quote(q, sizeof(q), text, len);
		snprintf(err, sizeof(err), "line too long (%zu bytes, at most "
		    "%d expected): %s", len, CONFIG_MAX_LINE - 1, q);
		goto fail;
	}
	if (config_check_chars(text, len, err, sizeof(err)) == -1)
		goto fail;
	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(&line, 0, sizeof(line));
	line.file = cp->name;
	line.lineno = cp->lineno;
	if (config_split(buf, &line, err, sizeof(err)) == -1)
		goto fail;
	if (line.nwords == 0)
		return 0;
	if (cp->cb(&line, cp->ctx, err, sizeof(err)) == 0)
		return 0;
	if (err[0] == '\0')
		snprintf(err, sizeof(err), "invalid line");
fail:
	err[sizeof(err) - 1] = '\0';
	log_err("%s:%d: %s", cp->name, cp->lineno, err);
	return -1;
}

/* Parses len bytes of text (may contain NUL bytes, which are errors). */
static int
config_parse_buf(const char *name, const char *text, size_t len,
    config_line_cb cb, void *ctx)
{
	struct config_parser cp = { name, 0, cb, ctx };
	const char *p = text, *end = text + len, *nl;

	while (p < end) {
		cp.lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (config_line(&cp, p, (size_t)(nl - p)) == -1)
			return -1;
		p = nl + 1;
	}
	return 0;
}

int
config_parse_string(const char *name, const char *text, config_line_cb cb,
    void *ctx)
{
	if (text == NULL || cb == NULL)
		return -1;
	return config_parse_buf(name != NULL ? name : "(string)", text,
	    strlen(text), cb, ctx);
}

/* Reads a whole regular file of at most CONFIG_FILE_MAX bytes. */
static char *
config_read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_err("%s: cannot open config: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > CONFIG_FILE_MAX) {
		log_err("%s: not a regular file of at most %u bytes", path,
		    CONFIG_FILE_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		log_err("%s: out of memory", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_err("%s: read error: %s", path,
			    n == 0 ? "file shrank" : strerror(errno));
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int
config_parse_file(const char *path, config_line_cb cb, void *ctx)
{
	size_t len;
	char *buf;
	int rc;

	if (path == NULL || cb == NULL)
		return -1;
	if ((buf = config_read_file(path, &len)) == NULL)
		return -1;
	rc = config_parse_buf(path, buf, len, cb, ctx);
	free(buf);
	return rc;
}

/* Parses a run of decimal digits into *out; returns the first non-digit. */
static const char *
config_digits(const char *s, unsigned long long *out, int *ndigits, bool *ovf)
{
	unsigned long long v = 0;
	int n = 0;

	*ovf = false;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (ULLONG_MAX - d) / 10)
			*ovf = true;
		else
			v = v * 10 + d;
	}
	*out = v;
	*ndigits = n;
	return s;
}

int
config_parse_u64(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	const char *end;
	int nd;
	bool ovf;

	if (s == NULL)
		return -1;
	end = config_digits(s, &v, &nd, &ovf);
	if (nd == 0 || *end != '\0' || ovf || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
config_parse_double(const char *s, double min, double max, double *out)
{
	const char *p;
	char *end;
	double v;

	if (s == NULL || s[0] == '\0')
		return -1;
	/* Plain decimal notation only: no hex floats, inf, nan or spaces. */
	for (p = s; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
		    *p == 'E' || *p == '+' || *p == '-'))
			return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) ||
	    v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Milliseconds per unit suffix; 0 when the suffix is unknown. */
static unsigned long long
config_unit_ms(const char *u)
{
	if (u[0] == '\0' || strcmp(u, "s") == 0)
		return 1000;
	if (strcmp(u, "ms") == 0)
		return 1;
	if (strcmp(u, "m") == 0)
		return 60ULL * 1000;
	if (strcmp(u, "h") == 0)
		return 3600ULL * 1000;
	if (strcmp(u, "d") == 0)
		return 86400ULL * 1000;
	return 0;
}

int
config_parse_duration_ms(const char *s, unsigned long long *out_ms)
{
	unsigned long long ip, frac = 0, unit, scale = 1, ms;
	const char *p;
	int nd, nf = 0;
	bool ovf;

	if (s == NULL)
		return -1;
	p = config_digits(s, &ip, &nd, &ovf);
	if (nd == 0 || ovf)
		return -1;
	if (*p == '.') {
		p = config_digits(p + 1, &frac, &nf, &ovf);
		if (nf == 0 || nf > 6 || ovf)
			return -1;
	}
	if ((unit = config_unit_ms(p)) == 0)
		return -1;
	for (int i = 0; i < nf; i++)
		scale *= 10;
	/* frac/scale of a unit must be a whole number of milliseconds. */
	if ((frac * unit) % scale != 0)
		return -1;
	if (ip > ULLONG_MAX / unit)
		return -1;
	ms = ip * unit;
	if (ms > ULLONG_MAX - frac * unit / scale)
		return -1;
	*out_ms = ms + frac * unit / scale;
	return 0;
}
