/* fuzz-sources: probe/decode.c probe/customer.c probe/detect.c probe/detect_scan.c probe/detect_flowind.c probe/covert.c probe/dnstunnel.c probe/sketch.c probe/baseline.c */
/* fuzz-libs: libndpi */
/* fuzz-flags: -close_fd_mask=2 */
/* fuzz_thresholds.c: libFuzzer target for the detectors' thresholds file (--thresholds), then a short scan under the loaded thresholds. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "customer.h"
#include "decode.h"
#include "detect.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input goes into a memfd that detect_load_thresholds opens by path: no disk writes. */
static int fz_fd = -1;
static char fz_path[64];
static struct customer_map *fz_map;

static void
fz_event(const struct gw_event *ev, void *ctx)
{
	size_t *n = ctx;

	if (ev->kind[0] == '\0' || memchr(ev->detail, '\0', sizeof(ev->detail)) == NULL)
		abort();
	(*n)++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[128];

	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_LVL_ERR, false);
	if ((fz_fd = memfd_create("fuzz_thresholds", 0)) < 0)
		abort();
	snprintf(fz_path, sizeof(fz_path), "/proc/self/fd/%d", fz_fd);
	if ((fz_map = customer_map_new()) == NULL ||
	    customer_map_add(fz_map, "c1", "prefix", "10.0.1.0/24", err, sizeof(err)) != 0 ||
	    customer_map_add(fz_map, "c2", "prefix", "10.0.2.0/24", err, sizeof(err)) != 0)
		abort();
	return 0;
}

/* An Ethernet + IPv4 + TCP SYN from 192.0.2.9 to dst, port dport. */
static size_t
fz_syn(uint8_t *f, uint8_t dst_net, uint8_t dst_host, uint16_t dport)
{
	static const uint8_t hdr[] = {
		2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 192, 0, 2, 9, 10, 0, 0, 0,
		0x9c, 0x40, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0,
	};

	memcpy(f, hdr, sizeof(hdr));
	f[32] = dst_net;
	f[33] = dst_host;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	return sizeof(hdr);
}

/*
 * Input: the text of a thresholds file. Whatever it sets (accepted or not),
 * a port scan, a host sweep and an inter-customer burst then run through the
 * detectors, and a clock jump clears them.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t now_us = 1700000000ULL * 1000000;
	size_t events = 0, len;
	struct detect *d;
	uint8_t frame[64];
	int i;

	if (ftruncate(fz_fd, 0) != 0 ||
	    (size > 0 && pwrite(fz_fd, data, size, 0) != (ssize_t)size))
		abort();
	if ((d = detect_new_shrunk(fz_map, fz_event, &events, 4)) == NULL)
		return 0;
	(void)detect_load_thresholds(d, fz_path);
	for (i = 0; i < 48; i++) {
		struct customer_match m;
		struct pkt p;

		len = i < 16 ? fz_syn(frame, 1, 5, (uint16_t)(i + 1)) :
		    i < 32 ? fz_syn(frame, 1, (uint8_t)i, 445) : fz_syn(frame, 2, 7, 22);
		if (i >= 32) {
			frame[26] = 10;          /* source 10.0.1.3: c1 -> c2 */
			frame[27] = 0;
			frame[28] = 1;
			frame[29] = 3;
		}
		if (!decode_is_ip(decode_packet(1 /* DLT_EN10MB */, frame, (uint32_t)len, &p)))
			abort();
		now_us += 20000;
		p.ts_us = now_us;
		m = customer_lookup(fz_map, &p);
		detect_packet_flow(d, &p, &m, DETECT_FIRST);
	}
	detect_tick(d, now_us + 400000000ULL);
	detect_free(d);
	return 0;
}
