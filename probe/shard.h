/* shard.h: which operator shard a probe reports to: rendezvous (HRW) hash over the --operator list, ordered fallback, move back. */
#ifndef GW_SHARD_H
#define GW_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#define SHARD_MAX     16     /* endpoints in one --operator list */
#define SHARD_EP_MAX  256    /* one endpoint, incl. NUL */

/*
 * Rendezvous hashing: every endpoint gets the score hash(probe_id, endpoint)
 * and the probe's order is the endpoints by descending score. The owner is
 * the first; when it is down the probe uses the next one that is up, and it
 * moves back to a better-ranked endpoint once that has been reachable for
 * SHARD_BACK_S. Adding or removing one shard only moves the probes whose
 * owner it is (or becomes), and the order does not depend on how the list
 * is written (only on its set of endpoints).
 *
 * Reachability is checked with a plain connect() to the endpoint (tcp://
 * host:port or ipc://path) that must be greeted with the ZMTP signature
 * (so a stopped operator whose kernel still accepts counts as down), closed
 * at once: no ZeroMQ here, so publish.c stays the probe's only libzmq user.
 * The checks run on a small thread of their own (shard_watch_*), never on
 * the capture loop; ZeroMQ sockets stay on the loop thread.
 */
#define SHARD_BACK_S  2.0

struct shard {
	size_t n;
	char   ep[SHARD_MAX][SHARD_EP_MAX];   /* in rank order: ep[0] = owner */
	size_t cur;                           /* rank in use */
	double up_since[SHARD_MAX];           /* monotonic s; 0 = not seen up */
	unsigned long switches;
};

/*
 * Parses a comma-separated endpoint list and orders it for probe_id.
 * Returns 0, or -1 with a reason in err (empty item, too many or too long
 * endpoints, duplicates). One endpoint is a list of one.
 */
int shard_init(struct shard *s, const char *list, const char *probe_id,
    char *err, size_t errlen);

/* The endpoint in use (rank s->cur). */
const char *shard_current(const struct shard *s);

/* The HRW score of endpoint for probe_id (exposed for the unit test). */
unsigned long long shard_score(const char *probe_id, const char *endpoint);

/*
 * Failover decision from reachability: up[i] tells whether rank i answers
 * now (entries the caller did not check must be false, except that the
 * current one must be checked). Returns the rank to use: the current one
 * while it is up and no better-ranked one has been up for SHARD_BACK_S;
 * else the best-ranked one that is up (at once when the current is down).
 * Updates s->cur, s->up_since and s->switches.
 */
size_t shard_decide(struct shard *s, const bool up[SHARD_MAX], double now_s);

/*
 * Checks reachability of rank i's endpoint with a connect() and the wait
 * for the peer's greeting, each bounded by timeout_ms (blocks: call it from
 * the watcher thread or a test). True when it accepted and greeted.
 * Unknown schemes count as up (ZeroMQ handles them; we cannot check).
 */
bool shard_reachable(const struct shard *s, size_t i, int timeout_ms);

/*
 * The watcher thread: checks every endpoint of s (copied; s is not used
 * afterwards) about every period_s, timeout_ms per check. NULL when the
 * thread cannot start.
 */
struct shard_watch;
struct shard_watch *shard_watch_start(const struct shard *s, int timeout_ms,
    double period_s);

/*
 * Never blocks: when a round finished since *seen_rounds, copies its
 * results to up (rank order of s), updates *seen_rounds and returns true;
 * else (or while the thread stores a round) false and up is untouched.
 */
bool shard_watch_read(struct shard_watch *w, unsigned long *seen_rounds,
    bool up[SHARD_MAX]);

/* Stops and joins the thread (at most one check's time), frees. NULL is a no-op. */
void shard_watch_stop(struct shard_watch *w);

#endif
