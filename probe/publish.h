/* publish.h: envelopes to the operator over a ZeroMQ DEALER socket; the probe's only libzmq user. */
#ifndef GW_PUBLISH_H
#define GW_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"

struct publish_config {
	const char *endpoint;         /* "tcp://host:port"; borrowed */
	const char *probe_id;         /* also the ZeroMQ routing id; borrowed */
	int sndhwm;                   /* envelopes waiting for the operator (ZeroMQ's
	                                 queue + the backlog) before drops; 0 = 10000 */
	size_t backlog_bytes;         /* memory budget of the backlog (encoded bytes
	                                 plus a small header each); 0 = 16 MiB */
	const char *server_key_path;  /* operator's z85 public key file, or NULL */
	const char *client_key_path;  /* our z85 public + secret key file, or NULL */
	bool patient;                 /* offline replay: wait up to 1 s for room in the
	                                 queue before counting a drop (until the first
	                                 timeout), instead of dropping at once */
};

/*
 * Queueing: ZeroMQ's own queue holds at most PUBLISH_PIPE_HWM envelopes, and
 * only while connected (ZMQ_IMMEDIATE; what it holds when the connection
 * breaks is lost in flight). Beyond that, and while the operator is away or
 * slow, encoded envelopes wait in the backlog, in order, bounded by
 * backlog_bytes and sndhwm; every call of publish_send(), publish_recv() or
 * publish_flush() moves what ZeroMQ takes. When the budget is full, new
 * envelopes are dropped (tail drop), so the oldest waiting intervals arrive
 * and the operator sees the drops as one sequence gap after them.
 */
#define PUBLISH_PIPE_HWM 32   /* or the sndhwm when that is smaller */

/*
 * Shard runs, for exact sequence accounting across failover (shard.h):
 * the seqs form consecutive runs, one per stay at an endpoint. A run starts
 * right after the last seq handed to ZeroMQ for the previous endpoint (so
 * envelopes backlogged or dropped around a move belong to the next run) and
 * ends at the last seq handed to ZeroMQ for its endpoint. Every seq is in
 * exactly one run, so each shard can count as lost only the gaps of its own
 * runs, once the Hello after a move tells it which seqs went elsewhere.
 */
#define PUBLISH_RUNS_MAX GW_AWAY_MAX
#define PUBLISH_EP_MAX   256

struct publish_run {
	char ep[PUBLISH_EP_MAX];
	uint64_t first, last;     /* inclusive */
};

struct publish;

/*
 * Creates the socket and connects (ZeroMQ connects in the background, so an
 * absent operator is not an error). With both key paths, uses CURVE; key
 * files hold lines "public KEY" / "secret KEY" (or bare 40-char z85 keys:
 * public first); secrets are zeroed after use. NULL on error (logged).
 */
struct publish *publish_new(const struct publish_config *cfg);

/*
 * Hands the backlog to ZeroMQ, waiting at most linger_ms, then closes the
 * socket (ZeroMQ's queue gets the rest of linger_ms). What is still in the
 * backlog is counted as dropped. NULL is a no-op.
 */
void publish_free(struct publish *p, int linger_ms);

/*
 * Stamps m (version, probe id, next seq, sent_ts = wall clock), encodes it
 * and queues it without blocking (in patient mode: waits up to 1 s for
 * ZeroMQ once). Returns 0 when queued (to ZeroMQ or the backlog), -1 when
 * dropped (budget or count full, or encoding failed; counted). The seq is
 * used either way so the operator sees the gap.
 */
int publish_send(struct publish *p, struct gw_msg *m);

/* Moves backlogged envelopes to ZeroMQ while it takes them, without blocking. Returns how many. */
size_t publish_flush(struct publish *p);

/*
 * Receives one waiting envelope without blocking. Returns 1 with *m filled
 * (release with gw_msg_clear), 0 when nothing waits, -1 when a bad message
 * was dropped (counted).
 */
int publish_recv(struct publish *p, struct gw_msg *m);

/*
 * Moves from old_ep (for the log; NULL = none) to new_ep, for shard
 * failover (shard.h): a new socket connected to new_ep replaces the old one,
 * and the current run is closed. The sequence numbers and the backlog
 * continue. Envelopes still in ZeroMQ's queue for old_ep get up to linger_ms
 * to reach it, in the background (use it when old_ep is up: a move back to
 * a better shard); else they are dropped: in flight to a shard that is
 * down, lost at that shard (it counts them once). 0, or -1 (logged; the
 * old socket stays) when new_ep cannot be connected.
 */
int publish_reconnect(struct publish *p, const char *old_ep, const char *new_ep,
    int linger_ms);

/*
 * The runs that went to endpoints other than ep since ep's last run (all
 * closed runs when ep had none), oldest first, adjacent ones merged, at
 * most max: the Hello's away ranges after a move to ep. Returns how many.
 */
size_t publish_away(const struct publish *p, const char *ep,
    struct gw_seq_range *out, size_t max);

/*
 * Sends m (stamped like publish_send) only when it goes to ZeroMQ at once
 * behind an empty backlog, e.g. the "leaving" heartbeat before a move:
 * queued later it would reach the next shard. 0 when sent; -1 when not
 * (nothing stamped, no seq used, not counted as a drop).
 */
int publish_leave(struct publish *p, struct gw_msg *m);

/*
 * A descriptor to poll for POLLIN (ZeroMQ's ZMQ_FD): it becomes readable
 * when something changed on the socket, edge-style, so call publish_recv()
 * until it returns 0 after every wakeup and after any other call on the
 * socket (publish_send() may consume the wakeup of an arrived command).
 * -1 when there is none. The descriptor stays ZeroMQ's: never read or close it.
 */
int publish_fd(const struct publish *p);

struct publish_stats {
	uint64_t sent;             /* handed to ZeroMQ (directly or late) */
	uint64_t dropped;          /* queue full: budget, count, or left at exit */
	uint64_t late;             /* of sent: went through the backlog */
	uint64_t backlog;          /* envelopes waiting in the backlog now */
	uint64_t backlog_bytes;    /* their memory now (budgeted bytes) */
	uint64_t backlog_peak_bytes;
	uint64_t encode_failed;
	uint64_t received;
	uint64_t bad_received;
	uint64_t next_seq;
};

void publish_get_stats(const struct publish *p, struct publish_stats *out);

/*
 * Reads a key file into public_z85/secret_z85 (41 bytes each, "" when not
 * present). 0 on success, -1 (logged) when unreadable or malformed. Exposed
 * for tests.
 */
int publish_read_keys(const char *path, char *public_z85, char *secret_z85);

#endif
