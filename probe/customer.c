/* customer.c: customer map (VLAN, Q-in-Q pair, CIDR prefixes) and packet direction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "customer.h"
#include "gwmsg.h"
#include "log.h"

/*
 * Data layout, chosen so that a lookup never allocates:
 * - vlan[4096]: customer index owning a single VLAN id (outer tag), or -1;
 * - pairs: open-addressing hash of (outer << 12 | inner) + 1 -> customer;
 * - one binary trie per address family holding every configured prefix and
 *   the built-in home networks. A node lists all customers owning exactly
 *   that prefix (VLAN customers may share one, e.g. 192.168.1.0/24), and
 *   caches the first owner that maps traffic by prefix (a customer without
 *   VLAN lines), so the per-packet walk reads one int per node.
 */

#define VLAN_IDS      4096
#define NO_NODE       0          /* node 0 is the root, never a child */
#define CUSTOMERS_MAX (1 << 20)
#define NODES_MAX     (1u << 24)

struct customer {
	char id[GW_ID_MAX];
	bool has_vlan;
	bool has_prefix;
};

struct trie_node {
	uint32_t child[2];
	int32_t  owners;         /* first owner link index, -1 if none */
	int32_t  map_owner;      /* first prefix-mapping owner, or -1 */
	bool     home;           /* a built-in home network ends here */
};

struct owner_link {
	int32_t cust;
	int32_t next;            /* next link index, -1 ends */
};

struct trie {
	struct trie_node *nodes;
	uint32_t n, cap;
};

struct pair_slot {
	uint32_t key;            /* (outer << 12 | inner) + 1; 0 = empty */
	int32_t  cust;
};

struct customer_map {
	struct customer *cust;
	size_t n, cap;
	int32_t catchall;        /* customer index or CUSTOMER_NONE */
	int32_t vlan[VLAN_IDS];
	struct pair_slot *pairs;
	uint32_t pairs_n, pairs_cap;   /* cap is 0 or a power of two */
	struct trie t4, t6;
	struct owner_link *links;
	uint32_t links_n, links_cap;
};

/* What a walk down a trie found for one address. */
struct trie_hit {
	int32_t map_owner;       /* longest-match prefix-mapping customer, or -1 */
	bool home;               /* inside a home network or any configured prefix */
};

static const char *const home_nets[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"169.254.0.0/16", "fc00::/7", "fe80::/10",
};

/* ---- growable arrays ---------------------------------------------------- */

static int grow(void **arr, uint32_t *cap, size_t elem, uint32_t need, uint32_t max)
{
	uint32_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap = ncap > max / 2 ? max : ncap * 2;
	p = realloc(*arr, (size_t)ncap * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- tries --------------------------------------------------------------- */

static int trie_init(struct trie *t)
{
	if (grow((void **)&t->nodes, &t->cap, sizeof(*t->nodes), 1, NODES_MAX) != 0)
		return -1;
	memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
	t->nodes[0].owners = -1;
	t->nodes[0].map_owner = -1;
	t->n = 1;
	return 0;
}

static inline int addr_bit(const uint8_t *a, unsigned i)
{
	return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Returns the node for prefix a/len, creating the path; NO_NODE on ENOMEM. */
static uint32_t trie_insert(struct trie *t, const uint8_t *a, unsigned len)
{
	uint32_t cur = 0;

	for (unsigned i = 0; i < len; i++) {
		int b = addr_bit(a, i);
		uint32_t next = t->nodes[cur].child[b];

		if (next == NO_NODE) {
			if (grow((void **)&t->nodes, &t->cap, sizeof(*t->nodes),
			    t->n + 1, NODES_MAX) != 0)
				return NO_NODE;
			next = t->n++;
			memset(&t->nodes[next], 0, sizeof(t->nodes[next]));
			t->nodes[next].owners = -1;
			t->nodes[next].map_owner = -1;
			t->nodes[cur].child[b] = next;
		}
		cur = next;
	}
	return cur;
}

static inline const struct trie *map_trie(const struct customer_map *m, int family)
{
	return family == 4 ? &m->t4 : family == 6 ? &m->t6 : NULL;
}

/* Longest-prefix walk for address a; never allocates. */
static struct trie_hit trie_lookup(const struct trie *t, const struct gw_addr *a)
{
	struct trie_hit hit = { -1, false };
	unsigned bits = a->family == 4 ? 32 : 128;
	uint32_t cur = 0;

	for (unsigned i = 0;; i++) {
		const struct trie_node *nd = &t->nodes[cur];

		if (nd->map_owner >= 0)
			hit.map_owner = nd->map_owner;
		if (nd->home || nd->owners >= 0)
			hit.home = true;
		if (i == bits)
			break;
		cur = nd->child[addr_bit(a->a, i)];
		if (cur == NO_NODE)
			break;
	}
	return hit;
}

/*
 * Recomputes a node's cached map_owner: the earliest-added owner without VLAN
 * lines (the owner list is newest-first).
 */
static void trie_refresh_node(const struct customer_map *m, struct trie_node *nd)
{
	nd->map_owner = -1;
	for (int32_t l = nd->owners; l >= 0; l = m->links[l].next)
		if (!m->cust[m->links[l].cust].has_vlan)
			nd->map_owner = m->links[l].cust;
}

/* Refreshes every node (after a customer with prefixes gained a VLAN). */
static void trie_refresh(const struct customer_map *m, struct trie *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		trie_refresh_node(m, &t->nodes[i]);
}

/* ---- customers ----------------------------------------------------------- */

/* Index of id, creating the customer if needed; CUSTOMER_NONE on ENOMEM. */
static int customer_get(struct customer_map *m, const char *id)
{
	int i = customer_find(m, id);
	uint32_t cap = (uint32_t)m->cap;

	if (i != CUSTOMER_NONE)
		return i;
	if (grow((void **)&m->cust, &cap, sizeof(*m->cust), (uint32_t)m->n + 1,
	    CUSTOMERS_MAX) != 0)
		return CUSTOMER_NONE;
	m->cap = cap;
	memset(&m->cust[m->n], 0, sizeof(m->cust[m->n]));
	snprintf(m->cust[m->n].id, sizeof(m->cust[m->n].id), "%s", id);
	return (int)m->n++;
}

/* Creates an empty map holding "unmapped" and the home networks. */
struct customer_map *customer_map_new(void)
{
	struct customer_map *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	/* Every byte 0xff: CUSTOMER_NONE in each slot, in one memset. */
	_Static_assert(CUSTOMER_NONE == -1, "vlan[] is filled with 0xff bytes");
	memset(m->vlan, 0xff, sizeof(m->vlan));
	m->catchall = CUSTOMER_NONE;
	if (trie_init(&m->t4) != 0 || trie_init(&m->t6) != 0 ||
	    customer_get(m, CUSTOMER_UNMAPPED_ID) != CUSTOMER_UNMAPPED)
		goto fail;
	for (size_t i = 0; i < sizeof(home_nets) / sizeof(home_nets[0]); i++) {
		struct gw_addr a;
		unsigned len;
		char buf[64];
		char *slash;
		uint32_t node;

		snprintf(buf, sizeof(buf), "%s", home_nets[i]);
		slash = strchr(buf, '/');
		*slash = '\0';
		len = (unsigned)atoi(slash + 1);
		if (gw_addr_parse(buf, &a) != 0)
			goto fail;
		node = trie_insert(a.family == 4 ? &m->t4 : &m->t6, a.a, len);
		if (node == NO_NODE)
			goto fail;
		(a.family == 4 ? &m->t4 : &m->t6)->nodes[node].home = true;
	}
	return m;
fail:
	customer_map_free(m);
	return NULL;
}

/* Frees m and everything it owns; NULL is a no-op. */
void customer_map_free(struct customer_map *m)
{
	if (m == NULL)
		return;
	free(m->cust);
	free(m->pairs);
	free(m->t4.nodes);
	free(m->t6.nodes);
	free(m->links);
	free(m);
}

/* Number of customers including "unmapped". */
size_t customer_count(const struct customer_map *m)
{
	return m->n;
}

/* Id of customer i (borrowed), "" when out of range. */
const char *customer_id(const struct customer_map *m, int i)
{
	if (i < 0 || (size_t)i >= m->n)
		return "";
	return m->cust[i].id;
}

/* Index of id or CUSTOMER_NONE; linear, meant for configuration time. */
int customer_find(const struct customer_map *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->cust[i].id, id) == 0)
			return (int)i;
	return CUSTOMER_NONE;
}

/* ---- VLANs --------------------------------------------------------------- */

static inline uint32_t pair_hash(uint32_t key, uint32_t cap)
{
	return (key * 2654435761u) & (cap - 1);
}

static int32_t pair_find(const struct customer_map *m, uint32_t key)
{
	if (m->pairs_cap == 0)
		return CUSTOMER_NONE;
	for (uint32_t h = pair_hash(key, m->pairs_cap);; h = (h + 1) & (m->pairs_cap - 1)) {
		if (m->pairs[h].key == key)
			return m->pairs[h].cust;
		if (m->pairs[h].key == 0)
			return CUSTOMER_NONE;
	}
}

static void pair_put(struct pair_slot *tbl, uint32_t cap, uint32_t key, int32_t cust)
{
	uint32_t h = pair_hash(key, cap);

	while (tbl[h].key != 0 && tbl[h].key != key)
		h = (h + 1) & (cap - 1);
	tbl[h].key = key;
	tbl[h].cust = cust;
}

/* Inserts key -> cust, rehashing to keep the load at most one half. */
static int pair_insert(struct customer_map *m, uint32_t key, int32_t cust)
{
	if ((m->pairs_n + 1) * 2 > m->pairs_cap) {
		uint32_t ncap = m->pairs_cap ? m->pairs_cap * 2 : 64;
		struct pair_slot *t = calloc(ncap, sizeof(*t));

		if (t == NULL)
			return -1;
		for (uint32_t i = 0; i < m->pairs_cap; i++)
			if (m->pairs[i].key != 0)
				pair_put(t, ncap, m->pairs[i].key, m->pairs[i].cust);
		free(m->pairs);
		m->pairs = t;
		m->pairs_cap = ncap;
	}
	pair_put(m->pairs, m->pairs_cap, key, cust);
	m->pairs_n++;
	return 0;
}

/* Parses a VLAN id 1..4094; 0 or -1. */
static int parse_vid(const char *s, uint16_t *out)
{
	unsigned long long v;

	if (config_parse_u64(s, 1, 4094, &v) != 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Creates customer id if needed, once its rule has been validated. */
static int customer_commit(struct customer_map *m, const char *id, char *err,
    size_t errlen)
{
	int c = customer_get(m, id);

	if (c == CUSTOMER_NONE)
		snprintf(err, errlen, "cannot add customer '%s': out of memory or "
		    "more than %d customers", id, CUSTOMERS_MAX);
	return c;
}

static int add_vlan(struct customer_map *m, const char *id, const char *value,
    char *err, size_t errlen)
{
	int c = customer_find(m, id);
	char buf[32];
	char *dot;
	uint16_t outer, inner = 0;
	int32_t owner;
	uint32_t key = 0;

	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "bad VLAN '%.40s...': expected N or OUTER.INNER (1..4094)", value);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", value);
	dot = strchr(buf, '.');
	if (dot != NULL)
		*dot = '\0';
	if (parse_vid(buf, &outer) != 0 || (dot && parse_vid(dot + 1, &inner) != 0)) {
		snprintf(err, errlen, "bad VLAN '%s': expected N or OUTER.INNER, each 1..4094", value);
		return -1;
	}
	if (dot != NULL) {
		key = ((uint32_t)outer << 12 | inner) + 1;
		owner = pair_find(m, key);
	} else {
		owner = m->vlan[outer];
	}
	if (owner != CUSTOMER_NONE && owner == c)
		return 0;                       /* repeated line: harmless */
	if (owner != CUSTOMER_NONE) {
		snprintf(err, errlen, "VLAN '%s' already belongs to customer '%s'",
		    value, m->cust[owner].id);
		return -1;
	}
	if (c == CUSTOMER_NONE && (c = customer_commit(m, id, err, errlen)) < 0)
		return -1;
	if (dot != NULL) {
		if (pair_insert(m, key, c) != 0) {
			snprintf(err, errlen, "out of memory adding VLAN '%s'", value);
			return -1;
		}
	} else {
		m->vlan[outer] = c;
	}
	if (!m->cust[c].has_vlan) {
		m->cust[c].has_vlan = true;
		if (m->cust[c].has_prefix) {    /* its prefixes stop mapping traffic */
			trie_refresh(m, &m->t4);
			trie_refresh(m, &m->t6);
		}
	}
	return 0;
}

/* ---- prefixes ------------------------------------------------------------ */

/* Parses "ADDR/LEN" (or a bare address as a host prefix); host bits must be 0. */
static int parse_cidr(const char *value, struct gw_addr *a, unsigned *len,
    char *err, size_t errlen)
{
	char buf[GW_ADDR_MAX + 8];
	char *slash;
	unsigned long long l;
	unsigned bits;

	if (strlen(value) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", value);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (gw_addr_parse(buf, a) != 0)
		goto bad;
	bits = a->family == 4 ? 32 : 128;
	if (slash == NULL)
		l = bits;
	else if (config_parse_u64(slash + 1, 0, bits, &l) != 0)
		goto bad;
	*len = (unsigned)l;
	for (unsigned i = *len; i < bits; i++)
		if (addr_bit(a->a, i)) {
			char net[GW_ADDR_MAX];

			for (unsigned j = *len; j < bits; j++)
				a->a[j >> 3] &= (uint8_t)~(0x80u >> (j & 7));
			snprintf(err, errlen, "prefix '%s' has host bits set: expected %s/%u",
			    value, gw_addr_str(a, net, sizeof(net)), *len);
			return -1;
		}
	return 0;
bad:
	snprintf(err, errlen, "bad prefix '%.60s': expected ADDRESS/LENGTH, "
	    "e.g. 192.0.2.0/24 or 2001:db8::/32", value);
	return -1;
}

static int add_prefix(struct customer_map *m, const char *id, const char *value,
    char *err, size_t errlen)
{
	int c = customer_find(m, id);
	bool c_vlan = c != CUSTOMER_NONE && m->cust[c].has_vlan;
	struct gw_addr a;
	struct trie *t;
	struct trie_node *nd;
	unsigned len;
	uint32_t node;
	int32_t l;

	if (parse_cidr(value, &a, &len, err, errlen) != 0)
		return -1;
	t = a.family == 4 ? &m->t4 : &m->t6;
	node = trie_insert(t, a.a, len);
	if (node == NO_NODE && len > 0)
		goto nomem;
	nd = &t->nodes[node];
	for (l = nd->owners; l >= 0; l = m->links[l].next) {
		int o = m->links[l].cust;

		if (o == c)
			return 0;               /* repeated line */
		if (!m->cust[o].has_vlan && !c_vlan) {
			snprintf(err, errlen, "prefix '%s' already belongs to customer "
			    "'%s' (only customers with VLAN lines may share a prefix)",
			    value, m->cust[o].id);
			return -1;
		}
	}
	if (c == CUSTOMER_NONE && (c = customer_commit(m, id, err, errlen)) < 0)
		return -1;
	if (grow((void **)&m->links, &m->links_cap, sizeof(*m->links),
	    m->links_n + 1, NODES_MAX) != 0)
		goto nomem;
	m->links[m->links_n].cust = c;
	m->links[m->links_n].next = nd->owners;   /* keeps the list newest-first */
	nd->owners = (int32_t)m->links_n++;
	m->cust[c].has_prefix = true;
	trie_refresh_node(m, nd);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory adding prefix '%s'", value);
	return -1;
}

/* ---- configuration ------------------------------------------------------- */

/* Adds one "ID KIND VALUE" rule; 0, or -1 with err quoting the bad value. */
int customer_map_add(struct customer_map *m, const char *id, const char *kind,
    const char *value, char *err, size_t errlen)
{
	if (!gw_id_valid(id)) {
		snprintf(err, errlen, "bad customer id '%.70s': expected 1-%d characters "
		    "from A-Z a-z 0-9 _ . : -", id, GW_ID_MAX - 1);
		return -1;
	}
	if (strcmp(id, CUSTOMER_UNMAPPED_ID) == 0) {
		snprintf(err, errlen, "customer id '%s' is reserved", id);
		return -1;
	}
	if (strcmp(kind, "vlan") != 0 && strcmp(kind, "prefix") != 0) {
		snprintf(err, errlen, "unknown rule '%.40s': expected 'vlan' or 'prefix'", kind);
		return -1;
	}
	if (kind[0] == 'v')
		return add_vlan(m, id, value, err, errlen);
	return add_prefix(m, id, value, err, errlen);
}

static int load_line(const struct config_line *line, void *ctx, char *err,
    size_t errlen)
{
	if (line->nwords != 3) {
		snprintf(err, errlen, "expected 'ID vlan N', 'ID vlan OUTER.INNER' or "
		    "'ID prefix CIDR', got %d words starting with '%.40s'",
		    line->nwords, line->nwords > 0 ? line->words[0] : "");
		return -1;
	}
	return customer_map_add(ctx, line->words[0], line->words[1], line->words[2],
	    err, errlen);
}

/* Loads a map file; errors are logged as file:line. 0 or -1. */
int customer_map_load(struct customer_map *m, const char *path)
{
	return config_parse_file(path, load_line, m);
}

/* Same as customer_map_load for text in memory (name used in messages). */
int customer_map_load_string(struct customer_map *m, const char *name,
    const char *text)
{
	return config_parse_string(name, text, load_line, m);
}

/* Makes id (created if new) the catch-all customer. 0, or -1 for a bad id. */
int customer_map_set_catchall(struct customer_map *m, const char *id)
{
	int c;

	if (!gw_id_valid(id) || strcmp(id, CUSTOMER_UNMAPPED_ID) == 0) {
		log_err("catch-all customer '%s': not a valid customer id", id);
		return -1;
	}
	c = customer_get(m, id);
	if (c == CUSTOMER_NONE) {
		log_err("catch-all customer '%s': out of memory", id);
		return -1;
	}
	m->catchall = c;
	return 0;
}

/* ---- lookups ------------------------------------------------------------- */

/* True if a is inside one of customer i's prefixes. */
bool customer_owns(const struct customer_map *m, int i, const struct gw_addr *a)
{
	const struct trie *t = map_trie(m, a->family);
	unsigned bits = a->family == 4 ? 32 : 128;
	uint32_t cur = 0;

	if (t == NULL || i < 0 || (size_t)i >= m->n || !m->cust[i].has_prefix)
		return false;
	for (unsigned b = 0;; b++) {
		for (int32_t l = t->nodes[cur].owners; l >= 0; l = m->links[l].next)
			if (m->links[l].cust == i)
				return true;
		if (b == bits)
			return false;
		cur = t->nodes[cur].child[addr_bit(a->a, b)];
		if (cur == NO_NODE)
			return false;
	}
}

static struct trie_hit lookup_addr(const struct customer_map *m,
    const struct gw_addr *a)
{
	const struct trie *t = map_trie(m, a->family);
	struct trie_hit none = { -1, false };

	return t ? trie_lookup(t, a) : none;
}

/* A match for customer c alone, in direction tx or rx. */
static inline struct customer_match match_one(int c, bool tx)
{
	struct customer_match r = { CUSTOMER_NONE, CUSTOMER_NONE, false };

	if (tx)
		r.tx = c;
	else
		r.rx = c;
	return r;
}

/* Maps a decoded packet to its customers; never fails, never allocates. */
struct customer_match customer_lookup(const struct customer_map *m,
    const struct pkt *p)
{
	struct customer_match r = { CUSTOMER_NONE, CUSTOMER_UNMAPPED, false };
	struct trie_hit s, d;
	int32_t c = CUSTOMER_NONE;

	if (p->n_vlans >= 2)
		c = pair_find(m, ((uint32_t)p->vlan_outer << 12 | p->vlan_inner) + 1);
	if (c == CUSTOMER_NONE && p->n_vlans >= 1)
		c = m->vlan[p->vlan_outer & 0x0fff];
	if (c != CUSTOMER_NONE) {      /* the tag decides; prefixes only direction */
		if (m->cust[c].has_prefix)
			return match_one(c, customer_owns(m, c, &p->src));
		return match_one(c, lookup_addr(m, &p->src).home);
	}
	s = lookup_addr(m, &p->src);
	d = lookup_addr(m, &p->dst);
	if (s.map_owner >= 0 || d.map_owner >= 0) {
		r.tx = s.map_owner;
		r.rx = d.map_owner == s.map_owner ? CUSTOMER_NONE : d.map_owner;
		r.inter = r.tx >= 0 && r.rx >= 0;
		return r;
	}
	if (m->catchall != CUSTOMER_NONE)
		return match_one(m->catchall, s.home);
	return r;
}
