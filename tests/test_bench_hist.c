/* ringd-bench's latency histogram: percentiles of known inputs, exactness below 2048 µs, the
 * 0.1% bound above, bucket boundaries, clamping, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>

#include "ringd_bench_hist.h"

static struct rbench_hist *hist_new(void)
{
    struct rbench_hist *h = malloc(sizeof(*h));
    assert_non_null(h);
    rbench_hist_reset(h);
    return h;
}

static void test_empty(void **state)
{
    (void)state;
    struct rbench_hist *h = hist_new();
    assert_int_equal(rbench_hist_percentile(h, 50), 0);
    assert_int_equal(rbench_hist_percentile(h, 100), 0);
    struct rbench_hist_summary s;
    rbench_hist_summarize(h, &s);
    assert_int_equal(s.count, 0);
    assert_int_equal(s.max_us, 0);
    assert_true(s.mean_us == 0.0);
    free(h);
}

/* 1..1000 once each: the n-th percentile is 10 n, exactly, because values below 2048 have a
 * bucket each. */
static void test_uniform_1_to_1000(void **state)
{
    (void)state;
    struct rbench_hist *h = hist_new();
    for (uint64_t v = 1000; v >= 1; v--)
        rbench_hist_record(h, v);
    struct rbench_hist_summary s;
    rbench_hist_summarize(h, &s);
    assert_int_equal(s.count, 1000);
    assert_int_equal(s.min_us, 1);
    assert_int_equal(s.max_us, 1000);
    assert_true(s.mean_us > 500.49 && s.mean_us < 500.51);
    assert_int_equal(s.p50_us, 500);
    assert_int_equal(s.p90_us, 900);
    assert_int_equal(s.p99_us, 990);
    assert_int_equal(s.p999_us, 999);
    assert_int_equal(rbench_hist_percentile(h, 0), 1);
    assert_int_equal(rbench_hist_percentile(h, 0.1), 1);
    assert_int_equal(rbench_hist_percentile(h, 100), 1000);
    assert_int_equal(rbench_hist_percentile(h, 50.05), 501);
    free(h);
}

/* A bimodal set: 990 fast answers and 10 stalls; p99 sees only the fast ones, p99.1 a stall. */
static void test_bimodal_tail(void **state)
{
    (void)state;
    struct rbench_hist *h = hist_new();
    rbench_hist_record_n(h, 100, 990);
    rbench_hist_record_n(h, 50000, 10);
    assert_int_equal(rbench_hist_percentile(h, 50), 100);
    assert_int_equal(rbench_hist_percentile(h, 99), 100);
    assert_int_equal(rbench_hist_percentile(h, 99.1), 50000); /* bucket top, held to max */
    assert_int_equal(rbench_hist_percentile(h, 99.9), 50000);
    struct rbench_hist_summary s;
    rbench_hist_summarize(h, &s);
    assert_true(s.mean_us > 598.99 && s.mean_us < 599.01); /* (990*100 + 10*50000) / 1000 */
    free(h);
}

/* Above the linear part a percentile is the top of its bucket: at most 0.1% high. */
static void test_relative_error_bound(void **state)
{
    (void)state;
    struct rbench_hist *h = hist_new();
    const uint64_t values[] = {2048, 3001, 65537, 999999, 1234567, 60000000};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        rbench_hist_reset(h);
        rbench_hist_record(h, 1);
        rbench_hist_record(h, values[i]);
        rbench_hist_record(h, RBENCH_HIST_VALUE_US_MAX);
        uint64_t p = rbench_hist_percentile(h, 50); /* the middle value's bucket top */
        assert_true(p >= values[i]);
        assert_true((double)(p - values[i]) <= (double)values[i] / RBENCH_HIST_SUB_BUCKETS);
    }
    free(h);
}

static void test_bucket_boundaries(void **state)
{
    (void)state;
    assert_int_equal(rbench_hist_bucket(0), 0);
    assert_int_equal(rbench_hist_bucket(2047), 2047);
    assert_int_equal(rbench_hist_bucket(2048), 2048);
    assert_int_equal(rbench_hist_bucket(2049), 2048); /* 2048 and 2049 share a 2-wide bucket */
    assert_int_equal(rbench_hist_bucket(2050), 2049);
    assert_int_equal(rbench_hist_bucket(RBENCH_HIST_VALUE_US_MAX), RBENCH_HIST_BUCKETS - 1);
    assert_int_equal(rbench_hist_bucket(UINT64_MAX), RBENCH_HIST_BUCKETS - 1);
    /* Buckets tile the range: each starts one past the previous one's end. */
    for (uint32_t b = 1; b < RBENCH_HIST_BUCKETS; b++) {
        assert_int_equal(rbench_hist_bucket_low(b), rbench_hist_bucket_high(b - 1) + 1);
        assert_int_equal(rbench_hist_bucket(rbench_hist_bucket_low(b)), b);
        assert_int_equal(rbench_hist_bucket(rbench_hist_bucket_high(b)), b);
    }
    assert_int_equal(rbench_hist_bucket_high(RBENCH_HIST_BUCKETS - 1), RBENCH_HIST_VALUE_US_MAX);
}

static void test_clamp(void **state)
{
    (void)state;
    struct rbench_hist *h = hist_new();
    rbench_hist_record(h, 10);
    rbench_hist_record(h, RBENCH_HIST_VALUE_US_MAX + 5);
    assert_int_equal(h->clamped, 1);
    assert_int_equal(h->max_us, RBENCH_HIST_VALUE_US_MAX);
    assert_int_equal(rbench_hist_percentile(h, 100), RBENCH_HIST_VALUE_US_MAX);
    assert_int_equal(rbench_hist_percentile(h, 50), 10);
    free(h);
}

static void test_merge(void **state)
{
    (void)state;
    struct rbench_hist *all = hist_new(), *low = hist_new(), *high = hist_new();
    for (uint64_t v = 1; v <= 5000; v++) {
        rbench_hist_record(all, v * 7);
        rbench_hist_record(v <= 2500 ? low : high, v * 7);
    }
    rbench_hist_merge(low, high);
    assert_int_equal(low->count, all->count);
    assert_int_equal(low->sum_us, all->sum_us);
    assert_int_equal(low->min_us, 7);
    assert_int_equal(low->max_us, 35000);
    const double ps[] = {0, 25, 50, 90, 99, 99.9, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        assert_int_equal(rbench_hist_percentile(low, ps[i]), rbench_hist_percentile(all, ps[i]));
    free(all);
    free(low);
    free(high);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_uniform_1_to_1000),
        cmocka_unit_test(test_bimodal_tail),
        cmocka_unit_test(test_relative_error_bound),
        cmocka_unit_test(test_bucket_boundaries),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
