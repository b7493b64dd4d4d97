/* quality_pool.c: fixed-size block pools for the quality module's per-flow states. */
#include <stdlib.h>
#include <string.h>

#include "quality_int.h"

#define QPOOL_CHUNK_BYTES 16384

struct qpool_chunk {
	struct qpool_chunk *next;
	/* blocks follow, 16-byte aligned */
	_Alignas(16) unsigned char blocks[];
};

/* Sets up an empty pool of size-byte blocks (rounded up to 8, at least a pointer). */
void quality_pool_init(struct qpool *p, size_t size)
{
	memset(p, 0, sizeof(*p));
	if (size < sizeof(void *))
		size = sizeof(void *);
	p->size = (size + 7) & ~(size_t)7;
	p->per_chunk = (QPOOL_CHUNK_BYTES - sizeof(struct qpool_chunk)) / p->size;
	if (p->per_chunk == 0)
		p->per_chunk = 1;
}

/* Adds one chunk's blocks to the free list; false when out of memory. */
static bool quality_pool_grow(struct qpool *p)
{
	struct qpool_chunk *c = malloc(sizeof(*c) + p->per_chunk * p->size);
	size_t i;

	if (c == NULL)
		return false;
	c->next = p->chunks;
	p->chunks = c;
	for (i = p->per_chunk; i-- > 0; ) {
		void **b = (void **)(c->blocks + i * p->size);

		*b = p->free;
		p->free = b;
	}
	return true;
}

/* A zeroed block, or NULL when out of memory. */
void *quality_pool_get(struct qpool *p)
{
	void **b;

	if (p->free == NULL && !quality_pool_grow(p))
		return NULL;
	b = p->free;
	p->free = *b;
	memset(b, 0, p->size);
	p->live++;
	return b;
}

/* Returns block b to the pool; NULL is a no-op. */
void quality_pool_put(struct qpool *p, void *b)
{
	if (b == NULL)
		return;
	*(void **)b = p->free;
	p->free = b;
	p->live--;
}

/* Frees every chunk of the pool. */
void quality_pool_destroy(struct qpool *p)
{
	struct qpool_chunk *c, *next;

	for (c = p->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	memset(p, 0, sizeof(*p));
}
