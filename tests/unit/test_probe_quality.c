/* test_probe_quality.c: unit tests of the quality module with hand-built packets and flows. */
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "quality.h"

#define T0 1700000000000000ULL

struct seen {
	struct quality_obs last[16];
	int n;
};

static void obs_cb(const struct quality_obs *o, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 16)
		s->last[s->n++] = *o;
}

static void mk_flow(struct flow *f, uint8_t proto, uint16_t sport, uint16_t dport,
    bool init_is_customer)
{
	memset(f, 0, sizeof(*f));
	f->proto = proto;
	f->sport = sport;
	f->dport = dport;
	f->src.family = f->dst.family = 4;
	f->src.a[0] = 192; f->src.a[1] = 0; f->src.a[2] = 2; f->src.a[3] = 10;
	f->dst.a[0] = 198; f->dst.a[1] = 51; f->dst.a[2] = 100; f->dst.a[3] = 20;
	f->customer = 0;
	f->init_is_customer = init_is_customer;
}

static void mk_pkt(struct pkt *p, const struct flow *f, int dir, uint64_t ts_us,
    const uint8_t *payload, uint32_t len)
{
	memset(p, 0, sizeof(*p));
	p->ts_us = ts_us;
	p->ip_ver = 4;
	p->has_l4 = true;
	p->l4_proto = f->proto;
	p->src = dir == FLOW_FWD ? f->src : f->dst;
	p->dst = dir == FLOW_FWD ? f->dst : f->src;
	p->sport = dir == FLOW_FWD ? f->sport : f->dport;
	p->dport = dir == FLOW_FWD ? f->dport : f->sport;
	p->payload = payload;
	p->payload_caplen = p->payload_len = len;
}

static void rtp_send(struct quality *q, struct flow *f, uint64_t ts_us, uint16_t seq,
    uint32_t rtp_ts, uint8_t pt)
{
	uint8_t b[172] = { 0x80, pt, (uint8_t)(seq >> 8), (uint8_t)seq,
	    (uint8_t)(rtp_ts >> 24), (uint8_t)(rtp_ts >> 16), (uint8_t)(rtp_ts >> 8),
	    (uint8_t)rtp_ts, 0x12, 0x34, 0x56, 0x78 };
	struct pkt p;

	mk_pkt(&p, f, FLOW_FWD, ts_us, b, sizeof(b));
	quality_packet(q, f, &p, FLOW_FWD);
}

/* Reference RFC 3550 jitter (ms) over arrivals with 20 ms / 160-tick spacing. */
static double ref_jitter(const double *arr_ms, const uint32_t *ts, int n)
{
	double j = 0;
	int i;

	for (i = 1; i < n; i++) {
		double d = (arr_ms[i] - arr_ms[i - 1]) - (double)(ts[i] - ts[i - 1]) / 8.0;

		j += (fabs(d) - j) / 16.0;
	}
	return j;
}

static void test_rtp_jitter_reference(void **state)
{
	struct quality *q = quality_new(1);
	struct seen s = { 0 };
	struct flow f;
	double arr[50];
	uint32_t ts[50];
	int i;

	(void)state;
	quality_set_observer(q, obs_cb, &s);
	mk_flow(&f, IPPROTO_UDP, 16000, 20000, true);
	for (i = 0; i < 50; i++) {
		arr[i] = i * 20.0 + ((i * 7919) % 13) * 0.37;   /* fixed, irregular offsets */
		ts[i] = 1000 + (uint32_t)i * 160;
		rtp_send(q, &f, T0 + (uint64_t)llround(arr[i] * 1000), (uint16_t)(100 + i), ts[i], 0);
	}
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	assert_null(f.quality);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last[0].packets, 50);
	assert_int_equal(s.last[0].lost, 0);
	assert_int_equal(s.last[0].clock_rate, 8000);
	/* arrivals were rounded to 1 us: allow 1e-3 ms */
	assert_true(fabs(s.last[0].jitter_ms - ref_jitter(arr, ts, 50)) < 1e-3);
	quality_free(q);
}

static void test_rtp_loss_wrap_dup_reorder(void **state)
{
	struct quality *q = quality_new(1);
	struct seen s = { 0 };
	struct gw_customer_stats st;
	struct flow f;
	uint16_t seq;
	int i, k = 0;

	(void)state;
	quality_set_observer(q, obs_cb, &s);
	mk_flow(&f, IPPROTO_UDP, 16000, 20000, true);
	/* 65530..65535, 0..9 = 16 packets; drop 65534 and 3; duplicate 1; swap 6/7 */
	for (i = 0; i < 16; i++) {
		seq = (uint16_t)(65530 + i);
		if (seq == 65534 || seq == 3)
			continue;
		if (seq == 6 || seq == 7)
			seq = seq == 6 ? 7 : 6;
		rtp_send(q, &f, T0 + (uint64_t)k++ * 20000, seq, (uint32_t)(65530 + i) * 160, 0);
		if (seq == 1)
			rtp_send(q, &f, T0 + (uint64_t)k++ * 20000, seq, (uint32_t)(65530 + i) * 160, 0);
	}
	memset(&st, 0, sizeof(st));
	quality_interval(q, 0, T0 + 1000000, &st);
	assert_int_equal(st.rtp.streams, 1);
	assert_int_equal(st.rtp.packets_expected, 16);
	assert_int_equal(st.rtp.packets_lost, 2);
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last[0].expected, 16);
	assert_int_equal(s.last[0].lost, 2);
	assert_int_equal(s.last[0].duplicates, 1);
	assert_int_equal(s.last[0].reordered, 1);
	assert_int_equal(s.last[0].packets, 15);
	quality_free(q);
}

static void test_rtp_rtcp_and_junk_ignored(void **state)
{
	struct quality *q = quality_new(1);
	struct seen s = { 0 };
	struct flow f;
	struct pkt p;
	uint8_t rtcp[28] = { 0x81, 0xc8, 0x00, 0x06 };
	uint8_t junk[5] = { 0x80, 0 };
	int i;

	(void)state;
	quality_set_observer(q, obs_cb, &s);
	mk_flow(&f, IPPROTO_UDP, 16000, 20000, true);
	for (i = 0; i < 10; i++) {
		mk_pkt(&p, &f, FLOW_FWD, T0 + (uint64_t)i * 1000, rtcp, sizeof(rtcp));
		quality_packet(q, &f, &p, FLOW_FWD);
		mk_pkt(&p, &f, FLOW_FWD, T0 + (uint64_t)i * 1000 + 1, junk, sizeof(junk));
		quality_packet(q, &f, &p, FLOW_FWD);
	}
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	assert_int_equal(s.n, 0);
	quality_free(q);
}

static void tcp_send(struct quality *q, struct flow *f, int dir, uint64_t ts_us,
    uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
	static const uint8_t data[1500];
	struct pkt p;

	mk_pkt(&p, f, dir, ts_us, len ? data : NULL, len);
	p.tcp_flags = flags;
	p.tcp_seq = seq;
	p.tcp_ack = ack;
	quality_packet(q, f, &p, dir);
}

static void test_tcp_rtt_split_and_retransmit(void **state)
{
	struct quality *q = quality_new(1);
	struct gw_customer_stats st;
	struct gw_flow_record rec;
	struct flow out, in;

	(void)state;
	mk_flow(&out, IPPROTO_TCP, 40000, 443, true);
	tcp_send(q, &out, FLOW_FWD, T0, TCPF_SYN, 1000, 0, 0);
	tcp_send(q, &out, FLOW_REV, T0 + 30000, TCPF_SYN | TCPF_ACK, 5000, 1001, 0);
	tcp_send(q, &out, FLOW_FWD, T0 + 32000, TCPF_ACK, 1001, 5001, 0);
	tcp_send(q, &out, FLOW_FWD, T0 + 40000, TCPF_ACK, 1001, 5001, 100);
	tcp_send(q, &out, FLOW_FWD, T0 + 500000, TCPF_ACK, 1001, 5001, 100);   /* retransmission */
	tcp_send(q, &out, FLOW_FWD, T0 + 510000, TCPF_ACK, 1100, 5001, 0);     /* keep-alive-ish: no data */
	/* inbound: initiator on the WAN side */
	mk_flow(&in, IPPROTO_TCP, 50000, 22, false);
	tcp_send(q, &in, FLOW_FWD, T0, TCPF_SYN, 7000, 0, 0);
	tcp_send(q, &in, FLOW_REV, T0 + 3000, TCPF_SYN | TCPF_ACK, 9000, 7001, 0);
	tcp_send(q, &in, FLOW_FWD, T0 + 43000, TCPF_ACK, 7001, 9001, 0);

	memset(&rec, 0, sizeof(rec));
	quality_flow_end(q, &out, FLOW_END_IDLE, &rec);
	assert_true(fabs(rec.rtt_wan_ms - 30.0) < 1e-9);
	assert_true(fabs(rec.rtt_lan_ms - 2.0) < 1e-9);
	assert_int_equal(rec.retransmits, 1);
	memset(&rec, 0, sizeof(rec));
	quality_flow_end(q, &in, FLOW_END_IDLE, &rec);
	assert_true(fabs(rec.rtt_wan_ms - 40.0) < 1e-9);
	assert_true(fabs(rec.rtt_lan_ms - 3.0) < 1e-9);

	memset(&st, 0, sizeof(st));
	quality_interval(q, 0, T0 + 1000000, &st);
	assert_int_equal(st.tcp.handshakes, 2);
	assert_true(fabs(st.tcp.rtt_wan_ms_avg - 35.0) < 1e-9);
	assert_true(fabs(st.tcp.rtt_lan_ms_avg - 2.5) < 1e-9);
	assert_true(fabs(st.tcp.rtt_ms_p95 - 43.0) < 1e-9);   /* max sample, exact */
	assert_int_equal(st.tcp.retransmits, 1);
	assert_int_equal(st.tcp.segments, 2);
	/* the next interval starts empty */
	quality_interval(q, 0, T0 + 2000000, &st);
	assert_int_equal(st.tcp.handshakes, 0);
	quality_free(q);
}

static void dns_send(struct quality *q, struct flow *f, int dir, uint64_t ts_us,
    uint16_t id, bool resp, uint8_t rcode)
{
	uint8_t b[12] = { (uint8_t)(id >> 8), (uint8_t)id, resp ? 0x81 : 0x01,
	    (uint8_t)(resp ? 0x80 | rcode : 0), 0, 1 };
	struct pkt p;

	mk_pkt(&p, f, dir, ts_us, b, sizeof(b));
	quality_packet(q, f, &p, dir);
}

static void test_dns_latency_failure_timeout(void **state)
{
	struct quality *q = quality_new(1);
	struct gw_customer_stats st;
	struct flow f;

	(void)state;
	mk_flow(&f, IPPROTO_UDP, 33333, 53, true);
	dns_send(q, &f, FLOW_FWD, T0, 0x1111, false, 0);
	dns_send(q, &f, FLOW_REV, T0 + 12000, 0x1111, true, 0);
	dns_send(q, &f, FLOW_FWD, T0 + 100000, 0x2222, false, 0);
	dns_send(q, &f, FLOW_REV, T0 + 125000, 0x2222, true, 3);   /* NXDOMAIN */
	dns_send(q, &f, FLOW_FWD, T0 + 200000, 0x3333, false, 0);  /* never answered */
	memset(&st, 0, sizeof(st));
	quality_interval(q, 0, T0 + 1000000, &st);   /* not yet 5 s */
	assert_int_equal(st.dns.queries, 3);
	assert_int_equal(st.dns.responses, 2);
	assert_int_equal(st.dns.failures, 1);
	assert_int_equal(st.dns.timeouts, 0);
	assert_true(fabs(st.dns.latency_ms_avg - 18.5) < 1e-9);
	assert_true(fabs(st.dns.latency_ms_p95 - 25.0) < 1e-9);
	quality_interval(q, 0, T0 + 6000000, &st);   /* past 5 s */
	assert_int_equal(st.dns.timeouts, 1);
	assert_int_equal(st.dns.queries, 0);
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	quality_free(q);
}

static void test_sdp_dynamic_clock(void **state)
{
	static const char sip[] =
	    "INVITE sip:b@example.org SIP/2.0\r\nContent-Type: application/sdp\r\n\r\n"
	    "v=0\r\nc=IN IP4 198.51.100.20\r\nm=audio 20000 RTP/AVP 96\r\n"
	    "a=rtpmap:96 opus/48000/2\r\n";
	struct quality *q = quality_new(1);
	struct seen s = { 0 };
	struct flow sf, f;
	struct pkt p;
	int i;

	(void)state;
	quality_set_observer(q, obs_cb, &s);
	mk_flow(&sf, IPPROTO_UDP, 5060, 5060, true);
	mk_pkt(&p, &sf, FLOW_FWD, T0, (const uint8_t *)sip, sizeof(sip) - 1);
	quality_packet(q, &sf, &p, FLOW_FWD);
	mk_flow(&f, IPPROTO_UDP, 16000, 20000, true);
	for (i = 0; i < 5; i++)
		rtp_send(q, &f, T0 + (uint64_t)i * 20000 + (i == 3 ? 4000 : 0),
		    (uint16_t)i, (uint32_t)i * 960, 96);
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	quality_flow_end(q, &sf, FLOW_END_IDLE, NULL);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last[0].clock_rate, 48000);
	assert_true(s.last[0].jitter_ms > 0.2);
	quality_free(q);
}

static void test_bad_input(void **state)
{
	struct quality *q = quality_new(1);
	struct gw_customer_stats st;
	struct flow f;
	struct pkt p;
	uint8_t one = 0x80;

	(void)state;
	mk_flow(&f, IPPROTO_UDP, 16000, 20000, true);
	mk_pkt(&p, &f, FLOW_FWD, T0, &one, 1);
	quality_packet(q, &f, &p, FLOW_FWD);
	quality_packet(q, &f, &p, 7);          /* bad direction: ignored */
	quality_packet(NULL, &f, &p, FLOW_FWD);
	f.customer = 99;                          /* unknown customer: no crash */
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	quality_interval(q, 5, T0, &st);
	assert_int_equal(st.rtp.streams, 0);
	quality_free(q);
	quality_free(NULL);
}

/* One non-RTP datagram of flow f in direction dir at ts_us. */
static void udp_send(struct quality *q, struct flow *f, int dir, uint64_t ts_us)
{
	static const uint8_t b[32];   /* zeros: version 0, not RTP */
	struct pkt p;

	mk_pkt(&p, f, dir, ts_us, b, sizeof(b));
	quality_packet(q, f, &p, dir);
}

/*
 * Lone datagrams keep no per-flow state until a direction's second one; the
 * state built then must give the summaries a state kept all along gives:
 * here one answer each way in interval 1, then two more requests in
 * interval 2 (the interval boundary restarts the pps span).
 */
static void test_udp_lazy_state(void **state)
{
	struct quality *q = quality_new(1);
	struct gw_customer_stats st;
	struct flow f;

	(void)state;
	mk_flow(&f, IPPROTO_UDP, 40000, 3478, true);
	f.first_us = T0 + 100000;
	udp_send(q, &f, FLOW_FWD, T0 + 100000);
	udp_send(q, &f, FLOW_REV, T0 + 101000);
	quality_interval(q, 0, T0 + 1000000, &st);
	assert_int_equal(st.udp.streams, 0);
	udp_send(q, &f, FLOW_FWD, T0 + 1300000);
	udp_send(q, &f, FLOW_FWD, T0 + 1400000);
	quality_interval(q, 0, T0 + 2000000, &st);
	/* FWD: IATs 1.2 s then 0.1 s -> one variation sample of 1100 ms */
	assert_int_equal(st.udp.streams, 1);
	assert_true(fabs(st.udp.iat_var_ms_avg - 1100.0) < 1e-6);
	/* two datagrams of interval 2, 0.1 s apart: 10 pps */
	assert_true(fabs(st.udp.pps_avg - 10.0) < 1e-6);
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	assert_null(f.quality);
	/* a flow of two lone datagrams ends without state or figures */
	mk_flow(&f, IPPROTO_UDP, 40001, 123, true);
	f.first_us = T0 + 2100000;
	udp_send(q, &f, FLOW_FWD, T0 + 2100000);
	udp_send(q, &f, FLOW_REV, T0 + 2100500);
	quality_flow_end(q, &f, FLOW_END_ACTIVE, NULL);
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	assert_null(f.quality);
	quality_interval(q, 0, T0 + 3000000, &st);
	assert_int_equal(st.udp.streams, 0);
	quality_free(q);
}

/*
 * Two datagrams each way keep only their times (a small state); the third
 * in a direction builds the full state from them. Interval 1: FWD at 0.1 and
 * 0.3 s, REV at 0.2 and 0.25 s (nothing to report: no direction has three).
 * Interval 2: FWD at 1.2 and 1.5 s, REV at 1.3 s.
 */
static void test_udp_small_state(void **state)
{
	struct quality *q = quality_new(1);
	struct gw_customer_stats st;
	struct gw_flow_record rec;
	struct flow f;

	(void)state;
	mk_flow(&f, IPPROTO_UDP, 40000, 51820, true);
	f.first_us = T0 + 100000;
	udp_send(q, &f, FLOW_FWD, T0 + 100000);
	udp_send(q, &f, FLOW_REV, T0 + 200000);
	udp_send(q, &f, FLOW_REV, T0 + 250000);
	udp_send(q, &f, FLOW_FWD, T0 + 300000);
	assert_non_null(f.quality);
	memset(&rec, 0, sizeof(rec));
	quality_flow_end(q, &f, FLOW_END_ACTIVE, &rec);   /* the times survive */
	assert_non_null(f.quality);
	quality_interval(q, 0, T0 + 1000000, &st);
	assert_int_equal(st.udp.streams, 0);
	udp_send(q, &f, FLOW_FWD, T0 + 1200000);
	udp_send(q, &f, FLOW_REV, T0 + 1300000);
	udp_send(q, &f, FLOW_FWD, T0 + 1500000);
	quality_interval(q, 0, T0 + 2000000, &st);
	/*
	 * FWD IATs 0.2, 0.9, 0.3 s: variations 0.7 and 0.6 s (650 ms average),
	 * 2 datagrams 0.3 s apart in the interval (3.33 pps). REV IATs 0.05 and
	 * 1.05 s: one variation of 1000 ms, one datagram (no rate).
	 */
	assert_int_equal(st.udp.streams, 2);
	assert_true(fabs(st.udp.iat_var_ms_avg - 825.0) < 1e-6);
	assert_true(fabs(st.udp.pps_avg - 1e6 / 300000.0 / 2) < 1e-6);
	quality_flow_end(q, &f, FLOW_END_IDLE, NULL);
	assert_null(f.quality);
	/* two datagrams one way only: freed without figures */
	mk_flow(&f, IPPROTO_UDP, 40002, 443, true);
	f.first_us = T0 + 2100000;
	udp_send(q, &f, FLOW_FWD, T0 + 2100000);
	udp_send(q, &f, FLOW_FWD, T0 + 2200000);
	assert_non_null(f.quality);
	quality_flow_end(q, &f, FLOW_END_EVICTED, NULL);
	assert_null(f.quality);
	quality_interval(q, 0, T0 + 3000000, &st);
	assert_int_equal(st.udp.streams, 0);
	quality_free(q);
}

/* Retransmissions go to the record that saw them; the RTT only to the first. */
static void test_tcp_records_across_active_timeout(void **state)
{
	struct quality *q = quality_new(1);
	struct gw_flow_record rec;
	struct flow f;

	(void)state;
	mk_flow(&f, IPPROTO_TCP, 40001, 443, true);
	tcp_send(q, &f, FLOW_FWD, T0, TCPF_SYN, 1000, 0, 0);
	tcp_send(q, &f, FLOW_REV, T0 + 20000, TCPF_SYN | TCPF_ACK, 5000, 1001, 0);
	tcp_send(q, &f, FLOW_FWD, T0 + 21000, TCPF_ACK, 1001, 5001, 0);
	tcp_send(q, &f, FLOW_FWD, T0 + 30000, TCPF_ACK, 1001, 5001, 100);
	tcp_send(q, &f, FLOW_FWD, T0 + 400000, TCPF_ACK, 1001, 5001, 100);   /* retransmission */
	/* within the 21 ms handshake RTT and not ending at the highest seq: out of order */
	tcp_send(q, &f, FLOW_REV, T0 + 500000, TCPF_ACK, 5001, 1101, 200);
	tcp_send(q, &f, FLOW_REV, T0 + 505000, TCPF_ACK, 5001, 1101, 100);
	memset(&rec, 0, sizeof(rec));
	quality_flow_end(q, &f, FLOW_END_ACTIVE, &rec);
	assert_true(fabs(rec.rtt_wan_ms - 20.0) < 1e-9);
	assert_true(fabs(rec.rtt_lan_ms - 1.0) < 1e-9);
	assert_int_equal(rec.retransmits, 1);
	tcp_send(q, &f, FLOW_FWD, T0 + 900000, TCPF_ACK, 1001, 5201, 100);   /* again */
	tcp_send(q, &f, FLOW_FWD, T0 + 950000, TCPF_ACK, 1001, 5201, 100);   /* and again */
	memset(&rec, 0, sizeof(rec));
	quality_flow_end(q, &f, FLOW_END_IDLE, &rec);
	assert_true(rec.rtt_wan_ms == 0 && rec.rtt_lan_ms == 0);
	assert_int_equal(rec.retransmits, 2);
	assert_null(f.quality);
	quality_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtp_jitter_reference),
		cmocka_unit_test(test_udp_lazy_state),
		cmocka_unit_test(test_udp_small_state),
		cmocka_unit_test(test_tcp_records_across_active_timeout),
		cmocka_unit_test(test_rtp_loss_wrap_dup_reorder),
		cmocka_unit_test(test_rtp_rtcp_and_junk_ignored),
		cmocka_unit_test(test_tcp_rtt_split_and_retransmit),
		cmocka_unit_test(test_dns_latency_failure_timeout),
		cmocka_unit_test(test_sdp_dynamic_clock),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
