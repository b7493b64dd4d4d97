/* metrics.c: renders the Prometheus text exposition of /metrics in one growable buffer. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define METRICS_LABEL_MAX (2 * GW_ID_MAX)   /* an escaped id always fits */

/* A growable output buffer; after one allocation failure every put is a no-op. */
struct metrics_buf {
	char  *p;
	size_t len, cap;
	bool   failed;
};

static bool
metrics_reserve(struct metrics_buf *b, size_t more)
{
	size_t ncap;
	char *np;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 4096;
	while (ncap < b->len + more + 1)
		ncap *= 2;
	if ((np = realloc(b->p, ncap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->p = np;
	b->cap = ncap;
	return true;
}

static void
metrics_put(struct metrics_buf *b, const char *s, size_t n)
{
	if (!metrics_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
metrics_str(struct metrics_buf *b, const char *s)
{
	metrics_put(b, s, strlen(s));
}

static void
metrics_u64(struct metrics_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	metrics_put(b, tmp + i, sizeof(tmp) - i);
}

/* Integral values print as integers; others with 15 significant digits. */
static void
metrics_double(struct metrics_buf *b, double v)
{
	char tmp[40];
	int n;

	if (isnan(v)) {
		metrics_str(b, "NaN");
		return;
	}
	if (isinf(v)) {
		metrics_str(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v >= 0 && v < 9007199254740992.0 && v == floor(v)) {
		metrics_u64(b, (uint64_t)v);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (n > 0)
		metrics_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void
metrics_family(struct metrics_buf *b, const char *name, const char *type,
    const char *help)
{
	metrics_str(b, "# HELP ");
	metrics_str(b, name);
	metrics_put(b, " ", 1);
	metrics_str(b, help);
	metrics_str(b, "\n# TYPE ");
	metrics_str(b, name);
	metrics_put(b, " ", 1);
	metrics_str(b, type);
	metrics_put(b, "\n", 1);
}

/* name{label="value"} (value already escaped); no label when label is NULL. */
static void
metrics_series(struct metrics_buf *b, const char *name, const char *label,
    const char *value)
{
	metrics_str(b, name);
	if (label != NULL) {
		metrics_put(b, "{", 1);
		metrics_str(b, label);
		metrics_str(b, "=\"");
		metrics_str(b, value);
		metrics_str(b, "\"}");
	}
	metrics_put(b, " ", 1);
}

size_t
metrics_escape_label(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (; *in != '\0'; in++) {
		const char *rep = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" :
		    *in == '\n' ? "\\n" : NULL;
		size_t n = rep ? 2 : 1;
		if (o + n >= outlen)
			break;
		if (rep != NULL)
			memcpy(out + o, rep, 2);
		else
			out[o] = *in;
		o += n;
	}
	out[o] = '\0';
	return o;
}

/* ---- per-customer families ---- */

/* One sample value: absent (no sample), an integer or a float. */
struct metrics_value {
	enum { METRICS_ABSENT, METRICS_U64, METRICS_DOUBLE } kind;
	uint64_t u;
	double   d;
};

#define METRICS_U(x) ((struct metrics_value){ .kind = METRICS_U64, .u = (x) })
#define METRICS_D(x) ((struct metrics_value){ .kind = METRICS_DOUBLE, .d = (x) })
#define METRICS_NONE ((struct metrics_value){ .kind = METRICS_ABSENT })

typedef struct metrics_value (*metrics_customer_fn)(const struct live_customer_view *);

/* The interval length used for rates; the API's rx_bps/tx_bps use the same. */
static double
metrics_interval_s(const struct live_customer_view *c)
{
	return c->interval > 0 ? c->interval : 1.0;
}

static double
metrics_rx_bps(const struct live_customer_view *c)
{
	return (double)c->stats.rx_bytes * 8.0 / metrics_interval_s(c);
}

static struct metrics_value
metrics_c_rx_bytes(const struct live_customer_view *c)
{
	return METRICS_U(c->total_rx_bytes);
}

static struct metrics_value
metrics_c_tx_bytes(const struct live_customer_view *c)
{
	return METRICS_U(c->total_tx_bytes);
}

static struct metrics_value
metrics_c_rx_packets(const struct live_customer_view *c)
{
	return METRICS_U(c->total_rx_packets);
}

static struct metrics_value
metrics_c_tx_packets(const struct live_customer_view *c)
{
	return METRICS_U(c->total_tx_packets);
}

static struct metrics_value
metrics_c_flows(const struct live_customer_view *c)
{
	return METRICS_U(c->stats.flows_active);
}

static struct metrics_value
metrics_c_last_report(const struct live_customer_view *c)
{
	return METRICS_D(c->ts);
}

static struct metrics_value
metrics_c_rx_bps(const struct live_customer_view *c)
{
	return METRICS_D(metrics_rx_bps(c));
}

static struct metrics_value
metrics_c_tx_bps(const struct live_customer_view *c)
{
	return METRICS_D((double)c->stats.tx_bytes * 8.0 / metrics_interval_s(c));
}

static struct metrics_value
metrics_c_rtt_wan(const struct live_customer_view *c)
{
	if (c->stats.tcp.handshakes == 0)
		return METRICS_NONE;
	return METRICS_D(c->stats.tcp.rtt_wan_ms_avg / 1000.0);
}

static struct metrics_value
metrics_c_rtt_lan(const struct live_customer_view *c)
{
	if (c->stats.tcp.handshakes == 0)
		return METRICS_NONE;
	return METRICS_D(c->stats.tcp.rtt_lan_ms_avg / 1000.0);
}

static struct metrics_value
metrics_c_jitter(const struct live_customer_view *c)
{
	if (c->stats.rtp.streams == 0)
		return METRICS_NONE;
	return METRICS_D(c->stats.rtp.jitter_ms_avg / 1000.0);
}

static struct metrics_value
metrics_c_rtp_loss(const struct live_customer_view *c)
{
	const struct gw_rtp_summary *r = &c->stats.rtp;

	if (r->packets_expected == 0)
		return METRICS_NONE;
	return METRICS_D((double)r->packets_lost / (double)r->packets_expected);
}

static struct metrics_value
metrics_c_dns_latency(const struct live_customer_view *c)
{
	if (c->stats.dns.responses == 0)
		return METRICS_NONE;
	return METRICS_D(c->stats.dns.latency_ms_avg / 1000.0);
}

static const struct metrics_customer_family {
	const char *name, *type, *help;
	metrics_customer_fn get;
} metrics_customer_families[] = {
	{ "gatewatch_customer_rx_bytes_total", "counter",
	  "IP-layer bytes toward the customer since the operator started.",
	  metrics_c_rx_bytes },
	{ "gatewatch_customer_tx_bytes_total", "counter",
	  "IP-layer bytes from the customer since the operator started.",
	  metrics_c_tx_bytes },
	{ "gatewatch_customer_rx_packets_total", "counter",
	  "Packets toward the customer since the operator started.",
	  metrics_c_rx_packets },
	{ "gatewatch_customer_tx_packets_total", "counter",
	  "Packets from the customer since the operator started.",
	  metrics_c_tx_packets },
	{ "gatewatch_customer_flows_active", "gauge",
	  "Flows active at the end of the latest interval.", metrics_c_flows },
	{ "gatewatch_customer_last_report_timestamp_seconds", "gauge",
	  "End of the latest interval (packet time, s since the epoch).",
	  metrics_c_last_report },
	{ "gatewatch_customer_rx_bits_per_second", "gauge",
	  "IP-layer bit/s toward the customer in the latest interval.",
	  metrics_c_rx_bps },
	{ "gatewatch_customer_tx_bits_per_second", "gauge",
	  "IP-layer bit/s from the customer in the latest interval.",
	  metrics_c_tx_bps },
	{ "gatewatch_customer_rtt_wan_seconds", "gauge",
	  "Mean TCP handshake RTT on the WAN side in the latest interval "
	  "(absent without handshakes).", metrics_c_rtt_wan },
	{ "gatewatch_customer_rtt_lan_seconds", "gauge",
	  "Mean TCP handshake RTT on the LAN side in the latest interval "
	  "(absent without handshakes).", metrics_c_rtt_lan },
	{ "gatewatch_customer_jitter_seconds", "gauge",
	  "Mean RFC 3550 RTP interarrival jitter in the latest interval "
	  "(absent without RTP streams).", metrics_c_jitter },
	{ "gatewatch_customer_rtp_loss_ratio", "gauge",
	  "RTP packets lost / expected in the latest interval "
	  "(absent without expected RTP packets).", metrics_c_rtp_loss },
	{ "gatewatch_customer_dns_latency_seconds", "gauge",
	  "Mean DNS query-to-response time in the latest interval "
	  "(absent without DNS responses).", metrics_c_dns_latency },
};

#define METRICS_NCUST_FAMILIES \
	(sizeof(metrics_customer_families) / sizeof(metrics_customer_families[0]))

static void
metrics_value_put(struct metrics_buf *b, struct metrics_value v)
{
	if (v.kind == METRICS_U64)
		metrics_u64(b, v.u);
	else
		metrics_double(b, v.d);
	metrics_put(b, "\n", 1);
}

/* One unlabelled sample with its HELP and TYPE. */
static void
metrics_scalar(struct metrics_buf *b, const char *name, const char *type,
    const char *help, struct metrics_value v)
{
	metrics_family(b, name, type, help);
	metrics_series(b, name, NULL, NULL);
	metrics_value_put(b, v);
}

/* ---- which customers are shown ---- */

static int
metrics_cmp_id(const void *a, const void *b, void *arg)
{
	const struct live_customer_view *v = arg;

	return strcmp(v[*(const size_t *)a].id, v[*(const size_t *)b].id);
}

/* Highest rx bit/s first, ties by id. */
static int
metrics_cmp_rx(const void *a, const void *b, void *arg)
{
	const struct live_customer_view *v = arg;
	double x = metrics_rx_bps(&v[*(const size_t *)a]);
	double y = metrics_rx_bps(&v[*(const size_t *)b]);

	if (x != y)
		return x > y ? -1 : 1;
	return metrics_cmp_id(a, b, arg);
}

/*
 * Indexes of the customers shown, in id order, into a new array *idx of *n
 * (caller frees). Returns 0 or -1 (out of memory).
 */
static int
metrics_select(const struct metrics_snapshot *s, size_t **idx, size_t *n)
{
	size_t max = s->max_customers ? s->max_customers :
	    METRICS_MAX_CUSTOMERS_DEFAULT;
	size_t *ix = malloc((s->n_customers ? s->n_customers : 1) * sizeof(*ix));

	if (ix == NULL)
		return -1;
	for (size_t i = 0; i < s->n_customers; i++)
		ix[i] = i;
	*n = s->n_customers;
	if (*n > max) {
		qsort_r(ix, *n, sizeof(*ix), metrics_cmp_rx, (void *)s->customers);
		*n = max;
	}
	qsort_r(ix, *n, sizeof(*ix), metrics_cmp_id, (void *)s->customers);
	*idx = ix;
	return 0;
}

static int
metrics_customers(struct metrics_buf *b, const struct metrics_snapshot *s)
{
	size_t *ix = NULL, n = 0;
	char (*lab)[METRICS_LABEL_MAX];

	if (metrics_select(s, &ix, &n) == -1)
		return -1;
	if ((lab = malloc((n ? n : 1) * sizeof(*lab))) == NULL) {
		free(ix);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		metrics_escape_label(s->customers[ix[i]].id, lab[i], sizeof(lab[i]));
	metrics_scalar(b, "gatewatch_customers", "gauge",
	    "Customers the operator has seen.", METRICS_U(s->n_customers));
	metrics_scalar(b, "gatewatch_metrics_customers_omitted", "gauge",
	    "Customers left out of this scrape by --metrics-max-customers.",
	    METRICS_U(s->n_customers - n));
	for (size_t k = 0; k < METRICS_NCUST_FAMILIES; k++) {
		const struct metrics_customer_family *f = &metrics_customer_families[k];
		metrics_family(b, f->name, f->type, f->help);
		for (size_t i = 0; i < n; i++) {
			struct metrics_value v = f->get(&s->customers[ix[i]]);
			if (v.kind == METRICS_ABSENT)
				continue;
			metrics_series(b, f->name, "customer", lab[i]);
			metrics_value_put(b, v);
		}
	}
	free(lab);
	free(ix);
	return 0;
}

/* ---- probes and the operator ---- */

typedef struct metrics_value (*metrics_probe_fn)(const struct live_probe_info *,
    double now);

static struct metrics_value
metrics_p_messages(const struct live_probe_info *p, double now)
{
	(void)now;
	return METRICS_U(p->messages);
}

static struct metrics_value
metrics_p_lost(const struct live_probe_info *p, double now)
{
	(void)now;
	return METRICS_U(p->lost);
}

static struct metrics_value
metrics_p_duplicates(const struct live_probe_info *p, double now)
{
	(void)now;
	return METRICS_U(p->duplicates);
}

static struct metrics_value
metrics_p_away(const struct live_probe_info *p, double now)
{
	(void)now;
	return METRICS_U(p->away);
}

static struct metrics_value
metrics_p_rejected(const struct live_probe_info *p, double now)
{
	(void)now;
	return METRICS_U(p->rejected);
}

static struct metrics_value
metrics_p_last_seen(const struct live_probe_info *p, double now)
{
	(void)now;
	return METRICS_D(p->last_seen);
}

static struct metrics_value
metrics_p_age(const struct live_probe_info *p, double now)
{
	return METRICS_D(now > p->last_seen ? now - p->last_seen : 0.0);
}

static struct metrics_value
metrics_p_customers(const struct live_probe_info *p, double now)
{
	(void)now;
	return METRICS_U(p->customers);
}

static const struct metrics_probe_family {
	const char *name, *type, *help;
	metrics_probe_fn get;
} metrics_probe_families[] = {
	{ "gatewatch_probe_messages_total", "counter",
	  "Envelopes accepted from the probe.", metrics_p_messages },
	{ "gatewatch_probe_lost_total", "counter",
	  "Envelopes of the probe lost on the way (sequence gaps).", metrics_p_lost },
	{ "gatewatch_probe_duplicates_total", "counter",
	  "Envelopes of the probe received twice.", metrics_p_duplicates },
	{ "gatewatch_probe_forwarded_elsewhere_total", "counter",
	  "Envelopes of the probe that went to other shards (failover), not lost.",
	  metrics_p_away },
	{ "gatewatch_probe_rejected_total", "counter",
	  "Envelopes of the probe refused.", metrics_p_rejected },
	{ "gatewatch_probe_last_seen_timestamp_seconds", "gauge",
	  "When the probe was last heard from (wall clock, s since the epoch).",
	  metrics_p_last_seen },
	{ "gatewatch_probe_last_seen_age_seconds", "gauge",
	  "Seconds since the probe was last heard from.", metrics_p_age },
	{ "gatewatch_probe_customers", "gauge",
	  "Customers in the probe's latest stats report.", metrics_p_customers },
};

static int
metrics_probes(struct metrics_buf *b, const struct metrics_snapshot *s)
{
	size_t n = s->n_probes;
	char (*lab)[METRICS_LABEL_MAX] = malloc((n ? n : 1) * sizeof(*lab));

	if (lab == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		metrics_escape_label(s->probes[i].id, lab[i], sizeof(lab[i]));
	for (size_t k = 0; k < sizeof(metrics_probe_families) /
	    sizeof(metrics_probe_families[0]); k++) {
		const struct metrics_probe_family *f = &metrics_probe_families[k];
		metrics_family(b, f->name, f->type, f->help);
		for (size_t i = 0; i < n; i++) {
			metrics_series(b, f->name, "probe", lab[i]);
			metrics_value_put(b, f->get(&s->probes[i], s->now));
		}
	}
	free(lab);
	return 0;
}

static void
metrics_operator(struct metrics_buf *b, const struct metrics_snapshot *s)
{
	const struct live_counters *c = &s->counters;
	static const char *const reasons[4] = { "garbage", "bad_frames",
	    "unknown_probe", "key_mismatch" };
	const uint64_t rej[4] = { c->garbage, c->bad_frames, c->unknown_probe,
	    c->key_mismatch };

	metrics_scalar(b, "gatewatch_envelopes_total", "counter",
	    "ZeroMQ messages received, valid or not.", METRICS_U(c->envelopes));
	metrics_scalar(b, "gatewatch_accepted_total", "counter",
	    "Envelopes decoded and accepted.", METRICS_U(c->accepted));
	metrics_family(b, "gatewatch_rejected_total", "counter",
	    "Envelopes refused, by reason.");
	for (int i = 0; i < 4; i++) {
		metrics_series(b, "gatewatch_rejected_total", "reason", reasons[i]);
		metrics_value_put(b, METRICS_U(rej[i]));
	}
	metrics_scalar(b, "gatewatch_lost_total", "counter",
	    "Envelopes lost on the way, all probes (sequence gaps).",
	    METRICS_U(c->lost));
	metrics_scalar(b, "gatewatch_rrd_updates_total", "counter",
	    "Successful RRD update commands.", METRICS_U(s->store.rrd_updates));
	metrics_scalar(b, "gatewatch_rrd_errors_total", "counter",
	    "Failed RRD update or create commands.", METRICS_U(s->store.rrd_errors));
	metrics_scalar(b, "gatewatch_rrd_queue_dropped_total", "counter",
	    "RRD steps dropped because the write queue was full.",
	    METRICS_U(s->store.queue_dropped));
	metrics_scalar(b, "gatewatch_rrd_queue_length", "gauge",
	    "RRD steps waiting to be written.", METRICS_U(s->store.queue_len));
	metrics_scalar(b, "gatewatch_rrdcached_up", "gauge",
	    "1 when the RRD writer is connected to rrdcached.",
	    METRICS_U(s->store.connected ? 1 : 0));
	metrics_scalar(b, "gatewatch_uptime_seconds", "gauge",
	    "Seconds since the operator started.",
	    METRICS_D(floor(s->uptime_s > 0 ? s->uptime_s : 0)));
}

int
metrics_render(const struct metrics_snapshot *s, char **out, size_t *len)
{
	struct metrics_buf b = { 0 };
	size_t est = 4096 + 160 * s->n_probes * 8 +
	    100 * METRICS_NCUST_FAMILIES * s->n_customers;

	*out = NULL;
	*len = 0;
	metrics_reserve(&b, est);
	metrics_operator(&b, s);
	if (metrics_customers(&b, s) == -1 || metrics_probes(&b, s) == -1 ||
	    !metrics_reserve(&b, 0)) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
