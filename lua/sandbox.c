/*
 * Lua states and the sandbox scripts run in.
 *
 * Lua modules are trusted code written for this server: they share one
 * state (cheap, and a module may hand Lua values to another), each in its
 * own _ENV over a curated base.  Bots get a state of their own whose
 * allocator enforces lua_bot_memory_limit.
 *
 * The curated base has what a module needs to compute and nothing that
 * reaches outside the server: no io, no os.execute/os.exit/os.getenv, no
 * package.loadlib, no debug, no dofile/loadfile, and `load` accepts text
 * only (bytecode can break the VM's invariants) and defaults to the
 * caller's own _ENV.  `require` knows the mynah libraries and the standard
 * ones the base already has.  A module named in lua_unsafe_modules gets the
 * state's real globals instead (its _ENV falls back to them).
 */
#include "mod_lua.h"

#include <stdlib.h>
#include <string.h>

lua_State *sandbox_shared;

struct sandbox_alloc {
    size_t used;
    size_t limit;
    int enforce;   /* > 0 while the state's own code runs */
    int suspended; /* > 0 while mod_lua works on it outside a protected call */
};

/* Registry keys. */
static char safe_base_key;
static char libs_key;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sandbox_alloc *a = ud;
    size_t old = ptr != NULL ? osize : 0; /* osize is a type tag when ptr is NULL */
    if (nsize == 0) {
        free(ptr);
        a->used -= old;
        return NULL;
    }
    if (a->enforce > 0 && a->suspended == 0 && nsize > old &&
        a->used + (nsize - old) > a->limit)
        return NULL; /* Lua raises "not enough memory" in the bot's code */
    void *p = realloc(ptr, nsize);
    if (p != NULL)
        a->used = a->used - old + nsize;
    return p;
}

void sandbox_alloc_enforce(sandbox_alloc *alloc, int on)
{
    if (alloc != NULL)
        alloc->enforce += on ? 1 : -1;
}

void sandbox_alloc_suspend(sandbox_alloc *alloc, int on)
{
    if (alloc != NULL)
        alloc->suspended += on ? 1 : -1;
}

int sandbox_alloc_active(const sandbox_alloc *alloc)
{
    return alloc != NULL && alloc->enforce > 0;
}


/* ---- the curated base ---- */

/* Copies the named fields of table `from` (at index) into a new table. */
static void push_subset(lua_State *L, int from, const char *const *names)
{
    from = lua_absindex(L, from);
    lua_newtable(L);
    for (; *names != NULL; names++) {
        lua_getfield(L, from, *names);
        lua_setfield(L, -2, *names);
    }
}

/* Copies every field of table `from` but those named in `except`. */
static void push_copy_except(lua_State *L, int from, const char *except)
{
    from = lua_absindex(L, from);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, from) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && except != NULL &&
            strcmp(lua_tostring(L, -2), except) == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
}

/* collectgarbage("count") only: the others let a script stall the loop
 * or change how the whole state collects. */
static int safe_collectgarbage(lua_State *L)
{
    const char *what = luaL_optstring(L, 1, "count");
    if (strcmp(what, "count") != 0)
        return luaL_error(L, "collectgarbage(\"%s\") is not allowed here; "
                          "only \"count\" is", what);
    lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
                          (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
    return 1;
}

/* require: the mynah libraries, and the standard ones the script's own
 * environment (upvalue 1) has. */
static int safe_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &libs_key);
    if (lua_getfield(L, -1, name) != LUA_TNIL)
        return 1;
    static const char *const standard[] = {"string", "table", "math", "utf8",
                                           "coroutine", "os", NULL};
    for (const char *const *lib = standard; *lib; lib++)
        if (strcmp(name, *lib) == 0) {
            lua_getfield(L, lua_upvalueindex(1), name);
            return 1;
        }
    return luaL_error(L, "module '%s' is not available to this script "
                      "(mynah.stanza, mynah.jid, mynah.serialize and the "
                      "standard string, table, math, utf8, coroutine and os "
                      "subsets are)", name);
}

static void build_safe_base(lua_State *L)
{
    static const char *const globals[] = {
        "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal",
        "rawget", "rawlen", "rawset", "select", "setmetatable",
        "getmetatable", "tonumber", "tostring", "type", "xpcall", "_VERSION",
        NULL};
    static const char *const os_safe[] = {"time", "clock", "date", "difftime",
                                          NULL};
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    push_subset(L, g, globals);
    int base = lua_gettop(L);

    lua_getfield(L, g, "string");
    push_copy_except(L, -1, "dump");
    lua_setfield(L, base, "string");
    lua_pop(L, 1);
    static const char *const plain[] = {"table", "math", "utf8", "coroutine",
                                        NULL};
    for (const char *const *lib = plain; *lib; lib++) {
        lua_getfield(L, g, *lib);
        push_copy_except(L, -1, NULL);
        lua_setfield(L, base, *lib);
        lua_pop(L, 1);
    }
    lua_getfield(L, g, "os");
    push_subset(L, -1, os_safe);
    lua_setfield(L, base, "os");
    lua_pop(L, 1);

    lua_pushcfunction(L, safe_collectgarbage);
    lua_setfield(L, base, "collectgarbage");
    lua_pushvalue(L, base);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &safe_base_key);
    lua_settop(L, g - 1);
}

/* The mynah libraries, for the safe require and the real one alike. */
static void register_libraries(lua_State *L)
{
    static const struct {
        const char *name;
        lua_CFunction open;
    } libs[] = {{"mynah.stanza", luaopen_mynah_stanza},
                {"mynah.jid", luaopen_mynah_jid},
                {"mynah.serialize", luaopen_mynah_serialize}};
    lua_newtable(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        luaL_requiref(L, libs[i].name, libs[i].open, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, libs[i].name);
        lua_setfield(L, -2, libs[i].name); /* package.loaded */
    }
    lua_pop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &libs_key);
}

/* Scripts may not reach the string metatable: through it they could
 * change the string methods of every script sharing the state. */
static void protect_string_metatable(lua_State *L)
{
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int open_everything(lua_State *L)
{
    luaL_openlibs(L);
    register_libraries(L);
    build_safe_base(L);
    protect_string_metatable(L);
    return 0;
}

lua_State *sandbox_new_state(size_t limit, sandbox_alloc **alloc_out)
{
    sandbox_alloc *alloc = NULL;
    lua_State *L;
    if (limit > 0) {
        alloc = calloc(1, sizeof *alloc);
        if (alloc == NULL)
            return NULL;
        alloc->limit = limit;
        L = lua_newstate(capped_alloc, alloc);
    } else {
        L = luaL_newstate();
    }
    if (L == NULL) {
        free(alloc);
        return NULL;
    }
    /* The libraries count against the cap too. */
    sandbox_alloc_enforce(alloc, 1);
    lua_pushcfunction(L, open_everything);
    int status = lua_pcall(L, 0, 0, 0);
    sandbox_alloc_enforce(alloc, 0);
    if (status != LUA_OK) {
        lua_close(L);
        free(alloc);
        return NULL;
    }
    if (alloc_out != NULL)
        *alloc_out = alloc;
    return L;
}

void sandbox_close_state(lua_State *L, sandbox_alloc *alloc)
{
    if (L == NULL)
        return;
    task_pool_clear(L);
    lua_close(L);
    free(alloc);
}

/* ---- per-script environments ---- */

/* print(...): a line in the server log, at info, with the module's name. */
static int env_print(lua_State *L)
{
    lua_ctx *ctx = ctx_check(L);
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_addvalue(&b);
        (void)s;
    }
    luaL_pushresult(&b);
    ctx_log(ctx, MYNAH_LOG_INFO, "%s", lua_tostring(L, -1));
    return 0;
}

/* load(chunk [, name [, mode [, env]]]): text only; without env, the
 * caller's own _ENV (never the state's real globals). */
static int env_load(lua_State *L)
{
    int nargs = lua_gettop(L);
    const char *mode = luaL_optstring(L, 3, "t");
    if (strchr(mode, 'b') != NULL && strchr(mode, 't') == NULL)
        return luaL_error(L, "load: binary chunks are not allowed here");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "_G");
    lua_getfield(L, -1, "load");
    lua_pushvalue(L, 1);
    if (nargs >= 2)
        lua_pushvalue(L, 2);
    else
        lua_pushnil(L);
    lua_pushliteral(L, "t");
    if (nargs >= 4)
        lua_pushvalue(L, 4);
    else
        lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 4, 2);
    return 2;
}

/*
 * The base's functions are shared (a script cannot change a function),
 * its library tables are copied into each environment, and the
 * environment's metatable is out of reach: a script changing `string` or
 * `table` changes its own copy, never another script's.
 */
void sandbox_push_env(lua_State *L, lua_ctx *ctx, int unsafe)
{
    lua_newtable(L);
    int env = lua_gettop(L);
    lua_newtable(L); /* its metatable */
    if (unsafe)
        lua_pushglobaltable(L);
    else
        lua_rawgetp(L, LUA_REGISTRYINDEX, &safe_base_key);
    int base = lua_gettop(L);
    lua_pushvalue(L, base);
    lua_setfield(L, -3, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -3, "__metatable");
    if (!unsafe) {
        lua_pushnil(L);
        while (lua_next(L, base) != 0) {
            if (lua_istable(L, -1)) {
                push_copy_except(L, -1, NULL);
                lua_pushvalue(L, -3);
                lua_insert(L, -2);
                lua_rawset(L, env);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_setmetatable(L, env);

    ctx_push_closure(L, ctx, env_print);
    lua_setfield(L, env, "print");
    if (!unsafe) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->box_ref);
        lua_pushvalue(L, env);
        lua_pushcclosure(L, env_load, 2);
        lua_setfield(L, env, "load");
        lua_pushvalue(L, env);
        lua_pushcclosure(L, safe_require, 1);
        lua_setfield(L, env, "require");
    }
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
}

int sandbox_load(lua_State *L, const char *source, size_t len,
                 const char *chunkname, int env)
{
    env = lua_absindex(L, env);
    /* A leading #! line is a comment, as for the lua interpreter. */
    if (len >= 2 && source[0] == '#' && source[1] == '!') {
        const char *nl = memchr(source, '\n', len);
        size_t skip = nl ? (size_t)(nl - source) : len;
        source += skip;
        len -= skip;
    }
    int status = luaL_loadbufferx(L, source, len, chunkname, "t");
    if (status != LUA_OK)
        return status;
    lua_pushvalue(L, env);
    lua_setupvalue(L, -2, 1); /* its _ENV */
    return LUA_OK;
}
