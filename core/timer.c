/*
 * Module timers: one libevent timer event each, kept on a list of pending
 * timers so that a module's timers can be found and cancelled when it
 * leaves a host.
 */
#include "timer.h"

#include <math.h>
#include <stdlib.h>

#include <event2/event.h>

#include "module_loader.h"
#include "server.h"

struct mynah_timer {
    struct event *ev;
    mynah_module *owner; /* holds a reference while pending; may be NULL */
    mynah_host *host;
    mynah_timer_fn fn;
    void *userdata;
    int firing;          /* the callback is running: cancel is a no-op */
    mynah_timer *prev, *next;
};

static mynah_timer *pending; /* every timer not yet fired nor cancelled */

static void list_unlink(mynah_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        pending = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

/* Frees a timer taken off the list, then lets its module go (which may
 * close the module, so the timer must be gone first). */
static void timer_release(mynah_timer *t)
{
    mynah_module *owner = t->owner;
    event_free(t->ev);
    free(t);
    if (owner != NULL)
        module_unref(owner);
}

static void timer_expired(evutil_socket_t fd, short what, void *arg)
{
    mynah_timer *t = arg;
    list_unlink(t);
    t->firing = 1;
    t->fn(t, t->userdata);
    timer_release(t);
}

mynah_timer *timer_add(mynah_module *owner, mynah_host *host, double seconds,
                       mynah_timer_fn fn, void *userdata)
{
    if (server.base == NULL || fn == NULL || !(seconds >= 0) || isinf(seconds))
        return NULL;
    mynah_timer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->ev = evtimer_new(server.base, timer_expired, t);
    if (t->ev == NULL) {
        free(t);
        return NULL;
    }
    struct timeval tv;
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    if (evtimer_add(t->ev, &tv) < 0) {
        event_free(t->ev);
        free(t);
        return NULL;
    }
    t->owner = owner;
    t->host = host;
    t->fn = fn;
    t->userdata = userdata;
    t->next = pending;
    if (pending)
        pending->prev = t;
    pending = t;
    if (owner != NULL)
        module_ref(owner);
    return t;
}

void timer_cancel(mynah_timer *t)
{
    if (t == NULL || t->firing)
        return;
    list_unlink(t);
    timer_release(t);
}

/* Takes the matching timers off the list first and releases them after:
 * releasing may close a module, which cancels its timers again. */
static void cancel_matching(const mynah_module *owner, int any_host,
                            const mynah_host *host)
{
    mynah_timer *doomed = NULL;
    for (mynah_timer *t = pending, *next; t != NULL; t = next) {
        next = t->next;
        if (t->owner != owner || (!any_host && t->host != host))
            continue;
        list_unlink(t);
        t->next = doomed;
        doomed = t;
    }
    while (doomed != NULL) {
        mynah_timer *t = doomed;
        doomed = t->next;
        timer_release(t);
    }
}

void timer_cancel_owner(mynah_module *owner, mynah_host *host)
{
    cancel_matching(owner, 0, host);
}

void timer_cancel_module(mynah_module *owner)
{
    cancel_matching(owner, 1, NULL);
}

size_t timer_count(const mynah_module *owner)
{
    size_t n = 0;
    for (const mynah_timer *t = pending; t != NULL; t = t->next)
        if (owner == NULL || t->owner == owner)
            n++;
    return n;
}
