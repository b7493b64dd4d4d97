/* store_queue.c: the store's backlog of RRD steps: a bounded FIFO ring that drops its oldest. */
#include <stdlib.h>
#include <string.h>

#include "store_queue.h"

size_t
store_update_bytes(void)
{
	return sizeof(struct store_update);
}

int
store_queue_init(struct store_queue *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->max = max ? max : 1;
	q->min = q->max < STORE_QUEUE_MIN ? q->max : STORE_QUEUE_MIN;
	if ((q->v = calloc(q->min, sizeof(*q->v))) == NULL)
		return -1;
	q->cap = q->min;
	return 0;
}

void
store_queue_clear(struct store_queue *q)
{
	free(q->v);
	q->v = NULL;
	q->cap = q->head = q->len = 0;
}

/* Doubles the slots (at most max), keeping the order. 0, or -1 when at max or out of memory. */
static int
store_queue_grow(struct store_queue *q)
{
	size_t ncap = q->cap * 2, first;
	struct store_update *nv;

	if (q->cap >= q->max)
		return -1;
	if (ncap > q->max || ncap < q->cap)
		ncap = q->max;
	if ((nv = malloc(ncap * sizeof(*nv))) == NULL)
		return -1;
	first = q->cap - q->head < q->len ? q->cap - q->head : q->len;
	memcpy(nv, q->v + q->head, first * sizeof(*nv));
	memcpy(nv + first, q->v, (q->len - first) * sizeof(*nv));
	free(q->v);
	q->v = nv;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

size_t
store_queue_push(struct store_queue *q, const struct store_update *u)
{
	size_t dropped = 0;

	if (q->cap == 0)
		return 0;   /* never initialised: nothing to drop into */
	if (q->len == q->cap && store_queue_grow(q) == -1) {
		q->head = (q->head + 1) % q->cap;
		q->len--;
		q->dropped++;
		dropped = 1;
	}
	q->v[(q->head + q->len) % q->cap] = *u;
	q->len++;
	return dropped;
}

size_t
store_queue_unshift(struct store_queue *q, const struct store_update *v,
    size_t n)
{
	size_t dropped = 0;

	/* Newest first, so that what cannot fit is the oldest. */
	while (n > 0) {
		if (q->cap == 0 ||
		    (q->len == q->cap && store_queue_grow(q) == -1)) {
			dropped += n;
			break;
		}
		n--;
		q->head = (q->head + q->cap - 1) % q->cap;
		q->v[q->head] = v[n];
		q->len++;
	}
	q->dropped += dropped;
	return dropped;
}

size_t
store_queue_take(struct store_queue *q, struct store_update *out, size_t n)
{
	size_t k;

	for (k = 0; k < n && q->len > 0; k++) {
		out[k] = q->v[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	return k;
}

void
store_queue_shrink(struct store_queue *q)
{
	struct store_update *nv;

	if (q->len != 0 || q->cap <= q->min)
		return;
	if ((nv = calloc(q->min, sizeof(*nv))) == NULL)
		return;   /* keep the larger ring */
	free(q->v);
	q->v = nv;
	q->cap = q->min;
	q->head = 0;
}

size_t
store_queue_bytes(const struct store_queue *q)
{
	return q->cap * sizeof(*q->v);
}
