/* Test module: built against a newer minor ABI than this core's, so it may
 * call functions the core lacks; the loader must refuse it. */
#include <mynah/mynah.h>

static int init(mynah_module *m, const mynah_api *a)
{
    return 0;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR + 1,
    sizeof(mynah_module_descriptor), "test_newer_minor", "1.0",
    NULL, NULL, init, NULL, NULL, NULL, NULL, NULL, NULL, {0}};
