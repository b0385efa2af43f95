/*
 * SASL for c2s with GNU SASL (RFC 6120 §6).
 *
 * Mechanisms: SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants (with
 * tls-exporter, and tls-unique on TLS 1.2), and PLAIN.  PLAIN is offered
 * only on an encrypted stream unless allow_unencrypted_plain_auth is set.
 * -PLUS is offered only when the stream is TLS and channel binding data is
 * available.  Credentials come from accounts.h; the server side never sees
 * a stored password.  doc/authentication.md describes it for operators.
 */
#ifndef MYNAH_SASL_H
#define MYNAH_SASL_H

#include <stddef.h>
#include "tls.h"

typedef struct sasl_server sasl_server;

typedef struct sasl_options {
    const char *host;          /* the virtual host being logged in to */
    tls_session *tls;          /* NULL on a plain stream.  Only tested for
                                  NULL: sasl.c never calls into tls.h. */
    int allow_plain;           /* PLAIN allowed on this stream now */
    /*
     * Channel binding data (RFC 5929, RFC 9266) that the caller got from
     * tls_channel_binding(tls, "tls-exporter" / "tls-unique"), or NULL when
     * that type is not available on this stream (tls-unique exists only on
     * TLS 1.2).  Copied by sasl_server_new; ignored when tls is NULL.
     * -PLUS mechanisms are offered exactly when one of them is present.
     */
    const unsigned char *cb_exporter;
    size_t cb_exporter_len;
    const unsigned char *cb_unique;
    size_t cb_unique_len;
} sasl_options;

#define SASL_CONTINUE 1  /* send <challenge/> with *out */
#define SASL_SUCCESS 0   /* send <success/> with *out (may be empty) */
#define SASL_FAILURE (-1) /* send <failure/> with the condition */

/* Process-wide; 0 or -1.  Idempotent; sasl_server_new calls it if needed. */
int sasl_global_init(void);
void sasl_global_done(void);

/* NULL when out of memory or GNU SASL cannot start. */
sasl_server *sasl_server_new(const sasl_options *options);
void sasl_server_free(sasl_server *s);

/* The mechanisms to advertise, in preference order; index from 0,
 * NULL past the end. */
const char *sasl_mechanism_at(sasl_server *s, size_t index);

/* The channel binding types to advertise in XEP-0440's
 * <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>: "tls-exporter",
 * then "tls-unique" (TLS 1.2); index from 0, NULL past the end. */
const char *sasl_channel_binding_at(sasl_server *s, size_t index);

/*
 * <auth mechanism='M'>initial</auth> and <response>data</response>.
 * Input and *out are base64 as on the wire.  For sasl_start, NULL or ""
 * means no initial response (the answer is an empty challenge) and "="
 * a zero-length one (RFC 6120 §6.4.2).  *out is malloc'd, or NULL when
 * the element is to be sent empty.  On SASL_FAILURE *condition is one of
 * RFC 6120 §6.5's names: "invalid-mechanism", "malformed-request",
 * "not-authorized", "encryption-required", "incorrect-encoding",
 * "invalid-authzid", "mechanism-too-weak", "account-disabled",
 * "temporary-auth-failure".  sasl_start may be called again after a
 * failure (or to restart): it begins a new exchange.
 */
int sasl_start(sasl_server *s, const char *mechanism, const char *input_b64,
               char **out_b64, const char **condition);
int sasl_step(sasl_server *s, const char *input_b64, char **out_b64,
              const char **condition);
/* After SASL_FAILURE: 1 when a password or proof was checked and wrong
 * (what login throttling counts), 0 for syntax errors, refused channel
 * binding downgrades, unknown mechanisms and storage faults. */
int sasl_failure_was_secret(const sasl_server *s);

/* After SASL_SUCCESS: the nodeprepped user name (else NULL). */
const char *sasl_username(sasl_server *s);
/* The mechanism in use (for logs), or NULL before sasl_start. */
const char *sasl_mechanism(sasl_server *s);

#endif
