/*
 * A tag-level scanner: memchr to the next '<', then the tag to its '>'
 * (quotes respected, since an attribute value may hold '>').  Text is
 * skipped without looking at it, so a stanza costs about one pass over its
 * tags.
 */
#include "xml_scan.h"

#include <string.h>

const char *xml_find(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle));
}

/* The '>' closing the tag whose body starts at p, or NULL if not here yet. */
static const char *tag_end(const char *p, const char *end)
{
    char quote = 0;
    for (; p < end; p++) {
        char ch = *p;
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '>') {
            return p;
        }
    }
    return NULL;
}

size_t xml_scan(int *depth, const char *buf, size_t len,
                const xml_scan_handler *h, void *ud)
{
    const char *end = buf + len, *p = buf;
    const char *element = NULL;  /* start of the top-level element in progress */
    int d = *depth;
    size_t consumed = 0;

    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL) {
            if (element == NULL)
                consumed = len; /* whitespace between stanzas */
            break;
        }
        if (element == NULL)
            consumed = (size_t)(lt - buf);
        const char *gt = lt + 1 < end ? tag_end(lt + 1, end) : NULL;
        if (gt == NULL)
            break;
        p = gt + 1;
        char kind = lt[1];
        if (kind == '?' || kind == '!') {
            /* XML declaration; comments are not expected from a server. */
            if (element == NULL)
                consumed = (size_t)(p - buf);
            continue;
        }
        if (kind == '/') {
            d--;
            if (d == 1 && element != NULL) {
                const char *e = element;
                element = NULL;
                consumed = (size_t)(p - buf);
                *depth = 1;
                if (h->on_element(ud, e, (size_t)(p - e)))
                    return consumed;
            } else if (d <= 0) {
                d = 0;
                consumed = (size_t)(p - buf);
                *depth = 0;
                if (h->on_stream_close(ud))
                    return consumed;
            }
            continue;
        }
        int self_closing = gt[-1] == '/';
        if (d == 0) {
            d = 1;
            consumed = (size_t)(p - buf);
            *depth = 1;
            if (h->on_stream_open(ud, lt, (size_t)(p - lt)))
                return consumed;
        } else if (d == 1) {
            if (self_closing) {
                consumed = (size_t)(p - buf);
                *depth = 1;
                if (h->on_element(ud, lt, (size_t)(p - lt)))
                    return consumed;
            } else {
                element = lt;
                d = 2;
            }
        } else if (!self_closing) {
            d++;
        }
    }
    *depth = element != NULL ? 1 : d;
    return consumed;
}

int xml_is(const char *element, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len < n + 2 || element[0] != '<' || memcmp(element + 1, name, n) != 0)
        return 0;
    char next = element[n + 1];
    return next == ' ' || next == '>' || next == '/' || next == '\t' ||
           next == '\n' || next == '\r';
}

int xml_attr(const char *element, size_t len, const char *name,
             const char **value, size_t *value_len)
{
    const char *gt = tag_end(element + 1, element + len);
    if (gt == NULL)
        return 0;
    size_t n = strlen(name);
    const char *p = element + 1, *end = gt;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), name, n);
        if (hit == NULL)
            return 0;
        const char *after = hit + n;
        char before = hit[-1];
        if ((before == ' ' || before == '\t' || before == '\n' || before == '\r') &&
            after + 1 < end && after[0] == '=' && (after[1] == '\'' || after[1] == '"')) {
            const char *v = after + 2;
            const char *q = memchr(v, after[1], (size_t)(end - v));
            if (q == NULL)
                return 0;
            *value = v;
            *value_len = (size_t)(q - v);
            return 1;
        }
        p = hit + 1;
    }
    return 0;
}

int xml_child_text(const char *element, size_t len, const char *name,
                   const char **text, size_t *text_len)
{
    size_t n = strlen(name);
    const char *end = element + len, *p = element + 1;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL || (size_t)(end - lt) < n + 2)
            return 0;
        p = lt + 1;
        if (memcmp(lt + 1, name, n) != 0)
            continue;
        char next = lt[n + 1];
        if (next != ' ' && next != '>' && next != '/')
            continue;
        const char *gt = tag_end(lt + 1, end);
        if (gt == NULL)
            return 0;
        if (gt[-1] == '/') {
            *text = gt;
            *text_len = 0;
            return 1;
        }
        const char *close = memchr(gt + 1, '<', (size_t)(end - gt - 1));
        if (close == NULL)
            return 0;
        *text = gt + 1;
        *text_len = (size_t)(close - gt - 1);
        return 1;
    }
    return 0;
}
