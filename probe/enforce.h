/*
 * enforce.h: countermeasures in the probe's own nftables table (inet gatewatch).
 * In mode on the probe is a client of gatewatch-enforcer (probe/enforcer/), a
 * small helper holding CAP_NET_ADMIN that the probe starts; the probe itself
 * links no nftables library and can drop every capability.
 */
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
	/* ENFORCE_ON only: the helper. */
	const char *enforcer_path;    /* default: gatewatch-enforcer next to /proc/self/exe,
	                                 else found in $PATH; borrowed */
	const char *enforcer_user;    /* when started as root: user the helper switches
	                                 to (keeping CAP_NET_ADMIN); NULL = stays uid 0; borrowed */
	bool enforcer_syslog;         /* the helper logs to syslog instead of stderr */
};

struct enforce;

/*
 * ENFORCE_ON: starts the helper (socketpair + fork/exec; it gets
 * CAP_NET_ADMIN as an ambient capability when this process holds it, or by
 * being root or a file capability), which creates the table, chains and sets.
 * Nothing is touched in the other modes. Never modifies rules it did not
 * create. Every later call waits at most a few hundred ms for the helper;
 * when it times out or the helper dies, the call fails and the helper is
 * started again once (allowlist and live bans re-sent). NULL on error (logged).
 */
struct enforce *enforce_new(const struct enforce_config *cfg);

/* Removes the table it created (ENFORCE_ON: asks the helper, waits for it to exit) and frees e. NULL is a no-op. */
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

/*
 * Drops expired entries from its own bookkeeping (nft expires set elements
 * itself); ENFORCE_ON: notices a dead helper and starts it again (at most
 * every few seconds).
 */
void enforce_tick(struct enforce *e, uint64_t now_us);

/* Parses "off", "dry-run" or "on" (also "enforce"); 0, or -1 for anything else. */
int enforce_mode_parse(const char *s, enum enforce_mode *out);

/* Number of live bans in its bookkeeping (what counts against the cap). */
size_t enforce_count(struct enforce *e);

#endif
