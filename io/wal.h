/* The write-ahead log: raft entries, hard states and snapshot markers appended to preallocated
 * segment files with group commit through the owner's io_uring loop, and read back at open.
 *
 * Appends only fill a buffer. wal_flush (once per loop turn) sends the buffered batch as one
 * write linked to one fdatasync; while that batch is in flight the next one accumulates and
 * goes as soon as the first completes, so under load many appends share one fdatasync. The
 * durable callback then says how far the log is on disk. Nothing is ever reported durable that
 * is not: a failed or short write, a failed fdatasync or a failed rollover stops the WAL
 * (the failed callback, once), and every later append returns the error.
 *
 * Segments roll over when full: the next file is created and preallocated ahead of time in the
 * background (openat, fallocate, fsync, fsync of the directory, through io_uring) under a spare
 * name; the batch that starts the new segment renames it and syncs the directory, linked before
 * its write and fdatasync, so no record is acknowledged before the file and its name are
 * durable. Each segment starts with a header record, then the latest hard state and snapshot
 * marker, so older segments can go without losing them.
 *
 * Recovery (wal_open): segments are read in order and the CRC chain verified; the latest hard
 * state and snapshot marker are returned and every entry after the snapshot is delivered in
 * index order, an entry written again at an index already seen replacing the suffix from it
 * (a new leader's overwrite). A torn tail (what one interrupted write can leave at the end of
 * the last segment) is zeroed and the log goes on from the last good record; a bad record
 * anywhere else fails the open with a message naming the file and offset, unless
 * wal_options.force asks to cut the log there. docs/ARCHITECTURE.md has the exact rules.
 *
 * Thread: a WAL belongs to the thread of the loop it was opened with; every call and callback
 * runs there. */
#ifndef RINGD_WAL_H
#define RINGD_WAL_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "ringd_limits.h"
#include "wal_record.h"

struct wal;

/* Where an injected fault applies (wal_options.fault). */
enum wal_fault_op {
    WAL_FAULT_WRITE,     /* a batch's write */
    WAL_FAULT_FDATASYNC, /* a batch's fdatasync */
};

/* What one completed batch made durable. */
struct wal_durable {
    uint64_t last_index; /* the last entry appended so far; the log up to it is durable (0: none) */
    bool has_hard_state; /* this batch held a hard state: the latest one appended is durable */
    struct wal_hard_state hard_state;
    uint32_t records; /* records of this batch, the segment header and state a rollover
                         repeats included */
    uint32_t bytes;   /* bytes it wrote */
};

/* The owner's callbacks, on the loop's thread from inside io_loop_turn. They may append and
 * flush, but not close the WAL. */
struct wal_callbacks {
    void *ctx;
    /* A batch is on disk. */
    void (*durable)(void *ctx, const struct wal_durable *d);
    /* The WAL stopped: a write, fdatasync or rollover failed (err, a negated errno, and a
     * message naming the file). Nothing appended since the last durable report may be taken
     * as durable (some of it may have reached the disk, which recovery will then find).
     * Called once; every later append returns err. */
    void (*failed)(void *ctx, int err, const char *message);
    /* An append refused with -RINGD_EFULL may now succeed (the buffer drained, the next
     * segment is ready, or segments were released). */
    void (*writable)(void *ctx);
};

struct wal_options {
    uint64_t segment_bytes; /* size of new segment files; 0: WAL_SEGMENT_BYTES. A multiple of
                               4096, at least WAL_SEGMENT_BYTES_MIN and batch_bytes */
    uint32_t batch_bytes;   /* one batch buffer (two are kept); 0: WAL_BATCH_BYTES_DEFAULT;
                               WAL_BATCH_BYTES_MIN..WAL_BATCH_BYTES_MAX. Bounds a record too */
    bool force; /* recovery: cut the log at a corrupt record (dropping it and everything after
                   it) instead of refusing to open; the recovery message says what was dropped */
    /* Recovery, when replay_after_set: deliver the entries after replay_after instead of after
     * the latest snapshot marker, when it is lower. For an owner whose newest snapshot was bad
     * (or lost) and that loaded an older one, or none (0): the entries since it must still be
     * in the segments, or the open fails ("entries missing"). */
    bool replay_after_set;
    uint64_t replay_after;
    /* Test hook, NULL in production: called as each batch's write and fdatasync are queued.
     * Returning 0 lets the operation run; a negated errno makes it complete with that error
     * instead (an IORING_OP_NOP with IORING_NOP_INJECT_RESULT, Linux 6.10+); for
     * WAL_FAULT_WRITE a positive n writes only the first n bytes (a short write). Counting the
     * WAL_FAULT_FDATASYNC calls counts the fdatasyncs. */
    int (*fault)(void *fault_ctx, enum wal_fault_op op);
    void *fault_ctx;
};

/* What wal_open found. */
struct wal_recovery {
    bool has_hard_state;
    struct wal_hard_state hard_state; /* the latest one written */
    bool has_snapshot;
    struct wal_snapshot snapshot; /* the latest marker written; replay starts after it */
    uint64_t first_index;         /* entries delivered: first_index..last_index (0, 0: none) */
    uint64_t last_index;
    uint64_t entries;
    uint32_t segments;   /* segment files in use after recovery */
    uint64_t torn_bytes; /* bytes of a torn tail zeroed */
    bool forced;         /* options.force cut the log at a corrupt record */
    bool created;        /* the directory had no segment: the first one was created */
    /* On failure, why (naming the file and offset for bad data). On success, what an operator
     * should read in the log when recovery had to repair something (a torn tail zeroed, a
     * forced cut), or "". */
    char message[WAL_MESSAGE_BYTES_MAX];
};

/* Called for each entry replayed, in index order; e->data is valid during the call only.
 * Returning a negated error stops the replay and wal_open returns it. */
typedef int (*wal_entry_fn)(void *ctx, const struct wal_entry *e);

/* Opens the WAL in dir (created if missing, its parent synced), locking it (flock) against a
 * second process, recovers it as described above, and is ready to append. loop must be
 * attached on the calling thread; its ring is used from then on (the next segment is prepared
 * in the background). opt and cb are copied; opt may be NULL for the defaults.
 * Returns 0 with *out set, or an error with rec->message saying why: -RINGD_ECORRUPT for bad
 * data, -EWOULDBLOCK when another process holds the directory, -RINGD_EFULL when a bound is
 * hit (too many segments or overwrites), a negated errno for a failing system call, or what
 * on_entry returned. */
int wal_open(struct wal **out, const char *dir, const struct wal_options *opt, struct io_loop *loop,
             const struct wal_callbacks *cb, struct wal_recovery *rec, wal_entry_fn on_entry,
             void *entry_ctx);

/* Appends one record to the current batch (copied: the caller's buffers may be reused at
 * once). Returns 0; -RINGD_EFULL when it does not fit now (the batch buffer is full, or the
 * segment is full and the batch before the rollover must go first, or the next segment is not
 * ready yet): call wal_flush and append again after the writable callback; -EMSGSIZE for an
 * entry that can never fit (its record is larger than batch_bytes less
 * WAL_ROLLOVER_PREFIX_BYTES); or the error that stopped the WAL.
 * Asserts the raft invariants: entry indexes start at 1, never skip ahead of the last entry
 * (or snapshot) + 1, and stay above the snapshot; snapshot markers never go back. */
int wal_append_entry(struct wal *w, const struct wal_entry *e);
int wal_append_hard_state(struct wal *w, const struct wal_hard_state *hs);
int wal_append_snapshot(struct wal *w, const struct wal_snapshot *s);

/* Sends the buffered batch unless one is in flight (then it goes when that one completes).
 * Call at the end of every loop turn that appended. Returns 0 or the error that stopped the
 * WAL. */
int wal_flush(struct wal *w);

/* Removes the oldest segments that hold only entries below index (the owner's latest snapshot
 * index), while more than keep_max segments exist (--max-wals; 0 keeps them all, as etcd).
 * The current segment, and the one before it while the current one's header is not yet
 * durable, are never removed. Synchronous unlinks (rare, after a snapshot). Returns the number
 * removed or a negated errno. */
int wal_release_before(struct wal *w, uint64_t index, uint32_t keep_max);

/* The message of the error that stopped the WAL, or "" while it runs. */
const char *wal_error(const struct wal *w);

struct wal_stats {
    uint64_t batches;       /* batches made durable */
    uint64_t records;       /* records made durable */
    uint64_t bytes;         /* bytes made durable */
    uint64_t fdatasyncs;    /* fdatasyncs submitted */
    uint64_t rollovers;     /* segments started after open */
    uint32_t segments;      /* segment files now */
    uint64_t durable_index; /* the last entry durable (0: none) */
};

void wal_get_stats(const struct wal *w, struct wal_stats *st);

/* True when no request of the WAL is in flight: the owner turns its loop until then before
 * wal_close (an actor's quiescent check). */
bool wal_idle(const struct wal *w);

/* Closes the files, unlocks the directory and frees the WAL. Must be idle. Buffered records
 * not flushed are dropped (they were never reported durable). */
void wal_close(struct wal *w);

/* Bytes a rollover puts before the first new record: the header, hard state and snapshot
 * records. */
#define WAL_ROLLOVER_PREFIX_BYTES \
    (WAL_RECORD_HEADER_SIZE + WAL_RECORD_HARD_STATE_SIZE + WAL_RECORD_SNAPSHOT_SIZE)

#endif
