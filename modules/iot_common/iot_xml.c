/*
 * IoT helpers built on the module API (see iot_xml.h).
 */
#include "iot_xml.h"

#include <stdlib.h>
#include <string.h>

#include "iot_api.h"

static const mynah_api *api;

void iot_xml_init(const mynah_api *table)
{
    api = table;
}

/* ---- copying elements ---- */

/* The parser limits depth to 64; a copy deeper than this is refused
 * rather than risking the stack on a hand-built tree. */
#define COPY_MAX_DEPTH 128

static mynah_element *copy_level(mynah_element *parent,
                                 const mynah_element *src, int depth)
{
    if (depth > COPY_MAX_DEPTH)
        return NULL;
    mynah_element *copy = api->element_add_child(parent, api->element_name(src),
                                                 api->element_xmlns(src));
    if (copy == NULL)
        return NULL;
    const char *value;
    const char *name;
    for (size_t i = 0; (name = api->element_attr_at(src, i, &value)) != NULL;
         i++)
        if (api->element_set_attr(copy, name, value) < 0)
            return NULL;
    mynah_element *child = api->element_first_child(src);
    if (child == NULL) {
        /* element_text wants a non-const element; it only reads. */
        const char *text = api->element_text((mynah_element *)src);
        if (text[0] != '\0' &&
            api->element_add_text(copy, text, strlen(text)) < 0)
            return NULL;
    }
    for (; child != NULL; child = api->element_next_sibling(child))
        if (copy_level(copy, child, depth + 1) == NULL)
            return NULL;
    return copy;
}

mynah_element *iot_copy_into(mynah_element *parent, const mynah_element *src)
{
    return copy_level(parent, src, 0);
}

mynah_stanza *iot_stanza_of(const mynah_element *src)
{
    mynah_stanza *st = api->stanza_new(api->element_name(src),
                                       api->element_xmlns(src));
    if (st == NULL)
        return NULL;
    mynah_element *root = api->stanza_root(st);
    const char *value;
    const char *name;
    for (size_t i = 0; (name = api->element_attr_at(src, i, &value)) != NULL;
         i++)
        if (api->element_set_attr(root, name, value) < 0)
            goto fail;
    mynah_element *child = api->element_first_child(src);
    if (child == NULL) {
        const char *text = api->element_text((mynah_element *)src);
        if (text[0] != '\0' &&
            api->element_add_text(root, text, strlen(text)) < 0)
            goto fail;
    }
    for (; child != NULL; child = api->element_next_sibling(child))
        if (copy_level(root, child, 1) == NULL)
            goto fail;
    return st;
fail:
    api->stanza_unref(st);
    return NULL;
}

char *iot_element_string(const mynah_element *src)
{
    mynah_stanza *st = iot_stanza_of(src);
    if (st == NULL)
        return NULL;
    char *text = api->stanza_to_string(st, NULL);
    api->stanza_unref(st);
    return text;
}

/* ---- errors ---- */

void iot_error_app(const mynah_stanza *stanza, const char *type,
                   const char *condition, const char *app_name,
                   const char *app_ns, const char *app_attr,
                   const char *app_value, const char *app_text)
{
    const char *kind = api->element_name(
        api->stanza_root((mynah_stanza *)stanza));
    const char *stype = api->element_attr(
        api->stanza_root((mynah_stanza *)stanza), "type");
    /* RFC 6120 §8.3.1: never answer an error; an iq result wants none. */
    if (stype != NULL && (strcmp(stype, "error") == 0 ||
                          (strcmp(kind, "iq") == 0 &&
                           strcmp(stype, "result") == 0)))
        return;
    mynah_stanza *err = api->stanza_error_reply(stanza, type, condition,
                                                NULL);
    if (err == NULL)
        return;
    mynah_element *error = api->element_child(api->stanza_root(err), "error",
                                              NULL);
    if (error != NULL && app_name != NULL) {
        mynah_element *app = api->element_add_child(error, app_name, app_ns);
        if (app != NULL && app_attr != NULL)
            api->element_set_attr(app, app_attr, app_value);
        if (app != NULL && app_text != NULL)
            api->element_add_text(app, app_text, strlen(app_text));
    }
    api->route(err);
}

void iot_error(const mynah_stanza *stanza, const char *type,
               const char *condition, const char *text)
{
    const char *stype = api->element_attr(
        api->stanza_root((mynah_stanza *)stanza), "type");
    const char *kind = api->element_name(
        api->stanza_root((mynah_stanza *)stanza));
    if (stype != NULL && (strcmp(stype, "error") == 0 ||
                          (strcmp(kind, "iq") == 0 &&
                           strcmp(stype, "result") == 0)))
        return;
    mynah_stanza *err = api->stanza_error_reply(stanza, type, condition, text);
    if (err != NULL)
        api->route(err);
}

/* ---- JIDs ---- */

int iot_bare(const char *jid, char *out, size_t size)
{
    const char *slash = strchr(jid, '/');
    size_t n = slash ? (size_t)(slash - jid) : strlen(jid);
    if (n >= size)
        return -1;
    memcpy(out, jid, n);
    out[n] = '\0';
    return 0;
}

int iot_domain(const char *jid, char *out, size_t size)
{
    char bare[3072];
    if (iot_bare(jid, bare, sizeof bare) < 0)
        return -1;
    const char *at = strchr(bare, '@');
    const char *domain = at ? at + 1 : bare;
    if (strlen(domain) >= size)
        return -1;
    strcpy(out, domain);
    return 0;
}

char *iot_prepare_bare(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return NULL;
    mynah_jid *jid = api->jid_new(text);
    if (jid == NULL)
        return NULL;
    char *bare = strdup(api->jid_bare(jid));
    api->jid_free(jid);
    return bare;
}

char *iot_prepare(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return NULL;
    mynah_jid *jid = api->jid_new(text);
    if (jid == NULL)
        return NULL;
    char *full = strdup(api->jid_full(jid));
    api->jid_free(jid);
    return full;
}

/* ---- node triples ---- */

static const char *non_empty(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

void iot_node_of(const mynah_element *e, iot_node *node)
{
    node->node_id = non_empty(api->element_attr(e, "nodeId"));
    node->source_id = non_empty(api->element_attr(e, "sourceId"));
    node->cache_type = non_empty(api->element_attr(e, "cacheType"));
}

void iot_node_set(mynah_element *e, const iot_node *node)
{
    if (non_empty(node->node_id))
        api->element_set_attr(e, "nodeId", node->node_id);
    if (non_empty(node->source_id))
        api->element_set_attr(e, "sourceId", node->source_id);
    if (non_empty(node->cache_type))
        api->element_set_attr(e, "cacheType", node->cache_type);
}

void iot_node_key(const char *thing, const iot_node *node, iot_buf *out)
{
    iot_buf_adds(out, thing);
    iot_buf_add(out, "\x1f", 1);
    iot_buf_adds(out, node->node_id ? node->node_id : "");
    iot_buf_add(out, "\x1f", 1);
    iot_buf_adds(out, node->source_id ? node->source_id : "");
    iot_buf_add(out, "\x1f", 1);
    iot_buf_adds(out, node->cache_type ? node->cache_type : "");
}

/* ---- building stanzas ---- */

static mynah_stanza *with_payload(mynah_stanza *st, const char *from,
                                  const char *to, const char *name,
                                  const char *ns, mynah_element **child)
{
    mynah_element *root = api->stanza_root(st);
    if ((from && api->element_set_attr(root, "from", from) < 0) ||
        (to && api->element_set_attr(root, "to", to) < 0))
        goto fail;
    if (name != NULL) {
        mynah_element *c = api->element_add_child(root, name, ns);
        if (c == NULL)
            goto fail;
        if (child)
            *child = c;
    }
    return st;
fail:
    api->stanza_unref(st);
    return NULL;
}

mynah_stanza *iot_iq(const char *type, const char *from, const char *to,
                     const char *id, const char *name, const char *ns,
                     mynah_element **child)
{
    mynah_stanza *st = api->stanza_new("iq", NULL);
    if (st == NULL)
        return NULL;
    mynah_element *root = api->stanza_root(st);
    if (api->element_set_attr(root, "type", type) < 0 ||
        (id && api->element_set_attr(root, "id", id) < 0)) {
        api->stanza_unref(st);
        return NULL;
    }
    return with_payload(st, from, to, name, ns, child);
}

mynah_stanza *iot_message(const char *from, const char *to, const char *name,
                          const char *ns, mynah_element **child)
{
    mynah_stanza *st = api->stanza_new("message", NULL);
    if (st == NULL)
        return NULL;
    return with_payload(st, from, to, name, ns, child);
}

/* ---- disco#info ---- */

void iot_disco_info_reply(const mynah_stanza *iq, mynah_host *host)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply == NULL)
        return;
    mynah_element *query = api->element_add_child(api->stanza_root(reply),
                                                  "query", IOT_NS_DISCO_INFO);
    if (query == NULL) {
        api->stanza_unref(reply);
        return;
    }
    const char *category, *type, *name;
    for (size_t i = 0;
         api->host_identity_at(host, i, &category, &type, &name) == 0; i++) {
        mynah_element *id = api->element_add_child(query, "identity", NULL);
        if (id == NULL)
            continue;
        api->element_set_attr(id, "category", category);
        api->element_set_attr(id, "type", type);
        if (name != NULL)
            api->element_set_attr(id, "name", name);
    }
    mynah_element *f = api->element_add_child(query, "feature", NULL);
    if (f != NULL)
        api->element_set_attr(f, "var", IOT_NS_DISCO_INFO);
    const char *var;
    for (size_t i = 0; (var = api->host_feature_at(host, i)) != NULL; i++) {
        if (strcmp(var, IOT_NS_DISCO_INFO) == 0)
            continue;
        f = api->element_add_child(query, "feature", NULL);
        if (f != NULL)
            api->element_set_attr(f, "var", var);
    }
    api->route(reply);
}

/* ---- relaying from a bare JID ---- */

mynah_session *iot_best_resource(const char *bare)
{
    mynah_session *best = NULL, *s;
    for (size_t i = 0; (s = api->session_of_user(bare, i)) != NULL; i++) {
        if (!api->session_available(s) || api->session_priority(s) < 0 ||
            api->session_jid(s) == NULL)
            continue;
        if (best == NULL ||
            api->session_priority(s) > api->session_priority(best))
            best = s;
    }
    return best;
}

/* The thing's answer to a relayed request goes back from the bare JID. */
static void on_relayed_answer(mynah_stanza *reply, void *userdata)
{
    mynah_stanza *original = userdata;
    if (reply == NULL) {
        iot_error(original, "wait", "recipient-unavailable", NULL);
    } else {
        mynah_stanza *back = api->stanza_reply(original);
        const char *type = api->element_attr(api->stanza_root(reply), "type");
        if (back != NULL) {
            mynah_element *root = api->stanza_root(back);
            api->element_set_attr(root, "type",
                                  type && strcmp(type, "error") == 0
                                      ? "error"
                                      : "result");
            for (mynah_element *c = api->element_first_child(
                     api->stanza_root(reply));
                 c != NULL; c = api->element_next_sibling(c))
                iot_copy_into(root, c);
            api->route(back);
        }
    }
    api->stanza_unref(original);
}

void iot_relay_to_resource(mynah_module *module, mynah_stanza *iq,
                           mynah_session *to, double timeout)
{
    mynah_stanza *copy = api->stanza_copy(iq);
    if (copy == NULL) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        return;
    }
    api->element_set_attr(api->stanza_root(copy), "to",
                          api->jid_full(api->session_jid(to)));
    mynah_stanza *original = api->stanza_ref(iq);
    if (api->send_iq(module, copy, on_relayed_answer, original, timeout) < 0) {
        api->stanza_unref(original);
        iot_error(iq, "wait", "resource-constraint", NULL);
    }
}

mynah_element *iot_child(const mynah_element *e, const char *name,
                         const char *ns)
{
    for (mynah_element *c = api->element_first_child(e); c != NULL;
         c = api->element_next_sibling(c)) {
        if (name != NULL && strcmp(api->element_name(c), name) != 0)
            continue;
        if (ns != NULL && strcmp(api->element_xmlns(c), ns) != 0)
            continue;
        return c;
    }
    return NULL;
}
