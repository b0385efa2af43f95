/*
 * mod_lua: Lua modules and bots as first-class mynah modules.
 *
 * mod_lua is an ordinary C module.  It exports the "lua-loader" API
 * (lua_loader.h), through which the module loader turns mod_NAME.lua and
 * NAME.lua into modules; the descriptors it builds point at the callbacks
 * below, which run the script once per host it is enabled on:
 *
 *   add_host     a module: a fresh _ENV in the shared state, the file's
 *                top level, module.load(), module.restore(saved) after a
 *                reload; a bot: its own state and a local session
 *   remove_host  module.save() when a reload is under way, module.unload(),
 *                then everything the instance holds is released: hooks,
 *                timers, waiting tasks, references (the core undoes its
 *                own side of the registrations)
 *
 * The operator enables a Lua module by name like any other, reloads it
 * with `mynahctl reload-module NAME`, and sets mod_lua's options
 * (lua_instruction_limit, lua_bot_memory_limit, lua_unsafe_modules,
 * lua_iq_timeout) wherever a Lua module is enabled.
 */
#include "mod_lua.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const mynah_api *lua_api;
mynah_module *lua_self;

const mynah_option_spec modlua_options[MODLUA_OPTION_COUNT + 1] = {
    {"lua_instruction_limit", MYNAH_OPTION_INTEGER, "10000000", 0, 1e12, 1,
     "Lua VM instructions a handler may run before it is stopped (0: no limit)"},
    {"lua_bot_memory_limit", MYNAH_OPTION_INTEGER, "16777216", 0, 4294967296.0, 1,
     "bytes a bot's Lua state may allocate (0: no limit)"},
    {"lua_unsafe_modules", MYNAH_OPTION_ARRAY, NULL, 0, 0, 1,
     "Lua modules and bots given the whole standard library (io, os, debug, package)"},
    {"lua_iq_timeout", MYNAH_OPTION_NUMBER, "30", 1, 3600, 1,
     "seconds module:send_iq waits for an answer by default"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

static lua_script *scripts;
static char stash_key;

/* ---- ctx helpers ---- */

lua_ctx *ctx_check(lua_State *L)
{
    lua_ctx **box = lua_touserdata(L, lua_upvalueindex(1));
    if (box == NULL || *box == NULL)
        luaL_error(L, "this module was unloaded");
    return *box;
}

void ctx_push_closure(lua_State *L, lua_ctx *ctx, lua_CFunction fn)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->box_ref);
    lua_pushcclosure(L, fn, 1);
}

void ctx_log(lua_ctx *ctx, int level, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (ctx->host != NULL)
        lua_api->log(ctx->module, level, "%s: %s",
                     lua_api->host_name(ctx->host), text);
    else
        lua_api->log(ctx->module, level, "%s", text);
}

static int named_in(lua_ctx *ctx, const char *option, const char *name)
{
    size_t n = lua_api->option_array_length(ctx->module, ctx->host, option);
    for (size_t i = 0; i < n; i++) {
        const char *item = lua_api->option_array_item(ctx->module, ctx->host,
                                                      option, i);
        if (item != NULL && strcmp(item, name) == 0)
            return 1;
    }
    return 0;
}

static lua_ctx *ctx_new(lua_script *script, mynah_module *m, mynah_host *host,
                        lua_State *L, sandbox_alloc *alloc)
{
    lua_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    ctx->script = script;
    ctx->module = m;
    ctx->host = host;
    ctx->L = L;
    ctx->alloc = alloc;
    ctx->env_ref = ctx->self_ref = LUA_NOREF;
    ctx->instruction_limit =
        lua_api->option_integer(m, host, "lua_instruction_limit");
    ctx->iq_timeout = lua_api->option_number(m, host, "lua_iq_timeout");
    if (ctx->iq_timeout <= 0)
        ctx->iq_timeout = MODLUA_DEFAULT_IQ_TIMEOUT;
    ctx->unsafe = named_in(ctx, "lua_unsafe_modules", script->name);
    lua_ctx **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = ctx;
    ctx->box = box;
    ctx->box_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return ctx;
}

/* Everything the instance holds goes; pending callbacks find it dead. */
static void ctx_teardown(lua_ctx *ctx)
{
    lua_State *L = ctx->L;
    ctx->dead = 1;
    task_cancel_all(ctx);
    lmodule_release(ctx);
    timerlib_release(ctx);
    luaL_unref(L, LUA_REGISTRYINDEX, ctx->env_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, ctx->self_ref);
    *ctx->box = NULL; /* closures the script kept now raise */
    luaL_unref(L, LUA_REGISTRYINDEX, ctx->box_ref);
    if (L != sandbox_shared)
        sandbox_close_state(L, ctx->alloc);
    else
        lua_gc(L, LUA_GCCOLLECT);
    free(ctx);
}

/* ---- save and restore across a reload ---- */

static void push_stash_key(lua_State *L, lua_ctx *ctx)
{
    lua_pushfstring(L, "%s\n%s", ctx->script->name,
                    lua_api->host_name(ctx->host));
}

static void stash_save(lua_ctx *ctx)
{
    int ref;
    if (!ctx->script->reloading ||
        lmodule_lifecycle(ctx, "save", LUA_NOREF, &ref) != 0 || ref == LUA_NOREF)
        return;
    lua_State *L = ctx->L;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &stash_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &stash_key);
    }
    push_stash_key(L, ctx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
}

static int stash_restore(lua_ctx *ctx)
{
    lua_State *L = ctx->L;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &stash_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    push_stash_key(L, ctx);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 2);
        return 0;
    }
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    push_stash_key(L, ctx);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    int rc = lmodule_lifecycle(ctx, "restore", ref, NULL);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return rc;
}

/* ---- a module on a host ---- */

static int run_top_level(lua_ctx *ctx)
{
    lua_task *t = task_new(ctx, 0);
    if (t == NULL)
        return -1;
    char chunkname[512];
    snprintf(chunkname, sizeof chunkname, "@%s", ctx->script->path);
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, ctx->env_ref);
    if (sandbox_load(t->co, ctx->script->source, ctx->script->source_len,
                     chunkname, -1) != LUA_OK) {
        ctx_log(ctx, MYNAH_LOG_ERROR, "cannot load: %s", lua_tostring(t->co, -1));
        task_free(t);
        return -1;
    }
    lua_remove(t->co, -2);
    int status = task_run(t, 0);
    if (status != LUA_OK) {
        ctx_log(ctx, MYNAH_LOG_ERROR, "failed to load: %s",
                task_error_message(t));
        task_free(t);
        return -1;
    }
    task_free(t);
    return 0;
}

static int module_start(lua_ctx *ctx)
{
    lua_State *L = ctx->L;
    sandbox_push_env(L, ctx, ctx->unsafe);
    int env = lua_gettop(L);
    lmodule_push(L, ctx, 0);
    lua_pushvalue(L, -1);
    ctx->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, env, "module");
    ctx->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (run_top_level(ctx) != 0 ||
        lmodule_lifecycle(ctx, "load", LUA_NOREF, NULL) != 0)
        return -1;
    stash_restore(ctx);
    return 0;
}

static int script_init(mynah_module *m, const mynah_api *api)
{
    (void)m;
    (void)api;
    return 0;
}

/* The script a module handle stands for. */
static lua_script *script_of(const mynah_module *m)
{
    for (lua_script *s = scripts; s; s = s->next)
        if (s->module == m)
            return s;
    return NULL;
}

static int script_add_host(mynah_module *m, mynah_host *host)
{
    lua_script *s = script_of(m);
    if (s == NULL)
        return -1;
    /* A reload that failed puts the running version back: it is not
     * being replaced any more. */
    s->reloading = 0;
    lua_State *L = sandbox_shared;
    sandbox_alloc *alloc = NULL;
    if (s->is_bot) {
        long long limit = lua_api->option_integer(m, host, "lua_bot_memory_limit");
        L = sandbox_new_state(limit > 0 ? (size_t)limit : 0, &alloc);
        if (L == NULL) {
            lua_api->log(m, MYNAH_LOG_ERROR, "no memory for the bot's Lua state");
            return -1;
        }
    }
    lua_ctx *ctx = ctx_new(s, m, host, L, alloc);
    if (ctx == NULL) {
        if (L != sandbox_shared)
            sandbox_close_state(L, alloc);
        return -1;
    }
    lua_api->host_set_data(m, host, ctx);
    int rc = s->is_bot ? bot_start(ctx) : module_start(ctx);
    if (rc != 0) {
        if (s->is_bot)
            bot_stop(ctx);
        ctx_teardown(ctx);
        lua_api->host_set_data(m, host, NULL);
        return -1;
    }
    return 0;
}

static void script_remove_host(mynah_module *m, mynah_host *host)
{
    lua_ctx *ctx = lua_api->host_get_data(m, host);
    if (ctx == NULL)
        return;
    if (ctx->script->is_bot) {
        bot_stop(ctx);
    } else {
        stash_save(ctx);
        lmodule_lifecycle(ctx, "unload", LUA_NOREF, NULL);
    }
    ctx_teardown(ctx);
    lua_api->host_set_data(m, host, NULL);
}

static void script_fini(mynah_module *m)
{
    (void)m;
}

void modlua_fill_descriptor(mynah_module_descriptor *desc);
void modlua_fill_descriptor(mynah_module_descriptor *desc)
{
    desc->magic = MYNAH_MODULE_MAGIC;
    desc->abi_major = MYNAH_ABI_MAJOR;
    desc->abi_minor = MYNAH_ABI_MINOR;
    desc->struct_size = sizeof(mynah_module_descriptor);
    desc->init = script_init;
    desc->add_host = script_add_host;
    desc->remove_host = script_remove_host;
    desc->fini = script_fini;
}

/* ---- the "lua-loader" API ---- */

static const mynah_module_descriptor *
loader_open(const char *name, const char *path, int is_bot,
            const mynah_module_descriptor *previous, char **error)
{
    if (sandbox_shared == NULL) {
        *error = strdup("mod_lua is not initialised");
        return NULL;
    }
    lua_script *s = script_open(name, path, is_bot, error);
    if (s == NULL)
        return NULL;
    if (previous != NULL)
        ((lua_script *)previous)->reloading = 1;
    s->next = scripts;
    scripts = s;
    return &s->desc;
}

static void loader_close(const mynah_module_descriptor *desc)
{
    lua_script *s = (lua_script *)desc;
    for (lua_script **link = &scripts; *link; link = &(*link)->next)
        if (*link == s) {
            *link = s->next;
            break;
        }
    /* A new version closed while the old one runs: the reload failed. */
    for (lua_script *other = scripts; other; other = other->next)
        if (strcmp(other->name, s->name) == 0)
            other->reloading = 0;
    script_free(s);
}

static void loader_attach(const mynah_module_descriptor *desc,
                          mynah_module *module)
{
    ((lua_script *)desc)->module = module;
}

static const lua_loader_api loader = {loader_open, loader_attach, loader_close};

/* ---- mod_lua itself ---- */

static int modlua_init(mynah_module *m, const mynah_api *api)
{
    lua_api = api;
    lua_self = m;
    sandbox_shared = sandbox_new_state(0, NULL);
    if (sandbox_shared == NULL) {
        api->log(m, MYNAH_LOG_ERROR, "cannot create a Lua state");
        return -1;
    }
    if (api->export_api(m, LUA_LOADER_API, LUA_LOADER_VERSION, &loader) != 0) {
        sandbox_close_state(sandbox_shared, NULL);
        sandbox_shared = NULL;
        return -1;
    }
    return 0;
}

static void modlua_fini(mynah_module *m)
{
    (void)m;
    /* The Lua modules were closed first (each holds a use of our API). */
    while (scripts != NULL) {
        lua_script *s = scripts;
        scripts = s->next;
        script_free(s);
    }
    sandbox_close_state(sandbox_shared, NULL);
    sandbox_shared = NULL;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "lua",
    .version = "1.0",
    .options = modlua_options,
    .init = modlua_init,
    .fini = modlua_fini,
};
