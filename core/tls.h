/*
 * TLS with GnuTLS, as a filter between the socket and the stream.
 *
 * libevent has no GnuTLS bufferevent, so a connection drives the session
 * itself on its non-blocking socket: tls_read/tls_write/tls_handshake return
 * TLS_AGAIN when the socket would block, and tls_wants_write() says which
 * direction to wait for.
 *
 * GnuTLS buffers decrypted records internally, and the socket will not
 * signal readability for bytes that GnuTLS has already taken from it:
 *  - after a read, keep calling tls_read() while tls_pending() > 0.
 *    (With TLS 1.3, GnuTLS answers "again" after a record without
 *    application data, such as a KeyUpdate, even when the next record is
 *    already waiting; tls_read notices that the socket was not drained
 *    and reads on by itself, so TLS_AGAIN from tls_read does mean "wait
 *    for the socket".  Callers must still loop on tls_pending());
 *  - when tls_handshake() returns TLS_OK, try tls_read() at once: the
 *    client's first bytes may have arrived with its Finished message.
 *
 * Ownership: a session keeps its context alive (sessions share the
 * context's credentials and priority cache), so tls_context_free() may be
 * called while sessions still use it, e.g. after a reload built a new one;
 * the memory goes when the last of them is freed.
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

/* The default GnuTLS priority string: TLS 1.3 and 1.2 only, AEAD ciphers
 * (AES-GCM, ChaCha20-Poly1305), forward-secret key exchange only, no CBC,
 * 3DES, RC4 or SHA-1 MACs.  (`gnutls-cli --priority '...' --list` shows
 * what a string allows.) */
#define TLS_DEFAULT_PRIORITY                                                  \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"                          \
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:"               \
    "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA"

/* priority: a GnuTLS priority string, NULL for TLS_DEFAULT_PRIORITY.
 * A bad string gives NULL and an *error naming the position of the fault.
 * Errors (here and below) are malloc'd; the caller frees them. */
tls_context *tls_context_new(const char *priority, char **error);
/* Drops the caller's reference (see "Ownership" above). */
void tls_context_free(tls_context *ctx);
/* Adds a certificate for a host (chosen by SNI; the first one added is the
 * fallback).  The certificate file may hold the chain after the leaf.  A
 * client asking for "sub.host" with no certificate of its own gets the
 * certificate of "host" if loaded, else the fallback.  An expired
 * certificate or one that does not name the host is loaded with a warning
 * in the log.  0, or -1 with *error (unreadable file, key mismatch, a
 * second certificate for the same host). */
int tls_context_add_certificate(tls_context *ctx, const char *host,
                                const char *cert_file, const char *key_file,
                                char **error);
int tls_context_has_certificates(const tls_context *ctx);

/* Writes a self-signed certificate and key (PEM) for a host, with the host
 * as subject CN and DNS SAN (and *.host, and an XmppAddr), an ECDSA P-256
 * key, valid from a day ago for ten years, key file mode 0600.  Missing
 * directories are created with mode 0700; files are written through a
 * temporary file and never replace an existing one.  Used on first start
 * when no certificate is configured.  0 (also when both files already
 * exist: nothing is written), or -1 with *error (also when only one of the
 * two exists). */
int tls_generate_self_signed(const char *host, const char *cert_file,
                             const char *key_file, char **error);

/* A server-side session on a connected non-blocking socket (the caller
 * keeps owning the fd).  Never asks for a client certificate.  Fails when
 * the context has no certificate. */
tls_session *tls_session_new(tls_context *ctx, int fd, char **error);
void tls_session_free(tls_session *s);
/* TLS_OK when done, TLS_AGAIN, or TLS_ERROR (then tls_error() says why:
 * GnuTLS's text, e.g. "An unexpected TLS packet was received." for a
 * plaintext client or "A packet with illegal or unsupported version was
 * received." for a TLS 1.0/1.1 one).  A failure concerns this session only. */
int tls_handshake(tls_session *s);
/* > 0 bytes, 0 when the peer closed (with close_notify, or by closing TCP
 * without it: XMPP streams have their own end), TLS_AGAIN or TLS_ERROR
 * (also when a TLS 1.2 client asks to renegotiate).  len must be > 0. */
ssize_t tls_read(tls_session *s, void *data, size_t len);
/* > 0 bytes written (at most one record, 16 KiB, per call), TLS_AGAIN
 * (call again later starting with the same bytes: GnuTLS has taken them
 * and finishes sending them first) or TLS_ERROR. */
ssize_t tls_write(tls_session *s, const void *data, size_t len);
size_t tls_pending(tls_session *s);
/* After TLS_AGAIN: 1 if GnuTLS waits to write, 0 if to read. */
int tls_wants_write(tls_session *s);
/* Sends close_notify (best effort, never blocks). */
void tls_bye(tls_session *s);
/* Why the last call failed ("no error" if none); valid until the next
 * call on the session. */
const char *tls_error(tls_session *s);

/* The SNI name the client asked for, or NULL. */
const char *tls_server_name(tls_session *s);
/* "TLS1.3", "TLS1.2"; NULL before the handshake completed. */
const char *tls_protocol_name(tls_session *s);
/* Channel binding data, once the handshake completed:
 *  "tls-exporter" (RFC 9266: 32 bytes; on TLS 1.2 only with the extended
 *                  master secret, RFC 7627),
 *  "tls-unique" (RFC 5929, TLS 1.2 only),
 *  "tls-server-end-point" (RFC 5929: hash of our certificate).
 * Returns 0 with a malloc'd buffer in *data (the caller frees it), or -1
 * when that type is not available on this session. */
int tls_channel_binding(tls_session *s, const char *type,
                        unsigned char **data, size_t *len);
/* Heap bytes an established session holds (GnuTLS's state and ours),
 * estimated: the heap growth is measured (mallinfo2) while the first
 * sessions of a context are created and shake hands, and the smallest
 * result is used for every session (about 10 KB with GnuTLS 3.7.9, 8 KB of
 * it GnuTLS's session struct).  Transient record buffers are not counted
 * (an idle session holds none).  0 when unknown (before a first
 * handshake, or under AddressSanitizer). */
size_t tls_session_memory(const tls_session *s);

#endif
