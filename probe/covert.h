/*
 * covert.h: TCP covert-channel indicators scored per flow direction:
 * information hidden in header fields (ISN, IP ID, TTL, window, urgent
 * pointer, reserved bits) and in inter-packet timing.
 */
#ifndef GW_COVERT_H
#define GW_COVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* Indicator bits of a finding (covert_reasons names them). */
#define COVERT_R_RESERVED 0x01   /* TCP reserved bits set (not the ECN bits) */
#define COVERT_R_URGPTR   0x02   /* urgent pointer non-zero without URG */
#define COVERT_R_ISN      0x04   /* SYN whose ISN has its low 24 bits zero (byte in the top) */
#define COVERT_R_IPID     0x08   /* IPv4 IDs with the low byte zero, packet after packet */
#define COVERT_R_TTL      0x10   /* TTL modulated within one flow direction */
#define COVERT_R_WINDOW   0x20   /* window changes on pure ACKs that acknowledge nothing new */
#define COVERT_R_TIMING   0x40   /* inter-packet gaps in two distinct clusters (timing channel) */

/* Points each indicator adds to a flow direction's score (at most once, except per-packet ones). */
#define COVERT_PTS_PER_PACKET 5  /* reserved bits, urgent pointer: per packet, capped at 10 */
#define COVERT_PTS_ISN        5
#define COVERT_PTS_PATTERN   10  /* IP ID, TTL, window, timing */

struct covert_finding {
	struct gw_addr src, dst;     /* the sending side of the flow direction */
	uint16_t sport, dport;
	unsigned score;
	unsigned reasons;            /* COVERT_R_* */
	uint32_t packets;            /* packets of the direction seen */
};

struct covert;

/*
 * New scorer holding at most slots flow directions (fixed memory; the
 * least recently seen entry of a full bucket is replaced). NULL on ENOMEM
 * or slots == 0.
 */
struct covert *covert_new(size_t slots);

/* Frees c; NULL is a no-op. */
void covert_free(struct covert *c);

/*
 * Scores one packet (only TCP over IPv4/IPv6 with its header captured is
 * looked at; only the first 512 packets of a flow direction are scored). Returns true when the packet's flow direction has a score of
 * at least threshold (every such packet: the caller turns it into an alarm
 * and keeps it alive); *out is filled then. Reads only inside p's captured
 * bytes.
 */
bool covert_packet(struct covert *c, const struct pkt *p, double threshold,
    struct covert_finding *out);

/* Writes the names of reasons ("ttl,timing") into buf; returns buf. */
char *covert_reasons(unsigned reasons, char *buf, size_t len);

/* Bytes held by c. */
size_t covert_memory(const struct covert *c);

#endif
