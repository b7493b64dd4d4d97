/* events.h: the operator's SQLite store of events and countermeasures (the only sqlite3 user). */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"

/*
 * Threading: one writer and any number of readers.
 * - Every function that writes (events_add, events_cm_add, events_cm_update)
 *   must be called from one thread only (the ingest thread). It uses the
 *   writer connection without a lock, so a slow reader never delays ingest.
 * - Every list/get function may be called from any thread (HTTP threads,
 *   and the writer thread too). They use a second connection opened
 *   read-only and serialised by a mutex inside struct events.
 * The database runs in WAL mode, so readers never block the writer and the
 * writer never blocks readers; the writer waits at most busy_ms for the
 * short exclusive moments of a checkpoint.
 */
struct events;

#define EVENTS_LIST_MAX     1000     /* most rows one list call returns */
#define EVENTS_CAP_DEFAULT  100000   /* events kept by default */
#define EVENTS_SCHEMA_VERSION 4
#define EVENTS_SLA_KEEP_DAYS  400    /* closed SLA breaches kept (table sla_breach) */      /* PRAGMA user_version of the schema */

struct events_config {
	const char *path;        /* database file; borrowed */
	uint64_t    max_events;  /* cap on stored events (0 = EVENTS_CAP_DEFAULT);
	                          * the oldest are deleted, countermeasures kept */
	uint32_t    busy_ms;     /* SQLite busy timeout (0 = 2000) */
};

/* One stored event: the wire event plus what the operator adds. */
struct events_row {
	uint64_t id;
	double   received_ts;    /* operator wall clock, s since the epoch */
	char     probe[GW_ID_MAX];  /* reporting probe, "operator" for correlated ones */
	struct gw_event ev;
};

enum cm_action { CM_BAN = 0, CM_UNBAN, CM_HOOK };
enum cm_state { CM_PENDING = 0, CM_ACTIVE, CM_LIFTED, CM_EXPIRED, CM_FAILED };

#define CM_SCOPE_GLOBAL "*"
#define CM_BY_MAX       (GW_ID_MAX + 16)   /* "policy:<rule>" or "api:<user>" */

/*
 * One countermeasure (audit row). Times are wall clock, s since the epoch;
 * 0 means "not yet" (not sent, not applied, not lifted, never expires).
 */
struct countermeasure {
	uint64_t       id;
	enum cm_action action;
	char           address[GW_ADDR_MAX];
	uint32_t       prefix_len;
	char           scope[GW_ID_MAX];     /* probe id or CM_SCOPE_GLOBAL */
	char           customer[GW_ID_MAX];  /* may be empty */
	char           reason[GW_TEXT_MAX];
	char           decided_by[CM_BY_MAX];
	double         decided_ts;
	double         sent_ts;
	double         applied_ts;
	double         lifted_ts;
	double         expires_ts;
	enum cm_state  state;
	uint64_t       command_id;           /* last command sent for this row */
	char           result_message[GW_TEXT_MAX];
};

/* Filters for list calls; zero/empty fields do not filter. */
struct events_filter {
	double      since;        /* ts >= since (events: event ts; cm: decided_ts) */
	double      until;        /* ts <  until (0 = no bound) */
	const char *customer;     /* exact match; borrowed, NULL = any */
	const char *kind;         /* events: kind; cm: action name; NULL = any */
	const char *state;        /* cm only: state name; NULL = any */
	uint64_t    after_id;     /* id > after_id */
	size_t      limit;        /* 1..EVENTS_LIST_MAX; 0 = 100 */
};

/*
 * Opens (creating if needed) the database at cfg->path, switches it to WAL,
 * creates or upgrades the schema (PRAGMA user_version) and prepares the
 * statements. A database with a newer schema version than this code knows is
 * refused. Returns NULL on error (logged). Free with events_close().
 */
struct events *events_open(const struct events_config *cfg);

/* Finalises the statements and closes both connections. NULL is a no-op. */
void events_close(struct events *es);

/*
 * Stores one event reported by probe (or "operator") and received at
 * received_ts. The new row id goes to *id when id is not NULL. Enforces the
 * cap every so often (amortised: at most every 64 inserts). Writer thread
 * only. Returns 0 or -1 (logged, counted).
 */
int events_add(struct events *es, const char *probe, double received_ts,
    const struct gw_event *ev, uint64_t *id);

/*
 * Lists events matching f, newest first (highest id first), into a new
 * array *out (caller frees with free(); NULL when none) of *n rows. Any
 * thread. Returns 0 or -1 (bad filter, SQLite or memory error; *out = NULL).
 */
int events_list(struct events *es, const struct events_filter *f,
    struct events_row **out, size_t *n);

/* Number of stored events (any thread); -1 on error. */
int64_t events_count(struct events *es);

/*
 * Inserts cm (its id is ignored) and stores the new id in cm->id. Writer
 * thread only. Returns 0 or -1.
 */
int events_cm_add(struct events *es, struct countermeasure *cm);

/*
 * Rewrites every mutable field (times, state, command id, result message,
 * expiry, reason) of the row cm->id. Writer thread only. Returns 0, -1 when
 * the row does not exist or on error.
 */
int events_cm_update(struct events *es, const struct countermeasure *cm);

/*
 * Lists countermeasures matching f, newest first, like events_list. Any
 * thread.
 */
int events_cm_list(struct events *es, const struct events_filter *f,
    struct countermeasure **out, size_t *n);

/* Reads the row id into *out. Any thread. 0, or -1 when missing or on error. */
int events_cm_get(struct events *es, uint64_t id, struct countermeasure *out);

/*
 * Every ban row still in force (action ban, state pending or active),
 * oldest first, without the EVENTS_LIST_MAX limit (used once at start-up
 * to restore bans). Caller frees *out. Returns 0 or -1.
 */
int events_cm_in_force(struct events *es, struct countermeasure **out,
    size_t *n);

/* Highest command id stored (0 when none), so ids stay unique across restarts. */
uint64_t events_cm_max_command_id(struct events *es);

/* Names and parsing of actions and states ("ban", "pending", ...). */
const char *cm_action_name(enum cm_action a);
const char *cm_state_name(enum cm_state s);
int cm_action_parse(const char *s, enum cm_action *out);
int cm_state_parse(const char *s, enum cm_state *out);

/* Counters for /metrics (any thread; a snapshot). */
struct events_stats {
	uint64_t events_added;
	uint64_t events_deleted;   /* removed by the cap */
	uint64_t write_errors;
	uint64_t cm_added;
};
void events_stats_get(struct events *es, struct events_stats *out);

/*
 * Bytes per application, customer and local day (capacity reports' top
 * applications). day is the epoch second of the local midnight starting it.
 */
struct events_app_bytes {
	char    customer[GW_ID_MAX];
	int64_t day;
	char    app[GW_NAME_MAX];
	double  rx_bytes, tx_bytes;
};

/*
 * Adds n rows to the stored totals (one transaction) and deletes the days
 * before drop_before_day, which bounds the table. Writer thread only.
 * Returns 0 or -1 (logged, counted; nothing written).
 */
int events_apps_add(struct events *es, const struct events_app_bytes *rows,
    size_t n, int64_t drop_before_day);

/*
 * The max applications with the most bytes (rx + tx) of customer over the
 * days in [day_from, day_to), into out (caller's array), *n rows. Any
 * thread. Returns 0 or -1.
 */
int events_apps_top(struct events *es, const char *customer, int64_t day_from,
    int64_t day_to, struct events_app_bytes *out, size_t max, size_t *n);

/*
 * SLA breaches: every sla_violation stored by events_add() opens one for its
 * customer (unless one is open), its clear closes it, at the events' ts.
 * Unlike events, breaches are not removed by the event cap; closed ones
 * older than EVENTS_SLA_KEEP_DAYS are. Lists the breaches of customer that
 * overlap (from, to), oldest first, at most max: start[i], end[i] (NAN =
 * still open). Any thread. 0 or -1.
 */
int events_sla_breaches(struct events *es, const char *customer, double from,
    double to, double *start, double *end, size_t max, size_t *n);

/* One customer's 95th percentiles (bit/s) of one local day (capacity trends). */
struct events_daily {
	char    customer[GW_ID_MAX];
	int64_t day;              /* local midnight starting the day */
	double  rx_p95_bps, tx_p95_bps;
};

/*
 * Stores (replacing) n daily rows in one transaction and deletes the days
 * before drop_before_day. Writer thread only. 0 or -1 (logged, counted).
 */
int events_daily_put(struct events *es, const struct events_daily *rows,
    size_t n, int64_t drop_before_day);

/* The stored days of customer in [day_from, day_to), oldest first (at most max). Any thread. 0 or -1. */
int events_daily_get(struct events *es, const char *customer, int64_t day_from,
    int64_t day_to, struct events_daily *out, size_t max, size_t *n);

#endif
