/* idmap.c: open-addressing (linear probing) string -> pointer map; no deletion needed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

struct idmap_slot {
	char *key;   /* owned; NULL = empty */
	void *value; /* borrowed */
	uint32_t hash;
};

struct idmap {
	struct idmap_slot *slots;
	size_t cap;   /* power of two */
	size_t count;
};

static uint32_t
idmap_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

struct idmap *
idmap_new(void)
{
	struct idmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
idmap_free(struct idmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static struct idmap_slot *
idmap_find(const struct idmap *m, const char *key, uint32_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct idmap_slot *s = &m->slots[i];
		if (s->key == NULL || (s->hash == h && strcmp(s->key, key) == 0))
			return s;
	}
}

void *
idmap_get(const struct idmap *m, const char *key)
{
	struct idmap_slot *s = idmap_find(m, key, idmap_hash(key));

	return s->key ? s->value : NULL;
}

static int
idmap_grow(struct idmap *m)
{
	struct idmap_slot *old = m->slots;
	size_t oldcap = m->cap;
	struct idmap_slot *n = calloc(oldcap * 2, sizeof(*n));

	if (n == NULL)
		return -1;
	m->slots = n;
	m->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		*idmap_find(m, old[i].key, old[i].hash) = old[i];
	}
	free(old);
	return 0;
}

int
idmap_put(struct idmap *m, const char *key, void *value)
{
	uint32_t h = idmap_hash(key);
	struct idmap_slot *s;

	if (value == NULL)
		return -1;
	if ((m->count + 1) * 10 > m->cap * 7 && idmap_grow(m) == -1)
		return -1;
	s = idmap_find(m, key, h);
	if (s->key == NULL) {
		s->key = strdup(key);
		if (s->key == NULL)
			return -1;
		s->hash = h;
		m->count++;
	}
	s->value = value;
	return 0;
}

size_t
idmap_count(const struct idmap *m)
{
	return m->count;
}

void
idmap_foreach(const struct idmap *m,
    void (*fn)(const char *key, void *value, void *ctx), void *ctx)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL)
			fn(m->slots[i].key, m->slots[i].value, ctx);
}
