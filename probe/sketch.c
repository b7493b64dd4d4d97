/* sketch.c: fixed-memory stream sketches (count-min, distinct counter, HyperLogLog, space-saving top-k). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

static uint64_t sketch_fmix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* See sketch.h. */
uint64_t sketch_hash(const void *key, size_t len, uint64_t seed)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ULL ^ sketch_fmix(seed + 1);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return sketch_fmix(h);
}

/* See sketch.h. */
uint64_t sketch_mix(uint64_t a, uint64_t b)
{
	return sketch_fmix(a ^ (b * 0x9e3779b97f4a7c15ULL + 0x7f4a7c15ULL));
}

/* Cell index of row r for hash h (Kirsch-Mitzenmacher double hashing). */
static inline uint32_t sketch_index(uint64_t h, unsigned r, uint32_t mask)
{
	uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1u;

	return (h1 + r * h2) & mask;
}

static inline uint32_t sat_add32(uint32_t a, uint32_t b)
{
	uint32_t s = a + b;

	return s < a ? UINT32_MAX : s;
}

static bool is_pow2(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* ---------- sliding-window count-min ---------- */

/*
 * Each cell keeps its own ring of nbuckets slots, the sum of its window and
 * the bucket number it was last rolled to: a cell catches up with the clock
 * only when it is touched, so moving the window costs nothing and an update
 * touches one or two cache lines per row.
 */
struct swslot {
	uint32_t pkts;
	uint32_t bytes;
};

struct swcell {
	uint64_t epoch;          /* absolute bucket number + 1 of the newest slot; 0 = never */
	struct swslot win;       /* sum of the slots of buckets epoch-nbuckets+1 .. epoch */
	struct swslot slot[];    /* nbuckets; bucket e lives in slot e % nbuckets */
};

struct swcms {
	unsigned depth;
	uint32_t width;
	unsigned nbuckets;
	unsigned short_buckets;
	uint64_t bucket_us;
	uint64_t epoch;          /* current absolute bucket number + 1 */
	uint64_t last_us;        /* latest time given to swcms_advance */
	size_t stride;           /* bytes per cell */
	unsigned char *cells;    /* depth * width cells of stride bytes */
};

/* See sketch.h. */
struct swcms *swcms_new(unsigned depth, uint32_t width, unsigned nbuckets,
    uint64_t bucket_us, unsigned short_buckets)
{
	struct swcms *s;

	if (depth == 0 || depth > 8 || !is_pow2(width) || nbuckets < 2 ||
	    nbuckets > 64 || bucket_us == 0 || short_buckets == 0 ||
	    short_buckets > nbuckets)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->stride = sizeof(struct swcell) + nbuckets * sizeof(struct swslot);
	s->cells = calloc((size_t)depth * width, s->stride);
	if (s->cells == NULL) {
		swcms_free(s);
		return NULL;
	}
	s->depth = depth;
	s->width = width;
	s->nbuckets = nbuckets;
	s->short_buckets = short_buckets;
	s->bucket_us = bucket_us;
	s->epoch = 1;
	return s;
}

/* See sketch.h. */
void swcms_free(struct swcms *s)
{
	if (s == NULL)
		return;
	free(s->cells);
	free(s);
}

static struct swcell *swcms_cell(const struct swcms *s, uint64_t h, unsigned r)
{
	size_t i = (size_t)r * s->width + sketch_index(h, r, s->width - 1);

	return (struct swcell *)(void *)(s->cells + i * s->stride);
}

/* Brings cell c to the current bucket: slots that left the window are emptied. */
static void swcms_roll(const struct swcms *s, struct swcell *c)
{
	uint64_t e;

	if (c->epoch == s->epoch)
		return;
	if (c->epoch == 0 || s->epoch - c->epoch >= s->nbuckets) {
		memset(&c->win, 0, sizeof(c->win) + s->nbuckets * sizeof(struct swslot));
	} else {
		for (e = c->epoch + 1; e <= s->epoch; e++) {
			struct swslot *o = &c->slot[e % s->nbuckets];

			c->win.pkts -= o->pkts;
			c->win.bytes -= o->bytes;
			o->pkts = o->bytes = 0;
		}
	}
	c->epoch = s->epoch;
}

/* See sketch.h. */
void swcms_advance(struct swcms *s, uint64_t now_us)
{
	if (now_us <= s->last_us)
		return;
	s->last_us = now_us;
	s->epoch = now_us / s->bucket_us + 1;
}

/* See sketch.h. */
void swcms_add(struct swcms *s, uint64_t h, uint32_t pkts, uint32_t bytes,
    struct swcms_est *est)
{
	unsigned r;

	for (r = 0; r < s->depth; r++) {
		struct swcell *c = swcms_cell(s, h, r);
		struct swslot *b = &c->slot[s->epoch % s->nbuckets];

		swcms_roll(s, c);
		/*
		 * A bucket slot stops counting at 2^28 so that the window sum
		 * never wraps (it undercounts only beyond 2^28 per bucket, far
		 * above any threshold).
		 */
		if (b->pkts < (1u << 28) - pkts && b->bytes < (1u << 28) - bytes) {
			b->pkts += pkts;
			b->bytes += bytes;
			c->win.pkts += pkts;
			c->win.bytes += bytes;
		}
	}
	if (est != NULL)
		swcms_estimate(s, h, est);
}

/* Window and short sums of one cell as of the current bucket, without changing it. */
static void swcms_cell_sums(const struct swcms *s, const struct swcell *c,
    struct swslot *win, struct swslot *shrt)
{
	uint64_t e, age;
	unsigned k;

	memset(win, 0, sizeof(*win));
	memset(shrt, 0, sizeof(*shrt));
	if (c->epoch == 0 || s->epoch - c->epoch >= s->nbuckets)
		return;
	*win = c->win;
	for (e = c->epoch + 1; e <= s->epoch; e++) {
		win->pkts -= c->slot[e % s->nbuckets].pkts;
		win->bytes -= c->slot[e % s->nbuckets].bytes;
	}
	age = s->epoch - c->epoch;     /* newest buckets that are still empty */
	for (k = (unsigned)age; k < s->short_buckets; k++) {
		const struct swslot *o = &c->slot[(s->epoch - k) % s->nbuckets];

		shrt->pkts = sat_add32(shrt->pkts, o->pkts);
		shrt->bytes = sat_add32(shrt->bytes, o->bytes);
	}
}

/* See sketch.h. */
void swcms_estimate(const struct swcms *s, uint64_t h, struct swcms_est *est)
{
	struct swslot win, shrt;
	unsigned r;

	est->win_pkts = est->win_bytes = UINT32_MAX;
	est->short_pkts = est->short_bytes = UINT32_MAX;
	for (r = 0; r < s->depth; r++) {
		swcms_cell_sums(s, swcms_cell(s, h, r), &win, &shrt);
		if (win.pkts < est->win_pkts)
			est->win_pkts = win.pkts;
		if (win.bytes < est->win_bytes)
			est->win_bytes = win.bytes;
		if (shrt.pkts < est->short_pkts)
			est->short_pkts = shrt.pkts;
		if (shrt.bytes < est->short_bytes)
			est->short_bytes = shrt.bytes;
	}
	/* The newest bucket is partly filled: count only its elapsed part. */
	est->short_us = (uint64_t)(s->short_buckets - 1) * s->bucket_us;
	if (s->last_us > (s->epoch - 1) * s->bucket_us)
		est->short_us += s->last_us - (s->epoch - 1) * s->bucket_us;
	if (est->short_us < s->bucket_us)
		est->short_us = s->bucket_us;
}

/* See sketch.h. */
size_t swcms_memory(const struct swcms *s)
{
	return sizeof(*s) + (size_t)s->depth * s->width * s->stride;
}

/* ---------- distinct counter ---------- */

struct dcount {
	unsigned bits_log2;
	unsigned depth;
	uint32_t width;
	uint64_t gen_us;
	uint64_t gen_start_us;   /* 0 = unset */
	unsigned cur;            /* 0 or 1 */
	uint64_t *bitmap[2];
	uint16_t *cms[2];        /* depth * width each */
};

/* See sketch.h. */
struct dcount *dcount_new(unsigned bits_log2, unsigned depth, uint32_t width,
    uint64_t gen_us)
{
	struct dcount *c;
	size_t words, cells = (size_t)depth * width;
	int g;

	if (bits_log2 < 6 || bits_log2 > 30 || depth == 0 || depth > 8 ||
	    !is_pow2(width) || gen_us == 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	words = ((size_t)1 << bits_log2) / 64;
	for (g = 0; g < 2; g++) {
		c->bitmap[g] = calloc(words, sizeof(uint64_t));
		c->cms[g] = calloc(cells, sizeof(uint16_t));
		if (c->bitmap[g] == NULL || c->cms[g] == NULL) {
			dcount_free(c);
			return NULL;
		}
	}
	c->bits_log2 = bits_log2;
	c->depth = depth;
	c->width = width;
	c->gen_us = gen_us;
	return c;
}

/* See sketch.h. */
void dcount_free(struct dcount *c)
{
	int g;

	if (c == NULL)
		return;
	for (g = 0; g < 2; g++) {
		free(c->bitmap[g]);
		free(c->cms[g]);
	}
	free(c);
}

static void dcount_clear_gen(struct dcount *c, unsigned g)
{
	memset(c->bitmap[g], 0, (((size_t)1 << c->bits_log2) / 64) * sizeof(uint64_t));
	memset(c->cms[g], 0, (size_t)c->depth * c->width * sizeof(uint16_t));
}

/* See sketch.h. */
void dcount_advance(struct dcount *c, uint64_t now_us)
{
	uint64_t steps;

	if (c->gen_start_us == 0) {
		c->gen_start_us = now_us;
		return;
	}
	if (now_us < c->gen_start_us + c->gen_us)
		return;
	steps = (now_us - c->gen_start_us) / c->gen_us;
	if (steps >= 2) {
		dcount_clear_gen(c, 0);
		dcount_clear_gen(c, 1);
	} else {
		c->cur ^= 1;
		dcount_clear_gen(c, c->cur);
	}
	c->gen_start_us += steps * c->gen_us;
}

static uint32_t dcount_gen_est(const struct dcount *c, unsigned g, uint64_t kh)
{
	uint32_t m = UINT16_MAX;
	unsigned r;

	for (r = 0; r < c->depth; r++) {
		uint16_t v = c->cms[g][(size_t)r * c->width +
		    sketch_index(kh, r, c->width - 1)];

		if (v < m)
			m = v;
	}
	return m;
}

/* See sketch.h. */
static uint32_t dcount_add_pair(struct dcount *c, uint64_t kh, uint64_t ih,
    bool once)
{
	uint64_t bit = sketch_mix(kh, ih) & (((uint64_t)1 << c->bits_log2) - 1);
	uint64_t *w = &c->bitmap[c->cur][bit / 64];
	uint64_t mask = (uint64_t)1 << (bit % 64);
	unsigned r;

	if (once && (*w & mask) == 0 && (c->bitmap[1 - c->cur][bit / 64] & mask) != 0) {
		*w |= mask;   /* counted in the older generation: remembered, not counted again */
		return dcount_estimate(c, kh);
	}
	if ((*w & mask) == 0) {
		uint32_t m = dcount_gen_est(c, c->cur, kh);

		*w |= mask;
		/* Conservative update: raise only the cells at the minimum. */
		for (r = 0; r < c->depth && m < UINT16_MAX; r++) {
			uint16_t *v = &c->cms[c->cur][(size_t)r * c->width +
			    sketch_index(kh, r, c->width - 1)];

			if (*v == m)
				(*v)++;
		}
	}
	return dcount_estimate(c, kh);
}

/* See sketch.h. */
uint32_t dcount_add(struct dcount *c, uint64_t kh, uint64_t ih)
{
	return dcount_add_pair(c, kh, ih, false);
}

/* See sketch.h. */
uint32_t dcount_add_once(struct dcount *c, uint64_t kh, uint64_t ih)
{
	return dcount_add_pair(c, kh, ih, true);
}

/* See sketch.h. */
uint32_t dcount_estimate(const struct dcount *c, uint64_t kh)
{
	return dcount_gen_est(c, 0, kh) + dcount_gen_est(c, 1, kh);
}

/* See sketch.h. */
size_t dcount_memory(const struct dcount *c)
{
	return sizeof(*c) + 2 * ((((size_t)1 << c->bits_log2) / 8) +
	    (size_t)c->depth * c->width * sizeof(uint16_t));
}

/* ---------- HyperLogLog ---------- */

/* See sketch.h. */
void hll_clear(struct hll *h)
{
	memset(h->reg, 0, sizeof(h->reg));
}

/* See sketch.h. */
void hll_add(struct hll *h, uint64_t hash)
{
	unsigned idx = (unsigned)(hash >> (64 - HLL_P));
	uint64_t rest = (hash << HLL_P) | ((uint64_t)1 << (HLL_P - 1));
	uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);

	if (rank > h->reg[idx])
		h->reg[idx] = rank;
}

/* See sketch.h. */
double hll_count(const struct hll *h)
{
	double m = HLL_REGS, sum = 0, est;
	unsigned i, zeros = 0;

	for (i = 0; i < HLL_REGS; i++) {
		sum += ldexp(1.0, -(int)h->reg[i]);
		if (h->reg[i] == 0)
			zeros++;
	}
	est = (0.7213 / (1 + 1.079 / m)) * m * m / sum;
	if (est <= 2.5 * m && zeros > 0)
		est = m * log(m / zeros);   /* linear counting for small sets */
	return est;
}

/* ---------- space-saving top-k ---------- */

/*
 * A slot: the reported entry plus, in window mode, a ring of per-bucket
 * counts (e.count is their sum) and the bucket the inherited error was put in.
 */
struct topk_slot {
	struct topk_entry e;
	uint64_t last_bucket;     /* bucket index the ring was last moved to */
	uint64_t err_bucket;      /* e.err was counted in this bucket */
	uint32_t ring[TOPK_RING_MAX];
};

struct topk {
	size_t k;
	unsigned nbuckets;        /* 0: no window */
	uint64_t bucket_us;
	uint64_t now_bucket;
	struct topk_slot *s;
};

/* See sketch.h. */
struct topk *topk_new_window(size_t k, unsigned nbuckets, uint64_t bucket_us)
{
	struct topk *t;

	if (k == 0 || nbuckets > TOPK_RING_MAX || (nbuckets > 0 && bucket_us == 0))
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->s = calloc(k, sizeof(*t->s))) == NULL) {
		free(t);
		return NULL;
	}
	t->k = k;
	t->nbuckets = nbuckets;
	t->bucket_us = bucket_us;
	return t;
}

/* See sketch.h. */
struct topk *topk_new(size_t k)
{
	return topk_new_window(k, 0, 0);
}

/* See sketch.h. */
void topk_free(struct topk *t)
{
	if (t == NULL)
		return;
	free(t->s);
	free(t);
}

/* Window mode: drops the buckets of x that left the window ending at t->now_bucket. */
static void topk_slot_catch_up(const struct topk *t, struct topk_slot *x)
{
	uint64_t steps = t->now_bucket - x->last_bucket, i;

	if (t->nbuckets == 0 || x->last_bucket >= t->now_bucket)
		return;
	if (steps >= t->nbuckets) {
		memset(x->ring, 0, sizeof(x->ring));
		x->e.count = 0;
	} else {
		for (i = 1; i <= steps; i++) {
			uint32_t *b = &x->ring[(x->last_bucket + i) % t->nbuckets];

			x->e.count -= *b;
			*b = 0;
		}
	}
	if (t->now_bucket - x->err_bucket >= t->nbuckets)
		x->e.err = 0;
	x->last_bucket = t->now_bucket;
}

/* See sketch.h. */
void topk_advance(struct topk *t, uint64_t now_us)
{
	uint64_t b;
	size_t i;

	if (t->nbuckets == 0)
		return;
	b = now_us / t->bucket_us;
	if (b <= t->now_bucket)
		return;
	t->now_bucket = b;
	for (i = 0; i < t->k; i++) {
		topk_slot_catch_up(t, &t->s[i]);
		if (t->s[i].e.count == 0)      /* gone quiet: the slot is free */
			memset(&t->s[i], 0, sizeof(t->s[i]));
	}
}

/* Adds n to slot x at the current time (ring and sum; saturating). */
static void topk_slot_add(struct topk *t, struct topk_slot *x, uint64_t n)
{
	uint32_t *b;

	if (t->nbuckets == 0) {
		x->e.count += n;
		return;
	}
	b = &x->ring[t->now_bucket % t->nbuckets];
	if (n > UINT32_MAX - *b)
		n = UINT32_MAX - *b;      /* saturate: the sum stays the ring's sum */
	*b += (uint32_t)n;
	x->e.count += n;
	x->last_bucket = t->now_bucket;
}

/* See sketch.h. */
void topk_add(struct topk *t, uint64_t key, const struct gw_addr *addr,
    uint32_t tag, uint64_t n)
{
	struct topk_slot *min = &t->s[0];
	uint64_t err;
	size_t i;

	for (i = 0; i < t->k; i++) {
		struct topk_slot *x = &t->s[i];

		if (x->e.key == key) {
			topk_slot_add(t, x, n);
			return;
		}
		/* Window mode frees quiet slots anywhere: no early stop at a free one. */
		if (x->e.key == 0 ? min->e.key != 0 :
		    (min->e.key != 0 && x->e.count < min->e.count))
			min = x;
	}
	err = min->e.key != 0 ? min->e.count : 0;
	memset(min, 0, sizeof(*min));
	min->e.key = key;
	min->e.addr = *addr;
	min->e.tag = tag;
	min->e.err = err;
	min->err_bucket = t->now_bucket;
	topk_slot_add(t, min, err + n);
}

/* See sketch.h. */
void topk_decay(struct topk *t)
{
	size_t i;
	unsigned b;

	for (i = 0; i < t->k; i++) {
		struct topk_slot *x = &t->s[i];

		x->e.count /= 2;
		x->e.err /= 2;
		if (t->nbuckets == 0)
			continue;
		x->e.count = 0;
		for (b = 0; b < t->nbuckets; b++) {
			x->ring[b] /= 2;
			x->e.count += x->ring[b];
		}
	}
}

static int topk_cmp(const void *a, const void *b)
{
	const struct topk_entry *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* See sketch.h. */
size_t topk_top(const struct topk *t, uint32_t tag, struct topk_entry *out,
    size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < t->k; i++) {
		const struct topk_entry *x = &t->s[i].e;

		if (x->key == 0 || (tag != 0 && x->tag != tag) || x->count == 0)
			continue;
		if (n < max) {
			out[n++] = *x;
			qsort(out, n, sizeof(*out), topk_cmp);
		} else if (max > 0 && x->count > out[max - 1].count) {
			out[max - 1] = *x;
			qsort(out, n, sizeof(*out), topk_cmp);
		}
	}
	return n;
}

/* See sketch.h. */
uint64_t topk_tag_total(const struct topk *t, uint32_t tag)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < t->k; i++)
		if (t->s[i].e.key != 0 && t->s[i].e.tag == tag)
			sum += t->s[i].e.count;
	return sum;
}

/* See sketch.h. */
size_t topk_memory(const struct topk *t)
{
	return sizeof(*t) + t->k * sizeof(*t->s);
}
