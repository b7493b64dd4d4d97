/* respond.c: countermeasure policy: decides bans and hook runs, sends commands, keeps the audit rows. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "idmap.h"
#include "log.h"
#include "respond.h"

#define RS_CMDS_MAX      4096   /* outstanding commands remembered for results */
#define RS_HOOKDEC_MAX   256    /* customers with a recent hook decision */
#define RS_JSON_MAX      4096   /* hook input; fits an empty pipe's buffer */
#define RS_MIN_PREFIX_V4 16     /* wider bans are refused: too much collateral */
#define RS_MIN_PREFIX_V6 32

/* A ban in force, mirrored from its audit row. */
struct rs_ban {
	struct countermeasure cm;
	uint32_t n_sent, n_ok, n_fail;   /* commands of the current run */
};

/* A command waiting for its CommandResult. */
struct rs_cmd {
	uint64_t id;                     /* 0 = free slot */
	uint64_t cm_id;
	bool     unban;
	char     probe[GW_ID_MAX];
};

/* A running hook process. */
struct rs_hook {
	pid_t    pid;                    /* 0 = free slot */
	uint64_t cm_id;
	double   deadline;
};

/* A recent hook decision (one per customer per ban_timeout_s). */
struct rs_hookdec {
	char     customer[GW_ID_MAX];
	uint64_t cm_id;
	double   until;                  /* 0 = free slot */
};

/* A manual request handed over from an API thread (respond_submit). */
enum rs_req_state { RS_REQ_FREE = 0, RS_REQ_QUEUED, RS_REQ_RUNNING,
	RS_REQ_DONE };

struct rs_req {
	enum rs_req_state state;
	enum respond_op   op;
	uint64_t          seq;           /* FIFO order */
	char              address[GW_ADDR_MAX];
	uint32_t          prefix_len;
	bool              has_scope;
	char              scope[GW_ID_MAX];
	uint32_t          timeout_s;
	char              user[GW_ID_MAX];
	bool              has_reason;
	char              reason[GW_TEXT_MAX];
	uint64_t          id;            /* answer */
	char              err[GW_TEXT_MAX];
};

/* What a policy rule or the API wants banned. */
struct rs_ban_req {
	const char *address;
	uint32_t    prefix_len;          /* 0 = host */
	const char *scope;
	const char *customer;
	const char *reason;
	const char *decided_by;
	uint32_t    timeout_s;
};

struct respond {
	struct respond_config cfg;
	struct events        *es;        /* borrowed */
	respond_send_fn       send;
	void                 *ctx;       /* borrowed */
	struct idmap         *probes;    /* known probe ids -> (void *)1 */
	struct rs_ban        *bans;      /* RESPOND_BANS_MAX slots, n_bans used */
	size_t                n_bans;
	struct rs_cmd         cmds[RS_CMDS_MAX];
	size_t                cmd_next;
	struct rs_hook        hooks[RESPOND_HOOKS_MAX];
	struct rs_hookdec     hookdec[RS_HOOKDEC_MAX];
	uint64_t              next_cmd_id;
	struct respond_stats  st;
	pthread_mutex_t       qlock;     /* guards reqs and req_seq only */
	pthread_cond_t        qcond;
	struct rs_req         reqs[RESPOND_REQUESTS_MAX];
	uint64_t              req_seq;
};

static const char *const rs_flood_kinds[] = {
	"syn_flood", "udp_flood", "icmp_flood",
};

static const char *const rs_always_allowed[] = {
	"127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104",
};

/* ---- addresses ---- */

int
respond_cidr_parse(const char *s, struct respond_cidr *out)
{
	char buf[GW_ADDR_MAX];
	const char *slash;
	unsigned long long plen;
	size_t len, bits;

	if (s == NULL)
		return -1;
	slash = strchr(s, '/');
	len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	bits = out->family == AF_INET ? 32 : 128;
	out->prefix_len = (unsigned)bits;
	if (slash != NULL) {
		if (config_parse_u64(slash + 1, 0, bits, &plen) == -1)
			return -1;
		out->prefix_len = (unsigned)plen;
	}
	/* Host bits must be zero: "10.0.0.1/8" is a typo more often than not. */
	for (size_t b = out->prefix_len; b < bits; b++)
		if (out->addr[b / 8] & (0x80 >> (b % 8)))
			return -1;
	return 0;
}

/* True when the two prefixes share any address. */
static bool
rs_cidr_overlap(const struct respond_cidr *a, const struct respond_cidr *b)
{
	unsigned n = a->prefix_len < b->prefix_len ? a->prefix_len :
	    b->prefix_len;

	if (a->family != b->family)
		return false;
	for (unsigned i = 0; i < n; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));

		if ((a->addr[i / 8] & m) != (b->addr[i / 8] & m))
			return false;
	}
	return true;
}

static bool
rs_cidr_allowed(const struct respond *r, const struct respond_cidr *c)
{
	struct respond_cidr fixed;

	for (size_t i = 0; i < sizeof(rs_always_allowed) /
	    sizeof(rs_always_allowed[0]); i++)
		if (respond_cidr_parse(rs_always_allowed[i], &fixed) == 0 &&
		    rs_cidr_overlap(&fixed, c))
			return true;
	for (size_t i = 0; i < r->cfg.n_allow; i++)
		if (rs_cidr_overlap(&r->cfg.allow[i], c))
			return true;
	return false;
}

bool
respond_is_allowed(const struct respond *r, const char *address)
{
	struct respond_cidr c;

	if (r == NULL || respond_cidr_parse(address, &c) == -1)
		return false;
	return rs_cidr_allowed(r, &c);
}

/* Canonical text of a prefix's address (so equal bans compare equal). */
static void
rs_cidr_text(const struct respond_cidr *c, char out[GW_ADDR_MAX])
{
	if (inet_ntop(c->family, c->addr, out, GW_ADDR_MAX) == NULL)
		out[0] = '\0';
}

/* ---- config ---- */

struct rs_conf {
	struct respond_config   *rc;
	struct correlate_config *cc;
};

/* Parses an unsigned number of seconds in 1..max into *out. */
static int
rs_conf_u32(const struct config_line *l, uint64_t max, uint32_t *out,
    char *err, size_t errlen)
{
	unsigned long long v;

	if (l->nwords != 2 || config_parse_u64(l->words[1], 1, max, &v) == -1) {
		snprintf(err, errlen, "%s: expected one number in 1..%llu, "
		    "got \"%.40s\"", l->words[0], (unsigned long long)max,
		    l->nwords > 1 ? l->words[1] : "");
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
rs_conf_double(const struct config_line *l, double *out, char *err,
    size_t errlen)
{
	uint32_t v;

	if (rs_conf_u32(l, 30 * 86400, &v, err, errlen) == -1)
		return -1;
	*out = v;
	return 0;
}

static int
rs_conf_hook(const struct config_line *l, struct respond_config *rc,
    char *err, size_t errlen)
{
	if (l->nwords != 2 || l->words[1][0] != '/' ||
	    strlen(l->words[1]) >= sizeof(rc->hook)) {
		snprintf(err, errlen, "hook: expected one absolute path, got "
		    "\"%.60s\"", l->nwords > 1 ? l->words[1] : "");
		return -1;
	}
	snprintf(rc->hook, sizeof(rc->hook), "%s", l->words[1]);
	return 0;
}

static int
rs_conf_allow(const struct config_line *l, struct respond_config *rc,
    char *err, size_t errlen)
{
	if (l->nwords != 2 || rc->n_allow >= RESPOND_ALLOW_MAX ||
	    respond_cidr_parse(l->words[1], &rc->allow[rc->n_allow]) == -1) {
		snprintf(err, errlen, "allow: expected one address or CIDR "
		    "with zero host bits (at most %d lines), got \"%.60s\"",
		    RESPOND_ALLOW_MAX, l->nwords > 1 ? l->words[1] : "");
		return -1;
	}
	rc->n_allow++;
	return 0;
}

static int
rs_conf_line(const struct config_line *l, void *ctx, char *err, size_t errlen)
{
	struct rs_conf *k = ctx;
	/* Sinks for the half of the file a caller did not ask for: parsed, then dropped. */
	struct respond_config rc_dummy = { 0 };
	struct correlate_config cc_dummy = { 0 };
	struct respond_config *rc = k->rc != NULL ? k->rc : &rc_dummy;
	struct correlate_config *cc = k->cc != NULL ? k->cc : &cc_dummy;
	const char *w = l->words[0];

	if (strcmp(w, "ban_timeout_s") == 0)
		return rs_conf_u32(l, 30 * 86400, &rc->ban_timeout_s, err, errlen);
	if (strcmp(w, "hook_timeout_s") == 0)
		return rs_conf_u32(l, 3600, &rc->hook_timeout_s, err, errlen);
	if (strcmp(w, "hook") == 0)
		return rs_conf_hook(l, rc, err, errlen);
	if (strcmp(w, "allow") == 0)
		return rs_conf_allow(l, rc, err, errlen);
	if (strcmp(w, "global_min_probes") == 0)
		return rs_conf_u32(l, GW_LIST_MAX, &cc->global_min_probes, err,
		    errlen);
	if (strcmp(w, "distributed_min_sources") == 0)
		return rs_conf_u32(l, CORRELATE_DIST_SET_MAX,
		    &cc->distributed_min_sources, err, errlen);
	if (strcmp(w, "global_window_s") == 0)
		return rs_conf_double(l, &cc->global_window_s, err, errlen);
	if (strcmp(w, "distributed_window_s") == 0)
		return rs_conf_double(l, &cc->distributed_window_s, err, errlen);
	if (strcmp(w, "silent_timeout_s") == 0)
		return rs_conf_double(l, &cc->silent_timeout_s, err, errlen);
	snprintf(err, errlen, "unknown key \"%.40s\" (expected ban_timeout_s, "
	    "global_min_probes, global_window_s, distributed_min_sources, "
	    "distributed_window_s, silent_timeout_s, hook, hook_timeout_s or "
	    "allow)", w);
	return -1;
}

int
respond_config_parse(const char *name, const char *text,
    struct respond_config *rc, struct correlate_config *cc)
{
	struct rs_conf k = { rc, cc };

	if (rc != NULL)
		memset(rc, 0, sizeof(*rc));
	if (cc != NULL)
		memset(cc, 0, sizeof(*cc));
	return config_parse_string(name, text, rs_conf_line, &k);
}

int
respond_config_load(const char *path, struct respond_config *rc,
    struct correlate_config *cc)
{
	struct rs_conf k = { rc, cc };

	if (rc != NULL)
		memset(rc, 0, sizeof(*rc));
	if (cc != NULL)
		memset(cc, 0, sizeof(*cc));
	return config_parse_file(path, rs_conf_line, &k);
}

/* ---- lifetime ---- */

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
	for (size_t i = 0; i < RESPOND_HOOKS_MAX; i++) {
		if (r->hooks[i].pid <= 0)
			continue;
		kill(-r->hooks[i].pid, SIGKILL);
		waitpid(r->hooks[i].pid, NULL, 0);
	}
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

/* ---- commands ---- */

static void
rs_cmd_remember(struct respond *r, uint64_t id, uint64_t cm_id, bool unban,
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
static int
rs_send_one(struct respond *r, const char *probe, struct countermeasure *cm,
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
	rs_cmd_remember(r, cmd.id, result_cm_id ? result_cm_id : cm->id, unban,
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
rs_push_probe(const char *key, void *value, void *ctx)
{
	struct rs_push *p = ctx;

	(void)value;
	if (rs_send_one(p->r, key, &p->ban->cm, p->result_cm_id, p->unban,
	    p->timeout_s) == 0) {
		p->ok++;
		if (!p->unban)
			p->ban->n_sent++;
	}
}

/* Remaining time of a ban in whole seconds (at least 1). */
static uint32_t
rs_remaining(const struct countermeasure *cm, double now)
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
rs_push(struct respond *r, struct rs_ban *ban, bool unban,
    uint64_t result_cm_id, double now)
{
	struct rs_push p = { r, ban, result_cm_id, unban,
	    rs_remaining(&ban->cm, now), 0 };

	if (strcmp(ban->cm.scope, CM_SCOPE_GLOBAL) == 0)
		idmap_foreach(r->probes, rs_push_probe, &p);
	else
		rs_push_probe(ban->cm.scope, (void *)1, &p);
	if (!unban && p.ok > 0 && ban->cm.sent_ts == 0)
		ban->cm.sent_ts = now;
	return p.ok;
}

/* ---- bans ---- */

/* True when ban is for address/prefix_len in scope (NULL = any scope). */
static bool
rs_ban_match(const struct rs_ban *ban, const char *address,
    uint32_t prefix_len, const char *scope)
{
	return ban->cm.prefix_len == prefix_len &&
	    strcmp(ban->cm.address, address) == 0 &&
	    (scope == NULL || strcmp(ban->cm.scope, scope) == 0);
}

static struct rs_ban *
rs_ban_find(struct respond *r, const char *address, uint32_t prefix_len,
    const char *scope)
{
	for (size_t i = 0; i < r->n_bans; i++)
		if (rs_ban_match(&r->bans[i], address, prefix_len, scope))
			return &r->bans[i];
	return NULL;
}

static void
rs_ban_remove(struct respond *r, struct rs_ban *ban)
{
	size_t i = (size_t)(ban - r->bans);

	if (i < r->n_bans - 1)
		r->bans[i] = r->bans[r->n_bans - 1];
	r->n_bans--;
	r->st.in_force = r->n_bans;
}

static void
rs_row_update(struct respond *r, const struct countermeasure *cm)
{
	if (events_cm_update(r->es, cm) == -1)
		log_err("respond: countermeasure %llu: audit row update failed",
		    (unsigned long long)cm->id);
}

/* Extends ban to now + timeout_s (never shortens it) and re-sends it. */
static uint64_t
rs_ban_extend(struct respond *r, struct rs_ban *ban, uint32_t timeout_s,
    double now)
{
	if (now + timeout_s > ban->cm.expires_ts)
		ban->cm.expires_ts = now + timeout_s;
	r->st.extended++;
	rs_push(r, ban, false, 0, now);
	rs_row_update(r, &ban->cm);
	log_info("respond: ban %llu of %s/%u (%s) extended to %.0f s",
	    (unsigned long long)ban->cm.id, ban->cm.address,
	    ban->cm.prefix_len, ban->cm.scope, ban->cm.expires_ts - now);
	return ban->cm.id;
}

/* Validates and normalises req's address into c and text; 0 or -1 with err. */
static int
rs_ban_target(const struct respond *r, const struct rs_ban_req *req,
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
	if (rs_cidr_allowed(r, c)) {
		snprintf(err, errlen, "%.60s/%u is allowlisted and can never "
		    "be banned", req->address, c->prefix_len);
		return -1;
	}
	rs_cidr_text(c, text);
	return 0;
}

/* Fills a new ban row from req. */
static void
rs_ban_row(const struct rs_ban_req *req, const char *addr, unsigned plen,
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
static uint64_t
rs_ban(struct respond *r, const struct rs_ban_req *req, double now,
    char *err, size_t errlen)
{
	struct respond_cidr c;
	char addr[GW_ADDR_MAX];
	struct rs_ban *ban;

	if (rs_ban_target(r, req, &c, addr, err, errlen) == -1) {
		r->st.refused_allow++;
		log_info("respond: no ban: %s", err);
		return 0;
	}
	if ((ban = rs_ban_find(r, addr, c.prefix_len, req->scope)) != NULL ||
	    (ban = rs_ban_find(r, addr, c.prefix_len, CM_SCOPE_GLOBAL)) != NULL)
		return rs_ban_extend(r, ban, req->timeout_s, now);
	if (r->n_bans == RESPOND_BANS_MAX) {
		r->st.refused_full++;
		snprintf(err, errlen, "too many bans in force (%d)",
		    RESPOND_BANS_MAX);
		log_warn("respond: no ban of %s: %s", addr, err);
		return 0;
	}
	ban = &r->bans[r->n_bans];
	memset(ban, 0, sizeof(*ban));
	rs_ban_row(req, addr, c.prefix_len, now, &ban->cm);
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
	rs_push(r, ban, false, 0, now);
	rs_row_update(r, &ban->cm);
	return ban->cm.id;
}

/* Lifts ban: unban commands, row to `state`, removal from the in-force set. */
static void
rs_lift(struct respond *r, struct rs_ban *ban, enum cm_state state,
    uint64_t result_cm_id, double now)
{
	rs_push(r, ban, true, result_cm_id, now);
	ban->cm.state = state;
	ban->cm.lifted_ts = now;
	rs_row_update(r, &ban->cm);
	log_info("respond: ban %llu of %s/%u (%s) %s",
	    (unsigned long long)ban->cm.id, ban->cm.address,
	    ban->cm.prefix_len, ban->cm.scope, cm_state_name(state));
	rs_ban_remove(r, ban);
}

/* ---- probes ---- */

/* Sends every ban in force that applies to probe. */
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
		if (rs_send_one(r, probe, &b->cm, 0, false,
		    rs_remaining(&b->cm, now)) == 0) {
			n++;
			b->n_sent++;
			if (b->cm.sent_ts == 0)
				b->cm.sent_ts = now;
		}
		rs_row_update(r, &b->cm);
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
	    !rs_cidr_allowed(r, &c) && r->cfg.n_allow < RESPOND_ALLOW_MAX) {
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

/* ---- the upstream hook ---- */

/* Appends s to buf as a JSON string; false when it does not fit. */
static bool
rs_json_str(char *buf, size_t len, size_t *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int w;

	if (*o + 1 >= len)
		return false;
	buf[(*o)++] = '"';
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			w = snprintf(buf + *o, len - *o, "\\%c", *p);
		else if (*p < 0x20)
			w = snprintf(buf + *o, len - *o, "\\u%04x", *p);
		else
			w = snprintf(buf + *o, len - *o, "%c", *p);
		if (w < 0 || (size_t)w >= len - *o)
			return false;
		*o += (size_t)w;
	}
	if (*o + 1 >= len)
		return false;
	buf[(*o)++] = '"';
	buf[*o] = '\0';
	return true;
}

/* Appends raw text (already JSON); false when it does not fit. */
static bool
rs_json_raw(char *buf, size_t len, size_t *o, const char *fmt, double v)
{
	int w = snprintf(buf + *o, len - *o, fmt, v);

	if (w < 0 || (size_t)w >= len - *o)
		return false;
	*o += (size_t)w;
	return true;
}

/* The hook's input: the decision as one JSON object and a newline. */
static bool
rs_hook_json(const struct respond *r, const struct countermeasure *cm,
    const struct gw_event *ev, char *buf, size_t len)
{
	size_t o = 0;
	bool ok;

	ok = rs_json_raw(buf, len, &o, "{\"action\":\"blackhole\","
	    "\"countermeasure_id\":%.0f,\"customer\":", (double)cm->id) &&
	    rs_json_str(buf, len, &o, cm->customer) &&
	    rs_json_raw(buf, len, &o, ",\"target\":", 0) &&
	    rs_json_str(buf, len, &o, ev->dst) &&
	    rs_json_raw(buf, len, &o, ",\"rate_pps\":%.0f", ev->rate_pps) &&
	    rs_json_raw(buf, len, &o, ",\"rate_bps\":%.0f", ev->rate_bps) &&
	    rs_json_raw(buf, len, &o, ",\"timeout_s\":%.0f",
	    (double)r->cfg.ban_timeout_s) &&
	    rs_json_raw(buf, len, &o, ",\"decided_ts\":%.3f", cm->decided_ts) &&
	    rs_json_raw(buf, len, &o, ",\"decided_by\":", 0) &&
	    rs_json_str(buf, len, &o, cm->decided_by) &&
	    rs_json_raw(buf, len, &o, ",\"reason\":", 0) &&
	    rs_json_str(buf, len, &o, cm->reason) &&
	    rs_json_raw(buf, len, &o, ",\"sources\":[", 0);
	for (size_t i = 0; ok && i < ev->n_top_talkers && i < GW_LIST_MAX; i++)
		ok = (i == 0 || rs_json_raw(buf, len, &o, ",", 0)) &&
		    rs_json_str(buf, len, &o, ev->top_talkers[i]);
	return ok && rs_json_raw(buf, len, &o, "]}\n", 0);
}

/*
 * Starts path with no arguments, json on its stdin (written into the pipe
 * before the fork, so the hook can never block us and we never get SIGPIPE),
 * stdout to /dev/null, in its own process group. Returns the pid or -1.
 */
static pid_t
rs_spawn(const char *path, const char *json, char *err, size_t errlen)
{
	char *const argv[] = { (char *)path, NULL };
	char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	size_t len = strlen(json);
	int p[2], devnull;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (write(p[1], json, len) != (ssize_t)len ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "hook input: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	if ((pid = fork()) == 0) {
		/* Child: async-signal-safe calls only. */
		setpgid(0, 0);
		if (dup2(p[0], 0) == -1 || dup2(devnull, 1) == -1)
			_exit(126);
		fcntl(0, F_SETFL, 0);	/* the hook reads a blocking stdin */
		close_range(3, ~0U, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(p[0]);
	close(devnull);
	if (pid == -1)
		snprintf(err, errlen, "fork: %s", strerror(errno));
	return pid;
}

/* Finds the customer's recent hook decision slot (or a free one). */
static struct rs_hookdec *
rs_hookdec(struct respond *r, const char *customer, double now, bool *found)
{
	struct rs_hookdec *free_slot = NULL;

	*found = false;
	for (size_t i = 0; i < RS_HOOKDEC_MAX; i++) {
		struct rs_hookdec *d = &r->hookdec[i];

		if (d->until > now && strcmp(d->customer, customer) == 0) {
			*found = true;
			return d;
		}
		if (free_slot == NULL && d->until <= now)
			free_slot = d;
	}
	return free_slot;
}

/* Starts the hook for cm (row written); records the outcome when it cannot start. */
static void
rs_hook_start(struct respond *r, struct countermeasure *cm,
    const struct gw_event *ev, double now)
{
	char json[RS_JSON_MAX], err[GW_TEXT_MAX];
	struct rs_hook *h = NULL;
	pid_t pid = -1;

	for (size_t i = 0; i < RESPOND_HOOKS_MAX && h == NULL; i++)
		if (r->hooks[i].pid == 0)
			h = &r->hooks[i];
	if (h == NULL)
		snprintf(err, sizeof(err), "too many hooks running (%d)",
		    RESPOND_HOOKS_MAX);
	else if (!rs_hook_json(r, cm, ev, json, sizeof(json)))
		snprintf(err, sizeof(err), "decision too large for the hook");
	else
		pid = rs_spawn(r->cfg.hook, json, err, sizeof(err));
	r->st.hooks_run++;
	if (pid == -1) {
		r->st.hooks_failed++;
		cm->state = CM_FAILED;
		snprintf(cm->result_message, sizeof(cm->result_message),
		    "not run: %.220s", err);
		log_err("respond: hook %s: %s", r->cfg.hook, err);
	} else {
		h->pid = pid;
		h->cm_id = cm->id;
		h->deadline = now + r->cfg.hook_timeout_s;
		cm->sent_ts = now;
	}
	rs_row_update(r, cm);
}

/* distributed_attack: one hook decision per customer per ban timeout. */
static void
rs_hook_decide(struct respond *r, const struct gw_event *ev, double now)
{
	struct countermeasure cm;
	struct rs_hookdec *d;
	bool found;

	if (r->cfg.hook[0] == '\0') {
		log_info("respond: distributed attack on %s: no hook "
		    "configured", ev->customer);
		return;
	}
	if ((d = rs_hookdec(r, ev->customer, now, &found)) == NULL || found)
		return;  /* decided recently (or table full: counted below) */
	memset(&cm, 0, sizeof(cm));
	cm.action = CM_HOOK;
	snprintf(cm.address, sizeof(cm.address), "%s", ev->dst);
	snprintf(cm.scope, sizeof(cm.scope), "%s", CM_SCOPE_GLOBAL);
	snprintf(cm.customer, sizeof(cm.customer), "%s", ev->customer);
	snprintf(cm.reason, sizeof(cm.reason), "distributed_attack: %.220s",
	    ev->detail);
	snprintf(cm.decided_by, sizeof(cm.decided_by), "policy:distributed");
	cm.decided_ts = now;
	cm.expires_ts = now + r->cfg.ban_timeout_s;
	cm.state = CM_PENDING;
	if (events_cm_add(r->es, &cm) == -1)
		return;
	snprintf(d->customer, sizeof(d->customer), "%s", ev->customer);
	d->cm_id = cm.id;
	d->until = cm.expires_ts;
	rs_hook_start(r, &cm, ev, now);
}

/* Records a finished (or killed) hook in its row. */
static void
rs_hook_done(struct respond *r, struct rs_hook *h, int status, bool killed,
    double now)
{
	struct countermeasure cm;

	if (events_cm_get(r->es, h->cm_id, &cm) == 0) {
		if (killed)
			snprintf(cm.result_message, sizeof(cm.result_message),
			    "killed after %u s timeout", r->cfg.hook_timeout_s);
		else if (WIFEXITED(status))
			snprintf(cm.result_message, sizeof(cm.result_message),
			    "exit status %d", WEXITSTATUS(status));
		else
			snprintf(cm.result_message, sizeof(cm.result_message),
			    "killed by signal %d", WTERMSIG(status));
		if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			cm.state = CM_ACTIVE;
			cm.applied_ts = now;
		} else {
			cm.state = CM_FAILED;
			r->st.hooks_failed++;
		}
		rs_row_update(r, &cm);
		log_info("respond: hook for countermeasure %llu: %s",
		    (unsigned long long)cm.id, cm.result_message);
	}
	h->pid = 0;
}

static void
rs_hooks_reap(struct respond *r, double now)
{
	int status;
	pid_t w;

	for (size_t i = 0; i < RESPOND_HOOKS_MAX; i++) {
		struct rs_hook *h = &r->hooks[i];

		if (h->pid == 0)
			continue;
		w = waitpid(h->pid, &status, WNOHANG);
		if (w == h->pid) {
			rs_hook_done(r, h, status, false, now);
		} else if (w == -1 && errno != EINTR) {
			status = 0x7f00;   /* lost (SIGCHLD ignored?): exit 127 */
			rs_hook_done(r, h, status, false, now);
		} else if (now >= h->deadline) {
			kill(-h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			rs_hook_done(r, h, status, true, now);
		}
	}
}

/* Marks hook rows expired when their decision window ends. */
static void
rs_hookdec_expire(struct respond *r, double now)
{
	struct countermeasure cm;

	for (size_t i = 0; i < RS_HOOKDEC_MAX; i++) {
		struct rs_hookdec *d = &r->hookdec[i];

		if (d->until == 0 || d->until > now)
			continue;
		if (events_cm_get(r->es, d->cm_id, &cm) == 0 &&
		    cm.state == CM_ACTIVE) {
			cm.state = CM_EXPIRED;
			cm.lifted_ts = now;
			rs_row_update(r, &cm);
		}
		d->until = 0;
	}
}

/* ---- policy entry points ---- */

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
			rs_hook_decide(r, ev, now);
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
	rs_ban(r, &req, now, err, sizeof(err));
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
	rs_ban(r, &req, now, err, sizeof(err));
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
	rs_row_update(r, &cm);
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
		rs_row_update(r, &ban->cm);
		return;
	}
	ban->n_fail++;
	log_warn("respond: ban %llu of %s refused by %s: %s",
	    (unsigned long long)ban->cm.id, ban->cm.address, c->probe,
	    res->message);
	if (ban->n_ok == 0 && ban->n_fail >= ban->n_sent) {
		ban->cm.state = CM_FAILED;
		rs_row_update(r, &ban->cm);
		rs_ban_remove(r, ban);
		return;
	}
	rs_row_update(r, &ban->cm);
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
			rs_lift(r, &r->bans[i], CM_EXPIRED, 0, now);
		}
	}
	rs_hooks_reap(r, now);
	rs_hookdec_expire(r, now);
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
	return rs_ban(r, &req, now, err, errlen);
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
	rs_cidr_text(&c, addr);
	for (size_t i = 0; i < r->n_bans; i++)
		if (rs_ban_match(&r->bans[i], addr, c.prefix_len, m->scope))
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
	while ((ban = rs_ban_find(r, addr, c.prefix_len, m->scope)) != NULL)
		rs_lift(r, ban, CM_LIFTED, id, now);
	return id;
}

/* Allocates a command id for other commands (list_bans, inspect) so ids never collide. */
uint64_t
respond_command_id(struct respond *r)
{
	return r->next_cmd_id++;
}

/* ---- requests from API threads ---- */

/* Copies m into q; -1 when a string does not fit. */
static int
rs_req_fill(struct rs_req *q, enum respond_op op, const struct respond_manual *m)
{
	int bad = 0;

	memset(q, 0, sizeof(*q));
	q->op = op;
	q->prefix_len = m->prefix_len;
	q->timeout_s = m->timeout_s;
	q->has_scope = m->scope != NULL;
	q->has_reason = m->reason != NULL;
	bad |= snprintf(q->address, sizeof(q->address), "%s",
	    m->address != NULL ? m->address : "") >= (int)sizeof(q->address);
	bad |= snprintf(q->scope, sizeof(q->scope), "%s",
	    m->scope != NULL ? m->scope : "") >= (int)sizeof(q->scope);
	bad |= snprintf(q->user, sizeof(q->user), "%s",
	    m->user != NULL ? m->user : "") >= (int)sizeof(q->user);
	bad |= snprintf(q->reason, sizeof(q->reason), "%s",
	    m->reason != NULL ? m->reason : "") >= (int)sizeof(q->reason);
	return bad ? -1 : 0;
}

/* Waits (qlock held) until q is done or the deadline passes while it is still queued. */
static void
rs_req_wait(struct respond *r, struct rs_req *q, int timeout_ms)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (q->state != RS_REQ_DONE) {
		if (pthread_cond_timedwait(&r->qcond, &r->qlock, &dl) ==
		    ETIMEDOUT && q->state == RS_REQ_QUEUED) {
			q->id = 0;
			snprintf(q->err, sizeof(q->err), "timed out waiting for "
			    "the operator's ingest thread");
			return;
		}
	}
}

uint64_t
respond_submit(struct respond *r, enum respond_op op,
    const struct respond_manual *m, int timeout_ms, char *err, size_t errlen)
{
	struct rs_req *q = NULL;
	uint64_t id;

	if (r == NULL || m == NULL || timeout_ms <= 0) {
		snprintf(err, errlen, "bad request");
		return 0;
	}
	pthread_mutex_lock(&r->qlock);
	for (size_t i = 0; i < RESPOND_REQUESTS_MAX && q == NULL; i++)
		if (r->reqs[i].state == RS_REQ_FREE)
			q = &r->reqs[i];
	if (q == NULL || rs_req_fill(q, op, m) == -1) {
		snprintf(err, errlen, q == NULL ? "too many requests in "
		    "progress" : "request field too long");
		if (q != NULL)
			q->state = RS_REQ_FREE;
		pthread_mutex_unlock(&r->qlock);
		return 0;
	}
	q->state = RS_REQ_QUEUED;
	q->seq = ++r->req_seq;
	rs_req_wait(r, q, timeout_ms);
	id = q->id;
	if (id == 0)
		snprintf(err, errlen, "%s", q->err);
	q->state = RS_REQ_FREE;
	pthread_mutex_unlock(&r->qlock);
	return id;
}

/* Oldest queued request (qlock held), or NULL. */
static struct rs_req *
rs_req_next(struct respond *r)
{
	struct rs_req *best = NULL;

	for (size_t i = 0; i < RESPOND_REQUESTS_MAX; i++)
		if (r->reqs[i].state == RS_REQ_QUEUED &&
		    (best == NULL || r->reqs[i].seq < best->seq))
			best = &r->reqs[i];
	return best;
}

void
respond_run_requests(struct respond *r, double now)
{
	struct respond_manual m;
	struct rs_req *q, copy;
	char err[GW_TEXT_MAX];
	uint64_t id;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->qlock);
	while ((q = rs_req_next(r)) != NULL) {
		q->state = RS_REQ_RUNNING;
		copy = *q;
		pthread_mutex_unlock(&r->qlock);
		memset(&m, 0, sizeof(m));
		m.address = copy.address;
		m.prefix_len = copy.prefix_len;
		m.scope = copy.has_scope ? copy.scope : NULL;
		m.timeout_s = copy.timeout_s;
		m.user = copy.user;
		m.reason = copy.has_reason ? copy.reason : NULL;
		err[0] = '\0';
		id = copy.op == RESPOND_OP_BAN ?
		    respond_manual_ban(r, &m, now, err, sizeof(err)) :
		    respond_manual_unban(r, &m, now, err, sizeof(err));
		pthread_mutex_lock(&r->qlock);
		q->id = id;
		memcpy(q->err, err, sizeof(q->err));
		q->state = RS_REQ_DONE;
		pthread_cond_broadcast(&r->qcond);
	}
	pthread_mutex_unlock(&r->qlock);
}
