/* The XML stream parser: events, restricted XML, limits, chunking,
 * releasing idle parsers, resets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stanza.h"
#include "tap.h"
#include "xml_stream.h"

#define HEADER                                                                \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "              \
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' "       \
    "version='1.0' xml:lang='en'>"

/* What a stream reported, as text: one line per event. */
typedef struct collector {
    xml_stream *stream;
    buf log;
    int opens, stanzas, closes, errors;
    char condition[64];
    char default_ns[64];
    char header_attrs[256];
    int stop_on;        /* return 1 from the stanza callback at this count */
    int reset_on;       /* call xml_stream_reset from the callback at this count */
    int free_on_error;  /* xml_stream_free from the error callback */
} collector;

static int on_open(void *userdata, const xml_stream_header *h)
{
    collector *c = userdata;
    c->opens++;
    buf_printf(&c->log, "open {%s}%s\n", h->xmlns, h->name);
    snprintf(c->default_ns, sizeof c->default_ns, "%s",
             h->default_ns ? h->default_ns : "(none)");
    size_t used = 0;
    c->header_attrs[0] = '\0';
    for (size_t i = 0; i < h->attr_count; i++)
        used += (size_t)snprintf(c->header_attrs + used,
                                 sizeof c->header_attrs - used, "%s%s%s=%s;",
                                 h->attrs[i].xmlns ? h->attrs[i].xmlns : "",
                                 h->attrs[i].xmlns ? "|" : "", h->attrs[i].name,
                                 h->attrs[i].value);
    return 0;
}

static int on_stanza(void *userdata, mynah_stanza *st)
{
    collector *c = userdata;
    c->stanzas++;
    stanza_serialize(st, NS_CLIENT, &c->log);
    buf_append_str(&c->log, "\n");
    stanza_unref(st);
    if (c->reset_on == c->stanzas)
        xml_stream_reset(c->stream);
    return c->stop_on == c->stanzas;
}

static int on_close(void *userdata)
{
    collector *c = userdata;
    c->closes++;
    buf_append_str(&c->log, "close\n");
    return 0;
}

static void on_error(void *userdata, const char *condition, const char *text)
{
    collector *c = userdata;
    c->errors++;
    snprintf(c->condition, sizeof c->condition, "%s", condition);
    buf_printf(&c->log, "error %s\n", condition);
    if (c->free_on_error) {
        xml_stream_free(c->stream);
        c->stream = NULL;
    }
}

static const xml_stream_callbacks callbacks = {on_open, on_stanza, on_close,
                                               on_error};

static const xml_stream_limits default_limits = {10000, 16, 32};

static void collector_init(collector *c, const xml_stream_limits *limits)
{
    memset(c, 0, sizeof *c);
    c->stream = xml_stream_new(&callbacks, c, limits);
}

static void collector_done(collector *c)
{
    xml_stream_free(c->stream);
    buf_free(&c->log);
}

static char *log_text(const collector *c)
{
    return buf_strdup(&c->log);
}

/* Feeds in one go; returns the log (malloc'd). */
static char *parse_whole(const char *xml, size_t len,
                         const xml_stream_limits *limits)
{
    collector c;
    collector_init(&c, limits);
    xml_stream_feed(c.stream, xml, len);
    char *log = log_text(&c);
    collector_done(&c);
    return log;
}

/* Feeds in chunks of n bytes, optionally releasing the parser between. */
static char *parse_chunked(const char *xml, size_t len, size_t n,
                           int release, const xml_stream_limits *limits,
                           int *released)
{
    collector c;
    collector_init(&c, limits);
    for (size_t off = 0; off < len; off += n) {
        size_t k = len - off < n ? len - off : n;
        if (xml_stream_feed(c.stream, xml + off, k) < 0)
            break;
        if (release && xml_stream_release_idle(c.stream) && released)
            (*released)++;
    }
    char *log = log_text(&c);
    collector_done(&c);
    return log;
}

/* The condition the stream reports for header + body, or "" if none. */
static const char *condition_of(const char *body, const xml_stream_limits *l)
{
    static char condition[64];
    collector c;
    collector_init(&c, l);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    xml_stream_feed(c.stream, body, strlen(body));
    snprintf(condition, sizeof condition, "%s", c.condition);
    if (c.errors > 1)
        snprintf(condition, sizeof condition, "more than one error");
    collector_done(&c);
    return condition;
}

static const char *sample_stream =
    HEADER
    "\n  <message to='juliet@example.com' type='chat' id='m1'>"
    "<body>Hi &amp; bye &#x263A; \xf0\x9f\x98\x80</body>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>\n"
    "<presence><show>away</show><status xml:lang='fr'>parti</status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/>"
    "</presence> \r\n\t"
    "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"
    "<stream:features><x:a xmlns:x='urn:x' x:b='c' d='e'>text<f/>more"
    "</x:a></stream:features>"
    "<message><body><![CDATA[<b>not bold</b>]]></body></message>"
    "</stream:stream>";

static const char *sample_log =
    "open {http://etherx.jabber.org/streams}stream\n"
    "<message to='juliet@example.com' type='chat' id='m1'>"
    "<body>Hi &amp; bye \xe2\x98\xba \xf0\x9f\x98\x80</body>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>\n"
    "<presence><show>away</show><status xml:lang='fr'>parti</status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/>"
    "</presence>\n"
    "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>\n"
    "<features xmlns='http://etherx.jabber.org/streams'><a xmlns='urn:x' "
    "xmlns:ns0='urn:x' ns0:b='c' d='e'>text<f xmlns='jabber:client'/>more"
    "</a></features>\n"
    "<message><body>&lt;b&gt;not bold&lt;/b&gt;</body></message>\n"
    "close\n";

static void test_events(void)
{
    collector c;
    collector_init(&c, &default_limits);
    int rc = xml_stream_feed(c.stream, sample_stream, strlen(sample_stream));
    is_int(rc, 0, "feed succeeds");
    is_int(c.opens, 1, "one stream_open");
    is_int(c.stanzas, 5, "five stanzas");
    is_int(c.closes, 1, "one stream_close");
    is_int(c.errors, 0, "no error");
    is_str(c.default_ns, NS_CLIENT, "default namespace of the header");
    is_str(c.header_attrs,
           "to=example.com;version=1.0;http://www.w3.org/XML/1998/"
           "namespace|lang=en;",
           "header attributes, xml:lang namespaced");
    char *log = log_text(&c);
    is_str(log, sample_log, "events and stanzas as expected");
    free(log);
    rc = xml_stream_feed(c.stream, "<message/>", 10);
    is_int(rc, 0, "bytes after the close are ignored");
    is_int(c.stanzas, 5, "no stanza after the close");
    collector_done(&c);

    /* A header with a prefix other than "stream" and no default ns. */
    const char *other = "<s:stream xmlns:s='http://etherx.jabber.org/streams' "
                        "xmlns:c='jabber:client'><c:message to='a'/></s:stream>";
    log = parse_whole(other, strlen(other), &default_limits);
    is_str(log,
           "open {http://etherx.jabber.org/streams}stream\n"
           "<message to='a'/>\nclose\n",
           "prefixed stanza in a prefixed stream");
    free(log);
}

static void test_chunking(void)
{
    size_t len = strlen(sample_stream);
    char *one = parse_whole(sample_stream, len, &default_limits);
    char *bytes = parse_chunked(sample_stream, len, 1, 0, &default_limits, NULL);
    is_str(bytes, one, "byte-by-byte gives the same events as one feed");
    free(bytes);
    int same = 1;
    for (size_t split = 1; split < len && same; split++) {
        collector c;
        collector_init(&c, &default_limits);
        xml_stream_feed(c.stream, sample_stream, split);
        xml_stream_feed(c.stream, sample_stream + split, len - split);
        char *log = log_text(&c);
        same = strcmp(log, one) == 0;
        if (!same)
            printf("# differs when split at %zu\n", split);
        free(log);
        collector_done(&c);
    }
    ok(same, "every two-piece split gives the same events");
    for (size_t n = 2; n < 40; n += 3) {
        char *log = parse_chunked(sample_stream, len, n, 0, &default_limits,
                                  NULL);
        same = same && strcmp(log, one) == 0;
        free(log);
    }
    ok(same, "chunks of 2..38 bytes give the same events");
    free(one);
}

/* Expat builds with reparse deferral (CVE-2023-52425 fix) would wait for
 * more data before re-parsing a big unfinished tag; a stanza must arrive
 * as soon as its last byte does. */
static void test_no_deferral(void)
{
    collector c;
    collector_init(&c, &default_limits);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    char big[8000];
    memset(big, 'v', sizeof big);
    xml_stream_feed(c.stream, "<message a='", 12);
    for (int i = 0; i < 4; i++)
        xml_stream_feed(c.stream, big, 1000);
    xml_stream_feed(c.stream, "'", 1);
    is_int(c.stanzas, 0, "big tag still open");
    xml_stream_feed(c.stream, "/>", 2);
    is_int(c.stanzas, 1, "stanza delivered on its last byte");
    collector_done(&c);
}

static void test_restricted(void)
{
    const xml_stream_limits *l = &default_limits;
    is_str(condition_of("<message><body>x</body></message>", l), "",
           "a plain stanza is fine");
    is_str(condition_of("<!-- hi --><message/>", l), "restricted-xml",
           "comment between stanzas");
    is_str(condition_of("<message><!-- hi --></message>", l), "restricted-xml",
           "comment inside a stanza");
    is_str(condition_of("<?php evil(); ?>", l), "restricted-xml",
           "processing instruction");
    is_str(condition_of("<message><?pi x?></message>", l), "restricted-xml",
           "processing instruction inside a stanza");
    is_str(condition_of("<message>&foo;</message>", l), "not-well-formed",
           "undeclared entity reference");
    is_str(condition_of("<message>\xc3\x28</message>", l), "not-well-formed",
           "invalid UTF-8");
    is_str(condition_of("<message>\xed\xa0\x80</message>", l),
           "not-well-formed", "UTF-8 surrogate");
    is_str(condition_of("<message>\x01</message>", l), "not-well-formed",
           "C0 control character");
    is_str(condition_of("<message>&#0;</message>", l), "not-well-formed",
           "character reference to NUL");
    is_str(condition_of("<message a='\xff'/>", l), "not-well-formed",
           "invalid byte in an attribute");
    is_str(condition_of("<message></presence>", l), "not-well-formed",
           "mismatched end tag");
    is_str(condition_of("<message><body></message>", l), "not-well-formed",
           "unclosed child");
    is_str(condition_of("<p:message/>", l), "not-well-formed",
           "unbound prefix");
    is_str(condition_of("<message a='1' a='2'/>", l), "not-well-formed",
           "duplicate attribute");
    is_str(condition_of("</stream:stream><stream:stream>", l), "",
           "a second root after the close is ignored");
    is_str(condition_of("hello<message/>", l), "bad-format",
           "text junk between stanzas");
    is_str(condition_of("<?xml version='1.0'?>", l), "not-well-formed",
           "XML declaration in the middle");

    const char nul[] = "<message>a\0b</message>";
    collector c;
    collector_init(&c, l);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    is_int(xml_stream_feed(c.stream, nul, sizeof nul - 1), -1, "NUL byte fails");
    is_str(c.condition, "not-well-formed", "NUL byte: not-well-formed");
    is_int(c.stanzas, 0, "no stanza from it");
    is_int(xml_stream_feed(c.stream, "<message/>", 10), -1,
           "after an error, feeding keeps failing");
    is_int(c.errors, 1, "the error is reported once");
    collector_done(&c);

    /* Before and in the header. */
    static const char *bad_headers[][2] = {
        {"<!DOCTYPE stream:stream [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b "
         "'&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;"
         "&b;&b;&b;'>]><stream:stream xmlns:stream='http://etherx.jabber.org/"
         "streams'>&c;",
         "restricted-xml"},
        {"<?xml version='1.0'?><!DOCTYPE x SYSTEM 'file:///etc/passwd'><x>&e;",
         "restricted-xml"},
        {"<!DOCTYPE x [<!ENTITY e SYSTEM 'http://127.0.0.1/'>]><x>&e;</x>",
         "restricted-xml"},
        {"<!-- hi --><stream:stream>", "restricted-xml"},
        {"<?xml version='1.0' encoding='ISO-8859-1'?><stream/>",
         "unsupported-encoding"},
        {"hello <stream/>", "not-well-formed"},
        {"<a><b>", ""},
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        collector_init(&c, l);
        xml_stream_feed(c.stream, bad_headers[i][0], strlen(bad_headers[i][0]));
        char what[80];
        snprintf(what, sizeof what, "hostile prologue %zu: %s", i,
                 bad_headers[i][1][0] ? bad_headers[i][1] : "no error yet");
        is_str(c.condition, bad_headers[i][1], what);
        collector_done(&c);
    }
    collector_init(&c, l);
    xml_stream_feed(c.stream, bad_headers[0][0], strlen(bad_headers[0][0]));
    is_int(c.opens, 0, "billion laughs: no stream_open");
    ok(xml_stream_memory(c.stream) < 64 * 1024, "billion laughs: no blow-up");
    collector_done(&c);

    /* Expat reports a UTF-8 BOM, not an error. */
    collector_init(&c, l);
    const char bom[] = "\xef\xbb\xbf<stream:stream xmlns:stream='"
                       "http://etherx.jabber.org/streams'>";
    xml_stream_feed(c.stream, bom, sizeof bom - 1);
    is_int(c.opens, 1, "a UTF-8 BOM is accepted");
    collector_done(&c);
}

static void test_limits(void)
{
    /* The header has 5 attributes and declarations: it counts too. */
    xml_stream_limits l = {200, 4, 5};
    xml_stream_limits tight = {200, 4, 4};
    is_str(condition_of("", &tight), "policy-violation",
           "the header is held to the attribute limit");
    is_str(condition_of("<a><b><c><d/></c></b></a>", &l), "",
           "depth 4 is within the limit");
    is_str(condition_of("<a><b><c><d><e/></d></c></b></a>", &l),
           "policy-violation", "depth 5 is refused");
    is_str(condition_of("<a v='1' w='2' x='3' y='4' z='5'/>", &l), "",
           "5 attributes are fine");
    is_str(condition_of("<a u='0' v='1' w='2' x='3' y='4' z='5'/>", &l),
           "policy-violation", "6 attributes are refused");
    is_str(condition_of("<a x='1' xmlns:p='urn:p' xmlns:q='urn:q' "
                        "xmlns:r='urn:r' xmlns:s='urn:s' xmlns='urn:t'/>",
                        &l),
           "policy-violation", "namespace declarations count as attributes");
    xml_stream_limits small = {100, 4, 5};
    is_str(condition_of("", &small), "policy-violation",
           "the header is held to the size limit");

    /* Exactly at the stanza limit, and one byte over. */
    char stanza[256];
    memset(stanza, 0, sizeof stanza);
    strcpy(stanza, "<message><body>");
    size_t fill = 200 - strlen("<message><body></body></message>");
    memset(stanza + strlen(stanza), 'x', fill);
    strcat(stanza, "</body></message>");
    is_int(strlen(stanza), 200, "test stanza is 200 bytes");
    is_str(condition_of(stanza, &l), "", "a 200-byte stanza passes a 200 limit");
    char *log = parse_chunked(stanza, strlen(stanza), 1, 0, &l, NULL);
    free(log);
    char over[300];
    snprintf(over, sizeof over, "<message><body>x%s", stanza + 15);
    is_str(condition_of(over, &l), "policy-violation", "201 bytes are refused");

    /* Byte-exact after a release too: the synthetic header must not count. */
    collector c;
    collector_init(&c, &l);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    ok(xml_stream_release_idle(c.stream), "released after the header");
    xml_stream_feed(c.stream, stanza, strlen(stanza));
    is_int(c.errors, 0, "200 bytes pass after a rebuild");
    ok(xml_stream_release_idle(c.stream), "released again");
    xml_stream_feed(c.stream, over, strlen(over));
    is_str(c.condition, "policy-violation", "201 bytes refused after a rebuild");
    collector_done(&c);

    /* An endless stanza is refused once it passes the limit, whether it
     * grows as text, as an attribute value or as a tag name. */
    static const char *openers[] = {"<message><body>", "<message a='", "<m"};
    xml_stream_limits big = {10000, 16, 32};
    char chunk[4096];
    memset(chunk, 'a', sizeof chunk);
    for (size_t i = 0; i < 3; i++) {
        collector_init(&c, &big);
        xml_stream_feed(c.stream, HEADER, strlen(HEADER));
        xml_stream_feed(c.stream, openers[i], strlen(openers[i]));
        size_t sent = 0;
        size_t peak = 0;
        while (sent < 100u * 1024 * 1024 &&
               xml_stream_feed(c.stream, chunk, sizeof chunk) == 0) {
            sent += sizeof chunk;
            size_t mem = xml_stream_memory(c.stream);
            if (mem > peak)
                peak = mem;
        }
        char what[96];
        snprintf(what, sizeof what, "endless stanza %zu refused", i);
        is_str(c.condition, "policy-violation", what);
        snprintf(what, sizeof what, "endless stanza %zu: refused early (%zu B)",
                 i, sent);
        ok(sent <= 10000 + sizeof chunk, what);
        snprintf(what, sizeof what, "endless stanza %zu: memory bounded (%zu B)",
                 i, peak);
        ok(peak < 64 * 1024, what);
        collector_done(&c);
    }

    /* The header itself is bounded. */
    collector_init(&c, &l);
    xml_stream_feed(c.stream, "<stream:stream a='", 18);
    for (int i = 0; i < 10 && c.errors == 0; i++)
        xml_stream_feed(c.stream, chunk, 100);
    is_str(c.condition, "policy-violation", "endless header refused");
    collector_done(&c);

    /* Whitespace keepalives are not a stanza: no limit on them. */
    collector_init(&c, &l);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    char spaces[1000];
    memset(spaces, ' ', sizeof spaces);
    for (int i = 0; i < 100; i++)
        xml_stream_feed(c.stream, spaces, sizeof spaces);
    xml_stream_feed(c.stream, "<message/>", 10);
    is_int(c.errors, 0, "100 KB of keepalives are fine");
    is_int(c.stanzas, 1, "and the stanza after them arrives");
    collector_done(&c);

    /* Limits change with authentication. */
    collector_init(&c, &l);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    xml_stream_set_limits(c.stream, &big);
    xml_stream_feed(c.stream, over, strlen(over));
    is_int(c.errors, 0, "raised limit applies");
    collector_done(&c);

    /* No limits at all. */
    xml_stream_limits none = {0, 0, 0};
    is_str(condition_of("<a><b><c><d><e><f><g/></f></e></d></c></b></a>", &none),
           "", "zero means no limit");
}

static void test_release_idle(void)
{
    size_t len = strlen(sample_stream);
    char *one = parse_whole(sample_stream, len, &default_limits);
    int released = 0;
    char *rel = parse_chunked(sample_stream, len, 1, 1, &default_limits,
                              &released);
    is_str(rel, one, "releasing between bytes gives the same events");
    ok(released >= 5, "the parser was released between stanzas");
    printf("# released %d times byte by byte\n", released);
    free(rel);
    for (size_t n = 2; n < 64; n += 5) {
        rel = parse_chunked(sample_stream, len, n, 1, &default_limits, NULL);
        if (strcmp(rel, one) != 0)
            printf("# differs with chunks of %zu\n", n);
        ok(strcmp(rel, one) == 0, "release with chunked input");
        free(rel);
    }
    free(one);

    collector c;
    collector_init(&c, &default_limits);
    size_t fresh = xml_stream_memory(c.stream);
    printf("# memory: new stream %zu B\n", fresh);
    ok(fresh < 512, "a new stream holds < 512 bytes");
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    size_t live = xml_stream_memory(c.stream);
    printf("# memory: after the header %zu B\n", live);
    ok(live > 4096, "a live stream reports its parser's memory");
    xml_stream_feed(c.stream, "<message><body>x", 16);
    is_int(xml_stream_release_idle(c.stream), 0,
           "not released in the middle of a stanza");
    ok(xml_stream_memory(c.stream) >= live, "memory kept");
    xml_stream_feed(c.stream, "</body></message> \n", 19);
    is_int(xml_stream_release_idle(c.stream), 1, "released between stanzas");
    size_t idle = xml_stream_memory(c.stream);
    printf("# memory: released %zu B\n", idle);
    ok(idle < 512, "an idle released stream holds < 512 bytes");
    is_int(xml_stream_release_idle(c.stream), 1, "releasing twice is fine");
    xml_stream_feed(c.stream, "<presence/>", 11);
    is_int(c.opens, 1, "no second stream_open after a rebuild");
    is_int(c.stanzas, 2, "stanza after the rebuild");
    xml_stream_feed(c.stream, "<message", 8);
    is_int(xml_stream_release_idle(c.stream), 0,
           "not released in the middle of a tag");
    xml_stream_feed(c.stream, "/>\r", 3);
    is_int(xml_stream_release_idle(c.stream), 1,
           "released with a pending CR");
    xml_stream_feed(c.stream, "\n</stream:stream>", 17);
    is_int(c.closes, 1, "the close tag matches the rebuilt header");
    is_int(c.errors, 0, "no error");
    char *log = log_text(&c);
    is_str(log,
           "open {http://etherx.jabber.org/streams}stream\n"
           "<message><body>x</body></message>\n<presence/>\n<message/>\n"
           "close\n",
           "events across releases");
    free(log);
    collector_done(&c);

    /* Unusual declarations survive the rebuild. */
    const char *odd = "<x:s xmlns:x='http://etherx.jabber.org/streams' "
                      "xmlns='urn:odd&amp;&#9;&apos;' xmlns:p='urn:p'>";
    collector_init(&c, &default_limits);
    xml_stream_feed(c.stream, odd, strlen(odd));
    is_str(c.default_ns, "urn:odd&\t'", "odd default namespace");
    ok(xml_stream_release_idle(c.stream), "released");
    xml_stream_feed(c.stream, "<a p:q='1'/>", 12);
    ok(xml_stream_release_idle(c.stream), "released again");
    xml_stream_feed(c.stream, "</x:s>", 6);
    log = log_text(&c);
    is_str(log,
           "open {http://etherx.jabber.org/streams}s\n"
           "<a xmlns='urn:odd&amp;&#9;&apos;' xmlns:ns0='urn:p' ns0:q='1'/>\n"
           "close\n",
           "namespaces resolved the same after rebuilds");
    free(log);
    collector_done(&c);

    /* 1000 idle streams. */
    enum { N = 1000 };
    static collector many[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        collector_init(&many[i], &default_limits);
        xml_stream_feed(many[i].stream, HEADER, strlen(HEADER));
        xml_stream_feed(many[i].stream, "<presence/>", 11);
        xml_stream_release_idle(many[i].stream);
        total += xml_stream_memory(many[i].stream);
    }
    printf("# memory: %d idle streams hold %zu B each\n", N, total / N);
    ok(total / N < 512, "idle streams stay under 512 bytes each");
    for (int i = 0; i < N; i++)
        collector_done(&many[i]);
}

static void test_stop_and_reset(void)
{
    /* STARTTLS: the callback stops at <starttls/>; the bytes after it in
     * the same read must not be parsed (RFC 6120 §5.4.3.3). */
    collector c;
    collector_init(&c, &default_limits);
    c.stop_on = 1;
    const char *plain =
        HEADER "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
               "<message>injected</message>";
    is_int(xml_stream_feed(c.stream, plain, strlen(plain)), 0,
           "stop is not an error");
    is_int(c.stanzas, 1, "nothing parsed after the stop");
    is_int(xml_stream_feed(c.stream, "<message/>", 10), 0,
           "later feeds are ignored");
    is_int(c.stanzas, 1, "still nothing");
    xml_stream_reset(c.stream);
    ok(xml_stream_memory(c.stream) < 512, "reset frees the parser");
    c.stop_on = 0;
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    is_int(c.opens, 2, "a new header after the reset (XML declaration too)");
    xml_stream_feed(c.stream, "<message/>", 10);
    is_int(c.stanzas, 2, "stanzas flow again");
    is_int(c.errors, 0, "no error");
    collector_done(&c);

    /* Reset from inside the callback (SASL success). */
    collector_init(&c, &default_limits);
    c.reset_on = 1;
    const char *sasl = HEADER "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
                              "<message>early</message>";
    is_int(xml_stream_feed(c.stream, sasl, strlen(sasl)), 0,
           "reset inside a callback");
    is_int(c.stanzas, 1, "rest of the read dropped");
    xml_stream_feed(c.stream, HEADER "<message/>", strlen(HEADER) + 10);
    is_int(c.opens, 2, "new stream after the reset");
    is_int(c.stanzas, 2, "and its stanza");
    collector_done(&c);

    /* Freeing from the error callback (the connection closes). */
    collector_init(&c, &default_limits);
    c.free_on_error = 1;
    const char *bad = HEADER "<message><!-- x --></message>";
    is_int(xml_stream_feed(c.stream, bad, strlen(bad)), -1,
           "error reported while the stream frees itself");
    ok(c.stream == NULL, "freed from the callback");
    buf_free(&c.log);

    /* A reset between stanzas of a released stream. */
    collector_init(&c, &default_limits);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    xml_stream_release_idle(c.stream);
    xml_stream_reset(c.stream);
    xml_stream_feed(c.stream, "<message/>", 10);
    is_int(c.opens, 2, "a reset stream takes any root as its new header");
    collector_done(&c);
}

/* A stanza callback that runs a stream of its own (stanza_parse), as a
 * module handling the stanza may: the memory accounting must follow. */
static int on_stanza_nested(void *userdata, mynah_stanza *st)
{
    collector *c = userdata;
    c->stanzas++;
    char *text = stanza_to_string(st, NULL);
    mynah_stanza *again = text ? stanza_parse(text, strlen(text)) : NULL;
    if (again != NULL)
        c->closes++; /* counts successful nested parses */
    stanza_unref(again);
    free(text);
    stanza_unref(st);
    return 0;
}

static void test_nested(void)
{
    static const xml_stream_callbacks nested = {on_open, on_stanza_nested,
                                                NULL, on_error};
    collector c;
    memset(&c, 0, sizeof c);
    c.stream = xml_stream_new(&nested, &c, &default_limits);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    size_t before = xml_stream_memory(c.stream);
    for (int i = 0; i < 20; i++)
        xml_stream_feed(c.stream, "<message><body>hi</body></message>", 34);
    is_int(c.stanzas, 20, "stanzas parsed while callbacks parse too");
    is_int(c.closes, 20, "the nested parses worked");
    ok(xml_stream_memory(c.stream) < before + 4096,
       "nested parsers are not charged to the outer stream");
    xml_stream_release_idle(c.stream);
    ok(xml_stream_memory(c.stream) < 512, "and the outer one still releases");
    collector_done(&c);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_speed(void)
{
    const char *msg = "<message to='juliet@capulet.lit/balcony' "
                      "from='romeo@montague.lit/orchard' type='chat' "
                      "id='ktx72v49'><body>Art thou not Romeo, and a "
                      "Montague?</body></message>";
    buf input = BUF_INIT;
    for (int i = 0; i < 1000; i++)
        buf_append_str(&input, msg);
    collector c;
    collector_init(&c, &default_limits);
    xml_stream_feed(c.stream, HEADER, strlen(HEADER));
    double start = now();
    for (int i = 0; i < 50; i++) {
        buf_clear(&c.log);
        xml_stream_feed(c.stream, buf_bytes(&input), buf_length(&input));
    }
    double rate = 50000 / (now() - start);
    printf("# parse: %.0f stanzas/s\n", rate);
    is_int(c.stanzas, 50000, "all parsed");
    collector_done(&c);
    buf_free(&input);
}

int main(void)
{
    test_events();
    test_chunking();
    test_no_deferral();
    test_restricted();
    test_limits();
    test_release_idle();
    test_stop_and_reset();
    test_nested();
    test_speed();
    return done_testing();
}
