/* ingest.h: the ZeroMQ ROUTER that receives probe envelopes (CURVE + ZAP), validates and dispatches them. */
#ifndef GW_INGEST_H
#define GW_INGEST_H

#include <stdint.h>

#include "gwmsg.h"
#include "live.h"
#include "store.h"

/*
 * The only libzmq user of the operator. Every message is decoded with
 * envelope_decode(); garbage and refused envelopes are counted and logged
 * (rate-limited) and ingest goes on. Per-probe sequence tracking counts
 * lost (gaps), duplicates and reordered envelopes; a Hello whose seq goes
 * back (or a seq of 1 after a higher one) starts a new run (restart).
 * Shard failover: a probe's seqs are split into runs, one per shard stay
 * (probe/publish.h); the Hello after a move lists the ranges that went to
 * other shards, which are then counted as away (forwarded_elsewhere), not
 * lost, and the seqs before the run that are in no range as lost. So over
 * all shards every seq is accepted once or lost once. A "leaving"
 * heartbeat marks the probe as moved away.
 * Not thread-safe: one thread calls ingest_poll() and ingest_send_command().
 */
struct ingest;

#define INGEST_LISTEN_MAX 8   /* endpoints one ROUTER binds */

struct ingest_config {
	const char *listen;            /* ZeroMQ endpoint, e.g. tcp://127.0.0.1:7700,
	                                * or several separated by commas (all bound
	                                * by the one ROUTER, at most INGEST_LISTEN_MAX),
	                                * e.g. "tcp://127.0.0.1:7700,ipc:///run/gw.sock" */
	const char *curve_secret_file; /* NULL = no CURVE; z85 secret + public */
	const char *probe_keys_file;   /* with CURVE: "probe_id z85_public_key" lines */
	const char *probes_file;       /* without CURVE, optional: allowed probe ids */
	const char *seq_state_file;    /* optional: per-probe sequence state kept
	                                * across operator restarts (loaded at start,
	                                * written about once a second and at exit),
	                                * so envelopes lost while the operator was
	                                * down or in flight are counted as lost;
	                                * also keeps away and the accepted count
	                                * (live_probe_info.accepted) */
};

/* Hooks for later modules (events store, correlation); all optional. */
struct ingest_hooks {
	void *ctx; /* borrowed */
	void (*on_event)(void *ctx, const char *probe_id, const struct gw_event *ev);
	void (*on_result)(void *ctx, const char *probe_id,
	    const struct gw_command_result *res);
	void (*on_flow)(void *ctx, const char *probe_id,
	    const struct gw_flow_record *flow);
	/* A Hello (the probe started or restarted: its nft sets are empty). */
	void (*on_hello)(void *ctx, const char *probe_id,
	    const struct gw_hello *hello);
	/*
	 * Every accepted envelope, after its own hook ran; peer_address is
	 * ZeroMQ's Peer-Address ("" when unknown, e.g. over ipc://).
	 */
	void (*on_seen)(void *ctx, const char *probe_id, const char *peer_address);
	/* One customer's interval from a stats report. */
	void (*on_stats)(void *ctx, const char *probe_id,
	    const struct gw_customer_stats *cs);
};

/*
 * Loads keys/allowlists, binds the ROUTER (and the ZAP handler with CURVE).
 * live and st are borrowed and must outlive the ingest; hooks may be NULL.
 * Returns NULL on error (logged: file:line for bad key files).
 */
struct ingest *ingest_new(const struct ingest_config *cfg, struct live *live,
    struct store *st, const struct ingest_hooks *hooks);

/* Closes the sockets and frees (secret keys are zeroed). NULL is a no-op. */
void ingest_free(struct ingest *in);

/*
 * Waits up to timeout_ms for messages and processes everything available
 * (bounded batch). Returns 0, or -1 when interrupted by a signal (EINTR) or
 * on a socket error (logged).
 */
int ingest_poll(struct ingest *in, int timeout_ms);

/*
 * Publishes the counters to live and, with seq_state_file, writes the
 * sequence state when it changed (call about once a second and at exit).
 * After a crash the file may be up to that second old: envelopes accepted
 * in it are then counted as lost by the next run.
 */
void ingest_publish(struct ingest *in);

/*
 * Sends cmd to the probe whose envelopes carried probe_id (routed by its
 * ZeroMQ routing id). Returns 0 when queued, -1 when the probe is unknown,
 * not connected, or the send would block (counted).
 */
int ingest_send_command(struct ingest *in, const char *probe_id,
    const struct gw_command *cmd);

/*
 * Writes DIR/NAME.key (z85 public and secret key, mode 0600) and
 * DIR/NAME.pub (public key) from a fresh zmq_curve_keypair(). Returns 0 or
 * -1 (logged). Refuses to overwrite existing files.
 */
int ingest_keygen(const char *dir, const char *name);

#endif
