/*
 * Session objects: event.origin and the items of module:sessions().
 *
 * A session can end while a script still holds its object, so the object
 * never trusts its pointer blindly: a bound session is looked up again by
 * its full JID on every use (and must be the same session); an unbound
 * one (an iq-unauthed event) is valid only while its event runs.
 *
 *   origin:jid()         full JID, or nil before binding
 *   origin:bare()        bare JID, or nil
 *   origin.username      prepared local part (nil before binding)
 *   origin.resource, origin.host, origin.type ("c2s", "s2s",
 *   "component", "local"), origin.available, origin.priority
 *   origin:send(stanza)  writes the stanza to that session, unrouted
 *   origin:close([condition [, text]])
 */
#include "mod_lua.h"

#include <stdlib.h>
#include <string.h>

#define SESSION_MT "mynah.session"

typedef struct session_object {
    mynah_session *session;
    char *full;   /* malloc'd full JID when bound, else NULL */
    int live;     /* the event it came with is still running */
} session_object;

static mynah_session *resolve(session_object *o)
{
    if (o->session == NULL)
        return NULL;
    if (o->full != NULL) {
        mynah_session *now = lua_api->session_find(o->full);
        if (now == o->session)
            return now;
        if (!o->live)
            return NULL;
    }
    return o->live ? o->session : NULL;
}

mynah_session *sessionlib_check(lua_State *L, int index)
{
    session_object *o = luaL_checkudata(L, index, SESSION_MT);
    mynah_session *s = resolve(o);
    if (s == NULL)
        luaL_error(L, "this session has ended");
    return s;
}

void sessionlib_retire(void *object)
{
    session_object *o = object;
    if (o != NULL)
        o->live = 0;
}

static const char *kind_name(enum mynah_session_kind kind)
{
    switch (kind) {
    case MYNAH_SESSION_C2S: return "c2s";
    case MYNAH_SESSION_S2S: return "s2s";
    case MYNAH_SESSION_COMPONENT: return "component";
    case MYNAH_SESSION_LOCAL: return "local";
    }
    return "unknown";
}

static int session_jid(lua_State *L)
{
    session_object *o = luaL_checkudata(L, 1, SESSION_MT);
    mynah_session *s = resolve(o);
    const mynah_jid *jid = s ? lua_api->session_jid(s) : NULL;
    if (jid == NULL) {
        if (o->full == NULL)
            return 0;
        lua_pushstring(L, o->full);
        return 1;
    }
    lua_pushstring(L, lua_api->jid_full(jid));
    return 1;
}

static int session_bare(lua_State *L)
{
    session_object *o = luaL_checkudata(L, 1, SESSION_MT);
    mynah_session *s = resolve(o);
    const mynah_jid *jid = s ? lua_api->session_jid(s) : NULL;
    if (jid == NULL)
        return 0;
    lua_pushstring(L, lua_api->jid_bare(jid));
    return 1;
}

static int session_send(lua_State *L)
{
    mynah_session *s = sessionlib_check(L, 1);
    mynah_stanza *stanza = stanzalib_take(L, 2);
    lua_pushboolean(L, lua_api->session_send(s, stanza) == 0);
    return 1;
}

static int session_close(lua_State *L)
{
    mynah_session *s = sessionlib_check(L, 1);
    lua_api->session_close(s, luaL_optstring(L, 2, NULL),
                           luaL_optstring(L, 3, NULL));
    return 0;
}

static int session_index(lua_State *L)
{
    session_object *o = luaL_checkudata(L, 1, SESSION_MT);
    const char *key = luaL_checkstring(L, 2);
    if (luaL_getmetafield(L, 1, "methods") == LUA_TTABLE &&
        lua_getfield(L, -1, key) != LUA_TNIL)
        return 1;
    mynah_session *s = resolve(o);
    if (s == NULL)
        return 0;
    const mynah_jid *jid = lua_api->session_jid(s);
    if (strcmp(key, "host") == 0) {
        mynah_host *h = lua_api->session_host(s);
        if (h == NULL)
            return 0;
        lua_pushstring(L, lua_api->host_name(h));
    } else if (strcmp(key, "username") == 0 || strcmp(key, "resource") == 0) {
        const char *part = jid ? lua_api->jid_part(jid, key[0] == 'u'
                                                            ? MYNAH_JID_LOCAL
                                                            : MYNAH_JID_RESOURCE)
                               : NULL;
        if (part == NULL)
            return 0;
        lua_pushstring(L, part);
    } else if (strcmp(key, "type") == 0) {
        lua_pushstring(L, kind_name(lua_api->session_kind(s)));
    } else if (strcmp(key, "available") == 0) {
        lua_pushboolean(L, lua_api->session_available(s));
    } else if (strcmp(key, "priority") == 0) {
        lua_pushinteger(L, lua_api->session_priority(s));
    } else if (strcmp(key, "full_jid") == 0) {
        if (jid == NULL)
            return 0;
        lua_pushstring(L, lua_api->jid_full(jid));
    } else {
        return 0;
    }
    return 1;
}

static int session_tostring(lua_State *L)
{
    session_object *o = luaL_checkudata(L, 1, SESSION_MT);
    lua_pushfstring(L, "session %s", o->full ? o->full : "(not bound)");
    return 1;
}

static int session_gc(lua_State *L)
{
    session_object *o = luaL_checkudata(L, 1, SESSION_MT);
    free(o->full);
    o->full = NULL;
    return 0;
}

void *sessionlib_push(lua_State *L, lua_ctx *ctx, mynah_session *session,
                      int live)
{
    (void)ctx;
    session_object *o = lua_newuserdatauv(L, sizeof *o, 0);
    o->session = session;
    o->full = NULL;
    o->live = live;
    if (luaL_newmetatable(L, SESSION_MT)) {
        static const luaL_Reg methods[] = {
            {"jid", session_jid}, {"bare", session_bare},
            {"send", session_send}, {"close", session_close}, {NULL, NULL}};
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
        lua_pushcfunction(L, session_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, session_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, session_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    const mynah_jid *jid = session ? lua_api->session_jid(session) : NULL;
    if (jid != NULL)
        o->full = strdup(lua_api->jid_full(jid));
    return o;
}
