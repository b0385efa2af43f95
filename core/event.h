/*
 * What a hook handler is given.  Usually lives on the caller's stack for
 * the duration of hooks_fire(); event_ref() moves a copy to the heap
 * (holding the stanza, the origin session, and the module whose handler
 * took it, so that module stays loaded until it calls async_done) for
 * MYNAH_ASYNC handlers.
 */
#ifndef MYNAH_EVENT_H
#define MYNAH_EVENT_H

#include <mynah/types.h>

struct mynah_event {
    const char *name;
    mynah_host *host;
    mynah_session *origin;    /* may be NULL (the server itself) */
    mynah_stanza *stanza;     /* may be NULL (non-stanza events) */
    mynah_element *features;  /* "stream-features" only */
    void *data;               /* event-specific extra, for core events */
    int refs;                 /* 0 on the stack, >= 1 on the heap */
    mynah_module *holder;     /* heap: the module whose handler kept it */
};

mynah_event *event_ref(mynah_event *ev);
void event_unref(mynah_event *ev);
/* An ASYNC handler finished: resume the origin and drop the reference. */
void event_async_done(mynah_event *ev);

mynah_stanza *event_stanza(mynah_event *ev);
mynah_session *event_origin(mynah_event *ev);
mynah_host *event_host(mynah_event *ev);
const char *event_name(mynah_event *ev);
mynah_element *event_features(mynah_event *ev);

#endif
