/*
 * The client state machine.  Login stanzas are matched by their fixed ids
 * ('bind', 'sess', 'roster', 'sync', 'reg'); the stream restarts of RFC
 * 6120 §5.4.3.3 (after <proceed/>) and §6.4.6 (after SASL <success/>) reset
 * the scanner and drop whatever followed in the same read.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml_scan.h"

#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"

enum client_state {
    S_IDLE = 0,     /* never started, or closed */
    S_CONNECTING,
    S_TLS,          /* handshake */
    S_FEATURES,     /* our header sent: theirs and <stream:features> next */
    S_PROCEED,      /* <starttls/> sent */
    S_REGISTER,
    S_AUTH,
    S_BIND,
    S_SESSION,
    S_ROSTER,
    S_SYNC,         /* <presence/> and an iq sent: the iq's answer next */
    S_PAUSED,       /* at a step (or all done): stanzas go to the mode */
    S_CLOSING,      /* </stream:stream> sent */
};

const client_events *client_handler;
unsigned client_plan;
uint64_t client_registered, client_already_registered, client_roster_errors;

static size_t source_next;

static const transport_handler client_transport_handler;
static const xml_scan_handler client_scan_handler;

static const char *const step_names[STEP_COUNT] = {
    "none", "stream", "register", "auth", "bind", "session", "roster", "presence"};

const char *client_step_name(client_step s)
{
    return s < STEP_COUNT ? step_names[s] : "?";
}

static int step_in_plan(client_step s)
{
    if (client_plan & PLAN_REGISTER)
        return s == STEP_STREAM || s == STEP_REGISTER;
    switch (s) {
    case STEP_STREAM: case STEP_AUTH: case STEP_BIND: return 1;
    case STEP_SESSION: return (client_plan & PLAN_SESSION) != 0;
    case STEP_ROSTER: return (client_plan & PLAN_ROSTER) != 0;
    case STEP_PRESENCE: return (client_plan & PLAN_PRESENCE) != 0;
    default: return 0;
    }
}

client_step client_next_step(client_step s)
{
    for (int n = (int)s + 1; n < STEP_COUNT; n++)
        if (step_in_plan((client_step)n))
            return (client_step)n;
    return STEP_NONE;
}

client_step client_final_step(void)
{
    client_step last = STEP_NONE;
    for (int n = 1; n < STEP_COUNT; n++)
        if (step_in_plan((client_step)n))
            last = (client_step)n;
    return last;
}

void client_setup(client *c, uint32_t index, uint64_t account)
{
    memset(c, 0, sizeof *c);
    transport_setup(&c->t, &client_transport_handler, c);
    c->index = index;
    c->account = account;
}

static void forget_login(client *c)
{
    sasl_client_free(c->sasl);
    c->sasl = NULL;
}

void client_cleanup(client *c)
{
    client_abort(c);
    free(c->jid);
    free(c->send_prefix);
    c->jid = c->send_prefix = NULL;
}

void client_username(const client *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s%llu", opt.user_prefix, (unsigned long long)c->account);
}

int client_is_ready(const client *c)
{
    return c->state == S_PAUSED && c->step == client_final_step();
}

void client_send(client *c, const char *data, size_t len)
{
    transport_write(&c->t, data, len);
}

static void client_send_str(client *c, const char *s)
{
    transport_write(&c->t, s, strlen(s));
}

static void client_fail(client *c, const char *reason)
{
    transport_close(&c->t);
    forget_login(c);
    c->state = S_IDLE;
    client_handler->on_failed(c, reason);
}

void client_abort(client *c)
{
    transport_close(&c->t);
    forget_login(c);
    c->state = S_IDLE;
}

void client_end_stream(client *c)
{
    if (!transport_is_open(&c->t))
        return;
    client_send_str(c, "</stream:stream>");
    c->state = S_CLOSING;
}

/* ---- steps ---- */

static void send_header(client *c)
{
    char header[512];
    int n = snprintf(header, sizeof header,
                     "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                     "xmlns:stream='http://etherx.jabber.org/streams' to='%s' "
                     "version='1.0'>", opt.domain);
    transport_write(&c->t, header, (size_t)n);
    c->depth = 0;
    c->state = S_FEATURES;
}

static void send_register(client *c)
{
    char user[256], iq[1024];
    client_username(c, user, sizeof user);
    int n = snprintf(iq, sizeof iq,
                     "<iq type='set' id='reg'><query xmlns='jabber:iq:register'>"
                     "<username>%s</username><password>%s</password></query></iq>",
                     user, opt.password);
    transport_write(&c->t, iq, (size_t)n);
    c->state = S_REGISTER;
}

static void send_auth(client *c)
{
    char user[256];
    client_username(c, user, sizeof user);
    forget_login(c);
    c->sasl = sasl_client_new(opt.auth, user, opt.password);
    char *initial = c->sasl ? sasl_client_first(c->sasl) : NULL;
    if (initial == NULL) {
        client_fail(c, "SASL: out of memory");
        return;
    }
    char head[160];
    int n = snprintf(head, sizeof head, "<auth xmlns='" NS_SASL "' mechanism='%s'>",
                     sasl_client_mechanism(opt.auth));
    transport_write(&c->t, head, (size_t)n);
    client_send_str(c, initial);
    client_send_str(c, "</auth>");
    free(initial);
    c->state = S_AUTH;
}

static void send_bind(client *c)
{
    char iq[512];
    int n = snprintf(iq, sizeof iq,
                     "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                     "<resource>%s</resource></bind></iq>", opt.resource);
    transport_write(&c->t, iq, (size_t)n);
    c->state = S_BIND;
}

static void advance(client *c);

static void step_done(client *c, client_step s)
{
    c->step = (uint8_t)s;
    c->state = S_PAUSED;
    uint32_t generation = c->t.generation;
    client_handler->on_step(c, s);
    if (generation != c->t.generation || !transport_is_open(&c->t))
        return; /* the mode closed it */
    if (c->state == S_PAUSED && c->step < c->goal)
        advance(c);
}

static void advance(client *c)
{
    switch (client_next_step((client_step)c->step)) {
    case STEP_NONE:
    case STEP_COUNT:
        c->state = S_PAUSED;
        return;
    case STEP_STREAM: /* client_start does it */
        return;
    case STEP_REGISTER:
        send_register(c);
        return;
    case STEP_AUTH:
        send_auth(c);
        return;
    case STEP_BIND:
        send_bind(c);
        return;
    case STEP_SESSION:
        client_send_str(c, "<iq type='set' id='sess'>"
                        "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
        c->state = S_SESSION;
        return;
    case STEP_ROSTER:
        client_send_str(c, "<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
        c->state = S_ROSTER;
        return;
    case STEP_PRESENCE: {
        /* The answer to an iq sent after the presence tells that the
         * server has processed the presence too. */
        char sync[256];
        int n = snprintf(sync, sizeof sync,
                         "<presence/><iq type='get' id='sync' to='%s'>"
                         "<ping xmlns='urn:xmpp:ping'/></iq>", opt.domain);
        transport_write(&c->t, sync, (size_t)n);
        c->state = S_SYNC;
        return;
    }
    }
}

void client_start(client *c, client_step goal)
{
    client_abort(c);
    c->goal = (uint8_t)goal;
    c->step = STEP_NONE;
    c->tls_done = c->authed = 0;
    c->depth = 0;
    c->in_flight = 0;
    c->started_ns = now_ns();
    const bench_address *source = NULL;
    if (opt.source_count > 0)
        source = &opt.sources[source_next++ % opt.source_count];
    if (transport_connect(&c->t, source) < 0) {
        client_fail(c, strerror(errno));
        return;
    }
    c->state = S_CONNECTING;
}

void client_continue(client *c, client_step goal)
{
    c->goal = (uint8_t)goal;
    if (c->state == S_PAUSED && c->step < goal && transport_is_open(&c->t))
        advance(c);
}

/* ---- transport events ---- */

static void on_connected(void *ud)
{
    client *c = ud;
    if (opt.tls == TLS_DIRECT) {
        c->state = S_TLS;
        if (transport_start_tls(&c->t, opt.domain) < 0)
            client_fail(c, "TLS: cannot create a session");
        return;
    }
    send_header(c);
}

static void on_tls_done(void *ud)
{
    client *c = ud;
    c->tls_done = 1;
    send_header(c);
}

static size_t on_data(void *ud, const char *data, size_t len)
{
    client *c = ud;
    return xml_scan(&c->depth, data, len, &client_scan_handler, c);
}

static void on_transport_closed(void *ud, const char *reason)
{
    client *c = ud;
    if (c->state == S_CLOSING) {
        forget_login(c);
        c->state = S_IDLE;
        client_handler->on_ended(c);
        return;
    }
    client_fail(c, reason);
}

static const transport_handler client_transport_handler = {
    on_connected, on_data, on_tls_done, on_transport_closed,
};

/* ---- stanzas during login ---- */

static int element_text(const char *el, size_t len, const char **text,
                        size_t *text_len)
{
    const char *gt = memchr(el, '>', len);
    if (gt == NULL || gt[-1] == '/') {
        *text = el;
        *text_len = 0;
        return 0;
    }
    const char *lt = memchr(gt + 1, '<', (size_t)(el + len - gt - 1));
    if (lt == NULL)
        return 0;
    *text = gt + 1;
    *text_len = (size_t)(lt - gt - 1);
    return 1;
}

static int has_id(const char *el, size_t len, const char *id)
{
    const char *v;
    size_t vl;
    return xml_attr(el, len, "id", &v, &vl) && vl == strlen(id) &&
           memcmp(v, id, vl) == 0;
}

static int is_type(const char *el, size_t len, const char *type)
{
    const char *v;
    size_t vl;
    return xml_attr(el, len, "type", &v, &vl) && vl == strlen(type) &&
           memcmp(v, type, vl) == 0;
}

/* A short excerpt of what the server said, for failure reasons. */
static void fail_with(client *c, const char *what, const char *el, size_t len)
{
    char reason[200];
    snprintf(reason, sizeof reason, "%s: %.*s", what, (int)(len > 120 ? 120 : len), el);
    client_fail(c, reason);
}

static void on_features(client *c, const char *el, size_t len)
{
    if (!xml_is(el, len, "stream:features")) {
        fail_with(c, "expected stream features", el, len);
        return;
    }
    if (c->authed) {
        step_done(c, STEP_AUTH);
        return;
    }
    if (opt.tls == TLS_STARTTLS && !c->tls_done) {
        if (xml_find(el, len, "<starttls") == NULL) {
            fail_with(c, "STARTTLS not offered", el, len);
            return;
        }
        client_send_str(c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        c->state = S_PROCEED;
        return;
    }
    step_done(c, STEP_STREAM);
}

static void on_sasl(client *c, const char *el, size_t len)
{
    const char *text;
    size_t text_len;
    if (xml_is(el, len, "challenge")) {
        element_text(el, len, &text, &text_len);
        char *response = sasl_client_step(c->sasl, text, text_len);
        if (response == NULL) {
            fail_with(c, "SASL: bad challenge", el, len);
            return;
        }
        client_send_str(c, "<response xmlns='" NS_SASL "'>");
        client_send_str(c, response);
        client_send_str(c, "</response>");
        free(response);
        return;
    }
    if (xml_is(el, len, "success")) {
        element_text(el, len, &text, &text_len);
        if (!sasl_client_verify(c->sasl, text, text_len)) {
            fail_with(c, "SASL: the server's signature is wrong", el, len);
            return;
        }
        forget_login(c);
        c->authed = 1;
        send_header(c); /* RFC 6120 §6.4.6: a new stream */
        return;
    }
    fail_with(c, "SASL failed", el, len);
}

static void on_iq_answer(client *c, const char *el, size_t len)
{
    if (!xml_is(el, len, "iq"))
        return; /* e.g. our own presence coming back */
    int error = is_type(el, len, "error");
    switch (c->state) {
    case S_REGISTER:
        if (!has_id(el, len, "reg"))
            return;
        if (!error)
            client_registered++;
        else if (xml_find(el, len, "<conflict") != NULL)
            client_already_registered++;
        else {
            fail_with(c, "registration refused", el, len);
            return;
        }
        step_done(c, STEP_REGISTER);
        return;
    case S_BIND: {
        if (!has_id(el, len, "bind"))
            return;
        const char *jid;
        size_t jid_len;
        if (error || !xml_child_text(el, len, "jid", &jid, &jid_len)) {
            fail_with(c, "bind failed", el, len);
            return;
        }
        free(c->jid);
        c->jid = strndup(jid, jid_len);
        step_done(c, STEP_BIND);
        return;
    }
    case S_SESSION:
        if (!has_id(el, len, "sess"))
            return;
        if (error) {
            fail_with(c, "session failed", el, len);
            return;
        }
        step_done(c, STEP_SESSION);
        return;
    case S_ROSTER:
        if (!has_id(el, len, "roster"))
            return;
        if (error)
            client_roster_errors++;
        step_done(c, STEP_ROSTER);
        return;
    case S_SYNC:
        if (!has_id(el, len, "sync"))
            return;
        step_done(c, STEP_PRESENCE);
        return;
    default:
        return;
    }
}

/* ---- the scanner's callbacks: non-zero stops the scan ---- */

static int on_stream_open(void *ud, const char *tag, size_t len)
{
    (void)ud; (void)tag; (void)len;
    return 0;
}

static int on_element(void *ud, const char *el, size_t len)
{
    client *c = ud;
    uint32_t generation = c->t.generation;
    if (xml_is(el, len, "stream:error")) {
        fail_with(c, "stream error", el, len);
        return 1;
    }
    switch (c->state) {
    case S_FEATURES:
        on_features(c, el, len);
        break;
    case S_PROCEED:
        if (!xml_is(el, len, "proceed")) {
            fail_with(c, "STARTTLS refused", el, len);
            return 1;
        }
        c->state = S_TLS;
        c->depth = 0;
        if (transport_start_tls(&c->t, opt.domain) < 0)
            client_fail(c, "TLS: cannot create a session");
        return 1;
    case S_AUTH: {
        on_sasl(c, el, len);
        if (c->authed)
            return 1; /* the old stream's remains are dropped */
        break;
    }
    case S_REGISTER: case S_BIND: case S_SESSION: case S_ROSTER: case S_SYNC:
        on_iq_answer(c, el, len);
        break;
    case S_PAUSED:
        client_handler->on_element(c, el, len);
        break;
    default:
        break;
    }
    return generation != c->t.generation || !transport_is_open(&c->t);
}

static int on_stream_close(void *ud)
{
    client *c = ud;
    if (c->state == S_CLOSING) {
        transport_close(&c->t);
        forget_login(c);
        c->state = S_IDLE;
        client_handler->on_ended(c);
    } else {
        client_fail(c, "the server closed the stream");
    }
    return 1;
}

static const xml_scan_handler client_scan_handler = {
    on_stream_open, on_element, on_stream_close,
};
