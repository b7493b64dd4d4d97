/* request.c: checks and builds the fixed-size requests and replies of the enforcer wire protocol. */
#include <stdio.h>
#include <string.h>

#include "request.h"

_Static_assert(sizeof(struct wire_request) == 48, "wire_request has padding");
_Static_assert(sizeof(struct wire_entry) == 24, "wire_entry has padding");
_Static_assert(sizeof(struct wire_reply) == 24 + GW_TEXT_MAX + 24 * WIRE_LIST_PER_REPLY,
    "wire_reply has padding");

static int request_fail(char *why, size_t whylen, const char *reason)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
	return -1;
}

static bool request_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Checks family/addr/prefix_len for the ops that carry a prefix. */
static int request_check_prefix(const struct wire_request *r, char *why, size_t whylen)
{
	struct banlist_prefix p;

	if (r->family != 4 && r->family != 6)
		return request_fail(why, whylen, "family is not 4 or 6");
	if (r->prefix_len > (r->family == 4 ? 32 : 128))
		return request_fail(why, whylen, "prefix length too long for the family");
	request_prefix(r, &p);
	if (r->family == 4 && !request_zero(r->addr + 4, 12))
		return request_fail(why, whylen, "IPv4 address with bytes after the fourth");
	if (!banlist_prefix_canonical(&p))
		return request_fail(why, whylen, "address has host bits set");
	return 0;
}

/* See request.h. */
int request_check(const void *buf, size_t len, struct wire_request *out,
    char *why, size_t whylen)
{
	struct wire_request r;
	bool has_prefix;

	if (buf == NULL || len != sizeof(r))
		return request_fail(why, whylen, "request of the wrong size");
	memcpy(&r, buf, sizeof(r));
	if (r.magic != WIRE_MAGIC)
		return request_fail(why, whylen, "bad magic (protocol version)");
	if (r.op < WIRE_OP_HELLO || r.op >= WIRE_OP_END)
		return request_fail(why, whylen, "unknown op");
	if (!request_zero(r.reserved, sizeof(r.reserved)))
		return request_fail(why, whylen, "reserved bytes not zero");
	has_prefix = r.op == WIRE_OP_ALLOW || r.op == WIRE_OP_BAN || r.op == WIRE_OP_UNBAN;
	if (has_prefix && request_check_prefix(&r, why, whylen) != 0)
		return -1;
	if (!has_prefix && (r.family != 0 || r.prefix_len != 0 ||
	    !request_zero(r.addr, sizeof(r.addr))))
		return request_fail(why, whylen, "address fields set for an op without one");
	if (r.op == WIRE_OP_BAN && (r.timeout_s == 0 || r.timeout_s > BANLIST_TIMEOUT_MAX_S))
		return request_fail(why, whylen, "timeout not within 1 s .. 7 days");
	if (r.op != WIRE_OP_BAN && r.timeout_s != 0)
		return request_fail(why, whylen, "timeout set for an op other than ban");
	if (r.op == WIRE_OP_LIST && (r.limit == 0 || r.limit > WIRE_LIST_MAX))
		return request_fail(why, whylen, "list limit not within 1 .. 100000");
	if (r.op != WIRE_OP_LIST && r.limit != 0)
		return request_fail(why, whylen, "limit set for an op other than list");
	if (out != NULL)
		*out = r;
	return 0;
}

/* See request.h. */
void request_prefix(const struct wire_request *r, struct banlist_prefix *out)
{
	memset(out, 0, sizeof(*out));
	out->addr.family = r->family;
	memcpy(out->addr.a, r->addr, sizeof(r->addr));
	out->len = r->prefix_len;
}

/* See request.h. */
void request_init(struct wire_request *r, enum wire_op op, const struct banlist_prefix *p)
{
	memset(r, 0, sizeof(*r));
	r->magic = WIRE_MAGIC;
	r->op = (uint16_t)op;
	if (p != NULL) {
		r->family = p->addr.family;
		r->prefix_len = (uint8_t)p->len;
		memcpy(r->addr, p->addr.a, sizeof(r->addr));
	}
}

/* See request.h. */
int request_reply_check(const void *buf, size_t len, struct wire_reply *out)
{
	size_t i;

	if (buf == NULL || out == NULL || len != sizeof(*out))
		return -1;
	memcpy(out, buf, sizeof(*out));
	if (out->magic != WIRE_MAGIC || (out->status != 0 && out->status != -1) ||
	    out->more > 1 || memchr(out->message, '\0', sizeof(out->message)) == NULL)
		return -1;
	if (out->count > WIRE_LIST_PER_REPLY)
		return -1;
	for (i = 0; i < out->count; i++) {
		const struct wire_entry *e = &out->entries[i];

		if ((e->family != 4 && e->family != 6) ||
		    e->prefix_len > (e->family == 4 ? 32 : 128))
			return -1;
	}
	return 0;
}

/* See request.h. */
const char *request_op_name(unsigned op)
{
	static const char *const names[WIRE_OP_END] = {
		[WIRE_OP_HELLO] = "hello", [WIRE_OP_ALLOW] = "allow", [WIRE_OP_BAN] = "ban",
		[WIRE_OP_UNBAN] = "unban", [WIRE_OP_LIST] = "list", [WIRE_OP_COUNT] = "count",
		[WIRE_OP_SHUTDOWN] = "shutdown",
	};

	return op > 0 && op < WIRE_OP_END ? names[op] : "?";
}
