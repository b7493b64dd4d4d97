/* test_probe_dnstunnel.c: unit tests for the DNS tunnelling indicator (dnstunnel.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dnstunnel.h"

#define T0 (1700000000ULL * 1000000ULL)

/* A DNS query for the dotted name (labels < 64 bytes) into buf; returns its length. */
static size_t query(uint8_t *buf, const char *name)
{
	size_t n = 12;
	const char *s = name;

	memset(buf, 0, 12);
	buf[2] = 0x01;   /* RD */
	buf[5] = 1;      /* QDCOUNT */
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		size_t l = dot != NULL ? (size_t)(dot - s) : strlen(s);

		buf[n++] = (uint8_t)l;
		memcpy(buf + n, s, l);
		n += l;
		s += l + (dot != NULL);
	}
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 16;   /* TXT */
	buf[n++] = 0;
	buf[n++] = 1;
	return n;
}

static struct pkt udp53(uint64_t ts, const uint8_t *msg, size_t len)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.ts_us = ts;
	p.ip_ver = 4;
	p.src.family = p.dst.family = 4;
	memcpy(p.src.a, "\x0a\x00\x00\x05", 4);
	memcpy(p.dst.a, "\xc0\x00\x02\x35", 4);
	p.l4_proto = 17;
	p.has_l4 = true;
	p.sport = 33000;
	p.dport = 53;
	p.payload = msg;
	p.payload_caplen = p.payload_len = (uint32_t)len;
	return p;
}

static void test_parse(void **state)
{
	uint8_t buf[512];
	struct dnstunnel_name n;
	size_t len = query(buf, "www.example.co.uk");

	(void)state;
	assert_int_equal(dnstunnel_parse(buf, len, &n), 0);
	assert_string_equal(n.text, "www.example.co.uk");
	assert_string_equal(n.text + n.domain_off, "example.co.uk");
	assert_int_equal(n.sub_len, 3);
	assert_int_equal(n.labels, 4);
	assert_int_equal(n.qtype, 16);
	assert_false(dnstunnel_suspicious(&n));
	len = query(buf, "mail.google.com");
	assert_int_equal(dnstunnel_parse(buf, len, &n), 0);
	assert_string_equal(n.text + n.domain_off, "google.com");
	/* a response, a truncated name, a compression pointer, an over-long label */
	buf[2] |= 0x80;
	assert_int_equal(dnstunnel_parse(buf, len, &n), -1);
	buf[2] &= 0x7f;
	assert_int_equal(dnstunnel_parse(buf, 20, &n), -1);
	buf[12] = 0xc0;
	assert_int_equal(dnstunnel_parse(buf, len, &n), -1);
	buf[12] = 70;
	assert_int_equal(dnstunnel_parse(buf, len, &n), -1);
	assert_int_equal(dnstunnel_parse(NULL, 0, &n), -1);
}

static void test_suspicious(void **state)
{
	uint8_t buf[512];
	struct dnstunnel_name n;
	size_t len;

	(void)state;
	len = query(buf, "paaaaaajbc3b0cmfrgx2lnmjzwk3tfmvwgc3ltorzgk3lp.t.pirate.sea");
	assert_int_equal(dnstunnel_parse(buf, len, &n), 0);
	assert_true(dnstunnel_suspicious(&n));
	len = query(buf, "b-tr-teams-euno-05.northeurope.cloudapp.azure.com");
	assert_int_equal(dnstunnel_parse(buf, len, &n), 0);
	assert_false(dnstunnel_suspicious(&n));
	len = query(buf, "ab\x01\xff" "cd.tunnel.example");
	assert_int_equal(dnstunnel_parse(buf, len, &n), 0);
	assert_true(n.odd_bytes);
	assert_true(dnstunnel_suspicious(&n));
}

/* 20 tunnel-like queries to one domain within 60 s: found; ordinary lookups: never. */
static void test_packet(void **state)
{
	struct dnstunnel *t = dnstunnel_new(64);
	struct dnstunnel_finding f;
	uint8_t buf[512];
	char name[256];
	unsigned i;
	size_t len;
	struct pkt p;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "host%u.example.com", i % 40);
		len = query(buf, name);
		p = udp53(T0 + i * 100000ULL, buf, len);
		assert_false(dnstunnel_packet(t, &p, 20, &f));
	}
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "%08x%08x%08x%08x.%08x.t.tunnel.example",
		    i * 2654435761u, i * 40503u, ~i * 2246822519u, i ^ 0x5bd1e995u, i);
		len = query(buf, name);
		p = udp53(T0 + 60000000ULL + i * 100000ULL, buf, len);
		if (dnstunnel_packet(t, &p, 20, &f))
			break;
	}
	assert_int_equal(i, 19);
	assert_string_equal(f.domain, "tunnel.example");
	assert_int_equal(f.suspicious, 20);
	dnstunnel_free(t);
	dnstunnel_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_suspicious),
		cmocka_unit_test(test_packet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
