/*
 * Storage: one battery of behaviour run against both drivers
 * (mod_storage_memory and mod_storage_sqlite), each loaded through the real
 * module loader from MYNAH_MODULE_PATH, then what only SQLite promises:
 * data on disk, WAL, the schema version, and writes that survive kill -9.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "module_loader.h"
#include "server.h"
#include "storage.h"
#include "tap.h"

/* ---- capturing callbacks (both drivers complete synchronously) ---- */

#define MAX_ITEMS 64

typedef struct result {
    int calls;
    int status;
    char *data; /* NUL-terminated copy; NULL when the callback gave NULL */
    size_t len;
    char id[32];
    size_t count;
    int complete;
    char *keys[MAX_ITEMS];
    char *values[MAX_ITEMS];
    size_t lens[MAX_ITEMS];
    int has_values;
    char *item_ids[MAX_ITEMS];
    char *item_with[MAX_ITEMS];
    long long item_when[MAX_ITEMS];
} result;

static char *dup_bytes(const void *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
}

static char *dup_string(const char *s)
{
    return s ? dup_bytes(s, strlen(s)) : NULL;
}

static void result_reset(result *r)
{
    free(r->data);
    for (size_t i = 0; i < MAX_ITEMS; i++) {
        free(r->keys[i]);
        free(r->values[i]);
        free(r->item_ids[i]);
        free(r->item_with[i]);
    }
    memset(r, 0, sizeof *r);
    r->status = 12345;
}

static void on_value(int status, const void *data, size_t len, void *ud)
{
    result *r = ud;
    r->calls++;
    r->status = status;
    free(r->data);
    r->data = data ? dup_bytes(data, len) : NULL;
    r->len = len;
}

static void on_done(int status, void *ud)
{
    result *r = ud;
    r->calls++;
    r->status = status;
}

static void on_id(int status, const char *id, void *ud)
{
    result *r = ud;
    r->calls++;
    r->status = status;
    snprintf(r->id, sizeof r->id, "%s", id ? id : "");
}

static void on_list(int status, const char *const *keys,
                    const void *const *values, const size_t *lens,
                    size_t count, void *ud)
{
    result *r = ud;
    r->calls++;
    r->status = status;
    r->count = count;
    r->has_values = values != NULL;
    for (size_t i = 0; i < count && i < MAX_ITEMS; i++) {
        r->keys[i] = dup_string(keys[i]);
        if (values != NULL) {
            r->values[i] = dup_bytes(values[i], lens[i]);
            r->lens[i] = lens[i];
        }
    }
}

static void on_items(int status, const mynah_archive_item *items,
                     size_t count, int complete, void *ud)
{
    result *r = ud;
    r->calls++;
    r->status = status;
    r->count = count;
    r->complete = complete;
    for (size_t i = 0; i < count && i < MAX_ITEMS; i++) {
        r->item_ids[i] = dup_string(items[i].id);
        r->item_with[i] = dup_string(items[i].with);
        r->item_when[i] = items[i].when;
        r->values[i] = dup_bytes(items[i].data, items[i].len);
        r->lens[i] = items[i].len;
    }
}

/* ---- synchronous wrappers ---- */

static result R; /* the last answer */

static int kv_set(mynah_store *s, const char *user, const char *value)
{
    result_reset(&R);
    store_keyval_set(s, user, value, value ? strlen(value) : 0, on_done, &R);
    return R.calls == 1 ? R.status : -99;
}

static int kv_get(mynah_store *s, const char *user)
{
    result_reset(&R);
    store_keyval_get(s, user, on_value, &R);
    return R.calls == 1 ? R.status : -99;
}

static int map_set(mynah_store *s, const char *user, const char *key,
                   const char *value)
{
    result_reset(&R);
    store_map_set(s, user, key, value, value ? strlen(value) : 0, on_done,
                  &R);
    return R.calls == 1 ? R.status : -99;
}

static int map_get(mynah_store *s, const char *user, const char *key)
{
    result_reset(&R);
    store_map_get(s, user, key, on_value, &R);
    return R.calls == 1 ? R.status : -99;
}

static int map_list(mynah_store *s, const char *user)
{
    result_reset(&R);
    store_map_list(s, user, on_list, &R);
    return R.calls == 1 ? R.status : -99;
}

static int append(mynah_store *s, const char *user, long long when,
                  const char *with, const char *value, char *id_out)
{
    mynah_archive_item item = {NULL, when, with, value, strlen(value)};
    result_reset(&R);
    store_archive_append(s, user, &item, on_id, &R);
    if (id_out != NULL)
        strcpy(id_out, R.id);
    return R.calls == 1 ? R.status : -99;
}

static int find(mynah_store *s, const char *user,
                const mynah_archive_query *q)
{
    result_reset(&R);
    store_archive_find(s, user, q, on_items, &R);
    return R.calls == 1 ? R.status : -99;
}

/* The values of the last find, joined with commas: "v1,v2,v3". */
static const char *found_values(void)
{
    static char joined[1024];
    joined[0] = '\0';
    for (size_t i = 0; i < R.count && i < MAX_ITEMS; i++) {
        if (i > 0)
            strcat(joined, ",");
        strcat(joined, R.values[i]);
    }
    return joined;
}

/* The keys of the last listing, joined with commas. */
static const char *listed_keys(void)
{
    static char joined[1024];
    joined[0] = '\0';
    for (size_t i = 0; i < R.count && i < MAX_ITEMS; i++) {
        if (i > 0)
            strcat(joined, ",");
        strcat(joined, R.keys[i]);
    }
    return joined;
}

/* ---- the battery ---- */

static char label[128];
static const char *L(const char *driver, const char *what)
{
    snprintf(label, sizeof label, "%s: %s", driver, what);
    return label;
}

static void test_keyval(const char *d)
{
    mynah_store *s = storage_open_host("example.org", "vcard",
                                       MYNAH_STORE_KEYVAL);
    ok(s != NULL, L(d, "a keyval store opens"));

    is_int(kv_get(s, "alice"), MYNAH_STORE_NOT_FOUND,
           L(d, "a missing value is NOT_FOUND"));
    ok(R.data == NULL, L(d, "... with no data"));

    is_int(kv_set(s, "alice", "first"), MYNAH_STORE_OK, L(d, "set"));
    is_int(kv_get(s, "alice"), MYNAH_STORE_OK, L(d, "get after set"));
    is_str(R.data, "first", L(d, "get returns the value set"));

    is_int(kv_set(s, "alice", "second"), MYNAH_STORE_OK, L(d, "overwrite"));
    kv_get(s, "alice");
    is_str(R.data, "second", L(d, "get returns the overwritten value"));

    kv_get(s, "bob");
    is_int(R.status, MYNAH_STORE_NOT_FOUND, L(d, "users are separate"));
    mynah_store *other = storage_open_host("example.org", "private",
                                           MYNAH_STORE_KEYVAL);
    kv_get(other, "alice");
    is_int(R.status, MYNAH_STORE_NOT_FOUND, L(d, "store names are separate"));
    mynah_store *other_host = storage_open_host("other.org", "vcard",
                                                MYNAH_STORE_KEYVAL);
    kv_get(other_host, "alice");
    is_int(R.status, MYNAH_STORE_NOT_FOUND, L(d, "hosts are separate"));

    is_int(kv_set(s, "alice", NULL), MYNAH_STORE_OK, L(d, "delete"));
    is_int(kv_get(s, "alice"), MYNAH_STORE_NOT_FOUND,
           L(d, "a deleted value is gone"));
    is_int(kv_set(s, "nobody", NULL), MYNAH_STORE_OK,
           L(d, "deleting a missing value is fine"));

    /* An empty value is a value, not a deletion. */
    result_reset(&R);
    store_keyval_set(s, "empty", "", 0, on_done, &R);
    kv_get(s, "empty");
    ok(R.status == MYNAH_STORE_OK && R.data != NULL && R.len == 0,
       L(d, "an empty value is stored and found"));

    /* Binary data with NUL bytes comes back byte for byte. */
    static const char binary[] = {'a', '\0', 'b', '\0', '\0', (char)0xff, 'c'};
    result_reset(&R);
    store_keyval_set(s, "bin", binary, sizeof binary, on_done, &R);
    kv_get(s, "bin");
    ok(R.status == MYNAH_STORE_OK && R.len == sizeof binary &&
           memcmp(R.data, binary, sizeof binary) == 0,
       L(d, "binary values with NUL bytes round-trip"));

    /* Writes whose result nobody waits for. */
    store_keyval_set(s, "carol", "quiet", 5, NULL, NULL);
    kv_get(s, "carol");
    is_str(R.data, "quiet", L(d, "a write with no callback still happens"));

    result_reset(&R);
    store_keyval_users(s, on_list, &R);
    is_int(R.status, MYNAH_STORE_OK, L(d, "keyval_users"));
    is_str(listed_keys(), "bin,carol,empty",
           L(d, "keyval_users lists the users with a value, sorted"));

    storage_close(s);
    storage_close(other);
    storage_close(other_host);
}

/* A callback that writes to the store it is answering for. */
static void on_value_then_write(int status, const void *data, size_t len,
                                void *ud)
{
    mynah_store *s = ud;
    char next[64];
    snprintf(next, sizeof next, "%.*s+1", (int)len, data ? (const char *)data
                                                          : "");
    if (status == MYNAH_STORE_OK)
        store_keyval_set(s, "counter", next, strlen(next), NULL, NULL);
}

static void test_reentrancy(const char *d)
{
    mynah_store *s = storage_open_host("example.org", "reentrant",
                                       MYNAH_STORE_KEYVAL);
    kv_set(s, "counter", "0");
    store_keyval_get(s, "counter", on_value_then_write, s);
    kv_get(s, "counter");
    is_str(R.data, "0+1", L(d, "a callback can write to its own store"));
    storage_close(s);
}

static void test_map(const char *d)
{
    mynah_store *s = storage_open_host("example.org", "roster",
                                       MYNAH_STORE_MAP);
    ok(s != NULL, L(d, "a map store opens"));
    is_int(map_get(s, "alice", "bob@example.org"), MYNAH_STORE_NOT_FOUND,
           L(d, "a missing map key is NOT_FOUND"));
    is_int(map_list(s, "alice"), MYNAH_STORE_OK,
           L(d, "listing an empty map is OK"));
    is_int(R.count, 0, L(d, "... and empty"));

    map_set(s, "alice", "zed@example.org", "Z");
    map_set(s, "alice", "bob@example.org", "B");
    map_set(s, "alice", "carol@example.org", "C");
    map_set(s, "bob", "alice@example.org", "A");
    is_int(map_get(s, "alice", "bob@example.org"), MYNAH_STORE_OK,
           L(d, "map get"));
    is_str(R.data, "B", L(d, "map get returns the value"));

    map_set(s, "alice", "bob@example.org", "B2");
    map_get(s, "alice", "bob@example.org");
    is_str(R.data, "B2", L(d, "map set overwrites"));

    map_list(s, "alice");
    is_int(R.count, 3, L(d, "map list has every key of the user"));
    is_str(listed_keys(), "bob@example.org,carol@example.org,zed@example.org",
           L(d, "map list is sorted by key"));
    ok(R.has_values && R.count == 3 && strcmp(R.values[0], "B2") == 0 &&
           strcmp(R.values[2], "Z") == 0,
       L(d, "map list carries the values"));

    is_int(map_set(s, "alice", "carol@example.org", NULL), MYNAH_STORE_OK,
           L(d, "map delete"));
    is_int(map_get(s, "alice", "carol@example.org"), MYNAH_STORE_NOT_FOUND,
           L(d, "a deleted key is gone"));
    map_list(s, "alice");
    is_str(listed_keys(), "bob@example.org,zed@example.org",
           L(d, "... and not listed"));
    map_list(s, "bob");
    is_str(listed_keys(), "alice@example.org",
           L(d, "another user's map is untouched"));

    static const char binary[] = {'\0', 'x', '\0'};
    result_reset(&R);
    store_map_set(s, "alice", "bin", binary, sizeof binary, on_done, &R);
    map_get(s, "alice", "bin");
    ok(R.len == 3 && memcmp(R.data, binary, 3) == 0,
       L(d, "binary map values round-trip"));
    storage_close(s);
}

static void test_archive(const char *d)
{
    mynah_store *s = storage_open_host("example.org", "history",
                                       MYNAH_STORE_ARCHIVE);
    ok(s != NULL, L(d, "an archive store opens"));

    /* Ten items, one per millisecond from t=1000us, alternating peers. */
    char ids[10][32];
    int all_ok = 1;
    for (int i = 0; i < 10; i++) {
        char value[16];
        snprintf(value, sizeof value, "m%d", i);
        all_ok &= append(s, "alice", 1000LL * (i + 1),
                         i % 2 ? "b@x" : "a@x", value, ids[i]) ==
                  MYNAH_STORE_OK;
        all_ok &= ids[i][0] != '\0';
    }
    ok(all_ok, L(d, "append gives ids"));
    ok(strcmp(ids[0], ids[1]) != 0, L(d, "ids are unique"));
    append(s, "bob", 5000, "a@x", "bob's", NULL);

    mynah_archive_query q = {0};
    is_int(find(s, "alice", &q), MYNAH_STORE_OK, L(d, "find everything"));
    is_str(found_values(), "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9",
           L(d, "find returns the user's items oldest first"));
    ok(R.complete, L(d, "an unlimited find is complete"));
    is_str(R.item_ids[3], ids[3], L(d, "found items carry their ids"));
    is_int(R.item_when[3], 4000, L(d, "... their time"));
    is_str(R.item_with[3], "b@x", L(d, "... and their peer"));

    q = (mynah_archive_query){.start = 3000, .end = 6000};
    find(s, "alice", &q);
    is_str(found_values(), "m2,m3,m4,m5",
           L(d, "a time range is inclusive at both ends"));
    q = (mynah_archive_query){.start = 9000};
    find(s, "alice", &q);
    is_str(found_values(), "m8,m9", L(d, "start alone"));
    q = (mynah_archive_query){.end = 2000};
    find(s, "alice", &q);
    is_str(found_values(), "m0,m1", L(d, "end alone"));

    q = (mynah_archive_query){.with = "b@x"};
    find(s, "alice", &q);
    is_str(found_values(), "m1,m3,m5,m7,m9", L(d, "filter by with"));
    q = (mynah_archive_query){.with = "nobody@x"};
    find(s, "alice", &q);
    ok(R.status == MYNAH_STORE_OK && R.count == 0 && R.complete,
       L(d, "a filter matching nothing is an empty, complete answer"));

    q = (mynah_archive_query){.max = 3};
    find(s, "alice", &q);
    is_str(found_values(), "m0,m1,m2", L(d, "max limits the answer"));
    ok(!R.complete, L(d, "... and says it is not complete"));
    q = (mynah_archive_query){.max = 10};
    find(s, "alice", &q);
    ok(R.count == 10 && R.complete,
       L(d, "max equal to the count is complete"));

    /* Paging forwards with after_id until complete. */
    q = (mynah_archive_query){.max = 4};
    find(s, "alice", &q);
    char joined[256] = "";
    int pages = 0;
    while (R.status == MYNAH_STORE_OK && pages < 10) {
        pages++;
        if (joined[0] && R.count)
            strcat(joined, "|");
        strcat(joined, found_values());
        if (R.complete || R.count == 0)
            break;
        char last[32];
        snprintf(last, sizeof last, "%s", R.item_ids[R.count - 1]);
        q = (mynah_archive_query){.max = 4, .after_id = last};
        find(s, "alice", &q);
    }
    is_str(joined, "m0,m1,m2,m3|m4,m5,m6,m7|m8,m9",
           L(d, "after_id pages forwards"));
    is_int(pages, 3, L(d, "... in three pages"));

    /* The last page, then paging backwards with before_id (XEP-0059 §2.5). */
    q = (mynah_archive_query){.max = 3, .reverse = 1};
    find(s, "alice", &q);
    is_str(found_values(), "m9,m8,m7", L(d, "reverse gives newest first"));
    ok(!R.complete, L(d, "... not complete"));
    q = (mynah_archive_query){.max = 3, .reverse = 1, .before_id = ids[7]};
    find(s, "alice", &q);
    is_str(found_values(), "m6,m5,m4",
           L(d, "before_id with reverse pages backwards"));
    q = (mynah_archive_query){.reverse = 1, .before_id = ids[2]};
    find(s, "alice", &q);
    is_str(found_values(), "m1,m0", L(d, "before_id reaches the start"));
    ok(R.complete, L(d, "... complete"));
    q = (mynah_archive_query){.after_id = ids[2], .before_id = ids[6]};
    find(s, "alice", &q);
    is_str(found_values(), "m3,m4,m5", L(d, "after_id and before_id"));
    q = (mynah_archive_query){.after_id = ids[2], .with = "a@x", .max = 2};
    find(s, "alice", &q);
    is_str(found_values(), "m4,m6", L(d, "paging combines with filters"));
    ok(!R.complete, L(d, "... and completeness counts filtered items"));

    q = (mynah_archive_query){.after_id = "999999999"};
    is_int(find(s, "alice", &q), MYNAH_STORE_NOT_FOUND,
           L(d, "an unknown after_id is NOT_FOUND"));
    q = (mynah_archive_query){.before_id = "not-an-id"};
    is_int(find(s, "alice", &q), MYNAH_STORE_NOT_FOUND,
           L(d, "a malformed before_id is NOT_FOUND"));
    q = (mynah_archive_query){.after_id = ids[0]};
    is_int(find(s, "bob", &q), MYNAH_STORE_NOT_FOUND,
           L(d, "another user's id is NOT_FOUND"));

    q = (mynah_archive_query){0};
    find(s, "bob", &q);
    is_str(found_values(), "bob's", L(d, "users' archives are separate"));

    /* Time order, not append order; equal times keep append order. */
    append(s, "carol", 3000, NULL, "late", NULL);
    append(s, "carol", 1000, NULL, "early", NULL);
    append(s, "carol", 3000, NULL, "late2", NULL);
    find(s, "carol", &q);
    is_str(found_values(), "early,late,late2",
           L(d, "items are ordered by time, then by arrival"));
    ok(R.count == 3 && R.item_with[0] == NULL,
       L(d, "an item without a peer has with NULL"));

    /* A zero time is stamped with the current time. */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    long long now = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
    append(s, "dave", 0, NULL, "now", NULL);
    find(s, "dave", &q);
    ok(R.count == 1 && R.item_when[0] >= now - 1000000 &&
           R.item_when[0] <= now + 5000000,
       L(d, "when 0 means now"));

    static const char binary[] = {'<', '\0', '>', '\0'};
    mynah_archive_item item = {NULL, 7, "b", binary, sizeof binary};
    result_reset(&R);
    store_archive_append(s, "erin", &item, on_id, &R);
    find(s, "erin", &q);
    ok(R.count == 1 && R.lens[0] == 4 && memcmp(R.values[0], binary, 4) == 0,
       L(d, "binary archive values round-trip"));

    /* Deleting by query. */
    mynah_archive_query del = {.start = 3000, .end = 5000, .max = 1};
    result_reset(&R);
    store_archive_delete(s, "alice", &del, on_done, &R);
    is_int(R.status, MYNAH_STORE_OK, L(d, "delete by range"));
    find(s, "alice", &q);
    is_str(found_values(), "m0,m1,m5,m6,m7,m8,m9",
           L(d, "the range is gone (max is ignored by delete)"));
    del = (mynah_archive_query){.with = "b@x", .after_id = ids[5]};
    result_reset(&R);
    store_archive_delete(s, "alice", &del, on_done, &R);
    find(s, "alice", &q);
    is_str(found_values(), "m0,m1,m5,m6,m8",
           L(d, "delete by with and after_id"));
    find(s, "bob", &q);
    is_str(found_values(), "bob's", L(d, "delete leaves other users alone"));
    result_reset(&R);
    store_archive_delete(s, "alice", NULL, on_done, &R);
    find(s, "alice", &q);
    ok(R.status == MYNAH_STORE_OK && R.count == 0,
       L(d, "delete with no query empties the archive"));

    storage_close(s);
}

static void test_purge(const char *d)
{
    mynah_store *kv = storage_open_host("example.org", "p_kv",
                                        MYNAH_STORE_KEYVAL);
    mynah_store *map = storage_open_host("example.org", "p_map",
                                         MYNAH_STORE_MAP);
    mynah_store *arch = storage_open_host("example.org", "p_arch",
                                          MYNAH_STORE_ARCHIVE);
    mynah_store *kv_other = storage_open_host("other.org", "p_kv",
                                              MYNAH_STORE_KEYVAL);
    kv_set(kv, "alice", "a");
    kv_set(kv, "bob", "b");
    map_set(map, "alice", "k", "a");
    map_set(map, "bob", "k", "b");
    append(arch, "alice", 10, NULL, "a", NULL);
    append(arch, "bob", 10, NULL, "b", NULL);
    kv_set(kv_other, "alice", "other");

    result_reset(&R);
    storage_purge_user("example.org", "alice", on_done, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_OK, L(d, "purge_user"));
    mynah_archive_query q = {0};
    ok(kv_get(kv, "alice") == MYNAH_STORE_NOT_FOUND &&
           map_list(map, "alice") == MYNAH_STORE_OK && R.count == 0 &&
           find(arch, "alice", &q) == MYNAH_STORE_OK && R.count == 0,
       L(d, "purge_user empties the user's keyval, map and archive"));
    ok(kv_get(kv, "bob") == MYNAH_STORE_OK &&
           map_get(map, "bob", "k") == MYNAH_STORE_OK &&
           find(arch, "bob", &q) == MYNAH_STORE_OK && R.count == 1,
       L(d, "purge_user leaves other users alone"));
    kv_get(kv_other, "alice");
    is_str(R.data, "other", L(d, "purge_user leaves other hosts alone"));

    storage_close(kv);
    storage_close(map);
    storage_close(arch);
    storage_close(kv_other);
}

static void test_wrong_kind(const char *d)
{
    mynah_store *kv = storage_open_host("example.org", "wk",
                                        MYNAH_STORE_KEYVAL);
    mynah_store *map = storage_open_host("example.org", "wk",
                                         MYNAH_STORE_MAP);
    mynah_store *arch = storage_open_host("example.org", "wk",
                                          MYNAH_STORE_ARCHIVE);
    result_reset(&R);
    store_keyval_get(map, "alice", on_value, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_ERROR,
       L(d, "keyval_get on a map store fails cleanly"));
    result_reset(&R);
    store_map_set(kv, "alice", "k", "v", 1, on_done, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_ERROR,
       L(d, "map_set on a keyval store fails cleanly"));
    result_reset(&R);
    store_map_list(arch, "alice", on_list, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_ERROR,
       L(d, "map_list on an archive store fails cleanly"));
    mynah_archive_item item = {NULL, 1, NULL, "x", 1};
    result_reset(&R);
    store_archive_append(kv, "alice", &item, on_id, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_ERROR,
       L(d, "archive_append on a keyval store fails cleanly"));
    result_reset(&R);
    store_archive_find(map, "alice", NULL, on_items, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_ERROR,
       L(d, "archive_find on a map store fails cleanly"));
    result_reset(&R);
    store_keyval_users(arch, on_list, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_ERROR,
       L(d, "keyval_users on an archive store fails cleanly"));
    result_reset(&R);
    store_keyval_get(NULL, "alice", on_value, &R);
    ok(R.calls == 1 && R.status == MYNAH_STORE_ERROR,
       L(d, "an operation on a NULL store fails cleanly"));

    /* The same name as three kinds is three separate stores. */
    kv_set(kv, "alice", "kv");
    map_set(map, "alice", "k", "map");
    kv_get(kv, "alice");
    is_str(R.data, "kv", L(d, "one name, separate kinds"));
    storage_close(kv);
    storage_close(map);
    storage_close(arch);
}

/* Stores a module opened are closed when it goes from a host. */
static void test_owner_tracking(const char *d, mynah_module *owner,
                                mynah_host *host)
{
    mynah_store *on_host = storage_open(owner, host, "o1", MYNAH_STORE_KEYVAL);
    mynah_store *global = storage_open(owner, NULL, "o2", MYNAH_STORE_MAP);
    ok(on_host != NULL && global != NULL, L(d, "a module opens stores"));
    is_int(storage_open_count(owner), 2, L(d, "the core tracks them"));
    kv_set(on_host, "alice", "v");
    storage_close_owner(owner, host);
    is_int(storage_open_count(owner), 1,
           L(d, "removing the module from a host closes that host's stores"));
    storage_close_owner(owner, NULL);
    is_int(storage_open_count(owner), 0,
           L(d, "unloading the module closes the rest"));
    mynah_store *again = storage_open(owner, host, "o1", MYNAH_STORE_KEYVAL);
    kv_get(again, "alice");
    is_str(R.data, "v", L(d, "a module store is scoped by its host name"));
    mynah_store *by_name = storage_open_host("example.org", "o1",
                                             MYNAH_STORE_KEYVAL);
    kv_get(by_name, "alice");
    is_str(R.data, "v", L(d, "... the same store the core opens by name"));
    storage_close(by_name);
    storage_close_owner(owner, NULL);
}

static void run_battery(const char *d, mynah_module *owner, mynah_host *host)
{
    test_keyval(d);
    test_reentrancy(d);
    test_map(d);
    test_archive(d);
    test_purge(d);
    test_wrong_kind(d);
    test_owner_tracking(d, owner, host);
}

/* ---- loading and unloading drivers ---- */

static int load_driver(const char *name)
{
    char *error = NULL;
    int rc = storage_init(name, &error);
    if (rc != 0)
        printf("# storage_init(%s): %s\n", name, error ? error : "?");
    free(error);
    return rc;
}

static void unload_driver(const char *name)
{
    char module_name[64];
    snprintf(module_name, sizeof module_name, "storage_%s", name);
    mynah_module *m = module_find(module_name);
    if (m != NULL)
        module_disable(NULL, m);
}

/* ---- SQLite specifics ---- */

static char data_dir[256];
static char db_path[300];

/* kill -9 right after an acknowledged write (DESIGN.md: acknowledged data
 * survives kill -9).  The child loads the driver itself, so no SQLite
 * connection crosses the fork. */
static void test_kill9(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (load_driver("sqlite") != 0)
            _exit(2);
        mynah_store *s = storage_open_host("example.org", "durable",
                                           MYNAH_STORE_KEYVAL);
        result r = {0};
        store_keyval_set(s, "alice", "acknowledged", 12, on_done, &r);
        if (r.calls != 1 || r.status != MYNAH_STORE_OK)
            _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    ok(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL,
       "sqlite: the writer was killed with SIGKILL after its write");
    if (load_driver("sqlite") != 0) {
        ok(0, "sqlite: the driver loads again after kill -9");
        return;
    }
    mynah_store *s = storage_open_host("example.org", "durable",
                                       MYNAH_STORE_KEYVAL);
    kv_get(s, "alice");
    is_str(R.data, "acknowledged",
           "sqlite: an acknowledged write survives kill -9");
    storage_close(s);
}

static void test_sqlite_file(void)
{
    struct stat st;
    ok(stat(data_dir, &st) == 0 && (st.st_mode & 0777) == 0700,
       "sqlite: a missing data_path is created with mode 0700");
    ok(stat(db_path, &st) == 0 && (st.st_mode & 0777) == 0600,
       "sqlite: the database file has mode 0600");

    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    ok(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK,
       "sqlite: the database file opens with sqlite3");
    char *mode = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        mode = dup_string((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    is_str(mode, "wal", "sqlite: the database is in WAL mode");
    free(mode);
    long long version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    is_int(version, 1, "sqlite: the schema version is recorded (1)");
    sqlite3_close(db);
}

/* A store stays usable across the driver's unload and load: closed in the
 * driver while it is gone, reopened on the next use, data still there. */
static void test_reopen(void)
{
    mynah_store *s = storage_open_host("example.org", "persist",
                                       MYNAH_STORE_MAP);
    map_set(s, "alice", "k", "kept");
    unload_driver("sqlite");
    ok(storage_driver("sqlite", NULL) == NULL,
       "sqlite: unloading the module drops the driver");
    is_int(map_get(s, "alice", "k"), MYNAH_STORE_ERROR,
           "sqlite: with no driver, operations fail with ERROR");
    ok(load_driver("sqlite") == 0, "sqlite: the driver loads again");
    is_int(map_get(s, "alice", "k"), MYNAH_STORE_OK,
           "sqlite: the open store works again");
    is_str(R.data, "kept", "sqlite: data survives closing the database");
    storage_close(s);
}

/* The sqlite_file option names the file; a database whose schema is newer
 * than this build understands is refused, not guessed at. */
static void test_future_schema(void)
{
    char *error = NULL;
    server.cfg = config_load_string("sqlite_file = \"future.sqlite\"\n",
                                    "test.cfg.lua", &error);
    ok(server.cfg != NULL, "sqlite: a config naming another file loads");
    free(error);
    char path[400];
    snprintf(path, sizeof path, "%s/future.sqlite", data_dir);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);

    error = NULL;
    ok(storage_init("sqlite", &error) != 0,
       "sqlite: a database with a newer schema is refused");
    ok(error != NULL, "sqlite: ... with a message");
    free(error);
    ok(storage_driver("sqlite", NULL) == NULL,
       "sqlite: ... and no driver is left registered");

    long long version = -1;
    sqlite3_stmt *stmt = NULL;
    sqlite3_open(path, &db);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    is_int(version, 99, "sqlite: ... and left as it was");
    config_free(server.cfg);
    server.cfg = NULL;
}

/* ---- setup ---- */

static void remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir != NULL) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[512];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static const mynah_module_descriptor user_module = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "storage_test_user",
    .version = "1",
};

int main(void)
{
    log_set_level(MYNAH_LOG_ERROR + 1); /* expected failures stay quiet */
    if (getenv("MYNAH_MODULE_PATH") == NULL)
        setenv("MYNAH_MODULE_PATH", "modules/.libs", 1);

    char tmp_template[] = "/tmp/mynah-storage-XXXXXX";
    char *tmp = mkdtemp(tmp_template);
    if (tmp == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(data_dir, sizeof data_dir, "%s/data", tmp);
    snprintf(db_path, sizeof db_path, "%s/mynah.sqlite", data_dir);
    server.data_path = data_dir;

    char *error = NULL;
    mynah_module *owner = module_register_builtin(&user_module, &error);
    ok(owner != NULL, "a module to own stores registers");
    free(error);
    mynah_host *host = host_create("example.org", 0, NULL);

    /* Nothing loaded yet: operations fail cleanly. */
    mynah_store *early = storage_open_host("example.org", "early",
                                           MYNAH_STORE_KEYVAL);
    is_int(kv_get(early, "alice"), MYNAH_STORE_ERROR,
           "with no driver loaded, operations fail with ERROR");
    storage_close(early);

    if (load_driver("memory") == 0) {
        ok(1, "memory: the driver loads through the module loader");
        run_battery("memory", owner, host);
        unload_driver("memory");
        ok(storage_driver("memory", NULL) == NULL,
           "memory: unloading the module drops the driver");
    } else {
        ok(0, "memory: the driver loads through the module loader");
    }

    test_kill9();
    test_sqlite_file();
    run_battery("sqlite", owner, host);
    test_reopen();
    unload_driver("sqlite");
    test_future_schema();

    storage_shutdown();
    if (host != NULL)
        host_destroy(host);
    modules_shutdown();
    result_reset(&R);
    remove_tree(tmp);
    return done_testing();
}
