/*
 * TLS with GnuTLS, as a filter between the socket and the stream.
 *
 * libevent has no GnuTLS bufferevent, so a connection drives the session
 * itself on its non-blocking socket: tls_read/tls_write/tls_handshake return
 * TLS_AGAIN when the socket would block, and tls_wants_write() says which
 * direction to wait for.  GnuTLS buffers decrypted records internally:
 * after a read, keep reading while tls_pending() > 0 (with TLS 1.3 a read
 * can return "again" right after a session ticket with data still
 * buffered).
 */
#ifndef MYNAH_TLS_H
#define MYNAH_TLS_H

#include <stddef.h>
#include <sys/types.h>

#define TLS_OK 0
#define TLS_AGAIN (-2)
#define TLS_ERROR (-1)

typedef struct tls_context tls_context;   /* server-wide: priorities + certs */
typedef struct tls_session tls_session;

/* priority: a GnuTLS priority string, NULL for the default
 * (TLS 1.2 and 1.3 only, no legacy ciphers). */
tls_context *tls_context_new(const char *priority, char **error);
void tls_context_free(tls_context *ctx);
/* Adds a certificate for a host (chosen by SNI; the first one added is the
 * fallback).  0, or -1 with *error. */
int tls_context_add_certificate(tls_context *ctx, const char *host,
                                const char *cert_file, const char *key_file,
                                char **error);
int tls_context_has_certificates(const tls_context *ctx);

/* Writes a self-signed certificate and key (PEM) for a host, with the host
 * as subject CN and DNS SAN (and *.host), valid ten years, key file mode
 * 0600.  Used on first start when no certificate is configured.
 * 0, or -1 with *error. */
int tls_generate_self_signed(const char *host, const char *cert_file,
                             const char *key_file, char **error);

/* A server-side session on a connected non-blocking socket. */
tls_session *tls_session_new(tls_context *ctx, int fd, char **error);
void tls_session_free(tls_session *s);
/* TLS_OK when done, TLS_AGAIN, or TLS_ERROR (then tls_error() says why). */
int tls_handshake(tls_session *s);
/* > 0 bytes, 0 on a clean close by the peer, TLS_AGAIN or TLS_ERROR. */
ssize_t tls_read(tls_session *s, void *data, size_t len);
/* > 0 bytes written, TLS_AGAIN (call again later with the same bytes) or
 * TLS_ERROR. */
ssize_t tls_write(tls_session *s, const void *data, size_t len);
size_t tls_pending(tls_session *s);
/* After TLS_AGAIN: 1 if GnuTLS waits to write, 0 if to read. */
int tls_wants_write(tls_session *s);
/* Sends close_notify (best effort, never blocks). */
void tls_bye(tls_session *s);
const char *tls_error(tls_session *s);

/* The SNI name the client asked for, or NULL. */
const char *tls_server_name(tls_session *s);
/* "TLS1.3", "TLS1.2" */
const char *tls_protocol_name(tls_session *s);
/* Channel binding data: type "tls-exporter" (RFC 9266) or "tls-unique"
 * (TLS 1.2 only).  Returns a malloc'd buffer in *data, or -1 when that
 * type is not available on this session. */
int tls_channel_binding(tls_session *s, const char *type,
                        unsigned char **data, size_t *len);
/* Heap bytes GnuTLS holds for the session, if known (0 otherwise). */
size_t tls_session_memory(const tls_session *s);

#endif
