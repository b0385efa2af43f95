/* Unit tests for the growable buffer. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int main(void)
{
    buf b = BUF_INIT;
    ok(b.data == NULL, "an empty buffer allocates nothing");
    buf_append_str(&b, "hello");
    buf_printf(&b, " %d", 42);
    char *s = buf_strdup(&b);
    is_str(s, "hello 42", "append and printf");
    free(s);

    buf_consume(&b, 6);
    s = buf_strdup(&b);
    is_str(s, "42", "consume drops the front");
    free(s);

    buf_clear(&b);
    buf_append_xml_escaped(&b, "a<b>&'\"c", 8);
    s = buf_strdup(&b);
    is_str(s, "a&lt;b&gt;&amp;&apos;&quot;c", "XML escaping");
    free(s);

    /* Growth across many appends keeps every byte. */
    buf_clear(&b);
    for (int i = 0; i < 10000; i++)
        buf_append(&b, "0123456789", 10);
    is_int(buf_length(&b), 100000, "100000 bytes after 10000 appends");
    int same = 1;
    for (size_t i = 0; i < buf_length(&b); i++)
        if (buf_bytes(&b)[i] != (char)('0' + i % 10))
            same = 0;
    ok(same, "contents intact after growth");

    /* Consume most, then append: compaction keeps the live bytes. */
    buf_consume(&b, 99990);
    buf_append(&b, "abc", 3);
    s = buf_strdup(&b);
    is_str(s, "0123456789abc", "compaction keeps unconsumed bytes");
    free(s);

    buf_consume(&b, 13);
    buf_shrink(&b);
    ok(b.data == NULL && b.cap == 0, "a drained buffer gives its memory back");
    buf_free(&b);
    return done_testing();
}
