/* cluster.c: sharded operators over NATS JetStream (the only libnats user): EVENTS publish/fetch, BANS claim/watch. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "cluster.h"
#include "envelope.h"
#include "idmap.h"
#include "log.h"

#define CL_STREAM        "EVENTS"
#define CL_SUBJECTS      "gw.events.>"
#define CL_BUCKET        "BANS"
#define CL_OWNERS        "OWNERS"
#define CL_SHARDS        "SHARDS"
#define CL_FETCH_BATCH   64
#define CL_WAIT_MS       500      /* fetch / watch wait; bounds shutdown time */
#define CL_PUB_TRIES     40       /* re-publishes of a failed event, CL_PUB_RETRY_S apart */
#define CL_PUB_RETRY_S   0.5
#define CL_PUB_RETRY_MAX 1024     /* failed publishes waiting to be re-sent */
#define CL_DUP_WINDOW_NS (120LL * 1000000000LL)
#define CL_MAX_AGE_NS    (3600LL * 1000000000LL)
#define CL_VALUE_MAX     512

enum cl_item_type { CL_ITEM_EVENT = 1, CL_ITEM_BAN };

/* One received item waiting for cluster_poll. */
struct cl_item {
	enum cl_item_type type;
	char              probe[GW_ID_MAX];
	struct gw_event   ev;
	struct cluster_ban ban;
};

/* A claim waiting for JetStream to answer again. */
struct cl_retry {
	bool               used;
	char               prefix[CLUSTER_PREFIX_MAX];
	struct cluster_ban ban;
	double             next_ts;      /* wall clock s */
};

/* A publish that failed (no stream leader, timeout), waiting to be re-sent. */
struct cl_repub {
	char     id[GW_ID_MAX + 24];
	char     subj[GW_ID_MAX + 16];
	uint8_t *data;            /* owned */
	int      len;
	int      tries;
	double   next_ts;
};

struct cluster {
	struct cluster_config  cfg;
	char                   shard[GW_ID_MAX];
	struct cluster_callbacks cb;
	natsOptions           *opts;
	natsConnection        *nc;
	jsCtx                 *js;
	natsSubscription      *sub;        /* durable pull consumer corr-<shard> */
	kvStore               *kv;
	kvStore               *owners;     /* customer -> "shard host:port" */
	kvStore               *shards;     /* shard id -> "shard host:port" */
	kvWatcher             *dir_watch;  /* SHARDS, kept in peers by the dir thread */
	pthread_t              dir_thr;
	bool                   dir_started;
	pthread_mutex_t        peer_lock;  /* guards peers, n_peers */
	struct cluster_peer    peers[CLUSTER_PEERS_MAX];
	int                    n_peers;    /* -1: initial values not read yet */
	struct idmap          *owned;      /* customer -> last registration (s, as uintptr_t) */
	char                   api_addr[128];
	kvWatcher             *watch;
	pthread_t              fetch_thr, watch_thr;
	bool                   fetch_started, watch_started;
	volatile bool          stop;

	pthread_mutex_t        lock;       /* guards the ring and st */
	pthread_cond_t         space;
	struct cl_item        *ring;       /* CLUSTER_QUEUE_MAX slots */
	size_t                 head, count;
	struct cluster_stats   st;
	struct cl_retry        retry[CLUSTER_RETRY_MAX];   /* poll thread only */
	struct cl_repub        repub[CL_PUB_RETRY_MAX];    /* guarded by lock */
	size_t                 n_repub;
};

/* ---- values and keys ---- */

int
cluster_key(const char *prefix, const char *id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.%s", prefix, id);

	if (n < 0 || (size_t)n >= len || id[0] == '\0')
		return -1;
	for (char *p = buf + strlen(prefix) + 1; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			*p = '_';
	return 0;
}

int
cluster_ban_format(const struct cluster_ban *b, char *buf, size_t len)
{
	int n = snprintf(buf, len, "v1 %s %" PRIu32 " %.3f %s %s %s", b->shard,
	    b->timeout_s, b->decided_ts, b->kind[0] ? b->kind : "-",
	    b->customer[0] ? b->customer : "-", b->src);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Copies word w (NUL-terminated) into dst of size n; "-" means empty. */
static int
cl_word(const char *w, char *dst, size_t n)
{
	if (strlen(w) >= n)
		return -1;
	snprintf(dst, n, "%s", strcmp(w, "-") == 0 ? "" : w);
	return 0;
}

int
cluster_ban_parse(const char *buf, size_t len, struct cluster_ban *out)
{
	char tmp[CL_VALUE_MAX], *w[8], *save = NULL, *end;
	size_t n = 0;
	unsigned long t;
	double ts;

	memset(out, 0, sizeof(*out));
	if (buf == NULL || len == 0 || len >= sizeof(tmp) ||
	    memchr(buf, '\0', len) != NULL)
		return -1;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	for (char *p = strtok_r(tmp, " ", &save); p != NULL && n < 8;
	    p = strtok_r(NULL, " ", &save))
		w[n++] = p;
	if (n != 7 || strcmp(w[0], "v1") != 0 || !gw_id_valid(w[1]))
		return -1;
	errno = 0;
	t = strtoul(w[2], &end, 10);
	if (errno != 0 || *end != '\0' || t == 0 || t > 30UL * 86400)
		return -1;
	ts = strtod(w[3], &end);
	if (*end != '\0' || !(ts >= 1e9 && ts < 1e11))	/* 2001..5138 */
		return -1;
	if (cl_word(w[1], out->shard, sizeof(out->shard)) == -1 ||
	    cl_word(w[4], out->kind, sizeof(out->kind)) == -1 ||
	    cl_word(w[5], out->customer, sizeof(out->customer)) == -1 ||
	    cl_word(w[6], out->src, sizeof(out->src)) == -1 || out->src[0] == '\0' ||
	    out->shard[0] == '\0' ||
	    (out->customer[0] != '\0' && !gw_id_valid(out->customer)) ||
	    !gw_text_valid(out->kind, false) || !gw_text_valid(out->src, false))
		return -1;
	out->timeout_s = (uint32_t)t;
	out->decided_ts = ts;
	return 0;
}

static void cl_retry_claims(struct cluster *c);
static void cl_repub_due(struct cluster *c);

/* ---- the queue between the NATS threads and cluster_poll ---- */

/* Queues it (copied); waits for space unless stopping. false when stopping. */
static bool
cl_enqueue(struct cluster *c, const struct cl_item *it)
{
	struct timespec dl;

	pthread_mutex_lock(&c->lock);
	while (c->count == CLUSTER_QUEUE_MAX && !c->stop) {
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += 100 * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->space, &c->lock, &dl);
	}
	if (c->stop) {
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	c->ring[(c->head + c->count) % CLUSTER_QUEUE_MAX] = *it;
	c->count++;
	if (it->type == CL_ITEM_EVENT)
		c->st.received++;
	else
		c->st.bans_seen++;
	pthread_mutex_unlock(&c->lock);
	return true;
}

void
cluster_poll(struct cluster *c)
{
	struct cl_item *it = NULL;

	if (c == NULL)
		return;
	cl_retry_claims(c);
	cl_repub_due(c);
	if ((it = malloc(sizeof(*it))) == NULL)
		return;
	/* At most one queue's worth per call: the ingest loop keeps its pace. */
	for (size_t n = 0; n < CLUSTER_QUEUE_MAX; n++) {
		pthread_mutex_lock(&c->lock);
		if (c->count == 0) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		*it = c->ring[c->head];
		c->head = (c->head + 1) % CLUSTER_QUEUE_MAX;
		c->count--;
		pthread_cond_signal(&c->space);
		pthread_mutex_unlock(&c->lock);
		if (it->type == CL_ITEM_EVENT && c->cb.event != NULL)
			c->cb.event(it->probe, &it->ev, c->cb.ctx);
		else if (it->type == CL_ITEM_BAN && c->cb.ban != NULL)
			c->cb.ban(&it->ban, c->cb.ctx);
	}
	free(it);
}

static void
cl_count(struct cluster *c, uint64_t *field)
{
	pthread_mutex_lock(&c->lock);
	(*field)++;
	pthread_mutex_unlock(&c->lock);
}

/* ---- threads ---- */

/* Decodes one EVENTS message into it; false (counted) when it is not an event envelope. */
static bool
cl_decode_event(struct cluster *c, natsMsg *m, struct cl_item *it)
{
	struct gw_msg gm;
	char err[128];

	if (envelope_decode((const uint8_t *)natsMsg_GetData(m),
	    (size_t)natsMsg_GetDataLength(m), &gm, err, sizeof(err)) == -1) {
		cl_count(c, &c->st.received_bad);
		log_debug("cluster: bad EVENTS message: %s", err);
		return false;
	}
	if (gm.type != GW_BODY_EVENT) {
		gw_msg_clear(&gm);
		cl_count(c, &c->st.received_bad);
		return false;
	}
	memset(it, 0, sizeof(*it));
	it->type = CL_ITEM_EVENT;
	snprintf(it->probe, sizeof(it->probe), "%s", gm.probe_id);
	it->ev = gm.u.event;
	gw_msg_clear(&gm);
	return true;
}

static void *
cl_fetch_main(void *arg)
{
	struct cluster *c = arg;
	struct cl_item *it = malloc(sizeof(*it));

	if (it == NULL)
		return NULL;
	while (!c->stop) {
		natsMsgList list = { 0 };
		natsStatus s = natsSubscription_Fetch(&list, c->sub,
		    CL_FETCH_BATCH, CL_WAIT_MS, NULL);

		if (s != NATS_OK && s != NATS_TIMEOUT) {
			/* Leader election or reconnect: wait, try again. */
			struct timespec ts = { 0, 200 * 1000000L };
			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < list.Count; i++) {
			natsMsg *m = list.Msgs[i];

			if (cl_decode_event(c, m, it) && !cl_enqueue(c, it))
				break;	/* stopping: not acked, redelivered */
			natsMsg_Ack(m, NULL);
		}
		natsMsgList_Destroy(&list);
	}
	free(it);
	return NULL;
}

static void *
cl_watch_main(void *arg)
{
	struct cluster *c = arg;
	struct cl_item *it = malloc(sizeof(*it));

	if (it == NULL)
		return NULL;
	while (!c->stop) {
		kvEntry *e = NULL;
		natsStatus s = kvWatcher_Next(&e, c->watch, CL_WAIT_MS);

		if (s != NATS_OK || e == NULL) {
			if (s != NATS_OK && s != NATS_TIMEOUT) {
				struct timespec ts = { 0, 200 * 1000000L };
				nanosleep(&ts, NULL);
			}
			continue;	/* NULL entry: end of the initial values */
		}
		if (kvEntry_Operation(e) == kvOp_Put) {
			memset(it, 0, sizeof(*it));
			it->type = CL_ITEM_BAN;
			if (strncmp(kvEntry_Key(e), "src.", 4) == 0 &&
			    cluster_ban_parse(kvEntry_Value(e),
			    (size_t)kvEntry_ValueLen(e), &it->ban) == 0) {
				it->ban.revision = kvEntry_Revision(e);
				cl_enqueue(c, it);
			} else if (strncmp(kvEntry_Key(e), "src.", 4) == 0) {
				cl_count(c, &c->st.received_bad);
			}
		}
		kvEntry_Destroy(e);
	}
	free(it);
	return NULL;
}

/* ---- publishing ---- */

/* 64-bit FNV-1a over s, continuing from h. */
static uint64_t
cl_fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ^ 0xff;
}

/* Message id: the same event from the same probe always gets the same id. */
static void
cl_msg_id(const char *probe_id, const struct gw_event *ev, char *buf,
    size_t len)
{
	char ts[64];
	uint64_t h = 1469598103934665603ULL;

	snprintf(ts, sizeof(ts), "%.6f %.0f %d", ev->ts, ev->rate_pps,
	    ev->cleared);
	h = cl_fnv(h, ev->kind);
	h = cl_fnv(h, ev->customer);
	h = cl_fnv(h, ev->src);
	h = cl_fnv(h, ev->dst);
	h = cl_fnv(h, ts);
	snprintf(buf, len, "%s-%016" PRIx64, probe_id, h);
}

static double cl_wall_now(void);

/*
 * Negative or missing ack (libnats thread): keep a copy and re-publish it
 * from cluster_poll after CL_PUB_RETRY_S with the same Nats-Msg-Id, so a
 * stream without a leader for a few seconds loses nothing and stores
 * nothing twice.
 */
static void
cl_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	struct cluster *c = closure;
	const char *id = NULL, *tries = NULL;
	struct cl_repub *q;
	int n = 0, len = natsMsg_GetDataLength(pae->Msg);

	(void)js;
	if (natsMsgHeader_Get(pae->Msg, "Gw-Try", &tries) == NATS_OK)
		n = atoi(tries);
	pthread_mutex_lock(&c->lock);
	if (c->stop || n >= CL_PUB_TRIES || c->n_repub == CL_PUB_RETRY_MAX ||
	    natsMsgHeader_Get(pae->Msg, "Nats-Msg-Id", &id) != NATS_OK ||
	    len <= 0) {
		c->st.publish_failed++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	q = &c->repub[c->n_repub];
	if ((q->data = malloc((size_t)len)) == NULL) {
		c->st.publish_failed++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	memcpy(q->data, natsMsg_GetData(pae->Msg), (size_t)len);
	q->len = len;
	snprintf(q->id, sizeof(q->id), "%s", id);
	snprintf(q->subj, sizeof(q->subj), "%s", natsMsg_GetSubject(pae->Msg));
	q->tries = n + 1;
	q->next_ts = cl_wall_now() + CL_PUB_RETRY_S;
	c->n_repub++;
	c->st.republished++;
	pthread_mutex_unlock(&c->lock);
}

/* Hands one message to libnats; 0 or -1. */
static int
cl_publish(struct cluster *c, const char *subj, const void *data, int len,
    const char *id, int tries)
{
	natsMsg *m = NULL;
	char t[16];

	snprintf(t, sizeof(t), "%d", tries);
	if (natsMsg_Create(&m, subj, NULL, data, len) != NATS_OK ||
	    natsMsgHeader_Set(m, "Nats-Msg-Id", id) != NATS_OK ||
	    natsMsgHeader_Set(m, "Gw-Try", t) != NATS_OK ||
	    js_PublishMsgAsync(c->js, &m, NULL) != NATS_OK) {
		natsMsg_Destroy(m);
		return -1;
	}
	return 0;
}

/* Re-publishes the due copies (poll thread). */
static void
cl_repub_due(struct cluster *c)
{
	struct cl_repub due;
	double now = cl_wall_now();

	for (;;) {
		size_t i;

		pthread_mutex_lock(&c->lock);
		for (i = 0; i < c->n_repub && c->repub[i].next_ts > now; i++)
			;
		if (i == c->n_repub) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		due = c->repub[i];
		c->repub[i] = c->repub[--c->n_repub];
		pthread_mutex_unlock(&c->lock);
		if (cl_publish(c, due.subj, due.data, due.len, due.id,
		    due.tries) == -1)
			cl_count(c, &c->st.publish_failed);
		free(due.data);
	}
}

int
cluster_publish_event(struct cluster *c, const char *probe_id,
    const struct gw_event *ev)
{
	char subj[GW_ID_MAX + 16], id[GW_ID_MAX + 24];
	struct gw_msg gm;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (c == NULL || probe_id == NULL || ev == NULL)
		return -1;
	memset(&gm, 0, sizeof(gm));
	gm.version = GW_PROTO_VERSION;
	snprintf(gm.probe_id, sizeof(gm.probe_id), "%s", probe_id);
	gm.type = GW_BODY_EVENT;
	gm.u.event = *ev;
	cl_msg_id(probe_id, ev, id, sizeof(id));
	snprintf(subj, sizeof(subj), "gw.events.%s", c->shard);
	if (envelope_encode(&gm, &buf, &len) == -1 ||
	    cl_publish(c, subj, buf, (int)len, id, 0) == -1) {
		free(buf);
		cl_count(c, &c->st.publish_failed);
		return -1;
	}
	free(buf);
	cl_count(c, &c->st.published);
	return 0;
}

/* ---- claims ---- */

static enum cluster_claim
cl_claim_once(struct cluster *c, const char *prefix, struct cluster_ban *b,
    double now)
{
	char key[GW_ID_MAX + 16], val[CL_VALUE_MAX];
	struct cluster_ban cur;
	kvEntry *e = NULL;
	natsStatus s;
	int n;

	if (c == NULL || b == NULL ||
	    cluster_key(prefix, b->src, key, sizeof(key)) == -1)
		return CLUSTER_CLAIM_ERROR;
	snprintf(b->shard, sizeof(b->shard), "%s", c->shard);
	b->decided_ts = now;
	if ((n = cluster_ban_format(b, val, sizeof(val))) == -1)
		return CLUSTER_CLAIM_ERROR;
	s = kvStore_Create(&b->revision, c->kv, key, val, n);
	if (s == NATS_OK) {
		cl_count(c, &c->st.claims_won);
		return CLUSTER_CLAIM_WON;
	}
	/* Exists (or a transient error): read it and decide whether to extend. */
	if (kvStore_Get(&e, c->kv, key) != NATS_OK || e == NULL) {
		cl_count(c, &c->st.claims_failed);
		log_warn("cluster: claim %s: %s", key, natsStatus_GetText(s));
		return CLUSTER_CLAIM_ERROR;
	}
	if (cluster_ban_parse(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e),
	    &cur) == 0 && now - cur.decided_ts < cur.timeout_s / 2.0) {
		kvEntry_Destroy(e);
		cl_count(c, &c->st.claims_held);
		return CLUSTER_CLAIM_HELD;
	}
	s = kvStore_Update(&b->revision, c->kv, key, val, n,
	    kvEntry_Revision(e));
	kvEntry_Destroy(e);
	if (s == NATS_OK) {
		cl_count(c, &c->st.claims_extended);
		return CLUSTER_CLAIM_EXTENDED;
	}
	cl_count(c, &c->st.claims_held);
	return CLUSTER_CLAIM_HELD;	/* another shard's update won */
}

static double
cl_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

enum cluster_claim
cluster_claim(struct cluster *c, const char *prefix, struct cluster_ban *b,
    double now)
{
	enum cluster_claim r;

	if (c == NULL || prefix == NULL || strlen(prefix) >= CLUSTER_PREFIX_MAX)
		return CLUSTER_CLAIM_ERROR;
	if ((r = cl_claim_once(c, prefix, b, now)) != CLUSTER_CLAIM_ERROR)
		return r;
	for (size_t i = 0; i < CLUSTER_RETRY_MAX; i++) {
		struct cl_retry *q = &c->retry[i];

		if (q->used && strcmp(q->prefix, prefix) == 0 &&
		    strcmp(q->ban.src, b->src) == 0)
			return r;	/* already waiting */
	}
	for (size_t i = 0; i < CLUSTER_RETRY_MAX; i++) {
		struct cl_retry *q = &c->retry[i];

		if (q->used)
			continue;
		q->used = true;
		snprintf(q->prefix, sizeof(q->prefix), "%s", prefix);
		q->ban = *b;
		q->next_ts = now + 0.5;
		return r;
	}
	log_warn("cluster: %d claims already waiting; %s.%s dropped",
	    CLUSTER_RETRY_MAX, prefix, b->src);
	return r;
}

/* Retries the claims that failed (poll thread). */
static void
cl_retry_claims(struct cluster *c)
{
	double now = cl_wall_now(), first;
	enum cluster_claim r;

	for (size_t i = 0; i < CLUSTER_RETRY_MAX; i++) {
		struct cl_retry *q = &c->retry[i];

		if (!q->used || now < q->next_ts)
			continue;
		first = q->ban.decided_ts;
		if (now >= first + q->ban.timeout_s) {
			q->used = false;	/* would have expired by now */
			continue;
		}
		r = cl_claim_once(c, q->prefix, &q->ban, now);
		q->ban.decided_ts = r == CLUSTER_CLAIM_ERROR ? first : now;
		if (r == CLUSTER_CLAIM_ERROR) {
			q->next_ts = now + 0.5;
			continue;
		}
		q->used = false;
		log_info("cluster: claim %s.%s retried: %s", q->prefix,
		    q->ban.src, r == CLUSTER_CLAIM_WON ? "won" : "held elsewhere");
		if (r == CLUSTER_CLAIM_WON && c->cb.won != NULL)
			c->cb.won(q->prefix, &q->ban, c->cb.ctx);
	}
}

/* ---- customer ownership (any-shard API) ---- */

void
cluster_own(struct cluster *c, const char *customer, double now)
{
	char subj[GW_ID_MAX + 32], key[GW_ID_MAX + 16], val[GW_ID_MAX + 160];
	uintptr_t last;
	int n;

	if (c == NULL || c->api_addr[0] == '\0' || customer == NULL ||
	    cluster_key("own", customer, key, sizeof(key)) == -1)
		return;
	last = (uintptr_t)idmap_get(c->owned, customer);
	if (last != 0 && now - (double)last < CLUSTER_OWN_REFRESH_S)
		return;
	if (idmap_put(c->owned, customer, (void *)(uintptr_t)now) == -1)
		return;
	/* A KV put is a publish to $KV.<bucket>.<key>: asynchronous, like events. */
	snprintf(subj, sizeof(subj), "$KV.%s.%s", CL_OWNERS, key);
	n = snprintf(val, sizeof(val), "%s %s", c->shard, c->api_addr);
	if (n > 0 && (size_t)n < sizeof(val) &&
	    js_PublishAsync(c->js, subj, val, n, NULL) != NATS_OK)
		idmap_put(c->owned, customer, (void *)(uintptr_t)1);  /* retry soon */
}

int
cluster_owner(struct cluster *c, const char *customer, char *shard,
    size_t shard_len, char *addr, size_t addr_len)
{
	char key[GW_ID_MAX + 16], v[256], *sp;
	kvEntry *e = NULL;
	int len;

	if (c == NULL || c->owners == NULL ||
	    cluster_key("own", customer, key, sizeof(key)) == -1 ||
	    kvStore_Get(&e, c->owners, key) != NATS_OK || e == NULL)
		return -1;
	len = kvEntry_ValueLen(e);
	if (len <= 0 || (size_t)len >= sizeof(v)) {
		kvEntry_Destroy(e);
		return -1;
	}
	memcpy(v, kvEntry_Value(e), (size_t)len);
	v[len] = '\0';
	kvEntry_Destroy(e);
	if ((sp = strchr(v, ' ')) == NULL || strchr(sp + 1, ' ') != NULL)
		return -1;
	*sp = '\0';
	if (!gw_id_valid(v) || strlen(v) >= shard_len ||
	    strlen(sp + 1) >= addr_len || sp[1] == '\0')
		return -1;
	snprintf(shard, shard_len, "%s", v);
	snprintf(addr, addr_len, "%s", sp + 1);
	return 0;
}

/* Parses a directory value "shard host:port" into p. 0 or -1. */
static int
cl_peer_parse(const char *v, int len, struct cluster_peer *p)
{
	char buf[GW_ID_MAX + 160], *sp;

	if (v == NULL || len <= 0 || (size_t)len >= sizeof(buf))
		return -1;
	memcpy(buf, v, (size_t)len);
	buf[len] = '\0';
	if ((sp = strchr(buf, ' ')) == NULL || strchr(sp + 1, ' ') != NULL ||
	    sp[1] == '\0')
		return -1;
	*sp = '\0';
	if (!gw_id_valid(buf) || strlen(buf) >= sizeof(p->shard) ||
	    strlen(sp + 1) >= sizeof(p->addr))
		return -1;
	memcpy(p->shard, buf, strlen(buf) + 1);
	memcpy(p->addr, sp + 1, strlen(sp + 1) + 1);
	return 0;
}

static int
cl_peer_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cluster_peer *)a)->shard,
	    ((const struct cluster_peer *)b)->shard);
}

/* Sets (put) or removes (del) the directory entry of shard id in c->peers. */
static void
cl_peer_set(struct cluster *c, const char *id, const struct cluster_peer *put)
{
	int i;

	pthread_mutex_lock(&c->peer_lock);
	if (c->n_peers < 0)
		c->n_peers = 0;
	for (i = 0; i < c->n_peers && strcmp(c->peers[i].shard, id) != 0; i++)
		;
	if (put != NULL && i < c->n_peers) {
		c->peers[i] = *put;
	} else if (put != NULL && c->n_peers < CLUSTER_PEERS_MAX) {
		c->peers[c->n_peers++] = *put;
		qsort(c->peers, (size_t)c->n_peers, sizeof(c->peers[0]), cl_peer_cmp);
	} else if (put == NULL && i < c->n_peers) {
		memmove(&c->peers[i], &c->peers[i + 1],
		    (size_t)(c->n_peers - i - 1) * sizeof(c->peers[0]));
		c->n_peers--;
	}
	pthread_mutex_unlock(&c->peer_lock);
}

/* Keeps c->peers equal to the SHARDS bucket (other shards only). */
static void *
cl_dir_main(void *arg)
{
	struct cluster *c = arg;

	while (!c->stop) {
		struct cluster_peer p;
		kvEntry *e = NULL;
		natsStatus s = kvWatcher_Next(&e, c->dir_watch, CL_WAIT_MS);
		const char *key;

		if (s != NATS_OK || e == NULL) {
			if (s == NATS_OK) {   /* end of the initial values */
				pthread_mutex_lock(&c->peer_lock);
				if (c->n_peers < 0)
					c->n_peers = 0;
				pthread_mutex_unlock(&c->peer_lock);
			} else if (s != NATS_TIMEOUT) {
				struct timespec ts = { 0, 200 * 1000000L };
				nanosleep(&ts, NULL);
			}
			continue;
		}
		key = kvEntry_Key(e);
		if (strcmp(key, c->shard) != 0) {
			if (kvEntry_Operation(e) == kvOp_Put &&
			    cl_peer_parse(kvEntry_Value(e), kvEntry_ValueLen(e), &p) == 0 &&
			    strcmp(p.shard, key) == 0)
				cl_peer_set(c, key, &p);
			else if (kvEntry_Operation(e) != kvOp_Put)
				cl_peer_set(c, key, NULL);   /* deleted or purged */
		}
		kvEntry_Destroy(e);
	}
	return NULL;
}

int
cluster_peers(struct cluster *c, struct cluster_peer *out, size_t max)
{
	int n;

	if (c == NULL || out == NULL)
		return -1;
	pthread_mutex_lock(&c->peer_lock);
	n = c->n_peers;
	if (n > 0) {
		if ((size_t)n > max)
			n = (int)max;
		memcpy(out, c->peers, (size_t)n * sizeof(*out));
	}
	pthread_mutex_unlock(&c->peer_lock);
	return n;
}

const char *
cluster_shard_id(const struct cluster *c)
{
	return c != NULL ? c->shard : "";
}

/* ---- set-up ---- */

static void
cl_reconnected(natsConnection *nc, void *closure)
{
	struct cluster *c = closure;

	(void)nc;
	cl_count(c, &c->st.reconnects);
	log_info("cluster: reconnected to NATS");
}

static void
cl_disconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
	log_warn("cluster: disconnected from NATS (reconnecting)");
}

/* Splits urls at commas into list (pointers into buf). Returns the count or -1. */
static int
cl_split_urls(char *buf, const char *list[CLUSTER_URLS_MAX])
{
	int n = 0;
	char *save = NULL;

	for (char *p = strtok_r(buf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (n == CLUSTER_URLS_MAX || (strncmp(p, "nats://", 7) != 0 &&
		    strncmp(p, "tls://", 6) != 0))
			return -1;
		list[n++] = p;
	}
	return n > 0 ? n : -1;
}

/* Sets credentials and TLS from the configuration on c->opts. 0, or -1 (logged). */
static int
cl_auth(struct cluster *c)
{
	const struct cluster_config *g = &c->cfg;
	const char *what = NULL;
	natsStatus s = NATS_OK;

	if ((g->user != NULL) != (g->password != NULL) ||
	    (g->tls_cert != NULL) != (g->tls_key != NULL) ||
	    (g->tls_cert != NULL && g->tls_ca == NULL) ||
	    (g->creds_file != NULL && g->user != NULL)) {
		log_err("cluster: --nats-user needs --nats-password-file, "
		    "--nats-tls-cert needs --nats-tls-key and --nats-tls-ca, "
		    "--nats-creds and --nats-user exclude each other");
		return -1;
	}
	if (g->user != NULL && (what = "user/password") != NULL)
		s = natsOptions_SetUserInfo(c->opts, g->user, g->password);
	if (s == NATS_OK && g->creds_file != NULL && (what = g->creds_file) != NULL)
		s = natsOptions_SetUserCredentialsFromFiles(c->opts,
		    g->creds_file, NULL);
	if (s == NATS_OK && g->tls_ca != NULL && (what = g->tls_ca) != NULL) {
		s = natsOptions_SetSecure(c->opts, true);
		if (s == NATS_OK)
			s = natsOptions_LoadCATrustedCertificates(c->opts, g->tls_ca);
	}
	if (s == NATS_OK && g->tls_cert != NULL && (what = g->tls_cert) != NULL)
		s = natsOptions_LoadCertificatesChain(c->opts, g->tls_cert,
		    g->tls_key);
	if (s != NATS_OK) {
		log_err("cluster: %s: %s (%s)", what != NULL ? what : "options",
		    natsStatus_GetText(s), nats_GetLastError(NULL));
		return -1;
	}
	return 0;
}

static natsStatus
cl_connect(struct cluster *c)
{
	const char *list[CLUSTER_URLS_MAX];
	char urls[1024];
	char name[GW_ID_MAX + 16];
	int n;
	natsStatus s;

	if (strlen(c->cfg.urls) >= sizeof(urls))
		return NATS_INVALID_ARG;
	snprintf(urls, sizeof(urls), "%s", c->cfg.urls);
	if ((n = cl_split_urls(urls, list)) == -1)
		return NATS_INVALID_ARG;
	snprintf(name, sizeof(name), "gatewatch-%s", c->shard);
	s = natsOptions_Create(&c->opts);
	if (s == NATS_OK) s = natsOptions_SetServers(c->opts, list, n);
	if (s == NATS_OK) s = natsOptions_SetName(c->opts, name);
	if (s == NATS_OK) s = natsOptions_SetMaxReconnect(c->opts, -1);
	if (s == NATS_OK) s = natsOptions_SetReconnectWait(c->opts, 250);
	if (s == NATS_OK) s = natsOptions_SetTimeout(c->opts, 2000);
	if (s == NATS_OK) s = natsOptions_SetReconnectedCB(c->opts,
	    cl_reconnected, c);
	if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(c->opts,
	    cl_disconnected, c);
	if (s == NATS_OK && cl_auth(c) != 0)
		return NATS_INVALID_ARG;
	if (s == NATS_OK) s = natsConnection_Connect(&c->nc, c->opts);
	return s;
}

/* Creates (or binds to) the file-backed KV bucket name, history 1, ttl_ns 0 = none. */
static natsStatus
cl_bucket(struct cluster *c, kvStore **kv, const char *name, int64_t ttl_ns)
{
	kvConfig kc;
	natsStatus s;

	kvConfig_Init(&kc);
	kc.Bucket = name;
	kc.History = 1;
	kc.StorageType = js_FileStorage;
	kc.Replicas = c->cfg.replicas;
	kc.TTL = ttl_ns;
	s = js_CreateKeyValue(kv, c->js, &kc);
	if (s != NATS_OK)
		log_err("cluster: bucket %s: %s (%s)", name,
		    natsStatus_GetText(s), nats_GetLastError(NULL));
	return s;
}

/* The EVENTS stream (R3, file, dedupe window) and the BANS, OWNERS and SHARDS buckets. */
static natsStatus
cl_streams(struct cluster *c)
{
	const char *subjects[] = { CL_SUBJECTS };
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsStreamConfig_Init(&sc);
	sc.Name = CL_STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = c->cfg.replicas;
	sc.Duplicates = CL_DUP_WINDOW_NS;
	sc.MaxAge = CL_MAX_AGE_NS;
	s = js_AddStream(&si, c->js, &sc, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	if (s != NATS_OK) {
		log_err("cluster: stream %s: %s (%d)", CL_STREAM,
		    natsStatus_GetText(s), (int)jerr);
		return s;
	}
	/* TTL in ns: libnats 3.4 passes it as MaxAge. */
	if ((s = cl_bucket(c, &c->kv, CL_BUCKET,
	    (int64_t)c->cfg.ban_ttl_s * 1000000000LL)) != NATS_OK ||
	    (s = cl_bucket(c, &c->owners, CL_OWNERS, 0)) != NATS_OK)
		return s;
	return cl_bucket(c, &c->shards, CL_SHARDS, 0);
}

/* This shard's durable pull consumer on EVENTS and the BANS watcher. */
static natsStatus
cl_consumers(struct cluster *c)
{
	char durable[GW_ID_MAX + 8];
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	snprintf(durable, sizeof(durable), "corr-%s", c->shard);
	for (char *p = durable; *p != '\0'; p++)
		if (*p == '.' || *p == ':')
			*p = '_';
	jsSubOptions_Init(&so);
	so.Stream = CL_STREAM;
	so.Config.DeliverPolicy = js_DeliverNew;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.AckWait = 10LL * 1000000000LL;
	so.Config.MaxAckPending = 4 * CLUSTER_QUEUE_MAX;
	s = js_PullSubscribe(&c->sub, c->js, CL_SUBJECTS, durable, NULL, &so,
	    &jerr);
	if (s != NATS_OK) {
		log_err("cluster: consumer %s: %s (%d)", durable,
		    natsStatus_GetText(s), (int)jerr);
		return s;
	}
	s = kvStore_WatchAll(&c->watch, c->kv, NULL);
	if (s != NATS_OK) {
		log_err("cluster: watch %s: %s", CL_BUCKET,
		    natsStatus_GetText(s));
		return s;
	}
	s = kvStore_WatchAll(&c->dir_watch, c->shards, NULL);
	if (s != NATS_OK)
		log_err("cluster: watch %s: %s", CL_SHARDS,
		    natsStatus_GetText(s));
	return s;
}

/* Retries the JetStream set-up until it works or the deadline passes (cluster forming). */
static natsStatus
cl_setup(struct cluster *c)
{
	struct timespec t0, t, pause = { 0, 300 * 1000000L };
	natsStatus s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		s = cl_streams(c);
		if (s == NATS_OK)
			s = cl_consumers(c);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (s == NATS_OK || (t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    c->cfg.connect_timeout_ms)
			return s;
		kvStore_Destroy(c->kv);
		kvStore_Destroy(c->owners);
		kvStore_Destroy(c->shards);
		c->kv = c->owners = c->shards = NULL;
		nanosleep(&pause, NULL);
	}
}

struct cluster *
cluster_new(const struct cluster_config *cfg, const struct cluster_callbacks *cb)
{
	struct cluster *c;
	jsOptions jo;
	natsStatus s;

	if (cfg == NULL || cfg->urls == NULL || cfg->shard_id == NULL ||
	    !gw_id_valid(cfg->shard_id)) {
		log_err("cluster: --nats needs --shard-id (letters, digits, "
		    "_.:-)");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ring = calloc(CLUSTER_QUEUE_MAX, sizeof(*c->ring))) == NULL) {
		free(c);
		return NULL;
	}
	c->cfg = *cfg;
	snprintf(c->shard, sizeof(c->shard), "%s", cfg->shard_id);
	c->cfg.shard_id = c->shard;
	c->cfg.urls = NULL;
	if (c->cfg.ban_ttl_s == 0)
		c->cfg.ban_ttl_s = 600;
	if (c->cfg.replicas <= 0)
		c->cfg.replicas = 3;
	if (c->cfg.connect_timeout_ms <= 0)
		c->cfg.connect_timeout_ms = 10000;
	if (cb != NULL)
		c->cb = *cb;
	if (cfg->api_addr != NULL)
		snprintf(c->api_addr, sizeof(c->api_addr), "%s", cfg->api_addr);
	c->cfg.api_addr = NULL;
	if ((c->owned = idmap_new()) == NULL) {
		free(c->ring);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->space, NULL);
	pthread_mutex_init(&c->peer_lock, NULL);
	c->n_peers = -1;
	c->cfg.urls = cfg->urls;
	s = cl_connect(c);
	c->cfg.urls = NULL;
	c->cfg.user = c->cfg.password = c->cfg.creds_file = NULL;  /* borrowed */
	c->cfg.tls_ca = c->cfg.tls_cert = c->cfg.tls_key = NULL;
	if (s != NATS_OK) {
		const char *why = nats_GetLastError(NULL);

		log_err("cluster: cannot connect to %s: %s%s%s%s", cfg->urls,
		    natsStatus_GetText(s), why != NULL ? " (" : "",
		    why != NULL ? why : "", why != NULL ? ")" : "");
		if (s == NATS_CONNECTION_AUTH_FAILED)
			log_err("cluster: the NATS servers refused this shard's "
			    "credentials (--nats-user/--nats-password-file, "
			    "--nats-creds)");
		cluster_free(c);
		return NULL;
	}
	jsOptions_Init(&jo);
	jo.Wait = 1500;	/* also bounds a claim blocking the ingest thread */
	jo.PublishAsync.MaxPending = 4096;
	jo.PublishAsync.ErrHandler = cl_pub_err;
	jo.PublishAsync.ErrHandlerClosure = c;
	if (natsConnection_JetStream(&c->js, c->nc, &jo) != NATS_OK ||
	    cl_setup(c) != NATS_OK) {
		cluster_free(c);
		return NULL;
	}
	if (c->api_addr[0] != '\0') {
		char val[GW_ID_MAX + 160];

		snprintf(val, sizeof(val), "%s %s", c->shard, c->api_addr);
		if ((s = kvStore_PutString(NULL, c->shards, c->shard, val)) != NATS_OK)
			log_warn("cluster: cannot record shard %s in %s: %s "
			    "(list routes of the other shards will miss it)",
			    c->shard, CL_SHARDS, natsStatus_GetText(s));
	}
	c->fetch_started = pthread_create(&c->fetch_thr, NULL, cl_fetch_main,
	    c) == 0;
	c->watch_started = pthread_create(&c->watch_thr, NULL, cl_watch_main,
	    c) == 0;
	c->dir_started = pthread_create(&c->dir_thr, NULL, cl_dir_main, c) == 0;
	if (!c->fetch_started || !c->watch_started || !c->dir_started) {
		cluster_free(c);
		return NULL;
	}
	log_info("cluster: shard %s joined (stream %s, bucket %s, R%d)",
	    c->shard, CL_STREAM, CL_BUCKET, c->cfg.replicas);
	return c;
}

void
cluster_free(struct cluster *c)
{
	struct cluster_stats st;
	jsPubOptions po;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	st = c->st;
	pthread_mutex_unlock(&c->lock);
	log_info("cluster: shard %s: %llu events published (%llu re-sent, "
	    "%llu failed), "
	    "%llu received (%llu bad), %llu ban updates, claims %llu won / "
	    "%llu extended / %llu held / %llu failed, %llu reconnects",
	    c->shard, (unsigned long long)st.published,
	    (unsigned long long)st.republished,
	    (unsigned long long)st.publish_failed,
	    (unsigned long long)st.received,
	    (unsigned long long)st.received_bad,
	    (unsigned long long)st.bans_seen,
	    (unsigned long long)st.claims_won,
	    (unsigned long long)st.claims_extended,
	    (unsigned long long)st.claims_held,
	    (unsigned long long)st.claims_failed,
	    (unsigned long long)st.reconnects);
	if (c->js != NULL) {
		jsPubOptions_Init(&po);
		po.MaxWait = 2000;
		js_PublishAsyncComplete(c->js, &po);
	}
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
	if (c->watch != NULL)
		kvWatcher_Stop(c->watch);
	if (c->dir_watch != NULL)
		kvWatcher_Stop(c->dir_watch);
	if (c->fetch_started)
		pthread_join(c->fetch_thr, NULL);
	if (c->watch_started)
		pthread_join(c->watch_thr, NULL);
	if (c->dir_started)
		pthread_join(c->dir_thr, NULL);
	kvWatcher_Destroy(c->watch);
	kvWatcher_Destroy(c->dir_watch);
	natsSubscription_Destroy(c->sub);   /* durable consumer stays */
	kvStore_Destroy(c->kv);
	kvStore_Destroy(c->owners);
	kvStore_Destroy(c->shards);
	idmap_free(c->owned);
	jsCtx_Destroy(c->js);
	natsConnection_Destroy(c->nc);
	natsOptions_Destroy(c->opts);
	pthread_cond_destroy(&c->space);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->peer_lock);
	for (size_t i = 0; i < c->n_repub; i++)
		free(c->repub[i].data);
	free(c->ring);
	free(c);
}

void
cluster_stats_get(struct cluster *c, struct cluster_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	pthread_mutex_unlock(&c->lock);
	out->connected = natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}
