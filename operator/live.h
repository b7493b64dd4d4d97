/* live.h: in-memory live state for the HTTP API: latest + recent intervals per customer, probes, events. */
#ifndef GW_LIVE_H
#define GW_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"

/*
 * Thread-safety: one writer (the ingest thread) and any number of readers
 * (HTTP threads). Every function takes the internal mutex for a short, bounded
 * critical section; readers get copies they own, never pointers into the state.
 */
struct live;

#define LIVE_HISTORY_DEFAULT 60
#define LIVE_HISTORY_MAX     86400
#define LIVE_EVENTS_DEFAULT  1000

/* One past interval of one customer (history ring entry). */
struct live_point {
	double   ts;        /* interval end, packet time */
	double   interval;  /* s */
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_packets;
	uint64_t tx_packets;
};

/*
 * The latest interval that carried each kind of quality measurement, so a
 * dashboard can show the last RTT, jitter or DNS time of a customer whose
 * latest interval had no handshake, RTP or DNS answer. *_ts is that
 * interval's end (packet time); 0 means never since the operator started.
 */
struct live_quality {
	double   rtp_ts;                  /* an interval with rtp.streams > 0 */
	double   tcp_ts;                  /* ... with tcp.handshakes > 0 */
	double   dns_ts;                  /* ... with dns.responses > 0 */
	struct gw_rtp_summary rtp;
	struct gw_tcp_summary tcp;
	struct gw_dns_summary dns;
};

/* A reader's copy of one customer's latest interval. */
struct live_customer_view {
	char     id[GW_ID_MAX];
	char     probe[GW_ID_MAX];
	double   ts;
	double   interval;
	struct gw_customer_stats stats;   /* latest interval, apps included */
	uint64_t reports;                 /* intervals received since start */
	uint64_t total_rx_bytes;          /* sums since the operator started */
	uint64_t total_tx_bytes;
	uint64_t total_rx_packets;
	uint64_t total_tx_packets;
	struct live_quality last;         /* latest measured quality, by kind */
};

/* Per-probe information (kept by ingest, copied in whole). */
struct live_probe_info {
	char     id[GW_ID_MAX];
	char     address[GW_ADDR_MAX + 16]; /* peer address as seen by ZeroMQ */
	double   first_seen;                /* wall clock, s since the epoch */
	double   last_seen;
	uint64_t messages;                  /* accepted envelopes */
	uint64_t accepted;                  /* the same, kept across operator restarts
	                                     * by --seq-state (consistent with seq and
	                                     * lost there) */
	uint64_t lost;                      /* sequence gaps */
	uint64_t duplicates;                /* seq already seen */
	uint64_t reordered;                 /* late seq that filled a gap */
	uint64_t rejected;                  /* envelopes refused for this probe */
	uint64_t restarts;                  /* seq went back (Hello) */
	uint64_t seq;                       /* highest seq of the current run */
	uint64_t away;                      /* seqs the probe sent to other shards
	                                     * (Hello after a move): not lost */
	bool     left;                      /* last word was a "leaving" heartbeat:
	                                     * reporting to another shard now */
	uint64_t by_type[8];                /* accepted envelopes per gw_body */
	size_t   customers;                 /* customers in the last stats report */
	double   last_report_ts;            /* packet time of the last stats report */
	bool     has_hello;
	struct gw_hello hello;
	bool     has_health;
	struct gw_health health;
};

/* One event as kept in memory. */
struct live_event {
	uint64_t id;                /* 1, 2, ... in arrival order */
	double   received;          /* wall clock */
	char     probe[GW_ID_MAX];
	struct gw_event ev;
};

/*
 * Creates the live state keeping history_n intervals per customer (1 ..
 * LIVE_HISTORY_MAX) and the last events_n events (>= 1). Returns NULL on bad
 * arguments or when out of memory. Free with live_free().
 */
struct live *live_new(size_t history_n, size_t events_n);

/* Frees everything. NULL is a no-op. */
void live_free(struct live *lv);

/*
 * Records one customer's interval from a stats report of probe_id. cs is
 * copied. Returns 0, or -1 when out of memory (counted, state unchanged).
 */
int live_customer_update(struct live *lv, const char *probe_id, double ts,
    double interval, const struct gw_customer_stats *cs);

/*
 * Copies every customer, sorted by id, into a new array stored in *out (the
 * caller frees it with free()) and its length in *n. Returns 0 or -1 (out of
 * memory, *out = NULL).
 */
int live_customers_list(struct live *lv, struct live_customer_view **out,
    size_t *n);

/*
 * Copies one customer into *out and its history (oldest first) into a new
 * array *hist (caller frees; NULL when empty) of *nhist points. Returns 0,
 * -1 when the customer is unknown or out of memory.
 */
int live_customer_get(struct live *lv, const char *id,
    struct live_customer_view *out, struct live_point **hist, size_t *nhist);

/* True when the customer has been seen. */
bool live_customer_known(struct live *lv, const char *id);

/* Number of customers seen. */
size_t live_customer_count(struct live *lv);

/* Stores a copy of info under info->id (replacing older information). 0 or -1 (ENOMEM). */
int live_probe_update(struct live *lv, const struct live_probe_info *info);

/* Copies every probe, sorted by id, like live_customers_list. */
int live_probes_list(struct live *lv, struct live_probe_info **out, size_t *n);

/* Appends an event from probe_id to the ring (the oldest falls out). */
void live_event_add(struct live *lv, const char *probe_id,
    const struct gw_event *ev);

/*
 * Copies the events with id > after_id, oldest first, at most max, into a
 * new array (caller frees). Returns 0 or -1 (out of memory).
 */
int live_events_list(struct live *lv, uint64_t after_id, size_t max,
    struct live_event **out, size_t *n);

/* Operator-wide ingest counters, published by ingest, read by the API. */
struct live_counters {
	uint64_t envelopes;      /* frames received (valid or not) */
	uint64_t accepted;       /* decoded and accepted */
	uint64_t rejected;       /* all refusals (the reasons below) */
	uint64_t garbage;        /* envelope_decode() failed */
	uint64_t bad_frames;     /* wrong ZeroMQ framing */
	uint64_t unknown_probe;  /* not on the --probes allowlist */
	uint64_t key_mismatch;   /* CURVE key listed for another probe id */
	uint64_t zap_denied;     /* CURVE handshakes refused */
	uint64_t lost;
	uint64_t duplicates;
	uint64_t reordered;
	uint64_t restarts;
	uint64_t by_type[8];
	uint64_t live_errors;
	uint64_t commands_sent;
	uint64_t commands_failed;
};

/* Replaces the published counters with a copy of c. */
void live_counters_set(struct live *lv, const struct live_counters *c);

/* Copies the published counters into *out. */
void live_counters_get(struct live *lv, struct live_counters *out);

#endif
