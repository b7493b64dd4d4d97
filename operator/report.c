/* report.c: capacity reports (percentiles, totals, busy hour, least-squares trend, top-N) over 300 s RRD rows. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "idmap.h"
#include "log.h"
#include "report.h"

#define REPORT_DAY_S        86400
#define REPORT_MONTH_DAYS   30.4375
#define REPORT_CACHE_S      300
#define REPORT_SLA_EVENTS   EVENTS_LIST_MAX

/* ---- pure computations ---- */

static void
report_swap(double *v, size_t i, size_t j)
{
	double t = v[i];

	v[i] = v[j];
	v[j] = t;
}

/*
 * The k-th smallest (0-based) of v[0..n), by quickselect with a
 * median-of-three pivot (expected O(n); v is reordered). No NANs in v.
 */
static double
report_select(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (hi > lo) {
		size_t mid = lo + (hi - lo) / 2, i = lo, j = hi;
		double p;
		if (v[mid] < v[lo])
			report_swap(v, mid, lo);
		if (v[hi] < v[lo])
			report_swap(v, hi, lo);
		if (v[hi] < v[mid])
			report_swap(v, hi, mid);
		p = v[mid];
		/* Hoare partition: [lo, j] <= p <= [i, hi] */
		while (i <= j) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i <= j) {
				report_swap(v, i, j);
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j && j != (size_t)-1 && i > j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];   /* between the parts: equal to the pivot */
	}
	return v[k];
}

double
report_percentile(double *v, size_t n, double pct)
{
	size_t rank;

	if (n == 0 || !(pct > 0) || pct > 100)
		return NAN;
	/* ceil(pct/100 * n) in integers where pct is whole, to avoid 0.95*n rounding */
	if (pct == floor(pct))
		rank = ((size_t)pct * n + 99) / 100;
	else
		rank = (size_t)ceil(pct / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return report_select(v, n, rank - 1);
}

int
report_lsq(const double *x, const double *y, size_t n, struct report_fit *out)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0;

	memset(out, 0, sizeof(*out));
	if (n < 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
	}
	mx /= (double)n;
	my /= (double)n;
	for (size_t i = 0; i < n; i++) {
		double dx = x[i] - mx, dy = y[i] - my;
		sxx += dx * dx;
		sxy += dx * dy;
		syy += dy * dy;
	}
	if (sxx == 0)
		return -1;
	out->n = n;
	out->slope = sxy / sxx;
	out->intercept = my - out->slope * mx;
	out->r = syy > 0 ? sxy / sqrt(sxx * syy) : 0;
	return 0;
}

/* Local midnight of y-m-d (m may be out of 1..12: mktime normalises). */
static time_t
report_midnight(int y, int m, int d)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

void
report_month(time_t t, int months_back, time_t *from, time_t *to)
{
	struct tm tm;

	localtime_r(&t, &tm);
	*from = report_midnight(tm.tm_year + 1900, tm.tm_mon + 1 - months_back, 1);
	*to = report_midnight(tm.tm_year + 1900, tm.tm_mon + 2 - months_back, 1);
}

int
report_parse_date(const char *s, time_t *out)
{
	int y, m, d = 1, n = 0;
	struct tm tm;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && s[n] == '\0' &&
	    n == 10) {
		;
	} else if (d = 1, n = 0, sscanf(s, "%4d-%2d%n", &y, &m, &n) == 2 &&
	    s[n] == '\0' && n == 7) {
		;
	} else {
		return 0;
	}
	if (y < 1971 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	t = report_midnight(y, m, d);
	localtime_r(&t, &tm);
	if (tm.tm_mday != d || tm.tm_mon != m - 1)
		return -1;   /* e.g. 2026-02-30 */
	*out = t;
	return 1;
}

/* ---- plans ---- */

struct report_plan {
	double down_bps, up_bps;
};

struct report_plans {
	struct idmap *map;           /* customer -> struct report_plan * (owned) */
	struct report_plan **all;    /* for freeing */
	size_t n, cap;
	bool   has_default;
	struct report_plan dflt;
};

int
report_parse_rate(const char *s, double *bps)
{
	char *end;
	double v, mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v) || v <= 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		mult = 1e3, end++;
	else if (*end == 'M')
		mult = 1e6, end++;
	else if (*end == 'G')
		mult = 1e9, end++;
	if (*end != '\0' || v * mult > 1e13)
		return -1;
	*bps = v * mult;
	return 0;
}

static int
report_plan_line(const struct config_line *l, void *ctx, char *err,
    size_t errlen)
{
	struct report_plans *p = ctx;
	struct report_plan pl, *np, **nv;
	char buf[64], *slash;

	if (l->nwords != 2 || strlen(l->words[1]) >= sizeof(buf)) {
		snprintf(err, errlen, "expected \"CUSTOMER DOWN/UP\" (e.g. c101 "
		    "100M/20M)");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", l->words[1]);
	if ((slash = strchr(buf, '/')) == NULL) {
		snprintf(err, errlen, "plan \"%.64s\": expected DOWN/UP", l->words[1]);
		return -1;
	}
	*slash = '\0';
	if (report_parse_rate(buf, &pl.down_bps) == -1 ||
	    report_parse_rate(slash + 1, &pl.up_bps) == -1) {
		snprintf(err, errlen, "plan \"%.64s\": rates are bit/s > 0 with an "
		    "optional k, M or G suffix", l->words[1]);
		return -1;
	}
	if (strcmp(l->words[0], "default") == 0) {
		p->dflt = pl;
		p->has_default = true;
		return 0;
	}
	if (!gw_id_valid(l->words[0])) {
		snprintf(err, errlen, "\"%.64s\" is not a customer id", l->words[0]);
		return -1;
	}
	if (idmap_get(p->map, l->words[0]) != NULL) {
		snprintf(err, errlen, "customer \"%.64s\" has two plans", l->words[0]);
		return -1;
	}
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;
		if ((nv = realloc(p->all, ncap * sizeof(*nv))) == NULL)
			goto oom;
		p->all = nv;
		p->cap = ncap;
	}
	if ((np = malloc(sizeof(*np))) == NULL)
		goto oom;
	*np = pl;
	if (idmap_put(p->map, l->words[0], np) == -1) {
		free(np);
		goto oom;
	}
	p->all[p->n++] = np;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static struct report_plans *
report_plans_new(void)
{
	struct report_plans *p = calloc(1, sizeof(*p));

	if (p != NULL && (p->map = idmap_new()) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

struct report_plans *
report_plans_load(const char *path)
{
	struct report_plans *p = report_plans_new();

	if (p != NULL && config_parse_file(path, report_plan_line, p) == -1) {
		report_plans_free(p);
		return NULL;
	}
	return p;
}

struct report_plans *
report_plans_parse(const char *name, const char *text)
{
	struct report_plans *p = report_plans_new();

	if (p != NULL && config_parse_string(name, text, report_plan_line, p) == -1) {
		report_plans_free(p);
		return NULL;
	}
	return p;
}

void
report_plans_free(struct report_plans *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->all[i]);
	free(p->all);
	idmap_free(p->map);
	free(p);
}

bool
report_plan_get(const struct report_plans *p, const char *customer,
    double *down_bps, double *up_bps)
{
	const struct report_plan *pl;

	if (p == NULL)
		return false;
	pl = idmap_get(p->map, customer);
	if (pl == NULL && p->has_default)
		pl = &p->dflt;
	if (pl == NULL)
		return false;
	*down_bps = pl->down_bps;
	*up_bps = pl->up_bps;
	return true;
}

/* ---- one customer's figures ---- */

/* Percentile, mean, peak of n samples in v (bit/s; v is reordered). */
static void
report_dir_finish(struct report_dir *d, double *v, size_t n, double step)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += v[i];
	d->total_bytes = sum / 8.0 * step;
	d->mean_bps = n ? sum / (double)n : NAN;
	d->p95_bps = report_percentile(v, n, REPORT_PCT);
	if (n == 0)
		d->peak_bps = NAN;
}

static void
report_peak(struct report_dir *d, double bps, time_t t)
{
	if (d->peak_ts == 0 || bps > d->peak_bps) {
		d->peak_bps = bps;
		d->peak_ts = t;
	}
}

static void
report_qos(struct report_qos *q, const double *col, size_t lo, size_t hi,
    double *tmp)
{
	size_t n = 0;
	double sum = 0;

	for (size_t r = lo; col != NULL && r < hi; r++) {
		if (isnan(col[r]))
			continue;
		tmp[n++] = col[r];
		sum += col[r];
	}
	q->known = n;
	q->mean = n ? sum / (double)n : NAN;
	q->p95 = report_percentile(tmp, n, REPORT_PCT);
}

/* Rows [lo, hi) of rows whose interval lies in [from, to]. */
static void
report_range(const struct store_rows *rows, time_t from, time_t to,
    size_t *lo, size_t *hi)
{
	time_t step = (time_t)rows->step, a = from - rows->start, b = to - rows->start;

	/* row r: start + r step >= from, and start + (r + 1) step <= to */
	*lo = a <= 0 ? 0 : (size_t)((a + step - 1) / step);
	*hi = b <= 0 ? 0 : (size_t)(b / step);
	if (*lo > rows->n)
		*lo = rows->n;
	if (*hi > rows->n)
		*hi = rows->n;
	if (*hi < *lo)
		*hi = *lo;
}

/* Busy hour from per-hour sums. */
static void
report_busy(struct report_customer *out, const double *sum, const size_t *cnt)
{
	out->busy_hour = -1;
	out->busy_hour_bps = NAN;
	for (int h = 0; h < 24; h++) {
		out->hour_mean_bps[h] = cnt[h] ? sum[h] / (double)cnt[h] : NAN;
		if (cnt[h] && (out->busy_hour < 0 ||
		    out->hour_mean_bps[h] > out->busy_hour_bps)) {
			out->busy_hour = h;
			out->busy_hour_bps = out->hour_mean_bps[h];
		}
	}
}

int
report_compute(const struct store_rows *rows, time_t from, time_t to,
    struct report_customer *out)
{
	const double *rx = rows->v[STORE_DS_RX_BYTES], *tx = rows->v[STORE_DS_TX_BYTES];
	double *a, *b, *m, hsum[24] = { 0 };
	size_t hcnt[24] = { 0 }, lo, hi, n = 0;
	time_t step = (time_t)rows->step, hstart = 0;
	int hour = 0;

	out->from = from;
	out->to = to;
	out->step_s = rows->step;
	out->exact = rows->step == STORE_HIST_STEP_S;
	memset(&out->rx, 0, sizeof(out->rx));
	out->tx = out->max = out->rx;
	report_range(rows, from, to, &lo, &hi);
	out->rows = hi - lo;
	a = malloc((out->rows + 1) * sizeof(double));
	b = malloc((out->rows + 1) * sizeof(double));
	m = malloc((out->rows + 1) * sizeof(double));
	if (a == NULL || b == NULL || m == NULL) {
		free(a), free(b), free(m);
		return -1;
	}
	for (size_t r = lo; rx != NULL && tx != NULL && r < hi; r++) {
		time_t end = rows->start + (time_t)(r + 1) * step, start = end - step;
		struct tm tm;
		if (isnan(rx[r]) || isnan(tx[r]))
			continue;
		if (hstart == 0 || start < hstart || start >= hstart + 3600) {
			/* local hours are whole hours of the clock: one conversion each */
			localtime_r(&start, &tm);
			hour = tm.tm_hour;
			hstart = start - tm.tm_min * 60 - tm.tm_sec;
		}
		a[n] = rx[r] * 8.0;
		b[n] = tx[r] * 8.0;
		m[n] = a[n] > b[n] ? a[n] : b[n];
		report_peak(&out->rx, a[n], end);
		report_peak(&out->tx, b[n], end);
		report_peak(&out->max, m[n], end);
		hsum[hour] += a[n] + b[n];
		hcnt[hour]++;
		n++;
	}
	out->known = n;
	out->unknown_share = out->rows ? 1.0 - (double)n / (double)out->rows : 1.0;
	report_dir_finish(&out->rx, a, n, (double)step);
	report_dir_finish(&out->tx, b, n, (double)step);
	report_dir_finish(&out->max, m, n, (double)step);
	out->max.total_bytes = NAN;   /* not a volume */
	report_busy(out, hsum, hcnt);
	report_qos(&out->rtt_wan, rows->v[STORE_DS_RTT_WAN_MS], lo, hi, a);
	report_qos(&out->jitter, rows->v[STORE_DS_JITTER_MS], lo, hi, a);
	report_qos(&out->rtp_loss, rows->v[STORE_DS_RTP_LOSS_PCT], lo, hi, a);
	report_qos(&out->dns, rows->v[STORE_DS_DNS_MS], lo, hi, a);
	free(a), free(b), free(m);
	return 0;
}

/* Fits one direction's daily values and projects saturation. */
static void
report_fit_dir(struct report_trend *t, const time_t *ts, const double *y,
    size_t n, double plan)
{
	double x[REPORT_DAYS_MAX], last;
	struct report_fit f;

	memset(t, 0, sizeof(*t));
	t->days = n;
	t->growth_pct_month = NAN;
	t->slope_bps_day = t->intercept_bps = t->r = NAN;
	t->has_plan = plan > 0;
	t->plan_bps = plan;
	if (n == 0)
		return;
	t->t0 = ts[0];
	t->last_ts = ts[n - 1];
	for (size_t i = 0; i < n; i++)
		x[i] = (double)(ts[i] - ts[0]) / REPORT_DAY_S;
	if (n < REPORT_TREND_MIN || report_lsq(x, y, n, &f) == -1)
		return;
	t->fitted = true;
	t->slope_bps_day = f.slope;
	t->intercept_bps = f.intercept;
	t->r = f.r;
	last = f.intercept + f.slope * x[n - 1];
	if (last > 0)
		t->growth_pct_month = 100.0 * f.slope * REPORT_MONTH_DAYS / last;
	if (!t->has_plan || !(f.slope > 0))
		return;
	t->sat80_ts = t->t0 + (time_t)llround((0.8 * plan - f.intercept) /
	    f.slope * REPORT_DAY_S);
	t->sat100_ts = t->t0 + (time_t)llround((plan - f.intercept) / f.slope *
	    REPORT_DAY_S);
}

/* Appends the day [d0, d1) when at least half of its rows are known. */
static void
report_day(const struct store_rows *rows, time_t d0, time_t d1, double *tmp,
    struct report_customer *out)
{
	const double *rx = rows->v[STORE_DS_RX_BYTES], *tx = rows->v[STORE_DS_TX_BYTES];
	size_t lo, hi, n = 0, i;
	double rxp, txp;

	report_range(rows, d0, d1, &lo, &hi);
	for (size_t r = lo; r < hi; r++)
		if (!isnan(rx[r]) && !isnan(tx[r]))
			tmp[n++] = rx[r] * 8.0;
	if (n == 0 || 2 * n < (size_t)((d1 - d0) / (time_t)rows->step))
		return;
	rxp = report_percentile(tmp, n, REPORT_PCT);
	n = 0;
	for (size_t r = lo; r < hi; r++)
		if (!isnan(rx[r]) && !isnan(tx[r]))
			tmp[n++] = tx[r] * 8.0;
	txp = report_percentile(tmp, n, REPORT_PCT);
	if (out->ndaily == REPORT_DAYS_MAX) {   /* keep the latest */
		memmove(out->daily_ts, out->daily_ts + 1,
		    (REPORT_DAYS_MAX - 1) * sizeof(out->daily_ts[0]));
		memmove(out->daily_p95_rx, out->daily_p95_rx + 1,
		    (REPORT_DAYS_MAX - 1) * sizeof(double));
		memmove(out->daily_p95_tx, out->daily_p95_tx + 1,
		    (REPORT_DAYS_MAX - 1) * sizeof(double));
		out->ndaily--;
	}
	i = out->ndaily++;
	out->daily_ts[i] = d0;
	out->daily_p95_rx[i] = rxp;
	out->daily_p95_tx[i] = txp;
}

int
report_trend(const struct store_rows *rows, time_t to, double plan_down,
    double plan_up, struct report_customer *out)
{
	time_t first, d0;
	struct tm tm;
	double *tmp;
	int day = 0;

	out->ndaily = 0;
	if (rows->step == STORE_HIST_STEP_S && rows->n > 0 &&
	    rows->v[STORE_DS_RX_BYTES] != NULL && rows->v[STORE_DS_TX_BYTES] != NULL) {
		if ((tmp = malloc(rows->n * sizeof(double))) == NULL)
			return -1;
		first = rows->start;
		localtime_r(&first, &tm);
		d0 = report_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		for (;;) {
			time_t d1 = report_midnight(tm.tm_year + 1900, tm.tm_mon + 1,
			    tm.tm_mday + ++day);
			if (d1 > to)
				break;
			if (d0 >= first && d0 >= to -
			    (time_t)REPORT_TREND_DAYS * REPORT_DAY_S)
				report_day(rows, d0, d1, tmp, out);
			d0 = d1;
		}
		free(tmp);
	}
	report_fit_daily(out, plan_down, plan_up);
	return 0;
}

void
report_fit_daily(struct report_customer *out, double plan_down, double plan_up)
{
	report_fit_dir(&out->trend_rx, out->daily_ts, out->daily_p95_rx,
	    out->ndaily, plan_down);
	report_fit_dir(&out->trend_tx, out->daily_ts, out->daily_p95_tx,
	    out->ndaily, plan_up);
}

/*
 * Puts the stored daily values of the trend window that precede the days
 * computed from the 300 s rows in front of them (the latest REPORT_DAYS_MAX).
 */
static void
report_daily_merge(struct events *es, const char *customer, time_t to,
    struct report_customer *out)
{
	struct events_daily d[REPORT_DAYS_MAX];
	time_t until = out->ndaily ? out->daily_ts[0] : to;
	size_t n = 0, keep;

	if (es == NULL || events_daily_get(es, customer,
	    to - (time_t)REPORT_TREND_DAYS * REPORT_DAY_S, until, d,
	    REPORT_DAYS_MAX, &n) == -1 || n == 0)
		return;
	keep = out->ndaily + n > REPORT_DAYS_MAX ? REPORT_DAYS_MAX - out->ndaily : n;
	memmove(out->daily_ts + keep, out->daily_ts, out->ndaily * sizeof(time_t));
	memmove(out->daily_p95_rx + keep, out->daily_p95_rx, out->ndaily * sizeof(double));
	memmove(out->daily_p95_tx + keep, out->daily_p95_tx, out->ndaily * sizeof(double));
	for (size_t i = 0; i < keep; i++) {
		const struct events_daily *e = &d[n - keep + i];
		out->daily_ts[i] = (time_t)e->day;
		out->daily_p95_rx[i] = e->rx_p95_bps;
		out->daily_p95_tx[i] = e->tx_p95_bps;
	}
	out->ndaily += keep;
}

double
report_sla_minutes(const double *ts, const bool *cleared, size_t n,
    time_t from, time_t to, double now)
{
	double total = 0, open = NAN, end;

	for (size_t i = 0; i <= n; i++) {
		bool last = i == n;
		if (!last && !cleared[i] && isnan(open)) {
			open = ts[i];
			continue;
		}
		if (!last && !cleared[i])
			continue;   /* already open */
		if (isnan(open))
			continue;   /* a clear without an open breach */
		end = last ? (now < (double)to ? now : (double)to) : ts[i];
		if (end > (double)to)
			end = (double)to;
		if (end > (double)from)
			total += end - (open > (double)from ? open : (double)from);
		open = NAN;
	}
	return total > 0 ? total / 60.0 : 0;
}

/* ---- the service ---- */

struct report_cache {
	time_t from, to, made;
	struct report_top_row *rows;
	size_t n;
};

struct report {
	struct store  *store;
	struct events *events;
	struct report_plans *plans;
	unsigned       cache_s;
	pthread_mutex_t mu;       /* the cache; computing holds it (one at a time) */
	struct report_cache cache;
	/* daily roll-up (events writer thread only) */
	struct store_id *ids;
	size_t   nids, next;
	time_t   listed_day;
	struct idmap *rolled;     /* customer -> time_t * last day looked at (owned) */
};

struct report *
report_new(const struct report_config *cfg)
{
	struct report *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->store = cfg->store;
	r->events = cfg->events;
	r->plans = cfg->plans;
	r->cache_s = cfg->cache_s ? cfg->cache_s : REPORT_CACHE_S;
	if ((r->rolled = idmap_new()) == NULL) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

static void
report_free_rolled(const char *key, void *value, void *ctx)
{
	(void)key;
	(void)ctx;
	free(value);
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	free(r->cache.rows);
	free(r->ids);
	idmap_foreach(r->rolled, report_free_rolled, NULL);
	idmap_free(r->rolled);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static double
report_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * SLA minutes of customer from the events database (the oldest
 * REPORT_SLA_EVENTS breaches overlapping the period).
 */
static int
report_sla(struct report *r, const char *customer, struct report_customer *out)
{
	double st[REPORT_SLA_EVENTS], en[REPORT_SLA_EVENTS];
	double ts[2 * REPORT_SLA_EVENTS];
	bool cl[2 * REPORT_SLA_EVENTS];
	size_t nb = 0, n = 0;

	out->has_sla = false;
	out->sla_breach_minutes = NAN;
	if (r->events == NULL || events_sla_breaches(r->events, customer,
	    (double)out->from, (double)out->to, st, en, REPORT_SLA_EVENTS,
	    &nb) == -1)
		return -1;
	for (size_t i = 0; i < nb; i++) {   /* as open/clear pairs, oldest first */
		ts[n] = st[i];
		cl[n++] = false;
		if (!isnan(en[i])) {
			ts[n] = en[i];
			cl[n++] = true;
		}
	}
	out->has_sla = true;
	out->sla_breach_minutes = report_sla_minutes(ts, cl, n, out->from,
	    out->to, report_now());
	return 0;
}

/* Top applications of the local days starting in [from, to). */
static void
report_apps(struct report *r, const char *customer, struct report_customer *out)
{
	struct events_app_bytes a[REPORT_APPS_MAX];
	struct tm tm;
	time_t d0;
	size_t n = 0;

	out->has_apps = false;
	out->napps = 0;
	if (r->events == NULL)
		return;
	localtime_r(&out->from, &tm);
	d0 = report_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	if (d0 < out->from)
		d0 = report_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday + 1);
	if (events_apps_top(r->events, customer, d0, out->to, a, REPORT_APPS_MAX,
	    &n) == -1)
		return;
	out->has_apps = true;
	for (size_t i = 0; i < n; i++) {
		snprintf(out->apps[i].app, sizeof(out->apps[i].app), "%s", a[i].app);
		out->apps[i].rx_bytes = a[i].rx_bytes;
		out->apps[i].tx_bytes = a[i].tx_bytes;
	}
	out->napps = n;
}

int
report_customer_get(struct report *r, const char *customer, time_t from,
    time_t to, struct report_customer *out, bool *missing, char *err,
    size_t errlen)
{
	struct store_rows_req q = { .customer = customer, .from = from,
	    .to = to, .clip = true };
	struct store_rows wide, period;
	struct store_rows *use = &wide;
	double down = 0, up = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&period, 0, sizeof(period));
	snprintf(out->customer, sizeof(out->customer), "%s", customer);
	/*
	 * One read of the 300 s rows the file holds for the trend window and the
	 * period; a second, coarser one only when the period starts before them.
	 */
	if (q.from > to - (time_t)REPORT_TREND_DAYS * REPORT_DAY_S)
		q.from = to - (time_t)REPORT_TREND_DAYS * REPORT_DAY_S;
	if (store_rows_read(r->store, &q, &wide, missing, err, errlen) == -1)
		return -1;
	if (wide.start > from || wide.step != STORE_HIST_STEP_S) {
		q.from = from;
		q.clip = false;
		if (store_rows_read(r->store, &q, &period, missing, err,
		    errlen) == -1)
			goto out;
		use = &period;
	}
	report_plan_get(r->plans, customer, &down, &up);
	if (report_compute(use, from, to, out) == -1 ||
	    report_trend(&wide, to, down, up, out) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	report_daily_merge(r->events, customer, to, out);
	report_fit_daily(out, down, up);
	report_sla(r, customer, out);
	report_apps(r, customer, out);
	rc = 0;
out:
	store_rows_clear(&wide);
	store_rows_clear(&period);
	return rc;
}

static const char *const report_key_names[] = {
	"p95", "total", "growth", "saturation", "sla",
};

int
report_key_parse(const char *s, enum report_key *out)
{
	for (size_t i = 0; i < sizeof(report_key_names) / sizeof(*report_key_names); i++)
		if (strcmp(s, report_key_names[i]) == 0) {
			*out = (enum report_key)i;
			return 0;
		}
	return -1;
}

const char *
report_key_name(enum report_key k)
{
	return (size_t)k < sizeof(report_key_names) / sizeof(*report_key_names) ?
	    report_key_names[k] : "?";
}

static double
report_max_nan(double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	return a > b ? a : b;
}

static time_t
report_min_ts(time_t a, time_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static void
report_top_fill(const struct report_customer *c, struct report_top_row *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->customer, sizeof(t->customer), "%s", c->customer);
	t->p95_bps = c->max.p95_bps;
	t->rx_p95_bps = c->rx.p95_bps;
	t->tx_p95_bps = c->tx.p95_bps;
	t->total_bytes = c->rx.total_bytes + c->tx.total_bytes;
	t->growth_pct_month = report_max_nan(c->trend_rx.growth_pct_month,
	    c->trend_tx.growth_pct_month);
	t->saturation_ts = report_min_ts(c->trend_rx.sat100_ts,
	    c->trend_tx.sat100_ts);
	t->sla_breach_minutes = c->has_sla ? c->sla_breach_minutes : NAN;
	t->unknown_share = c->unknown_share;
	t->exact = c->exact;
}

/* Computes (or reuses) the rows of every customer for the period. Holds r->mu. */
static int
report_cache_fill(struct report *r, time_t from, time_t to, char *err,
    size_t errlen)
{
	struct store_id *ids = NULL;
	struct report_top_row *rows;
	struct report_customer *c;
	size_t n = 0, k = 0;
	time_t now = time(NULL);

	if (r->cache.rows != NULL && r->cache.from == from && r->cache.to == to &&
	    now - r->cache.made < (time_t)r->cache_s)
		return 0;
	if (store_customers(r->store, &ids, &n) == -1) {
		snprintf(err, errlen, "cannot list the RRD directory");
		return -1;
	}
	rows = calloc(n ? n : 1, sizeof(*rows));
	c = malloc(sizeof(*c));
	if (rows == NULL || c == NULL) {
		free(ids), free(rows), free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char e[256];
		bool missing;
		if (report_customer_get(r, ids[i].id, from, to, c, &missing, e,
		    sizeof(e)) == -1)
			continue;   /* vanished or unreadable: not ranked */
		report_top_fill(c, &rows[k++]);
	}
	free(ids);
	free(c);
	free(r->cache.rows);
	r->cache = (struct report_cache){ .from = from, .to = to, .made = now,
	    .rows = rows, .n = k };
	return 0;
}

/* Sort state: qsort has no context argument, so the key travels in a thread-local. */
static __thread const struct report_top_req *report_sort_req;

/* NAN / "none" sorts last in either order. */
static int
report_top_cmp(const void *pa, const void *pb)
{
	const struct report_top_row *a = pa, *b = pb;
	const struct report_top_req *q = report_sort_req;
	double x, y;
	int c;

	switch (q->by) {
	case REPORT_BY_P95: x = a->p95_bps; y = b->p95_bps; break;
	case REPORT_BY_TOTAL: x = a->total_bytes; y = b->total_bytes; break;
	case REPORT_BY_GROWTH: x = a->growth_pct_month; y = b->growth_pct_month; break;
	case REPORT_BY_SLA: x = a->sla_breach_minutes; y = b->sla_breach_minutes; break;
	default:
		x = a->saturation_ts ? (double)a->saturation_ts : NAN;
		y = b->saturation_ts ? (double)b->saturation_ts : NAN;
	}
	if (isnan(x) || isnan(y))
		c = isnan(x) - isnan(y);
	else
		c = (q->ascending ? 1 : -1) * ((x > y) - (x < y));
	return c != 0 ? c : strcmp(a->customer, b->customer);
}

int
report_top(struct report *r, const struct report_top_req *q,
    struct report_top_row **rows, size_t *n, size_t *total, char *err,
    size_t errlen)
{
	size_t lim = q->limit;

	*rows = NULL;
	*n = *total = 0;
	if (lim < 1 || lim > REPORT_TOP_MAX || q->from >= q->to) {
		snprintf(err, errlen, "limit 1..%d, from < to", REPORT_TOP_MAX);
		return -1;
	}
	pthread_mutex_lock(&r->mu);
	if (report_cache_fill(r, q->from, q->to, err, errlen) == -1) {
		pthread_mutex_unlock(&r->mu);
		return -1;
	}
	report_sort_req = q;
	qsort(r->cache.rows, r->cache.n, sizeof(*r->cache.rows), report_top_cmp);
	*total = r->cache.n;
	if (q->offset < r->cache.n) {
		*n = r->cache.n - q->offset < lim ? r->cache.n - q->offset : lim;
		if ((*rows = malloc(*n * sizeof(**rows))) == NULL) {
			pthread_mutex_unlock(&r->mu);
			*n = 0;
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(*rows, r->cache.rows + q->offset, *n * sizeof(**rows));
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* ---- daily roll-up ---- */

static time_t
report_day_start(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return report_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* The last day stored for customer (from memory, else the database). */
static time_t *
report_rolled(struct report *r, const char *customer, time_t today0)
{
	struct events_daily d[REPORT_DAYS_MAX];
	time_t *last = idmap_get(r->rolled, customer);
	size_t n = 0;

	if (last != NULL)
		return last;
	if ((last = calloc(1, sizeof(*last))) == NULL)
		return NULL;
	if (events_daily_get(r->events, customer, today0 -
	    (time_t)REPORT_ROLLUP_KEEP_DAYS * REPORT_DAY_S, today0, d,
	    REPORT_DAYS_MAX, &n) == 0 && n > 0)
		*last = (time_t)d[n - 1].day;
	if (idmap_put(r->rolled, customer, last) == -1) {
		free(last);
		return NULL;
	}
	return last;
}

/* Stores the complete days of one customer not stored yet. */
static void
report_rollup_one(struct report *r, const char *customer, time_t today0)
{
	struct store_rows_req q = { .customer = customer, .to = today0, .clip = true };
	struct events_daily d[REPORT_DAYS_MAX];
	struct report_customer *c;
	struct store_rows rows;
	time_t *last, yesterday0 = report_day_start(today0 - REPORT_DAY_S / 2);
	size_t n = 0;
	bool missing;
	char err[256];

	if ((last = report_rolled(r, customer, today0)) == NULL || *last >= yesterday0)
		return;
	q.from = *last > 0 ? *last + REPORT_DAY_S : today0 - 40 * REPORT_DAY_S;
	if (q.from < today0 - 40 * REPORT_DAY_S)
		q.from = today0 - 40 * REPORT_DAY_S;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	if (store_rows_read(r->store, &q, &rows, &missing, err, sizeof(err)) == 0) {
		report_trend(&rows, today0, 0, 0, c);
		for (size_t i = 0; i < c->ndaily; i++) {
			if (c->daily_ts[i] <= *last)
				continue;
			snprintf(d[n].customer, sizeof(d[n].customer), "%s", customer);
			d[n].day = c->daily_ts[i];
			d[n].rx_p95_bps = c->daily_p95_rx[i];
			d[n++].tx_p95_bps = c->daily_p95_tx[i];
		}
		if (events_daily_put(r->events, d, n, today0 -
		    (time_t)REPORT_ROLLUP_KEEP_DAYS * REPORT_DAY_S) == 0)
			*last = yesterday0;
		store_rows_clear(&rows);
	}
	free(c);
}

void
report_rollup_tick(struct report *r, time_t now, size_t budget)
{
	time_t today0;

	if (r == NULL || r->events == NULL)
		return;
	today0 = report_day_start(now);
	if (r->listed_day != today0) {
		free(r->ids);
		r->ids = NULL;
		r->nids = r->next = 0;
		if (store_customers(r->store, &r->ids, &r->nids) == -1)
			return;   /* retried next tick */
		r->listed_day = today0;
	}
	while (budget > 0 && r->next < r->nids) {
		report_rollup_one(r, r->ids[r->next++].id, today0);
		budget--;
	}
}
