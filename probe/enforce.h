/* enforce.h: countermeasures in the probe's own nftables table (inet gatewatch); the only libnftables user. */
#ifndef GW_ENFORCE_H
#define GW_ENFORCE_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "gwmsg.h"

enum enforce_mode { ENFORCE_OFF = 0, ENFORCE_DRY_RUN, ENFORCE_ON };

struct enforce_config {
	enum enforce_mode mode;       /* default ENFORCE_DRY_RUN */
	const char *table;            /* default "gatewatch" (family inet); borrowed */
	size_t max_entries;           /* cap on banned entries; default 10000 */
	uint32_t default_timeout_s;   /* default 600 */
};

struct enforce;

/*
 * Creates the table, chains and sets (ENFORCE_ON only; nothing is touched in
 * the other modes). Never modifies rules it did not create. NULL on error
 * (logged).
 */
struct enforce *enforce_new(const struct enforce_config *cfg);

/* Removes the table it created (ENFORCE_ON) and frees e. NULL is a no-op. */
void enforce_free(struct enforce *e);

/* Adds an address/prefix to the allowlist that can never be banned. 0 or -1. */
int enforce_allow(struct enforce *e, const struct gw_addr *a, unsigned prefix_len);

/*
 * Bans src/prefix_len for timeout_s seconds (0 = default). Returns 0 on
 * success (in dry-run: logged only), -1 with a reason in msg (allowlisted,
 * cap reached, invalid, nft error).
 */
int enforce_ban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    uint32_t timeout_s, char *msg, size_t msglen);

/* Removes a ban; 0 if it was present, -1 otherwise (msg explains). */
int enforce_unban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    char *msg, size_t msglen);

/* Lists current bans as text lines "ADDR/LEN expires_in_s"; returns count written. */
size_t enforce_list(struct enforce *e, char lines[][GW_TEXT_MAX], size_t max);

/* Drops expired entries from its own bookkeeping (nft expires set elements itself). */
void enforce_tick(struct enforce *e, uint64_t now_us);

/* Parses "off", "dry-run" or "on" (also "enforce"); 0, or -1 for anything else. */
int enforce_mode_parse(const char *s, enum enforce_mode *out);

/* Number of live bans in its bookkeeping (what counts against the cap). */
size_t enforce_count(struct enforce *e);

#endif
