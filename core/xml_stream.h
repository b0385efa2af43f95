/*
 * The XML stream parser: bytes in, stream events and stanzas out.
 *
 * One per connection, built on expat with namespace processing.  It
 * enforces RFC 6120 §11.1 (no DOCTYPE, entity declarations, processing
 * instructions or comments: "restricted-xml"), well-formedness
 * ("not-well-formed"), and the limits below ("policy-violation").
 *
 * Memory: an expat parser costs ~10 KiB once it has read a stream header.
 * Between stanzas the only state worth keeping is the header's namespace
 * declarations, so xml_stream_release_idle() frees the parser when the input
 * ended exactly on a stanza boundary, and the next feed rebuilds it by
 * replaying the saved declarations (without a second stream_open event).
 */
#ifndef MYNAH_XML_STREAM_H
#define MYNAH_XML_STREAM_H

#include <stddef.h>
#include <mynah/types.h>

typedef struct xml_stream xml_stream;

/* 0 means "no limit" for each field.  The stream header is held to the
 * size and attribute limits too, and the size limit also bounds anything
 * buffered between stanzas (an unfinished tag is refused once it passes
 * the limit, without waiting for its end). */
typedef struct xml_stream_limits {
    size_t max_stanza_bytes; /* bytes of one depth-1 element, from '<' to '>' */
    unsigned max_depth;      /* element depth inside a stanza (stanza = 1) */
    unsigned max_attributes; /* per element, xmlns declarations included */
} xml_stream_limits;

/* One attribute of the stream header, namespace-resolved. */
typedef struct xml_stream_attr {
    const char *xmlns; /* NULL for unqualified attributes */
    const char *name;
    const char *value;
} xml_stream_attr;

/* Given to stream_open; the strings live for the callback only. */
typedef struct xml_stream_header {
    const char *name;       /* local name of the root, "stream" */
    const char *xmlns;      /* its namespace */
    const char *default_ns; /* the default namespace declared on it, or NULL */
    const xml_stream_attr *attrs;
    size_t attr_count;
} xml_stream_header;

/*
 * The callbacks return 0 to go on parsing, or 1 to stop: the parser then
 * drops the rest of the bytes it was given (the caller is about to reset
 * the stream for STARTTLS/SASL, or to close it); later feeds are ignored
 * until xml_stream_reset().  Callbacks may call xml_stream_reset() or
 * xml_stream_free() on their own stream: that also stops the parse, and
 * takes effect when xml_stream_feed() returns.  Any callback may be NULL.
 */
typedef struct xml_stream_callbacks {
    int (*stream_open)(void *userdata, const xml_stream_header *header);
    /* The stanza is the callee's: it holds the one reference. */
    int (*stanza)(void *userdata, mynah_stanza *stanza);
    int (*stream_close)(void *userdata);
    /* condition, an RFC 6120 §4.9.3 stream error:
     *  "not-well-formed"   malformed XML, bad UTF-8, forbidden characters
     *                      (§11.6), undeclared entity references;
     *  "restricted-xml"    DOCTYPE, entity declaration, PI, comment (§11.1);
     *  "policy-violation"  a limit was passed;
     *  "bad-format"        non-whitespace text between stanzas;
     *  "unsupported-encoding"  an XML declaration naming another encoding;
     *  "internal-server-error" out of memory.
     * text is a static description for logs.  The parser stops. */
    void (*error)(void *userdata, const char *condition, const char *text);
} xml_stream_callbacks;

xml_stream *xml_stream_new(const xml_stream_callbacks *callbacks,
                           void *userdata, const xml_stream_limits *limits);
void xml_stream_free(xml_stream *stream);
void xml_stream_set_limits(xml_stream *stream, const xml_stream_limits *limits);

/* Feeds bytes.  Returns 0 (everything consumed or stopped on request) or -1
 * (an error was reported; feed nothing more).  Not re-entrant: calling it
 * from one of its own callbacks returns -1.  After </stream:stream> the
 * rest is ignored. */
int xml_stream_feed(xml_stream *stream, const char *data, size_t len);

/* Forget everything: the next bytes must start with a new stream header
 * (after STARTTLS, after SASL success). */
void xml_stream_reset(xml_stream *stream);

/* Frees the expat parser if the input so far ended between stanzas (only
 * whitespace after the last complete stanza), keeping only the header's
 * namespace declarations; the next feed rebuilds a parser.  Also frees it
 * once the stream is closed, stopped or failed.  Returns 1 if no parser is
 * held any more. */
int xml_stream_release_idle(xml_stream *stream);

/* Heap bytes the stream holds now (parser included), for measurements. */
size_t xml_stream_memory(const xml_stream *stream);

#endif
