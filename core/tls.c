/*
 * TLS with GnuTLS: a context holds what every session shares (the priority
 * cache, one certificate credential per host, the session-ticket key); a
 * session is a thin GnuTLS server session on a non-blocking socket that
 * borrows all of that.  Nothing is loaded or parsed per connection.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "log.h"

/* How many sessions have their heap use measured (see heap_in_use). */
#define MEMORY_PROBES 10

typedef struct tls_host_cert {
    char *host; /* lower case, ASCII (IDNA A-labels) */
    gnutls_certificate_credentials_t credentials;
} tls_host_cert;

struct tls_context {
    unsigned refs; /* the owner's plus one per live session */
    gnutls_priority_t priority;
    gnutls_datum_t ticket_key;
    tls_host_cert *certs; /* certs[0] is the fallback */
    size_t cert_count;
    /* Heap bytes an established session holds, measured on the first few
     * sessions (0 until known or when it cannot be measured). */
    size_t memory_estimate;
    unsigned memory_probes;   /* sessions measured so far */
    unsigned memory_measured; /* of which finished their handshake */
};

struct tls_session {
    gnutls_session_t gs;
    tls_context *ctx;
    int fd;
    char *server_name;  /* SNI as sent by the client, or NULL */
    char *error_text;   /* malloc'd detail of the last error, or NULL */
    const char *error;  /* static text of the last error, or NULL */
    unsigned handshake_done : 1;
    unsigned socket_drained : 1; /* the last recv() said EAGAIN */
    unsigned probing : 1; /* this session's heap use is being measured */
    size_t memory;        /* measured heap bytes when probing */
};

/* ---------------------------------------------------------------------- */
/* Errors */

static void set_error(char **error, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(char **error, const char *fmt, ...)
{
    if (error == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(error, fmt, ap) < 0)
        *error = NULL;
    va_end(ap);
}

static void session_fail(tls_session *s, int code)
{
    free(s->error_text);
    s->error_text = NULL;
    s->error = gnutls_strerror(code);
    if (code == GNUTLS_E_FATAL_ALERT_RECEIVED ||
        code == GNUTLS_E_WARNING_ALERT_RECEIVED) {
        const char *alert = gnutls_alert_get_name(gnutls_alert_get(s->gs));
        if (alert != NULL &&
            asprintf(&s->error_text, "%s (%s)", s->error, alert) < 0)
            s->error_text = NULL;
    }
}

const char *tls_error(tls_session *s)
{
    if (s->error_text != NULL)
        return s->error_text;
    return s->error != NULL ? s->error : "no error";
}

/* ---------------------------------------------------------------------- */
/* Heap measurement
 *
 * GnuTLS has no per-session memory accounting, so the heap growth across
 * the calls that build a session (gnutls_init, the handshake) is measured
 * with mallinfo2() on the first MEMORY_PROBES sessions of a context.  The
 * loop is single-threaded, so the growth is this session's, but it is
 * overstated by small chunks freed into the allocator's thread cache
 * (mallinfo counts them as used) and, on the first session, by GnuTLS's
 * one-time set-up: so the first session's figure only stands in until a
 * second one is known, and the smallest later one is the estimate for all
 * sessions.  (Checked against valgrind with GnuTLS 3.7.9: about 8.2 KB at
 * gnutls_init and 2 KB more after a TLS 1.3 handshake; idle sessions keep
 * no record buffers.)  mallinfo2() walks the allocator's free lists, which
 * is why it is not done for every session.  Under AddressSanitizer glibc's
 * counters do not move and this yields 0. */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void probe_add(tls_session *s, size_t before)
{
    size_t after = heap_in_use();
    if (after >= before)
        s->memory += after - before;
    else if (before - after < s->memory)
        s->memory -= before - after;
    else
        s->memory = 0;
}

static void probe_finish(tls_session *s)
{
    tls_context *ctx = s->ctx;
    if (!s->probing || s->memory == 0)
        return;
    ctx->memory_measured++;
    if (ctx->memory_measured <= 2 || s->memory < ctx->memory_estimate)
        ctx->memory_estimate = s->memory;
}

size_t tls_session_memory(const tls_session *s)
{
    if (s->ctx->memory_estimate > 0)
        return s->ctx->memory_estimate;
    return s->probing ? s->memory : 0;
}

/* ---------------------------------------------------------------------- */
/* Context */

tls_context *tls_context_new(const char *priority, char **error)
{
    const char *prio = priority != NULL ? priority : TLS_DEFAULT_PRIORITY;
    int rc = gnutls_global_init();
    if (rc < 0) {
        set_error(error, "cannot initialise GnuTLS: %s", gnutls_strerror(rc));
        return NULL;
    }
    tls_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        gnutls_global_deinit();
        set_error(error, "out of memory");
        return NULL;
    }
    ctx->refs = 1;

    const char *err_pos = NULL;
    rc = gnutls_priority_init(&ctx->priority, prio, &err_pos);
    if (rc < 0) {
        if (rc == GNUTLS_E_INVALID_REQUEST && err_pos != NULL)
            set_error(error,
                      "bad TLS priority string at position %ld (\"%s\"): %s",
                      (long)(err_pos - prio), err_pos, gnutls_strerror(rc));
        else
            set_error(error, "bad TLS priority string \"%s\": %s", prio,
                      gnutls_strerror(rc));
        free(ctx);
        gnutls_global_deinit();
        return NULL;
    }

    /* One ticket key for the context: a reconnecting client resumes its
     * session without a full handshake (GnuTLS rotates the key derived
     * from it by itself). */
    rc = gnutls_session_ticket_key_generate(&ctx->ticket_key);
    if (rc < 0) {
        set_error(error, "cannot create a session ticket key: %s",
                  gnutls_strerror(rc));
        gnutls_priority_deinit(ctx->priority);
        free(ctx);
        gnutls_global_deinit();
        return NULL;
    }
    return ctx;
}

static void context_unref(tls_context *ctx)
{
    if (ctx == NULL || --ctx->refs > 0)
        return;
    for (size_t i = 0; i < ctx->cert_count; i++) {
        gnutls_certificate_free_credentials(ctx->certs[i].credentials);
        free(ctx->certs[i].host);
    }
    free(ctx->certs);
    gnutls_memset(ctx->ticket_key.data, 0, ctx->ticket_key.size);
    gnutls_free(ctx->ticket_key.data);
    gnutls_priority_deinit(ctx->priority);
    free(ctx);
    gnutls_global_deinit();
}

void tls_context_free(tls_context *ctx)
{
    context_unref(ctx);
}

int tls_context_has_certificates(const tls_context *ctx)
{
    return ctx != NULL && ctx->cert_count > 0;
}

/* The host name as SNI carries it: ASCII, lower case, no trailing dot.
 * NULL when it cannot be converted. */
static char *normalize_host(const char *host)
{
    gnutls_datum_t ace = {NULL, 0};
    size_t len = strlen(host);
    if (len > 0 && host[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return NULL;
    if (gnutls_idna_map(host, (unsigned)len, &ace, 0) < 0)
        return NULL;
    char *out = malloc(ace.size + 1);
    if (out != NULL) {
        for (unsigned i = 0; i < ace.size; i++) {
            char c = (char)ace.data[i];
            out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        out[ace.size] = '\0';
    }
    gnutls_free(ace.data);
    return out;
}

/* Warns about a certificate that will not satisfy clients: expired, not
 * yet valid, or not naming the host.  Loading goes on; the operator may
 * know better (a proxy, a name clients use), but should hear of it. */
static void check_certificate(gnutls_certificate_credentials_t cred,
                              const char *host, const char *cert_file)
{
    gnutls_datum_t der;
    gnutls_x509_crt_t crt;
    if (gnutls_certificate_get_crt_raw(cred, 0, 0, &der) < 0)
        return;
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) == 0) {
        time_t now = time(NULL);
        time_t expires = gnutls_x509_crt_get_expiration_time(crt);
        if (expires != (time_t)-1 && expires < now)
            log_msg(MYNAH_LOG_WARN, "tls",
                    "certificate %s for %s has expired", cert_file, host);
        else if (gnutls_x509_crt_get_activation_time(crt) > now)
            log_msg(MYNAH_LOG_WARN, "tls",
                    "certificate %s for %s is not valid yet", cert_file, host);
        if (!gnutls_x509_crt_check_hostname2(crt, host, 0))
            log_msg(MYNAH_LOG_WARN, "tls",
                    "certificate %s does not name the host %s; clients "
                    "will refuse it", cert_file, host);
    }
    gnutls_x509_crt_deinit(crt);
}

static tls_host_cert *find_cert(tls_context *ctx, const char *host)
{
    for (size_t i = 0; i < ctx->cert_count; i++)
        if (strcmp(ctx->certs[i].host, host) == 0)
            return &ctx->certs[i];
    return NULL;
}

int tls_context_add_certificate(tls_context *ctx, const char *host,
                                const char *cert_file, const char *key_file,
                                char **error)
{
    if (host == NULL || cert_file == NULL || key_file == NULL) {
        set_error(error, "a certificate needs a host, a certificate file "
                         "and a key file");
        return -1;
    }
    char *name = normalize_host(host);
    if (name == NULL) {
        set_error(error, "'%s' is not a valid host name for a certificate",
                  host);
        return -1;
    }
    if (find_cert(ctx, name) != NULL) {
        set_error(error, "a certificate for %s is already loaded", host);
        free(name);
        return -1;
    }
    /* GnuTLS says only "Error while reading file", so name the file and
     * the reason ourselves. */
    const char *files[2] = {cert_file, key_file};
    for (int i = 0; i < 2; i++) {
        if (access(files[i], R_OK) != 0) {
            set_error(error, "cannot read %s %s for %s: %s",
                      i == 0 ? "certificate" : "key", files[i], host,
                      strerror(errno));
            free(name);
            return -1;
        }
    }

    gnutls_certificate_credentials_t cred;
    int rc = gnutls_certificate_allocate_credentials(&cred);
    if (rc < 0) {
        set_error(error, "cannot allocate credentials: %s",
                  gnutls_strerror(rc));
        free(name);
        return -1;
    }
    /* The certificate file may hold the whole chain, leaf first. */
    rc = gnutls_certificate_set_x509_key_file2(cred, cert_file, key_file,
                                               GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        set_error(error, "cannot load certificate %s with key %s for %s: %s",
                  cert_file, key_file, host, gnutls_strerror(rc));
        gnutls_certificate_free_credentials(cred);
        free(name);
        return -1;
    }
    /* DHE-RSA with clients that do not offer RFC 7919 groups. */
    gnutls_certificate_set_known_dh_params(cred, GNUTLS_SEC_PARAM_MEDIUM);

    tls_host_cert *certs =
        realloc(ctx->certs, (ctx->cert_count + 1) * sizeof *certs);
    if (certs == NULL) {
        set_error(error, "out of memory");
        gnutls_certificate_free_credentials(cred);
        free(name);
        return -1;
    }
    ctx->certs = certs;
    ctx->certs[ctx->cert_count].host = name;
    ctx->certs[ctx->cert_count].credentials = cred;
    ctx->cert_count++;
    check_certificate(cred, name, cert_file);
    return 0;
}

/* The credentials for the name a client asked for: that host's, else the
 * parent domain's (a component such as rooms.example.org served with the
 * certificate of example.org, which may carry *.example.org), else the
 * first loaded. */
static gnutls_certificate_credentials_t
credentials_for(tls_context *ctx, const char *name)
{
    if (name != NULL) {
        char *wanted = normalize_host(name);
        if (wanted != NULL) {
            tls_host_cert *hc = find_cert(ctx, wanted);
            const char *dot = strchr(wanted, '.');
            if (hc == NULL && dot != NULL && strchr(dot + 1, '.') != NULL)
                hc = find_cert(ctx, dot + 1);
            free(wanted);
            if (hc != NULL)
                return hc->credentials;
        }
    }
    return ctx->certs[0].credentials;
}

/* ---------------------------------------------------------------------- */
/* Transport
 *
 * Our own socket functions instead of GnuTLS's built-in ones, for one
 * reason: to know whether GNUTLS_E_AGAIN from a read means the socket is
 * empty, or only that GnuTLS consumed a record without application data
 * (a TLS 1.3 KeyUpdate or NewSessionTicket) and stopped while the next
 * record waits in the socket.  In the second case the socket may never
 * become readable again for the event loop, so tls_read goes on reading. */

static ssize_t transport_pull(gnutls_transport_ptr_t ptr, void *data,
                              size_t len)
{
    tls_session *s = ptr;
    ssize_t n;
    do
        n = recv(s->fd, data, len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        s->socket_drained = 1;
    return n;
}

static ssize_t transport_push(gnutls_transport_ptr_t ptr, const giovec_t *iov,
                              int iovcnt)
{
    tls_session *s = ptr;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)iov; /* giovec_t has struct iovec's layout */
    msg.msg_iovlen = (size_t)iovcnt;
    ssize_t n;
    do
        n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Only used by GnuTLS for blocking waits, which a non-blocking session
 * does not do; given for completeness. */
static int transport_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    tls_session *s = ptr;
    struct pollfd p = {s->fd, POLLIN, 0};
    int rc = poll(&p, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
    return rc < 0 ? -1 : rc;
}

/* ---------------------------------------------------------------------- */
/* Sessions */

/* Called by GnuTLS once the ClientHello (with its SNI, RFC 6066 §3) has
 * been parsed and before the server answers: picks the certificate. */
static int select_certificate(gnutls_session_t gs)
{
    tls_session *s = gnutls_session_get_ptr(gs);
    char name[256];
    size_t len = sizeof name;
    unsigned type = 0;

    if (gnutls_server_name_get(gs, name, &len, &type, 0) == 0 &&
        type == GNUTLS_NAME_DNS && len > 0 && len < sizeof name) {
        name[len] = '\0';
        free(s->server_name);
        s->server_name = strdup(name);
    }
    int rc = gnutls_credentials_set(gs, GNUTLS_CRD_CERTIFICATE,
                                    credentials_for(s->ctx, s->server_name));
    return rc < 0 ? rc : 0;
}

tls_session *tls_session_new(tls_context *ctx, int fd, char **error)
{
    if (!tls_context_has_certificates(ctx)) {
        set_error(error, "no TLS certificate is loaded");
        return NULL;
    }
    tls_session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_error(error, "out of memory");
        return NULL;
    }
    s->ctx = ctx;
    s->probing = ctx->memory_probes < MEMORY_PROBES;
    size_t before = s->probing ? heap_in_use() : 0;

    s->fd = fd;
    int rc = gnutls_init(&s->gs, GNUTLS_SERVER | GNUTLS_NONBLOCK);
    if (rc < 0) {
        set_error(error, "cannot create a TLS session: %s",
                  gnutls_strerror(rc));
        free(s);
        return NULL;
    }
    if ((rc = gnutls_priority_set(s->gs, ctx->priority)) < 0 ||
        (rc = gnutls_credentials_set(s->gs, GNUTLS_CRD_CERTIFICATE,
                                     ctx->certs[0].credentials)) < 0 ||
        (rc = gnutls_session_ticket_enable_server(s->gs,
                                                  &ctx->ticket_key)) < 0) {
        set_error(error, "cannot set up a TLS session: %s",
                  gnutls_strerror(rc));
        gnutls_deinit(s->gs);
        free(s);
        return NULL;
    }
    /* Clients authenticate with SASL, never with a certificate. */
    gnutls_certificate_server_set_request(s->gs, GNUTLS_CERT_IGNORE);
    gnutls_handshake_set_post_client_hello_function(s->gs,
                                                    select_certificate);
    gnutls_session_set_ptr(s->gs, s);
    gnutls_transport_set_ptr(s->gs, s);
    gnutls_transport_set_pull_function(s->gs, transport_pull);
    gnutls_transport_set_vec_push_function(s->gs, transport_push);
    gnutls_transport_set_pull_timeout_function(s->gs, transport_pull_timeout);

    ctx->refs++;
    if (s->probing) {
        ctx->memory_probes++;
        probe_add(s, before);
        if (s->memory > 0) /* 0: nothing measurable (sanitizers) */
            s->memory += sizeof *s;
    }
    return s;
}

void tls_session_free(tls_session *s)
{
    if (s == NULL)
        return;
    gnutls_deinit(s->gs);
    free(s->server_name);
    free(s->error_text);
    context_unref(s->ctx);
    free(s);
}

static int is_again(int code)
{
    return code == GNUTLS_E_AGAIN || code == GNUTLS_E_INTERRUPTED;
}

int tls_handshake(tls_session *s)
{
    if (s->handshake_done)
        return TLS_OK;
    size_t before = s->probing ? heap_in_use() : 0;
    int result = TLS_ERROR;
    /* Non-fatal codes (a warning alert) just mean "go on"; bounded so a
     * peer sending warnings forever still yields to the loop. */
    for (int attempt = 0; attempt < 8; attempt++) {
        int rc = gnutls_handshake(s->gs);
        if (rc == 0) {
            s->handshake_done = 1;
            result = TLS_OK;
            break;
        }
        if (is_again(rc)) {
            result = TLS_AGAIN;
            break;
        }
        if (gnutls_error_is_fatal(rc)) {
            session_fail(s, rc);
            result = TLS_ERROR;
            break;
        }
        result = TLS_AGAIN;
    }
    if (s->probing) {
        probe_add(s, before);
        if (result == TLS_OK)
            probe_finish(s);
    }
    return result;
}

ssize_t tls_read(tls_session *s, void *data, size_t len)
{
    if (len == 0) {
        s->error = "tls_read: no room to read into";
        return TLS_ERROR;
    }
    /* Bounded, so that a peer sending endless non-data records still
     * yields to the loop (the socket stays readable for the next turn). */
    for (int attempt = 0; attempt < 8; attempt++) {
        s->socket_drained = 0;
        ssize_t n = gnutls_record_recv(s->gs, data, len);
        if (n >= 0)
            return n; /* 0: the peer sent close_notify */
        if (is_again((int)n)) {
            /* With TLS 1.3 a record that carries no application data (a
             * KeyUpdate, RFC 8446 §4.6.3) ends the call with "again"
             * although the next record may already be in the socket or
             * decrypted in GnuTLS: read on unless the socket really is
             * empty or GnuTLS waits to write. */
            if (gnutls_record_get_direction(s->gs) == 0 &&
                (!s->socket_drained ||
                 gnutls_record_check_pending(s->gs) > 0))
                continue;
            return TLS_AGAIN;
        }
        /* The peer closed TCP without close_notify.  XMPP has its own
         * end-of-stream, so this is no truncation attack on the stream:
         * report an ordinary close and let the stream judge. */
        if (n == GNUTLS_E_PREMATURE_TERMINATION)
            return 0;
        /* A TLS 1.2 client asking to renegotiate: XMPP has no use for it
         * and it has a history of attacks. */
        if (n == GNUTLS_E_REHANDSHAKE) {
            s->error = "the client asked to renegotiate, which is refused";
            return TLS_ERROR;
        }
        if (gnutls_error_is_fatal((int)n)) {
            session_fail(s, (int)n);
            return TLS_ERROR;
        }
        /* Non-fatal (a warning alert): read on. */
    }
    return TLS_AGAIN;
}

ssize_t tls_write(tls_session *s, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    ssize_t n = gnutls_record_send(s->gs, data, len);
    if (n >= 0)
        return n;
    if (is_again((int)n) || !gnutls_error_is_fatal((int)n))
        return TLS_AGAIN;
    session_fail(s, (int)n);
    return TLS_ERROR;
}

size_t tls_pending(tls_session *s)
{
    return gnutls_record_check_pending(s->gs);
}

int tls_wants_write(tls_session *s)
{
    return gnutls_record_get_direction(s->gs) == 1;
}

void tls_bye(tls_session *s)
{
    if (s->handshake_done)
        (void)gnutls_bye(s->gs, GNUTLS_SHUT_WR);
}

const char *tls_server_name(tls_session *s)
{
    return s->server_name;
}

const char *tls_protocol_name(tls_session *s)
{
    if (!s->handshake_done)
        return NULL;
    return gnutls_protocol_get_name(gnutls_protocol_get_version(s->gs));
}

int tls_channel_binding(tls_session *s, const char *type,
                        unsigned char **data, size_t *len)
{
    gnutls_channel_binding_t cb;
    if (!s->handshake_done || type == NULL)
        return -1;
    int tls13 = gnutls_protocol_get_version(s->gs) == GNUTLS_TLS1_3;
    if (strcmp(type, "tls-exporter") == 0) {
        /* RFC 9266 §2 (and §4.2 of RFC 7627): before TLS 1.3 the exporter
         * is only unique to the connection with the extended master
         * secret. */
        if (!tls13 && !gnutls_session_ext_master_secret_status(s->gs))
            return -1;
        cb = GNUTLS_CB_TLS_EXPORTER;
    } else if (strcmp(type, "tls-unique") == 0) {
        /* RFC 5929 §3: the first Finished message; TLS 1.3 has none that
         * fits (RFC 8446 §C.5). */
        if (tls13)
            return -1;
        cb = GNUTLS_CB_TLS_UNIQUE;
    } else if (strcmp(type, "tls-server-end-point") == 0) {
        cb = GNUTLS_CB_TLS_SERVER_END_POINT; /* RFC 5929 §4 */
    } else {
        return -1;
    }

    gnutls_datum_t cbdata = {NULL, 0};
    if (gnutls_session_channel_binding(s->gs, cb, &cbdata) < 0 ||
        cbdata.size == 0) {
        gnutls_free(cbdata.data);
        return -1;
    }
    unsigned char *copy = malloc(cbdata.size);
    if (copy == NULL) {
        gnutls_free(cbdata.data);
        return -1;
    }
    memcpy(copy, cbdata.data, cbdata.size);
    *data = copy;
    *len = cbdata.size;
    gnutls_free(cbdata.data);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Self-signed certificates */

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* mkdir -p for the directory part of a file path, new directories 0700. */
static int make_parent_dirs(const char *file, char **error)
{
    char *path = strdup(file);
    if (path == NULL) {
        set_error(error, "out of memory");
        return -1;
    }
    char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path) {
        free(path);
        return 0;
    }
    *slash = '\0';
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            set_error(error, "cannot create directory %s: %s", path,
                      strerror(errno));
            free(path);
            return -1;
        }
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            set_error(error, "%s is not a directory", path);
            free(path);
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(path);
    return 0;
}

static void sync_parent_dir(const char *file)
{
    char *path = strdup(file);
    if (path == NULL)
        return;
    char *slash = strrchr(path, '/');
    const char *dir = ".";
    if (slash == path)
        dir = "/";
    else if (slash != NULL) {
        *slash = '\0';
        dir = path;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(path);
}

/* Writes data to path through a temporary file in the same directory, so
 * that a crash leaves either nothing or the whole file, and never replaces
 * a file that appeared meanwhile. */
static int write_new_file(const char *path, const gnutls_datum_t *data,
                          mode_t mode, char **error)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + sizeof ".XXXXXX");
    if (tmp == NULL) {
        set_error(error, "out of memory");
        return -1;
    }
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".XXXXXX", sizeof ".XXXXXX");
    int fd = mkstemp(tmp); /* created 0600 */
    if (fd < 0) {
        set_error(error, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    const unsigned char *p = data->data;
    size_t left = data->size;
    int failed = fchmod(fd, mode) != 0;
    while (!failed && left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            failed = 1;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!failed && fsync(fd) != 0)
        failed = 1;
    if (close(fd) != 0)
        failed = 1;
    if (failed) {
        set_error(error, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    /* link() fails if the name exists: an atomic "create, never replace".
     * Some file systems have no hard links; there rename() after a check
     * is the best available. */
    int rc = link(tmp, path);
    if (rc != 0 && errno != EEXIST) {
        if (!file_exists(path))
            rc = rename(tmp, path);
        else
            errno = EEXIST;
    }
    int saved = errno;
    unlink(tmp);
    free(tmp);
    if (rc != 0) {
        set_error(error, "cannot create %s: %s", path, strerror(saved));
        return -1;
    }
    sync_parent_dir(path);
    return 0;
}

static int make_certificate(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
                            const char *host, char **error)
{
    unsigned char serial[16];
    unsigned char key_id[64];
    size_t key_id_size = sizeof key_id;
    char wildcard[260];
    time_t now = time(NULL);
    int rc;

    /* DNS names in A-labels, made here: GnuTLS's own conversion drops the
     * "*" of a wildcard over an internationalized name. */
    char *ace = normalize_host(host);
    if (ace == NULL) {
        set_error(error, "'%s' is not a valid host name for a certificate",
                  host);
        return -1;
    }
    snprintf(wildcard, sizeof wildcard, "*.%s", ace);

    /* RFC 5280 §4.1.2.2: a positive serial of at most 20 octets. */
    if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
        goto fail;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);

    if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, now - 24 * 3600)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(
             crt, now + (time_t)(10 * 365 + 3) * 24 * 3600)) < 0 ||
        (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
                                            0, host,
                                            (unsigned)strlen(host))) < 0)
        goto fail;
    /* Names a client checks (RFC 6125 DNS-IDs), and the XmppAddr of
     * RFC 6120 §13.7.1.4. */
    if ((rc = gnutls_x509_crt_set_subject_alt_name(
             crt, GNUTLS_SAN_DNSNAME, ace, (unsigned)strlen(ace),
             GNUTLS_FSAN_APPEND)) < 0 ||
        (rc = gnutls_x509_crt_set_subject_alt_name(
             crt, GNUTLS_SAN_DNSNAME, wildcard, (unsigned)strlen(wildcard),
             GNUTLS_FSAN_APPEND)) < 0 ||
        (rc = gnutls_x509_crt_set_subject_alt_name(
             crt, GNUTLS_SAN_OTHERNAME_XMPP, host, (unsigned)strlen(host),
             GNUTLS_FSAN_APPEND)) < 0)
        goto fail;
    if ((rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt,
                                            GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER,
                                                  0)) < 0 ||
        (rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, key_id,
                                         &key_id_size)) < 0 ||
        (rc = gnutls_x509_crt_set_subject_key_id(crt, key_id,
                                                 key_id_size)) < 0 ||
        (rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
        goto fail;
    free(ace);
    return 0;
fail:
    set_error(error, "cannot make a certificate for %s: %s", host,
              gnutls_strerror(rc));
    free(ace);
    return -1;
}

int tls_generate_self_signed(const char *host, const char *cert_file,
                             const char *key_file, char **error)
{
    if (host == NULL || *host == '\0' || strlen(host) > 253 ||
        cert_file == NULL || key_file == NULL) {
        set_error(error, "a self-signed certificate needs a host name and "
                         "two file names");
        return -1;
    }
    int have_cert = file_exists(cert_file), have_key = file_exists(key_file);
    if (have_cert && have_key)
        return 0;
    if (have_cert || have_key) {
        set_error(error, "%s exists but %s does not; refusing to replace it "
                         "(remove it, or configure ssl for %s)",
                  have_cert ? cert_file : key_file,
                  have_cert ? key_file : cert_file, host);
        return -1;
    }
    if (make_parent_dirs(cert_file, error) != 0 ||
        make_parent_dirs(key_file, error) != 0)
        return -1;

    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t key_pem = {NULL, 0}, cert_pem = {NULL, 0};
    int result = -1, rc;

    /* ECDSA P-256: accepted by every TLS 1.2/1.3 client, fast to sign. */
    if ((rc = gnutls_x509_privkey_init(&key)) < 0 ||
        (rc = gnutls_x509_privkey_generate2(
             key, GNUTLS_PK_ECDSA,
             GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0)) <
            0 ||
        (rc = gnutls_x509_crt_init(&crt)) < 0) {
        set_error(error, "cannot make a key for %s: %s", host,
                  gnutls_strerror(rc));
        goto out;
    }
    if (make_certificate(crt, key, host, error) != 0)
        goto out;
    if ((rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
                                                GNUTLS_PKCS_PLAIN,
                                                &key_pem)) < 0 ||
        (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem)) <
            0) {
        set_error(error, "cannot encode the certificate for %s: %s", host,
                  gnutls_strerror(rc));
        goto out;
    }
    /* The key first: a certificate never exists without its key. */
    if (write_new_file(key_file, &key_pem, 0600, error) != 0)
        goto out;
    if (write_new_file(cert_file, &cert_pem, 0644, error) != 0) {
        unlink(key_file);
        goto out;
    }
    result = 0;
out:
    if (key_pem.data != NULL) {
        gnutls_memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    gnutls_free(cert_pem.data);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    return result;
}
