/*
 * Hosts: the virtual hosts and components this server serves.  Each has
 * its own event bus, the modules enabled on it, and what those modules
 * registered for discovery.
 */
#ifndef MYNAH_HOST_H
#define MYNAH_HOST_H

#include <stddef.h>
#include <mynah/types.h>
#include "hooks.h"

typedef struct host_feature {
    char *var;
    mynah_module *owner;
} host_feature;

typedef struct host_identity {
    char *category, *type, *name;
    mynah_module *owner;
} host_identity;

/* A module enabled on a host, with the module's own per-host data. */
typedef struct host_module {
    mynah_module *module;
    void *data;
} host_module;

struct mynah_host {
    char *name;
    int is_component;
    char *component_module; /* "muc" for Component "rooms.x" "muc" */
    hooks *hooks;
    host_feature *features;
    size_t feature_count;
    host_identity *identities;
    size_t identity_count;
    host_module *modules; /* in load order */
    size_t module_count;
    void *tls_credentials; /* tls.h: per-host certificate, or NULL */
};

/* NULL if no such host. */
mynah_host *host_find(const char *name);
mynah_host *host_create(const char *name, int is_component,
                        const char *component_module);
/* Unloads the host's modules and frees it. */
void host_destroy(mynah_host *host);
/* Iteration over every host, in creation order; NULL past the end. */
mynah_host *host_at(size_t index);
size_t host_count(void);
void hosts_destroy_all(void);

const char *host_name(const mynah_host *host);

/* Discovery registrations (deduplicated by value). 0 or -1. */
int host_add_feature(mynah_host *host, mynah_module *owner, const char *var);
int host_add_identity(mynah_host *host, mynah_module *owner,
                      const char *category, const char *type,
                      const char *name);
void host_remove_owner(mynah_host *host, mynah_module *owner);
const char *host_feature_at(mynah_host *host, size_t index);
int host_identity_at(mynah_host *host, size_t index, const char **category,
                     const char **type, const char **name);

/* The host_module entry for a module on a host, or NULL.  host NULL is the
 * global (server-wide) list. */
host_module *host_find_module(mynah_host *host, const mynah_module *module);
/* The module loader's bookkeeping: records that a module is enabled on a
 * host (appended, so host->modules stays in load order) or no longer is.
 * host NULL = global.  Attach returns 0, or -1 (no memory). */
int host_attach_module(mynah_host *host, mynah_module *module);
void host_detach_module(mynah_host *host, mynah_module *module);
/* Global modules: index from 0, NULL past the end. */
mynah_module *host_global_module_at(size_t index);
void host_set_data(mynah_module *module, mynah_host *host, void *data);
void *host_get_data(mynah_module *module, mynah_host *host);

#endif
