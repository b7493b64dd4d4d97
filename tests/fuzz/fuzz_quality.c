/* fuzz-sources: probe/decode.c probe/flow.c probe/quality.c probe/quality_rtp.c probe/quality_sdp.c probe/quality_tcp.c probe/quality_dns.c probe/quality_hist.c probe/quality_pool.c probe/quality_acc.c */
/* fuzz_quality.c: libFuzzer target for the QoS parsers (RTP, SIP/SDP, DNS, TCP) fed a packet sequence. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flow.h"
#include "fuzz_frames.h"
#include "quality.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	struct quality *q;
};

/*
 * One flow table for the whole run (its mmap'd slots, bucket array and hash
 * seed cost two system calls and page faults per table): every input ends
 * all its flows, so the next one starts from an empty table.
 */
static struct flow_table *fz_table;
static struct fz fz_ctx;

static void
fz_flow_end(struct flow *f, enum flow_end why, void *ctx)
{
	struct fz *z = ctx;
	struct gw_flow_record rec;

	memset(&rec, 0, sizeof(rec));
	quality_flow_end(z->q, f, why, &rec);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct flow_config cfg = { .max_flows = 64 };

	(void)argc;
	(void)argv;
	if ((fz_table = flow_table_new(&cfg, fz_flow_end, &fz_ctx)) == NULL)
		abort();
	return 0;
}

/*
 * Input: records of [len_hi][len_lo][gap_ms][frame...]: an Ethernet frame of len bytes
 * arriving gap_ms after the previous one. Every frame is copied into an exact-size heap
 * buffer so ASan sees any over-read. Two customers; direction alternates with the bytes.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_customer_stats cs;
	struct flow_table *t = fz_table;
	struct fz *z = &fz_ctx;
	struct flow_stats st;
	uint64_t now_us = 1700000000ULL * 1000000;
	size_t off = 0, len;
	uint8_t *frame, gap_ms;

	if ((z->q = quality_new(2)) == NULL)
		return 0;
	while (fz_next_frame(data, size, &off, &frame, &len, &gap_ms)) {
		struct pkt p;
		struct flow *f;
		bool created;
		int dir;

		now_us += (uint64_t)gap_ms * 1000;
		memset(&p, 0, sizeof(p));
		p.ts_us = now_us;
		p.caplen = p.wirelen = (uint32_t)len;
		if (decode_is_ip(decode_packet(1 /* DLT_EN10MB */, frame, (uint32_t)len, &p)) &&
		    (f = flow_table_packet(t, &p, &dir, &created)) != NULL) {
			if (created) {
				f->customer = (int32_t)(len & 1);
				f->init_is_customer = (gap_ms & 1) != 0;
			}
			quality_packet(z->q, f, &p, dir);
		}
		free(frame);
		if ((gap_ms & 0x3f) == 0x3f) {
			quality_interval(z->q, 0, now_us, &cs);
			quality_interval(z->q, 1, now_us, &cs);
			flow_table_expire(t, now_us);
		}
	}
	quality_interval(z->q, 0, now_us, &cs);
	/* Past every timeout: all flows end (their records go to quality). */
	flow_table_expire(t, now_us + 1000000ULL * 86400 * 365);
	flow_table_stats(t, &st);
	if (st.active != 0)
		abort();
	quality_free(z->q);
	return 0;
}
