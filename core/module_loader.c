/*
 * The module loader.
 *
 * A module is opened once (one mynah_module per name, whatever the number
 * of hosts it serves), initialised on first use, then added to each host
 * it is enabled on.  Everything it registers is owned by (module, host) and
 * undone when it leaves that host; when it has left every host and nothing
 * of it is pending (timers, iqs, other modules using its exported APIs),
 * fini() runs and the shared object is closed.
 *
 * ABI rules (include/mynah/module.h): the magic must match, abi_major must
 * equal ours, abi_minor must not be newer (a module built for 1.3 may call
 * functions a 1.2 core lacks), and the descriptor must be at least as large
 * as the first version's.  The descriptor's name must be the file's NAME,
 * so that a config line always means the module it names.
 */
#include "module_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lua/lua_loader.h"
#include "host.h"
#include "hooks.h"
#include "log.h"
#include "module_options.h"
#include "router.h"
#include "server.h"
#include "session.h"
#include "storage.h"
#include "timer.h"

#ifndef MYNAH_MODULE_DIR
#define MYNAH_MODULE_DIR "/usr/local/lib/mynah/modules"
#endif

/* The smallest descriptor we accept: ABI 1.0's, which ends at fini. */
#define DESCRIPTOR_MIN_SIZE \
    (offsetof(mynah_module_descriptor, fini) + sizeof(((mynah_module_descriptor *)0)->fini))

/* Open modules, in the order they were opened. */
static mynah_module **registry;
static size_t registry_count;
static size_t registry_cap;

/* The config's plugin_paths. */
static char **config_paths;
static size_t config_path_count;

typedef struct exported_api {
    mynah_module *owner;
    char *name;
    int version;
    const void *table;
    int hidden; /* the owner is on no host: no new users until it is back */
} exported_api;

/* A module using another's exported API: holds a reference on it. */
typedef struct api_use {
    mynah_module *user;
    mynah_module *exporter;
    char *name;
} api_use;

static exported_api *exports;
static size_t export_count;
static api_use *uses;
static size_t use_count;

static void set_error(char **error, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void forget_deferred(const mynah_module *m);
static int init_module(mynah_module *m, int *initialised_here, char **error);
static void module_close(mynah_module *m);

static void set_error(char **error, const char *fmt, ...)
{
    if (error == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(error, fmt, ap) < 0)
        *error = NULL;
    va_end(ap);
}

/* ---- the registry ---- */

static int registry_add(mynah_module *m)
{
    if (registry_count == registry_cap) {
        size_t cap = registry_cap ? registry_cap * 2 : 16;
        mynah_module **grown = realloc(registry, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        registry = grown;
        registry_cap = cap;
    }
    registry[registry_count++] = m;
    return 0;
}

static int registry_contains(const mynah_module *m)
{
    for (size_t i = 0; i < registry_count; i++)
        if (registry[i] == m)
            return 1;
    return 0;
}

static void registry_remove(const mynah_module *m)
{
    for (size_t i = 0; i < registry_count; i++) {
        if (registry[i] != m)
            continue;
        memmove(&registry[i], &registry[i + 1],
                (registry_count - i - 1) * sizeof *registry);
        registry_count--;
        break;
    }
    if (registry_count == 0) {
        free(registry);
        registry = NULL;
        registry_cap = 0;
    }
}

mynah_module *module_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < registry_count; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

mynah_module *module_at(size_t index)
{
    return index < registry_count ? registry[index] : NULL;
}

/* ---- search path ---- */

void modules_set_paths(const char *const *paths, size_t count)
{
    for (size_t i = 0; i < config_path_count; i++)
        free(config_paths[i]);
    free(config_paths);
    config_paths = NULL;
    config_path_count = 0;
    if (count == 0)
        return;
    config_paths = calloc(count, sizeof *config_paths);
    if (config_paths == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        if (paths[i] != NULL && (config_paths[config_path_count] = strdup(paths[i])) != NULL)
            config_path_count++;
}

/* Module names become file names: letters, digits, '_', '-' and '.'
 * (not first), nothing that could climb out of a directory. */
static int module_name_valid(const char *name)
{
    if (name == NULL || *name == '\0' || *name == '.' || strlen(name) > 128)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* The file names a module NAME may have, in order of preference: a shared
 * object, else a Lua module, else a Lua bot (see lua/lua_loader.h). */
static const char *const module_file_patterns[] = {"mod_%s.so", "mod_%s.lua",
                                                   "%s.lua"};

/* Tries dir/<pattern with NAME>; returns the malloc'd path when the file
 * exists.  Appends the directory to `searched` (when not NULL) for the
 * error message. */
static char *try_dir(const char *dir, size_t len, const char *pattern,
                     const char *name, char **searched)
{
    if (len == 0)
        return NULL;
    char *file = NULL, *path = NULL;
    if (asprintf(&file, pattern, name) < 0)
        return NULL;
    int n = asprintf(&path, "%.*s/%s", (int)len, dir, file);
    free(file);
    if (n < 0)
        return NULL;
    if (access(path, F_OK) == 0)
        return path;
    free(path);
    char *more = NULL;
    if (searched != NULL &&
        asprintf(&more, "%s%s%.*s", *searched ? *searched : "",
                 *searched ? ", " : "", (int)len, dir) >= 0) {
        free(*searched);
        *searched = more;
    }
    return NULL;
}

static char *find_file_as(const char *pattern, const char *name,
                          char **searched)
{
    char *path;
    for (size_t i = 0; i < config_path_count; i++)
        if ((path = try_dir(config_paths[i], strlen(config_paths[i]), pattern,
                            name, searched)) != NULL)
            return path;
    const char *env = getenv("MYNAH_MODULE_PATH");
    while (env != NULL && *env != '\0') {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        if ((path = try_dir(env, len, pattern, name, searched)) != NULL)
            return path;
        env = colon ? colon + 1 : NULL;
    }
    return try_dir(MYNAH_MODULE_DIR, strlen(MYNAH_MODULE_DIR), pattern, name,
                   searched);
}

/* A .so anywhere on the path wins over a script; mod_lua itself is only
 * ever a shared object. */
static char *find_module_file(const char *name, char **searched)
{
    size_t patterns = strcmp(name, "lua") == 0 ? 1 : 3;
    for (size_t i = 0; i < patterns; i++) {
        char *path = find_file_as(module_file_patterns[i], name,
                                  i == 0 ? searched : NULL);
        if (path != NULL)
            return path;
    }
    return NULL;
}

/* A script found as NAME.lua (not mod_NAME.lua) is a bot. */
static int script_is_bot(const char *name, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    return !(strncmp(base, "mod_", 4) == 0 &&
             strncmp(base + 4, name, strlen(name)) == 0 &&
             strcmp(base + 4 + strlen(name), ".lua") == 0);
}

static int is_script_path(const char *path)
{
    size_t len = strlen(path);
    return len > 4 && strcmp(path + len - 4, ".lua") == 0;
}

/* ---- descriptor checks ---- */

/* NULL when the descriptor is acceptable for a module called `name`;
 * otherwise sets *error.  `where` names the file, or "built in". */
static int check_descriptor(const mynah_module_descriptor *desc,
                            const char *name, const char *where, char **error)
{
    if (desc->magic != MYNAH_MODULE_MAGIC) {
        set_error(error, "module '%s' (%s) is not a mynah module: its "
                  "descriptor has the wrong magic number", name, where);
        return -1;
    }
    /* Major versions break the ABI; a newer minor may use functions this
     * core does not have.  Both say the same thing to the operator. */
    if (desc->abi_major != MYNAH_ABI_MAJOR || desc->abi_minor > MYNAH_ABI_MINOR) {
        set_error(error, "module '%s' was built for ABI %u.%u; this server "
                  "has ABI %d.%d", name, desc->abi_major, desc->abi_minor,
                  MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR);
        return -1;
    }
    if (desc->struct_size < DESCRIPTOR_MIN_SIZE) {
        set_error(error, "module '%s' (%s) has a %u-byte descriptor, smaller "
                  "than ABI %d.0's %zu bytes: it was built against a broken "
                  "header", name, where, desc->struct_size, MYNAH_ABI_MAJOR,
                  (size_t)DESCRIPTOR_MIN_SIZE);
        return -1;
    }
    if (desc->name == NULL || strcmp(desc->name, name) != 0) {
        const char *declared = desc->name ? desc->name : "(none)";
        mynah_module *other = desc->name ? module_find(desc->name) : NULL;
        if (other != NULL)
            set_error(error, "module '%s' (%s) declares the name '%s', which "
                      "is already taken by the module loaded from %s", name,
                      where, declared, other->path ? other->path : "the server");
        else
            set_error(error, "module '%s' (%s) declares the name '%s'; a "
                      "module must be named after its file (mod_NAME.so "
                      "declares \"NAME\")", name, where, declared);
        return -1;
    }
    return 0;
}

static mynah_module *module_new(const char *name, const char *path,
                                void *handle,
                                const mynah_module_descriptor *desc)
{
    mynah_module *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->name = strdup(name);
    m->path = path ? strdup(path) : NULL;
    if (m->name == NULL || (path && m->path == NULL)) {
        free(m->name);
        free(m->path);
        free(m);
        return NULL;
    }
    m->dl_handle = handle;
    m->desc = desc;
    return m;
}

/* dlopen + dlsym + checks, for a file that may be a staged copy (reload):
 * `shown` is the path the operator knows. */
static mynah_module *open_file(const char *name, const char *file,
                               const char *shown, char **error)
{
    dlerror();
    void *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        set_error(error, "module '%s' could not be loaded from %s: %s", name,
                  shown, why ? why : "unknown error");
        return NULL;
    }
    const mynah_module_descriptor *desc = dlsym(handle, MYNAH_MODULE_SYMBOL);
    if (desc == NULL) {
        set_error(error, "module '%s' (%s) is not a mynah module: it does not "
                  "export '%s'", name, shown, MYNAH_MODULE_SYMBOL);
        dlclose(handle);
        return NULL;
    }
    if (check_descriptor(desc, name, shown, error) < 0) {
        dlclose(handle);
        return NULL;
    }
    mynah_module *m = module_new(name, shown, handle, desc);
    if (m == NULL) {
        set_error(error, "module '%s': out of memory", name);
        dlclose(handle);
    }
    return m;
}

/*
 * Opens a Lua module or bot through mod_lua's "lua-loader" API: mod_lua is
 * opened and initialised first (it must be a shared object on the module
 * path), then builds the descriptor from the script.  The new module uses
 * mod_lua's API, which keeps mod_lua loaded for as long as the module
 * exists (its callbacks are mod_lua's code).  `previous` is the running
 * version on a reload.  The result is not in the registry yet.
 */
static mynah_module *open_script(const char *name, const char *path,
                                 const mynah_module_descriptor *previous,
                                 char **error)
{
    char *why = NULL;
    mynah_module *lua = module_open("lua", &why);
    if (lua == NULL || init_module(lua, NULL, &why) < 0) {
        set_error(error, "module '%s' (%s) is written in Lua, but mod_lua "
                  "cannot be loaded: %s", name, path,
                  why ? why : "unknown error");
        free(why);
        return NULL;
    }
    const lua_loader_api *loader =
        module_get_api(NULL, LUA_LOADER_API, LUA_LOADER_VERSION);
    if (loader == NULL) {
        set_error(error, "module '%s' (%s) is written in Lua, but mod_lua "
                  "(%s) does not offer the '%s' API", name, path,
                  lua->path ? lua->path : "built in", LUA_LOADER_API);
        return NULL;
    }
    const mynah_module_descriptor *desc =
        loader->open(name, path, script_is_bot(name, path), previous, &why);
    if (desc == NULL) {
        set_error(error, "%s", why ? why : "cannot open the Lua module");
        free(why);
        return NULL;
    }
    if (check_descriptor(desc, name, path, error) < 0) {
        loader->close(desc);
        return NULL;
    }
    mynah_module *m = module_new(name, path, NULL, desc);
    if (m == NULL) {
        set_error(error, "module '%s': out of memory", name);
        loader->close(desc);
        return NULL;
    }
    m->script = loader;
    loader->attach(desc, m);
    if (module_get_api(m, LUA_LOADER_API, LUA_LOADER_VERSION) == NULL) {
        set_error(error, "module '%s': out of memory", name);
        module_close(m);
        return NULL;
    }
    return m;
}

mynah_module *module_open(const char *name, char **error)
{
    mynah_module *m = module_find(name);
    if (m != NULL)
        return m;
    if (!module_name_valid(name)) {
        set_error(error, "'%s' is not a valid module name (letters, digits, "
                  "'_', '-' and '.')", name ? name : "(null)");
        return NULL;
    }
    char *searched = NULL;
    char *path = find_module_file(name, &searched);
    if (path == NULL) {
        set_error(error, "module '%s' not found: no mod_%s.so in %s (nor a "
                  "Lua module mod_%s.lua or bot %s.lua there)", name, name,
                  searched ? searched : "any module directory", name, name);
        free(searched);
        return NULL;
    }
    free(searched);
    if (is_script_path(path))
        m = open_script(name, path, NULL, error);
    else
        m = open_file(name, path, path, error);
    free(path);
    if (m == NULL)
        return NULL;
    if (registry_add(m) < 0) {
        set_error(error, "module '%s': out of memory", name);
        if (m->script != NULL) {
            module_close(m);
            return NULL;
        }
        dlclose(m->dl_handle);
        free(m->name);
        free(m->path);
        free(m);
        return NULL;
    }
    log_msg(MYNAH_LOG_DEBUG, "modules", "opened module '%s' (%s, version %s)",
            m->name, m->path, m->desc->version ? m->desc->version : "?");
    return m;
}

mynah_module *module_register_builtin(const mynah_module_descriptor *desc,
                                      char **error)
{
    if (desc == NULL || desc->name == NULL || !module_name_valid(desc->name)) {
        set_error(error, "a built-in module needs a valid name");
        return NULL;
    }
    mynah_module *other = module_find(desc->name);
    if (other != NULL) {
        set_error(error, "module '%s' is already loaded from %s", desc->name,
                  other->path ? other->path : "the server");
        return NULL;
    }
    if (check_descriptor(desc, desc->name, "built in", error) < 0)
        return NULL;
    mynah_module *m = module_new(desc->name, NULL, NULL, desc);
    if (m == NULL || registry_add(m) < 0) {
        if (m != NULL) {
            free(m->name);
            free(m);
        }
        set_error(error, "module '%s': out of memory", desc->name);
        return NULL;
    }
    return m;
}

/* ---- exported APIs ---- */

int module_export_api(mynah_module *module, const char *name, int version,
                      const void *table)
{
    if (module == NULL || name == NULL || table == NULL)
        return -1;
    for (size_t i = 0; i < export_count; i++) {
        exported_api *e = &exports[i];
        if (strcmp(e->name, name) != 0 || e->version != version)
            continue;
        if (e->owner != module) {
            log_msg(MYNAH_LOG_ERROR, "modules", "module '%s' exports API "
                    "'%s' version %d, already exported by '%s'", module->name,
                    name, version, e->owner->name);
            return -1;
        }
        e->table = table;
        e->hidden = 0;
        return 0;
    }
    exported_api *grown = realloc(exports, (export_count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    exports = grown;
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    exports[export_count++] = (exported_api){module, copy, version, table, 0};
    return 0;
}

const void *module_get_api(mynah_module *user, const char *name, int version)
{
    if (name == NULL)
        return NULL;
    const exported_api *found = NULL;
    for (size_t i = 0; i < export_count && found == NULL; i++)
        if (!exports[i].hidden && exports[i].version == version &&
            strcmp(exports[i].name, name) == 0)
            found = &exports[i];
    if (found == NULL)
        return NULL;
    if (user == NULL || user == found->owner)
        return found->table;
    for (size_t i = 0; i < use_count; i++)
        if (uses[i].user == user && uses[i].exporter == found->owner)
            return found->table;
    /* The user may keep the table pointer for as long as it is loaded, so
     * the exporter stays loaded until the user is gone. */
    api_use *grown = realloc(uses, (use_count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    uses = grown;
    char *copy = strdup(name);
    if (copy == NULL)
        return NULL;
    uses[use_count++] = (api_use){user, found->owner, copy};
    module_ref(found->owner);
    return found->table;
}

/* A module that leaves its last host stops exporting (existing users keep
 * what they have); the exports come back if it is enabled again before it
 * is closed, since its init() -- where it exported -- does not run twice. */
static void hide_exports_of(const mynah_module *m, int hidden)
{
    for (size_t i = 0; i < export_count; i++)
        if (exports[i].owner == m)
            exports[i].hidden = hidden;
}

static void remove_exports_of(const mynah_module *m)
{
    size_t kept = 0;
    for (size_t i = 0; i < export_count; i++) {
        if (exports[i].owner == m)
            free(exports[i].name);
        else
            exports[kept++] = exports[i];
    }
    export_count = kept;
    if (export_count == 0) {
        free(exports);
        exports = NULL;
    }
}

/* Drops the references a module holds on the exporters it used.  The
 * records go first: dropping a reference may close an exporter, which
 * releases its own uses in turn. */
static void release_uses_of(const mynah_module *user)
{
    mynah_module **exporters = NULL;
    size_t n = 0;
    size_t kept = 0;
    for (size_t i = 0; i < use_count; i++) {
        if (uses[i].user != user) {
            uses[kept++] = uses[i];
            continue;
        }
        mynah_module **grown = realloc(exporters, (n + 1) * sizeof *grown);
        if (grown != NULL) {
            exporters = grown;
            exporters[n++] = uses[i].exporter;
        }
        free(uses[i].name);
    }
    use_count = kept;
    if (use_count == 0) {
        free(uses);
        uses = NULL;
    }
    for (size_t i = 0; i < n; i++)
        module_unref(exporters[i]);
    free(exporters);
}

/* An exporter is being closed regardless of its users (shutdown): its
 * users must not drop references on it later. */
static void forget_users_of(const mynah_module *exporter)
{
    size_t kept = 0;
    for (size_t i = 0; i < use_count; i++) {
        if (uses[i].exporter == exporter)
            free(uses[i].name);
        else
            uses[kept++] = uses[i];
    }
    use_count = kept;
    if (use_count == 0) {
        free(uses);
        uses = NULL;
    }
}

static const api_use *first_user_of(const mynah_module *exporter)
{
    for (size_t i = 0; i < use_count; i++)
        if (uses[i].exporter == exporter)
            return &uses[i];
    return NULL;
}

/* ---- closing ---- */

/* fini, a last sweep of anything still registered, dlclose, free.  The
 * sweep covers every host: a module may have registered on a host it was
 * not enabled on, and nothing of it may outlive its code. */
static void module_close(mynah_module *m)
{
    if (m->closing)
        return;
    m->closing = 1;
    registry_remove(m);
    forget_deferred(m);
    if (m->initialised && m->desc->fini != NULL)
        m->desc->fini(m);
    m->initialised = 0;
    for (size_t i = 0; host_at(i) != NULL; i++) {
        hooks_remove_owner(host_at(i)->hooks, m);
        host_remove_owner(host_at(i), m);
    }
    hooks_remove_owner(server.global_hooks, m);
    timer_cancel_module(m);
    session_drop_module_data(m, NULL); /* free functions live in its code */
    storage_close_owner(m, NULL);
    storage_remove_owner(m);
    module_api_close_local_sessions(m, NULL);
    remove_exports_of(m);
    forget_users_of(m);
    module_options_release(m);
    /* A script's descriptor lives in mod_lua, which the next line may
     * close: free it first. */
    if (m->script != NULL)
        m->script->close(m->desc);
    release_uses_of(m);
    log_msg(MYNAH_LOG_DEBUG, "modules", "closed module '%s'", m->name);
    if (m->dl_handle != NULL)
        dlclose(m->dl_handle);
    free(m->name);
    free(m->path);
    free(m);
}

void module_ref(mynah_module *module)
{
    if (module != NULL)
        module->refs++;
}

void module_unref(mynah_module *module)
{
    if (module == NULL)
        return;
    if (module->refs > 0)
        module->refs--;
    if (module->refs == 0 && module->unloading && module->host_count == 0)
        module_close(module);
}

/* References dropped from the loop, after the module's code that asked
 * for it has returned. */
static mynah_module **deferred;
static size_t deferred_count;
static size_t deferred_cap;
static struct event *deferred_event;

static void run_deferred_unrefs(evutil_socket_t fd, short what, void *arg)
{
    while (deferred_count > 0)
        module_unref(deferred[--deferred_count]);
}

void module_unref_later(mynah_module *module)
{
    if (module == NULL)
        return;
    if (server.base == NULL) {
        module_unref(module); /* no loop: nothing of the module is running */
        return;
    }
    if (deferred_event == NULL) {
        deferred_event = evtimer_new(server.base, run_deferred_unrefs, NULL);
        if (deferred_event == NULL)
            return; /* keeping it loaded is the safe failure */
    }
    if (deferred_count == deferred_cap) {
        size_t cap = deferred_cap ? deferred_cap * 2 : 8;
        mynah_module **grown = realloc(deferred, cap * sizeof *grown);
        if (grown == NULL)
            return;
        deferred = grown;
        deferred_cap = cap;
    }
    deferred[deferred_count++] = module;
    struct timeval now = {0, 0};
    evtimer_add(deferred_event, &now);
}

static void forget_deferred(const mynah_module *m)
{
    size_t kept = 0;
    for (size_t i = 0; i < deferred_count; i++)
        if (deferred[i] != m)
            deferred[kept++] = deferred[i];
    deferred_count = kept;
}

static void deferred_done(void)
{
    if (deferred_event != NULL)
        event_free(deferred_event);
    deferred_event = NULL;
    free(deferred);
    deferred = NULL;
    deferred_count = deferred_cap = 0;
}

/* ---- enabling and disabling ---- */

/* The module has left its last host: end what is module-wide (pending
 * iqs, timers set without a host, stores, drivers, exported APIs).
 * Closing waits for refs to reach 0. */
static void module_leave_last_host(mynah_module *m)
{
    router_cancel_iqs(m);
    timer_cancel_module(m);
    session_drop_module_data(m, NULL);
    storage_close_owner(m, NULL);
    storage_remove_owner(m);
    module_api_close_local_sessions(m, NULL);
    hide_exports_of(m, 1);
    /* The APIs it uses stay until it is closed: its fini may still call
     * them. */
    m->unloading = 1;
}

/* Undoes a module's presence on a host; call_remove says whether its
 * remove_host() runs (not after a failed add_host). */
static void disable_on(mynah_host *host, mynah_module *m, int call_remove)
{
    if (host_find_module(host, m) == NULL)
        return;
    module_ref(m); /* nothing below may close it under us */
    if (call_remove && host != NULL && m->desc->remove_host != NULL)
        m->desc->remove_host(m, host);
    hooks_remove_owner(host ? host->hooks : server.global_hooks, m);
    if (host != NULL) {
        host_remove_owner(host, m);
        storage_close_owner(m, host);
    }
    timer_cancel_owner(m, host);
    if (host != NULL) {
        session_drop_module_data(m, host);
        module_api_close_local_sessions(m, host);
    }
    host_detach_module(host, m);
    if (m->host_count > 0)
        m->host_count--;
    log_msg(MYNAH_LOG_DEBUG, "modules", "module '%s' removed from %s",
            m->name, host ? host->name : "the server");
    if (m->host_count == 0)
        module_leave_last_host(m);
    module_unref(m);
}

void module_disable(mynah_host *host, mynah_module *module)
{
    if (module != NULL)
        disable_on(host, module, 1);
}

void modules_disable_all(mynah_host *host)
{
    /* Reverse load order: dependents leave before what they depend on. */
    for (;;) {
        mynah_module *last = NULL;
        if (host != NULL) {
            if (host->module_count == 0)
                break;
            last = host->modules[host->module_count - 1].module;
        } else {
            size_t n = 0;
            while (host_global_module_at(n) != NULL)
                n++;
            if (n == 0)
                break;
            last = host_global_module_at(n - 1);
        }
        disable_on(host, last, 1);
    }
}

/* init(), once per module, on first use. */
static int init_module(mynah_module *m, int *initialised_here, char **error)
{
    if (m->initialised)
        return 0;
    if (m->desc->init != NULL && m->desc->init(m, module_api()) != 0) {
        set_error(error, "module '%s' failed to initialise", m->name);
        return -1;
    }
    m->initialised = 1;
    if (initialised_here != NULL)
        *initialised_here = 1;
    return 0;
}

/* Puts an initialised module on a host (add_host) or on the global list.
 * On failure the module is off that host again, and closed if that was
 * its last one and nothing holds it. */
static int add_to(mynah_host *host, mynah_module *m, char **error)
{
    const char *where = host ? host->name : "the server";
    if (host_attach_module(host, m) < 0) {
        set_error(error, "module '%s': out of memory", m->name);
        return -1;
    }
    m->host_count++;
    m->unloading = 0;
    hide_exports_of(m, 0);
    if (host != NULL && m->desc->add_host != NULL &&
        m->desc->add_host(m, host) != 0) {
        set_error(error, "module '%s' could not be enabled on %s", m->name,
                  where);
        /* Undo what it did register before failing, without calling its
         * remove_host (it never finished adding). */
        disable_on(host, m, 0);
        return -1;
    }
    log_msg(MYNAH_LOG_DEBUG, "modules", "module '%s' enabled on %s", m->name,
            where);
    return 0;
}

static int start_on(mynah_host *host, mynah_module *m, char **error)
{
    if (init_module(m, NULL, error) < 0)
        return -1;
    return add_to(host, m, error);
}

/* What one modules_enable() call plans to do. */
typedef struct plan_entry {
    mynah_module *m;
    int opened_here;      /* not open before this call */
    int initialised_here; /* init() ran in this call */
    int started;          /* added to the host in this call */
    int placed;           /* already ordered (Kahn) */
} plan_entry;

typedef struct plan {
    mynah_host *host;
    plan_entry *entries; /* dependencies before dependents, else given order */
    size_t count;
    mynah_module **visiting; /* the dependency path being expanded */
    size_t depth;
    mynah_module **order;    /* the result of the sort */
} plan;

static plan_entry *plan_find(plan *p, const mynah_module *m)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->entries[i].m == m)
            return &p->entries[i];
    return NULL;
}

/* Already there: enabled on this host, or server-wide. */
static int already_enabled(const plan *p, const mynah_module *m)
{
    return host_find_module(p->host, m) != NULL ||
           (p->host != NULL && host_find_module(NULL, m) != NULL);
}

static int plan_add(plan *p, const char *name, const mynah_module *requester,
                    char **error)
{
    mynah_module *m = module_find(name);
    int opened_here = 0;
    if (m == NULL) {
        char *why = NULL;
        m = module_open(name, &why);
        if (m == NULL) {
            if (requester != NULL)
                set_error(error, "module '%s' needs '%s', which is not "
                          "available: %s", requester->name, name,
                          why ? why : "unknown error");
            else {
                *error = why;
                why = NULL;
            }
            free(why);
            return -1;
        }
        opened_here = 1;
    }
    if (already_enabled(p, m) || plan_find(p, m) != NULL)
        return 0;
    for (size_t i = 0; i < p->depth; i++)
        if (p->visiting[i] == m)
            return 0; /* a cycle: the sort reports it with the whole loop */
    /* A cycle can make the path at most as deep as the modules open. */
    mynah_module **grown = realloc(p->visiting, (p->depth + 1) * sizeof *grown);
    if (grown == NULL)
        goto oom;
    p->visiting = grown;
    p->visiting[p->depth++] = m;
    for (const char *const *dep = m->desc->depends; dep && *dep; dep++) {
        if (**dep == '?')
            continue; /* soft: only ordered, never pulled in */
        if (plan_add(p, *dep, m, error) < 0) {
            p->depth--;
            if (opened_here && !plan_find(p, m))
                module_close(m);
            return -1;
        }
    }
    p->depth--;
    plan_entry *entries = realloc(p->entries, (p->count + 1) * sizeof *entries);
    if (entries == NULL)
        goto oom;
    p->entries = entries;
    p->entries[p->count++] = (plan_entry){m, opened_here, 0, 0, 0};
    return 0;
oom:
    set_error(error, "out of memory while enabling '%s'", name);
    if (opened_here)
        module_close(m);
    return -1;
}

/* The plan entry of a dependency name, if it is part of the plan. */
static plan_entry *plan_dep(plan *p, const char *dep)
{
    const char *name = *dep == '?' ? dep + 1 : dep;
    mynah_module *m = module_find(name);
    return m ? plan_find(p, m) : NULL;
}

static int ready(plan *p, const plan_entry *e)
{
    for (const char *const *dep = e->m->desc->depends; dep && *dep; dep++) {
        plan_entry *d = plan_dep(p, *dep);
        if (d != NULL && !d->placed)
            return 0;
    }
    return 1;
}

/* A readable account of a dependency cycle among the unplaced entries. */
static void report_cycle(plan *p, char **error)
{
    /* Walk from any unplaced module along unplaced dependencies; in a
     * finite graph where every node has one, the walk must loop. */
    size_t n = p->count;
    mynah_module **path = calloc(n + 1, sizeof *path);
    if (path == NULL) {
        set_error(error, "modules depend on each other in a cycle");
        return;
    }
    size_t len = 0;
    /* Start from the last one: entries come dependencies first, so that
     * is the one closest to what the operator asked for. */
    plan_entry *e = NULL;
    for (size_t i = n; i-- > 0 && e == NULL;)
        if (!p->entries[i].placed)
            e = &p->entries[i];
    size_t start = 0;
    for (;;) {
        int seen = 0;
        for (size_t i = 0; i < len; i++)
            if (path[i] == e->m) {
                start = i;
                seen = 1;
            }
        if (seen || len == n)
            break;
        path[len++] = e->m;
        plan_entry *next = NULL;
        for (const char *const *dep = e->m->desc->depends; dep && *dep && !next; dep++) {
            plan_entry *d = plan_dep(p, *dep);
            if (d != NULL && !d->placed)
                next = d;
        }
        e = next;
    }
    size_t cycle = len - start;
    if (cycle == 1) {
        set_error(error, "module '%s' depends on itself", path[start]->name);
    } else if (cycle == 2) {
        set_error(error, "modules '%s' and '%s' depend on each other",
                  path[start]->name, path[start + 1]->name);
    } else {
        char *chain = strdup("");
        for (size_t i = start; i <= len && chain != NULL; i++) {
            char *more = NULL;
            const mynah_module *m = path[i < len ? i : start];
            if (asprintf(&more, "%s%s'%s'", chain, i == start ? "" : " -> ",
                         m->name) < 0)
                more = NULL;
            free(chain);
            chain = more;
        }
        set_error(error, "modules depend on each other in a cycle: %s "
                  "(each needs the next)", chain ? chain : "");
        free(chain);
    }
    free(path);
}

/* Kahn's algorithm, stable: each round takes the first entry (in plan
 * order) whose dependencies in the plan are all placed. */
static int plan_sort(plan *p, char **error)
{
    p->order = calloc(p->count ? p->count : 1, sizeof *p->order);
    if (p->order == NULL) {
        set_error(error, "out of memory while ordering modules");
        return -1;
    }
    for (size_t placed = 0; placed < p->count; placed++) {
        plan_entry *next = NULL;
        for (size_t i = 0; i < p->count && next == NULL; i++)
            if (!p->entries[i].placed && ready(p, &p->entries[i]))
                next = &p->entries[i];
        if (next == NULL) {
            report_cycle(p, error);
            return -1;
        }
        next->placed = 1;
        p->order[placed] = next->m;
    }
    return 0;
}

/* Puts things back as they were before the call. */
static void plan_undo(plan *p)
{
    /* Started modules leave in reverse order. */
    for (size_t i = p->count; i-- > 0;) {
        mynah_module *m = p->order ? p->order[i] : NULL;
        plan_entry *e = m ? plan_find(p, m) : NULL;
        if (e != NULL && e->started)
            disable_on(p->host, m, 1);
    }
    for (size_t i = 0; i < p->count; i++) {
        plan_entry *e = &p->entries[i];
        /* A disabled module may already be closed (and freed): only touch
         * those still registered. */
        if (!registry_contains(e->m))
            continue;
        if (e->m->host_count > 0 || e->m->refs > 0)
            continue;
        if (e->opened_here || e->initialised_here)
            module_close(e->m);
    }
}

static void plan_free(plan *p)
{
    free(p->entries);
    free(p->visiting);
    free(p->order);
}

int modules_enable(mynah_host *host, const char *const *names, size_t count,
                   char **error)
{
    plan p = {host, NULL, 0, NULL, 0, NULL};
    char *why = NULL;
    int rc = -1;
    for (size_t i = 0; i < count; i++)
        if (plan_add(&p, names[i], NULL, &why) < 0)
            goto fail;
    if (plan_sort(&p, &why) < 0)
        goto fail;
    /* Every module is initialised before any is added, in dependency
     * order both times: add_host may rely on what any init set up (an
     * exported API, a storage driver). */
    for (size_t i = 0; i < p.count; i++) {
        plan_entry *e = plan_find(&p, p.order[i]);
        if (init_module(e->m, &e->initialised_here, &why) < 0)
            goto fail;
    }
    for (size_t i = 0; i < p.count; i++) {
        plan_entry *e = plan_find(&p, p.order[i]);
        if (add_to(host, e->m, &why) < 0)
            goto fail;
        e->started = 1;
    }
    rc = 0;
    goto done;
fail:
    plan_undo(&p);
    if (error != NULL)
        *error = why;
    else
        free(why);
    why = NULL;
done:
    plan_free(&p);
    return rc;
}

/* ---- reload ---- */

/* Copies a module file to a fresh temporary name and opens the copy: a
 * new inode and path give a new handle even while the running version
 * stays mapped, so the running version can be restored if the new one
 * fails.  The copy is unlinked at once (its mapping stays). */
static mynah_module *open_staged_copy(const mynah_module *old, char **error)
{
    const char *dirs[3] = {getenv("TMPDIR"), "/tmp", NULL};
    char *last_error = NULL;
    for (size_t d = 0; d < 3; d++) {
        const char *dir = dirs[d];
        char *own_dir = NULL;
        if (d == 2) {
            /* The module's own directory: for a /tmp mounted noexec. */
            own_dir = strdup(old->path);
            char *slash = own_dir ? strrchr(own_dir, '/') : NULL;
            if (slash == NULL) {
                free(own_dir);
                continue;
            }
            *slash = '\0';
            dir = own_dir;
        }
        if (dir == NULL || *dir == '\0') {
            free(own_dir);
            continue;
        }
        char *tmp = NULL;
        if (asprintf(&tmp, "%s/.mynah-reload-%s-XXXXXX.so", dir, old->name) < 0) {
            free(own_dir);
            continue;
        }
        free(own_dir);
        int out = mkstemps(tmp, 3);
        int in = out >= 0 ? open(old->path, O_RDONLY | O_CLOEXEC) : -1;
        int copied = in >= 0;
        char chunk[65536];
        ssize_t got;
        while (copied && (got = read(in, chunk, sizeof chunk)) != 0) {
            if (got < 0 || write(out, chunk, (size_t)got) != got)
                copied = 0;
        }
        if (in >= 0)
            close(in);
        if (out >= 0)
            close(out);
        if (!copied) {
            if (out >= 0)
                unlink(tmp);
            free(last_error);
            set_error(&last_error, "cannot copy %s to %s: %s", old->path,
                      dir, strerror(errno));
            free(tmp);
            continue;
        }
        char *why = NULL;
        mynah_module *m = open_file(old->name, tmp, old->path, &why);
        unlink(tmp);
        free(tmp);
        if (m != NULL) {
            free(last_error);
            return m;
        }
        /* A bad descriptor is the file's fault: no other place helps. */
        if (why != NULL && strstr(why, "could not be loaded") == NULL) {
            free(last_error);
            *error = why;
            return NULL;
        }
        free(last_error);
        last_error = why;
    }
    *error = last_error ? last_error : strdup("no place to stage a copy");
    return NULL;
}

/* Hosts a module is enabled on, in host order; *global when server-wide. */
static mynah_host **hosts_of(const mynah_module *m, size_t *count, int *global)
{
    *count = 0;
    *global = host_find_module(NULL, m) != NULL;
    mynah_host **list = calloc(host_count() + 1, sizeof *list);
    if (list == NULL)
        return NULL;
    for (size_t i = 0; host_at(i) != NULL; i++)
        if (host_find_module(host_at(i), m) != NULL)
            list[(*count)++] = host_at(i);
    return list;
}

/* ---- state handed over on reload ---- */

typedef struct saved_state {
    void *data;
    size_t len;
    int present;
} saved_state;

static void save_one(mynah_module *m, mynah_host *host, saved_state *st)
{
    if (m->desc->save == NULL)
        return;
    void *data = NULL;
    size_t len = 0;
    if (m->desc->save(m, host, &data, &len) != 0) {
        log_msg(MYNAH_LOG_WARN, "modules", "module '%s' could not save its "
                "state on %s; the new version starts afresh there", m->name,
                host ? host->name : "the server");
        free(data);
        return;
    }
    st->data = data;
    st->len = len;
    st->present = data != NULL;
}

static void save_states(mynah_module *m, int global, mynah_host **hosts,
                        size_t count, saved_state *states)
{
    for (size_t i = 0; i < count; i++)
        save_one(m, hosts[i], &states[i]);
    if (global)
        save_one(m, NULL, &states[count]);
}

static void restore_states(mynah_module *m, int global, mynah_host **hosts,
                           size_t count, const saved_state *states)
{
    if (m->desc->restore == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        if (states[i].present)
            m->desc->restore(m, hosts[i], states[i].data, states[i].len);
    if (global && states[count].present)
        m->desc->restore(m, NULL, states[count].data, states[count].len);
}

static int start_everywhere(mynah_module *m, int global, mynah_host **hosts,
                            size_t count, char **error)
{
    if (global && start_on(NULL, m, error) < 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (start_on(hosts[i], m, error) < 0)
            return -1;
    return 0;
}

static void stop_everywhere(mynah_module *m, int global, mynah_host **hosts,
                            size_t count)
{
    for (size_t i = count; i-- > 0;)
        disable_on(hosts[i], m, 1);
    if (global)
        disable_on(NULL, m, 1);
}

int module_reload(const char *name, char **error)
{
    mynah_module *old = module_find(name);
    if (old == NULL || old->host_count == 0) {
        set_error(error, "module '%s' is not loaded", name ? name : "(null)");
        return -1;
    }
    if (old->dl_handle == NULL && old->script == NULL) {
        set_error(error, "module '%s' is built in and cannot be reloaded", name);
        return -1;
    }
    const api_use *use = first_user_of(old);
    if (use != NULL) {
        set_error(error, "module '%s' cannot be reloaded while module '%s' "
                  "uses its API '%s'; reload or disable '%s' first", name,
                  use->user->name, use->name, use->user->name);
        return -1;
    }
    char *why = NULL;
    /* A script is simply read again; a shared object is opened from a
     * staged copy. */
    mynah_module *fresh = old->script
                              ? open_script(old->name, old->path, old->desc, &why)
                              : open_staged_copy(old, &why);
    if (fresh == NULL) {
        set_error(error, "module '%s' was not reloaded (the running version "
                  "is kept): %s", name, why ? why : "unknown error");
        free(why);
        return -1;
    }
    size_t count;
    int global;
    mynah_host **hosts = hosts_of(old, &count, &global);
    if (hosts == NULL) {
        module_close(fresh);
        set_error(error, "module '%s' was not reloaded: out of memory", name);
        return -1;
    }

    /* What the running version hands over (save), per host; index count
     * is the global instance. */
    saved_state *states = calloc(count + 1, sizeof *states);
    if (states == NULL) {
        free(hosts);
        module_close(fresh);
        set_error(error, "module '%s' was not reloaded: out of memory", name);
        return -1;
    }
    save_states(old, global, hosts, count, states);

    /* Take the running version out everywhere and finish it, but keep its
     * code mapped until the new version is up. */
    module_ref(old);
    stop_everywhere(old, global, hosts, count);
    if (old->initialised && old->desc->fini != NULL)
        old->desc->fini(old);
    old->initialised = 0;
    remove_exports_of(old); /* the new version exports them again */
    registry_remove(old);
    int rc = 0;
    if (registry_add(fresh) < 0) {
        set_error(&why, "out of memory");
        module_close(fresh);
        fresh = NULL;
    } else if (start_everywhere(fresh, global, hosts, count, &why) < 0) {
        /* Leaving its last host may already close it. */
        stop_everywhere(fresh, global, hosts, count);
        if (registry_contains(fresh))
            module_close(fresh);
        fresh = NULL;
    }
    if (fresh == NULL) {
        /* Put the previous version back. */
        char *restore_why = NULL;
        old->unloading = 0;
        if (registry_add(old) < 0 ||
            start_everywhere(old, global, hosts, count, &restore_why) < 0) {
            stop_everywhere(old, global, hosts, count);
            set_error(error, "module '%s' was not reloaded: the new version "
                      "failed (%s); restoring the previous version failed too "
                      "(%s), so it is now disabled", name,
                      why ? why : "unknown error",
                      restore_why ? restore_why : "out of memory");
            old->unloading = 1;
        } else {
            set_error(error, "module '%s' was not reloaded: the new version "
                      "failed (%s); the previous version was restored", name,
                      why ? why : "unknown error");
            restore_states(old, global, hosts, count, states);
        }
        free(restore_why);
        rc = -1;
    } else {
        restore_states(fresh, global, hosts, count, states);
        log_msg(MYNAH_LOG_INFO, "modules", "module '%s' reloaded (version %s)",
                name, fresh->desc->version ? fresh->desc->version : "?");
        old->unloading = 1;
    }
    for (size_t i = 0; i <= count; i++)
        free(states[i].data);
    free(states);
    free(why);
    free(hosts);
    module_unref(old); /* closes the previous version unless restored */
    return rc;
}

/* ---- shutdown ---- */

void modules_shutdown(void)
{
    /* Everything is closed below regardless of references. */
    deferred_done();
    for (size_t i = host_count(); i-- > 0;)
        modules_disable_all(host_at(i));
    modules_disable_all(NULL);
    /* What is left: modules opened but never enabled (config checks) and
     * any still held by a reference nobody will drop now. */
    while (registry_count > 0) {
        mynah_module *m = registry[registry_count - 1];
        m->refs = 0;
        module_close(m);
    }
    modules_set_paths(NULL, 0);
}
