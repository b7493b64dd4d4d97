/* rules.h: gatewatch-enforcer's nftables table (inet NAME: sets banned4/banned6, a drop chain); the only libnftables user. */
#ifndef GW_RULES_H
#define GW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banlist.h"
#include "request.h"

#define RULES_TABLE_MAX 32

struct rules;

/* True when s is a table name we accept: a letter, then letters, digits, '_'; < 32 bytes. */
bool rules_table_valid(const char *s);

/*
 * Creates table inet `table` with sets banned4/banned6 (interval, timeout)
 * and a prerouting chain at raw priority that drops their sources. A table
 * of that name left by an earlier run is replaced. NULL with the reason in
 * msg on error (logged). Never touches other tables.
 */
struct rules *rules_new(const char *table, char *msg, size_t msglen);

/* Deletes the table it created and frees r. NULL is a no-op. */
void rules_free(struct rules *r);

/*
 * Adds p to its set with timeout_s; when present, the existing element is
 * replaced in the same transaction (refreshing its timeout). 0, or -1 with
 * nft's first error line in msg.
 */
int rules_add(struct rules *r, const struct banlist_prefix *p, uint32_t timeout_s,
    bool present, char *msg, size_t msglen);

/* Deletes p from its set; 0, or -1 with nft's error in msg. */
int rules_del(struct rules *r, const struct banlist_prefix *p, char *msg, size_t msglen);

/* Reads the elements of both sets back from the kernel into out; returns how many (<= max). */
size_t rules_list(struct rules *r, struct wire_entry *out, size_t max);

#endif
