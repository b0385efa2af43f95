/*
 * mod_lua internals: what the files of the Lua binding share.
 *
 *   mod_lua.c      mod_lua's descriptor, the "lua-loader" API, and the
 *                  callbacks of every Lua module (an instance per host)
 *   script.c       reading a script: the declaration pass, the descriptor
 *   sandbox.c      Lua states, the memory cap, the curated environment,
 *                  the instruction budget
 *   task.c         running Lua code in (pooled) coroutines that may wait
 *   api_module.c   the `module` object of Lua modules
 *   session_lib.c  session objects (event.origin, module:sessions())
 *   stanza_lib.c   require "mynah.stanza"
 *   store_lib.c    module:open_store()
 *   serialize.c    the value encoding of stores (Lua literals)
 *   timer_lib.c    module:add_timer()
 *   jid_lib.c      require "mynah.jid"
 *   bot.c          bots: a local session driving a sandboxed Lua state
 *
 * mod_lua is a module like any other: it includes only <mynah/mynah.h>
 * (and Lua), and reaches the core through the function table.
 */
#ifndef MYNAH_MOD_LUA_H
#define MYNAH_MOD_LUA_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <mynah/mynah.h>

#include "lua_loader.h"

/* The core's function table and mod_lua's own handle (mod_lua.c). */
extern const mynah_api *lua_api;
extern mynah_module *lua_self;

typedef struct lua_script lua_script;
typedef struct lua_ctx lua_ctx;
typedef struct lua_task lua_task;
typedef struct lua_hook_entry lua_hook_entry;
typedef struct lua_timer_entry lua_timer_entry;
typedef struct lua_bot lua_bot;
typedef struct sandbox_alloc sandbox_alloc;

/* ---- mod_lua's options (mod_lua.c) ----
 * Also appended to every Lua module's schema, so that they can be set
 * wherever a Lua module is enabled without naming "lua" itself. */
extern const mynah_option_spec modlua_options[];
#define MODLUA_OPTION_COUNT 4
#define MODLUA_DEFAULT_IQ_TIMEOUT 30.0

/* ---- a script: one file, one module (script.c) ---- */
struct lua_script {
    mynah_module_descriptor desc; /* first: the loader API's descriptors */
    char *name;
    char *path;
    char *version;
    char *source;           /* read once when opened: every host runs the same code */
    size_t source_len;
    int is_bot;
    mynah_option_spec *options; /* declared ones, then mod_lua's; NULL-ended */
    size_t declared_count;
    char **depends;         /* NULL-terminated */
    int reloading;          /* a new version is being opened: save state */
    mynah_module *module;   /* the module it became (lua_loader_api.attach) */
    lua_script *next;
};

/* Reads the file and runs its declarations (module:options, module:depends,
 * top-level get_option_*; a bot's returned table).  NULL with *error. */
lua_script *script_open(const char *name, const char *path, int is_bot,
                        char **error);
void script_free(lua_script *script);
/* The declared option's type, or 0 when the script did not declare it. */
int script_option_type(const lua_script *script, const char *name);
/* Parses an options table (module:options{} or a bot's `options`) at the
 * top of L's stack into the script.  Raises a Lua error on bad specs. */
void script_declare_options(lua_State *L, int index, lua_script *script);
/* Records an option read with module:get_option_<type>(name, default) at
 * the top of the file; default at index def (may be none). */
void script_declare_read(lua_State *L, lua_script *script, const char *name,
                         enum mynah_option_type type, int def);

/* ---- a script on a host (mod_lua.c, api_module.c, bot.c) ---- */
struct lua_ctx {
    lua_script *script;
    mynah_module *module;  /* the Lua module's own handle */
    mynah_host *host;      /* NULL while a script is being declared */
    lua_State *L;          /* the main thread: shared (modules) or own (bots) */
    sandbox_alloc *alloc;  /* bots: the memory cap; NULL for modules */
    int env_ref;           /* the script's _ENV */
    int self_ref;          /* the `module` table, or the bot's table */
    int box_ref;           /* the box: a userdata holding this pointer, */
    lua_ctx **box;         /* which closures keep and teardown clears */
    long long instruction_limit;
    double iq_timeout;
    int unsafe;            /* in lua_unsafe_modules: the whole standard library */
    int dead;              /* torn down: pending callbacks are dropped */
    lua_hook_entry *hooks;
    lua_timer_entry *timers;
    lua_task *waiting;     /* tasks suspended until a callback */
    lua_bot *bot;          /* bots only */
};

/* The ctx a C closure belongs to (its first upvalue is the box); raises a
 * Lua error when the module was unloaded in the meantime. */
lua_ctx *ctx_check(lua_State *L);
/* Pushes a C closure with the ctx's box as its only upvalue. */
void ctx_push_closure(lua_State *L, lua_ctx *ctx, lua_CFunction fn);
/* Logs with the script's name ("mod_NAME: ..."). */
void ctx_log(lua_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Lua states and the sandbox (sandbox.c) ---- */
/* The state every Lua module shares (created in mod_lua's init). */
extern lua_State *sandbox_shared;
/* A new state with the standard library; limit > 0 caps its memory
 * (bots).  NULL when out of memory. */
lua_State *sandbox_new_state(size_t limit, sandbox_alloc **alloc);
void sandbox_close_state(lua_State *L, sandbox_alloc *alloc);
/* The cap counts only while the state's own code runs (not mod_lua's
 * bookkeeping): task.c turns it on around resumes. */
void sandbox_alloc_enforce(sandbox_alloc *alloc, int on);
/* Lifts the cap while mod_lua pushes onto a state outside a protected
 * call from inside that state's own running code (a bot's hook handler
 * fired by the bot's own stanza): a failed allocation there would be a
 * panic, not an error. */
void sandbox_alloc_suspend(sandbox_alloc *alloc, int on);
/* The state's own code is running (the cap is on). */
int sandbox_alloc_active(const sandbox_alloc *alloc);
/* Pushes a new _ENV for a script: globals from the curated base (or the
 * whole standard library when unsafe), plus print, load and require bound
 * to it. */
void sandbox_push_env(lua_State *L, lua_ctx *ctx, int unsafe);
/* Loads a text chunk (never bytecode) with env (at index) as its _ENV;
 * pushes the function, or returns non-zero with a message pushed. */
int sandbox_load(lua_State *L, const char *source, size_t len,
                 const char *chunkname, int env);

/* ---- tasks: Lua code in coroutines (task.c) ---- */
typedef void (*task_done_fn)(lua_task *task, int status);

struct lua_task {
    lua_ctx *ctx;
    lua_State *co;        /* the coroutine (a thread of ctx->L) */
    int co_ref;
    long long used;       /* instructions in the current slice */
    int killed;           /* stopped by the instruction budget */
    int can_wait;         /* may yield for a callback */
    int waiting;          /* yielded in a C function, waiting */
    int nresults;         /* after LUA_OK: results on co's stack */
    task_done_fn done;    /* set by the owner when the task waits */
    void *userdata;
    mynah_event *event;   /* a hook's event kept while waiting */
    int origin_ref;       /* the event's session object, to retire */
    lua_task **wait_slot; /* the pending request's pointer to this task */
    lua_task *prev_running;
    lua_task *next_waiting;
};

/* A task on a coroutine of ctx's state; the caller pushes the function
 * and its arguments on task->co, then calls task_run.  NULL when out of
 * memory. */
lua_task *task_new(lua_ctx *ctx, int can_wait);
/* Runs (or resumes) the task with nargs values on top of its stack.
 * Returns LUA_OK (results on task->co, task->nresults of them), LUA_YIELD
 * (waiting for a callback: set task->done), or an error status with the
 * error object on top of task->co (a message when the budget stopped it). */
int task_run(lua_task *task, int nargs);
/* Resumes a waiting task with nargs values pushed on task->co; when it
 * finishes, calls task->done and frees the task. */
void task_continue(lua_task *task, int nargs);
void task_free(lua_task *task);
/* For C functions that wait: returns the running task if L may yield to
 * it now, else raises a Lua error explaining why it cannot wait. */
lua_task *task_prepare_wait(lua_State *L, const char *what);
/* The running task if L may wait for it now, else NULL (no error). */
lua_task *task_waitable(lua_State *L);
/* Suspends the running task until task_continue.  The values given to
 * task_continue are then the only ones on L's stack, and k (NULL: return
 * them all) continues with kctx. */
int task_wait(lua_State *L, lua_task *task, lua_KFunction k,
              lua_KContext kctx);
/* The error on top of task->co as "message\ntraceback"; pushed on co. */
const char *task_error_message(lua_task *task);
/* Ends every waiting task of a ctx (teardown): their done(..., -1) runs. */
void task_cancel_all(lua_ctx *ctx);
/* Frees the pooled coroutines of a state. */
void task_pool_clear(lua_State *L);

/* ---- the module object (api_module.c) ---- */
/* Pushes the `module` table of a Lua module instance; declaring = the
 * declaration pass (only declarations run; the first other use stops the
 * pass). */
void lmodule_push(lua_State *L, lua_ctx *ctx, int declaring);
/* The light userdata raised to stop a declaration pass. */
extern char lmodule_declaration_done;
/* The instance a module method was called on (arg 1, with ':'). */
lua_ctx *lmodule_ctx(lua_State *L);
/* module:send_iq(iq [, timeout]) (bots reuse it after setting 'from'). */
int lmodule_send_iq(lua_State *L);
/* Unhooks every handler of a ctx. */
void lmodule_release(lua_ctx *ctx);
/* module.load(), module.unload(), module.save(), module.restore(data):
 * runs module[name] if it is a function, to completion.  value_ref: the
 * argument (LUA_NOREF: none); *result_ref (when asked): a reference to
 * the first result, or LUA_NOREF.  -1 when it raised (logged). */
int lmodule_lifecycle(lua_ctx *ctx, const char *name, int value_ref,
                      int *result_ref);
/* Pushes the table of module methods (for objects that extend it). */
void lmodule_push_methods(lua_State *L);
/* Makes module methods work on the table at index, for ctx. */
void lmodule_bind(lua_State *L, int index, lua_ctx *ctx);

/* Turns a handler's return value into a hook result. */
int lmodule_result(lua_State *L, int index);
/* The RFC 6120 §8.3 answer to a stanza whose handler failed. */
void lmodule_error_reply(lua_ctx *ctx, mynah_stanza *stanza,
                         const char *condition);

struct lua_hook_entry {
    lua_ctx *ctx;
    char *event;
    int fn_ref;
    int global;
    lua_hook_entry *next;
};

/* ---- session objects (session_lib.c) ---- */
/* Pushes a session object; live = valid for the event only (unbound
 * sessions).  Returns its userdata. */
void *sessionlib_push(lua_State *L, lua_ctx *ctx, mynah_session *session,
                      int live);
/* Ends an event-bound session object's validity. */
void sessionlib_retire(void *object);
mynah_session *sessionlib_check(lua_State *L, int index);

/* ---- stanzas (stanza_lib.c) ---- */
int luaopen_mynah_stanza(lua_State *L);
/* Pushes a Lua view of a stanza (takes a new reference).  readonly: a
 * stanza the handler did not create (copy-on-write). */
void stanzalib_push(lua_State *L, mynah_stanza *stanza, int readonly);
/* The stanza of a Lua stanza object (whole stanzas only: its root is the
 * stanza's root).  Raises otherwise. */
mynah_stanza *stanzalib_check(lua_State *L, int index);
/* For sending: a new reference to the stanza; the Lua object becomes
 * read-only (it now is shared). */
mynah_stanza *stanzalib_take(lua_State *L, int index);
int stanzalib_is(lua_State *L, int index);

/* ---- storage (store_lib.c, serialize.c) ---- */
int storelib_open(lua_State *L, lua_ctx *ctx, const char *name,
                  const char *kind, int raw);
/* Encodes the value at index as a Lua literal, pushed as a string (the
 * pointer is valid while it stays on the stack); raises on values that
 * cannot be stored. */
const char *serialize_encode(lua_State *L, int index, size_t *len);
/* Pushes the value a literal describes; raises on malformed input. */
void serialize_decode(lua_State *L, const char *data, size_t len);
int luaopen_mynah_serialize(lua_State *L);

/* ---- timers (timer_lib.c) ---- */
int timerlib_add(lua_State *L, lua_ctx *ctx, double seconds, int fn_index);
void timerlib_release(lua_ctx *ctx);

/* ---- JIDs (jid_lib.c) ---- */
int luaopen_mynah_jid(lua_State *L);

/* ---- bots (bot.c) ---- */
int bot_start(lua_ctx *ctx);
void bot_stop(lua_ctx *ctx);

#endif
