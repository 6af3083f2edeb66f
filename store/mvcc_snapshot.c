#include "mvcc_snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvcc_internal.h"
#include "ringd_assert.h"
#include "ringd_error.h"
#include "skiplist.h"

/* --- pinning ---------------------------------------------------------------------------------- */

void mvcc_snapshot_pin(struct mvcc_store *s, struct mvcc_snapshot_point *p)
{
    struct mvcc_writer *w = s->w;
    ASSERT(!w->in_txn);
    ASSERT(atomic_load_explicit(&w->pin_rev, memory_order_relaxed) == MVCC_NO_PIN);
    p->rev = atomic_load_explicit(&s->current_rev, memory_order_relaxed);
    p->compact_rev = atomic_load_explicit(&s->compact_rev, memory_order_relaxed);
    ASSERT(p->compact_rev <= p->rev);
    /* What physical compaction trimmed so far is within C: the walk's rule drops it anyway. */
    ASSERT(w->walk_rev <= w->allowed_rev && w->allowed_rev <= p->compact_rev);
    atomic_store_explicit(&w->pin_rev, p->compact_rev, memory_order_release);
}

void mvcc_snapshot_unpin(struct mvcc_store *s)
{
    struct mvcc_writer *w = s->w;
    ASSERT(atomic_load_explicit(&w->pin_rev, memory_order_relaxed) != MVCC_NO_PIN);
    atomic_store_explicit(&w->pin_rev, MVCC_NO_PIN, memory_order_release);
}

/* --- the walk --------------------------------------------------------------------------------- */

void mvcc_walk_init(struct mvcc_walk *w, struct mvcc_store *s, struct mvcc_reader *r,
                    const struct mvcc_snapshot_point *p)
{
    ASSERT(r->store == s && !r->in_read);
    ASSERT(p->rev >= 1 && p->compact_rev <= p->rev);
    memset(w, 0, sizeof(*w));
    w->store = s;
    w->reader = r;
    w->rev = p->rev;
    w->compact_rev = p->compact_rev;
}

void mvcc_walk_destroy(struct mvcc_walk *w)
{
    free(w->resume_key);
    w->resume_key = NULL;
    w->resume_cap = 0;
}

/* Fills wk with what the snapshot holds of k: the versions <= rev that compaction at
 * compact_rev keeps. False when that is nothing. The run counted here is stable for the rest of
 * the read section: physical compaction, held at compact_rev or below by the pin, cuts a chain
 * only below the newest version <= compact_rev, or at a tombstone the rule drops anyway. */
static bool walk_key(const struct mvcc_walk *w, const struct mvcc_key *k, struct mvcc_walk_key *wk)
{
    const struct mvcc_version *v = atomic_load_explicit(&k->newest, memory_order_acquire);
    while (v != NULL && v->mod_rev > w->rev)
        v = mvcc_snapshot_older(v);
    wk->key = k->bytes;
    wk->key_len = k->len;
    wk->newest = v;
    wk->versions = 0;
    wk->value_bytes = 0;
    for (; v != NULL && v->mod_rev > w->compact_rev; v = mvcc_snapshot_older(v)) {
        wk->versions++;
        wk->value_bytes += v->value_len;
    }
    if (v != NULL && !v->tombstone) {
        wk->versions++;
        wk->value_bytes += v->value_len;
    }
    return wk->versions > 0;
}

/* Where the next section starts in the current partition. */
static const struct mvcc_key *walk_resume(const struct mvcc_walk *w)
{
    const struct skiplist *l = &w->store->parts[w->part].list;
    if (!w->resume_set)
        return skiplist_first(l);
    /* The node met last may be gone: a key compacted away since leaves the list, and the
     * seek finds the next. Keys linked since have only versions above rev, which are skipped. */
    return skiplist_seek(l, w->resume_key, w->resume_len);
}

/* Remembers k's key as the place to go on at; inside the section, while k is readable. */
static int walk_remember(struct mvcc_walk *w, const struct mvcc_key *k)
{
    if (k->len > w->resume_cap) {
        uint8_t *b = realloc(w->resume_key, k->len);
        if (b == NULL)
            return -ENOMEM;
        w->resume_key = b;
        w->resume_cap = k->len;
    }
    if (k->len > 0)
        memcpy(w->resume_key, k->bytes, k->len);
    w->resume_len = k->len;
    w->resume_set = true;
    return 0;
}

/* Offers keys from k on until the budget, the partitions or emit ends the section. Returns
 * the node to go on at (NULL: the walk is done) and sets *err for an error. */
static const struct mvcc_key *walk_section(struct mvcc_walk *w, const struct mvcc_key *k,
                                           uint32_t key_budget, mvcc_walk_emit_fn emit, void *arg,
                                           int *err)
{
    uint32_t visited = 0, taken = 0;
    *err = 0;
    for (;;) {
        /* A partition's end moves the walk to the next one, even when the budget is spent
         * (the place to go on at must be a key of the partition the walk is in). */
        while (k == NULL) {
            w->resume_set = false;
            if (++w->part == MVCC_INDEX_PARTITIONS)
                return NULL;
            k = skiplist_first(&w->store->parts[w->part].list);
        }
        if (visited == key_budget)
            return k;
        visited++;
        struct mvcc_walk_key wk;
        if (walk_key(w, k, &wk)) {
            int e = emit(arg, &wk);
            if (e == MVCC_WALK_STOP) {
                ASSERT(taken > 0); /* the first key of a section must be taken */
                return k;
            }
            if (e < 0) {
                *err = e;
                return k;
            }
            ASSERT(e == 0);
            taken++;
            w->keys++;
            w->versions += wk.versions;
        }
        k = skiplist_next(k);
    }
}

int mvcc_walk_step(struct mvcc_walk *w, uint32_t key_budget, mvcc_walk_emit_fn emit, void *arg)
{
    ASSERT(key_budget >= 1);
    /* The rule of mvcc_snapshot.h: the writer holds physical compaction at our C. */
    ASSERT(atomic_load_explicit(&w->store->w->pin_rev, memory_order_acquire) == w->compact_rev);
    if (w->part == MVCC_INDEX_PARTITIONS)
        return 0;
    mvcc_read_begin(w->reader);
    w->sections++;
    int err;
    const struct mvcc_key *next = walk_section(w, walk_resume(w), key_budget, emit, arg, &err);
    if (next != NULL && err == 0)
        err = walk_remember(w, next);
    mvcc_read_end(w->reader);
    if (err < 0)
        return err;
    return w->part < MVCC_INDEX_PARTITIONS ? 1 : 0;
}

/* --- the restore ------------------------------------------------------------------------------ */

static bool store_is_empty(const struct mvcc_store *s)
{
    if (atomic_load_explicit(&s->current_rev, memory_order_relaxed) != 1 ||
        atomic_load_explicit(&s->compact_rev, memory_order_relaxed) != -1 ||
        atomic_load_explicit(&s->bytes, memory_order_relaxed) != 0)
        return false;
    for (uint32_t p = 0; p < MVCC_INDEX_PARTITIONS; p++) {
        if (skiplist_first(&s->parts[p].list) != NULL)
            return false;
    }
    return true;
}

int mvcc_restore_begin(struct mvcc_restore *r, struct mvcc_store *s, int64_t rev,
                       int64_t compact_rev)
{
    ASSERT(!s->w->in_txn);
    ASSERT(store_is_empty(s));
    memset(r, 0, sizeof(*r));
    r->store = s;
    r->rev = rev;
    r->compact_rev = compact_rev;
    for (uint32_t p = 0; p < MVCC_INDEX_PARTITIONS; p++) {
        for (uint32_t i = 0; i < MVCC_SKIPLIST_LEVELS; i++)
            r->tails[p][i] = s->parts[p].list.head;
    }
    if (rev < 1 || compact_rev < -1 || compact_rev > rev) {
        r->why = "impossible revisions (compacted above current, or current below 1)";
        return -RINGD_ECORRUPT;
    }
    return 0;
}

/* Every error frees a key node not linked yet (the store owns the linked ones). */
static int restore_fail(struct mvcc_restore *r, const char *why)
{
    if (r->key != NULL && !r->key_linked) {
        free(r->key);
        r->key = NULL;
    }
    r->why = why;
    return -RINGD_ECORRUPT;
}

/* The key being filled is complete: it has a version, and its history has no hole (a kept
 * chain ends at a generation's first version, or at a version compaction left as the oldest). */
static int restore_key_finish(struct mvcc_restore *r)
{
    if (r->key == NULL)
        return 0;
    if (!r->key_linked)
        return restore_fail(r, "a key without versions");
    const struct mvcc_version *o = r->oldest;
    if (o->tombstone)
        return restore_fail(r, "a key's oldest version is a tombstone");
    if (o->version > 1 && o->mod_rev > r->compact_rev)
        return restore_fail(r, "versions missing below a key's oldest one");
    return 0;
}

int mvcc_restore_key(struct mvcc_restore *r, const uint8_t *key, uint32_t key_len)
{
    int err = restore_key_finish(r);
    if (err != 0)
        return err;
    uint32_t p = mvcc_partition_of(key, key_len);
    struct mvcc_key *k = skiplist_node_new(&r->store->parts[p].list, key, key_len);
    if (k == NULL) {
        r->key = NULL;
        return -ENOMEM;
    }
    r->key = k;
    r->key_part = p;
    r->key_linked = false;
    r->key_at_or_below_c = false;
    r->oldest = NULL;
    r->keys++;
    return 0;
}

/* A version on its own: revision range and the fields a tombstone or a put must have. */
static const char *version_check_alone(const struct mvcc_restore *r,
                                       const struct mvcc_restore_version *v)
{
    if (v->mod_rev < 1 || v->mod_rev > r->rev)
        return "a version outside the snapshot's revisions";
    if (v->tombstone) {
        if (v->create_rev != 0 || v->version != 0 || v->lease != 0 || v->value_len != 0)
            return "a tombstone with a value, version, create revision or lease";
        /* The newest version at or below C would be dropped, an older one too. */
        if (v->mod_rev <= r->compact_rev)
            return "a tombstone at or below the compacted revision";
        return NULL;
    }
    if (v->version < 1 || v->create_rev < 1 || v->create_rev > v->mod_rev)
        return "a version number or create revision out of range";
    if (v->version == 1 && v->create_rev != v->mod_rev)
        return "a generation's first version with another create revision";
    return NULL;
}

/* v against n, the next newer version of the same key. */
static const char *version_check_pair(const struct mvcc_restore *r, const struct mvcc_version *n,
                                      const struct mvcc_restore_version *v)
{
    if (v->mod_rev > n->mod_rev || (v->mod_rev == n->mod_rev && v->mod_sub >= n->mod_sub))
        return "a key's versions not newest first";
    if (r->key_at_or_below_c)
        return "a version compaction drops (below the newest one at or below it)";
    if (n->tombstone && v->tombstone)
        return "two tombstones in a row";
    if (!n->tombstone && v->tombstone && n->version != 1)
        return "a generation after a tombstone that does not start at version 1";
    if (!n->tombstone && !v->tombstone &&
        (n->version != v->version + 1 || n->create_rev != v->create_rev))
        return "a generation's versions do not follow each other";
    return NULL;
}

/* Links the key being filled (it has its first version): at its partition's tail when it is
 * above every key there, else where a search puts it. */
static int restore_link(struct mvcc_restore *r)
{
    struct skiplist *l = &r->store->parts[r->key_part].list;
    struct mvcc_key **tails = r->tails[r->key_part];
    struct mvcc_key *k = r->key;
    const struct mvcc_key *last = tails[0];
    if (last == l->head || skiplist_key_cmp(last->bytes, last->len, k->bytes, k->len) < 0) {
        skiplist_link(l, k, tails);
        for (uint32_t i = 0; i < k->height; i++)
            tails[i] = k;
    } else {
        struct mvcc_key *preds[MVCC_SKIPLIST_LEVELS];
        if (skiplist_find(l, k->bytes, k->len, preds) != NULL)
            return restore_fail(r, "a key that appears twice");
        skiplist_link(l, k, preds);
        /* A node linked on level i after that level's last node is its new last node. */
        for (uint32_t i = 0; i < k->height; i++) {
            const struct mvcc_key *t = tails[i];
            if (t == l->head || skiplist_key_cmp(t->bytes, t->len, k->bytes, k->len) < 0)
                tails[i] = k;
        }
    }
    r->key_linked = true;
    mvcc_bytes_add(r->store, (int64_t)skiplist_node_bytes(k->height, k->len));
    return 0;
}

static struct mvcc_version *restore_version_new(const struct mvcc_restore *r,
                                                const struct mvcc_restore_version *v)
{
    struct mvcc_version *nv = malloc(mvcc_version_bytes(v->value_len));
    if (nv == NULL)
        return NULL;
    atomic_init(&nv->older, NULL);
    nv->key = r->key;
    nv->mod_rev = v->mod_rev;
    nv->mod_sub = v->mod_sub;
    nv->create_rev = v->create_rev;
    nv->version = v->version;
    nv->lease = v->lease;
    nv->tombstone = v->tombstone;
    nv->value_len = v->value_len;
    if (v->value_len > 0)
        memcpy(nv->value, v->value, v->value_len);
    return nv;
}

int mvcc_restore_version(struct mvcc_restore *r, const struct mvcc_restore_version *v)
{
    if (r->key == NULL)
        return restore_fail(r, "a version before any key");
    const char *why = version_check_alone(r, v);
    if (why == NULL && r->key_linked)
        why = version_check_pair(r, r->oldest, v);
    if (why != NULL)
        return restore_fail(r, why);
    struct mvcc_version *nv = restore_version_new(r, v);
    if (nv == NULL) {
        restore_fail(r, "out of memory");
        return -ENOMEM;
    }
    /* No reader runs yet: plain stores; mvcc_restore_end publishes everything at once. */
    if (!r->key_linked) {
        atomic_store_explicit(&r->key->newest, nv, memory_order_relaxed);
        int err = restore_link(r);
        if (err != 0) {
            free(nv);
            return err;
        }
    } else {
        atomic_store_explicit(&r->oldest->older, nv, memory_order_relaxed);
    }
    r->oldest = nv;
    r->key_at_or_below_c = v->mod_rev <= r->compact_rev;
    r->versions++;
    mvcc_bytes_add(r->store, (int64_t)mvcc_version_bytes(v->value_len));
    return 0;
}

int mvcc_restore_end(struct mvcc_restore *r)
{
    int err = restore_key_finish(r);
    if (err != 0)
        return err;
    struct mvcc_store *s = r->store;
    struct mvcc_writer *w = s->w;
    /* The snapshot holds exactly what compaction at compact_rev keeps: nothing to trim. */
    w->allowed_rev = r->compact_rev;
    w->walk_rev = r->compact_rev;
    atomic_store_explicit(&s->compact_rev, r->compact_rev, memory_order_seq_cst);
    atomic_store_explicit(&s->current_rev, r->rev, memory_order_release);
    return 0;
}
