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

_Static_assert(QUALITY_DNS_PENDING_MAX <= 8, "qdns.rev holds one bit per pending query");

static int qdns_dir(const struct qdns *d, unsigned i)
{
	return (d->rev >> i) & 1 ? FLOW_REV : FLOW_FWD;
}

/* Reports pending query i (answered at resp_us, or timed out) to the observer. */
static void quality_dns_observe(struct quality *q, const struct flow *f,
    const struct qdns *d, unsigned i, uint8_t rcode, uint64_t resp_us, bool timeout)
{
	struct quality_obs o = { 0 };

	if (!quality_observing(q))
		return;
	o.kind = QUALITY_OBS_DNS;
	o.flow = f;
	o.dir = qdns_dir(d, i);
	o.ts_us = d->ts_us[i];
	o.dns_id = d->id[i];
	o.rcode = rcode;
	o.timeout = timeout;
	if (!timeout)
		o.latency_ms = (double)(resp_us - d->ts_us[i]) / 1000.0;
	quality_observe(q, &o);
}

static void quality_dns_query(struct quality *q, struct qflow *qf, uint16_t id,
    const struct pkt *p, int dir)
{
	struct qdns *d = &qf->u.dns;
	struct qcust *c = quality_cust(q, qf);
	unsigned i, slot = QUALITY_DNS_PENDING_MAX;

	if (c != NULL)
		c->dns_queries++;
	for (i = 0; i < QUALITY_DNS_PENDING_MAX; i++) {
		if (d->ts_us[i] != 0 && d->id[i] == id && qdns_dir(d, i) == dir)
			return;   /* retransmitted query: keep the first time */
		if (d->ts_us[i] == 0 && slot == QUALITY_DNS_PENDING_MAX)
			slot = i;
	}
	if (slot == QUALITY_DNS_PENDING_MAX) {
		q->ctr.dns_pending_full++;
		return;
	}
	d->ts_us[slot] = p->ts_us ? p->ts_us : 1;
	d->id[slot] = id;
	if (dir == FLOW_REV)
		d->rev |= (uint8_t)(1u << slot);
	else
		d->rev &= (uint8_t)~(1u << slot);
}

static void quality_dns_response(struct quality *q, const struct flow *f,
    struct qflow *qf, uint16_t id, uint8_t rcode, const struct pkt *p, int dir)
{
	struct qdns *d = &qf->u.dns;
	struct qcust *c = quality_cust(q, qf);
	uint64_t lat_us;
	unsigned i;

	if (c != NULL) {
		c->dns_responses++;
		if (rcode != 0)
			c->dns_failures++;
	}
	for (i = 0; i < QUALITY_DNS_PENDING_MAX; i++)
		if (d->ts_us[i] != 0 && d->id[i] == id && qdns_dir(d, i) != dir)
			break;
	if (i == QUALITY_DNS_PENDING_MAX) {
		q->ctr.dns_unmatched++;
		return;
	}
	lat_us = p->ts_us >= d->ts_us[i] ? p->ts_us - d->ts_us[i] : 0;
	if (lat_us > QUALITY_DNS_TIMEOUT_US) {
		/* answered too late: it was a timeout, whenever we notice it */
		if (c != NULL)
			c->dns_timeouts++;
		quality_dns_observe(q, f, d, i, rcode, p->ts_us, true);
	} else {
		if (c != NULL) {
			c->dns_lat_sum_ms += (double)lat_us / 1000.0;
			c->dns_lat_n++;
			quality_hist_add(&c->dns_lat, lat_us);
		}
		quality_dns_observe(q, f, d, i, rcode, p->ts_us, false);
	}
	d->ts_us[i] = 0;
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
		uint64_t ts = d->ts_us[i];

		if (ts == 0)
			continue;
		if (!force && (now_us < ts || now_us - ts <= QUALITY_DNS_TIMEOUT_US))
			continue;
		if (c != NULL)
			c->dns_timeouts++;
		quality_dns_observe(q, f, d, i, 0, now_us, true);
		d->ts_us[i] = 0;
	}
}
