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
	bool auto_budget;    /* max_pps set by shed_auto_update (max_pps ignored) */
	double target_share; /* auto: capture thread's share of one core; 0 = 0.8 */
};

/*
 * Automatic budget. The engine measures, for each 100 ms of packet time, the
 * CPU time its thread spent on it (so live it is the share of a core the
 * capture needs to keep up; a replay measures the same as if the capture
 * arrived at its recorded speed) and times a sample of the DPI/QoS work.
 * From these, shed_auto_update sets the budget so that the thread stays at
 * target_share of one core: the CPU left after the work that does not shed
 * (decode, flows, counters, output) divided by the cost of one packet's
 * DPI/QoS. Until a first window is measured, and while the load fits, the
 * budget is unlimited (nothing is shed); it drops at once when a window
 * needs more than the target, and while a budget is in force the share it
 * gave corrects the model (by a fifth at most per window, to 1/20 at most:
 * costs that follow admitted flows outside the timed work); it grows by
 * half at most per window, and is
 * unlimited again once it exceeds the work offered (DPI/QoS done + shed) by
 * a quarter while the load fits.
 */
struct shed_load {
	uint64_t window_us;        /* packet time measured */
	uint64_t cpu_us;           /* capture thread CPU time spent on it */
	uint64_t work_packets;     /* packets given DPI/QoS in the window */
	uint64_t shed_packets;     /* packets of shed flows in the window */
	uint64_t sample_ns;        /* time of the timed sample of DPI/QoS work ... */
	uint64_t samples;          /* ... and how many packets it covers */
};

#define SHED_REASON_MAX 256

struct shed_stats {
	uint64_t admitted_flows;
	uint64_t shed_flows;
	uint64_t budget_pps;       /* budget in force; 0 = unlimited */
	double   work_ns;          /* auto: estimated DPI/QoS cost per packet */
	double   load_share;       /* auto: last window's CPU / packet time */
	uint64_t starts;           /* times shedding started: a flow shed after a window (auto)
	                              or a full bucket (fixed) without */
	char     reason[SHED_REASON_MAX]; /* why shedding last started; "" if never */
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

/*
 * Auto mode: takes one window's load and sets the budget (no-op without
 * auto_budget or with an empty window). Returns the budget in force,
 * packets per second, 0 = unlimited.
 */
uint64_t shed_auto_update(struct shed *s, const struct shed_load *l);

void shed_get_stats(const struct shed *s, struct shed_stats *out);

#endif
