/*
 * SASL for c2s (RFC 6120 §6) on GNU SASL 2.2.
 *
 * One Gsasl context serves the whole process; each exchange is a
 * Gsasl_session whose hook points back at our sasl_server.  GNU SASL runs
 * the mechanisms and asks us for what it needs through on_property():
 * SCRAM salts, iteration counts and keys (from accounts.c), channel
 * binding data (handed to us by the c2s layer), and the verdict on a
 * PLAIN password.
 *
 * We look at the GS2 header of a SCRAM client-first-message ourselves
 * before GNU SASL does, only to answer with the precise RFC 6120 §6.5
 * condition; GNU SASL enforces the same rules again.
 */
#include "sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>

#include "accounts.h"
#include "jid.h"
#include "log.h"

#define LOG_WHO "sasl"

/* A SASL message larger than this is not one of ours (a SCRAM
 * client-final-message with a long nonce is well under 1 KiB). */
#define SASL_MESSAGE_MAX 8192

typedef struct mechanism_info {
    const char *name;
    int scram;
    scram_hash hash;
    int plus;
} mechanism_info;

/* In the order they are advertised: strongest first. */
static const mechanism_info mechanisms[] = {
    {"SCRAM-SHA-256-PLUS", 1, SCRAM_SHA256, 1},
    {"SCRAM-SHA-1-PLUS", 1, SCRAM_SHA1, 1},
    {"SCRAM-SHA-256", 1, SCRAM_SHA256, 0},
    {"SCRAM-SHA-1", 1, SCRAM_SHA1, 0},
    {"PLAIN", 0, SCRAM_SHA256, 0},
};
#define MECHANISM_COUNT (sizeof mechanisms / sizeof mechanisms[0])

static Gsasl *gsasl_context;
static int mechanism_supported[MECHANISM_COUNT];
/* Keys the fake credentials of unknown users (see fake_credentials). */
static unsigned char fake_secret[32];

typedef enum exchange_state {
    EXCHANGE_IDLE = 0,
    EXCHANGE_RUNNING,
    EXCHANGE_DONE
} exchange_state;

struct sasl_server {
    char *host;
    int encrypted;
    int allow_plain;
    unsigned char *cb_exporter;
    size_t cb_exporter_len;
    unsigned char *cb_unique;
    size_t cb_unique_len;
    const char *offered[MECHANISM_COUNT];
    size_t offered_count;

    /* The exchange in progress. */
    exchange_state state;
    const mechanism_info *mechanism;
    Gsasl_session *session;
    size_t client_messages;     /* messages the mechanism has been given */
    char *user;                 /* nodeprepped authcid, once known */
    int user_known;             /* an account exists for user */
    int credentials_loaded;
    scram_credentials credentials;
    int storage_failed;         /* answer temporary-auth-failure */
    int authzid_refused;        /* answer invalid-authzid */
    int secret_refused;         /* the last failure was a wrong password
                                   or proof (not syntax, not a downgrade) */
    char *username;             /* after success */
};

/* ---- base64 as on the wire (RFC 6120 §6.4.2 and §13.9.7) ---- */

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Strict RFC 4648 §4 decoding: no whitespace, padding only at the end and
 * only to a multiple of four.  Returns a malloc'd NUL-terminated buffer
 * (GNU SASL's PLAIN parser runs strlen over its input), or NULL with
 * *bad = 1 when the text is not base64 (or *bad = 0 when out of memory).
 */
static unsigned char *base64_decode(const char *text, size_t *out_len,
                                    int *bad)
{
    size_t len = strlen(text);
    *bad = 1;
    if (len % 4 != 0)
        return NULL;
    size_t pad = 0;
    if (len > 0 && text[len - 1] == '=')
        pad = (len > 1 && text[len - 2] == '=') ? 2 : 1;
    unsigned char *out = malloc(len / 4 * 3 + 1);
    if (out == NULL) {
        *bad = 0;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = (i + 4 == len);
        int v[4];
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)text[i + k];
            if (last && c == '=' && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            v[k] = base64_value(c);
            if (v[k] < 0) {
                free(out);
                return NULL;
            }
        }
        unsigned long group = (unsigned long)v[0] << 18 |
                              (unsigned long)v[1] << 12 |
                              (unsigned long)v[2] << 6 | (unsigned long)v[3];
        out[n++] = (unsigned char)(group >> 16);
        if (!last || pad < 2)
            out[n++] = (unsigned char)(group >> 8);
        if (!last || pad < 1)
            out[n++] = (unsigned char)group;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static char *base64_encode(const unsigned char *data, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long group = (unsigned long)data[i] << 16;
        if (i + 1 < len)
            group |= (unsigned long)data[i + 1] << 8;
        if (i + 2 < len)
            group |= data[i + 2];
        out[n++] = base64_alphabet[group >> 18 & 63];
        out[n++] = base64_alphabet[group >> 12 & 63];
        out[n++] = i + 1 < len ? base64_alphabet[group >> 6 & 63] : '=';
        out[n++] = i + 2 < len ? base64_alphabet[group & 63] : '=';
    }
    out[n] = '\0';
    return out;
}

/* ---- credentials ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* GNU SASL 2.2 reads GSASL_SCRAM_STOREDKEY/SERVERKEY as base64 (whatever
 * its header says); accounts keep hex.  NULL if the hex is damaged. */
static char *hex_to_base64(const char *hex)
{
    unsigned char bytes[64];
    size_t len = strlen(hex);
    if (len == 0 || len % 2 != 0 || len / 2 > sizeof bytes)
        return NULL;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NULL;
        bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    return base64_encode(bytes, len / 2);
}

static size_t hash_length(scram_hash hash)
{
    return hash == SCRAM_SHA1 ? 20 : 32;
}

/* HMAC-SHA-256(fake_secret, label NUL host NUL user): stable per name. */
static int fake_bytes(const char *label, const char *host, const char *user,
                      unsigned char out[32])
{
    size_t llen = strlen(label) + 1, hlen = strlen(host) + 1;
    size_t ulen = strlen(user);
    char *text = malloc(llen + hlen + ulen);
    if (text == NULL)
        return -1;
    memcpy(text, label, llen);
    memcpy(text + llen, host, hlen);
    memcpy(text + llen + hlen, user, ulen);
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, fake_secret,
                              sizeof fake_secret, text, llen + hlen + ulen,
                              out);
    free(text);
    return rc < 0 ? -1 : 0;
}

/*
 * Credentials for a user that does not exist.  RFC 5802 §9 (and common
 * practice) asks that the exchange look the same as for a real user: the
 * salt is stable for a given name (a fresh one per attempt would tell the
 * names apart), as long as a real one, the iteration count is the one new
 * accounts get, and the keys are ones no client can produce a proof for,
 * so the exchange fails at the proof exactly like a wrong password.
 */
static int fake_credentials(const char *host, const char *user,
                            scram_hash hash, scram_credentials *out)
{
    unsigned char salt[32], stored[32], server[32];
    const char *label = hash == SCRAM_SHA1 ? "sha1" : "sha256";
    char name[16];

    snprintf(name, sizeof name, "%s.salt", label);
    if (fake_bytes(name, host, user, salt) < 0)
        return -1;
    snprintf(name, sizeof name, "%s.stored", label);
    if (fake_bytes(name, host, user, stored) < 0)
        return -1;
    snprintf(name, sizeof name, "%s.server", label);
    if (fake_bytes(name, host, user, server) < 0)
        return -1;

    char *salt_b64 = base64_encode(salt, ACCOUNTS_SALT_BYTES);
    if (salt_b64 == NULL)
        return -1;
    out->iterations = accounts_get_iterations();
    snprintf(out->salt_b64, sizeof out->salt_b64, "%s", salt_b64);
    free(salt_b64);
    static const char digits[] = "0123456789abcdef";
    size_t hlen = hash_length(hash);
    for (size_t i = 0; i < hlen; i++) {
        out->stored_key_hex[2 * i] = digits[stored[i] >> 4];
        out->stored_key_hex[2 * i + 1] = digits[stored[i] & 15];
        out->server_key_hex[2 * i] = digits[server[i] >> 4];
        out->server_key_hex[2 * i + 1] = digits[server[i] & 15];
    }
    out->stored_key_hex[2 * hlen] = '\0';
    out->server_key_hex[2 * hlen] = '\0';
    return 0;
}

/* Loads (once per exchange) the SCRAM credentials of the user GNU SASL
 * has just parsed from the client-first-message. */
static int load_scram_credentials(sasl_server *s, Gsasl_session *session)
{
    if (s->credentials_loaded)
        return 0;
    if (s->storage_failed)
        return -1; /* already logged; do not ask the store again */
    const char *authid = gsasl_property_fast(session, GSASL_AUTHID);
    if (authid == NULL)
        return -1;

    scram_hash hash = s->mechanism->hash;
    free(s->user);
    s->user = jid_nodeprep(authid);
    int rc = 1;
    if (s->user != NULL)
        rc = accounts_get_scram(s->host, s->user, hash, &s->credentials);
    if (rc < 0) {
        s->storage_failed = 1;
        return -1;
    }
    s->user_known = (rc == 0);
    if (!s->user_known &&
        fake_credentials(s->host, s->user ? s->user : authid, hash,
                         &s->credentials) < 0) {
        s->storage_failed = 1;
        return -1;
    }
    s->credentials_loaded = 1;
    return 0;
}

static int answer_scram_property(sasl_server *s, Gsasl_session *session,
                                 Gsasl_property prop)
{
    if (load_scram_credentials(s, session) < 0)
        return GSASL_NO_CALLBACK;
    const scram_credentials *c = &s->credentials;
    char number[16];
    char *value = NULL;
    const char *text = NULL;

    switch (prop) {
    case GSASL_SCRAM_ITER:
        snprintf(number, sizeof number, "%u", c->iterations);
        text = number;
        break;
    case GSASL_SCRAM_SALT:
        text = c->salt_b64;
        break;
    case GSASL_SCRAM_STOREDKEY:
        text = value = hex_to_base64(c->stored_key_hex);
        break;
    case GSASL_SCRAM_SERVERKEY:
        text = value = hex_to_base64(c->server_key_hex);
        break;
    default:
        return GSASL_NO_CALLBACK;
    }
    if (text == NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO, "damaged SCRAM keys for %s@%s",
                s->user ? s->user : "?", s->host);
        s->storage_failed = 1;
        return GSASL_NO_CALLBACK;
    }
    int rc = gsasl_property_set(session, prop, text);
    free(value);
    return rc;
}

static int answer_channel_binding(Gsasl_session *session, Gsasl_property prop,
                                  const unsigned char *data, size_t len)
{
    if (data == NULL)
        return GSASL_NO_CALLBACK;
    char *b64 = base64_encode(data, len);
    if (b64 == NULL)
        return GSASL_MALLOC_ERROR;
    int rc = gsasl_property_set(session, prop, b64);
    free(b64);
    return rc;
}

/*
 * The authorization identity (RFC 6120 §6.3.8): the client may name no
 * one, or itself: as its bare JID user@host, or as its authcid (which is
 * what GNU SASL's PLAIN reports when the authzid is absent).  Acting for
 * anyone else is refused with invalid-authzid (§6.5.6); Prosody refuses
 * a different authzid too.  This is only checked after the credentials
 * proved right, so it reveals nothing to a guesser.
 */
static int authzid_acceptable(sasl_server *s, const char *authzid,
                              const char *authcid)
{
    if (authzid == NULL || *authzid == '\0')
        return 1;
    if (authcid != NULL && strcmp(authzid, authcid) == 0)
        return 1;
    char *prepared = NULL;
    if (jid_prepare_string(authzid, &prepared) < 0)
        return 0;
    size_t ulen = strlen(s->user), hlen = strlen(s->host);
    int same = strlen(prepared) == ulen + 1 + hlen &&
               memcmp(prepared, s->user, ulen) == 0 && prepared[ulen] == '@' &&
               memcmp(prepared + ulen + 1, s->host, hlen) == 0;
    free(prepared);
    return same;
}

/* GSASL_VALIDATE_SIMPLE: a PLAIN authcid and password (RFC 4616). */
static int validate_plain(sasl_server *s, Gsasl_session *session)
{
    const char *authcid = gsasl_property_fast(session, GSASL_AUTHID);
    const char *authzid = gsasl_property_fast(session, GSASL_AUTHZID);
    const char *password = gsasl_property_fast(session, GSASL_PASSWORD);
    if (authcid == NULL || password == NULL)
        return GSASL_AUTHENTICATION_ERROR;

    free(s->user);
    s->user = jid_nodeprep(authcid);
    if (s->user == NULL) {
        /* No account can have this name; spend the time a lookup and a
         * derivation would, so that is not visible either. */
        scram_credentials ignored;
        (void)accounts_derive(password, SCRAM_SHA256,
                              accounts_get_iterations(), fake_secret,
                              ACCOUNTS_SALT_BYTES, &ignored);
        return GSASL_AUTHENTICATION_ERROR;
    }
    int rc = accounts_check_password(s->host, s->user, password);
    if (rc < 0) {
        s->storage_failed = 1;
        return GSASL_AUTHENTICATION_ERROR;
    }
    if (rc != 0)
        return GSASL_AUTHENTICATION_ERROR;
    s->user_known = 1;
    if (!authzid_acceptable(s, authzid, authcid)) {
        s->authzid_refused = 1;
        return GSASL_AUTHENTICATION_ERROR;
    }
    return GSASL_OK;
}

static int on_property(Gsasl *context, Gsasl_session *session,
                       Gsasl_property prop)
{
    (void)context;
    sasl_server *s = session ? gsasl_session_hook_get(session) : NULL;
    if (s == NULL)
        return GSASL_NO_CALLBACK;

    switch (prop) {
    case GSASL_SCRAM_ITER:
    case GSASL_SCRAM_SALT:
    case GSASL_SCRAM_STOREDKEY:
    case GSASL_SCRAM_SERVERKEY:
        return answer_scram_property(s, session, prop);
    case GSASL_CB_TLS_EXPORTER:
        return answer_channel_binding(session, prop, s->cb_exporter,
                                      s->cb_exporter_len);
    case GSASL_CB_TLS_UNIQUE:
        return answer_channel_binding(session, prop, s->cb_unique,
                                      s->cb_unique_len);
    case GSASL_VALIDATE_SIMPLE:
        return validate_plain(s, session);
    default:
        /* Never GSASL_PASSWORD: we have none to give. */
        return GSASL_NO_CALLBACK;
    }
}

/* ---- process-wide ---- */

int sasl_global_init(void)
{
    if (gsasl_context != NULL)
        return 0;
    if (gsasl_check_version("2.0.0") == NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO, "GNU SASL 2.0 or later is needed");
        return -1;
    }
    int rc = gsasl_init(&gsasl_context);
    if (rc != GSASL_OK) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO, "gsasl_init: %s",
                gsasl_strerror(rc));
        gsasl_context = NULL;
        return -1;
    }
    if (gnutls_rnd(GNUTLS_RND_KEY, fake_secret, sizeof fake_secret) < 0) {
        gsasl_done(gsasl_context);
        gsasl_context = NULL;
        return -1;
    }
    gsasl_callback_set(gsasl_context, on_property);
    for (size_t i = 0; i < MECHANISM_COUNT; i++) {
        mechanism_supported[i] =
            gsasl_server_support_p(gsasl_context, mechanisms[i].name);
        if (!mechanism_supported[i])
            log_msg(MYNAH_LOG_WARN, LOG_WHO,
                    "GNU SASL lacks %s; it will not be offered",
                    mechanisms[i].name);
    }
    return 0;
}

void sasl_global_done(void)
{
    if (gsasl_context == NULL)
        return;
    gsasl_done(gsasl_context);
    gsasl_context = NULL;
    gnutls_memset(fake_secret, 0, sizeof fake_secret);
}

/* ---- one server ---- */

static unsigned char *copy_bytes(const unsigned char *data, size_t len,
                                 int *failed)
{
    if (data == NULL)
        return NULL;
    unsigned char *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        *failed = 1;
        return NULL;
    }
    memcpy(copy, data, len);
    return copy;
}

sasl_server *sasl_server_new(const sasl_options *options)
{
    if (options == NULL || options->host == NULL || sasl_global_init() < 0)
        return NULL;
    sasl_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    int failed = 0;
    s->host = strdup(options->host);
    s->encrypted = options->tls != NULL;
    s->allow_plain = options->allow_plain != 0;
    /* Channel binding needs a TLS layer to bind to. */
    if (s->encrypted) {
        s->cb_exporter = copy_bytes(options->cb_exporter,
                                    options->cb_exporter_len, &failed);
        s->cb_exporter_len = s->cb_exporter ? options->cb_exporter_len : 0;
        s->cb_unique = copy_bytes(options->cb_unique, options->cb_unique_len,
                                  &failed);
        s->cb_unique_len = s->cb_unique ? options->cb_unique_len : 0;
    }
    if (s->host == NULL || failed) {
        sasl_server_free(s);
        return NULL;
    }

    int can_bind = s->cb_exporter != NULL || s->cb_unique != NULL;
    for (size_t i = 0; i < MECHANISM_COUNT; i++) {
        const mechanism_info *m = &mechanisms[i];
        if (!mechanism_supported[i] || (m->plus && !can_bind) ||
            (!m->scram && !s->allow_plain))
            continue;
        s->offered[s->offered_count++] = m->name;
    }
    return s;
}

static void end_exchange(sasl_server *s)
{
    if (s->session != NULL)
        gsasl_finish(s->session);
    s->session = NULL;
    s->mechanism = NULL;
    s->client_messages = 0;
    free(s->user);
    s->user = NULL;
    free(s->username);
    s->username = NULL;
    s->user_known = 0;
    s->credentials_loaded = 0;
    gnutls_memset(&s->credentials, 0, sizeof s->credentials);
    s->storage_failed = 0;
    s->authzid_refused = 0;
    s->state = EXCHANGE_IDLE;
}

void sasl_server_free(sasl_server *s)
{
    if (s == NULL)
        return;
    end_exchange(s);
    free(s->host);
    free(s->cb_exporter);
    free(s->cb_unique);
    free(s);
}

const char *sasl_mechanism_at(sasl_server *s, size_t index)
{
    if (s == NULL || index >= s->offered_count)
        return NULL;
    return s->offered[index];
}

const char *sasl_channel_binding_at(sasl_server *s, size_t index)
{
    if (s == NULL)
        return NULL;
    const char *types[2];
    size_t count = 0;
    if (s->cb_exporter != NULL)
        types[count++] = "tls-exporter";
    if (s->cb_unique != NULL)
        types[count++] = "tls-unique";
    return index < count ? types[index] : NULL;
}

const char *sasl_username(sasl_server *s)
{
    return s ? s->username : NULL;
}

const char *sasl_mechanism(sasl_server *s)
{
    return s && s->mechanism ? s->mechanism->name : NULL;
}

/* ---- the exchange ---- */

static int fail(sasl_server *s, const char *why, const char **condition)
{
    *condition = why;
    if (s->session != NULL)
        gsasl_finish(s->session);
    s->session = NULL;
    s->state = EXCHANGE_DONE;
    log_msg(MYNAH_LOG_DEBUG, LOG_WHO, "%s login%s%s on %s failed: %s",
            s->mechanism ? s->mechanism->name : "SASL",
            s->user ? " as " : "", s->user ? s->user : "", s->host, why);
    return SASL_FAILURE;
}

static int offered(const sasl_server *s, const char *name)
{
    for (size_t i = 0; i < s->offered_count; i++)
        if (strcmp(s->offered[i], name) == 0)
            return 1;
    return 0;
}

static const mechanism_info *find_mechanism(const char *name)
{
    for (size_t i = 0; i < MECHANISM_COUNT; i++)
        if (strcmp(mechanisms[i].name, name) == 0)
            return &mechanisms[i];
    return NULL;
}

/* 1 if the stream has binding data of this RFC 5056 type. */
static int has_binding(const sasl_server *s, const char *type, size_t len)
{
    if (len == strlen("tls-exporter") && memcmp(type, "tls-exporter", len) == 0)
        return s->cb_exporter != NULL;
    if (len == strlen("tls-unique") && memcmp(type, "tls-unique", len) == 0)
        return s->cb_unique != NULL;
    return 0;
}

/*
 * The gs2-cbind-flag of a client-first-message (RFC 5802 §5.1, §6, §7):
 * NULL if acceptable, or the condition to fail with.
 *  - a -PLUS mechanism needs "p=<type>" with a type this stream has; any
 *    other flag, or a type we cannot provide (RFC 5802's
 *    "unsupported-channel-binding-type"), is malformed-request: the
 *    message contradicts the mechanism or what we advertised (XEP-0440).
 *  - without -PLUS, "p=" is malformed-request for the same reason, and
 *    "y" ("I could bind but think you cannot") while we offered -PLUS
 *    means someone stripped -PLUS from our features: RFC 5802 §6 says
 *    fail the authentication, so not-authorized.
 */
static const char *check_gs2_header(const sasl_server *s,
                                    const unsigned char *msg, size_t len)
{
    const char *text = (const char *)msg;
    const char *comma = memchr(text, ',', len);
    if (comma == NULL)
        return "malformed-request";
    size_t flag_len = (size_t)(comma - text);
    int plus = s->mechanism->plus;

    if (flag_len == 1 && text[0] == 'n')
        return plus ? "malformed-request" : NULL;
    if (flag_len == 1 && text[0] == 'y') {
        if (plus)
            return "malformed-request";
        return (s->cb_exporter || s->cb_unique) ? "not-authorized" : NULL;
    }
    if (flag_len > 2 && text[0] == 'p' && text[1] == '=') {
        if (!plus)
            return "malformed-request";
        return has_binding(s, text + 2, flag_len - 2) ? NULL
                                                       : "malformed-request";
    }
    return "malformed-request";
}

static const char *condition_for(const sasl_server *s, int rc)
{
    if (s->storage_failed)
        return "temporary-auth-failure";
    switch (rc) {
    case GSASL_MECHANISM_PARSE_ERROR:
    case GSASL_BASE64_ERROR:          /* inside the mechanism's syntax */
    case GSASL_MECHANISM_CALLED_TOO_MANY_TIMES:
    case GSASL_NO_CB_TLS_UNIQUE:
    case GSASL_NO_CB_TLS_EXPORTER:
        return "malformed-request";
    case GSASL_AUTHENTICATION_ERROR:
        return s->authzid_refused ? "invalid-authzid" : "not-authorized";
    case GSASL_SASLPREP_ERROR:        /* no account has such a name or
                                         password */
    case GSASL_NO_PASSWORD:
    case GSASL_NO_AUTHID:
        return "not-authorized";
    default:
        return "temporary-auth-failure";
    }
}

static int encode_output(const char *data, size_t len, char **out_b64)
{
    *out_b64 = NULL;
    if (len == 0)
        return 0;
    *out_b64 = base64_encode((const unsigned char *)data, len);
    return *out_b64 ? 0 : -1;
}

/* SCRAM's authzid is in the GS2 header; GNU SASL leaves the decision to
 * us, so it is checked once the proof is good. */
static int scram_authzid_ok(sasl_server *s)
{
    const char *authzid = gsasl_property_fast(s->session, GSASL_AUTHZID);
    const char *authcid = gsasl_property_fast(s->session, GSASL_AUTHID);
    return authzid_acceptable(s, authzid, authcid);
}

/* Feeds one decoded client message to the mechanism. */
static int process_message(sasl_server *s, const unsigned char *msg,
                           size_t len, char **out_b64, const char **condition)
{
    if (len == 0 || len > SASL_MESSAGE_MAX)
        return fail(s, "malformed-request", condition);
    if (s->mechanism->scram && s->client_messages == 0) {
        const char *bad = check_gs2_header(s, msg, len);
        if (bad != NULL)
            return fail(s, bad, condition);
    }
    s->client_messages++;

    char *output = NULL;
    size_t output_len = 0;
    int rc = gsasl_step(s->session, (const char *)msg, len, &output,
                        &output_len);
    /* A storage error while GNU SASL asked for the salt: no point in
     * sending a challenge the exchange cannot complete. */
    if (rc == GSASL_NEEDS_MORE && s->storage_failed)
        rc = GSASL_NO_PASSWORD;
    /* Fake credentials admit no proof; this only makes it plain. */
    if (rc == GSASL_OK && (!s->user_known || s->user == NULL))
        rc = GSASL_AUTHENTICATION_ERROR;
    if (rc == GSASL_OK && s->mechanism->scram && !scram_authzid_ok(s)) {
        s->authzid_refused = 1;
        rc = GSASL_AUTHENTICATION_ERROR;
    }
    if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
        gsasl_free(output); /* GNU SASL may leave a partial message */
        s->secret_refused = rc == GSASL_AUTHENTICATION_ERROR;
        return fail(s, condition_for(s, rc), condition);
    }

    int encoded = encode_output(output, output_len, out_b64);
    gsasl_free(output);
    if (encoded < 0)
        return fail(s, "temporary-auth-failure", condition);
    if (rc == GSASL_NEEDS_MORE)
        return SASL_CONTINUE;

    s->username = s->user;
    s->user = NULL;
    gsasl_finish(s->session);
    s->session = NULL;
    s->state = EXCHANGE_DONE;
    log_msg(MYNAH_LOG_DEBUG, LOG_WHO, "%s@%s authenticated with %s",
            s->username, s->host, s->mechanism->name);
    return SASL_SUCCESS;
}

/* Decodes wire base64; "=" is the zero-length message (RFC 6120 §6.4.2).
 * 0, or the condition in *condition. */
static int decode_input(const char *input_b64, unsigned char **msg,
                        size_t *len, const char **condition)
{
    int bad;
    if (strcmp(input_b64, "=") == 0)
        input_b64 = "";
    *msg = base64_decode(input_b64, len, &bad);
    if (*msg == NULL) {
        *condition = bad ? "incorrect-encoding" : "temporary-auth-failure";
        return -1;
    }
    return 0;
}

int sasl_start(sasl_server *s, const char *mechanism, const char *input_b64,
               char **out_b64, const char **condition)
{
    *out_b64 = NULL;
    *condition = NULL;
    end_exchange(s);
    s->state = EXCHANGE_DONE;

    const mechanism_info *m = mechanism ? find_mechanism(mechanism) : NULL;
    if (m == NULL || !offered(s, m->name)) {
        /* RFC 6120 §6.5.4: PLAIN is only kept back until the stream is
         * encrypted, so say that rather than "no such mechanism". */
        if (m != NULL && !m->scram && !s->encrypted &&
            mechanism_supported[m - mechanisms])
            return fail(s, "encryption-required", condition);
        return fail(s, "invalid-mechanism", condition);
    }
    s->mechanism = m;

    unsigned char *msg = NULL;
    size_t len = 0;
    int have_initial = input_b64 != NULL && *input_b64 != '\0';
    if (have_initial && decode_input(input_b64, &msg, &len, condition) < 0)
        return fail(s, *condition, condition);

    int rc = gsasl_server_start(gsasl_context, m->name, &s->session);
    if (rc != GSASL_OK) {
        free(msg);
        s->session = NULL;
        log_msg(MYNAH_LOG_ERROR, LOG_WHO, "gsasl_server_start(%s): %s",
                m->name, gsasl_strerror(rc));
        return fail(s, "temporary-auth-failure", condition);
    }
    gsasl_session_hook_set(s->session, s);
    s->state = EXCHANGE_RUNNING;

    if (!have_initial)
        return SASL_CONTINUE; /* an empty challenge asks for the message */
    rc = process_message(s, msg, len, out_b64, condition);
    free(msg);
    return rc;
}

int sasl_step(sasl_server *s, const char *input_b64, char **out_b64,
              const char **condition)
{
    *out_b64 = NULL;
    *condition = NULL;
    if (s->state != EXCHANGE_RUNNING)
        return fail(s, "malformed-request", condition);

    unsigned char *msg = NULL;
    size_t len = 0;
    if (decode_input(input_b64 ? input_b64 : "", &msg, &len, condition) < 0)
        return fail(s, *condition, condition);
    int rc = process_message(s, msg, len, out_b64, condition);
    free(msg);
    return rc;
}

int sasl_failure_was_secret(const sasl_server *s)
{
    return s != NULL && s->secret_refused;
}
