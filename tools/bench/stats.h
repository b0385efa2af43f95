/*
 * Latency histograms: exact to the microsecond below 2 ms, then 1024
 * sub-buckets per power of two (0.1 % precision) up to days.
 */
#ifndef MYNAH_BENCH_STATS_H
#define MYNAH_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct histogram {
    uint64_t *counts;
    uint64_t total;
    uint64_t min, max;  /* microseconds */
    double sum;
} histogram;

int hist_init(histogram *h);
void hist_free(histogram *h);
void hist_add(histogram *h, uint64_t us);
/* The p-th percentile (0 < p <= 100) in microseconds; 0 when empty. */
uint64_t hist_percentile(const histogram *h, double p);
double hist_mean(const histogram *h);

#endif
