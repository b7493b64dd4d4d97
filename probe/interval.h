/* interval.h: per-customer per-interval accumulators (usage, apps, flows) closed on packet time. */
#ifndef GW_INTERVAL_H
#define GW_INTERVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"

#define INTERVAL_APP_OTHER 0xffff   /* app id collecting bytes beyond GW_APPS_MAX-1 apps */

/* Resolves customer indexes and app/category ids to names (borrowed strings). */
struct interval_names {
	const char *(*customer)(int c, void *ctx);
	const char *(*app)(uint16_t app, void *ctx);
	const char *(*category)(uint16_t category, void *ctx);
	void *ctx;
};

struct interval;

/*
 * New accumulators for customer indexes 0..n_customers-1 and intervals of
 * interval_us (> 0) aligned to multiples of interval_us since the epoch.
 * NULL on allocation failure.
 */
struct interval *interval_new(size_t n_customers, uint64_t interval_us);
void interval_free(struct interval *iv);

/* True once interval_start_at has been called. */
bool interval_started(const struct interval *iv);

/* Makes the current interval the one containing now_us (counters are kept). */
void interval_start_at(struct interval *iv, uint64_t now_us);

/* End of the current interval (exclusive), microseconds since the epoch. */
uint64_t interval_end_us(const struct interval *iv);

uint64_t interval_length_us(const struct interval *iv);

/*
 * Counts one IP packet of ip_bytes: as tx for customer tx_c and as rx for
 * customer rx_c (either may be -1; when both are the same customer it is
 * counted once, as tx), under application app/category.
 */
void interval_account(struct interval *iv, int tx_c, int rx_c, uint32_t ip_bytes,
    uint16_t app, uint16_t category);

/*
 * Moves up to rx_bytes/tx_bytes of customer c in the current interval from
 * application `from` to `to` (used when DPI classifies a flow whose first
 * packets were counted before the verdict).
 */
void interval_move_app(struct interval *iv, int c, uint16_t from, uint16_t to,
    uint16_t to_category, uint64_t rx_bytes, uint64_t tx_bytes);

/* A flow of customer c was created / ended (flows_new and the flows_active gauge). */
void interval_flow_new(struct interval *iv, int c);
void interval_flow_gone(struct interval *iv, int c);

/* One packet of customer c got no DPI/QoS (load shedding): shed_packets. */
void interval_shed(struct interval *iv, int c);

/*
 * Closing the current interval: returns how many customers have something to
 * report (traffic, new flows or active flows) and fixes that list.
 * Then call interval_fill for k = 0..n-1 and interval_next.
 */
size_t interval_close_prepare(struct interval *iv);

/*
 * Writes the k-th reported customer's usage, apps and flow counters into out
 * (rtp/tcp/dns/udp zeroed, for the quality module to fill) and resets them.
 * Returns that customer's index, or -1 if k is out of range.
 */
int interval_fill(struct interval *iv, size_t k, const struct interval_names *names,
    struct gw_customer_stats *out);

/* Advances to the next interval (the one starting at the closed one's end). */
void interval_next(struct interval *iv);

#endif
