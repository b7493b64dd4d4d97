/* metrics.h: the Prometheus text exposition of /metrics, rendered from plain snapshots (no locks, no HTTP). */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>

#include "live.h"
#include "store.h"

#define METRICS_MAX_CUSTOMERS_DEFAULT 10000
#define METRICS_MAX_CUSTOMERS_MAX     1000000

/*
 * Everything one scrape shows; the arrays are borrowed and not modified.
 *
 * Cardinality: per-customer series carry exactly one label, customer; probe
 * series one label, probe; operator series none (rejected_total has reason,
 * four values). When there are more customers than max_customers, only the
 * max_customers with the highest rx bit/s of their latest interval (ties:
 * smaller id first) are shown, and gatewatch_metrics_customers_omitted says
 * how many were left out.
 *
 * Per-customer quality gauges describe the latest interval and are omitted
 * (no sample, not NaN) when that interval had no such traffic: RTT without a
 * TCP handshake, jitter without an RTP stream, loss without expected RTP
 * packets, DNS latency without a DNS response. NaN would poison sums and
 * averages across customers; an absent sample is simply not plotted.
 */
struct metrics_snapshot {
	const struct live_customer_view *customers;  /* borrowed, any order */
	size_t n_customers;
	const struct live_probe_info *probes;        /* borrowed, any order */
	size_t n_probes;
	struct live_counters counters;
	struct store_counters store;
	double now;             /* wall clock, s since the epoch (probe ages) */
	double uptime_s;        /* operator uptime */
	size_t max_customers;   /* 0 = METRICS_MAX_CUSTOMERS_DEFAULT */
};

/*
 * Renders the snapshot in the Prometheus text format 0.0.4 (HELP and TYPE
 * for every family; customers in id order, probes in the given order).
 * Linear in the number of series. On success returns 0 and a NUL-terminated
 * buffer in *out (the caller frees it with free()) of *len bytes; returns -1
 * when out of memory (*out = NULL).
 */
int metrics_render(const struct metrics_snapshot *s, char **out, size_t *len);

/*
 * Writes in as a label value (without the quotes): backslash, double quote
 * and line feed escaped as the text format requires. Truncates to fit
 * outlen (never inside an escape) and NUL-terminates when outlen > 0.
 * Returns the length written. 2 * strlen(in) + 1 bytes always suffice.
 */
size_t metrics_escape_label(const char *in, char *out, size_t outlen);

#endif
