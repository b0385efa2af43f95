/*
 * The router (see router.h for the steps).
 *
 * Delivery rules are RFC 6121 §8.5 and RFC 6120 §10; they are the core's
 * own defaults, applied when no module's hook takes a stanza, so that a
 * host with an empty modules_enabled still delivers chat between online
 * users.
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "accounts.h"
#include "event.h"
#include "hashmap.h"
#include "host.h"
#include "jid.h"
#include "log.h"
#include "module_loader.h"
#include "server.h"
#include "session.h"
#include "stanza.h"

static unsigned long long stanzas_routed;

/* ---- the 'to' address, split without allocating ---- */

typedef enum address_class {
    ADDRESS_HOST = 0, /* domain (or domain/resource) */
    ADDRESS_BARE,
    ADDRESS_FULL,
    ADDRESS_SELF      /* the sender's own bare JID (or no 'to' from c2s) */
} address_class;

static const char *const class_names[] = {"host", "bare", "full", "self"};

typedef struct address {
    address_class klass;
    char domain[1024];
    char bare[2048];
} address;

/* to is a prepared JID string. */
static int address_parse(const char *to, address *a)
{
    const char *slash = strchr(to, '/');
    size_t barelen = slash ? (size_t)(slash - to) : strlen(to);
    const char *at = memchr(to, '@', barelen);
    const char *domain = at ? at + 1 : to;
    size_t domainlen = barelen - (size_t)(domain - to);
    if (domainlen == 0 || domainlen >= sizeof a->domain ||
        barelen >= sizeof a->bare)
        return -1;
    memcpy(a->domain, domain, domainlen);
    a->domain[domainlen] = '\0';
    memcpy(a->bare, to, barelen);
    a->bare[barelen] = '\0';
    if (at == NULL)
        a->klass = ADDRESS_HOST;
    else
        a->klass = slash ? ADDRESS_FULL : ADDRESS_BARE;
    return 0;
}

/* ---- errors ---- */

void router_reply_error(const mynah_stanza *stanza, const char *type,
                        const char *condition, const char *text)
{
    const char *stype = stanza_attr(stanza, "type");
    /* RFC 6120 §8.3.1: never answer an error with an error. */
    if (stype && strcmp(stype, "error") == 0)
        return;
    /* An iq result that nobody wants is dropped, not answered. */
    if (strcmp(stanza_name(stanza), "iq") == 0 && stype &&
        strcmp(stype, "result") == 0)
        return;
    if (stanza_attr(stanza, "from") == NULL)
        return;
    mynah_stanza *reply = stanza_error_reply(stanza, type, condition, text);
    if (reply != NULL)
        router_route(reply, NULL);
}

/* ---- pending iqs of modules ---- */

typedef struct pending_iq {
    char *id;
    char *peer;         /* the iq's 'to': the answer must come from there */
    char *self;         /* the iq's 'from': the answer must go there */
    mynah_module *module;
    mynah_iq_callback cb;
    void *userdata;
    struct event *timer;
} pending_iq;

static hashmap pending_iqs = HASHMAP_INIT;
static unsigned long long next_iq_id;

static void pending_free(pending_iq *p)
{
    if (p->timer)
        event_free(p->timer);
    if (p->module)
        module_unref(p->module);
    free(p->id);
    free(p->peer);
    free(p->self);
    free(p);
}

static void pending_timeout(evutil_socket_t fd, short what, void *arg)
{
    pending_iq *p = arg;
    (void)fd; (void)what;
    hashmap_remove(&pending_iqs, p->id);
    p->cb(NULL, p->userdata);
    pending_free(p);
}

int router_send_iq(mynah_module *module, mynah_stanza *iq,
                   mynah_iq_callback cb, void *userdata, double timeout)
{
    const char *type = stanza_attr(iq, "type");
    const char *from = stanza_attr(iq, "from");
    const char *to = stanza_attr(iq, "to");
    if (strcmp(stanza_name(iq), "iq") != 0 || type == NULL || from == NULL ||
        to == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) {
        stanza_unref(iq);
        return -1;
    }
    pending_iq *p = calloc(1, sizeof *p);
    char id[40];
    snprintf(id, sizeof id, "mynah-iq-%llu", ++next_iq_id);
    if (p == NULL || (p->id = strdup(id)) == NULL ||
        (p->peer = strdup(to)) == NULL || (p->self = strdup(from)) == NULL) {
        if (p)
            pending_free(p);
        stanza_unref(iq);
        return -1;
    }
    p->module = module;
    if (module)
        module_ref(module);
    p->cb = cb;
    p->userdata = userdata;
    if (timeout <= 0)
        timeout = 30;
    p->timer = evtimer_new(server.base, pending_timeout, p);
    struct timeval tv = {(time_t)timeout,
                         (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6)};
    evtimer_add(p->timer, &tv);
    hashmap_put(&pending_iqs, p->id, p);
    stanza_set_attr(iq, "id", p->id);
    router_route(iq, NULL);
    return 0;
}

void router_cancel_iqs(mynah_module *module)
{
    size_t pos = 0;
    const char *key;
    void *value;
    /* Collect first: callbacks may send more iqs. */
    pending_iq **victims = NULL;
    size_t n = 0;
    while (hashmap_next(&pending_iqs, &pos, &key, &value)) {
        pending_iq *p = value;
        if (p->module == module) {
            pending_iq **v = realloc(victims, (n + 1) * sizeof *v);
            if (v == NULL)
                break;
            victims = v;
            victims[n++] = p;
        }
    }
    for (size_t i = 0; i < n; i++) {
        hashmap_remove(&pending_iqs, victims[i]->id);
        victims[i]->cb(NULL, victims[i]->userdata);
        pending_free(victims[i]);
    }
    free(victims);
}

/* An iq result/error answering one of ours?  Takes the stanza if so. */
static int router_match_pending(mynah_stanza *stanza)
{
    const char *id = stanza_attr(stanza, "id");
    if (id == NULL || pending_iqs.count == 0)
        return 0;
    pending_iq *p = hashmap_get(&pending_iqs, id);
    if (p == NULL)
        return 0;
    const char *from = stanza_attr(stanza, "from");
    const char *to = stanza_attr(stanza, "to");
    /* Only the entity we asked may answer, and only to us. */
    if (from == NULL || to == NULL || strcmp(from, p->peer) != 0 ||
        strcmp(to, p->self) != 0)
        return 0;
    hashmap_remove(&pending_iqs, id);
    p->cb(stanza, p->userdata);
    pending_free(p);
    stanza_unref(stanza);
    return 1;
}

/* ---- hooks ---- */

static int fire(mynah_host *host, const char *name, mynah_stanza *stanza,
                mynah_session *origin)
{
    if (host == NULL)
        return MYNAH_PASS;
    mynah_event ev = {0};
    ev.name = name;
    ev.host = host;
    ev.origin = origin;
    ev.stanza = stanza;
    return hooks_fire(host->hooks, name, &ev);
}

/* "[pre-]<kind>/<class>" without formatting it for every stanza (snprintf
 * was 5% of the server's time routing chat messages).  kind is one of
 * stanza_kind()'s answers, prefix "" or "pre-". */
static const char *kind_event(const char *prefix, const char *kind,
                              address_class klass)
{
    static const char *const names[2][3][4] = {
        {{"message/host", "message/bare", "message/full", "message/self"},
         {"presence/host", "presence/bare", "presence/full", "presence/self"},
         {"iq/host", "iq/bare", "iq/full", "iq/self"}},
        {{"pre-message/host", "pre-message/bare", "pre-message/full", "pre-message/self"},
         {"pre-presence/host", "pre-presence/bare", "pre-presence/full", "pre-presence/self"},
         {"pre-iq/host", "pre-iq/bare", "pre-iq/full", "pre-iq/self"}}};
    int pre = prefix[0] != '\0';
    int k = kind[0] == 'm' ? 0 : kind[0] == 'p' ? 1 : 2;
    return names[pre][k][klass];
}

/* "message/bare", and for iqs "iq-get/bare/<ns>:<name>" then "iq/bare". */
static int fire_for(mynah_host *host, const char *prefix, const char *kind,
                    address_class klass, mynah_stanza *stanza,
                    mynah_session *origin)
{
    char name[512];
    if (strcmp(kind, "iq") == 0) {
        const char *type = stanza_attr(stanza, "type");
        mynah_element *child = element_first_child(stanza_root(stanza));
        if (child != NULL && type != NULL) {
            snprintf(name, sizeof name, "%siq-%s/%s/%s:%s", prefix, type,
                     class_names[klass], element_xmlns(child),
                     element_name(child));
            int r = fire(host, name, stanza, origin);
            if (r != MYNAH_PASS)
                return r;
        }
    }
    return fire(host, kind_event(prefix, kind, klass), stanza, origin);
}

/* ---- filters: "stanza/out/<kind>" and "stanza/in/<kind>" ----
 *
 * Fired for every routed stanza, "out" on the sender's host before its
 * "pre-" events, "in" on the recipient's host before any of its other
 * events, so that a filter (blocking, XEP-0191; a firewall) sees every
 * stanza in one place instead of hooking each specific event (an
 * "iq-get/bare/vcard-temp:vCard" handler answers before "iq/bare" runs).
 * Nobody listening costs one hash lookup each.
 *
 * The sender's host is the host of the 'from' domain when it is local, so
 * that stanzas a module routes on a user's behalf (presence broadcasts,
 * origin NULL) are seen too; a client's 'from' is its session's host. */

enum filter_direction { FILTER_OUT = 0, FILTER_IN = 1 };

/* kind is one of stanza_kind()'s answers: "message", "presence", "iq". */
static const char *filter_event(enum filter_direction direction,
                                const char *kind)
{
    static const char *const names[2][3] = {
        {"stanza/out/message", "stanza/out/presence", "stanza/out/iq"},
        {"stanza/in/message", "stanza/in/presence", "stanza/in/iq"}};
    int k = kind[0] == 'm' ? 0 : kind[0] == 'p' ? 1 : 2;
    return names[direction][k];
}

static mynah_host *sender_host(const mynah_stanza *stanza,
                               mynah_session *origin)
{
    if (origin != NULL && origin->kind == MYNAH_SESSION_C2S)
        return origin->host; /* 'from' was stamped with its JID */
    const char *from = stanza_attr(stanza, "from");
    address a;
    if (from == NULL || address_parse(from, &a) < 0)
        return NULL;
    return host_find(a.domain);
}

/* ---- default delivery (RFC 6121 §8.5) ---- */

static int type_is(const char *type, const char *want)
{
    return type != NULL && strcmp(type, want) == 0;
}

/* Resources that are available with a non-negative priority (§8.5.2.1). */
static int deliver_to_user(const char *bare, mynah_stanza *stanza,
                           int highest_only)
{
    int best = -1;
    for (mynah_session *s = session_first_of_user(bare); s; s = s->next_of_user)
        if (s->available && s->priority >= 0 && s->priority > best)
            best = s->priority;
    if (best < 0)
        return 0;
    int delivered = 0;
    for (mynah_session *s = session_first_of_user(bare); s; s = s->next_of_user) {
        if (!s->available || s->priority < 0)
            continue;
        if (highest_only && s->priority != best)
            continue;
        session_send(s, stanza_ref(stanza));
        delivered++;
    }
    return delivered;
}

static int user_exists(mynah_host *host, const char *bare)
{
    if (session_first_of_user(bare) != NULL)
        return 1;
    const char *at = strchr(bare, '@');
    if (at == NULL)
        return 0;
    char local[1024];
    size_t n = (size_t)(at - bare);
    if (n >= sizeof local)
        return 0;
    memcpy(local, bare, n);
    local[n] = '\0';
    return accounts_exists(host_name(host), local) == 1;
}

static void default_message_bare(mynah_host *host, const address *a,
                                 mynah_stanza *stanza)
{
    const char *type = stanza_attr(stanza, "type");
    if (type_is(type, "error"))
        return;
    if (type_is(type, "groupchat")) {
        router_reply_error(stanza, "cancel", "service-unavailable", NULL);
        return;
    }
    if (!user_exists(host, a->bare)) {
        /* §8.5.2.2.1: no such user; do not reveal anything else. */
        if (!type_is(type, "headline"))
            router_reply_error(stanza, "cancel", "service-unavailable", NULL);
        return;
    }
    int headline = type_is(type, "headline");
    if (deliver_to_user(a->bare, stanza, !headline) > 0)
        return;
    if (headline)
        return; /* §8.5.2.2.2 (headline to an unavailable user): drop */
    /* Nobody available: offline storage, if a module does it. */
    if (fire(host, "message/offline", stanza, NULL) != MYNAH_PASS)
        return;
    router_reply_error(stanza, "cancel", "service-unavailable", NULL);
}

static void default_delivery(mynah_host *host, const char *kind,
                             const address *a, mynah_stanza *stanza)
{
    const char *type = stanza_attr(stanza, "type");
    int is_iq = strcmp(kind, "iq") == 0;
    int is_request = is_iq && (type_is(type, "get") || type_is(type, "set"));

    if (host->is_component) {
        if (is_request || (strcmp(kind, "message") == 0 && !type_is(type, "error")))
            router_reply_error(stanza, "cancel", "service-unavailable", NULL);
        return;
    }

    switch (a->klass) {
    case ADDRESS_FULL: {
        const char *to = stanza_attr(stanza, "to");
        mynah_session *s = session_find(to);
        if (s != NULL) {
            session_send(s, stanza_ref(stanza));
            return;
        }
        /* §8.5.3.2: no such resource. */
        if (strcmp(kind, "message") == 0) {
            if (!type_is(type, "groupchat")) {
                default_message_bare(host, a, stanza);
                return;
            }
            router_reply_error(stanza, "cancel", "service-unavailable", NULL);
        } else if (is_request) {
            router_reply_error(stanza, "cancel", "service-unavailable", NULL);
        }
        return; /* presence and iq results to a gone resource: drop */
    }
    case ADDRESS_BARE:
    case ADDRESS_SELF:
        if (strcmp(kind, "message") == 0) {
            default_message_bare(host, a, stanza);
        } else if (strcmp(kind, "presence") == 0) {
            /* §8.5.2.1.1: to every available resource. */
            if (!type_is(type, "probe") && user_exists(host, a->bare))
                deliver_to_user(a->bare, stanza, 0);
        } else if (is_request) {
            /* §8.5.2.1.3: the server answers for the account. */
            router_reply_error(stanza, "cancel", "service-unavailable", NULL);
        }
        return;
    case ADDRESS_HOST:
        if (is_request || (strcmp(kind, "message") == 0 &&
                           (type == NULL || type_is(type, "normal") ||
                            type_is(type, "chat"))))
            router_reply_error(stanza, "cancel", "service-unavailable", NULL);
        return;
    }
}

/* ---- routing ---- */

static const char *stanza_kind(const mynah_stanza *stanza)
{
    const char *name = stanza_name(stanza);
    if (strcmp(name, "message") == 0)
        return "message";
    if (strcmp(name, "presence") == 0)
        return "presence";
    if (strcmp(name, "iq") == 0)
        return "iq";
    return NULL;
}

int router_route(mynah_stanza *stanza, mynah_session *origin)
{
    stanzas_routed++;
    const char *kind = stanza_kind(stanza);
    const char *to = stanza_attr(stanza, "to");
    address a;
    if (kind == NULL || to == NULL || address_parse(to, &a) < 0) {
        stanza_unref(stanza);
        return -1;
    }
    if (origin && origin->jid && a.klass == ADDRESS_BARE &&
        strcmp(a.bare, jid_bare(origin->jid)) == 0)
        a.klass = ADDRESS_SELF;

    const char *type = stanza_attr(stanza, "type");
    if (strcmp(kind, "iq") == 0 && (type_is(type, "result") || type_is(type, "error")) &&
        router_match_pending(stanza))
        return 0;

    mynah_host *target = host_find(a.domain);
    int r = MYNAH_PASS;

    /* The sender's filters, then (for stanzas a local session sent) the
     * sender's host; then the recipient's filters and the recipient's
     * host. */
    mynah_host *sender = sender_host(stanza, origin);
    if (sender != NULL)
        r = fire(sender, filter_event(FILTER_OUT, kind), stanza, origin);
    if (r == MYNAH_PASS && origin != NULL && origin->host != NULL) {
        r = fire_for(origin->host, "pre-", kind, a.klass, stanza, origin);
    }
    if (r == MYNAH_PASS && target != NULL)
        r = fire(target, filter_event(FILTER_IN, kind), stanza, origin);
    if (r == MYNAH_PASS && target != NULL) {
        r = fire_for(target, "", kind, a.klass, stanza, origin);
        if (r == MYNAH_PASS && a.klass == ADDRESS_SELF)
            /* Handlers of the bare class also serve the owner. */
            r = fire_for(target, "", kind, ADDRESS_BARE, stanza, origin);
    }
    if (r == MYNAH_PASS) {
        if (target != NULL) {
            default_delivery(target, kind, &a, stanza);
        } else {
            mynah_event ev = {0};
            ev.name = "route/remote";
            ev.origin = origin;
            ev.stanza = stanza;
            if (hooks_fire(server.global_hooks, "route/remote", &ev) == MYNAH_PASS)
                /* RFC 6120 §8.3.3.15: no server-to-server yet (or none
                 * that took it). */
                router_reply_error(stanza, "cancel", "remote-server-not-found",
                                   NULL);
        }
    }
    stanza_unref(stanza);
    return 0;
}

/* ---- stanzas from clients ---- */

static int valid_presence_type(const char *type)
{
    static const char *const types[] = {"unavailable", "subscribe",
                                        "subscribed", "unsubscribe",
                                        "unsubscribed", "probe", "error"};
    if (type == NULL)
        return 1;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(type, types[i]) == 0)
            return 1;
    return 0;
}

/* RFC 6120 §8.2.3: an iq get/set has exactly one payload element. */
static int iq_payload_count(mynah_stanza *stanza)
{
    int n = 0;
    for (mynah_element *c = element_first_child(stanza_root(stanza)); c;
         c = element_next_sibling(c))
        n++;
    return n;
}

/* The core keeps what routing needs of a client's broadcast presence. */
static void router_note_presence(mynah_session *origin, mynah_stanza *stanza)
{
    const char *type = stanza_attr(stanza, "type");
    if (type == NULL) {
        mynah_element *prio = element_child(stanza_root(stanza), "priority", NULL);
        int priority = prio ? atoi(element_text(prio)) : 0;
        session_set_priority(origin, priority);
        session_set_presence(origin, stanza);
        origin->available = 1;
    } else if (strcmp(type, "unavailable") == 0) {
        session_set_presence(origin, stanza);
        origin->available = 0;
    }
}

void router_from_client(mynah_session *origin, mynah_stanza *stanza)
{
    const char *kind = stanza_kind(stanza);
    const char *type = stanza_attr(stanza, "type");
    const char *full = jid_full(origin->jid);

    /* RFC 6120 §8.1.2.1: the server stamps 'from'; a client claiming to be
     * someone else gets <invalid-from/> (§4.9.3.9). */
    const char *from = stanza_attr(stanza, "from");
    if (from != NULL && strcmp(from, full) != 0 &&
        strcmp(from, jid_bare(origin->jid)) != 0) {
        char *prepared = NULL;
        int same = jid_prepare_string(from, &prepared) == 0 &&
                   (strcmp(prepared, full) == 0 ||
                    strcmp(prepared, jid_bare(origin->jid)) == 0);
        free(prepared);
        if (!same) {
            stanza_unref(stanza);
            session_close(origin, "invalid-from", NULL);
            return;
        }
    }
    stanza_set_attr(stanza, "from", full);

    if (strcmp(kind, "iq") == 0) {
        if (stanza_attr(stanza, "id") == NULL || type == NULL ||
            (strcmp(type, "get") != 0 && strcmp(type, "set") != 0 &&
             strcmp(type, "result") != 0 && strcmp(type, "error") != 0) ||
            ((strcmp(type, "get") == 0 || strcmp(type, "set") == 0) &&
             iq_payload_count(stanza) != 1)) {
            /* Answer to the client itself: the 'to' may be missing. */
            if (type == NULL || strcmp(type, "error") != 0) {
                mynah_stanza *err = stanza_error_reply(stanza, "modify",
                                                       "bad-request", NULL);
                if (err) {
                    stanza_set_attr(err, "from", NULL);
                    stanza_set_attr(err, "to", full);
                    session_send(origin, err);
                }
            }
            stanza_unref(stanza);
            return;
        }
    } else if (strcmp(kind, "presence") == 0 && !valid_presence_type(type)) {
        mynah_stanza *err = stanza_error_reply(stanza, "modify", "bad-request",
                                               NULL);
        if (err) {
            stanza_set_attr(err, "from", NULL);
            stanza_set_attr(err, "to", full);
            session_send(origin, err);
        }
        stanza_unref(stanza);
        return;
    }

    const char *to = stanza_attr(stanza, "to");
    if (to == NULL) {
        if (strcmp(kind, "presence") == 0) {
            /* Broadcast presence: the sender's host decides who gets it
             * (mod_presence), then the core records it. */
            mynah_event ev = {0};
            ev.name = "pre-presence/bare";
            ev.host = origin->host;
            ev.origin = origin;
            ev.stanza = stanza;
            stanzas_routed++;
            hooks_fire(origin->host->hooks, "pre-presence/bare", &ev);
            router_note_presence(origin, stanza);
            stanza_unref(stanza);
            return;
        }
        /* RFC 6120 §8.1.1.1: no 'to' means the account's bare JID. */
        stanza_set_attr(stanza, "to", jid_bare(origin->jid));
    } else if (jid_check_prepared(to) != 1) {
        char *prepared = NULL;
        if (jid_prepare_string(to, &prepared) < 0) {
            mynah_stanza *err = stanza_error_reply(stanza, "modify",
                                                   "jid-malformed", NULL);
            if (err) {
                stanza_set_attr(err, "from", NULL);
                stanza_set_attr(err, "to", full);
                session_send(origin, err);
            }
            stanza_unref(stanza);
            return;
        }
        if (strcmp(prepared, to) != 0)
            stanza_set_attr(stanza, "to", prepared);
        free(prepared);
    }
    router_route(stanza, origin);
}

unsigned long long router_stanzas_routed(void)
{
    return stanzas_routed;
}
