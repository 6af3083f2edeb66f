/* What the store's own files share and nobody else sees: the partition and writer structs and
 * the small helpers on sizes, hashing and the writer's own loads (mvcc.c, mvcc_snapshot.c).
 *
 * Thread: as in mvcc.h; the writer struct belongs to the writer thread except pin_rev, which a
 * snapshot's walk reads to check that it is held. */
#ifndef RINGD_MVCC_INTERNAL_H
#define RINGD_MVCC_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvcc.h"
#include "ringd_limits.h"
#include "skiplist.h"

#define MVCC_CACHELINE_BYTES 64

/* No snapshot pins physical compaction (mvcc_writer.pin_rev). */
#define MVCC_NO_PIN INT64_MAX

struct mvcc_partition {
    alignas(MVCC_CACHELINE_BYTES) struct skiplist list;
};

struct mvcc_retired;

/* The writer's own state. Compaction moves through three revisions, each <= the next:
 *   walk_rev <= allowed_rev <= compact_rev (published).
 * compact_rev is what readers are refused below; allowed_rev is the highest compact_rev whose
 * grace period is over (every read section that began before it was published has ended), so
 * versions at or below it may be unlinked; walk_rev is what the walk in progress trims to.
 * A snapshot in progress adds walk_rev <= pin_rev: its walk needs every version that
 * compaction at pin_rev keeps (mvcc_snapshot.h). */
struct mvcc_writer {
    ck_epoch_record_t record; /* never in a read section: it only defers and polls */
    struct mvcc_store *store;
    bool in_txn;
    /* Grace period: one barrier entry in flight at a time. */
    ck_epoch_entry_t barrier;
    bool barrier_pending;
    int64_t barrier_rev; /* what allowed_rev becomes when the barrier runs */
    int64_t allowed_rev;
    /* The walk over every key, partition by partition, key_budget keys per step. */
    bool walking;
    bool rewalk; /* walk_rev rose during this pass: the keys before the position need another */
    int64_t walk_rev;
    uint32_t walk_part;
    struct mvcc_key *walk_next;   /* next key of walk_part to trim; NULL: the partition is done */
    struct mvcc_retired *retired; /* batch being filled, or NULL */
    /* The compacted revision a snapshot in progress was taken with, MVCC_NO_PIN otherwise.
     * Written by the writer only; atomic because the snapshot's walk asserts it. */
    _Atomic int64_t pin_rev;
};

static inline size_t mvcc_version_bytes(uint32_t value_len)
{
    size_t n = offsetof(struct mvcc_version, value) + value_len;
    return n < sizeof(struct mvcc_version) ? sizeof(struct mvcc_version) : n;
}

static inline void mvcc_bytes_add(struct mvcc_store *s, int64_t n)
{
    atomic_fetch_add_explicit(&s->bytes, n, memory_order_relaxed);
}

/* FNV-1a, folded: keys that share long prefixes (etcd's usual "/registry/...") still spread. */
static inline uint32_t mvcc_partition_of(const uint8_t *key, uint32_t key_len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < key_len; i++) {
        h ^= key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    return (uint32_t)(h % MVCC_INDEX_PARTITIONS);
}

/* The writer reads what only it writes with relaxed loads. */
static inline struct mvcc_version *mvcc_newest_own(const struct mvcc_key *k)
{
    return atomic_load_explicit(&k->newest, memory_order_relaxed);
}

static inline struct mvcc_version *mvcc_older_own(const struct mvcc_version *v)
{
    return atomic_load_explicit(&v->older, memory_order_relaxed);
}

#endif
