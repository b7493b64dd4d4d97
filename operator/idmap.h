/* idmap.h: a small open-addressing hash map from id strings to caller-owned pointers. */
#ifndef GW_IDMAP_H
#define GW_IDMAP_H

#include <stddef.h>

/*
 * Not thread-safe: each user keeps its own map and lock. Keys are copied
 * into the map; values are borrowed pointers the caller owns and frees.
 */
struct idmap;

/* Returns a new empty map, or NULL when out of memory. */
struct idmap *idmap_new(void);

/* Frees the map (not the values). NULL is a no-op. */
void idmap_free(struct idmap *m);

/* Returns the value stored for key, or NULL. */
void *idmap_get(const struct idmap *m, const char *key);

/*
 * Stores value under key (replacing an older value). Returns 0, or -1 when
 * out of memory or value is NULL (the map is unchanged then).
 */
int idmap_put(struct idmap *m, const char *key, void *value);

/* Number of keys stored. */
size_t idmap_count(const struct idmap *m);

/*
 * Calls fn(key, value, ctx) for every entry in unspecified order. The map
 * must not be modified during the walk.
 */
void idmap_foreach(const struct idmap *m,
    void (*fn)(const char *key, void *value, void *ctx), void *ctx);

#endif
