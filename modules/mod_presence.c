/*
 * mod_presence: presence and presence subscriptions (RFC 6121 §3, §4 and
 * Appendix A).
 *
 * Outbound (stanzas a local session sent, "pre-presence/..." on the
 * sender's host):
 *   - broadcast presence (no 'to'): to every contact with a subscription
 *     'from' or 'both' and to the user's own available resources; the first
 *     one also probes the contacts the user is subscribed to, hands the new
 *     resource the presence of the user's other resources and re-delivers
 *     the subscription requests waiting for an answer (§4.2, §3.1.3);
 *   - unavailable: the same broadcast, plus every entity that got directed
 *     presence from this session (§4.5, §4.6);
 *   - subscribe / subscribed / unsubscribe / unsubscribed: the sender's
 *     side of the state machine (Appendix A.3), then routed from the
 *     user's bare JID to the contact's bare JID (§3.1.2);
 *   - directed presence: remembered per session for the unavailable to
 *     come, then routed as it is.
 * Inbound (to a local user, "presence/bare" and "presence/full" on the
 * contact's host):
 *   - the contact's side of the state machine (Appendix A.2), delivering a
 *     subscription stanza only when it changes something, auto-replying
 *     where the RFC says so, and keeping an unanswered request for the
 *     next login;
 *   - probes (§4.3.2), answered with the user's current presence;
 *   - presence to a bare JID goes to every available resource.
 * When a session ends for any reason ("resource-unbind"), an available one
 * broadcasts unavailable presence as if the client had sent it.
 *
 * Roster items are the ones mod_roster serves (roster_store.c); every
 * change the user can see is pushed with a new roster version, after the
 * store acknowledged it.
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#include "roster_store.h"

static const mynah_api *api;
static mynah_module *self;

static const char *const depends[] = {"roster", NULL};

/* The same entry as mod_roster's: the limit applies to the items the
 * subscription protocol creates too. */
static const mynah_option_spec options[] = {
    {"roster_max_items", MYNAH_OPTION_INTEGER, ROSTER_MAX_ITEMS_DEFAULT, 1,
     1000000, 1, "at most this many contacts in a user's roster"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

/* Directed presence a session sent (§4.6), kept until it goes unavailable.
 * Bounded: past the limit the oldest entries are forgotten. */
#define DIRECTED_MAX 256

typedef struct directed_set {
    char *targets[DIRECTED_MAX];
    size_t count;
} directed_set;

static mynah_store *host_store(mynah_host *host)
{
    return api->host_get_data(self, host);
}

static int is(const char *value, const char *want)
{
    return value != NULL && strcmp(value, want) == 0;
}

static int is_subscription_type(const char *type)
{
    return is(type, "subscribe") || is(type, "subscribed") ||
           is(type, "unsubscribe") || is(type, "unsubscribed");
}

static const char *attr(mynah_stanza *stanza, const char *name)
{
    return api->element_attr(api->stanza_root(stanza), name);
}

static const char *session_full(const mynah_session *s)
{
    return api->jid_full(api->session_jid(s));
}

/* ---- directed presence (§4.6) ---- */

static void directed_free(void *data)
{
    directed_set *set = data;
    for (size_t i = 0; i < set->count; i++)
        free(set->targets[i]);
    free(set);
}

static void directed_note(mynah_session *s, const char *target, int available)
{
    directed_set *set = api->session_get_data(self, s);
    for (size_t i = 0; set != NULL && i < set->count; i++) {
        if (strcmp(set->targets[i], target) != 0)
            continue;
        if (!available) {
            free(set->targets[i]);
            set->targets[i] = set->targets[--set->count];
        }
        return;
    }
    if (!available)
        return;
    if (set == NULL) {
        set = calloc(1, sizeof *set);
        if (set == NULL)
            return;
        api->session_set_data(self, s, set, directed_free);
    }
    char *copy = strdup(target);
    if (copy == NULL)
        return;
    if (set->count == DIRECTED_MAX) {
        free(set->targets[0]);
        memmove(set->targets, set->targets + 1,
                (DIRECTED_MAX - 1) * sizeof *set->targets);
        set->count--;
    }
    set->targets[set->count++] = copy;
}

/* ---- sending ---- */

/* A copy of `stanza` with new addresses, routed. */
static void route_copy(mynah_stanza *stanza, const char *from, const char *to)
{
    mynah_stanza *copy = api->stanza_copy(stanza);
    if (copy == NULL)
        return;
    mynah_element *root = api->stanza_root(copy);
    if (from != NULL)
        api->element_set_attr(root, "from", from);
    api->element_set_attr(root, "to", to);
    api->route(copy);
}

static void send_copy(mynah_session *s, mynah_stanza *stanza, const char *to)
{
    mynah_stanza *copy = api->stanza_copy(stanza);
    if (copy == NULL)
        return;
    api->element_set_attr(api->stanza_root(copy), "to", to);
    api->session_send(s, copy);
}

/* §8.5.2.1.1: presence for a bare JID goes to every available resource
 * (whatever its priority).  Returns how many got it. */
static int deliver_to_available(const char *bare, mynah_stanza *stanza)
{
    int n = 0;
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(bare, i)) != NULL; i++) {
        if (!api->session_available(s))
            continue;
        api->session_send(s, api->stanza_ref(stanza));
        n++;
    }
    return n;
}

/* The last presence of each of the user's available resources, to `to`
 * (an approval §3.1.5, a probe §4.3.2).  Returns how many were sent. */
static int send_current_presence(const char *bare, const char *to)
{
    int n = 0;
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(bare, i)) != NULL; i++) {
        mynah_stanza *presence = api->session_presence(s);
        if (!api->session_available(s) || presence == NULL)
            continue;
        route_copy(presence, session_full(s), to);
        n++;
    }
    return n;
}

/* ---- the state machine after the store acknowledged ---- */

enum effect {
    PUSH = 1 << 0,            /* roster push of the item */
    ROUTE = 1 << 1,           /* the stanza, from owner to peer */
    DELIVER = 1 << 2,         /* the stanza, to the owner's resources */
    SEND_PRESENCE = 1 << 3,   /* owner's current presence to peer */
    SEND_UNAVAILABLE = 1 << 4,/* owner's resources unavailable to peer */
    REPLY_SUBSCRIBED = 1 << 5,/* subscribed from owner to peer */
    REFUSE_FULL = 1 << 6      /* error to the sender: the roster is full */
};

typedef struct subscription_op {
    char *owner;     /* whose roster changes */
    char *peer;      /* the contact concerned */
    char *type;      /* subscribe, subscribed, unsubscribe, unsubscribed */
    int inbound;     /* the peer sent it (else the owner did) */
    unsigned effects;
    roster *r;
} subscription_op;

static void subscription_op_free(void *data)
{
    subscription_op *op = data;
    free(op->owner);
    free(op->peer);
    free(op->type);
    roster_free(op->r);
    free(op);
}

static void run_effects(roster_job *job)
{
    subscription_op *op = job->data;
    mynah_stanza *stanza = api->event_stanza(job->event);
    if (op->effects & PUSH) {
        roster_item *item = roster_find(op->r, op->peer);
        if (item != NULL && item->listed)
            roster_push(api, op->r, op->peer, item, 0);
    }
    /* Cancelling a subscription: the peer learns we are gone (§3.2.2),
     * before the unsubscribed itself. */
    if (op->effects & SEND_UNAVAILABLE)
        roster_send_unavailable_from_resources(api, op->owner, op->peer);
    if ((op->effects & ROUTE) && stanza != NULL)
        route_copy(stanza, op->owner, op->peer);
    if ((op->effects & REFUSE_FULL) && stanza != NULL)
        modutil_reply_error(stanza, "cancel", "not-allowed",
                            "The roster is full");
    if ((op->effects & DELIVER) && stanza != NULL)
        deliver_to_available(op->owner, stanza);
    if (op->effects & REPLY_SUBSCRIBED)
        roster_send_presence(api, op->owner, op->peer, "subscribed");
    /* After an approval the new subscriber gets our presence (§3.1.5). */
    if (op->effects & SEND_PRESENCE)
        send_current_presence(op->owner, op->peer);
    roster_job_end(job);
}

static void on_subscription_saved(int ok, void *userdata)
{
    roster_job *job = userdata;
    subscription_op *op = job->data;
    if (!ok) {
        api->log(self, MYNAH_LOG_WARN,
                 "roster of %s not saved: %s from %s dropped", op->owner,
                 op->type, op->inbound ? op->peer : op->owner);
        roster_job_end(job);
        return;
    }
    run_effects(job);
}

/* The item, created (unlisted) when absent; NULL when the roster is full. */
static roster_item *item_for(roster_job *job, roster *r, const char *jid)
{
    roster_item *item = roster_find(r, jid);
    if (item != NULL)
        return item;
    long long max = api->option_integer(self, api->event_host(job->event),
                                        "roster_max_items");
    if ((long long)r->count >= max)
        return NULL;
    return roster_add(r, jid);
}

/*
 * Appendix A.3: the user sent a subscription stanza to a contact.  Sets the
 * effects; returns 1 when the item changed.
 */
static int outbound_transition(roster_job *job, subscription_op *op,
                               roster *r)
{
    roster_item *item = roster_find(r, op->peer);
    if (is(op->type, "subscribe")) {
        /* §3.1.2: the request always goes out; the contact's server
         * answers it even when we think we are subscribed already. */
        if (item == NULL && (item = item_for(job, r, op->peer)) == NULL) {
            op->effects |= REFUSE_FULL;
            return 0;
        }
        op->effects |= ROUTE;
        int changed = 0;
        if (!(item->subscription & ROSTER_SUB_TO) && !item->ask) {
            item->ask = 1;
            changed = 1;
        }
        if (!item->listed) {
            item->listed = 1;
            changed = 1;
        }
        return changed;
    }
    if (is(op->type, "unsubscribe")) {
        op->effects |= ROUTE;
        if (item == NULL ||
            (!(item->subscription & ROSTER_SUB_TO) && !item->ask))
            return 0;
        item->subscription &= ~ROSTER_SUB_TO;
        item->ask = 0;
        return 1;
    }
    if (is(op->type, "subscribed")) {
        if (item != NULL && item->pending_in) {
            /* §3.1.5: approval. */
            item->pending_in = 0;
            roster_item_set_request(item, NULL);
            item->subscription |= ROSTER_SUB_FROM;
            item->approved = 0;
            item->listed = 1;
            op->effects |= ROUTE | SEND_PRESENCE;
            return 1;
        }
        if (item != NULL && (item->subscription & ROSTER_SUB_FROM))
            return 0; /* already subscribed: nothing to say */
        /* §3.4: pre-approval, kept in the roster, not sent. */
        if (item == NULL && (item = item_for(job, r, op->peer)) == NULL)
            return 0;
        if (item->approved && item->listed)
            return 0;
        item->approved = 1;
        item->listed = 1;
        return 1;
    }
    /* unsubscribed: §3.2 (cancel), or a denial of a pending request. */
    if (item == NULL)
        return 0;
    if ((item->subscription & ROSTER_SUB_FROM) || item->pending_in) {
        if (item->subscription & ROSTER_SUB_FROM)
            op->effects |= SEND_UNAVAILABLE;
        item->subscription &= ~ROSTER_SUB_FROM;
        item->pending_in = 0;
        roster_item_set_request(item, NULL);
        item->approved = 0;
        op->effects |= ROUTE;
        return 1;
    }
    if (item->approved) {
        /* §3.4: unsubscribed cancels a pre-approval. */
        item->approved = 0;
        return 1;
    }
    return 0;
}

/*
 * Appendix A.2: a contact's subscription stanza reached the user.  Sets
 * the effects (DELIVER only when the state changes, as the tables say);
 * returns 1 when the item changed.
 */
static int inbound_transition(roster_job *job, subscription_op *op, roster *r,
                              mynah_stanza *stanza)
{
    roster_item *item = roster_find(r, op->peer);
    if (is(op->type, "subscribe")) {
        if (item != NULL && (item->subscription & ROSTER_SUB_FROM)) {
            /* §3.1.3: already subscribed: auto-reply, do not bother the
             * user (and resend our presence: the peer lost track). */
            op->effects |= REPLY_SUBSCRIBED | SEND_PRESENCE;
            return 0;
        }
        if (item != NULL && item->approved) {
            /* §3.4: pre-approved. */
            item->approved = 0;
            item->subscription |= ROSTER_SUB_FROM;
            item->listed = 1;
            op->effects |= REPLY_SUBSCRIBED | SEND_PRESENCE;
            return 1;
        }
        if (item != NULL && item->pending_in)
            return 0; /* A.2.1: a request already waiting */
        if (item == NULL && (item = item_for(job, r, op->peer)) == NULL) {
            api->log(self, MYNAH_LOG_DEBUG,
                     "roster of %s is full: request from %s dropped",
                     op->owner, op->peer);
            return 0;
        }
        /* Kept for re-delivery at login until answered (§3.1.3). */
        char *text = stanza ? api->stanza_to_string(stanza, NULL) : NULL;
        item->pending_in = 1;
        roster_item_set_request(item, text);
        free(text);
        op->effects |= DELIVER;
        return 1;
    }
    if (item == NULL)
        return 0;
    if (is(op->type, "subscribed")) {
        if (!item->ask)
            return 0; /* §3.1.6: not asked for: ignored */
        item->ask = 0;
        item->subscription |= ROSTER_SUB_TO;
        op->effects |= DELIVER;
        return 1;
    }
    if (is(op->type, "unsubscribe")) {
        if (item->subscription & ROSTER_SUB_FROM) {
            /* §3.3.3: the contact no longer gets our presence. */
            item->subscription &= ~ROSTER_SUB_FROM;
            op->effects |= DELIVER | SEND_UNAVAILABLE;
            return 1;
        }
        if (item->pending_in) {
            /* The request is withdrawn. */
            item->pending_in = 0;
            roster_item_set_request(item, NULL);
            op->effects |= DELIVER;
            return 1;
        }
        return 0;
    }
    /* unsubscribed: §3.2.3 (cancelled), or our request was denied. */
    if (!(item->subscription & ROSTER_SUB_TO) && !item->ask)
        return 0;
    item->subscription &= ~ROSTER_SUB_TO;
    item->ask = 0;
    op->effects |= DELIVER;
    return 1;
}

/* What a roster push would show of an item; 0 when it is not listed. */
static unsigned visible_state(const roster_item *item)
{
    if (item == NULL || !item->listed)
        return 0;
    return 1u | (item->subscription << 1) | ((unsigned)item->ask << 3) |
           ((unsigned)item->approved << 4);
}

static void on_subscription_loaded(roster *r, void *userdata)
{
    roster_job *job = userdata;
    subscription_op *op = job->data;
    if (r == NULL) {
        api->log(self, MYNAH_LOG_WARN, "roster of %s unreadable: %s dropped",
                 op->owner, op->type);
        roster_job_end(job);
        return;
    }
    op->r = r;
    unsigned before = visible_state(roster_find(r, op->peer));
    int changed =
        op->inbound
            ? inbound_transition(job, op, r, api->event_stanza(job->event))
            : outbound_transition(job, op, r);
    if (!changed) {
        run_effects(job);
        return;
    }
    /* The version moves (and a push goes out) only when the user can see
     * the change: a pending-in request alone is not part of the roster. */
    int visible = visible_state(roster_find(r, op->peer)) != before;
    if (visible)
        op->effects |= PUSH;
    roster_save(api, host_store(api->event_host(job->event)), r, op->peer,
                visible, on_subscription_saved, job);
}

static int start_subscription(mynah_event *event, char *owner, char *peer,
                              const char *type, int inbound)
{
    subscription_op *op = calloc(1, sizeof *op);
    if (op == NULL || (op->type = strdup(type)) == NULL) {
        free(op);
        free(owner);
        free(peer);
        return MYNAH_HANDLED;
    }
    op->owner = owner;
    op->peer = peer;
    op->inbound = inbound;
    roster_job *job = roster_job_begin(api, event, op, subscription_op_free);
    if (job == NULL)
        return MYNAH_HANDLED;
    roster_load(api, self, host_store(api->event_host(event)), owner,
                on_subscription_loaded, job);
    return roster_job_return(job);
}

/* ---- broadcasts (§4.2, §4.4, §4.5) ---- */

typedef struct broadcast_op {
    int unavailable;    /* else available */
    int initial;        /* the session's first available presence */
    int was_available;  /* before this presence */
    mynah_stanza *presence; /* what to broadcast (unbind: generated) */
} broadcast_op;

static void broadcast_op_free(void *data)
{
    broadcast_op *op = data;
    if (op->presence != NULL)
        api->stanza_unref(op->presence);
    free(op);
}

/* Directed presence recipients get unavailable too, unless the broadcast
 * already reached them (subscribed contacts, when there was a broadcast:
 * r is NULL otherwise). */
static void unavailable_to_directed(mynah_session *origin, const roster *r,
                                    mynah_stanza *presence)
{
    directed_set *set = api->session_get_data(self, origin);
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->count; i++) {
        char *bare = roster_bare_of(api, set->targets[i]);
        roster_item *item = (bare && r) ? roster_find(r, bare) : NULL;
        free(bare);
        if (item != NULL && (item->subscription & ROSTER_SUB_FROM))
            continue;
        route_copy(presence, NULL, set->targets[i]);
    }
    api->session_set_data(self, origin, NULL, NULL);
}

static void redeliver_requests(mynah_session *origin, const roster *r)
{
    for (size_t i = 0; i < r->count; i++) {
        const roster_item *item = r->items[i];
        if (!item->pending_in || item->request == NULL)
            continue;
        mynah_stanza *request =
            api->stanza_parse(item->request, strlen(item->request));
        if (request != NULL)
            api->session_send(origin, request);
    }
}

static void on_broadcast_loaded(roster *r, void *userdata)
{
    roster_job *job = userdata;
    broadcast_op *op = job->data;
    mynah_session *origin = api->event_origin(job->event);
    if (origin == NULL || op->presence == NULL) {
        roster_free(r);
        roster_job_end(job);
        return;
    }
    const char *full = session_full(origin);
    const char *bare = api->jid_bare(api->session_jid(origin));
    if (r == NULL)
        api->log(self, MYNAH_LOG_WARN,
                 "roster of %s unreadable: presence goes to no contact", bare);

    if (!op->unavailable || op->was_available) {
        for (size_t i = 0; r != NULL && i < r->count; i++)
            if (r->items[i]->subscription & ROSTER_SUB_FROM)
                route_copy(op->presence, full, r->items[i]->jid);
        /* The user's other available resources, and (§4.2.2, §4.4.2) for
         * available presence the sender itself. */
        mynah_session *s;
        for (size_t i = 0; (s = api->session_of_user(bare, i)) != NULL; i++) {
            if (s == origin ? op->unavailable : !api->session_available(s))
                continue;
            send_copy(s, op->presence, session_full(s));
        }
    }
    if (op->unavailable) {
        unavailable_to_directed(origin, op->was_available ? r : NULL,
                                op->presence);
    } else if (op->initial) {
        /* §4.3.1: probe those whose presence we want. */
        for (size_t i = 0; r != NULL && i < r->count; i++)
            if (r->items[i]->subscription & ROSTER_SUB_TO)
                roster_send_presence(api, full, r->items[i]->jid, "probe");
        /* §4.2.2: the new resource learns of its siblings. */
        mynah_session *s;
        for (size_t i = 0; (s = api->session_of_user(bare, i)) != NULL; i++) {
            mynah_stanza *presence = api->session_presence(s);
            if (s == origin || !api->session_available(s) || presence == NULL)
                continue;
            send_copy(origin, presence, full);
        }
        /* §3.1.3: requests that waited for the user. */
        if (r != NULL)
            redeliver_requests(origin, r);
    }
    roster_free(r);
    roster_job_end(job);
}

static int start_broadcast(mynah_event *event, mynah_session *origin,
                           mynah_stanza *presence, int unavailable)
{
    broadcast_op *op = calloc(1, sizeof *op);
    if (op == NULL) {
        api->stanza_unref(presence);
        return MYNAH_HANDLED;
    }
    op->presence = presence;
    op->unavailable = unavailable;
    op->was_available = api->session_available(origin);
    op->initial = !unavailable && !op->was_available;
    if (unavailable && !op->was_available &&
        api->session_get_data(self, origin) == NULL) {
        broadcast_op_free(op);
        return MYNAH_PASS; /* nobody to tell */
    }
    roster_job *job = roster_job_begin(api, event, op, broadcast_op_free);
    if (job == NULL)
        return MYNAH_HANDLED;
    roster_load(api, self, host_store(api->session_host(origin)),
                api->jid_bare(api->session_jid(origin)), on_broadcast_loaded,
                job);
    return roster_job_return(job);
}

/* ---- probes (§4.3.2) ---- */

typedef struct probe_op {
    char *owner;   /* the probed user */
    char *prober;  /* bare JID */
    char *reply_to;/* the probe's 'from' */
} probe_op;

static void probe_op_free(void *data)
{
    probe_op *op = data;
    free(op->owner);
    free(op->prober);
    free(op->reply_to);
    free(op);
}

static void answer_probe(const probe_op *op, int subscribed)
{
    if (!subscribed) {
        /* §4.3.2: not a subscriber (or no such user): unsubscribed, which
         * also mends the prober's roster. */
        roster_send_presence(api, op->owner, op->prober, "unsubscribed");
        return;
    }
    if (send_current_presence(op->owner, op->reply_to) == 0)
        /* No resource available: say so, from the bare JID. */
        roster_send_presence(api, op->owner, op->reply_to, "unavailable");
}

static void on_probe_loaded(roster *r, void *userdata)
{
    roster_job *job = userdata;
    probe_op *op = job->data;
    if (r != NULL) {
        roster_item *item = roster_find(r, op->prober);
        answer_probe(op, item != NULL &&
                             (item->subscription & ROSTER_SUB_FROM) != 0);
    }
    roster_free(r);
    roster_job_end(job);
}

static int handle_probe(mynah_event *event, char *owner, char *prober,
                        const char *from, int exists)
{
    probe_op *op = calloc(1, sizeof *op);
    if (op == NULL || (op->reply_to = strdup(from)) == NULL) {
        free(op);
        free(owner);
        free(prober);
        return MYNAH_HANDLED;
    }
    op->owner = owner;
    op->prober = prober;
    if (!exists || strcmp(owner, prober) == 0) {
        /* The account's own resources may always know (and a missing
         * account is answered like a non-subscriber). */
        answer_probe(op, exists);
        probe_op_free(op);
        return MYNAH_HANDLED;
    }
    roster_job *job = roster_job_begin(api, event, op, probe_op_free);
    if (job == NULL)
        return MYNAH_HANDLED;
    roster_load(api, self, host_store(api->event_host(event)), owner,
                on_probe_loaded, job);
    return roster_job_return(job);
}

/* ---- hooks ---- */

/* A presence a local session sent. */
static int on_outbound(mynah_event *event, void *userdata)
{
    (void)userdata;
    mynah_session *origin = api->event_origin(event);
    mynah_stanza *stanza = api->event_stanza(event);
    if (origin == NULL || stanza == NULL || api->session_jid(origin) == NULL)
        return MYNAH_PASS;
    const char *type = attr(stanza, "type");
    const char *to = attr(stanza, "to");
    if (to == NULL) {
        if (type == NULL || is(type, "unavailable")) {
            /* Other modules may watch broadcasts too (the core routes
             * none of them): the chain goes on. */
            start_broadcast(event, origin, api->stanza_ref(stanza),
                            type != NULL);
            return MYNAH_PASS;
        }
        /* A subscription stanza or probe for nobody: dropped. */
        return MYNAH_HANDLED;
    }
    if (is_subscription_type(type)) {
        const char *own = api->jid_bare(api->session_jid(origin));
        char *peer = roster_bare_of(api, to);
        if (peer == NULL || strcmp(peer, own) == 0) {
            free(peer); /* one's own presence needs no subscription */
            return MYNAH_HANDLED;
        }
        char *owner = strdup(own);
        if (owner == NULL) {
            free(peer);
            return MYNAH_HANDLED;
        }
        return start_subscription(event, owner, peer, type, 0);
    }
    if (type == NULL || is(type, "unavailable"))
        directed_note(origin, to, type == NULL);
    return MYNAH_PASS; /* routed as it is */
}

/* A presence for a local user (bare or full JID). */
static int on_inbound(mynah_event *event, void *userdata)
{
    (void)userdata;
    mynah_stanza *stanza = api->event_stanza(event);
    const char *type = attr(stanza, "type");
    const char *from = attr(stanza, "from");
    const char *to = attr(stanza, "to");
    int full = strchr(to, '/') != NULL;
    if (from == NULL)
        return MYNAH_HANDLED;
    if (is(type, "error"))
        return MYNAH_PASS;
    if (!is_subscription_type(type) && !is(type, "probe")) {
        if (full)
            return MYNAH_PASS; /* §8.5.3: that resource, if there */
        deliver_to_available(to, stanza);
        return MYNAH_HANDLED;
    }
    /* Subscription stanzas and probes concern the account: a full 'to' is
     * treated as the bare JID (§3.1.3, §8.5.3.2.1). */
    char *owner = roster_bare_of(api, to);
    char *peer = roster_bare_of(api, from);
    if (owner == NULL || peer == NULL) {
        free(owner);
        free(peer);
        return MYNAH_HANDLED;
    }
    char *local = roster_local_of(owner);
    int exists = local != NULL &&
                 api->user_exists(api->event_host(event), local) == 1;
    free(local);
    if (is(type, "probe"))
        return handle_probe(event, owner, peer, from, exists);
    if (!exists || strcmp(owner, peer) == 0) {
        /* §8.5.2.2.? / §3.1.3: a request for an account that does not
         * exist is answered as a refusal, without saying more. */
        if (!exists && is(type, "subscribe"))
            roster_send_presence(api, owner, peer, "unsubscribed");
        free(owner);
        free(peer);
        return MYNAH_HANDLED;
    }
    return start_subscription(event, owner, peer, type, 1);
}

/* §4.5.1: a session that ends without saying goodbye went unavailable. */
static int on_unbind(mynah_event *event, void *userdata)
{
    (void)userdata;
    mynah_session *origin = api->event_origin(event);
    if (origin == NULL || api->session_jid(origin) == NULL)
        return MYNAH_PASS;
    if (!api->session_available(origin) &&
        api->session_get_data(self, origin) == NULL)
        return MYNAH_PASS;
    mynah_stanza *presence = api->stanza_new("presence", NULL);
    if (presence == NULL)
        return MYNAH_PASS;
    mynah_element *root = api->stanza_root(presence);
    api->element_set_attr(root, "type", "unavailable");
    api->element_set_attr(root, "from", session_full(origin));
    /* Others want the unbind too: the chain goes on even while the
     * broadcast waits for the store (the job holds the event). */
    start_broadcast(event, origin, presence, 1);
    return MYNAH_PASS;
}

/* Subscription pre-approval (§3.4) is a stream feature. */
static int on_features(mynah_event *event, void *userdata)
{
    (void)userdata;
    modutil_add_bound_feature(event, "sub", "urn:xmpp:features:pre-approval");
    return MYNAH_PASS;
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    if (!MYNAH_API_HAS(table, session_next))
        return -1;
    api = table;
    modutil_init(table);
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    mynah_store *store = api->open_store(module, host, ROSTER_STORE,
                                         MYNAH_STORE_MAP);
    if (store == NULL)
        return -1;
    api->host_set_data(module, host, store);
    static const char *const outbound[] = {
        "pre-presence/bare", "pre-presence/full", "pre-presence/host",
        "pre-presence/self"};
    for (size_t i = 0; i < sizeof outbound / sizeof *outbound; i++)
        if (api->hook(module, host, outbound[i], on_outbound, NULL,
                      MYNAH_PRIORITY_DEFAULT) != 0)
            return -1;
    if (api->hook(module, host, "presence/bare", on_inbound, NULL,
                  MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "presence/full", on_inbound, NULL,
                  MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "resource-unbind", on_unbind, NULL,
                  MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "stream-features", on_features, NULL,
                  MYNAH_PRIORITY_DEFAULT) != 0)
        return -1;
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    api->host_set_data(module, host, NULL);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "presence",
    .version = "1.0",
    .depends = depends,
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
