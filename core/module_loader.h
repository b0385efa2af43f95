/*
 * The module loader: finds, checks, orders, loads and unloads modules.
 *
 * "roster" resolves to mod_roster.so in, in order: the config's
 * plugin_paths, the MYNAH_MODULE_PATH environment variable (colon
 * separated; the test suite points it at the build tree) and the installed
 * module directory.  When no mod_NAME.so exists anywhere, mod_NAME.lua (a
 * Lua module) and then NAME.lua (a Lua bot) are looked for on the same
 * path: the loader opens mod_lua, which exports the "lua-loader" API
 * (lua/lua_loader.h), and mod_lua builds the module's descriptor from the
 * script.  Such a module is then handled like any other.
 *
 * Loading a module: dlopen(RTLD_NOW | RTLD_LOCAL), look up mynah_module_v1,
 * check magic, ABI major (equal) and minor (not newer), struct_size, and
 * that no other module has the same name; then init().  Any failure undoes
 * everything done so far and gives a clear message.
 */
#ifndef MYNAH_MODULE_LOADER_H
#define MYNAH_MODULE_LOADER_H

#include <stddef.h>
#include <mynah/mynah.h>

typedef struct module_registration module_registration;
struct lua_loader_api;

struct mynah_module {
    char *name;
    char *path;
    void *dl_handle;                      /* NULL for modules built in */
    const mynah_module_descriptor *desc;
    int initialised;
    int refs;        /* timers, pending iqs, users of exported APIs */
    int unloading;   /* removed from every host; fini when refs drop to 0 */
    size_t host_count; /* hosts it is enabled on, the global list counted */
    int closing;     /* fini/dlclose in progress: refs no longer matter */
    /* A script module (dl_handle NULL): the loader that built desc, which
     * frees it when the module is closed.  NULL for shared objects. */
    const struct lua_loader_api *script;
};

/* Directories searched, from the config's plugin_paths (copied). */
void modules_set_paths(const char *const *paths, size_t count);

/* Opens and checks a module without initialising it (for config checking
 * and ordering).  A module already open is returned as is.  On failure
 * returns NULL with a malloc'd message in *error. */
mynah_module *module_open(const char *name, char **error);
mynah_module *module_find(const char *name);
/* Registers a module compiled into the binary (tests, built-ins). */
mynah_module *module_register_builtin(const mynah_module_descriptor *desc,
                                      char **error);

/*
 * Enables a list of modules on a host: opens each, adds soft and hard
 * dependencies, sorts them topologically, and calls init (once per module)
 * and add_host in that order.  Refuses a missing hard dependency, a cycle,
 * a bad ABI or a duplicate with a message naming the module.  On failure
 * the host is left with the modules it had before.  0 or -1.
 */
int modules_enable(mynah_host *host, const char *const *names, size_t count,
                   char **error);
/* Removes one module from a host: remove_host(), then every registration
 * it made there is undone. */
void module_disable(mynah_host *host, mynah_module *module);
/* Removes every module from a host (in reverse load order). */
void modules_disable_all(mynah_host *host);

/* Reload: for each host the module is on, remove it and add it again,
 * re-opening the shared object from disk.  0 or -1 with *error. */
int module_reload(const char *name, char **error);

/* Keeps a module loaded while something of it is pending.  Both accept
 * NULL.  module_unref closes a module that has left every host when its
 * last reference goes; never call it from the module's own code (use
 * module_unref_later, which drops the reference from the event loop). */
void module_ref(mynah_module *module);
void module_unref(mynah_module *module);
void module_unref_later(mynah_module *module);

/* Unloads every module (server shutdown). */
void modules_shutdown(void);

/* Exported APIs between modules. */
int module_export_api(mynah_module *module, const char *name, int version,
                      const void *table);
const void *module_get_api(mynah_module *user, const char *name, int version);

/* Iteration over open modules; NULL past the end. */
mynah_module *module_at(size_t index);

/* The function table handed to modules (module_api.c). */
const mynah_api *module_api(void);
/* Closes the local sessions (bots) a module created on a host, or on
 * every host when host is NULL (module_api.c). */
void module_api_close_local_sessions(mynah_module *module, mynah_host *host);

#endif
