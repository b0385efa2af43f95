/*
 * mod_disco: XEP-0030 Service Discovery, and XEP-0115 Entity Capabilities
 * of the server.
 *
 * The server (iq to the host):
 *  - disco#info: the identity server/im (named by `disco_name`), then
 *    every identity and feature the modules loaded on the host registered
 *    (api->add_identity / api->add_feature), in registration order.  The
 *    list is read at each request, so a module removed by a reload takes
 *    its features with it.  A node other than our caps node ("NODE#ver",
 *    XEP-0115 §6.2) is <item-not-found/> (XEP-0030 §3.1): a module serving
 *    nodes of its own hooks the same event at a higher priority and passes
 *    on nodes it does not know.
 *  - disco#items: the components of the host (every Component whose name
 *    is a subdomain of it, e.g. rooms.example.org under example.org), then
 *    the configured `disco_items`, Prosody's option:
 *        disco_items = { { "proxy.example.net", "A SOCKS5 proxy" },
 *                        { "news.example.net" } }
 *    (a plain string item is a JID without a name).
 *
 * An account (iq to a user's bare JID), answered by the server for the
 * user (XEP-0030 §2, RFC 6121 §8.5.2.1.3):
 *  - only when the asker is the user, or a contact whose item in the
 *    user's roster has a subscription of 'from' or 'both'; anyone else
 *    gets <service-unavailable/>, the answer for an account that does not
 *    exist, so nothing leaks (XEP-0030 §8, as Prosody does).
 *  - disco#info: the identity account/registered and the disco#info
 *    feature; disco#items: none.  Other modules add theirs (PEP, say) on
 *    the events "disco/account-info" and "disco/account-items", fired on
 *    the host with the reply being built as the event's stanza: a handler
 *    adds children to its <query/> and returns MYNAH_PASS.
 *
 * Entity capabilities: every c2s <stream:features/> carries
 *   <c xmlns='http://jabber.org/protocol/caps' hash='sha-1'
 *      node='https://mynah.invalid' ver='...'/>
 * where ver is the XEP-0115 §5.1 hash of the host's disco#info answer.
 * It is computed for each stream from the current registrations, so it
 * always matches what disco#info answers.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#include "roster_store.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_CAPS "http://jabber.org/protocol/caps"
#define CAPS_NODE "https://mynah.invalid"

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"disco_name", MYNAH_OPTION_STRING, "\"mynah\"", 0, 1023, 1,
     "the name of the server's identity in service discovery"},
    {"disco_items", MYNAH_OPTION_ANY, NULL, 0, 0, 1,
     "extra items of the server: { { \"jid\", \"name\" }, ... }"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

typedef struct disco_host {
    mynah_host *host;
    mynah_store *roster; /* mod_roster's items, read only */
} disco_host;

/* ---- small helpers ---- */

/* A result with an empty <query xmlns=ns/> (carrying the asked node);
 * NULL when out of memory. */
static mynah_stanza *result_with_query(mynah_stanza *iq, const char *ns,
                                       const char *node,
                                       mynah_element **query)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply == NULL)
        return NULL;
    *query = api->element_add_child(api->stanza_root(reply), "query", ns);
    if (*query == NULL ||
        (node != NULL && api->element_set_attr(*query, "node", node) < 0)) {
        api->stanza_unref(reply);
        return NULL;
    }
    return reply;
}

static const char *query_node(mynah_stanza *iq)
{
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    return query ? api->element_attr(query, "node") : NULL;
}

static void add_identity(mynah_element *query, const char *category,
                         const char *type, const char *name)
{
    mynah_element *e = api->element_add_child(query, "identity", NULL);
    if (e == NULL)
        return;
    api->element_set_attr(e, "category", category);
    api->element_set_attr(e, "type", type);
    if (name != NULL && name[0] != '\0')
        api->element_set_attr(e, "name", name);
}

static void add_feature(mynah_element *query, const char *var)
{
    mynah_element *e = api->element_add_child(query, "feature", NULL);
    if (e != NULL)
        api->element_set_attr(e, "var", var);
}

static void add_item(mynah_element *query, const char *jid, const char *name)
{
    mynah_element *e = api->element_add_child(query, "item", NULL);
    if (e == NULL)
        return;
    api->element_set_attr(e, "jid", jid);
    if (name != NULL && name[0] != '\0')
        api->element_set_attr(e, "name", name);
}

/* ---- XEP-0115 verification string ---- */

typedef struct ver_string {
    char *data;
    size_t len, cap;
    int failed;
} ver_string;

static void text_add(ver_string *t, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *grown = realloc(t->data, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s ? s : "", n);
    t->len += n;
    t->data[t->len] = '\0';
}

typedef struct identity_ref {
    const char *category, *type, *name;
} identity_ref;

static int strcmp_null(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* §5.1 step 2: by category, then type, then xml:lang (ours have none);
 * the name breaks ties so that the order is total.  Byte order (i;octet). */
static int compare_identities(const void *x, const void *y)
{
    const identity_ref *a = x, *b = y;
    int c = strcmp_null(a->category, b->category);
    if (c == 0)
        c = strcmp_null(a->type, b->type);
    if (c == 0)
        c = strcmp_null(a->name, b->name);
    return c;
}

static int compare_strings(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void base64_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = digits[(v >> 18) & 63];
        out[o++] = digits[(v >> 12) & 63];
        out[o++] = i + 1 < len ? digits[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? digits[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The ver of the host's disco#info (XEP-0115 §5.1): identities as
 * "category/type/lang/name<", sorted, then features as "var<", sorted,
 * SHA-1, base64.  out holds 29 bytes.  0, or -1 when out of memory. */
static int caps_ver(mynah_host *host, char out[29])
{
    size_t n_id = 0, n_feat = 0;
    while (api->host_identity_at(host, n_id, NULL, NULL, NULL) == 0)
        n_id++;
    while (api->host_feature_at(host, n_feat) != NULL)
        n_feat++;
    identity_ref *ids = calloc(n_id + 1, sizeof *ids);
    const char **feats = calloc(n_feat + 1, sizeof *feats);
    if (ids == NULL || feats == NULL) {
        free(ids);
        free(feats);
        return -1;
    }
    for (size_t i = 0; i < n_id; i++)
        api->host_identity_at(host, i, &ids[i].category, &ids[i].type,
                              &ids[i].name);
    for (size_t i = 0; i < n_feat; i++)
        feats[i] = api->host_feature_at(host, i);
    qsort(ids, n_id, sizeof *ids, compare_identities);
    qsort(feats, n_feat, sizeof *feats, compare_strings);

    ver_string s = {0};
    for (size_t i = 0; i < n_id; i++) {
        text_add(&s, ids[i].category);
        text_add(&s, "/");
        text_add(&s, ids[i].type);
        text_add(&s, "//"); /* no xml:lang */
        text_add(&s, ids[i].name);
        text_add(&s, "<");
    }
    for (size_t i = 0; i < n_feat; i++) {
        text_add(&s, feats[i]);
        text_add(&s, "<");
    }
    free(ids);
    free(feats);
    unsigned char digest[20];
    int failed = s.failed ||
                 gnutls_hash_fast(GNUTLS_DIG_SHA1, s.data ? s.data : "", s.len,
                                  digest) < 0;
    free(s.data);
    if (failed)
        return -1;
    base64_encode(digest, sizeof digest, out);
    return 0;
}

static int on_stream_features(mynah_event *event, void *userdata)
{
    disco_host *dh = userdata;
    mynah_element *features = api->event_features(event);
    char ver[29];
    if (features == NULL || caps_ver(dh->host, ver) < 0)
        return MYNAH_PASS;
    mynah_element *c = api->element_add_child(features, "c", NS_CAPS);
    if (c != NULL) {
        api->element_set_attr(c, "hash", "sha-1");
        api->element_set_attr(c, "node", CAPS_NODE);
        api->element_set_attr(c, "ver", ver);
    }
    return MYNAH_PASS;
}

/* ---- the server ---- */

/* Our caps node for the current ver: "https://mynah.invalid#ver". */
static int is_caps_node(mynah_host *host, const char *node)
{
    char ver[29];
    size_t prefix = strlen(CAPS_NODE);
    return strncmp(node, CAPS_NODE "#", prefix + 1) == 0 &&
           caps_ver(host, ver) == 0 && strcmp(node + prefix + 1, ver) == 0;
}

static int on_info_host(mynah_event *event, void *userdata)
{
    disco_host *dh = userdata;
    mynah_stanza *iq = api->event_stanza(event);
    const char *node = query_node(iq);
    if (node != NULL && !is_caps_node(dh->host, node)) {
        modutil_reply_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    mynah_element *query;
    mynah_stanza *reply = result_with_query(iq, NS_DISCO_INFO, node, &query);
    if (reply == NULL)
        return MYNAH_PASS;
    const char *category, *type, *name;
    for (size_t i = 0; api->host_identity_at(dh->host, i, &category, &type,
                                             &name) == 0; i++)
        add_identity(query, category, type, name);
    const char *var;
    for (size_t i = 0; (var = api->host_feature_at(dh->host, i)) != NULL; i++)
        add_feature(query, var);
    api->route(reply);
    return MYNAH_HANDLED;
}

/* "rooms.example.org" is a subdomain of "example.org". */
static int is_subdomain(const char *name, const char *parent)
{
    size_t n = strlen(name), p = strlen(parent);
    return n > p + 1 && name[n - p - 1] == '.' &&
           strcmp(name + n - p, parent) == 0;
}

static void add_configured_items(disco_host *dh, mynah_element *query)
{
    size_t count = api->option_array_length(self, dh->host, "disco_items");
    for (size_t i = 0; i < count; i++) {
        const char *jid =
            api->option_array_subitem(self, dh->host, "disco_items", i, 0);
        const char *name =
            api->option_array_subitem(self, dh->host, "disco_items", i, 1);
        if (jid == NULL) /* a plain string: a JID without a name */
            jid = api->option_array_item(self, dh->host, "disco_items", i);
        if (jid != NULL)
            add_item(query, jid, name);
    }
}

static int on_items_host(mynah_event *event, void *userdata)
{
    disco_host *dh = userdata;
    mynah_stanza *iq = api->event_stanza(event);
    if (query_node(iq) != NULL) {
        modutil_reply_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    mynah_element *query;
    mynah_stanza *reply = result_with_query(iq, NS_DISCO_ITEMS, NULL, &query);
    if (reply == NULL)
        return MYNAH_PASS;
    const char *own = api->host_name(dh->host);
    for (mynah_host *h = api->host_next(NULL); h; h = api->host_next(h)) {
        if (!api->host_is_component(h) || !is_subdomain(api->host_name(h), own))
            continue;
        /* The component's own first identity names it, if it has one. */
        const char *name = NULL;
        api->host_identity_at(h, 0, NULL, NULL, &name);
        add_item(query, api->host_name(h), name);
    }
    add_configured_items(dh, query);
    api->route(reply);
    return MYNAH_HANDLED;
}

/* ---- an account ---- */

typedef struct account_query {
    mynah_host *host;
    int info; /* disco#info, else disco#items */
    char *owner_bare;
    char *asker_bare;
} account_query;

static void account_query_free(void *data)
{
    account_query *q = data;
    free(q->owner_bare);
    free(q->asker_bare);
    free(q);
}

static void answer_account(roster_job *job)
{
    account_query *q = job->data;
    mynah_stanza *iq = api->event_stanza(job->event);
    const char *node = query_node(iq);
    mynah_element *query;
    mynah_stanza *reply = result_with_query(
        iq, q->info ? NS_DISCO_INFO : NS_DISCO_ITEMS, node, &query);
    if (reply == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return;
    }
    if (q->info && node == NULL) {
        add_identity(query, "account", "registered", NULL);
        add_feature(query, NS_DISCO_INFO);
    }
    /* Modules with something to say about accounts (PEP) add it here. */
    api->fire(q->host, q->info ? "disco/account-info" : "disco/account-items",
              reply, api->event_origin(job->event));
    /* A node nobody filled in is unknown (XEP-0030 §3.1, §4.1). */
    if (node != NULL && api->element_first_child(query) == NULL) {
        api->stanza_unref(reply);
        modutil_reply_error(iq, "cancel", "item-not-found", NULL);
        return;
    }
    api->route(reply);
}

static void on_roster_item(int status, const void *data, size_t len,
                           void *userdata)
{
    roster_job *job = userdata;
    account_query *q = job->data;
    int allowed = 0;
    if (status == MYNAH_STORE_OK) {
        roster_item *item = roster_item_decode(q->asker_bare, data, len);
        allowed = item != NULL && (item->subscription & ROSTER_SUB_FROM);
        roster_item_free(item);
    }
    if (allowed)
        answer_account(job);
    else if (status == MYNAH_STORE_ERROR)
        modutil_reply_error(api->event_stanza(job->event), "wait",
                            "internal-server-error", NULL);
    else
        modutil_reply_error(api->event_stanza(job->event), "cancel",
                            "service-unavailable", NULL);
    roster_job_end(job);
}

static int on_account(mynah_event *event, disco_host *dh, int info)
{
    mynah_stanza *iq = api->event_stanza(event);
    mynah_element *root = api->stanza_root(iq);
    account_query *q = calloc(1, sizeof *q);
    if (q == NULL)
        return MYNAH_PASS;
    q->host = dh->host;
    q->info = info;
    q->owner_bare = modutil_bare_jid(api->element_attr(root, "to"));
    q->asker_bare = modutil_bare_jid(api->element_attr(root, "from"));
    char *local = q->owner_bare ? strdup(q->owner_bare) : NULL;
    char *at = local ? strchr(local, '@') : NULL;
    if (q->asker_bare == NULL || at == NULL) {
        free(local);
        account_query_free(q);
        modutil_reply_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    *at = '\0';
    roster_job *job = roster_job_begin(api, event, q, account_query_free);
    if (job == NULL) {
        free(local);
        return MYNAH_PASS;
    }
    if (strcmp(q->asker_bare, q->owner_bare) == 0) {
        answer_account(job);
        roster_job_end(job);
    } else {
        api->map_get(dh->roster, local, q->asker_bare, on_roster_item, job);
    }
    free(local);
    return roster_job_return(job);
}

static int on_info_bare(mynah_event *event, void *userdata)
{
    return on_account(event, userdata, 1);
}

static int on_items_bare(mynah_event *event, void *userdata)
{
    return on_account(event, userdata, 0);
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    if (!MYNAH_API_HAS(table, option_array_subitem))
        return -1;
    api = table;
    modutil_init(table);
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    disco_host *dh = calloc(1, sizeof *dh);
    if (dh == NULL)
        return -1;
    dh->host = host;
    api->host_set_data(module, host, dh);
    int failed = 0;
    if (!api->host_is_component(host)) {
        const char *name = api->option_string(module, host, "disco_name");
        dh->roster = api->open_store(module, host, ROSTER_STORE,
                                     MYNAH_STORE_MAP);
        failed = dh->roster == NULL ||
                 api->add_identity(module, host, "server", "im", name) != 0 ||
                 api->hook(module, host, "iq-get/bare/" NS_DISCO_INFO ":query",
                           on_info_bare, dh, MYNAH_PRIORITY_DEFAULT) != 0 ||
                 api->hook(module, host, "iq-get/bare/" NS_DISCO_ITEMS ":query",
                           on_items_bare, dh, MYNAH_PRIORITY_DEFAULT) != 0 ||
                 api->hook(module, host, "stream-features", on_stream_features,
                           dh, MYNAH_PRIORITY_DEFAULT) != 0;
    }
    failed = failed ||
             api->hook(module, host, "iq-get/host/" NS_DISCO_INFO ":query",
                       on_info_host, dh, MYNAH_PRIORITY_DEFAULT) != 0 ||
             api->hook(module, host, "iq-get/host/" NS_DISCO_ITEMS ":query",
                       on_items_host, dh, MYNAH_PRIORITY_DEFAULT) != 0 ||
             api->add_feature(module, host, NS_DISCO_INFO) != 0 ||
             api->add_feature(module, host, NS_DISCO_ITEMS) != 0;
    if (failed) {
        api->host_set_data(module, host, NULL);
        free(dh);
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
    .name = "disco",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
