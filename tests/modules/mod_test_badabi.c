/* Test module: built for a future major ABI; the loader must refuse it
 * before calling anything. */
#include <mynah/mynah.h>

static int init(mynah_module *m, const mynah_api *a)
{
    return 0;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR + 1, 0,
    sizeof(mynah_module_descriptor), "test_badabi", "1.0",
    NULL, NULL, init, NULL, NULL, NULL, NULL, NULL, NULL, {0}};
