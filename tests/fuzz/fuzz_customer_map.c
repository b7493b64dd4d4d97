/* fuzz-sources: probe/customer.c probe/decode.c */
/* fuzz-flags: -close_fd_mask=2 */
/* fuzz_customer_map.c: libFuzzer target: map file text in, then a few lookups. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "customer.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lookup(const struct customer_map *m, int vlans, unsigned outer,
    unsigned inner, const char *src, const char *dst)
{
	struct customer_match r;
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.n_vlans = (uint8_t)vlans;
	p.vlan_outer = (uint16_t)outer;
	p.vlan_inner = (uint16_t)inner;
	if (gw_addr_parse(src, &p.src) != 0 || gw_addr_parse(dst, &p.dst) != 0)
		abort();
	p.ip_ver = p.src.family;
	r = customer_lookup(m, &p);
	if (r.tx < CUSTOMER_NONE || r.rx < CUSTOMER_NONE ||
	    r.tx >= (int)customer_count(m) || r.rx >= (int)customer_count(m))
		abort();
	if (r.tx == CUSTOMER_NONE && r.rx == CUSTOMER_NONE)
		abort();                /* every packet is counted somewhere */
	if (r.inter && (r.tx < 0 || r.rx < 0 || r.tx == r.rx))
		abort();
	(void)customer_id(m, r.tx);
	(void)customer_owns(m, r.tx, &p.src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct customer_map *m;
	char *text;

	if (!quiet) {
		log_init("fuzz", LOG_LVL_ERR, false);   /* bad lines are expected */
		quiet = 1;
	}
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	m = customer_map_new();
	if (m != NULL) {
		(void)customer_map_load_string(m, "fuzz", text);
		if (size > 0 && data[0] & 1)
			(void)customer_map_set_catchall(m, "rest");
		lookup(m, 0, 0, 0, "192.168.1.5", "8.8.8.8");
		lookup(m, 1, 101, 0, "8.8.8.8", "10.1.2.3");
		lookup(m, 2, 1451, 265, "10.0.0.1", "192.0.2.1");
		lookup(m, 2, 4095, 4095, "198.51.100.7", "203.0.113.9");
		lookup(m, 0, 0, 0, "2001:db8::1", "fd00::5");
		lookup(m, 1, 7, 0, "fe80::1", "2001:db8:1::1");
		customer_map_free(m);
	}
	free(text);
	return 0;
}
