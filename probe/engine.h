/* engine.h: the per-packet pipeline: decode -> customer -> flow -> detect -> dpi -> quality -> interval. */
#ifndef GW_ENGINE_H
#define GW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "customer.h"
#include "decode.h"
#include "detect.h"
#include "dpi.h"
#include "flow.h"
#include "gwmsg.h"
#include "shed.h"

/*
 * Where the engine's output goes. Every pointer passed to a callback is
 * borrowed for the call. stats may complete r->health (pcap counters, CPU)
 * before using it. flow may be NULL: then no flow records are built.
 */
struct engine_sink {
	void (*stats)(struct gw_stats_report *r, void *ctx);
	void (*event)(const struct gw_event *ev, void *ctx);
	void (*flow)(const struct gw_flow_record *fr, void *ctx);
	void *ctx;
};

struct engine_config {
	const struct customer_map *map;   /* borrowed for the engine's life */
	int dlt;                          /* pcap link type of the frames */
	uint64_t interval_us;             /* 0 = 1 s */
	struct flow_config flow;
	struct dpi_config dpi;
	struct shed_config shed;          /* load shedding of DPI/QoS; zero = off; auto_budget:
	                                     budget from the thread's CPU per s of packet time */
	const char *thresholds_path;      /* NULL = detector defaults; borrowed */
	struct engine_sink sink;
};

/* One captured frame; data borrowed for the call. */
struct engine_frame {
	uint64_t ts_us;
	uint32_t caplen;
	uint32_t wirelen;
	const uint8_t *data;
};

struct engine_counters {
	uint64_t packets;                     /* frames seen */
	uint64_t ip_packets;                  /* decode_is_ip */
	uint64_t ip_bytes;
	uint64_t by_result[DECODE_RESULT_MAX];/* per decode_result */
	uint64_t attack_packets;              /* flagged by detect, DPI/quality skipped */
	uint64_t shed_packets;                /* of shed flows: DPI/quality skipped (load) */
	uint64_t shed_flows;
	uint64_t shed_starts;                 /* episodes of shedding (each logged with its reason) */
	uint64_t reports;                     /* stats reports emitted */
	uint64_t flows_created;
};

struct engine;

/* New engine; NULL on failure (logged). */
struct engine *engine_new(const struct engine_config *cfg);

/*
 * Runs one frame through the pipeline. Closes the intervals the frame's time
 * has passed (at most a few empty ones across a time gap) first.
 */
void engine_packet(struct engine *e, const struct engine_frame *fr);

/*
 * Wall-clock tick (live mode): closes the current interval when now_us is
 * past its end (plus a small grace for packets still in kernel buffers).
 */
void engine_tick(struct engine *e, uint64_t now_us);

/*
 * End of capture: closes the current interval (if any packet was seen),
 * then ends every flow (flow records with reason "end"). Idempotent.
 */
void engine_finish(struct engine *e);

/* Frees everything (calls engine_finish first). NULL is a no-op. */
void engine_free(struct engine *e);

void engine_get_counters(const struct engine *e, struct engine_counters *out);

/* Fills the engine's part of a health record (decode errors, flows, shed budget). */
void engine_fill_health(const struct engine *e, struct gw_health *h);

/*
 * The shedding budget in force, packets/s (0 = unlimited); with reason,
 * copies why shedding last started ("" if it never did) into it.
 */
uint64_t engine_shed_budget(const struct engine *e, char *reason, size_t reason_len);

/* Borrowed sub-modules, for the control module (NULL after engine_finish for flows). */
struct flow_table *engine_flows(struct engine *e);
struct detect *engine_detect(struct engine *e);
const struct dpi *engine_dpi(const struct engine *e);
const struct customer_map *engine_map(const struct engine *e);

#endif
