/* Reading a WAL directory back at open (internal to io/wal): the segments in order, the CRC
 * chain verified, the latest hard state and snapshot marker, the entries after the snapshot
 * delivered in index order, and the repairs the rules allow (a torn tail zeroed, a segment
 * whose header a crash left unwritten removed, a forced cut). Synchronous: it runs once, before
 * the owner serves anything.
 *
 * Thread: the opener's. */
#ifndef RINGD_WAL_RECOVER_H
#define RINGD_WAL_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "wal.h"
#include "wal_segment.h"

/* One segment as recovery leaves it. */
struct wal_segment_state {
    struct wal_segment_id id;
    uint64_t file_bytes;  /* its size: the preallocation */
    uint64_t end;         /* where its records end: the next record would go here */
    uint32_t batch_bytes; /* from its header: the largest write it receives */
    uint64_t entries;     /* entry records in it */
    uint64_t max_index;   /* the largest entry index in it (0: none) */
};

/* Where appending goes on. */
struct wal_tail {
    uint32_t crc;        /* the chain's last CRC */
    uint64_t last_index; /* the last entry written (0: none) */
    bool has_hard_state;
    struct wal_hard_state hard_state;
    bool has_snapshot;
    struct wal_snapshot snapshot;
};

struct wal_recover_args {
    int dirfd;
    const char *dir; /* for messages */
    bool force;
    bool replay_after_set;  /* wal_options.replay_after_set */
    uint64_t replay_after;  /* wal_options.replay_after */
    uint64_t segment_bytes; /* for a first segment, when one is created */
    uint32_t batch_bytes;
    struct wal_segment_state *segs; /* room for WAL_SEGMENTS_MAX */
    wal_entry_fn on_entry;
    void *entry_ctx;
};

/* Recovers the directory. Returns 0 with *n segments in a->segs (at least one: a first
 * segment is created when there is none), *tail and rec filled; or an error with
 * rec->message saying why (see wal_open). */
int wal_recover(const struct wal_recover_args *a, uint32_t *n, struct wal_tail *tail,
                struct wal_recovery *rec);

#endif
