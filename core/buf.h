/*
 * A growable byte buffer.  Starts empty (no allocation), grows by doubling,
 * and buf_shrink() gives memory back once a buffer is drained, so idle
 * connections hold no buffer at all.
 */
#ifndef MYNAH_BUF_H
#define MYNAH_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;   /* bytes in use, from data[start] */
    size_t start; /* consumed prefix, reclaimed lazily */
    size_t cap;
} buf;

#define BUF_INIT {NULL, 0, 0, 0}

/* All return 0, or -1 when out of memory (the buffer is unchanged). */
int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const void *data, size_t len);
int buf_append_str(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends text with &, <, >, ', " escaped for XML. */
int buf_append_xml_escaped(buf *b, const char *s, size_t len);

/* "" for a buffer that never held anything (NULL + 0 is undefined). */
static inline const char *buf_bytes(const buf *b) { return b->data ? b->data + b->start : ""; }
static inline size_t buf_length(const buf *b) { return b->len; }

/* Drops n bytes from the front. */
void buf_consume(buf *b, size_t n);
void buf_clear(buf *b);
/* Frees the storage when empty. */
void buf_shrink(buf *b);
void buf_free(buf *b);
/* A NUL-terminated copy of the contents, malloc'd. */
char *buf_strdup(const buf *b);

#endif
