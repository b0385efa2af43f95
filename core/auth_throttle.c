/*
 * Throttling of failed logins per peer address (see auth_throttle.h).
 *
 * Each tracked address keeps the times of its last few failures in a small
 * ring (as many as the decisions need: enough to see failures_before_block
 * of them, or to reach the delay cap), which gives an exact sliding window
 * at a bounded cost per address.  Addresses sit in a hash map and in a
 * list ordered by their last failure, most recent first: expired ones are
 * swept from the old end, and when the table is full the oldest is
 * forgotten, so memory never exceeds max_addresses entries.
 *
 * The map's hash (FNV-1a) is not keyed, and addresses are partly chosen by
 * whoever connects (an IPv6 /64 holds many), so each key starts with a
 * per-process random prefix: crafting colliding addresses would need it.
 */
#include "auth_throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>

#include "hashmap.h"
#include "log.h"

#define ADDRESS_MAX 128  /* longer addresses are cut (they are never that long) */
#define PREFIX_LEN 16    /* hex digits of the random key prefix */
#define KEY_MAX (PREFIX_LEN + ADDRESS_MAX + 1)
#define RING_MAX 128

typedef struct throttle_entry {
    struct throttle_entry *newer, *older;
    double last_failure;
    double blocked_until;  /* 0 when not blocked */
    unsigned stored;       /* failure times in the ring */
    unsigned next;         /* where the next one goes */
    char *key;             /* prefixed address; in the same allocation */
    double failures[];     /* ring_size entries, then the key */
} throttle_entry;

typedef struct throttle_options {
    unsigned failures_before_delay;
    unsigned failures_before_block;
    double failure_window;
    double block_seconds;
    double max_delay;
    size_t max_addresses;
} throttle_options;

static throttle_options options = {
    AUTH_THROTTLE_FAILURES_BEFORE_DELAY, AUTH_THROTTLE_FAILURES_BEFORE_BLOCK,
    AUTH_THROTTLE_FAILURE_WINDOW, AUTH_THROTTLE_BLOCK_SECONDS,
    AUTH_THROTTLE_MAX_DELAY, AUTH_THROTTLE_MAX_ADDRESSES};
static unsigned ring_size = AUTH_THROTTLE_FAILURES_BEFORE_BLOCK;
static hashmap entries = HASHMAP_INIT;
static throttle_entry *newest, *oldest;
static char key_prefix[PREFIX_LEN + 1];

/* Failures needed before the delay reaches max_delay. */
static unsigned failures_to_cap(const throttle_options *o)
{
    unsigned steps = 0;
    while (steps < 31 && (double)(1u << steps) < o->max_delay)
        steps++;
    return o->failures_before_delay + 1 + steps;
}

/* Applies options after checking them; forgets every address. */
static int apply(const throttle_options *o)
{
    if (!(o->failure_window > 0) || !(o->block_seconds >= 0) ||
        !(o->max_delay >= 0 && o->max_delay <= 3600) || o->max_addresses == 0)
        return -1;
    auth_throttle_reset();
    options = *o;
    /* The ring holds what the decisions need: enough failures to see a
     * block coming, or to reach the delay cap. */
    ring_size = o->failures_before_block;
    if (o->failures_before_delay > 0 && failures_to_cap(o) > ring_size)
        ring_size = failures_to_cap(o);
    if (ring_size == 0)
        ring_size = 1;
    if (ring_size > RING_MAX)
        ring_size = RING_MAX;
    return 0;
}

/* Counts beyond the bound would need a longer ring per address; nobody
 * needs them, so they are cut (with a word in the log), not refused. */
static unsigned bounded_count(unsigned count, const char *name)
{
    if (count <= AUTH_THROTTLE_MAX_FAILURES)
        return count;
    log_msg(MYNAH_LOG_WARN, "auth", "%s = %u is more than %u; using %u", name,
            count, AUTH_THROTTLE_MAX_FAILURES, AUTH_THROTTLE_MAX_FAILURES);
    return AUTH_THROTTLE_MAX_FAILURES;
}

int auth_throttle_configure(unsigned failures_before_delay,
                            unsigned failures_before_block,
                            double failure_window, double block_seconds)
{
    failures_before_delay =
        bounded_count(failures_before_delay, "auth_failures_before_delay");
    failures_before_block =
        bounded_count(failures_before_block, "auth_failures_before_block");
    throttle_options o = options;
    o.failures_before_delay = failures_before_delay;
    o.failures_before_block = failures_before_block;
    o.failure_window = failure_window;
    o.block_seconds = block_seconds;
    return apply(&o);
}

int auth_throttle_set_limits(double max_delay, size_t max_addresses)
{
    throttle_options o = options;
    o.max_delay = max_delay;
    o.max_addresses = max_addresses;
    return apply(&o);
}

/* ---- keys ---- */

static void make_key(const char *addr, char key[KEY_MAX])
{
    if (key_prefix[0] == '\0') {
        uint64_t random = 0;
        if (getrandom(&random, sizeof random, GRND_NONBLOCK) !=
            (ssize_t)sizeof random)
            random = (uint64_t)(uintptr_t)&random ^ (uint64_t)time(NULL);
        snprintf(key_prefix, sizeof key_prefix, "%016llx",
                 (unsigned long long)random);
    }
    memcpy(key, key_prefix, PREFIX_LEN);
    size_t len = strlen(addr);
    if (len > ADDRESS_MAX)
        len = ADDRESS_MAX;
    memcpy(key + PREFIX_LEN, addr, len);
    key[PREFIX_LEN + len] = '\0';
}

static throttle_entry *find(const char *addr)
{
    char key[KEY_MAX];
    if (addr == NULL)
        return NULL;
    make_key(addr, key);
    return hashmap_get(&entries, key);
}

/* ---- the recency list ---- */

static void unlink_entry(throttle_entry *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_newest(throttle_entry *e)
{
    e->older = newest;
    e->newer = NULL;
    if (newest != NULL)
        newest->newer = e;
    newest = e;
    if (oldest == NULL)
        oldest = e;
}

static void forget(throttle_entry *e)
{
    hashmap_remove(&entries, e->key);
    unlink_entry(e);
    free(e);
}

/* Nothing left to remember: no failure inside the window, no block. */
static int expired(const throttle_entry *e, double now)
{
    return e->blocked_until <= now &&
           e->last_failure <= now - options.failure_window;
}

void auth_throttle_sweep(double now)
{
    while (oldest != NULL && expired(oldest, now))
        forget(oldest);
}

/* ---- counting ---- */

static unsigned failures_in_window(const throttle_entry *e, double now)
{
    unsigned count = 0;
    for (unsigned i = 0; i < e->stored; i++)
        if (e->failures[i] > now - options.failure_window)
            count++;
    return count;
}

static throttle_entry *new_entry(const char *addr, double now)
{
    char key[KEY_MAX];
    make_key(addr, key);
    size_t key_len = strlen(key) + 1;

    auth_throttle_sweep(now);
    if (entries.count >= options.max_addresses && oldest != NULL)
        forget(oldest);

    throttle_entry *e = calloc(1, sizeof *e + ring_size * sizeof(double) +
                                      key_len);
    if (e == NULL)
        return NULL;
    e->key = (char *)(e->failures + ring_size);
    memcpy(e->key, key, key_len);
    if (hashmap_put(&entries, e->key, e) < 0) {
        free(e);
        return NULL;
    }
    push_newest(e);
    return e;
}

void auth_throttle_failure(const char *addr, double now)
{
    if (addr == NULL)
        return;
    throttle_entry *e = find(addr);
    if (e == NULL) {
        e = new_entry(addr, now);
        if (e == NULL)
            return; /* out of memory: fail open rather than crash */
    } else {
        unlink_entry(e);
        push_newest(e);
    }
    if (e->blocked_until != 0 && e->blocked_until <= now)
        e->blocked_until = 0; /* a served block starts a fresh count */

    e->failures[e->next] = now;
    e->next = (e->next + 1) % ring_size;
    if (e->stored < ring_size)
        e->stored++;
    e->last_failure = now;

    if (options.failures_before_block > 0 && e->blocked_until == 0 &&
        failures_in_window(e, now) >= options.failures_before_block) {
        e->blocked_until = now + options.block_seconds;
        e->stored = e->next = 0;
        log_msg(MYNAH_LOG_WARN, "auth",
                "%s: %u failed logins within %g s; refused for %g s", addr,
                options.failures_before_block, options.failure_window,
                options.block_seconds);
    }
}

void auth_throttle_success(const char *addr)
{
    throttle_entry *e = find(addr);
    if (e != NULL)
        forget(e);
}

double auth_throttle_delay(const char *addr, double now)
{
    const throttle_entry *e = find(addr);
    if (e == NULL || options.failures_before_delay == 0)
        return 0;
    if (e->blocked_until > now)
        return options.max_delay; /* the failure that caused the block */
    unsigned count = failures_in_window(e, now);
    if (count <= options.failures_before_delay)
        return 0;
    unsigned steps = count - options.failures_before_delay - 1;
    if (steps >= 31 || (double)(1u << steps) >= options.max_delay)
        return options.max_delay;
    return (double)(1u << steps);
}

int auth_throttle_blocked(const char *addr, double now)
{
    const throttle_entry *e = find(addr);
    return e != NULL && e->blocked_until > now;
}

size_t auth_throttle_tracked(void)
{
    return entries.count;
}

void auth_throttle_reset(void)
{
    while (oldest != NULL)
        forget(oldest);
    hashmap_free(&entries);
}

/* ---- addresses ---- */

int auth_throttle_address_key(const struct sockaddr *addr, socklen_t len,
                              char *buf, size_t size)
{
    if (addr == NULL || buf == NULL || size == 0)
        return -1;
    if (addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return inet_ntop(AF_INET, &in->sin_addr, buf, size) ? 0 : -1;
    }
    if (addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf,
                             size) ? 0 : -1;
        struct in6_addr prefix = in6->sin6_addr;
        memset(&prefix.s6_addr[8], 0, 8);
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &prefix, text, sizeof text) == NULL)
            return -1;
        int n = snprintf(buf, size, "%s/64", text);
        return n > 0 && (size_t)n < size ? 0 : -1;
    }
    if (addr->sa_family == AF_UNIX) {
        int n = snprintf(buf, size, "local");
        return n > 0 && (size_t)n < size ? 0 : -1;
    }
    return -1;
}
