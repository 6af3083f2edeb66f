/* ringd-bench's fixed-memory latency histogram (see ringd_bench_hist.h). */
#include "ringd_bench_hist.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "ringd_assert.h"

static_assert(RBENCH_HIST_VALUE_US_MAX >= RBENCH_HIST_LINEAR, "a log part exists");
static_assert(RBENCH_HIST_BUCKETS < UINT32_MAX, "bucket indexes are 32-bit");

void rbench_hist_reset(struct rbench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

uint32_t rbench_hist_bucket(uint64_t value_us)
{
    if (value_us > RBENCH_HIST_VALUE_US_MAX)
        value_us = RBENCH_HIST_VALUE_US_MAX;
    if (value_us < RBENCH_HIST_LINEAR)
        return (uint32_t)value_us;
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(value_us); /* >= SUB_BITS + 1 */
    uint32_t shift = msb - RBENCH_HIST_SUB_BITS;
    uint32_t sub = (uint32_t)(value_us >> shift); /* in [SUB_BUCKETS, 2 * SUB_BUCKETS) */
    uint32_t bucket = RBENCH_HIST_LINEAR +
                      (msb - RBENCH_HIST_SUB_BITS - 1u) * RBENCH_HIST_SUB_BUCKETS +
                      (sub - RBENCH_HIST_SUB_BUCKETS);
    ASSERT(bucket < RBENCH_HIST_BUCKETS);
    return bucket;
}

uint64_t rbench_hist_bucket_low(uint32_t bucket)
{
    ASSERT(bucket < RBENCH_HIST_BUCKETS);
    if (bucket < RBENCH_HIST_LINEAR)
        return bucket;
    uint32_t above = bucket - RBENCH_HIST_LINEAR;
    uint32_t shift = above / RBENCH_HIST_SUB_BUCKETS + 1u;
    uint64_t sub = RBENCH_HIST_SUB_BUCKETS + above % RBENCH_HIST_SUB_BUCKETS;
    return sub << shift;
}

uint64_t rbench_hist_bucket_high(uint32_t bucket)
{
    ASSERT(bucket < RBENCH_HIST_BUCKETS);
    if (bucket < RBENCH_HIST_LINEAR)
        return bucket;
    uint32_t shift = (bucket - RBENCH_HIST_LINEAR) / RBENCH_HIST_SUB_BUCKETS + 1u;
    return rbench_hist_bucket_low(bucket) + (1ull << shift) - 1u;
}

void rbench_hist_record_n(struct rbench_hist *h, uint64_t value_us, uint64_t count)
{
    if (count == 0)
        return;
    if (value_us > RBENCH_HIST_VALUE_US_MAX) {
        value_us = RBENCH_HIST_VALUE_US_MAX;
        h->clamped += count;
    }
    h->counts[rbench_hist_bucket(value_us)] += count;
    h->count += count;
    h->sum_us += value_us * count;
    if (value_us < h->min_us)
        h->min_us = value_us;
    if (value_us > h->max_us)
        h->max_us = value_us;
}

void rbench_hist_record(struct rbench_hist *h, uint64_t value_us)
{
    rbench_hist_record_n(h, value_us, 1);
}

void rbench_hist_merge(struct rbench_hist *into, const struct rbench_hist *from)
{
    ASSERT(into != from);
    if (from->count == 0)
        return;
    for (uint32_t b = 0; b < RBENCH_HIST_BUCKETS; b++)
        into->counts[b] += from->counts[b];
    into->count += from->count;
    into->sum_us += from->sum_us;
    into->clamped += from->clamped;
    if (from->min_us < into->min_us)
        into->min_us = from->min_us;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

uint64_t rbench_hist_percentile(const struct rbench_hist *h, double percent)
{
    if (h->count == 0)
        return 0;
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    /* The rank of the sample asked for, 1-based; the relative slack keeps 99.9% of 1000
     * samples at rank 999 although 99.9 / 100 * 1000 is a hair over 999 in binary. */
    double exact = percent / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)ceil(exact - exact * 1e-12);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < RBENCH_HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= rank) {
            uint64_t v = rbench_hist_bucket_high(b);
            v = v > h->max_us ? h->max_us : v;
            return v < h->min_us ? h->min_us : v;
        }
    }
    ASSERT(false); /* the counts add up to count */
    return h->max_us;
}

double rbench_hist_mean(const struct rbench_hist *h)
{
    return h->count == 0 ? 0.0 : (double)h->sum_us / (double)h->count;
}

void rbench_hist_summarize(const struct rbench_hist *h, struct rbench_hist_summary *out)
{
    *out = (struct rbench_hist_summary){0};
    if (h->count == 0)
        return;
    out->count = h->count;
    out->min_us = h->min_us;
    out->mean_us = rbench_hist_mean(h);
    out->p50_us = rbench_hist_percentile(h, 50);
    out->p90_us = rbench_hist_percentile(h, 90);
    out->p99_us = rbench_hist_percentile(h, 99);
    out->p999_us = rbench_hist_percentile(h, 99.9);
    out->max_us = h->max_us;
    ASSERT(out->p50_us <= out->p90_us && out->p90_us <= out->p99_us);
}
