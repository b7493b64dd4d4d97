/* api_int.h: what api.c, api_report.c and api_merge.c share (not for other modules). */
#ifndef GW_API_INT_H
#define GW_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"

/* Wall clock in seconds. */
double api_now(void);
/* Sets a 200 reply of len bytes at body (ownership moves to r) with content_type (static). */
int api_body(struct api_response *r, char *body, size_t len, const char *content_type);
/* Takes ownership of j (NULL -> 500) and sets it as the body with status. */
int api_json(struct api_response *r, int status, json_t *j);
/* A JSON {"error": message} reply with status. */
int api_error(struct api_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answers 405 with the allowed methods. */
int api_not_allowed(struct api_response *r, const char *method, const char *allow);
/* The query argument key, or dflt when absent. */
const char *api_arg(const struct api_request *q, const char *key, const char *dflt);
/* Parses an unsigned query argument in [min, max]; 0 (with *out = dflt when absent) or -1. */
int api_arg_u64(const struct api_request *req, const char *key, uint64_t dflt,
    uint64_t min, uint64_t max, uint64_t *out);

/* api_report.c: routes under /api/v1/reports/ (GET only); the local top-N page. */
int api_reports(const struct api_ctx *ctx, const struct api_request *req, bool get,
    struct api_response *r);
int api_report_top(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r);

/* api_merge.c: true when the request must be answered from this shard only. */
bool api_scope_local(const struct api_request *req);
/* r holds this shard's 200 JSON top-N page: merged with the peers' (sorted, paged after). */
int api_merge_top(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r);
/* A list route's local answer (rc, r), made cluster-wide when sharded and asked for. */
int api_list(const struct api_ctx *ctx, const struct api_request *req, int rc,
    struct api_response *r);

#endif
