/* test_common_envelope.c: round trips and hostile-input rejection of the envelope codec. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "envelope.h"
#include "gwmsg.h"
#include "log.h"

/* ---- a tiny protobuf writer, to build envelopes the encoder refuses to make ---- */

struct pb {
	uint8_t *buf;
	size_t   len, cap;
};

static void
pb_byte(struct pb *p, uint8_t b)
{
	if (p->len == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->buf = realloc(p->buf, p->cap);
		assert_non_null(p->buf);
	}
	p->buf[p->len++] = b;
}

static void
pb_varint(struct pb *p, uint64_t v)
{
	while (v >= 0x80) {
		pb_byte(p, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	pb_byte(p, (uint8_t)v);
}

static void
pb_key(struct pb *p, unsigned field, unsigned wire)
{
	pb_varint(p, ((uint64_t)field << 3) | wire);
}

static void
pb_bytes(struct pb *p, unsigned field, const void *data, size_t n)
{
	pb_key(p, field, 2);
	pb_varint(p, n);
	for (size_t i = 0; i < n; i++)
		pb_byte(p, ((const uint8_t *)data)[i]);
}

static void
pb_str(struct pb *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void
pb_double(struct pb *p, unsigned field, double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	pb_key(p, field, 1);
	for (int i = 0; i < 8; i++)
		pb_byte(p, (uint8_t)(u >> (8 * i)));
}

static void
pb_uint(struct pb *p, unsigned field, uint64_t v)
{
	pb_key(p, field, 0);
	pb_varint(p, v);
}

/* Envelope header: version, probe id. */
static void
pb_header(struct pb *p, unsigned version, const char *probe)
{
	pb_uint(p, 1, version);
	pb_str(p, 2, probe);
	pb_uint(p, 3, 7);
}

static int
decode_pb(struct pb *p, char *err, size_t errlen)
{
	struct gw_msg m;
	int rc;

	memset(&m, 0xa5, sizeof(m));
	rc = envelope_decode(p->buf, p->len, &m, err, errlen);
	if (rc == -1) {
		/* Contract: on failure m is left cleared. */
		struct gw_msg zero;

		memset(&zero, 0, sizeof(zero));
		assert_memory_equal(&m, &zero, sizeof(m));
		assert_true(err == NULL || err[0] != '\0');
	}
	gw_msg_clear(&m);
	free(p->buf);
	memset(p, 0, sizeof(*p));
	return rc;
}

/* ---- filling messages with distinct values ---- */

static void
fill_header(struct gw_msg *m, enum gw_body type)
{
	memset(m, 0, sizeof(*m));
	m->version = GW_PROTO_VERSION;
	snprintf(m->probe_id, sizeof(m->probe_id), "probe-1.a:b_c");
	m->seq = 0xfedcba9876543210ULL;
	m->sent_ts = 1700000001.25;
	m->type = type;
}

static void
fill_customer(struct gw_customer_stats *c, unsigned i, size_t n_apps)
{
	snprintf(c->customer, sizeof(c->customer), "c%u", 100 + i);
	c->rx_bytes = 1000000000000ULL + i;
	c->tx_bytes = 2000 + i;
	c->rx_packets = 3000 + i;
	c->tx_packets = 4000 + i;
	c->flows_active = 50 + i;
	c->flows_new = 60 + i;
	c->shed_packets = 70000000000ULL + i;
	c->n_apps = n_apps;
	for (size_t a = 0; a < n_apps; a++) {
		snprintf(c->apps[a].app, sizeof(c->apps[a].app), "App%zu", a);
		snprintf(c->apps[a].category, sizeof(c->apps[a].category),
		    "Cat\xc3\xa9%zu", a);
		c->apps[a].rx_bytes = 10 * a + i;
		c->apps[a].tx_bytes = 20 * a + i + 1;
	}
	c->rtp = (struct gw_rtp_summary){ 2, 1000, 7, 1.5, 9.25, 993 };
	c->tcp = (struct gw_tcp_summary){ 11, 20.5, 0.75, 44.0, 3, 5000, 9 };
	c->dns = (struct gw_dns_summary){ 30, 29, 1, 12.5, 40.0, 1 };
	c->udp = (struct gw_udp_summary){ 4, 1200.5, 0.3 };
}

static void
fill_health(struct gw_health *h)
{
	*h = (struct gw_health){ 12.5, 1 << 24, 100000, 5, 6, 7, 8, 9, 10, -1,
	    123456789, 4321, 25000 };
}

/* Encodes m, decodes it again, and checks the result equals m byte for byte. */
static void
roundtrip(const struct gw_msg *m)
{
	struct gw_msg out;
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[128];
	int rc;

	assert_int_equal(envelope_encode(m, &buf, &len), 0);
	assert_true(len > 0 && len <= GW_ENVELOPE_MAX);
	rc = envelope_decode(buf, len, &out, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode failed: %s", err);
	assert_int_equal(out.type, m->type);
	if (m->type == GW_BODY_STATS) {
		size_t n = m->u.stats.n_customers;
		struct gw_customer_stats *saved = out.u.stats.customers;

		assert_int_equal(out.u.stats.n_customers, n);
		if (n > 0)
			assert_memory_equal(saved, m->u.stats.customers,
			    n * sizeof(*saved));
		out.u.stats.customers = m->u.stats.customers;
		assert_memory_equal(&out, m, sizeof(out));
		out.u.stats.customers = saved;
	} else {
		assert_memory_equal(&out, m, sizeof(out));
	}
	gw_msg_clear(&out);
	free(buf);
}

static void
test_roundtrip_hello(void **state)
{
	struct gw_msg m;

	(void)state;
	fill_header(&m, GW_BODY_HELLO);
	snprintf(m.u.hello.software, GW_NAME_MAX, "gatewatch-probe 0.1.0");
	snprintf(m.u.hello.hostname, GW_ID_MAX, "gw-c101.example");
	m.u.hello.start_ts = 1699999999.5;
	m.u.hello.interval_ms = 1000;
	snprintf(m.u.hello.mode, sizeof(m.u.hello.mode), "offline");
	m.u.hello.n_customers = GW_LIST_MAX;
	for (int i = 0; i < GW_LIST_MAX; i++)
		snprintf(m.u.hello.customers[i], GW_ID_MAX, "c%d", 101 + i);
	roundtrip(&m);
	/* After a shard move: the ranges that went elsewhere (optional field). */
	m.u.hello.n_away = GW_AWAY_MAX;
	for (int i = 0; i < GW_AWAY_MAX; i++) {
		m.u.hello.away[i].first = 100ULL * (uint64_t)i;
		m.u.hello.away[i].last = 100ULL * (uint64_t)i + (uint64_t)i;
	}
	m.u.hello.away[GW_AWAY_MAX - 1].last = UINT64_MAX;
	roundtrip(&m);
}

static void
test_roundtrip_stats(void **state)
{
	struct gw_customer_stats *cs = calloc(3, sizeof(*cs));
	struct gw_msg m;

	(void)state;
	assert_non_null(cs);
	fill_header(&m, GW_BODY_STATS);
	m.u.stats.ts = 1700000010.0;
	m.u.stats.interval = 1.0;
	fill_health(&m.u.stats.health);
	fill_customer(&cs[0], 0, GW_APPS_MAX);
	fill_customer(&cs[1], 1, 0);
	fill_customer(&cs[2], 2, 3);
	memset(&cs[1].tcp, 0, sizeof(cs[1].tcp));	/* zero sub-message */
	m.u.stats.customers = cs;
	m.u.stats.n_customers = 3;
	roundtrip(&m);
	m.u.stats.n_customers = 0;	/* probe with no customers yet */
	m.u.stats.customers = NULL;
	roundtrip(&m);
	free(cs);
}

static void
test_roundtrip_event(void **state)
{
	struct gw_msg m;
	struct gw_event *e = &m.u.event;

	(void)state;
	fill_header(&m, GW_BODY_EVENT);
	e->ts = 1700000020.3;
	snprintf(e->customer, sizeof(e->customer), "c101");
	snprintf(e->kind, sizeof(e->kind), "syn_flood");
	snprintf(e->severity, sizeof(e->severity), "high");
	snprintf(e->src, sizeof(e->src), "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe");
	snprintf(e->dst, sizeof(e->dst), "10.0.101.10");
	e->rate_pps = 50000;
	e->rate_bps = 2.5e7;
	snprintf(e->direction, sizeof(e->direction), "rx");
	e->cleared = true;
	e->ip_proto = 6;
	e->dport = 443;
	memset(e->detail, 'd', GW_TEXT_MAX - 2);	/* longest that fits */
	e->detail[10] = '\n';
	e->n_top_talkers = GW_LIST_MAX;
	for (int i = 0; i < GW_LIST_MAX; i++)
		snprintf(e->top_talkers[i], sizeof(e->top_talkers[i]),
		    "198.51.100.%d %d pps", i, 1000 - i);
	roundtrip(&m);
	memset(e->customer, 0, sizeof(e->customer));	/* no customer: allowed */
	roundtrip(&m);
}

static void
test_roundtrip_flow(void **state)
{
	struct gw_msg m;
	struct gw_flow_record *f = &m.u.flow;

	(void)state;
	fill_header(&m, GW_BODY_FLOW);
	snprintf(f->customer, sizeof(f->customer), "c102");
	f->first_ts = 1700000000.125;
	f->last_ts = 1700000030.5;
	f->ip_proto = 17;
	snprintf(f->src, sizeof(f->src), "10.0.102.20");
	snprintf(f->dst, sizeof(f->dst), "203.0.113.5");
	f->sport = 50000;
	f->dport = 5004;
	f->vlan = (100u << 16) | 102;
	snprintf(f->app, sizeof(f->app), "RTP");
	snprintf(f->category, sizeof(f->category), "Media");
	f->rx_bytes = 1;
	f->tx_bytes = UINT64_MAX;
	f->rx_packets = 3;
	f->tx_packets = 4;
	snprintf(f->end_reason, sizeof(f->end_reason), "idle");
	f->rtt_wan_ms = 12.5;
	f->rtt_lan_ms = 0.5;
	f->retransmits = 2;
	f->jitter_ms = 3.75;
	f->rtp_lost = 5;
	roundtrip(&m);
}

static void
test_roundtrip_command_result_heartbeat(void **state)
{
	struct gw_msg m;

	(void)state;
	fill_header(&m, GW_BODY_COMMAND);
	m.u.command.id = 99;
	snprintf(m.u.command.kind, GW_NAME_MAX, "ban");
	snprintf(m.u.command.address, GW_ADDR_MAX, "198.51.100.0");
	m.u.command.prefix_len = 24;
	m.u.command.timeout_s = 600;
	snprintf(m.u.command.key, GW_NAME_MAX, "syn_pps");
	m.u.command.value = -3.5;
	snprintf(m.u.command.reason, GW_TEXT_MAX, "distributed attack\non c101");
	roundtrip(&m);

	fill_header(&m, GW_BODY_RESULT);
	m.u.result.id = 99;
	m.u.result.ok = true;
	snprintf(m.u.result.message, GW_TEXT_MAX, "banned (dry-run)");
	m.u.result.n_entries = GW_LIST_MAX;
	for (int i = 0; i < GW_LIST_MAX; i++)
		snprintf(m.u.result.entries[i], GW_TEXT_MAX,
		    "198.51.100.%d/32 timeout %d", i, 600 - i);
	roundtrip(&m);

	fill_header(&m, GW_BODY_HEARTBEAT);
	m.u.heartbeat.ts = 1700000040.0;
	roundtrip(&m);
	m.u.heartbeat.leaving = true;	/* before a shard move */
	roundtrip(&m);
	m.u.heartbeat.leaving = false;
	m.seq = 0;	/* all-default fields too */
	m.sent_ts = 0;
	m.u.heartbeat.ts = 0;
	roundtrip(&m);
}

static void
test_encode_rejects(void **state)
{
	struct gw_customer_stats *cs;
	struct gw_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	fill_header(&m, GW_BODY_NONE);
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	fill_header(&m, GW_BODY_HEARTBEAT);
	m.probe_id[0] = '\0';
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	fill_header(&m, GW_BODY_HEARTBEAT);
	memset(m.probe_id, 'x', sizeof(m.probe_id));	/* unterminated */
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	fill_header(&m, GW_BODY_EVENT);
	snprintf(m.u.event.src, GW_ADDR_MAX, "bad\x01");
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	fill_header(&m, GW_BODY_EVENT);
	m.u.event.rate_pps = NAN;
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	fill_header(&m, GW_BODY_HELLO);
	m.u.hello.n_customers = GW_LIST_MAX + 1;
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	fill_header(&m, GW_BODY_HELLO);
	m.u.hello.n_away = GW_AWAY_MAX + 1;
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	fill_header(&m, GW_BODY_HELLO);
	m.u.hello.n_away = 1;
	m.u.hello.away[0].first = 9;
	m.u.hello.away[0].last = 8;
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);

	/* Over GW_ENVELOPE_MAX: every customer with every app, long names. */
	cs = calloc(GW_CUSTOMERS_MAX, sizeof(*cs));
	assert_non_null(cs);
	fill_header(&m, GW_BODY_STATS);
	for (unsigned i = 0; i < GW_CUSTOMERS_MAX; i++) {
		fill_customer(&cs[i], i, GW_APPS_MAX);
		for (int a = 0; a < GW_APPS_MAX; a++)
			memset(cs[i].apps[a].app, 'A', GW_NAME_MAX - 1);
	}
	m.u.stats.customers = cs;
	m.u.stats.n_customers = GW_CUSTOMERS_MAX + 1;
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	m.u.stats.n_customers = GW_CUSTOMERS_MAX;
	assert_int_equal(envelope_encode(&m, &buf, &len), -1);
	assert_null(buf);
	free(cs);
}

static void
test_decode_header_rejects(void **state)
{
	struct pb p = { 0 };
	char err[128];
	char longid[GW_ID_MAX + 1];

	(void)state;
	pb_header(&p, 1, "p1");
	pb_bytes(&p, 16, "", 0);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), 0);

	pb_header(&p, 2, "p1");
	pb_bytes(&p, 16, "", 0);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version"));

	pb_header(&p, 0, "p1");	/* version missing = 0 */
	pb_bytes(&p, 16, "", 0);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);

	pb_header(&p, 1, "");
	pb_bytes(&p, 16, "", 0);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);

	pb_header(&p, 1, "bad id/..");
	pb_bytes(&p, 16, "", 0);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);

	memset(longid, 'a', GW_ID_MAX);
	longid[GW_ID_MAX] = '\0';
	pb_header(&p, 1, longid);
	pb_bytes(&p, 16, "", 0);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);

	pb_header(&p, 1, "p1");	/* no body */
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no body"));

	pb_header(&p, 1, "p1");	/* two bodies */
	pb_bytes(&p, 16, "", 0);
	pb_bytes(&p, 12, "", 0);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than one"));

	pb_header(&p, 1, "p1");	/* NaN time */
	pb_double(&p, 4, NAN);
	pb_bytes(&p, 16, "", 0);
	assert_int_equal(decode_pb(&p, NULL, 0), -1);

	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);	/* empty input */
}

/* Wraps an encoded body (field, bytes) in a valid header and decodes it. */
static int
decode_body(unsigned field, struct pb *body, char *err, size_t errlen)
{
	struct pb p = { 0 };
	int rc;

	pb_header(&p, 1, "p1");
	pb_bytes(&p, field, body->buf, body->len);
	free(body->buf);
	memset(body, 0, sizeof(*body));
	rc = decode_pb(&p, err, errlen);
	return rc;
}

static void
test_decode_body_rejects(void **state)
{
	struct pb b = { 0 }, c = { 0 };
	char err[128], big[GW_TEXT_MAX + 1];

	(void)state;
	memset(big, 'x', GW_TEXT_MAX);
	big[GW_TEXT_MAX] = '\0';
	pb_str(&b, 13, big + 1);	/* detail of GW_TEXT_MAX-1 chars fits */
	assert_int_equal(decode_body(12, &b, err, sizeof(err)), 0);
	pb_str(&b, 13, big);		/* one more does not: reject, no truncation */
	assert_int_equal(decode_body(12, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "event.detail"));
	pb_str(&b, 5, "198.51.100.\xff");	/* invalid UTF-8 */
	assert_int_equal(decode_body(12, &b, err, sizeof(err)), -1);
	pb_str(&b, 2, "c 101");		/* invalid customer id */
	assert_int_equal(decode_body(12, &b, err, sizeof(err)), -1);
	pb_uint(&b, 12, 70000);		/* port out of range */
	assert_int_equal(decode_body(12, &b, err, sizeof(err)), -1);
	for (int i = 0; i <= GW_LIST_MAX; i++)
		pb_str(&b, 14, "198.51.100.1");
	assert_int_equal(decode_body(12, &b, err, sizeof(err)), -1);
	for (int i = 0; i <= GW_LIST_MAX; i++)
		pb_str(&b, 5, "c1");
	assert_int_equal(decode_body(10, &b, err, sizeof(err)), -1);
	pb_uint(&b, 4, 129);		/* prefix_len */
	assert_int_equal(decode_body(14, &b, err, sizeof(err)), -1);

	/* Stats: invalid customer id, missing id, too many apps. */
	pb_str(&c, 1, "c1/../x");
	pb_bytes(&b, 3, c.buf, c.len);
	c.len = 0;
	assert_int_equal(decode_body(11, &b, err, sizeof(err)), -1);
	pb_uint(&c, 2, 5);
	pb_bytes(&b, 3, c.buf, c.len);
	c.len = 0;
	assert_int_equal(decode_body(11, &b, err, sizeof(err)), -1);
	pb_str(&c, 1, "c1");
	for (int i = 0; i <= GW_APPS_MAX; i++)
		pb_bytes(&c, 8, "", 0);
	pb_bytes(&b, 3, c.buf, c.len);
	c.len = 0;
	assert_int_equal(decode_body(11, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "apps"));
	free(c.buf);
}

static void
test_decode_too_many_customers(void **state)
{
	struct pb b = { 0 }, c = { 0 };
	char err[128];

	(void)state;
	pb_str(&c, 1, "c1");
	for (int i = 0; i < GW_CUSTOMERS_MAX; i++)
		pb_bytes(&b, 3, c.buf, c.len);
	assert_int_equal(decode_body(11, &b, err, sizeof(err)), 0);
	for (int i = 0; i <= GW_CUSTOMERS_MAX; i++)
		pb_bytes(&b, 3, c.buf, c.len);
	assert_int_equal(decode_body(11, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "customers"));
	/* Half a million empty customers in < 1 MiB: refused by the memory budget. */
	for (int i = 0; i < 500000; i++)
		pb_bytes(&b, 3, "", 0);
	assert_int_equal(decode_body(11, &b, err, sizeof(err)), -1);
	free(c.buf);
}

static void
test_decode_too_large(void **state)
{
	struct pb p = { 0 };
	char err[128];

	(void)state;
	pb_header(&p, 1, "p1");
	pb_bytes(&p, 16, "", 0);
	/* Pad with an unknown field so the bytes stay well-formed. */
	pb_key(&p, 100, 2);
	pb_varint(&p, GW_ENVELOPE_MAX);
	for (size_t i = 0; i < GW_ENVELOPE_MAX; i++)
		pb_byte(&p, 0);
	assert_true(p.len > GW_ENVELOPE_MAX);
	assert_int_equal(decode_pb(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
}

/* Every proper prefix of a valid stats encoding is rejected or decodes sanely. */
static void
test_decode_truncated(void **state)
{
	struct gw_customer_stats cs[2];
	struct gw_msg m, out;
	uint8_t *buf, *copy;
	size_t len, n;
	int ok = 0;

	(void)state;
	memset(cs, 0, sizeof(cs));
	fill_header(&m, GW_BODY_STATS);
	fill_customer(&cs[0], 0, 4);
	fill_customer(&cs[1], 1, 2);
	fill_health(&m.u.stats.health);
	m.u.stats.customers = cs;
	m.u.stats.n_customers = 2;
	assert_int_equal(envelope_encode(&m, &buf, &len), 0);
	for (n = 0; n < len; n++) {
		copy = malloc(n > 0 ? n : 1);
		assert_non_null(copy);
		memcpy(copy, buf, n);
		if (envelope_decode(copy, n, &out, NULL, 0) == 0) {
			/* The body is the last field, so any prefix cuts it. */
			ok++;
			gw_msg_clear(&out);
		}
		free(copy);
	}
	assert_int_equal(ok, 0);
	free(buf);
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random bytes and random mutations of valid encodings never crash. */
static void
test_decode_garbage(void **state)
{
	struct gw_msg m, out;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	uint8_t *valid, buf[512];
	size_t vlen, n;
	int accepted = 0;

	(void)state;
	fill_header(&m, GW_BODY_EVENT);
	snprintf(m.u.event.kind, GW_NAME_MAX, "port_scan");
	snprintf(m.u.event.customer, GW_ID_MAX, "c1");
	assert_int_equal(envelope_encode(&m, &valid, &vlen), 0);
	assert_true(vlen < sizeof(buf));
	for (int i = 0; i < 20000; i++) {
		if (i % 2 == 0) {
			n = xorshift(&seed) % sizeof(buf);
			for (size_t k = 0; k < n; k++)
				buf[k] = (uint8_t)xorshift(&seed);
		} else {
			n = vlen;
			memcpy(buf, valid, vlen);
			for (int k = 0; k < 3; k++)
				buf[xorshift(&seed) % vlen] = (uint8_t)xorshift(&seed);
		}
		if (envelope_decode(buf, n, &out, NULL, 0) == 0) {
			accepted++;
			assert_true(gw_id_valid(out.probe_id));
			assert_int_equal(out.version, GW_PROTO_VERSION);
			assert_true(out.type > GW_BODY_NONE &&
			    out.type <= GW_BODY_HEARTBEAT);
			gw_msg_clear(&out);
		}
	}
	print_message("garbage: %d of 20000 mutated inputs accepted\n", accepted);
	free(valid);
}

static void
test_gwmsg_helpers(void **state)
{
	char s[32], id[GW_ID_MAX + 1];

	(void)state;
	assert_string_equal(gw_body_name(GW_BODY_STATS), "stats");
	assert_string_equal(gw_body_name(GW_BODY_HEARTBEAT), "heartbeat");
	assert_string_equal(gw_body_name((enum gw_body)99), "none");
	assert_true(gw_id_valid("c101"));
	assert_true(gw_id_valid("a-b_c.d:e"));
	assert_false(gw_id_valid(""));
	assert_false(gw_id_valid(NULL));
	assert_false(gw_id_valid("a b"));
	assert_false(gw_id_valid("a/b"));
	assert_false(gw_id_valid("\xc3\xa9"));
	memset(id, 'a', GW_ID_MAX);
	id[GW_ID_MAX - 1] = '\0';
	assert_true(gw_id_valid(id));
	id[GW_ID_MAX - 1] = 'a';
	id[GW_ID_MAX] = '\0';
	assert_false(gw_id_valid(id));
	assert_true(gw_text_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", false));
	assert_false(gw_text_valid("\xc0\xaf", false));		/* overlong */
	assert_false(gw_text_valid("\xed\xa0\x80", false));	/* surrogate */
	assert_false(gw_text_valid("\xe2\x82", false));		/* truncated */
	assert_false(gw_text_valid("a\nb", false));
	assert_true(gw_text_valid("a\nb", true));
	snprintf(s, sizeof(s), "ok\x01\xff\xc3\xa9x\x7f");
	assert_int_equal(gw_text_sanitize(s), 3);
	assert_string_equal(s, "ok??\xc3\xa9x?");
	assert_true(gw_text_valid(s, false));
}

/* Not a benchmark gate: prints encode/decode rates for a full stats report. */
static void
test_encode_speed(void **state)
{
	enum { N = 2000, ROUNDS = 20 };
	struct gw_customer_stats *cs = calloc(N, sizeof(*cs));
	struct gw_msg m, out;
	struct timespec t0, t1, t2;
	uint8_t *buf = NULL;
	size_t len = 0;
	double enc_s, dec_s;

	(void)state;
	assert_non_null(cs);
	fill_header(&m, GW_BODY_STATS);
	for (unsigned i = 0; i < N; i++)
		fill_customer(&cs[i], i, 4);
	m.u.stats.customers = cs;
	m.u.stats.n_customers = N;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int r = 0; r < ROUNDS; r++) {
		free(buf);
		assert_int_equal(envelope_encode(&m, &buf, &len), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int r = 0; r < ROUNDS; r++) {
		assert_int_equal(envelope_decode(buf, len, &out, NULL, 0), 0);
		gw_msg_clear(&out);
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	enc_s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	dec_s = (double)(t2.tv_sec - t1.tv_sec) + (t2.tv_nsec - t1.tv_nsec) / 1e9;
	print_message("stats of %d customers x 4 apps = %zu bytes: encode %.0f "
	    "customers/s, decode %.0f customers/s\n", N, len,
	    N * ROUNDS / enc_s, N * ROUNDS / dec_s);
	free(buf);
	free(cs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_hello),
		cmocka_unit_test(test_roundtrip_stats),
		cmocka_unit_test(test_roundtrip_event),
		cmocka_unit_test(test_roundtrip_flow),
		cmocka_unit_test(test_roundtrip_command_result_heartbeat),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_header_rejects),
		cmocka_unit_test(test_decode_body_rejects),
		cmocka_unit_test(test_decode_too_many_customers),
		cmocka_unit_test(test_decode_too_large),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_garbage),
		cmocka_unit_test(test_gwmsg_helpers),
		cmocka_unit_test(test_encode_speed),
	};

	log_init("test_common_envelope", LOG_LVL_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
