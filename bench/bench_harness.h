/* A small C face on google-benchmark, so that ringd's microbenchmarks are written in C and still
 * get its calibrated timing loop, threads, counters, filters and JSON output.
 *
 * A benchmark is a function that does its setup, runs the timed loop in batches, and reports:
 *
 *     static void bm_copy(struct bench_state *s)
 *     {
 *         size_t len = (size_t)bench_range(s, 0);
 *         ... setup, untimed ...
 *         uint64_t n;
 *         while ((n = bench_next_batch(s, 0)) > 0) {
 *             for (uint64_t i = 0; i < n; i++) {
 *                 memcpy(dst, src, len);
 *                 bench_clobber_memory();
 *             }
 *         }
 *         bench_set_bytes_processed(s, (int64_t)(bench_iterations(s) * len));
 *         ... teardown, untimed ...
 *     }
 *
 * The loop asks the wrapper for work once per batch, never once per iteration: a loop of 10 ns
 * bodies must not pay for an out-of-line call each time. With batch_max 0 the whole run is one
 * batch, so the wrapper costs two calls per run, as little as google-benchmark's own C++ loop.
 *
 * Thread: every function taking a struct bench_state runs on the thread the state was handed to
 * (each thread of a threaded benchmark gets its own state). Registration and bench_main run on
 * the main thread, registration first. */
#ifndef RINGD_BENCH_HARNESS_H
#define RINGD_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on what one registration may ask for. bench/ is tooling, not the server, so its bounds
 * live here rather than in ringd_limits.h. */
#define BENCH_ARG_WIDTH_MAX     4   /* values in one argument tuple: bench_range indexes 0..3 */
#define BENCH_ARG_TUPLES_MAX    64  /* argument tuples (runs) in one registration */
#define BENCH_THREAD_COUNTS_MAX 16  /* entries in one registration's threads list */
#define BENCH_THREADS_MAX       256 /* threads in one run */

/* Elements in an array, for the *_len fields below. */
#define BENCH_LEN(array) (sizeof(array) / sizeof((array)[0]))

/* One thread's view of one run of one benchmark; owned by the harness, valid only during the
 * call of the benchmark function it was passed to. */
struct bench_state;

/* A benchmark. It is called several times per argument tuple and thread count while the
 * library calibrates the iteration count, so setup and teardown belong inside it. It must call
 * bench_next_batch until that returns 0, unless it called bench_skip_with_error. Thread index 0
 * runs on the thread that called bench_main, the others on threads of the library. */
typedef void (*bench_fn)(struct bench_state *s);

enum bench_unit {
    BENCH_UNIT_NS = 0,
    BENCH_UNIT_US,
    BENCH_UNIT_MS,
    BENCH_UNIT_S,
};

/* How a counter set with bench_set_counter is shown. Every kind is summed over the threads of
 * a run first. */
enum bench_counter_kind {
    BENCH_COUNTER_PLAIN = 0,     /* the sum as is */
    BENCH_COUNTER_RATE,          /* the sum per second of the run's time */
    BENCH_COUNTER_PER_ITERATION, /* the sum divided by the iterations of the run */
    BENCH_COUNTER_THREAD_MEAN,   /* the sum divided by the threads of the run */
};

/* How one benchmark runs. All zero (or a NULL pointer where one is taken) is the default: one
 * run without arguments, one thread, CPU time, the library's minimum time, nanoseconds, and an
 * iteration count the library calibrates. */
struct bench_options {
    /* Argument tuples, row after row: args_len values make args_len / arg_width runs, each
     * reading its tuple with bench_range. Copied at registration. */
    const int64_t *args;
    size_t args_len; /* a multiple of arg_width, at most BENCH_ARG_TUPLES_MAX tuples */
    int arg_width;   /* values per tuple, 1..BENCH_ARG_WIDTH_MAX; 0 means 1 */
    /* Names for the tuple's values, shown in run names ("copy/bytes:64"); arg_width entries,
     * or NULL for bare numbers ("copy/64"). */
    const char *const *arg_names;
    /* Thread counts, each a separate run (crossed with the argument tuples); NULL for one
     * thread. Each entry 1..BENCH_THREADS_MAX, at most BENCH_THREAD_COUNTS_MAX entries. */
    const int *threads;
    size_t threads_len;
    /* Decide the iteration count, and report, by wall-clock time instead of CPU time: for
     * benchmarks that block or whose threads wait on each other. */
    bool use_real_time;
    double min_time_s;    /* > 0 overrides --benchmark_min_time; not with iterations */
    enum bench_unit unit; /* for reported times */
    uint64_t iterations;  /* > 0 fixes the count and skips calibration; not with min_time_s */
};

/* One row of a benchmark table, for bench_register_table. */
struct bench_def {
    const char *name;
    struct bench_options opt;
    bench_fn fn;
};

/* Registers a benchmark under name (copied; non-empty, and distinct from the others so that
 * --benchmark_filter can tell them apart).
 * opt may be NULL for the defaults and is not kept. Bad options are a bug and assert. Must be
 * called before bench_main. */
void bench_register(const char *name, const struct bench_options *opt, bench_fn fn);

/* Registers count benchmarks from a table, in order, as bench_register does. */
void bench_register_table(const struct bench_def *defs, size_t count);

/* Runs the registered benchmarks the command line selects (google-benchmark's --benchmark_*
 * flags: filter, min_time, repetitions, format=json, out=...), printing a table or the chosen
 * format to stdout. Call once, from main, after registration. Returns 0 on success; 1 when an
 * argument was not recognized, no benchmark matched the filter, or a benchmark called
 * bench_skip_with_error. */
int bench_main(int argc, char **argv);

/* The timed loop: how many iterations to run now before calling again, at most batch_max (0 for
 * no limit, the lowest overhead). Returns 0 when the run is over; the caller must then leave
 * the loop. The first call starts the clock (after all threads of the run have arrived, so
 * setup done by thread 0 before it is visible to all) and the call that returns 0 stops it
 * (after which all threads have finished their loops, so thread 0 may tear down). Every
 * iteration handed out counts: the reported count is exactly what the loops ran. A smaller
 * batch_max is for benchmarks that pause the clock between batches, e.g. to refill a ring. */
uint64_t bench_next_batch(struct bench_state *s, uint64_t batch_max);

/* Iterations handed out so far in this run; after the loop, the run's total (for this thread). */
uint64_t bench_iterations(struct bench_state *s);

/* Value index (0..arg_width - 1) of this run's argument tuple. Asserts that the benchmark was
 * registered with arguments and that index is in range. */
int64_t bench_range(struct bench_state *s, int index);

/* This thread's index in the run, 0..bench_threads(s) - 1. */
int bench_thread_index(struct bench_state *s);

/* Threads in this run. */
int bench_threads(struct bench_state *s);

/* Stop and restart this thread's clock between batches, for work that must not be measured.
 * Each costs a clock read or two (hundreds of nanoseconds): once per batch, never per
 * iteration. Only while the loop runs (after bench_next_batch returned more than 0, before it
 * returned 0); pause and resume alternate, and the clock must be running when
 * bench_next_batch is called. */
void bench_pause_timing(struct bench_state *s);
void bench_resume_timing(struct bench_state *s);

/* Report the run's work as items or bytes (this thread's share; the threads' shares are
 * summed) shown per second. Call after the loop; a second call replaces the first. */
void bench_set_items_processed(struct bench_state *s, int64_t items);
void bench_set_bytes_processed(struct bench_state *s, int64_t bytes);

/* Sets a named counter (name copied) shown as kind says. It allocates, so call it after the
 * loop, not in it. A second call with the same name replaces the value. */
void bench_set_counter(struct bench_state *s, const char *name, double value,
                       enum bench_counter_kind kind);

/* A text shown next to the run's result (copied); with threads, the last one set wins. */
void bench_set_label(struct bench_state *s, const char *label);

/* Marks the run failed with msg (copied) and stops this thread's clock: bench_next_batch
 * returns 0 from then on and the benchmark may return at once; bench_pause_timing and
 * bench_resume_timing may no longer be called. bench_main will return 1. For conditions of the
 * environment (no memory, no io_uring), not for bugs, which assert. */
void bench_skip_with_error(struct bench_state *s, const char *msg);

/* Makes the compiler assume that value is read (so code computing it is kept) and that all
 * memory may have been read and written; costs no instruction, or one store when value does
 * not fit a register. value must be an lvalue or a scalar expression. */
#define BENCH_DO_NOT_OPTIMIZE(value) __asm__ __volatile__("" : : "r,m"(value) : "memory")

/* Makes the compiler assume that all memory may have been read and written, so stores before
 * it are kept and loads after it are redone. Costs no instruction. */
static inline void bench_clobber_memory(void)
{
    __asm__ __volatile__("" : : : "memory");
}

#ifdef __cplusplus
}
#endif

#endif
