/*
 * The thing registry's data (XEP-0347): records in memory, sorted by key,
 * their meta tags, the search operators and the stored form of a record.
 * Nothing here sends anything; mod_iot_discovery.c speaks the protocol.
 */
#ifndef IOT_REGISTRY_H
#define IOT_REGISTRY_H

#include <stddef.h>

#include "iot_util.h"

/* XEP-0347 §Meta Tags: limits on names and string values. */
#define REG_TAG_NAME_MAX 32
#define REG_STR_VALUE_MAX 128

typedef struct reg_tag {
    char *name;  /* upper case: tag names are case-insensitive */
    int numeric; /* <num/> rather than <str/> */
    char *value; /* as the thing sent it (numbers keep their digits) */
    double number;
} reg_tag;

typedef struct reg_thing {
    char *key;        /* "jid\x1fnodeId\x1fsourceId\x1fcacheType" */
    char *jid;        /* bare JID of the thing (or its concentrator) */
    char *node_id;    /* NULL when absent */
    char *source_id;
    char *cache_type;
    char *owner;      /* bare JID, NULL while unclaimed */
    int is_public;    /* found by searches (once claimed) */
    int self_owned;
    int removed;      /* the owner took it out of the registry */
    char *last_full;  /* the full JID that last registered or updated */
    reg_tag *tags;
    size_t tag_count;
} reg_thing;

typedef struct registry {
    reg_thing **things; /* sorted by key */
    size_t count;
    size_t cap;
} registry;

reg_thing *registry_find(const registry *reg, const char *key);
/* Takes the thing; replaces one with the same key.  0 or -1. */
int registry_put(registry *reg, reg_thing *thing);
void registry_delete(registry *reg, const char *key);
/* How many records a JID has (itself and the nodes behind it). */
size_t registry_count_jid(const registry *reg, const char *jid);
void registry_clear(registry *reg);

reg_thing *thing_new(const char *jid, const char *node_id,
                     const char *source_id, const char *cache_type);
void thing_free(reg_thing *thing);
/* The index of a tag (by upper-case name), or -1. */
int thing_tag_index(const reg_thing *thing, const char *name);
/* Sets (adds or replaces) a tag: copies.  0 or -1. */
int thing_tag_set(reg_thing *thing, const char *name, int numeric,
                  const char *value);
void thing_tag_remove(reg_thing *thing, const char *name);
void thing_tags_clear(reg_thing *thing);
/* 1 when the thing's tags are exactly `tags` (any order, same types and
 * values; numbers compared as numbers). */
int thing_tags_equal(const reg_thing *thing, const reg_tag *tags,
                     size_t count);

/* The stored form ("key=value" lines, iot_rec_put) and back. */
void thing_encode(const reg_thing *thing, iot_buf *out);
reg_thing *thing_decode(const char *key, const char *data, size_t len);

/* ---- search ---- */

enum reg_op {
    OP_EQ, OP_NEQ, OP_GT, OP_GTEQ, OP_LT, OP_LTEQ, OP_RANGE, OP_NRANGE,
    OP_MASK
};

typedef struct reg_search_op {
    enum reg_op op;
    int numeric;
    char name[REG_TAG_NAME_MAX + 1]; /* upper case */
    const char *value;               /* str operators: the constant */
    double number;                   /* num operators: the constant */
    const char *min, *max;           /* str ranges */
    double min_number, max_number;   /* num ranges */
    int min_included, max_included;
    const char *wildcard;            /* strMask */
} reg_search_op;

/* Parses an operator element's name ("strEq", "numNRange", ...) into op
 * and numeric; 0, or -1 when it is not an operator. */
int reg_op_parse(const char *element_name, enum reg_op *op, int *numeric);
/* 1 when the thing has the tag, of the operator's type, and it matches. */
int reg_op_matches(const reg_search_op *op, const reg_thing *thing);
/* strMask: `pattern` where each occurrence of `wildcard` stands for any
 * run of characters (possibly empty). */
int reg_mask_matches(const char *pattern, const char *wildcard,
                     const char *value);

/* A tag name as XEP-0347 allows it: 1..32 characters, no colon, hash or
 * white space. */
int reg_tag_name_valid(const char *name);

#endif
