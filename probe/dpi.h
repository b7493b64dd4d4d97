/* dpi.h: application classification of flows with nDPI; the only nDPI user. */
#ifndef GW_DPI_H
#define GW_DPI_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"

/* Values of struct flow.dpi_state (a zeroed flow is DPI_PENDING). */
#define DPI_PENDING 0   /* packets still go to nDPI */
#define DPI_DONE    1   /* classified (or given up): f->app/f->category final */
#define DPI_SKIPPED 2   /* never classified (e.g. attack traffic, no L3 data) */

#define DPI_DEFAULT_MAX_PKTS   12
#define DPI_DEFAULT_MAX_STATES 512   /* shared captures classify identically down to 256 */

struct dpi_config {
	unsigned max_pkts;    /* packets per flow given to nDPI; 0 = default */
	size_t   max_states;  /* concurrent nDPI flow states; 0 = default */
};

struct dpi;

/* Initialises nDPI with all protocols. NULL on failure (logged). */
struct dpi *dpi_new(const struct dpi_config *cfg);

/* Frees the module; every flow state must have been released. NULL is a no-op. */
void dpi_free(struct dpi *d);

/*
 * Gives packet p (direction dir) of flow f to nDPI while f->dpi_state is
 * DPI_PENDING. Allocates the per-flow state on the first call; when the cap on
 * states is reached, the oldest pending flow is classified with what it has
 * (nDPI give-up with guessing) and its state reused. Once the flow is
 * classified or reached max_pkts, sets f->app, f->category, DPI_DONE and
 * frees the state. Returns true when this call finished the classification.
 */
bool dpi_packet(struct dpi *d, struct flow *f, const struct pkt *p, int dir);

/*
 * Flow f ends (or is no longer interesting): if still pending, classifies it
 * with what nDPI has seen, then releases f->dpi. Safe when f->dpi is NULL.
 */
void dpi_flow_end(struct dpi *d, struct flow *f);

/* Name of an application id as stored in f->app ("HTTP", "Unknown"); never NULL. */
const char *dpi_app_name(const struct dpi *d, uint16_t app);

/* Name of a category id as stored in f->category ("Web"); never NULL. */
const char *dpi_category_name(const struct dpi *d, uint16_t category);

struct dpi_stats {
	uint64_t states_live;     /* nDPI flow states allocated now */
	uint64_t states_forced;   /* classifications forced by the states cap */
	uint64_t classified;      /* flows finished by detection */
	uint64_t given_up;        /* flows finished by max_pkts or flow end */
	uint64_t packets;         /* packets given to nDPI */
};

void dpi_get_stats(const struct dpi *d, struct dpi_stats *out);

#endif
