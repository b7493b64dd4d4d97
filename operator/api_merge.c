/* api_merge.c: cluster-wide list and top-N routes (sharded operators): the peers' answers merged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "api_int.h"

static const char *
api_str(json_t *e, const char *k)
{
	const char *v = json_string_value(json_object_get(e, k));

	return v != NULL ? v : "";
}

static double
api_numv(json_t *e, const char *k)
{
	json_t *v = json_object_get(e, k);

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* True when the request must be answered from this shard only. */
bool
api_scope_local(const struct api_request *req)
{
	const char *v = api_arg(req, "scope", NULL);

	return (v != NULL && strcmp(v, "local") == 0) ||
	    api_arg(req, "gw_forwarded", NULL) != NULL;
}

/* ---- cluster-wide capacity top-N ---- */

/* A request as the peers see it for top-N: offset 0, limit = offset + limit. */
struct api_qover {
	const struct api_request *req;
	char limit[24];
};

static const char *
api_qover_get(void *qctx, const char *key)
{
	struct api_qover *o = qctx;

	if (strcmp(key, "limit") == 0)
		return o->limit;
	if (strcmp(key, "offset") == 0)
		return NULL;
	return api_arg(o->req, key, NULL);
}

struct api_top_sort {
	const char *field;
	bool        asc;
};

/* By the report key; rows without a value (null) last either way; then by customer. */
static int
api_top_cmp(const void *a, const void *b, void *arg)
{
	const struct api_top_sort *k = arg;
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_t *u = json_object_get(x, k->field), *v = json_object_get(y, k->field);
	bool un = json_is_number(u), vn = json_is_number(v);
	int c;

	if (un != vn)
		return un ? -1 : 1;
	c = 0;
	if (un) {
		double p = json_number_value(u), q = json_number_value(v);
		c = p < q ? -1 : p > q;
		if (!k->asc)
			c = -c;
	}
	return c != 0 ? c : strcmp(api_str(x, "customer"), api_str(y, "customer"));
}

/*
 * r holds this shard's 200 JSON top-N page: asks the peers for their first
 * offset + limit rows, sorts all rows again and cuts the page after the
 * merge; "total" is the sum of the totals that answered.
 */
int
api_merge_top(const struct api_ctx *ctx, const struct api_request *req,
    struct api_response *r)
{
	static const char *const fields[][2] = {
		{ "p95", "p95_bps" }, { "total", "total_bytes" },
		{ "growth", "growth_pct_month" }, { "saturation", "saturation_ts" },
		{ "sla", "sla_breach_minutes" },
	};
	struct api_qover qo = { .req = req };
	struct api_request preq = *req;
	struct api_peer_answer *pa = NULL;
	struct api_top_sort k = { NULL, false };
	size_t np = 0, answered = 1, n;
	json_int_t total, off, lim;
	json_t *local, *rows, *page, *missing, **v;
	const char *by;
	int frc;

	if ((local = json_loadb(r->body, r->body_len, 0, NULL)) == NULL ||
	    !json_is_array(rows = json_object_get(local, "rows"))) {
		json_decref(local);
		return 0;
	}
	by = api_str(local, "by");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(by, fields[i][0]) == 0)
			k.field = fields[i][1];
	k.asc = strcmp(api_str(local, "order"), "asc") == 0;
	off = json_integer_value(json_object_get(local, "offset"));
	lim = json_integer_value(json_object_get(local, "limit"));
	total = json_integer_value(json_object_get(local, "total"));
	if (k.field == NULL) {
		json_decref(local);
		return 0;
	}
	/* This shard's own rows from 0 too: ask it again without the offset. */
	snprintf(qo.limit, sizeof(qo.limit), "%lld", (long long)(off + lim >
	    REPORT_TOP_MAX ? REPORT_TOP_MAX : off + lim));
	preq.query = api_qover_get;
	preq.qctx = &qo;
	if (off > 0) {
		struct api_response lr;

		memset(&lr, 0, sizeof(lr));
		json_t *l2 = NULL;
		if (api_report_top(ctx, &preq, &lr) == 0 && lr.status == 200 &&
		    (l2 = json_loadb(lr.body, lr.body_len, 0, NULL)) != NULL &&
		    json_is_array(json_object_get(l2, "rows"))) {
			json_object_set(local, "rows", json_object_get(l2, "rows"));
			rows = json_object_get(local, "rows");
		}
		json_decref(l2);
		api_response_clear(&lr);
	}
	frc = ctx->fanout(ctx->fctx, &preq, &pa, &np);
	rows = json_copy(rows);
	missing = json_array();
	for (size_t i = 0; i < np; i++) {
		json_t *pj = NULL, *arr;

		if (pa[i].answered && pa[i].r.status == 200 &&
		    (pj = json_loadb(pa[i].r.body, pa[i].r.body_len, 0, NULL)) != NULL &&
		    json_is_array(arr = json_object_get(pj, "rows"))) {
			json_array_extend(rows, arr);
			total += json_integer_value(json_object_get(pj, "total"));
			answered++;
		} else {
			json_array_append_new(missing, json_string(pa[i].shard));
		}
		json_decref(pj);
	}
	api_peer_answers_free(pa, np);
	n = json_array_size(rows);
	page = json_array();
	if ((v = malloc((n > 0 ? n : 1) * sizeof(*v))) != NULL) {
		for (size_t i = 0; i < n; i++)
			v[i] = json_array_get(rows, i);
		qsort_r(v, n, sizeof(*v), api_top_cmp, &k);
		for (size_t i = (size_t)off; i < n && i < (size_t)(off + lim); i++)
			json_array_append(page, v[i]);
		free(v);
	}
	json_decref(rows);
	json_object_set_new(local, "rows", page);
	json_object_set_new(local, "total", json_integer(total));
	json_object_set_new(local, "shards", json_pack("{s:I,s:I,s:o,s:b}",
	    "answered", (json_int_t)answered, "total", (json_int_t)(np + 1),
	    "missing", missing, "directory", frc == 0));
	api_response_clear(r);
	memset(r, 0, sizeof(*r));
	return api_json(r, 200, local);
}

/* ---- cluster-wide list routes (sharded operators) ---- */

/*
 * How one list route's arrays from several shards become one: every
 * element gets "shard"; duplicates (same dedupe key) keep the element whose
 * number member `newest` is the largest (the first when NULL: this shard's
 * first, then the peers in id order); the result is sorted by `sort`.
 */
struct api_merge {
	const char *path;
	const char *key;                  /* the array member of the answer */
	void (*dedupe)(json_t *e, char *buf, size_t len);   /* NULL = keep all */
	const char *newest;
	const char *sort;                 /* member to sort by */
	bool        sort_num;             /* number (else string) */
	bool        desc;
	bool        paged;                /* ?limit= (default 100) applies after the merge;
	                                   * with ?after= (a per-shard id) it stays local */
};

static void
api_dedupe_id(json_t *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", api_str(e, "id"));
}

/* A ban: the same scope, address and prefix (a global ban is held by every shard). */
static void
api_dedupe_ban(json_t *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s|%s|%g", api_str(e, "scope"), api_str(e, "address"),
	    api_numv(e, "prefix_len"));
}

static const struct api_merge api_merges[] = {
	{ "/api/v1/customers", "customers", api_dedupe_id, "ts", "id", false,
	    false, false },
	{ "/api/v1/probes", "probes", api_dedupe_id, "last_seen", "id", false, false,
	    false },
	{ "/api/v1/bans", "bans", api_dedupe_ban, NULL, "decided_ts", true, false,
	    false },
	{ "/api/v1/events", "events", NULL, NULL, "received", true, true, true },
};

static const struct api_merge *
api_merge_of(const char *path)
{
	for (size_t i = 0; i < sizeof(api_merges) / sizeof(api_merges[0]); i++)
		if (strcmp(path, api_merges[i].path) == 0)
			return &api_merges[i];
	return NULL;
}

static int
api_merge_cmp(const void *a, const void *b, void *arg)
{
	const struct api_merge *m = arg;
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c;

	if (m->sort_num) {
		double u = api_numv(x, m->sort), v = api_numv(y, m->sort);
		c = u < v ? -1 : u > v;
	} else {
		c = strcmp(api_str(x, m->sort), api_str(y, m->sort));
	}
	if (c == 0)
		c = strcmp(api_str(x, "shard"), api_str(y, "shard"));
	return m->desc ? -c : c;
}

/* Adds arr's elements (tagged with shard) to all, deduplicating through seen. */
static void
api_merge_add(const struct api_merge *m, json_t *all, json_t *seen, json_t *arr,
    const char *shard)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		char key[512];
		json_t *prev;

		if (!json_is_object(e))
			continue;
		json_object_set_new(e, "shard", json_string(shard));
		if (m->dedupe == NULL) {
			json_array_append(all, e);
			continue;
		}
		m->dedupe(e, key, sizeof(key));
		prev = json_object_get(seen, key);
		if (prev == NULL) {
			json_object_set(seen, key, e);
			json_array_append(all, e);
		} else if (m->newest != NULL &&
		    api_numv(e, m->newest) > api_numv(prev, m->newest)) {
			/* Replace the older duplicate in place. */
			size_t j;
			json_t *x;

			json_array_foreach(all, j, x)
				if (x == prev) {
					json_array_set(all, j, e);
					break;
				}
			json_object_set(seen, key, e);
		}
	}
}

/*
 * r holds this shard's 200 answer of a list route: asks the other shards
 * (ctx->fanout) and replaces r by the merged answer with
 * "shards": {"answered": N, "total": M, "missing": [ids]}. A shard that does
 * not answer in time (or with an error) is listed as missing: the answer is
 * partial, never an error of its own.
 */
static int
api_merge_list(const struct api_ctx *ctx, const struct api_request *req,
    const struct api_merge *m, struct api_response *r)
{
	struct api_peer_answer *pa = NULL;
	size_t np = 0, answered = 1, n;
	json_t *local, *all, *seen, *missing, *out, **v;
	int frc;

	if ((local = json_loadb(r->body, r->body_len, 0, NULL)) == NULL ||
	    !json_is_array(json_object_get(local, m->key))) {
		json_decref(local);
		return 0;   /* keep the local answer as it is */
	}
	frc = ctx->fanout(ctx->fctx, req, &pa, &np);
	all = json_array();
	seen = json_object();
	missing = json_array();
	api_merge_add(m, all, seen, json_object_get(local, m->key),
	    ctx->shard_id != NULL ? ctx->shard_id : "");
	for (size_t i = 0; i < np; i++) {
		json_t *pj = NULL, *arr;

		if (pa[i].answered && pa[i].r.status == 200 &&
		    (pj = json_loadb(pa[i].r.body, pa[i].r.body_len, 0, NULL)) != NULL &&
		    json_is_array(arr = json_object_get(pj, m->key))) {
			api_merge_add(m, all, seen, arr, pa[i].shard);
			answered++;
		} else {
			json_array_append_new(missing, json_string(pa[i].shard));
		}
		json_decref(pj);
	}
	api_peer_answers_free(pa, np);
	n = json_array_size(all);
	if (n > 1 && (v = malloc(n * sizeof(*v))) != NULL) {
		uint64_t lim = n;

		if (m->paged)
			api_arg_u64(req, "limit", 100, 1, EVENTS_LIST_MAX, &lim);
		for (size_t i = 0; i < n; i++)
			v[i] = json_incref(json_array_get(all, i));
		qsort_r(v, n, sizeof(*v), api_merge_cmp, (void *)m);
		json_array_clear(all);
		for (size_t i = 0; i < n; i++)
			if (i < lim)
				json_array_append_new(all, v[i]);
			else
				json_decref(v[i]);
		free(v);
	}
	json_decref(seen);
	out = local;   /* its array's elements live on in all */
	json_object_set_new(out, m->key, all);
	json_object_set_new(out, "shards", json_pack("{s:I,s:I,s:o,s:b}",
	    "answered", (json_int_t)answered, "total", (json_int_t)(np + 1),
	    "missing", missing, "directory", frc == 0));
	api_response_clear(r);
	memset(r, 0, sizeof(*r));
	return api_json(r, 200, out);
}

/* A list route's local answer, made cluster-wide when sharded and asked for. */
int
api_list(const struct api_ctx *ctx, const struct api_request *req, int rc,
    struct api_response *r)
{
	const struct api_merge *m = api_merge_of(req->path);

	/*
	 * ?after= is a cursor over this shard's ids (the dashboard's feed polls
	 * with it, keyed by id): any value keeps the answer per shard, so ids
	 * of different shards never mix in one feed.
	 */
	if (rc != 0 || r->status != 200 || ctx->fanout == NULL || m == NULL ||
	    api_scope_local(req) || (m->paged && api_arg(req, "after", NULL) != NULL))
		return rc;
	return api_merge_list(ctx, req, m, r);
}
