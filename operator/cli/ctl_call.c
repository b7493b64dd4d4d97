/* ctl_call.c: gatewatchctl's API call (HTTP request, status and JSON reply, --json), usage errors. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "ctl.h"
#include "ctl_table.h"

int
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
void
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
/*
 * A sharded operator's cluster-wide list says which shards did not answer
 * ("shards": {"missing": [...]}): a note on stderr, the table stays as it is.
 */
static void
ctl_call_partial(const json_t *j)
{
	const json_t *miss = json_object_get(json_object_get(j, "shards"), "missing");
	size_t i;
	json_t *v;

	if (!json_is_array(miss) || json_array_size(miss) == 0)
		return;
	fputs("gatewatchctl: partial answer: shard(s) not answering:", stderr);
	json_array_foreach(miss, i, v)
		fprintf(stderr, " %s", json_is_string(v) ? json_string_value(v) : "?");
	fputc('\n', stderr);
}

int
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
	ctl_call_partial(j);
	*out = j != NULL ? j : json_object();
	return CTL_OK;
}

