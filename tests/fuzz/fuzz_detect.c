/* fuzz-sources: probe/decode.c probe/customer.c probe/detect.c probe/detect_scan.c probe/detect_flowind.c probe/covert.c probe/dnstunnel.c probe/sketch.c probe/baseline.c */
/* fuzz-libs: libndpi */
/* fuzz_detect.c: libFuzzer target for the detectors' per-packet paths (scans, slow scans, covert channels, DNS tunnels) fed a packet sequence. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "customer.h"
#include "decode.h"
#include "detect.h"
#include "dnstunnel.h"
#include "fuzz_frames.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Detector tables 2^FZ_SHRINK times smaller than a probe's: the same code
 * paths, more collisions and full tables, and per-input setup of ~60 KiB
 * instead of ~1 MiB (2k -> 10k+ exec/s).
 */
#define FZ_SHRINK 4

/*
 * Customers by prefix (c1 and c3 IPv4 so that inter-customer traffic exists,
 * c2 IPv6), everything else the Internet: read-only, built once.
 */
static struct customer_map *fz_map;

static void
fz_event(const struct gw_event *ev, void *ctx)
{
	size_t *n = ctx;

	if (ev->kind[0] == '\0' || memchr(ev->detail, '\0', sizeof(ev->detail)) == NULL)
		abort();
	(*n)++;
}

/*
 * Input: one byte of options (bit 0: thresholds of 0-2 so that every alarm
 * path runs; bit 1: no hold-down), then records of [len_hi][len_lo][gap_ms]
 * [frame...]: an Ethernet frame of len bytes arriving gap_ms after the
 * previous one, copied into an exact-size heap buffer so ASan sees any
 * over-read. The low bits of gap_ms are the frame's flow flags.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[128];

	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_LVL_ERR, false);   /* full tables log at info */
	if ((fz_map = customer_map_new()) == NULL ||
	    customer_map_add(fz_map, "c1", "prefix", "10.0.1.0/24", err, sizeof(err)) != 0 ||
	    customer_map_add(fz_map, "c2", "prefix", "2001:db8:2::/48", err, sizeof(err)) != 0 ||
	    customer_map_add(fz_map, "c3", "prefix", "10.0.2.0/24", err, sizeof(err)) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct customer_map *map = fz_map;
	struct detect *d;
	uint64_t now_us = 1700000000ULL * 1000000;
	size_t off = 1, events = 0, len;
	uint8_t *frame, gap_ms;

	if (size < 1 || (d = detect_new_shrunk(map, fz_event, &events, FZ_SHRINK)) == NULL)
		return 0;
	if (data[0] & 1) {
		detect_set_threshold(d, "port_scan.ports", 2);
		detect_set_threshold(d, "host_sweep.hosts", 2);
		detect_set_threshold(d, "slow_scan.failures", 1);
		detect_set_threshold(d, "covert.score", 1);
		detect_set_threshold(d, "dns_tunnel.queries", 1);
		detect_set_threshold(d, "syn_flood.rx.pps", 1);
		detect_set_threshold(d, "unusual_port.pps", 1);
		detect_set_threshold(d, "spike.min_bps", 0);
		detect_set_threshold(d, "spike.warmup_s", 2);
		detect_set_threshold(d, "hysteresis.clear_s", 0.1);
	}
	if (detect_allow_port(d, "c1", 443) != 0 || detect_allow_port(d, "c3", 22) != 0)
		abort();
	if (data[0] & 2)
		detect_set_threshold(d, "hysteresis.holddown_s", 0);
	while (fz_next_frame(data, size, &off, &frame, &len, &gap_ms)) {
		struct customer_match m;
		struct dnstunnel_name n;
		struct pkt p;

		now_us += (uint64_t)(gap_ms >> 2) * 100000;
		if (decode_is_ip(decode_packet(1 /* DLT_EN10MB */, frame, (uint32_t)len, &p))) {
			p.ts_us = now_us;
			m = customer_lookup(map, &p);
			detect_packet_flow(d, &p, &m, gap_ms & 3);
			if (p.payload != NULL)
				dnstunnel_parse(p.payload, p.payload_caplen, &n);
		}
		free(frame);
	}
	detect_tick(d, now_us + 400000000ULL);
	detect_free(d);
	return 0;
}
