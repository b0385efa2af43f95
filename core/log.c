#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static int log_min_level = MYNAH_LOG_INFO;
static FILE *log_file; /* NULL = stderr */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_enabled(int level)
{
    return level >= log_min_level;
}

void log_set_level(int level)
{
    log_min_level = level;
}

int log_level_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    if (strcasecmp(name, "warning") == 0)
        return MYNAH_LOG_WARN;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int log_open(const char *path, int min_level)
{
    log_close();
    log_min_level = min_level;
    if (path == NULL)
        return 0;
    log_file = fopen(path, "a");
    if (log_file == NULL)
        return -1;
    setvbuf(log_file, NULL, _IOLBF, 0);
    return 0;
}

void log_close(void)
{
    if (log_file != NULL)
        fclose(log_file);
    log_file = NULL;
}

void log_vmsg(int level, const char *who, const char *fmt, va_list ap)
{
    if (level < log_min_level)
        return;
    if (level < 0 || level > MYNAH_LOG_ERROR)
        level = MYNAH_LOG_ERROR;
    FILE *out = log_file ? log_file : stderr;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf per part keeps this simple; lines stay whole because
     * the server is single-threaded. */
    fprintf(out, "%s.%03ldZ %-5s %s: ", stamp, (long)(tv.tv_usec / 1000),
            level_names[level], who ? who : "mynahd");
    vfprintf(out, fmt, ap);
    fputc('\n', out);
}

void log_msg(int level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}
