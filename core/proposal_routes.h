/* The raft actor's table of proposals in the log and not yet committed: the route back to the
 * shard of each, found by the request id its entry carries (core/kv_proposal.h). A follower's
 * proposal reaches the log through the leader, so only the id tells this member which committed
 * entry is its own. A proposal that never commits (its leader lost the entry, or the forwarded
 * message was lost) leaves at its deadline, oldest first, as etcd's request timeout does.
 *
 * Bounds: cap routes, fixed at init (the shards' SHARD_PROPOSALS_MAX each); the id map has twice
 * as many slots. No allocation after init.
 *
 * Thread: the raft actor's. */
#ifndef RINGD_PROPOSAL_ROUTES_H
#define RINGD_PROPOSAL_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "apply_batch.h"

struct proposal_route {
    uint64_t id;  /* 0: the slot is free */
    bool waiting; /* not proposed yet: no leader was known (proposal_routes_next_waiting) */
    uint64_t deadline_tick;
    struct apply_route route; /* index 0 while not known (forwarded to the leader) */
    uint32_t older;           /* the list in proposal order; UINT32_MAX ends it */
    uint32_t newer;
};

struct proposal_routes {
    struct proposal_route *slots; /* cap */
    uint32_t *map;                /* map_mask + 1 slot numbers + 1 (0: empty), linear probing */
    uint32_t map_mask;
    uint32_t cap;
    uint32_t count;
    uint32_t free; /* free slots, chained through newer */
    uint32_t oldest;
    uint32_t newest;
};

/* Returns 0 or -ENOMEM. */
int proposal_routes_init(struct proposal_routes *t, uint32_t cap);
void proposal_routes_destroy(struct proposal_routes *t);

static inline bool proposal_routes_full(const struct proposal_routes *t)
{
    return t->count == t->cap;
}

/* Records a proposal (not full; id not 0 and not in the table). */
void proposal_routes_add(struct proposal_routes *t, uint64_t id, const struct apply_route *r,
                         uint64_t deadline_tick);

/* Marks id's route as waiting for a leader (it is in the table, not in the log) or not. */
void proposal_routes_set_waiting(struct proposal_routes *t, uint64_t id, bool waiting);

/* The id of the oldest waiting route proposed after after_id (0: from the oldest), or 0 when
 * there is none; *out gets its route. Takes O(routes) at most: used when a leader appears. */
uint64_t proposal_routes_next_waiting(const struct proposal_routes *t, uint64_t after_id,
                                      struct apply_route *out);

/* Removes the route of id into *out: true, or false when id is not a proposal of this table. */
bool proposal_routes_take(struct proposal_routes *t, uint64_t id, struct apply_route *out);

/* The oldest route's deadline (UINT64_MAX when there is none): the one expire looks at. */
uint64_t proposal_routes_oldest_deadline(const struct proposal_routes *t);

/* Removes the oldest route if its deadline is at or before now_tick (true), or one whose index
 * is known and at or below committed (its entry was replaced by another leader's). */
bool proposal_routes_expire(struct proposal_routes *t, uint64_t now_tick, uint64_t committed,
                            struct apply_route *out);

#endif
