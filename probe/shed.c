/* shed.c: token bucket in packet time deciding which new flows get DPI and QoS under overload. */
#include <stdlib.h>

#include "shed.h"

#define SHED_UNIT 1000000ULL   /* tokens are kept in millionths of a packet */

struct shed {
	uint64_t rate_pps;
	uint64_t cap_u;            /* bucket size, millionths */
	uint64_t tokens_u;
	uint64_t last_us;
	bool     started;
	struct shed_stats st;
};

struct shed *
shed_new(const struct shed_config *cfg)
{
	struct shed *s = calloc(1, sizeof(*s));
	uint64_t burst;

	if (s == NULL)
		return NULL;
	s->rate_pps = cfg->max_pps;
	burst = cfg->burst > 0 ? cfg->burst : cfg->max_pps / 10;
	if (burst == 0)
		burst = 1;
	if (burst > UINT64_MAX / SHED_UNIT)
		burst = UINT64_MAX / SHED_UNIT;
	s->cap_u = burst * SHED_UNIT;
	s->tokens_u = s->cap_u;
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
	if (s->tokens_u > s->cap_u)
		s->tokens_u = s->cap_u;
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
		s->st.shed_flows++;
		return false;
	}
	if (new_flow)
		s->st.admitted_flows++;
	s->tokens_u = s->tokens_u >= SHED_UNIT ? s->tokens_u - SHED_UNIT : 0;
	return true;
}

void
shed_get_stats(const struct shed *s, struct shed_stats *out)
{
	*out = s->st;
}
