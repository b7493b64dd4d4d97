/*
 * detect_flowind.c: per-flow indicators raised as alarms: covert channels in
 * TCP headers and timing (covert.c) and DNS tunnels (dnstunnel.c). One
 * alarm per flow direction (covert) or per (client, domain) (DNS); it stays
 * active while evidence keeps coming and clears after a quiet spell.
 */
#include <stdio.h>
#include <string.h>

#include "detect_int.h"

#define COVERT_QUIET_US 10000000ULL   /* covert_channel clears after this long without evidence */
#define DNST_QUIET_US   30000000ULL   /* dns_tunnel: likewise */

/* The customer of the sending side: tx when it is a customer's, else rx. */
static bool flowind_customer(const struct detect *d, const struct customer_match *m,
    int *cust, int *dir)
{
	if (detect_cust_valid(d, m->tx)) {
		*cust = m->tx;
		*dir = DIR_TX;
	} else {
		*cust = m->rx;
		*dir = DIR_RX;
	}
	return detect_cust_valid(d, *cust);
}

/*
 * The alarm of id when it is to fire now; NULL when it is active (its
 * evidence is refreshed), held down or the table is full. The detail is
 * formatted only for an alarm that fires: tunnel packets keep coming.
 */
static struct alarm *flowind_alarm(struct detect *d, const struct alarm_id *id,
    int cust, int dir, const struct pkt *p)
{
	struct alarm *a = detect_alarm_get(d, id, true);

	if (a == NULL)
		return NULL;
	if (a->active) {
		a->packets++;
		a->evidence_us = d->now_us;
		return NULL;
	}
	if (!detect_alarm_may_fire(d, a))
		return NULL;
	a->cust = cust;
	a->dir = dir;
	a->src = p->src;
	a->evidence_us = d->now_us;
	return a;
}

/* Fires a with detail; the source is usually a customer's own host: reported, not cut off from DPI. */
static void flowind_fire(struct detect *d, struct alarm *a, const struct pkt *p,
    double rate, const char *detail)
{
	detect_simple_fire(d, a, p, 0, rate, detail);
	detect_alarm_unflag(d, a);
}

static void flowind_covert(struct detect *d, const struct customer_match *m,
    const struct pkt *p)
{
	struct covert_finding f;
	struct alarm_id id;
	struct alarm *a;
	char why[128], detail[GW_TEXT_MAX];
	int cust, dir;

	if (!covert_packet(d->covert, p, d->th.covert_score, &f) ||
	    !flowind_customer(d, m, &cust, &dir))
		return;
	id = detect_alarm_id(K_COVERT, dir, cust, (uint32_t)f.sport << 16 | f.dport,
	    &f.src, &f.dst);
	if ((a = flowind_alarm(d, &id, cust, dir, p)) == NULL)
		return;
	snprintf(detail, sizeof(detail), "TCP %u -> %u: covert-channel score %u after %u "
	    "packets (%s)", f.sport, f.dport, f.score, f.packets,
	    covert_reasons(f.reasons, why, sizeof(why)));
	flowind_fire(d, a, p, f.score, detail);
}

static void flowind_dns(struct detect *d, const struct customer_match *m,
    const struct pkt *p)
{
	struct dnstunnel_finding f;
	struct alarm_id id;
	struct alarm *a;
	char detail[GW_TEXT_MAX];
	int cust, dir;

	if (!dnstunnel_packet(d->dnst, p, d->th.dns_queries, &f) ||
	    !flowind_customer(d, m, &cust, &dir))
		return;
	id = detect_alarm_id(K_DNSTUN, dir, cust, f.domain_hash, &f.client, NULL);
	if ((a = flowind_alarm(d, &id, cust, dir, p)) == NULL)
		return;
	snprintf(detail, sizeof(detail), "domain %s: %u queries in 60 s, %u tunnel-like, "
	    "~%u distinct names, longest label %u", f.domain, f.queries, f.suspicious,
	    f.distinct, f.max_label);
	flowind_fire(d, a, p, f.queries, detail);
}

/* See detect_int.h. */
void detect_flowind_packet(struct detect *d, const struct customer_match *m,
    const struct pkt *p)
{
	if (p->l4_proto == 6 && d->th.covert_score > 0)
		flowind_covert(d, m, p);
	else if (p->l4_proto == 17 && p->dport == 53 && d->th.dns_queries > 0)
		flowind_dns(d, m, p);
}

/* See detect_int.h. */
double detect_evidence_level(const struct detect *d, const struct alarm *a)
{
	uint64_t quiet = a->id.kind == K_COVERT ? COVERT_QUIET_US : DNST_QUIET_US;

	return d->now_us < a->evidence_us + quiet ? 1.0 : 0.0;
}
