/* The multi-version key space, in memory: etcd's revisions, versions and tombstones, with one
 * writer and lock-free readers.
 *
 * Model (etcd's mvcc package, read for facts):
 *   - Every write transaction gets the next main revision; each change inside it gets a sub
 *     revision 0, 1, 2, ... The store's current revision is the main revision of the last
 *     transaction that changed something (1 for an empty store).
 *   - A key's versions form generations: a put to a key that does not exist (or whose last
 *     version is a tombstone) starts a generation with version 1 and create_rev = its main
 *     revision; later puts keep create_rev and add 1 to version; a delete writes a tombstone
 *     that ends the generation.
 *   - Reading at revision R sees, for each key, its newest version with main revision <= R,
 *     unless that version is a tombstone. R = 0 means the current revision; R above the current
 *     revision is -RINGD_EFUTURE_REV; R below the compacted revision is -RINGD_ECOMPACTED
 *     (R equal to it is readable).
 *   - Compaction at revision C drops, for each key, every version with main revision <= C but
 *     the newest of those, and that one too when it is a tombstone; a key left with no version
 *     leaves the index. Reads at R >= C see exactly what they saw before.
 *
 * Structure: the index is split into MVCC_INDEX_PARTITIONS partitions by a hash of the key,
 * each a skip list ordered by key; a range scan merges the partitions' cursors. A key node holds
 * its versions newest first. The writer links new nodes and versions with release stores;
 * readers follow them with acquire loads and never lock. Memory the writer unlinks (compaction)
 * is freed through ck_epoch once no reader that could see it is left.
 *
 * Threads: one writer thread (the apply actor) calls every function marked "writer"; any number
 * of reader threads, each with its own registered struct mvcc_reader, call the reader functions
 * between mvcc_read_begin and mvcc_read_end. Nothing here allocates on a reader thread. */
#ifndef RINGD_MVCC_H
#define RINGD_MVCC_H

#include <ck_epoch.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringd_limits.h"

struct mvcc_key;
struct mvcc_partition;
struct mvcc_writer;

/* One version of a key, immutable once published. */
struct mvcc_version {
    struct mvcc_version *_Atomic older; /* the next older version of the same key, or NULL */
    const struct mvcc_key *key;
    int64_t mod_rev;    /* main revision of the change */
    int64_t create_rev; /* main revision that started this generation; 0 for a tombstone */
    int64_t version;    /* 1, 2, ... within the generation; 0 for a tombstone */
    int64_t lease;      /* lease id attached by the put, 0 for none */
    uint32_t mod_sub;   /* sub revision inside its transaction */
    uint32_t value_len;
    bool tombstone;
    uint8_t value[]; /* value_len bytes */
};

/* A key of the index. */
struct mvcc_key {
    struct mvcc_version *_Atomic newest; /* newest version first; never NULL once linked */
    uint32_t len;
    uint8_t height; /* levels of the skip list this node is on, 1..MVCC_SKIPLIST_LEVELS */
    const uint8_t *bytes;
    /* followed by the node's next pointers and the key bytes (implementation's layout) */
};

/* What a read at a revision finds for one key: the key and the version visible there. */
struct mvcc_kv {
    const uint8_t *key;
    uint32_t key_len;
    const struct mvcc_version *v;
};

struct mvcc_store {
    struct mvcc_partition *parts; /* MVCC_INDEX_PARTITIONS of them */
    ck_epoch_t epoch;
    _Atomic int64_t current_rev; /* published after every version of the revision is linked */
    _Atomic int64_t compact_rev; /* -1 before the first compaction, as etcd's compactMainRev */
    _Atomic int64_t bytes;       /* memory held for keys and versions (the quota's measure) */
    struct mvcc_writer *w;       /* the writer's own state: pending compaction, epoch record */
};

/* A reader thread's registration: its ck_epoch record. */
struct mvcc_reader {
    struct mvcc_store *store;
    ck_epoch_record_t record;
    ck_epoch_section_t section;
    bool in_read;
};

/* Sets up an empty store at revision 1 (etcd's first revision). Returns 0 or -ENOMEM. Any
 * thread, before readers and the writer start. */
int mvcc_store_init(struct mvcc_store *s);

/* Frees everything. Every reader has stopped; any thread. */
void mvcc_store_destroy(struct mvcc_store *s);

/* Registers the calling thread as a reader. Any thread, once, before its first read; the
 * record stays registered until mvcc_store_destroy. */
void mvcc_reader_register(struct mvcc_store *s, struct mvcc_reader *r);

/* A read section: every pointer obtained inside (struct mvcc_kv, versions, values) stays valid
 * until mvcc_read_end. Sections do not nest. Keep them short: memory the writer releases waits
 * for every section that began before its release. */
void mvcc_read_begin(struct mvcc_reader *r);
void mvcc_read_end(struct mvcc_reader *r);

/* The current and compacted revisions (acquire loads). Any thread. */
int64_t mvcc_current_rev(const struct mvcc_store *s);
int64_t mvcc_compact_rev(const struct mvcc_store *s);

/* Store memory in bytes: keys, versions, values and index overhead (acquire load). */
int64_t mvcc_bytes(const struct mvcc_store *s);

/* A cursor over the keys of [key, end) visible at a revision, in ascending key order.
 * end_len == 0 means the single key `key`; an end of one zero byte ("\0") means every key >= key
 * (etcd's range_end conventions). */
struct mvcc_cursor {
    const struct mvcc_store *store;
    int64_t rev;
    const uint8_t *end;
    uint32_t end_len;
    bool single;
    bool to_end; /* end was "\0" */
    /* Merge state: the next candidate of each partition (NULL when done). */
    const struct mvcc_key *next[MVCC_INDEX_PARTITIONS];
};

/* Starts a cursor at revision rev (0: current) inside a read section (reader) or inside the
 * writer's transaction (writer, with its own txn revision: see mvcc_txn_cursor). Returns 0,
 * -RINGD_EFUTURE_REV or -RINGD_ECOMPACTED. *rev_out (may be NULL) gets the revision read at. */
int mvcc_cursor_open(struct mvcc_cursor *c, const struct mvcc_store *s, const uint8_t *key,
                     uint32_t key_len, const uint8_t *end, uint32_t end_len, int64_t rev,
                     int64_t *rev_out);

/* Opens a cursor at rev with no check of rev: for callers that checked it against a view of
 * their own (a reader's revision, or the writer's transaction, whose changes are visible at its
 * revision before it is published). */
void mvcc_cursor_at(struct mvcc_cursor *c, const struct mvcc_store *s, const uint8_t *key,
                    uint32_t key_len, const uint8_t *end, uint32_t end_len, int64_t rev);

/* The next visible key, or false at the end. */
bool mvcc_cursor_next(struct mvcc_cursor *c, struct mvcc_kv *out);

/* Writer: one write transaction. Changes take revision (current + 1, sub) in order; reads
 * through the transaction (mvcc_txn_cursor) see its earlier changes, as etcd's write
 * transactions do; readers see none of it until mvcc_txn_end publishes the revision. */
struct mvcc_txn {
    struct mvcc_store *store;
    int64_t rev;      /* current + 1 */
    uint32_t changes; /* sub revisions used */
};

void mvcc_txn_begin(struct mvcc_store *s, struct mvcc_txn *t);

/* Puts key=value with lease. *prev (may be NULL) gets the version visible before the put (NULL
 * when there was none, or a tombstone); it stays valid until the writer's next compaction step.
 * Returns 0 or -ENOMEM. */
int mvcc_txn_put(struct mvcc_txn *t, const uint8_t *key, uint32_t key_len, const uint8_t *value,
                 uint32_t value_len, int64_t lease, const struct mvcc_version **prev);

/* Deletes every visible key of [key, end) (the cursor's conventions) with tombstones. Calls
 * deleted(arg, kv) for each, before its tombstone is written, in key order (may be NULL).
 * Returns how many were deleted, or -ENOMEM. */
int64_t mvcc_txn_delete_range(struct mvcc_txn *t, const uint8_t *key, uint32_t key_len,
                              const uint8_t *end, uint32_t end_len,
                              void (*deleted)(void *arg, const struct mvcc_kv *kv), void *arg);

/* A cursor that reads through the transaction: at t->rev once it changed something, else at
 * the current revision (etcd's storeTxnWrite.Range). */
void mvcc_txn_cursor(struct mvcc_txn *t, struct mvcc_cursor *c, const uint8_t *key,
                     uint32_t key_len, const uint8_t *end, uint32_t end_len);

/* Ends the transaction: publishes t->rev as the current revision when it changed something.
 * Returns the store's current revision afterwards. */
int64_t mvcc_txn_end(struct mvcc_txn *t);

/* Writer: schedules compaction at rev. Returns 0, -RINGD_ECOMPACTED when rev <= the compacted
 * revision, -RINGD_EFUTURE_REV when rev > current (etcd's checks, in that order). The compacted
 * revision is published at once (reads below it fail from now on); the history it frees is
 * dropped by mvcc_compact_step. */
int mvcc_compact(struct mvcc_store *s, int64_t rev);

/* Writer: does at most key_budget keys of pending compaction work (and reclaims memory readers
 * no longer see). Returns true when no compaction work is left. Each call is short by
 * construction: the writer calls it between batches of requests, so compaction never stalls
 * writes or reads for more than one step. While a snapshot pins compaction (mvcc_snapshot.h)
 * the work above the pin waits and this keeps returning false. */
bool mvcc_compact_step(struct mvcc_store *s, uint32_t key_budget);

/* Writer, after mvcc_compact_step returned false: true when all the work left waits for a
 * snapshot's pin to go (mvcc_snapshot_unpin), so stepping again before then does nothing and
 * the writer should not spin on it (a Compact with physical=true keeps waiting meanwhile). */
bool mvcc_compact_held(const struct mvcc_store *s);

/* Writer: frees what readers can no longer see, without waiting. Call once per loop turn. */
void mvcc_reclaim(struct mvcc_store *s);

#endif
