/*
 * covert.c: TCP covert-channel indicators per flow direction. Each packet
 * updates a small fixed-size record: header fields that real stacks never
 * use that way (reserved bits, an urgent pointer without URG, an ISN or IP
 * IDs with a zero low part as covert_tcp encodes bytes), fields that should
 * stay put but are modulated (TTL, the window on pure ACKs while nothing is
 * received), and gaps that fall into two tight clusters (a timing channel).
 * Indicators add points; the caller raises an alarm from a threshold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "covert.h"
#include "sketch.h"

#define COVERT_WAYS     4
#define COVERT_IDLE_US  120000000ULL  /* an entry idle this long is free */
#define COVERT_IAT_BINS 12            /* gap < 1 ms, then [2^k, 2^(k+1)) ms, k = 0..10 */
#define COVERT_IAT_MIN  32            /* gaps before the timing test */
#define COVERT_TTL_CHANGES 6
#define COVERT_TTL_SPREAD  3
#define COVERT_IPID_RUN    4
#define COVERT_WIN_ODD     8
#define COVERT_DATA_RECENT_US 1000000ULL
#define COVERT_SCORED_PKTS 512        /* packets of a direction that are scored */

struct cslot {
	uint64_t last_us;           /* last packet of this direction */
	uint64_t last_data_us;      /* last packet with payload */
	uint32_t pkts;
	uint32_t last_ack;
	uint16_t last_win, last_ipid;
	uint16_t score;
	uint16_t iat_n;
	uint8_t reasons;
	uint8_t ttl_last, ttl_min, ttl_max, ttl_changes;
	uint8_t ipid_run, win_odd, pts_reserved, pts_urg;
	bool has_ack;
	uint8_t iat[COVERT_IAT_BINS];
};

/* Keys apart from the records: a lookup reads one cache line of keys. */
struct cbucket {
	uint64_t key[COVERT_WAYS];  /* 0 = free */
	struct cslot s[COVERT_WAYS];
};

struct covert {
	struct cbucket *b;
	size_t n_buckets;
};

/* See covert.h. */
struct covert *covert_new(size_t slots)
{
	struct covert *c;

	if (slots < COVERT_WAYS || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->n_buckets = slots / COVERT_WAYS;
	if ((c->b = calloc(c->n_buckets, sizeof(*c->b))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

/* See covert.h. */
void covert_free(struct covert *c)
{
	if (c == NULL)
		return;
	free(c->b);
	free(c);
}

/* See covert.h. */
size_t covert_memory(const struct covert *c)
{
	return c == NULL ? 0 : sizeof(*c) + c->n_buckets * sizeof(*c->b);
}

static uint64_t covert_key(const struct gw_addr *src, const struct gw_addr *dst,
    uint16_t sport, uint16_t dport)
{
	uint64_t w[4];

	memcpy(w, src->a, 16);
	memcpy(w + 2, dst->a, 16);
	return sketch_mix(w[0] ^ (w[1] << 1) ^ ((uint64_t)sport << 48),
	    w[2] ^ (w[3] << 1) ^ ((uint64_t)dport << 48) ^ src->family) | 1;
}

/* The record of key; with create, a free, idle or least recently used slot. */
static struct cslot *covert_slot(struct covert *c, uint64_t key, uint64_t now_us,
    bool create)
{
	struct cbucket *b = &c->b[(key >> 7) % c->n_buckets];
	int i, v = -1;

	for (i = 0; i < COVERT_WAYS; i++)
		if (b->key[i] == key)
			return &b->s[i];
	if (!create)
		return NULL;
	for (i = 0; i < COVERT_WAYS && v < 0; i++)
		if (b->key[i] == 0 || b->s[i].last_us + COVERT_IDLE_US < now_us)
			v = i;
	for (i = 0, v = v < 0 ? 0 : v; i < COVERT_WAYS; i++)
		if (b->key[v] != 0 && b->s[i].last_us < b->s[v].last_us)
			v = i;
	b->key[v] = key;
	memset(&b->s[v], 0, sizeof(b->s[v]));
	return &b->s[v];
}

static unsigned iat_bin(uint64_t gap_us)
{
	uint64_t ms = gap_us / 1000;
	unsigned b;

	if (ms == 0)
		return 0;
	b = 64 - (unsigned)__builtin_clzll(ms);   /* 1 ms -> 1, 2-3 ms -> 2, ... */
	return b < COVERT_IAT_BINS ? b : COVERT_IAT_BINS - 1;
}

/*
 * Timing channel: almost every gap falls into two bins at least a factor
 * of 4 apart, each holding a fifth or more, and hardly any gap is below
 * 1 ms (bulk transfers and ACK clocking have those).
 */
static bool timing_two_clusters(const struct cslot *s)
{
	unsigned i, b1 = 0, b2 = 0, n = 0;

	for (i = 0; i < COVERT_IAT_BINS; i++)
		n += s->iat[i];
	if (n < COVERT_IAT_MIN || s->iat[0] * 10 >= n)
		return false;
	for (i = 1; i < COVERT_IAT_BINS; i++)
		if (s->iat[i] > s->iat[b1])
			b1 = i;
	for (i = 1; i < COVERT_IAT_BINS; i++)
		if (i != b1 && (b2 == 0 || s->iat[i] > s->iat[b2]))
			b2 = i;
	if (b1 == 0 || b2 == 0 || (b1 > b2 ? b1 - b2 : b2 - b1) < 2)
		return false;
	return (s->iat[b1] + s->iat[b2]) * 10 >= n * 9 && s->iat[b2] * 5 >= n;
}

static void add_pattern(struct cslot *s, unsigned reason, unsigned pts)
{
	if (s->reasons & reason)
		return;
	s->reasons |= (uint8_t)reason;
	s->score = (uint16_t)(s->score + pts);
}

/* Header fields: reserved bits, urgent pointer, ISN. h is the TCP header (20+ bytes). */
static void covert_header(struct cslot *s, const struct pkt *p, const uint8_t *h)
{
	uint16_t urg = (uint16_t)(h[18] << 8 | h[19]);

	if ((h[12] & 0x0e) != 0 && s->pts_reserved < 2 * COVERT_PTS_PER_PACKET) {
		s->pts_reserved += COVERT_PTS_PER_PACKET;
		s->score += COVERT_PTS_PER_PACKET;
		s->reasons |= COVERT_R_RESERVED;
	}
	if (urg != 0 && !(p->tcp_flags & TCPF_URG) && s->pts_urg < 2 * COVERT_PTS_PER_PACKET) {
		s->pts_urg += COVERT_PTS_PER_PACKET;
		s->score += COVERT_PTS_PER_PACKET;
		s->reasons |= COVERT_R_URGPTR;
	}
	if ((p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN && p->tcp_seq != 0 &&
	    (p->tcp_seq & 0xffffff) == 0)
		add_pattern(s, COVERT_R_ISN, COVERT_PTS_ISN);
}

/* IPv4 ID and TTL. */
static void covert_ip(struct cslot *s, const struct pkt *p)
{
	if (p->ip_ver == 4 && p->l3 != NULL && p->l3_caplen >= 20) {
		uint16_t id = (uint16_t)(p->l3[4] << 8 | p->l3[5]);

		if (id != 0 && (id & 0xff) == 0 && (s->pkts == 1 || id != s->last_ipid)) {
			if (++s->ipid_run >= COVERT_IPID_RUN)
				add_pattern(s, COVERT_R_IPID, COVERT_PTS_PATTERN);
		} else {
			s->ipid_run = 0;
		}
		s->last_ipid = id;
	}
	if (s->pkts == 1) {
		s->ttl_last = s->ttl_min = s->ttl_max = p->ttl;
		return;
	}
	if (p->ttl != s->ttl_last && s->ttl_changes < 255)
		s->ttl_changes++;
	s->ttl_last = p->ttl;
	if (p->ttl < s->ttl_min)
		s->ttl_min = p->ttl;
	if (p->ttl > s->ttl_max)
		s->ttl_max = p->ttl;
	if (s->ttl_changes >= COVERT_TTL_CHANGES && s->ttl_max - s->ttl_min >= COVERT_TTL_SPREAD)
		add_pattern(s, COVERT_R_TTL, COVERT_PTS_PATTERN);
}

/* Window changes on pure ACKs that acknowledge nothing new while nothing arrives. */
static void covert_window(struct covert *c, struct cslot *s, const struct pkt *p)
{
	const struct cslot *rev;
	bool pure = (p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST | TCPF_ACK)) == TCPF_ACK &&
	    p->payload_len == 0;

	if (pure && s->has_ack && p->tcp_ack == s->last_ack && p->tcp_win != s->last_win) {
		rev = covert_slot(c, covert_key(&p->dst, &p->src, p->dport, p->sport),
		    p->ts_us, false);
		if ((rev == NULL || rev->last_data_us + COVERT_DATA_RECENT_US < p->ts_us) &&
		    ++s->win_odd >= COVERT_WIN_ODD)
			add_pattern(s, COVERT_R_WINDOW, COVERT_PTS_PATTERN);
	}
	if (p->tcp_flags & TCPF_ACK) {
		s->has_ack = true;
		s->last_ack = p->tcp_ack;
		s->last_win = p->tcp_win;
	}
}

static void covert_timing(struct cslot *s, const struct pkt *p)
{
	unsigned i;

	if (s->pkts > 1 && p->ts_us >= s->last_us) {
		s->iat[iat_bin(p->ts_us - s->last_us)]++;
		if (++s->iat_n % 16 == 0 && s->iat_n >= COVERT_IAT_MIN &&
		    timing_two_clusters(s))
			add_pattern(s, COVERT_R_TIMING, COVERT_PTS_PATTERN);
		if (s->iat_n >= 240) {        /* keep the bins bounded: halve them */
			for (i = 0; i < COVERT_IAT_BINS; i++)
				s->iat[i] /= 2;
			s->iat_n /= 2;
		}
	}
}

/* Updates every indicator of record s with packet p (TCP header h). */
static void covert_score(struct covert *c, struct cslot *s, const struct pkt *p,
    const uint8_t *h)
{
	covert_header(s, p, h);
	covert_ip(s, p);
	covert_window(c, s, p);
	covert_timing(s, p);
	if (p->payload_len > 0)
		s->last_data_us = p->ts_us;
}

/* See covert.h. */
bool covert_packet(struct covert *c, const struct pkt *p, double threshold,
    struct covert_finding *out)
{
	const uint8_t *h;
	struct cslot *s;

	if (c == NULL || p->l4_proto != 6 || !p->has_l4 || p->payload == NULL ||
	    p->l3 == NULL || p->tcp_hdr_len < 20 || (p->ip_ver != 4 && p->ip_ver != 6))
		return false;
	h = p->payload - p->tcp_hdr_len;
	if (h < p->l3 || p->payload > p->l3 + p->l3_caplen)
		return false;
	s = covert_slot(c, covert_key(&p->src, &p->dst, p->sport, p->dport), p->ts_us, true);
	if (s->pkts < UINT32_MAX)
		s->pkts++;
	/*
	 * A channel shows within the first packets of a direction; scoring
	 * only those keeps bulk transfers cheap (a flagged flow stays flagged).
	 */
	if (s->pkts <= COVERT_SCORED_PKTS)
		covert_score(c, s, p, h);
	s->last_us = p->ts_us;
	if (threshold <= 0 || s->score < threshold)
		return false;
	memset(out, 0, sizeof(*out));
	out->src = p->src;
	out->dst = p->dst;
	out->sport = p->sport;
	out->dport = p->dport;
	out->score = s->score;
	out->reasons = s->reasons;
	out->packets = s->pkts;
	return true;
}

/* See covert.h. */
char *covert_reasons(unsigned reasons, char *buf, size_t len)
{
	static const char *const names[] = {
		"reserved_bits", "urgent_pointer", "isn", "ip_id", "ttl", "window", "timing",
	};
	size_t i, off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n;

		if (!(reasons & (1u << i)))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i]);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return buf;
}
