/* bantable.c: the bans in force: deciding, extending, lifting, and the commands that carry them to probes. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "respond_int.h"

/* ---- commands ---- */

static void
bantable_cmd_remember(struct respond *r, uint64_t id, uint64_t cm_id, bool unban,
    const char *probe)
{
	struct rs_cmd *c = &r->cmds[r->cmd_next];

	r->cmd_next = (r->cmd_next + 1) % RS_CMDS_MAX;
	c->id = id;
	c->cm_id = cm_id;
	c->unban = unban;
	snprintf(c->probe, sizeof(c->probe), "%s", probe);
}

/* Sends a ban (timeout_s > 0) or unban for cm to one probe; 0 or -1. */
int
bantable_send_one(struct respond *r, const char *probe, struct countermeasure *cm,
    uint64_t result_cm_id, bool unban, uint32_t timeout_s)
{
	struct gw_command cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.id = r->next_cmd_id++;
	snprintf(cmd.kind, sizeof(cmd.kind), "%s", unban ? "unban" : "ban");
	snprintf(cmd.address, sizeof(cmd.address), "%s", cm->address);
	cmd.prefix_len = cm->prefix_len;
	cmd.timeout_s = unban ? 0 : timeout_s;
	snprintf(cmd.reason, sizeof(cmd.reason), "%s", cm->reason);
	cm->command_id = cmd.id;
	bantable_cmd_remember(r, cmd.id, result_cm_id ? result_cm_id : cm->id, unban,
	    probe);
	if (r->send(probe, &cmd, r->ctx) == -1) {
		r->st.send_failures++;
		log_info("respond: %s %s/%u not delivered to probe %s (sent "
		    "again when it says Hello)", cmd.kind, cmd.address,
		    cmd.prefix_len, probe);
		return -1;
	}
	r->st.commands_sent++;
	return 0;
}

struct rs_push {
	struct respond *r;
	struct rs_ban  *ban;
	uint64_t        result_cm_id;  /* row that gets the results, 0 = ban's */
	bool            unban;
	uint32_t        timeout_s;
	size_t          ok;
};

static void
bantable_push_probe(const char *key, void *value, void *ctx)
{
	struct rs_push *p = ctx;

	(void)value;
	if (bantable_send_one(p->r, key, &p->ban->cm, p->result_cm_id, p->unban,
	    p->timeout_s) == 0) {
		p->ok++;
		if (!p->unban)
			p->ban->n_sent++;
	}
}

/* Remaining time of a ban in whole seconds (at least 1). */
uint32_t
bantable_remaining(const struct countermeasure *cm, double now)
{
	double left = ceil(cm->expires_ts - now);

	if (left < 1)
		return 1;
	return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

/*
 * Sends ban (or its unban) to every probe of its scope; returns the number
 * of probes it was delivered to.
 */
static size_t
bantable_push(struct respond *r, struct rs_ban *ban, bool unban,
    uint64_t result_cm_id, double now)
{
	struct rs_push p = { r, ban, result_cm_id, unban,
	    bantable_remaining(&ban->cm, now), 0 };

	if (strcmp(ban->cm.scope, CM_SCOPE_GLOBAL) == 0)
		idmap_foreach(r->probes, bantable_push_probe, &p);
	else
		bantable_push_probe(ban->cm.scope, (void *)1, &p);
	if (!unban && p.ok > 0 && ban->cm.sent_ts == 0)
		ban->cm.sent_ts = now;
	return p.ok;
}

/* ---- bans ---- */

/* True when ban is for address/prefix_len in scope (NULL = any scope). */
bool
bantable_match(const struct rs_ban *ban, const char *address,
    uint32_t prefix_len, const char *scope)
{
	return ban->cm.prefix_len == prefix_len &&
	    strcmp(ban->cm.address, address) == 0 &&
	    (scope == NULL || strcmp(ban->cm.scope, scope) == 0);
}

struct rs_ban *
bantable_find(struct respond *r, const char *address, uint32_t prefix_len,
    const char *scope)
{
	for (size_t i = 0; i < r->n_bans; i++)
		if (bantable_match(&r->bans[i], address, prefix_len, scope))
			return &r->bans[i];
	return NULL;
}

void
bantable_remove(struct respond *r, struct rs_ban *ban)
{
	size_t i = (size_t)(ban - r->bans);

	if (i < r->n_bans - 1)
		r->bans[i] = r->bans[r->n_bans - 1];
	r->n_bans--;
	r->st.in_force = r->n_bans;
}

void
bantable_row_update(struct respond *r, const struct countermeasure *cm)
{
	if (events_cm_update(r->es, cm) == -1)
		log_err("respond: countermeasure %llu: audit row update failed",
		    (unsigned long long)cm->id);
}

/* Extends ban to now + timeout_s (never shortens it) and re-sends it. */
static uint64_t
bantable_extend(struct respond *r, struct rs_ban *ban, uint32_t timeout_s,
    double now)
{
	if (now + timeout_s > ban->cm.expires_ts)
		ban->cm.expires_ts = now + timeout_s;
	r->st.extended++;
	bantable_push(r, ban, false, 0, now);
	bantable_row_update(r, &ban->cm);
	log_info("respond: ban %llu of %s/%u (%s) extended to %.0f s",
	    (unsigned long long)ban->cm.id, ban->cm.address,
	    ban->cm.prefix_len, ban->cm.scope, ban->cm.expires_ts - now);
	return ban->cm.id;
}

/* Validates and normalises req's address into c and text; 0 or -1 with err. */
static int
bantable_target(const struct respond *r, const struct rs_ban_req *req,
    struct respond_cidr *c, char text[GW_ADDR_MAX], char *err, size_t errlen)
{
	unsigned bits;

	if (req->address == NULL || respond_cidr_parse(req->address, c) == -1) {
		snprintf(err, errlen, "invalid address \"%.60s\"",
		    req->address != NULL ? req->address : "");
		return -1;
	}
	bits = c->family == AF_INET ? 32 : 128;
	if (req->prefix_len > bits) {
		snprintf(err, errlen, "prefix length %u out of range",
		    req->prefix_len);
		return -1;
	}
	if (req->prefix_len != 0)
		c->prefix_len = req->prefix_len;
	if (c->prefix_len < (c->family == AF_INET ? RS_MIN_PREFIX_V4 :
	    RS_MIN_PREFIX_V6)) {
		snprintf(err, errlen, "prefix /%u is too wide to ban (at least "
		    "/%d expected)", c->prefix_len, c->family == AF_INET ?
		    RS_MIN_PREFIX_V4 : RS_MIN_PREFIX_V6);
		return -1;
	}
	for (unsigned b = c->prefix_len; b < bits; b++)
		c->addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	if (policy_cidr_allowed(r, c)) {
		snprintf(err, errlen, "%.60s/%u is allowlisted and can never "
		    "be banned", req->address, c->prefix_len);
		return -1;
	}
	policy_cidr_text(c, text);
	return 0;
}

/* Fills a new ban row from req. */
static void
bantable_row(const struct rs_ban_req *req, const char *addr, unsigned plen,
    double now, struct countermeasure *cm)
{
	memset(cm, 0, sizeof(*cm));
	cm->action = CM_BAN;
	snprintf(cm->address, sizeof(cm->address), "%s", addr);
	cm->prefix_len = plen;
	snprintf(cm->scope, sizeof(cm->scope), "%s", req->scope);
	snprintf(cm->customer, sizeof(cm->customer), "%s",
	    req->customer != NULL ? req->customer : "");
	snprintf(cm->reason, sizeof(cm->reason), "%s",
	    req->reason != NULL ? req->reason : "");
	snprintf(cm->decided_by, sizeof(cm->decided_by), "%s", req->decided_by);
	cm->decided_ts = now;
	cm->expires_ts = now + req->timeout_s;
	cm->state = CM_PENDING;
}

/*
 * Decides a ban: refuses allowlisted targets, extends a ban in force (the
 * same scope, or a global one), else writes the row and sends the commands.
 * Returns the row id, or 0 with err.
 */
uint64_t
bantable_ban(struct respond *r, const struct rs_ban_req *req, double now,
    char *err, size_t errlen)
{
	struct respond_cidr c;
	char addr[GW_ADDR_MAX];
	struct rs_ban *ban;

	if (bantable_target(r, req, &c, addr, err, errlen) == -1) {
		r->st.refused_allow++;
		log_info("respond: no ban: %s", err);
		return 0;
	}
	if ((ban = bantable_find(r, addr, c.prefix_len, req->scope)) != NULL ||
	    (ban = bantable_find(r, addr, c.prefix_len, CM_SCOPE_GLOBAL)) != NULL)
		return bantable_extend(r, ban, req->timeout_s, now);
	if (r->n_bans == RESPOND_BANS_MAX) {
		r->st.refused_full++;
		snprintf(err, errlen, "too many bans in force (%d)",
		    RESPOND_BANS_MAX);
		log_warn("respond: no ban of %s: %s", addr, err);
		return 0;
	}
	ban = &r->bans[r->n_bans];
	memset(ban, 0, sizeof(*ban));
	bantable_row(req, addr, c.prefix_len, now, &ban->cm);
	/* The row first: a crash after this re-sends the ban at start-up. */
	if (events_cm_add(r->es, &ban->cm) == -1) {
		snprintf(err, errlen, "cannot write the audit row");
		return 0;
	}
	r->n_bans++;
	r->st.in_force = r->n_bans;
	r->st.bans++;
	log_info("respond: ban %llu: %s/%u at %s for %u s (%s; %s)",
	    (unsigned long long)ban->cm.id, addr, c.prefix_len, req->scope,
	    req->timeout_s, ban->cm.decided_by, ban->cm.reason);
	bantable_push(r, ban, false, 0, now);
	bantable_row_update(r, &ban->cm);
	return ban->cm.id;
}

/* Lifts ban: unban commands, row to `state`, removal from the in-force set. */
void
bantable_lift(struct respond *r, struct rs_ban *ban, enum cm_state state,
    uint64_t result_cm_id, double now)
{
	bantable_push(r, ban, true, result_cm_id, now);
	ban->cm.state = state;
	ban->cm.lifted_ts = now;
	bantable_row_update(r, &ban->cm);
	log_info("respond: ban %llu of %s/%u (%s) %s",
	    (unsigned long long)ban->cm.id, ban->cm.address,
	    ban->cm.prefix_len, ban->cm.scope, cm_state_name(state));
	bantable_remove(r, ban);
}

/* ---- probes ---- */

