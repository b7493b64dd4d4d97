/* detect.c: per-customer anomaly detectors (floods, inter-customer, unusual ports, spikes), thresholds and the alarm life cycle on fixed-size sketches. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect_int.h"
#include "log.h"

static const char *const kind_names[K_MAX] = {
	"syn_flood", "udp_flood", "icmp_flood", "port_scan", "host_sweep",
	"inter_customer", "unusual_port", "traffic_spike", "slow_scan",
	"covert_channel", "dns_tunnel",
};
static const char *const kind_severity[K_MAX] = {
	"high", "high", "high", "medium", "medium", "medium", "low", "medium",
	"medium", "medium", "medium",
};
static const char *const dir_names[2] = { "rx", "tx" };

/* ---------- thresholds ---------- */

static void detect_defaults(struct det_thresholds *t)
{
	int dir;

	for (dir = 0; dir < 2; dir++) {
		t->flood_pps[CLS_SYN][dir] = 2000;
		t->flood_bps[CLS_SYN][dir] = 50e6;
		t->flood_pps[CLS_UDP][dir] = 50000;
		t->flood_bps[CLS_UDP][dir] = 500e6;
		t->flood_pps[CLS_ICMP][dir] = 2000;
		t->flood_bps[CLS_ICMP][dir] = 20e6;
	}
	t->scan_ports = 100;
	t->sweep_hosts = 64;
	t->inter_pps = 1;
	t->unusual_pps = 10;
	t->unusual_enabled = 1;
	t->spike_factor = 5;
	t->spike_min_bps = 20e6;
	t->spike_warmup_s = 60;
	t->clear_fraction = 0.5;
	t->clear_s = 2;
	t->holddown_s = 10;
	t->slow_failures = 15;
	t->covert_score = 10;
	t->dns_queries = 20;
}

struct key_def {
	const char *name;
	double min, max;
};

static const struct key_def scalar_keys[] = {
	{ "port_scan.ports", 2, 65536 },
	{ "host_sweep.hosts", 2, 1e9 },
	{ "inter_customer.pps", 0, 1e9 },
	{ "unusual_port.pps", 0, 1e9 },
	{ "unusual_port.enabled", 0, 1 },
	{ "spike.factor", 1.1, 1e6 },
	{ "spike.min_bps", 0, 1e13 },
	{ "spike.warmup_s", 2, 1e6 },
	{ "hysteresis.clear_fraction", 0.01, 1 },
	{ "hysteresis.clear_s", 0.1, 3600 },
	{ "hysteresis.holddown_s", 0, 86400 },
	{ "slow_scan.failures", 0, 65536 },
	{ "covert.score", 0, 1e6 },
	{ "dns_tunnel.queries", 0, 1e6 },
};

static double *scalar_ptr(struct det_thresholds *t, size_t i)
{
	double *p[] = {
		&t->scan_ports, &t->sweep_hosts, &t->inter_pps, &t->unusual_pps,
		&t->unusual_enabled, &t->spike_factor, &t->spike_min_bps,
		&t->spike_warmup_s, &t->clear_fraction, &t->clear_s, &t->holddown_s,
		&t->slow_failures, &t->covert_score, &t->dns_queries,
	};

	return p[i];
}

/* "syn_flood.rx.pps" and friends; NULL if key is not a flood key. */
static double *flood_key(struct det_thresholds *t, const char *key)
{
	static const char *const cls[CLS_MAX] = { "syn_flood", "udp_flood", "icmp_flood" };
	char buf[64];
	int c, dir;

	if (strstr(key, "_flood.") == NULL)    /* the scalar keys: no formatting */
		return NULL;
	for (c = 0; c < CLS_MAX; c++)
		for (dir = 0; dir < 2; dir++) {
			snprintf(buf, sizeof(buf), "%s.%s.pps", cls[c], dir_names[dir]);
			if (strcmp(key, buf) == 0)
				return &t->flood_pps[c][dir];
			snprintf(buf, sizeof(buf), "%s.%s.bps", cls[c], dir_names[dir]);
			if (strcmp(key, buf) == 0)
				return &t->flood_bps[c][dir];
		}
	return NULL;
}

/* See detect.h. */
int detect_set_threshold(struct detect *d, const char *key, double value)
{
	double *p;
	size_t i;

	if (d == NULL || key == NULL || !isfinite(value))
		return -1;
	if ((p = flood_key(&d->th, key)) != NULL) {
		if (value < 0 || value > 1e13)
			return -1;
		*p = value;
		return 0;
	}
	for (i = 0; i < sizeof(scalar_keys) / sizeof(scalar_keys[0]); i++) {
		if (strcmp(key, scalar_keys[i].name) != 0)
			continue;
		if (value < scalar_keys[i].min || value > scalar_keys[i].max)
			return -1;
		*scalar_ptr(&d->th, i) = value;
		return 0;
	}
	return -1;
}

/* See detect.h. */
int detect_allow_port(struct detect *d, const char *customer, uint16_t port)
{
	struct cust_state *c;
	int idx;

	if (customer == NULL) {
		if (d->n_global_allow >= GLOBAL_ALLOW_MAX)
			return -1;
		d->global_allow[d->n_global_allow++] = port;
		return 0;
	}
	idx = customer_find(d->map, customer);
	if (idx < 0 || (size_t)idx >= d->n_cust)
		return -1;
	c = &d->cust[idx];
	if (c->n_allow >= ALLOW_MAX)
		return -1;
	c->allow[c->n_allow++] = port;
	return 0;
}

/* Parses "22,80,443" into the allowlist of customer (NULL = all). */
static int detect_parse_allow(struct detect *d, const char *customer,
    const char *list)
{
	const char *s = list;

	while (*s != '\0') {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 10);
		if (end == s || errno != 0 || v > 65535 || (*end != ',' && *end != '\0'))
			return -1;
		if (detect_allow_port(d, customer, (uint16_t)v) != 0)
			return -1;
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* Applies one "key value" line; -1 on error. */
static int detect_apply_line(struct detect *d, const char *key, const char *val)
{
	char *end;
	double v;

	if (strcmp(key, "unusual_port.allow") == 0)
		return detect_parse_allow(d, NULL, val);
	if (strncmp(key, "unusual_port.allow.", 19) == 0)
		return detect_parse_allow(d, key + 19, val);
	errno = 0;
	v = strtod(val, &end);
	if (end == val || *end != '\0' || errno != 0)
		return -1;
	return detect_set_threshold(d, key, v);
}

/* See detect.h. */
int detect_load_thresholds(struct detect *d, const char *path)
{
	char line[512], key[128], val[384];
	unsigned lineno = 0;
	int rc = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		log_err("detect: %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *hash = strchr(line, '#');
		int n;

		lineno++;
		if (hash != NULL)
			*hash = '\0';
		n = sscanf(line, "%127s %383s", key, val);
		if (n <= 0)
			continue;
		if (n != 2 || detect_apply_line(d, key, val) != 0) {
			log_err("detect: %s:%u: bad threshold line \"%s%s%s\": expected "
			    "a known key and a number in range (or a port list)", path,
			    lineno, key, n == 2 ? " " : "", n == 2 ? val : "");
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

/* ---------- flagged sources ---------- */

/* Word-wise hash of an address (a per-packet cost: no byte loop). */
uint64_t detect_addr_hash(const struct gw_addr *a, uint64_t seed)
{
	uint64_t w0, w1 = 0;
	uint32_t v4;

	if (a->family == 6) {
		memcpy(&w0, a->a, 8);
		memcpy(&w1, a->a + 8, 8);
	} else {
		memcpy(&v4, a->a, 4);
		w0 = v4;
	}
	return sketch_mix(sketch_mix(w0, seed + a->family), w1);
}

static struct flag_slot *flag_bucket(struct detect *d, const struct gw_addr *a)
{
	return d->flags[detect_addr_hash(a, 77) % FLAG_BUCKETS];
}

static bool flag_find(const struct detect *d, const struct gw_addr *a)
{
	const struct flag_slot *b;
	int i;

	if (d->n_flagged == 0)
		return false;
	b = d->flags[detect_addr_hash(a, 77) % FLAG_BUCKETS];
	for (i = 0; i < FLAG_WAYS; i++)
		if (b[i].refs > 0 && gw_addr_cmp(&b[i].addr, a) == 0)
			return true;
	return false;
}

/* Adds a reference to a flagged source; false if its bucket is full. */
static bool flag_add(struct detect *d, const struct gw_addr *a)
{
	struct flag_slot *b = flag_bucket(d, a), *free_slot = NULL;
	int i;

	for (i = 0; i < FLAG_WAYS; i++) {
		if (b[i].refs > 0 && gw_addr_cmp(&b[i].addr, a) == 0) {
			b[i].refs++;
			return true;
		}
		if (b[i].refs == 0 && free_slot == NULL)
			free_slot = &b[i];
	}
	if (free_slot == NULL) {
		d->flags_dropped++;
		return false;
	}
	free_slot->addr = *a;
	free_slot->refs = 1;
	d->n_flagged++;
	return true;
}

static void flag_del(struct detect *d, const struct gw_addr *a)
{
	struct flag_slot *b = flag_bucket(d, a);
	int i;

	for (i = 0; i < FLAG_WAYS; i++)
		if (b[i].refs > 0 && gw_addr_cmp(&b[i].addr, a) == 0) {
			if (--b[i].refs == 0)
				d->n_flagged--;
			return;
		}
}

/* ---------- alarms ---------- */

struct alarm_id detect_alarm_id(enum det_kind kind, int dir, int cust,
    uint32_t extra, const struct gw_addr *addr, const struct gw_addr *target)
{
	struct alarm_id id;

	memset(&id, 0, sizeof(id));
	id.kind = (uint8_t)kind;
	id.dir = (uint8_t)dir;
	id.cust = cust;
	id.extra = extra;
	if (addr != NULL)
		id.addr = *addr;
	if (target != NULL)
		id.target = *target;
	return id;
}

/*
 * Finds the alarm with identity id; with create, takes a free (or long
 * cleared) slot of its bucket. NULL when absent (or the bucket is full).
 */
struct alarm *detect_alarm_get(struct detect *d, const struct alarm_id *id,
    bool create)
{
	uint64_t w[sizeof(*id) / 8], h = 5;
	size_t i;
	struct alarm *b;
	struct alarm *spare = NULL;
	uint64_t hold_us = (uint64_t)(d->th.holddown_s * 1e6);

	/* Word-wise: alarm lookups happen for every packet of an active attack. */
	memcpy(w, id, sizeof(w));
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		h = sketch_mix(h, w[i]);
	b = &d->alarms[(h % d->n_alarm_buckets) * ALARM_WAYS];

	for (i = 0; i < ALARM_WAYS; i++) {
		if (b[i].used && memcmp(&b[i].id, id, sizeof(*id)) == 0)
			return &b[i];
		if (spare == NULL && (!b[i].used || (!b[i].active && !b[i].pending &&
		    d->now_us >= b[i].cleared_us + hold_us)))
			spare = &b[i];
	}
	if (!create)
		return NULL;
	if (spare == NULL) {
		d->alarms_dropped++;
		return NULL;
	}
	memset(spare, 0, sizeof(*spare));
	spare->used = true;
	spare->id = *id;
	spare->cust = id->cust;
	spare->dir = id->dir;
	return spare;
}

/* True when the alarm may fire now (not active, hold-down over). */
bool detect_alarm_may_fire(const struct detect *d, const struct alarm *a)
{
	if (a->active)
		return false;
	if (a->cleared_us == 0)
		return true;
	return d->now_us >= a->cleared_us + (uint64_t)(d->th.holddown_s * 1e6);
}

void detect_event_base(const struct detect *d, const struct alarm *a,
    struct gw_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts = (double)d->now_us / 1e6;
	snprintf(ev->customer, sizeof(ev->customer), "%s",
	    customer_id(d->map, a->cust));
	snprintf(ev->kind, sizeof(ev->kind), "%s", kind_names[a->id.kind]);
	snprintf(ev->severity, sizeof(ev->severity), "%s", kind_severity[a->id.kind]);
	snprintf(ev->direction, sizeof(ev->direction), "%s", dir_names[a->dir]);
	if (a->src.family != 0)
		gw_addr_str(&a->src, ev->src, sizeof(ev->src));
	else
		snprintf(ev->src, sizeof(ev->src), "many");
	if (a->dst.family != 0)
		gw_addr_str(&a->dst, ev->dst, sizeof(ev->dst));
	ev->ip_proto = a->ip_proto;
	ev->dport = a->dport;
}

void detect_emit(struct detect *d, const struct gw_event *ev)
{
	if (d->emit != NULL)
		d->emit(ev, d->ctx);
}

/* Marks a as active and fills the common fields; caller completes and emits. */
void detect_alarm_fire(struct detect *d, struct alarm *a, const struct pkt *p,
    uint64_t rate_key)
{
	a->active = true;
	a->fired_us = d->now_us;
	a->below_since_us = 0;
	a->rate_key = rate_key;
	a->dst = p->dst;
	a->ip_proto = p->l4_proto;
	a->dport = p->dport;
	a->packets = 0;
	a->peak_pps = a->peak_bps = 0;
	hll_clear(&a->sources);
	if (a->src.family != 0)
		a->src_flagged = flag_add(d, &a->src);
}

/* See detect_int.h. */
void detect_pending_fire(struct detect *d, struct alarm *a, struct gw_event *ev)
{
	a->active = true;
	a->fired_us = d->now_us;
	a->below_since_us = 0;
	hll_clear(&a->sources);
	detect_event_base(d, a, ev);
}

/* See detect_int.h. */
void detect_alarm_unflag(struct detect *d, struct alarm *a)
{
	if (a->src_flagged)
		flag_del(d, &a->src);
	a->src_flagged = false;
}

static void alarm_clear(struct detect *d, struct alarm *a, double level)
{
	struct gw_event ev;

	detect_event_base(d, a, &ev);
	ev.cleared = true;
	ev.rate_pps = a->peak_pps;
	ev.rate_bps = a->peak_bps;
	snprintf(ev.detail, sizeof(ev.detail),
	    "cleared after %.1f s; peak %.0f pps %.0f bps; %llu packets from ~%.0f "
	    "sources; level now %.2f of threshold",
	    (double)(d->now_us - a->fired_us) / 1e6, a->peak_pps, a->peak_bps,
	    (unsigned long long)a->packets, hll_count(&a->sources), level);
	detect_emit(d, &ev);
	if (a->src_flagged)
		flag_del(d, &a->src);
	a->src_flagged = false;
	a->active = false;
	a->cleared_us = d->now_us;
	if (a->id.kind < CLS_MAX)
		d->cust[a->id.cust].flood_active[a->id.dir] &= (uint8_t)~(1u << a->id.kind);
}

/* ---------- per-alarm level (1.0 = at threshold) ---------- */

static double ratio(double v, double thr)
{
	return thr > 0 ? v / thr : 0;
}

static double spike_rate_bps(struct detect *d, int cust, int dir);
static void unusual_settle(struct detect *d, struct alarm *a);

static double alarm_level(struct detect *d, struct alarm *a)
{
	struct swcms_est est;
	double pps, bps, l1, l2;
	struct spike_state *s;

	switch (a->id.kind) {
	case K_SYN:
	case K_UDP:
	case K_ICMP:
		swcms_estimate(d->rate, a->rate_key, &est);
		pps = est.win_pkts;
		bps = est.win_bytes * 8.0;
		l1 = ratio(pps, d->th.flood_pps[a->id.kind][a->id.dir]);
		l2 = ratio(bps, d->th.flood_bps[a->id.kind][a->id.dir]);
		return l1 > l2 ? l1 : l2;
	case K_PORTSCAN:
	case K_SWEEP:
	case K_SLOWSCAN:
		return detect_scan_level(d, a);
	case K_COVERT:
	case K_DNSTUN:
		return detect_evidence_level(d, a);
	case K_INTER:
	case K_UNUSUAL:
		swcms_estimate(d->rate, a->rate_key, &est);
		return ratio(est.win_pkts, a->id.kind == K_INTER ? d->th.inter_pps :
		    d->th.unusual_pps);
	case K_SPIKE:
		/* Both conditions must hold: the lower ratio is the level. */
		s = &d->cust[a->id.cust].spike[a->id.dir];
		bps = spike_rate_bps(d, a->id.cust, a->id.dir);
		l1 = s->bl.forecast > 0 ?
		    bps / (d->th.spike_factor * s->bl.forecast) : INFINITY;
		l2 = d->th.spike_min_bps > 0 ? bps / d->th.spike_min_bps : INFINITY;
		return l1 < l2 ? l1 : l2;
	default:
		return 0;
	}
}

/*
 * Every 100 ms of packet time: clears alarms that stayed low long enough.
 * prev_us is the previous evaluation; after a gap without any packet the
 * rates fell to zero when the window emptied, one window after prev_us.
 */
static void detect_evaluate(struct detect *d, uint64_t prev_us)
{
	uint64_t gap_low_us = prev_us + NBUCKETS * BUCKET_US;
	uint64_t clear_us = (uint64_t)(d->th.clear_s * 1e6);
	size_t i, n = d->n_alarm_buckets * ALARM_WAYS;

	for (i = 0; i < n; i++) {
		struct alarm *a = &d->alarms[i];
		double level;

		if (a->used && a->pending) {
			if (a->id.kind == K_UNUSUAL)
				unusual_settle(d, a);
			else
				detect_scan_settle(d, a);
		}
		if (!a->used || !a->active)
			continue;
		level = alarm_level(d, a);
		if (level >= d->th.clear_fraction) {
			a->below_since_us = 0;
			continue;
		}
		if (a->below_since_us == 0)
			a->below_since_us = prev_us != 0 && gap_low_us < d->now_us &&
			    gap_low_us > a->fired_us ? gap_low_us : d->now_us;
		if (d->now_us - a->below_since_us >= clear_us)
			alarm_clear(d, a, level);
	}
}

/* Moves every window to now_us; time never goes backwards. */
static void detect_advance(struct detect *d, uint64_t now_us)
{
	uint64_t bucket, prev_us = d->now_us;

	if (now_us <= d->now_us)
		return;
	d->now_us = now_us;
	swcms_advance(d->rate, now_us);
	dcount_advance(d->ports, now_us);
	dcount_advance(d->hosts, now_us);
	bucket = now_us / BUCKET_US;
	if (bucket != d->last_eval_bucket) {
		d->last_eval_bucket = bucket;
		detect_evaluate(d, prev_us);
	}
	topk_advance(d->talkers, now_us);
}

/* ---------- traffic spike ---------- */

/* Rotates the customer's 100 ms ring and per-second baseline to d->now_us. */
static void spike_roll(struct detect *d, struct cust_state *c, int dir)
{
	struct spike_state *s = &c->spike[dir];
	uint64_t now = d->now_us, steps, i;

	if (s->ring_start_us == 0) {
		s->ring_start_us = now - now % BUCKET_US;
		s->sec_start_us = now - now % SECOND_US;
		return;
	}
	if (now >= s->ring_start_us + BUCKET_US) {
		steps = (now - s->ring_start_us) / BUCKET_US;
		for (i = 0; i < steps && i < SPIKE_RING; i++) {
			s->ring_cur = (s->ring_cur + 1) % SPIKE_RING;
			s->ring_bytes[s->ring_cur] = 0;
		}
		s->ring_start_us += steps * BUCKET_US;
	}
	if (now >= s->sec_start_us + SECOND_US) {
		struct alarm_id id = detect_alarm_id(K_SPIKE, dir, (int)(c - d->cust), 0, NULL, NULL);
		struct alarm *a = detect_alarm_get(d, &id, false);
		uint64_t secs = (now - s->sec_start_us) / SECOND_US;

		/* An ongoing spike is not learnt as normal traffic. */
		if (a == NULL || !a->active) {
			baseline_add(&s->bl, s->sec_bytes * 8);
			for (i = 1; i < secs && i <= SPIKE_GAP_FILL; i++)
				baseline_add(&s->bl, 0);
		}
		s->sec_bytes = 0;
		s->sec_start_us += secs * SECOND_US;
	}
}

/* The customer's rate over the last 200-300 ms, in bits per second. */
static double spike_rate_bps(struct detect *d, int cust, int dir)
{
	struct spike_state *s = &d->cust[cust].spike[dir];
	uint64_t sum = 0, span;
	unsigned i;

	spike_roll(d, &d->cust[cust], dir);
	for (i = 0; i < SPIKE_RING; i++)
		sum += s->ring_bytes[i];
	span = (SPIKE_RING - 1) * BUCKET_US + (d->now_us - s->ring_start_us);
	return (double)sum * 8.0 * 1e6 / (double)span;
}

static void spike_packet(struct detect *d, int cust, int dir, const struct pkt *p)
{
	struct cust_state *c = &d->cust[cust];
	struct spike_state *s = &c->spike[dir];
	struct alarm_id id;
	struct alarm *a;
	struct gw_event ev;
	double bps;

	spike_roll(d, c, dir);
	s->ring_bytes[s->ring_cur] += p->ip_bytes;
	s->sec_bytes += p->ip_bytes;
	if (s->bl.samples < d->th.spike_warmup_s || !s->bl.has_forecast)
		return;
	bps = spike_rate_bps(d, cust, dir);
	if (bps < d->th.spike_min_bps || bps < d->th.spike_factor * s->bl.forecast ||
	    bps < s->bl.forecast + s->bl.band)
		return;
	id = detect_alarm_id(K_SPIKE, dir, cust, 0, NULL, NULL);
	if ((a = detect_alarm_get(d, &id, true)) == NULL || !detect_alarm_may_fire(d, a))
		return;
	detect_alarm_fire(d, a, p, 0);
	a->dst.family = 0;
	a->dport = 0;
	a->ip_proto = 0;
	a->peak_bps = bps;
	detect_event_base(d, a, &ev);
	ev.rate_bps = bps;
	snprintf(ev.detail, sizeof(ev.detail),
	    "%s rate %.0f bps vs baseline %.0f bps (band %.0f, factor %.1f)",
	    dir_names[dir], bps, s->bl.forecast, s->bl.band, d->th.spike_factor);
	detect_emit(d, &ev);
}

/* ---------- floods ---------- */

static enum det_class flood_class(const struct pkt *p)
{
	if (p->l4_proto == 6)
		return p->has_l4 && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN ?
		    CLS_SYN : CLS_NONE;
	if (p->l4_proto == 17)
		return CLS_UDP;
	if (p->l4_proto == 1 || p->l4_proto == 58)
		return CLS_ICMP;
	return CLS_NONE;
}

static uint32_t talker_tag(int cust, int dir, int cls)
{
	return ((uint32_t)cust * 2 + (uint32_t)dir) * CLS_MAX + (uint32_t)cls + 1;
}

/*
 * Names the source of a flood: the top talker if it sent at least half of
 * what the talkers sent toward this customer, direction and class in the
 * last second (the talker window), else "many" (distributed or spoofed).
 * Fills the event's top talkers, with their packets in that second. Only
 * the current window counts, so the source of an earlier flood is not
 * blamed for a new one.
 */
static void flood_sources(struct detect *d, struct alarm *a, uint32_t tag,
    struct gw_event *ev)
{
	struct topk_entry top[TOPK_REPORT];
	uint64_t total = topk_tag_total(d->talkers, tag);
	size_t n = topk_top(d->talkers, tag, top, TOPK_REPORT), i;
	char addr[GW_ADDR_MAX];

	a->src.family = 0;
	if (n > 0 && total > 0 && (top[0].count - top[0].err) * 2 >= total)
		a->src = top[0].addr;
	for (i = 0; i < n && i < GW_LIST_MAX; i++) {
		gw_addr_str(&top[i].addr, addr, sizeof(addr));
		snprintf(ev->top_talkers[i], sizeof(ev->top_talkers[i]), "%s %llu",
		    addr, (unsigned long long)top[i].count);
	}
	ev->n_top_talkers = i;
}

/*
 * A flood alarm in hold-down keeps one flood from flapping; a flood toward
 * another target, or from another named source, is a different attack and
 * may fire at once.
 */
static bool flood_may_fire(struct detect *d, const struct alarm *a,
    const struct pkt *p, uint32_t tag)
{
	struct topk_entry top;
	struct gw_addr src;
	uint64_t total;

	if (detect_alarm_may_fire(d, a))
		return true;
	if (a->active)
		return false;
	if (gw_addr_cmp(&a->dst, &p->dst) != 0)
		return true;
	memset(&src, 0, sizeof(src));
	total = topk_tag_total(d->talkers, tag);
	if (topk_top(d->talkers, tag, &top, 1) == 1 && total > 0 &&
	    (top.count - top.err) * 2 >= total)
		src = top.addr;
	if (src.family == 0 || a->src.family == 0)
		return src.family != a->src.family;
	return gw_addr_cmp(&src, &a->src) != 0;
}

static void flood_fire(struct detect *d, struct alarm *a, const struct pkt *p,
    uint64_t key, double pps, double bps)
{
	uint32_t tag = talker_tag(a->id.cust, a->id.dir, a->id.kind);
	struct gw_event ev;
	size_t n_talkers;
	char talkers[GW_LIST_MAX][GW_ADDR_MAX + 32];

	memset(&ev, 0, sizeof(ev));
	flood_sources(d, a, tag, &ev);
	n_talkers = ev.n_top_talkers;
	memcpy(talkers, ev.top_talkers, sizeof(talkers));
	detect_alarm_fire(d, a, p, key);
	d->cust[a->id.cust].flood_active[a->id.dir] |= (uint8_t)(1u << a->id.kind);
	a->peak_pps = pps;
	a->peak_bps = bps;
	detect_event_base(d, a, &ev);
	ev.n_top_talkers = n_talkers;
	memcpy(ev.top_talkers, talkers, sizeof(talkers));
	ev.rate_pps = pps;
	ev.rate_bps = bps;
	snprintf(ev.detail, sizeof(ev.detail),
	    "%s %s to %s: %.0f pps %.0f bps (thresholds %.0f pps %.0f bps)",
	    dir_names[a->id.dir], kind_names[a->id.kind], ev.dst, pps, bps,
	    d->th.flood_pps[a->id.kind][a->id.dir],
	    d->th.flood_bps[a->id.kind][a->id.dir]);
	detect_emit(d, &ev);
}

/*
 * The onset window (FAST_BUCKETS of FAST_BUCKET_US): the 200-300 ms short
 * window needs thr x 0.2 s packets before it crosses a threshold (100 ms
 * and more of an attack at 3x the threshold); this one crosses it within
 * 20-30 ms. A rate counts only when it held in both halves, the newest
 * 10-20 ms and the 20 ms before, with FAST_MIN_PKTS packets in all: one
 * burst of back-to-back packets (nmap sends its probes 50 at a time, 2500
 * pps for a moment at 765 pps on average) fills one half only. One cache
 * line and no division per packet: a count-min sketch here cost 4.5% of
 * the probe's instructions on the benign corpus mix.
 */
_Static_assert(FAST_BUCKETS == 4 && FAST_SHORT == 2, "flood_onset sums 2 + 2 buckets");

struct flood_onset {
	uint32_t pkts;        /* in the whole window */
	double pps;           /* over the whole window */
	bool sustained;       /* pps >= the threshold in both halves, >= FAST_MIN_PKTS */
};

static void flood_onset(struct detect *d, uint64_t key, uint64_t now_us,
    double thr_pps, struct flood_onset *o)
{
	const double older_us = (double)((FAST_BUCKETS - FAST_SHORT) * FAST_BUCKET_US);
	struct onset_cell *c = &d->onset[key & d->onset_mask];
	uint64_t b = now_us / FAST_BUCKET_US, e;
	uint32_t newer, older;
	double short_us;

	if (c->key != key || b < c->bucket || b - c->bucket >= FAST_BUCKETS) {
		memset(c, 0, sizeof(*c));
		c->key = key;
	} else {
		for (e = c->bucket + 1; e <= b; e++)
			c->n[e % FAST_BUCKETS] = 0;
	}
	c->bucket = b;
	if (c->n[b % FAST_BUCKETS] < UINT16_MAX)
		c->n[b % FAST_BUCKETS]++;
	/* Written out for FAST_BUCKETS 4, FAST_SHORT 2 (static assert above). */
	newer = (uint32_t)c->n[b % FAST_BUCKETS] + c->n[(b - 1) % FAST_BUCKETS];
	older = (uint32_t)c->n[(b - 2) % FAST_BUCKETS] + c->n[(b - 3) % FAST_BUCKETS];
	o->pkts = newer + older;
	if (o->pkts * TALKER_SHARE < FAST_MIN_PKTS) {
		o->pps = 0;          /* too few to open even the talker count */
		o->sustained = false;
		return;
	}
	/* The newest bucket is partly filled: count only its elapsed part. */
	short_us = (double)((FAST_SHORT - 1) * FAST_BUCKET_US + now_us % FAST_BUCKET_US + 1);
	o->pps = (double)o->pkts * 1e6 / (older_us + short_us);
	o->sustained = thr_pps > 0 && o->pkts >= FAST_MIN_PKTS &&
	    (double)older * 1e6 >= thr_pps * older_us &&
	    (double)newer * 1e6 >= thr_pps * short_us;
}

/*
 * Accounts a flood-class packet; true if it belongs to an active flood.
 * Benign traffic costs two sketch updates (the 1 s rate window and the
 * onset window; during an active flood of its class only the first): talkers and alarms are looked at only when the target's
 * rate in either passes 1/TALKER_SHARE of a threshold or the customer
 * already has an active flood alarm of this class. An alarm fires on the
 * short window's pps or bps, or on a sustained pps in the onset window
 * (packets only: a few ms of a fast benign download are a byte-rate
 * burst); clearing and hold-down stay with the
 * 1 s window (alarm_level), so the onset window cannot make an alarm flap.
 */
static bool flood_packet(struct detect *d, int cust, int dir, enum det_class cls,
    const struct pkt *p)
{
	uint64_t key = sketch_mix(detect_addr_hash(&p->dst, 11),
	    ((uint64_t)(uint32_t)cust << 8) | ((uint64_t)dir << 4) | (uint64_t)cls);
	double thr_pps = d->th.flood_pps[cls][dir], thr_bps = d->th.flood_bps[cls][dir];
	struct alarm_id id;
	struct swcms_est est;
	struct alarm *a;
	struct flood_onset on;
	double pps, bps, gate;

	swcms_add(d->rate, key, 1, p->ip_bytes, &est);
	pps = (double)est.short_pkts * 1e6 / (double)est.short_us;
	bps = (double)est.short_bytes * 8e6 / (double)est.short_us;
	/*
	 * While this class has an active alarm at the customer and direction no
	 * new one can fire (the alarm follows a moving target), so the onset
	 * window would only cost time in the middle of a flood.
	 */
	if (d->cust[cust].flood_active[dir] & (1u << cls))
		memset(&on, 0, sizeof(on));
	else
		flood_onset(d, key, d->now_us, thr_pps, &on);
	/* Talkers count from a quarter of the floor (on.pps is 0 below), so the source is known when it fires. */
	gate = pps > on.pps ? pps : on.pps;
	if (!((thr_pps > 0 && gate * TALKER_SHARE >= thr_pps) ||
	    (thr_bps > 0 && bps * TALKER_SHARE >= thr_bps)) &&
	    !(d->cust[cust].flood_active[dir] & (1u << cls)))
		return false;
	topk_add(d->talkers, sketch_mix(detect_addr_hash(&p->src, 13), talker_tag(cust, dir, cls)),
	    &p->src, talker_tag(cust, dir, cls), 1);
	id = detect_alarm_id((enum det_kind)cls, dir, cust, 0, NULL, NULL);
	a = detect_alarm_get(d, &id, false);
	if (a != NULL && a->active) {
		if (gw_addr_cmp(&a->dst, &p->dst) != 0) {
			/* The attack moved to another host: follow it, no new event. */
			if (!((thr_pps > 0 && pps >= thr_pps) || (thr_bps > 0 && bps >= thr_bps)))
				return false;
			a->dst = p->dst;
			a->rate_key = key;
			a->below_since_us = 0;
		}
		a->packets++;
		hll_add(&a->sources, detect_addr_hash(&p->src, 17));
		if (pps > a->peak_pps)
			a->peak_pps = pps;
		if (bps > a->peak_bps)
			a->peak_bps = bps;
		return true;
	}
	if (!((thr_pps > 0 && (pps >= thr_pps || on.sustained)) ||
	    (thr_bps > 0 && bps >= thr_bps)))
		return false;
	if (on.sustained && pps < on.pps)
		pps = on.pps;     /* the event reports the rate that fired */
	if ((a = detect_alarm_get(d, &id, true)) == NULL ||
	    !flood_may_fire(d, a, p, talker_tag(cust, dir, cls)))
		return false;
	flood_fire(d, a, p, key, pps, bps);
	a->packets = 1;
	hll_add(&a->sources, detect_addr_hash(&p->src, 17));
	return true;
}

/* ---------- inter-customer, unusual ports ---------- */

void detect_simple_fire(struct detect *d, struct alarm *a, const struct pkt *p,
    uint64_t key, double rate, const char *detail)
{
	struct gw_event ev;

	detect_alarm_fire(d, a, p, key);
	a->peak_pps = rate;
	detect_event_base(d, a, &ev);
	ev.rate_pps = rate;
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	detect_emit(d, &ev);
}

/* Distinct ports (port_scan) or hosts (host_sweep) from one source. */
/* One customer's connection attempts toward another customer's LAN. */
static bool inter_packet(struct detect *d, const struct customer_match *m,
    const struct pkt *p)
{
	uint64_t key = sketch_mix(0x1e7e4, ((uint64_t)(uint32_t)m->tx << 32) |
	    (uint32_t)m->rx);
	struct alarm_id id = detect_alarm_id(K_INTER, DIR_RX, m->rx, (uint32_t)m->tx, NULL, NULL);
	struct swcms_est est;
	struct alarm *a;
	char detail[GW_TEXT_MAX];

	swcms_add(d->rate, key, 1, p->ip_bytes, &est);
	if (d->th.inter_pps <= 0 || est.win_pkts < d->th.inter_pps)
		return false;
	if ((a = detect_alarm_get(d, &id, true)) == NULL)
		return false;
	if (a->active) {
		a->packets++;
		return false;
	}
	if (!detect_alarm_may_fire(d, a))
		return false;
	a->src = p->src;
	snprintf(detail, sizeof(detail), "customer %s -> customer %s",
	    customer_id(d->map, m->tx), customer_id(d->map, m->rx));
	detect_simple_fire(d, a, p, key, est.win_pkts, detail);
	/* The source is a customer's host: report it, but do not flag it. */
	detect_alarm_unflag(d, a);
	return false;
}

static bool port_allowed(const struct detect *d, int cust, uint16_t port)
{
	const struct cust_state *c = &d->cust[cust];
	size_t i;

	for (i = 0; i < d->n_global_allow; i++)
		if (d->global_allow[i] == port)
			return true;
	for (i = 0; i < c->n_allow; i++)
		if (c->allow[i] == port)
			return true;
	return false;
}

/* Inbound SYNs to a port outside the customer's allowlist. */
static void unusual_packet(struct detect *d, int cust, const struct pkt *p)
{
	uint64_t key = sketch_mix(0x0b5e, ((uint64_t)(uint32_t)cust << 16) | p->dport);
	struct alarm_id id = detect_alarm_id(K_UNUSUAL, DIR_RX, cust, p->dport, NULL, NULL);
	struct swcms_est est;
	struct alarm *a;

	if (port_allowed(d, cust, p->dport))
		return;
	swcms_add(d->rate, key, 1, p->ip_bytes, &est);
	if (d->th.unusual_pps <= 0 || est.win_pkts < d->th.unusual_pps)
		return;
	if ((a = detect_alarm_get(d, &id, true)) == NULL)
		return;
	if (a->active || a->pending) {
		a->packets++;
		return;
	}
	if (!detect_alarm_may_fire(d, a))
		return;
	/*
	 * The first SYNs of a SYN flood also hit a port outside the allowlist;
	 * wait briefly so that a flood is reported as a flood only.
	 */
	a->pending = true;
	a->pending_us = d->now_us;
	a->rate_key = key;
	a->src = p->src;
	a->dst = p->dst;
	a->dport = p->dport;
	a->ip_proto = p->l4_proto;
	a->peak_pps = est.win_pkts;
}

/* Fires or drops a pending unusual_port alarm once its wait is over. */
static void unusual_settle(struct detect *d, struct alarm *a)
{
	struct alarm_id fid = detect_alarm_id(K_SYN, DIR_RX, a->cust, 0, NULL, NULL);
	struct alarm_id sid = detect_alarm_id(K_SWEEP, 0, 0, a->ip_proto, &a->src, NULL);
	struct alarm *flood = detect_alarm_get(d, &fid, false);
	struct alarm *sweep = detect_alarm_get(d, &sid, false);
	struct gw_event ev;

	if (d->now_us < a->pending_us + UNUSUAL_WAIT_US)
		return;
	a->pending = false;
	/* A flood on that host, or a sweep by that source, explains the SYNs. */
	if ((flood != NULL && flood->active && gw_addr_cmp(&flood->dst, &a->dst) == 0) ||
	    (sweep != NULL && sweep->active)) {
		a->used = false;
		return;
	}
	detect_pending_fire(d, a, &ev);
	ev.rate_pps = a->peak_pps;
	snprintf(ev.detail, sizeof(ev.detail),
	    "%.0f inbound SYNs/s to port %u (not allowlisted)", a->peak_pps, a->dport);
	detect_emit(d, &ev);
}

/* ---------- packet entry point ---------- */

bool detect_cust_valid(const struct detect *d, int c)
{
	return c > CUSTOMER_UNMAPPED && (size_t)c < d->n_cust;
}

/* See detect.h. */
bool detect_packet(struct detect *d, const struct pkt *p,
    const struct customer_match *m)
{
	return detect_packet_flow(d, p, m, DETECT_FIRST);
}

/* See detect.h. */
bool detect_packet_flow(struct detect *d, const struct pkt *p,
    const struct customer_match *m, unsigned flow_flags)
{
	enum det_class cls;
	bool flagged = false, attempt;
	int dir;

	if (d == NULL || p == NULL || m == NULL || (p->ip_ver != 4 && p->ip_ver != 6))
		return false;
	detect_advance(d, p->ts_us);
	/* A tunnel to the home router's resolver is still a tunnel. */
	detect_flowind_packet(d, m, p);
	if (m->tx == m->rx)
		return flag_find(d, &p->src);  /* inside one customer: not ours to judge */
	cls = flood_class(p);
	attempt = detect_is_attempt(p);
	for (dir = DIR_RX; dir <= DIR_TX; dir++) {
		int cust = dir == DIR_RX ? m->rx : m->tx;

		if (!detect_cust_valid(d, cust))
			continue;
		spike_packet(d, cust, dir, p);
		if (cls != CLS_NONE && flood_packet(d, cust, dir, cls, p))
			flagged = true;
	}
	if (!attempt && ((p->l4_proto == 6 && (p->tcp_flags & TCPF_RST)) ||
	    p->l4_proto == 1 || p->l4_proto == 58))
		detect_scan_failure(d, m, p, flow_flags);
	if (attempt) {
		if (flow_flags & DETECT_FIRST)
			detect_scan_packet(d, m, p);
		if (m->inter && detect_cust_valid(d, m->tx) && detect_cust_valid(d, m->rx))
			inter_packet(d, m, p);
		if (cls == CLS_SYN && detect_cust_valid(d, m->rx) && d->th.unusual_enabled > 0)
			unusual_packet(d, m->rx, p);
	}
	return flagged || flag_find(d, &p->src);
}

/* See detect.h. */
void detect_tick(struct detect *d, uint64_t now_us)
{
	if (d != NULL)
		detect_advance(d, now_us);
}

/* ---------- life cycle ---------- */

static uint32_t pow2_at_least(size_t n, uint32_t lo, uint32_t hi)
{
	uint32_t w = lo;

	while (w < n && w < hi)
		w <<= 1;
	return w;
}

struct detect_sizes {
	uint32_t rate_width;     /* count-min width of the rate sketch */
	unsigned dc_bits_log2;   /* distinct counters: dedup bitmap bits (log2) */
	uint32_t dc_width;       /* ... and count-min width */
	size_t flowind_slots;    /* flows scored by covert.c */
};

/*
 * Sketch sizes for n customers. The noise in a cell is the traffic of the
 * other keys that share it, so the sketches only need to be as wide as the
 * traffic one probe carries: a probe inside one gateway (its customer plus
 * unmapped) sees a home's or a small office's traffic, a probe at an
 * aggregation point with many customers sees far more. Small maps get
 * 1024-wide rate rows (at 100k pps an average cell holds ~100 pps against
 * a 2000 pps SYN threshold) and 2^15 distinct pairs per 5 s generation in
 * 8192-wide rows (at most 4 pairs of noise per cell against 64/100);
 * from 16 customers on, the sizes of a shared probe (about 1.4 MiB).
 */
static struct detect_sizes detect_sizes_for(size_t n)
{
	struct detect_sizes s;

	if (n >= 16) {
		s.rate_width = pow2_at_least(n * 4, 4096, 16384);
		s.dc_bits_log2 = 17;
		s.dc_width = 1u << 15;
		s.flowind_slots = 1u << 16;
	} else {
		s.rate_width = pow2_at_least(n * 256, 1024, 4096);
		s.dc_bits_log2 = 15;
		s.dc_width = 1u << 13;
		s.flowind_slots = 1u << 12;
	}
	return s;
}

static int detect_init_spikes(struct detect *d)
{
	size_t i;
	int dir;

	for (i = 0; i < d->n_cust; i++)
		for (dir = 0; dir < 2; dir++)
			if (baseline_init(&d->cust[i].spike[dir].bl, 0.3, 0.1, 0.05) != 0)
				return -1;
	return 0;
}

/* See detect.h. */
struct detect *detect_new(const struct customer_map *map, detect_emit_cb emit,
    void *ctx)
{
	return detect_new_shrunk(map, emit, ctx, 0);
}

/* See detect.h. */
struct detect *detect_new_shrunk(const struct customer_map *map,
    detect_emit_cb emit, void *ctx, unsigned shrink_log2)
{
	struct detect *d;
	size_t n = map != NULL ? customer_count(map) : 0;
	struct detect_sizes sz = detect_sizes_for(n);

	if (shrink_log2 > 6)
		shrink_log2 = 6;
	sz.rate_width >>= shrink_log2;
	sz.dc_bits_log2 -= shrink_log2;
	sz.dc_width >>= shrink_log2;
	sz.flowind_slots >>= shrink_log2;
	if (n == 0 || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->map = map;
	d->emit = emit;
	d->ctx = ctx;
	d->n_cust = n;
	detect_defaults(&d->th);
	/* ALARM_WAYS slots per bucket: about one slot per customer. */
	d->n_alarm_buckets = pow2_at_least((256 + n) / ALARM_WAYS, 64, 1u << 14) >>
	    shrink_log2;
	d->cust = calloc(n, sizeof(*d->cust));
	d->alarms = calloc(d->n_alarm_buckets * ALARM_WAYS, sizeof(*d->alarms));
	d->rate = swcms_new(2, sz.rate_width, NBUCKETS, BUCKET_US, SHORT_BUCKETS);
	d->onset_mask = sz.rate_width - 1;
	d->onset = calloc(sz.rate_width, sizeof(*d->onset));
	d->ports = dcount_new(sz.dc_bits_log2, 2, sz.dc_width, SCAN_GEN_US);
	d->hosts = dcount_new(sz.dc_bits_log2, 2, sz.dc_width, SCAN_GEN_US);
	d->failures = dcount_new(sz.dc_bits_log2, 2, sz.dc_width, SLOW_GEN_US);
	d->covert = covert_new(sz.flowind_slots);
	d->dnst = dnstunnel_new(sz.flowind_slots / 4);
	/* Talkers over the rate window only: a source that stopped is not named. */
	d->talkers = topk_new_window(64 >> shrink_log2, NBUCKETS, BUCKET_US);
	if (d->cust == NULL || d->alarms == NULL || d->rate == NULL || d->onset == NULL ||
	    d->ports == NULL || d->hosts == NULL || d->talkers == NULL ||
	    d->failures == NULL || d->covert == NULL || d->dnst == NULL ||
	    detect_init_spikes(d) != 0) {
		detect_free(d);
		return NULL;
	}
	return d;
}

/* See detect.h. */
void detect_free(struct detect *d)
{
	if (d == NULL)
		return;
	if (d->alarms_dropped > 0 || d->flags_dropped > 0)
		log_info("detect: %llu alarms and %llu flagged sources dropped (tables full)",
		    (unsigned long long)d->alarms_dropped,
		    (unsigned long long)d->flags_dropped);
	swcms_free(d->rate);
	free(d->onset);
	dcount_free(d->ports);
	dcount_free(d->hosts);
	dcount_free(d->failures);
	covert_free(d->covert);
	dnstunnel_free(d->dnst);
	topk_free(d->talkers);
	free(d->alarms);
	free(d->cust);
	free(d);
}

/* See detect.h. */
size_t detect_memory(const struct detect *d)
{
	if (d == NULL)
		return 0;
	return sizeof(*d) + d->n_cust * sizeof(*d->cust) +
	    d->n_alarm_buckets * ALARM_WAYS * sizeof(*d->alarms) +
	    swcms_memory(d->rate) + (d->onset_mask + 1) * sizeof(*d->onset) +
	    dcount_memory(d->ports) +
	    dcount_memory(d->hosts) + dcount_memory(d->failures) +
	    topk_memory(d->talkers) + covert_memory(d->covert) +
	    dnstunnel_memory(d->dnst);
}

/* See detect.h. */
size_t detect_inspect(const struct detect *d, char lines[][GW_TEXT_MAX], size_t max)
{
	struct topk_entry top[GW_LIST_MAX];
	size_t i, n = 0, nt, na = d != NULL ? d->n_alarm_buckets * ALARM_WAYS : 0;
	char src[GW_ADDR_MAX], dst[GW_ADDR_MAX];

	for (i = 0; i < na && n < max; i++) {
		const struct alarm *a = &d->alarms[i];

		if (!a->used || !a->active)
			continue;
		if (a->src.family != 0)
			gw_addr_str(&a->src, src, sizeof(src));
		else
			snprintf(src, sizeof(src), "many");
		if (a->dst.family != 0)
			gw_addr_str(&a->dst, dst, sizeof(dst));
		else
			snprintf(dst, sizeof(dst), "-");
		snprintf(lines[n++], GW_TEXT_MAX,
		    "alarm %s customer=%s dir=%s src=%s dst=%s since=%.3f peak_pps=%.0f "
		    "peak_bps=%.0f packets=%llu", kind_names[a->id.kind],
		    customer_id(d->map, a->cust), dir_names[a->dir], src, dst,
		    (double)a->fired_us / 1e6, a->peak_pps, a->peak_bps,
		    (unsigned long long)a->packets);
	}
	if (d == NULL)
		return 0;
	nt = topk_top(d->talkers, 0, top, GW_LIST_MAX);
	for (i = 0; i < nt && n < max; i++) {
		uint32_t tag = top[i].tag - 1;

		gw_addr_str(&top[i].addr, src, sizeof(src));
		snprintf(lines[n++], GW_TEXT_MAX,
		    "talker %s customer=%s dir=%s class=%s count~%llu", src,
		    customer_id(d->map, (int)(tag / (2 * CLS_MAX))),
		    dir_names[(tag / CLS_MAX) % 2], kind_names[tag % CLS_MAX],
		    (unsigned long long)top[i].count);
	}
	return n;
}
