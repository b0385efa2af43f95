/*
 * strophe_client: a libstrophe client (another implementation's view of
 * our server) that logs in over TLS, binds, sends a message to its own
 * full JID and exits 0 once that message comes back.  A test client for
 * tests/integration/test_login.py.
 *
 *   strophe_client [-d] [-v] -a CAFILE PORT JID PASSWORD
 *     -d         direct TLS (XEP-0368) instead of STARTTLS
 *     -a CAFILE  the only certificate trusted; the server's certificate is
 *                verified against it (and the JID's domain), and a failed
 *                verification is refused, not waved through
 *     -v         libstrophe's debug log on stderr
 *
 * Output: "secured: yes|no", "bound: JID", "received: TOKEN", and exit 0;
 * or "certificate refused: ...", "disconnected: ...", "timed out", exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#define TIMEOUT_MS 10000

typedef struct state {
    xmpp_ctx_t *ctx;
    char token[64];
    int received;
    int failed;
} state;

/* Called only when OpenSSL could not verify the certificate against the
 * CA file: refuse, and say why. */
static int refuse_certificate(const xmpp_tlscert_t *cert, const char *error)
{
    printf("certificate refused: %s (subject %s)\n", error,
           xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT));
    return 0;
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    state *st = userdata;
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(stanza, "body");
    char *text = body ? xmpp_stanza_get_text(body) : NULL;
    if (text != NULL && strcmp(text, st->token) == 0) {
        printf("received: %s\n", text);
        st->received = 1;
        xmpp_disconnect(conn);
    }
    if (text)
        xmpp_free(st->ctx, text);
    return 1;
}

static int on_timeout(xmpp_ctx_t *ctx, void *userdata)
{
    state *st = userdata;
    printf("timed out\n");
    st->failed = 1;
    xmpp_stop(ctx);
    return 0;
}

static void on_connection(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *stream_error, void *userdata)
{
    state *st = userdata;
    if (event != XMPP_CONN_CONNECT) {
        if (!st->received) {
            printf("disconnected: error %d%s%s\n", error,
                   stream_error && stream_error->text ? ", " : "",
                   stream_error && stream_error->text ? stream_error->text : "");
            st->failed = 1;
        }
        xmpp_stop(st->ctx);
        return;
    }
    const char *jid = xmpp_conn_get_bound_jid(conn);
    printf("secured: %s\n", xmpp_conn_is_secured(conn) ? "yes" : "no");
    printf("bound: %s\n", jid);
    xmpp_handler_add(conn, on_message, NULL, "message", NULL, st);

    xmpp_stanza_t *msg = xmpp_message_new(st->ctx, "chat", jid, "strophe1");
    xmpp_message_set_body(msg, st->token);
    xmpp_send(conn, msg);
    xmpp_stanza_release(msg);
}

int main(int argc, char **argv)
{
    const char *cafile = NULL;
    int direct_tls = 0, verbose = 0, opt;
    while ((opt = getopt(argc, argv, "da:v")) != -1) {
        switch (opt) {
        case 'd': direct_tls = 1; break;
        case 'a': cafile = optarg; break;
        case 'v': verbose = 1; break;
        default:
            fprintf(stderr, "usage: strophe_client [-d] [-v] -a CAFILE PORT JID PASSWORD\n");
            return 2;
        }
    }
    if (argc - optind != 3 || cafile == NULL) {
        fprintf(stderr, "usage: strophe_client [-d] [-v] -a CAFILE PORT JID PASSWORD\n");
        return 2;
    }
    unsigned short port = (unsigned short)atoi(argv[optind]);
    setvbuf(stdout, NULL, _IOLBF, 0);

    state st = {0};
    snprintf(st.token, sizeof st.token, "strophe-%ld", (long)getpid());
    xmpp_initialize();
    st.ctx = xmpp_ctx_new(NULL, verbose ? xmpp_get_default_logger(XMPP_LEVEL_DEBUG) : NULL);
    xmpp_conn_t *conn = xmpp_conn_new(st.ctx);
    long flags = direct_tls ? XMPP_CONN_FLAG_LEGACY_SSL : XMPP_CONN_FLAG_MANDATORY_TLS;
    if (xmpp_conn_set_flags(conn, flags) != 0) {
        printf("cannot set the connection flags\n");
        return 1;
    }
    xmpp_conn_set_cafile(conn, cafile);
    xmpp_conn_set_certfail_handler(conn, refuse_certificate);
    xmpp_conn_set_jid(conn, argv[optind + 1]);
    xmpp_conn_set_pass(conn, argv[optind + 2]);
    xmpp_global_timed_handler_add(st.ctx, on_timeout, TIMEOUT_MS, &st);

    if (xmpp_connect_client(conn, "127.0.0.1", port, on_connection, &st) != XMPP_EOK) {
        printf("cannot connect\n");
        st.failed = 1;
    } else {
        xmpp_run(st.ctx);
    }
    /* libstrophe 0.12 does not free global handlers with the context. */
    xmpp_global_timed_handler_delete(st.ctx, on_timeout);
    xmpp_conn_release(conn);
    xmpp_ctx_free(st.ctx);
    xmpp_shutdown();
    return st.received && !st.failed ? 0 : 1;
}
