/*
 * quality.c: passive QoS: per-flow state, dispatch to the TCP, DNS and
 * RTP/UDP analysers (quality_tcp.c, quality_dns.c, quality_rtp.c) and the
 * per-customer interval summaries. The analysers never call back into this
 * file: what they share with it (customer accumulators, the observer) is in
 * quality_acc.c, below both.
 *
 * Memory, all per-flow states from fixed-size pools (no malloc per flow):
 * 56 bytes per TCP flow, 112 per DNS flow; a UDP flow keeps nothing while
 * each direction has had one datagram (a tag in f->quality), 24 bytes while
 * each has had at most two, 168 bytes after that or once a datagram could
 * be RTP (see quality_state), plus 208 bytes per tracked RTP SSRC (at most
 * 4 per flow). Per customer one struct qcust (two 832-byte histograms). All
 * per-flow memory is released in quality_flow_end().
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "quality_int.h"

/* New context for n_customers customer indexes; NULL on allocation failure. */
struct quality *quality_new(size_t n_customers)
{
	struct quality *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->n_customers = n_customers;
	quality_pool_init(&q->tcp_pool, sizeof(struct qtcp));
	quality_pool_init(&q->small_pool, sizeof(struct qudp_small));
	quality_pool_init(&q->udp_pool, sizeof(struct qflow));
	quality_pool_init(&q->dns_pool, offsetof(struct qflow, u) + sizeof(struct qdns));
	quality_pool_init(&q->rtp_pool, sizeof(struct qrtp_stream));
	if (n_customers > 0) {
		q->cust = calloc(n_customers, sizeof(*q->cust));
		if (q->cust == NULL) {
			free(q);
			return NULL;
		}
	}
	return q;
}

/*
 * Frees the context. Flows still holding state must have been ended first
 * (the flow table's flush does that); NULL is a no-op.
 */
void quality_free(struct quality *q)
{
	if (q == NULL)
		return;
	quality_pool_destroy(&q->tcp_pool);
	quality_pool_destroy(&q->small_pool);
	quality_pool_destroy(&q->udp_pool);
	quality_pool_destroy(&q->dns_pool);
	quality_pool_destroy(&q->rtp_pool);
	free(q->cust);
	free(q);
}

/* Copies the module counters. */
void quality_counters_get(const struct quality *q, struct quality_counters *out)
{
	*out = q->ctr;
}

/*
 * A customer's dirty list holds the UDP/DNS states with interval work
 * (datagrams since the last interval, or DNS queries pending), so that
 * closing an interval costs O(flows with work), not O(live flows).
 */
static void quality_set_dirty(struct quality *q, struct qflow *qf, bool dirty)
{
	struct qcust *c = quality_cust(q, qf);

	if (c != NULL && dirty && !qf->dirty) {
		qf->prev = NULL;
		qf->next = c->dirty;
		if (c->dirty != NULL)
			c->dirty->prev = qf;
		c->dirty = qf;
	} else if (c != NULL && !dirty && qf->dirty) {
		if (qf->prev != NULL)
			qf->prev->next = qf->next;
		else
			c->dirty = qf->next;
		if (qf->next != NULL)
			qf->next->prev = qf->prev;
		qf->prev = qf->next = NULL;
	}
	qf->dirty = dirty;
}

/* Kind of analysis for a flow: TCP, DNS over UDP port 53, other UDP; 0 none. */
static uint8_t quality_kind(const struct flow *f)
{
	if (f->proto == IPPROTO_TCP)
		return QF_TCP;
	if (f->proto != IPPROTO_UDP)
		return 0;
	if (f->sport == 53 || f->dport == 53)
		return QF_DNS;
	return QF_UDP;
}

/*
 * Plain UDP flows are most often a few datagrams each way (DNS-like
 * request/answer, NTP, STUN, QUIC probes, scans), and a direction with two
 * or fewer adds nothing to the UDP summaries (an inter-arrival variation
 * needs three datagrams). So a UDP flow keeps, until a direction's third
 * datagram or one that could be RTP, only arrival times:
 *  - while each direction has had one datagram, no memory at all:
 *    f->quality holds a tag (bit 0 set, never a pointer) with each one's
 *    time as microseconds after f->first_us (FWD: bits 3-33, REV: bits
 *    34-63; bit 1+dir: seen);
 *  - then a struct qudp_small (up to two times per direction).
 * The full state is then built from those times exactly as if it had been
 * kept all along; a datagram counts as part of the current interval when it
 * is not older than the end of the customer's last closed interval.
 */
#define QTAG_BIT      1ULL
#define QTAG_SEEN(d)  (2ULL << (d))
#define QTAG_SHIFT(d) ((d) == FLOW_FWD ? 3 : 34)
#define QTAG_MAX(d)   ((d) == FLOW_FWD ? (1ULL << 31) - 1 : (1ULL << 30) - 1)

static bool quality_is_tag(const struct flow *f)
{
	return ((uintptr_t)f->quality & QTAG_BIT) != 0;
}

/* Records a lone datagram of direction dir in the tag; false if it does not fit. */
static bool quality_tag_add(struct flow *f, int dir, uint64_t ts_us)
{
	uint64_t tag = (uint64_t)(uintptr_t)f->quality | QTAG_BIT;

	if (sizeof(uintptr_t) < 8 || (tag & QTAG_SEEN(dir)) || ts_us < f->first_us ||
	    ts_us - f->first_us > QTAG_MAX(dir))
		return false;
	tag |= QTAG_SEEN(dir) | ((ts_us - f->first_us) << QTAG_SHIFT(dir));
	f->quality = (void *)(uintptr_t)tag;
	return true;
}

/* Moves the datagram times of tag t (0: none) into the fresh small state u. */
static void quality_tag_to_small(uint64_t t, struct qudp_small *u)
{
	int d;

	for (d = FLOW_FWD; d <= FLOW_REV; d++) {
		if (!(t & QTAG_SEEN(d)))
			continue;
		u->dt_us[d][0] = (uint32_t)((t >> QTAG_SHIFT(d)) & QTAG_MAX(d));
		u->n[d] = 1;
	}
}

/* Records a datagram of direction dir in the small state; false if it does not fit. */
static bool quality_small_add(const struct flow *f, struct qudp_small *u, int dir,
    uint64_t ts_us)
{
	if (u->n[dir] >= QUDP_SMALL_MAX || ts_us < f->first_us ||
	    ts_us - f->first_us > UINT32_MAX)
		return false;
	u->dt_us[dir][u->n[dir]++] = (uint32_t)(ts_us - f->first_us);
	return true;
}

/* Full UDP state rebuilt from the datagram times of u. NULL if no memory. */
static struct qflow *quality_udp_full(struct quality *q, const struct flow *f,
    const struct qudp_small *u)
{
	struct qflow *qf = quality_pool_get(&q->udp_pool);
	struct qcust *c;
	unsigned d, i;

	if (qf == NULL)
		return NULL;
	qf->kind = QF_UDP;
	qf->customer = f->customer;
	c = quality_cust(q, qf);
	for (d = FLOW_FWD; d <= FLOW_REV; d++) {
		for (i = 0; i < u->n[d]; i++) {
			uint64_t ts = f->first_us + u->dt_us[d][i];

			quality_udp_restore(qf, (int)d, ts, c == NULL || ts >= c->closed_us);
		}
	}
	return qf;
}

/*
 * A UDP flow's datagram: kept as a time in the tag or small state when it
 * cannot be RTP and fits (returns NULL), else the full state, built now if
 * needed (NULL if no memory).
 */
static struct qflow *quality_udp_state(struct quality *q, struct flow *f,
    const struct pkt *p, int dir)
{
	struct qudp_small tmp, *u = NULL;
	struct qflow *qf;
	bool rtp = quality_rtp_possible(p);

	if (quality_is_tag(f) || f->quality == NULL) {
		if (!rtp && quality_tag_add(f, dir, p->ts_us))
			return NULL;
		memset(&tmp, 0, sizeof(tmp));
		quality_tag_to_small((uint64_t)(uintptr_t)f->quality, &tmp);
		if (!rtp && quality_small_add(f, &tmp, dir, p->ts_us)) {
			u = quality_pool_get(&q->small_pool);
			if (u == NULL) {
				q->ctr.alloc_failed++;
				return NULL;   /* the datagram is lost to QoS, the tag kept */
			}
			*u = tmp;
			u->kind = QF_UDP_SMALL;
			f->quality = u;
			return NULL;
		}
	} else {
		u = f->quality;
		if (!rtp && quality_small_add(f, u, dir, p->ts_us))
			return NULL;
		tmp = *u;
	}
	qf = quality_udp_full(q, f, &tmp);
	if (qf == NULL) {
		q->ctr.alloc_failed++;
		return NULL;
	}
	quality_pool_put(&q->small_pool, u);
	f->quality = qf;
	return qf;
}

/*
 * The flow's state (struct qtcp or struct qflow), allocated on first use;
 * NULL if none is kept (yet) or no memory.
 */
static void *quality_state(struct quality *q, struct flow *f, const struct pkt *p,
    int dir)
{
	struct qflow *qf;
	struct qtcp *t;
	uint8_t kind;

	if (f->quality != NULL && !quality_is_tag(f) &&
	    *(const uint8_t *)f->quality != QF_UDP_SMALL)
		return f->quality;
	kind = quality_kind(f);
	if (kind == QF_UDP)
		return quality_udp_state(q, f, p, dir);
	if (kind == QF_TCP) {
		t = quality_pool_get(&q->tcp_pool);
		if (t == NULL) {
			q->ctr.alloc_failed++;
			return NULL;
		}
		t->kind = QF_TCP;
		f->quality = t;
		return t;
	}
	if (kind != QF_DNS)
		return NULL;
	qf = quality_pool_get(&q->dns_pool);
	if (qf == NULL) {
		q->ctr.alloc_failed++;
		return NULL;
	}
	qf->kind = QF_DNS;
	qf->customer = f->customer;
	f->quality = qf;
	return qf;
}

/* True while a DNS flow has queries waiting for an answer (or a timeout). */
static bool quality_dns_pending(const struct qflow *qf)
{
	unsigned i;

	for (i = 0; i < QUALITY_DNS_PENDING_MAX; i++)
		if (qf->u.dns.ts_us[i] != 0)
			return true;
	return false;
}

/*
 * Feeds one IP packet of flow f in direction dir. Non-first fragments and
 * packets without an L4 header are ignored (no ports, no sequence numbers).
 */
void quality_packet(struct quality *q, struct flow *f, const struct pkt *p, int dir)
{
	struct qflow *qf;
	void *st;

	if (q == NULL || f == NULL || p == NULL || !p->has_l4)
		return;
	if (p->frag && !p->frag_first)
		return;
	if (dir != FLOW_FWD && dir != FLOW_REV)
		return;
	if (f->proto == IPPROTO_UDP && f->sport != 53 && f->dport != 53)
		quality_sdp_packet(q, p);
	st = quality_state(q, f, p, dir);
	if (st == NULL)
		return;
	if (*(const uint8_t *)st == QF_TCP) {
		quality_tcp_packet(q, f, st, p, dir);
		if (p->payload_caplen > 0 && (p->sport == 5060 || p->dport == 5060))
			quality_sdp_packet(q, p);
		return;
	}
	qf = st;
	if (qf->kind == QF_DNS)
		quality_dns_packet(q, f, qf, p, dir);
	else
		quality_rtp_packet(q, f, qf, p, dir);
	if (!qf->dirty)
		quality_set_dirty(q, qf, true);
}

/*
 * Flow f ends: fills rec's quality fields (when rec != NULL) and, unless
 * why == FLOW_END_ACTIVE, adds the flow's unreported interval figures to its
 * customer, reports streams to the observer, and frees f->quality.
 */
void quality_flow_end(struct quality *q, struct flow *f, enum flow_end why,
    struct gw_flow_record *rec)
{
	struct qflow *qf;
	struct qcust *c;
	bool keep = why == FLOW_END_ACTIVE;
	uint8_t kind;

	if (q == NULL || f == NULL || f->quality == NULL)
		return;
	if (quality_is_tag(f)) {
		/* Lone datagrams: nothing for records or summaries; the tag survives an active timeout. */
		if (!keep)
			f->quality = NULL;
		return;
	}
	kind = *(const uint8_t *)f->quality;
	if (kind == QF_UDP_SMALL || kind == QF_TCP) {
		/* TCP: RTT and retransmissions; a few datagrams' times: nothing. */
		if (kind == QF_TCP)
			quality_tcp_record(f, f->quality, rec);
		if (!keep) {
			quality_pool_put(kind == QF_TCP ? &q->tcp_pool : &q->small_pool,
			    f->quality);
			f->quality = NULL;
		}
		return;
	}
	qf = f->quality;
	c = quality_cust(q, qf);
	if (qf->kind == QF_DNS) {
		/*
		 * Idle: nothing came for the idle timeout (longer than the DNS
		 * timeout), so every pending query timed out. Eviction and end of
		 * capture: only those already past the timeout; the fate of the
		 * rest is unknown and they are not counted.
		 */
		if (!keep)
			quality_dns_expire(q, f, qf, f->last_us, why == FLOW_END_IDLE);
	} else {
		if (!keep && c != NULL)
			quality_rtp_collect(q, c, qf);
		quality_rtp_end(q, f, qf, rec, keep);
	}
	if (keep)
		return;
	quality_set_dirty(q, qf, false);
	quality_pool_put(qf->kind == QF_DNS ? &q->dns_pool : &q->udp_pool, qf);
	f->quality = NULL;
}

/* Averages and clamps of a customer's accumulators into the output summaries. */
static void quality_summarise(const struct qcust *c, struct gw_customer_stats *out)
{
	out->rtp = c->rtp;
	out->rtp.packets_lost = c->rtp_lost > 0 ? (uint64_t)c->rtp_lost : 0;
	out->rtp.jitter_ms_avg = c->rtp_jitter_n > 0 ?
	    c->rtp_jitter_sum_ms / c->rtp_jitter_n : 0;
	out->rtp.jitter_ms_max = c->rtp_jitter_max_ms;

	memset(&out->tcp, 0, sizeof(out->tcp));
	out->tcp.handshakes = c->tcp_handshakes;
	if (c->tcp_handshakes > 0) {
		out->tcp.rtt_wan_ms_avg = c->tcp_wan_sum_ms / c->tcp_handshakes;
		out->tcp.rtt_lan_ms_avg = c->tcp_lan_sum_ms / c->tcp_handshakes;
	}
	out->tcp.rtt_ms_p95 = quality_hist_quantile_ms(&c->tcp_rtt, 0.95);
	out->tcp.retransmits = c->tcp_retransmits;
	out->tcp.segments = c->tcp_segments;
	out->tcp.out_of_order = c->tcp_ooo;

	memset(&out->dns, 0, sizeof(out->dns));
	out->dns.queries = c->dns_queries;
	out->dns.responses = c->dns_responses;
	out->dns.failures = c->dns_failures;
	out->dns.timeouts = c->dns_timeouts;
	if (c->dns_lat_n > 0)
		out->dns.latency_ms_avg = c->dns_lat_sum_ms / (double)c->dns_lat_n;
	out->dns.latency_ms_p95 = quality_hist_quantile_ms(&c->dns_lat, 0.95);

	memset(&out->udp, 0, sizeof(out->udp));
	out->udp.streams = c->udp_streams;
	if (c->udp_streams > 0) {
		out->udp.pps_avg = c->udp_pps_sum / c->udp_streams;
		out->udp.iat_var_ms_avg = c->udp_iatv_sum_ms / c->udp_streams;
	}
}

/*
 * Interval end for customer c at packet time now_us: collects the live
 * flows' interval figures, expires DNS queries older than the timeout,
 * writes out->rtp/tcp/dns/udp and resets the customer's accumulators.
 * An unknown c gives zeroed summaries.
 */
void quality_interval(struct quality *q, int c, uint64_t now_us,
    struct gw_customer_stats *out)
{
	struct qcust *acc, fresh;
	struct qflow *qf, *next;

	memset(&out->rtp, 0, sizeof(out->rtp));
	memset(&out->tcp, 0, sizeof(out->tcp));
	memset(&out->dns, 0, sizeof(out->dns));
	memset(&out->udp, 0, sizeof(out->udp));
	if (q == NULL || c < 0 || (size_t)c >= q->n_customers)
		return;
	acc = &q->cust[c];
	for (qf = acc->dirty; qf != NULL; qf = next) {
		next = qf->next;
		if (qf->kind == QF_UDP)
			quality_rtp_collect(q, acc, qf);
		else if (qf->kind == QF_DNS)
			quality_dns_expire(q, NULL, qf, now_us, false);
		if (qf->kind != QF_DNS || !quality_dns_pending(qf))
			quality_set_dirty(q, qf, false);
	}
	quality_summarise(acc, out);
	memset(&fresh, 0, sizeof(fresh));
	fresh.dirty = acc->dirty;
	fresh.closed_us = now_us > acc->closed_us ? now_us : acc->closed_us;
	*acc = fresh;
}
