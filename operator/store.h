/* store.h: per-customer RRD files written through rrdcached; the only librrd user. */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gwmsg.h"

/*
 * Two files per customer (layout and sizes: store.c, README): DIR/<customer>.rrd
 * at base step STORE_STEP_S holding one day of 10 s rows, and
 * DIR/STORE_HIST_SUBDIR/<customer>.rrd at base step STORE_HIST_STEP_S holding
 * 32 days of 300 s rows and 3 years of daily means. An old single-file
 * customer (no 300 s file) keeps working from its one file. Both files hold
 * every data source below. Every
 * data source is a GAUGE holding a per-second rate or a level, so that a
 * fetch returns exactly what the probes measured:
 *   rx_bytes tx_bytes rx_packets tx_packets flows_new: sum of the counts of
 *     the intervals in the step / sum of their lengths (per second);
 *   flows_active: time-weighted mean level;
 *   rtt_wan_ms rtt_lan_ms (weight: handshakes), jitter_ms (weight: RTP
 *     packets), dns_ms (weight: responses): weighted means; rtt_p95_ms: the
 *     largest p95 reported in the step; rtp_loss_pct: lost/expected*100;
 *     retrans_pct: retransmits/segments*100. U when the step had no sample.
 * Reports are aggregated per customer and step in memory (ingest thread);
 * a step is written when a report for a later step arrives, when the
 * customer has been idle STORE_IDLE_FLUSH_S (wall clock), or at shutdown.
 * A step without any report is written as U. Reports for a step already
 * written are dropped and counted (out_of_order).
 * Writing happens in the store's own thread through one FIFO of steps (the
 * backlog), so a slow or absent rrdcached never blocks ingest. The backlog
 * holds at most backlog_bytes of steps (store_update_bytes() each); it grows
 * on demand from STORE_QUEUE_MIN steps and shrinks back when it drains. When
 * it is full the OLDEST step is dropped and counted (dropped), so each
 * file keeps its newest points and their order. When rrdcached is down
 * (connect refused, broken pipe, no reply) the step being written and the
 * rest of its batch go back to the head of the backlog in order; the
 * writer reconnects with exponential backoff (1 s .. 30 s) and replays
 * them oldest first, per file in time order (rrdcached rejects a time not
 * after the file's last one). A step that already reached one of the two
 * files is only sent to the other; a retried step rrdcached refuses
 * because its file already holds that time (the reply was lost with the
 * connection) counts as written.
 */
#define STORE_STEP_S       10
#define STORE_HIST_STEP_S  300      /* the native step of reports */
#define STORE_HIST_SUBDIR  "5m"
#define STORE_IDLE_FLUSH_S 15
#define STORE_QUEUE_MIN    4096     /* steps allocated while nothing is pending */
#define STORE_BACKLOG_DEFAULT (16u << 20)  /* bytes */
#define STORE_BACKLOG_MIN  (1u << 20)
#define STORE_BACKLOG_MAX  (4096ull << 20)

enum store_ds {
	STORE_DS_RX_BYTES = 0, STORE_DS_TX_BYTES, STORE_DS_RX_PACKETS,
	STORE_DS_TX_PACKETS, STORE_DS_FLOWS_ACTIVE, STORE_DS_FLOWS_NEW,
	STORE_DS_RTT_WAN_MS, STORE_DS_RTT_LAN_MS, STORE_DS_RTT_P95_MS,
	STORE_DS_JITTER_MS, STORE_DS_RTP_LOSS_PCT, STORE_DS_RETRANS_PCT,
	STORE_DS_DNS_MS,
	STORE_DS_COUNT
};

struct store_config {
	const char *dir;        /* RRD directory (created if missing) */
	const char *rrdcached;  /* "unix:/path", "/path" or "host:port"; NULL = write files directly */
	uint64_t    backlog_bytes; /* 0 = STORE_BACKLOG_DEFAULT; else
	                          * STORE_BACKLOG_MIN..STORE_BACKLOG_MAX */
	unsigned    idle_flush_s; /* 0 = STORE_IDLE_FLUSH_S */
};

struct store_counters {
	uint64_t reports;        /* customer intervals submitted */
	uint64_t steps;          /* steps queued for writing */
	uint64_t rrd_updates;    /* successful update commands */
	uint64_t rrd_errors;     /* failed update/create commands */
	uint64_t rrd_creates;    /* files created */
	uint64_t out_of_order;   /* reports/steps dropped: time not increasing */
	uint64_t queue_dropped;  /* steps dropped: backlog full (same as dropped) */
	uint64_t queue_len;      /* steps in the backlog now */
	uint64_t pending;        /* steps not written yet: backlog + batch in hand */
	uint64_t retried;        /* steps written after a failed attempt */
	uint64_t dropped;        /* steps dropped, oldest first: backlog full */
	uint64_t backlog_max;    /* steps the backlog may hold (from backlog_bytes) */
	uint64_t backlog_bytes;  /* bytes allocated for the backlog now */
	uint64_t reconnects;     /* connection attempts to rrdcached */
	bool     connected;      /* writer connected to rrdcached now */
	uint64_t file_bytes;     /* size of one customer file */
	uint64_t files;          /* customers known to the store */
};

/* Bytes one step takes in the backlog. */
size_t store_update_bytes(void);

struct store;

/*
 * Creates the directory if needed, computes the file size and starts the
 * writer thread. Connecting to rrdcached is retried in the background, so a
 * missing daemon is not an error here. Returns NULL on error (logged).
 */
struct store *store_new(const struct store_config *cfg);

/*
 * Flushes every pending step, waits up to timeout_ms for the writer to
 * drain the queue, asks rrdcached to flush, stops the thread and frees. NULL
 * is a no-op.
 */
void store_free(struct store *st, int timeout_ms);

/*
 * Adds one customer interval (ts = interval end, packet time; interval in
 * s). Ingest thread only. Returns 0, or -1 when dropped (out of order, bad
 * time, out of memory; counted).
 */
int store_submit(struct store *st, double ts, double interval,
    const struct gw_customer_stats *cs);

/* Writes steps idle for idle_flush_s. Ingest thread only; call about once a second. */
void store_tick(struct store *st, double now_wall);

/* Writes every pending step now (e.g. before shutdown). Ingest thread only. */
void store_flush_pending(struct store *st);

/*
 * Writes every pending step and waits up to timeout_ms until the writer has
 * written everything queued (ingest thread). Returns 0 when drained, -1 on
 * timeout or while rrdcached is unreachable.
 */
int store_sync(struct store *st, int timeout_ms);

/* Copies the counters (any thread). */
void store_counters_get(struct store *st, struct store_counters *out);

/* Returns the DS index of name, or -1 when it is not a data source. */
int store_ds_index(const char *name);

/* Name of data source i (NULL when out of range). */
const char *store_ds_name(int i);

/* A series read (any thread). */
struct store_query {
	const char *customer;
	const char *metric;     /* DS name */
	const char *cf;         /* "AVERAGE" or "MAX" */
	time_t      from, to;
	unsigned long resolution; /* s; 0 = finest */
};

struct store_series {
	time_t   start;         /* time of values[0] is start + step */
	time_t   end;
	unsigned long step;
	size_t   n;
	double  *values;        /* owned, NAN = unknown; free with store_series_clear */
};

/*
 * Reads one data source (after asking rrdcached to flush the file). Returns
 * 0 on success, -1 on error with a reason in err; *missing is set when the
 * customer has no file.
 */
int store_series_read(struct store *st, const struct store_query *q,
    struct store_series *out, bool *missing, char *err, size_t errlen);

/* Frees what store_series_read() allocated. */
void store_series_clear(struct store_series *s);

#define STORE_GRAPH_METRICS_MAX 8
#define STORE_GRAPH_ARG_MAX     (PATH_MAX + 128)
#define STORE_GRAPH_ARGS_MAX    (16 + 3 * STORE_GRAPH_METRICS_MAX)

/*
 * A graph request: one line per metric, byte metrics drawn as bit/s;
 * optionally a horizontal rule (e.g. a 95th percentile) and a straight trend
 * line bps(t) = trend_bps0 + trend_slope_bps_s * (t - trend_t0).
 */
struct store_graph_req {
	const char *customer;
	const char *metrics;    /* comma-separated DS names, 1..STORE_GRAPH_METRICS_MAX */
	time_t      from, to;
	unsigned    width, height;  /* canvas pixels: 100..4000 x 50..2000 */
	const char *title;      /* NULL = the customer id */
	bool        svg;        /* SVG instead of PNG */
	bool        has_hrule;
	double      hrule_bps;
	const char *hrule_label; /* NULL = "95th percentile"; no ':' */
	bool        has_trend;
	time_t      trend_t0;
	double      trend_bps0, trend_slope_bps_s;
};

/*
 * Renders a PNG (or SVG) with librrd's rrd_graph_v (through rrdcached with --daemon
 * when one is configured; graphs run one at a time). On success returns 0
 * and a new buffer *png (caller frees with free()) of *len bytes. Returns -1
 * with a reason in err; *missing is set when the customer has no file.
 */
int store_graph(struct store *st, const struct store_graph_req *g,
    unsigned char **png, size_t *len, bool *missing, char *err, size_t errlen);

/*
 * Every data source of one customer at the report step: row r covers
 * (start + r * step, start + (r + 1) * step]. step is what the file could
 * give for the period: STORE_HIST_STEP_S when its 300 s rows cover `from`,
 * else a coarser one (callers must say so or refuse).
 */
struct store_rows {
	time_t        start;
	unsigned long step;
	size_t        n;
	double       *v[STORE_DS_COUNT];   /* owned; NAN = unknown; NULL = not in the file */
};

struct store_rows_req {
	const char *customer;
	time_t      from, to;
	bool        clip;     /* raise from to the first 300 s row the file holds,
	                       * so that the step stays 300 s */
};

/*
 * Reads every data source of a customer for (from, to] at 300 s (after
 * asking rrdcached to flush). Returns 0, or -1 with a reason in err
 * (*missing set when the customer has no file). Free with
 * store_rows_clear(). Any thread.
 */
int store_rows_read(struct store *st, const struct store_rows_req *req,
    struct store_rows *out, bool *missing, char *err, size_t errlen);

/* Frees what store_rows_read() allocated. NULL is a no-op. */
void store_rows_clear(struct store_rows *r);

struct store_id {
	char id[GW_ID_MAX];
};

/*
 * Lists the customers that have files in the RRD directory, sorted by id,
 * into a new array *out (caller frees with free()) of *n entries. Returns 0,
 * or -1 (directory unreadable, out of memory, or a TCP rrdcached without a
 * local directory). Any thread.
 */
int store_customers(struct store *st, struct store_id **out, size_t *n);

#endif
