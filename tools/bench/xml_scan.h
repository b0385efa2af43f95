/*
 * Just enough XML for a load generator: find where the stream header and
 * each top-level element (stanza) begin and end, and pick attributes and
 * child text out of one element.  No entity decoding, no namespaces: the
 * generator only reads its own bodies, SASL base64 and bind results.
 */
#ifndef MYNAH_BENCH_XML_SCAN_H
#define MYNAH_BENCH_XML_SCAN_H

#include <stddef.h>

typedef struct xml_scan_handler {
    /* The stream header's start tag (<stream:stream ...>). */
    int (*on_stream_open)(void *ud, const char *tag, size_t len);
    /* One complete top-level element, start tag to end tag. */
    int (*on_element)(void *ud, const char *element, size_t len);
    /* </stream:stream>. */
    int (*on_stream_close)(void *ud);
} xml_scan_handler;

/*
 * Scans buf from a stanza boundary.  *depth is 0 before the stream header
 * and 1 inside the stream; it is updated to the depth at the returned
 * offset, which is the end of the last complete item: the caller keeps
 * the bytes from there on and scans them again when more arrive.  A
 * callback returning non-zero stops the scan right after its item (a
 * stream restart after STARTTLS or SASL, or a closed client).
 */
size_t xml_scan(int *depth, const char *buf, size_t len,
                const xml_scan_handler *h, void *ud);

/* The value of attribute name in the start tag at the head of element. */
int xml_attr(const char *element, size_t len, const char *name,
             const char **value, size_t *value_len);

/* Does the start tag at the head of element have name (e.g. "iq")? */
int xml_is(const char *element, size_t len, const char *name);

/* The text of the first <name ...>text</name> inside element. */
int xml_child_text(const char *element, size_t len, const char *name,
                   const char **text, size_t *text_len);

/* memmem for a C string. */
const char *xml_find(const char *s, size_t len, const char *needle);

#endif
