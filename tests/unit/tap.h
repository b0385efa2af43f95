/*
 * A tiny TAP producer for the unit tests (automake's tap-driver reads it).
 *
 *   ok(cond, "what is true");
 *   is_str(got, "want", "what");  is_int(got, want, "what");
 *   return done_testing();
 */
#ifndef MYNAH_TAP_H
#define MYNAH_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *what)
{
    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, what);
    if (!cond)
        printf("#   failed at %s:%d\n", file, line);
    fflush(stdout);
    return cond;
}

static inline int tap_is_str(const char *got, const char *want,
                             const char *file, int line, const char *what)
{
    int same = (got == NULL && want == NULL) ||
               (got != NULL && want != NULL && strcmp(got, want) == 0);
    tap_ok(same, file, line, what);
    if (!same)
        printf("#   got:  %s%s%s\n#   want: %s%s%s\n", got ? "'" : "",
               got ? got : "NULL", got ? "'" : "", want ? "'" : "",
               want ? want : "NULL", want ? "'" : "");
    return same;
}

static inline int tap_is_int(long long got, long long want, const char *file,
                             int line, const char *what)
{
    tap_ok(got == want, file, line, what);
    if (got != want)
        printf("#   got:  %lld\n#   want: %lld\n", got, want);
    return got == want;
}

#define ok(cond, what) tap_ok(!!(cond), __FILE__, __LINE__, (what))
#define is_str(got, want, what) tap_is_str((got), (want), __FILE__, __LINE__, (what))
#define is_int(got, want, what) tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, (what))

static inline int done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
