/* test_operator_usage.c: application bytes per customer and local day, through usage.c into SQLite and back (events_apps_top). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "usage.h"

static struct gw_customer_stats
cs_apps(const char *id, uint64_t tls, uint64_t dns)
{
	struct gw_customer_stats cs;

	memset(&cs, 0, sizeof(cs));
	snprintf(cs.customer, sizeof(cs.customer), "%s", id);
	cs.n_apps = 2;
	snprintf(cs.apps[0].app, sizeof(cs.apps[0].app), "TLS");
	cs.apps[0].rx_bytes = tls;
	cs.apps[0].tx_bytes = tls / 10;
	snprintf(cs.apps[1].app, sizeof(cs.apps[1].app), "DNS");
	cs.apps[1].rx_bytes = dns;
	cs.apps[1].tx_bytes = dns;
	return cs;
}

static void
test_days_and_top(void **state)
{
	char path[] = "/tmp/gw-test-usage.XXXXXX";
	char db[64];
	struct events_config ec = { 0 };
	struct usage_config uc = { 0 };
	struct events_app_bytes top[4];
	struct events *es;
	struct usage *u;
	size_t n;
	int64_t d0;

	(void)state;
	setenv("TZ", "Europe/Zurich", 1);
	tzset();
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/db", path);
	ec.path = db;
	assert_non_null(es = events_open(&ec));
	uc.events = es;
	uc.keep_days = 400;
	assert_non_null(u = usage_new(&uc));
	d0 = usage_day(1761955200);        /* 2025-11-01 01:00 CET */
	assert_int_equal(d0, 1761951600);  /* local midnight */
	assert_int_equal(usage_day(1761951599), 1761951600 - 86400);
	/* day 1: 3 intervals; day 2: 1 interval; another customer */
	for (int i = 0; i < 3; i++) {
		struct gw_customer_stats cs = cs_apps("c1", 1000, 10);
		usage_add(u, 1761951600.0 + 10 * i, &cs);
	}
	{
		struct gw_customer_stats cs = cs_apps("c1", 1, 5000);
		usage_add(u, 1761951600.0 + 86400 + 5, &cs);
		cs = cs_apps("c2", 77, 0);
		usage_add(u, 1761951600.0 + 5, &cs);
	}
	assert_int_equal(usage_flush(u, 1761951600.0 + 86400 + 10), 0);
	{   /* after a flush, sums go on in the database */
		struct gw_customer_stats cs = cs_apps("c1", 1000, 0);
		usage_add(u, 1761951600.0 + 20, &cs);
	}
	assert_int_equal(usage_flush(u, 1761951600.0 + 86400 + 20), 0);
	assert_int_equal(events_apps_top(es, "c1", d0, d0 + 86400, top, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(top[0].app, "TLS");
	assert_true(top[0].rx_bytes == 4000 && top[0].tx_bytes == 400);
	assert_string_equal(top[1].app, "DNS");
	assert_true(top[1].rx_bytes == 30 && top[1].tx_bytes == 30);
	/* both days: DNS (10060) overtakes TLS (4401 + 400) */
	assert_int_equal(events_apps_top(es, "c1", d0, d0 + 2 * 86400, top, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(top[0].app, "DNS");
	assert_int_equal(events_apps_top(es, "nobody", d0, d0 + 86400, top, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(usage_dropped(u), 0);
	usage_free(u);
	/* retention: a flush 400 days later deletes the old days */
	uc.keep_days = 30;
	assert_non_null(u = usage_new(&uc));
	{
		struct gw_customer_stats cs = cs_apps("c3", 1, 1);
		usage_add(u, 1761951600.0 + 400 * 86400.0, &cs);
	}
	assert_int_equal(usage_flush(u, 1761951600.0 + 400 * 86400.0), 0);
	assert_int_equal(events_apps_top(es, "c1", d0, d0 + 2 * 86400, top, 4, &n), 0);
	assert_int_equal(n, 0);
	usage_free(u);
	usage_free(NULL);
	events_close(es);
	snprintf(db, sizeof(db), "rm -rf %s", path);
	assert_int_equal(system(db), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_days_and_top),
	};

	log_init("test_operator_usage", LOG_LVL_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
