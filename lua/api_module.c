/*
 * The `module` object of a Lua module: the C module API with Lua idioms
 * (doc/lua-modules.md is the reference).
 *
 * Each instance (a module on a host) has its own module table; its methods
 * are shared per state and find their instance through a private key in
 * the table, so `module:hook(...)` must be called with ':'.
 *
 * When a script is opened (for `mynahctl check` and the config checker),
 * its top level runs once with a declaring `module`: module:options{},
 * module:depends() and module:get_option_*() are recorded, and the first
 * other use of `module` ends that pass (lmodule_declaration_done is raised
 * and caught) -- declarations go at the top.
 */
#include "mod_lua.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

char lmodule_declaration_done;
static char ctx_key;
static char methods_key;
static char declaring_methods_key;

/* The instance a method was called on (arg 1 is the module table). */
lua_ctx *lmodule_ctx(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TTABLE)
        luaL_error(L, "call module methods with ':' (module:hook(...), not "
                   "module.hook(...))");
    lua_rawgetp(L, 1, &ctx_key);
    lua_ctx **box = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (box == NULL)
        luaL_error(L, "call module methods with ':' on the module object");
    if (*box == NULL)
        luaL_error(L, "this module was unloaded");
    return *box;
}

static void stop_declaring(lua_State *L)
{
    lua_pushlightuserdata(L, &lmodule_declaration_done);
    lua_error(L);
}

/* ---- options ---- */

static int option_declared_default(lua_ctx *ctx, const char *name)
{
    for (const mynah_option_spec *o = ctx->script->desc.options; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o->default_value != NULL;
    return 0;
}

static void push_option_array(lua_State *L, lua_ctx *ctx, const char *name,
                              int as_set)
{
    size_t n = lua_api->option_array_length(ctx->module, ctx->host, name);
    lua_createtable(L, as_set ? 0 : (int)n, as_set ? (int)n : 0);
    for (size_t i = 0; i < n; i++) {
        const char *item = lua_api->option_array_item(ctx->module, ctx->host,
                                                      name, i);
        if (item == NULL)
            continue;
        if (as_set) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, item);
        } else {
            lua_pushstring(L, item);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    }
}

/* What module:get_option_<type>(name, default) returns at run time: the
 * configured value, else the declared default, else `default`. */
static int get_option(lua_State *L, enum mynah_option_type type)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *name = luaL_checkstring(L, 2);
    int has_default = option_declared_default(ctx, name);
    lua_settop(L, 3);
    switch (type) {
    case MYNAH_OPTION_STRING: {
        const char *v = lua_api->option_string(ctx->module, ctx->host, name);
        if (v == NULL)
            return 1; /* the default argument */
        lua_pushstring(L, v);
        return 1;
    }
    case MYNAH_OPTION_INTEGER:
    case MYNAH_OPTION_NUMBER: {
        double d = lua_api->option_number(ctx->module, ctx->host, name);
        /* 0 is also what an unset option without a default reads as */
        if (d == 0 && !has_default && !lua_isnil(L, 3))
            return 1;
        if (type == MYNAH_OPTION_INTEGER && d == floor(d) && fabs(d) < 9e15)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, d);
        return 1;
    }
    case MYNAH_OPTION_BOOLEAN: {
        int b = lua_api->option_boolean(ctx->module, ctx->host, name);
        if (!b && !has_default && !lua_isnil(L, 3))
            return 1;
        lua_pushboolean(L, b);
        return 1;
    }
    default: {
        if (lua_api->option_array_length(ctx->module, ctx->host, name) == 0 &&
            !lua_isnil(L, 3))
            return 1;
        push_option_array(L, ctx, name, type == MYNAH_OPTION_TABLE);
        return 1;
    }
    }
}

static int m_get_option_string(lua_State *L) { return get_option(L, MYNAH_OPTION_STRING); }
static int m_get_option_number(lua_State *L) { return get_option(L, MYNAH_OPTION_NUMBER); }
static int m_get_option_integer(lua_State *L) { return get_option(L, MYNAH_OPTION_INTEGER); }
static int m_get_option_boolean(lua_State *L) { return get_option(L, MYNAH_OPTION_BOOLEAN); }
static int m_get_option_array(lua_State *L) { return get_option(L, MYNAH_OPTION_ARRAY); }
/* A set: { item = true }; the TABLE tag only selects that shape here. */
static int m_get_option_set(lua_State *L) { return get_option(L, MYNAH_OPTION_TABLE); }

/* module:get_option(name, default): by the declared type, else a string
 * or a list. */
static int m_get_option(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *name = luaL_checkstring(L, 2);
    int type = script_option_type(ctx->script, name);
    if (type == MYNAH_OPTION_ARRAY || type == MYNAH_OPTION_INTEGER ||
        type == MYNAH_OPTION_NUMBER || type == MYNAH_OPTION_BOOLEAN ||
        type == MYNAH_OPTION_STRING)
        return get_option(L, (enum mynah_option_type)type);
    if (lua_api->option_string(ctx->module, ctx->host, name) != NULL)
        return get_option(L, MYNAH_OPTION_STRING);
    return get_option(L, MYNAH_OPTION_ARRAY);
}

/* At run time the declarations were read already. */
static int m_declared(lua_State *L)
{
    lmodule_ctx(L);
    return 0;
}

/* ---- declaring ---- */

static int d_options(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    script_declare_options(L, 2, ctx->script);
    return 0;
}

static int d_depends(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *name = luaL_checkstring(L, 2);
    lua_script *s = ctx->script;
    size_t n = 0;
    while (s->depends && s->depends[n]) {
        if (strcmp(s->depends[n], name) == 0)
            return 0;
        n++;
    }
    char **grown = realloc(s->depends, (n + 2) * sizeof *grown);
    if (grown == NULL)
        return luaL_error(L, "out of memory");
    s->depends = grown;
    s->depends[n] = strdup(name);
    s->depends[n + 1] = NULL;
    s->desc.depends = (const char *const *)s->depends;
    return 0;
}

static int declare_read(lua_State *L, enum mynah_option_type type)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *name = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    script_declare_read(L, ctx->script, name, type, 3);
    if (lua_isnil(L, 3) && (type == MYNAH_OPTION_ARRAY ||
                            type == MYNAH_OPTION_TABLE)) {
        lua_newtable(L);
        return 1;
    }
    if (type == MYNAH_OPTION_TABLE && lua_istable(L, 3)) {
        /* get_option_set's default is a list; it reads as a set */
        lua_newtable(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 3, i);
            lua_pushboolean(L, 1);
            lua_rawset(L, -3);
        }
        return 1;
    }
    return 1;
}

static int d_get_option_string(lua_State *L) { return declare_read(L, MYNAH_OPTION_STRING); }
static int d_get_option_number(lua_State *L) { return declare_read(L, MYNAH_OPTION_NUMBER); }
static int d_get_option_integer(lua_State *L) { return declare_read(L, MYNAH_OPTION_INTEGER); }
static int d_get_option_boolean(lua_State *L) { return declare_read(L, MYNAH_OPTION_BOOLEAN); }
static int d_get_option_array(lua_State *L) { return declare_read(L, MYNAH_OPTION_ARRAY); }
static int d_get_option_set(lua_State *L) { return declare_read(L, MYNAH_OPTION_TABLE); }

static int d_get_option(lua_State *L)
{
    lua_settop(L, 3);
    enum mynah_option_type type = MYNAH_OPTION_STRING;
    switch (lua_type(L, 3)) {
    case LUA_TNUMBER: type = MYNAH_OPTION_NUMBER; break;
    case LUA_TBOOLEAN: type = MYNAH_OPTION_BOOLEAN; break;
    case LUA_TTABLE: type = MYNAH_OPTION_ARRAY; break;
    default: break;
    }
    return declare_read(L, type);
}

static int declaring_index(lua_State *L)
{
    const char *key = lua_tostring(L, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &declaring_methods_key);
    if (key != NULL && lua_getfield(L, -1, key) != LUA_TNIL)
        return 1;
    stop_declaring(L);
    return 0;
}

/* ---- hooks ---- */

/* The event table: name, host, stanza (a read-only view), origin (a
 * session object), and for "stream-features" `features`: a writable view
 * of the <stream:features/> being built, to add children to with :tag(). */
static void push_event(lua_State *co, lua_task *t, mynah_event *ev)
{
    lua_createtable(co, 0, 5);
    lua_pushstring(co, lua_api->event_name(ev));
    lua_setfield(co, -2, "name");
    mynah_host *host = lua_api->event_host(ev);
    if (host != NULL) {
        lua_pushstring(co, lua_api->host_name(host));
        lua_setfield(co, -2, "host");
    }
    mynah_stanza *stanza = lua_api->event_stanza(ev);
    if (stanza != NULL) {
        stanzalib_push(co, stanza, 1);
        lua_setfield(co, -2, "stanza");
    }
    if (lua_api->event_features(ev) != NULL && stanza != NULL) {
        /* The features stanza belongs to the stream being set up and
         * nobody else holds it: handlers may add to it. */
        stanzalib_push(co, stanza, 0);
        lua_setfield(co, -2, "features");
    }
    mynah_session *origin = lua_api->event_origin(ev);
    if (origin != NULL) {
        sessionlib_push(co, t->ctx, origin, 1);
        lua_pushvalue(co, -1);
        t->origin_ref = luaL_ref(co, LUA_REGISTRYINDEX);
        lua_setfield(co, -2, "origin");
    }
}

int lmodule_result(lua_State *L, int index)
{
    switch (lua_type(L, index)) {
    case LUA_TNONE:
    case LUA_TNIL:
        return MYNAH_PASS;
    case LUA_TBOOLEAN:
        return lua_toboolean(L, index) ? MYNAH_HANDLED : MYNAH_PASS;
    case LUA_TSTRING:
        return strcmp(lua_tostring(L, index), "pass") == 0 ? MYNAH_PASS
                                                           : MYNAH_HANDLED;
    default:
        return MYNAH_HANDLED;
    }
}

/*
 * RFC 6120 §8.3: an error answers a request or a message, never an error
 * (§8.3.1), an iq result, a presence broadcast (no 'to'), or unavailable
 * presence (nobody waits for an answer to those).
 */
void lmodule_error_reply(lua_ctx *ctx, mynah_stanza *stanza,
                         const char *condition)
{
    (void)ctx;
    if (stanza == NULL)
        return;
    mynah_element *root = lua_api->stanza_root(stanza);
    const char *name = lua_api->element_name(root);
    const char *type = lua_api->element_attr(root, "type");
    if (lua_api->element_attr(root, "from") == NULL)
        return;
    if (type != NULL && strcmp(type, "error") == 0)
        return;
    if (strcmp(name, "iq") == 0 &&
        (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)))
        return;
    if (strcmp(name, "presence") == 0 &&
        (lua_api->element_attr(root, "to") == NULL ||
         (type != NULL && strcmp(type, "unavailable") == 0)))
        return;
    mynah_stanza *reply = lua_api->stanza_error_reply(stanza, "cancel",
                                                      condition, NULL);
    if (reply != NULL)
        lua_api->route(reply);
}

/* A handler that waited has finished (or its module went away: -1). */
static void hook_task_done(lua_task *t, int status)
{
    mynah_event *ev = t->event;
    t->event = NULL;
    mynah_stanza *stanza = ev ? lua_api->event_stanza(ev) : NULL;
    const char *type = NULL, *name = NULL;
    if (stanza != NULL) {
        mynah_element *root = lua_api->stanza_root(stanza);
        type = lua_api->element_attr(root, "type");
        name = lua_api->element_name(root);
    }
    int request = name && strcmp(name, "iq") == 0 && type &&
                  (strcmp(type, "get") == 0 || strcmp(type, "set") == 0);
    if (status == LUA_OK) {
        /* The chain stopped when the handler began to wait: a request it
         * then leaves unanswered gets the answer the core would give. */
        int passed = t->nresults == 0 ||
                     lmodule_result(t->co, -t->nresults) == MYNAH_PASS;
        if (passed && request)
            lmodule_error_reply(t->ctx, stanza, "service-unavailable");
    } else if (status == -1) {
        if (request)
            lmodule_error_reply(t->ctx, stanza, "service-unavailable");
    } else {
        ctx_log(t->ctx, MYNAH_LOG_ERROR, "error in a handler of %s: %s",
                ev ? lua_api->event_name(ev) : "an event",
                task_error_message(t));
        lmodule_error_reply(t->ctx, stanza, "internal-server-error");
    }
    if (ev != NULL)
        lua_api->async_done(ev);
}

static int run_hook(lua_ctx *ctx, lua_hook_entry *h, mynah_event *ev);

static int hook_handler(mynah_event *ev, void *userdata)
{
    lua_hook_entry *h = userdata;
    lua_ctx *ctx = h->ctx;
    if (ctx->dead)
        return MYNAH_PASS;
    /* Fired from inside the same state's running code (a bot's stanza
     * reaching the bot's own hook): no cap for this nested run. */
    int nested = sandbox_alloc_active(ctx->alloc);
    if (nested)
        sandbox_alloc_suspend(ctx->alloc, 1);
    int r = run_hook(ctx, h, ev);
    if (nested)
        sandbox_alloc_suspend(ctx->alloc, 0);
    return r;
}

static int run_hook(lua_ctx *ctx, lua_hook_entry *h, mynah_event *ev)
{
    lua_task *t = task_new(ctx, 1);
    if (t == NULL)
        return MYNAH_PASS;
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, h->fn_ref);
    push_event(t->co, t, ev);
    int status = task_run(t, 1);
    if (status == LUA_OK) {
        int r = t->nresults > 0 ? lmodule_result(t->co, -t->nresults)
                                : MYNAH_PASS;
        task_free(t);
        return r;
    }
    if (status == LUA_YIELD) {
        t->event = lua_api->event_ref(ev);
        t->done = hook_task_done;
        return MYNAH_ASYNC;
    }
    ctx_log(ctx, MYNAH_LOG_ERROR, "error in a handler of %s: %s",
            lua_api->event_name(ev), task_error_message(t));
    task_free(t);
    mynah_stanza *stanza = lua_api->event_stanza(ev);
    if (stanza == NULL)
        return MYNAH_PASS;
    lmodule_error_reply(ctx, stanza, "internal-server-error");
    return MYNAH_HANDLED;
}

static int add_hook(lua_State *L, int global)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *event = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    lua_Number priority = luaL_optnumber(L, 4, 0);
    if (!(priority >= -1e9 && priority <= 1e9))
        return luaL_error(L, "hook priority out of range");
    lua_hook_entry *h = calloc(1, sizeof *h);
    if (h == NULL || (h->event = strdup(event)) == NULL) {
        free(h);
        return luaL_error(L, "out of memory");
    }
    h->ctx = ctx;
    h->global = global;
    lua_pushvalue(L, 3);
    h->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (lua_api->hook(ctx->module, global ? NULL : ctx->host, event,
                      hook_handler, h, (int)lround(priority)) != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, h->fn_ref);
        free(h->event);
        free(h);
        return luaL_error(L, "cannot hook '%s'", event);
    }
    h->next = ctx->hooks;
    ctx->hooks = h;
    return 0;
}

static int m_hook(lua_State *L) { return add_hook(L, 0); }
static int m_hook_global(lua_State *L) { return add_hook(L, 1); }

static void hook_free(lua_ctx *ctx, lua_hook_entry *h)
{
    lua_api->unhook(ctx->module, h->global ? NULL : ctx->host, h->event,
                    hook_handler, h);
    luaL_unref(ctx->L, LUA_REGISTRYINDEX, h->fn_ref);
    free(h->event);
    free(h);
}

/* module:unhook(event, fn): the handler registered with that function. */
static int m_unhook(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *event = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    for (lua_hook_entry **link = &ctx->hooks; *link; link = &(*link)->next) {
        lua_hook_entry *h = *link;
        if (strcmp(h->event, event) != 0)
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn_ref);
        int same = lua_rawequal(L, -1, 3);
        lua_pop(L, 1);
        if (!same)
            continue;
        *link = h->next;
        hook_free(ctx, h);
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* ---- discovery, sending, the rest ---- */

static int m_add_feature(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    if (lua_api->add_feature(ctx->module, ctx->host, luaL_checkstring(L, 2)) != 0)
        return luaL_error(L, "cannot add the feature");
    return 0;
}

static int m_add_identity(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    if (lua_api->add_identity(ctx->module, ctx->host, luaL_checkstring(L, 2),
                              luaL_checkstring(L, 3),
                              luaL_optstring(L, 4, NULL)) != 0)
        return luaL_error(L, "cannot add the identity");
    return 0;
}

/* A stanza the module sends without a 'from' comes from its host. */
static mynah_stanza *outgoing(lua_State *L, lua_ctx *ctx, int index)
{
    mynah_stanza *s = stanzalib_check(L, index);
    mynah_element *root = lua_api->stanza_root(s);
    if (lua_api->element_attr(root, "from") == NULL && ctx->host != NULL) {
        lua_getfield(L, index, "attr");
        lua_pushstring(L, lua_api->host_name(ctx->host));
        lua_setfield(L, -2, "from"); /* raises if the stanza is read-only */
        lua_pop(L, 1);
    }
    return stanzalib_take(L, index);
}

static int m_send(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    mynah_stanza *s = outgoing(L, ctx, 2);
    lua_pushboolean(L, lua_api->route(s) == 0);
    return 1;
}

typedef struct iq_request {
    lua_task *task;  /* NULL when nobody waits any more */
    int in_call;
    int done;
    mynah_stanza *reply; /* a reference, or NULL (timeout) */
} iq_request;

static int iq_push_result(lua_State *L, mynah_stanza *reply)
{
    if (reply == NULL) {
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        return 2;
    }
    stanzalib_push(L, reply, 1);
    lua_api->stanza_unref(reply);
    return 1;
}

static void iq_answered(mynah_stanza *reply, void *userdata)
{
    iq_request *req = userdata;
    if (req->in_call) {
        req->reply = reply ? lua_api->stanza_ref(reply) : NULL;
        req->done = 1;
        return;
    }
    lua_task *t = req->task;
    free(req);
    if (t == NULL)
        return;
    t->wait_slot = NULL;
    task_continue(t, iq_push_result(t->co, reply ? lua_api->stanza_ref(reply)
                                                 : NULL));
}

/* module:send_iq(iq [, timeout]): waits for the answer; returns the reply
 * stanza (type result or error), or nil and "timeout". */
int lmodule_send_iq(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    lua_task *t = task_prepare_wait(L, "module:send_iq");
    double timeout = luaL_optnumber(L, 3, ctx->iq_timeout);
    mynah_stanza *iq = outgoing(L, ctx, 2);
    iq_request *req = calloc(1, sizeof *req);
    if (req == NULL) {
        lua_api->stanza_unref(iq);
        return luaL_error(L, "out of memory");
    }
    req->in_call = 1;
    if (lua_api->send_iq(ctx->module, iq, iq_answered, req, timeout) != 0) {
        free(req);
        return luaL_error(L, "send_iq needs an iq of type get or set with "
                          "'to' and 'from'");
    }
    req->in_call = 0;
    if (req->done) {
        mynah_stanza *reply = req->reply;
        free(req);
        return iq_push_result(L, reply);
    }
    req->task = t;
    t->wait_slot = &req->task;
    return task_wait(L, t, NULL, 0);
}

static int m_open_store(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *name = luaL_optstring(L, 2, ctx->script->name);
    const char *kind = luaL_optstring(L, 3, "keyval");
    int raw = 0;
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "raw");
        raw = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (ctx->host == NULL)
        return luaL_error(L, "stores belong to a host");
    return storelib_open(L, ctx, name, kind, raw);
}

static int m_add_timer(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    return timerlib_add(L, ctx, luaL_checknumber(L, 2), 3);
}

/* module:log(level, format, ...): string.format when there are
 * arguments, the text as is otherwise. */
static int m_log(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    int level = luaL_checkoption(L, 2, "info", levels);
    const char *text;
    if (lua_gettop(L) > 3) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, "string");
        lua_getfield(L, -1, "format");
        lua_replace(L, -3);
        lua_pop(L, 1);
        lua_insert(L, 3);
        lua_call(L, lua_gettop(L) - 3, 1);
        text = lua_tostring(L, -1);
    } else {
        text = luaL_checkstring(L, 3);
    }
    ctx_log(ctx, level, "%s", text ? text : "");
    return 0;
}

/* module:fire_event(name [, stanza]): true when a handler took it. */
static int m_fire_event(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    const char *name = luaL_checkstring(L, 2);
    mynah_stanza *s = lua_isnoneornil(L, 3) ? NULL : stanzalib_check(L, 3);
    lua_pushboolean(L, lua_api->fire(ctx->host, name, s, NULL) != MYNAH_PASS);
    return 1;
}

/* module:sessions(): iterator over the host's bound sessions (a snapshot
 * taken now). */
static int sessions_next(lua_State *L)
{
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(2)) + 1;
    lua_pushinteger(L, i);
    lua_replace(L, lua_upvalueindex(2));
    lua_rawgeti(L, lua_upvalueindex(1), i);
    return 1;
}

static int m_sessions(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    lua_newtable(L);
    lua_Integer n = 0;
    for (mynah_session *s = lua_api->session_next(ctx->host, NULL); s;
         s = lua_api->session_next(ctx->host, s)) {
        sessionlib_push(L, ctx, s, 0);
        lua_rawseti(L, -2, ++n);
    }
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, sessions_next, 2);
    return 1;
}

static int m_get_host(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    if (ctx->host == NULL)
        return 0;
    lua_pushstring(L, lua_api->host_name(ctx->host));
    return 1;
}

static const luaL_Reg runtime_methods[] = {
    {"hook", m_hook},
    {"hook_global", m_hook_global},
    {"unhook", m_unhook},
    {"add_feature", m_add_feature},
    {"add_identity", m_add_identity},
    {"get_option", m_get_option},
    {"get_option_string", m_get_option_string},
    {"get_option_number", m_get_option_number},
    {"get_option_integer", m_get_option_integer},
    {"get_option_boolean", m_get_option_boolean},
    {"get_option_array", m_get_option_array},
    {"get_option_set", m_get_option_set},
    {"options", m_declared},
    {"depends", m_declared},
    {"open_store", m_open_store},
    {"send", m_send},
    {"send_iq", lmodule_send_iq},
    {"add_timer", m_add_timer},
    {"log", m_log},
    {"fire_event", m_fire_event},
    {"sessions", m_sessions},
    {"get_host", m_get_host},
    {NULL, NULL}};

static const luaL_Reg declaring_methods[] = {
    {"options", d_options},
    {"depends", d_depends},
    {"get_option", d_get_option},
    {"get_option_string", d_get_option_string},
    {"get_option_number", d_get_option_number},
    {"get_option_integer", d_get_option_integer},
    {"get_option_boolean", d_get_option_boolean},
    {"get_option_array", d_get_option_array},
    {"get_option_set", d_get_option_set},
    {NULL, NULL}};

/* The metatable of every module table of a state (made on first use). */
static void push_module_metatable(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &methods_key) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_newlib(L, runtime_methods);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &methods_key);
}

void lmodule_push(lua_State *L, lua_ctx *ctx, int declaring)
{
    lua_createtable(L, 0, 4);
    int module = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->box_ref);
    lua_rawsetp(L, module, &ctx_key);
    lua_pushstring(L, ctx->script->name);
    lua_setfield(L, module, "name");
    if (declaring) {
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &declaring_methods_key) == LUA_TNIL) {
            lua_pop(L, 1);
            luaL_newlib(L, declaring_methods);
            lua_pushvalue(L, -1);
            lua_rawsetp(L, LUA_REGISTRYINDEX, &declaring_methods_key);
        }
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushcfunction(L, declaring_index);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, module);
        return;
    }
    if (ctx->host != NULL) {
        lua_pushstring(L, lua_api->host_name(ctx->host));
        lua_setfield(L, module, "host");
    }
    push_module_metatable(L);
    lua_setmetatable(L, module);
}

/* The methods table, for objects that extend the module's (bots). */
void lmodule_push_methods(lua_State *L)
{
    push_module_metatable(L);
    lua_getfield(L, -1, "__index");
    lua_remove(L, -2);
}

/* Marks a table as belonging to ctx, so that module methods work on it. */
void lmodule_bind(lua_State *L, int index, lua_ctx *ctx)
{
    index = lua_absindex(L, index);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->box_ref);
    lua_rawsetp(L, index, &ctx_key);
}

void lmodule_release(lua_ctx *ctx)
{
    while (ctx->hooks != NULL) {
        lua_hook_entry *h = ctx->hooks;
        ctx->hooks = h->next;
        hook_free(ctx, h);
    }
}

/* module.load(), module.unload(), module.save(), module.restore(data):
 * plain functions (no self), run to completion.  value_ref is passed as
 * the argument (LUA_NOREF: none); the first result is referenced into
 * *result_ref when asked.  -1 when it raised (logged). */
int lmodule_lifecycle(lua_ctx *ctx, const char *name, int value_ref,
                      int *result_ref)
{
    if (result_ref != NULL)
        *result_ref = LUA_NOREF;
    lua_State *L = ctx->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->self_ref);
    int type = lua_getfield(L, -1, name);
    lua_pop(L, 2);
    if (type != LUA_TFUNCTION)
        return 0;
    lua_task *t = task_new(ctx, 0);
    if (t == NULL)
        return -1;
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, ctx->self_ref);
    lua_getfield(t->co, -1, name);
    lua_remove(t->co, -2);
    int nargs = 0;
    if (value_ref != LUA_NOREF) {
        lua_rawgeti(t->co, LUA_REGISTRYINDEX, value_ref);
        nargs = 1;
    }
    int status = task_run(t, nargs);
    if (status != LUA_OK) {
        ctx_log(ctx, MYNAH_LOG_ERROR, "error in module.%s: %s", name,
                task_error_message(t));
        task_free(t);
        return -1;
    }
    if (result_ref != NULL && t->nresults > 0) {
        lua_pushvalue(t->co, -t->nresults);
        *result_ref = luaL_ref(t->co, LUA_REGISTRYINDEX);
    }
    task_free(t);
    return 0;
}
