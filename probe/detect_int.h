/*
 * detect_int.h: what the files of the detect module share (detect.c: alarms,
 * thresholds, floods, spikes, inter-customer, unusual ports; detect_scan.c:
 * scans, sweeps, slow scans; detect_flowind.c: covert-channel and DNS-tunnel
 * findings). Not part of the module's contract: only detect*.c include it.
 * Data flows one way: detect*.c call covert.c, dnstunnel.c and sketch.c,
 * never the other way round.
 */
#ifndef GW_DETECT_INT_H
#define GW_DETECT_INT_H

#include "baseline.h"
#include "covert.h"
#include "detect.h"
#include "dnstunnel.h"
#include "sketch.h"

#define BUCKET_US      100000ULL  /* rate sketch bucket: 100 ms */
#define NBUCKETS       10         /* window: 1 s */
#define SHORT_BUCKETS  3          /* short window for firing: 200-300 ms */
#define FAST_BUCKET_US 10000ULL   /* flood onset buckets: 10 ms */
#define FAST_BUCKETS   4          /* onset window: 30-40 ms (a power of two) ... */
#define FAST_SHORT     2          /* ... of which the newest 10-20 ms and the 20 ms before */
#define FAST_MIN_PKTS  16         /* onset fires only on this many packets in the window */
#define SCAN_GEN_US    5000000ULL /* distinct counters: generations of 5 s */
#define SLOW_GEN_US    150000000ULL /* slow-scan failures: generations of 150 s */
#define SLOW_WAIT_US   10000000ULL  /* slow_scan waits this long for a fast scan alarm */
#define SECOND_US      1000000ULL
#define ALLOW_MAX      32         /* unusual_port allowlist per customer */
#define GLOBAL_ALLOW_MAX 64
#define TOPK_REPORT    8
#define FLAG_BUCKETS   256
#define FLAG_WAYS      4
#define ALARM_WAYS     4
#define SPIKE_RING     3          /* 100 ms buckets per customer and direction */
#define SPIKE_GAP_FILL 300        /* idle seconds fed to the baseline at most */
#define UNUSUAL_WAIT_US 200000ULL /* unusual_port waits this long for a flood alarm */
#define TALKER_SHARE   4          /* talkers are counted from 1/4 of a flood threshold */

enum det_dir { DIR_RX = 0, DIR_TX = 1 };

/*
 * Flood onset table: direct-mapped on the flood key, the full key as tag.
 * A colliding key takes the cell over from zero, so a collision can only
 * undercount (the 200-300 ms window still fires), never make a rate up.
 */
struct onset_cell {
	uint64_t key;
	uint64_t bucket;                 /* absolute FAST_BUCKET_US bucket of n[bucket % FAST_BUCKETS] */
	uint16_t n[FAST_BUCKETS];        /* packets, saturating */
};
enum det_class { CLS_SYN = 0, CLS_UDP, CLS_ICMP, CLS_MAX, CLS_NONE = CLS_MAX };
enum det_kind {
	K_SYN = 0, K_UDP, K_ICMP, K_PORTSCAN, K_SWEEP, K_INTER, K_UNUSUAL, K_SPIKE,
	K_SLOWSCAN, K_COVERT, K_DNSTUN,
	K_MAX
};

struct det_thresholds {
	double flood_pps[CLS_MAX][2];  /* [class][dir]; 0 disables */
	double flood_bps[CLS_MAX][2];  /* bits per second; 0 disables */
	double scan_ports;             /* distinct dst ports per (source, target, proto) (5-10 s) */
	double sweep_hosts;            /* distinct dst hosts per (source, proto) (5-10 s) */
	double inter_pps;              /* inter-customer connection attempts per s */
	double unusual_pps;            /* SYNs per s to one non-allowlisted port */
	double unusual_enabled;
	double spike_factor;           /* rate / forecast */
	double spike_min_bps;          /* spikes below this never count */
	double spike_warmup_s;         /* seconds of baseline before judging */
	double clear_fraction;         /* clear below this share of the threshold */
	double clear_s;                /* ... for this long */
	double holddown_s;             /* no re-fire sooner than this after a clear */
	double slow_failures;          /* distinct failed attempts per source (150-300 s); 0 off */
	double covert_score;           /* covert-channel score of one flow; 0 off */
	double dns_queries;            /* tunnel-like queries per (client, domain) (30-60 s); 0 off */
};

/*
 * Identity of an alarm: one per (kind, customer, direction, extra, addr,
 * target). Two attacks that differ in kind, protocol, source or target are
 * two alarms, so the hysteresis and hold-down of one never hide the other.
 */
struct alarm_id {
	uint8_t kind;
	uint8_t dir;
	uint16_t pad;
	int32_t cust;
	uint32_t extra;             /* port (unusual), source customer (inter), IP protocol (scans) */
	struct gw_addr addr;        /* source (scans, sweeps, covert, DNS tunnel) */
	struct gw_addr target;      /* target host (port scans, covert, DNS tunnel server) */
	uint8_t pad2[2];
};
_Static_assert(sizeof(struct alarm_id) % 8 == 0, "alarm ids are hashed word by word");

struct alarm {
	bool used;
	bool active;
	bool pending;               /* unusual_port, slow_scan: crossed, waiting for a better explanation */
	bool src_flagged;           /* alarm put src into the flagged set */
	struct alarm_id id;
	int cust;                   /* reported customer and direction */
	int dir;
	uint64_t rate_key;          /* sketch key whose level decides clearing */
	struct gw_addr src, dst;
	uint32_t ip_proto, dport;
	uint64_t fired_us, below_since_us, cleared_us, pending_us;
	uint64_t evidence_us;       /* evidence alarms (slow scan, covert, DNS): last evidence */
	double peak_pps, peak_bps;
	uint64_t packets;           /* attack packets seen while active */
	struct hll sources;         /* distinct sources while active */
};

struct spike_state {
	uint32_t ring_bytes[SPIKE_RING];
	uint64_t ring_start_us;     /* start of the newest ring bucket; 0 = unset */
	unsigned ring_cur;
	uint64_t sec_start_us;      /* start of the second being summed */
	uint64_t sec_bytes;
	struct baseline bl;
};

struct cust_state {
	struct spike_state spike[2];
	uint8_t flood_active[2];    /* [dir]: bit per det_class with an active flood alarm */
	uint16_t allow[ALLOW_MAX];
	uint8_t n_allow;
};

struct flag_slot {
	struct gw_addr addr;
	uint32_t refs;
};

struct detect {
	const struct customer_map *map;  /* borrowed */
	detect_emit_cb emit;             /* borrowed */
	void *ctx;                       /* borrowed */
	size_t n_cust;
	struct cust_state *cust;
	struct det_thresholds th;
	uint16_t global_allow[GLOBAL_ALLOW_MAX];
	size_t n_global_allow;
	struct swcms *rate;              /* floods, inter, unusual */
	struct onset_cell *onset;        /* flood onset: packets per 10 ms per target */
	uint32_t onset_mask;             /* onset cells - 1 (a power of two) */
	struct dcount *ports;            /* distinct (src, dst, proto -> dport) */
	struct dcount *hosts;            /* distinct (src, proto -> dst) */
	struct dcount *failures;         /* failed attempts: distinct ports per (src, dst), hosts
	                                    per (src, proto, dport); attempts routers answered */
	struct topk *talkers;            /* top sources per (customer, dir, class) */
	struct covert *covert;           /* per-flow covert-channel scores */
	struct dnstunnel *dnst;          /* per-(client, domain) DNS tunnel indicators */
	struct alarm *alarms;
	size_t n_alarm_buckets;          /* ALARM_WAYS slots each */
	struct flag_slot flags[FLAG_BUCKETS][FLAG_WAYS];
	uint64_t now_us;
	uint64_t last_eval_bucket;
	uint64_t alarms_dropped;
	uint64_t flags_dropped;
	size_t n_flagged;                /* flag slots in use: 0 = no lookup needed */
};

/* detect.c: shared alarm machinery. */

/* Word-wise hash of an address (a per-packet cost: no byte loop). */
uint64_t detect_addr_hash(const struct gw_addr *a, uint64_t seed);

/* An alarm identity; addr and target may be NULL (none). */
struct alarm_id detect_alarm_id(enum det_kind kind, int dir, int cust,
    uint32_t extra, const struct gw_addr *addr, const struct gw_addr *target);

/*
 * The alarm with identity id; with create, takes a free (or long cleared)
 * slot of its bucket. NULL when absent (or the bucket is full: counted).
 */
struct alarm *detect_alarm_get(struct detect *d, const struct alarm_id *id,
    bool create);

/* True when the alarm may fire now (not active, hold-down over). */
bool detect_alarm_may_fire(const struct detect *d, const struct alarm *a);

/* Marks a as active (dst, proto, port from p) and flags its source. */
void detect_alarm_fire(struct detect *d, struct alarm *a, const struct pkt *p,
    uint64_t rate_key);

/*
 * Fires a pending alarm a as it stands (its dst, port, rate key and peak are
 * kept; sources counted afresh) and fills ev's common fields; the caller sets
 * rate and detail and emits.
 */
void detect_pending_fire(struct detect *d, struct alarm *a, struct gw_event *ev);

/* Takes a's source out of the flagged set (its packets get DPI and quality again). */
void detect_alarm_unflag(struct detect *d, struct alarm *a);

/* Fires a and emits its event with rate and detail. */
void detect_simple_fire(struct detect *d, struct alarm *a, const struct pkt *p,
    uint64_t key, double rate, const char *detail);

/* Fills the common event fields of alarm a. */
void detect_event_base(const struct detect *d, const struct alarm *a,
    struct gw_event *ev);
void detect_emit(struct detect *d, const struct gw_event *ev);

/* True when c is a customer index of d's map. */
bool detect_cust_valid(const struct detect *d, int c);

/* detect_scan.c: scans, sweeps, slow scans. */

static inline bool detect_addr_is_multicast(const struct gw_addr *a)
{
	if (a->family == 4)
		return a->a[0] >= 224;
	return a->family == 6 && a->a[0] == 0xff;
}

/*
 * True for packets that open something (inline: every packet asks): a TCP
 * SYN, a TCP probe with neither SYN, ACK nor RST (FIN, NULL and Xmas scans),
 * an ICMP(v6) echo request, or a UDP datagram that does not look like a
 * server's answer (well-known source port toward an ephemeral port).
 */
static inline bool detect_is_attempt(const struct pkt *p)
{
	if (!p->has_l4 || detect_addr_is_multicast(&p->dst))
		return false;
	switch (p->l4_proto) {
	case 6:
		return (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN ||
		    (p->tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == 0;
	case 17:
		return !(p->sport < 1024 && p->dport >= 1024);
	case 1:
		return p->icmp_type == 8;
	case 58:
		return p->icmp_type == 128;
	default:
		return false;
	}
}

/* Fast scan and sweep accounting for an attempt (first packet of its flow direction). */
void detect_scan_packet(struct detect *d, const struct customer_match *m,
    const struct pkt *p);

/*
 * Failed-attempt accounting for slow scans: a RST that is the responder's
 * first packet of its flow, or an ICMP unreachable quoting an attempt. An
 * ICMP time exceeded marks the attempt it quotes as answered, so that its
 * flow does not count as unanswered (detect_flow_unanswered) when it expires.
 */
void detect_scan_failure(struct detect *d, const struct customer_match *m,
    const struct pkt *p, unsigned flow_flags);

/* Fires or drops a pending slow_scan alarm once its wait is over. */
void detect_scan_settle(struct detect *d, struct alarm *a);

/* Level (1.0 = at threshold) of a scan, sweep or slow-scan alarm. */
double detect_scan_level(struct detect *d, const struct alarm *a);

/* detect_flowind.c: covert-channel and DNS-tunnel findings raised as alarms. */

/* Feeds p to the per-flow indicators (covert.c, dnstunnel.c). */
void detect_flowind_packet(struct detect *d, const struct customer_match *m,
    const struct pkt *p);

/* Level of an evidence alarm (slow scan, covert, DNS tunnel): 1 while evidence is recent. */
double detect_evidence_level(const struct detect *d, const struct alarm *a);

#endif
