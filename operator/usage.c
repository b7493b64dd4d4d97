/* usage.c: per-customer, per-day application byte totals, summed in memory and flushed to SQLite (events.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idmap.h"
#include "log.h"
#include "usage.h"

struct usage {
	struct events *es;
	unsigned flush_s, keep_days;
	struct idmap *index;            /* "customer\tday\tapp" -> row index + 1 */
	struct events_app_bytes *rows;
	size_t n, cap;
	double last_flush;
	uint64_t dropped;
	int64_t day0, day1;             /* cached local day [day0, day1) */
};

int64_t
usage_day(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

struct usage *
usage_new(const struct usage_config *cfg)
{
	struct usage *u = calloc(1, sizeof(*u));

	if (u == NULL || (u->index = idmap_new()) == NULL) {
		free(u);
		return NULL;
	}
	u->es = cfg->events;
	u->flush_s = cfg->flush_s ? cfg->flush_s : USAGE_FLUSH_S;
	u->keep_days = cfg->keep_days ? cfg->keep_days : USAGE_KEEP_DAYS;
	return u;
}

void
usage_free(struct usage *u)
{
	struct timespec ts;

	if (u == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	usage_flush(u, (double)ts.tv_sec);
	idmap_free(u->index);
	free(u->rows);
	free(u);
}

/* The row of (customer, day, app), created when new; NULL when full. */
static struct events_app_bytes *
usage_row(struct usage *u, const char *customer, int64_t day, const char *app)
{
	char key[GW_ID_MAX + GW_NAME_MAX + 24];
	uintptr_t i;

	snprintf(key, sizeof(key), "%s\t%lld\t%s", customer, (long long)day, app);
	if ((i = (uintptr_t)idmap_get(u->index, key)) != 0)
		return &u->rows[i - 1];
	if (u->n == USAGE_ROWS_MAX)
		return NULL;
	if (u->n == u->cap) {
		size_t ncap = u->cap ? u->cap * 2 : 1024;
		struct events_app_bytes *nr = realloc(u->rows, ncap * sizeof(*nr));
		if (nr == NULL)
			return NULL;
		u->rows = nr;
		u->cap = ncap;
	}
	if (idmap_put(u->index, key, (void *)(uintptr_t)(u->n + 1)) == -1)
		return NULL;
	memset(&u->rows[u->n], 0, sizeof(u->rows[0]));
	snprintf(u->rows[u->n].customer, sizeof(u->rows[0].customer), "%s", customer);
	snprintf(u->rows[u->n].app, sizeof(u->rows[0].app), "%s", app);
	u->rows[u->n].day = day;
	return &u->rows[u->n++];
}

void
usage_add(struct usage *u, double ts, const struct gw_customer_stats *cs)
{
	int64_t t = (int64_t)ts;

	if (u == NULL || cs->n_apps == 0)
		return;
	if (t < u->day0 || t >= u->day1) {
		u->day0 = usage_day(t);
		u->day1 = usage_day(u->day0 + 90000);   /* next local midnight */
	}
	for (size_t i = 0; i < cs->n_apps && i < GW_APPS_MAX; i++) {
		const struct gw_app_bytes *a = &cs->apps[i];
		struct events_app_bytes *r;
		if (a->app[0] == '\0')
			continue;
		if ((r = usage_row(u, cs->customer, u->day0, a->app)) == NULL) {
			u->dropped++;
			continue;
		}
		r->rx_bytes += (double)a->rx_bytes;
		r->tx_bytes += (double)a->tx_bytes;
	}
}

int
usage_flush(struct usage *u, double now)
{
	struct idmap *fresh;

	u->last_flush = now;
	if (u->es == NULL || u->n == 0)
		return 0;
	if ((fresh = idmap_new()) == NULL)
		return -1;
	if (events_apps_add(u->es, u->rows, u->n, usage_day((int64_t)now -
	    (int64_t)u->keep_days * 86400)) == -1) {
		idmap_free(fresh);
		return -1;
	}
	idmap_free(u->index);
	u->index = fresh;
	u->n = 0;
	return 0;
}

void
usage_tick(struct usage *u, double now)
{
	if (u != NULL && now - u->last_flush >= u->flush_s)
		usage_flush(u, now);
}

uint64_t
usage_dropped(const struct usage *u)
{
	return u->dropped;
}
