/*
 * require "mynah.stanza": stanzas as Lua objects.
 *
 * A Lua stanza object is a view of a C stanza, never a copy: it holds a
 * reference on the stanza and points at one element of it (the whole
 * stanza, or a child returned by get_child/childtags/find) plus a build
 * cursor for :tag/:text/:up.  Every view of a stanza the script built
 * shares one small box that says whether the stanza is still the
 * script's to change.
 *
 * Copy-on-write: a stanza a handler receives is shared with the core and
 * other modules, so its views are read-only; so is a stanza once the
 * script has sent it (it may sit in a queue or an archive).  Changing one
 * raises an error that says to copy it with st.clone first.
 *
 * Attributes: `s.attr.to` reads, `s.attr.to = x` writes (nil removes),
 * `s.attr.xmlns` is the element's namespace, pairs(s.attr) iterates;
 * s:attr(name [, value]) does the same as a method.  `s.name` is the
 * element's name.
 *
 * Paths for s:find(path): steps separated by "/", each "name" or
 * "{namespace}name" (without a namespace a step matches children in its
 * parent's namespace), optionally ending with "@attribute" (the value) or
 * "#" (the text): "body#", "{jabber:x:data}x@type", "error/text#".
 */
#include "mod_lua.h"

#include <stdlib.h>
#include <string.h>

#define STANZA_MT "mynah.stanza"
#define ATTR_MT "mynah.stanza.attr"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

typedef struct stanza_box {
    mynah_stanza *stanza;
    int refs;     /* Lua views sharing it */
    int frozen;   /* not the script's to change (received, or sent) */
} stanza_box;

typedef struct stanza_view {
    stanza_box *box;
    mynah_element *top;
    mynah_element *cursor;
} stanza_view;

static unsigned long long next_id;

/* ---- views ---- */

/* A view of an existing box (a child of a stanza already seen). */
static void push_view(lua_State *L, stanza_box *box, mynah_element *top)
{
    stanza_view *v = lua_newuserdatauv(L, sizeof *v, 1);
    v->box = box;
    v->top = top;
    v->cursor = top;
    box->refs++;
    luaL_setmetatable(L, STANZA_MT);
}

/* An empty view, pushed before the stanza exists, so that no allocation
 * can fail between taking a reference and handing it to the view. */
static stanza_view *push_empty_view(lua_State *L)
{
    stanza_view *v = lua_newuserdatauv(L, sizeof *v, 1);
    v->box = NULL;
    v->top = v->cursor = NULL;
    luaL_setmetatable(L, STANZA_MT);
    return v;
}

/* Gives the view on top of the stack a stanza the caller holds a
 * reference to (the view takes it). */
static void attach(lua_State *L, stanza_view *v, mynah_stanza *stanza,
                   int frozen)
{
    if (stanza == NULL)
        luaL_error(L, "could not build the stanza (invalid name, attribute "
                   "or text, or out of memory)");
    stanza_box *box = malloc(sizeof *box);
    if (box == NULL) {
        lua_api->stanza_unref(stanza);
        luaL_error(L, "out of memory");
    }
    box->stanza = stanza;
    box->refs = 1;
    box->frozen = frozen;
    v->box = box;
    v->top = v->cursor = lua_api->stanza_root(stanza);
}

void stanzalib_push(lua_State *L, mynah_stanza *stanza, int readonly)
{
    stanza_view *v = push_empty_view(L);
    attach(L, v, lua_api->stanza_ref(stanza), readonly);
}


static stanza_view *check_view(lua_State *L, int index)
{
    stanza_view *v = luaL_checkudata(L, index, STANZA_MT);
    if (v->box == NULL)
        luaL_error(L, "an empty stanza object");
    return v;
}

int stanzalib_is(lua_State *L, int index)
{
    return luaL_testudata(L, index, STANZA_MT) != NULL;
}

static stanza_view *writable(lua_State *L, int index)
{
    stanza_view *v = check_view(L, index);
    if (v->box->frozen)
        luaL_error(L, "this stanza is read-only (it was received by a "
                   "handler, or already sent): copy it with st.clone(stanza) "
                   "and change the copy");
    return v;
}

mynah_stanza *stanzalib_check(lua_State *L, int index)
{
    stanza_view *v = check_view(L, index);
    if (v->top != lua_api->stanza_root(v->box->stanza))
        luaL_error(L, "expected a whole stanza, not a child element "
                   "(st.clone it to make a stanza of it)");
    return v->box->stanza;
}

mynah_stanza *stanzalib_take(lua_State *L, int index)
{
    mynah_stanza *stanza = stanzalib_check(L, index);
    check_view(L, index)->box->frozen = 1;
    return lua_api->stanza_ref(stanza);
}

static int view_gc(lua_State *L)
{
    stanza_view *v = luaL_checkudata(L, 1, STANZA_MT);
    if (v->box != NULL && --v->box->refs == 0) {
        lua_api->stanza_unref(v->box->stanza);
        free(v->box);
    }
    v->box = NULL;
    return 0;
}

/* ---- building ---- */

/* Sets the string-keyed fields of the table at index as attributes
 * ("xmlns" is the namespace, given at creation). */
static void set_attrs(lua_State *L, mynah_element *el, int index)
{
    if (lua_isnoneornil(L, index))
        return;
    luaL_checktype(L, index, LUA_TTABLE);
    index = lua_absindex(L, index);
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING &&
            strcmp(lua_tostring(L, -2), "xmlns") != 0) {
            const char *name = lua_tostring(L, -2);
            const char *value = NULL;
            if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
                value = lua_tostring(L, -1);
            else if (lua_type(L, -1) == LUA_TBOOLEAN)
                value = lua_toboolean(L, -1) ? "true" : "false";
            else
                luaL_error(L, "attribute '%s' must be a string, not a %s", name,
                           luaL_typename(L, -1));
            if (lua_api->element_set_attr(el, name, value) != 0)
                luaL_error(L, "invalid attribute '%s' (not XML: a bad name, or "
                           "characters XML cannot carry)", name);
        }
        lua_pop(L, 1);
    }
}

static const char *attrs_xmlns(lua_State *L, int index)
{
    if (!lua_istable(L, index))
        return NULL;
    lua_getfield(L, index, "xmlns");
    const char *ns = lua_tostring(L, -1);
    lua_pop(L, 1); /* the table still holds the string */
    return ns;
}

static int st_stanza(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    stanza_view *v = push_empty_view(L);
    attach(L, v, lua_api->stanza_new(name, attrs_xmlns(L, 2)), 0);
    set_attrs(L, v->top, 2);
    return 1;
}

static void add_text(lua_State *L, mynah_element *el, int index)
{
    size_t len;
    const char *text = luaL_checklstring(L, index, &len);
    if (lua_api->element_add_text(el, text, len) != 0)
        luaL_error(L, "text is not valid UTF-8 made of XML characters");
}

/* st.message(attrs [, body]) */
static int st_message(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushcfunction(L, st_stanza);
    lua_pushliteral(L, "message");
    lua_pushvalue(L, 1);
    lua_call(L, 2, 1);
    if (!lua_isnil(L, 2)) {
        stanza_view *v = check_view(L, 3);
        mynah_element *body = lua_api->element_add_child(v->top, "body", NULL);
        if (body == NULL)
            return luaL_error(L, "out of memory");
        add_text(L, body, 2);
    }
    return 1;
}

static int st_presence(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushcfunction(L, st_stanza);
    lua_pushliteral(L, "presence");
    lua_pushvalue(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* st.iq(attrs): an id is made up when none is given. */
static int st_iq(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushcfunction(L, st_stanza);
    lua_pushliteral(L, "iq");
    lua_pushvalue(L, 1);
    lua_call(L, 2, 1);
    stanza_view *v = check_view(L, -1);
    if (lua_api->element_attr(v->top, "id") == NULL) {
        char id[40];
        snprintf(id, sizeof id, "lua%llx-%llu",
                 (unsigned long long)(lua_api->now() * 1000) & 0xffffff,
                 ++next_id);
        lua_api->element_set_attr(v->top, "id", id);
    }
    return 1;
}

static int m_tag(lua_State *L)
{
    stanza_view *v = writable(L, 1);
    const char *name = luaL_checkstring(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    mynah_element *child = lua_api->element_add_child(v->cursor, name,
                                                      attrs_xmlns(L, 3));
    if (child == NULL)
        return luaL_error(L, "invalid element name '%s'", name);
    set_attrs(L, child, 3);
    v->cursor = child;
    lua_settop(L, 1);
    return 1;
}

static int m_text(lua_State *L)
{
    stanza_view *v = writable(L, 1);
    if (!lua_isnoneornil(L, 2))
        add_text(L, v->cursor, 2);
    lua_settop(L, 1);
    return 1;
}

static int m_up(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    if (v->cursor != v->top)
        v->cursor = lua_api->element_parent(v->cursor);
    lua_settop(L, 1);
    return 1;
}

static int m_reset(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    v->cursor = v->top;
    lua_settop(L, 1);
    return 1;
}

/* Deep copy through the API: name, namespace, attributes, text, children
 * (text comes before the children: XMPP payloads do not mix them). */
static mynah_element *copy_into(mynah_element *parent, mynah_element *src)
{
    mynah_element *el = lua_api->element_add_child(
        parent, lua_api->element_name(src), lua_api->element_xmlns(src));
    if (el == NULL)
        return NULL;
    const char *value;
    const char *name;
    for (size_t i = 0; (name = lua_api->element_attr_at(src, i, &value)); i++)
        lua_api->element_set_attr(el, name, value);
    const char *text = lua_api->element_text(src);
    if (text[0] != '\0')
        lua_api->element_add_text(el, text, strlen(text));
    for (mynah_element *c = lua_api->element_first_child(src); c;
         c = lua_api->element_next_sibling(c))
        if (copy_into(el, c) == NULL)
            return NULL;
    return el;
}

static int m_add_child(lua_State *L)
{
    stanza_view *v = writable(L, 1);
    stanza_view *child = check_view(L, 2);
    if (copy_into(v->cursor, child->top) == NULL)
        return luaL_error(L, "out of memory");
    lua_settop(L, 1);
    return 1;
}

/* ---- reading ---- */

static int matches(mynah_element *el, const char *name, const char *ns)
{
    return (name == NULL || strcmp(lua_api->element_name(el), name) == 0) &&
           (ns == NULL || strcmp(lua_api->element_xmlns(el), ns) == 0);
}

/* The first child of el named `name` (NULL: any) in `ns` (NULL: el's). */
static mynah_element *find_child(mynah_element *el, const char *name,
                                 const char *ns)
{
    if (ns == NULL)
        ns = lua_api->element_xmlns(el);
    for (mynah_element *c = lua_api->element_first_child(el); c;
         c = lua_api->element_next_sibling(c))
        if (matches(c, name, ns))
            return c;
    return NULL;
}

static int m_get_child(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    mynah_element *c = find_child(v->top, luaL_optstring(L, 2, NULL),
                                  luaL_optstring(L, 3, NULL));
    if (c == NULL)
        return 0;
    push_view(L, v->box, c);
    return 1;
}

static int m_get_child_text(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    mynah_element *c = find_child(v->top, luaL_optstring(L, 2, NULL),
                                  luaL_optstring(L, 3, NULL));
    if (c == NULL)
        return 0;
    lua_pushstring(L, lua_api->element_text(c));
    return 1;
}

static int m_get_text(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    lua_pushstring(L, lua_api->element_text(v->top));
    return 1;
}

/* Iterator state in upvalues: the view (1), name (2), ns (3), and the
 * next child as a light userdata (4). */
static int childtags_next(lua_State *L)
{
    stanza_view *v = check_view(L, lua_upvalueindex(1));
    const char *name = lua_tostring(L, lua_upvalueindex(2));
    const char *ns = lua_tostring(L, lua_upvalueindex(3));
    mynah_element *c = lua_touserdata(L, lua_upvalueindex(4));
    while (c != NULL && !matches(c, name, ns))
        c = lua_api->element_next_sibling(c);
    if (c == NULL)
        return 0;
    lua_pushlightuserdata(L, lua_api->element_next_sibling(c));
    lua_replace(L, lua_upvalueindex(4));
    push_view(L, v->box, c);
    return 1;
}

/* s:childtags([name [, ns]]): name nil = any; ns nil = the element's own.
 * s:children(): every child element, whatever its namespace. */
static int push_child_iterator(lua_State *L, int any_ns)
{
    stanza_view *v = check_view(L, 1);
    lua_pushvalue(L, 1);
    if (lua_isnoneornil(L, 2))
        lua_pushnil(L);
    else
        lua_pushstring(L, luaL_checkstring(L, 2));
    if (any_ns)
        lua_pushnil(L);
    else if (!lua_isnoneornil(L, 3))
        lua_pushstring(L, luaL_checkstring(L, 3));
    else
        lua_pushstring(L, lua_api->element_xmlns(v->top));
    lua_pushlightuserdata(L, lua_api->element_first_child(v->top));
    lua_pushcclosure(L, childtags_next, 4);
    return 1;
}

static int m_childtags(lua_State *L)
{
    return push_child_iterator(L, 0);
}

static int m_children(lua_State *L)
{
    lua_settop(L, 1);
    return push_child_iterator(L, 1);
}

static int m_find(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    const char *p = luaL_checkstring(L, 2);
    mynah_element *el = v->top;
    for (;;) {
        /* one step: ["{" ns "}"] name */
        const char *ns = NULL;
        size_t ns_len = 0;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (close == NULL)
                return luaL_error(L, "find: '{' without '}' in the path");
            ns = p + 1;
            ns_len = (size_t)(close - ns);
            p = close + 1;
        }
        size_t name_len = strcspn(p, "/@#");
        lua_pushlstring(L, ns ? ns : "", ns_len);
        lua_pushlstring(L, p, name_len);
        p += name_len;
        if (name_len > 0) {
            el = find_child(el, lua_tostring(L, -1),
                            ns ? lua_tostring(L, -2) : NULL);
            if (el == NULL)
                return 0;
        }
        lua_pop(L, 2);
        if (*p == '/') {
            p++;
            continue;
        }
        if (*p == '#') {
            lua_pushstring(L, lua_api->element_text(el));
            return 1;
        }
        if (*p == '@') {
            const char *value = lua_api->element_attr(el, p + 1);
            if (value == NULL)
                return 0;
            lua_pushstring(L, value);
            return 1;
        }
        push_view(L, v->box, el);
        return 1;
    }
}

/* s:get_error(): type, condition, text of an error stanza. */
static int m_get_error(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    mynah_element *err = find_child(v->top, "error", NULL);
    if (err == NULL)
        return 0;
    const char *type = lua_api->element_attr(err, "type");
    const char *condition = NULL, *text = NULL;
    for (mynah_element *c = lua_api->element_first_child(err); c;
         c = lua_api->element_next_sibling(c)) {
        if (strcmp(lua_api->element_xmlns(c), NS_STANZAS) != 0)
            continue;
        if (strcmp(lua_api->element_name(c), "text") == 0)
            text = lua_api->element_text(c);
        else if (condition == NULL)
            condition = lua_api->element_name(c);
    }
    lua_pushstring(L, type);
    lua_pushstring(L, condition);
    lua_pushstring(L, text);
    return 3;
}

static int m_remove_children(lua_State *L)
{
    stanza_view *v = writable(L, 1);
    const char *name = luaL_optstring(L, 2, NULL);
    const char *ns = luaL_optstring(L, 3, NULL);
    if (ns == NULL)
        ns = lua_api->element_xmlns(v->top);
    mynah_element *c = lua_api->element_first_child(v->top);
    while (c != NULL) {
        mynah_element *next = lua_api->element_next_sibling(c);
        if (matches(c, name, ns)) {
            if (v->cursor == c)
                v->cursor = v->top;
            lua_api->element_remove(c);
        }
        c = next;
    }
    lua_settop(L, 1);
    return 1;
}

/* ---- attributes ---- */

static int attr_get(lua_State *L, stanza_view *v, const char *name)
{
    if (strcmp(name, "xmlns") == 0) {
        lua_pushstring(L, lua_api->element_xmlns(v->top));
        return 1;
    }
    const char *value = lua_api->element_attr(v->top, name);
    if (value == NULL)
        return 0;
    lua_pushstring(L, value);
    return 1;
}

static void attr_set(lua_State *L, stanza_view *v, const char *name, int index)
{
    if (strcmp(name, "xmlns") == 0)
        luaL_error(L, "an element's namespace is set when it is created");
    const char *value = NULL;
    if (lua_type(L, index) == LUA_TNUMBER || lua_type(L, index) == LUA_TSTRING)
        value = lua_tostring(L, index);
    else if (!lua_isnoneornil(L, index))
        luaL_error(L, "attribute '%s' must be a string or nil", name);
    if (lua_api->element_set_attr(v->top, name, value) != 0)
        luaL_error(L, "invalid attribute '%s'", name);
}

/* s:attr(name) reads; s:attr(name, value) writes (nil removes) and
 * returns s. */
static int m_attr(lua_State *L)
{
    const char *name = luaL_checkstring(L, 2);
    if (lua_gettop(L) < 3)
        return attr_get(L, check_view(L, 1), name);
    attr_set(L, writable(L, 1), name, 3);
    lua_settop(L, 1);
    return 1;
}

static int attrs_index(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    stanza_view *v = check_view(L, -1);
    return attr_get(L, v, luaL_checkstring(L, 2));
}

static int attrs_newindex(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    attr_set(L, writable(L, -1), luaL_checkstring(L, 2), 3);
    return 0;
}

static int attrs_next(lua_State *L)
{
    lua_getiuservalue(L, lua_upvalueindex(1), 1);
    stanza_view *v = check_view(L, -1);
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
    const char *value;
    const char *name = lua_api->element_attr_at(v->top, (size_t)i, &value);
    if (name == NULL)
        return 0;
    lua_pushinteger(L, i + 1);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushstring(L, name);
    lua_pushstring(L, value);
    return 2;
}

static int attrs_pairs(lua_State *L)
{
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, attrs_next, 2);
    return 1;
}

/* The attr proxy, made on first use and kept in the view's user value. */
static void push_attr_proxy(lua_State *L, int view)
{
    view = lua_absindex(L, view);
    if (lua_getiuservalue(L, view, 1) == LUA_TUSERDATA)
        return;
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 1);
    lua_pushvalue(L, view);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, ATTR_MT);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, view, 1);
}

/* ---- serialization and copies ---- */

static void add_escaped(luaL_Buffer *b, const char *s, int in_attr)
{
    for (; *s; s++) {
        if (*s == '&')
            luaL_addstring(b, "&amp;");
        else if (*s == '<')
            luaL_addstring(b, "&lt;");
        else if (*s == '>')
            luaL_addstring(b, "&gt;");
        else if (in_attr && *s == '\'')
            luaL_addstring(b, "&apos;");
        else if (in_attr && *s == '"')
            luaL_addstring(b, "&quot;");
        else
            luaL_addchar(b, *s);
    }
}

/* An element that is not a stanza's root: its namespace is written when
 * it differs from its parent's. */
static void serialize_element(luaL_Buffer *b, mynah_element *el,
                              const char *parent_ns)
{
    const char *name = lua_api->element_name(el);
    const char *ns = lua_api->element_xmlns(el);
    luaL_addchar(b, '<');
    luaL_addstring(b, name);
    if (parent_ns == NULL || strcmp(ns, parent_ns) != 0) {
        luaL_addstring(b, " xmlns='");
        add_escaped(b, ns, 1);
        luaL_addchar(b, '\'');
    }
    const char *value;
    const char *attr;
    for (size_t i = 0; (attr = lua_api->element_attr_at(el, i, &value)); i++) {
        luaL_addchar(b, ' ');
        luaL_addstring(b, attr);
        luaL_addstring(b, "='");
        add_escaped(b, value, 1);
        luaL_addchar(b, '\'');
    }
    const char *text = lua_api->element_text(el);
    mynah_element *child = lua_api->element_first_child(el);
    if (text[0] == '\0' && child == NULL) {
        luaL_addstring(b, "/>");
        return;
    }
    luaL_addchar(b, '>');
    add_escaped(b, text, 0);
    for (; child; child = lua_api->element_next_sibling(child))
        serialize_element(b, child, ns);
    luaL_addstring(b, "</");
    luaL_addstring(b, name);
    luaL_addchar(b, '>');
}

static int view_tostring(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    if (v->top == lua_api->stanza_root(v->box->stanza)) {
        size_t len;
        char *xml = lua_api->stanza_to_string(v->box->stanza, &len);
        if (xml == NULL)
            return luaL_error(L, "out of memory");
        lua_pushlstring(L, xml, len);
        free(xml);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    serialize_element(&b, v->top, NULL);
    luaL_pushresult(&b);
    return 1;
}

/* st.clone(s) / s:clone(): a new stanza the script may change. */
static int st_clone(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    stanza_view *out = push_empty_view(L);
    mynah_stanza *copy;
    if (v->top == lua_api->stanza_root(v->box->stanza)) {
        copy = lua_api->stanza_copy(v->box->stanza);
    } else {
        copy = lua_api->stanza_new(lua_api->element_name(v->top),
                                   lua_api->element_xmlns(v->top));
        if (copy != NULL) {
            mynah_element *root = lua_api->stanza_root(copy);
            const char *value, *name;
            for (size_t i = 0; (name = lua_api->element_attr_at(v->top, i, &value)); i++)
                lua_api->element_set_attr(root, name, value);
            const char *text = lua_api->element_text(v->top);
            if (text[0] != '\0')
                lua_api->element_add_text(root, text, strlen(text));
            for (mynah_element *c = lua_api->element_first_child(v->top); c;
                 c = lua_api->element_next_sibling(c))
                copy_into(root, c);
        }
    }
    attach(L, out, copy, 0);
    return 1;
}

static int st_reply(lua_State *L)
{
    mynah_stanza *s = stanzalib_check(L, 1);
    stanza_view *out = push_empty_view(L);
    attach(L, out, lua_api->stanza_reply(s), 0);
    return 1;
}

/* st.error_reply(s, type, condition [, text]) */
static int st_error_reply(lua_State *L)
{
    mynah_stanza *s = stanzalib_check(L, 1);
    const char *type = luaL_checkstring(L, 2);
    const char *condition = luaL_checkstring(L, 3);
    const char *text = luaL_optstring(L, 4, NULL);
    stanza_view *out = push_empty_view(L);
    attach(L, out, lua_api->stanza_error_reply(s, type, condition, text), 0);
    return 1;
}

static int st_is_stanza(lua_State *L)
{
    lua_pushboolean(L, stanzalib_is(L, 1));
    return 1;
}

/* st.parse(xml): a stanza, or nil and a message. */
static int st_parse(lua_State *L)
{
    size_t len;
    const char *xml = luaL_checklstring(L, 1, &len);
    stanza_view *out = push_empty_view(L);
    mynah_stanza *s = lua_api->stanza_parse(xml, len);
    if (s == NULL) {
        lua_pushnil(L);
        lua_pushliteral(L, "not a well-formed XML element (or one XMPP "
                        "does not allow)");
        return 2;
    }
    attach(L, out, s, 0);
    return 1;
}

static int view_index(lua_State *L)
{
    stanza_view *v = check_view(L, 1);
    const char *key = lua_tostring(L, 2);
    if (key != NULL) {
        if (strcmp(key, "attr") == 0) {
            push_attr_proxy(L, 1);
            return 1;
        }
        if (strcmp(key, "name") == 0) {
            lua_pushstring(L, lua_api->element_name(v->top));
            return 1;
        }
    }
    luaL_getmetafield(L, 1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static const luaL_Reg view_methods[] = {
    {"tag", m_tag},
    {"text", m_text},
    {"up", m_up},
    {"reset", m_reset},
    {"add_child", m_add_child},
    {"get_child", m_get_child},
    {"get_child_text", m_get_child_text},
    {"get_text", m_get_text},
    {"childtags", m_childtags},
    {"children", m_children},
    {"find", m_find},
    {"get_error", m_get_error},
    {"remove_children", m_remove_children},
    {"attr", m_attr},
    {"clone", st_clone},
    {"reply", st_reply},
    {"error_reply", st_error_reply},
    {NULL, NULL}};

int luaopen_mynah_stanza(lua_State *L)
{
    if (luaL_newmetatable(L, STANZA_MT)) {
        luaL_newlib(L, view_methods);
        lua_setfield(L, -2, "methods");
        lua_pushcfunction(L, view_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, view_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, view_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "mynah.stanza");
        lua_setfield(L, -2, "__name");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, ATTR_MT)) {
        lua_pushcfunction(L, attrs_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, attrs_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, attrs_pairs);
        lua_setfield(L, -2, "__pairs");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    static const luaL_Reg lib[] = {
        {"stanza", st_stanza},
        {"message", st_message},
        {"presence", st_presence},
        {"iq", st_iq},
        {"reply", st_reply},
        {"error_reply", st_error_reply},
        {"clone", st_clone},
        {"is_stanza", st_is_stanza},
        {"parse", st_parse},
        {NULL, NULL}};
    luaL_newlib(L, lib);
    return 1;
}
