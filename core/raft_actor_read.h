/* The raft actor's read-index rounds for the shards' linearizable reads (etcd's ReadIndex, as
 * its linearizableReadLoop batches them): the shards that ask in one loop turn share one
 * raft_read_index; once the leader answered with its commit index and this member applied
 * that far, each of them gets MSG_READ_READY and serves the reads it held. A round the leader
 * does not answer is asked again every RAFT_ACTOR_READ_RETRY_NS under a new context (a leader
 * change drops reads in flight), and fails "request timed out" after etcd's request timeout.
 *
 * Thread: the raft actor's. Part of core/raft_actor.c, split out for size. */
#ifndef RINGD_RAFT_ACTOR_READ_H
#define RINGD_RAFT_ACTOR_READ_H

#include "raft_actor.h"

/* MSG_READ_INDEX from shard: it joins the next round. */
void raft_actor_read_ask(struct raft_actor *ra, uint16_t shard);

/* At the end of a turn: the shards that asked get a round, if the core takes it (a member
 * with no leader keeps them waiting until the request timeout). */
void raft_actor_read_start(struct raft_actor *ra);

/* A Ready's read states: the rounds they answer. */
void raft_actor_read_answered(struct raft_actor *ra, const struct raft_read_state *rs, uint32_t n);

/* The applied index moved: answered rounds at or below it are released. */
void raft_actor_read_release(struct raft_actor *ra);

/* Each tick: unanswered rounds are asked again, late ones fail. */
void raft_actor_read_tick(struct raft_actor *ra);

/* Shutdown: every waiting shard gets err. */
void raft_actor_read_fail_all(struct raft_actor *ra, int err);

#endif
