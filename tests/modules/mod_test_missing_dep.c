/* Test module: needs a module that does not exist. */
#include "test_trace.h"

static const char *const depends[] = {"test_dep_b", "test_nonexistent", NULL};
TEST_TRACING_MODULE("test_missing_dep", depends);
