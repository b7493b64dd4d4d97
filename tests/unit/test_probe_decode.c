/* test_probe_decode.c: unit tests for decode.c with frames built byte by byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <cmocka.h>

#include "decode.h"

/* ---- frame builder -------------------------------------------------------- */

struct frame {
	uint8_t b[1024];
	size_t n;
	size_t ip_off;      /* where the last IP header started */
	int ip_ver;
};

static void put(struct frame *f, const void *p, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put8(struct frame *f, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(f, &b, 1);
}

static void put16(struct frame *f, unsigned v)
{
	put8(f, v >> 8);
	put8(f, v);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, v >> 16);
	put16(f, v & 0xffff);
}

static void put_zero(struct frame *f, size_t n)
{
	while (n--)
		put8(f, 0);
}

static void eth(struct frame *f, unsigned etype)
{
	static const uint8_t macs[12] = { 0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10 };

	put(f, macs, sizeof(macs));
	put16(f, etype);
}

static void vlan(struct frame *f, unsigned vid, unsigned next)
{
	put16(f, 0x2000 | vid);          /* PCP 1 must not leak into the VID */
	put16(f, next);
}

/* IPv4 header with ihl words; total length patched by ip_end(). */
static void ip4(struct frame *f, unsigned ihl, unsigned proto, unsigned frag)
{
	f->ip_off = f->n;
	f->ip_ver = 4;
	put8(f, 0x40 | ihl);
	put8(f, 0);
	put16(f, 0);                     /* total length, patched */
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, 0xc0000201);            /* 192.0.2.1 */
	put32(f, 0xc6336402);            /* 198.51.100.2 */
	for (unsigned i = 5; i < ihl; i++)
		put32(f, 0x01010101);    /* NOP options */
}

static void ip6(struct frame *f, unsigned nh)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xff, [15] = 2 };

	f->ip_off = f->n;
	f->ip_ver = 6;
	put32(f, 0x60000000);
	put16(f, 0);                     /* payload length, patched */
	put8(f, nh);
	put8(f, 33);
	put(f, src, 16);
	put(f, dst, 16);
}

/* Extension header of n 8-byte units total (n >= 1) with next header nh. */
static void ext6(struct frame *f, unsigned nh, unsigned units)
{
	put8(f, nh);
	put8(f, units - 1);
	put_zero(f, units * 8 - 2);
}

/* Patches the last IP header's length field to cover everything after it. */
static void ip_end(struct frame *f)
{
	size_t len = f->n - f->ip_off;

	if (f->ip_ver == 4) {
		f->b[f->ip_off + 2] = (uint8_t)(len >> 8);
		f->b[f->ip_off + 3] = (uint8_t)len;
	} else {
		len -= 40;
		f->b[f->ip_off + 4] = (uint8_t)(len >> 8);
		f->b[f->ip_off + 5] = (uint8_t)len;
	}
}

static void tcp(struct frame *f, unsigned opt_words, size_t payload)
{
	put16(f, 40000);
	put16(f, 443);
	put32(f, 1000);
	put32(f, 2000);
	put8(f, (5 + opt_words) << 4);
	put8(f, 0x12);                   /* SYN ACK */
	put16(f, 65535);
	put32(f, 0);
	for (unsigned i = 0; i < opt_words; i++)
		put32(f, 0x01010101);
	for (size_t i = 0; i < payload; i++)
		put8(f, 'a' + (int)(i % 26));
}

static void udp(struct frame *f, size_t payload)
{
	put16(f, 5353);
	put16(f, 53);
	put16(f, 8 + payload);
	put16(f, 0);
	for (size_t i = 0; i < payload; i++)
		put8(f, 'x');
}

static void icmp(struct frame *f, unsigned type, size_t payload)
{
	put8(f, type);
	put8(f, 0);
	put16(f, 0);
	put32(f, 0x00010002);
	put_zero(f, payload);
}

/* ---- checks ----------------------------------------------------------------- */

/* Decodes a copy in an exact-size heap buffer, so ASan catches over-reads. */
static enum decode_result dec(int dlt, const uint8_t *b, size_t n, struct pkt *p)
{
	uint8_t *copy = malloc(n ? n : 1);
	enum decode_result r;

	assert_non_null(copy);
	memcpy(copy, b, n);
	memset(p, 0xa5, sizeof(*p));     /* stale garbage must be cleared */
	r = decode_packet(dlt, copy, (uint32_t)n, p);
	/* pointers into copy are checked against its bounds before the free */
	if (decode_is_ip(r)) {
		assert_ptr_not_equal(p->l3, NULL);
		assert_true(p->l3 >= copy && p->l3 + p->l3_caplen <= copy + n);
		assert_true(p->l3_caplen <= p->ip_bytes);
		if (p->payload != NULL) {
			assert_true(p->payload >= p->l3);
			assert_true(p->payload + p->payload_caplen <= p->l3 + p->l3_caplen);
			assert_true(p->payload_caplen <= p->payload_len);
		}
		assert_true(p->src.family == p->ip_ver && p->dst.family == p->ip_ver);
	} else {
		assert_int_equal(p->ip_ver, 0);
		assert_int_equal(p->ip_bytes, 0);
		assert_false(p->has_l4);
	}
	if (!p->has_l4) {
		assert_int_equal(p->sport, 0);
		assert_int_equal(p->dport, 0);
	}
	assert_true(p->n_vlans <= 2);
	free(copy);
	return r;
}

/* Every prefix of the frame must decode without crashing into a consistent view. */
static void truncate_all(int dlt, const struct frame *f)
{
	struct pkt p;

	for (size_t k = 0; k < f->n; k++) {
		enum decode_result r = dec(dlt, f->b, k, &p);

		if (decode_is_ip(r) && r == DECODE_OK && p.has_l4)
			assert_true(p.payload_caplen <= k);
	}
}

static void check_v4_addrs(const struct pkt *p)
{
	char s[64], d[64];

	assert_string_equal(gw_addr_str(&p->src, s, sizeof(s)), "192.0.2.1");
	assert_string_equal(gw_addr_str(&p->dst, d, sizeof(d)), "198.51.100.2");
}

/* ---- encapsulations ----------------------------------------------------------- */

static void test_eth_ipv4_tcp_options(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 7, IPPROTO_TCP, 0x4000);         /* DF, 8 bytes of options */
	tcp(&f, 3, 10);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 4);
	assert_int_equal(p.ip_bytes, 28 + 32 + 10);
	assert_int_equal(p.l3_caplen, p.ip_bytes);
	check_v4_addrs(&p);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.l4_proto, IPPROTO_TCP);
	assert_false(p.frag);
	assert_true(p.has_l4);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.tcp_seq, 1000);
	assert_int_equal(p.tcp_ack, 2000);
	assert_int_equal(p.tcp_flags, TCPF_SYN | TCPF_ACK);
	assert_int_equal(p.tcp_win, 65535);
	assert_int_equal(p.tcp_hdr_len, 32);
	assert_int_equal(p.payload_len, 10);
	assert_int_equal(p.payload_caplen, 10);
	assert_memory_equal(p.payload, "abcdefghij", 10);
	assert_int_equal(p.n_vlans, 0);
	truncate_all(DLT_EN10MB, &f);
}

static void test_vlan_single(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x8100);
	vlan(&f, 101, 0x0800);
	ip4(&f, 5, IPPROTO_UDP, 0);
	udp(&f, 4);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.n_vlans, 1);
	assert_int_equal(p.vlan_outer, 101);
	assert_int_equal(p.vlan_inner, 0);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.payload_len, 4);
	assert_int_equal(p.ip_bytes, 32);
	truncate_all(DLT_EN10MB, &f);
	/* a tag cut in half */
	assert_int_equal(dec(DLT_EN10MB, f.b, 16, &p), DECODE_TRUNC_VLAN);
	assert_int_equal(dec(DLT_EN10MB, f.b, 10, &p), DECODE_TRUNC_L2);
}

static void test_vlan_qinq_88a8_ipv6(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;
	char buf[64];

	(void)state;
	eth(&f, 0x88a8);
	vlan(&f, 1451, 0x8100);
	vlan(&f, 265, 0x86dd);
	ip6(&f, IPPROTO_UDP);
	udp(&f, 3);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.n_vlans, 2);
	assert_int_equal(p.vlan_outer, 1451);
	assert_int_equal(p.vlan_inner, 265);
	assert_int_equal(p.ip_ver, 6);
	assert_int_equal(p.ip_bytes, 40 + 11);
	assert_int_equal(p.ttl, 33);
	assert_string_equal(gw_addr_str(&p.src, buf, sizeof(buf)), "2001:db8::1");
	assert_string_equal(gw_addr_str(&p.dst, buf, sizeof(buf)), "2001:db8::ff02");
	assert_int_equal(p.payload_len, 3);
	truncate_all(DLT_EN10MB, &f);
}

static void test_vlan_three_tags(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x9100);
	vlan(&f, 10, 0x8100);
	vlan(&f, 20, 0x8100);
	vlan(&f, 30, 0x0800);
	ip4(&f, 5, IPPROTO_ICMP, 0);
	icmp(&f, 8, 4);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.n_vlans, 2);
	assert_int_equal(p.vlan_outer, 10);
	assert_int_equal(p.vlan_inner, 20);
	assert_int_equal(p.icmp_type, 8);
	assert_true(p.has_l4);
	assert_int_equal(p.payload_len, 4);
	truncate_all(DLT_EN10MB, &f);
}

static void pppoe_hdr(struct frame *f, unsigned verType, unsigned ppp_proto)
{
	put8(f, verType);
	put8(f, 0);                      /* code: session data */
	put16(f, 0x0001);                /* session id */
	put16(f, 0);                     /* length (not relied upon) */
	put16(f, ppp_proto);
}

static void test_pppoe(void **state)
{
	struct frame f = { .n = 0 }, g = { .n = 0 }, h = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x8100);                  /* as in dns.pcap: PPPoE inside a VLAN */
	vlan(&f, 7, 0x8864);
	pppoe_hdr(&f, 0x11, 0x0021);
	ip4(&f, 5, IPPROTO_UDP, 0);
	udp(&f, 12);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_bytes, 40);
	assert_int_equal(p.vlan_outer, 7);
	truncate_all(DLT_EN10MB, &f);

	eth(&g, 0x8864);
	pppoe_hdr(&g, 0x11, 0x0057);
	ip6(&g, IPPROTO_TCP);
	tcp(&g, 0, 0);
	ip_end(&g);
	assert_int_equal(dec(DLT_EN10MB, g.b, g.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 6);
	assert_int_equal(p.tcp_hdr_len, 20);
	truncate_all(DLT_EN10MB, &g);

	eth(&h, 0x8864);
	pppoe_hdr(&h, 0x11, 0xc021);      /* LCP */
	put_zero(&h, 20);
	assert_int_equal(dec(DLT_EN10MB, h.b, h.n, &p), DECODE_NON_IP);
	h.b[14] = 0x21;                   /* version 2 */
	assert_int_equal(dec(DLT_EN10MB, h.b, h.n, &p), DECODE_BAD_PPPOE);
	assert_int_equal(dec(DLT_EN10MB, g.b, 14 + 5, &p), DECODE_BAD_PPPOE);
}

static void test_mpls(void **state)
{
	struct frame f = { .n = 0 }, g = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x8847);
	put32(&f, (100u << 12) | 64);      /* label 100, not bottom */
	put32(&f, (200u << 12) | 0x100 | 64); /* bottom of stack */
	ip4(&f, 5, IPPROTO_UDP, 0);
	udp(&f, 1);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 4);
	assert_int_equal(p.dport, 53);
	truncate_all(DLT_EN10MB, &f);

	eth(&g, 0x8847);
	put32(&g, (300u << 12) | 0x100 | 64);
	ip6(&g, IPPROTO_ICMPV6);
	icmp(&g, 128, 8);
	ip_end(&g);
	assert_int_equal(dec(DLT_EN10MB, g.b, g.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 6);
	assert_int_equal(p.l4_proto, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, 128);
	truncate_all(DLT_EN10MB, &g);
	g.b[18] = 0x00;                   /* pseudowire control word: not IP */
	assert_int_equal(dec(DLT_EN10MB, g.b, g.n, &p), DECODE_BAD_IP_VERSION);
}

static void test_sll_sll2(void **state)
{
	struct frame f = { .n = 0 }, g = { .n = 0 };
	struct pkt p;

	(void)state;
	put16(&f, 0);                     /* packet type: to us */
	put16(&f, 1);                     /* ARPHRD_ETHER */
	put16(&f, 6);
	put_zero(&f, 8);
	put16(&f, 0x0800);
	ip4(&f, 5, IPPROTO_TCP, 0);
	tcp(&f, 0, 5);
	ip_end(&f);
	assert_int_equal(dec(DLT_LINUX_SLL, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.payload_len, 5);
	truncate_all(DLT_LINUX_SLL, &f);

	put16(&g, 0x86dd);                /* SLL2: protocol first */
	put16(&g, 0);
	put32(&g, 3);                     /* ifindex */
	put16(&g, 1);
	put8(&g, 0);
	put8(&g, 6);
	put_zero(&g, 8);
	ip6(&g, IPPROTO_UDP);
	udp(&g, 0);
	ip_end(&g);
	assert_int_equal(dec(DLT_LINUX_SLL2, g.b, g.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 6);
	assert_int_equal(p.payload_len, 0);
	truncate_all(DLT_LINUX_SLL2, &g);
}

static void test_null_loop_raw(void **state)
{
	static const uint8_t fam_le4[4] = { 2, 0, 0, 0 };
	static const uint8_t fam_be6[4] = { 0, 0, 0, 30 };
	static const uint8_t fam_le6[4] = { 10, 0, 0, 0 };
	static const uint8_t fam_unk[4] = { 0, 0, 0, 99 };
	struct frame ip = { .n = 0 }, ip6f = { .n = 0 }, f;
	struct pkt p;

	(void)state;
	ip4(&ip, 5, IPPROTO_UDP, 0);
	udp(&ip, 2);
	ip_end(&ip);
	ip6(&ip6f, IPPROTO_UDP);
	udp(&ip6f, 2);
	ip_end(&ip6f);

	f.n = 0;
	put(&f, fam_le4, 4);
	put(&f, ip.b, ip.n);
	assert_int_equal(dec(DLT_NULL, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 4);
	truncate_all(DLT_NULL, &f);
	assert_int_equal(dec(DLT_LOOP, f.b, f.n, &p), DECODE_OK);

	f.n = 0;
	put(&f, fam_be6, 4);
	put(&f, ip6f.b, ip6f.n);
	assert_int_equal(dec(DLT_LOOP, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 6);
	truncate_all(DLT_LOOP, &f);
	memcpy(f.b, fam_le6, 4);
	assert_int_equal(dec(DLT_NULL, f.b, f.n, &p), DECODE_OK);
	memcpy(f.b, fam_unk, 4);
	assert_int_equal(dec(DLT_NULL, f.b, f.n, &p), DECODE_NON_IP);

	assert_int_equal(dec(DLT_RAW, ip.b, ip.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 4);
	assert_int_equal(dec(DLT_RAW, ip6f.b, ip6f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 6);
	assert_int_equal(dec(DLT_IPV4, ip.b, ip.n, &p), DECODE_OK);
	assert_int_equal(dec(DLT_IPV6, ip6f.b, ip6f.n, &p), DECODE_OK);
	assert_int_equal(dec(DLT_IPV6, ip.b, ip.n, &p), DECODE_BAD_IP_VERSION);
	truncate_all(DLT_RAW, &ip);
	truncate_all(DLT_RAW, &ip6f);
	assert_int_equal(dec(147 /* DLT_USER0 */, ip.b, ip.n, &p), DECODE_UNSUPPORTED_DLT);
	assert_int_equal(dec(DLT_RAW, ip.b, 0, &p), DECODE_TRUNC_IP);
}

static void test_ipv4_fragments(void **state)
{
	struct frame f = { .n = 0 }, g = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 5, IPPROTO_UDP, 0x2000);   /* MF, offset 0 */
	udp(&f, 16);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_true(p.frag);
	assert_true(p.frag_first);
	assert_true(p.has_l4);
	assert_int_equal(p.dport, 53);
	truncate_all(DLT_EN10MB, &f);

	eth(&g, 0x0800);
	ip4(&g, 5, IPPROTO_UDP, 185);      /* offset 1480, last fragment */
	put_zero(&g, 30);
	ip_end(&g);
	assert_int_equal(dec(DLT_EN10MB, g.b, g.n, &p), DECODE_OK);
	assert_true(p.frag);
	assert_false(p.frag_first);
	assert_false(p.has_l4);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_int_equal(p.payload_len, 30);
	assert_int_equal(p.ip_bytes, 50);
	truncate_all(DLT_EN10MB, &g);
}

static void test_ipv4_malformed(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 5, IPPROTO_TCP, 0);
	tcp(&f, 0, 0);
	ip_end(&f);
	f.b[14] = 0x44;                   /* IHL 4 */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_IP_HLEN);
	f.b[14] = 0x55;                   /* version 5 */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_IP_VERSION);
	f.b[14] = 0x45;
	f.b[16] = 0;
	f.b[17] = 19;                     /* total length < header length */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_IP_LEN);
	f.b[17] = 0;                      /* 0: TSO capture, captured length used */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_bytes, 40);
	f.b[17] = 30;                     /* IP too short for the TCP header */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_L4);
	assert_int_equal(p.ip_bytes, 30);
	assert_false(p.has_l4);
	f.b[17] = 40;
	f.b[14 + 20 + 12] = 0x40;          /* TCP data offset 4 */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_L4);
	f.b[14 + 20 + 12] = 0xf0;          /* data offset 60 > IP payload */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_L4);
}

/* Snaplen truncation (badpackets.pcap): bytes come from the IP header. */
static void test_snaplen_truncation(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 5, IPPROTO_UDP, 0);
	udp(&f, 300);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, 14 + 20 + 8 + 5, &p), DECODE_OK);
	assert_int_equal(p.ip_bytes, 328);
	assert_int_equal(p.l3_caplen, 33);
	assert_int_equal(p.payload_len, 300);
	assert_int_equal(p.payload_caplen, 5);
	assert_int_equal(dec(DLT_EN10MB, f.b, 14 + 20 + 4, &p), DECODE_TRUNC_L4);
	assert_int_equal(p.ip_bytes, 328);
	check_v4_addrs(&p);
	assert_int_equal(dec(DLT_EN10MB, f.b, 14 + 19, &p), DECODE_TRUNC_IP);
}

/* Ethernet pads short frames to 60 bytes: the padding is not IP payload. */
static void test_ethernet_padding(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 5, IPPROTO_TCP, 0);
	tcp(&f, 0, 0);
	ip_end(&f);
	put_zero(&f, 6);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_bytes, 40);
	assert_int_equal(p.l3_caplen, 40);
	assert_int_equal(p.payload_caplen, 0);
	assert_int_equal(p.payload_len, 0);
}

static void test_llc_snap_and_non_ip(void **state)
{
	struct frame f = { .n = 0 }, g = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0);                        /* length, patched below */
	put8(&f, 0xaa); put8(&f, 0xaa); put8(&f, 0x03);
	put8(&f, 0); put8(&f, 0); put8(&f, 0);
	put16(&f, 0x0800);
	ip4(&f, 5, IPPROTO_UDP, 0);
	udp(&f, 0);
	ip_end(&f);
	f.b[13] = (uint8_t)(f.n - 14);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	truncate_all(DLT_EN10MB, &f);
	f.b[14] = 0x42;                    /* STP LLC */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_NON_IP);

	eth(&g, 0x0806);                   /* ARP */
	put_zero(&g, 28);
	assert_int_equal(dec(DLT_EN10MB, g.b, g.n, &p), DECODE_NON_IP);
	assert_int_equal(p.ip_bytes, 0);
}

/* Tunnels count the outer header only. */
static void test_tunnels(void **state)
{
	static const unsigned protos[] = { 41, 4, 47 };
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct frame f = { .n = 0 };

		eth(&f, 0x0800);
		ip4(&f, 5, protos[i], 0);
		if (protos[i] == 41) {
			ip6(&f, IPPROTO_TCP);
			tcp(&f, 0, 0);
		} else {
			put_zero(&f, 24);
		}
		f.ip_off = 14;
		f.ip_ver = 4;
		ip_end(&f);
		assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
		assert_int_equal(p.ip_ver, 4);
		assert_int_equal(p.l4_proto, protos[i]);
		assert_int_equal(p.ip_bytes, f.n - 14);
		assert_false(p.has_l4);
		assert_int_equal(p.payload_len, f.n - 34);
		check_v4_addrs(&p);
	}
}

/* An IPv6 header behind ethertype 0x0800 is a bad version (see decode_l3). */
static void test_ipv6_behind_ipv4_ethertype(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x0800);
	ip6(&f, IPPROTO_UDP);
	udp(&f, 1);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_IP_VERSION);
	f.b[12] = 0x86;
	f.b[13] = 0xdd;
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.ip_ver, 6);
}

/* ---- IPv6 extension headers --------------------------------------------------- */

static void test_ipv6_ext_each(void **state)
{
	static const unsigned kinds[] = { 0, 43, 60, 135 };
	struct pkt p;

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct frame f = { .n = 0 };

		eth(&f, 0x86dd);
		ip6(&f, kinds[i]);
		ext6(&f, IPPROTO_TCP, 2);          /* 16 bytes */
		tcp(&f, 1, 7);
		ip_end(&f);
		assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
		assert_int_equal(p.l4_proto, IPPROTO_TCP);
		assert_int_equal(p.dport, 443);
		assert_int_equal(p.payload_len, 7);
		assert_int_equal(p.ip_bytes, 40 + 16 + 24 + 7);
		truncate_all(DLT_EN10MB, &f);
	}
}

static void test_ipv6_chain_ah(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 0);                          /* hop-by-hop */
	ext6(&f, 60, 1);                     /* -> destination options */
	ext6(&f, 51, 1);                     /* -> AH */
	put8(&f, IPPROTO_UDP);               /* AH: next, len in 4-byte units - 2 */
	put8(&f, 4);                         /* (4 + 2) * 4 = 24 bytes */
	put_zero(&f, 22);
	udp(&f, 2);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.payload_len, 2);
	truncate_all(DLT_EN10MB, &f);
}

static void frag6(struct frame *f, unsigned nh, unsigned offset_units, bool more)
{
	put8(f, nh);
	put8(f, 0);
	put16(f, (offset_units << 3) | (more ? 1 : 0));
	put32(f, 0xdeadbeef);
}

static void test_ipv6_fragments(void **state)
{
	struct frame f = { .n = 0 }, g = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 44);
	frag6(&f, IPPROTO_UDP, 0, true);
	udp(&f, 20);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_true(p.frag);
	assert_true(p.frag_first);
	assert_true(p.has_l4);
	assert_int_equal(p.payload_len, 20);
	truncate_all(DLT_EN10MB, &f);

	eth(&g, 0x86dd);
	ip6(&g, 44);
	frag6(&g, IPPROTO_UDP, 100, false);
	put_zero(&g, 24);
	ip_end(&g);
	assert_int_equal(dec(DLT_EN10MB, g.b, g.n, &p), DECODE_OK);
	assert_true(p.frag);
	assert_false(p.frag_first);
	assert_false(p.has_l4);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_int_equal(p.payload_len, 24);
	assert_int_equal(p.ip_bytes, 40 + 8 + 24);
	truncate_all(DLT_EN10MB, &g);
}

static void test_ipv6_esp_nonext_and_bad_chains(void **state)
{
	struct frame f = { .n = 0 }, g = { .n = 0 }, h = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x86dd);
	ip6(&f, 50);                         /* ESP: opaque */
	put_zero(&f, 32);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.l4_proto, 50);
	assert_false(p.has_l4);
	assert_int_equal(p.payload_len, 32);

	eth(&g, 0x86dd);
	ip6(&g, 60);
	ext6(&g, 59, 1);                     /* no next header */
	ip_end(&g);
	assert_int_equal(dec(DLT_EN10MB, g.b, g.n, &p), DECODE_OK);
	assert_int_equal(p.l4_proto, 59);
	assert_int_equal(p.payload_len, 0);

	eth(&h, 0x86dd);                     /* 9 chained headers: too long */
	ip6(&h, 60);
	for (int i = 0; i < 9; i++)
		ext6(&h, 60, 1);
	ip_end(&h);
	assert_int_equal(dec(DLT_EN10MB, h.b, h.n, &p), DECODE_BAD_IPV6_EXT);
	truncate_all(DLT_EN10MB, &h);
	/* a header longer than the payload length says */
	h.b[14 + 40 + 1] = 200;
	assert_int_equal(dec(DLT_EN10MB, h.b, h.n, &p), DECODE_BAD_IPV6_EXT);
}

static void test_icmp_short(void **state)
{
	struct frame f = { .n = 0 };
	struct pkt p;

	(void)state;
	eth(&f, 0x0800);
	ip4(&f, 5, IPPROTO_ICMP, 0);
	icmp(&f, 3, 0);
	ip_end(&f);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_OK);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n - 2, &p), DECODE_TRUNC_L4);
	assert_int_equal(p.ip_bytes, 28);
	f.b[17] = 24;                         /* IP says only 4 bytes of ICMP */
	assert_int_equal(dec(DLT_EN10MB, f.b, f.n, &p), DECODE_BAD_L4);
}

/* ---- helpers ---------------------------------------------------------------------- */

static void test_addr_helpers(void **state)
{
	struct gw_addr a, b, c;
	char buf[64];

	(void)state;
	assert_int_equal(gw_addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(a.family, 4);
	assert_int_equal(a.a[0], 10);
	assert_int_equal(a.a[4], 0);
	assert_string_equal(gw_addr_str(&a, buf, sizeof(buf)), "10.1.2.3");
	assert_int_equal(gw_addr_parse("2001:db8::1", &b), 0);
	assert_int_equal(b.family, 6);
	assert_string_equal(gw_addr_str(&b, buf, sizeof(buf)), "2001:db8::1");
	assert_int_equal(gw_addr_parse("10.1.2.300", &c), -1);
	assert_int_equal(gw_addr_parse("", &c), -1);
	assert_int_equal(gw_addr_parse("1.2.3.4/8", &c), -1);
	assert_true(gw_addr_cmp(&a, &b) < 0);
	assert_true(gw_addr_cmp(&b, &a) > 0);
	assert_int_equal(gw_addr_cmp(&a, &a), 0);
	assert_int_equal(gw_addr_parse("10.1.2.4", &c), 0);
	assert_true(gw_addr_cmp(&a, &c) < 0);
	memset(&c, 0, sizeof(c));
	assert_string_equal(gw_addr_str(&c, buf, sizeof(buf)), "-");
}

static void test_names_and_dlts(void **state)
{
	(void)state;
	assert_string_equal(decode_result_name(DECODE_OK), "ok");
	assert_string_equal(decode_result_name(DECODE_TRUNC_IP), "trunc_ip");
	assert_string_equal(decode_result_name(DECODE_RESULT_MAX), "unknown");
	for (int r = 0; r < DECODE_RESULT_MAX; r++)
		assert_string_not_equal(decode_result_name((enum decode_result)r), "unknown");
	assert_true(decode_dlt_supported(DLT_EN10MB));
	assert_true(decode_dlt_supported(DLT_LINUX_SLL));
	assert_true(decode_dlt_supported(DLT_NULL));
	assert_true(decode_dlt_supported(DLT_LOOP));
	assert_true(decode_dlt_supported(DLT_RAW));
	assert_true(decode_dlt_supported(DLT_IPV4));
	assert_true(decode_dlt_supported(DLT_IPV6));
	assert_false(decode_dlt_supported(DLT_IEEE802_11));
}

/* Garbage of every length must not crash under any supported link type. */
static void test_random_frames(void **state)
{
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
	    DLT_NULL, DLT_LOOP, DLT_RAW, DLT_IPV4, DLT_IPV6 };
	uint8_t buf[160];
	uint32_t seed = 12345;
	struct pkt p;

	(void)state;
	for (int iter = 0; iter < 4000; iter++) {
		size_t n = (size_t)(iter % (int)sizeof(buf));

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		if (n > 20 && (iter & 1))    /* steer half of them into IP */
			buf[iter % 3 == 0 ? 0 : 14] = (iter & 2) ? 0x45 : 0x60;
		(void)dec(dlts[iter % 8], buf, n, &p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_ipv4_tcp_options),
		cmocka_unit_test(test_vlan_single),
		cmocka_unit_test(test_vlan_qinq_88a8_ipv6),
		cmocka_unit_test(test_vlan_three_tags),
		cmocka_unit_test(test_pppoe),
		cmocka_unit_test(test_mpls),
		cmocka_unit_test(test_sll_sll2),
		cmocka_unit_test(test_null_loop_raw),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_malformed),
		cmocka_unit_test(test_snaplen_truncation),
		cmocka_unit_test(test_ethernet_padding),
		cmocka_unit_test(test_llc_snap_and_non_ip),
		cmocka_unit_test(test_tunnels),
		cmocka_unit_test(test_ipv6_behind_ipv4_ethertype),
		cmocka_unit_test(test_ipv6_ext_each),
		cmocka_unit_test(test_ipv6_chain_ah),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_ipv6_esp_nonext_and_bad_chains),
		cmocka_unit_test(test_icmp_short),
		cmocka_unit_test(test_addr_helpers),
		cmocka_unit_test(test_names_and_dlts),
		cmocka_unit_test(test_random_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
