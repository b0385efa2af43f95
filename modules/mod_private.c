/*
 * mod_private: private XML storage (XEP-0049, jabber:iq:private).
 *
 * A user stores any XML fragment whose root is in its own namespace
 * (bookmarks, XEP-0048; client preferences) with an iq set to their own
 * account, and reads it back with an iq get naming that root element.
 * Each fragment is kept whole, serialized, in the map store "private"
 * under its qualified name "{namespace}name"; a set replaces the
 * fragments it carries and leaves the others alone.
 *
 * Decisions where the XEP leaves room (doc/modules-im.md):
 *  - A get for a fragment never stored returns the element as asked,
 *    empty (what the XEP's examples and every client expect).
 *  - Another user's data: forbidden, which the XEP prefers to
 *    service-unavailable.
 *  - A set without a child: not-acceptable (XEP-0049 §2.3, a MUST); a get
 *    without one: bad-request ("Bad Format", the error table).  A get asks
 *    for exactly one fragment (§2.3); more is bad-request.
 *  - Fragments in no namespace or in a stanza namespace (jabber:client,
 *    jabber:server, jabber:component:accept) or in jabber:iq:private
 *    itself: not-acceptable.  Other "reserved" namespaces (jabber:*,
 *    vcard-temp) are allowed: refusing them is optional and real clients
 *    keep data there.
 *  - private_max_size (1 MiB by default) bounds what one user keeps in
 *    all; a set that would go over it gets not-acceptable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#define NS_PRIVATE "jabber:iq:private"

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"private_max_size", MYNAH_OPTION_INTEGER, "1048576", 1024, 1073741824, 1,
     "bytes of private XML one user may keep, all fragments together"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

typedef struct private_host {
    mynah_store *store; /* map "private": "{ns}name" -> fragment XML */
} private_host;

/* ---- small helpers ---- */

/* "{namespace}name", malloc'd. */
static char *fragment_key(const mynah_element *fragment)
{
    const char *ns = api->element_xmlns(fragment);
    const char *name = api->element_name(fragment);
    size_t size = strlen(ns) + strlen(name) + 3;
    char *key = malloc(size);
    if (key != NULL)
        snprintf(key, size, "{%s}%s", ns, name);
    return key;
}

/* XEP-0049 §2.3: the fragment's root is "scoped by its own namespace". */
static int namespace_allowed(const char *ns)
{
    static const char *const refused[] = {
        "", "jabber:client", "jabber:server", "jabber:component:accept",
        NS_PRIVATE};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (strcmp(ns, refused[i]) == 0)
            return 0;
    return 1;
}

/* ---- get ---- */

typedef struct private_get {
    mynah_event *event;
    char *name;  /* the fragment asked for, to answer with it empty */
    char *xmlns;
} private_get;

static void private_get_free(private_get *get)
{
    free(get->name);
    free(get->xmlns);
    free(get);
}

/* A result carrying a stored fragment (its XML as collect_fragments
 * made it) in a <query/>. */
static mynah_stanza *fragment_result(mynah_stanza *iq, const void *data,
                                     size_t len)
{
    mynah_stanza *stored = api->stanza_parse(data, len);
    if (stored == NULL)
        return NULL;
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *query = reply ? api->element_add_child(
                                       api->stanza_root(reply), "query",
                                       NS_PRIVATE)
                                 : NULL;
    if (query == NULL ||
        api->element_copy_into(query, api->stanza_root(stored)) == NULL) {
        if (reply != NULL)
            api->stanza_unref(reply);
        reply = NULL;
    }
    api->stanza_unref(stored);
    return reply;
}

/* Nothing stored: the element as asked, empty. */
static mynah_stanza *empty_result(mynah_stanza *iq, const char *name,
                                  const char *xmlns)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply == NULL)
        return NULL;
    mynah_element *query = api->element_add_child(api->stanza_root(reply),
                                                  "query", NS_PRIVATE);
    if (query == NULL || api->element_add_child(query, name, xmlns) == NULL) {
        api->stanza_unref(reply);
        return NULL;
    }
    return reply;
}

static void fragment_loaded(int status, const void *data, size_t len,
                            void *userdata)
{
    private_get *get = userdata;
    mynah_stanza *iq = api->event_stanza(get->event);
    mynah_stanza *reply = NULL;
    if (status == MYNAH_STORE_OK)
        reply = fragment_result(iq, data, len);
    else if (status == MYNAH_STORE_NOT_FOUND)
        reply = empty_result(iq, get->name, get->xmlns);
    if (reply != NULL)
        api->route(reply);
    else
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
    api->async_done(get->event);
    private_get_free(get);
}

/* "iq-get/self/jabber:iq:private:query". */
static int on_get_own(mynah_event *ev, void *userdata)
{
    (void)userdata;
    private_host *ph = api->host_get_data(self, api->event_host(ev));
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    char user[1024];
    if (ph == NULL ||
        modutil_local_part(api->element_attr(api->stanza_root(iq), "to"),
                           user, sizeof user) < 0)
        return MYNAH_PASS;
    mynah_element *fragment = api->element_first_child(query);
    if (fragment == NULL || api->element_next_sibling(fragment) != NULL) {
        modutil_reply_error(iq, "modify", "bad-request",
                            "Ask for exactly one element");
        return MYNAH_HANDLED;
    }
    if (!namespace_allowed(api->element_xmlns(fragment))) {
        modutil_reply_error(iq, "modify", "not-acceptable", NULL);
        return MYNAH_HANDLED;
    }
    char *key = fragment_key(fragment);
    private_get *get = calloc(1, sizeof *get);
    if (key == NULL || get == NULL ||
        (get->name = strdup(api->element_name(fragment))) == NULL ||
        (get->xmlns = strdup(api->element_xmlns(fragment))) == NULL ||
        (get->event = api->event_ref(ev)) == NULL) {
        free(key);
        if (get != NULL)
            private_get_free(get);
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    api->map_get(ph->store, user, key, fragment_loaded, get);
    free(key);
    return MYNAH_ASYNC;
}

/* ---- set ---- */

typedef struct fragment {
    char *key;
    char *xml;
    size_t len;
} fragment;

typedef struct private_set {
    mynah_event *event;
    mynah_store *store;
    char user[1024];
    long long max_size;
    fragment *fragments;
    size_t count;
    size_t writes_left;
    int failed;
} private_set;

static void private_set_free(private_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        free(set->fragments[i].key);
        free(set->fragments[i].xml);
    }
    free(set->fragments);
    free(set);
}

static void private_set_finish(private_set *set, const char *type,
                               const char *condition, const char *text)
{
    mynah_stanza *iq = api->event_stanza(set->event);
    if (condition != NULL) {
        modutil_reply_error(iq, type, condition, text);
    } else {
        modutil_reply_result(iq);
    }
    api->async_done(set->event);
    private_set_free(set);
}

static void fragment_written(int status, void *userdata)
{
    private_set *set = userdata;
    if (status != MYNAH_STORE_OK)
        set->failed = 1;
    if (--set->writes_left > 0)
        return;
    if (set->failed)
        private_set_finish(set, "wait", "internal-server-error", NULL);
    else
        private_set_finish(set, NULL, NULL, NULL);
}

static const fragment *find_fragment(const private_set *set, const char *key)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->fragments[i].key, key) == 0)
            return &set->fragments[i];
    return NULL;
}

/* The user's fragments, for the size check, then the writes. */
static void fragments_listed(int status, const char *const *keys,
                             const void *const *values, const size_t *lens,
                             size_t count, void *userdata)
{
    (void)values;
    private_set *set = userdata;
    if (status != MYNAH_STORE_OK) {
        private_set_finish(set, "wait", "internal-server-error", NULL);
        return;
    }
    /* What the user keeps once this set replaced its fragments. */
    unsigned long long total = 0;
    for (size_t i = 0; i < count; i++)
        if (find_fragment(set, keys[i]) == NULL)
            total += lens[i];
    for (size_t i = 0; i < set->count; i++)
        total += set->fragments[i].len;
    if (total > (unsigned long long)set->max_size) {
        char text[96];
        snprintf(text, sizeof text,
                 "Private storage is limited to %lld bytes", set->max_size);
        private_set_finish(set, "modify", "not-acceptable", text);
        return;
    }
    /* Counted before the first write: a store may answer at once, and
     * the last answer frees `set` (so the loop reads no field after it). */
    size_t writes = set->count;
    set->writes_left = writes;
    for (size_t i = 0; i < writes; i++)
        api->map_set(set->store, set->user, set->fragments[i].key,
                     set->fragments[i].xml, set->fragments[i].len,
                     fragment_written, set);
}

/* The condition of a failure that is the server's, not the request's. */
static const char internal_error[] = "internal-server-error";

/* Collects the fragments of a set; a condition for the error, or NULL. */
static const char *collect_fragments(private_set *set, mynah_element *query)
{
    size_t n = 0;
    for (mynah_element *c = api->element_first_child(query); c;
         c = api->element_next_sibling(c))
        n++;
    if (n == 0)
        return "not-acceptable"; /* XEP-0049 §2.3 */
    if (!modutil_text_is_blank(query))
        return "bad-request";
    set->fragments = calloc(n, sizeof *set->fragments);
    if (set->fragments == NULL)
        return internal_error;
    for (mynah_element *c = api->element_first_child(query); c;
         c = api->element_next_sibling(c)) {
        if (!namespace_allowed(api->element_xmlns(c)))
            return "not-acceptable";
        fragment *f = &set->fragments[set->count];
        if ((f->key = fragment_key(c)) == NULL)
            return internal_error;
        set->count++;
        /* Two fragments with one name: which to keep is a guess. */
        for (size_t i = 0; i + 1 < set->count; i++)
            if (strcmp(set->fragments[i].key, f->key) == 0)
                return "bad-request";
        if ((f->xml = api->element_to_string(c, &f->len)) == NULL)
            return internal_error;
    }
    return NULL;
}

/* "iq-set/self/jabber:iq:private:query". */
static int on_set_own(mynah_event *ev, void *userdata)
{
    (void)userdata;
    mynah_host *host = api->event_host(ev);
    private_host *ph = api->host_get_data(self, host);
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    private_set *set = calloc(1, sizeof *set);
    if (set == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    if (ph == NULL ||
        modutil_local_part(api->element_attr(api->stanza_root(iq), "to"),
                           set->user, sizeof set->user) < 0) {
        private_set_free(set);
        return MYNAH_PASS;
    }
    const char *condition = collect_fragments(set, query);
    if (condition != NULL) {
        modutil_reply_error(iq, condition == internal_error ? "wait" : "modify",
                            condition, NULL);
        private_set_free(set);
        return MYNAH_HANDLED;
    }
    set->store = ph->store;
    set->max_size = api->option_integer(self, host, "private_max_size");
    if ((set->event = api->event_ref(ev)) == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        private_set_free(set);
        return MYNAH_HANDLED;
    }
    api->map_list(ph->store, set->user, fragments_listed, set);
    return MYNAH_ASYNC;
}

/* "iq-get/bare/..." and "iq-set/bare/...": another user's private data
 * is theirs alone (XEP-0049 §2.3, §4). */
static int on_other(mynah_event *ev, void *userdata)
{
    (void)userdata;
    modutil_reply_error(api->event_stanza(ev), "auth", "forbidden", NULL);
    return MYNAH_HANDLED;
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    if (!MYNAH_API_HAS(table, element_to_string) ||
        !MYNAH_API_HAS(table, element_copy_into))
        return -1;
    api = table;
    modutil_init(table);
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    private_host *ph = calloc(1, sizeof *ph);
    if (ph == NULL)
        return -1;
    ph->store = api->open_store(module, host, "private", MYNAH_STORE_MAP);
    if (ph->store == NULL) {
        api->log(module, MYNAH_LOG_ERROR,
                 "cannot open the private store on %s", api->host_name(host));
        free(ph);
        return -1;
    }
    api->host_set_data(module, host, ph);
    if (api->hook(module, host, "iq-get/self/" NS_PRIVATE ":query", on_get_own,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-set/self/" NS_PRIVATE ":query", on_set_own,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-get/bare/" NS_PRIVATE ":query", on_other,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-set/bare/" NS_PRIVATE ":query", on_other,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->add_feature(module, host, NS_PRIVATE) != 0) {
        api->host_set_data(module, host, NULL);
        free(ph);
        return -1;
    }
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    free(api->host_get_data(module, host));
    api->host_set_data(module, host, NULL);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "private",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
