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
	int sndhwm;                   /* queued envelopes before drops; 0 = 10000 */
	const char *server_key_path;  /* operator's z85 public key file, or NULL */
	const char *client_key_path;  /* our z85 public + secret key file, or NULL */
	bool patient;                 /* offline replay: wait up to 1 s for room in the
	                                 queue before counting a drop (until the first
	                                 timeout), instead of dropping at once */
};

struct publish;

/*
 * Creates the socket and connects (ZeroMQ connects in the background, so an
 * absent operator is not an error). With both key paths, uses CURVE; key
 * files hold lines "public KEY" / "secret KEY" (or bare 40-char z85 keys:
 * public first); secrets are zeroed after use. NULL on error (logged).
 */
struct publish *publish_new(const struct publish_config *cfg);

/* Closes the socket, waiting at most linger_ms for queued envelopes. NULL is a no-op. */
void publish_free(struct publish *p, int linger_ms);

/*
 * Stamps m (version, probe id, next seq, sent_ts = wall clock), encodes it
 * and queues it without blocking. Returns 0 when queued, -1 when dropped
 * (queue full or encoding failed; counted). The seq is used either way so
 * the operator sees the gap.
 */
int publish_send(struct publish *p, struct gw_msg *m);

/*
 * Receives one waiting envelope without blocking. Returns 1 with *m filled
 * (release with gw_msg_clear), 0 when nothing waits, -1 when a bad message
 * was dropped (counted).
 */
int publish_recv(struct publish *p, struct gw_msg *m);

/*
 * Moves the socket from old_ep (disconnected; NULL = none) to new_ep, for
 * shard failover (shard.h). The sequence numbers continue; envelopes still
 * queued for old_ep are dropped by ZeroMQ. 0, or -1 (logged) when new_ep
 * cannot be connected.
 */
int publish_reconnect(struct publish *p, const char *old_ep, const char *new_ep);

struct publish_stats {
	uint64_t sent;
	uint64_t dropped;          /* queue full */
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
