/* test_operator_metrics.c: the Prometheus exposition: exact lines for a known state, absent series, escaping, the customer cap. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

/* A customer with 1000 rx / 250 tx bytes in a 1 s interval and no quality data. */
static void
cust(struct live_customer_view *c, const char *id, uint64_t rx_bytes)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->probe, sizeof(c->probe), "p1");
	c->ts = 1700000010.0;
	c->interval = 1.0;
	c->stats.rx_bytes = rx_bytes;
	c->stats.tx_bytes = 250;
	c->stats.rx_packets = 10;
	c->stats.tx_packets = 5;
	c->stats.flows_active = 3;
	c->total_rx_bytes = rx_bytes * 4;
	c->total_tx_bytes = 1000;
	c->total_rx_packets = 40;
	c->total_tx_packets = 20;
	c->reports = 4;
}

static char *
render(const struct metrics_snapshot *s)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(s, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

/* True when text holds line as a whole line. */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* Number of lines that start with prefix. */
static int
count_prefix(const char *text, const char *prefix)
{
	int k = 0;
	size_t n = strlen(prefix);

	for (const char *p = text; *p; ) {
		if (strncmp(p, prefix, n) == 0)
			k++;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return k;
}

/*
 * Every sample line belongs to the family announced by the HELP/TYPE lines
 * just before it, each family appears once, and values are numbers.
 */
static void
check_structure(const char *text)
{
	char fam[128] = "", seen[4096] = " ";
	const char *p = text;

	assert_true(text[0] != '\0' && text[strlen(text) - 1] == '\n');
	while (*p) {
		const char *nl = strchr(p, '\n');
		char line[512], name[128], key[132];
		size_t n = (size_t)(nl - p);

		assert_non_null(nl);
		assert_true(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", fam), 1);
			snprintf(key, sizeof(key), " %s ", fam);
			assert_null(strstr(seen, key));   /* one block per family */
			strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", name), 1);
			assert_string_equal(name, fam);
			assert_true(strstr(line, " gauge") || strstr(line, " counter"));
		} else {
			const char *sp = strrchr(line, ' ');
			char *end;
			size_t nl2 = strcspn(line, "{ ");
			assert_non_null(sp);
			assert_int_equal(nl2, strlen(fam));
			assert_memory_equal(line, fam, nl2);
			if (strcmp(sp + 1, "NaN") != 0) {
				(void)strtod(sp + 1, &end);
				assert_true(*end == '\0' && end != sp + 1);
			}
		}
		p = nl + 1;
	}
}

static void
test_known_state(void **state)
{
	struct live_customer_view c[2];
	struct live_probe_info p;
	struct metrics_snapshot s;
	char *out;

	(void)state;
	cust(&c[0], "c102", 1000);
	cust(&c[1], "c101", 2000);          /* given out of order */
	c[1].interval = 2.0;
	c[1].stats.tcp.handshakes = 2;
	c[1].stats.tcp.rtt_wan_ms_avg = 30.0;
	c[1].stats.tcp.rtt_lan_ms_avg = 2.5;
	c[1].stats.rtp.streams = 1;
	c[1].stats.rtp.packets_expected = 700;
	c[1].stats.rtp.packets_lost = 7;
	c[1].stats.rtp.jitter_ms_avg = 4.25;
	c[1].stats.dns.queries = 3;
	c[1].stats.dns.responses = 2;
	c[1].stats.dns.latency_ms_avg = 18.5;
	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "p1");
	p.messages = 42;
	p.lost = 3;
	p.last_seen = 1800000000.0;
	p.customers = 2;
	memset(&s, 0, sizeof(s));
	s.customers = c;
	s.n_customers = 2;
	s.probes = &p;
	s.n_probes = 1;
	s.counters.envelopes = 50;
	s.counters.accepted = 45;
	s.counters.garbage = 5;
	s.counters.lost = 3;
	s.store.rrd_updates = 17;
	s.store.connected = true;
	s.now = 1800000002.5;
	s.uptime_s = 99.7;
	out = render(&s);
	check_structure(out);

	/* One family in full: HELP, TYPE, then the customers in id order. */
	assert_non_null(strstr(out,
	    "# HELP gatewatch_customer_rx_bits_per_second IP-layer bit/s toward "
	    "the customer in the latest interval.\n"
	    "# TYPE gatewatch_customer_rx_bits_per_second gauge\n"
	    "gatewatch_customer_rx_bits_per_second{customer=\"c101\"} 8000\n"
	    "gatewatch_customer_rx_bits_per_second{customer=\"c102\"} 8000\n"));
	assert_true(has_line(out, "gatewatch_customer_tx_bits_per_second{customer=\"c101\"} 1000"));
	assert_true(has_line(out, "gatewatch_customer_tx_bits_per_second{customer=\"c102\"} 2000"));
	assert_true(has_line(out, "gatewatch_customer_rtt_wan_seconds{customer=\"c101\"} 0.03"));
	assert_true(has_line(out, "gatewatch_customer_rtt_lan_seconds{customer=\"c101\"} 0.0025"));
	assert_true(has_line(out, "gatewatch_customer_jitter_seconds{customer=\"c101\"} 0.00425"));
	assert_true(has_line(out, "gatewatch_customer_rtp_loss_ratio{customer=\"c101\"} 0.01"));
	assert_true(has_line(out, "gatewatch_customer_dns_latency_seconds{customer=\"c101\"} 0.0185"));
	assert_true(has_line(out, "gatewatch_customer_rx_bytes_total{customer=\"c102\"} 4000"));
	assert_true(has_line(out, "gatewatch_customer_tx_packets_total{customer=\"c101\"} 20"));
	assert_true(has_line(out, "gatewatch_customer_flows_active{customer=\"c102\"} 3"));
	assert_true(has_line(out, "gatewatch_customer_last_report_timestamp_seconds{customer=\"c102\"} 1700000010"));
	/* c102 had no TCP, RTP or DNS: those series are absent, not 0 or NaN. */
	assert_int_equal(count_prefix(out, "gatewatch_customer_rtt_wan_seconds{"), 1);
	assert_int_equal(count_prefix(out, "gatewatch_customer_rtt_lan_seconds{"), 1);
	assert_int_equal(count_prefix(out, "gatewatch_customer_jitter_seconds{"), 1);
	assert_int_equal(count_prefix(out, "gatewatch_customer_rtp_loss_ratio{"), 1);
	assert_int_equal(count_prefix(out, "gatewatch_customer_dns_latency_seconds{"), 1);
	assert_true(has_line(out, "# TYPE gatewatch_customer_dns_latency_seconds gauge"));
	/* Probes and the operator. */
	assert_true(has_line(out, "gatewatch_probe_messages_total{probe=\"p1\"} 42"));
	assert_true(has_line(out, "gatewatch_probe_lost_total{probe=\"p1\"} 3"));
	assert_true(has_line(out, "gatewatch_probe_forwarded_elsewhere_total{probe=\"p1\"} 0"));
	assert_true(has_line(out, "gatewatch_probe_last_seen_age_seconds{probe=\"p1\"} 2.5"));
	assert_true(has_line(out, "gatewatch_probe_last_seen_timestamp_seconds{probe=\"p1\"} 1800000000"));
	assert_true(has_line(out, "gatewatch_probe_customers{probe=\"p1\"} 2"));
	assert_true(has_line(out, "gatewatch_envelopes_total 50"));
	assert_true(has_line(out, "gatewatch_accepted_total 45"));
	assert_true(has_line(out, "gatewatch_rejected_total{reason=\"garbage\"} 5"));
	assert_true(has_line(out, "gatewatch_rejected_total{reason=\"key_mismatch\"} 0"));
	assert_true(has_line(out, "gatewatch_lost_total 3"));
	assert_true(has_line(out, "gatewatch_rrd_updates_total 17"));
	assert_true(has_line(out, "gatewatch_rrdcached_up 1"));
	assert_true(has_line(out, "gatewatch_uptime_seconds 99"));
	assert_true(has_line(out, "gatewatch_customers 2"));
	assert_true(has_line(out, "gatewatch_metrics_customers_omitted 0"));
	free(out);
}

static void
test_escaping(void **state)
{
	struct live_customer_view c;
	struct live_probe_info p;
	struct metrics_snapshot s;
	char buf[16], *out;

	(void)state;
	cust(&c, "a\"b\\c\nd", 125);
	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "pr\"obe");
	c.stats.rtp.streams = 1;
	c.stats.rtp.jitter_ms_avg = NAN;   /* a hostile double is shown, not fatal */
	memset(&s, 0, sizeof(s));
	s.customers = &c;
	s.n_customers = 1;
	s.probes = &p;
	s.n_probes = 1;
	out = render(&s);
	check_structure(out);
	assert_true(has_line(out,
	    "gatewatch_customer_rx_bits_per_second{customer=\"a\\\"b\\\\c\\nd\"} 1000"));
	assert_true(has_line(out, "gatewatch_customer_jitter_seconds{customer=\"a\\\"b\\\\c\\nd\"} NaN"));
	assert_true(has_line(out, "gatewatch_probe_lost_total{probe=\"pr\\\"obe\"} 0"));
	free(out);

	assert_int_equal(metrics_escape_label("x\"y", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "x\\\"y");
	/* Truncation never splits an escape. */
	assert_int_equal(metrics_escape_label("ab\\", buf, 4), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(metrics_escape_label("abc", buf, 0), 0);
}

static void
test_cap(void **state)
{
	struct live_customer_view c[5];
	struct metrics_snapshot s;
	char *out;

	(void)state;
	cust(&c[0], "c1", 100);
	cust(&c[1], "c2", 900);
	cust(&c[2], "c3", 500);
	cust(&c[3], "c4", 900);   /* ties with c2: the smaller id wins */
	cust(&c[4], "c0", 900);
	memset(&s, 0, sizeof(s));
	s.customers = c;
	s.n_customers = 5;
	s.max_customers = 2;
	out = render(&s);
	check_structure(out);
	assert_true(has_line(out, "gatewatch_customers 5"));
	assert_true(has_line(out, "gatewatch_metrics_customers_omitted 3"));
	assert_non_null(strstr(out,
	    "# TYPE gatewatch_customer_rx_bits_per_second gauge\n"
	    "gatewatch_customer_rx_bits_per_second{customer=\"c0\"} 7200\n"
	    "gatewatch_customer_rx_bits_per_second{customer=\"c2\"} 7200\n#"));
	/* The cap holds for every per-customer family. */
	assert_int_equal(count_prefix(out, "gatewatch_customer_"), 2 * 8);
	assert_int_equal(count_prefix(out, "gatewatch_customer_rx_bytes_total{customer=\"c4\"}"), 0);
	free(out);

	s.max_customers = 5;
	out = render(&s);
	assert_true(has_line(out, "gatewatch_metrics_customers_omitted 0"));
	assert_int_equal(count_prefix(out, "gatewatch_customer_"), 5 * 8);
	free(out);
}

static void
test_empty(void **state)
{
	struct metrics_snapshot s;
	char *out;

	(void)state;
	memset(&s, 0, sizeof(s));
	out = render(&s);
	check_structure(out);
	assert_true(has_line(out, "gatewatch_customers 0"));
	assert_true(has_line(out, "# TYPE gatewatch_customer_rx_bits_per_second gauge"));
	assert_true(has_line(out, "# TYPE gatewatch_probe_lost_total counter"));
	assert_int_equal(count_prefix(out, "gatewatch_customer_"), 0);
	assert_true(has_line(out, "gatewatch_rrdcached_up 0"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_state),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
