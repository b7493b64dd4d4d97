/* decode.h: bounds-checked decoding of one captured frame into a struct pkt view. */
#ifndef GW_DECODE_H
#define GW_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 address; IPv4 is stored in a[0..3], rest zero. */
struct gw_addr {
	uint8_t family;       /* 4 or 6; 0 = none */
	uint8_t a[16];        /* network order */
};

/* TCP flags as on the wire. */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20

/*
 * A decoded packet: a view into the capture buffer (no copies), valid until
 * the next packet. All multi-byte numbers are host order unless marked.
 */
struct pkt {
	uint64_t ts_us;        /* packet time, microseconds since the epoch */
	uint32_t caplen;       /* bytes captured */
	uint32_t wirelen;      /* bytes on the wire (pcap len) */

	uint8_t  n_vlans;      /* tags seen, 0..2 counted (more are skipped) */
	uint16_t vlan_outer;   /* first tag's VID (802.1ad S-tag or 802.1Q) */
	uint16_t vlan_inner;   /* second tag's VID, 0 if none */

	uint8_t  ip_ver;       /* 4 or 6 (outermost IP header) */
	uint32_t ip_bytes;     /* IP-layer bytes from the header: v4 total length,
	                          v6 40 + payload length (jumbo: captured length;
	                          v4 total length 0, as in TSO captures: captured
	                          length) */
	struct gw_addr src, dst;
	uint8_t  ttl;          /* TTL / hop limit */
	uint8_t  l4_proto;     /* IPPROTO_*, after IPv6 extension headers */
	bool     frag;         /* part of a fragmented datagram */
	bool     frag_first;   /* offset 0 (carries the L4 header) */
	bool     has_l4;       /* L4 header decoded (ports/flags/types valid) */

	uint16_t sport, dport; /* TCP/UDP; 0 otherwise */
	uint8_t  tcp_flags;
	uint32_t tcp_seq, tcp_ack;
	uint16_t tcp_win;
	uint8_t  tcp_hdr_len;  /* bytes */
	uint8_t  icmp_type, icmp_code;

	const uint8_t *l3;     /* start of the IP header (captured) */
	uint32_t l3_caplen;    /* captured bytes from l3, capped at ip_bytes */
	const uint8_t *payload;/* L4 payload (captured part) or NULL */
	uint32_t payload_caplen;
	uint32_t payload_len;  /* L4 payload length according to the headers */
};

/* Why a frame was not (fully) decoded; counters are indexed by this. */
enum decode_result {
	DECODE_OK = 0,
	DECODE_NON_IP,          /* ARP, LLDP, STP, ...: counted separately, not an error */
	DECODE_TRUNC_L2,        /* link header cut short */
	DECODE_TRUNC_VLAN,
	DECODE_BAD_PPPOE,
	DECODE_TRUNC_IP,        /* IP header not fully captured */
	DECODE_BAD_IP_VERSION,
	DECODE_BAD_IP_HLEN,
	DECODE_BAD_IP_LEN,      /* total length < header length */
	DECODE_BAD_IPV6_EXT,    /* extension header chain cut or too long */
	DECODE_TRUNC_L4,        /* IP ok, L4 header cut (packet still counted as IP) */
	DECODE_BAD_L4,          /* e.g. TCP data offset < 5 (still counted as IP) */
	DECODE_UNSUPPORTED_DLT,
	DECODE_RESULT_MAX
};

/* True for results where the packet is a valid IP packet (bytes/addresses usable). */
static inline bool decode_is_ip(enum decode_result r)
{
	return r == DECODE_OK || r == DECODE_TRUNC_L4 || r == DECODE_BAD_L4;
}

/* Short stable name of a result ("trunc_ip"), for counters and logs. */
const char *decode_result_name(enum decode_result r);

/* True if the pcap link type (DLT_*) is supported by decode_packet. */
bool decode_dlt_supported(int dlt);

/*
 * Decodes one frame of link type dlt (DLT_EN10MB, DLT_LINUX_SLL, DLT_NULL,
 * DLT_LOOP, DLT_RAW, DLT_IPV4, DLT_IPV6). data is borrowed; *p points into it
 * afterwards. Handles 802.1Q, 802.1ad and stacked 0x8100 tags, PPPoE session,
 * MPLS label stacks, IPv4 options and fragments, IPv6 extension headers and
 * fragments, TCP, UDP, ICMP, ICMPv6. Never reads outside data[0..caplen).
 * p->ts_us, caplen and wirelen are left for the caller to set.
 */
enum decode_result decode_packet(int dlt, const uint8_t *data, uint32_t caplen,
    struct pkt *p);

/* Formats an address as text into buf (GW_ADDR_MAX); returns buf. */
char *gw_addr_str(const struct gw_addr *a, char *buf, size_t len);

/* Parses "1.2.3.4" or "2001:db8::1"; 0 on success, -1 otherwise. */
int gw_addr_parse(const char *s, struct gw_addr *out);

/* Compares two addresses (family first); returns <0, 0, >0. */
int gw_addr_cmp(const struct gw_addr *x, const struct gw_addr *y);

#endif
