/* test_operator_events.c: the SQLite events store: schema, inserts, filtered lists, cap, reopen, reader thread. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "events.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gw-events-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/gw.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[192];
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };

	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct events *
open_db(const struct fixture *f, uint64_t cap)
{
	struct events_config cfg = { .path = f->path, .max_events = cap };

	return events_open(&cfg);
}

static void
make_event(struct gw_event *ev, double ts, const char *customer,
    const char *kind, const char *src)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts = ts;
	snprintf(ev->customer, sizeof(ev->customer), "%s", customer);
	snprintf(ev->kind, sizeof(ev->kind), "%s", kind);
	snprintf(ev->severity, sizeof(ev->severity), "high");
	snprintf(ev->direction, sizeof(ev->direction), "rx");
	snprintf(ev->src, sizeof(ev->src), "%s", src);
	snprintf(ev->dst, sizeof(ev->dst), "10.0.101.10");
	ev->rate_pps = 50000;
	ev->rate_bps = 2.5e7;
	ev->ip_proto = 6;
	ev->dport = 80;
}

/* Reads a PRAGMA through a separate connection (the test's own check). */
static void
pragma_text(const char *path, const char *pragma, char *out, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[64];

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA %s", pragma);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
test_schema(void **state)
{
	struct fixture *f = *state;
	struct events *es = open_db(f, 0);
	char v[32];

	assert_non_null(es);
	pragma_text(f->path, "user_version", v, sizeof(v));
	assert_int_equal(atoi(v), EVENTS_SCHEMA_VERSION);
	pragma_text(f->path, "journal_mode", v, sizeof(v));
	assert_string_equal(v, "wal");
	assert_int_equal(events_count(es), 0);
	assert_int_equal(events_cm_max_command_id(es), 0);
	events_close(es);
	events_close(NULL);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct events *es = open_db(f, 0);
	sqlite3 *db;

	assert_non_null(es);
	events_close(es);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(open_db(f, 0));
}

static void
test_insert_list_filters(void **state)
{
	struct fixture *f = *state;
	struct events *es = open_db(f, 0);
	struct events_filter flt;
	struct events_row *rows;
	struct gw_event ev;
	uint64_t id;
	size_t n;

	assert_non_null(es);
	for (int i = 0; i < 30; i++) {
		make_event(&ev, 1000 + i, i % 3 == 0 ? "c101" : "c102",
		    i % 2 ? "syn_flood" : "udp_flood", "198.51.100.7");
		if (i == 29) {
			ev.n_top_talkers = 2;
			snprintf(ev.top_talkers[0], sizeof(ev.top_talkers[0]),
			    "198.51.100.7 30000pps");
			snprintf(ev.top_talkers[1], sizeof(ev.top_talkers[1]),
			    "2001:db8::1 \"q\"");
			snprintf(ev.detail, sizeof(ev.detail), "it's \"quoted\"");
			ev.cleared = true;
		}
		assert_int_equal(events_add(es, "p1", 5000 + i, &ev, &id), 0);
		assert_int_equal(id, (uint64_t)i + 1);
	}
	assert_int_equal(events_count(es), 30);

	memset(&flt, 0, sizeof(flt));
	assert_int_equal(events_list(es, &flt, &rows, &n), 0);
	assert_int_equal(n, 30);
	assert_int_equal(rows[0].id, 30);   /* newest first */
	assert_string_equal(rows[0].probe, "p1");
	assert_true(rows[0].ev.cleared);
	assert_int_equal(rows[0].ev.n_top_talkers, 2);
	assert_string_equal(rows[0].ev.top_talkers[1], "2001:db8::1 \"q\"");
	assert_string_equal(rows[0].ev.detail, "it's \"quoted\"");
	assert_true(rows[0].received_ts == 5029);
	assert_true(rows[1].ev.rate_pps == 50000);
	assert_int_equal(rows[1].ev.dport, 80);
	assert_false(rows[1].ev.cleared);
	free(rows);

	flt.customer = "c101";                   /* i = 0,3,...,27: 10 */
	assert_int_equal(events_list(es, &flt, &rows, &n), 0);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(rows[i].ev.customer, "c101");
	free(rows);

	flt.kind = "syn_flood";                  /* odd i among those: 3,9,..,27 */
	flt.since = 1010;
	flt.until = 1025;                        /* 15, 21 */
	assert_int_equal(events_list(es, &flt, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_true(rows[0].ev.ts == 1021 && rows[1].ev.ts == 1015);
	free(rows);

	memset(&flt, 0, sizeof(flt));
	flt.limit = 5;
	flt.after_id = 20;
	assert_int_equal(events_list(es, &flt, &rows, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(rows[4].id, 26);
	free(rows);

	flt.limit = EVENTS_LIST_MAX + 1;
	assert_int_equal(events_list(es, &flt, &rows, &n), -1);
	assert_null(rows);
	flt.limit = 0;
	flt.customer = "nobody";
	assert_int_equal(events_list(es, &flt, &rows, &n), 0);
	assert_int_equal(n, 0);
	free(rows);
	events_close(es);
}

static void
test_cap(void **state)
{
	struct fixture *f = *state;
	struct events *es = open_db(f, 10);
	struct events_filter flt;
	struct events_row *rows;
	struct countermeasure cm;
	struct events_stats st;
	struct gw_event ev;
	size_t n;

	assert_non_null(es);
	memset(&cm, 0, sizeof(cm));
	snprintf(cm.address, sizeof(cm.address), "198.51.100.1");
	assert_int_equal(events_cm_add(es, &cm), 0);
	for (int i = 0; i < 100; i++) {
		make_event(&ev, i, "c1", "syn_flood", "198.51.100.1");
		assert_int_equal(events_add(es, "p1", i, &ev, NULL), 0);
	}
	assert_int_equal(events_count(es), 10);
	memset(&flt, 0, sizeof(flt));
	assert_int_equal(events_list(es, &flt, &rows, &n), 0);
	assert_int_equal(n, 10);
	assert_true(rows[0].ev.ts == 99 && rows[9].ev.ts == 90);
	free(rows);
	events_stats_get(es, &st);
	assert_int_equal(st.events_added, 100);
	assert_int_equal(st.events_deleted, 90);
	/* Countermeasures are never capped. */
	assert_int_equal(events_cm_get(es, cm.id, &cm), 0);
	events_close(es);

	/* A larger cap is enforced every 64 inserts: bounded overshoot. */
	es = open_db(f, 100);
	for (int i = 0; i < 300; i++) {
		make_event(&ev, 1000 + i, "c1", "syn_flood", "198.51.100.1");
		assert_int_equal(events_add(es, "p1", i, &ev, NULL), 0);
	}
	assert_true(events_count(es) >= 100 && events_count(es) < 100 + 64);
	events_close(es);
}

static void
fill_cm(struct countermeasure *cm, enum cm_action a, const char *addr,
    const char *scope, double ts)
{
	memset(cm, 0, sizeof(*cm));
	cm->action = a;
	snprintf(cm->address, sizeof(cm->address), "%s", addr);
	cm->prefix_len = 32;
	snprintf(cm->scope, sizeof(cm->scope), "%s", scope);
	snprintf(cm->customer, sizeof(cm->customer), "c101");
	snprintf(cm->reason, sizeof(cm->reason), "syn_flood 'x'");
	snprintf(cm->decided_by, sizeof(cm->decided_by), "policy:flood");
	cm->decided_ts = ts;
	cm->expires_ts = ts + 600;
	cm->state = CM_PENDING;
}

static void
test_countermeasures_reopen(void **state)
{
	struct fixture *f = *state;
	struct events *es = open_db(f, 0);
	struct countermeasure a, b, c, got, *rows;
	struct events_filter flt;
	struct events_row *evs;
	struct gw_event ev;
	size_t n;

	assert_non_null(es);
	fill_cm(&a, CM_BAN, "198.51.100.7", "p1", 100);
	fill_cm(&b, CM_BAN, "198.51.100.8", "*", 200);
	fill_cm(&c, CM_HOOK, "10.0.101.10", "*", 300);
	assert_int_equal(events_cm_add(es, &a), 0);
	assert_int_equal(events_cm_add(es, &b), 0);
	assert_int_equal(events_cm_add(es, &c), 0);
	assert_true(a.id == 1 && b.id == 2 && c.id == 3);
	a.state = CM_ACTIVE;
	a.sent_ts = 101;
	a.applied_ts = 101.5;
	a.command_id = 77;
	snprintf(a.result_message, sizeof(a.result_message), "p1: ok");
	assert_int_equal(events_cm_update(es, &a), 0);
	b.state = CM_EXPIRED;
	b.lifted_ts = 800;
	assert_int_equal(events_cm_update(es, &b), 0);
	got.id = 999;
	got.state = CM_ACTIVE;
	assert_int_equal(events_cm_update(es, &(struct countermeasure){
	    .id = 999 }), -1);
	make_event(&ev, 5, "c101", "syn_flood", "198.51.100.7");
	assert_int_equal(events_add(es, "p1", 6, &ev, NULL), 0);
	events_close(es);

	/* Reopen: everything is still there. */
	es = open_db(f, 0);
	assert_non_null(es);
	assert_int_equal(events_count(es), 1);
	assert_int_equal(events_cm_get(es, 1, &got), 0);
	assert_int_equal(got.state, CM_ACTIVE);
	assert_int_equal(got.action, CM_BAN);
	assert_string_equal(got.address, "198.51.100.7");
	assert_string_equal(got.scope, "p1");
	assert_string_equal(got.reason, "syn_flood 'x'");
	assert_string_equal(got.decided_by, "policy:flood");
	assert_string_equal(got.result_message, "p1: ok");
	assert_true(got.applied_ts == 101.5 && got.expires_ts == 700);
	assert_int_equal(got.command_id, 77);
	assert_int_equal(events_cm_max_command_id(es), 77);
	assert_int_equal(events_cm_get(es, 42, &got), -1);

	assert_int_equal(events_cm_in_force(es, &rows, &n), 0);
	assert_int_equal(n, 1);      /* a (active ban); b expired, c is a hook */
	assert_int_equal(rows[0].id, 1);
	free(rows);

	memset(&flt, 0, sizeof(flt));
	flt.kind = "hook";
	assert_int_equal(events_cm_list(es, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].action, CM_HOOK);
	free(rows);
	memset(&flt, 0, sizeof(flt));
	flt.state = "expired";
	assert_int_equal(events_cm_list(es, &flt, &rows, &n), 0);
	assert_true(n == 1 && rows[0].id == 2);
	free(rows);
	memset(&flt, 0, sizeof(flt));
	flt.since = 150;
	assert_int_equal(events_cm_list(es, &flt, &rows, &n), 0);
	assert_true(n == 2 && rows[0].id == 3 && rows[1].id == 2);
	free(rows);
	memset(&flt, 0, sizeof(flt));
	assert_int_equal(events_list(es, &flt, &evs, &n), 0);
	assert_int_equal(n, 1);
	free(evs);
	events_close(es);
}

static void
test_names(void **state)
{
	enum cm_action a;
	enum cm_state s;

	(void)state;
	assert_int_equal(cm_action_parse("hook", &a), 0);
	assert_int_equal(a, CM_HOOK);
	assert_int_equal(cm_action_parse("nuke", &a), -1);
	assert_int_equal(cm_state_parse("failed", &s), 0);
	assert_int_equal(s, CM_FAILED);
	assert_int_equal(cm_state_parse(NULL, &s), -1);
	assert_string_equal(cm_state_name(CM_LIFTED), "lifted");
	assert_string_equal(cm_action_name((enum cm_action)42), "unknown");
}

struct reader_arg {
	struct events *es;
	volatile int   stop;
	int            lists;
	int            errors;
};

static void *
reader_main(void *p)
{
	struct reader_arg *a = p;
	struct events_filter flt;
	struct events_row *rows;
	size_t n;

	memset(&flt, 0, sizeof(flt));
	flt.limit = EVENTS_LIST_MAX;
	while (!a->stop) {
		if (events_list(a->es, &flt, &rows, &n) == -1)
			a->errors++;
		else
			a->lists++;
		free(rows);
	}
	return NULL;
}

/* HTTP-like reader threads never make the writer fail, and vice versa. */
static void
test_reader_thread(void **state)
{
	struct fixture *f = *state;
	struct events *es = open_db(f, 500);
	struct reader_arg a = { .es = es };
	struct gw_event ev;
	pthread_t t[2];

	assert_non_null(es);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, &a), 0);
	for (int i = 0; i < 2000; i++) {
		make_event(&ev, i, "c1", "udp_flood", "198.51.100.2");
		assert_int_equal(events_add(es, "p1", i, &ev, NULL), 0);
	}
	a.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a.errors, 0);
	assert_true(a.lists > 0);
	events_close(es);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_list_filters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_countermeasures_reopen,
		    setup, teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_reader_thread, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
