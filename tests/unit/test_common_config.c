/* test_common_config.c: config line parser, number and duration parsers, log sink. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

/* Collected lines, and the last logged message. */
struct collect {
	int  nlines;
	int  nwords[64];
	char words[64][CONFIG_MAX_WORDS][CONFIG_MAX_LINE];
	int  linenos[64];
	int  fail_on_line;	/* callback rejects this line number */
};

static char last_log[4096];

static void
capture_sink(enum log_level level, const char *line, void *ctx)
{
	(void)level;
	(void)ctx;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

static int
collect_cb(const struct config_line *line, void *ctx, char *err, size_t errlen)
{
	struct collect *c = ctx;
	int i;

	if (line->lineno == c->fail_on_line) {
		snprintf(err, errlen, "unknown keyword \"%s\" (expected one of: "
		    "interface, customer)", line->words[0]);
		return -1;
	}
	assert_true(c->nlines < 64);
	assert_true(line->nwords > 0 && line->nwords <= CONFIG_MAX_WORDS);
	for (i = 0; i < line->nwords; i++)
		snprintf(c->words[c->nlines][i], CONFIG_MAX_LINE, "%s",
		    line->words[i]);
	c->nwords[c->nlines] = line->nwords;
	c->linenos[c->nlines] = line->lineno;
	c->nlines++;
	return 0;
}

static struct collect *
parse(const char *text, int expect_rc)
{
	static struct collect c;

	memset(&c, 0, sizeof(c));
	last_log[0] = '\0';
	assert_int_equal(config_parse_string("test.conf", text, collect_cb, &c),
	    expect_rc);
	return &c;
}

static void
test_words_comments_blank(void **state)
{
	struct collect *c;

	(void)state;
	c = parse("# a comment\n\n   \t\ninterface eth0   # trailing\n"
	    "customer c101 vlan 101\r\n  #indented comment\nlast", 0);
	assert_int_equal(c->nlines, 3);
	assert_int_equal(c->nwords[0], 2);
	assert_string_equal(c->words[0][0], "interface");
	assert_string_equal(c->words[0][1], "eth0");
	assert_int_equal(c->linenos[0], 4);
	assert_int_equal(c->nwords[1], 4);
	assert_string_equal(c->words[1][3], "101");	/* CR stripped */
	assert_int_equal(c->linenos[1], 5);
	assert_string_equal(c->words[2][0], "last");	/* no final newline */
	assert_int_equal(c->linenos[2], 7);
	c = parse("", 0);
	assert_int_equal(c->nlines, 0);
	c = parse("a#b c\n", 0);	/* '#' inside a word is not a comment */
	assert_string_equal(c->words[0][0], "a#b");
}

static void
test_quoting(void **state)
{
	struct collect *c;

	(void)state;
	c = parse("reason \"two words\" \"\" \"q\\\"x\\\\\" \"# not comment\"\n", 0);
	assert_int_equal(c->nwords[0], 5);
	assert_string_equal(c->words[0][1], "two words");
	assert_string_equal(c->words[0][2], "");
	assert_string_equal(c->words[0][3], "q\"x\\");
	assert_string_equal(c->words[0][4], "# not comment");
	parse("a \"unterminated\n", -1);
	assert_non_null(strstr(last_log, "test.conf:1:"));
	assert_non_null(strstr(last_log, "unterminated"));
	parse("ok\na \"x\"y\n", -1);
	assert_non_null(strstr(last_log, "test.conf:2:"));
	parse("a \"bad \\n escape\"\n", -1);
	assert_non_null(strstr(last_log, "escape"));
}

static void
test_limits(void **state)
{
	char *text;
	struct collect *c;

	(void)state;
	text = malloc(CONFIG_MAX_LINE + 64);
	assert_non_null(text);
	/* The longest accepted line is CONFIG_MAX_LINE - 1 bytes. */
	memset(text, 'w', CONFIG_MAX_LINE - 1);
	text[CONFIG_MAX_LINE - 1] = '\0';
	c = parse(text, 0);
	assert_int_equal(c->nlines, 1);
	memcpy(text, "first\n", 6);
	memset(text + 6, 'w', CONFIG_MAX_LINE);
	text[6 + CONFIG_MAX_LINE] = '\0';
	parse(text, -1);
	assert_non_null(strstr(last_log, "test.conf:2:"));
	assert_non_null(strstr(last_log, "too long"));
	assert_non_null(strstr(last_log, "\"wwww"));	/* quotes the value */
	free(text);

	c = parse("a b c d e f g h i j k l m n o p\n", 0);
	assert_int_equal(c->nwords[0], CONFIG_MAX_WORDS);
	parse("a b c d e f g h i j k l m n o p extra1 extra2\n", -1);
	assert_non_null(strstr(last_log, "test.conf:1:"));
	assert_non_null(strstr(last_log, "too many words"));
	assert_non_null(strstr(last_log, "\"extra1 extra2\""));
}

static void
test_control_chars(void **state)
{
	(void)state;
	parse("ok\nbad\x01value\n", -1);
	assert_non_null(strstr(last_log, "test.conf:2:"));
	assert_non_null(strstr(last_log, "0x01"));
	assert_non_null(strstr(last_log, "bad\\x01value"));
	parse("x\x7f\n", -1);
	parse("a\rb\n", -1);	/* CR only allowed before the newline */
	parse("tab\tseparated\twords\n", 0);
}

static void
test_file_nul_and_errors(void **state)
{
	char path[] = "/tmp/gw-test-config-XXXXXX";
	static const char data[] = "interface eth0\nname a\0b\n";
	struct collect c;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, sizeof(data) - 1), (ssize_t)sizeof(data) - 1);
	close(fd);
	memset(&c, 0, sizeof(c));
	last_log[0] = '\0';
	assert_int_equal(config_parse_file(path, collect_cb, &c), -1);
	assert_int_equal(c.nlines, 1);
	assert_non_null(strstr(last_log, path));
	assert_non_null(strstr(last_log, ":2:"));
	assert_non_null(strstr(last_log, "NUL"));

	/* A callback error names file:line and carries the callback's text. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "interface eth0\nbogus 1\n", 23), 23);
	close(fd);
	memset(&c, 0, sizeof(c));
	c.fail_on_line = 2;
	assert_int_equal(config_parse_file(path, collect_cb, &c), -1);
	assert_non_null(strstr(last_log, ":2: unknown keyword \"bogus\""));
	unlink(path);

	assert_int_equal(config_parse_file("/nonexistent/gw.conf", collect_cb, &c), -1);
	assert_non_null(strstr(last_log, "/nonexistent/gw.conf"));
	assert_int_equal(config_parse_file("/tmp", collect_cb, &c), -1);
}

static void
test_u64(void **state)
{
	unsigned long long v = 7;

	(void)state;
	assert_int_equal(config_parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_u64("18446744073709551615", 0, ULLONG_MAX, &v), 0);
	assert_true(v == ULLONG_MAX);
	assert_int_equal(config_parse_u64("18446744073709551616", 0, ULLONG_MAX, &v), -1);
	assert_int_equal(config_parse_u64("99999999999999999999999", 0, ULLONG_MAX, &v), -1);
	assert_int_equal(config_parse_u64("11", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64("4", 5, 10, &v), -1);
	assert_int_equal(config_parse_u64("10", 5, 10, &v), 0);
	assert_int_equal(config_parse_u64("", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64("-1", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64("+1", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64(" 1", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64("1 ", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64("1x", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64("0x1", 0, 10, &v), -1);
	assert_int_equal(config_parse_u64(NULL, 0, 10, &v), -1);
	assert_int_equal(v, 10);	/* untouched on failure */
}

static void
test_double(void **state)
{
	double d = 0;

	(void)state;
	assert_int_equal(config_parse_double("1.5", 0, 10, &d), 0);
	assert_true(d == 1.5);
	assert_int_equal(config_parse_double("-2.5e1", -100, 0, &d), 0);
	assert_true(d == -25.0);
	assert_int_equal(config_parse_double("10.0001", 0, 10, &d), -1);
	assert_int_equal(config_parse_double("nan", -1e9, 1e9, &d), -1);
	assert_int_equal(config_parse_double("inf", -1e9, 1e300, &d), -1);
	assert_int_equal(config_parse_double("1e999", 0, 1e308, &d), -1);
	assert_int_equal(config_parse_double("0x10", 0, 100, &d), -1);
	assert_int_equal(config_parse_double("1.5x", 0, 10, &d), -1);
	assert_int_equal(config_parse_double(" 1", 0, 10, &d), -1);
	assert_int_equal(config_parse_double("", 0, 10, &d), -1);
	assert_int_equal(config_parse_double(".", 0, 10, &d), -1);
	assert_int_equal(config_parse_double("1-2", 0, 10, &d), -1);
}

static void
test_duration(void **state)
{
	unsigned long long ms = 0;

	(void)state;
	assert_int_equal(config_parse_duration_ms("250ms", &ms), 0);
	assert_true(ms == 250);
	assert_int_equal(config_parse_duration_ms("10s", &ms), 0);
	assert_true(ms == 10000);
	assert_int_equal(config_parse_duration_ms("10", &ms), 0);
	assert_true(ms == 10000);
	assert_int_equal(config_parse_duration_ms("5m", &ms), 0);
	assert_true(ms == 300000);
	assert_int_equal(config_parse_duration_ms("2h", &ms), 0);
	assert_true(ms == 7200000);
	assert_int_equal(config_parse_duration_ms("1d", &ms), 0);
	assert_true(ms == 86400000);
	assert_int_equal(config_parse_duration_ms("1.5s", &ms), 0);
	assert_true(ms == 1500);
	assert_int_equal(config_parse_duration_ms("0.25", &ms), 0);
	assert_true(ms == 250);
	assert_int_equal(config_parse_duration_ms("0", &ms), 0);
	assert_true(ms == 0);
	assert_int_equal(config_parse_duration_ms("1.5ms", &ms), -1);	/* sub-ms */
	assert_int_equal(config_parse_duration_ms("1.0001s", &ms), -1);
	assert_int_equal(config_parse_duration_ms("10x", &ms), -1);
	assert_int_equal(config_parse_duration_ms("10 s", &ms), -1);
	assert_int_equal(config_parse_duration_ms("s", &ms), -1);
	assert_int_equal(config_parse_duration_ms("", &ms), -1);
	assert_int_equal(config_parse_duration_ms("-1s", &ms), -1);
	assert_int_equal(config_parse_duration_ms("1.s", &ms), -1);
	assert_int_equal(config_parse_duration_ms(".5s", &ms), -1);
	assert_int_equal(config_parse_duration_ms("10sec", &ms), -1);
	assert_int_equal(config_parse_duration_ms("999999999999999999d", &ms), -1);
	assert_int_equal(config_parse_duration_ms("18446744073709551615ms", &ms), 0);
	assert_int_equal(config_parse_duration_ms("18446744073709552s", &ms), -1);
}

static void
test_log_levels_and_ratelimit(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(3600, 2);
	enum log_level lvl;

	(void)state;
	assert_int_equal(log_level_parse("debug", &lvl), 0);
	assert_int_equal(lvl, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("error", &lvl), 0);
	assert_int_equal(lvl, LOG_LVL_ERR);
	assert_int_equal(log_level_parse("loud", &lvl), -1);
	assert_int_equal(log_level_parse(NULL, &lvl), -1);

	last_log[0] = '\0';
	log_info("hidden %d", 1);	/* below the WARN level set in main() */
	assert_string_equal(last_log, "");
	log_warn("shown %d", 2);
	assert_string_equal(last_log, "shown 2");
	log_warn_rl(&rl, "rl %d", 1);
	log_warn_rl(&rl, "rl %d", 2);
	log_warn_rl(&rl, "rl %d", 3);
	log_warn_rl(&rl, "rl %d", 4);
	assert_string_equal(last_log, "rl 2");
	assert_int_equal(rl.suppressed, 2);
	rl.window_start_s -= 3600;	/* next window: reports the suppressed count */
	log_warn_rl(&rl, "rl %d", 5);
	assert_string_equal(last_log, "rl 5 (2 similar messages suppressed)");
	assert_int_equal(rl.suppressed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words_comments_blank),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_file_nul_and_errors),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_log_levels_and_ratelimit),
	};

	log_init("test_common_config", LOG_LVL_WARN, false);
	log_set_sink(capture_sink, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
