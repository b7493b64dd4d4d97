/* test_probe_customer.c: unit tests for the customer map (customer.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "customer.h"

/* A packet with the given tags and addresses (decode output is all we need). */
static struct pkt mkpkt(int vlans, unsigned outer, unsigned inner,
    const char *src, const char *dst)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.n_vlans = (uint8_t)vlans;
	p.vlan_outer = (uint16_t)outer;
	p.vlan_inner = (uint16_t)inner;
	assert_int_equal(gw_addr_parse(src, &p.src), 0);
	assert_int_equal(gw_addr_parse(dst, &p.dst), 0);
	p.ip_ver = p.src.family;
	return p;
}

/* Looks up and checks tx/rx by customer id ("-" = CUSTOMER_NONE). */
static void expect(const struct customer_map *m, struct pkt p, const char *tx,
    const char *rx, bool inter)
{
	struct customer_match r = customer_lookup(m, &p);

	if (strcmp(tx, "-") == 0)
		assert_int_equal(r.tx, CUSTOMER_NONE);
	else
		assert_string_equal(customer_id(m, r.tx), tx);
	if (strcmp(rx, "-") == 0)
		assert_int_equal(r.rx, CUSTOMER_NONE);
	else
		assert_string_equal(customer_id(m, r.rx), rx);
	assert_int_equal(r.inter, inter);
}

static bool owns(const struct customer_map *m, int c, const char *addr)
{
	struct gw_addr a;

	assert_int_equal(gw_addr_parse(addr, &a), 0);
	return customer_owns(m, c, &a);
}

static struct customer_map *load(const char *text)
{
	struct customer_map *m = customer_map_new();

	assert_non_null(m);
	assert_int_equal(customer_map_load_string(m, "test.map", text), 0);
	return m;
}

static void test_empty_map(void **state)
{
	struct customer_map *m = customer_map_new();

	(void)state;
	assert_int_equal(customer_count(m), 1);
	assert_string_equal(customer_id(m, CUSTOMER_UNMAPPED), "unmapped");
	assert_int_equal(customer_find(m, "unmapped"), CUSTOMER_UNMAPPED);
	assert_int_equal(customer_find(m, "nobody"), CUSTOMER_NONE);
	expect(m, mkpkt(0, 0, 0, "192.0.2.1", "198.51.100.1"), "-", "unmapped", false);
	expect(m, mkpkt(1, 5, 0, "10.0.0.1", "8.8.8.8"), "-", "unmapped", false);
	customer_map_free(m);
	customer_map_free(NULL);
}

static void test_vlan_and_qinq(void **state)
{
	struct customer_map *m = load(
	    "# VLAN customers\n"
	    "c101 vlan 101\n"
	    "c102 vlan 102\n"
	    "q1 vlan 1451.265\n"
	    "q2 vlan 1451.266\n"
	    "c101 vlan 101\n");          /* repeated line is harmless */

	(void)state;
	assert_int_equal(customer_count(m), 5);
	/* VLAN-only customer: direction by the home networks */
	expect(m, mkpkt(1, 101, 0, "192.168.1.10", "93.184.216.34"), "c101", "-", false);
	expect(m, mkpkt(1, 101, 0, "93.184.216.34", "192.168.1.10"), "-", "c101", false);
	expect(m, mkpkt(1, 102, 0, "100.64.3.3", "1.1.1.1"), "c102", "-", false);
	expect(m, mkpkt(1, 102, 0, "fe80::1", "2001:db8::1"), "c102", "-", false);
	expect(m, mkpkt(1, 102, 0, "fd00::1", "2001:db8::1"), "c102", "-", false);
	expect(m, mkpkt(1, 102, 0, "2001:db8::1", "fd00::1"), "-", "c102", false);
	expect(m, mkpkt(2, 1451, 265, "10.9.9.9", "8.8.8.8"), "q1", "-", false);
	expect(m, mkpkt(2, 1451, 266, "8.8.8.8", "10.9.9.9"), "-", "q2", false);
	/* pair not configured: the outer tag alone decides */
	expect(m, mkpkt(2, 101, 7, "10.0.0.1", "8.8.8.8"), "c101", "-", false);
	expect(m, mkpkt(2, 1451, 999, "10.0.0.1", "8.8.8.8"), "-", "unmapped", false);
	expect(m, mkpkt(1, 265, 0, "10.0.0.1", "8.8.8.8"), "-", "unmapped", false);
	expect(m, mkpkt(1, 103, 0, "10.0.0.1", "8.8.8.8"), "-", "unmapped", false);
	customer_map_free(m);
}

/* Many pairs force the pair hash to grow and probe. */
static void test_many_pairs(void **state)
{
	struct customer_map *m = customer_map_new();
	char id[32], v[32], err[256];

	(void)state;
	for (int i = 1; i <= 600; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		snprintf(v, sizeof(v), "%d.%d", 100 + i % 7, i);
		assert_int_equal(customer_map_add(m, id, "vlan", v, err, sizeof(err)), 0);
	}
	for (int i = 1; i <= 600; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		expect(m, mkpkt(2, 100 + (unsigned)i % 7, (unsigned)i, "10.0.0.1", "8.8.8.8"),
		    id, "-", false);
	}
	expect(m, mkpkt(2, 100, 601, "10.0.0.1", "8.8.8.8"), "-", "unmapped", false);
	customer_map_free(m);
}

/* Customers behind different VLANs reuse 192.168.1.0/24: the tag decides. */
static void test_overlapping_vlan_customers(void **state)
{
	struct customer_map *m = load(
	    "a prefix 192.168.1.0/24\n"
	    "a vlan 201\n"
	    "b vlan 202\n"
	    "b prefix 192.168.1.0/24\n"
	    "b prefix 2001:db8:b::/48\n");

	(void)state;
	expect(m, mkpkt(1, 201, 0, "192.168.1.5", "8.8.8.8"), "a", "-", false);
	expect(m, mkpkt(1, 202, 0, "192.168.1.5", "8.8.8.8"), "b", "-", false);
	expect(m, mkpkt(1, 201, 0, "8.8.8.8", "192.168.1.5"), "-", "a", false);
	/* with prefixes, only the customer's own prefixes count as upstream */
	expect(m, mkpkt(1, 201, 0, "10.1.1.1", "8.8.8.8"), "-", "a", false);
	expect(m, mkpkt(1, 202, 0, "2001:db8:b::9", "2001:db8::1"), "b", "-", false);
	/* untagged: VLAN customers' prefixes do not map traffic */
	expect(m, mkpkt(0, 0, 0, "192.168.1.5", "8.8.8.8"), "-", "unmapped", false);
	assert_true(owns(m, customer_find(m, "a"), "192.168.1.77"));
	assert_false(owns(m, customer_find(m, "a"), "192.168.2.1"));
	assert_false(owns(m, customer_find(m, "a"), "2001:db8:b::1"));
	customer_map_free(m);
}

static void test_prefixes_longest_match(void **state)
{
	struct customer_map *m = load(
	    "big prefix 198.51.100.0/24\n"
	    "small prefix 198.51.100.128/25\n"
	    "host prefix 198.51.100.200/32\n"
	    "v6 prefix 2001:db8::/32\n"
	    "v6more prefix 2001:db8:1::/48\n"
	    "bare prefix 203.0.113.7\n");

	(void)state;
	expect(m, mkpkt(0, 0, 0, "198.51.100.1", "8.8.8.8"), "big", "-", false);
	expect(m, mkpkt(0, 0, 0, "198.51.100.129", "8.8.8.8"), "small", "-", false);
	expect(m, mkpkt(0, 0, 0, "198.51.100.200", "8.8.8.8"), "host", "-", false);
	expect(m, mkpkt(0, 0, 0, "8.8.8.8", "198.51.100.201"), "-", "small", false);
	expect(m, mkpkt(0, 0, 0, "2001:db8:2::1", "2606:4700::1"), "v6", "-", false);
	expect(m, mkpkt(0, 0, 0, "2606:4700::1", "2001:db8:1:ffff::1"), "-", "v6more", false);
	expect(m, mkpkt(0, 0, 0, "203.0.113.7", "8.8.8.8"), "bare", "-", false);
	expect(m, mkpkt(0, 0, 0, "203.0.113.8", "8.8.8.8"), "-", "unmapped", false);
	/* inter-customer */
	expect(m, mkpkt(0, 0, 0, "198.51.100.1", "198.51.100.130"), "big", "small", true);
	expect(m, mkpkt(0, 0, 0, "2001:db8:1::1", "2001:db8:2::1"), "v6more", "v6", true);
	/* same customer both ends: counted once, as tx */
	expect(m, mkpkt(0, 0, 0, "198.51.100.1", "198.51.100.2"), "big", "-", false);
	/* customer_owns is "inside any of its prefixes", not "longest match" */
	assert_true(owns(m, customer_find(m, "big"), "198.51.100.200"));
	assert_false(owns(m, customer_find(m, "small"), "198.51.100.1"));
	assert_false(owns(m, 99, "198.51.100.1"));
	customer_map_free(m);
}

static void test_default_route_prefix(void **state)
{
	struct customer_map *m = load("all prefix 0.0.0.0/0\nsub prefix 192.0.2.0/24\n");

	(void)state;
	expect(m, mkpkt(0, 0, 0, "8.8.8.8", "9.9.9.9"), "all", "-", false);
	expect(m, mkpkt(0, 0, 0, "8.8.8.8", "192.0.2.1"), "all", "sub", true);
	expect(m, mkpkt(0, 0, 0, "2001:db8::1", "2001:db8::2"), "-", "unmapped", false);
	customer_map_free(m);
}

static void test_catchall(void **state)
{
	struct customer_map *m = load("p prefix 198.51.100.0/24\nv vlan 10\n");

	(void)state;
	assert_int_equal(customer_map_set_catchall(m, "rest"), 0);
	expect(m, mkpkt(0, 0, 0, "10.0.0.1", "8.8.8.8"), "rest", "-", false);
	expect(m, mkpkt(0, 0, 0, "8.8.8.8", "10.0.0.1"), "-", "rest", false);
	expect(m, mkpkt(0, 0, 0, "8.8.8.8", "9.9.9.9"), "-", "rest", false);
	expect(m, mkpkt(0, 0, 0, "198.51.100.3", "8.8.8.8"), "p", "-", false);
	expect(m, mkpkt(1, 10, 0, "8.8.8.8", "10.0.0.1"), "-", "v", false);
	assert_int_equal(customer_map_set_catchall(m, "p"), 0);   /* existing id */
	expect(m, mkpkt(0, 0, 0, "8.8.8.8", "9.9.9.9"), "-", "p", false);
	assert_int_equal(customer_map_set_catchall(m, "bad id"), -1);
	assert_int_equal(customer_map_set_catchall(m, "unmapped"), -1);
	customer_map_free(m);
}

/* Each bad value: -1 and a message quoting it. */
static void bad(struct customer_map *m, const char *id, const char *kind,
    const char *value, const char *quoted)
{
	char err[256] = "";

	assert_int_equal(customer_map_add(m, id, kind, value, err, sizeof(err)), -1);
	if (strstr(err, quoted) == NULL)
		fail_msg("error '%s' does not quote '%s'", err, quoted);
}

static void test_bad_rules(void **state)
{
	struct customer_map *m = load("a vlan 10\nb vlan 20.30\nc prefix 192.0.2.0/24\n");

	(void)state;
	bad(m, "x", "vlan", "0", "'0'");
	bad(m, "x", "vlan", "4095", "'4095'");
	bad(m, "x", "vlan", "12a", "'12a'");
	bad(m, "x", "vlan", "-1", "'-1'");
	bad(m, "x", "vlan", "10.", "'10.'");
	bad(m, "x", "vlan", ".10", "'.10'");
	bad(m, "x", "vlan", "1.2.3", "'1.2.3'");
	bad(m, "x", "vlan", "", "''");
	bad(m, "x", "vlan", "10", "'a'");              /* owned by another */
	bad(m, "x", "vlan", "20.30", "'b'");
	bad(m, "x", "prefix", "192.0.2.0/33", "'192.0.2.0/33'");
	bad(m, "x", "prefix", "192.0.2.0/", "'192.0.2.0/'");
	bad(m, "x", "prefix", "192.0.2/24", "'192.0.2/24'");
	bad(m, "x", "prefix", "2001:db8::/129", "'2001:db8::/129'");
	bad(m, "x", "prefix", "hostname/8", "'hostname/8'");
	bad(m, "x", "prefix", "10.1.2.3/8", "10.0.0.0/8");  /* host bits: suggests */
	bad(m, "x", "prefix", "2001:db8::1/64", "2001:db8::/64");
	bad(m, "x", "prefix", "192.0.2.0/24", "'c'");     /* prefix-only duplicate */
	bad(m, "x", "route", "10", "'route'");
	bad(m, "bad/id", "vlan", "5", "'bad/id'");
	bad(m, "", "vlan", "5", "''");
	bad(m, "unmapped", "vlan", "5", "'unmapped'");
	/* the failed lines left nothing behind */
	assert_int_equal(customer_count(m), 4);
	assert_int_equal(customer_find(m, "x"), CUSTOMER_NONE);
	expect(m, mkpkt(1, 5, 0, "10.0.0.1", "8.8.8.8"), "-", "unmapped", false);
	customer_map_free(m);
}

/* Map file errors are logged as file:line and fail the load. */
static void test_load_file_errors(void **state)
{
	static const char *const bad_files[] = {
	    "a vlan 10\nb vlan 10\n",
	    "a vlan\n",
	    "a prefix 10.0.0.0/8 extra\n",
	    "a prefix 300.0.0.0/8\n",
	};
	char path[] = "/tmp/gw-customer-test-XXXXXX";
	int fd = mkstemp(path);
	struct customer_map *m;

	(void)state;
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(pwrite(fd, bad_files[i], strlen(bad_files[i]), 0),
		    (ssize_t)strlen(bad_files[i]));
		m = customer_map_new();
		assert_int_equal(customer_map_load(m, path), -1);
		customer_map_free(m);
	}
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "ok vlan 7\n\n# c\nok prefix 192.0.2.0/24\n", 38, 0), 38);
	m = customer_map_new();
	assert_int_equal(customer_map_load(m, path), 0);
	expect(m, mkpkt(1, 7, 0, "192.0.2.9", "8.8.8.8"), "ok", "-", false);
	customer_map_free(m);
	m = customer_map_new();
	assert_int_equal(customer_map_load(m, "/nonexistent/gw.map"), -1);
	customer_map_free(m);
	close(fd);
	unlink(path);
}

/* A VLAN line after prefix lines stops those prefixes from mapping traffic. */
static void test_vlan_after_prefix(void **state)
{
	struct customer_map *m = load("a prefix 198.51.100.0/24\n");

	(void)state;
	expect(m, mkpkt(0, 0, 0, "198.51.100.1", "8.8.8.8"), "a", "-", false);
	assert_int_equal(customer_map_load_string(m, "more", "a vlan 300\n"
	    "b prefix 198.51.100.0/24\n"), 0);
	expect(m, mkpkt(0, 0, 0, "198.51.100.1", "8.8.8.8"), "b", "-", false);
	expect(m, mkpkt(1, 300, 0, "198.51.100.1", "8.8.8.8"), "a", "-", false);
	customer_map_free(m);
}

static void test_non_ip_packet(void **state)
{
	struct customer_map *m = load("a vlan 9\np prefix 10.0.0.0/8\n");
	struct pkt p;
	struct customer_match r;

	(void)state;
	memset(&p, 0, sizeof(p));
	r = customer_lookup(m, &p);
	assert_int_equal(r.tx, CUSTOMER_NONE);
	assert_int_equal(r.rx, CUSTOMER_UNMAPPED);
	p.n_vlans = 1;
	p.vlan_outer = 9;
	r = customer_lookup(m, &p);
	assert_int_equal(r.rx, customer_find(m, "a"));
	customer_map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_map),
		cmocka_unit_test(test_vlan_and_qinq),
		cmocka_unit_test(test_many_pairs),
		cmocka_unit_test(test_overlapping_vlan_customers),
		cmocka_unit_test(test_prefixes_longest_match),
		cmocka_unit_test(test_default_route_prefix),
		cmocka_unit_test(test_catchall),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_vlan_after_prefix),
		cmocka_unit_test(test_non_ip_packet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
