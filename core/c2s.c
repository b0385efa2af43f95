/*
 * Client-to-server streams.
 *
 * A c2s session keeps, once bound, only its connection, its XML stream
 * (whose parser is released while idle) and a few flags; everything needed
 * only to log in (SASL state, the login timer list links, throttling) lives
 * in a separate struct freed at bind.
 */
#include "c2s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "accounts.h"
#include "auth_throttle.h"
#include "conn.h"
#include "event.h"
#include "host.h"
#include "jid.h"
#include "log.h"
#include "router.h"
#include "sasl.h"
#include "server.h"
#include "session.h"
#include "stanza.h"
#include "tls.h"
#include "xml_stream.h"

/* RFC 6120 §6.4.5: a reasonable number of retries, then policy-violation. */
#define C2S_MAX_AUTH_FAILURES 5
/* Resources one account may bind at once (RFC 6120 §7.6.2.1). */
#define C2S_MAX_RESOURCES 100
/* A bound session idle this long gives its XML parser back. */
#define C2S_PARSER_IDLE_SECONDS 2.0

typedef struct c2s c2s;

/* Only while logging in. */
typedef struct c2s_login {
    sasl_server *sasl;
    int failures;
    c2s *prev, *next;        /* the pending-login list, oldest first */
    struct event *delay;     /* a throttled <failure/> waiting to be sent */
    char *delayed_reply;
    char peer_key[64];       /* the throttling key of the peer's address */
} c2s_login;

struct c2s {
    mynah_session *session;
    conn *conn;
    xml_stream *xs;
    c2s_login *login;
    uint8_t header_sent;     /* our stream header for the current stream */
    uint8_t header_received; /* theirs, for the current stream */
    uint8_t direct_tls;
    uint8_t failed;          /* parser error: ignore further input */
    /* Stanzas parsed while an async handler holds the session: they wait
     * here, in order, until it resumes (DESIGN.md: order is kept). */
    mynah_stanza **held;
    size_t held_count, held_cap;
};

static int c2s_process(c2s *c, mynah_stanza *stanza);

static c2s *pending_first, *pending_last;
static struct event *sweep_event;
static const xml_stream_callbacks c2s_stream_callbacks;
static const conn_handler c2s_conn_handler;
static const session_ops c2s_session_ops;

/* ---- pending logins ---- */

static void pending_add(c2s *c)
{
    c->login->prev = pending_last;
    c->login->next = NULL;
    if (pending_last)
        pending_last->login->next = c;
    else
        pending_first = c;
    pending_last = c;
}

static void pending_remove(c2s *c)
{
    c2s_login *l = c->login;
    if (l->prev)
        l->prev->login->next = l->next;
    else if (pending_first == c)
        pending_first = l->next;
    if (l->next)
        l->next->login->prev = l->prev;
    else if (pending_last == c)
        pending_last = l->prev;
    l->prev = l->next = NULL;
}

static void login_free(c2s *c)
{
    c2s_login *l = c->login;
    if (l == NULL)
        return;
    pending_remove(c);
    if (l->sasl)
        sasl_server_free(l->sasl);
    if (l->delay)
        event_free(l->delay);
    free(l->delayed_reply);
    free(l);
    c->login = NULL;
}

/* ---- output ---- */

static void c2s_write(c2s *c, const char *data, size_t len)
{
    if (c->conn)
        conn_write(c->conn, data, len);
}

static void c2s_write_str(c2s *c, const char *s)
{
    c2s_write(c, s, strlen(s));
}

static void c2s_send_header(c2s *c)
{
    if (c->header_sent || c->conn == NULL)
        return;
    unsigned char rnd[12];
    char id[25];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 0x5a, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    buf *out = conn_output(c->conn);
    buf_append_str(out, "<?xml version='1.0'?><stream:stream xmlns='"
                   NS_CLIENT "' xmlns:stream='" NS_STREAMS "' id='");
    buf_append_str(out, id);
    if (c->session->host) {
        buf_append_str(out, "' from='");
        buf_append_xml_escaped(out, host_name(c->session->host),
                               strlen(host_name(c->session->host)));
    }
    buf_append_str(out, "' version='1.0' xml:lang='en'>");
    conn_wrote(c->conn);
    c->header_sent = 1;
}

static int c2s_send(mynah_session *s, mynah_stanza *stanza)
{
    c2s *c = s->proto;
    if (c->conn == NULL) {
        stanza_unref(stanza);
        return -1;
    }
    int r = stanza_serialize(stanza, NS_CLIENT, conn_output(c->conn));
    stanza_unref(stanza);
    if (r < 0)
        return -1;
    return conn_wrote(c->conn);
}

static int c2s_send_raw(mynah_session *s, const char *data, size_t len)
{
    c2s *c = s->proto;
    if (c->conn == NULL)
        return -1;
    return conn_write(c->conn, data, len);
}

/* RFC 6120 §4.9: <stream:error> with the condition and optional text,
 * after our own header if we had not sent one (§4.9.1.2). */
static void c2s_close(mynah_session *s, const char *condition, const char *text)
{
    c2s *c = s->proto;
    if (c == NULL)
        return;
    if (c->login)
        login_free(c);
    if (c->conn == NULL)
        return;
    if (condition != NULL) {
        c2s_send_header(c);
        buf *out = conn_output(c->conn);
        buf_append_str(out, "<stream:error><");
        buf_append_str(out, condition);
        buf_append_str(out, " xmlns='" NS_XMPP_STREAMS "'/>");
        if (text != NULL) {
            buf_append_str(out, "<text xmlns='" NS_XMPP_STREAMS "'>");
            buf_append_xml_escaped(out, text, strlen(text));
            buf_append_str(out, "</text>");
        }
        buf_append_str(out, "</stream:error>");
    }
    if (c->header_sent)
        buf_append_str(conn_output(c->conn), "</stream:stream>");
    conn_wrote(c->conn);
    conn_close(c->conn);
}

static void c2s_pause(mynah_session *s)
{
    c2s *c = s->proto;
    if (c && c->conn)
        conn_pause_reading(c->conn);
}

static void c2s_resume(mynah_session *s)
{
    c2s *c = s->proto;
    if (c == NULL)
        return;
    size_t i = 0;
    session_ref(s);
    while (i < c->held_count && !s->paused && s->state != SESSION_CLOSING)
        c2s_process(c, c->held[i++]);
    /* What is left stays held (paused again), or is dropped (closing). */
    if (s->state == SESSION_CLOSING) {
        while (i < c->held_count)
            stanza_unref(c->held[i++]);
    }
    /* Nothing may be held at all (a delayed SASL failure pauses with an
     * empty queue): memmove() must not see the NULL array. */
    if (i > 0) {
        memmove(c->held, c->held + i, (c->held_count - i) * sizeof *c->held);
        c->held_count -= i;
    }
    if (c->held_count == 0) {
        free(c->held);
        c->held = NULL;
        c->held_cap = 0;
    }
    if (c->conn && !s->paused)
        conn_resume_reading(c->conn);
    session_unref(s);
}

static void c2s_free(mynah_session *s)
{
    c2s *c = s->proto;
    if (c == NULL)
        return;
    login_free(c);
    if (c->xs)
        xml_stream_free(c->xs);
    for (size_t i = 0; i < c->held_count; i++)
        stanza_unref(c->held[i]);
    free(c->held);
    free(c);
    s->proto = NULL;
}

static int c2s_on_flushed(mynah_session *s, void (*cb)(int written, void *ud),
                          void *ud)
{
    c2s *c = s->proto;
    if (c == NULL || c->conn == NULL) {
        cb(0, ud);
        return 0;
    }
    return conn_on_flushed(c->conn, cb, ud);
}

static const session_ops c2s_session_ops = {
    c2s_send, c2s_send_raw, c2s_close, c2s_pause, c2s_resume, c2s_free,
    c2s_on_flushed,
};

/* ---- limits ---- */

static void c2s_apply_limits(c2s *c)
{
    xml_stream_limits limits;
    int authed = c->session->state != SESSION_CONNECTED;
    limits.max_stanza_bytes = authed ? server.c2s_stanza_size_limit
                                     : server.c2s_preauth_stanza_size_limit;
    limits.max_depth = server.c2s_max_depth;
    limits.max_attributes = 64;
    xml_stream_set_limits(c->xs, &limits);
}

/* ---- SASL state ---- */

/* The SASL server for this stream, with channel binding data from TLS. */
static sasl_server *c2s_sasl_server(c2s *c)
{
    if (c->login->sasl != NULL)
        return c->login->sasl;
    int tls = conn_is_tls(c->conn);
    sasl_options opts = {0};
    opts.host = host_name(c->session->host);
    opts.tls = tls ? conn_tls(c->conn) : NULL;
    opts.allow_plain = tls || server.allow_unencrypted_plain_auth;
    unsigned char *exporter = NULL, *unique = NULL;
    size_t exporter_len = 0, unique_len = 0;
    if (tls) {
        if (tls_channel_binding(opts.tls, "tls-exporter", &exporter, &exporter_len) == 0) {
            opts.cb_exporter = exporter;
            opts.cb_exporter_len = exporter_len;
        }
        if (tls_channel_binding(opts.tls, "tls-unique", &unique, &unique_len) == 0) {
            opts.cb_unique = unique;
            opts.cb_unique_len = unique_len;
        }
    }
    c->login->sasl = sasl_server_new(&opts);
    free(exporter);
    free(unique);
    return c->login->sasl;
}

/* ---- features ---- */

static void c2s_send_features(c2s *c)
{
    mynah_session *s = c->session;
    mynah_stanza *features = stanza_new("features", NS_STREAMS);
    if (features == NULL) {
        session_close(s, "internal-server-error", NULL);
        return;
    }
    mynah_element *root = stanza_root(features);
    int tls = conn_is_tls(c->conn);

    if (s->state == SESSION_CONNECTED) {
        if (!tls && server.tls != NULL) {
            mynah_element *st = element_add_child(root, "starttls", NS_XMPP_TLS);
            if (server.c2s_require_encryption)
                element_add_child(st, "required", NULL);
        }
        /* RFC 6120 §6.4.1: no mechanisms where authentication would be
         * refused anyway. */
        if (tls || !server.c2s_require_encryption) {
            if (c2s_sasl_server(c) != NULL) {
                mynah_element *mechs = element_add_child(root, "mechanisms",
                                                         NS_XMPP_SASL);
                const char *m;
                for (size_t i = 0; (m = sasl_mechanism_at(c->login->sasl, i)); i++) {
                    mynah_element *e = element_add_child(mechs, "mechanism", NULL);
                    element_add_text(e, m, strlen(m));
                }
                const char *cb = sasl_channel_binding_at(c->login->sasl, 0);
                if (cb != NULL) {
                    /* XEP-0440: which channel bindings the server can do. */
                    mynah_element *cbs = element_add_child(
                        root, "sasl-channel-binding", "urn:xmpp:sasl-cb:0");
                    for (size_t i = 0; (cb = sasl_channel_binding_at(c->login->sasl, i)); i++) {
                        mynah_element *e = element_add_child(cbs, "channel-binding", NULL);
                        element_set_attr(e, "type", cb);
                    }
                }
            }
        }
    } else {
        element_add_child(root, "bind", NS_XMPP_BIND);
        /* RFC 6121 bis: the legacy session feature, optional. */
        mynah_element *sess = element_add_child(root, "session", NS_XMPP_SESSION);
        element_add_child(sess, "optional", NULL);
    }
    /* XEP-0478: tell the client what we will accept. */
    char limit[32];
    snprintf(limit, sizeof limit, "%zu",
             s->state == SESSION_CONNECTED ? server.c2s_preauth_stanza_size_limit
                                           : server.c2s_stanza_size_limit);
    mynah_element *limits = element_add_child(root, "limits", NS_STREAM_LIMITS);
    mynah_element *maxb = element_add_child(limits, "max-bytes", NULL);
    element_add_text(maxb, limit, strlen(limit));

    mynah_event ev = {0};
    ev.name = "stream-features";
    ev.host = s->host;
    ev.origin = s;
    ev.stanza = features;
    ev.features = root;
    hooks_fire(s->host->hooks, "stream-features", &ev);

    /* Written by hand for the stream: prefix, not a default namespace. */
    buf *out = conn_output(c->conn);
    buf_append_str(out, "<stream:features>");
    for (mynah_element *e = element_first_child(root); e; e = element_next_sibling(e))
        element_serialize(e, NS_CLIENT, out);
    buf_append_str(out, "</stream:features>");
    conn_wrote(c->conn);
    stanza_unref(features);
}

/* ---- the stream header ---- */

static int c2s_on_stream_open(void *userdata, const xml_stream_header *h)
{
    c2s *c = userdata;
    mynah_session *s = c->session;
    c->header_received = 1;
    const char *to = NULL, *version = NULL;
    for (size_t i = 0; i < h->attr_count; i++) {
        if (h->attrs[i].xmlns != NULL)
            continue;
        if (strcmp(h->attrs[i].name, "to") == 0)
            to = h->attrs[i].value;
        else if (strcmp(h->attrs[i].name, "version") == 0)
            version = h->attrs[i].value;
    }
    /* The host first, so that even an error names us correctly. */
    if (s->host == NULL && to != NULL) {
        char *name = jid_nameprep(to);
        mynah_host *host = name ? host_find(name) : NULL;
        free(name);
        if (host != NULL && !host->is_component)
            s->host = host;
    }
    /* RFC 6120 §4.9.3.10 */
    if (strcmp(h->name, "stream") != 0 || h->xmlns == NULL ||
        strcmp(h->xmlns, NS_STREAMS) != 0 || h->default_ns == NULL ||
        strcmp(h->default_ns, NS_CLIENT) != 0) {
        session_close(s, "invalid-namespace", NULL);
        return 1;
    }
    /* RFC 6120 §4.9.3.6: 'to' must be one of our hosts (and, after TLS or
     * SASL, still the same one). */
    if (s->host == NULL || to == NULL) {
        session_close(s, "host-unknown", NULL);
        return 1;
    }
    char *name = jid_nameprep(to);
    int same = name && strcmp(name, host_name(s->host)) == 0;
    free(name);
    if (!same) {
        session_close(s, "host-unknown", NULL);
        return 1;
    }
    /* RFC 6120 §4.7.5: we speak 1.0; a higher minor is fine, no version or
     * another major is not. */
    if (version == NULL || strncmp(version, "1.", 2) != 0 || version[2] == '\0') {
        session_close(s, "unsupported-version", NULL);
        return 1;
    }
    c2s_send_header(c);
    c2s_send_features(c);
    return 0;
}

static int c2s_on_stream_close(void *userdata)
{
    c2s *c = userdata;
    /* RFC 6120 §4.4: answer with our closing tag, then close. */
    session_close(c->session, NULL, NULL);
    return 1;
}

static void c2s_on_stream_error(void *userdata, const char *condition,
                                const char *text)
{
    c2s *c = userdata;
    c->failed = 1;
    session_close(c->session, condition, text);
}

/* ---- STARTTLS ---- */

static int c2s_starttls(c2s *c)
{
    if (conn_is_tls(c->conn) || server.tls == NULL ||
        c->session->state != SESSION_CONNECTED) {
        /* RFC 6120 §5.4.2.2: failure, then close the stream. */
        c2s_write_str(c, "<failure xmlns='" NS_XMPP_TLS "'/>");
        session_close(c->session, NULL, NULL);
        return 1;
    }
    c2s_write_str(c, "<proceed xmlns='" NS_XMPP_TLS "'/>");
    /* RFC 6120 §5.4.3.3: both sides start over with a new stream. */
    xml_stream_reset(c->xs);
    c->header_sent = c->header_received = 0;
    if (c->login && c->login->sasl) {
        sasl_server_free(c->login->sasl); /* its options depended on TLS */
        c->login->sasl = NULL;
    }
    conn_starttls(c->conn, server.tls);
    return 1;
}

/* ---- SASL ---- */

static void c2s_sasl_reply(c2s *c, const char *element, const char *b64)
{
    buf *out = conn_output(c->conn);
    buf_printf(out, "<%s xmlns='" NS_XMPP_SASL "'>", element);
    if (b64 != NULL)
        buf_append_str(out, b64);
    buf_printf(out, "</%s>", element);
    conn_wrote(c->conn);
}

static void c2s_send_delayed_failure(evutil_socket_t fd, short what, void *arg)
{
    c2s *c = arg;
    (void)fd; (void)what;
    if (c->login == NULL || c->login->delayed_reply == NULL)
        return;
    c2s_write_str(c, c->login->delayed_reply);
    free(c->login->delayed_reply);
    c->login->delayed_reply = NULL;
    session_resume(c->session);
}

static int c2s_sasl_failure(c2s *c, const char *condition)
{
    c2s_login *l = c->login;
    const char *peer = l->peer_key;
    double now = server_now();
    char reply[256];
    snprintf(reply, sizeof reply,
             "<failure xmlns='" NS_XMPP_SASL "'><%s/></failure>", condition);
    /* Only a wrong secret counts against the address: a broken client, a
     * client refused for a channel-binding downgrade (older clients that
     * know only tls-unique meet it on TLS 1.3) or a storage fault must not
     * get innocent neighbours delayed and blocked. */
    int wrong_secret = sasl_failure_was_secret(l->sasl);
    if (l->sasl) {
        sasl_server_free(l->sasl); /* a new <auth/> starts afresh */
        l->sasl = NULL;
    }
    if (!wrong_secret) {
        c2s_write_str(c, reply);
        if (strcmp(condition, "aborted") != 0 &&
            ++l->failures >= C2S_MAX_AUTH_FAILURES) {
            session_close(c->session, "policy-violation",
                          "Too many failed authentication attempts");
            return 1;
        }
        return 0;
    }
    auth_throttle_failure(peer, now);
    if (++l->failures >= C2S_MAX_AUTH_FAILURES) {
        c2s_write_str(c, reply);
        session_close(c->session, "policy-violation", "Too many failed authentication attempts");
        return 1;
    }
    /* Slow down a guesser: the answer (and further input) waits. */
    double delay = auth_throttle_delay(peer, now);
    if (delay > 0) {
        if (l->delay == NULL)
            l->delay = evtimer_new(server.base, c2s_send_delayed_failure, c);
        free(l->delayed_reply);
        l->delayed_reply = strdup(reply);
        if (l->delay && l->delayed_reply) {
            struct timeval tv = {(time_t)delay,
                                 (suseconds_t)((delay - (double)(time_t)delay) * 1e6)};
            session_pause(c->session);
            evtimer_add(l->delay, &tv);
            /* Not 1: that would stop the parser for good (xml_stream.h:
             * until a reset), and the client's next <auth/> would never
             * be read.  While paused, further stanzas are held in order. */
            return 0;
        }
    }
    c2s_write_str(c, reply);
    return 0;
}

static int c2s_sasl_result(c2s *c, int r, char *out, const char *condition)
{
    mynah_session *s = c->session;
    if (r == SASL_CONTINUE) {
        c2s_sasl_reply(c, "challenge", out);
        free(out);
        return 0;
    }
    if (r == SASL_FAILURE) {
        free(out);
        return c2s_sasl_failure(c, condition ? condition : "not-authorized");
    }
    /* Success: RFC 6120 §6.4.6, then a new stream (§6.4.6 / §4.3.3). */
    c2s_sasl_reply(c, "success", out && out[0] ? out : NULL);
    free(out);
    s->username = strdup(sasl_username(c->login->sasl));
    log_msg(MYNAH_LOG_INFO, session_name(s), "authenticated %s@%s (%s) from %s",
            s->username ? s->username : "?", host_name(s->host),
            sasl_mechanism(c->login->sasl), conn_peer_address(c->conn));
    auth_throttle_success(c->login->peer_key);
    sasl_server_free(c->login->sasl);
    c->login->sasl = NULL;
    if (s->username == NULL) {
        session_close(s, "internal-server-error", NULL);
        return 1;
    }
    s->state = SESSION_AUTHENTICATED;
    xml_stream_reset(c->xs);
    c2s_apply_limits(c);
    c->header_sent = c->header_received = 0;
    return 1;
}

static int c2s_sasl(c2s *c, mynah_stanza *stanza)
{
    mynah_session *s = c->session;
    const char *name = stanza_name(stanza);
    mynah_element *root = stanza_root(stanza);
    if (s->state != SESSION_CONNECTED) {
        /* RFC 6120 §6.4.7? Authenticating twice is not allowed. */
        session_close(s, "policy-violation", "Already authenticated");
        return 1;
    }
    if (strcmp(name, "abort") == 0) {
        return c2s_sasl_failure(c, "aborted");
    }
    if (strcmp(name, "auth") == 0) {
        if (!conn_is_tls(c->conn) && server.c2s_require_encryption)
            return c2s_sasl_failure(c, "encryption-required");
        if (auth_throttle_blocked(c->login->peer_key, server_now())) {
            c2s_write_str(c, "<failure xmlns='" NS_XMPP_SASL "'><temporary-auth-failure/>"
                          "<text>Too many failed attempts from your address; try later</text></failure>");
            session_close(s, "policy-violation", "Too many failed authentication attempts");
            return 1;
        }
        if (c2s_sasl_server(c) == NULL)
            return c2s_sasl_failure(c, "temporary-auth-failure");
        const char *mech = element_attr(root, "mechanism");
        char *out = NULL;
        const char *condition = NULL;
        int r = sasl_start(c->login->sasl, mech ? mech : "", element_text(root),
                           &out, &condition);
        return c2s_sasl_result(c, r, out, condition);
    }
    if (strcmp(name, "response") == 0) {
        if (c->login->sasl == NULL)
            return c2s_sasl_failure(c, "malformed-request");
        char *out = NULL;
        const char *condition = NULL;
        int r = sasl_step(c->login->sasl, element_text(root), &out, &condition);
        return c2s_sasl_result(c, r, out, condition);
    }
    session_close(s, "unsupported-stanza-type", NULL);
    return 1;
}

/* ---- binding ---- */

static void c2s_iq_error(c2s *c, mynah_stanza *iq, const char *type,
                         const char *condition)
{
    mynah_stanza *err = stanza_error_reply(iq, type, condition, NULL);
    if (err) {
        stanza_set_attr(err, "from", NULL);
        stanza_set_attr(err, "to", NULL);
        session_send(c->session, err);
    }
}

static size_t user_resource_count(const char *bare)
{
    size_t n = 0;
    for (mynah_session *s = session_first_of_user(bare); s; s = s->next_of_user)
        n++;
    return n;
}

static void c2s_bind(c2s *c, mynah_stanza *iq, mynah_element *bind)
{
    mynah_session *s = c->session;
    mynah_element *res = element_child(bind, "resource", NULL);
    char *resource = NULL;
    if (res != NULL && element_text(res)[0] != '\0') {
        resource = jid_resourceprep(element_text(res));
        if (resource == NULL) {
            /* RFC 6120 §7.7.2.1 */
            c2s_iq_error(c, iq, "modify", "bad-request");
            return;
        }
    }
    char bare[2048];
    snprintf(bare, sizeof bare, "%s@%s", s->username, host_name(s->host));
    if (user_resource_count(bare) >= C2S_MAX_RESOURCES) {
        free(resource);
        c2s_iq_error(c, iq, "wait", "resource-constraint"); /* §7.6.2.1 */
        return;
    }
    /* The account may have been deleted since SASL succeeded: mynahctl
     * deluser closes the user's bound sessions only, so check here or a
     * deleted account would still get a session. */
    if (accounts_exists(host_name(s->host), s->username) == 0) {
        free(resource);
        session_close(s, "not-authorized", "Account deleted");
        return;
    }
    int r = session_bind(s, resource, server.c2s_conflict_replace);
    free(resource);
    if (r == -2) {
        c2s_iq_error(c, iq, "cancel", "conflict"); /* §7.7.2.2 */
        return;
    }
    if (r < 0) {
        c2s_iq_error(c, iq, "modify", "bad-request");
        return;
    }
    login_free(c);
    mynah_stanza *reply = stanza_reply(iq);
    if (reply == NULL) {
        session_close(s, "internal-server-error", NULL);
        return;
    }
    stanza_set_attr(reply, "from", NULL);
    stanza_set_attr(reply, "to", NULL);
    mynah_element *b = element_add_child(stanza_root(reply), "bind", NS_XMPP_BIND);
    mynah_element *j = element_add_child(b, "jid", NULL);
    element_add_text(j, jid_full(s->jid), strlen(jid_full(s->jid)));
    session_send(s, reply);
    log_msg(MYNAH_LOG_DEBUG, session_name(s), "bound %s", jid_full(s->jid));
}

/* ---- stanzas ---- */

static int is_iq_set_with(mynah_stanza *stanza, const char *name,
                          const char *xmlns, mynah_element **payload)
{
    const char *type = stanza_attr(stanza, "type");
    if (strcmp(stanza_name(stanza), "iq") != 0 || type == NULL ||
        strcmp(type, "set") != 0)
        return 0;
    mynah_element *p = element_child(stanza_root(stanza), name, xmlns);
    if (payload)
        *payload = p;
    return p != NULL;
}

static int c2s_unbound_stanza(c2s *c, mynah_stanza *stanza)
{
    mynah_session *s = c->session;
    mynah_element *payload = NULL;
    if (s->state == SESSION_CONNECTED) {
        /* Before authentication only modules that expect it (in-band
         * registration) see stanzas; nobody else may send any
         * (RFC 6120 §4.9.3.12). */
        if (strcmp(stanza_name(stanza), "iq") == 0) {
            mynah_element *child = element_first_child(stanza_root(stanza));
            if (child != NULL) {
                char name[512];
                snprintf(name, sizeof name, "iq-unauthed/%s:%s",
                         element_xmlns(child), element_name(child));
                mynah_event ev = {0};
                ev.name = name;
                ev.host = s->host;
                ev.origin = s;
                ev.stanza = stanza;
                if (hooks_fire(s->host->hooks, name, &ev) != MYNAH_PASS)
                    return 0;
            }
        }
        session_close(s, "not-authorized", NULL);
        return 1;
    }
    if (is_iq_set_with(stanza, "bind", NS_XMPP_BIND, &payload)) {
        if (stanza_attr(stanza, "id") == NULL) {
            c2s_iq_error(c, stanza, "modify", "bad-request");
            return 0;
        }
        c2s_bind(c, stanza, payload);
        return 0;
    }
    /* RFC 6120 §7.1: stanzas only after binding. */
    session_close(s, "not-authorized", NULL);
    return 1;
}

static int c2s_hold(c2s *c, mynah_stanza *stanza)
{
    if (c->held_count == c->held_cap) {
        size_t cap = c->held_cap ? c->held_cap * 2 : 8;
        mynah_stanza **held = realloc(c->held, cap * sizeof *held);
        if (held == NULL) {
            stanza_unref(stanza);
            session_close(c->session, "internal-server-error", NULL);
            return 1;
        }
        c->held = held;
        c->held_cap = cap;
    }
    c->held[c->held_count++] = stanza;
    return 0;
}

static int c2s_on_stanza(void *userdata, mynah_stanza *stanza)
{
    c2s *c = userdata;
    if (c->session->paused || c->held_count > 0)
        return c2s_hold(c, stanza);
    return c2s_process(c, stanza);
}

static int c2s_process(c2s *c, mynah_stanza *stanza)
{
    mynah_session *s = c->session;
    const char *xmlns = stanza_xmlns(stanza);
    const char *name = stanza_name(stanza);
    int stop = 0;

    if (s->state == SESSION_CLOSING) {
        stanza_unref(stanza);
        return 1;
    }
    if (xmlns != NULL && strcmp(xmlns, NS_XMPP_TLS) == 0 &&
        strcmp(name, "starttls") == 0) {
        stop = c2s_starttls(c);
    } else if (xmlns != NULL && strcmp(xmlns, NS_XMPP_SASL) == 0) {
        stop = c2s_sasl(c, stanza);
    } else if (xmlns == NULL || strcmp(xmlns, NS_CLIENT) != 0 ||
               (strcmp(name, "message") != 0 && strcmp(name, "presence") != 0 &&
                strcmp(name, "iq") != 0)) {
        /* RFC 6120 §4.9.3.24 */
        session_close(s, "unsupported-stanza-type", NULL);
        stop = 1;
    } else if (s->state != SESSION_BOUND) {
        stop = c2s_unbound_stanza(c, stanza);
    } else if (is_iq_set_with(stanza, "session", NS_XMPP_SESSION, NULL)) {
        /* RFC 3921 §3 legacy session establishment: a no-op now. */
        mynah_stanza *reply = stanza_reply(stanza);
        if (reply) {
            stanza_set_attr(reply, "from", NULL);
            stanza_set_attr(reply, "to", NULL);
            session_send(s, reply);
        }
    } else {
        router_from_client(s, stanza); /* takes the reference */
        return s->state == SESSION_CLOSING;
    }
    stanza_unref(stanza);
    return stop || s->state == SESSION_CLOSING;
}

static const xml_stream_callbacks c2s_stream_callbacks = {
    c2s_on_stream_open, c2s_on_stanza, c2s_on_stream_close, c2s_on_stream_error,
};

/* ---- the connection ---- */

static void c2s_on_data(conn *cn, void *userdata, const char *bytes, size_t len)
{
    c2s *c = userdata;
    (void)cn;
    if (c->failed || c->session->state == SESSION_CLOSING)
        return;
    c->session->last_input = server_now();
    session_ref(c->session);
    xml_stream_feed(c->xs, bytes, len);
    session_unref(c->session);
}

static void c2s_on_closed(conn *cn, void *userdata, const char *reason)
{
    c2s *c = userdata;
    mynah_session *s = c->session;
    (void)cn;
    c->conn = NULL;
    if (s->state != SESSION_CLOSING)
        log_msg(MYNAH_LOG_DEBUG, session_name(s), "connection lost: %s", reason);
    session_connection_lost(s);
    session_unref(s); /* the connection's reference */
}

static void c2s_on_tls_done(conn *cn, void *userdata, int ok)
{
    c2s *c = userdata;
    (void)cn;
    if (ok)
        log_msg(MYNAH_LOG_DEBUG, session_name(c->session), "TLS established (%s)",
                tls_protocol_name(conn_tls(c->conn)));
}

static const conn_handler c2s_conn_handler = {
    c2s_on_data, c2s_on_closed, c2s_on_tls_done,
};

void c2s_accept(int fd, int direct_tls)
{
    c2s *c = calloc(1, sizeof *c);
    c2s_login *login = calloc(1, sizeof *login);
    mynah_session *s = NULL;
    if (c == NULL || login == NULL)
        goto fail;
    s = session_new(MYNAH_SESSION_C2S, NULL, &c2s_session_ops, c);
    if (s == NULL)
        goto fail;
    c->session = s;
    c->login = login;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        auth_throttle_address_key((struct sockaddr *)&ss, sl, login->peer_key,
                                  sizeof login->peer_key) < 0)
        strcpy(login->peer_key, "unknown");
    c->direct_tls = (uint8_t)direct_tls;
    xml_stream_limits limits = {server.c2s_preauth_stanza_size_limit,
                                server.c2s_max_depth, 64};
    c->xs = xml_stream_new(&c2s_stream_callbacks, c, &limits);
    c->conn = c->xs ? conn_new(fd, &c2s_conn_handler, c) : NULL;
    if (c->conn == NULL) {
        s->proto = NULL;
        session_close(s, NULL, NULL);
        if (c->xs)
            xml_stream_free(c->xs);
        free(c);
        free(login);
        close(fd);
        return;
    }
    session_ref(s); /* held by the connection until it is gone */
    pending_add(c);
    if (direct_tls)
        conn_starttls(c->conn, server.tls);
    return;
fail:
    free(c);
    free(login);
    close(fd);
}

/* ---- the sweep: timeouts and idle parsers ---- */

static void c2s_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    double now = server_now();
    /* Oldest first: stop at the first one still within both limits. */
    c2s *c = pending_first;
    while (c != NULL) {
        c2s *next = c->login->next;
        double age = now - c->session->created;
        if (age < server.c2s_header_timeout)
            break;
        if (!c->header_received && c->session->state == SESSION_CONNECTED &&
            age >= server.c2s_header_timeout) {
            session_close(c->session, "connection-timeout", "No stream header received in time");
        } else if (age >= server.c2s_login_timeout) {
            session_close(c->session, "connection-timeout", "Login not completed in time");
        }
        c = next;
    }
    /* Idle bound sessions give back their parser (~10 KiB each). */
    for (mynah_session *s = session_first(); s; s = s->next_all) {
        if (s->kind != MYNAH_SESSION_C2S || s->state != SESSION_BOUND)
            continue;
        c2s *cs = s->proto;
        if (cs && cs->xs && now - s->last_input >= C2S_PARSER_IDLE_SECONDS)
            xml_stream_release_idle(cs->xs);
    }
}

int c2s_init(void)
{
    sweep_event = event_new(server.base, -1, EV_PERSIST, c2s_sweep, NULL);
    if (sweep_event == NULL)
        return -1;
    struct timeval tv = {1, 0};
    return event_add(sweep_event, &tv);
}

void c2s_done(void)
{
    if (sweep_event)
        event_free(sweep_event);
    sweep_event = NULL;
}
