/* Measures memcpy throughput, and in doing so proves the benchmark harness: every function of
 * bench_harness.h is used here, and the harness's own promises (an exact iteration count, the
 * start barrier for threads) are asserted. The numbers are memcpy's, not ringd's.
 *
 * With RINGD_BENCH_SELFTEST_SKIP set in the environment it also registers a benchmark that
 * fails with bench_skip_with_error, to show that the error reaches the report and the exit
 * status. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_harness.h"
#include "ringd_assert.h"

#define SELFTEST_FIXED_ITERATIONS 1000

struct buffers {
    char *src;
    char *dst;
};

/* Cache-line aligned source and destination of len bytes; false when memory ran out. */
static bool buffers_alloc(struct buffers *b, size_t len)
{
    ASSERT(len > 0);
    size_t rounded = (len + 63) / 64 * 64;
    b->src = aligned_alloc(64, rounded);
    b->dst = aligned_alloc(64, rounded);
    if (b->src == NULL || b->dst == NULL) {
        free(b->src);
        free(b->dst);
        return false;
    }
    memset(b->src, 0x5a, len);
    memset(b->dst, 0, len);
    return true;
}

static void buffers_free(struct buffers *b)
{
    free(b->src);
    free(b->dst);
}

/* Copies len bytes n times; the escape keeps every copy from being optimised away. */
static void copy_n(struct buffers *b, size_t len, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        memcpy(b->dst, b->src, len);
        BENCH_DO_NOT_OPTIMIZE(b->dst);
    }
}

/* Reports bytes and copies per second, and the bytes of one copy as a per-iteration mean. */
static void report_copies(struct bench_state *s, size_t len)
{
    uint64_t copies = bench_iterations(s);
    bench_set_items_processed(s, (int64_t)copies);
    bench_set_bytes_processed(s, (int64_t)(copies * len));
    bench_set_counter(s, "bytes_per_copy", (double)(copies * len), BENCH_COUNTER_PER_ITERATION);
}

/* memcpy of range(0) bytes, the whole run as one batch. */
static void bm_memcpy(struct bench_state *s)
{
    size_t len = (size_t)bench_range(s, 0);
    struct buffers b;
    if (!buffers_alloc(&b, len)) {
        bench_skip_with_error(s, "out of memory");
        return;
    }
    uint64_t n;
    while ((n = bench_next_batch(s, 0)) > 0) {
        copy_n(&b, len, n);
    }
    report_copies(s, len);
    bench_set_label(s, "aligned");
    buffers_free(&b);
}

/* memcpy of range(0) bytes in batches of range(1), refilling the source between batches with
 * the clock paused: the refill must not show in the time. */
static void bm_memcpy_refill(struct bench_state *s)
{
    size_t len = (size_t)bench_range(s, 0);
    uint64_t batch_max = (uint64_t)bench_range(s, 1);
    struct buffers b;
    if (!buffers_alloc(&b, len)) {
        bench_skip_with_error(s, "out of memory");
        return;
    }
    uint64_t n;
    uint64_t batches = 0;
    uint64_t handed_out = 0;
    while ((n = bench_next_batch(s, batch_max)) > 0) {
        ASSERT(n <= batch_max);
        copy_n(&b, len, n);
        bench_pause_timing(s);
        memset(b.src, (int)(batches & 0xff), len);
        bench_clobber_memory();
        bench_resume_timing(s);
        batches++;
        handed_out += n;
    }
    ASSERT(handed_out == bench_iterations(s));
    report_copies(s, len);
    bench_set_counter(s, "batches", (double)batches, BENCH_COUNTER_RATE);
    buffers_free(&b);
}

/* memcpy of range(0) bytes on each of bench_threads(s) threads, each with its own buffers.
 * Thread 0 publishes a flag before its loop; the start barrier makes it visible to all. */
static int threads_started_flag;

static void bm_memcpy_threads(struct bench_state *s)
{
    size_t len = (size_t)bench_range(s, 0);
    ASSERT(bench_thread_index(s) < bench_threads(s));
    struct buffers b;
    if (!buffers_alloc(&b, len)) {
        bench_skip_with_error(s, "out of memory");
        return;
    }
    if (bench_thread_index(s) == 0) {
        threads_started_flag = bench_threads(s);
    }
    uint64_t n;
    bool first = true;
    while ((n = bench_next_batch(s, 0)) > 0) {
        if (first) {
            ASSERT(threads_started_flag == bench_threads(s));
            first = false;
        }
        copy_n(&b, len, n);
    }
    report_copies(s, len);
    bench_set_counter(s, "copies_per_thread", (double)bench_iterations(s),
                      BENCH_COUNTER_THREAD_MEAN);
    bench_set_counter(s, "threads", 1.0, BENCH_COUNTER_PLAIN);
    buffers_free(&b);
}

/* memcpy of range(0) bytes a fixed number of times: the count reported must be exact. */
static void bm_memcpy_fixed(struct bench_state *s)
{
    size_t len = (size_t)bench_range(s, 0);
    struct buffers b;
    if (!buffers_alloc(&b, len)) {
        bench_skip_with_error(s, "out of memory");
        return;
    }
    uint64_t n;
    while ((n = bench_next_batch(s, 0)) > 0) {
        copy_n(&b, len, n);
    }
    ASSERT(bench_iterations(s) == SELFTEST_FIXED_ITERATIONS);
    report_copies(s, len);
    buffers_free(&b);
}

/* Fails on purpose, before its loop, as a benchmark missing a resource would. */
static void bm_skip(struct bench_state *s)
{
    bench_skip_with_error(s, "skipped on purpose: RINGD_BENCH_SELFTEST_SKIP is set");
    ASSERT(bench_next_batch(s, 0) == 0);
}

static const int64_t copy_bytes[] = {64, 4096, 65536};
static const char *const bytes_name[] = {"bytes"};
static const int64_t refill_bytes_batch[] = {4096, 16, 4096, 1024};
static const char *const refill_names[] = {"bytes", "batch"};
static const int64_t threads_bytes[] = {4096};
static const int thread_counts[] = {1, 2};
static const int64_t fixed_bytes[] = {256};

static const struct bench_def selftest_benchmarks[] = {
    {"memcpy",
     {.args = copy_bytes, .args_len = BENCH_LEN(copy_bytes), .arg_names = bytes_name},
     bm_memcpy},
    {"memcpy_refill",
     {.args = refill_bytes_batch,
      .args_len = BENCH_LEN(refill_bytes_batch),
      .arg_width = 2,
      .arg_names = refill_names,
      .min_time_s = 0.05,
      .unit = BENCH_UNIT_US},
     bm_memcpy_refill},
    {"memcpy_threads",
     {.args = threads_bytes,
      .args_len = BENCH_LEN(threads_bytes),
      .arg_names = bytes_name,
      .threads = thread_counts,
      .threads_len = BENCH_LEN(thread_counts),
      .use_real_time = true},
     bm_memcpy_threads},
    {"memcpy_fixed",
     {.args = fixed_bytes,
      .args_len = BENCH_LEN(fixed_bytes),
      .arg_names = bytes_name,
      .iterations = SELFTEST_FIXED_ITERATIONS},
     bm_memcpy_fixed},
};

int main(int argc, char **argv)
{
    bench_register_table(selftest_benchmarks, BENCH_LEN(selftest_benchmarks));
    if (getenv("RINGD_BENCH_SELFTEST_SKIP") != NULL) {
        bench_register("skip_with_error", NULL, bm_skip);
    }
    return bench_main(argc, argv);
}
