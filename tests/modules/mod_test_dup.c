/* Test module: its descriptor claims another module's name. */
#include "test_trace.h"

TEST_TRACING_MODULE("test_hello", NULL);
