/* envelope.c: encode/decode gw_msg <-> protobuf Envelope; the only user of protobuf-c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "gatewatch.pb-c.h"

/*
 * Decoding allocates at most this many bytes per input byte (plus a fixed
 * slack), so a small hostile envelope full of empty sub-messages cannot make
 * protobuf-c allocate hundreds of megabytes. Legitimate envelopes within the
 * GW_*_MAX limits stay below ~28 bytes per input byte.
 */
#define ENV_ALLOC_PER_BYTE 32
#define ENV_ALLOC_SLACK    (1024 * 1024)

/* Field numbers of the Envelope oneof "body" (see proto/gatewatch.proto). */
#define ENV_BODY_FIRST 10
#define ENV_BODY_LAST  16

/* Where a failure reason goes. */
struct env_err {
	char  *buf;
	size_t len;
};

/* What a string field may contain. */
enum env_str_kind {
	ENV_ID,          /* gw_id_valid() */
	ENV_ID_OR_EMPTY, /* "" or gw_id_valid() */
	ENV_NAME,        /* UTF-8, no control characters */
	ENV_TEXT,        /* UTF-8, tab and newline allowed */
};

static int
env_fail(struct env_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
env_fail(struct env_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL && e->buf != NULL && e->len > 0) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- validation of the plain form (used before encoding and after decoding) ---- */

/* True when the size-byte field s is NUL-terminated and holds a kind string. */
static bool
env_str_ok(const char *s, size_t size, enum env_str_kind kind)
{
	if (memchr(s, '\0', size) == NULL)
		return false;
	switch (kind) {
	case ENV_ID:
		return gw_id_valid(s);
	case ENV_ID_OR_EMPTY:
		return s[0] == '\0' || gw_id_valid(s);
	case ENV_NAME:
		return gw_text_valid(s, false);
	default:
		return gw_text_valid(s, true);
	}
}

#define ENV_CHECK_STR(f, kind, name)					\
	do {								\
		if (!env_str_ok((f), sizeof(f), (kind)))		\
			return env_fail(e, "invalid string in %s", name); \
	} while (0)
#define ENV_CHECK_DBL(x, name)						\
	do {								\
		if (!isfinite(x))					\
			return env_fail(e, "non-finite number in %s", name); \
	} while (0)
#define ENV_CHECK_MAX(x, max, name)					\
	do {								\
		if ((x) > (max))					\
			return env_fail(e, "%s out of range", name);	\
	} while (0)

static int
env_check_hello(const struct gw_hello *h, struct env_err *e)
{
	size_t i;

	ENV_CHECK_STR(h->software, ENV_NAME, "hello.software");
	ENV_CHECK_STR(h->hostname, ENV_NAME, "hello.hostname");
	ENV_CHECK_STR(h->mode, ENV_NAME, "hello.mode");
	ENV_CHECK_DBL(h->start_ts, "hello.start_ts");
	ENV_CHECK_MAX(h->n_customers, GW_LIST_MAX, "hello.customers count");
	for (i = 0; i < h->n_customers; i++)
		ENV_CHECK_STR(h->customers[i], ENV_ID, "hello.customers");
	ENV_CHECK_MAX(h->n_away, GW_AWAY_MAX, "hello.away count");
	for (i = 0; i < h->n_away; i++)
		if (h->away[i].first > h->away[i].last)
			return env_fail(e, "hello.away: first after last");
	return 0;
}

static int
env_check_customer(const struct gw_customer_stats *c, struct env_err *e)
{
	size_t i;

	ENV_CHECK_STR(c->customer, ENV_ID, "stats.customer");
	ENV_CHECK_MAX(c->n_apps, GW_APPS_MAX, "stats.apps count");
	for (i = 0; i < c->n_apps; i++) {
		ENV_CHECK_STR(c->apps[i].app, ENV_NAME, "stats.apps.app");
		ENV_CHECK_STR(c->apps[i].category, ENV_NAME,
		    "stats.apps.category");
	}
	ENV_CHECK_DBL(c->rtp.jitter_ms_avg, "stats.rtp");
	ENV_CHECK_DBL(c->rtp.jitter_ms_max, "stats.rtp");
	ENV_CHECK_DBL(c->tcp.rtt_wan_ms_avg, "stats.tcp");
	ENV_CHECK_DBL(c->tcp.rtt_lan_ms_avg, "stats.tcp");
	ENV_CHECK_DBL(c->tcp.rtt_ms_p95, "stats.tcp");
	ENV_CHECK_DBL(c->dns.latency_ms_avg, "stats.dns");
	ENV_CHECK_DBL(c->dns.latency_ms_p95, "stats.dns");
	ENV_CHECK_DBL(c->udp.pps_avg, "stats.udp");
	ENV_CHECK_DBL(c->udp.iat_var_ms_avg, "stats.udp");
	return 0;
}

static int
env_check_stats(const struct gw_stats_report *s, struct env_err *e)
{
	size_t i;

	ENV_CHECK_DBL(s->ts, "stats.ts");
	ENV_CHECK_DBL(s->interval, "stats.interval");
	ENV_CHECK_DBL(s->health.cpu_pct, "stats.health.cpu_pct");
	ENV_CHECK_DBL(s->health.cgroup_cpu_pct, "stats.health.cgroup_cpu_pct");
	ENV_CHECK_MAX(s->n_customers, GW_CUSTOMERS_MAX, "stats.customers count");
	if (s->n_customers > 0 && s->customers == NULL)
		return env_fail(e, "stats.customers missing");
	for (i = 0; i < s->n_customers; i++) {
		if (env_check_customer(&s->customers[i], e) == -1)
			return -1;
	}
	return 0;
}

static int
env_check_event(const struct gw_event *v, struct env_err *e)
{
	size_t i;

	ENV_CHECK_DBL(v->ts, "event.ts");
	ENV_CHECK_STR(v->customer, ENV_ID_OR_EMPTY, "event.customer");
	ENV_CHECK_STR(v->kind, ENV_NAME, "event.kind");
	ENV_CHECK_STR(v->severity, ENV_NAME, "event.severity");
	ENV_CHECK_STR(v->src, ENV_NAME, "event.src");
	ENV_CHECK_STR(v->dst, ENV_NAME, "event.dst");
	ENV_CHECK_DBL(v->rate_pps, "event.rate_pps");
	ENV_CHECK_DBL(v->rate_bps, "event.rate_bps");
	ENV_CHECK_STR(v->direction, ENV_NAME, "event.direction");
	ENV_CHECK_MAX(v->ip_proto, 255u, "event.ip_proto");
	ENV_CHECK_MAX(v->dport, 65535u, "event.dport");
	ENV_CHECK_STR(v->detail, ENV_TEXT, "event.detail");
	ENV_CHECK_MAX(v->n_top_talkers, GW_LIST_MAX, "event.top_talkers count");
	for (i = 0; i < v->n_top_talkers; i++)
		ENV_CHECK_STR(v->top_talkers[i], ENV_NAME, "event.top_talkers");
	return 0;
}

static int
env_check_flow(const struct gw_flow_record *f, struct env_err *e)
{
	ENV_CHECK_STR(f->customer, ENV_ID_OR_EMPTY, "flow.customer");
	ENV_CHECK_DBL(f->first_ts, "flow.first_ts");
	ENV_CHECK_DBL(f->last_ts, "flow.last_ts");
	ENV_CHECK_MAX(f->ip_proto, 255u, "flow.ip_proto");
	ENV_CHECK_STR(f->src, ENV_NAME, "flow.src");
	ENV_CHECK_STR(f->dst, ENV_NAME, "flow.dst");
	ENV_CHECK_MAX(f->sport, 65535u, "flow.sport");
	ENV_CHECK_MAX(f->dport, 65535u, "flow.dport");
	ENV_CHECK_STR(f->app, ENV_NAME, "flow.app");
	ENV_CHECK_STR(f->category, ENV_NAME, "flow.category");
	ENV_CHECK_STR(f->end_reason, ENV_NAME, "flow.end_reason");
	ENV_CHECK_DBL(f->rtt_wan_ms, "flow.rtt_wan_ms");
	ENV_CHECK_DBL(f->rtt_lan_ms, "flow.rtt_lan_ms");
	ENV_CHECK_DBL(f->jitter_ms, "flow.jitter_ms");
	return 0;
}

static int
env_check_command(const struct gw_command *c, struct env_err *e)
{
	ENV_CHECK_STR(c->kind, ENV_NAME, "command.kind");
	ENV_CHECK_STR(c->address, ENV_NAME, "command.address");
	ENV_CHECK_MAX(c->prefix_len, 128u, "command.prefix_len");
	ENV_CHECK_STR(c->key, ENV_NAME, "command.key");
	ENV_CHECK_DBL(c->value, "command.value");
	ENV_CHECK_STR(c->reason, ENV_TEXT, "command.reason");
	return 0;
}

static int
env_check_result(const struct gw_command_result *r, struct env_err *e)
{
	size_t i;

	ENV_CHECK_STR(r->message, ENV_TEXT, "result.message");
	ENV_CHECK_MAX(r->n_entries, GW_LIST_MAX, "result.entries count");
	for (i = 0; i < r->n_entries; i++)
		ENV_CHECK_STR(r->entries[i], ENV_TEXT, "result.entries");
	return 0;
}

/* Checks every rule of the wire contract on the plain form. */
static int
env_check(const struct gw_msg *m, struct env_err *e)
{
	ENV_CHECK_STR(m->probe_id, ENV_ID, "probe_id");
	ENV_CHECK_DBL(m->sent_ts, "sent_ts");
	switch (m->type) {
	case GW_BODY_HELLO:     return env_check_hello(&m->u.hello, e);
	case GW_BODY_STATS:     return env_check_stats(&m->u.stats, e);
	case GW_BODY_EVENT:     return env_check_event(&m->u.event, e);
	case GW_BODY_FLOW:      return env_check_flow(&m->u.flow, e);
	case GW_BODY_COMMAND:   return env_check_command(&m->u.command, e);
	case GW_BODY_RESULT:    return env_check_result(&m->u.result, e);
	case GW_BODY_HEARTBEAT:
		ENV_CHECK_DBL(m->u.heartbeat.ts, "heartbeat.ts");
		return 0;
	default:
		return env_fail(e, "no body");
	}
}

/* ---- encoding: protobuf-c structs point into the gw_msg, no string copies ---- */

/* Strings are only read by protobuf-c's packer; the cast drops const for its API. */
#define ENV_S(field) ((char *)(uintptr_t)(field))

/* Bodies live on the caller's stack for the duration of one encode. */
struct env_enc {
	union {
		Gatewatch__Hello         hello;
		Gatewatch__StatsReport   stats;
		Gatewatch__Event         event;
		Gatewatch__FlowRecord    flow;
		Gatewatch__Command       command;
		Gatewatch__CommandResult result;
		Gatewatch__Heartbeat     heartbeat;
	} b;
	Gatewatch__ProbeHealth health;
	char *list[GW_LIST_MAX];
	Gatewatch__SeqRange away[GW_AWAY_MAX];
	Gatewatch__SeqRange *awayp[GW_AWAY_MAX];
	void *arena;	/* stats: one allocation for every customer */
};

static void
env_enc_hello(const struct gw_hello *h, struct env_enc *x,
    Gatewatch__Envelope *env)
{
	Gatewatch__Hello *p = &x->b.hello;
	size_t i;

	gatewatch__hello__init(p);
	p->software = ENV_S(h->software);
	p->hostname = ENV_S(h->hostname);
	p->start_ts = h->start_ts;
	p->interval_ms = h->interval_ms;
	p->mode = ENV_S(h->mode);
	for (i = 0; i < h->n_customers; i++)
		x->list[i] = ENV_S(h->customers[i]);
	p->n_customers = h->n_customers;
	p->customers = x->list;
	for (i = 0; i < h->n_away && i < GW_AWAY_MAX; i++) {
		gatewatch__seq_range__init(&x->away[i]);
		x->away[i].first = h->away[i].first;
		x->away[i].last = h->away[i].last;
		x->awayp[i] = &x->away[i];
	}
	p->n_away = i;
	p->away = i > 0 ? x->awayp : NULL;
	env->body_case = GATEWATCH__ENVELOPE__BODY_HELLO;
	env->hello = p;
}

/* Points the sub-messages of one customer at c's fields. */
struct env_cs_block {
	Gatewatch__CustomerStats cs;
	Gatewatch__RtpSummary    rtp;
	Gatewatch__TcpSummary    tcp;
	Gatewatch__DnsSummary    dns;
	Gatewatch__UdpSummary    udp;
};

static void
env_enc_customer(const struct gw_customer_stats *c, struct env_cs_block *blk,
    Gatewatch__AppBytes *apps, Gatewatch__AppBytes **app_ptrs)
{
	Gatewatch__CustomerStats *cs = &blk->cs;
	size_t i;

	*cs = (Gatewatch__CustomerStats)GATEWATCH__CUSTOMER_STATS__INIT;
	cs->customer = ENV_S(c->customer);
	cs->rx_bytes = c->rx_bytes;
	cs->tx_bytes = c->tx_bytes;
	cs->rx_packets = c->rx_packets;
	cs->tx_packets = c->tx_packets;
	cs->flows_active = c->flows_active;
	cs->flows_new = c->flows_new;
	cs->shed_packets = c->shed_packets;
	for (i = 0; i < c->n_apps; i++) {
		apps[i] = (Gatewatch__AppBytes)GATEWATCH__APP_BYTES__INIT;
		apps[i].app = ENV_S(c->apps[i].app);
		apps[i].category = ENV_S(c->apps[i].category);
		apps[i].rx_bytes = c->apps[i].rx_bytes;
		apps[i].tx_bytes = c->apps[i].tx_bytes;
		app_ptrs[i] = &apps[i];
	}
	cs->n_apps = c->n_apps;
	cs->apps = c->n_apps > 0 ? app_ptrs : NULL;
	blk->rtp = (Gatewatch__RtpSummary)GATEWATCH__RTP_SUMMARY__INIT;
	blk->rtp.streams = c->rtp.streams;
	blk->rtp.packets_expected = c->rtp.packets_expected;
	blk->rtp.packets_lost = c->rtp.packets_lost;
	blk->rtp.jitter_ms_avg = c->rtp.jitter_ms_avg;
	blk->rtp.jitter_ms_max = c->rtp.jitter_ms_max;
	blk->rtp.packets = c->rtp.packets;
	cs->rtp = &blk->rtp;
	blk->tcp = (Gatewatch__TcpSummary)GATEWATCH__TCP_SUMMARY__INIT;
	blk->tcp.handshakes = c->tcp.handshakes;
	blk->tcp.rtt_wan_ms_avg = c->tcp.rtt_wan_ms_avg;
	blk->tcp.rtt_lan_ms_avg = c->tcp.rtt_lan_ms_avg;
	blk->tcp.rtt_ms_p95 = c->tcp.rtt_ms_p95;
	blk->tcp.retransmits = c->tcp.retransmits;
	blk->tcp.segments = c->tcp.segments;
	blk->tcp.out_of_order = c->tcp.out_of_order;
	cs->tcp = &blk->tcp;
	blk->dns = (Gatewatch__DnsSummary)GATEWATCH__DNS_SUMMARY__INIT;
	blk->dns.queries = c->dns.queries;
	blk->dns.responses = c->dns.responses;
	blk->dns.failures = c->dns.failures;
	blk->dns.latency_ms_avg = c->dns.latency_ms_avg;
	blk->dns.latency_ms_p95 = c->dns.latency_ms_p95;
	blk->dns.timeouts = c->dns.timeouts;
	cs->dns = &blk->dns;
	blk->udp = (Gatewatch__UdpSummary)GATEWATCH__UDP_SUMMARY__INIT;
	blk->udp.streams = c->udp.streams;
	blk->udp.pps_avg = c->udp.pps_avg;
	blk->udp.iat_var_ms_avg = c->udp.iat_var_ms_avg;
	cs->udp = &blk->udp;
}

static void
env_enc_health(const struct gw_health *h, Gatewatch__ProbeHealth *p)
{
	gatewatch__probe_health__init(p);
	p->cpu_pct = h->cpu_pct;
	p->rss_bytes = h->rss_bytes;
	p->pcap_received = h->pcap_received;
	p->pcap_dropped = h->pcap_dropped;
	p->pcap_if_dropped = h->pcap_if_dropped;
	p->queue_dropped = h->queue_dropped;
	p->decode_errors = h->decode_errors;
	p->non_ip = h->non_ip;
	p->flows_evicted = h->flows_evicted;
	p->cgroup_cpu_pct = h->cgroup_cpu_pct;
	p->cgroup_mem_bytes = h->cgroup_mem_bytes;
	p->flows_active = h->flows_active;
	p->shed_budget_pps = h->shed_budget_pps;
}

/*
 * Builds the StatsReport with one arena allocation holding every customer's
 * structs and pointer arrays (thousands of customers per report). Returns -1
 * when out of memory.
 */
static int
env_enc_stats(const struct gw_stats_report *s, struct env_enc *x,
    Gatewatch__Envelope *env)
{
	Gatewatch__StatsReport *p = &x->b.stats;
	Gatewatch__CustomerStats **cs_ptrs;
	Gatewatch__AppBytes **app_ptrs, *apps;
	struct env_cs_block *blocks;
	size_t i, n = s->n_customers, n_apps = 0, size;
	char *a;

	for (i = 0; i < n; i++)
		n_apps += s->customers[i].n_apps;
	size = n * (sizeof(*cs_ptrs) + sizeof(*blocks)) +
	    n_apps * (sizeof(*app_ptrs) + sizeof(*apps));
	if ((x->arena = malloc(size > 0 ? size : 1)) == NULL)
		return -1;
	a = x->arena;
	/* Struct arrays first (8-byte aligned types), pointer arrays after. */
	blocks = (struct env_cs_block *)(void *)a;
	apps = (Gatewatch__AppBytes *)(void *)(a + n * sizeof(*blocks));
	cs_ptrs = (Gatewatch__CustomerStats **)(void *)(a + n * sizeof(*blocks) +
	    n_apps * sizeof(*apps));
	app_ptrs = (Gatewatch__AppBytes **)(cs_ptrs + n);
	for (i = 0; i < n; i++) {
		env_enc_customer(&s->customers[i], &blocks[i], apps, app_ptrs);
		apps += s->customers[i].n_apps;
		app_ptrs += s->customers[i].n_apps;
		cs_ptrs[i] = &blocks[i].cs;
	}
	gatewatch__stats_report__init(p);
	p->ts = s->ts;
	p->interval = s->interval;
	p->n_customers = n;
	p->customers = n > 0 ? cs_ptrs : NULL;
	env_enc_health(&s->health, &x->health);
	p->health = &x->health;
	env->body_case = GATEWATCH__ENVELOPE__BODY_STATS;
	env->stats = p;
	return 0;
}

static void
env_enc_event(const struct gw_event *v, struct env_enc *x,
    Gatewatch__Envelope *env)
{
	Gatewatch__Event *p = &x->b.event;
	size_t i;

	gatewatch__event__init(p);
	p->ts = v->ts;
	p->customer = ENV_S(v->customer);
	p->kind = ENV_S(v->kind);
	p->severity = ENV_S(v->severity);
	p->src = ENV_S(v->src);
	p->dst = ENV_S(v->dst);
	p->rate_pps = v->rate_pps;
	p->rate_bps = v->rate_bps;
	p->direction = ENV_S(v->direction);
	p->cleared = v->cleared;
	p->ip_proto = v->ip_proto;
	p->dport = v->dport;
	p->detail = ENV_S(v->detail);
	for (i = 0; i < v->n_top_talkers; i++)
		x->list[i] = ENV_S(v->top_talkers[i]);
	p->n_top_talkers = v->n_top_talkers;
	p->top_talkers = x->list;
	env->body_case = GATEWATCH__ENVELOPE__BODY_EVENT;
	env->event = p;
}

static void
env_enc_flow(const struct gw_flow_record *f, struct env_enc *x,
    Gatewatch__Envelope *env)
{
	Gatewatch__FlowRecord *p = &x->b.flow;

	gatewatch__flow_record__init(p);
	p->customer = ENV_S(f->customer);
	p->first_ts = f->first_ts;
	p->last_ts = f->last_ts;
	p->ip_proto = f->ip_proto;
	p->src = ENV_S(f->src);
	p->dst = ENV_S(f->dst);
	p->sport = f->sport;
	p->dport = f->dport;
	p->vlan = f->vlan;
	p->app = ENV_S(f->app);
	p->category = ENV_S(f->category);
	p->rx_bytes = f->rx_bytes;
	p->tx_bytes = f->tx_bytes;
	p->rx_packets = f->rx_packets;
	p->tx_packets = f->tx_packets;
	p->end_reason = ENV_S(f->end_reason);
	p->rtt_wan_ms = f->rtt_wan_ms;
	p->rtt_lan_ms = f->rtt_lan_ms;
	p->retransmits = f->retransmits;
	p->jitter_ms = f->jitter_ms;
	p->rtp_lost = f->rtp_lost;
	env->body_case = GATEWATCH__ENVELOPE__BODY_FLOW;
	env->flow = p;
}

static void
env_enc_command(const struct gw_command *c, struct env_enc *x,
    Gatewatch__Envelope *env)
{
	Gatewatch__Command *p = &x->b.command;

	gatewatch__command__init(p);
	p->id = c->id;
	p->kind = ENV_S(c->kind);
	p->address = ENV_S(c->address);
	p->prefix_len = c->prefix_len;
	p->timeout_s = c->timeout_s;
	p->key = ENV_S(c->key);
	p->value = c->value;
	p->reason = ENV_S(c->reason);
	env->body_case = GATEWATCH__ENVELOPE__BODY_COMMAND;
	env->command = p;
}

static void
env_enc_result(const struct gw_command_result *r, struct env_enc *x,
    Gatewatch__Envelope *env)
{
	Gatewatch__CommandResult *p = &x->b.result;
	size_t i;

	gatewatch__command_result__init(p);
	p->id = r->id;
	p->ok = r->ok;
	p->message = ENV_S(r->message);
	for (i = 0; i < r->n_entries; i++)
		x->list[i] = ENV_S(r->entries[i]);
	p->n_entries = r->n_entries;
	p->entries = x->list;
	env->body_case = GATEWATCH__ENVELOPE__BODY_RESULT;
	env->result = p;
}

/* Fills env's body from m (already checked); -1 when out of memory. */
static int
env_enc_body(const struct gw_msg *m, struct env_enc *x, Gatewatch__Envelope *env)
{
	switch (m->type) {
	case GW_BODY_HELLO:   env_enc_hello(&m->u.hello, x, env); break;
	case GW_BODY_STATS:   return env_enc_stats(&m->u.stats, x, env);
	case GW_BODY_EVENT:   env_enc_event(&m->u.event, x, env); break;
	case GW_BODY_FLOW:    env_enc_flow(&m->u.flow, x, env); break;
	case GW_BODY_COMMAND: env_enc_command(&m->u.command, x, env); break;
	case GW_BODY_RESULT:  env_enc_result(&m->u.result, x, env); break;
	default:
		gatewatch__heartbeat__init(&x->b.heartbeat);
		x->b.heartbeat.ts = m->u.heartbeat.ts;
		x->b.heartbeat.leaving = m->u.heartbeat.leaving;
		env->body_case = GATEWATCH__ENVELOPE__BODY_HEARTBEAT;
		env->heartbeat = &x->b.heartbeat;
		break;
	}
	return 0;
}

int
envelope_encode(const struct gw_msg *m, uint8_t **out, size_t *len)
{
	Gatewatch__Envelope env = GATEWATCH__ENVELOPE__INIT;
	struct env_enc x;
	uint8_t *buf = NULL;
	size_t size;
	int rc = -1;

	if (m == NULL || out == NULL || len == NULL ||
	    env_check(m, NULL) == -1)
		return -1;
	x.arena = NULL;
	env.version = m->version != 0 ? m->version : GW_PROTO_VERSION;
	env.probe_id = ENV_S(m->probe_id);
	env.seq = m->seq;
	env.sent_ts = m->sent_ts;
	if (env_enc_body(m, &x, &env) == -1)
		goto done;
	size = gatewatch__envelope__get_packed_size(&env);
	if (size > GW_ENVELOPE_MAX || (buf = malloc(size > 0 ? size : 1)) == NULL)
		goto done;
	if (gatewatch__envelope__pack(&env, buf) != size) {
		free(buf);
		goto done;
	}
	*out = buf;
	*len = size;
	rc = 0;
done:
	free(x.arena);
	return rc;
}

/* ---- decoding: hostile input ---- */

/* A protobuf-c allocator with a budget; see ENV_ALLOC_PER_BYTE. */
struct env_budget {
	size_t used;
	size_t limit;
};

static void *
env_budget_alloc(void *data, size_t size)
{
	struct env_budget *b = data;

	if (size > b->limit - b->used)
		return NULL;
	b->used += size;
	return malloc(size);
}

static void
env_budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

/* Reads a varint at buf[*off]; -1 when truncated or longer than 10 bytes. */
static int
env_varint(const uint8_t *buf, size_t len, size_t *off, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift;

	for (shift = 0; shift < 70; shift += 7) {
		if (*off >= len)
			return -1;
		v |= (uint64_t)(buf[*off] & 0x7f) << (shift < 64 ? shift : 0);
		if ((buf[(*off)++] & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

/*
 * Walks the top-level fields of an Envelope and counts body fields, because
 * protobuf-c silently keeps the last of several oneof members. Only the
 * counting is done here; protobuf-c does the full parse afterwards.
 */
static int
env_count_bodies(const uint8_t *buf, size_t len, int *bodies)
{
	size_t off = 0;
	uint64_t key, v;

	*bodies = 0;
	while (off < len) {
		if (env_varint(buf, len, &off, &key) == -1)
			return -1;
		if ((key >> 3) >= ENV_BODY_FIRST && (key >> 3) <= ENV_BODY_LAST)
			(*bodies)++;
		switch (key & 7) {
		case 0:
			if (env_varint(buf, len, &off, &v) == -1)
				return -1;
			break;
		case 1:
			if (len - off < 8)
				return -1;
			off += 8;
			break;
		case 2:
			if (env_varint(buf, len, &off, &v) == -1 || v > len - off)
				return -1;
			off += (size_t)v;
			break;
		case 5:
			if (len - off < 4)
				return -1;
			off += 4;
			break;
		default:
			return -1;	/* groups are not used by proto3 */
		}
	}
	return 0;
}

/* Copies NUL-terminated src into dst (size bytes); -1 if it doesn't fit. */
static int
env_copy(char *dst, size_t size, const char *src)
{
	size_t n;

	if (src == NULL)
		src = "";
	n = strlen(src);
	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

#define ENV_COPY(dst, src, name)					\
	do {								\
		if (env_copy((dst), sizeof(dst), (src)) == -1)		\
			return env_fail(e, "string too long in %s", name); \
	} while (0)

static int
env_dec_hello(const Gatewatch__Hello *p, struct gw_hello *h, struct env_err *e)
{
	size_t i;

	ENV_COPY(h->software, p->software, "hello.software");
	ENV_COPY(h->hostname, p->hostname, "hello.hostname");
	h->start_ts = p->start_ts;
	h->interval_ms = p->interval_ms;
	ENV_COPY(h->mode, p->mode, "hello.mode");
	if (p->n_customers > GW_LIST_MAX)
		return env_fail(e, "too many hello.customers (%zu)",
		    p->n_customers);
	for (i = 0; i < p->n_customers; i++)
		ENV_COPY(h->customers[i], p->customers[i], "hello.customers");
	h->n_customers = p->n_customers;
	if (p->n_away > GW_AWAY_MAX)
		return env_fail(e, "too many hello.away ranges (%zu)", p->n_away);
	for (i = 0; i < p->n_away; i++) {
		if (p->away[i] == NULL || p->away[i]->first > p->away[i]->last)
			return env_fail(e, "hello.away: bad range");
		h->away[i].first = p->away[i]->first;
		h->away[i].last = p->away[i]->last;
	}
	h->n_away = p->n_away;
	return 0;
}

static void
env_dec_quality(const Gatewatch__CustomerStats *p, struct gw_customer_stats *c)
{
	if (p->rtp != NULL) {
		c->rtp.streams = p->rtp->streams;
		c->rtp.packets_expected = p->rtp->packets_expected;
		c->rtp.packets_lost = p->rtp->packets_lost;
		c->rtp.jitter_ms_avg = p->rtp->jitter_ms_avg;
		c->rtp.jitter_ms_max = p->rtp->jitter_ms_max;
		c->rtp.packets = p->rtp->packets;
	}
	if (p->tcp != NULL) {
		c->tcp.handshakes = p->tcp->handshakes;
		c->tcp.rtt_wan_ms_avg = p->tcp->rtt_wan_ms_avg;
		c->tcp.rtt_lan_ms_avg = p->tcp->rtt_lan_ms_avg;
		c->tcp.rtt_ms_p95 = p->tcp->rtt_ms_p95;
		c->tcp.retransmits = p->tcp->retransmits;
		c->tcp.segments = p->tcp->segments;
		c->tcp.out_of_order = p->tcp->out_of_order;
	}
	if (p->dns != NULL) {
		c->dns.queries = p->dns->queries;
		c->dns.responses = p->dns->responses;
		c->dns.failures = p->dns->failures;
		c->dns.latency_ms_avg = p->dns->latency_ms_avg;
		c->dns.latency_ms_p95 = p->dns->latency_ms_p95;
		c->dns.timeouts = p->dns->timeouts;
	}
	if (p->udp != NULL) {
		c->udp.streams = p->udp->streams;
		c->udp.pps_avg = p->udp->pps_avg;
		c->udp.iat_var_ms_avg = p->udp->iat_var_ms_avg;
	}
}

/* Fills c (zeroed by the caller) from p. */
static int
env_dec_customer(const Gatewatch__CustomerStats *p, struct gw_customer_stats *c,
    struct env_err *e)
{
	size_t i;

	ENV_COPY(c->customer, p->customer, "stats.customer");
	c->rx_bytes = p->rx_bytes;
	c->tx_bytes = p->tx_bytes;
	c->rx_packets = p->rx_packets;
	c->tx_packets = p->tx_packets;
	c->flows_active = p->flows_active;
	c->flows_new = p->flows_new;
	c->shed_packets = p->shed_packets;
	if (p->n_apps > GW_APPS_MAX)
		return env_fail(e, "too many apps for %s (%zu)", c->customer,
		    p->n_apps);
	for (i = 0; i < p->n_apps; i++) {
		ENV_COPY(c->apps[i].app, p->apps[i]->app, "stats.apps.app");
		ENV_COPY(c->apps[i].category, p->apps[i]->category,
		    "stats.apps.category");
		c->apps[i].rx_bytes = p->apps[i]->rx_bytes;
		c->apps[i].tx_bytes = p->apps[i]->tx_bytes;
	}
	c->n_apps = p->n_apps;
	env_dec_quality(p, c);
	return 0;
}

static void
env_dec_health(const Gatewatch__ProbeHealth *p, struct gw_health *h)
{
	if (p == NULL) {
		h->cgroup_cpu_pct = -1;
		return;
	}
	h->cpu_pct = p->cpu_pct;
	h->rss_bytes = p->rss_bytes;
	h->pcap_received = p->pcap_received;
	h->pcap_dropped = p->pcap_dropped;
	h->pcap_if_dropped = p->pcap_if_dropped;
	h->queue_dropped = p->queue_dropped;
	h->decode_errors = p->decode_errors;
	h->non_ip = p->non_ip;
	h->flows_evicted = p->flows_evicted;
	h->cgroup_cpu_pct = p->cgroup_cpu_pct;
	h->cgroup_mem_bytes = p->cgroup_mem_bytes;
	h->flows_active = p->flows_active;
	h->shed_budget_pps = p->shed_budget_pps;
}

/* On failure s->customers may be allocated; gw_msg_clear() releases it. */
static int
env_dec_stats(const Gatewatch__StatsReport *p, struct gw_stats_report *s,
    struct env_err *e)
{
	size_t i;

	s->ts = p->ts;
	s->interval = p->interval;
	env_dec_health(p->health, &s->health);
	if (p->n_customers > GW_CUSTOMERS_MAX)
		return env_fail(e, "too many customers (%zu)", p->n_customers);
	if (p->n_customers == 0)
		return 0;
	s->customers = calloc(p->n_customers, sizeof(*s->customers));
	if (s->customers == NULL)
		return env_fail(e, "out of memory");
	s->n_customers = p->n_customers;
	for (i = 0; i < p->n_customers; i++) {
		if (env_dec_customer(p->customers[i], &s->customers[i], e) == -1)
			return -1;
	}
	return 0;
}

static int
env_dec_event(const Gatewatch__Event *p, struct gw_event *v, struct env_err *e)
{
	size_t i;

	v->ts = p->ts;
	ENV_COPY(v->customer, p->customer, "event.customer");
	ENV_COPY(v->kind, p->kind, "event.kind");
	ENV_COPY(v->severity, p->severity, "event.severity");
	ENV_COPY(v->src, p->src, "event.src");
	ENV_COPY(v->dst, p->dst, "event.dst");
	v->rate_pps = p->rate_pps;
	v->rate_bps = p->rate_bps;
	ENV_COPY(v->direction, p->direction, "event.direction");
	v->cleared = p->cleared != 0;
	v->ip_proto = p->ip_proto;
	v->dport = p->dport;
	ENV_COPY(v->detail, p->detail, "event.detail");
	if (p->n_top_talkers > GW_LIST_MAX)
		return env_fail(e, "too many event.top_talkers (%zu)",
		    p->n_top_talkers);
	for (i = 0; i < p->n_top_talkers; i++)
		ENV_COPY(v->top_talkers[i], p->top_talkers[i],
		    "event.top_talkers");
	v->n_top_talkers = p->n_top_talkers;
	return 0;
}

static int
env_dec_flow(const Gatewatch__FlowRecord *p, struct gw_flow_record *f,
    struct env_err *e)
{
	ENV_COPY(f->customer, p->customer, "flow.customer");
	f->first_ts = p->first_ts;
	f->last_ts = p->last_ts;
	f->ip_proto = p->ip_proto;
	ENV_COPY(f->src, p->src, "flow.src");
	ENV_COPY(f->dst, p->dst, "flow.dst");
	f->sport = p->sport;
	f->dport = p->dport;
	f->vlan = p->vlan;
	ENV_COPY(f->app, p->app, "flow.app");
	ENV_COPY(f->category, p->category, "flow.category");
	f->rx_bytes = p->rx_bytes;
	f->tx_bytes = p->tx_bytes;
	f->rx_packets = p->rx_packets;
	f->tx_packets = p->tx_packets;
	ENV_COPY(f->end_reason, p->end_reason, "flow.end_reason");
	f->rtt_wan_ms = p->rtt_wan_ms;
	f->rtt_lan_ms = p->rtt_lan_ms;
	f->retransmits = p->retransmits;
	f->jitter_ms = p->jitter_ms;
	f->rtp_lost = p->rtp_lost;
	return 0;
}

static int
env_dec_command(const Gatewatch__Command *p, struct gw_command *c,
    struct env_err *e)
{
	c->id = p->id;
	ENV_COPY(c->kind, p->kind, "command.kind");
	ENV_COPY(c->address, p->address, "command.address");
	c->prefix_len = p->prefix_len;
	c->timeout_s = p->timeout_s;
	ENV_COPY(c->key, p->key, "command.key");
	c->value = p->value;
	ENV_COPY(c->reason, p->reason, "command.reason");
	return 0;
}

static int
env_dec_result(const Gatewatch__CommandResult *p, struct gw_command_result *r,
    struct env_err *e)
{
	size_t i;

	r->id = p->id;
	r->ok = p->ok != 0;
	ENV_COPY(r->message, p->message, "result.message");
	if (p->n_entries > GW_LIST_MAX)
		return env_fail(e, "too many result.entries (%zu)", p->n_entries);
	for (i = 0; i < p->n_entries; i++)
		ENV_COPY(r->entries[i], p->entries[i], "result.entries");
	r->n_entries = p->n_entries;
	return 0;
}

/* Converts the body of env into m (m->type set first, for gw_msg_clear()). */
static int
env_dec_body(const Gatewatch__Envelope *env, struct gw_msg *m, struct env_err *e)
{
	switch (env->body_case) {
	case GATEWATCH__ENVELOPE__BODY_HELLO:
		m->type = GW_BODY_HELLO;
		return env_dec_hello(env->hello, &m->u.hello, e);
	case GATEWATCH__ENVELOPE__BODY_STATS:
		m->type = GW_BODY_STATS;
		return env_dec_stats(env->stats, &m->u.stats, e);
	case GATEWATCH__ENVELOPE__BODY_EVENT:
		m->type = GW_BODY_EVENT;
		return env_dec_event(env->event, &m->u.event, e);
	case GATEWATCH__ENVELOPE__BODY_FLOW:
		m->type = GW_BODY_FLOW;
		return env_dec_flow(env->flow, &m->u.flow, e);
	case GATEWATCH__ENVELOPE__BODY_COMMAND:
		m->type = GW_BODY_COMMAND;
		return env_dec_command(env->command, &m->u.command, e);
	case GATEWATCH__ENVELOPE__BODY_RESULT:
		m->type = GW_BODY_RESULT;
		return env_dec_result(env->result, &m->u.result, e);
	case GATEWATCH__ENVELOPE__BODY_HEARTBEAT:
		m->type = GW_BODY_HEARTBEAT;
		m->u.heartbeat.ts = env->heartbeat->ts;
		m->u.heartbeat.leaving = env->heartbeat->leaving;
		return 0;
	default:
		return env_fail(e, "no body");
	}
}

/* Unpacks and converts; m was zeroed by the caller. */
static int
env_decode(const uint8_t *buf, size_t len, struct gw_msg *m, struct env_err *e)
{
	struct env_budget budget = { 0, ENV_ALLOC_SLACK + ENV_ALLOC_PER_BYTE * len };
	ProtobufCAllocator alloc = { env_budget_alloc, env_budget_free, &budget };
	Gatewatch__Envelope *env;
	int bodies, rc;

	if (len > GW_ENVELOPE_MAX)
		return env_fail(e, "envelope too large (%zu bytes)", len);
	if (env_count_bodies(buf, len, &bodies) == -1)
		return env_fail(e, "malformed protobuf");
	if (bodies != 1)
		return env_fail(e, bodies == 0 ? "no body" : "more than one body");
	env = gatewatch__envelope__unpack(&alloc, len, buf);
	if (env == NULL)
		return env_fail(e, budget.used + 4096 > budget.limit ?
		    "envelope needs too much memory" : "malformed protobuf");
	rc = -1;
	if (env->version != GW_PROTO_VERSION)
		env_fail(e, "unsupported version %u", env->version);
	else if (env_copy(m->probe_id, sizeof(m->probe_id), env->probe_id) == -1)
		env_fail(e, "probe id too long");
	else {
		m->version = env->version;
		m->seq = env->seq;
		m->sent_ts = env->sent_ts;
		rc = env_dec_body(env, m, e);
	}
	gatewatch__envelope__free_unpacked(env, &alloc);
	return rc;
}

int
envelope_decode(const uint8_t *buf, size_t len, struct gw_msg *m,
    char *err, size_t errlen)
{
	struct env_err e = { err, errlen };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (m == NULL)
		return -1;
	memset(m, 0, sizeof(*m));
	if (buf == NULL && len > 0)
		return env_fail(&e, "no buffer");
	if (env_decode(buf, len, m, &e) == 0 && env_check(m, &e) == 0)
		return 0;
	gw_msg_clear(m);
	return -1;
}

void
gw_msg_clear(struct gw_msg *m)
{
	if (m == NULL)
		return;
	if (m->type == GW_BODY_STATS)
		free(m->u.stats.customers);
	memset(m, 0, sizeof(*m));
}
