/* io/wal: the record format and its CRC chain, group commit on a real io_uring loop (appends
 * per fdatasync counted through the fault hook), segment rollover and replay across segments,
 * torn tails and corrupt records written into the files by hand, a failing fdatasync, and the
 * release of old segments. Needs no root: everything lives in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "loop.h"
#include "ringd_error.h"
#include "test_support.h"
#include "wal.h"
#include "wal_record.h"
#include "wal_segment.h"

#define ENTRIES_MAX   4096
#define SMALL_SEGMENT (16u << 10)
#define SMALL_BATCH   (4u << 10)
#define TURNS_MAX     100000

/* --- fixture ------------------------------------------------------------------------------- */

struct got_entry {
    uint64_t index;
    uint64_t term;
    uint8_t type;
    uint32_t data_bytes;
    uint8_t *data;
};

struct fx {
    struct io_loop loop;
    char base[256]; /* the test's temporary directory, removed at the end */
    char dir[300];  /* the WAL directory inside it */
    struct wal *w;
    struct wal_options opt;
    struct wal_recovery rec;
    /* callbacks */
    uint32_t durable_calls;
    struct wal_durable last_durable;
    uint32_t failed_calls;
    int failed_err;
    char failed_msg[WAL_MESSAGE_BYTES_MAX];
    uint32_t writable_calls;
    /* fault hook */
    uint32_t writes;
    uint32_t fdatasyncs;
    uint32_t fail_fdatasync_at; /* 1-based: that fdatasync fails with -EIO; 0: none */
    uint32_t fail_write_at;
    int32_t short_write_at; /* that write writes only 16 bytes */
    /* replay */
    struct got_entry got[ENTRIES_MAX];
    uint32_t ngot;
};

static int fx_fault(void *ctx, enum wal_fault_op op)
{
    struct fx *f = ctx;
    if (op == WAL_FAULT_FDATASYNC) {
        f->fdatasyncs++;
        return f->fdatasyncs == f->fail_fdatasync_at ? -EIO : 0;
    }
    f->writes++;
    if (f->writes == f->fail_write_at)
        return -ENOSPC;
    return (int32_t)f->writes == f->short_write_at ? 16 : 0;
}

static void fx_durable(void *ctx, const struct wal_durable *d)
{
    struct fx *f = ctx;
    f->durable_calls++;
    f->last_durable = *d;
}

static void fx_failed(void *ctx, int err, const char *message)
{
    struct fx *f = ctx;
    f->failed_calls++;
    f->failed_err = err;
    snprintf(f->failed_msg, sizeof(f->failed_msg), "%s", message);
}

static void fx_writable(void *ctx)
{
    struct fx *f = ctx;
    f->writable_calls++;
}

static int fx_entry(void *ctx, const struct wal_entry *e)
{
    struct fx *f = ctx;
    assert_true(f->ngot < ENTRIES_MAX);
    struct got_entry *g = &f->got[f->ngot++];
    *g = (struct got_entry){
        .index = e->index, .term = e->term, .type = e->type, .data_bytes = e->data_bytes};
    g->data = malloc(e->data_bytes + 1);
    assert_non_null(g->data);
    memcpy(g->data, e->data, e->data_bytes);
    return 0;
}

static void fx_forget_entries(struct fx *f)
{
    for (uint32_t i = 0; i < f->ngot; i++)
        free(f->got[i].data);
    f->ngot = 0;
}

static int fx_open(struct fx *f)
{
    fx_forget_entries(f);
    struct wal_callbacks cb = {
        .ctx = f, .durable = fx_durable, .failed = fx_failed, .writable = fx_writable};
    f->opt.fault = fx_fault;
    f->opt.fault_ctx = f;
    return wal_open(&f->w, f->dir, &f->opt, &f->loop, &cb, &f->rec, fx_entry, f);
}

static void fx_turn(struct fx *f)
{
    assert_true(io_loop_turn(&f->loop, true, 1000000000ull) >= 0);
}

static void fx_settle(struct fx *f)
{
    for (int i = 0; i < TURNS_MAX && !wal_idle(f->w); i++)
        fx_turn(f);
    assert_true(wal_idle(f->w));
}

static void fx_close(struct fx *f)
{
    fx_settle(f);
    wal_close(f->w);
    f->w = NULL;
}

static struct fx *fx_new(const char *tag, uint64_t segment_bytes, uint32_t batch_bytes)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(io_loop_init(&f->loop, 64), 0);
    assert_int_equal(io_loop_attach(&f->loop), 0);
    snprintf(f->base, sizeof(f->base), "%s", test_temp_dir(tag));
    snprintf(f->dir, sizeof(f->dir), "%s/wal", f->base);
    f->opt.segment_bytes = segment_bytes;
    f->opt.batch_bytes = batch_bytes;
    return f;
}

static void fx_free(struct fx *f)
{
    if (f->w != NULL)
        fx_close(f);
    fx_forget_entries(f);
    io_loop_destroy(&f->loop);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
    assert_int_equal(system(cmd), 0);
    free(f);
}

/* Entry i: term 1 unless told, data of len bytes that are never zero. */
static void entry_data(uint8_t *buf, uint64_t index, uint64_t term, uint32_t len)
{
    for (uint32_t j = 0; j < len; j++)
        buf[j] = (uint8_t)('a' + (index * 7 + term + j) % 26);
}

static int fx_append(struct fx *f, uint64_t index, uint64_t term, uint32_t len)
{
    uint8_t buf[2048];
    assert_true(len <= sizeof(buf));
    entry_data(buf, index, term, len);
    struct wal_entry e = {.term = term, .index = index, .type = 1, .data = buf, .data_bytes = len};
    return wal_append_entry(f->w, &e);
}

/* Appends, and on back-pressure flushes and turns the loop until the WAL takes it. */
static void fx_append_wait(struct fx *f, uint64_t index, uint64_t term, uint32_t len)
{
    for (int i = 0; i < TURNS_MAX; i++) {
        int err = fx_append(f, index, term, len);
        if (err == 0)
            return;
        assert_int_equal(err, -RINGD_EFULL);
        assert_int_equal(wal_flush(f->w), 0);
        fx_turn(f);
    }
    fail_msg("the WAL never took entry %llu", (unsigned long long)index);
}

/* Flushes and turns the loop until everything appended is durable (idle after a flush means
 * nothing is buffered or in flight). */
static void fx_sync(struct fx *f)
{
    for (int i = 0; i < TURNS_MAX; i++) {
        assert_int_equal(wal_flush(f->w), 0);
        if (wal_idle(f->w))
            return;
        fx_turn(f);
    }
    fail_msg("the WAL never became idle");
}

/* Checks the replayed entries are first..last with term_of's terms and their data. */
static void check_entries(struct fx *f, uint64_t first, uint64_t last,
                          uint64_t (*term_of)(uint64_t), uint32_t len)
{
    assert_int_equal(f->ngot, last - first + 1);
    for (uint32_t i = 0; i < f->ngot; i++) {
        struct got_entry *g = &f->got[i];
        uint64_t term = term_of != NULL ? term_of(g->index) : 1;
        assert_int_equal(g->index, first + i);
        assert_int_equal(g->term, term);
        assert_int_equal(g->data_bytes, len);
        uint8_t want[2048];
        entry_data(want, g->index, term, len);
        assert_memory_equal(g->data, want, len);
    }
}

/* Segment file names in the directory, sorted. */
static uint32_t list_segments(struct fx *f, char names[][WAL_SEGMENT_NAME_BYTES], uint32_t max)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    uint32_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct wal_segment_id id;
        if (wal_segment_parse_name(de->d_name, &id) == 0 && n < max)
            wal_segment_name(names[n++], &id);
    }
    closedir(d);
    qsort(names, n, WAL_SEGMENT_NAME_BYTES, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void segment_path(struct fx *f, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%.*s", f->dir, WAL_SEGMENT_NAME_BYTES - 1, name);
}

static void last_segment_path(struct fx *f, char *path, size_t len)
{
    char names[64][WAL_SEGMENT_NAME_BYTES];
    uint32_t n = list_segments(f, names, 64);
    assert_true(n > 0);
    segment_path(f, names[n - 1], path, len);
}

/* The end of the records in a segment whose last record ends in non-zero data. */
static uint64_t records_end(const char *path)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    uint64_t end = (uint64_t)st.st_size;
    while (end > 0 && buf[end - 1] == 0)
        end--;
    free(buf);
    return (end + 7) / 8 * 8;
}

static void write_at(const char *path, uint64_t off, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* Writes entries first..last of len bytes, one batch per per_batch entries, and syncs. */
static void fx_write_entries(struct fx *f, uint64_t first, uint64_t last, uint32_t len,
                             uint32_t per_batch)
{
    for (uint64_t i = first; i <= last; i++) {
        fx_append_wait(f, i, 1, len);
        if ((i - first + 1) % per_batch == 0)
            assert_int_equal(wal_flush(f->w), 0);
    }
    fx_sync(f);
    struct wal_stats st;
    wal_get_stats(f->w, &st);
    assert_int_equal(st.durable_index, last);
}

/* --- the record format --------------------------------------------------------------------- */

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(crc32c_update(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(crc32c_update_portable(0, "123456789", 9), 0xe3069283u);
    uint8_t buf[1024 + 8];
    for (uint32_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (uint32_t off = 0; off < 8; off++) {
        for (uint32_t len = 0; len <= 1024; len += 1 + len / 4) {
            uint32_t a = crc32c_update(0x1234u, buf + off, len);
            assert_int_equal(a, crc32c_update_portable(0x1234u, buf + off, len));
            uint32_t half = len / 3;
            assert_int_equal(a, crc32c_update(crc32c_update(0x1234u, buf + off, half),
                                              buf + off + half, len - half));
        }
    }
}

static void test_record_round_trip(void **state)
{
    (void)state;
    uint8_t buf[512];
    uint32_t crc = 77;
    struct wal_segment_header h = {
        .seq = 3, .first_index = 42, .prev_crc = 77, .batch_bytes = 8192};
    uint32_t off = wal_record_put_header(buf, sizeof(buf), &crc, &h);
    assert_int_equal(off, WAL_RECORD_HEADER_SIZE);
    uint8_t data[13] = "hello, world";
    struct wal_entry e = {.term = 5, .index = 43, .type = 2, .data = data, .data_bytes = 13};
    uint32_t n = wal_record_put_entry(buf + off, sizeof(buf) - off, &crc, &e);
    assert_int_equal(n, wal_record_entry_size(13));
    assert_int_equal(n % 8, 0);
    off += n;
    struct wal_hard_state hs = {.term = 5, .vote = 2, .commit = 40};
    off += wal_record_put_hard_state(buf + off, sizeof(buf) - off, &crc, &hs);
    struct wal_snapshot s = {.index = 30, .term = 4};
    off += wal_record_put_snapshot(buf + off, sizeof(buf) - off, &crc, &s);

    uint32_t chain = wal_record_header_prev_crc(buf);
    assert_int_equal(chain, 77);
    struct wal_record r;
    uint32_t pos = 0;
    uint8_t types[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(wal_record_parse_head(buf + pos, 8192, &r), WAL_RECORD_OK);
        assert_int_equal(wal_record_check(buf + pos, chain, &r), WAL_RECORD_OK);
        types[i] = r.type;
        if (r.type == WAL_RECORD_HEADER) {
            struct wal_segment_header g;
            wal_record_get_header(&r, &g);
            assert_memory_equal(&g, &h, sizeof(g));
        } else if (r.type == WAL_RECORD_ENTRY) {
            struct wal_entry g;
            wal_record_get_entry(&r, &g);
            assert_int_equal(g.term, 5);
            assert_int_equal(g.index, 43);
            assert_int_equal(g.type, 2);
            assert_int_equal(g.data_bytes, 13);
            assert_memory_equal(g.data, data, 13);
        } else if (r.type == WAL_RECORD_HARD_STATE) {
            struct wal_hard_state g;
            wal_record_get_hard_state(&r, &g);
            assert_memory_equal(&g, &hs, sizeof(g));
        } else {
            struct wal_snapshot g;
            wal_record_get_snapshot(&r, &g);
            assert_memory_equal(&g, &s, sizeof(g));
        }
        chain = r.crc;
        pos += (uint32_t)r.size;
    }
    assert_int_equal(pos, off);
    assert_int_equal(chain, crc);
    uint8_t want[4] = {WAL_RECORD_HEADER, WAL_RECORD_ENTRY, WAL_RECORD_HARD_STATE,
                       WAL_RECORD_SNAPSHOT};
    assert_memory_equal(types, want, 4);
}

static void test_record_chain(void **state)
{
    (void)state;
    uint8_t buf[256];
    uint32_t crc = 0;
    struct wal_hard_state hs = {.term = 1, .vote = 1, .commit = 1};
    uint32_t a = wal_record_put_hard_state(buf, sizeof(buf), &crc, &hs);
    uint32_t crc_a = crc;
    uint32_t b = wal_record_put_hard_state(buf + a, sizeof(buf) - a, &crc, &hs);
    /* The same record twice gets two CRCs: each covers the one before it. */
    struct wal_record r;
    assert_int_equal(wal_record_parse_head(buf + a, 4096, &r), WAL_RECORD_OK);
    assert_int_not_equal(r.crc, crc_a);
    assert_int_equal(wal_record_check(buf + a, crc_a, &r), WAL_RECORD_OK);
    assert_int_equal(wal_record_check(buf + a, 0, &r), WAL_RECORD_BAD_CRC);
    /* A flipped payload byte, a flipped padding byte, a length over the bound, zeros. */
    buf[a + 12] ^= 1;
    assert_int_equal(wal_record_check(buf + a, crc_a, &r), WAL_RECORD_BAD_CRC);
    buf[a + 12] ^= 1;
    buf[a + b - 1] = 1;
    assert_int_equal(wal_record_check(buf + a, crc_a, &r), WAL_RECORD_BAD_PADDING);
    assert_int_equal(wal_record_parse_head(buf, 8, &r), WAL_RECORD_BAD_LENGTH);
    uint8_t zeros[8] = {0};
    assert_int_equal(wal_record_parse_head(zeros, 4096, &r), WAL_RECORD_ZERO);
    /* A good CRC over an unknown type is bad format, not a tear. */
    uint8_t odd[16] = {0};
    odd[0] = 1;
    odd[8] = 99;
    uint32_t c = crc32c_update(0, odd + 8, 1);
    memcpy(odd + 4, &c, 4);
    assert_int_equal(wal_record_parse_head(odd, 4096, &r), WAL_RECORD_OK);
    assert_int_equal(wal_record_check(odd, 0, &r), WAL_RECORD_BAD_FORMAT);
}

/* --- opening, appending, group commit ---------------------------------------------------- */

static void test_new_directory(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-new", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    assert_true(f->rec.created);
    assert_false(f->rec.has_hard_state);
    assert_int_equal(f->rec.entries, 0);
    char names[4][WAL_SEGMENT_NAME_BYTES];
    assert_int_equal(list_segments(f, names, 4), 1);
    assert_string_equal(names[0], "0000000000000000-0000000000000001.wal");
    char path[400];
    segment_path(f, names[0], path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, SMALL_SEGMENT);
    /* A second opener of the same directory is refused. */
    struct fx *g = fx_new("wal-new2", SMALL_SEGMENT, SMALL_BATCH);
    char own[300];
    snprintf(own, sizeof(own), "%s", g->dir);
    snprintf(g->dir, sizeof(g->dir), "%s", f->dir);
    assert_int_equal(fx_open(g), -EWOULDBLOCK);
    assert_non_null(strstr(g->rec.message, "another process"));
    snprintf(g->dir, sizeof(g->dir), "%s", own);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    assert_false(f->rec.created);
    assert_int_equal(f->rec.segments, 1);
    fx_free(f);
    fx_free(g);
}

static void test_group_commit(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-group", 0, 0);
    assert_int_equal(fx_open(f), 0);
    fx_settle(f); /* the spare segment */
    for (uint64_t i = 1; i <= 10; i++)
        assert_int_equal(fx_append(f, i, 1, 300), 0);
    assert_int_equal(wal_flush(f->w), 0);
    /* Submitted, but its completion is not handled before the next turn: the next 50 appends
     * accumulate behind it and go as one batch when it completes. */
    assert_true(io_loop_turn(&f->loop, false, 0) >= 0);
    for (uint64_t i = 11; i <= 60; i++) {
        assert_int_equal(fx_append(f, i, 1, 300), 0);
        assert_int_equal(wal_flush(f->w), 0);
    }
    struct wal_hard_state hs = {.term = 1, .vote = 1, .commit = 60};
    assert_int_equal(wal_append_hard_state(f->w, &hs), 0);
    assert_int_equal(wal_flush(f->w), 0);
    for (int i = 0; i < TURNS_MAX && f->last_durable.last_index < 60; i++)
        fx_turn(f);
    assert_int_equal(f->fdatasyncs, 2);
    assert_int_equal(f->durable_calls, 2);
    assert_int_equal(f->last_durable.last_index, 60);
    assert_true(f->last_durable.has_hard_state);
    assert_int_equal(f->last_durable.hard_state.commit, 60);
    assert_int_equal(f->last_durable.records, 51);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 60, NULL, 300);
    assert_true(f->rec.has_hard_state);
    assert_int_equal(f->rec.hard_state.commit, 60);
    assert_int_equal(f->rec.message[0], '\0');
    fx_free(f);
}

/* A writer that appends a few records every turn and never waits: fdatasyncs are shared. */
static void test_group_commit_under_load(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-load", 0, 0);
    assert_int_equal(fx_open(f), 0);
    uint32_t flushes = 0;
    for (uint64_t i = 1; i <= 2000; i++) {
        assert_int_equal(fx_append(f, i, 1, 300), 0);
        if (i % 5 == 0) {
            assert_int_equal(wal_flush(f->w), 0);
            flushes++;
            assert_true(io_loop_turn(&f->loop, false, 0) >= 0);
        }
    }
    fx_sync(f);
    assert_int_equal(f->last_durable.last_index, 2000);
    print_message("group commit: 2000 appends, %u flushes, %u fdatasyncs\n", flushes,
                  f->fdatasyncs);
    assert_true(f->fdatasyncs < flushes);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 2000, NULL, 300);
    fx_free(f);
}

static void test_back_pressure(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-full", SMALL_SEGMENT * 4, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    fx_settle(f);
    uint64_t i = 1;
    while (fx_append(f, i, 1, 300) == 0)
        i++;
    assert_true(i > 5);
    assert_int_equal(fx_append(f, i, 1, 300), -RINGD_EFULL);
    assert_int_equal(f->writable_calls, 0);
    assert_int_equal(wal_flush(f->w), 0);
    for (int t = 0; t < TURNS_MAX && f->writable_calls == 0; t++)
        fx_turn(f);
    assert_int_equal(f->writable_calls, 1);
    assert_int_equal(f->last_durable.last_index, i - 1);
    assert_int_equal(fx_append(f, i, 1, 300), 0);
    /* Too large for any batch: refused for good. */
    uint8_t big[SMALL_BATCH];
    memset(big, 'x', sizeof(big));
    struct wal_entry e = {.term = 1, .index = i + 1, .data = big, .data_bytes = sizeof(big)};
    assert_int_equal(wal_append_entry(f->w, &e), -EMSGSIZE);
    fx_sync(f);
    fx_free(f);
}

static uint64_t term_overwritten(uint64_t index)
{
    /* 1..10 in term 1; 8..12 rewritten in term 2; then 5..6 in term 3; 7 appended in 3. */
    return index <= 4 ? 1 : 3;
}

static void test_replay_state_and_overwrites(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-replay", 0, 0);
    assert_int_equal(fx_open(f), 0);
    for (uint64_t i = 1; i <= 10; i++)
        assert_int_equal(fx_append(f, i, 1, 50), 0);
    struct wal_hard_state hs = {.term = 1, .vote = 3, .commit = 4};
    assert_int_equal(wal_append_hard_state(f->w, &hs), 0);
    assert_int_equal(wal_flush(f->w), 0);
    for (uint64_t i = 8; i <= 12; i++)
        assert_int_equal(fx_append(f, i, 2, 50), 0);
    for (uint64_t i = 5; i <= 7; i++)
        assert_int_equal(fx_append(f, i, 3, 50), 0);
    hs = (struct wal_hard_state){.term = 3, .vote = 2, .commit = 4};
    assert_int_equal(wal_append_hard_state(f->w, &hs), 0);
    fx_sync(f);
    assert_int_equal(f->last_durable.last_index, 7);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 7, term_overwritten, 50);
    assert_int_equal(f->rec.first_index, 1);
    assert_int_equal(f->rec.last_index, 7);
    assert_int_equal(f->rec.hard_state.term, 3);
    assert_int_equal(f->rec.hard_state.vote, 2);
    assert_false(f->rec.has_snapshot);
    /* A snapshot at 4: replay starts after it. */
    struct wal_snapshot s = {.index = 4, .term = 1};
    assert_int_equal(wal_append_snapshot(f->w, &s), 0);
    assert_int_equal(fx_append(f, 8, 3, 50), 0);
    fx_sync(f);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    assert_true(f->rec.has_snapshot);
    assert_int_equal(f->rec.snapshot.index, 4);
    check_entries(f, 5, 8, term_overwritten, 50);
    fx_free(f);
}

/* --- segments ----------------------------------------------------------------------------- */

static void test_rollover_and_replay(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-roll", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    struct wal_hard_state hs = {.term = 1, .vote = 1, .commit = 0};
    assert_int_equal(wal_append_hard_state(f->w, &hs), 0);
    fx_write_entries(f, 1, 400, 300, 7);
    struct wal_stats st;
    wal_get_stats(f->w, &st);
    assert_true(st.rollovers >= 7);
    assert_int_equal(st.segments, st.rollovers + 1);
    fx_close(f);
    char names[64][WAL_SEGMENT_NAME_BYTES];
    uint32_t n = list_segments(f, names, 64);
    assert_int_equal(n, st.segments);
    for (uint32_t k = 0; k < n; k++) {
        struct wal_segment_id id;
        assert_int_equal(wal_segment_parse_name(names[k], &id), 0);
        assert_int_equal(id.seq, k);
        char path[400];
        segment_path(f, names[k], path, sizeof(path));
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_size, SMALL_SEGMENT);
    }
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 400, NULL, 300);
    assert_true(f->rec.has_hard_state);
    assert_int_equal(f->rec.segments, n);
    /* And it goes on after a reopen, across more rollovers. */
    fx_write_entries(f, 401, 500, 300, 3);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 500, NULL, 300);
    fx_free(f);
}

static void test_release(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-release", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    struct wal_hard_state hs = {.term = 1, .vote = 1, .commit = 0};
    assert_int_equal(wal_append_hard_state(f->w, &hs), 0);
    fx_write_entries(f, 1, 400, 300, 10);
    struct wal_stats st;
    wal_get_stats(f->w, &st);
    uint32_t before = st.segments;
    assert_true(before >= 8);
    /* Nothing below index 1: nothing to remove; keep_max 0 keeps everything. */
    assert_int_equal(wal_release_before(f->w, 1, 2), 0);
    assert_int_equal(wal_release_before(f->w, 1000, 0), 0);
    struct wal_snapshot s = {.index = 300, .term = 1};
    assert_int_equal(wal_append_snapshot(f->w, &s), 0);
    fx_sync(f);
    int removed = wal_release_before(f->w, 300, 2);
    assert_true(removed > 0);
    wal_get_stats(f->w, &st);
    assert_int_equal(st.segments, before - (uint32_t)removed);
    char names[64][WAL_SEGMENT_NAME_BYTES];
    assert_int_equal(list_segments(f, names, 64), st.segments);
    /* What is left still holds every entry after the snapshot. */
    struct wal_segment_id first;
    assert_int_equal(wal_segment_parse_name(names[0], &first), 0);
    assert_true(first.first_index <= 301);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    assert_true(f->rec.has_snapshot);
    assert_int_equal(f->rec.snapshot.index, 300);
    assert_true(f->rec.has_hard_state);
    check_entries(f, 301, 400, NULL, 300);
    /* keep_max bounds what is kept: with 2, at most 2 remain once all are released. */
    fx_write_entries(f, 401, 450, 300, 10);
    s.index = 450;
    assert_int_equal(wal_append_snapshot(f->w, &s), 0);
    fx_write_entries(f, 451, 600, 300, 10);
    assert_true(wal_release_before(f->w, 450, 2) > 0);
    wal_get_stats(f->w, &st);
    assert_true(st.segments >= 2);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 451, 600, NULL, 300);
    fx_free(f);
}

/* An owner that loaded an older snapshot than the WAL's marker (the newest was bad) replays from
 * it while the segments still hold the entries since; once they are released the open fails
 * naming the missing entries instead of replaying from a later point. */
static void test_replay_after_older_snapshot(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-replay-after", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    struct wal_hard_state hs = {.term = 1, .vote = 1, .commit = 0};
    assert_int_equal(wal_append_hard_state(f->w, &hs), 0);
    fx_write_entries(f, 1, 400, 300, 10);
    struct wal_snapshot s = {.index = 300, .term = 1};
    assert_int_equal(wal_append_snapshot(f->w, &s), 0);
    fx_sync(f);
    fx_close(f);
    /* Every entry is still there: from the owner's older snapshot (100), or from none (0). */
    f->opt.replay_after_set = true;
    f->opt.replay_after = 100;
    assert_int_equal(fx_open(f), 0);
    assert_int_equal(f->rec.snapshot.index, 300);
    check_entries(f, 101, 400, NULL, 300);
    fx_close(f);
    f->opt.replay_after = 0;
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 400, NULL, 300);
    /* Not above the marker: 350 replays after the marker, as without the option. */
    fx_close(f);
    f->opt.replay_after = 350;
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 301, 400, NULL, 300);
    /* Released below the marker: the entries after 100 are gone. */
    assert_true(wal_release_before(f->w, 300, 2) > 0);
    fx_close(f);
    f->opt.replay_after = 100;
    assert_int_equal(fx_open(f), -RINGD_ECORRUPT);
    assert_non_null(strstr(f->rec.message, "wal: entries missing in "));
    assert_non_null(strstr(f->rec.message, "follows 100 (the snapshot)"));
    fx_free(f);
}

/* --- torn tails ------------------------------------------------------------------------------ */

enum tear {
    TEAR_CUT_LENGTH,  /* two bytes of a record's length, then zeros */
    TEAR_CUT_PAYLOAD, /* a whole head and part of its payload */
    TEAR_GARBAGE,     /* bytes that are no record, then zeros */
    TEAR_NEXT_SECTOR, /* a sector never written, then one that was */
};

static void tear(const char *path, uint64_t end, enum tear how)
{
    uint8_t rec[512];
    uint32_t crc = 0x1234;
    uint8_t data[300];
    memset(data, 'q', sizeof(data));
    struct wal_entry e = {.term = 1, .index = 1000, .data = data, .data_bytes = 300};
    uint32_t n = wal_record_put_entry(rec, sizeof(rec), &crc, &e);
    uint8_t garbage[37];
    memset(garbage, 0xa5, sizeof(garbage));
    switch (how) {
    case TEAR_CUT_LENGTH:
        write_at(path, end, rec, 2);
        break;
    case TEAR_CUT_PAYLOAD:
        write_at(path, end, rec, n / 2);
        break;
    case TEAR_GARBAGE:
        write_at(path, end, garbage, sizeof(garbage));
        break;
    case TEAR_NEXT_SECTOR:
        write_at(path, (end + 512) / 512 * 512 + 512, rec, n);
        break;
    }
}

static void torn_case(enum tear how)
{
    struct fx *f = fx_new("wal-torn", SMALL_SEGMENT * 4, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    fx_write_entries(f, 1, 20, 100, 4);
    fx_close(f);
    char path[400];
    last_segment_path(f, path, sizeof(path));
    uint64_t end = records_end(path);
    tear(path, end, how);
    assert_int_equal(fx_open(f), 0);
    print_message("%s\n", f->rec.message);
    assert_true(f->rec.torn_bytes > 0);
    assert_non_null(strstr(f->rec.message, "torn tail"));
    check_entries(f, 1, 20, NULL, 100);
    assert_int_equal(records_end(path), end); /* zeroed */
    fx_write_entries(f, 21, 30, 100, 4);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    assert_int_equal(f->rec.torn_bytes, 0);
    check_entries(f, 1, 30, NULL, 100);
    fx_free(f);
}

static void test_torn_cut_length(void **state)
{
    (void)state;
    torn_case(TEAR_CUT_LENGTH);
}

static void test_torn_cut_payload(void **state)
{
    (void)state;
    torn_case(TEAR_CUT_PAYLOAD);
}

static void test_torn_garbage(void **state)
{
    (void)state;
    torn_case(TEAR_GARBAGE);
}

static void test_torn_next_sector(void **state)
{
    (void)state;
    torn_case(TEAR_NEXT_SECTOR);
}

/* A crash after a rollover renamed the spare but before its header was written: the named
 * segment holds only zeros and is removed. */
static void test_torn_rollover(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-torn-roll", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    fx_write_entries(f, 1, 60, 300, 5);
    fx_close(f);
    char names[64][WAL_SEGMENT_NAME_BYTES];
    uint32_t n = list_segments(f, names, 64);
    assert_true(n >= 2);
    struct wal_segment_id id;
    assert_int_equal(wal_segment_parse_name(names[n - 1], &id), 0);
    id.seq++;
    id.first_index = 61;
    char name[WAL_SEGMENT_NAME_BYTES], path[400];
    wal_segment_name(name, &id);
    segment_path(f, name, path, sizeof(path));
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fallocate(fd, 0, 0, SMALL_SEGMENT), 0);
    close(fd);
    assert_int_equal(fx_open(f), 0);
    assert_non_null(strstr(f->rec.message, "without its header"));
    assert_int_equal(f->rec.segments, n);
    check_entries(f, 1, 60, NULL, 300);
    fx_write_entries(f, 61, 80, 300, 5);
    fx_close(f);
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 80, NULL, 300);
    fx_free(f);
}

/* --- corruption -------------------------------------------------------------------------- */

/* Builds 20 entries of 100 bytes in one segment and returns the offset of entry k's record. */
static uint64_t entry_offset(uint64_t k)
{
    return WAL_RECORD_HEADER_SIZE + (k - 1) * wal_record_entry_size(100);
}

static void corrupt_case(uint64_t byte_in_record, const char *why)
{
    struct fx *f = fx_new("wal-corrupt", SMALL_SEGMENT * 4, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    fx_write_entries(f, 1, 20, 100, 4);
    fx_close(f);
    char names[4][WAL_SEGMENT_NAME_BYTES], path[400];
    assert_int_equal(list_segments(f, names, 4), 1);
    segment_path(f, names[0], path, sizeof(path));
    flip_byte(path, entry_offset(18) + byte_in_record);
    assert_int_equal(fx_open(f), -RINGD_ECORRUPT);
    assert_null(f->w);
    char want[600];
    snprintf(want, sizeof(want), "wal: corrupt record in %s at offset %llu: %s", path,
             (unsigned long long)entry_offset(18), why);
    assert_string_equal(f->rec.message, want);
    /* Forced: the log is cut at the bad record and goes on from there. */
    f->opt.force = true;
    assert_int_equal(fx_open(f), 0);
    print_message("%s\n", f->rec.message);
    assert_true(f->rec.forced);
    assert_non_null(strstr(f->rec.message, "forced: the log is cut there"));
    check_entries(f, 1, 17, NULL, 100);
    fx_write_entries(f, 18, 25, 100, 4);
    fx_close(f);
    f->opt.force = false;
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 25, NULL, 100);
    fx_free(f);
}

static void test_corrupt_payload(void **state)
{
    (void)state;
    corrupt_case(40, "crc mismatch");
}

static void test_corrupt_crc_field(void **state)
{
    (void)state;
    corrupt_case(5, "crc mismatch");
}

static void test_corrupt_length_field(void **state)
{
    (void)state;
    corrupt_case(1, "damaged length (the crc matches another length)");
}

/* A bad record in a segment before the last one: refused; forced, later segments go. */
static void test_corrupt_earlier_segment(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-corrupt-seg", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    fx_write_entries(f, 1, 200, 300, 5);
    fx_close(f);
    char names[64][WAL_SEGMENT_NAME_BYTES], path[400];
    uint32_t n = list_segments(f, names, 64);
    assert_true(n >= 4);
    segment_path(f, names[1], path, sizeof(path));
    uint64_t off = WAL_RECORD_HEADER_SIZE + WAL_RECORD_HARD_STATE_SIZE * 0 + 200;
    flip_byte(path, off);
    assert_int_equal(fx_open(f), -RINGD_ECORRUPT);
    print_message("%s\n", f->rec.message);
    char want[500];
    snprintf(want, sizeof(want), "wal: corrupt record in %s at offset ", path);
    assert_memory_equal(f->rec.message, want, strlen(want));
    f->opt.force = true;
    assert_int_equal(fx_open(f), 0);
    print_message("%s\n", f->rec.message);
    assert_int_equal(f->rec.segments, 2);
    struct wal_segment_id id;
    assert_int_equal(wal_segment_parse_name(names[1], &id), 0);
    assert_true(f->rec.last_index >= id.first_index - 1);
    assert_true(f->rec.last_index < 200);
    uint64_t last = f->rec.last_index;
    check_entries(f, 1, last, NULL, 300);
    fx_write_entries(f, last + 1, last + 50, 300, 5);
    fx_close(f);
    f->opt.force = false;
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, last + 50, NULL, 300);
    fx_free(f);
}

/* Data far past what one interrupted write can leave: corruption, not a torn tail. */
static void test_corrupt_beyond_one_write(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-corrupt-far", SMALL_SEGMENT * 4, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    fx_write_entries(f, 1, 20, 100, 4);
    fx_close(f);
    char path[400];
    last_segment_path(f, path, sizeof(path));
    uint64_t end = records_end(path);
    uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    write_at(path, end + 8, junk, sizeof(junk));
    write_at(path, end + SMALL_BATCH * 2, junk, sizeof(junk));
    assert_int_equal(fx_open(f), -RINGD_ECORRUPT);
    print_message("%s\n", f->rec.message);
    assert_non_null(strstr(f->rec.message, "data after the end of the records"));
    fx_free(f);
}

/* A first segment without a header cannot come from a crash (it is created whole): refused;
 * forced, the log starts over. */
static void test_first_segment_without_header(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-no-header", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    char path[400];
    segment_path(f, "0000000000000000-0000000000000001.wal", path, sizeof(path));
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fallocate(fd, 0, 0, SMALL_SEGMENT), 0);
    close(fd);
    assert_int_equal(fx_open(f), -RINGD_ECORRUPT);
    char want[500];
    snprintf(want, sizeof(want), "wal: corrupt record in %s at offset 0: segment without a header",
             path);
    assert_string_equal(f->rec.message, want);
    f->opt.force = true;
    assert_int_equal(fx_open(f), 0);
    assert_true(f->rec.forced);
    assert_true(f->rec.created);
    fx_write_entries(f, 1, 5, 10, 5);
    fx_close(f);
    f->opt.force = false;
    assert_int_equal(fx_open(f), 0);
    check_entries(f, 1, 5, NULL, 10);
    fx_free(f);
}

static int refuse_entry(void *ctx, const struct wal_entry *e)
{
    (void)ctx;
    return e->index == 3 ? -ENOMEM : 0;
}

/* The owner can stop the replay; the open fails with its error. */
static void test_replay_stopped_by_owner(void **state)
{
    (void)state;
    struct fx *f = fx_new("wal-stop", SMALL_SEGMENT, SMALL_BATCH);
    assert_int_equal(fx_open(f), 0);
    fx_write_entries(f, 1, 5, 10, 5);
    fx_close(f);
    struct wal_callbacks cb = {.ctx = f};
    assert_int_equal(wal_open(&f->w, f->dir, &f->opt, &f->loop, &cb, &f->rec, refuse_entry, f),
                     -ENOMEM);
    assert_null(f->w);
    assert_non_null(strstr(f->rec.message, "replay stopped at index 3"));
    fx_free(f);
}

/* --- disk faults ------------------------------------------------------------------------------ */

static void fault_case(int which)
{
    struct fx *f = fx_new("wal-fault", 0, 0);
    if (which == 0)
        f->fail_fdatasync_at = 2;
    else if (which == 1)
        f->fail_write_at = 2;
    else
        f->short_write_at = 2;
    assert_int_equal(fx_open(f), 0);
    fx_write_entries(f, 1, 10, 300, 10);
    assert_int_equal(f->durable_calls, 1);
    for (uint64_t i = 11; i <= 20; i++)
        assert_int_equal(fx_append(f, i, 1, 300), 0);
    assert_int_equal(wal_flush(f->w), 0);
    for (int t = 0; t < TURNS_MAX && f->failed_calls == 0; t++)
        fx_turn(f);
    print_message("%s\n", f->failed_msg);
    assert_int_equal(f->failed_calls, 1);
    assert_int_equal(f->durable_calls, 1); /* nothing more was reported durable */
    assert_int_equal(f->last_durable.last_index, 10);
    int want = which == 0 ? -EIO : which == 1 ? -ENOSPC : -EIO;
    const char *what = which == 0 ? "fdatasync of" : which == 1 ? "writing" : "short write to";
    assert_int_equal(f->failed_err, want);
    assert_non_null(strstr(f->failed_msg, what));
    assert_non_null(strstr(f->failed_msg, "0000000000000000-0000000000000001.wal"));
    assert_string_equal(wal_error(f->w), f->failed_msg);
    struct wal_stats st;
    wal_get_stats(f->w, &st);
    assert_int_equal(st.durable_index, 10);
    /* Refused from now on. */
    assert_int_equal(fx_append(f, 21, 1, 300), want);
    struct wal_hard_state hs = {.term = 1};
    assert_int_equal(wal_append_hard_state(f->w, &hs), want);
    assert_int_equal(wal_flush(f->w), want);
    fx_close(f);
    assert_int_equal(f->failed_calls, 1);
    fx_free(f);
}

static void test_fdatasync_fails(void **state)
{
    (void)state;
    fault_case(0);
}

static void test_write_fails(void **state)
{
    (void)state;
    fault_case(1);
}

static void test_short_write(void **state)
{
    (void)state;
    fault_case(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_chain),
        cmocka_unit_test(test_new_directory),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_group_commit_under_load),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_replay_state_and_overwrites),
        cmocka_unit_test(test_rollover_and_replay),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_replay_after_older_snapshot),
        cmocka_unit_test(test_torn_cut_length),
        cmocka_unit_test(test_torn_cut_payload),
        cmocka_unit_test(test_torn_garbage),
        cmocka_unit_test(test_torn_next_sector),
        cmocka_unit_test(test_torn_rollover),
        cmocka_unit_test(test_corrupt_payload),
        cmocka_unit_test(test_corrupt_crc_field),
        cmocka_unit_test(test_corrupt_length_field),
        cmocka_unit_test(test_corrupt_earlier_segment),
        cmocka_unit_test(test_corrupt_beyond_one_write),
        cmocka_unit_test(test_first_segment_without_header),
        cmocka_unit_test(test_replay_stopped_by_owner),
        cmocka_unit_test(test_fdatasync_fails),
        cmocka_unit_test(test_write_fails),
        cmocka_unit_test(test_short_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
