/* detect.h: per-customer anomaly detectors (floods, scans, sweeps, slow scans, inter-customer, unusual ports, spikes, covert channels, DNS tunnels). */
#ifndef GW_DETECT_H
#define GW_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "customer.h"
#include "decode.h"
#include "gwmsg.h"

struct detect;

/* Called as soon as a detector fires or clears; ev is borrowed for the call. */
typedef void (*detect_emit_cb)(const struct gw_event *ev, void *ctx);

/*
 * New detector state for the customers of map (borrowed for the detector's
 * life); emit/ctx borrowed. Memory is fixed at creation (sketches), whatever
 * the traffic. NULL on allocation failure.
 */
struct detect *detect_new(const struct customer_map *map, detect_emit_cb emit,
    void *ctx);

/*
 * As detect_new with every sketch, flow, alarm and talker table 2^shrink_log2
 * times smaller (shrink_log2 at most 6; 0 = detect_new): the same code paths
 * with more collisions and full tables, at a fraction of the memory and of
 * the per-100-ms work. For fuzzing.
 */
struct detect *detect_new_shrunk(const struct customer_map *map,
    detect_emit_cb emit, void *ctx, unsigned shrink_log2);
void detect_free(struct detect *d);

/*
 * Feeds one decoded IP packet with its customer match. Returns true when the
 * packet's source is currently flagged as an attacker: the engine then skips
 * DPI and quality work for it and keeps only counters.
 */
bool detect_packet(struct detect *d, const struct pkt *p,
    const struct customer_match *m);

/* flow_flags of detect_packet_flow. */
#define DETECT_FIRST 0x1   /* first packet of its flow in this direction (since its last record) */
#define DETECT_REPLY 0x2   /* the flow's other direction already carried a packet */

/*
 * As detect_packet, for a packet of a tracked flow. Without DETECT_FIRST the
 * packet cannot add a new destination port or host, so the scan and sweep
 * counters skip it; DETECT_FIRST with DETECT_REPLY marks the responder's
 * first packet (a RST there is a rejected attempt, counted for slow scans).
 * Floods, spikes and the other detectors still see every packet.
 */
bool detect_packet_flow(struct detect *d, const struct pkt *p,
    const struct customer_match *m, unsigned flow_flags);

/* A flow that ended without a single packet from its responder. */
struct detect_unanswered {
	struct gw_addr src, dst;      /* initiator, responder */
	uint16_t sport, dport;
	uint8_t ip_proto;
	bool bare_syn;                /* TCP: the initiator sent nothing but SYNs */
	uint64_t last_us;             /* the initiator's last packet (packet time) */
	uint64_t silent_us;           /* packet time since then */
	struct customer_match m;      /* customer match of the initiator's packets */
};

/*
 * Flow-expiry hook for slow scans: an attempt that never got an answer (no
 * SYN/ACK, no RST, no datagram back) is a failed attempt, counted with the
 * rejected ones (RST, ICMP unreachable) per source as distinct (host, port)
 * pairs. Counted only for a TCP flow of bare SYNs or a UDP flow that does
 * not look like a server's answer, to a unicast address, between two
 * different customers (or a customer and the outside), silent for at least
 * 5 s (silent_us), and not part of a fast port_scan or host_sweep of
 * the same source. u is borrowed for the call.
 */
void detect_flow_unanswered(struct detect *d, const struct detect_unanswered *u);

/* Advances detector windows to packet/wall time now_us (emits clear events). */
void detect_tick(struct detect *d, uint64_t now_us);

/*
 * Sets threshold key (e.g. "syn_flood.rx.pps") to value. Returns 0, or -1
 * when the key is unknown or the value out of range.
 */
int detect_set_threshold(struct detect *d, const char *key, double value);

/* Loads "key value" lines from a thresholds file; 0 on success, -1 (logged file:line). */
int detect_load_thresholds(struct detect *d, const char *path);

/*
 * Writes up to max lines describing active alarms and current top talkers
 * (sources toward targets above 1/4 of a flood threshold, over the last second)
 * into lines[i] (GW_TEXT_MAX each); returns how many were written.
 */
size_t detect_inspect(const struct detect *d, char lines[][GW_TEXT_MAX], size_t max);

/*
 * Adds port to the unusual_port allowlist of customer id (NULL = every
 * customer). Inbound connection attempts (TCP SYN) to other ports count as
 * unusual. Returns 0, or -1 when the customer is unknown or its list is full.
 * Thresholds files accept "unusual_port.allow 22,80,443" and
 * "unusual_port.allow.CUSTOMER 22,80".
 */
int detect_allow_port(struct detect *d, const char *customer, uint16_t port);

/* Bytes of memory held by d (fixed at detect_new). */
size_t detect_memory(const struct detect *d);

#endif
