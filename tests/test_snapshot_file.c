/* io/snapshot_file: records written and read back (empty, small, larger than the write buffer),
 * the file's name and its durability steps' results (no temporary file left), a byte flipped in
 * the middle and truncations refused with the file and offset named, bytes after the trailer,
 * a header that is not the name's, leftover temporary files removed, the newest valid snapshot
 * chosen over a corrupt newer one, and pruning. Everything lives in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringd_error.h"
#include "snapshot_file.h"
#include "test_support.h"

#define RECORDS_MAX 64
#define BIG_BYTES   (SNAPSHOT_WRITE_BUFFER_BYTES + SNAPSHOT_WRITE_BUFFER_BYTES / 2)

struct fx {
    char dir[256];
    uint64_t offsets[RECORDS_MAX]; /* where each record of the last file written starts */
    uint64_t end;                  /* where its trailer starts */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s", test_temp_dir("snapfile"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    test_remove_dir(f->dir);
    free(f);
    return 0;
}

/* Record i: type 1 + i % 3, payload of a size that depends on i, filled from i. */
static uint32_t payload_bytes_of(uint32_t i)
{
    return i == 5 ? BIG_BYTES : (i * 37) % 300;
}

static void payload_fill(uint32_t i, uint8_t *p, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        p[k] = (uint8_t)(i * 31 + k);
}

/* Writes a snapshot of n records at (term, index); records where each starts. */
static void write_snapshot(struct fx *f, uint64_t term, uint64_t index, uint32_t n)
{
    assert_true(n <= RECORDS_MAX);
    struct snapshot_file_writer *w = malloc(sizeof(*w));
    assert_non_null(w);
    struct snapshot_file_id id = {.term = term, .index = index};
    assert_int_equal(snapshot_file_create(w, f->dir, &id), 0);
    uint8_t *p = malloc(BIG_BYTES);
    assert_non_null(p);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t bytes = payload_bytes_of(i);
        payload_fill(i, p, bytes);
        f->offsets[i] = w->offset;
        /* The first 8 bytes as the fixed part, the rest as the tail: both paths of append. */
        uint32_t fixed = bytes < 8 ? bytes : 8;
        assert_int_equal(
            snapshot_file_append(w, (uint8_t)(1 + i % 3), p, fixed, p + fixed, bytes - fixed), 0);
    }
    f->end = w->offset;
    assert_int_equal(snapshot_file_commit(w), 0);
    free(p);
    free(w);
}

static void path_of(const struct fx *f, uint64_t term, uint64_t index, char *path, size_t len)
{
    char name[SNAPSHOT_FILE_NAME_BYTES];
    snapshot_file_name(name, &(struct snapshot_file_id){.term = term, .index = index});
    snprintf(path, len, "%s/%s", f->dir, name);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static uint32_t count_files(const struct fx *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    uint32_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Reads every record back and checks them against what write_snapshot wrote. */
static void check_records(struct snapshot_file_reader *r, uint32_t n)
{
    uint8_t *p = malloc(BIG_BYTES);
    assert_non_null(p);
    struct snapshot_file_record rec;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(snapshot_file_next(r, &rec), 1);
        assert_int_equal(rec.type, 1 + i % 3);
        assert_int_equal(rec.payload_bytes, payload_bytes_of(i));
        payload_fill(i, p, rec.payload_bytes);
        assert_memory_equal(rec.payload, p, rec.payload_bytes);
    }
    assert_int_equal(snapshot_file_next(r, &rec), 0);
    assert_int_equal(snapshot_file_next(r, &rec), 0);
    free(p);
}

static void flip_byte(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)offset), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)offset), 1);
    close(fd);
}

/* The reader's message names path and the offset. */
static void assert_names(const struct snapshot_file_reader *r, const char *path, uint64_t offset)
{
    char want[700];
    snprintf(want, sizeof(want), "%s at offset %" PRIu64 ":", path, offset);
    if (strstr(r->message, want) == NULL)
        fail_msg("message \"%s\" does not name \"%s\"", r->message, want);
}

/* --- tests ------------------------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    write_snapshot(f, 3, 0x1234, 10);
    char path[600];
    path_of(f, 3, 0x1234, path, sizeof(path));
    assert_true(exists(path));
    assert_non_null(strstr(path, "0000000000000003-0000000000001234.snap"));
    assert_int_equal(count_files(f), 1); /* no temporary file left */

    struct snapshot_file_reader r;
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), 0);
    assert_true(r.fd >= 0);
    assert_int_equal(r.id.term, 3);
    assert_int_equal(r.id.index, 0x1234);
    assert_string_equal(r.message, "");
    check_records(&r, 10);
    snapshot_file_close(&r);
}

static void test_names(void **state)
{
    (void)state;
    struct snapshot_file_id id;
    assert_int_equal(snapshot_file_parse_name("000000000000000a-00000000000000ff.snap", &id), 0);
    assert_int_equal(id.term, 10);
    assert_int_equal(id.index, 255);
    assert_int_equal(snapshot_file_parse_name("000000000000000a-00000000000000ff.snap.tmp", &id),
                     -1);
    assert_int_equal(snapshot_file_parse_name("000000000000000A-00000000000000ff.snap", &id), -1);
    assert_int_equal(snapshot_file_parse_name("0000000000000001-0000000000000002.wal", &id), -1);
    assert_int_equal(snapshot_file_parse_name("x.snap", &id), -1);
}

static void test_no_snapshot(void **state)
{
    struct fx *f = *state;
    struct snapshot_file_reader r;
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), 0);
    assert_int_equal(r.fd, -1);
    snapshot_file_close(&r);

    char missing[600];
    snprintf(missing, sizeof(missing), "%s/missing", f->dir);
    assert_int_equal(snapshot_file_open_newest(&r, missing), 0);
    assert_int_equal(r.fd, -1);
    snapshot_file_close(&r);
}

static void test_corrupt_byte(void **state)
{
    struct fx *f = *state;
    write_snapshot(f, 2, 100, 12);
    char path[600];
    path_of(f, 2, 100, path, sizeof(path));
    /* A byte inside record 7's payload. */
    flip_byte(path, f->offsets[7] + SNAPSHOT_FILE_RECORD_HEAD + 3);
    struct snapshot_file_reader r;
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, path, f->offsets[7]);
    assert_non_null(strstr(r.message, "crc mismatch"));
    snapshot_file_close(&r);
    assert_true(exists(path)); /* kept for whoever looks into it */

    /* A length field: the record no longer ends where the next begins. */
    flip_byte(path, f->offsets[7] + SNAPSHOT_FILE_RECORD_HEAD + 3); /* undo */
    flip_byte(path, f->offsets[2]);
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, path, f->offsets[2]);
    snapshot_file_close(&r);
}

static void test_corrupt_header(void **state)
{
    struct fx *f = *state;
    write_snapshot(f, 2, 100, 3);
    char path[600];
    path_of(f, 2, 100, path, sizeof(path));
    flip_byte(path, 20); /* the index */
    struct snapshot_file_reader r;
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, path, 0);
    snapshot_file_close(&r);

    /* A whole file under another index's name. */
    flip_byte(path, 20);
    char other[600];
    path_of(f, 2, 101, other, sizeof(other));
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, other, 16);
    snapshot_file_close(&r);
}

static void test_truncated(void **state)
{
    struct fx *f = *state;
    write_snapshot(f, 1, 50, 8);
    char path[600];
    path_of(f, 1, 50, path, sizeof(path));
    struct snapshot_file_reader r;

    /* Inside record 6: it runs past the end. */
    assert_int_equal(truncate(path, (off_t)(f->offsets[6] + 12)), 0);
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, path, f->offsets[6]);
    assert_non_null(strstr(r.message, "truncated"));
    snapshot_file_close(&r);

    /* At a record boundary: every record good, no trailer. */
    assert_int_equal(truncate(path, (off_t)f->offsets[6]), 0);
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, path, f->offsets[6]);
    assert_non_null(strstr(r.message, "no trailer"));
    snapshot_file_close(&r);

    /* Inside the header. */
    assert_int_equal(truncate(path, 20), 0);
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, path, 20);
    snapshot_file_close(&r);
}

static void test_bytes_after_trailer(void **state)
{
    struct fx *f = *state;
    write_snapshot(f, 1, 50, 4);
    char path[600];
    path_of(f, 1, 50, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    struct snapshot_file_reader r;
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, path, (uint64_t)st.st_size);
    snapshot_file_close(&r);
}

/* A crash before the rename leaves "<name>.snap.tmp": ignored for the older complete file,
 * and removed. */
static void test_leftover_tmp(void **state)
{
    struct fx *f = *state;
    write_snapshot(f, 1, 10, 3);
    struct snapshot_file_writer w;
    struct snapshot_file_id id = {.term = 1, .index = 20};
    assert_int_equal(snapshot_file_create(&w, f->dir, &id), 0);
    assert_int_equal(snapshot_file_append(&w, 1, "abc", 3, NULL, 0), 0);
    assert_int_equal(snapshot_file_flush(&w), 0);
    char tmp[SNAPSHOT_FILE_PATH_BYTES];
    snprintf(tmp, sizeof(tmp), "%s", w.path);
    close(w.fd); /* the crash: no commit, no abort */
    close(w.dirfd);
    free(w.buf);
    assert_true(exists(tmp));
    /* A file that only looks like one is not ours to remove. */
    char other[600];
    snprintf(other, sizeof(other), "%s/notes.snap.tmp", f->dir);
    int fd = open(other, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);

    struct snapshot_file_reader r;
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), 0);
    assert_int_equal(r.id.index, 10);
    assert_string_equal(r.message, "");
    check_records(&r, 3);
    snapshot_file_close(&r);
    assert_false(exists(tmp));
    assert_true(exists(other));

    /* abort removes its own temporary file. */
    id.index = 30;
    assert_int_equal(snapshot_file_create(&w, f->dir, &id), 0);
    snprintf(tmp, sizeof(tmp), "%s", w.path);
    assert_true(exists(tmp));
    snapshot_file_abort(&w);
    assert_false(exists(tmp));
}

static void test_newest_valid_chosen(void **state)
{
    struct fx *f = *state;
    write_snapshot(f, 5, 10, 3); /* a higher term, a lower index */
    write_snapshot(f, 3, 20, 4);
    write_snapshot(f, 4, 30, 6);
    char newest[600];
    path_of(f, 4, 30, newest, sizeof(newest));
    struct snapshot_file_reader r;
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), 0);
    assert_int_equal(r.id.index, 30);
    check_records(&r, 6);
    snapshot_file_close(&r);

    /* The newest corrupt: the next older one, with the newest named. */
    flip_byte(newest, f->offsets[4] + SNAPSHOT_FILE_RECORD_HEAD);
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), 0);
    assert_int_equal(r.id.index, 20);
    assert_int_equal(r.id.term, 3);
    assert_names(&r, newest, f->offsets[4]);
    check_records(&r, 4);
    snapshot_file_close(&r);

    /* Every one corrupt: refused, each named. */
    char p20[600], p10[600];
    path_of(f, 3, 20, p20, sizeof(p20));
    path_of(f, 5, 10, p10, sizeof(p10));
    flip_byte(p20, SNAPSHOT_FILE_HEADER_BYTES + SNAPSHOT_FILE_RECORD_HEAD);
    assert_int_equal(truncate(p10, SNAPSHOT_FILE_HEADER_BYTES), 0);
    assert_int_equal(snapshot_file_open_newest(&r, f->dir), -RINGD_ECORRUPT);
    assert_names(&r, newest, f->offsets[4]);
    assert_names(&r, p20, SNAPSHOT_FILE_HEADER_BYTES);
    assert_names(&r, p10, SNAPSHOT_FILE_HEADER_BYTES);
    snapshot_file_close(&r);
}

static void test_prune(void **state)
{
    struct fx *f = *state;
    uint64_t index[] = {40, 10, 50, 20, 30};
    for (int i = 0; i < 5; i++)
        write_snapshot(f, 2, index[i], 1);
    char msg[SNAPSHOT_MESSAGE_BYTES_MAX];
    assert_int_equal(snapshot_file_prune(f->dir, 0, msg, sizeof(msg)), 0);
    assert_int_equal(count_files(f), 5);
    assert_int_equal(snapshot_file_prune(f->dir, 5, msg, sizeof(msg)), 0);
    assert_int_equal(count_files(f), 5);
    assert_int_equal(snapshot_file_prune(f->dir, 2, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "");
    assert_int_equal(count_files(f), 2);
    char path[600];
    for (int i = 0; i < 5; i++) {
        path_of(f, 2, index[i], path, sizeof(path));
        assert_int_equal(exists(path), index[i] >= 40);
    }
    assert_int_equal(snapshot_file_prune(f->dir, 1, msg, sizeof(msg)), 0);
    path_of(f, 2, 50, path, sizeof(path));
    assert_true(exists(path));
    assert_int_equal(count_files(f), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_no_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_after_trailer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newest_valid_chosen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
