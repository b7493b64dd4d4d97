/* policy.c: respond's policy file and the never-ban rules (loopback, allowlist, probe addresses). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "respond_int.h"

static const char *const policy_always_allowed[] = {
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
policy_cidr_overlap(const struct respond_cidr *a, const struct respond_cidr *b)
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

bool
policy_cidr_allowed(const struct respond *r, const struct respond_cidr *c)
{
	struct respond_cidr fixed;

	for (size_t i = 0; i < sizeof(policy_always_allowed) /
	    sizeof(policy_always_allowed[0]); i++)
		if (respond_cidr_parse(policy_always_allowed[i], &fixed) == 0 &&
		    policy_cidr_overlap(&fixed, c))
			return true;
	for (size_t i = 0; i < r->cfg.n_allow; i++)
		if (policy_cidr_overlap(&r->cfg.allow[i], c))
			return true;
	return false;
}

bool
respond_is_allowed(const struct respond *r, const char *address)
{
	struct respond_cidr c;

	if (r == NULL || respond_cidr_parse(address, &c) == -1)
		return false;
	return policy_cidr_allowed(r, &c);
}

/* Canonical text of a prefix's address (so equal bans compare equal). */
void
policy_cidr_text(const struct respond_cidr *c, char out[GW_ADDR_MAX])
{
	if (inet_ntop(c->family, c->addr, out, GW_ADDR_MAX) == NULL)
		out[0] = '\0';
}

/* ---- config ---- */

struct policy_conf {
	struct respond_config   *rc;
	struct correlate_config *cc;
};

/* Parses an unsigned number of seconds in 1..max into *out. */
static int
policy_conf_u32(const struct config_line *l, uint64_t max, uint32_t *out,
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
policy_conf_double(const struct config_line *l, double *out, char *err,
    size_t errlen)
{
	uint32_t v;

	if (policy_conf_u32(l, 30 * 86400, &v, err, errlen) == -1)
		return -1;
	*out = v;
	return 0;
}

static int
policy_conf_hook(const struct config_line *l, struct respond_config *rc,
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
policy_conf_allow(const struct config_line *l, struct respond_config *rc,
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
policy_conf_line(const struct config_line *l, void *ctx, char *err, size_t errlen)
{
	struct policy_conf *k = ctx;
	/* Sinks for the half of the file a caller did not ask for: parsed, then dropped. */
	struct respond_config rc_dummy = { 0 };
	struct correlate_config cc_dummy = { 0 };
	struct respond_config *rc = k->rc != NULL ? k->rc : &rc_dummy;
	struct correlate_config *cc = k->cc != NULL ? k->cc : &cc_dummy;
	const char *w = l->words[0];

	if (strcmp(w, "ban_timeout_s") == 0)
		return policy_conf_u32(l, 30 * 86400, &rc->ban_timeout_s, err, errlen);
	if (strcmp(w, "hook_timeout_s") == 0)
		return policy_conf_u32(l, 3600, &rc->hook_timeout_s, err, errlen);
	if (strcmp(w, "hook") == 0)
		return policy_conf_hook(l, rc, err, errlen);
	if (strcmp(w, "allow") == 0)
		return policy_conf_allow(l, rc, err, errlen);
	if (strcmp(w, "global_min_probes") == 0)
		return policy_conf_u32(l, GW_LIST_MAX, &cc->global_min_probes, err,
		    errlen);
	if (strcmp(w, "distributed_min_sources") == 0)
		return policy_conf_u32(l, CORRELATE_DIST_SET_MAX,
		    &cc->distributed_min_sources, err, errlen);
	if (strcmp(w, "global_window_s") == 0)
		return policy_conf_double(l, &cc->global_window_s, err, errlen);
	if (strcmp(w, "distributed_window_s") == 0)
		return policy_conf_double(l, &cc->distributed_window_s, err, errlen);
	if (strcmp(w, "silent_timeout_s") == 0)
		return policy_conf_double(l, &cc->silent_timeout_s, err, errlen);
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
	struct policy_conf k = { rc, cc };

	if (rc != NULL)
		memset(rc, 0, sizeof(*rc));
	if (cc != NULL)
		memset(cc, 0, sizeof(*cc));
	return config_parse_string(name, text, policy_conf_line, &k);
}

int
respond_config_load(const char *path, struct respond_config *rc,
    struct correlate_config *cc)
{
	struct policy_conf k = { rc, cc };

	if (rc != NULL)
		memset(rc, 0, sizeof(*rc));
	if (cc != NULL)
		memset(cc, 0, sizeof(*cc));
	return config_parse_file(path, policy_conf_line, &k);
}

/* ---- lifetime ---- */
