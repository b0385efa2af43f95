/*
 * Unit tests for the module loader, the function table, hosts, timers and
 * module options, driven through real shared objects (tests/modules/),
 * found on MYNAH_MODULE_PATH as the test environment sets it.
 *
 * The test modules report each lifecycle step by firing "test-trace" on
 * the global bus; the trace below records them as "module:what[@host]".
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "event.h"
#include "hooks.h"
#include "host.h"
#include "module_loader.h"
#include "module_options.h"
#include "server.h"
#include "session.h"
#include "stanza.h"
#include "tap.h"
#include "timer.h"

static char trace[8192];

static int on_trace(mynah_event *ev, void *userdata)
{
    mynah_element *root = stanza_root(ev->stanza);
    const char *module = element_attr(root, "module");
    const char *what = element_attr(root, "what");
    const char *host = element_attr(root, "host");
    size_t used = strlen(trace);
    snprintf(trace + used, sizeof trace - used, "%s%s:%s%s%s",
             used ? " " : "", module ? module : "?", what ? what : "?",
             host ? "@" : "", host ? host : "");
    return MYNAH_PASS;
}

static void trace_reset(void)
{
    trace[0] = '\0';
}

static void run_loop(double seconds)
{
    struct timeval tv = {(time_t)seconds,
                         (suseconds_t)((seconds - (time_t)seconds) * 1e6)};
    event_base_loopexit(server.base, &tv);
    event_base_dispatch(server.base);
}

/* The directory that holds the test modules, from MYNAH_MODULE_PATH. */
static char module_dir[4096];

static int find_module_dir(void)
{
    const char *env = getenv("MYNAH_MODULE_PATH");
    while (env && *env) {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        snprintf(module_dir, sizeof module_dir, "%.*s/mod_test_hello.so",
                 (int)len, env);
        if (access(module_dir, F_OK) == 0) {
            snprintf(module_dir, sizeof module_dir, "%.*s", (int)len, env);
            return 0;
        }
        env = colon ? colon + 1 : NULL;
    }
    return -1;
}

/* Whether a shared object is mapped in this process right now. */
static int is_mapped(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL)
        return 0;
    dlclose(h); /* NOLOAD still counts a reference */
    return 1;
}

static int host_lists_feature(mynah_host *h, const char *var)
{
    for (size_t i = 0; host_feature_at(h, i) != NULL; i++)
        if (strcmp(host_feature_at(h, i), var) == 0)
            return 1;
    return 0;
}

/* What a host looks like from outside: its modules, features, identities
 * and the handlers of the test event. */
static void host_snapshot(mynah_host *h, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "modules:");
    for (size_t i = 0; i < h->module_count && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, " %s", h->modules[i].module->name);
    for (size_t i = 0; host_feature_at(h, i) && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, " f=%s", host_feature_at(h, i));
    const char *cat, *type, *name;
    for (size_t i = 0; host_identity_at(h, i, &cat, &type, &name) == 0 && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, " i=%s/%s", cat, type);
    if (n < size)
        snprintf(out + n, size - n, " hooks=%d", hooks_count(h->hooks, "test/hello"));
}

static int enable(mynah_host *h, const char *name, char **error)
{
    const char *names[1] = {name};
    *error = NULL;
    return modules_enable(h, names, 1, error);
}

/* Fires the test event and returns the stanza for inspection. */
static mynah_stanza *fire_hello(mynah_host *h, int *result)
{
    mynah_stanza *st = stanza_new("message", "jabber:client");
    *result = module_api()->fire(h, "test/hello", st, NULL);
    return st;
}

/* ---- the function table ---- */

static void test_api_table(void)
{
    const mynah_api *api = module_api();
    is_int(api->size, sizeof(struct mynah_api), "api->size is the table's size");
    is_int(api->abi_major, MYNAH_ABI_MAJOR, "api ABI major");
    is_int(api->abi_minor, MYNAH_ABI_MINOR, "api ABI minor");
    /* Every slot after the header is a function pointer: none may be NULL,
     * or MYNAH_API_HAS would tell modules the core lacks it. */
    typedef void (*any_fn)(void);
    size_t first = offsetof(struct mynah_api, log);
    size_t missing = 0, slots = 0;
    for (size_t at = first; at + sizeof(any_fn) <= api->size; at += sizeof(any_fn)) {
        any_fn fn;
        memcpy(&fn, (const char *)api + at, sizeof fn);
        slots++;
        if (fn == NULL) {
            missing++;
            printf("# NULL function pointer at offset %zu\n", at);
        }
    }
    is_int(missing, 0, "every function in the table is filled");
    is_int(slots, (sizeof(struct mynah_api) - first) / sizeof(any_fn),
           "the header is followed by function pointers only");
    ok(MYNAH_API_HAS(api, data_path), "MYNAH_API_HAS sees the last field");
}

/* element_to_string and element_copy_into: one element alone, with the
 * namespace declaration it needs, and a deep copy into another stanza. */
static void test_api_elements(void)
{
    const mynah_api *api = module_api();
    static const char iq_xml[] =
        "<iq type='set' id='1'><query xmlns='jabber:iq:private'>"
        "<note xmlns='urn:x' a='1&amp;2'>text<sub/><o xmlns='urn:o'/></note>"
        "</query></iq>";
    mynah_stanza *iq = api->stanza_parse(iq_xml, strlen(iq_xml));
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    mynah_element *note = api->element_first_child(query);
    size_t len = 0;
    char *xml = api->element_to_string(note, &len);
    static const char expected[] = "<note xmlns='urn:x' a='1&amp;2'>text"
                                   "<sub/><o xmlns='urn:o'/></note>";
    is_str(xml, expected, "element_to_string: the element alone, its xmlns "
                          "declared");
    is_int(len, strlen(expected), "element_to_string: its length");
    free(xml);
    xml = api->element_to_string(query, NULL);
    static const char query_start[] =
        "<query xmlns='jabber:iq:private'><note xmlns='urn:x'";
    ok(xml != NULL && strncmp(xml, query_start, strlen(query_start)) == 0,
       "element_to_string: a child's namespace is declared where it changes");
    free(xml);

    mynah_stanza *other = api->stanza_new("message", "jabber:client");
    mynah_element *copy = api->element_copy_into(api->stanza_root(other), note);
    ok(copy != NULL && strcmp(api->element_xmlns(copy), "urn:x") == 0 &&
           strcmp(api->element_attr(copy, "a"), "1&2") == 0,
       "element_copy_into: the copy keeps its namespace and attributes");
    api->stanza_unref(iq); /* the copy does not depend on the source */
    xml = api->element_to_string(copy, NULL);
    is_str(xml, expected, "element_copy_into: the whole subtree is copied");
    free(xml);
    ok(api->element_copy_into(api->element_first_child(copy), copy) == NULL,
       "element_copy_into: not into the source's own subtree");
    api->stanza_unref(other);
}

/* ---- a module's whole life on one host ---- */

static void test_hello_lifecycle(mynah_host *a)
{
    char *error;
    char before[2048], after[2048];
    host_snapshot(a, before, sizeof before);
    trace_reset();
    is_int(enable(a, "test_hello", &error), 0, "test_hello loads");
    if (error)
        printf("# %s\n", error);
    free(error);
    is_str(trace, "test_hello:init test_hello:add@a.test",
           "init once, then add_host");
    mynah_module *m = module_find("test_hello");
    ok(m != NULL && m->initialised && host_find_module(a, m) != NULL,
       "the module is open, initialised and on the host");
    char *path = strdup(m ? m->path : "");
    ok(is_mapped(path), "its shared object is mapped");

    int result;
    mynah_stanza *st = fire_hello(a, &result);
    is_int(result, MYNAH_HANDLED, "the module's hook took the event");
    is_str(stanza_attr(st, "greeting"), "hello, world",
           "its handler changed the stanza (with the option's default)");
    stanza_unref(st);
    is_int(hooks_count(a->hooks, "test/hello"), 1, "one handler registered");
    ok(host_lists_feature(a, "urn:mynah:test:hello"), "the host lists its feature");
    const char *cat = NULL, *type = NULL, *name = NULL;
    ok(host_identity_at(a, 0, &cat, &type, &name) == 0 && cat &&
           strcmp(cat, "test") == 0 && strcmp(type, "hello") == 0 &&
           strcmp(name, "Hello") == 0,
       "the host lists its identity");
    is_int(timer_count(m), 1, "its timer is pending");
    ok(m->refs >= 1, "the pending timer holds a module reference");

    trace_reset();
    module_disable(a, m);
    is_str(trace, "test_hello:remove@a.test test_hello:fini",
           "disable: remove_host, then fini (nothing else holds it)");
    is_int(hooks_count(a->hooks, "test/hello"), 0, "the hook is gone");
    st = fire_hello(a, &result);
    is_int(result, MYNAH_PASS, "firing now reaches nobody");
    ok(stanza_attr(st, "greeting") == NULL, "and nobody touched the stanza");
    stanza_unref(st);
    ok(!host_lists_feature(a, "urn:mynah:test:hello"), "the feature is gone");
    ok(host_identity_at(a, 0, NULL, NULL, NULL) < 0, "the identity is gone");
    is_int(timer_count(NULL), 0, "no timer is pending");
    ok(module_find("test_hello") == NULL, "the module is closed");
    trace_reset();
    run_loop(0.35);
    ok(strstr(trace, "timer") == NULL, "the cancelled timer never fires");
    ok(!is_mapped(path), "the shared object is unmapped (dlclose)");
    host_snapshot(a, after, sizeof after);
    is_str(after, before, "the host is as it was");
    free(path);
}

static void test_timer_fires(mynah_host *b)
{
    char *error;
    trace_reset();
    is_int(enable(b, "test_hello", &error), 0, "test_hello on b.test");
    free(error);
    mynah_module *m = module_find("test_hello");
    /* b.test sets hello_timer = 0.01 */
    run_loop(0.2);
    ok(strstr(trace, "test_hello:timer") != NULL, "the module's timer fired");
    is_int(timer_count(m), 0, "a fired timer is no longer pending");
    trace_reset();
    module_disable(b, m);
    is_str(trace, "test_hello:remove@b.test test_hello:fini",
           "after its timer fired, the module closes at once");
}

/* ---- refusals ---- */

static void expect_refusal(mynah_host *h, const char *const *names, size_t n,
                           const char *want, const char *what)
{
    char before[2048], after[2048];
    host_snapshot(h, before, sizeof before);
    size_t open_before = 0;
    while (module_at(open_before))
        open_before++;
    char *error = NULL;
    int rc = modules_enable(h, names, n, &error);
    is_int(rc, -1, what);
    ok(error != NULL && strstr(error, want) != NULL, "the message says why");
    if (error == NULL || strstr(error, want) == NULL)
        printf("#   message: %s\n#   wanted:  ...%s...\n", error ? error : "(none)", want);
    free(error);
    host_snapshot(h, after, sizeof after);
    is_str(after, before, "the host is left unchanged");
    size_t open_after = 0;
    while (module_at(open_after))
        open_after++;
    is_int(open_after, open_before, "no module was left open");
}

static void test_refusals(mynah_host *a)
{
    const char *badabi[] = {"test_badabi"};
    expect_refusal(a, badabi, 1,
                   "module 'test_badabi' was built for ABI 2.0; this server has ABI 1.0",
                   "a module built for another major ABI is refused");
    const char *newer[] = {"test_newer_minor"};
    expect_refusal(a, newer, 1,
                   "module 'test_newer_minor' was built for ABI 1.1; this server has ABI 1.0",
                   "a module built for a newer minor ABI is refused");
    const char *missing[] = {"test_missing_dep"};
    expect_refusal(a, missing, 1,
                   "module 'test_missing_dep' needs 'test_nonexistent', which "
                   "is not available: module 'test_nonexistent' not found",
                   "a missing hard dependency is refused");
    const char *cycle[] = {"test_cycle_x"};
    expect_refusal(a, cycle, 1,
                   "modules 'test_cycle_x' and 'test_cycle_y' depend on each other",
                   "a dependency cycle is refused");
    const char *dup[] = {"test_dup"};
    expect_refusal(a, dup, 1, "module 'test_dup'",
                   "a module declaring another file's name is refused");
    expect_refusal(a, dup, 1, "declares the name 'test_hello'", "(named)");
    const char *nosym[] = {"test_nosym"};
    expect_refusal(a, nosym, 1, "does not export 'mynah_module_v1'",
                   "a shared object without a descriptor is refused");
    const char *nowhere[] = {"test_nowhere"};
    expect_refusal(a, nowhere, 1, "module 'test_nowhere' not found: no mod_test_nowhere.so in",
                   "an unknown module is refused");
    const char *climb[] = {"../../etc/evil"};
    expect_refusal(a, climb, 1, "not a valid module name",
                   "a name that is a path is refused");
    /* A good module before a bad one in the same call is not left behind. */
    const char *mixed[] = {"test_dep_b", "test_badabi"};
    trace_reset();
    expect_refusal(a, mixed, 2, "ABI 2.0", "a bad module among good ones");
    is_str(trace, "", "nothing was initialised: checks come first");

    /* The duplicate is named as such when the real one is loaded. */
    char *error;
    is_int(enable(a, "test_hello", &error), 0, "test_hello on a.test");
    free(error);
    expect_refusal(a, dup, 1,
                   "declares the name 'test_hello', which is already taken",
                   "a duplicate of a loaded module is refused");
    module_disable(a, module_find("test_hello"));
}

static void test_failed_add_host(mynah_host *a)
{
    const char *names[] = {"test_dep_b", "test_failhost"};
    trace_reset();
    expect_refusal(a, names, 2, "module 'test_failhost' could not be enabled on a.test",
                   "a module whose add_host fails is refused");
    ok(strstr(trace, "test_dep_b:init test_failhost:init test_dep_b:add@a.test "
                     "test_failhost:add@a.test") == trace,
       "init for all, then add_host in order, up to the failure");
    ok(strstr(trace, "test_dep_b:remove@a.test") && strstr(trace, "test_dep_b:fini"),
       "the module already added was removed and finished again");
    ok(strstr(trace, "test_failhost:remove") == NULL,
       "remove_host is not called after a failed add_host");
    ok(strstr(trace, "test_failhost:fini") != NULL, "but fini is");
    ok(!host_lists_feature(a, "urn:mynah:test:failhost"),
       "what it registered before failing is undone");
}

/* ---- dependencies ---- */

static void test_dependencies(mynah_host *a, mynah_host *b)
{
    char *error;
    trace_reset();
    is_int(enable(a, "test_dep_a", &error), 0, "test_dep_a with its dependency");
    free(error);
    is_str(trace, "test_dep_b:init test_dep_a:init "
                  "test_dep_b:add@a.test test_dep_a:add@a.test",
           "the dependency is initialised and added first");
    ok(a->module_count == 2 && strcmp(a->modules[0].module->name, "test_dep_b") == 0 &&
           strcmp(a->modules[1].module->name, "test_dep_a") == 0,
       "the host lists them in load order");

    trace_reset();
    is_int(enable(a, "test_dep_a", &error), 0, "enabling it again is harmless");
    free(error);
    is_str(trace, "", "and does nothing");

    trace_reset();
    is_int(enable(b, "test_soft", &error), 0, "a soft dependency alone");
    free(error);
    is_str(trace, "test_soft:init test_soft:add@b.test",
           "does not pull the dependency in");
    module_disable(b, module_find("test_soft"));

    mynah_host *c = host_create("c.test", 0, NULL);
    const char *both[] = {"test_soft", "test_dep_b"};
    trace_reset();
    is_int(modules_enable(c, both, 2, &error), 0, "a soft dependency enabled too");
    free(error);
    is_str(trace, "test_soft:init test_dep_b:add@c.test test_soft:add@c.test",
           "goes first, whatever the listed order");

    trace_reset();
    modules_disable_all(a);
    is_str(trace, "test_dep_a:remove@a.test test_dep_a:fini test_dep_b:remove@a.test",
           "disable all: reverse load order; a module still on a host stays");
    ok(module_find("test_dep_b") != NULL, "test_dep_b is still open for c.test");
    trace_reset();
    host_destroy(c);
    is_str(trace, "test_soft:remove@c.test test_soft:fini "
                  "test_dep_b:remove@c.test test_dep_b:fini",
           "destroying a host removes its modules");
}

static void test_global_modules(mynah_host *a)
{
    char *error;
    trace_reset();
    is_int(enable(NULL, "test_dep_b", &error), 0, "a global module");
    free(error);
    is_str(trace, "test_dep_b:init", "global: init only");
    mynah_module *b = module_find("test_dep_b");
    ok(host_global_module_at(0) == b, "listed as global");
    trace_reset();
    is_int(enable(a, "test_dep_a", &error), 0, "a host module needing it");
    free(error);
    is_str(trace, "test_dep_a:init test_dep_a:add@a.test",
           "a global module satisfies a host's dependency");
    modules_disable_all(a);
    trace_reset();
    modules_disable_all(NULL);
    is_str(trace, "test_dep_b:fini", "disabling it globally finishes it");
    ok(host_global_module_at(0) == NULL, "no global module left");
}

/* ---- exported APIs ---- */

static void test_exported_api(mynah_host *a)
{
    char *error;
    trace_reset();
    is_int(enable(a, "test_user", &error), 0, "a module using another's API");
    free(error);
    is_str(trace, "test_hello:init test_user:init test_hello:add@a.test "
                  "test_user:answer=42@a.test",
           "it got the table and called it");
    mynah_module *hello = module_find("test_hello");
    char *path = strdup(hello->path);
    trace_reset();
    is_int(module_reload("test_hello", &error), -1,
           "an exporter in use is not reloaded");
    ok(error && strstr(error, "while module 'test_user' uses its API 'hello'"),
       "the message names the user");
    free(error);

    module_disable(a, hello);
    is_str(trace, "test_hello:remove@a.test", "the exporter leaves the host...");
    ok(is_mapped(path), "...but stays loaded while its user is");
    ok(module_get_api(NULL, "hello", 1) == NULL, "and exports nothing new");
    trace_reset();
    is_int(enable(a, "test_hello", &error), 0, "enabled again while still loaded");
    free(error);
    is_str(trace, "test_hello:add@a.test", "it is only added (init ran once)");
    ok(module_get_api(NULL, "hello", 1) != NULL, "and its API is back");
    module_disable(a, hello);
    trace_reset();
    module_disable(a, module_find("test_user"));
    is_str(trace, "test_user:remove@a.test test_user:fini test_hello:fini",
           "when the user goes, the exporter is finished");
    ok(!is_mapped(path), "and closed");
    free(path);
}

/* ---- options ---- */

static void test_options(mynah_host *a, mynah_host *b)
{
    char *error;
    is_int(enable(a, "test_hello", &error), 0, "test_hello for options");
    free(error);
    mynah_module *m = module_find("test_hello");
    const mynah_api *api = module_api();
    is_str(api->option_string(m, a, "hello_greeting"), "hello, world",
           "string: the schema default, unquoted");
    is_str(api->option_string(m, b, "hello_greeting"), "bonjour",
           "string: the host's value");
    is_int(api->option_integer(m, a, "hello_count"), 3, "integer: default");
    is_int(api->option_integer(m, b, "hello_count"), 7, "integer: host value");
    ok(api->option_number(m, a, "hello_ratio") == 0.5, "number: default");
    ok(api->option_number(m, a, "hello_timer") == 5, "number: the global value");
    ok(api->option_number(m, b, "hello_timer") == 0.01, "number: host over global");
    is_int(api->option_boolean(m, a, "hello_loud"), 0, "boolean: default false");
    is_int(api->option_boolean(m, b, "hello_loud"), 1, "boolean: host true");
    is_int(api->option_array_length(m, a, "hello_words"), 2, "array: default length");
    is_str(api->option_array_item(m, a, "hello_words", 1), "two", "array: default item");
    ok(api->option_array_item(m, a, "hello_words", 2) == NULL, "array: past the end");
    is_int(api->option_array_length(m, b, "hello_words"), 3, "array: host length");
    is_str(api->option_array_item(m, b, "hello_words", 2), "z", "array: host item");
    ok(api->option_string(m, a, "hello_nothing") == NULL, "unknown: NULL");
    is_int(api->option_integer(m, a, "hello_nothing"), 0, "unknown: 0");
    ok(module_option_spec(m, "hello_loud") != NULL &&
           module_option_spec(m, "hello_loud")->type == MYNAH_OPTION_BOOLEAN,
       "the schema entry is found");
    int result;
    mynah_stanza *st = fire_hello(a, &result);
    stanza_unref(st);
    module_disable(a, m);
    is_int(enable(b, "test_hello", &error), 0, "on b.test");
    free(error);
    st = fire_hello(b, &result);
    is_str(stanza_attr(st, "greeting"), "bonjour",
           "the module reads its host's option through the table");
    stanza_unref(st);
    module_disable(b, module_find("test_hello"));
}

/* ---- reload ---- */

static int copy_file(const char *from, const char *to)
{
    /* Written aside and renamed into place: a new inode, as `install`
     * does.  Overwriting a mapped library in place corrupts it. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new", to);
    int in = open(from, O_RDONLY);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char chunk[65536];
    ssize_t n;
    int okay = in >= 0 && out >= 0;
    while (okay && (n = read(in, chunk, sizeof chunk)) > 0)
        okay = write(out, chunk, (size_t)n) == n;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return okay && rename(tmp, to) == 0 ? 0 : -1;
}

static void test_reload(mynah_host *a, mynah_host *b)
{
    char dir[] = "/tmp/test_modules_XXXXXX";
    if (mkdtemp(dir) == NULL) {
        ok(0, "temporary module directory");
        return;
    }
    char src[4200], dst[4200];
    snprintf(dst, sizeof dst, "%s/mod_test_hello.so", dir);
    snprintf(src, sizeof src, "%s/mod_test_hello.so", module_dir);
    ok(copy_file(src, dst) == 0, "a private copy of test_hello");
    const char *paths[] = {dir};
    modules_set_paths(paths, 1);

    const char *names[] = {"test_hello"};
    char *error = NULL;
    ok(modules_enable(a, names, 1, &error) == 0 &&
           modules_enable(b, names, 1, &error) == 0,
       "test_hello on two hosts");
    free(error);
    is_str(module_find("test_hello")->path, dst, "loaded from the configured path first");
    int result;
    mynah_stanza *st = fire_hello(a, &result);
    stanza_unref(st);
    st = fire_hello(a, &result);
    is_str(stanza_attr(st, "greeted"), "2", "per-host state before the reload");
    stanza_unref(st);

    trace_reset();
    error = NULL;
    is_int(module_reload("test_hello", &error), 0, "reload");
    if (error)
        printf("# %s\n", error);
    free(error);
    is_str(trace, "test_hello:remove@b.test test_hello:remove@a.test "
                  "test_hello:fini test_hello:init test_hello:add@a.test "
                  "test_hello:add@b.test",
           "removed everywhere, finished, then initialised and added again");
    st = fire_hello(a, &result);
    is_int(result, MYNAH_HANDLED, "the reloaded module handles the event");
    is_str(stanza_attr(st, "inits"), "1", "it is a fresh copy of the code");
    is_str(stanza_attr(st, "greeted"), "3",
           "whose per-host state was handed over by save and restore");
    stanza_unref(st);
    ok(host_lists_feature(a, "urn:mynah:test:hello") &&
           host_lists_feature(b, "urn:mynah:test:hello"),
       "its features are back on both hosts");
    is_int(hooks_count(a->hooks, "test/hello"), 1, "one handler, not two");

    /* A new file that cannot load: nothing changes. */
    snprintf(src, sizeof src, "%s/mod_test_badabi.so", module_dir);
    copy_file(src, dst);
    trace_reset();
    is_int(module_reload("test_hello", &error), -1, "reload of a bad file fails");
    ok(error && strstr(error, "ABI 2.0") && strstr(error, "running version is kept"),
       "and says the running version is kept");
    free(error);
    is_str(trace, "", "the running version was not touched");
    error = NULL;
    st = fire_hello(a, &result);
    is_str(stanza_attr(st, "greeted"), "4", "it still works, state intact");
    stanza_unref(st);

    /* A new file that loads but fails add_host: the old one comes back. */
    snprintf(src, sizeof src, "%s/mod_test_hello_broken.so", module_dir);
    copy_file(src, dst);
    trace_reset();
    is_int(module_reload("test_hello", &error), -1, "reload of a broken module fails");
    ok(error && strstr(error, "previous version was restored"),
       "and says the previous version was restored");
    if (error)
        printf("# %s\n", error);
    free(error);
    error = NULL;
    ok(strstr(trace, "test_hello:add-broken@") != NULL, "the new one was tried");
    st = fire_hello(a, &result);
    is_int(result, MYNAH_HANDLED, "the previous version answers again");
    is_str(stanza_attr(st, "inits"), "2", "(the same code, initialised again)");
    is_str(stanza_attr(st, "greeted"), "5", "and given its state back");
    stanza_unref(st);
    ok(host_lists_feature(b, "urn:mynah:test:hello"), "on both hosts");

    snprintf(src, sizeof src, "%s/mod_test_hello.so", module_dir);
    copy_file(src, dst);
    is_int(module_reload("test_hello", &error), 0, "a good file reloads again");
    free(error);
    error = NULL;
    is_int(module_reload("test_nothing", &error), -1, "reload of a module not loaded");
    ok(error && strstr(error, "is not loaded"), "is refused");
    free(error);

    modules_disable_all(a);
    modules_disable_all(b);
    ok(module_find("test_hello") == NULL, "closed after the reloads");
    modules_set_paths(NULL, 0);
    unlink(dst);
    rmdir(dir);
}

/* ---- built-in modules ---- */

static int builtin_added;

static int builtin_add_host(mynah_module *m, mynah_host *h)
{
    builtin_added++;
    return 0;
}

static const mynah_module_descriptor builtin_desc = {
    MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR,
    sizeof(mynah_module_descriptor), "test_builtin", "1.0",
    NULL, NULL, NULL, builtin_add_host, NULL, NULL, NULL, NULL, NULL, {0}};

static void test_builtin(mynah_host *a)
{
    char *error = NULL;
    mynah_module *m = module_register_builtin(&builtin_desc, &error);
    ok(m != NULL && m->dl_handle == NULL, "a built-in module registers");
    ok(module_register_builtin(&builtin_desc, &error) == NULL &&
           error && strstr(error, "already loaded"),
       "twice is refused");
    free(error);
    is_int(enable(a, "test_builtin", &error), 0, "it is enabled by name");
    free(error);
    is_int(builtin_added, 1, "its add_host ran");
    is_int(module_reload("test_builtin", &error), -1, "it cannot be reloaded");
    ok(error && strstr(error, "built in"), "because it is built in");
    free(error);
    module_disable(a, m);
}

/* ---- events ---- */

static void test_event_ref(mynah_host *a)
{
    mynah_session *s = session_new(MYNAH_SESSION_LOCAL, a, NULL, NULL);
    mynah_stanza *st = stanza_new("message", "jabber:client");
    char name[] = "message/bare";
    mynah_event ev = {.name = name, .host = a, .origin = s, .stanza = st};
    mynah_event *kept = event_ref(&ev);
    ok(kept != NULL && kept != &ev && kept->refs == 1, "event_ref copies a stack event");
    is_int(stanza_refcount(st), 2, "and takes a stanza reference");
    is_int(s->paused, 1, "and pauses the origin session");
    name[0] = 'X';
    is_str(event_name(kept), "message/bare", "the name is its own copy");
    ok(event_stanza(kept) == st && event_origin(kept) == s && event_host(kept) == a,
       "accessors");
    ok(event_ref(kept) == kept && kept->refs == 2, "a heap event is just counted");
    is_int(s->paused, 2, "each reference is one pause");
    event_async_done(kept);
    event_async_done(kept);
    is_int(s->paused, 0, "async_done resumes the session");
    is_int(stanza_refcount(st), 1, "and drops the stanza");
    event_async_done(&ev); /* a stack event owns nothing: no effect */
    is_int(stanza_refcount(st), 1, "async_done on a stack event does nothing");
    stanza_unref(st);
    session_unref(s);
}

/* ---- discovery registrations ---- */

static void test_host_registrations(void)
{
    mynah_host *h = host_create("disco.test", 0, NULL);
    mynah_module one = {0}, two = {0};
    one.name = "one";
    two.name = "two";
    host_add_feature(h, &one, "urn:xmpp:ping");
    host_add_feature(h, &two, "urn:xmpp:ping");
    host_add_feature(h, &one, "urn:xmpp:ping");
    host_add_feature(h, &two, "jabber:iq:version");
    ok(host_feature_at(h, 0) && strcmp(host_feature_at(h, 0), "urn:xmpp:ping") == 0 &&
           host_feature_at(h, 1) && strcmp(host_feature_at(h, 1), "jabber:iq:version") == 0 &&
           host_feature_at(h, 2) == NULL,
       "a feature two modules announce is listed once, in order");
    host_add_identity(h, &one, "server", "im", "mynah");
    host_add_identity(h, &two, "server", "im", "mynah");
    host_add_identity(h, &two, "pubsub", "pep", NULL);
    ok(host_identity_at(h, 1, NULL, NULL, NULL) == 0 &&
           host_identity_at(h, 2, NULL, NULL, NULL) < 0,
       "identities deduplicated too");
    host_remove_owner(h, &one);
    ok(host_lists_feature(h, "urn:xmpp:ping"),
       "a shared feature stays while another module announces it");
    const char *cat, *type, *name;
    ok(host_identity_at(h, 0, &cat, &type, &name) == 0 && strcmp(cat, "server") == 0,
       "so does a shared identity");
    host_remove_owner(h, &two);
    ok(host_feature_at(h, 0) == NULL && host_identity_at(h, 0, NULL, NULL, NULL) < 0,
       "gone when its last owner leaves");
    host_set_data(&one, h, &one);
    ok(host_get_data(&one, h) == NULL, "no data for a module not on the host");
    host_destroy(h);
    ok(host_find("disco.test") == NULL, "a destroyed host is gone");
}

/* ---- a module answering later stays loaded ---- */

static mynah_event *held;

static int answer_later(mynah_event *ev, void *userdata)
{
    held = event_ref(ev);
    return MYNAH_ASYNC;
}

static void test_async_holds_module(mynah_host *a)
{
    char *error;
    is_int(enable(a, "test_dep_b", &error), 0, "test_dep_b on a.test");
    free(error);
    mynah_module *m = module_find("test_dep_b");
    /* A handler owned by the module, as if its own code had hooked. */
    hooks_add(a->hooks, "test/async", answer_later, NULL, 0, m);
    mynah_stanza *st = stanza_new("iq", "jabber:client");
    mynah_event ev = {.name = "test/async", .host = a, .stanza = st};
    is_int(hooks_fire(a->hooks, "test/async", &ev), MYNAH_ASYNC, "the handler went async");
    ok(held != NULL && held->holder == m, "the kept event names its module");
    trace_reset();
    module_disable(a, m);
    is_str(trace, "test_dep_b:remove@a.test",
           "disabled while answering: removed, but not finished");
    ok(module_find("test_dep_b") == m, "still loaded");
    event_async_done(held);
    is_str(trace, "test_dep_b:remove@a.test", "not closed from inside async_done");
    run_loop(0.01);
    is_str(trace, "test_dep_b:remove@a.test test_dep_b:fini",
           "closed by the loop once the answer is done");
    stanza_unref(st);
}

/* ---- per-session module data ---- */

static int session_data_freed;

static void free_session_data(void *data)
{
    session_data_freed++;
}

static void test_session_data(mynah_host *a, mynah_host *b)
{
    char *error;
    is_int(enable(a, "test_hello", &error), 0, "test_hello on a.test");
    free(error);
    is_int(enable(b, "test_hello", &error), 0, "and on b.test");
    free(error);
    mynah_module *m = module_find("test_hello");
    mynah_session *sa = session_new(MYNAH_SESSION_LOCAL, a, NULL, NULL);
    mynah_session *sb = session_new(MYNAH_SESSION_LOCAL, b, NULL, NULL);
    session_set_module_data(m, sa, &session_data_freed, free_session_data);
    session_set_module_data(m, sb, &session_data_freed, free_session_data);
    module_disable(a, m);
    is_int(session_data_freed, 1, "leaving a host drops its data on that host's sessions");
    ok(session_get_module_data(m, sb) == &session_data_freed, "and only there");
    module_disable(b, m);
    is_int(session_data_freed, 2, "leaving the last host drops the rest");
    session_unref(sa);
    session_unref(sb);
}

/* ---- timers ---- */

static int timer_runs;

static void count_timer(mynah_timer *t, void *userdata)
{
    timer_runs++;
    timer_cancel(t); /* harmless from its own callback */
}

static void test_timers(void)
{
    mynah_timer *t1 = timer_add(NULL, NULL, 0.01, count_timer, NULL);
    mynah_timer *t2 = timer_add(NULL, NULL, 0.01, count_timer, NULL);
    ok(t1 && t2, "core timers");
    timer_cancel(t2);
    ok(timer_add(NULL, NULL, -1, count_timer, NULL) == NULL, "a negative delay is refused");
    run_loop(0.1);
    is_int(timer_runs, 1, "one fired, the cancelled one did not");
    is_int(timer_count(NULL), 0, "nothing pending");
}

static const char config_text[] =
    "hello_timer = 5\n"
    "VirtualHost \"a.test\"\n"
    "VirtualHost \"b.test\"\n"
    "  hello_greeting = \"bonjour\"\n"
    "  hello_count = 7\n"
    "  hello_loud = true\n"
    "  hello_words = { \"x\", \"y\", \"z\" }\n"
    "  hello_timer = 0.01\n";

int main(void)
{
    if (find_module_dir() < 0) {
        printf("1..0 # SKIP MYNAH_MODULE_PATH does not lead to the test modules\n");
        return 0;
    }
    server.base = event_base_new();
    server.global_hooks = hooks_new();
    hooks_add(server.global_hooks, "test-trace", on_trace, NULL, 0, NULL);
    char *error = NULL;
    server.cfg = config_load_string(config_text, "test.cfg.lua", &error);
    ok(server.cfg != NULL, "test configuration");
    if (error)
        printf("# %s\n", error);
    free(error);
    mynah_host *a = host_create("a.test", 0, NULL);
    mynah_host *b = host_create("b.test", 0, NULL);
    ok(a && b && host_find("a.test") == a && host_at(1) == b && host_count() == 2,
       "hosts by name and in order");
    ok(host_create("a.test", 0, NULL) == NULL, "a host name is unique");

    test_api_table();
    test_api_elements();
    test_host_registrations();
    test_hello_lifecycle(a);
    test_timer_fires(b);
    test_refusals(a);
    test_failed_add_host(a);
    test_dependencies(a, b);
    test_global_modules(a);
    test_exported_api(a);
    test_options(a, b);
    test_reload(a, b);
    test_builtin(a);
    test_event_ref(a);
    test_session_data(a, b);
    test_async_holds_module(a);
    test_timers();

    modules_shutdown();
    hosts_destroy_all();
    session_reap();
    hooks_free(server.global_hooks);
    server.global_hooks = NULL;
    config_free(server.cfg);
    server.cfg = NULL;
    event_base_free(server.base);
    server.base = NULL;
    return done_testing();
}
