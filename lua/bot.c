/*
 * Bots: local entities with a JID, run inside the server with no socket.
 *
 * A bot file (NAME.lua on the module path) returns a table of handlers:
 *
 *   return {
 *     status = "Ask me a word",                -- or presence = { show =,
 *                                              --   status =, priority = }
 *     on_message  = function(bot, stanza) ... end,
 *     on_presence = function(bot, stanza) ... end,
 *     on_iq       = function(bot, stanza) ... end,  -- return a reply stanza
 *                                                   -- or true when answered
 *     on_start = function(bot) end, on_stop = function(bot) end,
 *   }
 *
 * Enabling "NAME" on a host gives the bot its own sandboxed Lua state
 * (memory capped by lua_bot_memory_limit) and binds NAME@host/bot as a
 * local session (api->session_new_local), so routing treats it as any
 * other resource: it sends its presence, receives what is addressed to
 * it, and its stanzas go through the same checks and events as a
 * client's (api->session_submit).
 *
 * Delivery happens inside routing; the bot only queues the stanza there
 * and handles its queue from the event loop, one stanza at a time (a
 * handler that waits, e.g. in bot:send_iq, holds the queue), so a bot is
 * never re-entered.  Subscription requests are accepted on the bot's
 * behalf (unless `auto_subscribe = false`), and iqs no handler answers
 * get the built-in replies: XEP-0199 ping, XEP-0030 disco#info, else
 * service-unavailable.
 */
#include "mod_lua.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 1000
#define BATCH 64
#define NS_PING "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"

struct lua_bot {
    lua_ctx *ctx;
    mynah_session *session; /* NULL once closed */
    char *full_jid;
    int handlers_ref;       /* the table the file returned */
    mynah_stanza **queue;   /* a ring */
    size_t head, count, cap;
    mynah_timer *timer;     /* a pending run of the queue */
    int busy;               /* a handler is waiting */
    int stopping;
};

typedef struct bot_job {
    lua_bot *bot;
    mynah_stanza *stanza;
} bot_job;

static char bot_methods_key;

static void schedule(lua_bot *bot);

/* ---- sending as the bot ---- */

static int submit(lua_bot *bot, mynah_stanza *stanza)
{
    if (bot->session == NULL) {
        lua_api->stanza_unref(stanza);
        return -1;
    }
    return lua_api->session_submit(bot->session, stanza);
}

static mynah_stanza *new_stanza(lua_bot *bot, const char *name, const char *to,
                                const char *type)
{
    mynah_stanza *s = lua_api->stanza_new(name, NULL);
    if (s == NULL)
        return NULL;
    mynah_element *root = lua_api->stanza_root(s);
    lua_api->element_set_attr(root, "from", bot->full_jid);
    if (to != NULL)
        lua_api->element_set_attr(root, "to", to);
    if (type != NULL)
        lua_api->element_set_attr(root, "type", type);
    return s;
}

/* Presence from a table { show =, status =, priority = } at index (nil:
 * plain available), or "unavailable". */
static mynah_stanza *presence_from(lua_State *L, lua_bot *bot, int index)
{
    if (lua_type(L, index) == LUA_TSTRING) {
        if (strcmp(lua_tostring(L, index), "unavailable") != 0)
            luaL_error(L, "presence is a table { show =, status =, priority = } "
                       "or \"unavailable\"");
        return new_stanza(bot, "presence", NULL, "unavailable");
    }
    mynah_stanza *p = new_stanza(bot, "presence", NULL, NULL);
    if (p == NULL || !lua_istable(L, index))
        return p;
    static const char *const fields[] = {"show", "status", "priority"};
    mynah_element *root = lua_api->stanza_root(p);
    for (size_t i = 0; i < 3; i++) {
        lua_getfield(L, index, fields[i]);
        const char *text = lua_tostring(L, -1);
        if (text != NULL) {
            mynah_element *el = lua_api->element_add_child(root, fields[i], NULL);
            if (el != NULL)
                lua_api->element_add_text(el, text, strlen(text));
        }
        lua_pop(L, 1);
    }
    return p;
}

/* ---- the bot object's own methods ---- */

static lua_bot *check_bot(lua_State *L)
{
    lua_ctx *ctx = lmodule_ctx(L);
    if (ctx->bot == NULL || ctx->bot->session == NULL)
        luaL_error(L, "the bot is not online");
    return ctx->bot;
}

/* A stanza the bot sends without a 'from' comes from the bot. */
static mynah_stanza *outgoing(lua_State *L, lua_bot *bot, int index)
{
    stanzalib_check(L, index);
    lua_getfield(L, index, "attr");
    lua_getfield(L, -1, "from");
    int has_from = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!has_from) {
        lua_pushstring(L, bot->full_jid);
        lua_setfield(L, -2, "from");
    }
    lua_pop(L, 1);
    return stanzalib_take(L, index);
}

static int b_send(lua_State *L)
{
    lua_bot *bot = check_bot(L);
    lua_pushboolean(L, submit(bot, outgoing(L, bot, 2)) == 0);
    return 1;
}

/* bot:reply(stanza, text): a message back to the sender, of the same type
 * and thread; for an iq, its result. */
static int b_reply(lua_State *L)
{
    lua_bot *bot = check_bot(L);
    mynah_stanza *original = stanzalib_check(L, 2);
    mynah_element *root = lua_api->stanza_root(original);
    mynah_stanza *reply;
    if (strcmp(lua_api->element_name(root), "iq") == 0) {
        reply = lua_api->stanza_reply(original);
    } else {
        const char *type = lua_api->element_attr(root, "type");
        if (type != NULL && strcmp(type, "error") == 0)
            return 0; /* never answer an error (RFC 6120 §8.3.1) */
        const char *text = luaL_checkstring(L, 3);
        reply = new_stanza(bot, "message", lua_api->element_attr(root, "from"),
                           type);
        if (reply != NULL) {
            mynah_element *r = lua_api->stanza_root(reply);
            mynah_element *body = lua_api->element_add_child(r, "body", NULL);
            if (body == NULL ||
                lua_api->element_add_text(body, text, strlen(text)) != 0) {
                lua_api->stanza_unref(reply);
                return luaL_error(L, "the reply text is not valid UTF-8 XML "
                                  "text");
            }
            mynah_element *thread = lua_api->element_child(root, "thread", NULL);
            const char *t = thread ? lua_api->element_text(thread) : NULL;
            mynah_element *copy = t && *t ? lua_api->element_add_child(r, "thread", NULL)
                                          : NULL;
            if (copy != NULL)
                lua_api->element_add_text(copy, t, strlen(t));
        }
    }
    if (reply == NULL)
        return luaL_error(L, "cannot build the reply");
    lua_pushboolean(L, submit(bot, reply) == 0);
    return 1;
}

static int b_set_presence(lua_State *L)
{
    lua_bot *bot = check_bot(L);
    lua_settop(L, 2);
    mynah_stanza *p = presence_from(L, bot, 2);
    if (p == NULL)
        return luaL_error(L, "out of memory");
    lua_pushboolean(L, submit(bot, p) == 0);
    return 1;
}

static int b_send_iq(lua_State *L)
{
    lua_bot *bot = check_bot(L);
    stanzalib_check(L, 2);
    lua_getfield(L, 2, "attr");
    lua_getfield(L, -1, "from");
    if (lua_isnil(L, -1)) {
        lua_pushstring(L, bot->full_jid);
        lua_setfield(L, -3, "from");
    }
    lua_pop(L, 2);
    return lmodule_send_iq(L);
}

static int b_jid(lua_State *L)
{
    lua_bot *bot = check_bot(L);
    lua_pushstring(L, bot->full_jid);
    return 1;
}

static void push_bot_methods(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &bot_methods_key) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    static const luaL_Reg methods[] = {
        {"send", b_send},
        {"reply", b_reply},
        {"set_presence", b_set_presence},
        {"send_iq", b_send_iq},
        {"jid", b_jid},
        {NULL, NULL}};
    lua_newtable(L); /* the bot object's metatable */
    luaL_newlib(L, methods);
    lua_newtable(L);
    lmodule_push_methods(L);
    lua_setfield(L, -2, "__index"); /* falls back to the module methods */
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &bot_methods_key);
}

/* ---- built-in behaviour ---- */

/* RFC 6121 §3.1.3: a subscription request is approved; the contact then
 * gets the bot's presence. */
static void builtin_presence(lua_bot *bot, mynah_stanza *stanza)
{
    mynah_element *root = lua_api->stanza_root(stanza);
    const char *type = lua_api->element_attr(root, "type");
    const char *from = lua_api->element_attr(root, "from");
    if (type == NULL || from == NULL)
        return;
    lua_State *L = bot->ctx->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, bot->handlers_ref);
    lua_getfield(L, -1, "auto_subscribe");
    int auto_subscribe = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (!auto_subscribe)
        return;
    char bare[3072];
    const char *slash = strchr(from, '/');
    size_t n = slash ? (size_t)(slash - from) : strlen(from);
    if (n >= sizeof bare)
        return;
    memcpy(bare, from, n);
    bare[n] = '\0';
    if (strcmp(type, "subscribe") == 0) {
        submit(bot, new_stanza(bot, "presence", bare, "subscribed"));
        mynah_stanza *current = new_stanza(bot, "presence", bare, NULL);
        submit(bot, current);
    } else if (strcmp(type, "unsubscribe") == 0) {
        submit(bot, new_stanza(bot, "presence", bare, "unsubscribed"));
    }
}

static int payload_is(mynah_element *payload, const char *name, const char *ns)
{
    return payload != NULL && strcmp(lua_api->element_name(payload), name) == 0 &&
           strcmp(lua_api->element_xmlns(payload), ns) == 0;
}

/* An iq no handler answered (RFC 6120 §8.2.3: a get or set always gets
 * an answer). */
static void builtin_iq(lua_bot *bot, mynah_stanza *stanza)
{
    mynah_element *root = lua_api->stanza_root(stanza);
    const char *type = lua_api->element_attr(root, "type");
    if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return;
    mynah_element *payload = lua_api->element_first_child(root);
    int get = strcmp(type, "get") == 0;
    if (get && payload_is(payload, "ping", NS_PING)) {
        submit(bot, lua_api->stanza_reply(stanza));
        return;
    }
    if (get && payload_is(payload, "query", NS_DISCO_INFO) &&
        lua_api->element_attr(payload, "node") == NULL) {
        mynah_stanza *reply = lua_api->stanza_reply(stanza);
        if (reply == NULL)
            return;
        mynah_element *q = lua_api->element_add_child(
            lua_api->stanza_root(reply), "query", NS_DISCO_INFO);
        mynah_element *id = q ? lua_api->element_add_child(q, "identity", NULL) : NULL;
        if (id != NULL) {
            lua_api->element_set_attr(id, "category", "client");
            lua_api->element_set_attr(id, "type", "bot");
            lua_api->element_set_attr(id, "name", bot->ctx->script->name);
        }
        static const char *const features[] = {NS_DISCO_INFO, NS_PING};
        for (size_t i = 0; q && i < 2; i++) {
            mynah_element *f = lua_api->element_add_child(q, "feature", NULL);
            if (f != NULL)
                lua_api->element_set_attr(f, "var", features[i]);
        }
        submit(bot, reply);
        return;
    }
    mynah_stanza *err = lua_api->stanza_error_reply(stanza, "cancel",
                                                    "service-unavailable", NULL);
    if (err != NULL)
        submit(bot, err);
}

/* ---- handling the queue ---- */

static const char *handler_name(const char *stanza_name)
{
    if (strcmp(stanza_name, "message") == 0)
        return "on_message";
    if (strcmp(stanza_name, "presence") == 0)
        return "on_presence";
    return "on_iq";
}

/* After a handler: an iq answered by a returned stanza, or left to the
 * built-in replies. */
static void handler_result(lua_bot *bot, mynah_stanza *stanza, lua_State *co,
                           int nresults)
{
    mynah_element *root = lua_api->stanza_root(stanza);
    if (strcmp(lua_api->element_name(root), "iq") != 0)
        return;
    int first = nresults > 0 ? -nresults : 0;
    if (nresults > 0 && stanzalib_is(co, first)) {
        mynah_stanza *reply = stanzalib_take(co, first);
        mynah_element *r = lua_api->stanza_root(reply);
        if (lua_api->element_attr(r, "from") == NULL) {
            mynah_stanza *copy = lua_api->stanza_copy(reply);
            lua_api->stanza_unref(reply);
            reply = copy;
            if (reply != NULL)
                lua_api->element_set_attr(lua_api->stanza_root(reply), "from",
                                          bot->full_jid);
        }
        if (reply != NULL)
            submit(bot, reply);
        return;
    }
    if (nresults == 0 || lmodule_result(co, first) == MYNAH_PASS)
        builtin_iq(bot, stanza);
}

static void job_done(lua_task *t, int status)
{
    bot_job *job = t->userdata;
    lua_bot *bot = job->bot;
    if (status == LUA_OK) {
        handler_result(bot, job->stanza, t->co, t->nresults);
    } else if (status != -1) {
        ctx_log(bot->ctx, MYNAH_LOG_ERROR, "error in the bot's handler: %s",
                task_error_message(t));
        lmodule_error_reply(bot->ctx, job->stanza, "internal-server-error");
    }
    lua_api->stanza_unref(job->stanza);
    free(job);
    bot->busy = 0;
    if (status != -1 && !bot->stopping)
        schedule(bot);
}

static void dispatch(lua_bot *bot, mynah_stanza *stanza)
{
    lua_ctx *ctx = bot->ctx;
    mynah_element *root = lua_api->stanza_root(stanza);
    const char *name = lua_api->element_name(root);
    if (strcmp(name, "presence") == 0)
        builtin_presence(bot, stanza);
    lua_task *t = task_new(ctx, 1);
    bot_job *job = t ? malloc(sizeof *job) : NULL;
    if (job == NULL) {
        task_free(t);
        return;
    }
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, bot->handlers_ref);
    if (lua_getfield(t->co, -1, handler_name(name)) != LUA_TFUNCTION) {
        free(job);
        task_free(t);
        if (strcmp(name, "iq") == 0)
            builtin_iq(bot, stanza);
        return;
    }
    lua_remove(t->co, -2);
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, ctx->self_ref);
    stanzalib_push(t->co, stanza, 1);
    job->bot = bot;
    job->stanza = lua_api->stanza_ref(stanza);
    t->userdata = job;
    t->done = job_done;
    int status = task_run(t, 2);
    if (status == LUA_YIELD) {
        bot->busy = 1; /* job_done resumes the queue */
        return;
    }
    t->done = NULL;
    if (status == LUA_OK) {
        handler_result(bot, stanza, t->co, t->nresults);
    } else {
        ctx_log(ctx, MYNAH_LOG_ERROR, "error in the bot's %s: %s",
                handler_name(name), task_error_message(t));
        lmodule_error_reply(ctx, stanza, "internal-server-error");
    }
    lua_api->stanza_unref(job->stanza);
    free(job);
    task_free(t);
}

static void process_queue(mynah_timer *timer, void *userdata)
{
    (void)timer;
    lua_bot *bot = userdata;
    bot->timer = NULL;
    for (int n = 0; n < BATCH && bot->count > 0 && !bot->busy && !bot->stopping;
         n++) {
        mynah_stanza *s = bot->queue[bot->head];
        bot->head = (bot->head + 1) % bot->cap;
        bot->count--;
        dispatch(bot, s);
        lua_api->stanza_unref(s);
    }
    if (bot->count > 0)
        schedule(bot);
}

static void schedule(lua_bot *bot)
{
    if (bot->timer != NULL || bot->busy || bot->stopping || bot->count == 0)
        return;
    bot->timer = lua_api->timer_add(bot->ctx->module, 0, process_queue, bot);
}

/* The session's deliver function: called from inside routing, so only
 * queue.  stanza NULL: the session has closed. */
static int deliver(mynah_session *session, mynah_stanza *stanza, void *userdata)
{
    (void)session;
    lua_bot *bot = userdata;
    if (stanza == NULL) {
        bot->session = NULL;
        return 0;
    }
    if (bot->stopping) {
        lua_api->stanza_unref(stanza);
        return -1;
    }
    if (bot->count == bot->cap) {
        size_t cap = bot->cap ? bot->cap * 2 : 16;
        mynah_stanza **grown = cap <= QUEUE_MAX ? malloc(cap * sizeof *grown) : NULL;
        if (grown == NULL) {
            /* RFC 6120 §8.3.3.18: the bot cannot take more for now. */
            lmodule_error_reply(bot->ctx, stanza, "resource-constraint");
            lua_api->stanza_unref(stanza);
            return -1;
        }
        for (size_t i = 0; i < bot->count; i++)
            grown[i] = bot->queue[(bot->head + i) % bot->cap];
        free(bot->queue);
        bot->queue = grown;
        bot->cap = cap;
        bot->head = 0;
    }
    bot->queue[(bot->head + bot->count) % bot->cap] = stanza;
    bot->count++;
    schedule(bot);
    return 0;
}

/* ---- start and stop ---- */

static void on_start_done(lua_task *t, int status)
{
    if (status != LUA_OK && status != -1)
        ctx_log(t->ctx, MYNAH_LOG_ERROR, "error in on_start: %s",
                task_error_message(t));
}

/* Runs the file: its returned table holds the handlers. */
static int load_handlers(lua_ctx *ctx)
{
    lua_task *t = task_new(ctx, 0);
    if (t == NULL)
        return -1;
    char chunkname[512];
    snprintf(chunkname, sizeof chunkname, "@%s", ctx->script->path);
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, ctx->env_ref);
    int status = sandbox_load(t->co, ctx->script->source,
                              ctx->script->source_len, chunkname, -1);
    if (status == LUA_OK) {
        lua_remove(t->co, -2);
        status = task_run(t, 0);
    }
    if (status != LUA_OK) {
        ctx_log(ctx, MYNAH_LOG_ERROR, "failed to load: %s",
                task_error_message(t));
        task_free(t);
        return -1;
    }
    if (t->nresults < 1 || !lua_istable(t->co, -t->nresults)) {
        ctx_log(ctx, MYNAH_LOG_ERROR, "the bot file must return a table of "
                "handlers");
        task_free(t);
        return -1;
    }
    lua_pushvalue(t->co, -t->nresults);
    ctx->bot->handlers_ref = luaL_ref(t->co, LUA_REGISTRYINDEX);
    task_free(t);
    return 0;
}

static const char *handler_string(lua_State *L, lua_bot *bot, const char *field,
                                  const char *fallback)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, bot->handlers_ref);
    lua_getfield(L, -1, field);
    const char *value = lua_tostring(L, -1);
    lua_pop(L, 2); /* the handlers table keeps the string alive */
    return value ? value : fallback;
}

int bot_start(lua_ctx *ctx)
{
    if (!MYNAH_API_HAS(lua_api, session_submit)) {
        ctx_log(ctx, MYNAH_LOG_ERROR, "this server cannot run bots (its API "
                "lacks local sessions)");
        return -1;
    }
    lua_State *L = ctx->L;
    lua_bot *bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return -1;
    bot->ctx = ctx;
    bot->handlers_ref = LUA_NOREF;
    ctx->bot = bot;

    sandbox_push_env(L, ctx, ctx->unsafe);
    int env = lua_gettop(L);
    lua_newtable(L); /* the bot object handlers get */
    lmodule_bind(L, -1, ctx);
    lua_pushstring(L, ctx->script->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, lua_api->host_name(ctx->host));
    lua_setfield(L, -2, "host");
    push_bot_methods(L);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    ctx->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, env, "bot");
    ctx->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    if (load_handlers(ctx) != 0)
        return -1;
    const char *local = handler_string(L, bot, "username", ctx->script->name);
    const char *resource = handler_string(L, bot, "resource", "bot");
    bot->session = lua_api->session_new_local(ctx->module, ctx->host, local,
                                              resource, deliver, bot);
    if (bot->session == NULL) {
        ctx_log(ctx, MYNAH_LOG_ERROR, "cannot go online as %s@%s/%s (an "
                "invalid JID, or that resource is taken)", local,
                lua_api->host_name(ctx->host), resource);
        return -1;
    }
    const mynah_jid *jid = lua_api->session_jid(bot->session);
    bot->full_jid = strdup(lua_api->jid_full(jid));
    if (bot->full_jid == NULL)
        return -1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->self_ref);
    lua_pushstring(L, bot->full_jid);
    lua_setfield(L, -2, "jid");
    lua_pushstring(L, lua_api->jid_bare(jid));
    lua_setfield(L, -2, "bare");
    lua_pop(L, 1);

    /* Online: presence = false keeps it unavailable. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, bot->handlers_ref);
    int handlers = lua_gettop(L);
    lua_getfield(L, handlers, "presence");
    if (!(lua_isboolean(L, -1) && !lua_toboolean(L, -1))) {
        if (lua_isnil(L, -1) || lua_isboolean(L, -1)) {
            lua_pop(L, 1);
            lua_createtable(L, 0, 1);
            lua_getfield(L, handlers, "status");
            lua_setfield(L, -2, "status");
        }
        mynah_stanza *p = presence_from(L, bot, -1);
        if (p != NULL)
            submit(bot, p);
    }
    lua_settop(L, handlers - 1);

    lua_rawgeti(L, LUA_REGISTRYINDEX, bot->handlers_ref);
    int type = lua_getfield(L, -1, "on_start");
    lua_pop(L, 2);
    if (type == LUA_TFUNCTION) {
        lua_task *t = task_new(ctx, 1);
        if (t != NULL) {
            lua_rawgeti(t->co, LUA_REGISTRYINDEX, bot->handlers_ref);
            lua_getfield(t->co, -1, "on_start");
            lua_remove(t->co, -2);
            lua_rawgeti(t->co, LUA_REGISTRYINDEX, ctx->self_ref);
            t->done = on_start_done;
            int status = task_run(t, 1);
            if (status != LUA_YIELD) {
                on_start_done(t, status);
                task_free(t);
            }
        }
    }
    ctx_log(ctx, MYNAH_LOG_INFO, "bot %s is online", bot->full_jid);
    return 0;
}

void bot_stop(lua_ctx *ctx)
{
    lua_bot *bot = ctx->bot;
    if (bot == NULL)
        return;
    lua_State *L = ctx->L;
    if (bot->session != NULL && bot->handlers_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, bot->handlers_ref);
        int type = lua_getfield(L, -1, "on_stop");
        lua_pop(L, 2);
        if (type == LUA_TFUNCTION) {
            lua_task *t = task_new(ctx, 0);
            if (t != NULL) {
                lua_rawgeti(t->co, LUA_REGISTRYINDEX, bot->handlers_ref);
                lua_getfield(t->co, -1, "on_stop");
                lua_remove(t->co, -2);
                lua_rawgeti(t->co, LUA_REGISTRYINDEX, ctx->self_ref);
                if (task_run(t, 1) != LUA_OK)
                    ctx_log(ctx, MYNAH_LOG_ERROR, "error in on_stop: %s",
                            task_error_message(t));
                task_free(t);
            }
        }
    }
    bot->stopping = 1;
    /* Waiting handlers end before their stanzas go. */
    task_cancel_all(ctx);
    if (bot->timer != NULL)
        lua_api->timer_cancel(bot->timer);
    bot->timer = NULL;
    while (bot->count > 0) {
        lua_api->stanza_unref(bot->queue[bot->head]);
        bot->head = (bot->head + 1) % bot->cap;
        bot->count--;
    }
    if (bot->session != NULL)
        lua_api->session_close(bot->session, NULL, NULL);
    bot->session = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, bot->handlers_ref);
    free(bot->queue);
    free(bot->full_jid);
    free(bot);
    ctx->bot = NULL;
}
