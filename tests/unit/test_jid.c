/*
 * JID parsing and preparation (core/jid.c): RFC 7622 §3.5 examples as
 * stringprep-era servers treat them, limits, IP literals, IDNs, and the
 * ASCII fast path checked against libidn itself.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stringprep.h>

#include "jid.h"
#include "tap.h"

/* Prepares text and compares with want (NULL: must be rejected). */
static void check_prepare(const char *text, const char *want, const char *what)
{
    char *got = NULL;
    int rc = jid_prepare_string(text, &got);
    char label[512];

    snprintf(label, sizeof label, "%s: %s", what, text);
    if (want == NULL) {
        ok(rc == -1 && got == NULL, label);
    } else {
        is_str(rc == 0 ? got : "(rejected)", want, label);
    }
    free(got);
}

static char *repeat(const char *unit, size_t times, const char *suffix)
{
    size_t unit_len = strlen(unit), suffix_len = strlen(suffix);
    char *s = malloc(unit_len * times + suffix_len + 1);

    for (size_t i = 0; i < times; i++)
        memcpy(s + i * unit_len, unit, unit_len);
    memcpy(s + unit_len * times, suffix, suffix_len + 1);
    return s;
}

static void test_rfc7622_valid_examples(void)
{
    /* RFC 7622 §3.5.1, with the results of nodeprep/resourceprep. */
    check_prepare("juliet@example.com", "juliet@example.com", "valid");
    check_prepare("juliet@example.com/foo", "juliet@example.com/foo", "valid");
    check_prepare("juliet@example.com/foo bar", "juliet@example.com/foo bar",
                  "space inside a resource");
    check_prepare("juliet@example.com/foo@bar", "juliet@example.com/foo@bar",
                  "'@' inside a resource");
    check_prepare("foo\\20bar@example.com", "foo\\20bar@example.com",
                  "XEP-0106 escape is kept");
    check_prepare("fussball@example.com", "fussball@example.com", "valid");
    check_prepare("fu\xc3\x9f" "ball@example.com", "fussball@example.com",
                  "nodeprep folds sharp s to ss");
    check_prepare("\xcf\x80@example.com", "\xcf\x80@example.com", "pi");
    check_prepare("\xce\xa3@example.com/foo", "\xcf\x83@example.com/foo",
                  "capital sigma folds to sigma");
    check_prepare("\xcf\x83@example.com/foo", "\xcf\x83@example.com/foo",
                  "small sigma");
    check_prepare("\xcf\x82@example.com/foo", "\xcf\x83@example.com/foo",
                  "final sigma folds to sigma under nodeprep");
    check_prepare("king@example.com/\xe2\x99\x9a", "king@example.com/\xe2\x99\x9a",
                  "symbol in a resource");
    check_prepare("example.com", "example.com", "domain only");
    check_prepare("example.com/foobar", "example.com/foobar",
                  "domain and resource");
    check_prepare("a.example.com/b@example.net", "a.example.com/b@example.net",
                  "'@' after the '/' belongs to the resource");

    mynah_jid *jid = jid_new("a.example.com/b@example.net");
    ok(jid && jid_local(jid) == NULL, "no local part before the '/'");
    is_str(jid ? jid_domain(jid) : NULL, "a.example.com", "domain of a.example.com/b@example.net");
    is_str(jid ? jid_resource(jid) : NULL, "b@example.net", "resource of a.example.com/b@example.net");
    jid_free(jid);
}

static void test_rfc7622_invalid_examples(void)
{
    check_prepare("\"juliet\"@example.com", NULL, "quotes in a local part");
    check_prepare("foo bar@example.com", NULL, "space in a local part");
    check_prepare("@example.com/", NULL, "empty local part and resource");
    check_prepare("juliet@", NULL, "empty domain");
    check_prepare("/foobar", NULL, "empty domain before a resource");
    check_prepare("@example.com", NULL, "empty local part");
    check_prepare("example.com/", NULL, "empty resource");
    check_prepare("", NULL, "empty string");

    /* Where RFC 7622 (PRECIS) rejects and stringprep accepts, mynah does
     * what stringprep-era servers do, so that federation agrees. */
    check_prepare("juliet@example.com/ foo", "juliet@example.com/ foo",
                  "stringprep: leading space in a resource is kept");
    check_prepare("henri\xe2\x85\xa3@example.com", "henriiv@example.com",
                  "stringprep: roman numeral four maps to iv");
    check_prepare("\xe2\x99\x9a@example.com", "\xe2\x99\x9a@example.com",
                  "stringprep: a symbol is a valid local part");
}

static void test_case_folding(void)
{
    check_prepare("JuLiet@Example.COM/Balcony", "juliet@example.com/Balcony",
                  "local and domain lowercased, resource kept");
    check_prepare("\xc3\x84\xc3\x96@B\xc3\x9c" "CHER.Example",
                  "\xc3\xa4\xc3\xb6@b\xc3\xbc" "cher.example",
                  "non-ASCII local and domain lowercased");
    check_prepare("user@example.com/R\xc3\x89S", "user@example.com/R\xc3\x89S",
                  "resourceprep does not fold case");
    check_prepare("\xef\xbc\xa1\xef\xbc\xa2@example.com", "ab@example.com",
                  "fullwidth letters fold to ASCII");
}

static void test_domains(void)
{
    check_prepare("example.com.", "example.com", "trailing dot removed");
    check_prepare("user@example.com./res", "user@example.com/res",
                  "trailing dot removed before a resource");
    check_prepare("example.com..", NULL, "only one trailing dot is removed");
    check_prepare(".", NULL, "a lone dot");
    check_prepare("a..b", NULL, "empty label");
    check_prepare(".example.com", NULL, "leading dot");
    check_prepare("-example.com", NULL, "label starting with a hyphen");
    check_prepare("example-.com", NULL, "label ending with a hyphen");
    check_prepare("ex-ample.com", "ex-ample.com", "hyphen inside a label");
    check_prepare("a_b.example", NULL, "underscore is not LDH");
    check_prepare("a b.example", NULL, "space in a domain");
    check_prepare("user@exa:mple.com", NULL, "colon in a domain");
    check_prepare("example\xe3\x80\x82" "com", "example.com",
                  "ideographic full stop separates labels");
    check_prepare("example\xef\xbc\x8e" "com\xef\xbd\xa1", "example.com",
                  "fullwidth and halfwidth dots, trailing one removed");

    /* IP literals (RFC 7622 §3.2). */
    check_prepare("user@127.0.0.1/r", "user@127.0.0.1/r", "IPv4 literal");
    check_prepare("192.168.0.1.", "192.168.0.1", "IPv4 literal, trailing dot");
    check_prepare("1.2.3", NULL, "three numbers are not an address");
    check_prepare("256.1.1.1", NULL, "octet out of range");
    check_prepare("example.123", NULL, "all-numeric top-level label");
    check_prepare("123.example", "123.example", "numeric label not last");
    check_prepare("user@[::1]/r", "user@[::1]/r", "IPv6 literal");
    check_prepare("[0:0:0:0:0:0:0:1]", "[::1]", "IPv6 written in RFC 5952 form");
    check_prepare("[2001:DB8::A]", "[2001:db8::a]", "IPv6 hex lowercased");
    check_prepare("[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", "IPv4-mapped IPv6");
    check_prepare("[::1", NULL, "unclosed bracket");
    check_prepare("::1", NULL, "IPv6 without brackets");
    check_prepare("[fe80::1%eth0]", NULL, "zone identifier");
    check_prepare("[v1.x]", NULL, "IPvFuture");
    check_prepare("[]", NULL, "empty brackets");

    /* Internationalised names. */
    check_prepare("B\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example", "U-label lowercased");
    check_prepare("xn--bcher-kva.example", "b\xc3\xbc" "cher.example",
                  "A-label turned into its U-label");
    check_prepare("XN--BCHER-KVA.example", "b\xc3\xbc" "cher.example",
                  "A-label in capitals");
    check_prepare("fa\xc3\x9f.de", "fass.de", "nameprep folds sharp s");
    check_prepare("xn--fa-hia.de", "xn--fa-hia.de",
                  "IDNA2008-only A-label kept as it is");
    check_prepare("xn--ab-c.example", "xn--ab-c.example",
                  "A-label that does not decode is kept");
    check_prepare("\xd7\xa2\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa.com",
                  "\xd7\xa2\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa.com",
                  "right-to-left label next to an ASCII one");
    check_prepare("\xe2\x99\x9a.example", NULL, "symbol in a domain (IDNA2008)");
    check_prepare("\xc3\xbc_x.example", NULL, "underscore in a U-label");
    check_prepare("a\xe2\x80\xa4" "b.example", NULL,
                  "one dot leader becomes a dot inside a label");
    check_prepare("\xc2\xad.example", NULL, "label mapped to nothing");
    check_prepare("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1", "127.0.0.1",
                  "fullwidth digits make an IPv4 address");
}

static void test_rejected_input(void)
{
    check_prepare("\xff@example.com", NULL, "invalid UTF-8 byte");
    check_prepare("a\xc3@example.com", NULL, "truncated UTF-8 sequence");
    check_prepare("a\xc0\xaf@example.com", NULL, "overlong UTF-8");
    check_prepare("a\xed\xa0\x80@example.com", NULL, "UTF-8 surrogate");
    check_prepare("example.com/\xe2\x99", NULL, "truncated UTF-8 in a resource");
    check_prepare("user@example.com/a\x01" "b", NULL, "control character in a resource");
    check_prepare("user@example.com/a\x7f", NULL, "DEL in a resource");
    check_prepare("a\tb@example.com", NULL, "tab in a local part");
    check_prepare("a\xc2\xa0" "b@example.com", NULL, "no-break space in a local part");
    check_prepare("user@example.com/a\xc2\xa0" "b", "user@example.com/a b",
                  "no-break space in a resource: NFKC makes it a space");
    check_prepare("user@example.com/a\xe1\x9a\x80" "b", NULL,
                  "ogham space mark (C.1.2) in a resource");
    check_prepare("\xc8\xa1@example.com", NULL,
                  "code point unassigned in Unicode 3.2");
    check_prepare("\xd7\x90" "a@example.com", NULL, "bidi: RTL and LTR mixed");
    check_prepare("a&b@example.com", NULL, "'&' in a local part");
    check_prepare("a'b@example.com", NULL, "apostrophe in a local part");
    check_prepare("a:b@example.com", NULL, "':' in a local part");
    check_prepare("a<b@example.com", NULL, "'<' in a local part");
    check_prepare("a>b@example.com", NULL, "'>' in a local part");
    check_prepare("\xef\xbc\xa0" "a@example.com", NULL,
                  "fullwidth '@' folds to a forbidden '@'");
    check_prepare("a@b@example.com", NULL, "a second '@' lands in the domain");
}

static void test_lengths(void)
{
    char *s;

    s = repeat("a", 1023, "@example.com");
    check_prepare(s, s, "1023-byte local part");
    free(s);
    s = repeat("a", 1024, "@example.com");
    check_prepare(s, NULL, "1024-byte local part");
    free(s);

    s = repeat("r", 1023, "");
    {
        char *jid = malloc(strlen(s) + 20);
        sprintf(jid, "example.com/%s", s);
        check_prepare(jid, jid, "1023-byte resource");
        strcat(jid, "r");
        check_prepare(jid, NULL, "1024-byte resource");
        free(jid);
    }
    free(s);

    /* 16 labels of 63 bytes and 15 dots: 1023 bytes. */
    s = repeat("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk.",
               16, "");
    s[strlen(s) - 1] = '\0';
    check_prepare(s, s, "1023-byte domain");
    {
        char *longer = malloc(strlen(s) + 3);
        sprintf(longer, "%s.a", s);
        check_prepare(longer, NULL, "1025-byte domain");
        free(longer);
    }
    free(s);
    s = repeat("a", 63, ".example");
    check_prepare(s, s, "63-byte label");
    free(s);
    s = repeat("a", 64, ".example");
    check_prepare(s, NULL, "64-byte label");
    free(s);

    /* The limit applies after preparation, both ways. */
    s = repeat("A", 1023, "\xc2\xad@example.com");
    {
        char *want = repeat("a", 1023, "@example.com");
        check_prepare(s, want, "1024 bytes that prepare to 1023");
        free(want);
    }
    free(s);
    s = repeat("\xc3\x9f", 511, "x@example.com");
    {
        char *want = repeat("ss", 511, "x@example.com");
        check_prepare(s, want, "sharp s expands to 1023 bytes");
        free(want);
    }
    free(s);
    s = repeat("\xc3\x9f", 512, "@example.com");
    check_prepare(s, NULL, "sharp s expands to 1024 bytes");
    free(s);
}

static void test_accessors(void)
{
    mynah_jid *jid = jid_new("Romeo@Example.net/Orchard");

    ok(jid != NULL, "full JID parsed");
    is_str(jid_full(jid), "romeo@example.net/Orchard", "full form");
    is_str(jid_bare(jid), "romeo@example.net", "bare form");
    is_str(jid_local(jid), "romeo", "local part");
    is_str(jid_domain(jid), "example.net", "domain");
    is_str(jid_resource(jid), "Orchard", "resource");
    is_str(jid_part(jid, MYNAH_JID_DOMAIN), "example.net", "jid_part domain");

    mynah_jid *copy = jid_copy(jid);
    jid_free(jid);
    ok(copy != NULL, "copy made");
    is_str(jid_full(copy), "romeo@example.net/Orchard", "copy outlives the original: full");
    is_str(jid_bare(copy), "romeo@example.net", "copy: bare");
    is_str(jid_local(copy), "romeo", "copy: local");
    is_str(jid_domain(copy), "example.net", "copy: domain");
    is_str(jid_resource(copy), "Orchard", "copy: resource");
    jid_free(copy);

    jid = jid_new("Example.net");
    is_str(jid_full(jid), "example.net", "domain-only full");
    is_str(jid_bare(jid), "example.net", "domain-only bare");
    ok(jid_bare(jid) == jid_full(jid), "domain-only bare is the full string");
    ok(jid_local(jid) == NULL && jid_resource(jid) == NULL,
       "domain-only has no local part nor resource");
    jid_free(jid);

    jid = jid_new("example.net/res");
    is_str(jid_bare(jid), "example.net", "domain/resource bare");
    is_str(jid_domain(jid), "example.net", "domain/resource domain");
    ok(jid_local(jid) == NULL, "domain/resource has no local part");
    jid_free(jid);

    jid = jid_new("user@example.net");
    ok(jid_bare(jid) == jid_full(jid), "without resource bare is full");
    ok(jid_resource(jid) == NULL, "no resource");
    jid_free(jid);

    ok(jid_new("juliet@") == NULL, "jid_new rejects an invalid JID");
    ok(jid_new(NULL) == NULL, "jid_new(NULL)");
}

static void test_from_parts(void)
{
    mynah_jid *jid = jid_from_parts("Juliet", "Capulet.LIT", "Balcony");

    is_str(jid ? jid_full(jid) : NULL, "juliet@capulet.lit/Balcony", "from parts: full");
    is_str(jid ? jid_bare(jid) : NULL, "juliet@capulet.lit", "from parts: bare");
    jid_free(jid);

    jid = jid_from_parts(NULL, "capulet.lit", NULL);
    is_str(jid ? jid_full(jid) : NULL, "capulet.lit", "from parts: domain only");
    jid_free(jid);

    jid = jid_from_parts(NULL, "capulet.lit", "a/b@c");
    is_str(jid ? jid_resource(jid) : NULL, "a/b@c", "from parts: resource with '/' and '@'");
    jid_free(jid);

    ok(jid_from_parts("a@b", "capulet.lit", NULL) == NULL, "from parts: '@' in local");
    ok(jid_from_parts("", "capulet.lit", NULL) == NULL, "from parts: empty local");
    ok(jid_from_parts("a", "capulet.lit", "") == NULL, "from parts: empty resource");
    ok(jid_from_parts("a", NULL, NULL) == NULL, "from parts: no domain");
    ok(jid_from_parts("a", "capu/let.lit", NULL) == NULL, "from parts: '/' in domain");
}

static void test_single_profiles(void)
{
    char *s;

    s = jid_nodeprep("Fu\xc3\x9f" "Ball");
    is_str(s, "fussball", "jid_nodeprep");
    free(s);
    ok(jid_nodeprep("a b") == NULL, "jid_nodeprep rejects a space");
    ok(jid_nodeprep("") == NULL, "jid_nodeprep rejects empty");
    s = jid_nameprep("B\xc3\xbc" "cher.Example.");
    is_str(s, "b\xc3\xbc" "cher.example", "jid_nameprep");
    free(s);
    ok(jid_nameprep("exa mple") == NULL, "jid_nameprep rejects non-LDH");
    s = jid_resourceprep("Res Ource/\xe2\x99\x9a");
    is_str(s, "Res Ource/\xe2\x99\x9a", "jid_resourceprep");
    free(s);
    ok(jid_resourceprep("a\nb") == NULL, "jid_resourceprep rejects a newline");
}

/* libidn's answer for one profile, or NULL. */
static char *libidn_prep(const char *text, const Stringprep_profile *profile)
{
    char buf[4096];

    snprintf(buf, sizeof buf, "%s", text);
    if (stringprep(buf, sizeof buf, STRINGPREP_NO_UNASSIGNED, profile) != 0 ||
        buf[0] == '\0')
        return NULL;
    return strdup(buf);
}

/* Whether a nameprepped string is a host name by RFC 1123 §2.1 and RFC
 * 3696 §2: LDH labels of 1..63 bytes, and not an all-numeric last label. */
static bool is_host_name(const char *s)
{
    const char *label = s;
    bool all_digits = true;

    for (;; s++) {
        if (*s == '.' || *s == '\0') {
            size_t len = (size_t)(s - label);
            if (len == 0 || len > 63 || label[0] == '-' || s[-1] == '-')
                return false;
            if (*s == '\0')
                return !all_digits;
            label = s + 1;
            all_digits = true;
        } else if ((*s >= 'a' && *s <= 'z') || *s == '-') {
            all_digits = false;
        } else if (!(*s >= '0' && *s <= '9')) {
            return false;
        }
    }
}

static bool same_answer(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

struct agreement {
    int tried, node_bad, resource_bad, name_bad;
};

/* Compares the three profiles of core/jid.c with libidn on one string. */
static void compare_with_libidn(const char *text, struct agreement *count)
{
    char *want, *got;

    count->tried++;
    want = libidn_prep(text, stringprep_xmpp_nodeprep);
    got = jid_nodeprep(text);
    count->node_bad += !same_answer(got, want);
    free(want);
    free(got);

    want = libidn_prep(text, stringprep_xmpp_resourceprep);
    got = jid_resourceprep(text);
    count->resource_bad += !same_answer(got, want);
    free(want);
    free(got);

    /* libidn's nameprep accepts more: IDNA applies the STD3 (LDH) rule
     * after it.  No input here is an IPv4 address or ends with a dot. */
    want = libidn_prep(text, stringprep_nameprep);
    if (want && !is_host_name(want)) {
        free(want);
        want = NULL;
    }
    got = jid_nameprep(text);
    count->name_bad += !same_answer(got, want);
    free(want);
    free(got);
}

/*
 * The ASCII fast path must give libidn's answer: every ASCII character
 * alone and between letters, for the three profiles, plus some words.
 */
static void test_fast_path_agrees_with_libidn(void)
{
    struct agreement count = { 0, 0, 0, 0 };
    const char *words[] = {
        "juliet", "JULIET", "Juliet-Capulet", "foo\\20bar", "a.b", "-a", "a-",
        "0day", "x--y", "~tilde", "{brace}", "back`tick", "A_B", "a%b",
        "question?", "hash#tag", "a=b", "plus+sign", "star*", "pipe|",
        "Z", "zZ09", "semi;colon", "comma,", "bang!", "dollar$", "(paren)",
        "[bracket]", "caret^", NULL
    };
    char text[8];

    for (int c = 1; c < 128; c++) {
        snprintf(text, sizeof text, "%c", c);
        compare_with_libidn(text, &count);
        snprintf(text, sizeof text, "a%cB", c);
        compare_with_libidn(text, &count);
    }
    for (int i = 0; words[i]; i++)
        compare_with_libidn(words[i], &count);
    ok(count.tried > 280, "compared a few hundred ASCII strings");
    is_int(count.node_bad, 0, "ASCII nodeprep agrees with libidn");
    is_int(count.resource_bad, 0, "ASCII resourceprep agrees with libidn");
    is_int(count.name_bad, 0, "ASCII nameprep + STD3 agrees with libidn");

    /* Whole JIDs: the fast path against libidn applied to each part. */
    const char *jids[][4] = {
        { "Juliet@Capulet.LIT/Balcony", "Juliet", "Capulet.LIT", "Balcony" },
        { "a.b-c@x-y.z/ r e s ", "a.b-c", "x-y.z", " r e s " },
        { "~user+tag@Host.example/Res@//x", "~user+tag", "Host.example", "Res@//x" },
        { "HOST.example/RES", NULL, "HOST.example", "RES" },
    };
    for (size_t i = 0; i < sizeof jids / sizeof jids[0]; i++) {
        char want[256] = "";
        char *part, *got = NULL;
        if (jids[i][1]) {
            part = libidn_prep(jids[i][1], stringprep_xmpp_nodeprep);
            strcat(want, part);
            strcat(want, "@");
            free(part);
        }
        part = libidn_prep(jids[i][2], stringprep_nameprep);
        strcat(want, part);
        free(part);
        part = libidn_prep(jids[i][3], stringprep_xmpp_resourceprep);
        strcat(want, "/");
        strcat(want, part);
        free(part);
        jid_prepare_string(jids[i][0], &got);
        is_str(got, want, jids[i][0]);
        free(got);
    }
}

static void test_idempotent(void)
{
    const char *inputs[] = {
        "JuLiet@Example.COM/Balcony", "fu\xc3\x9f" "ball@example.com",
        "\xce\xa3@example.com/foo", "henri\xe2\x85\xa3@example.com",
        "XN--BCHER-KVA.example", "example\xe3\x80\x82" "com.", "[0::1]/x",
        "\xef\xbc\xa1@\xef\xbc\xa2.example/\xef\xbc\xa3", NULL
    };
    int bad = 0;

    for (int i = 0; inputs[i]; i++) {
        char *once = NULL, *twice = NULL;
        if (jid_prepare_string(inputs[i], &once) != 0 ||
            jid_prepare_string(once, &twice) != 0 || strcmp(once, twice) != 0)
            bad++;
        free(once);
        free(twice);
    }
    is_int(bad, 0, "preparing a prepared JID changes nothing");
}

/* The router's no-allocation check of a client's 'to'. */
static void test_check_prepared(void)
{
    is_int(jid_check_prepared("juliet@example.com/balcony"), 1,
           "a prepared JID is used as is");
    is_int(jid_check_prepared("example.com"), 1, "a prepared domain too");
    is_int(jid_check_prepared("Juliet@Example.COM/Balcony"), 0,
           "case to fold: preparation needed");
    is_int(jid_check_prepared("fu\xc3\x9f" "ball@example.com"), 0,
           "non-ASCII that nodeprep maps: preparation needed");
    is_int(jid_check_prepared("example.com."), 0, "a trailing dot is removed");
    is_int(jid_check_prepared("a b@example.com"), -1, "a space in the local part");
    is_int(jid_check_prepared("@example.com"), -1, "an empty local part");
    is_int(jid_check_prepared("juliet@example.com/"), -1, "an empty resource");
    is_int(jid_check_prepared(NULL), -1, "NULL");
}

int main(void)
{
    test_check_prepared();
    test_rfc7622_valid_examples();
    test_rfc7622_invalid_examples();
    test_case_folding();
    test_domains();
    test_rejected_input();
    test_lengths();
    test_accessors();
    test_from_parts();
    test_single_profiles();
    test_fast_path_agrees_with_libidn();
    test_idempotent();
    return done_testing();
}
