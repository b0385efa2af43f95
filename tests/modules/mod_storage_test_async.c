/*
 * A storage driver for tests ("test_async"): keyval and map stores in
 * memory that answer through the event loop, not before returning, for
 * stores whose name starts with "deferred_" -- what a networked backend
 * does.  Other stores answer at once (the core's accounts want that).
 * Nothing is kept across restarts.  test_lua_storage.py runs Lua code
 * that has to wait for it.
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

static const mynah_api *api;
static mynah_module *self;

typedef struct entry {
    char *scope;  /* "host\nstore\nuser\nkey" (key empty for keyval) */
    char *data;
    size_t len;
    struct entry *next;
} entry;

typedef struct handle {
    char *prefix; /* "host\nstore\n" */
    int deferred;
    enum mynah_store_kind kind;
} handle;

static entry *entries;

/* A callback waiting for the loop. */
typedef struct pending {
    int status;
    char *data; /* a copy, or NULL */
    size_t len;
    mynah_store_value_cb value_cb;
    mynah_store_done_cb done_cb;
    void *userdata;
} pending;

static char *scope_of(const handle *h, const char *user, const char *key)
{
    size_t n = strlen(h->prefix) + strlen(user) + (key ? strlen(key) : 0) + 2;
    char *s = malloc(n);
    if (s != NULL) {
        strcpy(s, h->prefix);
        strcat(s, user);
        strcat(s, "\n");
        strcat(s, key ? key : "");
    }
    return s;
}

static entry *find(const char *scope)
{
    for (entry *e = entries; e; e = e->next)
        if (strcmp(e->scope, scope) == 0)
            return e;
    return NULL;
}

static void fire(mynah_timer *timer, void *userdata)
{
    (void)timer;
    pending *p = userdata;
    if (p->value_cb != NULL)
        p->value_cb(p->status, p->data, p->len, p->userdata);
    else
        p->done_cb(p->status, p->userdata);
    free(p->data);
    free(p);
}

/* Answers now, or from the loop for a deferred store. */
static void answer(const handle *h, int status, const char *data, size_t len,
                   mynah_store_value_cb value_cb, mynah_store_done_cb done_cb,
                   void *userdata)
{
    pending *p = h->deferred ? calloc(1, sizeof *p) : NULL;
    if (p != NULL && data != NULL && (p->data = malloc(len + 1)) != NULL)
        memcpy(p->data, data, len);
    if (p == NULL || (data != NULL && p->data == NULL) ||
        api->timer_add(self, 0.05, fire, p) == NULL) {
        if (p != NULL) {
            free(p->data);
            free(p);
        }
        if (value_cb != NULL)
            value_cb(status, data, len, userdata);
        else
            done_cb(status, userdata);
        return;
    }
    p->status = status;
    p->len = len;
    p->value_cb = value_cb;
    p->done_cb = done_cb;
    p->userdata = userdata;
}

static void get(void *hv, const char *user, const char *key,
                mynah_store_value_cb cb, void *userdata)
{
    handle *h = hv;
    char *scope = scope_of(h, user, key);
    entry *e = scope ? find(scope) : NULL;
    free(scope);
    if (e == NULL)
        answer(h, MYNAH_STORE_NOT_FOUND, NULL, 0, cb, NULL, userdata);
    else
        answer(h, MYNAH_STORE_OK, e->data, e->len, cb, NULL, userdata);
}

static void set(void *hv, const char *user, const char *key, const void *data,
                size_t len, mynah_store_done_cb cb, void *userdata)
{
    handle *h = hv;
    char *scope = scope_of(h, user, key);
    if (scope == NULL) {
        answer(h, MYNAH_STORE_ERROR, NULL, 0, NULL, cb, userdata);
        return;
    }
    entry **link = &entries;
    while (*link && strcmp((*link)->scope, scope) != 0)
        link = &(*link)->next;
    entry *e = *link;
    if (data == NULL) {
        if (e != NULL) {
            *link = e->next;
            free(e->scope);
            free(e->data);
            free(e);
        }
        free(scope);
        answer(h, MYNAH_STORE_OK, NULL, 0, NULL, cb, userdata);
        return;
    }
    char *copy = malloc(len ? len : 1);
    if (copy == NULL || (e == NULL && (e = calloc(1, sizeof *e)) == NULL)) {
        free(copy);
        free(scope);
        answer(h, MYNAH_STORE_ERROR, NULL, 0, NULL, cb, userdata);
        return;
    }
    memcpy(copy, data, len);
    if (e->scope == NULL) {
        e->scope = scope;
        e->next = entries;
        entries = e;
    } else {
        free(scope);
        free(e->data);
    }
    e->data = copy;
    e->len = len;
    answer(h, MYNAH_STORE_OK, NULL, 0, NULL, cb, userdata);
}

static void keyval_get(void *h, const char *user, mynah_store_value_cb cb,
                       void *userdata)
{
    get(h, user, NULL, cb, userdata);
}

static void keyval_set(void *h, const char *user, const void *data, size_t len,
                       mynah_store_done_cb cb, void *userdata)
{
    set(h, user, NULL, data, len, cb, userdata);
}

static void map_get(void *h, const char *user, const char *key,
                    mynah_store_value_cb cb, void *userdata)
{
    get(h, user, key, cb, userdata);
}

static void map_set(void *h, const char *user, const char *key, const void *data,
                    size_t len, mynah_store_done_cb cb, void *userdata)
{
    set(h, user, key, data, len, cb, userdata);
}

/* A map listing, answered now or from the loop. */
typedef struct listing {
    char **keys;
    char **values;
    size_t *lens;
    size_t count;
    mynah_map_list_cb cb;
    void *userdata;
} listing;

static void listing_answer(listing *l)
{
    l->cb(MYNAH_STORE_OK, (const char *const *)l->keys,
          (const void *const *)l->values, l->lens, l->count, l->userdata);
    for (size_t i = 0; i < l->count; i++) {
        free(l->keys[i]);
        free(l->values[i]);
    }
    free(l->keys);
    free(l->values);
    free(l->lens);
    free(l);
}

static void listing_fire(mynah_timer *timer, void *userdata)
{
    (void)timer;
    listing_answer(userdata);
}

static void map_list(void *hv, const char *user, mynah_map_list_cb cb,
                     void *userdata)
{
    handle *h = hv;
    char *scope = scope_of(h, user, NULL); /* "host\nstore\nuser\n" */
    listing *l = calloc(1, sizeof *l);
    size_t n = 0;
    for (entry *e = entries; e; e = e->next)
        n++;
    if (scope == NULL || l == NULL ||
        (l->keys = calloc(n + 1, sizeof *l->keys)) == NULL ||
        (l->values = calloc(n + 1, sizeof *l->values)) == NULL ||
        (l->lens = calloc(n + 1, sizeof *l->lens)) == NULL) {
        free(scope);
        if (l != NULL) {
            free(l->keys);
            free(l->values);
            free(l);
        }
        cb(MYNAH_STORE_ERROR, NULL, NULL, NULL, 0, userdata);
        return;
    }
    size_t prefix = strlen(scope);
    for (entry *e = entries; e; e = e->next) {
        if (strncmp(e->scope, scope, prefix) != 0 || e->scope[prefix] == '\0')
            continue;
        l->keys[l->count] = strdup(e->scope + prefix);
        l->values[l->count] = malloc(e->len ? e->len : 1);
        if (l->values[l->count] != NULL)
            memcpy(l->values[l->count], e->data, e->len);
        l->lens[l->count++] = e->len;
    }
    free(scope);
    l->cb = cb;
    l->userdata = userdata;
    if (!h->deferred || api->timer_add(self, 0.05, listing_fire, l) == NULL)
        listing_answer(l);
}

static void *open_store(void *driver_data, const char *host, const char *store,
                        enum mynah_store_kind kind)
{
    (void)driver_data;
    if (kind == MYNAH_STORE_ARCHIVE)
        return NULL;
    handle *h = calloc(1, sizeof *h);
    size_t n = strlen(host) + strlen(store) + 3;
    if (h == NULL || (h->prefix = malloc(n)) == NULL) {
        free(h);
        return NULL;
    }
    strcpy(h->prefix, host);
    strcat(h->prefix, "\n");
    strcat(h->prefix, store);
    strcat(h->prefix, "\n");
    h->deferred = strncmp(store, "deferred_", 9) == 0;
    h->kind = kind;
    return h;
}

static void close_store(void *hv)
{
    handle *h = hv;
    free(h->prefix);
    free(h);
}

static const mynah_storage_driver driver = {
    .size = sizeof(mynah_storage_driver),
    .name = "test_async",
    .open = open_store,
    .close = close_store,
    .keyval_get = keyval_get,
    .keyval_set = keyval_set,
    .map_get = map_get,
    .map_set = map_set,
    .map_list = map_list,
};

static int init(mynah_module *m, const mynah_api *table)
{
    api = table;
    self = m;
    return api->provide_storage(m, &driver, NULL);
}

static void fini(mynah_module *m)
{
    (void)m;
    while (entries != NULL) {
        entry *e = entries;
        entries = e->next;
        free(e->scope);
        free(e->data);
        free(e);
    }
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "storage_test_async",
    .version = "1.0",
    .init = init,
    .fini = fini,
};
