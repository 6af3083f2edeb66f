/* The raft core's log window (etcd's raftLog, unstable and MemoryStorage in one): entries
 * (snap_index, last] in a ring of slots indexed by entry index, their data in one byte ring,
 * plus the four indexes that order the log's life: persisted (stable), committed, applied.
 *
 * Byte ring: every entry's data is contiguous at a monotonic position (pos modulo the ring's
 * size is its offset). Positions only grow: a truncated entry's bytes are not reused until a
 * compaction passes them, and never while a pin (raft_log.pin_pos) says a Ready or a queued
 * message still points at them.
 *
 * Invariants, checked by raft_log_check: snap_index <= applied <= committed <= last;
 * applied <= stable <= last; last - snap_index <= the window. A follower installing a
 * snapshot resets the log to it at once: its entries, acknowledgements and applies all come in
 * Readies after the one that hands the snapshot out. Thread: the owning raft's. */
#ifndef RINGD_RAFT_LOG_H
#define RINGD_RAFT_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"

struct raft_log_slot {
    raft_term term;
    uint64_t pos; /* the data's position in the byte ring */
    uint32_t len;
    uint8_t type;
};

struct raft_log {
    struct raft_log_slot *slots; /* entry i lives in slots[i & slots_mask] */
    uint32_t slots_mask;
    uint8_t *bytes;
    uint64_t bytes_size;
    uint64_t bytes_tail;   /* where the next entry's data goes (a position) */
    uint64_t pin_pos;      /* lowest position still referenced outside the log; UINT64_MAX: none */
    raft_index snap_index; /* entries up to here are compacted away (a snapshot covers them) */
    raft_term snap_term;
    raft_index last;
    raft_index stable;    /* the caller said entries up to here are durable */
    raft_index committed; /* known committed in the cluster */
    raft_index applied;   /* handed out to the state machine */
};

/* Allocates a window of entries_max (a power of two) entries and bytes_max bytes of data.
 * Returns 0 or -ENOMEM. */
int raft_log_init(struct raft_log *l, uint32_t entries_max, uint64_t bytes_max);
void raft_log_destroy(struct raft_log *l);

/* Forgets every entry: the log restarts after index (of term), all of it durable, committed
 * and applied up to there (restart from a snapshot, or a follower installing one). */
void raft_log_reset(struct raft_log *l, raft_index index, raft_term term);

static inline raft_index raft_log_first(const struct raft_log *l)
{
    return l->snap_index + 1;
}

/* The term of entry i into *term: true for snap_index <= i <= last, false otherwise (compacted,
 * or not in the log). */
bool raft_log_term(const struct raft_log *l, raft_index i, raft_term *term);
raft_term raft_log_last_term(const struct raft_log *l);

/* True when entry i is in the log with this term (etcd matchTerm). */
bool raft_log_match_term(const struct raft_log *l, raft_index i, raft_term term);

/* Entry i (first <= i <= last) into *e, its data pointing into the byte ring; *pos (if not
 * NULL) its position, for pins. */
void raft_log_entry(const struct raft_log *l, raft_index i, struct raft_entry *e, uint64_t *pos);

/* Appends one entry at last + 1 (data copied). Returns 0 or -RINGD_EFULL (no slot or no room
 * for the bytes below the pin). */
int raft_log_append(struct raft_log *l, raft_term term, uint8_t type, const uint8_t *data,
                    uint32_t len);

/* Drops entries after index (committed <= index <= last): a follower's conflict. stable
 * follows down. */
void raft_log_truncate(struct raft_log *l, raft_index index);

/* Forgets entries up to index (snap_index <= index <= applied). */
void raft_log_compact(struct raft_log *l, raft_index index);

/* Bytes of data the window holds from the first entry (or pin) to the tail. */
uint64_t raft_log_bytes_used(const struct raft_log *l);

/* Asserts the invariants in the header comment. */
void raft_log_check(const struct raft_log *l);

#endif
