/*
 * A string-keyed hash table for mod_muc (rooms by name, occupants by nick,
 * affiliations by JID, occupants by real JID).  Modules link nothing of the
 * core, so the module keeps its own.  Keys are copied; values are the
 * caller's.
 */
#ifndef MUC_STRMAP_H
#define MUC_STRMAP_H

#include <stddef.h>

typedef struct strmap_entry {
    struct strmap_entry *next;
    size_t hash;
    char *key;
    void *value;
} strmap_entry;

typedef struct strmap {
    strmap_entry **buckets;
    size_t cap;   /* a power of two, or 0 before the first put */
    size_t count;
} strmap;

/* Iteration: zero it, then strmap_next() until it returns 0.  The map
 * must not change during an iteration (collect first, then change). */
typedef struct strmap_iter {
    size_t bucket;
    strmap_entry *entry;
    const char *key;
    void *value;
} strmap_iter;

/* Adds or replaces; 0, or -1 when out of memory (replacing an existing
 * key never fails).  value must not be NULL. */
int strmap_put(strmap *map, const char *key, void *value);
void *strmap_get(const strmap *map, const char *key);
/* Removes the key; returns its value (NULL if absent). */
void *strmap_remove(strmap *map, const char *key);
int strmap_next(const strmap *map, strmap_iter *it);
/* Forgets every key (values are not freed). */
void strmap_clear(strmap *map);

#endif
