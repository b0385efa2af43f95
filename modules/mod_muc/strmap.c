/*
 * Chained hash table with FNV-1a hashing, doubling at a load of one.
 */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

static size_t strmap_hash(const char *key)
{
    size_t h = (size_t)14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= (size_t)1099511628211ULL;
    }
    return h;
}

static strmap_entry **strmap_slot(const strmap *map, const char *key,
                                  size_t hash)
{
    strmap_entry **link = &map->buckets[hash & (map->cap - 1)];
    while (*link != NULL &&
           ((*link)->hash != hash || strcmp((*link)->key, key) != 0))
        link = &(*link)->next;
    return link;
}

static int strmap_grow(strmap *map)
{
    size_t cap = map->cap ? map->cap * 2 : 16;
    strmap_entry **buckets = calloc(cap, sizeof *buckets);
    if (buckets == NULL)
        return -1;
    for (size_t i = 0; i < map->cap; i++) {
        strmap_entry *e = map->buckets[i];
        while (e != NULL) {
            strmap_entry *next = e->next;
            strmap_entry **head = &buckets[e->hash & (cap - 1)];
            e->next = *head;
            *head = e;
            e = next;
        }
    }
    free(map->buckets);
    map->buckets = buckets;
    map->cap = cap;
    return 0;
}

int strmap_put(strmap *map, const char *key, void *value)
{
    size_t hash = strmap_hash(key);
    if (map->cap > 0) {
        /* Replacing never allocates, so it cannot fail. */
        strmap_entry *e = *strmap_slot(map, key, hash);
        if (e != NULL) {
            e->value = value;
            return 0;
        }
    }
    if (map->count >= map->cap && strmap_grow(map) < 0)
        return -1;
    strmap_entry **slot = strmap_slot(map, key, hash);
    strmap_entry *e = malloc(sizeof *e);
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        return -1;
    }
    e->hash = hash;
    e->value = value;
    e->next = NULL;
    *slot = e;
    map->count++;
    return 0;
}

void *strmap_get(const strmap *map, const char *key)
{
    if (map->cap == 0)
        return NULL;
    strmap_entry *e = *strmap_slot(map, key, strmap_hash(key));
    return e ? e->value : NULL;
}

void *strmap_remove(strmap *map, const char *key)
{
    if (map->cap == 0)
        return NULL;
    strmap_entry **slot = strmap_slot(map, key, strmap_hash(key));
    strmap_entry *e = *slot;
    if (e == NULL)
        return NULL;
    void *value = e->value;
    *slot = e->next;
    free(e->key);
    free(e);
    map->count--;
    return value;
}

int strmap_next(const strmap *map, strmap_iter *it)
{
    strmap_entry *e = it->entry ? it->entry->next : NULL;
    while (e == NULL && it->bucket < map->cap)
        e = map->buckets[it->bucket++];
    it->entry = e;
    if (e == NULL)
        return 0;
    it->key = e->key;
    it->value = e->value;
    return 1;
}

void strmap_clear(strmap *map)
{
    for (size_t i = 0; i < map->cap; i++) {
        strmap_entry *e = map->buckets[i];
        while (e != NULL) {
            strmap_entry *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(map->buckets);
    map->buckets = NULL;
    map->cap = map->count = 0;
}
