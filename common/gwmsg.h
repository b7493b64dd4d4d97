/* gwmsg.h: the plain C form of every wire message (see proto/gatewatch.proto). */
#ifndef GW_GWMSG_H
#define GW_GWMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_PROTO_VERSION 1
#define GW_ID_MAX        64   /* probe and customer ids, incl. NUL */
#define GW_NAME_MAX      48   /* app/category/kind names, incl. NUL */
#define GW_ADDR_MAX      48   /* textual IPv4/IPv6 address, incl. NUL */
#define GW_TEXT_MAX      256  /* free text: detail, message, reason */
#define GW_APPS_MAX      32   /* applications reported per customer per interval */
#define GW_LIST_MAX      16   /* top talkers, result entries, hello customers */
#define GW_AWAY_MAX      16   /* seq ranges in a Hello after a shard move */
#define GW_CUSTOMERS_MAX 4096 /* customers in one stats report */
#define GW_ENVELOPE_MAX  (1024 * 1024) /* largest encoded envelope accepted */

enum gw_body {
	GW_BODY_NONE = 0,
	GW_BODY_HELLO,
	GW_BODY_STATS,
	GW_BODY_EVENT,
	GW_BODY_FLOW,
	GW_BODY_COMMAND,
	GW_BODY_RESULT,
	GW_BODY_HEARTBEAT,
};

/* Seqs first..last (inclusive) of one probe. */
struct gw_seq_range {
	uint64_t first;
	uint64_t last;
};

struct gw_hello {
	char     software[GW_NAME_MAX];
	char     hostname[GW_ID_MAX];
	double   start_ts;
	uint32_t interval_ms;
	char     mode[16];
	size_t   n_customers;
	char     customers[GW_LIST_MAX][GW_ID_MAX];
	size_t   n_away;                    /* sent to other shards (see the proto) */
	struct gw_seq_range away[GW_AWAY_MAX];
};

struct gw_app_bytes {
	char     app[GW_NAME_MAX];
	char     category[GW_NAME_MAX];
	uint64_t rx_bytes;
	uint64_t tx_bytes;
};

struct gw_rtp_summary {
	uint32_t streams;
	uint64_t packets_expected;
	uint64_t packets_lost;
	double   jitter_ms_avg;
	double   jitter_ms_max;
	uint64_t packets;
};

struct gw_tcp_summary {
	uint32_t handshakes;
	double   rtt_wan_ms_avg;
	double   rtt_lan_ms_avg;
	double   rtt_ms_p95;
	uint64_t retransmits;
	uint64_t segments;
	uint64_t out_of_order;
};

struct gw_dns_summary {
	uint64_t queries;
	uint64_t responses;
	uint64_t failures;
	double   latency_ms_avg;
	double   latency_ms_p95;
	uint64_t timeouts;
};

struct gw_udp_summary {
	uint32_t streams;
	double   pps_avg;
	double   iat_var_ms_avg;
};

struct gw_customer_stats {
	char     customer[GW_ID_MAX];
	uint64_t rx_bytes;       /* IP-layer bytes toward the customer */
	uint64_t tx_bytes;       /* IP-layer bytes from the customer */
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint32_t flows_active;
	uint32_t flows_new;
	uint64_t shed_packets;   /* packets given no DPI/QoS (load shedding) */
	size_t   n_apps;
	struct gw_app_bytes   apps[GW_APPS_MAX];
	struct gw_rtp_summary rtp;
	struct gw_tcp_summary tcp;
	struct gw_dns_summary dns;
	struct gw_udp_summary udp;
};

struct gw_health {
	double   cpu_pct;
	uint64_t rss_bytes;
	uint64_t pcap_received;
	uint64_t pcap_dropped;
	uint64_t pcap_if_dropped;
	uint64_t queue_dropped;
	uint64_t decode_errors;
	uint64_t non_ip;
	uint64_t flows_evicted;
	double   cgroup_cpu_pct;   /* -1 when unknown */
	uint64_t cgroup_mem_bytes; /* 0 when unknown */
	uint64_t flows_active;
	uint64_t shed_budget_pps;  /* load shedding budget in force; 0 = unlimited */
};

struct gw_stats_report {
	double   ts;        /* interval end, packet time, s since the epoch */
	double   interval;  /* s */
	size_t   n_customers;
	struct gw_customer_stats *customers; /* see gw_msg ownership below */
	struct gw_health health;
};

struct gw_event {
	double   ts;
	char     customer[GW_ID_MAX];
	char     kind[GW_NAME_MAX];
	char     severity[16];
	char     src[GW_ADDR_MAX];
	char     dst[GW_ADDR_MAX];
	double   rate_pps;
	double   rate_bps;
	char     direction[8];
	bool     cleared;
	uint32_t ip_proto;
	uint32_t dport;
	char     detail[GW_TEXT_MAX];
	size_t   n_top_talkers;
	char     top_talkers[GW_LIST_MAX][GW_ADDR_MAX + 32];
};

struct gw_flow_record {
	char     customer[GW_ID_MAX];
	double   first_ts;
	double   last_ts;
	uint32_t ip_proto;
	char     src[GW_ADDR_MAX];
	char     dst[GW_ADDR_MAX];
	uint32_t sport;
	uint32_t dport;
	uint32_t vlan;
	char     app[GW_NAME_MAX];
	char     category[GW_NAME_MAX];
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_packets;
	uint64_t tx_packets;
	char     end_reason[16];
	double   rtt_wan_ms;
	double   rtt_lan_ms;
	uint64_t retransmits;
	double   jitter_ms;
	uint64_t rtp_lost;
};

struct gw_command {
	uint64_t id;
	char     kind[GW_NAME_MAX];
	char     address[GW_ADDR_MAX];
	uint32_t prefix_len;
	uint32_t timeout_s;
	char     key[GW_NAME_MAX];
	double   value;
	char     reason[GW_TEXT_MAX];
};

struct gw_command_result {
	uint64_t id;
	bool     ok;
	char     message[GW_TEXT_MAX];
	size_t   n_entries;
	char     entries[GW_LIST_MAX][GW_TEXT_MAX];
};

struct gw_heartbeat {
	double ts;
	bool   leaving;    /* last envelope to this shard before a move */
};

/*
 * One envelope. For GW_BODY_STATS, u.stats.customers is owned by the message
 * when it came from envelope_decode() (release with gw_msg_clear()); when a
 * sender fills it in for envelope_encode() it stays the sender's (borrowed).
 */
struct gw_msg {
	uint32_t     version;
	char         probe_id[GW_ID_MAX];
	uint64_t     seq;
	double       sent_ts;
	enum gw_body type;
	union {
		struct gw_hello          hello;
		struct gw_stats_report   stats;
		struct gw_event          event;
		struct gw_flow_record    flow;
		struct gw_command        command;
		struct gw_command_result result;
		struct gw_heartbeat      heartbeat;
	} u;
};

/* Name of a body type ("stats", "event", ...); "none" for unknown values. */
const char *gw_body_name(enum gw_body type);

/*
 * True when s is a valid id (probe or customer): 1..GW_ID_MAX-1 chars from
 * [A-Za-z0-9_.:-]. Ids end up in file names and JSON, so nothing else passes.
 */
bool gw_id_valid(const char *s);

/*
 * True when s is well-formed UTF-8 without control characters (tab and
 * newline pass when allow_newline is true). envelope_encode() and
 * envelope_decode() require this of every string field, because strings end
 * up in JSON, SQLite and log lines.
 */
bool gw_text_valid(const char *s, bool allow_newline);

/*
 * Makes s acceptable to gw_text_valid(s, false) in place by replacing each
 * control character and each byte that is not part of well-formed UTF-8 with
 * '?'. Use it on text taken from packets (host names, ...) before encoding.
 * Returns the number of bytes replaced; NULL is a no-op.
 */
size_t gw_text_sanitize(char *s);

#endif
