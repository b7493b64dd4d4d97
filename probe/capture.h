/* capture.h: packet capture with libpcap (live interface or file); the only libpcap user. */
#ifndef GW_CAPTURE_H
#define GW_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct capture_config {
	const char *iface;       /* live capture interface, or NULL; borrowed */
	const char *file;        /* offline capture file, or NULL; borrowed */
	const char *filter;      /* BPF expression, or NULL; borrowed */
	int snaplen;             /* 0 = 65535 */
	bool promisc;            /* live: promiscuous mode (default on) */
	bool immediate;          /* live: deliver packets at once (else batched per timeout_ms) */
	int buffer_mb;           /* live: kernel buffer size, 0 = CAPTURE_BUFFER_MB
	                            (libpcap's 2 MiB with immediate) */
	int timeout_ms;          /* live: read timeout, 0 = CAPTURE_TIMEOUT_MS */
};

/*
 * Live read timeout: with TPACKET_V3 the kernel hands over a partly filled
 * block only after this long, so it bounds how late a packet (the first of
 * an attack) reaches the probe. 100 ms made half of the 50 ms budget for
 * attack start -> event; 10 ms costs at most 100 more wakeups a second.
 * But libpcap cuts its buffer into 256 KiB blocks and a block retires after
 * the timeout however little it holds: libpcap's default 2 MiB (8 blocks)
 * would ride out only 80 ms of a descheduled probe at a low packet rate (a
 * 150 ms SIGSTOP at 2000 pps lost 118 of 8000 packets; 800 ms with the old
 * 100 ms). CAPTURE_BUFFER_MB (32 blocks: 320 ms at a low rate, 4x the bytes
 * at a high one) is the default instead; the pages are touched only as
 * packets fill them.
 */
#define CAPTURE_TIMEOUT_MS 10
#define CAPTURE_BUFFER_MB  8

/* One captured packet; data is valid only during the callback. */
struct capture_pkt {
	uint64_t ts_us;
	uint32_t caplen;
	uint32_t wirelen;
	const uint8_t *data;
};

typedef void (*capture_cb)(const struct capture_pkt *pkt, void *ctx);

struct capture;

/* Opens the live interface or the file and applies the filter. NULL on error (logged). */
struct capture *capture_open(const struct capture_config *cfg);
void capture_close(struct capture *c);

/* Link type (DLT_*) of the packets. */
int capture_datalink(const struct capture *c);

/* True for offline (file) captures. */
bool capture_is_offline(const struct capture *c);

/*
 * Reads up to max packets (max <= 0: one buffer's worth in live mode, 4096
 * offline) and calls cb for each. Live mode does not block (poll capture_fd
 * first). Returns the number of packets handled, 0 when none were ready,
 * -1 at the end of a file or on a read error (logged; a file cut short is
 * an error after its readable packets were delivered), -2 after
 * capture_break.
 */
int capture_dispatch(struct capture *c, int max, capture_cb cb, void *ctx);

/* Makes a running capture_dispatch return (safe from a signal handler). */
void capture_break(struct capture *c);

/* Selectable file descriptor for poll() in live mode, -1 offline. */
int capture_fd(const struct capture *c);

struct capture_stats {
	uint64_t received;
	uint64_t dropped;
	uint64_t if_dropped;
};

/* Kernel counters (live mode; offline: received = packets read). 0 or -1. */
int capture_stats(struct capture *c, struct capture_stats *out);

#endif
