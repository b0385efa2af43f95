/*
 * Module timers on the server's event loop (server.base).
 *
 * A timer fires once; a callback that wants another period adds a new
 * timer.  Each pending timer belongs to a (module, host) pair -- host NULL
 * when the module set it for itself, as api->timer_add does -- and holds a
 * reference on its module, so a module with pending timers is not closed
 * under them.  Removing a module from a host cancels its timers there.
 *
 * A timer pointer is valid until its callback starts or it is cancelled;
 * cancelling it from inside its own callback is harmless.
 */
#ifndef MYNAH_TIMER_H
#define MYNAH_TIMER_H

#include <mynah/types.h>

/* NULL if the loop is not set up (server.base NULL) or out of memory. */
mynah_timer *timer_add(mynah_module *owner, mynah_host *host, double seconds,
                       mynah_timer_fn fn, void *userdata);
void timer_cancel(mynah_timer *timer);
/* Cancels the module's timers set for this host (host NULL: those set
 * with no host). */
void timer_cancel_owner(mynah_module *owner, mynah_host *host);
/* Cancels every timer of a module, whatever its host. */
void timer_cancel_module(mynah_module *owner);
/* Pending timers of a module (any host); owner NULL counts them all. */
size_t timer_count(const mynah_module *owner);

#endif
