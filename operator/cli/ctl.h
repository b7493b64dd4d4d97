/* ctl.h: what gatewatchctl's commands share: the parsed command line and one API call. */
#ifndef GW_CTL_H
#define GW_CTL_H

#include <stdbool.h>

#include <jansson.h>

#include "ctl_http.h"

/* Exit codes. */
enum { CTL_OK = 0, CTL_ERR_API = 1, CTL_ERR_USAGE = 2 };

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

/* Prints "gatewatchctl: MESSAGE" and the --help hint to stderr; returns CTL_ERR_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Percent-encodes s for a path segment or query value into dst (cut to fit). */
void ctl_urlenc(char *dst, size_t len, const char *s);

/*
 * Performs a request and parses the JSON reply into *out. With --json the
 * body is printed as is and *out stays NULL. Returns CTL_OK or CTL_ERR_API
 * (after printing the API's {"error"} text or the transport error).
 */
int ctl_call(const struct ctl *c, const char *method, const char *path,
    const char *body, json_t **out);

/* The commands: each returns an exit code (ctl_live.c, ctl_cm.c, ctl_report.c). */
int cmd_customers(const struct ctl *c);
int cmd_customer(const struct ctl *c);
int cmd_probes(const struct ctl *c);
int cmd_series(const struct ctl *c);
int cmd_stats(const struct ctl *c);
int cmd_events(const struct ctl *c);
int cmd_bans(const struct ctl *c);
int cmd_ban(const struct ctl *c);
int cmd_unban(const struct ctl *c);
int cmd_report(const struct ctl *c);
int cmd_top(const struct ctl *c);

#endif
