/*
 * Event buses: named events, each with a chain of handlers sorted by
 * priority (higher first, equal priorities in registration order).
 *
 * Firing an event that nobody handles is one hash lookup: an event name
 * has an entry in the map only while it has handlers.
 *
 * Handlers may add and remove handlers (their own or others') while an
 * event is being fired, even from nested fires on the same bus.  While any
 * fire is running on a bus, the handler arrays are never reordered or
 * shrunk: a removed handler is marked dead (and skipped), and a new one is
 * appended at the end marked pending (it does not run in the fire that is
 * in progress).  When the outermost fire returns, dead handlers are swept
 * and pending ones moved to their place in priority order.
 */
#include "hooks.h"

#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "log.h"
#include "module_loader.h"

typedef struct hook_handler {
    mynah_hook_fn fn;
    void *userdata;
    int priority;
    mynah_module *owner;
    unsigned dead : 1;    /* removed during a fire; swept afterwards */
    unsigned pending : 1; /* added during a fire; placed afterwards */
} hook_handler;

typedef struct hook_chain {
    char *event; /* the map's key */
    hook_handler *handlers;
    size_t count; /* entries in handlers[], dead and pending included */
    size_t cap;
    size_t live;  /* entries not dead (pending ones included) */
    int dirty;    /* has dead or pending entries to tidy */
} hook_chain;

struct hooks {
    hashmap chains; /* event name -> hook_chain */
    int firing;     /* depth of fires in progress on this bus */
    int dirty;      /* some chain needs tidying after the outermost fire */
};

hooks *hooks_new(void)
{
    hooks *bus = calloc(1, sizeof *bus);
    if (bus == NULL)
        return NULL;
    bus->chains = (hashmap)HASHMAP_INIT;
    return bus;
}

static void chain_free(hook_chain *chain)
{
    free(chain->handlers);
    free(chain->event);
    free(chain);
}

void hooks_free(hooks *bus)
{
    if (bus == NULL)
        return;
    size_t pos = 0;
    const char *key;
    void *value;
    while (hashmap_next(&bus->chains, &pos, &key, &value))
        chain_free(value);
    hashmap_free(&bus->chains);
    free(bus);
}

static hook_chain *chain_get_or_create(hooks *bus, const char *event)
{
    hook_chain *chain = hashmap_get(&bus->chains, event);
    if (chain != NULL)
        return chain;
    chain = calloc(1, sizeof *chain);
    if (chain == NULL)
        return NULL;
    chain->event = strdup(event);
    if (chain->event == NULL || hashmap_put(&bus->chains, chain->event, chain) < 0) {
        chain_free(chain);
        return NULL;
    }
    return chain;
}

static int chain_reserve(hook_chain *chain)
{
    if (chain->count < chain->cap)
        return 0;
    size_t cap = chain->cap ? chain->cap * 2 : 4;
    hook_handler *grown = realloc(chain->handlers, cap * sizeof *grown);
    if (grown == NULL)
        return -1;
    chain->handlers = grown;
    chain->cap = cap;
    return 0;
}

/* Where a handler of this priority goes: after every handler of the same
 * or a higher priority, so that ties keep registration order. */
static size_t chain_insert_position(const hook_chain *chain, size_t limit,
                                    int priority)
{
    size_t i = 0;
    while (i < limit && chain->handlers[i].priority >= priority)
        i++;
    return i;
}

static void chain_insert(hook_chain *chain, size_t limit, hook_handler h)
{
    /* the caller reserved room for one more */
    size_t at = chain_insert_position(chain, limit, h.priority);
    memmove(&chain->handlers[at + 1], &chain->handlers[at],
            (chain->count - at) * sizeof h);
    chain->handlers[at] = h;
    chain->count++;
}

/*
 * Two modules answering the same iq at the same priority is almost always
 * a configuration mistake (two roster modules, say): only the first one
 * registered will ever answer.  Say so once, when it happens.
 */
static void warn_terminal_clash(const hook_chain *chain, const hook_handler *h)
{
    if (h->owner == NULL)
        return;
    if (strncmp(chain->event, "iq-get/", 7) != 0 &&
        strncmp(chain->event, "iq-set/", 7) != 0)
        return;
    for (size_t i = 0; i < chain->count; i++) {
        const hook_handler *other = &chain->handlers[i];
        if (other->dead || other->owner == NULL || other->owner == h->owner ||
            other->priority != h->priority)
            continue;
        log_msg(MYNAH_LOG_WARN, "hooks",
                "modules '%s' and '%s' both handle '%s' at priority %d; "
                "only '%s' (registered first) will answer",
                other->owner->name, h->owner->name, chain->event, h->priority,
                other->owner->name);
        return;
    }
}

int hooks_add(hooks *bus, const char *event, mynah_hook_fn fn, void *userdata,
              int priority, mynah_module *owner)
{
    if (bus == NULL || event == NULL || fn == NULL)
        return -1;
    hook_chain *chain = chain_get_or_create(bus, event);
    if (chain == NULL)
        return -1;
    if (chain_reserve(chain) < 0) {
        if (chain->count == 0 && bus->firing == 0) {
            hashmap_remove(&bus->chains, chain->event);
            chain_free(chain);
        }
        return -1;
    }
    hook_handler h = {fn, userdata, priority, owner, 0, 0};
    warn_terminal_clash(chain, &h);
    if (bus->firing > 0) {
        /* Indices of a chain being fired must stay put: park it at the
         * end; hooks_tidy() moves it into place. */
        h.pending = 1;
        chain->handlers[chain->count++] = h;
        chain->dirty = 1;
        bus->dirty = 1;
    } else {
        chain_insert(chain, chain->count, h);
    }
    chain->live++;
    return 0;
}

/* Drops a chain's dead handlers and moves its pending ones into priority
 * order; frees the chain when nothing is left.  Only when no fire runs. */
static void chain_tidy(hooks *bus, hook_chain *chain)
{
    /* Pending handlers all sit after the settled ones (they were appended
     * during a fire), so one pass does it: settled handlers slide to the
     * front in order, and each pending one is inserted after the handlers
     * of its priority.  Writes never pass the index being read. */
    size_t kept = 0;
    for (size_t i = 0; i < chain->count; i++) {
        hook_handler h = chain->handlers[i];
        if (h.dead)
            continue;
        if (!h.pending) {
            chain->handlers[kept++] = h;
            continue;
        }
        h.pending = 0;
        size_t at = chain_insert_position(chain, kept, h.priority);
        memmove(&chain->handlers[at + 1], &chain->handlers[at],
                (kept - at) * sizeof h);
        chain->handlers[at] = h;
        kept++;
    }
    chain->count = kept;
    chain->live = kept;
    chain->dirty = 0;
    if (kept == 0) {
        hashmap_remove(&bus->chains, chain->event);
        chain_free(chain);
    }
}

static void hooks_tidy(hooks *bus)
{
    size_t pos = 0;
    const char *key;
    void *value;
    while (hashmap_next(&bus->chains, &pos, &key, &value)) {
        hook_chain *chain = value;
        if (!chain->dirty)
            continue;
        int emptied = chain->live == 0;
        chain_tidy(bus, chain);
        if (emptied)
            pos = 0; /* the map changed under the iteration: start over */
    }
    bus->dirty = 0;
}

static void mark_dead(hooks *bus, hook_chain *chain, size_t i)
{
    chain->handlers[i].dead = 1;
    chain->live--;
    chain->dirty = 1;
    bus->dirty = 1;
}

int hooks_remove(hooks *bus, const char *event, mynah_hook_fn fn,
                 void *userdata)
{
    if (bus == NULL || event == NULL)
        return -1;
    hook_chain *chain = hashmap_get(&bus->chains, event);
    if (chain == NULL)
        return -1;
    for (size_t i = 0; i < chain->count; i++) {
        hook_handler *h = &chain->handlers[i];
        if (h->dead || h->fn != fn || h->userdata != userdata)
            continue;
        mark_dead(bus, chain, i);
        if (bus->firing == 0)
            chain_tidy(bus, chain);
        return 0;
    }
    return -1;
}

void hooks_remove_owner(hooks *bus, mynah_module *owner)
{
    if (bus == NULL)
        return;
    size_t pos = 0;
    const char *key;
    void *value;
    while (hashmap_next(&bus->chains, &pos, &key, &value)) {
        hook_chain *chain = value;
        for (size_t i = 0; i < chain->count; i++)
            if (!chain->handlers[i].dead && chain->handlers[i].owner == owner)
                mark_dead(bus, chain, i);
    }
    if (bus->firing == 0 && bus->dirty)
        hooks_tidy(bus);
}

static mynah_module *running_owner;

mynah_module *hooks_running_owner(void)
{
    return running_owner;
}

int hooks_fire(hooks *bus, const char *event, mynah_event *ev)
{
    if (bus == NULL)
        return MYNAH_PASS;
    hook_chain *chain = hashmap_get(&bus->chains, event);
    if (chain == NULL)
        return MYNAH_PASS;
    int result = MYNAH_PASS;
    bus->firing++;
    /* Handlers added from here on are appended after `end` (and marked
     * pending), so they do not run in this fire. */
    size_t end = chain->count;
    for (size_t i = 0; i < end; i++) {
        /* Re-read through the chain each time: a handler may have grown
         * (reallocated) the array. */
        hook_handler h = chain->handlers[i];
        if (h.dead || h.pending)
            continue;
        mynah_module *outer = running_owner;
        running_owner = h.owner;
        int r = h.fn(ev, h.userdata);
        running_owner = outer;
        if (r == MYNAH_HANDLED || r == MYNAH_ASYNC) {
            result = r;
            break;
        }
    }
    bus->firing--;
    if (bus->firing == 0 && bus->dirty)
        hooks_tidy(bus);
    return result;
}

int hooks_count(const hooks *bus, const char *event)
{
    if (bus == NULL || event == NULL)
        return 0;
    const hook_chain *chain = hashmap_get(&bus->chains, event);
    return chain ? (int)chain->live : 0;
}
