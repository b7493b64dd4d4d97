/* test_probe_shed.c: the shedding token bucket (off, burst, refill by packet time, per-flow decision, no overflow) and the automatic budget. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "shed.h"

static void
test_off_admits_all(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ .max_pps = 0, .burst = 0 });
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
	struct shed *s = shed_new(&(struct shed_config){ .max_pps = 1000, .burst = 100 });
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
	struct shed *s = shed_new(&(struct shed_config){ .max_pps = 10000, .burst = 0 });  /* burst 1000 */
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
	struct shed *s = shed_new(&(struct shed_config){ .max_pps = 100000000, .burst = UINT64_MAX });

	(void)state;
	assert_non_null(s);
	assert_true(shed_admit(s, 1, true));
	assert_true(shed_admit(s, UINT64_MAX / 2, true));
	assert_true(shed_admit(s, UINT64_MAX, false));
	shed_free(s);
}

/* One second of load: cpu_pct of a core, work packets at work_ns each (all timed). */
static struct shed_load
load(double cpu_pct, uint64_t work, uint64_t shed, uint64_t work_ns)
{
	return (struct shed_load){ .window_us = 1000000, .cpu_us = (uint64_t)(cpu_pct * 1e4),
	    .work_packets = work, .shed_packets = shed, .sample_ns = work_ns * 64, .samples = 64 };
}

/*
 * Auto: unlimited while the load fits; at 200 % of a core with 100,000
 * DPI/QoS packets at 15 us (1.5 s) the rest costs 0.5 s, so 0.3 s are left
 * for DPI/QoS under the 80 % target: 20,000 packets/s. Recovery grows the
 * budget by half per window at most, then back to unlimited.
 */
static void
test_auto_budget(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ .auto_budget = true });
	struct shed_load l;
	struct shed_stats st;
	uint64_t b, t = 1000000;
	int i, admitted = 0;

	(void)state;
	assert_non_null(s);
	l = (struct shed_load){ .window_us = 1000000, .cpu_us = 3000000 };
	assert_int_equal(shed_auto_update(s, &l), 0);     /* no cost known: unlimited */
	l = load(50, 20000, 0, 15000);
	assert_int_equal(shed_auto_update(s, &l), 0);     /* fits */
	for (i = 0; i < 50000; i++)
		assert_true(shed_admit(s, t + (uint64_t)i, true));
	l = load(200, 100000, 0, 15000);
	b = shed_auto_update(s, &l);
	assert_in_range(b, 19900, 20100);
	shed_get_stats(s, &st);
	assert_int_equal(st.budget_pps, b);
	assert_int_equal(st.starts, 0);
	/* 100,000 new flows in the next second: the bucket (budget / 10) plus the budget. */
	t = 10000000;
	for (i = 0; i < 100000; i++)
		admitted += shed_admit(s, t + (uint64_t)i * 10, true);
	assert_in_range(admitted, 20000 + 2000 - 20, 20000 + 2000 + 20);
	shed_get_stats(s, &st);
	assert_int_equal(st.starts, 1);
	assert_non_null(strstr(st.reason, "200 % of a core"));
	assert_non_null(strstr(st.reason, "15.00 us per packet"));
	/* The load fits again (60 %): growth by half per window, then unlimited. */
	l = load(60, 20000, 80000, 15000);
	assert_int_equal(shed_auto_update(s, &l), b * 3 / 2);
	l = load(40, 20000, 80000, 15000);
	assert_int_equal(shed_auto_update(s, &l), b * 9 / 4);
	for (i = 0; i < 10 && shed_auto_update(s, &l) != 0; i++)
		l = load(30, 20000, 0, 15000);
	assert_true(i < 10);
	shed_get_stats(s, &st);
	assert_int_equal(st.budget_pps, 0);
	for (i = 0; i < 50000; i++)
		assert_true(shed_admit(s, 20000000 + (uint64_t)i, true));
	shed_free(s);
}

/*
 * Auto: when the budget in force still leaves the thread over its target
 * (costs the model does not see), the budget shrinks by a fifth at most per
 * window.
 */
static void
test_auto_correction(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ .auto_budget = true });
	struct shed_load l = load(200, 100000, 0, 15000);
	uint64_t b, prev;
	int i;

	(void)state;
	b = shed_auto_update(s, &l);                   /* 20,000, as in test_auto_budget */
	assert_in_range(b, 19900, 20100);
	/*
	 * 20,000 packets with DPI/QoS (0.3 s) and still 100 % of a core: the
	 * model affords (0.8 - 0.7) s / 15 us = 6,667 packets/s, the correction
	 * takes a fifth off that, then a fifth per window, down to 1/20 of the
	 * model (the correction's bound).
	 */
	for (i = 0; i < 30; i++) {
		prev = b;
		l = load(100, 20000, 5000, 15000);
		b = shed_auto_update(s, &l);
		assert_true(b <= prev);
		if (i == 0)
			assert_in_range(b, 5333 - 10, 5333 + 10);
	}
	assert_in_range(b, 333 - 5, 333 + 5);
	shed_free(s);
}

/* Auto: when even the work that cannot be shed is over the target, a floor stays measured. */
static void
test_auto_floor_and_fixed_reason(void **state)
{
	struct shed *s = shed_new(&(struct shed_config){ .auto_budget = true,
	    .target_share = 0.5 });
	struct shed_load l = load(300, 1000, 0, 1000);
	struct shed_stats st;
	int i;

	(void)state;
	assert_int_equal(shed_auto_update(s, &l), 100);
	shed_free(s);
	/* Fixed budget: each episode (after the bucket was full again) is counted once. */
	s = shed_new(&(struct shed_config){ .max_pps = 1000, .burst = 10 });
	for (i = 0; i < 20; i++)
		shed_admit(s, 1000000, true);
	shed_admit(s, 2000000, true);            /* 1 s later: bucket full again */
	for (i = 0; i < 20; i++)
		shed_admit(s, 2000000, true);
	shed_get_stats(s, &st);
	assert_int_equal(st.starts, 2);
	assert_int_equal(st.budget_pps, 1000);
	assert_non_null(strstr(st.reason, "fixed budget of 1000"));
	/* shed_auto_update changes nothing without auto_budget. */
	assert_int_equal(shed_auto_update(s, &l), 1000);
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
		cmocka_unit_test(test_auto_budget),
		cmocka_unit_test(test_auto_correction),
		cmocka_unit_test(test_auto_floor_and_fixed_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
