/*
 * The provisioning server's rules (XEP-0324): for each thing, the owner
 * who made them and the friends that owner allowed, each with what it may
 * do (read, control) and, optionally, the only fields it may read and the
 * only parameters it may set.  Plus two marks per thing: it asked us
 * something (it delegated its trust to us: we may send it friend,
 * unfriend and clearCache), and a clearCache is owed because the rules
 * changed while it was offline.
 */
#ifndef IOT_RULES_H
#define IOT_RULES_H

#include <stddef.h>

#include "iot_util.h"

typedef struct prov_rule {
    char *friend_jid; /* bare */
    int can_read;
    int can_control;
    char **fields;     /* NULL-terminated; NULL: every field */
    char **parameters; /* NULL-terminated; NULL: every parameter */
} prov_rule;

typedef struct prov_thing {
    char *thing;  /* bare */
    char *owner;  /* who made the rules; NULL when there are none */
    prov_rule *rules;
    size_t rule_count;
    int asked;
    int clear_pending;
} prov_thing;

typedef struct prov_table {
    prov_thing **things;
    size_t count;
    size_t cap;
} prov_table;

prov_thing *prov_find(const prov_table *table, const char *thing);
/* The thing's entry, created empty if missing; NULL on no memory. */
prov_thing *prov_get(prov_table *table, const char *thing);
void prov_table_clear(prov_table *table);
void prov_thing_free(prov_thing *t);

prov_rule *prov_rule_find(const prov_thing *t, const char *friend_jid);
/* Adds or replaces a friend's rule (copies everything).  0 or -1. */
int prov_rule_set(prov_thing *t, const char *friend_jid, int can_read,
                  int can_control, const char *const *fields,
                  const char *const *parameters);
/* 1 if a rule was removed. */
int prov_rule_remove(prov_thing *t, const char *friend_jid);
void prov_rules_clear(prov_thing *t);
/* Sets who owns the rules; clears them when the owner changes. 0 or -1. */
int prov_set_owner(prov_thing *t, const char *owner);

void prov_encode(const prov_thing *t, iot_buf *out);
prov_thing *prov_decode(const char *thing, const char *data, size_t len);
/* Adds a decoded entry; replaces one for the same thing.  0 or -1. */
int prov_put(prov_table *table, prov_thing *t);


#endif
