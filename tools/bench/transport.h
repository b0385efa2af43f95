/*
 * A non-blocking TCP connection, optionally under TLS, with an output
 * buffer that is flushed once per event-loop pass (so that the many small
 * stanzas a pass produces for one connection leave in one write), and an
 * input buffer that exists only while a stanza is split across reads.
 */
#ifndef MYNAH_BENCH_TRANSPORT_H
#define MYNAH_BENCH_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "bench.h"

typedef struct transport_handler {
    void (*on_connected)(void *ud);
    /* Bytes received; returns how many were used (the rest are kept and
     * offered again, with more, on the next read). */
    size_t (*on_data)(void *ud, const char *data, size_t len);
    void (*on_tls_done)(void *ud);
    /* The connection is gone (closed by the peer, or an error); the
     * transport is already closed when this runs. */
    void (*on_closed)(void *ud, const char *reason);
} transport_handler;

typedef struct transport {
    int fd;
    struct event *read_event, *write_event;
    gnutls_session_t tls;
    uint8_t connecting, handshaking, dirty, discard_input;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_off, out_len, out_cap;
    size_t tls_retry;           /* a record send that said EAGAIN */
    /* Bumped at every close: a callback that closed (and maybe reopened)
     * the transport under our feet is noticed by comparing it. */
    uint32_t generation;
    struct transport *next_dirty;
    const transport_handler *handler;
    void *ud;
} transport;

/* Global set-up: the flush event.  Call once after the event base exists. */
int transport_init(void);
void transport_done(void);

void transport_setup(transport *t, const transport_handler *h, void *ud);

/* Connects to opt.server from source (NULL: the kernel's choice).
 * Returns 0 (completion comes as on_connected or on_closed) or -1. */
int transport_connect(transport *t, const bench_address *source);

/* Queues bytes; they leave at the end of this loop pass. */
void transport_write(transport *t, const char *data, size_t len);
/* Room for len bytes at the end of the output; commit with transport_wrote. */
char *transport_reserve(transport *t, size_t len);
void transport_wrote(transport *t, size_t len);

/* Starts the TLS handshake (direct TLS, or after <proceed/>): queued
 * input is dropped, on_tls_done follows. */
int transport_start_tls(transport *t, const char *server_name);

/* Closes at once (unsent output is dropped); no callback. */
void transport_close(transport *t);

int transport_is_open(const transport *t);

/* Connections open now. */
size_t transport_open_count(void);

#endif
