/* Unit tests for the string-keyed hash map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "tap.h"

int main(void)
{
    hashmap m = HASHMAP_INIT;
    ok(hashmap_get(&m, "nobody") == NULL, "lookup in an empty map");

    enum { N = 5000 };
    static char keys[N][24];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "user%d@example.org", i);
        hashmap_put(&m, keys[i], keys[i]);
    }
    is_int(m.count, N, "count after inserts");
    int found = 0;
    for (int i = 0; i < N; i++)
        if (hashmap_get(&m, keys[i]) == keys[i])
            found++;
    is_int(found, N, "every key found");

    char probe[24];
    snprintf(probe, sizeof probe, "user%d@example.org", 1234);
    ok(hashmap_get(&m, probe) == keys[1234], "lookup by an equal string");

    for (int i = 0; i < N; i += 2)
        hashmap_remove(&m, keys[i]);
    is_int(m.count, N / 2, "count after removing half");
    ok(hashmap_get(&m, keys[2]) == NULL, "removed key is gone");
    ok(hashmap_get(&m, keys[3]) == keys[3], "others remain after removals");

    /* Re-inserting over tombstones works and does not duplicate. */
    hashmap_put(&m, keys[2], keys[2]);
    hashmap_put(&m, keys[3], keys[3]);
    is_int(m.count, N / 2 + 1, "re-insert over a tombstone, replace in place");

    size_t pos = 0, seen = 0;
    const char *k;
    void *v;
    while (hashmap_next(&m, &pos, &k, &v))
        seen++;
    is_int(seen, m.count, "iteration visits every entry");

    for (int i = 0; i < N; i++)
        hashmap_remove(&m, keys[i]);
    ok(m.slots == NULL && m.count == 0, "an emptied map frees its slots");
    hashmap_free(&m);
    return done_testing();
}
