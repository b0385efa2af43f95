/*
 * mod_storage_memory: a storage driver that keeps everything in memory, for
 * tests and throw-away servers.  Data vanishes when the module unloads or
 * the server stops.  It has exactly the semantics of mod_storage_sqlite
 * (the same test battery runs against both), including synchronous
 * completion and sorted listings.
 *
 * Layout: one sorted array of scopes, a scope being what one user has in
 * one store of one kind on one host, found by binary search.  A map scope
 * holds its entries sorted by key; an archive scope holds its items sorted
 * by (time, id), which is the order queries return.  A scope is dropped as
 * soon as it is empty, so listings never show users with nothing.
 */
#include <mynah/mynah.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mynah_api *api;
static mynah_module *self;

typedef struct memory_value {
    void *data; /* never NULL for a value that exists, even when len is 0 */
    size_t len;
} memory_value;

typedef struct map_entry {
    char *key;
    memory_value value;
} map_entry;

typedef struct archive_entry {
    uint64_t id;
    int64_t when;
    char *with;
    memory_value value;
} archive_entry;

typedef struct scope {
    enum mynah_store_kind kind;
    char *host, *store, *user;
    memory_value keyval;         /* keyval scopes */
    map_entry *entries;          /* map scopes, sorted by key */
    size_t entry_count, entry_cap;
    archive_entry *items;        /* archive scopes, sorted by (when, id) */
    size_t item_count, item_cap;
} scope;

typedef struct memory_db {
    scope **scopes; /* sorted by (kind, host, store, user) */
    size_t count, cap;
    uint64_t next_id;
} memory_db;

typedef struct memory_store {
    memory_db *db;
    char *host, *name;
    enum mynah_store_kind kind;
} memory_store;

static memory_db database;

/* ---- helpers ---- */

/* 0, or -1 when out of memory (the old value is kept). */
static int value_set(memory_value *value, const void *data, size_t len)
{
    void *copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    if (len > 0)
        memcpy(copy, data, len);
    ((char *)copy)[len] = '\0';
    free(value->data);
    value->data = copy;
    value->len = len;
    return 0;
}

/* Readers get copies, as from a database: a callback may then change the
 * store (delete the entry it was given, say) without pulling the data out
 * from under its own arguments. */
static void *copy_bytes(const void *data, size_t len)
{
    void *copy = malloc(len + 1);
    if (copy != NULL) {
        if (len > 0)
            memcpy(copy, data, len);
        ((char *)copy)[len] = '\0';
    }
    return copy;
}

static void value_callback(const memory_value *value,
                           mynah_store_value_cb cb, void *userdata)
{
    if (value == NULL) {
        cb(MYNAH_STORE_NOT_FOUND, NULL, 0, userdata);
        return;
    }
    size_t len = value->len;
    void *copy = copy_bytes(value->data, len);
    if (copy == NULL)
        cb(MYNAH_STORE_ERROR, NULL, 0, userdata);
    else
        cb(MYNAH_STORE_OK, copy, len, userdata);
    free(copy);
}

/* Keys (and values, when `values` is set) copied for a list callback. */
typedef struct list_copy {
    char **keys;
    void **values;
    size_t *lens;
    size_t count;
} list_copy;

static int list_copy_init(list_copy *list, size_t n, int with_values)
{
    memset(list, 0, sizeof *list);
    list->keys = calloc(n ? n : 1, sizeof *list->keys);
    if (with_values) {
        list->values = calloc(n ? n : 1, sizeof *list->values);
        list->lens = calloc(n ? n : 1, sizeof *list->lens);
    }
    return list->keys != NULL &&
                   (!with_values || (list->values && list->lens))
               ? 0
               : -1;
}

/* 0 or -1. */
static int list_copy_add(list_copy *list, const char *key,
                         const memory_value *value)
{
    char *k = strdup(key);
    void *v = value ? copy_bytes(value->data, value->len) : NULL;
    if (k == NULL || (value != NULL && v == NULL)) {
        free(k);
        free(v);
        return -1;
    }
    list->keys[list->count] = k;
    if (value != NULL) {
        list->values[list->count] = v;
        list->lens[list->count] = value->len;
    }
    list->count++;
    return 0;
}

static void list_copy_free(list_copy *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->keys[i]);
        if (list->values != NULL)
            free(list->values[i]);
    }
    free(list->keys);
    free(list->values);
    free(list->lens);
}

static void list_callback(list_copy *list, int ok, mynah_map_list_cb cb,
                          void *userdata)
{
    if (!ok)
        cb(MYNAH_STORE_ERROR, NULL, NULL, NULL, 0, userdata);
    else
        cb(MYNAH_STORE_OK, (const char *const *)list->keys,
           (const void *const *)list->values, list->lens, list->count,
           userdata);
    list_copy_free(list);
}

/* Grows an array of `size`-byte elements to hold one more. 0 or -1. */
static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t new_cap = *cap ? *cap * 2 : 8;
    void *grown = realloc(*array, new_cap * size);
    if (grown == NULL)
        return -1;
    *array = grown;
    *cap = new_cap;
    return 0;
}

/* ---- scopes ---- */

static int scope_compare(const scope *s, enum mynah_store_kind kind,
                         const char *host, const char *store, const char *user)
{
    if (s->kind != kind)
        return s->kind < kind ? -1 : 1;
    int c = strcmp(s->host, host);
    if (c == 0)
        c = strcmp(s->store, store);
    if (c == 0)
        c = strcmp(s->user, user);
    return c;
}

/* Index of the first scope not less than the given one. */
static size_t scope_lower_bound(const memory_db *db,
                                enum mynah_store_kind kind, const char *host,
                                const char *store, const char *user)
{
    size_t low = 0, high = db->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (scope_compare(db->scopes[mid], kind, host, store, user) < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

static scope *scope_find(const memory_store *st, const char *user)
{
    memory_db *db = st->db;
    size_t i = scope_lower_bound(db, st->kind, st->host, st->name, user);
    if (i < db->count &&
        scope_compare(db->scopes[i], st->kind, st->host, st->name, user) == 0)
        return db->scopes[i];
    return NULL;
}

static scope *scope_get_or_create(const memory_store *st, const char *user)
{
    scope *found = scope_find(st, user);
    if (found != NULL)
        return found;
    memory_db *db = st->db;
    if (grow((void **)&db->scopes, &db->cap, db->count, sizeof *db->scopes))
        return NULL;
    scope *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->kind = st->kind;
    s->host = strdup(st->host);
    s->store = strdup(st->name);
    s->user = strdup(user);
    if (s->host == NULL || s->store == NULL || s->user == NULL) {
        free(s->host);
        free(s->store);
        free(s->user);
        free(s);
        return NULL;
    }
    size_t i = scope_lower_bound(db, st->kind, st->host, st->name, user);
    memmove(&db->scopes[i + 1], &db->scopes[i],
            (db->count - i) * sizeof *db->scopes);
    db->scopes[i] = s;
    db->count++;
    return s;
}

static void scope_free(scope *s)
{
    free(s->keyval.data);
    for (size_t i = 0; i < s->entry_count; i++) {
        free(s->entries[i].key);
        free(s->entries[i].value.data);
    }
    free(s->entries);
    for (size_t i = 0; i < s->item_count; i++) {
        free(s->items[i].with);
        free(s->items[i].value.data);
    }
    free(s->items);
    free(s->host);
    free(s->store);
    free(s->user);
    free(s);
}

static void scope_remove_at(memory_db *db, size_t i)
{
    scope_free(db->scopes[i]);
    memmove(&db->scopes[i], &db->scopes[i + 1],
            (db->count - i - 1) * sizeof *db->scopes);
    db->count--;
}

/* Drops a scope once nothing is left in it. */
static void scope_drop_if_empty(memory_db *db, scope *s)
{
    if (s->keyval.data != NULL || s->entry_count > 0 || s->item_count > 0)
        return;
    size_t i = scope_lower_bound(db, s->kind, s->host, s->store, s->user);
    if (i < db->count && db->scopes[i] == s)
        scope_remove_at(db, i);
}

/* ---- stores ---- */

static void *store_open(void *driver_data, const char *host,
                        const char *name, enum mynah_store_kind kind)
{
    memory_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->db = driver_data;
    st->host = strdup(host);
    st->name = strdup(name);
    st->kind = kind;
    if (st->host == NULL || st->name == NULL) {
        free(st->host);
        free(st->name);
        free(st);
        return NULL;
    }
    return st;
}

static void store_close(void *handle)
{
    memory_store *st = handle;
    free(st->host);
    free(st->name);
    free(st);
}

/* ---- keyval ---- */

static void keyval_get(void *handle, const char *user,
                       mynah_store_value_cb cb, void *userdata)
{
    scope *s = scope_find(handle, user);
    value_callback(s ? &s->keyval : NULL, cb, userdata);
}

static void keyval_set(void *handle, const char *user, const void *data,
                       size_t len, mynah_store_done_cb cb, void *userdata)
{
    memory_store *st = handle;
    if (data == NULL) {
        scope *s = scope_find(st, user);
        if (s != NULL) {
            free(s->keyval.data);
            s->keyval.data = NULL;
            scope_drop_if_empty(st->db, s);
        }
        cb(MYNAH_STORE_OK, userdata);
        return;
    }
    scope *s = scope_get_or_create(st, user);
    if (s == NULL || value_set(&s->keyval, data, len) < 0) {
        if (s != NULL)
            scope_drop_if_empty(st->db, s);
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    cb(MYNAH_STORE_OK, userdata);
}

static void keyval_users(void *handle, mynah_map_list_cb cb, void *userdata)
{
    memory_store *st = handle;
    memory_db *db = st->db;
    size_t first = scope_lower_bound(db, st->kind, st->host, st->name, "");
    size_t n = 0;
    while (first + n < db->count &&
           db->scopes[first + n]->kind == st->kind &&
           strcmp(db->scopes[first + n]->host, st->host) == 0 &&
           strcmp(db->scopes[first + n]->store, st->name) == 0)
        n++;
    list_copy list;
    int ok = list_copy_init(&list, n, 0) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = list_copy_add(&list, db->scopes[first + i]->user, NULL) == 0;
    list_callback(&list, ok, cb, userdata);
}

/* ---- maps ---- */

/* Index of the entry with this key, or where it would go (*found = 0). */
static size_t map_search(const scope *s, const char *key, int *found)
{
    size_t low = 0, high = s->entry_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int c = strcmp(s->entries[mid].key, key);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            low = mid + 1;
        else
            high = mid;
    }
    *found = 0;
    return low;
}

static void map_get(void *handle, const char *user, const char *key,
                    mynah_store_value_cb cb, void *userdata)
{
    scope *s = scope_find(handle, user);
    int found = 0;
    size_t i = s ? map_search(s, key, &found) : 0;
    value_callback(found ? &s->entries[i].value : NULL, cb, userdata);
}

static void map_delete(memory_store *st, const char *user, const char *key)
{
    scope *s = scope_find(st, user);
    int found = 0;
    size_t i = s ? map_search(s, key, &found) : 0;
    if (!found)
        return;
    free(s->entries[i].key);
    free(s->entries[i].value.data);
    memmove(&s->entries[i], &s->entries[i + 1],
            (s->entry_count - i - 1) * sizeof *s->entries);
    s->entry_count--;
    scope_drop_if_empty(st->db, s);
}

/* 0 or -1 (out of memory). */
static int map_put(scope *s, const char *key, const void *data, size_t len)
{
    int found;
    size_t i = map_search(s, key, &found);
    if (found)
        return value_set(&s->entries[i].value, data, len);
    if (grow((void **)&s->entries, &s->entry_cap, s->entry_count,
             sizeof *s->entries) < 0)
        return -1;
    map_entry entry = {strdup(key), {NULL, 0}};
    if (entry.key == NULL || value_set(&entry.value, data, len) < 0) {
        free(entry.key);
        return -1;
    }
    memmove(&s->entries[i + 1], &s->entries[i],
            (s->entry_count - i) * sizeof *s->entries);
    s->entries[i] = entry;
    s->entry_count++;
    return 0;
}

static void map_set(void *handle, const char *user, const char *key,
                    const void *data, size_t len, mynah_store_done_cb cb,
                    void *userdata)
{
    memory_store *st = handle;
    if (data == NULL) {
        map_delete(st, user, key);
        cb(MYNAH_STORE_OK, userdata);
        return;
    }
    scope *s = scope_get_or_create(st, user);
    if (s == NULL || map_put(s, key, data, len) < 0) {
        if (s != NULL)
            scope_drop_if_empty(st->db, s);
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    cb(MYNAH_STORE_OK, userdata);
}

static void map_list(void *handle, const char *user, mynah_map_list_cb cb,
                     void *userdata)
{
    scope *s = scope_find(handle, user);
    size_t n = s ? s->entry_count : 0;
    list_copy list;
    int ok = list_copy_init(&list, n, 1) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = list_copy_add(&list, s->entries[i].key,
                           &s->entries[i].value) == 0;
    list_callback(&list, ok, cb, userdata);
}

/* ---- archives ---- */

/* (when, id) order: the order of a chronological query. */
static int position_compare(int64_t when_a, uint64_t id_a, int64_t when_b,
                            uint64_t id_b)
{
    if (when_a != when_b)
        return when_a < when_b ? -1 : 1;
    if (id_a != id_b)
        return id_a < id_b ? -1 : 1;
    return 0;
}

static void archive_append(void *handle, const char *user,
                           const mynah_archive_item *item,
                           mynah_store_id_cb cb, void *userdata)
{
    memory_store *st = handle;
    scope *s = scope_get_or_create(st, user);
    if (s == NULL || grow((void **)&s->items, &s->item_cap, s->item_count,
                          sizeof *s->items) < 0) {
        if (s != NULL)
            scope_drop_if_empty(st->db, s);
        cb(MYNAH_STORE_ERROR, NULL, userdata);
        return;
    }
    archive_entry entry = {st->db->next_id + 1, item->when, NULL, {NULL, 0}};
    if ((item->with != NULL &&
         (entry.with = strdup(item->with)) == NULL) ||
        value_set(&entry.value, item->data, item->len) < 0) {
        free(entry.with);
        scope_drop_if_empty(st->db, s);
        cb(MYNAH_STORE_ERROR, NULL, userdata);
        return;
    }
    st->db->next_id++;
    /* Items mostly arrive in time order: search from the end. */
    size_t i = s->item_count;
    while (i > 0 && position_compare(s->items[i - 1].when, s->items[i - 1].id,
                                     entry.when, entry.id) > 0)
        i--;
    memmove(&s->items[i + 1], &s->items[i],
            (s->item_count - i) * sizeof *s->items);
    s->items[i] = entry;
    s->item_count++;
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, entry.id);
    cb(MYNAH_STORE_OK, id, userdata);
}

/* A query resolved to positions: items strictly between `after` and
 * `before` in (when, id) order, within [start, end], matching `with`. */
typedef struct resolved_query {
    int64_t start, end;
    int64_t after_when, before_when;
    uint64_t after_id, before_id;
    const char *with;
} resolved_query;

/* Finds a paging id among the scope's items.  0, or -1 if it is not
 * there (or not an id this driver gives out). */
static int item_position(const scope *s, const char *text, int64_t *when,
                         uint64_t *id)
{
    if (s == NULL || text == NULL || text[0] < '1' || text[0] > '9')
        return -1;
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    if (*end != '\0')
        return -1;
    for (size_t i = 0; i < s->item_count; i++) {
        if (s->items[i].id == value) {
            *when = s->items[i].when;
            *id = value;
            return 0;
        }
    }
    return -1;
}

/* MYNAH_STORE_OK, or NOT_FOUND when a paging id is not in the archive. */
static int resolve_query(const scope *s, const mynah_archive_query *query,
                         resolved_query *out)
{
    out->start = query->start ? query->start : INT64_MIN;
    out->end = query->end ? query->end : INT64_MAX;
    out->after_when = INT64_MIN;
    out->after_id = 0;
    out->before_when = INT64_MAX;
    out->before_id = UINT64_MAX;
    out->with = query->with;
    if (query->after_id != NULL &&
        item_position(s, query->after_id, &out->after_when,
                      &out->after_id) < 0)
        return MYNAH_STORE_NOT_FOUND;
    if (query->before_id != NULL &&
        item_position(s, query->before_id, &out->before_when,
                      &out->before_id) < 0)
        return MYNAH_STORE_NOT_FOUND;
    return MYNAH_STORE_OK;
}

static int item_matches(const archive_entry *item, const resolved_query *q)
{
    if (item->when < q->start || item->when > q->end)
        return 0;
    if (position_compare(item->when, item->id, q->after_when, q->after_id) <=
            0 ||
        position_compare(item->when, item->id, q->before_when,
                         q->before_id) >= 0)
        return 0;
    if (q->with != NULL &&
        (item->with == NULL || strcmp(item->with, q->with) != 0))
        return 0;
    return 1;
}

static void archive_items_free(mynah_archive_item *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free((char *)items[i].id);
        free((char *)items[i].with);
        free((void *)items[i].data);
    }
    free(items);
}

/* 0 or -1. */
static int archive_item_copy(mynah_archive_item *out, const archive_entry *e)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, e->id);
    out->id = strdup(id);
    out->when = e->when;
    out->with = e->with ? strdup(e->with) : NULL;
    out->data = copy_bytes(e->value.data, e->value.len);
    out->len = e->value.len;
    return out->id && (out->with || !e->with) && out->data ? 0 : -1;
}

static void archive_find(void *handle, const char *user,
                         const mynah_archive_query *query, mynah_archive_cb cb,
                         void *userdata)
{
    scope *s = scope_find(handle, user);
    resolved_query q;
    int status = resolve_query(s, query, &q);
    if (status != MYNAH_STORE_OK) {
        cb(status, NULL, 0, 0, userdata);
        return;
    }
    size_t total = s ? s->item_count : 0;
    mynah_archive_item *items = calloc(total ? total : 1, sizeof *items);
    if (items == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, 0, 0, userdata);
        return;
    }
    size_t count = 0;
    int complete = 1;
    for (size_t k = 0; k < total; k++) {
        const archive_entry *e =
            &s->items[query->reverse ? total - 1 - k : k];
        if (!item_matches(e, &q))
            continue;
        if (query->max > 0 && count == query->max) {
            complete = 0;
            break;
        }
        if (archive_item_copy(&items[count++], e) < 0) {
            archive_items_free(items, count);
            cb(MYNAH_STORE_ERROR, NULL, 0, 0, userdata);
            return;
        }
    }
    cb(MYNAH_STORE_OK, items, count, complete, userdata);
    archive_items_free(items, count);
}

static void archive_delete(void *handle, const char *user,
                           const mynah_archive_query *query,
                           mynah_store_done_cb cb, void *userdata)
{
    memory_store *st = handle;
    scope *s = scope_find(st, user);
    resolved_query q;
    int status = resolve_query(s, query, &q);
    if (status != MYNAH_STORE_OK || s == NULL) {
        cb(status, userdata);
        return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < s->item_count; i++) {
        if (item_matches(&s->items[i], &q)) {
            free(s->items[i].with);
            free(s->items[i].value.data);
        } else {
            s->items[kept++] = s->items[i];
        }
    }
    s->item_count = kept;
    scope_drop_if_empty(st->db, s);
    cb(MYNAH_STORE_OK, userdata);
}

/* ---- purging a user ---- */

static void purge_user(void *driver_data, const char *host, const char *user,
                       mynah_store_done_cb cb, void *userdata)
{
    memory_db *db = driver_data;
    size_t i = 0;
    while (i < db->count) {
        scope *s = db->scopes[i];
        if (strcmp(s->host, host) == 0 && strcmp(s->user, user) == 0)
            scope_remove_at(db, i);
        else
            i++;
    }
    cb(MYNAH_STORE_OK, userdata);
}

/* ---- the module ---- */

static const mynah_storage_driver memory_driver = {
    .size = sizeof(mynah_storage_driver),
    .name = "memory",
    .open = store_open,
    .close = store_close,
    .keyval_get = keyval_get,
    .keyval_set = keyval_set,
    .map_get = map_get,
    .map_set = map_set,
    .map_list = map_list,
    .archive_append = archive_append,
    .archive_find = archive_find,
    .archive_delete = archive_delete,
    .purge_user = purge_user,
    .keyval_users = keyval_users,
};

static void database_clear(memory_db *db)
{
    for (size_t i = 0; i < db->count; i++)
        scope_free(db->scopes[i]);
    free(db->scopes);
    memset(db, 0, sizeof *db);
}

static int storage_memory_init(mynah_module *module, const mynah_api *core)
{
    api = core;
    self = module;
    database_clear(&database);
    if (api->provide_storage(module, &memory_driver, &database) != 0)
        return -1;
    api->log(self, MYNAH_LOG_INFO,
             "storing data in memory: it is lost when the server stops");
    return 0;
}

static void storage_memory_fini(mynah_module *module)
{
    (void)module;
    database_clear(&database);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "storage_memory",
    .version = "0.1.0",
    .depends = NULL,
    .options = NULL,
    .init = storage_memory_init,
    .fini = storage_memory_fini,
};
