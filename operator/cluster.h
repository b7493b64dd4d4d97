/* cluster.h: sharded operators over NATS JetStream: shared EVENTS stream, cross-shard correlation, BANS KV bucket. */
#ifndef GW_CLUSTER_H
#define GW_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"

/*
 * The only module that uses libnats. Without --nats the operator never
 * creates a cluster and runs alone exactly as before.
 *
 * Data flow in a sharded set-up (every shard does the same):
 * - Every event a shard's probes report is published to the EVENTS stream
 *   (subject gw.events.<shard>, file storage, R3) with a Nats-Msg-Id derived
 *   from the event's content and origin probe, so the same event re-sent
 *   (a probe that failed over and re-sent its buffer) is stored once.
 * - Each shard reads EVENTS through its own durable pull consumer
 *   "corr-<shard>" and feeds every shard's events to its correlator, so one
 *   source seen by probes on different shards is one global attack, and a
 *   restarted shard resumes where it stopped.
 * - A global decision is claimed in the BANS KV bucket (R3, TTL = ban
 *   timeout) with create (and compare-and-set update to extend it): exactly
 *   one shard wins the create and runs the upstream hook.
 * - Every shard watches BANS and applies each ban to its own probes.
 *
 * Threads: libnats runs its own; cluster adds a fetch thread and a watch
 * thread, which only queue what they receive (bounded, back-pressure on the
 * consumer), and a directory thread (cluster_peers). cluster_poll()
 * delivers the queue to the callbacks on the caller's (ingest) thread; every
 * other function is called from that thread unless it says otherwise.
 */
struct cluster;

#define CLUSTER_URLS_MAX    8
#define CLUSTER_QUEUE_MAX   1024   /* received items waiting for cluster_poll */
#define CLUSTER_RETRY_MAX   64     /* failed claims retried by cluster_poll */
#define CLUSTER_PREFIX_MAX  8

struct cluster_config {
	const char *urls;        /* "nats://h:p,tls://h:p" (borrowed) */
	const char *shard_id;    /* this shard's id, gw_id_valid (borrowed) */
	uint32_t    ban_ttl_s;   /* BANS key TTL = ban timeout [600] */
	int         replicas;    /* stream and bucket replicas [3] */
	int         connect_timeout_ms; /* first connection and stream set-up [10000] */
	const char *api_addr;    /* this shard's HTTP API "host:port" for the others
	                          * (OWNERS and SHARDS buckets), NULL = not advertised */
	/* Authentication (all borrowed, NULL = not used; user needs password). */
	const char *user;        /* user/password authorization */
	const char *password;
	const char *creds_file;  /* a NATS .creds file (JWT + nkey seed) */
	/* TLS: tls_ca set = TLS required, server verified against that CA. */
	const char *tls_ca;
	const char *tls_cert;    /* client certificate chain (with tls_key) */
	const char *tls_key;
};

/* A cluster-wide ban decision, as stored in a BANS key. */
struct cluster_ban {
	char     src[GW_ID_MAX];          /* address, or customer id for "dist" */
	char     kind[GW_NAME_MAX];
	char     customer[GW_ID_MAX];  /* "" when unknown */
	char     shard[GW_ID_MAX];     /* shard that decided (won the create/update) */
	uint32_t timeout_s;
	double   decided_ts;           /* wall clock, s since the epoch */
	uint64_t revision;             /* KV revision (0 before it is stored) */
};

/*
 * Callbacks on the cluster_poll() caller's thread; pointers valid during the
 * call only. event(): an event reported by probe_id on any shard (this one
 * included). ban(): a BANS key was created or updated (by any shard).
 */
struct cluster_callbacks {
	void (*event)(const char *probe_id, const struct gw_event *ev, void *ctx);
	void (*ban)(const struct cluster_ban *b, void *ctx);
	/* A claim that failed with CLUSTER_CLAIM_ERROR was retried and won. */
	void (*won)(const char *prefix, const struct cluster_ban *b, void *ctx);
	void *ctx;                      /* borrowed */
};

/*
 * Connects to the NATS servers (reconnecting forever afterwards), creates or
 * binds the EVENTS stream, this shard's durable consumer and the BANS bucket,
 * and starts the fetch, watch and directory threads. Returns NULL (logged) on bad
 * configuration or when the cluster cannot be reached in connect_timeout_ms.
 */
struct cluster *cluster_new(const struct cluster_config *cfg,
    const struct cluster_callbacks *cb);

/* Stops the threads, flushes pending publishes (bounded), disconnects, frees. NULL is a no-op. */
void cluster_free(struct cluster *c);

/*
 * Publishes ev reported by probe_id to EVENTS (asynchronously; the ack is
 * awaited by libnats, failures are counted). Returns 0 when handed to
 * libnats, -1 (counted) when it could not be encoded or queued.
 */
int cluster_publish_event(struct cluster *c, const char *probe_id,
    const struct gw_event *ev);

enum cluster_claim {
	CLUSTER_CLAIM_WON = 0,   /* this shard created the key: it runs the hook */
	CLUSTER_CLAIM_EXTENDED,  /* this shard's compare-and-set extended it */
	CLUSTER_CLAIM_HELD,      /* another shard holds it (recently decided) */
	CLUSTER_CLAIM_ERROR      /* NATS unreachable or bad key (logged, counted) */
};

/*
 * Claims the ban decision b (b->shard, decided_ts and revision are filled in
 * here) under key "<prefix>.<src>": kvStore_Create; when the key exists and
 * was decided more than half its timeout ago, kvStore_Update with the
 * revision read (so of several shards extending at once exactly one wins).
 * prefix is "src" for global source bans, "dist" for distributed-attack hook
 * decisions (b->src is then the customer id). On CLUSTER_CLAIM_ERROR (no
 * JetStream leader, e.g. a node just died) the claim is kept and retried by
 * cluster_poll() about every 500 ms until it succeeds or the ban would have
 * expired; a retry that wins calls won(), one that finds the key held drops
 * it. Then the caller should act locally meanwhile (see main.c).
 */
enum cluster_claim cluster_claim(struct cluster *c, const char *prefix,
    struct cluster_ban *b, double now);

/*
 * Customer ownership for the any-shard API (forward.h): records in the
 * OWNERS bucket (R3) that customer reports to this shard, with api_addr.
 * Asynchronous, at most once per customer per CLUSTER_OWN_REFRESH_S (a
 * probe that moved registers again at its new shard). Ingest thread.
 */
#define CLUSTER_OWN_REFRESH_S 30
void cluster_own(struct cluster *c, const char *customer, double now);

/*
 * Looks up customer's owner: 0 with its shard id and API "host:port", or -1
 * (unknown, not advertised, or NATS unreachable). Thread-safe (API threads).
 */
int cluster_owner(struct cluster *c, const char *customer, char *shard,
    size_t shard_len, char *addr, size_t addr_len);

/*
 * The shard directory for cluster-wide list routes: every shard that
 * advertises an API records "shard host:port" under its id in the SHARDS
 * bucket (R3) when it joins; a directory thread watches the bucket into
 * memory. cluster_peers() copies up to max entries of the other shards (not
 * this one), sorted by id, without touching NATS (it never blocks on an
 * unreachable cluster). Returns the count, or -1 before the bucket's
 * initial values arrived. Thread-safe (API threads). A shard that left for
 * good stays listed (answers as missing) until its key is deleted
 * (README "Scaling").
 */
#define CLUSTER_PEERS_MAX       32
struct cluster_peer {
	char shard[GW_ID_MAX];
	char addr[128];
};
int cluster_peers(struct cluster *c, struct cluster_peer *out, size_t max);

/* This shard's id (borrowed from c). */
const char *cluster_shard_id(const struct cluster *c);

/* Delivers what the fetch and watch threads queued to the callbacks. */
void cluster_poll(struct cluster *c);

/* Text form of a BANS value, and its parser (both exposed for the unit test). */
int cluster_ban_format(const struct cluster_ban *b, char *buf, size_t len);
int cluster_ban_parse(const char *buf, size_t len, struct cluster_ban *out);

/*
 * The BANS key for prefix and id: "prefix.id" with every character outside
 * [A-Za-z0-9_-] replaced by '_' (an IPv6 address's ':' and '.'). -1 when it
 * does not fit.
 */
int cluster_key(const char *prefix, const char *id, char *buf, size_t len);

struct cluster_stats {
	uint64_t published;        /* events handed to libnats */
	uint64_t republished;      /* negative/missing acks re-sent (same msg id) */
	uint64_t publish_failed;   /* encode/queue failures, acks missing after every retry */
	uint64_t received;         /* events fetched from EVENTS */
	uint64_t received_bad;     /* undecodable messages (acked, dropped) */
	uint64_t bans_seen;        /* BANS puts received from the watch */
	uint64_t claims_won;
	uint64_t claims_extended;
	uint64_t claims_held;
	uint64_t claims_failed;
	uint64_t reconnects;
	bool     connected;
};
void cluster_stats_get(struct cluster *c, struct cluster_stats *out);

#endif
