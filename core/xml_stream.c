/*
 * The XML stream parser: expat in, stream events and stanzas out.
 *
 * Expat runs with namespace processing and triplets ("uri\1local\1prefix"),
 * so every name arrives resolved and we still know the prefix the stream
 * header used.  Depth-1 elements are built straight into a stanza arena
 * from expat's callbacks (each byte of text is copied once).
 *
 * Byte accounting.  `fed` counts the bytes given to the current parser
 * (XML_GetCurrentByteIndex uses the same origin).  `mark` is where the
 * current stanza started, or, between stanzas, where the last depth-1 event
 * ended (`boundary`).  Input is fed in slices of at most the stanza limit, and
 * after every slice the bytes since the mark are checked: expat reports no
 * event for an unterminated tag, so this is what refuses a 100 MB start tag
 * once it passes the limit instead of buffering it.
 *
 * Releasing the parser.  When everything after the last depth-1 event is
 * whitespace and no stanza is open, the parser holds nothing we need but
 * the header's namespace declarations.  We keep those as the start tag text
 * they amount to (e.g. "<stream:stream xmlns='jabber:client'
 * xmlns:stream='http://etherx.jabber.org/streams'>") and, on the next feed,
 * give a new parser that tag first, without a second stream_open.  The
 * synthetic tag's bytes are counted in `fed` like any others; since a
 * stanza never spans two parsers, all limits (differences of offsets within
 * one parser) stay exact.
 *
 * Conditions (RFC 6120 §4.9.3):
 *  - DOCTYPE, entity declarations, PIs, comments: restricted-xml (§11.1).
 *  - Malformed XML, bad UTF-8, forbidden characters (§11.6 says not-well-
 *    formed for these; invalid-xml is for schema validation, which we don't
 *    do), and references to undeclared entities such as "&foo;" (XML 1.0's
 *    "Entity Declared" well-formedness constraint, since no DTD is allowed):
 *    not-well-formed.
 *  - An encoding other than UTF-8 in the XML declaration: unsupported-
 *    encoding (§11.6).
 *  - Non-whitespace text between stanzas: bad-format.  It is well-formed,
 *    so not-well-formed would be wrong; the stream's content model allows
 *    only elements and whitespace keepalives (§4.6.1), and bad-format is
 *    the condition for "XML that cannot be processed" (§4.9.3.1).
 *  - Limits: policy-violation.  Out of memory: internal-server-error.
 */
#include "xml_stream.h"
#include "region.h"

#include <dlfcn.h>
#include <expat.h>
#include <stdalign.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "stanza.h"

/* Expat builds that carry the CVE-2023-52425 fix defer re-parsing an
 * incomplete token until more data arrives; for a chat protocol that would
 * hold a finished stanza back until the next packet.  The switch exists in
 * expat 2.6 and in distribution backports into 2.5 (Debian's 2.5.0-1+deb12u2
 * and later), whose headers may not say so: then it is looked up at run
 * time, so that the same binary does the right thing with either library. */
static void disable_reparse_deferral(XML_Parser parser)
{
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
    XML_SetReparseDeferralEnabled(parser, XML_FALSE);
#else
    typedef XML_Bool (*set_deferral_fn)(XML_Parser, XML_Bool);
    static int looked_up;
    static set_deferral_fn set_deferral;
    if (!looked_up) {
        looked_up = 1;
        set_deferral = (set_deferral_fn)dlsym(RTLD_DEFAULT,
                                              "XML_SetReparseDeferralEnabled");
    }
    if (set_deferral != NULL)
        set_deferral(parser, XML_FALSE);
#endif
}

#define NS_SEPARATOR '\x01'
#define NS_SEPARATOR_STR "\x01"

enum xml_stream_state {
    XS_HEADER,  /* waiting for the stream header */
    XS_OPEN,    /* inside the stream */
    XS_CLOSED,  /* </stream:stream> seen: input is ignored */
    XS_STOPPED, /* a callback asked to stop: input is ignored until reset */
    XS_FAILED   /* an error was reported: feeding returns -1 until reset */
};

struct xml_stream {
    XML_Parser parser; /* NULL before the first bytes and when released */
    xml_stream_callbacks cb;
    void *userdata;
    xml_stream_limits limits;
    unsigned char state;
    unsigned char tail_is_space; /* only whitespace after `boundary` */
    unsigned char replaying;     /* parsing the synthetic header */
    unsigned char in_feed;
    unsigned char reset_pending; /* reset/free asked for from a callback */
    unsigned char free_pending;
    unsigned depth;         /* open elements, the stream's root included */
    unsigned pending_decls; /* xmlns declarations of the coming start tag */
    size_t parser_memory;   /* heap held by the parser (counting allocator) */
    region *region;         /* where the parser's blocks live */
    XML_Index fed;          /* bytes given to the current parser */
    XML_Index boundary;     /* end of the last depth-1 event */
    XML_Index stanza_start; /* '<' of the open stanza */
    mynah_stanza *stanza;   /* being built */
    mynah_element *current; /* its innermost open element */
    char *header;           /* synthetic start tag, NUL-terminated */
    size_t header_len;
    buf header_decls;       /* header's xmlns declarations, while reading it */
    const char *error_condition;
    const char *error_text;
};

/* ---- a counting allocator for expat ----
 * Each block carries its size and the counter it is charged to, so frees
 * and reallocs always charge the right stream; mallocs charge the stream
 * that is calling into expat (set by parser_enter()). */

typedef struct alloc_header {
    size_t size;
    size_t *counter;
    region *region; /* the parser's region, or NULL if from malloc */
} alloc_header;

#define ALLOC_HEADER_SIZE                                                     \
    ((sizeof(alloc_header) + alignof(max_align_t) - 1) /                      \
     alignof(max_align_t) * alignof(max_align_t))

static _Thread_local size_t *alloc_counter;
/* The region of the parser being called into (see core/region.h: a parser's
 * blocks go back to the kernel with it, not into heap fragmentation). */
static _Thread_local region *alloc_region;

/* Address space reserved per parser; pages are committed only when used
 * (~12 KiB for a parser that has read a header).  Bigger blocks (the input
 * buffer of a large stanza) come from malloc. */
#define PARSER_REGION_RESERVE (128u * 1024)

/* Under AddressSanitizer the parser's blocks come from malloc, so that
 * ASan still sees every overflow inside expat's memory. */
#if defined(__SANITIZE_ADDRESS__)
#define PARSER_USE_REGION 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PARSER_USE_REGION 0
#endif
#endif
#ifndef PARSER_USE_REGION
#define PARSER_USE_REGION 1
#endif

static void *counting_malloc(size_t size)
{
    if (size > SIZE_MAX - ALLOC_HEADER_SIZE)
        return NULL;
    size_t total = ALLOC_HEADER_SIZE + size;
    alloc_header *h = alloc_region ? region_alloc(alloc_region, total) : NULL;
    if (h != NULL) {
        h->region = alloc_region;
    } else {
        h = malloc(total);
        if (h == NULL)
            return NULL;
        h->region = NULL;
    }
    h->size = total;
    h->counter = alloc_counter;
    if (h->counter != NULL)
        *h->counter += h->size;
    return (char *)h + ALLOC_HEADER_SIZE;
}

static void counting_free(void *ptr)
{
    if (ptr == NULL)
        return;
    alloc_header *h = (alloc_header *)((char *)ptr - ALLOC_HEADER_SIZE);
    if (h->counter != NULL)
        *h->counter -= h->size;
    if (h->region != NULL)
        region_release(h->region, h, h->size);
    else
        free(h);
}

static void *counting_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return counting_malloc(size);
    if (size > SIZE_MAX - ALLOC_HEADER_SIZE)
        return NULL;
    alloc_header *old = (alloc_header *)((char *)ptr - ALLOC_HEADER_SIZE);
    size_t old_size = old->size;
    if (old->region != NULL) {
        size_t total = ALLOC_HEADER_SIZE + size;
        if (total <= region_block_size(old_size)) {
            /* Still fits the block it has. */
            if (old->counter != NULL)
                *old->counter = *old->counter - old_size + total;
            old->size = total;
            return ptr;
        }
        void *moved = counting_malloc(size);
        if (moved == NULL)
            return NULL;
        memcpy(moved, ptr, old_size - ALLOC_HEADER_SIZE);
        counting_free(ptr);
        return moved;
    }
    alloc_header *h = realloc(old, ALLOC_HEADER_SIZE + size);
    if (h == NULL)
        return NULL;
    h->size = ALLOC_HEADER_SIZE + size;
    if (h->counter != NULL)
        *h->counter = *h->counter - old_size + h->size;
    return (char *)h + ALLOC_HEADER_SIZE;
}

static const XML_Memory_Handling_Suite counting_suite = {
    counting_malloc, counting_realloc, counting_free};

/* Streams nest (a stanza callback may call stanza_parse(), which runs a
 * stream of its own), so the caller's counter is put back on leaving. */
typedef struct alloc_context {
    size_t *counter;
    region *region;
} alloc_context;

static alloc_context parser_enter(xml_stream *stream)
{
    alloc_context previous = {alloc_counter, alloc_region};
    alloc_counter = &stream->parser_memory;
    alloc_region = stream->region;
    return previous;
}

static void parser_leave(alloc_context previous)
{
    alloc_counter = previous.counter;
    alloc_region = previous.region;
}

/* ---- small helpers ---- */

static int is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int all_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_xml_space(s[i]))
            return 0;
    return 1;
}

/* A name from expat: "local", "uri\1local" or "uri\1local\1prefix". */
typedef struct qname {
    const char *uri;
    size_t uri_len;
    const char *local;
    size_t local_len;
    const char *prefix; /* NULL when unprefixed */
    size_t prefix_len;
} qname;

static void qname_split(const char *name, qname *q)
{
    const char *sep = strchr(name, NS_SEPARATOR);
    q->prefix = NULL;
    q->prefix_len = 0;
    if (sep == NULL) {
        q->uri = "";
        q->uri_len = 0;
        q->local = name;
        q->local_len = strlen(name);
        return;
    }
    q->uri = name;
    q->uri_len = (size_t)(sep - name);
    q->local = sep + 1;
    const char *sep2 = strchr(q->local, NS_SEPARATOR);
    if (sep2 == NULL) {
        q->local_len = strlen(q->local);
        return;
    }
    q->local_len = (size_t)(sep2 - q->local);
    q->prefix = sep2 + 1;
    q->prefix_len = strlen(q->prefix);
}

/* Attribute values in the synthetic header: escaped so that expat gives
 * back exactly the URI it gave us (tab/LF/CR as references, or attribute
 * normalization would turn them into spaces). */
static int append_attr_value(buf *out, const char *s)
{
    size_t run = 0, i;
    for (i = 0; s[i] != '\0'; i++) {
        const char *ref = NULL;
        if (s[i] == '\t')
            ref = "&#9;";
        else if (s[i] == '\n')
            ref = "&#10;";
        else if (s[i] == '\r')
            ref = "&#13;";
        if (ref == NULL)
            continue;
        if (buf_append_xml_escaped(out, s + run, i - run) < 0 ||
            buf_append_str(out, ref) < 0)
            return -1;
        run = i + 1;
    }
    return buf_append_xml_escaped(out, s + run, i - run);
}

/* ---- errors and stopping ---- */

/* Records the first error and aborts the parse; the error callback runs
 * when XML_Parse has returned (see xml_stream_feed). */
static void stream_fail(xml_stream *stream, const char *condition,
                        const char *text)
{
    if (stream->state != XS_FAILED) {
        stream->state = XS_FAILED;
        stream->error_condition = condition;
        stream->error_text = text;
    }
    XML_StopParser(stream->parser, XML_FALSE);
}

static void stream_stop(xml_stream *stream)
{
    if (stream->state == XS_HEADER || stream->state == XS_OPEN)
        stream->state = XS_STOPPED;
    XML_StopParser(stream->parser, XML_FALSE);
}

static int stream_running(const xml_stream *stream)
{
    return stream->state == XS_HEADER || stream->state == XS_OPEN;
}

/* The bytes of the open stanza up to the end of the current event. */
static int stanza_too_big(xml_stream *stream)
{
    if (stream->limits.max_stanza_bytes == 0)
        return 0;
    XML_Index end = XML_GetCurrentByteIndex(stream->parser) +
                    XML_GetCurrentByteCount(stream->parser);
    return (size_t)(end - stream->stanza_start) > stream->limits.max_stanza_bytes;
}

/* ---- the stream header ---- */

static void on_namespace_decl(void *userdata, const XML_Char *prefix,
                              const XML_Char *uri)
{
    xml_stream *stream = userdata;
    if (!stream_running(stream) || stream->replaying)
        return;
    stream->pending_decls++;
    if (stream->limits.max_attributes != 0 &&
        stream->pending_decls > stream->limits.max_attributes) {
        stream_fail(stream, "policy-violation", "too many attributes");
        return;
    }
    if (stream->depth != 0)
        return;
    /* Kept as "prefix\0uri\0" pairs, "" for the default namespace. */
    if (uri == NULL)
        uri = "";
    if (prefix == NULL)
        prefix = "";
    if (buf_append(&stream->header_decls, prefix, strlen(prefix) + 1) < 0 ||
        buf_append(&stream->header_decls, uri, strlen(uri) + 1) < 0)
        stream_fail(stream, "internal-server-error", "out of memory");
}

/* Walks the saved "prefix\0uri\0" pairs; *offset starts at 0.  (An empty
 * buf has no storage, so its bytes are not touched then.) */
static int header_decl_next(const xml_stream *stream, size_t *offset,
                            const char **prefix, const char **uri)
{
    size_t len = buf_length(&stream->header_decls);
    if (*offset >= len)
        return 0;
    const char *p = buf_bytes(&stream->header_decls) + *offset;
    *prefix = p;
    *uri = p + strlen(p) + 1;
    *offset += strlen(*prefix) + strlen(*uri) + 2;
    return 1;
}

/* Saves the header as the start tag to replay after a release. */
static int header_save(xml_stream *stream, const qname *name)
{
    buf tag = BUF_INIT;
    int rc = buf_append(&tag, "<", 1);
    if (name->prefix != NULL) {
        rc |= buf_append(&tag, name->prefix, name->prefix_len);
        rc |= buf_append(&tag, ":", 1);
    }
    rc |= buf_append(&tag, name->local, name->local_len);
    size_t offset = 0;
    const char *prefix, *uri;
    while (header_decl_next(stream, &offset, &prefix, &uri)) {
        rc |= buf_append_str(&tag, prefix[0] ? " xmlns:" : " xmlns");
        rc |= buf_append_str(&tag, prefix);
        rc |= buf_append(&tag, "='", 2);
        rc |= append_attr_value(&tag, uri);
        rc |= buf_append(&tag, "'", 1);
    }
    rc |= buf_append(&tag, ">", 1);
    char *header = rc ? NULL : buf_strdup(&tag);
    buf_free(&tag);
    if (header == NULL)
        return -1;
    free(stream->header);
    stream->header = header;
    stream->header_len = strlen(header);
    return 0;
}

static const char *header_default_ns(const xml_stream *stream)
{
    size_t offset = 0;
    const char *prefix, *uri;
    while (header_decl_next(stream, &offset, &prefix, &uri))
        if (prefix[0] == '\0')
            return uri;
    return NULL;
}

/* Builds the header event: every string NUL-terminated in one scratch
 * block that lives for the callback. */
static int header_report(xml_stream *stream, const qname *name,
                         const XML_Char **atts)
{
    size_t count = 0, bytes = name->uri_len + name->local_len + 2;
    for (size_t i = 0; atts[i] != NULL; i += 2) {
        count++;
        bytes += strlen(atts[i]) + 2 + strlen(atts[i + 1]) + 1;
    }
    size_t array = count * sizeof(xml_stream_attr);
    char *block = malloc(array + bytes);
    if (block == NULL)
        return -1;
    xml_stream_attr *attrs = (xml_stream_attr *)block;
    char *p = block + array;
    xml_stream_header header;

    header.xmlns = p;
    memcpy(p, name->uri, name->uri_len);
    p += name->uri_len;
    *p++ = '\0';
    header.name = p;
    memcpy(p, name->local, name->local_len);
    p += name->local_len;
    *p++ = '\0';
    for (size_t i = 0; i < count; i++) {
        qname q;
        qname_split(atts[2 * i], &q);
        attrs[i].xmlns = NULL;
        if (q.uri_len > 0) {
            attrs[i].xmlns = p;
            memcpy(p, q.uri, q.uri_len);
            p += q.uri_len;
            *p++ = '\0';
        }
        attrs[i].name = p;
        memcpy(p, q.local, q.local_len);
        p += q.local_len;
        *p++ = '\0';
        size_t value_len = strlen(atts[2 * i + 1]);
        attrs[i].value = p;
        memcpy(p, atts[2 * i + 1], value_len + 1);
        p += value_len + 1;
    }
    header.default_ns = header_default_ns(stream);
    header.attrs = attrs;
    header.attr_count = count;
    int stop = stream->cb.stream_open
                   ? stream->cb.stream_open(stream->userdata, &header)
                   : 0;
    free(block);
    return stop ? 1 : 0;
}

/* The header is bounded by the stanza limits too: everything up to its
 * '>' (XML declaration included) by the size, its attributes and
 * declarations by the attribute count. */
static void on_header(xml_stream *stream, const XML_Char *name,
                      const XML_Char **atts, unsigned decls)
{
    qname q;
    qname_split(name, &q);
    XML_Index end = XML_GetCurrentByteIndex(stream->parser) +
                    XML_GetCurrentByteCount(stream->parser);
    stream->depth = 1;
    stream->boundary = end;
    if (stream->replaying)
        return;
    size_t count = 0;
    while (atts[2 * count] != NULL)
        count++;
    if ((stream->limits.max_stanza_bytes != 0 &&
         (size_t)end > stream->limits.max_stanza_bytes) ||
        (stream->limits.max_attributes != 0 &&
         count + decls > stream->limits.max_attributes)) {
        stream_fail(stream, "policy-violation", "stream header too big");
        return;
    }
    stream->state = XS_OPEN;
    if (header_save(stream, &q) < 0) {
        stream_fail(stream, "internal-server-error", "out of memory");
        return;
    }
    int rc = header_report(stream, &q, atts);
    buf_free(&stream->header_decls);
    if (rc < 0)
        stream_fail(stream, "internal-server-error", "out of memory");
    else if (rc > 0)
        stream_stop(stream);
}

/* ---- stanzas ---- */

static int element_add_attrs(mynah_element *el, const XML_Char **atts,
                             size_t count)
{
    /* stanza_build_attr prepends: walk backwards to keep document order. */
    for (size_t i = count; i-- > 0;) {
        qname q;
        qname_split(atts[2 * i], &q);
        const char *value = atts[2 * i + 1];
        if (stanza_build_attr(el, q.uri_len ? q.uri : NULL, q.uri_len,
                              q.local, q.local_len, value, strlen(value)) < 0)
            return -1;
    }
    return 0;
}

static void on_start(void *userdata, const XML_Char *name,
                     const XML_Char **atts)
{
    xml_stream *stream = userdata;
    if (!stream_running(stream))
        return;
    unsigned decls = stream->pending_decls;
    stream->pending_decls = 0;
    if (stream->depth == 0) {
        on_header(stream, name, atts, decls);
        return;
    }
    size_t count = 0;
    while (atts[2 * count] != NULL)
        count++;
    unsigned level = stream->depth; /* a stanza is level 1 */
    if (stream->limits.max_depth != 0 && level > stream->limits.max_depth) {
        stream_fail(stream, "policy-violation", "elements nested too deep");
        return;
    }
    if (stream->limits.max_attributes != 0 &&
        count + decls > stream->limits.max_attributes) {
        stream_fail(stream, "policy-violation", "too many attributes");
        return;
    }
    if (level == 1)
        stream->stanza_start = XML_GetCurrentByteIndex(stream->parser);
    if (stanza_too_big(stream)) {
        stream_fail(stream, "policy-violation", "stanza too big");
        return;
    }
    qname q;
    qname_split(name, &q);
    mynah_element *el;
    if (level == 1) {
        stream->stanza = stanza_build_root(q.local, q.local_len, q.uri,
                                           q.uri_len);
        el = stream->stanza ? stanza_root(stream->stanza) : NULL;
    } else {
        el = stanza_build_child(stream->current, q.local, q.local_len, q.uri,
                                q.uri_len);
    }
    if (el == NULL || element_add_attrs(el, atts, count) < 0) {
        stream_fail(stream, "internal-server-error", "out of memory");
        return;
    }
    stream->current = el;
    stream->depth++;
}

static void on_end(void *userdata, const XML_Char *name)
{
    xml_stream *stream = userdata;
    if (!stream_running(stream))
        return;
    stream->depth--;
    if (stream->depth == 0) {
        stream->state = XS_CLOSED;
        XML_StopParser(stream->parser, XML_FALSE);
        if (stream->cb.stream_close)
            stream->cb.stream_close(stream->userdata);
        return;
    }
    if (stanza_too_big(stream)) {
        stream_fail(stream, "policy-violation", "stanza too big");
        return;
    }
    if (stream->depth > 1) {
        stream->current = element_parent(stream->current);
        return;
    }
    mynah_stanza *stanza = stream->stanza;
    stream->stanza = NULL;
    stream->current = NULL;
    stream->boundary = XML_GetCurrentByteIndex(stream->parser) +
                       XML_GetCurrentByteCount(stream->parser);
    int stop = 0;
    if (stream->cb.stanza)
        stop = stream->cb.stanza(stream->userdata, stanza);
    else
        stanza_unref(stanza);
    if (stop)
        stream_stop(stream);
}

static void on_text(void *userdata, const XML_Char *text, int len)
{
    xml_stream *stream = userdata;
    if (!stream_running(stream))
        return;
    if (stream->depth == 1) {
        /* Between stanzas only whitespace keepalives (RFC 6120 §4.6.1). */
        if (!all_space(text, (size_t)len)) {
            stream_fail(stream, "bad-format", "text between stanzas");
            return;
        }
        stream->boundary = XML_GetCurrentByteIndex(stream->parser) +
                           XML_GetCurrentByteCount(stream->parser);
        return;
    }
    if (stream->depth < 1)
        return;
    if (stanza_too_big(stream)) {
        stream_fail(stream, "policy-violation", "stanza too big");
        return;
    }
    if (stanza_build_text(stream->current, text, (size_t)len) < 0)
        stream_fail(stream, "internal-server-error", "out of memory");
}

/* ---- restricted XML (RFC 6120 §11.1) ---- */

static void on_doctype(void *userdata, const XML_Char *name,
                       const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    stream_fail(userdata, "restricted-xml", "DOCTYPE not allowed");
}

static void on_entity_decl(void *userdata, const XML_Char *name,
                           int is_parameter, const XML_Char *value,
                           int value_len, const XML_Char *base,
                           const XML_Char *sysid, const XML_Char *pubid,
                           const XML_Char *notation)
{
    stream_fail(userdata, "restricted-xml", "entity declaration not allowed");
}

static void on_pi(void *userdata, const XML_Char *target,
                  const XML_Char *data)
{
    stream_fail(userdata, "restricted-xml",
                "processing instruction not allowed");
}

static void on_comment(void *userdata, const XML_Char *data)
{
    stream_fail(userdata, "restricted-xml", "comment not allowed");
}

/* RFC 6120 §11.6: UTF-8 only. */
static void on_xml_decl(void *userdata, const XML_Char *version,
                        const XML_Char *encoding, int standalone)
{
    if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
        stream_fail(userdata, "unsupported-encoding", "encoding is not UTF-8");
}

/* ---- the parser's life ---- */

/* Empty parser regions kept for the next parser.  Every login restarts
 * the stream two or three times (STARTTLS, SASL) and ends it, and a
 * region costs an mmap, page faults on first touch and a munmap with its
 * TLB flush each time: about a fifth of the server's time in a login
 * loop.  A region whose blocks have all been released is as good as a new
 * one (its free lists serve the next parser's blocks), so a few are kept.
 * Few enough that idle sessions still give their parsers' memory back:
 * the pool holds at most PARSER_REGION_POOL x the pages a parser touched. */
#define PARSER_REGION_POOL 16
static region *region_pool[PARSER_REGION_POOL];
static size_t region_pool_count;

static region *parser_region_get(void)
{
    if (!PARSER_USE_REGION)
        return NULL;
    if (region_pool_count > 0)
        return region_pool[--region_pool_count];
    return region_new(PARSER_REGION_RESERVE);
}

/* r must have no block in use (the parser that used it is freed). */
static void parser_region_put(region *r)
{
    if (r == NULL)
        return;
    if (region_pool_count < PARSER_REGION_POOL)
        region_pool[region_pool_count++] = r;
    else
        region_free(r);
}

static int parser_create(xml_stream *stream)
{
    stream->region = parser_region_get();
    alloc_context previous = parser_enter(stream);
    /* "UTF-8" forces the encoding whatever the document declares (the
     * declaration is checked by on_xml_decl). */
    XML_Parser p = XML_ParserCreate_MM("UTF-8", &counting_suite,
                                       NS_SEPARATOR_STR);
    parser_leave(previous);
    if (p == NULL) {
        parser_region_put(stream->region);
        stream->region = NULL;
        return -1;
    }
    XML_SetReturnNSTriplet(p, XML_TRUE);
    XML_SetUserData(p, stream);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartNamespaceDeclHandler(p, on_namespace_decl);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity_decl);
    XML_SetProcessingInstructionHandler(p, on_pi);
    XML_SetCommentHandler(p, on_comment);
    XML_SetXmlDeclHandler(p, on_xml_decl);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    disable_reparse_deferral(p);
    stream->parser = p;
    stream->fed = 0;
    stream->boundary = 0;
    stream->pending_decls = 0;
    stream->tail_is_space = 1;
    return 0;
}

static void parser_free(xml_stream *stream)
{
    if (stream->parser == NULL)
        return;
    alloc_context previous = parser_enter(stream);
    XML_ParserFree(stream->parser);
    parser_leave(previous);
    stream->parser = NULL;
    parser_region_put(stream->region);
    stream->region = NULL;
}

static const char *expat_condition(enum XML_Error code)
{
    switch (code) {
    case XML_ERROR_NO_MEMORY:
        return "internal-server-error";
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
        return "unsupported-encoding";
    default:
        return "not-well-formed";
    }
}

/* Gives bytes to expat; on return the state says what happened. */
static void parse_bytes(xml_stream *stream, const char *data, size_t len)
{
    alloc_context previous = parser_enter(stream);
    stream->fed += (XML_Index)len;
    enum XML_Status status =
        XML_Parse(stream->parser, data, (int)len, XML_FALSE);
    parser_leave(previous);
    if (status == XML_STATUS_ERROR && stream_running(stream)) {
        enum XML_Error code = XML_GetErrorCode(stream->parser);
        stream->state = XS_FAILED;
        stream->error_condition = expat_condition(code);
        stream->error_text = XML_ErrorString(code);
    }
}

/* A new parser that has read the saved header (no stream_open). */
static int parser_rebuild(xml_stream *stream)
{
    if (parser_create(stream) < 0)
        return -1;
    stream->depth = 0; /* the replayed header makes it 1 again */
    stream->replaying = 1;
    parse_bytes(stream, stream->header, stream->header_len);
    stream->replaying = 0;
    return stream->state == XS_OPEN && stream->depth == 1 ? 0 : -1;
}

/* After each slice: bytes buffered since the mark must stay under the
 * limit, and we note whether only whitespace follows the boundary. */
static void after_slice(xml_stream *stream, const char *slice, size_t len)
{
    XML_Index slice_start = stream->fed - (XML_Index)len;
    if (stream->state == XS_OPEN && stream->depth == 1) {
        if (stream->boundary >= slice_start)
            stream->tail_is_space =
                all_space(slice + (stream->boundary - slice_start),
                          (size_t)(stream->fed - stream->boundary));
        else
            stream->tail_is_space = stream->tail_is_space &&
                                    all_space(slice, len);
    } else {
        stream->tail_is_space = 0;
    }
    size_t limit = stream->limits.max_stanza_bytes;
    if (limit == 0 || !stream_running(stream))
        return;
    XML_Index mark;
    if (stream->state == XS_HEADER)
        mark = 0;
    else if (stream->depth > 1)
        mark = stream->stanza_start;
    else if (stream->tail_is_space)
        return; /* whitespace is reported as it comes: nothing buffered */
    else
        mark = stream->boundary;
    if ((size_t)(stream->fed - mark) > limit)
        stream_fail(stream, "policy-violation", "stanza too big");
}

static void stream_clear(xml_stream *stream)
{
    parser_free(stream);
    stanza_unref(stream->stanza);
    stream->stanza = NULL;
    stream->current = NULL;
    free(stream->header);
    stream->header = NULL;
    stream->header_len = 0;
    buf_free(&stream->header_decls);
    stream->state = XS_HEADER;
    stream->depth = 0;
    stream->pending_decls = 0;
    stream->fed = 0;
    stream->boundary = 0;
    stream->stanza_start = 0;
    stream->tail_is_space = 1;
    stream->reset_pending = 0;
    stream->error_condition = NULL;
    stream->error_text = NULL;
}

/* ---- public ---- */

xml_stream *xml_stream_new(const xml_stream_callbacks *callbacks,
                           void *userdata, const xml_stream_limits *limits)
{
    xml_stream *stream = calloc(1, sizeof *stream);
    if (stream == NULL)
        return NULL;
    stream->cb = *callbacks;
    stream->userdata = userdata;
    if (limits != NULL)
        stream->limits = *limits;
    stream_clear(stream);
    return stream;
}

void xml_stream_free(xml_stream *stream)
{
    if (stream == NULL)
        return;
    if (stream->in_feed) { /* from a callback: xml_stream_feed frees it */
        stream->free_pending = 1;
        stream_stop(stream);
        return;
    }
    stream_clear(stream);
    free(stream);
}

void xml_stream_set_limits(xml_stream *stream, const xml_stream_limits *limits)
{
    stream->limits = *limits;
}

void xml_stream_reset(xml_stream *stream)
{
    if (stream->in_feed) { /* from a callback: done when the feed returns */
        stream->reset_pending = 1;
        stream_stop(stream);
        return;
    }
    stream_clear(stream);
}

int xml_stream_feed(xml_stream *stream, const char *data, size_t len)
{
    if (stream->in_feed)
        return -1; /* not re-entrant */
    if (stream->state == XS_FAILED)
        return -1;
    if (!stream_running(stream) || len == 0)
        return 0;
    stream->in_feed = 1;
    if (stream->parser == NULL) {
        int rc = stream->header ? parser_rebuild(stream) : parser_create(stream);
        if (rc < 0 && stream_running(stream)) {
            stream->state = XS_FAILED;
            stream->error_condition = "internal-server-error";
            stream->error_text = "cannot create the XML parser";
        }
    }
    /* Slices no bigger than the stanza limit bound what expat buffers. */
    size_t slice_max = stream->limits.max_stanza_bytes;
    if (slice_max < 1024)
        slice_max = slice_max ? 1024 : (size_t)INT_MAX;
    if (slice_max > INT_MAX)
        slice_max = INT_MAX;
    while (len > 0 && stream_running(stream)) {
        size_t slice = len < slice_max ? len : slice_max;
        parse_bytes(stream, data, slice);
        after_slice(stream, data, slice);
        data += slice;
        len -= slice;
    }
    int rc = 0;
    if (stream->state == XS_FAILED) {
        rc = -1;
        if (stream->cb.error && stream->error_condition != NULL)
            stream->cb.error(stream->userdata, stream->error_condition,
                             stream->error_text);
        stream->error_condition = NULL; /* reported once */
    }
    stream->in_feed = 0;
    if (stream->free_pending) {
        stream_clear(stream);
        free(stream);
    } else if (stream->reset_pending) {
        stream_clear(stream);
    }
    return rc;
}

int xml_stream_release_idle(xml_stream *stream)
{
    if (stream->in_feed)
        return 0;
    if (stream->parser == NULL)
        return stream->stanza == NULL;
    if (stream->state == XS_OPEN &&
        (stream->depth != 1 || !stream->tail_is_space || stream->header == NULL))
        return 0;
    if (stream->state == XS_HEADER)
        return 0; /* a header may be half read */
    /* Open and idle, or closed/stopped/failed: the parser is no use now. */
    parser_free(stream);
    stanza_unref(stream->stanza);
    stream->stanza = NULL;
    stream->current = NULL;
    return 1;
}

size_t xml_stream_memory(const xml_stream *stream)
{
    size_t total = sizeof *stream + stream->parser_memory;
    if (stream->header != NULL)
        total += stream->header_len + 1;
    total += stream->header_decls.cap;
    if (stream->stanza != NULL)
        total += stanza_memory(stream->stanza);
    return total;
}
