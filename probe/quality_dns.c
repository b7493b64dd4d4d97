/*
 * quality_dns.c: DNS over UDP port 53: query -> response latency matched by
 * transaction id within the flow (as tshark's dns.time), failures (any
 * RCODE other than NOERROR: FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED...)
 * and timeouts (no response within 5 s). A retransmitted query (same id
 * while pending) keeps the first query's time. At most 8 pending queries per
 * flow; more are counted (dns_pending_full) and not timed.
 */
#include "quality_int.h"

#define QDNS_HDR_LEN 12

static void quality_dns_observe(struct quality *q, const struct flow *f,
    const struct qdns_pending *pq, uint8_t rcode, uint64_t resp_us, bool timeout)
{
	struct quality_obs o = { 0 };

	if (q->obs == NULL)
		return;
	o.kind = QUALITY_OBS_DNS;
	o.flow = f;
	o.dir = pq->dir;
	o.ts_us = pq->ts_us;
	o.dns_id = pq->id;
	o.rcode = rcode;
	o.timeout = timeout;
	if (!timeout)
		o.latency_ms = (double)(resp_us - pq->ts_us) / 1000.0;
	q->obs(&o, q->obs_ctx);
}

static void quality_dns_query(struct quality *q, struct qflow *qf, uint16_t id,
    const struct pkt *p, int dir)
{
	struct qdns *d = &qf->u.dns;
	struct qcust *c = quality_cust(q, qf);
	struct qdns_pending *slot = NULL;
	unsigned i;

	if (c != NULL)
		c->dns_queries++;
	for (i = 0; i < QUALITY_DNS_PENDING_MAX; i++) {
		if (d->p[i].ts_us != 0 && d->p[i].id == id && d->p[i].dir == dir)
			return;   /* retransmitted query: keep the first time */
		if (d->p[i].ts_us == 0 && slot == NULL)
			slot = &d->p[i];
	}
	if (slot == NULL) {
		q->ctr.dns_pending_full++;
		return;
	}
	slot->ts_us = p->ts_us ? p->ts_us : 1;
	slot->id = id;
	slot->dir = (uint8_t)dir;
}

static void quality_dns_response(struct quality *q, const struct flow *f,
    struct qflow *qf, uint16_t id, uint8_t rcode, const struct pkt *p, int dir)
{
	struct qdns *d = &qf->u.dns;
	struct qcust *c = quality_cust(q, qf);
	struct qdns_pending *pq = NULL;
	uint64_t lat_us;
	unsigned i;

	if (c != NULL) {
		c->dns_responses++;
		if (rcode != 0)
			c->dns_failures++;
	}
	for (i = 0; i < QUALITY_DNS_PENDING_MAX; i++) {
		if (d->p[i].ts_us != 0 && d->p[i].id == id && d->p[i].dir != dir) {
			pq = &d->p[i];
			break;
		}
	}
	if (pq == NULL) {
		q->ctr.dns_unmatched++;
		return;
	}
	lat_us = p->ts_us >= pq->ts_us ? p->ts_us - pq->ts_us : 0;
	if (lat_us > QUALITY_DNS_TIMEOUT_US) {
		/* answered too late: it was a timeout, whenever we notice it */
		if (c != NULL)
			c->dns_timeouts++;
		quality_dns_observe(q, f, pq, rcode, p->ts_us, true);
	} else {
		if (c != NULL) {
			c->dns_lat_sum_ms += (double)lat_us / 1000.0;
			c->dns_lat_n++;
			quality_hist_add(&c->dns_lat, lat_us);
		}
		quality_dns_observe(q, f, pq, rcode, p->ts_us, false);
	}
	pq->ts_us = 0;
}

/*
 * One UDP datagram of a port-53 flow. A query goes to port 53 with QR=0, a
 * response comes from port 53 with QR=1; anything else (or shorter than the
 * 12-byte header) is ignored.
 */
void quality_dns_packet(struct quality *q, struct flow *f, struct qflow *qf,
    const struct pkt *p, int dir)
{
	const uint8_t *b = p->payload;
	uint16_t id;
	bool qr;

	if (b == NULL || p->payload_caplen < QDNS_HDR_LEN)
		return;
	id = (uint16_t)(b[0] << 8 | b[1]);
	qr = (b[2] & 0x80) != 0;
	quality_dns_expire(q, f, qf, p->ts_us, false);
	if (!qr && p->dport == 53)
		quality_dns_query(q, qf, id, p, dir);
	else if (qr && p->sport == 53)
		quality_dns_response(q, f, qf, id, b[3] & 0x0f, p, dir);
}

/*
 * Counts pending queries older than the timeout at now_us (every pending one
 * when force, e.g. when the flow ends) as timeouts and forgets them. f may be
 * NULL (interval end): the observer then gets no flow.
 */
void quality_dns_expire(struct quality *q, struct flow *f, struct qflow *qf,
    uint64_t now_us, bool force)
{
	struct qdns *d = &qf->u.dns;
	struct qcust *c = quality_cust(q, qf);
	unsigned i;

	for (i = 0; i < QUALITY_DNS_PENDING_MAX; i++) {
		struct qdns_pending *pq = &d->p[i];

		if (pq->ts_us == 0)
			continue;
		if (!force && (now_us < pq->ts_us ||
		    now_us - pq->ts_us <= QUALITY_DNS_TIMEOUT_US))
			continue;
		if (c != NULL)
			c->dns_timeouts++;
		quality_dns_observe(q, f, pq, 0, now_us, true);
		pq->ts_us = 0;
	}
}
