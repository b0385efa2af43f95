/*
 * The stored roster shared by mod_roster and mod_presence (see
 * roster_store.h).
 *
 * Stored form of an item: NUL-terminated fields, which cannot clash with
 * the contents since XML text never contains NUL:
 *
 *   "R1" NUL flags NUL name NUL request NUL group NUL group NUL ...
 *
 * flags is a set of letters: t (to), f (from), a (ask), i (pending in),
 * p (pre-approved), l (listed).  An empty name means no name; request is
 * the serialized subscribe stanza of a pending-in contact, or empty.
 */
#include "roster_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *copy_string(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (copy != NULL)
        memcpy(copy, s, len + 1);
    return copy;
}

/* ---- items ---- */

roster_item *roster_item_new(const char *jid)
{
    roster_item *item = calloc(1, sizeof *item);
    if (item == NULL)
        return NULL;
    item->jid = copy_string(jid);
    if (item->jid == NULL) {
        free(item);
        return NULL;
    }
    return item;
}

void roster_item_free(roster_item *item)
{
    if (item == NULL)
        return;
    for (size_t i = 0; i < item->group_count; i++)
        free(item->groups[i]);
    free(item->groups);
    free(item->jid);
    free(item->name);
    free(item->request);
    free(item);
}

int roster_item_add_group(roster_item *item, const char *group)
{
    char **groups = realloc(item->groups,
                            (item->group_count + 1) * sizeof *groups);
    if (groups == NULL)
        return -1;
    item->groups = groups;
    char *copy = copy_string(group);
    if (copy == NULL)
        return -1;
    item->groups[item->group_count++] = copy;
    return 0;
}

static int replace_string(char **field, const char *value)
{
    char *copy = NULL;
    if (value != NULL && value[0] != '\0' && (copy = copy_string(value)) == NULL)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

int roster_item_set_name(roster_item *item, const char *name)
{
    return replace_string(&item->name, name);
}

int roster_item_set_request(roster_item *item, const char *request)
{
    return replace_string(&item->request, request);
}

int roster_item_worth_keeping(const roster_item *item)
{
    return item->listed || item->pending_in;
}

const char *roster_subscription_name(unsigned subscription)
{
    switch (subscription & (ROSTER_SUB_TO | ROSTER_SUB_FROM)) {
    case ROSTER_SUB_TO:
        return "to";
    case ROSTER_SUB_FROM:
        return "from";
    case ROSTER_SUB_TO | ROSTER_SUB_FROM:
        return "both";
    default:
        return "none";
    }
}

/* ---- the stored form ---- */

typedef struct byte_buffer {
    char *data;
    size_t len, cap;
    int failed;
} byte_buffer;

static void buffer_put(byte_buffer *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (data == NULL) {
            b->failed = 1;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* A field and its terminating NUL. */
static void buffer_field(byte_buffer *b, const char *s)
{
    buffer_put(b, s ? s : "", s ? strlen(s) + 1 : 1);
}

char *roster_item_encode(const roster_item *item, size_t *len)
{
    char flags[8];
    size_t n = 0;
    if (item->subscription & ROSTER_SUB_TO)
        flags[n++] = 't';
    if (item->subscription & ROSTER_SUB_FROM)
        flags[n++] = 'f';
    if (item->ask)
        flags[n++] = 'a';
    if (item->pending_in)
        flags[n++] = 'i';
    if (item->approved)
        flags[n++] = 'p';
    if (item->listed)
        flags[n++] = 'l';
    flags[n] = '\0';

    byte_buffer b = {0};
    buffer_field(&b, "R1");
    buffer_field(&b, flags);
    buffer_field(&b, item->name);
    buffer_field(&b, item->request);
    for (size_t i = 0; i < item->group_count; i++)
        buffer_field(&b, item->groups[i]);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* The next NUL-terminated field at *pos, or NULL when none is left. */
static const char *next_field(const char *data, size_t len, size_t *pos)
{
    if (*pos >= len)
        return NULL;
    const char *start = data + *pos;
    const char *end = memchr(start, '\0', len - *pos);
    if (end == NULL)
        return NULL;
    *pos = (size_t)(end - data) + 1;
    return start;
}

roster_item *roster_item_decode(const char *jid, const void *data, size_t len)
{
    const char *bytes = data;
    size_t pos = 0;
    const char *magic = next_field(bytes, len, &pos);
    const char *flags = next_field(bytes, len, &pos);
    const char *name = next_field(bytes, len, &pos);
    const char *request = next_field(bytes, len, &pos);
    if (magic == NULL || strcmp(magic, "R1") != 0 || flags == NULL ||
        name == NULL || request == NULL)
        return NULL;
    roster_item *item = roster_item_new(jid);
    if (item == NULL)
        return NULL;
    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 't': item->subscription |= ROSTER_SUB_TO; break;
        case 'f': item->subscription |= ROSTER_SUB_FROM; break;
        case 'a': item->ask = 1; break;
        case 'i': item->pending_in = 1; break;
        case 'p': item->approved = 1; break;
        case 'l': item->listed = 1; break;
        default: break; /* a flag of a newer version: ignore */
        }
    }
    if (roster_item_set_name(item, name) < 0 ||
        roster_item_set_request(item, request) < 0) {
        roster_item_free(item);
        return NULL;
    }
    const char *group;
    while ((group = next_field(bytes, len, &pos)) != NULL) {
        if (roster_item_add_group(item, group) < 0) {
            roster_item_free(item);
            return NULL;
        }
    }
    return item;
}

/* ---- a loaded roster ---- */

char *roster_local_of(const char *bare_jid)
{
    const char *at = strchr(bare_jid, '@');
    size_t n = at ? (size_t)(at - bare_jid) : 0;
    char *local = malloc(n + 1);
    if (local == NULL)
        return NULL;
    memcpy(local, bare_jid, n);
    local[n] = '\0';
    return local;
}

roster *roster_new(const char *bare_jid)
{
    roster *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->bare = copy_string(bare_jid);
    r->user = roster_local_of(bare_jid);
    if (r->bare == NULL || r->user == NULL) {
        roster_free(r);
        return NULL;
    }
    return r;
}

void roster_free(roster *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++)
        roster_item_free(r->items[i]);
    free(r->items);
    free(r->bare);
    free(r->user);
    free(r);
}

static size_t roster_index(const roster *r, const char *jid)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->items[i]->jid, jid) == 0)
            return i;
    return (size_t)-1;
}

roster_item *roster_find(const roster *r, const char *jid)
{
    size_t i = roster_index(r, jid);
    return i == (size_t)-1 ? NULL : r->items[i];
}

static int roster_append(roster *r, roster_item *item)
{
    if (r->count == r->capacity) {
        size_t cap = r->capacity ? r->capacity * 2 : 16;
        roster_item **items = realloc(r->items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        r->items = items;
        r->capacity = cap;
    }
    r->items[r->count++] = item;
    return 0;
}

roster_item *roster_add(roster *r, const char *jid)
{
    roster_item *item = roster_item_new(jid);
    if (item == NULL || roster_append(r, item) < 0) {
        roster_item_free(item);
        return NULL;
    }
    return item;
}

void roster_delete(roster *r, const char *jid)
{
    size_t i = roster_index(r, jid);
    if (i == (size_t)-1)
        return;
    roster_item_free(r->items[i]);
    memmove(r->items + i, r->items + i + 1,
            (r->count - i - 1) * sizeof *r->items);
    r->count--;
}

size_t roster_listed_count(const roster *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        if (r->items[i]->listed)
            n++;
    return n;
}

/* ---- storage ---- */

typedef struct load_request {
    const mynah_api *api;
    mynah_module *module;
    char *bare;
    roster_loaded_fn cb;
    void *userdata;
} load_request;

static void on_listed(int status, const char *const *keys,
                      const void *const *values, const size_t *lens,
                      size_t count, void *userdata)
{
    load_request *req = userdata;
    roster *r = NULL;
    if (status == MYNAH_STORE_OK || status == MYNAH_STORE_NOT_FOUND)
        r = roster_new(req->bare);
    for (size_t i = 0; r != NULL && status == MYNAH_STORE_OK && i < count; i++) {
        if (strcmp(keys[i], ROSTER_VERSION_KEY) == 0) {
            char text[32];
            size_t n = lens[i] < sizeof text - 1 ? lens[i] : sizeof text - 1;
            memcpy(text, values[i], n);
            text[n] = '\0';
            r->version = strtoull(text, NULL, 10);
            continue;
        }
        roster_item *item = roster_item_decode(keys[i], values[i], lens[i]);
        if (item == NULL) {
            /* A damaged item is skipped rather than losing the roster. */
            req->api->log(req->module, MYNAH_LOG_WARN,
                          "roster of %s: unreadable item %s skipped",
                          req->bare, keys[i]);
            continue;
        }
        if (roster_append(r, item) < 0) {
            roster_item_free(item);
            roster_free(r);
            r = NULL;
        }
    }
    roster_loaded_fn cb = req->cb;
    void *ud = req->userdata;
    free(req->bare);
    free(req);
    cb(r, ud);
}

void roster_load(const mynah_api *api, mynah_module *module,
                 mynah_store *store, const char *bare_jid, roster_loaded_fn cb,
                 void *userdata)
{
    load_request *req = calloc(1, sizeof *req);
    char *user = roster_local_of(bare_jid);
    if (req == NULL || user == NULL || store == NULL ||
        (req->bare = copy_string(bare_jid)) == NULL) {
        free(user);
        if (req)
            free(req->bare);
        free(req);
        cb(NULL, userdata);
        return;
    }
    req->api = api;
    req->module = module;
    req->cb = cb;
    req->userdata = userdata;
    api->map_list(store, user, on_listed, req);
    free(user);
}

typedef struct save_request {
    int pending;
    int ok;
    roster_saved_fn cb;
    void *userdata;
} save_request;

static void on_written(int status, void *userdata)
{
    save_request *req = userdata;
    if (status != MYNAH_STORE_OK)
        req->ok = 0;
    if (--req->pending > 0)
        return;
    roster_saved_fn cb = req->cb;
    void *ud = req->userdata;
    int ok = req->ok;
    free(req);
    cb(ok, ud);
}

void roster_save(const mynah_api *api, mynah_store *store, roster *r,
                 const char *jid, int new_version, roster_saved_fn cb,
                 void *userdata)
{
    save_request *req = calloc(1, sizeof *req);
    if (req == NULL) {
        cb(0, userdata);
        return;
    }
    const roster_item *item = roster_find(r, jid);
    size_t len = 0;
    char *data = NULL;
    if (item != NULL && roster_item_worth_keeping(item) &&
        (data = roster_item_encode(item, &len)) == NULL) {
        free(req);
        cb(0, userdata);
        return;
    }
    char version[32] = "";
    if (new_version) {
        /* A roster that never had a version starts from the clock, so that a
         * re-created account does not repeat the versions its predecessor
         * gave out (a client would take its stale cache for current). */
        if (r->version == 0)
            r->version = (unsigned long long)(api->now() * 1000.0);
        r->version++;
        snprintf(version, sizeof version, "%llu", r->version);
    }
    req->ok = 1;
    req->cb = cb;
    req->userdata = userdata;
    req->pending = new_version ? 2 : 1;
    /* Both writes are issued before either may complete: pending counts
     * them, and on_written() frees the request after the last. */
    api->map_set(store, r->user, jid, data, data ? len : 0, on_written, req);
    if (new_version)
        api->map_set(store, r->user, ROSTER_VERSION_KEY, version,
                     strlen(version), on_written, req);
    free(data);
}

/* ---- XML ---- */

mynah_element *roster_item_to_xml(const mynah_api *api, mynah_element *query,
                                  const roster_item *item, int removed)
{
    mynah_element *e = api->element_add_child(query, "item", NULL);
    if (e == NULL)
        return NULL;
    api->element_set_attr(e, "jid", item->jid);
    if (removed) {
        api->element_set_attr(e, "subscription", "remove");
        return e;
    }
    if (item->name != NULL)
        api->element_set_attr(e, "name", item->name);
    api->element_set_attr(e, "subscription",
                          roster_subscription_name(item->subscription));
    if (item->ask)
        api->element_set_attr(e, "ask", "subscribe");
    if (item->approved)
        api->element_set_attr(e, "approved", "true");
    for (size_t i = 0; i < item->group_count; i++) {
        mynah_element *g = api->element_add_child(e, "group", NULL);
        if (g != NULL)
            api->element_add_text(g, item->groups[i], strlen(item->groups[i]));
    }
    return e;
}

void roster_version_text(const roster *r, char *out, size_t size)
{
    snprintf(out, size, "%llu", r->version);
}

void roster_push(const mynah_api *api, const roster *r, const char *jid,
                 const roster_item *item, int removed)
{
    static unsigned long long push_counter;
    char version[32];
    roster_version_text(r, version, sizeof version);
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(r->bare, i)) != NULL; i++) {
        if (!api->session_interested(s))
            continue;
        mynah_stanza *push = api->stanza_new("iq", NULL);
        if (push == NULL)
            return;
        char id[40];
        snprintf(id, sizeof id, "roster-push-%llu", ++push_counter);
        mynah_element *root = api->stanza_root(push);
        api->element_set_attr(root, "type", "set");
        api->element_set_attr(root, "id", id);
        api->element_set_attr(root, "to", api->jid_full(api->session_jid(s)));
        /* §2.1.6: no 'from' (it comes from the account itself). */
        mynah_element *query = api->element_add_child(root, "query", ROSTER_NS);
        if (query != NULL) {
            api->element_set_attr(query, "ver", version);
            if (item != NULL) {
                roster_item_to_xml(api, query, item, removed);
            } else {
                mynah_element *e = api->element_add_child(query, "item", NULL);
                if (e != NULL) {
                    api->element_set_attr(e, "jid", jid);
                    api->element_set_attr(e, "subscription", "remove");
                }
            }
        }
        api->session_send(s, push);
    }
}

/* ---- jobs ---- */

roster_job *roster_job_begin(const mynah_api *api, mynah_event *event,
                             void *data, void (*free_data)(void *data))
{
    roster_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        if (free_data)
            free_data(data);
        return NULL;
    }
    job->api = api;
    job->event = event;
    job->in_handler = 1;
    job->data = data;
    job->free_data = free_data;
    return job;
}

static void roster_job_free(roster_job *job)
{
    if (job->free_data)
        job->free_data(job->data);
    free(job);
}

int roster_job_return(roster_job *job)
{
    job->in_handler = 0;
    if (job->finished) {
        roster_job_free(job);
        return MYNAH_HANDLED;
    }
    /* Storage answers later: keep the stanza and the session (paused) */
    job->event = job->api->event_ref(job->event);
    return MYNAH_ASYNC;
}

void roster_job_end(roster_job *job)
{
    job->finished = 1;
    if (job->in_handler)
        return; /* roster_job_return() frees it */
    if (job->event != NULL)
        job->api->async_done(job->event);
    roster_job_free(job);
}

/* ---- presence ---- */

void roster_send_presence(const mynah_api *api, const char *from,
                          const char *to, const char *type)
{
    mynah_stanza *p = api->stanza_new("presence", NULL);
    if (p == NULL)
        return;
    mynah_element *root = api->stanza_root(p);
    api->element_set_attr(root, "from", from);
    api->element_set_attr(root, "to", to);
    if (type != NULL)
        api->element_set_attr(root, "type", type);
    api->route(p);
}

void roster_send_unavailable_from_resources(const mynah_api *api,
                                            const char *user_bare,
                                            const char *to)
{
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(user_bare, i)) != NULL; i++)
        if (api->session_available(s))
            roster_send_presence(api, api->jid_full(api->session_jid(s)), to,
                                 "unavailable");
}

/* ---- helpers ---- */

char *roster_bare_of(const mynah_api *api, const char *jid)
{
    if (jid == NULL)
        return NULL;
    mynah_jid *j = api->jid_new(jid);
    if (j == NULL)
        return NULL;
    char *bare = copy_string(api->jid_bare(j));
    api->jid_free(j);
    return bare;
}
