/* test_probe_shed.c: the shedding token bucket: off, burst, refill by packet time, per-flow decision, no overflow. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "shed.h"

static void
test_off_admits_all(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ 0, 0 });
	struct shed_stats st;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 100000; i++)
		assert_true(shed_admit(s, 1000, true));
	shed_get_stats(s, &st);
	assert_int_equal(st.admitted_flows, 100000);
	assert_int_equal(st.shed_flows, 0);
	shed_free(s);
	shed_free(NULL);
}

static void
test_burst_then_refill(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ 1000, 100 });
	struct shed_stats st;
	uint64_t t = 5000000;
	int i, admitted = 0;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 150; i++)
		admitted += shed_admit(s, t, true);
	assert_int_equal(admitted, 100);              /* the full bucket */
	/* Packets of admitted flows are never refused, even with the bucket empty. */
	for (i = 0; i < 50; i++)
		assert_true(shed_admit(s, t, false));
	/* 10 ms at 1000/s earn 10 tokens. */
	admitted = 0;
	for (i = 0; i < 50; i++)
		admitted += shed_admit(s, t + 10000, true);
	assert_int_equal(admitted, 10);
	/* Packet time going backwards earns nothing. */
	assert_false(shed_admit(s, t, true));
	/* A long gap fills the bucket, no more. */
	admitted = 0;
	for (i = 0; i < 500; i++)
		admitted += shed_admit(s, t + 3600ULL * 1000000, true);
	assert_int_equal(admitted, 100);
	shed_get_stats(s, &st);
	assert_int_equal(st.admitted_flows, 210);
	assert_int_equal(st.shed_flows, 150 - 100 + 50 - 10 + 1 + 500 - 100);
	shed_free(s);
}

/* Steady overload: the admitted share is rate / offered, whatever the packet rate. */
static void
test_steady_share(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ 10000, 0 });  /* burst 1000 */
	int admitted = 0, i;

	(void)state;
	assert_non_null(s);
	/* 40,000 new flows per second for 10 s: 4x the budget. */
	for (i = 0; i < 400000; i++)
		admitted += shed_admit(s, 1000000 + (uint64_t)i * 25, true);
	/* 1000 (bucket) + 10000/s over the 10 s (less one step) */
	assert_in_range(admitted, 100000 + 1000 - 2, 100000 + 1000 + 1);
	shed_free(s);
}

static void
test_huge_rate_no_overflow(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ 100000000, UINT64_MAX });

	(void)state;
	assert_non_null(s);
	assert_true(shed_admit(s, 1, true));
	assert_true(shed_admit(s, UINT64_MAX / 2, true));
	assert_true(shed_admit(s, UINT64_MAX, false));
	shed_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_admits_all),
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_steady_share),
		cmocka_unit_test(test_huge_rate_no_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
