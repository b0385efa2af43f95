/*
 * Stanzas inside the core.
 *
 * A stanza is one tree of elements living in one arena: building it is a
 * few pointer bumps and freeing it is one free() per arena chunk.  The
 * stanza carries a reference count so that modules can keep it (offline
 * storage, MUC history); a stanza with more than one reference is shared
 * and must not be changed -- stanza_copy() first.
 *
 * These functions are what the module API table points at; the signatures
 * match include/mynah/api.h.
 */
#ifndef MYNAH_STANZA_H
#define MYNAH_STANZA_H

#include <stddef.h>
#include <mynah/types.h>
#include "buf.h"

#define NS_CLIENT "jabber:client"
#define NS_SERVER "jabber:server"
#define NS_COMPONENT "jabber:component:accept"
#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_XMPP_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_XMPP_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_XMPP_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_XMPP_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_XMPP_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_XMPP_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_XML "http://www.w3.org/XML/1998/namespace"
#define NS_STREAM_LIMITS "urn:xmpp:stream-limits:0"

/* ---- lifetime ---- */
mynah_stanza *stanza_new(const char *name, const char *xmlns);
mynah_stanza *stanza_ref(mynah_stanza *stanza);
void stanza_unref(mynah_stanza *stanza);
int stanza_refcount(const mynah_stanza *stanza);
mynah_stanza *stanza_copy(const mynah_stanza *stanza);
mynah_element *stanza_root(mynah_stanza *stanza);
/* Bytes the stanza's arena holds (for limits and memory accounting). */
size_t stanza_memory(const mynah_stanza *stanza);

/* ---- shortcuts on the root element ---- */
const char *stanza_name(const mynah_stanza *stanza);
const char *stanza_xmlns(const mynah_stanza *stanza);
const char *stanza_attr(const mynah_stanza *stanza, const char *name);
int stanza_set_attr(mynah_stanza *stanza, const char *name, const char *value);

/* ---- serialization ----
 * Appends the XML of the stanza to out.  The root gets an xmlns
 * declaration only when its namespace differs from default_ns (the
 * stream's content namespace, e.g. "jabber:client"); children get one
 * whenever their namespace differs from their parent's.  Text and
 * attribute values are escaped.  Namespaced attributes (other than xml:)
 * get a prefix declared on their element.  Returns 0 or -1 (no memory). */
int stanza_serialize(const mynah_stanza *stanza, const char *default_ns,
                     buf *out);
int element_serialize(const mynah_element *element, const char *parent_ns,
                      buf *out);
char *stanza_to_string(const mynah_stanza *stanza, size_t *len);
/* Parses a single element from a complete string, with the same
 * restrictions as the stream parser (no DOCTYPE, entities, PIs,
 * comments).  NULL on any error. */
mynah_stanza *stanza_parse(const char *xml, size_t len);

/* ---- replies ---- */
mynah_stanza *stanza_reply(const mynah_stanza *stanza);
mynah_stanza *stanza_error_reply(const mynah_stanza *stanza, const char *type,
                                 const char *condition, const char *text);

/* ---- elements ---- */
const char *element_name(const mynah_element *element);
const char *element_xmlns(const mynah_element *element);
const char *element_attr(const mynah_element *element, const char *name);
/* Attribute in a namespace, e.g. (NS_XML, "lang"). */
const char *element_attr_ns(const mynah_element *element, const char *xmlns,
                            const char *name);
int element_set_attr(mynah_element *element, const char *name,
                     const char *value);
int element_set_attr_ns(mynah_element *element, const char *xmlns,
                        const char *name, const char *value);
mynah_element *element_add_child(mynah_element *parent, const char *name,
                                 const char *xmlns);
int element_add_text(mynah_element *element, const char *text, size_t len);
mynah_element *element_child(const mynah_element *element, const char *name,
                             const char *xmlns);
mynah_element *element_first_child(const mynah_element *element);
mynah_element *element_next_sibling(const mynah_element *element);
const char *element_text(mynah_element *element);
const char *element_attr_at(const mynah_element *element, size_t index,
                            const char **value);
int element_remove(mynah_element *element);
mynah_element *element_parent(const mynah_element *element);
mynah_stanza *element_stanza(const mynah_element *element);
/* Copies an element (and its subtree) under a parent of another stanza. */
mynah_element *element_copy_into(mynah_element *parent,
                                 const mynah_element *source);

#endif
