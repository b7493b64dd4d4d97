/* gw-capacity-feed.c: writes weeks of synthetic 10 s customer stats through the operator's store (rrdcached) for the capacity tests and bench. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"
#include "report.h"
#include "store.h"
#include "usage.h"

/*
 * The series are defined in integers so that tests/integration/
 * test_capacity_report.sh can rebuild them exactly in Python (capacity_gen.py):
 *   day = (t - t0) / 86400, hour = (t / 3600) % 24 (UTC), h(x) = x * 2654435761 mod 2^32
 *   rx_bytes(t) = (B + G * day) * S[hour] / 100 + (h(t) % 1000) * J
 *   tx_bytes(t) = rx_bytes(t) / 4 + h(t + 1) % 777
 * per 10 s interval ending at t. Application bytes go to DB through usage.c,
 * by local day (run it with the operator's TZ). Customer "gap" misses days 10 and 11, every
 * step with h(t) % 50 == 0, and on day DAYS-26 the steps ending in the first
 * 200 s of each hour (so those 300 s rows are unknown); customer "gap" also
 * misses days DAYS-21 and DAYS-20. QoS only for "qos". sla_violation breaches
 * are placed relative to B = t0 + (DAYS - 30) days. The daily roll-up
 * (report.c) runs every 6 simulated hours, as the operator would.
 */
static const int feed_shape[24] = {
	40, 30, 25, 20, 20, 25, 35, 50, 60, 65, 70, 75,
	80, 80, 85, 90, 100, 115, 130, 150, 160, 140, 100, 60,
};

struct feed_cust {
	const char *id;
	int64_t base, growth, jitter;
	int gaps, qos;
};

static const struct feed_cust feed_custs[] = {
	{ "grow",  50000000, 600000, 2000, 0, 0 },
	{ "gap",   20000000, 100000, 5000, 1, 0 },
	{ "shrink", 30000000, -200000, 1000, 0, 0 },
	{ "qos",   10000000, 0, 3000, 0, 1 },
};

static uint32_t
feed_h(int64_t x)
{
	return (uint32_t)((uint64_t)x * 2654435761u);
}

static int64_t feed_days;

static int
feed_skip(const struct feed_cust *c, int64_t t, int64_t t0)
{
	int64_t day = (t - t0) / 86400;

	if (!c->gaps)
		return 0;
	if (day == feed_days - 21 || day == feed_days - 20 || feed_h(t) % 50 == 0)
		return 1;
	return day == feed_days - 26 && t % 3600 >= 10 && t % 3600 <= 200;
}

static void
feed_stats(const struct feed_cust *c, int64_t t, int64_t t0,
    struct gw_customer_stats *cs)
{
	int64_t day = (t - t0) / 86400, hour = (t / 3600) % 24;
	int64_t rx = (c->base + c->growth * day) * feed_shape[hour] / 100 +
	    (int64_t)(feed_h(t) % 1000) * c->jitter;

	memset(cs, 0, sizeof(*cs));
	snprintf(cs->customer, sizeof(cs->customer), "%s", c->id);
	cs->rx_bytes = (uint64_t)rx;
	cs->tx_bytes = (uint64_t)(rx / 4 + feed_h(t + 1) % 777);
	cs->rx_packets = cs->rx_bytes / 1000;
	cs->tx_packets = cs->tx_bytes / 1000;
	cs->flows_active = 3;
	/* applications: TLS 3/4 of the bytes, DNS a little, QUIC the rest */
	cs->n_apps = 3;
	snprintf(cs->apps[0].app, sizeof(cs->apps[0].app), "TLS");
	cs->apps[0].rx_bytes = cs->rx_bytes * 3 / 4;
	cs->apps[0].tx_bytes = cs->tx_bytes * 3 / 4;
	snprintf(cs->apps[1].app, sizeof(cs->apps[1].app), "DNS");
	cs->apps[1].rx_bytes = 1000 + feed_h(t + 6) % 100;
	cs->apps[1].tx_bytes = 500;
	snprintf(cs->apps[2].app, sizeof(cs->apps[2].app), "QUIC");
	cs->apps[2].rx_bytes = cs->rx_bytes - cs->apps[0].rx_bytes - cs->apps[1].rx_bytes;
	cs->apps[2].tx_bytes = cs->tx_bytes - cs->apps[0].tx_bytes - cs->apps[1].tx_bytes;
	if (c->qos) {
		cs->tcp.handshakes = 1;
		cs->tcp.rtt_wan_ms_avg = 10 + (double)(feed_h(t + 2) % 90);
		cs->dns.responses = 1;
		cs->dns.latency_ms_avg = 1 + (double)(feed_h(t + 3) % 40);
		cs->rtp.streams = 1;
		cs->rtp.packets = 500;
		cs->rtp.packets_expected = 500;
		cs->rtp.packets_lost = feed_h(t + 4) % 7;
		cs->rtp.jitter_ms_avg = (double)(feed_h(t + 5) % 25);
	}
}

/* Adds an sla_violation breach [a, b) for customer "qos". */
static void
feed_sla(struct events *es, double a, double b)
{
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.customer, sizeof(ev.customer), "qos");
	snprintf(ev.kind, sizeof(ev.kind), "sla_violation");
	snprintf(ev.severity, sizeof(ev.severity), "medium");
	ev.ts = a;
	events_add(es, "p1", a, &ev, NULL);
	ev.ts = b;
	ev.cleared = true;
	events_add(es, "p1", b, &ev, NULL);
}

/* Waits for the writer (up to 5 x 60 s: the machine may be loaded). 0 or -1. */
static int
feed_sync(struct store *st)
{
	for (int i = 0; i < 5; i++)
		if (store_sync(st, 60000) == 0)
			return 0;
	fprintf(stderr, "gw-capacity-feed: store did not drain in 300 s\n");
	return -1;
}

int
main(int argc, char **argv)
{
	struct store_config cfg = { 0 };
	struct store_counters c;
	struct store *st;
	struct events *es = NULL;
	struct usage *us = NULL;
	struct report *rep = NULL;
	struct timespec a, b;
	int64_t t0, days, n = 0;
	size_t ncust = sizeof(feed_custs) / sizeof(feed_custs[0]);

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: gw-capacity-feed RRD_DIR RRDCACHED|- DB|- "
		    "T0 DAYS [CUSTOMERS]\n  writes DAYS days of 10 s stats from T0 "
		    "(multiple of 300) for the built-in customers (or the first N)\n");
		return 2;
	}
	log_init("gw-capacity-feed", LOG_LVL_WARN, false);
	cfg.dir = argv[1];
	cfg.rrdcached = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
	t0 = strtoll(argv[4], NULL, 10);
	days = strtoll(argv[5], NULL, 10);
	feed_days = days;
	if (argc == 7 && (size_t)atoi(argv[6]) < ncust)
		ncust = (size_t)atoi(argv[6]);
	if (t0 <= 0 || t0 % 300 != 0 || days < 1 || days > 400)
		return 2;
	if ((st = store_new(&cfg)) == NULL)
		return 1;
	if (strcmp(argv[3], "-") != 0) {
		struct events_config ec = { .path = argv[3] };
		struct usage_config uc = { .flush_s = 3600, .keep_days = 400 };
		if ((es = events_open(&ec)) == NULL)
			return 1;
		uc.events = es;
		if ((us = usage_new(&uc)) == NULL)
			return 1;
		if ((rep = report_new(&(struct report_config){ .store = st,
		    .events = es })) == NULL)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int64_t t = t0 + 10; t <= t0 + days * 86400; t += 10) {
		for (size_t k = 0; k < ncust; k++) {
			struct gw_customer_stats cs;
			if (feed_skip(&feed_custs[k], t, t0))
				continue;
			feed_stats(&feed_custs[k], t, t0, &cs);
			if (store_submit(st, (double)t, 10.0, &cs) == -1)
				return 1;
			usage_add(us, (double)t, &cs);
			n++;
		}
		if (us != NULL && t % 86400 == 0 && usage_flush(us, (double)t) == -1)
			return 1;
		if ((t / 10) % 4096 == 0 && feed_sync(st) == -1)
			return 1;
		if (rep != NULL && t % 21600 == 0) {
			if (feed_sync(st) == -1)
				return 1;
			report_rollup_tick(rep, (time_t)t, (size_t)-1);
		}
	}
	if (feed_sync(st) == -1)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	store_counters_get(st, &c);
	report_free(rep);
	store_free(st, 60000);
	if (es != NULL) {
		if (usage_flush(us, (double)(t0 + days * 86400)) == -1)
			return 1;
		usage_free(us);
		/* 90 min + 35 min inside day 3 after B, one breach across B + 1 day */
		int64_t b0 = t0 + (days - 30) * 86400;
		feed_sla(es, (double)(b0 + 3 * 86400 + 3600), (double)(b0 + 3 * 86400 + 9000));
		feed_sla(es, (double)(b0 + 3 * 86400 + 20000), (double)(b0 + 3 * 86400 + 22100));
		feed_sla(es, (double)(b0 + 86400 - 600), (double)(b0 + 86400 + 1200));
		events_close(es);
	}
	printf("steps %" PRId64 " updates %llu errors %llu dropped %llu "
	    "out_of_order %llu bytes_per_customer %llu seconds %.1f\n", n,
	    (unsigned long long)c.rrd_updates, (unsigned long long)c.rrd_errors,
	    (unsigned long long)c.queue_dropped, (unsigned long long)c.out_of_order,
	    (unsigned long long)c.file_bytes,
	    (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return c.rrd_errors == 0 && c.queue_dropped == 0 ? 0 : 1;
}
