/* api.c: JSON routes of /tmp/gw-api.md and /metrics, built from live and store snapshots. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "metrics.h"

#define API_SERIES_MAX_POINTS 100000
#define API_RESPOND_WAIT_MS   5000   /* a ban/unban waits this long for the ingest loop */
#define API_RECENT_MAX        120    /* ?recent=N intervals per customer in the list */

static double
api_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sets a 200 reply of len bytes at body (ownership moves to r) with content_type (static). */
static int
api_body(struct api_response *r, char *body, size_t len, const char *content_type)
{
	r->status = 200;
	r->body = body;
	r->body_len = len;
	r->content_type = content_type;
	return 0;
}

/* Takes ownership of j (NULL -> 500) and sets it as the body. */
static int
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

static int
api_error(struct api_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
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

static int api_arg_u64(const struct api_request *req, const char *key,
    uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out);

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

static const char *
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
static int
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
static int
api_not_allowed(struct api_response *r, const char *method, const char *allow)
{
	r->allow = allow;
	return api_error(r, 405, "method %s not allowed here", method);
}

/* ---- capacity reports: /api/v1/reports/... ---- */

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
static int
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

/* ---- helpers of the cluster-wide routes (sharded operators) ---- */

static const char *
api_str(json_t *e, const char *k)
{
	const char *v = json_string_value(json_object_get(e, k));

	return v != NULL ? v : "";
}

static double
api_numv(json_t *e, const char *k)
{
	json_t *v = json_object_get(e, k);

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* True when the request must be answered from this shard only. */
static bool
api_scope_local(const struct api_request *req)
{
	const char *v = api_arg(req, "scope", NULL);

	return (v != NULL && strcmp(v, "local") == 0) ||
	    api_arg(req, "gw_forwarded", NULL) != NULL;
}

/* ---- cluster-wide capacity top-N ---- */

/* A request as the peers see it for top-N: offset 0, limit = offset + limit. */
struct api_qover {
	const struct api_request *req;
	char limit[24];
};

static const char *
api_qover_get(void *qctx, const char *key)
{
	struct api_qover *o = qctx;

	if (strcmp(key, "limit") == 0)
		return o->limit;
	if (strcmp(key, "offset") == 0)
		return NULL;
	return api_arg(o->req, key, NULL);
}

struct api_top_sort {
	const char *field;
	bool        asc;
};

/* By the report key; rows without a value (null) last either way; then by customer. */
static int
api_top_cmp(const void *a, const void *b, void *arg)
{
	const struct api_top_sort *k = arg;
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_t *u = json_object_get(x, k->field), *v = json_object_get(y, k->field);
	bool un = json_is_number(u), vn = json_is_number(v);
	int c;

	if (un != vn)
		return un ? -1 : 1;
	c = 0;
	if (un) {
		double p = json_number_value(u), q = json_number_value(v);
		c = p < q ? -1 : p > q;
		if (!k->asc)
			c = -c;
	}
	return c != 0 ? c : strcmp(api_str(x, "customer"), api_str(y, "customer"));
}

/*
 * r holds this shard's 200 JSON top-N page: asks the peers for their first
 * offset + limit rows, sorts all rows again and cuts the page after the
 * merge; "total" is the sum of the totals that answered.
 */
static int
api_merge_top(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	static const char *const fields[][2] = {
		{ "p95", "p95_bps" }, { "total", "total_bytes" },
		{ "growth", "growth_pct_month" }, { "saturation", "saturation_ts" },
		{ "sla", "sla_breach_minutes" },
	};
	struct api_qover qo = { .req = req };
	struct api_request preq = *req;
	struct api_peer_answer *pa = NULL;
	struct api_top_sort k = { NULL, false };
	size_t np = 0, answered = 1, n;
	json_int_t total, off, lim;
	json_t *local, *rows, *page, *missing, **v;
	const char *by;
	int frc;

	if ((local = json_loadb(r->body, r->body_len, 0, NULL)) == NULL ||
	    !json_is_array(rows = json_object_get(local, "rows"))) {
		json_decref(local);
		return 0;
	}
	by = api_str(local, "by");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(by, fields[i][0]) == 0)
			k.field = fields[i][1];
	k.asc = strcmp(api_str(local, "order"), "asc") == 0;
	off = json_integer_value(json_object_get(local, "offset"));
	lim = json_integer_value(json_object_get(local, "limit"));
	total = json_integer_value(json_object_get(local, "total"));
	if (k.field == NULL) {
		json_decref(local);
		return 0;
	}
	/* This shard's own rows from 0 too: ask it again without the offset. */
	snprintf(qo.limit, sizeof(qo.limit), "%lld", (long long)(off + lim >
	    REPORT_TOP_MAX ? REPORT_TOP_MAX : off + lim));
	preq.query = api_qover_get;
	preq.qctx = &qo;
	if (off > 0) {
		struct api_response lr;

		memset(&lr, 0, sizeof(lr));
		json_t *l2 = NULL;
		if (api_report_top(ctx, &preq, &lr) == 0 && lr.status == 200 &&
		    (l2 = json_loadb(lr.body, lr.body_len, 0, NULL)) != NULL &&
		    json_is_array(json_object_get(l2, "rows"))) {
			json_object_set(local, "rows", json_object_get(l2, "rows"));
			rows = json_object_get(local, "rows");
		}
		json_decref(l2);
		api_response_clear(&lr);
	}
	frc = ctx->fanout(ctx->fctx, &preq, &pa, &np);
	rows = json_copy(rows);
	missing = json_array();
	for (size_t i = 0; i < np; i++) {
		json_t *pj = NULL, *arr;

		if (pa[i].answered && pa[i].r.status == 200 &&
		    (pj = json_loadb(pa[i].r.body, pa[i].r.body_len, 0, NULL)) != NULL &&
		    json_is_array(arr = json_object_get(pj, "rows"))) {
			json_array_extend(rows, arr);
			total += json_integer_value(json_object_get(pj, "total"));
			answered++;
		} else {
			json_array_append_new(missing, json_string(pa[i].shard));
		}
		json_decref(pj);
	}
	api_peer_answers_free(pa, np);
	n = json_array_size(rows);
	page = json_array();
	if ((v = malloc((n > 0 ? n : 1) * sizeof(*v))) != NULL) {
		for (size_t i = 0; i < n; i++)
			v[i] = json_array_get(rows, i);
		qsort_r(v, n, sizeof(*v), api_top_cmp, &k);
		for (size_t i = (size_t)off; i < n && i < (size_t)(off + lim); i++)
			json_array_append(page, v[i]);
		free(v);
	}
	json_decref(rows);
	json_object_set_new(local, "rows", page);
	json_object_set_new(local, "total", json_integer(total));
	json_object_set_new(local, "shards", json_pack("{s:I,s:I,s:o,s:b}",
	    "answered", (json_int_t)answered, "total", (json_int_t)(np + 1),
	    "missing", missing, "directory", frc == 0));
	api_response_clear(r);
	memset(r, 0, sizeof(*r));
	return api_json(r, 200, local);
}

/* Routes under /api/v1/reports/ (GET only). */
static int
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


/* ---- cluster-wide list routes (sharded operators) ---- */

/*
 * How one list route's arrays from several shards become one: every
 * element gets "shard"; duplicates (same dedupe key) keep the element whose
 * number member `newest` is the largest (the first when NULL: this shard's
 * first, then the peers in id order); the result is sorted by `sort`.
 */
struct api_merge {
	const char *path;
	const char *key;                  /* the array member of the answer */
	void (*dedupe)(json_t *e, char *buf, size_t len);   /* NULL = keep all */
	const char *newest;
	const char *sort;                 /* member to sort by */
	bool        sort_num;             /* number (else string) */
	bool        desc;
	bool        paged;                /* ?limit= (default 100) applies after the merge;
	                                   * with ?after= (a per-shard id) it stays local */
};

static void
api_dedupe_id(json_t *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", api_str(e, "id"));
}

/* A ban: the same scope, address and prefix (a global ban is held by every shard). */
static void
api_dedupe_ban(json_t *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s|%s|%g", api_str(e, "scope"), api_str(e, "address"),
	    api_numv(e, "prefix_len"));
}

static const struct api_merge api_merges[] = {
	{ "/api/v1/customers", "customers", api_dedupe_id, "ts", "id", false,
	    false, false },
	{ "/api/v1/probes", "probes", api_dedupe_id, "last_seen", "id", false, false,
	    false },
	{ "/api/v1/bans", "bans", api_dedupe_ban, NULL, "decided_ts", true, false,
	    false },
	{ "/api/v1/events", "events", NULL, NULL, "received", true, true, true },
};

static const struct api_merge *
api_merge_of(const char *path)
{
	for (size_t i = 0; i < sizeof(api_merges) / sizeof(api_merges[0]); i++)
		if (strcmp(path, api_merges[i].path) == 0)
			return &api_merges[i];
	return NULL;
}

static int
api_merge_cmp(const void *a, const void *b, void *arg)
{
	const struct api_merge *m = arg;
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c;

	if (m->sort_num) {
		double u = api_numv(x, m->sort), v = api_numv(y, m->sort);
		c = u < v ? -1 : u > v;
	} else {
		c = strcmp(api_str(x, m->sort), api_str(y, m->sort));
	}
	if (c == 0)
		c = strcmp(api_str(x, "shard"), api_str(y, "shard"));
	return m->desc ? -c : c;
}

/* Adds arr's elements (tagged with shard) to all, deduplicating through seen. */
static void
api_merge_add(const struct api_merge *m, json_t *all, json_t *seen, json_t *arr,
    const char *shard)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		char key[512];
		json_t *prev;

		if (!json_is_object(e))
			continue;
		json_object_set_new(e, "shard", json_string(shard));
		if (m->dedupe == NULL) {
			json_array_append(all, e);
			continue;
		}
		m->dedupe(e, key, sizeof(key));
		prev = json_object_get(seen, key);
		if (prev == NULL) {
			json_object_set(seen, key, e);
			json_array_append(all, e);
		} else if (m->newest != NULL &&
		    api_numv(e, m->newest) > api_numv(prev, m->newest)) {
			/* Replace the older duplicate in place. */
			size_t j;
			json_t *x;

			json_array_foreach(all, j, x)
				if (x == prev) {
					json_array_set(all, j, e);
					break;
				}
			json_object_set(seen, key, e);
		}
	}
}

/*
 * r holds this shard's 200 answer of a list route: asks the other shards
 * (ctx->fanout) and replaces r by the merged answer with
 * "shards": {"answered": N, "total": M, "missing": [ids]}. A shard that does
 * not answer in time (or with an error) is listed as missing: the answer is
 * partial, never an error of its own.
 */
static int
api_merge_list(const struct api_ctx *ctx, const struct api_request *req,
    const struct api_merge *m, struct api_response *r)
{
	struct api_peer_answer *pa = NULL;
	size_t np = 0, answered = 1, n;
	json_t *local, *all, *seen, *missing, *out, **v;
	int frc;

	if ((local = json_loadb(r->body, r->body_len, 0, NULL)) == NULL ||
	    !json_is_array(json_object_get(local, m->key))) {
		json_decref(local);
		return 0;   /* keep the local answer as it is */
	}
	frc = ctx->fanout(ctx->fctx, req, &pa, &np);
	all = json_array();
	seen = json_object();
	missing = json_array();
	api_merge_add(m, all, seen, json_object_get(local, m->key),
	    ctx->shard_id != NULL ? ctx->shard_id : "");
	for (size_t i = 0; i < np; i++) {
		json_t *pj = NULL, *arr;

		if (pa[i].answered && pa[i].r.status == 200 &&
		    (pj = json_loadb(pa[i].r.body, pa[i].r.body_len, 0, NULL)) != NULL &&
		    json_is_array(arr = json_object_get(pj, m->key))) {
			api_merge_add(m, all, seen, arr, pa[i].shard);
			answered++;
		} else {
			json_array_append_new(missing, json_string(pa[i].shard));
		}
		json_decref(pj);
	}
	api_peer_answers_free(pa, np);
	n = json_array_size(all);
	if (n > 1 && (v = malloc(n * sizeof(*v))) != NULL) {
		uint64_t lim = n;

		if (m->paged)
			api_arg_u64(req, "limit", 100, 1, EVENTS_LIST_MAX, &lim);
		for (size_t i = 0; i < n; i++)
			v[i] = json_incref(json_array_get(all, i));
		qsort_r(v, n, sizeof(*v), api_merge_cmp, (void *)m);
		json_array_clear(all);
		for (size_t i = 0; i < n; i++)
			if (i < lim)
				json_array_append_new(all, v[i]);
			else
				json_decref(v[i]);
		free(v);
	}
	json_decref(seen);
	out = local;   /* its array's elements live on in all */
	json_object_set_new(out, m->key, all);
	json_object_set_new(out, "shards", json_pack("{s:I,s:I,s:o,s:b}",
	    "answered", (json_int_t)answered, "total", (json_int_t)(np + 1),
	    "missing", missing, "directory", frc == 0));
	api_response_clear(r);
	memset(r, 0, sizeof(*r));
	return api_json(r, 200, out);
}

/* A list route's local answer, made cluster-wide when sharded and asked for. */
static int
api_list(const struct api_ctx *ctx, const struct api_request *req, int rc,
    struct api_response *r)
{
	const struct api_merge *m = api_merge_of(req->path);

	/*
	 * ?after= is a cursor over this shard's ids (the dashboard's feed polls
	 * with it, keyed by id): any value keeps the answer per shard, so ids
	 * of different shards never mix in one feed.
	 */
	if (rc != 0 || r->status != 200 || ctx->fanout == NULL || m == NULL ||
	    api_scope_local(req) || (m->paged && api_arg(req, "after", NULL) != NULL))
		return rc;
	return api_merge_list(ctx, req, m, r);
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
