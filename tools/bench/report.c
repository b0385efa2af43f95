/*
 * The results collected while a mode runs, written once at the end.
 */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

enum section { SEC_PARAMS, SEC_RESULTS, SEC_GEN_CPU, SEC_SERVER_CPU, SEC_COUNT };
static const char *const section_names[SEC_COUNT] = {
    "params", "results", "generator_cpu", "server_cpu"};

typedef struct entry {
    enum section section;
    char *key;
    char *str;      /* NULL for a number */
    double num;
} entry;

static entry *entries;
static size_t entry_count, entry_cap;

static void add(enum section sec, const char *key, const char *str, double num)
{
    if (entry_count == entry_cap) {
        size_t cap = entry_cap ? entry_cap * 2 : 64;
        entry *e = realloc(entries, cap * sizeof *e);
        if (e == NULL)
            return;
        entries = e;
        entry_cap = cap;
    }
    entry *e = &entries[entry_count++];
    e->section = sec;
    e->key = strdup(key);
    e->str = str ? strdup(str) : NULL;
    e->num = num;
}

void report_param_str(const char *key, const char *value)
{
    add(SEC_PARAMS, key, value ? value : "", 0);
}

void report_param_num(const char *key, double value)
{
    add(SEC_PARAMS, key, NULL, value);
}

void report_result_num(const char *key, double value)
{
    add(SEC_RESULTS, key, NULL, value);
}

void report_result_str(const char *key, const char *value)
{
    add(SEC_RESULTS, key, value ? value : "", 0);
}

/* ---- probes ---- */

void cpu_sample_take(cpu_sample *s)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    s->t_ns = now_ns();
    s->self_user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    s->self_sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    s->server_ok = 0;
    if (opt.server_pid <= 0)
        return;
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name may hold spaces: count fields after its ')'.
     * utime and stime are fields 14 and 15 (proc(5)). */
    char *p = strrchr(line, ')');
    if (p == NULL)
        return;
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &utime, &stime) != 2)
        return;
    double tick = (double)sysconf(_SC_CLK_TCK);
    s->server_user = (double)utime / tick;
    s->server_sys = (double)stime / tick;
    s->server_ok = 1;
}

long server_rss_kib(void)
{
    if (opt.server_pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

void report_cpu(const cpu_sample *from, const cpu_sample *to)
{
    double wall = (double)(to->t_ns - from->t_ns) / 1e9;
    double user = to->self_user - from->self_user;
    double sys = to->self_sys - from->self_sys;
    add(SEC_GEN_CPU, "wall_s", NULL, wall);
    add(SEC_GEN_CPU, "user_s", NULL, user);
    add(SEC_GEN_CPU, "sys_s", NULL, sys);
    add(SEC_GEN_CPU, "utilization", NULL, wall > 0 ? (user + sys) / wall : 0);
    if (from->server_ok && to->server_ok) {
        user = to->server_user - from->server_user;
        sys = to->server_sys - from->server_sys;
        add(SEC_SERVER_CPU, "user_s", NULL, user);
        add(SEC_SERVER_CPU, "sys_s", NULL, sys);
        add(SEC_SERVER_CPU, "utilization", NULL, wall > 0 ? (user + sys) / wall : 0);
    }
}

/* ---- output ---- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void format_number(char *out, size_t cap, double v)
{
    if (!isfinite(v))
        snprintf(out, cap, "null");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, cap, "%.0f", v);
    else
        snprintf(out, cap, "%.3f", v);
}

void report_emit(void)
{
    char num[64];
    printf("{\"mode\":");
    json_string(stdout, opt.mode);
    printf(",\"label\":");
    json_string(stdout, opt.label);
    for (int sec = 0; sec < SEC_COUNT; sec++) {
        int first = 1, any = 0;
        for (size_t i = 0; i < entry_count; i++)
            any |= (int)entries[i].section == sec;
        printf(",\"%s\":", section_names[sec]);
        if (!any) {
            printf("null");
            continue;
        }
        printf("{");
        for (size_t i = 0; i < entry_count; i++) {
            entry *e = &entries[i];
            if ((int)e->section != sec)
                continue;
            if (!first)
                printf(",");
            first = 0;
            json_string(stdout, e->key);
            printf(":");
            if (e->str) {
                json_string(stdout, e->str);
            } else {
                format_number(num, sizeof num, e->num);
                printf("%s", num);
            }
        }
        printf("}");
    }
    printf("}\n");
    fflush(stdout);

    fprintf(stderr, "\n== mynah-bench %s against %s ==\n", opt.mode, opt.label);
    for (int sec = 0; sec < SEC_COUNT; sec++) {
        int header = 0;
        for (size_t i = 0; i < entry_count; i++) {
            entry *e = &entries[i];
            if ((int)e->section != sec)
                continue;
            if (!header)
                fprintf(stderr, "%s:\n", section_names[sec]);
            header = 1;
            if (e->str) {
                fprintf(stderr, "  %-34s %s\n", e->key, e->str);
            } else {
                format_number(num, sizeof num, e->num);
                fprintf(stderr, "  %-34s %s\n", e->key, num);
            }
        }
    }
    for (size_t i = 0; i < entry_count; i++) {
        free(entries[i].key);
        free(entries[i].str);
    }
    free(entries);
    entries = NULL;
    entry_count = entry_cap = 0;
}
