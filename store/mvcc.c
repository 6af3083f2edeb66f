#include "mvcc.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "mvcc_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "ringd_limits.h"
#include "skiplist.h"

_Static_assert(MVCC_INDEX_PARTITIONS >= 1 && MVCC_INDEX_PARTITIONS <= 64,
               "the cursor merges its partitions by a linear scan");
_Static_assert(MVCC_RETIRE_BATCH_MAX >= 1, "a retire batch holds something");

/* ck_epoch is inline assembly that ThreadSanitizer cannot see, so the one hand-over it makes
 * is declared to it: everything a reader did in a section happens before the writer frees what
 * that section could see (a release at the end of each section, an acquire in each deferred
 * free). Publication itself uses C11 atomics, which TSan sees. */
#if defined(__SANITIZE_THREAD__)
#define MVCC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MVCC_TSAN 1
#endif
#endif
#ifdef MVCC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define MVCC_TSAN_RELEASE(addr) __tsan_release(addr)
#define MVCC_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define MVCC_TSAN_RELEASE(addr) ((void)(addr))
#define MVCC_TSAN_ACQUIRE(addr) ((void)(addr))
#endif

/* Memory the writer unlinked, freed once no read section that could still see it is left.
 * An item is a version chain (the first unlinked version; its older ones follow) or, tagged
 * with RETIRED_KEY, a key node together with all its versions. One ck_epoch entry per batch
 * rather than per object keeps live versions and keys free of a 16-byte entry each. */
#define RETIRED_KEY ((uintptr_t)1)

struct mvcc_retired {
    ck_epoch_entry_t entry;
    struct mvcc_store *store;
    uint32_t count;
    uintptr_t items[MVCC_RETIRE_BATCH_MAX];
};

/* --- hashing -------------------------------------------------------------------------------- */

static struct skiplist *list_of(const struct mvcc_store *s, const uint8_t *key, uint32_t key_len)
{
    return &s->parts[mvcc_partition_of(key, key_len)].list;
}

/* --- freeing -------------------------------------------------------------------------------- */

static void free_chain(struct mvcc_store *s, struct mvcc_version *v)
{
    int64_t freed = 0;
    while (v != NULL) {
        struct mvcc_version *older = mvcc_older_own(v);
        freed += (int64_t)mvcc_version_bytes(v->value_len);
        free(v);
        v = older;
    }
    mvcc_bytes_add(s, -freed);
}

static void free_key(struct mvcc_store *s, struct mvcc_key *k)
{
    free_chain(s, mvcc_newest_own(k));
    mvcc_bytes_add(s, -(int64_t)skiplist_node_bytes(k->height, k->len));
    free(k);
}

static void free_retired_items(struct mvcc_retired *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        uintptr_t item = b->items[i];
        if (item & RETIRED_KEY)
            free_key(b->store, (struct mvcc_key *)(item & ~RETIRED_KEY));
        else
            free_chain(b->store, (struct mvcc_version *)item);
    }
    b->count = 0;
}

/* ck_epoch callback, on the writer thread inside ck_epoch_poll: the grace period is over. */
static void retired_free(ck_epoch_entry_t *e)
{
    struct mvcc_retired *b =
        (struct mvcc_retired *)((char *)e - offsetof(struct mvcc_retired, entry));
    MVCC_TSAN_ACQUIRE(&b->store->epoch);
    free_retired_items(b);
    free(b);
}

/* Hands the batch being filled to ck_epoch: freed once every section active now has ended. */
static void retire_flush(struct mvcc_writer *w)
{
    if (w->retired == NULL || w->retired->count == 0)
        return;
    ck_epoch_call(&w->record, &w->retired->entry, retired_free);
    w->retired = NULL;
}

/* Makes room for one retired item before anything is unlinked, so that running out of memory
 * leaves the index untouched. Returns 0 or -ENOMEM. */
static int retire_reserve(struct mvcc_writer *w)
{
    if (w->retired != NULL && w->retired->count < MVCC_RETIRE_BATCH_MAX)
        return 0;
    retire_flush(w);
    w->retired = malloc(sizeof(*w->retired));
    if (w->retired == NULL)
        return -ENOMEM;
    w->retired->store = w->store;
    w->retired->count = 0;
    return 0;
}

static void retire(struct mvcc_writer *w, uintptr_t item)
{
    ASSERT(w->retired != NULL && w->retired->count < MVCC_RETIRE_BATCH_MAX);
    ASSERT(item != 0);
    w->retired->items[w->retired->count++] = item;
}

/* --- store and readers ------------------------------------------------------------------------ */

static void parts_destroy(struct mvcc_store *s, uint32_t count)
{
    for (uint32_t p = 0; p < count; p++)
        skiplist_destroy(&s->parts[p].list);
    free(s->parts);
    s->parts = NULL;
}

int mvcc_store_init(struct mvcc_store *s)
{
    memset(s, 0, sizeof(*s));
    s->parts =
        aligned_alloc(MVCC_CACHELINE_BYTES, sizeof(struct mvcc_partition) * MVCC_INDEX_PARTITIONS);
    if (s->parts == NULL)
        return -ENOMEM;
    for (uint32_t p = 0; p < MVCC_INDEX_PARTITIONS; p++) {
        if (skiplist_init(&s->parts[p].list, 0x9e3779b97f4a7c15ull * (p + 1)) != 0) {
            parts_destroy(s, p);
            return -ENOMEM;
        }
    }
    size_t w_bytes = (sizeof(struct mvcc_writer) + MVCC_CACHELINE_BYTES - 1) &
                     ~(size_t)(MVCC_CACHELINE_BYTES - 1);
    s->w = aligned_alloc(MVCC_CACHELINE_BYTES, w_bytes);
    if (s->w == NULL) {
        parts_destroy(s, MVCC_INDEX_PARTITIONS);
        return -ENOMEM;
    }
    memset(s->w, 0, sizeof(*s->w));
    s->w->store = s;
    s->w->allowed_rev = -1;
    s->w->walk_rev = -1;
    atomic_init(&s->w->pin_rev, MVCC_NO_PIN);
    ck_epoch_init(&s->epoch);
    ck_epoch_register(&s->epoch, &s->w->record, NULL);
    atomic_init(&s->current_rev, 1);
    atomic_init(&s->compact_rev, -1);
    atomic_init(&s->bytes, 0);
    return 0;
}

void mvcc_store_destroy(struct mvcc_store *s)
{
    struct mvcc_writer *w = s->w;
    ASSERT(!w->in_txn);
    /* No reader is left, so everything deferred may go now. */
    ck_epoch_reclaim(&w->record);
    if (w->retired != NULL) {
        free_retired_items(w->retired);
        free(w->retired);
    }
    for (uint32_t p = 0; p < MVCC_INDEX_PARTITIONS; p++) {
        struct skiplist *l = &s->parts[p].list;
        struct mvcc_key *k = (struct mvcc_key *)skiplist_first(l);
        while (k != NULL) {
            struct mvcc_key *next = (struct mvcc_key *)skiplist_next(k);
            free_key(s, k);
            k = next;
        }
        atomic_store_explicit(&skiplist_links(l->head)[0], NULL, memory_order_relaxed);
    }
    ASSERT(atomic_load_explicit(&s->bytes, memory_order_relaxed) == 0);
    parts_destroy(s, MVCC_INDEX_PARTITIONS);
    free(w);
    s->w = NULL;
}

void mvcc_reader_register(struct mvcc_store *s, struct mvcc_reader *r)
{
    r->store = s;
    r->in_read = false;
    ck_epoch_register(&s->epoch, &r->record, r);
}

void mvcc_read_begin(struct mvcc_reader *r)
{
    ASSERT(!r->in_read);
    /* No ck section object: sections never nest here, and the plain form avoids a call. */
    ck_epoch_begin(&r->record, NULL);
    r->in_read = true;
}

void mvcc_read_end(struct mvcc_reader *r)
{
    ASSERT(r->in_read);
    r->in_read = false;
    MVCC_TSAN_RELEASE(&r->store->epoch);
    ck_epoch_end(&r->record, NULL);
}

int64_t mvcc_current_rev(const struct mvcc_store *s)
{
    return atomic_load_explicit(&s->current_rev, memory_order_acquire);
}

int64_t mvcc_compact_rev(const struct mvcc_store *s)
{
    return atomic_load_explicit(&s->compact_rev, memory_order_acquire);
}

int64_t mvcc_bytes(const struct mvcc_store *s)
{
    return atomic_load_explicit(&s->bytes, memory_order_acquire);
}

/* --- cursors ---------------------------------------------------------------------------------- */

/* The version of k visible at rev, or NULL (none yet, or a tombstone). Versions newer than rev
 * may be linked already (a transaction not yet published): they are skipped by revision. */
static const struct mvcc_version *visible_at(const struct mvcc_key *k, int64_t rev)
{
    const struct mvcc_version *v = atomic_load_explicit(&k->newest, memory_order_acquire);
    while (v != NULL && v->mod_rev > rev)
        v = atomic_load_explicit(&v->older, memory_order_acquire);
    return v != NULL && !v->tombstone ? v : NULL;
}

static bool before_end(const struct mvcc_cursor *c, const struct mvcc_key *k)
{
    return k != NULL && (c->to_end || skiplist_key_cmp(k->bytes, k->len, c->end, c->end_len) < 0);
}

static void cursor_start(struct mvcc_cursor *c, const struct mvcc_store *s, const uint8_t *key,
                         uint32_t key_len, const uint8_t *end, uint32_t end_len, int64_t rev)
{
    c->store = s;
    c->rev = rev;
    c->end = end;
    c->end_len = end_len;
    c->single = end_len == 0;
    c->to_end = end_len == 1 && end[0] == 0;
    for (uint32_t p = 0; p < MVCC_INDEX_PARTITIONS; p++)
        c->next[p] = NULL;
    if (c->single) {
        /* One key lives in one partition: the others are never touched. */
        uint32_t p = mvcc_partition_of(key, key_len);
        const struct mvcc_key *k = skiplist_seek(&s->parts[p].list, key, key_len);
        if (k != NULL && skiplist_key_cmp(k->bytes, k->len, key, key_len) == 0)
            c->next[p] = k;
        return;
    }
    if (!c->to_end && skiplist_key_cmp(end, end_len, key, key_len) <= 0)
        return; /* end <= key: etcd's empty range */
    for (uint32_t p = 0; p < MVCC_INDEX_PARTITIONS; p++) {
        const struct mvcc_key *k = skiplist_seek(&s->parts[p].list, key, key_len);
        c->next[p] = before_end(c, k) ? k : NULL;
    }
}

int mvcc_cursor_open(struct mvcc_cursor *c, const struct mvcc_store *s, const uint8_t *key,
                     uint32_t key_len, const uint8_t *end, uint32_t end_len, int64_t rev,
                     int64_t *rev_out)
{
    /* etcd's order of checks (rangeKeys): future first, then compacted. */
    int64_t current = mvcc_current_rev(s);
    if (rev > current)
        return -RINGD_EFUTURE_REV;
    if (rev <= 0)
        rev = current;
    if (rev < mvcc_compact_rev(s))
        return -RINGD_ECOMPACTED;
    cursor_start(c, s, key, key_len, end, end_len, rev);
    if (rev_out != NULL)
        *rev_out = rev;
    return 0;
}

void mvcc_cursor_at(struct mvcc_cursor *c, const struct mvcc_store *s, const uint8_t *key,
                    uint32_t key_len, const uint8_t *end, uint32_t end_len, int64_t rev)
{
    ASSERT(rev > 0);
    cursor_start(c, s, key, key_len, end, end_len, rev);
}

/* The partition whose candidate key is smallest, or -1 when all are done. */
static int cursor_min(const struct mvcc_cursor *c)
{
    int best = -1;
    for (int p = 0; p < MVCC_INDEX_PARTITIONS; p++) {
        const struct mvcc_key *k = c->next[p];
        if (k == NULL)
            continue;
        if (best < 0 ||
            skiplist_key_cmp(k->bytes, k->len, c->next[best]->bytes, c->next[best]->len) < 0)
            best = p;
    }
    return best;
}

bool mvcc_cursor_next(struct mvcc_cursor *c, struct mvcc_kv *out)
{
    int p;
    while ((p = cursor_min(c)) >= 0) {
        const struct mvcc_key *k = c->next[p];
        const struct mvcc_key *n = c->single ? NULL : skiplist_next(k);
        c->next[p] = before_end(c, n) ? n : NULL;
        const struct mvcc_version *v = visible_at(k, c->rev);
        if (v != NULL) {
            out->key = k->bytes;
            out->key_len = k->len;
            out->v = v;
            return true;
        }
    }
    return false;
}

/* --- write transactions ----------------------------------------------------------------------- */

void mvcc_txn_begin(struct mvcc_store *s, struct mvcc_txn *t)
{
    ASSERT(!s->w->in_txn);
    s->w->in_txn = true;
    t->store = s;
    t->rev = atomic_load_explicit(&s->current_rev, memory_order_relaxed) + 1;
    t->changes = 0;
}

static struct mvcc_version *version_new(struct mvcc_txn *t, const uint8_t *value,
                                        uint32_t value_len)
{
    struct mvcc_version *v = malloc(mvcc_version_bytes(value_len));
    if (v == NULL)
        return NULL;
    atomic_init(&v->older, NULL);
    v->key = NULL;
    v->mod_rev = t->rev;
    v->mod_sub = t->changes;
    v->create_rev = 0;
    v->version = 0;
    v->lease = 0;
    v->tombstone = false;
    v->value_len = value_len;
    if (value_len > 0)
        memcpy(v->value, value, value_len);
    return v;
}

/* Puts v at the head of k's versions. Release: a reader that finds v sees it whole. */
static void version_link(struct mvcc_txn *t, struct mvcc_key *k, struct mvcc_version *v)
{
    ASSERT(t->changes < UINT32_MAX);
    v->key = k;
    atomic_store_explicit(&v->older, mvcc_newest_own(k), memory_order_relaxed);
    atomic_store_explicit(&k->newest, v, memory_order_release);
    mvcc_bytes_add(t->store, (int64_t)mvcc_version_bytes(v->value_len));
    t->changes++;
}

int mvcc_txn_put(struct mvcc_txn *t, const uint8_t *key, uint32_t key_len, const uint8_t *value,
                 uint32_t value_len, int64_t lease, const struct mvcc_version **prev)
{
    ASSERT(t->store->w->in_txn);
    struct skiplist *l = list_of(t->store, key, key_len);
    struct mvcc_key *preds[MVCC_SKIPLIST_LEVELS];
    struct mvcc_key *k = skiplist_find(l, key, key_len, preds);
    const struct mvcc_version *newest = k != NULL ? mvcc_newest_own(k) : NULL;
    const struct mvcc_version *live = newest != NULL && !newest->tombstone ? newest : NULL;
    struct mvcc_version *v = version_new(t, value, value_len);
    if (v == NULL)
        return -ENOMEM;
    v->lease = lease;
    /* A generation starts at a key that is absent or whose last version is a tombstone. */
    v->create_rev = live != NULL ? live->create_rev : t->rev;
    v->version = live != NULL ? live->version + 1 : 1;
    if (k == NULL) {
        k = skiplist_node_new(l, key, key_len);
        if (k == NULL) {
            free(v);
            return -ENOMEM;
        }
        version_link(t, k, v);
        /* A new key is visible to readers at once, but only through versions newer than any
         * revision they may read at until mvcc_txn_end: they skip it. */
        skiplist_link(l, k, preds);
        mvcc_bytes_add(t->store, (int64_t)skiplist_node_bytes(k->height, k->len));
    } else {
        version_link(t, k, v);
    }
    if (prev != NULL)
        *prev = live;
    return 0;
}

static int tombstone_put(struct mvcc_txn *t, struct mvcc_key *k)
{
    struct mvcc_version *v = version_new(t, NULL, 0);
    if (v == NULL)
        return -ENOMEM;
    v->tombstone = true;
    version_link(t, k, v);
    return 0;
}

void mvcc_txn_cursor(struct mvcc_txn *t, struct mvcc_cursor *c, const uint8_t *key,
                     uint32_t key_len, const uint8_t *end, uint32_t end_len)
{
    ASSERT(t->store->w->in_txn);
    int64_t rev = t->changes > 0 ? t->rev : t->rev - 1;
    cursor_start(c, t->store, key, key_len, end, end_len, rev);
}

int64_t mvcc_txn_delete_range(struct mvcc_txn *t, const uint8_t *key, uint32_t key_len,
                              const uint8_t *end, uint32_t end_len,
                              void (*deleted)(void *arg, const struct mvcc_kv *kv), void *arg)
{
    /* The cursor reads at the revision the transaction saw when the delete began; each key is
     * passed before its tombstone is linked, so the cursor never meets its own tombstones. */
    struct mvcc_cursor c;
    mvcc_txn_cursor(t, &c, key, key_len, end, end_len);
    struct mvcc_kv kv;
    int64_t n = 0;
    while (mvcc_cursor_next(&c, &kv)) {
        if (deleted != NULL)
            deleted(arg, &kv);
        int err = tombstone_put(t, (struct mvcc_key *)kv.v->key);
        if (err != 0)
            return err;
        n++;
    }
    return n;
}

int64_t mvcc_txn_end(struct mvcc_txn *t)
{
    struct mvcc_store *s = t->store;
    ASSERT(s->w->in_txn);
    s->w->in_txn = false;
    if (t->changes > 0) {
        ASSERT(t->rev == atomic_load_explicit(&s->current_rev, memory_order_relaxed) + 1);
        /* Release: every version of the revision is linked before a reader can read at it. */
        atomic_store_explicit(&s->current_rev, t->rev, memory_order_release);
    }
    return atomic_load_explicit(&s->current_rev, memory_order_relaxed);
}

/* --- compaction ------------------------------------------------------------------------------- */

/* ck_epoch callback: every read section that could have passed the compacted-revision check
 * with an older value has ended, so history up to barrier_rev may go. */
static void barrier_done(ck_epoch_entry_t *e)
{
    struct mvcc_writer *w =
        (struct mvcc_writer *)((char *)e - offsetof(struct mvcc_writer, barrier));
    ASSERT(w->barrier_pending);
    ASSERT(w->barrier_rev > w->allowed_rev);
    w->allowed_rev = w->barrier_rev;
    w->barrier_pending = false;
}

static void barrier_start(struct mvcc_writer *w, int64_t rev)
{
    ASSERT(!w->barrier_pending);
    w->barrier_pending = true;
    w->barrier_rev = rev;
    ck_epoch_call(&w->record, &w->barrier, barrier_done);
}

int mvcc_compact(struct mvcc_store *s, int64_t rev)
{
    /* etcd's checks in its order (updateCompactRev). */
    if (rev <= atomic_load_explicit(&s->compact_rev, memory_order_relaxed))
        return -RINGD_ECOMPACTED;
    if (rev > atomic_load_explicit(&s->current_rev, memory_order_relaxed))
        return -RINGD_EFUTURE_REV;
    /* Sequentially consistent: the store is ordered before the barrier's grace period starts,
     * so a section that still reads the old value began before it and holds the barrier. */
    atomic_store_explicit(&s->compact_rev, rev, memory_order_seq_cst);
    if (!s->w->barrier_pending)
        barrier_start(s->w, rev);
    return 0;
}

static void walk_start(struct mvcc_writer *w)
{
    w->walking = true;
    w->rewalk = false;
    w->walk_part = 0;
    w->walk_next = (struct mvcc_key *)skiplist_first(&w->store->parts[0].list);
}

/* The revision physical compaction may trim to now: the grace period's, held at the pin of a
 * snapshot in progress. */
static int64_t trim_rev(const struct mvcc_writer *w)
{
    int64_t pin = atomic_load_explicit(&w->pin_rev, memory_order_relaxed);
    return w->allowed_rev < pin ? w->allowed_rev : pin;
}

/* Moves the compaction state forward after a poll: a new barrier for a raised target, a walk
 * for a revision whose grace period is over (and that no snapshot pin holds back). */
static void compact_schedule(struct mvcc_writer *w)
{
    int64_t target = atomic_load_explicit(&w->store->compact_rev, memory_order_relaxed);
    if (!w->barrier_pending && w->allowed_rev < target)
        barrier_start(w, target);
    int64_t trim = trim_rev(w);
    if (trim <= w->walk_rev)
        return;
    /* Trimming the rest of this pass at the higher revision is safe at once; the keys the
     * pass already left behind (and keys created meanwhile) get another pass. */
    if (w->walking)
        w->rewalk = true;
    else
        walk_start(w);
    w->walk_rev = trim;
}

/* Applies the compaction rule to one key: drop every version <= rev but the newest of them,
 * and that one too when it is a tombstone; a key left without versions leaves the index. The
 * caller reserved a retire slot: this retires at most one item. */
static void compact_key(struct mvcc_writer *w, struct skiplist *l, struct mvcc_key *k, int64_t rev)
{
    struct mvcc_version *newer = NULL;
    struct mvcc_version *v = mvcc_newest_own(k);
    while (v != NULL && v->mod_rev > rev) {
        newer = v;
        v = mvcc_older_own(v);
    }
    if (v == NULL)
        return;
    if (!v->tombstone) {
        struct mvcc_version *cut = mvcc_older_own(v);
        if (cut != NULL) {
            atomic_store_explicit(&v->older, NULL, memory_order_release);
            retire(w, (uintptr_t)cut);
        }
    } else if (newer != NULL) {
        atomic_store_explicit(&newer->older, NULL, memory_order_release);
        retire(w, (uintptr_t)v);
    } else {
        skiplist_unlink(l, k);
        retire(w, (uintptr_t)k | RETIRED_KEY);
    }
}

/* One unit of walk work: one key, or moving to the next partition. Returns 0 or -ENOMEM. */
static int walk_one(struct mvcc_writer *w)
{
    if (w->walk_next == NULL) {
        if (++w->walk_part < MVCC_INDEX_PARTITIONS) {
            w->walk_next = (struct mvcc_key *)skiplist_first(&w->store->parts[w->walk_part].list);
        } else if (w->rewalk) {
            walk_start(w);
        } else {
            w->walking = false;
        }
        return 0;
    }
    int err = retire_reserve(w);
    if (err != 0)
        return err;
    struct mvcc_key *k = w->walk_next;
    /* The position survives between steps as a node pointer because only this walk ever
     * unlinks nodes, and it has not reached that one yet. Keys the writer links before the
     * position meanwhile are new: their versions are all above walk_rev, unless walk_rev rises
     * (compact_schedule), which schedules another pass. */
    w->walk_next = (struct mvcc_key *)skiplist_next(k);
    compact_key(w, &w->store->parts[w->walk_part].list, k, w->walk_rev);
    return 0;
}

bool mvcc_compact_step(struct mvcc_store *s, uint32_t key_budget)
{
    struct mvcc_writer *w = s->w;
    ck_epoch_poll(&w->record);
    compact_schedule(w);
    for (uint32_t done = 0; w->walking && done < key_budget; done++) {
        if (walk_one(w) != 0)
            break; /* out of memory for a retire batch: nothing was unlinked, retry later */
    }
    retire_flush(w);
    /* walk_rev <= allowed_rev <= target: the walk is done at the target, not only at what a
     * pin lets it reach. */
    int64_t target = atomic_load_explicit(&s->compact_rev, memory_order_relaxed);
    return !w->walking && !w->barrier_pending && w->walk_rev == target;
}

bool mvcc_compact_held(const struct mvcc_store *s)
{
    const struct mvcc_writer *w = s->w;
    int64_t target = atomic_load_explicit(&s->compact_rev, memory_order_relaxed);
    return !w->walking && !w->barrier_pending && w->walk_rev < target && trim_rev(w) <= w->walk_rev;
}

void mvcc_reclaim(struct mvcc_store *s)
{
    ck_epoch_poll(&s->w->record);
}
