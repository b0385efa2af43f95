/*
 * Sessions: what routing needs to know about each connected entity.
 *
 * A c2s session moves connected -> (tls) -> authenticated -> bound; the
 * session table maps a full JID to its session and a bare JID to the list
 * of that user's bound sessions.  The struct is kept small: an idle bound
 * session is this struct, its JID, its last presence and its connection.
 *
 * Sessions are reference counted while events refer to them and are freed
 * at the end of the loop iteration after they close (session_reap), never
 * in the middle of dispatching a stanza that refers to them.
 */
#ifndef MYNAH_SESSION_H
#define MYNAH_SESSION_H

#include <stdint.h>
#include <mynah/types.h>
#include "conn.h"

typedef enum session_state {
    SESSION_CONNECTED = 0, /* stream not yet authenticated */
    SESSION_AUTHENTICATED, /* SASL done, resource not bound */
    SESSION_BOUND,         /* has a full JID, routable */
    SESSION_CLOSING        /* closed or closing: nothing more is routed to it */
} session_state;

/* What differs between kinds of session (c2s over a socket, a bot inside
 * the server, later s2s and components). */
typedef struct session_ops {
    /* Writes a stanza out.  Takes the reference. */
    int (*send)(mynah_session *s, mynah_stanza *stanza);
    int (*send_raw)(mynah_session *s, const char *data, size_t len);
    /* Ends the protocol: stream error (condition may be NULL), close tag,
     * close the transport.  Called once, from session_close(). */
    void (*close)(mynah_session *s, const char *condition, const char *text);
    void (*pause)(mynah_session *s);
    void (*resume)(mynah_session *s);
    /* Frees the protocol state (s->proto). */
    void (*free)(mynah_session *s);
    /* Calls cb(1) when what was sent so far has left, cb(0) if it never
     * will.  NULL: delivery is immediate (local sessions). */
    int (*on_flushed)(mynah_session *s, void (*cb)(int written, void *ud),
                      void *ud);
} session_ops;

/* A module's per-session state (api->session_set_data). */
typedef struct session_module_data session_module_data;

struct mynah_session {
    uint32_t id;
    uint8_t kind;          /* enum mynah_session_kind */
    uint8_t state;         /* session_state */
    uint8_t available;     /* sent initial presence, not yet unavailable */
    uint8_t interested;    /* requested the roster (RFC 6121 §2.1.6) */
    int16_t priority;
    uint16_t paused;       /* async handlers holding the session */
    int refs;
    mynah_host *host;
    conn *conn;            /* NULL for local sessions */
    void *proto;           /* the protocol's own state (c2s.c) */
    char *username;        /* nodeprepped local part after SASL */
    mynah_jid *jid;        /* full JID once bound */
    mynah_stanza *presence;/* last broadcast presence */
    mynah_session *next_of_user;
    mynah_session *prev_all, *next_all; /* every live session, for sweeps */
    const session_ops *ops;
    session_module_data *module_data; /* usually NULL */
    double created;
    double last_input;     /* when the peer last sent bytes */
};

mynah_session *session_new(enum mynah_session_kind kind, mynah_host *host,
                           const session_ops *ops, void *proto);
/* Every live session, oldest first; follow next_all. */
mynah_session *session_first(void);
mynah_session *session_ref(mynah_session *s);
void session_unref(mynah_session *s);
/* Logging name: "c2s12". */
const char *session_name(const mynah_session *s);

/*
 * Binds a resource (already resourceprepped, or NULL for a generated one).
 * On a conflict with a session of the same full JID the older one is closed
 * with <conflict/> when replace is set, otherwise -2 is returned.
 * Fires "resource-bind" on the host.  Returns 0, -1 (no memory), -2.
 */
int session_bind(mynah_session *s, const char *resource, int replace);
/* Removes the session from the tables (fires "resource-unbind"). */
void session_unbind(mynah_session *s);

mynah_session *session_find(const char *full_jid);
/* First bound session of a bare JID; then follow next_of_user. */
mynah_session *session_first_of_user(const char *bare_jid);
mynah_session *session_of_user(const char *bare_jid, size_t index);
size_t session_count(void);       /* bound sessions */
size_t session_count_all(void);   /* every live session */

/* Writes a stanza to the session (serialized into its connection, or given
 * to its deliver function).  Takes the reference.  0 or -1. */
int session_send(mynah_session *s, mynah_stanza *stanza);
/* Writes raw bytes (stream headers, features). */
int session_send_raw(mynah_session *s, const char *data, size_t len);

/*
 * Closes a session: sends <stream:error><condition/><text/></stream:error>
 * when condition is not NULL, then </stream:stream>, unbinds it and frees it
 * at the end of the loop iteration.  Safe to call twice.
 */
void session_close(mynah_session *s, const char *condition, const char *text);
/* Called by the connection layer when the socket is gone. */
void session_connection_lost(mynah_session *s);

void session_pause(mynah_session *s);
void session_resume(mynah_session *s);

void session_set_presence(mynah_session *s, mynah_stanza *presence);
void session_set_priority(mynah_session *s, int priority);

/* Module state per session. */
void session_set_module_data(mynah_module *module, mynah_session *s,
                             void *data, void (*free_fn)(void *data));
void *session_get_module_data(mynah_module *module, const mynah_session *s);
/* Drops a module's state from every session of a host (NULL = all). */
void session_drop_module_data(mynah_module *module, mynah_host *host);
/* Bound sessions of a host (NULL = any), after `previous` (NULL = first). */
mynah_session *session_next_bound(mynah_host *host, mynah_session *previous);
int session_on_flushed(mynah_session *s, void (*cb)(int written, void *ud),
                       void *ud);

/* Frees sessions closed during this iteration. */
void session_reap(void);
/* Closes every session with a stream error (shutdown). */
void session_close_all(const char *condition, const char *text);

#endif
