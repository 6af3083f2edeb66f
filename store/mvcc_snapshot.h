/* The store's side of snapshots: a walk over the full history a snapshot holds, on a reader
 * thread while the writer goes on, and a restore that rebuilds a store from that history.
 *
 * What a snapshot at revision R with compacted revision C holds: for every key, every version
 * with mod revision <= R that compaction at C keeps: the versions above C, and the newest one
 * at or below C unless it is a tombstone. Tombstones above C are kept (reads between the put and
 * the delete need the put, and the delete ends the generation). Reads at any revision in [C, R]
 * of a store restored from it give what the original gave.
 *
 * The rule the writer must respect (the walk's correctness depends on it):
 *   - The walk runs while the writer keeps writing and may apply Compact requests, publishing a
 *     compacted revision above R at once (mvcc_compact). Versions above R are simply skipped,
 *     and the walk never checks the published compacted revision (it reads with its own
 *     unchecked iteration), so it cannot fail because compaction moved past R.
 *   - Physical compaction (mvcc_compact_step) unlinks versions, and above R it would unlink
 *     versions the walk still needs (a key put at R and again at R + 1, compacted at R + 1,
 *     loses its version R). So the snapshot is taken on the writer thread with
 *     mvcc_snapshot_pin, which records R and C and holds physical compaction at C until
 *     mvcc_snapshot_unpin: steps still trim up to C (which drops nothing the walk emits), and
 *     what lies above C waits. mvcc_compact_held tells the writer when stepping is useless.
 *     The walk asserts that the pin is in place at every step.
 *   - Memory: the walk reads in read sections of at most MVCC_WALK_KEYS_PER_SECTION keys,
 *     resuming by key between them, so the writer's grace periods (compaction barriers,
 *     reclamation) wait at most one section, never the whole walk.
 * The recorded compacted revision is C, the one current when the snapshot was pinned (<= R),
 * even if the writer compacted further meanwhile: the later compaction is in the raft log after
 * the snapshot's index and is applied again after a restore.
 *
 * Order: the walk visits partition 0's keys in key order, then partition 1's, ...; a key's
 * versions newest first. The restore takes keys in any order (a key already present is an
 * error) and is fastest in this one: a key above every key of its partition is appended at the
 * skip list's tail without a search.
 *
 * Thread: mvcc_snapshot_pin/unpin and the restore on the writer thread; the walk on a reader
 * thread with its own registered struct mvcc_reader, outside any read section of its own. */
#ifndef RINGD_MVCC_SNAPSHOT_H
#define RINGD_MVCC_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mvcc.h"
#include "ringd_limits.h"

/* --- pinning (writer) ------------------------------------------------------------------------ */

/* The revisions a snapshot taken now holds. */
struct mvcc_snapshot_point {
    int64_t rev;         /* R: the current revision */
    int64_t compact_rev; /* C: the compacted revision (-1: none), <= R */
};

/* Writer, outside a transaction: fills p with the store's revisions now and holds physical
 * compaction at p->compact_rev until mvcc_snapshot_unpin. One snapshot at a time (asserted).
 * Hand p to the walk's thread through a message (its happens-before covers the pin). */
void mvcc_snapshot_pin(struct mvcc_store *s, struct mvcc_snapshot_point *p);

/* Writer: the walk is over (its thread said so); compaction may go on past the pin. */
void mvcc_snapshot_unpin(struct mvcc_store *s);

/* --- the walk (reader) ----------------------------------------------------------------------- */

/* One key as the walk finds it: the versions to write are `versions` of them from newest on,
 * following older (mvcc_snapshot_older). Valid inside the walk's read section only. */
struct mvcc_walk_key {
    const uint8_t *key;
    uint32_t key_len;
    const struct mvcc_version *newest; /* the newest version with mod revision <= R */
    uint32_t versions;                 /* at least 1 */
    uint64_t value_bytes;              /* their values' bytes together */
};

/* The emit callback's answers besides 0 (the key is taken) and a negative error (the walk
 * stops and returns it). */
#define MVCC_WALK_STOP 1 /* not now: end the read section, offer this key again in the next */

typedef int (*mvcc_walk_emit_fn)(void *arg, const struct mvcc_walk_key *k);

struct mvcc_walk {
    struct mvcc_store *store;
    struct mvcc_reader *reader;
    int64_t rev;
    int64_t compact_rev;
    uint32_t part;       /* partition being walked; MVCC_INDEX_PARTITIONS when done */
    bool resume_set;     /* the next section starts at resume_key in part (else at its first) */
    uint8_t *resume_key; /* a copy: the node may be freed between sections */
    uint32_t resume_len;
    uint32_t resume_cap;
    uint64_t keys;     /* taken so far */
    uint64_t versions; /* in those keys */
    uint32_t sections; /* read sections so far */
};

/* The next older version of v (acquire): what a reader follows. */
static inline const struct mvcc_version *mvcc_snapshot_older(const struct mvcc_version *v)
{
    return atomic_load_explicit(&v->older, memory_order_acquire);
}

/* Starts a walk of the state at p (from mvcc_snapshot_pin, still pinned) with reader r
 * (registered on s, not in a section). Allocates nothing yet. */
void mvcc_walk_init(struct mvcc_walk *w, struct mvcc_store *s, struct mvcc_reader *r,
                    const struct mvcc_snapshot_point *p);

/* One read section: offers up to key_budget keys (at least 1) to emit, inside the section, in
 * the walk's order. emit may return MVCC_WALK_STOP to end the section early (never for the
 * section's first key: asserted, or the walk would not move). Returns 1 when keys remain, 0
 * when the walk is done, emit's negative error, or -ENOMEM (copying a resume key). */
int mvcc_walk_step(struct mvcc_walk *w, uint32_t key_budget, mvcc_walk_emit_fn emit, void *arg);

/* Frees the walk's resume key. */
void mvcc_walk_destroy(struct mvcc_walk *w);

/* --- the restore (writer) -------------------------------------------------------------------- */

/* One version as the restore takes it. */
struct mvcc_restore_version {
    int64_t mod_rev;
    uint32_t mod_sub;
    bool tombstone;
    int64_t create_rev; /* 0 for a tombstone */
    int64_t version;    /* 0 for a tombstone */
    int64_t lease;
    const uint8_t *value;
    uint32_t value_len; /* 0 for a tombstone */
};

struct mvcc_restore {
    struct mvcc_store *store;
    int64_t rev;
    int64_t compact_rev;
    struct mvcc_key *key;        /* key being filled; NULL before the first */
    uint32_t key_part;           /* its partition */
    bool key_linked;             /* in its skip list (it has a version) */
    bool key_at_or_below_c;      /* one of its versions is <= compact_rev: no older one may come */
    struct mvcc_version *oldest; /* its oldest version so far */
    /* Per partition, the last node on each level: where an ordered key is appended. */
    struct mvcc_key *tails[MVCC_INDEX_PARTITIONS][MVCC_SKIPLIST_LEVELS];
    uint64_t keys;
    uint64_t versions;
    const char *why; /* what was wrong, after -RINGD_ECORRUPT */
};

/* Writer, before any reader runs: starts rebuilding s, which must be empty (just initialized:
 * asserted), as a store at revision rev compacted at compact_rev. Returns 0, or
 * -RINGD_ECORRUPT when the revisions are impossible (rev < 1, compact_rev > rev). */
int mvcc_restore_begin(struct mvcc_restore *r, struct mvcc_store *s, int64_t rev,
                       int64_t compact_rev);

/* The next key; its versions follow, newest first. Returns 0, -ENOMEM, or -RINGD_ECORRUPT (the
 * previous key had no version). The key bytes are copied. */
int mvcc_restore_key(struct mvcc_restore *r, const uint8_t *key, uint32_t key_len);

/* The current key's next older version (the value is copied). Returns 0, -ENOMEM, or
 * -RINGD_ECORRUPT (r->why says why) for a version a store cannot hold: above rev, not older
 * than the one before, one that compaction at compact_rev would have dropped, a key that
 * already exists, or a generation that does not add up (version numbers, create revisions,
 * tombstone fields). */
int mvcc_restore_version(struct mvcc_restore *r, const struct mvcc_restore_version *v);

/* Publishes the revisions; the store is ready for readers and the writer. Returns 0 or
 * -RINGD_ECORRUPT (the last key had no version). On any error the store holds part of the
 * snapshot: destroy it. */
int mvcc_restore_end(struct mvcc_restore *r);

#endif
