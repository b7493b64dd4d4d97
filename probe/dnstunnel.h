/*
 * dnstunnel.h: DNS tunnelling indicator. Queries (UDP to port 53) are
 * parsed for their name; per (client, domain) over 60 s windows it counts
 * tunnel-like queries (long or high-entropy labels, bytes no hostname
 * carries) and distinct names, the query volume a tunnel needs.
 */
#ifndef GW_DNSTUNNEL_H
#define GW_DNSTUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

#define DNSTUNNEL_NAME_MAX   256   /* a DNS name in dotted text, NUL included */
#define DNSTUNNEL_DOMAIN_MAX 64

/* One parsed query name. */
struct dnstunnel_name {
	char text[DNSTUNNEL_NAME_MAX];  /* dotted; bytes outside [!-~] shown as '?' */
	size_t len;                     /* length of text */
	unsigned labels;
	unsigned max_label;             /* longest label, bytes */
	size_t sub_len;                 /* bytes before the domain (dots included) */
	size_t domain_off;              /* offset of the domain (last two labels, three
	                                   for co.uk-style suffixes) in text */
	bool odd_bytes;                 /* a label byte outside letters, digits, '-', '_' */
	double max_entropy;             /* Shannon entropy of the longest label, bits per
	                                   byte; computed only when it decides (labels of
	                                   20-29 bytes of host-name bytes), else 0 */
	uint16_t qtype;
};

struct dnstunnel_finding {
	struct gw_addr client, server;
	char domain[DNSTUNNEL_DOMAIN_MAX];
	uint32_t domain_hash;    /* of the whole domain (domain may be cut short) */
	uint32_t queries;        /* queries to the domain in the window */
	uint32_t suspicious;     /* tunnel-like ones */
	uint32_t distinct;       /* distinct names (estimate) */
	unsigned max_label;
};

struct dnstunnel;

/* New indicator with room for slots (client, domain) pairs; NULL on ENOMEM or slots < 4. */
struct dnstunnel *dnstunnel_new(size_t slots);

/* Frees t; NULL is a no-op. */
void dnstunnel_free(struct dnstunnel *t);

/*
 * Parses the question name of DNS message msg (len bytes, untrusted) into
 * *out. Returns 0, or -1 when msg is not a query with one readable
 * uncompressed name. Never reads outside msg[0..len).
 */
int dnstunnel_parse(const uint8_t *msg, size_t len, struct dnstunnel_name *out);

/* True when a parsed name looks like tunnel payload rather than a host name. */
bool dnstunnel_suspicious(const struct dnstunnel_name *n);

/*
 * Accounts one packet (only UDP to port 53 is looked at). Returns true when
 * the (client, domain) pair has, in its current window, at least threshold
 * tunnel-like queries or 2 * threshold distinct names with an average of
 * 12+ bytes before the domain; *out is filled then (every such packet).
 */
bool dnstunnel_packet(struct dnstunnel *t, const struct pkt *p, double threshold,
    struct dnstunnel_finding *out);

/* Bytes held by t. */
size_t dnstunnel_memory(const struct dnstunnel *t);

#endif
