/* correlate.c: cross-probe correlation rules over events, probe liveness and customer SLA summaries. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "idmap.h"
#include "log.h"

/* One attack source and the probes that reported it. */
struct corr_source {
	char     src[GW_ADDR_MAX];      /* "" = free slot */
	char     kind[GW_NAME_MAX];
	char     customer[GW_ID_MAX];
	double   last_ts;
	double   fired_ts;              /* last global() for it, 0 = never */
	size_t   n_probes;
	char     probes[GW_LIST_MAX][GW_ID_MAX];
	double   probe_ts[GW_LIST_MAX];
};

struct corr_dist_src {
	char   addr[GW_ADDR_MAX];
	double ts;
};

/* Distributed-attack state of one customer (allocated on its first attack). */
struct corr_dist {
	size_t n;
	struct corr_dist_src set[CORRELATE_DIST_SET_MAX];
	bool   active;
	double max_pps, max_bps;
	char   dst[GW_ADDR_MAX];
	char   kind[GW_NAME_MAX];
};

struct corr_customer {
	char     id[GW_ID_MAX];
	uint32_t bad_streak, good_streak;
	bool     violating;
	char     probe[GW_ID_MAX];       /* probe of the last stats */
	char     why[GW_TEXT_MAX];       /* last bad reason */
	struct corr_dist *dist;
};

struct corr_probe {
	char   id[GW_ID_MAX];
	double last_seen;
	double interval_s;
	bool   silent;
};

struct correlate {
	struct correlate_config    cfg;
	struct correlate_callbacks cb;
	struct corr_source        *sources;   /* CORRELATE_SOURCES_MAX slots */
	struct idmap              *customers; /* id -> struct corr_customer */
	struct idmap              *probes;    /* id -> struct corr_probe */
	struct correlate_stats_snapshot st;
};

static const char *const corr_attack_kinds[] = {
	"syn_flood", "udp_flood", "icmp_flood", "port_scan", "slow_scan", "host_sweep",
};

bool
correlate_is_attack_kind(const char *kind)
{
	for (size_t i = 0; kind != NULL &&
	    i < sizeof(corr_attack_kinds) / sizeof(corr_attack_kinds[0]); i++)
		if (strcmp(kind, corr_attack_kinds[i]) == 0)
			return true;
	return false;
}

static void
correlate_defaults(struct correlate_config *c)
{
	if (c->global_min_probes == 0)
		c->global_min_probes = 2;
	if (c->global_window_s <= 0)
		c->global_window_s = 60;
	if (c->distributed_min_sources == 0)
		c->distributed_min_sources = 20;
	if (c->distributed_window_s <= 0)
		c->distributed_window_s = 60;
	if (c->sla_repeat == 0)
		c->sla_repeat = 3;
	if (c->sla_loss_pct <= 0)
		c->sla_loss_pct = 1.0;
	if (c->sla_jitter_ms <= 0)
		c->sla_jitter_ms = 30;
	if (c->sla_rtt_ms <= 0)
		c->sla_rtt_ms = 300;
	if (c->sla_dns_fail_pct <= 0)
		c->sla_dns_fail_pct = 5;
}

struct correlate *
correlate_new(const struct correlate_config *cfg,
    const struct correlate_callbacks *cb)
{
	struct correlate *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (cfg != NULL)
		c->cfg = *cfg;
	correlate_defaults(&c->cfg);
	if (cb != NULL)
		c->cb = *cb;
	if (c->cfg.distributed_min_sources > CORRELATE_DIST_SET_MAX ||
	    c->cfg.global_min_probes > GW_LIST_MAX) {
		log_err("correlate: distributed_min_sources must be at most %d "
		    "and global_min_probes at most %d", CORRELATE_DIST_SET_MAX,
		    GW_LIST_MAX);
		free(c);
		return NULL;
	}
	c->sources = calloc(CORRELATE_SOURCES_MAX, sizeof(*c->sources));
	c->customers = idmap_new();
	c->probes = idmap_new();
	if (c->sources == NULL || c->customers == NULL || c->probes == NULL) {
		correlate_free(c);
		return NULL;
	}
	return c;
}

static void
correlate_free_customer(const char *key, void *value, void *ctx)
{
	struct corr_customer *cu = value;

	(void)key;
	(void)ctx;
	free(cu->dist);
	free(cu);
}

static void
correlate_free_value(const char *key, void *value, void *ctx)
{
	(void)key;
	(void)ctx;
	free(value);
}

void
correlate_free(struct correlate *c)
{
	if (c == NULL)
		return;
	if (c->customers != NULL)
		idmap_foreach(c->customers, correlate_free_customer, NULL);
	if (c->probes != NULL)
		idmap_foreach(c->probes, correlate_free_value, NULL);
	idmap_free(c->customers);
	idmap_free(c->probes);
	free(c->sources);
	free(c);
}

void
correlate_stats_get(const struct correlate *c,
    struct correlate_stats_snapshot *out)
{
	if (c == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = c->st;
}

static void
correlate_emit(struct correlate *c, const char *probe_id,
    const struct gw_event *ev)
{
	c->st.emitted++;
	if (c->cb.event != NULL)
		c->cb.event(probe_id, ev, c->cb.ctx);
}

/* Copies the address part of s (up to a space or '/') into out when it is an IP address. */
static bool
correlate_addr(const char *s, char out[GW_ADDR_MAX])
{
	unsigned char buf[16];
	size_t len = strcspn(s, " /\t");

	if (len == 0 || len >= GW_ADDR_MAX)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return inet_pton(AF_INET, out, buf) == 1 ||
	    inet_pton(AF_INET6, out, buf) == 1;
}

/* Finds the slot of src, or a free/expired one to reuse; NULL when full. */
static struct corr_source *
correlate_source_slot(struct correlate *c, const char *src, double now)
{
	struct corr_source *free_slot = NULL, *s;

	for (size_t i = 0; i < CORRELATE_SOURCES_MAX; i++) {
		s = &c->sources[i];
		if (s->src[0] != '\0' && strcmp(s->src, src) == 0)
			return s;
		if (free_slot == NULL && (s->src[0] == '\0' ||
		    now - s->last_ts > c->cfg.global_window_s))
			free_slot = s;
	}
	if (free_slot != NULL) {
		memset(free_slot, 0, sizeof(*free_slot));
		snprintf(free_slot->src, sizeof(free_slot->src), "%s", src);
	}
	return free_slot;
}

/* Records probe_id for s; returns how many probes reported s within the window. */
static size_t
correlate_source_probe(struct correlate *c, struct corr_source *s,
    const char *probe_id, double now)
{
	size_t i, recent = 0, oldest = 0;

	for (i = 0; i < s->n_probes; i++)
		if (strcmp(s->probes[i], probe_id) == 0)
			break;
	if (i == s->n_probes) {
		if (s->n_probes < GW_LIST_MAX) {
			s->n_probes++;
		} else {
			for (size_t j = 1; j < s->n_probes; j++)
				if (s->probe_ts[j] < s->probe_ts[oldest])
					oldest = j;
			i = oldest;
		}
		snprintf(s->probes[i], sizeof(s->probes[i]), "%s", probe_id);
	}
	s->probe_ts[i] = now;
	for (i = 0; i < s->n_probes; i++)
		if (now - s->probe_ts[i] <= c->cfg.global_window_s)
			recent++;
	return recent;
}

/* The multi-probe rule for one source. */
static void
correlate_global_rule(struct correlate *c, const char *probe_id,
    const struct gw_event *ev, const char *src, double now)
{
	struct correlate_global g;
	struct corr_source *s;
	size_t recent;

	if ((s = correlate_source_slot(c, src, now)) == NULL) {
		c->st.dropped_full++;
		return;
	}
	s->last_ts = now;
	snprintf(s->kind, sizeof(s->kind), "%s", ev->kind);
	snprintf(s->customer, sizeof(s->customer), "%s", ev->customer);
	recent = correlate_source_probe(c, s, probe_id, now);
	if (recent < c->cfg.global_min_probes || (s->fired_ts > 0 &&
	    now - s->fired_ts < c->cfg.global_window_s))
		return;
	s->fired_ts = now;
	memset(&g, 0, sizeof(g));
	g.ts = now;
	snprintf(g.src, sizeof(g.src), "%s", s->src);
	snprintf(g.kind, sizeof(g.kind), "%s", s->kind);
	snprintf(g.customer, sizeof(g.customer), "%s", s->customer);
	for (size_t i = 0; i < s->n_probes; i++) {
		if (now - s->probe_ts[i] > c->cfg.global_window_s)
			continue;
		memcpy(g.probes[g.n_probes++], s->probes[i], GW_ID_MAX);
	}
	c->st.globals++;
	log_info("correlate: source %s reported by %zu probes within %.0f s",
	    g.src, g.n_probes, c->cfg.global_window_s);
	if (c->cb.global != NULL)
		c->cb.global(&g, c->cb.ctx);
}

/* Returns the customer's state, creating it; NULL when full or out of memory. */
static struct corr_customer *
correlate_customer(struct correlate *c, const char *id)
{
	struct corr_customer *cu = idmap_get(c->customers, id);

	if (cu != NULL)
		return cu;
	if (idmap_count(c->customers) >= CORRELATE_CUSTOMERS_MAX ||
	    (cu = calloc(1, sizeof(*cu))) == NULL) {
		c->st.dropped_full++;
		return NULL;
	}
	snprintf(cu->id, sizeof(cu->id), "%s", id);
	if (idmap_put(c->customers, id, cu) == -1) {
		free(cu);
		c->st.dropped_full++;
		return NULL;
	}
	return cu;
}

/* Adds addr to the customer's source set (replacing the oldest when full). */
static void
correlate_dist_add(struct corr_dist *d, const char *addr, double now)
{
	size_t i, oldest = 0;

	for (i = 0; i < d->n; i++) {
		if (strcmp(d->set[i].addr, addr) == 0) {
			d->set[i].ts = now;
			return;
		}
		if (d->set[i].ts < d->set[oldest].ts)
			oldest = i;
	}
	i = d->n < CORRELATE_DIST_SET_MAX ? d->n++ : oldest;
	snprintf(d->set[i].addr, sizeof(d->set[i].addr), "%s", addr);
	d->set[i].ts = now;
}

static size_t
correlate_dist_count(const struct correlate *c, const struct corr_dist *d,
    double now)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		if (now - d->set[i].ts <= c->cfg.distributed_window_s)
			n++;
	return n;
}

/* Builds and emits a distributed_attack event (or its clear). */
static void
correlate_dist_emit(struct correlate *c, const struct corr_customer *cu,
    size_t nsrc, bool cleared, double now)
{
	const struct corr_dist *d = cu->dist;
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts = now;
	ev.cleared = cleared;
	snprintf(ev.customer, sizeof(ev.customer), "%s", cu->id);
	snprintf(ev.kind, sizeof(ev.kind), "distributed_attack");
	snprintf(ev.severity, sizeof(ev.severity), "high");
	snprintf(ev.direction, sizeof(ev.direction), "rx");
	snprintf(ev.dst, sizeof(ev.dst), "%s", d->dst);
	ev.rate_pps = d->max_pps;
	ev.rate_bps = d->max_bps;
	snprintf(ev.detail, sizeof(ev.detail), "%zu distinct sources within "
	    "%.0f s (%s)", nsrc, c->cfg.distributed_window_s, d->kind);
	for (size_t i = 0; i < d->n && ev.n_top_talkers < GW_LIST_MAX; i++) {
		if (now - d->set[i].ts > c->cfg.distributed_window_s)
			continue;
		snprintf(ev.top_talkers[ev.n_top_talkers++],
		    sizeof(ev.top_talkers[0]), "%s", d->set[i].addr);
	}
	correlate_emit(c, CORRELATE_OPERATOR, &ev);
}

/* The many-sources-against-one-customer rule. */
static void
correlate_dist_rule(struct correlate *c, const struct gw_event *ev,
    double now)
{
	struct corr_customer *cu;
	struct corr_dist *d;
	char addr[GW_ADDR_MAX];
	size_t n;

	if (ev->customer[0] == '\0' ||
	    (cu = correlate_customer(c, ev->customer)) == NULL)
		return;
	if (cu->dist == NULL && (cu->dist = calloc(1, sizeof(*d))) == NULL) {
		c->st.dropped_full++;
		return;
	}
	d = cu->dist;
	if (correlate_addr(ev->src, addr))
		correlate_dist_add(d, addr, now);
	for (size_t i = 0; i < ev->n_top_talkers && i < GW_LIST_MAX; i++)
		if (correlate_addr(ev->top_talkers[i], addr))
			correlate_dist_add(d, addr, now);
	if (ev->rate_pps > d->max_pps)
		d->max_pps = ev->rate_pps;
	if (ev->rate_bps > d->max_bps)
		d->max_bps = ev->rate_bps;
	snprintf(d->dst, sizeof(d->dst), "%s", ev->dst);
	snprintf(d->kind, sizeof(d->kind), "%s", ev->kind);
	n = correlate_dist_count(c, d, now);
	if (!d->active && n >= c->cfg.distributed_min_sources) {
		d->active = true;
		log_info("correlate: distributed attack on %s: %zu sources",
		    cu->id, n);
		correlate_dist_emit(c, cu, n, false, now);
	}
}

void
correlate_event(struct correlate *c, const char *probe_id,
    const struct gw_event *ev, double now)
{
	char src[GW_ADDR_MAX];

	if (c == NULL || probe_id == NULL || ev == NULL)
		return;
	c->st.events_seen++;
	if (ev->cleared || !correlate_is_attack_kind(ev->kind) ||
	    strcmp(ev->direction, "tx") == 0)
		return;
	if (correlate_addr(ev->src, src))
		correlate_global_rule(c, probe_id, ev, src, now);
	correlate_dist_rule(c, ev, now);
}

/* Emits probe_silent for p (or its clear). */
static void
correlate_silent_emit(struct correlate *c, const struct corr_probe *p,
    bool cleared, double now)
{
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts = now;
	ev.cleared = cleared;
	snprintf(ev.kind, sizeof(ev.kind), "probe_silent");
	snprintf(ev.severity, sizeof(ev.severity), "high");
	if (cleared)
		snprintf(ev.detail, sizeof(ev.detail), "probe %s is back",
		    p->id);
	else
		snprintf(ev.detail, sizeof(ev.detail), "probe %s silent for "
		    "%.0f s", p->id, now - p->last_seen);
	correlate_emit(c, p->id, &ev);
}

void
correlate_probe_seen(struct correlate *c, const char *probe_id,
    double interval_s, double now)
{
	struct corr_probe *p;

	if (c == NULL || probe_id == NULL)
		return;
	if ((p = idmap_get(c->probes, probe_id)) == NULL) {
		if (idmap_count(c->probes) >= CORRELATE_PROBES_MAX ||
		    (p = calloc(1, sizeof(*p))) == NULL) {
			c->st.dropped_full++;
			return;
		}
		snprintf(p->id, sizeof(p->id), "%s", probe_id);
		if (idmap_put(c->probes, probe_id, p) == -1) {
			free(p);
			c->st.dropped_full++;
			return;
		}
	}
	if (interval_s > 0)
		p->interval_s = interval_s;
	p->last_seen = now;
	if (p->silent) {
		p->silent = false;
		log_info("correlate: probe %s is back", p->id);
		correlate_silent_emit(c, p, true, now);
	}
}

/* Appends a reason to buf when a rule is broken; returns true when bad. */
static bool
correlate_sla_bad(const struct correlate *c, const struct gw_customer_stats *s,
    char *why, size_t len)
{
	const struct correlate_config *k = &c->cfg;
	double loss;

	why[0] = '\0';
	if (s->rtp.packets_expected > 0) {
		loss = 100.0 * (double)s->rtp.packets_lost /
		    (double)s->rtp.packets_expected;
		if (loss > k->sla_loss_pct)
			snprintf(why, len, "RTP loss %.2f%% > %.2f%%", loss,
			    k->sla_loss_pct);
	}
	if (why[0] == '\0' && s->rtp.streams > 0 &&
	    s->rtp.jitter_ms_avg > k->sla_jitter_ms)
		snprintf(why, len, "RTP jitter %.1f ms > %.1f ms",
		    s->rtp.jitter_ms_avg, k->sla_jitter_ms);
	if (why[0] == '\0' && s->tcp.handshakes > 0 &&
	    s->tcp.rtt_wan_ms_avg > k->sla_rtt_ms)
		snprintf(why, len, "TCP WAN RTT %.1f ms > %.1f ms",
		    s->tcp.rtt_wan_ms_avg, k->sla_rtt_ms);
	if (why[0] == '\0' && s->dns.queries > 0 && 100.0 *
	    (double)s->dns.failures / (double)s->dns.queries >
	    k->sla_dns_fail_pct)
		snprintf(why, len, "DNS failures %llu of %llu queries",
		    (unsigned long long)s->dns.failures,
		    (unsigned long long)s->dns.queries);
	return why[0] != '\0';
}

static void
correlate_sla_emit(struct correlate *c, const struct corr_customer *cu,
    bool cleared, double now)
{
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts = now;
	ev.cleared = cleared;
	snprintf(ev.customer, sizeof(ev.customer), "%s", cu->id);
	snprintf(ev.kind, sizeof(ev.kind), "sla_violation");
	snprintf(ev.severity, sizeof(ev.severity), "medium");
	snprintf(ev.detail, sizeof(ev.detail), "%.200s in %u consecutive "
	    "intervals", cleared ? "back within SLA" : cu->why,
	    c->cfg.sla_repeat);
	correlate_emit(c, cu->probe, &ev);
}

void
correlate_stats(struct correlate *c, const char *probe_id,
    const struct gw_customer_stats *cs, double now)
{
	struct corr_customer *cu;
	char why[GW_TEXT_MAX];
	bool bad;

	if (c == NULL || probe_id == NULL || cs == NULL)
		return;
	bad = correlate_sla_bad(c, cs, why, sizeof(why));
	cu = idmap_get(c->customers, cs->customer);
	if (cu == NULL && !bad)
		return;  /* healthy customers never get state */
	if (cu == NULL && (cu = correlate_customer(c, cs->customer)) == NULL)
		return;
	snprintf(cu->probe, sizeof(cu->probe), "%s", probe_id);
	if (bad) {
		memcpy(cu->why, why, sizeof(cu->why));
		cu->good_streak = 0;
		if (++cu->bad_streak >= c->cfg.sla_repeat && !cu->violating) {
			cu->violating = true;
			correlate_sla_emit(c, cu, false, now);
		}
	} else {
		cu->bad_streak = 0;
		if (++cu->good_streak >= c->cfg.sla_repeat && cu->violating) {
			cu->violating = false;
			correlate_sla_emit(c, cu, true, now);
		}
	}
}

struct corr_tick {
	struct correlate *c;
	double now;
};

static void
correlate_tick_probe(const char *key, void *value, void *ctx)
{
	struct corr_tick *t = ctx;
	struct corr_probe *p = value;
	double timeout = t->c->cfg.silent_timeout_s;

	(void)key;
	if (timeout <= 0)
		timeout = 3 * (p->interval_s > 0 ? p->interval_s : 10);
	if (!p->silent && t->now - p->last_seen > timeout) {
		p->silent = true;
		log_warn("correlate: probe %s silent for %.0f s", p->id,
		    t->now - p->last_seen);
		correlate_silent_emit(t->c, p, false, t->now);
	}
}

static void
correlate_tick_customer(const char *key, void *value, void *ctx)
{
	struct corr_tick *t = ctx;
	struct corr_customer *cu = value;
	size_t n;

	(void)key;
	if (cu->dist == NULL || !cu->dist->active)
		return;
	n = correlate_dist_count(t->c, cu->dist, t->now);
	if (n * 2 < t->c->cfg.distributed_min_sources) {
		cu->dist->active = false;
		log_info("correlate: distributed attack on %s over", cu->id);
		correlate_dist_emit(t->c, cu, n, true, t->now);
		cu->dist->max_pps = 0;	/* the next attack starts afresh */
		cu->dist->max_bps = 0;
	}
}

void
correlate_tick(struct correlate *c, double now)
{
	struct corr_tick t = { c, now };

	if (c == NULL)
		return;
	idmap_foreach(c->probes, correlate_tick_probe, &t);
	idmap_foreach(c->customers, correlate_tick_customer, &t);
}
