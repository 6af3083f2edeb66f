/* The MVCC store: revision arithmetic, generations, reads at past revisions, etcd's range
 * conventions, ordering across partitions, delete ranges, transaction isolation, compaction
 * (boundaries, grace period, raised targets, memory), a seeded model test and a concurrent
 * writer with readers checking atomic visibility.
 *
 * The model test prints its seed on failure; RINGD_MVCC_SEED=<seed> replays it and
 * RINGD_MVCC_MODEL_RUNS=<n> runs more seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvcc.h"
#include "ringd_error.h"
#include "skiplist.h"
#include "test_support.h"

#define B(lit)   (const uint8_t *)(lit), (uint32_t)(sizeof(lit) - 1)
#define NO_END   NULL, 0
#define ROWS_MAX 4096

/* A store and one reader for the main thread. The reader's ck_epoch record is cache-line
 * aligned, hence aligned_alloc. */
struct fixture {
    struct mvcc_store s;
    struct mvcc_reader r;
};

static int setup(void **state)
{
    size_t bytes = (sizeof(struct fixture) + 63) & ~(size_t)63;
    struct fixture *f = aligned_alloc(64, bytes);
    assert_non_null(f);
    memset(f, 0, sizeof(*f));
    assert_int_equal(mvcc_store_init(&f->s), 0);
    mvcc_reader_register(&f->s, &f->r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mvcc_store_destroy(&f->s);
    free(f);
    return 0;
}

/* One row of a read, copied out of the read section. */
struct row {
    uint8_t key[64];
    uint32_t key_len;
    uint8_t value[64];
    uint32_t value_len;
    int64_t mod_rev, create_rev, version, lease;
    uint32_t mod_sub;
    int64_t versions_kept; /* length of the version chain from the visible version */
};

static void row_fill(struct row *row, const struct mvcc_kv *kv)
{
    assert_true(kv->key_len <= sizeof(row->key));
    assert_true(kv->v->value_len <= sizeof(row->value));
    memcpy(row->key, kv->key, kv->key_len);
    row->key_len = kv->key_len;
    memcpy(row->value, kv->v->value, kv->v->value_len);
    row->value_len = kv->v->value_len;
    row->mod_rev = kv->v->mod_rev;
    row->create_rev = kv->v->create_rev;
    row->version = kv->v->version;
    row->lease = kv->v->lease;
    row->mod_sub = kv->v->mod_sub;
    assert_false(kv->v->tombstone);
    assert_ptr_equal(kv->v->key->bytes, kv->key);
    row->versions_kept = 0;
    for (const struct mvcc_version *v = kv->v; v != NULL; v = atomic_load(&v->older))
        row->versions_kept++;
}

/* Reads [key, end) at rev in one read section; returns the row count or a negative error. */
static int read_range(struct fixture *f, const uint8_t *key, uint32_t key_len, const uint8_t *end,
                      uint32_t end_len, int64_t rev, struct row *rows, int rows_max)
{
    struct mvcc_cursor c;
    int64_t at = -1;
    mvcc_read_begin(&f->r);
    int err = mvcc_cursor_open(&c, &f->s, key, key_len, end, end_len, rev, &at);
    if (err != 0) {
        mvcc_read_end(&f->r);
        return err;
    }
    assert_true(rev <= 0 ? at == mvcc_current_rev(&f->s) : at == rev);
    int n = 0;
    struct mvcc_kv kv;
    while (mvcc_cursor_next(&c, &kv)) {
        assert_true(n < rows_max);
        row_fill(&rows[n++], &kv);
    }
    mvcc_read_end(&f->r);
    return n;
}

/* The single key at rev: true and *row when visible. */
static bool get(struct fixture *f, const uint8_t *key, uint32_t key_len, int64_t rev,
                struct row *row)
{
    int n = read_range(f, key, key_len, NO_END, rev, row, 1);
    assert_true(n == 0 || n == 1);
    return n == 1;
}

static int64_t put(struct mvcc_store *s, const char *key, const char *value)
{
    struct mvcc_txn t;
    mvcc_txn_begin(s, &t);
    assert_int_equal(mvcc_txn_put(&t, (const uint8_t *)key, (uint32_t)strlen(key),
                                  (const uint8_t *)value, (uint32_t)strlen(value), 0, NULL),
                     0);
    return mvcc_txn_end(&t);
}

/* Deletes [key, end); end NULL: the single key; end "": etcd's "\0" (every key >= key). */
static int64_t del(struct mvcc_store *s, const char *key, const char *end)
{
    uint32_t end_len = end == NULL ? 0 : end[0] == 0 ? 1 : (uint32_t)strlen(end);
    struct mvcc_txn t;
    mvcc_txn_begin(s, &t);
    int64_t n = mvcc_txn_delete_range(&t, (const uint8_t *)key, (uint32_t)strlen(key),
                                      (const uint8_t *)end, end_len, NULL, NULL);
    assert_true(n >= 0);
    mvcc_txn_end(&t);
    return n;
}

static void assert_row(const struct row *row, const char *value, int64_t mod_rev,
                       int64_t create_rev, int64_t version)
{
    assert_int_equal(row->value_len, strlen(value));
    assert_memory_equal(row->value, value, row->value_len);
    assert_int_equal(row->mod_rev, mod_rev);
    assert_int_equal(row->create_rev, create_rev);
    assert_int_equal(row->version, version);
}

/* Runs compaction to the end with no reader in a section, then frees what it unlinked. */
static void compact_finish(struct mvcc_store *s)
{
    for (int i = 0; i < 1000000 && !mvcc_compact_step(s, 64); i++)
        ;
    assert_true(mvcc_compact_step(s, 64));
    mvcc_reclaim(s);
}

/* What the store should hold for the keys visible at rev when nothing else is kept: each key
 * node plus its kept versions (valid right after compacting at the current revision). */
static int64_t expected_bytes(struct fixture *f, int64_t rev)
{
    int64_t bytes = 0;
    mvcc_read_begin(&f->r);
    struct mvcc_cursor c;
    assert_int_equal(mvcc_cursor_open(&c, &f->s, B(""), B("\0"), rev, NULL), 0);
    struct mvcc_kv kv;
    while (mvcc_cursor_next(&c, &kv)) {
        bytes += (int64_t)skiplist_node_bytes(kv.v->key->height, kv.key_len);
        for (const struct mvcc_version *v = kv.v; v != NULL; v = atomic_load(&v->older)) {
            size_t n = offsetof(struct mvcc_version, value) + v->value_len;
            bytes += (int64_t)(n < sizeof(*v) ? sizeof(*v) : n);
        }
    }
    mvcc_read_end(&f->r);
    return bytes;
}

/* --- revisions and generations ---------------------------------------------------------------- */

static void test_revision_arithmetic(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mvcc_current_rev(&f->s), 1);
    assert_int_equal(mvcc_compact_rev(&f->s), -1);
    assert_int_equal(mvcc_bytes(&f->s), 0);
    assert_int_equal(put(&f->s, "a", "1"), 2);
    assert_int_equal(put(&f->s, "b", "2"), 3);

    /* Three changes in one transaction: one main revision, sub revisions 0, 1, 2. */
    struct mvcc_txn t;
    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(t.rev, 4);
    assert_int_equal(mvcc_txn_put(&t, B("c"), B("3"), 0, NULL), 0);
    assert_int_equal(mvcc_txn_put(&t, B("d"), B("4"), 0, NULL), 0);
    assert_int_equal(mvcc_txn_delete_range(&t, B("a"), NO_END, NULL, NULL), 1);
    assert_int_equal(mvcc_txn_end(&t), 4);
    struct row row;
    assert_true(get(f, B("c"), 0, &row));
    assert_int_equal(row.mod_rev, 4);
    assert_int_equal(row.mod_sub, 0);
    assert_true(get(f, B("d"), 0, &row));
    assert_int_equal(row.mod_sub, 1);
    assert_false(get(f, B("a"), 0, &row));

    /* A transaction that changes nothing does not advance, nor does deleting nothing. */
    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(mvcc_txn_end(&t), 4);
    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(mvcc_txn_delete_range(&t, B("zz"), NO_END, NULL, NULL), 0);
    assert_int_equal(mvcc_txn_delete_range(&t, B("a"), NO_END, NULL, NULL), 0);
    assert_int_equal(mvcc_txn_end(&t), 4);
    assert_int_equal(mvcc_current_rev(&f->s), 4);
    assert_int_equal(put(&f->s, "e", "5"), 5);
    assert_true(mvcc_bytes(&f->s) > 0);
}

static void test_generations(void **state)
{
    struct fixture *f = *state;
    struct row row;
    const struct mvcc_version *prev = (const void *)1;
    struct mvcc_txn t;
    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(mvcc_txn_put(&t, B("k"), B("v1"), 7, &prev), 0);
    assert_null(prev);
    assert_int_equal(mvcc_txn_end(&t), 2);
    assert_true(get(f, B("k"), 0, &row));
    assert_row(&row, "v1", 2, 2, 1);
    assert_int_equal(row.lease, 7);

    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(mvcc_txn_put(&t, B("k"), B("v2"), 0, &prev), 0);
    assert_non_null(prev);
    assert_int_equal(prev->mod_rev, 2);
    assert_int_equal(prev->version, 1);
    /* A second put of the key in the same transaction sees the first. */
    assert_int_equal(mvcc_txn_put(&t, B("k"), B("v3"), 0, &prev), 0);
    assert_int_equal(prev->mod_rev, 3);
    assert_int_equal(prev->version, 2);
    assert_int_equal(mvcc_txn_end(&t), 3);
    assert_true(get(f, B("k"), 0, &row));
    assert_row(&row, "v3", 3, 2, 3);
    assert_int_equal(row.mod_sub, 1);
    assert_int_equal(row.lease, 0);

    assert_int_equal(del(&f->s, "k", NULL), 1); /* rev 4: tombstone ends the generation */
    assert_false(get(f, B("k"), 0, &row));
    assert_false(get(f, B("k"), 4, &row));
    assert_true(get(f, B("k"), 3, &row));
    assert_row(&row, "v3", 3, 2, 3);

    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(mvcc_txn_put(&t, B("k"), B("again"), 0, &prev), 0);
    assert_null(prev); /* the last version is a tombstone */
    assert_int_equal(mvcc_txn_end(&t), 5);
    assert_true(get(f, B("k"), 0, &row));
    assert_row(&row, "again", 5, 5, 1);
    assert_int_equal(put(&f->s, "k", "more"), 6);
    assert_true(get(f, B("k"), 0, &row));
    assert_row(&row, "more", 6, 5, 2);
}

static void test_past_revisions(void **state)
{
    struct fixture *f = *state;
    put(&f->s, "a", "a2"); /* 2 */
    put(&f->s, "b", "b3"); /* 3 */
    put(&f->s, "a", "a4"); /* 4 */
    del(&f->s, "b", NULL); /* 5 */
    put(&f->s, "c", "c6"); /* 6 */
    del(&f->s, "a", NULL); /* 7 */
    put(&f->s, "b", "b8"); /* 8 */
    /* Expected (key=value) at each revision 1..8. */
    static const char *want[9] = {
        NULL, "", "a=a2", "a=a2 b=b3", "a=a4 b=b3", "a=a4", "a=a4 c=c6", "c=c6", "b=b8 c=c6",
    };
    struct row rows[8];
    for (int64_t rev = 1; rev <= 8; rev++) {
        int n = read_range(f, B(""), B("\0"), rev, rows, 8);
        char got[64] = "";
        for (int i = 0; i < n; i++) {
            char item[32];
            snprintf(item, sizeof(item), "%s%.*s=%.*s", i ? " " : "", (int)rows[i].key_len,
                     (const char *)rows[i].key, (int)rows[i].value_len,
                     (const char *)rows[i].value);
            strcat(got, item);
        }
        assert_string_equal(got, want[rev]);
    }
    assert_int_equal(read_range(f, B(""), B("\0"), 9, rows, 8), -RINGD_EFUTURE_REV);
    assert_int_equal(read_range(f, B(""), B("\0"), -1, rows, 8), 2); /* <= 0: current */
}

/* --- ranges ------------------------------------------------------------------------------------
 */

static void keys_of(const struct row *rows, int n, char *out, size_t out_len)
{
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        char item[80];
        snprintf(item, sizeof(item), "%s%.*s", i ? " " : "", (int)rows[i].key_len,
                 (const char *)rows[i].key);
        strncat(out, item, out_len - strlen(out) - 1);
    }
}

static void assert_range(struct fixture *f, const uint8_t *key, uint32_t key_len,
                         const uint8_t *end, uint32_t end_len, const char *want)
{
    struct row rows[16];
    char got[256];
    int n = read_range(f, key, key_len, end, end_len, 0, rows, 16);
    assert_true(n >= 0);
    keys_of(rows, n, got, sizeof(got));
    assert_string_equal(got, want);
}

static void test_range_conventions(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {"a", "ab", "abc", "abd", "b", "ba", "c"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        put(&f->s, keys[i], keys[i]);
    /* end_len == 0: the single key, exactly. */
    assert_range(f, B("ab"), NO_END, "ab");
    assert_range(f, B("aa"), NO_END, "");
    assert_range(f, B("abcd"), NO_END, "");
    /* A prefix: [key, key with its last byte + 1). */
    assert_range(f, B("ab"), B("ac"), "ab abc abd");
    assert_range(f, B("a"), B("b"), "a ab abc abd");
    /* "\0": every key >= key; from "" that is everything. */
    assert_range(f, B("abd"), B("\0"), "abd b ba c");
    assert_range(f, B(""), B("\0"), "a ab abc abd b ba c");
    assert_range(f, B("d"), B("\0"), "");
    /* end <= key: empty, as etcd's index returns. */
    assert_range(f, B("b"), B("b"), "");
    assert_range(f, B("b"), B("a"), "");
    assert_range(f, B("b"), B("ab"), "");
    /* A longer end that is still before the key (a prefix of it) is empty too. */
    assert_range(f, B("ab"), B("a"), "");
    /* Other ends with zero bytes are ordinary keys. */
    assert_range(f, B("a"), B("a\0"), "a");
    assert_range(f, B("a"), B("\0\0"), "");
}

/* splitmix64: the tests' own seeded randomness. */
static uint64_t rnd_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint64_t *x, uint32_t n)
{
    return (uint32_t)(rnd_next(x) % n);
}

struct bkey {
    uint8_t b[12];
    uint32_t len;
};

static int bkey_cmp(const void *a, const void *b)
{
    const struct bkey *x = a, *y = b;
    return skiplist_key_cmp(x->b, x->len, y->b, y->len);
}

static void test_order_across_partitions(void **state)
{
    struct fixture *f = *state;
    enum { N = 2000 };
    static struct bkey keys[N];
    static struct row rows[N];
    static const uint8_t alphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xff};
    uint64_t x = 42;
    int n = 0;
    struct mvcc_txn t;
    mvcc_txn_begin(&f->s, &t);
    while (n < N) {
        struct bkey k = {.len = 1 + rnd_below(&x, 6)};
        for (uint32_t i = 0; i < k.len; i++)
            k.b[i] = alphabet[rnd_below(&x, sizeof(alphabet))];
        struct mvcc_cursor c;
        struct mvcc_kv kv;
        mvcc_txn_cursor(&t, &c, k.b, k.len, NO_END);
        if (mvcc_cursor_next(&c, &kv))
            continue; /* already there */
        assert_int_equal(mvcc_txn_put(&t, k.b, k.len, k.b, k.len, 0, NULL), 0);
        keys[n++] = k;
    }
    mvcc_txn_end(&t);
    qsort(keys, N, sizeof(keys[0]), bkey_cmp);
    assert_int_equal(read_range(f, B(""), B("\0"), 0, rows, N), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rows[i].key_len, keys[i].len);
        assert_memory_equal(rows[i].key, keys[i].b, keys[i].len);
    }
    /* Sub-ranges [keys[lo], keys[hi]) hold exactly lo..hi-1. */
    for (int round = 0; round < 200; round++) {
        int lo = (int)rnd_below(&x, N), hi = (int)rnd_below(&x, N);
        int got = read_range(f, keys[lo].b, keys[lo].len, keys[hi].b, keys[hi].len, 0, rows, N);
        assert_int_equal(got, hi > lo ? hi - lo : 0);
        for (int i = 0; i < got; i++)
            assert_memory_equal(rows[i].key, keys[lo + i].b, keys[lo + i].len);
    }
}

/* --- delete ranges and transactions -------------------------------------------------------- */

struct deleted_log {
    char keys[256];
    int64_t mod_revs_sum;
};

static void on_deleted(void *arg, const struct mvcc_kv *kv)
{
    struct deleted_log *log = arg;
    char item[32];
    snprintf(item, sizeof(item), "%s%.*s", log->keys[0] ? " " : "", (int)kv->key_len,
             (const char *)kv->key);
    strcat(log->keys, item);
    log->mod_revs_sum += kv->v->mod_rev;
    assert_false(kv->v->tombstone);
}

static void test_delete_range(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {"j", "b", "e", "a", "g", "c", "i", "d", "h", "f"};
    for (int i = 0; i < 10; i++)
        put(&f->s, keys[i], keys[i]); /* revs 2..11 */
    struct deleted_log log = {0};
    struct mvcc_txn t;
    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(mvcc_txn_delete_range(&t, B("c"), B("f"), on_deleted, &log), 3);
    assert_string_equal(log.keys, "c d e");
    assert_int_equal(log.mod_revs_sum, 7 + 9 + 4);
    /* The transaction's own cursor sees the deletes, a reader does not yet. */
    assert_int_equal(mvcc_txn_delete_range(&t, B("c"), B("f"), NULL, NULL), 0);
    assert_range(f, B("c"), B("f"), "c d e");
    assert_int_equal(mvcc_txn_end(&t), 12);
    assert_range(f, B(""), B("\0"), "a b f g h i j");
    struct row row;
    assert_true(get(f, B("d"), 11, &row));

    memset(&log, 0, sizeof(log));
    mvcc_txn_begin(&f->s, &t);
    assert_int_equal(mvcc_txn_delete_range(&t, B("g"), NO_END, on_deleted, &log), 1);
    assert_int_equal(mvcc_txn_delete_range(&t, B("h"), B("\0"), on_deleted, &log), 3);
    assert_string_equal(log.keys, "g h i j");
    assert_int_equal(mvcc_txn_end(&t), 13);
    assert_range(f, B(""), B("\0"), "a b f");
    assert_int_equal(del(&f->s, "z", "a"), 0); /* end <= key */
    assert_int_equal(del(&f->s, "", ""), 3);
    assert_int_equal(mvcc_current_rev(&f->s), 14);
    assert_range(f, B(""), B("\0"), "");
}

static void test_txn_isolation(void **state)
{
    struct fixture *f = *state;
    put(&f->s, "x", "old"); /* 2 */
    struct mvcc_txn t;
    struct mvcc_cursor c;
    struct mvcc_kv kv;
    struct row row;
    mvcc_txn_begin(&f->s, &t);
    /* Before any change the transaction reads at the current revision. */
    mvcc_txn_cursor(&t, &c, B("x"), NO_END);
    assert_true(mvcc_cursor_next(&c, &kv));
    assert_int_equal(kv.v->mod_rev, 2);
    assert_int_equal(mvcc_txn_put(&t, B("x"), B("new"), 0, NULL), 0);
    assert_int_equal(mvcc_txn_put(&t, B("y"), B("y"), 0, NULL), 0);
    mvcc_txn_cursor(&t, &c, B(""), B("\0"));
    assert_true(mvcc_cursor_next(&c, &kv));
    assert_int_equal(kv.v->mod_rev, 3);
    assert_memory_equal(kv.v->value, "new", 3);
    assert_true(mvcc_cursor_next(&c, &kv));
    assert_memory_equal(kv.key, "y", 1);
    assert_false(mvcc_cursor_next(&c, &kv));
    /* A reader sees none of it: revision 3 is not published, and is a future one. */
    assert_true(get(f, B("x"), 0, &row));
    assert_row(&row, "old", 2, 2, 1);
    assert_false(get(f, B("y"), 0, &row));
    assert_int_equal(read_range(f, B("x"), NO_END, 3, &row, 1), -RINGD_EFUTURE_REV);
    /* The delete inside the transaction sees the transaction's own put. */
    assert_int_equal(mvcc_txn_delete_range(&t, B("y"), NO_END, NULL, NULL), 1);
    assert_int_equal(mvcc_txn_end(&t), 3);
    assert_true(get(f, B("x"), 0, &row));
    assert_row(&row, "new", 3, 2, 2);
    assert_int_equal(row.mod_sub, 0);
    assert_false(get(f, B("y"), 0, &row));
}

/* --- compaction ---------------------------------------------------------------------------- */

/* After compaction at rev has finished: every key visible now keeps at most one version at or
 * below rev, and that one is not a tombstone. */
static void assert_trimmed(struct fixture *f, int64_t rev)
{
    mvcc_read_begin(&f->r);
    struct mvcc_cursor c;
    assert_int_equal(mvcc_cursor_open(&c, &f->s, B(""), B("\0"), 0, NULL), 0);
    struct mvcc_kv kv;
    while (mvcc_cursor_next(&c, &kv)) {
        int at_or_below = 0;
        for (const struct mvcc_version *v = kv.v; v != NULL; v = atomic_load(&v->older)) {
            if (v->mod_rev <= rev) {
                at_or_below++;
                assert_false(v->tombstone);
            }
        }
        assert_true(at_or_below <= 1);
    }
    mvcc_read_end(&f->r);
}

static void test_compaction_boundaries(void **state)
{
    struct fixture *f = *state;
    struct row row;
    put(&f->s, "a", "v2"); /* 2 */
    put(&f->s, "a", "v3"); /* 3 */
    put(&f->s, "b", "b4"); /* 4 */
    put(&f->s, "a", "v5"); /* 5 */
    put(&f->s, "t", "t6"); /* 6 */
    del(&f->s, "t", NULL); /* 7 */
    assert_int_equal(mvcc_compact(&f->s, 8), -RINGD_EFUTURE_REV);
    assert_int_equal(mvcc_compact(&f->s, 3), 0);
    assert_int_equal(mvcc_compact_rev(&f->s), 3);
    /* Published at once, before any step. */
    assert_int_equal(read_range(f, B("a"), NO_END, 2, &row, 1), -RINGD_ECOMPACTED);
    assert_true(get(f, B("a"), 3, &row));
    assert_row(&row, "v3", 3, 2, 2);
    assert_int_equal(read_range(f, B("a"), NO_END, 8, &row, 1), -RINGD_EFUTURE_REV);
    assert_int_equal(mvcc_compact(&f->s, 3), -RINGD_ECOMPACTED);
    assert_int_equal(mvcc_compact(&f->s, 2), -RINGD_ECOMPACTED);
    compact_finish(&f->s);
    assert_trimmed(f, 3);
    assert_true(get(f, B("a"), 3, &row));
    assert_row(&row, "v3", 3, 2, 2);
    assert_true(get(f, B("a"), 0, &row));
    assert_int_equal(row.versions_kept, 2); /* v5, and v3 as the newest <= 3 */
    assert_true(get(f, B("t"), 6, &row));

    /* At the current revision: the tombstone-only key leaves, the newest versions stay. */
    int64_t before = mvcc_bytes(&f->s);
    assert_int_equal(mvcc_compact(&f->s, 7), 0);
    assert_int_equal(mvcc_compact(&f->s, 7), -RINGD_ECOMPACTED);
    compact_finish(&f->s);
    assert_trimmed(f, 7);
    assert_true(mvcc_bytes(&f->s) < before);
    assert_int_equal(mvcc_bytes(&f->s), expected_bytes(f, 7));
    assert_true(get(f, B("a"), 7, &row));
    assert_row(&row, "v5", 5, 2, 3);
    assert_int_equal(row.versions_kept, 1);
    assert_true(get(f, B("b"), 0, &row));
    assert_int_equal(row.versions_kept, 1);
    assert_false(get(f, B("t"), 7, &row));
    assert_int_equal(read_range(f, B("t"), NO_END, 6, &row, 1), -RINGD_ECOMPACTED);
    put(&f->s, "t", "t8"); /* a new generation on a fresh node */
    assert_true(get(f, B("t"), 0, &row));
    assert_row(&row, "t8", 8, 8, 1);
    /* Everything deleted and compacted: nothing is left. */
    del(&f->s, "", "");
    assert_int_equal(mvcc_compact(&f->s, mvcc_current_rev(&f->s)), 0);
    compact_finish(&f->s);
    assert_int_equal(mvcc_bytes(&f->s), 0);
}

/* A reader that passed the compacted-revision check before compaction was published keeps
 * seeing the history it reads until its section ends; only then is it trimmed. */
static void test_compaction_grace_period(void **state)
{
    struct fixture *f = *state;
    put(&f->s, "k", "one");   /* 2 */
    put(&f->s, "k", "two");   /* 3 */
    put(&f->s, "k", "three"); /* 4 */
    del(&f->s, "k", NULL);    /* 5 */
    int64_t full = mvcc_bytes(&f->s);
    mvcc_read_begin(&f->r);
    struct mvcc_cursor old, late;
    assert_int_equal(mvcc_cursor_open(&old, &f->s, B("k"), NO_END, 2, NULL), 0);
    assert_int_equal(mvcc_compact(&f->s, 5), 0);
    for (int i = 0; i < 10; i++) {
        assert_false(mvcc_compact_step(&f->s, 1000));
        mvcc_reclaim(&f->s);
    }
    assert_int_equal(mvcc_bytes(&f->s), full);
    assert_int_equal(mvcc_cursor_open(&late, &f->s, B("k"), NO_END, 2, NULL), -RINGD_ECOMPACTED);
    struct mvcc_kv kv;
    assert_true(mvcc_cursor_next(&old, &kv));
    assert_int_equal(kv.v->mod_rev, 2);
    assert_memory_equal(kv.v->value, "one", 3);
    mvcc_read_end(&f->r);
    compact_finish(&f->s);
    assert_int_equal(mvcc_bytes(&f->s), 0);
}

/* Memory unlinked while a reader is in a section is freed only after the section ends. */
static void test_reclaim_waits_for_readers(void **state)
{
    struct fixture *f = *state;
    put(&f->s, "k", "one"); /* 2 */
    put(&f->s, "k", "two"); /* 3 */
    assert_int_equal(mvcc_compact(&f->s, 3), 0);
    compact_finish(&f->s);    /* the barrier passes: no section is open */
    put(&f->s, "k", "three"); /* 4 */
    int64_t full = mvcc_bytes(&f->s);
    mvcc_read_begin(&f->r);
    struct mvcc_cursor c;
    assert_int_equal(mvcc_cursor_open(&c, &f->s, B("k"), NO_END, 4, NULL), 0);
    struct mvcc_kv kv;
    assert_true(mvcc_cursor_next(&c, &kv));
    const struct mvcc_version *older = atomic_load(&kv.v->older);
    assert_non_null(older);
    /* The section began before compaction at 4 was published: the barrier waits for it. */
    assert_int_equal(mvcc_compact(&f->s, 4), 0);
    assert_false(mvcc_compact_step(&f->s, 100));
    mvcc_reclaim(&f->s);
    assert_int_equal(mvcc_bytes(&f->s), full);
    assert_int_equal(older->mod_rev, 3);
    assert_memory_equal(older->value, "two", 3);
    mvcc_read_end(&f->r);
    /* Trimmed now, freed once a later poll sees no section that could still hold it. */
    assert_true(mvcc_compact_step(&f->s, 100) || mvcc_compact_step(&f->s, 100));
    mvcc_reclaim(&f->s);
    assert_true(mvcc_bytes(&f->s) < full);
    assert_int_equal(mvcc_bytes(&f->s), expected_bytes(f, 4));
}

static void snapshot(struct fixture *f, int64_t rev, struct row *rows, int *n)
{
    *n = read_range(f, B(""), B("\0"), rev, rows, ROWS_MAX);
    assert_true(*n >= 0);
}

static void assert_same_rows(const struct row *a, int na, const struct row *b, int nb)
{
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_int_equal(a[i].key_len, b[i].key_len);
        assert_memory_equal(a[i].key, b[i].key, a[i].key_len);
        assert_int_equal(a[i].mod_rev, b[i].mod_rev);
        assert_int_equal(a[i].mod_sub, b[i].mod_sub);
        assert_int_equal(a[i].version, b[i].version);
    }
}

static void put_round(struct mvcc_store *s, const char *prefix, int keys, int round)
{
    for (int i = 0; i < keys; i++) {
        char key[32], value[32];
        snprintf(key, sizeof(key), "%s%03d", prefix, i);
        snprintf(value, sizeof(value), "r%d", round);
        put(s, key, value);
    }
}

/* A second compaction while a walk is in progress raises the target; both finish right. */
static void test_compaction_raised_target(void **state)
{
    struct fixture *f = *state;
    static struct row before[ROWS_MAX], after[ROWS_MAX];
    int nb, na;
    put_round(&f->s, "k", 300, 1);
    put_round(&f->s, "k", 300, 2);
    for (int i = 0; i < 300; i += 3) {
        char key[32];
        snprintf(key, sizeof(key), "k%03d", i);
        del(&f->s, key, NULL);
    }
    int64_t first = mvcc_current_rev(&f->s) - 150;
    assert_int_equal(mvcc_compact(&f->s, first), 0);
    for (int i = 0; i < 5; i++)
        assert_false(mvcc_compact_step(&f->s, 20));
    put_round(&f->s, "n", 50, 3); /* new keys behind and ahead of the walk */
    put_round(&f->s, "k", 300, 3);
    int64_t second = mvcc_current_rev(&f->s);
    snapshot(f, second, before, &nb);
    assert_int_equal(mvcc_compact(&f->s, second), 0);
    for (int i = 0; i < 5; i++)
        assert_false(mvcc_compact_step(&f->s, 20));
    put_round(&f->s, "m", 20, 4);
    compact_finish(&f->s);
    assert_trimmed(f, second);
    snapshot(f, second, after, &na);
    assert_same_rows(before, nb, after, na);
    assert_int_equal(mvcc_compact(&f->s, mvcc_current_rev(&f->s)), 0);
    compact_finish(&f->s);
    assert_int_equal(mvcc_bytes(&f->s), expected_bytes(f, 0));
}

/* --- the model test -------------------------------------------------------------------------- */

/* A seeded run of transactions (puts, delete ranges), compactions, compaction steps and reads
 * at random revisions, checked against the simplest model there is: every version ever
 * written, in order. */
#define MODEL_KEYS         24
#define MODEL_OPS          1500
#define MODEL_RUNS_DEFAULT 12
#define MODEL_TXN_OPS_MAX  4

struct mrec {
    uint32_t key; /* index into model.keys (sorted) */
    bool tomb;
    uint32_t sub;
    int64_t mod_rev, create_rev, version, lease;
    uint8_t value[8];
    uint32_t value_len;
};

struct mkey {
    struct bkey k;
    uint32_t *recs; /* indexes into model.recs, oldest first */
    uint32_t n, cap;
};

struct model {
    struct mkey keys[MODEL_KEYS];
    struct mrec *recs;
    uint32_t n, cap;
    int64_t current, compacted;
    uint64_t seed, x;
    int step;
};

/* A range as the store takes it, over arbitrary bytes. */
struct mrange {
    struct bkey key, end;
    bool single, to_end;
};

static void model_fail(const struct model *m, const char *what, int line)
{
    fprintf(stderr,
            "mvcc model: seed %" PRIu64 ", step %d: check failed (test_mvcc.c:%d): %s\n"
            "  replay: RINGD_MVCC_SEED=%" PRIu64 " build/<kind>/tests/test_mvcc\n",
            m->seed, m->step, line, what, m->seed);
    fail();
}

#define MCHECK(m, cond)                       \
    do {                                      \
        if (!(cond))                          \
            model_fail((m), #cond, __LINE__); \
    } while (0)

static const uint8_t model_alphabet[] = {0x00, 'a', 'b', 0xff};

static void random_bkey(uint64_t *x, struct bkey *k, uint32_t len_min)
{
    k->len = len_min + rnd_below(x, 4 - len_min);
    for (uint32_t i = 0; i < k->len; i++)
        k->b[i] = model_alphabet[rnd_below(x, sizeof(model_alphabet))];
}

static void model_init(struct model *m, uint64_t seed)
{
    memset(m, 0, sizeof(*m));
    m->seed = seed;
    m->x = seed;
    m->current = 1;
    m->compacted = -1;
    static struct bkey keys[MODEL_KEYS];
    for (int n = 0; n < MODEL_KEYS;) {
        random_bkey(&m->x, &keys[n], 1);
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup = dup || bkey_cmp(&keys[i], &keys[n]) == 0;
        n += !dup;
    }
    qsort(keys, MODEL_KEYS, sizeof(keys[0]), bkey_cmp);
    for (int i = 0; i < MODEL_KEYS; i++)
        m->keys[i].k = keys[i];
}

static void model_destroy(struct model *m)
{
    for (int i = 0; i < MODEL_KEYS; i++)
        free(m->keys[i].recs);
    free(m->recs);
}

static void model_append(struct model *m, const struct mrec *r)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->recs = realloc(m->recs, m->cap * sizeof(*m->recs));
        assert_non_null(m->recs);
    }
    struct mkey *k = &m->keys[r->key];
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 16;
        k->recs = realloc(k->recs, k->cap * sizeof(*k->recs));
        assert_non_null(k->recs);
    }
    k->recs[k->n++] = m->n;
    m->recs[m->n++] = *r;
}

/* The record of key visible at rev, or NULL. */
static const struct mrec *model_visible(const struct model *m, uint32_t key, int64_t rev)
{
    const struct mkey *k = &m->keys[key];
    for (uint32_t i = k->n; i-- > 0;) {
        const struct mrec *r = &m->recs[k->recs[i]];
        if (r->mod_rev <= rev)
            return r->tomb ? NULL : r;
    }
    return NULL;
}

static void random_range(struct model *m, struct mrange *q)
{
    memset(q, 0, sizeof(*q));
    uint32_t kind = rnd_below(&m->x, 8);
    if (rnd_below(&m->x, 2))
        q->key = m->keys[rnd_below(&m->x, MODEL_KEYS)].k;
    else
        random_bkey(&m->x, &q->key, 0);
    if (kind < 3) {
        q->single = true;
    } else if (kind < 5) {
        q->to_end = true;
        q->end = (struct bkey){.b = {0}, .len = 1};
        if (kind == 4)
            q->key.len = 0; /* everything */
    } else if (rnd_below(&m->x, 2)) {
        q->end = m->keys[rnd_below(&m->x, MODEL_KEYS)].k;
    } else {
        random_bkey(&m->x, &q->end, 1);
    }
    /* A one-byte end of zero that was not meant as "\0" still means it: etcd's convention. */
    q->to_end = q->to_end || (!q->single && q->end.len == 1 && q->end.b[0] == 0);
}

static bool in_range(const struct mrange *q, const struct bkey *k)
{
    int from = skiplist_key_cmp(k->b, k->len, q->key.b, q->key.len);
    if (q->single)
        return from == 0;
    return from >= 0 && (q->to_end || skiplist_key_cmp(k->b, k->len, q->end.b, q->end.len) < 0);
}

static void model_check_kv(struct model *m, const struct mvcc_kv *kv, const struct mrec *r)
{
    MCHECK(m, r != NULL);
    const struct bkey *k = &m->keys[r->key].k;
    MCHECK(m, skiplist_key_cmp(kv->key, kv->key_len, k->b, k->len) == 0);
    MCHECK(m, !kv->v->tombstone);
    MCHECK(m, kv->v->mod_rev == r->mod_rev && kv->v->mod_sub == r->sub);
    MCHECK(m, kv->v->create_rev == r->create_rev && kv->v->version == r->version);
    MCHECK(m, kv->v->lease == r->lease && kv->v->value_len == r->value_len);
    MCHECK(m, r->value_len == 0 || memcmp(kv->v->value, r->value, r->value_len) == 0);
}

/* Compares what a cursor yields with the model's keys of q visible at rev, in key order. */
static void model_check_cursor(struct model *m, struct mvcc_cursor *c, const struct mrange *q,
                               int64_t rev)
{
    struct mvcc_kv kv;
    for (uint32_t i = 0; i < MODEL_KEYS; i++) {
        const struct mrec *r = in_range(q, &m->keys[i].k) ? model_visible(m, i, rev) : NULL;
        if (r == NULL)
            continue;
        MCHECK(m, mvcc_cursor_next(c, &kv));
        model_check_kv(m, &kv, r);
    }
    MCHECK(m, !mvcc_cursor_next(c, &kv));
}

static int64_t model_read_rev(struct model *m, int *want)
{
    uint32_t pick = rnd_below(&m->x, 10);
    int64_t low = m->compacted > 1 ? m->compacted : 1;
    *want = 0;
    if (pick == 0)
        return 0;
    if (pick == 1) {
        *want = -RINGD_EFUTURE_REV;
        return m->current + 1 + rnd_below(&m->x, 3);
    }
    if (pick == 2 && m->compacted > 1) {
        *want = -RINGD_ECOMPACTED;
        return 1 + rnd_below(&m->x, (uint32_t)(m->compacted - 1));
    }
    return low + rnd_below(&m->x, (uint32_t)(m->current - low + 1));
}

static void model_read(struct model *m, struct fixture *f)
{
    struct mrange q;
    random_range(m, &q);
    int want;
    int64_t rev = model_read_rev(m, &want), at = -1;
    struct mvcc_cursor c;
    mvcc_read_begin(&f->r);
    int err = mvcc_cursor_open(&c, &f->s, q.key.b, q.key.len, q.end.b, q.single ? 0 : q.end.len,
                               rev, &at);
    MCHECK(m, err == want);
    if (err == 0) {
        MCHECK(m, at == (rev == 0 ? m->current : rev));
        model_check_cursor(m, &c, &q, at);
    }
    mvcc_read_end(&f->r);
}

struct model_delete {
    struct model *m;
    const struct mrange *q;
    uint32_t next; /* model key the next callback must be for */
    int64_t view;
};

static void model_on_deleted(void *arg, const struct mvcc_kv *kv)
{
    struct model_delete *d = arg;
    struct model *m = d->m;
    while (d->next < MODEL_KEYS &&
           (!in_range(d->q, &d->m->keys[d->next].k) || model_visible(m, d->next, d->view) == NULL))
        d->next++;
    MCHECK(m, d->next < MODEL_KEYS);
    model_check_kv(m, kv, model_visible(m, d->next, d->view));
    d->next++;
}

static void model_delete(struct model *m, struct mvcc_txn *t)
{
    struct mrange q;
    random_range(m, &q);
    int64_t view = m->current + 1; /* sees the transaction's earlier changes, if any */
    struct model_delete d = {.m = m, .q = &q, .view = view};
    int64_t n = mvcc_txn_delete_range(t, q.key.b, q.key.len, q.end.b, q.single ? 0 : q.end.len,
                                      model_on_deleted, &d);
    int64_t want = 0;
    for (uint32_t i = 0; i < MODEL_KEYS; i++) {
        if (!in_range(&q, &m->keys[i].k) || model_visible(m, i, view) == NULL)
            continue;
        struct mrec r = {
            .key = i, .tomb = true, .sub = t->changes - (uint32_t)(n - want), .mod_rev = t->rev};
        model_append(m, &r);
        want++;
    }
    MCHECK(m, n == want);
}

static void model_put(struct model *m, struct mvcc_txn *t)
{
    uint32_t key = rnd_below(&m->x, MODEL_KEYS);
    const struct mrec *live = model_visible(m, key, m->current + 1);
    struct mrec r = {.key = key,
                     .sub = t->changes,
                     .mod_rev = t->rev,
                     .lease = rnd_below(&m->x, 3),
                     .value_len = rnd_below(&m->x, 9)};
    r.create_rev = live ? live->create_rev : t->rev;
    r.version = live ? live->version + 1 : 1;
    for (uint32_t i = 0; i < r.value_len; i++)
        r.value[i] = (uint8_t)rnd_next(&m->x);
    const struct mvcc_version *prev = (const void *)1;
    const struct bkey *k = &m->keys[key].k;
    MCHECK(m, mvcc_txn_put(t, k->b, k->len, r.value, r.value_len, r.lease, &prev) == 0);
    MCHECK(m, live == NULL
                  ? prev == NULL
                  : prev != NULL && prev->mod_rev == live->mod_rev && prev->mod_sub == live->sub);
    model_append(m, &r);
}

static void model_txn(struct model *m, struct fixture *f)
{
    struct mvcc_txn t;
    mvcc_txn_begin(&f->s, &t);
    MCHECK(m, t.rev == m->current + 1);
    uint32_t ops = 1 + rnd_below(&m->x, MODEL_TXN_OPS_MAX);
    for (uint32_t i = 0; i < ops; i++) {
        if (rnd_below(&m->x, 10) < 7)
            model_put(m, &t);
        else
            model_delete(m, &t);
    }
    bool changed = t.changes > 0;
    MCHECK(m, mvcc_txn_end(&t) == m->current + changed);
    m->current += changed;
}

static void model_compact(struct model *m, struct fixture *f)
{
    int64_t rev = 1 + rnd_below(&m->x, (uint32_t)m->current + 1);
    if (rnd_below(&m->x, 4) > 0 && m->compacted < m->current) {
        int64_t low = m->compacted + 1 > 1 ? m->compacted + 1 : 1;
        rev = low + rnd_below(&m->x, (uint32_t)(m->current - low + 1));
    }
    int want = rev <= m->compacted ? -RINGD_ECOMPACTED : rev > m->current ? -RINGD_EFUTURE_REV : 0;
    MCHECK(m, mvcc_compact(&f->s, rev) == want);
    if (want == 0)
        m->compacted = rev;
    MCHECK(m, mvcc_compact_rev(&f->s) == m->compacted);
}

/* After a finished compaction: every key visible now keeps at most one version <= compacted. */
static void model_check_trimmed(struct model *m, struct fixture *f)
{
    mvcc_read_begin(&f->r);
    struct mvcc_cursor c;
    MCHECK(m, mvcc_cursor_open(&c, &f->s, B(""), B("\0"), 0, NULL) == 0);
    struct mvcc_kv kv;
    while (mvcc_cursor_next(&c, &kv)) {
        int low = 0;
        for (const struct mvcc_version *v = kv.v; v != NULL; v = atomic_load(&v->older)) {
            low += v->mod_rev <= m->compacted;
            MCHECK(m, v->mod_rev > m->compacted || !v->tombstone);
        }
        MCHECK(m, low <= 1);
    }
    mvcc_read_end(&f->r);
}

static void model_step(struct model *m, struct fixture *f)
{
    bool done = mvcc_compact_step(&f->s, rnd_below(&m->x, 9));
    if (done && m->compacted >= 0)
        model_check_trimmed(m, f);
    if (rnd_below(&m->x, 2))
        mvcc_reclaim(&f->s);
}

/* Every revision still readable, every key, against the model. */
static void model_check_all(struct model *m, struct fixture *f)
{
    struct mrange all = {.key = {.len = 0}, .end = {.b = {0}, .len = 1}, .to_end = true};
    int64_t low = m->compacted > 1 ? m->compacted : 1;
    for (int64_t rev = low; rev <= m->current; rev++) {
        struct mvcc_cursor c;
        mvcc_read_begin(&f->r);
        MCHECK(m, mvcc_cursor_open(&c, &f->s, B(""), B("\0"), rev, NULL) == 0);
        model_check_cursor(m, &c, &all, rev);
        mvcc_read_end(&f->r);
    }
}

static void model_run(uint64_t seed)
{
    struct fixture *f;
    setup((void **)&f);
    static struct model m;
    model_init(&m, seed);
    for (m.step = 0; m.step < MODEL_OPS; m.step++) {
        uint32_t op = rnd_below(&m.x, 100);
        if (op < 45)
            model_txn(&m, f);
        else if (op < 50)
            model_compact(&m, f);
        else if (op < 70)
            model_step(&m, f);
        else
            model_read(&m, f);
    }
    model_check_all(&m, f);
    if (m.compacted < m.current) {
        MCHECK(&m, mvcc_compact(&f->s, m.current) == 0);
        m.compacted = m.current;
    }
    compact_finish(&f->s);
    model_check_trimmed(&m, f);
    model_check_all(&m, f);
    MCHECK(&m, mvcc_bytes(&f->s) == expected_bytes(f, 0));
    model_destroy(&m);
    teardown((void **)&f);
}

static void test_model_random(void **state)
{
    (void)state;
    const char *seed_env = getenv("RINGD_MVCC_SEED");
    if (seed_env != NULL && seed_env[0] != 0) {
        model_run(strtoull(seed_env, NULL, 0));
        return;
    }
    const char *runs_env = getenv("RINGD_MVCC_MODEL_RUNS");
    int runs = runs_env != NULL ? atoi(runs_env) : MODEL_RUNS_DEFAULT;
    for (int i = 0; i < runs; i++)
        model_run(0x5eed0000u + (uint64_t)i);
}

/* --- one writer, concurrent readers ------------------------------------------------------------
 */

/* The writer puts all CONC_KEYS keys "c/xx" in one transaction with the transaction's revision
 * as their value, or deletes them all in one, and churns "n/xxx" keys (new nodes, removed
 * nodes) and compacts as it goes. Readers at the current or a random readable revision must
 * see all of the "c/" keys with one revision or none of them: atomic visibility. */
#define CONC_KEYS        16
#define CONC_READERS     2
#define CONC_NOISE_KEYS  200
#define CONC_TXNS        20000
#define CONC_WRITE_MS    10000 /* the writer stops early past this (slow sanitizer builds) */
#define CONC_START_MS    10000
#define CONC_FAILURE_LEN 256

struct conc {
    struct mvcc_store s;
    struct mvcc_reader readers[CONC_READERS];
    atomic_bool stop;
    atomic_uint_fast64_t reads[CONC_READERS];
    atomic_int failures;
    char failure[CONC_FAILURE_LEN]; /* the first, written by the thread that failed first */
};

struct conc_arg {
    struct conc *c;
    int index;
};

static void conc_fail(struct conc *c, const char *what, int64_t a, int64_t b)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&c->failures, &none, 1))
        snprintf(c->failure, sizeof(c->failure), "%s (%" PRId64 ", %" PRId64 ")", what, a, b);
    else
        atomic_fetch_add(&c->failures, 1);
}

/* The "c/" keys at the cursor's revision: all or nothing, one revision, value = revision. */
static void conc_check_group(struct conc *c, struct mvcc_cursor *cur, int64_t at)
{
    struct mvcc_kv kv;
    int n = 0;
    int64_t mod = 0, version = 0, create = 0;
    while (mvcc_cursor_next(cur, &kv)) {
        char want[24];
        if (n == 0) {
            mod = kv.v->mod_rev, version = kv.v->version, create = kv.v->create_rev;
            if (mod > at)
                conc_fail(c, "a version newer than the read revision", mod, at);
        }
        if (kv.v->mod_rev != mod || kv.v->version != version || kv.v->create_rev != create)
            conc_fail(c, "keys of one transaction differ", kv.v->mod_rev, mod);
        int len = snprintf(want, sizeof(want), "%" PRId64, mod);
        if (kv.v->value_len != (uint32_t)len || memcmp(kv.v->value, want, (size_t)len) != 0)
            conc_fail(c, "value is not its revision", mod, kv.v->value_len);
        n++;
    }
    if (n != 0 && n != CONC_KEYS)
        conc_fail(c, "part of a transaction visible", n, at);
}

/* The churned keys: strictly ascending, nothing newer than the read revision. */
static void conc_check_noise(struct conc *c, struct mvcc_cursor *cur, int64_t at)
{
    struct mvcc_kv kv;
    uint8_t last[16];
    uint32_t last_len = 0;
    bool first = true;
    while (mvcc_cursor_next(cur, &kv)) {
        if (kv.v->mod_rev > at)
            conc_fail(c, "noise version newer than the read revision", kv.v->mod_rev, at);
        if (!first && skiplist_key_cmp(last, last_len, kv.key, kv.key_len) >= 0)
            conc_fail(c, "keys out of order", kv.key_len, last_len);
        if (kv.key_len > sizeof(last))
            conc_fail(c, "noise key too long", kv.key_len, 0);
        last_len = kv.key_len < sizeof(last) ? kv.key_len : sizeof(last);
        memcpy(last, kv.key, last_len);
        first = false;
    }
}

static void conc_read_once(struct conc *c, struct mvcc_reader *r, uint64_t *x)
{
    mvcc_read_begin(r);
    /* The compacted revision first: it never passes the current one, so loaded in this order
     * compacted <= current even when the writer moves both in between. */
    int64_t compacted = mvcc_compact_rev(&c->s);
    int64_t current = mvcc_current_rev(&c->s);
    int64_t rev = 0;
    if (rnd_below(x, 2) && compacted >= 1)
        rev = compacted + rnd_below(x, (uint32_t)(current - compacted + 1));
    struct mvcc_cursor cur;
    int64_t at;
    int err = mvcc_cursor_open(&cur, &c->s, B("c/"), B("c0"), rev, &at);
    if (err == -RINGD_ECOMPACTED && rev < mvcc_compact_rev(&c->s)) {
        mvcc_read_end(r); /* compacted meanwhile: a correct answer */
        return;
    }
    if (err != 0) {
        conc_fail(c, "cursor_open failed", err, rev);
        mvcc_read_end(r);
        return;
    }
    if (rev == 0 ? at < current : at != rev)
        conc_fail(c, "read at another revision than asked", at, rev);
    conc_check_group(c, &cur, at);
    if (mvcc_cursor_open(&cur, &c->s, B("n/"), B("n0"), at, NULL) == 0)
        conc_check_noise(c, &cur, at);
    mvcc_read_end(r);
}

static void *conc_reader(void *arg)
{
    struct conc_arg *a = arg;
    struct conc *c = a->c;
    struct mvcc_reader *r = &c->readers[a->index];
    mvcc_reader_register(&c->s, r);
    uint64_t x = 1000 + (uint64_t)a->index;
    while (!atomic_load(&c->stop)) {
        conc_read_once(c, r, &x);
        atomic_fetch_add(&c->reads[a->index], 1);
    }
    return NULL;
}

static void conc_write_txn(struct conc *c, uint64_t *x)
{
    struct mvcc_txn t;
    mvcc_txn_begin(&c->s, &t);
    if (rnd_below(x, 4) == 0) {
        assert_true(mvcc_txn_delete_range(&t, B("c/"), B("c0"), NULL, NULL) >= 0);
    } else {
        char value[24];
        int len = snprintf(value, sizeof(value), "%" PRId64, t.rev);
        for (int i = 0; i < CONC_KEYS; i++) {
            char key[8];
            snprintf(key, sizeof(key), "c/%02d", i);
            assert_int_equal(mvcc_txn_put(&t, (const uint8_t *)key, 4, (const uint8_t *)value,
                                          (uint32_t)len, 0, NULL),
                             0);
        }
    }
    for (int i = 0; i < 2; i++) {
        char key[8];
        snprintf(key, sizeof(key), "n/%03u", rnd_below(x, CONC_NOISE_KEYS));
        if (rnd_below(x, 2))
            assert_int_equal(mvcc_txn_put(&t, (const uint8_t *)key, 5, B("v"), 0, NULL), 0);
        else
            assert_true(mvcc_txn_delete_range(&t, (const uint8_t *)key, 5, NO_END, NULL, NULL) >=
                        0);
    }
    mvcc_txn_end(&t);
}

static bool conc_readers_started(void *arg)
{
    struct conc *c = arg;
    for (int i = 0; i < CONC_READERS; i++) {
        if (atomic_load(&c->reads[i]) == 0)
            return false;
    }
    return true;
}

static void conc_write(struct conc *c)
{
    uint64_t x = 7;
    uint64_t deadline = test_now_ns() + (uint64_t)CONC_WRITE_MS * 1000000u;
    int txns = 0;
    for (; txns < CONC_TXNS && test_now_ns() < deadline; txns++) {
        conc_write_txn(c, &x);
        int64_t current = mvcc_current_rev(&c->s);
        int64_t target = current - rnd_below(&x, 32);
        if (txns % 64 == 63 && target > mvcc_compact_rev(&c->s))
            assert_int_equal(mvcc_compact(&c->s, target), 0);
        mvcc_compact_step(&c->s, 32);
        mvcc_reclaim(&c->s);
    }
    assert_true(txns >= 100);
    print_message("concurrent: %d write transactions, reads %" PRIu64 " and %" PRIu64 "\n", txns,
                  (uint64_t)atomic_load(&c->reads[0]), (uint64_t)atomic_load(&c->reads[1]));
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    size_t bytes = (sizeof(struct conc) + 63) & ~(size_t)63;
    struct conc *c = aligned_alloc(64, bytes);
    assert_non_null(c);
    memset(c, 0, sizeof(*c));
    assert_int_equal(mvcc_store_init(&c->s), 0);
    pthread_t threads[CONC_READERS];
    struct conc_arg args[CONC_READERS];
    for (int i = 0; i < CONC_READERS; i++) {
        args[i] = (struct conc_arg){.c = c, .index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, conc_reader, &args[i]), 0);
    }
    bool started = test_wait_until(conc_readers_started, c, CONC_START_MS);
    if (started)
        conc_write(c);
    atomic_store(&c->stop, true);
    for (int i = 0; i < CONC_READERS; i++)
        pthread_join(threads[i], NULL);
    assert_true(started);
    if (atomic_load(&c->failures) != 0)
        fail_msg("%d reader failures, first: %s", atomic_load(&c->failures), c->failure);
    for (int i = 0; i < CONC_READERS; i++)
        assert_true(atomic_load(&c->reads[i]) > 1);
    assert_int_equal(mvcc_compact(&c->s, mvcc_current_rev(&c->s)), 0);
    compact_finish(&c->s);
    mvcc_store_destroy(&c->s);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_revision_arithmetic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_past_revisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_conventions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_across_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_grace_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_waits_for_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_raised_target, setup, teardown),
        cmocka_unit_test(test_model_random),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
