/*
 * Shared by the test modules: report a lifecycle step to the test program.
 *
 * A module cannot call into the test binary (it sees only the function
 * table), so it fires "test-trace" on the global bus with a small stanza
 * <trace module="..." what="..." host="..."/>; test_modules.c listens.
 */
#ifndef MYNAH_TEST_TRACE_H
#define MYNAH_TEST_TRACE_H

#include <mynah/mynah.h>

static inline void test_trace(const mynah_api *api, const char *module,
                              const char *what, mynah_host *host)
{
    mynah_stanza *st = api->stanza_new("trace", "urn:mynah:test");
    if (st == NULL)
        return;
    mynah_element *root = api->stanza_root(st);
    api->element_set_attr(root, "module", module);
    api->element_set_attr(root, "what", what);
    if (host != NULL)
        api->element_set_attr(root, "host", api->host_name(host));
    api->fire(NULL, "test-trace", st, NULL);
    api->stanza_unref(st);
}

/* A module whose only job is to report its lifecycle. */
#define TEST_TRACING_MODULE(NAME, DEPENDS)                                    \
    static const mynah_api *api;                                              \
    static int init(mynah_module *m, const mynah_api *a)                      \
    {                                                                         \
        api = a;                                                              \
        test_trace(api, NAME, "init", NULL);                                  \
        return 0;                                                             \
    }                                                                         \
    static int add_host(mynah_module *m, mynah_host *h)                       \
    {                                                                         \
        test_trace(api, NAME, "add", h);                                      \
        return 0;                                                             \
    }                                                                         \
    static void remove_host(mynah_module *m, mynah_host *h)                   \
    {                                                                         \
        test_trace(api, NAME, "remove", h);                                   \
    }                                                                         \
    static void fini(mynah_module *m)                                         \
    {                                                                         \
        test_trace(api, NAME, "fini", NULL);                                  \
    }                                                                         \
    MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {     \
        MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR,                 \
        sizeof(mynah_module_descriptor), NAME, "1.0", DEPENDS, NULL,          \
        init, add_host, remove_host, NULL, fini, {0}}

#endif
