/* events.c: SQLite store of events and countermeasures (WAL, versioned schema, prepared statements). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"

#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_CAP_EVERY     64     /* inserts between cap checks */

/*
 * Schema version 1. Each entry of events_migrations upgrades from version i
 * to i + 1; add new entries at the end, never edit old ones.
 */
static const char *const events_migrations[] = {
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" ts REAL NOT NULL, received_ts REAL NOT NULL,"
	" probe TEXT NOT NULL, customer TEXT NOT NULL, kind TEXT NOT NULL,"
	" severity TEXT NOT NULL, direction TEXT NOT NULL,"
	" src TEXT NOT NULL, dst TEXT NOT NULL,"
	" rate_pps REAL NOT NULL, rate_bps REAL NOT NULL,"
	" ip_proto INTEGER NOT NULL, dport INTEGER NOT NULL,"
	" cleared INTEGER NOT NULL, detail TEXT NOT NULL,"
	" top_talkers TEXT NOT NULL);"
	"CREATE INDEX events_ts ON events(ts);"
	"CREATE INDEX events_customer ON events(customer, ts);"
	"CREATE TABLE countermeasures ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" action TEXT NOT NULL, address TEXT NOT NULL,"
	" prefix_len INTEGER NOT NULL, scope TEXT NOT NULL,"
	" customer TEXT NOT NULL, reason TEXT NOT NULL,"
	" decided_by TEXT NOT NULL, decided_ts REAL NOT NULL,"
	" sent_ts REAL NOT NULL, applied_ts REAL NOT NULL,"
	" lifted_ts REAL NOT NULL, expires_ts REAL NOT NULL,"
	" state TEXT NOT NULL, command_id INTEGER NOT NULL,"
	" result_message TEXT NOT NULL);"
	"CREATE INDEX cm_state ON countermeasures(state);"
	"CREATE INDEX cm_decided ON countermeasures(decided_ts);",
	/* 2: bytes per application, customer and local day (capacity reports) */
	"CREATE TABLE app_daily ("
	" customer TEXT NOT NULL, day INTEGER NOT NULL, app TEXT NOT NULL,"
	" rx_bytes REAL NOT NULL, tx_bytes REAL NOT NULL,"
	" PRIMARY KEY (customer, day, app)) WITHOUT ROWID;"
	"CREATE INDEX app_daily_day ON app_daily(day);",
	/* 3: daily 95th percentiles, kept beyond the 32 days of 300 s RRD rows (trends) */
	"CREATE TABLE daily_p95 ("
	" customer TEXT NOT NULL, day INTEGER NOT NULL,"
	" rx_p95_bps REAL NOT NULL, tx_p95_bps REAL NOT NULL,"
	" PRIMARY KEY (customer, day)) WITHOUT ROWID;"
	"CREATE INDEX daily_p95_day ON daily_p95(day);",
	/* 4: SLA breaches (sla_violation to its clear), not subject to the event cap */
	"CREATE TABLE sla_breach ("
	" customer TEXT NOT NULL, start_ts REAL NOT NULL, end_ts REAL);"
	"CREATE INDEX sla_breach_customer ON sla_breach(customer, start_ts);",
};
#define EVENTS_NMIGRATIONS \
	(sizeof(events_migrations) / sizeof(events_migrations[0]))

#define EV_COLS "id, ts, received_ts, probe, customer, kind, severity, " \
	"direction, src, dst, rate_pps, rate_bps, ip_proto, dport, cleared, " \
	"detail, top_talkers"
#define CM_COLS "id, action, address, prefix_len, scope, customer, reason, " \
	"decided_by, decided_ts, sent_ts, applied_ts, lifted_ts, expires_ts, " \
	"state, command_id, result_message"

/* Filter clause shared by both list queries; ?1..?7 are bound by events_bind_filter. */
#define FILTER_SQL(tscol, kindcol, statecol) \
	" WHERE (?1 = 0 OR " tscol " >= ?1) AND (?2 = 0 OR " tscol " < ?2)" \
	" AND (?3 IS NULL OR customer = ?3) AND (?4 IS NULL OR " kindcol \
	" = ?4) AND (?5 IS NULL OR " statecol " = ?5) AND id > ?6" \
	" ORDER BY id DESC LIMIT ?7"

struct events {
	sqlite3         *w;            /* writer connection (ingest thread) */
	sqlite3         *r;            /* read-only connection, under rlock */
	pthread_mutex_t  rlock;
	uint64_t         max_events;
	uint32_t         since_cap;    /* inserts since the last cap check */
	/* writer statements */
	sqlite3_stmt    *ev_insert;
	sqlite3_stmt    *ev_cap;
	sqlite3_stmt    *cm_insert;
	sqlite3_stmt    *cm_update;
	/* reader statements (under rlock) */
	sqlite3_stmt    *ev_list;
	sqlite3_stmt    *ev_count;
	sqlite3_stmt    *cm_list;
	sqlite3_stmt    *cm_get;
	sqlite3_stmt    *cm_force;
	sqlite3_stmt    *cm_maxcmd;
	struct events_stats stats;     /* updated with __atomic builtins */
};

static const char *const cm_action_names[] = { "ban", "unban", "hook" };
static const char *const cm_state_names[] = {
	"pending", "active", "lifted", "expired", "failed"
};

const char *
cm_action_name(enum cm_action a)
{
	if ((unsigned)a >= sizeof(cm_action_names) / sizeof(cm_action_names[0]))
		return "unknown";
	return cm_action_names[a];
}

const char *
cm_state_name(enum cm_state s)
{
	if ((unsigned)s >= sizeof(cm_state_names) / sizeof(cm_state_names[0]))
		return "unknown";
	return cm_state_names[s];
}

int
cm_action_parse(const char *s, enum cm_action *out)
{
	for (size_t i = 0; s != NULL && i < sizeof(cm_action_names) /
	    sizeof(cm_action_names[0]); i++) {
		if (strcmp(s, cm_action_names[i]) == 0) {
			*out = (enum cm_action)i;
			return 0;
		}
	}
	return -1;
}

int
cm_state_parse(const char *s, enum cm_state *out)
{
	for (size_t i = 0; s != NULL && i < sizeof(cm_state_names) /
	    sizeof(cm_state_names[0]); i++) {
		if (strcmp(s, cm_state_names[i]) == 0) {
			*out = (enum cm_state)i;
			return 0;
		}
	}
	return -1;
}

static void
events_count_add(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

void
events_stats_get(struct events *es, struct events_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (es == NULL)
		return;
	out->events_added = __atomic_load_n(&es->stats.events_added,
	    __ATOMIC_RELAXED);
	out->events_deleted = __atomic_load_n(&es->stats.events_deleted,
	    __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&es->stats.write_errors,
	    __ATOMIC_RELAXED);
	out->cm_added = __atomic_load_n(&es->stats.cm_added, __ATOMIC_RELAXED);
}

/* Copies a text column into dst (truncating safely; NULL becomes ""). */
static void
events_col_text(sqlite3_stmt *st, int col, char *dst, size_t dstlen)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, dstlen, "%s", t != NULL ? (const char *)t : "");
}

/* Runs one SQL string without results; 0 or -1 (logged). */
static int
events_exec(sqlite3 *db, const char *sql, const char *what)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_err("events: %s: %s", what, err != NULL ? err :
		    sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Reads PRAGMA user_version; -1 on error. */
static int
events_user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Brings the schema to EVENTS_SCHEMA_VERSION, one transaction per step. */
static int
events_migrate(sqlite3 *db, const char *path)
{
	char sql[64];
	int v;

	if ((v = events_user_version(db)) < 0) {
		log_err("events: %s: cannot read schema version: %s", path,
		    sqlite3_errmsg(db));
		return -1;
	}
	if ((size_t)v > EVENTS_NMIGRATIONS) {
		log_err("events: %s: schema version %d is newer than this "
		    "operator knows (%zu); refusing to touch it", path, v,
		    EVENTS_NMIGRATIONS);
		return -1;
	}
	for (; (size_t)v < EVENTS_NMIGRATIONS; v++) {
		if (events_exec(db, "BEGIN IMMEDIATE", "begin") == -1)
			return -1;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (events_exec(db, events_migrations[v], "migrate") == -1 ||
		    events_exec(db, sql, "set version") == -1) {
			events_exec(db, "ROLLBACK", "rollback");
			return -1;
		}
		if (events_exec(db, "COMMIT", "commit") == -1)
			return -1;
		log_info("events: %s: schema now at version %d", path, v + 1);
	}
	return 0;
}

static int
events_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL) != SQLITE_OK) {
		log_err("events: prepare \"%.60s...\": %s", sql,
		    sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int
events_prepare_all(struct events *es)
{
	return events_prepare(es->w, "INSERT INTO events (ts, received_ts, "
	    "probe, customer, kind, severity, direction, src, dst, rate_pps, "
	    "rate_bps, ip_proto, dport, cleared, detail, top_talkers) VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &es->ev_insert) |
	    events_prepare(es->w, "DELETE FROM events WHERE id <= (SELECT "
	    "MAX(id) FROM events) - ?1", &es->ev_cap) |
	    events_prepare(es->w, "INSERT INTO countermeasures (action, "
	    "address, prefix_len, scope, customer, reason, decided_by, "
	    "decided_ts, sent_ts, applied_ts, lifted_ts, expires_ts, state, "
	    "command_id, result_message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	    &es->cm_insert) |
	    events_prepare(es->w, "UPDATE countermeasures SET reason = ?2, "
	    "sent_ts = ?3, applied_ts = ?4, lifted_ts = ?5, expires_ts = ?6, "
	    "state = ?7, command_id = ?8, result_message = ?9 WHERE id = ?1",
	    &es->cm_update) |
	    events_prepare(es->r, "SELECT " EV_COLS " FROM events"
	    FILTER_SQL("ts", "kind", "NULL"), &es->ev_list) |
	    events_prepare(es->r, "SELECT COUNT(*) FROM events", &es->ev_count) |
	    events_prepare(es->r, "SELECT " CM_COLS " FROM countermeasures"
	    FILTER_SQL("decided_ts", "action", "state"), &es->cm_list) |
	    events_prepare(es->r, "SELECT " CM_COLS " FROM countermeasures "
	    "WHERE id = ?1", &es->cm_get) |
	    events_prepare(es->r, "SELECT " CM_COLS " FROM countermeasures "
	    "WHERE action = 'ban' AND state IN ('pending', 'active') "
	    "ORDER BY id", &es->cm_force) |
	    events_prepare(es->r, "SELECT COALESCE(MAX(command_id), 0) FROM "
	    "countermeasures", &es->cm_maxcmd);
}

/* Opens the writer connection and brings the file to the current schema. */
static sqlite3 *
events_open_writer(const char *path, uint32_t busy_ms)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_err("events: cannot open %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, (int)busy_ms);
	/* NORMAL is durable across process crashes in WAL mode. */
	if (events_exec(db, "PRAGMA journal_mode = WAL", "WAL") == -1 ||
	    events_exec(db, "PRAGMA synchronous = NORMAL", "synchronous") ==
	    -1 || events_migrate(db, path) == -1) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

struct events *
events_open(const struct events_config *cfg)
{
	struct events *es;
	uint32_t busy;

	if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0')
		return NULL;
	if ((es = calloc(1, sizeof(*es))) == NULL)
		return NULL;
	pthread_mutex_init(&es->rlock, NULL);
	es->max_events = cfg->max_events ? cfg->max_events : EVENTS_CAP_DEFAULT;
	busy = cfg->busy_ms ? cfg->busy_ms : 2000;
	if ((es->w = events_open_writer(cfg->path, busy)) == NULL)
		goto fail;
	/* FULLMUTEX: the reader's own lock covers statements, this covers the handle. */
	if (sqlite3_open_v2(cfg->path, &es->r, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		log_err("events: cannot open %s read-only: %s", cfg->path,
		    es->r != NULL ? sqlite3_errmsg(es->r) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(es->r, (int)busy);
	if (events_prepare_all(es) != 0)
		goto fail;
	return es;
fail:
	events_close(es);
	return NULL;
}

void
events_close(struct events *es)
{
	if (es == NULL)
		return;
	sqlite3_finalize(es->ev_insert);
	sqlite3_finalize(es->ev_cap);
	sqlite3_finalize(es->cm_insert);
	sqlite3_finalize(es->cm_update);
	sqlite3_finalize(es->ev_list);
	sqlite3_finalize(es->ev_count);
	sqlite3_finalize(es->cm_list);
	sqlite3_finalize(es->cm_get);
	sqlite3_finalize(es->cm_force);
	sqlite3_finalize(es->cm_maxcmd);
	sqlite3_close(es->r);
	sqlite3_close(es->w);
	pthread_mutex_destroy(&es->rlock);
	free(es);
}

/*
 * Opens (sla_violation) or closes (its clear) the customer's breach row; a
 * second open while one is open is ignored. Rows closed more than
 * EVENTS_SLA_KEEP_DAYS before this event are deleted (bounded table).
 */
static void
events_sla_breach(struct events *es, const struct gw_event *ev)
{
	static const char *const sql[] = {
		"INSERT INTO sla_breach (customer, start_ts, end_ts) SELECT ?1, ?2, "
		"NULL WHERE NOT EXISTS (SELECT 1 FROM sla_breach WHERE customer = ?1 "
		"AND end_ts IS NULL)",
		"UPDATE sla_breach SET end_ts = ?2 WHERE customer = ?1 AND end_ts IS "
		"NULL AND start_ts <= ?2",
		"DELETE FROM sla_breach WHERE end_ts < ?2 - ?3 AND ?1 = ?1",
	};
	for (int k = ev->cleared ? 1 : 0; k <= 2; k += (k == 0 ? 2 : 1)) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(es->w, sql[k], -1, &st, NULL) != SQLITE_OK) {
			log_warn("events: sla breach: %s", sqlite3_errmsg(es->w));
			events_count_add(&es->stats.write_errors, 1);
			return;
		}
		sqlite3_bind_text(st, 1, ev->customer, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 2, ev->ts);
		if (k == 2)
			sqlite3_bind_double(st, 3, EVENTS_SLA_KEEP_DAYS * 86400.0);
		if (sqlite3_step(st) != SQLITE_DONE) {
			log_warn("events: sla breach: %s", sqlite3_errmsg(es->w));
			events_count_add(&es->stats.write_errors, 1);
		}
		sqlite3_finalize(st);
	}
}

/* Joins top talkers with '\n' (they never contain control characters). */
static void
events_join_talkers(const struct gw_event *ev, char *buf, size_t len)
{
	size_t o = 0, n = ev->n_top_talkers;

	buf[0] = '\0';
	if (n > GW_LIST_MAX)
		n = GW_LIST_MAX;
	for (size_t i = 0; i < n && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%.*s", i ? "\n" : "",
		    (int)sizeof(ev->top_talkers[i]) - 1, ev->top_talkers[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static void
events_split_talkers(const char *s, struct gw_event *ev)
{
	const char *nl;
	size_t len;

	ev->n_top_talkers = 0;
	while (s != NULL && *s != '\0' && ev->n_top_talkers < GW_LIST_MAX) {
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		if (len >= sizeof(ev->top_talkers[0]))
			len = sizeof(ev->top_talkers[0]) - 1;
		memcpy(ev->top_talkers[ev->n_top_talkers], s, len);
		ev->top_talkers[ev->n_top_talkers++][len] = '\0';
		s = nl != NULL ? nl + 1 : NULL;
	}
}

/* Deletes the oldest events beyond the cap. */
static void
events_cap(struct events *es)
{
	int changes;

	sqlite3_bind_int64(es->ev_cap, 1, (sqlite3_int64)es->max_events);
	if (sqlite3_step(es->ev_cap) != SQLITE_DONE) {
		log_warn("events: cap: %s", sqlite3_errmsg(es->w));
		events_count_add(&es->stats.write_errors, 1);
	} else if ((changes = sqlite3_changes(es->w)) > 0) {
		events_count_add(&es->stats.events_deleted, (uint64_t)changes);
	}
	sqlite3_reset(es->ev_cap);
}

int
events_add(struct events *es, const char *probe, double received_ts,
    const struct gw_event *ev, uint64_t *id)
{
	char talkers[GW_LIST_MAX * (GW_ADDR_MAX + 33)];
	sqlite3_stmt *st;
	int rc, i = 1;

	if (es == NULL || probe == NULL || ev == NULL)
		return -1;
	st = es->ev_insert;
	events_join_talkers(ev, talkers, sizeof(talkers));
	sqlite3_bind_double(st, i++, ev->ts);
	sqlite3_bind_double(st, i++, received_ts);
	sqlite3_bind_text(st, i++, probe, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, ev->customer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, ev->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, ev->severity, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, ev->direction, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, ev->src, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, ev->dst, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, i++, ev->rate_pps);
	sqlite3_bind_double(st, i++, ev->rate_bps);
	sqlite3_bind_int64(st, i++, ev->ip_proto);
	sqlite3_bind_int64(st, i++, ev->dport);
	sqlite3_bind_int(st, i++, ev->cleared ? 1 : 0);
	sqlite3_bind_text(st, i++, ev->detail, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, talkers, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warn("events: insert: %s", sqlite3_errmsg(es->w));
		events_count_add(&es->stats.write_errors, 1);
		return -1;
	}
	if (id != NULL)
		*id = (uint64_t)sqlite3_last_insert_rowid(es->w);
	events_count_add(&es->stats.events_added, 1);
	if (strcmp(ev->kind, "sla_violation") == 0)
		events_sla_breach(es, ev);
	if (++es->since_cap >= EVENTS_CAP_EVERY ||
	    es->max_events < EVENTS_CAP_EVERY) {
		es->since_cap = 0;
		events_cap(es);
	}
	return 0;
}

/* Binds ?1..?7 of a list statement; -1 for an invalid limit. */
static int
events_bind_filter(sqlite3_stmt *st, const struct events_filter *f)
{
	size_t limit = f->limit ? f->limit : EVENTS_LIMIT_DEFAULT;

	if (limit > EVENTS_LIST_MAX || f->after_id > INT64_MAX)
		return -1;
	sqlite3_bind_double(st, 1, f->since);
	sqlite3_bind_double(st, 2, f->until);
	if (f->customer != NULL)
		sqlite3_bind_text(st, 3, f->customer, -1, SQLITE_TRANSIENT);
	if (f->kind != NULL)
		sqlite3_bind_text(st, 4, f->kind, -1, SQLITE_TRANSIENT);
	if (f->state != NULL)
		sqlite3_bind_text(st, 5, f->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)f->after_id);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)limit);
	return 0;
}

static void
events_read_row(sqlite3_stmt *st, struct events_row *row)
{
	struct gw_event *ev = &row->ev;

	memset(row, 0, sizeof(*row));
	row->id = (uint64_t)sqlite3_column_int64(st, 0);
	ev->ts = sqlite3_column_double(st, 1);
	row->received_ts = sqlite3_column_double(st, 2);
	events_col_text(st, 3, row->probe, sizeof(row->probe));
	events_col_text(st, 4, ev->customer, sizeof(ev->customer));
	events_col_text(st, 5, ev->kind, sizeof(ev->kind));
	events_col_text(st, 6, ev->severity, sizeof(ev->severity));
	events_col_text(st, 7, ev->direction, sizeof(ev->direction));
	events_col_text(st, 8, ev->src, sizeof(ev->src));
	events_col_text(st, 9, ev->dst, sizeof(ev->dst));
	ev->rate_pps = sqlite3_column_double(st, 10);
	ev->rate_bps = sqlite3_column_double(st, 11);
	ev->ip_proto = (uint32_t)sqlite3_column_int64(st, 12);
	ev->dport = (uint32_t)sqlite3_column_int64(st, 13);
	ev->cleared = sqlite3_column_int(st, 14) != 0;
	events_col_text(st, 15, ev->detail, sizeof(ev->detail));
	events_split_talkers((const char *)sqlite3_column_text(st, 16), ev);
}

static void
events_read_cm(sqlite3_stmt *st, struct countermeasure *cm)
{
	char buf[32];

	memset(cm, 0, sizeof(*cm));
	cm->id = (uint64_t)sqlite3_column_int64(st, 0);
	events_col_text(st, 1, buf, sizeof(buf));
	if (cm_action_parse(buf, &cm->action) == -1)
		cm->action = CM_BAN;
	events_col_text(st, 2, cm->address, sizeof(cm->address));
	cm->prefix_len = (uint32_t)sqlite3_column_int64(st, 3);
	events_col_text(st, 4, cm->scope, sizeof(cm->scope));
	events_col_text(st, 5, cm->customer, sizeof(cm->customer));
	events_col_text(st, 6, cm->reason, sizeof(cm->reason));
	events_col_text(st, 7, cm->decided_by, sizeof(cm->decided_by));
	cm->decided_ts = sqlite3_column_double(st, 8);
	cm->sent_ts = sqlite3_column_double(st, 9);
	cm->applied_ts = sqlite3_column_double(st, 10);
	cm->lifted_ts = sqlite3_column_double(st, 11);
	cm->expires_ts = sqlite3_column_double(st, 12);
	events_col_text(st, 13, buf, sizeof(buf));
	if (cm_state_parse(buf, &cm->state) == -1)
		cm->state = CM_FAILED;
	cm->command_id = (uint64_t)sqlite3_column_int64(st, 14);
	events_col_text(st, 15, cm->result_message, sizeof(cm->result_message));
}

typedef void (*events_reader_fn)(sqlite3_stmt *st, void *row);

/*
 * Steps a bound reader statement (rlock held) and collects up to max rows of
 * rowsize bytes into a new array. Resets the statement.
 */
static int
events_collect(struct events *es, sqlite3_stmt *st, size_t max,
    size_t rowsize, events_reader_fn fn, void **out, size_t *n)
{
	size_t cap = 0, cnt = 0;
	char *arr = NULL, *tmp;
	int rc = SQLITE_DONE;

	while (cnt < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = realloc(arr, cap * rowsize)) == NULL)
				goto fail;
			arr = tmp;
		}
		fn(st, arr + cnt * rowsize);
		cnt++;
	}
	if (cnt < max && rc != SQLITE_DONE) {
		log_warn("events: query: %s", sqlite3_errmsg(es->r));
		goto fail;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	*out = arr;
	*n = cnt;
	return 0;
fail:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	free(arr);
	return -1;
}

/* Runs a filtered list statement under the reader lock. */
static int
events_list_common(struct events *es, sqlite3_stmt *st,
    const struct events_filter *f, size_t rowsize, events_reader_fn fn,
    void **out, size_t *n)
{
	int rc = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&es->rlock);
	if (events_bind_filter(st, f) == 0) {
		rc = events_collect(es, st, EVENTS_LIST_MAX, rowsize, fn, out,
		    n);
	} else {
		sqlite3_clear_bindings(st);
	}
	pthread_mutex_unlock(&es->rlock);
	return rc;
}

static void
events_row_fn(sqlite3_stmt *st, void *row)
{
	events_read_row(st, row);
}

static void
events_cm_fn(sqlite3_stmt *st, void *row)
{
	events_read_cm(st, row);
}

int
events_list(struct events *es, const struct events_filter *f,
    struct events_row **out, size_t *n)
{
	if (es == NULL || f == NULL || out == NULL || n == NULL)
		return -1;
	return events_list_common(es, es->ev_list, f, sizeof(**out),
	    events_row_fn, (void **)out, n);
}

int
events_cm_list(struct events *es, const struct events_filter *f,
    struct countermeasure **out, size_t *n)
{
	if (es == NULL || f == NULL || out == NULL || n == NULL)
		return -1;
	return events_list_common(es, es->cm_list, f, sizeof(**out),
	    events_cm_fn, (void **)out, n);
}

int64_t
events_count(struct events *es)
{
	int64_t v = -1;

	if (es == NULL)
		return -1;
	pthread_mutex_lock(&es->rlock);
	if (sqlite3_step(es->ev_count) == SQLITE_ROW)
		v = sqlite3_column_int64(es->ev_count, 0);
	sqlite3_reset(es->ev_count);
	pthread_mutex_unlock(&es->rlock);
	return v;
}

/* Binds the fields shared by insert (1-based from first) in insert order. */
static void
events_bind_cm(sqlite3_stmt *st, const struct countermeasure *cm)
{
	int i = 1;

	sqlite3_bind_text(st, i++, cm_action_name(cm->action), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, i++, cm->address, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, i++, cm->prefix_len);
	sqlite3_bind_text(st, i++, cm->scope, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, cm->customer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, cm->reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, cm->decided_by, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, i++, cm->decided_ts);
	sqlite3_bind_double(st, i++, cm->sent_ts);
	sqlite3_bind_double(st, i++, cm->applied_ts);
	sqlite3_bind_double(st, i++, cm->lifted_ts);
	sqlite3_bind_double(st, i++, cm->expires_ts);
	sqlite3_bind_text(st, i++, cm_state_name(cm->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)cm->command_id);
	sqlite3_bind_text(st, i++, cm->result_message, -1, SQLITE_TRANSIENT);
}

int
events_cm_add(struct events *es, struct countermeasure *cm)
{
	int rc;

	if (es == NULL || cm == NULL)
		return -1;
	events_bind_cm(es->cm_insert, cm);
	rc = sqlite3_step(es->cm_insert);
	sqlite3_reset(es->cm_insert);
	sqlite3_clear_bindings(es->cm_insert);
	if (rc != SQLITE_DONE) {
		log_err("events: countermeasure insert: %s",
		    sqlite3_errmsg(es->w));
		events_count_add(&es->stats.write_errors, 1);
		return -1;
	}
	cm->id = (uint64_t)sqlite3_last_insert_rowid(es->w);
	events_count_add(&es->stats.cm_added, 1);
	return 0;
}

int
events_cm_update(struct events *es, const struct countermeasure *cm)
{
	sqlite3_stmt *st;
	int rc;

	if (es == NULL || cm == NULL || cm->id > INT64_MAX)
		return -1;
	st = es->cm_update;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cm->id);
	sqlite3_bind_text(st, 2, cm->reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 3, cm->sent_ts);
	sqlite3_bind_double(st, 4, cm->applied_ts);
	sqlite3_bind_double(st, 5, cm->lifted_ts);
	sqlite3_bind_double(st, 6, cm->expires_ts);
	sqlite3_bind_text(st, 7, cm_state_name(cm->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)cm->command_id);
	sqlite3_bind_text(st, 9, cm->result_message, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_err("events: countermeasure %llu update: %s",
		    (unsigned long long)cm->id, sqlite3_errmsg(es->w));
		events_count_add(&es->stats.write_errors, 1);
		return -1;
	}
	return sqlite3_changes(es->w) == 1 ? 0 : -1;
}

int
events_cm_get(struct events *es, uint64_t id, struct countermeasure *out)
{
	int rc = -1;

	if (es == NULL || out == NULL || id > INT64_MAX)
		return -1;
	pthread_mutex_lock(&es->rlock);
	sqlite3_bind_int64(es->cm_get, 1, (sqlite3_int64)id);
	if (sqlite3_step(es->cm_get) == SQLITE_ROW) {
		events_read_cm(es->cm_get, out);
		rc = 0;
	}
	sqlite3_reset(es->cm_get);
	sqlite3_clear_bindings(es->cm_get);
	pthread_mutex_unlock(&es->rlock);
	return rc;
}

int
events_cm_in_force(struct events *es, struct countermeasure **out, size_t *n)
{
	int rc;

	if (es == NULL || out == NULL || n == NULL)
		return -1;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&es->rlock);
	rc = events_collect(es, es->cm_force, SIZE_MAX, sizeof(**out),
	    events_cm_fn, (void **)out, n);
	pthread_mutex_unlock(&es->rlock);
	return rc;
}

uint64_t
events_cm_max_command_id(struct events *es)
{
	uint64_t v = 0;

	if (es == NULL)
		return 0;
	pthread_mutex_lock(&es->rlock);
	if (sqlite3_step(es->cm_maxcmd) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(es->cm_maxcmd, 0);
	sqlite3_reset(es->cm_maxcmd);
	pthread_mutex_unlock(&es->rlock);
	return v;
}

/* ---- batched upserts (capacity reports) ---- */

/* One kind of batch: its upsert, its retention DELETE (?1 = first day kept), how a row binds. */
struct events_batch_sql {
	const char *what;         /* for the log line */
	const char *upsert, *delete_older;
	void (*bind)(sqlite3_stmt *st, const void *rows, size_t i);   /* row i of rows */
};

/*
 * Runs one write transaction: BEGIN IMMEDIATE, q->upsert stepped once per
 * row (bound by q->bind), q->delete_older with ?1 = drop_before_day, COMMIT;
 * any failure rolls back and logs "events: WHAT: <sqlite error>". Returns 0,
 * or -1 (counted as a write error) when anything failed.
 */
static int
events_batch(struct events *es, const struct events_batch_sql *q,
    const void *rows, size_t n, int64_t drop_before_day)
{
	sqlite3_stmt *st = NULL, *del = NULL;
	int rc = -1;

	if (events_exec(es->w, "BEGIN IMMEDIATE", "begin") == -1)
		goto count;
	if (sqlite3_prepare_v2(es->w, q->upsert, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(es->w, q->delete_older, -1, &del, NULL) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		q->bind(st, rows, i);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(st);
	}
	sqlite3_bind_int64(del, 1, drop_before_day);
	if (sqlite3_step(del) != SQLITE_DONE)
		goto fail;
	if (events_exec(es->w, "COMMIT", "commit") == 0)
		rc = 0;
	else
		events_exec(es->w, "ROLLBACK", "rollback");
	goto out;
fail:
	log_warn("events: %s: %s", q->what, sqlite3_errmsg(es->w));
	events_exec(es->w, "ROLLBACK", "rollback");
out:
	sqlite3_finalize(st);
	sqlite3_finalize(del);
count:
	if (rc == -1)
		events_count_add(&es->stats.write_errors, 1);
	return rc;
}

/* ---- application bytes per customer and day (capacity reports) ---- */

static void
events_bind_app(sqlite3_stmt *st, const void *rows, size_t i)
{
	const struct events_app_bytes *r = (const struct events_app_bytes *)rows + i;

	sqlite3_bind_text(st, 1, r->customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->day);
	sqlite3_bind_text(st, 3, r->app, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, r->rx_bytes);
	sqlite3_bind_double(st, 5, r->tx_bytes);
}

int
events_apps_add(struct events *es, const struct events_app_bytes *rows,
    size_t n, int64_t drop_before_day)
{
	static const struct events_batch_sql q = {
		"app bytes",
		"INSERT INTO app_daily (customer, day, app, rx_bytes, tx_bytes) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (customer, day, app) DO "
		"UPDATE SET rx_bytes = rx_bytes + ?4, tx_bytes = tx_bytes + ?5",
		"DELETE FROM app_daily WHERE day < ?1", events_bind_app,
	};

	return events_batch(es, &q, rows, n, drop_before_day);
}

int
events_apps_top(struct events *es, const char *customer, int64_t day_from,
    int64_t day_to, struct events_app_bytes *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, s;

	*n = 0;
	pthread_mutex_lock(&es->rlock);
	if (sqlite3_prepare_v2(es->r, "SELECT app, SUM(rx_bytes), SUM(tx_bytes) "
	    "FROM app_daily WHERE customer = ?1 AND day >= ?2 AND day < ?3 "
	    "GROUP BY app ORDER BY SUM(rx_bytes) + SUM(tx_bytes) DESC, app "
	    "LIMIT ?4", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, day_from);
	sqlite3_bind_int64(st, 3, day_to);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	while ((s = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct events_app_bytes *a = &out[(*n)++];
		memset(a, 0, sizeof(*a));
		snprintf(a->customer, sizeof(a->customer), "%s", customer);
		events_col_text(st, 0, a->app, sizeof(a->app));
		a->rx_bytes = sqlite3_column_double(st, 1);
		a->tx_bytes = sqlite3_column_double(st, 2);
	}
	rc = s == SQLITE_DONE || s == SQLITE_ROW ? 0 : -1;
out:
	if (rc == -1)
		log_warn("events: app bytes query: %s", sqlite3_errmsg(es->r));
	sqlite3_finalize(st);
	pthread_mutex_unlock(&es->rlock);
	return rc;
}

/* ---- daily 95th percentiles (capacity trends) ---- */

static void
events_bind_daily(sqlite3_stmt *st, const void *rows, size_t i)
{
	const struct events_daily *r = (const struct events_daily *)rows + i;

	sqlite3_bind_text(st, 1, r->customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->day);
	sqlite3_bind_double(st, 3, r->rx_p95_bps);
	sqlite3_bind_double(st, 4, r->tx_p95_bps);
}

int
events_daily_put(struct events *es, const struct events_daily *rows, size_t n,
    int64_t drop_before_day)
{
	static const struct events_batch_sql q = {
		"daily p95",
		"INSERT OR REPLACE INTO daily_p95 (customer, day, rx_p95_bps, "
		"tx_p95_bps) VALUES (?1, ?2, ?3, ?4)",
		"DELETE FROM daily_p95 WHERE day < ?1", events_bind_daily,
	};

	return events_batch(es, &q, rows, n, drop_before_day);
}

int
events_daily_get(struct events *es, const char *customer, int64_t day_from,
    int64_t day_to, struct events_daily *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, s = SQLITE_DONE;

	*n = 0;
	pthread_mutex_lock(&es->rlock);
	if (sqlite3_prepare_v2(es->r, "SELECT day, rx_p95_bps, tx_p95_bps FROM "
	    "daily_p95 WHERE customer = ?1 AND day >= ?2 AND day < ?3 ORDER BY "
	    "day LIMIT ?4", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, day_from);
	sqlite3_bind_int64(st, 3, day_to);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	while (*n < max && (s = sqlite3_step(st)) == SQLITE_ROW) {
		struct events_daily *d = &out[(*n)++];
		snprintf(d->customer, sizeof(d->customer), "%s", customer);
		d->day = sqlite3_column_int64(st, 0);
		d->rx_p95_bps = sqlite3_column_double(st, 1);
		d->tx_p95_bps = sqlite3_column_double(st, 2);
	}
	rc = s == SQLITE_DONE || s == SQLITE_ROW ? 0 : -1;
out:
	if (rc == -1)
		log_warn("events: daily p95 query: %s", sqlite3_errmsg(es->r));
	sqlite3_finalize(st);
	pthread_mutex_unlock(&es->rlock);
	return rc;
}

int
events_sla_breaches(struct events *es, const char *customer, double from,
    double to, double *start, double *end, size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, s = SQLITE_DONE;

	*n = 0;
	pthread_mutex_lock(&es->rlock);
	if (sqlite3_prepare_v2(es->r, "SELECT start_ts, end_ts FROM sla_breach "
	    "WHERE customer = ?1 AND start_ts < ?3 AND (end_ts IS NULL OR end_ts > "
	    "?2) ORDER BY start_ts LIMIT ?4", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, customer, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, from);
	sqlite3_bind_double(st, 3, to);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	while (*n < max && (s = sqlite3_step(st)) == SQLITE_ROW) {
		start[*n] = sqlite3_column_double(st, 0);
		end[(*n)++] = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN :
		    sqlite3_column_double(st, 1);
	}
	rc = s == SQLITE_DONE || s == SQLITE_ROW ? 0 : -1;
out:
	if (rc == -1)
		log_warn("events: sla breaches: %s", sqlite3_errmsg(es->r));
	sqlite3_finalize(st);
	pthread_mutex_unlock(&es->rlock);
	return rc;
}
