/* api.c: JSON routes and /metrics, built from live and store snapshots (capacity reports: api_report.c; cluster-wide merges: api_merge.c). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "api_int.h"
#include "metrics.h"

#define API_SERIES_MAX_POINTS 100000
#define API_RESPOND_WAIT_MS   5000   /* a ban/unban waits this long for the ingest loop */
#define API_RECENT_MAX        120    /* ?recent=N intervals per customer in the list */

double
api_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sets a 200 reply of len bytes at body (ownership moves to r) with content_type (static). */
int
api_body(struct api_response *r, char *body, size_t len, const char *content_type)
{
	r->status = 200;
	r->body = body;
	r->body_len = len;
	r->content_type = content_type;
	return 0;
}

/* Takes ownership of j (NULL -> 500) and sets it as the body. */
int
api_json(struct api_response *r, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	r->content_type = "application/json";
	if (s == NULL) {
		r->status = 500;
		r->body = strdup("{\"error\":\"out of memory\"}");
		r->body_len = r->body ? strlen(r->body) : 0;
		return r->body ? 0 : -1;
	}
	r->status = status;
	r->body = s;
	r->body_len = strlen(s);
	return 0;
}

int
api_error(struct api_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int
api_error(struct api_response *r, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_json(r, status, json_pack("{s:s}", "error", msg));
}

static json_t *
api_u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

/* A quality summary of an older interval: null when never measured. */
static json_t *
api_last_json(const struct live_quality *q)
{
	const struct gw_rtp_summary *rtp = &q->rtp;
	const struct gw_tcp_summary *tcp = &q->tcp;
	const struct gw_dns_summary *dns = &q->dns;

	return json_pack("{s:o,s:o,s:o}",
	    "rtp", q->rtp_ts > 0 ? json_pack("{s:f,s:I,s:o,s:o,s:f,s:f}",
	    "ts", q->rtp_ts, "streams", (json_int_t)rtp->streams,
	    "packets_expected", api_u64(rtp->packets_expected),
	    "packets_lost", api_u64(rtp->packets_lost),
	    "jitter_ms_avg", rtp->jitter_ms_avg,
	    "jitter_ms_max", rtp->jitter_ms_max) : json_null(),
	    "tcp", q->tcp_ts > 0 ? json_pack("{s:f,s:I,s:f,s:f,s:f}",
	    "ts", q->tcp_ts, "handshakes", (json_int_t)tcp->handshakes,
	    "rtt_wan_ms_avg", tcp->rtt_wan_ms_avg,
	    "rtt_lan_ms_avg", tcp->rtt_lan_ms_avg,
	    "rtt_ms_p95", tcp->rtt_ms_p95) : json_null(),
	    "dns", q->dns_ts > 0 ? json_pack("{s:f,s:o,s:o,s:f,s:f}",
	    "ts", q->dns_ts, "responses", api_u64(dns->responses),
	    "failures", api_u64(dns->failures),
	    "latency_ms_avg", dns->latency_ms_avg,
	    "latency_ms_p95", dns->latency_ms_p95) : json_null());
}

static json_t *
api_customer_json(const struct live_customer_view *c)
{
	const struct gw_customer_stats *s = &c->stats;
	double iv = c->interval > 0 ? c->interval : 1.0;
	json_t *apps = json_object();

	for (size_t i = 0; i < s->n_apps; i++)
		json_object_set_new(apps, s->apps[i].app, json_pack(
		    "{s:o,s:o,s:s}", "rx_bytes", api_u64(s->apps[i].rx_bytes),
		    "tx_bytes", api_u64(s->apps[i].tx_bytes),
		    "category", s->apps[i].category));
	json_t *o = json_pack("{s:s,s:s,s:f,s:f,s:o,s:o,s:o,s:o,s:f,s:f,s:I,s:I,"
	    "s:o,s:{s:I,s:o,s:o,s:f,s:f,s:o},s:{s:I,s:f,s:f,s:f,s:o,s:o,s:o},"
	    "s:{s:o,s:o,s:o,s:f,s:f,s:o},s:{s:I,s:f,s:f},s:o,s:o}",
	    "id", c->id, "probe", c->probe, "ts", c->ts, "interval", c->interval,
	    "rx_bytes", api_u64(s->rx_bytes), "tx_bytes", api_u64(s->tx_bytes),
	    "rx_packets", api_u64(s->rx_packets),
	    "tx_packets", api_u64(s->tx_packets),
	    "rx_bps", (double)s->rx_bytes * 8.0 / iv,
	    "tx_bps", (double)s->tx_bytes * 8.0 / iv,
	    "flows_active", (json_int_t)s->flows_active,
	    "flows_new", (json_int_t)s->flows_new, "apps", apps,
	    "rtp", "streams", (json_int_t)s->rtp.streams,
	    "packets_expected", api_u64(s->rtp.packets_expected),
	    "packets_lost", api_u64(s->rtp.packets_lost),
	    "jitter_ms_avg", s->rtp.jitter_ms_avg,
	    "jitter_ms_max", s->rtp.jitter_ms_max,
	    "packets", api_u64(s->rtp.packets),
	    "tcp", "handshakes", (json_int_t)s->tcp.handshakes,
	    "rtt_wan_ms_avg", s->tcp.rtt_wan_ms_avg,
	    "rtt_lan_ms_avg", s->tcp.rtt_lan_ms_avg,
	    "rtt_ms_p95", s->tcp.rtt_ms_p95,
	    "retransmits", api_u64(s->tcp.retransmits),
	    "segments", api_u64(s->tcp.segments),
	    "out_of_order", api_u64(s->tcp.out_of_order),
	    "dns", "queries", api_u64(s->dns.queries),
	    "responses", api_u64(s->dns.responses),
	    "failures", api_u64(s->dns.failures),
	    "latency_ms_avg", s->dns.latency_ms_avg,
	    "latency_ms_p95", s->dns.latency_ms_p95,
	    "timeouts", api_u64(s->dns.timeouts),
	    "udp", "streams", (json_int_t)s->udp.streams,
	    "pps_avg", s->udp.pps_avg, "iat_var_ms_avg", s->udp.iat_var_ms_avg,
	    "reports", api_u64(c->reports), "last_measured", api_last_json(&c->last));

	if (o != NULL)   /* packets without DPI/QoS (probe load shedding) */
		json_object_set_new(o, "shed_packets", api_u64(s->shed_packets));
	return o;
}

/*
 * The last n intervals of customer id as parallel arrays (oldest first) of
 * interval ends and rx/tx rates in bit/s, for sparklines; NULL when the
 * customer vanished or memory ran out.
 */
static json_t *
api_recent_json(const struct api_ctx *ctx, const char *id, size_t n,
    struct live_customer_view *scratch)
{
	struct live_point *h;
	size_t nh;
	json_t *ts, *rx, *tx;

	if (live_customer_get(ctx->live, id, scratch, &h, &nh) == -1)
		return NULL;
	ts = json_array();
	rx = json_array();
	tx = json_array();
	for (size_t i = nh > n ? nh - n : 0; i < nh; i++) {
		double iv = h[i].interval > 0 ? h[i].interval : 1.0;

		json_array_append_new(ts, json_real(h[i].ts));
		json_array_append_new(rx, json_integer((json_int_t)llround(
		    (double)h[i].rx_bytes * 8.0 / iv)));
		json_array_append_new(tx, json_integer((json_int_t)llround(
		    (double)h[i].tx_bytes * 8.0 / iv)));
	}
	free(h);
	return json_pack("{s:o,s:o,s:o}", "ts", ts, "rx_bps", rx, "tx_bps", tx);
}

/* GET /api/v1/customers[?recent=N]: N > 0 adds each customer's last N intervals. */
static int
api_customers(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	struct live_customer_view *v, *scratch = NULL;
	uint64_t recent;
	size_t n;
	json_t *arr;

	if (api_arg_u64(req, "recent", 0, 0, API_RECENT_MAX, &recent) == -1)
		return api_error(r, 400, "recent must be 0..%d", API_RECENT_MAX);
	if (recent > 0 && (scratch = malloc(sizeof(*scratch))) == NULL)
		return api_error(r, 500, "out of memory");
	if (live_customers_list(ctx->live, &v, &n) == -1) {
		free(scratch);
		return api_error(r, 500, "out of memory");
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *c = api_customer_json(&v[i]), *rec;

		if (recent > 0 && (rec = api_recent_json(ctx, v[i].id,
		    (size_t)recent, scratch)) != NULL)
			json_object_set_new(c, "recent", rec);
		json_array_append_new(arr, c);
	}
	free(scratch);
	free(v);
	return api_json(r, 200, json_pack("{s:o}", "customers", arr));
}

static int
api_customer(const struct api_ctx *ctx, const char *id, struct api_response *r)
{
	struct live_customer_view *v = malloc(sizeof(*v));
	struct live_point *h = NULL;
	size_t n = 0;
	json_t *obj, *hist;

	if (v == NULL)
		return api_error(r, 500, "out of memory");
	if (live_customer_get(ctx->live, id, v, &h, &n) == -1) {
		free(v);
		return api_error(r, 404, "unknown customer %s", id);
	}
	obj = api_customer_json(v);
	hist = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(hist, json_pack("{s:f,s:f,s:o,s:o,s:o,s:o}",
		    "ts", h[i].ts, "interval", h[i].interval,
		    "rx_bytes", api_u64(h[i].rx_bytes),
		    "tx_bytes", api_u64(h[i].tx_bytes),
		    "rx_packets", api_u64(h[i].rx_packets),
		    "tx_packets", api_u64(h[i].tx_packets)));
	json_object_set_new(obj, "history", hist);
	free(h);
	free(v);
	return api_json(r, 200, obj);
}

int
api_parse_time(const char *s, double now, double *out)
{
	char *end;
	double v, mult = 1;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	v = strtod(s, &end);
	if (end == s || !isfinite(v))
		return -1;
	if (s[0] != '-') {
		if (*end != '\0' || v < 0 || v > 1e11)
			return -1;
		*out = v;
		return 0;
	}
	switch (*end) {
	case '\0': case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (-v * mult > 20.0 * 365 * 86400)
		return -1;
	*out = now + v * mult;
	return 0;
}

const char *
api_arg(const struct api_request *q, const char *key, const char *dflt)
{
	const char *v = q->query ? q->query(q->qctx, key) : NULL;

	return v != NULL ? v : dflt;
}

static int
api_series(const struct api_ctx *ctx, const char *id,
    const struct api_request *req, struct api_response *r)
{
	const char *metric = api_arg(req, "metric", NULL);
	const char *cf = api_arg(req, "cf", "AVERAGE");
	const char *res = api_arg(req, "resolution", "0");
	struct store_query q = { .customer = id, .metric = metric, .cf = cf };
	struct store_series s;
	double now = api_now(), from, to;
	char err[256], *end;
	unsigned long resol;
	bool missing;
	json_t *pts;

	if (metric == NULL || store_ds_index(metric) < 0)
		return api_error(r, 400, "unknown metric \"%.64s\"",
		    metric ? metric : "(none)");
	if (strcmp(cf, "AVERAGE") != 0 && strcmp(cf, "MAX") != 0)
		return api_error(r, 400, "cf must be AVERAGE or MAX");
	if (api_parse_time(api_arg(req, "from", "-1h"), now, &from) == -1 ||
	    api_parse_time(api_arg(req, "to", "now"), now, &to) == -1 || from >= to)
		return api_error(r, 400, "bad time range (from/to: epoch seconds, "
		    "\"now\" or \"-30m\", \"-1h\", \"-7d\"; from < to)");
	resol = strtoul(res, &end, 10);
	if (*res == '\0' || *end != '\0' || resol > 86400 * 366UL)
		return api_error(r, 400, "bad resolution \"%.32s\"", res);
	if (!live_customer_known(ctx->live, id) && !gw_id_valid(id))
		return api_error(r, 404, "unknown customer");
	q.from = (time_t)from;
	q.to = (time_t)to;
	q.resolution = resol;
	if (store_series_read(ctx->store, &q, &s, &missing, err, sizeof(err)) == -1) {
		if (!missing)
			return api_error(r, 500, "%s", err);
		if (!live_customer_known(ctx->live, id))
			return api_error(r, 404, "unknown customer");
		/* Known, but its first step is not written yet: no points. */
		memset(&s, 0, sizeof(s));
		s.start = q.from;
		s.end = q.to;
		s.step = STORE_STEP_S;
	}
	pts = json_array();
	for (size_t i = 0; i < s.n && i < API_SERIES_MAX_POINTS; i++) {
		double t = (double)s.start + (double)s.step * (double)(i + 1);
		json_array_append_new(pts, json_pack("[f,o]", t, isnan(s.values[i]) ?
		    json_null() : json_real(s.values[i])));
	}
	api_json(r, 200, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o}", "customer", id,
	    "metric", metric, "cf", cf, "step", (json_int_t)s.step,
	    "from", (json_int_t)s.start, "to", (json_int_t)s.end, "points", pts));
	store_series_clear(&s);
	return 0;
}

static json_t *
api_health_json(const struct live_probe_info *p)
{
	const struct gw_health *h = &p->health;

	if (!p->has_health)
		return json_object();
	return json_pack("{s:f,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:f,s:o,s:o}",
	    "cpu_pct", h->cpu_pct, "rss_bytes", api_u64(h->rss_bytes),
	    "pcap_received", api_u64(h->pcap_received),
	    "pcap_dropped", api_u64(h->pcap_dropped),
	    "pcap_if_dropped", api_u64(h->pcap_if_dropped),
	    "queue_dropped", api_u64(h->queue_dropped),
	    "decode_errors", api_u64(h->decode_errors),
	    "non_ip", api_u64(h->non_ip),
	    "flows_evicted", api_u64(h->flows_evicted),
	    "cgroup_cpu_pct", h->cgroup_cpu_pct,
	    "cgroup_mem_bytes", api_u64(h->cgroup_mem_bytes),
	    "flows_active", api_u64(h->flows_active));
}

static int
api_probes(const struct api_ctx *ctx, struct api_response *r)
{
	struct live_probe_info *v;
	size_t n;
	json_t *arr;

	if (live_probes_list(ctx->live, &v, &n) == -1)
		return api_error(r, 500, "out of memory");
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct live_probe_info *p = &v[i];
		json_t *po = json_pack("{s:s,s:s,s:f,s:f,s:o,s:o,s:o,"
		    "s:o,s:o,s:o,s:I,s:o,s:f,s:s,s:s,s:o}",
		    "id", p->id, "address", p->address, "first_seen", p->first_seen,
		    "last_seen", p->last_seen, "messages", api_u64(p->messages),
		    "lost", api_u64(p->lost), "duplicates", api_u64(p->duplicates),
		    "reordered", api_u64(p->reordered),
		    "rejected", api_u64(p->rejected),
		    "restarts", api_u64(p->restarts),
		    "customers", (json_int_t)p->customers, "seq", api_u64(p->seq),
		    "last_report_ts", p->last_report_ts,
		    "software", p->has_hello ? p->hello.software : "",
		    "hostname", p->has_hello ? p->hello.hostname : "",
		    "health", api_health_json(p));
		/* Shard failover (ingest.h): seqs that went to other shards. */
		json_object_set_new(po, "forwarded_elsewhere", api_u64(p->away));
		json_object_set_new(po, "moved_away", json_boolean(p->left));
		json_object_set_new(po, "accepted", api_u64(p->accepted));
		json_array_append_new(arr, po);
	}
	free(v);
	return api_json(r, 200, json_pack("{s:o}", "probes", arr));
}

static int
api_stats(const struct api_ctx *ctx, struct api_response *r)
{
	struct live_counters c;
	struct store_counters s;
	json_t *types = json_object();

	live_counters_get(ctx->live, &c);
	store_counters_get(ctx->store, &s);
	for (int i = 1; i < 8; i++)
		json_object_set_new(types, gw_body_name((enum gw_body)i),
		    api_u64(c.by_type[i]));
	return api_json(r, 200, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
	    "s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:I,"
	    "s:f,s:o,s:o,s:o,s:o}",
	    "envelopes", api_u64(c.envelopes), "accepted", api_u64(c.accepted),
	    "rejected", api_u64(c.rejected), "garbage", api_u64(c.garbage),
	    "bad_frames", api_u64(c.bad_frames),
	    "unknown_probe", api_u64(c.unknown_probe),
	    "key_mismatch", api_u64(c.key_mismatch),
	    "zap_denied", api_u64(c.zap_denied), "lost", api_u64(c.lost),
	    "duplicates", api_u64(c.duplicates), "reordered", api_u64(c.reordered),
	    "restarts", api_u64(c.restarts), "by_type", types,
	    "rrd_updates", api_u64(s.rrd_updates), "rrd_errors", api_u64(s.rrd_errors),
	    "rrd_creates", api_u64(s.rrd_creates),
	    "rrd_out_of_order", api_u64(s.out_of_order),
	    "rrd_queue_dropped", api_u64(s.queue_dropped),
	    "rrd_queue_len", api_u64(s.queue_len),
	    "rrd_steps", api_u64(s.steps), "rrd_reconnects", api_u64(s.reconnects),
	    "store_reports", api_u64(s.reports),
	    "rrdcached_connected", s.connected,
	    "rrd_file_bytes", api_u64(s.file_bytes),
	    "customers", (json_int_t)live_customer_count(ctx->live),
	    "uptime_s", api_now() - ctx->start_wall,
	    "rrd_pending", api_u64(s.pending), "rrd_retried", api_u64(s.retried),
	    "rrd_dropped", api_u64(s.dropped),
	    "rrd_backlog_max", api_u64(s.backlog_max)));
}

/* ---- events, countermeasures, bans ---- */

/* Parses an unsigned query argument; 0 (with *out = dflt when absent) or -1. */
int
api_arg_u64(const struct api_request *req, const char *key, uint64_t dflt,
    uint64_t min, uint64_t max, uint64_t *out)
{
	const char *v = api_arg(req, key, NULL);
	unsigned long long x;
	char *end;

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	x = strtoull(v, &end, 10);
	if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0 || x < min ||
	    x > max)
		return -1;
	*out = x;
	return 0;
}

/*
 * Fills f from since/until/customer/kind/after/limit (and state for
 * countermeasures). 0, or -1 with a message in err.
 */
static int
api_filter(const struct api_request *req, bool cm, struct events_filter *f,
    char *err, size_t errlen)
{
	const char *since = api_arg(req, "since", NULL);
	const char *until = api_arg(req, "until", NULL);
	uint64_t limit, after;
	enum cm_action a;
	enum cm_state st;
	double now = api_now();

	memset(f, 0, sizeof(*f));
	if ((since != NULL && api_parse_time(since, now, &f->since) == -1) ||
	    (until != NULL && api_parse_time(until, now, &f->until) == -1)) {
		snprintf(err, errlen, "since/until: epoch seconds, \"now\" or "
		    "\"-30m\", \"-1h\", \"-7d\"");
		return -1;
	}
	if (api_arg_u64(req, "limit", 100, 1, EVENTS_LIST_MAX, &limit) == -1 ||
	    api_arg_u64(req, "after", 0, 0, INT64_MAX, &after) == -1) {
		snprintf(err, errlen, "after must be an id, limit 1..%d",
		    EVENTS_LIST_MAX);
		return -1;
	}
	f->limit = (size_t)limit;
	f->after_id = after;
	f->customer = api_arg(req, "customer", NULL);
	f->kind = api_arg(req, cm ? "action" : "kind", NULL);
	f->state = cm ? api_arg(req, "state", NULL) : NULL;
	if (cm && f->kind != NULL && cm_action_parse(f->kind, &a) == -1) {
		snprintf(err, errlen, "action must be ban, unban or hook");
		return -1;
	}
	if (f->state != NULL && cm_state_parse(f->state, &st) == -1) {
		snprintf(err, errlen, "state must be pending, active, lifted, "
		    "expired or failed");
		return -1;
	}
	return 0;
}

static json_t *
api_event_json(uint64_t id, const char *probe, double received,
    const struct gw_event *e)
{
	json_t *top = json_array();

	for (size_t i = 0; i < e->n_top_talkers && i < GW_LIST_MAX; i++)
		json_array_append_new(top, json_string(e->top_talkers[i]));
	return json_pack("{s:I,s:s,s:f,s:f,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:s,s:b,"
	    "s:I,s:I,s:s,s:o}",
	    "id", (json_int_t)id, "probe", probe, "received", received,
	    "ts", e->ts, "customer", e->customer, "kind", e->kind,
	    "severity", e->severity, "src", e->src, "dst", e->dst,
	    "rate_pps", e->rate_pps, "rate_bps", e->rate_bps,
	    "direction", e->direction, "cleared", e->cleared,
	    "ip_proto", (json_int_t)e->ip_proto, "dport", (json_int_t)e->dport,
	    "detail", e->detail, "top_talkers", top);
}

/* Without a database (tests, tools): the in-memory ring, oldest first. */
static int
api_events_live(const struct api_ctx *ctx, const struct events_filter *f,
    struct api_response *r)
{
	struct live_event *v;
	size_t n;
	json_t *arr;

	if (live_events_list(ctx->live, f->after_id, f->limit, &v, &n) == -1)
		return api_error(r, 500, "out of memory");
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, api_event_json(v[i].id, v[i].probe,
		    v[i].received, &v[i].ev));
	free(v);
	return api_json(r, 200, json_pack("{s:o}", "events", arr));
}

static int
api_events(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	struct events_filter f;
	struct events_row *v;
	size_t n;
	char err[160];
	json_t *arr;

	if (api_filter(req, false, &f, err, sizeof(err)) == -1)
		return api_error(r, 400, "%s", err);
	if (ctx->events == NULL)
		return api_events_live(ctx, &f, r);
	if (events_list(ctx->events, &f, &v, &n) == -1)
		return api_error(r, 500, "cannot read the events database");
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, api_event_json(v[i].id, v[i].probe,
		    v[i].received_ts, &v[i].ev));
	free(v);
	return api_json(r, 200, json_pack("{s:o}", "events", arr));
}

/* A time that may be "not yet" (0): JSON null. */
static json_t *
api_ts(double t)
{
	return t > 0 ? json_real(t) : json_null();
}

static json_t *
api_cm_json(const struct countermeasure *c)
{
	bool global = strcmp(c->scope, CM_SCOPE_GLOBAL) == 0;
	bool in_force = c->state == CM_PENDING || c->state == CM_ACTIVE;
	/* Seconds left of a ban in force with a timeout (operator clock); else null. */
	json_t *remaining = in_force && c->expires_ts > 0 ?
	    json_integer((json_int_t)fmax(0.0, ceil(c->expires_ts - api_now()))) :
	    json_null();

	return json_pack("{s:I,s:s,s:s,s:I,s:s,s:o,s:s,s:s,s:s,s:f,s:o,s:o,s:o,"
	    "s:o,s:s,s:I,s:s,s:o}",
	    "id", (json_int_t)c->id, "action", cm_action_name(c->action),
	    "address", c->address, "prefix_len", (json_int_t)c->prefix_len,
	    "scope", c->scope, "probe", global ? json_null() : json_string(c->scope),
	    "customer", c->customer, "reason", c->reason,
	    "decided_by", c->decided_by, "decided_ts", c->decided_ts,
	    "sent_ts", api_ts(c->sent_ts), "applied_ts", api_ts(c->applied_ts),
	    "lifted_ts", api_ts(c->lifted_ts), "expires_ts", api_ts(c->expires_ts),
	    "state", cm_state_name(c->state),
	    "command_id", (json_int_t)c->command_id,
	    "result_message", c->result_message, "remaining_s", remaining);
}

static int
api_cm_array(struct api_response *r, const char *key,
    struct countermeasure *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, api_cm_json(&v[i]));
	free(v);
	return api_json(r, 200, json_pack("{s:o}", key, arr));
}

static int
api_countermeasures(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	struct events_filter f;
	struct countermeasure *v;
	size_t n;
	char err[160];

	if (ctx->events == NULL)
		return api_error(r, 503, "no events database");
	if (api_filter(req, true, &f, err, sizeof(err)) == -1)
		return api_error(r, 400, "%s", err);
	if (events_cm_list(ctx->events, &f, &v, &n) == -1)
		return api_error(r, 500, "cannot read the events database");
	return api_cm_array(r, "countermeasures", v, n);
}

/* GET /api/v1/bans: the bans in force (pending or active), oldest first. */
static int
api_bans(const struct api_ctx *ctx, struct api_response *r)
{
	struct countermeasure *v;
	size_t n;

	if (ctx->events == NULL)
		return api_error(r, 503, "no events database");
	if (events_cm_in_force(ctx->events, &v, &n) == -1)
		return api_error(r, 500, "cannot read the events database");
	return api_cm_array(r, "bans", v, n);
}

/* HTTP status for a refusal explained by respond. */
static int
api_respond_status(const char *err)
{
	if (strstr(err, "timed out") != NULL || strstr(err, "too many requests"))
		return 503;
	if (strstr(err, "no ban in force") != NULL ||
	    strstr(err, "unknown probe") != NULL)
		return 404;
	if (strstr(err, "allowlisted") != NULL)
		return 403;
	return 400;
}

/* Answers a ban/unban that respond accepted with its audit row. */
static int
api_cm_created(const struct api_ctx *ctx, uint64_t id, int status,
    struct api_response *r)
{
	struct countermeasure cm;

	if (events_cm_get(ctx->events, id, &cm) == -1)
		return api_json(r, status, json_pack("{s:I}", "id", (json_int_t)id));
	return api_json(r, status, api_cm_json(&cm));
}

/* Reads an optional string member; -1 when present but not a string (or null). */
static int
api_body_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* Reads an optional integer member in [min, max]; -1 when bad. */
static int
api_body_int(json_t *o, const char *key, json_int_t min, json_int_t max,
    uint32_t *out)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

/* Splits "ADDR/LEN" into addr (buf) and *plen when no prefix_len was given. */
static int
api_split_prefix(const char *in, char *buf, size_t len, uint32_t *plen)
{
	const char *slash = strchr(in, '/');
	uint64_t v;
	char *end;

	if (slash == NULL) {
		snprintf(buf, len, "%s", in);
		return strlen(in) < len ? 0 : -1;
	}
	if ((size_t)(slash - in) >= len || slash[1] == '\0')
		return -1;
	memcpy(buf, in, (size_t)(slash - in));
	buf[slash - in] = '\0';
	v = strtoull(slash + 1, &end, 10);
	if (*end != '\0' || v > 128 || (*plen != 0 && *plen != v))
		return -1;
	*plen = (uint32_t)v;
	return 0;
}

/* POST /api/v1/bans {"address","prefix_len","timeout_s","probe","reason"}. */
static int
api_ban_post(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	struct respond_manual m = { .user = req->user ? req->user : "http" };
	char addr[GW_ADDR_MAX], err[GW_TEXT_MAX];
	const char *address;
	json_error_t jerr;
	json_t *o;
	uint64_t id;

	if (ctx->respond == NULL || ctx->events == NULL)
		return api_error(r, 503, "countermeasures are not enabled");
	o = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return api_error(r, 400, "body must be a JSON object: %s", jerr.text);
	}
	if (api_body_str(o, "address", &address) == -1 || address == NULL ||
	    api_body_int(o, "prefix_len", 0, 128, &m.prefix_len) == -1 ||
	    api_body_int(o, "timeout_s", 1, 366 * 86400, &m.timeout_s) == -1 ||
	    api_body_str(o, "probe", &m.scope) == -1 ||
	    api_body_str(o, "reason", &m.reason) == -1 ||
	    api_split_prefix(address, addr, sizeof(addr), &m.prefix_len) == -1) {
		json_decref(o);
		return api_error(r, 400, "expected {\"address\":\"ADDR[/LEN]\","
		    "\"prefix_len\":0..128,\"timeout_s\":1..31622400,"
		    "\"probe\":\"ID\"|null,\"reason\":\"TEXT\"}");
	}
	m.address = addr;
	id = respond_submit(ctx->respond, RESPOND_OP_BAN, &m, API_RESPOND_WAIT_MS,
	    err, sizeof(err));
	json_decref(o);
	if (id == 0)
		return api_error(r, api_respond_status(err), "%s", err);
	return api_cm_created(ctx, id, 201, r);
}

/* DELETE /api/v1/bans/ADDR[/LEN][?prefix_len=N&probe=ID]. */
static int
api_ban_delete(const struct api_ctx *ctx, const struct api_request *req,
    const char *target, struct api_response *r)
{
	struct respond_manual m = { .user = req->user ? req->user : "http" };
	char addr[GW_ADDR_MAX], err[GW_TEXT_MAX];
	uint64_t plen;
	uint64_t id;

	if (ctx->respond == NULL || ctx->events == NULL)
		return api_error(r, 503, "countermeasures are not enabled");
	if (api_arg_u64(req, "prefix_len", 0, 0, 128, &plen) == -1)
		return api_error(r, 400, "prefix_len must be 0..128");
	m.prefix_len = (uint32_t)plen;
	if (api_split_prefix(target, addr, sizeof(addr), &m.prefix_len) == -1)
		return api_error(r, 400, "expected /api/v1/bans/ADDR[/LEN]");
	m.address = addr;
	m.scope = api_arg(req, "probe", NULL);
	id = respond_submit(ctx->respond, RESPOND_OP_UNBAN, &m,
	    API_RESPOND_WAIT_MS, err, sizeof(err));
	if (id == 0)
		return api_error(r, api_respond_status(err), "%s", err);
	return api_cm_created(ctx, id, 200, r);
}

/* GET /api/v1/customers/ID/graph.png */
static int
api_graph(const struct api_ctx *ctx, const char *id,
    const struct api_request *req, struct api_response *r)
{
	struct store_graph_req g = { .customer = id,
	    .metrics = api_arg(req, "metric", "rx_bytes,tx_bytes") };
	double now = api_now(), from, to;
	uint64_t w, h;
	unsigned char *png;
	size_t len;
	bool missing;
	char err[256];

	if (api_parse_time(api_arg(req, "from", "-1d"), now, &from) == -1 ||
	    api_parse_time(api_arg(req, "to", "now"), now, &to) == -1 || from >= to)
		return api_error(r, 400, "bad time range (from/to: epoch seconds, "
		    "\"now\" or \"-30m\", \"-1h\", \"-7d\"; from < to)");
	if (api_arg_u64(req, "width", 800, 100, 4000, &w) == -1 ||
	    api_arg_u64(req, "height", 250, 50, 2000, &h) == -1)
		return api_error(r, 400, "width 100..4000, height 50..2000");
	if (!gw_id_valid(id))
		return api_error(r, 404, "unknown customer");
	g.from = (time_t)from;
	g.to = (time_t)to;
	g.width = (unsigned)w;
	g.height = (unsigned)h;
	if (store_graph(ctx->store, &g, &png, &len, &missing, err,
	    sizeof(err)) == -1) {
		if (missing)
			return api_error(r, 404, "%s", err);
		return api_error(r, strstr(err, "metric") ? 400 : 500, "%s", err);
	}
	return api_body(r, (char *)png, len, "image/png");
}

/* GET /metrics: snapshots of live and store, rendered by metrics.c. */
static int
api_metrics(const struct api_ctx *ctx, struct api_response *r)
{
	struct metrics_snapshot snap = { .max_customers =
	    ctx->metrics_max_customers };
	struct live_customer_view *cv = NULL;
	struct live_probe_info *pv = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = -1;

	if (live_customers_list(ctx->live, &cv, &snap.n_customers) == 0 &&
	    live_probes_list(ctx->live, &pv, &snap.n_probes) == 0) {
		live_counters_get(ctx->live, &snap.counters);
		store_counters_get(ctx->store, &snap.store);
		snap.customers = cv;
		snap.probes = pv;
		snap.now = api_now();
		snap.uptime_s = snap.now - ctx->start_wall;
		rc = metrics_render(&snap, &buf, &len);
	}
	free(cv);
	free(pv);
	if (rc == -1)
		return api_error(r, 500, "out of memory");
	return api_body(r, buf, len, "text/plain; version=0.0.4; charset=utf-8");
}

static int
api_healthz(const struct api_ctx *ctx, struct api_response *r)
{
	return api_json(r, 200, json_pack("{s:b,s:s,s:f}", "ok", 1,
	    "version", GW_VERSION, "uptime_s", api_now() - ctx->start_wall));
}

/* Splits "/api/v1/customers/ID[/series|/graph.png]"; returns 1 (one), 2 (series), 3 (graph), 0 (other), -1 (id too long). */
static int
api_customer_path(const char *path, char *id, size_t idlen)
{
	const char *prefix = "/api/v1/customers/", *p, *slash;
	size_t n;

	if (strncmp(path, prefix, strlen(prefix)) != 0)
		return 0;
	p = path + strlen(prefix);
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= idlen)
		return n == 0 ? 0 : -1;
	memcpy(id, p, n);
	id[n] = '\0';
	if (slash == NULL)
		return 1;
	if (strcmp(slash, "/series") == 0)
		return 2;
	return strcmp(slash, "/graph.png") == 0 ? 3 : 0;
}

/* Answers 405 with the allowed methods. */
int
api_not_allowed(struct api_response *r, const char *method, const char *allow)
{
	r->allow = allow;
	return api_error(r, 405, "method %s not allowed here", method);
}

/* Routes that do not depend on a customer id: GET only, except /api/v1/bans. */
static int
api_route(const struct api_ctx *ctx, const struct api_request *req, bool get,
    struct api_response *r)
{
	static const char bans_prefix[] = "/api/v1/bans/";
	const char *path = req->path;

	if (strcmp(path, "/api/v1/bans") == 0) {
		if (get)
			return api_list(ctx, req, api_bans(ctx, r), r);
		if (strcmp(req->method, "POST") == 0)
			return api_ban_post(ctx, req, r);
		return api_not_allowed(r, req->method, "GET, HEAD, POST");
	}
	if (strncmp(path, bans_prefix, sizeof(bans_prefix) - 1) == 0 &&
	    path[sizeof(bans_prefix) - 1] != '\0') {
		if (strcmp(req->method, "DELETE") == 0)
			return api_ban_delete(ctx, req, path + sizeof(bans_prefix) - 1,
			    r);
		return api_not_allowed(r, req->method, "DELETE");
	}
	if (strncmp(path, "/api/v1/reports/", 16) == 0)
		return api_reports(ctx, req, get, r);
	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/api/v1/customers") != 0 &&
	    strcmp(path, "/api/v1/probes") != 0 &&
	    strcmp(path, "/api/v1/stats") != 0 &&
	    strcmp(path, "/api/v1/events") != 0 &&
	    strcmp(path, "/api/v1/countermeasures") != 0)
		return api_error(r, 404, "no such route");
	if (!get)
		return api_not_allowed(r, req->method, "GET, HEAD");
	if (strcmp(path, "/healthz") == 0)
		return api_healthz(ctx, r);
	if (strcmp(path, "/metrics") == 0)
		return api_metrics(ctx, r);
	if (strcmp(path, "/api/v1/customers") == 0)
		return api_list(ctx, req, api_customers(ctx, req, r), r);
	if (strcmp(path, "/api/v1/probes") == 0)
		return api_list(ctx, req, api_probes(ctx, r), r);
	if (strcmp(path, "/api/v1/stats") == 0)
		return api_stats(ctx, r);
	if (strcmp(path, "/api/v1/countermeasures") == 0)
		return api_countermeasures(ctx, req, r);   /* per shard: see README */
	return api_list(ctx, req, api_events(ctx, req, r), r);
}

int
api_handle(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	char id[GW_ID_MAX];
	bool get = strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0;
	int kind, rc;

	memset(r, 0, sizeof(*r));
	kind = api_customer_path(req->path, id, sizeof(id));
	if (kind == -1)
		return api_error(r, 404, "unknown customer");
	if (kind == 0)
		return api_route(ctx, req, get, r);
	if (!get)
		return api_not_allowed(r, req->method, "GET, HEAD");
	if (kind == 1)
		rc = api_customer(ctx, id, r);
	else if (kind == 2)
		rc = api_series(ctx, id, req, r);
	else
		rc = api_graph(ctx, id, req, r);
	/* Not ours: the owner shard may have it (sharded operators only). */
	if (r->status == 404 && ctx->forward != NULL &&
	    !live_customer_known(ctx->live, id)) {
		struct api_response fr;

		memset(&fr, 0, sizeof(fr));
		if (ctx->forward(ctx->fctx, req, &fr)) {
			api_response_clear(r);
			*r = fr;
			rc = 0;
		}
	}
	return rc;
}

void
api_peer_answers_free(struct api_peer_answer *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++)
		api_response_clear(&a[i].r);
	free(a);
}

void
api_response_clear(struct api_response *r)
{
	if (r == NULL)
		return;
	free(r->body);
	r->body = NULL;
}
