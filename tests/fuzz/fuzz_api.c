/* fuzz-sources: operator/api.c operator/api_report.c operator/api_merge.c operator/metrics.c operator/live.c operator/store.c operator/store_queue.c operator/events.c operator/respond.c operator/policy.c operator/bantable.c operator/hook.c operator/respond_queue.c operator/idmap.c operator/report.c */
/* fuzz-libs: librrd jansson sqlite3 */
/* fuzz_api.c: libFuzzer target for the operator's HTTP API routing, query and body parsing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_ctx fz_ctx;

/* Query arguments: "k=v" lines of the input's third part. */
struct fz_query {
	char *text;
};

static const char *
fz_query(void *qctx, const char *key)
{
	struct fz_query *q = qctx;
	size_t klen = strlen(key);

	for (char *l = q->text; l != NULL && *l; ) {
		char *nl = strchr(l, '\n');
		if (strncmp(l, key, klen) == 0 && l[klen] == '=')
			return l + klen + 1;
		if (nl == NULL)
			break;
		l = nl + 1;
	}
	return NULL;
}

/* One live customer with a stored step, an events database: real state to route into. */
static void
fz_init(void)
{
	static char dir[] = "/tmp/gw-fuzz-api.XXXXXX";
	char db[sizeof(dir) + 16];
	struct gw_customer_stats cs;

	log_init("fuzz_api", LOG_LVL_ERR, false);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof(db), "%s/gw.db", dir);
	fz_ctx.live = live_new(8, 16);
	fz_ctx.store = store_new(&(struct store_config){ .dir = dir });
	fz_ctx.events = events_open(&(struct events_config){ .path = db });
	fz_ctx.report = report_new(&(struct report_config){ .store = fz_ctx.store,
	    .events = fz_ctx.events });
	if (fz_ctx.live == NULL || fz_ctx.store == NULL || fz_ctx.events == NULL ||
	    fz_ctx.report == NULL)
		abort();
	memset(&cs, 0, sizeof(cs));
	snprintf(cs.customer, sizeof(cs.customer), "c101");
	cs.rx_bytes = 1000;
	cs.n_apps = 1;
	snprintf(cs.apps[0].app, sizeof(cs.apps[0].app), "HTTP");
	live_customer_update(fz_ctx.live, "p1", 1700000010.0, 1.0, &cs);
	store_submit(fz_ctx.store, 1700000010.0, 1.0, &cs);
	fz_ctx.start_wall = 1700000000.0;
}

/*
 * Input: first byte picks the method; then NUL-separated path, query lines and body.
 * Each part is copied into its own exact-size heap buffer.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = { "GET", "POST", "DELETE", "PUT", "HEAD" };
	struct api_response resp;
	struct api_request req;
	struct fz_query q;
	char *part[3] = { NULL, NULL, NULL };
	size_t off = 1;

	if (fz_ctx.live == NULL)
		fz_init();
	if (size < 1)
		return 0;
	for (int i = 0; i < 3; i++) {
		const uint8_t *end = off < size ? memchr(data + off, 0, size - off) : NULL;
		size_t n = off >= size ? 0 : (end ? (size_t)(end - (data + off)) : size - off);

		part[i] = malloc(n + 1);
		memcpy(part[i], data + (off < size ? off : 0), n);
		part[i][n] = '\0';
		off += n + 1;
	}
	q.text = part[1];
	memset(&resp, 0, sizeof(resp));
	req = (struct api_request){ .method = methods[data[0] % 5], .path = part[0],
	    .query = fz_query, .qctx = &q, .body = part[2], .body_len = strlen(part[2]) };
	api_handle(&fz_ctx, &req, &resp);
	if (resp.status < 100 || resp.status > 599)
		abort();
	api_response_clear(&resp);
	for (int i = 0; i < 3; i++)
		free(part[i]);
	return 0;
}
