/*
 * SASL server against a real GNU SASL client, in-process: SCRAM-SHA-1,
 * SCRAM-SHA-256, their -PLUS forms with channel binding, PLAIN, and the
 * RFC 6120 §6.5 condition for each way an exchange can go wrong.
 * Credentials live in the memory storage driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>

#include "accounts.h"
#include "module_loader.h"
#include "sasl.h"
#include "storage.h"
#include "tap.h"

#define HOST "example.org"

/* Stands for "the stream is encrypted": sasl.c only tests it for NULL. */
static int fake_tls_object;
#define FAKE_TLS ((tls_session *)(void *)&fake_tls_object)

static const unsigned char exporter[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char other_exporter[32] = "fedcba9876543210fedcba9876543210";
static const unsigned char unique[12] = "tls-unique!!";

/* ---- the client side ---- */

typedef struct client_config {
    const char *authid;
    const char *password;
    const char *authzid;
    const unsigned char *cb_exporter; size_t cb_exporter_len;
    const unsigned char *cb_unique; size_t cb_unique_len;
} client_config;

static Gsasl *client_context;

static int set_b64(Gsasl_session *s, Gsasl_property p, const unsigned char *d,
                   size_t len)
{
    char *b64 = NULL;
    gsasl_base64_to((const char *)d, len, &b64, NULL);
    int rc = gsasl_property_set(s, p, b64);
    gsasl_free(b64);
    return rc;
}

static int client_callback(Gsasl *ctx, Gsasl_session *s, Gsasl_property prop)
{
    const client_config *c = gsasl_session_hook_get(s);
    switch (prop) {
    case GSASL_AUTHID:
        return gsasl_property_set(s, prop, c->authid);
    case GSASL_PASSWORD:
        return gsasl_property_set(s, prop, c->password);
    case GSASL_AUTHZID:
        return c->authzid ? gsasl_property_set(s, prop, c->authzid)
                          : GSASL_NO_CALLBACK;
    case GSASL_CB_TLS_EXPORTER:
        return c->cb_exporter ? set_b64(s, prop, c->cb_exporter, c->cb_exporter_len)
                              : GSASL_NO_CALLBACK;
    case GSASL_CB_TLS_UNIQUE:
        return c->cb_unique ? set_b64(s, prop, c->cb_unique, c->cb_unique_len)
                            : GSASL_NO_CALLBACK;
    default:
        return GSASL_NO_CALLBACK;
    }
}

/* What an exchange came to. */
typedef struct outcome {
    int result;              /* SASL_SUCCESS or SASL_FAILURE */
    const char *condition;
    int server_verified;     /* the client accepted the server's signature */
    int rounds;              /* client messages the server saw */
    char first_challenge[512]; /* decoded, SCRAM's server-first-message */
} outcome;

/*
 * Runs a whole exchange.  initial: send the first client message in
 * <auth/> (else start empty and send it in the first <response/>).
 */
static outcome run(sasl_server *s, const char *mech, const client_config *c,
                   int initial)
{
    outcome o = {SASL_FAILURE, NULL, 0, 0, ""};
    Gsasl_session *cs = NULL;
    if (gsasl_client_start(client_context, mech, &cs) != GSASL_OK) {
        o.condition = "client cannot start";
        return o;
    }
    gsasl_session_hook_set(cs, (void *)c);

    char *to_server = NULL, *to_client = NULL;
    const char *condition = NULL;
    int r;
    gsasl_step64(cs, "", &to_server);
    if (initial) {
        r = sasl_start(s, mech, to_server, &to_client, &condition);
        o.rounds++;
    } else {
        r = sasl_start(s, mech, NULL, &to_client, &condition);
        if (r == SASL_CONTINUE && to_client == NULL) {
            r = sasl_step(s, to_server, &to_client, &condition);
            o.rounds++;
        } else {
            r = SASL_FAILURE;
            condition = "no empty challenge";
        }
    }
    gsasl_free(to_server);
    while (r == SASL_CONTINUE) {
        if (o.rounds == 1 && to_client != NULL) {
            char *raw = NULL;
            size_t len = 0;
            gsasl_base64_from(to_client, strlen(to_client), &raw, &len);
            snprintf(o.first_challenge, sizeof o.first_challenge, "%.*s",
                     (int)len, raw ? raw : "");
            gsasl_free(raw);
        }
        to_server = NULL;
        int crc = gsasl_step64(cs, to_client ? to_client : "", &to_server);
        free(to_client);
        to_client = NULL;
        if (crc != GSASL_OK && crc != GSASL_NEEDS_MORE) {
            gsasl_free(to_server);
            o.condition = "client gave up";
            gsasl_finish(cs);
            return o;
        }
        r = sasl_step(s, to_server, &to_client, &condition);
        o.rounds++;
        gsasl_free(to_server);
    }
    o.result = r;
    o.condition = condition;
    if (r == SASL_SUCCESS) {
        to_server = NULL;
        o.server_verified =
            gsasl_step64(cs, to_client ? to_client : "", &to_server) == GSASL_OK;
        gsasl_free(to_server);
    }
    free(to_client);
    gsasl_finish(cs);
    return o;
}

static sasl_server *server(tls_session *tls, int allow_plain,
                           const unsigned char *cb_exporter,
                           const unsigned char *cb_unique)
{
    sasl_options opt = {0};
    opt.host = HOST;
    opt.tls = tls;
    opt.allow_plain = allow_plain;
    opt.cb_exporter = cb_exporter;
    opt.cb_exporter_len = cb_exporter ? sizeof exporter : 0;
    opt.cb_unique = cb_unique;
    opt.cb_unique_len = cb_unique ? sizeof unique : 0;
    return sasl_server_new(&opt);
}

/* Sends one hand-written message (raw, base64-encoded here). */
static int start_raw(sasl_server *s, const char *mech, const char *raw,
                     size_t len, const char **condition)
{
    char *b64 = NULL, *out = NULL;
    gsasl_base64_to(raw, len, &b64, NULL);
    int r = sasl_start(s, mech, b64, &out, condition);
    gsasl_free(b64);
    free(out);
    return r;
}

static void mechanisms_are(sasl_server *s, const char *want, const char *what)
{
    char got[256] = "";
    for (size_t i = 0; sasl_mechanism_at(s, i) != NULL; i++) {
        if (i > 0)
            strcat(got, " ");
        strcat(got, sasl_mechanism_at(s, i));
    }
    is_str(got, want, what);
}

/* ---- tests ---- */

static void test_mechanisms_offered(void)
{
    sasl_server *s = server(NULL, 0, NULL, NULL);
    mechanisms_are(s, "SCRAM-SHA-256 SCRAM-SHA-1",
                   "plain stream: SCRAM only, no -PLUS, no PLAIN");
    ok(sasl_channel_binding_at(s, 0) == NULL, "no channel binding types");
    ok(sasl_mechanism(s) == NULL && sasl_username(s) == NULL,
       "no mechanism nor user before an exchange");
    sasl_server_free(s);

    s = server(NULL, 0, exporter, NULL);
    mechanisms_are(s, "SCRAM-SHA-256 SCRAM-SHA-1",
                   "binding data without TLS is ignored");
    sasl_server_free(s);

    s = server(FAKE_TLS, 1, exporter, NULL);
    mechanisms_are(s, "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN",
                   "TLS 1.3 with tls-exporter: -PLUS first, PLAIN last");
    is_str(sasl_channel_binding_at(s, 0), "tls-exporter", "XEP-0440: tls-exporter");
    ok(sasl_channel_binding_at(s, 1) == NULL, "and only that");
    sasl_server_free(s);

    s = server(FAKE_TLS, 1, exporter, unique);
    is_str(sasl_channel_binding_at(s, 1), "tls-unique", "TLS 1.2: tls-unique too");
    sasl_server_free(s);

    s = server(FAKE_TLS, 0, NULL, NULL);
    mechanisms_are(s, "SCRAM-SHA-256 SCRAM-SHA-1",
                   "TLS without binding data: no -PLUS");
    sasl_server_free(s);
}

static void test_scram(void)
{
    client_config c = {"alice", "pencil", NULL, NULL, 0, NULL, 0};
    const char *mechs[] = {"SCRAM-SHA-1", "SCRAM-SHA-256"};
    for (int i = 0; i < 2; i++) {
        char what[128];
        sasl_server *s = server(NULL, 0, NULL, NULL);
        outcome o = run(s, mechs[i], &c, 1);
        snprintf(what, sizeof what, "%s: success", mechs[i]);
        is_int(o.result, SASL_SUCCESS, what);
        snprintf(what, sizeof what, "%s: the client verified the server signature",
                 mechs[i]);
        ok(o.server_verified, what);
        snprintf(what, sizeof what, "%s: the user name", mechs[i]);
        is_str(sasl_username(s), "alice", what);
        is_str(sasl_mechanism(s), mechs[i], "sasl_mechanism names it");
        sasl_server_free(s);
    }

    sasl_server *s = server(NULL, 0, NULL, NULL);
    client_config upper = {"Alice", "pencil", NULL, NULL, 0, NULL, 0};
    outcome o = run(s, "SCRAM-SHA-256", &upper, 1);
    is_int(o.result, SASL_SUCCESS, "the user name is nodeprepped (Alice)");
    is_str(sasl_username(s), "alice", "and reported prepared");

    o = run(s, "SCRAM-SHA-256", &c, 0);
    is_int(o.result, SASL_SUCCESS, "without an initial response: empty challenge first");

    client_config wrong = {"alice", "pen", NULL, NULL, 0, NULL, 0};
    o = run(s, "SCRAM-SHA-1", &wrong, 1);
    is_int(o.result, SASL_FAILURE, "wrong password fails");
    is_str(o.condition, "not-authorized", "with not-authorized");
    ok(sasl_username(s) == NULL, "and no user name");
    sasl_server_free(s);
}

static void test_unknown_user_looks_like_wrong_password(void)
{
    sasl_server *s = server(NULL, 0, NULL, NULL);
    client_config known = {"alice", "wrong", NULL, NULL, 0, NULL, 0};
    client_config unknown = {"zed", "wrong", NULL, NULL, 0, NULL, 0};

    outcome k = run(s, "SCRAM-SHA-256", &known, 1);
    outcome u1 = run(s, "SCRAM-SHA-256", &unknown, 1);
    outcome u2 = run(s, "SCRAM-SHA-256", &unknown, 1);
    is_str(u1.condition, "not-authorized", "unknown user: not-authorized");
    is_int(u1.rounds, k.rounds, "after as many messages as a wrong password");

    /* server-first-message: r=<nonce>,s=<salt>,i=<count> */
    const char *ks = strstr(k.first_challenge, ",s=");
    const char *u1s = strstr(u1.first_challenge, ",s=");
    const char *u2s = strstr(u2.first_challenge, ",s=");
    ok(ks && u1s && u2s, "both got a salt and an iteration count");
    if (ks && u1s && u2s) {
        is_str(u1s, u2s, "the unknown user's salt and count are stable");
        is_int(strlen(u1s), strlen(ks), "and shaped like a real user's");
        is_str(strstr(u1s, ",i="), strstr(ks, ",i="), "with the same count");
    }

    client_config other = {"yves", "wrong", NULL, NULL, 0, NULL, 0};
    outcome v = run(s, "SCRAM-SHA-256", &other, 1);
    const char *vs = strstr(v.first_challenge, ",s=");
    ok(vs && u1s && strcmp(vs, u1s) != 0, "two unknown users get different salts");

    client_config bad_name = {"a b", "wrong", NULL, NULL, 0, NULL, 0};
    outcome b = run(s, "SCRAM-SHA-256", &bad_name, 1);
    is_str(b.condition, "not-authorized",
           "a name nodeprep refuses fails the same way");
    sasl_server_free(s);
}

static void test_plain(void)
{
    client_config c = {"alice", "pencil", NULL, NULL, 0, NULL, 0};
    sasl_server *s = server(FAKE_TLS, 1, NULL, NULL);
    outcome o = run(s, "PLAIN", &c, 1);
    is_int(o.result, SASL_SUCCESS, "PLAIN over TLS");
    is_str(sasl_username(s), "alice", "PLAIN: the user name");

    o = run(s, "PLAIN", &c, 0);
    is_int(o.result, SASL_SUCCESS, "PLAIN after an empty challenge");

    client_config wrong = {"alice", "crayon", NULL, NULL, 0, NULL, 0};
    o = run(s, "PLAIN", &wrong, 1);
    is_str(o.condition, "not-authorized", "PLAIN, wrong password: not-authorized");
    client_config unknown = {"zed", "crayon", NULL, NULL, 0, NULL, 0};
    o = run(s, "PLAIN", &unknown, 1);
    is_str(o.condition, "not-authorized", "PLAIN, unknown user: not-authorized");

    client_config as_self = {"alice", "pencil", "alice@example.org", NULL, 0, NULL, 0};
    o = run(s, "PLAIN", &as_self, 1);
    is_int(o.result, SASL_SUCCESS, "PLAIN with authzid = own bare JID");
    client_config as_bob = {"alice", "pencil", "bob@example.org", NULL, 0, NULL, 0};
    o = run(s, "PLAIN", &as_bob, 1);
    is_str(o.condition, "invalid-authzid", "PLAIN acting for someone else: invalid-authzid");
    client_config wrong_as_bob = {"alice", "nope", "bob@example.org", NULL, 0, NULL, 0};
    o = run(s, "PLAIN", &wrong_as_bob, 1);
    is_str(o.condition, "not-authorized",
           "with a wrong password it is not-authorized (reveals nothing)");
    sasl_server_free(s);

    s = server(NULL, 0, NULL, NULL);
    o = run(s, "PLAIN", &c, 1);
    is_str(o.condition, "encryption-required",
           "PLAIN on a plain stream: encryption-required (RFC 6120 §6.5.4)");
    sasl_server_free(s);

    s = server(FAKE_TLS, 0, NULL, NULL);
    o = run(s, "PLAIN", &c, 1);
    is_str(o.condition, "invalid-mechanism", "PLAIN not allowed over TLS: invalid-mechanism");
    sasl_server_free(s);

    s = server(NULL, 1, NULL, NULL);
    o = run(s, "PLAIN", &c, 1);
    is_int(o.result, SASL_SUCCESS, "PLAIN on a plain stream when allowed");
    sasl_server_free(s);
}

static void test_scram_authzid(void)
{
    sasl_server *s = server(NULL, 0, NULL, NULL);
    client_config as_self = {"alice", "pencil", "alice@example.org", NULL, 0, NULL, 0};
    outcome o = run(s, "SCRAM-SHA-256", &as_self, 1);
    is_int(o.result, SASL_SUCCESS, "SCRAM with authzid = own bare JID");
    client_config as_bob = {"alice", "pencil", "bob@example.org", NULL, 0, NULL, 0};
    o = run(s, "SCRAM-SHA-256", &as_bob, 1);
    is_str(o.condition, "invalid-authzid", "SCRAM acting for someone else: invalid-authzid");
    ok(sasl_username(s) == NULL, "and no user name");
    sasl_server_free(s);
}

static void test_channel_binding(void)
{
    client_config c = {"alice", "pencil", NULL, exporter, sizeof exporter, NULL, 0};
    sasl_server *s = server(FAKE_TLS, 0, exporter, NULL);
    outcome o = run(s, "SCRAM-SHA-256-PLUS", &c, 1);
    is_int(o.result, SASL_SUCCESS, "SCRAM-SHA-256-PLUS with tls-exporter");
    ok(o.server_verified, "the client verified the server");
    o = run(s, "SCRAM-SHA-1-PLUS", &c, 1);
    is_int(o.result, SASL_SUCCESS, "SCRAM-SHA-1-PLUS with tls-exporter");

    client_config mitm = {"alice", "pencil", NULL, other_exporter, sizeof other_exporter,
                          NULL, 0};
    o = run(s, "SCRAM-SHA-256-PLUS", &mitm, 1);
    is_str(o.condition, "not-authorized",
           "p=tls-exporter with other binding data (a TLS MITM): not-authorized");

    const char *cond = NULL;
    const char m1[] = "p=tls-unique,,n=alice,r=abcdefghijklmnop";
    start_raw(s, "SCRAM-SHA-256-PLUS", m1, sizeof m1 - 1, &cond);
    is_str(cond, "malformed-request",
           "asking tls-unique where only tls-exporter exists: malformed-request");
    const char m2[] = "n,,n=alice,r=abcdefghijklmnop";
    start_raw(s, "SCRAM-SHA-256-PLUS", m2, sizeof m2 - 1, &cond);
    is_str(cond, "malformed-request", "-PLUS without binding (flag n): malformed-request");
    const char m3[] = "p=tls-exporter,,n=alice,r=abcdefghijklmnop";
    start_raw(s, "SCRAM-SHA-256", m3, sizeof m3 - 1, &cond);
    is_str(cond, "malformed-request", "binding with a non-PLUS mechanism: malformed-request");

    /* "y": the client could bind but believes we cannot.  (GNU SASL 2.2's
     * own client cannot send it with tls-exporter data, so by hand.) */
    const char m4[] = "y,,n=alice,r=abcdefghijklmnop";
    start_raw(s, "SCRAM-SHA-256", m4, sizeof m4 - 1, &cond);
    is_str(cond, "not-authorized",
           "flag y while -PLUS was offered (RFC 5802 §6 downgrade): not-authorized");
    client_config plain_client = {"alice", "pencil", NULL, NULL, 0, NULL, 0};
    o = run(s, "SCRAM-SHA-256", &plain_client, 1);
    is_int(o.result, SASL_SUCCESS, "a client without binding may use SCRAM-SHA-256 (flag n)");
    sasl_server_free(s);

    s = server(NULL, 0, NULL, NULL);
    is_int(start_raw(s, "SCRAM-SHA-256", m4, sizeof m4 - 1, &cond), SASL_CONTINUE,
           "flag y on a stream without -PLUS is fine");
    o = run(s, "SCRAM-SHA-256-PLUS", &c, 1);
    is_str(o.condition, "invalid-mechanism", "-PLUS without TLS: invalid-mechanism");
    sasl_server_free(s);

    client_config u = {"alice", "pencil", NULL, NULL, 0, unique, sizeof unique};
    s = server(FAKE_TLS, 0, NULL, unique);
    o = run(s, "SCRAM-SHA-1-PLUS", &u, 1);
    is_int(o.result, SASL_SUCCESS, "SCRAM-SHA-1-PLUS with tls-unique (TLS 1.2)");
    sasl_server_free(s);

    /* Both types: the client's choice decides. */
    s = server(FAKE_TLS, 0, exporter, unique);
    o = run(s, "SCRAM-SHA-256-PLUS", &u, 1);
    is_int(o.result, SASL_SUCCESS, "a client asking tls-unique gets tls-unique");
    o = run(s, "SCRAM-SHA-256-PLUS", &c, 1);
    is_int(o.result, SASL_SUCCESS, "a client asking tls-exporter gets tls-exporter");
    sasl_server_free(s);
}

static void test_bad_input(void)
{
    sasl_server *s = server(FAKE_TLS, 1, NULL, NULL);
    char *out = NULL;
    const char *cond = NULL;

    is_int(sasl_start(s, "DIGEST-MD5", NULL, &out, &cond), SASL_FAILURE,
           "a mechanism we do not offer fails");
    is_str(cond, "invalid-mechanism", "with invalid-mechanism");
    sasl_start(s, "X-NO-SUCH", "AAAA", &out, &cond);
    is_str(cond, "invalid-mechanism", "an unknown name too");
    sasl_start(s, "scram-sha-1", NULL, &out, &cond);
    is_str(cond, "invalid-mechanism", "names are case-sensitive (RFC 4422 §3.1)");
    sasl_start(s, NULL, NULL, &out, &cond);
    is_str(cond, "invalid-mechanism", "no mechanism attribute");

    sasl_start(s, "PLAIN", "!!!!", &out, &cond);
    is_str(cond, "incorrect-encoding", "bad base64: incorrect-encoding");
    sasl_start(s, "PLAIN", "AGFsaWNlAHBlbmNpbA", &out, &cond);
    is_str(cond, "incorrect-encoding", "base64 without its padding: incorrect-encoding");
    sasl_start(s, "PLAIN", "AGFs aWNl", &out, &cond);
    is_str(cond, "incorrect-encoding", "whitespace inside: incorrect-encoding");
    sasl_start(s, "PLAIN", "AGFsaWNlAHBlbmNpbA=A", &out, &cond);
    is_str(cond, "incorrect-encoding", "padding in the middle: incorrect-encoding");
    is_int(sasl_start(s, "PLAIN", "AGFsaWNlAHBlbmNpbA==", &out, &cond), SASL_SUCCESS,
           "the same, well encoded, succeeds");
    free(out);
    out = NULL;

    sasl_start(s, "PLAIN", "=", &out, &cond);
    is_str(cond, "malformed-request",
           "a zero-length initial response ('=') is no PLAIN message");
    const char no_nul[] = "alice pencil";
    start_raw(s, "PLAIN", no_nul, sizeof no_nul - 1, &cond);
    is_str(cond, "malformed-request", "PLAIN without NULs: malformed-request");
    const char junk[] = "hello";
    start_raw(s, "SCRAM-SHA-1", junk, sizeof junk - 1, &cond);
    is_str(cond, "malformed-request", "SCRAM junk: malformed-request");
    const char mext[] = "n,,m=x,n=alice,r=abcdefghijklmnop";
    start_raw(s, "SCRAM-SHA-1", mext, sizeof mext - 1, &cond);
    is_str(cond, "malformed-request", "SCRAM with the reserved m= extension: malformed-request");

    /* A good client-first-message, then a bad client-final-message. */
    const char first[] = "n,,n=alice,r=abcdefghijklmnop";
    is_int(start_raw(s, "SCRAM-SHA-1", first, sizeof first - 1, &cond), SASL_CONTINUE,
           "a hand-written client-first-message gets a challenge");
    char *b64 = NULL;
    gsasl_base64_to("c=biws,r=nope", 13, &b64, NULL);
    is_int(sasl_step(s, b64, &out, &cond), SASL_FAILURE, "a broken final message fails");
    is_str(cond, "malformed-request", "with malformed-request");
    gsasl_free(b64);
    is_int(sasl_step(s, "AAAA", &out, &cond), SASL_FAILURE,
           "a response after the exchange ended fails");
    is_str(cond, "malformed-request", "with malformed-request");

    start_raw(s, "SCRAM-SHA-1", first, sizeof first - 1, &cond);
    is_int(sasl_step(s, "", &out, &cond), SASL_FAILURE, "an empty response where SCRAM needs one");
    is_str(cond, "malformed-request", "is malformed-request");

    char big[12001];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sasl_start(s, "PLAIN", big, &out, &cond);
    is_str(cond, "malformed-request", "an oversized message: malformed-request");

    client_config c = {"alice", "pencil", NULL, NULL, 0, NULL, 0};
    outcome o = run(s, "SCRAM-SHA-1", &c, 1);
    is_int(o.result, SASL_SUCCESS, "after all that, a new exchange on the same stream works");
    sasl_server_free(s);
}

static void on_set(int status, void *ud)
{
    *(int *)ud = status;
}

static void test_storage_trouble(void)
{
    int status = -2;
    mynah_store *store = storage_open_host(HOST, "accounts", MYNAH_STORE_KEYVAL);
    const char damaged[] = "iterations=4096\nsha1.salt=AAAA\n";
    store_keyval_set(store, "broken", damaged, sizeof damaged - 1, on_set, &status);
    storage_close(store);

    sasl_server *s = server(FAKE_TLS, 1, NULL, NULL);
    client_config c = {"broken", "pencil", NULL, NULL, 0, NULL, 0};
    outcome o = run(s, "SCRAM-SHA-256", &c, 1);
    is_str(o.condition, "temporary-auth-failure",
           "damaged credentials: temporary-auth-failure, not not-authorized");
    is_int(o.rounds, 1, "found out at the first message");
    o = run(s, "PLAIN", &c, 1);
    is_str(o.condition, "temporary-auth-failure", "PLAIN too");
    sasl_server_free(s);
}

int main(void)
{
    char *error = NULL;
    if (storage_init("memory", &error) != 0) {
        printf("Bail out! cannot load the memory storage driver: %s\n",
               error ? error : "?");
        free(error);
        return 1;
    }
    if (sasl_global_init() != 0 || gsasl_init(&client_context) != GSASL_OK) {
        printf("Bail out! GNU SASL does not start\n");
        return 1;
    }
    gsasl_callback_set(client_context, client_callback);
    if (accounts_create(HOST, "alice", "pencil") != 0) {
        printf("Bail out! cannot create a test account\n");
        return 1;
    }

    test_mechanisms_offered();
    test_scram();
    test_unknown_user_looks_like_wrong_password();
    test_plain();
    test_scram_authzid();
    test_channel_binding();
    test_bad_input();
    test_storage_trouble();

    gsasl_done(client_context);
    sasl_global_done();
    accounts_close(NULL);
    storage_shutdown();
    modules_shutdown();
    return done_testing();
}
