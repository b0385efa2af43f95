/*
 * Events handed to hook handlers.
 *
 * An event normally lives on the stack of whoever fires it.  A handler that
 * answers later (MYNAH_ASYNC) calls event_ref(), which copies the event to
 * the heap and keeps what it points at alive: a reference on the stanza, a
 * reference on the origin session, and a pause of that session's reading so
 * that its later stanzas are not processed before this one is done (the
 * order of a session's stanzas is kept, RFC 6120 §10.1), and a reference on
 * the module whose handler kept it.  event_async_done() undoes them all.
 */
#include "event.h"

#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "module_loader.h"
#include "session.h"
#include "stanza.h"

mynah_event *event_ref(mynah_event *ev)
{
    if (ev == NULL)
        return NULL;
    if (ev->refs > 0) {
        /* Every reference is one pause, matched by one async_done. */
        ev->refs++;
        if (ev->origin != NULL)
            session_pause(ev->origin);
        return ev;
    }
    size_t name_len = ev->name ? strlen(ev->name) + 1 : 0;
    /* The name is copied into the same block: the caller's string may be
     * as short-lived as the stack event itself. */
    mynah_event *copy = malloc(sizeof *copy + name_len);
    if (copy == NULL)
        return NULL;
    *copy = *ev;
    if (ev->name != NULL) {
        char *name = (char *)(copy + 1);
        memcpy(name, ev->name, name_len);
        copy->name = name;
    }
    copy->refs = 1;
    /* The module answering later is a pending operation: it stays loaded
     * until it is done (DESIGN.md, Modules). */
    copy->holder = hooks_running_owner();
    module_ref(copy->holder);
    if (copy->stanza != NULL)
        stanza_ref(copy->stanza);
    if (copy->features != NULL)
        stanza_ref(element_stanza(copy->features));
    if (copy->origin != NULL) {
        session_ref(copy->origin);
        session_pause(copy->origin);
    }
    return copy;
}

void event_unref(mynah_event *ev)
{
    if (ev == NULL || ev->refs <= 0) /* a stack event owns nothing */
        return;
    if (--ev->refs > 0)
        return;
    if (ev->stanza != NULL)
        stanza_unref(ev->stanza);
    if (ev->features != NULL)
        stanza_unref(element_stanza(ev->features));
    if (ev->origin != NULL)
        session_unref(ev->origin);
    mynah_module *holder = ev->holder;
    free(ev);
    /* Usually called from the holder's own code (api->async_done): the
     * reference is dropped after it returns, so that a module waiting to
     * be closed is not closed under its own feet. */
    module_unref_later(holder);
}

void event_async_done(mynah_event *ev)
{
    if (ev == NULL || ev->refs <= 0)
        return;
    if (ev->origin != NULL)
        session_resume(ev->origin);
    event_unref(ev);
}

mynah_stanza *event_stanza(mynah_event *ev)
{
    return ev ? ev->stanza : NULL;
}

mynah_session *event_origin(mynah_event *ev)
{
    return ev ? ev->origin : NULL;
}

mynah_host *event_host(mynah_event *ev)
{
    return ev ? ev->host : NULL;
}

const char *event_name(mynah_event *ev)
{
    return ev ? ev->name : NULL;
}

mynah_element *event_features(mynah_event *ev)
{
    return ev ? ev->features : NULL;
}
