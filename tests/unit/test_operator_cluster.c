/* test_operator_cluster.c: the BANS value format and key mapping of cluster.c (no NATS needed; the e2e test covers the rest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "cluster.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ban_roundtrip),
		cmocka_unit_test(test_ban_parse_rejects),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
