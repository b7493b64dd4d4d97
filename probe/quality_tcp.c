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

/* Handshake legs (ms) of a done handshake: SYN -> SYN-ACK, SYN-ACK -> ACK. */
static void quality_tcp_legs(const struct qtcp *t, double *first, double *second)
{
	*first = (double)t->hs.legs.first_us / 1000.0;
	*second = (double)t->hs.legs.second_us / 1000.0;
}

/* WAN and LAN legs of a done handshake (ms), as seen at the gateway. */
static void quality_tcp_rtt(const struct flow *f, const struct qtcp *t,
    double *wan_ms, double *lan_ms)
{
	/* Is the SYN sender on the customer's side of the gateway? */
	bool syn_from_customer = (t->syn_dir == FLOW_FWD) == f->init_is_customer;
	double first, second;

	quality_tcp_legs(t, &first, &second);
	*wan_ms = syn_from_customer ? first : second;
	*lan_ms = syn_from_customer ? second : first;
}

static void quality_tcp_observe(struct quality *q, struct flow *f,
    const struct qtcp *t, uint64_t ack_us)
{
	struct quality_obs o = { 0 };

	if (!quality_observing(q))
		return;
	o.kind = QUALITY_OBS_HANDSHAKE;
	o.flow = f;
	o.dir = t->syn_dir;
	o.ts_us = ack_us;
	quality_tcp_legs(t, &o.syn_synack_ms, &o.synack_ack_ms);
	quality_tcp_rtt(f, t, &o.rtt_wan_ms, &o.rtt_lan_ms);
	quality_observe(q, &o);
}

/* The handshake's ACK arrived at ack_us: split the RTT and account it. */
static void quality_tcp_handshake_done(struct quality *q, struct flow *f,
    struct qtcp *t, uint64_t ack_us)
{
	struct qcust *c = quality_cust_of(q, f->customer);
	uint64_t syn_us = t->hs.at.syn_us, synack_us = t->hs.at.synack_us;
	double wan_ms, lan_ms;

	t->hs_state = QTCP_HS_DONE;
	/* from now on only the legs are needed */
	t->hs.legs.first_us = synack_us - syn_us;
	t->hs.legs.second_us = ack_us - synack_us;
	if (c != NULL) {
		quality_tcp_rtt(f, t, &wan_ms, &lan_ms);
		c->tcp_handshakes++;
		c->tcp_wan_sum_ms += wan_ms;
		c->tcp_lan_sum_ms += lan_ms;
		quality_hist_add(&c->tcp_rtt, ack_us - syn_us);
	}
	quality_tcp_observe(q, f, t, ack_us);
}

/* Handshake state machine: SYN, SYN-ACK acking it, ACK acking the SYN-ACK. */
static void quality_tcp_handshake(struct quality *q, struct flow *f,
    struct qtcp *t, const struct pkt *p, int dir)
{
	uint8_t fl = p->tcp_flags;

	if ((fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN) {
		if (t->hs_state == QTCP_HS_NONE || t->hs_state == QTCP_HS_SYN) {
			/* most recent SYN, as tshark's initial_rtt uses it */
			t->hs.at.syn_us = p->ts_us;
			t->hs_seq = p->tcp_seq;
			t->syn_dir = (uint8_t)dir;
			t->hs_state = QTCP_HS_SYN;
		}
		return;
	}
	if ((fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == (TCPF_SYN | TCPF_ACK)) {
		if (t->hs_state == QTCP_HS_SYN && dir != t->syn_dir &&
		    p->tcp_ack == t->hs_seq + 1) {
			t->hs.at.synack_us = p->ts_us;
			t->hs_seq = p->tcp_seq;
			t->hs_state = QTCP_HS_SYNACK;
		}
		return;
	}
	if (t->hs_state == QTCP_HS_SYNACK && dir == t->syn_dir &&
	    (fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_ACK &&
	    p->tcp_ack == t->hs_seq + 1)
		quality_tcp_handshake_done(q, f, t, p->ts_us);
}

/*
 * Out-of-order window (us): the handshake RTT (SYN -> ACK at the gateway),
 * computed as the sum of the two legs in ms like tshark's initial_rtt.
 */
static uint64_t quality_tcp_ooo_us(const struct qtcp *t)
{
	double first, second;

	if (t->hs_state != QTCP_HS_DONE)
		return QTCP_OOO_DEFAULT_US;
	quality_tcp_legs(t, &first, &second);
	return (uint64_t)((first + second) * 1000.0);
}

/* Retransmission / out-of-order classification of one segment. */
static void quality_tcp_sequence(struct quality *q, const struct flow *f,
    struct qtcp *t, const struct pkt *p, int dir)
{
	struct qcust *c = quality_cust_of(q, f->customer);
	bool have_seq = (t->flags & QTCP_HAVE_SEQ(dir)) != 0;
	uint8_t fl = p->tcp_flags;
	uint32_t len = p->payload_len + ((fl & TCPF_SYN) ? 1 : 0) +
	    ((fl & TCPF_FIN) ? 1 : 0);
	uint32_t end = p->tcp_seq + len, next = t->next_seq[dir];

	if (p->payload_len > 0 && c != NULL)
		c->tcp_segments++;
	if (len > 0 && have_seq && (fl & TCPF_RST) == 0) {
		bool keepalive = p->payload_len <= 1 && (fl & (TCPF_SYN | TCPF_FIN)) == 0 &&
		    p->tcp_seq == next - 1;
		bool stale = qtcp_lt(p->tcp_seq, next);

		if (p->payload_len > 1 && p->tcp_seq == next - 1)
			stale = false;   /* after a zero-window probe: new data */
		if (stale && !keepalive) {
			if (p->ts_us - t->next_seq_us[dir] < quality_tcp_ooo_us(t) &&
			    end != next) {
				if (c != NULL)
					c->tcp_ooo++;
			} else {
				t->retransmits++;
				if (c != NULL)
					c->tcp_retransmits++;
			}
		}
	}
	if ((fl & TCPF_RST) == 0 && (!have_seq || qtcp_lt(next, end))) {
		t->next_seq[dir] = end;
		t->next_seq_us[dir] = p->ts_us;
		t->flags |= QTCP_HAVE_SEQ(dir);
	}
}

/* One TCP segment of the flow. */
void quality_tcp_packet(struct quality *q, struct flow *f, struct qtcp *t,
    const struct pkt *p, int dir)
{
	if (t->hs_state != QTCP_HS_DONE)
		quality_tcp_handshake(q, f, t, p, dir);
	quality_tcp_sequence(q, f, t, p, dir);
}

/* Fills rec with the handshake RTT (first record only) and new retransmits. */
void quality_tcp_record(const struct flow *f, struct qtcp *t,
    struct gw_flow_record *rec)
{
	if (rec == NULL)
		return;
	if (t->hs_state == QTCP_HS_DONE && !(t->flags & QTCP_HS_REPORTED)) {
		quality_tcp_rtt(f, t, &rec->rtt_wan_ms, &rec->rtt_lan_ms);
		t->flags |= QTCP_HS_REPORTED;
	}
	rec->retransmits = t->retransmits;
	t->retransmits = 0;
}
