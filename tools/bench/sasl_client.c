/*
 * SASL PLAIN and SCRAM-SHA-1/-256, client side, on GnuTLS's crypto
 * (gnutls_pbkdf2, gnutls_hmac_fast, gnutls_hash_fast).
 */
#include "sasl_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define MAX_DIGEST 32
#define NONCE_BYTES 18

struct sasl_client {
    auth_mech mech;
    char *user, *password;
    char nonce[NONCE_BYTES * 2];
    char *client_first_bare;
    unsigned char server_signature[MAX_DIGEST];
    int have_signature;
    int nonce_given;        /* by sasl_client_set_nonce */
};

/* ---- base64 ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const unsigned char *data, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    char *p = out;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        *p++ = b64_alphabet[v >> 18];
        *p++ = b64_alphabet[(v >> 12) & 63];
        *p++ = b64_alphabet[(v >> 6) & 63];
        *p++ = b64_alphabet[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)data[i + 1] << 8;
        *p++ = b64_alphabet[v >> 18];
        *p++ = b64_alphabet[(v >> 12) & 63];
        *p++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    *p = '\0';
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

unsigned char *base64_decode(const char *b64, size_t len, size_t *out_len)
{
    unsigned char *out = malloc(len / 4 * 3 + 4);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = b64[i];
        if (c == '=' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        int v = b64_value(c);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* ---- the SaltedPassword cache ---- */

typedef struct derived_keys {
    auth_mech mech;
    unsigned iterations;
    size_t salt_len;
    unsigned char *salt;
    char *password;
    unsigned char client_key[MAX_DIGEST];
    unsigned char stored_key[MAX_DIGEST];
    unsigned char server_key[MAX_DIGEST];
} derived_keys;

static derived_keys **cache;
static size_t cache_cap, cache_count;
static uint64_t derivations;

uint64_t sasl_client_derivations(void)
{
    return derivations;
}

void sasl_client_cleanup(void)
{
    for (size_t i = 0; i < cache_cap; i++) {
        if (cache[i] == NULL)
            continue;
        free(cache[i]->salt);
        free(cache[i]->password);
        free(cache[i]);
    }
    free(cache);
    cache = NULL;
    cache_cap = cache_count = 0;
}

static uint64_t key_hash(auth_mech mech, unsigned iterations,
                         const unsigned char *salt, size_t salt_len,
                         const char *password)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < salt_len; i++)
        h = (h ^ salt[i]) * 1099511628211ULL;
    for (const char *p = password; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ iterations) * 1099511628211ULL;
    return (h ^ (unsigned)mech) * 1099511628211ULL;
}

static int cache_grow(void)
{
    size_t cap = cache_cap ? cache_cap * 2 : 256;
    derived_keys **table = calloc(cap, sizeof *table);
    if (table == NULL)
        return -1;
    for (size_t i = 0; i < cache_cap; i++) {
        derived_keys *d = cache[i];
        if (d == NULL)
            continue;
        size_t j = key_hash(d->mech, d->iterations, d->salt, d->salt_len,
                            d->password) & (cap - 1);
        while (table[j] != NULL)
            j = (j + 1) & (cap - 1);
        table[j] = d;
    }
    free(cache);
    cache = table;
    cache_cap = cap;
    return 0;
}

static gnutls_mac_algorithm_t mac_of(auth_mech mech)
{
    return mech == AUTH_SCRAM_SHA1 ? GNUTLS_MAC_SHA1 : GNUTLS_MAC_SHA256;
}

static size_t digest_size(auth_mech mech)
{
    return mech == AUTH_SCRAM_SHA1 ? 20 : 32;
}

/* RFC 5802 §3: SaltedPassword and the keys made from it. */
static const derived_keys *derive(auth_mech mech, unsigned iterations,
                                  const unsigned char *salt, size_t salt_len,
                                  const char *password)
{
    if (cache_count * 2 >= cache_cap && cache_grow() < 0)
        return NULL;
    size_t j = key_hash(mech, iterations, salt, salt_len, password) & (cache_cap - 1);
    for (derived_keys *d; (d = cache[j]) != NULL; j = (j + 1) & (cache_cap - 1)) {
        if (d->mech == mech && d->iterations == iterations &&
            d->salt_len == salt_len && memcmp(d->salt, salt, salt_len) == 0 &&
            strcmp(d->password, password) == 0)
            return d;
    }
    derived_keys *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->salt = malloc(salt_len ? salt_len : 1);
    d->password = strdup(password);
    if (d->salt == NULL || d->password == NULL)
        goto fail;
    memcpy(d->salt, salt, salt_len);
    d->salt_len = salt_len;
    d->mech = mech;
    d->iterations = iterations;
    size_t dlen = digest_size(mech);
    gnutls_mac_algorithm_t mac = mac_of(mech);
    unsigned char salted[MAX_DIGEST];
    gnutls_datum_t key = {(unsigned char *)password, (unsigned)strlen(password)};
    gnutls_datum_t s = {(unsigned char *)salt, (unsigned)salt_len};
    if (gnutls_pbkdf2(mac, &key, &s, iterations, salted, dlen) < 0 ||
        gnutls_hmac_fast(mac, salted, dlen, "Client Key", 10, d->client_key) < 0 ||
        gnutls_hmac_fast(mac, salted, dlen, "Server Key", 10, d->server_key) < 0 ||
        gnutls_hash_fast(mech == AUTH_SCRAM_SHA1 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256,
                         d->client_key, dlen, d->stored_key) < 0)
        goto fail;
    derivations++;
    cache[j] = d;
    cache_count++;
    return d;
fail:
    free(d->salt);
    free(d->password);
    free(d);
    return NULL;
}

/* ---- the exchange ---- */

const char *sasl_client_mechanism(auth_mech mech)
{
    switch (mech) {
    case AUTH_PLAIN: return "PLAIN";
    case AUTH_SCRAM_SHA1: return "SCRAM-SHA-1";
    case AUTH_SCRAM_SHA256: return "SCRAM-SHA-256";
    }
    return "PLAIN";
}

sasl_client *sasl_client_new(auth_mech mech, const char *user,
                             const char *password)
{
    sasl_client *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->mech = mech;
    s->user = strdup(user);
    s->password = strdup(password);
    if (s->user == NULL || s->password == NULL) {
        sasl_client_free(s);
        return NULL;
    }
    return s;
}

void sasl_client_free(sasl_client *s)
{
    if (s == NULL)
        return;
    free(s->user);
    free(s->password);
    free(s->client_first_bare);
    free(s);
}

/* RFC 5802 §5.1: ',' and '=' in a username are escaped. */
static char *scram_username(const char *user)
{
    size_t n = strlen(user);
    char *out = malloc(n * 3 + 1), *p = out;
    if (out == NULL)
        return NULL;
    for (const char *c = user; *c; c++) {
        if (*c == ',') {
            memcpy(p, "=2C", 3);
            p += 3;
        } else if (*c == '=') {
            memcpy(p, "=3D", 3);
            p += 3;
        } else {
            *p++ = *c;
        }
    }
    *p = '\0';
    return out;
}

int sasl_client_set_nonce(sasl_client *s, const char *nonce)
{
    if (strlen(nonce) >= sizeof s->nonce || strchr(nonce, ',') != NULL)
        return -1;
    snprintf(s->nonce, sizeof s->nonce, "%s", nonce);
    s->nonce_given = 1;
    return 0;
}

char *sasl_client_first(sasl_client *s)
{
    if (s->mech == AUTH_PLAIN) {
        /* RFC 4616: [authzid] NUL authcid NUL passwd */
        size_t ul = strlen(s->user), pl = strlen(s->password);
        unsigned char *msg = malloc(ul + pl + 2);
        if (msg == NULL)
            return NULL;
        msg[0] = 0;
        memcpy(msg + 1, s->user, ul);
        msg[ul + 1] = 0;
        memcpy(msg + ul + 2, s->password, pl);
        char *b64 = base64_encode(msg, ul + pl + 2);
        free(msg);
        return b64;
    }
    if (!s->nonce_given) {
        unsigned char rnd[NONCE_BYTES];
        if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) < 0)
            return NULL;
        char *nonce = base64_encode(rnd, sizeof rnd); /* no ',' in base64 */
        if (nonce == NULL)
            return NULL;
        snprintf(s->nonce, sizeof s->nonce, "%s", nonce);
        free(nonce);
    }
    char *name = scram_username(s->user);
    if (name == NULL)
        return NULL;
    size_t len = strlen(name) + strlen(s->nonce) + 8;
    s->client_first_bare = malloc(len);
    if (s->client_first_bare == NULL) {
        free(name);
        return NULL;
    }
    snprintf(s->client_first_bare, len, "n=%s,r=%s", name, s->nonce);
    free(name);
    size_t flen = strlen(s->client_first_bare) + 4;
    char *first = malloc(flen);
    if (first == NULL)
        return NULL;
    snprintf(first, flen, "n,,%s", s->client_first_bare);
    char *b64 = base64_encode((unsigned char *)first, strlen(first));
    free(first);
    return b64;
}

/* The value of "k=" in a comma-separated SCRAM message. */
static const char *scram_attr(const char *msg, char k, size_t *len)
{
    const char *p = msg;
    while (p && *p) {
        if (p[0] == k && p[1] == '=') {
            const char *end = strchr(p, ',');
            *len = end ? (size_t)(end - p - 2) : strlen(p + 2);
            return p + 2;
        }
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return NULL;
}

char *sasl_client_step(sasl_client *s, const char *b64, size_t len)
{
    if (s->mech == AUTH_PLAIN || s->client_first_bare == NULL || s->have_signature)
        return NULL;
    size_t server_first_len;
    char *server_first = (char *)base64_decode(b64, len, &server_first_len);
    if (server_first == NULL)
        return NULL;
    char *reply = NULL, *without_proof = NULL, *auth_message = NULL;
    unsigned char *salt = NULL;
    size_t nonce_len, salt_b64_len, iter_len, salt_len;
    const char *nonce = scram_attr(server_first, 'r', &nonce_len);
    const char *salt_b64 = scram_attr(server_first, 's', &salt_b64_len);
    const char *iter = scram_attr(server_first, 'i', &iter_len);
    size_t own = strlen(s->nonce);
    /* §5.1: the server's nonce starts with ours; 'm' is a mandatory
     * extension we do not know. */
    if (server_first[0] == 'm' || nonce == NULL || salt_b64 == NULL ||
        iter == NULL || nonce_len <= own || memcmp(nonce, s->nonce, own) != 0)
        goto done;
    long iterations = strtol(iter, NULL, 10);
    if (iterations <= 0 || iterations > 10000000)
        goto done;
    salt = base64_decode(salt_b64, salt_b64_len, &salt_len);
    if (salt == NULL)
        goto done;
    const derived_keys *keys = derive(s->mech, (unsigned)iterations, salt,
                                      salt_len, s->password);
    if (keys == NULL)
        goto done;

    /* c=biws is base64("n,,"): no channel binding. */
    size_t wlen = nonce_len + 16;
    without_proof = malloc(wlen);
    if (without_proof == NULL)
        goto done;
    snprintf(without_proof, wlen, "c=biws,r=%.*s", (int)nonce_len, nonce);
    size_t alen = strlen(s->client_first_bare) + server_first_len +
                  strlen(without_proof) + 3;
    auth_message = malloc(alen);
    if (auth_message == NULL)
        goto done;
    snprintf(auth_message, alen, "%s,%s,%s", s->client_first_bare, server_first,
             without_proof);

    size_t dlen = digest_size(s->mech);
    gnutls_mac_algorithm_t mac = mac_of(s->mech);
    unsigned char signature[MAX_DIGEST], proof[MAX_DIGEST];
    if (gnutls_hmac_fast(mac, keys->stored_key, dlen, auth_message,
                         strlen(auth_message), signature) < 0 ||
        gnutls_hmac_fast(mac, keys->server_key, dlen, auth_message,
                         strlen(auth_message), s->server_signature) < 0)
        goto done;
    for (size_t i = 0; i < dlen; i++)
        proof[i] = keys->client_key[i] ^ signature[i];
    s->have_signature = 1;
    char *proof_b64 = base64_encode(proof, dlen);
    if (proof_b64 == NULL)
        goto done;
    size_t flen = strlen(without_proof) + strlen(proof_b64) + 4;
    char *final = malloc(flen);
    if (final != NULL) {
        snprintf(final, flen, "%s,p=%s", without_proof, proof_b64);
        reply = base64_encode((unsigned char *)final, strlen(final));
        free(final);
    }
    free(proof_b64);
done:
    free(server_first);
    free(salt);
    free(without_proof);
    free(auth_message);
    return reply;
}

int sasl_client_verify(sasl_client *s, const char *b64, size_t len)
{
    if (s->mech == AUTH_PLAIN)
        return 1;
    if (!s->have_signature)
        return 0;
    size_t n;
    char *final = (char *)base64_decode(b64, len, &n);
    if (final == NULL)
        return 0;
    size_t vlen;
    const char *v = scram_attr(final, 'v', &vlen);
    int ok = 0;
    if (v != NULL) {
        size_t slen;
        unsigned char *sig = base64_decode(v, vlen, &slen);
        ok = sig != NULL && slen == digest_size(s->mech) &&
             memcmp(sig, s->server_signature, slen) == 0;
        free(sig);
    }
    free(final);
    return ok;
}
