/* gw-quality-dump.c: run decode + flow + quality over a pcap and print every QoS item (oracle tests). */
/*
 * Usage: gw-quality-dump [-n NET/LEN] FILE
 *   One line per item, fields as key=value, for comparison with tshark:
 *     rtp SRC SPORT DST DPORT ssrc=0x.. pt= clock= packets= expected= lost=
 *         dups= reordered= jitter_ms= jitter_max_ms= jitter_mean_ms= pps=
 *     tcp SRC SPORT DST DPORT syn_synack_ms= synack_ack_ms= initial_rtt_ms=
 *         wan_ms= lan_ms=            (SRC = the SYN's sender)
 *     dns SRC SPORT DST DPORT id=0x.. rcode= latency_ms= | timeout=1
 *   then one "summary" line: the customer summary over the whole file as a
 *   single interval (all flows are customer 0).
 *   -n NET/LEN: the customer's side (decides WAN/LAN legs); default: every
 *   flow's initiator is on the customer side.
 * Exit status 0, or 1 when the file cannot be read.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "flow.h"
#include "quality.h"

struct dump {
	struct quality *q;
	struct gw_addr net;
	unsigned net_len;      /* 0: no -n given */
	uint64_t last_us;
};

static int dump_in_net(const struct dump *d, const struct gw_addr *a)
{
	unsigned i, bits = d->net_len;

	if (a->family != d->net.family)
		return 0;
	for (i = 0; bits > 0; i++, bits = bits >= 8 ? bits - 8 : 0) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a->a[i] & mask) != (d->net.a[i] & mask))
			return 0;
	}
	return 1;
}

static void dump_endpoints(const struct flow *f, int dir, char *out, size_t len)
{
	char s[GW_ADDR_MAX], t[GW_ADDR_MAX];

	if (f == NULL) {
		snprintf(out, len, "- - - -");
		return;
	}
	gw_addr_str(dir == FLOW_FWD ? &f->src : &f->dst, s, sizeof(s));
	gw_addr_str(dir == FLOW_FWD ? &f->dst : &f->src, t, sizeof(t));
	snprintf(out, len, "%s %u %s %u", s,
	    (unsigned)(dir == FLOW_FWD ? f->sport : f->dport), t,
	    (unsigned)(dir == FLOW_FWD ? f->dport : f->sport));
}

static void dump_obs(const struct quality_obs *o, void *ctx)
{
	char ep[2 * GW_ADDR_MAX + 16];

	(void)ctx;
	dump_endpoints(o->flow, o->dir, ep, sizeof(ep));
	switch (o->kind) {
	case QUALITY_OBS_RTP_STREAM:
		printf("rtp %s ssrc=0x%08X pt=%u clock=%u packets=%llu expected=%llu "
		    "lost=%lld dups=%llu reordered=%llu jitter_ms=%.6f "
		    "jitter_max_ms=%.6f jitter_mean_ms=%.6f pps=%.3f first=%.6f\n",
		    ep, (unsigned)o->ssrc, o->pt, (unsigned)o->clock_rate,
		    (unsigned long long)o->packets, (unsigned long long)o->expected,
		    (long long)o->lost, (unsigned long long)o->duplicates,
		    (unsigned long long)o->reordered, o->jitter_ms, o->jitter_max_ms,
		    o->jitter_mean_ms, o->pps, (double)o->first_us / 1e6);
		break;
	case QUALITY_OBS_HANDSHAKE:
		printf("tcp %s syn_synack_ms=%.6f synack_ack_ms=%.6f initial_rtt_ms=%.6f "
		    "wan_ms=%.6f lan_ms=%.6f\n", ep, o->syn_synack_ms, o->synack_ack_ms,
		    o->syn_synack_ms + o->synack_ack_ms, o->rtt_wan_ms, o->rtt_lan_ms);
		break;
	case QUALITY_OBS_DNS:
		if (o->timeout)
			printf("dns %s id=0x%04x timeout=1 query=%.6f\n", ep, o->dns_id,
			    (double)o->ts_us / 1e6);
		else
			printf("dns %s id=0x%04x rcode=%u latency_ms=%.6f query=%.6f\n", ep,
			    o->dns_id, o->rcode, o->latency_ms, (double)o->ts_us / 1e6);
		break;
	}
}

static void dump_flow_end(struct flow *f, enum flow_end why, void *ctx)
{
	struct dump *d = ctx;

	quality_flow_end(d->q, f, why, NULL);
}

static void dump_summary(struct dump *d)
{
	struct gw_customer_stats st;

	memset(&st, 0, sizeof(st));
	quality_interval(d->q, 0, d->last_us, &st);
	printf("summary rtp.streams=%u rtp.packets=%llu rtp.expected=%llu rtp.lost=%llu "
	    "rtp.jitter_avg=%.6f rtp.jitter_max=%.6f tcp.handshakes=%u tcp.wan_avg=%.6f "
	    "tcp.lan_avg=%.6f tcp.p95=%.6f tcp.retransmits=%llu tcp.segments=%llu "
	    "tcp.ooo=%llu dns.queries=%llu dns.responses=%llu dns.failures=%llu "
	    "dns.timeouts=%llu dns.lat_avg=%.6f dns.p95=%.6f udp.streams=%u "
	    "udp.pps_avg=%.3f udp.iatv_avg=%.6f\n",
	    st.rtp.streams, (unsigned long long)st.rtp.packets,
	    (unsigned long long)st.rtp.packets_expected,
	    (unsigned long long)st.rtp.packets_lost, st.rtp.jitter_ms_avg,
	    st.rtp.jitter_ms_max, st.tcp.handshakes, st.tcp.rtt_wan_ms_avg,
	    st.tcp.rtt_lan_ms_avg, st.tcp.rtt_ms_p95,
	    (unsigned long long)st.tcp.retransmits, (unsigned long long)st.tcp.segments,
	    (unsigned long long)st.tcp.out_of_order, (unsigned long long)st.dns.queries,
	    (unsigned long long)st.dns.responses, (unsigned long long)st.dns.failures,
	    (unsigned long long)st.dns.timeouts, st.dns.latency_ms_avg,
	    st.dns.latency_ms_p95, st.udp.streams, st.udp.pps_avg, st.udp.iat_var_ms_avg);
}

static int dump_parse_net(struct dump *d, const char *arg)
{
	char buf[GW_ADDR_MAX];
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, arg, n);
	buf[n] = '\0';
	if (gw_addr_parse(buf, &d->net) != 0)
		return -1;
	d->net_len = slash ? (unsigned)atoi(slash + 1) : (d->net.family == 4 ? 32 : 128);
	if (d->net_len == 0 || d->net_len > (d->net.family == 4 ? 32u : 128u))
		return -1;
	return 0;
}

static int dump_file(struct dump *d, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct flow_config cfg = { 0 };
	struct pcap_pkthdr *h;
	const u_char *data;
	struct flow_table *t;
	pcap_t *pc;
	int dlt;

	pc = pcap_open_offline(path, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "%s: %s\n", path, errbuf);
		return -1;
	}
	dlt = pcap_datalink(pc);
	t = flow_table_new(&cfg, dump_flow_end, d);
	if (t == NULL) {
		pcap_close(pc);
		return -1;
	}
	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct pkt p;
		struct flow *f;
		bool created;
		int dir;

		memset(&p, 0, sizeof(p));
		if (!decode_is_ip(decode_packet(dlt, data, h->caplen, &p)))
			continue;
		p.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		p.caplen = h->caplen;
		p.wirelen = h->len;
		d->last_us = p.ts_us;
		flow_table_expire(t, p.ts_us);
		f = flow_table_packet(t, &p, &dir, &created);
		if (f == NULL)
			continue;
		if (created) {
			f->customer = 0;
			f->peer_customer = -1;
			f->init_is_customer = d->net_len == 0 || dump_in_net(d, &f->src);
		}
		quality_packet(d->q, f, &p, dir);
	}
	flow_table_free(t);
	pcap_close(pc);
	return 0;
}

int main(int argc, char **argv)
{
	struct dump d;
	int opt, rc;

	memset(&d, 0, sizeof(d));
	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt == 'n' && dump_parse_net(&d, optarg) == 0)
			continue;
		fprintf(stderr, "usage: gw-quality-dump [-n NET/LEN] FILE\n");
		return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: gw-quality-dump [-n NET/LEN] FILE\n");
		return 2;
	}
	d.q = quality_new(1);
	if (d.q == NULL)
		return 1;
	quality_set_observer(d.q, dump_obs, &d);
	rc = dump_file(&d, argv[optind]);
	dump_summary(&d);
	quality_free(d.q);
	return rc == 0 ? 0 : 1;
}
