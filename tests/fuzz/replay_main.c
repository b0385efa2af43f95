/*
 * A plain main() for libFuzzer targets, so that `make check` can replay
 * saved inputs with an ordinary (or sanitizer) build, without clang.
 *
 *   replay_<target> DIR|FILE...
 *
 * feeds every regular file (dotfiles skipped) to LLVMFuzzerTestOneInput and
 * prints one TAP line per input.  With no arguments it replays
 * $MYNAH_SRCDIR/tests/fuzz/crashers/<target>/ and .../seeds/<target>/, where
 * <target> is its own name without "replay_" (so "replay_fuzz_jid" finds
 * tests/fuzz/seeds/fuzz_jid).  A crash is the failure: the process dies and
 * the TAP driver reports it; an input that returns normally passes.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replayed;

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *bytes = malloc(cap);
    while (bytes != NULL) {
        size_t n = fread(bytes + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
        if (len == cap) {
            uint8_t *bigger = realloc(bytes, cap * 2);
            if (bigger == NULL) {
                free(bytes);
                bytes = NULL;
                break;
            }
            bytes = bigger;
            cap *= 2;
        }
    }
    int failed = ferror(f) || bytes == NULL;
    fclose(f);
    if (failed) {
        free(bytes);
        return -1;
    }
    *data = bytes;
    *size = len;
    return 0;
}

static void replay_file(const char *path)
{
    uint8_t *data;
    size_t size;
    replayed++;
    if (read_file(path, &data, &size) < 0) {
        printf("not ok %d - cannot read %s\n", replayed, path);
        return;
    }
    printf("# %s (%zu bytes)\n", path, size);
    fflush(stdout); /* so that a crash shows which input it was */
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    printf("ok %d - %s\n", replayed, path);
    fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays a directory's files in name order (stable output). */
static void replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, cap * sizeof *names);
            if (bigger == NULL)
                break;
            names = bigger;
        }
        names[count] = strdup(e->d_name);
        if (names[count] != NULL)
            count++;
    }
    closedir(d);
    if (count > 1)
        qsort(names, count, sizeof *names, by_name);
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (path != NULL) {
            snprintf(path, len, "%s/%s", dir, names[i]);
            struct stat sb;
            if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
                replay_file(path);
            free(path);
        }
        free(names[i]);
    }
    free(names);
}

static void replay_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        replayed++;
        printf("not ok %d - %s does not exist\n", replayed, path);
    } else if (S_ISDIR(sb.st_mode)) {
        replay_dir(path);
    } else {
        replay_file(path);
    }
}

/* The default directories, from the program's own name. */
static void replay_defaults(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    if (strncmp(base, "lt-", 3) == 0) /* libtool wrapper */
        base += 3;
    if (strncmp(base, "replay_", 7) == 0)
        base += 7;
    const char *srcdir = getenv("MYNAH_SRCDIR");
    if (srcdir == NULL)
        srcdir = ".";
    const char *kinds[] = {"crashers", "seeds"};
    for (size_t i = 0; i < 2; i++) {
        size_t len = strlen(srcdir) + strlen(base) + 32;
        char *dir = malloc(len);
        if (dir == NULL)
            continue;
        snprintf(dir, len, "%s/tests/fuzz/%s/%s", srcdir, kinds[i], base);
        replay_dir(dir);
        free(dir);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            replay_path(argv[i]);
    else
        replay_defaults(argv[0]);
    if (replayed == 0)
        printf("1..0 # SKIP no inputs found\n");
    else
        printf("1..%d\n", replayed);
    return 0;
}
