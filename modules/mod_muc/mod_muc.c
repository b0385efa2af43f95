/*
 * mod_muc: the module descriptor, options and hooks.
 *
 *   Component "rooms.example.org" "muc"
 *
 * makes rooms.example.org a Multi-User Chat service (XEP-0045).  The
 * router fires the component's events for stanzas to the service
 * (rooms.example.org), to rooms (room@rooms.example.org) and to occupants
 * (room@rooms.example.org/nick); this file sends each to the part that
 * handles it.  Two global events matter too: "resource-unbind" (a user's
 * session ended: leave every room, whether or not the user's host runs
 * mod_presence) and "server-stopping" (status 332 to every occupant).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

const mynah_api *api;
mynah_module *muc_module;

static const mynah_option_spec options[] = {
    {"max_history_messages", MYNAH_OPTION_INTEGER, "20", 0, 1000, 1,
     "the most messages of history a room may keep"},
    {"restrict_room_creation", MYNAH_OPTION_ANY, "false", 0, 0, 1,
     "who may create rooms: false (anyone), \"local\" (this server's users), "
     "true or \"admin\" (the server's admins)"},
    {"muc_room_locking", MYNAH_OPTION_BOOLEAN, "true", 0, 0, 1,
     "a new room stays locked until its owner configures it (XEP-0045 10.1)"},
    {"muc_room_default_public", MYNAH_OPTION_BOOLEAN, "true", 0, 0, 1,
     "new rooms are listed in the directory"},
    {"muc_room_default_persistent", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "new rooms survive their last occupant and restarts"},
    {"muc_room_default_members_only", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "only members may enter new rooms"},
    {"muc_room_default_moderated", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "in new rooms, only occupants with voice may speak"},
    {"muc_room_default_public_jids", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "new rooms show real JIDs to everyone (non-anonymous)"},
    {"muc_room_default_change_subject", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "participants of new rooms may change the subject"},
    {"muc_room_default_allow_member_invites", MYNAH_OPTION_BOOLEAN, "false", 0,
     0, 1, "participants of new members-only rooms may invite"},
    {"muc_room_default_history_length", MYNAH_OPTION_INTEGER, "20", 0, 1000, 1,
     "messages of history new rooms keep (at most max_history_messages)"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

/* ---- helpers shared by the files ---- */

char *muc_strdup(const char *text)
{
    return strdup(text ? text : "");
}

mynah_element *muc_add_text_child(mynah_element *parent, const char *name,
                                  const char *xmlns, const char *text)
{
    mynah_element *child = api->element_add_child(parent, name, xmlns);
    if (child == NULL)
        return NULL;
    if (text && text[0] && api->element_add_text(child, text, strlen(text)) < 0)
        return NULL;
    return child;
}

char *muc_join_jid(const char *local, const char *domain, const char *resource)
{
    size_t n = strlen(local) + 1 + strlen(domain) +
               (resource ? 1 + strlen(resource) : 0) + 1;
    char *jid = malloc(n);
    if (jid == NULL)
        return NULL;
    snprintf(jid, n, "%s@%s%s%s", local, domain, resource ? "/" : "",
             resource ? resource : "");
    return jid;
}

int muc_type_is(const char *type, const char *want)
{
    return type != NULL && strcmp(type, want) == 0;
}

void muc_reply_result(const mynah_stanza *iq)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply)
        api->route(reply);
}

void muc_error(const mynah_stanza *stanza, const char *type,
               const char *condition, const char *text)
{
    mynah_element *root = api->stanza_root((mynah_stanza *)stanza);
    const char *stype = api->element_attr(root, "type");
    if (stype && strcmp(stype, "error") == 0)
        return; /* RFC 6120 §8.3.1: never an error to an error */
    mynah_stanza *reply = api->stanza_error_reply(stanza, type, condition, text);
    if (reply == NULL)
        return;
    /* §7.2: presence errors carry the MUC element, which is how clients
     * tell a failed join from other presence errors. */
    if (strcmp(api->element_name(root), "presence") == 0)
        api->element_add_child(api->stanza_root(reply), "x", NS_MUC);
    api->route(reply);
}

int muc_is_server_admin(muc_service *service, const char *bare)
{
    (void)service;
    size_t n = api->option_array_length(muc_module, NULL, "admins");
    for (size_t i = 0; i < n; i++) {
        const char *item = api->option_array_item(muc_module, NULL, "admins", i);
        mynah_jid *admin = item ? api->jid_new(item) : NULL;
        int same = admin && strcmp(api->jid_bare(admin), bare) == 0;
        if (admin)
            api->jid_free(admin);
        if (same)
            return 1;
    }
    return 0;
}

/* ---- events ---- */

static int on_presence_full(mynah_event *event, void *userdata)
{
    return presence_to_occupant(userdata, api->event_stanza(event));
}

static int on_presence_bare(mynah_event *event, void *userdata)
{
    return presence_to_room(userdata, api->event_stanza(event));
}

static int on_message_bare(mynah_event *event, void *userdata)
{
    return message_to_room(userdata, api->event_stanza(event));
}

static int on_message_full(mynah_event *event, void *userdata)
{
    return message_to_occupant(userdata, api->event_stanza(event));
}

static int on_iq_bare(mynah_event *event, void *userdata)
{
    return iq_to_room(userdata, api->event_stanza(event));
}

static int on_iq_full(mynah_event *event, void *userdata)
{
    return iq_to_occupant(userdata, api->event_stanza(event));
}

static int on_disco_info(mynah_event *event, void *userdata)
{
    disco_service_info(userdata, api->event_stanza(event));
    return MYNAH_HANDLED;
}

static int on_disco_items(mynah_event *event, void *userdata)
{
    disco_service_items(userdata, api->event_stanza(event));
    return MYNAH_HANDLED;
}

static int on_ping(mynah_event *event, void *userdata)
{
    (void)userdata;
    muc_reply_result(api->event_stanza(event));
    return MYNAH_HANDLED;
}

static int on_resource_unbind(mynah_event *event, void *userdata)
{
    mynah_session *session = api->event_origin(event);
    const mynah_jid *jid = session ? api->session_jid(session) : NULL;
    if (jid != NULL)
        presence_session_gone(userdata, api->jid_full(jid));
    return MYNAH_PASS;
}

static int on_server_stopping(mynah_event *event, void *userdata)
{
    (void)event;
    presence_shutdown(userdata);
    return MYNAH_PASS;
}

/* ---- lifecycle ---- */

static int read_creation(mynah_module *module, mynah_host *host)
{
    if (api->option_boolean(module, host, "restrict_room_creation"))
        return CREATE_ADMINS;
    const char *text = api->option_string(module, host, "restrict_room_creation");
    if (text && strcmp(text, "local") == 0)
        return CREATE_LOCAL;
    if (text && (strcmp(text, "admin") == 0 || strcmp(text, "true") == 0))
        return CREATE_ADMINS;
    return CREATE_ANYONE;
}

static void read_options(muc_service *service, mynah_module *module,
                         mynah_host *host)
{
    muc_config *d = &service->defaults;
    service->max_history =
        (int)api->option_integer(module, host, "max_history_messages");
    service->creation = read_creation(module, host);
    service->locking = api->option_boolean(module, host, "muc_room_locking");
    d->public_room = api->option_boolean(module, host, "muc_room_default_public");
    d->persistent =
        api->option_boolean(module, host, "muc_room_default_persistent");
    d->members_only =
        api->option_boolean(module, host, "muc_room_default_members_only");
    d->moderated = api->option_boolean(module, host, "muc_room_default_moderated");
    d->whois_anyone =
        api->option_boolean(module, host, "muc_room_default_public_jids");
    d->change_subject =
        api->option_boolean(module, host, "muc_room_default_change_subject");
    d->allow_invites = api->option_boolean(
        module, host, "muc_room_default_allow_member_invites");
    long long history =
        api->option_integer(module, host, "muc_room_default_history_length");
    d->history_length = (int)(history > service->max_history
                                  ? service->max_history : history);
}

static void service_free(muc_service *service)
{
    strmap_iter it = {0};
    /* Rooms free their occupants, which leave the index by real JID. */
    while (service->rooms.count > 0) {
        it = (strmap_iter){0};
        if (!strmap_next(&service->rooms, &it))
            break;
        muc_room *room = it.value;
        strmap_remove(&service->rooms, room->name);
        room_free(room);
    }
    strmap_clear(&service->rooms);
    strmap_clear(&service->by_real_jid);
    config_free(&service->defaults);
    free(service->domain);
    free(service);
}

typedef struct hook_spec {
    const char *event;
    mynah_hook_fn fn;
} hook_spec;

static const hook_spec host_hooks[] = {
    {"presence/full", on_presence_full},
    {"presence/bare", on_presence_bare},
    {"message/bare", on_message_bare},
    {"message/full", on_message_full},
    {"iq/bare", on_iq_bare},
    {"iq/full", on_iq_full},
    {"iq-get/host/" NS_DISCO_INFO ":query", on_disco_info},
    {"iq-get/host/" NS_DISCO_ITEMS ":query", on_disco_items},
    {"iq-get/host/" NS_PING ":ping", on_ping},
};

static const hook_spec global_hooks[] = {
    {"resource-unbind", on_resource_unbind},
    {"server-stopping", on_server_stopping},
};

static int init(mynah_module *module, const mynah_api *table)
{
    api = table;
    muc_module = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    muc_service *service = calloc(1, sizeof *service);
    if (service == NULL)
        return -1;
    service->host = host;
    service->domain = strdup(api->host_name(host));
    service->defaults.name = strdup("");
    service->defaults.description = strdup("");
    service->defaults.password = strdup("");
    if (service->domain == NULL || service->defaults.name == NULL ||
        service->defaults.description == NULL ||
        service->defaults.password == NULL) {
        service_free(service);
        return -1;
    }
    read_options(service, module, host);
    service->store = api->open_store(module, host, "muc_rooms", MYNAH_STORE_MAP);
    if (service->store == NULL)
        api->log(module, MYNAH_LOG_WARN,
                 "%s: no storage, persistent rooms will not survive a restart",
                 service->domain);
    api->host_set_data(module, host, service);
    int failed = 0;
    for (size_t i = 0; i < sizeof host_hooks / sizeof *host_hooks; i++)
        failed |= api->hook(module, host, host_hooks[i].event,
                            host_hooks[i].fn, service,
                            MYNAH_PRIORITY_DEFAULT) != 0;
    for (size_t i = 0; i < sizeof global_hooks / sizeof *global_hooks; i++)
        failed |= api->hook(module, NULL, global_hooks[i].event,
                            global_hooks[i].fn, service,
                            MYNAH_PRIORITY_DEFAULT) != 0;
    failed |= api->add_identity(module, host, "conference", "text",
                                "Chatrooms") != 0;
    static const char *const features[] = {NS_MUC, NS_DISCO_INFO,
                                           NS_DISCO_ITEMS, NS_PING};
    for (size_t i = 0; i < sizeof features / sizeof *features; i++)
        failed |= api->add_feature(module, host, features[i]) != 0;
    if (failed) {
        for (size_t i = 0; i < sizeof global_hooks / sizeof *global_hooks; i++)
            api->unhook(module, NULL, global_hooks[i].event,
                        global_hooks[i].fn, service);
        api->host_set_data(module, host, NULL);
        service_free(service);
        return -1;
    }
    persist_load(service);
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    muc_service *service = api->host_get_data(module, host);
    if (service == NULL)
        return;
    /* The global hooks carry this service: they must not outlive it even
     * if the module stays on other hosts. */
    for (size_t i = 0; i < sizeof global_hooks / sizeof *global_hooks; i++)
        api->unhook(module, NULL, global_hooks[i].event, global_hooks[i].fn,
                    service);
    presence_shutdown(service); /* 332: the service is going away */
    api->host_set_data(module, host, NULL);
    service_free(service);
}

static int reload(mynah_module *module, mynah_host *host)
{
    muc_service *service = api->host_get_data(module, host);
    if (service != NULL)
        read_options(service, module, host);
    return 0;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "muc",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
    .reload = reload,
};
