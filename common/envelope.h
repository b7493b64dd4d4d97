/* envelope.h: encode/decode gw_msg <-> protobuf Envelope; the only user of protobuf-c. */
#ifndef GW_ENVELOPE_H
#define GW_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"

/*
 * Encodes m into a newly malloc'd buffer. On success returns 0, stores the
 * buffer in *out (caller frees with free()) and its length in *len.
 * Returns -1 (nothing allocated) if m is invalid (bad ids, no body) or the
 * encoding exceeds GW_ENVELOPE_MAX.
 */
int envelope_encode(const struct gw_msg *m, uint8_t **out, size_t *len);

/*
 * Decodes len bytes of untrusted input into *m (which is overwritten).
 * Validates: protobuf well-formed, version == GW_PROTO_VERSION, probe id
 * valid, exactly one body, every string fits its field, customer ids valid,
 * at most GW_CUSTOMERS_MAX customers. Returns 0 on success (release with
 * gw_msg_clear()); on failure returns -1, leaves *m cleared and writes a
 * short reason to err (errlen bytes, NUL-terminated) when err is not NULL.
 */
int envelope_decode(const uint8_t *buf, size_t len, struct gw_msg *m,
    char *err, size_t errlen);

/* Frees what envelope_decode() allocated inside m and zeroes m. NULL is a no-op. */
void gw_msg_clear(struct gw_msg *m);

#endif
