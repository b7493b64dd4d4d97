/* test_operator_report.c: nearest-rank percentiles, least squares, periods, plans, busy hour, trend and SLA minutes of report.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "log.h"
#include "report.h"

static void
test_percentile_nearest_rank(void **state)
{
	double v[200];

	(void)state;
	/* 1..N shuffled: the 95th is ceil(0.95 N) for every N, incl. N mod 20 = 11..19 */
	for (size_t n = 1; n <= 200; n++) {
		for (size_t i = 0; i < n; i++)
			v[i] = (double)((i * 7919) % n + 1);
		assert_true(report_percentile(v, n, 95) ==
		    (double)((95 * n + 99) / 100));
	}
	for (size_t i = 0; i < 20; i++)
		v[i] = (double)(20 - i);
	assert_true(report_percentile(v, 20, 95) == 19);   /* rank 19, not 20 */
	assert_true(report_percentile(v, 20, 100) == 20);
	assert_true(report_percentile(v, 20, 50) == 10);
	assert_true(isnan(report_percentile(v, 0, 95)));
	assert_true(isnan(report_percentile(v, 5, 0)));
	assert_true(isnan(report_percentile(v, 5, 101)));
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Selection equals sorting, with many ties and every rank of small arrays. */
static void
test_percentile_random(void **state)
{
	static double v[3000], s[3000];
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + (size_t)(round % 300) * (round % 7 == 0 ? 10 : 1);
		int mod = 1 + round % 13;            /* few distinct values: ties */
		double pct = round % 5 == 0 ? 50 + round % 50 : 95;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			v[i] = (double)((seed >> 8) % (unsigned)(mod == 1 ? 1000003 : mod));
			s[i] = v[i];
		}
		qsort(s, n, sizeof(double), dcmp);
		assert_true(report_percentile(v, n, pct) ==
		    s[(size_t)ceil(pct / 100.0 * (double)n) - 1 + 0 * n]);
	}
}

static void
test_lsq(void **state)
{
	double x[5] = { 0, 1, 2, 3, 4 }, y[5], same[5] = { 2, 2, 2, 2, 2 };
	struct report_fit f;

	(void)state;
	for (int i = 0; i < 5; i++)
		y[i] = 3 + 2 * x[i];
	assert_int_equal(report_lsq(x, y, 5, &f), 0);
	assert_true(fabs(f.slope - 2) < 1e-12 && fabs(f.intercept - 3) < 1e-12);
	assert_true(fabs(f.r - 1) < 1e-12);
	y[0] = 4; y[1] = 4; y[2] = 2; y[3] = 0; y[4] = 0;   /* slope -1.2 */
	assert_int_equal(report_lsq(x, y, 5, &f), 0);
	assert_true(fabs(f.slope + 1.2) < 1e-12 && f.r < -0.9);
	assert_int_equal(report_lsq(x, same, 5, &f), 0);
	assert_true(f.slope == 0 && f.r == 0);              /* flat: r undefined -> 0 */
	assert_int_equal(report_lsq(same, y, 5, &f), -1);   /* every x equal */
	assert_int_equal(report_lsq(x, y, 1, &f), -1);
}

static void
test_periods_and_dates(void **state)
{
	time_t from, to, t;

	(void)state;
	setenv("TZ", "Europe/Zurich", 1);
	tzset();
	/* 2025-11-15 12:00 CET: last month = October (31 days, 25 h on the 26th) */
	report_month(1763204400, 1, &from, &to);
	assert_int_equal(from, 1759269600);   /* 2025-10-01 00:00 CEST */
	assert_int_equal(to, 1761951600);     /* 2025-11-01 00:00 CET */
	assert_int_equal(to - from, 31 * 86400 + 3600);
	report_month(1763204400, 11, &from, &to);   /* December 2024: year wraps */
	assert_int_equal(from, 1733007600);
	assert_int_equal(report_parse_date("2025-11", &t), 1);
	assert_int_equal(t, 1761951600);
	assert_int_equal(report_parse_date("2025-11-02", &t), 1);
	assert_int_equal(t, 1761951600 + 86400);
	assert_int_equal(report_parse_date("2025-02-29", &t), -1);
	assert_int_equal(report_parse_date("2025-13", &t), -1);
	assert_int_equal(report_parse_date("1700000000", &t), 0);
	assert_int_equal(report_parse_date("-7d", &t), 0);
	assert_int_equal(report_parse_date("2025-1-1", &t), 0);
	assert_int_equal(report_parse_date("2025-11-02x", &t), 0);
}

static void
test_plans(void **state)
{
	struct report_plans *p;
	double d, u;

	(void)state;
	assert_int_equal(report_parse_rate("100M", &d), 0);
	assert_true(d == 100e6);
	assert_int_equal(report_parse_rate("1.5G", &d), 0);
	assert_true(d == 1.5e9);
	assert_int_equal(report_parse_rate("512k", &d), 0);
	assert_true(d == 512e3);
	assert_int_equal(report_parse_rate("0", &d), -1);
	assert_int_equal(report_parse_rate("-5M", &d), -1);
	assert_int_equal(report_parse_rate("5X", &d), -1);
	assert_int_equal(report_parse_rate("nan", &d), -1);
	p = report_plans_parse("t", "# plans\nc101 100M/20M\ndefault 50M/10M\n");
	assert_non_null(p);
	assert_true(report_plan_get(p, "c101", &d, &u) && d == 100e6 && u == 20e6);
	assert_true(report_plan_get(p, "other", &d, &u) && d == 50e6 && u == 10e6);
	report_plans_free(p);
	p = report_plans_parse("t", "c101 100M/20M\n");
	assert_false(report_plan_get(p, "other", &d, &u));
	report_plans_free(p);
	assert_false(report_plan_get(NULL, "c101", &d, &u));
	assert_null(report_plans_parse("t", "c101 100M\n"));
	assert_null(report_plans_parse("t", "c101 100M/20M extra\n"));
	assert_null(report_plans_parse("t", "c101 100M/20M\nc101 1G/1G\n"));
	assert_null(report_plans_parse("t", "bad/id 1M/1M\n"));
	report_plans_free(NULL);
}

/* rows of n 300 s steps from start, rx = f(i) bytes/s, tx = rx / 2 */
static void
rows_make(struct store_rows *r, time_t start, size_t n, double (*f)(size_t))
{
	memset(r, 0, sizeof(*r));
	r->start = start;
	r->step = 300;
	r->n = n;
	r->v[STORE_DS_RX_BYTES] = malloc(n * sizeof(double));
	r->v[STORE_DS_TX_BYTES] = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		r->v[STORE_DS_RX_BYTES][i] = f(i);
		r->v[STORE_DS_TX_BYTES][i] = isnan(f(i)) ? NAN : f(i) / 2;
	}
}

/* 1000 B/s, except 5000 B/s in the hour 20:00-21:00 UTC, unknown every 10th row */
static double
f_busy(size_t i)
{
	if (i % 10 == 9)
		return NAN;
	return (i % 288) / 12 == 20 ? 5000 : 1000;
}

static void
test_compute(void **state)
{
	struct store_rows r;
	struct report_customer *c = calloc(1, sizeof(*c));
	time_t t0 = 1761955200;   /* 2025-11-01 00:00 UTC */

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	rows_make(&r, t0, 288 * 2 + 5, f_busy);   /* 2 days + rows after the period */
	assert_int_equal(report_compute(&r, t0, t0 + 2 * 86400, c), 0);
	assert_int_equal(c->rows, 576);
	assert_int_equal(c->known, 576 - 576 / 10 + (576 % 10 > 9));
	assert_true(fabs(c->unknown_share - (double)(c->rows - c->known) / c->rows) < 1e-12);
	assert_int_equal(c->busy_hour, 20);
	assert_true(c->busy_hour_bps == 5000 * 1.5 * 8);
	assert_true(c->hour_mean_bps[3] == 1000 * 1.5 * 8);
	assert_true(c->rx.peak_bps == 40000);
	/* the first 5000 row is row 240, ending at t0 + 241 * 300 (earliest of equal peaks) */
	assert_int_equal(c->rx.peak_ts, t0 + 241 * 300);
	/* 22 of the 519 known rows are 5000 (4.2 % < 5 %): the 95th is 1000 B/s = 8000 bit/s */
	assert_true(c->rx.p95_bps == 8000);
	assert_true(c->max.p95_bps == 8000);
	assert_true(c->tx.p95_bps == 4000);
	assert_true(isnan(c->rtt_wan.p95) && c->rtt_wan.known == 0);
	assert_true(c->exact && c->step_s == 300);
	store_rows_clear(&r);
	free(c);
}

/* daily level 1000 + 10 * day bytes/s, every day */
static double
f_trend(size_t i)
{
	return 1000 + 10 * (double)(i / 288);
}

static void
test_trend(void **state)
{
	struct store_rows r;
	struct report_customer *c = calloc(1, sizeof(*c));
	time_t t0 = 1761955200, to = t0 + 30 * 86400;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	rows_make(&r, t0, 288 * 30, f_trend);
	/* plan: rx p95 = (1000 + 10 d) * 8 bit/s; 80 % of 160 kbit/s = 128000 -> day 1500 */
	assert_int_equal(report_trend(&r, to, 160000, 0, c), 0);
	assert_int_equal(c->ndaily, 30);
	assert_true(c->trend_rx.fitted);
	assert_true(fabs(c->trend_rx.slope_bps_day - 80) < 1e-9);
	assert_true(fabs(c->trend_rx.intercept_bps - 8000) < 1e-6);
	assert_true(fabs(c->trend_rx.r - 1) < 1e-12);
	assert_true(fabs(c->trend_rx.growth_pct_month - 100.0 * 80 * 30.4375 /
	    (8000 + 80 * 29)) < 1e-9);
	assert_int_equal(c->trend_rx.sat80_ts, t0 + 1500 * 86400);
	assert_int_equal(c->trend_rx.sat100_ts, t0 + 1900 * 86400);
	assert_false(c->trend_tx.has_plan);
	assert_int_equal(c->trend_tx.sat100_ts, 0);
	/* shorter than REPORT_TREND_MIN days: no fit */
	assert_int_equal(report_trend(&r, t0 + 10 * 86400, 160000, 0, c), 0);
	assert_int_equal(c->ndaily, 10);
	assert_false(c->trend_rx.fitted);
	store_rows_clear(&r);
	free(c);
}

static double
f_down(size_t i)
{
	return 5000 - 10 * (double)(i / 288);
}

static void
test_trend_no_saturation(void **state)
{
	struct store_rows r;
	struct report_customer *c = calloc(1, sizeof(*c));
	time_t t0 = 1761955200;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	rows_make(&r, t0, 288 * 20, f_down);
	assert_int_equal(report_trend(&r, t0 + 20 * 86400, 1e6, 1e6, c), 0);
	assert_true(c->trend_rx.fitted && c->trend_rx.slope_bps_day < 0);
	assert_int_equal(c->trend_rx.sat80_ts, 0);
	assert_int_equal(c->trend_rx.sat100_ts, 0);
	store_rows_clear(&r);
	free(c);
}

static void
test_sla_minutes(void **state)
{
	double ts[] = { 100, 400, 1000, 1100, 1200, 5000 };
	bool cl[] = { false, true, false, false, true, false };

	(void)state;
	/* [100,400) + [1000,1200) + [5000, min(to, now)) */
	assert_true(fabs(report_sla_minutes(ts, cl, 6, 0, 6000, 1e9) -
	    (300 + 200 + 1000) / 60.0) < 1e-12);
	/* clipped to the period, open breach until now */
	assert_true(fabs(report_sla_minutes(ts, cl, 6, 200, 5600, 5300) -
	    (200 + 200 + 300) / 60.0) < 1e-12);
	assert_true(report_sla_minutes(ts, cl, 0, 0, 100, 1e9) == 0);
	/* a clear without an open breach counts nothing */
	assert_true(report_sla_minutes(ts + 1, cl + 1, 1, 0, 6000, 1e9) == 0);
}

static void
sla_ev(struct events *es, const char *cust, double ts, bool cleared)
{
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.customer, sizeof(ev.customer), "%s", cust);
	snprintf(ev.kind, sizeof(ev.kind), "%s", ts < 0 ? "syn_flood" : "sla_violation");
	ev.ts = ts < 0 ? -ts : ts;
	ev.cleared = cleared;
	assert_int_equal(events_add(es, "p1", ev.ts, &ev, NULL), 0);
}

/* Breaches survive the event cap; a second open is ignored; an open one has no end. */
static void
test_sla_table(void **state)
{
	char dir[] = "/tmp/gw-test-sla.XXXXXX", db[64];
	struct events_config ec = { .max_events = 2 };
	double st[8], en[8];
	struct events *es;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/db", dir);
	ec.path = db;
	assert_non_null(es = events_open(&ec));
	sla_ev(es, "c1", 1000, false);
	sla_ev(es, "c1", 1100, false);    /* already open: ignored */
	sla_ev(es, "c1", 1600, true);
	sla_ev(es, "c2", 1200, false);
	sla_ev(es, "c1", 5000, false);    /* still open */
	for (int i = 0; i < 200; i++)
		sla_ev(es, "c1", -(6000.0 + i), false);   /* floods push SLA events out */
	assert_int_equal(events_count(es), 2);
	assert_int_equal(events_sla_breaches(es, "c1", 0, 1e9, st, en, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_true(st[0] == 1000 && en[0] == 1600);
	assert_true(st[1] == 5000 && isnan(en[1]));
	assert_int_equal(events_sla_breaches(es, "c1", 1700, 4000, st, en, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(events_sla_breaches(es, "c2", 0, 1e9, st, en, 8, &n), 0);
	assert_int_equal(n, 1);
	events_close(es);
	snprintf(db, sizeof(db), "rm -rf %s", dir);
	assert_int_equal(system(db), 0);
}

static void
test_keys(void **state)
{
	enum report_key k;

	(void)state;
	assert_int_equal(report_key_parse("saturation", &k), 0);
	assert_int_equal(k, REPORT_BY_SATURATION);
	assert_string_equal(report_key_name(REPORT_BY_SLA), "sla");
	assert_int_equal(report_key_parse("P95", &k), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile_nearest_rank),
		cmocka_unit_test(test_percentile_random),
		cmocka_unit_test(test_lsq),
		cmocka_unit_test(test_periods_and_dates),
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_compute),
		cmocka_unit_test(test_trend),
		cmocka_unit_test(test_trend_no_saturation),
		cmocka_unit_test(test_sla_minutes),
		cmocka_unit_test(test_sla_table),
		cmocka_unit_test(test_keys),
	};

	log_init("test_operator_report", LOG_LVL_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
