/*
 * Sessions and the session table.
 *
 * Two maps: full JID -> session, and bare JID -> the user's first session
 * (the rest are chained through next_of_user).  Both maps borrow their keys
 * from the sessions' own JIDs, so the table costs no string copies.
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>

#include "event.h"
#include "hashmap.h"
#include "host.h"
#include "jid.h"
#include "log.h"
#include "server.h"
#include "stanza.h"

static hashmap by_full_jid = HASHMAP_INIT;
static hashmap by_bare_jid = HASHMAP_INIT;
static mynah_session *all_first, *all_last;
static size_t all_count;
static uint32_t next_id = 1;

/* Closed sessions whose "live" reference is dropped at the end of the
 * loop iteration. */
static mynah_session **reap_list;
static size_t reap_count, reap_cap;
static struct event *reap_event;

static void session_run_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    session_reap();
}

mynah_session *session_new(enum mynah_session_kind kind, mynah_host *host,
                           const session_ops *ops, void *proto)
{
    mynah_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->id = next_id++;
    if (next_id == 0)
        next_id = 1;
    s->kind = (uint8_t)kind;
    s->state = SESSION_CONNECTED;
    s->refs = 1; /* the "live" reference, dropped after close */
    s->host = host;
    s->ops = ops;
    s->proto = proto;
    s->created = server_now();
    s->last_input = s->created;
    s->prev_all = all_last;
    if (all_last)
        all_last->next_all = s;
    else
        all_first = s;
    all_last = s;
    all_count++;
    return s;
}

mynah_session *session_first(void)
{
    return all_first;
}

mynah_session *session_ref(mynah_session *s)
{
    s->refs++;
    return s;
}

struct session_module_data {
    mynah_module *module;
    void *data;
    void (*free_fn)(void *data);
    session_module_data *next;
};

static void module_data_free_all(mynah_session *s)
{
    while (s->module_data != NULL) {
        session_module_data *d = s->module_data;
        s->module_data = d->next;
        if (d->free_fn)
            d->free_fn(d->data);
        free(d);
    }
}

void session_set_module_data(mynah_module *module, mynah_session *s,
                             void *data, void (*free_fn)(void *data))
{
    session_module_data **link = &s->module_data;
    while (*link != NULL && (*link)->module != module)
        link = &(*link)->next;
    session_module_data *d = *link;
    if (d != NULL) {
        if (d->free_fn && d->data != data)
            d->free_fn(d->data);
        if (data == NULL) {
            *link = d->next;
            free(d);
            return;
        }
        d->data = data;
        d->free_fn = free_fn;
        return;
    }
    if (data == NULL)
        return;
    d = malloc(sizeof *d);
    if (d == NULL) {
        if (free_fn)
            free_fn(data);
        return;
    }
    d->module = module;
    d->data = data;
    d->free_fn = free_fn;
    d->next = s->module_data;
    s->module_data = d;
}

void *session_get_module_data(mynah_module *module, const mynah_session *s)
{
    for (session_module_data *d = s->module_data; d; d = d->next)
        if (d->module == module)
            return d->data;
    return NULL;
}

void session_drop_module_data(mynah_module *module, mynah_host *host)
{
    for (mynah_session *s = all_first; s; s = s->next_all)
        if ((host == NULL || s->host == host) && s->module_data != NULL)
            session_set_module_data(module, s, NULL, NULL);
}

mynah_session *session_next_bound(mynah_host *host, mynah_session *previous)
{
    mynah_session *s = previous ? previous->next_all : all_first;
    for (; s; s = s->next_all)
        if (s->state == SESSION_BOUND && (host == NULL || s->host == host))
            return s;
    return NULL;
}

int session_on_flushed(mynah_session *s, void (*cb)(int written, void *ud),
                       void *ud)
{
    if (s->state == SESSION_CLOSING) {
        cb(0, ud);
        return 0;
    }
    if (s->ops == NULL || s->ops->on_flushed == NULL) {
        cb(1, ud);
        return 0;
    }
    return s->ops->on_flushed(s, cb, ud);
}

static void session_free(mynah_session *s)
{
    module_data_free_all(s);
    if (s->ops && s->ops->free)
        s->ops->free(s);
    if (s->presence)
        stanza_unref(s->presence);
    jid_free(s->jid);
    free(s->username);
    if (s->prev_all)
        s->prev_all->next_all = s->next_all;
    else
        all_first = s->next_all;
    if (s->next_all)
        s->next_all->prev_all = s->prev_all;
    else
        all_last = s->prev_all;
    all_count--;
    free(s);
}

void session_unref(mynah_session *s)
{
    if (--s->refs == 0)
        session_free(s);
}

const char *session_name(const mynah_session *s)
{
    static char names[4][24];
    static unsigned turn;
    static const char *const kinds[] = {"c2s", "s2s", "component", "local"};
    char *name = names[turn++ % 4];
    snprintf(name, sizeof names[0], "%s%u", kinds[s->kind & 3], s->id);
    return name;
}

/* 12 characters from [a-z0-9]: 62 bits, unguessable enough to keep one
 * client from predicting another's resource. */
static void generate_resource(char out[13])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char bytes[12];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        for (size_t i = 0; i < sizeof bytes; i++)
            bytes[i] = (unsigned char)rand();
    }
    for (size_t i = 0; i < 12; i++)
        out[i] = alphabet[bytes[i] % 36];
    out[12] = '\0';
}

static void user_list_add(mynah_session *s)
{
    const char *bare = jid_bare(s->jid);
    mynah_session *head = hashmap_get(&by_bare_jid, bare);
    if (head == NULL) {
        s->next_of_user = NULL;
        hashmap_put(&by_bare_jid, bare, s);
        return;
    }
    /* Append, so that resources keep their binding order. */
    mynah_session *tail = head;
    while (tail->next_of_user)
        tail = tail->next_of_user;
    tail->next_of_user = s;
    s->next_of_user = NULL;
}

static void user_list_remove(mynah_session *s)
{
    const char *bare = jid_bare(s->jid);
    mynah_session *head = hashmap_get(&by_bare_jid, bare);
    if (head == s) {
        if (s->next_of_user)
            /* Re-key with the new head's own string: the map borrows it. */
            hashmap_put(&by_bare_jid, jid_bare(s->next_of_user->jid),
                        s->next_of_user);
        else
            hashmap_remove(&by_bare_jid, bare);
    } else {
        for (mynah_session *p = head; p; p = p->next_of_user)
            if (p->next_of_user == s) {
                p->next_of_user = s->next_of_user;
                break;
            }
    }
    s->next_of_user = NULL;
}

static void fire_session_event(mynah_session *s, const char *name)
{
    if (s->host == NULL)
        return;
    mynah_event ev = {0};
    ev.name = name;
    ev.host = s->host;
    ev.origin = s;
    hooks_fire(s->host->hooks, name, &ev);
    /* A session's end also matters to components of other hosts (a MUC
     * service must make the user leave its rooms): "resource-unbind" is
     * fired on the global bus too, after the session's own host. */
    if (strcmp(name, "resource-unbind") == 0 && server.global_hooks != NULL)
        hooks_fire(server.global_hooks, name, &ev);
}

int session_bind(mynah_session *s, const char *resource, int replace)
{
    char generated[13];
    if (resource == NULL || resource[0] == '\0') {
        generate_resource(generated);
        resource = generated;
    }
    mynah_jid *jid = jid_from_parts(s->username, host_name(s->host), resource);
    if (jid == NULL)
        return -3;
    mynah_session *old = hashmap_get(&by_full_jid, jid_full(jid));
    if (old != NULL) {
        if (!replace) {
            jid_free(jid);
            return -2;
        }
        /* RFC 6120 §7.7.2.2: the server may terminate the old session
         * with a <conflict/> stream error. */
        session_close(old, "conflict", "Replaced by a new connection");
    }
    s->jid = jid;
    if (hashmap_put(&by_full_jid, jid_full(jid), s) < 0) {
        s->jid = NULL;
        jid_free(jid);
        return -1;
    }
    user_list_add(s);
    s->state = SESSION_BOUND;
    fire_session_event(s, "resource-bind");
    return 0;
}

void session_unbind(mynah_session *s)
{
    if (s->jid == NULL || hashmap_get(&by_full_jid, jid_full(s->jid)) != s)
        return;
    /* Out of the tables first, so that what the handlers send (unavailable
     * presence to contacts) is never routed back to this session. */
    hashmap_remove(&by_full_jid, jid_full(s->jid));
    user_list_remove(s);
    fire_session_event(s, "resource-unbind");
}

mynah_session *session_find(const char *full_jid)
{
    return hashmap_get(&by_full_jid, full_jid);
}

mynah_session *session_first_of_user(const char *bare_jid)
{
    return hashmap_get(&by_bare_jid, bare_jid);
}

mynah_session *session_of_user(const char *bare_jid, size_t index)
{
    mynah_session *s = session_first_of_user(bare_jid);
    while (s && index-- > 0)
        s = s->next_of_user;
    return s;
}

size_t session_count(void)
{
    return by_full_jid.count;
}

size_t session_count_all(void)
{
    return all_count;
}

int session_send(mynah_session *s, mynah_stanza *stanza)
{
    if (s->state == SESSION_CLOSING || s->ops == NULL) {
        stanza_unref(stanza);
        return -1;
    }
    return s->ops->send(s, stanza);
}

int session_send_raw(mynah_session *s, const char *data, size_t len)
{
    if (s->state == SESSION_CLOSING || s->ops == NULL || s->ops->send_raw == NULL)
        return -1;
    return s->ops->send_raw(s, data, len);
}

static void reap_add(mynah_session *s)
{
    if (reap_count == reap_cap) {
        size_t cap = reap_cap ? reap_cap * 2 : 64;
        mynah_session **list = realloc(reap_list, cap * sizeof *list);
        if (list == NULL) {
            /* Cannot defer: leaking one session beats freeing it under a
             * caller's feet. */
            log_msg(MYNAH_LOG_ERROR, "session", "out of memory reaping %s",
                    session_name(s));
            return;
        }
        reap_list = list;
        reap_cap = cap;
    }
    reap_list[reap_count++] = s;
    if (reap_event == NULL)
        reap_event = event_new(server.base, -1, 0, session_run_reap, NULL);
    if (reap_event)
        event_active(reap_event, EV_WRITE, 0);
}

void session_close(mynah_session *s, const char *condition, const char *text)
{
    if (s->state == SESSION_CLOSING)
        return;
    int was_bound = s->state == SESSION_BOUND;
    session_ref(s);
    if (was_bound)
        session_unbind(s);
    s->state = SESSION_CLOSING;
    s->available = 0;
    if (condition)
        log_msg(MYNAH_LOG_DEBUG, session_name(s), "closing: %s%s%s", condition,
                text ? ": " : "", text ? text : "");
    if (s->ops && s->ops->close)
        s->ops->close(s, condition, text);
    reap_add(s);
}

void session_connection_lost(mynah_session *s)
{
    session_close(s, NULL, NULL);
}

void session_pause(mynah_session *s)
{
    if (s->paused++ == 0 && s->ops && s->ops->pause)
        s->ops->pause(s);
}

void session_resume(mynah_session *s)
{
    if (s->paused == 0)
        return;
    if (--s->paused == 0 && s->ops && s->ops->resume)
        s->ops->resume(s);
}

void session_set_presence(mynah_session *s, mynah_stanza *presence)
{
    if (presence)
        stanza_ref(presence);
    if (s->presence)
        stanza_unref(s->presence);
    s->presence = presence;
}

void session_set_priority(mynah_session *s, int priority)
{
    if (priority < -128)
        priority = -128;
    if (priority > 127)
        priority = 127;
    s->priority = (int16_t)priority;
}

void session_reap(void)
{
    /* session_close took one reference for the reap list and the session
     * still holds its "live" one: drop both. */
    while (reap_count > 0) {
        size_t n = reap_count;
        mynah_session **list = reap_list;
        reap_list = NULL;
        reap_count = reap_cap = 0;
        for (size_t i = 0; i < n; i++) {
            mynah_session *s = list[i];
            session_unref(s);
            session_unref(s);
        }
        free(list);
    }
}

void session_close_all(const char *condition, const char *text)
{
    mynah_session *s = all_first;
    while (s != NULL) {
        mynah_session *next = s->next_all;
        session_ref(s);
        session_close(s, condition, text);
        next = s->next_all;
        session_unref(s);
        s = next;
    }
}
