/* The MVCC store alone: puts (new keys, overwrites), a transaction of a few puts, point gets
 * and ranges in read sections, reads from 1 and 2 threads at once (they share nothing but the
 * index, so they should scale), reads beside a busy writer, and the store's memory per key and
 * per version. Keys are 8-byte big-endian integers, so a range of n keys is [k, k + n).
 * Run: build/release/bench/bench_mvcc --benchmark_min_time=0.3 (see docs/ARCHITECTURE.md). */
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_harness.h"
#include "mvcc.h"
#include "ringd_assert.h"
#include "ringd_limits.h"

#define KEY_BYTES    8
#define VALUE_BYTES  64
#define PRELOAD_KEYS 100000
#define MEMORY_KEYS  100000
#define MEMORY_VALUE 256
#define TXN_PUTS     4
#define WRITER_BATCH 64 /* writes between two compaction steps, as in one apply loop turn */

static void key_of(uint64_t i, uint8_t key[KEY_BYTES])
{
    for (int b = KEY_BYTES - 1; b >= 0; b--, i >>= 8)
        key[b] = (uint8_t)i;
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static const uint8_t value_bytes[MEMORY_VALUE] = {1};

static void store_init(struct mvcc_store *s)
{
    ASSERT(mvcc_store_init(s) == 0);
}

/* Keys 0..count-1 with value_len-byte values, in one transaction. */
static void preload(struct mvcc_store *s, uint64_t count, uint32_t value_len)
{
    struct mvcc_txn t;
    uint8_t key[KEY_BYTES];
    mvcc_txn_begin(s, &t);
    for (uint64_t i = 0; i < count; i++) {
        key_of(i, key);
        ASSERT(mvcc_txn_put(&t, key, KEY_BYTES, value_bytes, value_len, 0, NULL) == 0);
    }
    mvcc_txn_end(&t);
}

/* --- writes --------------------------------------------------------------------------------- */

static void put_one(struct mvcc_store *s, uint64_t i)
{
    struct mvcc_txn t;
    uint8_t key[KEY_BYTES];
    key_of(i, key);
    mvcc_txn_begin(s, &t);
    ASSERT(mvcc_txn_put(&t, key, KEY_BYTES, value_bytes, VALUE_BYTES, 0, NULL) == 0);
    mvcc_txn_end(&t);
}

static void bm_put_new_keys(struct bench_state *s)
{
    struct mvcc_store st;
    store_init(&st);
    uint64_t n, x = 88172645463325252ull;
    while ((n = bench_next_batch(s, 0)) > 0) {
        for (uint64_t i = 0; i < n; i++)
            put_one(&st, next_random(&x)); /* random positions, as hashed etcd keys land */
    }
    bench_set_items_processed(s, (int64_t)bench_iterations(s));
    mvcc_store_destroy(&st);
}

static void bm_put_overwrite(struct bench_state *s)
{
    struct mvcc_store st;
    store_init(&st);
    preload(&st, PRELOAD_KEYS, VALUE_BYTES);
    uint64_t n, x = 88172645463325252ull;
    while ((n = bench_next_batch(s, 0)) > 0) {
        for (uint64_t i = 0; i < n; i++)
            put_one(&st, next_random(&x) % PRELOAD_KEYS);
    }
    bench_set_items_processed(s, (int64_t)bench_iterations(s));
    mvcc_store_destroy(&st);
}

static void bm_txn_puts(struct bench_state *s)
{
    struct mvcc_store st;
    store_init(&st);
    preload(&st, PRELOAD_KEYS, VALUE_BYTES);
    uint64_t n, x = 88172645463325252ull;
    uint8_t key[KEY_BYTES];
    while ((n = bench_next_batch(s, 0)) > 0) {
        for (uint64_t i = 0; i < n; i++) {
            struct mvcc_txn t;
            mvcc_txn_begin(&st, &t);
            for (int p = 0; p < TXN_PUTS; p++) {
                key_of(next_random(&x) % PRELOAD_KEYS, key);
                ASSERT(mvcc_txn_put(&t, key, KEY_BYTES, value_bytes, VALUE_BYTES, 0, NULL) == 0);
            }
            mvcc_txn_end(&t);
        }
    }
    bench_set_items_processed(s, (int64_t)(bench_iterations(s) * TXN_PUTS));
    mvcc_store_destroy(&st);
}

/* --- reads ------------------------------------------------------------------------------------ */

/* One store shared by the threads of a run: thread 0 builds it before the start barrier. */
static struct mvcc_store shared;
static alignas(64) struct mvcc_reader readers[BENCH_THREADS_MAX];

/* One point get in its own read section, as a shard serves a Range of one key. */
static uint64_t get_one(struct mvcc_reader *r, uint64_t i)
{
    uint8_t key[KEY_BYTES];
    key_of(i, key);
    struct mvcc_cursor c;
    struct mvcc_kv kv;
    mvcc_read_begin(r);
    ASSERT(mvcc_cursor_open(&c, r->store, key, KEY_BYTES, NULL, 0, 0, NULL) == 0);
    bool found = mvcc_cursor_next(&c, &kv);
    uint64_t sum = found ? kv.v->value[0] : 0;
    mvcc_read_end(r);
    ASSERT(found);
    return sum;
}

/* One range of count keys from i in its own read section; returns the keys seen. */
static uint64_t range_one(struct mvcc_reader *r, uint64_t i, uint64_t count)
{
    uint8_t key[KEY_BYTES], end[KEY_BYTES];
    key_of(i, key);
    key_of(i + count, end);
    struct mvcc_cursor c;
    struct mvcc_kv kv;
    uint64_t seen = 0;
    mvcc_read_begin(r);
    ASSERT(mvcc_cursor_open(&c, r->store, key, KEY_BYTES, end, KEY_BYTES, 0, NULL) == 0);
    while (mvcc_cursor_next(&c, &kv))
        seen += kv.v->value_len > 0;
    mvcc_read_end(r);
    ASSERT(seen == count);
    return seen;
}

/* range(0) == 1: point gets; otherwise ranges of range(0) keys. Items are keys read. */
static void read_loop(struct bench_state *s, struct mvcc_reader *r, uint64_t x)
{
    uint64_t count = (uint64_t)bench_range(s, 0);
    uint64_t n, items = 0, sink = 0;
    while ((n = bench_next_batch(s, 0)) > 0) {
        for (uint64_t i = 0; i < n; i++) {
            if (count == 1)
                sink += get_one(r, next_random(&x) % PRELOAD_KEYS);
            else
                sink += range_one(r, next_random(&x) % (PRELOAD_KEYS - count), count);
        }
        items += n * count;
    }
    BENCH_DO_NOT_OPTIMIZE(sink);
    bench_set_items_processed(s, (int64_t)items);
}

static void bm_read(struct bench_state *s)
{
    int me = bench_thread_index(s);
    if (me == 0) {
        /* Before the start barrier (the first batch call), so every thread finds it ready. A
         * record is not tied to a thread: each thread then uses only its own. */
        store_init(&shared);
        preload(&shared, PRELOAD_KEYS, VALUE_BYTES);
        for (int i = 0; i < bench_threads(s); i++)
            mvcc_reader_register(&shared, &readers[i]);
    }
    read_loop(s, &readers[me], 88172645463325252ull + (uint64_t)me);
    if (me == 0)
        mvcc_store_destroy(&shared);
}

/* --- reads beside a writer ------------------------------------------------------------------ */

struct writer_arg {
    struct mvcc_store *s;
    atomic_bool stop;
    uint64_t puts;
};

/* Overwrites random keys and compacts every 1024 revisions, until told to stop. Like the apply
 * actor, it polls for compaction and reclamation once per batch of writes, not per write. */
static void *writer_main(void *arg)
{
    struct writer_arg *w = arg;
    uint64_t x = 1234567;
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        for (int i = 0; i < WRITER_BATCH; i++) {
            put_one(w->s, next_random(&x) % PRELOAD_KEYS);
            int64_t rev = mvcc_current_rev(w->s);
            if (rev % 1024 == 0)
                ASSERT(mvcc_compact(w->s, rev - 512) == 0);
        }
        w->puts += WRITER_BATCH;
        mvcc_compact_step(w->s, 256);
        mvcc_reclaim(w->s);
    }
    return NULL;
}

static void bm_read_with_writer(struct bench_state *s)
{
    struct mvcc_store st;
    store_init(&st);
    preload(&st, PRELOAD_KEYS, VALUE_BYTES);
    mvcc_reader_register(&st, &readers[0]);
    struct writer_arg w = {.s = &st};
    pthread_t writer;
    ASSERT(pthread_create(&writer, NULL, writer_main, &w) == 0);
    read_loop(s, &readers[0], 88172645463325252ull);
    atomic_store(&w.stop, true);
    pthread_join(writer, NULL);
    bench_set_counter(s, "writer_puts", (double)w.puts, BENCH_COUNTER_RATE);
    mvcc_store_destroy(&st);
}

/* --- compaction ----------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One compaction step as the apply actor takes it (APPLY_COMPACT_KEYS_PER_STEP keys, each
 * losing one old version): the time requests wait behind compaction at most. Every key is
 * overwritten and compaction restarted (untimed) whenever a round of steps is done. */
static void bm_compact_step(struct bench_state *s)
{
    struct mvcc_store st;
    store_init(&st);
    preload(&st, PRELOAD_KEYS, VALUE_BYTES);
    bool done = true;
    uint64_t max_ns = 0;
    while (bench_next_batch(s, 1) > 0) {
        if (done) {
            bench_pause_timing(s);
            preload(&st, PRELOAD_KEYS, VALUE_BYTES);
            ASSERT(mvcc_compact(&st, mvcc_current_rev(&st)) == 0);
            bench_resume_timing(s);
        }
        uint64_t start = now_ns();
        done = mvcc_compact_step(&st, APPLY_COMPACT_KEYS_PER_STEP);
        uint64_t took = now_ns() - start;
        max_ns = took > max_ns ? took : max_ns;
    }
    bench_set_counter(s, "max_step_us", (double)max_ns / 1000.0, BENCH_COUNTER_PLAIN);
    bench_set_items_processed(s, (int64_t)bench_iterations(s) * APPLY_COMPACT_KEYS_PER_STEP);
    mvcc_store_destroy(&st);
}

/* --- memory ------------------------------------------------------------------------------------
 */

/* mvcc_bytes per key (key node plus its first version) and per further version, for 8-byte
 * keys and MEMORY_VALUE-byte values; the loop itself only repeats a point get. */
static void bm_memory(struct bench_state *s)
{
    struct mvcc_store st;
    store_init(&st);
    preload(&st, MEMORY_KEYS, MEMORY_VALUE);
    int64_t one = mvcc_bytes(&st);
    preload(&st, MEMORY_KEYS, MEMORY_VALUE);
    int64_t two = mvcc_bytes(&st);
    mvcc_reader_register(&st, &readers[0]);
    uint64_t n;
    while ((n = bench_next_batch(s, 0)) > 0) {
        for (uint64_t i = 0; i < n; i++)
            get_one(&readers[0], i % MEMORY_KEYS);
    }
    bench_set_counter(s, "bytes_per_key", (double)one / MEMORY_KEYS, BENCH_COUNTER_PLAIN);
    bench_set_counter(s, "bytes_per_version", (double)(two - one) / MEMORY_KEYS,
                      BENCH_COUNTER_PLAIN);
    mvcc_store_destroy(&st);
}

int main(int argc, char **argv)
{
    static const int64_t get_keys[] = {1};
    static const int64_t range_keys[] = {100, 10000};
    static const int64_t read_keys[] = {1, 100};
    static const char *const keys_name[] = {"keys"};
    static const int read_threads[] = {1, 2};
    const struct bench_def defs[] = {
        {"put/new_keys", {0}, bm_put_new_keys},
        {"put/overwrite", {0}, bm_put_overwrite},
        {"txn/4_puts", {0}, bm_txn_puts},
        {"get", {.args = get_keys, .args_len = 1, .arg_names = keys_name}, bm_read},
        {"range", {.args = range_keys, .args_len = 2, .arg_names = keys_name}, bm_read},
        /* Wall-clock time: with 2 threads, items/s is what the store serves, not per thread. */
        {"read_threads",
         {.args = read_keys,
          .args_len = 2,
          .arg_names = keys_name,
          .threads = read_threads,
          .threads_len = 2,
          .use_real_time = true},
         bm_read},
        {"read_with_writer",
         {.args = read_keys, .args_len = 2, .arg_names = keys_name, .use_real_time = true},
         bm_read_with_writer},
        {"compact/step", {0}, bm_compact_step},
        {"memory/8B_keys_256B_values", {.iterations = 1000}, bm_memory},
    };
    bench_register_table(defs, BENCH_LEN(defs));
    return bench_main(argc, argv);
}
