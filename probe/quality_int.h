/* quality_int.h: internals shared by the quality module's files (quality*.c); not a public contract. */
#ifndef GW_QUALITY_INT_H
#define GW_QUALITY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"
#include "quality.h"

#define QUALITY_DNS_TIMEOUT_US  5000000ULL /* a query unanswered this long is a timeout */
#define QUALITY_DNS_PENDING_MAX 8          /* outstanding queries tracked per flow */
#define QUALITY_RTP_STREAMS_MAX 4          /* SSRCs tracked per flow, both directions */
#define QUALITY_SDP_ENTRIES     64         /* media endpoints remembered from SDP */
#define QUALITY_SDP_PTS         8          /* dynamic payload types per SDP media line */

/*
 * Log-bucket histogram of durations in microseconds: 8 linear sub-buckets
 * per power of two, so a bucket is at most 1/8 of its value wide; 832 bytes.
 */
#define QHIST_SUB     8
#define QHIST_OCTAVES 26    /* 0..2^28 us (268 s); larger values land in the last bucket */
#define QHIST_BUCKETS (QHIST_SUB * QHIST_OCTAVES)

struct qhist {
	uint32_t n[QHIST_BUCKETS];
	uint64_t count;
	uint64_t min_us, max_us;
};

void quality_hist_reset(struct qhist *h);
void quality_hist_add(struct qhist *h, uint64_t us);
/* Nearest-rank quantile (0 < p <= 1) in ms, clamped to the exact min/max; 0 when empty. */
double quality_hist_quantile_ms(const struct qhist *h, double p);

/* Per-customer interval accumulators (events and streams that ended in the interval). */
struct qcust {
	uint64_t closed_us;           /* end of the last interval closed (kept across intervals) */
	struct qflow *dirty;          /* UDP/DNS states with packets or pending DNS queries */
	struct gw_rtp_summary rtp;    /* streams, expected, packets from ended + collected streams */
	int64_t  rtp_lost;            /* may go down with late packets; clamped when reported */
	double   rtp_jitter_sum_ms;
	uint32_t rtp_jitter_n;        /* streams with a known clock rate */
	double   rtp_jitter_max_ms;
	uint32_t tcp_handshakes;
	double   tcp_wan_sum_ms, tcp_lan_sum_ms;
	uint64_t tcp_retransmits, tcp_segments, tcp_ooo;
	struct qhist tcp_rtt;         /* SYN -> ACK at the gateway (WAN + LAN legs) */
	uint64_t dns_queries, dns_responses, dns_failures, dns_timeouts;
	double   dns_lat_sum_ms;
	uint64_t dns_lat_n;
	struct qhist dns_lat;
	uint32_t udp_streams;
	double   udp_pps_sum, udp_iatv_sum_ms;
};

/* One media endpoint announced in SDP, with its dynamic payload type clock rates. */
struct qsdp_entry {
	struct gw_addr addr;
	uint16_t port;
	uint8_t  n;
	uint8_t  pt[QUALITY_SDP_PTS];
	uint32_t rate[QUALITY_SDP_PTS];  /* 0: no jitter (telephone-event, unknown) */
	uint64_t ts_us;                  /* 0 = free slot */
};

/*
 * Fixed-size blocks carved from chunks of about 16 KiB: per-flow states cost
 * their size, without malloc's per-block header, and freed blocks are reused
 * (linked through their first word). Chunks go back only in quality_free.
 */
struct qpool {
	size_t size;                     /* block size, a multiple of 8 */
	size_t per_chunk;
	struct qpool_chunk *chunks;
	void  *free;
	size_t live;                     /* blocks handed out */
};

void quality_pool_init(struct qpool *p, size_t size);
/* A zeroed block, or NULL when out of memory. */
void *quality_pool_get(struct qpool *p);
/* Returns block b (from quality_pool_get of the same pool); NULL is a no-op. */
void quality_pool_put(struct qpool *p, void *b);
/* Frees every chunk; blocks still out become invalid. */
void quality_pool_destroy(struct qpool *p);

struct quality {
	size_t n_customers;
	struct qpool tcp_pool;           /* struct qtcp */
	struct qpool small_pool;         /* struct qudp_small */
	struct qpool udp_pool;           /* struct qflow holding a struct qudp */
	struct qpool dns_pool;           /* struct qflow holding a struct qdns */
	struct qpool rtp_pool;           /* struct qrtp_stream */
	struct qcust *cust;
	struct qsdp_entry sdp[QUALITY_SDP_ENTRIES];
	unsigned sdp_next;
	uint32_t sdp_gen;                /* bumped on every SDP change (stream caches) */
	quality_obs_fn obs;
	void *obs_ctx;                   /* borrowed */
	struct quality_counters ctr;
};

/*
 * Every per-flow state in flow->quality starts with its kind (enum
 * qflow_kind), so the owner can tell them apart; a value with bit 0 set is a
 * tag, not a pointer (quality.c).
 */
enum qflow_kind { QF_TCP = 1, QF_UDP, QF_DNS, QF_UDP_SMALL };

/* --- TCP: 56 bytes per flow, never on a customer list (no interval work) --- */
#define QTCP_HAVE_SEQ(d)  (1u << (d))    /* qtcp.flags: next_seq[d] valid */
#define QTCP_HS_REPORTED  0x04           /* RTT given to a flow record already */

struct qtcp {
	uint8_t  kind;           /* QF_TCP */
	uint8_t  hs_state;       /* QTCP_HS_* (quality_tcp.c) */
	uint8_t  syn_dir;
	uint8_t  flags;          /* QTCP_* */
	uint32_t next_seq[2];    /* highest seq + len (+SYN/FIN) seen per direction */
	uint32_t hs_seq;         /* the SYN's seq, then the SYN-ACK's, as the handshake goes */
	uint64_t next_seq_us[2]; /* when next_seq last advanced */
	union {
		struct {
			uint64_t syn_us, synack_us;   /* until the handshake is done */
		} at;
		struct {
			uint64_t first_us;    /* SYN -> SYN-ACK, once it is done */
			uint64_t second_us;   /* SYN-ACK -> ACK */
		} legs;
	} hs;
	uint64_t retransmits;    /* since the last flow record */
};

/* --- DNS: pending queries, column-wise (no padding): 81 bytes --- */
struct qdns {
	uint64_t ts_us[QUALITY_DNS_PENDING_MAX];   /* query time; 0 = free slot */
	uint16_t id[QUALITY_DNS_PENDING_MAX];
	uint8_t  rev;                               /* bit i: query i went FLOW_REV */
};

/* --- RTP and plain UDP --- */
struct qrtp_stream {
	uint32_t ssrc;
	uint8_t  dir;
	uint8_t  pt, prev_pt;
	bool     confirmed;          /* two sequential packets seen: a real stream */
	uint16_t max_seq;            /* RFC 3550 A.1 s->max_seq */
	uint32_t cycles;             /* wraps << 16 */
	uint32_t base_seq;
	uint32_t bad_seq;
	uint64_t window;             /* bit i set: seq (max_seq - i) received */
	uint32_t received;           /* unique packets since base_seq */
	uint32_t carry_expected, carry_received; /* from before a re-sync */
	uint32_t packets;            /* every arrival, duplicates included */
	uint32_t duplicates, reordered;
	int64_t  last_ext_ts;        /* extended RTP timestamp of the previous packet */
	int64_t  ref_ts;             /* highest in-order extended timestamp (tshark's "regular") */
	uint64_t ref_us;             /* arrival of the previous packet */
	int64_t  jref_ts;            /* timestamp of the previous packet with a known clock rate */
	uint32_t ts_jumps;           /* timestamp discontinuities (|D| > 3 s) */
	uint64_t first_us, last_us;
	double   jitter_ms;          /* RFC 3550 running estimate */
	double   jitter_max_ms;      /* over "regular" packets, as tshark counts it */
	double   jitter_mean_ms;     /* tshark's running mean */
	uint32_t clock_rate;         /* of the current payload type; 0 unknown */
	uint8_t  cached_pt;
	uint32_t cached_rate, cached_gen;
	bool     jitter_valid;       /* at least one packet had a known clock rate */
	/* interval state */
	uint64_t iv_expected0;
	int64_t  iv_lost0;
	uint32_t iv_packets;
	uint64_t iv_first_us;
	double   iv_jitter_max_ms;
	/* flow record state */
	int64_t  rec_lost0;
};

struct qudp_dir {
	uint64_t last_us;
	uint64_t last_iat_us;
	uint64_t iv_sum_us;          /* sum of |IAT - previous IAT| in the interval */
	uint32_t iv_n;
	uint32_t iv_packets;
	uint64_t iv_first_us, iv_last_us;
	uint32_t packets;
};

struct qudp {
	struct qrtp_stream *rtp[QUALITY_RTP_STREAMS_MAX];   /* owned (rtp_pool) */
	struct qudp_dir d[2];
};

/*
 * A UDP flow (not DNS) whose directions have had at most two datagrams each,
 * none of them possibly RTP: only their arrival times, as microseconds after
 * flow->first_us. Such a direction adds nothing to the summaries (an
 * inter-arrival variation needs three datagrams), so nothing else is kept
 * until the full state is built from these times (quality.c).
 */
#define QUDP_SMALL_MAX 2
struct qudp_small {
	uint8_t  kind;               /* QF_UDP_SMALL */
	uint8_t  n[2];               /* datagrams recorded per direction */
	uint32_t dt_us[2][QUDP_SMALL_MAX];
};

/*
 * Full UDP or DNS state in flow->quality; while it has interval work
 * (dirty) it is on its customer's dirty list. A DNS state is allocated
 * without the bytes of the union it does not use.
 */
struct qflow {
	uint8_t kind;                /* QF_UDP or QF_DNS */
	bool dirty;                  /* on the customer's dirty list */
	int32_t customer;            /* -1 = none */
	struct qflow *prev, *next;
	union {
		struct qudp udp;
		struct qdns dns;
	} u;
};

/* quality_acc.c (below quality.c and the analysers): the customer accumulator of a flow state, or NULL. */
struct qcust *quality_cust(struct quality *q, const struct qflow *qf);

/* quality_acc.c: the customer accumulator of customer index c, or NULL. */
struct qcust *quality_cust_of(struct quality *q, int32_t c);

/* quality_acc.c: true when an item observer is installed (items cost work to fill). */
bool quality_observing(const struct quality *q);

/* quality_acc.c: hands item o to the observer, if any; o is borrowed for the call. */
void quality_observe(struct quality *q, const struct quality_obs *o);

void quality_tcp_packet(struct quality *q, struct flow *f, struct qtcp *t,
    const struct pkt *p, int dir);
void quality_tcp_record(const struct flow *f, struct qtcp *t,
    struct gw_flow_record *rec);

void quality_dns_packet(struct quality *q, struct flow *f, struct qflow *qf,
    const struct pkt *p, int dir);
/* Counts queries pending since before now_us - timeout (all when force) as timeouts. */
void quality_dns_expire(struct quality *q, struct flow *f, struct qflow *qf,
    uint64_t now_us, bool force);

void quality_rtp_packet(struct quality *q, struct flow *f, struct qflow *qf,
    const struct pkt *p, int dir);
/* True when p's UDP payload parses as an RTP header (a stream may start). */
bool quality_rtp_possible(const struct pkt *p);
/*
 * Replays an earlier non-RTP datagram at ts_us in direction dir into a UDP
 * flow's state being rebuilt (datagrams in arrival order); in_interval: no
 * interval closed since it arrived.
 */
void quality_udp_restore(struct qflow *qf, int dir, uint64_t ts_us, bool in_interval);
/* Adds the interval's RTP/UDP figures of a flow to acc and starts a new interval. */
void quality_rtp_collect(struct quality *q, struct qcust *acc, struct qflow *qf);
/* Reports each confirmed stream to the observer, fills rec, frees streams unless keep. */
void quality_rtp_end(struct quality *q, struct flow *f, struct qflow *qf,
    struct gw_flow_record *rec, bool keep);
/* Looks for SDP in a SIP message and remembers its media endpoints. */
void quality_sdp_packet(struct quality *q, const struct pkt *p);
/* Clock rate of dynamic payload type pt for an endpoint from SDP; 0 unknown. */
uint32_t quality_sdp_rate(const struct quality *q, const struct gw_addr *a,
    uint16_t port, uint8_t pt, bool *found);

#endif
