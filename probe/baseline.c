/* baseline.c: per-second baselines through nDPI's ndpi_des_* (double exponential smoothing). */
#include <string.h>

#include <ndpi/ndpi_api.h>

#include "baseline.h"

_Static_assert(sizeof(struct ndpi_des_struct) <= sizeof(((struct baseline *)0)->state) &&
    _Alignof(struct ndpi_des_struct) <= _Alignof(double),
    "baseline state buffer too small for struct ndpi_des_struct");

static struct ndpi_des_struct *baseline_des(struct baseline *b)
{
	return (struct ndpi_des_struct *)(void *)b->state;
}

/* See baseline.h. */
int baseline_init(struct baseline *b, double alpha, double beta, double significance)
{
	memset(b, 0, sizeof(*b));
	if (!(alpha > 0 && alpha < 1) || !(beta > 0 && beta < 1) ||
	    !(significance > 0 && significance < 1))
		return -1;
	if (ndpi_des_init(baseline_des(b), alpha, beta, (float)significance) != 0)
		return -1;
	return 0;
}

/* See baseline.h. */
void baseline_add(struct baseline *b, uint64_t value)
{
	double forecast = 0, band = 0;
	int rc = ndpi_des_add_value(baseline_des(b), value, &forecast, &band);

	b->samples++;
	if (rc == 1) {
		b->has_forecast = true;
		b->forecast = forecast < 0 ? 0 : forecast;
		b->band = band < 0 ? 0 : band;
	}
}
