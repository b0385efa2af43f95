/* Test module: registers a hook and a feature, then refuses the host.  The
 * loader must undo both and leave the host as it was. */
#include "test_trace.h"

static const mynah_api *api;

static int on_anything(mynah_event *ev, void *userdata)
{
    return MYNAH_HANDLED;
}

static int init(mynah_module *m, const mynah_api *a)
{
    api = a;
    test_trace(api, "test_failhost", "init", NULL);
    return 0;
}

static int add_host(mynah_module *m, mynah_host *h)
{
    api->hook(m, h, "test/hello", on_anything, NULL, MYNAH_PRIORITY_FIRST);
    api->add_feature(m, h, "urn:mynah:test:failhost");
    test_trace(api, "test_failhost", "add", h);
    return -1;
}

static void remove_host(mynah_module *m, mynah_host *h)
{
    test_trace(api, "test_failhost", "remove", h);
}

static void fini(mynah_module *m)
{
    test_trace(api, "test_failhost", "fini", NULL);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR,
    sizeof(mynah_module_descriptor), "test_failhost", "1.0",
    NULL, NULL, init, add_host, remove_host, NULL, fini, NULL, NULL, {0}};
