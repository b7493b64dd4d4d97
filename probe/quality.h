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

#endif
