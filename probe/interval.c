/* interval.c: per-customer per-interval counters and per-application bytes. */
#include <stdlib.h>
#include <string.h>

#include "interval.h"

struct interval_app {
	uint16_t app, category;
	uint64_t rx_bytes, tx_bytes;
};

struct interval_cust {
	uint64_t rx_bytes, tx_bytes;
	uint64_t rx_packets, tx_packets;
	uint64_t shed_packets;        /* packets without DPI/QoS (load shedding) */
	uint32_t flows_new;
	uint32_t flows_active;        /* gauge: live flows of this customer */
	uint32_t n_apps;
	uint32_t last_app;            /* index of the last app used (fast path) */
	struct interval_app *apps;    /* GW_APPS_MAX entries, allocated on first use */
	bool touched;                 /* anything counted this interval */
};

struct interval {
	size_t n;
	struct interval_cust *c;
	uint64_t length_us;
	uint64_t start_us, end_us;
	bool started;
	int *report;                  /* customer indexes being reported */
	size_t n_report;
};

struct interval *
interval_new(size_t n_customers, uint64_t interval_us)
{
	struct interval *iv;

	if (interval_us == 0)
		return NULL;
	iv = calloc(1, sizeof(*iv));
	if (iv == NULL)
		return NULL;
	iv->n = n_customers;
	iv->length_us = interval_us;
	iv->c = calloc(n_customers ? n_customers : 1, sizeof(*iv->c));
	iv->report = calloc(n_customers ? n_customers : 1, sizeof(*iv->report));
	if (iv->c == NULL || iv->report == NULL) {
		interval_free(iv);
		return NULL;
	}
	return iv;
}

void
interval_free(struct interval *iv)
{
	size_t i;

	if (iv == NULL)
		return;
	if (iv->c != NULL)
		for (i = 0; i < iv->n; i++)
			free(iv->c[i].apps);
	free(iv->c);
	free(iv->report);
	free(iv);
}

bool
interval_started(const struct interval *iv)
{
	return iv->started;
}

void
interval_start_at(struct interval *iv, uint64_t now_us)
{
	iv->start_us = now_us - now_us % iv->length_us;
	iv->end_us = iv->start_us + iv->length_us;
	iv->started = true;
}

uint64_t
interval_end_us(const struct interval *iv)
{
	return iv->end_us;
}

uint64_t
interval_length_us(const struct interval *iv)
{
	return iv->length_us;
}

/* The app entry of customer cu for app, created if needed; NULL on ENOMEM. */
static struct interval_app *
interval_app_get(struct interval_cust *cu, uint16_t app, uint16_t category)
{
	struct interval_app *a;
	uint32_t i;

	if (cu->last_app < cu->n_apps && cu->apps[cu->last_app].app == app)
		return &cu->apps[cu->last_app];
	for (i = 0; i < cu->n_apps; i++) {
		if (cu->apps[i].app == app) {
			cu->last_app = i;
			return &cu->apps[i];
		}
	}
	if (cu->apps == NULL) {
		cu->apps = malloc(GW_APPS_MAX * sizeof(*cu->apps));
		if (cu->apps == NULL)
			return NULL;
	}
	if (cu->n_apps >= GW_APPS_MAX - 1 && app != INTERVAL_APP_OTHER)
		return interval_app_get(cu, INTERVAL_APP_OTHER, 0);
	a = &cu->apps[cu->n_apps];
	a->app = app;
	a->category = category;
	a->rx_bytes = a->tx_bytes = 0;
	cu->last_app = cu->n_apps++;
	return a;
}

void
interval_account(struct interval *iv, int tx_c, int rx_c, uint32_t ip_bytes,
    uint16_t app, uint16_t category)
{
	struct interval_cust *cu;
	struct interval_app *a;

	if (tx_c >= 0 && (size_t)tx_c < iv->n) {
		cu = &iv->c[tx_c];
		cu->tx_bytes += ip_bytes;
		cu->tx_packets++;
		cu->touched = true;
		if ((a = interval_app_get(cu, app, category)) != NULL)
			a->tx_bytes += ip_bytes;
	}
	if (rx_c >= 0 && (size_t)rx_c < iv->n && rx_c != tx_c) {
		cu = &iv->c[rx_c];
		cu->rx_bytes += ip_bytes;
		cu->rx_packets++;
		cu->touched = true;
		if ((a = interval_app_get(cu, app, category)) != NULL)
			a->rx_bytes += ip_bytes;
	}
}

void
interval_move_app(struct interval *iv, int c, uint16_t from, uint16_t to,
    uint16_t to_category, uint64_t rx_bytes, uint64_t tx_bytes)
{
	struct interval_cust *cu;
	struct interval_app *src = NULL, *dst;
	uint32_t i;

	if (c < 0 || (size_t)c >= iv->n || from == to)
		return;
	cu = &iv->c[c];
	for (i = 0; i < cu->n_apps; i++)
		if (cu->apps[i].app == from)
			src = &cu->apps[i];
	if (src == NULL)
		return;
	if (rx_bytes > src->rx_bytes)
		rx_bytes = src->rx_bytes;
	if (tx_bytes > src->tx_bytes)
		tx_bytes = src->tx_bytes;
	dst = interval_app_get(cu, to, to_category);
	if (dst == NULL || dst == src)
		return;
	src->rx_bytes -= rx_bytes;
	src->tx_bytes -= tx_bytes;
	dst->rx_bytes += rx_bytes;
	dst->tx_bytes += tx_bytes;
}

void
interval_flow_new(struct interval *iv, int c)
{
	if (c < 0 || (size_t)c >= iv->n)
		return;
	iv->c[c].flows_new++;
	iv->c[c].flows_active++;
	iv->c[c].touched = true;
}

void
interval_shed(struct interval *iv, int c)
{
	if (c < 0 || (size_t)c >= iv->n)
		return;
	iv->c[c].shed_packets++;
	iv->c[c].touched = true;
}

void
interval_flow_gone(struct interval *iv, int c)
{
	if (c < 0 || (size_t)c >= iv->n || iv->c[c].flows_active == 0)
		return;
	iv->c[c].flows_active--;
}

size_t
interval_close_prepare(struct interval *iv)
{
	size_t i;

	iv->n_report = 0;
	for (i = 0; i < iv->n; i++)
		if (iv->c[i].touched || iv->c[i].flows_active > 0)
			iv->report[iv->n_report++] = (int)i;
	return iv->n_report;
}

static void
interval_copy_name(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
interval_fill_apps(struct interval_cust *cu, const struct interval_names *names,
    struct gw_customer_stats *out)
{
	uint32_t i;
	struct interval_app *a;

	out->n_apps = 0;
	for (i = 0; i < cu->n_apps && out->n_apps < GW_APPS_MAX; i++) {
		a = &cu->apps[i];
		if (a->rx_bytes == 0 && a->tx_bytes == 0)
			continue;   /* emptied by interval_move_app */
		interval_copy_name(out->apps[out->n_apps].app, GW_NAME_MAX,
		    a->app == INTERVAL_APP_OTHER ? "Other" :
		    names->app(a->app, names->ctx));
		interval_copy_name(out->apps[out->n_apps].category, GW_NAME_MAX,
		    a->app == INTERVAL_APP_OTHER ? "Other" :
		    names->category(a->category, names->ctx));
		out->apps[out->n_apps].rx_bytes = a->rx_bytes;
		out->apps[out->n_apps].tx_bytes = a->tx_bytes;
		out->n_apps++;
	}
}

int
interval_fill(struct interval *iv, size_t k, const struct interval_names *names,
    struct gw_customer_stats *out)
{
	struct interval_cust *cu;
	int c;

	if (k >= iv->n_report)
		return -1;
	c = iv->report[k];
	cu = &iv->c[c];
	memset(out, 0, sizeof(*out));
	interval_copy_name(out->customer, GW_ID_MAX, names->customer(c, names->ctx));
	out->rx_bytes = cu->rx_bytes;
	out->tx_bytes = cu->tx_bytes;
	out->rx_packets = cu->rx_packets;
	out->tx_packets = cu->tx_packets;
	out->flows_new = cu->flows_new;
	out->flows_active = cu->flows_active;
	out->shed_packets = cu->shed_packets;
	interval_fill_apps(cu, names, out);
	cu->rx_bytes = cu->tx_bytes = cu->rx_packets = cu->tx_packets = 0;
	cu->shed_packets = 0;
	cu->flows_new = 0;
	cu->n_apps = 0;
	cu->last_app = 0;
	cu->touched = false;
	return c;
}

void
interval_next(struct interval *iv)
{
	size_t k;
	struct interval_cust *cu;

	/* Customers not filled by the caller are reset too, so nothing leaks over. */
	for (k = 0; k < iv->n_report; k++) {
		cu = &iv->c[iv->report[k]];
		cu->rx_bytes = cu->tx_bytes = cu->rx_packets = cu->tx_packets = 0;
		cu->shed_packets = 0;
		cu->flows_new = 0;
		cu->n_apps = 0;
		cu->touched = false;
	}
	iv->n_report = 0;
	iv->start_us = iv->end_us;
	iv->end_us += iv->length_us;
}
