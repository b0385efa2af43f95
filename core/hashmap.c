#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

/* A deleted slot keeps probing chains intact. */
static const char tombstone_key[1];
#define TOMBSTONE (tombstone_key)

uint32_t hashmap_hash(const char *key)
{
    /* FNV-1a: short keys (JIDs, event names), good enough spread, no
     * allocation.  Hash-flooding is bounded by the per-user session cap
     * and by JID validation, so a keyed hash is not needed here. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

static hashmap_entry *find_slot(const hashmap *map, const char *key,
                                uint32_t hash)
{
    size_t mask = map->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        hashmap_entry *e = &map->slots[i];
        if (e->key == NULL)
            return NULL;
        if (e->key != TOMBSTONE && e->hash == hash && strcmp(e->key, key) == 0)
            return e;
    }
}

void *hashmap_get(const hashmap *map, const char *key)
{
    if (map->count == 0)
        return NULL;
    hashmap_entry *e = find_slot(map, key, hashmap_hash(key));
    return e ? e->value : NULL;
}

static int rehash(hashmap *map, size_t cap)
{
    hashmap_entry *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < map->cap; i++) {
        hashmap_entry *e = &map->slots[i];
        if (e->key == NULL || e->key == TOMBSTONE)
            continue;
        size_t j = e->hash & (cap - 1);
        while (slots[j].key != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    free(map->slots);
    map->slots = slots;
    map->cap = cap;
    map->tombs = 0;
    return 0;
}

int hashmap_put(hashmap *map, const char *key, void *value)
{
    if ((map->count + map->tombs + 1) * 4 > map->cap * 3) {
        size_t cap = map->cap ? map->cap : 8;
        while ((map->count + 1) * 2 > cap)
            cap *= 2;
        if (rehash(map, cap) < 0)
            return -1;
    }
    uint32_t hash = hashmap_hash(key);
    size_t mask = map->cap - 1;
    hashmap_entry *reuse = NULL;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        hashmap_entry *e = &map->slots[i];
        if (e->key == NULL) {
            if (reuse == NULL)
                reuse = e;
            break;
        }
        if (e->key == TOMBSTONE) {
            if (reuse == NULL)
                reuse = e;
            continue;
        }
        if (e->hash == hash && strcmp(e->key, key) == 0) {
            e->key = key;
            e->value = value;
            return 0;
        }
    }
    if (reuse->key == TOMBSTONE)
        map->tombs--;
    reuse->key = key;
    reuse->value = value;
    reuse->hash = hash;
    map->count++;
    return 0;
}

void *hashmap_remove(hashmap *map, const char *key)
{
    if (map->count == 0)
        return NULL;
    hashmap_entry *e = find_slot(map, key, hashmap_hash(key));
    if (e == NULL)
        return NULL;
    void *value = e->value;
    e->key = TOMBSTONE;
    e->value = NULL;
    map->count--;
    map->tombs++;
    if (map->count == 0) {
        /* Give memory back when a map empties (per-user maps come and go). */
        hashmap_free(map);
    }
    return value;
}

void hashmap_free(hashmap *map)
{
    free(map->slots);
    map->slots = NULL;
    map->cap = map->count = map->tombs = 0;
}

int hashmap_next(const hashmap *map, size_t *pos, const char **key,
                 void **value)
{
    while (*pos < map->cap) {
        hashmap_entry *e = &map->slots[(*pos)++];
        if (e->key != NULL && e->key != TOMBSTONE) {
            *key = e->key;
            *value = e->value;
            return 1;
        }
    }
    return 0;
}
