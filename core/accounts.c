/*
 * Accounts: SCRAM credentials (RFC 5802 §3, RFC 7677) kept in the keyval
 * store "accounts" of each host.  See accounts.h for the record format.
 *
 * The password itself is never written anywhere: creating an account or
 * setting a password derives, for SHA-1 and SHA-256, SaltedPassword with
 * PBKDF2 over the SASLprep'd password, and keeps only the salt, the
 * iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
 * ServerKey = HMAC(SaltedPassword, "Server Key").  GNU SASL normalizes the
 * password (SASLprep); GnuTLS computes the keys, because its PBKDF2 is
 * several times faster than GNU SASL's own (about 1 ms against 7 ms for
 * 4096 rounds of SHA-256), and PLAIN logins derive on the event loop.
 */
#include "accounts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>

#include "hashmap.h"
#include "log.h"
#include "storage.h"

#define LOG_WHO "accounts"
#define STORE_NAME "accounts"
#define RECORD_MAX 1024

static unsigned configured_iterations = ACCOUNTS_DEFAULT_ITERATIONS;

/* ---- the "accounts" store of each host, opened once ---- */

typedef struct account_store {
    char *host;          /* the map key */
    mynah_store *store;
} account_store;

static hashmap account_stores = HASHMAP_INIT;

static mynah_store *store_for_host(const char *host)
{
    account_store *entry = hashmap_get(&account_stores, host);
    if (entry != NULL)
        return entry->store;

    mynah_store *store = storage_open_host(host, STORE_NAME,
                                           MYNAH_STORE_KEYVAL);
    if (store == NULL) {
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "cannot open the accounts store of %s", host);
        return NULL;
    }
    entry = calloc(1, sizeof *entry);
    if (entry != NULL)
        entry->host = strdup(host);
    if (entry == NULL || entry->host == NULL ||
        hashmap_put(&account_stores, entry->host, entry) < 0) {
        if (entry != NULL)
            free(entry->host);
        free(entry);
        storage_close(store);
        return NULL;
    }
    entry->store = store;
    return store;
}

static void free_account_store(account_store *entry)
{
    storage_close(entry->store);
    free(entry->host);
    free(entry);
}

void accounts_close(const char *host)
{
    if (host != NULL) {
        account_store *entry = hashmap_remove(&account_stores, host);
        if (entry != NULL)
            free_account_store(entry);
        return;
    }
    size_t pos = 0;
    const char *key;
    void *value;
    while (hashmap_next(&account_stores, &pos, &key, &value))
        free_account_store(value);
    hashmap_free(&account_stores);
}

/* ---- synchronous wrappers around the callback storage API ----
 *
 * Local drivers call back before returning.  A driver that has not called
 * back on return is an asynchronous one, which these functions cannot
 * wait for without blocking the loop: that is reported as an error.  The
 * result cell then stays on the `abandoned` list (so it is not a leak),
 * and a late callback frees it instead of writing into a dead frame. */

typedef struct sync_result {
    int done;
    int status;
    char *data;   /* keyval_get: a NUL-terminated copy */
    size_t len;
    int abandoned;
    struct sync_result *next_abandoned;
} sync_result;

static sync_result *abandoned;

static int release_if_abandoned(sync_result *r)
{
    if (!r->abandoned)
        return 0;
    for (sync_result **p = &abandoned; *p != NULL; p = &(*p)->next_abandoned)
        if (*p == r) {
            *p = r->next_abandoned;
            break;
        }
    free(r);
    return 1;
}

static void on_value(int status, const void *data, size_t len, void *userdata)
{
    sync_result *r = userdata;
    if (release_if_abandoned(r))
        return;
    r->done = 1;
    r->status = status;
    if (status == MYNAH_STORE_OK && data != NULL) {
        r->data = malloc(len + 1);
        if (r->data == NULL) {
            r->status = MYNAH_STORE_ERROR;
            return;
        }
        memcpy(r->data, data, len);
        r->data[len] = '\0';
        r->len = len;
    } else if (status == MYNAH_STORE_OK) {
        r->status = MYNAH_STORE_NOT_FOUND;
    }
}

static void on_done(int status, void *userdata)
{
    sync_result *r = userdata;
    if (release_if_abandoned(r))
        return;
    r->done = 1;
    r->status = status;
}

static int report_async(sync_result *r, const char *what)
{
    r->abandoned = 1;
    r->next_abandoned = abandoned;
    abandoned = r;
    log_msg(MYNAH_LOG_ERROR, LOG_WHO,
            "%s: the storage driver completes asynchronously, which "
            "accounts do not support yet", what);
    return -1;
}

/* Loads a user's record: 0 with *record malloc'd, 1 if none, -1 on error. */
static int load_record(const char *host, const char *user, char **record)
{
    *record = NULL;
    mynah_store *store = store_for_host(host);
    if (store == NULL)
        return -1;
    sync_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    store_keyval_get(store, user, on_value, r);
    if (!r->done)
        return report_async(r, "get");
    int rc;
    if (r->status == MYNAH_STORE_OK) {
        *record = r->data;
        rc = 0;
    } else if (r->status == MYNAH_STORE_NOT_FOUND) {
        rc = 1;
    } else {
        rc = -1;
    }
    free(r);
    return rc;
}

/* Writes (record != NULL) or removes a record: 0, or -1. */
static int store_record(const char *host, const char *user,
                        const char *record)
{
    mynah_store *store = store_for_host(host);
    if (store == NULL)
        return -1;
    sync_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    store_keyval_set(store, user, record, record ? strlen(record) : 0,
                     on_done, r);
    if (!r->done)
        return report_async(r, record ? "set" : "delete");
    /* Removing a value that is not there is not an error. */
    int rc = (r->status == MYNAH_STORE_OK ||
              (record == NULL && r->status == MYNAH_STORE_NOT_FOUND)) ? 0 : -1;
    free(r);
    return rc;
}

/* ---- derivation ---- */

static size_t hash_length(scram_hash hash)
{
    return hash == SCRAM_SHA1 ? GSASL_HASH_SHA1_SIZE : GSASL_HASH_SHA256_SIZE;
}

static void to_hex(const unsigned char *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

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

/* Decodes exactly len bytes of hex; 0, or -1 if malformed. */
static int from_hex(const char *hex, unsigned char *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* RFC 5802 §3 from the normalized password:
 *   SaltedPassword := Hi(Normalize(password), salt, i)   (PBKDF2-HMAC)
 *   ClientKey := HMAC(SaltedPassword, "Client Key")
 *   StoredKey := H(ClientKey)
 *   ServerKey := HMAC(SaltedPassword, "Server Key") */
static int scram_keys(const char *prepared, scram_hash hash,
                      unsigned iterations, const unsigned char *salt,
                      size_t salt_len, unsigned char *stored_key,
                      unsigned char *server_key)
{
    gnutls_mac_algorithm_t mac =
        hash == SCRAM_SHA1 ? GNUTLS_MAC_SHA1 : GNUTLS_MAC_SHA256;
    gnutls_digest_algorithm_t digest =
        hash == SCRAM_SHA1 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256;
    size_t hlen = hash_length(hash);
    unsigned char salted[GSASL_HASH_MAX_SIZE], client_key[GSASL_HASH_MAX_SIZE];
    gnutls_datum_t key = {(unsigned char *)prepared,
                          (unsigned)strlen(prepared)};
    gnutls_datum_t salt_datum = {(unsigned char *)salt, (unsigned)salt_len};

    int rc = gnutls_pbkdf2(mac, &key, &salt_datum, iterations, salted, hlen);
    if (rc >= 0)
        rc = gnutls_hmac_fast(mac, salted, hlen, "Client Key", 10, client_key);
    if (rc >= 0)
        rc = gnutls_hash_fast(digest, client_key, hlen, stored_key);
    if (rc >= 0)
        rc = gnutls_hmac_fast(mac, salted, hlen, "Server Key", 10, server_key);
    /* Do not leave what a client could log in with on the stack. */
    gnutls_memset(salted, 0, sizeof salted);
    gnutls_memset(client_key, 0, sizeof client_key);
    return rc < 0 ? -1 : 0;
}

int accounts_derive(const char *password, scram_hash hash,
                    unsigned iterations, const unsigned char *salt,
                    size_t salt_len, scram_credentials *out)
{
    unsigned char stored_key[GSASL_HASH_MAX_SIZE];
    unsigned char server_key[GSASL_HASH_MAX_SIZE];
    size_t hlen = hash_length(hash);

    if (password == NULL || salt == NULL || out == NULL || iterations == 0 ||
        salt_len == 0 || (salt_len + 2) / 3 * 4 >= sizeof out->salt_b64 ||
        (hash != SCRAM_SHA1 && hash != SCRAM_SHA256))
        return -1;

    /* Normalize() is SASLprep (RFC 4013), as GNU SASL's clients and its
     * PLAIN server apply it: unassigned code points allowed. */
    char *prepared = NULL;
    int rc = gsasl_saslprep(password, GSASL_ALLOW_UNASSIGNED, &prepared, NULL);
    if (rc != GSASL_OK || prepared == NULL) {
        gsasl_free(prepared);
        return -1;
    }
    rc = scram_keys(prepared, hash, iterations, salt, salt_len, stored_key,
                    server_key);
    gnutls_memset(prepared, 0, strlen(prepared));
    gsasl_free(prepared);
    if (rc < 0)
        return -1;

    char *salt_b64 = NULL;
    if (gsasl_base64_to((const char *)salt, salt_len, &salt_b64, NULL) !=
            GSASL_OK || salt_b64 == NULL) {
        gsasl_free(salt_b64);
        return -1;
    }
    out->iterations = iterations;
    snprintf(out->salt_b64, sizeof out->salt_b64, "%s", salt_b64);
    gsasl_free(salt_b64);
    to_hex(stored_key, hlen, out->stored_key_hex);
    to_hex(server_key, hlen, out->server_key_hex);
    return 0;
}

void accounts_set_iterations(unsigned iterations)
{
    configured_iterations = iterations ? iterations
                                       : ACCOUNTS_DEFAULT_ITERATIONS;
}

unsigned accounts_get_iterations(void)
{
    return configured_iterations;
}

/* ---- the record ---- */

static const char *hash_prefix(scram_hash hash)
{
    return hash == SCRAM_SHA1 ? "sha1" : "sha256";
}

/* Builds the record for a password with a fresh salt per hash. */
static int make_record(const char *password, char *record, size_t size)
{
    unsigned iterations = configured_iterations;
    int used = snprintf(record, size, "iterations=%u\n", iterations);
    for (int h = SCRAM_SHA1; h <= SCRAM_SHA256; h++) {
        unsigned char salt[ACCOUNTS_SALT_BYTES];
        scram_credentials cred;
        if (gnutls_rnd(GNUTLS_RND_NONCE, salt, sizeof salt) < 0 ||
            accounts_derive(password, (scram_hash)h, iterations, salt,
                            sizeof salt, &cred) < 0)
            return -1;
        const char *p = hash_prefix((scram_hash)h);
        int n = snprintf(record + used, size - (size_t)used,
                         "%s.salt=%s\n%s.stored=%s\n%s.server=%s\n", p,
                         cred.salt_b64, p, cred.stored_key_hex, p,
                         cred.server_key_hex);
        if (n < 0 || (size_t)n >= size - (size_t)used)
            return -1;
        used += n;
    }
    return 0;
}

/* Reads the value of "key=" from a record into out; 0, or -1 if absent or
 * too long. */
static int record_field(const char *record, const char *key, char *out,
                        size_t size)
{
    size_t klen = strlen(key);
    const char *line = record;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (vlen >= size)
                return -1;
            memcpy(out, line + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        if (end == NULL)
            break;
        line = end + 1;
    }
    return -1;
}

static int parse_credentials(const char *record, scram_hash hash,
                             scram_credentials *out)
{
    char key[32], number[16];
    const char *p = hash_prefix(hash);
    size_t hexlen = 2 * hash_length(hash);

    if (record_field(record, "iterations", number, sizeof number) < 0)
        return -1;
    char *end;
    errno = 0;
    unsigned long iterations = strtoul(number, &end, 10);
    if (errno != 0 || *end != '\0' || iterations == 0 || iterations > UINT_MAX)
        return -1;
    out->iterations = (unsigned)iterations;

    snprintf(key, sizeof key, "%s.salt", p);
    if (record_field(record, key, out->salt_b64, sizeof out->salt_b64) < 0 ||
        out->salt_b64[0] == '\0')
        return -1;
    snprintf(key, sizeof key, "%s.stored", p);
    if (record_field(record, key, out->stored_key_hex,
                     sizeof out->stored_key_hex) < 0 ||
        strlen(out->stored_key_hex) != hexlen)
        return -1;
    snprintf(key, sizeof key, "%s.server", p);
    if (record_field(record, key, out->server_key_hex,
                     sizeof out->server_key_hex) < 0 ||
        strlen(out->server_key_hex) != hexlen)
        return -1;
    return 0;
}

/* ---- the public functions ---- */

static int valid_names(const char *host, const char *user)
{
    return host != NULL && *host != '\0' && user != NULL && *user != '\0';
}

static int write_password(const char *host, const char *user,
                          const char *password)
{
    char record[RECORD_MAX];
    if (password == NULL || *password == '\0' ||
        make_record(password, record, sizeof record) < 0)
        return -1;
    int rc = store_record(host, user, record);
    gnutls_memset(record, 0, sizeof record);
    return rc;
}

int accounts_create(const char *host, const char *user, const char *password)
{
    if (!valid_names(host, user))
        return -1;
    int exists = accounts_exists(host, user);
    if (exists != 0)
        return exists < 0 ? -1 : 1;
    return write_password(host, user, password);
}

int accounts_set_password(const char *host, const char *user,
                          const char *password)
{
    if (!valid_names(host, user))
        return -1;
    int exists = accounts_exists(host, user);
    if (exists != 1)
        return exists < 0 ? -1 : 1;
    return write_password(host, user, password);
}

int accounts_delete(const char *host, const char *user)
{
    if (!valid_names(host, user))
        return -1;
    int exists = accounts_exists(host, user);
    if (exists != 1)
        return exists < 0 ? -1 : 1;
    return store_record(host, user, NULL);
}

int accounts_exists(const char *host, const char *user)
{
    if (!valid_names(host, user))
        return -1;
    char *record;
    int rc = load_record(host, user, &record);
    free(record);
    return rc < 0 ? -1 : rc == 0;
}

int accounts_get_scram(const char *host, const char *user, scram_hash hash,
                       scram_credentials *out)
{
    if (!valid_names(host, user) || out == NULL ||
        (hash != SCRAM_SHA1 && hash != SCRAM_SHA256))
        return -1;
    char *record;
    int rc = load_record(host, user, &record);
    if (rc != 0)
        return rc;
    rc = parse_credentials(record, hash, out);
    if (rc < 0)
        log_msg(MYNAH_LOG_ERROR, LOG_WHO,
                "the %s credentials of %s@%s are damaged", hash_prefix(hash),
                user, host);
    free(record);
    return rc;
}

/* Compares without an early exit, so the time taken does not say how
 * many leading bytes matched. */
static int equal_constant_time(const unsigned char *a, const unsigned char *b,
                               size_t len)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

/* Derives from the password with the stored salt and iterations and
 * compares StoredKey: 0 on a match, 1 on a mismatch, -1 on error. */
static int verify_against(const scram_credentials *stored, scram_hash hash,
                          const char *password)
{
    unsigned char salt[64], want[GSASL_HASH_MAX_SIZE], got[GSASL_HASH_MAX_SIZE];
    size_t hlen = hash_length(hash);
    char *raw = NULL;
    size_t raw_len = 0;

    if (gsasl_base64_from(stored->salt_b64, strlen(stored->salt_b64), &raw,
                          &raw_len) != GSASL_OK || raw_len == 0 ||
        raw_len > sizeof salt) {
        gsasl_free(raw);
        return -1;
    }
    memcpy(salt, raw, raw_len);
    gsasl_free(raw);

    scram_credentials derived;
    if (from_hex(stored->stored_key_hex, want, hlen) < 0)
        return -1;
    /* A password SASLprep rejects cannot be the right one. */
    if (accounts_derive(password, hash, stored->iterations, salt, raw_len,
                        &derived) < 0)
        return 1;
    if (from_hex(derived.stored_key_hex, got, hlen) < 0)
        return -1;
    return equal_constant_time(want, got, hlen) ? 0 : 1;
}

int accounts_check_password(const char *host, const char *user,
                            const char *password)
{
    if (!valid_names(host, user) || password == NULL)
        return -1;
    scram_credentials stored;
    int rc = accounts_get_scram(host, user, SCRAM_SHA256, &stored);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        /* No such user: spend the same derivation as for a real one, so
         * the answer's timing does not reveal which names exist. */
        static const unsigned char dummy_salt[ACCOUNTS_SALT_BYTES];
        scram_credentials ignored;
        (void)accounts_derive(password, SCRAM_SHA256, configured_iterations,
                              dummy_salt, sizeof dummy_salt, &ignored);
        return 1;
    }
    return verify_against(&stored, SCRAM_SHA256, password);
}
