/* respond.c: countermeasure policy core: lifetime, probes, policy entry points, command results, expiry, manual bans. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "respond_int.h"

static const char *const rs_flood_kinds[] = {
	"syn_flood", "udp_flood", "icmp_flood",
};


/* Loads the bans in force from the store (operator restart). */
static int
rs_load(struct respond *r)
{
	struct countermeasure *rows;
	size_t n;

	if (events_cm_in_force(r->es, &rows, &n) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (r->n_bans == RESPOND_BANS_MAX) {
			log_err("respond: more than %d bans in force in the "
			    "store; the rest stay pending there",
			    RESPOND_BANS_MAX);
			break;
		}
		memset(&r->bans[r->n_bans], 0, sizeof(r->bans[0]));
		r->bans[r->n_bans++].cm = rows[i];
	}
	free(rows);
	r->st.in_force = r->n_bans;
	if (n > 0)
		log_info("respond: %zu bans in force restored", r->n_bans);
	return 0;
}

struct respond *
respond_new(const struct respond_config *cfg, struct events *es,
    respond_send_fn send, void *ctx)
{
	struct respond *r;

	if (es == NULL || send == NULL)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (cfg != NULL)
		r->cfg = *cfg;
	if (r->cfg.ban_timeout_s == 0)
		r->cfg.ban_timeout_s = 600;
	if (r->cfg.hook_timeout_s == 0)
		r->cfg.hook_timeout_s = 10;
	pthread_mutex_init(&r->qlock, NULL);
	pthread_cond_init(&r->qcond, NULL);
	r->es = es;
	r->send = send;
	r->ctx = ctx;
	r->next_cmd_id = events_cm_max_command_id(es) + 1;
	r->probes = idmap_new();
	r->bans = calloc(RESPOND_BANS_MAX, sizeof(*r->bans));
	if (r->probes == NULL || r->bans == NULL || rs_load(r) == -1) {
		respond_free(r);
		return NULL;
	}
	return r;
}

void
respond_free(struct respond *r)
{
	if (r == NULL)
		return;
	hook_kill_all(r);
	idmap_free(r->probes);
	free(r->bans);
	pthread_cond_destroy(&r->qcond);
	pthread_mutex_destroy(&r->qlock);
	free(r);
}

void
respond_stats_get(const struct respond *r, struct respond_stats *out)
{
	if (r == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = r->st;
}

static void
rs_resend(struct respond *r, const char *probe, double now)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_bans; i++) {
		struct rs_ban *b = &r->bans[i];

		if (strcmp(b->cm.scope, probe) != 0 &&
		    strcmp(b->cm.scope, CM_SCOPE_GLOBAL) != 0)
			continue;
		if (b->cm.expires_ts <= now)
			continue;	/* respond_tick lifts it */
		if (bantable_send_one(r, probe, &b->cm, 0, false,
		    bantable_remaining(&b->cm, now)) == 0) {
			n++;
			b->n_sent++;
			if (b->cm.sent_ts == 0)
				b->cm.sent_ts = now;
		}
		bantable_row_update(r, &b->cm);
	}
	if (n > 0)
		log_info("respond: %zu bans re-sent to probe %s", n, probe);
}

/* Adds probe to the known set; true when it was new. */
static bool
rs_probe_add(struct respond *r, const char *probe_id)
{
	if (idmap_get(r->probes, probe_id) != NULL)
		return false;
	if (idmap_put(r->probes, probe_id, (void *)1) == -1) {
		log_err("respond: out of memory adding probe %s", probe_id);
		return false;
	}
	return true;
}

void
respond_probe_seen(struct respond *r, const char *probe_id,
    const char *address, double now)
{
	struct respond_cidr c;

	if (r == NULL || probe_id == NULL || !gw_id_valid(probe_id))
		return;
	if (address != NULL && respond_cidr_parse(address, &c) == 0 &&
	    !policy_cidr_allowed(r, &c) && r->cfg.n_allow < RESPOND_ALLOW_MAX) {
		r->cfg.allow[r->cfg.n_allow++] = c;
		log_info("respond: probe %s address %s is never banned",
		    probe_id, address);
	}
	if (rs_probe_add(r, probe_id))
		rs_resend(r, probe_id, now);
}

void
respond_probe_hello(struct respond *r, const char *probe_id, double now)
{
	if (r == NULL || probe_id == NULL || !gw_id_valid(probe_id))
		return;
	rs_probe_add(r, probe_id);
	rs_resend(r, probe_id, now);
}


static bool
rs_is_flood(const char *kind)
{
	for (size_t i = 0; i < sizeof(rs_flood_kinds) /
	    sizeof(rs_flood_kinds[0]); i++)
		if (strcmp(kind, rs_flood_kinds[i]) == 0)
			return true;
	return false;
}

void
respond_event(struct respond *r, const char *probe_id,
    const struct gw_event *ev, double now)
{
	char reason[GW_TEXT_MAX], err[GW_TEXT_MAX];
	struct rs_ban_req req;

	if (r == NULL || probe_id == NULL || ev == NULL || ev->cleared)
		return;
	if (strcmp(ev->kind, "distributed_attack") == 0) {
		/* Only correlate's own decision, never a probe's say-so. */
		if (strcmp(probe_id, CORRELATE_OPERATOR) == 0)
			hook_decide(r, ev, now);
		return;
	}
	if (!rs_is_flood(ev->kind) || strcmp(ev->severity, "high") != 0 ||
	    ev->src[0] == '\0' || !gw_id_valid(probe_id))
		return;
	snprintf(reason, sizeof(reason), "%s from %s to %s (%s) at %.0f pps, "
	    "reported by %s", ev->kind, ev->src, ev->dst, ev->customer,
	    ev->rate_pps, probe_id);
	memset(&req, 0, sizeof(req));
	req.address = ev->src;
	req.scope = probe_id;
	req.customer = ev->customer;
	req.reason = reason;
	req.decided_by = "policy:flood";
	req.timeout_s = r->cfg.ban_timeout_s;
	bantable_ban(r, &req, now, err, sizeof(err));
}

void
respond_global(struct respond *r, const struct correlate_global *g,
    double now)
{
	char reason[GW_TEXT_MAX], err[GW_TEXT_MAX];
	struct rs_ban_req req;
	size_t o;

	if (r == NULL || g == NULL || g->src[0] == '\0')
		return;
	o = (size_t)snprintf(reason, sizeof(reason), "%s from %s reported by "
	    "%zu probes:", g->kind, g->src, g->n_probes);
	for (size_t i = 0; i < g->n_probes && o < sizeof(reason); i++)
		o += (size_t)snprintf(reason + o, sizeof(reason) - o, " %s",
		    g->probes[i]);
	for (size_t i = 0; i < g->n_probes; i++)
		rs_probe_add(r, g->probes[i]);
	memset(&req, 0, sizeof(req));
	req.address = g->src;
	req.scope = CM_SCOPE_GLOBAL;
	req.customer = g->customer;
	req.reason = reason;
	req.decided_by = "policy:global";
	req.timeout_s = r->cfg.ban_timeout_s;
	bantable_ban(r, &req, now, err, sizeof(err));
}

/* Finds the remembered command id; NULL when unknown. */
static struct rs_cmd *
rs_cmd_find(struct respond *r, uint64_t id)
{
	for (size_t i = 0; id != 0 && i < RS_CMDS_MAX; i++)
		if (r->cmds[i].id == id)
			return &r->cmds[i];
	return NULL;
}

/* A result for an unban command: noted in the row, state unchanged. */
static void
rs_unban_result(struct respond *r, const struct rs_cmd *c,
    const struct gw_command_result *res, double now)
{
	struct countermeasure cm;

	if (events_cm_get(r->es, c->cm_id, &cm) == -1)
		return;
	snprintf(cm.result_message, sizeof(cm.result_message), "unban at %.40s: "
	    "%s%s%.180s", c->probe, res->ok ? "ok" : "failed",
	    res->message[0] ? ": " : "", res->message);
	if (cm.action == CM_UNBAN && res->ok && cm.applied_ts == 0)
		cm.applied_ts = now;
	bantable_row_update(r, &cm);
}

void
respond_command_result(struct respond *r, const char *probe_id,
    const struct gw_command_result *res, double now)
{
	struct rs_ban *ban = NULL;
	struct rs_cmd *c;

	if (r == NULL || res == NULL || (c = rs_cmd_find(r, res->id)) == NULL) {
		log_debug("respond: result for unknown command %llu",
		    res != NULL ? (unsigned long long)res->id : 0ULL);
		return;
	}
	if (probe_id != NULL && strcmp(probe_id, c->probe) != 0)
		log_warn("respond: result for command %llu from %s, sent to %s",
		    (unsigned long long)res->id, probe_id, c->probe);
	c->id = 0;
	if (c->unban) {
		rs_unban_result(r, c, res, now);
		return;
	}
	for (size_t i = 0; i < r->n_bans && ban == NULL; i++)
		if (r->bans[i].cm.id == c->cm_id)
			ban = &r->bans[i];
	if (ban == NULL)
		return;	/* lifted meanwhile */
	snprintf(ban->cm.result_message, sizeof(ban->cm.result_message),
	    "%s: %s%s%.200s", c->probe, res->ok ? "ok" : "failed",
	    res->message[0] ? ": " : "", res->message);
	if (res->ok) {
		ban->n_ok++;
		ban->cm.state = CM_ACTIVE;
		if (ban->cm.applied_ts == 0)
			ban->cm.applied_ts = now;
		bantable_row_update(r, &ban->cm);
		return;
	}
	ban->n_fail++;
	log_warn("respond: ban %llu of %s refused by %s: %s",
	    (unsigned long long)ban->cm.id, ban->cm.address, c->probe,
	    res->message);
	if (ban->n_ok == 0 && ban->n_fail >= ban->n_sent) {
		ban->cm.state = CM_FAILED;
		bantable_row_update(r, &ban->cm);
		bantable_remove(r, ban);
		return;
	}
	bantable_row_update(r, &ban->cm);
}

void
respond_tick(struct respond *r, double now)
{
	size_t i;

	if (r == NULL)
		return;
	/* Backwards: rs_lift moves the last ban into slot i. */
	for (i = r->n_bans; i-- > 0;) {
		if (r->bans[i].cm.expires_ts <= now) {
			r->st.expired++;
			bantable_lift(r, &r->bans[i], CM_EXPIRED, 0, now);
		}
	}
	hook_reap(r, now);
	hook_expire(r, now);
}

/* ---- the API ---- */

uint64_t
respond_manual_ban(struct respond *r, const struct respond_manual *m,
    double now, char *err, size_t errlen)
{
	char by[CM_BY_MAX];
	struct rs_ban_req req;

	if (r == NULL || m == NULL) {
		snprintf(err, errlen, "no request");
		return 0;
	}
	memset(&req, 0, sizeof(req));
	req.scope = m->scope != NULL ? m->scope : CM_SCOPE_GLOBAL;
	if (strcmp(req.scope, CM_SCOPE_GLOBAL) != 0 &&
	    idmap_get(r->probes, req.scope) == NULL) {
		snprintf(err, errlen, "unknown probe \"%.64s\"", req.scope);
		return 0;
	}
	if (m->user == NULL || !gw_id_valid(m->user)) {
		snprintf(err, errlen, "a valid user name is required");
		return 0;
	}
	snprintf(by, sizeof(by), "api:%s", m->user);
	req.address = m->address;
	req.prefix_len = m->prefix_len;
	req.reason = m->reason != NULL ? m->reason : "manual";
	req.decided_by = by;
	req.timeout_s = m->timeout_s ? m->timeout_s : r->cfg.ban_timeout_s;
	return bantable_ban(r, &req, now, err, errlen);
}

/* Writes the audit row of a manual unban into cm; its id or 0. */
static uint64_t
rs_unban_row(struct respond *r, const struct respond_manual *m,
    const char *addr, unsigned plen, size_t lifted, double now,
    struct countermeasure *out)
{
	struct countermeasure cm;

	memset(&cm, 0, sizeof(cm));
	cm.action = CM_UNBAN;
	snprintf(cm.address, sizeof(cm.address), "%s", addr);
	cm.prefix_len = plen;
	snprintf(cm.scope, sizeof(cm.scope), "%s", m->scope != NULL ?
	    m->scope : CM_SCOPE_GLOBAL);
	snprintf(cm.reason, sizeof(cm.reason), "%.200s (%zu bans lifted)",
	    m->reason != NULL ? m->reason : "manual", lifted);
	snprintf(cm.decided_by, sizeof(cm.decided_by), "api:%s", m->user);
	cm.decided_ts = now;
	cm.sent_ts = now;
	cm.lifted_ts = now;
	cm.state = CM_LIFTED;
	if (events_cm_add(r->es, &cm) == -1)
		return 0;
	*out = cm;
	return cm.id;
}

uint64_t
respond_manual_unban(struct respond *r, const struct respond_manual *m,
    double now, char *err, size_t errlen)
{
	struct countermeasure row;
	struct respond_cidr c;
	char addr[GW_ADDR_MAX];
	struct rs_ban *ban;
	uint64_t id;
	size_t lifted = 0;

	if (r == NULL || m == NULL || m->user == NULL || !gw_id_valid(m->user)
	    || m->address == NULL || respond_cidr_parse(m->address, &c) == -1 ||
	    m->prefix_len > (c.family == AF_INET ? 32u : 128u)) {
		snprintf(err, errlen, "invalid request (address, prefix or "
		    "user)");
		return 0;
	}
	if (m->prefix_len != 0)
		c.prefix_len = m->prefix_len;
	for (unsigned b = c.prefix_len; b < (c.family == AF_INET ? 32u : 128u);
	    b++)
		c.addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	policy_cidr_text(&c, addr);
	for (size_t i = 0; i < r->n_bans; i++)
		if (bantable_match(&r->bans[i], addr, c.prefix_len, m->scope))
			lifted++;
	if (lifted == 0) {
		snprintf(err, errlen, "no ban in force for %s/%u%s%.64s", addr,
		    c.prefix_len, m->scope != NULL ? " at " : "",
		    m->scope != NULL ? m->scope : "");
		return 0;
	}
	/* The unban row first, so the probes' results land on it. */
	if ((id = rs_unban_row(r, m, addr, c.prefix_len, lifted, now,
	    &row)) == 0) {
		snprintf(err, errlen, "cannot write the audit row");
		return 0;
	}
	while ((ban = bantable_find(r, addr, c.prefix_len, m->scope)) != NULL)
		bantable_lift(r, ban, CM_LIFTED, id, now);
	return id;
}

/* Allocates a command id for other commands (list_bans, inspect) so ids never collide. */
uint64_t
respond_command_id(struct respond *r)
{
	return r->next_cmd_id++;
}

