/* What core/raft_actor.c shares with the parts split out of it (raft_actor_conf.c,
 * raft_actor_read.c). Not for other modules.
 *
 * Thread: the raft actor's. */
#ifndef RINGD_RAFT_ACTOR_INTERNAL_H
#define RINGD_RAFT_ACTOR_INTERNAL_H

#include "raft_actor.h"

/* The end of this loop turn makes the next Ready. */
void raft_actor_arm_turn(struct raft_actor *ra);

/* Answers a proposal the log did not take with err (or 0: done, no response body). */
void raft_actor_refuse(struct raft_actor *ra, uint16_t shard, struct kv_proposal *p, int err);

/* What a client is told for a proposal the core refused (raft_propose's errors). */
int raft_actor_propose_err(int err);

/* A new request id (kv_proposal.h). */
uint64_t raft_actor_next_id(struct raft_actor *ra);

/* Records the route of a proposal in the log under its request id (index 0: forwarded). */
void raft_actor_route(struct raft_actor *ra, uint64_t id, raft_index index, uint16_t shard,
                      struct kv_proposal *p);

#endif
