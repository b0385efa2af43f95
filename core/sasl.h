/*
 * SASL for c2s with GNU SASL (RFC 6120 §6).
 *
 * Mechanisms: SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants (with
 * tls-exporter, and tls-unique on TLS 1.2), and PLAIN.  PLAIN is offered
 * only on an encrypted stream unless allow_unencrypted_plain_auth is set.
 * -PLUS is offered only when the stream is TLS and channel binding data is
 * available.  Credentials come from accounts.h; the server side never sees
 * a stored password.
 */
#ifndef MYNAH_SASL_H
#define MYNAH_SASL_H

#include <stddef.h>
#include "tls.h"

typedef struct sasl_server sasl_server;

typedef struct sasl_options {
    const char *host;          /* the virtual host being logged in to */
    tls_session *tls;          /* NULL on a plain stream */
    int allow_plain;           /* PLAIN allowed on this stream now */
} sasl_options;

#define SASL_CONTINUE 1  /* send <challenge/> with *out */
#define SASL_SUCCESS 0   /* send <success/> with *out (may be empty) */
#define SASL_FAILURE (-1) /* send <failure/> with the condition */

/* Process-wide; 0 or -1. */
int sasl_global_init(void);
void sasl_global_done(void);

sasl_server *sasl_server_new(const sasl_options *options);
void sasl_server_free(sasl_server *s);

/* The mechanisms to advertise, in preference order; index from 0,
 * NULL past the end. */
const char *sasl_mechanism_at(sasl_server *s, size_t index);

/*
 * <auth mechanism='M'>initial</auth> and <response>data</response>.
 * Input and *out are base64 as on the wire ("" or "=" for empty input);
 * *out is malloc'd (may be NULL for none).  On SASL_FAILURE *condition is
 * one of RFC 6120 §6.5's names: "invalid-mechanism", "malformed-request",
 * "not-authorized", "encryption-required", "incorrect-encoding",
 * "mechanism-too-weak", "account-disabled", "temporary-auth-failure".
 */
int sasl_start(sasl_server *s, const char *mechanism, const char *input_b64,
               char **out_b64, const char **condition);
int sasl_step(sasl_server *s, const char *input_b64, char **out_b64,
              const char **condition);
/* After SASL_SUCCESS: the nodeprepped user name. */
const char *sasl_username(sasl_server *s);
/* The mechanism in use (for logs). */
const char *sasl_mechanism(sasl_server *s);

#endif
