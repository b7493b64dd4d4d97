/*
 * detect_scan.c: port scans (TCP SYN/connect, FIN, NULL, Xmas; UDP), host
 * sweeps per protocol (ICMP, TCP, UDP) and slow scans: distinct failed
 * attempts (a RST as the responder's first packet, an ICMP unreachable
 * quoting the attempt, or a SYN/UDP flow that expired without any answer)
 * per source over 150-300 s, as distinct ports of one host or distinct hosts
 * on one port, as Zeek's scan policy counts them. Each alarm is one (kind, protocol, source[, target]), so a
 * scan never hides another protocol's or another target's scan.
 */
#include <stdio.h>
#include <string.h>

#include "detect_int.h"

#define SLOW_QUIET_US  60000000ULL  /* slow_scan clears after this long without a failure */
#define NOREPLY_MIN_US 5000000ULL   /* an unanswered attempt counts once silent this long */

/* The scan technique a probe shows, for the event's detail. */
static const char *scan_style(const struct pkt *p)
{
	uint8_t f = p->tcp_flags & (TCPF_FIN | TCPF_SYN | TCPF_RST | TCPF_PSH |
	    TCPF_ACK | TCPF_URG);

	switch (p->l4_proto) {
	case 6:
		if (f & TCPF_SYN)
			return "TCP SYN/connect";
		if (f == 0)
			return "TCP NULL";
		if (f == TCPF_FIN)
			return "TCP FIN";
		if (f == (TCPF_FIN | TCPF_PSH | TCPF_URG))
			return "TCP Xmas";
		return "TCP odd-flags";
	case 17:
		return "UDP";
	default:
		return "ICMP echo";
	}
}

/* Distinct ports of one target (port_scan) or hosts (host_sweep) from one source, per protocol. */
static void scan_fast(struct detect *d, int cust, int dir, const struct pkt *p,
    enum det_kind kind)
{
	bool ports = kind == K_PORTSCAN;
	struct dcount *dc = ports ? d->ports : d->hosts;
	double thr = ports ? d->th.scan_ports : d->th.sweep_hosts;
	uint64_t kh = sketch_mix(detect_addr_hash(&p->src, 23), p->l4_proto), ih;
	struct alarm_id id;
	struct alarm *a;
	uint32_t n;
	char detail[GW_TEXT_MAX];

	if (ports) {
		kh = sketch_mix(kh, detect_addr_hash(&p->dst, 29));
		ih = sketch_mix(kh, p->dport);
	} else {
		ih = detect_addr_hash(&p->dst, 31);
	}
	n = dcount_add(dc, kh, ih);
	if (n < thr)
		return;
	id = detect_alarm_id(kind, 0, 0, p->l4_proto, &p->src, ports ? &p->dst : NULL);
	if ((a = detect_alarm_get(d, &id, true)) == NULL)
		return;
	if (a->active) {
		a->packets++;
		return;
	}
	if (!detect_alarm_may_fire(d, a))
		return;
	a->cust = cust;          /* reported customer/direction; not part of the key */
	a->dir = dir;
	a->src = p->src;
	snprintf(detail, sizeof(detail), "%u distinct %s from one source in %.0f-%.0f s (%s)",
	    n, ports ? "destination ports of one host" : "destination hosts",
	    SCAN_GEN_US / 1e6, 2 * SCAN_GEN_US / 1e6, scan_style(p));
	detect_simple_fire(d, a, p, kh, n, detail);
}

/* See detect_int.h. */
void detect_scan_packet(struct detect *d, const struct customer_match *m,
    const struct pkt *p)
{
	int cust = detect_cust_valid(d, m->rx) ? m->rx : m->tx;
	int dir = detect_cust_valid(d, m->rx) ? DIR_RX : DIR_TX;

	if (!detect_cust_valid(d, cust))
		return;
	if (p->l4_proto == 6 || p->l4_proto == 17)
		scan_fast(d, cust, dir, p, K_PORTSCAN);
	scan_fast(d, cust, dir, p, K_SWEEP);
}

/*
 * The attempt quoted by an ICMP(v6) destination unreachable or time exceeded
 * (exceeded set: a router's answer, as traceroute gets); 0, or -1 if none.
 */
struct quoted {
	struct gw_addr src, dst;
	uint8_t proto;
	bool exceeded;
	uint16_t dport;
};

static int quoted_attempt(const struct pkt *p, struct quoted *q)
{
	const uint8_t *b = p->payload;
	uint32_t n = p->payload_caplen, hl;

	memset(q, 0, sizeof(*q));
	if (b == NULL || n < 1)
		return -1;
	if (p->l4_proto == 1 && (p->icmp_type == 3 || p->icmp_type == 11) && n >= 20 &&
	    (b[0] >> 4) == 4) {
		q->exceeded = p->icmp_type == 11;
		hl = (uint32_t)(b[0] & 0x0f) * 4;
		if (hl < 20 || n < hl + 4)
			return -1;
		q->proto = b[9];
		q->src.family = q->dst.family = 4;
		memcpy(q->src.a, b + 12, 4);
		memcpy(q->dst.a, b + 16, 4);
	} else if (p->l4_proto == 58 && (p->icmp_type == 1 || p->icmp_type == 3) && n >= 44 &&
	    (b[0] >> 4) == 6) {
		q->exceeded = p->icmp_type == 3;
		hl = 40;   /* extension headers in the quote are not followed */
		q->proto = b[6];
		q->src.family = q->dst.family = 6;
		memcpy(q->src.a, b + 8, 16);
		memcpy(q->dst.a, b + 24, 16);
	} else {
		return -1;
	}
	if (q->proto != 6 && q->proto != 17)
		return -1;
	q->dport = (uint16_t)(b[hl + 2] << 8 | b[hl + 3]);
	return 0;
}

/* True when a fast port_scan or host_sweep of this source explains the failures. */
static bool scan_fast_seen(struct detect *d, const struct alarm *a)
{
	uint64_t hold_us = (uint64_t)(d->th.holddown_s * 1e6) + SLOW_WAIT_US;
	struct alarm_id ids[2];
	int i;

	ids[0] = detect_alarm_id(K_PORTSCAN, 0, 0, a->ip_proto, &a->src, &a->dst);
	ids[1] = detect_alarm_id(K_SWEEP, 0, 0, a->ip_proto, &a->src, NULL);
	for (i = 0; i < 2; i++) {
		const struct alarm *x = detect_alarm_get(d, &ids[i], false);

		if (x != NULL && (x->active || x->pending ||
		    (x->cleared_us != 0 && d->now_us < x->cleared_us + hold_us)))
			return true;
	}
	return false;
}

/* Slow-scan failure keys, as Zeek splits them: ports of one host, hosts on one port. */
static uint64_t slow_key_host(const struct quoted *q)
{
	return sketch_mix(detect_addr_hash(&q->src, 37), detect_addr_hash(&q->dst, 41));
}

static uint64_t slow_key_port(const struct quoted *q)
{
	return sketch_mix(sketch_mix(detect_addr_hash(&q->src, 43), q->proto), q->dport);
}

/* Key of one attempt that a router answered (time exceeded): such a flow is no failure. */
static uint64_t slow_key_answered(const struct quoted *q)
{
	return sketch_mix(sketch_mix(slow_key_host(q), q->proto), (uint64_t)q->dport | 1ULL << 32);
}

/*
 * Counts one failed attempt of q.src toward (q.dst, q.proto, q.dport) twice,
 * as a distinct port of that host and as a distinct host on that port (a
 * failure spread over random hosts and ports, as bit errors in a damaged
 * capture make, adds up in neither); cust and dir are the customer and
 * direction an alarm reports. Only a failure new to a counter is evidence.
 */
static void scan_failure_count(struct detect *d, const struct quoted *q, int cust,
    int dir)
{
	uint64_t kp = slow_key_host(q), kh = slow_key_port(q), key;
	uint32_t before, np, nh, n;
	struct alarm_id id;
	struct alarm *a;

	dcount_advance(d->failures, d->now_us);   /* only here: failures are rare */
	before = dcount_estimate(d->failures, kp) + dcount_estimate(d->failures, kh);
	np = dcount_add_once(d->failures, kp, sketch_mix(q->proto, q->dport));
	nh = dcount_add_once(d->failures, kh, detect_addr_hash(&q->dst, 47));
	n = np >= nh ? np : nh;
	key = np >= nh ? kp : kh;
	if (n < d->th.slow_failures)
		return;
	id = detect_alarm_id(K_SLOWSCAN, 0, 0, 0, &q->src, NULL);
	if ((a = detect_alarm_get(d, &id, true)) == NULL)
		return;
	if (a->active || a->pending) {
		if (np + nh > before) {
			a->packets++;
			a->evidence_us = d->now_us;
		}
		return;
	}
	if (!detect_alarm_may_fire(d, a))
		return;
	a->cust = cust;
	a->dir = dir;
	a->pending = true;
	a->pending_us = a->evidence_us = d->now_us;
	a->rate_key = key;
	a->src = q->src;
	a->dst = q->dst;
	a->ip_proto = q->proto;
	a->dport = q->dport;
	a->peak_pps = n;
	a->packets = 1;
}

/* See detect_int.h. */
void detect_scan_failure(struct detect *d, const struct customer_match *m,
    const struct pkt *p, unsigned flow_flags)
{
	struct quoted q;
	int cust, dir;

	if (d->th.slow_failures <= 0 || !p->has_l4)
		return;
	if (p->l4_proto == 6) {
		/* Rejected: the responder's first word is a RST (Zeek's REJ). */
		if (!(p->tcp_flags & TCPF_RST) || (flow_flags & (DETECT_FIRST | DETECT_REPLY)) !=
		    (DETECT_FIRST | DETECT_REPLY))
			return;
		q.src = p->dst;
		q.dst = p->src;
		q.proto = 6;
		q.dport = p->sport;
	} else if (quoted_attempt(p, &q) != 0 || gw_addr_cmp(&q.src, &p->dst) != 0) {
		return;
	} else if (q.exceeded) {
		/* Remembered (150-300 s) so that the attempt's flow does not expire as unanswered. */
		dcount_advance(d->failures, d->now_us);
		dcount_add(d->failures, slow_key_answered(&q), 1);
		return;
	}
	/* The failing packet goes from the target back to the source. */
	cust = detect_cust_valid(d, m->tx) ? m->tx : m->rx;
	dir = detect_cust_valid(d, m->tx) ? DIR_RX : DIR_TX;
	if (detect_cust_valid(d, cust))
		scan_failure_count(d, &q, cust, dir);
}

/*
 * True when a fast port_scan or host_sweep alarm of u's source was firing
 * (or about to) when u's attempt was made: that alarm already reports it.
 */
static bool scan_fast_explains(struct detect *d, const struct detect_unanswered *u)
{
	uint64_t hold_us = (uint64_t)(d->th.holddown_s * 1e6) + SLOW_WAIT_US;
	struct alarm_id ids[2];
	int i;

	ids[0] = detect_alarm_id(K_PORTSCAN, 0, 0, u->ip_proto, &u->src, &u->dst);
	ids[1] = detect_alarm_id(K_SWEEP, 0, 0, u->ip_proto, &u->src, NULL);
	for (i = 0; i < 2; i++) {
		const struct alarm *x = detect_alarm_get(d, &ids[i], false);

		if (x == NULL || x->fired_us == 0 || u->last_us + 2 * SCAN_GEN_US < x->fired_us)
			continue;
		if (x->active || u->last_us <= x->cleared_us + hold_us)
			return true;
	}
	return false;
}

/* See detect.h. */
void detect_flow_unanswered(struct detect *d, const struct detect_unanswered *u)
{
	const struct customer_match *m = &u->m;
	struct quoted q;
	int cust, dir;

	if (d == NULL || u == NULL || d->th.slow_failures <= 0 || m->tx == m->rx ||
	    detect_addr_is_multicast(&u->dst))
		return;
	if (u->ip_proto == 6 ? !u->bare_syn :
	    u->ip_proto != 17 || (u->sport < 1024 && u->dport >= 1024))
		return;
	/* An evicted flow may simply not have had time to get its answer. */
	if (u->silent_us < NOREPLY_MIN_US || scan_fast_explains(d, u))
		return;
	memset(&q, 0, sizeof(q));
	q.src = u->src;
	q.dst = u->dst;
	q.proto = u->ip_proto;
	q.dport = u->dport;
	dcount_advance(d->failures, d->now_us);
	if (dcount_estimate(d->failures, slow_key_answered(&q)) > 0)
		return;                  /* a router answered it (traceroute) */
	/* The attempt goes from the source to the target. */
	cust = detect_cust_valid(d, m->rx) ? m->rx : m->tx;
	dir = detect_cust_valid(d, m->rx) ? DIR_RX : DIR_TX;
	if (!detect_cust_valid(d, cust))
		return;
	scan_failure_count(d, &q, cust, dir);
}

/* See detect_int.h. */
void detect_scan_settle(struct detect *d, struct alarm *a)
{
	struct gw_event ev;
	struct quoted q;

	if (d->now_us < a->pending_us + SLOW_WAIT_US)
		return;
	a->pending = false;
	if (scan_fast_seen(d, a)) {
		a->used = false;
		return;
	}
	detect_pending_fire(d, a, &ev);
	dcount_advance(d->failures, d->now_us);
	ev.rate_pps = dcount_estimate(d->failures, a->rate_key);
	memset(&q, 0, sizeof(q));
	q.src = a->src;
	q.dst = a->dst;
	snprintf(ev.detail, sizeof(ev.detail),
	    "%.0f failed attempts (RST, ICMP unreachable or no answer) from one source to "
	    "distinct %s in %.0f-%.0f s; last to port %u", ev.rate_pps,
	    a->rate_key == slow_key_host(&q) ? "ports of one host" : "hosts on one port",
	    SLOW_GEN_US / 1e6, 2 * SLOW_GEN_US / 1e6, a->dport);
	detect_emit(d, &ev);
}

/* See detect_int.h. */
double detect_scan_level(struct detect *d, const struct alarm *a)
{
	switch (a->id.kind) {
	case K_PORTSCAN:
		return dcount_estimate(d->ports, a->rate_key) / d->th.scan_ports;
	case K_SWEEP:
		return dcount_estimate(d->hosts, a->rate_key) / d->th.sweep_hosts;
	default:
		return d->now_us < a->evidence_us + SLOW_QUIET_US ? 1.0 : 0.0;
	}
}
