/* store_queue.h: the store's backlog of RRD steps: a bounded FIFO that drops its oldest. */
#ifndef GW_STORE_QUEUE_H
#define GW_STORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gwmsg.h"
#include "store.h"

/* One step to write (see store.h for what the values are). */
struct store_update {
	char     customer[GW_ID_MAX];
	time_t   t;               /* step end */
	bool     gap_before;      /* the step before had no report: write U first */
	uint8_t  tries;           /* failed attempts (rrdcached down) so far */
	double   v[STORE_DS_COUNT]; /* NAN = unknown */
};

/*
 * A ring of steps, oldest at the head. Memory: cap slots, from
 * min(STORE_QUEUE_MIN, max) up to max, doubled when full, back to the
 * initial size by store_queue_shrink() once empty. No locking: the caller
 * holds the store's mutex.
 */
struct store_queue {
	struct store_update *v;
	size_t   cap, head, len;
	size_t   min, max;        /* slots: initial and most */
	uint64_t dropped;         /* steps dropped because the ring was full */
};

/* Allocates the initial slots for at most max (>= 1) steps. 0, or -1 (out of memory). */
int store_queue_init(struct store_queue *q, size_t max);

/* Frees the slots. Safe on a zeroed or cleared queue. */
void store_queue_clear(struct store_queue *q);

/*
 * Appends u (newest). When the ring holds max steps (or cannot grow: out of
 * memory) the oldest is dropped first and counted. Returns the number of
 * steps dropped (0 or 1).
 */
size_t store_queue_push(struct store_queue *q, const struct store_update *u);

/*
 * Puts v[0..n-1] (oldest first, all older than what the ring holds) back at
 * the head, in that order. What does not fit is dropped, oldest first, and
 * counted. Returns the number dropped.
 */
size_t store_queue_unshift(struct store_queue *q, const struct store_update *v,
    size_t n);

/* Moves up to n steps from the head into out (oldest first). Returns how many. */
size_t store_queue_take(struct store_queue *q, struct store_update *out,
    size_t n);

/* Gives the grown slots back when the ring is empty. */
void store_queue_shrink(struct store_queue *q);

/* Bytes of slots allocated now. */
size_t store_queue_bytes(const struct store_queue *q);

#endif
