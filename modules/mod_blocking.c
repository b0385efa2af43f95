/*
 * mod_blocking: the blocking command (XEP-0191).
 *
 * A user keeps a list of blocked JIDs -- a bare JID, a full JID, or a
 * domain -- in the map store "blocklist" (key = the prepared JID, empty
 * value).  The server then keeps every stanza between the user and a
 * blocked JID from passing, in both directions (XEP-0191 §3.3):
 *
 *   from a blocked JID to the user   presence: dropped without a word;
 *                                    message, iq get/set:
 *                                    service-unavailable (the user seems
 *                                    offline); iq result/error: dropped
 *   from the user to a blocked JID   not-acceptable with
 *                                    <blocked xmlns='urn:xmpp:blocking:errors'/>
 *                                    to the client that sent it; stanzas
 *                                    the server sends on the user's behalf
 *                                    (presence broadcasts, probes) are
 *                                    dropped without a word
 *
 * An item matches as XEP-0191 §6 (XEP-0016 §2.1) says: the JID itself, any
 * resource of a bare JID, and anything at a domain.  A user's own
 * resources and the user's server are never blocked (XEP-0191 §5 note).
 *
 * Enforcement sits on the router's filter events "stanza/out/<kind>" (the
 * sender's host) and "stanza/in/<kind>" (the recipient's host), which see
 * every routed stanza before any other handler: an iq to the user's bare
 * JID is refused before mod_vcard could answer it.  While one of a user's
 * sessions is bound, the list lives in memory, shared by the user's
 * sessions (loaded at resource-bind, freed with the last session), so a
 * check is a few binary searches; for users with no session the store is
 * read.  A session's input is held at resource-bind until its list is
 * loaded, so nothing it sends escapes the check.
 *
 * Blocking or unblocking also tells the other side what XEP-0191 §3.3/3.4
 * require, reading the user's roster (the "roster" store that mod_roster
 * and mod_presence keep, roster_store.h):
 *   block    contact with subscription from/both: unavailable presence from
 *            each available resource of the user; contact with subscription
 *            to/both: unavailable presence from the contact to the user's
 *            available resources (it will not be updated any more);
 *   unblock  from/both: the user's current presence; to/both: a probe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#include "roster_store.h"

#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_BLOCKING_ERRORS "urn:xmpp:blocking:errors"
/* A prepared JID: three parts of at most 1023 bytes, '@', '/' and NUL. */
#define JID_MAX 3072
#define LOCAL_MAX 1024

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"blocking_max_items", MYNAH_OPTION_INTEGER, "1000", 1, 1000000, 1,
     "at most this many JIDs in a user's blocklist"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

typedef struct blocking_host {
    mynah_store *store;  /* map "blocklist": user -> blocked JID -> "" */
    mynah_store *roster; /* map "roster", read only (roster_store.h) */
} blocking_host;

/*
 * Stanzas this module routes itself and that its own filter must let
 * through: the service-unavailable a blocked sender gets "from the user",
 * the unavailable presence a newly blocked contact gets, and a stanza
 * re-routed after an asynchronous check.  Routing is synchronous, so the
 * pointer identifies the stanza for exactly as long as it is set.
 */
static const mynah_stanza *exempt_out;
static const mynah_stanza *exempt_in;

enum direction { INBOUND, OUTBOUND };

/* ---- JID strings (prepared: one '/' starts the resource) ---- */

/* The bare part ("user@host" or "host") of a prepared JID. */
static void bare_of(const char *jid, char *out, size_t size)
{
    size_t len = strcspn(jid, "/");
    if (len >= size)
        len = size - 1;
    memcpy(out, jid, len);
    out[len] = '\0';
}

static void domain_of(const char *jid, char *out, size_t size)
{
    size_t bare_len = strcspn(jid, "/");
    const char *at = memchr(jid, '@', bare_len);
    const char *domain = at ? at + 1 : jid;
    size_t len = bare_len - (size_t)(domain - jid);
    if (len >= size)
        len = size - 1;
    memcpy(out, domain, len);
    out[len] = '\0';
}

/* "alice" of "alice@example.org"; -1 when there is no local part. */
static int local_of(const char *jid, char *out, size_t size)
{
    size_t bare_len = strcspn(jid, "/");
    const char *at = memchr(jid, '@', bare_len);
    if (at == NULL || at == jid || (size_t)(at - jid) >= size)
        return -1;
    memcpy(out, jid, (size_t)(at - jid));
    out[at - jid] = '\0';
    return 0;
}

/* The user's own resources and the user's own server are never blocked. */
static int never_blocked(const char *user_bare, const char *other)
{
    size_t bare_len = strcspn(other, "/");
    if (strlen(user_bare) == bare_len &&
        memcmp(user_bare, other, bare_len) == 0)
        return 1;
    const char *domain = strchr(user_bare, '@');
    return domain != NULL && strcmp(domain + 1, other) == 0;
}

/* The keys an item for `jid` may have (XEP-0191 §6): the JID itself, its
 * bare JID, its domain; *count of them are distinct. */
typedef struct match_keys {
    char bare[JID_MAX];
    char domain[JID_MAX];
    const char *keys[3];
    size_t count;
} match_keys;

static void match_keys_init(match_keys *m, const char *jid)
{
    bare_of(jid, m->bare, sizeof m->bare);
    domain_of(jid, m->domain, sizeof m->domain);
    m->count = 0;
    m->keys[m->count++] = jid;
    if (strcmp(m->bare, jid) != 0)
        m->keys[m->count++] = m->bare;
    if (strcmp(m->domain, m->bare) != 0)
        m->keys[m->count++] = m->domain;
}

/* ---- a sorted set of JIDs ---- */

typedef struct jid_set {
    char **items;
    size_t count;
    size_t capacity;
} jid_set;

/* Index of jid, or where it would go; *found says which. */
static size_t set_position(const jid_set *set, const char *jid, int *found)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(set->items[mid], jid);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static int set_contains(const jid_set *set, const char *jid)
{
    int found;
    set_position(set, jid, &found);
    return found;
}

/* 0, or -1 when out of memory. */
static int set_add(jid_set *set, const char *jid)
{
    int found;
    size_t at = set_position(set, jid, &found);
    if (found)
        return 0;
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 8;
        char **items = realloc(set->items, capacity * sizeof *items);
        if (items == NULL)
            return -1;
        set->items = items;
        set->capacity = capacity;
    }
    char *copy = strdup(jid);
    if (copy == NULL)
        return -1;
    memmove(set->items + at + 1, set->items + at,
            (set->count - at) * sizeof *set->items);
    set->items[at] = copy;
    set->count++;
    return 0;
}

static void set_remove(jid_set *set, const char *jid)
{
    int found;
    size_t at = set_position(set, jid, &found);
    if (!found)
        return;
    free(set->items[at]);
    memmove(set->items + at, set->items + at + 1,
            (set->count - at - 1) * sizeof *set->items);
    set->count--;
}

static void set_clear(jid_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        free(set->items[i]);
    free(set->items);
    set->items = NULL;
    set->count = set->capacity = 0;
}

/* Does the set block `jid` (XEP-0191 §6)? */
static int set_blocks(const jid_set *set, const char *jid)
{
    if (set->count == 0)
        return 0;
    match_keys m;
    match_keys_init(&m, jid);
    for (size_t i = 0; i < m.count; i++)
        if (set_contains(set, m.keys[i]))
            return 1;
    return 0;
}

/* ---- a user's blocklist in memory, shared by their sessions ---- */

enum list_state { LIST_LOADING, LIST_READY, LIST_FAILED };

typedef struct blocklist {
    int refs;             /* sessions using it, and a load in progress */
    enum list_state state;
    jid_set jids;
    mynah_event **held;   /* resource-bind events holding sessions' input */
    size_t held_count;
    struct blocklist *next_in_bucket;
    char user[];          /* the owner's bare JID: the index's key */
} blocklist;

/* What this module keeps per session. */
typedef struct blocking_session {
    blocklist *list;
    int wants_pushes;     /* asked for the blocklist (XEP-0191 §3.2) */
} blocking_session;

/*
 * The lists in memory, by user: a chained hash table.  A list is in it
 * from its user's first bind until its last reference goes, which is when
 * the user's last session is freed -- after the resource-unbind handlers
 * ran, so the presence mod_presence sends for a user logging out is still
 * checked against the list in memory, not the store.
 */
static blocklist **buckets;
static size_t bucket_count;
static size_t list_count;

static size_t hash_string(const char *s)
{
    size_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static blocklist *lists_find(const char *user)
{
    if (bucket_count == 0)
        return NULL;
    blocklist *list = buckets[hash_string(user) & (bucket_count - 1)];
    while (list != NULL && strcmp(list->user, user) != 0)
        list = list->next_in_bucket;
    return list;
}

/* 0, or -1 when out of memory. */
static int lists_insert(blocklist *list)
{
    if (list_count >= bucket_count) {
        size_t count = bucket_count ? bucket_count * 2 : 64;
        blocklist **grown = calloc(count, sizeof *grown);
        if (grown == NULL)
            return -1;
        for (size_t i = 0; i < bucket_count; i++) {
            blocklist *next;
            for (blocklist *l = buckets[i]; l != NULL; l = next) {
                next = l->next_in_bucket;
                size_t at = hash_string(l->user) & (count - 1);
                l->next_in_bucket = grown[at];
                grown[at] = l;
            }
        }
        free(buckets);
        buckets = grown;
        bucket_count = count;
    }
    size_t at = hash_string(list->user) & (bucket_count - 1);
    list->next_in_bucket = buckets[at];
    buckets[at] = list;
    list_count++;
    return 0;
}

static void lists_remove(blocklist *list)
{
    blocklist **link = &buckets[hash_string(list->user) & (bucket_count - 1)];
    while (*link != NULL && *link != list)
        link = &(*link)->next_in_bucket;
    if (*link == NULL)
        return;
    *link = list->next_in_bucket;
    if (--list_count == 0) {
        free(buckets);
        buckets = NULL;
        bucket_count = 0;
    }
}

/* A new list for a user, in the index, with one reference. */
static blocklist *list_new(const char *user)
{
    size_t len = strlen(user);
    blocklist *list = calloc(1, sizeof *list + len + 1);
    if (list == NULL)
        return NULL;
    memcpy(list->user, user, len + 1);
    list->refs = 1;
    if (lists_insert(list) < 0) {
        free(list);
        return NULL;
    }
    return list;
}

static void list_release_held(blocklist *list)
{
    for (size_t i = 0; i < list->held_count; i++)
        api->async_done(list->held[i]);
    free(list->held);
    list->held = NULL;
    list->held_count = 0;
}

static void list_unref(blocklist *list)
{
    if (list == NULL || --list->refs > 0)
        return;
    lists_remove(list);
    list_release_held(list);
    set_clear(&list->jids);
    free(list);
}

static void session_state_free(void *data)
{
    blocking_session *bs = data;
    list_unref(bs->list);
    free(bs);
}

static void list_loaded(int status, const char *const *keys,
                        const void *const *values, const size_t *lens,
                        size_t count, void *userdata)
{
    (void)values;
    (void)lens;
    blocklist *list = userdata;
    set_clear(&list->jids);
    list->state = LIST_READY;
    if (status != MYNAH_STORE_OK) {
        list->state = LIST_FAILED;
    } else {
        for (size_t i = 0; i < count; i++)
            if (set_add(&list->jids, keys[i]) < 0) {
                set_clear(&list->jids);
                list->state = LIST_FAILED;
                break;
            }
    }
    if (list->state == LIST_FAILED)
        api->log(self, MYNAH_LOG_WARN,
                 "could not load a blocklist; checks read the store instead");
    list_release_held(list);
    list_unref(list); /* the load's reference */
}

static void list_load(blocking_host *bh, blocklist *list, const char *bare)
{
    char local[LOCAL_MAX];
    if (local_of(bare, local, sizeof local) < 0) {
        list->state = LIST_FAILED;
        return;
    }
    list->state = LIST_LOADING;
    list->refs++;
    api->map_list(bh->store, local, list_loaded, list);
}

/* Gives a bound session its user's list (shared, or loaded now). */
static blocking_session *attach_session(blocking_host *bh, mynah_session *s)
{
    blocking_session *bs = api->session_get_data(self, s);
    if (bs != NULL)
        return bs;
    const mynah_jid *jid = api->session_jid(s);
    if (jid == NULL)
        return NULL;
    const char *bare = api->jid_bare(jid);
    blocklist *list = lists_find(bare);
    if (list != NULL) {
        list->refs++;
        if (list->state == LIST_FAILED)
            list_load(bh, list, bare); /* try again */
    } else if ((list = list_new(bare)) != NULL) {
        list_load(bh, list, bare);
    } else {
        return NULL;
    }
    bs = calloc(1, sizeof *bs);
    if (bs == NULL) {
        list_unref(list);
        return NULL;
    }
    bs->list = list;
    api->session_set_data(self, s, bs, session_state_free);
    return bs;
}

/* "resource-bind": load the list, holding the session's input until it
 * is known. */
static int on_resource_bind(mynah_event *ev, void *userdata)
{
    (void)userdata;
    blocking_host *bh = api->host_get_data(self, api->event_host(ev));
    mynah_session *s = api->event_origin(ev);
    if (bh == NULL || s == NULL)
        return MYNAH_PASS;
    blocking_session *bs = attach_session(bh, s);
    if (bs == NULL || bs->list->state != LIST_LOADING)
        return MYNAH_PASS;
    mynah_event **held = realloc(bs->list->held,
                                 (bs->list->held_count + 1) * sizeof *held);
    if (held == NULL)
        return MYNAH_PASS;
    bs->list->held = held;
    mynah_event *kept = api->event_ref(ev); /* pauses the session */
    if (kept != NULL)
        held[bs->list->held_count++] = kept;
    return MYNAH_PASS;
}

/* ---- routing what this module sends ---- */

static void route_exempt(mynah_stanza *stanza, int skip_out, int skip_in)
{
    const mynah_stanza *saved_out = exempt_out, *saved_in = exempt_in;
    if (skip_out)
        exempt_out = stanza;
    if (skip_in)
        exempt_in = stanza;
    api->route(stanza);
    exempt_out = saved_out;
    exempt_in = saved_in;
}

static mynah_stanza *presence_new(const char *from, const char *to,
                                  const char *type)
{
    mynah_stanza *p = api->stanza_new("presence", NULL);
    if (p == NULL)
        return NULL;
    mynah_element *root = api->stanza_root(p);
    if (api->element_set_attr(root, "from", from) < 0 ||
        api->element_set_attr(root, "to", to) < 0 ||
        (type != NULL && api->element_set_attr(root, "type", type) < 0)) {
        api->stanza_unref(p);
        return NULL;
    }
    return p;
}

/* ---- enforcement (XEP-0191 §3.3) ---- */

static int type_is(const char *type, const char *want)
{
    return type != NULL && strcmp(type, want) == 0;
}

/* A stanza between the user and a blocked JID: answer as §3.3 says. */
static int refuse(mynah_event *ev, enum direction direction)
{
    mynah_stanza *st = api->event_stanza(ev);
    mynah_element *root = api->stanza_root(st);
    const char *kind = api->element_name(root);
    const char *type = api->element_attr(root, "type");
    if (type_is(type, "error"))
        return MYNAH_HANDLED; /* never an error for an error */

    if (direction == INBOUND) {
        /* Presence: no answer at all; iq result: dropped; message and iq
         * get/set: service-unavailable, as if the user were offline. */
        if (strcmp(kind, "presence") == 0 ||
            (strcmp(kind, "iq") == 0 && !type_is(type, "get") &&
             !type_is(type, "set")))
            return MYNAH_HANDLED;
        mynah_stanza *err = api->stanza_error_reply(st, "cancel",
                                                    "service-unavailable",
                                                    NULL);
        if (err != NULL)
            route_exempt(err, 1, 0); /* from the user to the blocked JID */
        return MYNAH_HANDLED;
    }

    /* Outbound: the client that sent it learns why; what the server sends
     * on the user's behalf (no origin) just stops. */
    mynah_session *origin = api->event_origin(ev);
    if (origin == NULL ||
        (api->session_kind(origin) != MYNAH_SESSION_C2S &&
         api->session_kind(origin) != MYNAH_SESSION_LOCAL))
        return MYNAH_HANDLED;
    mynah_stanza *err = api->stanza_error_reply(st, "cancel", "not-acceptable",
                                                NULL);
    if (err == NULL)
        return MYNAH_HANDLED;
    mynah_element *error = api->element_child(api->stanza_root(err), "error",
                                              NULL);
    if (error != NULL)
        api->element_add_child(error, "blocked", NS_BLOCKING_ERRORS);
    api->session_send(origin, err);
    return MYNAH_HANDLED;
}

/* Available or unavailable presence (not a subscription, not a probe). */
static int presence_notification(mynah_event *ev)
{
    mynah_element *root = api->stanza_root(api->event_stanza(ev));
    const char *type = api->element_attr(root, "type");
    return strcmp(api->element_name(root), "presence") == 0 &&
           (type == NULL || strcmp(type, "unavailable") == 0);
}

/* A check that had to read the store. */
typedef struct pending_check {
    mynah_event *event;  /* kept when the store answers later */
    enum direction direction;
    int in_handler;      /* the handler has not returned yet */
    int answered;
    int blocked;
    int abandoned;       /* could not keep the event: let it be */
    char other[JID_MAX];
} pending_check;

static void check_listed(int status, const char *const *keys,
                         const void *const *values, const size_t *lens,
                         size_t count, void *userdata)
{
    (void)values;
    (void)lens;
    pending_check *pc = userdata;
    if (status == MYNAH_STORE_OK && count > 0) {
        match_keys m;
        match_keys_init(&m, pc->other);
        for (size_t i = 0; i < count && !pc->blocked; i++)
            for (size_t k = 0; k < m.count; k++)
                if (strcmp(keys[i], m.keys[k]) == 0)
                    pc->blocked = 1;
    } else if (status == MYNAH_STORE_ERROR) {
        /* Losing every stanza to a broken store would be worse than
         * letting a blocked one through. */
        api->log(self, MYNAH_LOG_WARN,
                 "could not read a blocklist; the stanza is not checked");
    }
    if (pc->in_handler) {
        pc->answered = 1;
        return;
    }
    if (!pc->abandoned) {
        if (pc->blocked) {
            refuse(pc->event, pc->direction);
        } else {
            /* Route it again, past the checks already done (an inbound
             * check comes after the outbound one).  It goes as the
             * server's: a client's own stanzas do not come here, since its
             * session waits at resource-bind until its list is loaded. */
            mynah_stanza *st = api->stanza_ref(api->event_stanza(pc->event));
            route_exempt(st, 1, pc->direction == INBOUND);
        }
        api->async_done(pc->event);
    }
    free(pc);
}

/* Is the stanza between user_bare and `other` blocked by the user? */
static int check(mynah_event *ev, enum direction direction,
                 const char *user_bare, const char *other)
{
    blocklist *list = lists_find(user_bare);
    if (list != NULL && list->state == LIST_READY)
        return set_blocks(&list->jids, other) ? refuse(ev, direction)
                                                : MYNAH_PASS;
    if (list == NULL && direction == INBOUND && presence_notification(ev))
        /* The user has no session: presence that is not a subscription
         * or a probe reaches nobody (RFC 6121 §4.3), so it is not worth a
         * store read -- a user with many contacts sends a lot of it. */
        return MYNAH_PASS;

    /* No session holds the list: ask the store. */
    blocking_host *bh = api->host_get_data(self, api->event_host(ev));
    char local[LOCAL_MAX];
    if (bh == NULL || local_of(user_bare, local, sizeof local) < 0 ||
        strlen(other) >= JID_MAX)
        return MYNAH_PASS;
    pending_check *pc = calloc(1, sizeof *pc);
    if (pc == NULL)
        return MYNAH_PASS;
    pc->direction = direction;
    pc->in_handler = 1;
    strcpy(pc->other, other);
    api->map_list(bh->store, local, check_listed, pc);
    pc->in_handler = 0;
    if (pc->answered) {
        int blocked = pc->blocked;
        free(pc);
        return blocked ? refuse(ev, direction) : MYNAH_PASS;
    }
    pc->event = api->event_ref(ev);
    if (pc->event == NULL) {
        pc->abandoned = 1;
        return MYNAH_PASS;
    }
    return MYNAH_ASYNC;
}

/* "stanza/in/<kind>": from anyone to a user of this host. */
static int on_inbound(mynah_event *ev, void *userdata)
{
    (void)userdata;
    mynah_stanza *st = api->event_stanza(ev);
    if (st == exempt_in)
        return MYNAH_PASS;
    mynah_element *root = api->stanza_root(st);
    const char *to = api->element_attr(root, "to");
    const char *from = api->element_attr(root, "from");
    char local[LOCAL_MAX];
    if (to == NULL || from == NULL || local_of(to, local, sizeof local) < 0)
        return MYNAH_PASS;
    char user[JID_MAX];
    bare_of(to, user, sizeof user);
    if (never_blocked(user, from))
        return MYNAH_PASS;
    return check(ev, INBOUND, user, from);
}

/* "stanza/out/<kind>": from a user of this host to anyone. */
static int on_outbound(mynah_event *ev, void *userdata)
{
    (void)userdata;
    mynah_stanza *st = api->event_stanza(ev);
    if (st == exempt_out)
        return MYNAH_PASS;
    mynah_element *root = api->stanza_root(st);
    const char *to = api->element_attr(root, "to");
    const char *from = api->element_attr(root, "from");
    char local[LOCAL_MAX];
    if (to == NULL || from == NULL || local_of(from, local, sizeof local) < 0)
        return MYNAH_PASS;
    char user[JID_MAX];
    bare_of(from, user, sizeof user);
    if (never_blocked(user, to))
        return MYNAH_PASS;
    return check(ev, OUTBOUND, user, to);
}

/* ---- what the contacts see (XEP-0191 §3.3, §3.4) ---- */

typedef struct roster_lookup {
    char user[JID_MAX]; /* the user's bare JID */
    char jid[JID_MAX];  /* the item blocked or unblocked */
    int blocked;
} roster_lookup;

/* Presence from each available resource of the user to `to`: unavailable,
 * or (type NULL) the resource's current presence. */
static void presence_from_user(const char *user, const char *to,
                               int unavailable)
{
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(user, i)) != NULL; i++) {
        if (!api->session_available(s))
            continue;
        const char *full = api->jid_full(api->session_jid(s));
        mynah_stanza *p = NULL;
        if (unavailable) {
            p = presence_new(full, to, "unavailable");
        } else if (api->session_presence(s) != NULL &&
                   (p = api->stanza_copy(api->session_presence(s))) != NULL) {
            mynah_element *root = api->stanza_root(p);
            api->element_set_attr(root, "from", full);
            api->element_set_attr(root, "to", to);
        }
        if (p != NULL)
            route_exempt(p, 1, 0);
    }
}

/* Unavailable presence from a blocked contact to the user's available
 * resources: from each of its resources when it is a local user, else
 * from the blocked JID itself. */
static void contact_gone(const char *user, const char *jid)
{
    char bare[JID_MAX];
    bare_of(jid, bare, sizeof bare);
    const char *froms[64];
    size_t n = 0;
    mynah_session *c;
    if (strcmp(bare, jid) == 0)
        for (size_t i = 0; n < 64 && (c = api->session_of_user(bare, i)); i++)
            if (api->session_available(c))
                froms[n++] = api->jid_full(api->session_jid(c));
    if (n == 0)
        froms[n++] = jid;
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(user, i)) != NULL; i++) {
        if (!api->session_available(s))
            continue;
        for (size_t k = 0; k < n; k++) {
            mynah_stanza *p = presence_new(
                froms[k], api->jid_full(api->session_jid(s)), "unavailable");
            if (p != NULL)
                api->session_send(s, p);
        }
    }
}

static void roster_item_read(int status, const void *data, size_t len,
                             void *userdata)
{
    roster_lookup *rl = userdata;
    unsigned subscription = 0;
    if (status == MYNAH_STORE_OK) {
        char bare[JID_MAX];
        bare_of(rl->jid, bare, sizeof bare);
        roster_item *item = roster_item_decode(bare, data, len);
        if (item != NULL)
            subscription = item->subscription;
        roster_item_free(item);
    }
    if (rl->blocked) {
        if (subscription & ROSTER_SUB_FROM)
            presence_from_user(rl->user, rl->jid, 1);
        if (subscription & ROSTER_SUB_TO)
            contact_gone(rl->user, rl->jid);
    } else {
        if (subscription & ROSTER_SUB_FROM)
            presence_from_user(rl->user, rl->jid, 0);
        if (subscription & ROSTER_SUB_TO) {
            char bare[JID_MAX];
            bare_of(rl->jid, bare, sizeof bare);
            mynah_stanza *probe = presence_new(rl->user, bare, "probe");
            if (probe != NULL)
                api->route(probe);
        }
    }
    free(rl);
}

static void tell_contact(blocking_host *bh, const char *user, const char *jid,
                         int blocked)
{
    char local[LOCAL_MAX];
    roster_lookup *rl;
    if (local_of(user, local, sizeof local) < 0 || strlen(jid) >= JID_MAX ||
        (rl = calloc(1, sizeof *rl)) == NULL)
        return;
    strcpy(rl->user, user);
    strcpy(rl->jid, jid);
    rl->blocked = blocked;
    char bare[JID_MAX];
    bare_of(jid, bare, sizeof bare);
    api->map_get(bh->roster, local, bare, roster_item_read, rl);
}

/* ---- the blocklist iqs ---- */

/* <blocklist/> (or block/unblock) with an item per JID, under parent. */
static mynah_element *add_items(mynah_element *parent, const char *name,
                                const char *const *jids, size_t count)
{
    mynah_element *el = api->element_add_child(parent, name, NS_BLOCKING);
    for (size_t i = 0; el != NULL && i < count; i++) {
        mynah_element *item = api->element_add_child(el, "item", NULL);
        if (item == NULL || api->element_set_attr(item, "jid", jids[i]) < 0)
            return NULL;
    }
    return el;
}

static void send_blocklist(mynah_stanza *iq, const char *const *jids,
                           size_t count)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply == NULL)
        return;
    if (add_items(api->stanza_root(reply), "blocklist", jids, count) == NULL) {
        api->stanza_unref(reply);
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return;
    }
    api->route(reply);
}

typedef struct blocklist_get {
    mynah_event *event;
    int in_handler;
    int answered;
} blocklist_get;

static void blocklist_listed(int status, const char *const *keys,
                             const void *const *values, const size_t *lens,
                             size_t count, void *userdata)
{
    (void)values;
    (void)lens;
    blocklist_get *get = userdata;
    mynah_stanza *iq = api->event_stanza(get->event);
    if (status == MYNAH_STORE_OK)
        send_blocklist(iq, keys, count);
    else
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
    if (get->in_handler) {
        get->answered = 1;
        return;
    }
    api->async_done(get->event);
    free(get);
}

/* "iq-get/self/urn:xmpp:blocking:blocklist" (XEP-0191 §3.2). */
static int on_blocklist_get(mynah_event *ev, void *userdata)
{
    (void)userdata;
    blocking_host *bh = api->host_get_data(self, api->event_host(ev));
    mynah_session *origin = api->event_origin(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    if (bh == NULL || origin == NULL)
        return MYNAH_PASS;
    blocking_session *bs = attach_session(bh, origin);
    if (bs != NULL)
        bs->wants_pushes = 1;
    if (bs != NULL && bs->list->state == LIST_READY) {
        send_blocklist(iq, (const char *const *)bs->list->jids.items,
                       bs->list->jids.count);
        return MYNAH_HANDLED;
    }
    char local[LOCAL_MAX];
    blocklist_get *get;
    if (local_of(api->element_attr(api->stanza_root(iq), "to"), local,
                 sizeof local) < 0 ||
        (get = calloc(1, sizeof *get)) == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    /* The event is kept before asking: the answer may come at once. */
    get->event = api->event_ref(ev);
    if (get->event == NULL) {
        free(get);
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    get->in_handler = 1;
    api->map_list(bh->store, local, blocklist_listed, get);
    get->in_handler = 0;
    if (get->answered) {
        api->async_done(get->event);
        free(get);
    }
    return MYNAH_ASYNC;
}

/* A block or unblock in progress. */
typedef struct blocking_op {
    mynah_event *event;
    blocking_host *bh;
    char user[JID_MAX];   /* bare JID */
    char local[LOCAL_MAX];
    int block;            /* block, else unblock */
    int all;              /* unblock everything */
    char **jids;          /* prepared, distinct */
    int *done;            /* per JID: the store acknowledged it */
    size_t count;
    size_t writes_left;
} blocking_op;

typedef struct op_write {
    blocking_op *op;
    size_t index;
} op_write;

static void op_free(blocking_op *op)
{
    for (size_t i = 0; i < op->count; i++)
        free(op->jids[i]);
    free(op->jids);
    free(op->done);
    free(op);
}

static int op_add_jid(blocking_op *op, const char *jid)
{
    for (size_t i = 0; i < op->count; i++)
        if (strcmp(op->jids[i], jid) == 0)
            return 0;
    char **jids = realloc(op->jids, (op->count + 1) * sizeof *jids);
    if (jids == NULL)
        return -1;
    op->jids = jids;
    if ((op->jids[op->count] = strdup(jid)) == NULL)
        return -1;
    op->count++;
    return 0;
}

/* The push to every resource that asked for the blocklist (§3.3, §3.4). */
static void push_change(const blocking_op *op, const char *const *jids,
                        size_t count)
{
    static unsigned long long next_push;
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(op->user, i)) != NULL; i++) {
        blocking_session *bs = api->session_get_data(self, s);
        if (bs == NULL || !bs->wants_pushes)
            continue;
        mynah_stanza *push = api->stanza_new("iq", NULL);
        if (push == NULL)
            continue;
        mynah_element *root = api->stanza_root(push);
        char id[40];
        snprintf(id, sizeof id, "blocking-push-%llu", ++next_push);
        if (api->element_set_attr(root, "type", "set") < 0 ||
            api->element_set_attr(root, "id", id) < 0 ||
            api->element_set_attr(root, "to",
                                  api->jid_full(api->session_jid(s))) < 0 ||
            add_items(root, op->block ? "block" : "unblock", jids, count) ==
                NULL) {
            api->stanza_unref(push);
            continue;
        }
        api->session_send(s, push);
    }
}

/* Every write answered: update the list in memory, answer, push, and tell
 * the contacts. */
static void op_finish(blocking_op *op)
{
    mynah_stanza *iq = api->event_stanza(op->event);
    blocklist *list = lists_find(op->user);
    const char **changed = calloc(op->count + 1, sizeof *changed);
    size_t n = 0;
    for (size_t i = 0; i < op->count; i++) {
        if (!op->done[i])
            continue;
        if (changed != NULL)
            changed[n++] = op->jids[i];
        if (list == NULL || list->state != LIST_READY)
            continue;
        if (!op->block)
            set_remove(&list->jids, op->jids[i]);
        else if (set_add(&list->jids, op->jids[i]) < 0)
            list->state = LIST_FAILED; /* checks read the store */
    }
    int complete = n == op->count;
    if (complete) {
        mynah_stanza *reply = api->stanza_reply(iq);
        if (reply != NULL)
            api->route(reply);
    } else {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
    }
    if (changed != NULL && (n > 0 || (op->all && complete)))
        /* An unblock of everything is pushed as an empty <unblock/>. */
        push_change(op, changed, op->all && complete ? 0 : n);
    for (size_t i = 0; i < n && changed != NULL; i++)
        tell_contact(op->bh, op->user, changed[i], op->block);
    free(changed);
    api->async_done(op->event);
    op_free(op);
}

static void op_written(int status, void *userdata)
{
    op_write *w = userdata;
    blocking_op *op = w->op;
    if (status == MYNAH_STORE_OK)
        op->done[w->index] = 1;
    free(w);
    if (--op->writes_left == 0)
        op_finish(op);
}

static void op_write_all(blocking_op *op)
{
    op->done = calloc(op->count + 1, sizeof *op->done);
    if (op->done == NULL) {
        modutil_reply_error(api->event_stanza(op->event), "wait",
                            "internal-server-error", NULL);
        api->async_done(op->event);
        op_free(op);
        return;
    }
    if (op->count == 0) {
        op_finish(op);
        return;
    }
    /* Counted before the first write: a store may answer at once, and
     * the last answer frees `op` (so the loop reads no field after it). */
    size_t count = op->count;
    op->writes_left = count;
    for (size_t i = 0; i < count; i++) {
        op_write *w = malloc(sizeof *w);
        if (w == NULL) {
            if (--op->writes_left == 0)
                op_finish(op);
            continue;
        }
        w->op = op;
        w->index = i;
        /* An empty value marks the JID; NULL deletes it. */
        api->map_set(op->bh->store, op->local, op->jids[i],
                     op->block ? "" : NULL, 0, op_written, w);
    }
}

static void op_listed_all(int status, const char *const *keys,
                          const void *const *values, const size_t *lens,
                          size_t count, void *userdata)
{
    (void)values;
    (void)lens;
    blocking_op *op = userdata;
    if (status != MYNAH_STORE_OK) {
        modutil_reply_error(api->event_stanza(op->event), "wait",
                            "internal-server-error", NULL);
        api->async_done(op->event);
        op_free(op);
        return;
    }
    for (size_t i = 0; i < count; i++)
        if (op_add_jid(op, keys[i]) < 0)
            break; /* the ones not added stay blocked: the reply says so */
    op_write_all(op);
}

/* Reads the items of <block/> or <unblock/>; a condition, or NULL. */
static const char *op_read_items(blocking_op *op, mynah_element *command)
{
    for (mynah_element *c = api->element_first_child(command); c;
         c = api->element_next_sibling(c)) {
        if (strcmp(api->element_name(c), "item") != 0 ||
            strcmp(api->element_xmlns(c), NS_BLOCKING) != 0)
            return "bad-request";
        const char *text = api->element_attr(c, "jid");
        if (text == NULL)
            return "bad-request";
        mynah_jid *jid = api->jid_new(text);
        if (jid == NULL)
            return "jid-malformed";
        int rc = op_add_jid(op, api->jid_full(jid));
        api->jid_free(jid);
        if (rc < 0)
            return "internal-server-error";
    }
    return NULL;
}

static int on_block_command(mynah_event *ev, int block)
{
    mynah_host *host = api->event_host(ev);
    blocking_host *bh = api->host_get_data(self, host);
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *command = api->element_first_child(api->stanza_root(iq));
    const char *to = api->element_attr(api->stanza_root(iq), "to");
    if (bh == NULL || to == NULL)
        return MYNAH_PASS;
    blocking_op *op = calloc(1, sizeof *op);
    if (op == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    op->bh = bh;
    op->block = block;
    bare_of(to, op->user, sizeof op->user);
    if (local_of(op->user, op->local, sizeof op->local) < 0) {
        op_free(op);
        return MYNAH_PASS;
    }
    const char *condition = op_read_items(op, command);
    if (condition == NULL && block && op->count == 0)
        condition = "bad-request"; /* §3.3: at least one item */
    if (condition == NULL && block) {
        blocklist *list = lists_find(op->user);
        long long max = api->option_integer(self, host, "blocking_max_items");
        size_t after = op->count;
        if (list != NULL && list->state == LIST_READY) {
            after += list->jids.count;
            for (size_t i = 0; i < op->count; i++)
                if (set_contains(&list->jids, op->jids[i]))
                    after--;
        }
        if ((long long)after > max)
            condition = "policy-violation";
    }
    if (condition != NULL) {
        int internal = strcmp(condition, "internal-server-error") == 0;
        int policy = strcmp(condition, "policy-violation") == 0;
        modutil_reply_error(iq,
                            internal ? "wait" : policy ? "cancel" : "modify",
                            condition, policy ? "The blocklist is full" : NULL);
        op_free(op);
        return MYNAH_HANDLED;
    }
    op->event = api->event_ref(ev);
    if (op->event == NULL) {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        op_free(op);
        return MYNAH_HANDLED;
    }
    if (!block && op->count == 0) {
        op->all = 1; /* §3.5: an empty <unblock/> unblocks everything */
        api->map_list(bh->store, op->local, op_listed_all, op);
    } else {
        op_write_all(op);
    }
    return MYNAH_ASYNC;
}

/* "iq-set/self/urn:xmpp:blocking:block" (§3.3). */
static int on_block(mynah_event *ev, void *userdata)
{
    (void)userdata;
    return on_block_command(ev, 1);
}

/* "iq-set/self/urn:xmpp:blocking:unblock" (§3.4, §3.5). */
static int on_unblock(mynah_event *ev, void *userdata)
{
    (void)userdata;
    return on_block_command(ev, 0);
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
    blocking_host *bh = calloc(1, sizeof *bh);
    if (bh == NULL)
        return -1;
    bh->store = api->open_store(module, host, "blocklist", MYNAH_STORE_MAP);
    bh->roster = api->open_store(module, host, ROSTER_STORE, MYNAH_STORE_MAP);
    if (bh->store == NULL || bh->roster == NULL) {
        api->log(module, MYNAH_LOG_ERROR, "cannot open the stores on %s",
                 api->host_name(host));
        free(bh);
        return -1;
    }
    api->host_set_data(module, host, bh);
    static const char *const filters[] = {
        "stanza/in/message", "stanza/in/presence", "stanza/in/iq",
        "stanza/out/message", "stanza/out/presence", "stanza/out/iq"};
    int rc = 0;
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++)
        rc |= api->hook(module, host, filters[i],
                        i < 3 ? on_inbound : on_outbound, NULL,
                        MYNAH_PRIORITY_EARLY);
    rc |= api->hook(module, host, "resource-bind", on_resource_bind, NULL,
                    MYNAH_PRIORITY_EARLY);
    rc |= api->hook(module, host, "iq-get/self/" NS_BLOCKING ":blocklist",
                    on_blocklist_get, NULL, MYNAH_PRIORITY_DEFAULT);
    rc |= api->hook(module, host, "iq-set/self/" NS_BLOCKING ":block",
                    on_block, NULL, MYNAH_PRIORITY_DEFAULT);
    rc |= api->hook(module, host, "iq-set/self/" NS_BLOCKING ":unblock",
                    on_unblock, NULL, MYNAH_PRIORITY_DEFAULT);
    rc |= api->add_feature(module, host, NS_BLOCKING);
    if (rc != 0) {
        api->host_set_data(module, host, NULL);
        free(bh);
        return -1;
    }
    /* Sessions bound before the module came (a reload) get their lists
     * too. */
    for (mynah_session *s = api->session_next(host, NULL); s != NULL;
         s = api->session_next(host, s))
        attach_session(bh, s);
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    free(api->host_get_data(module, host));
    api->host_set_data(module, host, NULL);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "blocking",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
