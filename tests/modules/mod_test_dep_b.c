/* Test module: a dependency of test_dep_a and test_soft. */
#include "test_trace.h"

TEST_TRACING_MODULE("test_dep_b", NULL);
