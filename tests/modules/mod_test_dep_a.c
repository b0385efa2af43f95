/* Test module: needs test_dep_b (a hard dependency). */
#include "test_trace.h"

static const char *const depends[] = {"test_dep_b", NULL};
TEST_TRACING_MODULE("test_dep_a", depends);
