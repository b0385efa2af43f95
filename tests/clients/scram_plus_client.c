/*
 * scram_plus_client: logs in to an XMPP server with SCRAM-*-PLUS and the
 * tls-exporter channel binding (RFC 9266), binds a resource, prints the
 * bound JID.  A test client for tests/integration/test_login.py.
 *
 *   scram_plus_client [options] PORT USER PASSWORD
 *     -d            direct TLS (XEP-0368) instead of STARTTLS
 *     -m MECH       SCRAM-SHA-256-PLUS (default) or SCRAM-SHA-1-PLUS
 *     -h HOST       the XMPP domain (default localhost)
 *     -a CAFILE     trust this certificate (required: the server's is
 *                   verified, with its name checked against HOST)
 *     -r RESOURCE   the resource to bind (default: let the server choose)
 *     -w            send WRONG channel binding data (the exporter with one
 *                   bit flipped): the server must refuse the login
 *     -p PRIORITY   a GnuTLS priority string (e.g. to force TLS 1.2)
 *
 * Output, one line each: "tls: VERSION", "mechanisms: ...",
 * "channel-binding: ..." (what the server advertised), then "bound: JID" and exit 0, or
 * "failure: CONDITION" / "error: ..." and exit 1.
 *
 * It speaks just enough XMPP to log in: it reads until a known closing tag
 * shows up and picks text out of the server's (well-formed) output, which
 * a client for real use must not do.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gsasl.h>

#define IO_TIMEOUT_SECONDS 10
#define INPUT_MAX 65536

typedef struct client {
    int fd;
    gnutls_session_t tls;   /* NULL until TLS is up */
    gnutls_certificate_credentials_t cred;
    const char *host;
    const char *cafile;
    const char *priority;   /* NULL: GnuTLS's default */
    char input[INPUT_MAX + 1];
    size_t input_len;
} client;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("error: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    exit(1);
}

static void send_text(client *c, const char *text)
{
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n;
        if (c->tls)
            n = gnutls_record_send(c->tls, text + done, len - done);
        else
            n = send(c->fd, text + done, len - done, MSG_NOSIGNAL);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n <= 0)
            die("cannot send: %s", c->tls ? gnutls_strerror((int)n) : strerror(errno));
        done += (size_t)n;
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends what the server sends next to the input.  GnuTLS says AGAIN
 * both when the socket timed out and when a record carried no
 * application data (a TLS 1.3 session ticket): retry until the deadline. */
static void read_more(client *c)
{
    if (c->input_len == INPUT_MAX)
        die("input too long: %s", c->input);
    double deadline = now_seconds() + IO_TIMEOUT_SECONDS;
    ssize_t n;
    for (;;) {
        if (c->tls)
            n = gnutls_record_recv(c->tls, c->input + c->input_len, INPUT_MAX - c->input_len);
        else
            n = recv(c->fd, c->input + c->input_len, INPUT_MAX - c->input_len, 0);
        int again = c->tls ? (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                           : (n < 0 && (errno == EAGAIN || errno == EINTR));
        if (!again)
            break;
        if (now_seconds() > deadline)
            die("timed out; got: %s", c->input);
    }
    if (n == 0)
        die("connection closed; got: %s", c->input);
    if (n < 0)
        die("cannot read: %s", c->tls ? gnutls_strerror((int)n) : strerror(errno));
    c->input_len += (size_t)n;
    c->input[c->input_len] = '\0';
}

/* Reads until `needle` is in the input; returns where it ends. */
static char *read_until(client *c, const char *needle)
{
    for (;;) {
        c->input[c->input_len] = '\0';
        char *at = strstr(c->input, needle);
        if (at)
            return at + strlen(needle);
        read_more(c);
    }
}

/* Forgets the input up to `end` (a pointer returned by read_until). */
static void consume(client *c, const char *end)
{
    size_t used = (size_t)(end - c->input);
    memmove(c->input, end, c->input_len - used);
    c->input_len -= used;
}

/* The text between `open` and the next '<' (an element's content), or
 * NULL; malloc'd. */
static char *text_after(const char *haystack, const char *open)
{
    const char *at = strstr(haystack, open);
    if (at == NULL)
        return NULL;
    at += strlen(open);
    const char *end = strchr(at, '<');
    if (end == NULL)
        return NULL;
    return strndup(at, (size_t)(end - at));
}

static void open_stream(client *c)
{
    char header[512];
    snprintf(header, sizeof header,
             "<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
             "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
             c->host);
    send_text(c, header);
}

/* Sends a header and returns the features (the input up to their end). */
static char *stream_features(client *c)
{
    open_stream(c);
    char *end = read_until(c, "</stream:features>");
    char *features = strstr(c->input, "<stream:features");
    if (features == NULL)
        die("no stream features");
    char *copy = strndup(features, (size_t)(end - features));
    consume(c, end);
    return copy;
}

static void start_tls(client *c)
{
    int r;
    if ((r = gnutls_certificate_allocate_credentials(&c->cred)) < 0)
        die("gnutls: %s", gnutls_strerror(r));
    if (gnutls_certificate_set_x509_trust_file(c->cred, c->cafile, GNUTLS_X509_FMT_PEM) <= 0)
        die("cannot load the trusted certificate %s", c->cafile);
    if ((r = gnutls_init(&c->tls, GNUTLS_CLIENT)) < 0)
        die("gnutls: %s", gnutls_strerror(r));
    const char *bad = NULL;
    if (c->priority == NULL)
        gnutls_set_default_priority(c->tls);
    else if (gnutls_priority_set_direct(c->tls, c->priority, &bad) < 0)
        die("bad priority string at %s", bad ? bad : "?");
    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred);
    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, c->host, strlen(c->host));
    /* Verify the chain and that the certificate names the host. */
    gnutls_session_set_verify_cert(c->tls, c->host, 0);
    gnutls_transport_set_int(c->tls, c->fd);
    gnutls_handshake_set_timeout(c->tls, IO_TIMEOUT_SECONDS * 1000);
    do {
        r = gnutls_handshake(c->tls);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0)
        die("TLS handshake failed: %s", gnutls_strerror(r));
    printf("tls: %s\n", gnutls_protocol_get_name(gnutls_protocol_get_version(c->tls)));
    c->input_len = 0;
}

/* The tls-exporter channel binding of the session, base64 (for GNU SASL);
 * with `wrong`, one bit of it flipped. */
static char *exporter_binding(client *c, int wrong)
{
    gnutls_datum_t cb;
    int r = gnutls_session_channel_binding(c->tls, GNUTLS_CB_TLS_EXPORTER, &cb);
    if (r < 0)
        die("no tls-exporter channel binding: %s", gnutls_strerror(r));
    if (wrong)
        cb.data[0] ^= 0x01;
    char *b64 = NULL;
    size_t b64_len = 0;
    if (gsasl_base64_to((const char *)cb.data, cb.size, &b64, &b64_len) != GSASL_OK)
        die("base64 failed");
    gnutls_free(cb.data);
    return b64;
}

static void sasl_send(client *c, const char *element, const char *mech, const char *b64)
{
    char *msg = malloc(strlen(b64) + 256);
    if (msg == NULL)
        die("out of memory");
    if (mech)
        sprintf(msg, "<%s xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</%s>",
                element, mech, b64[0] ? b64 : "=", element);
    else
        sprintf(msg, "<%s xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</%s>", element, b64,
                element);
    send_text(c, msg);
    free(msg);
}

/* Reads until one of the SASL answers is complete: challenge, success
 * (possibly empty: <success .../>) or failure.  Returns its name and sets
 * *content to its text (malloc'd). */
static const char *next_sasl_answer(client *c, char **content)
{
    static const char *const names[] = {"challenge", "success", "failure"};
    for (;;) {
        c->input[c->input_len] = '\0';
        for (size_t i = 0; i < 3; i++) {
            char open[32], close[32];
            snprintf(open, sizeof open, "<%s", names[i]);
            snprintf(close, sizeof close, "</%s>", names[i]);
            char *start = strstr(c->input, open);
            char *body = start ? strchr(start, '>') : NULL;
            if (body == NULL)
                continue;
            if (body[-1] == '/') {
                *content = strdup("");
                consume(c, body + 1);
                return names[i];
            }
            char *end = strstr(body, close);
            if (end == NULL)
                continue;
            *content = strndup(body + 1, (size_t)(end - body - 1));
            consume(c, end + strlen(close));
            return names[i];
        }
        read_more(c);
    }
}

/* The condition of a SASL <failure/>: the name of its first child. */
static char *failure_condition(const char *content)
{
    const char *at = strchr(content, '<');
    if (at == NULL)
        return strdup("(none)");
    at++;
    size_t n = strcspn(at, " />");
    return strndup(at, n);
}

static int authenticate(client *c, Gsasl *ctx, const char *mech, const char *user,
                        const char *password, int wrong)
{
    Gsasl_session *session;
    int r = gsasl_client_start(ctx, mech, &session);
    if (r != GSASL_OK)
        die("gsasl_client_start(%s): %s", mech, gsasl_strerror(r));
    char *cb = exporter_binding(c, wrong);
    gsasl_property_set(session, GSASL_AUTHID, user);
    gsasl_property_set(session, GSASL_PASSWORD, password);
    gsasl_property_set(session, GSASL_CB_TLS_EXPORTER, cb);
    free(cb);

    char *out = NULL;
    r = gsasl_step64(session, "", &out);
    if (r != GSASL_NEEDS_MORE)
        die("gsasl_step64 (first): %s", gsasl_strerror(r));
    if (strstr(mech, "PLUS")) {
        /* RFC 9266: the GS2 header must name tls-exporter. */
        char *first = NULL;
        size_t first_len = 0;
        if (gsasl_base64_from(out, strlen(out), &first, &first_len) != GSASL_OK ||
            strncmp(first, "p=tls-exporter,", 15) != 0)
            die("GNU SASL did not choose tls-exporter: %.*s", (int)first_len, first);
        gsasl_free(first);
    }
    sasl_send(c, "auth", mech, out);
    gsasl_free(out);

    for (;;) {
        char *content = NULL;
        const char *what = next_sasl_answer(c, &content);
        if (strcmp(what, "failure") == 0) {
            char *condition = failure_condition(content);
            printf("failure: %s\n", condition);
            free(condition);
            free(content);
            gsasl_finish(session);
            return -1;
        }
        out = NULL;
        r = gsasl_step64(session, content, &out);
        free(content);
        if (strcmp(what, "success") == 0) {
            gsasl_free(out);
            /* The server's signature checked: mutual authentication. */
            if (r != GSASL_OK)
                die("the server's final message did not verify: %s", gsasl_strerror(r));
            gsasl_finish(session);
            return 0;
        }
        if (r != GSASL_NEEDS_MORE && r != GSASL_OK)
            die("gsasl_step64: %s", gsasl_strerror(r));
        sasl_send(c, "response", NULL, out ? out : "");
        gsasl_free(out);
    }
}

static void bind_resource(client *c, const char *resource)
{
    char *features = stream_features(c);
    if (strstr(features, "urn:ietf:params:xml:ns:xmpp-bind") == NULL)
        die("no bind feature after SASL: %s", features);
    free(features);
    char iq[1024];
    if (resource)
        snprintf(iq, sizeof iq,
                 "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                 "<resource>%s</resource></bind></iq>",
                 resource);
    else
        snprintf(iq, sizeof iq,
                 "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    send_text(c, iq);
    char *end = read_until(c, "</iq>");
    char *jid = text_after(c->input, "<jid>");
    if (jid == NULL || strstr(c->input, "type='result'") == NULL)
        die("bind failed: %s", c->input);
    printf("bound: %s\n", jid);
    free(jid);
    consume(c, end);
}

/* Prints a list of <NAME>text</NAME> or NAME's `type` attributes. */
static void print_advertised(const char *features, const char *label, const char *open)
{
    printf("%s:", label);
    const char *at = features;
    while ((at = strstr(at, open)) != NULL) {
        at += strlen(open);
        if (open[strlen(open) - 1] == '>') {
            size_t n = strcspn(at, "<");
            printf(" %.*s", (int)n, at);
        } else { /* an attribute: up to the closing quote */
            size_t n = strcspn(at, "'\"");
            printf(" %.*s", (int)n, at);
        }
    }
    printf("\n");
}

static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct timeval tv = {IO_TIMEOUT_SECONDS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        die("connect to port %d: %s", port, strerror(errno));
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: scram_plus_client [-d] [-w] [-p PRIORITY] [-m MECH] [-h HOST] -a CAFILE "
                    "[-r RESOURCE] PORT USER PASSWORD\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *mech = "SCRAM-SHA-256-PLUS", *resource = NULL;
    int direct_tls = 0, wrong = 0, opt;
    static client c;
    c.host = "localhost";
    while ((opt = getopt(argc, argv, "dwm:h:a:r:p:")) != -1) {
        switch (opt) {
        case 'd': direct_tls = 1; break;
        case 'w': wrong = 1; break;
        case 'm': mech = optarg; break;
        case 'h': c.host = optarg; break;
        case 'a': c.cafile = optarg; break;
        case 'r': resource = optarg; break;
        case 'p': c.priority = optarg; break;
        default: usage();
        }
    }
    if (argc - optind != 3 || c.cafile == NULL)
        usage();
    int port = atoi(argv[optind]);
    const char *user = argv[optind + 1], *password = argv[optind + 2];
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (gnutls_global_init() < 0)
        die("gnutls_global_init failed");
    Gsasl *ctx;
    if (gsasl_init(&ctx) != GSASL_OK)
        die("gsasl_init failed");

    c.fd = connect_loopback(port);
    if (!direct_tls) {
        char *features = stream_features(&c);
        if (strstr(features, "urn:ietf:params:xml:ns:xmpp-tls") == NULL)
            die("no STARTTLS offered: %s", features);
        free(features);
        send_text(&c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        read_until(&c, "<proceed");
    }
    start_tls(&c);
    char *features = stream_features(&c);
    print_advertised(features, "mechanisms", "<mechanism>");
    print_advertised(features, "channel-binding", "<channel-binding type='");
    free(features);

    int rc = authenticate(&c, ctx, mech, user, password, wrong);
    if (rc == 0) {
        bind_resource(&c, resource);
        send_text(&c, "</stream:stream>");
        read_until(&c, "</stream:stream>");
    }
    gnutls_bye(c.tls, GNUTLS_SHUT_WR);
    close(c.fd);
    gnutls_deinit(c.tls);
    gnutls_certificate_free_credentials(c.cred);
    gsasl_done(ctx);
    gnutls_global_deinit();
    return rc == 0 ? 0 : 1;
}
