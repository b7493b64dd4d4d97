/* test_operator_static.c: dashboard files: URL layout, traversal refusals, symlinks, MIME types, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "static.h"

struct fixture {
	char dir[64];       /* parent: holds root/ and a secret outside it */
	char root[96];
};

static void
put(const char *dir, const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void
put_size(const char *dir, const char *name, size_t n)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc('x', f);
	fclose(f);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char p[256];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/gwstatic.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->root, sizeof(fx->root), "%s/root", fx->dir);
	mkdir(fx->root, 0700);
	put(fx->dir, "secret.txt", "top secret");
	put(fx->root, "index.html", "<!doctype html><title>gw</title>");
	put(fx->root, "app.js", "console.log(1);");
	put(fx->root, "style.css", "body{}");
	put(fx->root, "chart.svg", "<svg/>");
	put(fx->root, "data.bin", "\x01\x02");
	put(fx->root, ".hidden.js", "hidden");
	put(fx->root, "we ird.js", "space");
	snprintf(p, sizeof(p), "%s/sub", fx->root);
	mkdir(p, 0700);
	put(p, "inner.js", "inner");
	/* Symlinks, one escaping the root, one inside it: neither is served. */
	snprintf(p, sizeof(p), "%s/leak.txt", fx->root);
	assert_int_equal(symlink("../secret.txt", p), 0);
	snprintf(p, sizeof(p), "%s/alias.js", fx->root);
	assert_int_equal(symlink("app.js", p), 0);
	put_size(fx->root, "big.js", STATIC_FILE_MAX + 1);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void
test_index_and_files(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	struct static_site *s = static_open(fx->root, err, sizeof(err));
	struct static_file f;

	assert_non_null(s);
	/* index.html app.js style.css chart.svg data.bin; not the rest. */
	assert_int_equal(static_count(s), 5);
	assert_int_equal(static_lookup(s, "/", &f), 0);
	assert_string_equal(f.name, "index.html");
	assert_string_equal(f.data, "<!doctype html><title>gw</title>");
	assert_int_equal(f.len, strlen(f.data));
	assert_string_equal(f.mime, "text/html; charset=utf-8");
	assert_int_equal(static_lookup(s, "/index.html", &f), 0);
	assert_string_equal(f.name, "index.html");
	assert_int_equal(static_lookup(s, "/ui/index.html", &f), 0);
	assert_int_equal(static_lookup(s, "/ui/app.js", &f), 0);
	assert_string_equal(f.data, "console.log(1);");
	assert_string_equal(f.mime, "text/javascript; charset=utf-8");
	assert_int_equal(static_lookup(s, "/ui/style.css", &f), 0);
	assert_string_equal(f.mime, "text/css; charset=utf-8");
	assert_int_equal(static_lookup(s, "/ui/chart.svg", &f), 0);
	assert_string_equal(f.mime, "image/svg+xml");
	assert_int_equal(static_lookup(s, "/ui/data.bin", &f), 0);
	assert_string_equal(f.mime, "application/octet-stream");
	assert_int_equal(f.len, 2);
	static_close(s);
}

static void
test_refusals(void **state)
{
	struct fixture *fx = *state;
	char err[256], longname[STATIC_NAME_MAX + 16];
	struct static_site *s = static_open(fx->root, err, sizeof(err));
	struct static_file f;
	static const char *const bad[] = {
		"", "index.html", "/ui/", "/ui", "/app.js", "/style.css",
		"/ui/../secret.txt", "/ui/..", "/ui/.", "/ui/./app.js",
		"/ui/sub/inner.js", "/ui/sub", "/ui//app.js", "/ui/app.js/",
		"/ui/%2e%2e/secret.txt", "/ui/..%2fsecret.txt", "/ui/\\..\\secret.txt",
		"/ui//etc/passwd", "/ui/leak.txt", "/ui/alias.js", "/ui/.hidden.js",
		"/ui/we ird.js", "/ui/big.js", "/ui/missing.js", "/ui/APP.JS",
		"/../secret.txt", "/api/v1/customers", "/healthz", "//", "/ui/app.js?x",
		"/ui/app.js\n", "/UI/app.js",
	};

	assert_non_null(s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (static_lookup(s, bad[i], &f) == 0)
			fail_msg("served \"%s\" as %s", bad[i], f.name);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	memcpy(longname, "/ui/", 4);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(static_lookup(s, longname, &f), -1);
	assert_int_equal(static_lookup(s, NULL, &f), -1);
	assert_int_equal(static_lookup(NULL, "/", &f), -1);
	static_close(s);
}

static void
test_routes_and_names(void **state)
{
	(void)state;
	assert_true(static_route("/"));
	assert_true(static_route("/index.html"));
	assert_true(static_route("/ui/app.js"));
	assert_true(static_route("/ui/../x"));    /* ours to refuse, not the API's */
	assert_false(static_route("/api/v1/customers"));
	assert_false(static_route("/healthz"));
	assert_false(static_route("/metrics"));
	assert_false(static_route(NULL));
	assert_true(static_name_valid("app.js"));
	assert_true(static_name_valid("a-b_c.1.css"));
	assert_false(static_name_valid(".."));
	assert_false(static_name_valid(".x"));
	assert_false(static_name_valid("a/b"));
	assert_false(static_name_valid("a%2fb"));
	assert_false(static_name_valid(""));
	assert_false(static_name_valid(NULL));
	assert_string_equal(static_mime("x.JSON"), "application/json");
	assert_string_equal(static_mime("x.png"), "image/png");
	assert_string_equal(static_mime("noext"), "application/octet-stream");
	assert_string_equal(static_mime("x.js.bak"), "application/octet-stream");
}

static void
test_missing_root_or_index(void **state)
{
	struct fixture *fx = *state;
	char err[256], p[256];
	struct static_site *s;

	err[0] = '\0';
	snprintf(p, sizeof(p), "%s/nope", fx->dir);
	assert_null(static_open(p, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
	assert_null(static_open("", err, sizeof(err)));
	/* fx->dir has secret.txt and root/ but no index.html. */
	assert_null(static_open(fx->dir, err, sizeof(err)));
	assert_non_null(strstr(err, "index.html"));
	/* A root whose index.html is a symlink is refused too. */
	snprintf(p, sizeof(p), "%s/linked", fx->dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/linked/index.html", fx->dir);
	assert_int_equal(symlink("../root/index.html", p), 0);
	snprintf(p, sizeof(p), "%s/linked", fx->dir);
	assert_null(static_open(p, err, sizeof(err)));
	/* The root itself may be a symlink (an installed share dir often is). */
	snprintf(p, sizeof(p), "%s/rootlink", fx->dir);
	assert_int_equal(symlink("root", p), 0);
	s = static_open(p, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(static_count(s), 5);
	static_close(s);
	static_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_and_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test(test_routes_and_names),
		cmocka_unit_test_setup_teardown(test_missing_root_or_index, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
