/* detect.c: per-customer anomaly detectors (minimal placeholder: no detection yet). */
#include <stdlib.h>

#include "detect.h"
#include "log.h"

struct detect {
	const struct customer_map *map; /* borrowed */
	detect_emit_cb emit;            /* borrowed */
	void *ctx;                      /* borrowed */
};

/* See detect.h. */
struct detect *detect_new(const struct customer_map *map, detect_emit_cb emit,
    void *ctx)
{
	struct detect *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->map = map;
	d->emit = emit;
	d->ctx = ctx;
	return d;
}

/* See detect.h. */
void detect_free(struct detect *d)
{
	free(d);
}

/* See detect.h. */
bool detect_packet(struct detect *d, const struct pkt *p,
    const struct customer_match *m)
{
	(void)d;
	(void)p;
	(void)m;
	return false;
}

/* See detect.h. */
void detect_tick(struct detect *d, uint64_t now_us)
{
	(void)d;
	(void)now_us;
}

/* See detect.h. */
int detect_set_threshold(struct detect *d, const char *key, double value)
{
	(void)d;
	(void)key;
	(void)value;
	return -1;
}

/* See detect.h. */
int detect_load_thresholds(struct detect *d, const char *path)
{
	(void)d;
	log_warn("detect: thresholds file %s ignored (not implemented yet)", path);
	return 0;
}

/* See detect.h. */
size_t detect_inspect(const struct detect *d, char lines[][GW_TEXT_MAX], size_t max)
{
	(void)d;
	(void)lines;
	(void)max;
	return 0;
}
