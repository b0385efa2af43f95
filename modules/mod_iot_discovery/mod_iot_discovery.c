/*
 * mod_iot_discovery: a thing registry, XEP-0347 (urn:xmpp:iot:discovery),
 * served as a component:
 *
 *     Component "discovery.example.org" "iot_discovery"
 *
 * Things register their meta tags (serial number, manufacturer, model,
 * KEY, ...); an owner who knows them claims the thing ("mine"), and the
 * thing is told so; claimed public things are found by searches; things
 * update their tags, owners update, remove and disown them, things
 * unregister.  See doc/iot.md for the walk-through and every choice made
 * where the XEP is loose; the main ones:
 *
 *  - Records are one per (bare JID, nodeId, sourceId, cacheType).  The
 *    thing-level record (no node) says who owns the thing: that owner is
 *    its provisioning authority (mod_iot_provisioning asks through the
 *    "iot_registry" API this module exports).
 *  - "remove" takes a thing out of the registry (no searches, no updates,
 *    tags dropped) but keeps its owner: hiding a thing must not make it
 *    open to everyone.  "disown" (or the thing's "unregister") ends the
 *    ownership.
 *  - A search with no operator is bad-request (the schema wants one); an
 *    operator on KEY, or on a tag nobody has, finds nothing.
 *  - Tag names are compared and returned in upper case.
 *
 * Storage: one map store "iot_registry" per component, every record under
 * the user "things", keyed by the record key; loaded when the component is
 * added, so the registry survives restarts.
 *
 * Options (per component): iot_discovery_max_tags, iot_discovery_max_nodes,
 * iot_discovery_tags,
 * iot_discovery_max_results, iot_discovery_disown_timeout,
 * iot_discovery_name.
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "iot_api.h"
#include "iot_util.h"
#include "iot_xml.h"
#include "registry.h"

#define STORE_USER "things"

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"iot_discovery_max_tags", MYNAH_OPTION_INTEGER, "32", 1, 1000, 1,
     "most meta tags a thing may register"},
    {"iot_discovery_max_nodes", MYNAH_OPTION_INTEGER, "100", 1, 100000, 1,
     "most records one JID may register (itself and nodes behind it)"},
    {"iot_discovery_tags", MYNAH_OPTION_ARRAY, NULL, 0, 0, 1,
     "tag names accepted besides the predefined ones (unset: any name)"},
    {"iot_discovery_max_results", MYNAH_OPTION_INTEGER, "100", 1, 10000, 1,
     "most things one search returns (maxCount is lowered to it)"},
    {"iot_discovery_disown_timeout", MYNAH_OPTION_NUMBER, "10", 0.1, 600, 1,
     "seconds a thing has to acknowledge <disowned/>"},
    {"iot_discovery_name", MYNAH_OPTION_STRING, "\"Thing Registry\"", 0, 200,
     1, "the registry's name in service discovery"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

/* XEP-0347 §Meta Tags: a registry must support these. */
static const char *const predefined_tags[] = {
    "ALT", "APT", "AREA", "BLD", "CITY", "CLASS", "COUNTRY", "KEY", "LAT",
    "LON", "MAN", "MLOC", "MNR", "MODEL", "NAME", "PURL", "REGION", "ROOM",
    "SN", "STREET", "STREETNR", "V", NULL};

typedef struct disco_host {
    struct disco_host *next; /* every registry, for the exported API */
    mynah_host *host;
    mynah_store *store;
    registry reg;
    int loaded;
} disco_host;

static disco_host *all_hosts;

typedef struct watcher {
    struct watcher *next;
    iot_owner_change_fn fn;
    void *userdata;
} watcher;

static watcher *watchers;

/* A disown waiting for the thing's acknowledgement. */
typedef struct pending_disown {
    struct pending_disown *next;
    disco_host *dh;      /* NULL once the component went away */
    mynah_stanza *request; /* the owner's <disown/> iq */
    char *key;
} pending_disown;

static pending_disown *pending_disowns;

/* ---- small helpers ---- */

static disco_host *host_data(mynah_event *ev)
{
    return api->host_get_data(self, api->event_host(ev));
}

static mynah_element *payload(mynah_event *ev)
{
    return api->element_first_child(api->stanza_root(api->event_stanza(ev)));
}

static const char *stanza_from(mynah_event *ev)
{
    return api->element_attr(api->stanza_root(api->event_stanza(ev)), "from");
}

static int sender_bare(mynah_event *ev, char *out, size_t size)
{
    const char *from = stanza_from(ev);
    return from != NULL ? iot_bare(from, out, size) : -1;
}

static void reply_empty(mynah_event *ev)
{
    mynah_stanza *reply = api->stanza_reply(api->event_stanza(ev));
    if (reply != NULL)
        api->route(reply);
}

static void notify_watchers(const reg_thing *t)
{
    if (t->node_id || t->source_id || t->cache_type)
        return; /* only the thing-level record says who owns a thing */
    for (watcher *w = watchers; w != NULL; w = w->next)
        w->fn(t->jid, t->owner, w->userdata);
}

static void save_thing(disco_host *dh, const reg_thing *t)
{
    iot_buf rec = {0};
    thing_encode(t, &rec);
    if (rec.failed) {
        api->log(self, MYNAH_LOG_ERROR, "no memory to store %s", t->jid);
        iot_buf_free(&rec);
        return;
    }
    api->map_set(dh->store, STORE_USER, t->key, rec.data, rec.len, NULL,
                 NULL);
    iot_buf_free(&rec);
}

static void forget_thing(disco_host *dh, const char *key)
{
    api->map_set(dh->store, STORE_USER, key, NULL, 0, NULL, NULL);
}

/* The key of the record an element's node attributes name for `jid`. */
static char *record_key(const char *jid, const mynah_element *e)
{
    iot_node node;
    iot_node_of(e, &node);
    iot_buf key = {0};
    iot_node_key(jid, &node, &key);
    if (key.failed) {
        iot_buf_free(&key);
        return NULL;
    }
    return key.data;
}

/* The session to tell a thing something: the one that registered last if
 * it is still bound, else any bound session of the account. */
static const char *thing_address(const reg_thing *t)
{
    if (t->last_full != NULL && api->session_find(t->last_full) != NULL)
        return t->last_full;
    mynah_session *s = api->session_of_user(t->jid, 0);
    if (s != NULL && api->session_jid(s) != NULL)
        return api->jid_full(api->session_jid(s));
    /* A thing on another server: its last known address. */
    char domain[1024];
    if (t->last_full != NULL &&
        iot_domain(t->jid, domain, sizeof domain) == 0 &&
        api->host_find(domain) == NULL)
        return t->last_full;
    return NULL;
}

static void ignore_answer(mynah_stanza *reply, void *userdata)
{
    (void)reply;
    (void)userdata;
}

/* registry -> thing: <claimed/>, <removed/> (acknowledged, but nothing
 * depends on the answer). */
static void tell_thing(disco_host *dh, const reg_thing *t, const char *what,
                       int with_owner)
{
    const char *to = thing_address(t);
    if (to == NULL)
        return; /* it learns on its next register or update */
    mynah_element *child;
    mynah_stanza *iq = iot_iq("set", api->host_name(dh->host), to, NULL, what,
                              IOT_NS_DISCOVERY, &child);
    if (iq == NULL)
        return;
    if (with_owner) {
        api->element_set_attr(child, "jid", t->owner);
        if (!t->is_public)
            api->element_set_attr(child, "public", "false");
    }
    iot_node node = {t->node_id, t->source_id, t->cache_type};
    iot_node_set(child, &node);
    api->send_iq(self, iq, ignore_answer, NULL, 30);
}

/* ---- meta tags from a request ---- */

typedef struct tag_list {
    reg_tag *tags;
    size_t count;
} tag_list;

static void tag_list_free(tag_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->tags[i].name);
        free(l->tags[i].value);
    }
    free(l->tags);
    l->tags = NULL;
    l->count = 0;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int tag_name_accepted(disco_host *dh, const char *upper)
{
    for (size_t i = 0; predefined_tags[i]; i++)
        if (strcmp(predefined_tags[i], upper) == 0)
            return 1;
    size_t n = api->option_array_length(self, dh->host, "iot_discovery_tags");
    if (n == 0)
        return 1; /* no list: any valid name */
    for (size_t i = 0; i < n; i++) {
        const char *name =
            api->option_array_item(self, dh->host, "iot_discovery_tags", i);
        char up[REG_TAG_NAME_MAX * 4 + 1];
        if (name == NULL)
            continue;
        iot_upper(name, up, sizeof up);
        if (strcmp(up, upper) == 0)
            return 1;
    }
    return 0;
}

/* Reads <str name value/> and <num name value/> children.  empty_ok
 * accepts empty values (update: they delete the tag).  Returns NULL, or
 * the text of a bad-request. */
static const char *read_tags(disco_host *dh, const mynah_element *parent,
                             int empty_ok, tag_list *out)
{
    out->tags = NULL;
    out->count = 0;
    for (mynah_element *c = api->element_first_child(parent); c != NULL;
         c = api->element_next_sibling(c)) {
        const char *kind = api->element_name(c);
        int numeric;
        if (strcmp(api->element_xmlns(c), IOT_NS_DISCOVERY) != 0)
            return "unexpected element";
        if (strcmp(kind, "str") == 0)
            numeric = 0;
        else if (strcmp(kind, "num") == 0)
            numeric = 1;
        else
            return "unexpected element";
        const char *name = api->element_attr(c, "name");
        const char *value = api->element_attr(c, "value");
        if (name == NULL || value == NULL)
            return "a tag needs a name and a value";
        if (!reg_tag_name_valid(name))
            return "tag names have 1 to 32 characters, without ':', '#' "
                   "or white space";
        char upper[REG_TAG_NAME_MAX * 4 + 1];
        iot_upper(name, upper, sizeof upper);
        if (!tag_name_accepted(dh, upper))
            return "this registry does not accept that tag name";
        for (size_t i = 0; i < out->count; i++)
            if (strcmp(out->tags[i].name, upper) == 0)
                return "a tag is given twice";
        double number = 0;
        if (value[0] == '\0') {
            if (!empty_ok)
                return "a tag value is empty";
        } else if (numeric) {
            if (!iot_xs_double(value, &number))
                return "a numeric tag value is not a number";
        } else if (utf8_chars(value) > REG_STR_VALUE_MAX) {
            return "string tag values have at most 128 characters";
        }
        reg_tag *tags = realloc(out->tags, (out->count + 1) * sizeof *tags);
        if (tags == NULL)
            return "out of memory";
        out->tags = tags;
        reg_tag *t = &tags[out->count];
        t->name = strdup(upper);
        t->value = strdup(value);
        t->numeric = numeric;
        t->number = number;
        if (t->name == NULL || t->value == NULL) {
            free(t->name);
            free(t->value);
            return "out of memory";
        }
        out->count++;
    }
    long long max = api->option_integer(self, dh->host,
                                        "iot_discovery_max_tags");
    if ((long long)out->count > max)
        return "too many tags";
    return NULL;
}

static int set_tags(reg_thing *t, const tag_list *tags)
{
    for (size_t i = 0; i < tags->count; i++)
        if (thing_tag_set(t, tags->tags[i].name, tags->tags[i].numeric,
                          tags->tags[i].value) < 0)
            return -1;
    return 0;
}

/* ---- register (§3.6, §3.7, §3.8) ---- */

static int on_register(mynah_event *ev, void *ud)
{
    (void)ud;
    disco_host *dh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *req = payload(ev);
    const char *from = stanza_from(ev);
    char bare[3072];
    if (!dh->loaded) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    if (from == NULL || iot_bare(from, bare, sizeof bare) < 0) {
        iot_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    tag_list tags;
    const char *problem = read_tags(dh, req, 0, &tags);
    if (problem != NULL) {
        tag_list_free(&tags);
        iot_error(iq, "modify", "bad-request", problem);
        return MYNAH_HANDLED;
    }
    char *key = record_key(bare, req);
    reg_thing *t = key ? registry_find(&dh->reg, key) : NULL;
    if (t != NULL && t->owner != NULL) {
        /* Already claimed: no update; the thing learns its owner. */
        free(t->last_full);
        t->last_full = strdup(from);
        save_thing(dh, t);
        mynah_stanza *reply = api->stanza_reply(iq);
        mynah_element *claimed = reply ? api->element_add_child(
                                             api->stanza_root(reply),
                                             "claimed", IOT_NS_DISCOVERY)
                                       : NULL;
        if (claimed != NULL) {
            api->element_set_attr(claimed, "jid", t->owner);
            api->route(reply);
        } else if (reply != NULL) {
            api->stanza_unref(reply);
        }
        goto done;
    }
    if (t == NULL &&
        (long long)registry_count_jid(&dh->reg, bare) >=
            api->option_integer(self, dh->host, "iot_discovery_max_nodes")) {
        iot_error(iq, "modify", "policy-violation",
                  "too many things registered by this JID");
        goto done;
    }
    iot_node node;
    iot_node_of(req, &node);
    reg_thing *fresh = key ? thing_new(bare, node.node_id, node.source_id,
                                       node.cache_type)
                           : NULL;
    if (fresh == NULL || set_tags(fresh, &tags) < 0 ||
        (fresh->last_full = strdup(from)) == NULL) {
        thing_free(fresh);
        iot_error(iq, "wait", "resource-constraint", NULL);
        goto done;
    }
    if (iot_is_true(api->element_attr(req, "selfOwned"))) {
        /* §3.7: public and claimed at once; its own owner. */
        fresh->owner = strdup(bare);
        fresh->self_owned = 1;
        fresh->is_public = 1;
    }
    if (registry_put(&dh->reg, fresh) < 0) {
        thing_free(fresh);
        iot_error(iq, "wait", "resource-constraint", NULL);
        goto done;
    }
    save_thing(dh, fresh);
    if (fresh->owner != NULL)
        notify_watchers(fresh);
    reply_empty(ev);
done:
    free(key);
    tag_list_free(&tags);
    return MYNAH_HANDLED;
}

/* ---- mine: claiming ownership (§3.9) ---- */

static int node_filter_matches(const mynah_element *req, const reg_thing *t)
{
    iot_node node;
    iot_node_of(req, &node);
    if (node.node_id == NULL && node.source_id == NULL &&
        node.cache_type == NULL)
        return 1; /* no node given: the tags alone decide */
    const char *want[3] = {node.node_id, node.source_id, node.cache_type};
    const char *have[3] = {t->node_id, t->source_id, t->cache_type};
    for (int i = 0; i < 3; i++)
        if (strcmp(want[i] ? want[i] : "", have[i] ? have[i] : "") != 0)
            return 0;
    return 1;
}

static int on_mine(mynah_event *ev, void *ud)
{
    (void)ud;
    disco_host *dh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *req = payload(ev);
    char claimer[3072];
    if (!dh->loaded) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    if (sender_bare(ev, claimer, sizeof claimer) < 0) {
        iot_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    tag_list tags;
    const char *problem = read_tags(dh, req, 0, &tags);
    if (problem != NULL) {
        tag_list_free(&tags);
        iot_error(iq, "modify", "bad-request", problem);
        return MYNAH_HANDLED;
    }
    /* Exactly the same meta data, any order; unclaimed, or already
     * claimed by this very claimer (then it is a success again). */
    reg_thing *found = NULL;
    if (tags.count > 0) {
        for (size_t i = 0; i < dh->reg.count && found == NULL; i++) {
            reg_thing *t = dh->reg.things[i];
            if (t->removed || !node_filter_matches(req, t) ||
                !thing_tags_equal(t, tags.tags, tags.count))
                continue;
            if (t->owner == NULL || strcmp(t->owner, claimer) == 0)
                found = t;
        }
    }
    tag_list_free(&tags);
    if (found == NULL) {
        /* §3.9: no detail on why. */
        iot_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    int newly = found->owner == NULL;
    if (newly) {
        found->owner = strdup(claimer);
        if (found->owner == NULL) {
            iot_error(iq, "wait", "resource-constraint", NULL);
            return MYNAH_HANDLED;
        }
        const char *pub = api->element_attr(req, "public");
        found->is_public = pub == NULL || iot_is_true(pub);
        save_thing(dh, found);
    }
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *claimed =
        reply ? api->element_add_child(api->stanza_root(reply), "claimed",
                                       IOT_NS_DISCOVERY)
              : NULL;
    if (claimed != NULL) {
        api->element_set_attr(claimed, "jid", found->jid);
        iot_node node = {found->node_id, found->source_id, found->cache_type};
        iot_node_set(claimed, &node);
        api->route(reply);
    } else if (reply != NULL) {
        api->stanza_unref(reply);
    }
    if (newly) {
        tell_thing(dh, found, "claimed", 1);
        notify_watchers(found);
    }
    return MYNAH_HANDLED;
}

/* ---- update (§3.12, §3.13) ---- */

static int on_update(mynah_event *ev, void *ud)
{
    (void)ud;
    disco_host *dh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *req = payload(ev);
    const char *from = stanza_from(ev);
    char sender[3072];
    if (!dh->loaded) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    if (from == NULL || iot_bare(from, sender, sizeof sender) < 0) {
        iot_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    const char *jid_attr = api->element_attr(req, "jid");
    char *target = jid_attr ? iot_prepare_bare(jid_attr) : strdup(sender);
    if (target == NULL) {
        iot_error(iq, "modify", jid_attr ? "jid-malformed" : "bad-request",
                  NULL);
        return MYNAH_HANDLED;
    }
    tag_list tags;
    const char *problem = read_tags(dh, req, 1, &tags);
    char *key = record_key(target, req);
    reg_thing *t = key ? registry_find(&dh->reg, key) : NULL;
    if (problem != NULL) {
        iot_error(iq, "modify", "bad-request", problem);
    } else if (t == NULL || t->removed ||
               (jid_attr != NULL &&
                (t->owner == NULL || strcmp(t->owner, sender) != 0))) {
        /* §3.12: not in the registry (removed by its owner, say); §3.13:
         * not among the things this owner claimed. */
        iot_error(iq, "cancel", "item-not-found", NULL);
    } else if (t->owner == NULL) {
        /* The thing was disowned: no update; it should register again. */
        mynah_stanza *reply = api->stanza_reply(iq);
        if (reply != NULL && api->element_add_child(api->stanza_root(reply),
                                                    "disowned",
                                                    IOT_NS_DISCOVERY) != NULL)
            api->route(reply);
        else if (reply != NULL)
            api->stanza_unref(reply);
    } else {
        /* The count after the merge, before anything changes: an update
         * that would exceed the limit changes nothing. */
        long long count = (long long)t->tag_count;
        for (size_t i = 0; i < tags.count; i++) {
            int have = thing_tag_index(t, tags.tags[i].name) >= 0;
            if (tags.tags[i].value[0] == '\0')
                count -= have;
            else
                count += !have;
        }
        long long max = api->option_integer(self, dh->host,
                                            "iot_discovery_max_tags");
        if (count > max) {
            iot_error(iq, "modify", "not-acceptable", "too many tags");
        } else {
            int failed = 0;
            for (size_t i = 0; i < tags.count; i++) {
                if (tags.tags[i].value[0] == '\0')
                    thing_tag_remove(t, tags.tags[i].name);
                else if (thing_tag_set(t, tags.tags[i].name,
                                       tags.tags[i].numeric,
                                       tags.tags[i].value) < 0)
                    failed = 1;
            }
            if (jid_attr == NULL) {
                free(t->last_full);
                t->last_full = strdup(from);
            }
            save_thing(dh, t);
            if (failed)
                iot_error(iq, "wait", "resource-constraint", NULL);
            else
                reply_empty(ev);
        }
    }
    free(key);
    free(target);
    tag_list_free(&tags);
    return MYNAH_HANDLED;
}

/* ---- remove (§3.10) ---- */

/* The owner's own record named by <remove/disown jid=... node/>, or NULL
 * after answering the error. */
static reg_thing *owned_record(mynah_event *ev, disco_host *dh)
{
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *req = payload(ev);
    char sender[3072];
    if (!dh->loaded) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return NULL;
    }
    if (sender_bare(ev, sender, sizeof sender) < 0) {
        iot_error(iq, "modify", "bad-request", NULL);
        return NULL;
    }
    const char *jid_attr = api->element_attr(req, "jid");
    if (jid_attr == NULL) {
        iot_error(iq, "modify", "bad-request", "the jid attribute is missing");
        return NULL;
    }
    char *target = iot_prepare_bare(jid_attr);
    if (target == NULL) {
        iot_error(iq, "modify", "jid-malformed", NULL);
        return NULL;
    }
    char *key = record_key(target, req);
    reg_thing *t = key ? registry_find(&dh->reg, key) : NULL;
    free(key);
    free(target);
    if (t == NULL || t->owner == NULL || strcmp(t->owner, sender) != 0) {
        iot_error(iq, "cancel", "item-not-found", NULL);
        return NULL;
    }
    return t;
}

static int on_remove(mynah_event *ev, void *ud)
{
    (void)ud;
    disco_host *dh = host_data(ev);
    reg_thing *t = owned_record(ev, dh);
    if (t == NULL)
        return MYNAH_HANDLED;
    if (t->removed) {
        iot_error(api->event_stanza(ev), "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    t->removed = 1;
    thing_tags_clear(t);
    save_thing(dh, t);
    reply_empty(ev);
    tell_thing(dh, t, "removed", 0);
    return MYNAH_HANDLED;
}

/* ---- unregister (§3.15) ---- */

static int on_unregister(mynah_event *ev, void *ud)
{
    (void)ud;
    disco_host *dh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    char bare[3072];
    if (!dh->loaded) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    if (sender_bare(ev, bare, sizeof bare) < 0) {
        iot_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    char *key = record_key(bare, payload(ev));
    reg_thing *t = key ? registry_find(&dh->reg, key) : NULL;
    if (t != NULL) {
        int had_owner = t->owner != NULL;
        free(t->owner);
        t->owner = NULL;
        if (had_owner)
            notify_watchers(t);
        registry_delete(&dh->reg, key);
        forget_thing(dh, key);
    }
    free(key);
    /* "always returns an empty response" */
    reply_empty(ev);
    return MYNAH_HANDLED;
}

/* ---- disown (§3.16) ---- */

static void pending_unlink(pending_disown *p)
{
    for (pending_disown **link = &pending_disowns; *link;
         link = &(*link)->next)
        if (*link == p) {
            *link = p->next;
            return;
        }
}

static void on_disowned_ack(mynah_stanza *reply, void *userdata)
{
    pending_disown *p = userdata;
    pending_unlink(p);
    const char *type = reply ? api->element_attr(api->stanza_root(reply),
                                                 "type")
                             : NULL;
    reg_thing *t = p->dh ? registry_find(&p->dh->reg, p->key) : NULL;
    if (p->dh == NULL) {
        /* The component went away meanwhile; nothing to answer from. */
    } else if (t == NULL || type == NULL || strcmp(type, "result") != 0) {
        /* "If for any reason the Thing does not acknowledge ... the same
         * error as if the Thing would have been offline." */
        iot_error(p->request, "cancel", "not-allowed", NULL);
    } else {
        /* Unclaimed, tags gone, a random KEY nobody knows, so that nobody
         * can claim it until it registers again. */
        free(t->owner);
        t->owner = NULL;
        t->self_owned = 0;
        t->is_public = 1;
        t->removed = 0;
        thing_tags_clear(t);
        char key[65];
        iot_random_hex(key, 32);
        thing_tag_set(t, "KEY", 0, key);
        save_thing(p->dh, t);
        notify_watchers(t);
        mynah_stanza *ok = api->stanza_reply(p->request);
        if (ok != NULL)
            api->route(ok);
    }
    api->stanza_unref(p->request);
    free(p->key);
    free(p);
}

static int on_disown(mynah_event *ev, void *ud)
{
    (void)ud;
    disco_host *dh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    reg_thing *t = owned_record(ev, dh);
    if (t == NULL)
        return MYNAH_HANDLED;
    const char *to = thing_address(t);
    if (to == NULL) {
        /* Offline: disowning it now would leave a thing nobody can claim
         * again. */
        iot_error(iq, "cancel", "not-allowed", NULL);
        return MYNAH_HANDLED;
    }
    pending_disown *p = calloc(1, sizeof *p);
    mynah_element *child;
    mynah_stanza *notice = iot_iq("set", api->host_name(dh->host), to, NULL,
                                  "disowned", IOT_NS_DISCOVERY, &child);
    if (p == NULL || notice == NULL || (p->key = strdup(t->key)) == NULL) {
        if (notice)
            api->stanza_unref(notice);
        free(p);
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    iot_node node = {t->node_id, t->source_id, t->cache_type};
    iot_node_set(child, &node);
    p->dh = dh;
    p->request = api->stanza_ref(iq);
    p->next = pending_disowns;
    pending_disowns = p;
    double timeout = api->option_number(self, dh->host,
                                        "iot_discovery_disown_timeout");
    if (api->send_iq(self, notice, on_disowned_ack, p, timeout) < 0) {
        pending_unlink(p);
        iot_error(iq, "cancel", "not-allowed", NULL);
        api->stanza_unref(p->request);
        free(p->key);
        free(p);
    }
    return MYNAH_HANDLED;
}

/* ---- search (§3.14) ---- */

/* Parses one operator element; NULL, or the text of a bad-request. */
static const char *read_operator(const mynah_element *e, reg_search_op *op,
                                 int *on_key)
{
    memset(op, 0, sizeof *op);
    if (strcmp(api->element_xmlns(e), IOT_NS_DISCOVERY) != 0 ||
        reg_op_parse(api->element_name(e), &op->op, &op->numeric) < 0)
        return "unknown search operator";
    const char *name = api->element_attr(e, "name");
    if (name == NULL || !reg_tag_name_valid(name))
        return "an operator needs a valid tag name";
    iot_upper(name, op->name, sizeof op->name);
    *on_key = strcmp(op->name, "KEY") == 0;
    if (op->op == OP_RANGE || op->op == OP_NRANGE) {
        op->min = api->element_attr(e, "min");
        op->max = api->element_attr(e, "max");
        if (op->min == NULL || op->max == NULL)
            return "a range needs min and max";
        const char *mi = api->element_attr(e, "minIncluded");
        const char *ma = api->element_attr(e, "maxIncluded");
        int v;
        if ((mi && !iot_xs_boolean(mi, &v)) || (ma && !iot_xs_boolean(ma, &v)))
            return "minIncluded and maxIncluded are booleans";
        op->min_included = mi == NULL || iot_is_true(mi); /* default true */
        op->max_included = ma == NULL || iot_is_true(ma);
        if (op->numeric && (!iot_xs_double(op->min, &op->min_number) ||
                            !iot_xs_double(op->max, &op->max_number)))
            return "a numeric range needs numbers";
        return NULL;
    }
    op->value = api->element_attr(e, "value");
    if (op->value == NULL)
        return "an operator needs a value";
    if (op->numeric && !iot_xs_double(op->value, &op->number))
        return "a numeric operator needs a number";
    if (op->op == OP_MASK) {
        op->wildcard = api->element_attr(e, "wildcard");
        if (op->wildcard == NULL || op->wildcard[0] == '\0')
            return "strMask needs a wildcard";
    }
    return NULL;
}

static int parse_count(const char *s, long long *out, long long min)
{
    int64_t v;
    if (!iot_xs_long(s, &v) || v < min)
        return 0;
    *out = v;
    return 1;
}

static void add_thing(mynah_element *found, const reg_thing *t)
{
    mynah_element *e = api->element_add_child(found, "thing", NULL);
    if (e == NULL)
        return;
    api->element_set_attr(e, "owner", t->owner);
    api->element_set_attr(e, "jid", t->jid);
    iot_node node = {t->node_id, t->source_id, t->cache_type};
    iot_node_set(e, &node);
    for (size_t i = 0; i < t->tag_count; i++) {
        if (strcmp(t->tags[i].name, "KEY") == 0)
            continue; /* never returned */
        mynah_element *tag = api->element_add_child(
            e, t->tags[i].numeric ? "num" : "str", NULL);
        if (tag == NULL)
            continue;
        api->element_set_attr(tag, "name", t->tags[i].name);
        api->element_set_attr(tag, "value", t->tags[i].value);
    }
}

static int on_search(mynah_event *ev, void *ud)
{
    (void)ud;
    disco_host *dh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *req = payload(ev);
    if (!dh->loaded) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    long long offset = 0;
    long long max = api->option_integer(self, dh->host,
                                        "iot_discovery_max_results");
    const char *s = api->element_attr(req, "offset");
    if (s != NULL && !parse_count(s, &offset, 0)) {
        iot_error(iq, "modify", "bad-request", "offset is a number >= 0");
        return MYNAH_HANDLED;
    }
    s = api->element_attr(req, "maxCount");
    long long asked;
    if (s != NULL) {
        if (!parse_count(s, &asked, 1)) {
            iot_error(iq, "modify", "bad-request", "maxCount is a number > 0");
            return MYNAH_HANDLED;
        }
        if (asked < max)
            max = asked; /* the registry may only lower it */
    }
    size_t n = 0;
    for (mynah_element *c = api->element_first_child(req); c != NULL;
         c = api->element_next_sibling(c))
        n++;
    if (n == 0) {
        iot_error(iq, "modify", "bad-request", "a search needs an operator");
        return MYNAH_HANDLED;
    }
    reg_search_op *ops = calloc(n, sizeof *ops);
    if (ops == NULL) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    int on_key = 0;
    size_t i = 0;
    for (mynah_element *c = api->element_first_child(req); c != NULL;
         c = api->element_next_sibling(c), i++) {
        int this_key = 0;
        const char *problem = read_operator(c, &ops[i], &this_key);
        if (problem != NULL) {
            free(ops);
            iot_error(iq, "modify", "bad-request", problem);
            return MYNAH_HANDLED;
        }
        on_key |= this_key;
    }
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *found =
        reply ? api->element_add_child(api->stanza_root(reply), "found",
                                       IOT_NS_DISCOVERY)
              : NULL;
    if (found == NULL) {
        if (reply)
            api->stanza_unref(reply);
        free(ops);
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    long long skipped = 0, returned = 0;
    int more = 0;
    /* Searches on KEY "MUST never find things". */
    for (size_t k = 0; !on_key && k < dh->reg.count; k++) {
        const reg_thing *t = dh->reg.things[k];
        if (t->owner == NULL || !t->is_public || t->removed)
            continue; /* only public claimed things are found */
        int match = 1;
        for (size_t j = 0; j < n && match; j++)
            match = reg_op_matches(&ops[j], t);
        if (!match)
            continue;
        if (skipped < offset) {
            skipped++;
            continue;
        }
        if (returned == max) {
            more = 1;
            break;
        }
        add_thing(found, t);
        returned++;
    }
    free(ops);
    api->element_set_attr(found, "more", more ? "true" : "false");
    api->route(reply);
    return MYNAH_HANDLED;
}

/* ---- disco#info when no mod_disco answers for the component ---- */

static int on_disco_info(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *iq = api->event_stanza(ev);
    if (api->element_attr(payload(ev), "node") != NULL) {
        iot_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    iot_disco_info_reply(iq, api->event_host(ev));
    return MYNAH_HANDLED;
}

/* ---- the exported API ---- */

static const char *api_owner_of(const char *thing)
{
    iot_node none = {NULL, NULL, NULL};
    iot_buf key = {0};
    iot_node_key(thing, &none, &key);
    const char *owner = NULL;
    for (disco_host *dh = all_hosts; dh != NULL && owner == NULL && !key.failed;
         dh = dh->next) {
        reg_thing *t = registry_find(&dh->reg, iot_buf_str(&key));
        if (t != NULL)
            owner = t->owner;
    }
    iot_buf_free(&key);
    return owner;
}

static void api_things_of(const char *owner, iot_thing_fn fn, void *userdata)
{
    for (disco_host *dh = all_hosts; dh != NULL; dh = dh->next)
        for (size_t i = 0; i < dh->reg.count; i++) {
            const reg_thing *t = dh->reg.things[i];
            if (t->owner != NULL && strcmp(t->owner, owner) == 0)
                fn(t->jid, t->node_id, t->source_id, t->cache_type, userdata);
        }
}

static int api_watch(iot_owner_change_fn fn, void *userdata)
{
    watcher *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -1;
    w->fn = fn;
    w->userdata = userdata;
    w->next = watchers;
    watchers = w;
    return 0;
}

static void api_unwatch(iot_owner_change_fn fn, void *userdata)
{
    for (watcher **link = &watchers; *link; link = &(*link)->next)
        if ((*link)->fn == fn && (*link)->userdata == userdata) {
            watcher *w = *link;
            *link = w->next;
            free(w);
            return;
        }
}

static const iot_registry_api registry_table = {
    api_owner_of, api_things_of, api_watch, api_unwatch};

/* ---- lifecycle ---- */

static void on_loaded(int status, const char *const *keys,
                      const void *const *values, const size_t *lens,
                      size_t count, void *userdata)
{
    disco_host *dh = userdata;
    if (status == MYNAH_STORE_ERROR) {
        api->log(self, MYNAH_LOG_ERROR, "%s: cannot read the registry",
                 api->host_name(dh->host));
        return; /* stays unloaded: requests get resource-constraint */
    }
    for (size_t i = 0; i < count; i++) {
        reg_thing *t = thing_decode(keys[i], values[i], lens[i]);
        if (t == NULL || registry_put(&dh->reg, t) < 0) {
            api->log(self, MYNAH_LOG_WARN, "%s: skipping a bad record",
                     api->host_name(dh->host));
            thing_free(t);
        }
    }
    dh->loaded = 1;
    api->log(self, MYNAH_LOG_DEBUG, "%s: %zu things in the registry",
             api->host_name(dh->host), dh->reg.count);
}

static int init(mynah_module *m, const mynah_api *table)
{
    api = table;
    self = m;
    iot_xml_init(table);
    return api->export_api(m, IOT_REGISTRY_API, IOT_REGISTRY_API_VERSION,
                           &registry_table);
}

static void forget_host(mynah_module *m, disco_host *dh);

#define IQ(type, name) "iq-" type "/host/" IOT_NS_DISCOVERY ":" name

static int add_host(mynah_module *m, mynah_host *host)
{
    disco_host *dh = calloc(1, sizeof *dh);
    if (dh == NULL)
        return -1;
    dh->host = host;
    dh->store = api->open_store(m, host, "iot_registry", MYNAH_STORE_MAP);
    if (dh->store == NULL) {
        api->log(m, MYNAH_LOG_ERROR, "%s: cannot open the registry store",
                 api->host_name(host));
        free(dh);
        return -1;
    }
    api->host_set_data(m, host, dh);
    dh->next = all_hosts;
    all_hosts = dh;
    api->map_list(dh->store, STORE_USER, on_loaded, dh);
    const char *name = api->option_string(m, host, "iot_discovery_name");
    if (api->add_feature(m, host, IOT_NS_DISCOVERY) < 0 ||
        api->add_identity(m, host, "component", "generic",
                          name && name[0] ? name : NULL) < 0 ||
        api->hook(m, host, IQ("set", "register"), on_register, NULL, 0) < 0 ||
        api->hook(m, host, IQ("set", "mine"), on_mine, NULL, 0) < 0 ||
        api->hook(m, host, IQ("set", "update"), on_update, NULL, 0) < 0 ||
        api->hook(m, host, IQ("set", "remove"), on_remove, NULL, 0) < 0 ||
        api->hook(m, host, IQ("set", "unregister"), on_unregister, NULL, 0) <
            0 ||
        api->hook(m, host, IQ("set", "disown"), on_disown, NULL, 0) < 0 ||
        api->hook(m, host, IQ("get", "search"), on_search, NULL, 0) < 0 ||
        api->hook(m, host, "iq-get/host/" IOT_NS_DISCO_INFO ":query",
                  on_disco_info, NULL, MYNAH_PRIORITY_LAST) < 0) {
        /* remove_host is not called after a failed add_host: undo here
         * (the loader removes the hooks). */
        forget_host(m, dh);
        return -1;
    }
    return 0;
}

static void forget_host(mynah_module *m, disco_host *dh)
{
    for (disco_host **link = &all_hosts; *link; link = &(*link)->next)
        if (*link == dh) {
            *link = dh->next;
            break;
        }
    for (pending_disown *p = pending_disowns; p != NULL; p = p->next)
        if (p->dh == dh)
            p->dh = NULL;
    api->host_set_data(m, dh->host, NULL);
    registry_clear(&dh->reg);
    free(dh);
}

static void remove_host(mynah_module *m, mynah_host *host)
{
    disco_host *dh = api->host_get_data(m, host);
    if (dh != NULL)
        forget_host(m, dh);
}

static void fini(mynah_module *m)
{
    (void)m;
    while (watchers != NULL) {
        watcher *w = watchers;
        watchers = w->next;
        free(w);
    }
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "iot_discovery",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
    .fini = fini,
};
