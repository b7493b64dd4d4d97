/* forward.h: the any-shard API: a request for a customer another shard owns is proxied to that shard. */
#ifndef GW_FORWARD_H
#define GW_FORWARD_H

#include <stdbool.h>

#include "api.h"
#include "cluster.h"

/*
 * Sharded operators only. The owner of a customer comes from the cluster's
 * OWNERS bucket (cluster_owner); the request (GET/HEAD on
 * /api/v1/customers/ID[/series|/graph.png], with its known query
 * arguments) is sent to the owner's API over plain HTTP/1.0 with
 * gw_forwarded=1 added, which the owner never forwards again (no loops),
 * and its status, content type and body (at most FORWARD_BODY_MAX bytes)
 * become the answer. Bounded by FORWARD_TIMEOUT_MS per request.
 */
#define FORWARD_BODY_MAX   (8 * 1024 * 1024)
#define FORWARD_TIMEOUT_MS 3000
#define FORWARD_FANOUT_MS  1500
#define FORWARD_LIST_MAX   (64 * 1024 * 1024)  /* a peer's list answer: thousands of
                                                 * customers with ?recent= */

/*
 * api_ctx.forward hook (fctx = the struct cluster, borrowed). Returns true
 * when r was filled from the owner shard (r->body owned by r), false when
 * there is no other owner or it did not answer (r untouched).
 */
bool forward_request(void *fctx, const struct api_request *req,
    struct api_response *r);

/*
 * api_ctx.fanout hook (fctx = the struct cluster, borrowed): sends GET
 * req->path?scope=local (with the list routes' query arguments req
 * carries) to every other shard of the directory (cluster_peers) at once
 * over non-blocking sockets, and waits at most FORWARD_FANOUT_MS for all
 * of them together: a dead or slow shard is reported as not answered, it
 * never holds the request longer. A peer's answer may be FORWARD_LIST_MAX
 * bytes (larger: not answered). See api.h for out/n and the return.
 */
int forward_fanout(void *fctx, const struct api_request *req,
    struct api_peer_answer **out, size_t *n);

/*
 * Parses an HTTP/1.x answer of len bytes (modified in place; the headers
 * must hold no NUL, the body may be binary). Fills r (status, content
 * type, body copied and owned by r). 0, or -1 when malformed or too large.
 */
int forward_parse(char *resp, size_t len, struct api_response *r);

/* Maps a Content-Type value to the static string api_response needs (exposed for tests). */
const char *forward_content_type(const char *value);

#endif
