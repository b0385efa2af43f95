/*
 * module:add_timer(seconds, fn): fn() runs after `seconds` (as a task: it
 * may wait); when it returns a number, it runs again that many seconds
 * later.  The returned handle has :stop().  A module's timers end when it
 * leaves the host it set them on (the core's own timers are module-wide,
 * so mod_lua cancels each host's itself).
 */
#include "mod_lua.h"

#include <stdlib.h>

#define TIMER_MT "mynah.timer"

struct lua_timer_entry {
    lua_ctx *ctx;
    int fn_ref;
    mynah_timer *timer;  /* pending core timer, or NULL */
    int running;         /* fn is running (or waiting) */
    int stopped;
    int handle_alive;    /* a Lua handle still points here */
    lua_timer_entry *next;
};

typedef struct timer_handle {
    lua_timer_entry *entry; /* NULL once the timer is gone */
} timer_handle;

static void entry_unlink(lua_timer_entry *e)
{
    for (lua_timer_entry **link = &e->ctx->timers; *link; link = &(*link)->next)
        if (*link == e) {
            *link = e->next;
            break;
        }
}

/* The timer is over: forget it (the handle, if any, is told by the
 * entry's pointer being cleared through handle_alive bookkeeping). */
static void entry_free(lua_timer_entry *e)
{
    lua_ctx *ctx = e->ctx;
    entry_unlink(e);
    luaL_unref(ctx->L, LUA_REGISTRYINDEX, e->fn_ref);
    if (e->handle_alive)
        e->ctx = NULL; /* the handle frees it when collected */
    else
        free(e);
}

static void timer_fire(mynah_timer *timer, void *userdata);

static void reschedule(lua_timer_entry *e, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    e->timer = lua_api->timer_add(e->ctx->module, seconds, timer_fire, e);
    if (e->timer == NULL) {
        ctx_log(e->ctx, MYNAH_LOG_ERROR, "cannot set a timer");
        entry_free(e);
    }
}

static void timer_done(lua_task *t, int status)
{
    lua_timer_entry *e = t->userdata;
    e->running = 0;
    if (status == -1 || e->ctx->dead) {
        entry_free(e);
        return;
    }
    if (status != LUA_OK) {
        ctx_log(e->ctx, MYNAH_LOG_ERROR, "error in a timer: %s",
                task_error_message(t));
        entry_free(e);
        return;
    }
    if (!e->stopped && t->nresults >= 1 &&
        lua_type(t->co, -t->nresults) == LUA_TNUMBER) {
        reschedule(e, lua_tonumber(t->co, -t->nresults));
        return;
    }
    entry_free(e);
}

static void timer_fire(mynah_timer *timer, void *userdata)
{
    (void)timer;
    lua_timer_entry *e = userdata;
    e->timer = NULL;
    lua_ctx *ctx = e->ctx;
    if (ctx->dead || e->stopped) {
        entry_free(e);
        return;
    }
    lua_task *t = task_new(ctx, 1);
    if (t == NULL) {
        entry_free(e);
        return;
    }
    t->userdata = e;
    t->done = timer_done;
    e->running = 1;
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, e->fn_ref);
    int status = task_run(t, 0);
    if (status == LUA_YIELD)
        return; /* timer_done runs when it finishes */
    timer_done(t, status);
    task_free(t);
}

/* ---- the handle ---- */

static int handle_stop(lua_State *L)
{
    timer_handle *h = luaL_checkudata(L, 1, TIMER_MT);
    lua_timer_entry *e = h->entry;
    if (e == NULL || e->ctx == NULL)
        return 0;
    e->stopped = 1;
    if (e->timer != NULL) {
        lua_api->timer_cancel(e->timer);
        e->timer = NULL;
        entry_free(e);
    }
    return 0;
}

static int handle_gc(lua_State *L)
{
    timer_handle *h = luaL_checkudata(L, 1, TIMER_MT);
    lua_timer_entry *e = h->entry;
    h->entry = NULL;
    if (e == NULL)
        return 0;
    e->handle_alive = 0;
    if (e->ctx == NULL)
        free(e); /* the timer ended before its handle */
    return 0;
}

int timerlib_add(lua_State *L, lua_ctx *ctx, double seconds, int fn_index)
{
    luaL_checktype(L, fn_index, LUA_TFUNCTION);
    timer_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->entry = NULL;
    if (luaL_newmetatable(L, TIMER_MT)) {
        lua_newtable(L);
        lua_pushcfunction(L, handle_stop);
        lua_setfield(L, -2, "stop");
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, handle_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_timer_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return luaL_error(L, "out of memory");
    e->ctx = ctx;
    lua_pushvalue(L, fn_index);
    e->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    e->next = ctx->timers;
    ctx->timers = e;
    e->handle_alive = 1;
    h->entry = e;
    e->timer = lua_api->timer_add(ctx->module, seconds < 0 ? 0 : seconds,
                                  timer_fire, e);
    if (e->timer == NULL) {
        entry_free(e);
        return luaL_error(L, "cannot set a timer");
    }
    return 1;
}

/* Teardown: cancel what is pending.  A timer whose function is waiting
 * ends with its task (task_cancel_all runs first). */
void timerlib_release(lua_ctx *ctx)
{
    while (ctx->timers != NULL) {
        lua_timer_entry *e = ctx->timers;
        if (e->timer != NULL) {
            lua_api->timer_cancel(e->timer);
            e->timer = NULL;
        }
        entry_free(e);
    }
}
