/* enforce.c: countermeasures in the probe's own nftables table (inet gatewatch), through libnftables only. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nftables/libnftables.h>

#include "enforce.h"
#include "log.h"

#define ENFORCE_ALLOW_MAX 256
#define ENFORCE_TABLE_MAX 32
#define ENFORCE_CMD_MAX   1024

struct enforce_prefix {
	struct gw_addr addr;      /* host bits cleared */
	unsigned len;
};

struct enforce_ban {
	struct enforce_prefix p;
	uint64_t expires_us;      /* CLOCK_MONOTONIC */
};

struct enforce {
	enum enforce_mode mode;
	char table[ENFORCE_TABLE_MAX];
	size_t max_entries;
	uint32_t default_timeout_s;
	struct nft_ctx *nft;
	bool table_created;
	struct enforce_prefix allow[ENFORCE_ALLOW_MAX];
	size_t n_allow;
	struct enforce_ban *bans; /* max_entries slots */
	size_t n_bans;
};

static uint64_t enforce_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Table names end up in nft commands: letters, digits and '_' only. */
static bool enforce_table_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= ENFORCE_TABLE_MAX || !isalpha((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Validates a/len and returns the prefix with host bits cleared. */
static int enforce_prefix_make(const struct gw_addr *a, unsigned len,
    struct enforce_prefix *out)
{
	unsigned max, i;

	if (a == NULL || (a->family != 4 && a->family != 6))
		return -1;
	max = a->family == 4 ? 32 : 128;
	if (len > max)
		return -1;
	memset(out, 0, sizeof(*out));
	out->addr.family = a->family;
	out->len = len;
	for (i = 0; i < max / 8; i++) {
		unsigned bits = len > i * 8 ? len - i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		out->addr.a[i] = a->a[i] & mask;
	}
	return 0;
}

/* True when the two prefixes share any address (one contains the other). */
static bool enforce_overlap(const struct enforce_prefix *x,
    const struct enforce_prefix *y)
{
	unsigned len = x->len < y->len ? x->len : y->len, i;

	if (x->addr.family != y->addr.family)
		return false;
	for (i = 0; i < len / 8; i++)
		if (x->addr.a[i] != y->addr.a[i])
			return false;
	if (len % 8 != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - len % 8));

		if ((x->addr.a[len / 8] & mask) != (y->addr.a[len / 8] & mask))
			return false;
	}
	return true;
}

static char *enforce_prefix_str(const struct enforce_prefix *p, char *buf, size_t len)
{
	char addr[GW_ADDR_MAX];

	gw_addr_str(&p->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, p->len);
	return buf;
}

/*
 * Runs one nft script (built only from validated typed values). On failure
 * copies the first line of nft's error into msg. 0 or -1.
 */
static int enforce_nft(struct enforce *e, const char *cmd, char *msg, size_t msglen)
{
	const char *err;
	size_t n;

	if (nft_run_cmd_from_buffer(e->nft, cmd) == 0)
		return 0;
	err = nft_ctx_get_error_buffer(e->nft);
	if (err == NULL || *err == '\0')
		err = "nft command failed";
	n = strcspn(err, "\n");
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, "nft: %.*s", (int)n, err);
	log_warn("enforce: nft failed: %.*s", (int)n, err);
	return -1;
}

static int enforce_create_table(struct enforce *e)
{
	char cmd[ENFORCE_CMD_MAX];
	const char *t = e->table;

	/* A table of this name left by an earlier run of ours is replaced. */
	snprintf(cmd, sizeof(cmd), "list table inet %s", t);
	if (nft_run_cmd_from_buffer(e->nft, cmd) == 0) {
		log_warn("enforce: table inet %s exists (stale from an earlier run?); "
		    "replacing it", t);
		snprintf(cmd, sizeof(cmd), "delete table inet %s", t);
		if (enforce_nft(e, cmd, NULL, 0) != 0)
			return -1;
	}
	snprintf(cmd, sizeof(cmd),
	    "add table inet %s\n"
	    "add set inet %s banned4 { type ipv4_addr; flags interval, timeout; }\n"
	    "add set inet %s banned6 { type ipv6_addr; flags interval, timeout; }\n"
	    "add chain inet %s prerouting { type filter hook prerouting priority -300; "
	    "policy accept; }\n"
	    "add rule inet %s prerouting ip saddr @banned4 counter drop\n"
	    "add rule inet %s prerouting ip6 saddr @banned6 counter drop\n",
	    t, t, t, t, t, t);
	if (enforce_nft(e, cmd, NULL, 0) != 0)
		return -1;
	e->table_created = true;
	return 0;
}

/* See enforce.h. */
struct enforce *enforce_new(const struct enforce_config *cfg)
{
	struct enforce_config def = { ENFORCE_DRY_RUN, "gatewatch", 10000, 600 };
	struct gw_addr lo4 = { 4, { 127 } }, lo6 = { 6, { 0 } };
	struct enforce *e;

	if (cfg == NULL)
		cfg = &def;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->mode = cfg->mode;
	snprintf(e->table, sizeof(e->table), "%s", cfg->table ? cfg->table : "gatewatch");
	e->max_entries = cfg->max_entries ? cfg->max_entries : 10000;
	e->default_timeout_s = cfg->default_timeout_s ? cfg->default_timeout_s : 600;
	lo6.a[15] = 1;
	if (!enforce_table_valid(cfg->table ? cfg->table : "gatewatch") ||
	    e->mode > ENFORCE_ON || e->max_entries > 1000000) {
		log_err("enforce: invalid configuration (table name or mode or cap)");
		free(e);
		return NULL;
	}
	if ((e->bans = calloc(e->max_entries, sizeof(*e->bans))) == NULL) {
		free(e);
		return NULL;
	}
	enforce_allow(e, &lo4, 8);
	enforce_allow(e, &lo6, 128);
	if (e->mode != ENFORCE_ON)
		return e;
	if ((e->nft = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL ||
	    nft_ctx_buffer_output(e->nft) != 0 || nft_ctx_buffer_error(e->nft) != 0 ||
	    enforce_create_table(e) != 0) {
		log_err("enforce: cannot set up nftables table inet %s", e->table);
		enforce_free(e);
		return NULL;
	}
	log_info("enforce: table inet %s ready (cap %zu entries, default timeout %u s)",
	    e->table, e->max_entries, e->default_timeout_s);
	return e;
}

/* See enforce.h. */
void enforce_free(struct enforce *e)
{
	char cmd[ENFORCE_CMD_MAX];

	if (e == NULL)
		return;
	if (e->nft != NULL && e->table_created) {
		snprintf(cmd, sizeof(cmd), "delete table inet %s", e->table);
		if (enforce_nft(e, cmd, NULL, 0) == 0)
			log_info("enforce: table inet %s removed", e->table);
	}
	if (e->nft != NULL)
		nft_ctx_free(e->nft);
	free(e->bans);
	free(e);
}

/* See enforce.h. */
int enforce_allow(struct enforce *e, const struct gw_addr *a, unsigned prefix_len)
{
	struct enforce_prefix p;

	if (e == NULL || enforce_prefix_make(a, prefix_len, &p) != 0 ||
	    e->n_allow >= ENFORCE_ALLOW_MAX)
		return -1;
	e->allow[e->n_allow++] = p;
	return 0;
}

static const struct enforce_prefix *enforce_allowlisted(const struct enforce *e,
    const struct enforce_prefix *p)
{
	size_t i;

	for (i = 0; i < e->n_allow; i++)
		if (enforce_overlap(&e->allow[i], p))
			return &e->allow[i];
	return NULL;
}

/* Forgets bans whose timeout has passed (nft removed the elements itself). */
static void enforce_prune(struct enforce *e, uint64_t now_us)
{
	size_t i = 0;

	while (i < e->n_bans) {
		if (e->bans[i].expires_us <= now_us)
			e->bans[i] = e->bans[--e->n_bans];
		else
			i++;
	}
}

static struct enforce_ban *enforce_find(struct enforce *e, const struct enforce_prefix *p)
{
	size_t i;

	for (i = 0; i < e->n_bans; i++)
		if (e->bans[i].p.len == p->len &&
		    gw_addr_cmp(&e->bans[i].p.addr, &p->addr) == 0)
			return &e->bans[i];
	return NULL;
}

static const char *enforce_set(const struct enforce_prefix *p)
{
	return p->addr.family == 4 ? "banned4" : "banned6";
}

/* Adds (or refreshes) the nft element for p; 0 or -1 with msg. */
static int enforce_nft_add(struct enforce *e, const struct enforce_prefix *p,
    uint32_t timeout_s, bool present, char *msg, size_t msglen)
{
	char cmd[ENFORCE_CMD_MAX], pfx[GW_ADDR_MAX + 8];
	int n = 0;

	enforce_prefix_str(p, pfx, sizeof(pfx));
	if (present)  /* refresh the timeout: delete and add in one transaction */
		n = snprintf(cmd, sizeof(cmd), "delete element inet %s %s { %s }\n",
		    e->table, enforce_set(p), pfx);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n,
	    "add element inet %s %s { %s timeout %us }\n", e->table, enforce_set(p),
	    pfx, timeout_s);
	if (enforce_nft(e, cmd, msg, msglen) == 0)
		return 0;
	if (!present)
		return -1;
	/* The kernel may have expired it just now: try a plain add. */
	snprintf(cmd, sizeof(cmd), "add element inet %s %s { %s timeout %us }\n",
	    e->table, enforce_set(p), pfx, timeout_s);
	return enforce_nft(e, cmd, msg, msglen);
}

static void enforce_msg(char *msg, size_t msglen, const char *fmt, const char *arg)
{
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, fmt, arg);
}

/* See enforce.h. */
int enforce_ban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    uint32_t timeout_s, char *msg, size_t msglen)
{
	struct enforce_prefix p;
	const struct enforce_prefix *al;
	struct enforce_ban *b;
	char pfx[GW_ADDR_MAX + 8], apfx[GW_ADDR_MAX + 8];
	uint64_t now = enforce_now_us();

	if (e == NULL || e->mode == ENFORCE_OFF) {
		enforce_msg(msg, msglen, "%s", "enforcement is off");
		return -1;
	}
	if (enforce_prefix_make(a, prefix_len, &p) != 0) {
		enforce_msg(msg, msglen, "%s", "invalid address or prefix length");
		return -1;
	}
	if (timeout_s == 0)
		timeout_s = e->default_timeout_s;
	if (timeout_s > 7 * 86400) {
		enforce_msg(msg, msglen, "%s", "timeout longer than 7 days");
		return -1;
	}
	enforce_prefix_str(&p, pfx, sizeof(pfx));
	if ((al = enforce_allowlisted(e, &p)) != NULL) {
		if (msg != NULL)
			snprintf(msg, msglen, "%s is allowlisted (%s)", pfx,
			    enforce_prefix_str(al, apfx, sizeof(apfx)));
		return -1;
	}
	enforce_prune(e, now);
	b = enforce_find(e, &p);
	if (b == NULL && e->n_bans >= e->max_entries) {
		if (msg != NULL)
			snprintf(msg, msglen, "cap of %zu banned entries reached", e->max_entries);
		return -1;
	}
	if (e->mode == ENFORCE_ON &&
	    enforce_nft_add(e, &p, timeout_s, b != NULL, msg, msglen) != 0)
		return -1;
	if (b == NULL) {
		b = &e->bans[e->n_bans++];
		b->p = p;
	}
	b->expires_us = now + (uint64_t)timeout_s * 1000000;
	if (msg != NULL)
		snprintf(msg, msglen, "%s%s banned for %u s",
		    e->mode == ENFORCE_DRY_RUN ? "dry-run: " : "", pfx, timeout_s);
	log_info("enforce: %s%s banned for %u s",
	    e->mode == ENFORCE_DRY_RUN ? "dry-run: " : "", pfx, timeout_s);
	return 0;
}

/* See enforce.h. */
int enforce_unban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    char *msg, size_t msglen)
{
	struct enforce_prefix p;
	struct enforce_ban *b;
	char cmd[ENFORCE_CMD_MAX], pfx[GW_ADDR_MAX + 8];

	if (e == NULL || e->mode == ENFORCE_OFF) {
		enforce_msg(msg, msglen, "%s", "enforcement is off");
		return -1;
	}
	if (enforce_prefix_make(a, prefix_len, &p) != 0) {
		enforce_msg(msg, msglen, "%s", "invalid address or prefix length");
		return -1;
	}
	enforce_prefix_str(&p, pfx, sizeof(pfx));
	enforce_prune(e, enforce_now_us());
	if ((b = enforce_find(e, &p)) == NULL) {
		enforce_msg(msg, msglen, "%s is not banned", pfx);
		return -1;
	}
	if (e->mode == ENFORCE_ON) {
		snprintf(cmd, sizeof(cmd), "delete element inet %s %s { %s }\n",
		    e->table, enforce_set(&p), pfx);
		if (enforce_nft(e, cmd, msg, msglen) != 0)
			return -1;
	}
	*b = e->bans[--e->n_bans];
	enforce_msg(msg, msglen, "%s unbanned", pfx);
	log_info("enforce: %s unbanned", pfx);
	return 0;
}

/* Parses an nft duration ("1d2h3m4s500ms"); seconds, rounded down; -1 if bad. */
static long enforce_parse_duration(const char *s, size_t n)
{
	long total_ms = 0;
	size_t i = 0;

	if (n == 0)
		return -1;
	while (i < n) {
		long v = 0;

		if (!isdigit((unsigned char)s[i]))
			return -1;
		while (i < n && isdigit((unsigned char)s[i]) && v < 100000000)
			v = v * 10 + (s[i++] - '0');
		if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's')
			total_ms += v, i += 2;
		else if (i < n && s[i] == 'd')
			total_ms += v * 86400000L, i++;
		else if (i < n && s[i] == 'h')
			total_ms += v * 3600000L, i++;
		else if (i < n && s[i] == 'm')
			total_ms += v * 60000L, i++;
		else if (i < n && s[i] == 's')
			total_ms += v * 1000L, i++;
		else
			return -1;
	}
	return total_ms / 1000;
}

/* Formats one element "ADDR[/LEN] [timeout T] [expires E]" as a list line. */
static bool enforce_element_line(const char *s, size_t n, unsigned family,
    char *line)
{
	char addr[GW_ADDR_MAX + 8];
	const char *exp;
	size_t alen = strcspn(s, " ");
	long secs = -1;

	if (alen > n)
		alen = n;
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	exp = strstr(s, "expires ");
	if (exp != NULL && exp < s + n) {
		const char *v = exp + 8;
		size_t vlen = strcspn(v, " ,}\n");

		if (v + vlen > s + n)
			vlen = (size_t)(s + n - v);
		secs = enforce_parse_duration(v, vlen);
	}
	if (strchr(addr, '/') == NULL)
		snprintf(line, GW_TEXT_MAX, "%s/%u %ld", addr, family == 4 ? 32 : 128, secs);
	else
		snprintf(line, GW_TEXT_MAX, "%s %ld", addr, secs);
	return true;
}

/* Reads the elements of one set back from the kernel into lines. */
static size_t enforce_list_set(struct enforce *e, const char *set, unsigned family,
    char lines[][GW_TEXT_MAX], size_t max)
{
	char cmd[ENFORCE_CMD_MAX];
	const char *out, *p, *end;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "list set inet %s %s", e->table, set);
	if (enforce_nft(e, cmd, NULL, 0) != 0)
		return 0;
	out = nft_ctx_get_output_buffer(e->nft);
	if (out == NULL || (p = strstr(out, "elements = {")) == NULL)
		return 0;
	p += strlen("elements = {");
	if ((end = strchr(p, '}')) == NULL)
		return 0;
	while (p < end && n < max) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma != NULL ? comma : end;

		while (p < stop && isspace((unsigned char)*p))
			p++;
		if (p < stop && enforce_element_line(p, (size_t)(stop - p), family, lines[n]))
			n++;
		p = stop + 1;
	}
	return n;
}

/* See enforce.h. */
size_t enforce_list(struct enforce *e, char lines[][GW_TEXT_MAX], size_t max)
{
	uint64_t now = enforce_now_us();
	size_t i, n = 0;
	char pfx[GW_ADDR_MAX + 8];

	if (e == NULL || e->mode == ENFORCE_OFF)
		return 0;
	if (e->mode == ENFORCE_ON) {
		n = enforce_list_set(e, "banned4", 4, lines, max);
		return n + enforce_list_set(e, "banned6", 6, lines + n, max - n);
	}
	enforce_prune(e, now);
	for (i = 0; i < e->n_bans && n < max; i++)
		snprintf(lines[n++], GW_TEXT_MAX, "%s %llu",
		    enforce_prefix_str(&e->bans[i].p, pfx, sizeof(pfx)),
		    (unsigned long long)((e->bans[i].expires_us - now) / 1000000));
	return n;
}

/* See enforce.h. */
void enforce_tick(struct enforce *e, uint64_t now_us)
{
	(void)now_us;  /* ban timeouts run on the monotonic clock, as nft's do */
	if (e != NULL)
		enforce_prune(e, enforce_now_us());
}

/* See enforce.h. */
int enforce_mode_parse(const char *s, enum enforce_mode *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "off") == 0)
		*out = ENFORCE_OFF;
	else if (strcmp(s, "dry-run") == 0 || strcmp(s, "dryrun") == 0)
		*out = ENFORCE_DRY_RUN;
	else if (strcmp(s, "on") == 0 || strcmp(s, "enforce") == 0)
		*out = ENFORCE_ON;
	else
		return -1;
	return 0;
}

/* See enforce.h. */
size_t enforce_count(struct enforce *e)
{
	if (e == NULL)
		return 0;
	enforce_prune(e, enforce_now_us());
	return e->n_bans;
}
