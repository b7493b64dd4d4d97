/* usage.h: bytes per application, customer and local day, summed in memory and written to SQLite once a minute. */
#ifndef GW_USAGE_H
#define GW_USAGE_H

#include <stdint.h>

#include "events.h"
#include "gwmsg.h"

#define USAGE_FLUSH_S    60
#define USAGE_KEEP_DAYS  62        /* covers any last calendar month */
#define USAGE_ROWS_MAX   200000    /* (customer, day, app) rows held between flushes */

struct usage_config {
	struct events *events;     /* borrowed; writer thread's handle */
	unsigned       flush_s;    /* 0 = USAGE_FLUSH_S */
	unsigned       keep_days;  /* 0 = USAGE_KEEP_DAYS: older days are deleted */
};

struct usage;

/* Returns NULL when out of memory. Ingest (events writer) thread only, like every call below. */
struct usage *usage_new(const struct usage_config *cfg);

/* Flushes and frees. NULL is a no-op. */
void usage_free(struct usage *u);

/*
 * Adds the applications of one customer interval to the local day of ts
 * (s since the epoch). When USAGE_ROWS_MAX rows are pending, new rows are
 * dropped and counted.
 */
void usage_add(struct usage *u, double ts, const struct gw_customer_stats *cs);

/* Writes the pending rows when flush_s have passed since the last write. */
void usage_tick(struct usage *u, double now);

/* Writes the pending rows now. Returns 0 or -1 (kept for the next try). */
int usage_flush(struct usage *u, double now);

/* Rows dropped because USAGE_ROWS_MAX were pending. */
uint64_t usage_dropped(const struct usage *u);

/* Local midnight (s since the epoch) of the day holding t. */
int64_t usage_day(int64_t t);

#endif
