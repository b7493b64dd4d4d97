/* test_probe_interval.c: per-customer accumulators, apps, alignment, reset between intervals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "interval.h"

static const char *
name_c(int c, void *ctx)
{
	static const char *ids[] = { "unmapped", "c1", "c2" };

	(void)ctx;
	return ids[c];
}

static const char *
name_app(uint16_t app, void *ctx)
{
	static char buf[16];

	(void)ctx;
	snprintf(buf, sizeof(buf), "app%u", app);
	return buf;
}

static const char *
name_cat(uint16_t cat, void *ctx)
{
	(void)ctx;
	return cat ? "Web" : "Unspecified";
}

static const struct interval_names names = { name_c, name_app, name_cat, NULL };

static const struct gw_app_bytes *
find_app(const struct gw_customer_stats *s, const char *app)
{
	size_t i;

	for (i = 0; i < s->n_apps; i++)
		if (strcmp(s->apps[i].app, app) == 0)
			return &s->apps[i];
	return NULL;
}

static void
test_alignment(void **state)
{
	struct interval *iv = interval_new(3, 1000000);

	(void)state;
	assert_false(interval_started(iv));
	interval_start_at(iv, 1700000000123456ULL);
	assert_true(interval_started(iv));
	assert_int_equal(interval_end_us(iv), 1700000001000000ULL);
	interval_close_prepare(iv);
	interval_next(iv);
	assert_int_equal(interval_end_us(iv), 1700000002000000ULL);
	interval_free(iv);
	assert_null(interval_new(3, 0));
	interval_free(NULL);
}

static void
test_accounting(void **state)
{
	struct interval *iv = interval_new(3, 1000000);
	struct gw_customer_stats s;
	const struct gw_app_bytes *a;

	(void)state;
	interval_start_at(iv, 5000000);
	interval_account(iv, 1, -1, 100, 7, 1);     /* c1 upload */
	interval_account(iv, -1, 1, 1500, 7, 1);    /* c1 download */
	interval_account(iv, 1, 2, 60, 0, 0);       /* c1 -> c2 */
	interval_account(iv, 2, 2, 40, 0, 0);       /* inside c2: counted once */
	interval_account(iv, -1, 0, 10, 0, 0);      /* unmapped */
	interval_flow_new(iv, 1);
	interval_flow_new(iv, 1);
	interval_flow_gone(iv, 1);
	assert_int_equal(interval_close_prepare(iv), 3);
	assert_int_equal(interval_fill(iv, 0, &names, &s), 0);
	assert_string_equal(s.customer, "unmapped");
	assert_int_equal(s.rx_bytes, 10);
	assert_int_equal(interval_fill(iv, 1, &names, &s), 1);
	assert_string_equal(s.customer, "c1");
	assert_int_equal(s.tx_bytes, 160);
	assert_int_equal(s.rx_bytes, 1500);
	assert_int_equal(s.tx_packets, 2);
	assert_int_equal(s.rx_packets, 1);
	assert_int_equal(s.flows_new, 2);
	assert_int_equal(s.flows_active, 1);
	a = find_app(&s, "app7");
	assert_non_null(a);
	assert_int_equal(a->tx_bytes, 100);
	assert_int_equal(a->rx_bytes, 1500);
	assert_string_equal(a->category, "Web");
	assert_int_equal(interval_fill(iv, 2, &names, &s), 2);
	assert_int_equal(s.rx_bytes, 60);
	assert_int_equal(s.tx_bytes, 40);
	assert_int_equal(s.rx_packets + s.tx_packets, 2);
	assert_int_equal(interval_fill(iv, 3, &names, &s), -1);
	interval_next(iv);
	/* Next interval: only c1 (one active flow) is reported, with zeros. */
	assert_int_equal(interval_close_prepare(iv), 1);
	assert_int_equal(interval_fill(iv, 0, &names, &s), 1);
	assert_int_equal(s.tx_bytes + s.rx_bytes + s.flows_new + s.n_apps, 0);
	assert_int_equal(s.flows_active, 1);
	interval_next(iv);
	interval_free(iv);
}

static void
test_apps_cap_and_move(void **state)
{
	struct interval *iv = interval_new(2, 1000000);
	struct gw_customer_stats s;
	const struct gw_app_bytes *a;
	uint16_t i;

	(void)state;
	interval_start_at(iv, 0);
	for (i = 1; i <= 40; i++)
		interval_account(iv, 1, -1, 10, i, 0);
	interval_account(iv, -1, 1, 500, 0, 0);
	/* app0 went to Other (table full): nothing to move, nothing changes. */
	interval_move_app(iv, 1, 0, 3, 1, 300, 0);
	interval_close_prepare(iv);
	interval_fill(iv, 0, &names, &s);
	assert_true(s.n_apps <= GW_APPS_MAX);
	a = find_app(&s, "Other");
	assert_non_null(a);
	/* apps 1..31 fit beside the cap; 32..40 (9 apps) and app0 go to Other. */
	assert_int_equal(a->tx_bytes, 90);
	assert_int_equal(a->rx_bytes, 500);
	a = find_app(&s, "app3");
	assert_non_null(a);
	assert_int_equal(a->tx_bytes, 10);
	interval_next(iv);
	interval_free(iv);
}

static void
test_move_app(void **state)
{
	struct interval *iv = interval_new(2, 1000000);
	struct gw_customer_stats s;
	const struct gw_app_bytes *a;

	(void)state;
	interval_start_at(iv, 0);
	interval_account(iv, 1, -1, 100, 0, 0);
	interval_account(iv, -1, 1, 200, 0, 0);
	interval_move_app(iv, 1, 0, 9, 1, 150, 100);
	interval_account(iv, 1, -1, 50, 9, 1);
	interval_close_prepare(iv);
	interval_fill(iv, 0, &names, &s);
	a = find_app(&s, "app9");
	assert_non_null(a);
	assert_int_equal(a->tx_bytes, 150);
	assert_int_equal(a->rx_bytes, 150);
	a = find_app(&s, "app0");
	assert_non_null(a);
	assert_int_equal(a->rx_bytes, 50);
	assert_int_equal(a->tx_bytes, 0);
	assert_int_equal(s.tx_bytes, 150);
	assert_int_equal(s.rx_bytes, 200);
	interval_next(iv);
	interval_free(iv);
}

/* shed_packets: counted per customer, reported, reset; a shed-only customer is reported. */
static void
test_shed_packets(void **state)
{
	struct interval *iv = interval_new(3, 1000000);
	struct gw_customer_stats out;
	size_t n;
	int c;

	(void)state;
	interval_start_at(iv, 1700000000000000ULL);
	interval_account(iv, 1, -1, 100, 0, 0);
	interval_shed(iv, 1);
	interval_shed(iv, 1);
	interval_shed(iv, 2);
	interval_shed(iv, 7);      /* out of range: ignored */
	interval_shed(iv, -1);
	n = interval_close_prepare(iv);
	assert_int_equal(n, 2);
	for (size_t k = 0; k < n; k++) {
		c = interval_fill(iv, k, &names, &out);
		assert_int_equal(out.shed_packets, c == 1 ? 2 : 1);
	}
	interval_next(iv);
	interval_account(iv, 1, -1, 100, 0, 0);
	assert_int_equal(interval_close_prepare(iv), 1);
	interval_fill(iv, 0, &names, &out);
	assert_int_equal(out.shed_packets, 0);
	interval_free(iv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_accounting),
		cmocka_unit_test(test_apps_cap_and_move),
		cmocka_unit_test(test_move_app),
		cmocka_unit_test(test_shed_packets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
