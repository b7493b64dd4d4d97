/* sketch.h: fixed-memory stream sketches: hashing, count-min (sliding window), distinct counting, HyperLogLog, space-saving top-k. */
#ifndef GW_SKETCH_H
#define GW_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* 64-bit hash of len bytes with a seed (FNV-1a folded through a splitmix finalizer). */
uint64_t sketch_hash(const void *key, size_t len, uint64_t seed);

/* Mixes two 64-bit values into one hash (for composite keys). */
uint64_t sketch_mix(uint64_t a, uint64_t b);

/*
 * Sliding-window count-min sketch of packets and bytes: nbuckets buckets of
 * bucket_us each (2..64), depth rows of width (power of two) cells. Each cell
 * holds its own ring of buckets and catches up with the clock when touched,
 * so an update or estimate costs O(depth) (plus the buckets a cell skipped)
 * and moving the window costs nothing. Counters saturate at UINT32_MAX.
 * Memory is fixed at creation: depth * width * (16 + nbuckets * 8) bytes.
 */
struct swcms;

struct swcms_est {
	uint32_t win_pkts;     /* over the whole window (nbuckets * bucket_us) */
	uint32_t win_bytes;
	uint32_t short_pkts;   /* over the newest short_buckets buckets */
	uint32_t short_bytes;
	uint64_t short_us;     /* time covered by the short sum (>= 1) */
};

/* NULL on allocation failure or bad sizes (width not a power of two, zeros). */
struct swcms *swcms_new(unsigned depth, uint32_t width, unsigned nbuckets,
    uint64_t bucket_us, unsigned short_buckets);
void swcms_free(struct swcms *s);

/* Moves the window to now_us (monotonic packet time; earlier times are ignored). */
void swcms_advance(struct swcms *s, uint64_t now_us);

/* Adds pkts/bytes under key hash h at the current time; fills *est afterwards (may be NULL). */
void swcms_add(struct swcms *s, uint64_t h, uint32_t pkts, uint32_t bytes,
    struct swcms_est *est);

/* Estimates for key hash h (never below the true value, except on saturation). */
void swcms_estimate(const struct swcms *s, uint64_t h, struct swcms_est *est);

/* Bytes held by s. */
size_t swcms_memory(const struct swcms *s);

/*
 * Distinct-items-per-key counter (e.g. distinct destination ports per
 * source): a deduplication bitmap of 2^bits_log2 bits per generation decides
 * whether (key, item) is new; new pairs are counted in a count-min sketch of
 * depth x width uint16 counters per generation. Two generations of gen_us
 * each: the estimate covers the last one to two generations. Because every
 * counted pair sets one bitmap bit, a generation counts at most 2^bits_log2
 * pairs however much traffic arrives: the noise per cell stays below
 * 2^bits_log2 / width even under random-source floods.
 */
struct dcount;

struct dcount *dcount_new(unsigned bits_log2, unsigned depth, uint32_t width,
    uint64_t gen_us);
void dcount_free(struct dcount *c);
void dcount_advance(struct dcount *c, uint64_t now_us);

/* Records item hash ih for key hash kh; returns the key's distinct estimate. */
uint32_t dcount_add(struct dcount *c, uint64_t kh, uint64_t ih);

/*
 * As dcount_add, but a pair already counted in the older generation is not
 * counted again in the current one (dcount_add counts it in both, so a pair
 * that recurs all the time weighs two). The pair is then missing from the
 * estimate once the older generation expires, until it recurs: an
 * undercount, for counters where recurring pairs must not add up (slow-scan
 * failures: a client retrying the same dead server).
 */
uint32_t dcount_add_once(struct dcount *c, uint64_t kh, uint64_t ih);

/* Current distinct estimate of key hash kh. */
uint32_t dcount_estimate(const struct dcount *c, uint64_t kh);
size_t dcount_memory(const struct dcount *c);

/* HyperLogLog with 2^HLL_P one-byte registers (standard error ~1.04/sqrt(256) = 6.5%). */
#define HLL_P 8
#define HLL_REGS (1u << HLL_P)
struct hll {
	uint8_t reg[HLL_REGS];
};

void hll_clear(struct hll *h);
void hll_add(struct hll *h, uint64_t hash);
double hll_count(const struct hll *h);

/*
 * Space-saving top-k (Metwally et al.): k counters; an item not present
 * replaces the minimum and inherits its count as error. Items are identified
 * by a 64-bit key hash and carry an address and a 32-bit tag for reporting.
 * A windowed top-k (topk_new_window) counts only the last nbuckets buckets
 * of bucket_us: an item that stopped sending drops to 0 one window later and
 * is the first to be replaced, so the list always shows current senders.
 */
struct topk_entry {
	uint64_t key;          /* 0 = empty slot */
	struct gw_addr addr;
	uint32_t tag;
	uint64_t count;        /* upper bound of the item's true count (in the window) */
	uint64_t err;          /* count - err is a lower bound */
};

struct topk;

#define TOPK_RING_MAX 16

/* Top-k without a window (counts only go down through topk_decay); NULL on ENOMEM. */
struct topk *topk_new(size_t k);

/*
 * Top-k over a sliding window of nbuckets (1..TOPK_RING_MAX) buckets of
 * bucket_us: counts and errors cover the window only. Time moves with
 * topk_advance. NULL on ENOMEM or bad sizes.
 */
struct topk *topk_new_window(size_t k, unsigned nbuckets, uint64_t bucket_us);

/* Windowed top-k: moves the window to now_us (earlier times are ignored); no-op otherwise. */
void topk_advance(struct topk *t, uint64_t now_us);

/* Frees t; NULL is a no-op. */
void topk_free(struct topk *t);

/* Adds n to item key (non-zero); addr/tag are stored when the item enters. */
void topk_add(struct topk *t, uint64_t key, const struct gw_addr *addr,
    uint32_t tag, uint64_t n);

/* Halves every count and error (exponential forgetting; windowed: every bucket). */
void topk_decay(struct topk *t);

/*
 * Copies up to max entries whose tag equals tag (0 = any tag), highest count
 * first, into out; returns how many.
 */
size_t topk_top(const struct topk *t, uint32_t tag, struct topk_entry *out,
    size_t max);

/* Sum of counts of all entries with tag. */
uint64_t topk_tag_total(const struct topk *t, uint32_t tag);
size_t topk_memory(const struct topk *t);

#endif
