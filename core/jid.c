/*
 * JIDs: parsing (RFC 7622 §3.1) and preparation as stringprep-era servers
 * do it (RFC 6122: nodeprep, nameprep, resourceprep), so that mynah and the
 * servers it federates with agree on which JIDs are equal.
 *
 * Parsing.  The resource is everything after the first '/', the local part
 * is everything before the first '@' that precedes that '/', the domain is
 * what lies between.  A part that is introduced by its separator must not be
 * empty ("@example.com", "example.com/").
 *
 * Preparation, and where it differs from RFC 7622 (PRECIS):
 *
 * - Local part: nodeprep (RFC 6122 Appendix A) with unassigned code points
 *   rejected (JIDs are "stored strings", RFC 3454 §7).  Like every deployed
 *   server we keep stringprep's compatibility mappings: "henriⅣ" becomes
 *   "henriiv" and "fußball" becomes "fussball", and symbols such as "♚" are
 *   accepted, where PRECIS would reject them.
 * - Resource: resourceprep (RFC 6122 Appendix B), so " foo" (leading space)
 *   is a valid resource as it always was.
 * - Domain: split into labels at '.', U+3002, U+FF0E and U+FF61 (RFC 3490
 *   §3.1), one trailing dot removed (RFC 7622 §3.2).  ASCII labels must be
 *   LDH labels (STD3, RFC 1123 §2.1) and are lowercased.  A non-ASCII label
 *   goes through nameprep (what IDNA2003 servers compare) and is then
 *   validated with libidn2 under IDNA2008/UTS#46, which rejects what today's
 *   DNS cannot register (symbols, bidi and joiner violations).  The canonical
 *   form keeps the label as a lowercased U-label, as Prosody does, rather
 *   than as its A-label: clients and humans see "bücher.example", and a
 *   U-label is what RFC 7622 §3.2 asks for.  An A-label given as input
 *   ("xn--bcher-kva") is turned into its U-label so that both spellings
 *   compare equal; an A-label that IDNA2003 cannot turn back into a U-label
 *   (IDNA2008-only names like "xn--fa-hia", faß) is kept as the ASCII label
 *   it is, exactly as IDNA2003's ToUnicode does, so that it still routes.
 *   IP literals: IPv4 in dotted-quad, IPv6 in brackets, written back in
 *   their RFC 5952 text form.
 *
 * Every part is at most JID_PART_MAX bytes after preparation.
 *
 * The ASCII fast path.  Most JIDs are ASCII, and libidn converts each string
 * to UCS-4 and normalises it with several allocations, so ASCII parts are
 * prepared here without it.  What the profiles do to ASCII, from the tables
 * of RFC 3454 (verified against libidn for all 128 ASCII characters in
 * tests/unit/test_jid.c):
 *   - B.1 (mapped to nothing) contains no ASCII code point; B.2 (case
 *     folding, used by nodeprep and nameprep) maps only A-Z to a-z in ASCII;
 *     NFKC leaves ASCII unchanged; every ASCII code point is assigned; none
 *     is RandALCat, so the bidi rule (RFC 3454 §6) cannot fail.
 *   - Prohibited ASCII: C.1.1 is U+0020, C.2.1 is U+0000-U+001F and U+007F;
 *     C.1.2, C.2.2 and C.3-C.9 contain no ASCII.  Nodeprep prohibits C.1.1,
 *     C.2.1 and " & ' / : < > @; resourceprep prohibits C.2.1; nameprep
 *     prohibits neither (IDNA's STD3 rule is what restricts domains to LDH).
 * So for ASCII: nodeprep = lowercase + those prohibitions, resourceprep =
 * identity minus control characters, nameprep + STD3 = lowercase + LDH.
 */
#include "jid.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <stringprep.h>

/*
 * One allocation per JID.  text[] holds, one after the other:
 *   the full form     "local@domain/resource\0"
 *   the bare form     "local@domain\0"      (only when there is a resource)
 *   the local part    "local\0"             (only when there is one)
 * The domain is the tail of the bare form and the resource the tail of the
 * full form, so they need no copy of their own.  Offsets are 16 bits: the
 * whole text is below 2 * 3071 + 1023 + 3 bytes.
 */
#define JID_NO_PART UINT16_MAX

struct mynah_jid {
    uint16_t size;            /* bytes used in text[], for jid_copy */
    uint16_t bare_offset;
    uint16_t local_offset;    /* JID_NO_PART when absent */
    uint16_t domain_offset;
    uint16_t resource_offset; /* JID_NO_PART when absent */
    char text[];
};

/* A prepared part: bytes and length, NUL-terminated. */
struct jid_part_buf {
    char text[JID_PART_MAX + 1];
    size_t len;
};

struct jid_prepared {
    bool has_local;
    bool has_resource;
    struct jid_part_buf local;
    struct jid_part_buf domain;
    struct jid_part_buf resource;
};

/* RFC 6122 Appendix A.5 plus the space of C.1.1: never in a local part. */
static bool jid_local_forbidden_ascii(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || c == '"' || c == '&' || c == '\'' ||
           c == '/' || c == ':' || c == '<' || c == '>' || c == '@';
}

static bool jid_is_ascii(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] >= 0x80)
            return false;
    return true;
}

static char jid_ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static bool jid_is_utf8(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t extra;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

/*
 * Runs one stringprep profile over text[0..len) into out.  libidn works in
 * place in a NUL-terminated buffer; a result that does not fit in
 * JID_PART_MAX bytes is an error anyway.
 */
static int jid_stringprep(const char *text, size_t len,
                          const Stringprep_profile *profile,
                          struct jid_part_buf *out)
{
    char *work = out->text;
    size_t work_size = sizeof out->text;
    int rc;

    if (!jid_is_utf8(text, len))
        return -1;
    /* Mappings can shrink a long input below the limit (B.1 maps to
     * nothing), so a long input gets a scratch buffer of its own. */
    if (len >= work_size) {
        work_size = len + 1;
        work = malloc(work_size);
        if (work == NULL)
            return -1;
    }
    memcpy(work, text, len);
    work[len] = '\0';
    /* Resources (and room nicknames) may hold code points newer than
     * Unicode 3.2, emoji above all: RFC 7622's FreeformClass allows them
     * and clients send them.  Local and domain parts, which name accounts
     * and hosts, stay strict. */
    Stringprep_profile_flags flags =
        profile == stringprep_xmpp_resourceprep ? 0 : STRINGPREP_NO_UNASSIGNED;
    rc = stringprep(work, work_size, flags, profile);
    if (rc == STRINGPREP_OK) {
        out->len = strlen(work);
        if (out->len > JID_PART_MAX)
            rc = STRINGPREP_TOO_SMALL_BUFFER;
        else if (work != out->text)
            memcpy(out->text, work, out->len + 1);
    }
    if (work != out->text)
        free(work);
    return rc == STRINGPREP_OK ? 0 : -1;
}

/* ---- local part ---------------------------------------------------- */

static int jid_prep_local(const char *text, size_t len,
                          struct jid_part_buf *out)
{
    if (jid_is_ascii(text, len)) {
        if (len > JID_PART_MAX)
            return -1;
        for (size_t i = 0; i < len; i++) {
            if (jid_local_forbidden_ascii((unsigned char)text[i]))
                return -1;
            out->text[i] = jid_ascii_lower(text[i]);
        }
        out->text[len] = '\0';
        out->len = len;
    } else {
        if (jid_stringprep(text, len, stringprep_xmpp_nodeprep, out) < 0)
            return -1;
        /* nodeprep prohibits these already; a second look costs little and
         * does not depend on the library's tables. */
        for (size_t i = 0; i < out->len; i++)
            if (jid_local_forbidden_ascii((unsigned char)out->text[i]))
                return -1;
    }
    return out->len > 0 ? 0 : -1;
}

/* ---- resource ------------------------------------------------------ */

static int jid_prep_resource(const char *text, size_t len,
                             struct jid_part_buf *out)
{
    if (jid_is_ascii(text, len)) {
        if (len > JID_PART_MAX)
            return -1;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
                return -1;
        memcpy(out->text, text, len);
        out->text[len] = '\0';
        out->len = len;
    } else if (jid_stringprep(text, len, stringprep_xmpp_resourceprep,
                              out) < 0) {
        return -1;
    }
    return out->len > 0 ? 0 : -1;
}

/* ---- domain -------------------------------------------------------- */

/* Appends bytes to a domain being built; -1 past JID_PART_MAX. */
static int jid_domain_append(struct jid_part_buf *out, const char *bytes,
                             size_t len)
{
    if (len > JID_PART_MAX - out->len)
        return -1;
    memcpy(out->text + out->len, bytes, len);
    out->len += len;
    out->text[out->len] = '\0';
    return 0;
}

static bool jid_has_ace_prefix(const char *label, size_t len)
{
    return len >= 4 && jid_ascii_lower(label[0]) == 'x' &&
           jid_ascii_lower(label[1]) == 'n' && label[2] == '-' &&
           label[3] == '-';
}

/* An STD3 (LDH) label, lowercased into out: 1..63 letters, digits and
 * hyphens, not starting or ending with a hyphen (RFC 1123 §2.1). */
static int jid_ldh_label(const char *label, size_t len, char *out)
{
    if (len == 0 || len > 63 || label[0] == '-' || label[len - 1] == '-')
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = jid_ascii_lower(label[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return -1;
        out[i] = c;
    }
    return 0;
}

/*
 * Validates a nameprepped, non-ASCII label with libidn2 (IDNA2008 with the
 * UTS#46 mapping) and requires that its A-label converts back to exactly
 * this label, so that one DNS name has one canonical U-label.  The ASCII
 * code points in it must be LDH: libidn2 2.3 drops some STD3-disallowed
 * ASCII (like '_') instead of failing.
 */
static int jid_validate_ulabel(const char *label)
{
    const int flags = IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL |
                      IDN2_USE_STD3_ASCII_RULES;
    uint8_t *alabel = NULL;
    char *back = NULL;
    int ok;

    for (const char *p = label; *p; p++) {
        char c = *p;
        if ((unsigned char)c < 0x80 && !((c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-'))
            return -1;
    }
    if (idn2_lookup_u8((const uint8_t *)label, &alabel, flags) != IDN2_OK)
        return -1;
    ok = strlen((const char *)alabel) <= 63 &&
         idn2_to_unicode_8z8z((const char *)alabel, &back, 0) == IDN2_OK &&
         strcmp(back, label) == 0;
    idn2_free(back);
    idn2_free(alabel);
    return ok ? 0 : -1;
}

static int jid_domain_ulabel(const char *nameprepped, struct jid_part_buf *out)
{
    if (jid_validate_ulabel(nameprepped) < 0)
        return -1;
    return jid_domain_append(out, nameprepped, strlen(nameprepped));
}

/*
 * An ASCII label starting with "xn--": its U-label when IDNA2003 can turn
 * it into one (decodes to non-ASCII that nameprep leaves unchanged), else
 * the ASCII label itself (RFC 3490 §4.2: ToUnicode returns its input when it
 * fails).  label is already lowercased and LDH.
 */
static int jid_domain_alabel(const char *label, struct jid_part_buf *out)
{
    struct jid_part_buf ulabel;
    char *decoded = NULL;
    bool convertible = false;
    int rc;

    if (idn2_to_unicode_8z8z(label, &decoded, 0) == IDN2_OK &&
        !jid_is_ascii(decoded, strlen(decoded)) &&
        jid_stringprep(decoded, strlen(decoded), stringprep_nameprep,
                       &ulabel) == 0 &&
        strcmp(ulabel.text, decoded) == 0)
        convertible = true;
    idn2_free(decoded);
    if (convertible)
        rc = jid_domain_ulabel(ulabel.text, out);
    else
        rc = jid_domain_append(out, label, strlen(label));
    return rc;
}

static int jid_domain_ascii_label(const char *label, size_t len,
                                  struct jid_part_buf *out)
{
    char lower[64];

    if (jid_ldh_label(label, len, lower) < 0)
        return -1;
    lower[len] = '\0';
    if (jid_has_ace_prefix(lower, len))
        return jid_domain_alabel(lower, out);
    return jid_domain_append(out, lower, len);
}

static int jid_domain_label(const char *label, size_t len,
                            struct jid_part_buf *out)
{
    struct jid_part_buf prepped;

    if (jid_is_ascii(label, len))
        return jid_domain_ascii_label(label, len, out);
    /* IDNA2003 applies nameprep to each label, not to the whole name: the
     * bidi rule would otherwise reject "עברית.com". */
    if (jid_stringprep(label, len, stringprep_nameprep, &prepped) < 0)
        return -1;
    if (jid_is_ascii(prepped.text, prepped.len))
        return jid_domain_ascii_label(prepped.text, prepped.len, out);
    return jid_domain_ulabel(prepped.text, out);
}

/* "[v6address]", written back in RFC 5952 form by inet_ntop. */
static int jid_prep_ip6_literal(const char *text, size_t len,
                                struct jid_part_buf *out)
{
    char inner[INET6_ADDRSTRLEN];
    char canonical[INET6_ADDRSTRLEN];
    struct in6_addr addr;

    if (len < 3 || text[len - 1] != ']' || len - 2 >= sizeof inner)
        return -1;
    memcpy(inner, text + 1, len - 2);
    inner[len - 2] = '\0';
    if (inet_pton(AF_INET6, inner, &addr) != 1 ||
        inet_ntop(AF_INET6, &addr, canonical, sizeof canonical) == NULL)
        return -1;
    out->len = 0;
    if (jid_domain_append(out, "[", 1) < 0 ||
        jid_domain_append(out, canonical, strlen(canonical)) < 0 ||
        jid_domain_append(out, "]", 1) < 0)
        return -1;
    return 0;
}

/*
 * Copies a non-ASCII domain with the IDNA2003 label separators U+3002,
 * U+FF0E and U+FF61 turned into '.' (RFC 3490 §3.1).  Returns the new
 * length, or -1 if the bytes are not UTF-8.
 */
static long jid_map_label_separators(const char *text, size_t len, char *out)
{
    size_t n = 0;

    if (!jid_is_utf8(text, len))
        return -1;
    for (size_t i = 0; i < len; i++) {
        const unsigned char *s = (const unsigned char *)text + i;
        if (len - i >= 3 && ((s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x82) ||
                             (s[0] == 0xef && s[1] == 0xbc && s[2] == 0x8e) ||
                             (s[0] == 0xef && s[1] == 0xbd && s[2] == 0xa1))) {
            out[n++] = '.';
            i += 2;
        } else {
            out[n++] = text[i];
        }
    }
    return (long)n;
}

/* A last label of digits only is a dotted-quad IPv4 address or nothing: no
 * top-level domain is all-numeric (RFC 3696 §2). */
static int jid_check_numeric_domain(const struct jid_part_buf *domain)
{
    const char *last = strrchr(domain->text, '.');
    struct in_addr addr;

    last = last ? last + 1 : domain->text;
    for (const char *p = last; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return inet_pton(AF_INET, domain->text, &addr) == 1 ? 0 : -1;
}

static int jid_prep_domain_labels(const char *text, size_t len,
                                  struct jid_part_buf *out)
{
    size_t start = 0;

    /* One final dot is not part of the name (RFC 7622 §3.2). */
    if (len > 0 && text[len - 1] == '.')
        len--;
    if (len == 0)
        return -1;
    out->len = 0;
    out->text[0] = '\0';
    while (start <= len) {
        const char *dot = memchr(text + start, '.', len - start);
        size_t end = dot ? (size_t)(dot - text) : len;

        if (start > 0 && jid_domain_append(out, ".", 1) < 0)
            return -1;
        if (jid_domain_label(text + start, end - start, out) < 0)
            return -1;
        start = end + 1;
    }
    return jid_check_numeric_domain(out);
}

static int jid_prep_domain(const char *text, size_t len,
                           struct jid_part_buf *out)
{
    char *mapped;
    long mapped_len;
    int rc;

    if (len > 0 && text[0] == '[')
        return jid_prep_ip6_literal(text, len, out);
    if (jid_is_ascii(text, len))
        return jid_prep_domain_labels(text, len, out);
    mapped = malloc(len + 1);
    if (mapped == NULL)
        return -1;
    mapped_len = jid_map_label_separators(text, len, mapped);
    rc = mapped_len < 0 ? -1
                        : jid_prep_domain_labels(mapped, (size_t)mapped_len, out);
    free(mapped);
    return rc;
}

/* ---- whole JIDs ---------------------------------------------------- */

/* RFC 7622 §3.1: resource after the first '/', local part before the first
 * '@' that comes before it. */
static int jid_parse(const char *text, struct jid_prepared *jid)
{
    const char *slash = strchr(text, '/');
    size_t bare_len = slash ? (size_t)(slash - text) : strlen(text);
    const char *at = memchr(text, '@', bare_len);
    const char *domain = at ? at + 1 : text;
    size_t domain_len = bare_len - (size_t)(domain - text);

    jid->has_local = at != NULL;
    jid->has_resource = slash != NULL;
    if (jid->has_local &&
        jid_prep_local(text, (size_t)(at - text), &jid->local) < 0)
        return -1;
    if (jid_prep_domain(domain, domain_len, &jid->domain) < 0)
        return -1;
    if (jid->has_resource &&
        jid_prep_resource(slash + 1, strlen(slash + 1), &jid->resource) < 0)
        return -1;
    return 0;
}

static int jid_prepare_parts(const char *local, const char *domain,
                             const char *resource, struct jid_prepared *jid)
{
    if (domain == NULL)
        return -1;
    jid->has_local = local != NULL;
    jid->has_resource = resource != NULL;
    if (local && jid_prep_local(local, strlen(local), &jid->local) < 0)
        return -1;
    if (jid_prep_domain(domain, strlen(domain), &jid->domain) < 0)
        return -1;
    if (resource &&
        jid_prep_resource(resource, strlen(resource), &jid->resource) < 0)
        return -1;
    return 0;
}

static size_t jid_bare_len(const struct jid_prepared *jid)
{
    return (jid->has_local ? jid->local.len + 1 : 0) + jid->domain.len;
}

/* Writes "local@domain" or "local@domain/resource" (NUL-terminated) to out,
 * which has room for it; returns the length. */
static size_t jid_write(const struct jid_prepared *jid, bool with_resource,
                        char *out)
{
    size_t n = 0;

    if (jid->has_local) {
        memcpy(out, jid->local.text, jid->local.len);
        n = jid->local.len;
        out[n++] = '@';
    }
    memcpy(out + n, jid->domain.text, jid->domain.len);
    n += jid->domain.len;
    if (with_resource && jid->has_resource) {
        out[n++] = '/';
        memcpy(out + n, jid->resource.text, jid->resource.len);
        n += jid->resource.len;
    }
    out[n] = '\0';
    return n;
}

static mynah_jid *jid_build(const struct jid_prepared *prepared)
{
    size_t bare_len = jid_bare_len(prepared);
    size_t full_len = bare_len +
        (prepared->has_resource ? prepared->resource.len + 1 : 0);
    size_t size = full_len + 1;
    size_t bare_offset = 0;
    size_t local_offset = JID_NO_PART;
    mynah_jid *jid;

    if (prepared->has_resource) {
        bare_offset = size;
        size += bare_len + 1;
    }
    if (prepared->has_local) {
        local_offset = size;
        size += prepared->local.len + 1;
    }
    jid = malloc(sizeof *jid + size);
    if (jid == NULL)
        return NULL;
    jid->size = (uint16_t)size;
    jid->bare_offset = (uint16_t)bare_offset;
    jid->local_offset = (uint16_t)local_offset;
    jid->domain_offset = (uint16_t)(bare_offset + bare_len -
                                    prepared->domain.len);
    jid->resource_offset = prepared->has_resource
                               ? (uint16_t)(bare_len + 1) : JID_NO_PART;
    jid_write(prepared, true, jid->text);
    if (prepared->has_resource)
        jid_write(prepared, false, jid->text + bare_offset);
    if (prepared->has_local)
        memcpy(jid->text + local_offset, prepared->local.text,
               prepared->local.len + 1);
    return jid;
}

mynah_jid *jid_new(const char *text)
{
    struct jid_prepared prepared;

    if (text == NULL || jid_parse(text, &prepared) < 0)
        return NULL;
    return jid_build(&prepared);
}

mynah_jid *jid_from_parts(const char *local, const char *domain,
                          const char *resource)
{
    struct jid_prepared prepared;

    if (jid_prepare_parts(local, domain, resource, &prepared) < 0)
        return NULL;
    return jid_build(&prepared);
}

mynah_jid *jid_copy(const mynah_jid *jid)
{
    mynah_jid *copy = malloc(sizeof *jid + jid->size);

    if (copy != NULL)
        memcpy(copy, jid, sizeof *jid + jid->size);
    return copy;
}

void jid_free(mynah_jid *jid)
{
    free(jid);
}

const char *jid_full(const mynah_jid *jid)
{
    return jid->text;
}

const char *jid_bare(const mynah_jid *jid)
{
    return jid->text + jid->bare_offset;
}

const char *jid_part(const mynah_jid *jid, enum mynah_jid_part part)
{
    switch (part) {
    case MYNAH_JID_LOCAL:
        return jid->local_offset == JID_NO_PART
                   ? NULL : jid->text + jid->local_offset;
    case MYNAH_JID_DOMAIN:
        return jid->text + jid->domain_offset;
    case MYNAH_JID_RESOURCE:
        return jid->resource_offset == JID_NO_PART
                   ? NULL : jid->text + jid->resource_offset;
    }
    return NULL;
}

int jid_prepare_string(const char *text, char **out)
{
    struct jid_prepared prepared;
    size_t len;

    *out = NULL;
    if (text == NULL || jid_parse(text, &prepared) < 0)
        return -1;
    len = jid_bare_len(&prepared) +
          (prepared.has_resource ? prepared.resource.len + 1 : 0);
    *out = malloc(len + 1);
    if (*out == NULL)
        return -1;
    jid_write(&prepared, true, *out);
    return 0;
}

int jid_check_prepared(const char *text)
{
    struct jid_prepared prepared;
    /* Room for the longest valid JID: three parts and two separators. */
    char canonical[3 * (JID_PART_MAX + 1) + 2];

    if (text == NULL || jid_parse(text, &prepared) < 0)
        return -1;
    jid_write(&prepared, true, canonical);
    return strcmp(canonical, text) == 0 ? 1 : 0;
}

static char *jid_part_dup(const struct jid_part_buf *part)
{
    char *copy = malloc(part->len + 1);

    if (copy != NULL)
        memcpy(copy, part->text, part->len + 1);
    return copy;
}

char *jid_nodeprep(const char *text)
{
    struct jid_part_buf part;

    if (text == NULL || jid_prep_local(text, strlen(text), &part) < 0)
        return NULL;
    return jid_part_dup(&part);
}

char *jid_nameprep(const char *text)
{
    struct jid_part_buf part;

    if (text == NULL || jid_prep_domain(text, strlen(text), &part) < 0)
        return NULL;
    return jid_part_dup(&part);
}

char *jid_resourceprep(const char *text)
{
    struct jid_part_buf part;

    if (text == NULL || jid_prep_resource(text, strlen(text), &part) < 0)
        return NULL;
    return jid_part_dup(&part);
}
