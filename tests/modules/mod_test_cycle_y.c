/* Test module: the other half of the cycle. */
#include "test_trace.h"

static const char *const depends[] = {"test_cycle_x", NULL};
TEST_TRACING_MODULE("test_cycle_y", depends);
