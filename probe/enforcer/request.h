/*
 * request.h: the wire protocol between the probe (probe/enforce.c) and
 * gatewatch-enforcer: fixed-size typed requests and replies over an AF_UNIX
 * SOCK_SEQPACKET socket, one message per datagram. No text travels from the
 * probe to the helper; replies carry a NUL-terminated message for humans.
 */
#ifndef GW_REQUEST_H
#define GW_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "banlist.h"
#include "gwmsg.h"

#define WIRE_MAGIC          0x67774531u  /* "gwE1": version 1 of this protocol */
#define WIRE_LIST_PER_REPLY 32           /* entries in one LIST reply */
#define WIRE_LIST_MAX       100000       /* entries one LIST may ask for */

enum wire_op {
	WIRE_OP_HELLO = 1,    /* answer with the table's set-up result */
	WIRE_OP_ALLOW,        /* add family/addr/prefix_len to the allowlist */
	WIRE_OP_BAN,          /* ban family/addr/prefix_len for timeout_s */
	WIRE_OP_UNBAN,        /* remove the ban of family/addr/prefix_len */
	WIRE_OP_LIST,         /* read up to limit bans back from the kernel */
	WIRE_OP_COUNT,        /* number of live bans in the helper's bookkeeping */
	WIRE_OP_SHUTDOWN,     /* remove the table, answer, exit */
	WIRE_OP_END
};

/*
 * A request: 48 bytes, host byte order except addr. Every field is checked by
 * request_check; fields an op does not use must be zero.
 */
struct wire_request {
	uint32_t magic;       /* WIRE_MAGIC */
	uint32_t seq;         /* echoed in the reply */
	uint16_t op;          /* enum wire_op */
	uint8_t  family;      /* ALLOW/BAN/UNBAN: 4 or 6 */
	uint8_t  prefix_len;  /* ALLOW/BAN/UNBAN: 0..32 or 0..128 */
	uint32_t timeout_s;   /* BAN: 1..BANLIST_TIMEOUT_MAX_S */
	uint32_t limit;       /* LIST: 1..WIRE_LIST_MAX */
	uint8_t  addr[16];    /* network order; IPv4 in addr[0..3]; host bits zero */
	uint8_t  reserved[12]; /* zero */
};

/* One ban read back from the kernel. */
struct wire_entry {
	uint8_t  family;      /* 4 or 6 */
	uint8_t  prefix_len;
	uint8_t  reserved[2];
	int32_t  expires_in_s; /* -1 when nft did not say */
	uint8_t  addr[16];    /* network order */
};

/* A reply: status, message and, for LIST, up to WIRE_LIST_PER_REPLY entries. */
struct wire_reply {
	uint32_t magic;       /* WIRE_MAGIC */
	uint32_t seq;         /* the request's seq (0 when the request was unreadable) */
	int32_t  status;      /* 0 done, -1 refused or failed (message says why) */
	uint32_t count;       /* LIST: entries used in this reply (<= WIRE_LIST_PER_REPLY) */
	uint32_t more;        /* LIST: 1 when another reply with this seq follows */
	uint32_t bans;        /* COUNT: live bans in the helper's bookkeeping */
	char     message[GW_TEXT_MAX];  /* NUL-terminated */
	struct wire_entry entries[WIRE_LIST_PER_REPLY];
};

/*
 * Checks a received request of len bytes: exact size, magic, op in range,
 * and every field valid for the op (see struct wire_request). On success
 * copies it to out and returns 0; otherwise returns -1 with the reason in why.
 * buf is untrusted and only read within len.
 */
int request_check(const void *buf, size_t len, struct wire_request *out,
    char *why, size_t whylen);

/* The prefix carried by a checked ALLOW/BAN/UNBAN request. */
void request_prefix(const struct wire_request *r, struct banlist_prefix *out);

/* Zeroes r and sets magic, op and, when p is not NULL, family/addr/prefix_len. */
void request_init(struct wire_request *r, enum wire_op op, const struct banlist_prefix *p);

/*
 * Checks a received reply of len bytes (exact size, magic, count within
 * bounds, message terminated). 0 and a copy in out, or -1.
 */
int request_reply_check(const void *buf, size_t len, struct wire_reply *out);

/* The name of an op for logs ("ban"), or "?" when out of range. */
const char *request_op_name(unsigned op);

#endif
