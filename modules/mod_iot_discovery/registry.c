/*
 * The thing registry's data (see registry.h).
 *
 * Records live in one array sorted by key: lookups are binary searches,
 * and searches walk the array in key order, which gives stable paging
 * (offset/maxCount) for free.  A registry holds thousands of things, not
 * millions: a scan per search is cheap at that size.
 */
#include "registry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- records ---- */

static size_t lower_bound(const registry *reg, const char *key, int *found)
{
    size_t lo = 0, hi = reg->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reg->things[mid]->key, key);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < reg->count && strcmp(reg->things[lo]->key, key) == 0;
    return lo;
}

reg_thing *registry_find(const registry *reg, const char *key)
{
    int found;
    size_t i = lower_bound(reg, key, &found);
    return found ? reg->things[i] : NULL;
}

int registry_put(registry *reg, reg_thing *thing)
{
    int found;
    size_t i = lower_bound(reg, thing->key, &found);
    if (found) {
        if (reg->things[i] != thing)
            thing_free(reg->things[i]);
        reg->things[i] = thing;
        return 0;
    }
    if (reg->count == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        reg_thing **things = realloc(reg->things, cap * sizeof *things);
        if (things == NULL)
            return -1;
        reg->things = things;
        reg->cap = cap;
    }
    memmove(reg->things + i + 1, reg->things + i,
            (reg->count - i) * sizeof *reg->things);
    reg->things[i] = thing;
    reg->count++;
    return 0;
}

void registry_delete(registry *reg, const char *key)
{
    int found;
    size_t i = lower_bound(reg, key, &found);
    if (!found)
        return;
    thing_free(reg->things[i]);
    memmove(reg->things + i, reg->things + i + 1,
            (reg->count - i - 1) * sizeof *reg->things);
    reg->count--;
}

size_t registry_count_jid(const registry *reg, const char *jid)
{
    /* Keys start with "jid\x1f": a JID's records are contiguous. */
    iot_buf prefix = {0};
    iot_buf_adds(&prefix, jid);
    iot_buf_add(&prefix, "\x1f", 1);
    int found;
    size_t i = lower_bound(reg, iot_buf_str(&prefix), &found);
    size_t n = 0;
    while (!prefix.failed && i + n < reg->count &&
           strncmp(reg->things[i + n]->key, prefix.data, prefix.len) == 0)
        n++;
    iot_buf_free(&prefix);
    return n;
}

void registry_clear(registry *reg)
{
    for (size_t i = 0; i < reg->count; i++)
        thing_free(reg->things[i]);
    free(reg->things);
    reg->things = NULL;
    reg->count = reg->cap = 0;
}

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

reg_thing *thing_new(const char *jid, const char *node_id,
                     const char *source_id, const char *cache_type)
{
    reg_thing *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->jid = strdup(jid);
    t->node_id = dup_or_null(node_id);
    t->source_id = dup_or_null(source_id);
    t->cache_type = dup_or_null(cache_type);
    iot_buf key = {0};
    iot_buf_adds(&key, jid);
    iot_buf_add(&key, "\x1f", 1);
    iot_buf_adds(&key, t->node_id ? t->node_id : "");
    iot_buf_add(&key, "\x1f", 1);
    iot_buf_adds(&key, t->source_id ? t->source_id : "");
    iot_buf_add(&key, "\x1f", 1);
    iot_buf_adds(&key, t->cache_type ? t->cache_type : "");
    t->key = key.failed ? NULL : key.data;
    if (key.failed)
        iot_buf_free(&key);
    t->is_public = 1;
    if (t->jid == NULL || t->key == NULL ||
        (node_id && node_id[0] && !t->node_id) ||
        (source_id && source_id[0] && !t->source_id) ||
        (cache_type && cache_type[0] && !t->cache_type)) {
        thing_free(t);
        return NULL;
    }
    return t;
}

void thing_tags_clear(reg_thing *thing)
{
    for (size_t i = 0; i < thing->tag_count; i++) {
        free(thing->tags[i].name);
        free(thing->tags[i].value);
    }
    free(thing->tags);
    thing->tags = NULL;
    thing->tag_count = 0;
}

void thing_free(reg_thing *thing)
{
    if (thing == NULL)
        return;
    thing_tags_clear(thing);
    free(thing->key);
    free(thing->jid);
    free(thing->node_id);
    free(thing->source_id);
    free(thing->cache_type);
    free(thing->owner);
    free(thing->last_full);
    free(thing);
}

int thing_tag_index(const reg_thing *thing, const char *name)
{
    for (size_t i = 0; i < thing->tag_count; i++)
        if (strcmp(thing->tags[i].name, name) == 0)
            return (int)i;
    return -1;
}

int thing_tag_set(reg_thing *thing, const char *name, int numeric,
                  const char *value)
{
    char upper[REG_TAG_NAME_MAX * 4 + 1];
    iot_upper(name, upper, sizeof upper);
    char *v = strdup(value);
    if (v == NULL)
        return -1;
    double number = numeric ? strtod(value, NULL) : 0;
    int i = thing_tag_index(thing, upper);
    if (i >= 0) {
        free(thing->tags[i].value);
        thing->tags[i].value = v;
        thing->tags[i].numeric = numeric;
        thing->tags[i].number = number;
        return 0;
    }
    char *n = strdup(upper);
    reg_tag *tags = realloc(thing->tags, (thing->tag_count + 1) * sizeof *tags);
    if (n == NULL || tags == NULL) {
        free(n);
        free(v);
        if (tags != NULL)
            thing->tags = tags;
        return -1;
    }
    thing->tags = tags;
    tags[thing->tag_count].name = n;
    tags[thing->tag_count].numeric = numeric;
    tags[thing->tag_count].value = v;
    tags[thing->tag_count].number = number;
    thing->tag_count++;
    return 0;
}

void thing_tag_remove(reg_thing *thing, const char *name)
{
    char upper[REG_TAG_NAME_MAX * 4 + 1];
    iot_upper(name, upper, sizeof upper);
    int i = thing_tag_index(thing, upper);
    if (i < 0)
        return;
    free(thing->tags[i].name);
    free(thing->tags[i].value);
    memmove(thing->tags + i, thing->tags + i + 1,
            (thing->tag_count - (size_t)i - 1) * sizeof *thing->tags);
    thing->tag_count--;
}

int thing_tags_equal(const reg_thing *thing, const reg_tag *tags,
                     size_t count)
{
    if (thing->tag_count != count)
        return 0;
    for (size_t i = 0; i < count; i++) {
        int j = thing_tag_index(thing, tags[i].name);
        if (j < 0)
            return 0;
        const reg_tag *mine = &thing->tags[j];
        if (mine->numeric != tags[i].numeric)
            return 0;
        if (mine->numeric ? mine->number != tags[i].number
                          : strcmp(mine->value, tags[i].value) != 0)
            return 0;
    }
    return 1;
}

/* ---- the stored form ---- */

void thing_encode(const reg_thing *thing, iot_buf *out)
{
    iot_rec_put(out, "jid", thing->jid);
    if (thing->node_id)
        iot_rec_put(out, "nodeId", thing->node_id);
    if (thing->source_id)
        iot_rec_put(out, "sourceId", thing->source_id);
    if (thing->cache_type)
        iot_rec_put(out, "cacheType", thing->cache_type);
    if (thing->owner)
        iot_rec_put(out, "owner", thing->owner);
    iot_rec_put(out, "public", thing->is_public ? "1" : "0");
    iot_rec_put(out, "selfOwned", thing->self_owned ? "1" : "0");
    iot_rec_put(out, "removed", thing->removed ? "1" : "0");
    if (thing->last_full)
        iot_rec_put(out, "lastFull", thing->last_full);
    for (size_t i = 0; i < thing->tag_count; i++) {
        /* "NAME\x1fvalue": XML text cannot hold U+001F, so neither can
         * a name. */
        iot_buf tag = {0};
        iot_buf_adds(&tag, thing->tags[i].name);
        iot_buf_add(&tag, "\x1f", 1);
        iot_buf_adds(&tag, thing->tags[i].value);
        iot_rec_put(out, thing->tags[i].numeric ? "num" : "str",
                    iot_buf_str(&tag));
        iot_buf_free(&tag);
    }
}

reg_thing *thing_decode(const char *key, const char *data, size_t len)
{
    char *jid = NULL, *node_id = NULL, *source_id = NULL, *cache_type = NULL;
    reg_thing *t = NULL;
    /* Two passes: the identity first (it makes the record), then the
     * rest. */
    size_t pos = 0;
    char *k, *v;
    int r;
    while ((r = iot_rec_next(data, len, &pos, &k, &v)) == 1) {
        char **slot = strcmp(k, "jid") == 0         ? &jid
                      : strcmp(k, "nodeId") == 0    ? &node_id
                      : strcmp(k, "sourceId") == 0  ? &source_id
                      : strcmp(k, "cacheType") == 0 ? &cache_type
                                                    : NULL;
        if (slot != NULL && *slot == NULL) {
            *slot = v;
            v = NULL;
        }
        free(k);
        free(v);
    }
    if (r < 0 || jid == NULL)
        goto done;
    t = thing_new(jid, node_id, source_id, cache_type);
    if (t == NULL || strcmp(t->key, key) != 0) {
        thing_free(t);
        t = NULL;
        goto done;
    }
    pos = 0;
    while ((r = iot_rec_next(data, len, &pos, &k, &v)) == 1) {
        if (strcmp(k, "owner") == 0) {
            free(t->owner);
            t->owner = v;
            v = NULL;
        } else if (strcmp(k, "lastFull") == 0) {
            free(t->last_full);
            t->last_full = v;
            v = NULL;
        } else if (strcmp(k, "public") == 0) {
            t->is_public = strcmp(v, "1") == 0;
        } else if (strcmp(k, "selfOwned") == 0) {
            t->self_owned = strcmp(v, "1") == 0;
        } else if (strcmp(k, "removed") == 0) {
            t->removed = strcmp(v, "1") == 0;
        } else if (strcmp(k, "str") == 0 || strcmp(k, "num") == 0) {
            char *eq = strchr(v, '\x1f');
            if (eq != NULL) {
                *eq = '\0';
                thing_tag_set(t, v, k[0] == 'n', eq + 1);
            }
        }
        free(k);
        free(v);
    }
done:
    free(jid);
    free(node_id);
    free(source_id);
    free(cache_type);
    return t;
}

/* ---- search ---- */

int reg_op_parse(const char *name, enum reg_op *op, int *numeric)
{
    static const struct {
        const char *suffix;
        enum reg_op op;
    } ops[] = {{"Eq", OP_EQ},       {"NEq", OP_NEQ},       {"Gt", OP_GT},
               {"GtEq", OP_GTEQ},   {"Lt", OP_LT},         {"LtEq", OP_LTEQ},
               {"Range", OP_RANGE}, {"NRange", OP_NRANGE}, {"Mask", OP_MASK}};
    int num;
    if (strncmp(name, "str", 3) == 0)
        num = 0;
    else if (strncmp(name, "num", 3) == 0)
        num = 1;
    else
        return -1;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        if (strcmp(name + 3, ops[i].suffix) != 0)
            continue;
        if (num && ops[i].op == OP_MASK)
            return -1; /* there is no numMask */
        *op = ops[i].op;
        *numeric = num;
        return 0;
    }
    return -1;
}

int reg_mask_matches(const char *pattern, const char *wildcard,
                     const char *value)
{
    size_t wl = wildcard ? strlen(wildcard) : 0;
    if (wl == 0)
        return strcmp(pattern, value) == 0;
    /* Greedy matching with backtracking to the last wildcard: linear in
     * practice, never exponential. */
    const char *p = pattern, *v = value;
    const char *star_p = NULL, *star_v = NULL;
    while (*v) {
        if (strncmp(p, wildcard, wl) == 0) {
            star_p = p += wl;
            star_v = v;
        } else if (*p && *p == *v) {
            p++;
            v++;
        } else if (star_p != NULL) {
            p = star_p;
            v = ++star_v;
        } else {
            return 0;
        }
    }
    while (strncmp(p, wildcard, wl) == 0)
        p += wl;
    return *p == '\0';
}

static int compare_values(const reg_search_op *op, const reg_tag *tag,
                          const char *s, double n)
{
    if (op->numeric)
        return tag->number < n ? -1 : tag->number > n ? 1 : 0;
    int c = strcmp(tag->value, s);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

int reg_op_matches(const reg_search_op *op, const reg_thing *thing)
{
    int i = thing_tag_index(thing, op->name);
    if (i < 0)
        return 0;
    const reg_tag *tag = &thing->tags[i];
    if (tag->numeric != op->numeric)
        return 0;
    if (op->numeric && isnan(tag->number))
        return 0;
    int c, above_min, below_max;
    switch (op->op) {
    case OP_EQ:
        return compare_values(op, tag, op->value, op->number) == 0;
    case OP_NEQ:
        return compare_values(op, tag, op->value, op->number) != 0;
    case OP_GT:
        return compare_values(op, tag, op->value, op->number) > 0;
    case OP_GTEQ:
        return compare_values(op, tag, op->value, op->number) >= 0;
    case OP_LT:
        return compare_values(op, tag, op->value, op->number) < 0;
    case OP_LTEQ:
        return compare_values(op, tag, op->value, op->number) <= 0;
    case OP_RANGE:
    case OP_NRANGE:
        c = compare_values(op, tag, op->min, op->min_number);
        above_min = op->min_included ? c >= 0 : c > 0;
        c = compare_values(op, tag, op->max, op->max_number);
        below_max = op->max_included ? c <= 0 : c < 0;
        /* NRange: outside the range, whose ends belong to it when
         * included (so they are then not found). */
        return op->op == OP_RANGE ? above_min && below_max
                                  : !(above_min && below_max);
    case OP_MASK:
        return reg_mask_matches(op->value, op->wildcard, tag->value);
    }
    return 0;
}

int reg_tag_name_valid(const char *name)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == ':' || *p == '#' || *p == ' ' ||
            *p == '\t' || *p == '\n' || *p == '\r')
            return 0;
        if ((*p & 0xC0) != 0x80)
            chars++;
    }
    return chars >= 1 && chars <= REG_TAG_NAME_MAX;
}
