/* Test module: goes after test_dep_b when that is enabled too, and does not
 * pull it in otherwise (a soft dependency). */
#include "test_trace.h"

static const char *const depends[] = {"?test_dep_b", NULL};
TEST_TRACING_MODULE("test_soft", depends);
