/* shed.h: load shedding: how many packets per second (packet time) get the expensive work (DPI, QoS). */
#ifndef GW_SHED_H
#define GW_SHED_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A token bucket refilled by packet time, so a replay sheds exactly what the
 * live capture shed. Byte and packet counters never depend on it: only DPI
 * and quality measurement are skipped. The decision is per flow: a new flow
 * arriving when the bucket is empty is shed for its whole life (its quality
 * figures would be wrong with packets missing), while packets of admitted
 * flows always get the work and are charged to the bucket. Under a flood of
 * new flows (spoofed sources), flows already measured keep being measured.
 */
struct shed_config {
	uint64_t max_pps;    /* expensive packets per second; 0 = never shed */
	uint64_t burst;      /* bucket size in packets; 0 = max_pps / 10 (at least 1) */
};

struct shed_stats {
	uint64_t admitted_flows;
	uint64_t shed_flows;
};

struct shed;

/* New bucket, full. NULL when out of memory. */
struct shed *shed_new(const struct shed_config *cfg);

/* NULL is a no-op. */
void shed_free(struct shed *s);

/*
 * Decides for a packet at ts_us of a flow: new_flow = its first packet.
 * Returns true when the packet gets DPI/QoS (then it is charged), false
 * when a new flow is shed. Always true with max_pps 0. Packet time going
 * backwards refills nothing.
 */
bool shed_admit(struct shed *s, uint64_t ts_us, bool new_flow);

void shed_get_stats(const struct shed *s, struct shed_stats *out);

#endif
