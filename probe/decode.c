/* decode.c: bounds-checked decoding of one captured frame (L2 .. L4) into a struct pkt view. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "decode.h"

/*
 * Link-type numbers as libpcap's <pcap/dlt.h> defines them on this platform.
 * Only the constants are used, so this module does not depend on libpcap.
 */
#if defined(__has_include)
#if __has_include(<pcap/dlt.h>)
#include <pcap/dlt.h>
#endif
#endif
#ifndef DLT_NULL
#define DLT_NULL 0
#endif
#ifndef DLT_EN10MB
#define DLT_EN10MB 1
#endif
#ifndef DLT_RAW
#define DLT_RAW 12
#endif
#ifndef DLT_LOOP
#define DLT_LOOP 108
#endif
#ifndef DLT_LINUX_SLL
#define DLT_LINUX_SLL 113
#endif
#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
#define LINKTYPE_RAW 101        /* file-level value some callers pass unmapped */

#define ETH_HLEN        14
#define SLL_HLEN        16
#define SLL2_HLEN       20
#define ETYPE_IPV4      0x0800
#define ETYPE_IPV6      0x86dd
#define ETYPE_VLAN      0x8100
#define ETYPE_QINQ      0x88a8
#define ETYPE_QINQ_OLD  0x9100
#define ETYPE_PPPOE_SES 0x8864
#define ETYPE_MPLS_UC   0x8847
#define ETYPE_MPLS_MC   0x8848
#define PPP_IPV4        0x0021
#define PPP_IPV6        0x0057

#define MAX_L2_TAGS     8       /* VLAN tags + MPLS labels + PPPoE, per frame */
#define MAX_IPV6_EXT    8       /* extension headers followed before giving up */

/* What the link layer says comes next. */
enum l3_kind { L3_IPV4, L3_IPV6, L3_BY_VERSION };

/* Bounds-checked read cursor over untrusted bytes. */
struct cur {
	const uint8_t *p;
	uint32_t n;            /* bytes left */
};

/* Takes k bytes from c; *out points at them. False (c unchanged) when short. */
static inline bool cur_pull(struct cur *c, uint32_t k, const uint8_t **out)
{
	if (c->n < k)
		return false;
	*out = c->p;
	c->p += k;
	c->n -= k;
	return true;
}

static inline uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t rd32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
	    ((uint32_t)b[2] << 8) | b[3];
}

static inline uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static const char *const result_names[DECODE_RESULT_MAX] = {
	[DECODE_OK] = "ok",
	[DECODE_NON_IP] = "non_ip",
	[DECODE_TRUNC_L2] = "trunc_l2",
	[DECODE_TRUNC_VLAN] = "trunc_vlan",
	[DECODE_BAD_PPPOE] = "bad_pppoe",
	[DECODE_TRUNC_IP] = "trunc_ip",
	[DECODE_BAD_IP_VERSION] = "bad_ip_version",
	[DECODE_BAD_IP_HLEN] = "bad_ip_hlen",
	[DECODE_BAD_IP_LEN] = "bad_ip_len",
	[DECODE_BAD_IPV6_EXT] = "bad_ipv6_ext",
	[DECODE_TRUNC_L4] = "trunc_l4",
	[DECODE_BAD_L4] = "bad_l4",
	[DECODE_UNSUPPORTED_DLT] = "unsupported_dlt",
};

/* Returns the short stable name of r, "unknown" when out of range. */
const char *decode_result_name(enum decode_result r)
{
	if ((unsigned)r >= DECODE_RESULT_MAX || result_names[r] == NULL)
		return "unknown";
	return result_names[r];
}

/* True for the link types decode_packet understands. */
bool decode_dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2:
	case DLT_NULL: case DLT_LOOP: case DLT_RAW: case LINKTYPE_RAW:
	case DLT_IPV4: case DLT_IPV6:
		return true;
	default:
		return false;
	}
}

/* ---- L4 ---------------------------------------------------------------- */

/*
 * Sets payload fields from the L4 payload start. c covers the captured
 * bytes of the IP payload after the L4 header; len is its length by the
 * headers.
 */
static inline void set_payload(struct pkt *p, const struct cur *c, uint32_t len)
{
	p->payload = c->p;
	p->payload_len = len;
	p->payload_caplen = min32(c->n, len);
}

static enum decode_result decode_tcp(struct cur *c, uint32_t len, struct pkt *p)
{
	const uint8_t *h, *opt;
	uint32_t hlen;

	if (len < 20)
		return DECODE_BAD_L4;
	if (!cur_pull(c, 20, &h))
		return DECODE_TRUNC_L4;
	hlen = (uint32_t)(h[12] >> 4) * 4;
	if (hlen < 20 || hlen > len)
		return DECODE_BAD_L4;
	if (!cur_pull(c, hlen - 20, &opt))
		return DECODE_TRUNC_L4;
	p->sport = rd16(h);
	p->dport = rd16(h + 2);
	p->tcp_seq = rd32(h + 4);
	p->tcp_ack = rd32(h + 8);
	p->tcp_flags = h[13] & 0x3f;
	p->tcp_win = rd16(h + 14);
	p->tcp_hdr_len = (uint8_t)hlen;
	p->has_l4 = true;
	set_payload(p, c, len - hlen);
	return DECODE_OK;
}

static enum decode_result decode_udp(struct cur *c, uint32_t len, struct pkt *p)
{
	const uint8_t *h;

	if (len < 8)
		return DECODE_BAD_L4;
	if (!cur_pull(c, 8, &h))
		return DECODE_TRUNC_L4;
	p->sport = rd16(h);
	p->dport = rd16(h + 2);
	p->has_l4 = true;
	set_payload(p, c, len - 8);
	return DECODE_OK;
}

/* ICMP and ICMPv6 share the layout: type, code, checksum, 4 bytes rest-of-header. */
static enum decode_result decode_icmp(struct cur *c, uint32_t len, struct pkt *p)
{
	const uint8_t *h;

	if (len < 8)
		return DECODE_BAD_L4;
	if (!cur_pull(c, 8, &h))
		return DECODE_TRUNC_L4;
	p->icmp_type = h[0];
	p->icmp_code = h[1];
	p->has_l4 = true;
	set_payload(p, c, len - 8);
	return DECODE_OK;
}

/*
 * Decodes the L4 header of p->l4_proto. c covers the captured part of the IP
 * payload, len is the IP payload length by the headers. Tunnels (4in4, 6in4,
 * GRE) and unknown protocols are not followed: the payload is what follows
 * the outer IP header.
 */
static enum decode_result decode_l4(struct cur *c, uint32_t len, struct pkt *p)
{
	switch (p->l4_proto) {
	case IPPROTO_TCP:
		return decode_tcp(c, len, p);
	case IPPROTO_UDP:
		return decode_udp(c, len, p);
	case IPPROTO_ICMP:
		return p->ip_ver == 4 ? decode_icmp(c, len, p) : DECODE_OK;
	case IPPROTO_ICMPV6:
		return p->ip_ver == 6 ? decode_icmp(c, len, p) : DECODE_OK;
	default:
		set_payload(p, c, len);
		return DECODE_OK;
	}
}

/* ---- L3 ---------------------------------------------------------------- */

static enum decode_result decode_ipv4(struct cur *c, struct pkt *p)
{
	const uint8_t *h, *opt;
	uint32_t hlen, tot, off;

	p->l3 = c->p;
	if (c->n > 0 && (c->p[0] >> 4) != 4)
		return DECODE_BAD_IP_VERSION;
	if (!cur_pull(c, 20, &h))
		return DECODE_TRUNC_IP;
	hlen = (uint32_t)(h[0] & 0x0f) * 4;
	if (hlen < 20)
		return DECODE_BAD_IP_HLEN;
	if (!cur_pull(c, hlen - 20, &opt))
		return DECODE_TRUNC_IP;
	tot = rd16(h + 2);
	if (tot == 0)                   /* TSO/GSO capture: length not filled in */
		tot = c->n + hlen > 0xffff ? 0xffff : c->n + hlen;
	if (tot < hlen)
		return DECODE_BAD_IP_LEN;
	p->ip_ver = 4;
	p->ip_bytes = tot;
	p->l3_caplen = min32(c->n + hlen, tot);
	c->n = p->l3_caplen - hlen;     /* drop link padding after the datagram */
	p->ttl = h[8];
	p->l4_proto = h[9];
	p->src.family = p->dst.family = 4;
	memcpy(p->src.a, h + 12, 4);
	memcpy(p->dst.a, h + 16, 4);
	off = rd16(h + 6);
	if (off & 0x3fff) {             /* MF set or offset != 0 */
		p->frag = true;
		if (off & 0x1fff) {     /* later fragment: no L4 header */
			set_payload(p, c, tot - hlen);
			return DECODE_OK;
		}
		p->frag_first = true;
	}
	return decode_l4(c, tot - hlen, p);
}

/*
 * Walks the IPv6 extension header chain starting with next header *nh.
 * *len is the remaining payload length by the header; both are advanced past
 * each extension header. Returns DECODE_OK with *nh the upper-layer
 * protocol, or an error. *later_frag is set for a non-first fragment.
 */
static enum decode_result ipv6_ext_chain(struct cur *c, uint8_t *nh,
    uint32_t *len, struct pkt *p, bool *later_frag)
{
	const uint8_t *h, *rest;
	uint32_t elen;
	int i;

	for (i = 0; i < MAX_IPV6_EXT; i++) {
		switch (*nh) {
		case IPPROTO_HOPOPTS: case IPPROTO_ROUTING: case IPPROTO_DSTOPTS:
		case IPPROTO_AH: case IPPROTO_FRAGMENT: case 135 /* mobility */:
			break;
		default:
			return DECODE_OK;
		}
		if (*len < 8)
			return DECODE_BAD_IPV6_EXT;
		if (!cur_pull(c, 8, &h))
			return DECODE_TRUNC_L4;
		if (*nh == IPPROTO_FRAGMENT) {
			elen = 8;
			p->frag = true;
			p->frag_first = (rd16(h + 2) & 0xfff8) == 0;
			*later_frag = !p->frag_first;
		} else if (*nh == IPPROTO_AH) {
			elen = ((uint32_t)h[1] + 2) * 4;
		} else {
			elen = ((uint32_t)h[1] + 1) * 8;
		}
		if (elen < 8 || elen > *len)
			return DECODE_BAD_IPV6_EXT;
		if (!cur_pull(c, elen - 8, &rest))
			return DECODE_TRUNC_L4;
		*len -= elen;
		*nh = h[0];
		if (*later_frag)
			return DECODE_OK;
	}
	return DECODE_BAD_IPV6_EXT;
}

static enum decode_result decode_ipv6(struct cur *c, struct pkt *p)
{
	const uint8_t *h;
	uint32_t plen;
	uint8_t nh;
	bool later_frag = false;
	enum decode_result r;

	p->l3 = c->p;
	if (c->n > 0 && (c->p[0] >> 4) != 6)
		return DECODE_BAD_IP_VERSION;
	if (!cur_pull(c, 40, &h))
		return DECODE_TRUNC_IP;
	plen = rd16(h + 4);
	nh = h[6];
	if (plen == 0 && nh == IPPROTO_HOPOPTS)
		plen = c->n;            /* jumbogram: length is in an option */
	p->ip_ver = 6;
	p->ip_bytes = 40 + plen;
	p->l3_caplen = min32(c->n, plen) + 40;
	c->n = p->l3_caplen - 40;
	p->ttl = h[7];
	p->src.family = p->dst.family = 6;
	memcpy(p->src.a, h + 8, 16);
	memcpy(p->dst.a, h + 24, 16);
	r = ipv6_ext_chain(c, &nh, &plen, p, &later_frag);
	p->l4_proto = nh;
	if (r != DECODE_OK)
		return r;
	if (later_frag) {
		set_payload(p, c, plen);
		return DECODE_OK;
	}
	return decode_l4(c, plen, p);
}

/*
 * The link layer's protocol field decides; only link types without one
 * (raw IP, MPLS) guess by the version nibble. An IPv6 header behind an IPv4
 * ethertype is a bad version: Wireshark lists such a frame as "ip" with a
 * bogus version and no ip.len, so the IP totals oracle does not count it.
 */
static enum decode_result decode_l3(struct cur *c, enum l3_kind kind, struct pkt *p)
{
	if (kind == L3_BY_VERSION) {
		if (c->n == 0)
			return DECODE_TRUNC_IP;
		switch (c->p[0] >> 4) {
		case 4: kind = L3_IPV4; break;
		case 6: kind = L3_IPV6; break;
		default: return DECODE_BAD_IP_VERSION;
		}
	}
	return kind == L3_IPV4 ? decode_ipv4(c, p) : decode_ipv6(c, p);
}

/* ---- L2 ---------------------------------------------------------------- */

/* Pops an MPLS label stack; the payload's IP version is guessed later. */
static enum decode_result decode_mpls(struct cur *c)
{
	const uint8_t *h;
	int i;

	for (i = 0; i < MAX_L2_TAGS; i++) {
		if (!cur_pull(c, 4, &h))
			return DECODE_TRUNC_L2;
		if (h[2] & 0x01)        /* bottom of stack */
			return DECODE_OK;
	}
	return DECODE_NON_IP;
}

/* PPPoE session header + PPP protocol; sets *etype to an IP ethertype or 0. */
static enum decode_result decode_pppoe(struct cur *c, uint16_t *etype)
{
	const uint8_t *h;

	if (!cur_pull(c, 8, &h))
		return DECODE_BAD_PPPOE;
	if (h[0] != 0x11 || h[1] != 0x00)   /* version 1, type 1, code "session" */
		return DECODE_BAD_PPPOE;
	switch (rd16(h + 6)) {
	case PPP_IPV4: *etype = ETYPE_IPV4; break;
	case PPP_IPV6: *etype = ETYPE_IPV6; break;
	default: *etype = 0; break;
	}
	return DECODE_OK;
}

static void note_vlan(struct pkt *p, const uint8_t *tag)
{
	uint16_t vid = rd16(tag) & 0x0fff;

	if (p->n_vlans == 0)
		p->vlan_outer = vid;
	else if (p->n_vlans == 1)
		p->vlan_inner = vid;
	if (p->n_vlans < 2)
		p->n_vlans++;
}

/*
 * Follows an ethertype through VLAN tags, PPPoE and MPLS down to IP.
 * Returns DECODE_OK with *kind set, or why the frame is not IP.
 */
static enum decode_result decode_ethertype(struct cur *c, uint16_t etype,
    struct pkt *p, enum l3_kind *kind)
{
	const uint8_t *h;
	enum decode_result r;
	int i;

	for (i = 0; i < MAX_L2_TAGS; i++) {
		switch (etype) {
		case ETYPE_IPV4:
			*kind = L3_IPV4;
			return DECODE_OK;
		case ETYPE_IPV6:
			*kind = L3_IPV6;
			return DECODE_OK;
		case ETYPE_VLAN: case ETYPE_QINQ: case ETYPE_QINQ_OLD:
			if (!cur_pull(c, 4, &h))
				return DECODE_TRUNC_VLAN;
			note_vlan(p, h);
			etype = rd16(h + 2);
			break;
		case ETYPE_PPPOE_SES:
			if ((r = decode_pppoe(c, &etype)) != DECODE_OK)
				return r;
			if (etype == 0)
				return DECODE_NON_IP;
			break;
		case ETYPE_MPLS_UC: case ETYPE_MPLS_MC:
			*kind = L3_BY_VERSION;
			return decode_mpls(c);
		default:
			return DECODE_NON_IP;
		}
	}
	return DECODE_NON_IP;
}

/* Ethernet II, or 802.3 + LLC/SNAP carrying an ethertype. */
static enum decode_result decode_ether(struct cur *c, struct pkt *p,
    enum l3_kind *kind)
{
	const uint8_t *h, *snap;
	uint16_t etype;

	if (!cur_pull(c, ETH_HLEN, &h))
		return DECODE_TRUNC_L2;
	etype = rd16(h + 12);
	if (etype <= 1500) {            /* 802.3 length field */
		if (c->n < 8 || c->p[0] != 0xaa || c->p[1] != 0xaa ||
		    c->p[2] != 0x03 || c->p[3] || c->p[4] || c->p[5])
			return DECODE_NON_IP;
		(void)cur_pull(c, 8, &snap);
		etype = rd16(snap + 6);
	}
	return decode_ethertype(c, etype, p, kind);
}

/* BSD loopback: 4-byte address family in the capturing host's byte order. */
static enum decode_result decode_null(struct cur *c, enum l3_kind *kind)
{
	const uint8_t *h;
	uint32_t fam;

	if (!cur_pull(c, 4, &h))
		return DECODE_TRUNC_L2;
	if (h[0] == 0 && h[1] == 0)
		fam = rd16(h + 2);                       /* big endian */
	else
		fam = (uint32_t)h[0] | ((uint32_t)h[1] << 8);   /* little endian */
	switch (fam) {
	case 2:                         /* AF_INET everywhere */
		*kind = L3_IPV4;
		return DECODE_OK;
	case 10: case 24: case 28: case 30:     /* AF_INET6: Linux, BSDs, macOS */
		*kind = L3_IPV6;
		return DECODE_OK;
	default:
		return DECODE_NON_IP;
	}
}

static enum decode_result decode_link(int dlt, struct cur *c, struct pkt *p,
    enum l3_kind *kind)
{
	const uint8_t *h;

	switch (dlt) {
	case DLT_EN10MB:
		return decode_ether(c, p, kind);
	case DLT_LINUX_SLL:
		if (!cur_pull(c, SLL_HLEN, &h))
			return DECODE_TRUNC_L2;
		return decode_ethertype(c, rd16(h + 14), p, kind);
	case DLT_LINUX_SLL2:
		if (!cur_pull(c, SLL2_HLEN, &h))
			return DECODE_TRUNC_L2;
		return decode_ethertype(c, rd16(h), p, kind);
	case DLT_NULL: case DLT_LOOP:
		return decode_null(c, kind);
	case DLT_RAW: case LINKTYPE_RAW:
		*kind = L3_BY_VERSION;
		return DECODE_OK;
	case DLT_IPV4:
		*kind = L3_IPV4;
		return DECODE_OK;
	case DLT_IPV6:
		*kind = L3_IPV6;
		return DECODE_OK;
	default:
		return DECODE_UNSUPPORTED_DLT;
	}
}

/*
 * Decodes one frame into p. Every field after wirelen is reset first, so a
 * failed decode leaves zeros (and whatever layers were decoded before the
 * failure: VLAN tags, and for TRUNC_L4/BAD_L4 the whole IP view).
 */
enum decode_result decode_packet(int dlt, const uint8_t *data, uint32_t caplen,
    struct pkt *p)
{
	struct cur c = { data, caplen };
	enum l3_kind kind = L3_BY_VERSION;
	enum decode_result r;

	memset(&p->n_vlans, 0, sizeof(*p) - offsetof(struct pkt, n_vlans));
	if (data == NULL)
		c.n = 0;
	r = decode_link(dlt, &c, p, &kind);
	if (r != DECODE_OK)
		return r;
	r = decode_l3(&c, kind, p);
	if (!decode_is_ip(r)) {
		/* keep VLAN info; the IP view is only meaningful for IP results */
		p->ip_ver = 0;
		p->ip_bytes = 0;
		p->l3_caplen = 0;
		p->l3 = NULL;
	}
	return r;
}

/* ---- addresses --------------------------------------------------------- */

/* Formats a as text into buf; "-" for family 0. Returns buf. */
char *gw_addr_str(const struct gw_addr *a, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (a->family == 4) {
		if (inet_ntop(AF_INET, a->a, buf, (socklen_t)len) != NULL)
			return buf;
	} else if (a->family == 6) {
		if (inet_ntop(AF_INET6, a->a, buf, (socklen_t)len) != NULL)
			return buf;
	} else {
		snprintf(buf, len, "-");
		return buf;
	}
	buf[0] = '\0';
	return buf;
}

/* Parses a textual IPv4 or IPv6 address into out; 0 or -1. */
int gw_addr_parse(const char *s, struct gw_addr *out)
{
	struct gw_addr a;

	memset(&a, 0, sizeof(a));
	if (s == NULL)
		return -1;
	if (inet_pton(AF_INET, s, a.a) == 1)
		a.family = 4;
	else if (inet_pton(AF_INET6, s, a.a) == 1)
		a.family = 6;
	else
		return -1;
	*out = a;
	return 0;
}

/* Orders by family, then by address bytes. */
int gw_addr_cmp(const struct gw_addr *x, const struct gw_addr *y)
{
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->a, y->a, x->family == 4 ? 4 : 16);
}
