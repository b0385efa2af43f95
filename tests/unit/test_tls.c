/*
 * The TLS layer against a real GnuTLS client: handshakes (TLS 1.3 and
 * 1.2), certificates chosen by SNI, data both ways with partial writes,
 * channel bindings, refused clients, self-signed certificates.
 *
 * Both ends live in this process on a non-blocking socketpair and are
 * driven in turn, waiting with poll() when neither can progress.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "log.h"
#include "tap.h"
#include "tls.h"

#define PAYLOAD_SIZE (1024 * 1024)

static char dir[64];
static char a_crt[128], a_key[128], b_crt[128], b_key[128], trust_file[128];
static char idn_crt[128], idn_key[128];

/* ---------------------------------------------------------------------- */
/* A test client: a plain GnuTLS client session. */

typedef struct client {
    gnutls_session_t gs;
    gnutls_certificate_credentials_t cred;
    int done;   /* handshake finished */
    int failed; /* handshake failed: the GnuTLS code */
} client;

static int client_init(client *c, int fd, const char *sni,
                       const char *verify_host, const char *priority)
{
    memset(c, 0, sizeof *c);
    if (gnutls_certificate_allocate_credentials(&c->cred) < 0)
        return -1;
    if (gnutls_certificate_set_x509_trust_file(c->cred, trust_file,
                                               GNUTLS_X509_FMT_PEM) <= 0)
        return -1;
    if (gnutls_init(&c->gs, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0)
        return -1;
    const char *err = NULL;
    if (gnutls_priority_set_direct(c->gs, priority ? priority : "NORMAL",
                                   &err) < 0)
        return -1;
    gnutls_credentials_set(c->gs, GNUTLS_CRD_CERTIFICATE, c->cred);
    if (sni != NULL)
        gnutls_server_name_set(c->gs, GNUTLS_NAME_DNS, sni, strlen(sni));
    if (verify_host != NULL)
        gnutls_session_set_verify_cert(c->gs, verify_host, 0);
    gnutls_transport_set_int(c->gs, fd);
    return 0;
}

static void client_free(client *c)
{
    if (c->gs != NULL)
        gnutls_deinit(c->gs);
    if (c->cred != NULL)
        gnutls_certificate_free_credentials(c->cred);
}

/* ---------------------------------------------------------------------- */
/* Plumbing */

static int make_pair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wait_both(int fds[2])
{
    struct pollfd p[2] = {{fds[0], POLLIN | POLLOUT, 0},
                          {fds[1], POLLIN | POLLOUT, 0}};
    /* Writable sockets would make this spin; a short sleep-like timeout
     * keeps the loops cheap either way. */
    (void)poll(p, 2, 10);
}

/* Runs both handshakes until each side has finished or failed.  Returns the
 * server's last result. */
static int handshake_both(tls_session *srv, client *c, int fds[2])
{
    int srv_result = TLS_AGAIN;
    double deadline = now_seconds() + 5;
    while (now_seconds() < deadline) {
        if (srv_result == TLS_AGAIN)
            srv_result = tls_handshake(srv);
        if (!c->done && !c->failed) {
            int rc = gnutls_handshake(c->gs);
            if (rc == 0)
                c->done = 1;
            else if (gnutls_error_is_fatal(rc))
                c->failed = rc;
        }
        int client_over = c->done || c->failed;
        if (srv_result != TLS_AGAIN && client_over)
            break;
        /* A failed side may leave the other waiting for ever (GnuTLS does
         * not always send an alert): hang up as a real peer would. */
        if (srv_result == TLS_ERROR && !client_over) {
            shutdown(fds[0], SHUT_RDWR);
            continue;
        }
        if (c->failed && srv_result == TLS_AGAIN)
            shutdown(fds[1], SHUT_RDWR);
        wait_both(fds);
    }
    return srv_result;
}

/* Reads exactly len bytes on the server side, honouring tls_pending(). */
static int server_read_all(tls_session *srv, client *c, int fds[2],
                           unsigned char *out, size_t len)
{
    size_t got = 0;
    double deadline = now_seconds() + 5;
    while (got < len && now_seconds() < deadline) {
        ssize_t n;
        do {
            n = tls_read(srv, out + got, len - got);
            if (n > 0)
                got += (size_t)n;
        } while (n > 0 && got < len && tls_pending(srv) > 0);
        if (n == 0 || n == TLS_ERROR)
            return -1;
        if (n == TLS_AGAIN)
            wait_both(fds);
    }
    return got == len ? 0 : -1;
}

static int client_read_all(client *c, int fds[2], unsigned char *out,
                           size_t len)
{
    size_t got = 0;
    double deadline = now_seconds() + 5;
    while (got < len && now_seconds() < deadline) {
        ssize_t n = gnutls_record_recv(c->gs, out + got, len - got);
        if (n > 0)
            got += (size_t)n;
        else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            wait_both(fds);
        else
            return -1;
    }
    return got == len ? 0 : -1;
}

static unsigned char *make_payload(unsigned seed)
{
    unsigned char *p = malloc(PAYLOAD_SIZE);
    unsigned x = seed;
    for (size_t i = 0; i < PAYLOAD_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
    return p;
}

/* Whether mallinfo2() sees allocations (not under ASan or valgrind, whose
 * allocators it does not know): tls_session_memory() relies on it. */
static int heap_measurable(void)
{
    struct mallinfo2 before = mallinfo2();
    void *p = malloc(50000);
    struct mallinfo2 after = mallinfo2();
    int seen = p != NULL && after.uordblks + after.hblkhd >
                                before.uordblks + before.hblkhd;
    free(p);
    return seen;
}

/* ---------------------------------------------------------------------- */
/* Data both ways */

static void check_small_exchange(tls_session *srv, client *c, int fds[2],
                                 const char *label)
{
    char what[160];
    const char hello[] = "<stream:stream to='a.test'>";
    const char reply[] = "<stream:features/>";
    unsigned char buf[64];

    ssize_t sent = gnutls_record_send(c->gs, hello, sizeof hello - 1);
    int ok_read = sent == (ssize_t)(sizeof hello - 1) &&
                  server_read_all(srv, c, fds, buf, sizeof hello - 1) == 0 &&
                  memcmp(buf, hello, sizeof hello - 1) == 0;
    snprintf(what, sizeof what, "%s: the server reads what the client sent",
             label);
    ok(ok_read, what);

    ssize_t w = tls_write(srv, reply, sizeof reply - 1);
    int ok_write = w == (ssize_t)(sizeof reply - 1) &&
                   client_read_all(c, fds, buf, sizeof reply - 1) == 0 &&
                   memcmp(buf, reply, sizeof reply - 1) == 0;
    snprintf(what, sizeof what, "%s: the client reads what the server wrote",
             label);
    ok(ok_write, what);
}

/* 1 MB from the server with a small socket buffer: tls_write must report
 * TLS_AGAIN (waiting to write) and finish once the client reads. */
static void check_large_server_write(tls_session *srv, client *c, int fds[2])
{
    unsigned char *payload = make_payload(1);
    unsigned char *got = malloc(PAYLOAD_SIZE);
    int sndbuf = 4096;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

    size_t sent = 0, received = 0;
    int agains = 0, wants_write_ok = 1, failed = 0;
    double deadline = now_seconds() + 5;
    while (received < PAYLOAD_SIZE && !failed && now_seconds() < deadline) {
        int progressed = 0;
        if (sent < PAYLOAD_SIZE) {
            ssize_t n = tls_write(srv, payload + sent, PAYLOAD_SIZE - sent);
            if (n > 0) {
                sent += (size_t)n;
                progressed = 1;
            } else if (n == TLS_AGAIN) {
                agains++;
                if (!tls_wants_write(srv))
                    wants_write_ok = 0;
            } else {
                failed = 1;
            }
        }
        /* Let the server run ahead until it blocks, then drain a little,
         * so that the writes really are partial. */
        if (sent == PAYLOAD_SIZE || !progressed) {
            ssize_t n = gnutls_record_recv(c->gs, got + received,
                                           PAYLOAD_SIZE - received);
            if (n > 0)
                received += (size_t)n;
            else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
                failed = 1;
            else
                wait_both(fds);
        }
    }
    ok(!failed && received == PAYLOAD_SIZE &&
           memcmp(payload, got, PAYLOAD_SIZE) == 0,
       "1 MB from the server arrives intact");
    ok(agains > 0, "a full socket makes tls_write return TLS_AGAIN");
    ok(wants_write_ok, "after a blocked write tls_wants_write() is 1");
    free(payload);
    free(got);
}

/* 1 MB from the client; the server reads in odd-sized pieces (less than a
 * record, so GnuTLS holds the rest) until TLS_AGAIN. */
static void check_large_client_write(tls_session *srv, client *c, int fds[2])
{
    unsigned char *payload = make_payload(2);
    unsigned char *got = malloc(PAYLOAD_SIZE);
    size_t sent = 0, received = 0;
    int failed = 0, read_agains = 0, wants_read_ok = 1;
    double deadline = now_seconds() + 5;
    while (received < PAYLOAD_SIZE && !failed && now_seconds() < deadline) {
        if (sent < PAYLOAD_SIZE) {
            ssize_t n = gnutls_record_send(c->gs, payload + sent,
                                           PAYLOAD_SIZE - sent);
            if (n > 0)
                sent += (size_t)n;
            else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
                failed = 1;
        }
        ssize_t n;
        do {
            size_t want = PAYLOAD_SIZE - received;
            if (want > 7000)
                want = 7000;
            n = tls_read(srv, got + received, want);
            if (n > 0)
                received += (size_t)n;
        } while (n > 0 && received < PAYLOAD_SIZE);
        if (n == TLS_AGAIN) {
            read_agains++;
            if (tls_wants_write(srv))
                wants_read_ok = 0;
            wait_both(fds);
        } else if (n <= 0 && received < PAYLOAD_SIZE) {
            failed = 1;
        }
    }
    ok(!failed && received == PAYLOAD_SIZE &&
           memcmp(payload, got, PAYLOAD_SIZE) == 0,
       "1 MB from the client arrives intact");
    ok(read_agains > 0 && wants_read_ok,
       "an empty socket makes tls_read return TLS_AGAIN, waiting to read");
    free(payload);
    free(got);
}

/* ---------------------------------------------------------------------- */
/* Channel binding */

static int same_binding(tls_session *srv, client *c, const char *type,
                        gnutls_channel_binding_t cbtype, size_t want_len)
{
    unsigned char *data = NULL;
    size_t len = 0;
    gnutls_datum_t theirs = {NULL, 0};
    int same = 0;
    if (tls_channel_binding(srv, type, &data, &len) == 0 &&
        gnutls_session_channel_binding(c->gs, cbtype, &theirs) == 0)
        same = len == theirs.size && (want_len == 0 || len == want_len) &&
               memcmp(data, theirs.data, len) == 0;
    free(data);
    gnutls_free(theirs.data);
    return same;
}

static int binding_refused(tls_session *srv, const char *type)
{
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = tls_channel_binding(srv, type, &data, &len);
    free(data);
    return rc == -1;
}

/* ---------------------------------------------------------------------- */
/* A whole connection */

typedef struct conn_pair {
    int fds[2]; /* [0] server side, [1] client side */
    tls_session *srv;
    client cli;
    int srv_result;
} conn_pair;

static int connect_pair(conn_pair *p, tls_context *ctx, const char *sni,
                        const char *verify_host, const char *priority)
{
    memset(p, 0, sizeof *p);
    if (make_pair(p->fds) != 0)
        return -1;
    char *err = NULL;
    p->srv = tls_session_new(ctx, p->fds[0], &err);
    free(err);
    if (p->srv == NULL ||
        client_init(&p->cli, p->fds[1], sni, verify_host, priority) != 0)
        return -1;
    p->srv_result = handshake_both(p->srv, &p->cli, p->fds);
    return 0;
}

static void close_pair(conn_pair *p)
{
    tls_session_free(p->srv);
    client_free(&p->cli);
    close(p->fds[0]);
    close(p->fds[1]);
}

/* The CN of the certificate the client was given. */
static void peer_common_name(client *c, char *out, size_t size)
{
    unsigned count = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(c->gs, &count);
    gnutls_x509_crt_t crt;
    out[0] = '\0';
    if (certs == NULL || count == 0 || gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0)
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                      out, &size);
    gnutls_x509_crt_deinit(crt);
}

static void test_tls13(tls_context *ctx)
{
    conn_pair p;
    ok(connect_pair(&p, ctx, "a.test", "a.test", NULL) == 0, "TLS 1.3: set up");
    is_int(p.srv_result, TLS_OK, "TLS 1.3: the server handshake completes");
    ok(p.cli.done, "TLS 1.3: the client accepts the certificate for a.test");
    is_str(tls_protocol_name(p.srv), "TLS1.3", "TLS 1.3 is negotiated");
    is_str(tls_server_name(p.srv), "a.test", "the SNI name is reported");

    check_small_exchange(p.srv, &p.cli, p.fds, "TLS 1.3");
    check_large_client_write(p.srv, &p.cli, p.fds);
    check_large_server_write(p.srv, &p.cli, p.fds);

    ok(same_binding(p.srv, &p.cli, "tls-exporter", GNUTLS_CB_TLS_EXPORTER, 32),
       "TLS 1.3: tls-exporter is 32 bytes, the same as the client's");
    ok(binding_refused(p.srv, "tls-unique"),
       "TLS 1.3: tls-unique is refused");
    ok(same_binding(p.srv, &p.cli, "tls-server-end-point",
                    GNUTLS_CB_TLS_SERVER_END_POINT, 0),
       "TLS 1.3: tls-server-end-point matches the client's");
    ok(binding_refused(p.srv, "tls-nonsense"), "an unknown binding is refused");

    /* A TLS 1.3 KeyUpdate (asking ours in return) followed at once by
     * data: the post-handshake message must not stall the read. */
    int rc;
    do
        rc = gnutls_session_key_update(p.cli.gs, GNUTLS_KU_PEER);
    while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    ok(rc == 0, "TLS 1.3: the client updates its keys");
    const char msg[] = "<presence/>";
    unsigned char got[64];
    ok(gnutls_record_send(p.cli.gs, msg, sizeof msg - 1) ==
           (ssize_t)(sizeof msg - 1),
       "... and sends data right after");
    struct pollfd pfd = {p.fds[0], POLLIN, 0};
    poll(&pfd, 1, 1000);
    ssize_t n = tls_read(p.srv, got, sizeof got);
    ok(n == (ssize_t)(sizeof msg - 1) && memcmp(got, msg, (size_t)n) == 0,
       "one tls_read gets the data behind the KeyUpdate");
    check_small_exchange(p.srv, &p.cli, p.fds, "after a key update");

    size_t mem = tls_session_memory(p.srv);
    printf("# an established TLS 1.3 session holds about %zu heap bytes\n",
           mem);
    if (heap_measurable())
        ok(mem > 0 && mem < 256 * 1024,
           "tls_session_memory gives an estimate");
    else
        ok(mem == 0, "tls_session_memory # SKIP heap not measurable here");

    /* The client ends with close_notify: a clean end of the stream. */
    gnutls_bye(p.cli.gs, GNUTLS_SHUT_WR);
    unsigned char buf[16];
    n = TLS_AGAIN;
    for (int i = 0; i < 100 && n == TLS_AGAIN; i++) {
        n = tls_read(p.srv, buf, sizeof buf);
        if (n == TLS_AGAIN)
            wait_both(p.fds);
    }
    is_int(n, 0, "close_notify from the client reads as 0");
    close_pair(&p);
}

static void close_tcp_reads_as_end(conn_pair *p)
{
    shutdown(p->fds[1], SHUT_RDWR);
    unsigned char buf[16];
    ssize_t n = TLS_AGAIN;
    for (int i = 0; i < 100 && n == TLS_AGAIN; i++)
        n = tls_read(p->srv, buf, sizeof buf);
    is_int(n, 0, "a TCP close without close_notify reads as 0");
}

static void test_tls12(tls_context *ctx)
{
    conn_pair p;
    ok(connect_pair(&p, ctx, "a.test", "a.test",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2") == 0,
       "TLS 1.2: set up");
    is_int(p.srv_result, TLS_OK, "TLS 1.2: the server handshake completes");
    ok(p.cli.done, "TLS 1.2: the client accepts the certificate");
    is_str(tls_protocol_name(p.srv), "TLS1.2", "TLS 1.2 is negotiated");
    check_small_exchange(p.srv, &p.cli, p.fds, "TLS 1.2");
    check_large_server_write(p.srv, &p.cli, p.fds);
    ok(same_binding(p.srv, &p.cli, "tls-unique", GNUTLS_CB_TLS_UNIQUE, 12),
       "TLS 1.2: tls-unique matches the client's");
    ok(same_binding(p.srv, &p.cli, "tls-exporter", GNUTLS_CB_TLS_EXPORTER, 32),
       "TLS 1.2 with extended master secret: tls-exporter matches");

    /* Closing TCP without close_notify is still an end of stream. */
    close_tcp_reads_as_end(&p);
    close_pair(&p);

    /* A client asking to renegotiate is cut off. */
    ok(connect_pair(&p, ctx, "a.test", "a.test",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2") == 0 &&
           p.srv_result == TLS_OK,
       "TLS 1.2: another session");
    int rc = gnutls_handshake(p.cli.gs); /* starts a renegotiation */
    ok(rc == GNUTLS_E_AGAIN || rc == 0, "the client asks to renegotiate");
    unsigned char buf[16];
    ssize_t n = TLS_AGAIN;
    for (int i = 0; i < 100 && n == TLS_AGAIN; i++) {
        n = tls_read(p.srv, buf, sizeof buf);
        if (n == TLS_AGAIN)
            wait_both(p.fds);
    }
    is_int(n, TLS_ERROR, "renegotiation is refused with TLS_ERROR");
    printf("# %s\n", tls_error(p.srv));
    close_pair(&p);


    /* RFC 9266: without the extended master secret, no tls-exporter. */
    ok(connect_pair(&p, ctx, "a.test", "a.test",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:%NO_SESSION_HASH") == 0 &&
           p.srv_result == TLS_OK,
       "TLS 1.2 without extended master secret: handshake completes");
    ok(binding_refused(p.srv, "tls-exporter"),
       "TLS 1.2 without extended master secret: tls-exporter is refused");
    ok(same_binding(p.srv, &p.cli, "tls-unique", GNUTLS_CB_TLS_UNIQUE, 12),
       "... and tls-unique still works");
    close_pair(&p);
}

static void test_sni(tls_context *ctx)
{
    conn_pair p;
    char cn[256];

    ok(connect_pair(&p, ctx, "b.test", "b.test", NULL) == 0 &&
           p.srv_result == TLS_OK && p.cli.done,
       "SNI b.test: the client verifies the certificate for b.test");
    peer_common_name(&p.cli, cn, sizeof cn);
    is_str(cn, "b.test", "SNI b.test: the second host's certificate is sent");
    is_str(tls_server_name(p.srv), "b.test", "SNI b.test is reported");
    close_pair(&p);

    ok(connect_pair(&p, ctx, "B.Test", "b.test", NULL) == 0 &&
           p.srv_result == TLS_OK && p.cli.done,
       "SNI matching ignores case");
    close_pair(&p);

    ok(connect_pair(&p, ctx, "rooms.b.test", "rooms.b.test", NULL) == 0 &&
           p.srv_result == TLS_OK && p.cli.done,
       "SNI rooms.b.test: b.test's certificate (with *.b.test) is sent");
    close_pair(&p);

    /* Clients send IDNs as A-labels (RFC 6066 §3). */
    ok(connect_pair(&p, ctx, "xn--bcher-kva.test", "xn--bcher-kva.test",
                    NULL) == 0 &&
           p.srv_result == TLS_OK && p.cli.done,
       "SNI with an A-label picks the certificate of the IDN host");
    close_pair(&p);

    ok(connect_pair(&p, ctx, "chat.xn--bcher-kva.test",
                    "chat.xn--bcher-kva.test", NULL) == 0 &&
           p.srv_result == TLS_OK && p.cli.done,
       "the IDN host's certificate covers its subdomains (*.host)");
    close_pair(&p);

    ok(connect_pair(&p, ctx, "unknown.example", "a.test", NULL) == 0 &&
           p.srv_result == TLS_OK && p.cli.done,
       "unknown SNI: the first certificate is sent");
    peer_common_name(&p.cli, cn, sizeof cn);
    is_str(cn, "a.test", "unknown SNI: the certificate is a.test's");
    close_pair(&p);

    ok(connect_pair(&p, ctx, NULL, "a.test", NULL) == 0 &&
           p.srv_result == TLS_OK && p.cli.done,
       "no SNI: the first certificate is sent");
    ok(tls_server_name(p.srv) == NULL, "no SNI: no server name reported");
    close_pair(&p);

    ok(connect_pair(&p, ctx, "b.test", "a.test", NULL) == 0 && !p.cli.done,
       "a client checking for another name refuses the certificate");
    is_int(p.srv_result, TLS_ERROR,
           "... and the server sees the handshake fail");
    close_pair(&p);
}

static void test_resumption(tls_context *ctx)
{
    conn_pair p;
    gnutls_datum_t ticket = {NULL, 0};
    ok(connect_pair(&p, ctx, "a.test", "a.test", NULL) == 0 &&
           p.srv_result == TLS_OK,
       "resumption: first connection");
    /* The TLS 1.3 ticket arrives after the handshake: a round trip of
     * data makes the client read it. */
    check_small_exchange(p.srv, &p.cli, p.fds, "resumption");
    gnutls_session_get_data2(p.cli.gs, &ticket);
    close_pair(&p);

    memset(&p, 0, sizeof p);
    int set_up = make_pair(p.fds) == 0 &&
                 (p.srv = tls_session_new(ctx, p.fds[0], NULL)) != NULL &&
                 client_init(&p.cli, p.fds[1], "a.test", "a.test", NULL) == 0;
    if (set_up && ticket.size > 0)
        gnutls_session_set_data(p.cli.gs, ticket.data, ticket.size);
    if (set_up)
        p.srv_result = handshake_both(p.srv, &p.cli, p.fds);
    ok(set_up && p.srv_result == TLS_OK && p.cli.done &&
           gnutls_session_is_resumed(p.cli.gs),
       "a reconnecting client resumes with its session ticket");
    check_small_exchange(p.srv, &p.cli, p.fds, "resumed");
    close_pair(&p);
    gnutls_free(ticket.data);
}

static void test_refused_clients(tls_context *ctx)
{
    conn_pair good, bad;
    ok(connect_pair(&good, ctx, "a.test", "a.test", NULL) == 0 &&
           good.srv_result == TLS_OK,
       "a good session is up before the bad ones");

    /* Plaintext XMPP where a TLS ClientHello should be. */
    memset(&bad, 0, sizeof bad);
    make_pair(bad.fds);
    bad.srv = tls_session_new(ctx, bad.fds[0], NULL);
    const char garbage[] = "<?xml version='1.0'?><stream:stream to='a.test' "
                           "xmlns='jabber:client'>";
    ok(write(bad.fds[1], garbage, sizeof garbage - 1) > 0, "garbage sent");
    int rc = TLS_AGAIN;
    for (int i = 0; i < 100 && rc == TLS_AGAIN; i++) {
        rc = tls_handshake(bad.srv);
        if (rc == TLS_AGAIN)
            wait_both(bad.fds);
    }
    is_int(rc, TLS_ERROR, "a plaintext client fails the handshake");
    ok(strcmp(tls_error(bad.srv), "no error") != 0,
       "tls_error() says why");
    printf("# plaintext client: %s\n", tls_error(bad.srv));
    tls_session_free(bad.srv);
    close(bad.fds[0]);
    close(bad.fds[1]);

    /* A client that only speaks TLS 1.0 and 1.1. */
    ok(connect_pair(&bad, ctx, "a.test", "a.test",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0") == 0,
       "TLS 1.0/1.1 client: set up");
    is_int(bad.srv_result, TLS_ERROR, "a TLS 1.0/1.1 client is refused");
    ok(!bad.cli.done, "... and its handshake fails too");
    printf("# TLS 1.0/1.1 client: %s\n", tls_error(bad.srv));
    close_pair(&bad);

    /* A client offering only ciphers we dropped. */
    ok(connect_pair(&bad, ctx, "a.test", "a.test",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:"
                    "-MAC-ALL:+SHA1") == 0 &&
           bad.srv_result == TLS_ERROR,
       "a client offering only CBC-SHA1 suites is refused");
    close_pair(&bad);

    check_small_exchange(good.srv, &good.cli, good.fds,
                         "after failed handshakes");
    close_pair(&good);
}

/* ---------------------------------------------------------------------- */
/* Contexts and certificates */

static void test_context_errors(void)
{
    char *err = NULL;
    tls_context *ctx = tls_context_new("NORMAL:+NO-SUCH-THING", &err);
    ok(ctx == NULL, "a bad priority string is refused");
    ok(err != NULL && strstr(err, "position 7") != NULL &&
           strstr(err, "NO-SUCH-THING") != NULL,
       "the error names the position of the fault");
    printf("# %s\n", err ? err : "(null)");
    free(err);

    err = NULL;
    ctx = tls_context_new(NULL, &err);
    ok(ctx != NULL && err == NULL, "the default priority string is accepted");
    ok(!tls_context_has_certificates(ctx), "a new context has no certificate");
    ok(tls_session_new(ctx, 0, &err) == NULL && err != NULL,
       "no session without a certificate");
    free(err);

    err = NULL;
    ok(tls_context_add_certificate(ctx, "a.test", "/nonexistent/a.crt", a_key,
                                   &err) == -1 &&
           err != NULL && strstr(err, "/nonexistent/a.crt") != NULL,
       "a missing certificate file is named in the error");
    free(err);

    err = NULL;
    ok(tls_context_add_certificate(ctx, "a.test", b_crt, a_key, &err) == -1 &&
           err != NULL,
       "a key that does not match the certificate is refused");
    printf("# %s\n", err ? err : "(null)");
    free(err);

    err = NULL;
    ok(tls_context_add_certificate(ctx, "a.test", a_crt, a_key, &err) == 0,
       "a good certificate loads");
    free(err);
    err = NULL;
    ok(tls_context_add_certificate(ctx, "A.TEST.", a_crt, a_key, &err) == -1,
       "a second certificate for the same host is refused");
    free(err);
    ok(tls_context_has_certificates(ctx), "the context has a certificate");
    tls_context_free(ctx);

    err = NULL;
    ctx = tls_context_new("NORMAL", &err);
    ok(ctx != NULL, "an operator's priority string is accepted");
    tls_context_free(ctx);
}

static int read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (int)n;
}

static void check_generated_cert(const char *path, const char *host)
{
    char pem[8192], name[256], wild[300];
    gnutls_datum_t d;
    gnutls_x509_crt_t crt;
    int n = read_file(path, pem, sizeof pem);
    d.data = (unsigned char *)pem;
    d.size = n > 0 ? (unsigned)n : 0;
    gnutls_x509_crt_init(&crt);
    ok(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0,
       "the certificate is PEM");
    size_t size = sizeof name;
    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, name,
                                  &size);
    is_str(name, host, "the subject CN is the host");
    snprintf(wild, sizeof wild, "x.%s", host);
    ok(gnutls_x509_crt_check_hostname(crt, host) &&
           gnutls_x509_crt_check_hostname(crt, wild),
       "the certificate names the host and *.host");
    is_int(gnutls_x509_crt_get_version(crt), 3, "an X.509 v3 certificate");
    unsigned bits = 0;
    ok(gnutls_x509_crt_get_pk_algorithm(crt, &bits) == GNUTLS_PK_ECDSA &&
           bits == 256,
       "the key is ECDSA P-256");
    unsigned usage = 0, critical = 0;
    gnutls_x509_crt_get_key_usage(crt, &usage, &critical);
    ok(usage & GNUTLS_KEY_DIGITAL_SIGNATURE, "key usage: digitalSignature");
    char oid[128];
    size = sizeof oid;
    ok(gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &size, NULL) == 0 &&
           strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0,
       "extended key usage: serverAuth");
    time_t now = time(NULL);
    time_t from = gnutls_x509_crt_get_activation_time(crt);
    time_t until = gnutls_x509_crt_get_expiration_time(crt);
    ok(from <= now - 86000 && from >= now - 90000,
       "valid from a day ago");
    ok(until >= now + (time_t)3650 * 86400 &&
           until <= now + (time_t)3660 * 86400,
       "valid for ten years");
    ok(gnutls_x509_crt_get_ca_status(crt, &critical) == 0,
       "not a CA certificate");
    gnutls_x509_crt_deinit(crt);
}

static void test_self_signed(void)
{
    char crt[160], key[160], *err = NULL;
    struct stat st_key, st_crt, st_dir, again;

    snprintf(crt, sizeof crt, "%s/data/certs/x.test.crt", dir);
    snprintf(key, sizeof key, "%s/data/certs/x.test.key", dir);
    ok(tls_generate_self_signed("x.test", crt, key, &err) == 0,
       "a self-signed certificate is generated");
    free(err);
    err = NULL;
    ok(stat(key, &st_key) == 0 && (st_key.st_mode & 0777) == 0600,
       "the key file is mode 0600");
    ok(stat(crt, &st_crt) == 0 && S_ISREG(st_crt.st_mode),
       "the certificate file exists");
    char certs_dir[160];
    snprintf(certs_dir, sizeof certs_dir, "%s/data/certs", dir);
    ok(stat(certs_dir, &st_dir) == 0 && (st_dir.st_mode & 0777) == 0700,
       "missing directories are created with mode 0700");
    check_generated_cert(crt, "x.test");

    char pem[8192];
    int keylen = read_file(key, pem, sizeof pem);
    ok(keylen > 0 && strstr(pem, "-----BEGIN PRIVATE KEY-----") != NULL,
       "the key is PEM (PKCS#8)");

    ok(tls_generate_self_signed("x.test", crt, key, &err) == 0,
       "generating again succeeds");
    ok(stat(key, &again) == 0 && again.st_ino == st_key.st_ino &&
           again.st_mtim.tv_nsec == st_key.st_mtim.tv_nsec &&
           stat(crt, &again) == 0 && again.st_ino == st_crt.st_ino,
       "... and leaves existing files alone");
    free(err);

    /* A leftover certificate without its key is not silently replaced. */
    err = NULL;
    unlink(key);
    ok(tls_generate_self_signed("x.test", crt, key, &err) == -1 &&
           err != NULL,
       "a certificate without its key is refused");
    printf("# %s\n", err ? err : "(null)");
    free(err);
    ok(access(key, F_OK) != 0, "... and nothing is written");

    /* The generated pair loads, and works for a handshake. */
    char crt2[160], key2[160];
    snprintf(crt2, sizeof crt2, "%s/data/y.crt", dir);
    snprintf(key2, sizeof key2, "%s/data/y.key", dir);
    err = NULL;
    tls_context *ctx = tls_context_new(NULL, &err);
    ok(tls_generate_self_signed("y.test", crt2, key2, &err) == 0 &&
           tls_context_add_certificate(ctx, "y.test", crt2, key2, &err) == 0,
       "a generated certificate loads into a context");
    free(err);
    tls_context_free(ctx);

    /* No leftover temporary files: only *.crt and *.key. */
    int stray = 0;
    DIR *d = opendir(certs_dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] != '.' &&
            (n < 4 || (strcmp(e->d_name + n - 4, ".crt") != 0 &&
                       strcmp(e->d_name + n - 4, ".key") != 0)))
            stray++;
    }
    if (d != NULL)
        closedir(d);
    ok(d != NULL && stray == 0, "no temporary files are left behind");
}

/* The context's estimate of the heap an established session holds, as a
 * fresh session reports it. */
static size_t memory_estimate(tls_context *ctx)
{
    int fds[2];
    size_t mem = 0;
    if (make_pair(fds) != 0)
        return 0;
    tls_session *s = tls_session_new(ctx, fds[0], NULL);
    if (s != NULL)
        mem = tls_session_memory(s);
    tls_session_free(s);
    close(fds[0]);
    close(fds[1]);
    return mem;
}

/* A context freed while a session still uses it stays alive. */
static void test_context_lifetime(void)
{
    tls_context *ctx = tls_context_new(NULL, NULL);
    tls_context_add_certificate(ctx, "a.test", a_crt, a_key, NULL);
    conn_pair p;
    memset(&p, 0, sizeof p);
    make_pair(p.fds);
    p.srv = tls_session_new(ctx, p.fds[0], NULL);
    tls_context_free(ctx); /* a reload replaced it */
    client_init(&p.cli, p.fds[1], "a.test", "a.test", NULL);
    p.srv_result = handshake_both(p.srv, &p.cli, p.fds);
    ok(p.srv_result == TLS_OK && p.cli.done,
       "a session outlives the context it was made from");
    close_pair(&p);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

int main(void)
{
    log_set_level(MYNAH_LOG_ERROR); /* the warnings tested are expected */
    snprintf(dir, sizeof dir, "/tmp/mynah-test-tls-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(a_crt, sizeof a_crt, "%s/certs/a.test.crt", dir);
    snprintf(a_key, sizeof a_key, "%s/certs/a.test.key", dir);
    snprintf(b_crt, sizeof b_crt, "%s/certs/b.test.crt", dir);
    snprintf(b_key, sizeof b_key, "%s/certs/b.test.key", dir);
    snprintf(trust_file, sizeof trust_file, "%s/trust.pem", dir);
    snprintf(idn_crt, sizeof idn_crt, "%s/certs/idn.crt", dir);
    snprintf(idn_key, sizeof idn_key, "%s/certs/idn.key", dir);

    char *err = NULL;
    int made = tls_generate_self_signed("a.test", a_crt, a_key, &err) == 0 &&
               tls_generate_self_signed("b.test", b_crt, b_key, &err) == 0 &&
               tls_generate_self_signed("b\xc3\xbc" "cher.test", idn_crt,
                                        idn_key, &err) == 0;
    ok(made, "certificates for a.test and b.test are generated");
    if (!made) {
        printf("# %s\n", err ? err : "(null)");
        free(err);
        cleanup();
        return done_testing();
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' '%s' > '%s'", a_crt, b_crt,
             idn_crt, trust_file);
    ok(system(cmd) == 0, "the client trusts both");

    test_context_errors();
    test_self_signed();

    tls_context *ctx = tls_context_new(NULL, &err);
    ok(ctx != NULL, "a context with the default priority");
    ok(tls_context_add_certificate(ctx, "a.test", a_crt, a_key, &err) == 0 &&
           tls_context_add_certificate(ctx, "b.test", b_crt, b_key, &err) == 0 &&
           tls_context_add_certificate(ctx, "b\xc3\xbc" "cher.test", idn_crt,
                                       idn_key, &err) == 0,
       "three hosts' certificates load (one with an IDN name)");
    free(err);

    test_tls13(ctx);
    test_tls12(ctx);
    test_sni(ctx);
    test_resumption(ctx);
    test_refused_clients(ctx);
    size_t mem = memory_estimate(ctx);
    printf("# estimated heap per established session: %zu bytes\n", mem);
    if (heap_measurable())
        ok(mem > 4 * 1024 && mem < 64 * 1024,
           "after some sessions the memory estimate is between 4 and 64 KB");
    else
        ok(mem == 0, "memory estimate # SKIP heap not measurable here");
    tls_context_free(ctx);
    test_context_lifetime();

    cleanup();
    return done_testing();
}
