/*
 * A connection: one socket, optional TLS, and an output buffer.
 *
 * Memory per idle connection is the struct plus two libevent events; there
 * is no per-connection input buffer (reads go through one shared buffer
 * straight into the XML parser) and the output buffer is freed whenever it
 * drains.  Output is batched: conn_write() appends, and every connection
 * written to during a loop iteration is flushed once, after the input of
 * that iteration has been processed.
 */
#ifndef MYNAH_CONN_H
#define MYNAH_CONN_H

#include <stddef.h>
#include "buf.h"
#include "tls.h"

typedef struct conn conn;

typedef struct conn_handler {
    /* Plaintext bytes arrived.  The handler may call conn_close() or
     * conn_starttls() from here. */
    void (*data)(conn *c, void *userdata, const char *bytes, size_t len);
    /* The connection is gone (peer closed, error, or conn_close() done).
     * Called once; the conn is freed right after it returns. */
    void (*closed)(conn *c, void *userdata, const char *reason);
    /* The TLS handshake finished (ok = 1) or failed (ok = 0, and closed()
     * follows). */
    void (*tls_done)(conn *c, void *userdata, int ok);
} conn_handler;

/* Takes ownership of a connected socket (made non-blocking here). */
conn *conn_new(int fd, const conn_handler *handler, void *userdata);
/* Starts a server-side TLS handshake now (direct TLS, XEP-0368), or, for
 * STARTTLS, right after the output written so far (the <proceed/>) is
 * flushed.  Bytes that arrived after <starttls/> are discarded. */
int conn_starttls(conn *c, tls_context *ctx);

/* Queues bytes; flushed at the end of the loop iteration.  Returns 0, or
 * -1 when the output limit is exceeded (the connection is then closed). */
int conn_write(conn *c, const void *data, size_t len);
/* The output buffer, to serialize into directly; call conn_wrote() after. */
buf *conn_output(conn *c);
int conn_wrote(conn *c);

/* Calls cb(1, ud) once the bytes queued so far have been written to the
 * socket (at once if nothing is queued), or cb(0, ud) if the connection
 * ends first.  0, or -1 when out of memory. */
int conn_on_flushed(conn *c, void (*cb)(int written, void *ud), void *ud);

/* Flushes what is queued (with a bounded wait), then closes. */
void conn_close(conn *c);
/* Closes at once, dropping queued output. */
void conn_abort(conn *c, const char *reason);

void conn_pause_reading(conn *c);
void conn_resume_reading(conn *c);

int conn_is_tls(const conn *c);
tls_session *conn_tls(conn *c);
/* "127.0.0.1" / "::1": the peer's address, for logs and rate limits. */
const char *conn_peer_address(const conn *c);
int conn_fd(const conn *c);
size_t conn_memory(const conn *c);

/* Called once at start-up: the shared read buffer and the flush event. */
int conn_subsystem_init(void);
void conn_subsystem_done(void);
/* Flushes every connection with queued output (the flush event does this;
 * exposed for shutdown). */
void conn_flush_all(void);

#endif
