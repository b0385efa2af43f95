/*
 * The storage interface inside the core: a registry of drivers provided by
 * storage modules, and store handles that modules (and the core) open.
 *
 * A store handle outlives its driver.  When a driver module is unloaded,
 * every store open on it is closed in the driver and left "detached"; the
 * next operation on the handle attaches it again to whatever driver is then
 * configured (so reloading mod_storage_sqlite does not strand the stores of
 * other modules), or fails with MYNAH_STORE_ERROR and a log line when there
 * is none.  Handles are freed only by storage_close / storage_close_owner,
 * i.e. by whoever opened them.
 */
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "log.h"
#include "module_loader.h"

#define LOG_WHO "storage"
#define DEFAULT_DRIVER "sqlite"

/* One registered driver.  `driver` is a zero-filled copy of what the module
 * gave us, truncated to the size it declared, so fields appended to the
 * struct after the module was built read as NULL. */
typedef struct storage_provider {
    mynah_storage_driver driver;
    void *driver_data;
    mynah_module *owner;
    char *name;
    struct storage_provider *next;
} storage_provider;

struct mynah_store {
    storage_provider *provider; /* NULL while detached */
    void *handle;               /* the driver's, for provider */
    mynah_module *owner;        /* NULL for the core and mynahctl */
    mynah_host *host;           /* NULL for storage_open_host and globals */
    char *host_name;            /* "" for a global module's store */
    char *name;
    enum mynah_store_kind kind;
    struct mynah_store *prev, *next;
};

static storage_provider *providers;
static mynah_store *stores;
static char *configured_driver;

static const char *const kind_names[] = {"keyval", "map", "archive"};

static const char *kind_name(enum mynah_store_kind kind)
{
    if ((unsigned)kind < sizeof kind_names / sizeof kind_names[0])
        return kind_names[kind];
    return "unknown";
}

static const char *module_label(const mynah_module *module)
{
    return module && module->name ? module->name : "core";
}

static char *copy_string(const char *s)
{
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (copy != NULL)
        memcpy(copy, s, len + 1);
    return copy;
}

/* ---- the driver registry ---- */

static storage_provider *find_provider(const char *name)
{
    for (storage_provider *p = providers; p != NULL; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

int storage_provide(mynah_module *owner, const mynah_storage_driver *driver,
                    void *driver_data)
{
    if (driver == NULL || driver->name == NULL || driver->name[0] == '\0' ||
        driver->size < offsetof(mynah_storage_driver, open) +
                           sizeof driver->open) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "module %s provided an invalid storage driver",
                module_label(owner));
        return -1;
    }
    if (find_provider(driver->name) != NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "module %s: storage driver '%s' is already provided",
                module_label(owner), driver->name);
        return -1;
    }
    storage_provider *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    p->name = copy_string(driver->name);
    if (p->name == NULL) {
        free(p);
        return -1;
    }
    size_t n = driver->size < sizeof p->driver ? driver->size
                                                : sizeof p->driver;
    memcpy(&p->driver, driver, n);
    p->driver.size = sizeof p->driver;
    p->driver.name = p->name;
    p->driver_data = driver_data;
    p->owner = owner;
    p->next = providers;
    providers = p;
    log_msg(MYNAH_LOG_DEBUG, LOG_WHO, "driver '%s' provided by %s", p->name,
            module_label(owner));
    return 0;
}

static void detach_store(mynah_store *store)
{
    storage_provider *p = store->provider;
    if (p == NULL)
        return;
    if (p->driver.close != NULL && store->handle != NULL)
        p->driver.close(store->handle);
    store->provider = NULL;
    store->handle = NULL;
}

void storage_remove_owner(mynah_module *owner)
{
    storage_provider **link = &providers;
    while (*link != NULL) {
        storage_provider *p = *link;
        if (p->owner != owner) {
            link = &p->next;
            continue;
        }
        /* A driver cannot go while stores are open on it: close them in
         * the driver first.  Their handles stay valid for their owners. */
        for (mynah_store *s = stores; s != NULL; s = s->next) {
            if (s->provider != p)
                continue;
            log_msg(MYNAH_LOG_INFO, LOG_WHO,
                    "closing %s store '%s' of %s on '%s': driver '%s' is "
                    "being unloaded",
                    kind_name(s->kind), s->name, module_label(s->owner),
                    s->host_name, p->name);
            detach_store(s);
        }
        *link = p->next;
        free(p->name);
        free(p);
    }
}

const mynah_storage_driver *storage_driver(const char *name,
                                           void **driver_data)
{
    storage_provider *p = name ? find_provider(name) : NULL;
    if (driver_data != NULL)
        *driver_data = p ? p->driver_data : NULL;
    return p ? &p->driver : NULL;
}

const char *storage_driver_name(void)
{
    return configured_driver ? configured_driver : DEFAULT_DRIVER;
}

int storage_init(const char *driver_name, char **error)
{
    if (error != NULL)
        *error = NULL;
    if (driver_name == NULL || driver_name[0] == '\0')
        driver_name = DEFAULT_DRIVER;
    char *name = copy_string(driver_name);
    if (name == NULL)
        return -1;
    free(configured_driver);
    configured_driver = name;
    if (find_provider(name) != NULL)
        return 0;

    size_t len = strlen("storage_") + strlen(name) + 1;
    char *module_name = malloc(len);
    if (module_name == NULL)
        return -1;
    snprintf(module_name, len, "storage_%s", name);
    const char *names[1] = {module_name};
    char *load_error = NULL;
    int rc = modules_enable(NULL, names, 1, &load_error);
    if (rc == 0 && find_provider(name) == NULL) {
        rc = -1;
        size_t n = strlen(module_name) + strlen(name) + 64;
        load_error = malloc(n);
        if (load_error != NULL)
            snprintf(load_error, n,
                     "module %s did not provide the storage driver '%s'",
                     module_name, name);
    }
    if (rc != 0) {
        if (error != NULL)
            *error = load_error;
        else
            free(load_error);
    }
    free(module_name);
    return rc;
}

/* ---- store handles ---- */

/* Opens the store in the configured driver if it is not open yet.
 * 0, or -1 (logged) when no driver can take it. */
static int attach_store(mynah_store *store)
{
    if (store->provider != NULL)
        return 0;
    storage_provider *p = find_provider(storage_driver_name());
    if (p == NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "no storage driver '%s' is loaded: %s store '%s' of %s on "
                "'%s' is unavailable",
                storage_driver_name(), kind_name(store->kind), store->name,
                module_label(store->owner), store->host_name);
        return -1;
    }
    void *handle = p->driver.open
                       ? p->driver.open(p->driver_data, store->host_name,
                                        store->name, store->kind)
                       : NULL;
    if (handle == NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "driver '%s' could not open %s store '%s' on '%s'", p->name,
                kind_name(store->kind), store->name, store->host_name);
        return -1;
    }
    store->provider = p;
    store->handle = handle;
    return 0;
}

static mynah_store *open_store(mynah_module *owner, mynah_host *host,
                               const char *host_name, const char *name,
                               enum mynah_store_kind kind)
{
    if (name == NULL || name[0] == '\0' || kind < MYNAH_STORE_KEYVAL ||
        kind > MYNAH_STORE_ARCHIVE) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO, "%s: invalid store name or kind",
                module_label(owner));
        return NULL;
    }
    mynah_store *store = calloc(1, sizeof *store);
    if (store == NULL)
        return NULL;
    store->host_name = copy_string(host_name ? host_name : "");
    store->name = copy_string(name);
    if (store->host_name == NULL || store->name == NULL) {
        free(store->host_name);
        free(store->name);
        free(store);
        return NULL;
    }
    store->owner = owner;
    store->host = host;
    store->kind = kind;
    store->next = stores;
    if (stores != NULL)
        stores->prev = store;
    stores = store;
    /* Failure is logged; the handle stays and retries on each operation. */
    attach_store(store);
    return store;
}

mynah_store *storage_open(mynah_module *owner, mynah_host *host,
                          const char *name, enum mynah_store_kind kind)
{
    return open_store(owner, host, host ? host->name : "", name, kind);
}

mynah_store *storage_open_host(const char *host, const char *name,
                               enum mynah_store_kind kind)
{
    return open_store(NULL, NULL, host, name, kind);
}

void storage_close(mynah_store *store)
{
    if (store == NULL)
        return;
    detach_store(store);
    if (store->prev != NULL)
        store->prev->next = store->next;
    else
        stores = store->next;
    if (store->next != NULL)
        store->next->prev = store->prev;
    free(store->host_name);
    free(store->name);
    free(store);
}

void storage_close_owner(mynah_module *owner, mynah_host *host)
{
    mynah_store *s = stores;
    while (s != NULL) {
        mynah_store *next = s->next;
        if (s->owner == owner && (host == NULL || s->host == host))
            storage_close(s);
        s = next;
    }
}

size_t storage_open_count(const mynah_module *owner)
{
    size_t n = 0;
    for (const mynah_store *s = stores; s != NULL; s = s->next)
        if (s->owner == owner)
            n++;
    return n;
}

void storage_shutdown(void)
{
    while (stores != NULL)
        storage_close(stores);
    while (providers != NULL) {
        storage_provider *p = providers;
        providers = p->next;
        free(p->name);
        free(p);
    }
    free(configured_driver);
    configured_driver = NULL;
}

/* ---- operations ---- */

/* Callers may pass NULL callbacks for writes they do not wait on; drivers
 * always get a callable one. */
static void ignore_value(int status, const void *data, size_t len, void *ud)
{
    (void)status, (void)data, (void)len, (void)ud;
}
static void ignore_done(int status, void *ud)
{
    (void)status, (void)ud;
}
static void ignore_id(int status, const char *id, void *ud)
{
    (void)status, (void)id, (void)ud;
}
static void ignore_archive(int status, const mynah_archive_item *items,
                           size_t count, int complete, void *ud)
{
    (void)status, (void)items, (void)count, (void)complete, (void)ud;
}
static void ignore_list(int status, const char *const *keys,
                        const void *const *values, const size_t *lens,
                        size_t count, void *ud)
{
    (void)status, (void)keys, (void)values, (void)lens, (void)count, (void)ud;
}

/* The driver to run an operation of `kind` on, or NULL (logged) when the
 * store is of another kind, has no driver, or the driver lacks it. */
static const mynah_storage_driver *driver_for(mynah_store *store,
                                              enum mynah_store_kind kind,
                                              const char *op)
{
    if (store == NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO, "%s on a NULL store", op);
        return NULL;
    }
    if (store->kind != kind) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "%s: %s on store '%s' (%s), which is a %s store",
                module_label(store->owner), op, store->name,
                store->host_name, kind_name(store->kind));
        return NULL;
    }
    if (attach_store(store) < 0)
        return NULL;
    return &store->provider->driver;
}

/* A driver may leave out the operations of a kind it does not support. */
static const mynah_storage_driver *lacks(const mynah_store *store,
                                         const char *op)
{
    log_msg(MYNAH_LOG_ERROR, LOG_WHO, "driver '%s' does not implement %s",
            store->provider->name, op);
    return NULL;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void store_keyval_get(mynah_store *store, const char *user,
                      mynah_store_value_cb cb, void *userdata)
{
    if (cb == NULL)
        cb = ignore_value;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_KEYVAL, "keyval_get");
    if (d != NULL && d->keyval_get == NULL)
        d = lacks(store, "keyval_get");
    if (d == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, 0, userdata);
        return;
    }
    d->keyval_get(store->handle, user ? user : "", cb, userdata);
}

void store_keyval_set(mynah_store *store, const char *user, const void *data,
                      size_t len, mynah_store_done_cb cb, void *userdata)
{
    if (cb == NULL)
        cb = ignore_done;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_KEYVAL, "keyval_set");
    if (d != NULL && d->keyval_set == NULL)
        d = lacks(store, "keyval_set");
    if (d == NULL) {
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    d->keyval_set(store->handle, user ? user : "", data, data ? len : 0, cb,
                  userdata);
}

void store_keyval_users(mynah_store *store, mynah_map_list_cb cb,
                        void *userdata)
{
    if (cb == NULL)
        cb = ignore_list;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_KEYVAL, "keyval_users");
    if (d != NULL && d->keyval_users == NULL)
        d = lacks(store, "keyval_users");
    if (d == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, NULL, NULL, 0, userdata);
        return;
    }
    d->keyval_users(store->handle, cb, userdata);
}

void store_map_get(mynah_store *store, const char *user, const char *key,
                   mynah_store_value_cb cb, void *userdata)
{
    if (cb == NULL)
        cb = ignore_value;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_MAP, "map_get");
    if (d != NULL && d->map_get == NULL)
        d = lacks(store, "map_get");
    if (d == NULL || key == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, 0, userdata);
        return;
    }
    d->map_get(store->handle, user ? user : "", key, cb, userdata);
}

void store_map_set(mynah_store *store, const char *user, const char *key,
                   const void *data, size_t len, mynah_store_done_cb cb,
                   void *userdata)
{
    if (cb == NULL)
        cb = ignore_done;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_MAP, "map_set");
    if (d != NULL && d->map_set == NULL)
        d = lacks(store, "map_set");
    if (d == NULL || key == NULL) {
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    d->map_set(store->handle, user ? user : "", key, data, data ? len : 0,
               cb, userdata);
}

void store_map_list(mynah_store *store, const char *user,
                    mynah_map_list_cb cb, void *userdata)
{
    if (cb == NULL)
        cb = ignore_list;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_MAP, "map_list");
    if (d != NULL && d->map_list == NULL)
        d = lacks(store, "map_list");
    if (d == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, NULL, NULL, 0, userdata);
        return;
    }
    d->map_list(store->handle, user ? user : "", cb, userdata);
}

void store_archive_append(mynah_store *store, const char *user,
                          const mynah_archive_item *item,
                          mynah_store_id_cb cb, void *userdata)
{
    if (cb == NULL)
        cb = ignore_id;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_ARCHIVE, "archive_append");
    if (d != NULL && d->archive_append == NULL)
        d = lacks(store, "archive_append");
    if (d == NULL || item == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, userdata);
        return;
    }
    /* The driver assigns the id; a zero time means "now". */
    mynah_archive_item copy = *item;
    copy.id = NULL;
    if (copy.when == 0)
        copy.when = now_us();
    if (copy.data == NULL)
        copy.len = 0;
    d->archive_append(store->handle, user ? user : "", &copy, cb, userdata);
}

static const mynah_archive_query no_query;

void store_archive_find(mynah_store *store, const char *user,
                        const mynah_archive_query *query, mynah_archive_cb cb,
                        void *userdata)
{
    if (cb == NULL)
        cb = ignore_archive;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_ARCHIVE, "archive_find");
    if (d != NULL && d->archive_find == NULL)
        d = lacks(store, "archive_find");
    if (d == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, 0, 0, userdata);
        return;
    }
    d->archive_find(store->handle, user ? user : "",
                    query ? query : &no_query, cb, userdata);
}

void store_archive_delete(mynah_store *store, const char *user,
                          const mynah_archive_query *query,
                          mynah_store_done_cb cb, void *userdata)
{
    if (cb == NULL)
        cb = ignore_done;
    const mynah_storage_driver *d =
        driver_for(store, MYNAH_STORE_ARCHIVE, "archive_delete");
    if (d != NULL && d->archive_delete == NULL)
        d = lacks(store, "archive_delete");
    if (d == NULL) {
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    d->archive_delete(store->handle, user ? user : "",
                      query ? query : &no_query, cb, userdata);
}

void storage_purge_user(const char *host, const char *user,
                        mynah_store_done_cb cb, void *userdata)
{
    if (cb == NULL)
        cb = ignore_done;
    storage_provider *p = find_provider(storage_driver_name());
    if (p == NULL || p->driver.purge_user == NULL || user == NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "cannot purge user '%s' on '%s': no storage driver '%s'",
                user ? user : "(null)", host ? host : "",
                storage_driver_name());
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    p->driver.purge_user(p->driver_data, host ? host : "", user, cb,
                         userdata);
}
