/*
 * libFuzzer target for the XML stream parser.
 *
 * Input: two control bytes, then the stream bytes.
 *   byte 0  seeds the chunking: chunk sizes, and when to call
 *           xml_stream_release_idle() between chunks;
 *   byte 1  picks the limits (none, or small ones that the input can hit).
 *
 * The stream bytes are parsed twice: once in a single feed, once in random
 * chunks with releases in between.  Both runs must report the same events
 * (header, stanzas serialized, close) and agree on whether there was an
 * error; the conditions must match too, except where our own checks race
 * with expat's (see below).  Every stanza must also survive
 * stanza_to_string -> stanza_parse -> stanza_to_string unchanged, and a
 * copy must serialize like the original.  A third run resets the stream
 * from inside callbacks and keeps feeding, for the sanitizers' sake.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stanza.h"
#include "xml_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
    xml_stream *stream;
    buf log;             /* the events, as text */
    const char *error;   /* first condition reported */
    int opened, closed, errors, stanzas;
    int reset_every;     /* third run: reset after this many stanzas */
} run;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static int on_open(void *userdata, const xml_stream_header *header)
{
    run *r = userdata;
    check(!r->closed && r->errors == 0, "stream_open after the end");
    check(r->reset_every || r->opened == 0, "second stream_open");
    r->opened++;
    buf_printf(&r->log, "open {%s}%s default=%s attrs=%zu\n", header->xmlns,
               header->name, header->default_ns ? header->default_ns : "-",
               header->attr_count);
    for (size_t i = 0; i < header->attr_count; i++)
        buf_printf(&r->log, " {%s}%s=%s\n",
                   header->attrs[i].xmlns ? header->attrs[i].xmlns : "",
                   header->attrs[i].name, header->attrs[i].value);
    return 0;
}

static void check_round_trip(mynah_stanza *stanza)
{
    size_t len;
    char *text = stanza_to_string(stanza, &len);
    check(text != NULL, "stanza_to_string failed");
    mynah_stanza *again = stanza_parse(text, len);
    check(again != NULL, "serialized stanza does not parse");
    size_t len2;
    char *text2 = stanza_to_string(again, &len2);
    check(text2 != NULL && len == len2 && memcmp(text, text2, len) == 0,
          "round trip changed the stanza");
    mynah_stanza *copy = stanza_copy(stanza);
    size_t len3;
    char *text3 = stanza_to_string(copy, &len3);
    check(text3 != NULL && len == len3 && memcmp(text, text3, len) == 0,
          "copy serializes differently");
    (void)element_text(stanza_root(stanza));
    free(text);
    free(text2);
    free(text3);
    stanza_unref(again);
    stanza_unref(copy);
}

static int on_stanza(void *userdata, mynah_stanza *stanza)
{
    run *r = userdata;
    check(r->opened > 0 && !r->closed && r->errors == 0,
          "stanza outside an open stream");
    r->stanzas++;
    check(stanza_refcount(stanza) == 1, "stanza handed over shared");
    stanza_serialize(stanza, NS_CLIENT, &r->log);
    buf_append_str(&r->log, "\n");
    if (r->reset_every == 0 && r->stanzas <= 64)
        check_round_trip(stanza);
    stanza_unref(stanza);
    if (r->reset_every && r->stanzas % r->reset_every == 0) {
        xml_stream_reset(r->stream);
        r->opened = 0;
    }
    return 0;
}

static int on_close(void *userdata)
{
    run *r = userdata;
    check(r->opened > 0 && !r->closed && r->errors == 0, "stray close");
    r->closed = 1;
    buf_append_str(&r->log, "close\n");
    return 0;
}

static void on_error(void *userdata, const char *condition, const char *text)
{
    run *r = userdata;
    check(r->errors == 0 || r->reset_every, "second error");
    check(condition != NULL && text != NULL, "error without a condition");
    r->errors++;
    if (r->error == NULL)
        r->error = condition;
}

static const xml_stream_callbacks callbacks = {on_open, on_stanza, on_close,
                                               on_error};

static uint32_t rng_next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static int chunking_dependent(const char *condition)
{
    return strcmp(condition, "policy-violation") == 0 ||
           strcmp(condition, "bad-format") == 0;
}

static void limits_for(uint8_t selector, xml_stream_limits *limits)
{
    static const size_t sizes[] = {0, 64, 200, 1000, 5000};
    memset(limits, 0, sizeof *limits);
    if (selector & 0x80)
        return; /* no limits */
    limits->max_stanza_bytes = sizes[selector % 5];
    limits->max_depth = (selector >> 3) & 7;        /* 0 = none */
    limits->max_attributes = ((selector >> 5) & 3) * 3; /* 0 = none */
}

static void run_start(run *r, const xml_stream_limits *limits, int reset_every)
{
    memset(r, 0, sizeof *r);
    r->reset_every = reset_every;
    r->stream = xml_stream_new(&callbacks, r, limits);
    check(r->stream != NULL, "xml_stream_new");
}

static void run_end(run *r)
{
    xml_stream_free(r->stream);
    buf_free(&r->log);
}

static void feed(run *r, const char *data, size_t len)
{
    int rc = xml_stream_feed(r->stream, data, len);
    check(rc == 0 || r->errors > 0, "feed failed without an error callback");
    check(rc < 0 || r->errors == 0 || r->reset_every,
          "error reported but feed succeeded");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = 0x9e3779b9u ^ (data[0] * 0x01010101u);
    xml_stream_limits limits;
    limits_for(data[1], &limits);
    const char *bytes = (const char *)data + 2;
    size_t len = size - 2;

    /* One feed. */
    run whole;
    run_start(&whole, &limits, 0);
    feed(&whole, bytes, len);

    /* Random chunks, releasing the parser whenever the stream allows. */
    run chunked;
    run_start(&chunked, &limits, 0);
    size_t max_chunk = 1 + (data[0] & 0x0f) * 8;
    int released = 0;
    for (size_t off = 0; off < len;) {
        size_t n = 1 + rng_next(&seed) % max_chunk;
        if (n > len - off)
            n = len - off;
        feed(&chunked, bytes + off, n);
        off += n;
        if (rng_next(&seed) % 3 == 0) {
            size_t before = xml_stream_memory(chunked.stream);
            if (xml_stream_release_idle(chunked.stream)) {
                released++;
                check(xml_stream_memory(chunked.stream) <= before,
                      "release_idle grew the stream");
            }
        }
    }
    check(whole.opened == chunked.opened, "header seen differently");
    check(whole.closed == chunked.closed, "close seen differently");
    /* Expat may see an error in bytes it would otherwise hold back as
     * undecided (at the very start, while it sniffs the encoding), so an
     * error in one run only is fine if the other still holds bytes. */
    if ((whole.errors > 0) != (chunked.errors > 0)) {
        run *clean = whole.errors ? &chunked : &whole;
        check(!xml_stream_release_idle(clean->stream),
              "error in one run only");
    }
    /* Our own checks (limits, text between stanzas) run when expat
     * reports an event or a slice ends, which depends on the chunking;
     * expat's own errors in the same bytes may come first in one run. */
    if (whole.errors > 0 && chunked.errors > 0 &&
        strcmp(whole.error, chunked.error) != 0)
        check(chunking_dependent(whole.error) ||
                  chunking_dependent(chunked.error),
              "different conditions");
    check(whole.stanzas == chunked.stanzas, "different stanza counts");
    check(buf_length(&whole.log) == buf_length(&chunked.log) &&
              (buf_length(&whole.log) == 0 ||
               memcmp(buf_bytes(&whole.log), buf_bytes(&chunked.log),
                      buf_length(&whole.log)) == 0),
          "different events");
    run_end(&whole);
    run_end(&chunked);

    /* Resets from inside the stanza callback; only crashes matter. */
    run resets;
    run_start(&resets, &limits, 1 + (data[0] >> 6));
    for (size_t off = 0; off < len;) {
        size_t n = 1 + rng_next(&seed) % max_chunk;
        if (n > len - off)
            n = len - off;
        xml_stream_feed(resets.stream, bytes + off, n);
        off += n;
        if (resets.errors > 0) {
            xml_stream_reset(resets.stream);
            resets.errors = 0;
            resets.opened = 0;
            resets.closed = 0;
        }
    }
    run_end(&resets);
    (void)released;
    return 0;
}
