/* test_operator_live.c: live state: latest + history per customer, probes, event ring, counters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "live.h"

static void
report(struct live *lv, const char *cust, double ts, uint64_t rx, size_t napps)
{
	struct gw_customer_stats *cs = calloc(1, sizeof(*cs));

	assert_non_null(cs);
	snprintf(cs->customer, sizeof(cs->customer), "%s", cust);
	cs->rx_bytes = rx;
	cs->tx_bytes = rx / 2;
	cs->flows_active = 3;
	cs->tcp.handshakes = 2;
	cs->tcp.rtt_wan_ms_avg = 12.5;
	cs->n_apps = napps;
	for (size_t i = 0; i < napps; i++) {
		snprintf(cs->apps[i].app, sizeof(cs->apps[i].app), "app%zu", i);
		cs->apps[i].rx_bytes = rx + i;
	}
	assert_int_equal(live_customer_update(lv, "p1", ts, 1.0, cs), 0);
	free(cs);
}

static void
test_customers_history(void **state)
{
	struct live *lv = live_new(3, 10);
	struct live_customer_view *v, *one = malloc(sizeof(*one));
	struct live_point *h;
	size_t n;

	(void)state;
	assert_non_null(lv);
	assert_non_null(one);
	report(lv, "c2", 100, 10, 0);
	for (int k = 1; k <= 5; k++)
		report(lv, "c1", 100 + k, 1000ULL * k, (size_t)k % 3);
	assert_int_equal(live_customer_count(lv), 2);
	assert_int_equal(live_customers_list(lv, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, "c1");   /* sorted */
	assert_string_equal(v[1].id, "c2");
	assert_int_equal(v[0].stats.rx_bytes, 5000);
	assert_int_equal(v[0].stats.n_apps, 2);
	assert_string_equal(v[0].stats.apps[1].app, "app1");
	assert_int_equal(v[0].stats.apps[1].rx_bytes, 5001);
	assert_int_equal(v[0].reports, 5);
	assert_int_equal(v[0].total_rx_bytes, 15000);
	assert_true(v[0].stats.tcp.rtt_wan_ms_avg == 12.5);
	free(v);
	assert_int_equal(live_customer_get(lv, "c1", one, &h, &n), 0);
	assert_int_equal(n, 3);               /* ring of 3, oldest first */
	assert_true(h[0].ts == 103 && h[2].ts == 105);
	assert_int_equal(h[2].rx_bytes, 5000);
	free(h);
	assert_int_equal(live_customer_get(lv, "nobody", one, &h, &n), -1);
	assert_false(live_customer_known(lv, "nobody"));
	assert_true(live_customer_known(lv, "c2"));
	free(one);
	live_free(lv);
}

static void
test_events_ring(void **state)
{
	struct live *lv = live_new(1, 4);
	struct live_event *e;
	struct gw_event ev;
	size_t n;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	for (int i = 1; i <= 6; i++) {
		snprintf(ev.kind, sizeof(ev.kind), "kind%d", i);
		live_event_add(lv, "p9", &ev);
	}
	assert_int_equal(live_events_list(lv, 0, 100, &e, &n), 0);
	assert_int_equal(n, 4);               /* the oldest two fell out */
	assert_int_equal(e[0].id, 3);
	assert_string_equal(e[3].ev.kind, "kind6");
	assert_string_equal(e[0].probe, "p9");
	free(e);
	assert_int_equal(live_events_list(lv, 4, 100, &e, &n), 0);
	assert_int_equal(n, 2);
	free(e);
	assert_int_equal(live_events_list(lv, 0, 1, &e, &n), 0);
	assert_int_equal(n, 1);               /* the newest one */
	assert_int_equal(e[0].id, 6);
	free(e);
	live_free(lv);
}

static void
test_probes_counters(void **state)
{
	struct live *lv = live_new(1, 1);
	struct live_probe_info p, *v;
	struct live_counters c = { .envelopes = 7, .garbage = 2 }, out;
	size_t n;

	(void)state;
	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "pb");
	p.messages = 1;
	assert_int_equal(live_probe_update(lv, &p), 0);
	snprintf(p.id, sizeof(p.id), "pa");
	assert_int_equal(live_probe_update(lv, &p), 0);
	p.messages = 9;
	assert_int_equal(live_probe_update(lv, &p), 0);   /* replaces */
	assert_int_equal(live_probes_list(lv, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, "pa");
	assert_int_equal(v[0].messages, 9);
	free(v);
	live_counters_set(lv, &c);
	live_counters_get(lv, &out);
	assert_int_equal(out.envelopes, 7);
	assert_int_equal(out.garbage, 2);
	assert_null(live_new(0, 1));
	live_free(lv);
	live_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_customers_history),
		cmocka_unit_test(test_events_ring),
		cmocka_unit_test(test_probes_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
