/*
 * Event buses.  One per host plus a global one (server.global_hooks).
 *
 * Handlers run in priority order, higher first; equal priorities run in
 * registration order (never hash order).  The first handler returning
 * MYNAH_HANDLED or MYNAH_ASYNC ends the chain and that is the result.
 * Every handler records the module that owns it, so unloading a module
 * from a host removes exactly its handlers.  Removing a handler while its
 * event is being fired is safe: it is marked dead and swept afterwards.
 */
#ifndef MYNAH_HOOKS_H
#define MYNAH_HOOKS_H

#include <mynah/types.h>

typedef struct hooks hooks;

hooks *hooks_new(void);
void hooks_free(hooks *bus);

/* 0, or -1 when out of memory. */
int hooks_add(hooks *bus, const char *event, mynah_hook_fn fn, void *userdata,
              int priority, mynah_module *owner);
/* Removes the first matching (fn, userdata) handler; 0 or -1 if none. */
int hooks_remove(hooks *bus, const char *event, mynah_hook_fn fn,
                 void *userdata);
/* Removes every handler the module owns on this bus. */
void hooks_remove_owner(hooks *bus, mynah_module *owner);
/* Runs the chain for event->name.  Returns MYNAH_PASS when no handler
 * took it (or there are none). */
int hooks_fire(hooks *bus, const char *event, mynah_event *ev);
/* Number of live handlers for an event (0 if none). */
int hooks_count(const hooks *bus, const char *event);
/* The module whose handler is running right now (innermost fire), or NULL
 * outside handlers: event_ref() uses it to keep that module loaded. */
mynah_module *hooks_running_owner(void);

#endif
