/*
 * Accounts: SCRAM credentials in the store "accounts" (keyval, per host).
 *
 * Never the password: for each of SHA-1 and SHA-256 the value holds the
 * salt, iteration count, StoredKey and ServerKey (RFC 5802), which is all a
 * SCRAM server needs; PLAIN is verified by deriving the same keys from the
 * password offered.  Creating an account hashes the password (4096
 * iterations by default, option `scram_iterations`).
 *
 * The stored value is a text record, one "key=value" per line:
 *   iterations=4096
 *   sha1.salt=BASE64  sha1.stored=HEX  sha1.server=HEX
 *   sha256.salt=BASE64  sha256.stored=HEX  sha256.server=HEX
 * (lower-case hex; unknown keys are ignored so the record can grow).
 *
 * GNU SASL 2.2's header calls GSASL_SCRAM_STOREDKEY/SERVERKEY "hex
 * encoded", but its SCRAM server decodes them as base64: core/sasl.c
 * converts.  Keys stay hex here so the record does not depend on that.
 *
 * Local storage completes at once, so these functions are synchronous;
 * they are only called where a short wait is acceptable (login, mynahctl).
 * A storage driver that completes later (a networked one) makes them fail
 * with -1 and a log line: such a backend needs an asynchronous variant.
 */
#ifndef MYNAH_ACCOUNTS_H
#define MYNAH_ACCOUNTS_H

#include <stddef.h>

typedef enum scram_hash { SCRAM_SHA1 = 0, SCRAM_SHA256 = 1 } scram_hash;

typedef struct scram_credentials {
    unsigned iterations;
    char salt_b64[64];           /* base64 of the salt */
    char stored_key_hex[65];     /* hex, 40 chars for SHA-1, 64 for SHA-256 */
    char server_key_hex[65];
} scram_credentials;

#define ACCOUNTS_DEFAULT_ITERATIONS 4096u
#define ACCOUNTS_SALT_BYTES 16

/* user is already nodeprepped.  All return 0, 1 if no such user (get,
 * delete, set_password), or -1 on error.  accounts_create returns 1 when
 * the user already exists (and changes nothing).  An empty password, or
 * one SASLprep (RFC 4013) rejects, is an error. */
int accounts_create(const char *host, const char *user, const char *password);
int accounts_set_password(const char *host, const char *user,
                          const char *password);
/* Removes the credentials only: the caller purges the user's other data
 * (storage_purge_user) and closes the user's sessions. */
int accounts_delete(const char *host, const char *user);
/* 1 if the account exists, 0 if not, -1 on a storage error. */
int accounts_exists(const char *host, const char *user);
int accounts_get_scram(const char *host, const char *user, scram_hash hash,
                       scram_credentials *out);
/* 0 if the password matches, 1 if not or no such user, -1 on error.
 * An unknown user costs the same key derivation as a known one. */
int accounts_check_password(const char *host, const char *user,
                            const char *password);
/* Derives credentials for a password (used by create and by tests).
 * salt_len is at most 45 bytes (the base64 must fit salt_b64). */
int accounts_derive(const char *password, scram_hash hash,
                    unsigned iterations, const unsigned char *salt,
                    size_t salt_len, scram_credentials *out);

/* The iteration count for credentials created from now on (the option
 * `scram_iterations`); 0 restores the default.  Existing accounts keep
 * theirs until their password is set again. */
void accounts_set_iterations(unsigned iterations);
unsigned accounts_get_iterations(void);

/* Closes the cached "accounts" store of a host (NULL = every host).  Call
 * with NULL before storage_shutdown(), which frees the handles. */
void accounts_close(const char *host);

#endif
