/* ringd-bench's latency histogram: HDR-style log-linear buckets over microseconds in a fixed
 * array, so recording is O(1), never allocates, and percentiles are exact below 2048 µs and
 * within 0.1% above (RBENCH_HIST_SUB_BITS). Latencies over RBENCH_HIST_VALUE_US_MAX count as
 * that value (and in `clamped`). Min, max and the sum are kept exactly.
 *
 * Layout: values below 2^(SUB_BITS+1) have a bucket each; above, each power of two [2^m,
 * 2^(m+1)) is split into 2^SUB_BITS equal buckets.
 *
 * Thread: a histogram belongs to one thread; merge copies, it does not share. */
#ifndef RINGD_BENCH_HIST_H
#define RINGD_BENCH_HIST_H

#include <assert.h>
#include <stdint.h>

#include "ringd_limits.h"

#define RBENCH_HIST_SUB_BUCKETS (1u << RBENCH_HIST_SUB_BITS)
#define RBENCH_HIST_LINEAR      (2u * RBENCH_HIST_SUB_BUCKETS) /* values with a bucket each */
/* Powers of two above the linear part up to the largest value, times the buckets in each. */
#define RBENCH_HIST_BUCKETS                                                                      \
    (RBENCH_HIST_LINEAR +                                                                        \
     (64u - (uint32_t)__builtin_clzll(RBENCH_HIST_VALUE_US_MAX) - (RBENCH_HIST_SUB_BITS + 1u)) * \
         RBENCH_HIST_SUB_BUCKETS)

struct rbench_hist {
    uint64_t count;   /* values recorded */
    uint64_t sum_us;  /* their sum (after clamping) */
    uint64_t min_us;  /* UINT64_MAX while empty */
    uint64_t max_us;  /* 0 while empty */
    uint64_t clamped; /* values over RBENCH_HIST_VALUE_US_MAX, counted as it */
    uint64_t counts[RBENCH_HIST_BUCKETS];
};

/* What a report prints of a histogram; all zero for an empty one. */
struct rbench_hist_summary {
    uint64_t count;
    uint64_t min_us;
    double mean_us;
    uint64_t p50_us, p90_us, p99_us, p999_us;
    uint64_t max_us;
};

/* Empties h. */
void rbench_hist_reset(struct rbench_hist *h);

/* Records one latency. */
void rbench_hist_record(struct rbench_hist *h, uint64_t value_us);

/* Records count samples of one latency at once (for reading a CSV back). */
void rbench_hist_record_n(struct rbench_hist *h, uint64_t value_us, uint64_t count);

/* Adds every sample of from to into. */
void rbench_hist_merge(struct rbench_hist *into, const struct rbench_hist *from);

/* The smallest recorded value v such that at least percent% (0..100) of the samples are <= v,
 * as the highest value of v's bucket, kept within [min, max]. 0 for an empty histogram. */
uint64_t rbench_hist_percentile(const struct rbench_hist *h, double percent);

/* The arithmetic mean; 0 for an empty histogram. */
double rbench_hist_mean(const struct rbench_hist *h);

void rbench_hist_summarize(const struct rbench_hist *h, struct rbench_hist_summary *out);

/* The bucket a value falls in, and the lowest and highest values of a bucket (exposed for the
 * CSV writer and the tests). */
uint32_t rbench_hist_bucket(uint64_t value_us);
uint64_t rbench_hist_bucket_low(uint32_t bucket);
uint64_t rbench_hist_bucket_high(uint32_t bucket);

#endif
