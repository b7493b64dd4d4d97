/* banlist.h: ban policy shared by the probe's enforce client and gatewatch-enforcer: prefixes, allowlist, capped bans. */
#ifndef GW_BANLIST_H
#define GW_BANLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "gwmsg.h"

#define BANLIST_ALLOW_MAX   256          /* allowlist entries (loopback included) */
#define BANLIST_ENTRIES_MAX 1000000      /* largest accepted cap */
#define BANLIST_TIMEOUT_MAX_S (7 * 86400) /* longest ban */
#define BANLIST_PREFIX_STR_MAX (GW_ADDR_MAX + 8)
#define BANLIST_ALLOW_BUILTIN 2          /* allowlist entries every banlist starts with */

/* An address prefix with its host bits cleared. */
struct banlist_prefix {
	struct gw_addr addr;      /* family 4 or 6; network order; host bits zero */
	unsigned len;             /* 0..32 or 0..128 */
};

struct banlist_entry {
	struct banlist_prefix p;
	uint64_t expires_us;      /* CLOCK_MONOTONIC */
};

struct banlist;

/*
 * Validates a/len (family 4 or 6, len within the family) and writes the
 * prefix with host bits cleared to out. 0, or -1 when invalid.
 */
int banlist_prefix_make(const struct gw_addr *a, unsigned len, struct banlist_prefix *out);

/* True when p is valid and already canonical (host bits and unused bytes zero). */
bool banlist_prefix_canonical(const struct banlist_prefix *p);

/* Formats p as "ADDR/LEN" into buf (BANLIST_PREFIX_STR_MAX is enough); returns buf. */
char *banlist_prefix_str(const struct banlist_prefix *p, char *buf, size_t len);

/*
 * A ban table with room for max_entries (1..BANLIST_ENTRIES_MAX) and an
 * allowlist that starts with 127.0.0.0/8 and ::1/128. NULL on a bad cap or
 * out of memory. Free with banlist_free.
 */
struct banlist *banlist_new(size_t max_entries);

/* Frees b; NULL is a no-op. */
void banlist_free(struct banlist *b);

/* Adds p to the allowlist; 0, or -1 when the allowlist is full or p invalid. */
int banlist_allow(struct banlist *b, const struct banlist_prefix *p);

/*
 * Forgets expired bans, then decides whether p may be banned: -1 with the
 * reason in msg when p overlaps the allowlist or the cap is reached (and p is
 * not banned already); 0 otherwise. Changes nothing else.
 */
int banlist_admit(struct banlist *b, const struct banlist_prefix *p, uint64_t now_us,
    char *msg, size_t msglen);

/* Records (or refreshes) a ban of p until expires_us; 0, or -1 when full. */
int banlist_put(struct banlist *b, const struct banlist_prefix *p, uint64_t expires_us);

/* The live entry for exactly p, or NULL. The pointer is valid until the next change. */
const struct banlist_entry *banlist_find(const struct banlist *b, const struct banlist_prefix *p);

/* Removes the entry for exactly p; 0 if it was there, -1 otherwise. */
int banlist_remove(struct banlist *b, const struct banlist_prefix *p);

/* Forgets bans whose expiry is at or before now_us. */
void banlist_prune(struct banlist *b, uint64_t now_us);

/* Number of recorded bans (call banlist_prune first for live ones only). */
size_t banlist_count(const struct banlist *b);

/* The i-th recorded ban (i < banlist_count), or NULL. */
const struct banlist_entry *banlist_at(const struct banlist *b, size_t i);

/* Allowlist entries, for re-sending them: count and i-th entry (NULL when out of range). */
size_t banlist_allow_count(const struct banlist *b);
const struct banlist_prefix *banlist_allow_at(const struct banlist *b, size_t i);

/* The cap given to banlist_new. */
size_t banlist_cap(const struct banlist *b);

/* CLOCK_MONOTONIC in microseconds (the clock bans expire on, as nft's timeouts do). */
uint64_t banlist_now_us(void);

#endif
