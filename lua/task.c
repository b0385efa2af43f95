/*
 * Tasks: Lua code run in coroutines, so that it can wait.
 *
 * Every piece of script code (a hook handler, a timer, a bot's handler,
 * a module's top level) runs as a task on a coroutine of its state.  A C
 * function that has to wait for a callback (module:send_iq, a store whose
 * driver answers later) yields the task; the callback resumes it.  A call
 * that completes at once (SQLite answers synchronously) never yields, and
 * the coroutines come from a per-state pool, so code that never waits
 * costs one lua_resume -- the price of a lua_pcall -- and no allocation of
 * a thread.
 *
 * The instruction budget (lua_instruction_limit) is a count hook charged
 * to the innermost running task.  When the budget runs out the hook yields
 * the task's coroutine (a yield cannot be caught by pcall, unlike an
 * error); where yielding is impossible (inside a C function such as
 * string.gsub's callback, or a coroutine of the script's own) it raises an
 * error instead, and keeps raising until the task can be stopped.
 */
#include "mod_lua.h"

#include <stdlib.h>
#include <string.h>

#define POOL_MAX 16
#define HOOK_STEP 1000

static lua_task *running;
static char pool_key;

/* ---- the coroutine pool ---- */

static lua_State *pool_take(lua_State *L, int *ref)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &pool_key);
    if (lua_istable(L, -1)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n > 0) {
            lua_rawgeti(L, -1, n);
            lua_State *co = lua_tothread(L, -1);
            *ref = luaL_ref(L, LUA_REGISTRYINDEX);
            lua_pushnil(L);
            lua_rawseti(L, -2, n);
            lua_pop(L, 1);
            return co;
        }
    }
    lua_pop(L, 1);
    lua_State *co = lua_newthread(L);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return co;
}

/* A coroutine that returned normally is as good as new. */
static void pool_give(lua_State *L, lua_State *co, int ref)
{
    lua_settop(co, 0);
    lua_sethook(co, NULL, 0, 0);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pool_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &pool_key);
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n < POOL_MAX) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_rawseti(L, -2, n + 1);
    }
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
}

void task_pool_clear(lua_State *L)
{
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &pool_key);
}

/* ---- tasks ---- */

lua_task *task_new(lua_ctx *ctx, int can_wait)
{
    lua_task *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->ctx = ctx;
    t->can_wait = can_wait;
    t->origin_ref = LUA_NOREF;
    t->co = pool_take(ctx->L, &t->co_ref);
    return t;
}

static void waiting_remove(lua_task *t)
{
    for (lua_task **link = &t->ctx->waiting; *link; link = &(*link)->next_waiting)
        if (*link == t) {
            *link = t->next_waiting;
            break;
        }
    t->next_waiting = NULL;
}

static int is_waiting(const lua_task *t)
{
    for (lua_task *w = t->ctx->waiting; w; w = w->next_waiting)
        if (w == t)
            return 1;
    return 0;
}

void task_free(lua_task *t)
{
    if (t == NULL)
        return;
    if (is_waiting(t))
        waiting_remove(t);
    lua_State *L = t->ctx->L;
    if (t->origin_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->origin_ref);
        sessionlib_retire(lua_touserdata(L, -1));
        lua_pop(L, 1);
        luaL_unref(L, LUA_REGISTRYINDEX, t->origin_ref);
    }
    if (t->co != NULL) {
        /* Only a coroutine that finished normally goes back to the pool:
         * one that failed or was stopped is left to the collector. */
        if (lua_status(t->co) == LUA_OK && !t->killed)
            pool_give(L, t->co, t->co_ref);
        else
            luaL_unref(L, LUA_REGISTRYINDEX, t->co_ref);
    }
    free(t);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_task *t = running;
    if (t == NULL || t->ctx->instruction_limit <= 0)
        return;
    if (!t->killed) {
        t->used += t->ctx->instruction_limit < HOOK_STEP
                       ? t->ctx->instruction_limit
                       : HOOK_STEP;
        if (t->used <= t->ctx->instruction_limit)
            return;
        t->killed = 1;
    }
    if (L == t->co && lua_isyieldable(L)) {
        lua_yield(L, 0); /* from a hook: marks the yield and returns */
        return;
    }
    luaL_error(L, "instruction limit exceeded");
}

int task_run(lua_task *t, int nargs)
{
    lua_ctx *ctx = t->ctx;
    t->used = 0;
    t->waiting = 0;
    t->nresults = 0;
    if (ctx->instruction_limit > 0)
        lua_sethook(t->co, budget_hook, LUA_MASKCOUNT,
                    ctx->instruction_limit < HOOK_STEP
                        ? (int)ctx->instruction_limit
                        : HOOK_STEP);
    else
        lua_sethook(t->co, NULL, 0, 0);
    t->prev_running = running;
    running = t;
    sandbox_alloc_enforce(ctx->alloc, 1);
    /* `from` carries the C-call depth across nested tasks (a handler that
     * routes a stanza that fires another handler), so that runaway
     * recursion ends in a Lua error rather than a C stack overflow. */
    int nres = 0;
    int status = lua_resume(t->co, t->prev_running ? t->prev_running->co : NULL,
                            nargs, &nres);
    sandbox_alloc_enforce(ctx->alloc, 0);
    running = t->prev_running;
    t->prev_running = NULL;

    if (status == LUA_OK) {
        t->nresults = nres;
        return LUA_OK;
    }
    if (status == LUA_YIELD) {
        if (t->killed) {
            lua_pop(t->co, nres);
            lua_pushfstring(t->co, "stopped after %I instructions "
                            "(lua_instruction_limit)",
                            (lua_Integer)ctx->instruction_limit);
            return LUA_ERRRUN;
        }
        if (t->waiting) {
            if (!is_waiting(t)) {
                t->next_waiting = ctx->waiting;
                ctx->waiting = t;
            }
            return LUA_YIELD;
        }
        lua_pop(t->co, nres);
        lua_pushliteral(t->co, "coroutine.yield() outside a coroutine of the "
                        "script's own (a handler cannot yield to the server)");
        return LUA_ERRRUN;
    }
    if (t->killed && lua_type(t->co, -1) == LUA_TSTRING &&
        strstr(lua_tostring(t->co, -1), "instruction limit exceeded") != NULL) {
        lua_pop(t->co, 1);
        lua_pushfstring(t->co, "stopped after %I instructions "
                        "(lua_instruction_limit)",
                        (lua_Integer)ctx->instruction_limit);
    }
    return status;
}

void task_continue(lua_task *t, int nargs)
{
    int status = task_run(t, nargs);
    if (status == LUA_YIELD)
        return; /* waits again */
    waiting_remove(t);
    if (t->done != NULL)
        t->done(t, status);
    task_free(t);
}

lua_task *task_waitable(lua_State *L)
{
    lua_task *t = running;
    if (t == NULL || !t->can_wait || t->co != L || !lua_isyieldable(L))
        return NULL;
    return t;
}

lua_task *task_prepare_wait(lua_State *L, const char *what)
{
    lua_task *t = running;
    if (t == NULL || !t->can_wait)
        luaL_error(L, "%s cannot wait here: a module's top level and its "
                   "load/unload/save/restore functions run to completion "
                   "(use module:add_timer or a hook)", what);
    if (t->co != L || !lua_isyieldable(L))
        luaL_error(L, "%s would wait inside a coroutine of the script's own "
                   "or a C function; call it from the handler itself", what);
    return t;
}

static int wait_continuation(lua_State *L, int status, lua_KContext k)
{
    (void)status;
    (void)k;
    return lua_gettop(L);
}

int task_wait(lua_State *L, lua_task *t, lua_KFunction k, lua_KContext kctx)
{
    t->waiting = 1;
    lua_settop(L, 0);
    return lua_yieldk(L, 0, kctx, k ? k : wait_continuation);
}

const char *task_error_message(lua_task *t)
{
    lua_State *co = t->co;
    const char *msg;
    if (lua_type(co, -1) == LUA_TSTRING || lua_type(co, -1) == LUA_TNUMBER)
        msg = lua_tostring(co, -1);
    else
        msg = lua_pushfstring(co, "(an error object of type %s)",
                              luaL_typename(co, -1));
    luaL_traceback(co, co, msg, 0);
    return lua_tostring(co, -1);
}

void task_cancel_all(lua_ctx *ctx)
{
    while (ctx->waiting != NULL) {
        lua_task *t = ctx->waiting;
        ctx->waiting = t->next_waiting;
        t->next_waiting = NULL;
        if (t->wait_slot != NULL)
            *t->wait_slot = NULL; /* the pending callback finds no task */
        if (t->done != NULL)
            t->done(t, -1);
        task_free(t);
    }
}
