/*
 * What a run reports: one JSON object on stdout (params, results, the
 * generator's and the server's CPU time over the measured interval) and
 * the same as a readable table on stderr.  Also the probes of the server
 * process (/proc/PID/status VmRSS, /proc/PID/stat CPU times).
 */
#ifndef MYNAH_BENCH_REPORT_H
#define MYNAH_BENCH_REPORT_H

#include <stdint.h>

typedef struct cpu_sample {
    uint64_t t_ns;
    double self_user, self_sys;       /* seconds, getrusage(RUSAGE_SELF) */
    double server_user, server_sys;   /* seconds, /proc/PID/stat */
    int server_ok;
} cpu_sample;

void cpu_sample_take(cpu_sample *s);

/* The server's resident set in KiB, or -1 (no --server-pid, or gone). */
long server_rss_kib(void);

void report_param_str(const char *key, const char *value);
void report_param_num(const char *key, double value);
void report_result_num(const char *key, double value);
void report_result_str(const char *key, const char *value);
/* CPU time of both sides between two samples (the measured interval). */
void report_cpu(const cpu_sample *from, const cpu_sample *to);

/* Writes the JSON object and the table, then forgets the entries. */
void report_emit(void);

#endif
