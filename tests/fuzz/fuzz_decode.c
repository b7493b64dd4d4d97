/* fuzz-sources: probe/decode.c */
/* fuzz_decode.c: libFuzzer target for decode_packet: first byte picks the link type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Link types as libpcap numbers them on Linux (DLT_RAW is 12, DLT_LOOP 108). */
static const int dlts[] = { 1 /* EN10MB */, 113 /* LINUX_SLL */, 276 /* SLL2 */,
    0 /* NULL */, 108 /* LOOP */, 12 /* RAW */, 101 /* LINKTYPE_RAW */,
    228 /* IPV4 */, 229 /* IPV6 */, 147 /* unsupported */ };

/* Checks the invariants decode.h promises for the view in p. */
static void check(enum decode_result r, const uint8_t *buf, size_t n,
    const struct pkt *p)
{
	if ((unsigned)r >= DECODE_RESULT_MAX)
		abort();
	if (!decode_is_ip(r)) {
		if (p->ip_bytes != 0 || p->has_l4)
			abort();
		return;
	}
	if (p->l3 < buf || p->l3 + p->l3_caplen > buf + n || p->l3_caplen > p->ip_bytes)
		abort();
	if (p->payload != NULL && (p->payload < p->l3 ||
	    p->payload + p->payload_caplen > p->l3 + p->l3_caplen ||
	    p->payload_caplen > p->payload_len))
		abort();
	if (p->n_vlans > 2 || (p->ip_ver != 4 && p->ip_ver != 6))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p;
	uint8_t *buf;
	enum decode_result r;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	buf = malloc(n ? n : 1);         /* exact size: ASan sees any over-read */
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, n);
	r = decode_packet(dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))], buf,
	    (uint32_t)n, &p);
	check(r, buf, n, &p);
	(void)decode_result_name(r);
	free(buf);
	return 0;
}
