/*
 * mod_register: in-band registration (XEP-0077), enabled as "register".
 *
 * - Before authentication, with `allow_registration = true`: the
 *   registration form (iq get) and account creation (iq set with username
 *   and password), advertised as the stream feature
 *   <register xmlns='http://jabber.org/features/iq-register'/>.  Refused on
 *   an unencrypted stream when c2s_require_encryption is set (the password
 *   would cross the network in clear), and limited per address:
 *   `registration_throttle_max` accounts per `registration_throttle_period`
 *   seconds (Prosody's option names).
 * - After authentication, whatever allow_registration says: a password
 *   change (§3.3) and the removal of one's own account (§3.2), which
 *   deletes everything stored for it and closes its sessions.
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#define NS_REGISTER "jabber:iq:register"
#define NS_FEATURE_REGISTER "http://jabber.org/features/iq-register"
#define THROTTLE_SLOTS 4096 /* addresses remembered; the oldest is reused */

static const mynah_api *api;

static const mynah_option_spec register_options[] = {
    {"registration_throttle_max", MYNAH_OPTION_INTEGER, "10", 1, 100000, 1,
     "accounts one address may register per registration_throttle_period"},
    {"registration_throttle_period", MYNAH_OPTION_INTEGER, "3600", 1, 604800, 1,
     "seconds over which registrations per address are counted"},
    {"registration_min_password_length", MYNAH_OPTION_INTEGER, "6", 1, 1023, 1,
     "shortest password accepted"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

/* Registrations per address: a small table, oldest entry reused. */
typedef struct throttle_entry {
    char address[64];
    double window_start;
    unsigned count;
} throttle_entry;

typedef struct register_host {
    throttle_entry *entries;
    size_t used;
} register_host;

static throttle_entry *throttle_find(register_host *rh, const char *address,
                                     double now, double period)
{
    throttle_entry *oldest = NULL;
    for (size_t i = 0; i < rh->used; i++) {
        throttle_entry *e = &rh->entries[i];
        if (strcmp(e->address, address) == 0) {
            if (now - e->window_start >= period) {
                e->window_start = now;
                e->count = 0;
            }
            return e;
        }
        if (oldest == NULL || e->window_start < oldest->window_start)
            oldest = e;
    }
    throttle_entry *e = rh->used < THROTTLE_SLOTS ? &rh->entries[rh->used++]
                                                  : oldest;
    strncpy(e->address, address, sizeof e->address - 1);
    e->address[sizeof e->address - 1] = '\0';
    e->window_start = now;
    e->count = 0;
    return e;
}

static void reply_error(mynah_session *session, const mynah_stanza *iq,
                        const char *type, const char *condition,
                        const char *text, int unauthed)
{
    mynah_stanza *err = api->stanza_error_reply(iq, type, condition, text);
    if (err == NULL)
        return;
    if (unauthed) {
        api->session_send(session, err);
        return;
    }
    api->route(err);
}

static void reply_result(mynah_session *session, const mynah_stanza *iq,
                         int unauthed)
{
    mynah_stanza *r = api->stanza_reply(iq);
    if (r == NULL)
        return;
    if (unauthed)
        api->session_send(session, r);
    else
        api->route(r);
}

static const char *child_text(mynah_element *query, const char *name)
{
    mynah_element *e = api->element_child(query, name, NULL);
    return e ? api->element_text(e) : NULL;
}

/* The local part a client asked for, prepared, or NULL if invalid. */
static char *prepare_username(mynah_host *host, const char *username)
{
    size_t n = strlen(username) + strlen(api->host_name(host)) + 2;
    char *text = malloc(n);
    if (text == NULL)
        return NULL;
    strcpy(text, username);
    strcat(text, "@");
    strcat(text, api->host_name(host));
    /* A '@' or '/' in the name would make a different JID: refuse. */
    mynah_jid *jid = strpbrk(username, "@/") ? NULL : api->jid_new(text);
    free(text);
    const char *local = jid ? api->jid_part(jid, MYNAH_JID_LOCAL) : NULL;
    char *out = local ? strdup(local) : NULL;
    if (jid)
        api->jid_free(jid);
    return out;
}

static int register_form(mynah_session *session, const mynah_stanza *iq,
                         int unauthed, const char *username)
{
    mynah_stanza *r = api->stanza_reply(iq);
    if (r == NULL)
        return MYNAH_HANDLED;
    mynah_element *q = api->element_add_child(api->stanza_root(r), "query",
                                              NS_REGISTER);
    if (username != NULL) {
        /* §3.3: an account holder sees that it is registered. */
        api->element_add_child(q, "registered", NULL);
        mynah_element *u = api->element_add_child(q, "username", NULL);
        api->element_add_text(u, username, strlen(username));
    } else {
        mynah_element *ins = api->element_add_child(q, "instructions", NULL);
        static const char text[] = "Choose a username and password.";
        api->element_add_text(ins, text, sizeof text - 1);
        api->element_add_child(q, "username", NULL);
    }
    api->element_add_child(q, "password", NULL);
    if (unauthed)
        api->session_send(session, r);
    else
        api->route(r);
    return MYNAH_HANDLED;
}

/* ---- before authentication ---- */

/* A password may cross this stream: it is encrypted, or the operator
 * allowed PLAIN on plaintext streams (the same rule as SASL PLAIN). */
static int may_send_password(mynah_module *m, mynah_session *session)
{
    if (api->session_is_encrypted(session))
        return 1;
    return !api->option_boolean(m, NULL, "c2s_require_encryption") &&
           api->option_boolean(m, NULL, "allow_unencrypted_plain_auth");
}

static int on_unauthed_register(mynah_event *ev, void *userdata)
{
    mynah_module *m = userdata;
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_session *session = api->event_origin(ev);
    mynah_host *host = api->event_host(ev);
    mynah_element *root = api->stanza_root(iq);
    mynah_element *query = api->element_child(root, "query", NS_REGISTER);
    const char *type = api->element_attr(root, "type");
    if (query == NULL || type == NULL)
        return MYNAH_PASS;
    if (!api->option_boolean(m, host, "allow_registration")) {
        reply_error(session, iq, "cancel", "not-allowed",
                    "Registration is not allowed on this server", 1);
        return MYNAH_HANDLED;
    }
    if (!may_send_password(m, session)) {
        reply_error(session, iq, "modify", "not-acceptable",
                    "Encryption is required to register", 1);
        return MYNAH_HANDLED;
    }
    if (strcmp(type, "get") == 0)
        return register_form(session, iq, 1, NULL);
    if (strcmp(type, "set") != 0) {
        reply_error(session, iq, "modify", "bad-request", NULL, 1);
        return MYNAH_HANDLED;
    }
    if (api->element_child(query, "remove", NULL) != NULL) {
        /* Removing needs an account to remove: authenticate first. */
        reply_error(session, iq, "auth", "not-authorized", NULL, 1);
        return MYNAH_HANDLED;
    }
    const char *username = child_text(query, "username");
    const char *password = child_text(query, "password");
    /* §3.1: both fields are required. */
    if (username == NULL || password == NULL || username[0] == '\0' ||
        password[0] == '\0') {
        reply_error(session, iq, "modify", "not-acceptable",
                    "A username and a password are required", 1);
        return MYNAH_HANDLED;
    }
    if ((long long)strlen(password) <
        api->option_integer(m, host, "registration_min_password_length")) {
        reply_error(session, iq, "modify", "not-acceptable",
                    "The password is too short", 1);
        return MYNAH_HANDLED;
    }
    char *user = prepare_username(host, username);
    if (user == NULL) {
        reply_error(session, iq, "modify", "jid-malformed",
                    "That username is not allowed", 1);
        return MYNAH_HANDLED;
    }
    register_host *rh = api->host_get_data(m, host);
    const char *address = api->session_peer_address(session);
    double now = api->now();
    throttle_entry *e = throttle_find(
        rh, address ? address : "unknown", now,
        (double)api->option_integer(m, host, "registration_throttle_period"));
    if ((long long)e->count >=
        api->option_integer(m, host, "registration_throttle_max")) {
        free(user);
        reply_error(session, iq, "wait", "resource-constraint",
                    "Too many registrations from your address; try later", 1);
        return MYNAH_HANDLED;
    }
    int r = api->account_create(host, user, password);
    if (r == 0) {
        e->count++;
        api->log(m, MYNAH_LOG_INFO, "registered %s@%s from %s", user,
                 api->host_name(host), address ? address : "?");
        reply_result(session, iq, 1);
    } else if (r == 1) {
        reply_error(session, iq, "cancel", "conflict",
                    "That username is taken", 1); /* §3.1, example 6 */
    } else {
        reply_error(session, iq, "wait", "internal-server-error", NULL, 1);
    }
    free(user);
    return MYNAH_HANDLED;
}

static int on_stream_features(mynah_event *ev, void *userdata)
{
    mynah_module *m = userdata;
    mynah_session *session = api->event_origin(ev);
    mynah_element *features = api->event_features(ev);
    /* Only before authentication, and only where it would be accepted. */
    if (features == NULL || api->session_jid(session) != NULL ||
        api->element_child(features, "bind", "urn:ietf:params:xml:ns:xmpp-bind"))
        return MYNAH_PASS;
    if (!api->option_boolean(m, api->event_host(ev), "allow_registration"))
        return MYNAH_PASS;
    if (!may_send_password(m, session))
        return MYNAH_PASS;
    api->element_add_child(features, "register", NS_FEATURE_REGISTER);
    return MYNAH_PASS;
}

/* ---- account holders: password change and removal ---- */

static int on_account_register(mynah_event *ev, void *userdata)
{
    mynah_module *m = userdata;
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_session *session = api->event_origin(ev);
    mynah_host *host = api->event_host(ev);
    const mynah_jid *jid = session ? api->session_jid(session) : NULL;
    mynah_element *root = api->stanza_root(iq);
    mynah_element *query = api->element_child(root, "query", NS_REGISTER);
    const char *type = api->element_attr(root, "type");
    if (query == NULL || type == NULL)
        return MYNAH_PASS;
    /* Only for one's own account, from one's own session. */
    if (jid == NULL || api->session_host(session) != host) {
        reply_error(session, iq, "auth", "forbidden", NULL, 0);
        return MYNAH_HANDLED;
    }
    const char *user = api->jid_part(jid, MYNAH_JID_LOCAL);
    if (strcmp(type, "get") == 0)
        return register_form(session, iq, 0, user);
    if (api->element_child(query, "remove", NULL) != NULL) {
        /* §3.2: answer first, then the account and its sessions go. */
        char *name = strdup(user);
        reply_result(session, iq, 0);
        if (name == NULL || api->account_delete(host, name) != 0)
            api->log(m, MYNAH_LOG_ERROR, "could not remove %s",
                     name ? name : "an account");
        else
            api->log(m, MYNAH_LOG_INFO, "%s@%s removed their account", name,
                     api->host_name(host));
        free(name);
        return MYNAH_HANDLED;
    }
    const char *username = child_text(query, "username");
    const char *password = child_text(query, "password");
    if (password == NULL || password[0] == '\0') {
        reply_error(session, iq, "modify", "bad-request", NULL, 0);
        return MYNAH_HANDLED;
    }
    /* §3.3: the username, if given, must be the account's own. */
    if (username != NULL && username[0] != '\0') {
        char *prepared = prepare_username(host, username);
        int same = prepared != NULL && strcmp(prepared, user) == 0;
        free(prepared);
        if (!same) {
            reply_error(session, iq, "modify", "bad-request", NULL, 0);
            return MYNAH_HANDLED;
        }
    }
    if ((long long)strlen(password) <
        api->option_integer(m, host, "registration_min_password_length")) {
        reply_error(session, iq, "modify", "not-acceptable",
                    "The password is too short", 0);
        return MYNAH_HANDLED;
    }
    if (api->account_set_password(host, user, password) == 0)
        reply_result(session, iq, 0);
    else
        reply_error(session, iq, "wait", "internal-server-error", NULL, 0);
    return MYNAH_HANDLED;
}

/* ---- lifecycle ---- */

static int register_init(mynah_module *m, const mynah_api *a)
{
    (void)m;
    api = a;
    if (!MYNAH_API_HAS(api, account_delete) ||
        !MYNAH_API_HAS(api, session_is_encrypted))
        return -1;
    return 0;
}

static int register_add_host(mynah_module *m, mynah_host *host)
{
    register_host *rh = calloc(1, sizeof *rh);
    if (rh == NULL)
        return -1;
    rh->entries = calloc(THROTTLE_SLOTS, sizeof *rh->entries);
    if (rh->entries == NULL) {
        free(rh);
        return -1;
    }
    api->host_set_data(m, host, rh);
    static const char *const events[] = {
        "iq-set/host/" NS_REGISTER ":query", "iq-get/host/" NS_REGISTER ":query",
        "iq-set/self/" NS_REGISTER ":query", "iq-get/self/" NS_REGISTER ":query",
    };
    int r = api->hook(m, host, "iq-unauthed/" NS_REGISTER ":query",
                      on_unauthed_register, m, MYNAH_PRIORITY_DEFAULT);
    r |= api->hook(m, host, "stream-features", on_stream_features, m,
                   MYNAH_PRIORITY_DEFAULT);
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        r |= api->hook(m, host, events[i], on_account_register, m,
                       MYNAH_PRIORITY_DEFAULT);
    r |= api->add_feature(m, host, NS_REGISTER);
    return r ? -1 : 0;
}

static void register_remove_host(mynah_module *m, mynah_host *host)
{
    register_host *rh = api->host_get_data(m, host);
    if (rh) {
        free(rh->entries);
        free(rh);
    }
    api->host_set_data(m, host, NULL);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR,
    sizeof(mynah_module_descriptor), "register", "0.1.0",
    NULL, register_options,
    register_init, register_add_host, register_remove_host, NULL, NULL,
    NULL, NULL, {0},
};
