/*
 * The stored roster, shared by mod_roster and mod_presence.
 *
 * Modules cannot link each other, so this file is compiled into both: they
 * must agree on how a roster item is stored (the map store "roster", key =
 * the contact's bare JID), on the roster version, and on what a roster push
 * looks like.  mod_roster serves the roster iqs (RFC 6121 §2);
 * mod_presence runs the subscription state machine (§3, Appendix A) on the
 * same items.
 *
 * A roster item keeps more than the client sees: the "pending in" state and
 * the subscription request that caused it (re-delivered at login, §3.1.3),
 * and whether the item is part of the roster at all.  An item that exists
 * only because a contact asked to subscribe is not "listed": it is never
 * returned or pushed (§3.1.3: the request is not a roster item until the
 * user approves it or adds the contact).
 *
 * Storage follows the callback contract of include/mynah/storage.h; the
 * callers hold their hook event (MYNAH_ASYNC) until the callbacks ran.
 */
#ifndef MYNAH_ROSTER_STORE_H
#define MYNAH_ROSTER_STORE_H

#include <stddef.h>

#include <mynah/mynah.h>

#define ROSTER_NS "jabber:iq:roster"
#define ROSTER_STORE "roster"
/* The roster version's key in the map: '/' never occurs in a bare JID. */
#define ROSTER_VERSION_KEY "/version"

/* Defaults of the options both modules read (same schema entry in each). */
#define ROSTER_MAX_ITEMS_DEFAULT "1000"
#define ROSTER_MAX_NAME_LENGTH_DEFAULT "1023"

/* Subscription bits (RFC 6121 §2.1.2.5): none = 0, both = TO | FROM. */
#define ROSTER_SUB_TO 1u   /* the user receives the contact's presence */
#define ROSTER_SUB_FROM 2u /* the contact receives the user's presence */

typedef struct roster_item {
    char *jid;             /* the contact's bare JID (the map key) */
    char *name;            /* NULL when none */
    unsigned subscription; /* ROSTER_SUB_TO | ROSTER_SUB_FROM */
    int ask;               /* pending out: ask='subscribe' */
    int pending_in;        /* the contact asked to subscribe, not answered */
    int approved;          /* pre-approved (§3.4) */
    int listed;            /* part of the roster the user sees */
    char *request;         /* the pending subscribe stanza, serialized */
    char **groups;
    size_t group_count;
} roster_item;

typedef struct roster {
    char *bare;                /* the owner: user@host */
    char *user;                /* the owner's local part (the store's user) */
    unsigned long long version;
    roster_item **items;
    size_t count;
    size_t capacity;
} roster;

/* ---- items ---- */

roster_item *roster_item_new(const char *jid);
void roster_item_free(roster_item *item);
int roster_item_add_group(roster_item *item, const char *group);
int roster_item_set_name(roster_item *item, const char *name);
int roster_item_set_request(roster_item *item, const char *request);
/* Whether the item must stay stored: listed, or holding a request. */
int roster_item_worth_keeping(const roster_item *item);
/* "none", "to", "from" or "both". */
const char *roster_subscription_name(unsigned subscription);

/* The stored form (a malloc'd byte string) and back; NULL on error. */
char *roster_item_encode(const roster_item *item, size_t *len);
roster_item *roster_item_decode(const char *jid, const void *data, size_t len);

/* ---- a loaded roster ---- */

roster *roster_new(const char *bare_jid);
void roster_free(roster *r);
roster_item *roster_find(const roster *r, const char *jid);
/* A new, unlisted item (the caller fills it in). */
roster_item *roster_add(roster *r, const char *jid);
/* Takes the item out of the roster and frees it. */
void roster_delete(roster *r, const char *jid);
/* Items that are listed (what a roster get returns). */
size_t roster_listed_count(const roster *r);

/* ---- storage ---- */

/* r is NULL when the store failed; the callee owns r otherwise. */
typedef void (*roster_loaded_fn)(roster *r, void *userdata);
/* ok is 1 when every write was acknowledged. */
typedef void (*roster_saved_fn)(int ok, void *userdata);

void roster_load(const mynah_api *api, mynah_module *module,
                 mynah_store *store, const char *bare_jid, roster_loaded_fn cb,
                 void *userdata);
/*
 * Writes the item `jid` as it now is in r (or deletes it when r no longer
 * holds it or it is not worth keeping).  With new_version set, the roster
 * version is bumped first (r->version changes) and written too: do it for
 * every change the user can see, and push with the new version.
 */
void roster_save(const mynah_api *api, mynah_store *store, roster *r,
                 const char *jid, int new_version, roster_saved_fn cb,
                 void *userdata);

/* ---- XML ---- */

/* Adds <item/> for the item to a <query/>; removed: subscription='remove'. */
mynah_element *roster_item_to_xml(const mynah_api *api, mynah_element *query,
                                  const roster_item *item, int removed);
/* The roster version as it goes on the wire. */
void roster_version_text(const roster *r, char *out, size_t size);
/*
 * Roster push (RFC 6121 §2.1.6) of one item to every interested resource
 * of the owner.  removed: the item is gone (subscription='remove'), `item`
 * may then be a copy of its last state or NULL with only `jid` known.
 */
void roster_push(const mynah_api *api, const roster *r, const char *jid,
                 const roster_item *item, int removed);

/* ---- holding a hook event across storage callbacks ---- */

/*
 * A job answers a hook event after storage callbacks.  roster_job_begin()
 * is called by the handler before starting the first storage operation;
 * roster_job_return() gives the handler's return value: MYNAH_HANDLED if
 * everything already finished (a synchronous driver), otherwise it takes a
 * reference on the event and returns MYNAH_ASYNC.  roster_job_end() marks
 * the job finished and frees it (and releases the event) once the handler
 * has returned.  The job's event pointer is valid until then.
 */
typedef struct roster_job {
    const mynah_api *api;
    mynah_event *event;
    int in_handler;
    int finished;
    void (*free_data)(void *data);
    void *data;
} roster_job;

roster_job *roster_job_begin(const mynah_api *api, mynah_event *event,
                             void *data, void (*free_data)(void *data));
int roster_job_return(roster_job *job);
void roster_job_end(roster_job *job);

/* ---- presence the roster code sends ---- */

/* Routes <presence type=type from=from to=to/> (type NULL: available). */
void roster_send_presence(const mynah_api *api, const char *from,
                          const char *to, const char *type);
/* Routes unavailable presence from each available resource of user_bare
 * to `to` (§3.2.2: a cancelled subscriber learns the user is gone). */
void roster_send_unavailable_from_resources(const mynah_api *api,
                                            const char *user_bare,
                                            const char *to);

/* ---- small helpers ---- */

/* The bare JID (user@host, or a domain) of a JID string, malloc'd;
 * NULL when it is not a valid JID. */
char *roster_bare_of(const mynah_api *api, const char *jid);
/* The local part of a bare JID, malloc'd. */
char *roster_local_of(const char *bare_jid);

#endif
