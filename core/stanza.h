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

/* ---- lifetime ----
 * stanza_new(name, NULL) puts the root in the content namespace
 * "jabber:client"; stanza_serialize() writes it without an xmlns on any
 * c2s, s2s or component stream (see there).  Names must be non-empty XML
 * local names (no prefix); NULL on invalid input or no memory. */
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
 * get a prefix declared on their element.  Returns 0 or -1 (no memory).
 *
 * The three content namespaces (jabber:client, jabber:server,
 * jabber:component:accept) are interchangeable at the root: a stanza read
 * from a c2s stream is written to an s2s stream without an xmlns, so that it
 * takes that stream's namespace (RFC 6120 §4.8.3).  default_ns NULL means
 * "no namespace". */
int stanza_serialize(const mynah_stanza *stanza, const char *default_ns,
                     buf *out);
int element_serialize(const mynah_element *element, const char *parent_ns,
                      buf *out);
/* Serialized XML, malloc'd and NUL-terminated; the caller frees.  The
 * root's xmlns is written unless it is exactly "jabber:client", so that
 * stanza_parse() of the result gives back the same tree.  len may be NULL. */
char *stanza_to_string(const mynah_stanza *stanza, size_t *len);
/* Parses a single element from a complete string, with the same
 * restrictions as the stream parser (no DOCTYPE, entities, PIs,
 * comments).  An unprefixed element without an xmlns is in
 * "jabber:client", as if read from a c2s stream.  Only whitespace may
 * surround the element.  NULL on any error.  (Implemented on top of
 * xml_stream.c, so link both.) */
mynah_stanza *stanza_parse(const char *xml, size_t len);

/* ---- replies ---- */
mynah_stanza *stanza_reply(const mynah_stanza *stanza);
mynah_stanza *stanza_error_reply(const mynah_stanza *stanza, const char *type,
                                 const char *condition, const char *text);

/* ---- elements ----
 * Element namespaces are never NULL: "" means "no namespace".
 * element_attr() and element_set_attr() take unqualified names; "xml:lang"
 * is accepted as a shorthand for (NS_XML, "lang").  element_set_attr()
 * with value NULL removes the attribute.  Values and text must be valid
 * UTF-8 made of XML characters (RFC 6120 §11.4): else -1. */
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
/* xmlns NULL inherits the parent's namespace. */
mynah_element *element_add_child(mynah_element *parent, const char *name,
                                 const char *xmlns);
int element_add_text(mynah_element *element, const char *text, size_t len);
/* First child element with this name (NULL = any) and namespace (NULL =
 * the element's own). */
mynah_element *element_child(const mynah_element *element, const char *name,
                             const char *xmlns);
mynah_element *element_first_child(const mynah_element *element);
mynah_element *element_next_sibling(const mynah_element *element);
/* The element's direct text nodes joined; "" when none.  Valid until the
 * stanza changes. */
const char *element_text(mynah_element *element);
/* Attribute iteration: index from 0; returns the local name, NULL past the
 * end.  element_attr_ns_at() also gives the namespace (NULL when
 * unqualified). */
const char *element_attr_at(const mynah_element *element, size_t index,
                            const char **value);
const char *element_attr_ns_at(const mynah_element *element, size_t index,
                               const char **xmlns, const char **value);
/* Unlinks an element from its parent (its memory goes with the stanza).
 * -1 for a root. */
int element_remove(mynah_element *element);
mynah_element *element_parent(const mynah_element *element);
mynah_stanza *element_stanza(const mynah_element *element);
/* Copies an element (and its subtree) under a parent of another stanza
 * (or elsewhere in the same one, but not inside the source itself). */
mynah_element *element_copy_into(mynah_element *parent,
                                 const mynah_element *source);

/* ---- building from the stream parser (xml_stream.c) ----
 * No validation here: expat has already checked names and characters.
 * Lengths are in bytes; strings need not be NUL-terminated.
 * stanza_build_attr() PREPENDS, so call it for the attributes in reverse
 * order.  stanza_build_text() extends the last text node in place when it
 * can, so text split by the parser is not copied twice. */
mynah_stanza *stanza_build_root(const char *name, size_t name_len,
                                const char *xmlns, size_t xmlns_len);
mynah_element *stanza_build_child(mynah_element *parent, const char *name,
                                  size_t name_len, const char *xmlns,
                                  size_t xmlns_len);
int stanza_build_attr(mynah_element *element, const char *xmlns,
                      size_t xmlns_len, const char *name, size_t name_len,
                      const char *value, size_t value_len);
int stanza_build_text(mynah_element *element, const char *text, size_t len);

/* True if s[0..len) is UTF-8 made only of XML 1.0 characters (no NUL, no C0
 * controls other than tab/LF/CR, no U+FFFE/U+FFFF, no surrogates). */
int stanza_text_valid(const char *s, size_t len);

#endif
