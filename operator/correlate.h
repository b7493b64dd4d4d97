/* correlate.h: cross-probe correlation: multi-probe sources, distributed attacks, SLA breaches, silent probes. */
#ifndef GW_CORRELATE_H
#define GW_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"

/*
 * Not thread-safe: fed from the ingest thread only. Memory is bounded by the
 * caps below; when a table is full, new keys are dropped and counted.
 * All times are operator wall clock in seconds since the epoch (the `now`
 * arguments), not packet time, so replayed captures correlate as they arrive.
 */
struct correlate;

#define CORRELATE_SOURCES_MAX    4096   /* attack sources tracked for the multi-probe rule */
#define CORRELATE_DIST_SET_MAX   256    /* distinct sources kept per attacked customer */
#define CORRELATE_CUSTOMERS_MAX  65536  /* customers with SLA or distributed state */
#define CORRELATE_PROBES_MAX     4096

/* Zero fields take the defaults given in brackets. */
struct correlate_config {
	uint32_t global_min_probes;       /* K probes reporting one source [2] */
	double   global_window_s;         /* ... within W seconds [60] */
	uint32_t distributed_min_sources; /* distinct sources against one customer [20],
	                                   * at most CORRELATE_DIST_SET_MAX */
	double   distributed_window_s;    /* ... within W seconds [60] */
	double   silent_timeout_s;        /* probe silent after this long; 0 = three of
	                                   * its intervals (30 s when the interval is unknown) */
	uint32_t sla_repeat;              /* consecutive bad intervals before an SLA
	                                   * violation, and good ones before its clear [3] */
	double   sla_loss_pct;            /* RTP loss above this is bad [1.0] */
	double   sla_jitter_ms;           /* RTP mean jitter above this is bad [30] */
	double   sla_rtt_ms;              /* TCP WAN handshake RTT above this is bad [300] */
	double   sla_dns_fail_pct;        /* DNS failures/queries above this is bad [5] */
};

/* The probe id given with events the operator itself derives. */
#define CORRELATE_OPERATOR "operator"

/* One source reported by at least K probes within W seconds. */
struct correlate_global {
	double   ts;                      /* now when the rule fired */
	char     src[GW_ADDR_MAX];
	char     kind[GW_NAME_MAX];       /* kind of the latest report */
	char     customer[GW_ID_MAX];     /* customer of the latest report */
	size_t   n_probes;
	char     probes[GW_LIST_MAX][GW_ID_MAX];
};

/*
 * Output callbacks (either may be NULL). event() gets operator events of kind
 * distributed_attack, probe_silent and sla_violation (and their clears, with
 * ev->cleared set); probe_id is the silent probe for probe_silent, the
 * reporting probe for sla_violation and "operator" for distributed_attack.
 * global() fires when the multi-probe rule holds, and again at most once per
 * window while it keeps holding (so bans get extended). Pointers are only
 * valid during the call. Callbacks must not call back into correlate.
 */
struct correlate_callbacks {
	void (*event)(const char *probe_id, const struct gw_event *ev, void *ctx);
	void (*global)(const struct correlate_global *g, void *ctx);
	void *ctx;                        /* borrowed */
};

/* Creates a correlator; cfg may be NULL for defaults. NULL on bad config / ENOMEM. */
struct correlate *correlate_new(const struct correlate_config *cfg,
    const struct correlate_callbacks *cb);

/* Frees everything. NULL is a no-op. */
void correlate_free(struct correlate *c);

/*
 * Feeds one event reported by probe_id. Attack events (syn_flood, udp_flood,
 * icmp_flood, port_scan, host_sweep; not cleared; direction not "tx") with a
 * source count for the multi-probe rule; their src and top-talker addresses
 * count as distinct sources against ev->customer. Other events are ignored.
 */
void correlate_event(struct correlate *c, const char *probe_id,
    const struct gw_event *ev, double now);

/*
 * Records that probe_id sent something at now. interval_s is its reporting
 * interval when known (from Hello), else <= 0. Emits the clear of a pending
 * probe_silent.
 */
void correlate_probe_seen(struct correlate *c, const char *probe_id,
    double interval_s, double now);

/* Feeds one customer's interval summary (SLA rules). */
void correlate_stats(struct correlate *c, const char *probe_id,
    const struct gw_customer_stats *cs, double now);

/*
 * Periodic work (call about once a second): silent probes, distributed
 * attacks that have calmed down (cleared below half the threshold), expiry
 * of old sources.
 */
void correlate_tick(struct correlate *c, double now);

struct correlate_stats_snapshot {
	uint64_t events_seen;
	uint64_t globals;          /* global() calls */
	uint64_t emitted;          /* event() calls */
	uint64_t dropped_full;     /* keys refused because a table was full */
};
void correlate_stats_get(const struct correlate *c,
    struct correlate_stats_snapshot *out);

/* True when kind names a probe attack kind counted by correlate_event. */
bool correlate_is_attack_kind(const char *kind);

#endif
