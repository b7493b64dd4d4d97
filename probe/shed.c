/* shed.c: token bucket in packet time deciding which new flows get DPI and QoS under overload. */
#include <stdio.h>
#include <stdlib.h>

#include "shed.h"

#define SHED_UNIT 1000000ULL   /* tokens are kept in millionths of a packet */
#define SHED_TARGET_DEFAULT 0.8
#define SHED_EWMA 0.3          /* weight of a new DPI/QoS cost sample */
#define SHED_MIN_PPS 100       /* auto never goes below this: some flows stay measured */
#define SHED_GROW 1.5          /* auto: budget growth per window at most */
#define SHED_SLACK 1.25        /* auto: unlimited again above offered work x this */
#define SHED_K_STEP 0.2        /* auto: correction changes by this share per window at most */
#define SHED_K_MIN 0.05

struct shed {
	uint64_t rate_pps;
	uint64_t cap_u;            /* bucket size, millionths */
	uint64_t tokens_u;
	uint64_t last_us;
	uint64_t burst_cfg;        /* configured burst; 0 = rate / 10 */
	bool     started;
	bool     auto_budget;
	bool     shedding;         /* a flow was shed since the bucket was last full / window */
	bool     window_shed;      /* auto: a flow was shed in the current window */
	double   target;
	double   k;                /* auto: correction of the cost model, from the last windows */
	char     why[SHED_REASON_MAX];   /* auto: the last window's reasoning */
	struct shed_stats st;
};

/* Sets rate and bucket size (full bucket when the rate changes from unlimited). */
static void
shed_set_rate(struct shed *s, uint64_t pps)
{
	uint64_t burst = s->burst_cfg > 0 ? s->burst_cfg : pps / 10;

	if (burst == 0)
		burst = 1;
	if (burst > UINT64_MAX / SHED_UNIT)
		burst = UINT64_MAX / SHED_UNIT;
	if (s->rate_pps == 0) {
		s->started = false;
		s->tokens_u = burst * SHED_UNIT;
	}
	s->rate_pps = pps;
	s->cap_u = burst * SHED_UNIT;
	if (s->tokens_u > s->cap_u)
		s->tokens_u = s->cap_u;
	s->st.budget_pps = pps;
}

struct shed *
shed_new(const struct shed_config *cfg)
{
	struct shed *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->burst_cfg = cfg->burst;
	s->auto_budget = cfg->auto_budget;
	s->target = cfg->target_share > 0 ? cfg->target_share : SHED_TARGET_DEFAULT;
	s->k = 1;
	if (!s->auto_budget && cfg->max_pps > 0) {
		shed_set_rate(s, cfg->max_pps);
		snprintf(s->why, sizeof(s->why), "fixed budget of %llu packets/s (--shed-pps)",
		    (unsigned long long)cfg->max_pps);
	}
	return s;
}

void
shed_free(struct shed *s)
{
	free(s);
}

/* Adds the tokens earned since the last packet (1 token per 1/rate s = rate per us in millionths). */
static void
shed_refill(struct shed *s, uint64_t ts_us)
{
	uint64_t gap_us, room_u;

	if (!s->started) {
		s->started = true;
		s->last_us = ts_us;
		return;
	}
	if (ts_us <= s->last_us)
		return;
	gap_us = ts_us - s->last_us;
	s->last_us = ts_us;
	room_u = s->cap_u - s->tokens_u;
	/* rate_pps tokens per 1e6 us = rate_pps millionths per us */
	if (gap_us >= room_u / s->rate_pps + 1)
		s->tokens_u = s->cap_u;
	else
		s->tokens_u += gap_us * s->rate_pps;
	if (s->tokens_u >= s->cap_u) {
		s->tokens_u = s->cap_u;
		if (!s->auto_budget)
			s->shedding = false;   /* fixed: a full bucket ends an episode */
	}
}

/* Counts a shed flow; the first one of an episode records why. */
static void
shed_count(struct shed *s)
{
	s->st.shed_flows++;
	s->window_shed = true;
	if (s->shedding)
		return;
	s->shedding = true;
	s->st.starts++;
	snprintf(s->st.reason, sizeof(s->st.reason), "%s", s->why);
}

bool
shed_admit(struct shed *s, uint64_t ts_us, bool new_flow)
{
	if (s->rate_pps == 0) {
		if (new_flow)
			s->st.admitted_flows++;
		return true;
	}
	shed_refill(s, ts_us);
	if (new_flow && s->tokens_u < SHED_UNIT) {
		shed_count(s);
		return false;
	}
	if (new_flow)
		s->st.admitted_flows++;
	s->tokens_u = s->tokens_u >= SHED_UNIT ? s->tokens_u - SHED_UNIT : 0;
	return true;
}

/* The budget one window's load allows (packets/s), from the work cost estimate. */
static double
shed_afford(const struct shed *s, const struct shed_load *l)
{
	double work_us = (double)l->work_packets * s->st.work_ns / 1000;
	double base_us = (double)l->cpu_us - work_us;
	double spare_us = s->target * (double)l->window_us - (base_us > 0 ? base_us : 0);
	double pps = spare_us > 0 ? spare_us * 1000 / s->st.work_ns * 1e6 / (double)l->window_us : 0;

	return pps > SHED_MIN_PPS ? pps : SHED_MIN_PPS;
}

uint64_t
shed_auto_update(struct shed *s, const struct shed_load *l)
{
	double share, pps, offered;

	if (!s->auto_budget || l->window_us == 0)
		return s->rate_pps;
	if (!s->window_shed)
		s->shedding = false;
	s->window_shed = false;
	if (l->samples > 0) {
		double ns = (double)l->sample_ns / (double)l->samples;

		s->st.work_ns = s->st.work_ns > 0 ? s->st.work_ns + SHED_EWMA * (ns - s->st.work_ns) : ns;
	}
	share = (double)l->cpu_us / (double)l->window_us;
	s->st.load_share = share;
	if (s->st.work_ns <= 0)
		return s->rate_pps;          /* no DPI/QoS cost known yet */
	/*
	 * The model misses costs that follow the admitted flows outside the
	 * timed work (flow ends, DPI state in the caches): while a budget is in
	 * force, the share it gave corrects it, a fifth at most per window.
	 */
	if (s->rate_pps != 0 && share > 0) {
		double r = s->target / share;

		r = r < 1 - SHED_K_STEP ? 1 - SHED_K_STEP : r > 1 + SHED_K_STEP ? 1 + SHED_K_STEP : r;
		s->k *= r;
		s->k = s->k < SHED_K_MIN ? SHED_K_MIN : s->k > 1 ? 1 : s->k;
	}
	pps = shed_afford(s, l) * s->k;
	if (pps < SHED_MIN_PPS)
		pps = SHED_MIN_PPS;
	offered = (double)(l->work_packets + l->shed_packets) * 1e6 / (double)l->window_us;
	if (share <= s->target) {
		if (s->rate_pps == 0)
			return 0;                /* fits, and nothing is limited */
		if (pps > (double)s->rate_pps * SHED_GROW)
			pps = (double)s->rate_pps * SHED_GROW;
		if (pps >= offered * SHED_SLACK) {
			s->rate_pps = 0;         /* all the work offered fits again */
			s->st.budget_pps = 0;
			s->k = 1;
			return 0;
		}
	}
	snprintf(s->why, sizeof(s->why), "auto budget %.0f packets/s: capture thread needed %.0f %% "
	    "of a core for %.1f s of traffic (target %.0f %%), DPI/QoS %.2f us per packet "
	    "(model x %.2f), %.0f packets/s of it offered", pps, 100 * share,
	    (double)l->window_us / 1e6, 100 * s->target, s->st.work_ns / 1000, s->k, offered);
	shed_set_rate(s, (uint64_t)pps);
	return s->rate_pps;
}

void
shed_get_stats(const struct shed *s, struct shed_stats *out)
{
	*out = s->st;
}
