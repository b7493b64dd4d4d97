/* test_probe_covert.c: unit tests for the TCP covert-channel indicators (covert.c), on decoded frames. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "covert.h"
#include "decode.h"

#define T0 (1700000000ULL * 1000000ULL)

struct seg {
	uint8_t ttl;
	uint16_t ip_id;
	uint8_t flags;
	uint8_t reserved;     /* the 3 reserved bits */
	uint32_t seq, ack;
	uint16_t win, urg;
	uint16_t sport, dport;
	uint16_t payload;
};

/* Builds Ethernet/IPv4/TCP 198.51.100.1 -> 10.0.0.2 into buf; returns the frame length. */
static size_t build(uint8_t *buf, const struct seg *s)
{
	size_t tot = 20 + 20 + s->payload;

	memset(buf, 0, 14 + tot);
	buf[12] = 0x08;
	buf[14] = 0x45;
	buf[16] = (uint8_t)(tot >> 8);
	buf[17] = (uint8_t)tot;
	buf[18] = (uint8_t)(s->ip_id >> 8);
	buf[19] = (uint8_t)s->ip_id;
	buf[22] = s->ttl;
	buf[23] = 6;
	memcpy(buf + 26, "\xc6\x33\x64\x01\x0a\x00\x00\x02", 8);
	buf[34] = (uint8_t)(s->sport >> 8);
	buf[35] = (uint8_t)s->sport;
	buf[36] = (uint8_t)(s->dport >> 8);
	buf[37] = (uint8_t)s->dport;
	buf[38] = (uint8_t)(s->seq >> 24);
	buf[39] = (uint8_t)(s->seq >> 16);
	buf[40] = (uint8_t)(s->seq >> 8);
	buf[41] = (uint8_t)s->seq;
	buf[42] = (uint8_t)(s->ack >> 24);
	buf[43] = (uint8_t)(s->ack >> 16);
	buf[44] = (uint8_t)(s->ack >> 8);
	buf[45] = (uint8_t)s->ack;
	buf[46] = (uint8_t)(0x50 | (s->reserved & 7) << 1);
	buf[47] = s->flags;
	buf[48] = (uint8_t)(s->win >> 8);
	buf[49] = (uint8_t)s->win;
	buf[52] = (uint8_t)(s->urg >> 8);
	buf[53] = (uint8_t)s->urg;
	return 14 + tot;
}

/* Feeds one segment at time ts; returns covert_packet's verdict. */
static bool feed(struct covert *c, const struct seg *s, uint64_t ts, struct covert_finding *f)
{
	uint8_t buf[1600];
	size_t n = build(buf, s);
	struct pkt p;

	assert_int_equal(decode_packet(1, buf, (uint32_t)n, &p), DECODE_OK);
	p.ts_us = ts;
	return covert_packet(c, &p, 10, f);
}

static struct seg normal(unsigned i)
{
	struct seg s = { .ttl = 55, .ip_id = (uint16_t)(4660 + i), .flags = TCPF_ACK | TCPF_PSH,
	    .seq = 1000 + 100 * i, .ack = 77, .win = 501, .sport = 443, .dport = 50000,
	    .payload = 100 };

	return s;
}

/* An ordinary flow: incrementing IDs, fixed TTL, bulk and interactive gaps: no finding. */
static void test_benign_flow(void **state)
{
	struct covert *c = covert_new(64);
	struct covert_finding f;
	unsigned i;
	uint64_t t = T0;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 400; i++) {
		struct seg s = normal(i);

		t += i % 10 == 0 ? 30000 : 200 + (i * 7919) % 90000;
		assert_false(feed(c, &s, t, &f));
	}
	covert_free(c);
}

/* covert_tcp: bytes in the ISN's top byte and the IP ID's high byte. */
static void test_isn_ipid(void **state)
{
	struct covert *c = covert_new(64);
	struct covert_finding f;
	const char *msg = "secret";
	unsigned i;
	bool hit = false;

	(void)state;
	for (i = 0; msg[i] != '\0'; i++) {
		struct seg s = { .ttl = 64, .ip_id = (uint16_t)(msg[i] << 8), .flags = TCPF_SYN,
		    .seq = (uint32_t)msg[i] << 24, .win = 512, .sport = 31337, .dport = 80 };

		hit = feed(c, &s, T0 + i * 500000ULL, &f);
		if (i < 3)
			assert_false(hit);
	}
	assert_true(hit);
	assert_true(f.reasons & COVERT_R_ISN);
	assert_true(f.reasons & COVERT_R_IPID);
	assert_int_equal(f.sport, 31337);
	covert_free(c);
}

/* Urgent pointer without URG and reserved bits: two packets each are enough. */
static void test_header_fields(void **state)
{
	struct covert *c = covert_new(64);
	struct covert_finding f;
	struct seg s = normal(0);
	char why[64];

	(void)state;
	s.urg = 0x41;
	assert_false(feed(c, &s, T0, &f));
	assert_true(feed(c, &s, T0 + 1000, &f));
	assert_int_equal(f.reasons, COVERT_R_URGPTR);
	s = normal(1);
	s.dport = 50001;
	s.reserved = 5;
	assert_false(feed(c, &s, T0 + 2000, &f));
	assert_true(feed(c, &s, T0 + 3000, &f));
	assert_string_equal(covert_reasons(f.reasons, why, sizeof(why)), "reserved_bits");
	/* URG set with a pointer is legitimate */
	s = normal(2);
	s.dport = 50002;
	s.flags |= TCPF_URG;
	s.urg = 10;
	assert_false(feed(c, &s, T0 + 4000, &f));
	assert_false(feed(c, &s, T0 + 5000, &f));
	covert_free(c);
}

/* TTL modulation, and a flow alternating 64/63 (captured on both sides of a router): only the first. */
static void test_ttl(void **state)
{
	struct covert *c = covert_new(64);
	struct covert_finding f;
	unsigned i;
	bool hit = false;

	(void)state;
	for (i = 0; i < 40; i++) {
		struct seg s = normal(i);

		s.ttl = (uint8_t)(i % 2 ? 64 : 63);
		assert_false(feed(c, &s, T0 + i * 1000ULL, &f));
	}
	for (i = 0; i < 40 && !hit; i++) {
		struct seg s = normal(i);

		s.dport = 40000;
		s.ttl = (uint8_t)(48 + (i * 5) % 8);
		hit = feed(c, &s, T0 + i * 1000ULL, &f);
	}
	assert_true(hit);
	assert_int_equal(f.reasons, COVERT_R_TTL);
	covert_free(c);
}

/* Two tight gap clusters (40 / 160 ms) are a timing channel; one cluster (a periodic sender) is not. */
static void test_timing(void **state)
{
	struct covert *c = covert_new(64);
	struct covert_finding f;
	uint64_t t = T0;
	unsigned i;
	bool hit = false;

	(void)state;
	for (i = 0; i < 100; i++) {
		struct seg s = normal(i);

		s.dport = 40001;
		t += 20000 + (i % 3) * 500;
		assert_false(feed(c, &s, t, &f));
	}
	for (i = 0; i < 100 && !hit; i++) {
		struct seg s = normal(i);

		t += (i * 2654435761u) & 0x100 ? 160000 : 40000;
		hit = feed(c, &s, t, &f);
	}
	assert_true(hit);
	assert_int_equal(f.reasons, COVERT_R_TIMING);
	assert_true(f.packets >= 32 && f.packets <= 64);
	covert_free(c);
}

/* Window changes on pure ACKs that acknowledge nothing new, with no data coming: window channel. */
static void test_window(void **state)
{
	struct covert *c = covert_new(64);
	struct covert_finding f;
	unsigned i;
	bool hit = false;

	(void)state;
	for (i = 0; i < 20 && !hit; i++) {
		struct seg s = normal(i);

		s.flags = TCPF_ACK;
		s.payload = 0;
		s.seq = 1000;
		s.win = (uint16_t)("window data!"[i % 12] * 3);
		hit = feed(c, &s, T0 + i * 100000ULL, &f);
	}
	assert_true(hit);
	assert_int_equal(f.reasons, COVERT_R_WINDOW);
	assert_null(covert_new(0));
	covert_free(NULL);
	covert_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_benign_flow),
		cmocka_unit_test(test_isn_ipid),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_timing),
		cmocka_unit_test(test_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
