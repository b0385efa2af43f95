/*
 * module:open_store(name, kind [, { raw = true }]): the storage API for
 * Lua.
 *
 *   keyval   store:get(user)              -> value | nil
 *            store:set(user, value)       -> true  (nil removes)
 *   map      store:get(user, key)         -> value | nil
 *            store:set(user, key, value)  -> true  (nil removes)
 *            store:list(user)             -> { key = value, ... }
 *   archive  store:append(user, when, with, value) -> id
 *               when: seconds since the epoch (nil: now); with: a JID or
 *               tag to filter on (may be nil)
 *            store:find(user [, query])   -> iterator of id, value, when, with
 *            store:delete(user [, query]) -> true
 *               query = { start =, ["end"] = (seconds), with =, after =,
 *                         before = (ids), max =, reverse = }
 *
 * On a storage failure these return nil and a message.  Values are
 * encoded as Lua literals (serialize.c) unless the store was opened raw,
 * where values are byte strings as is (to share a store with a C module).
 *
 * The storage API completes through callbacks.  A driver that answers at
 * once (SQLite) gives the result before the call returns, and nothing
 * yields; otherwise the calling task waits and the callback resumes it.
 * Either way the callback pushes the raw results on the caller's stack and
 * one function turns them into Lua values.
 */
#include "mod_lua.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MT "mynah.store"

typedef struct store_object {
    lua_ctx **box;
    mynah_store *store;
    enum mynah_store_kind kind;
    int raw;
} store_object;

enum store_op { OP_VALUE = 0, OP_DONE, OP_ID, OP_LIST, OP_FIND };

typedef struct raw_item {
    char *id, *with, *data;
    size_t len;
    int64_t when;
} raw_item;

/* One storage call.  The callback copies what it is given here (it may run
 * inside the driver, where a Lua error must not unwind); the results are
 * pushed once the call has returned, or when the waiting task resumes. */
typedef struct store_request {
    lua_State *L;     /* where the results go */
    lua_task *task;   /* who waits; NULL once nobody does */
    int in_call;      /* the storage call has not returned yet */
    int done;
    enum store_op op;
    int status;
    char *data;       /* OP_VALUE, OP_ID */
    size_t len;
    raw_item *items;  /* OP_LIST (id = key), OP_FIND */
    size_t count;
    int complete;
} store_request;

static store_object *check_store(lua_State *L, enum mynah_store_kind kind,
                                 const char *method)
{
    store_object *so = luaL_checkudata(L, 1, STORE_MT);
    if (*so->box == NULL || so->store == NULL)
        luaL_error(L, "this store belongs to a module that was unloaded");
    if (so->kind != kind && !(kind == MYNAH_STORE_KEYVAL &&
                              so->kind == MYNAH_STORE_MAP))
        luaL_error(L, "store:%s is not available on this kind of store",
                   method);
    return so;
}

static void request_free(store_request *req)
{
    free(req->data);
    for (size_t i = 0; i < req->count; i++) {
        free(req->items[i].id);
        free(req->items[i].with);
        free(req->items[i].data);
    }
    free(req->items);
    free(req);
}

static char *copy_bytes(const void *data, size_t len)
{
    char *out = malloc(len + 1);
    if (out != NULL) {
        if (len > 0)
            memcpy(out, data, len);
        out[len] = '\0';
    }
    return out;
}

/* Pushes the raw results (status, then what the op returns); returns
 * how many. */
static int push_raw(lua_State *L, store_request *req)
{
    luaL_checkstack(L, 4, "storage results");
    lua_pushinteger(L, req->status);
    switch (req->op) {
    case OP_DONE:
        return 1;
    case OP_VALUE:
    case OP_ID:
        if (req->data != NULL)
            lua_pushlstring(L, req->data, req->len);
        else
            lua_pushnil(L);
        return 2;
    case OP_LIST:
        lua_createtable(L, 0, (int)req->count);
        for (size_t i = 0; i < req->count; i++) {
            lua_pushlstring(L, req->items[i].data, req->items[i].len);
            lua_setfield(L, -2, req->items[i].id);
        }
        return 2;
    case OP_FIND:
        lua_createtable(L, (int)req->count, 0);
        for (size_t i = 0; i < req->count; i++) {
            raw_item *it = &req->items[i];
            lua_createtable(L, 4, 0);
            lua_pushstring(L, it->id);
            lua_rawseti(L, -2, 1);
            lua_pushlstring(L, it->data, it->len);
            lua_rawseti(L, -2, 2);
            lua_pushnumber(L, (lua_Number)it->when / 1e6);
            lua_rawseti(L, -2, 3);
            lua_pushstring(L, it->with);
            lua_rawseti(L, -2, 4);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_pushboolean(L, req->complete);
        return 3;
    }
    return 1;
}

/* ---- callbacks ---- */

static int request_live(store_request *req)
{
    if (req->in_call || req->task != NULL)
        return 1;
    request_free(req); /* the caller went away (unloaded, or could not wait) */
    return 0;
}

static void request_deliver(store_request *req)
{
    if (req->in_call) {
        req->done = 1;
        return;
    }
    lua_task *t = req->task;
    t->wait_slot = NULL;
    int n = push_raw(t->co, req);
    request_free(req);
    task_continue(t, n);
}

static void cb_value(int status, const void *data, size_t len, void *ud)
{
    store_request *req = ud;
    if (!request_live(req))
        return;
    req->status = status;
    if (status == MYNAH_STORE_OK && data != NULL) {
        req->data = copy_bytes(data, len);
        req->len = len;
        if (req->data == NULL)
            req->status = MYNAH_STORE_ERROR;
    }
    request_deliver(req);
}

static void cb_done(int status, void *ud)
{
    store_request *req = ud;
    if (!request_live(req))
        return;
    req->status = status;
    request_deliver(req);
}

static void cb_id(int status, const char *id, void *ud)
{
    store_request *req = ud;
    if (!request_live(req))
        return;
    req->status = status;
    if (status == MYNAH_STORE_OK && id != NULL) {
        req->data = strdup(id);
        req->len = strlen(id);
        if (req->data == NULL)
            req->status = MYNAH_STORE_ERROR;
    }
    request_deliver(req);
}

static int copy_items(store_request *req, size_t count)
{
    req->items = calloc(count ? count : 1, sizeof *req->items);
    return req->items != NULL ? 0 : -1;
}

static void cb_list(int status, const char *const *keys,
                    const void *const *values, const size_t *lens,
                    size_t count, void *ud)
{
    store_request *req = ud;
    if (!request_live(req))
        return;
    req->status = status;
    if (status == MYNAH_STORE_OK && copy_items(req, count) < 0)
        req->status = MYNAH_STORE_ERROR;
    for (size_t i = 0; req->status == MYNAH_STORE_OK && i < count; i++) {
        if (keys[i] == NULL)
            continue;
        raw_item *it = &req->items[req->count++];
        it->id = strdup(keys[i]);
        it->data = copy_bytes(values[i] ? values[i] : "", lens[i]);
        it->len = lens[i];
        if (it->id == NULL || it->data == NULL)
            req->status = MYNAH_STORE_ERROR;
    }
    request_deliver(req);
}

static void cb_find(int status, const mynah_archive_item *items, size_t count,
                    int complete, void *ud)
{
    store_request *req = ud;
    if (!request_live(req))
        return;
    req->status = status;
    req->complete = complete;
    if (status == MYNAH_STORE_OK && copy_items(req, count) < 0)
        req->status = MYNAH_STORE_ERROR;
    for (size_t i = 0; req->status == MYNAH_STORE_OK && i < count; i++) {
        raw_item *it = &req->items[req->count++];
        it->id = strdup(items[i].id ? items[i].id : "");
        it->with = items[i].with ? strdup(items[i].with) : NULL;
        it->data = copy_bytes(items[i].data ? items[i].data : "", items[i].len);
        it->len = items[i].len;
        it->when = items[i].when;
        if (it->id == NULL || it->data == NULL ||
            (items[i].with != NULL && it->with == NULL))
            req->status = MYNAH_STORE_ERROR;
    }
    request_deliver(req);
}

/* ---- turning raw results into Lua values ---- */

static void decode_at(lua_State *L, int index, int raw)
{
    if (raw) {
        lua_pushvalue(L, index);
        return;
    }
    size_t len;
    const char *s = lua_tolstring(L, index, &len);
    serialize_decode(L, s, len);
}

static int fail(lua_State *L, lua_Integer status)
{
    lua_pushnil(L);
    lua_pushstring(L, status == MYNAH_STORE_NOT_FOUND ? "not found"
                                                      : "storage error");
    return 2;
}

static int find_next(lua_State *L)
{
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(2)) + 1;
    if (lua_rawgeti(L, lua_upvalueindex(1), i) != LUA_TTABLE)
        return 0;
    lua_pushinteger(L, i);
    lua_replace(L, lua_upvalueindex(2));
    int item = lua_gettop(L);
    lua_rawgeti(L, item, 1);
    lua_rawgeti(L, item, 2);
    decode_at(L, -1, lua_toboolean(L, lua_upvalueindex(3)));
    lua_remove(L, -2);
    lua_rawgeti(L, item, 3);
    lua_rawgeti(L, item, 4);
    return 4;
}

/* The raw results start at `first`; op and raw come from kctx. */
static int results(lua_State *L, int first, lua_KContext kctx)
{
    enum store_op op = (enum store_op)(kctx >> 1);
    int raw = (int)(kctx & 1);
    lua_Integer status = lua_tointeger(L, first);
    switch (op) {
    case OP_VALUE:
        if (status == MYNAH_STORE_NOT_FOUND || lua_isnil(L, first + 1))
            return status == MYNAH_STORE_ERROR ? fail(L, status) : 0;
        if (status != MYNAH_STORE_OK)
            return fail(L, status);
        decode_at(L, first + 1, raw);
        return 1;
    case OP_DONE:
        if (status != MYNAH_STORE_OK)
            return fail(L, status);
        lua_pushboolean(L, 1);
        return 1;
    case OP_ID:
        if (status != MYNAH_STORE_OK)
            return fail(L, status);
        lua_pushvalue(L, first + 1);
        return 1;
    case OP_LIST: {
        if (status == MYNAH_STORE_NOT_FOUND) {
            lua_newtable(L);
            return 1;
        }
        if (status != MYNAH_STORE_OK)
            return fail(L, status);
        int rawtable = first + 1;
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, rawtable) != 0) {
            lua_pushvalue(L, -2);
            decode_at(L, -2, raw);
            lua_rawset(L, -5);
            lua_pop(L, 1);
        }
        return 1;
    }
    case OP_FIND:
        if (status != MYNAH_STORE_OK && status != MYNAH_STORE_NOT_FOUND)
            return fail(L, status);
        lua_pushvalue(L, first + 1);
        lua_pushinteger(L, 0);
        lua_pushboolean(L, raw);
        lua_pushcclosure(L, find_next, 3);
        return 1;
    }
    return 0;
}

static int results_continuation(lua_State *L, int status, lua_KContext kctx)
{
    (void)status;
    return results(L, 1, kctx);
}

static store_request *request_new(lua_State *L, enum store_op op)
{
    store_request *req = calloc(1, sizeof *req);
    if (req == NULL)
        luaL_error(L, "out of memory");
    req->L = L;
    req->op = op;
    req->in_call = 1;
    return req;
}

/* After the storage call: the results are on the stack already, or the
 * task waits for them. */
static int finish(lua_State *L, store_request *req, int base, int raw,
                  const char *what)
{
    lua_KContext kctx = ((lua_KContext)req->op << 1) | (raw ? 1 : 0);
    req->in_call = 0;
    if (req->done) {
        push_raw(L, req);
        request_free(req);
        return results(L, base + 1, kctx);
    }
    lua_task *t = task_waitable(L);
    if (t == NULL) {
        /* The driver answers later but this code cannot wait: the
         * callback will find no task and drop the answer. */
        req->task = NULL;
        return luaL_error(L, "%s would wait for the storage driver, which "
                          "cannot be done here (at load time, in "
                          "module.load/unload/save/restore, or in a "
                          "coroutine of the script's own)", what);
    }
    req->task = t;
    t->wait_slot = &req->task;
    return task_wait(L, t, results_continuation, kctx);
}

/* ---- methods ---- */

static int store_get(lua_State *L)
{
    store_object *so = check_store(L, MYNAH_STORE_KEYVAL, "get");
    const char *user = luaL_checkstring(L, 2);
    int base = lua_gettop(L);
    store_request *req;
    if (so->kind == MYNAH_STORE_MAP) {
        const char *key = luaL_checkstring(L, 3);
        base = lua_gettop(L);
        req = request_new(L, OP_VALUE);
        lua_api->map_get(so->store, user, key, cb_value, req);
    } else {
        req = request_new(L, OP_VALUE);
        lua_api->keyval_get(so->store, user, cb_value, req);
    }
    return finish(L, req, base, so->raw, "store:get");
}

/* The value at index as bytes for the store: pushed, so it lives as long
 * as the call.  NULL for nil (removal). */
static const char *value_bytes(lua_State *L, store_object *so, int index,
                               size_t *len)
{
    if (lua_isnoneornil(L, index)) {
        *len = 0;
        return NULL;
    }
    if (so->raw) {
        const char *s = luaL_checklstring(L, index, len);
        lua_pushvalue(L, index);
        return s;
    }
    return serialize_encode(L, index, len);
}

static int store_set(lua_State *L)
{
    store_object *so = check_store(L, MYNAH_STORE_KEYVAL, "set");
    const char *user = luaL_checkstring(L, 2);
    size_t len;
    store_request *req;
    if (so->kind == MYNAH_STORE_MAP) {
        const char *key = luaL_checkstring(L, 3);
        lua_settop(L, 4);
        const char *data = value_bytes(L, so, 4, &len);
        int base = lua_gettop(L);
        req = request_new(L, OP_DONE);
        lua_api->map_set(so->store, user, key, data, len, cb_done, req);
        return finish(L, req, base, so->raw, "store:set");
    }
    lua_settop(L, 3);
    const char *data = value_bytes(L, so, 3, &len);
    int base = lua_gettop(L);
    req = request_new(L, OP_DONE);
    lua_api->keyval_set(so->store, user, data, len, cb_done, req);
    return finish(L, req, base, so->raw, "store:set");
}

static int store_list(lua_State *L)
{
    store_object *so = check_store(L, MYNAH_STORE_MAP, "list");
    const char *user = luaL_checkstring(L, 2);
    int base = lua_gettop(L);
    store_request *req = request_new(L, OP_LIST);
    lua_api->map_list(so->store, user, cb_list, req);
    return finish(L, req, base, so->raw, "store:list");
}

static int64_t to_microseconds(lua_State *L, int index)
{
    lua_Number seconds = luaL_checknumber(L, index);
    return (int64_t)(seconds * 1e6);
}

static int store_append(lua_State *L)
{
    store_object *so = check_store(L, MYNAH_STORE_ARCHIVE, "append");
    const char *user = luaL_checkstring(L, 2);
    lua_settop(L, 5);
    mynah_archive_item item = {0};
    item.when = lua_isnil(L, 3) ? (int64_t)(lua_api->now() * 1e6)
                                : to_microseconds(L, 3);
    item.with = luaL_optstring(L, 4, NULL);
    if (lua_isnil(L, 5))
        return luaL_error(L, "store:append needs a value");
    item.data = value_bytes(L, so, 5, &item.len);
    int base = lua_gettop(L);
    store_request *req = request_new(L, OP_ID);
    lua_api->archive_append(so->store, user, &item, cb_id, req);
    return finish(L, req, base, so->raw, "store:append");
}

static void read_query(lua_State *L, int index, mynah_archive_query *q)
{
    memset(q, 0, sizeof *q);
    if (lua_isnoneornil(L, index))
        return;
    luaL_checktype(L, index, LUA_TTABLE);
    if (lua_getfield(L, index, "start") != LUA_TNIL)
        q->start = to_microseconds(L, -1);
    if (lua_getfield(L, index, "end") != LUA_TNIL)
        q->end = to_microseconds(L, -1);
    if (lua_getfield(L, index, "with") != LUA_TNIL)
        q->with = luaL_checkstring(L, -1);
    if (lua_getfield(L, index, "after") != LUA_TNIL)
        q->after_id = luaL_checkstring(L, -1);
    if (lua_getfield(L, index, "before") != LUA_TNIL)
        q->before_id = luaL_checkstring(L, -1);
    if (lua_getfield(L, index, "max") != LUA_TNIL) {
        lua_Integer max = luaL_checkinteger(L, -1);
        q->max = max > 0 ? (size_t)max : 0;
    }
    lua_getfield(L, index, "reverse");
    q->reverse = lua_toboolean(L, -1);
    /* the strings stay referenced by the query table at `index` */
}

static int store_find(lua_State *L)
{
    store_object *so = check_store(L, MYNAH_STORE_ARCHIVE, "find");
    const char *user = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    mynah_archive_query q;
    read_query(L, 3, &q);
    int base = lua_gettop(L);
    store_request *req = request_new(L, OP_FIND);
    lua_api->archive_find(so->store, user, &q, cb_find, req);
    return finish(L, req, base, so->raw, "store:find");
}

static int store_delete(lua_State *L)
{
    store_object *so = check_store(L, MYNAH_STORE_ARCHIVE, "delete");
    const char *user = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    mynah_archive_query q;
    read_query(L, 3, &q);
    int base = lua_gettop(L);
    store_request *req = request_new(L, OP_DONE);
    lua_api->archive_delete(so->store, user, &q, cb_done, req);
    return finish(L, req, base, so->raw, "store:delete");
}

static int store_tostring(lua_State *L)
{
    store_object *so = luaL_checkudata(L, 1, STORE_MT);
    static const char *const kinds[] = {"keyval", "map", "archive"};
    lua_pushfstring(L, "%s store", kinds[so->kind]);
    return 1;
}

int storelib_open(lua_State *L, lua_ctx *ctx, const char *name,
                  const char *kind_name, int raw)
{
    enum mynah_store_kind kind;
    if (kind_name == NULL || strcmp(kind_name, "keyval") == 0)
        kind = MYNAH_STORE_KEYVAL;
    else if (strcmp(kind_name, "map") == 0)
        kind = MYNAH_STORE_MAP;
    else if (strcmp(kind_name, "archive") == 0)
        kind = MYNAH_STORE_ARCHIVE;
    else
        return luaL_error(L, "unknown store kind '%s' (keyval, map or archive)",
                          kind_name);
    store_object *so = lua_newuserdatauv(L, sizeof *so, 1);
    so->box = ctx->box;
    so->store = NULL;
    so->kind = kind;
    so->raw = raw;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->box_ref);
    lua_setiuservalue(L, -2, 1); /* keeps the box alive */
    if (luaL_newmetatable(L, STORE_MT)) {
        static const luaL_Reg methods[] = {
            {"get", store_get},       {"set", store_set},
            {"list", store_list},     {"append", store_append},
            {"find", store_find},     {"delete", store_delete},
            {NULL, NULL}};
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, store_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    so->store = lua_api->open_store(ctx->module, ctx->host, name, kind);
    if (so->store == NULL)
        return luaL_error(L, "cannot open store '%s' (no storage driver?)",
                          name);
    return 1;
}
