/*
 * quality_acc.c: what quality.c and the analysers (quality_tcp.c,
 * quality_dns.c, quality_rtp.c) share: the per-customer accumulators and the
 * item observer. It calls nothing above it, so data flows one way:
 * quality.c -> analysers -> quality_acc.c (and quality_hist.c, quality_pool.c).
 */
#include "quality_int.h"

/* Installs or removes the item observer; ctx is borrowed. */
void quality_set_observer(struct quality *q, quality_obs_fn fn, void *ctx)
{
	q->obs = fn;
	q->obs_ctx = ctx;
}

/* See quality_int.h. */
bool quality_observing(const struct quality *q)
{
	return q->obs != NULL;
}

/* See quality_int.h. */
void quality_observe(struct quality *q, const struct quality_obs *o)
{
	if (q->obs != NULL)
		q->obs(o, q->obs_ctx);
}

/* See quality_int.h. */
struct qcust *quality_cust_of(struct quality *q, int32_t c)
{
	if (c < 0 || (size_t)c >= q->n_customers)
		return NULL;
	return &q->cust[c];
}

/* See quality_int.h. */
struct qcust *quality_cust(struct quality *q, const struct qflow *qf)
{
	return quality_cust_of(q, qf->customer);
}
