/*
 * quality_tcp.c: TCP handshake RTT split at the gateway, retransmissions and
 * out-of-order segments.
 *
 * The probe sits at the gateway between the customer's LAN and the WAN. For
 * a connection the customer opens, SYN -> SYN-ACK is the time the SYN takes
 * to the server and back (WAN leg) and SYN-ACK -> ACK the time to the
 * customer's host and back (LAN leg). For a connection opened from the WAN
 * side toward the customer the legs swap: SYN -> SYN-ACK is the LAN leg and
 * SYN-ACK -> ACK the WAN leg. Their sum is tshark's tcp.analysis.initial_rtt
 * (time from the most recent SYN to the handshake's ACK).
 *
 * Retransmission/out-of-order follow tshark's tcp analysis: a segment that
 * carries data (or SYN/FIN) and does not advance the highest sequence number
 * seen in its direction is out-of-order when it comes within the handshake
 * RTT (3 ms when unknown) of the segment that advanced it and does not end
 * exactly there; otherwise it is a retransmission. Keep-alives (0/1 byte at
 * next_seq - 1) are neither.
 */
#include "quality_int.h"

enum { QTCP_HS_NONE = 0, QTCP_HS_SYN, QTCP_HS_SYNACK, QTCP_HS_DONE };

#define QTCP_OOO_DEFAULT_US 3000

/* Sequence comparison modulo 2^32 (RFC 1982 style). */
static bool qtcp_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static void quality_tcp_observe(struct quality *q, struct flow *f,
    const struct qtcp *t, uint64_t ack_us)
{
	struct quality_obs o = { 0 };

	if (q->obs == NULL)
		return;
	o.kind = QUALITY_OBS_HANDSHAKE;
	o.flow = f;
	o.dir = t->syn_dir;
	o.ts_us = ack_us;
	o.syn_synack_ms = (double)(t->synack_us - t->syn_us) / 1000.0;
	o.synack_ack_ms = (double)(ack_us - t->synack_us) / 1000.0;
	o.rtt_wan_ms = t->rtt_wan_ms;
	o.rtt_lan_ms = t->rtt_lan_ms;
	q->obs(&o, q->obs_ctx);
}

/* The handshake's ACK arrived at ack_us: split the RTT and account it. */
static void quality_tcp_handshake_done(struct quality *q, struct flow *f,
    struct qflow *qf, uint64_t ack_us)
{
	struct qtcp *t = &qf->u.tcp;
	struct qcust *c = quality_cust(q, qf);
	double first = (double)(t->synack_us - t->syn_us) / 1000.0;
	double second = (double)(ack_us - t->synack_us) / 1000.0;
	/* Is the SYN sender on the customer's side of the gateway? */
	bool syn_from_customer = (t->syn_dir == FLOW_FWD) == f->init_is_customer;

	t->hs_state = QTCP_HS_DONE;
	t->rtt_wan_ms = syn_from_customer ? first : second;
	t->rtt_lan_ms = syn_from_customer ? second : first;
	t->rtt_total_ms = first + second;
	if (c != NULL) {
		c->tcp_handshakes++;
		c->tcp_wan_sum_ms += t->rtt_wan_ms;
		c->tcp_lan_sum_ms += t->rtt_lan_ms;
		quality_hist_add(&c->tcp_rtt, ack_us - t->syn_us);
	}
	quality_tcp_observe(q, f, t, ack_us);
}

/* Handshake state machine: SYN, SYN-ACK acking it, ACK acking the SYN-ACK. */
static void quality_tcp_handshake(struct quality *q, struct flow *f,
    struct qflow *qf, const struct pkt *p, int dir)
{
	struct qtcp *t = &qf->u.tcp;
	uint8_t fl = p->tcp_flags;

	if ((fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN) {
		if (t->hs_state == QTCP_HS_NONE || t->hs_state == QTCP_HS_SYN) {
			/* most recent SYN, as tshark's initial_rtt uses it */
			t->syn_us = p->ts_us;
			t->syn_seq = p->tcp_seq;
			t->syn_dir = (uint8_t)dir;
			t->hs_state = QTCP_HS_SYN;
		}
		return;
	}
	if ((fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == (TCPF_SYN | TCPF_ACK)) {
		if (t->hs_state == QTCP_HS_SYN && dir != t->syn_dir &&
		    p->tcp_ack == t->syn_seq + 1) {
			t->synack_us = p->ts_us;
			t->synack_seq = p->tcp_seq;
			t->hs_state = QTCP_HS_SYNACK;
		}
		return;
	}
	if (t->hs_state == QTCP_HS_SYNACK && dir == t->syn_dir &&
	    (fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_ACK &&
	    p->tcp_ack == t->synack_seq + 1)
		quality_tcp_handshake_done(q, f, qf, p->ts_us);
}

/* Retransmission / out-of-order classification of one segment. */
static void quality_tcp_sequence(struct quality *q, struct qflow *qf,
    const struct pkt *p, int dir)
{
	struct qtcp *t = &qf->u.tcp;
	struct qtcp_dir *d = &t->d[dir];
	struct qcust *c = quality_cust(q, qf);
	uint8_t fl = p->tcp_flags;
	uint32_t len = p->payload_len + ((fl & TCPF_SYN) ? 1 : 0) +
	    ((fl & TCPF_FIN) ? 1 : 0);
	uint32_t end = p->tcp_seq + len;
	uint64_t ooo_us;

	if (p->payload_len > 0) {
		t->segments++;
		if (c != NULL)
			c->tcp_segments++;
	}
	if (len > 0 && d->have_seq && (fl & TCPF_RST) == 0) {
		bool keepalive = p->payload_len <= 1 && (fl & (TCPF_SYN | TCPF_FIN)) == 0 &&
		    p->tcp_seq == d->next_seq - 1;
		bool stale = qtcp_lt(p->tcp_seq, d->next_seq);

		if (p->payload_len > 1 && p->tcp_seq == d->next_seq - 1)
			stale = false;   /* after a zero-window probe: new data */
		if (stale && !keepalive) {
			ooo_us = t->hs_state == QTCP_HS_DONE ?
			    (uint64_t)(t->rtt_total_ms * 1000.0) : QTCP_OOO_DEFAULT_US;
			if (p->ts_us - d->next_seq_us < ooo_us && end != d->next_seq) {
				t->ooo++;
				if (c != NULL)
					c->tcp_ooo++;
			} else {
				t->retransmits++;
				if (c != NULL)
					c->tcp_retransmits++;
			}
		}
	}
	if ((fl & TCPF_RST) == 0 && (!d->have_seq || qtcp_lt(d->next_seq, end))) {
		d->next_seq = end;
		d->next_seq_us = p->ts_us;
		d->have_seq = true;
	}
}

/* One TCP segment of the flow. */
void quality_tcp_packet(struct quality *q, struct flow *f, struct qflow *qf,
    const struct pkt *p, int dir)
{
	if (qf->u.tcp.hs_state != QTCP_HS_DONE)
		quality_tcp_handshake(q, f, qf, p, dir);
	quality_tcp_sequence(q, qf, p, dir);
}

/* Fills rec with the handshake RTT (first record only) and new retransmits. */
void quality_tcp_record(struct qflow *qf, struct gw_flow_record *rec)
{
	struct qtcp *t = &qf->u.tcp;

	if (rec == NULL)
		return;
	if (t->hs_state == QTCP_HS_DONE && !t->hs_reported) {
		rec->rtt_wan_ms = t->rtt_wan_ms;
		rec->rtt_lan_ms = t->rtt_lan_ms;
		t->hs_reported = true;
	}
	rec->retransmits = t->retransmits - t->rec_retransmits;
	t->rec_retransmits = t->retransmits;
}
