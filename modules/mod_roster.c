/*
 * mod_roster: the roster (RFC 6121 §2) and roster versioning (§2.6,
 * XEP-0237).
 *
 *   roster get     iq-get/self/jabber:iq:roster:query: the listed items,
 *                  or an empty result when the client's 'ver' is current;
 *                  the resource becomes "interested" (gets pushes).
 *   roster set     iq-set/self/jabber:iq:roster:query: add or update one
 *                  item (name, groups), or remove it (subscription=
 *                  'remove', which also cancels the subscriptions both
 *                  ways, §2.5.2); every change is pushed to each
 *                  interested resource with a new version.
 *
 * The subscription states of the items are mod_presence's business; both
 * modules use the same stored items (roster_store.c).  Every write is
 * acknowledged by the store before the client hears of it.
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#include "roster_store.h"

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"roster_max_items", MYNAH_OPTION_INTEGER, ROSTER_MAX_ITEMS_DEFAULT, 1,
     1000000, 1, "at most this many contacts in a user's roster"},
    {"roster_max_name_length", MYNAH_OPTION_INTEGER,
     ROSTER_MAX_NAME_LENGTH_DEFAULT, 1, 65535, 1,
     "longest roster item name or group name, in bytes"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

static mynah_store *host_store(mynah_host *host)
{
    return api->host_get_data(self, host);
}

/* ---- answers ---- */

/* ---- roster get (§2.2) ---- */

static void on_get_loaded(roster *r, void *userdata)
{
    roster_job *job = userdata;
    mynah_stanza *iq = api->event_stanza(job->event);
    if (iq == NULL) {
        roster_free(r);
        roster_job_end(job);
        return;
    }
    if (r == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        roster_job_end(job);
        return;
    }
    mynah_element *asked = api->element_child(api->stanza_root(iq), "query",
                                              ROSTER_NS);
    const char *client_ver = asked ? api->element_attr(asked, "ver") : NULL;
    char version[32];
    roster_version_text(r, version, sizeof version);
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply == NULL) {
        roster_free(r);
        roster_job_end(job);
        return;
    }
    /* §2.6.3: a client whose version is current gets an empty result and
     * learns of later changes through pushes. */
    if (client_ver == NULL || strcmp(client_ver, version) != 0) {
        mynah_element *query = api->element_add_child(api->stanza_root(reply),
                                                      "query", ROSTER_NS);
        /* §2.6.2: 'ver' only for a client that does versioning. */
        if (client_ver != NULL)
            api->element_set_attr(query, "ver", version);
        for (size_t i = 0; i < r->count; i++)
            if (r->items[i]->listed)
                roster_item_to_xml(api, query, r->items[i], 0);
    }
    /* §2.2: asking for the roster makes the resource "interested". */
    mynah_session *origin = api->event_origin(job->event);
    if (origin != NULL)
        api->session_set_interested(origin, 1);
    api->route(reply);
    roster_free(r);
    roster_job_end(job);
}

static int on_roster_get(mynah_event *event, void *userdata)
{
    (void)userdata;
    mynah_stanza *iq = api->event_stanza(event);
    char *owner = roster_bare_of(api, api->element_attr(api->stanza_root(iq),
                                                        "from"));
    if (owner == NULL || strchr(owner, '@') == NULL) {
        free(owner);
        modutil_reply_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    roster_job *job = roster_job_begin(api, event, NULL, NULL);
    if (job == NULL) {
        free(owner);
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    roster_load(api, self, host_store(api->event_host(event)), owner,
                on_get_loaded, job);
    free(owner);
    return roster_job_return(job);
}

/* ---- roster set (§2.3, §2.4, §2.5) ---- */

/* What the client asked for, checked before touching the store. */
typedef struct set_request {
    char *owner;       /* the user's bare JID */
    char *contact;     /* the item's bare JID */
    int remove;
    roster_item *wanted; /* name and groups (not for remove) */
    roster *r;
    /* remove: what the removal has to tell the contact (§2.5.2) */
    int cancel_to, cancel_from, was_from, was_listed;
} set_request;

static void set_request_free(void *data)
{
    set_request *req = data;
    if (req == NULL)
        return;
    free(req->owner);
    free(req->contact);
    roster_item_free(req->wanted);
    roster_free(req->r);
    free(req);
}

/*
 * Checks the single <item/> of a roster set (§2.3.3) into req.  Returns
 * NULL when it is acceptable, otherwise the condition (and *type, *text).
 */
static const char *check_item(mynah_host *host, mynah_element *query,
                              set_request *req, const char **type,
                              const char **text)
{
    *type = "modify";
    *text = NULL;
    mynah_element *item = NULL;
    size_t children = 0;
    for (mynah_element *c = api->element_first_child(query); c;
         c = api->element_next_sibling(c)) {
        children++;
        item = c;
    }
    /* §2.3.3: exactly one <item/>. */
    if (children != 1 || strcmp(api->element_name(item), "item") != 0 ||
        strcmp(api->element_xmlns(item), ROSTER_NS) != 0) {
        *text = "A roster set carries exactly one item";
        return "bad-request";
    }
    const char *jid_text = api->element_attr(item, "jid");
    if (jid_text == NULL) {
        *text = "The item has no 'jid'";
        return "bad-request";
    }
    mynah_jid *jid = api->jid_new(jid_text);
    if (jid == NULL)
        return "jid-malformed";
    if (api->jid_part(jid, MYNAH_JID_RESOURCE) != NULL) {
        api->jid_free(jid);
        *text = "Roster items are bare JIDs";
        return "bad-request";
    }
    req->contact = strdup(api->jid_bare(jid));
    api->jid_free(jid);
    if (req->contact == NULL) {
        *type = "wait";
        return "internal-server-error";
    }
    if (strcmp(req->contact, req->owner) == 0) {
        /* One's own presence needs no subscription (§4.2.2 etc.): the
         * account is not a contact of itself. */
        *type = "cancel";
        *text = "Your own JID cannot be in your roster";
        return "not-allowed";
    }
    /* §2.1.2.5: in a set, any 'subscription' other than "remove" is
     * ignored, as are 'ask' and 'approved' (§2.1.2.1, §2.1.2.2). */
    const char *subscription = api->element_attr(item, "subscription");
    if (subscription != NULL && strcmp(subscription, "remove") == 0) {
        req->remove = 1;
        return NULL;
    }
    size_t max_len =
        (size_t)api->option_integer(self, host, "roster_max_name_length");
    req->wanted = roster_item_new(req->contact);
    if (req->wanted == NULL) {
        *type = "wait";
        return "internal-server-error";
    }
    const char *name = api->element_attr(item, "name");
    if (name != NULL && strlen(name) > max_len) {
        *text = "The name is too long";
        return "not-acceptable";
    }
    if (roster_item_set_name(req->wanted, name) < 0) {
        *type = "wait";
        return "internal-server-error";
    }
    for (mynah_element *g = api->element_first_child(item); g;
         g = api->element_next_sibling(g)) {
        if (strcmp(api->element_name(g), "group") != 0 ||
            strcmp(api->element_xmlns(g), ROSTER_NS) != 0)
            continue;
        const char *group = api->element_text(g);
        if (group[0] == '\0') {
            *text = "A group name cannot be empty";
            return "not-acceptable";
        }
        if (strlen(group) > max_len) {
            *text = "A group name is too long";
            return "not-acceptable";
        }
        for (size_t i = 0; i < req->wanted->group_count; i++) {
            if (strcmp(req->wanted->groups[i], group) == 0) {
                *text = "The item lists a group twice";
                return "bad-request";
            }
        }
        if (roster_item_add_group(req->wanted, group) < 0) {
            *type = "wait";
            return "internal-server-error";
        }
    }
    return NULL;
}

static void on_set_saved(int ok, void *userdata)
{
    roster_job *job = userdata;
    set_request *req = job->data;
    mynah_stanza *iq = api->event_stanza(job->event);
    if (!ok) {
        if (iq != NULL)
            modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        roster_job_end(job);
        return;
    }
    if (iq != NULL)
        modutil_reply_result(iq);
    if (!req->remove) {
        roster_push(api, req->r, req->contact, roster_find(req->r, req->contact),
                    0);
        roster_job_end(job);
        return;
    }
    if (req->was_listed)
        roster_push(api, req->r, req->contact, NULL, 1);
    /* §2.5.2: removing the item cancels the subscriptions both ways; the
     * contact's server sees an ordinary unsubscribe / unsubscribed. */
    if (req->was_from)
        roster_send_unavailable_from_resources(api, req->owner, req->contact);
    if (req->cancel_to)
        roster_send_presence(api, req->owner, req->contact, "unsubscribe");
    if (req->cancel_from)
        roster_send_presence(api, req->owner, req->contact, "unsubscribed");
    roster_job_end(job);
}

static void on_set_loaded(roster *r, void *userdata)
{
    roster_job *job = userdata;
    set_request *req = job->data;
    mynah_stanza *iq = api->event_stanza(job->event);
    if (r == NULL) {
        if (iq != NULL)
            modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        roster_job_end(job);
        return;
    }
    req->r = r;
    roster_item *item = roster_find(r, req->contact);
    if (req->remove) {
        /* §2.5.3: removing what is not there. */
        if (item == NULL) {
            if (iq != NULL)
                modutil_reply_error(iq, "cancel", "item-not-found", NULL);
            roster_job_end(job);
            return;
        }
        req->was_listed = item->listed;
        req->was_from = (item->subscription & ROSTER_SUB_FROM) != 0;
        req->cancel_to = (item->subscription & ROSTER_SUB_TO) || item->ask;
        req->cancel_from = req->was_from || item->pending_in;
        roster_delete(r, req->contact);
        roster_save(api, host_store(api->event_host(job->event)), r,
                    req->contact, req->was_listed, on_set_saved, job);
        return;
    }
    if (item == NULL) {
        long long max = api->option_integer(self, api->event_host(job->event),
                                            "roster_max_items");
        if ((long long)r->count >= max) {
            if (iq != NULL)
                modutil_reply_error(iq, "cancel", "not-allowed",
                                    "The roster is full");
            roster_job_end(job);
            return;
        }
        item = roster_add(r, req->contact);
        if (item == NULL) {
            if (iq != NULL)
                modutil_reply_error(iq, "wait", "internal-server-error", NULL);
            roster_job_end(job);
            return;
        }
    }
    /* The set replaces name and groups; subscription states stay. */
    char **groups = item->groups;
    size_t group_count = item->group_count;
    item->groups = req->wanted->groups;
    item->group_count = req->wanted->group_count;
    req->wanted->groups = groups;
    req->wanted->group_count = group_count;
    char *name = item->name;
    item->name = req->wanted->name;
    req->wanted->name = name;
    item->listed = 1;
    roster_save(api, host_store(api->event_host(job->event)), r, req->contact,
                1, on_set_saved, job);
}

static int on_roster_set(mynah_event *event, void *userdata)
{
    (void)userdata;
    mynah_stanza *iq = api->event_stanza(event);
    mynah_element *root = api->stanza_root(iq);
    set_request *req = calloc(1, sizeof *req);
    if (req == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    req->owner = roster_bare_of(api, api->element_attr(root, "from"));
    mynah_element *query = api->element_child(root, "query", ROSTER_NS);
    if (req->owner == NULL || strchr(req->owner, '@') == NULL || query == NULL) {
        set_request_free(req);
        modutil_reply_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    const char *type, *text;
    const char *condition = check_item(api->event_host(event), query, req,
                                       &type, &text);
    if (condition != NULL) {
        set_request_free(req);
        modutil_reply_error(iq, type, condition, text);
        return MYNAH_HANDLED;
    }
    roster_job *job = roster_job_begin(api, event, req, set_request_free);
    if (job == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    roster_load(api, self, host_store(api->event_host(event)), req->owner,
                on_set_loaded, job);
    return roster_job_return(job);
}

/* §2.3.3: only the account itself may read or change its roster. */
static int on_other_roster(mynah_event *event, void *userdata)
{
    (void)userdata;
    modutil_reply_error(api->event_stanza(event), "auth", "forbidden", NULL);
    return MYNAH_HANDLED;
}

/* XEP-0237 §3: roster versioning, offered once the stream is
 * authenticated (the features that carry <bind/>). */
static int on_features(mynah_event *event, void *userdata)
{
    (void)userdata;
    modutil_add_bound_feature(event, "ver", "urn:xmpp:features:rosterver");
    return MYNAH_PASS;
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    if (!MYNAH_API_HAS(table, session_set_interested))
        return -1;
    api = table;
    modutil_init(table);
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    mynah_store *store = api->open_store(module, host, ROSTER_STORE,
                                         MYNAH_STORE_MAP);
    if (store == NULL)
        return -1;
    api->host_set_data(module, host, store);
    if (api->hook(module, host, "iq-get/self/" ROSTER_NS ":query",
                  on_roster_get, NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-set/self/" ROSTER_NS ":query",
                  on_roster_set, NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-get/bare/" ROSTER_NS ":query",
                  on_other_roster, NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-set/bare/" ROSTER_NS ":query",
                  on_other_roster, NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "stream-features", on_features, NULL,
                  MYNAH_PRIORITY_DEFAULT) != 0)
        return -1;
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    /* The core closes the store itself. */
    api->host_set_data(module, host, NULL);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "roster",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
