/* Test module: uses the API test_hello exports, which must keep test_hello
 * loaded for as long as this module is. */
#include <stdio.h>

#include "test_trace.h"

typedef struct hello_api {
    int (*answer)(void);
} hello_api;

static const mynah_api *api;
static const hello_api *hello;

static int init(mynah_module *m, const mynah_api *a)
{
    api = a;
    hello = api->get_api(m, "hello", 1);
    test_trace(api, "test_user", "init", NULL);
    return hello ? 0 : -1;
}

static int add_host(mynah_module *m, mynah_host *h)
{
    char what[32];
    snprintf(what, sizeof what, "answer=%d", hello->answer());
    test_trace(api, "test_user", what, h);
    return 0;
}

static void remove_host(mynah_module *m, mynah_host *h)
{
    test_trace(api, "test_user", "remove", h);
}

static void fini(mynah_module *m)
{
    test_trace(api, "test_user", "fini", NULL);
}

static const char *const depends[] = {"test_hello", NULL};

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR,
    sizeof(mynah_module_descriptor), "test_user", "1.0",
    depends, NULL, init, add_host, remove_host, NULL, fini, NULL, NULL, {0}};
