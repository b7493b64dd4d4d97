/* ctl_report.c: gatewatchctl's capacity report and top-N output (text from the API's JSON). */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_fmt.h"
#include "ctl_report.h"

/* "12.34 Mbit/s" (always two decimals); "-" for NAN. */
static const char *
ctl_rsi(char *buf, size_t len, double v, const char *unit)
{
	return ctl_fmt_si(buf, len, v, unit, 2, false);
}

/* Local time to the minute; "-" for NAN and ts <= 0. */
static const char *
ctl_rtime(char *buf, size_t len, double ts)
{
	return ctl_fmt_time(buf, len, ts, "%Y-%m-%d %H:%M");
}

/* Appends "&key=value" (percent-encoded) when value is set. 0 or -1. */
static int
ctl_rarg(char *path, size_t len, size_t *off, const char *key, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = *off;
	int n;

	if (v == NULL)
		return 0;
	n = snprintf(path + o, len - o, "%c%s=", strchr(path, '?') ? '&' : '?', key);
	if (n < 0 || (size_t)n >= len - o)
		return -1;
	o += (size_t)n;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (o + 4 >= len)
			return -1;
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == ':')
			path[o++] = (char)*p;
		else {
			path[o++] = '%';
			path[o++] = hex[*p >> 4];
			path[o++] = hex[*p & 15];
		}
	}
	path[o] = '\0';
	*off = o;
	return 0;
}

int
ctl_report_path(char *path, size_t len, const char *id, bool top,
    const struct ctl_report_args *a)
{
	size_t off;
	int n;

	if (top)
		n = snprintf(path, len, "/api/v1/reports/top");
	else
		n = snprintf(path, len, "/api/v1/reports/customers/");
	if (n < 0 || (size_t)n >= len)
		return -1;
	off = (size_t)n;
	if (!top) {
		for (const char *p = id; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
			    *p != '.')
				return -1;   /* not a customer id */
		n = snprintf(path + off, len - off, "%s", id);
		if (n < 0 || (size_t)n >= len - off)
			return -1;
		off += (size_t)n;
	}
	if (ctl_rarg(path, len, &off, "month", a->month) == -1 ||
	    ctl_rarg(path, len, &off, "from", a->from) == -1 ||
	    ctl_rarg(path, len, &off, "to", a->to) == -1)
		return -1;
	if (top && (ctl_rarg(path, len, &off, "by", a->by) == -1 ||
	    ctl_rarg(path, len, &off, "order", a->order) == -1 ||
	    ctl_rarg(path, len, &off, "offset", a->offset) == -1 ||
	    ctl_rarg(path, len, &off, "limit", a->limit) == -1))
		return -1;
	return 0;
}

static void
ctl_report_dir(const char *name, const json_t *d)
{
	char a[32], b[32], c[32], t[32];
	double tot = ctl_fmt_jnum(d, "total_bytes");

	printf("  %-4s 95th %-14s peak %-14s at %-16s total %s\n", name,
	    ctl_rsi(a, sizeof(a), ctl_fmt_jnum(d, "p95_bps"), "bit/s"),
	    ctl_rsi(b, sizeof(b), ctl_fmt_jnum(d, "peak_bps"), "bit/s"),
	    ctl_rtime(t, sizeof(t), ctl_fmt_jnum(d, "peak_ts")),
	    isnan(tot) ? "-" : ctl_rsi(c, sizeof(c), tot, "B"));
}

static void
ctl_report_trend(const char *name, const json_t *t)
{
	char a[32], b[32], c[32], d[32];

	printf("  %-4s %s: %s/day, growth %.2f %%/month, r %.4f over %d days; "
	    "80 %% %s, 100 %% %s (plan %s)\n", name,
	    json_string_value(json_object_get(t, "verdict")) ?
	    json_string_value(json_object_get(t, "verdict")) : "?",
	    ctl_rsi(a, sizeof(a), ctl_fmt_jnum(t, "slope_bps_per_day"), "bit/s"),
	    ctl_fmt_jnum(t, "growth_pct_month"), ctl_fmt_jnum(t, "r"),
	    (int)ctl_fmt_jnum(t, "days"),
	    ctl_rtime(b, sizeof(b), ctl_fmt_jnum(t, "saturation_80_ts")),
	    ctl_rtime(c, sizeof(c), ctl_fmt_jnum(t, "saturation_100_ts")),
	    ctl_rsi(d, sizeof(d), ctl_fmt_jnum(t, "plan_bps"), "bit/s"));
}

void
ctl_report_print(const json_t *j)
{
	const json_t *q = json_object_get(j, "qos"), *tr = json_object_get(j, "trend");
	static const char *const qn[] = { "rtt_wan_ms", "jitter_ms", "rtp_loss_pct",
	    "dns_ms" };
	char a[32], b[32];

	printf("%s  %s .. %s  (step %d s%s)\n",
	    json_string_value(json_object_get(j, "customer")),
	    ctl_rtime(a, sizeof(a), ctl_fmt_jnum(j, "from")),
	    ctl_rtime(b, sizeof(b), ctl_fmt_jnum(j, "to")), (int)ctl_fmt_jnum(j, "step_s"),
	    json_is_true(json_object_get(j, "exact")) ? ", exact" :
	    ", NOT the native 300 s step");
	printf("  rows %d, known %d, unknown %.2f %%\n", (int)ctl_fmt_jnum(j, "rows"),
	    (int)ctl_fmt_jnum(j, "known_rows"), 100 * ctl_fmt_jnum(j, "unknown_share"));
	ctl_report_dir("rx", json_object_get(j, "rx"));
	ctl_report_dir("tx", json_object_get(j, "tx"));
	ctl_report_dir("max", json_object_get(j, "max"));
	printf("  busy hour %02d:00 (mean %s)\n", (int)ctl_fmt_jnum(j, "busy_hour"),
	    ctl_rsi(a, sizeof(a), ctl_fmt_jnum(j, "busy_hour_bps"), "bit/s"));
	for (size_t i = 0; i < 4; i++) {
		const json_t *o = json_object_get(q, qn[i]);
		printf("  %-12s p95 %10.2f  mean %10.2f  (%d samples)\n", qn[i],
		    ctl_fmt_jnum(o, "p95"), ctl_fmt_jnum(o, "mean"), (int)ctl_fmt_jnum(o, "samples"));
	}
	printf("  SLA breach minutes %.1f\n", ctl_fmt_jnum(q, "sla_breach_minutes"));
	ctl_report_trend("rx", json_object_get(tr, "rx"));
	ctl_report_trend("tx", json_object_get(tr, "tx"));
}

void
ctl_report_top_print(const json_t *j)
{
	const json_t *rows = json_object_get(j, "rows"), *r;
	char a[32], b[32], c[32];
	size_t i;

	printf("top by %s (%s), %d of %d customers\n",
	    json_string_value(json_object_get(j, "by")),
	    json_string_value(json_object_get(j, "order")),
	    (int)json_array_size(rows), (int)ctl_fmt_jnum(j, "total"));
	printf("%-20s %14s %12s %10s %16s %8s\n", "CUSTOMER", "P95", "TOTAL",
	    "GROWTH%/M", "SATURATION", "SLA_MIN");
	json_array_foreach(rows, i, r) {
		printf("%-20.20s %14s %12s %10.2f %16s %8.1f\n",
		    json_string_value(json_object_get(r, "customer")),
		    ctl_rsi(a, sizeof(a), ctl_fmt_jnum(r, "p95_bps"), "bit/s"),
		    ctl_rsi(b, sizeof(b), ctl_fmt_jnum(r, "total_bytes"), "B"),
		    ctl_fmt_jnum(r, "growth_pct_month"),
		    ctl_rtime(c, sizeof(c), ctl_fmt_jnum(r, "saturation_ts")),
		    ctl_fmt_jnum(r, "sla_breach_minutes"));
	}
}

/* ---- the commands ---- */

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

int
cmd_report(const struct ctl *c)
{
	return cmd_capacity(c, false);
}

int
cmd_top(const struct ctl *c)
{
	return cmd_capacity(c, true);
}

