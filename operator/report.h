/* report.h: capacity-planning reports from the 300 s RRD rows: totals, 95th percentiles, busy hour, trend, top-N. */
#ifndef GW_REPORT_H
#define GW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "events.h"
#include "gwmsg.h"
#include "store.h"

/*
 * Definitions (stated in the API docs too):
 * - A report covers the period [from, to) in the operator's time zone (TZ of
 *   the process; --tz). Its samples are the 300 s rows of the RRD
 *   (STORE_HIST_STEP_S, "native step") whose interval (t - 300, t] lies in it.
 *   A row is unknown when rx or tx is unknown; the unknown share is unknown
 *   rows / rows. When the 300 s rows no longer cover the period, the step
 *   the file could give is reported (step_s) and exact is false.
 * - Rates are bit/s (the RRD holds bytes/s; x 8). Totals are bytes: the sum
 *   of rate x step over the known rows.
 * - 95th percentile: nearest rank. Sort the N known samples, take the one at
 *   1-based rank ceil(0.95 N). (rrdtool's PERCENTNAN takes 0-based index
 *   round(0.95 (N - 1)), which is one rank lower when N mod 20 is 12..19.)
 * - max: per row max(rx, tx), then the percentile of those.
 * - Peak: the largest known sample, at the end time of its row (earliest on
 *   ties). Busy hour: the hour of day (local) whose known rows have the
 *   highest mean of rx + tx; a row belongs to the hour its interval starts in.
 * - QoS: p95 and mean of the 300 s values of rtt_wan_ms, jitter_ms,
 *   rtp_loss_pct and dns_ms (rows where the source is known).
 * - Top applications: bytes per application summed over the local days
 *   that start in [from, to) (usage.c: days of operator receive time).
 * - SLA-breach minutes: time inside [from, to) between an sla_violation
 *   event and its clear (table sla_breach, events.h; up to 1000 breaches
 *   per period); a breach still open counts until min(to, now).
 * - Trend: daily 95th percentiles (a local day with at least half of its
 *   rows known) of the REPORT_TREND_DAYS before `to` (from the 300 s rows
 *   where the RRD holds them, older ones from the daily roll-up, see
 *   report_rollup_tick), fitted by least squares
 *   (bit/s against days); growth per month = slope x 30.4375 / fitted value
 *   on the last day; r = Pearson correlation. With a plan rate, the dates the
 *   fitted line reaches 80 % and 100 % of it; none when the slope is <= 0.
 */
#define REPORT_PCT          95.0
#define REPORT_TREND_DAYS   84      /* 12 weeks */
#define REPORT_TREND_MIN    14      /* fewer daily values: no fit */
#define REPORT_DAYS_MAX     (REPORT_TREND_DAYS + 2)
#define REPORT_TOP_MAX      1000    /* most rows one top-N page returns */
#define REPORT_APPS_MAX     10      /* top applications in a report */
#define REPORT_ROLLUP_KEEP_DAYS 120 /* daily 95th values kept in the database */

struct report_app {
	char   app[GW_NAME_MAX];
	double rx_bytes, tx_bytes;
};

/* ---- pure computations (no I/O) ---- */

/*
 * Nearest-rank percentile (pct in (0, 100]) of the n values in v, which are
 * sorted in place. NAN when n == 0.
 */
double report_percentile(double *v, size_t n, double pct);

/* Least-squares line y = intercept + slope * x and Pearson r (0 when undefined). */
struct report_fit {
	size_t n;
	double slope, intercept, r;
};

/* Fits n >= 2 points; returns 0, or -1 when n < 2 or every x is equal. */
int report_lsq(const double *x, const double *y, size_t n,
    struct report_fit *out);

/* Local calendar month containing t, months_back months earlier: [from, to). */
void report_month(time_t t, int months_back, time_t *from, time_t *to);

/*
 * Parses a date in local time: "YYYY-MM" (the month's first midnight) or
 * "YYYY-MM-DD" (that midnight). Returns 1 and *out, 0 when s is not in
 * either form (try another syntax), -1 for an impossible date.
 */
int report_parse_date(const char *s, time_t *out);

/* Plan rates per customer: "CUSTOMER DOWN/UP" lines, "default DOWN/UP". */
struct report_plans;

/*
 * Loads a plan file: lines "CUSTOMER DOWN/UP" (or "default DOWN/UP"), rates
 * in bit/s with an optional k/M/G suffix (powers of 1000): "c101 100M/20M".
 * Returns NULL on error (logged with file:line).
 */
struct report_plans *report_plans_load(const char *path);

/* Same from a string (name used in messages). */
struct report_plans *report_plans_parse(const char *name, const char *text);

/* Frees. NULL is a no-op. */
void report_plans_free(struct report_plans *p);

/* The plan of customer (or the default). Returns false when none. */
bool report_plan_get(const struct report_plans *p, const char *customer,
    double *down_bps, double *up_bps);

/* Parses "100M" style rates (bit/s). 0 or -1. */
int report_parse_rate(const char *s, double *bps);

struct report_dir {
	double total_bytes;
	double p95_bps, mean_bps, peak_bps;
	time_t peak_ts;            /* end of the peak row; 0 without data */
};

struct report_qos {
	size_t known;
	double p95, mean;          /* NAN without data */
};

struct report_trend {
	size_t days;               /* daily values used */
	time_t t0;                 /* x = 0: the first daily value's midnight */
	time_t last_ts;            /* the last daily value's midnight */
	double slope_bps_day, intercept_bps, r;
	bool   fitted;
	double growth_pct_month;   /* NAN when the fitted last value is <= 0 */
	bool   has_plan;
	double plan_bps;
	time_t sat80_ts, sat100_ts; /* 0 = no saturation in sight */
};

struct report_customer {
	char   customer[GW_ID_MAX];
	time_t from, to;
	unsigned long step_s;      /* step of the rows used */
	bool   exact;              /* step_s == STORE_HIST_STEP_S */
	size_t rows, known;
	double unknown_share;      /* 0..1 */
	struct report_dir rx, tx, max;
	int    busy_hour;          /* 0..23, -1 without data */
	double busy_hour_bps;
	double hour_mean_bps[24];  /* NAN for hours without data */
	struct report_qos rtt_wan, jitter, rtp_loss, dns;
	bool   has_sla;
	double sla_breach_minutes;
	bool   has_apps;           /* the database answered */
	size_t napps;
	struct report_app apps[REPORT_APPS_MAX];  /* most bytes first */
	struct report_trend trend_rx, trend_tx;
	double daily_p95_rx[REPORT_DAYS_MAX], daily_p95_tx[REPORT_DAYS_MAX];
	time_t daily_ts[REPORT_DAYS_MAX];
	size_t ndaily;
};

/*
 * Computes every traffic and QoS figure of [from, to) from rows (no trend,
 * no SLA). Pure. Returns 0, or -1 when out of memory.
 */
int report_compute(const struct store_rows *rows, time_t from, time_t to,
    struct report_customer *out);

/*
 * Computes the daily rx/tx 95th percentiles of the local days in rows that
 * end by `to` (at most REPORT_DAYS_MAX, the latest kept) into out->daily_*,
 * then the trends (plan: down for rx, up for tx; <= 0 = none). Pure.
 */
int report_trend(const struct store_rows *rows, time_t to, double plan_down,
    double plan_up, struct report_customer *out);

/* Fits the trends of out's daily values again (after adding some). Pure. */
void report_fit_daily(struct report_customer *out, double plan_down,
    double plan_up);

/*
 * SLA-breach minutes in [from, to) from sla_violation events sorted by time:
 * an event opens a breach, its cleared event closes it; one still open
 * counts until min(to, now). Pure.
 */
double report_sla_minutes(const double *ts, const bool *cleared, size_t n,
    time_t from, time_t to, double now);

/* ---- the report service (API threads) ---- */

struct report;

struct report_config {
	struct store  *store;       /* borrowed */
	struct events *events;      /* borrowed; NULL = no SLA figures */
	struct report_plans *plans; /* borrowed; NULL = no plans */
	unsigned       cache_s;     /* top-N cache lifetime (0 = 300) */
};

/* Returns NULL when out of memory. */
struct report *report_new(const struct report_config *cfg);

/* NULL is a no-op. */
void report_free(struct report *r);

/*
 * Full report of one customer for [from, to), with trend and SLA. Returns 0,
 * or -1 with err (*missing set when the customer has no RRD file).
 */
int report_customer_get(struct report *r, const char *customer, time_t from,
    time_t to, struct report_customer *out, bool *missing, char *err,
    size_t errlen);

enum report_key {
	REPORT_BY_P95 = 0, REPORT_BY_TOTAL, REPORT_BY_GROWTH,
	REPORT_BY_SATURATION, REPORT_BY_SLA,
};

/* Parses "p95", "total", "growth", "saturation", "sla". 0 or -1. */
int report_key_parse(const char *s, enum report_key *out);
const char *report_key_name(enum report_key k);

/* One row of a top-N table. */
struct report_top_row {
	char   customer[GW_ID_MAX];
	double p95_bps;            /* max(rx, tx) 95th */
	double rx_p95_bps, tx_p95_bps;
	double total_bytes;        /* rx + tx */
	double growth_pct_month;   /* the larger of rx and tx; NAN without fit */
	time_t saturation_ts;      /* earliest 100 % date of rx/tx; 0 = none */
	double sla_breach_minutes;
	double unknown_share;
	bool   exact;
};

struct report_top_req {
	time_t from, to;
	enum report_key by;
	bool   ascending;          /* default: descending (saturation: soonest first) */
	size_t offset, limit;      /* limit 1..REPORT_TOP_MAX */
};

/*
 * Ranks every customer with files (reports cached for cache_s per period).
 * Returns 0 with a new array *rows (caller frees with free()) of *n rows
 * (the page) and *total (all customers). -1 with err.
 */
int report_top(struct report *r, const struct report_top_req *q,
    struct report_top_row **rows, size_t *n, size_t *total, char *err,
    size_t errlen);

/*
 * Daily roll-up: stores the daily rx/tx 95th percentiles of complete local
 * days in the events database (table daily_p95, REPORT_ROLLUP_KEEP_DAYS),
 * so trends reach back 12 weeks although the RRD keeps 32 days of 300 s
 * rows. Visits at most budget customers per call, each once a day; call
 * about once a second. Events writer (ingest) thread only.
 */
void report_rollup_tick(struct report *r, time_t now, size_t budget);

#endif
