/*
 * mod_iot_provisioning: a provisioning server, XEP-0324
 * (urn:xmpp:iot:provisioning), served as a component:
 *
 *     Component "provisioning.example.org" "iot_provisioning"
 *
 * Things that delegate their trust to it ask isFriend, canRead and
 * canControl; it answers from the rules their owners set.  The owner of a
 * thing is whoever claimed it in the thing registry (mod_iot_discovery,
 * asked through its exported "iot_registry" API); owners edit the rules
 * with ad-hoc commands (commands.c).  When rules change, the thing gets
 * <friend/> or <unfriend/> and a clearCache, at once if it is online,
 * else when one of its resources binds again (§Caching: "the provisioning
 * server must keep track of when a device is online").
 *
 * The same rules are enforced by the server itself: mod_sensordata and
 * mod_iot_control ask this module (its exported "iot_provisioning" API)
 * before a request reaches a thing, so a thing that never asks still
 * cannot be read or controlled by someone its owner did not allow.
 *
 * The decision, for a requester R and a thing T:
 *   T not claimed                 -> open (the server routes as usual);
 *                                    asked by T, the answers are "false"
 *   R is T's owner, or T itself   -> allowed, everything
 *   R is a friend the owner set   -> what the rule says (read, control,
 *                                    limited to some fields/parameters)
 *   anyone else                   -> denied
 *
 * Not implemented: tokens (getToken, tokenChallenge), canAccess,
 * hasPrivilege, downloadPrivileges: they get service-unavailable, the
 * answer for what a component does not serve.
 *
 * Storage: a map store "iot_provisioning" per component, user "things",
 * one entry per thing (see rules.c for the format).
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "commands.h"
#include "iot_api.h"
#include "iot_util.h"
#include "iot_xml.h"
#include "rules.h"

#define STORE_USER "things"

static const mynah_api *api;
static mynah_module *self;
static prov_host *all_hosts;
static const iot_registry_api *registry;
static int watching;

static const mynah_option_spec options[] = {
    {"iot_provisioning_name", MYNAH_OPTION_STRING,
     "\"Provisioning Server\"", 0, 200, 1,
     "the provisioning server's name in service discovery"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

/* ---- the registry ---- */

static void on_owner_change(const char *thing, const char *owner,
                            void *userdata);

const iot_registry_api *prov_registry(void)
{
    if (registry == NULL)
        registry = api->get_api(self, IOT_REGISTRY_API,
                                IOT_REGISTRY_API_VERSION);
    if (registry != NULL && !watching &&
        registry->watch(on_owner_change, NULL) == 0)
        watching = 1;
    return registry;
}

static const char *owner_of(const char *thing)
{
    const iot_registry_api *r = prov_registry();
    return r ? r->owner_of(thing) : NULL;
}

/* ---- storage ---- */

void prov_save(prov_host *ph, const prov_thing *t)
{
    iot_buf rec = {0};
    prov_encode(t, &rec);
    if (rec.failed) {
        api->log(self, MYNAH_LOG_ERROR, "no memory to store the rules of %s",
                 t->thing);
    } else {
        api->map_set(ph->store, STORE_USER, t->thing, rec.data, rec.len, NULL,
                     NULL);
    }
    iot_buf_free(&rec);
}

/* ---- telling things ---- */

/* A clearCache is owed until the thing acknowledges one: sent to a
 * session that is closing, or unanswered, it stays owed and goes again
 * when a resource binds. */
static void on_clear_cache_answer(mynah_stanza *reply, void *userdata)
{
    char *thing = userdata;
    const char *type = reply ? api->element_attr(api->stanza_root(reply),
                                                 "type")
                             : NULL;
    if (type != NULL && strcmp(type, "result") == 0)
        for (prov_host *ph = all_hosts; ph != NULL; ph = ph->next) {
            prov_thing *t = prov_find(&ph->table, thing);
            if (t != NULL && t->clear_pending) {
                t->clear_pending = 0;
                prov_save(ph, t);
            }
        }
    free(thing);
}

static void send_clear_cache(prov_host *ph, const prov_thing *t,
                             const char *full_jid)
{
    char *thing = strdup(t->thing);
    mynah_stanza *iq = iot_iq("set", api->host_name(ph->host), full_jid, NULL,
                              "clearCache", IOT_NS_PROVISIONING, NULL);
    if (iq == NULL || thing == NULL) {
        if (iq)
            api->stanza_unref(iq);
        free(thing);
        return;
    }
    api->send_iq(self, iq, on_clear_cache_answer, thing, 30);
}

/* clearCache to every bound resource; owed until one answers. */
static void clear_cache(prov_host *ph, prov_thing *t)
{
    if (!t->clear_pending) {
        t->clear_pending = 1;
        prov_save(ph, t);
    }
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(t->thing, i)) != NULL; i++)
        if (api->session_jid(s) != NULL)
            send_clear_cache(ph, t, api->jid_full(api->session_jid(s)));
}

void prov_rules_changed(prov_host *ph, prov_thing *t, const char *what,
                        const char *jid)
{
    prov_save(ph, t);
    /* "only to devices that asked before" */
    if (!t->asked)
        return;
    if (what != NULL) {
        mynah_element *child;
        mynah_stanza *msg = iot_message(api->host_name(ph->host), t->thing,
                                        what, IOT_NS_PROVISIONING, &child);
        if (msg != NULL) {
            api->element_set_attr(child, "jid", jid);
            api->route(msg);
        }
    }
    clear_cache(ph, t);
}

static void on_owner_change(const char *thing, const char *owner,
                            void *userdata)
{
    (void)userdata;
    for (prov_host *ph = all_hosts; ph != NULL; ph = ph->next) {
        prov_thing *t = prov_find(&ph->table, thing);
        if (t == NULL)
            continue;
        if (prov_set_owner(t, NULL) < 0)
            continue;
        /* A new owner (or none): the old rules are gone, and whatever the
         * thing cached from us is wrong now. */
        (void)owner;
        prov_rules_changed(ph, t, NULL, NULL);
    }
}

/* A resource bound: a thing that is owed a clearCache gets it. */
static int on_resource_bind(mynah_event *ev, void *ud)
{
    prov_host *ph = ud;
    mynah_session *s = api->event_origin(ev);
    const mynah_jid *jid = s ? api->session_jid(s) : NULL;
    if (jid == NULL)
        return MYNAH_PASS;
    prov_thing *t = prov_find(&ph->table, api->jid_bare(jid));
    if (t != NULL && t->clear_pending)
        send_clear_cache(ph, t, api->jid_full(jid));
    return MYNAH_PASS;
}

/* ---- deciding ---- */

/* The rules entry that speaks for the thing's current owner, if any. */
static const prov_rule *friend_rule(const char *thing, const char *owner,
                                    const char *requester)
{
    for (prov_host *ph = all_hosts; ph != NULL; ph = ph->next) {
        prov_thing *t = prov_find(&ph->table, thing);
        if (t == NULL || t->owner == NULL || strcmp(t->owner, owner) != 0)
            continue;
        const prov_rule *r = prov_rule_find(t, requester);
        if (r != NULL)
            return r;
    }
    return NULL;
}

static void decide(const char *thing, const char *requester, int control,
                   iot_permission *out)
{
    out->names = NULL;
    const char *owner = owner_of(thing);
    if (owner == NULL) {
        out->decision = IOT_OPEN;
        return;
    }
    if (strcmp(requester, owner) == 0 || strcmp(requester, thing) == 0) {
        out->decision = IOT_ALLOW;
        return;
    }
    const prov_rule *r = friend_rule(thing, owner, requester);
    if (r == NULL || !(control ? r->can_control : r->can_read)) {
        out->decision = IOT_DENY;
        return;
    }
    out->decision = IOT_ALLOW;
    out->names = (const char *const *)(control ? r->parameters : r->fields);
}

static void api_may_read(const char *thing, const char *requester,
                         iot_permission *out)
{
    decide(thing, requester, 0, out);
}

static void api_may_control(const char *thing, const char *requester,
                            iot_permission *out)
{
    decide(thing, requester, 1, out);
}

static const iot_provisioning_api provisioning_table = {api_may_read,
                                                        api_may_control};

/* ---- the questions things ask ---- */

typedef struct question {
    mynah_stanza *iq;
    mynah_element *request;
    char thing[3072];
    char *about; /* the prepared bare JID of the jid attribute */
} question;

/* Reads the asker and the jid attribute, marks that the thing asked;
 * answers the error itself and returns -1 when the question is bad. */
static int read_question(mynah_event *ev, question *q)
{
    prov_host *ph = api->host_get_data(self, api->event_host(ev));
    q->iq = api->event_stanza(ev);
    q->request = api->element_first_child(api->stanza_root(q->iq));
    q->about = NULL;
    const char *from = api->element_attr(api->stanza_root(q->iq), "from");
    if (ph == NULL || !ph->loaded) {
        iot_error(q->iq, "wait", "resource-constraint", NULL);
        return -1;
    }
    if (from == NULL || iot_bare(from, q->thing, sizeof q->thing) < 0) {
        iot_error(q->iq, "modify", "bad-request", NULL);
        return -1;
    }
    const char *jid = api->element_attr(q->request, "jid");
    if (jid == NULL) {
        iot_error(q->iq, "modify", "bad-request",
                  "the jid attribute is missing");
        return -1;
    }
    /* "Any resource information in the JID must be ignored." */
    q->about = iot_prepare_bare(jid);
    if (q->about == NULL) {
        iot_error(q->iq, "modify", "jid-malformed", NULL);
        return -1;
    }
    /* Only a claimed thing is remembered: anyone may ask, and a
     * provisioning server manages only what someone owns. */
    prov_thing *t = owner_of(q->thing) ? prov_get(&ph->table, q->thing)
                                       : NULL;
    if (t != NULL && !t->asked) {
        t->asked = 1;
        prov_save(ph, t);
    }
    return 0;
}

static mynah_element *answer(question *q, const char *name,
                             mynah_stanza **reply)
{
    *reply = api->stanza_reply(q->iq);
    mynah_element *e =
        *reply ? api->element_add_child(api->stanza_root(*reply), name,
                                        IOT_NS_PROVISIONING)
               : NULL;
    if (e == NULL) {
        if (*reply)
            api->stanza_unref(*reply);
        *reply = NULL;
        return NULL;
    }
    /* The request's own jid (as sent) comes back, as in the examples. */
    api->element_set_attr(e, "jid",
                          api->element_attr(q->request, "jid"));
    return e;
}

static int on_is_friend(mynah_event *ev, void *ud)
{
    (void)ud;
    question q;
    if (read_question(ev, &q) < 0)
        return MYNAH_HANDLED;
    const char *owner = owner_of(q.thing);
    int friend = 0;
    if (owner != NULL)
        friend = strcmp(q.about, owner) == 0 ||
                 friend_rule(q.thing, owner, q.about) != NULL;
    mynah_stanza *reply;
    mynah_element *e = answer(&q, "isFriendResponse", &reply);
    if (e != NULL) {
        api->element_set_attr(e, "result", friend ? "true" : "false");
        api->route(reply);
    }
    free(q.about);
    return MYNAH_HANDLED;
}

/* The field-type attributes (momentary, all, historical...) are echoed;
 * tokens are not. */
static void copy_types(const mynah_element *from, mynah_element *to)
{
    const char *name, *value;
    for (size_t i = 0; (name = api->element_attr_at(from, i, &value)) != NULL;
         i++) {
        if (strcmp(name, "jid") == 0 || strstr(name, "Token") != NULL ||
            strcmp(name, "result") == 0)
            continue;
        api->element_set_attr(to, name, value);
    }
}

/* canRead / canControl: `item` is "field" or "parameter". */
static void answer_can(mynah_event *ev, int control)
{
    question q;
    if (read_question(ev, &q) < 0)
        return;
    iot_permission perm;
    decide(q.thing, q.about, control, &perm);
    const char *item = control ? "parameter" : "field";
    /* For the thing asking, unclaimed means nobody allowed anything. */
    int allowed = perm.decision == IOT_ALLOW;
    mynah_stanza *reply;
    mynah_element *e = answer(&q, control ? "canControlResponse"
                                          : "canReadResponse",
                              &reply);
    if (e == NULL) {
        free(q.about);
        return;
    }
    if (!control)
        copy_types(q.request, e);
    if (allowed && perm.names != NULL) {
        /* Limited: the allowed subset of what was asked, or the whole
         * allowed list when nothing in particular was asked. */
        int asked_some = 0, listed = 0;
        for (mynah_element *c = api->element_first_child(q.request); c;
             c = api->element_next_sibling(c)) {
            if (strcmp(api->element_name(c), item) != 0)
                continue;
            asked_some = 1;
            const char *name = api->element_attr(c, "name");
            if (name != NULL && iot_list_has(perm.names, name)) {
                mynah_element *x = api->element_add_child(e, item, NULL);
                if (x)
                    api->element_set_attr(x, "name", name);
                listed++;
            }
        }
        if (!asked_some)
            for (size_t i = 0; perm.names[i]; i++) {
                mynah_element *x = api->element_add_child(e, item, NULL);
                if (x)
                    api->element_set_attr(x, "name", perm.names[i]);
                listed++;
            }
        /* "If no nodes [fields] in the request are allowed ... result
         * false." */
        if (listed == 0)
            allowed = 0;
    }
    /* Nodes are not limited by these rules: "no list" means all. */
    api->element_set_attr(e, "result", allowed ? "true" : "false");
    api->route(reply);
    free(q.about);
}

static int on_can_read(mynah_event *ev, void *ud)
{
    (void)ud;
    answer_can(ev, 0);
    return MYNAH_HANDLED;
}

static int on_can_control(mynah_event *ev, void *ud)
{
    (void)ud;
    answer_can(ev, 1);
    return MYNAH_HANDLED;
}

/* ---- disco#info when no mod_disco answers for the component ---- */

static int on_disco_info(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    if (api->element_attr(query, "node") != NULL) {
        iot_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    iot_disco_info_reply(iq, api->event_host(ev));
    return MYNAH_HANDLED;
}

static int on_server_started(mynah_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    prov_registry();
    return MYNAH_PASS;
}

/* ---- lifecycle ---- */

static void on_loaded(int status, const char *const *keys,
                      const void *const *values, const size_t *lens,
                      size_t count, void *userdata)
{
    prov_host *ph = userdata;
    if (status == MYNAH_STORE_ERROR) {
        api->log(self, MYNAH_LOG_ERROR, "%s: cannot read the rules",
                 api->host_name(ph->host));
        return;
    }
    for (size_t i = 0; i < count; i++) {
        prov_thing *t = prov_decode(keys[i], values[i], lens[i]);
        if (t == NULL || prov_put(&ph->table, t) < 0) {
            api->log(self, MYNAH_LOG_WARN, "%s: skipping bad rules for %s",
                     api->host_name(ph->host), keys[i]);
            prov_thing_free(t);
        }
    }
    ph->loaded = 1;
}

static int init(mynah_module *m, const mynah_api *table)
{
    api = table;
    self = m;
    iot_xml_init(table);
    commands_init(table, m);
    if (api->hook(m, NULL, "server-started", on_server_started, NULL, 0) < 0)
        return -1;
    return api->export_api(m, IOT_PROVISIONING_API,
                           IOT_PROVISIONING_API_VERSION, &provisioning_table);
}

static void forget_host(mynah_module *m, prov_host *ph)
{
    for (prov_host **link = &all_hosts; *link; link = &(*link)->next)
        if (*link == ph) {
            *link = ph->next;
            break;
        }
    for (mynah_host *h = api->host_next(NULL); h != NULL;
         h = api->host_next(h))
        if (!api->host_is_component(h))
            api->unhook(m, h, "resource-bind", on_resource_bind, ph);
    commands_remove_host(ph->host);
    api->host_set_data(m, ph->host, NULL);
    /* prov_table_clear frees the entries; the array itself too. */
    prov_table_clear(&ph->table);
    free(ph);
}

#define IQ_GET(name) "iq-get/host/" IOT_NS_PROVISIONING ":" name

static int add_host(mynah_module *m, mynah_host *host)
{
    prov_host *ph = calloc(1, sizeof *ph);
    if (ph == NULL)
        return -1;
    ph->host = host;
    ph->store = api->open_store(m, host, "iot_provisioning", MYNAH_STORE_MAP);
    if (ph->store == NULL) {
        free(ph);
        return -1;
    }
    api->host_set_data(m, host, ph);
    ph->next = all_hosts;
    all_hosts = ph;
    api->map_list(ph->store, STORE_USER, on_loaded, ph);
    const char *name = api->option_string(m, host, "iot_provisioning_name");
    int rc = api->add_feature(m, host, IOT_NS_PROVISIONING) < 0 ||
             api->add_identity(m, host, "component", "generic",
                               name && name[0] ? name : NULL) < 0 ||
             api->hook(m, host, IQ_GET("isFriend"), on_is_friend, NULL, 0) <
                 0 ||
             api->hook(m, host, IQ_GET("canRead"), on_can_read, NULL, 0) < 0 ||
             api->hook(m, host, IQ_GET("canControl"), on_can_control, NULL,
                       0) < 0 ||
             api->hook(m, host, "iq-get/host/" IOT_NS_DISCO_INFO ":query",
                       on_disco_info, NULL, MYNAH_PRIORITY_LAST) < 0 ||
             commands_add_host(m, host) < 0;
    /* Things connect to the virtual hosts: watch their resources there
     * (a module may hook a host it is not enabled on; the loader sweeps
     * every host when it closes the module). */
    for (mynah_host *h = api->host_next(NULL); h != NULL && !rc;
         h = api->host_next(h))
        if (!api->host_is_component(h) &&
            api->hook(m, h, "resource-bind", on_resource_bind, ph, 0) < 0)
            rc = 1;
    if (rc) {
        forget_host(m, ph);
        return -1;
    }
    prov_registry();
    return 0;
}

static void remove_host(mynah_module *m, mynah_host *host)
{
    prov_host *ph = api->host_get_data(m, host);
    if (ph != NULL)
        forget_host(m, ph);
}

static void fini(mynah_module *m)
{
    (void)m;
    if (watching && registry != NULL)
        registry->unwatch(on_owner_change, NULL);
    watching = 0;
    registry = NULL;
    commands_fini();
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "iot_provisioning",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
    .fini = fini,
};
