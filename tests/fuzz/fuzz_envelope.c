/* fuzz_envelope.c: libFuzzer target for envelope_decode(); decoded messages must round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Re-encodes a decoded message; decoding and encoding that again must give
 * the same bytes (the canonical form is a fixed point; comparing bytes rather
 * than structs lets -0.0, which proto3 omits, come back as 0.0). Re-encoding
 * may grow an input near GW_ENVELOPE_MAX (omitted sub-messages come back as
 * empty ones), so only smaller inputs must re-encode.
 */
static void
fuzz_roundtrip(const struct gw_msg *m, size_t in_len)
{
	struct gw_msg again;
	uint8_t *buf, *buf2;
	size_t len, len2;

	if (envelope_encode(m, &buf, &len) != 0) {
		if (in_len < GW_ENVELOPE_MAX / 2)
			abort();	/* what decode accepts must be encodable */
		return;
	}
	if (envelope_decode(buf, len, &again, NULL, 0) != 0)
		abort();
	if (again.type != m->type || again.seq != m->seq ||
	    strcmp(again.probe_id, m->probe_id) != 0)
		abort();
	if (envelope_encode(&again, &buf2, &len2) != 0)
		abort();
	if (len2 != len || memcmp(buf, buf2, len) != 0)
		abort();
	gw_msg_clear(&again);
	free(buf);
	free(buf2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_msg m;
	char err[128];
	uint8_t *copy;

	/* Exact-size copy so ASan sees any read past the end. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	if (envelope_decode(size > 0 ? copy : NULL, size, &m, err,
	    sizeof(err)) == 0) {
		fuzz_roundtrip(&m, size);
		gw_msg_clear(&m);
	} else if (err[0] == '\0') {
		abort();	/* every rejection says why */
	}
	free(copy);
	return 0;
}
