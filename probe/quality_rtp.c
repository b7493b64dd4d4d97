/*
 * quality_rtp.c: RTP streams inside UDP flows, and inter-arrival variation
 * of UDP flows that are not RTP.
 *
 * Recognition (header heuristics, any ports): version 2, payload type not
 * 72-76 (RTCP's 200-204 with the marker bit), CSRC list and header
 * extension inside the datagram. A (direction, SSRC) becomes a stream once
 * two consecutive packets carry sequential sequence numbers and the same
 * payload type (RFC 3550 probation, MIN_SEQUENTIAL = 2); its statistics
 * count from the first packet, as tshark's do.
 *
 * Jitter: RFC 3550 6.4.1 estimator J += (|D| - J) / 16 in milliseconds, D =
 * arrival difference minus RTP timestamp difference / clock rate between
 * consecutive arrivals (reordered ones included, as in RFC 3550 and tshark).
 * A |D| over 3 s is a timestamp discontinuity (the sender restarted its
 * clock): no jitter sample is taken, where tshark would carry a
 * seconds-large estimate for the rest of the stream.
 * Clock rates: the static payload types of RFC 3551 (tshark's table), SDP
 * a=rtpmap for dynamic ones; a payload type with no known rate (dynamic
 * without SDP, telephone-event) gets no jitter update, like tshark.
 *
 * Loss: RFC 3550 A.1: extended highest sequence number with 16-bit
 * wrap-around, expected = highest - base + 1, lost = expected - unique
 * packets received. A 64-packet window below the highest number tells
 * duplicates (not counted as received) from late packets (counted). Jumps of
 * 3000 or more are taken as a restart after two sequential packets.
 *
 * Memory: sizeof(struct qrtp_stream) (about 200 bytes, from a pool) per
 * SSRC, at most QUALITY_RTP_STREAMS_MAX per flow, freed with the flow.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quality_int.h"

#define QRTP_HDR_LEN      12
#define QRTP_MAX_DROPOUT  3000
#define QRTP_MAX_MISORDER 100
#define QRTP_SEQ_MOD      65536u
#define QRTP_PT_CN        13
#define QRTP_PT_CN_OLD    19
#define QRTP_TS_JUMP_MS   3000.0  /* |D| above this: a timestamp discontinuity */

struct qrtp_hdr {
	uint8_t  pt;
	bool     marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
};

/* Parses an RTP header from a UDP payload; false if it cannot be RTP. */
static bool quality_rtp_parse(const struct pkt *p, struct qrtp_hdr *h)
{
	const uint8_t *b = p->payload;
	uint32_t hdr, len = p->payload_len;

	if (b == NULL || p->payload_caplen < QRTP_HDR_LEN || len < QRTP_HDR_LEN)
		return false;
	if ((b[0] >> 6) != 2)
		return false;
	h->pt = b[1] & 0x7f;
	if (h->pt >= 72 && h->pt <= 76)
		return false;   /* RTCP SR/RR/SDES/BYE/APP */
	h->marker = (b[1] & 0x80) != 0;
	hdr = QRTP_HDR_LEN + 4u * (b[0] & 0x0f);
	if (hdr > len)
		return false;
	if (b[0] & 0x10) {   /* header extension: 16-bit profile, 16-bit length in words */
		if (p->payload_caplen < hdr + 4 || hdr + 4 > len)
			return false;
		hdr += 4 + 4u * (uint32_t)(b[hdr + 2] << 8 | b[hdr + 3]);
		if (hdr > len)
			return false;
	}
	if ((b[0] & 0x20) && p->payload_caplen == len && len > 0 &&
	    (b[len - 1] == 0 || hdr + b[len - 1] > len))
		return false;   /* padding count does not fit */
	h->seq = (uint16_t)(b[2] << 8 | b[3]);
	h->ts = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	h->ssrc = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
	return true;
}

/* RFC 3551 static payload type clock rates (the table tshark uses); 0 unknown. */
static uint32_t quality_rtp_static_rate(uint8_t pt)
{
	switch (pt) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 7: case 8: case 9:
	case 12: case 13: case 15: case 18: case 19:
		return 8000;
	case 6:
		return 16000;
	case 10: case 11:
		return 44100;
	case 16:
		return 11025;
	case 17:
		return 22050;
	case 14: case 25: case 26: case 28: case 31: case 32: case 33: case 34:
		return 90000;
	default:
		return 0;
	}
}

/* Clock rate of the packet's payload type for stream s; 0 unknown. */
static uint32_t quality_rtp_rate(const struct quality *q, struct qrtp_stream *s,
    const struct pkt *p, uint8_t pt)
{
	bool found;
	uint32_t r;

	if (pt < 96)
		return quality_rtp_static_rate(pt);
	if (s->cached_pt == pt && s->cached_gen == q->sdp_gen)
		return s->cached_rate;
	r = quality_sdp_rate(q, &p->dst, p->dport, pt, &found);
	if (!found)
		r = quality_sdp_rate(q, &p->src, p->sport, pt, &found);
	s->cached_pt = pt;
	s->cached_rate = r;
	s->cached_gen = q->sdp_gen;
	return r;
}

static uint64_t quality_rtp_expected(const struct qrtp_stream *s)
{
	return (uint64_t)s->cycles + s->max_seq - s->base_seq + 1 + s->carry_expected;
}

static int64_t quality_rtp_lost(const struct qrtp_stream *s)
{
	return (int64_t)quality_rtp_expected(s) -
	    (int64_t)((uint64_t)s->received + s->carry_received);
}

/* (Re)starts the stream at packet h: every statistic counts from here. */
static void quality_rtp_start(struct qrtp_stream *s, const struct qrtp_hdr *h,
    const struct pkt *p, int dir)
{
	memset(s, 0, sizeof(*s));
	s->ssrc = h->ssrc;
	s->dir = (uint8_t)dir;
	s->pt = s->prev_pt = h->pt;
	s->max_seq = h->seq;
	s->cycles = QRTP_SEQ_MOD;   /* one spare cycle: late packets before base stay >= 0 */
	s->base_seq = s->cycles + h->seq;
	s->bad_seq = QRTP_SEQ_MOD + 1;
	s->window = 1;
	s->received = 1;
	s->packets = 1;
	s->last_ext_ts = s->ref_ts = h->ts;
	s->ref_us = p->ts_us;
	s->jref_ts = s->ref_ts;
	s->first_us = s->last_us = p->ts_us;
	s->iv_packets = 1;
	s->iv_first_us = p->ts_us;
	s->cached_pt = 0xff;
}

/* A late (reordered or duplicate) packet back positions below max_seq. */
static void quality_rtp_late(struct qrtp_stream *s, uint16_t back)
{
	uint64_t ext = (uint64_t)s->cycles + s->max_seq - back;

	if (back < 64) {
		if (s->window & (1ULL << back)) {
			s->duplicates++;
			return;
		}
		s->window |= 1ULL << back;
	}
	if (ext < s->base_seq)
		s->base_seq = (uint32_t)ext;   /* the stream really began earlier */
	s->received++;
	s->reordered++;
}

/* RFC 3550 A.1 sequence bookkeeping, duplicates excluded from received. */
static void quality_rtp_seq(struct qrtp_stream *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	if (udelta == 0) {
		s->duplicates++;
	} else if (udelta < QRTP_MAX_DROPOUT) {
		if (seq < s->max_seq)
			s->cycles += QRTP_SEQ_MOD;
		s->window = udelta >= 64 ? 1 : (s->window << udelta) | 1;
		s->max_seq = seq;
		s->received++;
		s->bad_seq = QRTP_SEQ_MOD + 1;
	} else if (udelta <= QRTP_SEQ_MOD - QRTP_MAX_MISORDER) {
		if (seq != s->bad_seq) {
			s->bad_seq = (seq + 1) & 0xffff;   /* wait for a second one */
			return;
		}
		/* two sequential packets after a big jump: the source restarted */
		s->carry_expected += (uint32_t)(quality_rtp_expected(s) - s->carry_expected);
		s->carry_received += s->received;
		s->cycles = QRTP_SEQ_MOD;
		s->max_seq = seq;
		s->base_seq = s->cycles + seq - 1;
		s->window = 3;
		s->received = 2;
		s->bad_seq = QRTP_SEQ_MOD + 1;
	} else {
		quality_rtp_late(s, (uint16_t)(s->max_seq - seq));
	}
}

/*
 * Jitter update for one arrival. D compares the arrival gap to the previous
 * packet with the timestamp gap to the previous packet that had a known
 * clock rate (tshark 4.0 does exactly this; packets of unknown rate still
 * move the arrival reference). Max and mean follow tshark's "regular"
 * packets: not the first, no marker, not comfort noise or right after it,
 * timestamp not behind the highest in-order one.
 */
static void quality_rtp_jitter(const struct quality *q, struct qrtp_stream *s,
    const struct qrtp_hdr *h, const struct pkt *p)
{
	int64_t ext = s->last_ext_ts + (int32_t)(h->ts - (uint32_t)s->last_ext_ts);
	bool in_order = ext >= s->ref_ts;
	uint32_t rate = quality_rtp_rate(q, s, p, h->pt);
	bool regular = !h->marker && in_order && h->pt != QRTP_PT_CN &&
	    h->pt != QRTP_PT_CN_OLD && s->pt != QRTP_PT_CN && s->pt != QRTP_PT_CN_OLD;

	if (rate != 0) {
		double d_ms = (double)(int64_t)(p->ts_us - s->ref_us) / 1000.0 -
		    (double)(ext - s->jref_ts) * 1000.0 / rate;

		if (fabs(d_ms) > QRTP_TS_JUMP_MS) {
			/* sender restarted its timestamps: no jitter sample */
			s->ts_jumps++;
			regular = false;
		} else {
			s->jitter_ms += (fabs(d_ms) - s->jitter_ms) / 16.0;
		}
		s->jref_ts = ext;
		s->clock_rate = rate;
		s->jitter_valid = true;
		if (regular) {
			if (s->jitter_ms > s->jitter_max_ms)
				s->jitter_max_ms = s->jitter_ms;
			if (s->jitter_ms > s->iv_jitter_max_ms)
				s->iv_jitter_max_ms = s->jitter_ms;
			/* tshark's running mean: n = packets before this one */
			s->jitter_mean_ms = (s->jitter_mean_ms * (s->packets - 1) +
			    s->jitter_ms) / s->packets;
		}
	}
	if (in_order)
		s->ref_ts = ext;
	s->ref_us = p->ts_us;
	s->last_ext_ts = ext;
	s->prev_pt = s->pt;
	s->pt = h->pt;
}

/* The flow's stream for (dir, ssrc), a new one, or NULL when all slots hold streams. */
static struct qrtp_stream *quality_rtp_find(struct quality *q, struct qudp *u,
    uint32_t ssrc, int dir, bool *is_new)
{
	struct qrtp_stream *victim = NULL;
	unsigned i, free_i = QUALITY_RTP_STREAMS_MAX;

	*is_new = false;
	for (i = 0; i < QUALITY_RTP_STREAMS_MAX; i++) {
		struct qrtp_stream *s = u->rtp[i];

		if (s == NULL) {
			if (free_i == QUALITY_RTP_STREAMS_MAX)
				free_i = i;
		} else if (s->ssrc == ssrc && s->dir == dir) {
			return s;
		} else if (!s->confirmed && (victim == NULL || s->last_us < victim->last_us)) {
			victim = s;
		}
	}
	*is_new = true;
	if (free_i == QUALITY_RTP_STREAMS_MAX) {
		if (victim != NULL)
			return victim;   /* the stalest unconfirmed candidate gives way */
		q->ctr.rtp_streams_full++;
		return NULL;
	}
	u->rtp[free_i] = quality_pool_get(&q->rtp_pool);
	if (u->rtp[free_i] == NULL)
		q->ctr.alloc_failed++;
	return u->rtp[free_i];
}

/* Inter-arrival bookkeeping of every UDP datagram (used when the flow is not RTP). */
static void quality_udp_arrival(struct qudp_dir *d, uint64_t ts_us)
{
	if (d->packets > 0 && ts_us >= d->last_us) {
		uint64_t iat = ts_us - d->last_us;

		if (d->packets > 1) {
			d->iv_sum_us += iat > d->last_iat_us ? iat - d->last_iat_us :
			    d->last_iat_us - iat;
			d->iv_n++;
		}
		d->last_iat_us = iat;
	}
	if (d->iv_packets == 0)
		d->iv_first_us = ts_us;
	d->iv_packets++;
	d->iv_last_us = ts_us;
	d->last_us = ts_us;
	d->packets++;
}

/* See quality_int.h. */
bool quality_rtp_possible(const struct pkt *p)
{
	struct qrtp_hdr h;

	return quality_rtp_parse(p, &h);
}

/*
 * See quality_int.h. An interval closed since the datagram collected the
 * flow then (quality_udp_collect_dir): with at most two datagrams in the
 * direction that added nothing and zeroed the interval figures.
 */
void quality_udp_restore(struct qflow *qf, int dir, uint64_t ts_us, bool in_interval)
{
	struct qudp_dir *d = &qf->u.udp.d[dir];

	quality_udp_arrival(d, ts_us);
	if (!in_interval) {
		d->iv_n = 0;
		d->iv_sum_us = 0;
		d->iv_packets = 0;
	}
}

/* One UDP datagram of a non-DNS flow. */
void quality_rtp_packet(struct quality *q, struct flow *f, struct qflow *qf,
    const struct pkt *p, int dir)
{
	struct qudp *u = &qf->u.udp;
	struct qrtp_stream *s;
	struct qrtp_hdr h;
	bool is_new;

	(void)f;
	quality_udp_arrival(&u->d[dir], p->ts_us);
	if (!quality_rtp_parse(p, &h))
		return;
	s = quality_rtp_find(q, u, h.ssrc, dir, &is_new);
	if (s == NULL)
		return;
	if (is_new) {
		quality_rtp_start(s, &h, p, dir);
		(void)quality_rtp_rate(q, s, p, h.pt);
		s->clock_rate = s->cached_rate;
		return;
	}
	if (!s->confirmed) {
		if (h.pt != s->pt || (h.seq != (uint16_t)(s->max_seq + 1) &&
		    h.seq != s->max_seq)) {
			quality_rtp_start(s, &h, p, dir);   /* not sequential: start over */
			return;
		}
		/* a duplicate of the first packet counts but does not confirm */
		s->confirmed = h.seq != s->max_seq;
	}
	quality_rtp_seq(s, h.seq);
	quality_rtp_jitter(q, s, &h, p);   /* uses packets before this one */
	s->packets++;
	s->last_us = p->ts_us;
	if (s->iv_packets == 0)
		s->iv_first_us = p->ts_us;
	s->iv_packets++;
}

/* Adds one confirmed stream's interval figures to acc and restarts its interval. */
static void quality_rtp_collect_stream(struct qcust *acc, struct qrtp_stream *s)
{
	uint64_t exp = quality_rtp_expected(s);
	int64_t lost = quality_rtp_lost(s);

	acc->rtp.streams++;
	acc->rtp.packets_expected += exp - s->iv_expected0;
	acc->rtp_lost += lost - s->iv_lost0;
	acc->rtp.packets += s->iv_packets;
	if (s->jitter_valid) {
		double mx = s->iv_jitter_max_ms > s->jitter_ms ? s->iv_jitter_max_ms :
		    s->jitter_ms;

		acc->rtp_jitter_sum_ms += s->jitter_ms;
		acc->rtp_jitter_n++;
		if (mx > acc->rtp_jitter_max_ms)
			acc->rtp_jitter_max_ms = mx;
	}
	s->iv_expected0 = exp;
	s->iv_lost0 = lost;
	s->iv_packets = 0;
	s->iv_jitter_max_ms = 0;
}

/* Adds one non-RTP direction's interval figures to acc. */
static void quality_udp_collect_dir(struct qcust *acc, struct qudp_dir *d)
{
	if (d->iv_n > 0) {
		uint64_t span = d->iv_last_us - d->iv_first_us;

		acc->udp_streams++;
		if (span > 0)
			acc->udp_pps_sum += (double)(d->iv_packets - 1) * 1e6 / (double)span;
		acc->udp_iatv_sum_ms += (double)d->iv_sum_us / d->iv_n / 1000.0;
	}
	d->iv_n = 0;
	d->iv_sum_us = 0;
	d->iv_packets = 0;
}

/*
 * Adds a UDP flow's figures for the current interval to acc: its confirmed
 * RTP streams that had packets, or, when it has none, each direction as a
 * plain UDP stream (if it had at least one inter-arrival variation sample).
 */
void quality_rtp_collect(struct quality *q, struct qcust *acc, struct qflow *qf)
{
	struct qudp *u = &qf->u.udp;
	bool rtp = false;
	unsigned i;

	(void)q;
	for (i = 0; i < QUALITY_RTP_STREAMS_MAX; i++) {
		struct qrtp_stream *s = u->rtp[i];

		if (s == NULL || !s->confirmed)
			continue;
		rtp = true;
		if (s->iv_packets > 0)
			quality_rtp_collect_stream(acc, s);
	}
	if (rtp) {
		u->d[0].iv_n = u->d[1].iv_n = 0;
		u->d[0].iv_sum_us = u->d[1].iv_sum_us = 0;
		u->d[0].iv_packets = u->d[1].iv_packets = 0;
		return;
	}
	quality_udp_collect_dir(acc, &u->d[0]);
	quality_udp_collect_dir(acc, &u->d[1]);
}

static void quality_rtp_observe(struct quality *q, const struct flow *f,
    const struct qrtp_stream *s)
{
	struct quality_obs o = { 0 };

	o.kind = QUALITY_OBS_RTP_STREAM;
	o.flow = f;
	o.dir = s->dir;
	o.ts_us = s->first_us;
	o.ssrc = s->ssrc;
	o.pt = s->pt;
	o.clock_rate = s->jitter_valid ? s->clock_rate : 0;
	o.packets = s->packets;
	o.expected = quality_rtp_expected(s);
	o.duplicates = s->duplicates;
	o.reordered = s->reordered;
	o.lost = quality_rtp_lost(s);
	o.jitter_ms = s->jitter_ms;
	o.jitter_max_ms = s->jitter_max_ms;
	o.jitter_mean_ms = s->jitter_mean_ms;
	o.first_us = s->first_us;
	o.last_us = s->last_us;
	if (s->last_us > s->first_us)
		o.pps = (double)(s->packets - 1) * 1e6 / (double)(s->last_us - s->first_us);
	quality_observe(q, &o);
}

/*
 * Flow end: the record gets the highest jitter estimate of its streams and
 * the packets lost since the previous record; confirmed streams go to the
 * observer and all streams are freed unless keep (active timeout).
 */
void quality_rtp_end(struct quality *q, struct flow *f, struct qflow *qf,
    struct gw_flow_record *rec, bool keep)
{
	struct qudp *u = &qf->u.udp;
	int64_t lost = 0;
	double jitter = 0;
	unsigned i;

	for (i = 0; i < QUALITY_RTP_STREAMS_MAX; i++) {
		struct qrtp_stream *s = u->rtp[i];

		if (s == NULL)
			continue;
		if (s->confirmed) {
			int64_t l = quality_rtp_lost(s);

			lost += l - s->rec_lost0;
			s->rec_lost0 = l;
			if (s->jitter_valid && s->jitter_ms > jitter)
				jitter = s->jitter_ms;
			if (!keep && quality_observing(q))
				quality_rtp_observe(q, f, s);
		}
		if (!keep) {
			quality_pool_put(&q->rtp_pool, s);
			u->rtp[i] = NULL;
		}
	}
	if (rec != NULL) {
		rec->jitter_ms = jitter;
		rec->rtp_lost = lost > 0 ? (uint64_t)lost : 0;
	}
}
