/* test_operator_store.c: step aggregation, QoS weighting, gaps and out-of-order reports, the two-file layout and old files, read back through RRD files; the backlog ring (order, oldest dropped, retried batches back at the head) and the store's backlog while rrdcached is unreachable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "store.h"
#include "store_queue.h"

#define T0 1700000000.0

struct fixture {
	char dir[64];
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct store_config cfg = { 0 };

	log_init("test_operator_store", LOG_LVL_ERR, false);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gw-test-store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	cfg.dir = f->dir;   /* no rrdcached: direct file writes, same code path otherwise */
	f->st = store_new(&cfg);
	assert_non_null(f->st);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_free(f->st, 5000);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct gw_customer_stats
cs_make(const char *id, uint64_t rx)
{
	struct gw_customer_stats cs;

	memset(&cs, 0, sizeof(cs));
	snprintf(cs.customer, sizeof(cs.customer), "%s", id);
	cs.rx_bytes = rx;
	cs.tx_bytes = rx / 2;
	cs.rx_packets = rx / 100;
	cs.tx_packets = 7;
	cs.flows_active = 4;
	cs.flows_new = 2;
	return cs;
}

/* Reads metric of customer for (from, to]; returns the values by step end. */
static double
series_at(struct store *st, const char *cust, const char *metric, time_t t)
{
	struct store_query q = { .customer = cust, .metric = metric,
	    .cf = "AVERAGE", .from = t - 10, .to = t };
	struct store_series s;
	char err[256];
	bool missing;
	double v = -1;

	assert_int_equal(store_series_read(st, &q, &s, &missing, err,
	    sizeof(err)), 0);
	for (size_t i = 0; i < s.n; i++)
		if (s.start + (time_t)s.step * (time_t)(i + 1) == t)
			v = s.values[i];
	store_series_clear(&s);
	return v;
}

static void
test_rates_and_levels(void **state)
{
	struct fixture *f = *state;
	double sum = 0;

	/* ts 1..10 (step 10): 2 s intervals at 1..4 and 1 s later: rate = sum/secs. */
	for (int k = 1; k <= 10; k++) {
		struct gw_customer_stats cs = cs_make("a1", 1000ULL * k);
		double iv = k <= 4 ? 2.0 : 1.0;
		if (k % 2 == 1 && k <= 4)
			continue;   /* 2 s intervals end at 2 and 4 */
		sum += 1000.0 * k;
		assert_int_equal(store_submit(f->st, T0 + k, iv, &cs), 0);
	}
	assert_int_equal(store_sync(f->st, 5000), 0);
	/* covered seconds: 2 + 2 + 6 x 1 = 10 */
	assert_true(fabs(series_at(f->st, "a1", "rx_bytes", T0 + 10) - sum / 10) < 1e-9);
	assert_true(fabs(series_at(f->st, "a1", "tx_packets", T0 + 10) - 8 * 7 / 10.0) < 1e-9);
	assert_true(fabs(series_at(f->st, "a1", "flows_active", T0 + 10) - 4) < 1e-9);
	assert_true(fabs(series_at(f->st, "a1", "flows_new", T0 + 10) - 16 / 10.0) < 1e-9);
	/* no QoS samples: unknown */
	assert_true(isnan(series_at(f->st, "a1", "rtt_wan_ms", T0 + 10)));
	assert_true(isnan(series_at(f->st, "a1", "dns_ms", T0 + 10)));
}

static void
test_qos_weighting(void **state)
{
	struct fixture *f = *state;
	struct gw_customer_stats a = cs_make("q1", 100), b = cs_make("q1", 100);

	a.tcp.handshakes = 1; a.tcp.rtt_wan_ms_avg = 10; a.tcp.rtt_lan_ms_avg = 2;
	a.tcp.rtt_ms_p95 = 50; a.tcp.segments = 1000; a.tcp.retransmits = 5;
	a.rtp.packets = 100; a.rtp.packets_expected = 100; a.rtp.packets_lost = 2;
	a.rtp.jitter_ms_avg = 4; a.dns.responses = 1; a.dns.latency_ms_avg = 10;
	b.tcp.handshakes = 3; b.tcp.rtt_wan_ms_avg = 30; b.tcp.rtt_lan_ms_avg = 6;
	b.tcp.rtt_ms_p95 = 40; b.tcp.segments = 1000; b.tcp.retransmits = 15;
	b.rtp.packets = 300; b.rtp.packets_expected = 100; b.rtp.packets_lost = 0;
	b.rtp.jitter_ms_avg = 8; b.dns.responses = 3; b.dns.latency_ms_avg = 20;
	assert_int_equal(store_submit(f->st, T0 + 11, 1, &a), 0);
	assert_int_equal(store_submit(f->st, T0 + 12, 1, &b), 0);
	assert_int_equal(store_sync(f->st, 5000), 0);
	assert_true(fabs(series_at(f->st, "q1", "rtt_wan_ms", T0 + 20) - 25) < 1e-9);
	assert_true(fabs(series_at(f->st, "q1", "rtt_lan_ms", T0 + 20) - 5) < 1e-9);
	assert_true(fabs(series_at(f->st, "q1", "rtt_p95_ms", T0 + 20) - 50) < 1e-9);
	assert_true(fabs(series_at(f->st, "q1", "retrans_pct", T0 + 20) - 1) < 1e-9);
	assert_true(fabs(series_at(f->st, "q1", "rtp_loss_pct", T0 + 20) - 1) < 1e-9);
	assert_true(fabs(series_at(f->st, "q1", "jitter_ms", T0 + 20) - 7) < 1e-9);
	assert_true(fabs(series_at(f->st, "q1", "dns_ms", T0 + 20) - 17.5) < 1e-9);
}

static void
test_gap_and_out_of_order(void **state)
{
	struct fixture *f = *state;
	struct gw_customer_stats cs = cs_make("g1", 500);
	struct store_counters c;

	assert_int_equal(store_submit(f->st, T0 + 5, 1, &cs), 0);    /* step 10 */
	assert_int_equal(store_submit(f->st, T0 + 35, 1, &cs), 0);   /* step 40 */
	assert_int_equal(store_submit(f->st, T0 + 8, 1, &cs), -1);   /* step 10 written */
	assert_int_equal(store_submit(f->st, T0 + 41, 1, &cs), 0);   /* step 50 */
	assert_int_equal(store_submit(f->st, T0 + 38, 1, &cs), -1);  /* older than pending */
	assert_int_equal(store_submit(f->st, NAN, 1, &cs), -1);
	assert_int_equal(store_submit(f->st, T0 + 42, -1, &cs), -1);
	assert_int_equal(store_sync(f->st, 5000), 0);
	assert_true(fabs(series_at(f->st, "g1", "rx_bytes", T0 + 10) - 500) < 1e-9);
	assert_true(isnan(series_at(f->st, "g1", "rx_bytes", T0 + 20)));
	assert_true(isnan(series_at(f->st, "g1", "rx_bytes", T0 + 30)));
	assert_true(fabs(series_at(f->st, "g1", "rx_bytes", T0 + 40) - 500) < 1e-9);
	assert_true(fabs(series_at(f->st, "g1", "rx_bytes", T0 + 50) - 500) < 1e-9);
	store_counters_get(f->st, &c);
	assert_int_equal(c.out_of_order, 4);
	assert_int_equal(c.rrd_errors, 0);
	assert_int_equal(c.rrd_updates, 3);
	assert_true(c.file_bytes > 0);
}

static void
test_series_errors(void **state)
{
	struct fixture *f = *state;
	struct store_query q = { .customer = "nobody", .metric = "rx_bytes",
	    .cf = "AVERAGE", .from = (time_t)T0, .to = (time_t)T0 + 100 };
	struct store_series s;
	char err[256];
	bool missing;

	assert_int_equal(store_series_read(f->st, &q, &s, &missing, err,
	    sizeof(err)), -1);
	assert_true(missing);
	assert_int_equal(store_ds_index("rx_bytes"), STORE_DS_RX_BYTES);
	assert_int_equal(store_ds_index("dns_ms"), STORE_DS_DNS_MS);
	assert_int_equal(store_ds_index("nope"), -1);
	assert_string_equal(store_ds_name(STORE_DS_JITTER_MS), "jitter_ms");
	assert_null(store_ds_name(STORE_DS_COUNT));
}


/* Two files per customer, <= 2 MB together; 300 s rows come back through store_rows_read. */
static void
test_layout_and_rows(void **state)
{
	struct fixture *f = *state;
	struct store_rows_req q = { .customer = "L1" };
	struct store_rows r;
	struct store_counters c;
	struct store_id *ids;
	char path[256], err[256];
	bool missing;
	size_t n;
	time_t t0 = 1700000100;   /* multiple of 300 */

	for (int k = 1; k <= 60; k++) {   /* 600 s: two 300 s rows */
		struct gw_customer_stats cs = cs_make("L1", 1000ULL * (k <= 30 ? 1 : 3));
		assert_int_equal(store_submit(f->st, (double)(t0 + 10 * k), 10, &cs), 0);
	}
	{
		struct gw_customer_stats cs = cs_make("L1", 1000);
		assert_int_equal(store_submit(f->st, (double)(t0 + 610), 10, &cs), 0);
	}
	assert_int_equal(store_sync(f->st, 5000), 0);
	snprintf(path, sizeof(path), "%s/L1.rrd", f->dir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/5m/L1.rrd", f->dir);
	assert_int_equal(access(path, R_OK), 0);
	store_counters_get(f->st, &c);
	assert_true(c.file_bytes > 1000000 && c.file_bytes <= 2000000);
	assert_int_equal(c.rrd_creates, 2);
	q.from = t0;
	q.to = t0 + 600;
	assert_int_equal(store_rows_read(f->st, &q, &r, &missing, err,
	    sizeof(err)), 0);
	assert_int_equal(r.step, 300);
	assert_int_equal(r.start, t0);
	assert_true(r.n >= 2);
	assert_true(fabs(r.v[STORE_DS_RX_BYTES][0] - 100) < 1e-9);   /* 1000 B per 10 s */
	assert_true(fabs(r.v[STORE_DS_RX_BYTES][1] - 300) < 1e-9);
	assert_true(fabs(r.v[STORE_DS_TX_BYTES][1] - 150) < 1e-9);
	store_rows_clear(&r);
	store_rows_clear(NULL);
	q.customer = "nobody";
	assert_int_equal(store_rows_read(f->st, &q, &r, &missing, err,
	    sizeof(err)), -1);
	assert_true(missing);
	assert_int_equal(store_customers(f->st, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0].id, "L1");
	free(ids);
}

/* A file in the old single-file layout is kept, written and read as before. */
static void
test_old_layout(void **state)
{
	struct fixture *f = *state;
	char cmd[2048], path[256];
	struct store_counters c;
	size_t off;

	off = (size_t)snprintf(cmd, sizeof(cmd), "rrdtool create %s/old1.rrd "
	    "--start %d --step 10", f->dir, (int)T0 - 100);
	for (int i = 0; i < STORE_DS_COUNT; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
		    " DS:%s:GAUGE:30:0:U", store_ds_name(i));
	snprintf(cmd + off, sizeof(cmd) - off, " RRA:AVERAGE:0.5:1:8640 "
	    "RRA:AVERAGE:0.5:30:10080 RRA:AVERAGE:0.5:360:9600 RRA:MAX:0.5:360:9600");
	assert_int_equal(system(cmd), 0);
	for (int k = 1; k <= 3; k++) {
		struct gw_customer_stats cs = cs_make("old1", 700);
		assert_int_equal(store_submit(f->st, T0 + 10 * k, 10, &cs), 0);
	}
	assert_int_equal(store_sync(f->st, 5000), 0);
	snprintf(path, sizeof(path), "%s/5m/old1.rrd", f->dir);
	assert_int_equal(access(path, F_OK), -1);        /* not migrated */
	assert_true(fabs(series_at(f->st, "old1", "rx_bytes", T0 + 20) - 70) < 1e-9);
	assert_true(fabs(series_at(f->st, "old1", "flows_active", T0 + 20) - 4) < 1e-9);
	store_counters_get(f->st, &c);
	assert_int_equal(c.rrd_creates, 0);
	assert_int_equal(c.rrd_errors, 0);
	{   /* reports read the old file's 5-minute archive (clipped to it: step stays 300) */
		struct store_rows_req q = { .customer = "old1", .from = (time_t)T0 - 86400 * 60,
		    .to = (time_t)T0 + 300, .clip = true };
		struct store_rows r;
		char err[256];
		bool missing;
		assert_int_equal(store_rows_read(f->st, &q, &r, &missing, err,
		    sizeof(err)), 0);
		assert_int_equal(r.step, 300);
		assert_true(r.n > 0 && r.n <= 10080 + 2);   /* 35 days, not 60 */
		assert_non_null(r.v[STORE_DS_RX_BYTES]);
		store_rows_clear(&r);
	}
}

static struct store_update
upd(time_t t)
{
	struct store_update u;

	memset(&u, 0, sizeof(u));
	snprintf(u.customer, sizeof(u.customer), "c%lld", (long long)(t % 3));
	u.t = t;
	return u;
}

/* Takes everything and checks the times are first, first + 1, ... */
static void
expect_run(struct store_queue *q, time_t first, size_t n)
{
	struct store_update out[64];
	size_t got = 0, k;

	while ((k = store_queue_take(q, out, 64)) > 0) {
		for (size_t i = 0; i < k; i++)
			assert_int_equal(out[i].t, first + (time_t)(got + i));
		got += k;
	}
	assert_int_equal(got, n);
	assert_int_equal(q->len, 0);
}

/* Full ring: the oldest goes first, and exactly that many are counted. */
static void
test_queue_drops_oldest(void **state)
{
	struct store_queue q;
	struct store_update u;

	(void)state;
	assert_int_equal(store_queue_init(&q, 10), 0);
	for (time_t t = 1; t <= 10; t++) {
		u = upd(t);
		assert_int_equal(store_queue_push(&q, &u), 0);
	}
	for (time_t t = 11; t <= 13; t++) {
		u = upd(t);
		assert_int_equal(store_queue_push(&q, &u), 1);
	}
	assert_int_equal(q.dropped, 3);
	assert_int_equal(q.len, 10);
	expect_run(&q, 4, 10);
	store_queue_clear(&q);
}

/* A batch that failed goes back at the head in order; what does not fit is its oldest part. */
static void
test_queue_unshift(void **state)
{
	struct store_queue q;
	struct store_update u, batch[4];

	(void)state;
	assert_int_equal(store_queue_init(&q, 8), 0);
	for (time_t t = 1; t <= 8; t++) {
		u = upd(t);
		store_queue_push(&q, &u);
	}
	assert_int_equal(store_queue_take(&q, batch, 4), 4);   /* 1..4 in hand */
	for (time_t t = 9; t <= 10; t++) {   /* ingest goes on: 5..10 queued */
		u = upd(t);
		assert_int_equal(store_queue_push(&q, &u), 0);
	}
	/* the write of 1 failed: 1..4 back, room for 2: 1 and 2 (oldest) dropped */
	assert_int_equal(store_queue_unshift(&q, batch, 4), 2);
	assert_int_equal(q.dropped, 2);
	expect_run(&q, 3, 8);
	/* room for all: nothing dropped */
	for (time_t t = 20; t <= 22; t++) {
		u = upd(t);
		store_queue_push(&q, &u);
	}
	assert_int_equal(store_queue_take(&q, batch, 2), 2);   /* 20, 21 */
	assert_int_equal(store_queue_unshift(&q, batch + 1, 1), 0);   /* 21 back */
	expect_run(&q, 21, 2);
	assert_int_equal(q.dropped, 2);
	store_queue_clear(&q);
}

/* The ring grows past its first allocation keeping the order, and shrinks back once empty. */
static void
test_queue_grow_shrink(void **state)
{
	struct store_queue q;
	struct store_update u, batch[100];
	size_t first;

	(void)state;
	assert_int_equal(store_queue_init(&q, 3 * STORE_QUEUE_MIN), 0);
	first = store_queue_bytes(&q);
	assert_int_equal(first, STORE_QUEUE_MIN * sizeof(struct store_update));
	/* wrap the ring before it grows: the copy must linearise it */
	for (time_t t = 1; t <= 100; t++) {
		u = upd(t);
		store_queue_push(&q, &u);
	}
	assert_int_equal(store_queue_take(&q, batch, 100), 100);
	for (time_t t = 101; t <= 101 + 3 * STORE_QUEUE_MIN - 1; t++) {
		u = upd(t);
		assert_int_equal(store_queue_push(&q, &u), 0);
	}
	assert_int_equal(q.len, 3 * STORE_QUEUE_MIN);
	assert_int_equal(q.cap, 3 * STORE_QUEUE_MIN);   /* doubled, then capped at max */
	assert_int_equal(q.dropped, 0);
	u = upd(0);
	assert_int_equal(store_queue_push(&q, &u), 1);   /* full at max: 101 dropped */
	store_queue_take(&q, batch, 1);
	assert_int_equal(batch[0].t, 102);
	store_queue_shrink(&q);                          /* not empty: kept */
	assert_true(store_queue_bytes(&q) > first);
	while (store_queue_take(&q, batch, 100) > 0)
		;
	store_queue_shrink(&q);
	assert_int_equal(store_queue_bytes(&q), first);
	u = upd(7);
	store_queue_push(&q, &u);
	expect_run(&q, 7, 1);
	store_queue_clear(&q);
}

/*
 * rrdcached unreachable: steps wait in the backlog, at most backlog_bytes of
 * them; the oldest are dropped and counted, nothing is an error.
 */
static void
test_backlog_while_down(void **state)
{
	struct fixture *f = *state;
	struct store_config cfg = { .dir = f->dir, .rrdcached = "unix:/nonexistent/gw-rrdcached.sock",
	    .backlog_bytes = STORE_BACKLOG_MIN };
	struct store_counters c;
	struct store *st = store_new(&cfg);
	size_t max = STORE_BACKLOG_MIN / store_update_bytes();

	assert_non_null(st);
	/* max + 11 steps: each report closes the step before it (the last stays open) */
	for (size_t k = 1; k <= max + 12; k++) {
		struct gw_customer_stats cs = cs_make(k % 2 ? "a1" : "b2", 1000);
		assert_int_equal(store_submit(st, T0 + 10.0 * (double)((k + 1) / 2), 10, &cs), 0);
	}
	store_counters_get(st, &c);
	assert_int_equal(c.backlog_max, max);
	assert_int_equal(c.steps, max + 10);
	assert_int_equal(c.dropped, 10);
	assert_int_equal(c.queue_dropped, 10);
	assert_int_equal(c.pending, max);
	assert_int_equal(c.queue_len, max);
	assert_int_equal(c.rrd_updates, 0);
	assert_int_equal(c.rrd_errors, 0);
	assert_false(c.connected);
	assert_true(c.backlog_bytes <= STORE_BACKLOG_MIN);
	assert_int_equal(store_sync(st, 0), -1);   /* flushes the two open steps: 2 more dropped */
	store_counters_get(st, &c);
	assert_int_equal(c.dropped, 12);
	store_free(st, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rates_and_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qos_weighting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_and_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout_and_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_layout, setup, teardown),
		cmocka_unit_test(test_queue_drops_oldest),
		cmocka_unit_test(test_queue_unshift),
		cmocka_unit_test(test_queue_grow_shrink),
		cmocka_unit_test_setup_teardown(test_backlog_while_down, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
