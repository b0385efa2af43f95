/*
 * The provisioning rules (see rules.h): an array of things sorted by JID.
 */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

/* ---- the table ---- */

static size_t lower_bound(const prov_table *table, const char *thing,
                          int *found)
{
    size_t lo = 0, hi = table->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(table->things[mid]->thing, thing) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < table->count && strcmp(table->things[lo]->thing, thing) == 0;
    return lo;
}

prov_thing *prov_find(const prov_table *table, const char *thing)
{
    int found;
    size_t i = lower_bound(table, thing, &found);
    return found ? table->things[i] : NULL;
}

void prov_thing_free(prov_thing *t)
{
    if (t == NULL)
        return;
    prov_rules_clear(t);
    free(t->thing);
    free(t->owner);
    free(t);
}

static int insert_at(prov_table *table, size_t i, prov_thing *t)
{
    if (table->count == table->cap) {
        size_t cap = table->cap ? table->cap * 2 : 16;
        prov_thing **things = realloc(table->things, cap * sizeof *things);
        if (things == NULL)
            return -1;
        table->things = things;
        table->cap = cap;
    }
    memmove(table->things + i + 1, table->things + i,
            (table->count - i) * sizeof *table->things);
    table->things[i] = t;
    table->count++;
    return 0;
}

prov_thing *prov_get(prov_table *table, const char *thing)
{
    int found;
    size_t i = lower_bound(table, thing, &found);
    if (found)
        return table->things[i];
    prov_thing *t = calloc(1, sizeof *t);
    if (t == NULL || (t->thing = strdup(thing)) == NULL ||
        insert_at(table, i, t) < 0) {
        prov_thing_free(t);
        return NULL;
    }
    return t;
}

int prov_put(prov_table *table, prov_thing *t)
{
    int found;
    size_t i = lower_bound(table, t->thing, &found);
    if (found) {
        prov_thing_free(table->things[i]);
        table->things[i] = t;
        return 0;
    }
    return insert_at(table, i, t);
}

void prov_table_clear(prov_table *table)
{
    for (size_t i = 0; i < table->count; i++)
        prov_thing_free(table->things[i]);
    free(table->things);
    table->things = NULL;
    table->count = table->cap = 0;
}

/* ---- rules ---- */

prov_rule *prov_rule_find(const prov_thing *t, const char *friend_jid)
{
    for (size_t i = 0; i < t->rule_count; i++)
        if (strcmp(t->rules[i].friend_jid, friend_jid) == 0)
            return &t->rules[i];
    return NULL;
}

static void rule_free(prov_rule *r)
{
    free(r->friend_jid);
    iot_list_free(r->fields);
    iot_list_free(r->parameters);
}

int prov_rule_set(prov_thing *t, const char *friend_jid, int can_read,
                  int can_control, const char *const *fields,
                  const char *const *parameters)
{
    prov_rule fresh = {0};
    fresh.friend_jid = strdup(friend_jid);
    fresh.can_read = can_read;
    fresh.can_control = can_control;
    fresh.fields = iot_list_copy(fields);
    fresh.parameters = iot_list_copy(parameters);
    if (fresh.friend_jid == NULL || (fields && !fresh.fields) ||
        (parameters && !fresh.parameters)) {
        rule_free(&fresh);
        return -1;
    }
    prov_rule *old = prov_rule_find(t, friend_jid);
    if (old != NULL) {
        rule_free(old);
        *old = fresh;
        return 0;
    }
    prov_rule *rules = realloc(t->rules, (t->rule_count + 1) * sizeof *rules);
    if (rules == NULL) {
        rule_free(&fresh);
        return -1;
    }
    t->rules = rules;
    rules[t->rule_count++] = fresh;
    return 0;
}

int prov_rule_remove(prov_thing *t, const char *friend_jid)
{
    prov_rule *r = prov_rule_find(t, friend_jid);
    if (r == NULL)
        return 0;
    size_t i = (size_t)(r - t->rules);
    rule_free(r);
    memmove(t->rules + i, t->rules + i + 1,
            (t->rule_count - i - 1) * sizeof *t->rules);
    t->rule_count--;
    return 1;
}

void prov_rules_clear(prov_thing *t)
{
    for (size_t i = 0; i < t->rule_count; i++)
        rule_free(&t->rules[i]);
    free(t->rules);
    t->rules = NULL;
    t->rule_count = 0;
}

int prov_set_owner(prov_thing *t, const char *owner)
{
    if (t->owner != NULL && owner != NULL && strcmp(t->owner, owner) == 0)
        return 0;
    /* A new owner starts from nothing: the old owner's friends are not
     * the new owner's. */
    prov_rules_clear(t);
    free(t->owner);
    t->owner = NULL;
    if (owner != NULL && (t->owner = strdup(owner)) == NULL)
        return -1;
    return 0;
}

/* ---- the stored form ----
 *
 * owner=..., asked=0|1, clearPending=0|1, then one "rule=" line per
 * friend: jid US read US control US fields US parameters, where US is
 * U+001F and the lists are "-" (no limit) or names separated by U+001E
 * (neither can appear in XML text, so in no JID or field name). */

static void put_list(iot_buf *b, char **list)
{
    if (list == NULL) {
        iot_buf_add(b, "-", 1);
        return;
    }
    iot_buf_add(b, "+", 1);
    for (size_t i = 0; list[i]; i++) {
        if (i > 0)
            iot_buf_add(b, "\x1e", 1);
        iot_buf_adds(b, list[i]);
    }
}

void prov_encode(const prov_thing *t, iot_buf *out)
{
    if (t->owner)
        iot_rec_put(out, "owner", t->owner);
    iot_rec_put(out, "asked", t->asked ? "1" : "0");
    iot_rec_put(out, "clearPending", t->clear_pending ? "1" : "0");
    for (size_t i = 0; i < t->rule_count; i++) {
        const prov_rule *r = &t->rules[i];
        iot_buf line = {0};
        iot_buf_adds(&line, r->friend_jid);
        iot_buf_printf(&line, "\x1f%d\x1f%d\x1f", r->can_read, r->can_control);
        put_list(&line, r->fields);
        iot_buf_add(&line, "\x1f", 1);
        put_list(&line, r->parameters);
        iot_rec_put(out, "rule", iot_buf_str(&line));
        iot_buf_free(&line);
    }
}

/* "-" -> NULL; "+a\x1eb" -> {"a", "b", NULL}. *ok = 0 on no memory. */
static char **get_list(const char *s, int *ok)
{
    if (s[0] != '+')
        return NULL;
    s++;
    size_t n = 1;
    for (const char *p = s; *p; p++)
        if (*p == '\x1e')
            n++;
    if (*s == '\0')
        n = 0;
    char **list = calloc(n + 1, sizeof *list);
    if (list == NULL) {
        *ok = 0;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(s, '\x1e');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if ((list[i] = strndup(s, len)) == NULL) {
            iot_list_free(list);
            *ok = 0;
            return NULL;
        }
        s += len + (end ? 1 : 0);
    }
    return list;
}

static int decode_rule(prov_thing *t, char *line)
{
    char *part[5];
    for (int i = 0; i < 5; i++) {
        part[i] = line;
        char *sep = strchr(line, '\x1f');
        if (i < 4) {
            if (sep == NULL)
                return -1;
            *sep = '\0';
            line = sep + 1;
        }
    }
    int ok = 1;
    char **fields = get_list(part[3], &ok);
    char **params = get_list(part[4], &ok);
    int rc = ok ? prov_rule_set(t, part[0], atoi(part[1]), atoi(part[2]),
                                (const char *const *)fields,
                                (const char *const *)params)
                : -1;
    iot_list_free(fields);
    iot_list_free(params);
    return rc;
}

prov_thing *prov_decode(const char *thing, const char *data, size_t len)
{
    prov_thing *t = calloc(1, sizeof *t);
    if (t == NULL || (t->thing = strdup(thing)) == NULL) {
        prov_thing_free(t);
        return NULL;
    }
    size_t pos = 0;
    char *k, *v;
    int r;
    while ((r = iot_rec_next(data, len, &pos, &k, &v)) == 1) {
        if (strcmp(k, "owner") == 0) {
            free(t->owner);
            t->owner = v;
            v = NULL;
        } else if (strcmp(k, "asked") == 0) {
            t->asked = strcmp(v, "1") == 0;
        } else if (strcmp(k, "clearPending") == 0) {
            t->clear_pending = strcmp(v, "1") == 0;
        } else if (strcmp(k, "rule") == 0) {
            if (decode_rule(t, v) < 0)
                r = -1;
        }
        free(k);
        free(v);
        if (r < 0)
            break;
    }
    if (r < 0) {
        prov_thing_free(t);
        return NULL;
    }
    return t;
}
