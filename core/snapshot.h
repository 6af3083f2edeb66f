/* Snapshots of the apply actor's state: every --snapshot-count applied entries the store's full
 * history at a revision (and what else the apply actor keeps) is written to <data-dir>/member/
 * snap by a background thread while writes go on; at start-up the newest one is loaded.
 *
 * The sequence (apply actor = the store's single writer):
 *   1. apply actor, after applying entry `index` of `term`: snapshot_begin(store, index, term,
 *      alarms, members, &s) pins the store (mvcc_snapshot.h) and fills s; hand s to a background
 * thread.
 *   2. background thread: snapshot_save(dir, store, reader, &s, max_snapshots, why, ...) walks
 *      the store at s.revision with its own registered reader and writes the file.
 *   3. apply actor, told by the thread that save returned (a message): snapshot_end(store)
 *      unpins. Until then compaction past s.compact_rev waits (mvcc_compact_held says when
 *      stepping is useless); writes, reads and logical compaction go on.
 *   4. if save returned 0 the snapshot is durable: the raft actor may compact its log and
 *      release WAL segments up to s.index (and record a WAL snapshot marker).
 * One snapshot at a time (the pin asserts it).
 *
 * Loading, at start-up before any reader or writer: snapshot_load fills an empty store from the
 * newest snapshot that checks whole (io/snapshot_file.h: a bad newer file is skipped and named in
 * why). The caller then replays the WAL's entries after s.index; if the WAL's own snapshot marker
 * is above s.index (the newest snapshot was bad and its WAL was released) the entries between
 * are gone and the start must fail.
 *
 * Records (io/snapshot_file.h frames them; integers little-endian), in this order:
 *   STORE    i64 revision, i64 compacted revision (-1: none)           exactly once, first
 *   ALARM    u64 member id, i32 alarm type                             one per raised alarm
 *   KEY      u32 versions that follow, then the key's bytes            one per key
 *   VERSION  i64 mod revision, u32 sub revision, u8 flags (1: tombstone), i64 create revision,
 *            i64 version, i64 lease, then the value                    the key's, newest first
 *   MEMBER   a packed etcdserverpb.Member (every field)                  one per member
 * Leases and auth are not kept by the server yet: each will be a record type of its own
 * (reserved below), added without changing these. A file with a type this build does not
 * know is refused as corrupt.
 *
 * Thread: snapshot_begin/end on the store's writer thread; snapshot_save on one background
 * thread at a time; snapshot_load before the others start. */
#ifndef RINGD_SNAPSHOT_H
#define RINGD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "alarm.h"
#include "members.h"
#include "mvcc.h"

enum snapshot_record_type {
    SNAPSHOT_REC_STORE = 1,
    SNAPSHOT_REC_ALARM = 2,
    SNAPSHOT_REC_KEY = 3,
    SNAPSHOT_REC_VERSION = 4,
    /* Reserved for the kinds of state the server will keep. */
    SNAPSHOT_REC_MEMBER = 5,
    SNAPSHOT_REC_LEASE = 6,
    SNAPSHOT_REC_AUTH = 7,
};

#define SNAPSHOT_STORE_BYTES         16
#define SNAPSHOT_ALARM_BYTES         12
#define SNAPSHOT_KEY_FIXED_BYTES     4  /* the key's bytes follow */
#define SNAPSHOT_VERSION_FIXED_BYTES 37 /* the value follows */
#define SNAPSHOT_VERSION_TOMBSTONE   1  /* flags */

/* What a snapshot holds beside the key space. */
struct snapshot_state {
    uint64_t index;      /* raft index the state is at (0: no snapshot) */
    uint64_t term;       /* its term */
    int64_t revision;    /* the store's current revision at that index */
    int64_t compact_rev; /* its compacted revision (-1: none), <= revision */
    struct alarm_set alarms;
    struct members members; /* count 0: a snapshot from before members were kept */
};

/* Writer thread, right after applying entry index (term), outside a store transaction: fills s
 * with the state at that index and pins the store's physical compaction at s->compact_rev
 * until snapshot_end. index > 0. */
void snapshot_begin(struct mvcc_store *store, uint64_t index, uint64_t term,
                    const struct alarm_set *alarms, const struct members *members,
                    struct snapshot_state *s);

/* Writer thread, once snapshot_save returned on its thread (success or not). */
void snapshot_end(struct mvcc_store *store);

/* Background thread: writes s (from snapshot_begin, still pinned) and the store's history at
 * s->revision to "<dir>/<term>-<index>.snap" (dir exists), then removes the oldest snapshots
 * beyond max_snapshots (0 keeps all). reader is registered on store, used by one snapshot at a
 * time and by nothing else meanwhile; it may be kept for the next snapshot. Returns 0 once the
 * file is durable under its name (why may then hold a warning: pruning failed), or a negated
 * errno with why naming the file; the temporary file is gone then. why: at least
 * SNAPSHOT_MESSAGE_BYTES_MAX bytes to lose nothing. */
int snapshot_save(const char *dir, struct mvcc_store *store, struct mvcc_reader *reader,
                  const struct snapshot_state *s, uint64_t max_snapshots, char *why,
                  size_t why_bytes);

/* Start-up, before any reader or writer runs: loads the newest valid snapshot in dir into
 * store, which is empty (just initialized: asserted), and fills s. No snapshot (or no dir):
 * 0 with s->index == 0 and s describing the empty store. Returns 0 (why may hold the newer
 * files skipped as bad), -RINGD_ECORRUPT when every snapshot is bad or a record makes no sense
 * (why: "snapshot: corrupt file <path> at offset <n>: <why>"), -ENOMEM, or a negated errno.
 * After an error the store holds part of a snapshot: destroy it. */
int snapshot_load(const char *dir, struct mvcc_store *store, struct snapshot_state *s, char *why,
                  size_t why_bytes);

/* Start-up, after snapshot_load: removes the oldest snapshots beyond max_snapshots (0 keeps
 * all), which a crash between a save and its pruning leaves behind. Returns 0 or a negated
 * errno with why naming the file. */
int snapshot_prune(const char *dir, uint64_t max_snapshots, char *why, size_t why_bytes);

#endif
