/* store.c: per-step aggregation of customer intervals and RRD writes via rrdcached (writer thread). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#include "idmap.h"
#include "log.h"
#include "store.h"
#include "store_queue.h"

#define STORE_HEARTBEAT_S 30
#define STORE_BATCH       256
#define STORE_BACKOFF_MAX 30

static const char *const store_ds_names[STORE_DS_COUNT] = {
	"rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "flows_active",
	"flows_new", "rtt_wan_ms", "rtt_lan_ms", "rtt_p95_ms", "jitter_ms",
	"rtp_loss_pct", "retrans_pct", "dns_ms",
};

/*
 * Layout (issue 10: at most 2 MB per customer). Two files per customer:
 *   DIR/<customer>.rrd     base step 10 s, every DS, AVERAGE 10 s x 1 day
 *                          (8640 rows): the high-resolution link view;
 *   DIR/5m/<customer>.rrd  base step 300 s, every DS, AVERAGE 5 min x 32 days
 *                          (9216 rows, >= 8928 = 31 days, so a month's 95th
 *                          percentile is exact) and AVERAGE 1 day x 3 years.
 * The 300 s file is fed the same 10 s updates; librrd builds each 300 s
 * value as the mean over the known seconds (unknown when more than half of
 * the step is unknown), which is what the 5-minute RRA of the old layout
 * held. 18,952 rows x 13 DS x 8 bytes + headers: about 1.98 MB per customer
 * (the old single file: 4.33 MB).
 * Old layout: a DIR/<customer>.rrd without DIR/5m/<customer>.rrd is an old
 * single file (10 s, 5 min x 35 days, 1 h and 1 day archives); it is kept and
 * written as before, and readers take everything from it. No migration.
 */
static const char *const store_rras_link[] = {
	"RRA:AVERAGE:0.5:1:8640",
};
static const char *const store_rras_hist[] = {
	"RRA:AVERAGE:0.5:1:9216",
	"RRA:AVERAGE:0.5:288:1096",
};
#define STORE_NRRAS_LINK (sizeof(store_rras_link) / sizeof(store_rras_link[0]))
#define STORE_NRRAS_HIST (sizeof(store_rras_hist) / sizeof(store_rras_hist[0]))
#define STORE_NRRAS      2   /* the larger of the two */

/* One customer's step being accumulated (ingest thread only). */
struct store_agg {
	char     customer[GW_ID_MAX];
	time_t   step_end;        /* pending step; 0 = nothing pending */
	time_t   last_written;    /* end of the last step queued */
	double   last_arrival;    /* wall clock of the last report */
	double   secs;            /* sum of interval lengths */
	double   counts[4];       /* rx/tx bytes, rx/tx packets */
	double   flows_new;
	double   flows_active_ws; /* flows_active * interval */
	double   rtt_wan_ws, rtt_lan_ws, hs;   /* weight: handshakes */
	double   rtt_p95_max;
	bool     has_p95;
	double   jitter_ws, jitter_w;
	double   rtp_expected, rtp_lost;
	double   retrans, segments;
	double   dns_ws, dns_w;
};

struct store {
	char     dir[PATH_MAX / 2];
	char    *daemon;          /* owned; NULL = direct file writes */
	bool     remote;          /* TCP daemon: paths relative to its base dir */
	unsigned idle_flush_s;
	/* ingest thread only */
	struct idmap *aggs;
	struct store_agg **avec;
	size_t   naggs, capaggs;
	/* backlog */
	pthread_mutex_t mu;
	pthread_cond_t  cv;       /* backlog not empty / stop */
	pthread_cond_t  drained;  /* backlog empty */
	struct store_queue q;     /* under mu */
	size_t   inflight;        /* steps the writer has taken (batch in hand) */
	bool     stop;
	bool     busy;            /* writer is writing a batch */
	pthread_t thread;
	bool     thread_started;
	struct store_counters c;  /* under mu */
	/* writer thread only (the rrdc_* client is librrd's global one, locked inside) */
	struct idmap *known;      /* customer -> struct store_known * (owned) */
	unsigned backoff_s;
	time_t   next_try;
	struct log_ratelimit rl;
	pthread_mutex_t graph_mu; /* rrd_graph (cairo/pango) runs one at a time */
};

int
store_ds_index(const char *name)
{
	for (int i = 0; i < STORE_DS_COUNT; i++)
		if (strcmp(store_ds_names[i], name) == 0)
			return i;
	return -1;
}

const char *
store_ds_name(int i)
{
	return (i >= 0 && i < STORE_DS_COUNT) ? store_ds_names[i] : NULL;
}

static void
store_count(struct store *st, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&st->mu);
	*field += n;
	pthread_mutex_unlock(&st->mu);
}

/* Which of a customer's files. */
enum store_file_kind { STORE_FILE_LINK = 0, STORE_FILE_HIST };

/* File name for customer: absolute for local/unix daemons, relative for TCP ones. */
static void
store_path(const struct store *st, const char *customer,
    enum store_file_kind kind, char *out, size_t len)
{
	const char *sub = kind == STORE_FILE_HIST ? STORE_HIST_SUBDIR "/" : "";

	if (st->remote)
		snprintf(out, len, "%s%s.rrd", sub, customer);
	else
		snprintf(out, len, "%s/%s%s.rrd", st->dir, sub, customer);
}

/* What the writer knows of one customer's files. */
struct store_known {
	time_t last[2];   /* last update written, per enum store_file_kind */
	bool   legacy;    /* old single-file layout: no 300 s file */
};

/* ---- aggregation (ingest thread) ---- */

static struct store_agg *
store_agg_get(struct store *st, const char *customer)
{
	struct store_agg *a = idmap_get(st->aggs, customer);

	if (a != NULL)
		return a;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	snprintf(a->customer, sizeof(a->customer), "%s", customer);
	if (st->naggs == st->capaggs) {
		size_t ncap = st->capaggs ? st->capaggs * 2 : 256;
		struct store_agg **nv = realloc(st->avec, ncap * sizeof(*nv));
		if (nv == NULL) {
			free(a);
			return NULL;
		}
		st->avec = nv;
		st->capaggs = ncap;
	}
	if (idmap_put(st->aggs, customer, a) == -1) {
		free(a);
		return NULL;
	}
	st->avec[st->naggs++] = a;
	store_count(st, &st->c.files, 1);
	return a;
}

/* Weighted mean, or NAN without weight. */
static double
store_wmean(double wsum, double w)
{
	return w > 0 ? wsum / w : NAN;
}

/* Turns a finished aggregate into a step update. */
static void
store_agg_finish(const struct store_agg *a, struct store_update *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->customer, sizeof(u->customer), "%s", a->customer);
	u->t = a->step_end;
	u->gap_before = a->last_written != 0 &&
	    a->step_end - a->last_written > STORE_STEP_S;
	for (int i = 0; i < 4; i++)
		u->v[STORE_DS_RX_BYTES + i] = store_wmean(a->counts[i], a->secs);
	u->v[STORE_DS_FLOWS_ACTIVE] = store_wmean(a->flows_active_ws, a->secs);
	u->v[STORE_DS_FLOWS_NEW] = store_wmean(a->flows_new, a->secs);
	u->v[STORE_DS_RTT_WAN_MS] = store_wmean(a->rtt_wan_ws, a->hs);
	u->v[STORE_DS_RTT_LAN_MS] = store_wmean(a->rtt_lan_ws, a->hs);
	u->v[STORE_DS_RTT_P95_MS] = a->has_p95 ? a->rtt_p95_max : NAN;
	u->v[STORE_DS_JITTER_MS] = store_wmean(a->jitter_ws, a->jitter_w);
	u->v[STORE_DS_RTP_LOSS_PCT] = store_wmean(a->rtp_lost * 100.0,
	    a->rtp_expected);
	u->v[STORE_DS_RETRANS_PCT] = store_wmean(a->retrans * 100.0, a->segments);
	u->v[STORE_DS_DNS_MS] = store_wmean(a->dns_ws, a->dns_w);
}

/* Queues the pending step of a and resets it. */
static void
store_agg_flush(struct store *st, struct store_agg *a)
{
	struct store_update u;

	if (a->step_end == 0)
		return;
	store_agg_finish(a, &u);
	memset(&a->step_end, 0, sizeof(*a) - offsetof(struct store_agg, step_end));
	a->last_written = u.t;
	pthread_mutex_lock(&st->mu);
	store_queue_push(&st->q, &u);   /* drops the oldest when full (counted) */
	st->c.steps++;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

static void
store_agg_add(struct store_agg *a, double interval,
    const struct gw_customer_stats *cs)
{
	double w;

	a->secs += interval;
	a->counts[0] += (double)cs->rx_bytes;
	a->counts[1] += (double)cs->tx_bytes;
	a->counts[2] += (double)cs->rx_packets;
	a->counts[3] += (double)cs->tx_packets;
	a->flows_new += cs->flows_new;
	a->flows_active_ws += (double)cs->flows_active * interval;
	if (cs->tcp.handshakes > 0) {
		a->hs += cs->tcp.handshakes;
		a->rtt_wan_ws += cs->tcp.rtt_wan_ms_avg * cs->tcp.handshakes;
		a->rtt_lan_ws += cs->tcp.rtt_lan_ms_avg * cs->tcp.handshakes;
		if (!a->has_p95 || cs->tcp.rtt_ms_p95 > a->rtt_p95_max)
			a->rtt_p95_max = cs->tcp.rtt_ms_p95;
		a->has_p95 = true;
	}
	w = cs->rtp.packets > 0 ? (double)cs->rtp.packets : cs->rtp.streams;
	if (w > 0) {
		a->jitter_ws += cs->rtp.jitter_ms_avg * w;
		a->jitter_w += w;
	}
	a->rtp_expected += (double)cs->rtp.packets_expected;
	a->rtp_lost += (double)cs->rtp.packets_lost;
	a->retrans += (double)cs->tcp.retransmits;
	a->segments += (double)cs->tcp.segments;
	if (cs->dns.responses > 0) {
		a->dns_ws += cs->dns.latency_ms_avg * (double)cs->dns.responses;
		a->dns_w += (double)cs->dns.responses;
	}
}

static double
store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
store_submit(struct store *st, double ts, double interval,
    const struct gw_customer_stats *cs)
{
	struct store_agg *a;
	time_t se;

	store_count(st, &st->c.reports, 1);
	if (!isfinite(ts) || ts <= STORE_STEP_S || ts > 4e9 ||
	    !isfinite(interval) || interval <= 0 || interval > 3600) {
		store_count(st, &st->c.out_of_order, 1);
		return -1;
	}
	if ((a = store_agg_get(st, cs->customer)) == NULL) {
		store_count(st, &st->c.rrd_errors, 1);
		return -1;
	}
	/* The step (se - STEP, se] holds the interval end ts. */
	se = (time_t)ceil(ts / STORE_STEP_S) * STORE_STEP_S;
	if (se <= a->last_written || (a->step_end != 0 && se < a->step_end)) {
		store_count(st, &st->c.out_of_order, 1);
		return -1;
	}
	if (a->step_end != 0 && se > a->step_end)
		store_agg_flush(st, a);
	a->step_end = se;
	a->last_arrival = store_now();
	store_agg_add(a, interval, cs);
	return 0;
}

void
store_tick(struct store *st, double now_wall)
{
	for (size_t i = 0; i < st->naggs; i++) {
		struct store_agg *a = st->avec[i];
		if (a->step_end != 0 &&
		    now_wall - a->last_arrival >= st->idle_flush_s)
			store_agg_flush(st, a);
	}
}

void
store_flush_pending(struct store *st)
{
	for (size_t i = 0; i < st->naggs; i++)
		store_agg_flush(st, st->avec[i]);
}

/* ---- writer thread ---- */

/* Connects the writer's client when due. Returns 0 when writes can proceed. */
static int
store_writer_connect(struct store *st)
{
	time_t now = time(NULL);

	if (st->daemon == NULL)
		return 0;
	if (rrdc_is_connected(st->daemon))
		return 0;
	if (now < st->next_try)
		return -1;
	store_count(st, &st->c.reconnects, 1);
	rrd_clear_error();
	if (rrdc_connect(st->daemon) == 0 && rrdc_is_connected(st->daemon)) {
		log_info("store: connected to rrdcached %s", st->daemon);
		st->backoff_s = 0;
		pthread_mutex_lock(&st->mu);
		st->c.connected = true;
		pthread_mutex_unlock(&st->mu);
		return 0;
	}
	st->backoff_s = st->backoff_s ? st->backoff_s * 2 : 1;
	if (st->backoff_s > STORE_BACKOFF_MAX)
		st->backoff_s = STORE_BACKOFF_MAX;
	st->next_try = now + st->backoff_s;
	log_warn_rl(&st->rl, "store: cannot connect to rrdcached %s: %s "
	    "(retry in %us)", st->daemon, rrd_get_error(), st->backoff_s);
	return -1;
}

static void
store_writer_disconnected(struct store *st)
{
	pthread_mutex_lock(&st->mu);
	st->c.connected = false;
	pthread_mutex_unlock(&st->mu);
}

/* Bytes of a customer's files (local directories only; 0 when unknown). */
static uint64_t
store_customer_bytes(const struct store *st, const char *customer)
{
	char path[PATH_MAX];
	struct stat sb;
	uint64_t n = 0;

	for (int k = STORE_FILE_LINK; k <= STORE_FILE_HIST; k++) {
		store_path(st, customer, (enum store_file_kind)k, path, sizeof(path));
		if (stat(path, &sb) == 0)
			n += (uint64_t)sb.st_size;
	}
	return n;
}

/* Creates one file (kind) with its first update at t. 0 or -1. */
static int
store_create(struct store *st, const char *path, enum store_file_kind kind,
    time_t t)
{
	char ds[STORE_DS_COUNT][64];
	const char *argv[STORE_DS_COUNT + STORE_NRRAS];
	const char *const *rras = kind == STORE_FILE_HIST ? store_rras_hist :
	    store_rras_link;
	size_t nrras = kind == STORE_FILE_HIST ? STORE_NRRAS_HIST :
	    STORE_NRRAS_LINK;
	unsigned long step = kind == STORE_FILE_HIST ? STORE_HIST_STEP_S :
	    STORE_STEP_S;
	int argc = 0, rc;

	for (int i = 0; i < STORE_DS_COUNT; i++) {
		snprintf(ds[i], sizeof(ds[i]), "DS:%s:GAUGE:%d:0:U",
		    store_ds_names[i], STORE_HEARTBEAT_S);
		argv[argc++] = ds[i];
	}
	for (size_t i = 0; i < nrras; i++)
		argv[argc++] = rras[i];
	rrd_clear_error();
	if (st->remote)
		rc = rrdc_create(path, step, t - 2 * STORE_STEP_S, 1, argc, argv);
	else
		rc = rrd_create_r(path, step, t - 2 * STORE_STEP_S, argc, argv);
	if (rc != 0) {
		log_warn_rl(&st->rl, "store: cannot create %s: %s", path,
		    rrd_get_error());
		return -1;
	}
	store_count(st, &st->c.rrd_creates, 1);
	return 0;
}

/* Records the size of one customer's files once (for the counters). */
static void
store_note_size(struct store *st, const char *customer)
{
	uint64_t n;

	if (st->remote || st->c.file_bytes != 0)
		return;    /* read without the lock: only this thread writes it */
	if ((n = store_customer_bytes(st, customer)) == 0)
		return;
	pthread_mutex_lock(&st->mu);
	st->c.file_bytes = n;
	pthread_mutex_unlock(&st->mu);
	log_info("store: RRD bytes per customer: %llu", (unsigned long long)n);
}

/* Last update time of an existing file, or 0 when unknown. */
static time_t
store_last(struct store *st, const char *path)
{
	time_t last;

	rrd_clear_error();
	if (st->daemon != NULL && rrdc_is_connected(st->daemon))
		last = rrdc_last(path);
	else
		last = rrd_last_r(path);
	return last > 0 ? last : 0;
}

/* True when the file exists (local: stat; TCP daemon: it has a last update). */
static bool
store_exists(struct store *st, const char *path)
{
	struct stat sb;

	if (st->remote)
		return store_last(st, path) != 0;
	return stat(path, &sb) == 0;
}

/*
 * Returns the writer's record of u's customer, creating the files: the 300 s
 * file first, so that a link file without it can only be an old-layout file.
 */
static struct store_known *
store_file(struct store *st, const struct store_update *u)
{
	struct store_known *k = idmap_get(st->known, u->customer);
	char link[PATH_MAX], hist[PATH_MAX];
	bool have_link, have_hist;
	time_t l = 0;

	if (k != NULL)
		return k;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	store_path(st, u->customer, STORE_FILE_LINK, link, sizeof(link));
	store_path(st, u->customer, STORE_FILE_HIST, hist, sizeof(hist));
	have_link = store_exists(st, link);
	have_hist = store_exists(st, hist);
	k->legacy = have_link && !have_hist;
	if (have_link)
		l = store_last(st, link);
	if ((!have_hist && !k->legacy &&
	    store_create(st, hist, STORE_FILE_HIST, u->t) == -1) ||
	    (!have_link && store_create(st, link, STORE_FILE_LINK, u->t) == -1)) {
		free(k);
		return NULL;
	}
	store_note_size(st, u->customer);
	k->last[STORE_FILE_LINK] = l != 0 ? l : u->t - 2 * STORE_STEP_S;
	k->last[STORE_FILE_HIST] = k->last[STORE_FILE_LINK];
	if (idmap_put(st->known, u->customer, k) == -1) {
		free(k);
		return NULL;
	}
	return k;
}

/* Sends one "t:v:v..." update. 0 or -1. */
static int
store_update_send(struct store *st, const char *path, time_t t, const double *v)
{
	char line[STORE_DS_COUNT * 26 + 32];
	const char *vals[1] = { line };
	size_t off;
	int rc;

	off = (size_t)snprintf(line, sizeof(line), "%lld", (long long)t);
	for (int i = 0; i < STORE_DS_COUNT; i++) {
		if (v == NULL || isnan(v[i]))
			off += (size_t)snprintf(line + off, sizeof(line) - off, ":U");
		else
			off += (size_t)snprintf(line + off, sizeof(line) - off,
			    ":%.17g", v[i]);
	}
	rrd_clear_error();
	if (st->daemon != NULL)
		rc = rrdc_update(path, 1, vals);
	else
		rc = rrd_update_r(path, NULL, 1, vals);
	if (rc != 0) {
		log_warn_rl(&st->rl, "store: update %s failed: %s", path,
		    rrd_get_error());
		if (st->daemon != NULL && !rrdc_is_connected(st->daemon))
			store_writer_disconnected(st);
		return -1;
	}
	return 0;
}

/* What became of one step. */
enum store_wr {
	STORE_WR_DONE = 0,   /* written (or found already written) */
	STORE_WR_FAILED,     /* refused: counted as an error, not retried */
	STORE_WR_RETRY,      /* rrdcached went away: to be sent again */
};

/* True when a failed command failed because there is no connection to rrdcached. */
static bool
store_lost_daemon(struct store *st)
{
	return st->daemon != NULL && !rrdc_is_connected(st->daemon);
}

/*
 * Brings file f of u's customer up to u->t: the U row of a gap first, then
 * the values; what the file already has (k->last[f]) is not sent again.
 */
static enum store_wr
store_write_file(struct store *st, const struct store_update *u,
    struct store_known *k, enum store_file_kind f)
{
	char path[PATH_MAX];

	store_path(st, u->customer, f, path, sizeof(path));
	if (u->gap_before && u->t - STORE_STEP_S > k->last[f]) {
		if (store_update_send(st, path, u->t - STORE_STEP_S, NULL) == 0)
			k->last[f] = u->t - STORE_STEP_S;
		else if (store_lost_daemon(st))
			return STORE_WR_RETRY;
	}
	if (u->t <= k->last[f])
		return STORE_WR_DONE;
	if (store_update_send(st, path, u->t, u->v) == 0) {
		k->last[f] = u->t;
		return STORE_WR_DONE;
	}
	if (store_lost_daemon(st))
		return STORE_WR_RETRY;
	/* A retry rrdcached refuses: done when the first try got through. */
	if (u->tries > 0 && store_last(st, path) >= u->t) {
		k->last[f] = u->t;
		return STORE_WR_DONE;
	}
	return STORE_WR_FAILED;
}

static enum store_wr
store_write_one(struct store *st, const struct store_update *u)
{
	struct store_known *k;
	enum store_wr r;

	if ((k = store_file(st, u)) == NULL) {
		if (store_lost_daemon(st))
			return STORE_WR_RETRY;
		store_count(st, &st->c.rrd_errors, 1);
		return STORE_WR_FAILED;
	}
	if (u->t <= k->last[STORE_FILE_LINK] &&
	    (k->legacy || u->t <= k->last[STORE_FILE_HIST]) && u->tries == 0) {
		store_count(st, &st->c.out_of_order, 1);
		return STORE_WR_FAILED;
	}
	r = store_write_file(st, u, k, STORE_FILE_LINK);
	if (r == STORE_WR_DONE && !k->legacy)
		r = store_write_file(st, u, k, STORE_FILE_HIST);
	if (r == STORE_WR_FAILED)
		store_count(st, &st->c.rrd_errors, 1);
	if (r != STORE_WR_DONE)
		return r;
	pthread_mutex_lock(&st->mu);
	st->c.rrd_updates++;
	if (u->tries > 0)
		st->c.retried++;
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* Waits (at most until the next reconnect attempt) for work. Returns false to quit. */
static bool
store_writer_wait(struct store *st, bool connected)
{
	struct timespec until;
	bool go_on = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&st->mu);
	if (st->q.len == 0 || !connected) {
		if (st->q.len == 0) {
			store_queue_shrink(&st->q);
			pthread_cond_broadcast(&st->drained);
		}
		if (!st->stop)
			pthread_cond_timedwait(&st->cv, &st->mu, &until);
	}
	if (st->stop && (st->q.len == 0 || !connected))
		go_on = false;
	pthread_mutex_unlock(&st->mu);
	return go_on;
}

static void *
store_writer(void *arg)
{
	struct store *st = arg;
	struct store_update *batch = malloc(STORE_BATCH * sizeof(*batch));
	size_t n, i;

	if (batch == NULL)
		return NULL;
	for (;;) {
		bool connected = store_writer_connect(st) == 0;
		if (!store_writer_wait(st, connected))
			break;
		if (!connected)
			continue;
		pthread_mutex_lock(&st->mu);
		n = store_queue_take(&st->q, batch, STORE_BATCH);
		st->inflight = n;
		st->busy = n > 0;
		pthread_mutex_unlock(&st->mu);
		for (i = 0; i < n; i++)
			if (store_write_one(st, &batch[i]) == STORE_WR_RETRY)
				break;
		pthread_mutex_lock(&st->mu);
		if (i < n) {
			/* rrdcached went away: the rest goes back, oldest first */
			for (size_t j = i; j < n; j++)
				if (batch[j].tries < UINT8_MAX)
					batch[j].tries++;
			store_queue_unshift(&st->q, batch + i, n - i);
			st->c.connected = false;
		}
		st->inflight = 0;
		st->busy = false;
		if (st->q.len == 0)
			pthread_cond_broadcast(&st->drained);
		pthread_mutex_unlock(&st->mu);
		if (i < n)
			log_warn_rl(&st->rl, "store: rrdcached %s went away; %zu "
			    "steps kept for a retry", st->daemon, n - i);
	}
	free(batch);
	return NULL;
}

/* Asks rrdcached to write every file this store updated (shutdown). */
static void
store_flush_one(const char *key, void *value, void *ctx)
{
	struct store *st = ctx;
	const struct store_known *k = value;
	char path[PATH_MAX];

	for (int f = STORE_FILE_LINK; f <= STORE_FILE_HIST; f++) {
		if (f == STORE_FILE_HIST && k->legacy)
			break;
		store_path(st, key, (enum store_file_kind)f, path, sizeof(path));
		rrd_clear_error();
		if (rrdc_is_connected(st->daemon) && rrdc_flush(path) != 0)
			log_warn_rl(&st->rl, "store: flush %s: %s", path,
			    rrd_get_error());
	}
}

static void
store_flush_known(struct store *st)
{
	if (st->daemon != NULL && rrdc_is_connected(st->daemon))
		idmap_foreach(st->known, store_flush_one, st);
}

/* ---- life cycle ---- */

static void
store_free_known(const char *key, void *value, void *ctx)
{
	(void)key;
	(void)ctx;
	free(value);
}

struct store *
store_new(const struct store_config *cfg)
{
	struct store *st = calloc(1, sizeof(*st));
	char hist[PATH_MAX];
	uint64_t backlog;

	if (st == NULL)
		return NULL;
	st->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->graph_mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	pthread_cond_init(&st->drained, NULL);
	st->idle_flush_s = cfg->idle_flush_s ? cfg->idle_flush_s : STORE_IDLE_FLUSH_S;
	backlog = cfg->backlog_bytes ? cfg->backlog_bytes : STORE_BACKLOG_DEFAULT;
	if (backlog < STORE_BACKLOG_MIN || backlog > STORE_BACKLOG_MAX) {
		log_err("store: backlog of %llu bytes not in %u..%llu",
		    (unsigned long long)backlog, STORE_BACKLOG_MIN,
		    (unsigned long long)STORE_BACKLOG_MAX);
		goto fail;
	}
	st->aggs = idmap_new();
	st->known = idmap_new();
	if (st->aggs == NULL || st->known == NULL ||
	    store_queue_init(&st->q, (size_t)(backlog / sizeof(struct store_update))) == -1)
		goto fail;
	if (mkdir(cfg->dir, 0755) == -1 && errno != EEXIST) {
		log_err("store: mkdir %s: %s", cfg->dir, strerror(errno));
		goto fail;
	}
	if (realpath(cfg->dir, st->dir) == NULL) {
		log_err("store: %s: %s", cfg->dir, strerror(errno));
		goto fail;
	}
	snprintf(hist, sizeof(hist), "%s/%s", st->dir, STORE_HIST_SUBDIR);
	if (mkdir(hist, 0755) == -1 && errno != EEXIST) {
		log_err("store: mkdir %s: %s", hist, strerror(errno));
		goto fail;
	}
	if (cfg->rrdcached != NULL && cfg->rrdcached[0] != '\0') {
		if ((st->daemon = strdup(cfg->rrdcached)) == NULL)
			goto fail;
		st->remote = strncmp(st->daemon, "unix:", 5) != 0 &&
		    st->daemon[0] != '/';
	}
	if (pthread_create(&st->thread, NULL, store_writer, st) != 0) {
		log_err("store: cannot start the writer thread");
		goto fail;
	}
	st->thread_started = true;
	log_info("store: RRD files in %s via %s (step %ds)", st->dir,
	    st->daemon ? st->daemon : "direct writes", STORE_STEP_S);
	return st;
fail:
	store_free(st, 0);
	return NULL;
}

int
store_sync(struct store *st, int timeout_ms)
{
	struct timespec until;
	int rc;

	store_flush_pending(st);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->mu);
	pthread_cond_signal(&st->cv);
	while ((st->q.len > 0 || st->busy) &&
	    (st->daemon == NULL || st->c.connected) &&
	    pthread_cond_timedwait(&st->drained, &st->mu, &until) == 0)
		;
	rc = st->q.len == 0 && !st->busy ? 0 : -1;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void
store_free(struct store *st, int timeout_ms)
{
	if (st == NULL)
		return;
	if (st->thread_started) {
		store_sync(st, timeout_ms);
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		/* rrdcached unreachable at the end: what is left is lost */
		st->q.dropped += st->q.len;
		pthread_cond_broadcast(&st->cv);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->thread, NULL);
		store_flush_known(st);
		log_info("store: %llu updates, %llu errors, %llu retried, "
		    "%llu dropped", (unsigned long long)st->c.rrd_updates,
		    (unsigned long long)st->c.rrd_errors,
		    (unsigned long long)st->c.retried,
		    (unsigned long long)st->q.dropped);
	}
	if (st->daemon != NULL && rrdc_is_connected(st->daemon))
		rrdc_disconnect();
	for (size_t i = 0; i < st->naggs; i++)
		free(st->avec[i]);
	free(st->avec);
	idmap_free(st->aggs);
	if (st->known != NULL)
		idmap_foreach(st->known, store_free_known, NULL);
	idmap_free(st->known);
	store_queue_clear(&st->q);
	free(st->daemon);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->graph_mu);
	pthread_cond_destroy(&st->cv);
	pthread_cond_destroy(&st->drained);
	free(st);
}

void
store_counters_get(struct store *st, struct store_counters *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->c;
	out->queue_len = st->q.len;
	out->pending = st->q.len + st->inflight;
	out->dropped = out->queue_dropped = st->q.dropped;
	out->backlog_max = st->q.max;
	out->backlog_bytes = store_queue_bytes(&st->q);
	out->connected = st->daemon == NULL || st->c.connected;
	pthread_mutex_unlock(&st->mu);
}

/* ---- readers (HTTP threads) ---- */

/* Asks rrdcached to write its cached updates of path (best effort). */
static void
store_reader_flush(struct store *st, const char *path)
{
	if (st->daemon == NULL)
		return;
	rrd_clear_error();
	if (rrdc_is_connected(st->daemon) && rrdc_flush(path) != 0)
		log_debug("store: flush %s: %s", path, rrd_get_error());
}

static int
store_fetch(struct store *st, const char *path, const struct store_query *q,
    struct store_series *out, unsigned long *ds_cnt, char ***names,
    rrd_value_t **data)
{
	int rc;

	out->start = q->from;
	out->end = q->to;
	out->step = q->resolution ? q->resolution : STORE_STEP_S;
	rrd_clear_error();
	if (st->remote) {
		rc = !rrdc_is_connected(st->daemon) ? -1 : rrdc_fetch(path, q->cf,
		    &out->start, &out->end, &out->step, ds_cnt, names, data);
	} else {
		rc = rrd_fetch_r(path, q->cf, &out->start, &out->end, &out->step,
		    ds_cnt, names, data);
	}
	return rc;
}

/* First time archive rra of the file at path holds (0 when unknown). */
static time_t
store_first(struct store *st, const char *path, int rra)
{
	time_t t;

	rrd_clear_error();
	if (st->daemon != NULL && rrdc_is_connected(st->daemon))
		t = rrdc_first(path, rra);
	else
		t = rrd_first_r(path, rra);
	return t > 0 ? t : 0;
}

/*
 * Picks the file a read of customer from `from` at resolution (s, 0 =
 * finest) is served from: the 10 s file when the read is finer than 300 s
 * and starts inside its day, else the 300 s file; an old-layout customer has
 * only the first. With a daemon, the chosen file is flushed (once), so the
 * caller reads it as written. Returns 0, or -1 when the customer has no file.
 */
static int
store_read_path(struct store *st, const char *customer, time_t from,
    unsigned long resolution, char *path, size_t len)
{
	char hist[PATH_MAX];
	bool have_link, have_hist;

	store_path(st, customer, STORE_FILE_LINK, path, len);
	store_path(st, customer, STORE_FILE_HIST, hist, sizeof(hist));
	have_link = store_exists(st, path);
	have_hist = store_exists(st, hist);
	if (!have_link && !have_hist)
		return -1;
	if (!have_hist) {
		store_reader_flush(st, path);
		return 0;   /* old layout */
	}
	if (have_link && resolution < STORE_HIST_STEP_S) {
		time_t first;
		store_reader_flush(st, path);
		first = store_first(st, path, 0);
		if (first != 0 && from >= first - STORE_STEP_S)
			return 0;
	}
	snprintf(path, len, "%s", hist);
	store_reader_flush(st, path);
	return 0;
}

int
store_series_read(struct store *st, const struct store_query *q,
    struct store_series *out, bool *missing, char *err, size_t errlen)
{
	char path[PATH_MAX];
	unsigned long ds_cnt = 0;
	char **names = NULL;
	rrd_value_t *data = NULL;
	int col = -1, rc = -1;

	memset(out, 0, sizeof(*out));
	*missing = false;
	if (store_read_path(st, q->customer, q->from, q->resolution, path,
	    sizeof(path)) == -1) {
		*missing = true;
		snprintf(err, errlen, "no data stored for customer %s", q->customer);
		return -1;
	}
	if (store_fetch(st, path, q, out, &ds_cnt, &names, &data) != 0) {
		snprintf(err, errlen, "fetch failed: %s", rrd_get_error());
		return -1;
	}
	for (unsigned long i = 0; i < ds_cnt; i++)
		if (strcmp(names[i], q->metric) == 0)
			col = (int)i;
	if (col < 0 || out->step == 0) {
		snprintf(err, errlen, "metric %s not in the file", q->metric);
		goto out;
	}
	out->n = (size_t)((out->end - out->start) / (time_t)out->step);
	out->values = malloc((out->n ? out->n : 1) * sizeof(double));
	if (out->values == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < out->n; i++)
		out->values[i] = data[i * ds_cnt + (size_t)col];
	rc = 0;
out:
	for (unsigned long i = 0; i < ds_cnt; i++)
		rrd_freemem(names[i]);
	rrd_freemem(names);
	rrd_freemem(data);
	if (rc == -1)
		store_series_clear(out);
	return rc;
}

void
store_series_clear(struct store_series *s)
{
	if (s == NULL)
		return;
	free(s->values);
	s->values = NULL;
	s->n = 0;
}

/* Copies every column of a fetch into out (new arrays). 0 or -1. */
static int
store_rows_copy(struct store_rows *out, unsigned long ds_cnt, char **names,
    const rrd_value_t *data)
{
	for (unsigned long i = 0; i < ds_cnt; i++) {
		int ds = store_ds_index(names[i]);
		if (ds < 0 || out->v[ds] != NULL)
			continue;
		if ((out->v[ds] = malloc((out->n ? out->n : 1) *
		    sizeof(double))) == NULL)
			return -1;
		for (size_t r = 0; r < out->n; r++)
			out->v[ds][r] = data[r * ds_cnt + i];
	}
	return 0;
}

int
store_rows_read(struct store *st, const struct store_rows_req *req,
    struct store_rows *out, bool *missing, char *err, size_t errlen)
{
	struct store_query q = { .customer = req->customer, .cf = "AVERAGE",
	    .from = req->from, .to = req->to, .resolution = STORE_HIST_STEP_S };
	struct store_series s;
	char path[PATH_MAX], hist[PATH_MAX];
	unsigned long ds_cnt = 0;
	char **names = NULL;
	rrd_value_t *data = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*missing = false;
	if (req->from >= req->to) {
		snprintf(err, errlen, "empty period");
		return -1;
	}
	if (store_read_path(st, req->customer, req->from, STORE_HIST_STEP_S,
	    path, sizeof(path)) == -1) {
		*missing = true;
		snprintf(err, errlen, "no data stored for customer %s",
		    req->customer);
		return -1;
	}
	if (req->clip) {
		/* The 300 s archive: RRA 0 of the 300 s file, RRA 1 of an old file. */
		time_t first;
		store_path(st, req->customer, STORE_FILE_HIST, hist, sizeof(hist));
		first = store_first(st, path, strcmp(path, hist) == 0 ? 0 : 1);
		if (first != 0 && q.from < first - STORE_HIST_STEP_S)
			q.from = first - STORE_HIST_STEP_S;
		if (q.from >= q.to)
			q.from = q.to - STORE_HIST_STEP_S;
	}
	memset(&s, 0, sizeof(s));
	if (store_fetch(st, path, &q, &s, &ds_cnt, &names, &data) != 0) {
		snprintf(err, errlen, "fetch failed: %s", rrd_get_error());
		return -1;
	}
	out->start = s.start;
	out->step = s.step;
	if (s.step == 0) {
		/* The fetch succeeded: names and data are freed below. */
		snprintf(err, errlen, "fetch failed: %s", rrd_get_error());
	} else {
		out->n = (size_t)((s.end - s.start) / (time_t)s.step);
		if (store_rows_copy(out, ds_cnt, names, data) == -1)
			snprintf(err, errlen, "out of memory");
		else
			rc = 0;
	}
	for (unsigned long i = 0; i < ds_cnt; i++)
		rrd_freemem(names[i]);
	rrd_freemem(names);
	rrd_freemem(data);
	if (rc == -1)
		store_rows_clear(out);
	return rc;
}

void
store_rows_clear(struct store_rows *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < STORE_DS_COUNT; i++) {
		free(r->v[i]);
		r->v[i] = NULL;
	}
	r->n = 0;
}

/* True when name is "<id>.rrd" with a valid id; copies the id. */
static bool
store_rrd_name(const char *name, char *id, size_t idlen)
{
	size_t n = strlen(name);

	if (n <= 4 || strcmp(name + n - 4, ".rrd") != 0 || n - 4 >= idlen)
		return false;
	memcpy(id, name, n - 4);
	id[n - 4] = '\0';
	return gw_id_valid(id);
}

static int
store_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_id *)a)->id,
	    ((const struct store_id *)b)->id);
}

int
store_customers(struct store *st, struct store_id **out, size_t *n)
{
	DIR *d;
	struct dirent *e;
	struct store_id *v = NULL, *nv;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (st->remote || (d = opendir(st->dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char id[GW_ID_MAX];
		if (!store_rrd_name(e->d_name, id, sizeof(id)))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		snprintf(v[(*n)++].id, sizeof(v->id), "%s", id);
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), store_id_cmp);
	*out = v;
	return 0;
}

/* ---- graphs (HTTP threads) ---- */

/* Copies path into out with ':' escaped for rrd_graph's DEF syntax. 0 or -1. */
static int
store_graph_escape(const char *path, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = path; *p != '\0'; p++) {
		if (o + 3 >= len)
			return -1;
		if (*p == ':')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o] = '\0';
	return 0;
}

static bool
store_ds_is_bytes(int ds)
{
	return ds == STORE_DS_RX_BYTES || ds == STORE_DS_TX_BYTES;
}

/* The DEF/CDEF/LINE arguments of one metric (index k). 0 or -1 with err. */
static int
store_graph_metric(const char *epath, const char *name, int k,
    char args[3][STORE_GRAPH_ARG_MAX], char *err, size_t errlen)
{
	static const char *const colors[STORE_GRAPH_METRICS_MAX] = {
		"1f77b4", "d62728", "2ca02c", "ff7f0e", "9467bd", "8c564b",
		"e377c2", "7f7f7f",
	};
	int ds = store_ds_index(name);

	if (ds < 0) {
		snprintf(err, errlen, "unknown metric \"%.64s\"", name);
		return -1;
	}
	snprintf(args[0], STORE_GRAPH_ARG_MAX, "DEF:m%d=%s:%s:AVERAGE", k, epath,
	    name);
	snprintf(args[1], STORE_GRAPH_ARG_MAX, "CDEF:v%d=m%d,%s", k, k,
	    store_ds_is_bytes(ds) ? "8,*" : "1,*");
	snprintf(args[2], STORE_GRAPH_ARG_MAX, "LINE1:v%d#%s:%s%s", k, colors[k],
	    name, store_ds_is_bytes(ds) ? " (bit/s)" : "");
	return 0;
}

/* Builds the rrd_graph argument vector; returns argc or -1 with err. */
static int
store_graph_args(struct store *st, const struct store_graph_req *g,
    const char *path, char (*buf)[STORE_GRAPH_ARG_MAX], char **argv,
    char *err, size_t errlen)
{
	char epath[PATH_MAX + 64], list[256], *tok, *save = NULL;
	int argc = 0, k = 0;

	if (store_graph_escape(path, epath, sizeof(epath)) == -1 ||
	    strlen(g->metrics) >= sizeof(list)) {
		snprintf(err, errlen, "path or metric list too long");
		return -1;
	}
#define STORE_ARG(...) (snprintf(buf[argc], STORE_GRAPH_ARG_MAX, __VA_ARGS__), \
	argv[argc] = buf[argc], argc++)
	STORE_ARG("graph");
	STORE_ARG("-");
	STORE_ARG("--imgformat=%s", g->svg ? "SVG" : "PNG");
	STORE_ARG("--start=%lld", (long long)g->from);
	STORE_ARG("--end=%lld", (long long)g->to);
	STORE_ARG("--width=%u", g->width);
	STORE_ARG("--height=%u", g->height);
	STORE_ARG("--title=%s", g->title ? g->title : g->customer);
	STORE_ARG("--lower-limit=0");
	if (st->daemon != NULL)
		STORE_ARG("--daemon=%s", st->daemon);
	snprintf(list, sizeof(list), "%s", g->metrics);
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save), k++) {
		if (k == STORE_GRAPH_METRICS_MAX) {
			snprintf(err, errlen, "at most %d metrics",
			    STORE_GRAPH_METRICS_MAX);
			return -1;
		}
		if (store_graph_metric(epath, tok, k, &buf[argc], err,
		    errlen) == -1)
			return -1;
		for (int i = 0; i < 3; i++, argc++)
			argv[argc] = buf[argc];
	}
	if (g->has_hrule) {
		STORE_ARG("HRULE:%.17g#ff8000:%s", g->hrule_bps,
		    g->hrule_label ? g->hrule_label : "95th percentile");
	}
	if (g->has_trend) {
		STORE_ARG("CDEF:trend=m0,POP,TIME,%lld,-,%.17g,*,%.17g,+",
		    (long long)g->trend_t0, g->trend_slope_bps_s, g->trend_bps0);
		STORE_ARG("LINE1:trend#ff00ff:trend (least squares)");
	}
#undef STORE_ARG
	if (k == 0) {
		snprintf(err, errlen, "no metric given");
		return -1;
	}
	return argc;
}

/* Finds the "image" blob in info and copies it to a new buffer. 0 or -1. */
static int
store_graph_image(rrd_info_t *info, unsigned char **png, size_t *len)
{
	for (rrd_info_t *i = info; i != NULL; i = i->next) {
		if (strcmp(i->key, "image") != 0 || i->type != RD_I_BLO)
			continue;
		if ((*png = malloc(i->value.u_blo.size ?
		    i->value.u_blo.size : 1)) == NULL)
			return -1;
		memcpy(*png, i->value.u_blo.ptr, i->value.u_blo.size);
		*len = i->value.u_blo.size;
		return 0;
	}
	return -1;
}

int
store_graph(struct store *st, const struct store_graph_req *g,
    unsigned char **png, size_t *len, bool *missing, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char (*buf)[STORE_GRAPH_ARG_MAX];
	char *argv[STORE_GRAPH_ARGS_MAX];
	rrd_info_t *info;
	int argc, rc = -1;

	*png = NULL;
	*len = 0;
	*missing = false;
	if (g->width < 100 || g->width > 4000 || g->height < 50 ||
	    g->height > 2000 || g->from >= g->to) {
		snprintf(err, errlen, "width 100..4000, height 50..2000, from < to");
		return -1;
	}
	if (store_read_path(st, g->customer, g->from,
	    (unsigned long)(g->to - g->from) / g->width, path,
	    sizeof(path)) == -1) {
		*missing = true;
		snprintf(err, errlen, "no data stored for customer %s", g->customer);
		return -1;
	}
	if ((buf = calloc(STORE_GRAPH_ARGS_MAX, sizeof(*buf))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((argc = store_graph_args(st, g, path, buf, argv, err, errlen)) == -1)
		goto out;
	pthread_mutex_lock(&st->graph_mu);
	rrd_clear_error();
	info = rrd_graph_v(argc, argv);
	if (info == NULL)
		snprintf(err, errlen, "graph failed: %s", rrd_get_error());
	else if (store_graph_image(info, png, len) == -1)
		snprintf(err, errlen, "graph produced no image");
	else
		rc = 0;
	rrd_info_free(info);
	pthread_mutex_unlock(&st->graph_mu);
out:
	free(buf);
	return rc;
}
