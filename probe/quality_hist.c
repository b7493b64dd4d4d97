/* quality_hist.c: fixed-memory log-bucket histogram of durations for p95 latencies. */
#include <math.h>
#include <string.h>

#include "quality_int.h"

/* Bucket of v us: octave = position of the top bit, sub = the next 3 bits. */
static unsigned quality_hist_bucket(uint64_t v)
{
	unsigned msb, sub;

	if (v < QHIST_SUB)
		return (unsigned)v;   /* 0..7 us: one bucket per microsecond */
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb >= QHIST_OCTAVES + 2)
		return QHIST_BUCKETS - 1;
	sub = (unsigned)(v >> (msb - 3)) & (QHIST_SUB - 1);
	return (msb - 2) * QHIST_SUB + sub;
}

/* Lower bound (us) of bucket b, the inverse of quality_hist_bucket. */
static double quality_hist_lower(unsigned b)
{
	unsigned octave = b / QHIST_SUB, sub = b % QHIST_SUB;

	if (octave == 0)
		return (double)b;
	return ldexp((double)(QHIST_SUB + sub), (int)octave - 1);
}

/* Empties h. */
void quality_hist_reset(struct qhist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Adds one duration of us microseconds. */
void quality_hist_add(struct qhist *h, uint64_t us)
{
	h->n[quality_hist_bucket(us)]++;
	if (h->count == 0 || us < h->min_us)
		h->min_us = us;
	if (us > h->max_us)
		h->max_us = us;
	h->count++;
}

/*
 * Nearest-rank quantile: the bucket holding sample number ceil(p * count),
 * interpolated linearly inside the bucket and clamped to the exact minimum
 * and maximum (so one or two samples give exact values). Milliseconds.
 */
double quality_hist_quantile_ms(const struct qhist *h, double p)
{
	uint64_t rank, seen = 0;
	double lo, hi, v;
	unsigned b;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)ceil(p * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (b = 0; b < QHIST_BUCKETS; b++) {
		if (seen + h->n[b] >= rank)
			break;
		seen += h->n[b];
	}
	if (b >= QHIST_BUCKETS)
		b = QHIST_BUCKETS - 1;
	lo = quality_hist_lower(b);
	hi = b + 1 < QHIST_BUCKETS ? quality_hist_lower(b + 1) : lo * 2;
	v = lo + (hi - lo) * ((double)(rank - seen) - 0.5) / (double)h->n[b];
	if (v < (double)h->min_us)
		v = (double)h->min_us;
	if (v > (double)h->max_us)
		v = (double)h->max_us;
	return v / 1000.0;
}
