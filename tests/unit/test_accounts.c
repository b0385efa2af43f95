/*
 * Accounts: SCRAM credentials in the "accounts" store, checked against the
 * RFC 5802 and RFC 7677 examples.  Storage is the memory driver module
 * (MYNAH_MODULE_PATH points at the build tree under `make check`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>

#include "accounts.h"
#include "module_loader.h"
#include "storage.h"
#include "tap.h"

#define HOST "example.org"

/* ---- helpers ---- */

static unsigned char *b64_decode(const char *text, size_t *len)
{
    char *out = NULL;
    if (gsasl_base64_from(text, strlen(text), &out, len) != GSASL_OK)
        return NULL;
    return (unsigned char *)out;
}

static int hex_decode(const char *hex, unsigned char *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

typedef struct raw_value {
    int status;
    char *data;
    size_t len;
} raw_value;

static void on_raw(int status, const void *data, size_t len, void *ud)
{
    raw_value *r = ud;
    r->status = status;
    if (data != NULL) {
        r->data = malloc(len + 1);
        memcpy(r->data, data, len);
        r->data[len] = '\0';
        r->len = len;
    }
}

/* The bytes the store really holds for a user. */
static raw_value read_raw(const char *host, const char *user)
{
    raw_value r = {-2, NULL, 0};
    mynah_store *store = storage_open_host(host, "accounts", MYNAH_STORE_KEYVAL);
    store_keyval_get(store, user, on_raw, &r);
    storage_close(store);
    return r;
}

static void on_set(int status, void *ud)
{
    *(int *)ud = status;
}

static void write_raw(const char *host, const char *user, const char *value)
{
    int status = -2;
    mynah_store *store = storage_open_host(host, "accounts", MYNAH_STORE_KEYVAL);
    store_keyval_set(store, user, value, strlen(value), on_set, &status);
    storage_close(store);
}

static int contains(const char *haystack, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(haystack + i, needle, n) == 0)
            return 1;
    return 0;
}

/* ---- tests ---- */

static void test_lifecycle(void)
{
    is_int(accounts_exists(HOST, "alice"), 0, "no alice yet");
    is_int(accounts_create(HOST, "alice", "pencil"), 0, "create alice");
    is_int(accounts_exists(HOST, "alice"), 1, "alice exists");
    is_int(accounts_create(HOST, "alice", "other"), 1,
           "creating her again says she exists");
    is_int(accounts_check_password(HOST, "alice", "pencil"), 0,
           "and did not change her password");
    is_int(accounts_check_password(HOST, "alice", "pencil!"), 1, "wrong password");
    is_int(accounts_check_password(HOST, "alice", ""), 1, "empty password");
    is_int(accounts_check_password(HOST, "nobody", "pencil"), 1, "unknown user");
    is_int(accounts_check_password("other.example", "alice", "pencil"), 1,
           "accounts are per host");

    is_int(accounts_set_password(HOST, "alice", "crayon"), 0, "set a new password");
    is_int(accounts_check_password(HOST, "alice", "pencil"), 1, "the old one fails");
    is_int(accounts_check_password(HOST, "alice", "crayon"), 0, "the new one works");
    is_int(accounts_set_password(HOST, "nobody", "x"), 1,
           "setting the password of an unknown user says so");
    is_int(accounts_exists(HOST, "nobody"), 0, "and does not create him");

    is_int(accounts_create(HOST, "bob", ""), -1, "an empty password is refused");
    is_int(accounts_exists(HOST, "bob"), 0, "so bob was not created");
    is_int(accounts_create(HOST, "bob", "a\x07" "b"), -1,
           "a password SASLprep prohibits (a control character) is refused");

    is_int(accounts_delete(HOST, "alice"), 0, "delete alice");
    is_int(accounts_exists(HOST, "alice"), 0, "alice is gone");
    is_int(accounts_check_password(HOST, "alice", "crayon"), 1,
           "her password no longer works");
    is_int(accounts_delete(HOST, "alice"), 1, "deleting her again says no such user");
    is_int(accounts_create(HOST, "alice", "pencil"), 0, "the name can be used again");
}

static void test_saslprep(void)
{
    /* RFC 4013: SOFT HYPHEN maps to nothing, NO-BREAK SPACE to SPACE. */
    is_int(accounts_create(HOST, "carol", "I\xC2\xADX"), 0,
           "create with a soft hyphen in the password");
    is_int(accounts_check_password(HOST, "carol", "IX"), 0,
           "the SASLprep'd form matches (RFC 4013)");
    is_int(accounts_create(HOST, "dave", "a\xC2\xA0" "b"), 0,
           "create with a no-break space");
    is_int(accounts_check_password(HOST, "dave", "a b"), 0,
           "it matches an ordinary space");
}

static void test_record(void)
{
    const char *password = "s3cr3t-Tr0ub4dor";
    accounts_create(HOST, "erin", password);
    raw_value r = read_raw(HOST, "erin");
    ok(r.status == MYNAH_STORE_OK && r.data != NULL, "the record is in the accounts store");
    if (r.data == NULL)
        return;
    ok(!contains(r.data, r.len, password), "the record does not contain the password");
    ok(!contains(r.data, r.len, "Tr0ub4dor"), "nor a part of it");
    ok(strncmp(r.data, "iterations=4096\n", 16) == 0, "it starts with iterations=4096");
    ok(strstr(r.data, "\nsha1.salt=") && strstr(r.data, "\nsha1.stored=") &&
       strstr(r.data, "\nsha1.server=") && strstr(r.data, "\nsha256.salt=") &&
       strstr(r.data, "\nsha256.stored=") && strstr(r.data, "\nsha256.server="),
       "it has salt, StoredKey and ServerKey for SHA-1 and SHA-256");

    scram_credentials sha1, sha256, again;
    is_int(accounts_get_scram(HOST, "erin", SCRAM_SHA1, &sha1), 0, "SHA-1 credentials");
    is_int(accounts_get_scram(HOST, "erin", SCRAM_SHA256, &sha256), 0, "SHA-256 credentials");
    is_int(sha1.iterations, 4096, "4096 iterations");
    is_int(strlen(sha1.stored_key_hex), 40, "SHA-1 StoredKey: 40 hex digits");
    is_int(strlen(sha256.server_key_hex), 64, "SHA-256 ServerKey: 64 hex digits");
    ok(strstr(r.data, sha256.stored_key_hex) != NULL, "the keys are what the record holds");
    size_t salt_len = 0;
    unsigned char *salt = b64_decode(sha256.salt_b64, &salt_len);
    is_int(salt_len, 16, "the salt is 16 bytes");
    ok(strcmp(sha1.salt_b64, sha256.salt_b64) != 0, "each hash has its own salt");
    accounts_derive(password, SCRAM_SHA256, 4096, salt, salt_len, &again);
    is_str(again.stored_key_hex, sha256.stored_key_hex,
           "StoredKey is derived from the password with that salt");
    is_str(again.server_key_hex, sha256.server_key_hex, "ServerKey too");
    gsasl_free(salt);
    is_int(accounts_get_scram(HOST, "nobody", SCRAM_SHA1, &sha1), 1,
           "no credentials for an unknown user");

    scram_credentials other;
    accounts_create(HOST, "frank", password);
    accounts_get_scram(HOST, "frank", SCRAM_SHA256, &other);
    ok(strcmp(other.salt_b64, sha256.salt_b64) != 0 &&
       strcmp(other.stored_key_hex, sha256.stored_key_hex) != 0,
       "the same password gives different keys to different users");
    free(r.data);

    write_raw(HOST, "mallory", "iterations=4096\nsha256.salt=AAAA\n");
    is_int(accounts_get_scram(HOST, "mallory", SCRAM_SHA256, &other), -1,
           "a damaged record is an error, not a user without a password");
    is_int(accounts_check_password(HOST, "mallory", "x"), -1,
           "checking a password against it is an error too");
}

static void test_iterations(void)
{
    is_int(accounts_get_iterations(), 4096, "4096 iterations by default");
    accounts_set_iterations(5000);
    accounts_create(HOST, "grace", "pencil");
    scram_credentials c;
    accounts_get_scram(HOST, "grace", SCRAM_SHA1, &c);
    is_int(c.iterations, 5000, "new credentials use scram_iterations");
    accounts_get_scram(HOST, "erin", SCRAM_SHA1, &c);
    is_int(c.iterations, 4096, "existing ones keep theirs");
    is_int(accounts_check_password(HOST, "grace", "pencil"), 0,
           "a password checks with its own count");
    accounts_set_iterations(0);
    is_int(accounts_get_iterations(), 4096, "0 restores the default");
}

/*
 * RFC 5802 §5 and RFC 7677 §3 show a whole exchange for user "user",
 * password "pencil".  From the StoredKey and ServerKey we derive, the
 * client's proof must verify (ClientKey = proof XOR HMAC(StoredKey,
 * AuthMessage) and H(ClientKey) = StoredKey) and the server signature
 * must come out as printed.
 */
typedef struct rfc_example {
    const char *name;
    scram_hash hash;
    const char *salt_b64;
    const char *client_first_bare, *server_first, *client_final_no_proof;
    const char *proof_b64, *verifier_b64;
} rfc_example;

static const rfc_example examples[] = {
    {"RFC 5802 (SCRAM-SHA-1)", SCRAM_SHA1, "QSXCR+Q6sek8bf92",
     "n=user,r=fyko+d2lbbFgONRv9qkxdawL",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
     "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ="},
    {"RFC 7677 (SCRAM-SHA-256)", SCRAM_SHA256, "W22ZaJ0SNY7soEsUEjb6gQ==",
     "n=user,r=rOprNGfwEbeRWgbNEkqO",
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
     "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
     "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
};

static void test_rfc_vectors(void)
{
    for (size_t e = 0; e < sizeof examples / sizeof examples[0]; e++) {
        const rfc_example *x = &examples[e];
        gnutls_mac_algorithm_t mac =
            x->hash == SCRAM_SHA1 ? GNUTLS_MAC_SHA1 : GNUTLS_MAC_SHA256;
        gnutls_digest_algorithm_t dig =
            x->hash == SCRAM_SHA1 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256;
        size_t hlen = x->hash == SCRAM_SHA1 ? 20 : 32;
        char what[128];

        size_t salt_len, proof_len, verifier_len;
        unsigned char *salt = b64_decode(x->salt_b64, &salt_len);
        unsigned char *proof = b64_decode(x->proof_b64, &proof_len);
        unsigned char *verifier = b64_decode(x->verifier_b64, &verifier_len);
        scram_credentials c;
        snprintf(what, sizeof what, "%s: derive", x->name);
        is_int(accounts_derive("pencil", x->hash, 4096, salt, salt_len, &c), 0, what);
        snprintf(what, sizeof what, "%s: the salt is kept as given", x->name);
        is_str(c.salt_b64, x->salt_b64, what);

        unsigned char stored[32], server[32], signature[32], client_key[32];
        unsigned char check[32];
        hex_decode(c.stored_key_hex, stored, hlen);
        hex_decode(c.server_key_hex, server, hlen);

        char auth_message[512];
        snprintf(auth_message, sizeof auth_message, "%s,%s,%s",
                 x->client_first_bare, x->server_first, x->client_final_no_proof);
        gnutls_hmac_fast(mac, stored, hlen, auth_message, strlen(auth_message),
                         signature);
        for (size_t i = 0; i < hlen; i++)
            client_key[i] = proof[i] ^ signature[i];
        gnutls_hash_fast(dig, client_key, hlen, check);
        snprintf(what, sizeof what, "%s: the RFC's ClientProof verifies against StoredKey",
                 x->name);
        ok(proof_len == hlen && memcmp(check, stored, hlen) == 0, what);

        gnutls_hmac_fast(mac, server, hlen, auth_message, strlen(auth_message),
                         signature);
        snprintf(what, sizeof what, "%s: ServerKey gives the RFC's ServerSignature",
                 x->name);
        ok(verifier_len == hlen && memcmp(signature, verifier, hlen) == 0, what);
        gsasl_free(salt);
        gsasl_free(proof);
        gsasl_free(verifier);
    }

    /* The well-known intermediate values of RFC 5802's example. */
    size_t salt_len;
    unsigned char *salt = b64_decode("QSXCR+Q6sek8bf92", &salt_len);
    scram_credentials c;
    accounts_derive("pencil", SCRAM_SHA1, 4096, salt, salt_len, &c);
    is_str(c.stored_key_hex, "e9d94660c39d65c38fbad91c358f14da0eef2bd6",
           "RFC 5802: StoredKey in hex");
    is_str(c.server_key_hex, "0fe09258b3ac852ba502cc62ba903eaacdbf7d31",
           "RFC 5802: ServerKey in hex");
    gsasl_free(salt);
}

/* A driver that never calls back stands for a networked one. */
static void never_get(void *h, const char *user, mynah_store_value_cb cb, void *ud) {}
static void never_set(void *h, const char *user, const void *d, size_t len,
                      mynah_store_done_cb cb, void *ud) {}
static void *async_open(void *dd, const char *host, const char *store,
                        enum mynah_store_kind kind)
{
    static int handle;
    return &handle;
}
static void async_close(void *h) {}

static void test_async_driver(void)
{
    static mynah_storage_driver driver;
    driver.size = sizeof driver;
    driver.name = "never";
    driver.open = async_open;
    driver.close = async_close;
    driver.keyval_get = never_get;
    driver.keyval_set = never_set;
    if (storage_provide(NULL, &driver, NULL) != 0 ||
        storage_init("never", NULL) != 0) {
        ok(0, "register a test driver");
        return;
    }
    accounts_close(NULL);
    is_int(accounts_exists("async.example", "alice"), -1,
           "a driver that has not answered on return is an error");
    is_int(accounts_create("async.example", "alice", "pencil"), -1,
           "so is creating an account through it");
    accounts_close(NULL);
    storage_init("memory", NULL);
    is_int(accounts_check_password(HOST, "grace", "pencil"), 0,
           "back on the memory driver the accounts are there");
}

int main(void)
{
    char *error = NULL;
    if (storage_init("memory", &error) != 0) {
        printf("Bail out! cannot load the memory storage driver: %s\n",
               error ? error : "?");
        free(error);
        return 1;
    }
    test_lifecycle();
    test_saslprep();
    test_record();
    test_iterations();
    test_rfc_vectors();
    test_async_driver();

    accounts_close(NULL);
    storage_shutdown();
    modules_shutdown();
    return done_testing();
}
