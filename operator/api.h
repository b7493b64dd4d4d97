/* api.h: the HTTP API routes (JSON via jansson, Prometheus text); independent of the HTTP library. */
#ifndef GW_API_H
#define GW_API_H

#include <stdbool.h>
#include <stddef.h>

#include "events.h"
#include "live.h"
#include "report.h"
#include "respond.h"
#include "store.h"

#define GW_VERSION "0.1.0"

/*
 * What the routes read; all borrowed. live, store and events are safe for
 * any thread; respond is only reached through respond_submit(), which hands
 * the request to the ingest thread. events/respond may be NULL (then the
 * event list comes from live and the ban routes answer 503).
 */
struct api_request;
struct api_response;
struct api_peer_answer;

struct api_ctx {
	struct live  *live;
	struct store *store;
	struct events *events;
	struct respond *respond;
	struct report *report;      /* NULL: /api/v1/reports answers 503 */
	double        start_wall;   /* operator start, s since the epoch */
	size_t        metrics_max_customers; /* /metrics cap, 0 = default (metrics.h) */
	/*
	 * Sharded operators (forward.h): asked when a customer route finds no
	 * such customer here; true when it answered r from the owner shard.
	 * NULL = standalone.
	 */
	bool (*forward)(void *fctx, const struct api_request *req,
	    struct api_response *r);
	/*
	 * Sharded operators (forward.h): the list routes (/api/v1/customers,
	 * /probes, /bans, /events, /reports/top) ask every
	 * other shard the same request with scope=local, in parallel and
	 * bounded; fills *out (malloc'd, *n entries, each answered or not, free
	 * with api_peer_answers_free) and returns 0, or -1 when the shard
	 * directory cannot be read. NULL = standalone (lists are this shard's).
	 * Requests carrying scope=local (or gw_forwarded) never fan out.
	 */
	int (*fanout)(void *fctx, const struct api_request *req,
	    struct api_peer_answer **out, size_t *n);
	const char   *shard_id;     /* this shard's id when sharded (borrowed) */
	void         *fctx;         /* borrowed */
};

struct api_request {
	const char *method;         /* "GET", ... */
	const char *path;           /* decoded path without the query string */
	/* Returns the value of query argument key, or NULL (borrowed). */
	const char *(*query)(void *qctx, const char *key);
	void       *qctx;
	const char *body;           /* may be NULL */
	size_t      body_len;
	const char *user;           /* who asks (recorded in countermeasures);
	                             * NULL = "http" */
};

struct api_response {
	int         status;         /* HTTP status */
	char       *body;           /* owned by the response: free with api_response_clear */
	size_t      body_len;
	const char *content_type;   /* static string */
	const char *allow;          /* for 405: the allowed methods (static), else NULL */
};

/* One other shard's answer to a fanned-out list request. */
struct api_peer_answer {
	char                shard[64];      /* GW_ID_MAX */
	char                addr[128];
	bool                answered;       /* r holds its HTTP answer */
	struct api_response r;
};

/* Frees n answers and their bodies. NULL is a no-op. */
void api_peer_answers_free(struct api_peer_answer *a, size_t n);

/*
 * Serves one request (any thread). Always fills *resp (errors are JSON
 * bodies {"error":"..."} with 400/404/405/413/500/503). Returns 0, or -1
 * when even the error body could not be built (resp->body NULL, status 500).
 */
int api_handle(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *resp);

/* Frees the body. NULL is a no-op. */
void api_response_clear(struct api_response *resp);

/*
 * Parses a time argument: epoch seconds ("1700000000", "1700000000.5"),
 * "now", or relative to now "-90", "-30s", "-30m", "-1h", "-7d", "-2w".
 * Returns 0 and *out, or -1.
 */
int api_parse_time(const char *s, double now, double *out);

#endif
