/*
 * The client side of SASL PLAIN (RFC 4616) and SCRAM-SHA-1/-256
 * (RFC 5802, RFC 7677), without channel binding ("n,,").
 *
 * SCRAM's SaltedPassword (PBKDF2, thousands of HMACs) is computed once per
 * (mechanism, salt, iterations, password) and cached with the keys
 * derived from it, so that a login loop measures the server's cost, not
 * the generator's.
 */
#ifndef MYNAH_BENCH_SASL_CLIENT_H
#define MYNAH_BENCH_SASL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

typedef struct sasl_client sasl_client;

/* The mechanism's name as in <auth mechanism='...'>. */
const char *sasl_client_mechanism(auth_mech mech);

sasl_client *sasl_client_new(auth_mech mech, const char *user,
                             const char *password);
void sasl_client_free(sasl_client *s);

/* Tests: use this client nonce instead of a random one (printable ASCII,
 * no ','; at most 35 characters).  Call before sasl_client_first. */
int sasl_client_set_nonce(sasl_client *s, const char *nonce);

/* The initial response, base64 (malloc'ed), or NULL. */
char *sasl_client_first(sasl_client *s);

/* Answers a <challenge/>: the <response/> payload, base64 (malloc'ed), or
 * NULL when the challenge is not acceptable. */
char *sasl_client_step(sasl_client *s, const char *b64, size_t len);

/* Checks the additional data of <success/> (SCRAM's server signature):
 * 1 when the server proved it knows the password, 0 if not. */
int sasl_client_verify(sasl_client *s, const char *b64, size_t len);

/* Times PBKDF2 ran (cache misses). */
uint64_t sasl_client_derivations(void);

/* Frees the cache (at exit). */
void sasl_client_cleanup(void);

/* Base64 (RFC 4648) helpers; results are malloc'ed and NUL-terminated. */
char *base64_encode(const unsigned char *data, size_t len);
unsigned char *base64_decode(const char *b64, size_t len, size_t *out_len);

#endif
