/*
 * mynah-bench's own client pieces, apart from any server: SCRAM against
 * the RFC 5802 and RFC 7677 examples, the tag scanner on stanzas split
 * across reads, the latency histogram's percentiles.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "../../tools/bench/sasl_client.h"
#include "../../tools/bench/stats.h"
#include "../../tools/bench/xml_scan.h"
#include "tap.h"

/* sasl_client.c and xml_scan.c read no option, but bench.h declares them. */
bench_options opt;

static char *b64(const char *s)
{
    return base64_encode((const unsigned char *)s, strlen(s));
}

static char *unb64(const char *s)
{
    size_t n;
    return (char *)base64_decode(s, strlen(s), &n);
}

static void scram_example(auth_mech mech, const char *nonce,
                          const char *server_first, const char *client_final,
                          const char *server_final, const char *what)
{
    sasl_client *s = sasl_client_new(mech, "user", "pencil");
    ok(sasl_client_set_nonce(s, nonce) == 0, "nonce accepted");
    char *first = sasl_client_first(s);
    char *plain = unb64(first);
    char want_first[128];
    snprintf(want_first, sizeof want_first, "n,,n=user,r=%s", nonce);
    is_str(plain, want_first, what);
    free(first);
    free(plain);

    char *challenge = b64(server_first);
    char *response = sasl_client_step(s, challenge, strlen(challenge));
    plain = response ? unb64(response) : NULL;
    is_str(plain, client_final, "client-final with the proof");
    free(challenge);
    free(response);
    free(plain);

    char *success = b64(server_final);
    ok(sasl_client_verify(s, success, strlen(success)) == 1,
       "the server's signature is accepted");
    free(success);
    success = b64("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    ok(sasl_client_verify(s, success, strlen(success)) == 0,
       "a wrong server signature is refused");
    free(success);
    sasl_client_free(s);
}

static void test_scram(void)
{
    /* RFC 5802 §5 */
    scram_example(AUTH_SCRAM_SHA1, "fyko+d2lbbFgONRv9qkxdawL",
                  "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                  "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                  "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "SCRAM-SHA-1 client-first");
    /* RFC 7677 §3 */
    scram_example(AUTH_SCRAM_SHA256, "rOprNGfwEbeRWgbNEkqO",
                  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                  "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "SCRAM-SHA-256 client-first");
    is_int(sasl_client_derivations(), 2, "one PBKDF2 per example");

    /* The same salt again: no second derivation. */
    sasl_client *s = sasl_client_new(AUTH_SCRAM_SHA1, "user", "pencil");
    sasl_client_set_nonce(s, "fyko+d2lbbFgONRv9qkxdawL");
    free(sasl_client_first(s));
    char *challenge = b64("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    char *response = sasl_client_step(s, challenge, strlen(challenge));
    ok(response != NULL, "second login with the same salt");
    is_int(sasl_client_derivations(), 2, "SaltedPassword came from the cache");
    free(challenge);
    free(response);
    sasl_client_free(s);

    /* A server nonce that does not extend ours is refused (RFC 5802 §5.1). */
    s = sasl_client_new(AUTH_SCRAM_SHA1, "user", "pencil");
    sasl_client_set_nonce(s, "abc");
    free(sasl_client_first(s));
    challenge = b64("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096");
    ok(sasl_client_step(s, challenge, strlen(challenge)) == NULL,
       "a foreign server nonce is refused");
    free(challenge);
    sasl_client_free(s);

    /* PLAIN: NUL user NUL password. */
    s = sasl_client_new(AUTH_PLAIN, "bench7", "secret");
    char *first = sasl_client_first(s);
    is_str(first, "AGJlbmNoNwBzZWNyZXQ=", "PLAIN initial response");
    free(first);
    sasl_client_free(s);
    sasl_client_cleanup();
}

/* ---- the scanner ---- */

typedef struct seen {
    int opens, closes;
    char elements[8][256];
    int count;
} seen;

static int on_open(void *ud, const char *tag, size_t len)
{
    (void)tag; (void)len;
    ((seen *)ud)->opens++;
    return 0;
}

static int on_element(void *ud, const char *el, size_t len)
{
    seen *s = ud;
    if (s->count < 8)
        snprintf(s->elements[s->count++], 256, "%.*s", (int)len, el);
    return 0;
}

static int on_close(void *ud)
{
    ((seen *)ud)->closes++;
    return 0;
}

static const xml_scan_handler handler = {on_open, on_element, on_close};

/* Feeds text in pieces of `step` bytes, keeping what was not used, as the
 * transport does. */
static void feed_in_steps(const char *text, size_t step, seen *s)
{
    char buf[2048];
    size_t have = 0, given = 0, total = strlen(text);
    int depth = 0;
    memset(s, 0, sizeof *s);
    while (given < total) {
        size_t n = total - given < step ? total - given : step;
        memcpy(buf + have, text + given, n);
        have += n;
        given += n;
        size_t used = xml_scan(&depth, buf, have, &handler, s);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
}

static void test_scan(void)
{
    const char *stream =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='x'>"
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
        "<message to='a@b/c' note='1 > 0'><body>b:3:12345</body></message> \n"
        "<presence/>"
        "<iq type='result' id=\"bind\"><bind><jid>u@h/r</jid></bind></iq>"
        "</stream:stream>";
    for (size_t step = 1; step <= 64; step *= 4) {
        seen s;
        feed_in_steps(stream, step, &s);
        char what[64];
        snprintf(what, sizeof what, "header, 4 stanzas, close in pieces of %zu bytes", step);
        ok(s.opens == 1 && s.closes == 1 && s.count == 4, what);
        is_str(s.elements[1], "<message to='a@b/c' note='1 > 0'><body>b:3:12345</body></message>",
               "a '>' inside a quoted attribute does not end the tag");
        is_str(s.elements[2], "<presence/>", "self-closing top-level element");
    }

    const char *iq = "<iq type='result' id=\"bind\"><bind><jid>u@h/r</jid></bind></iq>";
    const char *v;
    size_t vl;
    ok(xml_attr(iq, strlen(iq), "id", &v, &vl) && vl == 4 && memcmp(v, "bind", 4) == 0,
       "double-quoted attribute");
    ok(xml_attr(iq, strlen(iq), "type", &v, &vl) && vl == 6, "single-quoted attribute");
    ok(!xml_attr(iq, strlen(iq), "to", &v, &vl), "no such attribute");
    ok(xml_child_text(iq, strlen(iq), "jid", &v, &vl) && vl == 5 && memcmp(v, "u@h/r", 5) == 0,
       "child text");
    ok(xml_is(iq, strlen(iq), "iq") && !xml_is(iq, strlen(iq), "i"), "element name");
}

/* ---- the histogram ---- */

static void test_histogram(void)
{
    histogram h;
    ok(hist_init(&h) == 0, "histogram");
    for (uint64_t v = 1; v <= 1000; v++)
        hist_add(&h, v);
    is_int(hist_percentile(&h, 50), 500, "p50 exact below 2 ms");
    is_int(hist_percentile(&h, 99), 990, "p99 exact below 2 ms");
    hist_add(&h, 5000000); /* 5 s */
    uint64_t max = hist_percentile(&h, 100);
    ok(max == 5000000, "p100 is the maximum");
    hist_free(&h);
    ok(hist_init(&h) == 0, "histogram");
    for (int i = 0; i < 100; i++)
        hist_add(&h, 123456);
    uint64_t p = hist_percentile(&h, 50);
    ok(p >= 123456 - 124 && p <= 123456 + 124, "within 0.1 % above 2 ms");
    hist_free(&h);
}

int main(void)
{
    gnutls_global_init();
    test_scram();
    test_scan();
    test_histogram();
    gnutls_global_deinit();
    return done_testing();
}
