/* fuzz-sources: probe/enforcer/request.c */
/* fuzz-sources: probe/enforcer/banlist.c */
/* fuzz_enforcer_req.c: libFuzzer target: bytes in as one gatewatch-enforcer request (and reply); checks what request_check accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enforcer/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted request must be exactly what request_init would build from its fields. */
static void check_accepted(const uint8_t *buf, const struct wire_request *r)
{
	struct wire_request again;
	struct banlist_prefix p;
	bool has_prefix = r->op == WIRE_OP_ALLOW || r->op == WIRE_OP_BAN || r->op == WIRE_OP_UNBAN;

	if (r->magic != WIRE_MAGIC || r->op < WIRE_OP_HELLO || r->op >= WIRE_OP_END)
		abort();
	request_prefix(r, &p);
	if (has_prefix && !banlist_prefix_canonical(&p))
		abort();
	if (r->op == WIRE_OP_BAN && (r->timeout_s == 0 || r->timeout_s > BANLIST_TIMEOUT_MAX_S))
		abort();
	if (r->op == WIRE_OP_LIST && (r->limit == 0 || r->limit > WIRE_LIST_MAX))
		abort();
	request_init(&again, (enum wire_op)r->op, has_prefix ? &p : NULL);
	again.seq = r->seq;
	again.timeout_s = r->timeout_s;
	again.limit = r->limit;
	if (memcmp(&again, buf, sizeof(again)) != 0)
		abort();     /* some byte was accepted without being checked */
	if (request_check(&again, sizeof(again), NULL, NULL, 0) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);   /* exact size: ASan sees over-reads */
	struct wire_request r;
	struct wire_reply rp;
	char why[128];

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (request_check(buf, size, &r, why, sizeof(why)) == 0)
		check_accepted(buf, &r);
	else if (memchr(why, '\0', sizeof(why)) == NULL)
		abort();
	if (request_reply_check(buf, size, &rp) == 0 &&
	    memchr(rp.message, '\0', sizeof(rp.message)) == NULL)
		abort();
	free(buf);
	return 0;
}
