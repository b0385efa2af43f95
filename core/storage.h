/*
 * The storage interface inside the core (see include/mynah/storage.h for
 * the driver contract).  Storage drivers are modules ("storage_sqlite",
 * "storage_memory") that call api->provide_storage(); the `storage` option
 * names the driver ("sqlite" by default, "memory" for tests).  A store is
 * opened per (host, name, kind); stores close when their module is removed
 * from the host.
 */
#ifndef MYNAH_STORAGE_CORE_H
#define MYNAH_STORAGE_CORE_H

#include <mynah/storage.h>
#include <mynah/types.h>

/* Registers a driver (owned by the module). 0, or -1 if the name is taken. */
int storage_provide(mynah_module *owner, const mynah_storage_driver *driver,
                    void *driver_data);
/* Drops every driver the module provided (on unload). */
void storage_remove_owner(mynah_module *owner);
/* The driver registered under a name, or NULL. */
const mynah_storage_driver *storage_driver(const char *name,
                                           void **driver_data);

/* Makes sure the configured driver for a host is loaded: enables the module
 * "storage_<name>" globally when needed.  0, or -1 with *error. */
int storage_init(const char *driver_name, char **error);
const char *storage_driver_name(void);

mynah_store *storage_open(mynah_module *owner, mynah_host *host,
                          const char *name, enum mynah_store_kind kind);
/* Same, by host name, for the core (accounts) and mynahctl. */
mynah_store *storage_open_host(const char *host, const char *name,
                               enum mynah_store_kind kind);
void storage_close(mynah_store *store);
/* Closes every store a module opened on a host (host NULL = all hosts). */
void storage_close_owner(mynah_module *owner, mynah_host *host);

void store_keyval_get(mynah_store *store, const char *user,
                      mynah_store_value_cb cb, void *userdata);
void store_keyval_set(mynah_store *store, const char *user, const void *data,
                      size_t len, mynah_store_done_cb cb, void *userdata);
void store_keyval_users(mynah_store *store, mynah_map_list_cb cb,
                        void *userdata);
void store_map_get(mynah_store *store, const char *user, const char *key,
                   mynah_store_value_cb cb, void *userdata);
void store_map_set(mynah_store *store, const char *user, const char *key,
                   const void *data, size_t len, mynah_store_done_cb cb,
                   void *userdata);
void store_map_list(mynah_store *store, const char *user,
                    mynah_map_list_cb cb, void *userdata);
void store_archive_append(mynah_store *store, const char *user,
                          const mynah_archive_item *item,
                          mynah_store_id_cb cb, void *userdata);
void store_archive_find(mynah_store *store, const char *user,
                        const mynah_archive_query *query, mynah_archive_cb cb,
                        void *userdata);
void store_archive_delete(mynah_store *store, const char *user,
                          const mynah_archive_query *query,
                          mynah_store_done_cb cb, void *userdata);
/* How many stores a module has open (owner NULL: the core's own). */
size_t storage_open_count(const mynah_module *owner);
/* Closes every store and forgets every driver (server exit, tests); the
 * driver modules themselves are unloaded by the module loader. */
void storage_shutdown(void);

/* Everything of a user on a host, all stores (account deletion). */
void storage_purge_user(const char *host, const char *user,
                        mynah_store_done_cb cb, void *userdata);

#endif
