/*
 * require "mynah.jid": JID strings.
 *
 *   jid.split(j)    -> node, host, resource (nil for absent parts; no
 *                      preparation, as written)
 *   jid.bare(j)     -> "node@host" or "host"
 *   jid.host(j), jid.node(j), jid.resource(j)
 *   jid.prep(j)     -> the prepared (normalised) JID, or nil when invalid
 *                      (RFC 7622: nodeprep, nameprep, resourceprep)
 *   jid.compare_bare(a, b) -> true when both prepare to the same bare JID
 */
#include "mod_lua.h"

#include <string.h>

/* Pushes the three parts of a JID string; empty parts are nil. */
static void split(lua_State *L, const char *j)
{
    const char *slash = strchr(j, '/');
    size_t barelen = slash ? (size_t)(slash - j) : strlen(j);
    const char *at = memchr(j, '@', barelen);
    if (at != NULL && at > j)
        lua_pushlstring(L, j, (size_t)(at - j));
    else
        lua_pushnil(L);
    const char *host = at ? at + 1 : j;
    size_t hostlen = barelen - (size_t)(host - j);
    if (hostlen > 0)
        lua_pushlstring(L, host, hostlen);
    else
        lua_pushnil(L);
    if (slash != NULL && slash[1] != '\0')
        lua_pushstring(L, slash + 1);
    else
        lua_pushnil(L);
}

static int l_split(lua_State *L)
{
    split(L, luaL_checkstring(L, 1));
    return 3;
}

static int l_bare(lua_State *L)
{
    const char *j = luaL_checkstring(L, 1);
    const char *slash = strchr(j, '/');
    lua_pushlstring(L, j, slash ? (size_t)(slash - j) : strlen(j));
    return 1;
}

static int part(lua_State *L, int which)
{
    split(L, luaL_checkstring(L, 1));
    lua_pushvalue(L, -3 + which);
    return 1;
}

static int l_node(lua_State *L) { return part(L, 0); }
static int l_host(lua_State *L) { return part(L, 1); }
static int l_resource(lua_State *L) { return part(L, 2); }

static int l_prep(lua_State *L)
{
    mynah_jid *j = lua_api->jid_new(luaL_checkstring(L, 1));
    if (j == NULL)
        return 0;
    lua_pushstring(L, lua_api->jid_full(j));
    lua_api->jid_free(j);
    return 1;
}

static int l_compare_bare(lua_State *L)
{
    mynah_jid *a = lua_api->jid_new(luaL_checkstring(L, 1));
    mynah_jid *b = lua_api->jid_new(luaL_checkstring(L, 2));
    int same = a && b && strcmp(lua_api->jid_bare(a), lua_api->jid_bare(b)) == 0;
    lua_api->jid_free(a);
    lua_api->jid_free(b);
    lua_pushboolean(L, same);
    return 1;
}

int luaopen_mynah_jid(lua_State *L)
{
    static const luaL_Reg lib[] = {
        {"split", l_split}, {"bare", l_bare}, {"node", l_node},
        {"host", l_host}, {"resource", l_resource}, {"prep", l_prep},
        {"compare_bare", l_compare_bare}, {NULL, NULL}};
    luaL_newlib(L, lib);
    return 1;
}
