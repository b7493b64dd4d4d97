/* rules.c: gatewatch-enforcer's nftables table (inet NAME), through libnftables only; commands are built from typed values. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "log.h"
#include "rules.h"

#define RULES_CMD_MAX 1024

struct rules {
	struct nft_ctx *nft;
	char table[RULES_TABLE_MAX];
	bool created;
};

/* See rules.h. */
bool rules_table_valid(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n >= RULES_TABLE_MAX || !isalpha((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/*
 * Runs one nft script (built only from validated typed values). On failure
 * copies the first line of nft's error into msg. 0 or -1.
 */
static int rules_nft(struct rules *r, const char *cmd, char *msg, size_t msglen)
{
	const char *err;
	size_t n;

	if (nft_run_cmd_from_buffer(r->nft, cmd) == 0)
		return 0;
	err = nft_ctx_get_error_buffer(r->nft);
	if (err == NULL || *err == '\0')
		err = "nft command failed";
	n = strcspn(err, "\n");
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, "nft: %.*s", (int)n, err);
	log_warn("rules: nft failed: %.*s", (int)n, err);
	return -1;
}

static int rules_create_table(struct rules *r, char *msg, size_t msglen)
{
	char cmd[RULES_CMD_MAX];
	const char *t = r->table;

	/* A table of this name left by an earlier run of ours is replaced. */
	snprintf(cmd, sizeof(cmd), "list table inet %s", t);
	if (nft_run_cmd_from_buffer(r->nft, cmd) == 0) {
		(void)nft_ctx_get_output_buffer(r->nft);   /* the listing is not needed */
		log_warn("rules: table inet %s exists (stale from an earlier run?); "
		    "replacing it", t);
		snprintf(cmd, sizeof(cmd), "delete table inet %s", t);
		if (rules_nft(r, cmd, msg, msglen) != 0)
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
	if (rules_nft(r, cmd, msg, msglen) != 0)
		return -1;
	r->created = true;
	return 0;
}

/* See rules.h. */
struct rules *rules_new(const char *table, char *msg, size_t msglen)
{
	struct rules *r;

	if (!rules_table_valid(table)) {
		snprintf(msg, msglen, "invalid table name");
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	snprintf(r->table, sizeof(r->table), "%s", table);
	if ((r->nft = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL ||
	    nft_ctx_buffer_output(r->nft) != 0 || nft_ctx_buffer_error(r->nft) != 0) {
		snprintf(msg, msglen, "cannot create an nftables context");
		rules_free(r);
		return NULL;
	}
	if (rules_create_table(r, msg, msglen) != 0) {
		log_err("rules: cannot set up table inet %s", r->table);
		rules_free(r);
		return NULL;
	}
	snprintf(msg, msglen, "table inet %s ready", r->table);
	return r;
}

/* See rules.h. */
void rules_free(struct rules *r)
{
	char cmd[RULES_CMD_MAX];

	if (r == NULL)
		return;
	if (r->nft != NULL && r->created) {
		snprintf(cmd, sizeof(cmd), "delete table inet %s", r->table);
		if (rules_nft(r, cmd, NULL, 0) == 0)
			log_info("rules: table inet %s removed", r->table);
	}
	if (r->nft != NULL)
		nft_ctx_free(r->nft);
	free(r);
}

static const char *rules_set(const struct banlist_prefix *p)
{
	return p->addr.family == 4 ? "banned4" : "banned6";
}

/* See rules.h. */
int rules_add(struct rules *r, const struct banlist_prefix *p, uint32_t timeout_s,
    bool present, char *msg, size_t msglen)
{
	char cmd[RULES_CMD_MAX], pfx[BANLIST_PREFIX_STR_MAX];
	int n = 0;

	banlist_prefix_str(p, pfx, sizeof(pfx));
	if (present)  /* refresh the timeout: delete and add in one transaction */
		n = snprintf(cmd, sizeof(cmd), "delete element inet %s %s { %s }\n",
		    r->table, rules_set(p), pfx);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n,
	    "add element inet %s %s { %s timeout %us }\n", r->table, rules_set(p),
	    pfx, timeout_s);
	if (rules_nft(r, cmd, msg, msglen) == 0)
		return 0;
	if (!present)
		return -1;
	/* The kernel may have expired it just now: try a plain add. */
	snprintf(cmd, sizeof(cmd), "add element inet %s %s { %s timeout %us }\n",
	    r->table, rules_set(p), pfx, timeout_s);
	return rules_nft(r, cmd, msg, msglen);
}

/* See rules.h. */
int rules_del(struct rules *r, const struct banlist_prefix *p, char *msg, size_t msglen)
{
	char cmd[RULES_CMD_MAX], pfx[BANLIST_PREFIX_STR_MAX];

	banlist_prefix_str(p, pfx, sizeof(pfx));
	snprintf(cmd, sizeof(cmd), "delete element inet %s %s { %s }\n",
	    r->table, rules_set(p), pfx);
	return rules_nft(r, cmd, msg, msglen);
}

/* Parses an nft duration ("1d2h3m4s500ms"); seconds, rounded down; -1 if bad. */
static long rules_parse_duration(const char *s, size_t n)
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

/* Parses one element "ADDR[/LEN] [timeout T] [expires E]" (n bytes) into out. */
static bool rules_element(const char *s, size_t n, unsigned family, struct wire_entry *out)
{
	char addr[INET6_ADDRSTRLEN + 8], *slash;
	const char *exp;
	size_t alen = strcspn(s, " ");
	unsigned long len = family == 4 ? 32 : 128;
	long secs = -1;

	if (alen > n)
		alen = n;
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if ((slash = strchr(addr, '/')) != NULL) {
		char *end;

		*slash = '\0';
		len = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || len > (family == 4 ? 32u : 128u))
			return false;
	}
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, addr, out->addr) != 1)
		return false;   /* e.g. a range "a-b": not something we add */
	exp = strstr(s, "expires ");
	if (exp != NULL && exp < s + n) {
		const char *v = exp + 8;
		size_t vlen = strcspn(v, " ,}\n");

		if (v + vlen > s + n)
			vlen = (size_t)(s + n - v);
		secs = rules_parse_duration(v, vlen);
	}
	out->family = (uint8_t)family;
	out->prefix_len = (uint8_t)len;
	out->expires_in_s = secs > INT32_MAX ? INT32_MAX : (int32_t)secs;
	return true;
}

/* Reads the elements of one set back from the kernel into out. */
static size_t rules_list_set(struct rules *r, const char *set, unsigned family,
    struct wire_entry *out, size_t max)
{
	char cmd[RULES_CMD_MAX];
	const char *buf, *p, *end;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "list set inet %s %s", r->table, set);
	(void)nft_ctx_get_output_buffer(r->nft);   /* drop output of earlier commands */
	if (max == 0 || rules_nft(r, cmd, NULL, 0) != 0)
		return 0;
	buf = nft_ctx_get_output_buffer(r->nft);
	if (buf == NULL || (p = strstr(buf, "elements = {")) == NULL)
		return 0;
	p += strlen("elements = {");
	if ((end = strchr(p, '}')) == NULL)
		return 0;
	while (p < end && n < max) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma != NULL ? comma : end;

		while (p < stop && isspace((unsigned char)*p))
			p++;
		if (p < stop && rules_element(p, (size_t)(stop - p), family, &out[n]))
			n++;
		p = stop + 1;
	}
	return n;
}

/* See rules.h. */
size_t rules_list(struct rules *r, struct wire_entry *out, size_t max)
{
	size_t n = rules_list_set(r, "banned4", 4, out, max);

	return n + rules_list_set(r, "banned6", 6, out + n, max - n);
}
