/*
 * Sockets, TLS records and buffers for the generator's connections.
 *
 * Reads go into one shared scratch buffer; only a stanza split across
 * reads is copied into the connection's own buffer, so ten thousand idle
 * clients hold no input memory.  Writes are queued and flushed by one
 * event activated at the first write of a loop pass: a client that sends
 * several messages in one pass makes one send() (one TLS record).
 */
#include "transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_client.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define SCRATCH_SIZE (64 * 1024)
#define READ_ROUNDS 8
/* An output buffer larger than this is freed once drained. */
#define OUT_KEEP 4096

static char scratch[SCRATCH_SIZE];
static transport *dirty_first;
static struct event *flush_event;
static int flush_scheduled;
static size_t open_count;

static void transport_fail(transport *t, const char *reason);
static void send_pending(transport *t);

static int ensure_capacity(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 512;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* ---- the flush pass ---- */

static void flush_all(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    flush_scheduled = 0;
    while (dirty_first != NULL) {
        transport *t = dirty_first;
        dirty_first = t->next_dirty;
        t->next_dirty = NULL;
        t->dirty = 0;
        if (t->fd >= 0 && !t->connecting && !t->handshaking)
            send_pending(t);
    }
}

static void mark_dirty(transport *t)
{
    if (t->dirty)
        return;
    t->dirty = 1;
    t->next_dirty = dirty_first;
    dirty_first = t;
    if (!flush_scheduled) {
        flush_scheduled = 1;
        /* Same priority as the I/O events: it runs at the end of this
         * pass, after the callbacks already queued. */
        event_active(flush_event, 0, 0);
    }
}

int transport_init(void)
{
    flush_event = event_new(bench_base, -1, 0, flush_all, NULL);
    return flush_event ? 0 : -1;
}

void transport_done(void)
{
    if (flush_event)
        event_free(flush_event);
    flush_event = NULL;
}

size_t transport_open_count(void)
{
    return open_count;
}

void transport_setup(transport *t, const transport_handler *h, void *ud)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->handler = h;
    t->ud = ud;
}

int transport_is_open(const transport *t)
{
    return t->fd >= 0;
}

/* ---- output ---- */

static void send_pending(transport *t)
{
    while (t->out_off < t->out_len) {
        ssize_t n;
        if (t->tls) {
            /* GnuTLS wants an interrupted send repeated with the same
             * length. */
            size_t len = t->tls_retry ? t->tls_retry : t->out_len - t->out_off;
            n = gnutls_record_send(t->tls, t->out + t->out_off, len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                t->tls_retry = len;
                event_add(t->write_event, NULL);
                return;
            }
            t->tls_retry = 0;
            if (n < 0) {
                transport_fail(t, gnutls_strerror((int)n));
                return;
            }
        } else {
            n = send(t->fd, t->out + t->out_off, t->out_len - t->out_off,
                     MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    event_add(t->write_event, NULL);
                    return;
                }
                transport_fail(t, strerror(errno));
                return;
            }
        }
        t->out_off += (size_t)n;
    }
    t->out_off = t->out_len = 0;
    if (t->out_cap > OUT_KEEP) {
        free(t->out);
        t->out = NULL;
        t->out_cap = 0;
    }
}

char *transport_reserve(transport *t, size_t len)
{
    if (t->out_off > 0 && t->out_off == t->out_len && t->tls_retry == 0)
        t->out_off = t->out_len = 0;
    if (ensure_capacity(&t->out, &t->out_cap, t->out_len + len) < 0)
        return NULL;
    return t->out + t->out_len;
}

void transport_wrote(transport *t, size_t len)
{
    t->out_len += len;
    mark_dirty(t);
}

void transport_write(transport *t, const char *data, size_t len)
{
    if (t->fd < 0)
        return;
    char *p = transport_reserve(t, len);
    if (p == NULL) {
        transport_fail(t, "out of memory");
        return;
    }
    memcpy(p, data, len);
    transport_wrote(t, len);
}

/* ---- input ---- */

/* Offers bytes to the handler; keeps what it did not use. */
static void deliver(transport *t, const char *data, size_t len, int in_own_buffer)
{
    uint32_t generation = t->generation;
    size_t used = t->handler->on_data(t->ud, data, len);
    if (generation != t->generation)
        return; /* closed (maybe reopened): the input belonged to the old one */
    if (t->discard_input) {
        t->discard_input = 0;
        used = len;
    }
    if (in_own_buffer) {
        memmove(t->in, t->in + used, len - used);
        t->in_len = len - used;
    } else if (used < len) {
        if (ensure_capacity(&t->in, &t->in_cap, len - used) < 0) {
            transport_fail(t, "out of memory");
            return;
        }
        memcpy(t->in, data + used, len - used);
        t->in_len = len - used;
    }
    if (t->in_len == 0 && t->in != NULL) {
        free(t->in);
        t->in = NULL;
        t->in_cap = 0;
    }
}

static void handshake_step(transport *t)
{
    int r = gnutls_handshake(t->tls);
    if (r == 0) {
        t->handshaking = 0;
        event_del(t->write_event);
        uint32_t generation = t->generation;
        t->handler->on_tls_done(t->ud);
        if (generation == t->generation && t->out_len > t->out_off)
            mark_dirty(t);
        return;
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        if (gnutls_record_get_direction(t->tls) == 1)
            event_add(t->write_event, NULL);
        return;
    }
    if (!gnutls_error_is_fatal(r))
        return;
    transport_fail(t, gnutls_strerror(r));
}

static void read_some(transport *t)
{
    for (int round = 0; round < READ_ROUNDS && t->fd >= 0; round++) {
        char *dst;
        size_t room;
        int own = t->in_len > 0;
        if (own) {
            if (ensure_capacity(&t->in, &t->in_cap, t->in_len + 16384) < 0) {
                transport_fail(t, "out of memory");
                return;
            }
            dst = t->in + t->in_len;
            room = t->in_cap - t->in_len;
        } else {
            dst = scratch;
            room = sizeof scratch;
        }
        ssize_t n;
        if (t->tls) {
            n = gnutls_record_recv(t->tls, dst, room);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                return;
            if (n < 0) {
                if (!gnutls_error_is_fatal((int)n))
                    continue;
                transport_fail(t, gnutls_strerror((int)n));
                return;
            }
        } else {
            n = recv(t->fd, dst, room, 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return;
                transport_fail(t, strerror(errno));
                return;
            }
        }
        if (n == 0) {
            transport_fail(t, "closed by the server");
            return;
        }
        if (own)
            deliver(t, t->in, t->in_len + (size_t)n, 1);
        else
            deliver(t, dst, (size_t)n, 0);
        /* Level-triggered: what is left is read on the next pass. */
        if ((size_t)n < room && (t->tls == NULL || t->fd < 0 ||
                                 gnutls_record_check_pending(t->tls) == 0))
            return;
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    transport *t = arg;
    (void)fd; (void)what;
    if (t->handshaking)
        handshake_step(t);
    else
        read_some(t);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    transport *t = arg;
    (void)what;
    if (t->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            transport_fail(t, strerror(err));
            return;
        }
        t->connecting = 0;
        event_add(t->read_event, NULL);
        uint32_t generation = t->generation;
        t->handler->on_connected(t->ud);
        if (generation == t->generation && t->out_len > t->out_off &&
            !t->handshaking)
            mark_dirty(t);
        return;
    }
    if (t->handshaking)
        handshake_step(t);
    else
        send_pending(t);
}

/* ---- connect and close ---- */

int transport_connect(transport *t, const bench_address *source)
{
    const struct sockaddr *server = (const struct sockaddr *)&opt.server.addr;
    int fd = socket(server->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (source != NULL) {
        /* Let connect() pick the port per (source, destination) pair:
         * without this, bind() would reserve a port for the address alone
         * and ~28k connections would exhaust it. */
        if (server->sa_family == AF_INET)
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)&source->addr, source->len) < 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, server, opt.server.len) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    t->read_event = event_new(bench_base, fd, EV_READ | EV_PERSIST, on_read, t);
    t->write_event = event_new(bench_base, fd, EV_WRITE, on_write, t);
    if (t->read_event == NULL || t->write_event == NULL) {
        if (t->read_event)
            event_free(t->read_event);
        if (t->write_event)
            event_free(t->write_event);
        t->read_event = t->write_event = NULL;
        close(fd);
        return -1;
    }
    t->fd = fd;
    t->connecting = 1;
    open_count++;
    event_add(t->write_event, NULL);
    return 0;
}

int transport_start_tls(transport *t, const char *server_name)
{
    t->tls = tls_client_session(t->fd, server_name);
    if (t->tls == NULL)
        return -1;
    t->handshaking = 1;
    t->discard_input = 1;
    t->in_len = 0;
    handshake_step(t);
    return 0;
}

void transport_close(transport *t)
{
    if (t->fd < 0)
        return;
    event_free(t->read_event);
    event_free(t->write_event);
    t->read_event = t->write_event = NULL;
    if (t->tls)
        gnutls_deinit(t->tls);
    t->tls = NULL;
    close(t->fd);
    t->fd = -1;
    free(t->in);
    free(t->out);
    t->in = t->out = NULL;
    t->in_len = t->in_cap = t->out_off = t->out_len = t->out_cap = 0;
    t->tls_retry = 0;
    t->connecting = t->handshaking = t->discard_input = 0;
    /* t->dirty stays: the transport may still be on the dirty list, and
     * the flush pass skips closed ones. */
    open_count--;
    t->generation++;
}

static void transport_fail(transport *t, const char *reason)
{
    transport_close(t);
    t->handler->on_closed(t->ud, reason);
}
