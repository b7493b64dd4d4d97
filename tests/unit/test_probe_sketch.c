/* test_probe_sketch.c: unit tests for the stream sketches (sketch.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sketch.h"

#define MS 1000ULL

static void test_hash_distinct(void **state)
{
	uint32_t a = 1, b = 2;

	(void)state;
	assert_int_not_equal(sketch_hash(&a, 4, 0), sketch_hash(&b, 4, 0));
	assert_int_not_equal(sketch_hash(&a, 4, 0), sketch_hash(&a, 4, 1));
	assert_int_equal(sketch_hash(&a, 4, 9), sketch_hash(&a, 4, 9));
	assert_int_not_equal(sketch_mix(1, 2), sketch_mix(2, 1));
}

static void test_swcms_window(void **state)
{
	struct swcms *s = swcms_new(2, 1024, 10, 100 * MS, 3);
	struct swcms_est e;
	uint64_t t = 1000000000ULL * 1000, i;

	(void)state;
	assert_non_null(s);
	assert_null(swcms_new(2, 1000, 10, 100 * MS, 3));  /* width not a power of two */
	swcms_advance(s, t);
	/* 1000 pps for 2 s on key 7, 40 pps on key 8 */
	for (i = 0; i < 2000; i++) {
		swcms_advance(s, t + i * MS);
		swcms_add(s, 7, 1, 100, NULL);
		if (i % 25 == 0)
			swcms_add(s, 8, 1, 60, NULL);
	}
	swcms_estimate(s, 7, &e);
	assert_in_range(e.win_pkts, 990, 1010);
	assert_in_range(e.win_bytes, 99000, 101000);
	assert_in_range(e.short_pkts * 1000000ULL / e.short_us, 950, 1050);
	swcms_estimate(s, 8, &e);
	assert_in_range(e.win_pkts, 40, 41);
	swcms_estimate(s, 9, &e);
	assert_int_equal(e.win_pkts, 0);
	/* after 1.5 s of silence the window is empty, after a long gap too */
	swcms_advance(s, t + 3500 * MS);
	swcms_estimate(s, 7, &e);
	assert_int_equal(e.win_pkts, 0);
	swcms_add(s, 7, 1, 1, NULL);
	swcms_advance(s, t + 3600ULL * 1000000);
	swcms_estimate(s, 7, &e);
	assert_int_equal(e.win_pkts, 0);
	assert_true(swcms_memory(s) >= 11 * 2 * 1024 * 8);
	swcms_free(s);
	swcms_free(NULL);
}

static void test_swcms_noise_under_random_keys(void **state)
{
	struct swcms *s = swcms_new(2, 4096, 10, 100 * MS, 3);
	struct swcms_est e;
	uint64_t i;

	(void)state;
	swcms_advance(s, 1);
	/* 200k distinct keys in one window: every estimate stays far below 1000 */
	for (i = 0; i < 200000; i++)
		swcms_add(s, sketch_hash(&i, sizeof(i), 3), 1, 60, NULL);
	swcms_estimate(s, 42, &e);
	assert_true(e.win_pkts < 200);
	swcms_free(s);
}

static void test_dcount(void **state)
{
	struct dcount *c = dcount_new(17, 2, 1u << 15, 5000 * MS);
	uint64_t t = 1, i, src = 77;
	uint32_t n = 0, rnd_max = 0;

	(void)state;
	assert_non_null(c);
	dcount_advance(c, t);
	for (i = 0; i < 300; i++)       /* 300 distinct ports, each seen 3 times */
		n = dcount_add(c, src, i), n = dcount_add(c, src, i), n = dcount_add(c, src, i);
	assert_in_range(n, 290, 310);
	/* 2M random (key, item) pairs: the bitmap bounds what is counted */
	for (i = 0; i < 2000000; i++) {
		uint64_t k = sketch_hash(&i, sizeof(i), 1);
		uint32_t v = dcount_add(c, k, i);

		if (v > rnd_max)
			rnd_max = v;
	}
	assert_true(rnd_max < 64);
	/* two generations later everything is forgotten */
	dcount_advance(c, t + 10001 * MS);
	assert_int_equal(dcount_estimate(c, src), 0);
	dcount_free(c);
	dcount_free(NULL);
}

static void test_hll(void **state)
{
	struct hll h;
	uint64_t i;

	(void)state;
	hll_clear(&h);
	assert_true(hll_count(&h) < 0.5);
	for (i = 0; i < 100; i++)
		hll_add(&h, sketch_hash(&i, sizeof(i), 0));
	assert_in_range((long)hll_count(&h), 85, 115);
	for (i = 0; i < 100000; i++)
		hll_add(&h, sketch_hash(&i, sizeof(i), 0));
	assert_in_range((long)hll_count(&h), 80000, 120000);
}

static void test_topk(void **state)
{
	struct topk *t = topk_new(8);
	struct topk_entry out[4];
	struct gw_addr a = { 4, { 198, 51, 100, 7 } }, r = { 4, { 203, 0, 113, 0 } };
	uint64_t i;
	size_t n;

	(void)state;
	for (i = 0; i < 5000; i++) {
		topk_add(t, 1000, &a, 5, 1);        /* heavy hitter: 1 in 3 */
		r.a[3] = (uint8_t)i;
		topk_add(t, 2000 + i % 3000, &r, 5, 1);
		topk_add(t, 9000 + i, &r, 6, 1);
	}
	n = topk_top(t, 5, out, 4);
	assert_true(n >= 1);
	assert_int_equal(out[0].key, 1000);
	assert_true(out[0].count - out[0].err >= 5000 / 2);
	assert_true(topk_tag_total(t, 5) > 0);
	topk_decay(t);
	n = topk_top(t, 0, out, 4);
	assert_true(n > 0 && out[0].count <= 15000 / 2 + 1);
	topk_free(t);
	topk_free(NULL);
}

/* Windowed top-k: a source that went quiet leaves the list one window later. */
static void test_topk_window(void **state)
{
	struct topk *t = topk_new_window(8, 10, 100000);   /* 1 s window */
	struct topk_entry out[8];
	struct gw_addr x = { 4, { 198, 51, 100, 11 } }, y = { 4, { 198, 51, 100, 22 } };
	uint64_t now = 1700000000ULL * 1000000ULL, i;
	size_t n;

	(void)state;
	assert_null(topk_new_window(8, TOPK_RING_MAX + 1, 100000));
	assert_null(topk_new_window(8, 10, 0));
	for (i = 0; i < 20000; i++, now += 100) {          /* X: 10000 pps for 2 s */
		topk_advance(t, now);
		topk_add(t, 11, &x, 1, 1);
	}
	n = topk_top(t, 1, out, 8);
	assert_int_equal(n, 1);
	assert_in_range(out[0].count, 9000, 10000);         /* last second only */
	topk_advance(t, now + 3000000);                     /* 3 s of quiet */
	assert_int_equal(topk_top(t, 0, out, 8), 0);
	assert_int_equal(topk_tag_total(t, 1), 0);
	now += 3000000;
	for (i = 0; i < 100; i++, now += 1000) {
		topk_advance(t, now);
		topk_add(t, 22, &y, 1, 1);
	}
	n = topk_top(t, 1, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].key, 22);
	assert_int_equal(out[0].count, 100);
	assert_int_equal(out[0].err, 0);
	/* time going backwards is ignored */
	topk_advance(t, now - 5000000);
	assert_int_equal(topk_tag_total(t, 1), 100);
	topk_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_distinct),
		cmocka_unit_test(test_swcms_window),
		cmocka_unit_test(test_swcms_noise_under_random_keys),
		cmocka_unit_test(test_dcount),
		cmocka_unit_test(test_hll),
		cmocka_unit_test(test_topk),
		cmocka_unit_test(test_topk_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
