/* test_probe_flow.c: flow table: both directions, timeouts, eviction, growth, flush. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow.h"

struct ends {
	int n[4];
	uint64_t last_bytes;
};

static void
on_end(struct flow *f, enum flow_end why, void *ctx)
{
	struct ends *e = ctx;

	e->n[why]++;
	e->last_bytes = f->bytes[0] + f->bytes[1];
}

/* A UDP/TCP packet 10.0.0.a:sp -> 192.0.2.b:dp at t seconds. */
static struct pkt
mk(uint32_t a, uint16_t sp, uint32_t b, uint16_t dp, uint8_t proto, double t)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.ip_ver = 4;
	p.src.family = p.dst.family = 4;
	p.src.a[0] = 10; p.src.a[1] = (uint8_t)(a >> 16); p.src.a[2] = (uint8_t)(a >> 8);
	p.src.a[3] = (uint8_t)a;
	p.dst.a[0] = 192; p.dst.a[1] = 0; p.dst.a[2] = 2; p.dst.a[3] = (uint8_t)b;
	p.sport = sp; p.dport = dp;
	p.l4_proto = proto;
	p.has_l4 = true;
	p.ip_bytes = 100;
	p.ts_us = (uint64_t)(t * 1e6);
	return p;
}

static struct pkt
rev(struct pkt p)
{
	struct gw_addr a = p.src;
	uint16_t s = p.sport;

	p.src = p.dst; p.dst = a;
	p.sport = p.dport; p.dport = s;
	return p;
}

static void
test_size(void **state)
{
	(void)state;
	/*
	 * Memory target: 10k concurrent flows in 16 MiB and 100k in 64 MiB with
	 * the rest of the probe (tests/bench/run.sh --only memory).
	 */
	if (sizeof(void *) == 8)
		assert_true(sizeof(struct flow) <= 144);
}

static void
test_bidirectional(void **state)
{
	struct ends e = { { 0 }, 0 };
	struct flow_table *t = flow_table_new(NULL, on_end, &e);
	struct pkt p = mk(1, 1000, 1, 80, 6, 100.0), r = rev(p);
	struct flow *f, *g;
	struct flow_stats st;
	int dir;
	bool created;

	(void)state;
	assert_non_null(t);
	f = flow_table_packet(t, &p, &dir, &created);
	assert_non_null(f);
	assert_true(created);
	assert_int_equal(dir, FLOW_FWD);
	assert_int_equal(f->customer, -1);
	r.ts_us += 1000;
	g = flow_table_packet(t, &r, &dir, &created);
	assert_ptr_equal(f, g);
	assert_false(created);
	assert_int_equal(dir, FLOW_REV);
	assert_int_equal(f->bytes[FLOW_FWD], 100);
	assert_int_equal(f->bytes[FLOW_REV], 100);
	assert_int_equal(f->pkts[FLOW_REV], 1);
	/* Same ports, other protocol or VLAN: other flows. */
	p.l4_proto = 17;
	assert_ptr_not_equal(flow_table_packet(t, &p, &dir, &created), f);
	p.l4_proto = 6;
	p.vlan_outer = 7;
	assert_ptr_not_equal(flow_table_packet(t, &p, &dir, &created), f);
	flow_table_stats(t, &st);
	assert_int_equal(st.active, 3);
	flow_table_free(t);
	assert_int_equal(e.n[FLOW_END_FLUSH], 3);
}

static void
test_idle_and_closing(void **state)
{
	struct flow_config cfg = { .idle_timeout_us = 60000000 };
	struct ends e = { { 0 }, 0 };
	struct flow_table *t = flow_table_new(&cfg, on_end, &e);
	struct pkt a = mk(1, 1000, 1, 80, 6, 100.0), b = mk(2, 1000, 1, 80, 17, 100.0);
	int dir;
	bool created;

	(void)state;
	flow_table_packet(t, &a, &dir, &created);
	flow_table_packet(t, &b, &dir, &created);
	a.tcp_flags = TCPF_FIN | TCPF_ACK;
	a.ts_us += 1000000;
	flow_table_packet(t, &a, &dir, &created);
	flow_table_expire(t, (uint64_t)(105 * 1e6));
	assert_int_equal(e.n[FLOW_END_IDLE], 0);
	/* The closed TCP flow goes after 10 s, the UDP one after 60 s. */
	flow_table_expire(t, (uint64_t)(111.5 * 1e6));
	assert_int_equal(e.n[FLOW_END_IDLE], 1);
	flow_table_expire(t, (uint64_t)(159 * 1e6));
	assert_int_equal(e.n[FLOW_END_IDLE], 1);
	flow_table_expire(t, (uint64_t)(160 * 1e6));
	assert_int_equal(e.n[FLOW_END_IDLE], 2);
	flow_table_free(t);
	assert_int_equal(e.n[FLOW_END_FLUSH], 0);
}

static void
test_eviction_cap(void **state)
{
	struct flow_config cfg = { .max_flows = 16 };
	struct ends e = { { 0 }, 0 };
	struct flow_table *t = flow_table_new(&cfg, on_end, &e);
	struct flow_stats st;
	struct pkt p;
	int i, dir;
	bool created;

	(void)state;
	for (i = 0; i < 20; i++) {
		p = mk((uint32_t)i, 1000, 1, 53, 17, 100.0 + i);
		assert_non_null(flow_table_packet(t, &p, &dir, &created));
		assert_true(created);
	}
	flow_table_stats(t, &st);
	assert_int_equal(st.active, 16);
	assert_int_equal(st.evicted, 4);
	assert_int_equal(e.n[FLOW_END_EVICTED], 4);
	/* The oldest went first: flow 0 is new again, flow 19 is still there. */
	p = mk(19, 1000, 1, 53, 17, 200.0);
	flow_table_packet(t, &p, &dir, &created);
	assert_false(created);
	p = mk(0, 1000, 1, 53, 17, 200.0);
	flow_table_packet(t, &p, &dir, &created);
	assert_true(created);
	flow_table_free(t);
}

static void
test_active_timeout(void **state)
{
	struct flow_config cfg = { .active_timeout_us = 10000000 };
	struct ends e = { { 0 }, 0 };
	struct flow_table *t = flow_table_new(&cfg, on_end, &e);
	struct pkt p;
	struct flow *f = NULL;
	int i, dir;
	bool created;

	(void)state;
	for (i = 0; i <= 25; i++) {
		p = mk(1, 5004, 1, 5004, 17, 1000.0 + i);
		f = flow_table_packet(t, &p, &dir, &created);
	}
	/* Records at t=1010 and t=1020, each with the 10 packets before. */
	assert_int_equal(e.n[FLOW_END_ACTIVE], 2);
	assert_int_equal(e.last_bytes, 1000);
	assert_int_equal(f->pkts[FLOW_FWD], 6);
	assert_int_equal(f->first_us, (uint64_t)1000 * 1000000);
	flow_table_free(t);
	assert_int_equal(e.n[FLOW_END_FLUSH], 1);
}

static int
count_walk(struct flow *f, void *ctx)
{
	(void)f;
	(*(int *)ctx)++;
	return 0;
}

static void
test_many_flows(void **state)
{
	struct ends e = { { 0 }, 0 };
	struct flow_table *t = flow_table_new(NULL, on_end, &e);
	struct flow_stats st;
	struct pkt p;
	int i, dir, n = 0;
	bool created;

	(void)state;
	for (i = 0; i < 50000; i++) {
		p = mk((uint32_t)i, (uint16_t)(i * 7), 1, 443, 6, 10.0);
		assert_non_null(flow_table_packet(t, &p, &dir, &created));
	}
	for (i = 0; i < 50000; i++) {
		p = rev(mk((uint32_t)i, (uint16_t)(i * 7), 1, 443, 6, 11.0));
		flow_table_packet(t, &p, &dir, &created);
		assert_false(created);
		assert_int_equal(dir, FLOW_REV);
	}
	flow_table_stats(t, &st);
	assert_int_equal(st.active, 50000);
	assert_int_equal(st.created, 50000);
	flow_table_walk(t, count_walk, &n);
	assert_int_equal(n, 50000);
	flow_table_expire(t, (uint64_t)(100 * 1e6));
	flow_table_stats(t, &st);
	assert_int_equal(st.active, 0);
	assert_int_equal(e.n[FLOW_END_IDLE], 50000);
	flow_table_free(t);
	flow_table_free(NULL);
}

/* A spoofed SYN flood fills at most the SYN-only quota; answered flows stay. */
static void
test_syn_flood_quota(void **state)
{
	struct ends e = { { 0 }, 0 };
	struct flow_config cfg = { 100000, 0, 0 };
	struct flow_table *t = flow_table_new(&cfg, on_end, &e);
	struct pkt p = mk(1, 1000, 1, 80, 6, 10.0), r;
	struct flow *live;
	struct flow_stats st;
	uint32_t i;
	int dir;
	bool created;

	(void)state;
	p.tcp_flags = TCPF_SYN;
	r = rev(p);
	r.tcp_flags = TCPF_SYN | TCPF_ACK;
	live = flow_table_packet(t, &p, &dir, &created);
	assert_non_null(flow_table_packet(t, &r, &dir, &created));
	assert_false(created);
	assert_int_equal(live->flags & FLOWF_EMBRYONIC, 0);
	for (i = 0; i < 5000; i++) {
		struct pkt s = mk(1000 + i, (uint16_t)(2000 + i), 9, 80, 6, 10.0 + i * 1e-4);

		s.tcp_flags = TCPF_SYN;
		assert_non_null(flow_table_packet(t, &s, &dir, &created));
		assert_true(created);
	}
	flow_table_stats(t, &st);
	assert_int_equal(st.active, 1 + 1562);      /* quota max(1024, 100000 / 64) */
	assert_int_equal(e.n[FLOW_END_EVICTED], 5000 - 1562);
	/* The answered flow was never a candidate. */
	p.ts_us += 1000000;
	assert_true(flow_table_packet(t, &p, &dir, &created) == live);
	assert_false(created);
	flow_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_bidirectional),
		cmocka_unit_test(test_idle_and_closing),
		cmocka_unit_test(test_eviction_cap),
		cmocka_unit_test(test_active_timeout),
		cmocka_unit_test(test_many_flows),
		cmocka_unit_test(test_syn_flood_quota),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
