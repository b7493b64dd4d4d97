/* live.c: the operator's in-memory view (customers, probes, events) behind one mutex. */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idmap.h"
#include "live.h"

/* Internal customer: the scalars of the latest interval, apps kept compact. */
struct live_customer {
	char     id[GW_ID_MAX];
	char     probe[GW_ID_MAX];
	double   ts, interval;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint32_t flows_active, flows_new;
	uint64_t shed_packets;
	struct gw_rtp_summary rtp;
	struct gw_tcp_summary tcp;
	struct gw_dns_summary dns;
	struct gw_udp_summary udp;
	uint64_t reports;
	uint64_t total_rx_bytes, total_tx_bytes, total_rx_packets, total_tx_packets;
	struct live_quality last;      /* latest interval with each measurement */
	struct gw_app_bytes *apps;     /* owned, n_apps entries */
	size_t   n_apps;
	struct live_point *hist;       /* owned ring of history_n points */
	size_t   hist_next;
	size_t   hist_len;
};

struct live {
	pthread_mutex_t mu;
	size_t history_n;
	struct idmap *customers;       /* id -> struct live_customer * (owned) */
	struct live_customer **cvec;   /* the same, for freeing and listing */
	size_t ncust, capcust;
	struct idmap *probes;          /* id -> struct live_probe_info * (owned) */
	struct live_probe_info **pvec;
	size_t nprobe, capprobe;
	struct live_event *events;     /* ring of events_n */
	size_t events_n, ev_next, ev_len;
	uint64_t ev_last_id;
	struct live_counters counters;
};

struct live *
live_new(size_t history_n, size_t events_n)
{
	struct live *lv;

	if (history_n < 1 || history_n > LIVE_HISTORY_MAX || events_n < 1)
		return NULL;
	if ((lv = calloc(1, sizeof(*lv))) == NULL)
		return NULL;
	pthread_mutex_init(&lv->mu, NULL);
	lv->history_n = history_n;
	lv->events_n = events_n;
	lv->customers = idmap_new();
	lv->probes = idmap_new();
	lv->events = calloc(events_n, sizeof(*lv->events));
	if (lv->customers == NULL || lv->probes == NULL || lv->events == NULL) {
		live_free(lv);
		return NULL;
	}
	return lv;
}

void
live_free(struct live *lv)
{
	if (lv == NULL)
		return;
	for (size_t i = 0; i < lv->ncust; i++) {
		free(lv->cvec[i]->apps);
		free(lv->cvec[i]->hist);
		free(lv->cvec[i]);
	}
	for (size_t i = 0; i < lv->nprobe; i++)
		free(lv->pvec[i]);
	free(lv->cvec);
	free(lv->pvec);
	idmap_free(lv->customers);
	idmap_free(lv->probes);
	free(lv->events);
	pthread_mutex_destroy(&lv->mu);
	free(lv);
}

/* Appends p to a growable pointer vector. 0 or -1. */
static int
live_vec_push(void ***vec, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		void **nv = realloc(*vec, ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		*vec = nv;
		*cap = ncap;
	}
	(*vec)[(*n)++] = p;
	return 0;
}

static struct live_customer *
live_customer_create(struct live *lv, const char *id)
{
	struct live_customer *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->hist = calloc(lv->history_n, sizeof(*c->hist));
	if (c->hist == NULL ||
	    live_vec_push((void ***)&lv->cvec, &lv->ncust, &lv->capcust, c) == -1) {
		free(c->hist);
		free(c);
		return NULL;
	}
	if (idmap_put(lv->customers, id, c) == -1) {
		lv->ncust--;
		free(c->hist);
		free(c);
		return NULL;
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	return c;
}

/* Copies the apps of cs into c (compact). 0 or -1. */
static int
live_customer_set_apps(struct live_customer *c, const struct gw_customer_stats *cs)
{
	size_t n = cs->n_apps > GW_APPS_MAX ? GW_APPS_MAX : cs->n_apps;
	struct gw_app_bytes *a = NULL;

	if (n > 0 && n == c->n_apps) {   /* the usual case: reuse */
		memcpy(c->apps, cs->apps, n * sizeof(*a));
		return 0;
	}
	if (n > 0) {
		a = malloc(n * sizeof(*a));
		if (a == NULL)
			return -1;
		memcpy(a, cs->apps, n * sizeof(*a));
	}
	free(c->apps);
	c->apps = a;
	c->n_apps = n;
	return 0;
}

int
live_customer_update(struct live *lv, const char *probe_id, double ts,
    double interval, const struct gw_customer_stats *cs)
{
	struct live_customer *c;
	struct live_point *p;
	int rc = -1;

	pthread_mutex_lock(&lv->mu);
	c = idmap_get(lv->customers, cs->customer);
	if (c == NULL && (c = live_customer_create(lv, cs->customer)) == NULL)
		goto out;
	if (live_customer_set_apps(c, cs) == -1)
		goto out;
	snprintf(c->probe, sizeof(c->probe), "%s", probe_id);
	c->ts = ts;
	c->interval = interval;
	c->rx_bytes = cs->rx_bytes;
	c->tx_bytes = cs->tx_bytes;
	c->rx_packets = cs->rx_packets;
	c->tx_packets = cs->tx_packets;
	c->flows_active = cs->flows_active;
	c->flows_new = cs->flows_new;
	c->shed_packets = cs->shed_packets;
	c->rtp = cs->rtp;
	c->tcp = cs->tcp;
	c->dns = cs->dns;
	c->udp = cs->udp;
	if (cs->rtp.streams > 0) {
		c->last.rtp_ts = ts;
		c->last.rtp = cs->rtp;
	}
	if (cs->tcp.handshakes > 0) {
		c->last.tcp_ts = ts;
		c->last.tcp = cs->tcp;
	}
	if (cs->dns.responses > 0) {
		c->last.dns_ts = ts;
		c->last.dns = cs->dns;
	}
	c->reports++;
	c->total_rx_bytes += cs->rx_bytes;
	c->total_tx_bytes += cs->tx_bytes;
	c->total_rx_packets += cs->rx_packets;
	c->total_tx_packets += cs->tx_packets;
	p = &c->hist[c->hist_next];
	*p = (struct live_point){ ts, interval, cs->rx_bytes, cs->tx_bytes,
	    cs->rx_packets, cs->tx_packets };
	c->hist_next = (c->hist_next + 1) % lv->history_n;
	if (c->hist_len < lv->history_n)
		c->hist_len++;
	rc = 0;
out:
	if (rc == -1)
		lv->counters.live_errors++;
	pthread_mutex_unlock(&lv->mu);
	return rc;
}

/* Fills a reader's view from the internal customer (caller holds the lock). */
static void
live_customer_copy(const struct live_customer *c, struct live_customer_view *out)
{
	struct gw_customer_stats *st = &out->stats;

	snprintf(out->id, sizeof(out->id), "%s", c->id);
	snprintf(out->probe, sizeof(out->probe), "%s", c->probe);
	out->ts = c->ts;
	out->interval = c->interval;
	snprintf(st->customer, sizeof(st->customer), "%s", c->id);
	st->rx_bytes = c->rx_bytes;
	st->tx_bytes = c->tx_bytes;
	st->rx_packets = c->rx_packets;
	st->tx_packets = c->tx_packets;
	st->flows_active = c->flows_active;
	st->flows_new = c->flows_new;
	st->shed_packets = c->shed_packets;
	st->n_apps = c->n_apps;
	if (c->n_apps > 0)
		memcpy(st->apps, c->apps, c->n_apps * sizeof(*c->apps));
	st->rtp = c->rtp;
	st->tcp = c->tcp;
	st->dns = c->dns;
	st->udp = c->udp;
	out->reports = c->reports;
	out->total_rx_bytes = c->total_rx_bytes;
	out->total_tx_bytes = c->total_tx_bytes;
	out->total_rx_packets = c->total_rx_packets;
	out->total_tx_packets = c->total_tx_packets;
	out->last = c->last;
}

static int
live_cmp_customer(const void *a, const void *b)
{
	return strcmp(((const struct live_customer_view *)a)->id,
	    ((const struct live_customer_view *)b)->id);
}

int
live_customers_list(struct live *lv, struct live_customer_view **out, size_t *n)
{
	struct live_customer_view *v;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&lv->mu);
	v = malloc((lv->ncust ? lv->ncust : 1) * sizeof(*v));
	if (v == NULL) {
		pthread_mutex_unlock(&lv->mu);
		return -1;
	}
	for (size_t i = 0; i < lv->ncust; i++)
		live_customer_copy(lv->cvec[i], &v[i]);
	*n = lv->ncust;
	pthread_mutex_unlock(&lv->mu);
	qsort(v, *n, sizeof(*v), live_cmp_customer);
	*out = v;
	return 0;
}

int
live_customer_get(struct live *lv, const char *id,
    struct live_customer_view *out, struct live_point **hist, size_t *nhist)
{
	struct live_customer *c;
	struct live_point *h = NULL;
	size_t start;

	*hist = NULL;
	*nhist = 0;
	pthread_mutex_lock(&lv->mu);
	c = idmap_get(lv->customers, id);
	if (c == NULL)
		goto fail;
	live_customer_copy(c, out);
	if (c->hist_len > 0) {
		if ((h = malloc(c->hist_len * sizeof(*h))) == NULL)
			goto fail;
		start = (c->hist_next + lv->history_n - c->hist_len) % lv->history_n;
		for (size_t i = 0; i < c->hist_len; i++)
			h[i] = c->hist[(start + i) % lv->history_n];
	}
	*hist = h;
	*nhist = c->hist_len;
	pthread_mutex_unlock(&lv->mu);
	return 0;
fail:
	pthread_mutex_unlock(&lv->mu);
	return -1;
}

bool
live_customer_known(struct live *lv, const char *id)
{
	bool known;

	pthread_mutex_lock(&lv->mu);
	known = idmap_get(lv->customers, id) != NULL;
	pthread_mutex_unlock(&lv->mu);
	return known;
}

size_t
live_customer_count(struct live *lv)
{
	size_t n;

	pthread_mutex_lock(&lv->mu);
	n = lv->ncust;
	pthread_mutex_unlock(&lv->mu);
	return n;
}

int
live_probe_update(struct live *lv, const struct live_probe_info *info)
{
	struct live_probe_info *p;
	int rc = 0;

	pthread_mutex_lock(&lv->mu);
	p = idmap_get(lv->probes, info->id);
	if (p == NULL) {
		p = malloc(sizeof(*p));
		if (p == NULL || live_vec_push((void ***)&lv->pvec, &lv->nprobe,
		    &lv->capprobe, p) == -1) {
			free(p);
			rc = -1;
			goto out;
		}
		if (idmap_put(lv->probes, info->id, p) == -1) {
			lv->nprobe--;
			free(p);
			rc = -1;
			goto out;
		}
	}
	*p = *info;
out:
	if (rc == -1)
		lv->counters.live_errors++;
	pthread_mutex_unlock(&lv->mu);
	return rc;
}

static int
live_cmp_probe(const void *a, const void *b)
{
	return strcmp(((const struct live_probe_info *)a)->id,
	    ((const struct live_probe_info *)b)->id);
}

int
live_probes_list(struct live *lv, struct live_probe_info **out, size_t *n)
{
	struct live_probe_info *v;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&lv->mu);
	v = malloc((lv->nprobe ? lv->nprobe : 1) * sizeof(*v));
	if (v == NULL) {
		pthread_mutex_unlock(&lv->mu);
		return -1;
	}
	for (size_t i = 0; i < lv->nprobe; i++)
		v[i] = *lv->pvec[i];
	*n = lv->nprobe;
	pthread_mutex_unlock(&lv->mu);
	qsort(v, *n, sizeof(*v), live_cmp_probe);
	*out = v;
	return 0;
}

void
live_event_add(struct live *lv, const char *probe_id, const struct gw_event *ev)
{
	struct live_event *e;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&lv->mu);
	e = &lv->events[lv->ev_next];
	e->id = ++lv->ev_last_id;
	e->received = (double)now.tv_sec + now.tv_nsec / 1e9;
	snprintf(e->probe, sizeof(e->probe), "%s", probe_id);
	e->ev = *ev;
	lv->ev_next = (lv->ev_next + 1) % lv->events_n;
	if (lv->ev_len < lv->events_n)
		lv->ev_len++;
	pthread_mutex_unlock(&lv->mu);
}

int
live_events_list(struct live *lv, uint64_t after_id, size_t max,
    struct live_event **out, size_t *n)
{
	struct live_event *v;
	size_t start, k = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&lv->mu);
	v = malloc((lv->ev_len ? lv->ev_len : 1) * sizeof(*v));
	if (v == NULL) {
		pthread_mutex_unlock(&lv->mu);
		return -1;
	}
	start = (lv->ev_next + lv->events_n - lv->ev_len) % lv->events_n;
	for (size_t i = 0; i < lv->ev_len; i++) {
		const struct live_event *e = &lv->events[(start + i) % lv->events_n];
		if (e->id > after_id)
			v[k++] = *e;
	}
	pthread_mutex_unlock(&lv->mu);
	if (k > max) {  /* keep the newest max */
		memmove(v, v + (k - max), max * sizeof(*v));
		k = max;
	}
	*out = v;
	*n = k;
	return 0;
}

void
live_counters_set(struct live *lv, const struct live_counters *c)
{
	uint64_t errs;

	pthread_mutex_lock(&lv->mu);
	errs = lv->counters.live_errors;
	lv->counters = *c;
	lv->counters.live_errors = errs;
	pthread_mutex_unlock(&lv->mu);
}

void
live_counters_get(struct live *lv, struct live_counters *out)
{
	pthread_mutex_lock(&lv->mu);
	*out = lv->counters;
	pthread_mutex_unlock(&lv->mu);
}
