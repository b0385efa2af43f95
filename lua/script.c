/*
 * Opening a script: reading the file and learning what the module
 * declares, so that the loader gets a descriptor as complete as a C
 * module's (name, version, dependencies, option schema) before anything
 * runs for real.  That is what lets `mynahctl check` and the config
 * checker validate a Lua module's options, and refuse a broken file with
 * its file and line.
 *
 * A module's top level runs once here with a declaring `module` (see
 * api_module.c); a bot's file runs once in a throwaway state and its
 * returned table is read (version, options).
 *
 * Option specs, in module:options{...} or a bot's `options` field:
 *     name = "type"                    -- the type alone
 *     name = { type = "integer", default = 10, min = 1, max = 100,
 *              doc = "one line", reloadable = true }
 * Types: string, integer, number, boolean, array (of strings), set (an
 * array read as a set), any.
 */
#include "mod_lua.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT_MAX_SIZE (4 * 1024 * 1024)

/* ---- option declarations ---- */

static const struct {
    const char *name;
    enum mynah_option_type type;
} type_names[] = {{"string", MYNAH_OPTION_STRING},
                  {"integer", MYNAH_OPTION_INTEGER},
                  {"number", MYNAH_OPTION_NUMBER},
                  {"boolean", MYNAH_OPTION_BOOLEAN},
                  {"array", MYNAH_OPTION_ARRAY},
                  {"set", MYNAH_OPTION_ARRAY},
                  {"any", MYNAH_OPTION_ANY}};

static mynah_option_spec *find_declared(lua_script *s, const char *name)
{
    for (size_t i = 0; i < s->declared_count; i++)
        if (strcmp(s->options[i].name, name) == 0)
            return &s->options[i];
    return NULL;
}

int script_option_type(const lua_script *script, const char *name)
{
    for (size_t i = 0; i < script->declared_count; i++)
        if (strcmp(script->options[i].name, name) == 0)
            return (int)script->options[i].type;
    return 0;
}

/* The options array is the declared ones then mod_lua's, NULL-ended; it
 * is rebuilt whenever a declaration is added. */
static int rebuild_options(lua_script *s, const mynah_option_spec *added)
{
    size_t total = s->declared_count + (added ? 1 : 0) + MODLUA_OPTION_COUNT + 1;
    mynah_option_spec *grown = realloc(s->options, total * sizeof *grown);
    if (grown == NULL)
        return -1;
    s->options = grown;
    if (added != NULL)
        s->options[s->declared_count++] = *added;
    for (size_t i = 0; i <= MODLUA_OPTION_COUNT; i++)
        s->options[s->declared_count + i] = modlua_options[i];
    s->desc.options = s->options;
    return 0;
}

/* A Lua string as the config would write it: "..." with \\ \" \n \t. */
static void add_quoted(luaL_Buffer *b, const char *s)
{
    luaL_addchar(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            luaL_addchar(b, '\\');
            luaL_addchar(b, *s);
        } else if (*s == '\n') {
            luaL_addstring(b, "\\n");
        } else if (*s == '\t') {
            luaL_addstring(b, "\\t");
        } else {
            luaL_addchar(b, *s);
        }
    }
    luaL_addchar(b, '"');
}

/* The default at index written as the config would (NULL when nil);
 * raises when it does not match the type. */
static char *render_default(lua_State *L, int index, enum mynah_option_type type,
                            const char *name)
{
    index = lua_absindex(L, index);
    if (lua_isnoneornil(L, index))
        return NULL;
    luaL_Buffer b;
    switch (type) {
    case MYNAH_OPTION_STRING:
        if (lua_type(L, index) != LUA_TSTRING)
            luaL_error(L, "option '%s': the default must be a string", name);
        luaL_buffinit(L, &b);
        add_quoted(&b, lua_tostring(L, index));
        luaL_pushresult(&b);
        break;
    case MYNAH_OPTION_INTEGER:
    case MYNAH_OPTION_NUMBER:
        if (lua_type(L, index) != LUA_TNUMBER ||
            (type == MYNAH_OPTION_INTEGER && !lua_isinteger(L, index) &&
             lua_tonumber(L, index) != (lua_Number)(lua_Integer)lua_tonumber(L, index)))
            luaL_error(L, "option '%s': the default must be %s", name,
                       type == MYNAH_OPTION_INTEGER ? "an integer" : "a number");
        if (lua_isinteger(L, index))
            lua_pushfstring(L, "%I", (lua_Integer)lua_tointeger(L, index));
        else
            lua_pushfstring(L, "%f", lua_tonumber(L, index));
        break;
    case MYNAH_OPTION_BOOLEAN:
        if (lua_type(L, index) != LUA_TBOOLEAN)
            luaL_error(L, "option '%s': the default must be a boolean", name);
        lua_pushstring(L, lua_toboolean(L, index) ? "true" : "false");
        break;
    case MYNAH_OPTION_ARRAY: {
        if (lua_type(L, index) != LUA_TTABLE)
            luaL_error(L, "option '%s': the default must be a list of strings",
                       name);
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "{ ");
        lua_Integer n = (lua_Integer)lua_rawlen(L, index);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, index, i);
            const char *item = lua_tostring(L, -1);
            int is_string = lua_type(L, -1) == LUA_TSTRING;
            lua_pop(L, 1); /* the table keeps the string */
            if (!is_string)
                luaL_error(L, "option '%s': the default must be a list of "
                           "strings", name);
            if (i > 1)
                luaL_addstring(&b, ", ");
            add_quoted(&b, item);
        }
        luaL_addstring(&b, " }");
        luaL_pushresult(&b);
        break;
    }
    default:
        return NULL; /* "any": no default in the schema */
    }
    char *text = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (text == NULL)
        luaL_error(L, "out of memory");
    return text;
}

static void declare(lua_State *L, lua_script *s, const char *name,
                    enum mynah_option_type type, int default_index,
                    double min, double max, const char *doc, int reloadable)
{
    if (find_declared(s, name) != NULL)
        return; /* the first declaration wins */
    mynah_option_spec spec = {0};
    spec.type = type;
    spec.min = min;
    spec.max = max;
    spec.reloadable = reloadable;
    spec.default_value = render_default(L, default_index, type, name);
    spec.name = strdup(name);
    spec.doc = strdup(doc ? doc : "declared by a Lua module");
    if (spec.name == NULL || spec.doc == NULL ||
        rebuild_options(s, &spec) < 0) {
        free((char *)spec.name);
        free((char *)spec.doc);
        free((char *)spec.default_value);
        luaL_error(L, "out of memory");
    }
}

static enum mynah_option_type parse_type(lua_State *L, const char *option,
                                         const char *type)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (strcmp(type_names[i].name, type) == 0)
            return type_names[i].type;
    luaL_error(L, "option '%s': unknown type '%s' (string, integer, number, "
               "boolean, array, set or any)", option, type);
    return MYNAH_OPTION_ANY;
}

void script_declare_options(lua_State *L, int index, lua_script *script)
{
    index = lua_absindex(L, index);
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "options are declared as name = spec");
        const char *name = lua_tostring(L, -2);
        int spec = lua_gettop(L);
        if (lua_type(L, spec) == LUA_TSTRING) {
            declare(L, script, name, parse_type(L, name, lua_tostring(L, spec)),
                    0, 0, 0, NULL, 1);
            lua_pop(L, 1);
            continue;
        }
        if (lua_type(L, spec) != LUA_TTABLE)
            luaL_error(L, "option '%s': the spec must be a type name or a "
                       "table { type = ..., default = ... }", name);
        lua_getfield(L, spec, "type");
        const char *type = lua_tostring(L, -1);
        if (type == NULL)
            luaL_error(L, "option '%s' needs a type", name);
        enum mynah_option_type t = parse_type(L, name, type);
        lua_getfield(L, spec, "default");
        int def = lua_gettop(L);
        lua_getfield(L, spec, "min");
        lua_getfield(L, spec, "max");
        lua_getfield(L, spec, "doc");
        lua_getfield(L, spec, "reloadable");
        int reloadable = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
        declare(L, script, name, t, def, luaL_optnumber(L, def + 1, 0),
                luaL_optnumber(L, def + 2, 0), luaL_optstring(L, def + 3, NULL),
                reloadable);
        lua_settop(L, spec - 1);
    }
}

void script_declare_read(lua_State *L, lua_script *script, const char *name,
                         enum mynah_option_type type, int def)
{
    /* get_option_set reads an array */
    enum mynah_option_type declared = type == MYNAH_OPTION_TABLE
                                          ? MYNAH_OPTION_ARRAY
                                          : type;
    declare(L, script, name, declared, def, 0, 0, NULL, 1);
}

/* ---- reading the file ---- */

static char *read_file(const char *path, size_t *len, char **error)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (asprintf(error, "cannot read %s: %s", path, strerror(errno)) < 0)
            *error = NULL;
        return NULL;
    }
    char *data = malloc(SCRIPT_MAX_SIZE + 1);
    size_t n = data ? fread(data, 1, SCRIPT_MAX_SIZE + 1, f) : 0;
    int failed = data == NULL || ferror(f);
    fclose(f);
    if (failed || n > SCRIPT_MAX_SIZE) {
        free(data);
        if (asprintf(error, "cannot read %s: %s", path,
                     failed ? "read error" : "larger than 4 MiB") < 0)
            *error = NULL;
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

/* ---- the declaration pass ---- */

/* A throwaway ctx for the pass: mod_lua's own options and logging. */
static void pass_ctx(lua_ctx *ctx, lua_script *script, lua_State *L)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->script = script;
    ctx->module = lua_self;
    ctx->L = L;
    ctx->env_ref = ctx->self_ref = LUA_NOREF;
    ctx->instruction_limit =
        lua_api->option_integer(lua_self, NULL, "lua_instruction_limit");
    lua_ctx **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = ctx;
    ctx->box = box;
    ctx->box_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void pass_ctx_end(lua_ctx *ctx)
{
    *ctx->box = NULL;
    luaL_unref(ctx->L, LUA_REGISTRYINDEX, ctx->box_ref);
}

static int named_unsafe(const char *name)
{
    size_t n = lua_api->option_array_length(lua_self, NULL, "lua_unsafe_modules");
    for (size_t i = 0; i < n; i++) {
        const char *item = lua_api->option_array_item(lua_self, NULL,
                                                      "lua_unsafe_modules", i);
        if (item != NULL && strcmp(item, name) == 0)
            return 1;
    }
    return 0;
}

static char *failure(lua_script *s, const char *what, const char *detail)
{
    char *error = NULL;
    if (asprintf(&error, "%s '%s' (%s) %s: %s", s->is_bot ? "bot" : "module",
                 s->name, s->path, what, detail) < 0)
        error = NULL;
    return error;
}

/* Runs the file in task t (its function on t->co); for a bot, reads the
 * returned table.  NULL, or the error. */
static char *run_declarations(lua_task *t, lua_script *s)
{
    int status = task_run(t, 0);
    lua_State *co = t->co;
    if (status != LUA_OK) {
        if (lua_touserdata(co, -1) == &lmodule_declaration_done)
            return NULL;
        return failure(s, "failed while reading its declarations",
                       task_error_message(t));
    }
    if (!s->is_bot)
        return NULL;
    if (t->nresults < 1 || !lua_istable(co, -t->nresults))
        return failure(s, "is not a bot", "the file must return a table of "
                       "handlers ({ on_message = function(bot, stanza) ... })");
    int bot = lua_absindex(co, -t->nresults);
    if (lua_getfield(co, bot, "version") == LUA_TSTRING) {
        free(s->version);
        s->version = strdup(lua_tostring(co, -1));
        s->desc.version = s->version;
    }
    lua_pop(co, 1);
    return NULL;
}

/* script_declare_options raises; bots' options are declared in a
 * protected call. */
static int declare_bot_options(lua_State *L)
{
    lua_script *s = lua_touserdata(L, 2);
    script_declare_options(L, 1, s);
    return 0;
}

static char *declaration_pass(lua_script *s)
{
    sandbox_alloc *alloc = NULL;
    lua_State *L = sandbox_shared;
    if (s->is_bot) {
        L = sandbox_new_state(
            (size_t)lua_api->option_integer(lua_self, NULL, "lua_bot_memory_limit"),
            &alloc);
        if (L == NULL)
            return failure(s, "could not be read", "out of memory");
    }
    lua_ctx ctx;
    pass_ctx(&ctx, s, L);
    ctx.alloc = alloc;
    char *error = NULL;
    int module_ref = LUA_NOREF;
    lua_task *t = task_new(&ctx, 0);
    if (t == NULL) {
        error = failure(s, "could not be read", "out of memory");
        goto done;
    }
    sandbox_push_env(t->co, &ctx, named_unsafe(s->name));
    if (!s->is_bot) {
        lmodule_push(t->co, &ctx, 1);
        lua_pushvalue(t->co, -1);
        module_ref = luaL_ref(t->co, LUA_REGISTRYINDEX);
        lua_setfield(t->co, -2, "module");
    }
    char chunkname[512];
    snprintf(chunkname, sizeof chunkname, "@%s", s->path);
    if (sandbox_load(t->co, s->source, s->source_len, chunkname, -1) != LUA_OK) {
        error = failure(s, "has a syntax error", lua_tostring(t->co, -1));
        goto done;
    }
    lua_remove(t->co, -2); /* the env */
    error = run_declarations(t, s);
    if (error == NULL && !s->is_bot) {
        /* module.version = "..." at the top */
        lua_rawgeti(L, LUA_REGISTRYINDEX, module_ref);
        lua_pushliteral(L, "version");
        if (lua_rawget(L, -2) == LUA_TSTRING) {
            char *version = strdup(lua_tostring(L, -1));
            if (version != NULL) {
                free(s->version);
                s->version = version;
                s->desc.version = version;
            }
        }
        lua_pop(L, 2);
    }
    if (error == NULL && s->is_bot && t->nresults >= 1) {
        lua_State *co = t->co;
        int bot = lua_absindex(co, -t->nresults);
        if (lua_getfield(co, bot, "options") == LUA_TTABLE) {
            lua_pushcfunction(co, declare_bot_options);
            lua_insert(co, -2);
            lua_pushlightuserdata(co, s);
            if (lua_pcall(co, 2, 0, 0) != LUA_OK)
                error = failure(s, "declares bad options", lua_tostring(co, -1));
        } else {
            lua_pop(co, 1);
        }
    }
done:
    luaL_unref(L, LUA_REGISTRYINDEX, module_ref);
    task_free(t);
    pass_ctx_end(&ctx);
    if (s->is_bot)
        sandbox_close_state(L, alloc);
    else
        lua_gc(L, LUA_GCCOLLECT);
    return error;
}

/* ---- descriptors ---- */

void script_free(lua_script *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->declared_count; i++) {
        free((char *)s->options[i].name);
        free((char *)s->options[i].default_value);
        free((char *)s->options[i].doc);
    }
    free(s->options);
    for (size_t i = 0; s->depends && s->depends[i]; i++)
        free(s->depends[i]);
    free(s->depends);
    free(s->name);
    free(s->path);
    free(s->version);
    free(s->source);
    free(s);
}

/* The callbacks every Lua module's descriptor points at (mod_lua.c). */
void modlua_fill_descriptor(mynah_module_descriptor *desc);

lua_script *script_open(const char *name, const char *path, int is_bot,
                        char **error)
{
    *error = NULL;
    lua_script *s = calloc(1, sizeof *s);
    if (s == NULL || (s->name = strdup(name)) == NULL ||
        (s->path = strdup(path)) == NULL || (s->version = strdup("lua")) == NULL) {
        script_free(s);
        *error = strdup("out of memory");
        return NULL;
    }
    s->is_bot = is_bot;
    s->source = read_file(path, &s->source_len, error);
    if (s->source == NULL) {
        script_free(s);
        return NULL;
    }
    modlua_fill_descriptor(&s->desc);
    s->desc.name = s->name;
    s->desc.version = s->version;
    if (rebuild_options(s, NULL) < 0) {
        script_free(s);
        *error = strdup("out of memory");
        return NULL;
    }
    char *why = declaration_pass(s);
    if (why != NULL) {
        *error = why;
        script_free(s);
        return NULL;
    }
    return s;
}
