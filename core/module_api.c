/*
 * The function table handed to every module (include/mynah/api.h).
 *
 * Most entries point straight at the core function of the same name; the
 * few wrappers here adapt a module-facing signature (a host that may be
 * NULL for "global", a logging name made from the module's) to the core's.
 * Every field is filled: a module tests for a function with
 * MYNAH_API_HAS, and a NULL here would read as "this core lacks it".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "accounts.h"
#include "account_ops.h"
#include "conn.h"
#include "config.h"
#include "event.h"
#include "hooks.h"
#include "host.h"
#include "jid.h"
#include "log.h"
#include "module_loader.h"
#include "module_options.h"
#include "router.h"
#include "server.h"
#include "session.h"
#include "stanza.h"
#include "storage.h"
#include "timer.h"

/* The bus a registration on `host` goes to: the host's, or the global one. */
static hooks *bus_of(mynah_host *host)
{
    return host ? host->hooks : server.global_hooks;
}

static void api_log(mynah_module *module, int level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char who[160];
    snprintf(who, sizeof who, "mod_%s", module ? module->name : "?");
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}

static int api_hook(mynah_module *module, mynah_host *host, const char *event,
                    mynah_hook_fn fn, void *userdata, int priority)
{
    return hooks_add(bus_of(host), event, fn, userdata, priority, module);
}

static int api_unhook(mynah_module *module, mynah_host *host,
                      const char *event, mynah_hook_fn fn, void *userdata)
{
    return hooks_remove(bus_of(host), event, fn, userdata);
}

static int api_fire(mynah_host *host, const char *event, mynah_stanza *stanza,
                    mynah_session *origin)
{
    mynah_event ev = {.name = event, .host = host, .origin = origin,
                      .stanza = stanza};
    return hooks_fire(bus_of(host), event, &ev);
}

static int api_route(mynah_stanza *stanza)
{
    return router_route(stanza, NULL);
}

static int api_add_feature(mynah_module *module, mynah_host *host,
                           const char *var)
{
    return host_add_feature(host, module, var);
}

static int api_add_identity(mynah_module *module, mynah_host *host,
                            const char *category, const char *type,
                            const char *name)
{
    return host_add_identity(host, module, category, type, name);
}

/* A module's own timers are module-wide: they end when it leaves its last
 * host (a module on several hosts cancels per-host timers itself in
 * remove_host). */
static mynah_timer *api_timer_add(mynah_module *module, double seconds,
                                  mynah_timer_fn fn, void *userdata)
{
    return timer_add(module, NULL, seconds, fn, userdata);
}

static enum mynah_session_kind api_session_kind(const mynah_session *s)
{
    return (enum mynah_session_kind)s->kind;
}

static const mynah_jid *api_session_jid(const mynah_session *s)
{
    return s->jid; /* set when bound (c2s) or authenticated (s2s) */
}

static mynah_host *api_session_host(const mynah_session *s)
{
    return s->host;
}

static int api_session_priority(const mynah_session *s)
{
    return s->priority;
}

static mynah_stanza *api_session_presence(const mynah_session *s)
{
    return s->presence;
}

static int api_session_available(const mynah_session *s)
{
    return s->available;
}

static int api_session_interested(const mynah_session *s)
{
    return s->interested;
}

static void api_session_set_interested(mynah_session *s, int interested)
{
    s->interested = interested ? 1 : 0;
}

static double api_session_idle_seconds(const mynah_session *s)
{
    return server_now() - s->last_input;
}

/* An account, or a bot: a local session bound under that name is an
 * entity of the host as much as an account is (it has a roster, gets
 * subscription requests), for as long as it is there. */
static int api_user_exists(mynah_host *host, const char *user)
{
    if (host == NULL || user == NULL)
        return 0;
    char bare[2048];
    if (snprintf(bare, sizeof bare, "%s@%s", user, host_name(host)) <
        (int)sizeof bare)
        for (mynah_session *s = session_first_of_user(bare); s;
             s = s->next_of_user)
            if (s->kind == MYNAH_SESSION_LOCAL)
                return 1;
    return accounts_exists(host_name(host), user);
}

static const char *api_data_path(void)
{
    return server.data_path;
}

static mynah_host *api_host_next(mynah_host *previous)
{
    size_t i = 0;
    if (previous != NULL) {
        /* A handful of hosts: a scan is cheaper than keeping an index. */
        while (host_at(i) != NULL && host_at(i) != previous)
            i++;
        if (host_at(i) == NULL)
            return NULL;
        i++;
    }
    return host_at(i);
}

static int api_host_is_component(const mynah_host *host)
{
    return host != NULL && host->is_component;
}

static const char *api_option_array_subitem(mynah_module *module,
                                            mynah_host *host, const char *name,
                                            size_t index, size_t subindex)
{
    (void)module; /* nested arrays have no schema default to fall back on */
    if (server.cfg == NULL || name == NULL)
        return NULL;
    const config_value *v = config_get(server.cfg, host ? host->name : NULL,
                                       name);
    if (v == NULL || v->type != CONFIG_ARRAY || index >= v->count)
        return NULL;
    const config_value *item = &v->items[index];
    if (item->type != CONFIG_ARRAY || subindex >= item->count ||
        item->items[subindex].type != CONFIG_STRING)
        return NULL;
    return item->items[subindex].string;
}

static double api_server_start_time(void)
{
    return server.start_time;
}

/* A flush callback that holds its module until it has run. */
typedef struct held_flush {
    mynah_module *module;
    void (*cb)(int written, void *userdata);
    void *userdata;
} held_flush;

static void held_flush_done(int written, void *userdata)
{
    held_flush *h = userdata;
    h->cb(written, h->userdata);
    /* Dropped from the loop: the module's code may still be on the stack
     * of whoever runs the flush callbacks. */
    module_unref_later(h->module);
    free(h);
}

static int api_session_on_flushed_held(mynah_module *module,
                                       mynah_session *session,
                                       void (*cb)(int written, void *ud),
                                       void *userdata)
{
    held_flush *h = malloc(sizeof *h);
    if (h == NULL)
        return -1;
    h->module = module;
    h->cb = cb;
    h->userdata = userdata;
    module_ref(module);
    if (session_on_flushed(session, held_flush_done, h) != 0) {
        module_unref_later(module);
        free(h);
        return -1;
    }
    return 0;
}

/* ---- local sessions (bots): no socket, stanzas go to a function ---- */

typedef struct local_session {
    mynah_module *owner;
    int (*deliver)(mynah_session *session, mynah_stanza *stanza,
                   void *userdata);
    void *userdata;
} local_session;

static int local_send(mynah_session *s, mynah_stanza *stanza)
{
    local_session *ls = s->proto;
    if (ls == NULL || ls->deliver == NULL) {
        stanza_unref(stanza);
        return -1;
    }
    return ls->deliver(s, stanza, ls->userdata);
}

/* The owner hears of the close once (deliver with NULL), then never
 * again: the session itself lives on until it is reaped. */
static void local_close(mynah_session *s, const char *condition,
                        const char *text)
{
    (void)condition;
    (void)text;
    local_session *ls = s->proto;
    if (ls == NULL || ls->deliver == NULL)
        return;
    int (*deliver)(mynah_session *, mynah_stanza *, void *) = ls->deliver;
    ls->deliver = NULL;
    deliver(s, NULL, ls->userdata);
}

static void local_free(mynah_session *s)
{
    free(s->proto);
    s->proto = NULL;
}

static const session_ops local_ops = {
    .send = local_send,
    .close = local_close,
    .free = local_free,
};

static mynah_session *api_session_new_local(
    mynah_module *module, mynah_host *host, const char *local,
    const char *resource,
    int (*deliver)(mynah_session *session, mynah_stanza *stanza, void *ud),
    void *userdata)
{
    if (host == NULL || local == NULL || deliver == NULL)
        return NULL;
    /* Prepared as a client's JID would be (nodeprep, resourceprep). */
    char *text = NULL;
    if (asprintf(&text, "%s@%s%s%s", local, host_name(host),
                 resource ? "/" : "", resource ? resource : "") < 0)
        return NULL;
    mynah_jid *jid = jid_new(text);
    free(text);
    if (jid == NULL || jid_part(jid, MYNAH_JID_LOCAL) == NULL) {
        jid_free(jid);
        return NULL;
    }
    local_session *ls = calloc(1, sizeof *ls);
    char *username = strdup(jid_part(jid, MYNAH_JID_LOCAL));
    char *prepared = resource ? strdup(jid_part(jid, MYNAH_JID_RESOURCE)) : NULL;
    jid_free(jid);
    mynah_session *s = NULL;
    if (ls == NULL || username == NULL || (resource && prepared == NULL) ||
        (s = session_new(MYNAH_SESSION_LOCAL, host, &local_ops, ls)) == NULL) {
        free(ls);
        free(username);
        free(prepared);
        return NULL;
    }
    ls->owner = module;
    ls->deliver = deliver;
    ls->userdata = userdata;
    s->username = username;
    s->state = SESSION_AUTHENTICATED;
    /* Never kick a client off a resource for a bot. */
    int rc = session_bind(s, prepared, 0);
    free(prepared);
    if (rc != 0) {
        ls->deliver = NULL; /* the caller gets NULL, not a close notice */
        session_close(s, NULL, NULL);
        return NULL;
    }
    return s;
}

static int api_session_submit(mynah_session *s, mynah_stanza *stanza)
{
    if (s == NULL || s->kind != MYNAH_SESSION_LOCAL ||
        s->state != SESSION_BOUND) {
        stanza_unref(stanza);
        return -1;
    }
    s->last_input = server_now();
    session_ref(s); /* routing may close it */
    router_from_client(s, stanza);
    session_unref(s);
    return 0;
}

void module_api_close_local_sessions(mynah_module *module, mynah_host *host)
{
    for (mynah_session *s = session_first(); s; s = s->next_all) {
        if (s->ops != &local_ops || s->state == SESSION_CLOSING)
            continue;
        local_session *ls = s->proto;
        if (ls->owner == module && (host == NULL || s->host == host))
            session_close(s, NULL, NULL);
    }
}

/* One element standing alone: its namespace is declared unless it has
 * none (see element_serialize). */
static char *api_element_to_string(const mynah_element *element, size_t *len)
{
    buf out = BUF_INIT;
    if (element_serialize(element, NULL, &out) < 0 ||
        buf_append(&out, "", 1) < 0) {
        buf_free(&out);
        return NULL;
    }
    if (len != NULL)
        *len = buf_length(&out) - 1;
    return out.data; /* a fresh buffer never consumed: start is 0 */
}

static const char *api_session_peer_address(const mynah_session *s)
{
    return s->conn ? conn_peer_address(s->conn) : NULL;
}

static int api_session_is_encrypted(const mynah_session *s)
{
    return s->conn != NULL && conn_is_tls(s->conn);
}

static const struct mynah_api table = {
    .size = sizeof(struct mynah_api),
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,

    .log = api_log,

    .option_string = module_option_string,
    .option_integer = module_option_integer,
    .option_number = module_option_number,
    .option_boolean = module_option_boolean,
    .option_array_length = module_option_array_length,
    .option_array_item = module_option_array_item,

    .hook = api_hook,
    .unhook = api_unhook,
    .fire = api_fire,
    .async_done = event_async_done,

    .event_stanza = event_stanza,
    .event_origin = event_origin,
    .event_host = event_host,
    .event_name = event_name,
    .event_features = event_features,
    .event_ref = event_ref,

    .stanza_new = stanza_new,
    .stanza_ref = stanza_ref,
    .stanza_unref = stanza_unref,
    .stanza_copy = stanza_copy,
    .stanza_root = stanza_root,
    .stanza_to_string = stanza_to_string,
    .stanza_parse = stanza_parse,
    .stanza_reply = stanza_reply,
    .stanza_error_reply = stanza_error_reply,

    .element_name = element_name,
    .element_xmlns = element_xmlns,
    .element_attr = element_attr,
    .element_set_attr = element_set_attr,
    .element_add_child = element_add_child,
    .element_add_text = element_add_text,
    .element_child = element_child,
    .element_first_child = element_first_child,
    .element_next_sibling = element_next_sibling,
    .element_text = element_text,
    .element_attr_at = element_attr_at,
    .element_remove = element_remove,
    .element_parent = element_parent,

    .jid_new = jid_new,
    .jid_free = jid_free,
    .jid_full = jid_full,
    .jid_bare = jid_bare,
    .jid_part = jid_part,

    .route = api_route,
    .session_send = session_send,
    .send_iq = router_send_iq,

    .add_feature = api_add_feature,
    .add_identity = api_add_identity,
    .host_feature_at = host_feature_at,
    .host_identity_at = host_identity_at,

    .timer_add = api_timer_add,
    .timer_cancel = timer_cancel,

    .open_store = storage_open,
    .keyval_get = store_keyval_get,
    .keyval_set = store_keyval_set,
    .map_get = store_map_get,
    .map_set = store_map_set,
    .map_list = store_map_list,
    .archive_append = store_archive_append,
    .archive_find = store_archive_find,
    .archive_delete = store_archive_delete,
    .provide_storage = storage_provide,

    .host_name = host_name,
    .host_find = host_find,
    .host_set_data = host_set_data,
    .host_get_data = host_get_data,

    .session_kind = api_session_kind,
    .session_jid = api_session_jid,
    .session_host = api_session_host,
    .session_find = session_find,
    .session_of_user = session_of_user,
    .session_priority = api_session_priority,
    .session_presence = api_session_presence,
    .session_close = session_close,

    .export_api = module_export_api,
    .get_api = module_get_api,

    .now = server_now,
    .server_version = server_version,
    .data_path = api_data_path,

    .session_set_data = session_set_module_data,
    .session_get_data = session_get_module_data,
    .session_available = api_session_available,
    .session_interested = api_session_interested,
    .session_set_interested = api_session_set_interested,
    .session_next = session_next_bound,
    .session_idle_seconds = api_session_idle_seconds,
    .session_on_flushed = session_on_flushed,
    .user_exists = api_user_exists,

    .host_next = api_host_next,
    .host_is_component = api_host_is_component,
    .option_array_subitem = api_option_array_subitem,
    .server_start_time = api_server_start_time,
    .session_on_flushed_held = api_session_on_flushed_held,
    .session_send_raw = session_send_raw,
    .stanzas_routed = router_stanzas_routed,
    .session_count = session_count,
    .session_new_local = api_session_new_local,
    .session_submit = api_session_submit,
    .element_to_string = api_element_to_string,
    .element_copy_into = element_copy_into,
    .account_create = account_ops_create,
    .account_set_password = account_ops_set_password,
    .account_delete = account_ops_delete,
    .session_peer_address = api_session_peer_address,
    .session_is_encrypted = api_session_is_encrypted,
};

const mynah_api *module_api(void)
{
    return &table;
}
