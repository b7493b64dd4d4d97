/* test_operator_correlate.c: multi-probe sources, distributed attacks, silent probes, SLA streaks, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "correlate.h"

#define REC_MAX 64

/* What the callbacks saw. */
struct rec {
	size_t n_events;
	char   probes[REC_MAX][GW_ID_MAX];
	struct gw_event events[REC_MAX];
	size_t n_globals;
	struct correlate_global globals[REC_MAX];
};

static void
rec_event(const char *probe_id, const struct gw_event *ev, void *ctx)
{
	struct rec *r = ctx;

	if (r->n_events < REC_MAX) {
		snprintf(r->probes[r->n_events], GW_ID_MAX, "%s", probe_id);
		r->events[r->n_events] = *ev;
	}
	r->n_events++;
}

static void
rec_global(const struct correlate_global *g, void *ctx)
{
	struct rec *r = ctx;

	if (r->n_globals < REC_MAX)
		r->globals[r->n_globals] = *g;
	r->n_globals++;
}

static struct correlate *
new_corr(struct rec *r, const struct correlate_config *cfg)
{
	struct correlate_callbacks cb = { rec_event, rec_global, r };

	memset(r, 0, sizeof(*r));
	return correlate_new(cfg, &cb);
}

static void
flood(struct gw_event *ev, const char *customer, const char *src)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->customer, sizeof(ev->customer), "%s", customer);
	snprintf(ev->kind, sizeof(ev->kind), "syn_flood");
	snprintf(ev->severity, sizeof(ev->severity), "high");
	snprintf(ev->direction, sizeof(ev->direction), "rx");
	snprintf(ev->src, sizeof(ev->src), "%s", src);
	snprintf(ev->dst, sizeof(ev->dst), "10.0.101.10");
	ev->rate_pps = 1000;
}

static void
test_global_rule(void **state)
{
	struct correlate_config cfg = { .global_min_probes = 2,
	    .global_window_s = 60, .distributed_min_sources = 200 };
	struct rec r;
	struct correlate *c = new_corr(&r, &cfg);
	struct gw_event ev;

	(void)state;
	assert_non_null(c);
	flood(&ev, "c101", "198.51.100.7");
	correlate_event(c, "p1", &ev, 1000);
	correlate_event(c, "p1", &ev, 1001);   /* the same probe twice: still 1 */
	assert_int_equal(r.n_globals, 0);
	correlate_event(c, "p2", &ev, 1030);
	assert_int_equal(r.n_globals, 1);
	assert_string_equal(r.globals[0].src, "198.51.100.7");
	assert_string_equal(r.globals[0].kind, "syn_flood");
	assert_int_equal(r.globals[0].n_probes, 2);
	assert_string_equal(r.globals[0].probes[0], "p1");
	assert_string_equal(r.globals[0].probes[1], "p2");
	/* Within the window it does not fire again... */
	correlate_event(c, "p3", &ev, 1050);
	assert_int_equal(r.n_globals, 1);
	/* ...after it, while still reported by >= 2 probes, it does (extension). */
	correlate_event(c, "p1", &ev, 1095);
	assert_int_equal(r.n_globals, 2);
	assert_int_equal(r.globals[1].n_probes, 2);   /* p3 (1050), p1 (1095) */

	/* Two probes, but further apart than the window: nothing. */
	flood(&ev, "c102", "203.0.113.9");
	correlate_event(c, "p1", &ev, 2000);
	correlate_event(c, "p2", &ev, 2061);
	assert_int_equal(r.n_globals, 2);
	correlate_free(c);
}

static void
test_ignored_events(void **state)
{
	struct correlate_config cfg = { .global_min_probes = 2,
	    .distributed_min_sources = 1 };
	struct rec r;
	struct correlate *c = new_corr(&r, &cfg);
	struct correlate_stats_snapshot st;
	struct gw_event ev;

	(void)state;
	flood(&ev, "c101", "198.51.100.7");
	ev.cleared = true;
	correlate_event(c, "p1", &ev, 10);
	correlate_event(c, "p2", &ev, 10);
	flood(&ev, "c101", "198.51.100.7");
	snprintf(ev.direction, sizeof(ev.direction), "tx");
	correlate_event(c, "p1", &ev, 10);
	correlate_event(c, "p2", &ev, 10);
	flood(&ev, "c101", "198.51.100.7");
	snprintf(ev.kind, sizeof(ev.kind), "inter_customer");
	correlate_event(c, "p1", &ev, 10);
	correlate_event(c, "p2", &ev, 10);
	flood(&ev, "c101", "not-an-address");
	correlate_event(c, "p1", &ev, 10);
	correlate_event(c, "p2", &ev, 10);
	assert_int_equal(r.n_globals, 0);
	assert_int_equal(r.n_events, 0);
	correlate_stats_get(c, &st);
	assert_int_equal(st.events_seen, 8);
	correlate_event(c, "p1", NULL, 10);
	correlate_event(NULL, "p1", &ev, 10);
	correlate_free(c);
	correlate_free(NULL);
	assert_true(correlate_is_attack_kind("host_sweep"));
	assert_true(correlate_is_attack_kind("slow_scan"));   /* one slow scanner across customers */
	assert_false(correlate_is_attack_kind("traffic_spike"));
}

static void
test_distributed(void **state)
{
	struct correlate_config cfg = { .distributed_min_sources = 6,
	    .distributed_window_s = 30, .global_min_probes = 16 };
	struct rec r;
	struct correlate *c = new_corr(&r, &cfg);
	struct gw_event ev;
	char src[GW_ADDR_MAX];

	(void)state;
	for (int i = 1; i <= 3; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		flood(&ev, "c101", src);
		correlate_event(c, i % 2 ? "p1" : "p2", &ev, 100 + i);
	}
	/* The same source again does not count twice. */
	correlate_event(c, "p1", &ev, 104);
	assert_int_equal(r.n_events, 0);
	/* Another customer's sources do not count for c101. */
	flood(&ev, "c102", "203.0.113.1");
	correlate_event(c, "p1", &ev, 104);
	/* A spoofed flood: no single src, sources in the top talkers. */
	flood(&ev, "c101", "");
	ev.n_top_talkers = 3;
	snprintf(ev.top_talkers[0], sizeof(ev.top_talkers[0]), "203.0.113.5 10pps");
	snprintf(ev.top_talkers[1], sizeof(ev.top_talkers[1]), "203.0.113.6/32");
	snprintf(ev.top_talkers[2], sizeof(ev.top_talkers[2]), "garbage");
	ev.rate_pps = 90000;
	correlate_event(c, "p3", &ev, 105);
	assert_int_equal(r.n_events, 0);          /* 5 sources */
	flood(&ev, "c101", "2001:db8::66");
	correlate_event(c, "p3", &ev, 106);
	assert_int_equal(r.n_events, 1);          /* 6 */
	assert_string_equal(r.probes[0], "operator");
	assert_string_equal(r.events[0].kind, "distributed_attack");
	assert_string_equal(r.events[0].customer, "c101");
	assert_string_equal(r.events[0].severity, "high");
	assert_false(r.events[0].cleared);
	assert_int_equal(r.events[0].n_top_talkers, 6);
	assert_true(r.events[0].rate_pps == 90000);
	assert_non_null(strstr(r.events[0].detail, "6 distinct sources"));
	/* More sources: no repeat while active. */
	flood(&ev, "c101", "198.51.100.200");
	correlate_event(c, "p1", &ev, 107);
	assert_int_equal(r.n_events, 1);
	correlate_tick(c, 110);
	assert_int_equal(r.n_events, 1);
	/* Everything older than 30 s: cleared on the tick. */
	correlate_tick(c, 140);
	assert_int_equal(r.n_events, 2);
	assert_string_equal(r.events[1].kind, "distributed_attack");
	assert_true(r.events[1].cleared);
	correlate_tick(c, 141);
	assert_int_equal(r.n_events, 2);
	correlate_free(c);
}

static void
test_probe_silent(void **state)
{
	struct rec r;
	struct correlate *c = new_corr(&r, NULL);

	(void)state;
	correlate_probe_seen(c, "p1", 1.0, 100);     /* 3 intervals = 3 s */
	correlate_probe_seen(c, "p2", 0, 100);       /* unknown: 30 s */
	correlate_tick(c, 102.9);
	assert_int_equal(r.n_events, 0);
	correlate_tick(c, 103.5);
	assert_int_equal(r.n_events, 1);
	assert_string_equal(r.probes[0], "p1");
	assert_string_equal(r.events[0].kind, "probe_silent");
	assert_false(r.events[0].cleared);
	correlate_tick(c, 110);
	assert_int_equal(r.n_events, 1);             /* no repeats */
	correlate_probe_seen(c, "p1", 1.0, 111);
	assert_int_equal(r.n_events, 2);
	assert_true(r.events[1].cleared);
	assert_string_equal(r.probes[1], "p1");
	correlate_probe_seen(c, "p1", 1.0, 112);
	assert_int_equal(r.n_events, 2);
	correlate_tick(c, 131);
	assert_int_equal(r.n_events, 4);             /* p1 again, and p2 */
	correlate_free(c);

	/* A configured timeout wins over the interval. */
	struct correlate_config cfg = { .silent_timeout_s = 10 };
	c = new_corr(&r, &cfg);
	correlate_probe_seen(c, "p1", 1.0, 100);
	correlate_tick(c, 109);
	assert_int_equal(r.n_events, 0);
	correlate_tick(c, 110.5);
	assert_int_equal(r.n_events, 1);
	correlate_free(c);
}

static void
stats_with_loss(struct gw_customer_stats *cs, uint64_t lost)
{
	memset(cs, 0, sizeof(*cs));
	snprintf(cs->customer, sizeof(cs->customer), "c101");
	cs->rtp.streams = 1;
	cs->rtp.packets_expected = 1000;
	cs->rtp.packets_lost = lost;
	cs->rtp.jitter_ms_avg = 2;
}

static void
test_sla(void **state)
{
	struct rec r;
	struct correlate *c = new_corr(&r, NULL);
	struct gw_customer_stats cs;

	(void)state;
	stats_with_loss(&cs, 50);                    /* 5% > 1% */
	correlate_stats(c, "p1", &cs, 1);
	correlate_stats(c, "p1", &cs, 2);
	stats_with_loss(&cs, 0);                     /* streak broken */
	correlate_stats(c, "p1", &cs, 3);
	stats_with_loss(&cs, 50);
	correlate_stats(c, "p1", &cs, 4);
	correlate_stats(c, "p1", &cs, 5);
	assert_int_equal(r.n_events, 0);
	correlate_stats(c, "p1", &cs, 6);
	assert_int_equal(r.n_events, 1);
	assert_string_equal(r.events[0].kind, "sla_violation");
	assert_string_equal(r.events[0].customer, "c101");
	assert_string_equal(r.probes[0], "p1");
	assert_non_null(strstr(r.events[0].detail, "RTP loss 5.00%"));
	correlate_stats(c, "p1", &cs, 7);
	assert_int_equal(r.n_events, 1);
	/* DNS failures keep it bad, then three good intervals clear it. */
	stats_with_loss(&cs, 0);
	cs.dns.queries = 100;
	cs.dns.failures = 20;
	correlate_stats(c, "p1", &cs, 8);
	cs.dns.failures = 0;
	correlate_stats(c, "p1", &cs, 9);
	correlate_stats(c, "p1", &cs, 10);
	assert_int_equal(r.n_events, 1);
	correlate_stats(c, "p1", &cs, 11);
	assert_int_equal(r.n_events, 2);
	assert_true(r.events[1].cleared);
	correlate_free(c);
}

static void
test_caps_and_config(void **state)
{
	struct correlate_config bad = { .distributed_min_sources =
	    CORRELATE_DIST_SET_MAX + 1 };
	struct correlate_stats_snapshot st;
	struct rec r;
	struct correlate *c;
	struct gw_event ev;
	char src[GW_ADDR_MAX];

	(void)state;
	assert_null(new_corr(&r, &bad));
	c = new_corr(&r, NULL);
	for (int i = 0; i < CORRELATE_SOURCES_MAX + 100; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		flood(&ev, "c101", src);
		correlate_event(c, "p1", &ev, 100);
	}
	correlate_stats_get(c, &st);
	assert_int_equal(st.dropped_full, 100);
	/* Once the window has passed, slots are reused. */
	flood(&ev, "c101", "198.51.100.1");
	correlate_event(c, "p1", &ev, 200);
	correlate_event(c, "p2", &ev, 201);
	assert_int_equal(r.n_globals, 1);
	correlate_stats_get(c, &st);
	assert_int_equal(st.dropped_full, 100);
	correlate_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_rule),
		cmocka_unit_test(test_ignored_events),
		cmocka_unit_test(test_distributed),
		cmocka_unit_test(test_probe_silent),
		cmocka_unit_test(test_sla),
		cmocka_unit_test(test_caps_and_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
