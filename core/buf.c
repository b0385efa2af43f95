#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Moves the live bytes to the front when the consumed prefix is at least
 * half the buffer: keeps appends amortised O(1) without unbounded growth. */
static void buf_compact(buf *b)
{
    if (b->start == 0)
        return;
    if (b->len > 0)
        memmove(b->data, b->data + b->start, b->len);
    b->start = 0;
}

int buf_reserve(buf *b, size_t extra)
{
    if (b->start + b->len + extra <= b->cap)
        return 0;
    if (b->start >= b->cap / 2)
        buf_compact(b);
    if (b->len + extra <= b->cap - b->start)
        return 0;
    size_t need = b->start + b->len + extra;
    if (need < b->len) /* overflow */
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

int buf_append(buf *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (buf_reserve(b, len) < 0)
        return -1;
    memcpy(b->data + b->start + b->len, data, len);
    b->len += len;
    return 0;
}

int buf_append_str(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->start + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int buf_append_xml_escaped(buf *b, const char *s, size_t len)
{
    size_t run = 0; /* start of the pending unescaped run */
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = "&apos;"; break;
        case '"': rep = "&quot;"; break;
        default: continue;
        }
        if (buf_append(b, s + run, i - run) < 0 || buf_append_str(b, rep) < 0)
            return -1;
        run = i + 1;
    }
    return buf_append(b, s + run, len - run);
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        b->start = 0;
        return;
    }
    b->start += n;
    b->len -= n;
}

void buf_clear(buf *b)
{
    b->len = 0;
    b->start = 0;
}

void buf_shrink(buf *b)
{
    if (b->len == 0) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
        b->start = 0;
    }
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->start = b->cap = 0;
}

char *buf_strdup(const buf *b)
{
    char *s = malloc(b->len + 1);
    if (s == NULL)
        return NULL;
    if (b->len)
        memcpy(s, buf_bytes(b), b->len);
    s[b->len] = '\0';
    return s;
}
