/* engine.c: one pass per packet through every probe module, and interval closing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "interval.h"
#include "log.h"
#include "quality.h"

#define ENGINE_CHUNK          128      /* customers per stats report message */
#define ENGINE_GAP_FILL_MAX   60       /* empty intervals emitted across a gap */
#define ENGINE_TICK_GRACE_US  200000   /* live: wait for late packets */
#define ENGINE_DETECT_TICK_US 100000   /* detector windows advance this often */
#define FLOWF_INTER           0x100    /* flow between two customers */
#define FLOWF_SHED            0x200    /* no DPI/quality for this flow (load shedding) */
#define ENGINE_SHED_WINDOW_US 100000   /* auto shedding: one load measurement per 100 ms of packet time */
#define ENGINE_SHED_GAP_US    10000000 /* ... none across a longer jump of packet time */
#define ENGINE_SHED_SAMPLE    64       /* ... DPI/QoS timed on one admitted packet in this many */

/* Auto shedding: the load of the current window of packet time. */
struct engine_shed_window {
	uint64_t start_us;                 /* packet time; 0 = not started */
	uint64_t cpu_start_ns;             /* thread CPU time at start */
	struct shed_load load;             /* counts so far (window_us, cpu_us set at the end) */
	uint32_t tick;                     /* admitted packets, for sampling */
};

struct engine {
	struct engine_config cfg;
	const struct customer_map *map;    /* borrowed */
	struct flow_table *flows;
	struct dpi *dpi;
	struct quality *quality;
	struct detect *detect;
	struct shed *shed;
	struct interval *iv;
	struct interval_names names;
	struct gw_customer_stats *chunk;   /* ENGINE_CHUNK entries */
	struct engine_counters cnt;
	struct engine_shed_window sw;
	uint64_t last_detect_tick_us;
	uint64_t last_ts_us;
	uint64_t clock_us;                 /* packet time engine_clock is moving to */
	bool finished;
};

static const char *
engine_name_customer(int c, void *ctx)
{
	struct engine *e = ctx;

	return c >= 0 ? customer_id(e->map, c) : CUSTOMER_UNMAPPED_ID;
}

static const char *
engine_name_app(uint16_t app, void *ctx)
{
	struct engine *e = ctx;

	return dpi_app_name(e->dpi, app);
}

static const char *
engine_name_category(uint16_t cat, void *ctx)
{
	struct engine *e = ctx;

	return dpi_category_name(e->dpi, cat);
}

static void
engine_on_event(const struct gw_event *ev, void *ctx)
{
	struct engine *e = ctx;

	if (e->cfg.sink.event != NULL)
		e->cfg.sink.event(ev, e->cfg.sink.ctx);
}

/* The customer match of a packet of flow f in direction dir (cached at creation). */
static struct customer_match
engine_flow_match(const struct flow *f, int dir)
{
	struct customer_match m;
	int a = f->customer, b = f->peer_customer;

	if (f->init_is_customer) {
		m.tx = a;
		m.rx = b;
	} else {
		m.tx = b;
		m.rx = a;
	}
	if (dir == FLOW_REV) {
		int t = m.tx;
		m.tx = m.rx;
		m.rx = t;
	}
	m.inter = (f->flags & FLOWF_INTER) != 0;
	return m;
}

static void
engine_fill_record(struct engine *e, const struct flow *f, enum flow_end why,
    struct gw_flow_record *r)
{
	int fwd_tx = f->init_is_customer ? FLOW_FWD : FLOW_REV;

	memset(r, 0, sizeof(*r));
	snprintf(r->customer, sizeof(r->customer), "%s",
	    engine_name_customer(f->customer, e));
	r->first_ts = (double)f->record_start_us / 1e6;
	r->last_ts = (double)f->last_us / 1e6;
	r->ip_proto = f->proto;
	gw_addr_str(&f->src, r->src, sizeof(r->src));
	gw_addr_str(&f->dst, r->dst, sizeof(r->dst));
	r->sport = f->sport;
	r->dport = f->dport;
	r->vlan = f->vlan_inner ? f->vlan_inner : f->vlan_outer;
	snprintf(r->app, sizeof(r->app), "%s", dpi_app_name(e->dpi, f->app));
	snprintf(r->category, sizeof(r->category), "%s",
	    dpi_category_name(e->dpi, f->category));
	r->tx_bytes = f->bytes[fwd_tx];
	r->tx_packets = f->pkts[fwd_tx];
	r->rx_bytes = f->bytes[1 - fwd_tx];
	r->rx_packets = f->pkts[1 - fwd_tx];
	snprintf(r->end_reason, sizeof(r->end_reason), "%s", flow_end_name(why));
}

/* Tells detect about a flow that timed out or was evicted without any answer. */
static void
engine_flow_unanswered(struct engine *e, const struct flow *f)
{
	struct detect_unanswered u;

	u.src = f->src;
	u.dst = f->dst;
	u.sport = f->sport;
	u.dport = f->dport;
	u.ip_proto = f->proto;
	u.bare_syn = (f->flags & FLOWF_EMBRYONIC) != 0;
	u.last_us = f->last_us;
	u.silent_us = e->clock_us > f->last_us ? e->clock_us - f->last_us : 0;
	u.m = engine_flow_match(f, FLOW_FWD);
	detect_flow_unanswered(e->detect, &u);
}

static void
engine_on_flow_end(struct flow *f, enum flow_end why, void *ctx)
{
	struct engine *e = ctx;
	struct gw_flow_record rec;

	if ((why == FLOW_END_IDLE || why == FLOW_END_EVICTED) &&
	    !(f->flags & FLOWF_REPLIED) && (f->proto == 6 || f->proto == 17))
		engine_flow_unanswered(e, f);
	if (why != FLOW_END_ACTIVE)
		dpi_flow_end(e->dpi, f);
	if (e->cfg.sink.flow != NULL) {
		engine_fill_record(e, f, why, &rec);
		quality_flow_end(e->quality, f, why, &rec);
		e->cfg.sink.flow(&rec, e->cfg.sink.ctx);
	} else {
		quality_flow_end(e->quality, f, why, NULL);
	}
	if (why != FLOW_END_ACTIVE) {
		interval_flow_gone(e->iv, f->customer);
		if (f->flags & FLOWF_INTER)
			interval_flow_gone(e->iv, f->peer_customer);
	}
}

struct engine *
engine_new(const struct engine_config *cfg)
{
	struct engine *e = calloc(1, sizeof(*e));
	size_t n = customer_count(cfg->map);

	if (e == NULL)
		return NULL;
	e->cfg = *cfg;
	e->map = cfg->map;
	e->names = (struct interval_names){ engine_name_customer, engine_name_app,
	    engine_name_category, e };
	e->iv = interval_new(n, cfg->interval_us ? cfg->interval_us : 1000000);
	e->chunk = calloc(ENGINE_CHUNK, sizeof(*e->chunk));
	e->dpi = dpi_new(&cfg->dpi);
	e->quality = quality_new(n);
	e->detect = detect_new(cfg->map, engine_on_event, e);
	e->shed = shed_new(&cfg->shed);
	if (e->iv == NULL || e->chunk == NULL || e->dpi == NULL ||
	    e->quality == NULL || e->detect == NULL || e->shed == NULL) {
		log_err("engine: initialisation failed");
		goto fail;
	}
	if (cfg->thresholds_path != NULL &&
	    detect_load_thresholds(e->detect, cfg->thresholds_path) != 0)
		goto fail;
	e->flows = flow_table_new(&cfg->flow, engine_on_flow_end, e);
	if (e->flows == NULL) {
		log_err("engine: cannot allocate the flow table");
		goto fail;
	}
	return e;
fail:
	engine_free(e);
	return NULL;
}

/* Emits the current interval's report (in chunks) and advances to the next one. */
static void
engine_close_interval(struct engine *e)
{
	uint64_t end = interval_end_us(e->iv);
	size_t n = interval_close_prepare(e->iv), k = 0, j;
	struct gw_stats_report r;
	int c;

	do {
		memset(&r, 0, sizeof(r));
		r.ts = (double)end / 1e6;
		r.interval = (double)interval_length_us(e->iv) / 1e6;
		for (j = 0; j < ENGINE_CHUNK && k < n; j++, k++) {
			c = interval_fill(e->iv, k, &e->names, &e->chunk[j]);
			quality_interval(e->quality, c, end, &e->chunk[j]);
		}
		r.customers = e->chunk;
		r.n_customers = j;
		engine_fill_health(e, &r.health);
		e->cnt.reports++;
		if (e->cfg.sink.stats != NULL)
			e->cfg.sink.stats(&r, e->cfg.sink.ctx);
	} while (k < n);
	interval_next(e->iv);
}

static uint64_t
engine_clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Auto shedding: at each 100 ms of packet time, hands the CPU time this
 * thread spent on it and the sampled DPI/QoS cost to the shed module.
 */
static void
engine_shed_window(struct engine *e, uint64_t now_us)
{
	struct engine_shed_window *w = &e->sw;
	uint64_t cpu_ns, budget;

	if (w->start_us != 0 && now_us >= w->start_us &&
	    now_us < w->start_us + ENGINE_SHED_WINDOW_US)
		return;
	cpu_ns = engine_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (w->start_us != 0 && now_us < w->start_us + ENGINE_SHED_GAP_US &&
	    cpu_ns >= w->cpu_start_ns) {
		w->load.window_us = now_us - w->start_us;
		w->load.cpu_us = (cpu_ns - w->cpu_start_ns) / 1000;
		budget = shed_auto_update(e->shed, &w->load);
		log_debug("shed: %.0f ms of packet time took %.1f ms of CPU; %" PRIu64
		    " packets with DPI/QoS, %" PRIu64 " shed; budget now %" PRIu64 " packets/s",
		    w->load.window_us / 1e3, w->load.cpu_us / 1e3, w->load.work_packets,
		    w->load.shed_packets, budget);
	}
	memset(&w->load, 0, sizeof(w->load));
	w->start_us = now_us;
	w->cpu_start_ns = cpu_ns;
}

/* Moves packet time to now_us: closes passed intervals, expires idle flows. */
static void
engine_clock(struct engine *e, uint64_t now_us)
{
	uint64_t len = interval_length_us(e->iv);

	e->clock_us = now_us;
	if (!interval_started(e->iv)) {
		interval_start_at(e->iv, now_us);
		e->last_detect_tick_us = now_us;
	}
	while (now_us >= interval_end_us(e->iv)) {
		flow_table_expire(e->flows, interval_end_us(e->iv));
		detect_tick(e->detect, interval_end_us(e->iv));
		engine_close_interval(e);
		if (now_us >= interval_end_us(e->iv) &&
		    (now_us - interval_end_us(e->iv)) / len >= ENGINE_GAP_FILL_MAX) {
			/* A long gap (spliced captures jump by years): skip it. */
			interval_start_at(e->iv, now_us);
			break;
		}
	}
	if (now_us - e->last_detect_tick_us >= ENGINE_DETECT_TICK_US &&
	    now_us > e->last_detect_tick_us) {
		detect_tick(e->detect, now_us);
		e->last_detect_tick_us = now_us;
	}
	flow_table_expire(e->flows, now_us);
	if (e->cfg.shed.auto_budget)
		engine_shed_window(e, now_us);
	if (now_us > e->last_ts_us)
		e->last_ts_us = now_us;
}

/* Bytes of f counted as Unknown in this interval before DPI named it move to its app. */
static void
engine_reassign_app(struct engine *e, const struct flow *f, int dir,
    const struct pkt *p)
{
	uint64_t prev[2], start = interval_end_us(e->iv) - interval_length_us(e->iv);
	int fwd_tx = f->init_is_customer ? FLOW_FWD : FLOW_REV;

	if (f->app == 0 || f->record_start_us < start)
		return;
	prev[FLOW_FWD] = f->bytes[FLOW_FWD];
	prev[FLOW_REV] = f->bytes[FLOW_REV];
	prev[dir] -= p->ip_bytes;
	interval_move_app(e->iv, f->customer, 0, f->app, f->category,
	    prev[1 - fwd_tx], prev[fwd_tx]);
	if (f->flags & FLOWF_INTER)
		interval_move_app(e->iv, f->peer_customer, 0, f->app, f->category,
		    prev[fwd_tx], prev[1 - fwd_tx]);
}

static void
engine_flow_created(struct engine *e, struct flow *f, const struct pkt *p,
    struct customer_match *m)
{
	e->cnt.flows_created++;
	*m = customer_lookup(e->map, p);
	if (m->tx != CUSTOMER_NONE) {
		f->customer = m->tx;
		f->init_is_customer = true;
		f->peer_customer = m->rx;
	} else {
		f->customer = m->rx;
		f->init_is_customer = false;
		f->peer_customer = CUSTOMER_NONE;
	}
	if (m->inter && m->tx != m->rx && m->rx != CUSTOMER_NONE)
		f->flags |= FLOWF_INTER;
	interval_flow_new(e->iv, f->customer);
	if (f->flags & FLOWF_INTER)
		interval_flow_new(e->iv, f->peer_customer);
}

/* The work shedding skips: DPI (until the flow is classified) and quality measurement. */
static void
engine_work(struct engine *e, struct flow *f, const struct pkt *p, int dir)
{
	if (f->dpi_state == DPI_PENDING && dpi_packet(e->dpi, f, p, dir))
		engine_reassign_app(e, f, dir, p);
	quality_packet(e->quality, f, p, dir);
}

/* Marks f shed for its life; says why when this starts an episode of shedding. */
static void
engine_shed_flow(struct engine *e, struct flow *f)
{
	struct shed_stats st;

	f->flags |= FLOWF_SHED;
	e->cnt.shed_flows++;
	shed_get_stats(e->shed, &st);
	if (st.starts != e->cnt.shed_starts) {
		e->cnt.shed_starts = st.starts;
		log_info("shed: new flows get no DPI/QoS: %s", st.reason);
	}
}

static void
engine_ip_packet(struct engine *e, const struct pkt *p)
{
	struct customer_match m;
	struct flow *f;
	int dir = FLOW_FWD;
	bool created = false, attack;
	uint16_t app = 0, cat = 0;

	f = flow_table_packet(e->flows, p, &dir, &created);
	if (f == NULL)
		m = customer_lookup(e->map, p);
	else if (created)
		engine_flow_created(e, f, p, &m);
	else
		m = engine_flow_match(f, dir);
	attack = detect_packet_flow(e->detect, p, &m,
	    (f == NULL || f->pkts[dir] == 1 ? DETECT_FIRST : 0) |
	    (f != NULL && f->pkts[1 - dir] > 0 ? DETECT_REPLY : 0));
	if (attack)
		e->cnt.attack_packets++;
	if (f != NULL && !attack) {
		/* A new flow is admitted or shed for its life; admitted ones are charged. */
		if (!(f->flags & FLOWF_SHED) && !shed_admit(e->shed, p->ts_us, created))
			engine_shed_flow(e, f);
		if (f->flags & FLOWF_SHED) {
			e->cnt.shed_packets++;
			e->sw.load.shed_packets++;
			interval_shed(e->iv, f->customer);
		} else if (e->cfg.shed.auto_budget &&
		    ++e->sw.tick % ENGINE_SHED_SAMPLE == 0) {
			uint64_t t0 = engine_clock_ns(CLOCK_MONOTONIC);

			engine_work(e, f, p, dir);
			e->sw.load.sample_ns += engine_clock_ns(CLOCK_MONOTONIC) - t0;
			e->sw.load.samples++;
			e->sw.load.work_packets++;
		} else {
			engine_work(e, f, p, dir);
			e->sw.load.work_packets++;
		}
	}
	if (f != NULL) {
		app = f->app;
		cat = f->category;
	}
	interval_account(e->iv, m.tx, m.rx, p->ip_bytes, app, cat);
}

void
engine_packet(struct engine *e, const struct engine_frame *fr)
{
	struct pkt p;
	enum decode_result r;

	if (e->finished)
		return;
	e->cnt.packets++;
	/* decode_packet resets every field but these three, which are ours. */
	r = decode_packet(e->cfg.dlt, fr->data, fr->caplen, &p);
	p.ts_us = fr->ts_us;
	p.caplen = fr->caplen;
	p.wirelen = fr->wirelen;
	if ((unsigned)r < DECODE_RESULT_MAX)
		e->cnt.by_result[r]++;
	engine_clock(e, fr->ts_us);
	if (!decode_is_ip(r))
		return;
	e->cnt.ip_packets++;
	e->cnt.ip_bytes += p.ip_bytes;
	engine_ip_packet(e, &p);
}

void
engine_tick(struct engine *e, uint64_t now_us)
{
	if (e->finished || !interval_started(e->iv))
		return;
	if (now_us >= interval_end_us(e->iv) + ENGINE_TICK_GRACE_US)
		engine_clock(e, now_us - ENGINE_TICK_GRACE_US);
}

void
engine_finish(struct engine *e)
{
	if (e->finished)
		return;
	e->finished = true;
	if (interval_started(e->iv))
		engine_close_interval(e);
	flow_table_free(e->flows);
	e->flows = NULL;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	if (e->flows != NULL && e->iv != NULL && e->dpi != NULL && e->quality != NULL)
		engine_finish(e);
	else
		flow_table_free(e->flows);
	detect_free(e->detect);
	shed_free(e->shed);
	quality_free(e->quality);
	dpi_free(e->dpi);
	interval_free(e->iv);
	free(e->chunk);
	free(e);
}

void
engine_get_counters(const struct engine *e, struct engine_counters *out)
{
	*out = e->cnt;
}

void
engine_fill_health(const struct engine *e, struct gw_health *h)
{
	struct flow_stats fs;
	int r;

	h->decode_errors = 0;
	for (r = 0; r < DECODE_RESULT_MAX; r++)
		if (r != DECODE_OK && r != DECODE_NON_IP)
			h->decode_errors += e->cnt.by_result[r];
	h->non_ip = e->cnt.by_result[DECODE_NON_IP];
	if (e->flows != NULL) {
		flow_table_stats(e->flows, &fs);
		h->flows_evicted = fs.evicted;
		h->flows_active = fs.active;
	}
	h->shed_budget_pps = engine_shed_budget(e, NULL, 0);
}

uint64_t
engine_shed_budget(const struct engine *e, char *reason, size_t reason_len)
{
	struct shed_stats st;

	shed_get_stats(e->shed, &st);
	if (reason != NULL && reason_len > 0)
		snprintf(reason, reason_len, "%s", st.reason);
	return st.budget_pps;
}

struct flow_table *
engine_flows(struct engine *e)
{
	return e->flows;
}

struct detect *
engine_detect(struct engine *e)
{
	return e->detect;
}

const struct dpi *
engine_dpi(const struct engine *e)
{
	return e->dpi;
}

const struct customer_map *
engine_map(const struct engine *e)
{
	return e->map;
}
