/* Snapshots of the store (store/mvcc_snapshot) and of the apply actor's state (core/snapshot):
 *   - the walk and the restore in memory: every read at every revision in [compacted, R] of the
 *     restored store equals the original's, in the walk's order and in reverse key order, with
 *     small read sections;
 *   - the pin: physical compaction past the snapshot's compacted revision waits, and goes on
 *     after the unpin;
 *   - a walk interleaved step by step with a writer that overwrites and deletes every key and
 *     compacts (logically and physically) past R still yields the state at R;
 *   - the restore's refusals of histories a store cannot hold;
 *   - core/snapshot: save and load through files, a save on a background thread while a writer
 *     keeps writing and compacting past R, records that make no sense, pruning, and the newest
 *     valid snapshot chosen over a corrupt newer one.
 * Stores are built by a seeded generator of writes (puts, deletes, range deletes, multi-change
 * transactions, leases) so that a reference store can be built again to the same revision. No
 * sleeps: threads wait for each other on conditions with deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alarm.h"
#include "mvcc.h"
#include "mvcc_snapshot.h"
#include "ringd_error.h"
#include "snapshot.h"
#include "snapshot_file.h"
#include "test_support.h"

#define WAIT_MS 60000 /* deadline of any wait on another thread */

/* --- stores ----------------------------------------------------------------------------------- */

/* A store and a reader for the thread that reads it; aligned for the reader's epoch record. */
struct world {
    struct mvcc_store s;
    struct mvcc_reader r;
};

static struct world *world_new(void)
{
    size_t bytes = (sizeof(struct world) + 63) & ~(size_t)63;
    struct world *w = aligned_alloc(64, bytes);
    assert_non_null(w);
    memset(w, 0, sizeof(*w));
    assert_int_equal(mvcc_store_init(&w->s), 0);
    mvcc_reader_register(&w->s, &w->r);
    return w;
}

static void world_free(struct world *w)
{
    mvcc_store_destroy(&w->s);
    free(w);
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The seeded writes: the same seed makes the same stores. */
struct gen {
    uint64_t x;
    uint32_t keys;
};

static uint32_t key_of(uint32_t k, char *buf)
{
    return (uint32_t)snprintf(buf, 16, "k%05u", k);
}

static void gen_put(struct mvcc_txn *t, struct gen *g, uint32_t k, int64_t lease)
{
    char key[16], value[48];
    uint32_t kl = key_of(k, key);
    uint32_t vl = (uint32_t)snprintf(value, sizeof(value), "v%" PRIu64 "-%u",
                                     next_random(&g->x) % 1000000, k);
    assert_int_equal(
        mvcc_txn_put(t, (const uint8_t *)key, kl, (const uint8_t *)value, vl, lease, NULL), 0);
}

/* One write transaction of a kind the generator picks. */
static void gen_txn(struct mvcc_store *s, struct gen *g)
{
    struct mvcc_txn t;
    mvcc_txn_begin(s, &t);
    uint64_t kind = next_random(&g->x) % 10;
    uint32_t k = (uint32_t)(next_random(&g->x) % g->keys);
    char a[16], b[16];
    if (kind <= 4) {
        gen_put(&t, g, k, 0);
    } else if (kind == 5) {
        gen_put(&t, g, k, (int64_t)(next_random(&g->x) % 3));
    } else if (kind == 6) {
        uint32_t al = key_of(k, a);
        assert_true(mvcc_txn_delete_range(&t, (const uint8_t *)a, al, NULL, 0, NULL, NULL) >= 0);
    } else if (kind == 7) {
        uint32_t al = key_of(k, a);
        uint32_t bl = key_of(k + 1 + (uint32_t)(next_random(&g->x) % 4), b);
        assert_true(mvcc_txn_delete_range(&t, (const uint8_t *)a, al, (const uint8_t *)b, bl, NULL,
                                          NULL) >= 0);
    } else {
        /* Several changes in one revision: puts of distinct keys and a delete of another. */
        uint32_t n = 2 + (uint32_t)(next_random(&g->x) % 3);
        for (uint32_t i = 0; i < n; i++)
            gen_put(&t, g, (k + i) % g->keys, 0);
        uint32_t al = key_of((k + n) % g->keys, a);
        assert_true(mvcc_txn_delete_range(&t, (const uint8_t *)a, al, NULL, 0, NULL, NULL) >= 0);
    }
    mvcc_txn_end(&t);
}

/* Puts every key once, then txns random transactions, compacting at (current - back) after
 * compact_after of them (0: never). Returns the compacted revision asked for (or -1). */
static int64_t build(struct mvcc_store *s, uint64_t seed, uint32_t keys, uint32_t txns,
                     uint32_t compact_after, int64_t back)
{
    struct gen g = {.x = seed, .keys = keys};
    struct mvcc_txn t;
    mvcc_txn_begin(s, &t);
    for (uint32_t k = 0; k < keys; k++)
        gen_put(&t, &g, k, 0);
    mvcc_txn_end(&t);
    int64_t compacted = -1;
    for (uint32_t i = 0; i < txns; i++) {
        if (compact_after > 0 && i == compact_after) {
            compacted = mvcc_current_rev(s) - back;
            assert_int_equal(mvcc_compact(s, compacted), 0);
        }
        gen_txn(s, &g);
    }
    return compacted;
}

/* Runs compaction to its end (no reader in a section meanwhile) and frees what it dropped. */
static void compact_finish(struct mvcc_store *s)
{
    int i = 0;
    while (!mvcc_compact_step(s, 64) && i++ < 1000000)
        ;
    assert_true(mvcc_compact_step(s, 64));
    mvcc_reclaim(s);
}

/* Every read of the whole key space at every revision in [from, to] gives the same rows in a
 * and b (both readable there). */
static void compare_reads(struct world *a, struct world *b, int64_t from, int64_t to)
{
    static const uint8_t all_end[] = {0};
    uint64_t rows = 0;
    for (int64_t rev = from < 1 ? 1 : from; rev <= to; rev++) {
        struct mvcc_cursor ca, cb;
        mvcc_read_begin(&a->r);
        mvcc_read_begin(&b->r);
        assert_int_equal(mvcc_cursor_open(&ca, &a->s, NULL, 0, all_end, 1, rev, NULL), 0);
        assert_int_equal(mvcc_cursor_open(&cb, &b->s, NULL, 0, all_end, 1, rev, NULL), 0);
        struct mvcc_kv x, y;
        for (;;) {
            bool hx = mvcc_cursor_next(&ca, &x);
            bool hy = mvcc_cursor_next(&cb, &y);
            if (hx != hy)
                fail_msg("at revision %" PRId64 " one store has more keys", rev);
            if (!hx)
                break;
            rows++;
            assert_int_equal(x.key_len, y.key_len);
            assert_memory_equal(x.key, y.key, x.key_len);
            assert_int_equal(x.v->mod_rev, y.v->mod_rev);
            assert_int_equal(x.v->mod_sub, y.v->mod_sub);
            assert_int_equal(x.v->create_rev, y.v->create_rev);
            assert_int_equal(x.v->version, y.v->version);
            assert_int_equal(x.v->lease, y.v->lease);
            assert_int_equal(x.v->value_len, y.v->value_len);
            assert_memory_equal(x.v->value, y.v->value, x.v->value_len);
        }
        mvcc_read_end(&b->r);
        mvcc_read_end(&a->r);
    }
    assert_true(rows > 0);
}

/* --- a walk's output kept in memory ----------------------------------------------------------- */

struct hist_version {
    struct mvcc_restore_version v;
    uint8_t *value;
};

struct hist_key {
    uint8_t *key;
    uint32_t key_len;
    uint32_t n;
    struct hist_version *vs;
};

struct hist {
    struct hist_key *keys;
    uint32_t n;
    uint32_t cap;
    uint32_t stop_every; /* answer MVCC_WALK_STOP to every such key of a section but the first */
    uint32_t in_section; /* keys taken in the current section */
};

static uint8_t *copy_bytes(const uint8_t *p, uint32_t n)
{
    uint8_t *c = malloc(n + 1);
    assert_non_null(c);
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

static int hist_emit(void *arg, const struct mvcc_walk_key *k)
{
    struct hist *h = arg;
    if (h->stop_every > 0 && h->in_section > 0 && h->in_section % h->stop_every == 0)
        return MVCC_WALK_STOP;
    h->in_section++;
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->keys = realloc(h->keys, h->cap * sizeof(*h->keys));
        assert_non_null(h->keys);
    }
    struct hist_key *hk = &h->keys[h->n++];
    hk->key = copy_bytes(k->key, k->key_len);
    hk->key_len = k->key_len;
    hk->n = k->versions;
    hk->vs = calloc(k->versions, sizeof(*hk->vs));
    assert_non_null(hk->vs);
    const struct mvcc_version *v = k->newest;
    for (uint32_t i = 0; i < k->versions; i++, v = mvcc_snapshot_older(v)) {
        assert_non_null(v);
        hk->vs[i].value = copy_bytes(v->value, v->value_len);
        hk->vs[i].v = (struct mvcc_restore_version){
            .mod_rev = v->mod_rev,
            .mod_sub = v->mod_sub,
            .tombstone = v->tombstone,
            .create_rev = v->create_rev,
            .version = v->version,
            .lease = v->lease,
            .value = hk->vs[i].value,
            .value_len = v->value_len,
        };
    }
    return 0;
}

static void hist_free(struct hist *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        for (uint32_t j = 0; j < h->keys[i].n; j++)
            free(h->keys[i].vs[j].value);
        free(h->keys[i].vs);
        free(h->keys[i].key);
    }
    free(h->keys);
    memset(h, 0, sizeof(*h));
}

/* Walks the store at p to the end in sections of budget keys. */
static void walk_all(struct world *w, const struct mvcc_snapshot_point *p, uint32_t budget,
                     struct hist *h, uint32_t *sections)
{
    struct mvcc_walk walk;
    mvcc_walk_init(&walk, &w->s, &w->r, p);
    int more;
    do {
        h->in_section = 0;
        more = mvcc_walk_step(&walk, budget, hist_emit, h);
    } while (more == 1);
    assert_int_equal(more, 0);
    assert_int_equal(walk.keys, h->n);
    *sections = walk.sections;
    mvcc_walk_destroy(&walk);
}

/* Restores h into an empty store, in the walk's order or keys in reverse. */
static void hist_restore(const struct hist *h, struct world *w, const struct mvcc_snapshot_point *p,
                         bool reverse)
{
    struct mvcc_restore r;
    assert_int_equal(mvcc_restore_begin(&r, &w->s, p->rev, p->compact_rev), 0);
    for (uint32_t i = 0; i < h->n; i++) {
        const struct hist_key *k = &h->keys[reverse ? h->n - 1 - i : i];
        assert_int_equal(mvcc_restore_key(&r, k->key, k->key_len), 0);
        for (uint32_t j = 0; j < k->n; j++) {
            int err = mvcc_restore_version(&r, &k->vs[j].v);
            if (err != 0)
                fail_msg("restore: %s", r.why);
        }
    }
    assert_int_equal(mvcc_restore_end(&r), 0);
    assert_int_equal(mvcc_current_rev(&w->s), p->rev);
    assert_int_equal(mvcc_compact_rev(&w->s), p->compact_rev);
}

/* --- store: walk and restore ------------------------------------------------------------------ */

static void test_walk_restore_round_trip(void **state)
{
    (void)state;
    struct world *a = world_new();
    int64_t c = build(&a->s, 7, 300, 600, 300, 40);
    compact_finish(&a->s);
    struct mvcc_snapshot_point p;
    mvcc_snapshot_pin(&a->s, &p);
    assert_int_equal(p.rev, mvcc_current_rev(&a->s));
    assert_int_equal(p.compact_rev, c);

    struct hist h = {.stop_every = 5};
    uint32_t sections;
    walk_all(a, &p, 7, &h, &sections);
    assert_true(h.n > 200);
    assert_true(sections >= h.n / 7);

    /* One key per section: every partition's end falls on a section's end. */
    struct hist h1 = {0};
    uint32_t sections1;
    walk_all(a, &p, 1, &h1, &sections1);
    assert_int_equal(h1.n, h.n);
    for (uint32_t i = 0; i < h.n; i++) {
        assert_int_equal(h1.keys[i].key_len, h.keys[i].key_len);
        assert_memory_equal(h1.keys[i].key, h.keys[i].key, h.keys[i].key_len);
        assert_int_equal(h1.keys[i].n, h.keys[i].n);
    }
    assert_true(sections1 >= h.n);
    hist_free(&h1);

    struct world *b = world_new();
    hist_restore(&h, b, &p, false);
    compare_reads(a, b, c, p.rev);
    struct world *rb = world_new();
    hist_restore(&h, rb, &p, true); /* not the walk's order: every key found by a search */
    compare_reads(a, rb, c, p.rev);
    /* What the store holds is exactly what compaction at c keeps: the same number of bytes
     * but for the skip-list nodes' random heights. */
    assert_true(mvcc_bytes(&b->s) > 0);

    /* Restored stores take writes and compactions as any other. */
    assert_int_equal(mvcc_compact(&b->s, p.rev), 0);
    compact_finish(&b->s);
    assert_int_equal(mvcc_compact(&a->s, p.rev), 0);
    mvcc_snapshot_unpin(&a->s);
    compact_finish(&a->s);
    compare_reads(a, b, p.rev, p.rev);

    hist_free(&h);
    world_free(rb);
    world_free(b);
    world_free(a);
}

/* Versions of the one key "a" in the chain from its newest. */
static uint32_t chain_length(struct world *w)
{
    mvcc_read_begin(&w->r);
    struct mvcc_cursor c;
    mvcc_cursor_at(&c, &w->s, (const uint8_t *)"a", 1, NULL, 0, mvcc_current_rev(&w->s));
    struct mvcc_kv kv;
    uint32_t n = 0;
    if (mvcc_cursor_next(&c, &kv)) {
        for (const struct mvcc_version *v = kv.v->key->newest; v != NULL;
             v = mvcc_snapshot_older(v))
            n++;
    }
    mvcc_read_end(&w->r);
    return n;
}

static void put_a(struct mvcc_store *s, int i)
{
    char value[16];
    int n = snprintf(value, sizeof(value), "%d", i);
    struct mvcc_txn t;
    mvcc_txn_begin(s, &t);
    assert_int_equal(
        mvcc_txn_put(&t, (const uint8_t *)"a", 1, (const uint8_t *)value, (uint32_t)n, 0, NULL), 0);
    mvcc_txn_end(&t);
}

static void test_pin_holds_compaction(void **state)
{
    (void)state;
    struct world *w = world_new();
    for (int i = 0; i < 10; i++)
        put_a(&w->s, i); /* revisions 2..11 */
    /* A compaction at 5 not done physically yet when the snapshot is pinned. */
    assert_int_equal(mvcc_compact(&w->s, 5), 0);
    struct mvcc_snapshot_point p;
    mvcc_snapshot_pin(&w->s, &p);
    assert_int_equal(p.rev, 11);
    assert_int_equal(p.compact_rev, 5);
    for (int i = 10; i < 14; i++)
        put_a(&w->s, i);                          /* 12..15 */
    assert_int_equal(mvcc_compact(&w->s, 14), 0); /* past R */

    /* Trimming up to 5 proceeds; what lies above it waits for the pin. */
    int steps = 0;
    while (!mvcc_compact_step(&w->s, 64) && !mvcc_compact_held(&w->s) && steps++ < 1000)
        ;
    assert_true(mvcc_compact_held(&w->s));
    assert_false(mvcc_compact_step(&w->s, 64));
    mvcc_reclaim(&w->s);
    assert_int_equal(chain_length(w), 11); /* 5..15: the versions below 5 are gone */

    mvcc_snapshot_unpin(&w->s);
    assert_false(mvcc_compact_held(&w->s));
    compact_finish(&w->s);
    assert_int_equal(chain_length(w), 2); /* 14 and 15 */
    world_free(w);
}

/* The walk on its own thread, paused after its first section while the writer overwrites and
 * deletes every key, compacts past R and steps until held. */
struct walker {
    struct world *w;
    struct mvcc_snapshot_point p;
    struct hist h;
    _Atomic int phase; /* 1: first section done; 2: the writer is done; 3: walk done */
    int more;
    uint32_t sections;
};

static bool phase_is(void *arg, int want)
{
    struct walker *k = arg;
    return atomic_load(&k->phase) == want;
}

static bool phase_1(void *arg)
{
    return phase_is(arg, 1);
}

static bool phase_2(void *arg)
{
    return phase_is(arg, 2);
}

static bool phase_3(void *arg)
{
    return phase_is(arg, 3);
}

static void *walker_main(void *arg)
{
    struct walker *k = arg;
    struct mvcc_walk walk;
    mvcc_walk_init(&walk, &k->w->s, &k->w->r, &k->p);
    k->h.in_section = 0;
    k->more = mvcc_walk_step(&walk, 16, hist_emit, &k->h);
    atomic_store(&k->phase, 1);
    if (!test_wait_until(phase_2, k, WAIT_MS))
        k->more = -ETIMEDOUT;
    while (k->more == 1) {
        k->h.in_section = 0;
        k->more = mvcc_walk_step(&walk, 16, hist_emit, &k->h);
    }
    k->sections = walk.sections;
    mvcc_walk_destroy(&walk);
    atomic_store(&k->phase, 3);
    return NULL;
}

static void test_walk_with_writer(void **state)
{
    (void)state;
    const uint32_t keys = 400;
    struct world *a = world_new();
    struct world *ref = world_new();
    int64_t c = build(&a->s, 11, keys, 800, 400, 100);
    assert_int_equal(build(&ref->s, 11, keys, 800, 400, 100), c);
    compact_finish(&ref->s);
    /* a's compaction at c is still to be done physically: the writer trims during the walk. */
    struct walker *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    k->w = a;
    mvcc_snapshot_pin(&a->s, &k->p);
    int64_t r = k->p.rev;
    assert_int_equal(r, mvcc_current_rev(&ref->s));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, walker_main, k), 0);
    assert_true(test_wait_until(phase_1, k, WAIT_MS));

    /* Every key overwritten twice, then deleted, then compaction past R. */
    struct gen g = {.x = 99, .keys = keys};
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < keys; i++) {
            struct mvcc_txn tx;
            mvcc_txn_begin(&a->s, &tx);
            gen_put(&tx, &g, i, 0);
            mvcc_txn_end(&tx);
        }
    }
    struct mvcc_txn tx;
    mvcc_txn_begin(&a->s, &tx);
    assert_true(mvcc_txn_delete_range(&tx, (const uint8_t *)"k", 1, (const uint8_t *)"l", 1, NULL,
                                      NULL) == keys);
    mvcc_txn_end(&tx);
    assert_int_equal(mvcc_compact(&a->s, mvcc_current_rev(&a->s)), 0);
    int steps = 0;
    while (!mvcc_compact_step(&a->s, 64) && !mvcc_compact_held(&a->s) && steps++ < 100000)
        ;
    assert_true(mvcc_compact_held(&a->s));
    mvcc_reclaim(&a->s);
    atomic_store(&k->phase, 2);
    assert_true(test_wait_until(phase_3, k, WAIT_MS));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(k->more, 0);
    assert_true(k->sections > 10);

    mvcc_snapshot_unpin(&a->s);
    compact_finish(&a->s); /* now everything is gone from a */

    struct world *b = world_new();
    hist_restore(&k->h, b, &k->p, false);
    compare_reads(ref, b, c, r);
    hist_free(&k->h);
    free(k);
    world_free(b);
    world_free(ref);
    world_free(a);
}

/* --- store: what the restore refuses ------------------------------------------------------------
 */

#define V(rev, sub, ver, create)                                                      \
    (struct mvcc_restore_version)                                                     \
    {                                                                                 \
        .mod_rev = (rev), .mod_sub = (sub), .version = (ver), .create_rev = (create), \
        .value = (const uint8_t *)"x", .value_len = 1                                 \
    }
#define TOMB(rev) ((struct mvcc_restore_version){.mod_rev = (rev), .tombstone = true})

struct bad_case {
    const char *name;
    int64_t rev, compact;
    const char *keys[3]; /* NULL ends */
    struct mvcc_restore_version vs[3][4];
    uint32_t nvs[3];
    const char *why; /* a word of the expected reason */
};

static void test_restore_refuses(void **state)
{
    (void)state;
    const struct bad_case cases[] = {
        {"duplicate key",
         10,
         -1,
         {"a", "b", "a"},
         {{V(2, 0, 1, 2)}, {V(3, 0, 1, 3)}, {V(4, 0, 1, 4)}},
         {1, 1, 1},
         "twice"},
        {"above the revision", 10, -1, {"a"}, {{V(11, 0, 1, 11)}}, {1}, "outside"},
        {"not newest first", 10, -1, {"a"}, {{V(3, 0, 1, 3), V(4, 0, 1, 4)}}, {2}, "newest first"},
        {"same revision, sub not older",
         10,
         -1,
         {"a"},
         {{V(4, 1, 2, 4), V(4, 1, 1, 4)}},
         {2},
         "newest first"},
        {"tombstone at compaction", 10, 5, {"a"}, {{V(6, 0, 1, 6), TOMB(5)}}, {2}, "tombstone"},
        {"two versions at or below compaction",
         10,
         5,
         {"a"},
         {{V(4, 0, 2, 3), V(3, 0, 1, 3)}},
         {2},
         "compaction drops"},
        {"key without versions", 10, -1, {"a", "b"}, {{V(2, 0, 1, 2)}, {{0}}}, {1, 0}, "without"},
        {"oldest is a tombstone", 10, -1, {"a"}, {{V(6, 0, 1, 6), TOMB(5)}}, {2}, "oldest"},
        {"history missing", 10, 2, {"a"}, {{V(6, 0, 3, 4)}}, {1}, "missing"},
        {"generation does not follow",
         10,
         -1,
         {"a"},
         {{V(6, 0, 3, 2), V(2, 0, 1, 2)}},
         {2},
         "follow"},
        {"generation after a tombstone",
         10,
         -1,
         {"a"},
         {{V(7, 0, 2, 6), TOMB(5), V(2, 0, 1, 2)}},
         {3},
         "tombstone"},
        {"two tombstones", 10, -1, {"a"}, {{TOMB(7), TOMB(5), V(2, 0, 1, 2)}}, {3}, "two"},
        {"first version's create revision", 10, -1, {"a"}, {{V(6, 0, 1, 2)}}, {1}, "first"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *bc = &cases[i];
        struct world *w = world_new();
        struct mvcc_restore r;
        assert_int_equal(mvcc_restore_begin(&r, &w->s, bc->rev, bc->compact), 0);
        int err = 0;
        for (int k = 0; err == 0 && k < 3 && bc->keys[k] != NULL; k++) {
            err = mvcc_restore_key(&r, (const uint8_t *)bc->keys[k], (uint32_t)strlen(bc->keys[k]));
            for (uint32_t j = 0; err == 0 && j < bc->nvs[k]; j++)
                err = mvcc_restore_version(&r, &bc->vs[k][j]);
        }
        if (err == 0)
            err = mvcc_restore_end(&r);
        if (err != -RINGD_ECORRUPT || strstr(r.why, bc->why) == NULL)
            fail_msg("%s: got %d (%s)", bc->name, err, err ? r.why : "accepted");
        world_free(w); /* what was linked is the store's; its bytes add up (asserted) */
    }
    struct world *w = world_new();
    struct mvcc_restore r;
    assert_int_equal(mvcc_restore_begin(&r, &w->s, 5, 6), -RINGD_ECORRUPT);
    assert_int_equal(mvcc_restore_begin(&r, &w->s, 0, -1), -RINGD_ECORRUPT);
    assert_int_equal(mvcc_restore_begin(&r, &w->s, 5, -1), 0);
    struct mvcc_restore_version v = V(2, 0, 1, 2);
    assert_int_equal(mvcc_restore_version(&r, &v), -RINGD_ECORRUPT); /* before any key */
    world_free(w);
}

/* --- core/snapshot ---------------------------------------------------------------------------- */

static uint32_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    uint32_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void snap_path(const char *dir, uint64_t term, uint64_t index, char *path, size_t len)
{
    char name[SNAPSHOT_FILE_NAME_BYTES];
    snapshot_file_name(name, &(struct snapshot_file_id){.term = term, .index = index});
    snprintf(path, len, "%s/%s", dir, name);
}

/* A save on its own thread, as the server runs it. */
struct saver {
    const char *dir;
    struct world *w;
    struct mvcc_reader *reader; /* its own, registered on w's store */
    const struct snapshot_state *s;
    uint64_t max_snapshots;
    int err;
    char why[SNAPSHOT_MESSAGE_BYTES_MAX];
    _Atomic bool done;
};

static void *saver_main(void *arg)
{
    struct saver *sv = arg;
    sv->err = snapshot_save(sv->dir, &sv->w->s, sv->reader, sv->s, sv->max_snapshots, sv->why,
                            sizeof(sv->why));
    atomic_store(&sv->done, true);
    return NULL;
}

static bool saver_done(void *arg)
{
    struct saver *sv = arg;
    return atomic_load(&sv->done);
}

static struct mvcc_reader *reader_new(struct world *w)
{
    struct mvcc_reader *r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);
    assert_non_null(r);
    mvcc_reader_register(&w->s, r);
    return r;
}

/* The members every save_on_thread snapshot holds (none unless a test sets them). */
static struct members saved_members;

/* Saves w's state at (index, term) on a thread and waits for it. */
static void save_on_thread(const char *dir, struct world *w, struct mvcc_reader *reader,
                           uint64_t index, uint64_t term, const struct alarm_set *alarms,
                           uint64_t max_snapshots, struct snapshot_state *s)
{
    snapshot_begin(&w->s, index, term, alarms, &saved_members, s);
    struct saver *sv = calloc(1, sizeof(*sv));
    assert_non_null(sv);
    *sv = (struct saver){
        .dir = dir, .w = w, .reader = reader, .s = s, .max_snapshots = max_snapshots};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, saver_main, sv), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    snapshot_end(&w->s);
    if (sv->err != 0)
        fail_msg("save: %d %s", sv->err, sv->why);
    assert_string_equal(sv->why, "");
    free(sv);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", test_temp_dir("snapshot"));
    struct world *a = world_new();
    int64_t c = build(&a->s, 3, 250, 500, 250, 30);
    compact_finish(&a->s);
    /* Values larger than the write buffer, past and present. */
    size_t big = SNAPSHOT_WRITE_BUFFER_BYTES + 4096;
    uint8_t *value = malloc(big);
    assert_non_null(value);
    memset(value, 0x5a, big);
    for (int i = 0; i < 2; i++) {
        struct mvcc_txn t;
        mvcc_txn_begin(&a->s, &t);
        assert_int_equal(
            mvcc_txn_put(&t, (const uint8_t *)"big", 3, value, (uint32_t)big - i, 7, NULL), 0);
        mvcc_txn_end(&t);
    }
    free(value);
    struct alarm_set alarms = {0};
    assert_non_null(alarm_activate(&alarms, 0x1234, ALARM_NOSPACE));
    assert_non_null(alarm_activate(&alarms, 0x99, ALARM_CORRUPT));

    struct mvcc_reader *reader = reader_new(a);
    static struct snapshot_state s; /* large: the members table */
    saved_members = (struct members){.count = 2};
    saved_members.items[0] = (struct member_info){.id = 7, .n_peer_urls = 1, .name = "a"};
    strcpy(saved_members.items[0].peer_urls[0], "http://127.0.0.1:2380");
    saved_members.items[1] = (struct member_info){.id = 9, .is_learner = true, .n_client_urls = 1};
    strcpy(saved_members.items[1].client_urls[0], "http://127.0.0.1:2379");
    save_on_thread(dir, a, reader, 42, 3, &alarms, 0, &s);
    saved_members.count = 0;
    assert_int_equal(s.revision, mvcc_current_rev(&a->s));
    assert_int_equal(s.compact_rev, c);
    char path[600];
    snap_path(dir, 3, 42, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(count_files(dir), 1);

    struct world *b = world_new();
    static struct snapshot_state got; /* large: the members table */
    char why[SNAPSHOT_MESSAGE_BYTES_MAX];
    int err = snapshot_load(dir, &b->s, &got, why, sizeof(why));
    if (err != 0)
        fail_msg("load: %s", why);
    assert_string_equal(why, "");
    assert_int_equal(got.index, 42);
    assert_int_equal(got.term, 3);
    assert_int_equal(got.revision, s.revision);
    assert_int_equal(got.compact_rev, c);
    assert_int_equal(got.alarms.count, 2);
    assert_memory_equal(got.alarms.items, alarms.items, 2 * sizeof(alarms.items[0]));
    assert_int_equal(got.members.count, 2);
    assert_memory_equal(got.members.items, s.members.items, 2 * sizeof(s.members.items[0]));
    assert_int_equal(mvcc_current_rev(&b->s), s.revision);
    assert_int_equal(mvcc_compact_rev(&b->s), c);
    compare_reads(a, b, c, s.revision);

    /* A restored store snapshots the same: its file is byte for byte the first one. */
    struct mvcc_reader *reader_b = reader_new(b);
    static struct snapshot_state s2; /* large: the members table */
    saved_members = got.members;
    save_on_thread(dir, b, reader_b, 43, 3, &got.alarms, 0, &s2);
    saved_members.count = 0;
    char path2[600];
    snap_path(dir, 3, 43, path2, sizeof(path2));
    struct stat st2;
    assert_int_equal(stat(path2, &st2), 0);
    assert_int_equal(st2.st_size, st.st_size);

    free(reader_b);
    world_free(b);
    free(reader);
    world_free(a);
    test_remove_dir(dir);
}

static void test_load_nothing(void **state)
{
    (void)state;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", test_temp_dir("snapshot"));
    struct world *b = world_new();
    static struct snapshot_state s; /* large: the members table */
    char why[SNAPSHOT_MESSAGE_BYTES_MAX];
    assert_int_equal(snapshot_load(dir, &b->s, &s, why, sizeof(why)), 0);
    assert_int_equal(s.index, 0);
    assert_int_equal(s.revision, 1);
    assert_int_equal(s.compact_rev, -1);
    assert_int_equal(s.alarms.count, 0);
    world_free(b);
    test_remove_dir(dir);
}

/* The server's case: a save on a background thread while the writer keeps writing and
 * compacts past R; a reference store built to R is what the snapshot must equal. */
static void test_save_while_writing(void **state)
{
    (void)state;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", test_temp_dir("snapshot"));
    const uint32_t keys = 20000;
    struct world *a = world_new();
    struct world *ref = world_new();
    int64_t c = build(&a->s, 5, keys, 30000, 20000, 5000);
    assert_int_equal(build(&ref->s, 5, keys, 30000, 20000, 5000), c);
    compact_finish(&ref->s);
    struct mvcc_reader *reader = reader_new(a);
    struct alarm_set alarms = {0};
    static struct snapshot_state s; /* large: the members table */
    snapshot_begin(&a->s, 1000, 2, &alarms, NULL, &s);
    struct saver *sv = calloc(1, sizeof(*sv));
    assert_non_null(sv);
    *sv = (struct saver){.dir = dir, .w = a, .reader = reader, .s = &s, .max_snapshots = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, saver_main, sv), 0);

    /* The writer: compaction past R at once, then writes and compaction steps (as the apply
     * actor takes them between batches) until the save is over. */
    struct gen g = {.x = 77, .keys = keys};
    for (int i = 0; i < 64; i++)
        gen_txn(&a->s, &g);
    assert_int_equal(mvcc_compact(&a->s, mvcc_current_rev(&a->s)), 0);
    uint64_t writes = 0;
    while (!atomic_load(&sv->done) && writes < 2000000) {
        for (int i = 0; i < 64; i++)
            gen_txn(&a->s, &g);
        writes += 64;
        mvcc_compact_step(&a->s, 256);
        mvcc_reclaim(&a->s);
    }
    assert_true(test_wait_until(saver_done, sv, WAIT_MS));
    assert_int_equal(pthread_join(t, NULL), 0);
    snapshot_end(&a->s);
    if (sv->err != 0)
        fail_msg("save: %s", sv->why);
    assert_true(mvcc_compact_rev(&a->s) > s.revision);
    assert_true(writes > 0);
    compact_finish(&a->s);

    struct world *b = world_new();
    static struct snapshot_state got; /* large: the members table */
    char why[SNAPSHOT_MESSAGE_BYTES_MAX];
    int err = snapshot_load(dir, &b->s, &got, why, sizeof(why));
    if (err != 0)
        fail_msg("load: %s", why);
    assert_int_equal(got.revision, s.revision);
    assert_int_equal(got.compact_rev, c);
    /* Every revision from c to R is a lot of reads; every 97th and both ends tell the same. */
    compare_reads(ref, b, c, c);
    for (int64_t rev = c + 97; rev < s.revision; rev += 97)
        compare_reads(ref, b, rev, rev);
    compare_reads(ref, b, s.revision, s.revision);

    free(sv);
    free(reader);
    world_free(b);
    world_free(ref);
    world_free(a);
    test_remove_dir(dir);
}

/* Saves of a small store at several indexes: pruning keeps the newest; a corrupt newest one is
 * skipped for the next and named. */
static void test_prune_and_newest_valid(void **state)
{
    (void)state;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", test_temp_dir("snapshot"));
    struct world *a = world_new();
    struct mvcc_reader *reader = reader_new(a);
    struct alarm_set alarms = {0};
    static struct snapshot_state s; /* large: the members table */
    struct gen g = {.x = 1, .keys = 50};
    int64_t revs[5];
    for (uint64_t i = 1; i <= 4; i++) {
        for (int j = 0; j < 20; j++)
            gen_txn(&a->s, &g);
        save_on_thread(dir, a, reader, 10 * i, 2, &alarms, 2, &s);
        revs[i] = s.revision;
        assert_int_equal(count_files(dir), i < 2 ? i : 2);
    }
    char p30[600], p40[600];
    snap_path(dir, 2, 30, p30, sizeof(p30));
    snap_path(dir, 2, 40, p40, sizeof(p40));
    /* A byte of the newest one's first key record. */
    int fd = open(p40, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    off_t at = SNAPSHOT_FILE_HEADER_BYTES + 2 * (off_t)snapshot_file_record_bytes(0) + 16 + 30;
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 1;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);

    struct world *b = world_new();
    static struct snapshot_state got; /* large: the members table */
    char why[SNAPSHOT_MESSAGE_BYTES_MAX];
    assert_int_equal(snapshot_load(dir, &b->s, &got, why, sizeof(why)), 0);
    assert_int_equal(got.index, 30);
    assert_int_equal(got.revision, revs[3]);
    assert_non_null(strstr(why, p40));
    assert_non_null(strstr(why, "at offset"));
    world_free(b);

    /* The older one corrupt too: nothing loads, both named. */
    assert_int_equal(truncate(p30, 100), 0);
    b = world_new();
    assert_int_equal(snapshot_load(dir, &b->s, &got, why, sizeof(why)), -RINGD_ECORRUPT);
    assert_non_null(strstr(why, p40));
    assert_non_null(strstr(why, p30));
    world_free(b);

    free(reader);
    world_free(a);
    test_remove_dir(dir);
}

/* Writes a snapshot file record by record, as a buggy or foreign writer might. */
struct rec_spec {
    uint8_t type;
    uint8_t payload[64];
    uint32_t bytes;
};

static void write_records(const char *dir, const struct rec_spec *recs, uint32_t n,
                          uint64_t *offsets)
{
    struct snapshot_file_writer *w = malloc(sizeof(*w));
    assert_non_null(w);
    struct snapshot_file_id id = {.term = 1, .index = 9};
    assert_int_equal(snapshot_file_create(w, dir, &id), 0);
    for (uint32_t i = 0; i < n; i++) {
        offsets[i] = w->offset;
        assert_int_equal(
            snapshot_file_append(w, recs[i].type, recs[i].payload, recs[i].bytes, NULL, 0), 0);
    }
    assert_int_equal(snapshot_file_commit(w), 0);
    free(w);
}

static struct rec_spec rec_store(int64_t rev, int64_t compact)
{
    struct rec_spec r = {.type = SNAPSHOT_REC_STORE, .bytes = SNAPSHOT_STORE_BYTES};
    for (int i = 0; i < 8; i++) {
        r.payload[i] = (uint8_t)((uint64_t)rev >> (8 * i));
        r.payload[8 + i] = (uint8_t)((uint64_t)compact >> (8 * i));
    }
    return r;
}

static struct rec_spec rec_key(const char *key, uint32_t versions)
{
    struct rec_spec r = {.type = SNAPSHOT_REC_KEY};
    for (int i = 0; i < 4; i++)
        r.payload[i] = (uint8_t)(versions >> (8 * i));
    uint32_t n = (uint32_t)strlen(key);
    memcpy(r.payload + 4, key, n);
    r.bytes = 4 + n;
    return r;
}

static struct rec_spec rec_version(int64_t mod_rev, int64_t version, int64_t create)
{
    struct rec_spec r = {.type = SNAPSHOT_REC_VERSION, .bytes = SNAPSHOT_VERSION_FIXED_BYTES + 1};
    for (int i = 0; i < 8; i++) {
        r.payload[i] = (uint8_t)((uint64_t)mod_rev >> (8 * i));
        r.payload[13 + i] = (uint8_t)((uint64_t)create >> (8 * i));
        r.payload[21 + i] = (uint8_t)((uint64_t)version >> (8 * i));
    }
    r.payload[SNAPSHOT_VERSION_FIXED_BYTES] = 'x';
    return r;
}

/* Records that frame well but mean nothing a server can hold: refused, naming the record. */
static void test_load_refuses_records(void **state)
{
    (void)state;
    struct bad {
        const char *name;
        struct rec_spec recs[4];
        uint32_t n;
        int bad; /* index of the record named; n: the end of the file */
        const char *why;
    } cases[] = {
        {"unknown type", {rec_store(5, -1), {.type = 9, .bytes = 3}}, 2, 1, "type 9"},
        {"reserved type",
         {rec_store(5, -1), {.type = SNAPSHOT_REC_LEASE, .bytes = 8}},
         2,
         1,
         "type 6"},
        {"store not first", {rec_key("a", 1), rec_store(5, -1)}, 2, 0, "first"},
        {"two store records", {rec_store(5, -1), rec_store(5, -1)}, 2, 1, "second"},
        {"no store record", {{0}}, 0, 0, "no store"},
        {"version above the revision",
         {rec_store(5, -1), rec_key("a", 1), rec_version(7, 1, 7)},
         3,
         2,
         "outside"},
        {"a version missing",
         {rec_store(5, -1), rec_key("a", 2), rec_version(3, 2, 2)},
         3,
         3,
         "missing"},
        {"a version too many",
         {rec_store(5, -1), rec_key("a", 1), rec_version(3, 1, 3), rec_version(2, 1, 2)},
         4,
         3,
         "no key"},
        {"impossible revisions", {rec_store(5, 6)}, 1, 0, "impossible"},
        {"malformed alarm",
         {rec_store(5, -1), {.type = SNAPSHOT_REC_ALARM, .bytes = 4}},
         2,
         1,
         "alarm"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dir[256];
        snprintf(dir, sizeof(dir), "%s", test_temp_dir("snapshot"));
        uint64_t offsets[5];
        write_records(dir, cases[i].recs, cases[i].n, offsets);
        char path[600];
        snap_path(dir, 1, 9, path, sizeof(path));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        offsets[cases[i].n] = (uint64_t)st.st_size;
        char want[700];
        snprintf(want, sizeof(want), "snapshot: corrupt file %s at offset %" PRIu64 ": ", path,
                 offsets[cases[i].bad]);

        struct world *b = world_new();
        static struct snapshot_state got; /* large: the members table */
        char why[SNAPSHOT_MESSAGE_BYTES_MAX];
        int err = snapshot_load(dir, &b->s, &got, why, sizeof(why));
        if (err != -RINGD_ECORRUPT || strstr(why, want) != why || !strstr(why, cases[i].why))
            fail_msg("%s: %d \"%s\", wanted \"%s...%s\"", cases[i].name, err, why, want,
                     cases[i].why);
        world_free(b);
        test_remove_dir(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_restore_round_trip),
        cmocka_unit_test(test_pin_holds_compaction),
        cmocka_unit_test(test_walk_with_writer),
        cmocka_unit_test(test_restore_refuses),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_load_nothing),
        cmocka_unit_test(test_save_while_writing),
        cmocka_unit_test(test_prune_and_newest_valid),
        cmocka_unit_test(test_load_refuses_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
