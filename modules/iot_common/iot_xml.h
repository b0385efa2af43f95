/*
 * IoT helpers built on the module API: copying elements between stanzas,
 * error replies with an application condition, JIDs, node triples and
 * disco#info answers.  Call iot_xml_init() from the module's init first.
 */
#ifndef IOT_XML_H
#define IOT_XML_H

#include <mynah/mynah.h>

#include "iot_util.h"

void iot_xml_init(const mynah_api *api);

/* Deep copy of `src` (attributes, children, text) appended to parent;
 * the copy, or NULL (no memory, or the tree is too deep). */
mynah_element *iot_copy_into(mynah_element *parent, const mynah_element *src);
/* A new stanza whose root is a copy of `src`: one reference, or NULL. */
mynah_stanza *iot_stanza_of(const mynah_element *src);
/* Serialized element, malloc'd; NULL on failure. */
char *iot_element_string(const mynah_element *src);

/* Routes an error reply to `stanza` (nothing for an error or a result).
 * app_name/app_ns (may be NULL) add an application condition such as
 * <paramError xmlns='urn:xmpp:iot:control' var='x'>text</paramError>:
 * app_attr/app_value set one attribute on it, app_text its text. */
void iot_error(const mynah_stanza *stanza, const char *type,
               const char *condition, const char *text);
void iot_error_app(const mynah_stanza *stanza, const char *type,
                   const char *condition, const char *app_name,
                   const char *app_ns, const char *app_attr,
                   const char *app_value, const char *app_text);

/* The bare part of a prepared JID, copied into out; 0, or -1 when it
 * does not fit. */
int iot_bare(const char *jid, char *out, size_t size);
/* The domain part of a prepared JID, copied into out. */
int iot_domain(const char *jid, char *out, size_t size);
/* Prepares user input; the bare JID, malloc'd, or NULL when invalid. */
char *iot_prepare_bare(const char *text);
/* Prepares user input; the full (or bare) JID as given, malloc'd. */
char *iot_prepare(const char *text);

/* The (nodeId, sourceId, cacheType) triple of XEP-0326/0347: each NULL
 * when absent. */
typedef struct iot_node {
    const char *node_id;
    const char *source_id;
    const char *cache_type;
} iot_node;

void iot_node_of(const mynah_element *e, iot_node *node);
/* Sets the attributes of the non-NULL, non-empty parts. */
void iot_node_set(mynah_element *e, const iot_node *node);
/* "thing\x1fnodeId\x1fsourceId\x1fcacheType" (absent parts empty). */
void iot_node_key(const char *thing, const iot_node *node, iot_buf *out);

/* An iq (type get/set/result) or a message from `from` to `to` with one
 * child payload (name/ns, either may be NULL for none); *child gets the
 * payload.  One reference, or NULL. */
mynah_stanza *iot_iq(const char *type, const char *from, const char *to,
                     const char *id, const char *name, const char *ns,
                     mynah_element **child);
mynah_stanza *iot_message(const char *from, const char *to, const char *name,
                          const char *ns, mynah_element **child);

/* A disco#info result for `iq` listing what every module registered on
 * `host` (identities, features) and disco#info itself; routed.  The
 * components answer with it when no mod_disco is enabled for them. */
void iot_disco_info_reply(const mynah_stanza *iq, mynah_host *host);

/* The available resource of `bare` with the highest non-negative
 * priority (where a request to a thing's bare JID goes), NULL if none. */
mynah_session *iot_best_resource(const char *bare);
/* Relays iq, a request to a thing's bare JID, to its resource `to` and
 * answers it from the bare JID with the thing's answer (its payload and
 * result or error type), or recipient-unavailable when the thing does not
 * answer within timeout seconds; resource-constraint when the relay
 * cannot be sent.  module keeps the code loaded until the answer. */
void iot_relay_to_resource(mynah_module *module, mynah_stanza *iq,
                           mynah_session *to, double timeout);

/* The first child with this name in this namespace (NULL = any name). */
mynah_element *iot_child(const mynah_element *e, const char *name,
                         const char *ns);

#endif
