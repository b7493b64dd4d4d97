/* test_operator_respond.c: ban policy, global bans via correlate, dedupe, expiry, restart, results, manual API, upstream hook. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "correlate.h"
#include "events.h"
#include "respond.h"

#define SENT_MAX 256

/* The recording send callback's state. */
struct sent {
	size_t n;
	char   probe[SENT_MAX][GW_ID_MAX];
	struct gw_command cmd[SENT_MAX];
	char   down[GW_ID_MAX];      /* sends to this probe fail */
};

struct fixture {
	char dir[64];
	char path[128];
	struct events *es;
	struct sent sent;
};

static int
rec_send(const char *probe_id, const struct gw_command *cmd, void *ctx)
{
	struct sent *s = ctx;

	if (strcmp(probe_id, s->down) == 0)
		return -1;
	if (s->n < SENT_MAX) {
		snprintf(s->probe[s->n], GW_ID_MAX, "%s", probe_id);
		s->cmd[s->n] = *cmd;
	}
	s->n++;
	return 0;
}

static struct events *
open_db(const struct fixture *f)
{
	struct events_config cfg = { .path = f->path };

	return events_open(&cfg);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gw-respond-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/gw.db", f->dir);
	f->es = open_db(f);
	assert_non_null(f->es);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	const char *files[] = { "gw.db", "gw.db-wal", "gw.db-shm", "hook.sh",
	    "out.json" };
	char p[192];

	events_close(f->es);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct respond *
new_respond(struct fixture *f, const char *conf)
{
	struct respond_config rc;

	assert_int_equal(respond_config_parse("test", conf != NULL ? conf : "",
	    &rc, NULL), 0);
	return respond_new(&rc, f->es, rec_send, &f->sent);
}

static void
flood(struct gw_event *ev, const char *src)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->customer, sizeof(ev->customer), "c101");
	snprintf(ev->kind, sizeof(ev->kind), "syn_flood");
	snprintf(ev->severity, sizeof(ev->severity), "high");
	snprintf(ev->direction, sizeof(ev->direction), "rx");
	snprintf(ev->src, sizeof(ev->src), "%s", src);
	snprintf(ev->dst, sizeof(ev->dst), "10.0.101.10");
	ev->rate_pps = 50000;
}

static void
get_cm(struct fixture *f, uint64_t id, struct countermeasure *cm)
{
	assert_int_equal(events_cm_get(f->es, id, cm), 0);
}

static size_t
count_cm(struct fixture *f, const char *action)
{
	struct events_filter flt = { .kind = action, .limit = 1000 };
	struct countermeasure *rows;
	size_t n;

	assert_int_equal(events_cm_list(f->es, &flt, &rows, &n), 0);
	free(rows);
	return n;
}

static void
result(struct respond *r, const char *probe, uint64_t id, bool ok,
    const char *msg, double now)
{
	struct gw_command_result res;

	memset(&res, 0, sizeof(res));
	res.id = id;
	res.ok = ok;
	snprintf(res.message, sizeof(res.message), "%s", msg);
	respond_command_result(r, probe, &res, now);
}

static void
test_local_ban_and_result(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, "ban_timeout_s 300\n");
	struct countermeasure cm;
	struct gw_event ev;

	assert_non_null(r);
	respond_probe_seen(r, "p1", NULL, 1000);
	assert_int_equal(f->sent.n, 0);
	flood(&ev, "198.51.100.7");
	respond_event(r, "p1", &ev, 1000);
	assert_int_equal(f->sent.n, 1);
	assert_string_equal(f->sent.probe[0], "p1");
	assert_string_equal(f->sent.cmd[0].kind, "ban");
	assert_string_equal(f->sent.cmd[0].address, "198.51.100.7");
	assert_int_equal(f->sent.cmd[0].prefix_len, 32);
	assert_int_equal(f->sent.cmd[0].timeout_s, 300);
	assert_int_equal(count_cm(f, "ban"), 1);
	get_cm(f, 1, &cm);
	assert_int_equal(cm.state, CM_PENDING);
	assert_string_equal(cm.scope, "p1");
	assert_string_equal(cm.customer, "c101");
	assert_string_equal(cm.decided_by, "policy:flood");
	assert_non_null(strstr(cm.reason, "syn_flood"));
	assert_true(cm.sent_ts == 1000 && cm.applied_ts == 0);
	assert_true(cm.expires_ts == 1300);
	assert_int_equal(cm.command_id, f->sent.cmd[0].id);

	/* An unknown result id is ignored; the real one marks it applied. */
	result(r, "p1", 999999, true, "", 1000.2);
	result(r, "p1", f->sent.cmd[0].id, true, "dry-run", 1000.5);
	get_cm(f, 1, &cm);
	assert_int_equal(cm.state, CM_ACTIVE);
	assert_true(cm.applied_ts == 1000.5);
	assert_string_equal(cm.result_message, "p1: ok: dry-run");
	respond_free(r);
}

static void
test_no_ban(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, "allow 198.51.100.0/25\n"
	    "allow 2001:db8::/32\n");
	struct respond_stats st;
	struct gw_event ev;

	assert_non_null(r);
	respond_probe_seen(r, "p1", "203.0.113.50", 10);
	flood(&ev, "198.51.100.7");                 /* allowlist */
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "2001:db8::5");                  /* allowlist v6 */
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "127.0.0.5");                    /* loopback, always */
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "::1");
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "203.0.113.50");                 /* the probe itself */
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "198.51.100.200");
	ev.cleared = true;                          /* cleared */
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "198.51.100.200");
	snprintf(ev.severity, sizeof(ev.severity), "medium");
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "198.51.100.200");
	snprintf(ev.kind, sizeof(ev.kind), "port_scan");
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "");                             /* no concrete source */
	respond_event(r, "p1", &ev, 10);
	flood(&ev, "198.51.100.300");               /* not an address */
	respond_event(r, "p1", &ev, 10);
	assert_int_equal(f->sent.n, 0);
	assert_int_equal(count_cm(f, NULL), 0);
	respond_stats_get(r, &st);
	assert_int_equal(st.refused_allow, 6);
	assert_true(respond_is_allowed(r, "198.51.100.127"));
	assert_false(respond_is_allowed(r, "198.51.100.128"));
	/* Control: the same flood from a non-allowlisted source is banned. */
	flood(&ev, "198.51.100.200");
	respond_event(r, "p1", &ev, 10);
	assert_int_equal(f->sent.n, 1);
	respond_free(r);
}

static void
test_dedupe_extend(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, NULL);
	struct respond_stats st;
	struct countermeasure cm;
	struct gw_event ev;

	respond_probe_seen(r, "p1", NULL, 1000);
	flood(&ev, "198.51.100.7");
	respond_event(r, "p1", &ev, 1000);
	respond_event(r, "p1", &ev, 1100);
	assert_int_equal(count_cm(f, "ban"), 1);
	get_cm(f, 1, &cm);
	assert_true(cm.expires_ts == 1700);         /* default 600 s from 1100 */
	assert_int_equal(f->sent.n, 2);             /* re-sent with the new timeout */
	assert_int_equal(f->sent.cmd[1].timeout_s, 600);
	assert_true(f->sent.cmd[1].id > f->sent.cmd[0].id);
	assert_int_equal(cm.command_id, f->sent.cmd[1].id);
	/* Another probe reporting it gets its own local ban. */
	respond_probe_seen(r, "p2", NULL, 1100);
	respond_event(r, "p2", &ev, 1100);
	assert_int_equal(count_cm(f, "ban"), 2);
	respond_stats_get(r, &st);
	assert_int_equal(st.bans, 2);
	assert_int_equal(st.extended, 1);
	assert_int_equal(st.in_force, 2);
	respond_free(r);
}

/* Integration-style wiring: correlate's global decisions go to respond. */
static void
to_respond(const struct correlate_global *g, void *ctx)
{
	respond_global(ctx, g, g->ts);
}

static void
test_global_ban(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, NULL);
	struct correlate_config cc = { .global_min_probes = 2,
	    .global_window_s = 60 };
	struct correlate_callbacks cb = { NULL, to_respond, r };
	struct correlate *c = correlate_new(&cc, &cb);
	struct countermeasure cm;
	struct gw_event ev;
	size_t p1 = 0, p2 = 0, p3 = 0;

	assert_non_null(c);
	respond_probe_seen(r, "p1", NULL, 1000);
	respond_probe_seen(r, "p2", NULL, 1000);
	respond_probe_seen(r, "p3", NULL, 1000);
	flood(&ev, "203.0.113.66");
	respond_event(r, "p1", &ev, 1000);
	correlate_event(c, "p1", &ev, 1000);
	assert_int_equal(f->sent.n, 1);
	respond_event(r, "p2", &ev, 1010);
	correlate_event(c, "p2", &ev, 1010);
	/* Local ban at p2, then the global ban to p1, p2 and p3. */
	assert_int_equal(f->sent.n, 5);
	for (size_t i = 2; i < 5; i++) {
		assert_string_equal(f->sent.cmd[i].kind, "ban");
		assert_string_equal(f->sent.cmd[i].address, "203.0.113.66");
		p1 += strcmp(f->sent.probe[i], "p1") == 0;
		p2 += strcmp(f->sent.probe[i], "p2") == 0;
		p3 += strcmp(f->sent.probe[i], "p3") == 0;
	}
	assert_true(p1 == 1 && p2 == 1 && p3 == 1);
	assert_int_equal(count_cm(f, "ban"), 3);
	get_cm(f, 3, &cm);
	assert_string_equal(cm.scope, "*");
	assert_string_equal(cm.decided_by, "policy:global");
	assert_non_null(strstr(cm.reason, "2 probes: p1 p2"));
	/* p3 reporting it now extends the global ban instead of a new row. */
	respond_event(r, "p3", &ev, 1020);
	assert_int_equal(count_cm(f, "ban"), 3);
	get_cm(f, 3, &cm);
	assert_true(cm.expires_ts == 1620);
	/* One probe refusing it does not fail a global ban; all refusing does. */
	result(r, f->sent.probe[2], f->sent.cmd[2].id, false, "allowlisted",
	    1021);
	get_cm(f, 3, &cm);
	assert_int_equal(cm.state, CM_PENDING);
	result(r, f->sent.probe[3], f->sent.cmd[3].id, true, "", 1022);
	get_cm(f, 3, &cm);
	assert_int_equal(cm.state, CM_ACTIVE);
	assert_true(cm.applied_ts == 1022);
	/* Expiry of the global ban: unban to every probe. */
	f->sent.n = 0;
	respond_tick(r, 1599);
	assert_int_equal(f->sent.n, 0);
	respond_tick(r, 1619);                      /* the local bans at p1, p2 */
	assert_int_equal(f->sent.n, 2);
	get_cm(f, 3, &cm);
	assert_int_equal(cm.state, CM_ACTIVE);
	respond_tick(r, 1700);
	assert_int_equal(f->sent.n, 5);             /* + 3 global unbans */
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(f->sent.cmd[i].kind, "unban");
	get_cm(f, 3, &cm);
	assert_int_equal(cm.state, CM_EXPIRED);
	assert_true(cm.lifted_ts == 1700);
	correlate_free(c);
	respond_free(r);
}

static void
test_expiry(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, "ban_timeout_s 60\n");
	struct respond_stats st;
	struct countermeasure cm;
	struct gw_event ev;

	respond_probe_seen(r, "p1", NULL, 0);
	flood(&ev, "2001:DB8:0::77");
	respond_event(r, "p1", &ev, 100);
	assert_int_equal(f->sent.n, 1);
	assert_string_equal(f->sent.cmd[0].address, "2001:db8::77");
	assert_int_equal(f->sent.cmd[0].prefix_len, 128);
	respond_tick(r, 159);
	assert_int_equal(f->sent.n, 1);
	respond_tick(r, 160);
	assert_int_equal(f->sent.n, 2);
	assert_string_equal(f->sent.cmd[1].kind, "unban");
	assert_string_equal(f->sent.cmd[1].address, "2001:db8::77");
	assert_string_equal(f->sent.probe[1], "p1");
	get_cm(f, 1, &cm);
	assert_int_equal(cm.state, CM_EXPIRED);
	assert_true(cm.lifted_ts == 160);
	/* The probe's answer to the unban is noted, the state stays expired. */
	result(r, "p1", f->sent.cmd[1].id, false, "not present", 161);
	get_cm(f, 1, &cm);
	assert_int_equal(cm.state, CM_EXPIRED);
	assert_non_null(strstr(cm.result_message, "not present"));
	respond_tick(r, 200);
	assert_int_equal(f->sent.n, 2);
	respond_stats_get(r, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.in_force, 0);
	respond_free(r);
}

static void
test_failed_result(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, NULL);
	struct countermeasure cm;
	struct gw_event ev;

	respond_probe_seen(r, "p1", NULL, 0);
	flood(&ev, "198.51.100.9");
	respond_event(r, "p1", &ev, 100);
	result(r, "p1", f->sent.cmd[0].id, false, "cap reached", 101);
	get_cm(f, 1, &cm);
	assert_int_equal(cm.state, CM_FAILED);
	assert_string_equal(cm.result_message, "p1: failed: cap reached");
	/* Not in force any more: the next report makes a new decision. */
	respond_event(r, "p1", &ev, 102);
	assert_int_equal(count_cm(f, "ban"), 2);
	respond_free(r);
}

static void
test_restart_and_hello(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, NULL);
	struct countermeasure cm;
	struct gw_event ev;
	char err[GW_TEXT_MAX];
	uint64_t last_id, gid;
	struct respond_manual m = { .address = "198.51.100.0",
	    .prefix_len = 24, .user = "alice", .reason = "abuse" };

	respond_probe_seen(r, "p1", NULL, 1000);
	flood(&ev, "198.51.100.7");
	respond_event(r, "p1", &ev, 1000);
	gid = respond_manual_ban(r, &m, 1000, err, sizeof(err));
	assert_true(gid > 0);
	assert_int_equal(f->sent.n, 2);
	last_id = f->sent.cmd[1].id;
	respond_free(r);                          /* operator stops */

	f->sent.n = 0;
	r = new_respond(f, NULL);                 /* operator restarts */
	assert_non_null(r);
	assert_int_equal(f->sent.n, 0);
	/* First contact from p1: its ban and the global one, remaining time. */
	respond_probe_seen(r, "p1", NULL, 1100);
	assert_int_equal(f->sent.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(f->sent.probe[i], "p1");
		assert_string_equal(f->sent.cmd[i].kind, "ban");
		assert_int_equal(f->sent.cmd[i].timeout_s, 500);
		assert_true(f->sent.cmd[i].id > last_id);
	}
	respond_probe_seen(r, "p1", NULL, 1101);  /* not first: nothing */
	assert_int_equal(f->sent.n, 2);
	/* The probe restarted (Hello): everything again. */
	respond_probe_hello(r, "p1", 1200);
	assert_int_equal(f->sent.n, 4);
	assert_int_equal(f->sent.cmd[3].timeout_s, 400);
	/* A new probe gets only the global ban. */
	respond_probe_hello(r, "p9", 1200);
	assert_int_equal(f->sent.n, 5);
	assert_string_equal(f->sent.probe[4], "p9");
	assert_string_equal(f->sent.cmd[4].address, "198.51.100.0");
	assert_int_equal(f->sent.cmd[4].prefix_len, 24);
	result(r, "p9", f->sent.cmd[4].id, true, "", 1201);
	get_cm(f, gid, &cm);
	assert_int_equal(cm.state, CM_ACTIVE);
	assert_string_equal(cm.decided_by, "api:alice");
	respond_free(r);
}

static void
test_unreachable_probe(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, NULL);
	struct respond_stats st;
	struct countermeasure cm;
	struct gw_event ev;

	snprintf(f->sent.down, sizeof(f->sent.down), "p1");
	respond_probe_seen(r, "p1", NULL, 0);
	flood(&ev, "198.51.100.9");
	respond_event(r, "p1", &ev, 100);
	assert_int_equal(f->sent.n, 0);
	get_cm(f, 1, &cm);
	assert_int_equal(cm.state, CM_PENDING);
	assert_true(cm.sent_ts == 0);
	respond_stats_get(r, &st);
	assert_int_equal(st.send_failures, 1);
	f->sent.down[0] = '\0';
	respond_probe_hello(r, "p1", 150);
	assert_int_equal(f->sent.n, 1);
	assert_int_equal(f->sent.cmd[0].timeout_s, 550);
	get_cm(f, 1, &cm);
	assert_true(cm.sent_ts == 150);
	respond_free(r);
}

static void
test_manual(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, "allow 192.0.2.0/24\n");
	struct countermeasure cm;
	char err[GW_TEXT_MAX];
	uint64_t id, uid;
	struct respond_manual m = { .address = "203.0.113.0", .prefix_len = 24,
	    .user = "alice", .timeout_s = 3600 };

	respond_probe_seen(r, "p1", NULL, 0);
	respond_probe_seen(r, "p2", NULL, 0);
	id = respond_manual_ban(r, &m, 100, err, sizeof(err));
	assert_true(id > 0);
	assert_int_equal(f->sent.n, 2);
	assert_int_equal(f->sent.cmd[0].timeout_s, 3600);
	get_cm(f, id, &cm);
	assert_string_equal(cm.scope, "*");
	assert_string_equal(cm.decided_by, "api:alice");
	assert_string_equal(cm.reason, "manual");
	/* The same again: extended, same id. */
	assert_int_equal(respond_manual_ban(r, &m, 200, err, sizeof(err)), id);
	assert_int_equal(count_cm(f, "ban"), 1);

	/* Refusals with reasons. */
	m.address = "192.0.2.10";
	m.prefix_len = 0;
	assert_int_equal(respond_manual_ban(r, &m, 200, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "allowlisted"));
	m.address = "10.0.0.0";
	m.prefix_len = 8;
	assert_int_equal(respond_manual_ban(r, &m, 200, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "too wide"));
	m.address = "127.0.0.1";
	m.prefix_len = 0;
	assert_int_equal(respond_manual_ban(r, &m, 200, err, sizeof(err)), 0);
	m.address = "bogus";
	assert_int_equal(respond_manual_ban(r, &m, 200, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "invalid address"));
	m.address = "198.51.100.1";
	m.scope = "p7";
	assert_int_equal(respond_manual_ban(r, &m, 200, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "unknown probe"));
	m.scope = "p1";
	m.user = "bad user";
	assert_int_equal(respond_manual_ban(r, &m, 200, err, sizeof(err)), 0);
	m.user = "alice";
	assert_int_equal(count_cm(f, "ban"), 1);

	/* Unban: nothing in force, then the /24. */
	m.address = "198.51.100.1";
	m.scope = NULL;
	assert_int_equal(respond_manual_unban(r, &m, 300, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "no ban in force"));
	f->sent.n = 0;
	m.address = "203.0.113.0";
	m.prefix_len = 24;
	m.reason = "customer asked";
	uid = respond_manual_unban(r, &m, 300, err, sizeof(err));
	assert_true(uid > id);
	assert_int_equal(f->sent.n, 2);
	assert_string_equal(f->sent.cmd[0].kind, "unban");
	get_cm(f, id, &cm);
	assert_int_equal(cm.state, CM_LIFTED);
	assert_true(cm.lifted_ts == 300);
	get_cm(f, uid, &cm);
	assert_int_equal(cm.action, CM_UNBAN);
	assert_string_equal(cm.decided_by, "api:alice");
	assert_non_null(strstr(cm.reason, "customer asked"));
	result(r, f->sent.probe[1], f->sent.cmd[1].id, true, "", 301);
	get_cm(f, uid, &cm);
	assert_true(cm.applied_ts == 301);
	/* Lifted: it does not come back on Hello, and tick has nothing to do. */
	f->sent.n = 0;
	respond_probe_hello(r, "p1", 400);
	respond_tick(r, 10000);
	assert_int_equal(f->sent.n, 0);
	respond_free(r);
}

static void
test_config(void **state)
{
	struct respond_config rc;
	struct correlate_config cc;

	(void)state;
	assert_int_equal(respond_config_parse("t", "ban_timeout_s 900\n"
	    "global_min_probes 3\nglobal_window_s 30\n"
	    "distributed_min_sources 50\ndistributed_window_s 20\n"
	    "silent_timeout_s 15\nhook /usr/local/bin/blackhole\n"
	    "hook_timeout_s 5\nallow 10.0.0.0/8\nallow ::1\n", &rc, &cc), 0);
	assert_int_equal(rc.ban_timeout_s, 900);
	assert_int_equal(cc.global_min_probes, 3);
	assert_true(cc.global_window_s == 30 && cc.distributed_window_s == 20);
	assert_int_equal(cc.distributed_min_sources, 50);
	assert_true(cc.silent_timeout_s == 15);
	assert_string_equal(rc.hook, "/usr/local/bin/blackhole");
	assert_int_equal(rc.hook_timeout_s, 5);
	assert_int_equal(rc.n_allow, 2);
	assert_int_equal(rc.allow[0].prefix_len, 8);
	assert_int_equal(respond_config_parse("t", "hook relative/path\n", &rc,
	    &cc), -1);
	assert_int_equal(respond_config_parse("t", "allow 10.0.0.1/8\n", &rc,
	    &cc), -1);
	assert_int_equal(respond_config_parse("t", "ban_timeout_s 0\n", &rc,
	    &cc), -1);
	assert_int_equal(respond_config_parse("t", "distributed_min_sources "
	    "1000\n", &rc, &cc), -1);
	assert_int_equal(respond_config_parse("t", "frobnicate 1\n", &rc, &cc),
	    -1);
	assert_int_equal(respond_config_parse("t", "ban_timeout_s 60\n", &rc,
	    NULL), 0);
}

/* An API thread's view: submit and wait for the ingest thread. */
struct api_thread {
	struct respond *r;
	enum respond_op op;
	struct respond_manual m;
	int timeout_ms;
	uint64_t id;
	char err[GW_TEXT_MAX];
	volatile int done;
};

static void *
api_main(void *p)
{
	struct api_thread *a = p;

	a->id = respond_submit(a->r, a->op, &a->m, a->timeout_ms, a->err,
	    sizeof(a->err));
	a->done = 1;
	return NULL;
}

static void
test_submit_from_thread(void **state)
{
	struct fixture *f = *state;
	struct respond *r = new_respond(f, NULL);
	struct api_thread a = { .r = r, .op = RESPOND_OP_BAN,
	    .m = { .address = "198.51.100.44", .user = "bob" },
	    .timeout_ms = 5000 };
	struct countermeasure cm;
	pthread_t t;
	int spins = 0;

	respond_probe_seen(r, "p1", NULL, 0);
	assert_int_equal(pthread_create(&t, NULL, api_main, &a), 0);
	while (!a.done && spins++ < 500) {   /* the ingest loop, bounded */
		respond_run_requests(r, 100);
		usleep(2000);
	}
	pthread_join(t, NULL);
	assert_true(a.id > 0);
	get_cm(f, a.id, &cm);
	assert_string_equal(cm.decided_by, "api:bob");
	assert_int_equal(f->sent.n, 1);
	assert_string_equal(f->sent.cmd[0].address, "198.51.100.44");

	/* Unban through the same path; an error comes back as text. */
	a.op = RESPOND_OP_UNBAN;
	a.done = 0;
	assert_int_equal(pthread_create(&t, NULL, api_main, &a), 0);
	for (spins = 0; !a.done && spins < 500; spins++) {
		respond_run_requests(r, 200);
		usleep(2000);
	}
	pthread_join(t, NULL);
	assert_true(a.id > 0);
	a.done = 0;
	assert_int_equal(pthread_create(&t, NULL, api_main, &a), 0);
	for (spins = 0; !a.done && spins < 500; spins++) {
		respond_run_requests(r, 300);
		usleep(2000);
	}
	pthread_join(t, NULL);
	assert_int_equal(a.id, 0);
	assert_non_null(strstr(a.err, "no ban in force"));

	/* Nobody runs the queue: the request times out and is withdrawn. */
	a.op = RESPOND_OP_BAN;
	a.timeout_ms = 100;
	a.done = 0;
	assert_int_equal(pthread_create(&t, NULL, api_main, &a), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.id, 0);
	assert_non_null(strstr(a.err, "timed out"));
	f->sent.n = 0;
	respond_run_requests(r, 400);            /* nothing left to run */
	assert_int_equal(f->sent.n, 0);
	respond_free(r);
}

/* ---- the upstream hook ---- */

static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
write_hook(struct fixture *f, const char *body, char *conf, size_t len,
    unsigned timeout_s)
{
	char path[192];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/hook.sh", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	fclose(fp);
	assert_int_equal(chmod(path, 0700), 0);
	snprintf(conf, len, "hook %s\nhook_timeout_s %u\n", path, timeout_s);
}

static void
distributed(struct gw_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->customer, sizeof(ev->customer), "c101");
	snprintf(ev->kind, sizeof(ev->kind), "distributed_attack");
	snprintf(ev->severity, sizeof(ev->severity), "high");
	snprintf(ev->dst, sizeof(ev->dst), "10.0.101.10");
	snprintf(ev->detail, sizeof(ev->detail), "25 distinct \"sources\"");
	ev->rate_pps = 123456;
	ev->n_top_talkers = 2;
	snprintf(ev->top_talkers[0], sizeof(ev->top_talkers[0]), "198.51.100.1");
	snprintf(ev->top_talkers[1], sizeof(ev->top_talkers[1]), "203.0.113.2");
}

/* Ticks with wall-clock time until row id leaves pending; bounded. */
static void
wait_hook(struct respond *r, struct fixture *f, uint64_t id, double max_s,
    struct countermeasure *cm)
{
	double start = wall_now();

	for (;;) {
		respond_tick(r, wall_now());
		get_cm(f, id, cm);
		if (cm->state != CM_PENDING || wall_now() - start > max_s)
			return;
		usleep(20000);
	}
}

static void
test_hook_runs(void **state)
{
	struct fixture *f = *state;
	char conf[512], body[512], out[192], json[4096];
	struct countermeasure cm;
	struct gw_event ev;
	struct respond *r;
	FILE *fp;
	size_t n;

	snprintf(out, sizeof(out), "%s/out.json", f->dir);
	snprintf(body, sizeof(body), "cat > %s\n[ \"$#\" = 0 ] || exit 9\nexit 0",
	    out);
	write_hook(f, body, conf, sizeof(conf), 5);
	r = new_respond(f, conf);
	assert_non_null(r);
	distributed(&ev);
	respond_event(r, "p1", &ev, wall_now());   /* a probe cannot ask */
	assert_int_equal(count_cm(f, "hook"), 0);
	respond_event(r, "operator", &ev, wall_now());
	assert_int_equal(count_cm(f, "hook"), 1);
	wait_hook(r, f, 1, 5, &cm);
	assert_int_equal(cm.state, CM_ACTIVE);
	assert_string_equal(cm.result_message, "exit status 0");
	assert_string_equal(cm.decided_by, "policy:distributed");
	assert_string_equal(cm.customer, "c101");
	assert_true(cm.applied_ts > 0);
	assert_non_null(fp = fopen(out, "r"));
	n = fread(json, 1, sizeof(json) - 1, fp);
	fclose(fp);
	json[n] = '\0';
	assert_non_null(strstr(json, "\"action\":\"blackhole\""));
	assert_non_null(strstr(json, "\"countermeasure_id\":1,"));
	assert_non_null(strstr(json, "\"customer\":\"c101\""));
	assert_non_null(strstr(json, "\"target\":\"10.0.101.10\""));
	assert_non_null(strstr(json, "\"rate_pps\":123456"));
	assert_non_null(strstr(json, "\"sources\":[\"198.51.100.1\","
	    "\"203.0.113.2\"]"));
	assert_non_null(strstr(json, "25 distinct \\\"sources\\\""));
	assert_true(json[n - 1] == '\n' && json[n - 2] == '}');
	/* The same customer again within the timeout: no second run. */
	respond_event(r, "operator", &ev, wall_now());
	ev.cleared = true;
	respond_event(r, "operator", &ev, wall_now());
	assert_int_equal(count_cm(f, "hook"), 1);
	/* After the window the row is marked expired. */
	respond_tick(r, wall_now() + 601);
	get_cm(f, 1, &cm);
	assert_int_equal(cm.state, CM_EXPIRED);
	respond_free(r);
}

static void
test_hook_fails_and_hangs(void **state)
{
	struct fixture *f = *state;
	char conf[512];
	struct countermeasure cm;
	struct respond_stats st;
	struct gw_event ev;
	struct respond *r;
	double t0;

	write_hook(f, "exit 3", conf, sizeof(conf), 5);
	r = new_respond(f, conf);
	distributed(&ev);
	respond_event(r, "operator", &ev, wall_now());
	wait_hook(r, f, 1, 5, &cm);
	assert_int_equal(cm.state, CM_FAILED);
	assert_string_equal(cm.result_message, "exit status 3");
	respond_free(r);

	/* A hook that never ends is killed (with its children) after 1 s. */
	write_hook(f, "sleep 30 & wait\n", conf, sizeof(conf), 1);
	r = new_respond(f, conf);
	snprintf(ev.customer, sizeof(ev.customer), "c202");
	t0 = wall_now();
	respond_event(r, "operator", &ev, t0);
	wait_hook(r, f, 2, 5, &cm);
	assert_int_equal(cm.state, CM_FAILED);
	assert_string_equal(cm.result_message, "killed after 1 s timeout");
	assert_true(wall_now() - t0 < 3);
	respond_stats_get(r, &st);
	assert_int_equal(st.hooks_failed, 1);
	respond_free(r);

	/* A hook that does not exist fails cleanly. */
	r = new_respond(f, "hook /nonexistent/gw-hook\n");
	snprintf(ev.customer, sizeof(ev.customer), "c303");
	respond_event(r, "operator", &ev, wall_now());
	wait_hook(r, f, 3, 5, &cm);
	assert_int_equal(cm.state, CM_FAILED);
	assert_string_equal(cm.result_message, "exit status 127");
	respond_free(r);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_local_ban_and_result),
		T(test_no_ban),
		T(test_dedupe_extend),
		T(test_global_ban),
		T(test_expiry),
		T(test_failed_result),
		T(test_restart_and_hello),
		T(test_unreachable_probe),
		T(test_manual),
		cmocka_unit_test(test_config),
		T(test_submit_from_thread),
		T(test_hook_runs),
		T(test_hook_fails_and_hangs),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
