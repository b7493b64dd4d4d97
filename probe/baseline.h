/* baseline.h: learned per-second traffic baseline (wraps nDPI's double exponential smoothing). */
#ifndef GW_BASELINE_H
#define GW_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One baseline series (e.g. a customer's rx bits per second). Fixed size,
 * no allocation; the nDPI state lives in an opaque buffer so that callers do
 * not include nDPI (only dpi.c and baseline.c may).
 */
struct baseline {
	_Alignas(double) uint8_t state[96]; /* struct ndpi_des_struct, opaque */
	uint32_t samples;      /* values added so far */
	bool     has_forecast;
	double   forecast;     /* expected next value */
	double   band;         /* confidence band around forecast (same unit) */
};

/*
 * Initialises b with smoothing factors alpha, beta in (0,1) and the
 * confidence-band significance (e.g. 0.05). 0, or -1 on bad parameters.
 */
int baseline_init(struct baseline *b, double alpha, double beta, double significance);

/* Adds one sample (e.g. bits of the last second) and updates forecast/band. */
void baseline_add(struct baseline *b, uint64_t value);

#endif
