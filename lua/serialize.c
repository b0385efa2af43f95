/*
 * The value encoding of Lua stores: a Lua literal, read back by a parser
 * of our own (never by `load`, so a stored value cannot run code).
 *
 *   value   = "nil" | "true" | "false" | number | string | table
 *   number  = an integer (%lld) or a float ("%.17g", so it reads back
 *             exactly); inf and nan cannot be stored
 *   string  = "..." with \\ \" \n \r \t and \ddd escapes for other control
 *             bytes; every other byte (UTF-8 included) as is
 *   table   = "{" [ value "," ]... [ "[" value "]=" value "," ]... "}"
 *             the array part 1..n first, then the other keys
 *
 * Tables nest up to 64 deep; a cycle, a function, a userdata (a stanza:
 * store tostring(stanza) and st.parse it back) or a thread cannot be
 * stored.  Integers stay integers: the C module storing "3" and a Lua
 * module storing 3 write the same bytes.
 *
 * Also require "mynah.serialize": encode(value) -> string,
 * decode(string) -> value (raises on malformed input).
 */
#include "mod_lua.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ---- encoding ---- */

/* The output grows in a C buffer owned by a userdata (freed by its __gc
 * if an error interrupts the encoding): luaL_Buffer cannot be used while
 * the encoder keeps table iterations on the stack. */
typedef struct membuf {
    char *data;
    size_t len, cap;
} membuf;

static int membuf_gc(lua_State *L)
{
    membuf *m = lua_touserdata(L, 1);
    free(m->data);
    m->data = NULL;
    return 0;
}

static membuf *membuf_push(lua_State *L)
{
    membuf *m = lua_newuserdatauv(L, sizeof *m, 0);
    m->data = NULL;
    m->len = m->cap = 0;
    if (luaL_newmetatable(L, "mynah.serialize.buffer")) {
        lua_pushcfunction(L, membuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return m;
}

static void add(lua_State *L, membuf *m, const char *s, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < m->len + n + 1)
            cap *= 2;
        char *grown = realloc(m->data, cap);
        if (grown == NULL)
            luaL_error(L, "out of memory");
        m->data = grown;
        m->cap = cap;
    }
    memcpy(m->data + m->len, s, n);
    m->len += n;
    m->data[m->len] = '\0';
}

static void add_str(lua_State *L, membuf *m, const char *s)
{
    add(L, m, s, strlen(s));
}

static void encode_value(lua_State *L, membuf *b, int index, int depth,
                         int seen);

static void encode_string(lua_State *L, membuf *b, const char *s, size_t len)
{
    add(L, b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '\\': add_str(L, b, "\\\\"); break;
        case '"': add_str(L, b, "\\\""); break;
        case '\n': add_str(L, b, "\\n"); break;
        case '\r': add_str(L, b, "\\r"); break;
        case '\t': add_str(L, b, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof esc, "\\%03u", c);
                add_str(L, b, esc);
            } else {
                add(L, b, (const char *)&s[i], 1);
            }
        }
    }
    add(L, b, "\"", 1);
}

static void encode_number(lua_State *L, membuf *b, int index)
{
    char num[64];
    if (lua_isinteger(L, index)) {
        snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, index));
    } else {
        double d = lua_tonumber(L, index);
        if (!isfinite(d))
            luaL_error(L, "cannot store %s (not a finite number)",
                       isnan(d) ? "nan" : "inf");
        snprintf(num, sizeof num, "%.17g", d);
        /* keep it a float when read back: 2.0 is not 2 */
        if (strpbrk(num, ".eEn") == NULL)
            strcat(num, ".0");
    }
    add_str(L, b, num);
}

/* `seen` is the index of a table of the tables on the current path. */
static void encode_table(lua_State *L, membuf *b, int index, int depth,
                         int seen)
{
    if (depth >= MAX_DEPTH)
        luaL_error(L, "cannot store tables nested more than %d deep", MAX_DEPTH);
    luaL_checkstack(L, 6, "storing a value");
    lua_pushvalue(L, index);
    if (lua_rawget(L, seen) != LUA_TNIL)
        luaL_error(L, "cannot store a table that contains itself");
    lua_pop(L, 1);
    lua_pushvalue(L, index);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);

    add(L, b, "{", 1);
    lua_Integer n = (lua_Integer)lua_rawlen(L, index);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, index, i);
        if (lua_isnil(L, -1)) {
            /* a hole: the rest goes with the keyed entries */
            lua_pop(L, 1);
            n = i - 1;
            break;
        }
        encode_value(L, b, lua_gettop(L), depth + 1, seen);
        lua_pop(L, 1);
        add(L, b, ",", 1);
    }
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        int key = lua_gettop(L) - 1;
        if (lua_isinteger(L, key) && lua_tointeger(L, key) >= 1 &&
            lua_tointeger(L, key) <= n) {
            lua_pop(L, 1);
            continue;
        }
        add(L, b, "[", 1);
        encode_value(L, b, key, depth + 1, seen);
        add(L, b, "]=", 2);
        encode_value(L, b, key + 1, depth + 1, seen);
        add(L, b, ",", 1);
        lua_pop(L, 1);
    }
    add(L, b, "}", 1);

    lua_pushvalue(L, index);
    lua_pushnil(L);
    lua_rawset(L, seen);
}

static void encode_value(lua_State *L, membuf *b, int index, int depth,
                         int seen)
{
    switch (lua_type(L, index)) {
    case LUA_TNIL: add_str(L, b, "nil"); break;
    case LUA_TBOOLEAN:
        add_str(L, b, lua_toboolean(L, index) ? "true" : "false");
        break;
    case LUA_TNUMBER: encode_number(L, b, index); break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, index, &len);
        encode_string(L, b, s, len);
        break;
    }
    case LUA_TTABLE: encode_table(L, b, index, depth, seen); break;
    default:
        luaL_error(L, "cannot store a %s (only nil, booleans, numbers, "
                   "strings and tables of them)", luaL_typename(L, index));
    }
}

/* Encodes the value at index; pushes the literal as a Lua string. */
static void encode_to_string(lua_State *L, int index)
{
    index = lua_absindex(L, index);
    membuf *b = membuf_push(L);
    lua_newtable(L);
    encode_value(L, b, index, 0, lua_gettop(L));
    lua_pop(L, 1);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    lua_remove(L, -2); /* the buffer, freed by the collector */
}

const char *serialize_encode(lua_State *L, int index, size_t *len)
{
    encode_to_string(L, index);
    return lua_tolstring(L, -1, len);
}

/* ---- decoding ---- */

typedef struct reader {
    const char *p, *end;
} reader;

static void skip_space(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' ||
                             *r->p == '\r'))
        r->p++;
}

static int malformed(lua_State *L, const reader *r, const char *what)
{
    (void)r;
    return luaL_error(L, "malformed stored value: %s", what);
}

static int accept_word(reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) >= n && memcmp(r->p, word, n) == 0) {
        r->p += n;
        return 1;
    }
    return 0;
}

static void decode_value(lua_State *L, reader *r, int depth);

static void decode_string(lua_State *L, reader *r)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    r->p++; /* the opening quote */
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c != '\\') {
            luaL_addchar(&b, c);
            continue;
        }
        if (r->p >= r->end)
            malformed(L, r, "a string ends in a backslash");
        c = *r->p++;
        switch (c) {
        case 'n': luaL_addchar(&b, '\n'); break;
        case 'r': luaL_addchar(&b, '\r'); break;
        case 't': luaL_addchar(&b, '\t'); break;
        case '\\': luaL_addchar(&b, '\\'); break;
        case '"': luaL_addchar(&b, '"'); break;
        default:
            if (c >= '0' && c <= '9') {
                int v = c - '0';
                for (int i = 0; i < 2 && r->p < r->end && *r->p >= '0' &&
                                *r->p <= '9'; i++)
                    v = v * 10 + (*r->p++ - '0');
                if (v > 255)
                    malformed(L, r, "a \\ddd escape above 255");
                luaL_addchar(&b, (char)v);
            } else {
                malformed(L, r, "an unknown escape in a string");
            }
        }
    }
    if (r->p >= r->end)
        malformed(L, r, "an unterminated string");
    r->p++;
    luaL_pushresult(&b);
}

static void decode_number(lua_State *L, reader *r)
{
    const char *start = r->p;
    while (r->p < r->end && strchr("0123456789+-.eE", *r->p) != NULL)
        r->p++;
    size_t n = (size_t)(r->p - start);
    char num[64];
    if (n == 0 || n >= sizeof num)
        malformed(L, r, "a bad number");
    memcpy(num, start, n);
    num[n] = '\0';
    if (lua_stringtonumber(L, num) == 0)
        malformed(L, r, "a bad number");
}

static void decode_table(lua_State *L, reader *r, int depth)
{
    if (depth >= MAX_DEPTH)
        malformed(L, r, "tables nested too deep");
    luaL_checkstack(L, 4, "decoding a stored value");
    r->p++; /* { */
    lua_newtable(L);
    lua_Integer next_index = 1;
    for (;;) {
        skip_space(r);
        if (r->p >= r->end)
            malformed(L, r, "an unterminated table");
        if (*r->p == '}') {
            r->p++;
            return;
        }
        if (*r->p == '[') {
            r->p++;
            decode_value(L, r, depth + 1);
            if (lua_isnil(L, -1))
                malformed(L, r, "a nil key");
            skip_space(r);
            if (!accept_word(r, "]"))
                malformed(L, r, "a key without ']'");
            skip_space(r);
            if (!accept_word(r, "="))
                malformed(L, r, "a key without '='");
            decode_value(L, r, depth + 1);
            lua_rawset(L, -3);
        } else {
            decode_value(L, r, depth + 1);
            lua_rawseti(L, -2, next_index++);
        }
        skip_space(r);
        if (!accept_word(r, ",") && !(r->p < r->end && *r->p == '}'))
            malformed(L, r, "a table entry without ','");
    }
}

static void decode_value(lua_State *L, reader *r, int depth)
{
    skip_space(r);
    if (r->p >= r->end)
        malformed(L, r, "it ends early");
    char c = *r->p;
    if (c == '"')
        decode_string(L, r);
    else if (c == '{')
        decode_table(L, r, depth);
    else if (accept_word(r, "nil"))
        lua_pushnil(L);
    else if (accept_word(r, "true"))
        lua_pushboolean(L, 1);
    else if (accept_word(r, "false"))
        lua_pushboolean(L, 0);
    else
        decode_number(L, r);
}

void serialize_decode(lua_State *L, const char *data, size_t len)
{
    reader r = {data, data + len};
    decode_value(L, &r, 0);
    skip_space(&r);
    if (r.p != r.end)
        malformed(L, &r, "trailing bytes");
}

/* ---- the library ---- */

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    encode_to_string(L, 1);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    serialize_decode(L, s, len);
    return 1;
}

int luaopen_mynah_serialize(lua_State *L)
{
    static const luaL_Reg lib[] = {{"encode", l_encode},
                                   {"decode", l_decode},
                                   {NULL, NULL}};
    luaL_newlib(L, lib);
    return 1;
}
