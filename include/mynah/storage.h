/*
 * mynah storage interface.
 *
 * Three kinds of store, all scoped by (host, store name, user):
 *   keyval   one value per user                   (vcard, private, accounts)
 *   map      many keyed values per user           (roster items, rooms)
 *   archive  time-ordered items per user, queried (offline, history, sensor data)
 *
 * Values are byte strings: a module chooses its own encoding (serialized XML
 * for stanzas, a line format, ...).  That keeps drivers trivial and every
 * backend equally capable.
 *
 * Every operation completes through a callback so that a networked backend
 * never blocks the loop; a local backend may call it before returning.
 */
#ifndef MYNAH_STORAGE_H
#define MYNAH_STORAGE_H

#include <stddef.h>
#include <stdint.h>

enum mynah_store_kind {
    MYNAH_STORE_KEYVAL = 0,
    MYNAH_STORE_MAP = 1,
    MYNAH_STORE_ARCHIVE = 2
};

/* Status passed to every storage callback. */
enum mynah_store_status {
    MYNAH_STORE_OK = 0,
    MYNAH_STORE_NOT_FOUND = 1,
    MYNAH_STORE_ERROR = -1
};

typedef struct mynah_archive_item {
    const char *id;      /* unique within the archive, assigned by the driver */
    int64_t when;        /* microseconds since the Unix epoch */
    const char *with;    /* a JID or tag to filter on; may be NULL */
    const void *data;
    size_t len;
} mynah_archive_item;

typedef struct mynah_archive_query {
    int64_t start;        /* inclusive; 0 = no lower bound */
    int64_t end;          /* inclusive; 0 = no upper bound */
    const char *with;     /* NULL = any */
    const char *after_id; /* paging: only items after this id; NULL = none */
    const char *before_id;/* paging: only items before this id; NULL = none */
    size_t max;           /* 0 = no limit */
    int reverse;          /* newest first when set */
} mynah_archive_query;

/* A value, or status NOT_FOUND with data NULL. data is valid during the call. */
typedef void (*mynah_store_value_cb)(int status, const void *data, size_t len,
                                     void *userdata);
typedef void (*mynah_store_done_cb)(int status, void *userdata);
/* An archive append: the new item's id, valid during the call. */
typedef void (*mynah_store_id_cb)(int status, const char *id, void *userdata);
/* A query's answer: items valid during the call; complete = 1 when the
 * query's range held no more items than were returned. */
typedef void (*mynah_archive_cb)(int status, const mynah_archive_item *items,
                                 size_t count, int complete, void *userdata);
/* Map listing: keys and values, valid during the call. */
typedef void (*mynah_map_list_cb)(int status, const char *const *keys,
                                  const void *const *values, const size_t *lens,
                                  size_t count, void *userdata);

/*
 * What a storage module provides (api->provide_storage).  Function pointers
 * are only ever appended; the core reads a field only when size covers it.
 * A backend handle (void *) is whatever open() returned.
 */
typedef struct mynah_storage_driver {
    uint32_t size; /* sizeof(mynah_storage_driver) as the module saw it */
    const char *name;
    void *(*open)(void *driver_data, const char *host, const char *store,
                  enum mynah_store_kind kind);
    void (*close)(void *handle);

    void (*keyval_get)(void *handle, const char *user,
                       mynah_store_value_cb cb, void *userdata);
    /* data == NULL removes the value. */
    void (*keyval_set)(void *handle, const char *user, const void *data,
                       size_t len, mynah_store_done_cb cb, void *userdata);

    void (*map_get)(void *handle, const char *user, const char *key,
                    mynah_store_value_cb cb, void *userdata);
    void (*map_set)(void *handle, const char *user, const char *key,
                    const void *data, size_t len, mynah_store_done_cb cb,
                    void *userdata);
    void (*map_list)(void *handle, const char *user, mynah_map_list_cb cb,
                     void *userdata);

    void (*archive_append)(void *handle, const char *user,
                           const mynah_archive_item *item,
                           mynah_store_id_cb cb, void *userdata);
    void (*archive_find)(void *handle, const char *user,
                         const mynah_archive_query *query, mynah_archive_cb cb,
                         void *userdata);
    /* Deletes what the query matches (max is ignored). */
    void (*archive_delete)(void *handle, const char *user,
                           const mynah_archive_query *query,
                           mynah_store_done_cb cb, void *userdata);

    /* Removes everything a user has on a host, in every store. */
    void (*purge_user)(void *driver_data, const char *host, const char *user,
                       mynah_store_done_cb cb, void *userdata);
    /* Lists the users that have a value in a keyval store (user == NULL
     * in the map_list callback's keys). */
    void (*keyval_users)(void *handle, mynah_map_list_cb cb, void *userdata);

    void *reserved[8];
} mynah_storage_driver;

#endif
