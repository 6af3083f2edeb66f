// The C face of google-benchmark declared in bench_harness.h: each C benchmark is registered as
// a lambda that wraps the library's State in a struct bench_state and calls the C function.
#include "bench_harness.h"

#include <benchmark/benchmark.h>

#include <atomic>
#include <string>
#include <vector>

#include "ringd_assert.h"

namespace
{

// Where one thread's run stands; checked so that a misuse asserts here instead of corrupting
// the library's timer, which only checks itself in debug builds of the library.
enum class phase { before, running, paused, done };

} // namespace

struct bench_state {
    benchmark::State *st;
    // Iterations not yet handed out. It equals the State's own private count while the loop
    // runs, because every batch asks for at most this many: the State never overshoots.
    uint64_t remaining;
    int arg_width; // values in this run's argument tuple; 0 when registered without arguments
    phase at;
};

namespace
{

std::atomic<bool> any_skipped_with_error{false};

void run_c_benchmark(benchmark::State &st, bench_fn fn, int arg_width)
{
    ASSERT(st.max_iterations > 0);
    bench_state s{&st, static_cast<uint64_t>(st.max_iterations), arg_width, phase::before};
    fn(&s);
    // Returning early is allowed only after an error; otherwise the library would report a run
    // that never finished its loop.
    ASSERT(s.at == phase::done || st.error_occurred());
}

benchmark::TimeUnit time_unit(enum bench_unit unit)
{
    switch (unit) {
    case BENCH_UNIT_NS:
        return benchmark::kNanosecond;
    case BENCH_UNIT_US:
        return benchmark::kMicrosecond;
    case BENCH_UNIT_MS:
        return benchmark::kMillisecond;
    case BENCH_UNIT_S:
        return benchmark::kSecond;
    }
    UNREACHABLE();
}

benchmark::Counter::Flags counter_flags(enum bench_counter_kind kind)
{
    switch (kind) {
    case BENCH_COUNTER_PLAIN:
        return benchmark::Counter::kDefaults;
    case BENCH_COUNTER_RATE:
        return benchmark::Counter::kIsRate;
    case BENCH_COUNTER_PER_ITERATION:
        return benchmark::Counter::kAvgIterations;
    case BENCH_COUNTER_THREAD_MEAN:
        return benchmark::Counter::kAvgThreads;
    }
    UNREACHABLE();
}

// Options come from code, not from input, so a bad one is a bug.
void check_options(const bench_options *opt, int width)
{
    ASSERT(width >= 1 && width <= BENCH_ARG_WIDTH_MAX);
    ASSERT(opt->args_len % static_cast<size_t>(width) == 0);
    ASSERT(opt->args_len / static_cast<size_t>(width) <= BENCH_ARG_TUPLES_MAX);
    ASSERT(opt->args_len == 0 || opt->args != nullptr);
    ASSERT(opt->arg_names == nullptr || opt->args_len > 0);
    ASSERT(opt->threads_len <= BENCH_THREAD_COUNTS_MAX);
    ASSERT(opt->threads_len == 0 || opt->threads != nullptr);
    ASSERT(opt->min_time_s >= 0.0);
    // The library takes either a fixed count or a minimum time, never both.
    ASSERT(opt->iterations == 0 || opt->min_time_s == 0.0);
    ASSERT(opt->iterations <= static_cast<uint64_t>(INT64_MAX));
}

void add_args(benchmark::internal::Benchmark *b, const bench_options *opt, int width)
{
    const size_t w = static_cast<size_t>(width);
    if (opt->arg_names != nullptr) {
        std::vector<std::string> names;
        for (size_t i = 0; i < w; i++) {
            ASSERT(opt->arg_names[i] != nullptr);
            names.emplace_back(opt->arg_names[i]);
        }
        b->ArgNames(names);
    }
    for (size_t row = 0; row < opt->args_len; row += w) {
        b->Args(std::vector<int64_t>(opt->args + row, opt->args + row + w));
    }
}

void add_threads(benchmark::internal::Benchmark *b, const bench_options *opt)
{
    for (size_t i = 0; i < opt->threads_len; i++) {
        ASSERT(opt->threads[i] >= 1 && opt->threads[i] <= BENCH_THREADS_MAX);
        b->Threads(opt->threads[i]);
    }
}

} // namespace

extern "C" {

void bench_register(const char *name, const struct bench_options *opt, bench_fn fn)
{
    ASSERT(name != nullptr && name[0] != '\0');
    ASSERT(fn != nullptr);
    static const bench_options defaults = {};
    if (opt == nullptr) {
        opt = &defaults;
    }
    const int width = opt->arg_width == 0 ? 1 : opt->arg_width;
    check_options(opt, width);

    const int range_width = opt->args_len == 0 ? 0 : width;
    benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
        name, [fn, range_width](benchmark::State &st) { run_c_benchmark(st, fn, range_width); });
    ASSERT(b != nullptr);
    add_args(b, opt, width);
    add_threads(b, opt);
    if (opt->use_real_time) {
        b->UseRealTime();
    }
    if (opt->min_time_s > 0.0) {
        b->MinTime(opt->min_time_s);
    }
    if (opt->iterations > 0) {
        b->Iterations(static_cast<benchmark::IterationCount>(opt->iterations));
    }
    b->Unit(time_unit(opt->unit));
}

void bench_register_table(const struct bench_def *defs, size_t count)
{
    ASSERT(defs != nullptr || count == 0);
    for (size_t i = 0; i < count; i++) {
        bench_register(defs[i].name, &defs[i].opt, defs[i].fn);
    }
}

int bench_main(int argc, char **argv)
{
    ASSERT(argc >= 1 && argv != nullptr);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        benchmark::Shutdown();
        return 1;
    }
    // Counts the benchmarks run (or listed); 0 means the filter matched none, which the
    // library has already printed.
    const size_t matched = benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (matched == 0 || any_skipped_with_error.load()) {
        return 1;
    }
    return 0;
}

uint64_t bench_next_batch(struct bench_state *s, uint64_t batch_max)
{
    ASSERT(s->at == phase::before || s->at == phase::running);
    uint64_t n = s->remaining;
    if (batch_max != 0 && batch_max < n) {
        n = batch_max;
    }
    // With nothing left, asking for one more lets the State find its own count at zero, stop
    // the clock and wait for the other threads at the stop barrier.
    const benchmark::IterationCount ask = n == 0 ? 1 : static_cast<benchmark::IterationCount>(n);
    if (!s->st->KeepRunningBatch(ask)) {
        s->at = phase::done;
        return 0;
    }
    // The State had iterations we did not know of: the two counts drifted apart.
    ASSERT(n > 0);
    s->remaining -= n;
    s->at = phase::running;
    return n;
}

uint64_t bench_iterations(struct bench_state *s)
{
    ASSERT(s->st->iterations() >= 0);
    return static_cast<uint64_t>(s->st->iterations());
}

int64_t bench_range(struct bench_state *s, int index)
{
    ASSERT(index >= 0 && index < s->arg_width);
    return s->st->range(static_cast<std::size_t>(index));
}

int bench_thread_index(struct bench_state *s)
{
    ASSERT(s->st->thread_index() >= 0 && s->st->thread_index() < s->st->threads());
    return s->st->thread_index();
}

int bench_threads(struct bench_state *s)
{
    ASSERT(s->st->threads() >= 1);
    return s->st->threads();
}

void bench_pause_timing(struct bench_state *s)
{
    ASSERT(s->at == phase::running);
    ASSERT(!s->st->error_occurred());
    s->st->PauseTiming();
    s->at = phase::paused;
}

void bench_resume_timing(struct bench_state *s)
{
    ASSERT(s->at == phase::paused);
    ASSERT(!s->st->error_occurred());
    s->st->ResumeTiming();
    s->at = phase::running;
}

void bench_set_items_processed(struct bench_state *s, int64_t items)
{
    ASSERT(items >= 0);
    s->st->SetItemsProcessed(items);
}

void bench_set_bytes_processed(struct bench_state *s, int64_t bytes)
{
    ASSERT(bytes >= 0);
    s->st->SetBytesProcessed(bytes);
}

void bench_set_counter(struct bench_state *s, const char *name, double value,
                       enum bench_counter_kind kind)
{
    ASSERT(name != nullptr && name[0] != '\0');
    s->st->counters[name] = benchmark::Counter(value, counter_flags(kind));
}

void bench_set_label(struct bench_state *s, const char *label)
{
    ASSERT(label != nullptr);
    s->st->SetLabel(label);
}

void bench_skip_with_error(struct bench_state *s, const char *msg)
{
    ASSERT(msg != nullptr);
    ASSERT(!s->st->error_occurred());
    any_skipped_with_error.store(true);
    s->st->SkipWithError(msg);
    // The error stops the clock whether it ran or not, and the next batch call ends the loop.
    if (s->at == phase::paused) {
        s->at = phase::running;
    }
}

} // extern "C"
