/* flow.h: bidirectional flow table with idle/active timeouts and a hard cap on flows. */
#ifndef GW_FLOW_H
#define GW_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* Packet direction inside a flow. */
#define FLOW_FWD 0   /* same direction as the flow's first packet (initiator -> responder) */
#define FLOW_REV 1

enum flow_end {
	FLOW_END_IDLE = 0,   /* no packet for idle_timeout */
	FLOW_END_ACTIVE,     /* active_timeout: record emitted, flow continues with zeroed counters */
	FLOW_END_EVICTED,    /* table full: least recently seen flow pushed out */
	FLOW_END_FLUSH,      /* end of capture / shutdown */
};

/* Short name of an end reason: "idle", "active", "evicted", "end". */
const char *flow_end_name(enum flow_end why);

/*
 * 144 bytes (64-bit), laid out without padding: memory per tracked flow is
 * what bounds the probe at 100k concurrent flows.
 */
struct flow {
	uint64_t first_us, last_us;   /* packet time */
	uint64_t record_start_us;     /* start of the current record (active timeout) */
	uint64_t bytes[2];            /* IP-layer bytes, [FLOW_FWD], [FLOW_REV] */
	uint64_t pkts[2];

	void    *dpi;                 /* per-flow DPI state, owned by dpi module */
	void    *quality;             /* per-flow QoS state, owned by quality module */

	/* hash chain and LRU list: slot numbers, owned by the table */
	uint32_t hnext;
	uint32_t lru_prev, lru_next;

	/* set by the engine on creation */
	int32_t  customer;            /* customer index, CUSTOMER_NONE if none */
	int32_t  peer_customer;       /* other side's customer for inter-customer flows */

	/* key, oriented as the first packet seen (the initiator is src) */
	struct gw_addr src, dst;
	uint16_t sport, dport;
	uint16_t vlan_outer, vlan_inner;

	/* set by the dpi module */
	uint16_t app;                 /* application id (dpi_app_name) */
	uint16_t category;            /* category id (dpi_category_name) */

	uint16_t flags;               /* FLOWF_* (and the engine's own, 0x100 up) */
	uint8_t  proto;
	uint8_t  dpi_state;           /* DPI_PENDING, DPI_DONE, DPI_SKIPPED (dpi.h) */
	uint8_t  dpi_pkts;            /* packets given to DPI so far */
	bool     init_is_customer;    /* the initiator (src) is on the customer's side (tx) */
};

#define FLOWF_SYN_SEEN    0x01
#define FLOWF_FIN_SEEN    0x02
#define FLOWF_RST_SEEN    0x04
#define FLOWF_EMBRYONIC   0x08   /* TCP flow with only SYNs from its initiator so far */
#define FLOWF_REPLIED     0x10   /* the responder sent at least one packet (kept across
                                    active-timeout records, unlike pkts[FLOW_REV]) */

struct flow_config {
	size_t   max_flows;           /* hard cap; 0 = default 262144. SYN-only TCP
	                                 flows are also capped, at max(1024, max_flows / 64):
	                                 a new one evicts the oldest (spoofed SYN floods) */
	uint64_t idle_timeout_us;     /* 0 = default 60 s (TCP after FIN/RST: 10 s) */
	uint64_t active_timeout_us;   /* 0 = default 300 s */
};

/*
 * Called for every flow that ends or, for FLOW_END_ACTIVE, reaches its active
 * timeout. The callback must release f->dpi and f->quality through their
 * modules when why != FLOW_END_ACTIVE; the table frees f afterwards. This is
 * also the expiry hook of unanswered attempts: a flow ending FLOW_END_IDLE or
 * FLOW_END_EVICTED without FLOWF_REPLIED never got a packet back.
 */
typedef void (*flow_end_cb)(struct flow *f, enum flow_end why, void *ctx);

struct flow_table;

/* New table; cb/ctx borrowed for the table's life. NULL on allocation failure. */
struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_cb cb,
    void *ctx);

/* Ends every flow (FLOW_END_FLUSH) and frees the table. NULL is a no-op. */
void flow_table_free(struct flow_table *t);

/*
 * Finds or creates the flow of a decoded IP packet (p->ts_us is its time)
 * and updates its counters. *dir gets FLOW_FWD or FLOW_REV, *created whether
 * the flow is new (the engine then fills customer/init_is_customer). When the
 * table is full the least recently seen flow is evicted first. Returns NULL
 * only if memory is exhausted (counted).
 */
struct flow *flow_table_packet(struct flow_table *t, const struct pkt *p,
    int *dir, bool *created);

/* Ends flows idle past their timeout at packet time now_us. Cheap: O(expired). */
void flow_table_expire(struct flow_table *t, uint64_t now_us);

struct flow_stats {
	uint64_t active;
	uint64_t created;
	uint64_t evicted;
	uint64_t alloc_failed;
};
void flow_table_stats(const struct flow_table *t, struct flow_stats *out);

/* Calls fn for every live flow (read-only use, e.g. inspect); stops if fn returns non-zero. */
void flow_table_walk(struct flow_table *t, int (*fn)(struct flow *f, void *ctx),
    void *ctx);

#endif
