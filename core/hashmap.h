/*
 * A string-keyed hash map (open addressing, linear probing).  Keys are
 * borrowed: the caller keeps each key alive while it is in the map (it is
 * usually a field of the value itself, e.g. a session's full JID).
 */
#ifndef MYNAH_HASHMAP_H
#define MYNAH_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hashmap_entry {
    const char *key;
    void *value;
    uint32_t hash;
} hashmap_entry;

typedef struct hashmap {
    hashmap_entry *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count;
    size_t tombs; /* deleted slots */
} hashmap;

#define HASHMAP_INIT {NULL, 0, 0, 0}

uint32_t hashmap_hash(const char *key);
void *hashmap_get(const hashmap *map, const char *key);
/* Inserts or replaces.  0, or -1 when out of memory. */
int hashmap_put(hashmap *map, const char *key, void *value);
/* Returns the removed value, or NULL. */
void *hashmap_remove(hashmap *map, const char *key);
void hashmap_free(hashmap *map);
/* Iteration: start with *pos = 0; returns 0 when done. */
int hashmap_next(const hashmap *map, size_t *pos, const char **key,
                 void **value);

#endif
