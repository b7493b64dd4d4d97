/* test_probe_dpi.c: dpi module: classification, the cap on nDPI states, max packets, two instances. */
#include <pcap/dlt.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "decode.h"
#include "dpi.h"
#include "flow.h"

#define T0 1700000000000000ULL

static const char http_get[] =
    "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html\r\nConnection: keep-alive\r\n\r\n";
static const char http_ok[] =
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    "Content-Length: 5\r\n\r\nhello";

/* A frame and its decoded packet; the packet points into the frame. */
struct frame {
	uint8_t b[1600];
	struct pkt p;
};

/*
 * Ethernet + IPv4 + TCP (proto 6) or UDP (17) from 192.0.2.<host>:sport to
 * 198.51.100.1:dport (or back when rev), decoded into fr->p at ts_us.
 */
static void
mk(struct frame *fr, uint8_t proto, uint8_t host, uint16_t sport, uint16_t dport,
    bool rev, uint8_t tcp_flags, uint32_t seq, uint32_t ack, const void *pl,
    size_t len, uint64_t ts_us)
{
	uint8_t a[4] = { 192, 0, 2, host }, z[4] = { 198, 51, 100, 1 };
	size_t l4 = proto == 6 ? 20 : 8, ip_len = 20 + l4 + len;
	uint8_t *ip = fr->b + 14, *h = ip + 20;
	uint16_t sp = rev ? dport : sport, dp = rev ? sport : dport;

	assert_true(14 + ip_len <= sizeof(fr->b));
	memset(fr->b, 0, sizeof(fr->b));
	memcpy(fr->b, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8); ip[3] = (uint8_t)ip_len;
	ip[8] = 64; ip[9] = proto;
	memcpy(ip + 12, rev ? z : a, 4);
	memcpy(ip + 16, rev ? a : z, 4);
	h[0] = (uint8_t)(sp >> 8); h[1] = (uint8_t)sp;
	h[2] = (uint8_t)(dp >> 8); h[3] = (uint8_t)dp;
	if (proto == 6) {
		h[4] = (uint8_t)(seq >> 24); h[5] = (uint8_t)(seq >> 16);
		h[6] = (uint8_t)(seq >> 8); h[7] = (uint8_t)seq;
		h[8] = (uint8_t)(ack >> 24); h[9] = (uint8_t)(ack >> 16);
		h[10] = (uint8_t)(ack >> 8); h[11] = (uint8_t)ack;
		h[12] = 0x50; h[13] = tcp_flags; h[14] = 0xfa; h[15] = 0xf0;
	} else {
		h[4] = (uint8_t)((8 + len) >> 8); h[5] = (uint8_t)(8 + len);
	}
	if (len > 0)
		memcpy(h + l4, pl, len);
	assert_int_equal(decode_packet(DLT_EN10MB, fr->b, (uint32_t)(14 + ip_len), &fr->p),
	    DECODE_OK);
	fr->p.ts_us = ts_us;
}

static void
mk_flow(struct flow *f, uint8_t proto, uint16_t sport, uint16_t dport)
{
	memset(f, 0, sizeof(*f));
	f->proto = proto;
	f->sport = sport;
	f->dport = dport;
	f->customer = f->peer_customer = -1;
}

/*
 * SYN, SYN-ACK, ACK, an HTTP GET and its answer; true when classification
 * finished with the GET or the answer (nDPI waits for the answer's headers).
 */
static bool
http_flow(struct dpi *d, struct flow *f, uint8_t host, uint64_t t)
{
	struct frame fr;

	mk_flow(f, 6, 40000, 80);
	mk(&fr, 6, host, 40000, 80, false, TCPF_SYN, 100, 0, NULL, 0, t);
	assert_false(dpi_packet(d, f, &fr.p, FLOW_FWD));
	mk(&fr, 6, host, 40000, 80, true, TCPF_SYN | TCPF_ACK, 900, 101, NULL, 0, t + 10000);
	assert_false(dpi_packet(d, f, &fr.p, FLOW_REV));
	mk(&fr, 6, host, 40000, 80, false, TCPF_ACK, 101, 901, NULL, 0, t + 10500);
	assert_false(dpi_packet(d, f, &fr.p, FLOW_FWD));
	mk(&fr, 6, host, 40000, 80, false, TCPF_ACK | TCPF_PSH, 101, 901, http_get,
	    sizeof(http_get) - 1, t + 10600);
	if (dpi_packet(d, f, &fr.p, FLOW_FWD))
		return true;
	mk(&fr, 6, host, 40000, 80, true, TCPF_ACK | TCPF_PSH, 901,
	    101 + (uint32_t)sizeof(http_get) - 1, http_ok, sizeof(http_ok) - 1, t + 20600);
	return dpi_packet(d, f, &fr.p, FLOW_REV);
}

static void
test_http_classified(void **state)
{
	struct dpi *d = dpi_new(NULL);
	struct dpi_stats st;
	struct flow f;

	(void)state;
	assert_non_null(d);
	assert_true(http_flow(d, &f, 10, T0));
	assert_int_equal(f.dpi_state, DPI_DONE);
	assert_null(f.dpi);
	assert_string_equal(dpi_app_name(d, f.app), "HTTP");
	dpi_get_stats(d, &st);
	assert_int_equal(st.states_live, 0);
	assert_int_equal(st.classified, 1);
	assert_true(st.packets == 4 || st.packets == 5);
	dpi_flow_end(d, &f);   /* done already: nothing to release */
	dpi_free(d);
	dpi_free(NULL);
}

/* More pending flows than states: the oldest get a verdict and give theirs up. */
static void
test_states_cap(void **state)
{
	struct dpi_config cfg = { .max_states = 4 };
	struct dpi *d = dpi_new(&cfg);
	struct dpi_stats st;
	struct flow f[10];
	struct frame fr;
	int i;

	(void)state;
	assert_non_null(d);
	for (i = 0; i < 10; i++) {
		mk_flow(&f[i], 6, 40000, 443);
		mk(&fr, 6, (uint8_t)(20 + i), 40000, 443, false, TCPF_SYN, 7, 0, NULL, 0,
		    T0 + (uint64_t)i * 1000);
		assert_false(dpi_packet(d, &f[i], &fr.p, FLOW_FWD));
		dpi_get_stats(d, &st);
		assert_true(st.states_live <= 4);
	}
	dpi_get_stats(d, &st);
	assert_int_equal(st.states_live, 4);
	assert_int_equal(st.states_forced, 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(f[i].dpi_state, DPI_DONE);
		assert_null(f[i].dpi);
	}
	for (i = 6; i < 10; i++) {
		assert_int_equal(f[i].dpi_state, DPI_PENDING);
		assert_non_null(f[i].dpi);
		dpi_flow_end(d, &f[i]);
		assert_null(f[i].dpi);
	}
	dpi_get_stats(d, &st);
	assert_int_equal(st.states_live, 0);
	/* a reused state starts clean: a new flow still classifies */
	assert_true(http_flow(d, &f[0], 40, T0 + 50000));
	assert_string_equal(dpi_app_name(d, f[0].app), "HTTP");
	dpi_free(d);
}

/* Unknown traffic is given up after max_pkts packets. */
static void
test_max_pkts(void **state)
{
	struct dpi_config cfg = { .max_pkts = 3 };
	struct dpi *d = dpi_new(&cfg);
	uint8_t junk[64];
	struct dpi_stats st;
	struct frame fr;
	struct flow f;
	int i;

	(void)state;
	assert_non_null(d);
	for (i = 0; i < (int)sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	mk_flow(&f, 17, 40001, 39999);
	for (i = 0; i < 3; i++) {
		mk(&fr, 17, 50, 40001, 39999, i % 2 == 1, 0, 0, 0, junk, sizeof(junk),
		    T0 + (uint64_t)i * 20000);
		assert_int_equal(dpi_packet(d, &f, &fr.p, i % 2 ? FLOW_REV : FLOW_FWD), i == 2);
	}
	assert_int_equal(f.dpi_state, DPI_DONE);
	assert_int_equal(f.dpi_pkts, 3);
	dpi_get_stats(d, &st);
	assert_int_equal(st.given_up, 1);
	assert_int_equal(st.states_live, 0);
	/* no more packets go to nDPI */
	assert_false(dpi_packet(d, &f, &fr.p, FLOW_FWD));
	dpi_get_stats(d, &st);
	assert_int_equal(st.packets, 3);
	dpi_free(d);
}

/* Two modules at once (their start-up arenas side by side), freed in either order. */
static void
test_two_instances(void **state)
{
	struct dpi *a = dpi_new(NULL), *b = dpi_new(NULL), *c;
	struct flow f;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_true(http_flow(a, &f, 60, T0));
	assert_true(http_flow(b, &f, 61, T0));
	dpi_free(a);
	assert_true(http_flow(b, &f, 62, T0 + 1000000));
	assert_string_equal(dpi_app_name(b, f.app), "HTTP");
	c = dpi_new(NULL);
	assert_non_null(c);
	dpi_free(b);
	assert_true(http_flow(c, &f, 63, T0));
	dpi_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_classified),
		cmocka_unit_test(test_states_cap),
		cmocka_unit_test(test_max_pkts),
		cmocka_unit_test(test_two_instances),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
