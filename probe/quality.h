/* quality.h: passive QoS: RTP jitter/loss, TCP handshake RTT and retransmissions, DNS latency. */
#ifndef GW_QUALITY_H
#define GW_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"
#include "gwmsg.h"

struct quality;

/* New context for n_customers customer indexes. NULL on allocation failure. */
struct quality *quality_new(size_t n_customers);
void quality_free(struct quality *q);

/*
 * Feeds one IP packet of flow f (dir is FLOW_FWD/FLOW_REV; f->customer and
 * f->init_is_customer are set). May allocate per-flow state in f->quality
 * (small, bounded). Untrusted payload: every read bounds-checked.
 */
void quality_packet(struct quality *q, struct flow *f, const struct pkt *p, int dir);

/*
 * Flow f ends: adds its per-flow metrics to rec (when rec is not NULL) and,
 * unless why == FLOW_END_ACTIVE, frees f->quality and sets it to NULL.
 */
void quality_flow_end(struct quality *q, struct flow *f, enum flow_end why,
    struct gw_flow_record *rec);

/*
 * Interval end at packet time now_us: writes customer index c's rtp, tcp,
 * dns and udp summaries for the interval into out and starts a new interval
 * for c. Pending DNS queries older than the DNS timeout count as timeouts.
 */
void quality_interval(struct quality *q, int c, uint64_t now_us,
    struct gw_customer_stats *out);

/*
 * Item-by-item results, for oracle tests and debugging (gw-quality-dump):
 * one call per confirmed RTP stream when its flow ends, per completed TCP
 * handshake, and per answered or timed-out DNS query. o and o->flow are
 * borrowed for the call only.
 */
enum quality_obs_kind {
	QUALITY_OBS_RTP_STREAM = 1,
	QUALITY_OBS_HANDSHAKE,
	QUALITY_OBS_DNS,
};

struct quality_obs {
	enum quality_obs_kind kind;
	const struct flow *flow;      /* borrowed */
	int      dir;                 /* FLOW_FWD/REV: stream, SYN or query direction */
	uint64_t ts_us;               /* stream's first packet, ACK, or query time */
	/* RTP stream */
	uint32_t ssrc;
	uint8_t  pt;                  /* last payload type */
	uint32_t clock_rate;          /* 0: unknown, no jitter */
	uint64_t packets;             /* every arrival, duplicates included */
	uint64_t expected, duplicates, reordered;
	int64_t  lost;                /* expected - unique packets received */
	double   jitter_ms;           /* RFC 3550 estimate after the last packet */
	double   jitter_max_ms, jitter_mean_ms; /* as tshark -z rtp,streams counts them */
	double   pps;
	uint64_t first_us, last_us;
	/* TCP handshake: legs as seen at the gateway */
	double   syn_synack_ms, synack_ack_ms, rtt_wan_ms, rtt_lan_ms;
	/* DNS */
	uint16_t dns_id;
	uint8_t  rcode;
	bool     timeout;
	double   latency_ms;
};

typedef void (*quality_obs_fn)(const struct quality_obs *o, void *ctx);

/* Installs (fn != NULL) or removes the observer; ctx is borrowed. */
void quality_set_observer(struct quality *q, quality_obs_fn fn, void *ctx);

/* Module health counters (not per customer). */
struct quality_counters {
	uint64_t alloc_failed;        /* per-flow or per-stream state not allocated */
	uint64_t rtp_streams_full;    /* SSRC not tracked: flow's stream slots taken */
	uint64_t dns_pending_full;    /* query not tracked: flow's pending table full */
	uint64_t dns_unmatched;       /* responses without a pending query */
	uint64_t sdp_parsed;          /* SDP media lines remembered */
};

/* Copies the module counters into out. */
void quality_counters_get(const struct quality *q, struct quality_counters *out);

#endif
