/* Test module: half of a dependency cycle (with test_cycle_y). */
#include "test_trace.h"

static const char *const depends[] = {"test_cycle_y", NULL};
TEST_TRACING_MODULE("test_cycle_x", depends);
