/* test_probe_detect.c: unit tests for the anomaly detectors (detect.c, detect_scan.c, detect_flowind.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "customer.h"
#include "detect.h"

#define T0 (1700000000ULL * 1000000ULL)

struct sink {
	size_t n;
	struct gw_event ev[64];
};

static void on_event(const struct gw_event *ev, void *ctx)
{
	struct sink *s = ctx;

	if (s->n < 64)
		s->ev[s->n++] = *ev;
}

struct fixture {
	struct customer_map *map;
	struct detect *d;
	struct sink sink;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	f->map = customer_map_new();
	assert_int_equal(customer_map_add(f->map, "c1", "prefix", "10.0.1.0/24", err, sizeof(err)), 0);
	assert_int_equal(customer_map_add(f->map, "c2", "prefix", "10.0.2.0/24", err, sizeof(err)), 0);
	f->d = detect_new(f->map, on_event, &f->sink);
	assert_non_null(f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	detect_free(f->d);
	customer_map_free(f->map);
	free(f);
	return 0;
}

static struct pkt mk(uint64_t ts, const char *src, const char *dst, int proto,
    uint16_t sport, uint16_t dport, uint8_t flags, uint32_t bytes)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.ts_us = ts;
	assert_int_equal(gw_addr_parse(src, &p.src), 0);
	assert_int_equal(gw_addr_parse(dst, &p.dst), 0);
	p.ip_ver = p.src.family;
	p.l4_proto = (uint8_t)proto;
	p.has_l4 = true;
	p.sport = sport;
	p.dport = dport;
	p.tcp_flags = flags;
	p.icmp_type = proto == 1 ? 8 : 0;
	p.ip_bytes = bytes;
	return p;
}

static bool feed(struct fixture *f, const struct pkt *p)
{
	struct customer_match m = customer_lookup(f->map, p);

	return detect_packet(f->d, p, &m);
}

static const struct gw_event *find(const struct sink *s, const char *kind, bool cleared)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ev[i].kind, kind) == 0 && s->ev[i].cleared == cleared)
			return &s->ev[i];
	return NULL;
}

static size_t count(const struct sink *s, const char *kind, bool cleared)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ev[i].kind, kind) == 0 && s->ev[i].cleared == cleared)
			n++;
	return n;
}

/* Benign background so that time advances: one small packet every 10 ms. */
static void background(struct fixture *f, uint64_t from, uint64_t to)
{
	uint64_t t;

	for (t = from; t < to; t += 10000) {
		struct pkt p = mk(t, "203.0.113.200", "10.0.1.10", 6, 443, 50000, TCPF_ACK, 500);

		feed(f, &p);
	}
}

static void test_thresholds(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/gw-test-thr.XXXXXX";
	int fd;
	FILE *fp;

	assert_int_equal(detect_set_threshold(f->d, "syn_flood.rx.pps", 100), 0);
	assert_int_equal(detect_set_threshold(f->d, "udp_flood.tx.bps", 1e9), 0);
	assert_int_equal(detect_set_threshold(f->d, "port_scan.ports", 50), 0);
	assert_int_equal(detect_set_threshold(f->d, "spike.factor", 3), 0);
	assert_int_equal(detect_set_threshold(f->d, "nope.rx.pps", 1), -1);
	assert_int_equal(detect_set_threshold(f->d, "syn_flood.rx.pps", -1), -1);
	assert_int_equal(detect_set_threshold(f->d, "spike.factor", 0.5), -1);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fprintf(fp, "# comment\nsyn_flood.rx.pps 3000\n\nunusual_port.allow 22,80\n"
	    "unusual_port.allow.c1 8080\n");
	fclose(fp);
	assert_int_equal(detect_load_thresholds(f->d, path), 0);
	fp = fopen(path, "a");
	fprintf(fp, "host_sweep.hosts banana\n");
	fclose(fp);
	assert_int_equal(detect_load_thresholds(f->d, path), -1);
	unlink(path);
	assert_int_equal(detect_load_thresholds(f->d, "/nonexistent/thr"), -1);
	assert_int_equal(detect_allow_port(f->d, "nobody", 1), -1);
}

/* SYN flood from spoofed random sources: fast event, "many", top talkers, clear, skip DPI. */
static void test_spoofed_syn_flood(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *ev;
	uint64_t start = T0 + 3000000, t;
	size_t mem = detect_memory(f->d);
	unsigned i = 0, flagged = 0;
	char src[32];

	background(f, T0, start);
	assert_int_equal(f->sink.n, 0);
	for (t = start; t < start + 2000000; t += 200, i++) {    /* 5000 pps */
		snprintf(src, sizeof(src), "%s%u", i % 2 ? "198.51.100." : "203.0.113.",
		    1 + (i * 7919) % 254);
		struct pkt p = mk(t, src, "10.0.1.10", 6, (uint16_t)(1024 + i), 80, TCPF_SYN, 40);

		if (feed(f, &p))
			flagged++;
	}
	background(f, t, t + 5000000);
	ev = find(&f->sink, "syn_flood", false);
	assert_non_null(ev);
	assert_string_equal(ev->customer, "c1");
	assert_string_equal(ev->direction, "rx");
	assert_string_equal(ev->dst, "10.0.1.10");
	assert_string_equal(ev->src, "many");
	assert_string_equal(ev->severity, "high");
	assert_int_equal(ev->ip_proto, 6);
	assert_int_equal(ev->dport, 80);
	assert_true(ev->n_top_talkers > 0);
	assert_true(ev->ts - (double)start / 1e6 < 0.5);
	assert_true(ev->rate_pps >= 2000);
	assert_true(flagged > 9000);       /* flood packets skip DPI after the event */
	assert_int_equal(count(&f->sink, "syn_flood", false), 1);
	ev = find(&f->sink, "syn_flood", true);
	assert_non_null(ev);
	assert_true(ev->ts > (double)(start + 2000000) / 1e6);
	/* no scan/sweep/unusual noise from the spoofed flood (one port, one host) */
	assert_int_equal(f->sink.n, 2);
	assert_int_equal(detect_memory(f->d), mem);
}

/* Single-source UDP flood to c2 from outside: the source is named and flagged. */
static void test_single_source_udp_flood(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *ev;
	uint64_t start = T0 + 1000000, t;
	struct pkt other;

	assert_int_equal(detect_set_threshold(f->d, "udp_flood.rx.pps", 1000), 0);
	background(f, T0, start);
	for (t = start; t < start + 1000000; t += 500) {       /* 2000 pps */
		struct pkt p = mk(t, "198.51.100.7", "10.0.2.20", 17, 4444, 53, 0, 60);

		feed(f, &p);
	}
	ev = find(&f->sink, "udp_flood", false);
	assert_non_null(ev);
	assert_string_equal(ev->customer, "c2");
	assert_string_equal(ev->src, "198.51.100.7");
	assert_true(ev->ts - (double)start / 1e6 < 0.5);
	/* any packet of the flagged source skips DPI, even to another host */
	other = mk(t, "198.51.100.7", "10.0.1.99", 6, 1, 443, TCPF_ACK, 40);
	assert_true(feed(f, &other));
	other = mk(t, "198.51.100.8", "10.0.1.99", 6, 1, 443, TCPF_ACK, 40);
	assert_false(feed(f, &other));
}

/* SYN flood from one source at 5000 pps for 2 s toward c1's 10.0.1.10. */
static uint64_t flood_from(struct fixture *f, const char *src, uint64_t start)
{
	uint64_t t;
	unsigned i = 0;

	for (t = start; t < start + 2000000; t += 200, i++) {
		struct pkt p = mk(t, src, "10.0.1.10", 6, (uint16_t)(1024 + i % 60000),
		    80, TCPF_SYN, 40);

		feed(f, &p);
	}
	return t;
}

/*
 * Flood A from X, 3 s of quiet, flood B from Y: event B names Y as its
 * source and top talker; X, which sent nothing for 3 s, is in neither.
 */
static void test_stale_source_not_named(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *a = NULL, *b = NULL;
	uint64_t t;
	size_t i;

	assert_int_equal(detect_set_threshold(f->d, "hysteresis.holddown_s", 0), 0);
	background(f, T0, T0 + 1000000);
	t = flood_from(f, "198.51.100.11", T0 + 1000000);
	background(f, t, t + 3000000);
	flood_from(f, "198.51.100.22", t + 3000000);
	for (i = 0; i < f->sink.n; i++) {
		if (strcmp(f->sink.ev[i].kind, "syn_flood") != 0 || f->sink.ev[i].cleared)
			continue;
		if (a == NULL)
			a = &f->sink.ev[i];
		else if (b == NULL)
			b = &f->sink.ev[i];
	}
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a->src, "198.51.100.11");
	assert_string_equal(b->src, "198.51.100.22");
	assert_true(b->n_top_talkers >= 1);
	assert_non_null(strstr(b->top_talkers[0], "198.51.100.22 "));
	for (i = 0; i < b->n_top_talkers; i++)
		assert_null(strstr(b->top_talkers[i], "198.51.100.11"));
}

/* A rate flapping around the threshold gives one event, not one per crossing. */
static void test_hysteresis(void **state)
{
	struct fixture *f = *state;
	uint64_t t = T0, k;

	assert_int_equal(detect_set_threshold(f->d, "icmp_flood.rx.pps", 1000), 0);
	for (k = 0; k < 10; k++) {          /* 10 x (0.5 s at 3000 pps, 0.5 s at 400 pps) */
		uint64_t end = t + 1000000;

		for (; t < end; t += (t % 1000000 < 500000) ? 333 : 2500) {
			struct pkt p = mk(t, "192.0.2.1", "10.0.1.10", 1, 0, 0, 0, 84);

			feed(f, &p);
		}
	}
	assert_int_equal(count(&f->sink, "icmp_flood", false), 1);
	detect_tick(f->d, t + 10000000);
	assert_int_equal(count(&f->sink, "icmp_flood", true), 1);
}

/* A flood that moves from one host to another stays one alarm that follows it. */
static void test_moving_target(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *ev;
	uint64_t t;

	for (t = T0; t < T0 + 4000000; t += 250) {     /* 4000 pps, host .10 then .11 */
		struct pkt p = mk(t, "192.0.2.1", t < T0 + 1000000 ? "10.0.1.10" : "10.0.1.11",
		    6, 1234, 80, TCPF_SYN, 40);

		feed(f, &p);
	}
	background(f, t, t + 6000000);
	assert_int_equal(count(&f->sink, "syn_flood", false), 1);
	ev = find(&f->sink, "syn_flood", true);
	assert_non_null(ev);
	assert_string_equal(ev->dst, "10.0.1.11");
	assert_true(ev->ts > (T0 + 4000000) / 1e6);
}

static void test_scan_sweep_inter_unusual(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *ev;
	uint64_t t = T0;
	unsigned i;
	char dst[32];

	for (i = 0; i < 300; i++, t += 2000) {
		struct pkt p = mk(t, "198.51.100.66", "10.0.1.10", 6, 60000, (uint16_t)(i + 1), TCPF_SYN, 44);

		feed(f, &p);
	}
	for (i = 0; i < 200; i++, t += 2000) {
		snprintf(dst, sizeof(dst), "10.0.2.%u", i + 1);
		struct pkt p = mk(t, "203.0.113.99", dst, 1, 0, 0, 0, 28);

		feed(f, &p);
	}
	for (i = 0; i < 5; i++, t += 300000) {   /* c1 host probing c2 */
		struct pkt p = mk(t, "10.0.1.50", "10.0.2.60", 6, 51000, 445, TCPF_SYN, 60);

		feed(f, &p);
	}
	background(f, t, t + 15000000);
	ev = find(&f->sink, "port_scan", false);
	assert_non_null(ev);
	assert_string_equal(ev->src, "198.51.100.66");
	assert_string_equal(ev->customer, "c1");
	ev = find(&f->sink, "host_sweep", false);
	assert_non_null(ev);
	assert_string_equal(ev->src, "203.0.113.99");
	assert_string_equal(ev->customer, "c2");
	ev = find(&f->sink, "inter_customer", false);
	assert_non_null(ev);
	assert_string_equal(ev->customer, "c2");
	assert_string_equal(ev->src, "10.0.1.50");
	assert_int_equal(count(&f->sink, "inter_customer", false), 1);
	/* the scanner hit 300 ports: many of them above the unusual_port rate? no: one SYN each */
	assert_null(find(&f->sink, "unusual_port", false));
	assert_non_null(find(&f->sink, "port_scan", true));
	assert_non_null(find(&f->sink, "host_sweep", true));
	assert_non_null(find(&f->sink, "inter_customer", true));
}

static void test_unusual_port_allowlist(void **state)
{
	struct fixture *f = *state;
	uint64_t t = T0;
	unsigned i;

	assert_int_equal(detect_allow_port(f->d, "c1", 22), 0);
	for (i = 0; i < 40; i++, t += 20000) {   /* 50/s to allowed 22 */
		struct pkt p = mk(t, "192.0.2.10", "10.0.1.10", 6, (uint16_t)(2000 + i), 22, TCPF_SYN, 60);

		feed(f, &p);
	}
	background(f, t, t + 1000000);
	assert_null(find(&f->sink, "unusual_port", false));
	t += 1000000;
	for (i = 0; i < 40; i++, t += 20000) {   /* 50/s to 3389 */
		struct pkt p = mk(t, "192.0.2.10", "10.0.1.10", 6, (uint16_t)(2000 + i), 3389, TCPF_SYN, 60);

		feed(f, &p);
	}
	background(f, t, t + 1000000);
	assert_non_null(find(&f->sink, "unusual_port", false));
	assert_int_equal(find(&f->sink, "unusual_port", false)->dport, 3389);
}

static void test_spike_warmup(void **state)
{
	struct fixture *f = *state;
	uint64_t t;

	/* heavy traffic in the first seconds is not a spike: no baseline yet */
	for (t = T0; t < T0 + 3000000; t += 200) {
		struct pkt p = mk(t, "203.0.113.5", "10.0.2.5", 6, 443, 5000, TCPF_ACK, 1500);

		feed(f, &p);
	}
	for (; t < T0 + 80000000; t += 20000) {  /* 50 pps x 500 B = 200 kbit/s */
		struct pkt p = mk(t, "203.0.113.5", "10.0.2.5", 6, 443, 5000, TCPF_ACK, 500);

		feed(f, &p);
	}
	assert_null(find(&f->sink, "traffic_spike", false));
	for (; t < T0 + 82000000; t += 400) {    /* 30 Mbit/s */
		struct pkt p = mk(t, "203.0.113.5", "10.0.2.5", 6, 443, 5000, TCPF_ACK, 1500);

		feed(f, &p);
	}
	assert_non_null(find(&f->sink, "traffic_spike", false));
	assert_string_equal(find(&f->sink, "traffic_spike", false)->customer, "c2");
	assert_true(find(&f->sink, "traffic_spike", false)->ts < (T0 + 80500000) / 1e6);
}

static void test_inspect_and_bad_input(void **state)
{
	struct fixture *f = *state;
	char lines[8][GW_TEXT_MAX];
	struct pkt p = mk(T0, "198.51.100.7", "10.0.1.10", 17, 1, 53, 0, 60);
	struct customer_match m = { CUSTOMER_NONE, 1, false };
	size_t n;

	assert_false(detect_packet(NULL, &p, &m));
	assert_false(detect_packet(f->d, NULL, &m));
	p.ip_ver = 0;
	assert_false(detect_packet(f->d, &p, &m));
	p.ip_ver = 4;
	m.rx = 12345;                 /* out-of-range index is ignored */
	assert_false(detect_packet(f->d, &p, &m));
	m.rx = 1;
	/* Talkers are kept from 1/4 of a flood threshold: 10 pps vs 20 pps. */
	assert_int_equal(detect_set_threshold(f->d, "udp_flood.rx.pps", 20), 0);
	detect_packet(f->d, &p, &m);
	n = detect_inspect(f->d, lines, 8);
	assert_true(n >= 1);
	assert_non_null(strstr(lines[0], "198.51.100.7"));
	detect_tick(NULL, 0);
	detect_free(NULL);
}

/* Memory is fixed and grows modestly with customers. */
static void test_memory_for_customers(void **state)
{
	struct customer_map *m = customer_map_new();
	struct detect *d;
	char id[32], pfx[32], err[128];
	unsigned i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "c%u", i);
		snprintf(pfx, sizeof(pfx), "10.%u.%u.0/24", i / 256, i % 256);
		assert_int_equal(customer_map_add(m, id, "prefix", pfx, err, sizeof(err)), 0);
	}
	d = detect_new(m, NULL, NULL);
	assert_non_null(d);
	printf("detect memory for %zu customers: %zu bytes\n", customer_count(m),
	    detect_memory(d));
	assert_true(detect_memory(d) < 64u * 1024 * 1024);
	detect_free(d);
	customer_map_free(m);
}

static bool feed_flow(struct fixture *f, const struct pkt *p, unsigned flags)
{
	struct customer_match m = customer_lookup(f->map, p);

	return detect_packet_flow(f->d, p, &m, flags);
}

static size_t count_proto(const struct sink *s, const char *kind, bool cleared, uint32_t proto)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ev[i].kind, kind) == 0 && s->ev[i].cleared == cleared &&
		    s->ev[i].ip_proto == proto)
			n++;
	return n;
}

/*
 * The scenario: a SYN scan fires and clears; a few seconds later, in
 * its hold-down, the same scanner scans UDP (ICMP unreachables back), then
 * TCP again on another host: each is a different attack and is reported.
 * A repeat of the first scan inside the hold-down is not.
 */
static void test_scan_holddown_never_hides_another(void **state)
{
	struct fixture *f = *state;
	uint64_t t = T0;
	unsigned i;

	for (i = 0; i < 300; i++, t += 2000) {
		struct pkt p = mk(t, "198.51.100.61", "10.0.1.10", 6, 40404, (uint16_t)(i + 1),
		    TCPF_SYN, 44);

		feed(f, &p);
	}
	background(f, t, t + 13000000);
	t += 13000000;
	assert_int_equal(count_proto(&f->sink, "port_scan", false, 6), 1);
	assert_int_equal(count_proto(&f->sink, "port_scan", true, 6), 1);
	for (i = 0; i < 300; i++, t += 2000) {
		struct pkt p = mk(t, "198.51.100.61", "10.0.1.10", 17, 45123, (uint16_t)(i + 1), 0, 28);
		struct pkt r = mk(t + 300, "10.0.1.10", "198.51.100.61", 1, 0, 0, 0, 56);

		r.icmp_type = 3;
		r.icmp_code = 3;
		feed(f, &p);
		feed(f, &r);
	}
	for (i = 0; i < 300; i++, t += 2000) {   /* the first scan again: held down */
		struct pkt p = mk(t, "198.51.100.61", "10.0.1.10", 6, 40404, (uint16_t)(i + 1),
		    TCPF_SYN, 44);

		feed(f, &p);
	}
	for (i = 0; i < 300; i++, t += 2000) {   /* another target */
		struct pkt p = mk(t, "198.51.100.61", "10.0.1.11", 6, 40404, (uint16_t)(i + 1),
		    TCPF_SYN, 44);

		feed(f, &p);
	}
	background(f, t, t + 1000000);
	assert_int_equal(count_proto(&f->sink, "port_scan", false, 17), 1);
	assert_int_equal(count_proto(&f->sink, "port_scan", false, 6), 2);
	assert_string_equal(f->sink.ev[f->sink.n - 1].dst, "10.0.1.11");
	assert_null(find(&f->sink, "icmp_flood", false));
}

/* FIN, NULL and Xmas probes count as attempts; ACK-ed FINs of real flows do not. */
static void test_stealth_scans(void **state)
{
	struct fixture *f = *state;
	static const uint8_t styles[3] = { TCPF_FIN, 0, TCPF_FIN | TCPF_PSH | TCPF_URG };
	uint64_t t = T0;
	unsigned i, k;
	char src[32];

	for (i = 0; i < 300; i++, t += 2000) {   /* teardown of 300 real flows: nothing */
		struct pkt p = mk(t, "198.51.100.70", "10.0.1.10", 6, 40404, (uint16_t)(i + 1),
		    TCPF_FIN | TCPF_ACK, 40);

		feed(f, &p);
	}
	assert_null(find(&f->sink, "port_scan", false));
	for (k = 0; k < 3; k++) {
		snprintf(src, sizeof(src), "198.51.100.%u", 71 + k);
		for (i = 0; i < 150; i++, t += 2000) {
			struct pkt p = mk(t, src, "10.0.1.10", 6, 40404, (uint16_t)(i + 1), styles[k], 40);

			feed(f, &p);
		}
	}
	assert_int_equal(count_proto(&f->sink, "port_scan", false, 6), 3);
	assert_non_null(strstr(f->sink.ev[0].detail, "FIN"));
	assert_non_null(strstr(f->sink.ev[1].detail, "NULL"));
	assert_non_null(strstr(f->sink.ev[2].detail, "Xmas"));
}

/* Host sweeps are counted per protocol: ICMP, TCP and UDP sweeps are three alarms. */
static void test_sweeps_per_protocol(void **state)
{
	struct fixture *f = *state;
	static const int protos[3] = { 1, 6, 17 };
	uint64_t t = T0;
	unsigned i, k;
	char dst[32];

	for (k = 0; k < 3; k++)
		for (i = 0; i < 100; i++, t += 2000) {
			struct pkt p;

			snprintf(dst, sizeof(dst), "10.0.2.%u", i + 1);
			p = mk(t, "203.0.113.99", dst, protos[k], 40000, protos[k] == 6 ? 445 : 161,
			    TCPF_SYN, 40);
			feed(f, &p);
		}
	for (k = 0; k < 3; k++)
		assert_int_equal(count_proto(&f->sink, "host_sweep", false, (uint32_t)protos[k]), 1);
}

/*
 * Slow scan: one SYN every 3 s answered by a RST (the responder's first
 * packet) is found from the 15th failure on, after the wait for a fast scan
 * alarm; RSTs that answer nothing (backscatter) or end a flow are not failures.
 */
static void test_slow_scan(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *ev;
	uint64_t t = T0;
	unsigned i;

	for (i = 0; i < 40; i++) {      /* backscatter and teardown RSTs */
		struct pkt r = mk(t + i * 1000, "198.51.100.9", "10.0.1.20", 6, (uint16_t)(1000 + i),
		    40000, TCPF_RST | TCPF_ACK, 40);

		feed_flow(f, &r, DETECT_FIRST);
		r.sport = (uint16_t)(2000 + i);
		feed_flow(f, &r, DETECT_REPLY);
	}
	for (i = 0; i < 30; i++) {
		struct pkt p = mk(t, "203.0.113.45", "10.0.1.10", 6, 40404, (uint16_t)(100 + i),
		    TCPF_SYN, 44);
		struct pkt r = mk(t + 300, "10.0.1.10", "203.0.113.45", 6, (uint16_t)(100 + i),
		    40404, TCPF_RST | TCPF_ACK, 40);

		feed_flow(f, &p, DETECT_FIRST);
		feed_flow(f, &r, DETECT_FIRST | DETECT_REPLY);
		background(f, t + 1000, t + 3000000);
		t += 3000000;
	}
	ev = find(&f->sink, "slow_scan", false);
	assert_non_null(ev);
	assert_int_equal(count(&f->sink, "slow_scan", false), 1);
	assert_string_equal(ev->src, "203.0.113.45");
	assert_string_equal(ev->customer, "c1");
	assert_string_equal(ev->direction, "rx");
	/* 15th failure at 42 s, then 10 s waiting for a fast alarm */
	assert_true(ev->ts >= (T0 + 42000000) / 1e6 && ev->ts <= (T0 + 56000000) / 1e6);
	assert_null(find(&f->sink, "port_scan", false));
	background(f, t, t + 65000000);
	assert_non_null(find(&f->sink, "slow_scan", true));
}

/* The expiry hook's report of an attempt from src:sport to dst:dport, at now_us silent for silent_us. */
static void unanswered(struct fixture *f, const char *src, const char *dst, int proto,
    uint16_t sport, uint16_t dport, uint64_t now_us, uint64_t silent_us)
{
	struct pkt p = mk(now_us - silent_us, src, dst, proto, sport, dport, TCPF_SYN, 44);
	struct detect_unanswered u;

	memset(&u, 0, sizeof(u));
	u.src = p.src;
	u.dst = p.dst;
	u.sport = sport;
	u.dport = dport;
	u.ip_proto = (uint8_t)proto;
	u.bare_syn = proto == 6;
	u.last_us = now_us - silent_us;
	u.silent_us = silent_us;
	u.m = customer_lookup(f->map, &p);
	detect_flow_unanswered(f->d, &u);
}

/*
 * Slow scans without any answer: SYNs (and UDP datagrams) whose flows
 * expired unanswered count as failures, per (source, host) as distinct ports
 * and per (source, port) as distinct hosts. Reported from the 15th on.
 */
static void test_slow_scan_unanswered(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *ev;
	uint64_t t = T0;
	unsigned i;

	for (i = 0; i < 20; i++) {
		background(f, t, t + 3000000);
		t += 3000000;
		/* the flow of the SYN sent 60 s earlier expires now */
		unanswered(f, "198.51.100.47", "10.0.1.10", 6, 40405, (uint16_t)(100 + i),
		    t, 60000000);
	}
	background(f, t, t + 11000000);
	ev = find(&f->sink, "slow_scan", false);
	assert_non_null(ev);
	assert_int_equal(count(&f->sink, "slow_scan", false), 1);
	assert_string_equal(ev->src, "198.51.100.47");
	assert_string_equal(ev->customer, "c1");
	assert_string_equal(ev->direction, "rx");
	assert_int_equal(ev->ip_proto, 6);
	assert_non_null(strstr(ev->detail, "ports of one host"));
	/* 15th failure at 45 s, then the 10 s wait */
	assert_true(ev->ts >= (T0 + 45000000) / 1e6 && ev->ts <= (T0 + 57000000) / 1e6);

	/* a horizontal UDP scan of port 161 from another source (silent hosts) */
	for (i = 0; i < 16; i++) {
		char dst[32];

		snprintf(dst, sizeof(dst), "10.0.2.%u", 100 + i);
		unanswered(f, "203.0.113.48", dst, 17, 45124, 161, t, 60000000);
	}
	background(f, t + 11000000, t + 22000000);
	assert_int_equal(count(&f->sink, "slow_scan", false), 2);
	ev = &f->sink.ev[f->sink.n - 1];
	assert_string_equal(ev->src, "203.0.113.48");
	assert_string_equal(ev->customer, "c2");
	assert_non_null(strstr(ev->detail, "hosts on one port"));
}

/*
 * What a client leaves unanswered is no scan: one dead server retried on new
 * connections, multicast and servers' answers, flows evicted before they had
 * time for an answer, TCP flows that were not bare SYNs, and failures that
 * share neither host nor port (a damaged capture's bit errors).
 */
static void test_slow_scan_unanswered_benign(void **state)
{
	struct fixture *f = *state;
	uint64_t t = T0;
	unsigned i;
	char dst[32];

	for (i = 0; i < 40; i++) {
		struct pkt p = mk(t, "10.0.1.20", "192.0.2.99", 6, (uint16_t)(52000 + i), 443,
		    TCPF_SYN, 44);
		struct detect_unanswered u;

		background(f, t, t + 3000000);
		t += 3000000;
		unanswered(f, "10.0.1.20", "192.0.2.99", 6, (uint16_t)(52000 + i), 443, t, 60000000);
		unanswered(f, "10.0.1.20", "239.255.255.250", 17, 50100, (uint16_t)(1900 + i),
		    t, 60000000);
		unanswered(f, "198.51.100.53", "10.0.1.20", 17, 53, (uint16_t)(40000 + i),
		    t, 60000000);
		unanswered(f, "198.51.100.60", "10.0.1.20", 6, 40000, (uint16_t)(100 + i), t, 1000000);
		snprintf(dst, sizeof(dst), "192.0.2.%u", 100 + i);
		unanswered(f, "10.0.1.21", dst, 17, 45000, (uint16_t)(2000 + i), t, 60000000);
		memset(&u, 0, sizeof(u));  /* a FIN-only flow: not a bare SYN */
		u.src = p.dst;
		u.dst = p.src;
		u.sport = 80;
		u.dport = (uint16_t)(3000 + i);
		u.ip_proto = 6;
		u.last_us = t - 60000000;
		u.silent_us = 60000000;
		u.m = customer_lookup(f->map, &p);
		detect_flow_unanswered(f->d, &u);
	}
	background(f, t, t + 20000000);
	assert_int_equal(count(&f->sink, "slow_scan", false), 0);
}

/*
 * A traceroute is no scan: its UDP probes to 33434 up get no packet back in
 * their flows, but routers answer them with ICMP time exceeded quoting them.
 */
static void test_slow_scan_traceroute(void **state)
{
	struct fixture *f = *state;
	uint64_t t = T0;
	uint8_t quote[28];
	unsigned i;

	for (i = 0; i < 45; i++, t += 300000) {
		struct pkt r = mk(t, "192.0.2.201", "10.0.1.21", 1, 0, 0, 0, 56);

		memset(quote, 0, sizeof(quote));
		quote[0] = 0x45;
		quote[9] = 17;
		quote[12] = 10; quote[13] = 0; quote[14] = 1; quote[15] = 21;     /* 10.0.1.21 */
		quote[16] = 203; quote[17] = 0; quote[18] = 113; quote[19] = 250;
		quote[20] = 47000 >> 8; quote[21] = 47000 & 0xff;
		quote[22] = (uint8_t)((33434 + i) >> 8); quote[23] = (uint8_t)(33434 + i);
		r.icmp_type = 11;
		r.payload = quote;
		r.payload_caplen = r.payload_len = sizeof(quote);
		feed_flow(f, &r, DETECT_FIRST);
		background(f, t, t + 300000);
	}
	for (i = 0; i < 45; i++)  /* the probes' flows expire, 60 s later */
		unanswered(f, "10.0.1.21", "203.0.113.250", 17, 47000, (uint16_t)(33434 + i),
		    t + 60000000, 60000000);
	background(f, t, t + 20000000);
	assert_int_equal(count(&f->sink, "slow_scan", false), 0);
	/* The same probes without the routers' answers would be one. */
	for (i = 0; i < 45; i++)
		unanswered(f, "10.0.1.21", "203.0.113.251", 17, 47000, (uint16_t)(33434 + i),
		    t + 60000000, 60000000);
	background(f, t + 20000000, t + 40000000);
	assert_int_equal(count(&f->sink, "slow_scan", false), 1);
}

/* A flood on another host of the customer during the first flood's hold-down fires. */
static void test_flood_holddown_other_target(void **state)
{
	struct fixture *f = *state;
	uint64_t t;

	for (t = T0; t < T0 + 1000000; t += 250) {
		struct pkt p = mk(t, "192.0.2.1", "10.0.1.10", 6, 1234, 80, TCPF_SYN, 40);

		feed(f, &p);
	}
	background(f, t, t + 4000000);
	assert_non_null(find(&f->sink, "syn_flood", true));
	for (t += 4000000; t < T0 + 6000000; t += 250) {   /* same flood again: held down */
		struct pkt p = mk(t, "192.0.2.1", "10.0.1.10", 6, 1234, 80, TCPF_SYN, 40);

		feed(f, &p);
	}
	assert_int_equal(count(&f->sink, "syn_flood", false), 1);
	background(f, t, t + 4000000);
	for (t += 4000000; t < T0 + 11000000; t += 250) {
		struct pkt p = mk(t, "192.0.2.1", "10.0.1.12", 6, 1234, 80, TCPF_SYN, 40);

		feed(f, &p);
	}
	assert_int_equal(count(&f->sink, "syn_flood", false), 2);
	assert_string_equal(f->sink.ev[f->sink.n - 1].dst, "10.0.1.12");
}

/*
 * Flood onset: a 1500 pps SYN flood against a 500 pps threshold fires
 * within 40 ms of packet time (the 200-300 ms window alone needs about
 * 100 ms) and names its source; bursts of 50 back-to-back SYNs every 65 ms
 * (nmap's pattern, 770 pps on average) never pass the default 2000 pps.
 */
static void test_flood_onset(void **state)
{
	struct fixture *f = *state;
	const struct gw_event *ev;
	uint64_t start = T0 + 1000000, t, b;
	unsigned i = 0;

	background(f, T0, start);
	for (b = start; b < start + 2000000; b += 65000)
		for (i = 0; i < 50; i++) {
			struct pkt p = mk(b + i * 20, "203.0.113.9", "10.0.2.20", 6,
			    (uint16_t)(2000 + i), 80, TCPF_SYN, 40);

			feed(f, &p);
		}
	assert_null(find(&f->sink, "syn_flood", false));
	start += 3000000;
	background(f, start - 1000000, start);
	assert_int_equal(detect_set_threshold(f->d, "syn_flood.rx.pps", 500), 0);
	for (t = start, i = 0; t < start + 200000; t += 667, i++) {
		struct pkt p = mk(t, "198.51.100.70", "10.0.1.10", 6,
		    (uint16_t)(1024 + i), 80, TCPF_SYN, 40);

		feed(f, &p);
	}
	ev = find(&f->sink, "syn_flood", false);
	assert_non_null(ev);
	assert_string_equal(ev->src, "198.51.100.70");
	assert_string_equal(ev->dst, "10.0.1.10");
	assert_true(ev->ts - (double)start / 1e6 < 0.040);
	assert_true(ev->rate_pps >= 500);
	assert_int_equal(count(&f->sink, "syn_flood", false), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thresholds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoofed_syn_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_source_udp_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_source_not_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hysteresis, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moving_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_sweep_inter_unusual, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusual_port_allowlist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spike_warmup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inspect_and_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_holddown_never_hides_another, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stealth_scans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweeps_per_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_scan_unanswered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_scan_unanswered_benign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_scan_traceroute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_holddown_other_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_onset, setup, teardown),
		cmocka_unit_test(test_memory_for_customers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
