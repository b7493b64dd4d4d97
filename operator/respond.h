/* respond.h: countermeasure policy: bans at probes, global bans, the upstream hook, expiry, audit rows. */
#ifndef GW_RESPOND_H
#define GW_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "correlate.h"
#include "events.h"
#include "gwmsg.h"

/*
 * Not thread-safe: every function runs on the ingest thread (the HTTP API
 * hands manual ban/unban requests to that thread). Every decision is an audit
 * row in the events store (events.h), written before any command is sent, so
 * a ban is never lost: rows in state pending/active are loaded at start and
 * sent again to each probe when it is first seen and after each Hello.
 *
 * Policy:
 * - syn_flood/udp_flood/icmp_flood, severity "high", not cleared, with a
 *   concrete source address -> ban that source at the reporting probe for
 *   ban_timeout_s ("policy:flood").
 * - correlate's multi-probe rule (respond_global) -> ban the source at every
 *   known probe, scope "*" ("policy:global").
 * - distributed_attack from correlate (probe_id CORRELATE_OPERATOR; the same
 *   kind sent by a probe is ignored), not cleared -> run the upstream hook
 *   with the decision as JSON on stdin ("policy:distributed"); at most one
 *   per customer per ban_timeout_s.
 * - Never banned: loopback, the allowlist, the probes' own addresses.
 * - A ban in force for the same address/prefix and scope is extended (and
 *   re-sent with the new timeout), never duplicated; a global ban in force
 *   covers local ones.
 */
struct respond;

#define RESPOND_ALLOW_MAX   256
#define RESPOND_BANS_MAX    10000    /* bans in force; more are refused (counted) */
#define RESPOND_HOOKS_MAX   8        /* hook processes running at once */
#define RESPOND_HOOK_PATH_MAX 512

/* An address prefix; family AF_INET or AF_INET6, addr in network order. */
struct respond_cidr {
	int      family;
	uint8_t  addr[16];
	unsigned prefix_len;
};

/* Zero fields take the defaults given in brackets. */
struct respond_config {
	uint32_t ban_timeout_s;                 /* [600] */
	char     hook[RESPOND_HOOK_PATH_MAX];   /* executable, "" = no hook */
	uint32_t hook_timeout_s;                /* killed (SIGKILL) after [10] s */
	size_t   n_allow;
	struct respond_cidr allow[RESPOND_ALLOW_MAX];
};

/*
 * Sends one command to one probe; returns 0 when queued, -1 when the probe
 * is not reachable (the row stays pending and is re-sent on its next Hello).
 */
typedef int (*respond_send_fn)(const char *probe_id,
    const struct gw_command *cmd, void *ctx);

/*
 * Parses a policy file into rc and cc (either may be NULL to ignore those
 * keys; both are zeroed first, zero = default). Lines: "ban_timeout_s N",
 * "global_min_probes N", "global_window_s N", "distributed_min_sources N",
 * "distributed_window_s N", "silent_timeout_s N", "hook PATH" (absolute),
 * "hook_timeout_s N", "allow CIDR" (repeatable). Returns 0, or -1 with
 * file:line logged.
 */
int respond_config_load(const char *path, struct respond_config *rc,
    struct correlate_config *cc);

/* Same for an in-memory string (name used in messages). */
int respond_config_parse(const char *name, const char *text,
    struct respond_config *rc, struct correlate_config *cc);

/* Parses "ADDR" or "ADDR/LEN" (host bits must be zero). 0 or -1. */
int respond_cidr_parse(const char *s, struct respond_cidr *out);

/*
 * Creates the policy engine. es (borrowed, must outlive r) stores the audit
 * rows; the bans in force there are loaded now. send/ctx (borrowed) deliver
 * commands. Returns NULL on error (logged).
 */
struct respond *respond_new(const struct respond_config *cfg,
    struct events *es, respond_send_fn send, void *ctx);

/* Kills and reaps running hooks, frees r. Bans stay in the database. NULL is a no-op. */
void respond_free(struct respond *r);

/*
 * Records probe_id as known (global bans go to it). address, when it parses
 * as an IP address, is added to the never-ban list. The first time a probe
 * is seen, every ban in force for it (its own and the global ones) is sent.
 */
void respond_probe_seen(struct respond *r, const char *probe_id,
    const char *address, double now);

/*
 * The probe said Hello (it (re)started, its nft sets are empty): sends it
 * every ban in force for it and every global ban, with the remaining time.
 */
void respond_probe_hello(struct respond *r, const char *probe_id, double now);

/* Applies the policy to one event (probe events and correlate's events). */
void respond_event(struct respond *r, const char *probe_id,
    const struct gw_event *ev, double now);

/* Applies the policy to correlate's multi-probe decision (global ban). */
void respond_global(struct respond *r, const struct correlate_global *g,
    double now);

/*
 * Sharded operators (cluster.h): the cluster-wide ban of g->src was decided
 * by this shard (it won the BANS create), so this shard alone runs the
 * upstream hook once, with {"action":"ban_source","target":SRC,...} on
 * stdin; an audit row (action hook, "policy:cluster") records the outcome.
 * The ban itself is applied through respond_global() on every shard.
 */
void respond_hook_global(struct respond *r, const struct correlate_global *g,
    double now);

/*
 * A CommandResult from probe_id: marks the row of that command applied
 * (active) or failed, with the probe's message. Unknown ids are ignored
 * (logged at debug level).
 */
void respond_command_result(struct respond *r, const char *probe_id,
    const struct gw_command_result *res, double now);

/* Periodic work (about once a second): lifts expired bans, reaps hooks. */
void respond_tick(struct respond *r, double now);

/* A ban or unban asked for through the API/CLI. */
struct respond_manual {
	const char *address;     /* IP address */
	uint32_t    prefix_len;  /* 0 = host (32 or 128) */
	const char *scope;       /* probe id, "*" or NULL (= "*"); for unban NULL = every scope */
	uint32_t    timeout_s;   /* ban only; 0 = ban_timeout_s */
	const char *user;        /* recorded as "api:<user>" */
	const char *reason;      /* may be NULL */
};

/*
 * Manual ban. Returns the countermeasure id (> 0), or 0 with an explanation
 * in err (invalid address or prefix, allowlisted, unknown probe, too many
 * bans). An existing ban for the same address/prefix/scope is extended and
 * its id returned.
 */
uint64_t respond_manual_ban(struct respond *r, const struct respond_manual *m,
    double now, char *err, size_t errlen);

/*
 * Manual unban: lifts every ban in force for address/prefix (in m->scope, or
 * any scope when NULL), sends the unban commands and records an "unban" row.
 * Returns that row's id, or 0 with an explanation in err (nothing in force,
 * invalid address).
 */
uint64_t respond_manual_unban(struct respond *r,
    const struct respond_manual *m, double now, char *err, size_t errlen);

/*
 * Manual requests from other threads (the HTTP API): respond is not
 * thread-safe, so an API thread hands its request to the ingest thread with
 * respond_submit(), which blocks until respond_run_requests() (called by the
 * ingest thread's loop after every poll) has executed it, or until
 * timeout_ms passes while it is still queued (then it is withdrawn, never
 * executed, and 0 is returned with "timed out ..."). The strings in m are
 * copied. Returns what respond_manual_ban/unban returned (id, or 0 + err).
 * At most RESPOND_REQUESTS_MAX requests wait at once; more get 0 + "too many
 * requests in progress". Call respond_free() only after the API threads stop.
 */
#define RESPOND_REQUESTS_MAX 16
enum respond_op { RESPOND_OP_BAN = 0, RESPOND_OP_UNBAN };
uint64_t respond_submit(struct respond *r, enum respond_op op,
    const struct respond_manual *m, int timeout_ms, char *err, size_t errlen);

/* Ingest thread: executes the queued API requests in arrival order. */
void respond_run_requests(struct respond *r, double now);

/*
 * A fresh command id for commands the caller sends itself (list_bans,
 * inspect), so they never collide with respond's ids. Results for such ids
 * are ignored by respond_command_result.
 */
uint64_t respond_command_id(struct respond *r);

/* True when the address (text) may never be banned. */
bool respond_is_allowed(const struct respond *r, const char *address);

struct respond_stats {
	uint64_t bans;            /* new ban rows */
	uint64_t extended;        /* bans extended instead of duplicated */
	uint64_t refused_allow;   /* decisions refused by the allowlist */
	uint64_t refused_full;    /* decisions refused by RESPOND_BANS_MAX */
	uint64_t commands_sent;
	uint64_t send_failures;
	uint64_t expired;
	uint64_t hooks_run;
	uint64_t hooks_failed;
	size_t   in_force;        /* bans currently in force */
};
void respond_stats_get(const struct respond *r, struct respond_stats *out);

#endif
