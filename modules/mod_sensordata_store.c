/*
 * What mod_sensordata keeps of the things' readouts (see
 * mod_sensordata_store.h).
 *
 * Three stores per host:
 *   sensordata_latest   keyval, one value per thing: a <latest/> element
 *                       holding the newest value of each field of each
 *                       node (fields without a historical* type only),
 *                       each under the timestamp the thing gave it;
 *   sensordata_history  archive, one item per (node, timestamp) readout:
 *                       <node ...><timestamp value=...>fields</timestamp>
 *                       </node>, 'when' = that timestamp;
 *   sensordata_things   map, user "things": every thing with data, so
 *                       that the periodic pruning can find them.
 *
 * History is bounded by count (sensordata_history_max per thing: trimmed
 * every few appends) and by age (sensordata_history_days: pruned every
 * hour).  A readout sent to several readers at once is stored once: the
 * last few (thing, readout) hashes are remembered.
 *
 * Timestamps without a time zone are taken as UTC (XEP-0323 §Time Zones
 * leaves them "undefined").
 */
#include "mod_sensordata_store.h"

#include <stdlib.h>
#include <string.h>

#include "iot_api.h"
#include "iot_util.h"
#include "iot_xml.h"

#define THINGS_USER "things"
#define DEDUP_SIZE 64
/* A thing fills the server's disk only so far: the latest values hold at
 * most this many fields, a kept readout at most this many bytes. */
#define LATEST_MAX_FIELDS 1000
#define HISTORY_ITEM_MAX 65536

typedef struct seen_thing {
    char *thing;
    long long appends; /* since the last trim */
} seen_thing;

struct sd_store {
    const mynah_api *api;
    mynah_module *module;
    mynah_host *host;
    mynah_store *latest;
    mynah_store *history;
    mynah_store *index;
    sd_limits limits;
    seen_thing *seen; /* sorted by thing */
    size_t seen_count;
    size_t seen_cap;
    uint64_t dedup[DEDUP_SIZE];
    size_t dedup_next;
    int refs;   /* 1 while open, +1 per operation in flight */
    int closed;
};

static const mynah_api *api;

/* ---- lifetime ---- */

static void store_ref(sd_store *s)
{
    s->refs++;
}

static void store_unref(sd_store *s)
{
    if (--s->refs > 0)
        return;
    for (size_t i = 0; i < s->seen_count; i++)
        free(s->seen[i].thing);
    free(s->seen);
    free(s);
}

static size_t seen_find(const sd_store *s, const char *thing, int *found)
{
    size_t lo = 0, hi = s->seen_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->seen[mid].thing, thing) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->seen_count && strcmp(s->seen[lo].thing, thing) == 0;
    return lo;
}

/* The entry for a thing, added (and written to the index) when new. */
static seen_thing *seen_get(sd_store *s, const char *thing, int write)
{
    int found;
    size_t i = seen_find(s, thing, &found);
    if (found)
        return &s->seen[i];
    if (s->seen_count == s->seen_cap) {
        size_t cap = s->seen_cap ? s->seen_cap * 2 : 16;
        seen_thing *seen = realloc(s->seen, cap * sizeof *seen);
        if (seen == NULL)
            return NULL;
        s->seen = seen;
        s->seen_cap = cap;
    }
    char *copy = strdup(thing);
    if (copy == NULL)
        return NULL;
    memmove(s->seen + i + 1, s->seen + i,
            (s->seen_count - i) * sizeof *s->seen);
    s->seen[i].thing = copy;
    s->seen[i].appends = 0;
    s->seen_count++;
    if (write)
        api->map_set(s->index, THINGS_USER, thing, "1", 1, NULL, NULL);
    return &s->seen[i];
}

static void on_index(int status, const char *const *keys,
                     const void *const *values, const size_t *lens,
                     size_t count, void *userdata)
{
    (void)values;
    (void)lens;
    sd_store *s = userdata;
    if (!s->closed && status == MYNAH_STORE_OK)
        for (size_t i = 0; i < count; i++)
            seen_get(s, keys[i], 0);
    store_unref(s);
}

sd_store *sd_store_open(const mynah_api *table, mynah_module *module,
                        mynah_host *host)
{
    api = table;
    sd_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->api = table;
    s->module = module;
    s->host = host;
    s->refs = 1;
    s->limits.history_max = 1000;
    s->limits.history_days = 30;
    s->limits.answer_max = 1000;
    s->limits.keep_latest = 1;
    s->latest = api->open_store(module, host, "sensordata_latest",
                                MYNAH_STORE_KEYVAL);
    s->history = api->open_store(module, host, "sensordata_history",
                                 MYNAH_STORE_ARCHIVE);
    s->index = api->open_store(module, host, "sensordata_things",
                               MYNAH_STORE_MAP);
    if (s->latest == NULL || s->history == NULL || s->index == NULL) {
        free(s);
        return NULL;
    }
    store_ref(s);
    api->map_list(s->index, THINGS_USER, on_index, s);
    return s;
}

void sd_store_close(sd_store *s)
{
    if (s == NULL)
        return;
    s->closed = 1;
    store_unref(s);
}

void sd_store_set_limits(sd_store *s, const sd_limits *limits)
{
    s->limits = *limits;
}

/* ---- helpers on elements ---- */

static int is_sd(const mynah_element *e, const char *name)
{
    return strcmp(api->element_xmlns(e), IOT_NS_SENSORDATA) == 0 &&
           (name == NULL || strcmp(api->element_name(e), name) == 0);
}

/* A field carries historical* = true. */
static int field_historical(const mynah_element *f)
{
    const char *name, *value;
    for (size_t i = 0; (name = api->element_attr_at(f, i, &value)) != NULL;
         i++)
        if (strncmp(name, "historical", 10) == 0 && iot_is_true(value))
            return 1;
    return 0;
}

static int same_attr(const mynah_element *a, const mynah_element *b,
                     const char *name)
{
    const char *x = api->element_attr(a, name);
    const char *y = api->element_attr(b, name);
    return strcmp(x ? x : "", y ? y : "") == 0;
}

static int same_node(const mynah_element *a, const mynah_element *b)
{
    return same_attr(a, b, "nodeId") && same_attr(a, b, "sourceId") &&
           same_attr(a, b, "cacheType");
}

static long long stamp_of(const char *value)
{
    int64_t us;
    return value && iot_xs_datetime(value, &us) ? (long long)us : 0;
}

static uint64_t fnv1a(const char *a, const char *b)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *s = a; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = b; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- history ---- */

static void trim_done(int status, void *userdata)
{
    (void)status;
    store_unref(userdata);
}

typedef struct trim_job {
    sd_store *s;
    char *thing;
} trim_job;

static void on_trim_found(int status, const mynah_archive_item *items,
                          size_t count, int complete, void *userdata)
{
    trim_job *job = userdata;
    sd_store *s = job->s;
    if (!s->closed && status == MYNAH_STORE_OK && !complete && count > 0) {
        /* Newest first: the last one returned is the oldest kept; every
         * item before it goes. */
        mynah_archive_query q = {0};
        q.before_id = items[count - 1].id;
        store_ref(s);
        api->archive_delete(s->history, job->thing, &q, trim_done, s);
    }
    free(job->thing);
    free(job);
    store_unref(s);
}

static void trim_thing(sd_store *s, const char *thing)
{
    if (s->limits.history_days > 0) {
        mynah_archive_query q = {0};
        q.end = (int64_t)((api->now() - s->limits.history_days * 86400.0) *
                          1e6);
        if (q.end > 0) {
            store_ref(s);
            api->archive_delete(s->history, thing, &q, trim_done, s);
        }
    }
    if (s->limits.history_max <= 0)
        return;
    trim_job *job = calloc(1, sizeof *job);
    if (job == NULL || (job->thing = strdup(thing)) == NULL) {
        free(job);
        return;
    }
    job->s = s;
    mynah_archive_query q = {0};
    q.max = (size_t)s->limits.history_max;
    q.reverse = 1;
    store_ref(s);
    api->archive_find(s->history, thing, &q, on_trim_found, job);
}

void sd_store_prune_all(sd_store *s)
{
    for (size_t i = 0; i < s->seen_count; i++) {
        s->seen[i].appends = 0;
        trim_thing(s, s->seen[i].thing);
    }
}

static void append_done(int status, const char *id, void *userdata)
{
    (void)id;
    sd_store *s = userdata;
    if (status != MYNAH_STORE_OK && !s->closed)
        api->log(s->module, MYNAH_LOG_WARN, "%s: could not keep a readout",
                 api->host_name(s->host));
    store_unref(s);
}

static void record_history(sd_store *s, const char *thing,
                           const mynah_element *node, const mynah_element *ts)
{
    /* <node ...><timestamp ...>fields</timestamp></node> */
    mynah_stanza *item = api->stanza_new("node", IOT_NS_SENSORDATA);
    if (item == NULL)
        return;
    const char *name, *value;
    for (size_t i = 0; (name = api->element_attr_at(node, i, &value)); i++)
        api->element_set_attr(api->stanza_root(item), name, value);
    char *text = NULL;
    if (iot_copy_into(api->stanza_root(item), ts) != NULL)
        text = api->stanza_to_string(item, NULL);
    api->stanza_unref(item);
    if (text == NULL)
        return;
    if (strlen(text) > HISTORY_ITEM_MAX) {
        free(text);
        return;
    }
    uint64_t h = fnv1a(thing, text);
    for (size_t i = 0; i < DEDUP_SIZE; i++)
        if (s->dedup[i] == h) {
            free(text); /* the same readout, sent to another reader */
            return;
        }
    s->dedup[s->dedup_next] = h;
    s->dedup_next = (s->dedup_next + 1) % DEDUP_SIZE;
    long long when = stamp_of(api->element_attr(ts, "value"));
    mynah_archive_item a = {0};
    a.when = when ? when : (int64_t)(api->now() * 1e6);
    a.data = text;
    a.len = strlen(text);
    store_ref(s);
    api->archive_append(s->history, thing, &a, append_done, s);
    free(text);
    seen_thing *seen = seen_get(s, thing, 1);
    long long every = s->limits.history_max / 8;
    if (seen != NULL && ++seen->appends >= (every < 8 ? 8 : every)) {
        seen->appends = 0;
        trim_thing(s, thing);
    }
}

/* ---- latest values ---- */

typedef struct merge_job {
    sd_store *s;
    char *thing;
    mynah_stanza *fields; /* a copy of what the thing sent */
} merge_job;

/* The field named `name` under any timestamp of `node`, and its stamp. */
static mynah_element *latest_field(mynah_element *node, const char *name,
                                   long long *stamp)
{
    for (mynah_element *ts = api->element_first_child(node); ts;
         ts = api->element_next_sibling(ts))
        for (mynah_element *f = api->element_first_child(ts); f;
             f = api->element_next_sibling(f)) {
            const char *n = api->element_attr(f, "name");
            if (n != NULL && strcmp(n, name) == 0) {
                *stamp = stamp_of(api->element_attr(ts, "value"));
                return f;
            }
        }
    return NULL;
}

static mynah_element *child_with_value(mynah_element *parent,
                                       const char *name, const char *value)
{
    for (mynah_element *c = api->element_first_child(parent); c;
         c = api->element_next_sibling(c)) {
        const char *v = api->element_attr(c, "value");
        if (strcmp(api->element_name(c), name) == 0 && v &&
            strcmp(v, value) == 0)
            return c;
    }
    return NULL;
}

static size_t count_fields(mynah_element *latest)
{
    size_t n = 0;
    for (mynah_element *node = api->element_first_child(latest); node;
         node = api->element_next_sibling(node))
        for (mynah_element *ts = api->element_first_child(node); ts;
             ts = api->element_next_sibling(ts))
            for (mynah_element *f = api->element_first_child(ts); f;
                 f = api->element_next_sibling(f))
                n++;
    return n;
}

/* *count: the fields in `latest`, kept up to date. */
static void merge_field(mynah_element *latest, const mynah_element *node,
                        const mynah_element *ts, const mynah_element *field,
                        size_t *count)
{
    const char *name = api->element_attr(field, "name");
    const char *stamp = api->element_attr(ts, "value");
    if (name == NULL || stamp == NULL)
        return;
    mynah_element *mine = NULL;
    for (mynah_element *c = api->element_first_child(latest); c;
         c = api->element_next_sibling(c))
        if (same_node(c, node)) {
            mine = c;
            break;
        }
    long long old_stamp = 0, new_stamp = stamp_of(stamp);
    mynah_element *old = mine ? latest_field(mine, name, &old_stamp) : NULL;
    if (old == NULL && *count >= LATEST_MAX_FIELDS)
        return; /* no room for one more field */
    if (mine == NULL) {
        mine = api->element_add_child(latest, "node", NULL);
        if (mine == NULL)
            return;
        const char *an, *av;
        for (size_t i = 0; (an = api->element_attr_at(node, i, &av)); i++)
            api->element_set_attr(mine, an, av);
    }
    if (old != NULL) {
        if (old_stamp > new_stamp)
            return; /* what we have is newer */
        api->element_remove(old);
    } else {
        (*count)++;
    }
    mynah_element *t = child_with_value(mine, "timestamp", stamp);
    if (t == NULL) {
        t = api->element_add_child(mine, "timestamp", NULL);
        if (t == NULL)
            return;
        api->element_set_attr(t, "value", stamp);
    }
    iot_copy_into(t, field);
}

/* Timestamps left without fields, and nodes without timestamps, go. */
static void drop_empty(mynah_element *latest)
{
    mynah_element *node = api->element_first_child(latest);
    while (node != NULL) {
        mynah_element *next_node = api->element_next_sibling(node);
        mynah_element *ts = api->element_first_child(node);
        while (ts != NULL) {
            mynah_element *next = api->element_next_sibling(ts);
            if (api->element_first_child(ts) == NULL)
                api->element_remove(ts);
            ts = next;
        }
        if (api->element_first_child(node) == NULL)
            api->element_remove(node);
        node = next_node;
    }
}

static void merge_done(int status, void *userdata)
{
    (void)status;
    store_unref(userdata);
}

static void on_latest_for_merge(int status, const void *data, size_t len,
                                void *userdata)
{
    merge_job *job = userdata;
    sd_store *s = job->s;
    mynah_stanza *latest = NULL;
    if (!s->closed && status == MYNAH_STORE_OK && data != NULL)
        latest = api->stanza_parse(data, len);
    if (latest != NULL &&
        strcmp(api->element_name(api->stanza_root(latest)), "latest") != 0) {
        api->stanza_unref(latest);
        latest = NULL;
    }
    if (latest == NULL && !s->closed && status != MYNAH_STORE_ERROR)
        latest = api->stanza_new("latest", IOT_NS_SENSORDATA);
    if (latest != NULL) {
        mynah_element *root = api->stanza_root(latest);
        mynah_element *fields = api->stanza_root(job->fields);
        size_t count = count_fields(root);
        for (mynah_element *node = api->element_first_child(fields); node;
             node = api->element_next_sibling(node)) {
            if (!is_sd(node, "node"))
                continue;
            for (mynah_element *ts = api->element_first_child(node); ts;
                 ts = api->element_next_sibling(ts)) {
                if (!is_sd(ts, "timestamp"))
                    continue;
                for (mynah_element *f = api->element_first_child(ts); f;
                     f = api->element_next_sibling(f))
                    if (is_sd(f, NULL) && !field_historical(f))
                        merge_field(root, node, ts, f, &count);
            }
        }
        drop_empty(root);
        size_t n;
        char *text = api->stanza_to_string(latest, &n);
        if (text != NULL) {
            store_ref(s);
            api->keyval_set(s->latest, job->thing, text, n, merge_done, s);
            free(text);
        }
        api->stanza_unref(latest);
    }
    api->stanza_unref(job->fields);
    free(job->thing);
    free(job);
    store_unref(s);
}

static int has_latest_part(const mynah_element *fields)
{
    for (mynah_element *node = api->element_first_child(fields); node;
         node = api->element_next_sibling(node))
        for (mynah_element *ts = api->element_first_child(node); ts;
             ts = api->element_next_sibling(ts))
            for (mynah_element *f = api->element_first_child(ts); f;
                 f = api->element_next_sibling(f))
                if (!field_historical(f))
                    return 1;
    return 0;
}

void sd_store_record(sd_store *s, const char *thing,
                     const mynah_element *fields)
{
    if (s->closed)
        return;
    if (s->limits.history_max > 0)
        for (mynah_element *node = api->element_first_child(fields); node;
             node = api->element_next_sibling(node)) {
            if (!is_sd(node, "node"))
                continue;
            for (mynah_element *ts = api->element_first_child(node); ts;
                 ts = api->element_next_sibling(ts))
                if (is_sd(ts, "timestamp") &&
                    api->element_first_child(ts) != NULL)
                    record_history(s, thing, node, ts);
        }
    if (!s->limits.keep_latest || !has_latest_part(fields))
        return;
    seen_get(s, thing, 1);
    merge_job *job = calloc(1, sizeof *job);
    if (job == NULL || (job->thing = strdup(thing)) == NULL ||
        (job->fields = iot_stanza_of(fields)) == NULL) {
        if (job)
            free(job->thing);
        free(job);
        return;
    }
    job->s = s;
    store_ref(s);
    api->keyval_get(s->latest, thing, on_latest_for_merge, job);
}

/* ---- reading a request ---- */

int sd_request_read(const mynah_api *table, const mynah_element *req,
                    sd_request *r)
{
    api = table;
    memset(r, 0, sizeof *r);
    r->all = iot_is_true(api->element_attr(req, "all"));
    r->momentary = iot_is_true(api->element_attr(req, "momentary"));
    r->peak = iot_is_true(api->element_attr(req, "peak"));
    r->status = iot_is_true(api->element_attr(req, "status"));
    r->computed = iot_is_true(api->element_attr(req, "computed"));
    r->identity = iot_is_true(api->element_attr(req, "identity"));
    const char *name, *value;
    for (size_t i = 0; (name = api->element_attr_at(req, i, &value)); i++)
        if (strncmp(name, "historical", 10) == 0 && iot_is_true(value))
            r->historical = 1;
    r->any_type = r->all || r->momentary || r->peak || r->status ||
                  r->computed || r->identity || r->historical;
    int64_t us;
    const char *from = api->element_attr(req, "from");
    const char *to = api->element_attr(req, "to");
    if (from != NULL) {
        if (!iot_xs_datetime(from, &us))
            return -1;
        r->from = us;
    }
    if (to != NULL) {
        if (!iot_xs_datetime(to, &us))
            return -1;
        r->to = us;
    }
    return 0;
}

int sd_field_wanted(const mynah_api *table, const sd_request *r,
                    const mynah_element *f, int historical_part)
{
    api = table;
    if (r->all)
        return 1;
    if (historical_part)
        return r->historical;
    if (!r->any_type)
        return 1;
    static const char *const types[] = {"momentary", "peak", "status",
                                        "computed", "identity"};
    const int wanted[] = {r->momentary, r->peak, r->status, r->computed,
                          r->identity};
    int typed = 0;
    for (size_t i = 0; i < 5; i++) {
        int has = iot_is_true(api->element_attr(f, types[i]));
        typed |= has;
        if (has && wanted[i])
            return 1;
    }
    /* A field that says nothing of its type is a momentary value. */
    return !typed && r->momentary;
}

/* ---- answering from storage ---- */

typedef struct answer_job {
    sd_store *s;
    char *thing;
    mynah_stanza *req;  /* a copy of the <req/> */
    char **allowed;
    sd_request r;
    sd_answer_cb cb;
    void *userdata;
    mynah_stanza *out;  /* <fields/> */
    long long newest;
    int found_any;
} answer_job;

static int node_requested(const mynah_element *req, const mynah_element *node)
{
    int any = 0;
    for (mynah_element *c = api->element_first_child(req); c;
         c = api->element_next_sibling(c)) {
        if (!is_sd(c, "node"))
            continue;
        any = 1;
        const char *want[] = {"nodeId", "sourceId", "cacheType"};
        int match = 1;
        for (int i = 0; i < 3 && match; i++) {
            const char *w = api->element_attr(c, want[i]);
            const char *h = api->element_attr(node, want[i]);
            /* Only the parts the request gives must match (XEP-0323
             * §Reading devices from large subsystems). */
            if (w != NULL && strcmp(w, h ? h : "") != 0)
                match = 0;
        }
        if (match)
            return 1;
    }
    return !any;
}

static int field_requested(const answer_job *job, const char *name)
{
    int any = 0;
    for (mynah_element *c = api->element_first_child(
             api->stanza_root(job->req));
         c; c = api->element_next_sibling(c)) {
        if (!is_sd(c, "field"))
            continue;
        any = 1;
        const char *n = api->element_attr(c, "name");
        if (n != NULL && strcmp(n, name) == 0)
            return 1;
    }
    return !any;
}

/* The answer already holds this node's field at this timestamp (the
 * latest values and the history overlap when both are asked for). */
static int already_given(const answer_job *job, const mynah_element *node,
                         const char *stamp, const char *name)
{
    for (mynah_element *n = api->element_first_child(
             api->stanza_root(job->out));
         n; n = api->element_next_sibling(n)) {
        if (!same_node(n, node))
            continue;
        for (mynah_element *ts = api->element_first_child(n); ts;
             ts = api->element_next_sibling(ts)) {
            const char *v = api->element_attr(ts, "value");
            if (v == NULL || strcmp(v, stamp) != 0)
                continue;
            for (mynah_element *f = api->element_first_child(ts); f;
                 f = api->element_next_sibling(f)) {
                const char *fn = api->element_attr(f, "name");
                if (fn != NULL && strcmp(fn, name) == 0)
                    return 1;
            }
        }
    }
    return 0;
}

/* Copies the wanted part of one stored <node/> into the answer. */
static void add_node(answer_job *job, const mynah_element *node,
                     int historical_part)
{
    if (!node_requested(api->stanza_root(job->req), node))
        return;
    mynah_element *out_node = NULL;
    for (mynah_element *ts = api->element_first_child(node); ts;
         ts = api->element_next_sibling(ts)) {
        if (!is_sd(ts, "timestamp"))
            continue;
        mynah_element *out_ts = NULL;
        for (mynah_element *f = api->element_first_child(ts); f;
             f = api->element_next_sibling(f)) {
            const char *name = api->element_attr(f, "name");
            if (!is_sd(f, NULL) || name == NULL ||
                !field_requested(job, name) ||
                (job->allowed != NULL &&
                 !iot_list_has((const char *const *)job->allowed,
                                     name)) ||
                !sd_field_wanted(api, &job->r, f, historical_part))
                continue;
            const char *stamp = api->element_attr(ts, "value");
            if (historical_part && stamp != NULL &&
                already_given(job, node, stamp, name))
                continue;
            if (out_node == NULL) {
                out_node = api->element_add_child(
                    api->stanza_root(job->out), "node", NULL);
                if (out_node == NULL)
                    return;
                const char *an, *av;
                for (size_t i = 0; (an = api->element_attr_at(node, i, &av));
                     i++)
                    api->element_set_attr(out_node, an, av);
            }
            if (out_ts == NULL) {
                out_ts = api->element_add_child(out_node, "timestamp", NULL);
                if (out_ts == NULL)
                    return;
                api->element_set_attr(out_ts, "value", stamp ? stamp : "");
                long long us = stamp_of(stamp);
                if (us > job->newest)
                    job->newest = us;
            }
            mynah_element *copy = iot_copy_into(out_ts, f);
            if (copy != NULL && historical_part && !field_historical(f)) {
                /* A value read as momentary is a historical value now. */
                api->element_set_attr(copy, "momentary", NULL);
                api->element_set_attr(copy, "historicalOther", "true");
            }
        }
    }
}

static void answer_finish(answer_job *job)
{
    sd_store *s = job->s;
    if (!job->found_any || s->closed) {
        api->stanza_unref(job->out);
        job->out = NULL;
    }
    job->cb(job->out, job->newest, job->userdata);
    api->stanza_unref(job->req);
    iot_list_free(job->allowed);
    free(job->thing);
    free(job);
    store_unref(s);
}

static void on_exists(int status, const mynah_archive_item *items,
                      size_t count, int complete, void *userdata)
{
    (void)items;
    (void)complete;
    answer_job *job = userdata;
    if (status == MYNAH_STORE_OK && count > 0)
        job->found_any = 1;
    answer_finish(job);
}

static void on_history(int status, const mynah_archive_item *items,
                       size_t count, int complete, void *userdata)
{
    (void)complete;
    answer_job *job = userdata;
    /* Newest first from the store; the answer goes oldest first. */
    for (size_t k = count; status == MYNAH_STORE_OK && k > 0; k--) {
        job->found_any = 1;
        mynah_stanza *item = api->stanza_parse(items[k - 1].data,
                                               items[k - 1].len);
        if (item == NULL)
            continue;
        add_node(job, api->stanza_root(item), 1);
        api->stanza_unref(item);
    }
    if (job->found_any || job->s->closed) {
        answer_finish(job);
        return;
    }
    mynah_archive_query q = {0};
    q.max = 1;
    api->archive_find(job->s->history, job->thing, &q, on_exists, job);
}

static void on_latest_for_answer(int status, const void *data, size_t len,
                                 void *userdata)
{
    answer_job *job = userdata;
    const sd_request *r = &job->r;
    if (status == MYNAH_STORE_OK && data != NULL) {
        job->found_any = 1;
        int latest_wanted = r->all || !r->any_type || r->momentary ||
                            r->peak || r->status || r->computed ||
                            r->identity;
        mynah_stanza *latest = latest_wanted ? api->stanza_parse(data, len)
                                             : NULL;
        if (latest != NULL) {
            for (mynah_element *node = api->element_first_child(
                     api->stanza_root(latest));
                 node; node = api->element_next_sibling(node))
                add_node(job, node, 0);
            api->stanza_unref(latest);
        }
    }
    if (job->s->closed || !(r->all || r->historical)) {
        if (!job->found_any && !job->s->closed) {
            mynah_archive_query q = {0};
            q.max = 1;
            api->archive_find(job->s->history, job->thing, &q, on_exists,
                              job);
            return;
        }
        answer_finish(job);
        return;
    }
    mynah_archive_query q = {0};
    q.start = r->from;
    q.end = r->to;
    q.max = (size_t)(job->s->limits.answer_max > 0 ? job->s->limits.answer_max
                                                   : 1000);
    q.reverse = 1;
    api->archive_find(job->s->history, job->thing, &q, on_history, job);
}

void sd_store_answer(sd_store *s, const char *thing, const mynah_element *req,
                     const char *const *allowed, sd_answer_cb cb,
                     void *userdata)
{
    answer_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        cb(NULL, 0, userdata);
        return;
    }
    job->s = s;
    job->cb = cb;
    job->userdata = userdata;
    job->thing = strdup(thing);
    job->req = iot_stanza_of(req);
    job->allowed = iot_list_copy(allowed);
    job->out = api->stanza_new("fields", IOT_NS_SENSORDATA);
    if (job->thing == NULL || job->req == NULL || job->out == NULL ||
        (allowed != NULL && job->allowed == NULL) ||
        sd_request_read(api, req, &job->r) < 0) {
        if (job->req)
            api->stanza_unref(job->req);
        if (job->out)
            api->stanza_unref(job->out);
        iot_list_free(job->allowed);
        free(job->thing);
        free(job);
        cb(NULL, 0, userdata);
        return;
    }
    const char *seqnr = api->element_attr(req, "seqnr");
    mynah_element *root = api->stanza_root(job->out);
    api->element_set_attr(root, "seqnr", seqnr ? seqnr : "0");
    api->element_set_attr(root, "done", "true");
    store_ref(s);
    api->keyval_get(s->latest, thing, on_latest_for_answer, job);
}
