/* test_probe_jsonl.c: JSON Lines output: escaping, numbers, exact stats/event/flow lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "jsonl.h"

/* Runs fn on a memory stream and returns what it wrote (caller frees). */
static char *
capture(void (*fn)(FILE *fp, void *arg), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	fn(fp, arg);
	fclose(fp);
	return buf;
}

static void
put_str(FILE *fp, void *arg)
{
	jsonl_put_string(fp, arg);
}

static void
put_dbl(FILE *fp, void *arg)
{
	jsonl_put_double(fp, *(double *)arg);
}

static void
test_escaping(void **state)
{
	char *s;

	(void)state;
	s = capture(put_str, "a\"b\\c\nd\te\x01\xc3\xa9");
	assert_string_equal(s, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u00c3\\u00a9\"");
	free(s);
	s = capture(put_str, "");
	assert_string_equal(s, "\"\"");
	free(s);
}

static void
test_numbers(void **state)
{
	static const struct { double v; const char *want; } cases[] = {
		{ 1700000001.0, "1700000001.0" }, { 0, "0.0" }, { 1.5, "1.5" },
		{ 1700000020.3, "1700000020.3" }, { 0.000123, "0.000123" },
		{ -2.25, "-2.25" }, { 12.3456789, "12.345679" },
	};
	double v;
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = capture(put_dbl, (void *)&cases[i].v);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
	v = NAN;
	s = capture(put_dbl, &v);
	assert_string_equal(s, "0.0");
	free(s);
	v = INFINITY;
	s = capture(put_dbl, &v);
	assert_string_equal(s, "0.0");
	free(s);
}

static void
write_stats(FILE *fp, void *arg)
{
	struct jsonl *j = jsonl_wrap(fp);

	assert_int_equal(jsonl_stats(j, "p1", arg), 0);
	assert_int_equal(jsonl_close(j), 0);
}

static void
test_stats_line(void **state)
{
	struct gw_customer_stats c;
	struct gw_stats_report r;
	char *s;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	strcpy(c.customer, "c101");
	c.rx_bytes = 1500; c.tx_bytes = 60; c.rx_packets = 1; c.tx_packets = 1;
	c.flows_active = 2; c.flows_new = 1;
	c.n_apps = 2;
	strcpy(c.apps[0].app, "HTTP"); strcpy(c.apps[0].category, "Web");
	c.apps[0].rx_bytes = 1500;
	strcpy(c.apps[1].app, "DNS"); strcpy(c.apps[1].category, "Network");
	c.apps[1].tx_bytes = 60;
	c.dns.queries = 1; c.dns.latency_ms_avg = 12.5;
	r.ts = 1700000001.0; r.interval = 1.0; r.n_customers = 1; r.customers = &c;
	s = capture(write_stats, &r);
	assert_string_equal(s,
	    "{\"type\":\"stats\",\"probe\":\"p1\",\"customer\":\"c101\",\"ts\":1700000001.0,"
	    "\"interval\":1.0,\"rx_bytes\":1500,\"tx_bytes\":60,\"rx_packets\":1,"
	    "\"tx_packets\":1,\"flows_active\":2,\"flows_new\":1,"
	    "\"apps\":{\"HTTP\":{\"rx_bytes\":1500,\"tx_bytes\":0,\"category\":\"Web\"},"
	    "\"DNS\":{\"rx_bytes\":0,\"tx_bytes\":60,\"category\":\"Network\"}},"
	    "\"rtp\":{\"streams\":0,\"packets_expected\":0,\"packets_lost\":0,"
	    "\"jitter_ms_avg\":0.0,\"jitter_ms_max\":0.0,\"packets\":0},"
	    "\"tcp\":{\"handshakes\":0,\"rtt_wan_ms_avg\":0.0,\"rtt_lan_ms_avg\":0.0,"
	    "\"rtt_ms_p95\":0.0,\"retransmits\":0,\"segments\":0,\"out_of_order\":0},"
	    "\"dns\":{\"queries\":1,\"responses\":0,\"failures\":0,\"latency_ms_avg\":12.5,"
	    "\"latency_ms_p95\":0.0,\"timeouts\":0},"
	    "\"udp\":{\"streams\":0,\"pps_avg\":0.0,\"iat_var_ms_avg\":0.0}}\n");
	free(s);
}

/* shed_packets appears after flows_new only when packets were shed. */
static void
test_stats_shed(void **state)
{
	struct gw_customer_stats c;
	struct gw_stats_report r;
	char *s;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	strcpy(c.customer, "c1");
	c.flows_new = 3;
	c.shed_packets = 42;
	r.ts = 1700000001.0; r.interval = 1.0; r.n_customers = 1; r.customers = &c;
	s = capture(write_stats, &r);
	assert_non_null(strstr(s, "\"flows_new\":3,\"shed_packets\":42,\"apps\""));
	free(s);
	c.shed_packets = 0;
	s = capture(write_stats, &r);
	assert_null(strstr(s, "shed_packets"));
	free(s);
}

static void
write_event(FILE *fp, void *arg)
{
	struct jsonl *j = jsonl_wrap(fp);

	assert_int_equal(jsonl_event(j, "p1", arg), 0);
	jsonl_close(j);
}

static void
test_event_line(void **state)
{
	struct gw_event ev;
	char *s;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.ts = 1700000020.3;
	strcpy(ev.customer, "c101"); strcpy(ev.kind, "syn_flood");
	strcpy(ev.severity, "high"); strcpy(ev.src, "198.51.100.7");
	strcpy(ev.dst, "10.0.101.10"); ev.rate_pps = 50000;
	strcpy(ev.detail, "quote\" here");
	ev.n_top_talkers = 1; strcpy(ev.top_talkers[0], "198.51.100.7 50000pps");
	s = capture(write_event, &ev);
	assert_non_null(strstr(s, "{\"type\":\"event\",\"probe\":\"p1\",\"customer\":\"c101\","
	    "\"ts\":1700000020.3,\"kind\":\"syn_flood\",\"severity\":\"high\","
	    "\"src\":\"198.51.100.7\",\"dst\":\"10.0.101.10\",\"rate_pps\":50000.0,"));
	assert_non_null(strstr(s, "\"detail\":\"quote\\\" here\""));
	assert_non_null(strstr(s, "\"top_talkers\":[\"198.51.100.7 50000pps\"]}\n"));
	free(s);
}

static void
write_flow(FILE *fp, void *arg)
{
	struct jsonl *j = jsonl_wrap(fp);

	assert_int_equal(jsonl_flow(j, "p1", arg), 0);
	jsonl_close(j);
}

static void
test_flow_line(void **state)
{
	struct gw_flow_record fr;
	char *s;

	(void)state;
	memset(&fr, 0, sizeof(fr));
	strcpy(fr.customer, "all"); fr.first_ts = 10.5; fr.last_ts = 12;
	fr.ip_proto = 6; strcpy(fr.src, "10.0.0.1"); strcpy(fr.dst, "2001:db8::1");
	fr.sport = 40000; fr.dport = 443; strcpy(fr.app, "TLS");
	strcpy(fr.end_reason, "idle"); fr.tx_bytes = 5;
	s = capture(write_flow, &fr);
	assert_non_null(strstr(s, "{\"type\":\"flow\",\"probe\":\"p1\",\"customer\":\"all\","
	    "\"first_ts\":10.5,\"last_ts\":12.0,\"ip_proto\":6,\"src\":\"10.0.0.1\","
	    "\"dst\":\"2001:db8::1\",\"sport\":40000,\"dport\":443,\"vlan\":0,"
	    "\"app\":\"TLS\""));
	assert_non_null(strstr(s, "\"end_reason\":\"idle\""));
	assert_int_equal(s[strlen(s) - 1], '\n');
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_stats_line),
		cmocka_unit_test(test_stats_shed),
		cmocka_unit_test(test_event_line),
		cmocka_unit_test(test_flow_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
