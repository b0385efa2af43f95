/*
 * mynah public types.
 *
 * Every type a module sees is opaque: modules hold pointers and call the
 * function table (api.h) to look inside.  That is what lets the core change
 * its structs without breaking the module ABI.
 */
#ifndef MYNAH_TYPES_H
#define MYNAH_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef struct mynah_stanza mynah_stanza;   /* a whole stanza: one arena, refcounted */
typedef struct mynah_element mynah_element; /* one element inside a stanza's tree */
typedef struct mynah_jid mynah_jid;         /* a prepared, valid JID */
typedef struct mynah_session mynah_session; /* a c2s/s2s/component/local session */
typedef struct mynah_host mynah_host;       /* a virtual host or component */
typedef struct mynah_module mynah_module;   /* a loaded module (one per name) */
typedef struct mynah_event mynah_event;     /* what a hook handler is given */
typedef struct mynah_timer mynah_timer;
typedef struct mynah_store mynah_store;     /* an opened store, see storage.h */
typedef struct mynah_api mynah_api;         /* the function table, see api.h */

/* What a hook handler returns. */
enum mynah_hook_result {
    MYNAH_PASS = 0,    /* not mine, or done and others may act too: go on */
    MYNAH_HANDLED = 1, /* stop the chain: the stanza is taken care of */
    MYNAH_ASYNC = 2    /* I hold a reference and will call api->async_done();
                          the origin session stops reading until then */
};

/* Hook priority bands; higher runs first, equal ones in registration order. */
enum mynah_priority {
    MYNAH_PRIORITY_LAST = -1000,
    MYNAH_PRIORITY_LATE = -100,
    MYNAH_PRIORITY_DEFAULT = 0,
    MYNAH_PRIORITY_EARLY = 100,
    MYNAH_PRIORITY_FIRST = 1000
};

enum mynah_log_level {
    MYNAH_LOG_DEBUG = 0,
    MYNAH_LOG_INFO = 1,
    MYNAH_LOG_WARN = 2,
    MYNAH_LOG_ERROR = 3
};

/* Which part of a JID an accessor or a comparison concerns. */
enum mynah_jid_part {
    MYNAH_JID_LOCAL = 0,
    MYNAH_JID_DOMAIN = 1,
    MYNAH_JID_RESOURCE = 2
};

enum mynah_session_kind {
    MYNAH_SESSION_C2S = 0,
    MYNAH_SESSION_S2S = 1,
    MYNAH_SESSION_COMPONENT = 2,
    MYNAH_SESSION_LOCAL = 3 /* a bot or other in-server entity: no socket */
};

typedef int (*mynah_hook_fn)(mynah_event *event, void *userdata);
typedef void (*mynah_timer_fn)(mynah_timer *timer, void *userdata);
/* Answer to api->send_iq: reply is the result/error iq, or NULL on timeout. */
typedef void (*mynah_iq_callback)(mynah_stanza *reply, void *userdata);

#endif
