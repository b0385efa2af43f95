/*
 * The configuration file: Lua 5.4 in Prosody's syntax, evaluated in a
 * sandbox and turned into plain C data.
 *
 * How a load goes:
 *   1. A fresh Lua state with a capped allocator and an instruction budget
 *      (a count hook).  Only the string, table, math and base libraries are
 *      opened, and the chunk does not see them directly: its _ENV is an
 *      empty table whose metatable reads from an allow-list ("builtins")
 *      and turns every assignment into an option of the current section.
 *   2. Option values stay Lua values while the file runs (so an option can
 *      be read back and extended, as Prosody operators do); the C side
 *      records, per section, each option's name and where it was set.
 *   3. When the file has run, every value is converted into a config_value
 *      tree and the Lua state is closed.
 *
 * Error locations: every chunk is loaded under the name "=#N", N being the
 * index of its file in cfg->files.  Lua's own messages then start with
 * "#N:LINE:", which we rewrite to the real path; this avoids Lua's
 * truncation of long chunk names and lets us find the config frame of any
 * error from C.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Enough for any sane config and small enough that a runaway loop is
 * caught in well under a second. */
#define CONFIG_INSTRUCTION_BUDGET 10000000L
#define CONFIG_HOOK_INTERVAL 1000
#define CONFIG_MEMORY_LIMIT ((size_t)64 << 20)
#define CONFIG_MAX_FILE_SIZE ((size_t)16 << 20)
/* The top file is depth 0; Include may nest 16 files below it. */
#define CONFIG_MAX_INCLUDE_DEPTH 16
#define CONFIG_MAX_NESTING 8
#define CONFIG_MAX_ITEMS 10000
/* How far back from where Lua reports an assignment we look for the line
 * the statement starts on (a multi-line table), and how many bytes all
 * those looks may read in one load, so a huge generated file stays fast
 * (past that, Lua's own lines are used). */
#define CONFIG_STATEMENT_WINDOW 500
#define CONFIG_SCAN_BUDGET (64L << 20)

typedef struct config_option {
    char *name;
    config_value value; /* type 0 until the Lua value is converted */
} config_option;

typedef struct config_section {
    char *host;             /* NULL for the global section; lower-cased */
    int is_component;
    char *component_module; /* NULL for an external component */
    const char *file;
    int line;
    config_option *options; /* in the order they were first set */
    size_t option_count;
    size_t option_cap;
} config_section;

struct config {
    config_section *sections;
    size_t section_count;
    size_t section_cap;
    char **files; /* interned file names, indexed by chunk id */
    size_t file_count;
    size_t file_cap;
};

/* One file being evaluated: its real path (to refuse cycles) and its id. */
typedef struct config_include_frame {
    char realpath[PATH_MAX];
    size_t file_id;
} config_include_frame;

typedef struct config_loader {
    config *cfg;
    lua_State *L;
    const char *path; /* config_load: the file to read */
    const char *text; /* config_load_string: the text */
    size_t current;   /* the section assignments go to */
    size_t memory_used;
    long instructions;
    int budget_exhausted;
    int env_ref;      /* the chunks' _ENV */
    int builtins_ref; /* what _ENV reads besides options */
    int values_ref;   /* values[section + 1][name] = Lua value */
    int sources_ref;  /* sources[2 * id] = text, [2 * id + 1] = line starts */
    int sort_ref;     /* table.sort, out of the config's reach */
    long scan_budget; /* bytes statement-line lookups may still read */
    config_include_frame includes[CONFIG_MAX_INCLUDE_DEPTH + 1];
    size_t include_depth;
    char *error; /* a conversion error, malloc'd */
} config_loader;

/* ------------------------------------------------------------------ */
/* Plain C data                                                        */

static void config_value_clear(config_value *v)
{
    free(v->string);
    for (size_t i = 0; v->items != NULL && i < v->count; i++)
        config_value_clear(&v->items[i]);
    free(v->items);
    for (size_t i = 0; v->keys != NULL && i < v->count; i++)
        free(v->keys[i]);
    free(v->keys);
    memset(v, 0, sizeof(*v));
}

void config_free(config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t s = 0; s < cfg->section_count; s++) {
        config_section *sec = &cfg->sections[s];
        for (size_t i = 0; i < sec->option_count; i++) {
            free(sec->options[i].name);
            config_value_clear(&sec->options[i].value);
        }
        free(sec->options);
        free(sec->host);
        free(sec->component_module);
    }
    free(cfg->sections);
    for (size_t i = 0; i < cfg->file_count; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg);
}

/* Returns the id of a file name, adding it if new; -1 when out of memory. */
static long config_intern_file(config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->file_count; i++)
        if (strcmp(cfg->files[i], name) == 0)
            return (long)i;
    if (cfg->file_count == cfg->file_cap) {
        size_t cap = cfg->file_cap ? cfg->file_cap * 2 : 8;
        char **files = realloc(cfg->files, cap * sizeof(*files));
        if (files == NULL)
            return -1;
        cfg->files = files;
        cfg->file_cap = cap;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    cfg->files[cfg->file_count] = copy;
    return (long)cfg->file_count++;
}

/* Appends a section; returns its index or -1 when out of memory. */
static long config_add_section(config *cfg, const char *host, int component,
                               const char *file, int line)
{
    if (cfg->section_count == cfg->section_cap) {
        size_t cap = cfg->section_cap ? cfg->section_cap * 2 : 8;
        config_section *sections = realloc(cfg->sections, cap * sizeof(*sections));
        if (sections == NULL)
            return -1;
        cfg->sections = sections;
        cfg->section_cap = cap;
    }
    config_section *sec = &cfg->sections[cfg->section_count];
    memset(sec, 0, sizeof(*sec));
    if (host != NULL) {
        sec->host = strdup(host);
        if (sec->host == NULL)
            return -1;
        /* Domain names compare without regard to ASCII case. */
        for (char *p = sec->host; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    sec->is_component = component;
    sec->file = file;
    sec->line = line;
    return (long)cfg->section_count++;
}

static config_option *config_find_option(const config_section *sec,
                                         const char *name)
{
    for (size_t i = 0; i < sec->option_count; i++)
        if (strcmp(sec->options[i].name, name) == 0)
            return &sec->options[i];
    return NULL;
}

/* Records that name was set in sec at file:line.  -1 when out of memory. */
static int config_record_option(config_section *sec, const char *name,
                                const char *file, int line)
{
    config_option *opt = config_find_option(sec, name);
    if (opt == NULL) {
        if (sec->option_count == sec->option_cap) {
            size_t cap = sec->option_cap ? sec->option_cap * 2 : 8;
            config_option *options = realloc(sec->options, cap * sizeof(*options));
            if (options == NULL)
                return -1;
            sec->options = options;
            sec->option_cap = cap;
        }
        opt = &sec->options[sec->option_count];
        memset(opt, 0, sizeof(*opt));
        opt->name = strdup(name);
        if (opt->name == NULL)
            return -1;
        sec->option_count++;
    }
    /* The last assignment wins, and that is where errors should point. */
    opt->value.file = file;
    opt->value.line = line;
    return 0;
}

static void config_forget_option(config_section *sec, const char *name)
{
    config_option *opt = config_find_option(sec, name);
    if (opt == NULL)
        return;
    size_t index = (size_t)(opt - sec->options);
    free(opt->name);
    config_value_clear(&opt->value);
    memmove(opt, opt + 1, (sec->option_count - index - 1) * sizeof(*opt));
    sec->option_count--;
}

/* ------------------------------------------------------------------ */
/* The Lua state: allocator, budget, locations                         */

static config_loader *config_loader_of(lua_State *L)
{
    return *(config_loader **)lua_getextraspace(L);
}

static void *config_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    config_loader *loader = ud;
    size_t old = ptr != NULL ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        loader->memory_used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > CONFIG_MEMORY_LIMIT - loader->memory_used)
        return NULL; /* Lua collects garbage and retries, then fails */
    void *p = realloc(ptr, nsize);
    if (p == NULL)
        return NULL;
    loader->memory_used = loader->memory_used - old + nsize;
    return p;
}

/* The count hook: an endless loop becomes an error.  The message gets its
 * location from the error handler, which sees the looping frame. */
static void config_count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    config_loader *loader = config_loader_of(L);
    loader->instructions += CONFIG_HOOK_INTERVAL;
    if (loader->instructions > CONFIG_INSTRUCTION_BUDGET) {
        loader->budget_exhausted = 1;
        lua_pushfstring(L, "the configuration did not finish within %d "
                           "instructions (an endless loop?)",
                        (int)CONFIG_INSTRUCTION_BUDGET);
        lua_error(L);
    }
}

/* The file id of a chunk source "=#N", or -1 for anything else. */
static long config_chunk_id(const config_loader *loader, const char *source)
{
    if (source == NULL || source[0] != '=' || source[1] != '#' ||
        !isdigit((unsigned char)source[2]))
        return -1;
    char *end;
    errno = 0;
    unsigned long id = strtoul(source + 2, &end, 10);
    if (errno != 0 || *end != '\0' || id >= loader->cfg->file_count)
        return -1;
    return (long)id;
}

/* The innermost config-file frame at or above level: its file id and
 * current line.  0 when no config code is running (a C-only stack). */
static int config_where(lua_State *L, int level, long *file_id, int *line)
{
    config_loader *loader = config_loader_of(L);
    lua_Debug ar;
    for (; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar))
            continue;
        long id = config_chunk_id(loader, ar.source);
        if (id >= 0 && ar.currentline > 0) {
            *file_id = id;
            *line = ar.currentline;
            return 1;
        }
    }
    return 0;
}

/* If msg starts with Lua's "#N:" location, pushes it with the real file
 * name instead and returns 1; otherwise pushes nothing and returns 0. */
static int config_push_rewritten(lua_State *L, const char *msg)
{
    config_loader *loader = config_loader_of(L);
    if (msg[0] != '#' || !isdigit((unsigned char)msg[1]))
        return 0;
    char *end;
    errno = 0;
    unsigned long id = strtoul(msg + 1, &end, 10);
    if (errno != 0 || *end != ':' || !isdigit((unsigned char)end[1]) ||
        id >= loader->cfg->file_count)
        return 0;
    lua_pushfstring(L, "%s%s", loader->cfg->files[id], end);
    return 1;
}

/* The message handler of the top-level pcall: makes every error read
 * "FILE:LINE: message" while the failing frame is still on the stack. */
static int config_error_handler(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    const char *msg;
    if (lua_type(L, 1) == LUA_TSTRING)
        msg = lua_tostring(L, 1);
    else if (lua_isnil(L, 1))
        msg = "error (no message)";
    else
        msg = lua_pushfstring(L, "error (a %s value)", luaL_typename(L, 1));
    if (config_push_rewritten(L, msg))
        return 1;
    long id;
    int line;
    if (config_where(L, 1, &id, &line))
        lua_pushfstring(L, "%s:%d: %s", loader->cfg->files[id], line, msg);
    else
        lua_pushfstring(L, "%s: %s", loader->cfg->files[0], msg);
    return 1;
}

/* Where the running C function was called from in the config.  Raises an
 * error if there is no config frame (it cannot happen from config code). */
static size_t config_caller_at(lua_State *L, const char **file, int *line)
{
    config_loader *loader = config_loader_of(L);
    long id;
    if (!config_where(L, 1, &id, line))
        luaL_error(L, "called from outside the configuration");
    *file = loader->cfg->files[id];
    return (size_t)id;
}

static void config_caller(lua_State *L, const char **file, int *line)
{
    config_caller_at(L, file, line);
}

/* The caller's file id (for relative paths). */
static size_t config_caller_file_id(lua_State *L)
{
    long id;
    int line;
    if (!config_where(L, 1, &id, &line))
        return 0;
    return (size_t)id;
}

/* ------------------------------------------------------------------ */
/* Statement lines                                                     */

/*
 * Lua reports an assignment at the line where its expression ends, so
 *     ssl = {
 *         certificate = "...";
 *     }
 * would be reported on the closing brace.  Operators expect the line with
 * "ssl =", so we look back in the source for "NAME =" at the start of a
 * statement: a match counts only if the brackets from there to the end
 * of the reported line never close more than they open (which rules out a
 * nested key of the same name).  Strings and comments are skipped roughly;
 * when nothing fits, Lua's line stands.
 */
static int config_brackets_balanced(const char *p, const char *end,
                                    long *budget)
{
    int depth = 0;
    *budget -= (long)(end - p);
    while (p < end) {
        char c = *p++;
        if (c == '"' || c == '\'') {
            while (p < end && *p != c && *p != '\n') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                p++;
            }
            if (p < end && *p == c)
                p++;
        } else if (c == '-' && p < end && *p == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (c == '{' || c == '(' || c == '[') {
            depth++;
        } else if (c == '}' || c == ')' || c == ']') {
            if (--depth < 0)
                return 0;
        }
    }
    return 1;
}

static int config_is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Does line [start, stop) assign NAME, with brackets balanced from there
 * up to end? */
static int config_line_assigns(const char *start, const char *stop,
                               const char *name, size_t name_len,
                               const char *end, long *budget)
{
    for (const char *p = start; p + name_len <= stop; p++) {
        if (memcmp(p, name, name_len) != 0)
            continue;
        if (p > start && (config_is_name_char(p[-1]) || p[-1] == '.' ||
                          p[-1] == ':'))
            continue;
        const char *q = p + name_len;
        if (q < stop && config_is_name_char(*q))
            continue;
        while (q < stop && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= stop || *q != '=' || (q + 1 < stop && q[1] == '='))
            continue;
        if (config_brackets_balanced(q + 1, end, budget))
            return 1;
    }
    return 0;
}

static const char *config_line_end(const char *p, const char *limit)
{
    const char *nl = memchr(p, '\n', (size_t)(limit - p));
    return nl != NULL ? nl : limit;
}

/* Keeps a file's text and the offsets of its lines for
 * config_statement_line.  The text is on top of the stack. */
static void config_remember_source(lua_State *L, size_t file_id)
{
    config_loader *loader = config_loader_of(L);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    if (len > UINT32_MAX)
        return; /* lines are then Lua's own */
    size_t lines = 1;
    for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + len - p))); p++)
        lines++;
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->sources_ref);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, 2 * (lua_Integer)file_id);
    uint32_t *starts = lua_newuserdatauv(L, lines * sizeof(uint32_t), 0);
    starts[0] = 0;
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            starts[n++] = (uint32_t)(i + 1);
    lua_rawseti(L, -2, 2 * (lua_Integer)file_id + 1);
    lua_pop(L, 1);
}

static int config_statement_line(lua_State *L, size_t file_id,
                                 const char *name, int line)
{
    config_loader *loader = config_loader_of(L);
    int found = line;
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->sources_ref);
    lua_rawgeti(L, -1, 2 * (lua_Integer)file_id);
    lua_rawgeti(L, -2, 2 * (lua_Integer)file_id + 1);
    size_t len;
    const char *text = lua_tolstring(L, -2, &len);
    const uint32_t *starts = lua_touserdata(L, -1);
    size_t lines = starts != NULL ? lua_rawlen(L, -1) / sizeof(uint32_t) : 0;
    if (text != NULL && line >= 1 && (size_t)line <= lines) {
        const char *limit = text + len;
        const char *end = config_line_end(text + starts[line - 1], limit);
        size_t name_len = strlen(name);
        int lowest = line > CONFIG_STATEMENT_WINDOW ? line - CONFIG_STATEMENT_WINDOW : 1;
        for (int l = line; l >= lowest && loader->scan_budget > 0; l--) {
            const char *start = text + starts[l - 1];
            const char *stop = config_line_end(start, limit);
            loader->scan_budget -= (long)(stop - start) + 1;
            if (config_line_assigns(start, stop, name, name_len, end,
                                    &loader->scan_budget)) {
                found = l;
                break;
            }
        }
    }
    lua_pop(L, 3);
    return found;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */

/* Sets option `name` (at name_index) of section to the value at
 * value_index, set at file:line (nil unsets it). */
static void config_set_option(lua_State *L, size_t section, int name_index,
                              int value_index, const char *file, int line)
{
    config_loader *loader = config_loader_of(L);
    name_index = lua_absindex(L, name_index);
    value_index = lua_absindex(L, value_index);
    const char *name = lua_tostring(L, name_index);

    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->values_ref);
    lua_rawgeti(L, -1, (lua_Integer)section + 1);
    lua_pushvalue(L, name_index);
    lua_pushvalue(L, value_index);
    lua_rawset(L, -3);
    lua_pop(L, 2);

    config_section *sec = &loader->cfg->sections[section];
    if (lua_isnil(L, value_index))
        config_forget_option(sec, name);
    else if (config_record_option(sec, name, file, line) < 0)
        luaL_error(L, "out of memory");
}

static int config_is_builtin(lua_State *L, int name_index)
{
    config_loader *loader = config_loader_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->builtins_ref);
    lua_pushvalue(L, name_index);
    lua_rawget(L, -2);
    int builtin = !lua_isnil(L, -1);
    lua_pop(L, 2);
    return builtin;
}

/* Option names are Lua identifiers in practice; we only refuse what
 * could not be one at all. */
static const char *config_check_option_name(lua_State *L, int index)
{
    if (lua_type(L, index) != LUA_TSTRING)
        luaL_error(L, "option names must be strings, not %s",
                   luaL_typename(L, index));
    size_t len;
    const char *name = lua_tolstring(L, index, &len);
    if (len == 0 || strlen(name) != len)
        luaL_error(L, "invalid option name");
    if (config_is_builtin(L, index))
        luaL_error(L, "'%s' is part of the configuration language and "
                      "cannot be set", name);
    return name;
}

/* _ENV.__newindex: `name = value` sets an option of the current section. */
static int config_lua_newindex(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    const char *name = config_check_option_name(L, 2);
    const char *file;
    int line;
    size_t file_id = config_caller_at(L, &file, &line);
    line = config_statement_line(L, file_id, name, line);
    config_set_option(L, loader->current, 2, 3, file, line);
    return 0;
}

/* _ENV.__index: a builtin, else the option as set in the current section,
 * else in the global section, else nil (so `if x then` works). */
static int config_lua_index(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->builtins_ref);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
        return 1;
    lua_pop(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->values_ref);
    lua_rawgeti(L, -1, (lua_Integer)loader->current + 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
        return 1;
    lua_pop(L, 2);
    lua_rawgeti(L, -1, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

/* `VirtualHost "x" { a = 1 }`: sets the table's fields in the section, in
 * key order so that option order does not depend on hashing. */
static int config_lua_section_options(lua_State *L)
{
    size_t section = (size_t)lua_tointeger(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *file;
    int line;
    config_caller(L, &file, &line);

    lua_newtable(L); /* 2: the sorted names */
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        config_check_option_name(L, -1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, 2, ++n);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, config_loader_of(L)->sort_ref);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        lua_pushvalue(L, -1);
        lua_rawget(L, 1);
        config_set_option(L, section, -2, -1, file, line);
        lua_pop(L, 2);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */

static const char *config_check_host(lua_State *L, const char *what)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    if (len == 0 || len > 1023 || strlen(name) != len)
        luaL_error(L, "%s needs a domain name", what);
    for (const char *p = name; *p; p++)
        if (isspace((unsigned char)*p) || *p == '@' || *p == '/')
            luaL_error(L, "%s \"%s\": not a domain name", what, name);
    return name;
}

static long config_lookup_section(const config *cfg, const char *host)
{
    for (size_t s = 1; s < cfg->section_count; s++)
        if (strcasecmp(cfg->sections[s].host, host) == 0)
            return (long)s;
    return -1;
}

/* VirtualHost "example.org": later assignments go to that host.  A second
 * VirtualHost with the same name continues the section (as in Prosody). */
static int config_lua_virtualhost(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    config *cfg = loader->cfg;
    const char *name = config_check_host(L, "VirtualHost");
    const char *file;
    int line;
    config_caller(L, &file, &line);
    long s = config_lookup_section(cfg, name);
    if (s >= 0 && cfg->sections[s].is_component)
        luaL_error(L, "VirtualHost \"%s\" has the name of the Component "
                      "declared at %s:%d", name, cfg->sections[s].file,
                   cfg->sections[s].line);
    if (s < 0) {
        s = config_add_section(cfg, name, 0, file, line);
        if (s < 0)
            luaL_error(L, "out of memory");
        lua_rawgeti(L, LUA_REGISTRYINDEX, loader->values_ref);
        lua_newtable(L);
        lua_rawseti(L, -2, s + 1);
        lua_pop(L, 1);
    }
    loader->current = (size_t)s;
    lua_pushinteger(L, s);
    lua_pushcclosure(L, config_lua_section_options, 1);
    return 1;
}

static const char *config_check_module_name(lua_State *L, int index)
{
    size_t len;
    const char *module = luaL_checklstring(L, index, &len);
    int valid = len > 0 && len <= 255;
    /* It becomes a file name (mod_NAME.so): no paths. */
    for (size_t i = 0; valid && i < len; i++)
        valid = config_is_name_char(module[i]) || module[i] == '-';
    if (!valid)
        luaL_error(L, "'%s' is not a module name", module);
    return module;
}

/* What `Component "x"` returns: called with a module name (and then,
 * optionally, with a table of options), or with a table of options. */
static int config_lua_component_module(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    size_t section = (size_t)lua_tointeger(L, lua_upvalueindex(1));
    int created = lua_toboolean(L, lua_upvalueindex(2));
    if (lua_type(L, 1) == LUA_TTABLE)
        return config_lua_section_options(L);
    if (lua_type(L, 1) != LUA_TSTRING)
        luaL_error(L, "Component: expected a module name or a table of "
                      "options, not %s", luaL_typename(L, 1));
    const char *module = config_check_module_name(L, 1);
    config_section *sec = &loader->cfg->sections[section];
    if (created && sec->component_module == NULL) {
        sec->component_module = strdup(module);
        if (sec->component_module == NULL)
            luaL_error(L, "out of memory");
    } else if (sec->component_module == NULL) {
        luaL_error(L, "Component \"%s\" was declared at %s:%d as an external "
                      "component, not with module '%s'",
                   sec->host, sec->file, sec->line, module);
    } else if (strcmp(sec->component_module, module) != 0) {
        luaL_error(L, "Component \"%s\" was declared at %s:%d with module "
                      "'%s', not '%s'",
                   sec->host, sec->file, sec->line, sec->component_module,
                   module);
    }
    lua_pushinteger(L, (lua_Integer)section);
    lua_pushcclosure(L, config_lua_section_options, 1);
    return 1;
}

/* Component "rooms.example.org" "muc", or Component "ext.example.org" for
 * an external component (which then sets component_secret). */
static int config_lua_component(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    config *cfg = loader->cfg;
    const char *name = config_check_host(L, "Component");
    const char *file;
    int line;
    config_caller(L, &file, &line);
    long s = config_lookup_section(cfg, name);
    if (s >= 0 && !cfg->sections[s].is_component)
        luaL_error(L, "Component \"%s\" has the name of the VirtualHost "
                      "declared at %s:%d", name, cfg->sections[s].file,
                   cfg->sections[s].line);
    int created = s < 0;
    if (created) {
        s = config_add_section(cfg, name, 1, file, line);
        if (s < 0)
            luaL_error(L, "out of memory");
        lua_rawgeti(L, LUA_REGISTRYINDEX, loader->values_ref);
        lua_newtable(L);
        lua_rawseti(L, -2, s + 1);
        lua_pop(L, 1);
    }
    loader->current = (size_t)s;
    lua_pushinteger(L, s);
    lua_pushboolean(L, created);
    lua_pushcclosure(L, config_lua_component_module, 2);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Files: Include, FileContents, FileLine, FileLines                   */

/* Pushes the contents of path as a string and returns NULL, or pushes
 * nothing and returns why not.  Only regular files: a FIFO or a device
 * could block the server.  No Lua call happens while the file is open, so
 * a Lua error cannot leak the descriptor. */
static const char *config_push_file(lua_State *L, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return strerror(errno);
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if ((uintmax_t)st.st_size > CONFIG_MAX_FILE_SIZE)
        return "larger than 16 MiB";
    size_t size = (size_t)st.st_size;
    /* One byte more than expected tells us the file grew meanwhile. */
    char *data = lua_newuserdatauv(L, size + 1, 0);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        lua_pop(L, 1);
        return strerror(errno);
    }
    const char *problem = NULL;
    size_t n = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        problem = "not a regular file";
    while (problem == NULL && n < size + 1) {
        ssize_t got = read(fd, data + n, size + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            problem = strerror(errno);
        else if (got == 0)
            break;
        else
            n += (size_t)got;
    }
    close(fd);
    if (problem == NULL && n > size)
        problem = "the file changed while it was read";
    if (problem != NULL) {
        lua_pop(L, 1);
        return problem;
    }
    lua_pushlstring(L, data, n);
    lua_remove(L, -2);
    return NULL;
}

/* Pushes path made relative to the directory of the file calling us. */
static const char *config_push_relative(lua_State *L, const char *path)
{
    config_loader *loader = config_loader_of(L);
    if (path[0] == '/')
        return lua_pushstring(L, path);
    const char *from = loader->cfg->files[config_caller_file_id(L)];
    const char *slash = strrchr(from, '/');
    if (slash == NULL)
        return lua_pushstring(L, path);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, from, (size_t)(slash - from) + 1);
    luaL_addstring(&b, path);
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

static const char *config_check_path(lua_State *L, const char *what)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    if (len == 0 || strlen(path) != len)
        luaL_error(L, "%s needs a file name", what);
    return path;
}

/* Loads and runs one file in the shared environment. */
static void config_run_file(lua_State *L, const char *path)
{
    config_loader *loader = config_loader_of(L);
    char real[PATH_MAX];
    if (realpath(path, real) == NULL)
        luaL_error(L, "cannot read '%s': %s", path, strerror(errno));
    for (size_t i = 0; i < loader->include_depth; i++)
        if (strcmp(loader->includes[i].realpath, real) == 0)
            luaL_error(L, "Include cycle: '%s' is already being read", path);
    if (loader->include_depth > CONFIG_MAX_INCLUDE_DEPTH)
        luaL_error(L, "Include nested more than %d files deep",
                   CONFIG_MAX_INCLUDE_DEPTH);
    const char *problem = config_push_file(L, path);
    if (problem != NULL)
        luaL_error(L, "cannot read '%s': %s", path, problem);
    long id = config_intern_file(loader->cfg, path);
    if (id < 0)
        luaL_error(L, "out of memory");
    config_remember_source(L, (size_t)id);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);

    char chunkname[32];
    snprintf(chunkname, sizeof(chunkname), "=#%ld", id);
    if (luaL_loadbufferx(L, text, len, chunkname, "t") != LUA_OK)
        lua_error(L); /* the handler rewrites "#N:" to the file name */
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->env_ref);
    lua_setupvalue(L, -2, 1);

    config_include_frame *frame = &loader->includes[loader->include_depth++];
    memcpy(frame->realpath, real, sizeof(real));
    frame->file_id = (size_t)id;
    lua_call(L, 0, 0);
    loader->include_depth--;
    lua_pop(L, 1); /* the text */
}

static int config_compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Include "file.cfg.lua" or Include "conf.d/(glob).cfg.lua": relative to the
 * including file, matches in byte order.  A pattern matching nothing is
 * fine (an empty conf.d); a plain name that does not exist is an error. */
static int config_lua_include(lua_State *L)
{
    const char *pattern = config_check_path(L, "Include");
    const char *path = config_push_relative(L, pattern); /* 2 */
    if (strpbrk(pattern, "*?[") == NULL) {
        config_run_file(L, path);
        return 0;
    }
    glob_t g;
    int rc = glob(path, GLOB_NOSORT, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        globfree(&g);
        return 0;
    }
    if (rc != 0) {
        globfree(&g);
        luaL_error(L, "Include \"%s\": cannot list the files", pattern);
    }
    qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), config_compare_strings);
    /* Copy the names to Lua before running anything, which may raise. */
    lua_createtable(L, (int)(g.gl_pathc < INT_MAX ? g.gl_pathc : 0), 0);
    size_t count = g.gl_pathc;
    for (size_t i = 0; i < count; i++) {
        if (!lua_checkstack(L, 2)) {
            globfree(&g);
            luaL_error(L, "out of memory");
        }
        lua_pushstring(L, g.gl_pathv[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    globfree(&g);
    for (size_t i = 0; i < count; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        config_run_file(L, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return 0;
}

static void config_push_named_file(lua_State *L, const char *what)
{
    const char *name = config_check_path(L, what);
    const char *path = config_push_relative(L, name);
    const char *problem = config_push_file(L, path);
    if (problem != NULL)
        luaL_error(L, "%s: cannot read '%s': %s", what, path, problem);
}

/* FileContents "secret.txt": the whole file, as Prosody 0.12 has it. */
static int config_lua_file_contents(lua_State *L)
{
    config_push_named_file(L, "FileContents");
    return 1;
}

/* Length of the line at s (up to n bytes) without "\n" or "\r\n". */
static size_t config_line_length(const char *s, size_t n, size_t *next)
{
    const char *nl = memchr(s, '\n', n);
    size_t len = nl != NULL ? (size_t)(nl - s) : n;
    *next = nl != NULL ? len + 1 : n;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    return len;
}

/* FileLine "password.txt": the first line, without its line ending. */
static int config_lua_file_line(lua_State *L)
{
    config_push_named_file(L, "FileLine");
    size_t len, next;
    const char *text = lua_tolstring(L, -1, &len);
    lua_pushlstring(L, text, config_line_length(text, len, &next));
    return 1;
}

/* FileLines "admins.txt": every line as an array item. */
static int config_lua_file_lines(lua_State *L)
{
    config_push_named_file(L, "FileLines");
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    lua_newtable(L);
    lua_Integer n = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t next;
        size_t line_len = config_line_length(text + pos, len - pos, &next);
        lua_pushlstring(L, text + pos, line_len);
        lua_rawseti(L, -2, ++n);
        pos += next;
    }
    return 1;
}

/* pcall for the sandbox: the budget and memory limits cannot be caught,
 * and caught messages name real files. */
static int config_lua_pcall(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1); /* the first result, if all goes well */
    lua_insert(L, 1);
    size_t depth = loader->include_depth;
    int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
    if (status == LUA_OK)
        return lua_gettop(L);
    loader->include_depth = depth; /* files the error unwound */
    if (loader->budget_exhausted)
        return lua_error(L);
    if (status == LUA_ERRMEM)
        return luaL_error(L, "the configuration needs more than %d MiB of "
                             "memory", (int)(CONFIG_MEMORY_LIMIT >> 20));
    /* The stack is: true, error object. */
    lua_pushboolean(L, 0);
    lua_replace(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING &&
        config_push_rewritten(L, lua_tostring(L, 2)))
        lua_replace(L, 2);
    return 2;
}

/* ------------------------------------------------------------------ */
/* The sandbox                                                         */

static void config_copy_field(lua_State *L, int from, const char *name)
{
    lua_getfield(L, from, name);
    lua_setfield(L, -2, name);
}

/* Fills the builtins table (on top of the stack): an allow-list. */
static void config_add_builtins(lua_State *L)
{
    int builtins = lua_gettop(L);
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    int base = lua_gettop(L);
    static const char *const base_names[] = {
        "tostring", "tonumber", "pairs", "ipairs", "next", "type", "select",
        "error", "assert", NULL
    };
    lua_pushvalue(L, builtins);
    for (size_t i = 0; base_names[i] != NULL; i++)
        config_copy_field(L, base, base_names[i]);
    lua_pop(L, 2);

    /* string.dump has no use without load, so it goes: a config has no
     * business with bytecode.  (Strings' metatable is this same table.) */
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_setfield(L, builtins, "string");
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    lua_getfield(L, -1, "sort");
    config_loader_of(L)->sort_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, builtins, "table");
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    lua_setfield(L, builtins, "math");
    /* os.getenv only: Prosody configs read the environment. */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_newtable(L);
    config_copy_field(L, -2, "getenv");
    lua_setfield(L, builtins, "os");
    lua_pop(L, 1);

    static const luaL_Reg functions[] = {
        {"pcall", config_lua_pcall},
        {"VirtualHost", config_lua_virtualhost},
        {"Host", config_lua_virtualhost},
        {"Component", config_lua_component},
        {"Include", config_lua_include},
        {"include", config_lua_include},
        {"FileContents", config_lua_file_contents},
        {"FileLine", config_lua_file_line},
        {"FileLines", config_lua_file_lines},
        {NULL, NULL}
    };
    lua_pushvalue(L, builtins);
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
}

/* Builds the state's registry entries: builtins, values, sources, env. */
static void config_setup(lua_State *L, config_loader *loader)
{
    lua_newtable(L);
    config_add_builtins(L);
    loader->builtins_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    lua_newtable(L);
    lua_rawseti(L, -2, 1); /* the global section */
    loader->values_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    loader->sources_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, config_lua_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, config_lua_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    loader->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Runs under lua_pcall with config_error_handler. */
static int config_run(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    config_setup(L, loader);
    if (loader->path != NULL) {
        config_run_file(L, loader->path);
        return 0;
    }
    size_t len = strlen(loader->text);
    lua_pushlstring(L, loader->text, len);
    config_remember_source(L, 0);
    if (luaL_loadbufferx(L, loader->text, len, "=#0", "t") != LUA_OK)
        lua_error(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->env_ref);
    lua_setupvalue(L, -2, 1);
    loader->includes[0].realpath[0] = '\0';
    loader->includes[0].file_id = 0;
    loader->include_depth = 1;
    lua_call(L, 0, 0);
    loader->include_depth = 0;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lua values to C                                                     */

static int config_convert_error(config_loader *loader, const config_value *at,
                                const char *option, const char *fmt,
                                const char *detail)
{
    buf b = BUF_INIT;
    buf_printf(&b, "%s:%d: option '%s' ", at->file, at->line, option);
    buf_printf(&b, fmt, detail);
    free(loader->error);
    loader->error = buf_strdup(&b);
    buf_free(&b);
    return -1;
}

static int config_convert_value(lua_State *L, config_loader *loader,
                                int index, config_value *out, int depth,
                                size_t *items, const char *option);

static int config_convert_table(lua_State *L, config_loader *loader,
                                int index, config_value *out, int depth,
                                size_t *items, const char *option)
{
    if (depth > CONFIG_MAX_NESTING) {
        char limit[16];
        snprintf(limit, sizeof(limit), "%d", CONFIG_MAX_NESTING);
        return config_convert_error(loader, out, option,
                                    "is nested more than %s tables deep", limit);
    }
    luaL_checkstack(L, 4, "nested too deeply");
    size_t n = 0, strings = 0, integers = 0;
    int sequence_keys = 1;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        n++;
        if (*items + n > CONFIG_MAX_ITEMS) {
            lua_pop(L, 1);
            char limit[16];
            snprintf(limit, sizeof(limit), "%d", CONFIG_MAX_ITEMS);
            return config_convert_error(loader, out, option,
                                        "has more than %s items", limit);
        }
        if (lua_type(L, -1) == LUA_TSTRING) {
            strings++;
        } else if (lua_isinteger(L, -1)) {
            integers++;
        } else {
            const char *type = luaL_typename(L, -1);
            lua_pop(L, 1);
            return config_convert_error(loader, out, option,
                                        "has a key that is a %s (only names "
                                        "and list positions are allowed)",
                                        type);
        }
    }
    if (strings > 0 && integers > 0)
        return config_convert_error(loader, out, option,
                                    "mixes list items and named keys%s", "");
    *items += n;

    if (strings == 0) {
        /* A sequence: the integer keys are exactly 1..n. */
        for (size_t i = 1; i <= n && sequence_keys; i++) {
            sequence_keys = lua_rawgeti(L, index, (lua_Integer)i) != LUA_TNIL;
            lua_pop(L, 1);
        }
        if (!sequence_keys)
            return config_convert_error(loader, out, option,
                                        "is a list with gaps (a nil item?)%s",
                                        "");
        out->type = CONFIG_ARRAY;
        if (n == 0)
            return 0;
        out->items = calloc(n, sizeof(*out->items));
        if (out->items == NULL)
            return config_convert_error(loader, out, option, "%s",
                                        "could not be stored (out of memory)");
        out->count = n;
        for (size_t i = 0; i < n; i++) {
            out->items[i].file = out->file;
            out->items[i].line = out->line;
            lua_rawgeti(L, index, (lua_Integer)i + 1);
            int rc = config_convert_value(L, loader, lua_gettop(L),
                                          &out->items[i], depth + 1, items,
                                          option);
            lua_pop(L, 1);
            if (rc < 0)
                return -1;
        }
        return 0;
    }

    out->type = CONFIG_TABLE;
    out->items = calloc(n, sizeof(*out->items));
    out->keys = calloc(n, sizeof(*out->keys));
    if (out->items == NULL || out->keys == NULL)
        return config_convert_error(loader, out, option, "%s",
                                    "could not be stored (out of memory)");
    out->count = n;
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        size_t len;
        const char *key = lua_tolstring(L, -1, &len);
        if (strlen(key) != len || k >= n) {
            lua_pop(L, 1);
            return config_convert_error(loader, out, option, "%s",
                                        "has a key with a NUL byte");
        }
        out->keys[k] = strdup(key);
        if (out->keys[k++] == NULL) {
            lua_pop(L, 1);
            return config_convert_error(loader, out, option, "%s",
                                        "could not be stored (out of memory)");
        }
    }
    qsort(out->keys, n, sizeof(*out->keys), config_compare_strings);
    for (size_t i = 0; i < n; i++) {
        out->items[i].file = out->file;
        out->items[i].line = out->line;
        lua_pushstring(L, out->keys[i]);
        lua_rawget(L, index);
        int rc = config_convert_value(L, loader, lua_gettop(L), &out->items[i],
                                      depth + 1, items, option);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int config_convert_value(lua_State *L, config_loader *loader,
                                int index, config_value *out, int depth,
                                size_t *items, const char *option)
{
    switch (lua_type(L, index)) {
    case LUA_TBOOLEAN:
        out->type = CONFIG_BOOLEAN;
        out->boolean = lua_toboolean(L, index);
        return 0;
    case LUA_TNUMBER:
        out->type = CONFIG_NUMBER;
        out->number = (double)lua_tonumber(L, index);
        if (isnan(out->number))
            return config_convert_error(loader, out, option, "%s",
                                        "is not a number (NaN)");
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, index, &len);
        if (strlen(s) != len)
            return config_convert_error(loader, out, option, "%s",
                                        "contains a NUL byte");
        out->type = CONFIG_STRING;
        out->string = strdup(s);
        if (out->string == NULL)
            return config_convert_error(loader, out, option, "%s",
                                        "could not be stored (out of memory)");
        return 0;
    }
    case LUA_TTABLE:
        return config_convert_table(L, loader, index, out, depth, items, option);
    default:
        return config_convert_error(loader, out, option, "cannot hold a %s",
                                    luaL_typename(L, index));
    }
}

/* Runs under lua_pcall (luaL_checkstack may raise). */
static int config_convert(lua_State *L)
{
    config_loader *loader = config_loader_of(L);
    config *cfg = loader->cfg;
    lua_rawgeti(L, LUA_REGISTRYINDEX, loader->values_ref);
    int values = lua_gettop(L);
    for (size_t s = 0; s < cfg->section_count; s++) {
        config_section *sec = &cfg->sections[s];
        lua_rawgeti(L, values, (lua_Integer)s + 1);
        for (size_t i = 0; i < sec->option_count; i++) {
            config_option *opt = &sec->options[i];
            lua_getfield(L, -1, opt->name);
            size_t items = 0;
            int rc = config_convert_value(L, loader, lua_gettop(L), &opt->value,
                                          1, &items, opt->name);
            lua_pop(L, 1);
            if (rc < 0)
                return 0;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */

static char *config_strdup_error(const char *msg)
{
    char *copy = strdup(msg != NULL ? msg : "out of memory");
    return copy;
}

static config *config_load_common(const char *path, const char *text,
                                  const char *name, char **error)
{
    char *message = NULL;
    config *cfg = calloc(1, sizeof(*cfg));
    config_loader *loader = calloc(1, sizeof(*loader));
    if (cfg == NULL || loader == NULL || config_intern_file(cfg, name) < 0 ||
        config_add_section(cfg, NULL, 0, cfg->files[0], 0) < 0) {
        free(loader);
        config_free(cfg);
        if (error != NULL)
            *error = config_strdup_error(NULL);
        return NULL;
    }
    loader->cfg = cfg;
    loader->scan_budget = CONFIG_SCAN_BUDGET;
    loader->path = path;
    loader->text = text;

    lua_State *L = lua_newstate(config_lua_alloc, loader);
    if (L == NULL) {
        message = config_strdup_error(NULL);
        goto done;
    }
    loader->L = L;
    *(config_loader **)lua_getextraspace(L) = loader;
    lua_sethook(L, config_count_hook, LUA_MASKCOUNT, CONFIG_HOOK_INTERVAL);

    lua_pushcfunction(L, config_error_handler);
    lua_pushcfunction(L, config_run);
    int status = lua_pcall(L, 0, 0, 1);
    if (status == LUA_ERRMEM) {
        size_t at = loader->include_depth > 0
                        ? loader->includes[loader->include_depth - 1].file_id
                        : 0;
        buf b = BUF_INIT;
        buf_printf(&b, "%s: the configuration needs more than %d MiB of memory",
                   cfg->files[at], (int)(CONFIG_MEMORY_LIMIT >> 20));
        message = buf_strdup(&b);
        buf_free(&b);
    } else if (status != LUA_OK) {
        message = config_strdup_error(lua_tostring(L, -1));
    } else {
        lua_settop(L, 0);
        lua_pushcfunction(L, config_convert);
        status = lua_pcall(L, 0, 0, 0);
        if (loader->error != NULL) {
            message = loader->error;
            loader->error = NULL;
        } else if (status != LUA_OK) {
            buf b = BUF_INIT;
            buf_printf(&b, "%s: %s", cfg->files[0],
                       status == LUA_ERRMEM ? "out of memory"
                                            : lua_tostring(L, -1));
            message = buf_strdup(&b);
            buf_free(&b);
        }
    }
    lua_close(L);

done:
    free(loader->error);
    free(loader);
    if (message == NULL)
        return cfg;
    config_free(cfg);
    if (error != NULL)
        *error = message != NULL ? message : config_strdup_error(NULL);
    else
        free(message);
    return NULL;
}

config *config_load(const char *path, char **error)
{
    return config_load_common(path, NULL, path, error);
}

config *config_load_string(const char *text, const char *name, char **error)
{
    return config_load_common(NULL, text, name != NULL ? name : "(config)",
                              error);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

size_t config_section_count(const config *cfg)
{
    return cfg->section_count;
}

const char *config_section_host(const config *cfg, size_t section)
{
    return section < cfg->section_count ? cfg->sections[section].host : NULL;
}

int config_section_is_component(const config *cfg, size_t section)
{
    return section < cfg->section_count && cfg->sections[section].is_component;
}

const char *config_section_component_module(const config *cfg, size_t section)
{
    return section < cfg->section_count
               ? cfg->sections[section].component_module
               : NULL;
}

const char *config_section_file(const config *cfg, size_t section)
{
    return section < cfg->section_count ? cfg->sections[section].file : NULL;
}

int config_section_line(const config *cfg, size_t section)
{
    return section < cfg->section_count ? cfg->sections[section].line : 0;
}

long config_find_section(const config *cfg, const char *host)
{
    if (host == NULL)
        return 0;
    return config_lookup_section(cfg, host);
}

const config_value *config_section_get(const config *cfg, size_t section,
                                       const char *name)
{
    if (section >= cfg->section_count)
        return NULL;
    const config_option *opt = config_find_option(&cfg->sections[section], name);
    return opt != NULL ? &opt->value : NULL;
}

const char *config_section_option_at(const config *cfg, size_t section,
                                     size_t index)
{
    if (section >= cfg->section_count ||
        index >= cfg->sections[section].option_count)
        return NULL;
    return cfg->sections[section].options[index].name;
}

const config_value *config_get(const config *cfg, const char *host,
                               const char *name)
{
    if (host != NULL) {
        long s = config_lookup_section(cfg, host);
        if (s > 0) {
            const config_value *v = config_section_get(cfg, (size_t)s, name);
            if (v != NULL)
                return v;
        }
    }
    return config_section_get(cfg, 0, name);
}

const char *config_get_string(const config *cfg, const char *host,
                              const char *name, const char *def)
{
    const config_value *v = config_get(cfg, host, name);
    return v != NULL && v->type == CONFIG_STRING ? v->string : def;
}

double config_get_number(const config *cfg, const char *host,
                         const char *name, double def)
{
    const config_value *v = config_get(cfg, host, name);
    return v != NULL && v->type == CONFIG_NUMBER ? v->number : def;
}

int config_get_boolean(const config *cfg, const char *host, const char *name,
                       int def)
{
    const config_value *v = config_get(cfg, host, name);
    return v != NULL && v->type == CONFIG_BOOLEAN ? v->boolean : def;
}

const char *config_get_table_string(const config *cfg, const char *host,
                                    const char *name, const char *key)
{
    const config_value *v = config_get(cfg, host, name);
    if (v == NULL || v->type != CONFIG_TABLE)
        return NULL;
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->keys[i], key) == 0)
            return v->items[i].type == CONFIG_STRING ? v->items[i].string : NULL;
    return NULL;
}

const char *config_type_name(config_type type)
{
    switch (type) {
    case CONFIG_BOOLEAN: return "boolean";
    case CONFIG_NUMBER: return "number";
    case CONFIG_STRING: return "string";
    case CONFIG_ARRAY: return "array";
    case CONFIG_TABLE: return "table";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

static const char *config_value_phrase(const config_value *v)
{
    switch (v->type) {
    case CONFIG_BOOLEAN: return "a boolean";
    case CONFIG_NUMBER: return "a number";
    case CONFIG_STRING: return "a string";
    case CONFIG_ARRAY: return "an array";
    case CONFIG_TABLE: return "a table";
    }
    return "an unknown value";
}

static const char *config_option_phrase(enum mynah_option_type type)
{
    switch (type) {
    case MYNAH_OPTION_STRING: return "a string";
    case MYNAH_OPTION_INTEGER: return "an integer";
    case MYNAH_OPTION_NUMBER: return "a number";
    case MYNAH_OPTION_BOOLEAN: return "a boolean";
    case MYNAH_OPTION_ARRAY: return "an array";
    case MYNAH_OPTION_TABLE: return "a table";
    case MYNAH_OPTION_INTEGER_ARRAY: return "an array";
    case MYNAH_OPTION_ANY: return "any value";
    }
    return "a value of an unknown type";
}

/* Numbers as an operator would write them: 5222, not 5222.000000. */
static void config_format_number(char *out, size_t size, double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
        snprintf(out, size, "%.0f", v);
    else
        snprintf(out, size, "%g", v);
}

#define CONFIG_SUGGEST_MAX 64

/* Edit distance where swapping two adjacent letters counts as one edit
 * (the typo people make: "modules_enalbed"). */
static size_t config_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    unsigned short d[CONFIG_SUGGEST_MAX + 1][CONFIG_SUGGEST_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (unsigned short)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (unsigned short)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = (unsigned short)best;
        }
    }
    return d[n][m];
}

/* The known name closest to name (distance <= 2, and less than the
 * name's own length so that "x" does not suggest everything), or NULL. */
static const char *config_suggest(const char *name,
                                  const mynah_option_spec *const *schemas,
                                  size_t schema_count)
{
    size_t len = strlen(name);
    if (len > CONFIG_SUGGEST_MAX)
        return NULL;
    const char *best = NULL;
    size_t best_distance = 3;
    for (size_t s = 0; s < schema_count; s++) {
        for (const mynah_option_spec *o = schemas[s]; o && o->name; o++) {
            if (strlen(o->name) > CONFIG_SUGGEST_MAX)
                continue;
            size_t d = config_edit_distance(name, o->name);
            if (d < best_distance && d < len) {
                best = o->name;
                best_distance = d;
            }
        }
    }
    return best;
}

static const mynah_option_spec *config_find_spec(
    const char *name, const mynah_option_spec *const *schemas,
    size_t schema_count)
{
    for (size_t s = 0; s < schema_count; s++)
        for (const mynah_option_spec *o = schemas[s]; o && o->name; o++)
            if (strcmp(o->name, name) == 0)
                return o;
    return NULL;
}

static int config_has_bounds(const mynah_option_spec *spec)
{
    return !(spec->min == 0 && spec->max == 0);
}

/* Appends the problem with value v of option spec to b; 1 if there was
 * one.  b holds "FILE:LINE: " already. */
static int config_check_value(const mynah_option_spec *spec,
                              const config_value *v, buf *b)
{
    char min[32], max[32], got[32];
    config_format_number(min, sizeof(min), spec->min);
    config_format_number(max, sizeof(max), spec->max);
    const char *want = config_option_phrase(spec->type);
    switch (spec->type) {
    case MYNAH_OPTION_STRING:
        if (v->type != CONFIG_STRING)
            break;
        if (spec->max > 0) {
            double len = (double)strlen(v->string);
            if (len < spec->min || len > spec->max) {
                buf_printf(b, "option '%s' must be between %s and %s "
                              "characters long", spec->name, min, max);
                return 1;
            }
        }
        return 0;
    case MYNAH_OPTION_INTEGER:
    case MYNAH_OPTION_NUMBER:
        if (v->type != CONFIG_NUMBER)
            break;
        if (spec->type == MYNAH_OPTION_INTEGER &&
            (!isfinite(v->number) || v->number != floor(v->number))) {
            config_format_number(got, sizeof(got), v->number);
            buf_printf(b, "option '%s' must be an integer, not %s", spec->name,
                       got);
            return 1;
        }
        if (config_has_bounds(spec) &&
            (v->number < spec->min || v->number > spec->max)) {
            buf_printf(b, "option '%s' must be between %s and %s", spec->name,
                       min, max);
            return 1;
        }
        return 0;
    case MYNAH_OPTION_BOOLEAN:
        if (v->type != CONFIG_BOOLEAN)
            break;
        return 0;
    case MYNAH_OPTION_ARRAY:
        if (v->type != CONFIG_ARRAY)
            break;
        for (size_t i = 0; i < v->count; i++) {
            if (v->items[i].type != CONFIG_STRING) {
                buf_printf(b, "option '%s' must be an array of strings, but "
                              "item %zu is %s", spec->name, i + 1,
                           config_value_phrase(&v->items[i]));
                return 1;
            }
        }
        if (spec->max > 0 &&
            ((double)v->count < spec->min || (double)v->count > spec->max)) {
            buf_printf(b, "option '%s' must have between %s and %s items",
                       spec->name, min, max);
            return 1;
        }
        return 0;
    case MYNAH_OPTION_INTEGER_ARRAY:
        if (v->type != CONFIG_ARRAY)
            break;
        /* Bounds apply to each item: ports are 1..65535. */
        for (size_t i = 0; i < v->count; i++) {
            const config_value *item = &v->items[i];
            if (item->type != CONFIG_NUMBER || !isfinite(item->number) ||
                item->number != floor(item->number)) {
                buf_printf(b, "option '%s' must be an array of integers, but "
                              "item %zu is %s", spec->name, i + 1,
                           item->type == CONFIG_NUMBER
                               ? "a fractional number"
                               : config_value_phrase(item));
                return 1;
            }
            if (config_has_bounds(spec) &&
                (item->number < spec->min || item->number > spec->max)) {
                buf_printf(b, "option '%s' must have items between %s and %s",
                           spec->name, min, max);
                return 1;
            }
        }
        return 0;
    case MYNAH_OPTION_ANY:
        return 0;
    case MYNAH_OPTION_TABLE:
        /* {} is read as an empty array; it is an empty table just as well. */
        if (v->type == CONFIG_ARRAY && v->count == 0)
            return 0;
        if (v->type != CONFIG_TABLE)
            break;
        for (size_t i = 0; i < v->count; i++) {
            config_type t = v->items[i].type;
            if (t == CONFIG_ARRAY || t == CONFIG_TABLE) {
                buf_printf(b, "option '%s' must be a table of strings, numbers "
                              "or booleans, but '%s' is %s", spec->name,
                           v->keys[i], config_value_phrase(&v->items[i]));
                return 1;
            }
        }
        return 0;
    default:
        buf_printf(b, "option '%s' has a schema of unknown type %d", spec->name,
                   (int)spec->type);
        return 1;
    }
    buf_printf(b, "option '%s' must be %s, not %s", spec->name, want,
               config_value_phrase(v));
    return 1;
}

int config_validate_section(const config *cfg, size_t section,
                            const mynah_option_spec *const *schemas,
                            size_t schema_count, buf *errors)
{
    if (section >= cfg->section_count)
        return 0;
    const config_section *sec = &cfg->sections[section];
    int problems = 0;
    for (size_t i = 0; i < sec->option_count; i++) {
        const config_option *opt = &sec->options[i];
        const config_value *v = &opt->value;
        buf line = BUF_INIT;
        buf_printf(&line, "%s:%d: ", v->file, v->line);
        const mynah_option_spec *spec =
            config_find_spec(opt->name, schemas, schema_count);
        int problem;
        if (spec == NULL) {
            buf_printf(&line, "unknown option '%s'", opt->name);
            const char *other = config_suggest(opt->name, schemas, schema_count);
            if (other != NULL)
                buf_printf(&line, " (did you mean '%s'?)", other);
            problem = 1;
        } else {
            problem = config_check_value(spec, v, &line);
        }
        if (problem) {
            if (sec->host != NULL)
                buf_printf(&line, " (in %s \"%s\")",
                           sec->is_component ? "Component" : "VirtualHost",
                           sec->host);
            buf_append_str(&line, "\n");
            buf_append(errors, buf_bytes(&line), buf_length(&line));
            problems++;
        }
        buf_free(&line);
    }
    return problems;
}
