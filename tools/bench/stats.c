/*
 * The bucket of v: v itself below 2048; above, the power of two and the
 * top ten bits under the leading one (HdrHistogram's idea, simplified).
 */
#include "stats.h"

#include <stdlib.h>

#define LINEAR 2048
#define SUB_BITS 10
#define SUB (1u << SUB_BITS)
#define MAX_MSB 40
#define BUCKETS (LINEAR + (MAX_MSB - 10) * SUB)

static size_t bucket_of(uint64_t v)
{
    if (v < LINEAR)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    if (msb > MAX_MSB) {
        msb = MAX_MSB;
        v = (2ULL << MAX_MSB) - 1;
    }
    int shift = msb - SUB_BITS;
    size_t sub = (size_t)(v >> shift) - SUB;
    return LINEAR + (size_t)(msb - SUB_BITS - 1) * SUB + sub;
}

/* The middle of bucket i. */
static uint64_t value_of(size_t i)
{
    if (i < LINEAR)
        return i;
    size_t k = i - LINEAR;
    int shift = (int)(k / SUB) + 1;
    uint64_t low = (uint64_t)(SUB + k % SUB) << shift;
    return low + (1ULL << shift) / 2;
}

int hist_init(histogram *h)
{
    h->counts = calloc(BUCKETS, sizeof *h->counts);
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum = 0;
    return h->counts ? 0 : -1;
}

void hist_free(histogram *h)
{
    free(h->counts);
    h->counts = NULL;
}

void hist_add(histogram *h, uint64_t us)
{
    h->counts[bucket_of(us)]++;
    h->total++;
    h->sum += (double)us;
    if (us < h->min)
        h->min = us;
    if (us > h->max)
        h->max = us;
}

uint64_t hist_percentile(const histogram *h, double p)
{
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)((double)h->total * p / 100.0 + 0.999999);
    if (want == 0)
        want = 1;
    if (want >= h->total)
        return h->max; /* exact, not a bucket's middle */
    uint64_t seen = 0;
    for (size_t i = 0; i < BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t v = value_of(i);
            return v > h->max ? h->max : v < h->min ? h->min : v;
        }
    }
    return h->max;
}

double hist_mean(const histogram *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
