/* test_operator_api.c: API routes over real live/store/events/respond: events filters, countermeasures, bans, graph.png, /metrics, customers' recent intervals. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "api.h"
#include "events.h"
#include "live.h"
#include "respond.h"
#include "store.h"

struct fixture {
	char dir[64];
	struct live *live;
	struct store *store;
	struct events *es;
	struct respond *rs;
	struct api_ctx ctx;
	pthread_t runner;
	volatile int stop;
	size_t sent;
};

static int
count_send(const char *probe_id, const struct gw_command *cmd, void *ctx)
{
	struct fixture *f = ctx;

	(void)probe_id;
	(void)cmd;
	f->sent++;
	return 0;
}

/* Plays the ingest thread: executes the API's ban/unban requests. */
static void *
runner(void *arg)
{
	struct fixture *f = arg;
	struct timespec ts = { 0, 2000000 };

	while (!f->stop) {
		respond_run_requests(f->rs, (double)time(NULL));
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/gw-test-api.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/rrd", f->dir);
	f->store = store_new(&(struct store_config){ .dir = path });
	snprintf(path, sizeof(path), "%s/gw.db", f->dir);
	f->es = events_open(&(struct events_config){ .path = path });
	f->live = live_new(10, 100);
	assert_non_null(f->store);
	assert_non_null(f->es);
	assert_non_null(f->live);
	f->rs = respond_new(NULL, f->es, count_send, f);
	assert_non_null(f->rs);
	respond_probe_seen(f->rs, "g1", "", (double)time(NULL));
	assert_int_equal(pthread_create(&f->runner, NULL, runner, f), 0);
	f->ctx = (struct api_ctx){ .live = f->live, .store = f->store,
	    .events = f->es, .respond = f->rs, .start_wall = (double)time(NULL) };
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	f->stop = 1;
	pthread_join(f->runner, NULL);
	respond_free(f->rs);
	events_close(f->es);
	store_free(f->store, 1000);
	live_free(f->live);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Query strings for the fake request: "k=v&k=v" parsed on demand. */
struct query {
	char kv[16][2][128];
	int n;
};

static const char *
query_get(void *qctx, const char *key)
{
	struct query *q = qctx;

	for (int i = 0; i < q->n; i++)
		if (strcmp(q->kv[i][0], key) == 0)
			return q->kv[i][1];
	return NULL;
}

/* Runs METHOD URL [body]; returns the status, the parsed JSON body in *out (or NULL). */
static int
call(struct fixture *f, const char *method, const char *url, const char *body,
    json_t **out, struct api_response *keep)
{
	char path[256], *qs, *save = NULL, *tok;
	struct query q = { .n = 0 };
	struct api_request req;
	struct api_response r;
	int status;

	snprintf(path, sizeof(path), "%s", url);
	if ((qs = strchr(path, '?')) != NULL) {
		*qs++ = '\0';
		for (tok = strtok_r(qs, "&", &save); tok && q.n < 16;
		    tok = strtok_r(NULL, "&", &save), q.n++) {
			char *eq = strchr(tok, '=');
			assert_non_null(eq);
			*eq = '\0';
			snprintf(q.kv[q.n][0], 128, "%s", tok);
			snprintf(q.kv[q.n][1], 128, "%s", eq + 1);
		}
	}
	req = (struct api_request){ .method = method, .path = path,
	    .query = query_get, .qctx = &q, .body = body,
	    .body_len = body ? strlen(body) : 0 };
	assert_int_equal(api_handle(&f->ctx, &req, &r), 0);
	status = r.status;
	if (out != NULL)
		*out = json_loadb(r.body, r.body_len, 0, NULL);
	if (keep != NULL)
		*keep = r;
	else
		api_response_clear(&r);
	return status;
}

static size_t
list_len(struct fixture *f, const char *url, const char *key)
{
	json_t *j;
	size_t n;

	assert_int_equal(call(f, "GET", url, NULL, &j, NULL), 200);
	n = json_array_size(json_object_get(j, key));
	json_decref(j);
	return n;
}

static void
add_event(struct fixture *f, double ts, const char *cust, const char *kind,
    const char *src)
{
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts = ts;
	snprintf(ev.customer, sizeof(ev.customer), "%s", cust);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.severity, sizeof(ev.severity), "high");
	snprintf(ev.src, sizeof(ev.src), "%s", src);
	ev.n_top_talkers = 1;
	snprintf(ev.top_talkers[0], sizeof(ev.top_talkers[0]), "%s 100", src);
	assert_int_equal(events_add(f->es, "g1", ts, &ev, NULL), 0);
}

static void
test_events_filters(void **state)
{
	struct fixture *f = *state;
	json_t *j, *e;

	add_event(f, 1700000000, "c1", "syn_flood", "198.51.100.1");
	add_event(f, 1700000100, "c2", "udp_flood", "198.51.100.2");
	add_event(f, 1700000200, "c1", "port_scan", "198.51.100.3");
	assert_int_equal(call(f, "GET", "/api/v1/events", NULL, &j, NULL), 200);
	assert_int_equal(json_array_size(json_object_get(j, "events")), 3);
	e = json_array_get(json_object_get(j, "events"), 0);   /* newest first */
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "port_scan");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(e, "top_talkers"), 0)), "198.51.100.3 100");
	json_decref(j);
	assert_int_equal(list_len(f, "/api/v1/events?kind=syn_flood", "events"), 1);
	assert_int_equal(list_len(f, "/api/v1/events?customer=c1", "events"), 2);
	assert_int_equal(list_len(f, "/api/v1/events?since=1700000050", "events"), 2);
	assert_int_equal(list_len(f, "/api/v1/events?since=1700000050&until=1700000150",
	    "events"), 1);
	assert_int_equal(list_len(f, "/api/v1/events?limit=1", "events"), 1);
	assert_int_equal(list_len(f, "/api/v1/events?after=2", "events"), 1);
	assert_int_equal(call(f, "GET", "/api/v1/events?limit=0", NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/events?limit=x", NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/events?since=soon", NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "POST", "/api/v1/events", "{}", NULL, NULL), 405);
}

static void
test_bans(void **state)
{
	struct fixture *f = *state;
	json_t *j;
	struct api_response r;

	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":"
	    "\"198.51.100.7\",\"timeout_s\":60,\"probe\":null,\"reason\":\"t\"}",
	    &j, NULL), 201);
	assert_string_equal(json_string_value(json_object_get(j, "scope")), "*");
	assert_true(json_is_null(json_object_get(j, "probe")));
	assert_string_equal(json_string_value(json_object_get(j, "decided_by")),
	    "api:http");
	assert_int_equal(json_integer_value(json_object_get(j, "prefix_len")), 32);
	json_decref(j);
	assert_true(f->sent >= 1);   /* sent to g1 at once */
	assert_int_equal(list_len(f, "/api/v1/bans", "bans"), 1);
	/* A probe-scoped prefix ban given as ADDR/LEN. */
	assert_int_equal(call(f, "POST", "/api/v1/bans",
	    "{\"address\":\"192.0.2.0/24\",\"probe\":\"g1\"}", &j, NULL), 201);
	assert_string_equal(json_string_value(json_object_get(j, "probe")), "g1");
	assert_int_equal(json_integer_value(json_object_get(j, "prefix_len")), 24);
	json_decref(j);
	assert_int_equal(list_len(f, "/api/v1/bans", "bans"), 2);
	/* Refusals. */
	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":\"192.0.2.0/24\","
	    "\"prefix_len\":16}", NULL, NULL), 400);
	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":\"127.0.0.1\"}",
	    NULL, NULL), 403);
	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":"
	    "\"198.51.100.8\",\"probe\":\"nosuch\"}", NULL, NULL), 404);
	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":7}", NULL,
	    NULL), 400);
	assert_int_equal(call(f, "POST", "/api/v1/bans", "[1,2", NULL, NULL), 400);
	assert_int_equal(call(f, "POST", "/api/v1/bans", NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":\"198.51.100.9\","
	    "\"timeout_s\":0}", NULL, NULL), 400);
	/* Unban: by path ADDR/LEN and by ?prefix_len=. */
	assert_int_equal(call(f, "DELETE", "/api/v1/bans/198.51.100.7/32", NULL, &j,
	    NULL), 200);
	assert_string_equal(json_string_value(json_object_get(j, "action")), "unban");
	json_decref(j);
	assert_int_equal(call(f, "DELETE", "/api/v1/bans/198.51.100.7", NULL, NULL,
	    NULL), 404);
	assert_int_equal(call(f, "DELETE", "/api/v1/bans/192.0.2.0?prefix_len=24",
	    NULL, NULL, NULL), 200);
	assert_int_equal(list_len(f, "/api/v1/bans", "bans"), 0);
	/* The audit trail. */
	assert_int_equal(list_len(f, "/api/v1/countermeasures", "countermeasures"), 4);
	assert_int_equal(list_len(f, "/api/v1/countermeasures?state=lifted",
	    "countermeasures"), 4);   /* unban rows are "lifted" too */
	assert_int_equal(list_len(f, "/api/v1/countermeasures?state=lifted&action=ban",
	    "countermeasures"), 2);
	assert_int_equal(list_len(f, "/api/v1/countermeasures?action=unban",
	    "countermeasures"), 2);
	assert_int_equal(call(f, "GET", "/api/v1/countermeasures?state=bogus", NULL,
	    NULL, NULL), 400);
	/* Methods. */
	assert_int_equal(call(f, "PUT", "/api/v1/bans", "{}", NULL, &r), 405);
	assert_string_equal(r.allow, "GET, HEAD, POST");
	api_response_clear(&r);
	assert_int_equal(call(f, "GET", "/api/v1/bans/198.51.100.7", NULL, NULL,
	    NULL), 405);
}

static void
test_graph(void **state)
{
	struct fixture *f = *state;
	struct gw_customer_stats cs;
	struct api_response r;
	time_t now = time(NULL) / 10 * 10;
	char url[256];

	memset(&cs, 0, sizeof(cs));
	snprintf(cs.customer, sizeof(cs.customer), "c1");
	for (int i = 0; i < 60; i++) {
		cs.rx_bytes = 125000 + (uint64_t)i * 1000;
		cs.tx_bytes = 12500;
		assert_int_equal(store_submit(f->store, (double)(now - 600 + i * 10),
		    10, &cs), 0);
	}
	assert_int_equal(store_sync(f->store, 5000), 0);
	snprintf(url, sizeof(url), "/api/v1/customers/c1/graph.png?from=%lld&to=%lld"
	    "&width=300&height=100", (long long)(now - 600), (long long)now);
	assert_int_equal(call(f, "GET", url, NULL, NULL, &r), 200);
	assert_string_equal(r.content_type, "image/png");
	assert_true(r.body_len > 500);
	assert_memory_equal(r.body, "\x89PNG\r\n\x1a\n", 8);
	api_response_clear(&r);
	assert_int_equal(call(f, "GET", "/api/v1/customers/c1/graph.png?metric="
	    "rx_bytes,flows_active,rtt_wan_ms", NULL, NULL, NULL), 200);
	assert_int_equal(call(f, "GET", "/api/v1/customers/c1/graph.png?metric=bogus",
	    NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/customers/c1/graph.png?metric="
	    "rx_bytes,rx_bytes,rx_bytes,rx_bytes,rx_bytes,rx_bytes,rx_bytes,rx_bytes,"
	    "rx_bytes", NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/customers/c1/graph.png?height=10",
	    NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/customers/c1/graph.png?from=now&to=-1h",
	    NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/customers/nobody/graph.png", NULL,
	    NULL, NULL), 404);
	assert_int_equal(call(f, "DELETE", "/api/v1/customers/c1/graph.png", NULL,
	    NULL, NULL), 405);
}

/* Feeds customer c1 n intervals of 1 s ending at ts0 + i; quality only where asked. */
static void
feed(struct fixture *f, double ts0, int n, int rtp_at, int tcp_at, int dns_at)
{
	struct gw_customer_stats cs;

	for (int i = 0; i < n; i++) {
		memset(&cs, 0, sizeof(cs));
		snprintf(cs.customer, sizeof(cs.customer), "c1");
		cs.rx_bytes = 1000 * (uint64_t)(i + 1);
		cs.tx_bytes = 100;
		if (i == rtp_at) {
			cs.rtp.streams = 2;
			cs.rtp.packets_expected = 200;
			cs.rtp.packets_lost = 3;
			cs.rtp.jitter_ms_avg = 7.5;
		}
		if (i == tcp_at) {
			cs.tcp.handshakes = 1;
			cs.tcp.rtt_wan_ms_avg = 30.0;
			cs.tcp.rtt_lan_ms_avg = 2.0;
		}
		if (i == dns_at) {
			cs.dns.queries = cs.dns.responses = 2;
			cs.dns.latency_ms_avg = 18.5;
		}
		assert_int_equal(live_customer_update(f->live, "g1", ts0 + i, 1.0, &cs), 0);
	}
}

/* GET /api/v1/customers: last_measured keeps the latest interval of each quality kind; ?recent=N. */
static void
test_customers_recent(void **state)
{
	struct fixture *f = *state;
	json_t *j, *c, *last, *rec, *rx;

	feed(f, 1700000001, 15, 3, 12, -1);   /* history keeps 10 */
	assert_int_equal(call(f, "GET", "/api/v1/customers", NULL, &j, NULL), 200);
	c = json_array_get(json_object_get(j, "customers"), 0);
	assert_null(json_object_get(c, "recent"));    /* only when asked */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "rtp"),
	    "streams")), 0);   /* the latest interval has none... */
	last = json_object_get(c, "last_measured");
	assert_true(json_is_object(json_object_get(last, "rtp")));   /* ...this one did */
	assert_true(json_real_value(json_object_get(json_object_get(last, "rtp"), "ts"))
	    == 1700000004.0);
	assert_true(json_real_value(json_object_get(json_object_get(last, "rtp"),
	    "jitter_ms_avg")) == 7.5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(last, "rtp"),
	    "packets_lost")), 3);
	assert_true(json_real_value(json_object_get(json_object_get(last, "tcp"),
	    "rtt_wan_ms_avg")) == 30.0);
	assert_true(json_real_value(json_object_get(json_object_get(last, "tcp"), "ts"))
	    == 1700000013.0);
	assert_true(json_is_null(json_object_get(last, "dns")));   /* never measured */
	json_decref(j);

	assert_int_equal(call(f, "GET", "/api/v1/customers?recent=4", NULL, &j, NULL), 200);
	rec = json_object_get(json_array_get(json_object_get(j, "customers"), 0), "recent");
	rx = json_object_get(rec, "rx_bps");
	assert_int_equal(json_array_size(rx), 4);
	assert_int_equal(json_array_size(json_object_get(rec, "tx_bps")), 4);
	assert_int_equal(json_integer_value(json_array_get(rx, 3)), 15000 * 8);   /* newest last */
	assert_int_equal(json_integer_value(json_array_get(rx, 0)), 12000 * 8);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(rec, "tx_bps"), 0)), 800);
	assert_true(json_real_value(json_array_get(json_object_get(rec, "ts"), 3)) == 1700000015.0);
	json_decref(j);
	/* More than the history holds: what there is. */
	assert_int_equal(call(f, "GET", "/api/v1/customers?recent=120", NULL, &j, NULL), 200);
	rec = json_object_get(json_array_get(json_object_get(j, "customers"), 0), "recent");
	assert_int_equal(json_array_size(json_object_get(rec, "rx_bps")), 10);
	json_decref(j);
	assert_int_equal(call(f, "GET", "/api/v1/customers?recent=121", NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/customers?recent=-1", NULL, NULL, NULL), 400);
	assert_int_equal(call(f, "GET", "/api/v1/customers?recent=x", NULL, NULL, NULL), 400);
}

/* remaining_s: seconds left of a ban in force with a timeout, null otherwise. */
static void
test_ban_remaining(void **state)
{
	struct fixture *f = *state;
	json_t *j, *b;
	json_int_t left;

	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":"
	    "\"198.51.100.7\",\"timeout_s\":600}", &j, NULL), 201);
	left = json_integer_value(json_object_get(j, "remaining_s"));
	assert_true(left > 590 && left <= 600);
	json_decref(j);
	assert_int_equal(call(f, "GET", "/api/v1/bans", NULL, &j, NULL), 200);
	b = json_array_get(json_object_get(j, "bans"), 0);
	assert_true(json_integer_value(json_object_get(b, "remaining_s")) > 590);
	json_decref(j);
	assert_int_equal(call(f, "DELETE", "/api/v1/bans/198.51.100.7", NULL, NULL,
	    NULL), 200);
	assert_int_equal(call(f, "GET", "/api/v1/countermeasures?action=ban", NULL, &j,
	    NULL), 200);
	b = json_array_get(json_object_get(j, "countermeasures"), 0);
	assert_string_equal(json_string_value(json_object_get(b, "state")), "lifted");
	assert_true(json_is_null(json_object_get(b, "remaining_s")));
	json_decref(j);
}

/* Without a database the event list falls back to live and bans are unavailable. */
static void
test_no_database(void **state)
{
	struct fixture *f = *state;
	struct api_ctx saved = f->ctx;
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.kind, sizeof(ev.kind), "syn_flood");
	live_event_add(f->live, "g1", &ev);
	f->ctx.events = NULL;
	f->ctx.respond = NULL;
	assert_int_equal(list_len(f, "/api/v1/events", "events"), 1);
	assert_int_equal(call(f, "GET", "/api/v1/bans", NULL, NULL, NULL), 503);
	assert_int_equal(call(f, "POST", "/api/v1/bans", "{\"address\":\"192.0.2.1\"}",
	    NULL, NULL), 503);
	assert_int_equal(call(f, "GET", "/api/v1/countermeasures", NULL, NULL, NULL), 503);
	f->ctx = saved;
}

/* GET /metrics through the route: live state in, exposition out, the cap from the context. */
static void
test_metrics_route(void **state)
{
	struct fixture *f = *state;
	struct gw_customer_stats cs;
	struct api_response r;

	memset(&cs, 0, sizeof(cs));
	for (int i = 0; i < 3; i++) {
		snprintf(cs.customer, sizeof(cs.customer), "c%d", i);
		cs.rx_bytes = 1000 * (uint64_t)(i + 1);   /* c2 highest */
		cs.dns.responses = i == 2;
		cs.dns.latency_ms_avg = 12.0;
		assert_int_equal(live_customer_update(f->live, "g1", 1700000000.0,
		    2.0, &cs), 0);
	}
	f->ctx.metrics_max_customers = 2;
	assert_int_equal(call(f, "GET", "/metrics", NULL, NULL, &r), 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_int_equal(strlen(r.body), r.body_len);
	assert_non_null(strstr(r.body,
	    "\ngatewatch_customer_rx_bits_per_second{customer=\"c1\"} 8000\n"
	    "gatewatch_customer_rx_bits_per_second{customer=\"c2\"} 12000\n"));
	assert_non_null(strstr(r.body,
	    "\ngatewatch_customer_dns_latency_seconds{customer=\"c2\"} 0.012\n"));
	assert_null(strstr(r.body, "customer=\"c0\""));
	assert_non_null(strstr(r.body, "\ngatewatch_metrics_customers_omitted 1\n"));
	assert_non_null(strstr(r.body, "\ngatewatch_customers 3\n"));
	api_response_clear(&r);
	f->ctx.metrics_max_customers = 0;   /* the default cap shows all three */
	assert_int_equal(call(f, "GET", "/metrics", NULL, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\ngatewatch_metrics_customers_omitted 0\n"));
	assert_non_null(strstr(r.body, "customer=\"c0\""));
	api_response_clear(&r);
	assert_int_equal(call(f, "POST", "/metrics", "x", NULL, NULL), 405);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_customers_recent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ban_remaining, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
