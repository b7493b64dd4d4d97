/* flow.c: bidirectional flow table: seeded hash, one reserved array of flows, LRU expiry, hard cap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "flow.h"

#define FLOW_DEFAULT_MAX        262144
#define FLOW_DEFAULT_IDLE_US    (60ULL * 1000000ULL)
#define FLOW_CLOSING_IDLE_US    (10ULL * 1000000ULL)
#define FLOW_DEFAULT_ACTIVE_US  (300ULL * 1000000ULL)
#define FLOW_MIN_BUCKETS        1024
#define FLOW_EMBRYO_MIN         1024     /* cap on SYN-only flows: at least this, */
#define FLOW_EMBRYO_SHARE       64       /* ... or max_flows / this */

/*
 * Flows live in one array of max_flows slots, reserved as address space
 * when the table is made: a page becomes memory when a flow first uses it,
 * so the table costs what its busiest moment needed, and links between
 * flows are 32-bit slot numbers (slot + 1; 0 = none) instead of pointers.
 */
typedef uint32_t flow_id;

/* Flows of one list are ordered by last_us (oldest at head). */
struct flow_list {
	flow_id head, tail;
	size_t n;
};

struct flow_table {
	struct flow_config cfg;
	uint64_t closing_idle_us;
	flow_end_cb cb;          /* borrowed */
	void *ctx;               /* borrowed */
	uint64_t seed[2];        /* SipHash key: random per table */

	flow_id *buckets;
	size_t nbuckets;         /* power of two */
	size_t max_buckets;

	struct flow_list open;   /* normal flows */
	struct flow_list closing;/* TCP flows that saw FIN or RST */
	/*
	 * TCP flows that saw nothing but SYNs from the initiator. Spoofed SYN
	 * floods create one per packet; capping them (oldest evicted first)
	 * keeps memory flat whatever the flood, and a real connection leaves
	 * this list with its first answer.
	 */
	struct flow_list embryo;
	size_t max_embryo;

	struct flow *slots;      /* max_flows of them, reserved (mmap) */
	size_t slots_bytes;
	size_t used;             /* slots ever handed out (the rest never touched) */
	flow_id free_list;       /* linked through hnext */

	struct flow_stats stats;
};

/* Canonical (direction independent) key, hashed as six 64-bit words. */
struct flow_key {
	uint8_t  lo[16], hi[16];
	uint16_t lo_port, hi_port;
	uint16_t vlan_outer, vlan_inner;
	uint8_t  family, proto;
	uint8_t  pad[6];
};

const char *
flow_end_name(enum flow_end why)
{
	switch (why) {
	case FLOW_END_IDLE:    return "idle";
	case FLOW_END_ACTIVE:  return "active";
	case FLOW_END_EVICTED: return "evicted";
	case FLOW_END_FLUSH:   return "end";
	}
	return "unknown";
}

/* SipHash-1-3 (keyed, so spoofed traffic cannot aim at one bucket). */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint32_t
flow_siphash(const uint64_t seed[2], const uint64_t *w, size_t nwords)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ seed[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ seed[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ seed[0];
	uint64_t v3 = 0x7465646279746573ULL ^ seed[1];
	size_t i;

	for (i = 0; i < nwords; i++) {
		v3 ^= w[i];
		SIPROUND;
		v0 ^= w[i];
	}
	v3 ^= (uint64_t)(nwords * 8) << 56;
	SIPROUND;
	v0 ^= (uint64_t)(nwords * 8) << 56;
	v2 ^= 0xff;
	SIPROUND; SIPROUND; SIPROUND;
	return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

/* Hash of a flow key, the same for both directions. */
static uint32_t
flow_hash_key(const struct flow_table *t, const struct gw_addr *src,
    const struct gw_addr *dst, uint16_t sport, uint16_t dport, uint16_t vlan_outer,
    uint16_t vlan_inner, uint8_t proto)
{
	union { struct flow_key k; uint64_t w[6]; } u;
	int c;

	_Static_assert(sizeof(struct flow_key) == 48, "flow_key must be 6 words");
	memset(&u, 0, sizeof(u));
	c = memcmp(src->a, dst->a, 16);
	if (c < 0 || (c == 0 && sport <= dport)) {
		memcpy(u.k.lo, src->a, 16); memcpy(u.k.hi, dst->a, 16);
		u.k.lo_port = sport; u.k.hi_port = dport;
	} else {
		memcpy(u.k.lo, dst->a, 16); memcpy(u.k.hi, src->a, 16);
		u.k.lo_port = dport; u.k.hi_port = sport;
	}
	u.k.vlan_outer = vlan_outer;
	u.k.vlan_inner = vlan_inner;
	u.k.family = src->family;
	u.k.proto = proto;
	return flow_siphash(t->seed, u.w, 6);
}

static uint32_t
flow_hash_pkt(const struct flow_table *t, const struct pkt *p)
{
	return flow_hash_key(t, &p->src, &p->dst, p->sport, p->dport, p->vlan_outer,
	    p->vlan_inner, p->l4_proto);
}

/* A stored flow's hash (not kept in the flow: recomputed when it moves bucket). */
static uint32_t
flow_hash_flow(const struct flow_table *t, const struct flow *f)
{
	return flow_hash_key(t, &f->src, &f->dst, f->sport, f->dport, f->vlan_outer,
	    f->vlan_inner, f->proto);
}

static void
flow_seed(uint64_t seed[2])
{
	struct timespec ts;

	if (getrandom(seed, 2 * sizeof(uint64_t), GRND_NONBLOCK) ==
	    (ssize_t)(2 * sizeof(uint64_t)))
		return;
	/* No entropy yet (early boot): weaker, but still not a constant. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
	seed[1] = (uint64_t)(uintptr_t)seed ^ ((uint64_t)ts.tv_nsec << 32);
}

static size_t
flow_pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
}

/* The flow in slot id (id != 0). */
static inline struct flow *
flow_at(const struct flow_table *t, flow_id id)
{
	return &t->slots[id - 1];
}

static inline flow_id
flow_id_of(const struct flow_table *t, const struct flow *f)
{
	return (flow_id)(f - t->slots) + 1;
}

struct flow_table *
flow_table_new(const struct flow_config *cfg, flow_end_cb cb, void *ctx)
{
	struct flow_table *t = calloc(1, sizeof(*t));
	void *m;

	if (t == NULL)
		return NULL;
	if (cfg != NULL)
		t->cfg = *cfg;
	if (t->cfg.max_flows == 0)
		t->cfg.max_flows = FLOW_DEFAULT_MAX;
	if (t->cfg.max_flows > UINT32_MAX - 1)
		t->cfg.max_flows = UINT32_MAX - 1;
	if (t->cfg.idle_timeout_us == 0)
		t->cfg.idle_timeout_us = FLOW_DEFAULT_IDLE_US;
	if (t->cfg.active_timeout_us == 0)
		t->cfg.active_timeout_us = FLOW_DEFAULT_ACTIVE_US;
	t->closing_idle_us = t->cfg.idle_timeout_us < FLOW_CLOSING_IDLE_US ?
	    t->cfg.idle_timeout_us : FLOW_CLOSING_IDLE_US;
	t->cb = cb;
	t->ctx = ctx;
	flow_seed(t->seed);
	t->max_embryo = t->cfg.max_flows / FLOW_EMBRYO_SHARE;
	if (t->max_embryo < FLOW_EMBRYO_MIN)
		t->max_embryo = FLOW_EMBRYO_MIN;
	t->max_buckets = flow_pow2_at_least(t->cfg.max_flows);
	t->nbuckets = t->max_buckets < FLOW_MIN_BUCKETS ? t->max_buckets :
	    FLOW_MIN_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->slots_bytes = t->cfg.max_flows * sizeof(struct flow);
	m = mmap(NULL, t->slots_bytes, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->buckets == NULL || m == MAP_FAILED) {
		if (m != MAP_FAILED)
			munmap(m, t->slots_bytes);
		free(t->buckets);
		free(t);
		return NULL;
	}
	t->slots = m;
	return t;
}

static void
flow_list_unlink(struct flow_table *t, struct flow_list *l, struct flow *f)
{
	if (f->lru_prev != 0)
		flow_at(t, f->lru_prev)->lru_next = f->lru_next;
	else
		l->head = f->lru_next;
	if (f->lru_next != 0)
		flow_at(t, f->lru_next)->lru_prev = f->lru_prev;
	else
		l->tail = f->lru_prev;
	f->lru_prev = f->lru_next = 0;
	l->n--;
}

static void
flow_list_append(struct flow_table *t, struct flow_list *l, struct flow *f)
{
	flow_id id = flow_id_of(t, f);

	f->lru_next = 0;
	f->lru_prev = l->tail;
	if (l->tail != 0)
		flow_at(t, l->tail)->lru_next = id;
	else
		l->head = id;
	l->tail = id;
	l->n++;
}

static struct flow_list *
flow_list_of(struct flow_table *t, const struct flow *f)
{
	if (f->flags & (FLOWF_FIN_SEEN | FLOWF_RST_SEEN))
		return &t->closing;
	return (f->flags & FLOWF_EMBRYONIC) ? &t->embryo : &t->open;
}

/* Ends flow f: callback, then unlink from hash and LRU and return it to the free list. */
static void
flow_end(struct flow_table *t, struct flow *f, enum flow_end why)
{
	flow_id id = flow_id_of(t, f);
	flow_id *pp = &t->buckets[flow_hash_flow(t, f) & (t->nbuckets - 1)];

	if (t->cb != NULL)
		t->cb(f, why, t->ctx);
	while (*pp != 0 && *pp != id)
		pp = &flow_at(t, *pp)->hnext;
	if (*pp == id)
		*pp = f->hnext;
	flow_list_unlink(t, flow_list_of(t, f), f);
	f->hnext = t->free_list;
	t->free_list = id;
	t->stats.active--;
	if (why == FLOW_END_EVICTED)
		t->stats.evicted++;
}

void
flow_table_free(struct flow_table *t)
{
	if (t == NULL)
		return;
	while (t->open.head != 0)
		flow_end(t, flow_at(t, t->open.head), FLOW_END_FLUSH);
	while (t->closing.head != 0)
		flow_end(t, flow_at(t, t->closing.head), FLOW_END_FLUSH);
	while (t->embryo.head != 0)
		flow_end(t, flow_at(t, t->embryo.head), FLOW_END_FLUSH);
	munmap(t->slots, t->slots_bytes);
	free(t->buckets);
	free(t);
}

/* Doubles the bucket array (rehashing every flow); keeps the old one on ENOMEM. */
static void
flow_grow(struct flow_table *t)
{
	size_t n = t->nbuckets * 2, i;
	flow_id *nb, id, next;

	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		for (id = t->buckets[i]; id != 0; id = next) {
			struct flow *f = flow_at(t, id);
			size_t b = flow_hash_flow(t, f) & (n - 1);

			next = f->hnext;
			f->hnext = nb[b];
			nb[b] = id;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

/* A free slot: a recycled one, else the next never used; NULL when all are live. */
static struct flow *
flow_alloc(struct flow_table *t)
{
	struct flow *f;

	if (t->free_list != 0) {
		f = flow_at(t, t->free_list);
		t->free_list = f->hnext;
		return f;
	}
	if (t->used >= t->cfg.max_flows)
		return NULL;
	return &t->slots[t->used++];
}

static bool
flow_addr_eq(const struct gw_addr *x, const struct gw_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, 16) == 0;
}

/* Returns the flow matching p in its bucket, with *dir set, or NULL. */
static struct flow *
flow_find(struct flow_table *t, const struct pkt *p, uint32_t h, int *dir)
{
	struct flow *f;
	flow_id id;

	for (id = t->buckets[h & (t->nbuckets - 1)]; id != 0; id = f->hnext) {
		f = flow_at(t, id);
		if (f->proto != p->l4_proto ||
		    f->vlan_outer != p->vlan_outer || f->vlan_inner != p->vlan_inner)
			continue;
		if (f->sport == p->sport && f->dport == p->dport &&
		    flow_addr_eq(&f->src, &p->src) && flow_addr_eq(&f->dst, &p->dst)) {
			*dir = FLOW_FWD;
			return f;
		}
		if (f->sport == p->dport && f->dport == p->sport &&
		    flow_addr_eq(&f->src, &p->dst) && flow_addr_eq(&f->dst, &p->src)) {
			*dir = FLOW_REV;
			return f;
		}
	}
	return NULL;
}

/* Evicts the least recently seen flow of any list. */
static void
flow_evict_one(struct flow_table *t)
{
	flow_id heads[3] = { t->open.head, t->closing.head, t->embryo.head };
	struct flow *old = NULL;
	int i;

	for (i = 0; i < 3; i++) {
		if (heads[i] == 0)
			continue;
		if (old == NULL || flow_at(t, heads[i])->last_us < old->last_us)
			old = flow_at(t, heads[i]);
	}
	if (old != NULL)
		flow_end(t, old, FLOW_END_EVICTED);
}

static bool
flow_bare_syn(const struct pkt *p)
{
	return p->l4_proto == 6 && p->has_l4 &&
	    (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
}

static struct flow *
flow_create(struct flow_table *t, const struct pkt *p, uint32_t h)
{
	struct flow *f;
	size_t b;

	if (flow_bare_syn(p) && t->embryo.n >= t->max_embryo)
		flow_end(t, flow_at(t, t->embryo.head), FLOW_END_EVICTED);
	if (t->stats.active >= t->cfg.max_flows)
		flow_evict_one(t);
	if (t->stats.active >= t->nbuckets && t->nbuckets < t->max_buckets)
		flow_grow(t);
	f = flow_alloc(t);
	if (f == NULL) {
		t->stats.alloc_failed++;
		return NULL;
	}
	memset(f, 0, sizeof(*f));
	f->src = p->src;
	f->dst = p->dst;
	f->sport = p->sport;
	f->dport = p->dport;
	f->proto = p->l4_proto;
	f->vlan_outer = p->vlan_outer;
	f->vlan_inner = p->vlan_inner;
	f->first_us = f->last_us = f->record_start_us = p->ts_us;
	f->customer = -1;
	f->peer_customer = -1;
	if (flow_bare_syn(p))
		f->flags |= FLOWF_EMBRYONIC;
	b = h & (t->nbuckets - 1);
	f->hnext = t->buckets[b];
	t->buckets[b] = flow_id_of(t, f);
	flow_list_append(t, flow_list_of(t, f), f);
	t->stats.active++;
	t->stats.created++;
	return f;
}

/* Active timeout: emit a record for the elapsed part and start a new one. */
static void
flow_check_active(struct flow_table *t, struct flow *f, uint64_t now_us)
{
	if (now_us < f->record_start_us ||
	    now_us - f->record_start_us < t->cfg.active_timeout_us)
		return;
	if (t->cb != NULL)
		t->cb(f, FLOW_END_ACTIVE, t->ctx);
	memset(f->bytes, 0, sizeof(f->bytes));
	memset(f->pkts, 0, sizeof(f->pkts));
	f->record_start_us = now_us;
}

struct flow *
flow_table_packet(struct flow_table *t, const struct pkt *p, int *dir,
    bool *created)
{
	uint32_t h = flow_hash_pkt(t, p);
	struct flow *f;
	struct flow_list *old;

	*created = false;
	*dir = FLOW_FWD;
	f = flow_find(t, p, h, dir);
	if (f == NULL) {
		f = flow_create(t, p, h);
		if (f == NULL)
			return NULL;
		*created = true;
	} else {
		flow_check_active(t, f, p->ts_us);
	}
	old = flow_list_of(t, f);
	if (p->l4_proto == 6 && p->has_l4) {
		if (p->tcp_flags & TCPF_SYN)
			f->flags |= FLOWF_SYN_SEEN;
		if (p->tcp_flags & TCPF_FIN)
			f->flags |= FLOWF_FIN_SEEN;
		if (p->tcp_flags & TCPF_RST)
			f->flags |= FLOWF_RST_SEEN;
	}
	if (*dir == FLOW_REV || !flow_bare_syn(p))
		f->flags &= (uint16_t)~FLOWF_EMBRYONIC;
	if (*dir == FLOW_REV)
		f->flags |= FLOWF_REPLIED;
	/* Time only moves forward for LRU order (live capture may reorder a little). */
	if (p->ts_us > f->last_us)
		f->last_us = p->ts_us;
	if (old != flow_list_of(t, f) || old->tail != flow_id_of(t, f)) {
		flow_list_unlink(t, old, f);
		flow_list_append(t, flow_list_of(t, f), f);
	}
	f->bytes[*dir] += p->ip_bytes;
	f->pkts[*dir]++;
	return f;
}

static void
flow_expire_list(struct flow_table *t, struct flow_list *l, uint64_t timeout_us,
    uint64_t now_us)
{
	while (l->head != 0 && flow_at(t, l->head)->last_us + timeout_us <= now_us)
		flow_end(t, flow_at(t, l->head), FLOW_END_IDLE);
}

void
flow_table_expire(struct flow_table *t, uint64_t now_us)
{
	flow_expire_list(t, &t->open, t->cfg.idle_timeout_us, now_us);
	flow_expire_list(t, &t->closing, t->closing_idle_us, now_us);
	flow_expire_list(t, &t->embryo, t->cfg.idle_timeout_us, now_us);
}

void
flow_table_stats(const struct flow_table *t, struct flow_stats *out)
{
	*out = t->stats;
}

void
flow_table_walk(struct flow_table *t, int (*fn)(struct flow *f, void *ctx),
    void *ctx)
{
	const struct flow_list *lists[3] = { &t->open, &t->closing, &t->embryo };
	flow_id id, next;
	int i;

	for (i = 0; i < 3; i++) {
		for (id = lists[i]->head; id != 0; id = next) {
			next = flow_at(t, id)->lru_next;
			if (fn(flow_at(t, id), ctx) != 0)
				return;
		}
	}
}
