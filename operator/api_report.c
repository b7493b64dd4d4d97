/* api_report.c: the capacity-report routes /api/v1/reports/... (JSON, CSV, charts) over report.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "api_int.h"

static json_t *
api_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *
api_when(time_t t)
{
	return t != 0 ? json_integer((json_int_t)t) : json_null();
}

/* One time argument of a report: "YYYY-MM", "YYYY-MM-DD" (local) or api_parse_time. */
static int
api_report_time(const char *s, double now, time_t *out)
{
	double t;
	int rc = report_parse_date(s, out);

	if (rc != 0)
		return rc == 1 ? 0 : -1;
	if (api_parse_time(s, now, &t) == -1)
		return -1;
	*out = (time_t)t;
	return 0;
}

/* The period of a report request: month=YYYY-MM, from/to, default last calendar month. */
static int
api_report_period(const struct api_request *req, time_t *from, time_t *to,
    struct api_response *r)
{
	const char *month = api_arg(req, "month", NULL);
	const char *f = api_arg(req, "from", NULL), *t = api_arg(req, "to", NULL);
	double now = api_now();
	time_t m;

	report_month((time_t)now, 1, from, to);
	if (month != NULL) {
		if (report_parse_date(month, &m) != 1 || strlen(month) != 7) {
			api_error(r, 400, "month must be YYYY-MM");
			return -1;
		}
		report_month(m, 0, from, to);
	}
	if ((f != NULL && api_report_time(f, now, from) == -1) ||
	    (t != NULL && api_report_time(t, now, to) == -1) || *from >= *to ||
	    *to - *from > 400 * 86400L) {
		api_error(r, 400, "bad period (from/to: YYYY-MM, YYYY-MM-DD in the "
		    "operator's time zone, epoch seconds or -7d style; at most "
		    "400 days; from < to)");
		return -1;
	}
	*from -= *from % STORE_HIST_STEP_S;
	*to -= *to % STORE_HIST_STEP_S;
	return 0;
}

static json_t *
api_report_dir(const struct report_dir *d)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o}", "total_bytes",
	    api_num(d->total_bytes), "p95_bps", api_num(d->p95_bps), "mean_bps",
	    api_num(d->mean_bps), "peak_bps", api_num(d->peak_bps), "peak_ts",
	    api_when(d->peak_ts));
}

static json_t *
api_report_qos(const struct report_qos *q)
{
	return json_pack("{s:I,s:o,s:o}", "samples", (json_int_t)q->known,
	    "p95", api_num(q->p95), "mean", api_num(q->mean));
}

static json_t *
api_report_trend(const struct report_trend *t)
{
	json_t *o = json_pack("{s:I,s:b,s:o,s:o,s:o,s:o,s:o}", "days",
	    (json_int_t)t->days, "fitted", t->fitted, "t0", api_when(t->t0),
	    "slope_bps_per_day", api_num(t->slope_bps_day), "intercept_bps",
	    api_num(t->intercept_bps), "r", api_num(t->r), "growth_pct_month",
	    api_num(t->growth_pct_month));

	json_object_set_new(o, "plan_bps", t->has_plan ? json_real(t->plan_bps) :
	    json_null());
	json_object_set_new(o, "saturation_80_ts", api_when(t->sat80_ts));
	json_object_set_new(o, "saturation_100_ts", api_when(t->sat100_ts));
	json_object_set_new(o, "verdict", json_string(!t->fitted ?
	    "not enough daily values" : !t->has_plan ? "no plan rate" :
	    t->sat100_ts == 0 ? "no saturation in sight" :
	    t->sat100_ts <= t->last_ts ? "plan rate reached" : "saturating"));
	return o;
}

static json_t *
api_report_json(const struct report_customer *c)
{
	json_t *hours = json_array(), *o;

	for (int h = 0; h < 24; h++)
		json_array_append_new(hours, api_num(c->hour_mean_bps[h]));
	o = json_pack("{s:s,s:I,s:I,s:I,s:b,s:I,s:I,s:f,s:s}", "customer",
	    c->customer, "from", (json_int_t)c->from, "to", (json_int_t)c->to,
	    "step_s", (json_int_t)c->step_s, "exact", c->exact, "rows",
	    (json_int_t)c->rows, "known_rows", (json_int_t)c->known,
	    "unknown_share", c->unknown_share, "percentile",
	    "nearest rank: 1-based rank ceil(0.95 N) of the N known 300 s samples");
	if (!c->exact)
		json_object_set_new(o, "warning", json_sprintf("the 300 s rows no "
		    "longer cover this period: figures use %lu s rows", c->step_s));
	json_object_set_new(o, "rx", api_report_dir(&c->rx));
	json_object_set_new(o, "tx", api_report_dir(&c->tx));
	json_object_set_new(o, "max", api_report_dir(&c->max));
	json_object_set_new(o, "busy_hour", c->busy_hour >= 0 ?
	    json_integer(c->busy_hour) : json_null());
	json_object_set_new(o, "busy_hour_bps", api_num(c->busy_hour_bps));
	json_object_set_new(o, "hour_mean_bps", hours);
	json_object_set_new(o, "qos", json_pack("{s:o,s:o,s:o,s:o,s:o}",
	    "rtt_wan_ms", api_report_qos(&c->rtt_wan), "jitter_ms",
	    api_report_qos(&c->jitter), "rtp_loss_pct", api_report_qos(&c->rtp_loss),
	    "dns_ms", api_report_qos(&c->dns), "sla_breach_minutes",
	    c->has_sla ? api_num(c->sla_breach_minutes) : json_null()));
	json_object_set_new(o, "trend", json_pack("{s:o,s:o}", "rx",
	    api_report_trend(&c->trend_rx), "tx", api_report_trend(&c->trend_tx)));
	if (c->has_apps) {
		json_t *apps = json_array();
		for (size_t i = 0; i < c->napps; i++)
			json_array_append_new(apps, json_pack("{s:s,s:f,s:f}", "app",
			    c->apps[i].app, "rx_bytes", c->apps[i].rx_bytes,
			    "tx_bytes", c->apps[i].tx_bytes));
		json_object_set_new(o, "top_apps", apps);
	} else {
		json_object_set_new(o, "top_apps", json_null());
	}
	return o;
}

/* Sets a CSV body (takes ownership of the memstream buffer). */
static int
api_csv(struct api_response *r, char *buf, size_t len)
{
	if (buf == NULL)
		return api_error(r, 500, "out of memory");
	return api_body(r, buf, len, "text/csv; charset=utf-8");
}

static void
api_csv_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.17g", v);
}

/* The report as "field,value" lines (the JSON's scalars, dotted names). */
static int
api_report_csv(const struct report_customer *c, struct api_response *r)
{
	const struct { const char *name; const struct report_dir *d; } dirs[] = {
		{ "rx", &c->rx }, { "tx", &c->tx }, { "max", &c->max } };
	const struct { const char *name; const struct report_qos *q; } qos[] = {
		{ "rtt_wan_ms", &c->rtt_wan }, { "jitter_ms", &c->jitter },
		{ "rtp_loss_pct", &c->rtp_loss }, { "dns_ms", &c->dns } };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return api_error(r, 500, "out of memory");
	fprintf(f, "field,value\ncustomer,%s\nfrom,%lld\nto,%lld\nstep_s,%lu\n"
	    "exact,%d\nrows,%zu\nknown_rows,%zu\nunknown_share,%.17g\n",
	    c->customer, (long long)c->from, (long long)c->to, c->step_s,
	    c->exact, c->rows, c->known, c->unknown_share);
	for (size_t i = 0; i < 3; i++) {
		fprintf(f, "%s.total_bytes,", dirs[i].name);
		api_csv_num(f, dirs[i].d->total_bytes);
		fprintf(f, "\n%s.p95_bps,", dirs[i].name);
		api_csv_num(f, dirs[i].d->p95_bps);
		fprintf(f, "\n%s.peak_bps,", dirs[i].name);
		api_csv_num(f, dirs[i].d->peak_bps);
		fprintf(f, "\n%s.peak_ts,%lld\n", dirs[i].name,
		    (long long)dirs[i].d->peak_ts);
	}
	fprintf(f, "busy_hour,%d\n", c->busy_hour);
	for (size_t i = 0; i < 4; i++) {
		fprintf(f, "qos.%s.p95,", qos[i].name);
		api_csv_num(f, qos[i].q->p95);
		fprintf(f, "\nqos.%s.mean,", qos[i].name);
		api_csv_num(f, qos[i].q->mean);
		fputc('\n', f);
	}
	for (size_t i = 0; i < c->napps; i++)
		fprintf(f, "app.%s.rx_bytes,%.17g\napp.%s.tx_bytes,%.17g\n",
		    c->apps[i].app, c->apps[i].rx_bytes, c->apps[i].app,
		    c->apps[i].tx_bytes);
	fprintf(f, "qos.sla_breach_minutes,");
	api_csv_num(f, c->has_sla ? c->sla_breach_minutes : NAN);
	fprintf(f, "\ntrend.rx.growth_pct_month,");
	api_csv_num(f, c->trend_rx.growth_pct_month);
	fprintf(f, "\ntrend.tx.growth_pct_month,");
	api_csv_num(f, c->trend_tx.growth_pct_month);
	fprintf(f, "\ntrend.rx.saturation_100_ts,%lld\ntrend.tx.saturation_100_ts,"
	    "%lld\n", (long long)c->trend_rx.sat100_ts,
	    (long long)c->trend_tx.sat100_ts);
	fclose(f);
	return api_csv(r, buf, len);
}

static int
api_report_daily(const struct report_customer *c, bool csv,
    struct api_response *r)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *days;
	FILE *f;

	if (!csv) {
		days = json_array();
		for (size_t i = 0; i < c->ndaily; i++)
			json_array_append_new(days, json_pack("{s:I,s:o,s:o}", "day_ts",
			    (json_int_t)c->daily_ts[i], "rx_p95_bps",
			    api_num(c->daily_p95_rx[i]), "tx_p95_bps",
			    api_num(c->daily_p95_tx[i])));
		return api_json(r, 200, json_pack("{s:s,s:o,s:o,s:o}", "customer",
		    c->customer, "days", days, "trend_rx",
		    api_report_trend(&c->trend_rx), "trend_tx",
		    api_report_trend(&c->trend_tx)));
	}
	if ((f = open_memstream(&buf, &len)) == NULL)
		return api_error(r, 500, "out of memory");
	fprintf(f, "day_ts,rx_p95_bps,tx_p95_bps\n");
	for (size_t i = 0; i < c->ndaily; i++) {
		fprintf(f, "%lld,", (long long)c->daily_ts[i]);
		api_csv_num(f, c->daily_p95_rx[i]);
		fputc(',', f);
		api_csv_num(f, c->daily_p95_tx[i]);
		fputc('\n', f);
	}
	fclose(f);
	return api_csv(r, buf, len);
}

/* The capacity chart: rx/tx bit/s at the period's rows, the 95th rule, the rx trend. */
static int
api_report_chart(const struct api_ctx *ctx, const struct report_customer *c,
    bool svg, struct api_response *r)
{
	struct store_graph_req g = { .customer = c->customer,
	    .metrics = "rx_bytes,tx_bytes", .from = c->from, .to = c->to,
	    .width = 1000, .height = 300, .svg = svg };
	char title[GW_ID_MAX + 64];
	unsigned char *img;
	size_t len;
	bool missing;
	char err[256];

	snprintf(title, sizeof(title), "%s capacity", c->customer);
	g.title = title;
	if (isfinite(c->max.p95_bps)) {
		g.has_hrule = true;
		g.hrule_bps = c->max.p95_bps;
		g.hrule_label = "95th percentile of max(rx, tx)";
	}
	if (c->trend_rx.fitted) {
		g.has_trend = true;
		g.trend_t0 = c->trend_rx.t0;
		g.trend_bps0 = c->trend_rx.intercept_bps;
		g.trend_slope_bps_s = c->trend_rx.slope_bps_day / 86400.0;
	}
	if (store_graph(ctx->store, &g, &img, &len, &missing, err,
	    sizeof(err)) == -1)
		return api_error(r, missing ? 404 : 500, "%s", err);
	return api_body(r, (char *)img, len, svg ? "image/svg+xml" : "image/png");
}

/* GET /api/v1/reports/customers/ID[/daily|/chart.png|/chart.svg] */
static int
api_report_customer(const struct api_ctx *ctx, const struct api_request *req,
    const char *rest, struct api_response *r)
{
	char id[GW_ID_MAX], err[256];
	const char *slash = strchr(rest, '/'), *fmt = api_arg(req, "format", "json");
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	struct report_customer *c;
	time_t from, to;
	bool missing, csv = strcmp(fmt, "csv") == 0;
	int rc;

	if (n == 0 || n >= sizeof(id))
		return api_error(r, 404, "unknown customer");
	memcpy(id, rest, n);
	id[n] = '\0';
	if (!gw_id_valid(id))
		return api_error(r, 404, "unknown customer");
	if (slash != NULL && strcmp(slash, "/daily") != 0 &&
	    strcmp(slash, "/chart.png") != 0 && strcmp(slash, "/chart.svg") != 0)
		return api_error(r, 404, "no such route");
	if (!csv && strcmp(fmt, "json") != 0)
		return api_error(r, 400, "format must be json or csv");
	if (api_report_period(req, &from, &to, r) == -1)
		return 0;
	if ((c = malloc(sizeof(*c))) == NULL)
		return api_error(r, 500, "out of memory");
	if (report_customer_get(ctx->report, id, from, to, c, &missing, err,
	    sizeof(err)) == -1)
		rc = api_error(r, missing ? 404 : 500, "%s", err);
	else if (slash == NULL)
		rc = csv ? api_report_csv(c, r) : api_json(r, 200, api_report_json(c));
	else if (strcmp(slash, "/daily") == 0)
		rc = api_report_daily(c, csv, r);
	else
		rc = api_report_chart(ctx, c, strcmp(slash, "/chart.svg") == 0, r);
	free(c);
	return rc;
}

static json_t *
api_top_json(const struct report_top_row *t)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:f,s:b}", "customer",
	    t->customer, "p95_bps", api_num(t->p95_bps), "rx_p95_bps",
	    api_num(t->rx_p95_bps), "tx_p95_bps", api_num(t->tx_p95_bps),
	    "total_bytes", api_num(t->total_bytes), "growth_pct_month",
	    api_num(t->growth_pct_month), "saturation_ts", api_when(t->saturation_ts),
	    "sla_breach_minutes", api_num(t->sla_breach_minutes), "unknown_share",
	    t->unknown_share, "exact", t->exact);
}

static int
api_top_csv(const struct report_top_row *rows, size_t n, struct api_response *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return api_error(r, 500, "out of memory");
	fprintf(f, "customer,p95_bps,rx_p95_bps,tx_p95_bps,total_bytes,"
	    "growth_pct_month,saturation_ts,sla_breach_minutes,unknown_share,exact\n");
	for (size_t i = 0; i < n; i++) {
		const struct report_top_row *t = &rows[i];
		double v[] = { t->p95_bps, t->rx_p95_bps, t->tx_p95_bps,
		    t->total_bytes, t->growth_pct_month };
		fprintf(f, "%s", t->customer);
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
			fputc(',', f);
			api_csv_num(f, v[k]);
		}
		fprintf(f, ",%lld,", (long long)t->saturation_ts);
		api_csv_num(f, t->sla_breach_minutes);
		fprintf(f, ",%.17g,%d\n", t->unknown_share, t->exact);
	}
	fclose(f);
	return api_csv(r, buf, len);
}

/* GET /api/v1/reports/top?by=&order=&offset=&limit=&format= */
int
api_report_top(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	struct report_top_req q = { .by = REPORT_BY_P95 };
	const char *by = api_arg(req, "by", "p95"), *order = api_arg(req, "order", NULL);
	const char *fmt = api_arg(req, "format", "json");
	struct report_top_row *rows;
	uint64_t off, lim;
	size_t n, total;
	char err[256];
	json_t *a;

	if (report_key_parse(by, &q.by) == -1)
		return api_error(r, 400, "by must be p95, total, growth, saturation "
		    "or sla");
	q.ascending = q.by == REPORT_BY_SATURATION;   /* soonest first */
	if (order != NULL && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
		return api_error(r, 400, "order must be asc or desc");
	if (order != NULL)
		q.ascending = strcmp(order, "asc") == 0;
	if (strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0)
		return api_error(r, 400, "format must be json or csv");
	if (api_arg_u64(req, "offset", 0, 0, 100000000, &off) == -1 ||
	    api_arg_u64(req, "limit", 50, 1, REPORT_TOP_MAX, &lim) == -1)
		return api_error(r, 400, "offset >= 0, limit 1..%d", REPORT_TOP_MAX);
	q.offset = (size_t)off;
	q.limit = (size_t)lim;
	if (api_report_period(req, &q.from, &q.to, r) == -1)
		return 0;
	if (report_top(ctx->report, &q, &rows, &n, &total, err, sizeof(err)) == -1)
		return api_error(r, 500, "%s", err);
	if (strcmp(fmt, "csv") == 0) {
		int rc = api_top_csv(rows, n, r);
		free(rows);
		return rc;
	}
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, api_top_json(&rows[i]));
	free(rows);
	return api_json(r, 200, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o}",
	    "by", report_key_name(q.by), "order", q.ascending ? "asc" : "desc",
	    "from", (json_int_t)q.from, "to", (json_int_t)q.to, "total",
	    (json_int_t)total, "offset", (json_int_t)q.offset, "limit",
	    (json_int_t)q.limit, "rows", a));
}

/* Routes under /api/v1/reports/ (GET only). */
int
api_reports(const struct api_ctx *ctx, const struct api_request *req, bool get,
    struct api_response *r)
{
	static const char cust[] = "/api/v1/reports/customers/";
	const char *path = req->path;

	if (ctx->report == NULL)
		return api_error(r, 503, "reports are not enabled");
	if (strcmp(path, "/api/v1/reports/top") != 0 &&
	    strncmp(path, cust, sizeof(cust) - 1) != 0)
		return api_error(r, 404, "no such route");
	if (!get)
		return api_not_allowed(r, req->method, "GET, HEAD");
	if (strcmp(path, "/api/v1/reports/top") == 0) {
		int rc = api_report_top(ctx, req, r);

		/* Cluster-wide (JSON): sorted and paged after the merge. */
		if (rc == 0 && r->status == 200 && ctx->fanout != NULL &&
		    !api_scope_local(req) &&
		    strcmp(api_arg(req, "format", "json"), "json") == 0)
			rc = api_merge_top(ctx, req, r);
		return rc;
	}
	return api_report_customer(ctx, req, path + sizeof(cust) - 1, r);
}

