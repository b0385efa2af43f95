/*
 * mynah module API: the function table the core hands to every module.
 *
 * The table is only ever appended to.  `size` says how much of it this core
 * fills, so a module built against a newer header can test for a function
 * with MYNAH_API_HAS(api, field) before calling it.
 *
 * Ownership, everywhere below:
 *  - A function returning `mynah_stanza *` from *_new or *_copy gives the
 *    caller one reference: pass it on (route/send take it) or unref it.
 *  - A stanza handed to a hook handler is borrowed for the call; take a
 *    reference (stanza_ref) to keep it.  Never change a stanza you did not
 *    create: copy it first (shared stanzas are copy-on-write).
 *  - Strings returned by accessors are valid as long as the object is.
 *  - Everything registered through a (module, host) pair -- hooks,
 *    features, identities, timers, stores, exported APIs -- is undone by the
 *    core when the module is removed from that host.  host == NULL means
 *    global (server-wide).
 */
#ifndef MYNAH_API_H
#define MYNAH_API_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "types.h"
#include "storage.h"

struct mynah_api {
    uint32_t size;      /* sizeof(struct mynah_api) as the core was built */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* ---- logging ---- */
    void (*log)(mynah_module *module, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* ---- options (already validated against the module's schema) ----
     * Host-specific value, else global, else the schema default. */
    const char *(*option_string)(mynah_module *module, mynah_host *host,
                                 const char *name);
    long long (*option_integer)(mynah_module *module, mynah_host *host,
                                const char *name);
    double (*option_number)(mynah_module *module, mynah_host *host,
                            const char *name);
    int (*option_boolean)(mynah_module *module, mynah_host *host,
                          const char *name);
    size_t (*option_array_length)(mynah_module *module, mynah_host *host,
                                  const char *name);
    const char *(*option_array_item)(mynah_module *module, mynah_host *host,
                                     const char *name, size_t index);

    /* ---- hooks ----
     * Event names follow DESIGN.md: "message/bare", "iq-get/host/<ns>:<name>",
     * "resource-bind", "stream-features", ...  Returns 0, or -1 on error. */
    int (*hook)(mynah_module *module, mynah_host *host, const char *event,
                mynah_hook_fn fn, void *userdata, int priority);
    int (*unhook)(mynah_module *module, mynah_host *host, const char *event,
                  mynah_hook_fn fn, void *userdata);
    /* Fires a (custom) event carrying a stanza on a host; returns the
     * result of the chain (MYNAH_PASS if nobody handled it). */
    int (*fire)(mynah_host *host, const char *event, mynah_stanza *stanza,
                mynah_session *origin);
    /* Completes a handler that returned MYNAH_ASYNC. */
    void (*async_done)(mynah_event *event);

    /* ---- what a handler is given ---- */
    mynah_stanza *(*event_stanza)(mynah_event *event);
    mynah_session *(*event_origin)(mynah_event *event);
    mynah_host *(*event_host)(mynah_event *event);
    const char *(*event_name)(mynah_event *event);
    /* "stream-features": the <stream:features/> element to add to. */
    mynah_element *(*event_features)(mynah_event *event);
    /* Keeps the event (and its stanza and origin) alive past the handler,
     * for MYNAH_ASYNC handlers. */
    mynah_event *(*event_ref)(mynah_event *event);

    /* ---- stanzas ---- */
    mynah_stanza *(*stanza_new)(const char *name, const char *xmlns);
    mynah_stanza *(*stanza_ref)(mynah_stanza *stanza);
    void (*stanza_unref)(mynah_stanza *stanza);
    mynah_stanza *(*stanza_copy)(const mynah_stanza *stanza);
    mynah_element *(*stanza_root)(mynah_stanza *stanza);
    /* Serialized XML, malloc'd; the caller frees.  len may be NULL. */
    char *(*stanza_to_string)(const mynah_stanza *stanza, size_t *len);
    /* Parses one element from a string (no DOCTYPE, PI or comments). */
    mynah_stanza *(*stanza_parse)(const char *xml, size_t len);
    /* A reply/error skeleton with to/from swapped and the same id. */
    mynah_stanza *(*stanza_reply)(const mynah_stanza *stanza);
    /* type: "cancel", "modify", "auth", "wait", "continue";
     * condition: an RFC 6120 §8.3.3 name; text may be NULL. */
    mynah_stanza *(*stanza_error_reply)(const mynah_stanza *stanza,
                                        const char *type,
                                        const char *condition,
                                        const char *text);

    const char *(*element_name)(const mynah_element *element);
    const char *(*element_xmlns)(const mynah_element *element);
    const char *(*element_attr)(const mynah_element *element, const char *name);
    /* value NULL removes the attribute.  Returns 0 or -1. */
    int (*element_set_attr)(mynah_element *element, const char *name,
                            const char *value);
    /* xmlns NULL inherits the parent's namespace. */
    mynah_element *(*element_add_child)(mynah_element *parent,
                                        const char *name, const char *xmlns);
    int (*element_add_text)(mynah_element *element, const char *text,
                            size_t len);
    /* First child element with this name (NULL = any) and namespace
     * (NULL = the parent's). */
    mynah_element *(*element_child)(const mynah_element *element,
                                    const char *name, const char *xmlns);
    mynah_element *(*element_first_child)(const mynah_element *element);
    mynah_element *(*element_next_sibling)(const mynah_element *element);
    /* The element's text nodes joined; "" when none.  Valid until the
     * stanza changes. */
    const char *(*element_text)(mynah_element *element);
    /* Attribute iteration: index from 0; NULL when past the end. */
    const char *(*element_attr_at)(const mynah_element *element, size_t index,
                                   const char **value);
    int (*element_remove)(mynah_element *element);
    mynah_element *(*element_parent)(const mynah_element *element);

    /* ---- JIDs ---- */
    /* Parses and prepares; NULL if invalid (the RFC calls it jid-malformed).
     * The caller owns the result. */
    mynah_jid *(*jid_new)(const char *text);
    void (*jid_free)(mynah_jid *jid);
    /* The prepared forms: "user@host/res", "user@host", and the parts
     * (NULL when a part is absent). */
    const char *(*jid_full)(const mynah_jid *jid);
    const char *(*jid_bare)(const mynah_jid *jid);
    const char *(*jid_part)(const mynah_jid *jid, enum mynah_jid_part part);

    /* ---- sending ---- */
    /* Routes a stanza by its 'to' (as if the server sent it).  Takes the
     * reference.  Returns 0, or -1 if it could not be routed (an error
     * reply goes back to 'from' where the RFC wants one). */
    int (*route)(mynah_stanza *stanza);
    /* Writes a stanza to one session as is, without routing.  Takes the
     * reference. */
    int (*session_send)(mynah_session *session, mynah_stanza *stanza);
    /* Sends an iq get/set and calls back with the reply, or with NULL after
     * timeout_seconds.  Takes the reference.  The module is kept loaded
     * until the callback has run. */
    int (*send_iq)(mynah_module *module, mynah_stanza *iq,
                   mynah_iq_callback cb, void *userdata,
                   double timeout_seconds);

    /* ---- discovery ---- */
    int (*add_feature)(mynah_module *module, mynah_host *host,
                       const char *var);
    int (*add_identity)(mynah_module *module, mynah_host *host,
                        const char *category, const char *type,
                        const char *name);
    /* Iteration over what every loaded module registered on a host. */
    const char *(*host_feature_at)(mynah_host *host, size_t index);
    int (*host_identity_at)(mynah_host *host, size_t index,
                            const char **category, const char **type,
                            const char **name);

    /* ---- timers (seconds; fire once unless the callback re-adds) ---- */
    mynah_timer *(*timer_add)(mynah_module *module, double seconds,
                              mynah_timer_fn fn, void *userdata);
    void (*timer_cancel)(mynah_timer *timer);

    /* ---- storage ---- */
    mynah_store *(*open_store)(mynah_module *module, mynah_host *host,
                               const char *name, enum mynah_store_kind kind);
    void (*keyval_get)(mynah_store *store, const char *user,
                       mynah_store_value_cb cb, void *userdata);
    void (*keyval_set)(mynah_store *store, const char *user, const void *data,
                       size_t len, mynah_store_done_cb cb, void *userdata);
    void (*map_get)(mynah_store *store, const char *user, const char *key,
                    mynah_store_value_cb cb, void *userdata);
    void (*map_set)(mynah_store *store, const char *user, const char *key,
                    const void *data, size_t len, mynah_store_done_cb cb,
                    void *userdata);
    void (*map_list)(mynah_store *store, const char *user,
                     mynah_map_list_cb cb, void *userdata);
    void (*archive_append)(mynah_store *store, const char *user,
                           const mynah_archive_item *item,
                           mynah_store_id_cb cb, void *userdata);
    void (*archive_find)(mynah_store *store, const char *user,
                         const mynah_archive_query *query,
                         mynah_archive_cb cb, void *userdata);
    void (*archive_delete)(mynah_store *store, const char *user,
                           const mynah_archive_query *query,
                           mynah_store_done_cb cb, void *userdata);
    /* A storage module registers its driver under a name ("sqlite"). */
    int (*provide_storage)(mynah_module *module,
                           const mynah_storage_driver *driver,
                           void *driver_data);

    /* ---- hosts and sessions ---- */
    const char *(*host_name)(const mynah_host *host);
    /* NULL if the server has no such host or component. */
    mynah_host *(*host_find)(const char *name);
    /* Per (module, host) state for the module's own use. */
    void (*host_set_data)(mynah_module *module, mynah_host *host, void *data);
    void *(*host_get_data)(mynah_module *module, mynah_host *host);

    enum mynah_session_kind (*session_kind)(const mynah_session *session);
    /* NULL until the session is bound (c2s) or authenticated (s2s). */
    const mynah_jid *(*session_jid)(const mynah_session *session);
    mynah_host *(*session_host)(const mynah_session *session);
    /* The session bound to this full JID, or NULL. */
    mynah_session *(*session_find)(const char *full_jid);
    /* Sessions of a bare JID: index from 0, NULL past the end. */
    mynah_session *(*session_of_user)(const char *bare_jid, size_t index);
    int (*session_priority)(const mynah_session *session);
    /* Last broadcast presence, or NULL if the session sent none yet. */
    mynah_stanza *(*session_presence)(const mynah_session *session);
    /* Closes with a stream error condition (NULL = a clean close). */
    void (*session_close)(mynah_session *session, const char *condition,
                          const char *text);

    /* ---- APIs modules export to each other ---- */
    int (*export_api)(mynah_module *module, const char *name, int version,
                      const void *table);
    /* NULL if nobody exports it; the exporter stays loaded while in use. */
    const void *(*get_api)(mynah_module *module, const char *name,
                           int version);

    /* ---- server ---- */
    /* Seconds since the Unix epoch, with microseconds, as the loop saw it. */
    double (*now)(void);
    const char *(*server_version)(void);
    const char *(*data_path)(void);

    /* ---- sessions, continued ---- */
    /* Per (module, session) state.  free_fn (may be NULL) runs when the
     * session ends, when the module is removed, or when the data is
     * replaced.  data NULL removes it. */
    void (*session_set_data)(mynah_module *module, mynah_session *session,
                             void *data, void (*free_fn)(void *data));
    void *(*session_get_data)(mynah_module *module,
                              const mynah_session *session);
    /* Sent initial presence and not unavailable since (RFC 6121 §4.2). */
    int (*session_available)(const mynah_session *session);
    /* Asked for the roster: gets roster pushes (RFC 6121 §2.1.6). */
    int (*session_interested)(const mynah_session *session);
    void (*session_set_interested)(mynah_session *session, int interested);
    /* Every bound session of a host (NULL = of every host): pass NULL
     * for the first, the previous one for the next; NULL at the end. */
    mynah_session *(*session_next)(mynah_host *host, mynah_session *previous);
    /* Seconds since the session last sent anything. */
    double (*session_idle_seconds)(const mynah_session *session);
    /* Calls cb(1, ud) once everything sent to the session so far has been
     * written to its socket, or cb(0, ud) if the session ends first.  For
     * data that must not be deleted before it left (offline messages). */
    int (*session_on_flushed)(mynah_session *session,
                              void (*cb)(int written, void *userdata),
                              void *userdata);
    /* 1 if the account exists on the host, 0 if not, -1 on error.
     * user is a prepared local part. */
    int (*user_exists)(mynah_host *host, const char *user);

    /* ---- hosts, continued ---- */
    /* Every VirtualHost and Component of the server, in configuration
     * order: pass NULL for the first, the previous one for the next; NULL
     * at the end. */
    mynah_host *(*host_next)(mynah_host *previous);
    /* 1 for a Component, 0 for a VirtualHost. */
    int (*host_is_component)(const mynah_host *host);

    /* ---- options, continued ---- */
    /* For an array option whose items are arrays themselves, such as
     * Prosody's disco_items = { { "jid", "name" }, ... } (declare it
     * MYNAH_OPTION_ANY): the string at [index][subindex], or NULL when
     * there is none or it is not a string.  option_array_length gives the
     * outer length. */
    const char *(*option_array_subitem)(mynah_module *module, mynah_host *host,
                                        const char *name, size_t index,
                                        size_t subindex);

    /* ---- server, continued ---- */
    /* When the server started (seconds since the Unix epoch): uptime. */
    double (*server_start_time)(void);

    /* ---- sessions, continued ---- */
    /* session_on_flushed, keeping the module loaded until cb has run (as
     * send_iq does): a module removed while a client is slow to read
     * would otherwise be called back after its code was unmapped. */
    int (*session_on_flushed_held)(mynah_module *module,
                                   mynah_session *session,
                                   void (*cb)(int written, void *userdata),
                                   void *userdata);

    /* Writes bytes to a session's stream as they are, for a module that
     * sends one serialized stanza to many sessions (a MUC room's fan-out
     * writes "<message to='X'" and then the same rest to each occupant).
     * The bytes must complete well-formed stanzas in the stream's content
     * namespace; nothing is checked or routed.  0, or -1 when the session
     * cannot take them (closing, or one without a stream, such as a bot). */
    int (*session_send_raw)(mynah_session *session, const char *data,
                            size_t len);

    /* ---- server figures (mod_sensordata reports them) ---- */
    /* Stanzas routed since the server started. */
    unsigned long long (*stanzas_routed)(void);
    /* Bound sessions of every host. */
    size_t (*session_count)(void);

    /* ---- local sessions: bots and other entities inside the server ---- */
    /* Creates a session of kind MYNAH_SESSION_LOCAL for local@host/resource
     * (resource NULL: a generated one) and binds it as a client's would be
     * ("resource-bind" fires).  Routing treats it as any bound resource:
     * what is sent to it is handed to deliver(session, stanza, userdata),
     * which takes the reference -- from inside routing, so queue it and
     * act from the loop rather than re-entering.  When the session closes,
     * deliver is called once more with stanza NULL, and never again.
     * NULL if the JID is invalid or that resource is bound already.  The
     * session belongs to (module, host): the core closes it when the
     * module leaves the host; session_close ends it earlier. */
    mynah_session *(*session_new_local)(
        mynah_module *module, mynah_host *host, const char *local,
        const char *resource,
        int (*deliver)(mynah_session *session, mynah_stanza *stanza,
                       void *userdata),
        void *userdata);
    /* A stanza a local session sends, checked, stamped and routed exactly
     * as a client's: pre- events fire with the session as origin, and a
     * presence without 'to' is its broadcast presence (it becomes
     * available).  Takes the reference.  0, or -1 (not a bound local
     * session). */
    int (*session_submit)(mynah_session *session, mynah_stanza *stanza);

    /* ---- elements, continued ---- */
    /* The XML of one element and its subtree, malloc'd and NUL-terminated
     * (the caller frees): the element declares its own namespace (none
     * when it is in no namespace), so the text stands alone and
     * stanza_parse() of it gives back the same tree.  len may be NULL.
     * NULL when out of memory. */
    char *(*element_to_string)(const mynah_element *element, size_t *len);
    /* Appends a deep copy of source (attributes, children, text) to
     * parent, which may be in another stanza (or elsewhere in the same
     * one, but not inside source itself).  The copy, or NULL. */
    mynah_element *(*element_copy_into)(mynah_element *parent,
                                        const mynah_element *source);

    /* ---- accounts (in-band registration, admin modules) ----
     * user is a prepared local part (a name nodeprep would change is
     * refused).  What `mynahctl adduser/passwd/deluser` do. */
    /* 0 created, 1 exists already, -1 error. */
    int (*account_create)(mynah_host *host, const char *user,
                          const char *password);
    /* 0 changed, 1 no such user, -1 error.  Sessions stay. */
    int (*account_set_password)(mynah_host *host, const char *user,
                                const char *password);
    /* Removes the account and everything stored for it on the host, and
     * closes its sessions.  0, 1 no such user, -1 error. */
    int (*account_delete)(mynah_host *host, const char *user);

    /* ---- sessions, continued ---- */
    /* The peer's address ("127.0.0.1", "::1"), or NULL without a socket. */
    const char *(*session_peer_address)(const mynah_session *session);
    /* 1 when the session's stream is encrypted (TLS). */
    int (*session_is_encrypted)(const mynah_session *session);
};

/* True when the core's table includes `field`. */
#define MYNAH_API_HAS(api, field)                                            \
    ((api)->size >= offsetof(struct mynah_api, field) + sizeof((api)->field) \
     && (api)->field != NULL)

#endif
