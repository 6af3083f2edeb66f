/* The write-ahead log on this machine's disk: the raw fdatasync latency (a 300-byte write and
 * fdatasync, into blocks written before and into a preallocated range, as the WAL writes), and
 * io/wal appending 1 or 64 records of 300 bytes per fdatasync through an io_uring loop (each
 * iteration appends, flushes and waits until the records are durable). The issue compares
 * put latency with the first figure.
 * Run: build/release/bench/bench_wal (files go to $RINGD_BENCH_DIR, default /var/tmp; see
 * docs/PERFORMANCE.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_harness.h"
#include "loop.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "wal.h"

#define RECORD_BYTES 300
#define FILE_BYTES   (64u << 20)

static void temp_dir(char *path, size_t len)
{
    const char *base = getenv("RINGD_BENCH_DIR");
    snprintf(path, len, "%s/ringd-bench-wal-XXXXXX", base != NULL ? base : "/var/tmp");
    ASSERT(mkdtemp(path) != NULL);
}

static void remove_dir(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    ASSERT(system(cmd) == 0);
}

/* --- the disk alone ---------------------------------------------------------------------- */

/* A file of FILE_BYTES, either written through (every block allocated and written) or only
 * preallocated (unwritten extents, as a WAL segment). */
static int disk_file(const char *dir, bool written)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/file", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT(fd >= 0);
    ASSERT(fallocate(fd, 0, 0, FILE_BYTES) == 0);
    if (written) {
        static uint8_t block[1 << 20];
        memset(block, 'w', sizeof(block));
        for (uint32_t off = 0; off < FILE_BYTES; off += sizeof(block))
            ASSERT(pwrite(fd, block, sizeof(block), off) == (ssize_t)sizeof(block));
    }
    ASSERT(fsync(fd) == 0);
    return fd;
}

static void disk_run(struct bench_state *s, bool written)
{
    char dir[512];
    temp_dir(dir, sizeof(dir));
    int fd = disk_file(dir, written);
    uint8_t rec[RECORD_BYTES];
    memset(rec, 'r', sizeof(rec));
    uint64_t off = 0;
    uint64_t n;
    while ((n = bench_next_batch(s, 0)) > 0) {
        for (uint64_t i = 0; i < n; i++) {
            if (off + RECORD_BYTES > FILE_BYTES)
                off = 0; /* a written file stays written; a preallocated one is rarely refilled */
            ASSERT(pwrite(fd, rec, sizeof(rec), (off_t)off) == (ssize_t)sizeof(rec));
            ASSERT(fdatasync(fd) == 0);
            off += (RECORD_BYTES + 7) / 8 * 8;
        }
    }
    close(fd);
    remove_dir(dir);
}

static void bm_fdatasync_written(struct bench_state *s)
{
    disk_run(s, true);
}

static void bm_fdatasync_preallocated(struct bench_state *s)
{
    disk_run(s, false);
}

/* --- the WAL ------------------------------------------------------------------------------ */

struct wal_bench {
    struct io_loop loop;
    struct wal *w;
    uint64_t durable;
    bool failed;
};

static void wb_durable(void *ctx, const struct wal_durable *d)
{
    struct wal_bench *b = ctx;
    b->durable = d->last_index;
}

static void wb_failed(void *ctx, int err, const char *message)
{
    struct wal_bench *b = ctx;
    fprintf(stderr, "bench_wal: %s (%d)\n", message, err);
    b->failed = true;
}

static void wb_turn(struct wal_bench *b)
{
    ASSERT(io_loop_turn(&b->loop, true, UINT64_MAX) >= 0);
    ASSERT(!b->failed);
}

static void wb_append(struct wal_bench *b, uint64_t index, const uint8_t *data)
{
    struct wal_entry e = {
        .term = 1, .index = index, .type = 0, .data = data, .data_bytes = RECORD_BYTES};
    int err;
    while ((err = wal_append_entry(b->w, &e)) == -RINGD_EFULL) {
        /* The next segment is not ready yet (it is prepared in the background). */
        ASSERT(wal_flush(b->w) == 0);
        wb_turn(b);
    }
    ASSERT(err == 0);
}

static void wal_run(struct bench_state *s)
{
    uint32_t per_sync = (uint32_t)bench_range(s, 0);
    char dir[512];
    temp_dir(dir, sizeof(dir));
    struct wal_bench b = {0};
    ASSERT(io_loop_init(&b.loop, 64) == 0);
    ASSERT(io_loop_attach(&b.loop) == 0);
    struct wal_callbacks cb = {.ctx = &b, .durable = wb_durable, .failed = wb_failed};
    struct wal_recovery rec;
    ASSERT(wal_open(&b.w, dir, NULL, &b.loop, &cb, &rec, NULL, NULL) == 0);
    while (!wal_idle(b.w))
        wb_turn(&b); /* the first spare segment, before the clock starts */
    uint8_t data[RECORD_BYTES];
    memset(data, 'd', sizeof(data));
    uint64_t index = 0;
    uint64_t n;
    while ((n = bench_next_batch(s, 0)) > 0) {
        for (uint64_t i = 0; i < n; i++) {
            for (uint32_t k = 0; k < per_sync; k++)
                wb_append(&b, ++index, data);
            ASSERT(wal_flush(b.w) == 0);
            while (b.durable < index)
                wb_turn(&b);
        }
    }
    struct wal_stats st;
    wal_get_stats(b.w, &st);
    bench_set_items_processed(s, (int64_t)index);
    bench_set_counter(s, "records/sync", (double)index / (double)st.fdatasyncs,
                      BENCH_COUNTER_PLAIN);
    while (!wal_idle(b.w))
        wb_turn(&b);
    wal_close(b.w);
    io_loop_destroy(&b.loop);
    remove_dir(dir);
}

int main(int argc, char **argv)
{
    static const int64_t per_sync[] = {1, 64};
    static const char *const names[] = {"records"};
    const struct bench_def defs[] = {
        {"disk/fdatasync_written",
         {.use_real_time = true, .unit = BENCH_UNIT_US},
         bm_fdatasync_written},
        {"disk/fdatasync_preallocated",
         {.use_real_time = true, .unit = BENCH_UNIT_US},
         bm_fdatasync_preallocated},
        {"wal/append_sync",
         {.args = per_sync,
          .args_len = BENCH_LEN(per_sync),
          .arg_names = names,
          .use_real_time = true,
          .unit = BENCH_UNIT_US},
         wal_run},
    };
    bench_register_table(defs, BENCH_LEN(defs));
    return bench_main(argc, argv);
}
