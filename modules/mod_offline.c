/*
 * mod_offline: XEP-0160 Best Practices for Handling Offline Messages.
 *
 * Storing ("message/offline", fired by the router when a message to an
 * existing user finds no available resource with a non-negative priority):
 *  - type normal (or none) and chat are stored (§3); headline, groupchat
 *    and error never reach this event (the router drops or bounces them,
 *    RFC 6121 §8.5.2.2) and are refused here too;
 *  - a message with nothing worth keeping (§3: chat state notifications
 *    only, XEP-0085 §5.4; likewise a bare thread, hints or ids) is dropped
 *    silently: bouncing a "composing" notification helps nobody;
 *  - XEP-0334 hints: <no-store/> is not stored, and the sender gets the
 *    same service-unavailable as when there is no offline storage
 *    (RFC 6121 §8.5.2.2.1); <store/> stores even what would be dropped;
 *    <no-permanent-store/> still allows this temporary storage;
 *  - at most `offline_max_messages` per user (default 500); past it the
 *    sender gets <service-unavailable/> (§2 step 3: "the recipient's
 *    offline message queue is full").
 * Storage is the archive store "offline", per user, one item per message:
 * `when` is the moment it was stored, `with` a tag unique to the item
 * (so that exactly that item can be deleted), the data the serialized
 * stanza.  A message is accepted only once the store acknowledged it
 * (with SQLite: fsynced), so it survives kill -9.
 *
 * Delivering (§2 step 5): when a session sends initial presence with a
 * non-negative priority (or raises a negative one to non-negative: RFC 6121
 * §8.5.2.1.1 counts only those resources), every stored message goes to
 * that session, in the order stored, each with a XEP-0203
 * <delay from='HOST' stamp='...'/> of when it was stored.  A message is
 * deleted only once it has been written to the client's connection; if the
 * session dies first it stays stored and goes out at the next login.
 * While a message is on its way to one session, another session of the
 * same user going online does not get it too.  A long queue goes out in
 * rounds of at most 100 messages or 4 MiB, each round once the previous
 * one was written, so that a full queue of large messages never exceeds
 * the connection's output limit; a message that arrives for the user
 * during a later round is delivered at once and may overtake stored ones
 * (their <delay/> stamps tell the client their real order).
 *
 * Presence goes first: the delivery happens after mod_presence has
 * broadcast the initial presence.  mod_presence ends the pre-presence
 * chain (MYNAH_HANDLED), so this module notes the session on the way in
 * (early priority) and delivers either from a late handler, when the
 * chain reaches it, or from a zero-delay timer, i.e. right after the
 * broadcast, in the next turn of the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#define NS_DELAY "urn:xmpp:delay"
#define NS_HINTS "urn:xmpp:hints"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define NS_SID "urn:xmpp:sid:0"
#define NS_CLIENT "jabber:client"
#define FEATURE_MSGOFFLINE "msgoffline"

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"offline_max_messages", MYNAH_OPTION_INTEGER, "500", 1, 1000000, 1,
     "at most this many offline messages stored per user"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

/* A message on its way to a client, until it was written (then deleted)
 * or the session ended (then kept). */
typedef struct delivery {
    struct delivery *next;
    struct offline_host *oh;
    struct runner *runner; /* the session's delivery it belongs to */
    char *user;
    char *tag;    /* the archive item's unique `with` */
    int64_t when;
} delivery;

/* A session that sent initial presence and waits for its messages. */
typedef struct waiting {
    struct waiting *next;
    char *full_jid;
    unsigned serial; /* matches the session's data (see waiting_mark) */
} waiting;

typedef struct offline_host {
    mynah_host *host;
    mynah_store *store;
    delivery *in_flight;
    waiting *waiting;
    mynah_timer *timer;
    int refs;    /* the host, plus every delivery and storage operation */
    int removed; /* the module left the host: the store is closed */
} offline_host;

/* Session data of a waiting session. */
typedef struct waiting_mark {
    unsigned serial;
} waiting_mark;

static unsigned next_serial;
static unsigned long long next_tag;

static offline_host *offline_host_ref(offline_host *oh)
{
    oh->refs++;
    return oh;
}

static void offline_host_unref(offline_host *oh)
{
    if (--oh->refs > 0)
        return;
    while (oh->waiting != NULL) {
        waiting *w = oh->waiting;
        oh->waiting = w->next;
        free(w->full_jid);
        free(w);
    }
    free(oh);
}

/* For log lines: the host may be gone once the module left it. */
static const char *host_label(const offline_host *oh)
{
    return oh->removed ? "a removed host" : api->host_name(oh->host);
}

static const char *attr(mynah_stanza *stanza, const char *name)
{
    return api->element_attr(api->stanza_root(stanza), name);
}

static int is(const char *value, const char *want)
{
    return value != NULL && strcmp(value, want) == 0;
}

/* ---- storing ---- */

enum verdict { STORE, DROP, REFUSE };

/* XEP-0160 §3 and XEP-0334 §4. */
static enum verdict judge(mynah_stanza *message)
{
    const char *type = attr(message, "type");
    if (type != NULL && !is(type, "normal") && !is(type, "chat"))
        return REFUSE;
    int worth = 0, store_hint = 0;
    mynah_element *root = api->stanza_root(message);
    for (mynah_element *c = api->element_first_child(root); c;
         c = api->element_next_sibling(c)) {
        const char *ns = api->element_xmlns(c);
        const char *name = api->element_name(c);
        if (is(ns, NS_HINTS)) {
            if (is(name, "no-store"))
                return REFUSE;
            if (is(name, "store"))
                store_hint = 1;
        } else if (is(ns, NS_CHATSTATES) || is(ns, NS_SID) ||
                   (is(ns, NS_CLIENT) && is(name, "thread"))) {
            /* not worth keeping on its own */
        } else {
            worth = 1;
        }
    }
    return worth || store_hint ? STORE : DROP;
}

/* One message being stored, across the count and the append. */
typedef struct store_op {
    offline_host *oh;
    mynah_stanza *message;
    char *user;
} store_op;

static void store_op_free(store_op *op)
{
    api->stanza_unref(op->message);
    free(op->user);
    offline_host_unref(op->oh);
    free(op);
}

static void on_stored(int status, const char *id, void *userdata)
{
    (void)id;
    store_op *op = userdata;
    if (status != MYNAH_STORE_OK) {
        api->log(self, MYNAH_LOG_WARN,
                 "could not store an offline message for %s@%s", op->user,
                 host_label(op->oh));
        modutil_reply_error(op->message, "wait", "internal-server-error",
                            NULL);
    }
    store_op_free(op);
}

/* A tag no other item of the archive has: the time, a counter and the
 * process (two servers never share a store's user at the same µs). */
static void make_tag(int64_t when, char *out, size_t size)
{
    snprintf(out, size, "%lld.%llu.%ld", (long long)when, ++next_tag,
             (long)getpid());
}

static void on_counted(int status, const mynah_archive_item *items,
                       size_t count, int complete, void *userdata)
{
    (void)items;
    (void)complete;
    store_op *op = userdata;
    if (op->oh->removed || status == MYNAH_STORE_ERROR) {
        modutil_reply_error(op->message, "wait", "internal-server-error",
                            NULL);
        store_op_free(op);
        return;
    }
    long long quota =
        api->option_integer(self, op->oh->host, "offline_max_messages");
    if ((long long)count >= quota) {
        modutil_reply_error(op->message, "cancel", "service-unavailable",
                            "The recipient's offline message storage is full");
        store_op_free(op);
        return;
    }
    size_t len = 0;
    char *xml = api->stanza_to_string(op->message, &len);
    if (xml == NULL) {
        modutil_reply_error(op->message, "wait", "internal-server-error",
                            NULL);
        store_op_free(op);
        return;
    }
    char tag[80];
    mynah_archive_item item = {0};
    item.when = (int64_t)(api->now() * 1e6);
    make_tag(item.when, tag, sizeof tag);
    item.with = tag;
    item.data = xml;
    item.len = len;
    api->archive_append(op->oh->store, op->user, &item, on_stored, op);
    free(xml);
}

static int on_message_offline(mynah_event *event, void *userdata)
{
    offline_host *oh = userdata;
    mynah_stanza *message = api->event_stanza(event);
    switch (judge(message)) {
    case REFUSE:
        return MYNAH_PASS; /* the router answers service-unavailable */
    case DROP:
        return MYNAH_HANDLED;
    case STORE:
        break;
    }
    mynah_jid *to = api->jid_new(attr(message, "to"));
    const char *local = to ? api->jid_part(to, MYNAH_JID_LOCAL) : NULL;
    store_op *op = local ? calloc(1, sizeof *op) : NULL;
    if (op == NULL || (op->user = strdup(local)) == NULL) {
        free(op);
        api->jid_free(to);
        return MYNAH_PASS;
    }
    api->jid_free(to);
    op->oh = offline_host_ref(oh);
    op->message = api->stanza_ref(message);
    /* Count what is stored (at most the quota's worth). */
    mynah_archive_query query = {0};
    query.max = (size_t)api->option_integer(self, oh->host,
                                            "offline_max_messages");
    api->archive_find(oh->store, op->user, &query, on_counted, op);
    return MYNAH_HANDLED;
}

/* ---- delivering ---- */

/*
 * A session's delivery runs in rounds: fetch the oldest stored messages,
 * send up to DELIVERY_ROUND_BYTES of them, and start the next round only
 * once every one of them was written and deleted.  The output buffer of a
 * client thus never holds much more than a round (a full queue of large
 * messages would otherwise exceed the connection's output limit), and
 * each round starts from the oldest message still stored, so no cursor
 * can point at a deleted item.
 */
#define DELIVERY_ROUND_ITEMS 100
#define DELIVERY_ROUND_BYTES (4 * 1024 * 1024)

typedef struct runner {
    offline_host *oh;
    char *full_jid;
    char *user;
    int outstanding; /* messages sent, not yet written and deleted */
    int in_round;    /* inside on_round(): do not start the next yet */
    int more;        /* the store may hold more than this round took */
    int failed;      /* one was not written or not deleted: stop */
} runner;

static void runner_step(runner *r);

static void runner_free(runner *r)
{
    offline_host_unref(r->oh);
    free(r->full_jid);
    free(r->user);
    free(r);
}

/* A round is over when its last message is done. */
static void runner_check(runner *r)
{
    if (r->in_round || r->outstanding > 0)
        return;
    if (r->more && !r->failed && !r->oh->removed)
        runner_step(r);
    else
        runner_free(r);
}

static int in_flight(const offline_host *oh, const char *user,
                     const char *tag)
{
    for (const delivery *d = oh->in_flight; d; d = d->next)
        if (strcmp(d->tag, tag) == 0 && strcmp(d->user, user) == 0)
            return 1;
    return 0;
}

static void delivery_finish(delivery *d, int ok)
{
    offline_host *oh = d->oh;
    runner *r = d->runner;
    for (delivery **link = &oh->in_flight; *link; link = &(*link)->next)
        if (*link == d) {
            *link = d->next;
            break;
        }
    free(d->user);
    free(d->tag);
    free(d);
    offline_host_unref(oh);
    if (!ok)
        r->failed = 1;
    r->outstanding--;
    runner_check(r);
}

static void on_deleted(int status, void *userdata)
{
    delivery *d = userdata;
    if (status != MYNAH_STORE_OK)
        api->log(self, MYNAH_LOG_WARN,
                 "could not delete a delivered offline message of %s@%s: "
                 "it will be delivered again",
                 d->user, host_label(d->oh));
    delivery_finish(d, status == MYNAH_STORE_OK);
}

static void on_flushed(int written, void *userdata)
{
    delivery *d = userdata;
    if (!written || d->oh->removed) {
        delivery_finish(d, 0); /* still stored: delivered next time */
        return;
    }
    /* Only this item: same time, same unique tag. */
    mynah_archive_query query = {0};
    query.start = d->when;
    query.end = d->when;
    query.with = d->tag;
    api->archive_delete(d->oh->store, d->user, &query, on_deleted, d);
}

/* XEP-0203: <delay xmlns='urn:xmpp:delay' from='HOST' stamp='...Z'/>,
 * the stamp in the XEP-0082 DateTime profile. */
static void add_delay(mynah_stanza *message, const char *host, int64_t when)
{
    time_t seconds = (time_t)(when / 1000000);
    struct tm utc;
    char stamp[32];
    if (gmtime_r(&seconds, &utc) == NULL)
        return;
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    mynah_element *delay =
        api->element_add_child(api->stanza_root(message), "delay", NS_DELAY);
    if (delay != NULL) {
        api->element_set_attr(delay, "from", host);
        api->element_set_attr(delay, "stamp", stamp);
    }
}

/* Sends one stored message; 0 when it is on its way. */
static int deliver_item(runner *r, mynah_session *s,
                        const mynah_archive_item *item)
{
    offline_host *oh = r->oh;
    mynah_stanza *message = api->stanza_parse(item->data, item->len);
    delivery *d = calloc(1, sizeof *d);
    if (message == NULL || d == NULL || (d->user = strdup(r->user)) == NULL ||
        (d->tag = strdup(item->with)) == NULL) {
        if (message == NULL)
            api->log(self, MYNAH_LOG_WARN,
                     "an offline message of %s@%s is unreadable: kept",
                     r->user, host_label(oh));
        else
            api->stanza_unref(message);
        if (d)
            free(d->user);
        free(d);
        return -1;
    }
    add_delay(message, api->host_name(oh->host), item->when);
    d->when = item->when;
    d->oh = offline_host_ref(oh);
    d->runner = r;
    d->next = oh->in_flight;
    oh->in_flight = d;
    r->outstanding++;
    api->session_send(s, message);
    if (api->session_on_flushed_held(self, s, on_flushed, d) != 0)
        delivery_finish(d, 0); /* not deleted: delivered again next time */
    return 0;
}

static void on_round(int status, const mynah_archive_item *items,
                     size_t count, int complete, void *userdata)
{
    runner *r = userdata;
    mynah_session *s = api->session_find(r->full_jid);
    if (status != MYNAH_STORE_OK || s == NULL || r->oh->removed) {
        runner_free(r);
        return;
    }
    r->in_round = 1;
    r->more = !complete;
    size_t bytes = 0, sent = 0;
    for (size_t i = 0; i < count; i++) {
        /* Another session of the user is receiving it right now. */
        if (items[i].with == NULL ||
            in_flight(r->oh, r->user, items[i].with))
            continue;
        if (sent > 0 && bytes + items[i].len > DELIVERY_ROUND_BYTES) {
            r->more = 1;
            break;
        }
        if (deliver_item(r, s, &items[i]) == 0) {
            sent++;
            bytes += items[i].len;
        } else {
            r->failed = 1; /* it would come first in every round */
        }
    }
    r->in_round = 0;
    if (sent == 0)
        r->more = 0; /* all taken by another session, or unreadable */
    runner_check(r);
}

static void runner_step(runner *r)
{
    mynah_archive_query query = {0};
    query.max = DELIVERY_ROUND_ITEMS;
    api->archive_find(r->oh->store, r->user, &query, on_round, r);
}

static void deliver_to(offline_host *oh, mynah_session *s)
{
    const mynah_jid *jid = api->session_jid(s);
    runner *r = calloc(1, sizeof *r);
    if (r == NULL || (r->full_jid = strdup(api->jid_full(jid))) == NULL ||
        (r->user = strdup(api->jid_part(jid, MYNAH_JID_LOCAL))) == NULL) {
        if (r)
            free(r->full_jid);
        free(r);
        return;
    }
    r->oh = offline_host_ref(oh);
    runner_step(r);
}

/* The session still waits if its mark is the one we noted. */
static int take_waiting(mynah_session *s, unsigned serial)
{
    const waiting_mark *mark = api->session_get_data(self, s);
    if (mark == NULL || (serial != 0 && mark->serial != serial))
        return 0;
    api->session_set_data(self, s, NULL, NULL);
    return 1;
}

static void on_deliver_timer(mynah_timer *timer, void *userdata)
{
    (void)timer;
    offline_host *oh = userdata;
    oh->timer = NULL;
    waiting *list = oh->waiting;
    oh->waiting = NULL;
    /* Oldest first: the list is built by prepending. */
    waiting *reversed = NULL;
    while (list != NULL) {
        waiting *w = list;
        list = w->next;
        w->next = reversed;
        reversed = w;
    }
    while (reversed != NULL) {
        waiting *w = reversed;
        reversed = w->next;
        mynah_session *s = api->session_find(w->full_jid);
        if (s != NULL && take_waiting(s, w->serial))
            deliver_to(oh, s);
        free(w->full_jid);
        free(w);
    }
}

static int priority_of(mynah_stanza *presence)
{
    mynah_element *p =
        api->element_child(api->stanza_root(presence), "priority", NULL);
    return p ? atoi(api->element_text(p)) : 0;
}

/* Early: is this presence one that should bring the stored messages? */
static int on_presence_early(mynah_event *event, void *userdata)
{
    offline_host *oh = userdata;
    mynah_stanza *presence = api->event_stanza(event);
    mynah_session *s = api->event_origin(event);
    if (s == NULL || api->session_kind(s) != MYNAH_SESSION_C2S ||
        attr(presence, "to") != NULL || attr(presence, "type") != NULL ||
        api->session_jid(s) == NULL)
        return MYNAH_PASS;
    /* RFC 6121 §8.5.2.1.1: only resources with a non-negative priority
     * receive messages to the bare JID; one that already was one had its
     * messages. */
    if (priority_of(presence) < 0 ||
        (api->session_available(s) && api->session_priority(s) >= 0))
        return MYNAH_PASS;
    waiting_mark *mark = malloc(sizeof *mark);
    waiting *w = calloc(1, sizeof *w);
    if (mark == NULL || w == NULL ||
        (w->full_jid = strdup(api->jid_full(api->session_jid(s)))) == NULL) {
        free(mark);
        free(w);
        return MYNAH_PASS;
    }
    mark->serial = w->serial = ++next_serial;
    if (next_serial == 0)
        mark->serial = w->serial = ++next_serial;
    api->session_set_data(self, s, mark, free);
    w->next = oh->waiting;
    oh->waiting = w;
    if (oh->timer == NULL)
        oh->timer = api->timer_add(self, 0, on_deliver_timer, oh);
    return MYNAH_PASS;
}

/* Late: the chain got here, so the presence has been handled. */
static int on_presence_late(mynah_event *event, void *userdata)
{
    offline_host *oh = userdata;
    mynah_session *s = api->event_origin(event);
    if (s != NULL && take_waiting(s, 0))
        deliver_to(oh, s);
    return MYNAH_PASS;
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    if (!MYNAH_API_HAS(table, session_on_flushed_held))
        return -1;
    api = table;
    modutil_init(table);
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    offline_host *oh = calloc(1, sizeof *oh);
    if (oh == NULL)
        return -1;
    oh->host = host;
    oh->refs = 1;
    api->host_set_data(module, host, oh);
    oh->store = api->open_store(module, host, "offline", MYNAH_STORE_ARCHIVE);
    if (oh->store == NULL ||
        api->hook(module, host, "message/offline", on_message_offline, oh,
                  MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "pre-presence/bare", on_presence_early, oh,
                  MYNAH_PRIORITY_EARLY) != 0 ||
        api->hook(module, host, "pre-presence/bare", on_presence_late, oh,
                  MYNAH_PRIORITY_LATE) != 0 ||
        api->add_feature(module, host, FEATURE_MSGOFFLINE) != 0) {
        api->host_set_data(module, host, NULL);
        free(oh);
        return -1;
    }
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    offline_host *oh = api->host_get_data(module, host);
    if (oh == NULL)
        return;
    if (oh->timer != NULL)
        api->timer_cancel(oh->timer);
    oh->timer = NULL;
    /* Messages still on their way stay stored: the next login gets them. */
    oh->removed = 1;
    api->host_set_data(module, host, NULL);
    offline_host_unref(oh);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "offline",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
