/* test_probe_enforce.c: unit tests for the enforcer's policy checks in dry-run and off modes (no nft needed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "enforce.h"

static struct gw_addr A(const char *s)
{
	struct gw_addr a;

	assert_int_equal(gw_addr_parse(s, &a), 0);
	return a;
}

static void test_dry_run_policy(void **state)
{
	struct enforce_config cfg = { .mode = ENFORCE_DRY_RUN, .table = "gatewatch",
		.max_entries = 3, .default_timeout_s = 600 };
	struct enforce *e = enforce_new(&cfg);
	struct gw_addr a;
	char msg[GW_TEXT_MAX], lines[8][GW_TEXT_MAX];
	size_t n;

	(void)state;
	assert_non_null(e);
	a = A("198.51.100.7");
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "dry-run"));
	assert_non_null(strstr(msg, "600 s"));
	/* loopback is always allowlisted, also through a covering prefix */
	a = A("127.0.0.1");
	assert_int_equal(enforce_ban(e, &a, 32, 10, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "allowlisted"));
	a = A("0.0.0.0");
	assert_int_equal(enforce_ban(e, &a, 0, 10, msg, sizeof(msg)), -1);
	a = A("::1");
	assert_int_equal(enforce_ban(e, &a, 128, 10, msg, sizeof(msg)), -1);
	a = A("::");
	assert_int_equal(enforce_ban(e, &a, 0, 10, msg, sizeof(msg)), -1);
	/* configured allowlist */
	a = A("192.0.2.0");
	assert_int_equal(enforce_allow(e, &a, 28), 0);
	a = A("192.0.2.9");
	assert_int_equal(enforce_ban(e, &a, 32, 10, msg, sizeof(msg)), -1);
	a = A("192.0.2.16");
	assert_int_equal(enforce_ban(e, &a, 32, 10, msg, sizeof(msg)), 0);
	/* invalid input */
	a = A("198.51.100.7");
	assert_int_equal(enforce_ban(e, &a, 33, 10, msg, sizeof(msg)), -1);
	assert_int_equal(enforce_ban(e, NULL, 32, 10, msg, sizeof(msg)), -1);
	a.family = 9;
	assert_int_equal(enforce_ban(e, &a, 32, 10, msg, sizeof(msg)), -1);
	a = A("198.51.100.7");
	assert_int_equal(enforce_ban(e, &a, 32, 30 * 86400, msg, sizeof(msg)), -1);
	/* host bits are cleared: 203.0.113.77/24 is 203.0.113.0/24 */
	a = A("203.0.113.77");
	assert_int_equal(enforce_ban(e, &a, 24, 100, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "203.0.113.0/24"));
	/* cap of 3; re-banning an existing entry does not count twice */
	a = A("198.51.100.7");
	assert_int_equal(enforce_ban(e, &a, 32, 50, msg, sizeof(msg)), 0);
	a = A("2001:db8::5");
	assert_int_equal(enforce_ban(e, &a, 128, 50, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "cap"));
	assert_int_equal(enforce_count(e), 3);
	n = enforce_list(e, lines, 8);
	assert_int_equal(n, 3);
	/* unban */
	a = A("203.0.113.0");
	assert_int_equal(enforce_unban(e, &a, 24, msg, sizeof(msg)), 0);
	assert_int_equal(enforce_unban(e, &a, 24, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "not banned"));
	a = A("2001:db8::5");
	assert_int_equal(enforce_ban(e, &a, 128, 1, msg, sizeof(msg)), 0);
	n = enforce_list(e, lines, 8);
	assert_int_equal(n, 3);
	enforce_tick(e, 0);
	enforce_free(e);
}

static void test_off_and_config(void **state)
{
	struct enforce_config cfg = { .mode = ENFORCE_OFF, .table = "gatewatch",
		.max_entries = 10, .default_timeout_s = 60 };
	struct enforce *e = enforce_new(&cfg);
	struct gw_addr a = A("198.51.100.7");
	char msg[GW_TEXT_MAX], lines[2][GW_TEXT_MAX];
	enum enforce_mode m;

	(void)state;
	assert_non_null(e);
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "off"));
	assert_int_equal(enforce_list(e, lines, 2), 0);
	enforce_free(e);
	enforce_free(NULL);
	cfg.table = "bad;name";
	assert_null(enforce_new(&cfg));
	cfg.table = "a{b";
	assert_null(enforce_new(&cfg));
	assert_int_equal(enforce_mode_parse("on", &m), 0);
	assert_int_equal(m, ENFORCE_ON);
	assert_int_equal(enforce_mode_parse("dry-run", &m), 0);
	assert_int_equal(m, ENFORCE_DRY_RUN);
	assert_int_equal(enforce_mode_parse("off", &m), 0);
	assert_int_equal(m, ENFORCE_OFF);
	assert_int_equal(enforce_mode_parse("yes", &m), -1);
	e = enforce_new(NULL);            /* defaults: dry-run */
	assert_non_null(e);
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), 0);
	enforce_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dry_run_policy),
		cmocka_unit_test(test_off_and_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
