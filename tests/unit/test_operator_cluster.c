/* test_operator_cluster.c: the BANS value format and key mapping of cluster.c, and api.c's merge of the cluster-wide list routes over a fake fan-out (no NATS needed; the e2e test covers the rest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "api.h"
#include "cluster.h"
#include "live.h"

static void
test_ban_roundtrip(void **state)
{
	struct cluster_ban b, out;
	char buf[512];
	int n;

	(void)state;
	memset(&b, 0, sizeof(b));
	snprintf(b.src, sizeof(b.src), "198.51.100.7");
	snprintf(b.kind, sizeof(b.kind), "syn_flood");
	snprintf(b.customer, sizeof(b.customer), "c101");
	snprintf(b.shard, sizeof(b.shard), "s2");
	b.timeout_s = 600;
	b.decided_ts = 1700000000.25;
	n = cluster_ban_format(&b, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "v1 s2 600 1700000000.250 syn_flood c101 198.51.100.7");
	assert_int_equal(cluster_ban_parse(buf, (size_t)n, &out), 0);
	assert_string_equal(out.src, "198.51.100.7");
	assert_string_equal(out.kind, "syn_flood");
	assert_string_equal(out.customer, "c101");
	assert_string_equal(out.shard, "s2");
	assert_int_equal(out.timeout_s, 600);
	assert_true(out.decided_ts > 1700000000.2 && out.decided_ts < 1700000000.3);
	/* Empty customer travels as "-". */
	b.customer[0] = '\0';
	n = cluster_ban_format(&b, buf, sizeof(buf));
	assert_int_equal(cluster_ban_parse(buf, (size_t)n, &out), 0);
	assert_string_equal(out.customer, "");
	/* Too small a buffer is an error, not a truncated value. */
	assert_int_equal(cluster_ban_format(&b, buf, 10), -1);
}

static void
test_ban_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "v2 s1 600 1700000000 k c 1.2.3.4",
		"v1 s1 600 1700000000 k c",                     /* missing word */
		"v1 s1 600 1700000000 k c 1.2.3.4 extra",
		"v1 s/1 600 1700000000 k c 1.2.3.4",            /* bad shard id */
		"v1 s1 0 1700000000 k c 1.2.3.4",               /* zero timeout */
		"v1 s1 99999999 1700000000 k c 1.2.3.4",        /* timeout too long */
		"v1 s1 60x 1700000000 k c 1.2.3.4",
		"v1 s1 600 -5 k c 1.2.3.4",
		"v1 s1 600 nan k c 1.2.3.4",
		"v1 s1 600 1700000000 k c/x 1.2.3.4",           /* bad customer id */
		"v1 s1 61 60 s1 6- -",                          /* no source (fuzzer) */
	};
	struct cluster_ban out;
	char big[600];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cluster_ban_parse(bad[i], strlen(bad[i]), &out), -1);
	/* An embedded NUL and an oversized value are refused. */
	assert_int_equal(cluster_ban_parse("v1 s1\0 600", 10, &out), -1);
	memset(big, 'a', sizeof(big));
	assert_int_equal(cluster_ban_parse(big, sizeof(big), &out), -1);
	assert_int_equal(cluster_ban_parse(NULL, 3, &out), -1);
}

static void
test_key(void **state)
{
	char k[64];

	(void)state;
	assert_int_equal(cluster_key("src", "198.51.100.7", k, sizeof(k)), 0);
	assert_string_equal(k, "src.198_51_100_7");
	assert_int_equal(cluster_key("src", "2001:db8::1", k, sizeof(k)), 0);
	assert_string_equal(k, "src.2001_db8__1");
	assert_int_equal(cluster_key("dist", "c101", k, sizeof(k)), 0);
	assert_string_equal(k, "dist.c101");
	assert_int_equal(cluster_key("src", "", k, sizeof(k)), -1);
	assert_int_equal(cluster_key("src", "198.51.100.7", k, 8), -1);
}

/* ---- merge of the list routes (api.c) over a fake fan-out ---- */

struct fake_q {
	const char *keys[4], *vals[4];
};

static const char *
fake_query(void *qctx, const char *key)
{
	struct fake_q *q = qctx;

	for (int i = 0; i < 4 && q->keys[i] != NULL; i++)
		if (strcmp(q->keys[i], key) == 0)
			return q->vals[i];
	return NULL;
}

static int fake_calls;

/* Peers: s2 and s3 answer, s4 does not; bodies by route. */
static int
fake_fanout(void *fctx, const struct api_request *req,
    struct api_peer_answer **out, size_t *n)
{
	static const char *const ids[] = { "s2", "s3", "s4" };
	const char *b2 = "{}", *b3 = "{}";
	struct api_peer_answer *a = calloc(3, sizeof(*a));

	(void)fctx;
	fake_calls++;
	assert_non_null(a);
	if (strcmp(req->path, "/api/v1/customers") == 0) {
		b2 = "{\"customers\":[{\"id\":\"zeta\",\"ts\":5},{\"id\":\"dup\",\"ts\":1,\"v\":\"old\"}]}";
		b3 = "{\"customers\":[{\"id\":\"dup\",\"ts\":9,\"v\":\"new\"},{\"id\":\"alpha\",\"ts\":2}]}";
	} else if (strcmp(req->path, "/api/v1/events") == 0) {
		b2 = "{\"events\":[{\"id\":1,\"received\":10},{\"id\":2,\"received\":30}]}";
		b3 = "{\"events\":[{\"id\":1,\"received\":20}]}";
	}
	for (int i = 0; i < 3; i++) {
		snprintf(a[i].shard, sizeof(a[i].shard), "%s", ids[i]);
		if (i == 2)
			continue;
		a[i].answered = true;
		a[i].r.status = 200;
		a[i].r.body = strdup(i == 0 ? b2 : b3);
		assert_non_null(a[i].r.body);
		a[i].r.body_len = strlen(a[i].r.body);
	}
	*out = a;
	*n = 3;
	return 0;
}

static void
get(struct api_ctx *ctx, const char *path, struct fake_q *q, struct api_response *r)
{
	struct api_request req = { .method = "GET", .path = path,
	    .query = fake_query, .qctx = q };

	assert_int_equal(api_handle(ctx, &req, r), 0);
	assert_int_equal(r->status, 200);
}

/* The position of needle in r's body (fails when absent). */
static size_t
at(const struct api_response *r, const char *needle)
{
	const char *p = strstr(r->body, needle);

	if (p == NULL)
		fail_msg("\"%s\" not in %s", needle, r->body);
	return (size_t)(p - r->body);
}

static void
test_merge(void **state)
{
	struct live *lv = live_new(4, 16);
	struct api_ctx ctx = { .live = lv, .fanout = fake_fanout, .shard_id = "s1" };
	struct fake_q none = { { NULL }, { NULL } };
	struct fake_q local = { { "scope", NULL }, { "local", NULL } };
	struct fake_q lim = { { "limit", NULL }, { "2", NULL } };
	struct fake_q after = { { "after", NULL }, { "5", NULL } };
	struct api_response r;

	(void)state;
	assert_non_null(lv);
	/* Customers: all shards', sorted by id, the newer of a duplicate, who answered. */
	get(&ctx, "/api/v1/customers", &none, &r);
	assert_true(at(&r, "\"alpha\"") < at(&r, "\"dup\"") &&
	    at(&r, "\"dup\"") < at(&r, "\"zeta\""));
	at(&r, "\"v\":\"new\"");
	assert_null(strstr(r.body, "\"old\""));
	at(&r, "\"shard\":\"s3\"");
	at(&r, "\"shards\":{\"answered\":3,\"total\":4,\"missing\":[\"s4\"],"
	    "\"directory\":true}");
	api_response_clear(&r);
	/* scope=local: this shard's list only, nobody asked. */
	fake_calls = 0;
	get(&ctx, "/api/v1/customers", &local, &r);
	assert_string_equal(r.body, "{\"customers\":[]}");
	assert_int_equal(fake_calls, 0);
	api_response_clear(&r);
	/* Events: newest first across shards, cut to limit after the merge. */
	get(&ctx, "/api/v1/events", &lim, &r);
	assert_true(at(&r, "\"received\":30") < at(&r, "\"received\":20"));
	assert_null(strstr(r.body, "\"received\":10"));
	api_response_clear(&r);
	/* ?after= is a per-shard cursor (even after=0): not fanned out. */
	fake_calls = 0;
	get(&ctx, "/api/v1/events", &after, &r);
	assert_int_equal(fake_calls, 0);
	assert_null(strstr(r.body, "\"shards\""));
	api_response_clear(&r);
	after.vals[0] = "0";
	get(&ctx, "/api/v1/events", &after, &r);
	assert_int_equal(fake_calls, 0);
	api_response_clear(&r);
	/* Probes: peers answering without a "probes" array count as missing. */
	get(&ctx, "/api/v1/probes", &none, &r);
	at(&r, "\"probes\":[]");
	at(&r, "\"answered\":1,\"total\":4,\"missing\":[\"s2\",\"s3\",\"s4\"]");
	api_response_clear(&r);
	live_free(lv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ban_roundtrip),
		cmocka_unit_test(test_ban_parse_rejects),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
