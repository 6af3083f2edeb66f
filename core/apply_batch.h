/* Committed log entries on their way from the raft actor to the apply actor, with the route back
 * to the shard of each entry proposed on this member (DESIGN.md: propose -> raft -> apply ->
 * reply on the originating shard).
 *
 * Ownership: the raft actor owns a batch and the entries' data (the raft core's log window,
 * which raft_compact trims only below a snapshot of applied state); it sends the batch with
 * MSG_APPLY_ENTRIES and the apply actor gives it back with MSG_APPLY_DONE once every entry in it
 * is applied. The proposals belong to their shards. */
#ifndef RINGD_APPLY_BATCH_H
#define RINGD_APPLY_BATCH_H

#include <stdint.h>

#include "kv_proposal.h"
#include "raft.h"
#include "ringd_limits.h"

/* Where the answer to a committed entry goes: the entry at index (the raft actor matched it to
 * the proposal by its request id). */
struct apply_route {
    raft_index index;
    uint16_t shard;
    struct kv_proposal *proposal;
};

struct apply_batch {
    struct apply_batch *next; /* the raft actor's free list */
    uint32_t n_entries;
    uint32_t n_routes;
    struct raft_entry entries[RAFT_APPLY_ENTRIES_MAX];
    struct apply_route routes[RAFT_APPLY_ENTRIES_MAX]; /* in index order, for some entries */
};

#endif
