/* customer.h: map packets to customers (VLAN, Q-in-Q pair, CIDR prefixes) and direction. */
#ifndef GW_CUSTOMER_H
#define GW_CUSTOMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

#define CUSTOMER_NONE     (-1)
#define CUSTOMER_UNMAPPED 0        /* index of the reserved "unmapped" customer */
#define CUSTOMER_UNMAPPED_ID "unmapped"

struct customer_map;

/*
 * Result of a lookup. A packet belongs to at most two customers: the one it
 * leaves (tx) and the one it reaches (rx); both are set for traffic between
 * two customers' prefixes (inter-customer). A packet matching nobody has
 * tx == CUSTOMER_NONE and rx == CUSTOMER_UNMAPPED.
 */
struct customer_match {
	int tx;     /* customer index the packet comes from, or CUSTOMER_NONE */
	int rx;     /* customer index the packet goes to, or CUSTOMER_NONE */
	bool inter; /* source and destination belong to two different customers */
};

/* New empty map holding only "unmapped" (index 0). NULL on allocation failure. */
struct customer_map *customer_map_new(void);
void customer_map_free(struct customer_map *m);

/*
 * Adds one rule, as in a map file line "ID vlan N", "ID vlan OUTER.INNER",
 * "ID prefix CIDR". Returns 0, or -1 with a message in err that quotes the bad
 * value and says what was expected.
 */
int customer_map_add(struct customer_map *m, const char *id, const char *kind,
    const char *value, char *err, size_t errlen);

/*
 * Rules, in detail:
 * - "vlan N" (1..4094) matches the outermost tag; "vlan OUTER.INNER" matches
 *   a double-tagged frame and is tried first. A VLAN (or pair) belongs to one
 *   customer: a second owner is an error; repeating a line is harmless.
 * - A customer with VLAN lines is chosen by its tag alone; its prefixes only
 *   decide direction (tx when the source is inside them; a VLAN-only
 *   customer uses the home networks). Such customers may share prefixes.
 * - Prefixes of customers without VLAN lines map untagged (or unmatched)
 *   traffic by longest match; two such customers may not own the same
 *   prefix. "ADDR" alone means a host prefix. Host bits set is an error
 *   (the message suggests the network), never silently normalised.
 * - The home networks are RFC 1918, 100.64/10, 169.254/16, fc00::/7,
 *   fe80::/10, plus every configured prefix.
 */

/* Loads a map file (errors logged as file:line). 0 on success, -1 on error. */
int customer_map_load(struct customer_map *m, const char *path);

/* Same as customer_map_load for map text in memory; name is used in messages. */
int customer_map_load_string(struct customer_map *m, const char *name,
    const char *text);

/*
 * Makes customer id the catch-all: traffic matching no rule goes to it
 * instead of "unmapped", direction decided by the home networks (RFC 1918,
 * 100.64/10, fc00::/7, link-local, plus this customer's prefixes).
 */
int customer_map_set_catchall(struct customer_map *m, const char *id);

/* Looks up a decoded IP packet. Never fails. */
struct customer_match customer_lookup(const struct customer_map *m,
    const struct pkt *p);

/* Number of customers including "unmapped"; indexes are 0..count-1. */
size_t customer_count(const struct customer_map *m);

/* Id of customer index i (borrowed, lives as long as the map). */
const char *customer_id(const struct customer_map *m, int i);

/* Index of a customer id, or CUSTOMER_NONE. */
int customer_find(const struct customer_map *m, const char *id);

/* True if addr is inside one of customer i's prefixes. */
bool customer_owns(const struct customer_map *m, int i, const struct gw_addr *a);

#endif
