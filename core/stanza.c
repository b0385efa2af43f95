/*
 * Stanzas: element trees in one arena per stanza.
 *
 * Memory layout.  stanza_new() makes one malloc holding the stanza header
 * and the first arena chunk (STANZA_FIRST_ALLOC bytes in all, enough for a
 * typical message or presence).  Elements, attributes, text and strings are
 * bump-allocated; when a chunk is full a bigger one is chained in.  Nothing
 * is freed before the stanza: removing an element only unlinks it.
 *
 * Children are a singly linked list of nodes, elements and text nodes in
 * document order, so mixed content serializes as it came.  Text split by
 * the parser (or added piece by piece) is appended in place when the text
 * node is the last thing in the arena, which is the common case.
 *
 * Namespaces are stored as pointers: a child in its parent's namespace
 * shares the parent's string, and the well-known namespaces are static
 * strings, so most elements cost nothing for their namespace.
 *
 * Every tree walk (serialize, copy) is iterative, so deep trees cannot
 * overflow the C stack.
 */
#include "stanza.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml_stream.h"

/* ---- types ---- */

enum node_kind { NODE_ELEMENT = 1, NODE_TEXT = 2 };

typedef struct xml_node {
    struct xml_node *next;
    unsigned char kind;
} xml_node;

typedef struct text_node {
    xml_node node;
    size_t len;
    char text[]; /* len bytes and a NUL */
} text_node;

typedef struct attr {
    struct attr *next;
    const char *xmlns; /* NULL: unqualified */
    const char *name;
    const char *value;
} attr;

struct mynah_element {
    xml_node node; /* must stay first: a child list holds xml_node pointers */
    mynah_element *parent;
    mynah_stanza *stanza;
    const char *name;
    const char *xmlns; /* never NULL; "" is no namespace */
    attr *attrs;
    xml_node *first_child;
    xml_node *last_child;
    const char *text_cache; /* joined text, NULL until asked for */
};

typedef struct arena_chunk {
    struct arena_chunk *prev; /* older chunk; NULL for the embedded one */
    char *cur;
    char *end;
} arena_chunk;

struct mynah_stanza {
    int refcount;
    mynah_element *root;
    arena_chunk *chunk; /* newest chunk, where allocations go */
    size_t memory;      /* bytes malloc'd for this stanza */
    arena_chunk first;  /* its bytes follow this struct in the same block */
};

/* The first block: header plus ~450 bytes of arena, which holds a small
 * message (to, from, type, a short body).  Routed stanzas live briefly, and
 * the ones kept for long are copies, which stanza_copy() sizes exactly. */
#define STANZA_FIRST_ALLOC 512
/* Later chunks start at 1 KiB and double up to 64 KiB (or fit the
 * request). */
#define ARENA_SECOND_CHUNK 1024
#define ARENA_MAX_GROWTH (64 * 1024)

/* ---- well-known namespaces ---- */

static const char ns_empty[] = "";

/* Interned namespace URIs: elements in these namespaces point here and
 * cost no arena bytes. */
static const char *const ns_static[] = {
    NS_CLIENT,
    NS_SERVER,
    NS_COMPONENT,
    NS_STREAMS,
    NS_XMPP_STREAMS,
    NS_XMPP_STANZAS,
    NS_XMPP_TLS,
    NS_XMPP_SASL,
    NS_XMPP_BIND,
    NS_XMPP_SESSION,
    NS_XML,
    NS_STREAM_LIMITS,
    "jabber:iq:roster",
    "jabber:iq:version",
    "jabber:iq:private",
    "jabber:iq:register",
    "jabber:iq:last",
    "jabber:x:data",
    "vcard-temp",
    "vcard-temp:x:update",
    "urn:xmpp:ping",
    "urn:xmpp:delay",
    "urn:xmpp:time",
    "urn:xmpp:receipts",
    "urn:xmpp:sid:0",
    "urn:xmpp:sm:3",
    "urn:xmpp:carbons:2",
    "urn:xmpp:forward:0",
    "urn:xmpp:mam:2",
    "urn:xmpp:chat-markers:0",
    "urn:xmpp:iot:sensordata",
    "urn:xmpp:iot:discovery",
    "urn:xmpp:iot:provisioning",
    "urn:xmpp:iot:control",
    "http://jabber.org/protocol/caps",
    "http://jabber.org/protocol/chatstates",
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/muc",
    "http://jabber.org/protocol/muc#user",
    "http://jabber.org/protocol/muc#admin",
    "http://jabber.org/protocol/muc#owner",
    "http://jabber.org/protocol/pubsub",
    "http://jabber.org/protocol/pubsub#event",
    "http://jabber.org/protocol/rsm",
};

static const char *ns_lookup_static(const char *uri, size_t len)
{
    if (len == 0)
        return ns_empty;
    for (size_t i = 0; i < sizeof ns_static / sizeof ns_static[0]; i++) {
        const char *s = ns_static[i];
        if (s[0] == uri[0] && strncmp(s, uri, len) == 0 && s[len] == '\0')
            return s;
    }
    return NULL;
}

static int is_content_ns(const char *ns)
{
    return strcmp(ns, NS_CLIENT) == 0 || strcmp(ns, NS_SERVER) == 0 ||
           strcmp(ns, NS_COMPONENT) == 0;
}

/* ---- arena ---- */

static void *arena_alloc_slow(mynah_stanza *st, size_t size, size_t align)
{
    arena_chunk *old = st->chunk;
    size_t want = ARENA_SECOND_CHUNK;
    if (old != &st->first)
        want = (size_t)(old->end - (char *)old) * 2;
    if (want > ARENA_MAX_GROWTH)
        want = ARENA_MAX_GROWTH;
    if (size > SIZE_MAX / 2 - sizeof(arena_chunk) - align)
        return NULL;
    if (want < sizeof(arena_chunk) + size + align)
        want = sizeof(arena_chunk) + size + align;
    arena_chunk *c = malloc(want);
    if (c == NULL)
        return NULL;
    c->prev = old;
    c->cur = (char *)(c + 1);
    c->end = (char *)c + want;
    st->chunk = c;
    st->memory += want;
    uintptr_t p = ((uintptr_t)c->cur + align - 1) & ~(uintptr_t)(align - 1);
    c->cur = (char *)p + size;
    return (void *)p;
}

/* align must be a power of two. */
static inline void *arena_alloc(mynah_stanza *st, size_t size, size_t align)
{
    arena_chunk *c = st->chunk;
    uintptr_t p = ((uintptr_t)c->cur + align - 1) & ~(uintptr_t)(align - 1);
    if (p <= (uintptr_t)c->end && size <= (uintptr_t)c->end - p) {
        c->cur = (char *)p + size;
        return (void *)p;
    }
    return arena_alloc_slow(st, size, align);
}

static char *arena_strndup(mynah_stanza *st, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *copy = arena_alloc(st, len + 1, 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

/* Bytes allocated in all chunks (an upper bound for a copy). */
static size_t arena_used(const mynah_stanza *st)
{
    size_t used = 0;
    for (const arena_chunk *c = st->chunk; c != NULL; c = c->prev) {
        const char *start = c == &st->first ? (const char *)(st + 1)
                                            : (const char *)(c + 1);
        used += (size_t)(c->cur - start);
    }
    return used;
}

static mynah_stanza *stanza_alloc(size_t arena_bytes)
{
    size_t total = sizeof(mynah_stanza) + arena_bytes;
    if (total < STANZA_FIRST_ALLOC)
        total = STANZA_FIRST_ALLOC;
    mynah_stanza *st = malloc(total);
    if (st == NULL)
        return NULL;
    st->refcount = 1;
    st->root = NULL;
    st->memory = total;
    st->first.prev = NULL;
    st->first.cur = (char *)(st + 1);
    st->first.end = (char *)st + total;
    st->chunk = &st->first;
    return st;
}

static void stanza_free(mynah_stanza *st)
{
    arena_chunk *c = st->chunk;
    while (c != &st->first) {
        arena_chunk *prev = c->prev;
        free(c);
        c = prev;
    }
    free(st);
}

/* ---- validation ---- */

int stanza_text_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return 0;
            p++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlongs */
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= need)
            return 0;
        if (p[1] < lo || p[1] > hi)
            return 0;
        for (size_t i = 2; i <= need; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        /* U+FFFE and U+FFFF are not XML characters. */
        if (c == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
            return 0;
        p += need + 1;
    }
    return 1;
}

/* An approximation of an XML NCName that is cheap and strict enough to
 * keep the serializer's output well-formed: ASCII letters, digits, '.',
 * '-', '_' (not leading digit/'.'/'-'), and any non-ASCII UTF-8. */
static int name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return 0;
    unsigned char first = (unsigned char)name[0];
    if ((first >= '0' && first <= '9') || first == '.' || first == '-')
        return 0;
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned char c = *p;
        len++;
        if (c >= 0x80)
            continue;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
            continue;
        return 0;
    }
    return stanza_text_valid(name, len);
}

static int value_valid(const char *value)
{
    return stanza_text_valid(value, strlen(value));
}

/* ---- building blocks ---- */

/* The namespace pointer to store for a new element or attribute: the
 * parent's (shared), a static one, or a copy in the arena. */
static const char *ns_intern(mynah_stanza *st, const char *parent_ns,
                             const char *uri, size_t len)
{
    if (parent_ns != NULL && strncmp(parent_ns, uri, len) == 0 &&
        parent_ns[len] == '\0')
        return parent_ns;
    const char *s = ns_lookup_static(uri, len);
    if (s != NULL)
        return s;
    return arena_strndup(st, uri, len);
}

static mynah_element *element_alloc(mynah_stanza *st, mynah_element *parent,
                                    const char *name, size_t name_len,
                                    const char *xmlns, size_t xmlns_len)
{
    mynah_element *el = arena_alloc(st, sizeof *el, alignof(mynah_element));
    if (el == NULL)
        return NULL;
    el->name = arena_strndup(st, name, name_len);
    el->xmlns = ns_intern(st, parent ? parent->xmlns : NULL, xmlns, xmlns_len);
    if (el->name == NULL || el->xmlns == NULL)
        return NULL;
    el->node.next = NULL;
    el->node.kind = NODE_ELEMENT;
    el->parent = parent;
    el->stanza = st;
    el->attrs = NULL;
    el->first_child = NULL;
    el->last_child = NULL;
    el->text_cache = NULL;
    return el;
}

static void element_link(mynah_element *parent, xml_node *node)
{
    if (parent->last_child != NULL)
        parent->last_child->next = node;
    else
        parent->first_child = node;
    parent->last_child = node;
}

mynah_stanza *stanza_build_root(const char *name, size_t name_len,
                                const char *xmlns, size_t xmlns_len)
{
    mynah_stanza *st = stanza_alloc(0);
    if (st == NULL)
        return NULL;
    st->root = element_alloc(st, NULL, name, name_len, xmlns, xmlns_len);
    if (st->root == NULL) {
        stanza_free(st);
        return NULL;
    }
    return st;
}

mynah_element *stanza_build_child(mynah_element *parent, const char *name,
                                  size_t name_len, const char *xmlns,
                                  size_t xmlns_len)
{
    mynah_element *el = element_alloc(parent->stanza, parent, name, name_len,
                                      xmlns, xmlns_len);
    if (el != NULL)
        element_link(parent, &el->node);
    return el;
}

int stanza_build_attr(mynah_element *element, const char *xmlns,
                      size_t xmlns_len, const char *name, size_t name_len,
                      const char *value, size_t value_len)
{
    mynah_stanza *st = element->stanza;
    attr *a = arena_alloc(st, sizeof *a, alignof(attr));
    if (a == NULL)
        return -1;
    a->xmlns = NULL;
    if (xmlns != NULL && xmlns_len > 0) {
        a->xmlns = ns_intern(st, element->xmlns, xmlns, xmlns_len);
        if (a->xmlns == NULL)
            return -1;
    }
    a->name = arena_strndup(st, name, name_len);
    a->value = arena_strndup(st, value, value_len);
    if (a->name == NULL || a->value == NULL)
        return -1;
    a->next = element->attrs;
    element->attrs = a;
    return 0;
}

int stanza_build_text(mynah_element *element, const char *text, size_t len)
{
    if (len == 0)
        return 0;
    mynah_stanza *st = element->stanza;
    arena_chunk *c = st->chunk;
    element->text_cache = NULL;
    xml_node *last = element->last_child;
    if (last != NULL && last->kind == NODE_TEXT) {
        text_node *t = (text_node *)last;
        /* The text is the newest thing in the arena: grow it in place. */
        if (t->text + t->len + 1 == c->cur && len <= (size_t)(c->end - c->cur)) {
            memcpy(t->text + t->len, text, len);
            t->len += len;
            t->text[t->len] = '\0';
            c->cur += len;
            return 0;
        }
    }
    if (len > SIZE_MAX / 2)
        return -1;
    text_node *t = arena_alloc(st, sizeof *t + len + 1, alignof(text_node));
    if (t == NULL)
        return -1;
    t->node.next = NULL;
    t->node.kind = NODE_TEXT;
    t->len = len;
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    element_link(element, &t->node);
    return 0;
}

/* ---- lifetime ---- */

mynah_stanza *stanza_new(const char *name, const char *xmlns)
{
    if (!name_valid(name))
        return NULL;
    if (xmlns == NULL)
        xmlns = NS_CLIENT;
    else if (!value_valid(xmlns))
        return NULL;
    return stanza_build_root(name, strlen(name), xmlns, strlen(xmlns));
}

mynah_stanza *stanza_ref(mynah_stanza *stanza)
{
    if (stanza != NULL)
        stanza->refcount++;
    return stanza;
}

void stanza_unref(mynah_stanza *stanza)
{
    if (stanza != NULL && --stanza->refcount == 0)
        stanza_free(stanza);
}

int stanza_refcount(const mynah_stanza *stanza)
{
    return stanza->refcount;
}

mynah_element *stanza_root(mynah_stanza *stanza)
{
    return stanza->root;
}

size_t stanza_memory(const mynah_stanza *stanza)
{
    return stanza->memory;
}

const char *stanza_name(const mynah_stanza *stanza)
{
    return stanza->root->name;
}

const char *stanza_xmlns(const mynah_stanza *stanza)
{
    return stanza->root->xmlns;
}

const char *stanza_attr(const mynah_stanza *stanza, const char *name)
{
    return element_attr(stanza->root, name);
}

int stanza_set_attr(mynah_stanza *stanza, const char *name, const char *value)
{
    return element_set_attr(stanza->root, name, value);
}

/* ---- element accessors ---- */

const char *element_name(const mynah_element *element)
{
    return element->name;
}

const char *element_xmlns(const mynah_element *element)
{
    return element->xmlns;
}

mynah_element *element_parent(const mynah_element *element)
{
    return element->parent;
}

mynah_stanza *element_stanza(const mynah_element *element)
{
    return element->stanza;
}

static int ns_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return a == b || strcmp(a, b) == 0;
}

static attr *attr_find(const mynah_element *element, const char *xmlns,
                       const char *name, attr ***link_out)
{
    attr **link = (attr **)&element->attrs;
    for (attr *a = element->attrs; a != NULL; link = &a->next, a = a->next) {
        if (ns_equal(a->xmlns, xmlns) && strcmp(a->name, name) == 0) {
            if (link_out != NULL)
                *link_out = link;
            return a;
        }
    }
    return NULL;
}

/* "" and NULL both mean an unqualified attribute. */
static const char *attr_ns_arg(const char *xmlns)
{
    return (xmlns == NULL || xmlns[0] == '\0') ? NULL : xmlns;
}

const char *element_attr_ns(const mynah_element *element, const char *xmlns,
                            const char *name)
{
    if (name == NULL)
        return NULL;
    attr *a = attr_find(element, attr_ns_arg(xmlns), name, NULL);
    return a ? a->value : NULL;
}

const char *element_attr(const mynah_element *element, const char *name)
{
    if (name != NULL && strcmp(name, "xml:lang") == 0)
        return element_attr_ns(element, NS_XML, "lang");
    return element_attr_ns(element, NULL, name);
}

int element_set_attr_ns(mynah_element *element, const char *xmlns,
                        const char *name, const char *value)
{
    xmlns = attr_ns_arg(xmlns);
    if (!name_valid(name))
        return -1;
    if (xmlns != NULL &&
        (!value_valid(xmlns) ||
         strcmp(xmlns, "http://www.w3.org/2000/xmlns/") == 0))
        return -1;
    /* Declarations are not attributes here: the serializer writes them. */
    if (xmlns == NULL && strcmp(name, "xmlns") == 0)
        return -1;
    attr **link;
    attr *a = attr_find(element, xmlns, name, &link);
    if (value == NULL) {
        if (a != NULL)
            *link = a->next;
        return 0;
    }
    if (!value_valid(value))
        return -1;
    mynah_stanza *st = element->stanza;
    const char *copy = arena_strndup(st, value, strlen(value));
    if (copy == NULL)
        return -1;
    if (a != NULL) {
        a->value = copy;
        return 0;
    }
    a = arena_alloc(st, sizeof *a, alignof(attr));
    if (a == NULL)
        return -1;
    a->next = NULL;
    a->value = copy;
    a->name = arena_strndup(st, name, strlen(name));
    a->xmlns = NULL;
    if (xmlns != NULL)
        a->xmlns = ns_intern(st, element->xmlns, xmlns, strlen(xmlns));
    if (a->name == NULL || (xmlns != NULL && a->xmlns == NULL))
        return -1;
    attr **tail = &element->attrs;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = a;
    return 0;
}

int element_set_attr(mynah_element *element, const char *name,
                     const char *value)
{
    if (name != NULL && strcmp(name, "xml:lang") == 0)
        return element_set_attr_ns(element, NS_XML, "lang", value);
    return element_set_attr_ns(element, NULL, name, value);
}

const char *element_attr_ns_at(const mynah_element *element, size_t index,
                               const char **xmlns, const char **value)
{
    const attr *a = element->attrs;
    while (a != NULL && index > 0) {
        a = a->next;
        index--;
    }
    if (a == NULL)
        return NULL;
    if (xmlns != NULL)
        *xmlns = a->xmlns;
    if (value != NULL)
        *value = a->value;
    return a->name;
}

const char *element_attr_at(const mynah_element *element, size_t index,
                            const char **value)
{
    return element_attr_ns_at(element, index, NULL, value);
}

mynah_element *element_add_child(mynah_element *parent, const char *name,
                                 const char *xmlns)
{
    if (!name_valid(name))
        return NULL;
    if (xmlns == NULL)
        xmlns = parent->xmlns;
    else if (!value_valid(xmlns))
        return NULL;
    return stanza_build_child(parent, name, strlen(name), xmlns,
                              strlen(xmlns));
}

int element_add_text(mynah_element *element, const char *text, size_t len)
{
    if (text == NULL || !stanza_text_valid(text, len))
        return -1;
    return stanza_build_text(element, text, len);
}

static mynah_element *next_element(const xml_node *node)
{
    while (node != NULL && node->kind != NODE_ELEMENT)
        node = node->next;
    return (mynah_element *)node;
}

mynah_element *element_first_child(const mynah_element *element)
{
    return next_element(element->first_child);
}

mynah_element *element_next_sibling(const mynah_element *element)
{
    return next_element(element->node.next);
}

mynah_element *element_child(const mynah_element *element, const char *name,
                             const char *xmlns)
{
    if (xmlns == NULL)
        xmlns = element->xmlns;
    for (mynah_element *c = element_first_child(element); c != NULL;
         c = element_next_sibling(c)) {
        if ((name == NULL || strcmp(c->name, name) == 0) &&
            ns_equal(c->xmlns, xmlns))
            return c;
    }
    return NULL;
}

const char *element_text(mynah_element *element)
{
    if (element->text_cache != NULL)
        return element->text_cache;
    size_t total = 0, count = 0;
    const text_node *only = NULL;
    for (const xml_node *n = element->first_child; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            only = (const text_node *)n;
            total += only->len;
            count++;
        }
    }
    if (count == 0)
        return "";
    if (count == 1) {
        element->text_cache = only->text;
        return only->text;
    }
    char *joined = arena_alloc(element->stanza, total + 1, 1);
    if (joined == NULL)
        return NULL;
    char *p = joined;
    for (const xml_node *n = element->first_child; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            const text_node *t = (const text_node *)n;
            memcpy(p, t->text, t->len);
            p += t->len;
        }
    }
    *p = '\0';
    element->text_cache = joined;
    return joined;
}

int element_remove(mynah_element *element)
{
    mynah_element *parent = element->parent;
    if (parent == NULL)
        return -1;
    xml_node *prev = NULL;
    for (xml_node *n = parent->first_child; n != NULL; prev = n, n = n->next) {
        if (n != &element->node)
            continue;
        if (prev != NULL)
            prev->next = n->next;
        else
            parent->first_child = n->next;
        if (parent->last_child == n)
            parent->last_child = prev;
        break;
    }
    element->node.next = NULL;
    element->parent = NULL;
    return 0;
}

/* ---- copying ---- */

/* Copies name, namespace and attributes of src as a new child of parent
 * (or as the root of st when parent is NULL). */
static mynah_element *copy_shallow(mynah_stanza *st, mynah_element *parent,
                                   const mynah_element *src)
{
    mynah_element *el = element_alloc(st, parent, src->name, strlen(src->name),
                                      src->xmlns, strlen(src->xmlns));
    if (el == NULL)
        return NULL;
    attr **tail = &el->attrs;
    for (const attr *a = src->attrs; a != NULL; a = a->next) {
        attr *copy = arena_alloc(st, sizeof *copy, alignof(attr));
        if (copy == NULL)
            return NULL;
        copy->next = NULL;
        copy->xmlns = NULL;
        if (a->xmlns != NULL &&
            (copy->xmlns = ns_intern(st, el->xmlns, a->xmlns,
                                     strlen(a->xmlns))) == NULL)
            return NULL;
        copy->name = arena_strndup(st, a->name, strlen(a->name));
        copy->value = arena_strndup(st, a->value, strlen(a->value));
        if (copy->name == NULL || copy->value == NULL)
            return NULL;
        *tail = copy;
        tail = &copy->next;
    }
    if (parent != NULL)
        element_link(parent, &el->node);
    return el;
}

/* Copies the children of src (recursively, without recursion) under dst. */
static int copy_children(mynah_stanza *st, mynah_element *dst,
                         const mynah_element *src)
{
    const mynah_element *top = src;
    const xml_node *node = src->first_child;
    for (;;) {
        if (node == NULL) {
            if (src == top)
                return 0;
            node = src->node.next;
            src = src->parent;
            dst = dst->parent;
            continue;
        }
        if (node->kind == NODE_TEXT) {
            const text_node *t = (const text_node *)node;
            if (stanza_build_text(dst, t->text, t->len) < 0)
                return -1;
            node = node->next;
            continue;
        }
        const mynah_element *child = (const mynah_element *)node;
        mynah_element *copy = copy_shallow(st, dst, child);
        if (copy == NULL)
            return -1;
        if (child->first_child != NULL) {
            src = child;
            dst = copy;
            node = child->first_child;
        } else {
            node = node->next;
        }
    }
}

mynah_stanza *stanza_copy(const mynah_stanza *stanza)
{
    /* One block is enough: the copy needs no more than the original used. */
    mynah_stanza *st = stanza_alloc(arena_used(stanza) + 64);
    if (st == NULL)
        return NULL;
    st->root = copy_shallow(st, NULL, stanza->root);
    if (st->root == NULL || copy_children(st, st->root, stanza->root) < 0) {
        stanza_free(st);
        return NULL;
    }
    return st;
}

mynah_element *element_copy_into(mynah_element *parent,
                                 const mynah_element *source)
{
    /* Copying an element into its own subtree would never end. */
    for (const mynah_element *p = parent; p != NULL; p = p->parent)
        if (p == source)
            return NULL;
    mynah_stanza *st = parent->stanza;
    mynah_element *copy = copy_shallow(st, parent, source);
    if (copy == NULL || copy_children(st, copy, source) < 0)
        return NULL;
    return copy;
}

/* ---- serialization ---- */

/* Escapes with buf_append_xml_escaped(), and also writes the characters
 * that a parser would normalize away as character references: CR in text
 * (XML 1.0 §2.11), and tab, LF and CR in attribute values (§3.3.3). */
static int append_escaped(buf *out, const char *s, size_t len, int in_attr)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *ref;
        switch (s[i]) {
        case '\r': ref = "&#13;"; break;
        case '\n': if (!in_attr) continue; ref = "&#10;"; break;
        case '\t': if (!in_attr) continue; ref = "&#9;"; break;
        default: continue;
        }
        if (buf_append_xml_escaped(out, s + run, i - run) < 0 ||
            buf_append(out, ref, strlen(ref)) < 0)
            return -1;
        run = i + 1;
    }
    return buf_append_xml_escaped(out, s + run, len - run);
}

static int append_attr(buf *out, const char *prefix, size_t prefix_num,
                       const char *name, const char *value)
{
    char num[24];
    int rc = buf_append(out, " ", 1);
    if (prefix != NULL) {
        rc |= buf_append_str(out, prefix);
        if (prefix_num != (size_t)-1) {
            int n = snprintf(num, sizeof num, "%zu", prefix_num);
            rc |= buf_append(out, num, (size_t)n);
        }
        rc |= buf_append(out, ":", 1);
    }
    rc |= buf_append_str(out, name);
    rc |= buf_append(out, "='", 2);
    rc |= append_escaped(out, value, strlen(value), 1);
    rc |= buf_append(out, "'", 1);
    return rc ? -1 : 0;
}

/* Writes "<name xmlns=... attrs" and then "/>" or ">".  Each namespaced
 * attribute (other than xml:) gets its own prefix "nsN", declared on this
 * element: no bookkeeping across elements, and always well-formed. */
static int write_start_tag(buf *out, const mynah_element *el, int declare_ns)
{
    int rc = buf_append(out, "<", 1);
    rc |= buf_append_str(out, el->name);
    if (declare_ns) {
        rc |= buf_append(out, " xmlns='", 8);
        rc |= append_escaped(out, el->xmlns, strlen(el->xmlns), 1);
        rc |= buf_append(out, "'", 1);
    }
    size_t index = 0;
    for (const attr *a = el->attrs; a != NULL; a = a->next, index++) {
        if (a->xmlns == NULL) {
            rc |= append_attr(out, NULL, 0, a->name, a->value);
        } else if (strcmp(a->xmlns, NS_XML) == 0) {
            rc |= append_attr(out, "xml", (size_t)-1, a->name, a->value);
        } else {
            char decl[24];
            snprintf(decl, sizeof decl, "ns%zu", index);
            rc |= append_attr(out, "xmlns", (size_t)-1, decl, a->xmlns);
            rc |= append_attr(out, "ns", index, a->name, a->value);
        }
    }
    if (el->first_child == NULL)
        rc |= buf_append(out, "/>", 2);
    else
        rc |= buf_append(out, ">", 1);
    return rc ? -1 : 0;
}

static int write_end_tag(buf *out, const mynah_element *el)
{
    int rc = buf_append(out, "</", 2);
    rc |= buf_append_str(out, el->name);
    rc |= buf_append(out, ">", 1);
    return rc ? -1 : 0;
}

static int serialize_tree(const mynah_element *top, int declare_top_ns,
                          buf *out)
{
    if (write_start_tag(out, top, declare_top_ns) < 0)
        return -1;
    const mynah_element *el = top;
    const xml_node *node = top->first_child;
    for (;;) {
        if (node == NULL) {
            if (el->first_child != NULL && write_end_tag(out, el) < 0)
                return -1;
            if (el == top)
                return 0;
            node = el->node.next;
            el = el->parent;
            continue;
        }
        if (node->kind == NODE_TEXT) {
            const text_node *t = (const text_node *)node;
            if (append_escaped(out, t->text, t->len, 0) < 0)
                return -1;
            node = node->next;
            continue;
        }
        const mynah_element *child = (const mynah_element *)node;
        if (write_start_tag(out, child, !ns_equal(child->xmlns, el->xmlns)) < 0)
            return -1;
        if (child->first_child != NULL) {
            el = child;
            node = child->first_child;
        } else {
            node = node->next;
        }
    }
}

int element_serialize(const mynah_element *element, const char *parent_ns,
                      buf *out)
{
    if (parent_ns == NULL)
        parent_ns = ns_empty;
    return serialize_tree(element, !ns_equal(element->xmlns, parent_ns), out);
}

int stanza_serialize(const mynah_stanza *stanza, const char *default_ns,
                     buf *out)
{
    const mynah_element *root = stanza->root;
    if (default_ns == NULL)
        default_ns = ns_empty;
    int declare = !ns_equal(root->xmlns, default_ns);
    /* RFC 6120 §4.8.3: the content namespace is the stream's, so a stanza
     * moves between c2s, s2s and component streams without an xmlns. */
    if (declare && is_content_ns(root->xmlns) && is_content_ns(default_ns))
        declare = 0;
    return serialize_tree(root, declare, out);
}

char *stanza_to_string(const mynah_stanza *stanza, size_t *len)
{
    buf out = BUF_INIT;
    if (serialize_tree(stanza->root,
                       !ns_equal(stanza->root->xmlns, NS_CLIENT), &out) < 0 ||
        buf_append(&out, "", 1) < 0) {
        buf_free(&out);
        return NULL;
    }
    if (len != NULL)
        *len = buf_length(&out) - 1;
    return out.data; /* a fresh buffer never consumed: start is 0 */
}

/* ---- replies ---- */

static int copy_attr(mynah_stanza *to, const char *to_name,
                     const mynah_stanza *from, const char *from_name)
{
    const char *value = element_attr(from->root, from_name);
    if (value == NULL)
        return 0;
    return element_set_attr(to->root, to_name, value);
}

/* A stanza of the same kind addressed back to the sender, same id. */
static mynah_stanza *reply_skeleton(const mynah_stanza *stanza)
{
    const mynah_element *root = stanza->root;
    mynah_stanza *reply = stanza_build_root(root->name, strlen(root->name),
                                            root->xmlns, strlen(root->xmlns));
    if (reply == NULL)
        return NULL;
    if (copy_attr(reply, "to", stanza, "from") < 0 ||
        copy_attr(reply, "from", stanza, "to") < 0 ||
        copy_attr(reply, "id", stanza, "id") < 0) {
        stanza_free(reply);
        return NULL;
    }
    return reply;
}

mynah_stanza *stanza_reply(const mynah_stanza *stanza)
{
    mynah_stanza *reply = reply_skeleton(stanza);
    if (reply == NULL)
        return NULL;
    int rc;
    if (strcmp(stanza->root->name, "iq") == 0)
        rc = element_set_attr(reply->root, "type", "result");
    else
        rc = copy_attr(reply, "type", stanza, "type");
    if (rc < 0) {
        stanza_free(reply);
        return NULL;
    }
    return reply;
}

/* RFC 6120 §8.3: the error stanza keeps the kind and id, swaps the
 * addresses, has type='error' and one <error/> child carrying the
 * condition (and optional text) in the stanzas namespace.  The original
 * payload is not included (§8.3.1 makes it optional). */
mynah_stanza *stanza_error_reply(const mynah_stanza *stanza, const char *type,
                                 const char *condition, const char *text)
{
    if (!name_valid(type) || !name_valid(condition))
        return NULL;
    if (text != NULL && !value_valid(text))
        return NULL;
    mynah_stanza *reply = reply_skeleton(stanza);
    if (reply == NULL)
        return NULL;
    mynah_element *error;
    mynah_element *cond;
    if (element_set_attr(reply->root, "type", "error") < 0 ||
        (error = element_add_child(reply->root, "error", NULL)) == NULL ||
        element_set_attr(error, "type", type) < 0 ||
        (cond = element_add_child(error, condition, NS_XMPP_STANZAS)) ==
            NULL) {
        stanza_free(reply);
        return NULL;
    }
    if (text != NULL) {
        mynah_element *t = element_add_child(error, "text", NS_XMPP_STANZAS);
        if (t == NULL || stanza_build_text(t, text, strlen(text)) < 0) {
            stanza_free(reply);
            return NULL;
        }
    }
    return reply;
}

/* ---- parsing one element ---- */

typedef struct parse_result {
    mynah_stanza *stanza;
    int failed;
} parse_result;

static int parse_on_stanza(void *userdata, mynah_stanza *stanza)
{
    parse_result *result = userdata;
    if (result->stanza != NULL) { /* a second element */
        stanza_unref(stanza);
        result->failed = 1;
        return 1;
    }
    result->stanza = stanza;
    return 0;
}

static int parse_on_close(void *userdata)
{
    ((parse_result *)userdata)->failed = 1;
    return 1;
}

static void parse_on_error(void *userdata, const char *condition,
                           const char *text)
{
    ((parse_result *)userdata)->failed = 1;
}

/* The element is parsed as the one stanza of a c2s stream whose header we
 * make up, so it gets exactly the stream parser's rules. */
mynah_stanza *stanza_parse(const char *xml, size_t len)
{
    static const char wrapper[] = "<stream xmlns='" NS_CLIENT "'>";
    static const xml_stream_callbacks callbacks = {
        NULL, parse_on_stanza, parse_on_close, parse_on_error};
    parse_result result = {NULL, 0};
    xml_stream *stream = xml_stream_new(&callbacks, &result, NULL);
    if (stream == NULL)
        return NULL;
    if (xml_stream_feed(stream, wrapper, sizeof wrapper - 1) < 0 ||
        xml_stream_feed(stream, xml, len) < 0)
        result.failed = 1;
    /* Only whitespace may follow the element, and nothing be left open. */
    if (!result.failed && xml_stream_release_idle(stream) != 1)
        result.failed = 1;
    xml_stream_free(stream);
    if (result.failed || result.stanza == NULL) {
        stanza_unref(result.stanza);
        return NULL;
    }
    return result.stanza;
}
