/*
 * Connections: a socket, an optional TLS session, an output buffer.
 *
 * Reads go through one shared buffer straight to the protocol handler, so an
 * idle connection holds no input memory.  Writes are queued and flushed once
 * per loop iteration (the flush event runs after the reads that libevent
 * found ready in that iteration), which batches many stanzas into one
 * syscall under load and costs nothing when idle.
 *
 * A conn is never freed while a callback of its own is on the stack: closing
 * marks it and puts it on a list that the flush event frees.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "server.h"

/* Output beyond this closes the connection: a peer that does not read must
 * not make the server hold unbounded memory (Prosody uses 32 MiB; a few MiB
 * is plenty for XMPP and bounds a flood of slow readers better). */
#define CONN_OUTPUT_LIMIT (8u * 1024 * 1024)
/* How long a closing connection may take to flush what is queued. */
#define CONN_CLOSE_SECONDS 5
/* Bytes read per readiness event before yielding to other connections. */
#define CONN_READ_BUDGET (256u * 1024)
/* GnuTLS record payloads are at most 16 KiB. */
#define TLS_WRITE_CHUNK 16384

enum conn_flag {
    CONN_CLOSED = 1 << 0,       /* closed() called, waiting to be freed */
    CONN_CLOSING = 1 << 1,      /* flushing, then close */
    CONN_QUEUED = 1 << 2,       /* on the flush list */
    CONN_PAUSED = 1 << 3,       /* reading paused by the protocol */
    CONN_HANDSHAKING = 1 << 4,  /* TLS handshake in progress */
    CONN_WRITE_WAIT = 1 << 5,   /* write event armed */
};

/* Someone waiting for output to leave (rare: offline delivery). */
typedef struct flush_waiter {
    uint64_t target; /* written_total to reach */
    void (*cb)(int written, void *ud);
    void *ud;
    struct flush_waiter *next;
} flush_waiter;

struct conn {
    int fd;
    uint16_t flags;
    uint16_t tls_write_len; /* bytes of the last tls_write that said AGAIN */
    const conn_handler *handler;
    void *userdata;
    tls_session *tls;
    tls_context *starttls_ctx; /* TLS to start once the output is flushed */
    buf out;
    struct event read_ev;
    struct event write_ev;
    conn *next_queued;         /* flush list / free list */
    uint64_t written_total;    /* bytes handed to the socket (or TLS) */
    flush_waiter *waiters;
    char peer[INET6_ADDRSTRLEN];
};

static char read_buffer[64 * 1024];
static struct event *flush_event;
static conn *flush_list;
static conn *free_list;

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_flush(conn *c);
static void conn_tls_continue(conn *c);

static void conn_schedule_flush(conn *c)
{
    if (c->flags & (CONN_QUEUED | CONN_CLOSED))
        return;
    c->flags |= CONN_QUEUED;
    c->next_queued = flush_list;
    flush_list = c;
    event_active(flush_event, EV_WRITE, 0);
}

/* Tells waiters whose bytes have left; all of them (with 0) if gone. */
static void conn_notify_waiters(conn *c, int gone)
{
    flush_waiter **link = &c->waiters;
    while (*link != NULL) {
        flush_waiter *w = *link;
        if (gone || c->written_total >= w->target) {
            *link = w->next;
            w->cb(!gone, w->ud);
            free(w);
        } else {
            link = &w->next;
        }
    }
}

int conn_on_flushed(conn *c, void (*cb)(int written, void *ud), void *ud)
{
    if (c->flags & CONN_CLOSED) {
        cb(0, ud);
        return 0;
    }
    if (buf_length(&c->out) == 0 && !(c->flags & CONN_HANDSHAKING)) {
        cb(1, ud);
        return 0;
    }
    flush_waiter *w = malloc(sizeof *w);
    if (w == NULL)
        return -1;
    w->target = c->written_total + buf_length(&c->out);
    w->cb = cb;
    w->ud = ud;
    w->next = c->waiters;
    c->waiters = w;
    return 0;
}

static void conn_free(conn *c)
{
    if (c->tls)
        tls_session_free(c->tls);
    buf_free(&c->out);
    free(c);
}

static void conn_run_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    conn_flush_all();
}

void conn_flush_all(void)
{
    /* Flushing can queue more (a closing conn finishing, TLS), so loop. */
    while (flush_list != NULL) {
        conn *list = flush_list;
        flush_list = NULL;
        while (list != NULL) {
            conn *c = list;
            list = c->next_queued;
            c->flags &= ~CONN_QUEUED;
            if (!(c->flags & CONN_CLOSED))
                conn_flush(c);
        }
    }
    while (free_list != NULL) {
        conn *c = free_list;
        free_list = c->next_queued;
        conn_free(c);
    }
}

int conn_subsystem_init(void)
{
    flush_event = event_new(server.base, -1, 0, conn_run_flush, NULL);
    return flush_event ? 0 : -1;
}

void conn_subsystem_done(void)
{
    conn_flush_all();
    if (flush_event)
        event_free(flush_event);
    flush_event = NULL;
}

conn *conn_new(int fd, const conn_handler *handler, void *userdata)
{
    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->handler = handler;
    c->userdata = userdata;
    evutil_make_socket_nonblocking(fd);
    /* Nagle would hold small replies back ~40 ms per login round trip. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer,
                      sizeof c->peer);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
                      c->peer, sizeof c->peer);
    }
    if (c->peer[0] == '\0')
        strcpy(c->peer, "unknown");

    event_assign(&c->read_ev, server.base, fd, EV_READ | EV_PERSIST,
                 conn_on_read, c);
    event_assign(&c->write_ev, server.base, fd, EV_WRITE, conn_on_write, c);
    if (event_add(&c->read_ev, NULL) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* The end of a connection: tell the protocol once, free at flush time. */
static void conn_finish(conn *c, const char *reason)
{
    if (c->flags & CONN_CLOSED)
        return;
    c->flags |= CONN_CLOSED;
    event_del(&c->read_ev);
    event_del(&c->write_ev);
    if (c->tls && !(c->flags & CONN_HANDSHAKING))
        tls_bye(c->tls);
    close(c->fd);
    c->fd = -1;
    conn_notify_waiters(c, 1);
    c->handler->closed(c, c->userdata, reason);
    c->next_queued = free_list;
    free_list = c;
    /* Make sure the free happens even if nothing else is queued. */
    event_active(flush_event, EV_WRITE, 0);
}

void conn_abort(conn *c, const char *reason)
{
    conn_finish(c, reason);
}

void conn_close(conn *c)
{
    if (c->flags & (CONN_CLOSED | CONN_CLOSING))
        return;
    /* Mid-handshake nothing queued can be sent (no TLS yet, and plaintext
     * is no longer allowed), and conn_flush() waits for the handshake:
     * a peer that stalls it (a login timeout) would hold the socket for
     * ever.  Finish now. */
    if (c->flags & CONN_HANDSHAKING) {
        conn_finish(c, "closed during the TLS handshake");
        return;
    }
    c->flags |= CONN_CLOSING;
    event_del(&c->read_ev);
    conn_schedule_flush(c);
}

static void conn_arm_write(conn *c)
{
    struct timeval tv = {CONN_CLOSE_SECONDS, 0};
    /* A closing connection gets a deadline; others wait as long as needed
     * (the output limit bounds what they can hold). */
    event_add(&c->write_ev, (c->flags & CONN_CLOSING) ? &tv : NULL);
    c->flags |= CONN_WRITE_WAIT;
}

static void conn_begin_tls(conn *c)
{
    char *error = NULL;
    tls_context *ctx = c->starttls_ctx;
    c->starttls_ctx = NULL;
    c->tls = tls_session_new(ctx, c->fd, &error);
    if (c->tls == NULL) {
        log_msg(MYNAH_LOG_WARN, "conn", "%s: TLS session: %s", c->peer,
                error ? error : "failed");
        free(error);
        conn_finish(c, "TLS setup failed");
        return;
    }
    c->flags |= CONN_HANDSHAKING;
    conn_tls_continue(c);
}

int conn_starttls(conn *c, tls_context *ctx)
{
    if (c->tls != NULL || ctx == NULL)
        return -1;
    c->starttls_ctx = ctx;
    if (buf_length(&c->out) == 0)
        conn_begin_tls(c);
    else
        conn_schedule_flush(c);
    return 0;
}

static void conn_tls_continue(conn *c)
{
    int r = tls_handshake(c->tls);
    if (r == TLS_OK) {
        c->flags &= ~CONN_HANDSHAKING;
        c->handler->tls_done(c, c->userdata, 1);
        /* Application data may already sit decrypted in GnuTLS. */
        if (!(c->flags & CONN_CLOSED) && tls_pending(c->tls) > 0)
            event_active(&c->read_ev, EV_READ, 0);
        return;
    }
    if (r == TLS_AGAIN) {
        if (tls_wants_write(c->tls))
            conn_arm_write(c);
        return;
    }
    log_msg(MYNAH_LOG_DEBUG, "conn", "%s: TLS handshake failed: %s", c->peer,
            tls_error(c->tls));
    c->handler->tls_done(c, c->userdata, 0);
    conn_finish(c, "TLS handshake failed");
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)fd; (void)what;
    if (c->flags & CONN_HANDSHAKING) {
        conn_tls_continue(c);
        return;
    }
    size_t budget = CONN_READ_BUDGET;
    /* After <starttls/> nothing more is read as plaintext: the client waits
     * for <proceed/> and then speaks TLS (RFC 6120 §5.4.3.3). */
    while (!(c->flags & (CONN_CLOSED | CONN_CLOSING | CONN_PAUSED)) &&
           c->starttls_ctx == NULL) {
        ssize_t n;
        if (c->tls) {
            n = tls_read(c->tls, read_buffer, sizeof read_buffer);
            if (n == TLS_AGAIN) {
                if (tls_wants_write(c->tls))
                    conn_arm_write(c);
                return;
            }
            if (n == TLS_ERROR) {
                conn_finish(c, tls_error(c->tls));
                return;
            }
        } else {
            n = recv(c->fd, read_buffer, sizeof read_buffer, 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return;
                conn_finish(c, strerror(errno));
                return;
            }
        }
        if (n == 0) {
            conn_finish(c, "connection closed by peer");
            return;
        }
        c->handler->data(c, c->userdata, read_buffer, (size_t)n);
        /* A short plain read means the socket is drained; TLS may still
         * hold decrypted records, so ask it. */
        if (c->tls == NULL && (size_t)n < sizeof read_buffer)
            return;
        if (c->tls != NULL && !(c->flags & CONN_CLOSED) &&
            tls_pending(c->tls) == 0 && (size_t)n < sizeof read_buffer)
            return;
        if ((size_t)n >= budget) {
            /* Fairness: let other connections run; come back next round. */
            if (!(c->flags & (CONN_CLOSED | CONN_PAUSED)))
                event_active(&c->read_ev, EV_READ, 0);
            return;
        }
        budget -= (size_t)n;
    }
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)fd;
    c->flags &= ~CONN_WRITE_WAIT;
    if (what & EV_TIMEOUT) {
        conn_finish(c, "timed out flushing output");
        return;
    }
    if (c->flags & CONN_HANDSHAKING) {
        conn_tls_continue(c);
        return;
    }
    conn_flush(c);
    /* A TLS read that wanted to write can go on now. */
    if (c->tls && !(c->flags & (CONN_CLOSED | CONN_PAUSED)) &&
        tls_pending(c->tls) > 0)
        event_active(&c->read_ev, EV_READ, 0);
}

/* Writes as much as the socket takes.  Returns 0, or -1 if it finished
 * the connection. */
static int conn_write_out(conn *c)
{
    while (buf_length(&c->out) > 0) {
        ssize_t n;
        if (c->tls) {
            size_t len = buf_length(&c->out);
            if (c->tls_write_len)
                len = c->tls_write_len; /* GnuTLS wants the same bytes again */
            else if (len > TLS_WRITE_CHUNK)
                len = TLS_WRITE_CHUNK;
            n = tls_write(c->tls, buf_bytes(&c->out), len);
            if (n == TLS_AGAIN) {
                c->tls_write_len = (uint16_t)len;
                conn_arm_write(c);
                return 0;
            }
            c->tls_write_len = 0;
            if (n == TLS_ERROR) {
                conn_finish(c, tls_error(c->tls));
                return -1;
            }
        } else {
            n = send(c->fd, buf_bytes(&c->out), buf_length(&c->out),
                     MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    conn_arm_write(c);
                    return 0;
                }
                conn_finish(c, strerror(errno));
                return -1;
            }
        }
        buf_consume(&c->out, (size_t)n);
        c->written_total += (uint64_t)n;
        if (c->waiters)
            conn_notify_waiters(c, 0);
    }
    return 0;
}

static void conn_flush(conn *c)
{
    if (c->flags & (CONN_CLOSED | CONN_HANDSHAKING))
        return;
    if (!(c->flags & CONN_WRITE_WAIT) && conn_write_out(c) < 0)
        return;
    if (buf_length(&c->out) > 0)
        return;
    buf_shrink(&c->out);
    /* Closing wins over a pending STARTTLS: no handshake to start. */
    if (c->flags & CONN_CLOSING) {
        shutdown(c->fd, SHUT_WR);
        conn_finish(c, "closed");
        return;
    }
    if (c->starttls_ctx != NULL)
        conn_begin_tls(c);
}

int conn_write(conn *c, const void *data, size_t len)
{
    if (c->flags & CONN_CLOSED)
        return -1;
    if (buf_append(&c->out, data, len) < 0)
        return -1;
    return conn_wrote(c);
}

buf *conn_output(conn *c)
{
    return &c->out;
}

int conn_wrote(conn *c)
{
    if (c->flags & CONN_CLOSED)
        return -1;
    if (buf_length(&c->out) > CONN_OUTPUT_LIMIT) {
        log_msg(MYNAH_LOG_INFO, "conn", "%s: output limit exceeded, closing",
                c->peer);
        conn_finish(c, "output buffer limit exceeded");
        return -1;
    }
    conn_schedule_flush(c);
    return 0;
}

void conn_pause_reading(conn *c)
{
    if (c->flags & (CONN_PAUSED | CONN_CLOSED))
        return;
    c->flags |= CONN_PAUSED;
    event_del(&c->read_ev);
}

void conn_resume_reading(conn *c)
{
    if (!(c->flags & CONN_PAUSED) || (c->flags & (CONN_CLOSED | CONN_CLOSING)))
        return;
    c->flags &= ~CONN_PAUSED;
    event_add(&c->read_ev, NULL);
    /* Input may have arrived (or be buffered in TLS) while paused. */
    event_active(&c->read_ev, EV_READ, 0);
}

int conn_is_tls(const conn *c)
{
    return c->tls != NULL && !(c->flags & CONN_HANDSHAKING);
}

tls_session *conn_tls(conn *c)
{
    return c->tls;
}

const char *conn_peer_address(const conn *c)
{
    return c->peer;
}

int conn_fd(const conn *c)
{
    return c->fd;
}

size_t conn_memory(const conn *c)
{
    return sizeof *c + c->out.cap + (c->tls ? tls_session_memory(c->tls) : 0);
}
